/* ecluster.h -- an elected rkv cluster (--peers) of 3 or 5 real rkv-server
 * processes for the election process tests.
 *
 * Unlike cluster.h (the fixed leader and its followers) no node is the
 * leader by construction: ec_wait_leader finds the one every running node
 * agrees on. Ports are free ports picked at start; node i has node id i + 1
 * and keeps its ports, data dir and log across restarts. Every wait is a
 * condition with a deadline (proc_wait_until). Nodes listen on 127.0.0.1
 * unless ec_start_opts gives each its own address, and may each run in a
 * network namespace of its own (netns.h), for partitions. A test:
 *
 *     ecluster c;
 *     test_cond("starts", ec_start(&c, "elect", 3, NULL) == 0);
 *     int l = ec_wait_leader(&c, 10000);
 *     tclient *t = ec_connect(&c, l);
 *     ...
 *     test_cond("all exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
 */
#ifndef RKV_TEST_ECLUSTER_H
#define RKV_TEST_ECLUSTER_H

#include <sys/types.h>

#include "proc.h"

#define EC_MAX 5
#define EC_EXTRA_MAX 16
#define EC_PEERS_MAX 512

#define EC_HOST_MAX 64

typedef struct ec_node {
    int id;
    char host[EC_HOST_MAX];  /* client and replication address (--bind) */
    char netns[EC_HOST_MAX]; /* network namespace it runs in ("": this one) */
    pid_t pid;   /* 0 when not running */
    int stopped; /* SIGSTOPped */
    int port, repl_port;
    char dir[PROC_PATH_MAX], log[PROC_PATH_MAX];
} ec_node;

typedef struct ecluster {
    char root[256];
    int n;
    char peers[EC_PEERS_MAX];
    char secret[PROC_PATH_MAX]; /* --cluster-secret-file every node gets ("" none) */
    const char *extra[EC_EXTRA_MAX]; /* more flags for every node, NULL-terminated */
    ec_node nd[EC_MAX];
} ecluster;

/* Starts N members (EXTRA: more flags for every node, NULL-terminated, or
 * NULL) and waits until every client port accepts. 0 or -1. */
int ec_start(ecluster *c, const char *tag, int n, const char *const *extra);

typedef struct ec_opts {
    const char *const *extra;  /* more flags for every node, NULL-terminated, or NULL */
    const char *host[EC_MAX];  /* node i's address (NULL: 127.0.0.1) */
    const char *netns[EC_MAX]; /* node i runs in this network namespace (NULL: ours) */
} ec_opts;
/* ec_start with per-node addresses and namespaces. 0 or -1. */
int ec_start_opts(ecluster *c, const char *tag, int n, const ec_opts *o);
/* (Re)starts node I with its ports, data dir and log. 0 or -1. */
int ec_start_node(ecluster *c, int i);
/* SIGSTOP/SIGCONT keep the node; SIGKILL/SIGTERM reap it. 0 or -1. */
int ec_signal(ecluster *c, int i, int sig);
/* Stops everything; returns how many nodes did not exit with status 0.
 * KEEP: leave the files and print the log tails. */
int ec_stop(ecluster *c, int keep);
/* A client of node I (I/O timeout 5 s), or NULL. */
tclient *ec_connect(ecluster *c, int i);
/* The index of the leader every running, not stopped node agrees on (its
 * INFO says election_role:leader, the others' leader_id names it), or -1. */
int ec_leader(ecluster *c);
/* The index of a node that says it leads and that a majority of all
 * members (it included, unreachable ones counting against) name as leader
 * in the same election epoch, or -1. Unlike ec_leader it finds the leader
 * of the majority side while a node is cut off or a stale leader still
 * claims to lead. */
int ec_majority_leader(ecluster *c);
/* Waits for ec_leader; its index or -1 after TIMEOUT_MS. */
int ec_wait_leader(ecluster *c, int timeout_ms);
/* 1 if every running node has the same DEBUG DIGEST and DBSIZE (printed
 * when not); else 0. */
int ec_converged(ecluster *c);
/* Waits for ec_converged. 1 or 0. */
int ec_wait_converged(ecluster *c, int timeout_ms);
/* The node's INFO FIELD as an integer (-1 missing / unreachable). */
long long ec_info_ll(ecluster *c, int i, const char *field);

#endif
