/* kv_store_test.c -- the key-value store: basic operations, 1M keys, reads
 * during incremental rehashing, every last-writer-wins rule, tombstones, and
 * the order-independent digest under random permutations of conflicting
 * writes.
 *
 * RKV_TEST_SMALL=1 scales the large tests down (for valgrind). */
#include "../testhelp.h"
#include "kv/kv_store.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int small_mode;

static kv_version V(uint64_t ts, uint32_t node)
{
    return (kv_version){.ts = ts, .node_id = node};
}

static int put_s(kv_store *kv, const char *k, const char *v, uint64_t ts, uint32_t node)
{
    return kv_apply_put(kv, k, (uint32_t)strlen(k), v, (uint32_t)strlen(v), V(ts, node));
}

static int del_s(kv_store *kv, const char *k, uint64_t ts, uint32_t node)
{
    return kv_apply_del(kv, k, (uint32_t)strlen(k), V(ts, node));
}

/* 1 if KEY is live with exactly value V. */
static int has(kv_store *kv, const char *k, const char *v)
{
    kv_entry_view e;
    if (!kv_get(kv, k, (uint32_t)strlen(k), &e)) return 0;
    return e.vlen == strlen(v) && memcmp(e.val, v, e.vlen) == 0;
}

static int is_tombstone(kv_store *kv, const char *k, uint64_t ts, uint32_t node)
{
    kv_entry_view e;
    if (!kv_lookup(kv, k, (uint32_t)strlen(k), &e)) return 0;
    return e.tombstone && e.val == NULL && e.vlen == 0 && e.ver.ts == ts && e.ver.node_id == node;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 1;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* PREFIX and I in decimal into BUF, NUL-terminated; returns the length. Hand-rolled so the 1M-insert
 * timing measures the store, not snprintf. */
static uint32_t make_key(char *buf, const char *prefix, uint32_t i)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    char tmp[12];
    int d = 0;
    do {
        tmp[d++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    while (d) buf[n++] = tmp[--d];
    buf[n] = 0;
    return (uint32_t)n;
}

static void make_val(uint8_t *v, size_t n, uint32_t i)
{
    for (size_t j = 0; j < n; j++) v[j] = (uint8_t)('a' + (i + j) % 26);
    if (n >= 4) memcpy(v, &i, 4);
}

/* ---- Basic operations ---- */

static void test_basic(void)
{
    test_section("basic operations");
    kv_store *kv = kv_new();
    kv_entry_view e;
    test_cond("new store is empty", kv_count(kv) == 0 && kv_tombstones(kv) == 0);
    test_cond("get on empty store", !kv_get(kv, "x", 1, &e) && !kv_lookup(kv, "x", 1, &e));
    test_cond("put", put_s(kv, "hello", "world", 1, 1) == KV_WON);
    test_cond("get", has(kv, "hello", "world") && kv_count(kv) == 1);
    test_cond("get reports the version",
              kv_get(kv, "hello", 5, &e) && e.ver.ts == 1 && e.ver.node_id == 1 && !e.tombstone);
    test_cond("absent key", !kv_get(kv, "hell", 4, &e) && !kv_get(kv, "hello!", 6, &e));
    test_cond("overwrite", put_s(kv, "hello", "there", 2, 1) == KV_WON && has(kv, "hello", "there"));
    test_cond("overwrite, longer value", put_s(kv, "hello", "a much longer value than before", 3, 1) ==
                                             KV_WON &&
                                             has(kv, "hello", "a much longer value than before"));
    test_cond("overwrite, shorter value", put_s(kv, "hello", "s", 4, 1) == KV_WON &&
                                              has(kv, "hello", "s") && kv_count(kv) == 1);
    test_cond("delete", del_s(kv, "hello", 5, 1) == KV_WON && !kv_get(kv, "hello", 5, &e));
    test_cond("delete leaves a tombstone", is_tombstone(kv, "hello", 5, 1));
    test_cond("counts after delete", kv_count(kv) == 0 && kv_tombstones(kv) == 1);
    test_cond("delete of an absent key records a tombstone",
              del_s(kv, "never", 7, 2) == KV_WON && is_tombstone(kv, "never", 7, 2) &&
                  kv_tombstones(kv) == 2);

    /* Binary keys: NUL bytes inside, and keys that are prefixes of others. */
    const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'}, k3[] = {'a', 0};
    const char v1[] = {0, 1, 0, 2};
    kv_apply_put(kv, k1, 3, v1, 4, V(1, 1));
    kv_apply_put(kv, k2, 3, "two", 3, V(1, 1));
    kv_apply_put(kv, k3, 2, "three", 5, V(1, 1));
    kv_apply_put(kv, "a", 1, "four", 4, V(1, 1));
    test_cond("binary key with NUL", kv_get(kv, k1, 3, &e) && e.vlen == 4 && !memcmp(e.val, v1, 4));
    test_cond("keys differing after NUL are distinct",
              kv_get(kv, k2, 3, &e) && e.vlen == 3 && !memcmp(e.val, "two", 3));
    test_cond("key that is a prefix is distinct",
              kv_get(kv, k3, 2, &e) && e.vlen == 5 && !memcmp(e.val, "three", 5));
    test_cond("key before the NUL is distinct",
              kv_get(kv, "a", 1, &e) && e.vlen == 4 && !memcmp(e.val, "four", 4));

    /* Empty value: live, not a tombstone, non-NULL val. */
    test_cond("empty value put", kv_apply_put(kv, "ev", 2, NULL, 0, V(1, 1)) == KV_WON);
    test_cond("empty value is live",
              kv_get(kv, "ev", 2, &e) && e.vlen == 0 && e.val != NULL && !e.tombstone);
    /* Empty key. */
    test_cond("empty key put", kv_apply_put(kv, "", 0, "ek", 2, V(1, 1)) == KV_WON);
    test_cond("empty key get", kv_get(kv, NULL, 0, &e) && e.klen == 0 && e.vlen == 2 &&
                                   !memcmp(e.val, "ek", 2));
    test_cond("empty key delete", kv_apply_del(kv, NULL, 0, V(2, 1)) == KV_WON &&
                                      !kv_get(kv, "", 0, &e) && kv_lookup(kv, "", 0, &e) &&
                                      e.tombstone);
    test_cond("count", kv_count(kv) == 5 && kv_tombstones(kv) == 3);
    kv_free(kv);
    kv_free(NULL);
}

/* ---- 1M keys ---- */

static void test_million(void)
{
    uint32_t n = small_mode ? 50000 : 1000000;
    enum { VLEN = 100 };
    printf("-- %u keys with %d-byte values\n", (unsigned)n, VLEN);
    kv_store *kv = kv_new();
    size_t mem0 = kv_memory_bytes(kv);
    struct mallinfo2 mi0 = mallinfo2();
    char key[32];
    uint8_t val[VLEN], got[VLEN];
    int ok = 1;
    double t0 = now_s();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen = make_key(key, "key:", i);
        make_val(val, VLEN, i);
        if (kv_apply_put(kv, key, klen, val, VLEN, V(i + 1, 1)) != KV_WON) ok = 0;
    }
    double t1 = now_s();
    struct mallinfo2 mi1 = mallinfo2();
    test_cond("every put won", ok);
    test_cond("count == n", kv_count(kv) == n);
    ok = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen = make_key(key, "key:", i);
        make_val(got, VLEN, i);
        kv_entry_view e;
        if (!kv_get(kv, key, klen, &e) || e.vlen != VLEN || memcmp(e.val, got, VLEN) != 0 ||
            e.ver.ts != i + 1)
            ok = 0;
    }
    double t2 = now_s();
    test_cond("every key reads back its value", ok);
    test_cond("absent keys stay absent", !kv_get(kv, "key:-1", 6, &(kv_entry_view){0}));

    double per = (double)(kv_memory_bytes(kv) - mem0) / n;
    size_t heap = (mi1.uordblks + mi1.hblkhd) - (mi0.uordblks + mi0.hblkhd);
    if (n == 1000000)
        printf("kv: %.1f bytes/entry for 1M keys with 100-byte values\n", per);
    else
        printf("kv: %.1f bytes/entry for %u keys with 100-byte values\n", per, (unsigned)n);
    if (heap > 0) printf("kv: %.1f bytes/entry by mallinfo2 (heap in use, chunk headers included)\n",
                         (double)heap / n);
    printf("kv: %u inserts in %.3f s (%.0f ns each), %u gets in %.3f s\n", (unsigned)n, t1 - t0,
           (t1 - t0) * 1e9 / n, (unsigned)n, t2 - t1);
    test_cond("memory per entry is sane (< 200 bytes for ~110-byte entries)", per < 200.0);
    kv_free(kv);
}

/* ---- Incremental rehashing ---- */

static void test_rehash_during_writes(void)
{
    test_section("reads during incremental rehashing");
    uint32_t n = small_mode ? 600 : 2000;
    kv_store *kv = kv_new();
    char key[32];
    int all_readable = 1, absent_ok = 1, count_ok = 1;
    uint32_t steps_rehashing = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t klen = make_key(key, "r:", i);
        kv_apply_put(kv, key, klen, key, klen, V(1, 1));
        if (i % 7 == 3) kv_rehash_step(kv, 1); /* interleave explicit steps */
        if (kv_rehash_step(kv, 0)) steps_rehashing++;
        for (uint32_t j = 0; j <= i; j++) { /* each get also moves a bucket */
            uint32_t kl = make_key(key, "r:", j);
            kv_entry_view e;
            if (!kv_get(kv, key, kl, &e) || e.vlen != kl || memcmp(e.val, key, kl) != 0)
                all_readable = 0;
        }
        uint32_t kl = make_key(key, "r:", i + 1);
        if (kv_get(kv, key, kl, &(kv_entry_view){0})) absent_ok = 0;
        if (kv_count(kv) != i + 1) count_ok = 0;
    }
    test_cond("a rehash was seen in progress", steps_rehashing > 0);
    test_cond("every key readable after every insert", all_readable);
    test_cond("the next key is absent at every step", absent_ok);
    test_cond("count correct at every step", count_ok);
    kv_free(kv);

    /* Deletes, tombstone drops and overwrites while a rehash is half done. */
    kv = kv_new();
    uint32_t m = 0;
    int stopped_mid = 0;
    for (; m < 100000; m++) {
        uint32_t klen = make_key(key, "d:", m);
        kv_apply_put(kv, key, klen, "v", 1, V(1, 1));
        if (m > 1000 && kv_rehash_step(kv, 0)) {
            stopped_mid = 1;
            m++;
            break;
        }
    }
    test_cond("stopped with a rehash in progress", stopped_mid);
    for (uint32_t i = 0; i < m; i += 2) {
        uint32_t klen = make_key(key, "d:", i);
        kv_apply_del(kv, key, klen, V(2, 1));
    }
    size_t dropped = kv_drop_tombstones(kv, 2);
    test_cond("dropped every tombstone mid-rehash", dropped == (m + 1) / 2 && kv_tombstones(kv) == 0);
    int ok = 1;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t klen = make_key(key, "d:", i);
        int live = kv_get(kv, key, klen, &(kv_entry_view){0});
        if (live != (i % 2 == 1)) ok = 0;
        if (i % 2 == 1 && kv_apply_put(kv, key, klen, "w", 1, V(3, 1)) != KV_WON) ok = 0;
    }
    test_cond("odd keys live, even keys gone, overwrites win", ok && kv_count(kv) == m / 2);
    while (kv_rehash_step(kv, 100)) {
    }
    test_cond("rehash finishes under kv_rehash_step", kv_rehash_step(kv, 1) == 0);
    ok = 1;
    for (uint32_t i = 1; i < m; i += 2) {
        make_key(key, "d:", i);
        if (!has(kv, key, "w")) ok = 0;
    }
    test_cond("every odd key reads its overwrite after the rehash", ok);
    kv_free(kv);
}

/* ---- Last-writer-wins ---- */

static void test_lww(void)
{
    test_section("last-writer-wins");
    kv_store *kv = kv_new();
    kv_entry_view e;

    /* 1. Larger timestamp wins, whatever the node. */
    put_s(kv, "k", "v10", 10, 1);
    test_cond("older ts loses (even from a higher node)", put_s(kv, "k", "v9", 9, 99) == KV_LOST &&
                                                               has(kv, "k", "v10"));
    test_cond("newer ts wins (even from a lower node)", put_s(kv, "k", "v11", 11, 0) == KV_WON &&
                                                            has(kv, "k", "v11"));

    /* 2. Equal timestamp: larger node id wins. */
    put_s(kv, "n", "node5", 10, 5);
    test_cond("equal ts, lower node loses", put_s(kv, "n", "node4", 10, 4) == KV_LOST &&
                                                has(kv, "n", "node5"));
    test_cond("equal ts, higher node wins", put_s(kv, "n", "node6", 10, 6) == KV_WON &&
                                                has(kv, "n", "node6"));
    test_cond("equal ts, lower node's delete loses",
              del_s(kv, "n", 10, 5) == KV_LOST && has(kv, "n", "node6"));

    /* 3. Equal (ts, node): a delete wins over a put, in either arrival order. */
    put_s(kv, "d", "zzzz", 10, 1);
    test_cond("delete beats put at equal version", del_s(kv, "d", 10, 1) == KV_WON &&
                                                       is_tombstone(kv, "d", 10, 1));
    test_cond("put at the delete's version loses", put_s(kv, "d", "zzzzz", 10, 1) == KV_LOST &&
                                                       !kv_get(kv, "d", 1, &e));
    del_s(kv, "d2", 10, 1);
    test_cond("put arriving after an equal-version delete loses",
              put_s(kv, "d2", "x", 10, 1) == KV_LOST && is_tombstone(kv, "d2", 10, 1));

    /* 4. Equal (ts, node) puts: the lexicographically greater value wins. */
    put_s(kv, "l", "b", 10, 1);
    test_cond("smaller value loses", put_s(kv, "l", "a", 10, 1) == KV_LOST && has(kv, "l", "b"));
    test_cond("greater value wins", put_s(kv, "l", "c", 10, 1) == KV_WON && has(kv, "l", "c"));
    put_s(kv, "p", "ab", 10, 1);
    test_cond("proper prefix is smaller: \"abc\" beats \"ab\"",
              put_s(kv, "p", "abc", 10, 1) == KV_WON && has(kv, "p", "abc"));
    test_cond("\"ab\" loses to \"abc\"", put_s(kv, "p", "ab", 10, 1) == KV_LOST &&
                                             has(kv, "p", "abc"));
    test_cond("\"b\" beats \"abc\"", put_s(kv, "p", "b", 10, 1) == KV_WON && has(kv, "p", "b"));
    kv_apply_put(kv, "e", 1, NULL, 0, V(10, 1));
    test_cond("any value beats the empty value", put_s(kv, "e", "\x01", 10, 1) == KV_WON);
    test_cond("the empty value loses", kv_apply_put(kv, "e", 1, "", 0, V(10, 1)) == KV_LOST);
    put_s(kv, "u", "\x7f", 10, 1);
    test_cond("bytes compare unsigned (0x80 > 0x7f)", put_s(kv, "u", "\x80", 10, 1) == KV_WON);
    const char nul_a[] = {'x', 0, 'a'}, nul_b[] = {'x', 0, 'b'};
    kv_apply_put(kv, "z", 1, nul_a, 3, V(10, 1));
    test_cond("comparison goes past NUL bytes",
              kv_apply_put(kv, "z", 1, nul_b, 3, V(10, 1)) == KV_WON &&
                  kv_apply_put(kv, "z", 1, nul_a, 3, V(10, 1)) == KV_LOST);

    /* Tombstones and later puts. */
    put_s(kv, "t", "alive", 10, 1);
    test_cond("newer delete wins", del_s(kv, "t", 20, 1) == KV_WON);
    test_cond("tombstone blocks an older put", put_s(kv, "t", "zombie", 19, 9) == KV_LOST &&
                                                   !kv_get(kv, "t", 1, &e) &&
                                                   is_tombstone(kv, "t", 20, 1));
    test_cond("tombstone blocks an older delete", del_s(kv, "t", 15, 1) == KV_LOST &&
                                                      is_tombstone(kv, "t", 20, 1));
    size_t live = kv_count(kv), tombs = kv_tombstones(kv);
    test_cond("tombstone beaten by a newer put", put_s(kv, "t", "reborn", 21, 1) == KV_WON &&
                                                     has(kv, "t", "reborn"));
    test_cond("counts follow the resurrection",
              kv_count(kv) == live + 1 && kv_tombstones(kv) == tombs - 1);
    test_cond("tombstone beaten by a put at equal ts from a higher node",
              del_s(kv, "t", 30, 1) == KV_WON && put_s(kv, "t", "n2", 30, 2) == KV_WON);

    /* Equal versions are not applied again. */
    uint64_t d = kv_digest(kv);
    test_cond("identical put is not re-applied", put_s(kv, "t", "n2", 30, 2) == KV_LOST);
    del_s(kv, "q", 40, 3);
    test_cond("identical delete is not re-applied", del_s(kv, "q", 40, 3) == KV_LOST);
    test_cond("digest unchanged by lost writes", kv_digest(kv) == d);

    /* kv_version_cmp directly, both directions. */
    const char *ab = "ab", *abc = "abc";
    test_cond("cmp: ts", kv_version_cmp(V(2, 0), 0, "a", 1, V(1, 9), 1, NULL, 0) > 0 &&
                             kv_version_cmp(V(1, 9), 1, NULL, 0, V(2, 0), 0, "a", 1) < 0);
    test_cond("cmp: node", kv_version_cmp(V(1, 2), 0, "a", 1, V(1, 1), 1, NULL, 0) > 0);
    test_cond("cmp: delete beats put", kv_version_cmp(V(1, 1), 1, NULL, 0, V(1, 1), 0, "z", 1) > 0 &&
                                           kv_version_cmp(V(1, 1), 0, "z", 1, V(1, 1), 1, NULL, 0) < 0);
    test_cond("cmp: two deletes are equal",
              kv_version_cmp(V(1, 1), 1, NULL, 0, V(1, 1), 2, NULL, 0) == 0);
    test_cond("cmp: prefix smaller", kv_version_cmp(V(1, 1), 0, ab, 2, V(1, 1), 0, abc, 3) < 0 &&
                                         kv_version_cmp(V(1, 1), 0, abc, 3, V(1, 1), 0, ab, 2) > 0);
    test_cond("cmp: equal puts", kv_version_cmp(V(1, 1), 0, ab, 2, V(1, 1), 0, "ab", 2) == 0);
    test_cond("cmp: empty values", kv_version_cmp(V(1, 1), 0, NULL, 0, V(1, 1), 0, "", 0) == 0);
    kv_free(kv);
}

/* ---- Tombstone dropping ---- */

static void test_drop_tombstones(void)
{
    test_section("kv_drop_tombstones");
    kv_store *kv = kv_new();
    put_s(kv, "live", "v", 1, 1);
    del_s(kv, "t5", 5, 1);
    del_s(kv, "t10", 10, 1);
    del_s(kv, "t15", 15, 1);
    put_s(kv, "x", "v", 1, 1);
    del_s(kv, "x", 3, 1);
    uint64_t d = kv_digest(kv);
    size_t mem = kv_memory_bytes(kv);
    test_cond("four tombstones", kv_tombstones(kv) == 4 && kv_count(kv) == 1);
    test_cond("drop <= 10 drops three", kv_drop_tombstones(kv, 10) == 3);
    test_cond("one tombstone left", kv_tombstones(kv) == 1 && is_tombstone(kv, "t15", 15, 1));
    kv_entry_view e;
    test_cond("dropped keys are absent", !kv_lookup(kv, "t5", 2, &e) &&
                                             !kv_lookup(kv, "t10", 3, &e) &&
                                             !kv_lookup(kv, "x", 1, &e));
    test_cond("live entries untouched", has(kv, "live", "v") && kv_count(kv) == 1);
    test_cond("digest unchanged by dropping", kv_digest(kv) == d);
    test_cond("memory released", kv_memory_bytes(kv) < mem);
    test_cond("nothing more to drop at the same horizon", kv_drop_tombstones(kv, 10) == 0);
    test_cond("an older put now lands (the checkpoint covers it)", put_s(kv, "t5", "v", 4, 1) ==
                                                                       KV_WON);

    /* Delete everything and drop: the table shrinks back. */
    kv_store *big = kv_new();
    size_t mem0 = kv_memory_bytes(big);
    char key[32];
    for (uint32_t i = 0; i < 20000; i++) kv_apply_put(big, key, make_key(key, "s:", i), "v", 1, V(1, 1));
    for (uint32_t i = 0; i < 20000; i++) kv_apply_del(big, key, make_key(key, "s:", i), V(2, 1));
    test_cond("all dropped", kv_drop_tombstones(big, 2) == 20000 && kv_tombstones(big) == 0 &&
                                 kv_count(big) == 0);
    test_cond("digest back to 0", kv_digest(big) == 0);
    /* (database 0's dictionary and the database slots stay: under 512 bytes) */
    test_cond("memory back to a small table", kv_memory_bytes(big) < mem0 + 768);
    test_cond("store usable after shrinking", put_s(big, "a", "b", 3, 1) == KV_WON &&
                                                   has(big, "a", "b"));
    kv_free(big);
    kv_free(kv);
}

/* ---- Digest ---- */

static void test_digest_orders(void)
{
    test_section("digest: order independence");
    kv_store *a = kv_new(), *b = kv_new();
    test_cond("empty store digest is 0", kv_digest(a) == 0);
    put_s(a, "k", "v", 1, 1);
    test_cond("non-empty digest is not 0", kv_digest(a) != 0);
    del_s(a, "k", 2, 1);
    test_cond("put then delete: digest 0", kv_digest(a) == 0);

    /* The digest hash is fixed across processes and versions: a golden
     * value catches an accidental change (which would make a new binary
     * disagree with an old one about identical data). */
    kv_store *g = kv_new();
    put_s(g, "a", "1", 1, 1);
    put_s(g, "hello", "world", 1, 1);
    printf("golden digest %016llx\n", (unsigned long long)kv_digest(g));
    test_cond("golden digest", kv_digest(g) == 0xd4784db0634fb89cull);
    kv_free(g);

    char key[32], val[64];
    enum { N = 3000 };
    for (uint32_t i = 0; i < N; i++) {
        uint32_t kl = make_key(key, "o:", i);
        uint32_t vl = make_key(val, "value-", i * 7);
        kv_apply_put(a, key, kl, val, vl, V(100, 1));
    }
    /* B: reverse order, with older values, then overwrites, and extra keys
     * that are deleted again. */
    for (uint32_t i = N; i-- > 0;) {
        uint32_t kl = make_key(key, "o:", i);
        kv_apply_put(b, key, kl, "old", 3, V(50, 1));
        uint32_t xl = make_key(val, "extra:", i);
        kv_apply_put(b, val, xl, "gone", 4, V(50, 1));
    }
    for (uint32_t i = 0; i < N; i++) {
        uint32_t xl = make_key(val, "extra:", i);
        kv_apply_del(b, val, xl, V(60, 1));
    }
    test_cond("different contents: different digests", kv_digest(a) != kv_digest(b));
    for (uint32_t i = N; i-- > 0;) {
        uint32_t kl = make_key(key, "o:", i);
        uint32_t vl = make_key(val, "value-", i * 7);
        kv_apply_put(b, key, kl, val, vl, V(100 + i % 3, 2));
    }
    test_cond("same live contents, other order/versions/tombstones: equal digests",
              kv_digest(a) == kv_digest(b) && kv_count(a) == kv_count(b));
    put_s(b, "o:0", "value-1", 1000, 1);
    test_cond("one value changed: digests differ", kv_digest(a) != kv_digest(b));
    /* Key/value boundary matters: ("ab","c") != ("a","bc"). */
    kv_store *c = kv_new(), *d = kv_new();
    put_s(c, "ab", "c", 1, 1);
    put_s(d, "a", "bc", 1, 1);
    test_cond("key/value split enters the digest", kv_digest(c) != kv_digest(d));
    kv_free(c);
    kv_free(d);
    kv_free(a);
    kv_free(b);
}

/* A fixed set of conflicting records: same keys, equal timestamps, deletes
 * and prefix-related values among them. */
typedef struct rec {
    const char *key;
    const char *val; /* NULL: delete */
    uint64_t ts;
    uint32_t node;
} rec;

static const rec conflict_recs[] = {
    {"a", "x", 10, 1},    {"a", "y", 10, 1},    {"a", "xy", 10, 1},  {"a", NULL, 9, 3},
    {"a", "z", 10, 0},    {"b", "v", 5, 1},     {"b", NULL, 5, 1},   {"b", "w", 5, 1},
    {"b", "v", 4, 2},     {"c", "", 7, 2},      {"c", "\x01", 7, 2}, {"c", NULL, 6, 9},
    {"c", "\xff", 7, 1},  {"d", NULL, 3, 3},    {"d", NULL, 3, 3},   {"d", "late", 2, 9},
    {"e", "abc", 8, 4},   {"e", "ab", 8, 4},    {"e", "abd", 8, 4},  {"e", "abd", 8, 4},
    {"e", "b", 8, 3},     {"f", "one", 1, 1},   {"f", NULL, 2, 1},   {"f", "three", 3, 1},
    {"f", NULL, 3, 1},    {"g", "same", 4, 4},  {"g", "same", 4, 4}, {"h", "p", 11, 1},
    {"h", "pq", 11, 2},   {"h", NULL, 11, 2},   {"h", "q", 11, 2},   {"", "emptykey", 1, 1},
    {"", NULL, 1, 1},     {"i", "only", 1, 1},
};
enum { NRECS = sizeof conflict_recs / sizeof conflict_recs[0] };

static void apply_rec(kv_store *kv, const rec *r)
{
    if (r->val)
        put_s(kv, r->key, r->val, r->ts, r->node);
    else
        del_s(kv, r->key, r->ts, r->node);
}

/* 1 if KEY looks the same in both stores (presence, tombstone, value, version). */
static int same_entry(kv_store *x, kv_store *y, const char *key)
{
    kv_entry_view ex, ey;
    uint32_t kl = (uint32_t)strlen(key);
    int hx = kv_lookup(x, key, kl, &ex), hy = kv_lookup(y, key, kl, &ey);
    if (hx != hy) return 0;
    if (!hx) return 1;
    return ex.tombstone == ey.tombstone && ex.vlen == ey.vlen && ex.ver.ts == ey.ver.ts &&
           ex.ver.node_id == ey.ver.node_id && (ex.vlen == 0 || !memcmp(ex.val, ey.val, ex.vlen));
}

static void test_digest_permutations(void)
{
    test_section("digest: permutations of conflicting records");
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
    const char *seed_env = getenv("RKV_TEST_SEED");
    if (seed_env) seed = strtoull(seed_env, NULL, 0);
    rng_state = seed;

    kv_store *ref = kv_new();
    for (int i = 0; i < NRECS; i++) apply_rec(ref, &conflict_recs[i]);
    /* The expected winners, worked out by hand from the header's rules. */
    test_cond("a: equal ts, node 1 > 0; \"y\" > \"xy\" > \"x\"", has(ref, "a", "y"));
    test_cond("b: delete wins at equal version", is_tombstone(ref, "b", 5, 1));
    test_cond("c: node 2 beats node 1; \"\\x01\" > \"\"", has(ref, "c", "\x01"));
    test_cond("d: two equal deletes, older put loses", is_tombstone(ref, "d", 3, 3));
    test_cond("e: node 4, \"abd\" is greatest", has(ref, "e", "abd"));
    test_cond("f: delete wins at (3,1)", is_tombstone(ref, "f", 3, 1));
    test_cond("g: duplicate put", has(ref, "g", "same"));
    test_cond("h: delete at (11,2)", is_tombstone(ref, "h", 11, 2));
    test_cond("empty key deleted", is_tombstone(ref, "", 1, 1));
    test_cond("ref counts", kv_count(ref) == 5 && kv_tombstones(ref) == 5);

    int perms = small_mode ? 200 : 2000, bad_digest = 0, bad_entry = 0;
    int order[NRECS];
    for (int p = 0; p < perms; p++) {
        for (int i = 0; i < NRECS; i++) order[i] = i;
        for (int i = NRECS - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(rng_next() % (uint64_t)(i + 1));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        kv_store *kv = kv_new();
        for (int i = 0; i < NRECS; i++) apply_rec(kv, &conflict_recs[order[i]]);
        if (kv_digest(kv) != kv_digest(ref)) bad_digest++;
        for (int i = 0; i < NRECS; i++)
            if (!same_entry(kv, ref, conflict_recs[i].key)) bad_entry++;
        if (kv_count(kv) != kv_count(ref) || kv_tombstones(kv) != kv_tombstones(ref)) bad_entry++;
        kv_free(kv);
    }
    test_cond("every permutation gives the reference digest", bad_digest == 0);
    test_cond("every permutation gives the same value and version per key", bad_entry == 0);
    if (bad_digest || bad_entry)
        printf("  permutation seed %llu (rerun with RKV_TEST_SEED=%llu)\n",
               (unsigned long long)seed, (unsigned long long)seed);
    kv_free(ref);
}

/* ---- Iteration ---- */

typedef struct iter_ctx {
    uint8_t *seen;
    uint32_t n;
    long visits, dup, unknown, tombs;
    long stop_after;
} iter_ctx;

static int iter_fn(void *arg, const kv_entry_view *e)
{
    iter_ctx *c = arg;
    c->visits++;
    if (e->tombstone) c->tombs++;
    uint32_t idx = 0;
    if (e->klen < 3 || memcmp(e->key, "i:", 2) != 0) {
        c->unknown++;
    } else {
        for (uint32_t i = 2; i < e->klen; i++) idx = idx * 10 + (uint32_t)(e->key[i] - '0');
        if (idx >= c->n)
            c->unknown++;
        else if (c->seen[idx]++)
            c->dup++;
    }
    return c->stop_after && c->visits == c->stop_after ? 42 : 0;
}

static void test_iterate(void)
{
    test_section("kv_iterate");
    kv_store *kv = kv_new();
    char key[32];
    uint32_t n = 0;
    /* Insert until a rehash is in progress (past a few thousand keys). */
    for (;; n++) {
        uint32_t kl = make_key(key, "i:", n);
        kv_apply_put(kv, key, kl, "v", 1, V(1, 1));
        if (n > 3000 && kv_rehash_step(kv, 0)) {
            n++;
            break;
        }
    }
    for (uint32_t i = 0; i < n; i += 10) kv_apply_del(kv, key, make_key(key, "i:", i), V(2, 1));
    test_cond("rehash still in progress", kv_rehash_step(kv, 0) == 1);
    iter_ctx c = {.seen = calloc(n, 1), .n = n};
    test_cond("iterate returns 0 when FN never stops it", kv_iterate(kv, iter_fn, &c) == 0);
    long missing = 0;
    for (uint32_t i = 0; i < n; i++) missing += c.seen[i] == 0;
    test_cond("every entry visited once during a rehash",
              c.visits == (long)n && c.dup == 0 && c.unknown == 0 && missing == 0);
    test_cond("tombstones visited and flagged", c.tombs == (long)(n + 9) / 10);
    memset(c.seen, 0, n);
    c.visits = 0;
    c.stop_after = 5;
    test_cond("non-zero from FN stops the walk and is returned",
              kv_iterate(kv, iter_fn, &c) == 42 && c.visits == 5);
    free(c.seen);
    kv_free(kv);

    kv = kv_new();
    c = (iter_ctx){.seen = NULL, .n = 0};
    test_cond("empty store: no visits", kv_iterate(kv, iter_fn, &c) == 0 && c.visits == 0);
    kv_free(kv);
}

/* ---- Out of memory ---- */

static int under_instrumentation(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 1;
#else
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") != NULL;
#endif
}

/* Makes large allocations fail for real by capping the data segment just
 * above what is in use, then checks that failed writes leave the store as it
 * was. Skipped under sanitizers and valgrind, whose allocators abort instead. */
static void test_nomem(void)
{
    test_section("KV_NOMEM leaves the store unchanged");
    if (under_instrumentation()) {
        test_skip("KV_NOMEM test: allocators of sanitizers and valgrind abort instead");
        return;
    }
    enum { BIG = KV_VLEN_MAX }; /* the largest value the store takes (64 MiB - 1) */
    char *bigval = malloc(BIG);
    kv_store *kv = kv_new();
    if (!bigval || !kv) {
        test_cond("setup allocations", 0);
        free(bigval);
        kv_free(kv);
        return;
    }
    memset(bigval, 'x', BIG);
    put_s(kv, "k", "small", 1, 1);
    del_s(kv, "t", 1, 1);
    uint64_t d = kv_digest(kv);
    size_t mem = kv_memory_bytes(kv);

    struct rlimit old, lim;
    getrlimit(RLIMIT_DATA, &old);
    long vmdata_kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %ld kB", &vmdata_kb) == 1) break;
    if (f) fclose(f);
    lim = old;
    lim.rlim_cur = (rlim_t)vmdata_kb * 1024 + (8 << 20);
    void *probe = NULL;
    if (vmdata_kb == 0 || setrlimit(RLIMIT_DATA, &lim) != 0 || (probe = malloc(BIG)) != NULL) {
        free(probe);
        setrlimit(RLIMIT_DATA, &old);
        test_skip("KV_NOMEM test: RLIMIT_DATA not enforced here");
        free(bigval);
        kv_free(kv);
        return;
    }
    int r1 = kv_apply_put(kv, "new", 3, bigval, BIG, V(2, 1));     /* new entry */
    int r2 = kv_apply_put(kv, "k", 1, bigval, BIG, V(2, 1));       /* growing realloc */
    int r3 = kv_apply_put(kv, "t", 1, bigval, BIG, V(2, 1));       /* tombstone -> put */
    /* (A tombstone's key is at most KV_KLEN_MAX, 128 KiB: malloc serves that
     * from free heap whatever RLIMIT_DATA says, so its KV_NOMEM path cannot
     * be forced here; it is the same kv_alloc check as r1's.) */
    setrlimit(RLIMIT_DATA, &old);
    test_cond("put of a new key: KV_NOMEM", r1 == KV_NOMEM);
    test_cond("overwrite needing a bigger entry: KV_NOMEM", r2 == KV_NOMEM);
    test_cond("put over a tombstone: KV_NOMEM", r3 == KV_NOMEM);
    kv_entry_view e;
    test_cond("store unchanged", kv_digest(kv) == d && kv_count(kv) == 1 &&
                                     kv_tombstones(kv) == 1 && has(kv, "k", "small") &&
                                     is_tombstone(kv, "t", 1, 1) && !kv_lookup(kv, "new", 3, &e));
    test_cond("memory accounting unchanged", kv_memory_bytes(kv) == mem);
    test_cond("works again with memory back", kv_apply_put(kv, "new", 3, bigval, BIG, V(2, 1)) ==
                                                  KV_WON);
    free(bigval);
    kv_free(kv);
}

/* Databases, expiries, hard removes, flushes, SCAN and random keys. */
typedef struct seen_ctx {
    unsigned char *seen;
    long n, dups, foreign;
    unsigned db;
} seen_ctx;

static int scan_mark(void *ctx, const kv_entry_view *e)
{
    seen_ctx *s = ctx;
    if (e->db != s->db) s->foreign++;
    if (e->klen > 2 && e->key[0] == 's' && e->key[1] == ':') {
        long i = atol((const char *)e->key + 2);
        if (i >= 0 && i < s->n) {
            if (s->seen[i]) s->dups++;
            s->seen[i] = 1;
        }
    }
    return 0;
}

static void test_databases(void)
{
    test_section("databases, expiries, remove, flush");
    kv_store *kv = kv_new();
    kv_entry_view e;
    test_cond("same key in db 0 and db 5",
              kv_put(kv, 0, "k", 1, "zero", 4, 0, V(1, 1)) == KV_WON &&
                  kv_put(kv, 5, "k", 1, "five", 4, 99, V(1, 1)) == KV_WON);
    test_cond("db 0 sees its own", kv_find(kv, 0, "k", 1, &e) && e.vlen == 4 &&
                                       memcmp(e.val, "zero", 4) == 0 && e.expire_ms == 0 && e.db == 0);
    test_cond("db 5 sees its own with the expiry", kv_find(kv, 5, "k", 1, &e) &&
                                                       memcmp(e.val, "five", 4) == 0 &&
                                                       e.expire_ms == 99 && e.db == 5);
    test_cond("per-database counts", kv_db_count(kv, 0) == 1 && kv_db_count(kv, 5) == 1 &&
                                         kv_count(kv) == 2 && kv_db_volatile(kv, 5) == 1 &&
                                         kv_db_volatile(kv, 0) == 0);
    uint64_t d1 = kv_digest(kv);
    kv_store *other = kv_new();
    kv_put(other, 0, "k", 1, "zero", 4, 0, V(1, 1));
    kv_put(other, 6, "k", 1, "five", 4, 99, V(1, 1));
    test_cond("the database is in the digest", kv_digest(other) != d1);
    kv_free(other);
    other = kv_new();
    kv_put(other, 0, "k", 1, "zero", 4, 0, V(1, 1));
    kv_put(other, 5, "k", 1, "five", 4, 98, V(1, 1));
    test_cond("the expiry is in the digest", kv_digest(other) != d1);
    kv_free(other);
    /* Adding, changing and removing an expiry moves the key bytes. */
    test_cond("expiry added", kv_put(kv, 0, "k", 1, "zero!", 5, 12345, V(2, 1)) == KV_WON &&
                                  kv_find(kv, 0, "k", 1, &e) && e.expire_ms == 12345 &&
                                  e.klen == 1 && e.key[0] == 'k' && e.vlen == 5);
    test_cond("expiry removed", kv_put(kv, 0, "k", 1, "z", 1, 0, V(3, 1)) == KV_WON &&
                                    kv_find(kv, 0, "k", 1, &e) && e.expire_ms == 0 &&
                                    e.key[0] == 'k' && e.val[0] == 'z' &&
                                    kv_db_volatile(kv, 0) == 0);
    test_cond("a delete drops the expiry", kv_del(kv, 5, "k", 1, V(4, 1)) == KV_WON &&
                                               kv_db_volatile(kv, 5) == 0 &&
                                               kv_find(kv, 5, "k", 1, &e) && e.tombstone);
    test_cond("remove with another version: kept", kv_remove(kv, 0, "k", 1, &(kv_version){9, 9}) == 0);
    test_cond("remove with its version: gone", kv_remove(kv, 0, "k", 1, &(kv_version){3, 1}) == 1 &&
                                                   !kv_find(kv, 0, "k", 1, &e) &&
                                                   kv_count(kv) == 0);
    test_cond("remove a tombstone outright", kv_remove(kv, 5, "k", 1, NULL) == 1 &&
                                                 kv_tombstones(kv) == 0);
    test_cond("digest back to 0", kv_digest(kv) == 0);
    for (int i = 0; i < 100; i++) {
        char key[16];
        uint32_t kl = make_key(key, "f:", (uint32_t)i);
        kv_put(kv, (unsigned)(i % 3), key, kl, "v", 1, i % 2 ? 5 : 0, V(10, 1));
    }
    uint64_t before = kv_digest(kv);
    size_t in1 = kv_db_count(kv, 1);
    kv_flush_db(kv, 1);
    test_cond("FLUSHDB empties one database", kv_db_count(kv, 1) == 0 && in1 > 0 &&
                                                  kv_count(kv) == 100 - in1);
    test_cond("the digest loses exactly its entries", kv_digest(kv) != before);
    kv_flush_all(kv);
    test_cond("FLUSHALL empties all, digest 0", kv_count(kv) == 0 && kv_digest(kv) == 0);
    test_cond("a random key of an empty database: none", !kv_random(kv, 0, 1, &e));
    kv_put(kv, 2, "only", 4, "v", 1, 0, V(11, 1));
    test_cond("a random key of database 2", kv_random(kv, 2, 12345, &e) && e.klen == 4 &&
                                                e.db == 2);
    kv_free(kv);

    test_section("SCAN: every key present for the whole scan, across a growing table");
    kv = kv_new();
    const long base = 2000;
    for (long i = 0; i < base; i++) {
        char key[32];
        uint32_t kl = make_key(key, "s:", (uint32_t)i);
        kv_put(kv, 4, key, kl, "v", 1, 0, V(1, 1));
    }
    kv_put(kv, 3, "s:0", 3, "other db", 8, 0, V(1, 1));
    seen_ctx sc = {calloc((size_t)base, 1), base, 0, 0, 4};
    uint64_t cur = 0;
    long added = 0, steps = 0;
    do {
        cur = kv_scan(kv, 4, cur, scan_mark, &sc);
        steps++;
        for (int j = 0; j < 40 && added < 10 * base; j++, added++) { /* grows the table */
            char key[32];
            uint32_t kl = make_key(key, "g:", (uint32_t)added);
            kv_put(kv, 4, key, kl, "v", 1, 0, V(1, 1));
        }
    } while (cur != 0 && steps < 1000000);
    long missing = 0;
    for (long i = 0; i < base; i++) missing += !sc.seen[i];
    test_cond("the scan ends", cur == 0);
    test_cond("the table grew during it", added > 4 * base);
    test_cond("no key present for the whole scan was missed", missing == 0);
    test_cond("only database 4's entries", sc.foreign == 0);
    free(sc.seen);
    kv_free(kv);
}

/* The access clock for --maxmemory's LRU: puts and finds stamp the entry,
 * kv_idle_ticks counts from it (across one wrap of the 19-bit clock), and
 * kv_random reports what the entry holds. */
static void test_lru_clock(void)
{
    test_section("access clock (LRU)");
    kv_store *kv = kv_new();
    kv_set_clock(kv, 1000);
    kv_apply_put(kv, "a", 1, "1", 1, V(1, 1));
    kv_apply_put(kv, "b", 1, "2", 1, V(1, 1));
    kv_set_clock(kv, 1100);
    kv_entry_view e;
    kv_find(kv, 0, "b", 1, &e); /* stamps b at 1100, reports the stamp before */
    test_cond("a find reports the last stamp", e.lru == 1000);
    kv_find(kv, 0, "a", 1, &e);
    test_cond("a was last touched 100 s ago", e.lru == 1000 && kv_idle_ticks(kv, e.lru) == 100);
    kv_set_clock(kv, 1150);
    kv_find(kv, 0, "b", 1, &e);
    test_cond("b found at 1100: idle 50 s", e.lru == 1100 && kv_idle_ticks(kv, e.lru) == 50);
    kv_set_clock(kv, KV_LRU_MAX + 11ull); /* wrapped: 10 */
    test_cond("idle time across a wrap", kv_idle_ticks(kv, KV_LRU_MAX - 4u) == 15);
    kv_apply_put(kv, "big", 3, "0123456789012345678901234567890123456789", 40, V(2, 1));
    int got = 0;
    for (uint64_t r = 1; r < 200 && !got; r++)
        got = kv_random(kv, 0, r, &e) && e.klen == 3 && e.mem >= 28 + 3 + 40;
    test_cond("kv_random reports the entry's bytes", got);
    test_cond("a tombstone holds at least its header and key",
              kv_tombstone_size(3) >= 28 + 3 && kv_tombstone_size(3) % 8 == 0);
    test_cond("no tombstones: 0 bytes", kv_tombstone_bytes(kv) == 0);
    kv_apply_del(kv, "big", 3, V(3, 1));
    kv_apply_del(kv, "zz", 2, V(3, 1));
    test_cond("two tombstones: the bytes malloc holds for them",
              kv_tombstone_bytes(kv) == kv_tombstone_size(3) + kv_tombstone_size(2));
    kv_apply_put(kv, "zz", 2, "back", 4, V(4, 1));
    test_cond("a tombstone overwritten leaves the count", kv_tombstone_bytes(kv) == kv_tombstone_size(3));
    kv_drop_tombstones(kv, UINT64_MAX);
    test_cond("dropped: 0 bytes", kv_tombstone_bytes(kv) == 0);
    kv_del(kv, 5, "q", 1, V(5, 1));
    kv_flush_db(kv, 5);
    test_cond("flushed with its database: 0 bytes", kv_tombstone_bytes(kv) == 0);
    kv_free(kv);
}

int main(void)
{
    const char *s = getenv("RKV_TEST_SMALL");
    small_mode = s && *s && strcmp(s, "0") != 0;
    test_basic();
    test_lww();
    test_drop_tombstones();
    test_digest_orders();
    test_digest_permutations();
    test_iterate();
    test_rehash_during_writes();
    test_nomem();
    test_databases();
    test_lru_clock();
    test_million();
    return test_report();
}
