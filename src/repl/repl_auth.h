/* repl_auth.h -- the cluster-secret handshake at the start of every
 * replication and vote connection.
 *
 * CRCs catch corruption, not forgery: without this, anyone who can reach a
 * replication port can pose as the leader (and rewrite a follower's data)
 * or as a follower (and receive every key, and count toward a quorum that
 * was never reached). Every node holds the same secret K
 * (--cluster-secret-file). The connection's dialler D (a leader, or a
 * candidate asking for votes) and its acceptor A prove to each other that
 * they hold K, without sending it:
 *
 *   D -> A  AUTH       version 1, purpose (link | vote), id_D, nonce_D, cluster id
 *   A -> D  CHALLENGE  id_A, nonce_A, mac_A = HMAC-SHA-256(K, "rkv-auth-acceptor-v1" | T)
 *   D -> A  PROOF      mac_D = HMAC-SHA-256(K, "rkv-auth-dialler-v1" | T)
 *   then HELLO (or VOTE) as before
 *
 * with T = cluster id | purpose | id_D | id_A | nonce_D | nonce_A. Both
 * nonces are 32 fresh random bytes, so each side's proof covers a nonce the
 * other side just chose: a recorded handshake replayed later fails, and the
 * two labels keep one side's proof from being reflected as the other's.
 * The dialler checks mac_A before it sends anything else (a fake follower
 * learns nothing, not even our HELLO); the acceptor checks mac_D before it
 * reads anything else (a fake leader's frames are never parsed). The
 * comparison is constant time.
 *
 * This authenticates the start of a TCP connection. An attacker who can
 * rewrite packets in flight can still tamper after it: --tls-replication
 * (mutual TLS) is the defence against that, and the handshake runs inside
 * TLS as well. Pure functions: no I/O, no clock; the nonces come in. */
#ifndef RKV_REPL_AUTH_H
#define RKV_REPL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

#define REPL_AUTH_VERSION 1u
#define REPL_AUTH_PURPOSE_LINK 1u /* a leader's replication link */
#define REPL_AUTH_PURPOSE_VOTE 2u /* a candidate's vote connection */
#define REPL_SECRET_MIN 16u       /* shortest accepted cluster secret, bytes */
#define REPL_SECRET_MAX 4096u     /* longest */

/* The secret file holds one secret per line: the first is the one this
 * node proves; a second line, when present, is also accepted from peers.
 * That is how the secret is rotated without stopping replication
 * (docs/SECURITY.md): every node first gets "old, new", then "new, old",
 * then "new" alone, one node at a time. */
typedef struct repl_secret {
    uint8_t key[REPL_SECRET_MAX];
    size_t len; /* 0: no secret configured */
    uint8_t next[REPL_SECRET_MAX]; /* also accepted (rotation); next_len 0: none */
    size_t next_len;
} repl_secret;

typedef struct repl_auth_msg {
    uint8_t version, purpose;
    uint32_t id;                   /* the sender's node id */
    char cluster_id[65];           /* AUTH: the dialler's --cluster-id (a mismatch is named,
                                      not reported as a wrong proof) */
    uint8_t nonce[RKV_NONCE_LEN];  /* AUTH, CHALLENGE */
    uint8_t mac[RKV_SHA256_LEN];   /* CHALLENGE, PROOF */
} repl_auth_msg;

/* Reads the secret(s) from PATH: the first line (trailing whitespace cut),
 * at least REPL_SECRET_MIN bytes, and an optional second one. A file
 * readable by group or others is a warning in *WARN (non-empty). 0, or -1
 * with ERR. */
int repl_secret_load(const char *path, repl_secret *s, char *warn, size_t warnlen, char *err,
                     size_t errlen);

/* The dialler's first message: version, PURPOSE, its ID and CLUSTER_ID, a
 * fresh nonce (kept in NONCE for checking the answer). 0, or -1 if no
 * random bytes could be had. */
int repl_auth_start(repl_auth_msg *m, uint8_t purpose, uint32_t id, const char *cluster_id,
                    uint8_t nonce[RKV_NONCE_LEN]);

/* Frames (REPL_FRAME_HDR + payload) into OUT, which has REPL_CTRL_MAX bytes. */
size_t repl_encode_auth(uint8_t *out, const repl_auth_msg *m);      /* REPL_AUTH */
size_t repl_encode_challenge(uint8_t *out, const repl_auth_msg *m); /* REPL_AUTH_CHALLENGE */
size_t repl_encode_proof(uint8_t *out, const repl_auth_msg *m);     /* REPL_AUTH_PROOF */
struct repl_frame;
/* Decoders: 0, or -1 if the payload is malformed. */
int repl_decode_auth(const struct repl_frame *f, repl_auth_msg *m);
int repl_decode_challenge(const struct repl_frame *f, repl_auth_msg *m);
int repl_decode_proof(const struct repl_frame *f, repl_auth_msg *m);

enum repl_auth_side { REPL_AUTH_ACCEPTOR = 0, REPL_AUTH_DIALLER = 1 };
/* The proof of SIDE over the transcript. 0 or -1 (crypto unavailable). */
int repl_auth_mac(const repl_secret *k, enum repl_auth_side side, const char *cluster_id,
                  uint8_t purpose, uint32_t id_d, uint32_t id_a, const uint8_t nonce_d[RKV_NONCE_LEN],
                  const uint8_t nonce_a[RKV_NONCE_LEN], uint8_t out[RKV_SHA256_LEN]);
/* Checks a received proof (constant time) under the secret and, when
 * set, the second accepted one: 1 valid, 0 not. */
int repl_auth_verify(const repl_secret *k, enum repl_auth_side side, const char *cluster_id,
                     uint8_t purpose, uint32_t id_d, uint32_t id_a,
                     const uint8_t nonce_d[RKV_NONCE_LEN], const uint8_t nonce_a[RKV_NONCE_LEN],
                     const uint8_t mac[RKV_SHA256_LEN]);

#endif
