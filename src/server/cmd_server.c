/* cmd_server.c -- the connection and server commands: CLIENT, CONFIG,
 * INFO (and, with RESP3, what HELLO switches). They read and set the node's
 * and the connection's state, never the data, so they live apart from the
 * data commands in commands.c. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/client.h"
#include "server/cmd.h"
#include "server/info.h"
#include "server/node.h"

void cmd_client(client *c)
{
    const resp_arg *sub = &c->argv[1];
    if (arg_eq(sub, "setname") && c->argc == 3) {
        const resp_arg *name = &c->argv[2];
        if (name->len >= CLIENT_NAME_MAX) {
            reply_error(c, "ERR client name too long (max %d bytes)", CLIENT_NAME_MAX - 1);
            return;
        }
        for (size_t i = 0; i < name->len; i++)
            if (name->p[i] <= ' ' || name->p[i] > '~') {
                reply_error(c, "ERR Client names cannot contain spaces, newlines or special "
                               "characters.");
                return;
            }
        memcpy(c->name, name->p, name->len);
        c->name[name->len] = 0;
        reply_status(c, "OK");
    } else if (arg_eq(sub, "getname") && c->argc == 2) {
        if (c->name[0])
            reply_bulk(c, c->name, strlen(c->name));
        else
            reply_nil(c);
    } else if (arg_eq(sub, "id") && c->argc == 2) {
        reply_int(c, (long long)c->id);
    } else if (arg_eq(sub, "setinfo") && c->argc == 4) {
        reply_status(c, "OK"); /* library name/version: accepted, not kept */
    } else {
        reply_error(c, "ERR unknown subcommand or wrong number of arguments for 'CLIENT'. "
                       "Supported: SETNAME, GETNAME, ID, SETINFO");
    }
}

/* CONFIG GET: the settings tools ask about (redis-benchmark reads "save" and
 * "appendonly" at start), answered as name/value pairs like Redis. */
void cmd_config(client *c)
{
    if (!arg_eq(&c->argv[1], "get") || c->argc != 3) {
        reply_error(c, "ERR CONFIG supports only GET <pattern> here");
        return;
    }
    node *n = c->n;
    char pat[128], vals[6][32];
    if (c->argv[2].len >= sizeof pat) {
        reply_array(c, 0);
        return;
    }
    memcpy(pat, c->argv[2].p, c->argv[2].len);
    pat[c->argv[2].len] = 0;
    for (char *p = pat; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    snprintf(vals[0], sizeof vals[0], "%d", n->port);
    snprintf(vals[1], sizeof vals[1], "%zu", n->cfg.clients_max);
    snprintf(vals[2], sizeof vals[2], "%d", n->cfg.quorum);
    const char *names[] = {"port", "maxclients", "quorum", "save", "appendonly", "appendfsync",
                           "databases", "maxmemory"};
    const char *values[] = {vals[0], vals[1], vals[2], "", "yes", "always", "1", "0"};
    int nm = (int)(sizeof names / sizeof names[0]), hits = 0;
    for (int i = 0; i < nm; i++) hits += fnmatch(pat, names[i], 0) == 0;
    reply_array(c, hits * 2);
    for (int i = 0; i < nm; i++)
        if (fnmatch(pat, names[i], 0) == 0) {
            reply_bulk(c, names[i], strlen(names[i]));
            reply_bulk(c, values[i], strlen(values[i]));
        }
}

void cmd_info(client *c)
{
    info_buf b = {0};
    const char *section = NULL;
    char sec[32];
    if (c->argc == 2 && c->argv[1].len < sizeof sec) {
        memcpy(sec, c->argv[1].p, c->argv[1].len);
        sec[c->argv[1].len] = 0;
        section = sec;
    } else if (c->argc > 2) {
        reply_error(c, "ERR wrong number of arguments for 'info' command");
        return;
    }
    info_render(c->n, section, &b);
    reply_bulk(c, b.p ? b.p : "", b.len);
    free(b.p);
}


/* TIME: seconds and microseconds, as bulk strings (Redis). */
void cmd_time(client *c)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char s[32], us[32];
    int sl = snprintf(s, sizeof s, "%lld", (long long)ts.tv_sec);
    int ul = snprintf(us, sizeof us, "%ld", ts.tv_nsec / 1000);
    reply_array(c, 2);
    reply_bulk(c, s, (size_t)sl);
    reply_bulk(c, us, (size_t)ul);
}
