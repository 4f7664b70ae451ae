/* crypto.h -- the few cryptographic primitives rkv uses, all from OpenSSL.
 *
 * rkv writes no cipher, hash or random generator of its own (docs/SECURITY.md):
 * SHA-256 hashes stored passwords (ACL), HMAC-SHA-256 proves that both ends
 * of a replication or vote connection hold the cluster secret, and the
 * random bytes are the handshake nonces. Comparisons of secrets are constant
 * time. A build without OpenSSL (`make TLS=no`) still compiles this module:
 * every function then reports that it is unavailable, and the server refuses
 * the flags that need it at start instead of running unprotected. */
#ifndef RKV_CRYPTO_H
#define RKV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifndef RKV_HAVE_OPENSSL
#define RKV_HAVE_OPENSSL 0
#endif

#define RKV_SHA256_LEN 32
#define RKV_NONCE_LEN 32

/* 1 when built with OpenSSL. */
int rkv_crypto_available(void);
/* Fills BUF with N bytes from the system's CSPRNG. 0 or -1. */
int rkv_random(void *buf, size_t n);
/* OUT = SHA-256(DATA). 0 or -1 (no OpenSSL). */
int rkv_sha256(const void *data, size_t len, uint8_t out[RKV_SHA256_LEN]);
#define RKV_SHA1_LEN 20
/* OUT = SHA-1(DATA): script identity (EVALSHA), not security. 0 or -1 (no OpenSSL). */
int rkv_sha1(const void *data, size_t len, uint8_t out[RKV_SHA1_LEN]);
/* OUT = HMAC-SHA-256(KEY, DATA). 0 or -1. */
int rkv_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
                    uint8_t out[RKV_SHA256_LEN]);
/* 1 if A and B (N bytes each) are equal; time independent of where they differ. */
int rkv_ct_equal(const void *a, const void *b, size_t n);
/* Lower-case hex of N bytes into OUT (2N+1 bytes). */
void rkv_hex(const uint8_t *in, size_t n, char *out);
/* Parses 2N hex digits into OUT[N]. 0 or -1. */
int rkv_unhex(const char *in, size_t n, uint8_t *out);
/* Overwrites N bytes of P so that the compiler cannot drop it (secrets). */
void rkv_wipe(void *p, size_t n);

#endif
