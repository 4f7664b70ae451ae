/* bench_storage.c -- `rkv-bench storage`: throughput of the storage engine
 * alone (WAL append with group commit, recovery, checkpoints), no network.
 *
 * It answers the two questions with numbers: are appends limited by
 * the disk's fdatasync rate rather than by the CPU (compare batch N with
 * batch 1: records/s should scale with the batch while fdatasyncs/s stays
 * near the disk's rate), and does recovery of 1M records take under 1 s.
 * Everything runs in a fresh directory (mkdtemp under --dir, default /tmp)
 * removed at the end unless --keep. Output, one line per measurement:
 *   append batch=1000 records=1000000 value=100 secs=1.234 records/s=810000 MB/s=131.2
 * fdatasyncs/s=810 recover records=1000000 secs=0.412 records/s=2427000 MB/s=393.1 checkpoint-write
 * keys=1000000 bytes=... secs=... MB/s=... checkpoint-load keys=1000000 bytes=... secs=... MB/s=...
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench.h"
#include "kv/kv_store.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_record.h"
#include "wal/wal_recovery.h"
#include "wal/wal_writer.h"

#define BS_RECORDS_DEFAULT 1000000u
#define BS_RECORDS_MAX 100000000u /* 100M records */
#define BS_VALUE_DEFAULT 100u
#define BS_VALUE_MAX (1u << 20) /* 1 MiB values at most */
#define BS_BATCH_DEFAULT 1000u
#define BS_BATCH_MAX 1000000u
#define BS_BATCH_BYTES_MAX (256u << 20) /* one batch buffer */
#define BS_SYNC_RECORDS_DEFAULT 2000u   /* records for the batch=1 run */
#define BS_KEY_MAX 32

typedef struct bs_opts {
    uint64_t records;
    uint32_t value_size;
    uint32_t batch;
    uint64_t sync_records;
    const char *dir;
    int keep;
} bs_opts;

static double bs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bs_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int bs_usage(void)
{
    fprintf(stderr, "usage: rkv-bench storage [--records N] [--value-size B] [--batch N] "
                    "[--sync-records N] [--dir D] [--keep]\n");
    return 2;
}

/* Parses a decimal in [lo, hi]; -1 if it is not one. */
static int bs_num(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int bs_parse(int argc, char **argv, bs_opts *o)
{
    *o = (bs_opts){BS_RECORDS_DEFAULT,      BS_VALUE_DEFAULT, BS_BATCH_DEFAULT,
                   BS_SYNC_RECORDS_DEFAULT, "/tmp",           0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
            continue;
        }
        if (!v) return bs_usage();
        if (strcmp(a, "--records") == 0 && bs_num(v, 1, BS_RECORDS_MAX, &n) == 0)
            o->records = n;
        else if (strcmp(a, "--value-size") == 0 && bs_num(v, 0, BS_VALUE_MAX, &n) == 0)
            o->value_size = (uint32_t)n;
        else if (strcmp(a, "--batch") == 0 && bs_num(v, 1, BS_BATCH_MAX, &n) == 0)
            o->batch = (uint32_t)n;
        else if (strcmp(a, "--sync-records") == 0 && bs_num(v, 0, BS_RECORDS_MAX, &n) == 0)
            o->sync_records = n;
        else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else
            return bs_usage();
        i++;
    }
    if ((uint64_t)o->batch * wal_record_size(BS_KEY_MAX, o->value_size) > BS_BATCH_BYTES_MAX) {
        fprintf(stderr, "rkv-bench storage: a batch of %u records exceeds %u bytes\n", o->batch,
                BS_BATCH_BYTES_MAX);
        return 2;
    }
    return 0;
}

/* Encodes record LSN ("key:%08d", a value whose first bytes vary). */
static size_t bs_encode(uint64_t lsn, uint8_t *val, uint32_t vlen, uint8_t *out)
{
    char key[BS_KEY_MAX];
    int klen = snprintf(key, sizeof key, "key:%08" PRIu64, lsn - 1);
    for (uint32_t i = 0; i < vlen && i < 8; i++)
        val[i] = (uint8_t)('a' + (lsn >> (4 * i)) % 16);
    wal_rec r = {.lsn = lsn,
                 .epoch = 1,
                 .ts = 1700000000000000ull + lsn,
                 .node_id = 1,
                 .op = WAL_OP_PUT,
                 .klen = (uint32_t)klen,
                 .vlen = vlen,
                 .key = (const uint8_t *)key,
                 .val = val};
    return wal_record_encode(&r, out);
}

/* Appends RECORDS records in batches of BATCH, write + fdatasync each. */
static int bs_append(const char *dir, uint64_t records, uint32_t batch, uint32_t vlen)
{
    char err[512];
    size_t cap = (size_t)batch * wal_record_size(BS_KEY_MAX, vlen);
    uint8_t *buf = malloc(cap), *val = malloc(vlen ? vlen : 1);
    wal_writer *w = buf && val ? wal_writer_open(dir, 0, 1, NULL, err, sizeof err) : NULL;
    if (!w) {
        fprintf(stderr, "rkv-bench storage: %s\n", buf && val ? err : "out of memory");
        free(buf);
        free(val);
        return -1;
    }
    memset(val, 'v', vlen);
    uint64_t bytes = 0, syncs = 0;
    int rc = 0;
    double t0 = bs_now();
    for (uint64_t lsn = 1; lsn <= records && rc == 0;) {
        size_t len = 0;
        uint64_t first = lsn;
        for (uint32_t i = 0; i < batch && lsn <= records; i++, lsn++)
            len += bs_encode(lsn, val, vlen, buf + len);
        rc = wal_writer_write(w, buf, len, first, lsn - 1, err, sizeof err);
        if (rc == 0) rc = wal_writer_sync(w, err, sizeof err);
        bytes += len;
        syncs++;
    }
    double secs = bs_now() - t0;
    if (wal_writer_close(w) != 0 && rc == 0) {
        snprintf(err, sizeof err, "close failed");
        rc = -1;
    }
    if (rc != 0)
        fprintf(stderr, "rkv-bench storage: %s\n", err);
    else
        printf("append batch=%u records=%" PRIu64 " value=%u secs=%.3f records/s=%.0f MB/s=%.1f "
               "fdatasyncs/s=%.0f\n",
               batch, records, vlen, secs, (double)records / secs, (double)bytes / secs / 1e6,
               (double)syncs / secs);
    fflush(stdout);
    free(buf);
    free(val);
    return rc;
}

static uint64_t bs_dir_bytes(const char *dir)
{
    char err[256];
    uint64_t *lsns, total = 0;
    size_t n;
    if (wal_segments_list(dir, &lsns, &n, err, sizeof err) != 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char path[WAL_PATH_MAX];
        struct stat st;
        if (wal_segment_path(path, sizeof path, dir, lsns[i]) == 0 && stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    free(lsns);
    return total;
}

/* Recovery of the log into a fresh store, then a checkpoint of that store
 * written and loaded back. */
static int bs_recover_and_checkpoint(const char *dir, uint64_t records)
{
    char err[WAL_PATH_MAX + 512], path[WAL_PATH_MAX];
    kv_store *kv = kv_new(), *back = NULL;
    wal_recovery_info info;
    int rc = -1;
    if (!kv) {
        fprintf(stderr, "rkv-bench storage: out of memory\n");
        goto out;
    }
    double t0 = bs_now();
    if (wal_recover(dir, kv, &info, NULL, err, sizeof err) != 0) goto fail;
    double secs = bs_now() - t0;
    if (info.records_replayed != records) {
        snprintf(err, sizeof err, "recovered %" PRIu64 " of %" PRIu64 " records",
                 info.records_replayed, records);
        goto fail;
    }
    printf("recover records=%" PRIu64 " secs=%.3f records/s=%.0f MB/s=%.1f\n", records, secs,
           (double)records / secs, (double)bs_dir_bytes(dir) / secs / 1e6);
    fflush(stdout);

    t0 = bs_now();
    if (wal_checkpoint_write(dir, kv, info.last_lsn, info.last_epoch, info.max_ts, NULL, err,
                             sizeof err) != 0)
        goto fail;
    secs = bs_now() - t0;
    struct stat st;
    wal_checkpoint_path(path, sizeof path, dir, info.last_lsn);
    uint64_t bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    printf("checkpoint-write keys=%zu bytes=%" PRIu64 " secs=%.3f MB/s=%.1f\n", kv_count(kv), bytes,
           secs, (double)bytes / secs / 1e6);
    fflush(stdout);

    /* Load as at start-up: into an empty store, the old one gone. */
    back = kv_new();
    if (!back) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    uint64_t digest = kv_digest(kv);
    size_t count = kv_count(kv);
    kv_free(kv);
    kv = NULL;
    t0 = bs_now();
    if (wal_checkpoint_load(path, back, NULL, err, sizeof err) != 0) goto fail;
    secs = bs_now() - t0;
    if (kv_digest(back) != digest || kv_count(back) != count) {
        snprintf(err, sizeof err, "checkpoint digest %016" PRIx64 " != store digest %016" PRIx64,
                 kv_digest(back), digest);
        goto fail;
    }
    printf("checkpoint-load keys=%zu bytes=%" PRIu64 " secs=%.3f MB/s=%.1f\n", kv_count(back),
           bytes, secs, (double)bytes / secs / 1e6);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "rkv-bench storage: %s\n", err);
out:
    kv_free(kv);
    kv_free(back);
    return rc;
}

int bench_storage(int argc, char **argv)
{
    bs_opts o;
    int prc = bs_parse(argc, argv, &o);
    if (prc != 0) return prc;
    char root[WAL_PATH_MAX], gc[WAL_PATH_MAX + 8], one[WAL_PATH_MAX + 8];
    int n = snprintf(root, sizeof root, "%s/rkv-storage-XXXXXX", o.dir);
    if (n < 0 || (size_t)n >= sizeof root || !mkdtemp(root)) {
        fprintf(stderr, "rkv-bench storage: cannot make a directory under %s: %s\n", o.dir,
                strerror(errno));
        return 1;
    }
    snprintf(gc, sizeof gc, "%s/gc", root);
    snprintf(one, sizeof one, "%s/b1", root);
    int rc = bs_append(gc, o.records, o.batch, o.value_size);
    if (rc == 0 && o.sync_records > 0) rc = bs_append(one, o.sync_records, 1, o.value_size);
    if (rc == 0) rc = bs_recover_and_checkpoint(gc, o.records);
    if (o.keep)
        printf("kept %s\n", root);
    else
        nftw(root, bs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : 1;
}
