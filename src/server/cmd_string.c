/* cmd_string.c -- the string commands of Redis 7.0 (SET and its options,
 * GET*, MGET/MSET, APPEND, ranges, counters) with Redis's replies and
 * error texts.
 *
 * Every write goes into the keyspace unit (keyspace.h) and becomes one
 * record when the command ends; a command's reply is computed here, from the
 * newest state (proposed writes included), and sent by commands.c once its
 * record commits. Every record carries the key's whole new state (value
 * and expiry), never a delta such as "append this", so records stay
 * idempotent and last-writer-wins keeps its meaning (kv_store.h). */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/client.h"
#include "server/cmd.h"
#include "server/node.h"

#define STR_LD_MAX 5120 /* Redis's MAX_LONG_DOUBLE_CHARS */
#define LCS_CELLS_MAX (64u * 1024u * 1024u) /* LCS's table, cells (uint32) */

/* ---- shared helpers (cmd.h) ---- */

int cmd_key_ok(client *c, const resp_arg *k)
{
    assert(k != NULL);
    if (k->len > c->n->cfg.key_max) {
        reply_error(c, "ERR key too large (%zu bytes, max-key-bytes is %u)", k->len,
                    c->n->cfg.key_max);
        return 0;
    }
    return 1;
}

int cmd_val_ok(client *c, size_t len)
{
    if (len > c->n->cfg.value_max) {
        reply_error(c, "ERR value too large (%zu bytes, max-value-bytes is %u)", len,
                    c->n->cfg.value_max);
        return 0;
    }
    return 1;
}

/* APPEND / SETRANGE growing a string past the limit: Redis's text (its
 * limit is proto-max-bulk-len; rkv's is --max-value-bytes). */
static int str_grow_ok(client *c, unsigned long long len)
{
    if (len > c->n->cfg.value_max) {
        reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return 0;
    }
    return 1;
}

void cmd_lookup(client *c, const resp_arg *k, ks_val *v)
{
    assert(k != NULL);
    ks_lookup(c->n, c->db, k->p, (uint32_t)k->len, v);
    if (v->expired && !c->n->ks.unit_open) ks_expire_key(c->n, c->db, k->p, (uint32_t)k->len);
    /* INFO keyspace_hits / misses: the lookups of reads, as Redis's
     * lookupKeyRead (a write's lookups run with the unit open). */
    if (!c->n->ks.unit_open) {
        if (v->exists)
            c->n->obs.keyspace_hits++;
        else
            c->n->obs.keyspace_misses++;
    }
}

void cmd_reply_unit_full(client *c)
{
    reply_error(c, "ERR the writes of one command or transaction exceed one log record "
                   "(16 MiB); split it");
}

/* A write that did not fit: whatever the command replied so far goes, and
 * the error is its reply. */
static int cmd_write_failed(client *c)
{
    client_out_rewind(c, c->reply_mark);
    cmd_reply_unit_full(c);
    return -1;
}

int cmd_put(client *c, unsigned db, const resp_arg *k, const void *val, size_t vlen, int64_t exp)
{
    if (ks_put(c->n, db, k->p, (uint32_t)k->len, val, (uint32_t)vlen, exp) < 0)
        return cmd_write_failed(c);
    return 0;
}

int cmd_del(client *c, unsigned db, const resp_arg *k)
{
    if (ks_del(c->n, db, k->p, (uint32_t)k->len) < 0) return cmd_write_failed(c);
    return 0;
}

int cmd_expire_opt(const resp_arg *a)
{
    if (arg_eq(a, "ex")) return EXP_EX;
    if (arg_eq(a, "px")) return EXP_PX;
    if (arg_eq(a, "exat")) return EXP_EXAT;
    if (arg_eq(a, "pxat")) return EXP_PXAT;
    return 0;
}

/* Redis 7.0 getExpireMillisecondsOrReply. */
int cmd_expire_arg(client *c, const resp_arg *a, int unit_s, int abs, const char *name,
                   int64_t *out)
{
    long long ms;
    if (arg_ll(a, &ms) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return -1;
    }
    if (ms <= 0 || (unit_s && ms > LLONG_MAX / 1000)) {
        reply_error(c, "ERR invalid expire time in '%s' command", name);
        return -1;
    }
    if (unit_s) ms *= 1000;
    if (!abs) {
        long long now = ks_now_ms();
        if (ms > LLONG_MAX - now) {
            reply_error(c, "ERR invalid expire time in '%s' command", name);
            return -1;
        }
        ms += now;
    }
    *out = ms;
    return 0;
}

/* Stores VAL under K with expiry EXP (0: none); an expiry already past
 * deletes the key instead, as Redis does. */
static int str_store(client *c, const resp_arg *k, const void *val, size_t vlen, int64_t exp)
{
    if (exp && exp <= ks_now_ms()) return cmd_del(c, c->db, k);
    return cmd_put(c, c->db, k, val, vlen, exp);
}

/* ---- SET and friends ---- */

enum { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8, SET_EXP = 16 };

/* Redis 7.0 parseExtendedStringArgumentsOrReply for SET (from argv[3]). */
static int set_parse(client *c, int *flags, int *exp_kind, const resp_arg **exp_arg)
{
    for (size_t j = 3; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        int more = j + 1 < c->argc, k;
        if (arg_eq(a, "nx") && !(*flags & SET_XX)) {
            *flags |= SET_NX;
        } else if (arg_eq(a, "xx") && !(*flags & SET_NX)) {
            *flags |= SET_XX;
        } else if (arg_eq(a, "get")) {
            *flags |= SET_GET;
        } else if (arg_eq(a, "keepttl") && !(*flags & SET_EXP)) {
            *flags |= SET_KEEPTTL;
        } else if ((k = cmd_expire_opt(a)) && !(*flags & SET_KEEPTTL) &&
                   (!(*flags & SET_EXP) || *exp_kind == k) && more) {
            /* The same option again is taken, the last one wins (Redis 7.0). */
            *flags |= SET_EXP;
            *exp_kind = k;
            *exp_arg = &c->argv[++j];
        } else {
            reply_error(c, "ERR syntax error");
            return -1;
        }
    }
    return 0;
}

/* The generic SET: FLAGS, an absolute expiry EXP (0: none), the reply on
 * success OK_REPLY (NULL: +OK) and on a condition not met (NULL: nil). */
static void set_generic(client *c, const resp_arg *k, const resp_arg *v, int flags, int64_t exp)
{
    if (!cmd_key_ok(c, k) || !cmd_val_ok(c, v->len)) return;
    if (!(flags & (SET_NX | SET_XX | SET_GET | SET_KEEPTTL))) { /* a blind write: no lookup */
        if (str_store(c, k, v->p, v->len, exp) == 0) reply_status(c, "OK");
        return;
    }
    ks_val old;
    cmd_lookup(c, k, &old);
    int do_set = !((flags & SET_NX) && old.exists) && !((flags & SET_XX) && !old.exists);
    if (do_set) {
        int64_t keep = (flags & SET_KEEPTTL) && old.exists ? old.expire_ms : 0;
        /* The reply may quote the old value: copy it before the unit changes. */
        if (flags & SET_GET) {
            if (old.exists)
                reply_bulk(c, old.val, old.vlen);
            else
                reply_nil(c);
        }
        if (str_store(c, k, v->p, v->len, exp ? exp : keep) < 0) return;
        if (!(flags & SET_GET)) reply_status(c, "OK");
        return;
    }
    if (flags & SET_GET) {
        if (old.exists)
            reply_bulk(c, old.val, old.vlen);
        else
            reply_nil(c);
    } else {
        reply_nil(c);
    }
}

void cmd_set(client *c)
{
    int flags = 0, kind = 0;
    const resp_arg *ea = NULL;
    if (set_parse(c, &flags, &kind, &ea) < 0) return;
    int64_t exp = 0;
    if (ea && cmd_expire_arg(c, ea, kind == EXP_EX || kind == EXP_EXAT,
                             kind == EXP_EXAT || kind == EXP_PXAT, "set", &exp) < 0)
        return;
    set_generic(c, &c->argv[1], &c->argv[2], flags, exp);
}

void cmd_setnx(client *c)
{
    const resp_arg *k = &c->argv[1], *v = &c->argv[2];
    if (!cmd_key_ok(c, k) || !cmd_val_ok(c, v->len)) return;
    ks_val old;
    cmd_lookup(c, k, &old);
    if (old.exists) {
        reply_int(c, 0);
        return;
    }
    if (cmd_put(c, c->db, k, v->p, v->len, 0) == 0) reply_int(c, 1);
}

static void setex_generic(client *c, int unit_s, const char *name)
{
    int64_t exp;
    if (cmd_expire_arg(c, &c->argv[2], unit_s, 0, name, &exp) < 0) return;
    const resp_arg *k = &c->argv[1], *v = &c->argv[3];
    if (!cmd_key_ok(c, k) || !cmd_val_ok(c, v->len)) return;
    if (str_store(c, k, v->p, v->len, exp) == 0) reply_status(c, "OK");
}

void cmd_setex(client *c)
{
    setex_generic(c, 1, "setex");
}

void cmd_psetex(client *c)
{
    setex_generic(c, 0, "psetex");
}

void cmd_getset(client *c)
{
    set_generic(c, &c->argv[1], &c->argv[2], SET_GET, 0);
}

void cmd_getdel(client *c)
{
    const resp_arg *k = &c->argv[1];
    ks_val old;
    cmd_lookup(c, k, &old);
    if (!old.exists) {
        reply_nil(c);
        return;
    }
    reply_bulk(c, old.val, old.vlen);
    (void)cmd_del(c, c->db, k); /* a failure replaces the reply */
}

/* GETEX key [EX s | PX ms | EXAT ts | PXAT ts | PERSIST] */
void cmd_getex(client *c)
{
    int kind = 0, persist = 0;
    const resp_arg *ea = NULL;
    for (size_t j = 2; j < c->argc; j++) {
        int k = cmd_expire_opt(&c->argv[j]);
        if (k && (!kind || kind == k) && !persist && j + 1 < c->argc) {
            kind = k;
            ea = &c->argv[++j];
        } else if (arg_eq(&c->argv[j], "persist") && !kind) {
            persist = 1;
        } else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    int64_t exp = 0;
    if (ea && cmd_expire_arg(c, ea, kind == EXP_EX || kind == EXP_EXAT,
                             kind == EXP_EXAT || kind == EXP_PXAT, "getex", &exp) < 0)
        return;
    const resp_arg *k = &c->argv[1];
    ks_val old;
    cmd_lookup(c, k, &old);
    if (!old.exists) {
        reply_nil(c);
        return;
    }
    reply_bulk(c, old.val, old.vlen);
    if (ea)
        (void)str_store(c, k, old.val, old.vlen, exp);
    else if (persist && old.expire_ms)
        (void)cmd_put(c, c->db, k, old.val, old.vlen, 0);
}

void cmd_get(client *c)
{
    ks_val v;
    cmd_lookup(c, &c->argv[1], &v);
    if (v.exists)
        reply_bulk(c, v.val, v.vlen);
    else
        reply_nil(c);
}

void cmd_mget(client *c)
{
    reply_array(c, (long long)c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        ks_val v;
        cmd_lookup(c, &c->argv[i], &v);
        if (v.exists)
            reply_bulk(c, v.val, v.vlen);
        else
            reply_nil(c);
    }
}

/* Checks MSET / MSETNX's pairs and that they fit one record. */
static int mset_check(client *c, const char *name)
{
    if (c->argc % 2 == 0) {
        reply_error(c, "ERR wrong number of arguments for '%s' command", name);
        return -1;
    }
    size_t bytes = 0;
    for (size_t i = 1; i < c->argc; i += 2) {
        if (!cmd_key_ok(c, &c->argv[i]) || !cmd_val_ok(c, c->argv[i + 1].len)) return -1;
        bytes += ks_op_bytes((uint32_t)c->argv[i].len, (uint32_t)c->argv[i + 1].len, 0);
    }
    if (c->argc > 3 && !ks_unit_fits(c->n, bytes)) {
        cmd_reply_unit_full(c);
        return -1;
    }
    return 0;
}

static int mset_all(client *c)
{
    for (size_t i = 1; i < c->argc; i += 2)
        if (cmd_put(c, c->db, &c->argv[i], c->argv[i + 1].p, c->argv[i + 1].len, 0) < 0)
            return -1;
    return 0;
}

void cmd_mset(client *c)
{
    if (mset_check(c, "mset") < 0) return;
    if (mset_all(c) == 0) reply_status(c, "OK");
}

void cmd_msetnx(client *c)
{
    if (mset_check(c, "msetnx") < 0) return;
    for (size_t i = 1; i < c->argc; i += 2) {
        ks_val v;
        cmd_lookup(c, &c->argv[i], &v);
        if (v.exists) {
            reply_int(c, 0);
            return;
        }
    }
    if (mset_all(c) == 0) reply_int(c, 1);
}

/* ---- APPEND, ranges ---- */

/* Writes OLD's value with V's bytes put at OFF (zero-padded to TOTAL
 * bytes), keeping the expiry, and answers the new length. */
static void str_splice(client *c, const resp_arg *k, const ks_val *old, size_t off,
                       const resp_arg *v, size_t total)
{
    size_t have = old->exists ? old->vlen : 0;
    char *buf = calloc(1, total ? total : 1);
    if (!buf) {
        reply_error(c, "ERR out of memory");
        return;
    }
    if (have) memcpy(buf, old->val, have);
    memcpy(buf + off, v->p, v->len);
    if (cmd_put(c, c->db, k, buf, total, old->exists ? old->expire_ms : 0) == 0)
        reply_int(c, (long long)total);
    free(buf);
}

void cmd_append(client *c)
{
    const resp_arg *k = &c->argv[1], *add = &c->argv[2];
    if (!cmd_key_ok(c, k)) return;
    ks_val old;
    cmd_lookup(c, k, &old);
    size_t have = old.exists ? old.vlen : 0, total = have + add->len;
    if (!str_grow_ok(c, total)) return;
    str_splice(c, k, &old, have, add, total);
}

void cmd_strlen(client *c)
{
    ks_val v;
    cmd_lookup(c, &c->argv[1], &v);
    reply_int(c, v.exists ? (long long)v.vlen : 0);
}

void cmd_getrange(client *c)
{
    long long start, end;
    if (arg_ll(&c->argv[2], &start) < 0 || arg_ll(&c->argv[3], &end) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    ks_val v;
    cmd_lookup(c, &c->argv[1], &v);
    long long len = v.exists ? (long long)v.vlen : 0;
    /* Redis 7.0 getrangeCommand, step for step. */
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) {
        reply_bulk(c, "", 0);
        return;
    }
    reply_bulk(c, v.val + start, (size_t)(end - start + 1));
}

void cmd_setrange(client *c)
{
    const resp_arg *k = &c->argv[1], *v = &c->argv[3];
    long long off;
    if (arg_ll(&c->argv[2], &off) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    if (off < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    if (!cmd_key_ok(c, k)) return;
    ks_val old;
    cmd_lookup(c, k, &old);
    size_t have = old.exists ? old.vlen : 0;
    if (v->len == 0) { /* nothing to write: the length as it is */
        reply_int(c, (long long)have);
        return;
    }
    if (!str_grow_ok(c, (unsigned long long)off + v->len)) return;
    size_t total = (size_t)off + v->len > have ? (size_t)off + v->len : have;
    str_splice(c, k, &old, (size_t)off, v, total);
}

/* ---- counters ---- */

/* The key's value as an integer, Redis's way: 0 when absent. */
static int counter_value(client *c, const ks_val *v, long long *out)
{
    if (!v->exists) {
        *out = 0;
        return 0;
    }
    resp_arg a = {(const char *)v->val, v->vlen};
    if (arg_ll(&a, out) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return -1;
    }
    return 0;
}

static void incr_generic(client *c, long long by)
{
    const resp_arg *k = &c->argv[1];
    if (!cmd_key_ok(c, k)) return;
    ks_val v;
    long long cur;
    cmd_lookup(c, k, &v);
    if (counter_value(c, &v, &cur) < 0) return;
    if ((by < 0 && cur < 0 && by < LLONG_MIN - cur) || (by > 0 && cur > 0 && by > LLONG_MAX - cur)) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    long long nv = cur + by;
    char buf[32];
    int l = snprintf(buf, sizeof buf, "%lld", nv);
    if (cmd_put(c, c->db, k, buf, (size_t)l, v.exists ? v.expire_ms : 0) == 0) reply_int(c, nv);
}

void cmd_incr(client *c)
{
    incr_generic(c, 1);
}

void cmd_decr(client *c)
{
    incr_generic(c, -1);
}

void cmd_incrby(client *c)
{
    long long by;
    if (arg_ll(&c->argv[2], &by) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    incr_generic(c, by);
}

void cmd_decrby(client *c)
{
    long long by;
    if (arg_ll(&c->argv[2], &by) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    if (by == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

/* Redis's ld2string(LD_STR_HUMAN): %.17Lf without trailing zeros. */
static int ld_format(long double v, char *buf, size_t len)
{
    int l = snprintf(buf, len, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > len) return -1;
    if (strchr(buf, '.')) {
        char *p = buf + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') { /* -0 prints as 0 */
        buf[0] = '0';
        l = 1;
    }
    buf[l] = 0;
    return l;
}

void cmd_incrbyfloat(client *c)
{
    const resp_arg *k = &c->argv[1];
    long double by, cur = 0;
    if (!cmd_key_ok(c, k)) return;
    ks_val v;
    cmd_lookup(c, k, &v);
    if (v.exists) {
        resp_arg a = {(const char *)v.val, v.vlen};
        if (arg_ld(&a, &cur) < 0) {
            reply_error(c, "ERR value is not a valid float");
            return;
        }
    }
    if (arg_ld(&c->argv[2], &by) < 0) {
        reply_error(c, "ERR value is not a valid float");
        return;
    }
    long double nv = cur + by;
    if (isnan(nv) || isinf(nv)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[STR_LD_MAX + 32];
    int l = ld_format(nv, buf, sizeof buf);
    if (l < 0) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    if (cmd_put(c, c->db, k, buf, (size_t)l, v.exists ? v.expire_ms : 0) == 0)
        reply_bulk(c, buf, (size_t)l);
}

/* ---- LCS ---- */

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] (Redis 7.0). */
void cmd_lcs(client *c)
{
    int getlen = 0, getidx = 0, withlen = 0;
    long long minlen = 0;
    for (size_t j = 3; j < c->argc; j++) {
        const resp_arg *a = &c->argv[j];
        if (arg_eq(a, "idx")) {
            getidx = 1;
        } else if (arg_eq(a, "len")) {
            getlen = 1;
        } else if (arg_eq(a, "withmatchlen")) {
            withlen = 1;
        } else if (arg_eq(a, "minmatchlen") && j + 1 < c->argc) {
            if (arg_ll(&c->argv[++j], &minlen) < 0) {
                reply_error(c, "ERR value is not an integer or out of range");
                return;
            }
            if (minlen < 0) minlen = 0;
        } else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    if (getlen && getidx) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    ks_val va, vb;
    cmd_lookup(c, &c->argv[1], &va);
    cmd_lookup(c, &c->argv[2], &vb);
    const uint8_t *a = va.exists ? va.val : (const uint8_t *)"";
    const uint8_t *b = vb.exists ? vb.val : (const uint8_t *)"";
    uint32_t alen = va.exists ? va.vlen : 0, blen = vb.exists ? vb.vlen : 0;
    if ((uint64_t)(alen + 1) * (blen + 1) > LCS_CELLS_MAX) {
        reply_error(c, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    uint32_t *dp = calloc((size_t)(alen + 1) * (blen + 1), sizeof *dp);
    char *res = malloc((size_t)(alen < blen ? alen : blen) + 1);
    if (!dp || !res) {
        free(dp);
        free(res);
        reply_error(c, "ERR out of memory");
        return;
    }
#define LCS(i, j) dp[(size_t)(j) * (alen + 1) + (i)]
    for (uint32_t i = 0; i <= alen; i++)
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    uint32_t idx = LCS(alen, blen), i = alen, j = blen;
    uint32_t total = idx;
    /* Matches from the end, as Redis emits them. */
    size_t nmatch = 0;
    long long (*ranges)[5] = getidx ? malloc(sizeof *ranges * (total + 1)) : NULL;
    if (getidx && !ranges) {
        free(dp);
        free(res);
        reply_error(c, "ERR out of memory");
        return;
    }
    uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
    while (i > 0 && j > 0) {
        int emit = 0;
        if (a[i - 1] == b[j - 1]) {
            res[idx - 1] = (char)a[i - 1];
            if (arange_start == alen) {
                arange_start = i - 1;
                arange_end = i - 1;
                brange_start = j - 1;
                brange_end = j - 1;
            } else if (arange_start == i && brange_start == j) {
                arange_start--;
                brange_start--;
            } else {
                emit = 1;
            }
            if (arange_start == 0 || brange_start == 0) emit = 1;
            idx--;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (arange_start != alen) emit = 1;
        }
        if (emit) {
            long long mlen = (long long)arange_end - arange_start + 1;
            if (getidx && mlen >= minlen) {
                ranges[nmatch][0] = arange_start;
                ranges[nmatch][1] = arange_end;
                ranges[nmatch][2] = brange_start;
                ranges[nmatch][3] = brange_end;
                ranges[nmatch][4] = mlen;
                nmatch++;
            }
            /* This match was emitted; the current match (if any) starts anew. */
            arange_start = alen;
        }
    }
#undef LCS
    if (getidx) {
        reply_map(c, 2);
        reply_bulk(c, "matches", 7);
        reply_array(c, (long long)nmatch);
        for (size_t m = 0; m < nmatch; m++) {
            reply_array(c, withlen ? 3 : 2);
            reply_array(c, 2);
            reply_int(c, ranges[m][0]);
            reply_int(c, ranges[m][1]);
            reply_array(c, 2);
            reply_int(c, ranges[m][2]);
            reply_int(c, ranges[m][3]);
            if (withlen) reply_int(c, ranges[m][4]);
        }
        reply_bulk(c, "len", 3);
        reply_int(c, total);
    } else if (getlen) {
        reply_int(c, total);
    } else {
        reply_bulk(c, res, total);
    }
    free(ranges);
    free(dp);
    free(res);
}
