/* main.c -- rkv-server: parse flags, build one node, run it until SIGTERM or
 * SIGINT, then stop cleanly (everything acknowledged is already durable; the
 * rest is flushed, the WAL closed, all memory freed). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "server/config.h"
#include "server/node.h"

/* The one process-wide variable: a signal handler has no other way to find
 * the node. It is only read by the handler. */
static node *volatile running_node;

static void on_signal(int sig)
{
    (void)sig;
    if (running_node) node_request_stop(running_node);
}

int main(int argc, char **argv)
{
    node_config cfg;
    char err[1024];
    config_defaults(&cfg);
    int rc = config_parse_args(&cfg, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc < 0 || config_validate(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "rkv-server: %s (see --help)\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    node *n = node_new(&cfg, err, sizeof err);
    if (!n) {
        fprintf(stderr, "rkv-server: cannot start: %s\n", err);
        return 1;
    }
    running_node = n;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = node_run(n);
    running_node = NULL;
    node_free(n);
    return rc == 0 ? 0 : 1;
}
