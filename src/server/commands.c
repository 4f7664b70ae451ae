/* commands.c -- the command table and every command's implementation.
 *
 * Names, arities, replies and error prefixes follow Redis wherever the
 * meaning is the same, so redis-cli, redis-benchmark and client libraries
 * work unchanged (docs/PROTOCOL.md lists every command). Writes go through
 * node_propose and reply only when their records commit (node.h); a command
 * that is not a write waits until the client's owed write replies are out. */
#include <assert.h>
#include <pthread.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/glob.h"
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
    CMD_TXN = 64,       /* a transaction command: runs pipelined after owed write replies */
    CMD_NOQUEUE = 256,  /* runs, not queued, inside MULTI (Redis: EXEC DISCARD MULTI
                           WATCH QUIT RESET) */
    CMD_KEYNUM = 512,   /* argv[2] counts the keys that follow it (EVAL, EVALSHA) */
    CMD_STATELESS = 128, /* its reply does not depend on the data (MULTI, QUEUED ...) */
    CMD_NOMULTI = 1024,  /* refused inside MULTI (Redis's no-multi: SAVE, SHUTDOWN) */
    CMD_DENYOOM = 2048, /* may grow memory: refused or evicts first over --maxmemory (Redis's denyoom) */
    CMD_LOOKUP = 4096,  /* reads keys only through ks_lookup: runs pipelined behind owed writes */
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

int command_write_allowed(client *c)
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

/* A leader's first moments: its followers are still connecting (a node
 * just started, or just elected). A write then waits for them, up to
 * NODE_QUORUM_GRACE_MS after the leader started, instead of failing with
 * NOREPLICAS: a script that starts a cluster and writes at once just
 * works. The command stays in the input buffer and runs again when the
 * quorum is there or the wait ends (clients_check_blocked); a second
 * refusal is answered. 1 if C now waits. */
static void client_block(client *c, enum client_wait w, long long timeout_ms);

static int write_waits_for_quorum(client *c)
{
    node *n = c->n;
    if (c->write_waited || write_refusal(n) != WRITE_NOREPLICAS) return 0;
    uint64_t now = ev_now_ms(), until = n->lead_since_ms + NODE_QUORUM_GRACE_MS;
    if (now >= until || multi_active(c)) return 0;
    client_block(c, WAIT_QUORUM, (int)(until - now));
    return 1;
}

static void reply_pending_full(client *c)
{
    c->n->stats.writes_rejected++;
    reply_error(c, "OOM uncommitted writes exceed max-pending-bytes (%zu); retry later",
                c->n->cfg.pending_bytes_max);
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

/* RESET: back to a fresh connection's state (no subscriptions, no name). */
static void cmd_reset(client *c)
{
    client_reset_conn(c);
    multi_end(c);
    obs_client_gone(c); /* RESET ends MONITOR, as Redis */
    c->db = 0;
    reply_status(c, "RESET");
}

static void cmd_quit(client *c)
{
    reply_status(c, "OK");
    c->close_after = 1;
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
        } else if (c->wait == WAIT_QUORUM) {
            /* Runs again (resumed input) with a quorum, or to be refused. */
            if (!node_is_leader(n) || write_refusal(n) != WRITE_NOREPLICAS || expired) {
                c->write_waited = 1;
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
    /* strings */
    {"get", 2, CMD_READ | CMD_LOOKUP, cmd_get, 1, 1, 1, C_(READ) | C_(STRING) | C_(FAST)},
    {"set", -3, CMD_WRITE | CMD_DENYOOM, cmd_set, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"setnx", 3, CMD_WRITE | CMD_DENYOOM, cmd_setnx, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"setex", 4, CMD_WRITE | CMD_DENYOOM, cmd_setex, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"psetex", 4, CMD_WRITE | CMD_DENYOOM, cmd_psetex, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"getset", 3, CMD_WRITE | CMD_DENYOOM, cmd_getset, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"getdel", 2, CMD_WRITE, cmd_getdel, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"getex", -2, CMD_WRITE, cmd_getex, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"mget", -2, CMD_READ | CMD_LOOKUP, cmd_mget, 1, -1, 1, C_(READ) | C_(STRING) | C_(FAST)},
    {"mset", -3, CMD_WRITE | CMD_DENYOOM, cmd_mset, 1, -1, 2, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"msetnx", -3, CMD_WRITE | CMD_DENYOOM, cmd_msetnx, 1, -1, 2, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"append", 3, CMD_WRITE | CMD_DENYOOM, cmd_append, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"strlen", 2, CMD_READ | CMD_LOOKUP, cmd_strlen, 1, 1, 1, C_(READ) | C_(STRING) | C_(FAST)},
    {"getrange", 4, CMD_READ | CMD_LOOKUP, cmd_getrange, 1, 1, 1, C_(READ) | C_(STRING) | C_(SLOW)},
    {"substr", 4, CMD_READ | CMD_LOOKUP, cmd_getrange, 1, 1, 1, C_(READ) | C_(STRING) | C_(SLOW)},
    {"setrange", 4, CMD_WRITE | CMD_DENYOOM, cmd_setrange, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(SLOW)},
    {"incr", 2, CMD_WRITE | CMD_DENYOOM, cmd_incr, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"decr", 2, CMD_WRITE | CMD_DENYOOM, cmd_decr, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"incrby", 3, CMD_WRITE | CMD_DENYOOM, cmd_incrby, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"decrby", 3, CMD_WRITE | CMD_DENYOOM, cmd_decrby, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"incrbyfloat", 3, CMD_WRITE | CMD_DENYOOM, cmd_incrbyfloat, 1, 1, 1, C_(WRITE) | C_(STRING) | C_(FAST)},
    {"lcs", -3, CMD_READ | CMD_LOOKUP, cmd_lcs, 1, 2, 1, C_(READ) | C_(STRING) | C_(SLOW)},
    /* keyspace */
    {"del", -2, CMD_WRITE, cmd_del_keys, 1, -1, 1, C_(KEYSPACE) | C_(WRITE) | C_(SLOW)},
    {"unlink", -2, CMD_WRITE, cmd_del_keys, 1, -1, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    {"exists", -2, CMD_READ | CMD_LOOKUP, cmd_exists, 1, -1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"touch", -2, CMD_READ, cmd_touch, 1, -1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"type", 2, CMD_READ | CMD_LOOKUP, cmd_type, 1, 1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"keys", 2, CMD_READ, cmd_keys, 0, 0, 0, C_(KEYSPACE) | C_(READ) | C_(SLOW) | C_(DANGEROUS)},
    {"scan", -2, CMD_READ, cmd_scan, 0, 0, 0, C_(KEYSPACE) | C_(READ) | C_(SLOW)},
    {"randomkey", 1, CMD_READ, cmd_randomkey, 0, 0, 0, C_(KEYSPACE) | C_(READ) | C_(SLOW)},
    {"rename", 3, CMD_WRITE, cmd_rename, 1, 2, 1, C_(KEYSPACE) | C_(WRITE) | C_(SLOW)},
    {"renamenx", 3, CMD_WRITE, cmd_renamenx, 1, 2, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    {"copy", -3, CMD_WRITE | CMD_DENYOOM, cmd_copy, 1, 2, 1, C_(KEYSPACE) | C_(WRITE) | C_(SLOW)},
    {"dbsize", 1, CMD_READ, cmd_dbsize, 0, 0, 0, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"flushdb", -1, CMD_WRITE, cmd_flushdb, 0, 0, 0, C_(KEYSPACE) | C_(WRITE) | C_(SLOW) | C_(DANGEROUS)},
    {"flushall", -1, CMD_WRITE, cmd_flushall, 0, 0, 0, C_(KEYSPACE) | C_(WRITE) | C_(SLOW) | C_(DANGEROUS)},
    {"expire", -3, CMD_WRITE, cmd_expire, 1, 1, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    {"pexpire", -3, CMD_WRITE, cmd_pexpire, 1, 1, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    {"expireat", -3, CMD_WRITE, cmd_expireat, 1, 1, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    {"pexpireat", -3, CMD_WRITE, cmd_pexpireat, 1, 1, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    {"ttl", 2, CMD_READ | CMD_LOOKUP, cmd_ttl, 1, 1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"pttl", 2, CMD_READ | CMD_LOOKUP, cmd_pttl, 1, 1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"expiretime", 2, CMD_READ | CMD_LOOKUP, cmd_expiretime, 1, 1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"pexpiretime", 2, CMD_READ | CMD_LOOKUP, cmd_pexpiretime, 1, 1, 1, C_(KEYSPACE) | C_(READ) | C_(FAST)},
    {"persist", 2, CMD_WRITE, cmd_persist, 1, 1, 1, C_(KEYSPACE) | C_(WRITE) | C_(FAST)},
    /* redis-py's lock scripts, run natively (cmd_script.c) */
    {"eval", -3, CMD_WRITE | CMD_KEYNUM, cmd_eval, 0, 0, 0, C_(SLOW) | C_(SCRIPTING)},
    {"evalsha", -3, CMD_WRITE | CMD_KEYNUM, cmd_evalsha, 0, 0, 0, C_(SLOW) | C_(SCRIPTING)},
    {"script", -2, CMD_CONTAINER, cmd_script, 0, 0, 0, C_(SLOW) | C_(SCRIPTING)},
    /* transactions */
    {"multi", 1, CMD_TXN | CMD_NOQUEUE | CMD_STATELESS, cmd_multi, 0, 0, 0, C_(FAST) | C_(TRANSACTION)},
    {"exec", 1, CMD_TXN | CMD_NOQUEUE, cmd_exec, 0, 0, 0, C_(SLOW) | C_(TRANSACTION)},
    {"discard", 1, CMD_TXN | CMD_NOQUEUE | CMD_STATELESS, cmd_discard, 0, 0, 0, C_(FAST) | C_(TRANSACTION)},
    {"watch", -2, CMD_TXN | CMD_NOQUEUE | CMD_STATELESS, cmd_watch, 1, -1, 1, C_(FAST) | C_(TRANSACTION)},
    {"unwatch", 1, CMD_STATELESS, cmd_unwatch, 0, 0, 0, C_(FAST) | C_(TRANSACTION)},
    /* connection and server */
    {"ping", -1, CMD_PUBSUB, cmd_ping, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"echo", 2, 0, cmd_echo, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"time", 1, 0, cmd_time, 0, 0, 0, C_(FAST)},
    {"info", -1, 0, cmd_info, 0, 0, 0, C_(SLOW) | C_(DANGEROUS)},
    {"wait", 3, 0, cmd_wait, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"waitlsn", 3, 0, cmd_waitlsn, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"lastlsn", 1, 0, cmd_lastlsn, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"failover", -1, 0, cmd_failover, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"bgsave", -1, 0, cmd_bgsave, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"debug", -2, 0, cmd_debug, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    /* observability and the server's life (cmd_obs.c) */
    {"slowlog", -2, CMD_CONTAINER, cmd_slowlog, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"latency", -2, CMD_CONTAINER, cmd_latency, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"monitor", 1, 0, cmd_monitor, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"memory", -2, CMD_CONTAINER, cmd_memory, 2, 2, 1, C_(SLOW)},
    {"shutdown", -1, CMD_NOMULTI, cmd_shutdown, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"save", 1, CMD_NOMULTI, cmd_save, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"lastsave", 1, 0, cmd_lastsave, 0, 0, 0, C_(ADMIN) | C_(FAST) | C_(DANGEROUS)},
    {"command", -1, CMD_CONTAINER, cmd_command, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"config", -2, CMD_CONTAINER, cmd_config, 0, 0, 0, C_(ADMIN) | C_(SLOW) | C_(DANGEROUS)},
    {"select", 2, 0, cmd_select, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"client", -2, CMD_CONTAINER, cmd_client, 0, 0, 0, C_(SLOW) | C_(CONNECTION)},
    {"quit", -1, CMD_PUBSUB | CMD_NO_AUTH | CMD_NOQUEUE, cmd_quit, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
    {"reset", 1, CMD_PUBSUB | CMD_NO_AUTH | CMD_NOQUEUE, cmd_reset, 0, 0, 0, C_(FAST) | C_(CONNECTION)},
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

/* ---- COMMAND (Redis 7.0's reply shapes) ---- */

/* COMMAND DOCS: what redis-cli shows in its hints and `help`. */
typedef struct command_doc {
    const char *name, *summary, *since, *group;
} command_doc;
static const command_doc docs[] = {
    {"get", "Get the value of a key", "1.0.0", "string"},
    {"set", "Set the string value of a key", "1.0.0", "string"},
    {"setnx", "Set the value of a key, only if the key does not exist", "1.0.0", "string"},
    {"setex", "Set the value and expiration of a key", "2.0.0", "string"},
    {"psetex", "Set the value and expiration in milliseconds of a key", "2.6.0", "string"},
    {"getset", "Set the string value of a key and return its old value", "1.0.0", "string"},
    {"getdel", "Get the value of a key and delete the key", "6.2.0", "string"},
    {"getex", "Get the value of a key and optionally set its expiration", "6.2.0", "string"},
    {"mget", "Get the values of all the given keys", "1.0.0", "string"},
    {"mset", "Set multiple keys to multiple values", "1.0.1", "string"},
    {"msetnx", "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
     "string"},
    {"append", "Append a value to a key", "2.0.0", "string"},
    {"strlen", "Get the length of the value stored in a key", "2.2.0", "string"},
    {"getrange", "Get a substring of the string stored at a key", "2.4.0", "string"},
    {"substr", "Get a substring of the string stored at a key", "1.0.0", "string"},
    {"setrange", "Overwrite part of a string at key starting at the specified offset", "2.2.0",
     "string"},
    {"incr", "Increment the integer value of a key by one", "1.0.0", "string"},
    {"decr", "Decrement the integer value of a key by one", "1.0.0", "string"},
    {"incrby", "Increment the integer value of a key by the given amount", "1.0.0", "string"},
    {"decrby", "Decrement the integer value of a key by the given number", "1.0.0", "string"},
    {"incrbyfloat", "Increment the float value of a key by the given amount", "2.6.0", "string"},
    {"lcs", "Find longest common substring", "7.0.0", "string"},
    {"del", "Delete a key", "1.0.0", "generic"},
    {"unlink", "Delete a key asynchronously in another thread", "4.0.0", "generic"},
    {"exists", "Determine if a key exists", "1.0.0", "generic"},
    {"touch", "Alters the last access time of a key(s). Returns the number of existing keys "
              "specified.", "3.2.1", "generic"},
    {"type", "Determine the type stored at key", "1.0.0", "generic"},
    {"keys", "Find all keys matching the given pattern", "1.0.0", "generic"},
    {"scan", "Incrementally iterate the keys space", "2.8.0", "generic"},
    {"randomkey", "Return a random key from the keyspace", "1.0.0", "generic"},
    {"rename", "Rename a key", "1.0.0", "generic"},
    {"renamenx", "Rename a key, only if the new key does not exist", "1.0.0", "generic"},
    {"copy", "Copy a key", "6.2.0", "generic"},
    {"dbsize", "Return the number of keys in the selected database", "1.0.0", "server"},
    {"flushdb", "Remove all keys from the current database", "1.0.0", "server"},
    {"flushall", "Remove all keys from all databases", "1.0.0", "server"},
    {"expire", "Set a key's time to live in seconds", "1.0.0", "generic"},
    {"pexpire", "Set a key's time to live in milliseconds", "2.6.0", "generic"},
    {"expireat", "Set the expiration for a key as a UNIX timestamp", "1.2.0", "generic"},
    {"pexpireat", "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
     "2.6.0", "generic"},
    {"ttl", "Get the time to live for a key in seconds", "1.0.0", "generic"},
    {"pttl", "Get the time to live for a key in milliseconds", "2.6.0", "generic"},
    {"expiretime", "Get the expiration Unix timestamp for a key", "7.0.0", "generic"},
    {"pexpiretime", "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0",
     "generic"},
    {"persist", "Remove the expiration from a key", "2.2.0", "generic"},
    {"eval", "Execute a Lua script server side (rkv: redis-py's lock scripts only, run natively)",
     "2.6.0", "scripting"},
    {"evalsha", "Execute a Lua script server side (rkv: redis-py's lock scripts only)", "2.6.0",
     "scripting"},
    {"script", "A container for Lua scripts management commands", "2.6.0", "scripting"},
    {"multi", "Mark the start of a transaction block", "1.2.0", "transactions"},
    {"exec", "Execute all commands issued after MULTI", "1.2.0", "transactions"},
    {"discard", "Discard all commands issued after MULTI", "2.0.0", "transactions"},
    {"watch", "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0",
     "transactions"},
    {"unwatch", "Forget about all watched keys", "2.2.0", "transactions"},
    {"ping", "Ping the server", "1.0.0", "connection"},
    {"echo", "Echo the given string", "1.0.0", "connection"},
    {"time", "Return the current server time", "2.6.0", "server"},
    {"info", "Get information and statistics about the server", "1.0.0", "server"},
    {"wait", "Wait for the synchronous replication of all the write commands sent in the "
             "context of the current connection", "3.0.0", "generic"},
    {"waitlsn", "rkv: wait until this node has applied a log position", "0.1.0", "generic"},
    {"lastlsn", "rkv: the log position of this connection's last write", "0.1.0", "generic"},
    {"failover", "Start a coordinated failover between this server and one of its replicas",
     "6.2.0", "server"},
    {"bgsave", "Asynchronously save the dataset to disk", "1.0.0", "server"},
    {"debug", "A container for debugging commands", "1.0.0", "server"},
    {"slowlog", "A container for slow log commands", "2.2.12", "server"},
    {"latency", "A container for latency diagnostics commands", "2.8.13", "server"},
    {"monitor", "Listen for all requests received by the server in real time", "1.0.0", "server"},
    {"memory", "A container for memory diagnostics commands", "4.0.0", "server"},
    {"shutdown", "Synchronously save the dataset to disk and then shut down the server", "1.0.0",
     "server"},
    {"save", "Synchronously save the dataset to disk", "1.0.0", "server"},
    {"lastsave", "Get the UNIX time stamp of the last successful save to disk", "1.0.0", "server"},
    {"command", "Get array of Redis command details", "2.8.13", "server"},
    {"config", "A container for server configuration commands", "2.0.0", "server"},
    {"select", "Change the selected database for the current connection", "1.0.0",
     "connection"},
    {"client", "A container for client connection commands", "2.4.0", "connection"},
    {"quit", "Close the connection", "1.0.0", "connection"},
    {"reset", "Reset the connection", "6.2.0", "connection"},
    {"hello", "Handshake with Redis", "6.0.0", "connection"},
    {"auth", "Authenticate to the server", "1.0.0", "connection"},
    {"acl", "A container for Access List Control commands", "6.0.0", "server"},
    {"role", "Return the role of the instance in the context of replication", "2.8.12",
     "server"},
    {"sentinel", "A container for Sentinel commands", "2.8.4", "sentinel"},
    {"subscribe", "Listen for messages published to the given channels", "2.0.0", "pubsub"},
    {"psubscribe", "Listen for messages published to channels matching the given patterns",
     "2.0.0", "pubsub"},
    {"unsubscribe", "Stop listening for messages posted to the given channels", "2.0.0",
     "pubsub"},
    {"punsubscribe", "Stop listening for messages posted to channels matching the given "
                     "patterns", "2.0.0", "pubsub"},
    {"publish", "Post a message to a channel", "2.0.0", "pubsub"},
};
#define NDOCS (sizeof docs / sizeof docs[0])

static const command_doc *command_doc_of(const command *cmd)
{
    for (size_t i = 0; i < NDOCS; i++)
        if (strcmp(docs[i].name, cmd->name) == 0) return &docs[i];
    return NULL;
}

/* Redis's command flags, as far as rkv's commands have them. */
static int command_flag_names(const command *cmd, const char **out)
{
    int n = 0;
    if (cmd->flags & CMD_WRITE) out[n++] = "write";
    if (cmd->flags & CMD_READ) out[n++] = "readonly";
    if (cmd->flags & CMD_DENYOOM) out[n++] = "denyoom";
    if (cmd->cats & ACL_CAT_ADMIN) out[n++] = "admin";
    if (cmd->cats & ACL_CAT_PUBSUB) out[n++] = "pubsub";
    if (cmd->flags & CMD_NO_AUTH) out[n++] = "no_auth";
    if (cmd->flags & CMD_NOQUEUE) out[n++] = "no_multi";
    if (cmd->cats & ACL_CAT_FAST) out[n++] = "fast";
    if (!(cmd->flags & CMD_WRITE) && !(cmd->flags & CMD_READ) && !(cmd->cats & ACL_CAT_ADMIN))
        out[n++] = "loading";
    return n;
}

/* One key spec (Redis 7 "key_specs"), from first/last/step. */
static void reply_key_specs(client *c, const command *cmd)
{
    /* A set in RESP3, as Redis 7.0 sends it. */
    if (cmd->first_key == 0) {
        reply_set(c, 0);
        return;
    }
    reply_set(c, 1);
    reply_map(c, 3);
    reply_bulk(c, "flags", 5);
    const char *f1 = (cmd->flags & CMD_WRITE) ? "RW" : "RO";
    const char *f2 = (cmd->flags & CMD_WRITE) ? "update" : "access";
    reply_set(c, 2);
    reply_status(c, f1);
    reply_status(c, f2);
    reply_bulk(c, "begin_search", 12);
    reply_map(c, 2);
    reply_bulk(c, "type", 4);
    reply_bulk(c, "index", 5);
    reply_bulk(c, "spec", 4);
    reply_map(c, 1);
    reply_bulk(c, "index", 5);
    reply_int(c, cmd->first_key);
    reply_bulk(c, "find_keys", 9);
    reply_map(c, 2);
    reply_bulk(c, "type", 4);
    reply_bulk(c, "range", 5);
    reply_bulk(c, "spec", 4);
    reply_map(c, 3);
    reply_bulk(c, "lastkey", 7);
    reply_int(c, cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key);
    reply_bulk(c, "keystep", 7);
    reply_int(c, cmd->step);
    reply_bulk(c, "limit", 5);
    reply_int(c, 0);
}

/* Redis 7.0's tips for the commands rkv has (cluster-aware clients route by
 * them). */
static void command_tips(client *c, const command *cmd)
{
    static const struct {
        const char *name, *tips[3];
    } tips[] = {
        {"ttl", {"nondeterministic_output"}},
        {"pttl", {"nondeterministic_output"}},
        {"randomkey", {"request_policy:all_shards", "nondeterministic_output"}},
        {"time", {"nondeterministic_output"}},
        {"keys", {"request_policy:all_shards", "nondeterministic_output_order"}},
        {"scan", {"nondeterministic_output", "request_policy:special", "response_policy:special"}},
        {"dbsize", {"request_policy:all_shards", "response_policy:agg_sum"}},
        {"flushall", {"request_policy:all_shards", "response_policy:all_succeeded"}},
        {"flushdb", {"request_policy:all_shards", "response_policy:all_succeeded"}},
        {"ping", {"request_policy:all_shards", "response_policy:all_succeeded"}},
        {"info", {"nondeterministic_output"}},
    };
    for (size_t i = 0; i < sizeof tips / sizeof tips[0]; i++)
        if (strcmp(tips[i].name, cmd->name) == 0) {
            int n = 0;
            while (n < 3 && tips[i].tips[n]) n++;
            reply_set(c, n);
            for (int k = 0; k < n; k++) reply_bulk(c, tips[i].tips[k], strlen(tips[i].tips[k]));
            return;
        }
    reply_set(c, 0);
}

/* COMMAND INFO's ten fields: name, arity, flags, first key, last key,
 * step, ACL categories, tips, key specs, subcommands. */
static void reply_command_info(client *c, const command *cmd)
{
    const char *flags[12];
    int nf = command_flag_names(cmd, flags);
    reply_array(c, 10);
    reply_bulk(c, cmd->name, strlen(cmd->name));
    reply_int(c, cmd->arity);
    reply_set(c, nf);
    for (int i = 0; i < nf; i++) reply_status(c, flags[i]);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->step);
    int ncat = 0;
    for (int i = 0; i < ACL_NCATS; i++) ncat += (cmd->cats >> i) & 1u;
    reply_set(c, ncat);
    for (int i = 0; i < ACL_NCATS; i++)
        if ((cmd->cats >> i) & 1u) {
            char cat[40];
            snprintf(cat, sizeof cat, "@%s", acl_cat_name(i));
            reply_status(c, cat);
        }
    command_tips(c, cmd);
    reply_key_specs(c, cmd);
    reply_set(c, 0); /* subcommands */
}

static void reply_command_doc(client *c, const command *cmd)
{
    const command_doc *d = command_doc_of(cmd);
    reply_bulk(c, cmd->name, strlen(cmd->name));
    if (!d) {
        reply_map(c, 0);
        return;
    }
    reply_map(c, 3);
    reply_bulk(c, "summary", 7);
    reply_bulk(c, d->summary, strlen(d->summary));
    reply_bulk(c, "since", 5);
    reply_bulk(c, d->since, strlen(d->since));
    reply_bulk(c, "group", 5);
    reply_bulk(c, d->group, strlen(d->group));
}

/* Name -> command: an open-addressing table over the lowercase names, built
 * once per process (several nodes may run in one process: pthread_once),
 * so a lookup is one hash of the name, not a scan of ~80 names. */
#define CMD_HASH_SLOTS 256 /* a power of two, > 2 x NCOMMANDS */
#define CMD_NAME_MAX 32    /* longer names are no command */
_Static_assert(CMD_HASH_SLOTS > 2 * NCOMMANDS, "the command hash is at most half full");
static const command *cmd_hash[CMD_HASH_SLOTS];
static pthread_once_t cmd_hash_once = PTHREAD_ONCE_INIT;

static uint32_t cmd_name_hash(const char *p, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a over the lowercase bytes */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 'A' && ch <= 'Z') ch = (unsigned char)(ch - 'A' + 'a');
        h = (h ^ ch) * 16777619u;
    }
    return h;
}

static void cmd_hash_build(void)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        uint32_t h = cmd_name_hash(commands[i].name, strlen(commands[i].name));
        while (cmd_hash[h & (CMD_HASH_SLOTS - 1)]) h++;
        cmd_hash[h & (CMD_HASH_SLOTS - 1)] = &commands[i];
    }
}

static const command *command_lookup(const resp_arg *name)
{
    if (name->len == 0 || name->len > CMD_NAME_MAX) return NULL;
    pthread_once(&cmd_hash_once, cmd_hash_build);
    for (uint32_t h = cmd_name_hash(name->p, name->len);; h++) {
        const command *cmd = cmd_hash[h & (CMD_HASH_SLOTS - 1)];
        if (!cmd) return NULL;
        if (arg_eq(name, cmd->name)) return cmd;
    }
}

static int arity_fits(const command *cmd, size_t argc);

/* COMMAND GETKEYS command arg ...: its keys by first/last/step. */
static void command_getkeys(client *c)
{
    if (c->argc < 4) {
        reply_error(c, "ERR wrong number of arguments for 'command|getkeys' command");
        return;
    }
    const command *cmd = command_lookup(&c->argv[2]);
    size_t argc = c->argc - 2;
    if (!cmd) {
        reply_error(c, "ERR Invalid command specified");
        return;
    }
    if (!arity_fits(cmd, argc)) {
        reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (cmd->first_key == 0) {
        reply_error(c, "ERR The command has no key arguments");
        return;
    }
    long long last = cmd->last_key < 0 ? (long long)argc + cmd->last_key : cmd->last_key;
    long long n = 0;
    for (long long i = cmd->first_key; i <= last; i += cmd->step) n++;
    reply_array(c, n);
    for (long long i = cmd->first_key; i <= last; i += cmd->step)
        reply_bulk(c, c->argv[2 + i].p, c->argv[2 + i].len);
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN pattern] */
static void command_list(client *c)
{
    int by = 0; /* 1 module, 2 aclcat, 3 pattern */
    const resp_arg *what = NULL;
    if (c->argc == 5 && arg_eq(&c->argv[2], "filterby")) {
        what = &c->argv[4];
        by = arg_eq(&c->argv[3], "module") ? 1 : arg_eq(&c->argv[3], "aclcat") ? 2
             : arg_eq(&c->argv[3], "pattern")                                  ? 3
                                                                               : 0;
    }
    if (c->argc != 2 && !by) {
        reply_error(c, "ERR syntax error");
        return;
    }
    int cat = -1;
    if (by == 2)
        for (int i = 0; i < ACL_NCATS; i++)
            if (arg_eq(what, acl_cat_name(i))) cat = i;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) reply_array(c, (long long)n);
        for (size_t i = 0; i < NCOMMANDS; i++) {
            const command *cmd = &commands[i];
            int ok = by == 0 || (by == 2 && cat >= 0 && ((cmd->cats >> cat) & 1u)) ||
                     (by == 3 && rkv_glob_match(what->p, what->len, cmd->name, strlen(cmd->name)));
            if (!ok) continue;
            if (pass == 0)
                n++;
            else
                reply_bulk(c, cmd->name, strlen(cmd->name));
        }
    }
}

static void cmd_command(client *c)
{
    if (c->argc == 1) {
        reply_array(c, (long long)NCOMMANDS);
        for (size_t i = 0; i < NCOMMANDS; i++) reply_command_info(c, &commands[i]);
        return;
    }
    const resp_arg *sub = &c->argv[1];
    if (arg_eq(sub, "count") && c->argc == 2) {
        reply_int(c, (long long)NCOMMANDS);
    } else if (arg_eq(sub, "docs")) {
        if (c->argc == 2) {
            reply_map(c, (long long)NCOMMANDS);
            for (size_t i = 0; i < NCOMMANDS; i++) reply_command_doc(c, &commands[i]);
            return;
        }
        long long found = 0;
        for (size_t i = 2; i < c->argc; i++) found += command_lookup(&c->argv[i]) != NULL;
        reply_map(c, found);
        for (size_t i = 2; i < c->argc; i++) {
            const command *cmd = command_lookup(&c->argv[i]);
            if (cmd) reply_command_doc(c, cmd);
        }
    } else if (arg_eq(sub, "info")) {
        if (c->argc == 2) {
            reply_array(c, (long long)NCOMMANDS);
            for (size_t i = 0; i < NCOMMANDS; i++) reply_command_info(c, &commands[i]);
            return;
        }
        reply_array(c, (long long)c->argc - 2);
        for (size_t i = 2; i < c->argc; i++) {
            const command *cmd = command_lookup(&c->argv[i]);
            if (cmd)
                reply_command_info(c, cmd);
            else
                reply_nil(c);
        }
    } else if (arg_eq(sub, "getkeys")) {
        command_getkeys(c);
    } else if (arg_eq(sub, "list")) {
        command_list(c);
    } else if (arg_eq(sub, "help") && c->argc == 2) {
        static const char *const help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "HELP",
            "    Print this help.",
        };
        reply_array(c, (long long)(sizeof help / sizeof help[0]));
        for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) reply_status(c, help[i]);
    } else {
        char name[600];
        arg_printable(sub, name, sizeof name);
        reply_error(c, "ERR unknown subcommand '%s'. Try COMMAND HELP.", name);
    }
}

/* The reply of a command that may be pipelined behind owed write replies
 * (a write, a transaction command, anything inside MULTI) leaves in command
 * order: it is taken out of the output and queued as a ticket behind the
 * record it depends on (keyspace.h):
 *   - its own record, if it wrote one;
 *   - else, if it read the data, the last record proposed, whose commit
 *     makes every state it could have seen committed; a leader whose
 *     lease is not confirmed proposes an empty record for that, so that a
 *     deposed leader cannot answer from a stale state;
 *   - else (its reply is the same whatever the data) the client's last
 *     owed reply.
 * With nothing owed and nothing to wait for it stays in the output now. */
static void finish_pipelined(client *c, const command *cmd)
{
    node *n = c->n;
    int64_t lsn = c->cmd_lsn;
    int stateless = cmd && (cmd->flags & CMD_STATELESS);
    if (lsn < 0) { /* refused whole, whatever the data: at once if nothing is owed */
        client_out_rewind(c, c->reply_mark);
        reply_pending_full(c);
        lsn = 0;
        stateless = 1;
    }
    uint64_t wait = 0;
    if (lsn > 0) {
        wait = (uint64_t)lsn;
        c->last_write_lsn = wait;
    } else if (stateless) {
        if (c->owed == 0) return;
        wait = n->last_lsn;
    } else if (node_is_leader(n)) {
        char why[sizeof n->fence_reason + 64];
        if (node_read_refusal(n, why, sizeof why) && !n->fenced) {
            uint64_t noop = node_propose(n, WAL_OP_NOOP, NULL, 0, NULL, 0);
            wait = noop ? noop : n->last_lsn;
        } else {
            if (c->owed == 0 && n->last_lsn == n->applied_lsn) return;
            wait = n->last_lsn;
        }
    } else {
        assert(c->owed == 0); /* a follower takes no writes: nothing is owed */
        return;
    }
    if (wait <= n->applied_lsn && c->owed == 0) return;
    size_t len;
    const char *p = client_out_since(c, c->reply_mark, &len);
    if (node_add_ticket(n, c, wait, wait, p, len) < 0) {
        client_out_rewind(c, c->reply_mark);
        reply_error(c, "ERR out of memory queueing the reply: the write's outcome is unknown");
        return;
    }
    client_out_rewind(c, c->reply_mark);
}

static int arity_fits(const command *cmd, size_t argc)
{
    return (cmd->arity > 0 && argc == (size_t)cmd->arity) ||
           (cmd->arity < 0 && argc >= (size_t)-cmd->arity);
}

/* What obs_cmd_end needs of the table entry (obs.h). */
static unsigned obs_flags(const command *cmd)
{
    return ((cmd->cats & ACL_CAT_FAST) ? OBS_FAST : 0u) |
           ((cmd->cats & ACL_CAT_ADMIN) ? OBS_NO_MONITOR : 0u) |
           (cmd->fn == cmd_exec ? OBS_NO_SLOWLOG : 0u);
}

void command_call(client *c)
{
    const command *cmd = command_lookup(&c->argv[0]);
    assert(cmd && arity_fits(cmd, c->argc)); /* checked when queued */
    c->cmd_lsn = 0;
    obs_call oc;
    obs_cmd_begin(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0, &oc);
    cmd->fn(c);
    obs_cmd_end(c, &oc, obs_flags(cmd));
}

/* The checks of Redis's processCommand, in its order; 0 refused (replied). */
static int command_allowed(client *c, const command *cmd)
{
    if (!cmd) { /* Redis 7.0's text, bytes as sent (reply_error maps CR/LF to spaces) */
        char args[160];
        size_t o = 0;
        args[0] = 0;
        for (size_t i = 1; i < c->argc && o < 128; i++) {
            int room = (int)(128 - o);
            int l = (int)(c->argv[i].len < (size_t)room ? c->argv[i].len : (size_t)room);
            o += (size_t)snprintf(args + o, sizeof args - o, "'%.*s' ", l, c->argv[i].p);
            if (o >= sizeof args) o = sizeof args - 1;
        }
        int nl = (int)(c->argv[0].len < 128 ? c->argv[0].len : 128);
        reply_error(c, "ERR unknown command '%.*s', with args beginning with: %s", nl,
                    c->argv[0].p, args);
        return 0;
    }
    if (!arity_fits(cmd, c->argc)) {
        reply_error(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        return 0;
    }
    /* Then authentication and rights, in Redis's order (processCommand). */
    if (!acl_client_unrestricted(c)) { /* (skipped for +@all ~*: the hot path) */
        char aclname[160];
        size_t aclidx = acl_index(c, cmd, aclname, sizeof aclname);
        int first = cmd->first_key, last = cmd->last_key, step = cmd->step;
        long long nk;
        if ((cmd->flags & CMD_KEYNUM) && arg_ll(&c->argv[2], &nk) == 0 && nk > 0 &&
            (size_t)nk <= c->argc - 3) { /* its keys are checked like any command's */
            first = 3;
            last = 2 + (int)nk;
            step = 1;
        }
        if (acl_client_refuse(c, aclidx, aclname, cmd->flags & CMD_NO_AUTH, first, last, step))
            return 0;
    }
    if (c->monitor && (cmd->flags & (CMD_READ | CMD_WRITE))) {
        reply_error(c, "ERR Replica can't interact with the keyspace");
        return 0;
    }
    if (pubsub_active(c) && !(cmd->flags & CMD_PUBSUB)) {
        reply_error(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                       "QUIT / RESET are allowed in this context",
                    cmd->name);
        return 0;
    }
    return 1;
}

int command_exec(client *c)
{
    node *n = c->n;
    const command *cmd = command_lookup(&c->argv[0]);
    int in_multi = multi_active(c);
    int arity_ok = cmd && arity_fits(cmd, c->argc);
    /* Replies leave in command order. A write, a transaction command and
     * anything inside MULTI is pipelined: run now, its reply queued behind
     * the owed ones (finish_pipelined). Anything else (a read of the store,
     * which must see this client's writes) waits until the owed replies
     * are out, and so does a write the node would refuse now. */
    int plain_ctl = arity_ok && (cmd->flags & CMD_NOQUEUE) && !(cmd->flags & CMD_TXN); /* QUIT */
    int pipelined = (in_multi && !plain_ctl) || (arity_ok && (cmd->flags & (CMD_WRITE | CMD_TXN)));
    /* A key read behind owed writes (SET k v; GET k pipelined) runs now too,
     * on a leader that may serve reads: it reads through the proposed layer
     * (so it sees this client's writes, and everybody's newest) and its
     * reply waits, as a write's does, for the last record proposed, so it
     * never shows a state the log could still lose. Without this, every
     * such pair cost one full commit round trip. */
    int lookup = !in_multi && arity_ok && (cmd->flags & CMD_LOOKUP) && c->owed > 0 &&
                 node_is_leader(n) && !node_read_refusal(n, NULL, 0);
    pipelined |= lookup;
    if (c->owed > 0 &&
        (!pipelined || (arity_ok && !in_multi && (cmd->flags & CMD_WRITE) &&
                        write_refusal(n) != WRITE_OK)))
        return CMD_DEFERRED;
    n->stats.commands_processed++;
    c->reply_mark = client_out_mark(c);
    c->cmd_lsn = 0;
    if (cmd && cmd->fn == cmd_exec && !arity_fits(cmd, c->argc)) {
        /* Redis's execCommandAbort, even outside MULTI. */
        multi_end(c);
        reply_error(c, "EXECABORT Transaction discarded because of: wrong number of arguments "
                       "for 'exec' command");
        finish_pipelined(c, NULL);
        return CMD_DONE;
    }
    if (!command_allowed(c, cmd)) {
        if (cmd) obs_cmd_rejected(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0);
        if (in_multi) multi_flag_error(c);
        if (pipelined) finish_pipelined(c, NULL);
        return CMD_DONE;
    }
    assert(cmd != NULL); /* command_allowed refuses an unknown command */
    /* --maxmemory, where Redis's processCommand checks it: a command that
     * may grow memory, anything queued in MULTI, and an EXEC holding such a
     * command run only if there is room, after evicting by the policy. */
    if (n->cfg.maxmemory &&
        ((cmd->flags & CMD_DENYOOM) || (in_multi && !(cmd->flags & CMD_NOQUEUE)) ||
         (cmd->fn == cmd_exec && multi_has_denyoom(c))) &&
        !node_mem_admit(n)) {
        if (cmd->fn == cmd_exec) {
            multi_end(c);
            reply_error(c, "EXECABORT Transaction discarded because of: OOM command not allowed "
                           "when used memory > 'maxmemory'.");
        } else {
            if (in_multi) multi_flag_error(c);
            reply_error(c, "OOM command not allowed when used memory > 'maxmemory'.");
        }
        if (pipelined) finish_pipelined(c, NULL);
        return CMD_DONE;
    }
    if (in_multi && !(cmd->flags & CMD_NOQUEUE)) {
        /* Queued; a write the node cannot take now fails the EXEC. */
        if (cmd->flags & CMD_NOMULTI) {
            reply_error(c, "ERR Command not allowed inside a transaction");
            obs_cmd_rejected(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0);
            multi_flag_error(c);
        } else if ((cmd->flags & CMD_WRITE) && !command_write_allowed(c)) {
            obs_cmd_rejected(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0);
            multi_flag_error(c);
        } else
            multi_queue(c, (cmd->flags & CMD_WRITE) != 0, (cmd->flags & CMD_DENYOOM) != 0);
        finish_pipelined(c, &(command){.flags = CMD_STATELESS});
        return CMD_DONE;
    }
    if ((cmd->flags & CMD_READ) && !(cmd->flags & CMD_WRITE) && !lookup) {
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
                n->stats.commands_processed--;
                client_block(c, WAIT_READ, n->cfg.election_timeout_ms);
                return CMD_DEFERRED;
            }
            c->read_waited = 0;
            reply_error(c, "%s", why);
            obs_cmd_rejected(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0);
            return CMD_DONE;
        }
        c->read_waited = 0;
    }
    if (cmd->flags & CMD_WRITE) {
        if (write_waits_for_quorum(c)) {
            n->stats.commands_processed--;
            return CMD_DEFERRED;
        }
        c->write_waited = 0;
    }
    if ((cmd->flags & CMD_WRITE) && !command_write_allowed(c)) {
        client_note_cmd(c, cmd->name);
        obs_cmd_rejected(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0);
        return CMD_DONE;
    }
    obs_call oc; /* timed from here to the reply queued (obs.h) */
    obs_cmd_begin(c, cmd->name, (cmd->flags & CMD_CONTAINER) != 0, &oc);
    if (cmd->flags & CMD_WRITE) {
        ks_unit_begin(n);
        cmd->fn(c);
        c->cmd_lsn = ks_unit_commit(n);
    } else if (lookup) {
        n->ks.read_proposed = 1;
        cmd->fn(c);
        n->ks.read_proposed = 0;
    } else {
        cmd->fn(c);
    }
    if (pipelined) finish_pipelined(c, cmd);
    obs_cmd_end(c, &oc, obs_flags(cmd));
    return CMD_DONE;
}
