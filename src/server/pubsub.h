/* pubsub.h -- the pub/sub subset Sentinel clients need: SUBSCRIBE,
 * PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE with Redis's RESP2 replies, and a
 * PUBLISH local to this node.
 *
 * Subscriptions live in the client (client.h), in subscription order; a
 * message is delivered by walking the node's clients. Messages are rare here
 * (the server's own +switch-master, and PUBLISH), so a walk costs nothing
 * that matters and there is no index to keep consistent with closing
 * clients. Each client holds at most PUBSUB_SUBS_MAX channels and patterns,
 * each at most PUBSUB_NAME_MAX bytes: a connection cannot make the server
 * hold unbounded subscription state. */
#ifndef RKV_PUBSUB_H
#define RKV_PUBSUB_H

#include <stddef.h>

typedef struct node node;
typedef struct client client;

#define PUBSUB_SUBS_MAX 128  /* channels + patterns one connection may hold */
#define PUBSUB_NAME_MAX 256  /* bytes in one channel name or pattern */
#define PUBSUB_MSG_MAX 65536 /* bytes in one PUBLISH message */

/* One channel or pattern a client listens on. */
typedef struct pubsub_sub {
    char *name;
    size_t len;
    int pattern;
} pubsub_sub;

void cmd_subscribe(client *c);
void cmd_psubscribe(client *c);
void cmd_unsubscribe(client *c);
void cmd_punsubscribe(client *c);
void cmd_publish(client *c);

/* Is C in the subscribed state (at least one channel or pattern)? Such a
 * RESP2 connection may only send the (P)(UN)SUBSCRIBE family, PING, QUIT
 * and RESET, and clients_drop_all leaves it open. */
int pubsub_active(const client *c);
/* Forgets every subscription of C (closing, RESET). */
void pubsub_client_reset(client *c);
/* Delivers MSG on CHANNEL to every subscriber of this node (channel and
 * pattern matches both count, as in Redis). Returns the deliveries. */
long pubsub_publish(node *n, const char *channel, size_t chlen, const char *msg, size_t msglen);

#endif
