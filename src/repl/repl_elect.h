/* repl_elect.h -- leader election: Raft's rules as a state machine that does
 * no I/O and reads no clock.
 *
 * Every input is an event with the time it happened (a tick, a vote request
 * or answer, a message from a leader, an acknowledgment); every output is
 * written into an elect_out the caller acts on, in this order: persist
 * (term, voted_for) with fsync, then send. The node (src/server) owns the
 * sockets, the disk and the clock and drives it; tests/repl/elect_sim_test
 * drives several of them under a seeded simulator (message loss, delay,
 * reordering, duplication, crashes, partitions, clock drift) and checks
 * Raft's invariants at every step. The shape is etcd raft's Ready loop,
 * reduced to what rkv needs: the log itself stays in the WAL, so the core
 * sees it only as a position (epoch and LSN of the last record).
 *
 * The rules (docs/PROTOCOL.md, "Elections", has the argument):
 *  - the epoch is Raft's term; a node votes at most once per epoch, and its
 *    (epoch, voted_for) is persisted before the vote is sent;
 *  - a vote goes only to a candidate whose log is at least as up to date:
 *    (last epoch, last LSN) compared in that order;
 *  - PreVote: a node first asks whether it would win, without raising its
 *    epoch, so a node that was cut off cannot disrupt a healthy leader;
 *  - stickiness: a node that heard from a live leader less than one election
 *    timeout ago ignores (pre)vote requests, unless they carry the transfer
 *    flag (FAILOVER): this is what makes the leader's read lease sound;
 *  - CheckQuorum: a leader that has not heard from a majority within an
 *    election timeout steps down;
 *  - a leader's commit index only moves to a record of its own epoch (its
 *    epoch-start record first; Raft section 5.4.2): elect_commit(). */
#ifndef RKV_REPL_ELECT_H
#define RKV_REPL_ELECT_H

#include <stdint.h>

#define ELECT_MEMBERS_MAX 9 /* one leader and CFG_FOLLOWERS_MAX followers */

enum elect_role { EL_FOLLOWER = 0, EL_PRECANDIDATE, EL_CANDIDATE, EL_LEADER };

/* Why the last election started or the last leader stepped down. */
enum elect_reason {
    ER_NONE = 0,
    ER_TIMEOUT,     /* no leader heard within the election timeout */
    ER_TRANSFER,    /* FAILOVER: the leader handed over */
    ER_STEP_DOWN,   /* a leader lost its majority (CheckQuorum) */
    ER_HIGHER_TERM, /* a leader saw a higher epoch */
    ER_FORCED,      /* the node asked (FAILOVER on the leader, shutdown) */
};
const char *elect_reason_str(int reason);
const char *elect_role_str(int role);

typedef struct elect_pos {
    uint64_t epoch, lsn; /* of the last record in the log (0, 0: empty) */
} elect_pos;

typedef struct elect_config {
    unsigned self;                    /* this node's id, one of ids[] */
    unsigned ids[ELECT_MEMBERS_MAX];  /* every member's node id (nonzero, distinct) */
    int n;                            /* members */
    uint64_t timeout_ms;  /* election timeout T: a follower waits T..2T, randomised */
    int prevote;          /* ask before raising the epoch (default on) */
    int check_quorum;     /* leaders step down without a majority (default on) */
    uint64_t seed;        /* the randomised timeouts' generator */
} elect_config;

typedef struct elect_vote_req {
    uint64_t term;      /* the epoch the candidate asks for (its epoch + 1 for a prevote) */
    unsigned candidate;
    elect_pos last;     /* the candidate's log */
    int prevote;
    int transfer;       /* a leadership transfer: bypasses stickiness */
} elect_vote_req;

typedef struct elect_vote_resp {
    uint64_t term;      /* the voter's epoch, or the request's for a granted prevote */
    unsigned voter;
    int granted;
    int prevote;
} elect_vote_resp;

typedef struct elect_out {
    int persist;          /* fsync (term, voted_for) before sending anything */
    int send_votes;       /* send `vote` to every other member */
    elect_vote_req vote;
    int reply;            /* send `resp` back to the asker */
    elect_vote_resp resp;
    int became_leader;    /* write the epoch-start record, dial the followers */
    int stepped_down;     /* was leader: stop taking writes, fail what is in flight */
    int new_term;         /* the epoch went up (a new leader may be elsewhere) */
} elect_out;

typedef struct elect {
    elect_config cfg;
    enum elect_role role;
    uint64_t term;
    unsigned voted_for; /* in term; 0: nobody */
    unsigned leader;    /* known leader of term; 0: none */
    uint64_t deadline_ms;    /* follower/candidate: the next election starts then */
    uint64_t leader_seen_ms; /* last message from the leader of term */
    uint32_t granted;        /* bit i: ids[i] voted for us this round */
    uint32_t refused;
    uint64_t round_term;     /* the epoch this round asks for */
    int round_transfer;
    /* leader */
    uint64_t heard_ms[ELECT_MEMBERS_MAX];   /* last answer from each member */
    uint64_t beat_ack_ms[ELECT_MEMBERS_MAX]; /* our time of the newest heartbeat each acked */
    uint64_t leader_since_ms;
    /* Stickiness: (pre)votes are ignored before this time. Set one timeout
     * ahead by every message from the leader and at start (a restarted node
     * may have acknowledged a leader's heartbeat just before it crashed:
     * that leader's lease counts on it). */
    uint64_t quiet_until_ms;
    uint64_t rng;
    int no_campaign; /* this node's log is known to lack committed records */
    /* counters for INFO */
    uint64_t elections, elections_won, prevotes_lost, step_downs, votes_granted;
    uint64_t last_election_ms;
    int last_reason;
} elect;

/* Fills C with defaults for members IDS[0..n) (T = 1000 ms). */
void elect_config_default(elect_config *c, unsigned self, const unsigned *ids, int n);
/* Starts as a follower of nobody in TERM, having voted for VOTED_FOR (both as
 * persisted), the first election no sooner than a full timeout after NOW. */
void elect_init(elect *e, const elect_config *cfg, uint64_t term, unsigned voted_for,
                uint64_t now);

/* Timer: starts a (pre)election when the deadline passed, or steps a leader
 * without a majority down. MINE is our log position. */
void elect_tick(elect *e, uint64_t now, elect_pos mine, elect_out *out);
/* A (pre)vote request from a candidate: fills out->resp (out->reply = 1). */
void elect_on_vote_req(elect *e, uint64_t now, const elect_vote_req *req, elect_pos mine,
                       elect_out *out);
/* An answer to our request. */
void elect_on_vote_resp(elect *e, uint64_t now, const elect_vote_resp *resp, elect_pos mine,
                        elect_out *out);
/* A message from leader LEADER of TERM (its HELLO, records, heartbeats).
 * Returns 0 if it is current (we follow it now), -1 if TERM is stale: the
 * caller refuses it and tells it our term. */
int elect_on_leader(elect *e, uint64_t now, uint64_t term, unsigned leader, elect_out *out);
/* Some message carried TERM: a higher one makes us a follower of nobody. */
void elect_observe_term(elect *e, uint64_t now, uint64_t term, elect_out *out);
/* Leader: member ID answered; its answer echoes our heartbeat sent at BEAT_MS
 * (0: no echo). Feeds CheckQuorum and the lease. */
void elect_on_ack(elect *e, uint64_t now, unsigned id, uint64_t beat_ms);
/* Leader: member ID's link is gone; its acks no longer count for the lease. */
void elect_on_link_lost(elect *e, unsigned id);
/* The leader may answer reads from its own state until then (0: not now):
 * the majority-th newest acknowledged heartbeat plus T minus a margin. No
 * member that acknowledged it votes for anyone else before T passes on its
 * clock (stickiness), so no other leader exists before the lease ends. */
uint64_t elect_lease_until(const elect *e);
/* Leader steps down by itself (FAILOVER, shutdown). */
void elect_step_down(elect *e, uint64_t now, int reason, elect_out *out);
/* TIMEOUT_NOW from our leader: campaign at once, flagged as a transfer.
 * A transfer request bypasses every member's stickiness, so the lease it
 * protects must be gone first: the leader calls elect_step_down() before it
 * sends TIMEOUT_NOW, and the receiver calls this only if the frame's epoch
 * is its own (e->term): a late TIMEOUT_NOW from an older epoch would cut
 * into the current leader's lease. (elect_sim_test breaks either rule and
 * sees invariant 6b fail.) */
void elect_campaign_now(elect *e, uint64_t now, elect_pos mine, elect_out *out);
/* Refuse to campaign or vote while set: the log lacks committed records. */
void elect_set_no_campaign(elect *e, int on);

/* Raft's commit rule for a leader: the highest LSN durable on NEED members
 * (DURABLE[0..n), one per member, ours included; NEED >= a majority), but
 * only when that LSN is at or after TERM_START, the leader's epoch-start
 * record (everything from it on has the leader's epoch, and an earlier
 * epoch's record is committed only by a later one of ours). Returns 0 when
 * nothing may be committed yet. */
uint64_t elect_commit(const uint64_t *durable, int n, int need, uint64_t term_start);
/* Members needed for a majority. */
int elect_majority(const elect *e);
/* Is (a) at least as up to date as (b)? */
int elect_pos_ge(elect_pos a, elect_pos b);

#endif
