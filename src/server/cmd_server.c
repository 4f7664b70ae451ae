/* cmd_server.c -- the connection and server commands: CLIENT, CONFIG,
 * INFO, TIME. They read and set the node's and the connection's state, never
 * the data, so they live apart from the data commands in commands.c.
 *
 * Replies and errors are Redis 7.0's (CLIENT SETINFO and the lib-name /
 * lib-ver fields are 7.2's, CLIENT KILL MAXAGE 7.4's), checked against
 * redis-server 7.0 byte for byte: CLIENT LIST / INFO and INFO are verbatim
 * strings after HELLO 3, CONFIG GET a map. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/crypto.h"
#include "common/glob.h"
#include "net/net.h"
#include "server/acl.h"
#include "server/client.h"
#include "server/cmd.h"
#include "server/info.h"
#include "server/node.h"
#include "server/obs.h"
#include "server/pubsub.h"

/* ---- CLIENT ---- */

static int name_chars_ok(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < '!' || p[i] > '~') return 0; /* Redis's validateClientAttr */
    return 1;
}

int client_setname(client *c, const resp_arg *name)
{
    if (name->len >= CLIENT_NAME_MAX) {
        reply_error(c, "ERR client name too long (max %d bytes)", CLIENT_NAME_MAX - 1);
        return -1;
    }
    if (!name_chars_ok(name->p, name->len)) {
        reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
        return -1;
    }
    memcpy(c->name, name->p, name->len);
    c->name[name->len] = 0;
    return 0;
}

/* Redis's client types (getClientTypeByName). rkv's replication links are
 * not client connections, so no client is of type master or replica. */
enum { CT_NORMAL, CT_REPLICA, CT_PUBSUB, CT_MASTER };

static int client_type_by_name(const resp_arg *a)
{
    if (arg_eq(a, "normal")) return CT_NORMAL;
    if (arg_eq(a, "slave") || arg_eq(a, "replica")) return CT_REPLICA;
    if (arg_eq(a, "pubsub")) return CT_PUBSUB;
    if (arg_eq(a, "master")) return CT_MASTER;
    return -1;
}

static int client_type(const client *c)
{
    return pubsub_subscribed(c) ? CT_PUBSUB : CT_NORMAL;
}

static const char *client_user_name(const client *c)
{
    const acl_user *u = c->user ? c->user : acl_default_user(c->n->acl);
    return acl_user_name(u);
}

/* The address this connection was accepted on, "ip:port" as addr= is. */
static void client_laddr(const client *c, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl = sizeof ss;
    out[0] = 0;
    if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) < 0) return;
    net_format_addr(&ss, out, outlen);
}

/* One CLIENT LIST line, in Redis 7.2's field order (7.0's plus lib-name and
 * lib-ver), with its "\n". SELF: the client running the command (only its
 * arguments are in memory: argv-mem). */
static void client_info_line(const client *c, const client *self, info_buf *b)
{
    uint64_t now = ev_now_ms();
    char flags[16], *f = flags, laddr[INET6_ADDRSTRLEN + 8];
    if (c->monitor) *f++ = 'O'; /* Redis: first (a monitor is a CLIENT_SLAVE) */
    if (pubsub_subscribed(c)) *f++ = 'P';
    if (c->multi) *f++ = 'x';
    if (c->wait != WAIT_NONE || c->pause_blocked) *f++ = 'b';
    if (c->close_after) *f++ = 'c';
    if (c->close_asap) *f++ = 'A';
    if (c->no_evict) *f++ = 'e';
    if (f == flags) *f++ = 'N';
    *f = 0;
    size_t psub = 0, argv_mem = 0;
    for (size_t i = 0; i < c->nsubs; i++) psub += c->subs[i].pattern != 0;
    if (c == self)
        for (size_t i = 0; i < c->argc; i++) argv_mem += c->argv[i].len;
    size_t mmem = multi_mem(c);
    size_t tot = sizeof *c + c->in_cap + c->out_cap + c->argv_cap * sizeof(resp_arg) +
                 (c->subs ? PUBSUB_SUBS_MAX * sizeof(pubsub_sub) : 0) + mmem;
    client_laddr(c, laddr, sizeof laddr);
    const char *events = c->reading ? (c->out_len > c->out_sent ? "rw" : "r")
                                    : (c->out_len > c->out_sent ? "w" : "");
    info_printf(b,
                "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%u "
                "sub=%zu psub=%zu ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu "
                "multi-mem=%zu rbs=%zu rbp=%zu obl=%zu oll=0 omem=0 tot-mem=%zu events=%s "
                "cmd=%s user=%s redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
                (unsigned long long)c->id, c->peer, laddr, c->fd, c->name,
                (unsigned long long)((now - c->created_ms) / 1000),
                (unsigned long long)((now - c->last_input_ms) / 1000), flags, c->db,
                c->nsubs - psub, psub,
                multi_queued_count(c), c->in_len, c->in_cap - c->in_len, argv_mem, mmem, c->out_cap,
                c->out_len, c->out_len - c->out_sent, tot, events,
                c->last_cmd[0] ? c->last_cmd : "NULL", client_user_name(c), c->resp,
                c->lib_name, c->lib_ver);
}

static void reply_info_buf(client *c, info_buf *b)
{
    reply_verbatim(c, b->p ? b->p : "", b->len);
    free(b->p);
}

static client *client_by_id(node *n, long long id)
{
    for (client *o = n->clients; o; o = o->next)
        if ((long long)o->id == id && !o->close_asap) return o;
    return NULL;
}

static void client_list(client *c)
{
    int type = -1;
    info_buf b = {0};
    if (c->argc == 4 && arg_eq(&c->argv[2], "type")) {
        type = client_type_by_name(&c->argv[3]);
        if (type < 0) {
            char t[600];
            arg_printable(&c->argv[3], t, sizeof t);
            reply_error(c, "ERR Unknown client type '%s'", t);
            return;
        }
    } else if (c->argc > 3 && arg_eq(&c->argv[2], "id")) {
        for (size_t i = 3; i < c->argc; i++) {
            long long id;
            if (arg_ll(&c->argv[i], &id) < 0) {
                free(b.p);
                reply_error(c, "ERR Invalid client ID");
                return;
            }
            const client *o = client_by_id(c->n, id);
            if (o) client_info_line(o, c, &b);
        }
        reply_info_buf(c, &b);
        return;
    } else if (c->argc != 2) {
        reply_error(c, "ERR syntax error");
        return;
    }
    /* Oldest first, as Redis lists them (n->clients is newest first). */
    client *last = c->n->clients;
    while (last && last->next) last = last->next;
    for (client *o = last; o; o = o->prev)
        if (!o->close_asap && (type < 0 || client_type(o) == type)) client_info_line(o, c, &b);
    reply_info_buf(c, &b);
}

static void client_kill_one(client *victim)
{
    victim->close_asap = 1;
    client_want_flush(victim); /* freed by clients_flush before the loop sleeps */
}

static void client_kill(client *c)
{
    node *n = c->n;
    const char *addr = NULL, *laddr = NULL;
    size_t addr_len = 0, laddr_len = 0;
    long long id = 0, maxage = 0;
    int type = -1, skipme = 1, by_user = 0, kill_self = 0;
    const acl_user *user = NULL;
    if (c->argc == 3) { /* old form: CLIENT KILL ip:port, and you may kill yourself */
        addr = c->argv[2].p;
        addr_len = c->argv[2].len;
        skipme = 0;
    } else {
        for (size_t i = 2; i < c->argc; i += 2) {
            const resp_arg *opt = &c->argv[i], *val = i + 1 < c->argc ? &c->argv[i + 1] : NULL;
            char v[600];
            if (val) arg_printable(val, v, sizeof v);
            if (val && arg_eq(opt, "id")) {
                if (arg_ll(val, &id) < 0 || id < 1) {
                    reply_error(c, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (val && arg_eq(opt, "type")) {
                type = client_type_by_name(val);
                if (type < 0) {
                    reply_error(c, "ERR Unknown client type '%s'", v);
                    return;
                }
            } else if (val && arg_eq(opt, "addr")) {
                addr = val->p;
                addr_len = val->len;
            } else if (val && arg_eq(opt, "laddr")) {
                laddr = val->p;
                laddr_len = val->len;
            } else if (val && arg_eq(opt, "user")) {
                user = acl_user_find(n->acl, val->p, val->len);
                if (!user) {
                    reply_error(c, "ERR No such user '%s'", v);
                    return;
                }
                by_user = 1;
            } else if (val && arg_eq(opt, "skipme")) {
                if (arg_eq(val, "yes")) {
                    skipme = 1;
                } else if (arg_eq(val, "no")) {
                    skipme = 0;
                } else {
                    reply_error(c, "ERR syntax error");
                    return;
                }
            } else if (val && arg_eq(opt, "maxage")) { /* Redis 7.4 */
                if (arg_ll(val, &maxage) < 0) {
                    reply_error(c, "ERR maxage is not an integer or out of range");
                    return;
                }
            } else {
                reply_error(c, "ERR syntax error");
                return;
            }
        }
    }
    long long killed = 0;
    uint64_t now = ev_now_ms();
    for (client *o = n->clients; o; o = o->next) {
        if (o->close_asap) continue;
        if (addr && (strlen(o->peer) != addr_len || memcmp(o->peer, addr, addr_len) != 0))
            continue;
        if (laddr) {
            char la[INET6_ADDRSTRLEN + 8];
            client_laddr(o, la, sizeof la);
            if (strlen(la) != laddr_len || memcmp(la, laddr, laddr_len) != 0) continue;
        }
        if (type >= 0 && client_type(o) != type) continue;
        if (id && (long long)o->id != id) continue;
        if (by_user && (o->user ? o->user : acl_default_user(n->acl)) != user) continue;
        if (maxage && (long long)((now - o->created_ms) / 1000) < maxage) continue;
        if (o == c && skipme) continue;
        killed++;
        if (o == c)
            kill_self = 1;
        else
            client_kill_one(o);
    }
    if (c->argc == 3) {
        if (killed)
            reply_status(c, "OK");
        else
            reply_error(c, "ERR No such client");
    } else {
        reply_int(c, killed);
    }
    if (kill_self) c->close_after = 1; /* closed once this reply is written */
}

static void client_reply(client *c)
{
    const resp_arg *m = &c->argv[2];
    if (arg_eq(m, "on")) {
        c->reply_off = 0;
        c->reply_skip = 0;
        c->silent = 0; /* ON answers, whatever was in force for it */
        reply_status(c, "OK");
    } else if (arg_eq(m, "off")) {
        c->reply_off = 1;
        c->reply_skip = 0;
        c->silent = 1;
    } else if (arg_eq(m, "skip")) {
        if (!c->reply_off) c->reply_skip = 2; /* the next command's (client.h) */
        c->silent = 1;
    } else {
        reply_error(c, "ERR syntax error");
    }
}

static void client_pause(client *c)
{
    long long ms;
    if (arg_ll(&c->argv[2], &ms) < 0) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    int kind = CLIENT_PAUSE_ALL;
    if (c->argc == 4) {
        if (arg_eq(&c->argv[3], "write")) {
            kind = CLIENT_PAUSE_WRITE;
        } else if (!arg_eq(&c->argv[3], "all")) {
            reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    node *n = c->n;
    uint64_t end = ev_now_ms() + (uint64_t)ms;
    /* As Redis's pauseClients: a pause never gets shorter or weaker while
     * it runs; ALL over WRITE widens it. */
    if (n->pause_kind == CLIENT_PAUSE_OFF || kind > n->pause_kind) n->pause_kind = kind;
    if (end > n->pause_until_ms) n->pause_until_ms = end;
    if (ms == 0 && n->pause_until_ms <= ev_now_ms()) clients_unpause(n);
    reply_status(c, "OK");
}

static void client_setinfo(client *c)
{
    const resp_arg *attr = &c->argv[2], *val = &c->argv[3];
    char a[600];
    arg_printable(attr, a, sizeof a);
    char *dest;
    if (arg_eq(attr, "lib-name"))
        dest = c->lib_name;
    else if (arg_eq(attr, "lib-ver"))
        dest = c->lib_ver;
    else {
        reply_error(c, "ERR Unrecognized option '%s'", a);
        return;
    }
    if (!name_chars_ok(val->p, val->len)) {
        reply_error(c, "ERR %s cannot contain spaces, newlines or special characters.", a);
        return;
    }
    if (val->len >= CLIENT_LIB_MAX) {
        reply_error(c, "ERR %s too long (max %d bytes)", a, CLIENT_LIB_MAX - 1);
        return;
    }
    memcpy(dest, val->p, val->len);
    dest[val->len] = 0;
    reply_status(c, "OK");
}

static void client_help(client *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return clients of specified IDs only.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    };
    reply_array(c, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) reply_status(c, lines[i]);
}

void cmd_client(client *c)
{
    static const struct {
        const char *name;
        int arity; /* Redis's: > 0 exact, < 0 at least */
    } subs[] = {{"id", 2},       {"getname", 2},  {"setname", 3},  {"setinfo", 4},
                {"list", -2},    {"info", 2},     {"kill", -3},    {"no-evict", 3},
                {"reply", 3},    {"pause", -3},   {"unpause", 2},  {"help", 2}};
    const resp_arg *sub = &c->argv[1];
    size_t k = 0;
    while (k < sizeof subs / sizeof subs[0] && !arg_eq(sub, subs[k].name)) k++;
    if (k == sizeof subs / sizeof subs[0]) {
        char s[600];
        arg_printable(sub, s, sizeof s);
        reply_error(c, "ERR unknown subcommand '%s'. Try CLIENT HELP.", s);
        return;
    }
    const char *name = subs[k].name;
    int a = subs[k].arity;
    if ((a > 0 && c->argc != (size_t)a) || (a < 0 && c->argc < (size_t)-a)) {
        reply_error(c, "ERR wrong number of arguments for 'client|%s' command", name);
        return;
    }
    if (!strcmp(name, "pause") && c->argc > 4) { /* Redis 7.0's own check, its words */
        char s[600];
        arg_printable(sub, s, sizeof s);
        reply_error(c, "ERR unknown subcommand or wrong number of arguments for '%s'. Try "
                       "CLIENT HELP.",
                    s);
        return;
    }
    char full[CLIENT_CMD_NAME_MAX];
    snprintf(full, sizeof full, "client|%s", name);
    client_note_cmd(c, full);
    if (!strcmp(name, "id")) {
        reply_int(c, (long long)c->id);
    } else if (!strcmp(name, "getname")) {
        if (c->name[0])
            reply_bulk(c, c->name, strlen(c->name));
        else
            reply_nil(c);
    } else if (!strcmp(name, "setname")) {
        if (client_setname(c, &c->argv[2]) == 0) reply_status(c, "OK");
    } else if (!strcmp(name, "setinfo")) {
        client_setinfo(c);
    } else if (!strcmp(name, "list")) {
        client_list(c);
    } else if (!strcmp(name, "info")) {
        info_buf b = {0};
        client_info_line(c, c, &b);
        reply_info_buf(c, &b);
    } else if (!strcmp(name, "kill")) {
        client_kill(c);
    } else if (!strcmp(name, "no-evict")) {
        if (arg_eq(&c->argv[2], "on"))
            c->no_evict = 1;
        else if (arg_eq(&c->argv[2], "off"))
            c->no_evict = 0;
        else {
            reply_error(c, "ERR syntax error");
            return;
        }
        reply_status(c, "OK");
    } else if (!strcmp(name, "reply")) {
        client_reply(c);
    } else if (!strcmp(name, "pause")) {
        client_pause(c);
    } else if (!strcmp(name, "unpause")) {
        clients_unpause(c->n);
        reply_status(c, "OK");
    } else {
        client_help(c);
    }
}

/* ---- CONFIG ---- */

static void config_value(const node *n, size_t i, char *out, size_t outlen)
{
    const char *opt = config_param_opt(i);
    /* Ports as bound (a 0 in the flags means "any free one"). */
    if (opt && !strcmp(opt, "port"))
        snprintf(out, outlen, "%d", n->port);
    else if (opt && !strcmp(opt, "tls-port"))
        snprintf(out, outlen, "%d", n->tls_port);
    else if (opt && !strcmp(opt, "repl-port") && n->repl_port)
        snprintf(out, outlen, "%d", n->repl_port);
    else
        config_param_get(&n->cfg, i, out, outlen);
}

static void config_get(client *c)
{
    size_t np = config_param_count();
    /* Per param: the name it is shown as, NULL if it did not match; an
     * exact name is shown as it was asked for (Redis does that too). */
    const char **shown = calloc(np, sizeof *shown);
    size_t *shown_len = calloc(np, sizeof *shown_len);
    if (!shown || !shown_len) {
        free(shown);
        free(shown_len);
        reply_error(c, "ERR out of memory");
        return;
    }
    long long hits = 0;
    for (size_t a = 2; a < c->argc; a++) {
        const resp_arg *pat = &c->argv[a];
        int glob = memchr(pat->p, '*', pat->len) || memchr(pat->p, '?', pat->len) ||
                   memchr(pat->p, '[', pat->len);
        if (!glob) {
            int i = config_param_lookup(pat->p, pat->len);
            if (i >= 0 && !shown[i] && !(config_param_flags((size_t)i) & CFG_PARAM_SECRET)) {
                shown[i] = pat->p;
                shown_len[i] = pat->len;
                hits++;
            }
            continue;
        }
        char low[256];
        if (pat->len >= sizeof low) continue; /* longer than any name: matches none */
        for (size_t k = 0; k < pat->len; k++)
            low[k] = (pat->p[k] >= 'A' && pat->p[k] <= 'Z') ? (char)(pat->p[k] + 32) : pat->p[k];
        for (size_t i = 0; i < np; i++) {
            const char *nm = config_param_name(i);
            if (shown[i] || (config_param_flags(i) & CFG_PARAM_SECRET)) continue;
            if (rkv_glob_match(low, pat->len, nm, strlen(nm))) {
                shown[i] = nm;
                shown_len[i] = strlen(nm);
                hits++;
            }
        }
    }
    reply_map(c, hits);
    char val[CFG_PATH_MAX * 2];
    for (size_t i = 0; i < np; i++) {
        if (!shown[i]) continue;
        reply_bulk(c, shown[i], shown_len[i]);
        config_value(c->n, i, val, sizeof val);
        reply_bulk(c, val, strlen(val));
    }
    free(shown);
    free(shown_len);
}

/* CONFIG SET: every name is checked (known, settable now, not twice), then
 * every value parsed into a copy of the configuration; only if all of them
 * are good is anything changed, so it is all or nothing. */
static void config_set_cmd(client *c)
{
    node *n = c->n;
    if (c->argc % 2) {
        reply_error(c, "ERR syntax error");
        return;
    }
    size_t count = (c->argc - 2) / 2;
    int *idx = calloc(count, sizeof *idx);
    node_config *stage = malloc(sizeof *stage);
    if (!idx || !stage) {
        free(idx);
        free(stage);
        reply_error(c, "ERR out of memory");
        return;
    }
    char why[512] = "";
    const resp_arg *bad = NULL;
    int unknown = 0;
    *stage = n->cfg;
    for (size_t k = 0; k < count && !bad; k++) {
        const resp_arg *name = &c->argv[2 + 2 * k];
        idx[k] = config_param_lookup(name->p, name->len);
        if (idx[k] < 0) {
            bad = name;
            unknown = 1;
            break;
        }
        unsigned fl = config_param_flags((size_t)idx[k]);
        if (!(fl & (CFG_PARAM_RUNTIME | CFG_PARAM_FIXED))) {
            /* config_param_set words the refusal (which flag, restart) */
            config_param_set(stage, (size_t)idx[k], "", 0, why, sizeof why);
            bad = name;
            break;
        }
        for (size_t j = 0; j < k; j++)
            if (config_param_setting((size_t)idx[j]) == config_param_setting((size_t)idx[k])) {
                snprintf(why, sizeof why, "duplicate parameter");
                bad = name;
                break;
            }
    }
    int secret = -1; /* the requirepass value's argument */
    for (size_t k = 0; k < count && !bad; k++) {
        const resp_arg *val = &c->argv[3 + 2 * k];
        if (config_param_set(stage, (size_t)idx[k], val->p, val->len, why, sizeof why) < 0)
            bad = &c->argv[2 + 2 * k];
        else if (config_param_flags((size_t)idx[k]) & CFG_PARAM_SECRET)
            secret = (int)(3 + 2 * k);
    }
    /* The default user's password: the one step that can fail (memory),
     * so it goes first, before anything else changes. */
    if (!bad && secret >= 0) {
        const resp_arg *pw = &c->argv[secret];
        char *rule = malloc(pw->len + 2);
        resp_arg rules[2] = {{"resetpass", 9}, {"nopass", 6}};
        size_t badrule = 0;
        if (rule && pw->len) {
            rule[0] = '>';
            memcpy(rule + 1, pw->p, pw->len);
            rules[1].p = rule;
            rules[1].len = pw->len + 1;
        }
        if (!rule || acl_setuser(n->acl, "default", 7, rules, 2, &badrule, why, sizeof why) < 0) {
            if (!rule) snprintf(why, sizeof why, "out of memory");
            bad = &c->argv[secret - 1];
        }
        if (rule) {
            rkv_wipe(rule, pw->len + 1);
            free(rule);
        }
    }
    if (bad) {
        char name[600];
        arg_printable(bad, name, sizeof name);
        if (unknown)
            reply_error(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                        name);
        else
            reply_error(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name,
                        why);
    } else {
        for (size_t k = 0; k < count; k++) {
            size_t off, size;
            unsigned fl = config_param_flags((size_t)idx[k]);
            if ((fl & CFG_PARAM_SECRET) || config_param_field((size_t)idx[k], &off, &size) < 0)
                continue;
            memcpy((char *)&n->cfg + off, (const char *)stage + off, size);
        }
        log_set_level(&n->log, n->cfg.log_level);
        reply_status(c, "OK");
    }
    rkv_wipe(stage->requirepass, sizeof stage->requirepass);
    free(stage);
    free(idx);
}

/* CONFIG RESETSTAT: the counters Redis's resetServerStats zeroes (INFO
 * stats), not the node's state (LSNs, uptime, persistence). */
static void config_resetstat(client *c)
{
    node *n = c->n;
    node_stats *s = &n->stats;
    uint64_t start = s->start_ms, corrupt = s->wal_corruptions;
    memset(s, 0, sizeof *s);
    s->start_ms = start;
    s->wal_corruptions = corrupt; /* persistence: a fact about the disk */
    n->max_clock_offset_seen_us = 0;
    obs_reset(n); /* commandstats, errorstats, latencystats, rates (obs.h) */
    reply_status(c, "OK");
}

static void config_help(client *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    reply_array(c, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) reply_status(c, lines[i]);
}

void cmd_config(client *c)
{
    const resp_arg *sub = &c->argv[1];
    const char *wrong = NULL;
    if (arg_eq(sub, "get")) {
        if (c->argc < 3)
            wrong = "get";
        else
            config_get(c);
    } else if (arg_eq(sub, "set")) {
        if (c->argc < 4)
            wrong = "set";
        else
            config_set_cmd(c);
    } else if (arg_eq(sub, "resetstat")) {
        if (c->argc != 2)
            wrong = "resetstat";
        else
            config_resetstat(c);
    } else if (arg_eq(sub, "rewrite")) {
        if (c->argc != 2)
            wrong = "rewrite";
        else
            reply_error(c, "ERR The server is running without a config file (rkv never "
                           "rewrites its --config file: put the setting there by hand)");
    } else if (arg_eq(sub, "help") && c->argc == 2) {
        config_help(c);
    } else {
        char s[600];
        arg_printable(sub, s, sizeof s);
        reply_error(c, "ERR unknown subcommand '%s'. Try CONFIG HELP.", s);
    }
    if (wrong) reply_error(c, "ERR wrong number of arguments for 'config|%s' command", wrong);
}

/* ---- INFO ---- */

#define INFO_ARGS_MAX 64 /* section names in one INFO; more are ignored */

void cmd_info(client *c)
{
    info_buf b = {0};
    char names[INFO_ARGS_MAX][32];
    const char *list[INFO_ARGS_MAX];
    size_t k = 0;
    for (size_t i = 1; i < c->argc && k < INFO_ARGS_MAX; i++) {
        const resp_arg *a = &c->argv[i];
        if (a->len >= sizeof names[0]) continue; /* no section has such a name */
        memcpy(names[k], a->p, a->len);
        names[k][a->len] = 0;
        if (strlen(names[k]) != a->len) continue; /* a NUL inside */
        list[k] = names[k];
        k++;
    }
    /* INFO with only unknown or overlong names: the empty reply, not the
     * default sections (k == 0 means "none given" to info_render). */
    if (c->argc > 1 && k == 0) {
        reply_verbatim(c, "", 0);
        return;
    }
    info_render(c->n, list, k, &b);
    reply_verbatim(c, b.p ? b.p : "", b.len);
    free(b.p);
}

/* ---- TIME ---- */

void cmd_time(client *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char s[32], us[16];
    int sl = snprintf(s, sizeof s, "%lld", (long long)tv.tv_sec);
    int ul = snprintf(us, sizeof us, "%ld", (long)tv.tv_usec);
    reply_array(c, 2);
    reply_bulk(c, s, (size_t)sl);
    reply_bulk(c, us, (size_t)ul);
}
