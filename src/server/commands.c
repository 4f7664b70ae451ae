/* commands.c -- the command table and every command's implementation.
 *
 * Names, arities, replies and error prefixes follow Redis wherever the
 * meaning is the same, so redis-cli, redis-benchmark and client libraries
 * work unchanged (docs/PROTOCOL.md lists every command). Writes go through
 * node_propose and reply only when their records commit (node.h); a command
 * that is not a write waits until the client's owed write replies are out. */
#include <assert.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "repl/repl.h"
#include "server/acl.h"
#include "server/client.h"
#include "server/cmd.h"
#include "server/info.h"
#include "server/node.h"
#include "server/node_view.h"
#include "server/pubsub.h"
#include "server/sentinel.h"

enum {
    CMD_WRITE = 1,     /* appends records; refused on a follower */
    CMD_ANY_ROLE = 2,  /* (documentation) */
    CMD_READ = 4,      /* reads the store: refused while fenced or catching up (-LOADING) */
    CMD_PUBSUB = 8,    /* allowed on a subscribed RESP2 connection */
    CMD_NO_AUTH = 16,  /* runs before AUTH, whatever the ACL: Redis 7.0's no-auth
                          commands, AUTH HELLO QUIT RESET (not PING) */
    CMD_CONTAINER = 32, /* has subcommands: -NOPERM names "cmd|sub", as Redis 7.0 */
};

typedef struct command {
    const char *name;
    int arity; /* > 0: exact; < 0: at least -arity (name included, as Redis) */
    int flags;
    void (*fn)(client *c);
    int first_key, last_key, step; /* for COMMAND and the ACL key check */
    uint32_t cats; /* Redis 7.0's ACL categories (acl.h ACL_CAT_*) */
} command;

/* ---- write checks shared by SET and DEL ---- */

enum write_refusal { WRITE_OK = 0, WRITE_READONLY, WRITE_MISCONF, WRITE_NOREPLICAS, WRITE_FENCED, WRITE_TRANSFER };

/* Why the node refuses writes right now (no side effects). */
static enum write_refusal write_refusal(const node *n)
{
    if (!node_is_leader(n)) return WRITE_READONLY;
    if (n->fenced) return WRITE_FENCED;
    if (n->transfer_to) return WRITE_TRANSFER;
    if (n->wal_failed) return WRITE_MISCONF;
    if (n->leader && repl_leader_online(n->leader) < n->cfg.quorum) return WRITE_NOREPLICAS;
    return WRITE_OK;
}

static int write_allowed(client *c)
{
    node *n = c->n;
    switch (write_refusal(n)) {
    case WRITE_OK: return 1;
    case WRITE_READONLY: /* Redis's text: clients match it (redis-py: ReadOnlyError) */
        reply_error(c, "READONLY You can't write against a read only replica.");
        break;
    case WRITE_MISCONF:
        reply_error(c, "MISCONF WAL write failed (%s); writes are refused until the disk works again (retried with backoff)",
                    n->wal_error);
        break;
    case WRITE_TRANSFER:
        reply_error(c, "TRYAGAIN a leadership transfer (FAILOVER) is in progress; retry on the new leader");
        break;
    case WRITE_FENCED:
        n->stats.writes_rejected++;
        reply_error(c, "ERR this node refuses to lead: %s", n->fence_reason);
        break;
    case WRITE_NOREPLICAS:
        n->stats.writes_rejected++;
        reply_error(c, "NOREPLICAS Not enough good followers to write");
        break;
    }
    return 0;
}

static int key_ok(client *c, const resp_arg *k)
{
    if (k->len > c->n->cfg.key_max) {
        reply_error(c, "ERR key too large (%zu bytes, max-key-bytes is %u)", k->len,
                    c->n->cfg.key_max);
        return 0;
    }
    return 1;
}

static void reply_pending_full(client *c)
{
    c->n->stats.writes_rejected++;
    reply_error(c, "OOM uncommitted writes exceed max-pending-bytes (%zu); retry later",
                c->n->cfg.pending_bytes_max);
}

static void cmd_set(client *c)
{
    node *n = c->n;
    if (c->argc > 3) {
        reply_error(c, "ERR syntax error: SET options (EX, PX, NX, XX, GET, KEEPTTL) are not "
                       "supported; use SET key value");
        return;
    }
    const resp_arg *k = &c->argv[1], *v = &c->argv[2];
    if (!key_ok(c, k)) return;
    if (v->len > n->cfg.value_max) {
        reply_error(c, "ERR value too large (%zu bytes, max-value-bytes is %u)", v->len,
                    n->cfg.value_max);
        return;
    }
    if (!write_allowed(c)) return;
    uint64_t lsn = node_propose(n, WAL_OP_PUT, (const uint8_t *)k->p, (uint32_t)k->len,
                                (const uint8_t *)v->p, (uint32_t)v->len);
    if (lsn == 0) {
        reply_pending_full(c);
        return;
    }
    c->last_write_lsn = lsn;
    if (node_add_ticket(n, c, lsn, lsn, TICKET_OK) < 0)
        reply_error(c, "ERR out of memory queueing the reply: the write's outcome is unknown");
}

/* Bytes of the records a DEL of every argument would propose. */
static size_t del_bytes(const client *c)
{
    size_t total = 0;
    for (size_t i = 1; i < c->argc; i++) total += wal_record_size((uint32_t)c->argv[i].len, 0);
    return total;
}

static void cmd_del(client *c)
{
    node *n = c->n;
    for (size_t i = 1; i < c->argc; i++)
        if (!key_ok(c, &c->argv[i])) return;
    if (!write_allowed(c)) return;
    /* All or nothing: room for every record is made before the first is
     * proposed, so a DEL of many keys is never applied in part. */
    if (node_propose_reserve(n, del_bytes(c)) < 0) {
        reply_pending_full(c);
        return;
    }
    uint64_t first = 0, last = 0;
    for (size_t i = 1; i < c->argc; i++) {
        uint64_t lsn = node_propose(n, WAL_OP_DEL, (const uint8_t *)c->argv[i].p,
                                    (uint32_t)c->argv[i].len, NULL, 0);
        assert(lsn != 0); /* reserved above */
        if (!first) first = lsn;
        last = lsn;
    }
    c->last_write_lsn = last;
    if (node_add_ticket(n, c, first, last, TICKET_COUNT) < 0)
        reply_error(c, "ERR out of memory queueing the reply: the write's outcome is unknown");
}

/* ---- reads ---- */

static void cmd_get(client *c)
{
    kv_entry_view e;
    if (kv_get(c->n->kv, c->argv[1].p, (uint32_t)c->argv[1].len, &e))
        reply_bulk(c, e.val, e.vlen);
    else
        reply_nil(c);
}

static void cmd_exists(client *c)
{
    long long n = 0;
    kv_entry_view e;
    for (size_t i = 1; i < c->argc; i++)
        n += kv_get(c->n->kv, c->argv[i].p, (uint32_t)c->argv[i].len, &e);
    reply_int(c, n);
}

static void cmd_dbsize(client *c)
{
    reply_int(c, (long long)kv_count(c->n->kv));
}

static void cmd_ping(client *c)
{
    if (c->argc > 2) {
        reply_error(c, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (pubsub_active(c)) { /* RESP2 subscribed: a "pong" push, as Redis */
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        reply_bulk(c, c->argc == 2 ? c->argv[1].p : "", c->argc == 2 ? c->argv[1].len : 0);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c, c->argv[1].p, c->argv[1].len);
    else
        reply_status(c, "PONG");
}

static void cmd_echo(client *c)
{
    reply_bulk(c, c->argv[1].p, c->argv[1].len);
}

static void cmd_select(client *c)
{
    long long db;
    if (arg_ll(&c->argv[1], &db) < 0)
        reply_error(c, "ERR value is not an integer or out of range");
    else if (db != 0)
        reply_error(c, "ERR DB index is out of range");
    else
        reply_status(c, "OK");
}

/* RESET: back to a fresh connection's state (no subscriptions, no name). */
static void cmd_reset(client *c)
{
    pubsub_client_reset(c);
    c->name[0] = 0;
    acl_client_init(c); /* logged out, back to "default" (Redis's clientSetDefaultAuth) */
    reply_status(c, "RESET");
}

static void cmd_quit(client *c)
{
    reply_status(c, "OK");
    c->close_after = 1;
}

static void cmd_debug(client *c)
{
    if (arg_eq(&c->argv[1], "digest") && c->argc == 2) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)kv_digest(c->n->kv));
        reply_status(c, hex);
    } else {
        reply_error(c, "ERR DEBUG supports only DIGEST");
    }
}

static void cmd_bgsave(client *c)
{
    if (c->n->ckpt_pid > 0)
        reply_error(c, "ERR Background save already in progress");
    else if (node_checkpoint_start(c->n) < 0)
        reply_error(c, "ERR Background save failed to start (see the log)");
    else
        reply_status(c, "Background saving started");
}

/* FAILOVER [TO host port [FORCE]] [TIMEOUT ms] [ABORT] (Redis 6.2): hands
 * leadership to a caught-up follower (node_failover; Raft's leadership
 * transfer). TO names the follower by its announced client address. */
static void cmd_failover(client *c)
{
    node *n = c->n;
    unsigned to = 0;
    long long timeout = 0;
    int abort_it = 0;
    for (size_t i = 1; i < c->argc; i++) {
        if (arg_eq(&c->argv[i], "TO") && i + 2 < c->argc) {
            long long port;
            if (arg_ll(&c->argv[i + 2], &port) < 0 || port <= 0 || port > 65535) {
                reply_error(c, "ERR value is not an integer or out of range");
                return;
            }
            node_view v;
            node_get_view(n, &v);
            for (int j = 0; j < v.n && !to; j++)
                if (!v.m[j].is_self && v.m[j].port == port && arg_eq(&c->argv[i + 1], v.m[j].host))
                    to = v.m[j].id;
            if (!to) {
                reply_error(c, "ERR FAILOVER target HOST and PORT is not a replica.");
                return;
            }
            i += 2;
        } else if (arg_eq(&c->argv[i], "TIMEOUT") && i + 1 < c->argc) {
            if (arg_ll(&c->argv[++i], &timeout) < 0 || timeout <= 0) {
                reply_error(c, "ERR FAILOVER timeout must be greater than 0");
                return;
            }
        } else if (arg_eq(&c->argv[i], "ABORT")) {
            abort_it = 1;
        } else if (arg_eq(&c->argv[i], "FORCE")) {
            /* the transfer never loses a write: FORCE changes nothing */
        } else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    char err[160];
    if (node_failover(n, to, (uint64_t)timeout, abort_it, err, sizeof err) < 0)
        reply_error(c, "%s", err);
    else
        reply_status(c, "OK");
}

static void cmd_lastlsn(client *c)
{
    reply_int(c, (long long)c->last_write_lsn);
}

/* ---- blocking: WAIT and WAITLSN ---- */

static int wait_replicas_now(client *c)
{
    node *n = c->n;
    return n->leader ? repl_leader_acked_at_least(n->leader, c->last_write_lsn) : 0;
}

static void client_block(client *c, enum client_wait w, long long timeout_ms)
{
    c->wait = w;
    c->wait_deadline_ms = timeout_ms > 0 ? ev_now_ms() + (uint64_t)timeout_ms : 0;
    c->wnext = c->n->blocked;
    c->n->blocked = c;
}

static void cmd_wait(client *c)
{
    long long num, timeout;
    if (arg_ll(&c->argv[1], &num) < 0 || arg_ll(&c->argv[2], &timeout) < 0 || num < 0 ||
        timeout < 0) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    int have = wait_replicas_now(c);
    if (have >= num) {
        reply_int(c, have);
        return;
    }
    c->wait_replicas = (int)(num > 1000 ? 1000 : num);
    client_block(c, WAIT_REPLICAS, timeout);
}

static void cmd_waitlsn(client *c)
{
    long long lsn, timeout;
    if (arg_ll(&c->argv[1], &lsn) < 0 || arg_ll(&c->argv[2], &timeout) < 0 || lsn < 0 ||
        timeout < 0) {
        reply_error(c, "ERR lsn and timeout must be non-negative integers");
        return;
    }
    if (c->n->applied_lsn >= (uint64_t)lsn) {
        reply_int(c, (long long)c->n->applied_lsn);
        return;
    }
    c->wait_lsn = (uint64_t)lsn;
    client_block(c, WAIT_LSN, timeout);
}

void clients_check_blocked(node *n, uint64_t now_ms)
{
    client **pp = &n->blocked;
    while (*pp) {
        client *c = *pp;
        int done = 0;
        int expired = c->wait_deadline_ms && now_ms >= c->wait_deadline_ms;
        if (c->wait == WAIT_REPLICAS) {
            int have = wait_replicas_now(c);
            if (have >= c->wait_replicas || expired) {
                reply_int(c, have);
                done = 1;
            }
        } else if (c->wait == WAIT_READ) {
            if (!node_is_leader(n)) {
                c->read_waited = 2; /* it asked a leader: no follower read instead */
                done = 1;
            } else if (!node_read_transient(n)) {
                done = 1;
            } else if (expired) {
                c->read_waited = 1;
                done = 1;
            }
        } else if (c->wait == WAIT_LSN) {
            if (n->applied_lsn >= c->wait_lsn) {
                reply_int(c, (long long)n->applied_lsn);
                done = 1;
            } else if (expired) {
                reply_error(c, "TIMEOUT applied lsn is %llu, not yet %llu",
                            (unsigned long long)n->applied_lsn, (unsigned long long)c->wait_lsn);
                done = 1;
            }
        }
        if (done) {
            *pp = c->wnext;
            c->wnext = NULL;
            c->wait = WAIT_NONE;
            client_want_flush(c); /* resumes its input in clients_flush */
        } else {
            pp = &c->wnext;
        }
    }
}

/* ---- COMMAND ---- */

static void cmd_command(client *c);

/* Categories as Redis 7.0 gives them to the same command (COMMAND INFO's
 * ACL categories); rkv's own WAITLSN / LASTLSN are WAIT's and PING's. */
#define C_(x) ACL_CAT_##x
static const command commands[] = {
    {"get", 2, CMD_READ, cmd_get, 1, 1, 1, C_(READ) | C_(STRING) | C_(FAST)},
    {"set", -3, CMD_WRITE, cmd_set, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"del", -2, CMD_WRITE, cmd_del, 1, -1, 1, C_(KEYSPACE) | C_(WRITE) | C_(SLOW)},
    {"exists", -2, CMD_READ, cmd_exists, 1, -1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"dbsize", 1, CMD_READ, cmd_dbsize, 0, 0, 0, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"ping", -1, CMD_PUBSUB, cmd_ping, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"echo", 2, 0, cmd_echo, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"info", -1, 0, cmd_info, 0, 0, 0, C_(SLOW) | C_(DANGEROUS)},
    {"wait", 3, 0, cmd_wait, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"waitlsn", 3, 0, cmd_waitlsn, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"lastlsn", 1, 0, cmd_lastlsn, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"failover", -1, 0, cmd_failover, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"bgsave", -1, 0, cmd_bgsave, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"debug", -2, 0, cmd_debug, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"command", -1, CMD_CONTAINER, cmd_command, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"config", -2, CMD_CONTAINER, cmd_config, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"select", 2, 0, cmd_select, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"client", -2, CMD_CONTAINER, cmd_client, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"quit", -1, CMD_PUBSUB | CMD_NO_AUTH, cmd_quit, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"reset", 1, CMD_PUBSUB | CMD_NO_AUTH, cmd_reset, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"hello", -1, CMD_NO_AUTH, cmd_hello, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"auth", -2, CMD_NO_AUTH, cmd_auth, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"acl", -2, CMD_CONTAINER, cmd_acl, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"role", 1, 0, cmd_role, 0, 0, 0, C_(ADMIN) | C_(FAST) | C_(DANGEROUS)},
    {"sentinel", -2, 0, cmd_sentinel, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"subscribe", -2, CMD_PUBSUB, cmd_subscribe, 0, 0, 0, C_(PUBSUB) | C_(SLOW)},
    {"psubscribe", -2, CMD_PUBSUB, cmd_psubscribe, 0, 0, 0, C_(PUBSUB) | C_(SLOW)},
    {"unsubscribe", -1, CMD_PUBSUB, cmd_unsubscribe, 0, 0, 0, C_(PUBSUB) | C_(SLOW)},
    {"punsubscribe", -1, CMD_PUBSUB, cmd_punsubscribe, 0, 0, 0, C_(PUBSUB) | C_(SLOW)},
    {"publish", 3, 0, cmd_publish, 0, 0, 0, C_(PUBSUB) | C_(FAST)},
};
/* Subcommands whose ACL categories differ from their command's, as
 * Redis 7.0 has them. They are rights only (+acl|whoami), never looked up
 * as commands; "+acl" / "-acl" includes them. Indexes NCOMMANDS... */
static const command subcommands[] = {
    {"acl|whoami", 2, 0, cmd_acl, 0, 0, 0, C_(SLOW)},
    {"acl|cat", -2, 0, cmd_acl, 0, 0, 0, C_(SLOW)},
};
#undef C_
#define NSUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])
#define NCOMMANDS (sizeof commands / sizeof commands[0])
_Static_assert(NCOMMANDS + NSUBCOMMANDS <= ACL_CMD_MAX,
               "the ACL bitmap holds ACL_CMD_MAX commands");

static const command *table_at(size_t i)
{
    return i < NCOMMANDS ? &commands[i] : &subcommands[i - NCOMMANDS];
}

size_t command_table_size(void)
{
    return NCOMMANDS + NSUBCOMMANDS;
}

const char *command_table_name(size_t i)
{
    return table_at(i)->name;
}

uint32_t command_table_cats(size_t i)
{
    return table_at(i)->cats;
}

int command_table_no_auth(size_t i)
{
    return (table_at(i)->flags & CMD_NO_AUTH) != 0;
}

/* The ACL's view of C's command: its table index, and its name for
 * -NOPERM ("config|get" for a command with subcommands). */
static size_t acl_index(const client *c, const command *cmd, char *name, size_t namelen)
{
    size_t idx = (size_t)(cmd - commands), l = strlen(cmd->name);
    snprintf(name, namelen, "%s", cmd->name);
    if (!(cmd->flags & CMD_CONTAINER) || c->argc < 2) return idx;
    const resp_arg *sub = &c->argv[1];
    for (size_t i = 0; i < NSUBCOMMANDS; i++)
        if (strncmp(subcommands[i].name, cmd->name, l) == 0 && subcommands[i].name[l] == '|' &&
            arg_eq(sub, subcommands[i].name + l + 1))
            idx = NCOMMANDS + i;
    size_t o = l;
    if (o + 1 < namelen) name[o++] = '|';
    for (size_t i = 0; i < sub->len && i < 64 && o + 1 < namelen; i++) {
        char ch = sub->p[i];
        name[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a')
                    : (ch > ' ' && ch < 127 && ch != '\'') ? ch : '?';
    }
    name[o] = 0;
    return idx;
}

static void reply_command_info(client *c, const command *cmd)
{
    reply_array(c, 6);
    reply_bulk(c, cmd->name, strlen(cmd->name));
    reply_int(c, cmd->arity);
    reply_array(c, 1);
    const char *flag = (cmd->flags & CMD_WRITE) ? "write" : "readonly";
    reply_status(c, flag);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->step);
}

static const command *command_lookup(const resp_arg *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (arg_eq(name, commands[i].name)) return &commands[i];
    return NULL;
}

static void cmd_command(client *c)
{
    if (c->argc == 1) {
        reply_array(c, (long long)NCOMMANDS);
        for (size_t i = 0; i < NCOMMANDS; i++) reply_command_info(c, &commands[i]);
    } else if (arg_eq(&c->argv[1], "count")) {
        reply_int(c, (long long)NCOMMANDS);
    } else if (arg_eq(&c->argv[1], "docs")) {
        reply_array(c, 0); /* redis-cli accepts an empty map: no hints */
    } else if (arg_eq(&c->argv[1], "info")) {
        reply_array(c, (long long)c->argc - 2);
        for (size_t i = 2; i < c->argc; i++) {
            const command *cmd = command_lookup(&c->argv[i]);
            if (cmd)
                reply_command_info(c, cmd);
            else
                reply_raw(c, "*-1\r\n", 5);
        }
    } else {
        reply_error(c, "ERR COMMAND supports COUNT, DOCS and INFO");
    }
}

/* Would this write (arity checked) be refused without proposing a record?
 * The same checks as cmd_set / cmd_del, without replies or counters: such a
 * command has to wait for the client's owed replies, like a read. */
static int write_refused_now(client *c, const command *cmd)
{
    node *n = c->n;
    size_t rec_bytes;
    if (write_refusal(n) != WRITE_OK) return 1;
    if (cmd->fn == cmd_set) {
        if (c->argc > 3 || c->argv[1].len > n->cfg.key_max || c->argv[2].len > n->cfg.value_max)
            return 1;
        rec_bytes = wal_record_size((uint32_t)c->argv[1].len, (uint32_t)c->argv[2].len);
    } else if (cmd->fn == cmd_del) {
        for (size_t i = 1; i < c->argc; i++)
            if (c->argv[i].len > n->cfg.key_max) return 1;
        rec_bytes = del_bytes(c); /* refused whole if it does not all fit */
    } else {
        return 0;
    }
    return node_pending_bytes(n) + rec_bytes > n->cfg.pending_bytes_max;
}

int command_exec(client *c)
{
    node *n = c->n;
    const command *cmd = command_lookup(&c->argv[0]);
    int arity_ok = cmd && ((cmd->arity > 0 && c->argc == (size_t)cmd->arity) ||
                           (cmd->arity < 0 && c->argc >= (size_t)-cmd->arity));
    /* Replies leave in command order: anything but another write that will
     * be proposed waits until the owed write replies have been sent (a
     * refused write answers at once, so it must wait too). */
    if (c->owed > 0 &&
        (!cmd || !(cmd->flags & CMD_WRITE) || !arity_ok || write_refused_now(c, cmd)))
        return CMD_DEFERRED;
    n->stats.commands_processed++;
    if (!cmd) {
        char name[600];
        arg_printable(&c->argv[0], name, sizeof name);
        reply_error(c, "ERR unknown command '%s'", name);
        return CMD_DONE;
    }
    if (!arity_ok) {
        reply_error(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        return CMD_DONE;
    }
    /* Then authentication and rights, in Redis's order (processCommand). */
    if (!acl_client_unrestricted(c)) { /* (skipped for +@all ~*: the hot path) */
        char aclname[160];
        size_t aclidx = acl_index(c, cmd, aclname, sizeof aclname);
        if (acl_client_refuse(c, aclidx, aclname, cmd->flags & CMD_NO_AUTH, cmd->first_key,
                              cmd->last_key, cmd->step))
            return CMD_DONE;
    }
    if (pubsub_active(c) && !(cmd->flags & CMD_PUBSUB)) {
        reply_error(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                       "QUIT / RESET are allowed in this context",
                    cmd->name);
        return CMD_DONE;
    }
    if (cmd->flags & CMD_READ) {
        char why[sizeof n->fence_reason + 64];
        if (c->read_waited == 2) {
            c->read_waited = 0;
            reply_error(c, "TRYAGAIN this node stopped leading while the read waited for its "
                           "lease; ask the new leader");
            return CMD_DONE;
        }
        if (node_read_refusal(n, why, sizeof why)) {
            /* A new leader's first moments (its epoch-start record, its
             * first heartbeat round): the read waits, up to one election
             * timeout, instead of failing; the command stays in the input
             * buffer and runs again (clients_check_blocked). */
            if (!c->read_waited && node_read_transient(n)) {
                client_block(c, WAIT_READ, n->cfg.election_timeout_ms);
                return CMD_DEFERRED;
            }
            c->read_waited = 0;
            reply_error(c, "%s", why);
            return CMD_DONE;
        }
        c->read_waited = 0;
    }
    cmd->fn(c);
    return CMD_DONE;
}
