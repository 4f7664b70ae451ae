/* wal_checkpoint_test.c -- checkpoints: round trip of live entries and
 * tombstones with their versions, the chunk framing on disk, an entry larger
 * than a chunk, rejection of every flipped bit and every truncation, and
 * listing/pruning. */
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

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
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
    size_t n = fwrite(b, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* Every entry of A (tombstones too) is in B with the same version and value. */
typedef struct cmp_ctx {
    kv_store *other;
    long mismatches;
} cmp_ctx;

static int cmp_entry(void *ctx, const kv_entry_view *e)
{
    cmp_ctx *c = ctx;
    kv_entry_view o;
    if (!kv_find(c->other, e->db, e->key, e->klen, &o) || o.tombstone != e->tombstone ||
        o.expire_ms != e->expire_ms ||
        o.ver.ts != e->ver.ts || o.ver.node_id != e->ver.node_id || o.vlen != e->vlen ||
        (e->vlen && memcmp(o.val, e->val, e->vlen) != 0))
        c->mismatches++;
    return 0;
}

static int kv_same(kv_store *a, kv_store *b)
{
    cmp_ctx c = {b, 0};
    kv_iterate(a, cmp_entry, &c);
    return c.mismatches == 0 && kv_count(a) == kv_count(b) &&
           kv_tombstones(a) == kv_tombstones(b) && kv_digest(a) == kv_digest(b);
}

static kv_store *sample_kv(int n)
{
    kv_store *kv = kv_new();
    char key[32], val[128];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key:%08d", i);
        int vlen = snprintf(val, sizeof val, "value-%d-%0*d", i, i % 60, 7);
        kv_version v = {1000 + (uint64_t)i, (uint32_t)(1 + i % 3)};
        kv_apply_put(kv, key, (uint32_t)strlen(key), val, (uint32_t)vlen, v);
    }
    for (int i = 0; i < n; i += 7) { /* tombstones over live keys */
        snprintf(key, sizeof key, "key:%08d", i);
        kv_version v = {5000000 + (uint64_t)i, 2};
        kv_apply_del(kv, key, (uint32_t)strlen(key), v);
    }
    kv_version v = {42, 9};
    kv_apply_del(kv, "never-written", 13, v); /* tombstone of an absent key */
    kv_apply_put(kv, "empty-value", 11, "", 0, v);
    kv_apply_put(kv, "bin\0key", 7, "v\0v", 3, v);
    return kv;
}

static void test_roundtrip(const char *dir)
{
    test_section("round trip with tombstones");
    char err[512], path[WAL_PATH_MAX];
    kv_store *kv = sample_kv(3000);
    test_cond("write",
              wal_checkpoint_write(dir, kv, 100, 3, 5000000 + 2999, NULL, err, sizeof err) == 0);
    wal_checkpoint_path(path, sizeof path, dir, 100);
    kv_store *back = kv_new();
    wal_checkpoint_info info;
    test_cond("load", wal_checkpoint_load(path, back, &info, err, sizeof err) == 0);
    test_cond("header fields", info.lsn == 100 && info.epoch == 3 && info.max_ts == 5000000 + 2999);
    test_cond("counts", info.entries == kv_count(kv) + kv_tombstones(kv) &&
                            info.tombstones == kv_tombstones(kv) && kv_tombstones(kv) > 400);
    test_cond("same entries, versions, tombstones, digest", kv_same(kv, back) && kv_same(back, kv));
    struct stat st;
    test_cond("bytes = file size", stat(path, &st) == 0 && (uint64_t)st.st_size == info.bytes);
    test_cond("verify only", wal_checkpoint_load(path, NULL, &info, err, sizeof err) == 0);
    kv_free(back);
    kv_free(kv);

    kv = kv_new();
    test_cond("empty store", wal_checkpoint_write(dir, kv, 101, 1, 0, NULL, err, sizeof err) == 0);
    wal_checkpoint_path(path, sizeof path, dir, 101);
    back = kv_new();
    test_cond("empty loads", wal_checkpoint_load(path, back, &info, err, sizeof err) == 0 &&
                                 info.entries == 0 && kv_count(back) == 0 &&
                                 info.bytes == WAL_CKPT_HDR_SIZE + WAL_CKPT_CHUNK_HDR_SIZE +
                                                   WAL_CKPT_TRAILER_SIZE);
    test_cond("LSN 0 refused", wal_checkpoint_write(dir, kv, 0, 1, 0, NULL, err, sizeof err) < 0);
    kv_free(back);
    kv_free(kv);
}

/* Walks the chunk framing of a file: every chunk within bounds, entries
 * chunks up to the target unless they hold one big entry, trailer last. */
static int check_framing(const uint8_t *b, size_t len, int *chunks, int *big)
{
    size_t off = WAL_CKPT_HDR_SIZE;
    *chunks = *big = 0;
    while (off + WAL_CKPT_CHUNK_HDR_SIZE <= len) {
        uint32_t plen = wal_get_u32(b + off), kind = wal_get_u32(b + off + 8);
        uint32_t count = wal_get_u32(b + off + 12);
        off += WAL_CKPT_CHUNK_HDR_SIZE + plen;
        (*chunks)++;
        if (kind == WAL_CKPT_CHUNK_TRAILER) return off == len;
        if (plen > WAL_CKPT_CHUNK_TARGET) {
            if (count != 1) return 0;
            (*big)++;
        }
    }
    return 0;
}

static void test_big_entries(const char *dir)
{
    test_section("chunks and an entry bigger than a chunk");
    char err[512], path[WAL_PATH_MAX];
    kv_store *kv = kv_new();
    size_t vlen = 2u << 20;
    uint8_t *val = malloc(vlen);
    for (size_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)(i * 31 + 7);
    kv_version v = {7, 1};
    kv_apply_put(kv, "big", 3, val, (uint32_t)vlen, v);
    char key[32], small[200];
    memset(small, 's', sizeof small);
    for (int i = 0; i < 12000; i++) { /* about 2.6 MB of small entries */
        snprintf(key, sizeof key, "k%d", i);
        kv_apply_put(kv, key, (uint32_t)strlen(key), small, sizeof small, v);
    }
    test_cond("write", wal_checkpoint_write(dir, kv, 200, 1, 7, NULL, err, sizeof err) == 0);
    wal_checkpoint_path(path, sizeof path, dir, 200);
    size_t len;
    uint8_t *b = read_file(path, &len);
    int chunks = 0, big = 0;
    test_cond("framing", b && check_framing(b, len, &chunks, &big));
    test_cond("several chunks, one big", chunks >= 4 && big == 1);
    kv_store *back = kv_new();
    test_cond("load",
              wal_checkpoint_load(path, back, NULL, err, sizeof err) == 0 && kv_same(kv, back));
    free(b);
    free(val);
    kv_free(back);
    kv_free(kv);
}

static void test_damage(const char *dir)
{
    test_section("every flipped bit and every truncation is refused");
    char err[512], path[WAL_PATH_MAX], bad[WAL_PATH_MAX + 8];
    kv_store *kv = kv_new();
    kv_version v = {11, 2};
    kv_apply_put(kv, "alpha", 5, "one", 3, v);
    kv_apply_put(kv, "beta", 4, "two", 3, v);
    kv_apply_del(kv, "gamma", 5, v);
    test_cond("write", wal_checkpoint_write(dir, kv, 300, 1, 11, NULL, err, sizeof err) == 0);
    wal_checkpoint_path(path, sizeof path, dir, 300);
    snprintf(bad, sizeof bad, "%s.bad", path);
    size_t len;
    uint8_t *orig = read_file(path, &len);
    uint8_t *b = malloc(len + 1);
    int flips_caught = 1, cuts_caught = 1;
    for (size_t i = 0; i < len && orig; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, orig, len);
            b[i] ^= (uint8_t)(1u << bit);
            kv_store *back = kv_new();
            if (write_file(bad, b, len) != 0 ||
                wal_checkpoint_load(bad, back, NULL, err, sizeof err) == 0)
                flips_caught = 0;
            kv_free(back);
        }
    }
    test_cond("every flipped bit refused", flips_caught);
    for (size_t cut = 0; cut < len && orig; cut++) {
        if (write_file(bad, orig, cut) != 0 ||
            wal_checkpoint_load(bad, NULL, NULL, err, sizeof err) == 0)
            cuts_caught = 0;
    }
    test_cond("every truncation refused", cuts_caught);
    test_cond("truncation message names the file",
              strstr(err, bad) != NULL && strstr(err, "truncated"));
    memcpy(b, orig, len);
    b[len] = 0;
    test_cond("trailing byte refused",
              write_file(bad, b, len + 1) == 0 &&
                  wal_checkpoint_load(bad, NULL, NULL, err, sizeof err) < 0);
    memcpy(b, orig, len);
    b[0] = 'X';
    write_file(bad, b, len);
    test_cond("bad magic refused with path and offset",
              wal_checkpoint_load(bad, NULL, NULL, err, sizeof err) < 0 && strstr(err, "magic") &&
                  strstr(err, "offset 0"));
    /* A huge chunk length is refused before anything is read or allocated. */
    memcpy(b, orig, len);
    wal_put_u32(b + WAL_CKPT_HDR_SIZE, 0xFFFFFFF0u);
    write_file(bad, b, len);
    test_cond("huge chunk length refused",
              wal_checkpoint_load(bad, NULL, NULL, err, sizeof err) < 0 &&
                  strstr(err, "out of range"));
    test_cond("missing file",
              wal_checkpoint_load("/nonexistent/x.snap", NULL, NULL, err, sizeof err) < 0);
    unlink(bad);
    free(b);
    free(orig);
    kv_free(kv);
}

static void test_list_prune(const char *dir)
{
    test_section("list and prune");
    char err[512], tmp[WAL_PATH_MAX + 16];
    kv_store *kv = sample_kv(10);
    /* Debris from interrupted writes: below and above the newest. */
    snprintf(tmp, sizeof tmp, "%s/snapshot-%020d.snap.tmp", dir, 5);
    write_file(tmp, (const uint8_t *)"x", 1);
    snprintf(tmp, sizeof tmp, "%s/snapshot-%020d.snap.tmp", dir, 99);
    write_file(tmp, (const uint8_t *)"x", 1);
    int ok = 1;
    for (uint64_t lsn = 10; lsn <= 30; lsn += 10)
        ok &= wal_checkpoint_write(dir, kv, lsn, 1, 0, NULL, err, sizeof err) == 0;
    test_cond("three writes", ok);
    uint64_t *l;
    size_t n;
    test_cond("list newest first, pruned to WAL_CKPT_KEEP",
              wal_checkpoint_list(dir, &l, &n, err, sizeof err) == 0 && n == WAL_CKPT_KEEP &&
                  l[0] == 30 && l[1] == 20);
    free(l);
    char p5[WAL_PATH_MAX + 16];
    snprintf(p5, sizeof p5, "%s/snapshot-%020d.snap.tmp", dir, 5);
    test_cond("old temp removed, newer kept", access(p5, F_OK) != 0 && access(tmp, F_OK) == 0);
    test_cond("prune to 1", wal_checkpoint_prune(dir, 1, NULL, err, sizeof err) == 1);
    test_cond("one left",
              wal_checkpoint_list(dir, &l, &n, err, sizeof err) == 0 && n == 1 && l[0] == 30);
    free(l);
    uint64_t lsn;
    test_cond("name parse",
              wal_checkpoint_name_parse("snapshot-00000000000000000030.snap", &lsn) == 1 &&
                  lsn == 30 && !wal_checkpoint_name_parse("snapshot-30.snap", &lsn) &&
                  !wal_checkpoint_name_parse("snapshot-00000000000000000030.snap.tmp", &lsn));
    test_cond("missing dir lists nothing",
              wal_checkpoint_list("/nonexistent/rkv", &l, &n, err, sizeof err) == 0 && n == 0);
    kv_free(kv);
}

/* Databases and expiries survive a checkpoint; a version 1 file (written
 * before they existed) still loads. */
static void test_db_expire(const char *dir)
{
    test_section("databases and expiries (format version 2), and a version 1 file");
    char err[512], path[WAL_PATH_MAX];
    kv_store *kv = sample_kv(50);
    kv_version v = {7000000, 1};
    kv_put(kv, 3, "k", 1, "in-db-3", 7, 0, v);
    kv_put(kv, 3, "e", 1, "expiring", 8, 1700000000000ll, v);
    kv_put(kv, 0, "e0", 2, "x", 1, 1800000000000ll, v);
    kv_put(kv, 65535, "top", 3, "y", 1, 0, v);
    kv_del(kv, 9, "dead", 4, v);
    test_cond("write", wal_checkpoint_write(dir, kv, 200, 3, 7000000, NULL, err, sizeof err) == 0);
    wal_checkpoint_path(path, sizeof path, dir, 200);
    kv_store *back = kv_new();
    wal_checkpoint_info info;
    test_cond("load", wal_checkpoint_load(path, back, &info, err, sizeof err) == 0);
    test_cond("same entries in the same databases with the same expiries, same digest",
              kv_same(kv, back) && kv_same(back, kv));
    kv_entry_view e;
    test_cond("db 3 entry", kv_find(back, 3, "e", 1, &e) && e.expire_ms == 1700000000000ll);
    test_cond("not in db 0", !kv_find(back, 0, "k", 1, &e));
    test_cond("db 65535", kv_db_count(back, 65535) == 1);
    kv_free(back);
    kv_free(kv);

    /* A version 1 file: only database 0, no expiries. Written by hand with
     * the version 1 layout (entry header 21 bytes). */
    uint8_t f[256];
    memset(f, 0, sizeof f);
    memcpy(f, WAL_CKPT_MAGIC, 8);
    wal_put_u32(f + 8, 1);
    wal_put_u64(f + 16, 300);
    wal_put_u64(f + 24, 1);
    wal_put_u64(f + 32, 5);
    wal_put_u32(f + 44, crc32c(0, f, 44));
    uint8_t *c = f + WAL_CKPT_HDR_SIZE, *p = c + WAL_CKPT_CHUNK_HDR_SIZE;
    wal_put_u64(p, 5);
    wal_put_u32(p + 8, 1);
    p[12] = 0;
    wal_put_u32(p + 13, 2);
    wal_put_u32(p + 17, 3);
    memcpy(p + 21, "k1abc", 5);
    uint32_t plen = 26;
    wal_put_u32(c, plen);
    wal_put_u32(c + 8, WAL_CKPT_CHUNK_ENTRIES);
    wal_put_u32(c + 12, 1);
    wal_put_u32(c + 4, crc32c(0, c + 8, 8 + plen));
    uint8_t *t = c + WAL_CKPT_CHUNK_HDR_SIZE + plen, *tp = t + WAL_CKPT_CHUNK_HDR_SIZE;
    wal_put_u64(tp, 1);
    wal_put_u64(tp + 8, 0);
    wal_put_u64(tp + 16, 300);
    wal_put_u32(t, WAL_CKPT_TRAILER_SIZE);
    wal_put_u32(t + 8, WAL_CKPT_CHUNK_TRAILER);
    wal_put_u32(t + 4, crc32c(0, t + 8, 8 + WAL_CKPT_TRAILER_SIZE));
    size_t flen = (size_t)(tp + WAL_CKPT_TRAILER_SIZE - f);
    char p1[WAL_PATH_MAX];
    snprintf(p1, sizeof p1, "%s/v1.snap", dir);
    test_cond("version 1 file written", write_file(p1, f, flen) == 0);
    back = kv_new();
    test_cond("version 1 file loads", wal_checkpoint_load(p1, back, &info, err, sizeof err) == 0);
    test_cond("its entry is in database 0, no expiry",
              kv_find(back, 0, "k1", 2, &e) && e.vlen == 3 && e.expire_ms == 0);
    kv_free(back);
    /* ... and a version 1 file may not use version 2's flags. */
    p[12] = WAL_CKPT_E_DB;
    wal_put_u32(c + 4, crc32c(0, c + 8, 8 + plen));
    write_file(p1, f, flen);
    back = kv_new();
    test_cond("version 1 with a database flag refused",
              wal_checkpoint_load(p1, back, &info, err, sizeof err) < 0);
    kv_free(back);
    unlink(p1);
}

int main(void)
{
    char root[] = "/tmp/rkv-ckpt-XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char d1[64], d2[64], d3[64], d4[64];
    snprintf(d1, sizeof d1, "%s/1", root);
    snprintf(d2, sizeof d2, "%s/2", root);
    snprintf(d3, sizeof d3, "%s/3", root);
    snprintf(d4, sizeof d4, "%s/4", root);
    mkdir(d1, 0755);
    mkdir(d2, 0755);
    mkdir(d3, 0755);
    mkdir(d4, 0755);
    test_roundtrip(d1);
    test_db_expire(d1);
    test_big_entries(d2);
    test_damage(d3);
    test_list_prune(d4);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_report();
}
