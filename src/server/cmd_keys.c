/* cmd_keys.c -- the keyspace and expiry commands of Redis 7.0: DEL,
 * EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME, COPY, FLUSHDB/FLUSHALL,
 * SELECT, the EXPIRE family, TTL and friends, PERSIST.
 *
 * Expiry times are absolute Unix milliseconds, written into the key's
 * record by the leader (keyspace.h): EXPIRE rewrites the key's whole state
 * with the new time; an expiry already past deletes the key, as in Redis. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/glob.h"
#include "server/client.h"
#include "server/cmd.h"
#include "server/node.h"

#define SCAN_COUNT_DEFAULT 10
#define SCAN_BATCH_MAX 100000 /* keys one SCAN call may gather (COUNT is a hint) */
#define RANDOMKEY_TRIES 100   /* expired keys skipped before RANDOMKEY gives up */

static void reply_not_int(client *c)
{
    reply_error(c, "ERR value is not an integer or out of range");
}

/* ---- DEL, EXISTS, TOUCH, TYPE ---- */

void cmd_del_keys(client *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++)
        if (!cmd_key_ok(c, &c->argv[i])) return;
    for (size_t i = 1; i < c->argc; i++) {
        ks_val v;
        ks_lookup(c->n, c->db, c->argv[i].p, (uint32_t)c->argv[i].len, &v);
        if (!v.exists && !v.expired) continue; /* nothing to delete: no record */
        n += v.exists;
        if (cmd_del(c, c->db, &c->argv[i]) < 0) return;
    }
    reply_int(c, n);
}

void cmd_exists(client *c)
{
    long long n = 0;
    for (size_t i = 1; i < c->argc; i++) {
        ks_val v;
        cmd_lookup(c, &c->argv[i], &v);
        n += v.exists;
    }
    reply_int(c, n);
}

void cmd_touch(client *c)
{
    cmd_exists(c); /* no access times are kept: TOUCH counts, as Redis replies */
}

void cmd_type(client *c)
{
    ks_val v;
    cmd_lookup(c, &c->argv[1], &v);
    reply_status(c, v.exists ? "string" : "none");
}

/* ---- KEYS, SCAN, RANDOMKEY ---- */

typedef struct key_list {
    const uint8_t **key;
    uint32_t *klen;
    size_t n, cap;
    int oom;
    const resp_arg *pattern; /* NULL: all */
    int64_t now;
} key_list;

static int key_list_add(void *ctx, const kv_entry_view *e)
{
    key_list *l = ctx;
    if (e->tombstone || (e->expire_ms && e->expire_ms <= l->now)) return 0;
    if (l->pattern && !rkv_glob_match(l->pattern->p, l->pattern->len, (const char *)e->key,
                                      e->klen))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        const uint8_t **k = realloc(l->key, cap * sizeof *k);
        if (k) l->key = k;
        uint32_t *kl = k ? realloc(l->klen, cap * sizeof *kl) : NULL;
        if (kl) l->klen = kl;
        if (!k || !kl) {
            l->oom = 1;
            return 1;
        }
        l->cap = cap;
    }
    l->key[l->n] = e->key;
    l->klen[l->n++] = e->klen;
    return 0;
}

static void key_list_reply(client *c, key_list *l)
{
    reply_array(c, (long long)l->n);
    for (size_t i = 0; i < l->n; i++) reply_bulk(c, l->key[i], l->klen[i]);
    free(l->key);
    free(l->klen);
}

static int match_all(const resp_arg *p)
{
    return p->len == 1 && p->p[0] == '*';
}

void cmd_keys(client *c)
{
    key_list l = {.pattern = match_all(&c->argv[1]) ? NULL : &c->argv[1], .now = ks_now_ms()};
    /* Every key of this database (inside EXEC, the transaction's writes too). */
    ks_walk(c->n, c->db, key_list_add, &l);
    if (l.oom) {
        free(l.key);
        free(l.klen);
        reply_error(c, "ERR out of memory listing keys");
        return;
    }
    key_list_reply(c, &l);
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
void cmd_scan(client *c)
{
    /* Redis's parseScanCursorOrReply: strtoul, no leading space, "" is 0. */
    unsigned long long cursor;
    char cbuf[32], *end;
    const resp_arg *ca = &c->argv[1];
    if (ca->len >= sizeof cbuf) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    memcpy(cbuf, ca->p, ca->len);
    cbuf[ca->len] = 0;
    errno = 0;
    cursor = strtoull(cbuf, &end, 10);
    if (isspace((unsigned char)cbuf[0]) || *end || errno == ERANGE) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    long long count = SCAN_COUNT_DEFAULT;
    const resp_arg *pattern = NULL;
    int type_none = 0;
    for (size_t j = 2; j < c->argc; j += 2) {
        const resp_arg *a = &c->argv[j];
        if (j + 1 >= c->argc) {
            reply_error(c, "ERR syntax error");
            return;
        }
        if (arg_eq(a, "count")) {
            if (arg_ll(&c->argv[j + 1], &count) < 0) {
                reply_not_int(c);
                return;
            }
            if (count < 1) {
                reply_error(c, "ERR syntax error");
                return;
            }
        } else if (arg_eq(a, "match")) {
            pattern = match_all(&c->argv[j + 1]) ? NULL : &c->argv[j + 1];
        } else if (arg_eq(a, "type")) {
            type_none = !arg_eq(&c->argv[j + 1], "string"); /* rkv holds strings only */
        } else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    key_list l = {.pattern = pattern, .now = ks_now_ms()};
    if (count > SCAN_BATCH_MAX) count = SCAN_BATCH_MAX;
    long long iters = count * 10; /* buckets visited at most, as Redis */
    do {
        cursor = kv_scan(c->n->kv, c->db, cursor, key_list_add, &l);
    } while (cursor && iters-- > 0 && (long long)l.n < count && !l.oom);
    if (l.oom) {
        free(l.key);
        free(l.klen);
        reply_error(c, "ERR out of memory scanning keys");
        return;
    }
    char cur[32];
    int cl = snprintf(cur, sizeof cur, "%llu", cursor);
    reply_array(c, 2);
    reply_bulk(c, cur, (size_t)cl);
    if (type_none) l.n = 0;
    key_list_reply(c, &l);
}

void cmd_randomkey(client *c)
{
    kv_entry_view e;
    int64_t now = ks_now_ms();
    uint64_t rnd = (uint64_t)now * 0x9E3779B97F4A7C15ull ^ (uint64_t)c->id ^ c->n->stats.commands_processed;
    for (int i = 0; i < RANDOMKEY_TRIES; i++) {
        if (!kv_random(c->n->kv, c->db, rnd + (uint64_t)i * 0x2545F4914F6CDD1Dull, &e)) break;
        if (!e.expire_ms || e.expire_ms > now) {
            reply_bulk(c, e.key, e.klen);
            return;
        }
    }
    reply_nil(c);
}

/* ---- RENAME, RENAMENX, COPY ---- */

static void rename_generic(client *c, int nx)
{
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    if (!cmd_key_ok(c, src) || !cmd_key_ok(c, dst)) return;
    ks_val v;
    cmd_lookup(c, src, &v);
    if (!v.exists) {
        reply_error(c, "ERR no such key");
        return;
    }
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        if (nx)
            reply_int(c, 0);
        else
            reply_status(c, "OK");
        return;
    }
    if (nx) {
        ks_val d;
        cmd_lookup(c, dst, &d);
        if (d.exists) {
            reply_int(c, 0);
            return;
        }
    }
    /* SRC's value may be the unit's own: writing DST does not move it (a
     * new entry), and it is read before SRC is deleted. */
    if (cmd_put(c, c->db, dst, v.val, v.vlen, v.expire_ms) == 0 && cmd_del(c, c->db, src) == 0) {
        if (nx)
            reply_int(c, 1);
        else
            reply_status(c, "OK");
    }
}

void cmd_rename(client *c)
{
    rename_generic(c, 0);
}

void cmd_renamenx(client *c)
{
    rename_generic(c, 1);
}

/* The database argument of SELECT, COPY DB and MOVE: -1 replied. */
static long long db_arg(client *c, const resp_arg *a)
{
    long long db;
    if (arg_ll(a, &db) < 0) {
        reply_not_int(c);
        return -1;
    }
    if (db < 0 || db >= (long long)c->n->cfg.databases) {
        reply_error(c, "ERR DB index is out of range");
        return -1;
    }
    return db;
}

/* COPY source destination [DB destination-db] [REPLACE] */
void cmd_copy(client *c)
{
    const resp_arg *src = &c->argv[1], *dst = &c->argv[2];
    long long db = c->db;
    int replace = 0;
    for (size_t j = 3; j < c->argc; j++) {
        if (arg_eq(&c->argv[j], "replace")) {
            replace = 1;
        } else if (arg_eq(&c->argv[j], "db") && j + 1 < c->argc) {
            if ((db = db_arg(c, &c->argv[++j])) < 0) return;
        } else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    if (!cmd_key_ok(c, src) || !cmd_key_ok(c, dst)) return;
    if ((unsigned)db == c->db && src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    ks_val v, d;
    cmd_lookup(c, src, &v);
    if (!v.exists) {
        reply_int(c, 0);
        return;
    }
    ks_lookup(c->n, (unsigned)db, dst->p, (uint32_t)dst->len, &d);
    if (d.exists && !replace) {
        reply_int(c, 0);
        return;
    }
    if (cmd_put(c, (unsigned)db, dst, v.val, v.vlen, v.expire_ms) == 0) reply_int(c, 1);
}

/* ---- databases ---- */

void cmd_dbsize(client *c)
{
    reply_int(c, (long long)ks_dbsize(c->n, c->db));
}

/* FLUSHDB / FLUSHALL [ASYNC|SYNC]: both are immediate here (the store is
 * emptied when the record applies). */
static int flush_opt(client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_eq(&c->argv[1], "async") &&
                        !arg_eq(&c->argv[1], "sync"))) {
        reply_error(c, "ERR syntax error");
        return -1;
    }
    return 0;
}

void cmd_flushdb(client *c)
{
    if (flush_opt(c) < 0) return;
    if (ks_flushdb(c->n, c->db) < 0) {
        cmd_reply_unit_full(c);
        return;
    }
    reply_status(c, "OK");
}

void cmd_flushall(client *c)
{
    if (flush_opt(c) < 0) return;
    if (ks_flushall(c->n) < 0) {
        cmd_reply_unit_full(c);
        return;
    }
    reply_status(c, "OK");
}

void cmd_select(client *c)
{
    long long db = db_arg(c, &c->argv[1]);
    if (db < 0) return;
    c->db = (unsigned)db;
    reply_status(c, "OK");
}

/* ---- expiry ---- */

enum { EXF_NX = 1, EXF_XX = 2, EXF_GT = 4, EXF_LT = 8 };

/* Redis 7.0 expireGenericCommand: BASE added (relative) or not, UNIT_S. */
static void expire_generic(client *c, int relative, int unit_s, const char *name)
{
    int flags = 0;
    for (size_t j = 3; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        if (arg_eq(a, "nx"))
            flags |= EXF_NX;
        else if (arg_eq(a, "xx"))
            flags |= EXF_XX;
        else if (arg_eq(a, "gt"))
            flags |= EXF_GT;
        else if (arg_eq(a, "lt"))
            flags |= EXF_LT;
        else {
            char opt[600];
            arg_printable(a, opt, sizeof opt);
            reply_error(c, "ERR Unsupported option %s", opt);
            return;
        }
    }
    if ((flags & EXF_NX) && (flags & (EXF_XX | EXF_GT | EXF_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXF_GT) && (flags & EXF_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (arg_ll(&c->argv[2], &when) < 0) {
        reply_not_int(c);
        return;
    }
    if (unit_s) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_error(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when *= 1000;
    }
    long long base = relative ? ks_now_ms() : 0;
    if (when > LLONG_MAX - base) {
        reply_error(c, "ERR invalid expire time in '%s' command", name);
        return;
    }
    when += base;
    const resp_arg *k = &c->argv[1];
    if (!cmd_key_ok(c, k)) return;
    ks_val v;
    cmd_lookup(c, k, &v);
    if (!v.exists) {
        reply_int(c, 0);
        return;
    }
    long long cur = v.expire_ms ? v.expire_ms : -1;
    if (((flags & EXF_NX) && cur != -1) || ((flags & EXF_XX) && cur == -1) ||
        ((flags & EXF_GT) && (when <= cur || cur == -1)) ||
        ((flags & EXF_LT) && cur != -1 && when >= cur)) {
        reply_int(c, 0);
        return;
    }
    int rc = when <= ks_now_ms() ? cmd_del(c, c->db, k)
                                 : cmd_put(c, c->db, k, v.val, v.vlen, when);
    if (rc == 0) reply_int(c, 1);
}

void cmd_expire(client *c)
{
    expire_generic(c, 1, 1, "expire");
}

void cmd_pexpire(client *c)
{
    expire_generic(c, 1, 0, "pexpire");
}

void cmd_expireat(client *c)
{
    expire_generic(c, 0, 1, "expireat");
}

void cmd_pexpireat(client *c)
{
    expire_generic(c, 0, 0, "pexpireat");
}

/* Redis 7.0 ttlGenericCommand. */
static void ttl_generic(client *c, int output_ms, int output_abs)
{
    ks_val v;
    cmd_lookup(c, &c->argv[1], &v);
    if (!v.exists) {
        reply_int(c, -2);
        return;
    }
    if (!v.expire_ms) {
        reply_int(c, -1);
        return;
    }
    long long ttl = output_abs ? v.expire_ms : v.expire_ms - ks_now_ms();
    if (ttl < 0) ttl = 0;
    reply_int(c, output_ms ? ttl : (ttl + 500) / 1000);
}

void cmd_ttl(client *c)
{
    ttl_generic(c, 0, 0);
}

void cmd_pttl(client *c)
{
    ttl_generic(c, 1, 0);
}

void cmd_expiretime(client *c)
{
    ttl_generic(c, 0, 1);
}

void cmd_pexpiretime(client *c)
{
    ttl_generic(c, 1, 1);
}

void cmd_persist(client *c)
{
    const resp_arg *k = &c->argv[1];
    ks_val v;
    cmd_lookup(c, k, &v);
    if (!v.exists || !v.expire_ms) {
        reply_int(c, 0);
        return;
    }
    if (cmd_put(c, c->db, k, v.val, v.vlen, 0) == 0) reply_int(c, 1);
}
