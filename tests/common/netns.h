/* netns.h -- a private network of Linux network namespaces for partition
 * tests: one namespace per node, all cabled to one bridge, and the test
 * process (in its own namespace) cabled to the same bridge, so it reaches
 * every node by address while the nemesis cuts the nodes apart.
 *
 *   hub namespace:  bridge br0, ports up0 (to the test) and n1..nN
 *   node i (1..N):  eth0 = 10.232.S.i/24, lo; a veth pair to hub's n<i>
 *   this namespace: <tag>r = 10.232.S.254/24, a veth pair to hub's up0
 *
 * The bridge lives in its own namespace, not this one, because a bridge
 * here may have its frames passed through this host's firewall
 * (br_netfilter with bridge-nf-call-iptables, and a FORWARD policy such as
 * Docker's DROP); a fresh namespace has no rules. The subnet S is derived
 * from the tag so two runs do not collide (tests/repl/keepalive_netns_test.sh
 * uses 10.231.x.x).
 *
 * Two ways to cut, both undone by nn_heal:
 *   nn_link(w, i, 0)   takes node i's cable down at the hub: node i hears no
 *                      one, not even the test's clients (frames silently lost);
 *   nn_cut(w, i, j, 1) blackhole routes in i for j and in j for i: the two
 *                      nodes cannot talk, but the test still reaches both (a
 *                      partition between servers with the clients on both
 *                      sides, where a stale leader would show).
 * Everything is done with iproute2 (`ip`), run as child processes with a
 * deadline; the commands' output goes to the log file given at creation.
 * Needs root; nn_available says whether this machine can. */
#ifndef RKV_TEST_NETNS_H
#define RKV_TEST_NETNS_H

#include <stddef.h>

#include "proc.h"

#define NN_MAX 8      /* nodes */
#define NN_TAG_MAX 11 /* tag bytes: interface names are at most 15 */
#define NN_NAME_MAX 32
#define NN_IP_MS 10000 /* one ip command must finish within this */

typedef struct netns_net {
    int n;
    char tag[NN_TAG_MAX + 1];
    char hub[NN_NAME_MAX];          /* the hub namespace */
    char ns[NN_MAX][NN_NAME_MAX];   /* node i's namespace (index 0 is node 1) */
    char host[NN_MAX][NN_NAME_MAX]; /* node i's address */
    char root_if[NN_NAME_MAX];      /* our end of the cable to the hub */
    char log[PROC_PATH_MAX];
    int subnet;  /* S in 10.232.S.0/24 */
    int created; /* hub made (nn_destroy has work to do) */
    int link_down[NN_MAX];
    unsigned cut[NN_MAX]; /* bit j: routes between i and j blackholed */
} netns_net;

/* 1 if namespaces can be made here (root, ip, `ip netns add` works), else 0
 * with WHY set. */
int nn_available(char *why, size_t whylen);
/* Builds the network for N nodes (TAG: a short unique name, e.g. "rkvec123";
 * LOG: where ip's output goes). 0, or -1 with ERR set (what was made is
 * left for nn_destroy). */
int nn_create(netns_net *w, const char *tag, int n, const char *log, char *err, size_t errlen);
/* Removes every namespace and interface it made. 0 or -1. */
int nn_destroy(netns_net *w);
/* Node I's (0-based) cable at the hub: UP 0 takes it down, 1 back up. */
int nn_link(netns_net *w, int i, int up);
/* Blackholes (CUT 1) or restores (CUT 0) traffic between nodes I and J. */
int nn_cut(netns_net *w, int i, int j, int cut);
/* Every cable up and every cut restored. 0, or -1 if an ip command failed. */
int nn_heal(netns_net *w);
/* Runs `ip ARGV...` (NULL-terminated, without "ip") with output to W's log.
 * Its exit code, or -1. */
int nn_ip(const netns_net *w, const char *const *argv);

#endif
