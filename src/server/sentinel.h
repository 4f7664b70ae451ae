/* sentinel.h -- the Redis replication and Sentinel surface of an rkv node:
 * ROLE, SENTINEL <subcommand>, HELLO, the Redis fields of INFO replication,
 * and the hook the node calls when it learns of a new leader.
 *
 * Every rkv node answers as the Sentinel of its own cluster (the master name
 * is --cluster-name), so a Redis client given the nodes' client addresses as
 * its sentinels finds the leader with no code change: redis-py's
 * Sentinel.master_for (SENTINEL MASTERS, flags checked), ioredis's
 * `sentinels:` (SENTINEL get-master-addr-by-name, SENTINEL sentinels, an INFO
 * whose role is master, SUBSCRIBE +switch-master), node-redis's
 * createSentinel (SENTINEL master/replicas/sentinels, PSUBSCRIBE).
 *
 * Everything here is computed from node_get_view (node_view.h) at the moment
 * it is asked: no state of its own, so it can never disagree with the node. */
#ifndef RKV_SENTINEL_H
#define RKV_SENTINEL_H

#include <stdint.h>

#include "repl/repl.h"
#include "server/node_view.h"

typedef struct node node;
typedef struct client client;

#define SENTINEL_ID_HEX 40 /* run ids, replication ids, sentinel ids: 40 hex digits as Redis */
#define SENTINEL_SWITCH_CHANNEL "+switch-master"

/* The leader's entry in V if it can be handed to a client now: its address
 * is known and it is this node or the link to it is up. NULL otherwise. */
const node_member *sentinel_usable_leader(const node_view *v);

/* 40 hex digits + NUL, a stable function of the cluster id and the inputs:
 * the same on every node, across restarts. */
void sentinel_replid(const node *n, uint64_t epoch, char out[SENTINEL_ID_HEX + 1]);
void sentinel_runid(const node *n, unsigned node_id, char out[SENTINEL_ID_HEX + 1]);
void sentinel_myid(const node *n, unsigned node_id, char out[SENTINEL_ID_HEX + 1]);

/* Commands (commands.c's table points here). */
void cmd_role(client *c);
void cmd_sentinel(client *c);
void cmd_hello(client *c);

/* INFO: the Redis fields of the replication section (role:master|slave,
 * connected_slaves, slaveN, master_replid, ...), printed before rkv's own;
 * and Redis Sentinel's "# Sentinel" section (INFO sentinel). */
void sentinel_info_replication(node *n, info_buf *b);
void sentinel_info_sentinel(node *n, info_buf *b);

/* ---- the node's hook ----
 * The node calls this when it learns of a new leader at NEW_HOST:NEW_PORT
 * (client addresses, as announced); OLD_HOST:OLD_PORT is the leader it knew
 * before (NULL or "" and 0 when none). Publishes, as Sentinel does,
 *     +switch-master <name> <old-ip> <old-port> <new-ip> <new-port>
 * on channel +switch-master to this node's subscribers ("?" and 0 for an
 * unknown old leader). A call whose new address equals the old one, or whose
 * new address is unknown, publishes nothing. Safe from any callback on the
 * node's loop thread (the messages are only queued). */
void sentinel_leader_changed(node *n, const char *old_host, int old_port, const char *new_host,
                             int new_port);

#endif
