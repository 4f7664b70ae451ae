/* fuzz_checkpoint.c -- fuzzes the checkpoint loader
 * (src/wal/wal_checkpoint.c).
 *
 * Two drivers over the same bytes:
 *   1. The file loader: the input is written to a temp file and
 *      wal_checkpoint_load()ed into a fresh kv_store (and, when that works,
 *      again with no store: verify only).
 *   2. The incremental loader (wal_ckpt_loader_*), driven straight from a
 *      copy of the input in which the header CRC and each chunk's CRC are
 *      recomputed first, so mutations reach the length, count and entry
 *      checks behind the checksums. Each piece is handed over in a buffer of
 *      exactly its size, so ASan sees any read past it. The fixed copy is
 *      then loaded from a file too, and both drivers must agree.
 * Properties: a load that succeeds holds exactly the entries and tombstones
 * it counted; verify-only succeeds whenever a real load does, with the same
 * totals; the incremental loader accepts a buffer exactly when the file
 * loader accepts the same bytes as a file. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kv/kv_store.h"
#include "wal/crc32.h"
#include "wal/wal_checkpoint.h"

static int info_equal(const wal_checkpoint_info *a, const wal_checkpoint_info *b)
{
    return a->lsn == b->lsn && a->epoch == b->epoch && a->max_ts == b->max_ts &&
           a->entries == b->entries && a->tombstones == b->tombstones && a->bytes == b->bytes;
}

/* Loads DATA as a checkpoint file; returns the loader's result and *INFO. */
static int load_file(const uint8_t *data, size_t size, wal_checkpoint_info *info)
{
    const char *path = fuzz_tmp_write(data, size);
    char err[512] = "";
    kv_store *kv = kv_new();
    fuzz_check(kv != NULL);
    int rc = wal_checkpoint_load(path, kv, info, err, sizeof err);
    if (rc == 0) {
        fuzz_check(info->bytes == size);
        fuzz_check(kv_count(kv) == info->entries - info->tombstones);
        fuzz_check(kv_tombstones(kv) == info->tombstones);
    } else {
        fuzz_check(err[0] != '\0');
    }
    kv_free(kv);

    if (rc == 0) { /* verify-only accepts it too, with the same totals */
        wal_checkpoint_info vinfo;
        fuzz_check(wal_checkpoint_load(path, NULL, &vinfo, err, sizeof err) == 0);
        fuzz_check(info_equal(info, &vinfo));
    }
    return rc;
}

/* Recomputes the header CRC and every whole chunk's CRC in BUF. */
static void fix_crcs(uint8_t *buf, size_t size)
{
    if (size < WAL_CKPT_HDR_SIZE) return;
    wal_put_u32(buf + 44, crc32c(0, buf, 44));
    size_t off = WAL_CKPT_HDR_SIZE;
    while (size - off >= WAL_CKPT_CHUNK_HDR_SIZE) {
        uint32_t plen = wal_get_u32(buf + off);
        if (plen > size - off - WAL_CKPT_CHUNK_HDR_SIZE) return;
        wal_put_u32(buf + off + 4, crc32c(0, buf + off + 8, 8 + (size_t)plen));
        off += WAL_CKPT_CHUNK_HDR_SIZE + plen;
    }
}

/* Feeds BUF to the incremental loader piece by piece. 0 if it took a whole
 * checkpoint with nothing after it; *INFO gets the totals. */
static int load_incremental(const uint8_t *buf, size_t size, wal_checkpoint_info *info)
{
    kv_store *kv = kv_new();
    fuzz_check(kv != NULL);
    wal_ckpt_loader ld;
    wal_ckpt_loader_init(&ld, kv);
    char err[256] = "";
    int rc = -1;
    size_t off = 0;
    uint8_t h[WAL_CKPT_HDR_SIZE];
    if (size < sizeof h) goto out;
    memcpy(h, buf, sizeof h);
    if (wal_ckpt_loader_header(&ld, h, err, sizeof err) != 0) goto out;
    off = WAL_CKPT_HDR_SIZE;
    while (!ld.done) {
        uint8_t ch[WAL_CKPT_CHUNK_HDR_SIZE];
        wal_ckpt_chunk c;
        if (size - off < sizeof ch) goto out;
        memcpy(ch, buf + off, sizeof ch);
        if (wal_ckpt_loader_chunk_header(&ld, ch, &c, err, sizeof err) != 0) goto out;
        fuzz_check(c.payload_len <= WAL_CKPT_CHUNK_MAX);
        off += sizeof ch;
        if (size - off < c.payload_len) goto out;
        uint8_t *payload = malloc(c.payload_len ? c.payload_len : 1);
        fuzz_check(payload != NULL);
        memcpy(payload, buf + off, c.payload_len);
        int crc = wal_ckpt_loader_chunk(&ld, &c, payload, err, sizeof err);
        free(payload);
        if (crc != 0) goto out;
        off += c.payload_len;
        fuzz_check(ld.info.bytes == off);
    }
    /* A chunk after the trailer is refused. */
    uint8_t extra[WAL_CKPT_CHUNK_HDR_SIZE] = {0};
    wal_ckpt_chunk c;
    fuzz_check(wal_ckpt_loader_chunk_header(&ld, extra, &c, err, sizeof err) != 0);
    fuzz_check(kv_count(kv) == ld.info.entries - ld.info.tombstones);
    fuzz_check(kv_tombstones(kv) == ld.info.tombstones);
    *info = ld.info;
    rc = off == size ? 0 : -1;
out:
    kv_free(kv);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wal_checkpoint_info a = {0}, b = {0};
    int file = load_file(data, size, &b);

    uint8_t *fixed = malloc(size ? size : 1);
    fuzz_check(fixed != NULL);
    if (size) memcpy(fixed, data, size);
    fix_crcs(fixed, size);
    int inc = load_incremental(fixed, size, &a);
    /* Loading the fixed copy from a file only tells something new if the
     * fix changed a byte (file loads are the slow part of this target). */
    if (size && memcmp(fixed, data, size) != 0) file = load_file(fixed, size, &b);
    fuzz_check((inc == 0) == (file == 0));
    if (inc == 0) fuzz_check(info_equal(&a, &b));
    free(fixed);
    return 0;
}
