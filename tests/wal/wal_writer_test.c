/* wal_writer_test.c -- the segment writer: durable LSN only after sync,
 * rotation on batch boundaries, reopen continues, bad batches refused,
 * segment and batch headers on disk, a write never behind an unsynced one,
 * short writes and EINTR continued, a failed write truncated back, a failed
 * fdatasync poisoning the writer, old segments removed as told. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../testhelp.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

/* ---- Fault injection ----
 * The test binary defines pwrite and fdatasync itself, so the writer's calls
 * land here (the executable's definitions win over libc's) and can be made
 * to fail; otherwise they go straight to the system calls. */
enum { PW_NORMAL, PW_SHORT, PW_EINTR_ONCE, PW_NOSPC_AFTER_PART };
static int g_pwrite_mode = PW_NORMAL;
static int g_pwrite_calls;
static int g_fail_sync;
static int g_syncs;

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    g_pwrite_calls++;
    switch (g_pwrite_mode) {
    case PW_SHORT: /* at most 7 bytes per call */
        if (n > 7) n = 7;
        break;
    case PW_EINTR_ONCE:
        g_pwrite_mode = PW_NORMAL;
        errno = EINTR;
        return -1;
    case PW_NOSPC_AFTER_PART:
        if (g_pwrite_calls > 1) {
            errno = ENOSPC;
            return -1;
        }
        if (n > 100) n = 100;
        break;
    }
    return (ssize_t)syscall(SYS_pwrite64, fd, buf, n, off);
}

/* The writer's one-call pwritev of a batch header and its records goes
 * through pwrite above too, as a write of the first buffer only: a short
 * write the writer then completes with pwrite, so every fault mode still
 * reaches every batch. */
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (cnt < 1) return 0;
    return pwrite(fd, iov[0].iov_base, iov[0].iov_len, off);
}

int fdatasync(int fd)
{
    g_syncs++;
    if (g_fail_sync) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_fdatasync, fd);
}

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

/* Bytes on disk of one batch of 5 records of 110 bytes, and of a segment
 * holding two of them. */
#define BATCH_5 (WAL_BATCH_HDR_SIZE + 5 * 110)
#define SEG_1B (WAL_SEG_HDR_SIZE + BATCH_5)
#define SEG_2B (WAL_SEG_HDR_SIZE + 2 * BATCH_5)

/* Encodes records FIRST..FIRST+N-1 into BUF (big enough); returns bytes. */
static size_t make_batch(uint8_t *buf, uint64_t first, int n, size_t vlen)
{
    size_t len = 0;
    uint8_t val[256];
    for (int i = 0; i < n; i++) {
        char key[32];
        uint64_t lsn = first + (uint64_t)i;
        snprintf(key, sizeof key, "key:%08" PRIu64, lsn);
        memset(val, 'a' + (int)(lsn % 26), vlen);
        wal_rec r = {.lsn = lsn,
                     .epoch = 1,
                     .ts = 1000 + lsn,
                     .node_id = 1,
                     .op = WAL_OP_PUT,
                     .klen = (uint32_t)strlen(key),
                     .vlen = (uint32_t)vlen,
                     .key = (const uint8_t *)key,
                     .val = val};
        len += wal_record_encode(&r, buf + len);
    }
    return len;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Decodes every segment; checks LSNs are dense from 1 and each segment is
 * named by its first record. Returns the number of records, -1 on error. */
static long long read_all(const char *dir, uint64_t *total_bytes)
{
    uint64_t *lsns;
    size_t n;
    char err[256];
    if (wal_segments_list(dir, &lsns, &n, err, sizeof err) != 0) return -1;
    uint64_t want = n ? lsns[0] : 1;
    long long count = 0;
    *total_bytes = 0;
    for (size_t i = 0; i < n && count >= 0; i++) {
        char path[WAL_PATH_MAX];
        wal_segment_path(path, sizeof path, dir, lsns[i]);
        FILE *f = fopen(path, "rb");
        long long sz = file_size(path);
        uint8_t *buf = malloc((size_t)sz + 1);
        size_t got = f && buf ? fread(buf, 1, (size_t)sz, f) : 0;
        if (f) fclose(f);
        if (got != (size_t)sz || lsns[i] != want) count = -1;
        wal_seg_iter it;
        wal_seg_iter_init(&it, buf, got);
        for (;;) {
            wal_rec r;
            size_t off;
            int rc = wal_seg_iter_next(&it, &r, &off);
            if (rc < 0 || (rc == 1 && r.lsn != want)) count = -1;
            if (rc != 1) break;
            want++;
            count++;
        }
        /* Every segment is in the batch format, with its name in the
         * header. The segment being written ends in preallocated zeros; any
         * other must end exactly at its last batch. */
        if (it.old_format || it.first_lsn != lsns[i] || (i + 1 < n && it.pos != got)) count = -1;
        *total_bytes += it.pos;
        free(buf);
    }
    free(lsns);
    return count;
}

static char *new_dir(void)
{
    static char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "/tmp/rkv-walw-XXXXXX");
    return mkdtemp(tmpl) ? tmpl : NULL;
}

static void test_durable_after_sync(const char *dir)
{
    test_section("durable LSN only after sync");
    char err[256];
    uint8_t buf[8192];
    wal_writer *w = wal_writer_open(dir, 0, 1, NULL, err, sizeof err);
    test_cond("open", w != NULL);
    if (!w) return;
    test_cond("fresh: durable 0, next 1",
              wal_writer_durable_lsn(w) == 0 && wal_writer_next_lsn(w) == 1);
    size_t len = make_batch(buf, 1, 10, 50);
    test_cond("write", wal_writer_write(w, buf, len, 1, 10, err, sizeof err) == 0);
    test_cond("written, not durable",
              wal_writer_durable_lsn(w) == 0 && wal_writer_next_lsn(w) == 11);
    test_cond("sync", wal_writer_sync(w, err, sizeof err) == 0);
    test_cond("durable after sync", wal_writer_durable_lsn(w) == 10);
    len = make_batch(buf, 11, 10, 50);
    test_cond("write 2", wal_writer_write(w, buf, len, 11, 20, err, sizeof err) == 0);
    test_cond("still 10", wal_writer_durable_lsn(w) == 10);
    test_cond("sync 2",
              wal_writer_sync(w, err, sizeof err) == 0 && wal_writer_durable_lsn(w) == 20);
    test_cond("sync with nothing new", wal_writer_sync(w, err, sizeof err) == 0);

    /* Batches that do not follow, or lie about their LSNs, are refused. */
    len = make_batch(buf, 25, 3, 10);
    test_cond("gap refused", wal_writer_write(w, buf, len, 25, 27, err, sizeof err) < 0);
    len = make_batch(buf, 21, 3, 10);
    test_cond("wrong last refused", wal_writer_write(w, buf, len, 21, 24, err, sizeof err) < 0);
    test_cond("partial record refused",
              wal_writer_write(w, buf, len - 1, 21, 23, err, sizeof err) < 0);
    test_cond("empty refused", wal_writer_write(w, buf, 0, 21, 21, err, sizeof err) < 0);
    test_cond("state unchanged", wal_writer_next_lsn(w) == 21 && wal_writer_durable_lsn(w) == 20);
    /* Unsynced records are synced by close. */
    test_cond("write 3", wal_writer_write(w, buf, len, 21, 23, err, sizeof err) == 0);
    test_cond("close", wal_writer_close(w) == 0);
    uint64_t bytes;
    test_cond("23 records on disk", read_all(dir, &bytes) == 23);
    test_cond("close(NULL)", wal_writer_close(NULL) == 0);
}

static void test_rotation_and_reopen(const char *dir)
{
    test_section("rotation and reopen");
    char err[256];
    uint8_t buf[8192];
    /* 5 records of 48+12+50 = 110 bytes: 550 per batch, 598 with its
     * header; rotation at 1000 bytes happens before every third batch. */
    wal_writer *w = wal_writer_open(dir, 1000, 1, NULL, err, sizeof err);
    test_cond("open", w != NULL);
    if (!w) return;
    uint64_t lsn = 1;
    int ok = 1;
    for (int b = 0; b < 12; b++) {
        size_t len = make_batch(buf, lsn, 5, 50);
        ok &= wal_writer_write(w, buf, len, lsn, lsn + 4, err, sizeof err) == 0;
        ok &= wal_writer_sync(w, err, sizeof err) == 0;
        lsn += 5;
    }
    test_cond("12 batches written", ok && wal_writer_durable_lsn(w) == 60);
    uint64_t *lsns;
    size_t n;
    test_cond("list", wal_segments_list(dir, &lsns, &n, err, sizeof err) == 0);
    int names_ok = n == 6;
    for (size_t i = 0; i < n && names_ok; i++)
        names_ok = lsns[i] == 1 + 10 * i;
    test_cond("6 segments named 1, 11, 21, ... (sorted)", names_ok);
    free(lsns);
    uint64_t bytes;
    test_cond("all records dense across segments", read_all(dir, &bytes) == 60);
    /* Per segment: its header and two batches of a header and 5 records. */
    test_cond("bytes tracked", wal_writer_bytes(w) == bytes && bytes == 6 * SEG_2B);
    test_cond("close", wal_writer_close(w) == 0);

    /* Reopen at the next LSN: a new segment, sizes rescanned. */
    w = wal_writer_open(dir, 1000, 61, NULL, err, sizeof err);
    test_cond("reopen", w != NULL);
    if (!w) return;
    test_cond("reopen: durable 60, bytes rescanned (plus the new segment's header)",
              wal_writer_durable_lsn(w) == 60 && wal_writer_bytes(w) == bytes + WAL_SEG_HDR_SIZE);
    size_t len = make_batch(buf, 61, 5, 50);
    test_cond("write after reopen", wal_writer_write(w, buf, len, 61, 65, err, sizeof err) == 0 &&
                                        wal_writer_sync(w, err, sizeof err) == 0);
    char path[WAL_PATH_MAX];
    wal_segment_path(path, sizeof path, dir, 61);
    test_cond("new segment 61",
              wal_writer_bytes(w) == bytes + SEG_1B && file_size(path) >= (long long)SEG_1B);
    test_cond("65 records dense", read_all(dir, &bytes) == 65);

    /* remove_below: segments 1,11,21,31,41,51 are full, 61 is current. */
    test_cond("nothing below 11", wal_writer_remove_below(w, 10, 0, err, sizeof err) == 0);
    test_cond("segment 1 holds only < 11", wal_writer_remove_below(w, 11, 0, err, sizeof err) == 1);
    /* Below 51: 11, 21, 31, 41 (SEG_2B bytes each); SEG_2B retained keeps 41. */
    test_cond("retention keeps the newest",
              wal_writer_remove_below(w, 51, SEG_2B, err, sizeof err) == 3);
    test_cond("list after", wal_segments_list(dir, &lsns, &n, err, sizeof err) == 0);
    test_cond("41, 51, 61 left", n == 3 && lsns[0] == 41 && lsns[1] == 51 && lsns[2] == 61);
    free(lsns);
    test_cond("never the current segment",
              wal_writer_remove_below(w, UINT64_MAX, 0, err, sizeof err) == 2);
    test_cond("only current left", wal_writer_bytes(w) == SEG_1B);
    test_cond("close", wal_writer_close(w) == 0);
    test_cond("close trims the preallocated space", file_size(path) == SEG_1B);

    /* Open refuses when a non-empty segment is in the way. */
    w = wal_writer_open(dir, 1000, 61, NULL, err, sizeof err);
    test_cond("non-empty segment named next LSN refused", w == NULL && strstr(err, "in the way"));
    w = wal_writer_open(dir, 1000, 50, NULL, err, sizeof err);
    test_cond("segment above next LSN refused", w == NULL);
    w = wal_writer_open(dir, 1000, 0, NULL, err, sizeof err);
    test_cond("next LSN 0 refused", w == NULL);
}

/* A write that fails part-way (here: the file size limit, EFBIG after a
 * short write) leaves the segment as it was before the batch. */
static void test_failed_write(const char *dir)
{
    test_section("failed write is truncated back");
    char err[256];
    uint8_t buf[8192];
    wal_writer *w = wal_writer_open(dir, 0, 1, NULL, err, sizeof err);
    test_cond("open", w != NULL);
    if (!w) return;
    /* These count and fail individual writes: no zero-filling in between. */
    wal_writer_set_prealloc(w, 0);
    size_t len = make_batch(buf, 1, 5, 50);
    test_cond("first batch", wal_writer_write(w, buf, len, 1, 5, err, sizeof err) == 0 &&
                                 wal_writer_sync(w, err, sizeof err) == 0);
    char path[WAL_PATH_MAX];
    wal_segment_path(path, sizeof path, dir, 1);

    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = SEG_1B + 100; /* the next batch is cut after 100 bytes */
    signal(SIGXFSZ, SIG_IGN);
    int set = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    len = make_batch(buf, 6, 5, 50);
    int rc = wal_writer_write(w, buf, len, 6, 10, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    test_cond("limit set", set);
    test_cond("write fails", rc < 0 && strstr(err, "write") != NULL);
    test_cond("file back to its size before the batch", file_size(path) == SEG_1B);
    test_cond("LSNs unchanged", wal_writer_next_lsn(w) == 6 && wal_writer_durable_lsn(w) == 5);
    test_cond("bytes unchanged", wal_writer_bytes(w) == SEG_1B);
    test_cond("retry succeeds", wal_writer_write(w, buf, len, 6, 10, err, sizeof err) == 0 &&
                                    wal_writer_sync(w, err, sizeof err) == 0);
    uint64_t bytes;
    test_cond("log intact", read_all(dir, &bytes) == 10 && bytes == SEG_2B);
    test_cond("close", wal_writer_close(w) == 0);
}

static void test_injected_faults(const char *dir)
{
    test_section("injected short writes, EINTR, ENOSPC, fdatasync failure");
    char err[256], path[WAL_PATH_MAX];
    uint8_t buf[8192];
    wal_writer *w = wal_writer_open(dir, 0, 1, NULL, err, sizeof err);
    test_cond("open", w != NULL);
    if (!w) return;
    /* These count and fail individual writes: no zero-filling in between. */
    wal_writer_set_prealloc(w, 0);
    wal_segment_path(path, sizeof path, dir, 1);
    size_t len = make_batch(buf, 1, 5, 50);
    g_pwrite_mode = PW_SHORT;
    g_pwrite_calls = 0;
    int rc = wal_writer_write(w, buf, len, 1, 5, err, sizeof err);
    g_pwrite_mode = PW_NORMAL;
    /* The batch header, then the records, 7 bytes per call. */
    test_cond("short writes are continued",
              rc == 0 && g_pwrite_calls == (int)((WAL_BATCH_HDR_SIZE + 6) / 7 + (len + 6) / 7));
    g_pwrite_mode = PW_EINTR_ONCE;
    len = make_batch(buf, 6, 5, 50);
    test_cond("EINTR is retried", wal_writer_write(w, buf, len, 6, 10, err, sizeof err) == 0);
    test_cond("sync", wal_writer_sync(w, err, sizeof err) == 0 && wal_writer_durable_lsn(w) == 10);
    uint64_t bytes;
    test_cond("bytes on disk intact", read_all(dir, &bytes) == 10 && bytes == SEG_2B);

    g_pwrite_mode = PW_NOSPC_AFTER_PART;
    g_pwrite_calls = 0;
    len = make_batch(buf, 11, 5, 50);
    rc = wal_writer_write(w, buf, len, 11, 15, err, sizeof err);
    g_pwrite_mode = PW_NORMAL;
    test_cond("ENOSPC after a partial write is an error", rc < 0 && strstr(err, "No space"));
    test_cond("segment truncated back",
              file_size(path) == SEG_2B && wal_writer_next_lsn(w) == 11);
    test_cond("not poisoned: retry works",
              wal_writer_write(w, buf, len, 11, 15, err, sizeof err) == 0);

    /* fdatasync fails: nothing more is ever reported durable. */
    g_fail_sync = 1;
    rc = wal_writer_sync(w, err, sizeof err);
    g_fail_sync = 0;
    test_cond("failed fdatasync is an error", rc < 0 && strstr(err, "fdatasync"));
    test_cond("durable LSN did not move", wal_writer_durable_lsn(w) == 10);
    test_cond("sync refused after poison",
              wal_writer_sync(w, err, sizeof err) < 0 && wal_writer_durable_lsn(w) == 10);
    len = make_batch(buf, 16, 1, 50);
    test_cond("write refused after poison",
              wal_writer_write(w, buf, len, 16, 16, err, sizeof err) < 0 &&
                  strstr(err, "writer failed"));
    test_cond("remove refused after poison",
              wal_writer_remove_below(w, 100, 0, err, sizeof err) < 0);
    test_cond("close reports the failure", wal_writer_close(w) < 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long long sz = file_size(path);
    uint8_t *b = f && sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    *len = b ? fread(b, 1, (size_t)sz, f) : 0;
    if (f) fclose(f);
    return b;
}

/* The framing on disk: a segment header naming the segment with a salt, a
 * batch header per write carrying that salt and the LSN range; a write
 * never follows an unsynced one; a segment holding no record is reused. */
static void test_framing(const char *dir)
{
    test_section("segment and batch headers");
    char err[256], path[WAL_PATH_MAX];
    uint8_t buf[8192];
    wal_writer *w = wal_writer_open(dir, 0, 7, NULL, err, sizeof err);
    test_cond("open at 7", w != NULL);
    if (!w) return;
    size_t len = make_batch(buf, 7, 3, 20);
    g_syncs = 0;
    int rc = wal_writer_write(w, buf, len, 7, 9, err, sizeof err);
    test_cond("write without sync", rc == 0 && g_syncs == 0);
    size_t len2 = make_batch(buf + len, 10, 2, 20);
    rc = wal_writer_write(w, buf + len, len2, 10, 11, err, sizeof err);
    test_cond("a second write syncs the first before it is written",
              rc == 0 && g_syncs == 1 && wal_writer_durable_lsn(w) == 9);
    test_cond("close", wal_writer_close(w) == 0);
    wal_segment_path(path, sizeof path, dir, 7);
    size_t n;
    uint8_t *b = slurp(path, &n);
    wal_seg_hdr sh;
    wal_batch_hdr b1, b2;
    int ok = b && n == WAL_SEG_HDR_SIZE + 2 * WAL_BATCH_HDR_SIZE + len + len2;
    ok = ok && wal_seg_hdr_decode(b, n, &sh) == WAL_FRAME_OK && sh.first_lsn == 7 && sh.salt != 0;
    ok = ok && wal_batch_hdr_decode(b + WAL_SEG_HDR_SIZE, n, &b1) == WAL_FRAME_OK &&
         b1.salt == sh.salt && b1.first_lsn == 7 && b1.last_lsn == 9 && b1.count == 3 &&
         b1.payload_len == len;
    size_t off2 = WAL_SEG_HDR_SIZE + WAL_BATCH_HDR_SIZE + len;
    ok = ok && wal_batch_hdr_decode(b + off2, n - off2, &b2) == WAL_FRAME_OK &&
         b2.salt == sh.salt && b2.first_lsn == 10 && b2.last_lsn == 11 &&
         memcmp(b + off2 + WAL_BATCH_HDR_SIZE, buf + len, len2) == 0;
    test_cond("headers on disk", ok);
    free(b);

    /* A segment named the next LSN that holds at most a header is reused
     * (recovery leaves one when it cuts a torn first batch). */
    wal_segment_path(path, sizeof path, dir, 12);
    FILE *f = fopen(path, "wb");
    test_cond("header-only segment made", f && fwrite("RKVWALS2", 1, 8, f) == 8 && fclose(f) == 0);
    w = wal_writer_open(dir, 0, 12, NULL, err, sizeof err);
    test_cond("reused", w != NULL);
    len = make_batch(buf, 12, 1, 5);
    test_cond("written", w && wal_writer_write(w, buf, len, 12, 12, err, sizeof err) == 0);
    wal_writer_close(w);
    uint64_t bytes;
    test_cond("log reads back", read_all(dir, &bytes) == 6);
    b = slurp(path, &n);
    wal_seg_hdr sh2;
    test_cond("fresh header and salt", b && wal_seg_hdr_decode(b, n, &sh2) == WAL_FRAME_OK &&
                                           sh2.first_lsn == 12 && sh2.salt != sh.salt);
    free(b);

    /* A write above the batch maximum becomes several batches, each synced
     * before the next is written; durable only after wal_writer_sync. */
    w = wal_writer_open(dir, 0, 13, NULL, err, sizeof err);
    test_cond("open at 13", w != NULL);
    if (!w) return;
    wal_writer_set_batch_max(w, 250); /* records here are 110 bytes: 2 per batch */
    len = make_batch(buf, 13, 5, 50);
    g_syncs = 0;
    rc = wal_writer_write(w, buf, len, 13, 17, err, sizeof err);
    test_cond("split write", rc == 0 && g_syncs == 2 && wal_writer_durable_lsn(w) == 12);
    test_cond("sync", wal_writer_sync(w, err, sizeof err) == 0 && wal_writer_durable_lsn(w) == 17);
    wal_writer_set_batch_max(w, 1); /* at least one record per batch */
    len = make_batch(buf, 18, 2, 50);
    test_cond("a record above the maximum goes alone",
              wal_writer_write(w, buf, len, 18, 19, err, sizeof err) == 0);
    wal_writer_close(w);
    wal_segment_path(path, sizeof path, dir, 13);
    b = slurp(path, &n);
    size_t at = WAL_SEG_HDR_SIZE;
    uint64_t want_first[] = {13, 15, 17, 18, 19}, want_last[] = {14, 16, 17, 18, 19};
    ok = b != NULL;
    for (int i = 0; i < 5 && ok; i++) {
        wal_batch_hdr bh;
        ok = wal_batch_hdr_decode(b + at, n - at, &bh) == WAL_FRAME_OK &&
             bh.first_lsn == want_first[i] && bh.last_lsn == want_last[i];
        at += WAL_BATCH_HDR_SIZE + (ok ? bh.payload_len : 0);
    }
    test_cond("batches 13-14, 15-16, 17, 18, 19", ok && at == n);
    test_cond("log reads back", read_all(dir, &bytes) == 13);
    free(b);
}

static void test_names(void)
{
    test_section("segment names");
    uint64_t v;
    test_cond("parse", wal_segment_name_parse("00000000000000000042.wal", &v) == 1 && v == 42);
    test_cond("max",
              wal_segment_name_parse("18446744073709551615.wal", &v) == 1 && v == UINT64_MAX);
    test_cond("overflow", wal_segment_name_parse("18446744073709551616.wal", &v) == 0);
    test_cond("short", wal_segment_name_parse("0000000000000000042.wal", &v) == 0);
    test_cond("suffix", wal_segment_name_parse("00000000000000000042.wal.tmp", &v) == 0);
    test_cond("other", wal_segment_name_parse("snapshot-00000000000000000042.snap", &v) == 0);
    char p[64];
    test_cond("format", wal_segment_path(p, sizeof p, "/d", 7) == 0 &&
                            strcmp(p, "/d/wal/00000000000000000007.wal") == 0);
    test_cond("format too long", wal_segment_path(p, 10, "/d", 7) < 0);
    uint64_t *l;
    size_t n;
    char err[128];
    test_cond("missing dir lists nothing",
              wal_segments_list("/nonexistent/rkv", &l, &n, err, sizeof err) == 0 && n == 0 && !l);
}

int main(void)
{
    char *d = new_dir();
    if (!d) {
        perror("mkdtemp");
        return 1;
    }
    char root[64], a[128], b[128], c[128], e[128], g[128];
    snprintf(root, sizeof root, "%s", d);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b/nested", root); /* data dir created on open */
    snprintf(c, sizeof c, "%s/c", root);
    snprintf(e, sizeof e, "%s/e", root);
    snprintf(g, sizeof g, "%s/g", root);
    char bparent[128];
    snprintf(bparent, sizeof bparent, "%s/b", root);
    mkdir(bparent, 0755);
    test_names();
    test_durable_after_sync(a);
    test_rotation_and_reopen(b);
    test_failed_write(c);
    test_injected_faults(e);
    test_framing(g);
    rm_rf(root);
    return test_report();
}
