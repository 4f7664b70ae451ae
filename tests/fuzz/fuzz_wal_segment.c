/* fuzz_wal_segment.c -- fuzzes the segment framing (src/wal/wal_segment.c):
 * the segment and batch header decoders and the in-memory segment iterator
 * that tools and tests read segments with.
 *
 * The input is a whole segment file. It is read twice: as given, and in a
 * copy where the header CRCs, batch payload CRCs and record CRCs are
 * recomputed along the way, so that mutated lengths, counts, salts and LSNs
 * get past the checksums and reach the checks behind them. Properties:
 *   - a header that decodes re-encodes to exactly the bytes decoded, and its
 *     fields are within the documented bounds;
 *   - the iterator only moves forward, stays inside the buffer, yields only
 *     records that decode on their own at the offset it reports, with
 *     LSNs that rise by one inside a batch, and ends (0 or -1) with a reason
 *     for -1. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wal/crc32.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"

static void check_headers(const uint8_t *buf, size_t len)
{
    wal_seg_hdr sh;
    if (wal_seg_hdr_decode(buf, len, &sh) == WAL_FRAME_OK) {
        uint8_t out[WAL_SEG_HDR_SIZE];
        wal_seg_hdr_encode(&sh, out);
        fuzz_check(memcmp(out, buf, WAL_SEG_HDR_SIZE) == 0);
        fuzz_check(sh.first_lsn != 0 && sh.salt != 0);
    }
    for (size_t at = 0; at + WAL_BATCH_HDR_SIZE <= len && at < 4096; at += 4) {
        wal_batch_hdr bh;
        if (wal_batch_hdr_decode(buf + at, len - at, &bh) != WAL_FRAME_OK) continue;
        uint8_t out[WAL_BATCH_HDR_SIZE];
        wal_batch_hdr_encode(&bh, out);
        fuzz_check(memcmp(out, buf + at, WAL_BATCH_HDR_SIZE) == 0);
        fuzz_check(bh.first_lsn >= 1 && bh.last_lsn >= bh.first_lsn);
        fuzz_check(bh.count >= 1 && bh.count <= WAL_BATCH_COUNT_MAX);
        fuzz_check(bh.last_lsn - bh.first_lsn + 1 == bh.count);
        fuzz_check(bh.payload_len <= WAL_BATCH_PAYLOAD_MAX);
        fuzz_check((uint64_t)bh.count * WAL_HDR_SIZE <= bh.payload_len);
    }
}

/* Recomputes the CRCs of the framing the iterator will meet. */
static void fix_crcs(uint8_t *buf, size_t len)
{
    if (len < WAL_SEG_HDR_SIZE || memcmp(buf, WAL_SEG_MAGIC, 4) != 0) return;
    wal_put_u32(buf + 36, crc32c(0, buf, 36));
    size_t at = WAL_SEG_HDR_SIZE;
    while (len - at >= WAL_BATCH_HDR_SIZE) {
        uint8_t *h = buf + at;
        uint32_t plen = wal_get_u32(h + 32);
        if (plen > len - at - WAL_BATCH_HDR_SIZE) {
            wal_put_u32(h + 44, crc32c(0, h, 44));
            return;
        }
        uint8_t *p = h + WAL_BATCH_HDR_SIZE;
        for (size_t r = 0; plen - r >= WAL_HDR_SIZE;) {
            uint32_t rlen = wal_get_u32(p + r);
            if (rlen < WAL_HDR_SIZE || rlen > plen - r) break;
            wal_put_u32(p + r + 4, crc32c(0, p + r + 8, rlen - 8));
            r += rlen;
        }
        wal_put_u32(h + 36, crc32c(0, p, plen));
        wal_put_u32(h + 44, crc32c(0, h, 44));
        at += WAL_BATCH_HDR_SIZE + plen;
    }
}

static void iterate(const uint8_t *buf, size_t len)
{
    wal_seg_iter it;
    wal_seg_iter_init(&it, buf, len);
    size_t last_pos = 0;
    uint64_t prev_lsn = 0;
    for (int steps = 0;; steps++) {
        wal_rec r;
        size_t off = 0;
        int rc = wal_seg_iter_next(&it, &r, &off);
        fuzz_check(rc >= -1 && rc <= 1);
        fuzz_check(it.pos <= len && it.pos >= last_pos);
        if (rc == 0) return;
        if (rc < 0) {
            fuzz_check(it.why[0] != '\0' && off <= len);
            return;
        }
        fuzz_check(off < len && off >= last_pos && it.pos > off);
        wal_rec again;
        size_t used;
        fuzz_check(wal_record_decode(buf + off, len - off, &again, &used) == WAL_DEC_OK);
        fuzz_check(used == it.pos - off && again.lsn == r.lsn);
        if (!it.old_format && prev_lsn && it.batch_end != 0) fuzz_check(r.lsn == prev_lsn + 1);
        prev_lsn = it.batch_end != 0 ? r.lsn : 0;
        last_pos = it.pos;
        fuzz_check(steps < (int)(len / WAL_HDR_SIZE) + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = calloc(1, size ? size : 1);
    fuzz_check(copy != NULL);
    if (size) memcpy(copy, data, size);
    check_headers(copy, size);
    iterate(copy, size);
    fix_crcs(copy, size);
    check_headers(copy, size);
    iterate(copy, size);
    free(copy);
    return 0;
}
