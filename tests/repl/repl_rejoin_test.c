/* repl_rejoin_test.c -- the catch-up cursor over segments made by hand and
 * by the writer: it never decodes bytes it read before the writer had
 * finished them (a partial record or batch read up to the previous LSN, then
 * completed on disk, reads back whole), it yields the records of both
 * segment formats exactly as stored, skips batches before its start point,
 * follows rotation, and still reports real damage. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../testhelp.h"
#include "net/iobuf.h"
#include "repl/repl_rejoin.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

#define REC_MAX 512
#define ZERO_TAIL 4096 /* preallocated zeros behind what is written */

static char g_root[] = "/tmp/rkv-rejoin-XXXXXX";
static int g_case;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void new_dir(char *out, size_t len)
{
    snprintf(out, len, "%s/d%d", g_root, g_case++);
    mkdir(out, 0755);
    char wal[WAL_PATH_MAX];
    wal_dir_path(wal, sizeof wal, out);
    mkdir(wal, 0755);
}

static size_t gen_rec(uint64_t lsn, uint8_t *out)
{
    char key[32];
    uint8_t val[200];
    snprintf(key, sizeof key, "key:%llu", (unsigned long long)lsn);
    size_t vlen = 20 + (size_t)(lsn * 13) % 150;
    for (size_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)(lsn * 7 + i);
    wal_rec r = {.lsn = lsn, .epoch = 1, .ts = 1000 + lsn, .node_id = 1, .op = WAL_OP_PUT,
                 .klen = (uint32_t)strlen(key), .vlen = (uint32_t)vlen,
                 .key = (const uint8_t *)key, .val = val};
    return wal_record_encode(&r, out);
}

static int put_file(const char *path, const uint8_t *b, size_t len, size_t zeros)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    int ok = write(fd, b, len) == (ssize_t)len;
    if (zeros) ok &= ftruncate(fd, (off_t)(len + zeros)) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

static int pwrite_file(const char *path, const uint8_t *b, size_t len, size_t at)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    int ok = pwrite(fd, b, len, (off_t)at) == (ssize_t)len;
    return close(fd) == 0 && ok ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *b = f && stat(path, &st) == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    *len = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
    if (f) fclose(f);
    return b;
}

/* Checks that OUT holds exactly records FROM..TO as gen_rec makes them. */
static int holds(const iobuf *out, uint64_t from, uint64_t to)
{
    size_t off = out->pos;
    for (uint64_t l = from; l <= to; l++) {
        uint8_t b[REC_MAX];
        size_t n = gen_rec(l, b);
        if (out->len - off < n || memcmp(out->p + off, b, n) != 0) return 0;
        off += n;
    }
    return off == out->len;
}

/* Format 1 (records only): records 1..3 whole, record 4 cut after K bytes
 * with zeros behind it (the writer's preallocated space). The cursor reads
 * up to LSN 3, record 4 is completed on disk, the cursor reads up to 4. */
static int partial_record_v1(size_t k, size_t zeros, char *why, size_t whylen)
{
    char dir[128], path[WAL_PATH_MAX], err[256];
    new_dir(dir, sizeof dir);
    wal_segment_path(path, sizeof path, dir, 1);
    uint8_t buf[5 * REC_MAX];
    size_t len = 0;
    for (uint64_t l = 1; l <= 3; l++) len += gen_rec(l, buf + len);
    size_t r4 = len, n4 = gen_rec(4, buf + len);
    int ok = put_file(path, buf, r4 + k, zeros) == 0;
    repl_cursor c;
    iobuf out = {0};
    ok = ok && repl_cursor_open(&c, dir, 1, err, sizeof err) == CURSOR_OK;
    long got = ok ? repl_cursor_read(&c, &out, 3, 1 << 20, err, sizeof err) : -1;
    ok = ok && got == 3 && holds(&out, 1, 3);
    ok = ok && pwrite_file(path, buf + r4 + k, n4 - k, r4 + k) == 0;
    out.pos = out.len = 0;
    got = ok ? repl_cursor_read(&c, &out, 4, 1 << 20, err, sizeof err) : -1;
    if (ok && !(got == 1 && holds(&out, 4, 4)))
        snprintf(why, whylen, "cut %zu: got %ld: %s", k, got, got < 0 ? err : "");
    ok = ok && got == 1 && holds(&out, 4, 4);
    repl_cursor_close(&c);
    iobuf_free(&out);
    return ok;
}

static void test_partial_record_v1(void)
{
    test_section("format 1: a record read half-written, then completed");
    char why[512] = "";
    int all = 1, nozero = 1;
    uint8_t b[REC_MAX];
    size_t n4 = gen_rec(4, b);
    for (size_t k = 0; k < n4; k++) {
        if (!partial_record_v1(k, ZERO_TAIL, why, sizeof why)) {
            if (all) printf("%s\n", why);
            all = 0;
        }
        if (!partial_record_v1(k, 0, why, sizeof why)) nozero = 0;
    }
    test_cond("every cut of the record, zeros behind: read again, whole", all);
    test_cond("every cut of the record at the end of the file", nozero);
}

/* Format 2: the writer writes batch A (1..3) and batch B (4..6) into a
 * scratch log; the segment under test holds A and the first K bytes of B
 * with zeros behind, the cursor reads up to 3, then B is completed and the
 * cursor reads up to 6. */
static void test_partial_batch_v2(void)
{
    test_section("format 2: a batch read half-written, then completed");
    char scratch[128], path[WAL_PATH_MAX], err[256];
    new_dir(scratch, sizeof scratch);
    wal_writer *w = wal_writer_open(scratch, 0, 1, NULL, err, sizeof err);
    uint8_t buf[8 * REC_MAX];
    size_t la = 0, lb = 0;
    for (uint64_t l = 1; l <= 3; l++) la += gen_rec(l, buf + la);
    for (uint64_t l = 4; l <= 6; l++) lb += gen_rec(l, buf + la + lb);
    int ok = w && wal_writer_write(w, buf, la, 1, 3, err, sizeof err) == 0 &&
             wal_writer_write(w, buf + la, lb, 4, 6, err, sizeof err) == 0 &&
             wal_writer_close(w) == 0;
    test_cond("scratch log", ok);
    wal_segment_path(path, sizeof path, scratch, 1);
    size_t len;
    uint8_t *seg = slurp(path, &len);
    size_t bstart = WAL_SEG_HDR_SIZE + WAL_BATCH_HDR_SIZE + la;
    test_cond("layout", seg && len == bstart + WAL_BATCH_HDR_SIZE + lb);
    int all = 1, upto_prev = 1;
    for (size_t k = 0; seg && k < len - bstart; k++) {
        char dir[128], p[WAL_PATH_MAX];
        new_dir(dir, sizeof dir);
        wal_segment_path(p, sizeof p, dir, 1);
        repl_cursor c;
        iobuf out = {0};
        int step = put_file(p, seg, bstart + k, ZERO_TAIL) == 0 &&
                   repl_cursor_open(&c, dir, 1, err, sizeof err) == CURSOR_OK;
        long got = step ? repl_cursor_read(&c, &out, 3, 1 << 20, err, sizeof err) : -1;
        if (!(got == 3 && holds(&out, 1, 3))) upto_prev = 0;
        step = step && pwrite_file(p, seg + bstart + k, len - bstart - k, bstart + k) == 0;
        out.pos = out.len = 0;
        got = step ? repl_cursor_read(&c, &out, 6, 1 << 20, err, sizeof err) : -1;
        if (!(got == 3 && holds(&out, 4, 6))) {
            if (all) printf("batch cut %zu: got %ld: %s\n", k, got, got < 0 ? err : "");
            all = 0;
        }
        if (step) repl_cursor_close(&c);
        iobuf_free(&out);
    }
    test_cond("records up to the previous LSN read from the partial segment", upto_prev);
    test_cond("every cut of the batch, zeros behind: read again, whole", all);
    free(seg);
}

/* The writer's log over several segments, read from every start point in
 * chunks of every size the server uses; plus an old-format segment first. */
static void test_read_back(void)
{
    test_section("read back: both formats, rotation, any start point");
    char dir[128], err[256];
    new_dir(dir, sizeof dir);
    /* Format-1 segment 1..20, then the writer from 21 in batches of 4. */
    char path[WAL_PATH_MAX];
    wal_segment_path(path, sizeof path, dir, 1);
    uint8_t buf[8 * REC_MAX];
    uint8_t *old = malloc(20 * REC_MAX);
    size_t ol = 0;
    for (uint64_t l = 1; l <= 20; l++) ol += gen_rec(l, old + ol);
    int ok = old && put_file(path, old, ol, 0) == 0;
    free(old);
    wal_writer *w = wal_writer_open(dir, 1500, 21, NULL, err, sizeof err);
    ok = ok && w;
    for (uint64_t l = 21; ok && l <= 120; l += 4) {
        size_t len = 0;
        for (uint64_t i = l; i < l + 4; i++) len += gen_rec(i, buf + len);
        ok = wal_writer_write(w, buf, len, l, l + 3, err, sizeof err) == 0 &&
             wal_writer_sync(w, err, sizeof err) == 0;
    }
    /* Leave the writer open: the last segment keeps its zero tail. */
    uint64_t *lsns;
    size_t nseg;
    ok = ok && wal_segments_list(dir, &lsns, &nseg, err, sizeof err) == 0;
    test_cond("log written over several segments", ok && nseg >= 4);
    if (ok) free(lsns);
    int all = 1;
    for (uint64_t from = 1; ok && from <= 120; from++) {
        repl_cursor c;
        iobuf out = {0};
        long total = 0, got;
        if (repl_cursor_open(&c, dir, from, err, sizeof err) != CURSOR_OK) {
            all = 0;
            break;
        }
        size_t chunk = from % 3 == 0 ? 1 : 700; /* 1: one record per call */
        while ((got = repl_cursor_read(&c, &out, 120, chunk, err, sizeof err)) > 0) total += got;
        if (got < 0 || total != (long)(121 - from) || !holds(&out, from, 120)) {
            if (all) printf("from %llu: total %ld: %s\n", (unsigned long long)from, total, err);
            all = 0;
        }
        repl_cursor_close(&c);
        iobuf_free(&out);
    }
    test_cond("every start point yields the records exactly as stored", all);
    /* node_record_epoch's use: one record at LSN, nothing more. */
    repl_cursor c;
    iobuf one = {0};
    test_cond("one record", repl_cursor_open(&c, dir, 77, err, sizeof err) == CURSOR_OK &&
                                repl_cursor_read(&c, &one, 77, 1, err, sizeof err) == 1 &&
                                holds(&one, 77, 77));
    repl_cursor_close(&c);
    iobuf_free(&one);
    /* Nothing beyond the end yet: 0, not an error; then it arrives. */
    test_cond("at the end", repl_cursor_open(&c, dir, 121, err, sizeof err) == CURSOR_OK &&
                                repl_cursor_read(&c, &one, 121, 1 << 20, err, sizeof err) == 0);
    size_t len = gen_rec(121, buf);
    test_cond("appended", wal_writer_write(w, buf, len, 121, 121, err, sizeof err) == 0 &&
                              wal_writer_sync(w, err, sizeof err) == 0);
    test_cond("then read", repl_cursor_read(&c, &one, 121, 1 << 20, err, sizeof err) == 1 &&
                               holds(&one, 121, 121));
    repl_cursor_close(&c);
    iobuf_free(&one);
    wal_writer_close(w);
}

/* Real damage below UPTO_LSN is still an error (after one re-read). */
static void test_damage(void)
{
    test_section("damage is reported, not skipped");
    char dir[128], err[256], path[WAL_PATH_MAX];
    new_dir(dir, sizeof dir);
    wal_writer *w = wal_writer_open(dir, 0, 1, NULL, err, sizeof err);
    uint8_t buf[8 * REC_MAX];
    size_t len = 0;
    for (uint64_t l = 1; l <= 5; l++) len += gen_rec(l, buf + len);
    int ok = w && wal_writer_write(w, buf, len, 1, 5, err, sizeof err) == 0 &&
             wal_writer_close(w) == 0;
    wal_segment_path(path, sizeof path, dir, 1);
    size_t n;
    uint8_t *seg = slurp(path, &n);
    ok = ok && seg;
    size_t r3 = WAL_SEG_HDR_SIZE + WAL_BATCH_HDR_SIZE + gen_rec(1, buf) + gen_rec(2, buf) + 60;
    if (ok) seg[r3] ^= 1;
    ok = ok && put_file(path, seg, n, 0) == 0;
    repl_cursor c;
    iobuf out = {0};
    long got = ok && repl_cursor_open(&c, dir, 1, err, sizeof err) == CURSOR_OK
                   ? repl_cursor_read(&c, &out, 5, 1 << 20, err, sizeof err)
                   : 0;
    test_cond("flipped bit in a record: error", got < 0 && strstr(err, "checksum"));
    if (ok) repl_cursor_close(&c);
    iobuf_free(&out);
    /* A batch header of another salt where a batch should be. */
    if (seg) {
        seg[r3] ^= 1;
        seg[WAL_SEG_HDR_SIZE + 9] ^= 1; /* salt of the batch header */
        wal_put_u32(seg + WAL_SEG_HDR_SIZE + 44, 0);
    }
    ok = ok && put_file(path, seg, n, 0) == 0;
    got = ok && repl_cursor_open(&c, dir, 1, err, sizeof err) == CURSOR_OK
              ? repl_cursor_read(&c, &out, 5, 1 << 20, err, sizeof err)
              : 0;
    test_cond("bad batch header: error", got < 0 && strstr(err, "batch header"));
    if (ok) repl_cursor_close(&c);
    iobuf_free(&out);
    free(seg);
}

int main(void)
{
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_partial_record_v1();
    test_partial_batch_v2();
    test_read_back();
    test_damage();
    nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_report();
}
