/* node_view.h -- what the client-facing commands (ROLE, INFO replication,
 * SENTINEL, READONLY) may know of the cluster, as one value copied out of
 * the node: the commands never reach into the replication modules.
 *
 * Addresses are client addresses (what a Redis client dials), as each node
 * announces them (--announce-host / --announce-port, else its bind address
 * and client port); they travel in the replication handshake, so a member
 * not heard from yet has host "" and port 0. */
#ifndef RKV_NODE_VIEW_H
#define RKV_NODE_VIEW_H

#include <stdint.h>

#include "repl/repl_elect.h"
#include "server/config.h"

typedef struct node_member {
    unsigned id;
    char host[CFG_HOST_MAX]; /* announced client address ("" unknown) */
    int port;                /* 0 unknown */
    int is_self, is_leader;
    int online;      /* as this node sees it: a live replication link (leader's view of a
                        follower), or the link to the leader (a follower's view of it) */
    uint64_t offset; /* replication offset: the LSN the member has acknowledged (durable) as
                        this node knows it; our own last LSN for ourselves */
    uint64_t lag_ms; /* leader's view: how far behind it is; else 0 */
} node_member;

typedef struct node_view {
    int is_leader;          /* this node takes writes now */
    int elected;            /* --peers (elections), not the fixed topology */
    uint64_t epoch;
    unsigned leader_id;     /* 0: no leader known */
    int leader_link_up;     /* follower: link to the leader up */
    uint64_t leader_seen_ms_ago;
    uint64_t offset;        /* our own last LSN */
    uint64_t commit_lsn;
    char cluster_name[CFG_CLUSTER_ID_MAX];
    int n;                  /* members, this node included */
    node_member m[ELECT_MEMBERS_MAX];
} node_view;

typedef struct node node;
/* Fills V from the node's current state. */
void node_get_view(node *n, node_view *v);
/* The leader's entry in V (NULL: none known). */
const node_member *node_view_leader(const node_view *v);

#endif
