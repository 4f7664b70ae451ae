/* wal_recovery.c -- rebuilds the KV store at start-up from the newest valid
 * checkpoint and the WAL records after it (rules in wal_recovery.h, format
 * and reasons in docs/WAL-FORMAT.md).
 *
 * Why it is shaped so:
 *   - Segments are read through one buffer of WAL_RECOVERY_READ_BYTES that
 *     grows only to hold a single larger record (bounded by WAL_RECORD_MAX)
 *     or a batch up to WAL_RECOVERY_BATCH_INBUF (a larger batch's CRC is
 *     checked by a second, streaming read), and records are decoded in
 *     place: one read(2) per MiB and no malloc per record beyond the store's
 *     own, so 1M records replay well under 1 s.
 *   - A batch's payload CRC is checked before any of its records is
 *     applied: a torn batch is dropped whole, never half-applied.
 *   - Torn tail versus corruption (LevelDB's distinction): the writer syncs
 *     each batch before writing the next and a segment before starting the
 *     next, so a crash can only damage the last batch of the last segment.
 *     A bad batch there is a torn tail only if no later batch header of
 *     this segment (its salt, an LSN at or above the expected one) exists:
 *     finding one means synced, acknowledged records sit behind the damage
 *     (bit rot, a lost page), so refuse to start rather than drop them. The
 *     salt keeps bytes in a client's value from posing as that evidence.
 *   - Format-1 segments (records only) keep the record-level rule: after
 *     the first bad record, scan byte by byte for any complete record with
 *     an LSN at or above the expected one. A record embedded in a value
 *     could fool that scan into refusing; never into dropping.
 *   - A checkpoint is verified completely (CRCs, counts, trailer) before a
 *     single entry reaches the caller's store, because a half-loaded store
 *     cannot be emptied again to try an older checkpoint.
 *   - The last segment is fdatasynced after replay: after a process crash
 *     its tail may still be only in the page cache, and records we now
 *     treat as durable (and ship to followers) must be on disk. */
#include "wal/wal_recovery.h"
#include "wal/wal_apply.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wal/wal_checkpoint.h"
#include "wal/crc32.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

/* ---- Buffered segment reader ---- */

typedef struct seg_reader {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t cap;
    size_t start, end; /* unconsumed bytes are buf[start, end) */
    uint64_t base;     /* file offset of buf[0] */
    int eof;
} seg_reader;

/* Ensures NEED (<= WAL_RECORD_MAX) bytes are buffered from start, or EOF. */
static int rd_fill(seg_reader *r, size_t need, char *err, size_t errlen)
{
    if (r->end - r->start >= need) return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->base += r->start;
        r->end -= r->start;
        r->start = 0;
    }
    if (need > r->cap) {
        if (need > WAL_RECORD_MAX) { /* the decoder bounds len: our own invariant */
            snprintf(err, errlen, "wal: %s: internal error: read of %zu bytes", r->path, need);
            return -1;
        }
        uint8_t *nb = realloc(r->buf, need);
        if (!nb) {
            snprintf(err, errlen, "wal: %s: out of memory for a %zu-byte record", r->path, need);
            return -1;
        }
        r->buf = nb;
        r->cap = need;
    }
    while (r->end < need && !r->eof) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "wal: read %s at offset %" PRIu64 ": %s", r->path,
                     r->base + r->end, strerror(errno));
            return -1;
        }
        if (n == 0) r->eof = 1;
        r->end += (size_t)n;
    }
    return 0;
}

/* Cheap test that a record could start at P: the header is consistent and
 * carries an LSN >= MIN_LSN. Only then is the CRC worth computing. */
static int rd_candidate(const uint8_t *p, uint64_t min_lsn)
{
    uint32_t len = wal_get_u32(p), klen = wal_get_u32(p + 40), vlen = wal_get_u32(p + 44);
    if (len < WAL_HDR_SIZE || len > WAL_RECORD_MAX || klen > WAL_KEY_MAX || vlen > WAL_VAL_MAX)
        return 0;
    if ((uint64_t)len != wal_record_size_x(klen, vlen, p[37] & WAL_F_EXPIRE)) return 0;
    if (p[36] < WAL_OP_PUT || p[36] > WAL_OP_FLUSHALL) return 0;
    return wal_get_u64(p + 8) >= min_lsn;
}

/* Scans from one byte past the current record to EOF for a complete record
 * that decodes with an LSN >= MIN_LSN. 1 (and *off, *lsn), 0 none, -1. */
static int rd_scan_valid(seg_reader *r, uint64_t min_lsn, uint64_t *off, uint64_t *lsn, char *err,
                         size_t errlen)
{
    r->start++;
    for (;;) {
        size_t avail = r->end - r->start;
        if (avail < WAL_HDR_SIZE) {
            if (r->eof) return 0;
            if (rd_fill(r, WAL_HDR_SIZE, err, errlen) != 0) return -1;
            continue;
        }
        const uint8_t *p = r->buf + r->start;
        uint32_t len = wal_get_u32(p);
        if (rd_candidate(p, min_lsn)) {
            if (avail < len && !r->eof) {
                if (rd_fill(r, len, err, errlen) != 0) return -1;
                continue;
            }
            wal_rec rec;
            size_t used;
            if (avail >= len && wal_record_decode(p, avail, &rec, &used) == WAL_DEC_OK) {
                *off = r->base + r->start;
                *lsn = rec.lsn;
                return 1;
            }
        }
        r->start++;
    }
}

/* ---- Replay ---- */

typedef struct replay {
    kv_store *kv;
    const rkv_log *log;
    uint64_t snapshot_lsn;
    uint64_t want;       /* LSN the next record must carry */
    uint64_t last_epoch; /* epoch of record want - 1 */
    uint64_t max_ts;
    uint64_t replayed;
    uint64_t truncated;
    uint64_t apply_upto; /* records above it (and the checkpoint) go to hold */
    uint64_t applied_lsn, applied_epoch, applied_ts; /* last record put in the store */
    wal_hold_fn hold;
    void *hold_ctx;
    seg_reader rd;
    /* Offline check (wal_recover_dry): every segment is read, nothing is
     * opened for writing, and a tail recovery would cut is reported in
     * *tail instead. NULL: a real recovery. */
    wal_tail_report *tail;
    wal_each_fn each;
    void *each_ctx;
} replay;

static int replay_apply(replay *rp, const wal_rec *rec, char *err, size_t errlen)
{
    if (wal_rec_last_ts(rec) > rp->max_ts) rp->max_ts = wal_rec_last_ts(rec);
    rp->last_epoch = rec->epoch;
    rp->want++;
    if (rp->each && rp->each(rp->each_ctx, rec) < 0) {
        snprintf(err, errlen, "wal: stopped at LSN %" PRIu64, rec->lsn);
        return -1;
    }
    if (rec->lsn <= rp->snapshot_lsn) return 0; /* already in the checkpoint */
    if (rp->hold && rec->lsn > rp->apply_upto) {
        if (rp->hold(rp->hold_ctx, rec) < 0) {
            snprintf(err, errlen, "wal: cannot hold LSN %" PRIu64 " for its commit (out of memory)",
                     rec->lsn);
            return -1;
        }
        return 0;
    }
    if (wal_apply_record(rp->kv, rec, NULL, NULL) == KV_NOMEM) {
        snprintf(err, errlen, "wal: out of memory replaying LSN %" PRIu64, rec->lsn);
        return -1;
    }
    rp->replayed++;
    rp->applied_lsn = rec->lsn;
    rp->applied_epoch = rec->epoch;
    rp->applied_ts = rec->ts;
    return 0;
}

/* 1 if bytes [FROM, SIZE) of FD are all zero: the writer's preallocated
 * space (wal_writer.c), not a torn record. */
static int rd_tail_is_zero(int fd, uint64_t from, uint64_t size)
{
    uint8_t buf[64 * 1024];
    while (from < size) {
        size_t want = size - from < sizeof buf ? (size_t)(size - from) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)from);
        if (n <= 0) return 0;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i]) return 0;
        from += (uint64_t)n;
    }
    return 1;
}

/* The offline check's stand-in for a cut: says what would be cut. */
static int dry_tail(replay *rp, uint64_t off, uint64_t bytes, int zeros, const char *what)
{
    wal_tail_report *t = rp->tail;
    t->found = 1;
    t->zeros = zeros;
    t->offset = off;
    t->bytes = bytes;
    snprintf(t->path, sizeof t->path, "%s", rp->rd.path);
    snprintf(t->what, sizeof t->what, "%s", zeros ? "preallocated space, never written" : what);
    return 0;
}

/* Cuts the last segment's tail at offset BAD (recovery decided it is torn,
 * not corruption). Zeros there are the writer's preallocated space: INFO;
 * anything else lost an unsynced write: WARN with WHAT. */
static int rd_cut_tail(replay *rp, uint64_t bad, const char *what, char *err, size_t errlen)
{
    seg_reader *r = &rp->rd;
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        snprintf(err, errlen, "wal: stat %s: %s", r->path, strerror(errno));
        return -1;
    }
    int zeros = rd_tail_is_zero(r->fd, bad, (uint64_t)st.st_size);
    if (rp->tail) return dry_tail(rp, bad, (uint64_t)st.st_size - bad, zeros, what);
    if (ftruncate(r->fd, (off_t)bad) != 0 || fsync(r->fd) != 0) {
        snprintf(err, errlen, "wal: truncating torn tail of %s at offset %" PRIu64 ": %s", r->path,
                 bad, strerror(errno));
        return -1;
    }
    uint64_t dropped = (uint64_t)st.st_size - bad;
    if (zeros) { /* preallocated, never written: nothing was lost */
        log_info(rp->log,
                 "wal: %s: released %" PRIu64 " bytes of preallocated space at offset %" PRIu64,
                 r->path, dropped, bad);
        return 0;
    }
    rp->truncated = dropped;
    log_warn(rp->log, "wal: %s: dropped %" PRIu64 " bytes of %s", r->path, dropped, what);
    return 0;
}

/* Decides what a bad record at offset BAD in the last segment is: a torn
 * tail (cut it off) or corruption (error). */
static int replay_bad_tail(replay *rp, uint64_t bad, const char *why, char *err, size_t errlen)
{
    seg_reader *r = &rp->rd;
    uint64_t off, lsn;
    int found = rd_scan_valid(r, rp->want, &off, &lsn, err, errlen);
    if (found < 0) return -1;
    if (found) {
        snprintf(err, errlen,
                 "wal: corrupt record in %s at offset %" PRIu64 " (%s, expected LSN %" PRIu64
                 "), followed by a valid record (LSN %" PRIu64 ") at offset %" PRIu64,
                 r->path, bad, why, rp->want, lsn, off);
        return -1;
    }
    char what[160];
    snprintf(what, sizeof what, "torn tail at offset %" PRIu64 " (%s, expected LSN %" PRIu64 ")",
             bad, why, rp->want);
    return rd_cut_tail(rp, bad, what, err, errlen);
}

/* Replays the records of the format-1 (records only) segment open in
 * rp->rd. */
static int replay_records(replay *rp, int is_last, char *err, size_t errlen)
{
    seg_reader *r = &rp->rd;
    for (;;) {
        size_t avail = r->end - r->start, used;
        wal_rec rec;
        wal_dec d = wal_record_decode(r->buf + r->start, avail, &rec, &used);
        if (d == WAL_DEC_NEED_MORE && !r->eof) {
            if (rd_fill(r, used, err, errlen) != 0) return -1;
            continue;
        }
        if (d == WAL_DEC_NEED_MORE && avail == 0) return 0; /* clean end */
        uint64_t off = r->base + r->start;
        if (d == WAL_DEC_OK && rec.lsn == rp->want && rec.epoch >= rp->last_epoch) {
            if (replay_apply(rp, &rec, err, errlen) != 0) return -1;
            r->start += used;
            continue;
        }
        int torn_kind = d == WAL_DEC_NEED_MORE || d == WAL_DEC_BAD_CRC || d == WAL_DEC_BAD_LENGTH;
        if (is_last && torn_kind) return replay_bad_tail(rp, off, wal_dec_str(d), err, errlen);
        if (d == WAL_DEC_OK)
            snprintf(err, errlen,
                     "wal: corrupt log in %s at offset %" PRIu64 ": record has LSN %" PRIu64
                     " epoch %" PRIu64 ", expected LSN %" PRIu64 " epoch >= %" PRIu64,
                     r->path, off, rec.lsn, rec.epoch, rp->want, rp->last_epoch);
        else
            snprintf(
                err, errlen,
                "wal: corrupt record in %s at offset %" PRIu64 " (%s, expected LSN %" PRIu64 ")%s",
                r->path, off, wal_dec_str(d), rp->want, is_last ? "" : " in a non-final segment");
        return -1;
    }
}

/* ---- Format 2: segment header, then batches ---- */

/* Scans from one byte past the current position to EOF for a batch header
 * that decodes, carries SALT and starts at or above MIN_LSN. 1 (and *off,
 * *h), 0 none, -1 I/O error. Only the header is checked: the writer never
 * writes a batch before the previous one is durable, so the existence of
 * any later batch of this segment proves the damage is not a torn tail. */
static int rd_scan_batch(seg_reader *r, uint64_t salt, uint64_t min_lsn, uint64_t *off,
                         wal_batch_hdr *h, char *err, size_t errlen)
{
    r->start++;
    for (;;) {
        size_t avail = r->end - r->start;
        if (avail < WAL_BATCH_HDR_SIZE) {
            if (r->eof) return 0;
            if (rd_fill(r, WAL_BATCH_HDR_SIZE, err, errlen) != 0) return -1;
            continue;
        }
        const uint8_t *p = r->buf + r->start;
        if (wal_get_u32(p) == WAL_BATCH_MAGIC && wal_get_u64(p + 8) == salt &&
            wal_batch_hdr_decode(p, avail, h) == WAL_FRAME_OK && h->first_lsn >= min_lsn) {
            *off = r->base + r->start;
            return 1;
        }
        r->start++;
    }
}

/* Decides what a bad batch at offset BAD of the last segment is: a torn
 * tail (cut it off) or corruption (error). HDR is the batch's header when
 * it decoded (for the LSN range in the message), else NULL. */
static int replay_bad_batch(replay *rp, uint64_t bad, uint64_t salt, const wal_batch_hdr *hdr,
                            const char *why, char *err, size_t errlen)
{
    seg_reader *r = &rp->rd;
    char range[64];
    if (hdr)
        snprintf(range, sizeof range, "LSNs %" PRIu64 "..%" PRIu64, hdr->first_lsn, hdr->last_lsn);
    else
        snprintf(range, sizeof range, "LSNs from %" PRIu64, rp->want);
    uint64_t off;
    wal_batch_hdr later;
    int found = rd_scan_batch(r, salt, rp->want, &off, &later, err, errlen);
    if (found < 0) return -1;
    if (found) {
        snprintf(err, errlen,
                 "wal: corrupt batch in %s at offset %" PRIu64 " (%s, %s), followed by a valid "
                 "batch (LSNs %" PRIu64 "..%" PRIu64 ") at offset %" PRIu64,
                 r->path, bad, why, range, later.first_lsn, later.last_lsn, off);
        return -1;
    }
    char what[200];
    snprintf(what, sizeof what, "torn last batch at offset %" PRIu64 " (%s, %s; never acknowledged)",
             bad, why, range);
    return rd_cut_tail(rp, bad, what, err, errlen);
}

/* CRC of the LEN payload bytes at file offset AT, read straight from the
 * file (for batches larger than the in-buffer limit). 1 match, 0 mismatch
 * or cut short (*cut set), -1 I/O error. */
static int rd_crc_stream(seg_reader *r, uint64_t at, uint32_t len, uint32_t want, int *cut,
                         char *err, size_t errlen)
{
    uint8_t buf[64 * 1024];
    uint32_t crc = 0;
    uint64_t done = 0;
    while (done < len) {
        size_t n = len - done < sizeof buf ? (size_t)(len - done) : sizeof buf;
        ssize_t got = pread(r->fd, buf, n, (off_t)(at + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(err, errlen, "wal: read %s at offset %" PRIu64 ": %s", r->path, at + done,
                     strerror(errno));
            return -1;
        }
        if (got == 0) {
            *cut = 1;
            return 0;
        }
        crc = crc32c(crc, buf, (size_t)got);
        done += (uint64_t)got;
    }
    return crc == want;
}

/* Batches up to this size (header included) are checked in the read buffer;
 * larger ones by a second read of the file. */
#define WAL_RECOVERY_BATCH_INBUF (4u * 1024u * 1024u)
_Static_assert(WAL_RECOVERY_BATCH_INBUF <= WAL_RECORD_MAX, "rd_fill bound");

/* Replays the records of one batch whose header H (at the current position
 * OFF) and payload checksum are good. Anything wrong now was written so:
 * corruption. */
static int replay_batch_records(replay *rp, const wal_batch_hdr *h, uint64_t off, char *err,
                                size_t errlen)
{
    seg_reader *r = &rp->rd;
    r->start += WAL_BATCH_HDR_SIZE;
    uint64_t end = off + WAL_BATCH_HDR_SIZE + h->payload_len;
    while (r->base + r->start < end) {
        uint64_t roff = r->base + r->start;
        size_t in_batch = (size_t)(end - roff);
        size_t avail = r->end - r->start < in_batch ? r->end - r->start : in_batch, used;
        wal_rec rec;
        wal_dec d = wal_record_decode(r->buf + r->start, avail, &rec, &used);
        if (d == WAL_DEC_NEED_MORE && avail < in_batch && !r->eof) {
            if (rd_fill(r, used < in_batch ? used : in_batch, err, errlen) != 0) return -1;
            continue;
        }
        if (d != WAL_DEC_OK || rec.lsn != rp->want || rec.epoch < rp->last_epoch ||
            rec.lsn > h->last_lsn) {
            if (d == WAL_DEC_OK)
                snprintf(err, errlen,
                         "wal: corrupt log in %s at offset %" PRIu64 ": record has LSN %" PRIu64
                         " epoch %" PRIu64 ", expected LSN %" PRIu64 " epoch >= %" PRIu64
                         " (batch at offset %" PRIu64 " holds LSNs %" PRIu64 "..%" PRIu64 ")",
                         r->path, roff, rec.lsn, rec.epoch, rp->want, rp->last_epoch, off,
                         h->first_lsn, h->last_lsn);
            else
                snprintf(err, errlen,
                         "wal: corrupt record in %s at offset %" PRIu64 " (%s, expected LSN %" PRIu64
                         ") inside a batch whose checksum matches (batch at offset %" PRIu64 ")",
                         r->path, roff,
                         d == WAL_DEC_NEED_MORE ? "record crosses the batch end" : wal_dec_str(d),
                         rp->want, off);
            return -1;
        }
        if (replay_apply(rp, &rec, err, errlen) != 0) return -1;
        r->start += used;
    }
    if (rp->want - 1 != h->last_lsn) {
        snprintf(err, errlen,
                 "wal: corrupt batch in %s at offset %" PRIu64 ": header says LSNs %" PRIu64
                 "..%" PRIu64 ", payload ends at %" PRIu64,
                 r->path, off, h->first_lsn, h->last_lsn, rp->want - 1);
        return -1;
    }
    return 0;
}

/* Replays the batches of the format-2 segment open in rp->rd, positioned
 * just after its header. */
static int replay_batches(replay *rp, uint64_t salt, int is_last, char *err, size_t errlen)
{
    seg_reader *r = &rp->rd;
    for (;;) {
        if (rd_fill(r, WAL_BATCH_HDR_SIZE, err, errlen) != 0) return -1;
        size_t avail = r->end - r->start;
        uint64_t off = r->base + r->start;
        if (avail == 0) return 0; /* clean end: EOF at a batch boundary */
        wal_batch_hdr h;
        wal_frame f = wal_batch_hdr_decode(r->buf + r->start, avail, &h);
        const char *why;
        const wal_batch_hdr *known = NULL;
        if (f == WAL_FRAME_OK && h.salt == salt) {
            if (h.first_lsn != rp->want) {
                snprintf(err, errlen,
                         "wal: corrupt log in %s at offset %" PRIu64 ": batch holds LSNs %" PRIu64
                         "..%" PRIu64 ", expected LSN %" PRIu64,
                         r->path, off, h.first_lsn, h.last_lsn, rp->want);
                return -1;
            }
            size_t total = WAL_BATCH_HDR_SIZE + (size_t)h.payload_len;
            int cut = 0, ok;
            if (total <= WAL_RECOVERY_BATCH_INBUF) {
                if (rd_fill(r, total, err, errlen) != 0) return -1;
                cut = r->end - r->start < total;
                ok = !cut && crc32c(0, r->buf + r->start + WAL_BATCH_HDR_SIZE, h.payload_len) ==
                                 h.payload_crc;
            } else {
                ok = rd_crc_stream(r, off + WAL_BATCH_HDR_SIZE, h.payload_len, h.payload_crc, &cut,
                                   err, errlen);
                if (ok < 0) return -1;
            }
            if (ok) {
                if (replay_batch_records(rp, &h, off, err, errlen) != 0) return -1;
                continue;
            }
            why = cut ? "batch cut short" : "batch payload checksum mismatch";
            known = &h;
        } else if (f == WAL_FRAME_ZERO) {
            why = "zeros at a batch boundary";
        } else if (f == WAL_FRAME_NEED_MORE) {
            why = "batch header cut short";
        } else if (f == WAL_FRAME_OK) {
            why = "batch header with another segment's salt";
        } else {
            why = "bad batch header";
        }
        if (!is_last) {
            snprintf(err, errlen,
                     "wal: corrupt batch in %s at offset %" PRIu64 " (%s, expected LSN %" PRIu64
                     ") in a non-final segment",
                     r->path, off, why, rp->want);
            return -1;
        }
        return replay_bad_batch(rp, off, salt, known, why, err, errlen);
    }
}

/* Cuts the last segment, whose header is torn or zero (a crash while it was
 * being created: no batch is ever written before the header is durable),
 * back to nothing. */
static int replay_drop_segment(replay *rp, const char *why, char *err, size_t errlen)
{
    seg_reader *r = &rp->rd;
    struct stat st;
    if (rp->tail) {
        if (fstat(r->fd, &st) != 0) {
            snprintf(err, errlen, "wal: stat %s: %s", r->path, strerror(errno));
            return -1;
        }
        return dry_tail(rp, 0, (uint64_t)st.st_size, 0, why);
    }
    if (fstat(r->fd, &st) != 0 || ftruncate(r->fd, 0) != 0 || fsync(r->fd) != 0) {
        snprintf(err, errlen, "wal: truncating %s: %s", r->path, strerror(errno));
        return -1;
    }
    log_warn(rp->log, "wal: %s: %s; dropped its %lld bytes (no batch behind it)", r->path, why,
             (long long)st.st_size);
    return 0;
}

/* Reads the segment header and replays the segment in its format. */
static int replay_any_format(replay *rp, uint64_t first_lsn, int is_last, char *err,
                             size_t errlen)
{
    seg_reader *r = &rp->rd;
    if (rd_fill(r, WAL_SEG_HDR_SIZE, err, errlen) != 0) return -1;
    size_t avail = r->end - r->start;
    if (avail == 0) return 0; /* empty file: no record */
    wal_seg_hdr sh;
    wal_frame f = wal_seg_hdr_decode(r->buf, avail, &sh);
    if (f == WAL_FRAME_OLD) return replay_records(rp, is_last, err, errlen);
    if (f == WAL_FRAME_OK && sh.first_lsn != first_lsn) {
        snprintf(err, errlen,
                 "wal: corrupt segment header in %s at offset 0: first LSN %" PRIu64
                 " differs from the name",
                 r->path, sh.first_lsn);
        return -1;
    }
    if (f == WAL_FRAME_OK) {
        r->start += WAL_SEG_HDR_SIZE;
        return replay_batches(rp, sh.salt, is_last, err, errlen);
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        snprintf(err, errlen, "wal: stat %s: %s", r->path, strerror(errno));
        return -1;
    }
    /* Torn or zeroed while being created: only in the last segment, and
     * only with nothing behind the header's place. */
    int nothing_behind = (uint64_t)st.st_size <= WAL_SEG_HDR_SIZE ||
                         rd_tail_is_zero(r->fd, 0, (uint64_t)st.st_size);
    if (is_last && nothing_behind)
        return replay_drop_segment(
            rp, f == WAL_FRAME_ZERO ? "segment is all zeros" : "segment header is torn", err,
            errlen);
    snprintf(err, errlen, "wal: corrupt segment header in %s at offset 0 (%s)%s", r->path,
             f == WAL_FRAME_ZERO ? "zeros" : f == WAL_FRAME_NEED_MORE ? "cut short" : "bad magic, "
             "version or checksum", is_last ? "" : " in a non-final segment");
    return -1;
}

static int replay_segment(replay *rp, const char *data_dir, uint64_t first_lsn, int is_last,
                          char *err, size_t errlen)
{
    char path[WAL_PATH_MAX];
    if (wal_segment_path(path, sizeof path, data_dir, first_lsn) != 0) {
        snprintf(err, errlen, "wal: path too long: %s", data_dir);
        return -1;
    }
    if (first_lsn == 0 || first_lsn != rp->want) {
        snprintf(err, errlen,
                 "wal: corrupt log in %s at offset 0: segment starts at LSN %" PRIu64
                 ", expected %" PRIu64 " (missing or overlapping records)",
                 path, first_lsn, rp->want);
        return -1;
    }
    seg_reader *r = &rp->rd;
    r->fd = open(path, (is_last && !rp->tail ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (r->fd < 0) {
        snprintf(err, errlen, "wal: open %s: %s", path, strerror(errno));
        return -1;
    }
    r->path = path;
    r->start = r->end = 0;
    r->base = 0;
    r->eof = 0;
    int rc = replay_any_format(rp, first_lsn, is_last, err, errlen);
    if (rc == 0 && is_last && rp->truncated == 0 && !rp->tail && fdatasync(r->fd) != 0) {
        snprintf(err, errlen, "wal: fdatasync %s: %s", path, strerror(errno));
        rc = -1;
    }
    close(r->fd);
    r->fd = -1;
    r->path = NULL;
    return rc;
}

/* Replays every segment not wholly covered by the checkpoint. */
static int replay_wal(replay *rp, const char *data_dir, wal_recovery_info *info, char *err,
                      size_t errlen)
{
    uint64_t *lsns;
    size_t n;
    if (wal_segments_list(data_dir, &lsns, &n, err, errlen) != 0) return -1;
    info->segments = n;
    size_t i = 0;
    /* Segment i holds LSNs below lsns[i+1]: all in the checkpoint if
     * lsns[i+1] <= snapshot_lsn + 1. The last segment is always read. */
    while (!rp->tail && i + 1 < n && lsns[i + 1] <= rp->snapshot_lsn + 1)
        i++;
    if (i < n && lsns[i] <= rp->snapshot_lsn + 1) rp->want = lsns[i];
    int rc = 0;
    if (i < n) {
        rp->rd.cap = WAL_RECOVERY_READ_BYTES;
        rp->rd.buf = malloc(rp->rd.cap);
        if (!rp->rd.buf) {
            snprintf(err, errlen, "wal: out of memory");
            rc = -1;
        }
    }
    for (; i < n && rc == 0; i++)
        rc = replay_segment(rp, data_dir, lsns[i], i + 1 == n, err, errlen);
    free(rp->rd.buf);
    rp->rd.buf = NULL;
    free(lsns);
    return rc;
}

/* Loads the newest checkpoint that verifies; logs each one skipped. */
static int load_checkpoint(const char *data_dir, kv_store *kv, wal_checkpoint_info *ck,
                           wal_recovery_info *info, const rkv_log *log, char *err, size_t errlen)
{
    memset(ck, 0, sizeof *ck);
    uint64_t *lsns;
    size_t n;
    if (wal_checkpoint_list(data_dir, &lsns, &n, err, errlen) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[WAL_PATH_MAX], why[WAL_PATH_MAX + 512];
        wal_checkpoint_info vi;
        if (wal_checkpoint_path(path, sizeof path, data_dir, lsns[i]) != 0) {
            snprintf(err, errlen, "wal: path too long: %s", data_dir);
            rc = -1;
            break;
        }
        int ok = wal_checkpoint_load(path, NULL, &vi, why, sizeof why) == 0;
        if (ok && vi.lsn != lsns[i]) {
            snprintf(why, sizeof why, "checkpoint %s: header says LSN %" PRIu64, path, vi.lsn);
            ok = 0;
        }
        if (!ok) {
            info->checkpoints_skipped++;
            log_warn(log, "recovery: skipping corrupt checkpoint: %s; falling back to %s", why,
                     i + 1 < n ? "an older checkpoint" : "the full WAL");
            continue;
        }
        /* Verified: from here a failure (out of memory, the file changing
         * underneath) leaves a half-filled store, so it is fatal. */
        if (wal_checkpoint_load(path, kv, ck, err, errlen) != 0) rc = -1;
        break;
    }
    free(lsns);
    return rc;
}

static double rec_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int wal_recover(const char *data_dir, kv_store *kv, wal_recovery_info *info, const rkv_log *log,
                char *err, size_t errlen)
{
    return wal_recover_held(data_dir, kv, UINT64_MAX, NULL, NULL, info, log, err, errlen);
}

static int recover_any(const char *data_dir, kv_store *kv, uint64_t apply_upto, wal_hold_fn hold,
                       void *ctx, wal_tail_report *tail, wal_each_fn each, void *each_ctx,
                       wal_recovery_info *info, const rkv_log *log, char *err, size_t errlen);

int wal_recover_held(const char *data_dir, kv_store *kv, uint64_t apply_upto, wal_hold_fn hold,
                     void *ctx, wal_recovery_info *info, const rkv_log *log, char *err,
                     size_t errlen)
{
    return recover_any(data_dir, kv, apply_upto, hold, ctx, NULL, NULL, NULL, info, log, err,
                       errlen);
}

int wal_recover_dry(const char *data_dir, kv_store *kv, wal_each_fn each, void *ctx,
                    wal_recovery_info *info, wal_tail_report *tail, char *err, size_t errlen)
{
    memset(tail, 0, sizeof *tail);
    return recover_any(data_dir, kv, UINT64_MAX, NULL, NULL, tail, each, ctx, info, NULL, err,
                       errlen);
}

static int recover_any(const char *data_dir, kv_store *kv, uint64_t apply_upto, wal_hold_fn hold,
                       void *ctx, wal_tail_report *tail, wal_each_fn each, void *each_ctx,
                       wal_recovery_info *info, const rkv_log *log, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    if (kv_count(kv) != 0 || kv_tombstones(kv) != 0) {
        snprintf(err, errlen, "wal: recovery needs an empty store");
        return -1;
    }
    double t0 = rec_now_s();
    wal_checkpoint_info ck;
    if (load_checkpoint(data_dir, kv, &ck, info, log, err, errlen) != 0) return -1;

    replay rp = {.kv = kv,
                 .log = log,
                 .snapshot_lsn = ck.lsn,
                 .want = ck.lsn + 1,
                 .last_epoch = 0,
                 .max_ts = ck.max_ts,
                 .apply_upto = apply_upto,
                 .hold = hold,
                 .hold_ctx = ctx,
                 .rd = {.fd = -1},
                 .tail = tail,
                 .each = each,
                 .each_ctx = each_ctx};
    if (replay_wal(&rp, data_dir, info, err, errlen) != 0) return -1;

    info->snapshot_lsn = ck.lsn;
    /* The WAL may end below the checkpoint (its tail was never written here,
     * e.g. a state installed from elsewhere): the checkpoint is then the end. */
    info->last_lsn = rp.want - 1 > ck.lsn ? rp.want - 1 : ck.lsn;
    info->last_epoch = rp.want - 1 >= ck.lsn && rp.last_epoch ? rp.last_epoch : ck.epoch;
    info->max_ts = rp.max_ts;
    info->records_replayed = rp.replayed;
    if (rp.applied_lsn > ck.lsn) {
        info->applied_lsn = rp.applied_lsn;
        info->applied_epoch = rp.applied_epoch;
        info->applied_ts = rp.applied_ts;
    } else {
        info->applied_lsn = ck.lsn;
        info->applied_epoch = ck.epoch;
        info->applied_ts = ck.max_ts;
    }
    info->truncated_bytes = rp.truncated;

    uint64_t *lsns;
    size_t n;
    if (wal_segments_list(data_dir, &lsns, &n, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        char path[WAL_PATH_MAX];
        struct stat st;
        if (wal_segment_path(path, sizeof path, data_dir, lsns[i]) == 0 && stat(path, &st) == 0)
            info->wal_bytes += (uint64_t)st.st_size;
    }
    free(lsns);
    log_info(log,
             "recovery: checkpoint LSN %" PRIu64 ", replayed %" PRIu64 " records from %" PRIu64
             " segments, last LSN %" PRIu64 " epoch %" PRIu64 ", %.3f s",
             info->snapshot_lsn, info->records_replayed, info->segments, info->last_lsn,
             info->last_epoch, rec_now_s() - t0);
    return 0;
}
