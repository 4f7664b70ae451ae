/* repl_proto.h -- the replication wire format (docs/PROTOCOL.md is the
 * specification; this header is its code).
 *
 * Every message is a frame, integers little-endian:
 *
 *   offset size field
 *   0      4    len   payload length, <= REPL_FRAME_MAX
 *   4      1    type  REPL_* below
 *   5      3    pad   zero
 *   8      4    crc   CRC-32C of bytes 4..8 (type, pad) then the payload;
 *                     zero for RECORDS frames, whose records carry their own
 *                     CRCs end to end from the leader's disk to the
 *                     follower's (so a flipped bit is caught per record and
 *                     counted as records_rejected_crc)
 *   12     len  payload
 *
 * A control frame with a bad CRC, an unknown type, a nonzero pad or a length
 * out of range ends the connection; nothing in it is trusted. The leader
 * dials, so the first frame on a link is the leader's HELLO. */
#ifndef RKV_REPL_PROTO_H
#define RKV_REPL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "wal/wal_record.h"

#define REPL_FRAME_HDR 12u
/* Largest payload: a batch of records up to 4 MiB, or one maximal record. */
#define REPL_BATCH_TARGET (256u * 1024u)
#define REPL_FRAME_MAX (WAL_RECORD_MAX + 4096u)
#define REPL_CLUSTER_ID_MAX 64u
#define REPL_REASON_MAX 200u

enum repl_type {
    REPL_HELLO = 1,     /* L->F: cluster id, leader id, epoch, last lsn, commit lsn */
    REPL_HELLO_OK = 2,  /* F->L: follower id, last lsn, epoch of that record, applied */
    REPL_REFUSE = 3,    /* either way: reason text, then close */
    REPL_RECORDS = 4,   /* L->F: whole WAL records, consecutive LSNs */
    REPL_HEARTBEAT = 5, /* L->F: last lsn, commit lsn, leader time */
    REPL_ACK = 6,       /* F->L: durable lsn, applied lsn, echoed leader time */
    REPL_SNAP_BEGIN = 7, /* L->F: checkpoint lsn, epoch, file size */
    REPL_SNAP_CHUNK = 8, /* L->F: the next bytes of the checkpoint file */
    REPL_SNAP_END = 9,   /* L->F: checkpoint lsn, file size: install it */
    REPL_SNAP_ACK = 10,  /* F->L: checkpoint lsn installed; ACKs from here on speak of it */
    REPL_COMMIT = 11,    /* L->F: commit lsn, match lsn (the follower's log equals the
                            leader's up to it), 0: apply and serve up to min of the two */
    REPL_FETCH = 12,     /* L->F: from lsn, to lsn, 0: a leader that lost committed records
                            asks for them back; the follower answers with RECORDS */
    REPL_TRUNCATE = 13,  /* L->F: lsn, 0, 0: drop your (uncommitted, divergent) records
                            after lsn; records from lsn + 1 follow */
    REPL_VOTE = 14,      /* candidate->member, first frame of a vote connection:
                            (pre)vote request (repl_vote below) */
    REPL_VOTE_RESP = 15, /* member->candidate: the answer (repl_vote_resp) */
    REPL_STALE = 16,     /* F->L instead of HELLO_OK: epoch, leader id known, 0: your
                            epoch is older than ours; step down */
    REPL_TIMEOUT_NOW = 17, /* L->F: epoch, 0, 0: leadership transfer (FAILOVER): campaign
                              now, flagged as a transfer */
    REPL_MEMBERS = 18,   /* L->F: the followers' announced client addresses, as the leader
                            knows them (repl_members below), for ROLE / SENTINEL anywhere */
    /* Cluster-secret handshake (repl_auth.h), before HELLO or VOTE when the
     * nodes have --cluster-secret-file: */
    REPL_AUTH = 19,      /* dialler->acceptor: version, purpose, dialler id, nonce */
    REPL_AUTH_CHALLENGE = 20, /* acceptor->dialler: acceptor id, nonce, its proof */
    REPL_AUTH_PROOF = 21, /* dialler->acceptor: the dialler's proof */
};
#define REPL_TYPE_MAX REPL_AUTH_PROOF
#define REPL_HOST_MAX 255u /* an announced client host name */
#define REPL_MEMBERS_MAX 9u /* entries in a MEMBERS frame (a cluster's members) */
/* u8 count, then per entry u32 id, u8 online, u64 acked lsn, u16 port, u8 host_len, host */
#define REPL_MEMBERS_FRAME_MAX (1u + REPL_MEMBERS_MAX * (16u + REPL_HOST_MAX))

typedef struct repl_member {
    uint32_t id;
    uint8_t online;
    uint64_t acked;
    uint16_t port;
    char host[REPL_HOST_MAX + 1];
} repl_member;
#define REPL_SNAP_CHUNK_MAX (256u * 1024u) /* file bytes per SNAP_CHUNK frame */

typedef struct repl_hello {
    char cluster_id[REPL_CLUSTER_ID_MAX + 1];
    uint32_t node_id;
    uint64_t epoch;
    uint64_t last_lsn;
    uint64_t commit_lsn;
    uint32_t members_crc;              /* elected: CRC-32C of the member list (0: fixed) */
    uint16_t client_port;              /* the leader's announced client address */
    char client_host[REPL_HOST_MAX + 1];
} repl_hello;

typedef struct repl_hello_ok {
    uint32_t node_id;
    uint64_t last_lsn;   /* last durable record on the follower */
    uint64_t last_epoch; /* epoch of that record (0 if none) */
    uint64_t applied_lsn;
    uint64_t commit_lsn; /* highest commit LSN the follower has heard of (from any leader) */
    uint16_t client_port;              /* the follower's announced client address */
    char client_host[REPL_HOST_MAX + 1];
} repl_hello_ok;

typedef struct repl_vote {
    char cluster_id[REPL_CLUSTER_ID_MAX + 1];
    uint64_t term;       /* the epoch asked for */
    uint32_t candidate;
    uint64_t last_epoch, last_lsn; /* the candidate's log */
    uint8_t flags;       /* REPL_VOTE_PRE, REPL_VOTE_TRANSFER */
    uint32_t members_crc; /* CRC-32C of the candidate's member list */
} repl_vote;
#define REPL_VOTE_PRE 1u
#define REPL_VOTE_TRANSFER 2u

typedef struct repl_vote_resp {
    uint64_t term;
    uint32_t voter;
    uint8_t flags; /* REPL_VOTE_GRANTED, REPL_VOTE_PRE */
} repl_vote_resp;
#define REPL_VOTE_GRANTED 2u

typedef struct repl_beat {
    uint64_t a, b, c; /* HEARTBEAT: last, commit, time; ACK: durable, applied, time */
} repl_beat;

/* Frame parsing result. */
typedef enum repl_status { REPL_OK = 0, REPL_NEED_MORE = 1, REPL_BAD = -1 } repl_status;

typedef struct repl_frame {
    uint8_t type;
    const uint8_t *payload;
    uint32_t len;
} repl_frame;

/* Parses the frame at BUF. On REPL_OK fills *f (payload points into BUF) and
 * *consumed; control-frame CRCs are checked here. On REPL_BAD, ERR says why. */
repl_status repl_frame_parse(const uint8_t *buf, size_t avail, repl_frame *f, size_t *consumed,
                             char *err, size_t errlen);

/* Writes a frame header for a payload already at HDR+12. For RECORDS the crc
 * is left zero. */
void repl_frame_header(uint8_t *hdr, uint8_t type, const uint8_t *payload, uint32_t len);

/* Encoders: write the whole frame into OUT (room for REPL_FRAME_HDR + 128 +
 * REPL_CLUSTER_ID_MAX + REPL_REASON_MAX bytes) and return its size. */
size_t repl_encode_hello(uint8_t *out, const repl_hello *h);
size_t repl_encode_hello_ok(uint8_t *out, const repl_hello_ok *h);
size_t repl_encode_beat(uint8_t *out, uint8_t type, const repl_beat *b);
size_t repl_encode_refuse(uint8_t *out, const char *reason);
size_t repl_encode_vote(uint8_t *out, const repl_vote *v);
/* OUT needs REPL_FRAME_HDR + REPL_MEMBERS_FRAME_MAX bytes. */
size_t repl_encode_members(uint8_t *out, const repl_member *m, int n);
/* Decodes into M[REPL_MEMBERS_MAX]; the count, or -1. */
int repl_decode_members(const repl_frame *f, repl_member *m);
size_t repl_encode_vote_resp(uint8_t *out, const repl_vote_resp *v);
#define REPL_CTRL_MAX (REPL_FRAME_HDR + 128u + REPL_CLUSTER_ID_MAX + REPL_REASON_MAX)

/* Decoders: 0, or -1 if the payload has the wrong size or bad contents. */
int repl_decode_hello(const repl_frame *f, repl_hello *h);
int repl_decode_hello_ok(const repl_frame *f, repl_hello_ok *h);
int repl_decode_beat(const repl_frame *f, repl_beat *b);
int repl_decode_vote(const repl_frame *f, repl_vote *v);
int repl_decode_vote_resp(const repl_frame *f, repl_vote_resp *v);
/* Copies the reason text (sanitised, NUL-terminated) into OUT. */
void repl_decode_refuse(const repl_frame *f, char *out, size_t outlen);

#endif
