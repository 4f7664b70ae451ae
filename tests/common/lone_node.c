/* lone_node.c -- see lone_node.h. */
#include "lone_node.h"

#include <stdio.h>
#include <stdlib.h>

#include "proc.h"

node *lone_node_new(const char *tag, char **dir)
{
    node_config cfg;
    config_defaults(&cfg);
    char err[512] = "";
    *dir = proc_tmpdir(tag);
    cfg.port = 0;
    cfg.log_level = LOG_ERROR;
    if (*dir) snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", *dir);
    node *n = NULL;
    if (config_validate(&cfg, err, sizeof err) == 0) n = node_new(&cfg, err, sizeof err);
    if (!n) printf("node_new: %s\n", err);
    return n;
}

void lone_node_free(node *n, char *dir)
{
    if (n) node_free(n);
    if (dir) proc_rmtree(dir);
    free(dir);
}
