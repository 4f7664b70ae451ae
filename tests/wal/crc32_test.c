/* crc32_test.c -- CRC-32C: the check value, chaining, and the SSE4.2 and
 * slicing-by-8 paths agreeing on every length and alignment. */
#include "../testhelp.h"
#include "wal/crc32.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bit-at-a-time reference, independent of both table paths. */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rng_next();
}

static void test_known_values(void)
{
    test_section("check value and known vectors");
    const char *check = "123456789";
    test_cond("crc32c(0, \"123456789\") == 0xE3069283", crc32c(0, check, 9) == 0xE3069283u);
    test_cond("sw check value", crc32c_sw(0, check, 9) == 0xE3069283u);
    if (crc32c_hw_available()) test_cond("hw check value", crc32c_hw(0, check, 9) == 0xE3069283u);

    /* RFC 3720 (iSCSI) B.4 vectors. */
    uint8_t buf[48];
    memset(buf, 0, 32);
    test_cond("32 zero bytes", crc32c(0, buf, 32) == 0x8A9136AAu);
    memset(buf, 0xff, 32);
    test_cond("32 0xff bytes", crc32c(0, buf, 32) == 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    test_cond("32 incrementing bytes", crc32c(0, buf, 32) == 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    test_cond("32 decrementing bytes", crc32c(0, buf, 32) == 0x113FDB5Cu);
}

static void test_empty(void)
{
    test_section("empty buffer");
    test_cond("crc32c(0, empty) == 0", crc32c(0, "", 0) == 0);
    test_cond("crc32c(0, NULL, 0) == 0", crc32c(0, NULL, 0) == 0);
    test_cond("sw empty == 0", crc32c_sw(0, NULL, 0) == 0);
    test_cond("empty leaves a running crc unchanged", crc32c(0xE3069283u, NULL, 0) == 0xE3069283u);
    test_cond("sw: empty leaves crc unchanged", crc32c_sw(0x12345678u, "", 0) == 0x12345678u);
    if (crc32c_hw_available())
        test_cond("hw: empty leaves crc unchanged", crc32c_hw(0x12345678u, "", 0) == 0x12345678u);
}

static void test_incremental(void)
{
    test_section("incremental == one-shot");
    enum { N = 100000 };
    uint8_t *buf = malloc(N);
    fill_random(buf, N);
    uint32_t whole = crc32c(0, buf, N);
    test_cond("one-shot matches bitwise reference", whole == crc32c_ref(0, buf, N));
    int ok_split = 1, ok_chunks = 1;
    size_t cuts[] = {0, 1, 7, 8, 9, 255, 767, 768, 769, 24575, 24576, 24577, 50000, N - 1, N};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t c = cuts[i];
        if (crc32c(crc32c(0, buf, c), buf + c, N - c) != whole) ok_split = 0;
        if (crc32c_sw(crc32c_sw(0, buf, c), buf + c, N - c) != whole) ok_split = 0;
        if (crc32c_hw_available() && crc32c_hw(crc32c_hw(0, buf, c), buf + c, N - c) != whole)
            ok_split = 0;
    }
    test_cond("crc32c(crc32c(0,a),b) == crc32c(0,a||b) at every cut", ok_split);
    uint32_t c = 0;
    for (size_t off = 0; off < N;) {
        size_t n = rng_next() % 1000;
        if (n > N - off) n = N - off;
        c = crc32c(c, buf + off, n);
        off += n;
    }
    if (c != whole) ok_chunks = 0;
    test_cond("random-size chunks chain to the one-shot value", ok_chunks);
    free(buf);
}

/* Every length 0..4096 at every alignment 0..7, sw vs hw vs (for short
 * lengths) the bitwise reference. Plus a few large buffers so the 3-way
 * long blocks (24 KiB) run. */
static void test_paths_agree(void)
{
    test_section("sw and hw paths agree on every length and alignment");
    enum { MAXLEN = 4096 };
    uint8_t *buf = malloc(MAXLEN + 8);
    fill_random(buf, MAXLEN + 8);
    int hw = crc32c_hw_available();
    if (!hw) printf("note: SSE4.2 not available, hw path comparison skipped\n");
    long bad_hw = 0, bad_ref = 0, bad_dispatch = 0;
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len <= MAXLEN; len++) {
            const uint8_t *p = buf + align;
            uint32_t seed = (uint32_t)rng_next();
            uint32_t sw = crc32c_sw(seed, p, len);
            if (hw && crc32c_hw(seed, p, len) != sw) bad_hw++;
            if (crc32c(seed, p, len) != sw) bad_dispatch++;
            if (len <= 64 && crc32c_ref(seed, p, len) != sw) bad_ref++;
        }
    }
    test_cond("hw == sw for lengths 0..4096, alignments 0..7", bad_hw == 0);
    test_cond("crc32c() == sw for lengths 0..4096, alignments 0..7", bad_dispatch == 0);
    test_cond("sw == bitwise reference for short lengths", bad_ref == 0);
    if (bad_hw) printf("  %ld hw mismatches\n", bad_hw);
    free(buf);

    enum { BIG = 1 << 20 };
    uint8_t *big = malloc(BIG + 8);
    fill_random(big, BIG + 8);
    size_t lens[] = {3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 768 + 13, 6 * 8192 + 5,
                     100003, BIG};
    int ok = 1;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t align = 0; align < 8; align++) {
            size_t len = lens[i];
            uint32_t sw = crc32c_sw(7, big + align, len);
            if (hw && crc32c_hw(7, big + align, len) != sw) ok = 0;
            if (i < 3 && align == 0 && crc32c_ref(7, big, len) != sw) ok = 0;
        }
    }
    test_cond("large buffers (3-way interleaved blocks) agree", ok);
    free(big);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not an assertion: a number to notice when it regresses. */
static void report_speed(void)
{
    enum { N = 1 << 20, ROUNDS = 64, SW_ROUNDS = 8 };
    uint8_t *buf = malloc(N);
    fill_random(buf, N);
    uint32_t sink = 0;
    double t0 = now_s();
    for (int r = 0; r < SW_ROUNDS; r++) sink += crc32c_sw(0, buf, N);
    double t1 = now_s();
    for (int r = 0; r < ROUNDS; r++) sink += crc32c(0, buf, N);
    double t2 = now_s();
    printf("crc32c: sw %.2f GB/s, crc32c() %.2f GB/s%s (sink %08x)\n",
           (double)N * SW_ROUNDS / (t1 - t0) / 1e9, (double)N * ROUNDS / (t2 - t1) / 1e9,
           crc32c_hw_available() ? " (sse4.2)" : " (sw)", (unsigned)sink);
    free(buf);
}

int main(void)
{
    rng_state = 0x9E3779B97F4A7C15ull;
    test_known_values();
    test_empty();
    test_incremental();
    test_paths_agree();
    report_speed();
    return test_report();
}
