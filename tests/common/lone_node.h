/* lone_node.h -- one node in this process, for the in-process tests that
 * drive a real node's code directly (the loop pumped by the test, or not at
 * all): default configuration, an ephemeral client port, its own temporary
 * data directory, errors only in the log. */
#ifndef RKV_TEST_LONE_NODE_H
#define RKV_TEST_LONE_NODE_H

#include "server/node.h"

/* A started lone node with its data under a new /tmp/rkv-TAG-* directory
 * (*DIR, to hand back to lone_node_free), or NULL with the reason printed. */
node *lone_node_new(const char *tag, char **dir);
/* Frees N and removes DIR (either may be NULL). */
void lone_node_free(node *n, char *dir);

#endif
