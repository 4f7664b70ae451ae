/* fakeleader.h -- a test that plays the leader to a real follower, and the
 * conflicting record sets it ships (last-writer-wins tests, CRC tests).
 *
 * The fake leader speaks docs/PROTOCOL.md from the leader's side over one
 * blocking-with-deadline TCP connection: HELLO, then HELLO_OK from the
 * follower, then RECORDS frames of records the test encoded itself (any
 * order of keys, timestamps and origin node ids, bits flipped on purpose),
 * then it reads ACKs until the follower says what it made durable. Used by
 * tests/repl_full_test.c in-process and by build/tools/lwwfeed against an
 * rkv-server process.
 *
 * The LWW record set: LWW_KEYS keys, LWW_PER_KEY records each, generated from
 * a seed so that the same seed gives the same set in every process. Many
 * records of a key share a timestamp and differ in origin node id, in op
 * (PUT against DEL of the same version) or in value (one value a prefix of
 * another), so every rung of the tie-break order is exercised. The expected
 * outcome is computed here by a separate model of the rule documented in
 * kv_store.h, not by the store's code. */
#ifndef RKV_TEST_FAKELEADER_H
#define RKV_TEST_FAKELEADER_H

#include <stddef.h>
#include <stdint.h>

#include "repl/repl_proto.h"

#define FL_ERR_MAX 256
#define FL_IN_MAX (1u << 20) /* follower->leader frames are tiny */

typedef struct fake_leader {
    int fd;
    int timeout_ms; /* bounds every connect, send and read */
    uint8_t *in;
    size_t in_len, in_cap;
    uint64_t acked; /* highest durable LSN the follower acknowledged */
    int eof;        /* the follower closed the connection */
    int no_commit;  /* fl_send_records sends no COMMIT (a leader that dies before its quorum) */
    repl_hello_ok ok;
    char err[FL_ERR_MAX];
} fake_leader;

/* Dials HOST:PORT, sends HELLO (cluster "rkv", leader node id LEADER_ID,
 * EPOCH) and waits for HELLO_OK (in fl->ok). 0, or -1 with fl->err. */
int fl_connect(fake_leader *fl, const char *host, int port, uint32_t leader_id, uint64_t epoch,
               int timeout_ms);
struct repl_secret;
/* fl_connect, proving SECRET first (repl_auth.h) when it is not NULL: a
 * wrong secret is how a test plays an outsider who knows the protocol. */
int fl_connect_secret(fake_leader *fl, const char *host, int port, uint32_t leader_id,
                      uint64_t epoch, int timeout_ms, const struct repl_secret *secret);
/* Only dials (no frame sent). 0 or -1. */
int fl_dial(fake_leader *fl, const char *host, int port, int timeout_ms);
/* Sends bytes as they are (frames built by the test). 0 or -1. */
int fl_send_raw(fake_leader *fl, const uint8_t *p, size_t len);
/* Reads the next frame (payload up to REPL_CTRL_MAX bytes). 0 or -1 (EOF:
 * fl->eof). */
int fl_read_frame(fake_leader *fl, uint8_t *type, uint8_t *payload, uint32_t *plen, int timeout_ms);
/* Sends encoded records BUF[0..LEN) as RECORDS frames, splitting between
 * records at most every MAX_FRAME_BYTES (0: one frame). 0 or -1. */
int fl_send_records(fake_leader *fl, const uint8_t *buf, size_t len, size_t max_frame_bytes);
/* Sends one control frame of TYPE with the three u64 fields of a beat
 * (SNAP_BEGIN, TRUNCATE, COMMIT ...). 0 or -1. */
int fl_send_beat(fake_leader *fl, uint8_t type, uint64_t a, uint64_t b, uint64_t c);
/* Reads ACKs until one says durable >= LSN. 0, or -1 (timeout, EOF, bad
 * frame) with fl->err. */
int fl_wait_ack(fake_leader *fl, uint64_t lsn, int timeout_ms);
/* Waits for the follower to close the link. 0 closed, -1 timeout/error. */
int fl_wait_eof(fake_leader *fl, int timeout_ms);
void fl_close(fake_leader *fl);

/* ---- the LWW record set ---- */

#define LWW_KEYS 8
#define LWW_PER_KEY 6
#define LWW_N (LWW_KEYS * LWW_PER_KEY)
#define LWW_VAL_MAX 16
#define LWW_EPOCH 1u

typedef struct lww_op {
    int key; /* 0 .. LWW_KEYS-1 */
    uint8_t op; /* WAL_OP_PUT or WAL_OP_DEL */
    uint64_t ts;
    uint32_t node_id;
    char val[LWW_VAL_MAX]; /* NUL-terminated; empty for DEL */
} lww_op;

/* The set for SEED (deterministic, the same in every process). */
void lww_generate(uint64_t seed, lww_op ops[LWW_N]);
/* A permutation of 0..N-1 from (SEED, WHICH): the send order. */
void lww_permutation(uint64_t seed, int which, int *perm, int n);
/* Encodes OPS in PERM order with LSNs 1..N, epoch LWW_EPOCH, into OUT (room
 * for lww_encoded_max() bytes). Returns the bytes written. */
size_t lww_encode(const lww_op ops[LWW_N], const int *perm, uint8_t *out);
size_t lww_encoded_max(void);
/* "lww:K" into BUF. */
void lww_key_name(int key, char *buf, size_t len);
/* The value KEY must hold once every record is applied, by the model of the
 * LWW order; NULL if the key must be absent (deleted). */
const char *lww_expected(const lww_op ops[LWW_N], int key);

/* A small deterministic PRNG (splitmix64) for seeds and permutations. */
uint64_t fl_rand(uint64_t *state);

#endif
