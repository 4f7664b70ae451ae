/* elect_sim_test.c -- a deterministic, seeded simulator for the election core
 * (src/repl/repl_elect.c), checking Raft's safety invariants at every step.
 *
 * What it does. N members (3 and 5) each run an `elect` core in this one
 * process. A discrete-event scheduler (one binary heap, one PRNG per run)
 * delivers every input to them: ticks every 10 ms, (pre)vote requests and
 * answers, the leader's AppendEntries and the followers' ACKs, STALE replies,
 * TIMEOUT_NOW, fsync completions, client writes and faults. The log is not in
 * the core, so the simulator models it the way rkv's replication behaves:
 *  - each node has an array of records (epoch, lsn, value id); an append is
 *    durable only after a random fsync delay (fsyncs complete in LSN order,
 *    each completion is an event); a crash keeps only the synced prefix; ACKs
 *    report only durable LSNs;
 *  - a new leader first appends its epoch-start record (term_start), then
 *    client writes; it sends AppendEntries (term, prev lsn/epoch, records,
 *    commit, its clock as the heartbeat time) and commits with
 *    elect_commit(durable[], n, majority, term_start), durable[] being each
 *    follower's acked durable-and-matching LSN and its own synced LSN;
 *  - a follower calls elect_on_leader() on every leader message, answers STALE
 *    when it returns -1 (the leader then calls elect_observe_term()),
 *    otherwise checks prev, truncates a divergent tail (never at or below its
 *    commit index: asserted), appends, and ACKs min(durable, matching) with
 *    the echoed heartbeat time (elect_on_ack() on the leader); it commits
 *    min(leader commit, what it knows matches the leader);
 *  - (term, voted_for) is persisted exactly when the core says out.persist,
 *    before anything is sent; a crash restarts the core with elect_init() from
 *    that persisted copy, everything else volatile is lost.
 * Faults, all from the run's PRNG, and each run draws its own mix of them
 * (how often, which, how busy the clients are, how slow the disk, how many
 * records per AppendEntries): message loss, duplication, reordering and
 * delay; crashes and restarts; partitions (random splits, a node cut off, a
 * node that cannot send or cannot hear, a leader-follower pair cut one way or
 * both, random one-way links, slow links, heal); per-node clock offset and
 * rate (each node's clock is offset + rate * global time, rate in [0.95,
 * 1.05], half the runs at the extremes, changed at random times); a nemesis
 * that hits a new leader within 10 us..20 ms of its election (crash it or
 * another node, or cut it off: Raft's Figure 8 needs that); leadership
 * transfer (the leader steps down, then sends TIMEOUT_NOW to a caught-up
 * follower, which calls elect_campaign_now() if the epoch is its own) and
 * forced step downs. The last part of every run has no faults: a leader must
 * then commit a record of its epoch within LIVE_MS, and (with PreVote) every
 * node must catch up; the run ends once they have.
 *
 * Invariants, checked at every step (the first failure stops the run and
 * prints the seed, the last TRACE_N events and every node's state):
 *  0. the core never changes (term, voted_for) without asking to persist, and
 *     no node grants two candidates its vote in one epoch (across crashes);
 *  1. at most one leader per epoch;
 *  2. a committed record never changes and is never lost (one global
 *     committed log; every commit advance must agree with it and extend it);
 *  3. every node's committed prefix is a prefix of the global one (hence of
 *     every other node's): checked at each advance, by the truncation
 *     assertion, and for the newest committed record of every node each step;
 *  4. Leader Completeness: a new leader of epoch T holds every record that
 *     the leaders of epochs before T committed;
 *  5. a leader's commit advance to c is backed by a majority whose durable
 *     logs hold the very record at c;
 *  6. lease safety: while a leader's elect_lease_until() is after its own
 *     clock, no leader of a higher epoch has committed a record of its epoch;
 *     and (6b, what repl_elect.h promises, so stronger) no leader of a higher
 *     epoch has been elected at all;
 *  7. every acknowledged client write (committed by the leader that wrote
 *     it) stays in the global committed log at its LSN.
 * Besides the random runs, scripted histories replay, with the same nodes
 * and checks, schedules that random runs reach too rarely (the network is
 * the script: every message is held until it delivers, delays or drops it):
 * a follower whose epoch rose without a leader stays sticky; Raft's
 * Figure 8; a follower restarted at once stays sticky; the lease ends before
 * stickiness with clocks 10% apart and a late ACK. Each tries core seeds
 * until the cores' timers fall as the history needs.
 *
 * Mutation check (a deliberately broken repl_elect.c, one default run):
 * votes without the up-to-date check, invariant 4 in ~1/3 of the seeds;
 * no epoch-start rule in elect_commit, Figure 8 (4); no stickiness, 6b in
 * ~0.4% of the seeds and histories 1 and 3; stickiness only for higher
 * epochs (the bug fixed alongside this test), history 1; half as long
 * stickiness, 6b in 0.2%; no clock-drift margin or a lease counted from the
 * ACK's arrival, history 4; no quiet period after a restart, history 3; a
 * vote not persisted or forgotten at restart, 0 in ~20%/80%; late pre-vote
 * grants counted as votes, 1 in ~1.5%; pre-vote refusals not counted, the
 * "pre-vote rounds were lost" check. Without 6b, invariant 6 alone still
 * catches the stickiness and lease bugs (less often).
 *
 * Why it is shaped so. Everything runs in one thread with no real time, so a
 * seed is a complete, replayable description of a run; the trace is kept as
 * small binary entries in a ring and only formatted when a run fails (or when
 * replaying), so thousands of seeds fit in a few seconds of `make check`. The
 * election timeout is short (200 ms) so every run sees many elections, and
 * the fault mix varies per run because each kind of bug needs its own kind of
 * weather: the nemesis, slow disks, small batches, partial partitions and
 * extreme clocks are each there because a mutation above went unnoticed
 * without them.
 *
 * Usage: elect_sim_test [--seeds N] [--first F] [--seed S [--nodes K]]
 *   ELECT_SIM_SEEDS=N      N seeds of 3 members and N/2 of 5 (default 2000;
 *                          100 under valgrind)
 *   ELECT_SIM_FIRST=F      first seed (default 1)
 *   ELECT_SIM_SEED=S       replay seed S alone, printing the whole trace,
 *   ELECT_SIM_NODES=K      ... with K members (default 3)
 *   ELECT_SIM_SCENARIO=K:S replay scripted history K (1..4) with core seed S */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testhelp.h"
#include "repl/repl_elect.h"

#define MAXN 5
#define LOG_MAX 4096
#define REC_MAX 16      /* records per AppendEntries */
#define TERM_MAX 8192
#define WRITES_MAX 8192
#define TRACE_N 200
#define HELD_MAX 256

#define T_MS 200        /* election timeout */
#define HB_MS 40        /* heartbeat interval */
#define TICK_US 10000   /* elect_tick period, global time */
#define FAULT_US 6000000ull /* faults for the first 6 s */
#define LIVE_MS 3000ull /* then a leader must commit within 3 s (the slowest of 6000 runs: 2.1 s) */
#define LIVE_NOPREVOTE_MS 6000ull /* without PreVote: see the catch-up check */
#define SETTLE_MS 300ull /* after that commit, what is committed ... */
#define CATCHUP_MS 1000ull /* ... every node must have committed within 1 s; the run ends then */
#define RUN_US (FAULT_US + (LIVE_NOPREVOTE_MS + SETTLE_MS + CATCHUP_MS) * 1000ull)

enum { M_APPEND = 1, M_APPEND_RESP, M_STALE, M_VOTE_REQ, M_VOTE_RESP, M_TIMEOUT_NOW };
enum { EV_MSG = 1, EV_TICK, EV_SYNC, EV_WRITE, EV_FAULT, EV_RESTART, EV_HEAL, EV_MARK, EV_NEMESIS };

typedef struct rec {
    uint64_t epoch, vid;
    uint64_t sync_at; /* global time (us) when its fsync completes */
} rec;

typedef struct msg {
    int type;
    unsigned from, to;
    uint64_t term;
    union {
        struct {
            uint64_t prev, prev_epoch, commit, beat;
            int n;
            uint64_t epoch[REC_MAX], vid[REC_MAX];
        } ap;
        struct {
            int ok;
            uint64_t appended, durable, hint, beat;
        } ar;
        elect_vote_req vq;
        elect_vote_resp vr;
    } u;
} msg;

typedef struct ev {
    uint64_t t, seq;
    int kind;
    unsigned node; /* index */
    uint32_t inc;  /* the node's incarnation it belongs to */
    uint32_t m;    /* message slot */
} ev;

typedef struct node {
    unsigned id;
    int up;
    uint32_t inc;
    /* clock: local_us = anchor_local + rate * (g - anchor_g) */
    uint64_t anchor_g;
    double anchor_local, rate;
    elect_config cfg;
    elect e;
    uint64_t p_term; /* persisted */
    unsigned p_vote;
    rec log[LOG_MAX]; /* log[i] has lsn i + 1 */
    uint64_t len, synced, commit, applied;
    /* leader */
    uint64_t term_start, next[MAXN], match[MAXN], last_beat, eager_at[MAXN];
    /* follower: the leader we follow and how far our log is known to match */
    unsigned f_leader;
    uint64_t f_term, f_match, f_echo;
} node;

typedef struct tr {
    uint64_t g;
    int kind;
    unsigned node, peer;
    uint64_t a, b, c, d;
} tr;

enum {
    TR_DELIVER, TR_DROP, TR_ROUND, TR_LEADER, TR_STEPPED, TR_COMMIT, TR_TRUNC, TR_CRASH,
    TR_RESTART, TR_LINK, TR_WRITE, TR_TRANSFER, TR_FORCE, TR_NET, TR_RATE, TR_HEAL, TR_TERM,
    TR_LEASE, TR_SLOW,
};

typedef struct stats {
    uint64_t runs, leaders, commits, crashes, lost_unsynced, truncations, transfers,
        transfer_wins, forced, partitions, lease_checks, writes, acked, max_term, events,
        stale_replies, dup, dropped, below_start, prevotes_lost;
} stats;

typedef struct sim {
    uint64_t seed;
    int n, verbose;
    uint64_t rng;
    uint64_t g; /* global time, us */
    node nodes[MAXN];
    int link[MAXN][MAXN]; /* link[a][b]: a can reach b */
    uint64_t extra_us[MAXN][MAXN]; /* a slow link's added latency */
    int extreme_clocks; /* every clock at 0.95 or 1.05: the lease's worst case */
    double p_loss, p_dup, p_slow;
    uint64_t delay_max_us;
    uint64_t fault_mean_us, write_mean_us;
    uint64_t fault_w[7]; /* this run's mix: crash, partition, heal, clock, transfer, step down, net */
    double p_nemesis; /* chance that a new leader is hit within a few ms of its election */
    uint64_t sync_lo, sync_hi; /* this run's disk: fsync latency range (us) */
    int batch;                 /* records per AppendEntries, <= REC_MAX */
    ev *heap;
    size_t nheap, capheap;
    uint64_t seq;
    msg *pool;
    uint32_t *freel;
    size_t npool, nfree;
    /* global truth */
    uint64_t glog_epoch[LOG_MAX], glog_vid[LOG_MAX], glen;
    unsigned epoch_leader[TERM_MAX];
    uint64_t committed_by[TERM_MAX]; /* highest lsn the leader of each epoch committed */
    unsigned votes[MAXN][TERM_MAX];
    uint64_t max_own_epoch; /* highest epoch whose leader committed a record of it */
    uint64_t max_elected;   /* highest epoch that had a leader */
    uint64_t vid_next, acked_lsn[WRITES_MAX];
    uint64_t live_at, mark_glen, end_at;
    int scripted; /* messages wait in held[] for the script */
    int scenario; /* this run is a scripted history */
    msg held[HELD_MAX];
    int nheld;
    int failed;
    char why[512];
    tr ring[TRACE_N];
    uint64_t ntr;
    stats st;
} sim;

static stats g_total;

/* ---- PRNG (splitmix64) ---- */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t rnd(sim *s)
{
    s->rng += 0x9e3779b97f4a7c15ull;
    uint64_t x = s->rng;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t rnd_below(sim *s, uint64_t n)
{
    return n ? rnd(s) % n : 0;
}
static uint64_t rnd_range(sim *s, uint64_t lo, uint64_t hi) /* [lo, hi] */
{
    return lo + rnd_below(s, hi - lo + 1);
}
static double rnd_unit(sim *s)
{
    return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}
static uint64_t rnd_exp_us(sim *s, uint64_t mean)
{
    /* roughly exponential: sum of two uniforms is close enough and cheap */
    return rnd_below(s, mean) + rnd_below(s, mean) + 1;
}

/* ---- trace ---- */
static const char *mtype_str(int t)
{
    switch (t) {
    case M_APPEND: return "APPEND";
    case M_APPEND_RESP: return "ACK";
    case M_STALE: return "STALE";
    case M_VOTE_REQ: return "VOTE";
    case M_VOTE_RESP: return "VOTE_RESP";
    case M_TIMEOUT_NOW: return "TIMEOUT_NOW";
    default: return "?";
    }
}

static void tr_print(const tr *t)
{
    printf("  [%10.3f ms] ", (double)t->g / 1000.0);
    switch (t->kind) {
    case TR_DELIVER:
        switch ((int)t->a) {
        case M_APPEND:
            printf("n%u <- n%u APPEND term %" PRIu64 " prev %" PRIu64 " nrec %" PRIu64
                   " commit %" PRIu64 "\n",
                   t->node, t->peer, t->b, t->c >> 8, t->c & 0xff, t->d);
            break;
        case M_APPEND_RESP:
            printf("n%u <- n%u ACK term %" PRIu64 " ok %" PRIu64 " durable %" PRIu64
                   " beat %" PRIu64 "\n",
                   t->node, t->peer, t->b, t->c >> 62, t->c & ((((uint64_t)1 << 62) - 1)), t->d);
            break;
        case M_VOTE_REQ:
            printf("n%u <- n%u %sVOTE term %" PRIu64 " last (%" PRIu64 ",%" PRIu64 ")%s\n",
                   t->node, t->peer, (t->d & 1) ? "PRE" : "", t->b, t->c >> 32,
                   t->c & 0xffffffffu, (t->d & 2) ? " transfer" : "");
            break;
        case M_VOTE_RESP:
            printf("n%u <- n%u %sVOTE_RESP term %" PRIu64 " %s\n", t->node, t->peer,
                   (t->d & 1) ? "PRE" : "", t->b, t->c ? "granted" : "refused");
            break;
        default:
            printf("n%u <- n%u %s term %" PRIu64 "\n", t->node, t->peer, mtype_str((int)t->a),
                   t->b);
        }
        break;
    case TR_DROP:
        printf("drop n%u -> n%u %s term %" PRIu64 " (%s)\n", t->peer, t->node,
               mtype_str((int)t->a), t->b,
               t->c == 0 ? "loss" : t->c == 1 ? "partition" : "node down");
        break;
    case TR_ROUND:
        printf("n%u starts %s round for term %" PRIu64 " last (%" PRIu64 ",%" PRIu64 ")%s\n",
               t->node, (t->d & 1) ? "pre-vote" : "vote", t->a, t->b, t->c,
               (t->d & 2) ? " transfer" : "");
        break;
    case TR_LEADER:
        printf("n%u LEADER of term %" PRIu64 ", term_start %" PRIu64 "\n", t->node, t->a, t->b);
        break;
    case TR_STEPPED:
        printf("n%u stepped down from term %" PRIu64 " (%s)\n", t->node, t->a,
               elect_reason_str((int)t->b));
        break;
    case TR_COMMIT:
        printf("n%u (%s term %" PRIu64 ") commit %" PRIu64 " -> %" PRIu64 "\n", t->node,
               elect_role_str((int)t->d), t->c, t->a, t->b);
        break;
    case TR_TRUNC:
        printf("n%u truncates from lsn %" PRIu64 " (len %" PRIu64 ", commit %" PRIu64 ")\n",
               t->node, t->a, t->b, t->c);
        break;
    case TR_CRASH:
        printf("n%u CRASH: log %" PRIu64 " -> %" PRIu64 " (synced), term %" PRIu64
               " vote %" PRIu64 " persisted\n",
               t->node, t->a, t->b, t->c, t->d);
        break;
    case TR_RESTART:
        printf("n%u RESTART term %" PRIu64 " vote %" PRIu64 " log %" PRIu64 "\n", t->node, t->a,
               t->b, t->c);
        break;
    case TR_LINK: {
        printf("links:");
        for (unsigned a = 0; a < t->c; a++)
            for (unsigned b = 0; b < t->c; b++)
                if (!((t->a >> (a * 8 + b)) & 1)) printf(" n%u-x->n%u", a + 1, b + 1);
        printf(" (down links listed; %s)\n", t->b == 0 ? "split" : t->b == 1 ? "isolate" : t->b == 2 ? "one-way" : t->b == 3 ? "healed" : t->b == 4 ? "mute" : t->b == 5 ? "deaf" : "pair");
        break;
    }
    case TR_WRITE:
        printf("n%u client write vid %" PRIu64 " at lsn %" PRIu64 " term %" PRIu64 "\n", t->node,
               t->a, t->b, t->c);
        break;
    case TR_TRANSFER:
        printf("n%u (leader of %" PRIu64 ") transfers to n%u: steps down, sends TIMEOUT_NOW\n",
               t->node, t->a, t->peer);
        break;
    case TR_FORCE: printf("n%u forced step down in term %" PRIu64 "\n", t->node, t->a); break;
    case TR_NET:
        printf("net: loss %.3f dup %.3f slow %.3f max delay %" PRIu64 " us\n",
               (double)t->a / 1e6, (double)t->b / 1e6, (double)t->c / 1e6, t->d);
        break;
    case TR_RATE:
        printf("n%u clock rate %.4f\n", t->node, (double)t->a / 1e6);
        break;
    case TR_HEAL: printf("HEAL: faults stop\n"); break;
    case TR_TERM:
        printf("n%u term %" PRIu64 " -> %" PRIu64 " (vote %" PRIu64 ")\n", t->node, t->a, t->b,
               t->c);
        break;
    case TR_LEASE:
        printf("n%u (leader of %" PRIu64 ") holds a lease until %" PRIu64 " (now %" PRIu64 ")\n",
               t->node, t->a, t->b, t->c);
        break;
    case TR_SLOW:
        printf("links into n%u slowed by %" PRIu64 " us\n", t->node, t->a);
        break;
    default: printf("?\n");
    }
}

static void trace(sim *s, int kind, unsigned who, unsigned peer, uint64_t a, uint64_t b,
                  uint64_t c, uint64_t d)
{
    tr *t = &s->ring[s->ntr++ % TRACE_N];
    t->g = s->g;
    t->kind = kind;
    t->node = who;
    t->peer = peer;
    t->a = a;
    t->b = b;
    t->c = c;
    t->d = d;
    if (s->verbose) tr_print(t);
}

static void fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(sim *s, const char *fmt, ...)
{
    if (s->failed) return;
    s->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(s->why, sizeof s->why, "[%.3f ms] ", (double)s->g / 1000.0);
    vsnprintf(s->why + k, sizeof s->why - (size_t)k, fmt, ap);
    va_end(ap);
}

/* ---- scheduler ---- */
static void push(sim *s, uint64_t t, int kind, unsigned who, uint32_t inc, uint32_t m)
{
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 1024;
        s->heap = realloc(s->heap, s->capheap * sizeof *s->heap);
        if (!s->heap) abort();
    }
    ev x = {t, s->seq++, kind, who, inc, m};
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p].t < x.t || (s->heap[p].t == x.t && s->heap[p].seq < x.seq)) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = x;
}

static ev pop(sim *s)
{
    ev top = s->heap[0], x = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ev *best = &x;
        if (l < n && (s->heap[l].t < best->t || (s->heap[l].t == best->t && s->heap[l].seq < best->seq))) {
            m = l;
            best = &s->heap[l];
        }
        if (r < n && (s->heap[r].t < best->t || (s->heap[r].t == best->t && s->heap[r].seq < best->seq)))
            m = r;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n) s->heap[i] = x;
    return top;
}

static uint32_t msg_alloc(sim *s)
{
    if (s->nfree) return s->freel[--s->nfree];
    if (s->npool % 1024 == 0) {
        s->pool = realloc(s->pool, (s->npool + 1024) * sizeof *s->pool);
        s->freel = realloc(s->freel, (s->npool + 1024) * sizeof *s->freel);
        if (!s->pool || !s->freel) abort();
    }
    return (uint32_t)s->npool++;
}

static void msg_free(sim *s, uint32_t m)
{
    s->freel[s->nfree++] = m;
}

/* ---- clocks and logs ---- */
static uint64_t now_ms(const sim *s, const node *nd)
{
    double l = nd->anchor_local + nd->rate * (double)(s->g - nd->anchor_g);
    return (uint64_t)(l / 1000.0);
}

static void set_rate(sim *s, node *nd, double rate)
{
    nd->anchor_local = nd->anchor_local + nd->rate * (double)(s->g - nd->anchor_g);
    nd->anchor_g = s->g;
    nd->rate = rate;
}

static elect_pos mine(const node *nd)
{
    elect_pos p = {0, 0};
    if (nd->len) {
        p.epoch = nd->log[nd->len - 1].epoch;
        p.lsn = nd->len;
    }
    return p;
}

static void advance_synced(const sim *s, node *nd)
{
    while (nd->synced < nd->len && nd->log[nd->synced].sync_at <= s->g) nd->synced++;
}

static uint64_t sync_delay(sim *s)
{
    return rnd_below(s, 5) ? rnd_range(s, s->sync_lo, s->sync_hi) : rnd_range(s, s->sync_hi, 10 * s->sync_hi);
}

/* Appends a record; returns when its fsync completes (in LSN order). */
static uint64_t append_rec(sim *s, node *nd, uint64_t epoch, uint64_t vid)
{
    if (nd->len >= LOG_MAX) {
        fail(s, "sim: n%u log full", nd->id);
        return s->g;
    }
    uint64_t at = s->g + sync_delay(s);
    if (nd->len && nd->log[nd->len - 1].sync_at > at) at = nd->log[nd->len - 1].sync_at;
    rec *r = &nd->log[nd->len++];
    r->epoch = epoch;
    r->vid = vid;
    r->sync_at = at;
    return at;
}

/* Drops records from lsn FROM on: only ever uncommitted ones. */
static void truncate_from(sim *s, node *nd, uint64_t from)
{
    trace(s, TR_TRUNC, nd->id, 0, from, nd->len, nd->commit, 0);
    if (from <= nd->commit)
        fail(s, "n%u truncates from lsn %" PRIu64 ", at or below its commit index %" PRIu64,
             nd->id, from, nd->commit);
    if (from <= nd->f_match)
        fail(s, "sim: n%u truncates from %" PRIu64 " below its known match %" PRIu64, nd->id,
             from, nd->f_match);
    nd->len = from - 1;
    if (nd->synced > nd->len) nd->synced = nd->len;
    if (nd->applied > nd->len) nd->applied = nd->len;
    s->st.truncations++;
}

/* ---- messages ---- */
static void held_put(sim *s, const msg *m);

static void net_send(sim *s, const msg *m)
{
    unsigned a = m->from - 1, b = m->to - 1;
    if (s->scripted) {
        held_put(s, m);
        return;
    }
    if (!s->link[a][b]) {
        trace(s, TR_DROP, m->to, m->from, (uint64_t)m->type, m->term, 1, 0);
        s->st.dropped++;
        return;
    }
    int copies = 1;
    if (rnd_unit(s) < s->p_loss) copies = 0;
    if (rnd_unit(s) < s->p_dup) {
        copies++;
        s->st.dup++;
    }
    if (!copies) {
        trace(s, TR_DROP, m->to, m->from, (uint64_t)m->type, m->term, 0, 0);
        s->st.dropped++;
    }
    for (int k = 0; k < copies; k++) {
        uint64_t d = rnd_unit(s) < s->p_slow ? rnd_range(s, 1000, s->delay_max_us)
                                             : rnd_range(s, 100, 2000);
        d += s->extra_us[a][b];
        uint32_t slot = msg_alloc(s);
        s->pool[slot] = *m;
        push(s, s->g + d, EV_MSG, b, 0, slot);
    }
}

static void send_append(sim *s, node *nd, unsigned fi)
{
    msg m;
    m.type = M_APPEND;
    m.from = nd->id;
    m.to = fi + 1;
    m.term = nd->e.term;
    if (nd->next[fi] < 1) nd->next[fi] = 1;
    if (nd->next[fi] > nd->len + 1) nd->next[fi] = nd->len + 1;
    uint64_t prev = nd->next[fi] - 1;
    m.u.ap.prev = prev;
    m.u.ap.prev_epoch = prev ? nd->log[prev - 1].epoch : 0;
    int k = 0;
    for (uint64_t l = prev + 1; l <= nd->len && k < s->batch; l++, k++) {
        m.u.ap.epoch[k] = nd->log[l - 1].epoch;
        m.u.ap.vid[k] = nd->log[l - 1].vid;
    }
    m.u.ap.n = k;
    m.u.ap.commit = nd->commit;
    m.u.ap.beat = now_ms(s, nd);
    net_send(s, &m);
}

static void send_appends(sim *s, node *nd)
{
    for (int i = 0; i < s->n; i++)
        if ((unsigned)i != nd->id - 1) send_append(s, nd, (unsigned)i);
    nd->last_beat = now_ms(s, nd);
}

/* ---- commit ---- */
static int majority(const sim *s)
{
    return s->n / 2 + 1;
}

static void advance_commit(sim *s, node *nd, uint64_t c)
{
    if (c <= nd->commit) return;
    if (c > nd->len) {
        fail(s, "n%u commits %" PRIu64 " beyond its log (%" PRIu64 ")", nd->id, c, nd->len);
        return;
    }
    trace(s, TR_COMMIT, nd->id, 0, nd->commit, c, nd->e.term, nd->e.role);
    /* 2/3: agree with the global committed log, or extend it */
    for (uint64_t l = nd->commit + 1; l <= c; l++) {
        const rec *r = &nd->log[l - 1];
        if (l <= s->glen) {
            if (s->glog_epoch[l - 1] != r->epoch || s->glog_vid[l - 1] != r->vid) {
                fail(s,
                     "invariant 2: n%u commits lsn %" PRIu64 " = (epoch %" PRIu64 ", vid %" PRIu64
                     ") but (epoch %" PRIu64 ", vid %" PRIu64 ") was committed there",
                     nd->id, l, r->epoch, r->vid, s->glog_epoch[l - 1], s->glog_vid[l - 1]);
                return;
            }
        } else {
            s->glog_epoch[s->glen] = r->epoch;
            s->glog_vid[s->glen] = r->vid;
            s->glen++;
        }
    }
    if (nd->e.role == EL_LEADER) {
        /* 5: a majority durably holds the record at c */
        const rec *rc = &nd->log[c - 1];
        int have = 0;
        for (int j = 0; j < s->n; j++) {
            node *o = &s->nodes[j];
            advance_synced(s, o);
            if (o->synced >= c && o->log[c - 1].epoch == rc->epoch && o->log[c - 1].vid == rc->vid)
                have++;
        }
        if (have < majority(s))
            fail(s,
                 "invariant 5: leader n%u (term %" PRIu64 ") commits lsn %" PRIu64
                 " held durably by only %d members",
                 nd->id, nd->e.term, c, have);
        if (nd->e.term < TERM_MAX && c > s->committed_by[nd->e.term]) s->committed_by[nd->e.term] = c;
        if (rc->epoch == nd->e.term) {
            if (nd->e.term > s->max_own_epoch) s->max_own_epoch = nd->e.term;
            if (!s->live_at && s->g >= FAULT_US) {
                s->live_at = s->g;
                push(s, s->g + SETTLE_MS * 1000, EV_MARK, 0, 0, 0);
            }
        }
        /* 7: client writes acknowledged by the leader that wrote them */
        for (uint64_t l = nd->commit + 1; l <= c; l++) {
            const rec *r = &nd->log[l - 1];
            if (r->epoch == nd->e.term && r->vid && r->vid < WRITES_MAX && !s->acked_lsn[r->vid]) {
                s->acked_lsn[r->vid] = l;
                s->st.acked++;
            }
        }
        s->st.commits++;
    }
    nd->commit = c;
}

static void leader_update_commit(sim *s, node *nd)
{
    if (nd->e.role != EL_LEADER) return;
    advance_synced(s, nd);
    uint64_t d[MAXN];
    for (int i = 0; i < s->n; i++) d[i] = (unsigned)i == nd->id - 1 ? nd->synced : nd->match[i];
    uint64_t c = elect_commit(d, s->n, elect_majority(&nd->e), nd->term_start);
    if (c > nd->commit && c < nd->term_start) s->st.below_start++; /* never, unless mutated */
    if (c > nd->commit) advance_commit(s, nd, c);
}

/* ---- the core's outputs ---- */
static void on_became_leader(sim *s, node *nd)
{
    uint64_t t = nd->e.term;
    if (t >= TERM_MAX) {
        fail(s, "sim: term %" PRIu64 " too large", t);
        return;
    }
    /* 1: one leader per epoch */
    if (s->epoch_leader[t] && s->epoch_leader[t] != nd->id) {
        fail(s, "invariant 1: n%u and n%u are both leaders of epoch %" PRIu64, s->epoch_leader[t],
             nd->id, t);
        return;
    }
    s->epoch_leader[t] = nd->id;
    if (t > s->max_elected) s->max_elected = t;
    /* 4: Leader Completeness: what the leaders of earlier epochs committed.
     * (A late vote can still elect a leader of an older epoch after a newer
     * one committed: Raft promises nothing to it, and it cannot commit.) */
    uint64_t need = 0;
    for (uint64_t x = 0; x < t; x++)
        if (s->committed_by[x] > need) need = s->committed_by[x];
    if (nd->len < need) {
        fail(s,
             "invariant 4: n%u leads epoch %" PRIu64 " with %" PRIu64 " records, %" PRIu64
             " were committed before",
             nd->id, t, nd->len, need);
        return;
    }
    for (uint64_t l = 1; l <= need; l++)
        if (nd->log[l - 1].epoch != s->glog_epoch[l - 1] || nd->log[l - 1].vid != s->glog_vid[l - 1]) {
            fail(s, "invariant 4: n%u leads epoch %" PRIu64 " without committed lsn %" PRIu64,
                 nd->id, t, l);
            return;
        }
    uint64_t at = append_rec(s, nd, t, 0); /* the epoch-start record */
    push(s, at, EV_SYNC, nd->id - 1, nd->inc, 0);
    nd->term_start = nd->len;
    for (int i = 0; i < s->n; i++) {
        nd->next[i] = nd->term_start;
        nd->match[i] = 0;
        nd->eager_at[i] = 0;
    }
    trace(s, TR_LEADER, nd->id, 0, t, nd->term_start, 0, 0);
    if (s->g < FAULT_US && rnd_unit(s) < s->p_nemesis)
        push(s, s->g + (rnd_below(s, 2) ? rnd_range(s, 10, 500) : rnd_range(s, 500, 20000)),
             EV_NEMESIS, nd->id - 1, nd->inc, 0);
    s->st.leaders++;
    if (t > s->st.max_term) s->st.max_term = t;
    send_appends(s, nd);
}

/* Acts on OUT in the order the header demands: persist, then send. ASKER is
 * whom out->reply goes to. */
static void handle_out(sim *s, node *nd, const elect_out *out, unsigned asker, uint64_t old_term)
{
    elect *e = &nd->e;
    if (out->persist) {
        nd->p_term = e->term;
        nd->p_vote = e->voted_for;
    } else if (e->term != nd->p_term || e->voted_for != nd->p_vote) {
        fail(s,
             "invariant 0: n%u changed (term, vote) to (%" PRIu64 ", %u) from persisted (%" PRIu64
             ", %u) without out.persist",
             nd->id, e->term, e->voted_for, nd->p_term, nd->p_vote);
        return;
    }
    if (e->term != old_term) trace(s, TR_TERM, nd->id, 0, old_term, e->term, e->voted_for, 0);
    if (out->stepped_down) trace(s, TR_STEPPED, nd->id, 0, e->term, (uint64_t)e->last_reason, 0, 0);
    if (out->became_leader) on_became_leader(s, nd);
    if (out->send_votes) {
        trace(s, TR_ROUND, nd->id, 0, out->vote.term, out->vote.last.epoch, out->vote.last.lsn,
              (uint64_t)(out->vote.prevote ? 1 : 0) | (out->vote.transfer ? 2 : 0));
        msg m;
        m.type = M_VOTE_REQ;
        m.from = nd->id;
        m.term = out->vote.term;
        m.u.vq = out->vote;
        for (int i = 0; i < s->n; i++)
            if ((unsigned)i != nd->id - 1) {
                m.to = (unsigned)i + 1;
                net_send(s, &m);
            }
    }
    if (out->reply && asker) {
        if (out->resp.granted && !out->resp.prevote) {
            uint64_t t = out->resp.term;
            if (t >= TERM_MAX) {
                fail(s, "sim: term %" PRIu64 " too large", t);
                return;
            }
            unsigned *v = &s->votes[nd->id - 1][t];
            if (*v && *v != asker) {
                fail(s, "invariant 0: n%u votes for n%u and n%u in epoch %" PRIu64, nd->id, *v,
                     asker, t);
                return;
            }
            *v = asker;
        }
        msg m;
        m.type = M_VOTE_RESP;
        m.from = nd->id;
        m.to = asker;
        m.term = out->resp.term;
        m.u.vr = out->resp;
        net_send(s, &m);
    }
}

/* ---- message handlers ---- */
static void on_append(sim *s, node *nd, const msg *m)
{
    elect_out out = {0};
    uint64_t old = nd->e.term;
    int r = elect_on_leader(&nd->e, now_ms(s, nd), m->term, m->from, &out);
    handle_out(s, nd, &out, 0, old);
    if (r < 0) {
        msg st = {0};
        st.type = M_STALE;
        st.from = nd->id;
        st.to = m->from;
        st.term = nd->e.term;
        net_send(s, &st);
        s->st.stale_replies++;
        return;
    }
    if (nd->f_leader != m->from || nd->f_term != m->term) {
        nd->f_leader = m->from;
        nd->f_term = m->term;
        nd->f_match = nd->commit; /* committed, hence the same in every log */
        nd->f_echo = 0;
    }
    if (m->u.ap.beat > nd->f_echo) nd->f_echo = m->u.ap.beat;
    uint64_t prev = m->u.ap.prev, hint = 0;
    int ok = 0;
    if (prev > nd->len) {
        hint = nd->len;
    } else if (prev > 0 && nd->log[prev - 1].epoch != m->u.ap.prev_epoch) {
        /* Our record at prev is divergent: drop it and everything after,
         * and hint at the start of its epoch's run. */
        uint64_t x = nd->log[prev - 1].epoch, h = prev - 1;
        while (h > nd->commit && nd->log[h - 1].epoch == x) h--;
        truncate_from(s, nd, prev);
        hint = h;
    } else {
        ok = 1;
        uint64_t at = 0;
        for (int i = 0; i < m->u.ap.n; i++) {
            uint64_t l = prev + 1 + (uint64_t)i;
            if (l <= nd->len) {
                if (nd->log[l - 1].epoch == m->u.ap.epoch[i]) {
                    if (nd->log[l - 1].vid != m->u.ap.vid[i])
                        fail(s, "log matching: n%u lsn %" PRIu64 " epoch %" PRIu64
                             " has vid %" PRIu64 ", its leader vid %" PRIu64,
                             nd->id, l, m->u.ap.epoch[i], nd->log[l - 1].vid, m->u.ap.vid[i]);
                    continue;
                }
                truncate_from(s, nd, l);
            }
            /* each fsync completion is an event (and an ACK): a follower
             * may report the old tail durable before the records after it */
            uint64_t t = append_rec(s, nd, m->u.ap.epoch[i], m->u.ap.vid[i]);
            if (t != at) push(s, t, EV_SYNC, nd->id - 1, nd->inc, 0);
            at = t;
        }
        uint64_t matched = prev + (uint64_t)m->u.ap.n;
        if (matched > nd->f_match) nd->f_match = matched;
        uint64_t c = m->u.ap.commit < nd->f_match ? m->u.ap.commit : nd->f_match;
        advance_commit(s, nd, c);
    }
    advance_synced(s, nd);
    msg a = {0};
    a.type = M_APPEND_RESP;
    a.from = nd->id;
    a.to = m->from;
    a.term = nd->e.term;
    a.u.ar.ok = ok;
    a.u.ar.appended = nd->f_match;
    a.u.ar.durable = nd->synced < nd->f_match ? nd->synced : nd->f_match;
    a.u.ar.hint = hint;
    a.u.ar.beat = m->u.ap.beat;
    net_send(s, &a);
}

static void on_append_resp(sim *s, node *nd, const msg *m)
{
    elect *e = &nd->e;
    uint64_t now = now_ms(s, nd);
    if (m->term > e->term) {
        elect_out out = {0};
        uint64_t old = e->term;
        elect_observe_term(e, now, m->term, &out);
        handle_out(s, nd, &out, 0, old);
        return;
    }
    if (e->role != EL_LEADER || m->term != e->term) return;
    unsigned fi = m->from - 1;
    elect_on_ack(e, now, m->from, m->u.ar.beat);
    if (m->u.ar.ok) {
        if (m->u.ar.durable > nd->match[fi]) nd->match[fi] = m->u.ar.durable;
        if (m->u.ar.appended + 1 > nd->next[fi]) nd->next[fi] = m->u.ar.appended + 1;
    } else if (m->u.ar.hint + 1 < nd->next[fi]) {
        nd->next[fi] = m->u.ar.hint + 1;
    }
    if (nd->match[fi] > nd->len) fail(s, "sim: n%u acked beyond the leader's log", m->from);
    leader_update_commit(s, nd);
    if (e->role == EL_LEADER && nd->next[fi] <= nd->len && now >= nd->eager_at[fi]) {
        send_append(s, nd, fi);
        nd->eager_at[fi] = now + 2;
    }
}

static void on_message(sim *s, node *nd, const msg *m)
{
    uint64_t now = now_ms(s, nd);
    elect_out out = {0};
    uint64_t old = nd->e.term;
    switch (m->type) {
    case M_APPEND: on_append(s, nd, m); break;
    case M_APPEND_RESP: on_append_resp(s, nd, m); break;
    case M_STALE:
        elect_observe_term(&nd->e, now, m->term, &out);
        handle_out(s, nd, &out, 0, old);
        break;
    case M_VOTE_REQ:
        elect_on_vote_req(&nd->e, now, &m->u.vq, mine(nd), &out);
        handle_out(s, nd, &out, m->u.vq.candidate, old);
        break;
    case M_VOTE_RESP:
        elect_on_vote_resp(&nd->e, now, &m->u.vr, mine(nd), &out);
        handle_out(s, nd, &out, 0, old);
        break;
    case M_TIMEOUT_NOW:
        /* Only from the leader of our own epoch: a late TIMEOUT_NOW from an
         * older epoch must not bypass anyone's stickiness. */
        if (m->term == nd->e.term && nd->e.role != EL_LEADER) {
            elect_campaign_now(&nd->e, now, mine(nd), &out);
            handle_out(s, nd, &out, 0, old);
        }
        break;
    }
}

/* ---- node lifecycle ---- */
static void node_boot(sim *s, node *nd)
{
    nd->cfg.seed = mix64(s->seed * 31 + nd->id * 7919 + nd->inc);
    elect_init(&nd->e, &nd->cfg, nd->p_term, nd->p_vote, now_ms(s, nd));
    nd->up = 1;
    nd->commit = nd->applied = 0;
    nd->f_leader = 0;
    nd->f_term = nd->f_match = nd->f_echo = 0;
    nd->term_start = 0;
    push(s, s->g + rnd_range(s, 1, TICK_US), EV_TICK, nd->id - 1, nd->inc, 0);
}

static void node_crash(sim *s, node *nd)
{
    s->st.prevotes_lost += nd->e.prevotes_lost;
    advance_synced(s, nd);
    trace(s, TR_CRASH, nd->id, 0, nd->len, nd->synced, nd->p_term, nd->p_vote);
    if (nd->synced < nd->len) s->st.lost_unsynced++;
    nd->len = nd->synced;
    nd->up = 0;
    nd->inc++;
    s->st.crashes++;
}

static void node_restart(sim *s, node *nd)
{
    if (nd->up) return;
    node_boot(s, nd);
    trace(s, TR_RESTART, nd->id, 0, nd->p_term, nd->p_vote, nd->len, 0);
}

static void on_tick(sim *s, node *nd)
{
    uint64_t now = now_ms(s, nd);
    elect_out out = {0};
    uint64_t old = nd->e.term;
    elect_tick(&nd->e, now, mine(nd), &out);
    handle_out(s, nd, &out, 0, old);
    if (nd->e.role == EL_LEADER) {
        leader_update_commit(s, nd);
        if (now - nd->last_beat >= HB_MS) send_appends(s, nd);
    }
    while (nd->applied < nd->commit) {
        uint64_t l = nd->applied + 1;
        if (l > s->glen || nd->log[l - 1].vid != s->glog_vid[l - 1] ||
            nd->log[l - 1].epoch != s->glog_epoch[l - 1]) {
            fail(s, "invariant 3: n%u applies lsn %" PRIu64 " not as committed", nd->id, l);
            break;
        }
        nd->applied = l;
    }
    push(s, s->g + TICK_US, EV_TICK, nd->id - 1, nd->inc, 0);
}

static void on_sync(sim *s, node *nd)
{
    advance_synced(s, nd);
    if (nd->e.role == EL_LEADER) {
        leader_update_commit(s, nd);
    } else if (nd->f_leader && nd->e.role == EL_FOLLOWER && nd->e.leader == nd->f_leader &&
               nd->e.term == nd->f_term) {
        msg a = {0};
        a.type = M_APPEND_RESP;
        a.from = nd->id;
        a.to = nd->f_leader;
        a.term = nd->e.term;
        a.u.ar.ok = 1;
        a.u.ar.appended = nd->f_match;
        a.u.ar.durable = nd->synced < nd->f_match ? nd->synced : nd->f_match;
        a.u.ar.beat = nd->f_echo;
        net_send(s, &a);
    }
}

static int leaders_up(sim *s, unsigned *out)
{
    int k = 0;
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up && s->nodes[i].e.role == EL_LEADER) out[k++] = (unsigned)i;
    return k;
}

static void on_write(sim *s)
{
    unsigned ls[MAXN];
    int k = leaders_up(s, ls);
    if (k) {
        node *nd = &s->nodes[ls[rnd_below(s, (uint64_t)k)]];
        if (nd->len < LOG_MAX - 64 && s->vid_next + 1 < WRITES_MAX) {
            uint64_t vid = ++s->vid_next;
            uint64_t at = append_rec(s, nd, nd->e.term, vid);
            push(s, at, EV_SYNC, nd->id - 1, nd->inc, 0);
            trace(s, TR_WRITE, nd->id, 0, vid, nd->len, nd->e.term, 0);
            s->st.writes++;
        }
    }
    push(s, s->g + rnd_exp_us(s, s->write_mean_us), EV_WRITE, 0, 0, 0);
}

static uint64_t links_mask(const sim *s)
{
    uint64_t m = 0;
    for (int a = 0; a < s->n; a++)
        for (int b = 0; b < s->n; b++)
            if (s->link[a][b] || a == b) m |= 1ull << (a * 8 + b);
    return m;
}

static double draw_rate(sim *s)
{
    if (s->extreme_clocks) return rnd_below(s, 2) ? 0.95 : 1.05;
    return 0.95 + 0.1 * rnd_unit(s);
}

static void clear_slow_links(sim *s)
{
    memset(s->extra_us, 0, sizeof s->extra_us);
}

static void heal_links(sim *s)
{
    for (int a = 0; a < s->n; a++)
        for (int b = 0; b < s->n; b++) s->link[a][b] = 1;
}

static void random_net(sim *s)
{
    int calm = rnd_below(s, 4) == 0;
    s->p_loss = calm ? 0 : rnd_unit(s) * 0.25;
    s->p_dup = calm ? 0 : rnd_unit(s) * 0.05;
    s->p_slow = calm ? 0 : rnd_unit(s) * (rnd_below(s, 3) ? 0.15 : 0.6); /* sometimes chaos */
    s->delay_max_us = rnd_range(s, 5000, 3 * T_MS * 1000);
    trace(s, TR_NET, 0, 0, (uint64_t)(s->p_loss * 1e6), (uint64_t)(s->p_dup * 1e6),
          (uint64_t)(s->p_slow * 1e6), s->delay_max_us);
}

static void crash_for(sim *s, node *nd);

static void on_fault(sim *s)
{
    if (s->g >= FAULT_US) return;
    unsigned ls[MAXN];
    int nl = leaders_up(s, ls);
    uint64_t wsum = 0, r;
    int kind = 0;
    for (int k = 0; k < 7; k++) wsum += s->fault_w[k];
    r = rnd_below(s, wsum);
    while (r >= s->fault_w[kind]) r -= s->fault_w[kind++];
    if (kind == 0) { /* crash, the leader half the time */
        unsigned i = nl && rnd_below(s, 2) ? ls[rnd_below(s, (uint64_t)nl)]
                                           : (unsigned)rnd_below(s, (uint64_t)s->n);
        node *nd = &s->nodes[i];
        if (nd->up) crash_for(s, nd);
    } else if (kind == 1) { /* partition */
        uint64_t how = rnd_below(s, 7);
        if (how == 3) { /* a slow link, or everything into one node (often the leader) slow */
            unsigned x = nl && rnd_below(s, 2) ? ls[rnd_below(s, (uint64_t)nl)]
                                              : (unsigned)rnd_below(s, (uint64_t)s->n);
            uint64_t extra = rnd_range(s, 20000, 200000);
            if (rnd_below(s, 2)) {
                for (int a = 0; a < s->n; a++) s->extra_us[a][x] = extra;
            } else {
                s->extra_us[rnd_below(s, (uint64_t)s->n)][x] = extra;
            }
            trace(s, TR_SLOW, x + 1, 0, extra, 0, 0, 0);
            goto next;
        }
        heal_links(s);
        if (how == 0) { /* random split */
            int side[MAXN];
            for (int i = 0; i < s->n; i++) side[i] = (int)rnd_below(s, 2);
            for (int a = 0; a < s->n; a++)
                for (int b = 0; b < s->n; b++) s->link[a][b] = side[a] == side[b];
        } else if (how == 1) { /* cut the leader (or anyone) off */
            unsigned x = nl ? ls[rnd_below(s, (uint64_t)nl)] : (unsigned)rnd_below(s, (uint64_t)s->n);
            for (int b = 0; b < s->n; b++) s->link[x][b] = s->link[b][x] = (unsigned)b == x;
        } else if (how == 4 || how == 5) { /* X cannot send / cannot hear: partial partitions */
            unsigned x = nl && rnd_below(s, 3) ? ls[rnd_below(s, (uint64_t)nl)]
                                              : (unsigned)rnd_below(s, (uint64_t)s->n);
            for (int b = 0; b < s->n; b++)
                if ((unsigned)b != x) {
                    if (how == 4) s->link[x][b] = 0;
                    else s->link[b][x] = 0;
                }
        } else if (how == 6) { /* the leader and one follower lose each other, one way or both */
            unsigned x = nl ? ls[rnd_below(s, (uint64_t)nl)] : (unsigned)rnd_below(s, (uint64_t)s->n);
            unsigned y = (x + 1 + (unsigned)rnd_below(s, (uint64_t)s->n - 1)) % (unsigned)s->n;
            uint64_t dir = rnd_below(s, 3);
            if (dir != 1) s->link[x][y] = 0;
            if (dir != 0) s->link[y][x] = 0;
        } else { /* a few one-way links */
            int k = (int)rnd_range(s, 1, (uint64_t)s->n);
            for (int j = 0; j < k; j++) {
                unsigned a = (unsigned)rnd_below(s, (uint64_t)s->n), b = (unsigned)rnd_below(s, (uint64_t)s->n);
                if (a != b) s->link[a][b] = 0;
            }
        }
        s->st.partitions++;
        trace(s, TR_LINK, 0, 0, links_mask(s), how, (uint64_t)s->n, 0);
    } else if (kind == 2) {
        heal_links(s);
        clear_slow_links(s);
        trace(s, TR_LINK, 0, 0, links_mask(s), 3, (uint64_t)s->n, 0);
    } else if (kind == 3) {
        node *nd = &s->nodes[rnd_below(s, (uint64_t)s->n)];
        set_rate(s, nd, draw_rate(s));
        trace(s, TR_RATE, nd->id, 0, (uint64_t)(nd->rate * 1e6), 0, 0, 0);
    } else if (kind == 4) { /* leadership transfer to a caught-up follower */
        if (nl) {
            node *nd = &s->nodes[ls[rnd_below(s, (uint64_t)nl)]];
            unsigned cand[MAXN];
            int k = 0;
            advance_synced(s, nd);
            for (int i = 0; i < s->n; i++)
                if ((unsigned)i != nd->id - 1 && nd->match[i] >= nd->len) cand[k++] = (unsigned)i;
            if (k) {
                unsigned to = cand[rnd_below(s, (uint64_t)k)];
                uint64_t now = now_ms(s, nd), term = nd->e.term;
                trace(s, TR_TRANSFER, nd->id, to + 1, term, 0, 0, 0);
                elect_out out = {0};
                elect_step_down(&nd->e, now, ER_TRANSFER, &out);
                handle_out(s, nd, &out, 0, term);
                msg m = {0};
                m.type = M_TIMEOUT_NOW;
                m.from = nd->id;
                m.to = to + 1;
                m.term = term;
                net_send(s, &m);
                s->st.transfers++;
            }
        }
    } else if (kind == 5) { /* forced step down */
        if (nl) {
            node *nd = &s->nodes[ls[rnd_below(s, (uint64_t)nl)]];
            trace(s, TR_FORCE, nd->id, 0, nd->e.term, 0, 0, 0);
            elect_out out = {0};
            elect_step_down(&nd->e, now_ms(s, nd), ER_FORCED, &out);
            handle_out(s, nd, &out, 0, nd->e.term);
            s->st.forced++;
        }
    } else {
        random_net(s);
    }
next:
    push(s, s->g + rnd_exp_us(s, s->fault_mean_us), EV_FAULT, 0, 0, 0);
}

static void crash_for(sim *s, node *nd)
{
    node_crash(s, nd);
    uint64_t down = rnd_below(s, 3) ? rnd_range(s, 1000, 300000) : rnd_range(s, 300000, 2000000);
    push(s, s->g + down, EV_RESTART, nd->id - 1, nd->inc, 0);
}

/* A leader elected a moment ago (still in incarnation INC): crash it, crash
 * someone else (maybe with its epoch-start record unsynced), or cut it off.
 * This is what produces Raft's Figure 8 histories. */
static void on_nemesis(sim *s, node *nd, uint32_t inc)
{
    if (s->g >= FAULT_US || !nd->up || nd->inc != inc) return;
    uint64_t r = rnd_below(s, 4);
    if (r == 0) {
        crash_for(s, nd);
    } else if (r == 1) {
        node *o = &s->nodes[rnd_below(s, (uint64_t)s->n)];
        if (o->up) crash_for(s, o);
    } else if (r == 2) {
        unsigned x = nd->id - 1;
        heal_links(s);
        for (int b = 0; b < s->n; b++) s->link[x][b] = s->link[b][x] = (unsigned)b == x;
        s->st.partitions++;
        trace(s, TR_LINK, 0, 0, links_mask(s), 1, (uint64_t)s->n, 0);
    } else { /* crash it and one more */
        crash_for(s, nd);
        node *o = &s->nodes[rnd_below(s, (uint64_t)s->n)];
        if (o->up) crash_for(s, o);
    }
}

static void on_heal(sim *s)
{
    trace(s, TR_HEAL, 0, 0, 0, 0, 0, 0);
    heal_links(s);
    clear_slow_links(s);
    s->p_loss = s->p_dup = s->p_slow = 0;
    s->batch = REC_MAX; /* replication keeps up with the clients again */
    for (int i = 0; i < s->n; i++) node_restart(s, &s->nodes[i]);
}

/* ---- invariants checked after every event ---- */
static void check_step(sim *s)
{
    for (int i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        if (!nd->up) continue;
        /* 3, cheaply: the newest committed record is the committed one */
        if (nd->commit) {
            uint64_t c = nd->commit;
            if (c > nd->len || c > s->glen || nd->log[c - 1].epoch != s->glog_epoch[c - 1] ||
                nd->log[c - 1].vid != s->glog_vid[c - 1])
                fail(s, "invariant 3: n%u's committed prefix (to %" PRIu64 ") is not the committed log",
                     nd->id, c);
        }
        if (nd->e.role != EL_LEADER) continue;
        if (nd->e.term < TERM_MAX && s->epoch_leader[nd->e.term] != nd->id)
            fail(s, "invariant 1: n%u leads epoch %" PRIu64 " but n%u was elected", nd->id,
                 nd->e.term, s->epoch_leader[nd->e.term]);
        /* 6: lease safety */
        uint64_t until = elect_lease_until(&nd->e), now = now_ms(s, nd);
        if (until > now) {
            s->st.lease_checks++;
            /* 6b, what repl_elect.h promises: no other leader exists before
             * the lease ends (so not even one that has not committed yet) */
            if (s->max_elected > nd->e.term) {
                trace(s, TR_LEASE, nd->id, 0, nd->e.term, until, now, 0);
                fail(s,
                     "invariant 6b: n%u (leader of epoch %" PRIu64 ") holds a read lease until %" PRIu64
                     " (its clock %" PRIu64 ") but epoch %" PRIu64 " has a leader",
                     nd->id, nd->e.term, until, now, s->max_elected);
            }
            if (s->max_own_epoch > nd->e.term) {
                trace(s, TR_LEASE, nd->id, 0, nd->e.term, until, now, 0);
                fail(s,
                     "invariant 6: n%u (leader of epoch %" PRIu64 ") holds a read lease until %" PRIu64
                     " (its clock %" PRIu64 ") but the leader of epoch %" PRIu64
                     " has committed a record of its epoch",
                     nd->id, nd->e.term, until, now, s->max_own_epoch);
            }
        }
    }
}

static void dump(const sim *s)
{
    printf("FAIL seed %" PRIu64 " nodes %d: %s\n", s->seed, s->n, s->why);
    uint64_t from = s->ntr > TRACE_N ? s->ntr - TRACE_N : 0;
    if (!s->verbose) { /* else it is all above already */
        printf("  last %" PRIu64 " events:\n", s->ntr - from);
        for (uint64_t i = from; i < s->ntr; i++) tr_print(&s->ring[i % TRACE_N]);
    }
    printf("  run: prevote %d check_quorum %d, batch %d, fsync %" PRIu64 "..%" PRIu64
           " us, faults every ~%" PRIu64 " ms, writes every ~%" PRIu64 " ms, nemesis %.2f, %s clocks\n",
           s->nodes[0].cfg.prevote, s->nodes[0].cfg.check_quorum, s->batch, s->sync_lo, s->sync_hi,
           s->fault_mean_us / 1000, s->write_mean_us / 1000, s->p_nemesis,
           s->extreme_clocks ? "extreme" : "uniform");
    printf("  committed log: %" PRIu64 " records\n", s->glen);
    for (int i = 0; i < s->n; i++) {
        const node *nd = &s->nodes[i];
        const elect *e = &nd->e;
        printf("  n%u %s %s term %" PRIu64 " vote %u leader %u | persisted %" PRIu64
               "/%u | log %" PRIu64 " synced %" PRIu64 " commit %" PRIu64 " last (%" PRIu64
               ",%" PRIu64 ") | clock %" PRIu64 " rate %.4f quiet_until %" PRIu64 "\n",
               nd->id, nd->up ? "up" : "DOWN", elect_role_str(e->role), e->term, e->voted_for,
               e->leader, nd->p_term, nd->p_vote, nd->len, nd->synced, nd->commit,
               mine(nd).epoch, mine(nd).lsn, now_ms(s, nd), nd->rate, e->quiet_until_ms);
    }
    if (s->scenario)
        printf("  replay: ELECT_SIM_SCENARIO=%d:%" PRIu64 " build/tests/repl/elect_sim_test\n",
               s->scenario, s->seed);
    else
        printf("  replay: ELECT_SIM_SEED=%" PRIu64 " ELECT_SIM_NODES=%d build/tests/repl/elect_sim_test\n",
               s->seed, s->n);
}

static sim g_sim;

/* One run; returns 1 if every invariant held. */
/* Clears the simulator for a run (keeping its allocations). */
static void sim_reset(sim *s, uint64_t seed, int n, int verbose)
{
    ev *heap = s->heap;
    msg *pool = s->pool;
    uint32_t *freel = s->freel;
    size_t capheap = s->capheap, npool = s->npool;
    memset(s, 0, sizeof *s);
    s->heap = heap;
    s->capheap = capheap;
    s->pool = pool;
    s->freel = freel;
    /* every slot is free again */
    s->npool = npool;
    for (size_t i = 0; i < npool; i++) s->freel[i] = (uint32_t)(npool - 1 - i);
    s->nfree = npool;
    s->seed = seed;
    s->n = n;
    s->verbose = verbose;
    s->rng = mix64(seed * 0x100000001b3ull + (uint64_t)n);
    s->batch = REC_MAX;
    s->sync_lo = 100;
    s->sync_hi = 3000;
    heal_links(s);
}

static void sim_configure(sim *s, int prevote, int check_quorum)
{
    unsigned ids[MAXN];
    for (int i = 0; i < s->n; i++) ids[i] = (unsigned)i + 1;
    for (int i = 0; i < s->n; i++) {
        node *nd = &s->nodes[i];
        nd->id = (unsigned)i + 1;
        elect_config_default(&nd->cfg, nd->id, ids, s->n);
        nd->cfg.timeout_ms = T_MS;
        nd->cfg.prevote = prevote;
        nd->cfg.check_quorum = check_quorum;
        nd->anchor_g = 0;
        nd->anchor_local = (double)rnd_range(s, 10000, 100000000) * 1000.0;
        nd->rate = draw_rate(s);
    }
}

static void deliver(sim *s, const msg *m)
{
    node *nd = &s->nodes[m->to - 1];
    if (!nd->up) {
        trace(s, TR_DROP, m->to, m->from, (uint64_t)m->type, m->term, 2, 0);
        return;
    }
    if (!s->link[m->from - 1][m->to - 1]) {
        trace(s, TR_DROP, m->to, m->from, (uint64_t)m->type, m->term, 1, 0);
        return;
    }
    uint64_t c = 0, d = 0;
    if (m->type == M_APPEND) {
        c = m->u.ap.prev << 8 | (uint64_t)m->u.ap.n;
        d = m->u.ap.commit;
    } else if (m->type == M_APPEND_RESP) {
        c = (uint64_t)m->u.ar.ok << 62 | m->u.ar.durable;
        d = m->u.ar.beat;
    } else if (m->type == M_VOTE_REQ) {
        c = m->u.vq.last.epoch << 32 | m->u.vq.last.lsn;
        d = (uint64_t)(m->u.vq.prevote ? 1 : 0) | (m->u.vq.transfer ? 2 : 0);
    } else if (m->type == M_VOTE_RESP) {
        c = (uint64_t)m->u.vr.granted;
        d = (uint64_t)m->u.vr.prevote;
    }
    trace(s, TR_DELIVER, m->to, m->from, (uint64_t)m->type, m->term, c, d);
    on_message(s, nd, m);
}

/* Pops and runs one event, then checks the invariants; 0 when done. */
static int sim_step(sim *s, uint64_t until)
{
    if (s->failed || !s->nheap || s->heap[0].t > until) return 0;
    ev x = pop(s);
    s->g = x.t;
    s->st.events++;
    node *nd = &s->nodes[x.node];
    switch (x.kind) {
    case EV_MSG: {
        msg m = s->pool[x.m];
        msg_free(s, x.m);
        deliver(s, &m);
        break;
    }
    case EV_TICK:
        if (nd->up && nd->inc == x.inc) on_tick(s, nd);
        break;
    case EV_SYNC:
        if (nd->up && nd->inc == x.inc) on_sync(s, nd);
        break;
    case EV_WRITE: on_write(s); break;
    case EV_FAULT: on_fault(s); break;
    case EV_RESTART:
        if (nd->inc == x.inc) node_restart(s, nd);
        break;
    case EV_HEAL: on_heal(s); break;
    case EV_MARK:
        s->mark_glen = s->glen;
        s->end_at = s->g + CATCHUP_MS * 1000;
        break;
    case EV_NEMESIS: on_nemesis(s, nd, x.inc); break;
    }
    check_step(s);
    return 1;
}

static void sim_finish(sim *s, int print_failure)
{
    while (s->nheap) { /* return the message slots */
        ev x = pop(s);
        if (x.kind == EV_MSG) msg_free(s, x.m);
    }
    s->st.runs = 1;
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up) s->st.prevotes_lost += s->nodes[i].e.prevotes_lost;
    uint64_t *tot = (uint64_t *)&g_total;
    const uint64_t *one = (const uint64_t *)&s->st;
    for (size_t i = 0; i < sizeof(stats) / sizeof(uint64_t); i++) {
        if (&one[i] == &s->st.max_term) {
            if (one[i] > tot[i]) tot[i] = one[i];
        } else {
            tot[i] += one[i];
        }
    }
    if (s->failed && print_failure) dump(s);
}

/* One random run; returns 1 if every invariant held. */
static int run_one(uint64_t seed, int n, int verbose, int print_failure)
{
    sim *s = &g_sim;
    sim_reset(s, seed, n, verbose);
    s->extreme_clocks = rnd_below(s, 2) == 0;
    random_net(s);
    /* Each run draws its own weather: how often faults strike and which,
     * and how busy the clients are (a sparse write load lets a cut-off
     * node stay up to date, which is what tests stickiness). */
    s->fault_mean_us = rnd_below(s, 2) ? rnd_range(s, 10000, 150000) : rnd_range(s, 150000, 800000);
    s->write_mean_us = rnd_below(s, 2) ? rnd_range(s, 2000, 30000) : rnd_range(s, 50000, 500000);
    for (int k = 0; k < 7; k++) s->fault_w[k] = rnd_below(s, 3) ? rnd_range(s, 1, 10) : 0;
    s->fault_w[2] += 1; /* some healing always */
    s->p_nemesis = rnd_below(s, 3) == 0 ? 0 : 0.2 + rnd_unit(s) * 0.7;
    static const int batches[] = {1, 2, 4, REC_MAX, REC_MAX};
    s->batch = batches[rnd_below(s, 5)];
    uint64_t disk = rnd_below(s, 3);
    s->sync_lo = disk == 0 ? 100 : disk == 1 ? 1000 : 5000;
    s->sync_hi = disk == 0 ? 3000 : disk == 1 ? 10000 : 40000;
    uint64_t cfgvar = rnd_below(s, 10);
    sim_configure(s, cfgvar != 0, cfgvar != 1);
    for (int i = 0; i < n; i++) node_boot(s, &s->nodes[i]);
    push(s, rnd_exp_us(s, s->write_mean_us), EV_WRITE, 0, 0, 0);
    push(s, rnd_exp_us(s, s->fault_mean_us), EV_FAULT, 0, 0, 0);
    push(s, FAULT_US, EV_HEAL, 0, 0, 0);

    while (sim_step(s, s->end_at ? s->end_at : RUN_US)) {
    }
    if (!s->failed) { /* end of run: full checks, liveness */
        for (int i = 0; i < n && !s->failed; i++) {
            node *nd = &s->nodes[i];
            for (uint64_t l = 1; l <= nd->commit; l++)
                if (l > s->glen || nd->log[l - 1].epoch != s->glog_epoch[l - 1] ||
                    nd->log[l - 1].vid != s->glog_vid[l - 1]) {
                    fail(s, "invariant 3: n%u's committed lsn %" PRIu64 " is not the committed one",
                         nd->id, l);
                    break;
                }
        }
        for (uint64_t v = 1; v <= s->vid_next && !s->failed; v++) {
            uint64_t l = s->acked_lsn[v];
            if (l && (l > s->glen || s->glog_vid[l - 1] != v))
                fail(s, "invariant 7: acknowledged write vid %" PRIu64 " at lsn %" PRIu64 " is lost", v, l);
        }
        /* Without PreVote a node with a stale log that was cut off keeps
         * raising the epoch after the heal and deposing every leader until
         * another node times out before its next request (Raft's disruptive
         * server, section 9.6): progress is only eventual. So those runs get
         * a longer bound for the first commit (the 3 s one failed once in
         * 700,000 of them) and no catch-up bound. */
        uint64_t live_ms = s->nodes[0].cfg.prevote ? LIVE_MS : LIVE_NOPREVOTE_MS;
        if (!s->failed && (!s->live_at || s->live_at > FAULT_US + live_ms * 1000))
            fail(s, "liveness: no leader committed a record of its epoch within %llu ms of the heal",
                 (unsigned long long)live_ms);
        for (int i = 0; i < n && !s->failed && s->nodes[0].cfg.prevote; i++)
            if (s->nodes[i].commit < s->mark_glen)
                fail(s, "liveness: n%u committed %" PRIu64 " of the %" PRIu64
                     " records committed %llu ms before the end",
                     s->nodes[i].id, s->nodes[i].commit, s->mark_glen, (unsigned long long)CATCHUP_MS);
    }
    sim_finish(s, print_failure);
    if (verbose && !s->failed)
        printf("seed %" PRIu64 " nodes %d: ok, %" PRIu64 " committed, %" PRIu64 " leaders\n", seed,
               n, s->glen, s->st.leaders);
    return !s->failed;
}

/* ---- scripted histories ----
 * The same nodes, log model and invariants, but the network is the script:
 * every message is held until the script delivers or drops it, so a history
 * that random runs reach only rarely can be replayed exactly. Only legal
 * network behaviour is used (delay, loss, reordering). */
static void held_put(sim *s, const msg *m)
{
    if (s->nheld == HELD_MAX) { /* the oldest goes: a lost message */
        memmove(s->held, s->held + 1, (HELD_MAX - 1) * sizeof *s->held);
        s->nheld--;
    }
    s->held[s->nheld++] = *m;
}

/* Delivers the first (or, LAST set, the newest) held message FROM -> TO of
 * TYPE; 0 if there is none. */
static int script_deliver(sim *s, unsigned from, unsigned to, int type, int last)
{
    int at = -1;
    for (int i = 0; i < s->nheld; i++)
        if (s->held[i].from == from && s->held[i].to == to && s->held[i].type == type) {
            at = i;
            if (!last) break;
        }
    if (at < 0) return 0;
    msg m = s->held[at];
    memmove(s->held + at, s->held + at + 1, (size_t)(s->nheld - at - 1) * sizeof *s->held);
    s->nheld--;
    deliver(s, &m);
    check_step(s);
    return 1;
}

/* Drops every held message FROM -> TO (0: any) of TYPE (0: any). */
static void script_drop(sim *s, unsigned from, unsigned to, int type)
{
    int k = 0;
    for (int i = 0; i < s->nheld; i++) {
        const msg *m = &s->held[i];
        if ((!from || m->from == from) && (!to || m->to == to) && (!type || m->type == type)) continue;
        s->held[k++] = *m;
    }
    s->nheld = k;
}

/* Runs timers until node ID has ROLE (1), or for LIMIT_MS (0). */
static int script_wait(sim *s, unsigned id, int role, uint64_t limit_ms)
{
    uint64_t until = s->g + limit_ms * 1000;
    while ((int)s->nodes[id - 1].e.role != role)
        if (!sim_step(s, until)) return 0;
    return 1;
}

/* Gives node ND a durable log of K records of EPOCHS (value id: epoch * 1000
 * + lsn, so two records differ unless they are the same) and a persisted
 * (TERM, VOTE), as if from an earlier history. */
static void preload(sim *s, node *nd, const uint64_t *epochs, int k, uint64_t term, unsigned vote)
{
    for (int i = 0; i < k; i++) {
        nd->log[i].epoch = epochs[i];
        nd->log[i].vid = epochs[i] * 1000 + (uint64_t)i + 1;
        nd->log[i].sync_at = 0;
    }
    nd->len = nd->synced = (uint64_t)k;
    nd->p_term = term;
    nd->p_vote = vote;
}

/* A follower whose epoch rose without a new leader must stay sticky.
 *
 * A (n1) is about to win epoch 2 with B's (n2) vote; C (n3) is cut off from
 * A. Before A's heartbeats reach B, C (candidate of 2 from an earlier
 * round) asks B for a pre-vote for 3 and gets it (B has no leader yet), and
 * becomes candidate of 3. B's own pre-vote request of the round before,
 * slow on the wire, reaches C only now; C refuses it with epoch 3. Then, in
 * this order, B gets: A's heartbeat (B follows A and is sticky; A counts
 * B's ACK for its lease), C's refusal (B's epoch becomes 3, with no leader
 * and no vote), C's vote request for 3. B must refuse it: it heard A a
 * moment ago, and A's lease depends on that. Logs: all hold (1,1) from
 * before; A also holds an uncommitted (1,2), so its heartbeats do not match
 * B's log and B appends nothing from A (it still ACKs the heartbeat), which
 * keeps C's log as up to date as B's.
 *
 * The timers come from the cores' generators: the script tries core seeds
 * until they fall as described (C and B time out before A, and C times out
 * again within A's first election timeout); 0 if SEED does not fit. */
static int scenario_sticky_epoch(uint64_t seed, int verbose, int *fits)
{
    sim *s = &g_sim;
    sim_reset(s, seed, 3, verbose);
    s->scripted = 1;
    s->scenario = 1;
    sim_configure(s, 1, 1);
    static const uint64_t a_log[] = {1, 1}, bc_log[] = {1};
    preload(s, &s->nodes[0], a_log, 2, 1, 1);
    preload(s, &s->nodes[1], bc_log, 1, 1, 1);
    preload(s, &s->nodes[2], bc_log, 1, 1, 1);
    s->glog_epoch[0] = 1; /* (1,1) was committed by n1 in epoch 1 */
    s->glog_vid[0] = 1001;
    s->glen = 1;
    s->epoch_leader[1] = 1;
    s->committed_by[1] = 1;
    s->max_elected = s->max_own_epoch = 1;
    for (int i = 0; i < 3; i++) node_boot(s, &s->nodes[i]);
    const unsigned A = 1, B = 2, C = 3;
    node *a = &s->nodes[0], *b = &s->nodes[1], *c = &s->nodes[2];
    *fits = 0;
    /* C and B time out first (in either order), A last. */
    int c_done = 0, b_done = 0;
    uint64_t until = s->g + 3 * T_MS * 1000;
    while (!(c_done && b_done)) {
        if (!sim_step(s, until) || a->e.role != EL_FOLLOWER) goto out;
        if (!c_done && c->e.role == EL_PRECANDIDATE) { /* B grants C's pre-vote for 2 */
            if (!script_deliver(s, C, B, M_VOTE_REQ, 0) || !script_deliver(s, B, C, M_VOTE_RESP, 0)) goto out;
            if (c->e.role != EL_CANDIDATE || c->e.term != 2) goto out;
            script_drop(s, C, 0, M_VOTE_REQ); /* its vote requests are lost */
            c_done = 1;
        }
        if (!b_done && b->e.role == EL_PRECANDIDATE) { /* B's pre-vote: to A lost, to C slow */
            script_drop(s, B, A, M_VOTE_REQ);
            b_done = 1;
        }
    }
    /* A times out and wins epoch 2 with B's vote; nothing of A reaches C. */
    if (!script_wait(s, A, EL_PRECANDIDATE, 3 * T_MS) || c->e.term != 2 || c->e.role != EL_CANDIDATE) goto out;
    if (!script_deliver(s, A, B, M_VOTE_REQ, 0) || !script_deliver(s, B, A, M_VOTE_RESP, 0)) goto out;
    if (!script_deliver(s, A, B, M_VOTE_REQ, 0) || !script_deliver(s, B, A, M_VOTE_RESP, 0)) goto out;
    if (a->e.role != EL_LEADER || a->e.term != 2) goto out;
    script_drop(s, A, C, 0);
    script_drop(s, C, A, 0);
    /* C's next timeout, while A is still in its first election timeout. */
    if (!script_wait(s, C, EL_PRECANDIDATE, 2 * T_MS) || a->e.role != EL_LEADER ||
        b->e.role != EL_FOLLOWER || b->e.term != 2)
        goto out;
    script_drop(s, A, C, 0);
    if (!script_deliver(s, C, B, M_VOTE_REQ, 0) || !script_deliver(s, B, C, M_VOTE_RESP, 0)) goto out;
    if (c->e.role != EL_CANDIDATE || c->e.term != 3) goto out;
    script_drop(s, C, A, 0);
    /* B's old pre-vote request reaches C, which refuses it with epoch 3 */
    if (!script_deliver(s, B, C, M_VOTE_REQ, 0)) goto out;
    /* A's newest heartbeat reaches B, B's ACK reaches A: A holds a lease */
    if (!script_deliver(s, A, B, M_APPEND, 1) || !script_deliver(s, B, A, M_APPEND_RESP, 1)) goto out;
    if (elect_lease_until(&a->e) <= now_ms(s, a)) goto out;
    *fits = 1;
    /* C's refusal, then C's vote request for 3 */
    if (!script_deliver(s, C, B, M_VOTE_RESP, 0)) goto out;
    if (!script_deliver(s, C, B, M_VOTE_REQ, 0)) goto out;
    script_deliver(s, B, C, M_VOTE_RESP, 0);
    if (c->e.role == EL_LEADER) { /* and it commits while A's lease lasts */
        for (int k = 0; k < 20 && !s->failed && c->commit < c->term_start; k++) {
            script_deliver(s, C, B, M_APPEND, 1);
            sim_step(s, s->g + 2000);
            script_deliver(s, B, C, M_APPEND_RESP, 1);
        }
    }
out:
    s->scripted = 0;
    s->nheld = 0;
    sim_finish(s, *fits);
    if (*fits && verbose)
        printf("scenario seed %" PRIu64 ": B %s C's vote for epoch 3\n", seed,
               s->votes[1][3] == C ? "granted" : "refused");
    return !s->failed;
}

/* Delivers every held message from or to node ID (and what they cause),
 * drops all others. */
static void script_only(sim *s, unsigned id)
{
    for (int i = 0; i < s->nheld && !s->failed;) {
        if (s->held[i].from != id && s->held[i].to != id) {
            i++;
            continue;
        }
        msg m = s->held[i];
        memmove(s->held + i, s->held + i + 1, (size_t)(s->nheld - i - 1) * sizeof *s->held);
        s->nheld--;
        deliver(s, &m);
        check_step(s);
        i = 0; /* it may have sent more */
    }
    s->nheld = 0;
}

/* Raft's Figure 8 (section 5.4.2): a leader must not commit a record of an
 * earlier epoch by counting replicas, only through one of its own epoch.
 *
 * Five members share (1,1). n1 led epoch 2 and wrote (2,2), which reached
 * n2; n5 led epoch 3 (votes n3, n4, n5) and wrote (3,2) only locally. All
 * are in epoch 3 now. n1 wins epoch 4 with n2's and n3's votes and appends
 * its epoch-start record (4,3). n2 takes (4,3), ACKs durable 2 and crashes
 * before (4,3) is synced; n3 gets (2,2) alone (one record per message) and
 * ACKs it once synced. (2,2) is now durable on n1, n2 and n3, a majority,
 * but (4,3) is durable only on n1: elect_commit() must not commit lsn 2.
 * n1 crashes. n5, whose (3,2) is more up to date than everyone's (2,2),
 * wins epoch 5 with n2, n3 and n4 (all other messages are lost) and
 * replaces (2,2) everywhere with (3,2); that is only safe because (2,2) was
 * never committed. Had n1 committed it, invariant 4 fails at n5's election
 * (and 2 when n5 commits). The run must end with n5 leading and committing
 * (3,2) in its own epoch. 0 (*FITS) if the timers of SEED do not allow it. */
static int scenario_figure8(uint64_t seed, int verbose, int *fits)
{
    sim *s = &g_sim;
    sim_reset(s, seed, 5, verbose);
    s->scripted = 1;
    s->scenario = 2;
    s->batch = 1;
    sim_configure(s, 1, 1);
    static const uint64_t l12[] = {1, 2}, l34[] = {1}, l5[] = {1, 3};
    preload(s, &s->nodes[0], l12, 2, 3, 0);
    preload(s, &s->nodes[1], l12, 2, 3, 0);
    preload(s, &s->nodes[2], l34, 1, 3, 5);
    preload(s, &s->nodes[3], l34, 1, 3, 5);
    preload(s, &s->nodes[4], l5, 2, 3, 5);
    s->glog_epoch[0] = 1; /* (1,1) was committed in epoch 1 */
    s->glog_vid[0] = 1001;
    s->glen = 1;
    s->epoch_leader[1] = 1;
    s->epoch_leader[2] = 1;
    s->epoch_leader[3] = 5;
    s->committed_by[1] = 1;
    s->max_elected = 3;
    s->max_own_epoch = 1;
    for (int i = 0; i < 5; i++) node_boot(s, &s->nodes[i]);
    node *n1 = &s->nodes[0], *n3 = &s->nodes[2], *n5 = &s->nodes[4];
    *fits = 0;
    /* n1 times out; nobody else's requests get anywhere. */
    uint64_t until = s->g + 3 * T_MS * 1000;
    while (n1->e.role != EL_PRECANDIDATE) {
        if (!sim_step(s, until)) goto out;
        script_drop(s, 2, 0, 0);
        script_drop(s, 3, 0, 0);
        script_drop(s, 4, 0, 0);
        script_drop(s, 5, 0, 0);
    }
    for (int round = 0; round < 2; round++) /* pre-vote, then vote, from n2 and n3 */
        for (unsigned j = 2; j <= 3; j++)
            if (!script_deliver(s, 1, j, M_VOTE_REQ, 0) || !script_deliver(s, j, 1, M_VOTE_RESP, 0)) goto out;
    if (n1->e.role != EL_LEADER || n1->e.term != 4 || n1->term_start != 3) goto out;
    script_drop(s, 1, 4, 0);
    script_drop(s, 1, 5, 0);
    /* n2 takes (4,3), ACKs durable 2, crashes before (4,3) is synced. */
    if (!script_deliver(s, 1, 2, M_APPEND, 0) || !script_deliver(s, 2, 1, M_APPEND_RESP, 0)) goto out;
    node_crash(s, &s->nodes[1]);
    node_restart(s, &s->nodes[1]);
    if (s->nodes[1].len != 2) goto out;
    /* n3: the first append does not match; the next one brings (2,2) alone. */
    if (!script_deliver(s, 1, 3, M_APPEND, 0) || !script_deliver(s, 3, 1, M_APPEND_RESP, 0)) goto out;
    if (!script_deliver(s, 1, 3, M_APPEND, 1) || n3->len != 2) goto out;
    script_drop(s, 3, 1, 0); /* its not-yet-durable ACK */
    while (n3->synced < 2) { /* its fsync, and the ACK that reports it */
        if (!sim_step(s, s->g + 100000)) goto out;
        script_drop(s, 1, 0, M_APPEND);
        for (unsigned j = 2; j <= 5; j++)
            if (j != 3) script_drop(s, j, 0, 0);
    }
    if (!script_deliver(s, 3, 1, M_APPEND_RESP, 1) || n1->match[2] != 2 || n1->match[1] != 2) goto out;
    *fits = 1; /* (2,2) durable on n1, n2, n3; (4,3) only on n1 */
    node_crash(s, n1);
    /* n5's campaign, and nothing else, gets through until it commits. */
    until = s->g + 5000000;
    while (!s->failed && !(n5->e.role == EL_LEADER && n5->term_start && n5->commit >= n5->term_start)) {
        script_only(s, 5);
        if (!sim_step(s, until)) break;
    }
    if (!s->failed && !(n5->e.role == EL_LEADER && n5->commit >= n5->term_start && s->glen >= 2 &&
                        s->glog_epoch[1] == 3))
        *fits = 0; /* n5 did not get there with these timers */
out:
    s->scripted = 0;
    s->nheld = 0;
    sim_finish(s, *fits);
    if (*fits && verbose)
        printf("scenario seed %" PRIu64 ": lsn 2 committed as (%" PRIu64 ",%" PRIu64 ")\n", seed,
               s->glen >= 2 ? s->glog_epoch[1] : 0, (uint64_t)2);
    return !s->failed;
}

static int leader_in(const sim *s, unsigned mask)
{
    for (int i = 0; i < s->n; i++)
        if (((mask >> i) & 1) && s->nodes[i].up && s->nodes[i].e.role == EL_LEADER) return 1;
    return 0;
}

/* Runs timers until a member of MASK is leader (1) or LIMIT_MS passed (0),
 * delivering at once every message between members of MASK (bit id - 1)
 * and dropping all others; what the new leader sent stays held. */
static int script_elect(sim *s, unsigned mask, uint64_t limit_ms)
{
    uint64_t until = s->g + limit_ms * 1000;
    for (;;) {
        while (s->nheld && !s->failed && !leader_in(s, mask)) {
            msg m = s->held[0];
            memmove(s->held, s->held + 1, (size_t)(s->nheld - 1) * sizeof *s->held);
            s->nheld--;
            if (((mask >> (m.from - 1)) & 1) && ((mask >> (m.to - 1)) & 1)) {
                deliver(s, &m);
                check_step(s);
            }
        }
        if (leader_in(s, mask)) return 1;
        if (!sim_step(s, until)) return 0;
    }
}

/* Delivers the leader's newest AppendEntries to follower F and F's answer. */
static int script_beat(sim *s, unsigned l, unsigned f)
{
    if (!script_deliver(s, l, f, M_APPEND, 1)) return 0;
    script_drop(s, l, f, M_APPEND);
    return script_deliver(s, f, l, M_APPEND_RESP, 1);
}

/* A restarted follower stays sticky (elect_init's quiet period).
 *
 * Three members start empty; one wins epoch 1 (L), the others (F, C) take
 * its epoch-start record, so all logs are equal. Then C loses L (both
 * ways). When C's timer fires, F has just ACKed L's newest heartbeat (L's
 * lease counts on it) and crashes and restarts at once. C asks F for a
 * pre-vote: F must refuse, as it may have ACKed a heartbeat just before it
 * crashed; granting it lets C lead epoch 2 during L's lease (6b). */
static int scenario_restart_quiet(uint64_t seed, int verbose, int *fits)
{
    sim *s = &g_sim;
    sim_reset(s, seed, 3, verbose);
    s->scripted = 1;
    s->scenario = 3;
    sim_configure(s, 1, 1);
    for (int i = 0; i < 3; i++) node_boot(s, &s->nodes[i]);
    *fits = 0;
    if (!script_elect(s, 7, 3 * T_MS)) goto out;
    unsigned L = 0;
    for (unsigned i = 1; i <= 3; i++)
        if (s->nodes[i - 1].e.role == EL_LEADER) L = i;
    unsigned F = L % 3 + 1, C = F % 3 + 1;
    node *f = &s->nodes[F - 1], *c = &s->nodes[C - 1];
    if (!script_beat(s, L, F) || !script_beat(s, L, C) || f->len != 1 || c->len != 1) goto out;
    /* C is cut off from L; L and F keep talking until C's timer fires. */
    while (c->e.role != EL_PRECANDIDATE) {
        if (!sim_step(s, s->g + 3 * T_MS * 1000)) goto out;
        script_drop(s, L, C, 0);
        script_drop(s, C, L, 0);
        if (c->e.role != EL_PRECANDIDATE) script_beat(s, L, F);
        script_drop(s, F, 0, M_VOTE_REQ);
        if (s->nodes[L - 1].e.role != EL_LEADER) goto out;
    }
    script_drop(s, C, L, 0);
    for (;;) { /* L's next heartbeat to F, and F's ACK */
        int have = 0;
        for (int i = 0; i < s->nheld; i++)
            if (s->held[i].from == L && s->held[i].to == F && s->held[i].type == M_APPEND) have = 1;
        if (have) break;
        if (!sim_step(s, s->g + 100000)) goto out;
        script_drop(s, L, C, 0);
        script_drop(s, F, 0, M_VOTE_REQ);
    }
    if (!script_beat(s, L, F) || elect_lease_until(&s->nodes[L - 1].e) <= now_ms(s, &s->nodes[L - 1]))
        goto out;
    node_crash(s, f);
    node_restart(s, f);
    *fits = 1;
    if (!script_deliver(s, C, F, M_VOTE_REQ, 0) || !script_deliver(s, F, C, M_VOTE_RESP, 0)) goto out;
    if (c->e.role == EL_CANDIDATE) {
        script_deliver(s, C, F, M_VOTE_REQ, 0);
        script_deliver(s, F, C, M_VOTE_RESP, 0);
    }
out:
    s->scripted = 0;
    s->nheld = 0;
    sim_finish(s, *fits);
    return !s->failed;
}

/* The lease against clock drift and a late ACK (the margin in
 * elect_lease_until, and that it counts from the heartbeat's send time).
 *
 * Three members start empty; the winner L of epoch 1 gets the slowest
 * clock allowed (rate 0.95), F and C the fastest (1.05). L's heartbeats
 * reach both; the ACK of the last one from F is 60 ms late. Then L is cut
 * off. F's and C's stickiness ends T/1.05 after that heartbeat, L's lease
 * (T - margin)/0.95 after it was sent: earlier. The script needs a seed
 * whose timers let F or C win epoch 2 within 15 ms of the end of
 * stickiness, when a lease that ignored the drift or counted from the
 * ACK's arrival would still run (6b). */
static int scenario_lease_drift(uint64_t seed, int verbose, int *fits)
{
    sim *s = &g_sim;
    sim_reset(s, seed, 3, verbose);
    s->scripted = 1;
    s->scenario = 4;
    sim_configure(s, 1, 1);
    for (int i = 0; i < 3; i++) node_boot(s, &s->nodes[i]);
    *fits = 0;
    if (!script_elect(s, 7, 3 * T_MS)) goto out;
    unsigned L = 0;
    for (unsigned i = 1; i <= 3; i++)
        if (s->nodes[i - 1].e.role == EL_LEADER) L = i;
    unsigned F = L % 3 + 1, C = F % 3 + 1;
    node *l = &s->nodes[L - 1];
    set_rate(s, l, 0.95);
    set_rate(s, &s->nodes[F - 1], 1.05);
    set_rate(s, &s->nodes[C - 1], 1.05);
    /* heartbeats for a while, everyone in touch */
    uint64_t stop = s->g + 100000;
    while (s->g < stop) {
        if (!sim_step(s, stop + 50000)) goto out;
        script_beat(s, L, F);
        script_beat(s, L, C);
        script_drop(s, F, 0, M_VOTE_REQ);
        script_drop(s, C, 0, M_VOTE_REQ);
    }
    /* the last heartbeat: C's ACK is on time, F's 60 ms late */
    while (!script_deliver(s, L, F, M_APPEND, 1))
        if (!sim_step(s, s->g + 50000)) goto out;
    if (!script_beat(s, L, C)) goto out;
    uint64_t beat_g = s->g;
    script_drop(s, L, 0, 0);
    uint64_t late = s->g + 60000;
    while (s->g < late) {
        if (!sim_step(s, late)) break;
        script_drop(s, L, 0, 0);
        script_drop(s, 0, L, M_VOTE_REQ);
        script_drop(s, F, 0, M_VOTE_REQ);
        script_drop(s, C, 0, M_VOTE_REQ);
    }
    if (!script_deliver(s, F, L, M_APPEND_RESP, 1) || l->e.role != EL_LEADER) goto out;
    script_drop(s, 0, L, 0);
    script_drop(s, L, 0, 0);
    /* L is cut off now; F and C elect one of them */
    if (!script_elect(s, (1u << (F - 1)) | (1u << (C - 1)), 3 * T_MS)) goto out;
    double sticky_end = (double)beat_g + T_MS * 1000.0 / 1.05;
    if (!s->failed && (double)s->g - sticky_end > 15000.0) goto out; /* too late to tell */
    *fits = 1;
out:
    s->scripted = 0;
    s->nheld = 0;
    sim_finish(s, *fits);
    return !s->failed;
}

typedef int (*scenario_fn)(uint64_t seed, int verbose, int *fits);
static const struct {
    const char *name;
    scenario_fn fn;
} scenarios[] = {
    {"a follower whose epoch rose without a leader stays sticky", scenario_sticky_epoch},
    {"Figure 8: a leader commits only through a record of its own epoch", scenario_figure8},
    {"a follower that restarted at once stays sticky", scenario_restart_quiet},
    {"the lease ends before stickiness does, with clocks 10% apart and a late ACK",
     scenario_lease_drift},
};
#define NSCENARIOS ((int)(sizeof scenarios / sizeof scenarios[0]))

static void print_stats(const char *what)
{
    const stats *t = &g_total;
    printf("   %s: %" PRIu64 " runs, %" PRIu64 " events, %" PRIu64 " leaders (max epoch %" PRIu64
           "), %" PRIu64 " commit advances, %" PRIu64 " writes (%" PRIu64 " acknowledged), %" PRIu64
           " crashes (%" PRIu64 " lost unsynced records), %" PRIu64 " truncations, %" PRIu64
           " partitions, %" PRIu64 " transfers, %" PRIu64 " forced step downs, %" PRIu64
           " lease-valid checks, %" PRIu64 " STALE replies, %" PRIu64 " commits below term_start, %" PRIu64 " pre-vote rounds lost\n",
           what, t->runs, t->events, t->leaders, t->max_term, t->commits, t->writes, t->acked,
           t->crashes, t->lost_unsynced, t->truncations, t->partitions, t->transfers, t->forced,
           t->lease_checks, t->stale_replies, t->below_start, t->prevotes_lost);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static int run_many(int n, uint64_t first, uint64_t count)
{
    int failures = 0;
    memset(&g_total, 0, sizeof g_total);
    for (uint64_t sd = first; sd < first + count; sd++) {
        int ok = run_one(sd, n, 0, failures < 3);
        if (!ok) {
            char d[640];
            snprintf(d, sizeof d, "seed %" PRIu64 " with %d members: %s", sd, n, g_sim.why);
            test_cond(d, 0);
            failures++;
        }
    }
    char d[96];
    snprintf(d, sizeof d, "%" PRIu64 " seeds with %d members", count, n);
    test_cond(d, failures == 0);
    char what[32];
    snprintf(what, sizeof what, "%d members", n);
    print_stats(what);
    /* the runs must have exercised what they claim to */
    test_cond("elections happened", g_total.leaders > count);
    test_cond("records were committed", g_total.commits > count);
    test_cond("leases were held", g_total.lease_checks > 0);
    test_cond("crashes lost unsynced records", count < 50 || g_total.lost_unsynced > 0);
    test_cond("divergent tails were truncated", count < 50 || g_total.truncations > 0);
    test_cond("leadership was transferred", count < 50 || g_total.transfers > 0);
    test_cond("pre-vote rounds were lost (refusals are counted)", count < 50 || g_total.prevotes_lost > 0);
    return failures;
}

int main(int argc, char **argv)
{
    uint64_t seeds = env_u64("ELECT_SIM_SEEDS", 2000), first = env_u64("ELECT_SIM_FIRST", 1);
    uint64_t one = env_u64("ELECT_SIM_SEED", 0), nodes = env_u64("ELECT_SIM_NODES", 3);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) one = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--nodes") && i + 1 < argc) nodes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc) first = strtoull(argv[++i], NULL, 10);
    }
    /* Under valgrind (make valgrind) a full run would take many minutes. */
    const char *pre = getenv("LD_PRELOAD");
    if (!getenv("ELECT_SIM_SEEDS") && pre && strstr(pre, "vgpreload")) seeds = 100;
    if (nodes < 1 || nodes > MAXN) nodes = 3;
    const char *sc = getenv("ELECT_SIM_SCENARIO");
    if (sc && *sc) { /* K:SEED, or SEED for the first */
        char *end;
        unsigned long long k = strtoull(sc, &end, 10), sd = k;
        if (*end == ':') sd = strtoull(end + 1, NULL, 10);
        else k = 1;
        if (k < 1 || (int)k > NSCENARIOS) k = 1;
        test_section(scenarios[k - 1].name);
        int fits = 0;
        int ok = scenarios[k - 1].fn(sd, 1, &fits);
        test_cond("the scripted history fits this core seed", fits);
        test_cond("the scripted history keeps every invariant", ok);
        return test_report();
    }
    if (one) {
        test_section("replay one seed");
        int ok = run_one(one, (int)nodes, 1, 1);
        char d[96];
        snprintf(d, sizeof d, "seed %" PRIu64 " with %d members keeps every invariant", one, (int)nodes);
        test_cond(d, ok);
        return test_report();
    }
    for (int k = 0; k < NSCENARIOS; k++) {
        char d[640];
        snprintf(d, sizeof d, "scripted: %s", scenarios[k].name);
        test_section(d);
        int fits = 0, ok = 1;
        uint64_t sd = 1;
        for (; sd <= 5000 && !fits; sd++) ok = scenarios[k].fn(sd, 0, &fits);
        test_cond("some core seed lets the timers fall as the script needs", fits);
        if (fits) printf("   replays as ELECT_SIM_SCENARIO=%d:%" PRIu64 "\n", k + 1, sd - 1);
        snprintf(d, sizeof d, "the scripted history (ELECT_SIM_SCENARIO=%d:%" PRIu64
                 ") keeps every invariant: %s", k + 1, sd - 1, ok ? "yes" : g_sim.why);
        test_cond(d, ok);
    }
    test_section("3 members");
    run_many(3, first, seeds);
    test_section("5 members");
    run_many(5, first, seeds / 2);
    free(g_sim.heap);
    free(g_sim.pool);
    free(g_sim.freel);
    return test_report();
}
