/* cluster.h -- a three-node rkv cluster (leader + two followers) of real
 * rkv-server processes for process-level replication tests, optionally with
 * a fault proxy (build/tools/faultproxy) between the leader and a follower.
 *
 * Built on proc.h: free ports, temp dirs under one root per cluster, one log
 * file per process, every wait a condition with a deadline. A test:
 *
 *     cluster c;
 *     cl_opts o = CL_OPTS_DEFAULT;
 *     o.quorum = 2;
 *     test_cond("cluster starts", cl_start(&c, "quorum", &o) == 0);
 *     test_cond("both online", cl_wait_online(&c, 2, 1000));
 *     tclient *l = cl_connect(&c, 0);
 *     ...
 *     tc_close(l);
 *     test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
 *
 * Node 0 is the leader (node id 1); nodes 1 and 2 are the followers (node
 * ids 2 and 3), in that order in the leader's --followers list, so node i is
 * "follower{i-1}" in the leader's INFO. */
#ifndef RKV_TEST_CLUSTER_H
#define RKV_TEST_CLUSTER_H

#include <stddef.h>
#include <sys/types.h>

#include "proc.h"

#define CL_FOLLOWERS 2
#define CL_NODES (1 + CL_FOLLOWERS)
#define CL_START_MS 10000 /* a server or proxy must listen within this */
#define CL_STOP_MS 10000  /* and exit within this after SIGTERM */
#define CL_EXTRA_MAX 8

typedef struct cl_node {
    int id;      /* rkv node id */
    pid_t pid;   /* 0 when not running */
    int stopped; /* SIGSTOPped by cl_signal */
    int port, repl_port;
    char dir[PROC_PATH_MAX], log[PROC_PATH_MAX];
    /* Fault proxy in front of this follower's replication port, if any. */
    pid_t proxy_pid;
    int proxy_port, proxy_ctl;
    char proxy_log[PROC_PATH_MAX];
} cl_node;

typedef struct cl_opts {
    int quorum;              /* -1: the server's default */
    int heartbeat_ms;        /* 0: default, on every node */
    int follower_timeout_ms; /* 0: default, on every node */
    int quorum_timeout_ms;   /* 0: default */
    const char *leader_cluster_id; /* NULL: default */
    unsigned proxied;        /* bit i set: node i (1 or 2) sits behind a fault proxy */
    const char *leader_extra[CL_EXTRA_MAX]; /* more leader flags, NULL-terminated */
    const char *follower_extra[CL_EXTRA_MAX]; /* more flags for every follower, NULL-terminated */
    int external_port[CL_NODES]; /* nonzero for follower i: not started; the
                                    leader dials this port (a test's fake) */
    int no_secret;           /* no --cluster-secret-file (also when a fake is external) */
} cl_opts;

#define CL_OPTS_DEFAULT {.quorum = -1}

#define CL_ROOT_MAX 256 /* /tmp/rkv-TAG-XXXXXX; node paths add a few bytes */

typedef struct cluster {
    char root[CL_ROOT_MAX];
    char secret[CL_ROOT_MAX + 16]; /* the nodes' --cluster-secret-file ("" none) */
    cl_opts opts;
    cl_node n[CL_NODES];
} cluster;

/* Creates the root dir, picks ports, starts followers, proxies, then the
 * leader, and waits until every client port accepts. 0 or -1 (message
 * printed; what did start is stopped by cl_stop as usual). */
int cl_start(cluster *c, const char *tag, const cl_opts *o);
/* cl_start, then waits up to 10 s for both followers online, with quorum
 * and follower timeouts of 30 s unless O sets them (for tests that freeze
 * followers on purpose). 0, or -1 (printed; what started is stopped). */
int cl_start_online(cluster *c, const char *tag, const cl_opts *o);
/* (Re)starts node I with its ports, data dir and log. 0 or -1. */
int cl_start_node(cluster *c, int i);
/* Sends SIG to node I: SIGSTOP/SIGCONT keep it, SIGKILL/SIGTERM reap it. */
int cl_signal(cluster *c, int i, int sig);
/* Stops every process (SIGCONT first if stopped), proxies included.
 * Returns how many nodes did not exit with status 0 after SIGTERM or had
 * died on their own before. KEEP: leave the files and print log tails. */
int cl_stop(cluster *c, int keep);

/* Prints the last lines of the log at PATH. */
void cl_print_tail(const char *path);

/* A client of node I with the given I/O timeout, or NULL. */
tclient *cl_connect(cluster *c, int i);

/* INFO SECTION's FIELD as an integer; -1 if missing or on error. */
long long cl_info_ll(tclient *t, const char *section, const char *field);
/* Leader INFO: KEY of line "follower<K>:..." (e.g. "online", "catchup_wal")
 * as an integer; -1 if missing. */
long long cl_follower_ll(tclient *leader, int k, const char *key);

/* Leader INFO: the text value of KEY in line "follower<K>:..." (e.g.
 * "state") copied into OUT; 0, or -1 if missing (OUT is then ""). */
int cl_follower_str(tclient *leader, int k, const char *key, char *out, size_t outlen);

/* Waits until the leader reports at least K followers online. 1 or 0. */
int cl_wait_online(cluster *c, int k, int timeout_ms);
/* Waits until follower K's online flag in the leader's INFO equals WANT. */
int cl_wait_follower_online(cluster *c, int k, int want, int timeout_ms);
/* Waits until every running, not stopped follower has applied the leader's
 * last LSN and the leader has applied it too. 1 or 0. */
int cl_wait_caught_up(cluster *c, int timeout_ms);
/* DEBUG DIGEST of node I into OUT (at least 32 bytes). 0 or -1. */
int cl_digest(cluster *c, int i, char *out, size_t outlen);
/* 1 if every running node has the same digest and DBSIZE; else prints all of
 * them and returns 0. */
int cl_converged(cluster *c);
/* 1 once every running follower applied the leader's last LSN (WAITLSN,
 * 10 s each), 0 if one did not. */
int cl_followers_applied(cluster *c, tclient *leader);
/* Waits up to TIMEOUT_MS until the followers have applied the leader's
 * last LSN and every node holds the same (cl_converged), both at one
 * moment: for a leader that may still be writing on its own (eviction,
 * expiry). 1 or 0. */
int cl_settled(cluster *c, tclient *leader, int timeout_ms);

/* Sends one control line to node I's proxy; REPLY gets the answer line.
 * 0 if it starts with "OK", -1 otherwise. */
int cl_proxy(cluster *c, int i, const char *cmd, char *reply, size_t replylen);

/* Pipelines COUNT "SET <prefix><j> v<j>" for j in [FROM, FROM+COUNT), DEPTH
 * commands in flight at most. OUTCOME (optional, COUNT bytes) gets 'O' for
 * OK, 'E' for an error reply. Returns the number of OK replies, or -1 on an
 * I/O error or timeout. */
long cl_pipeline_set(tclient *t, const char *prefix, long from, long count, int depth,
                     char *outcome);

/* 1 if a reply (or EOF) is readable on T within MS, 0 if not. */
int cl_readable_within(tclient *t, int ms);
/* Reads raw bytes from FD into BUF until EOF or TIMEOUT_MS. Returns 1 if the
 * peer closed (EOF or reset), 0 on timeout; *GOT is the byte count. */
int cl_read_until_eof(int fd, void *buf, size_t cap, size_t *got, int timeout_ms);
/* Waits until the file at PATH contains NEEDLE. 1 or 0. */
int cl_wait_log(const char *path, const char *needle, int timeout_ms);

/* Where a node keeps its WAL and checkpoints: DATA_DIR/gen-N when
 * DATA_DIR/CURRENT names N, else DATA_DIR itself (the old layout). 0, or -1
 * if CURRENT is unreadable or OUT too small. */
int cl_store_dir(const char *data_dir, char *out, size_t outlen);
/* Lines of the file at PATH that contain NEEDLE (0 if it is missing). */
int cl_log_count(const char *path, const char *needle);

/* Kills this binary with a message if it runs longer than SECONDS, so a hung
 * test fails instead of hanging the suite (servers die with it: they were
 * spawned with a parent-death signal). */
void cl_watchdog(unsigned seconds);

#endif
