/* wal_recovery_test.c -- start-up recovery: a torn last batch is cut (at
 * every byte offset, and with a hole of zeros or garbage anywhere in it),
 * corruption is refused with file and offset (every bit of a synced batch
 * followed by a valid one, non-final damage, a missing middle segment), a
 * value holding a record and a batch header never yields the record when
 * torn, format-1 (records only) segments still recover, multi-segment
 * logs and checkpoint + WAL tail replay to the same digest, and a corrupt
 * checkpoint falls back to an older one or to the full WAL. */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../testhelp.h"
#include "kv/kv_store.h"
#include "wal/crc32.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_record.h"
#include "wal/wal_recovery.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

#define REC_BUF_MAX 512 /* one generated record, encoded */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char g_root[] = "/tmp/rkv-rec-XXXXXX";
static int g_case;
static rkv_log g_log; /* RKV_TEST_VERBOSE=1: log recovery */
static const rkv_log *g_logp = NULL;

/* A fresh, not yet existing data dir under the test root. */
static void new_data_dir(char *out, size_t len)
{
    snprintf(out, len, "%s/d%d", g_root, g_case++);
}

/* Record LSN: puts over 37 keys with varying value sizes, a delete every 9th,
 * epochs rising every 100 records, timestamps rising, 3 origin nodes. */
static size_t gen_rec(uint64_t lsn, uint8_t *out)
{
    char key[32];
    uint8_t val[200];
    snprintf(key, sizeof key, "key:%08u", (unsigned)(lsn % 37));
    size_t vlen = (size_t)((lsn * 7) % 120);
    for (size_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)(lsn + i);
    int del = lsn % 9 == 0;
    wal_rec r = {.lsn = lsn,
                 .epoch = 1 + lsn / 100,
                 .ts = 1000000 + lsn * 3,
                 .node_id = (uint32_t)(1 + lsn % 3),
                 .op = del ? WAL_OP_DEL : WAL_OP_PUT,
                 .klen = (uint32_t)strlen(key),
                 .vlen = del ? 0 : (uint32_t)vlen,
                 .key = (const uint8_t *)key,
                 .val = val};
    return wal_record_encode(&r, out);
}

static void apply_rec(kv_store *kv, uint64_t lsn)
{
    uint8_t b[REC_BUF_MAX];
    size_t n = gen_rec(lsn, b), used;
    wal_rec r;
    if (wal_record_decode(b, n, &r, &used) != WAL_DEC_OK) abort();
    kv_version v = {r.ts, r.node_id};
    if (r.op == WAL_OP_PUT)
        kv_apply_put(kv, r.key, r.klen, r.val, r.vlen, v);
    else
        kv_apply_del(kv, r.key, r.klen, v);
}

/* The state after records 1..K. */
static kv_store *ref_kv(uint64_t k)
{
    kv_store *kv = kv_new();
    for (uint64_t l = 1; l <= k; l++)
        apply_rec(kv, l);
    return kv;
}

static int same_state(kv_store *a, uint64_t k)
{
    kv_store *r = ref_kv(k);
    int same = kv_digest(a) == kv_digest(r) && kv_count(a) == kv_count(r) &&
               kv_tombstones(a) == kv_tombstones(r);
    if (!same)
        printf("digest mismatch: got %016" PRIx64 " (%zu keys) want %016" PRIx64 " (%zu keys)\n",
               kv_digest(a), kv_count(a), kv_digest(r), kv_count(r));
    kv_free(r);
    return same;
}

/* Appends records FROM..TO in batches of 7 to the writer. */
static int append(wal_writer *w, uint64_t from, uint64_t to)
{
    char err[256];
    uint8_t buf[7 * REC_BUF_MAX];
    for (uint64_t l = from; l <= to;) {
        size_t len = 0;
        uint64_t first = l;
        for (int i = 0; i < 7 && l <= to; i++, l++)
            len += gen_rec(l, buf + len);
        if (wal_writer_write(w, buf, len, first, l - 1, err, sizeof err) != 0 ||
            wal_writer_sync(w, err, sizeof err) != 0) {
            printf("append: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static int write_wal(const char *dir, uint64_t n, uint64_t seg_bytes)
{
    char err[256];
    wal_writer *w = wal_writer_open(dir, seg_bytes, 1, NULL, err, sizeof err);
    if (!w) return -1;
    int rc = append(w, 1, n);
    return wal_writer_close(w) == 0 ? rc : -1;
}

/* Recovers DIR into a fresh store; returns rc, the store in *kv_out. */
static int recover(const char *dir, kv_store **kv_out, wal_recovery_info *info, char *err,
                   size_t errlen)
{
    kv_store *kv = kv_new();
    int rc = wal_recover(dir, kv, info, g_logp, err, errlen);
    if (rc != 0 && g_logp) log_error(g_logp, "%s", err);
    if (kv_out)
        *kv_out = kv;
    else
        kv_free(kv);
    return rc;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static int write_file(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = len ? fwrite(b, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Layout of a segment starting at FIRST written by append(): a segment
 * header, then batches of 7 records (LSNs FIRST+7k .. FIRST+7k+6). */
#define BATCH_RECS 7

static uint64_t batch_first(uint64_t first, uint64_t lsn)
{
    return first + (lsn - first) / BATCH_RECS * BATCH_RECS;
}

/* Byte offset of record LSN (or, for LSN one past the end, the end). */
static size_t rec_offset(uint64_t first, uint64_t lsn)
{
    uint8_t b[REC_BUF_MAX];
    size_t off = WAL_SEG_HDR_SIZE;
    for (uint64_t l = first; l < lsn; l++) {
        if ((l - first) % BATCH_RECS == 0) off += WAL_BATCH_HDR_SIZE;
        off += gen_rec(l, b);
    }
    if ((lsn - first) % BATCH_RECS == 0) off += WAL_BATCH_HDR_SIZE; /* lsn starts a batch */
    return off;
}

/* Byte offset of the header of the batch holding LSN. */
static size_t batch_offset(uint64_t first, uint64_t lsn)
{
    return rec_offset(first, batch_first(first, lsn)) - WAL_BATCH_HDR_SIZE;
}

/* Byte offset of the end of the segment's data when it holds FIRST..LAST. */
static size_t seg_end(uint64_t first, uint64_t last)
{
    return rec_offset(first, last + 1) - ((last + 1 - first) % BATCH_RECS == 0 ? WAL_BATCH_HDR_SIZE : 0);
}

/* Recomputes the payload CRC of the batch at OFF in B (after a test edited
 * a record and fixed the record's own CRC). */
static void fix_batch_crc(uint8_t *b, size_t off)
{
    uint32_t plen = wal_get_u32(b + off + 32);
    wal_put_u32(b + off + 36, crc32c(0, b + off + WAL_BATCH_HDR_SIZE, plen));
    wal_put_u32(b + off + 44, crc32c(0, b + off, 44));
}

/* Encodes a batch header for LEN bytes of records P (LSNs FIRST..LAST). */
static void make_batch_hdr(uint8_t *out, uint64_t salt, uint64_t first, uint64_t last,
                           const uint8_t *p, size_t len)
{
    wal_batch_hdr h = {.salt = salt,
                       .first_lsn = first,
                       .last_lsn = last,
                       .count = (uint32_t)(last - first + 1),
                       .payload_len = (uint32_t)len,
                       .payload_crc = crc32c(0, p, len)};
    wal_batch_hdr_encode(&h, out);
}

static uint64_t seg_salt(const uint8_t *b, size_t len)
{
    wal_seg_hdr h;
    return wal_seg_hdr_decode(b, len, &h) == WAL_FRAME_OK ? h.salt : 0;
}

/* Writes records FIRST..LAST as a format-1 segment (records only, no
 * headers), as rkv wrote them before the batch framing. */
static int write_old_segment(const char *dir, uint64_t first, uint64_t last)
{
    char path[WAL_PATH_MAX], wal[WAL_PATH_MAX];
    mkdir(dir, 0755);
    wal_dir_path(wal, sizeof wal, dir);
    mkdir(wal, 0755);
    wal_segment_path(path, sizeof path, dir, first);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = 1;
    for (uint64_t l = first; l <= last; l++) {
        uint8_t b[REC_BUF_MAX];
        size_t n = gen_rec(l, b);
        ok &= fwrite(b, 1, n, f) == n;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void test_empty(void)
{
    test_section("missing and empty data dirs");
    char dir[128], err[512];
    wal_recovery_info info;
    kv_store *kv;
    new_data_dir(dir, sizeof dir);
    test_cond("missing dir", recover(dir, &kv, &info, err, sizeof err) == 0 && info.last_lsn == 0 &&
                                 kv_count(kv) == 0 && info.snapshot_lsn == 0 && info.segments == 0);
    kv_free(kv);
    mkdir(dir, 0755);
    test_cond("empty dir", recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == 0);
    char wal[160];
    snprintf(wal, sizeof wal, "%s/wal", dir);
    mkdir(wal, 0755);
    test_cond("empty wal dir",
              recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == 0);
    wal_writer *w = wal_writer_open(dir, 0, 1, NULL, err, sizeof err);
    wal_writer_close(w);
    test_cond("one empty segment", recover(dir, NULL, &info, err, sizeof err) == 0 &&
                                       info.last_lsn == 0 && info.segments == 1);
    kv = kv_new();
    kv_version v = {1, 1};
    kv_apply_put(kv, "x", 1, "y", 1, v);
    test_cond("non-empty store refused", wal_recover(dir, kv, &info, NULL, err, sizeof err) < 0);
    kv_free(kv);
}

static void test_full_replay(void)
{
    test_section("single segment replay");
    char dir[128], err[512];
    new_data_dir(dir, sizeof dir);
    test_cond("write 250", write_wal(dir, 250, 0) == 0);
    wal_recovery_info info;
    kv_store *kv;
    test_cond("recover", recover(dir, &kv, &info, err, sizeof err) == 0);
    test_cond("info", info.last_lsn == 250 && info.records_replayed == 250 &&
                          info.last_epoch == 3 && info.max_ts == 1000000 + 250 * 3 &&
                          info.truncated_bytes == 0 && info.wal_bytes == seg_end(1, 250));
    test_cond("digest equal", same_state(kv, 250));
    kv_free(kv);
}

/* Recovers DIR after the last batch (LSNs BFIRST..N, at offset START) was
 * damaged into a file of LEN bytes: must give exactly BFIRST-1 records, the
 * file cut back to START. Returns 1 if so. */
static int torn_ok(const char *dir, const char *path, uint64_t bfirst, size_t start, size_t len,
                   kv_store *want, const char *what, size_t at)
{
    char err[512];
    wal_recovery_info info;
    kv_store *kv;
    int ok = 1;
    if (recover(dir, &kv, &info, err, sizeof err) != 0) {
        printf("%s %zu: %s\n", what, at, err);
        ok = 0;
    }
    if (info.last_lsn != bfirst - 1 || info.records_replayed != bfirst - 1) ok = 0;
    if (file_size(path) != (long long)start) ok = 0;
    if (len > start && info.truncated_bytes != len - start) ok = 0;
    if (kv_digest(kv) != kv_digest(want) || kv_count(kv) != kv_count(want)) ok = 0;
    kv_free(kv);
    return ok;
}

/* Cut the file at every byte offset inside the last batch, and punch a
 * hole (zeros, or garbage) at every offset of it with the rest intact:
 * always exactly the records before that batch, the file cut back to the
 * batch's start. None of its records was acknowledged (the writer syncs a
 * batch before writing the next), so dropping them all is right. */
static void test_torn_tail_every_offset(void)
{
    test_section("torn last batch: every cut, every hole");
    char dir[128], err[512], path[WAL_PATH_MAX];
    uint64_t n = getenv("RKV_TEST_SMALL") ? 12 : 40; /* last batch: 36..40 */
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, n, 0) == 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    uint64_t bfirst = batch_first(1, n);
    size_t start = batch_offset(1, n);
    test_cond("layout", orig && len == seg_end(1, n) && bfirst < n &&
                            len - start > WAL_BATCH_HDR_SIZE + 2 * WAL_HDR_SIZE);
    kv_store *want = ref_kv(bfirst - 1);
    int cut_ok = 1;
    for (size_t cut = start + 1; cut < len && orig; cut++) {
        write_file(path, orig, cut);
        if (!torn_ok(dir, path, bfirst, start, cut, want, "cut", cut)) cut_ok = 0;
    }
    test_cond("every cut inside the last batch drops exactly that batch", cut_ok);

    /* Holes: 16 bytes of zeros or of garbage at every offset of the batch,
     * the bytes after them intact (pages written out of order). */
    uint8_t *b = malloc(len);
    int zero_ok = 1, junk_ok = 1;
    for (size_t at = start; at < len && orig && b; at++) {
        size_t hole = len - at < 16 ? len - at : 16;
        memcpy(b, orig, len);
        memset(b + at, 0, hole);
        write_file(path, b, len);
        if (!torn_ok(dir, path, bfirst, start, len, want, "zero hole", at)) zero_ok = 0;
        memcpy(b, orig, len);
        for (size_t i = 0; i < hole; i++) b[at + i] = (uint8_t)(0xA5 ^ (at + i));
        write_file(path, b, len);
        if (!torn_ok(dir, path, bfirst, start, len, want, "garbage hole", at)) junk_ok = 0;
    }
    test_cond("a zero hole anywhere in the last batch drops exactly that batch", zero_ok);
    test_cond("a garbage hole anywhere in the last batch drops exactly that batch", junk_ok);
    free(b);

    /* Cut exactly at the boundary: nothing to drop. */
    write_file(path, orig, start);
    wal_recovery_info info;
    test_cond("cut at boundary", recover(dir, NULL, &info, err, sizeof err) == 0 &&
                                     info.last_lsn == bfirst - 1 && info.truncated_bytes == 0);

    /* After a torn-tail recovery the writer continues the log. */
    write_file(path, orig, start + 10);
    test_cond("recover torn",
              recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == bfirst - 1);
    wal_writer *w = wal_writer_open(dir, 0, info.last_lsn + 1, NULL, err, sizeof err);
    test_cond("writer reopens", w && append(w, bfirst, n + 20) == 0 && wal_writer_close(w) == 0);
    kv_store *kv;
    test_cond("log continues", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                   info.last_lsn == n + 20 && same_state(kv, n + 20));
    kv_free(kv);

    /* A torn batch followed by zeros (a file extended but never written),
     * in what is now the last segment (the writer started one at BFIRST). */
    free(orig);
    wal_segment_path(path, sizeof path, dir, bfirst);
    orig = read_file(path, &len);
    uint8_t *z = calloc(1, len + 4096);
    memcpy(z, orig, len);
    write_file(path, z, len + 4096);
    test_cond("zero tail released, not counted as a torn write",
              recover(dir, NULL, &info, err, sizeof err) == 0 && info.truncated_bytes == 0 &&
                  file_size(path) == (long long)len && info.last_lsn == n + 20);

    /* The first batch of the last segment torn: the segment is cut back to
     * its header, and the writer reuses it. */
    size_t first_end = rec_offset(bfirst, bfirst + BATCH_RECS) - WAL_BATCH_HDR_SIZE;
    write_file(path, orig, first_end - 3);
    test_cond("torn first batch", recover(dir, NULL, &info, err, sizeof err) == 0 &&
                                      info.last_lsn == bfirst - 1 &&
                                      file_size(path) == WAL_SEG_HDR_SIZE);
    w = wal_writer_open(dir, 0, info.last_lsn + 1, NULL, err, sizeof err);
    test_cond("writer reuses the header-only segment",
              w && append(w, bfirst, n + 20) == 0 && wal_writer_close(w) == 0);
    test_cond("and it recovers", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                     info.last_lsn == n + 20 && same_state(kv, n + 20));
    kv_free(kv);
    /* A segment header torn at creation (nothing behind it) is dropped. */
    write_file(path, orig, 20);
    test_cond("torn segment header dropped", recover(dir, NULL, &info, err, sizeof err) == 0 &&
                                                 info.last_lsn == bfirst - 1 &&
                                                 file_size(path) == 0);
    free(z);
    free(orig);
    kv_free(want);
}

/* Flip every bit of a middle batch, header and records: recovery refuses
 * (a valid batch follows it, so it was synced: damage, not a torn write),
 * names the file and the batch's offset, and changes nothing on disk. */
static void test_corrupt_middle_every_bit(void)
{
    test_section("every flipped bit of a synced batch followed by a valid one is corruption");
    char dir[128], err[512], path[WAL_PATH_MAX], want_off[64];
    uint64_t n = getenv("RKV_TEST_SMALL") ? 21 : 35, mid = n / 2;
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, n, 0) == 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    uint8_t *b = malloc(len);
    size_t start = batch_offset(1, mid);
    size_t end = rec_offset(1, batch_first(1, mid) + BATCH_RECS) - WAL_BATCH_HDR_SIZE;
    snprintf(want_off, sizeof want_off, "offset %zu ", start);
    int refused = 1, named = 1, untouched = 1;
    for (size_t i = start; i < end && orig; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, orig, len);
            b[i] ^= (uint8_t)(1u << bit);
            write_file(path, b, len);
            wal_recovery_info info;
            if (recover(dir, NULL, &info, err, sizeof err) == 0) refused = 0;
            if (!strstr(err, path) || !strstr(err, want_off)) {
                if (named) printf("byte %zu bit %d: %s\n", i, bit, err);
                named = 0;
            }
            if (file_size(path) != (long long)len) untouched = 0;
        }
    }
    test_cond("every flip refused", refused);
    test_cond("error names file and offset", named);
    test_cond("nothing truncated", untouched);

    /* A valid record with the wrong LSN inside a batch whose checksums
     * match is corruption (written so, not torn). */
    memcpy(b, orig, len);
    uint8_t r[REC_BUF_MAX];
    size_t rs = rec_offset(1, mid), rl = gen_rec(mid + 1, r);
    if (rl == rec_offset(1, mid + 1) - rs) {
        memcpy(b + rs, r, rl);
        fix_batch_crc(b, start);
        write_file(path, b, len);
        wal_recovery_info info;
        test_cond("out-of-order LSN refused",
                  recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, "expected LSN"));
    }
    write_file(path, orig, len);
    free(b);
    free(orig);
}

static void test_epoch_regression(void)
{
    test_section("epoch must not fall");
    char dir[128], err[512], path[WAL_PATH_MAX];
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, 150, 0) == 0); /* epochs 1 then 2 */
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *b = read_file(path, &len);
    size_t off = rec_offset(1, 120);
    wal_put_u64(b + off + 16, 1); /* record 120 claims epoch 1 after epoch 2 */
    uint32_t rlen = wal_get_u32(b + off);
    wal_put_u32(b + off + 4, crc32c(0, b + off + 8, rlen - 8));
    fix_batch_crc(b, batch_offset(1, 120));
    write_file(path, b, len);
    wal_recovery_info info;
    test_cond("refused", recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, "epoch"));
    free(b);
}

static void test_multi_segment(void)
{
    test_section("multi-segment");
    char dir[128], err[512];
    new_data_dir(dir, sizeof dir);
    uint64_t n = 300;
    test_cond("write", write_wal(dir, n, 2000) == 0);
    uint64_t *lsns;
    size_t nseg;
    wal_segments_list(dir, &lsns, &nseg, err, sizeof err);
    test_cond("several segments", nseg >= 5);
    wal_recovery_info info;
    kv_store *kv;
    test_cond("recover", recover(dir, &kv, &info, err, sizeof err) == 0 && info.last_lsn == n &&
                             info.segments == nseg && same_state(kv, n));
    kv_free(kv);

    /* A flipped bit in the last batch of a non-final segment. */
    char path[WAL_PATH_MAX];
    wal_segment_path(path, sizeof path, dir, lsns[1]);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    size_t last = batch_offset(lsns[1], lsns[2] - 1);
    orig[len - 1] ^= 0x10;
    write_file(path, orig, len);
    char want[64];
    snprintf(want, sizeof want, "offset %zu ", last);
    test_cond("non-final damage refused", recover(dir, NULL, &info, err, sizeof err) < 0 &&
                                              strstr(err, path) && strstr(err, want) &&
                                              strstr(err, "non-final"));
    orig[len - 1] ^= 0x10;
    /* A non-final segment cut short: its tail is not a torn tail. */
    write_file(path, orig, len - 5);
    test_cond("non-final cut refused",
              recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, path));
    /* Nor are zeros at the end of a non-final segment. */
    uint8_t *z = calloc(1, len + 512);
    memcpy(z, orig, len);
    write_file(path, z, len + 512);
    test_cond("non-final zero tail refused",
              recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, path));
    free(z);
    /* A damaged segment header of a non-final segment. */
    orig[20] ^= 1;
    write_file(path, orig, len);
    test_cond("non-final bad segment header refused",
              recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, path) &&
                  strstr(err, "offset 0"));
    orig[20] ^= 1;
    write_file(path, orig, len);
    test_cond("restored", recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == n);

    /* A missing middle segment is a gap, reported at the next file. */
    char next[WAL_PATH_MAX];
    wal_segment_path(next, sizeof next, dir, lsns[2]);
    rename(path, "/tmp/rkv-rec-moved.wal");
    test_cond("missing middle segment refused", recover(dir, NULL, &info, err, sizeof err) < 0 &&
                                                    strstr(err, next) && strstr(err, "offset 0"));
    rename("/tmp/rkv-rec-moved.wal", path);

    /* A torn tail in the last segment of many: its last batch goes. */
    wal_segment_path(path, sizeof path, dir, lsns[nseg - 1]);
    long long sz = file_size(path);
    uint64_t bf = batch_first(lsns[nseg - 1], n);
    test_cond("cut last", truncate(path, sz - 3) == 0);
    test_cond("torn tail of last segment", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                               info.last_lsn == bf - 1 && same_state(kv, bf - 1));
    kv_free(kv);
    free(orig);
    free(lsns);
}

/* Garbage after the last batch, then a valid later batch: not a torn tail. */
static void test_valid_after_damage(void)
{
    test_section("damage followed by a valid batch");
    char dir[128], err[512], path[WAL_PATH_MAX];
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, 20, 0) == 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    uint8_t *b = calloc(1, len + 1000);
    memcpy(b, orig, len);
    /* LSN 21's batch lost (zeros), LSN 22's intact after it. */
    size_t at = len + 100;
    size_t n2 = gen_rec(22, b + at + WAL_BATCH_HDR_SIZE);
    make_batch_hdr(b + at, seg_salt(orig, len), 22, 22, b + at + WAL_BATCH_HDR_SIZE, n2);
    size_t total = at + WAL_BATCH_HDR_SIZE + n2;
    write_file(path, b, total);
    wal_recovery_info info;
    char want[64];
    snprintf(want, sizeof want, "offset %zu ", len);
    test_cond("refused", recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, want) &&
                             strstr(err, "followed by a valid batch"));
    test_cond("not truncated", file_size(path) == (long long)total);
    /* The same batch with another salt proves nothing: torn tail. */
    make_batch_hdr(b + at, seg_salt(orig, len) ^ 1, 22, 22, b + at + WAL_BATCH_HDR_SIZE, n2);
    write_file(path, b, total);
    test_cond("another salt's batch is no evidence",
              recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == 20 &&
                  file_size(path) == (long long)len);
    free(b);
    free(orig);
}

/* A client value holding a whole well-formed record and a whole
 * well-formed batch header (of a salt the client made up): when the batch
 * carrying it is torn, recovery drops that batch and never yields the
 * embedded record, wherever the tear is. */
static void test_embedded_record(void)
{
    test_section("a value holding a record and a batch header, torn");
    char dir[128], err[512], path[WAL_PATH_MAX];
    new_data_dir(dir, sizeof dir);
    uint64_t n = 14;
    test_cond("write", write_wal(dir, n, 0) == 0);
    /* The value: a batch header for LSNs n+2..n+2, then record n+2
     * ("evil" -> "x"), then padding. */
    uint8_t val[400];
    memset(val, 'p', sizeof val);
    wal_rec e = {.lsn = n + 2, .epoch = 1 + (n + 2) / 100, .ts = 1000000 + (n + 2) * 3,
                 .node_id = 1, .op = WAL_OP_PUT, .klen = 4, .vlen = 1,
                 .key = (const uint8_t *)"evil", .val = (const uint8_t *)"x"};
    size_t el = wal_record_encode(&e, val + 100 + WAL_BATCH_HDR_SIZE);
    make_batch_hdr(val + 100, 0x1234567890abcdefull, n + 2, n + 2,
                   val + 100 + WAL_BATCH_HDR_SIZE, el);
    /* Record n+1 carries the value, in a batch of its own. */
    char err2[256];
    wal_writer *w = wal_writer_open(dir, 0, n + 1, NULL, err2, sizeof err2);
    uint8_t rec[WAL_HDR_SIZE + 16 + sizeof val];
    wal_rec r = {.lsn = n + 1, .epoch = 1 + (n + 1) / 100, .ts = 1000000 + (n + 1) * 3,
                 .node_id = 1, .op = WAL_OP_PUT, .klen = 5, .vlen = sizeof val,
                 .key = (const uint8_t *)"value", .val = val};
    size_t rl = wal_record_encode(&r, rec);
    int ok = w && wal_writer_write(w, rec, rl, n + 1, n + 1, err2, sizeof err2) == 0 &&
             wal_writer_close(w) == 0;
    test_cond("written", ok);
    wal_segment_path(path, sizeof path, dir, n + 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    size_t start = WAL_SEG_HDR_SIZE, vstart = start + WAL_BATCH_HDR_SIZE + WAL_HDR_SIZE + 5;
    test_cond("layout", orig && len == start + WAL_BATCH_HDR_SIZE + rl);
    /* Tear it: cut anywhere, or a hole anywhere before the embedded bytes. */
    int never = 1, recovers = 1;
    uint8_t *b = malloc(len);
    for (size_t at = start; at < len && orig && b; at++) {
        for (int kind = 0; kind < 2; kind++) {
            size_t flen = len;
            memcpy(b, orig, len);
            if (kind == 0) {
                if (at == start) continue;
                flen = at; /* cut */
            } else if (at < vstart + 100) {
                memset(b + at, 0, len - at < 8 ? len - at : 8); /* hole */
            } else {
                continue;
            }
            write_file(path, b, flen);
            wal_recovery_info info;
            kv_store *kv;
            int rc = recover(dir, &kv, &info, err, sizeof err);
            if (rc != 0) {
                if (recovers) printf("%s at %zu: %s\n", kind ? "hole" : "cut", at, err);
                recovers = 0;
            }
            kv_entry_view v;
            if (kv_get(kv, "evil", 4, &v) || info.last_lsn > n) never = 0;
            kv_free(kv);
        }
    }
    test_cond("every tear recovers", recovers);
    test_cond("the embedded record is never yielded", never);
    free(b);
    free(orig);
}

/* Segments written before the batch framing (records only) still recover,
 * torn tail included, and a log continues from them in the new format. */
static void test_old_format(void)
{
    test_section("format-1 segments (records only)");
    char dir[128], err[512], path[WAL_PATH_MAX];
    new_data_dir(dir, sizeof dir);
    test_cond("old segments written", write_old_segment(dir, 1, 30) == 0 &&
                                          write_old_segment(dir, 31, 50) == 0);
    wal_recovery_info info;
    kv_store *kv;
    test_cond("recovered", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                               info.last_lsn == 50 && same_state(kv, 50));
    kv_free(kv);
    /* A torn record at the end of the last old segment is cut. */
    wal_segment_path(path, sizeof path, dir, 31);
    long long sz = file_size(path);
    test_cond("cut", truncate(path, sz - 7) == 0);
    test_cond("old torn tail cut", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                       info.last_lsn == 49 && same_state(kv, 49) &&
                                       info.truncated_bytes > 0);
    kv_free(kv);
    wal_writer *w = wal_writer_open(dir, 0, 50, NULL, err, sizeof err);
    test_cond("new segment after old ones", w && append(w, 50, 80) == 0 && wal_writer_close(w) == 0);
    test_cond("mixed log recovers", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                        info.last_lsn == 80 && same_state(kv, 80));
    kv_free(kv);
    /* Damage in an old non-final segment is still corruption. */
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *b = read_file(path, &len);
    b[len / 2] ^= 4;
    write_file(path, b, len);
    test_cond("old non-final damage refused",
              recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, path));
    free(b);
}

static void test_checkpoint_and_tail(void)
{
    test_section("checkpoint + WAL tail, fallbacks");
    char dir[128], err[512];
    new_data_dir(dir, sizeof dir);
    uint64_t n = 400, k1 = 150, k2 = 290;
    wal_writer *w = wal_writer_open(dir, 1500, 1, NULL, err, sizeof err);
    test_cond("open", w != NULL);
    if (!w) return;
    append(w, 1, k1);
    kv_store *s = ref_kv(k1);
    test_cond("checkpoint 1", wal_checkpoint_write(dir, s, k1, 1 + k1 / 100, 1000000 + k1 * 3, NULL,
                                                   err, sizeof err) == 0);
    kv_free(s);
    append(w, k1 + 1, k2);
    s = ref_kv(k2);
    test_cond("checkpoint 2", wal_checkpoint_write(dir, s, k2, 1 + k2 / 100, 1000000 + k2 * 3, NULL,
                                                   err, sizeof err) == 0);
    kv_free(s);
    append(w, k2 + 1, n);
    wal_writer_close(w);

    wal_recovery_info info;
    kv_store *kv;
    test_cond("recover from newest",
              recover(dir, &kv, &info, err, sizeof err) == 0 && info.snapshot_lsn == k2 &&
                  info.records_replayed == n - k2 && info.last_lsn == n && same_state(kv, n));
    kv_free(kv);

    /* Corrupt the newest checkpoint: falls back to the older one. */
    char p2[WAL_PATH_MAX], p1[WAL_PATH_MAX];
    wal_checkpoint_path(p2, sizeof p2, dir, k2);
    wal_checkpoint_path(p1, sizeof p1, dir, k1);
    size_t l2, l1;
    uint8_t *c2 = read_file(p2, &l2), *c1 = read_file(p1, &l1);
    c2[l2 / 2] ^= 0x01;
    write_file(p2, c2, l2);
    test_cond("fallback to older", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                       info.snapshot_lsn == k1 && info.checkpoints_skipped == 1 &&
                                       info.records_replayed == n - k1 && same_state(kv, n));
    kv_free(kv);
    /* Both corrupt (the older one truncated): the full WAL. */
    write_file(p1, c1, l1 - 10);
    test_cond("fallback to full WAL", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                          info.snapshot_lsn == 0 && info.checkpoints_skipped == 2 &&
                                          info.records_replayed == n && same_state(kv, n));
    kv_free(kv);
    /* A checkpoint whose name and header disagree is not used. */
    char p3[WAL_PATH_MAX];
    wal_checkpoint_path(p3, sizeof p3, dir, k2 + 1);
    c2[l2 / 2] ^= 0x01;
    write_file(p3, c2, l2);
    test_cond("renamed checkpoint skipped", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                                info.checkpoints_skipped == 3 && same_state(kv, n));
    kv_free(kv);
    unlink(p3);
    write_file(p2, c2, l2);
    write_file(p1, c1, l1);

    /* Remove the WAL covered by the checkpoints, as the server will. */
    w = wal_writer_open(dir, 1500, n + 1, NULL, err, sizeof err);
    int removed = w ? wal_writer_remove_below(w, k1 + 1, 0, err, sizeof err) : -1;
    wal_writer_close(w);
    test_cond("segments removed", removed > 0);
    test_cond("recover after removal", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                           info.snapshot_lsn == k2 && info.last_lsn == n &&
                                           same_state(kv, n));
    kv_free(kv);
    /* Newest corrupt: the older one still connects to the retained WAL. */
    c2[100] ^= 0x80;
    write_file(p2, c2, l2);
    test_cond("fallback after removal", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                            info.snapshot_lsn == k1 && same_state(kv, n));
    kv_free(kv);
    /* Both gone: the WAL alone has a hole at its start, so refuse. */
    unlink(p1);
    test_cond("WAL without its checkpoint refused",
              recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, "offset 0") &&
                  strstr(err, "expected 1"));
    free(c1);
    free(c2);
}

/* A checkpoint above the end of the WAL (state installed from elsewhere). */
static void test_checkpoint_above_wal(void)
{
    test_section("checkpoint beyond the WAL");
    char dir[128], err[512];
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, 50, 0) == 0);
    kv_store *s = ref_kv(80);
    test_cond("checkpoint 80",
              wal_checkpoint_write(dir, s, 80, 1, 1000000 + 240, NULL, err, sizeof err) == 0);
    kv_free(s);
    wal_recovery_info info;
    kv_store *kv;
    test_cond("recovers to the checkpoint", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                                info.last_lsn == 80 && info.records_replayed == 0 &&
                                                same_state(kv, 80));
    kv_free(kv);
    wal_writer *w = wal_writer_open(dir, 0, 81, NULL, err, sizeof err);
    test_cond("continue at 81", w && append(w, 81, 90) == 0 && wal_writer_close(w) == 0);
    test_cond("old segment skipped", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                         info.last_lsn == 90 && info.records_replayed == 10 &&
                                         same_state(kv, 90));
    kv_free(kv);
}

int main(void)
{
    if (getenv("RKV_TEST_VERBOSE")) {
        log_init(&g_log, 1, LOG_DEBUG);
        g_logp = &g_log;
    }
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_empty();
    test_full_replay();
    test_torn_tail_every_offset();
    test_corrupt_middle_every_bit();
    test_epoch_regression();
    test_multi_segment();
    test_valid_after_damage();
    test_embedded_record();
    test_old_format();
    test_checkpoint_and_tail();
    test_checkpoint_above_wal();
    rm_rf(g_root);
    return test_report();
}
