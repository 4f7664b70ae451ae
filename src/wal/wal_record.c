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

size_t wal_record_encode(const wal_rec *r, uint8_t *out)
{
    assert(r->op == WAL_OP_PUT || (r->op == WAL_OP_DEL && r->vlen == 0) ||
           (r->op == WAL_OP_NOOP && r->klen == 0 && r->vlen == 0));
    assert(r->klen <= WAL_KEY_MAX && r->vlen <= WAL_VAL_MAX);
    assert(r->lsn >= 1 && r->epoch >= 1);
    assert(r->klen == 0 || r->key != NULL);
    assert(r->vlen == 0 || r->val != NULL);

    size_t len = wal_record_size(r->klen, r->vlen);
    wal_put_u32(out + 0, (uint32_t)len);
    wal_put_u64(out + 8, r->lsn);
    wal_put_u64(out + 16, r->epoch);
    wal_put_u64(out + 24, r->ts);
    wal_put_u32(out + 32, r->node_id);
    out[36] = r->op;
    out[37] = out[38] = out[39] = 0;
    wal_put_u32(out + 40, r->klen);
    wal_put_u32(out + 44, r->vlen);
    if (r->klen) memcpy(out + WAL_HDR_SIZE, r->key, r->klen);
    if (r->vlen) memcpy(out + WAL_HDR_SIZE + r->klen, r->val, r->vlen);
    wal_put_u32(out + 4, crc32c(0, out + 8, len - 8));
    return len;
}

/* True when the header's lengths are within their maxima and add up to len. */
static int wal_header_lengths_ok(const uint8_t *buf, uint32_t len)
{
    uint32_t klen = wal_get_u32(buf + 40);
    uint32_t vlen = wal_get_u32(buf + 44);
    if (klen > WAL_KEY_MAX || vlen > WAL_VAL_MAX) return 0;
    return (uint64_t)len == (uint64_t)WAL_HDR_SIZE + klen + vlen;
}

static void wal_read_header(const uint8_t *buf, wal_rec *out)
{
    out->lsn = wal_get_u64(buf + 8);
    out->epoch = wal_get_u64(buf + 16);
    out->ts = wal_get_u64(buf + 24);
    out->node_id = wal_get_u32(buf + 32);
    out->op = buf[36];
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
    if (buf[37] || buf[38] || buf[39]) return WAL_DEC_BAD_OP;
    if (out->op != WAL_OP_PUT && out->op != WAL_OP_DEL && out->op != WAL_OP_NOOP)
        return WAL_DEC_BAD_OP;
    if (out->op == WAL_OP_DEL && out->vlen != 0) return WAL_DEC_BAD_OP;
    if (out->op == WAL_OP_NOOP && (out->klen != 0 || out->vlen != 0)) return WAL_DEC_BAD_OP;
    if (out->lsn == 0 || out->epoch == 0) return WAL_DEC_BAD_FIELD;

    out->key = buf + WAL_HDR_SIZE;
    out->val = buf + WAL_HDR_SIZE + out->klen; /* never NULL, even when vlen is 0 */
    *consumed = len;
    return WAL_DEC_OK;
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
        return "unknown op or nonzero padding";
    case WAL_DEC_BAD_FIELD:
        return "zero lsn or epoch";
    }
    return "unknown decode result";
}
