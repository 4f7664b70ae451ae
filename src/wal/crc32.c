/* crc32.c -- CRC-32C (Castagnoli) for WAL records, replication frames and
 * checkpoint chunks: an SSE4.2 path and a portable slicing-by-8 path.
 *
 * All tables are built once, at first use, under pthread_once, which also
 * publishes them to every thread (no data race, no init call to forget).
 *
 * The hardware path runs the crc32 instruction 8 bytes at a time. The
 * instruction has a latency of 3 cycles but a throughput of 1 per cycle, so
 * for large buffers three independent streams are run over three adjacent
 * blocks and their CRCs combined afterwards: crc(A||B) = shift(crc(A)) ^
 * crc(0, B), where shift() feeds |B| zero bytes through the CRC register.
 * shift() is linear in the register, so for a fixed block length it is four
 * 256-entry lookup tables (built from the portable table at init).
 *
 * Both paths work on the raw register; the conventional ~ conditioning is
 * applied on entry and exit of every call so that calls chain:
 * crc32c(crc32c(0, a), b) == crc32c(0, a||b). */
#include "wal/crc32.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_X86 1
#include <nmmintrin.h>
#else
#define CRC32C_X86 0
#endif

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

/* Interleaved block lengths, per stream. LONG amortises the combine over
 * 24 KiB; SHORT keeps the 3-way speed-up for buffers from 768 bytes. */
#define CRC32C_LONG 8192u
#define CRC32C_SHORT 256u

static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static uint32_t crc32c_table[8][256];      /* slicing-by-8 */
static uint32_t crc32c_long_op[4][256];    /* shift by CRC32C_LONG zero bytes */
static uint32_t crc32c_short_op[4][256];   /* shift by CRC32C_SHORT zero bytes */
static int crc32c_hw_ok;

/* ---- Portable path ---- */

static void crc32c_build_slices(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc32c_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = (c >> 8) ^ crc32c_table[0][c & 0xff];
            crc32c_table[t][i] = c;
        }
    }
}

/* Builds the tables of the linear map "feed LEN zero bytes to the register":
 * first its value on each of the 32 basis bits, then, for each byte lane,
 * every XOR combination of the lane's 8 columns. */
static void crc32c_build_shift(uint32_t op[4][256], size_t len)
{
    uint32_t col[32];
    for (int j = 0; j < 32; j++) {
        uint32_t c = 1u << j;
        for (size_t n = 0; n < len; n++) c = (c >> 8) ^ crc32c_table[0][c & 0xff];
        col[j] = c;
    }
    for (int lane = 0; lane < 4; lane++) {
        op[lane][0] = 0;
        for (uint32_t i = 1; i < 256; i++)
            op[lane][i] = op[lane][i & (i - 1)] ^ col[8 * lane + __builtin_ctz(i)];
    }
}

static void crc32c_init(void)
{
    crc32c_build_slices();
#if CRC32C_X86
    __builtin_cpu_init();
    crc32c_hw_ok = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (crc32c_hw_ok) {
        crc32c_build_shift(crc32c_long_op, CRC32C_LONG);
        crc32c_build_shift(crc32c_short_op, CRC32C_SHORT);
    }
#endif
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    const uint32_t(*t)[256] = (const uint32_t(*)[256])crc32c_table;
    const uint8_t *p = buf;
    crc = ~crc;
    /* Bytes are assembled explicitly, so this is endian- and alignment-free;
     * compilers turn each group into one load on little-endian targets. */
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* ---- SSE4.2 path ---- */

#if CRC32C_X86
static inline uint64_t crc32c_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v); /* unaligned-safe; x86 is little-endian */
    return v;
}

static inline uint32_t crc32c_shift(const uint32_t op[4][256], uint32_t c)
{
    return op[0][c & 0xff] ^ op[1][(c >> 8) & 0xff] ^ op[2][(c >> 16) & 0xff] ^ op[3][c >> 24];
}

/* Runs three streams over three adjacent BLOCK-byte blocks at P and combines
 * them into the running register C0. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc32c_hw_3way(uint64_t c0, const uint8_t *p, size_t block, const uint32_t op[4][256])
{
    uint64_t c1 = 0, c2 = 0;
    const uint8_t *end = p + block;
    do {
        c0 = _mm_crc32_u64(c0, crc32c_load64(p));
        c1 = _mm_crc32_u64(c1, crc32c_load64(p + block));
        c2 = _mm_crc32_u64(c2, crc32c_load64(p + 2 * block));
        p += 8;
    } while (p < end);
    c0 = crc32c_shift(op, (uint32_t)c0) ^ c1;
    return crc32c_shift(op, (uint32_t)c0) ^ c2;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_impl(uint32_t crc, const uint8_t *p,
                                                                  size_t len)
{
    uint64_t c = ~crc;
    /* Align to 8 so the long loops never split a cache line. */
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 3 * CRC32C_LONG) {
        c = crc32c_hw_3way(c, p, CRC32C_LONG, (const uint32_t(*)[256])crc32c_long_op);
        p += 3 * CRC32C_LONG;
        len -= 3 * CRC32C_LONG;
    }
    while (len >= 3 * CRC32C_SHORT) {
        c = crc32c_hw_3way(c, p, CRC32C_SHORT, (const uint32_t(*)[256])crc32c_short_op);
        p += 3 * CRC32C_SHORT;
        len -= 3 * CRC32C_SHORT;
    }
    while (len >= 8) {
        c = _mm_crc32_u64(c, crc32c_load64(p));
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    return ~(uint32_t)c;
}
#endif

uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
#if CRC32C_X86
    if (crc32c_hw_ok) return crc32c_hw_impl(crc, buf, len);
#endif
    return crc32c_sw(crc, buf, len); /* misuse on a CPU without SSE4.2: stay correct */
}

int crc32c_hw_available(void)
{
    pthread_once(&crc32c_once, crc32c_init);
    return crc32c_hw_ok;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
#if CRC32C_X86
    if (crc32c_hw_ok) return crc32c_hw_impl(crc, buf, len);
#endif
    return crc32c_sw(crc, buf, len);
}
