/* repl_elect.c -- Raft's election rules as a pure state machine (see
 * repl_elect.h for the interface and the rules, docs/PROTOCOL.md for why
 * they are safe). Nothing here does I/O, reads a clock or allocates. */
#include "repl/repl_elect.h"
#include "repl/repl_quorum.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

const char *elect_reason_str(int reason)
{
    switch (reason) {
    case ER_TIMEOUT: return "timeout";
    case ER_TRANSFER: return "transfer";
    case ER_STEP_DOWN: return "step-down";
    case ER_HIGHER_TERM: return "higher-epoch";
    case ER_FORCED: return "forced";
    default: return "none";
    }
}

const char *elect_role_str(int role)
{
    switch (role) {
    case EL_PRECANDIDATE: return "precandidate";
    case EL_CANDIDATE: return "candidate";
    case EL_LEADER: return "leader";
    default: return "follower";
    }
}

void elect_config_default(elect_config *c, unsigned self, const unsigned *ids, int n)
{
    memset(c, 0, sizeof *c);
    c->self = self;
    assert(n >= 1 && n <= ELECT_MEMBERS_MAX);
    for (int i = 0; i < n; i++) c->ids[i] = ids[i];
    c->n = n;
    c->timeout_ms = 1000;
    c->prevote = 1;
    c->check_quorum = 1;
    c->seed = 0x9e3779b97f4a7c15ull ^ self;
}

static uint64_t rng_next(elect *e)
{
    uint64_t x = e->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    e->rng = x;
    return x;
}

/* T..2T: spread so that one candidate usually asks before the others. */
static uint64_t random_timeout(elect *e)
{
    uint64_t t = e->cfg.timeout_ms ? e->cfg.timeout_ms : 1;
    return t + rng_next(e) % t;
}

static int idx_of(const elect *e, unsigned id)
{
    for (int i = 0; i < e->cfg.n; i++)
        if (e->cfg.ids[i] == id) return i;
    return -1;
}

static int popcount32(uint32_t v)
{
    int c = 0;
    for (; v; v &= v - 1) c++;
    return c;
}

int elect_majority(const elect *e)
{
    return e->cfg.n / 2 + 1;
}

int elect_pos_ge(elect_pos a, elect_pos b)
{
    return a.epoch > b.epoch || (a.epoch == b.epoch && a.lsn >= b.lsn);
}

void elect_init(elect *e, const elect_config *cfg, uint64_t term, unsigned voted_for,
                uint64_t now)
{
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->rng = cfg->seed ? cfg->seed : 0x2545f4914f6cdd1dull;
    e->role = EL_FOLLOWER;
    e->term = term;
    e->voted_for = voted_for;
    e->quiet_until_ms = now + e->cfg.timeout_ms;
    e->deadline_ms = now + random_timeout(e);
}

static void become_follower(elect *e, uint64_t now, uint64_t term, unsigned leader, int reason,
                            elect_out *out)
{
    if (term > e->term) {
        e->term = term;
        e->voted_for = 0;
        out->persist = 1;
        out->new_term = 1;
    }
    if (e->role == EL_LEADER) {
        out->stepped_down = 1;
        e->step_downs++;
        e->last_reason = reason;
    }
    e->role = EL_FOLLOWER;
    e->leader = leader;
    e->granted = e->refused = 0;
    e->deadline_ms = now + random_timeout(e);
}

static void become_leader(elect *e, uint64_t now, elect_out *out)
{
    assert(e->role == EL_CANDIDATE && e->voted_for == e->cfg.self);
    e->role = EL_LEADER;
    e->leader = e->cfg.self;
    e->leader_since_ms = now;
    for (int i = 0; i < e->cfg.n; i++) {
        e->heard_ms[i] = now; /* a grace of one timeout for CheckQuorum */
        e->beat_ack_ms[i] = 0;
    }
    e->elections_won++;
    out->became_leader = 1;
}

/* Starts a round: a prevote (the epoch stays) or a real election. */
static void start_round(elect *e, uint64_t now, elect_pos mine, int prevote, int transfer,
                        elect_out *out)
{
    int self = idx_of(e, e->cfg.self);
    assert(self >= 0);
    e->leader = 0;
    e->quiet_until_ms = 0;
    e->round_transfer = transfer;
    if (prevote) {
        e->role = EL_PRECANDIDATE;
        e->round_term = e->term + 1;
    } else {
        e->role = EL_CANDIDATE;
        e->term++;
        e->voted_for = e->cfg.self;
        e->round_term = e->term;
        e->elections++;
        out->persist = 1;
        out->new_term = 1;
    }
    e->last_election_ms = now;
    e->last_reason = transfer ? ER_TRANSFER : ER_TIMEOUT;
    e->granted = 1u << self;
    e->refused = 0;
    e->deadline_ms = now + random_timeout(e);
    if (popcount32(e->granted) >= elect_majority(e)) { /* a cluster of one */
        if (prevote) {
            start_round(e, now, mine, 0, transfer, out);
            return;
        }
        become_leader(e, now, out);
        return;
    }
    out->send_votes = 1;
    out->vote.term = e->round_term;
    out->vote.candidate = e->cfg.self;
    out->vote.last = mine;
    out->vote.prevote = prevote;
    out->vote.transfer = transfer;
}

void elect_tick(elect *e, uint64_t now, elect_pos mine, elect_out *out)
{
    if (e->role == EL_LEADER) {
        if (!e->cfg.check_quorum || now - e->leader_since_ms < e->cfg.timeout_ms) return;
        int heard = 0;
        for (int i = 0; i < e->cfg.n; i++)
            if (e->cfg.ids[i] == e->cfg.self || now - e->heard_ms[i] < e->cfg.timeout_ms) heard++;
        if (heard < elect_majority(e)) become_follower(e, now, e->term, 0, ER_STEP_DOWN, out);
        return;
    }
    if (now < e->deadline_ms) return;
    if (e->no_campaign || idx_of(e, e->cfg.self) < 0) {
        e->deadline_ms = now + random_timeout(e);
        return;
    }
    start_round(e, now, mine, e->cfg.prevote, 0, out);
}

static int in_lease(const elect *e, uint64_t now)
{
    return e->role == EL_LEADER || now < e->quiet_until_ms;
}

void elect_on_vote_req(elect *e, uint64_t now, const elect_vote_req *req, elect_pos mine,
                       elect_out *out)
{
    out->reply = 1;
    out->resp.voter = e->cfg.self;
    out->resp.prevote = req->prevote;
    out->resp.granted = 0;
    out->resp.term = e->term;
    if (idx_of(e, req->candidate) < 0 || req->candidate == e->cfg.self) return;
    /* Sticky, whatever epoch the request is for: our epoch can rise without
     * a new leader (a late refusal of our own earlier pre-vote carries the
     * refuser's epoch), and a request for that same epoch must not get a
     * vote while the leader we acknowledged counts on us for its lease. */
    if (!req->transfer && in_lease(e, now)) return;
    if (req->term < e->term) return;
    int up_to_date = elect_pos_ge(req->last, mine) && !e->no_campaign;
    if (req->prevote) {
        /* Would we vote in req->term? Nothing changes here. */
        if (req->term > e->term && up_to_date) {
            out->resp.granted = 1;
            out->resp.term = req->term;
        }
        return;
    }
    if (req->term > e->term) become_follower(e, now, req->term, 0, ER_HIGHER_TERM, out);
    out->resp.term = e->term;
    if ((e->voted_for == 0 || e->voted_for == req->candidate) && up_to_date) {
        if (e->voted_for != req->candidate) out->persist = 1;
        e->voted_for = req->candidate;
        e->votes_granted++;
        e->deadline_ms = now + random_timeout(e);
        out->resp.granted = 1;
    }
}

void elect_on_vote_resp(elect *e, uint64_t now, const elect_vote_resp *resp, elect_pos mine,
                        elect_out *out)
{
    if (resp->term > e->term && !(resp->prevote && resp->granted)) {
        become_follower(e, now, resp->term, 0, ER_HIGHER_TERM, out);
        return;
    }
    int i = idx_of(e, resp->voter);
    if (i < 0 || resp->voter == e->cfg.self) return;
    uint32_t bit = 1u << i;
    int mine_round = (e->role == EL_PRECANDIDATE && resp->prevote) ||
                     (e->role == EL_CANDIDATE && !resp->prevote);
    /* A grant names the epoch we asked for; a refusal names the voter's own
     * (ours or lower: a higher one was handled above), which for a pre-vote
     * is never round_term, so matching refusals on it never counted one. */
    if (!mine_round || (resp->granted && resp->term != e->round_term)) return;
    if (resp->granted) {
        e->granted |= bit;
        e->refused &= ~bit;
    } else {
        e->refused |= bit;
        e->granted &= ~bit;
    }
    if (popcount32(e->granted) >= elect_majority(e)) {
        if (e->role == EL_PRECANDIDATE)
            start_round(e, now, mine, 0, e->round_transfer, out);
        else
            become_leader(e, now, out);
    } else if (popcount32(e->refused) >= elect_majority(e)) {
        if (e->role == EL_PRECANDIDATE) e->prevotes_lost++;
        become_follower(e, now, e->term, 0, ER_NONE, out);
    }
}

int elect_on_leader(elect *e, uint64_t now, uint64_t term, unsigned leader, elect_out *out)
{
    if (term < e->term || leader == e->cfg.self || idx_of(e, leader) < 0) return -1;
    if (term == e->term && e->role == EL_LEADER) return -1; /* one leader per epoch */
    if (term > e->term || e->role != EL_FOLLOWER || e->leader != leader)
        become_follower(e, now, term, leader, ER_HIGHER_TERM, out);
    e->leader_seen_ms = now;
    e->quiet_until_ms = now + e->cfg.timeout_ms;
    e->deadline_ms = now + random_timeout(e);
    return 0;
}

void elect_observe_term(elect *e, uint64_t now, uint64_t term, elect_out *out)
{
    if (term > e->term) become_follower(e, now, term, 0, ER_HIGHER_TERM, out);
}

void elect_on_ack(elect *e, uint64_t now, unsigned id, uint64_t beat_ms)
{
    int i = idx_of(e, id);
    if (e->role != EL_LEADER || i < 0) return;
    e->heard_ms[i] = now;
    if (beat_ms >= e->leader_since_ms && beat_ms > e->beat_ack_ms[i]) e->beat_ack_ms[i] = beat_ms;
}

void elect_on_link_lost(elect *e, unsigned id)
{
    int i = idx_of(e, id);
    if (i >= 0) e->beat_ack_ms[i] = 0;
}

uint64_t elect_lease_until(const elect *e)
{
    if (e->role != EL_LEADER) return 0;
    uint64_t t[ELECT_MEMBERS_MAX] = {0};
    int n = 0;
    for (int i = 0; i < e->cfg.n; i++)
        t[n++] = e->cfg.ids[i] == e->cfg.self ? UINT64_MAX : e->beat_ack_ms[i];
    /* The majority-th newest: insertion sort, newest first (n <= 9). */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j] > t[j - 1]; j--) {
            uint64_t x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    uint64_t from = t[elect_majority(e) - 1];
    if (from == 0 || from == UINT64_MAX) return from == UINT64_MAX ? UINT64_MAX : 0;
    uint64_t T = e->cfg.timeout_ms, margin = T / 10 + 1; /* clocks may run 10% apart */
    return from + T - margin;
}

void elect_step_down(elect *e, uint64_t now, int reason, elect_out *out)
{
    if (e->role == EL_LEADER) become_follower(e, now, e->term, 0, reason, out);
}

void elect_campaign_now(elect *e, uint64_t now, elect_pos mine, elect_out *out)
{
    if (e->role == EL_LEADER || e->no_campaign || idx_of(e, e->cfg.self) < 0) return;
    start_round(e, now, mine, 0, 1, out);
}

void elect_set_no_campaign(elect *e, int on)
{
    e->no_campaign = on;
}

uint64_t elect_commit(const uint64_t *durable, int n, int need, uint64_t term_start)
{
    assert(n >= 1 && n <= ELECT_MEMBERS_MAX && need >= 1 && need <= n);
    uint64_t c = repl_quorum_lsn(durable, n, need); /* the need-th highest */
    return c >= term_start ? c : 0;
}
