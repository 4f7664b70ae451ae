/* wal_record.h -- the WAL record codec: one record = one operation.
 *
 * The encoded bytes are exactly what is written to the WAL segment on disk
 * (inside a batch, see wal_segment.h) and, unchanged, what the leader ships
 * to followers: nothing is re-encoded between disk and wire, and the
 * follower checks the same CRC.
 *
 * Byte layout (all integers little-endian):
 *
 *   offset size field
 *   0      4    len      total record length in bytes, header included
 *   4      4    crc      CRC-32C of bytes [8, len): everything after this field
 *   8      8    lsn      log sequence number, dense, first record is 1
 *   16     8    epoch    leader incarnation that wrote the record (>= 1)
 *   24     8    ts       hybrid logical clock timestamp, microseconds
 *   32     4    node_id  origin node of the write
 *   36     1    op       1 PUT, 2 DEL, 3 NOOP, 4 MULTI, 5 FLUSHDB, 6 FLUSHALL
 *   37     1    flags    bit 0: an expiry follows the header; other bits zero
 *   38     2    db       database (SELECT index)
 *   40     4    klen     key length
 *   44     4    vlen     value length (0 for DEL)
 *   48     8    expire   only with flags bit 0: absolute expiry, Unix ms (> 0)
 *   48(+8) klen key
 *   ...    vlen value
 *
 * Records written before databases and expiries existed have bytes 37..39
 * zero (they were "pad, must be zero"), which reads as database 0 without
 * an expiry: an old log recovers unchanged.
 *
 * MULTI carries several operations that commit, ship, recover and apply as
 * one (an EXEC, an MSET, a DEL of several keys, FLUSHALL inside a
 * transaction): klen 0, flags 0, db 0, and the value is
 *   0 4 count  sub-operations (>= 1), then each:
 *   0 1 op     PUT, DEL, FLUSHDB or FLUSHALL
 *   1 1 flags  bit 0: expiry present
 *   2 2 db
 *   4 4 klen
 *   8 4 vlen
 *   12 8 expire (flags bit 0 only), then key, then value
 * Sub-operation i (from 0) has the version (ts + i, node_id): a later write
 * to the same key inside one unit wins, and the leader's clock has moved
 * past ts + count - 1 before its next record (wal_rec_last_ts). A torn
 * MULTI fails its CRC like any record, so none of it is applied.
 *
 * A record is valid if and only if:
 *   - at least 48 bytes are present and len == 48 + (8 if expiry) + klen + vlen,
 *   - 48 <= len <= WAL_RECORD_MAX, klen <= WAL_KEY_MAX, vlen <= WAL_VAL_MAX,
 *   - crc == CRC-32C(bytes 8 .. len-1),
 *   - op is known, only bit 0 of flags may be set, only PUT has an expiry
 *     (and it is > 0), DEL has vlen == 0, NOOP / FLUSHDB / FLUSHALL have no
 *     key or value, FLUSHALL and NOOP and MULTI have db 0, MULTI's value
 *     parses exactly into count >= 1 valid sub-operations (PUT, DEL,
 *     FLUSHDB, FLUSHALL, with the same rules), lsn >= 1, epoch >= 1.
 *
 * Why this shape: the length comes first so a reader knows how much to wait
 * for before checking anything; the CRC does not cover the length word, but
 * len must equal 48 + klen + vlen and klen/vlen are CRC-covered, so a
 * corrupted length is always caught. klen/vlen are 32-bit so the maxima are
 * configuration, not format. The epoch in every record plays the role of
 * SQLite's salts: bytes left by an earlier incarnation are told apart from
 * this one's. Fields are naturally aligned at their offsets.
 */
#ifndef RKV_WAL_RECORD_H
#define RKV_WAL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define WAL_HDR_SIZE 48u
#define WAL_KEY_MAX (64u * 1024u)          /* 64 KiB */
#define WAL_VAL_MAX (16u * 1024u * 1024u)  /* 16 MiB */
#define WAL_RECORD_MAX (WAL_HDR_SIZE + WAL_KEY_MAX + WAL_VAL_MAX)

/* NOOP: no key, no value; a new leader's epoch-start record (Raft 5.4.2:
 * committing it commits every earlier record it follows). */
enum wal_op {
    WAL_OP_PUT = 1,
    WAL_OP_DEL = 2,
    WAL_OP_NOOP = 3,
    WAL_OP_MULTI = 4,
    WAL_OP_FLUSHDB = 5,
    WAL_OP_FLUSHALL = 6,
};
#define WAL_F_EXPIRE 1u
#define WAL_SUB_HDR_SIZE 12u /* a MULTI sub-operation's header, before its expiry */
#define WAL_MULTI_MAX_OPS (WAL_VAL_MAX / WAL_SUB_HDR_SIZE)

/* A decoded record. key/val point into the buffer that was decoded (no copy)
 * or, for encoding, at the caller's bytes. */
typedef struct wal_rec {
    uint64_t lsn;
    uint64_t epoch;
    uint64_t ts;
    uint32_t node_id;
    uint8_t op;
    uint8_t flags;     /* WAL_F_EXPIRE */
    uint16_t db;
    int64_t expire_ms; /* with WAL_F_EXPIRE */
    uint32_t klen;
    uint32_t vlen;
    const uint8_t *key;
    const uint8_t *val; /* MULTI: the sub-operations */
} wal_rec;

/* One operation of a record: the record itself, or one of a MULTI's. */
typedef struct wal_op_view {
    uint8_t op; /* PUT, DEL, FLUSHDB, FLUSHALL (NOOP: nothing) */
    uint16_t db;
    int64_t expire_ms; /* 0: none */
    uint64_t ts;       /* its version's timestamp */
    uint32_t node_id;
    uint32_t klen, vlen;
    const uint8_t *key, *val;
} wal_op_view;

typedef struct wal_op_iter {
    const wal_rec *r;
    const uint8_t *p, *end;
    uint32_t left, i;
} wal_op_iter;

/* Walks the operations of a decoded (valid) record: one for a plain record,
 * count for a MULTI. */
void wal_op_iter_init(wal_op_iter *it, const wal_rec *r);
int wal_op_next(wal_op_iter *it, wal_op_view *out); /* 1 and *OUT, 0 at the end */
/* The highest version timestamp the record uses (ts + count - 1 for MULTI). */
uint64_t wal_rec_last_ts(const wal_rec *r);
/* Bytes of one sub-operation in a MULTI value / appends one at OUT. */
size_t wal_subop_size(uint32_t klen, uint32_t vlen, int has_expire);
size_t wal_subop_encode(uint8_t *out, uint8_t op, uint16_t db, int64_t expire_ms,
                        const void *key, uint32_t klen, const void *val, uint32_t vlen);

typedef enum wal_dec {
    WAL_DEC_OK = 0,
    WAL_DEC_NEED_MORE,  /* not an error: fewer bytes than the record needs */
    WAL_DEC_BAD_LENGTH, /* len/klen/vlen out of range or inconsistent */
    WAL_DEC_BAD_CRC,    /* checksum mismatch */
    WAL_DEC_BAD_OP,     /* unknown op or flags, DEL with a value, a bad MULTI body */
    WAL_DEC_BAD_FIELD,  /* lsn or epoch zero */
} wal_dec;

/* Bytes an encoded record with these lengths occupies (no expiry / with
 * HAS_EXPIRE). */
size_t wal_record_size(uint32_t klen, uint32_t vlen);
size_t wal_record_size_x(uint32_t klen, uint32_t vlen, int has_expire);

/* Encodes R into OUT, which must hold wal_record_size(r->klen, r->vlen)
 * bytes. Returns the number of bytes written. R must be valid (asserted). */
size_t wal_record_encode(const wal_rec *r, uint8_t *out);

/* Decodes the record at the start of BUF (AVAIL bytes present). On
 * WAL_DEC_OK fills *OUT (pointing into BUF) and *CONSUMED. On NEED_MORE sets
 * *CONSUMED to the total bytes needed when known (else the header size).
 * On BAD_CRC / BAD_OP / BAD_FIELD, OUT's header fields (lsn, epoch, ...) are
 * filled as read so the caller can log the LSN. Checks lengths before
 * touching the body; never allocates. */
wal_dec wal_record_decode(const uint8_t *buf, size_t avail, wal_rec *out, size_t *consumed);

const char *wal_dec_str(wal_dec d);

/* Little-endian helpers shared by every on-disk and on-wire format. */
static inline void wal_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void wal_put_u64(uint8_t *p, uint64_t v)
{
    wal_put_u32(p, (uint32_t)v);
    wal_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t wal_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t wal_get_u64(const uint8_t *p)
{
    return (uint64_t)wal_get_u32(p) | (uint64_t)wal_get_u32(p + 4) << 32;
}

#endif
