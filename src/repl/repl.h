/* repl.h -- the replication interface the node calls.
 *
 * Leader side (repl_ship.c): one link per follower, dialled by the leader and
 * redialled with backoff; records are shipped as they are appended, batched
 * into one frame per follower per loop iteration; heartbeats both ways;
 * acknowledgments feed the quorum rule (repl_quorum.c); catch-up of a
 * follower that is behind (repl_rejoin.c).
 * Follower side (repl_recv.c): listens on the replication port, accepts one
 * leader at a time, verifies every record's CRC before anything else,
 * appends through the node's WAL path, acknowledges the durable LSN.
 * The wire format is specified in docs/PROTOCOL.md and repl_proto.h. */
#ifndef RKV_REPL_H
#define RKV_REPL_H

#include <stddef.h>
#include <stdint.h>

typedef struct node node;
typedef struct repl_leader repl_leader;
typedef struct repl_follower repl_follower;
typedef struct repl_voter repl_voter;
struct repl_vote;
struct cfg_peer;

/* An append-only text buffer for INFO. */
typedef struct info_buf {
    char *p;
    size_t len, cap;
} info_buf;
void info_printf(info_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a node knows of one peer (node_view.h turns it into ROLE / INFO). */
typedef struct repl_peer_info {
    unsigned id;      /* 0: not heard from */
    char host[256];   /* announced client address ("" unknown) */
    int port;
    int online;
    uint64_t acked;   /* durable LSN it acknowledged */
    uint64_t lag_ms;
    uint64_t seen_ms_ago; /* since its last frame (a follower's view of its leader) */
    const char *link_state;
} repl_peer_info;

/* ---- leader ---- */
/* Dials PEERS[0..npeers) (the followers' replication addresses). */
repl_leader *repl_leader_new(node *n, const struct cfg_peer *peers, int npeers, char *err,
                             size_t errlen);
void repl_leader_free(repl_leader *l);
/* A record was appended at LSN (bytes as encoded on disk). */
void repl_leader_ship(repl_leader *l, const uint8_t *rec, size_t len, uint64_t lsn);
void repl_leader_flush(repl_leader *l);              /* before sleep */
void repl_leader_cron(repl_leader *l, uint64_t now_ms); /* heartbeats, redials */
int repl_leader_online(const repl_leader *l);
/* Bytes the leader's links hold (buffers; for INFO used_memory). */
size_t repl_leader_mem(const repl_leader *l);
int repl_leader_count(const repl_leader *l);
/* Oldest LSN a connected follower still needs from the WAL: the next
 * record of a catch-up, or the record after the snapshot being sent
 * (UINT64_MAX: none). WAL garbage collection keeps it, within a budget. */
uint64_t repl_leader_retain_lsn(const repl_leader *l);
/* Followers whose acknowledged LSN is >= LSN. */
int repl_leader_acked_at_least(const repl_leader *l, uint64_t lsn);
/* The durable LSN each follower acknowledged (one per node, as the quorum
 * counts them) into OUT; returns how many. */
int repl_leader_acks(const repl_leader *l, uint64_t *out, int max);
/* The highest epoch a follower said it is in (STALE), 0 none: the node steps
 * down when it is above its own. */
uint64_t repl_leader_stale_epoch(const repl_leader *l);
/* FAILOVER: is node ID's link streaming and caught up to LSN? Then sends it
 * TIMEOUT_NOW and returns 1. */
int repl_leader_transfer(repl_leader *l, unsigned id, uint64_t lsn);
void repl_leader_info(const repl_leader *l, info_buf *b);
/* Fills OUT with up to MAX followers; returns how many. */
int repl_leader_peers(const repl_leader *l, repl_peer_info *out, int max);
/* Logs each follower's lag (--log-lag). */
void repl_leader_log_lag(const repl_leader *l);

/* ---- follower ---- */
repl_follower *repl_follower_new(node *n, char *err, size_t errlen);
void repl_follower_free(repl_follower *f);
/* The node made records durable up to LSN: acknowledge. */
void repl_follower_durable(repl_follower *f, uint64_t lsn);
/* Hooks the follower's ACK onto the node's WAL thread (again after the
 * node replaced the thread: a cut of the log, a snapshot install). */
void repl_follower_attach_wal(repl_follower *f);
/* ACKs the WAL thread sent itself (--ack-from-wal-thread). */
uint64_t repl_follower_wal_thread_acks(const repl_follower *f);
/* Closes the leader link (the node cannot take records now): the leader
 * sees it offline; its HELLO is refused until the node is healthy again. */
void repl_follower_drop_leader(repl_follower *f, const char *why);
/* Highest LSN the follower may apply and serve: committed by the leader and
 * known to be the leader's record (min of its commit and match LSNs). */
uint64_t repl_follower_commit_bound(const repl_follower *f);
void repl_follower_flush(repl_follower *f);
void repl_follower_cron(repl_follower *f, uint64_t now_ms);
void repl_follower_info(const repl_follower *f, info_buf *b);
/* Bytes the follower's connections hold (buffers; for INFO used_memory). */
size_t repl_follower_mem(const repl_follower *f);
/* The other followers as the leader last described them (MEMBERS): up to
 * MAX into OUT; returns how many. */
int repl_follower_members(const repl_follower *f, repl_peer_info *out, int max);
/* Loading a received snapshot (no replication frames are read meanwhile). */
int repl_follower_installing(const repl_follower *f);
/* The leader this follower follows: 1 (and *OUT) if one ever said HELLO. */
int repl_follower_leader(const repl_follower *f, repl_peer_info *out);

/* ---- candidate (elections, repl_vote.c) ---- */
repl_voter *repl_voter_new(node *n, char *err, size_t errlen);
void repl_voter_free(repl_voter *v);
/* Starts a round: REQ to every other member, answers to node_elect_on_vote_resp. */
void repl_voter_send(repl_voter *v, const struct repl_vote *req);
void repl_voter_cron(repl_voter *v, uint64_t now_ms);

#endif
