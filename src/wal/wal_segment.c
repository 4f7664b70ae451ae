/* wal_segment.c -- segment and batch header codecs, the salt, and an
 * in-memory segment iterator (layouts in wal_segment.h, rules and reasons
 * in docs/WAL-FORMAT.md).
 *
 * Why it is shaped so:
 *   - Each header carries its own CRC, so a reader can trust payload_len
 *     (and skip a whole batch) before it has read the payload.
 *   - The batch header repeats the segment's random salt. Bytes a client
 *     stored in a value can contain a well-formed record or batch header,
 *     but not one with a salt it never saw, so a reader that insists on the
 *     salt never takes a value's bytes for the log's own framing. */
#include "wal/wal_segment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "wal/crc32.h"

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

wal_frame wal_seg_hdr_decode(const uint8_t *buf, size_t avail, wal_seg_hdr *h)
{
    if (avail == 0) return WAL_FRAME_NEED_MORE;
    size_t n = avail < WAL_SEG_HDR_SIZE ? avail : WAL_SEG_HDR_SIZE;
    if (all_zero(buf, n)) return WAL_FRAME_ZERO;
    size_t m = n < 4 ? n : 4; /* "RKVW": what tells the formats apart */
    if (memcmp(buf, WAL_SEG_MAGIC, m) != 0) return WAL_FRAME_OLD;
    if (avail < WAL_SEG_HDR_SIZE) return WAL_FRAME_NEED_MORE;
    if (memcmp(buf, WAL_SEG_MAGIC, WAL_SEG_MAGIC_LEN) != 0) return WAL_FRAME_BAD;
    if (wal_get_u32(buf + 36) != crc32c(0, buf, 36)) return WAL_FRAME_BAD;
    if (wal_get_u32(buf + 8) != WAL_SEG_VERSION) return WAL_FRAME_BAD;
    if (wal_get_u32(buf + 12) != 0 || wal_get_u32(buf + 32) != 0) return WAL_FRAME_BAD;
    h->first_lsn = wal_get_u64(buf + 16);
    h->salt = wal_get_u64(buf + 24);
    if (h->first_lsn == 0 || h->salt == 0) return WAL_FRAME_BAD;
    return WAL_FRAME_OK;
}

void wal_seg_hdr_encode(const wal_seg_hdr *h, uint8_t out[WAL_SEG_HDR_SIZE])
{
    memset(out, 0, WAL_SEG_HDR_SIZE);
    static const uint8_t magic[WAL_SEG_MAGIC_LEN] = {'R', 'K', 'V', 'W', 'A', 'L', 'S', '2'};
    memcpy(out, magic, sizeof magic); /* 8 bytes, no terminator: not a string */
    wal_put_u32(out + 8, WAL_SEG_VERSION);
    wal_put_u64(out + 16, h->first_lsn);
    wal_put_u64(out + 24, h->salt);
    wal_put_u32(out + 36, crc32c(0, out, 36));
}

wal_frame wal_batch_hdr_decode(const uint8_t *buf, size_t avail, wal_batch_hdr *h)
{
    if (avail == 0) return WAL_FRAME_NEED_MORE;
    size_t n = avail < WAL_BATCH_HDR_SIZE ? avail : WAL_BATCH_HDR_SIZE;
    if (all_zero(buf, n)) return WAL_FRAME_ZERO;
    if (avail < WAL_BATCH_HDR_SIZE) return WAL_FRAME_NEED_MORE;
    if (wal_get_u32(buf) != WAL_BATCH_MAGIC) return WAL_FRAME_BAD;
    if (wal_get_u32(buf + 44) != crc32c(0, buf, 44)) return WAL_FRAME_BAD;
    if (wal_get_u32(buf + 40) != 0) return WAL_FRAME_BAD;
    h->count = wal_get_u32(buf + 4);
    h->salt = wal_get_u64(buf + 8);
    h->first_lsn = wal_get_u64(buf + 16);
    h->last_lsn = wal_get_u64(buf + 24);
    h->payload_len = wal_get_u32(buf + 32);
    h->payload_crc = wal_get_u32(buf + 36);
    if (h->first_lsn == 0 || h->last_lsn < h->first_lsn) return WAL_FRAME_BAD;
    if (h->count == 0 || h->count > WAL_BATCH_COUNT_MAX ||
        h->last_lsn - h->first_lsn != (uint64_t)h->count - 1)
        return WAL_FRAME_BAD;
    if (h->payload_len > WAL_BATCH_PAYLOAD_MAX ||
        h->payload_len < (uint64_t)h->count * WAL_HDR_SIZE)
        return WAL_FRAME_BAD;
    return WAL_FRAME_OK;
}

void wal_batch_hdr_encode(const wal_batch_hdr *h, uint8_t out[WAL_BATCH_HDR_SIZE])
{
    wal_put_u32(out, WAL_BATCH_MAGIC);
    wal_put_u32(out + 4, h->count);
    wal_put_u64(out + 8, h->salt);
    wal_put_u64(out + 16, h->first_lsn);
    wal_put_u64(out + 24, h->last_lsn);
    wal_put_u32(out + 32, h->payload_len);
    wal_put_u32(out + 36, h->payload_crc);
    wal_put_u32(out + 40, 0);
    wal_put_u32(out + 44, crc32c(0, out, 44));
}

int wal_salt_new(uint64_t *salt, char *err, size_t errlen)
{
    uint64_t v = 0;
    while (v == 0) {
        uint8_t b[8];
        ssize_t n = getrandom(b, sizeof b, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof b) {
            snprintf(err, errlen, "wal: getrandom: %s", n < 0 ? strerror(errno) : "short read");
            return -1;
        }
        v = wal_get_u64(b);
    }
    *salt = v;
    return 0;
}

/* ---- In-memory iterator ---- */

void wal_seg_iter_init(wal_seg_iter *it, const uint8_t *buf, size_t len)
{
    memset(it, 0, sizeof *it);
    it->buf = buf;
    it->len = len;
}

static int iter_fail(wal_seg_iter *it, size_t *off, size_t at, const char *why)
{
    *off = at;
    snprintf(it->why, sizeof it->why, "%s", why);
    return -1;
}

int wal_seg_iter_next(wal_seg_iter *it, wal_rec *r, size_t *off)
{
    const uint8_t *b = it->buf;
    size_t left = it->len - it->pos;
    if (it->pos == 0 && !it->old_format && it->salt == 0) { /* segment header */
        wal_seg_hdr sh;
        wal_frame f = wal_seg_hdr_decode(b, it->len, &sh);
        if (f == WAL_FRAME_ZERO || it->len == 0) return 0;
        if (f == WAL_FRAME_OLD) {
            it->old_format = 1;
        } else if (f != WAL_FRAME_OK) {
            return iter_fail(it, off, 0, "bad segment header");
        } else {
            it->salt = sh.salt;
            it->first_lsn = sh.first_lsn;
            it->pos = WAL_SEG_HDR_SIZE;
            left = it->len - it->pos;
        }
    }
    if (!it->old_format && it->batch_end == 0) { /* at a batch boundary */
        if (left == 0) return 0;
        wal_batch_hdr bh;
        wal_frame f = wal_batch_hdr_decode(b + it->pos, left, &bh);
        if (f == WAL_FRAME_ZERO)
            return all_zero(b + it->pos, left) ? 0 : iter_fail(it, off, it->pos, "zeros in the log");
        if (f != WAL_FRAME_OK) return iter_fail(it, off, it->pos, "bad batch header");
        if (bh.salt != it->salt) return iter_fail(it, off, it->pos, "batch header of another salt");
        if (bh.payload_len > left - WAL_BATCH_HDR_SIZE)
            return iter_fail(it, off, it->pos, "batch cut short");
        const uint8_t *p = b + it->pos + WAL_BATCH_HDR_SIZE;
        if (crc32c(0, p, bh.payload_len) != bh.payload_crc)
            return iter_fail(it, off, it->pos, "batch payload checksum mismatch");
        it->pos += WAL_BATCH_HDR_SIZE;
        it->batch_end = it->pos + bh.payload_len;
        it->batch_lsn = bh.first_lsn;
        it->batch_last = bh.last_lsn;
        left = it->len - it->pos;
    }
    if (it->old_format) {
        if (left == 0) return 0;
        if (all_zero(b + it->pos, left)) return 0;
    } else {
        left = it->batch_end - it->pos;
    }
    size_t used;
    wal_dec d = wal_record_decode(b + it->pos, left, r, &used);
    if (d != WAL_DEC_OK) return iter_fail(it, off, it->pos, wal_dec_str(d));
    if (!it->old_format) {
        if (r->lsn != it->batch_lsn || r->lsn > it->batch_last)
            return iter_fail(it, off, it->pos, "record LSN does not match its batch header");
        it->batch_lsn++;
        if (it->pos + used == it->batch_end) {
            if (it->batch_lsn - 1 != it->batch_last)
                return iter_fail(it, off, it->pos, "batch holds fewer records than its header says");
            it->batch_end = 0;
        }
    }
    *off = it->pos;
    it->pos += used;
    return 1;
}
