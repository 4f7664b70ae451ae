/* wal_segment.h -- the framing of a WAL segment file around the records:
 * one segment header, then batches, each a batch header and the records of
 * one writer call (docs/WAL-FORMAT.md section 2 has the reasons).
 *
 * Segment header, WAL_SEG_HDR_SIZE = 40 bytes, at offset 0:
 *
 *   offset size field
 *   0      8    magic      "RKVWALS2"
 *   8      4    version    WAL_SEG_VERSION (2)
 *   12     4    reserved   zero
 *   16     8    first_lsn  LSN of the segment's first record = its name
 *   24     8    salt       random (getrandom), never shown to a client
 *   32     4    reserved   zero
 *   36     4    crc        CRC-32C of bytes [0, 36)
 *
 * Batch header, WAL_BATCH_HDR_SIZE = 48 bytes, before every batch:
 *
 *   0      4    magic      "RKVB"
 *   4      4    count      records in the payload = last_lsn - first_lsn + 1
 *   8      8    salt       the segment header's salt
 *   16     8    first_lsn
 *   24     8    last_lsn
 *   32     4    payload_len  bytes of records after this header
 *   36     4    payload_crc  CRC-32C of those bytes
 *   40     4    reserved   zero
 *   44     4    hdr_crc    CRC-32C of bytes [0, 44)
 *
 * A segment whose first 4 bytes are not "RKVW" was written before this
 * framing existed (format 1: records only, no headers) and is read as such;
 * "RKVW" read as a record length is far above WAL_RECORD_MAX, so no format-1
 * segment can start with it.
 *
 * The decoders check lengths before anything else and never allocate. */
#ifndef RKV_WAL_SEGMENT_H
#define RKV_WAL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "wal/wal_record.h"

#define WAL_SEG_MAGIC "RKVWALS2"
#define WAL_SEG_MAGIC_LEN 8u
#define WAL_SEG_VERSION 2u
#define WAL_SEG_HDR_SIZE 40u

#define WAL_BATCH_MAGIC 0x42564B52u /* "RKVB" little-endian */
#define WAL_BATCH_HDR_SIZE 48u
/* Largest batch payload. The writer splits a larger write into batches of
 * at most this size (syncing between them); readers refuse a header that
 * claims more before reading or allocating anything. */
#define WAL_BATCH_PAYLOAD_MAX (256u * 1024u * 1024u)
/* Most records a payload can hold: every record is at least a header. */
#define WAL_BATCH_COUNT_MAX (WAL_BATCH_PAYLOAD_MAX / WAL_HDR_SIZE)

typedef struct wal_seg_hdr {
    uint64_t first_lsn;
    uint64_t salt;
} wal_seg_hdr;

typedef struct wal_batch_hdr {
    uint64_t salt;
    uint64_t first_lsn, last_lsn;
    uint32_t count;
    uint32_t payload_len;
    uint32_t payload_crc;
} wal_batch_hdr;

typedef enum wal_frame {
    WAL_FRAME_OK = 0,
    WAL_FRAME_NEED_MORE, /* fewer bytes than the header */
    WAL_FRAME_ZERO,      /* the bytes present are all zero: preallocated space */
    WAL_FRAME_OLD,       /* segment header only: a format-1 segment (records only) */
    WAL_FRAME_BAD,       /* magic, CRC, version, reserved or a field out of range */
} wal_frame;

/* What the first bytes of a segment are. OK fills *H; NEED_MORE when fewer
 * than WAL_SEG_HDR_SIZE bytes are present but they start like a header (or
 * AVAIL is 0); ZERO when all AVAIL (> 0) bytes up to the header size are 0;
 * OLD when they cannot start a header (a format-1 segment). */
wal_frame wal_seg_hdr_decode(const uint8_t *buf, size_t avail, wal_seg_hdr *h);
void wal_seg_hdr_encode(const wal_seg_hdr *h, uint8_t out[WAL_SEG_HDR_SIZE]);

/* Decodes a batch header at BUF. OK fills *H; NEED_MORE if AVAIL is below
 * the header size and the bytes present are not all zero (or AVAIL is 0);
 * ZERO if the present header bytes are all zero; BAD otherwise. SALT is not
 * checked here (the caller knows the segment's). OK also guarantees
 * 1 <= first_lsn <= last_lsn, count == last - first + 1 <=
 * WAL_BATCH_COUNT_MAX and count * WAL_HDR_SIZE <= payload_len <=
 * WAL_BATCH_PAYLOAD_MAX. */
wal_frame wal_batch_hdr_decode(const uint8_t *buf, size_t avail, wal_batch_hdr *h);
/* Encodes H (fields as given; hdr_crc computed). */
void wal_batch_hdr_encode(const wal_batch_hdr *h, uint8_t out[WAL_BATCH_HDR_SIZE]);

/* A fresh random salt from getrandom(2). 0, or -1 + message. Never returns
 * a salt of 0 (so a zeroed header can never carry a valid one). */
int wal_salt_new(uint64_t *salt, char *err, size_t errlen);

/* ---- Reading a whole segment held in memory ----
 * For tools and tests (the server's readers stream from the file:
 * wal_recovery.c, src/repl/repl_rejoin.c). Yields the records of either
 * format in order, checking every header and CRC on the way. */
typedef struct wal_seg_iter {
    const uint8_t *buf;
    size_t len;
    size_t pos;       /* offset of the next record or batch header */
    size_t batch_end; /* end of the current batch's payload (0: at a boundary) */
    uint64_t batch_lsn, batch_last; /* next LSN in the batch, its last */
    int old_format;   /* 1: format 1, records only */
    uint64_t salt;
    uint64_t first_lsn; /* from the segment header (0 for format 1) */
    char why[96];       /* what -1 from wal_seg_iter_next found */
} wal_seg_iter;

void wal_seg_iter_init(wal_seg_iter *it, const uint8_t *buf, size_t len);
/* 1: *R is the next record (pointing into the buffer) at byte *OFF; 0: clean
 * end (end of buffer or zeros at a boundary); -1: damage at byte *OFF,
 * described in it->why. */
int wal_seg_iter_next(wal_seg_iter *it, wal_rec *r, size_t *off);

#endif
