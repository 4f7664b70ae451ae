/* wal_record.c -- encodes and incrementally decodes WAL records (layout and
 * validity rule in wal_record.h).
 *
 * The decoder is a pure function of the bytes it is shown: it never
 * allocates, never reads past AVAIL, and trusts no length before checking it
 * against the named maxima, so the same code serves the recovery scan over a
 * segment file and, later, the follower's socket buffer.
 *
 * Order of checks (each one only looks at bytes already proved present):
 *   1. fewer than 4 bytes: NEED_MORE (the header size is the next goal);
 *   2. len outside [WAL_HDR_SIZE, WAL_RECORD_MAX]: BAD_LENGTH, at once, so a
 *      huge length never makes a reader wait for (or buffer) 4 GiB;
 *   3. fewer than len bytes: NEED_MORE with *consumed = len, unless the
 *      header is already present and proves the record can never be valid
 *      (klen/vlen over their maxima or len != 48 + klen + vlen): BAD_LENGTH,
 *      so a stream fails fast instead of waiting for a record that is not;
 *   4. the whole record is present: CRC first. Any damaged byte after offset
 *      8 is reported as BAD_CRC (the checksum is the witness that bytes
 *      changed); only a record whose checksum matches is then judged on its
 *      contents: BAD_LENGTH, BAD_OP, BAD_FIELD. Such a record was written
 *      that way (a bug or a newer format), not torn, and recovery treats it
 *      as corruption rather than as a torn tail. */
#include "wal/wal_record.h"

#include <assert.h>
#include <string.h>

#include "wal/crc32.h"

size_t wal_record_size(uint32_t klen, uint32_t vlen)
{
    return (size_t)WAL_HDR_SIZE + (size_t)klen + (size_t)vlen;
}

size_t wal_record_size_x(uint32_t klen, uint32_t vlen, int has_expire)
{
    return wal_record_size(klen, vlen) + (has_expire ? 8u : 0u);
}

size_t wal_subop_size(uint32_t klen, uint32_t vlen, int has_expire)
{
    return (size_t)WAL_SUB_HDR_SIZE + (has_expire ? 8u : 0u) + (size_t)klen + vlen;
}

size_t wal_subop_encode(uint8_t *out, uint8_t op, uint16_t db, int64_t expire_ms,
                        const void *key, uint32_t klen, const void *val, uint32_t vlen)
{
    uint8_t *p = out;
    p[0] = op;
    p[1] = expire_ms ? WAL_F_EXPIRE : 0;
    p[2] = (uint8_t)db;
    p[3] = (uint8_t)(db >> 8);
    wal_put_u32(p + 4, klen);
    wal_put_u32(p + 8, vlen);
    p += WAL_SUB_HDR_SIZE;
    if (expire_ms) {
        wal_put_u64(p, (uint64_t)expire_ms);
        p += 8;
    }
    if (klen) memcpy(p, key, klen);
    p += klen;
    if (vlen) memcpy(p, val, vlen);
    p += vlen;
    return (size_t)(p - out);
}

/* The rules every operation follows, alone or inside a MULTI. */
static int wal_op_ok(uint8_t op, uint8_t flags, uint16_t db, int64_t expire, uint32_t klen,
                     uint32_t vlen)
{
    if (flags & ~WAL_F_EXPIRE) return 0;
    if ((flags & WAL_F_EXPIRE) && (op != WAL_OP_PUT || expire <= 0)) return 0;
    switch (op) {
    case WAL_OP_PUT: return 1;
    case WAL_OP_DEL: return vlen == 0;
    case WAL_OP_FLUSHDB: return klen == 0 && vlen == 0;
    case WAL_OP_FLUSHALL: return klen == 0 && vlen == 0 && db == 0;
    default: return 0;
    }
}

/* A MULTI value: count >= 1 valid sub-operations filling it exactly. */
static int wal_multi_ok(const uint8_t *p, uint32_t len)
{
    if (len < 4) return 0;
    uint32_t count = wal_get_u32(p);
    if (count == 0 || count > WAL_MULTI_MAX_OPS) return 0;
    const uint8_t *end = p + len;
    p += 4;
    for (uint32_t i = 0; i < count; i++) {
        if ((size_t)(end - p) < WAL_SUB_HDR_SIZE) return 0;
        uint8_t op = p[0], flags = p[1];
        uint16_t db = (uint16_t)(p[2] | p[3] << 8);
        uint32_t klen = wal_get_u32(p + 4), vlen = wal_get_u32(p + 8);
        size_t need = wal_subop_size(klen, vlen, flags & WAL_F_EXPIRE);
        if (klen > WAL_KEY_MAX || vlen > WAL_VAL_MAX || (size_t)(end - p) < need) return 0;
        int64_t expire = (flags & WAL_F_EXPIRE) ? (int64_t)wal_get_u64(p + WAL_SUB_HDR_SIZE) : 0;
        if (!wal_op_ok(op, flags, db, expire, klen, vlen)) return 0;
        p += need;
    }
    return p == end;
}

size_t wal_record_encode(const wal_rec *r, uint8_t *out)
{
    int has_exp = (r->flags & WAL_F_EXPIRE) != 0;
    assert(r->op == WAL_OP_NOOP || r->op == WAL_OP_MULTI ||
           wal_op_ok(r->op, r->flags, r->db, r->expire_ms, r->klen, r->vlen));
    assert(r->op != WAL_OP_NOOP || (r->klen == 0 && r->vlen == 0 && !r->flags && !r->db));
    assert(r->op != WAL_OP_MULTI || (r->klen == 0 && !r->flags && !r->db &&
                                     wal_multi_ok(r->val, r->vlen)));
    assert(r->klen <= WAL_KEY_MAX && r->vlen <= WAL_VAL_MAX);
    assert(r->lsn >= 1 && r->epoch >= 1);
    assert(r->klen == 0 || r->key != NULL);
    assert(r->vlen == 0 || r->val != NULL);

    size_t len = wal_record_size_x(r->klen, r->vlen, has_exp);
    size_t body = WAL_HDR_SIZE + (has_exp ? 8u : 0u);
    wal_put_u32(out + 0, (uint32_t)len);
    wal_put_u64(out + 8, r->lsn);
    wal_put_u64(out + 16, r->epoch);
    wal_put_u64(out + 24, r->ts);
    wal_put_u32(out + 32, r->node_id);
    out[36] = r->op;
    out[37] = r->flags;
    out[38] = (uint8_t)r->db;
    out[39] = (uint8_t)(r->db >> 8);
    wal_put_u32(out + 40, r->klen);
    wal_put_u32(out + 44, r->vlen);
    if (has_exp) wal_put_u64(out + WAL_HDR_SIZE, (uint64_t)r->expire_ms);
    if (r->klen) memcpy(out + body, r->key, r->klen);
    if (r->vlen) memcpy(out + body + r->klen, r->val, r->vlen);
    wal_put_u32(out + 4, crc32c(0, out + 8, len - 8));
    return len;
}

/* True when the header's lengths are within their maxima and add up to len. */
static int wal_header_lengths_ok(const uint8_t *buf, uint32_t len)
{
    uint32_t klen = wal_get_u32(buf + 40);
    uint32_t vlen = wal_get_u32(buf + 44);
    if (klen > WAL_KEY_MAX || vlen > WAL_VAL_MAX) return 0;
    return (uint64_t)len == wal_record_size_x(klen, vlen, buf[37] & WAL_F_EXPIRE);
}

static void wal_read_header(const uint8_t *buf, wal_rec *out)
{
    out->lsn = wal_get_u64(buf + 8);
    out->epoch = wal_get_u64(buf + 16);
    out->ts = wal_get_u64(buf + 24);
    out->node_id = wal_get_u32(buf + 32);
    out->op = buf[36];
    out->flags = buf[37];
    out->db = (uint16_t)(buf[38] | buf[39] << 8);
    out->expire_ms = 0;
    out->klen = wal_get_u32(buf + 40);
    out->vlen = wal_get_u32(buf + 44);
    out->key = NULL;
    out->val = NULL;
}

wal_dec wal_record_decode(const uint8_t *buf, size_t avail, wal_rec *out, size_t *consumed)
{
    if (avail < 4) {
        *consumed = WAL_HDR_SIZE;
        return WAL_DEC_NEED_MORE;
    }
    uint32_t len = wal_get_u32(buf);
    *consumed = WAL_HDR_SIZE;
    if (len < WAL_HDR_SIZE || len > WAL_RECORD_MAX) return WAL_DEC_BAD_LENGTH;
    if (avail < len) {
        if (avail >= WAL_HDR_SIZE && !wal_header_lengths_ok(buf, len)) return WAL_DEC_BAD_LENGTH;
        *consumed = len;
        return WAL_DEC_NEED_MORE;
    }

    wal_read_header(buf, out);
    if (wal_get_u32(buf + 4) != crc32c(0, buf + 8, len - 8)) return WAL_DEC_BAD_CRC;
    if (!wal_header_lengths_ok(buf, len)) return WAL_DEC_BAD_LENGTH;
    size_t body = WAL_HDR_SIZE;
    if (out->flags & WAL_F_EXPIRE) {
        out->expire_ms = (int64_t)wal_get_u64(buf + WAL_HDR_SIZE);
        body += 8;
    }
    if (out->op == WAL_OP_NOOP || out->op == WAL_OP_MULTI) {
        if (out->flags || out->db || out->klen) return WAL_DEC_BAD_OP;
        if (out->op == WAL_OP_NOOP && out->vlen) return WAL_DEC_BAD_OP;
        if (out->op == WAL_OP_MULTI && !wal_multi_ok(buf + body, out->vlen)) return WAL_DEC_BAD_OP;
    } else if (!wal_op_ok(out->op, out->flags, out->db, out->expire_ms, out->klen, out->vlen)) {
        return WAL_DEC_BAD_OP;
    }
    if (out->lsn == 0 || out->epoch == 0) return WAL_DEC_BAD_FIELD;

    out->key = buf + body;
    out->val = buf + body + out->klen; /* never NULL, even when vlen is 0 */
    *consumed = len;
    return WAL_DEC_OK;
}

void wal_op_iter_init(wal_op_iter *it, const wal_rec *r)
{
    it->r = r;
    it->i = 0;
    if (r->op == WAL_OP_MULTI) {
        it->left = wal_get_u32(r->val);
        it->p = r->val + 4;
        it->end = r->val + r->vlen;
    } else {
        it->left = r->op == WAL_OP_NOOP ? 0 : 1;
        it->p = it->end = NULL;
    }
}

int wal_op_next(wal_op_iter *it, wal_op_view *o)
{
    const wal_rec *r = it->r;
    if (it->left == 0) return 0;
    it->left--;
    o->node_id = r->node_id;
    o->ts = r->ts + it->i++;
    if (r->op != WAL_OP_MULTI) {
        o->op = r->op;
        o->db = r->db;
        o->expire_ms = r->expire_ms;
        o->klen = r->klen;
        o->vlen = r->vlen;
        o->key = r->key;
        o->val = r->val;
        return 1;
    }
    const uint8_t *p = it->p; /* validated by wal_record_decode / encode */
    o->op = p[0];
    o->db = (uint16_t)(p[2] | p[3] << 8);
    o->klen = wal_get_u32(p + 4);
    o->vlen = wal_get_u32(p + 8);
    p += WAL_SUB_HDR_SIZE;
    o->expire_ms = 0;
    if (it->p[1] & WAL_F_EXPIRE) {
        o->expire_ms = (int64_t)wal_get_u64(p);
        p += 8;
    }
    o->key = p;
    o->val = p + o->klen;
    it->p = p + o->klen + o->vlen;
    assert(it->p <= it->end);
    return 1;
}

uint64_t wal_rec_last_ts(const wal_rec *r)
{
    if (r->op != WAL_OP_MULTI) return r->ts;
    return r->ts + wal_get_u32(r->val) - 1;
}

const char *wal_dec_str(wal_dec d)
{
    switch (d) {
    case WAL_DEC_OK:
        return "ok";
    case WAL_DEC_NEED_MORE:
        return "incomplete record";
    case WAL_DEC_BAD_LENGTH:
        return "length out of range";
    case WAL_DEC_BAD_CRC:
        return "checksum mismatch";
    case WAL_DEC_BAD_OP:
        return "unknown op or flags, or a malformed operation";
    case WAL_DEC_BAD_FIELD:
        return "zero lsn or epoch";
    }
    return "unknown decode result";
}
