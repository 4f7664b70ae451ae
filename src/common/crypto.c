/* crypto.c -- SHA-256, HMAC-SHA-256, random bytes and constant-time compare
 * through OpenSSL (see crypto.h). */
#include "common/crypto.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#if RKV_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif

int rkv_crypto_available(void)
{
    return RKV_HAVE_OPENSSL;
}

int rkv_random(void *buf, size_t n)
{
#if RKV_HAVE_OPENSSL
    return n > (size_t)1 << 30 || RAND_bytes(buf, (int)n) != 1 ? -1 : 0;
#else
    /* getrandom(2) is the kernel's CSPRNG; used only for nonces, which a
     * build without OpenSSL never sends (no cluster secret there). */
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
#endif
}

int rkv_sha256(const void *data, size_t len, uint8_t out[RKV_SHA256_LEN])
{
#if RKV_HAVE_OPENSSL
    unsigned int olen = 0;
    return EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) == 1 &&
                   olen == RKV_SHA256_LEN
               ? 0
               : -1;
#else
    (void)data, (void)len, (void)out;
    return -1;
#endif
}

int rkv_sha1(const void *data, size_t len, uint8_t out[RKV_SHA1_LEN])
{
#if RKV_HAVE_OPENSSL
    unsigned int olen = 0;
    return EVP_Digest(data, len, out, &olen, EVP_sha1(), NULL) == 1 && olen == RKV_SHA1_LEN ? 0
                                                                                          : -1;
#else
    (void)data, (void)len, (void)out;
    return -1;
#endif
}

int rkv_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
                    uint8_t out[RKV_SHA256_LEN])
{
#if RKV_HAVE_OPENSSL
    unsigned int olen = 0;
    if (klen > (size_t)1 << 20) return -1;
    return HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &olen) && olen == RKV_SHA256_LEN
               ? 0
               : -1;
#else
    (void)key, (void)klen, (void)data, (void)dlen, (void)out;
    return -1;
#endif
}

int rkv_ct_equal(const void *a, const void *b, size_t n)
{
#if RKV_HAVE_OPENSSL
    return CRYPTO_memcmp(a, b, n) == 0;
#else
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
#endif
}

void rkv_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rkv_unhex(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hi < 0 ? -1 : hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void rkv_wipe(void *p, size_t n)
{
#if RKV_HAVE_OPENSSL
    OPENSSL_cleanse(p, n);
#else
    volatile uint8_t *v = p;
    while (n--) *v++ = 0;
#endif
}
