/* keyspace.c -- the layered view commands read and the unit their writes
 * become (see keyspace.h for the model and why it is shaped so). */
#include "server/keyspace.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/node.h"

#define KS_UNIT_MAX (WAL_VAL_MAX - 4u) /* a MULTI value holds the count, then operations */
_Static_assert(WAL_KEY_MAX <= KV_KLEN_MAX && WAL_VAL_MAX <= KV_VLEN_MAX,
               "the store's length fields must hold the largest key and value a record can");

int64_t ks_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ks_init(node *n)
{
    keyspace *ks = &n->ks;
    memset(ks, 0, sizeof *ks);
    ks->proposed = kv_new();
    ks->unit = kv_new();
    ks->nflush = n->cfg.databases;
    ks->flush_lsn = calloc(ks->nflush, sizeof *ks->flush_lsn);
    ks->unit_flush = calloc(ks->nflush, 1);
    if (!ks->proposed || !ks->unit || !ks->flush_lsn || !ks->unit_flush) return -1;
    kv_no_digest(ks->proposed);
    kv_no_digest(ks->unit);
    return 0;
}

void ks_free(node *n)
{
    keyspace *ks = &n->ks;
    kv_free(ks->proposed);
    kv_free(ks->unit);
    free(ks->flush_lsn);
    free(ks->unit_flush);
    free(ks->body);
    free(ks->one_buf);
    memset(ks, 0, sizeof *ks);
}

static void ks_fill(ks_val *out, const kv_entry_view *e, int64_t now)
{
    out->has_entry = 1;
    out->ver = e->ver;
    if (e->tombstone) return;
    out->val = e->val;
    out->vlen = e->vlen;
    out->expire_ms = e->expire_ms;
    if (e->expire_ms && e->expire_ms <= now) {
        out->expired = 1;
        return;
    }
    out->exists = 1;
}

/* The unit's single operation as an entry view. */
static void ks_one_view(const keyspace *ks, kv_entry_view *e)
{
    memset(e, 0, sizeof *e);
    e->key = ks->one_buf;
    e->klen = ks->one.klen;
    e->tombstone = ks->one.op == WAL_OP_DEL;
    e->val = e->tombstone ? NULL : ks->one_buf + ks->one.klen;
    e->vlen = e->tombstone ? 0 : ks->one.vlen;
    e->db = ks->one.db;
    e->expire_ms = ks->one.expire_ms;
    e->ver = (kv_version){1, 0};
}

static int ks_one_is(const keyspace *ks, unsigned db, const void *key, uint32_t klen)
{
    return ks->one.used && ks->one.db == db && ks->one.klen == klen &&
           (klen == 0 || memcmp(ks->one_buf, key, klen) == 0);
}

void ks_lookup(node *n, unsigned db, const void *key, uint32_t klen, ks_val *out)
{
    keyspace *ks = &n->ks;
    kv_entry_view e;
    int64_t now = ks_now_ms();
    memset(out, 0, sizeof *out);
    if (ks->unit_open || ks->read_proposed) { /* (no unit is open while read_proposed) */
        if (ks_one_is(ks, db, key, klen)) {
            ks_one_view(ks, &e);
            ks_fill(out, &e, now);
            return;
        }
        if (ks->unit_used && kv_find(ks->unit, db, key, klen, &e)) {
            ks_fill(out, &e, now);
            return;
        }
        if (ks->unit_flushall || (db < ks->nflush && ks->unit_flush[db])) return;
        if (kv_find(ks->proposed, db, key, klen, &e)) {
            ks_fill(out, &e, now);
            return;
        }
        if (db < ks->nflush && ks->flush_lsn[db]) return;
    }
    if (kv_find(n->kv, db, key, klen, &e)) ks_fill(out, &e, now);
}

/* ---- whole databases, layered (KEYS and DBSIZE inside EXEC) ---- */

typedef struct ks_walker {
    node *n;
    unsigned db;
    int layer; /* 0 unit, 1 proposed, 2 store */
    kv_iter_fn fn;
    void *ctx;
    long delta; /* DBSIZE: live keys added (+) or hidden (-) by the upper layers */
} ks_walker;

static int ks_layer_hides(const ks_walker *w, int layer)
{
    keyspace *ks = &w->n->ks;
    /* A flush in a layer above hides everything below it. */
    if (layer >= 1 && (ks->unit_flushall || (w->db < ks->nflush && ks->unit_flush[w->db])))
        return 1;
    if (layer >= 2 && w->db < ks->nflush && ks->flush_lsn[w->db]) return 1;
    return 0;
}

/* Is KEY shadowed by a layer above LAYER? */
static int ks_shadowed(const ks_walker *w, int layer, const kv_entry_view *e)
{
    kv_entry_view x;
    if (layer >= 1 && kv_find(w->n->ks.unit, w->db, e->key, e->klen, &x)) return 1;
    if (layer >= 2 && kv_find(w->n->ks.proposed, w->db, e->key, e->klen, &x)) return 1;
    return 0;
}

static int ks_walk_entry(void *ctx, const kv_entry_view *e)
{
    ks_walker *w = ctx;
    if (e->db != w->db || e->tombstone || ks_shadowed(w, w->layer, e)) return 0;
    return w->fn(w->ctx, e);
}

static int ks_materialize(node *n);

void ks_walk(node *n, unsigned db, kv_iter_fn fn, void *ctx)
{
    if (n->ks.unit_open) (void)ks_materialize(n); /* (rare: KEYS inside EXEC) */
    ks_walker w = {n, db, 0, fn, ctx, 0};
    kv_store *layers[3] = {n->ks.unit, n->ks.proposed, n->kv};
    int top = n->ks.unit_open ? 0 : 2;
    for (int l = top; l < 3; l++) {
        if (l > top && ks_layer_hides(&w, l)) break;
        w.layer = l;
        uint64_t cur = 0;
        do {
            cur = kv_scan(layers[l], db, cur, ks_walk_entry, &w);
        } while (cur);
    }
}

/* DBSIZE inside EXEC: the store's count, corrected key by key for what the
 * upper layers hold. */
static int ks_count_upper(void *ctx, const kv_entry_view *e)
{
    ks_walker *w = ctx;
    if (e->db != w->db || ks_shadowed(w, w->layer, e)) return 0;
    int live_here = !e->tombstone;
    int live_below = 0;
    kv_entry_view x;
    int below = (w->layer == 0 && !ks_layer_hides(w, 1) &&
                 kv_find(w->n->ks.proposed, w->db, e->key, e->klen, &x)) ||
                (!ks_layer_hides(w, 2) && kv_find(w->n->kv, w->db, e->key, e->klen, &x));
    if (below) live_below = !x.tombstone;
    w->delta += live_here - live_below;
    return 0;
}

size_t ks_dbsize(node *n, unsigned db)
{
    if (!n->ks.unit_open) return kv_db_count(n->kv, db);
    (void)ks_materialize(n);
    ks_walker w = {n, db, 0, NULL, NULL, 0};
    long base = ks_layer_hides(&w, 1) ? 0 : ks_layer_hides(&w, 2) ? 0 : (long)kv_db_count(n->kv, db);
    if (!ks_layer_hides(&w, 1)) { /* layer 2 over the store */
        w.layer = 1;
        uint64_t cur = 0;
        do {
            cur = kv_scan(n->ks.proposed, db, cur, ks_count_upper, &w);
        } while (cur);
    }
    w.layer = 0;
    uint64_t cur = 0;
    do {
        cur = kv_scan(n->ks.unit, db, cur, ks_count_upper, &w);
    } while (cur);
    long total = base + w.delta;
    return total > 0 ? (size_t)total : 0;
}

/* ---- the unit ---- */

size_t ks_op_bytes(uint32_t klen, uint32_t vlen, int has_expire)
{
    return wal_subop_size(klen, vlen, has_expire);
}

int ks_unit_fits(const node *n, size_t bytes)
{
    return n->ks.unit_bytes <= KS_UNIT_MAX && bytes <= KS_UNIT_MAX - n->ks.unit_bytes;
}

void ks_unit_begin(node *n)
{
    assert(!n->ks.unit_open && n->ks.unit_ops == 0);
    n->ks.unit_open = 1;
}

static int ks_account(node *n, size_t bytes)
{
    /* One operation alone always fits: it becomes a plain record, whose
     * key and value maxima the command checked. */
    if (n->ks.unit_ops > 0 && !ks_unit_fits(n, bytes)) return -1;
    n->ks.unit_bytes += bytes;
    n->ks.unit_ops++;
    return 0;
}

/* The unit's own versions only order its writes among themselves (the
 * record's versions are given at commit): a counter is enough. */
static kv_version ks_unit_version(node *n)
{
    return (kv_version){.ts = n->ks.unit_ops + 1, .node_id = 0};
}

/* The first operation of a unit goes to ks->one (a copy). */
static int ks_one_set(node *n, uint8_t op, unsigned db, const void *key, uint32_t klen,
                      const void *val, uint32_t vlen, int64_t expire_ms)
{
    keyspace *ks = &n->ks;
    size_t need = (size_t)klen + vlen;
    if (need > ks->one_cap) {
        size_t cap = ks->one_cap ? ks->one_cap : 256;
        while (cap < need) cap *= 2;
        uint8_t *b = realloc(ks->one_buf, cap);
        if (!b) return -1;
        ks->one_buf = b;
        ks->one_cap = cap;
    }
    if (klen) memmove(ks->one_buf, key, klen);
    if (vlen) memmove(ks->one_buf + klen, val, vlen);
    ks->one.used = 1;
    ks->one.op = op;
    ks->one.db = db;
    ks->one.klen = klen;
    ks->one.vlen = vlen;
    ks->one.expire_ms = expire_ms;
    return 0;
}

/* Moves ks->one into the unit store (a second operation is coming). */
static int ks_materialize(node *n)
{
    keyspace *ks = &n->ks;
    if (!ks->one.used) return 0;
    kv_version v = {1, 0};
    int rc = ks->one.op == WAL_OP_DEL
                 ? kv_del(ks->unit, ks->one.db, ks->one_buf, ks->one.klen, v)
                 : kv_put(ks->unit, ks->one.db, ks->one_buf, ks->one.klen,
                          ks->one_buf + ks->one.klen, ks->one.vlen, ks->one.expire_ms, v);
    if (rc != KV_WON) return -1;
    ks->unit_used = 1;
    ks->one.used = 0;
    return 0;
}

/* A single-operation unit with nothing flushed: the fast path. */
static int ks_first_op(const keyspace *ks)
{
    return ks->unit_ops == 0 && !ks->unit_used && !ks->unit_flushall;
}

int ks_put(node *n, unsigned db, const void *key, uint32_t klen, const void *val, uint32_t vlen,
           int64_t expire_ms)
{
    assert(n->ks.unit_open);
    kv_version v = ks_unit_version(n);
    if (ks_first_op(&n->ks)) {
        if (ks_one_set(n, WAL_OP_PUT, db, key, klen, val, vlen, expire_ms) < 0) return -1;
        n->ks.unit_ops = 1;
        n->ks.unit_bytes = ks_op_bytes(klen, vlen, expire_ms != 0);
        return 0;
    }
    if (ks_materialize(n) < 0) return -1;
    n->ks.unit_used = 1;
    if (ks_account(n, ks_op_bytes(klen, vlen, expire_ms != 0)) < 0) return -1;
    /* VAL may be the unit's own copy of this key (EXPIRE or PERSIST of a key
     * the same EXEC wrote): the store may move it while replacing it. */
    kv_entry_view cur;
    void *copy = NULL;
    if (vlen && kv_find(n->ks.unit, db, key, klen, &cur) && !cur.tombstone &&
        (const uint8_t *)val >= cur.val && (const uint8_t *)val < cur.val + cur.vlen) {
        if (!(copy = malloc(vlen))) {
            n->ks.unit_ops--;
            return -1;
        }
        memcpy(copy, val, vlen);
        val = copy;
    }
    int rc = kv_put(n->ks.unit, db, key, klen, val, vlen, expire_ms, v);
    free(copy);
    if (rc != KV_WON) {
        n->ks.unit_ops--; /* out of memory: the command fails whole (caller) */
        return -1;
    }
    return 0;
}

int ks_del(node *n, unsigned db, const void *key, uint32_t klen)
{
    assert(n->ks.unit_open);
    kv_version v = ks_unit_version(n);
    if (ks_first_op(&n->ks)) {
        if (ks_one_set(n, WAL_OP_DEL, db, key, klen, NULL, 0, 0) < 0) return -1;
        n->ks.unit_ops = 1;
        n->ks.unit_bytes = ks_op_bytes(klen, 0, 0);
        return 0;
    }
    if (ks_materialize(n) < 0) return -1;
    n->ks.unit_used = 1;
    if (ks_account(n, ks_op_bytes(klen, 0, 0)) < 0) return -1;
    if (kv_del(n->ks.unit, db, key, klen, v) != KV_WON) {
        n->ks.unit_ops--;
        return -1;
    }
    return 0;
}

int ks_flushdb(node *n, unsigned db)
{
    keyspace *ks = &n->ks;
    assert(ks->unit_open && db < ks->nflush);
    if (ks_materialize(n) < 0) return -1;
    ks->unit_used = 1;
    if (ks_account(n, ks_op_bytes(0, 0, 0)) < 0) return -1;
    kv_flush_db(ks->unit, db); /* what the unit wrote there before is gone too */
    ks->unit_flush[db] = 1;
    return 0;
}

int ks_flushall(node *n)
{
    keyspace *ks = &n->ks;
    assert(ks->unit_open);
    if (ks_materialize(n) < 0) return -1;
    ks->unit_used = 1;
    if (ks_account(n, ks_op_bytes(0, 0, 0)) < 0) return -1;
    kv_flush_all(ks->unit);
    memset(ks->unit_flush, 0, ks->nflush);
    ks->unit_flushall = 1;
    return 0;
}

static void ks_unit_clear(node *n)
{
    keyspace *ks = &n->ks;
    if (ks->unit_used) {
        kv_flush_all(ks->unit);
        memset(ks->unit_flush, 0, ks->nflush);
    }
    ks->unit_used = 0;
    ks->one.used = 0;
    ks->unit_flushall = 0;
    ks->unit_ops = ks->unit_bytes = 0;
    ks->unit_open = 0;
}

void ks_unit_discard(node *n)
{
    ks_unit_clear(n);
}

/* Encoding the unit: flushes first (a flush inside the unit already wiped
 * what the unit wrote before it), then one operation per key. */
typedef struct ks_enc {
    uint8_t *p;
    uint32_t count;
} ks_enc;

static int ks_enc_entry(void *ctx, const kv_entry_view *e)
{
    ks_enc *x = ctx;
    x->p += wal_subop_encode(x->p, e->tombstone ? WAL_OP_DEL : WAL_OP_PUT, (uint16_t)e->db,
                             e->tombstone ? 0 : e->expire_ms, e->key, e->klen, e->val,
                             e->tombstone ? 0 : e->vlen);
    x->count++;
    return 0;
}

static size_t ks_encode_unit(node *n)
{
    keyspace *ks = &n->ks;
    ks_enc x = {ks->body + 4, 0};
    if (ks->unit_flushall) {
        x.p += wal_subop_encode(x.p, WAL_OP_FLUSHALL, 0, 0, NULL, 0, NULL, 0);
        x.count++;
    }
    for (unsigned db = 0; db < ks->nflush; db++)
        if (ks->unit_flush[db]) {
            x.p += wal_subop_encode(x.p, WAL_OP_FLUSHDB, (uint16_t)db, 0, NULL, 0, NULL, 0);
            x.count++;
        }
    kv_iterate(ks->unit, ks_enc_entry, &x);
    wal_put_u32(ks->body, x.count);
    return (size_t)(x.p - ks->body);
}

/* Layer 2 takes one operation of a record just proposed (or found pending
 * when the node starts leading). */
static int ks_propose_op(node *n, const wal_op_view *op, uint64_t lsn)
{
    keyspace *ks = &n->ks;
    kv_version v = {op->ts, op->node_id};
    switch (op->op) {
    case WAL_OP_PUT:
        return kv_put(ks->proposed, op->db, op->key, op->klen, op->val, op->vlen, op->expire_ms,
                      v) == KV_NOMEM ? -1 : 0;
    case WAL_OP_DEL:
        return kv_del(ks->proposed, op->db, op->key, op->klen, v) == KV_NOMEM ? -1 : 0;
    case WAL_OP_FLUSHDB:
        kv_flush_db(ks->proposed, op->db);
        if (op->db < ks->nflush) ks->flush_lsn[op->db] = lsn;
        return 0;
    case WAL_OP_FLUSHALL:
        kv_flush_all(ks->proposed);
        for (unsigned db = 0; db < ks->nflush; db++) ks->flush_lsn[db] = lsn;
        return 0;
    default:
        return 0;
    }
}

static int ks_propose_rec(node *n, const wal_rec *r)
{
    wal_op_iter it;
    wal_op_view op;
    wal_op_iter_init(&it, r);
    while (wal_op_next(&it, &op))
        if (ks_propose_op(n, &op, r->lsn) < 0) return -1;
    return 0;
}

static int64_t ks_propose_unit(node *n, wal_rec *rp);

int64_t ks_unit_commit(node *n)
{
    keyspace *ks = &n->ks;
    assert(ks->unit_open);
    if (ks->unit_ops == 0) {
        ks_unit_clear(n);
        return 0;
    }
    wal_rec r;
    if (ks->one.used) { /* one operation: a plain record straight from it */
        r = (wal_rec){.op = ks->one.op,
                      .db = (uint16_t)ks->one.db,
                      .flags = ks->one.expire_ms ? WAL_F_EXPIRE : 0,
                      .expire_ms = ks->one.expire_ms,
                      .key = ks->one_buf,
                      .klen = ks->one.klen,
                      .val = ks->one_buf + ks->one.klen,
                      .vlen = ks->one.vlen};
        return ks_propose_unit(n, &r);
    }
    size_t need = ks->unit_bytes + 4;
    if (need > ks->body_cap) {
        uint8_t *b = realloc(ks->body, need);
        if (!b) {
            ks_unit_clear(n);
            return -1;
        }
        ks->body = b;
        ks->body_cap = need;
    }
    size_t blen = ks_encode_unit(n);
    assert(blen <= need);
    uint32_t count = wal_get_u32(ks->body);
    r = (wal_rec){.op = WAL_OP_MULTI, .val = ks->body, .vlen = (uint32_t)blen};
    wal_op_iter it;
    wal_op_view one;
    if (count == 1) { /* one operation: a plain record, as before units existed */
        wal_rec tmp = r;
        tmp.ts = 0;
        wal_op_iter_init(&it, &tmp);
        wal_op_next(&it, &one);
        r = (wal_rec){.op = one.op,
                      .db = one.db,
                      .flags = one.expire_ms ? WAL_F_EXPIRE : 0,
                      .expire_ms = one.expire_ms,
                      .key = one.key,
                      .klen = one.klen,
                      .val = one.val,
                      .vlen = one.vlen};
    }
    return ks_propose_unit(n, &r);
}

/* Proposes R, the unit's record, and moves it into layer 2. */
static int64_t ks_propose_unit(node *n, wal_rec *rp)
{
    wal_rec r = *rp;
    uint64_t lsn = node_propose_rec(n, &r);
    if (lsn == 0) {
        ks_unit_clear(n);
        return -1;
    }
    /* r now carries the LSN and versions it was proposed with. */
    if (ks_propose_rec(n, &r) < 0) {
        /* Layer 2 could not take it: reads would miss a pending write, so
         * nothing can be trusted; the log has it. */
        log_error(&n->log, "out of memory tracking proposed lsn=%llu; stopping",
                  (unsigned long long)lsn);
        abort();
    }
    ks_unit_clear(n);
    return (int64_t)lsn;
}

/* ---- record life ---- */

void ks_on_applied(void *ctx, const wal_op_view *op)
{
    node *n = ctx;
    keyspace *ks = &n->ks;
    kv_version v = {op->ts, op->node_id};
    switch (op->op) {
    case WAL_OP_PUT:
    case WAL_OP_DEL:
        kv_remove(ks->proposed, op->db, op->key, op->klen, &v);
        break;
    case WAL_OP_FLUSHDB:
        if (op->db < ks->nflush && ks->flush_lsn[op->db] == ks->applying_lsn)
            ks->flush_lsn[op->db] = 0;
        break;
    case WAL_OP_FLUSHALL:
        for (unsigned db = 0; db < ks->nflush; db++)
            if (ks->flush_lsn[db] == ks->applying_lsn) ks->flush_lsn[db] = 0;
        break;
    default:
        break;
    }
}

void ks_forget_proposed(node *n)
{
    keyspace *ks = &n->ks;
    kv_flush_all(ks->proposed);
    memset(ks->flush_lsn, 0, ks->nflush * sizeof *ks->flush_lsn);
}

int ks_rebuild_proposed(node *n)
{
    ks_forget_proposed(n);
    iobuf *b = &n->pending;
    size_t off = b->pos;
    for (uint64_t lsn = n->applied_lsn + 1; lsn <= n->last_lsn; lsn++) {
        wal_rec r;
        size_t used;
        wal_dec d = wal_record_decode(b->p + off, b->len - off, &r, &used);
        assert(d == WAL_DEC_OK && r.lsn == lsn); /* encoded or verified by this node */
        (void)d;
        if (ks_propose_rec(n, &r) < 0) return -1;
        off += used;
    }
    return 0;
}

/* ---- expiry ---- */

static int ks_may_expire(const node *n)
{
    return node_is_leader(n) && !n->fenced && !n->wal_failed && !n->transfer_to &&
           !n->ks.unit_open;
}

/* Is a delete (or any newer write) of KEY already pending? */
static int ks_pending(node *n, unsigned db, const void *key, uint32_t klen)
{
    kv_entry_view e;
    return kv_find(n->ks.proposed, db, key, klen, &e) ||
           (db < n->ks.nflush && n->ks.flush_lsn[db]);
}

void ks_expire_key(node *n, unsigned db, const void *key, uint32_t klen)
{
    if (!ks_may_expire(n) || ks_pending(n, db, key, klen)) return;
    ks_unit_begin(n);
    if (ks_del(n, db, key, klen) == 0 && ks_unit_commit(n) > 0) {
        n->ks.expired_keys++;
        return;
    }
    ks_unit_discard(n);
}

typedef struct ks_sweep {
    node *n;
    int64_t now;
    unsigned found;
} ks_sweep;

static int ks_sweep_entry(void *ctx, const kv_entry_view *e)
{
    ks_sweep *s = ctx;
    if (s->found >= KS_EXPIRE_KEYS || e->tombstone || !e->expire_ms || e->expire_ms > s->now)
        return 0;
    if (ks_pending(s->n, e->db, e->key, e->klen)) return 0;
    if (ks_del(s->n, e->db, e->key, e->klen) == 0) s->found++;
    return 0;
}

void ks_expire_cycle(node *n)
{
    keyspace *ks = &n->ks;
    if (!ks_may_expire(n)) return;
    unsigned slots = kv_db_slots(n->kv);
    if (slots == 0) return;
    ks_sweep s = {n, ks_now_ms(), 0};
    ks_unit_begin(n);
    int buckets = KS_EXPIRE_BUCKETS;
    for (unsigned tried = 0; tried <= slots && buckets > 0 && s.found < KS_EXPIRE_KEYS;) {
        if (ks->expire_db >= slots) ks->expire_db = 0;
        if (kv_db_volatile(n->kv, ks->expire_db) == 0) {
            ks->expire_db++;
            ks->expire_cursor = 0;
            tried++;
            continue;
        }
        /* The unit is open, so deletes land in it, not in the store scanned. */
        ks->expire_cursor = kv_scan(n->kv, ks->expire_db, ks->expire_cursor, ks_sweep_entry, &s);
        buckets--;
        if (ks->expire_cursor == 0) {
            ks->expire_db++;
            tried++;
        }
    }
    unsigned found = s.found;
    if (found && ks_unit_commit(n) > 0)
        ks->expired_keys += found;
    else
        ks_unit_discard(n);
}

/* ---- eviction (--maxmemory-policy; leader) ---- */

/* The next sample's position: splitmix64 of a counter. (kv_random steps
 * its own LCG from the value it is given when a bucket is empty, so
 * consecutive states of that same LCG would land on the same key again.) */
static uint64_t ks_evict_draw(keyspace *ks)
{
    uint64_t z = (ks->evict_rnd += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Is E a better victim than the best so far (higher score wins)? LRU: the
 * longest idle; TTL: the nearest expiry; random: the first one found. */
static uint64_t ks_evict_score(const node *n, int policy, const kv_entry_view *e)
{
    switch (policy) {
    case CFG_MM_ALLKEYS_LRU:
    case CFG_MM_VOLATILE_LRU: return (uint64_t)kv_idle_ticks(n->kv, e->lru) + 1u;
    case CFG_MM_VOLATILE_TTL: return UINT64_MAX - (uint64_t)e->expire_ms;
    default: return 1;
    }
}

int ks_evict(node *n, size_t need, size_t *freed, int64_t *lsn)
{
    keyspace *ks = &n->ks;
    *freed = 0;
    *lsn = 0;
    int policy = n->cfg.maxmemory_policy;
    if (policy == CFG_MM_NOEVICTION || !ks_may_expire(n)) return 0;
    int volatile_only = policy == CFG_MM_VOLATILE_LRU || policy == CFG_MM_VOLATILE_RANDOM ||
                        policy == CFG_MM_VOLATILE_TTL;
    int samples = n->cfg.maxmemory_samples > 0 ? n->cfg.maxmemory_samples : 1;
    unsigned slots = kv_db_slots(n->kv);
    const uint8_t *chosen[KS_EVICT_KEYS]; /* store entries already deleted in the unit */
    int count = 0;
    size_t got = 0;
    ks_unit_begin(n);
    while (count < KS_EVICT_KEYS && got < need) {
        kv_entry_view best = {0};
        uint64_t best_score = 0;
        for (unsigned db = 0; db < slots; db++) {
            size_t have = volatile_only ? kv_db_volatile(n->kv, db) : kv_db_count(n->kv, db);
            if (have == 0) continue;
            /* Volatile keys may be few among many: a bounded number of
             * draws finds SAMPLES of them or gives up on this database. */
            int tries = volatile_only ? samples * KS_EVICT_VOLATILE_TRIES : samples;
            for (int t = 0, taken = 0; t < tries && taken < samples; t++) {
                kv_entry_view e;
                if (!kv_random(n->kv, db, ks_evict_draw(ks), &e)) break;
                if (volatile_only && !e.expire_ms) continue;
                taken++;
                int dup = 0;
                for (int k = 0; k < count && !dup; k++) dup = chosen[k] == e.key;
                if (dup || ks_pending(n, db, e.key, e.klen)) continue;
                uint64_t score = ks_evict_score(n, policy, &e);
                if (score > best_score) {
                    best = e;
                    best_score = score;
                }
            }
        }
        if (best_score == 0) break; /* nothing left to evict */
        if (ks_del(n, best.db, best.key, best.klen) < 0) break;
        chosen[count++] = best.key;
        size_t tomb = kv_tombstone_size(best.klen);
        got += best.mem > tomb ? best.mem - tomb : 0;
    }
    if (count == 0) {
        ks_unit_discard(n);
        return 0;
    }
    int64_t l = ks_unit_commit(n);
    if (l <= 0) return 0; /* the pending log is full: nothing was evicted */
    *freed = got;
    *lsn = l;
    return count;
}
