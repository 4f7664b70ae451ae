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

/* Does C hold at least one channel or pattern (Redis's CLIENT_PUBSUB flag:
 * CLIENT LIST's P, TYPE pubsub; clients_drop_all and --timeout leave it)? */
int pubsub_subscribed(const client *c);
/* Is C in RESP2's subscribed context: subscribed and not after HELLO 3
 * (Redis's CLIENT_PUBSUB && resp == 2)? Only then is it limited to the
 * (P)(UN)SUBSCRIBE family, PING (answered [pong, msg]), QUIT and RESET; a
 * RESP3 connection runs any command while subscribed, as in Redis. */
int pubsub_active(const client *c);
/* Forgets every subscription of C (closing, RESET). */
void pubsub_client_reset(client *c);
/* Delivers MSG on CHANNEL to every subscriber of this node (channel and
 * pattern matches both count, as in Redis). Returns the deliveries. */
long pubsub_publish(node *n, const char *channel, size_t chlen, const char *msg, size_t msglen);

#endif
