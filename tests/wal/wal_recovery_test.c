/* wal_recovery_test.c -- start-up recovery: torn tails are cut (at every
 * byte offset of the last record), corruption is refused with file and
 * offset (every bit of a middle record), LSN gaps are refused, multi-segment
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

/* Byte offset of record LSN in a single segment starting at FIRST. */
static size_t rec_offset(uint64_t first, uint64_t lsn)
{
    uint8_t b[REC_BUF_MAX];
    size_t off = 0;
    for (uint64_t l = first; l < lsn; l++)
        off += gen_rec(l, b);
    return off;
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
                          info.truncated_bytes == 0 && info.wal_bytes == rec_offset(1, 251));
    test_cond("digest equal", same_state(kv, 250));
    kv_free(kv);
}

/* Cut the file at every byte offset inside the last record: always exactly
 * N-1 records, the file cut back to the record's start. */
static void test_torn_tail_every_offset(void)
{
    test_section("torn tail at every offset of the last record");
    char dir[128], err[512], path[WAL_PATH_MAX];
    uint64_t n = getenv("RKV_TEST_SMALL") ? 12 : 40;
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, n, 0) == 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    size_t start = rec_offset(1, n);
    test_cond("layout", orig && len == rec_offset(1, n + 1) && len - start > WAL_HDR_SIZE);
    int rc_ok = 1, lsn_ok = 1, cut_ok = 1, digest_ok = 1;
    kv_store *want = ref_kv(n - 1);
    for (size_t cut = start + 1; cut < len && orig; cut++) {
        write_file(path, orig, cut);
        wal_recovery_info info;
        kv_store *kv;
        if (recover(dir, &kv, &info, err, sizeof err) != 0) {
            rc_ok = 0;
            printf("cut %zu: %s\n", cut, err);
        }
        if (info.last_lsn != n - 1 || info.records_replayed != n - 1) lsn_ok = 0;
        if (info.truncated_bytes != cut - start || file_size(path) != (long long)start) cut_ok = 0;
        if (kv_digest(kv) != kv_digest(want) || kv_count(kv) != kv_count(want)) digest_ok = 0;
        kv_free(kv);
    }
    test_cond("every cut recovers", rc_ok);
    test_cond("exactly N-1 records", lsn_ok);
    test_cond("file truncated to the last whole record", cut_ok);
    test_cond("digest of N-1 records", digest_ok);

    /* Cut exactly at the boundary: nothing to drop. */
    write_file(path, orig, start);
    wal_recovery_info info;
    test_cond("cut at boundary", recover(dir, NULL, &info, err, sizeof err) == 0 &&
                                     info.last_lsn == n - 1 && info.truncated_bytes == 0);

    /* After a torn-tail recovery the writer continues the log. */
    write_file(path, orig, start + 10);
    test_cond("recover torn",
              recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == n - 1);
    wal_writer *w = wal_writer_open(dir, 0, info.last_lsn + 1, NULL, err, sizeof err);
    test_cond("writer reopens", w && append(w, n, n + 20) == 0 && wal_writer_close(w) == 0);
    kv_store *kv;
    test_cond("log continues", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                   info.last_lsn == n + 20 && same_state(kv, n + 20));
    kv_free(kv);

    /* A torn tail followed by zeros (a file extended but never written),
     * in what is now the last segment (the writer started one at N). */
    free(orig);
    wal_segment_path(path, sizeof path, dir, n);
    orig = read_file(path, &len);
    uint8_t *z = calloc(1, len + 4096);
    memcpy(z, orig, len);
    write_file(path, z, len + 4096);
    test_cond("zero tail released, not counted as a torn write",
              recover(dir, NULL, &info, err, sizeof err) == 0 && info.truncated_bytes == 0 &&
                  file_size(path) == (long long)len);
    free(z);
    free(orig);
    kv_free(want);
}

/* Flip every bit of a middle record: recovery refuses, names the file and
 * the record's offset, and changes nothing on disk. */
static void test_corrupt_middle_every_bit(void)
{
    test_section("every flipped bit of a middle record is corruption");
    char dir[128], err[512], path[WAL_PATH_MAX], want_off[64];
    uint64_t n = getenv("RKV_TEST_SMALL") ? 12 : 30, mid = n / 2;
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, n, 0) == 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    uint8_t *b = malloc(len);
    size_t start = rec_offset(1, mid), end = rec_offset(1, mid + 1);
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

    /* A valid record with the wrong LSN or a falling epoch is corruption. */
    memcpy(b, orig, len);
    uint8_t r[REC_BUF_MAX];
    size_t rl = gen_rec(mid + 1, r);
    if (rl == end - start) {
        memcpy(b + start, r, rl);
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

    /* A flipped bit in the last record of a non-final segment. */
    char path[WAL_PATH_MAX];
    wal_segment_path(path, sizeof path, dir, lsns[1]);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    size_t last = rec_offset(lsns[1], lsns[2] - 1);
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
    write_file(path, orig, len);
    test_cond("restored", recover(dir, NULL, &info, err, sizeof err) == 0 && info.last_lsn == n);

    /* A missing middle segment is a gap, reported at the next file. */
    char next[WAL_PATH_MAX];
    wal_segment_path(next, sizeof next, dir, lsns[2]);
    rename(path, "/tmp/rkv-rec-moved.wal");
    test_cond("gap refused", recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, next) &&
                                 strstr(err, "offset 0"));
    rename("/tmp/rkv-rec-moved.wal", path);

    /* A torn tail in the last segment of many. */
    wal_segment_path(path, sizeof path, dir, lsns[nseg - 1]);
    long long sz = file_size(path);
    test_cond("cut last", truncate(path, sz - 3) == 0);
    test_cond("torn tail of last segment", recover(dir, &kv, &info, err, sizeof err) == 0 &&
                                               info.last_lsn == n - 1 && same_state(kv, n - 1));
    kv_free(kv);
    free(orig);
    free(lsns);
}

/* Garbage after a torn record, then a valid later record: not a torn tail. */
static void test_valid_after_damage(void)
{
    test_section("damage followed by a valid record");
    char dir[128], err[512], path[WAL_PATH_MAX];
    new_data_dir(dir, sizeof dir);
    test_cond("write", write_wal(dir, 20, 0) == 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    uint8_t *b = calloc(1, len + 1000);
    memcpy(b, orig, len);
    size_t n2 = gen_rec(22, b + len + 100); /* LSN 21 lost, 22 intact after zeros */
    write_file(path, b, len + 100 + n2);
    wal_recovery_info info;
    char want[64];
    snprintf(want, sizeof want, "offset %zu ", len);
    test_cond("refused", recover(dir, NULL, &info, err, sizeof err) < 0 && strstr(err, want) &&
                             strstr(err, "followed by a valid record"));
    test_cond("not truncated", file_size(path) == (long long)(len + 100 + n2));
    free(b);
    free(orig);
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
    test_checkpoint_and_tail();
    test_checkpoint_above_wal();
    rm_rf(g_root);
    return test_report();
}
