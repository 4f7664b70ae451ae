/* node_elect.c -- the node's side of elections: it drives the pure state
 * machine in repl/repl_elect.c and does what its output says.
 *
 * Every event (a tick of the node's cron, a vote request or answer, a frame
 * from a leader, an ACK) goes to the state machine with the time; its
 * output is acted on in one order, in node_elect_apply: persist (epoch,
 * voted_for) with fsync; then step down (stop repl_leader, fail the writes
 * in flight with an outcome-unknown error); then send vote requests; then,
 * on winning, start repl_leader and write the epoch-start record. The vote
 * is an fsync in the loop: elections are rare and a vote must be on disk
 * before it is sent (a thread would only add a hand-off to wait for).
 *
 * Stepping down because a follower answered STALE happens in
 * node_elect_settle (before the loop sleeps), not inside the leader's link
 * callback that read it: stepping down frees the leader's links. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "repl/repl.h"
#include "repl/repl_proto.h"
#include "server/client.h"
#include "server/node.h"
#include "server/node_view.h"
#include "server/sentinel.h"

static elect_pos node_pos(const node *n)
{
    elect_pos p = {n->last_rec_epoch, n->last_lsn};
    return p;
}

static void node_note_leader(node *n, unsigned id, const char *why)
{
    if (id == n->known_leader) return;
    n->known_leader = id;
    if (!id) return;
    n->leader_changes++;
    n->last_leader_change_ms = ev_now_ms();
    snprintf(n->last_change_why, sizeof n->last_change_why, "%s", why);
}

static void node_demote(node *n, const char *why)
{
    if (!n->leader) return;
    log_warn(&n->log, "stepping down as leader of epoch %llu: %s", (unsigned long long)n->epoch,
             why);
    repl_leader_free(n->leader);
    n->leader = NULL;
    n->epoch_start_lsn = 0;
    n->transfer_to = 0;
    n->transfer_sent = 0;
    char msg[200];
    snprintf(msg, sizeof msg,
             "UNCERTAIN this node stopped leading (%s) before the write committed: its "
             "outcome is unknown",
             why);
    node_fail_tickets(n, msg);
    ks_forget_proposed(n);
    n->known_leader = 0;
    /* As Redis on a role change: clients re-resolve the leader (Sentinel
     * subscribers stay, to hear +switch-master). */
    clients_drop_all(n, "this node stopped leading");
}

static void node_become_leader(node *n)
{
    char err[256];
    cfg_peer peers[CFG_MEMBERS_MAX];
    int k = 0;
    assert(!n->leader); /* one leader per epoch, and a leader demotes before a new epoch */
    for (int i = 0; i < n->cfg.nmembers; i++)
        if (n->cfg.members[i].id != n->cfg.node_id) peers[k++] = n->cfg.members[i].addr;
    if (n->follower) repl_follower_drop_leader(n->follower, "this node leads now");
    elect_out out = {0};
    n->leader = repl_leader_new(n, peers, k, err, sizeof err);
    n->lead_since_ms = ev_now_ms();
    if (!n->leader) {
        log_error(&n->log, "won epoch %llu but cannot lead: %s", (unsigned long long)n->epoch, err);
        elect_step_down(&n->el, ev_now_ms(), ER_FORCED, &out);
        return;
    }
    /* Records of earlier epochs still pending will commit before ours:
     * commands must see them (keyspace.h). */
    if (ks_rebuild_proposed(n) < 0) {
        log_error(&n->log, "won epoch %llu but cannot track its pending records (out of memory)",
                  (unsigned long long)n->epoch);
        elect_step_down(&n->el, ev_now_ms(), ER_FORCED, &out);
        node_demote(n, "out of memory");
        return;
    }
    /* Raft 5.4.2: earlier epochs' records commit only with one of ours. */
    uint64_t lsn = node_propose(n, WAL_OP_NOOP, NULL, 0, NULL, 0);
    if (lsn == 0) {
        log_error(&n->log, "won epoch %llu but cannot write its first record; stepping down",
                  (unsigned long long)n->epoch);
        elect_step_down(&n->el, ev_now_ms(), ER_FORCED, &out);
        node_demote(n, "cannot write the epoch-start record");
        return;
    }
    n->epoch_start_lsn = lsn;
    node_note_leader(n, n->cfg.node_id, elect_reason_str(n->el.last_reason));
    log_warn(&n->log, "elected leader of epoch %llu (%s); epoch-start record lsn %llu",
             (unsigned long long)n->epoch, elect_reason_str(n->el.last_reason),
             (unsigned long long)lsn);
}

/* Acts on OUT. -1 if the vote state could not be persisted: nothing may be
 * sent then (the caller drops its answer; the state machine's view that it
 * voted is harmless, an unsent vote elects nobody). */
static int node_elect_apply(node *n, elect_out *out)
{
    if (out->persist) {
        char err[CFG_PATH_MAX + 64];
        if (node_vote_store(n->cfg.data_dir, n->el.term, n->el.voted_for, err, sizeof err) < 0) {
            log_error_limited(&n->log, &n->limits[NL_DISK],
                              "cannot persist epoch %llu / vote: %s; not answering",
                              (unsigned long long)n->el.term, err);
            out->send_votes = out->became_leader = 0;
            /* Back to what the disk says: a vote the state machine thinks it
             * gave but that is not on disk must not be given again later
             * without a write (it would not survive a crash). */
            int was_leader = n->el.role == EL_LEADER;
            n->el.term = n->vote_epoch;
            n->el.voted_for = n->vote_for;
            n->el.role = EL_FOLLOWER;
            n->el.leader = 0;
            if (out->stepped_down || was_leader) node_demote(n, "cannot persist the epoch");
            return -1;
        }
        n->vote_epoch = n->el.term;
        n->vote_for = n->el.voted_for;
    }
    if (n->el.term > n->epoch) n->epoch = n->el.term;
    if (out->stepped_down) node_demote(n, elect_reason_str(n->el.last_reason));
    if (out->send_votes) {
        repl_vote v;
        memset(&v, 0, sizeof v);
        snprintf(v.cluster_id, sizeof v.cluster_id, "%s", n->cfg.cluster_id);
        v.term = out->vote.term;
        v.candidate = out->vote.candidate;
        v.last_epoch = out->vote.last.epoch;
        v.last_lsn = out->vote.last.lsn;
        v.members_crc = n->cfg.members_crc;
        v.flags = (uint8_t)((out->vote.prevote ? REPL_VOTE_PRE : 0) |
                            (out->vote.transfer ? REPL_VOTE_TRANSFER : 0));
        log_info(&n->log, "%s for epoch %llu (%s; log at epoch %llu lsn %llu)",
                 out->vote.prevote ? "asking for prevotes" : "campaigning",
                 (unsigned long long)v.term, elect_reason_str(n->el.last_reason),
                 (unsigned long long)v.last_epoch, (unsigned long long)v.last_lsn);
        repl_voter_send(n->voter, &v);
    }
    if (out->became_leader) node_become_leader(n);
    return 0;
}

int node_elect_init(node *n, char *err, size_t errlen)
{
    uint64_t term;
    unsigned voted;
    if (node_vote_load(n->cfg.data_dir, &term, &voted) < 0) {
        snprintf(err, errlen, "unreadable epoch file in %s", n->cfg.data_dir);
        return -1;
    }
    if (term < n->epoch) { /* the log has a later epoch (an old data dir): no vote in it */
        term = n->epoch;
        voted = 0;
    }
    unsigned ids[ELECT_MEMBERS_MAX];
    for (int i = 0; i < n->cfg.nmembers; i++) ids[i] = n->cfg.members[i].id;
    elect_config ec;
    elect_config_default(&ec, n->cfg.node_id, ids, n->cfg.nmembers);
    ec.timeout_ms = (uint64_t)n->cfg.election_timeout_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ec.seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
              n->cfg.node_id;
    elect_init(&n->el, &ec, term, voted, ev_now_ms());
    n->vote_epoch = term;
    n->vote_for = voted;
    n->epoch = term;
    n->voter = repl_voter_new(n, err, errlen);
    if (!n->voter) return -1;
    log_info(&n->log, "elections: %d members, epoch %llu, voted for %u, election timeout %d ms",
             n->cfg.nmembers, (unsigned long long)term, voted, n->cfg.election_timeout_ms);
    return 0;
}

void node_elect_free(node *n)
{
    repl_voter_free(n->voter);
    n->voter = NULL;
}

void node_elect_cron(node *n, uint64_t now)
{
    /* A log that lacks committed records (below the commit hint) must not
     * lead or decide who does. */
    elect_set_no_campaign(&n->el, n->last_lsn < n->commit_hint || n->wal_failed);
    elect_out out = {0};
    if (n->wal_failed && node_is_leader(n)) {
        /* A leader that cannot make records durable commits nothing: hand
         * the cluster to a node whose disk works (it cannot win again until
         * its own works: no_campaign). */
        elect_step_down(&n->el, now, ER_FORCED, &out);
    } else if (n->follower && repl_follower_installing(n->follower)) {
        /* Loading a snapshot, this node reads no replication frames: the
         * leader is alive (it sent the snapshot), so do not campaign. */
        elect_on_leader(&n->el, now, n->el.term, n->el.leader, &out);
    }
    elect_tick(&n->el, now, node_pos(n), &out);
    node_elect_apply(n, &out);
    repl_voter_cron(n->voter, now);
    if (n->transfer_to && n->leader) {
        if (now >= n->transfer_deadline_ms) {
            log_warn(&n->log, "FAILOVER to node %u timed out; still leading", n->transfer_to);
            n->transfer_to = 0;
            n->transfer_sent = 0;
        } else if (!n->transfer_sent &&
                   repl_leader_transfer(n->leader, n->transfer_to, n->last_lsn)) {
            /* The target campaigns with TRANSFER set, which voters grant
             * despite stickiness: our lease no longer protects reads. Step
             * down before TIMEOUT_NOW leaves (repl_elect.h; the simulator's
             * lease invariant fails otherwise). Freeing the links pushes
             * the queued TIMEOUT_NOW out first. */
            log_info(&n->log, "FAILOVER: node %u has every record (lsn %llu); told it to campaign",
                     n->transfer_to, (unsigned long long)n->last_lsn);
            n->transfer_sent = 1;
            elect_out o = {0};
            elect_step_down(&n->el, now, ER_TRANSFER, &o);
            node_elect_apply(n, &o);
        }
    }
}

/* Tells Sentinel subscribers about a new leader once its client address is
 * known (for a follower, from the leader's HELLO, which is handled after
 * the election state learned of it). */
static void node_publish_leader(node *n)
{
    if (n->known_leader == 0 || n->known_leader == n->published_leader) return;
    node_view v;
    node_get_view(n, &v);
    const node_member *m = node_view_leader(&v);
    if (!m || m->id != n->known_leader || m->port == 0) return;
    sentinel_leader_changed(n, n->published_host[0] ? n->published_host : NULL,
                            n->published_port, m->host, m->port);
    n->published_leader = m->id;
    snprintf(n->published_host, sizeof n->published_host, "%s", m->host);
    n->published_port = m->port;
}

void node_elect_settle(node *n)
{
    node_publish_leader(n);
    if (!n->leader) return;
    uint64_t stale = repl_leader_stale_epoch(n->leader);
    if (stale <= n->el.term) return;
    elect_out out = {0};
    elect_observe_term(&n->el, ev_now_ms(), stale, &out);
    node_elect_apply(n, &out);
}

int node_elect_on_leader(node *n, uint64_t epoch, unsigned leader)
{
    elect_out out = {0};
    int rc = elect_on_leader(&n->el, ev_now_ms(), epoch, leader, &out);
    if (node_elect_apply(n, &out) < 0) return -1;
    if (rc == 0) node_note_leader(n, leader, "heard from it");
    return rc;
}

int node_elect_on_vote_req(node *n, const repl_vote *req, repl_vote_resp *resp)
{
    elect_vote_req r = {req->term, req->candidate, {req->last_epoch, req->last_lsn},
                        (req->flags & REPL_VOTE_PRE) != 0, (req->flags & REPL_VOTE_TRANSFER) != 0};
    elect_out out = {0};
    elect_on_vote_req(&n->el, ev_now_ms(), &r, node_pos(n), &out);
    if (node_elect_apply(n, &out) < 0) return -1;
    resp->term = out.resp.term;
    resp->voter = out.resp.voter;
    resp->flags = (uint8_t)((out.resp.granted ? REPL_VOTE_GRANTED : 0) |
                            (out.resp.prevote ? REPL_VOTE_PRE : 0));
    log_info(&n->log, "%s %s node %u for epoch %llu (its log epoch %llu lsn %llu, ours %llu/%llu)",
             out.resp.granted ? "granted" : "refused", r.prevote ? "a prevote to" : "a vote to",
             r.candidate, (unsigned long long)r.term, (unsigned long long)r.last.epoch,
             (unsigned long long)r.last.lsn, (unsigned long long)n->last_rec_epoch,
             (unsigned long long)n->last_lsn);
    return 0;
}

void node_elect_on_vote_resp(node *n, const repl_vote_resp *resp)
{
    elect_vote_resp r = {resp->term, resp->voter, (resp->flags & REPL_VOTE_GRANTED) != 0,
                         (resp->flags & REPL_VOTE_PRE) != 0};
    elect_out out = {0};
    elect_on_vote_resp(&n->el, ev_now_ms(), &r, node_pos(n), &out);
    node_elect_apply(n, &out);
}

void node_elect_timeout_now(node *n, uint64_t epoch)
{
    elect_out out = {0};
    if (epoch != n->el.term || n->el.role != EL_FOLLOWER) return; /* an older epoch's */
    log_info(&n->log, "the leader hands over (FAILOVER): campaigning now");
    elect_campaign_now(&n->el, ev_now_ms(), node_pos(n), &out);
    node_elect_apply(n, &out);
}

void node_elect_on_ack(node *n, unsigned id, uint64_t beat_ms)
{
    if (n->cfg.elected) elect_on_ack(&n->el, ev_now_ms(), id, beat_ms);
}

void node_elect_on_link_lost(node *n, unsigned id)
{
    if (n->cfg.elected) elect_on_link_lost(&n->el, id);
}

unsigned node_elect_leader_id(const node *n)
{
    return n->cfg.elected ? n->el.leader : 0;
}

int node_failover(node *n, unsigned to, uint64_t timeout_ms, int abort_it, char *err,
                  size_t errlen)
{
    if (!n->cfg.elected) {
        snprintf(err, errlen, "ERR FAILOVER needs an elected cluster (--peers)");
        return -1;
    }
    if (abort_it) {
        if (!n->transfer_to) {
            snprintf(err, errlen, "ERR No failover in progress.");
            return -1;
        }
        n->transfer_to = 0;
        n->transfer_sent = 0;
        return 0;
    }
    if (!node_is_leader(n)) {
        snprintf(err, errlen, "ERR FAILOVER is not valid when server is a replica.");
        return -1;
    }
    if (n->transfer_to) {
        snprintf(err, errlen, "ERR FAILOVER already in progress.");
        return -1;
    }
    if (to == 0) { /* the most caught-up follower */
        repl_peer_info p[ELECT_MEMBERS_MAX];
        int k = repl_leader_peers(n->leader, p, ELECT_MEMBERS_MAX);
        uint64_t best = 0;
        for (int i = 0; i < k; i++)
            if (p[i].id && p[i].online && (to == 0 || p[i].acked > best)) {
                to = p[i].id;
                best = p[i].acked;
            }
        if (to == 0) {
            snprintf(err, errlen, "ERR FAILOVER requires connected replicas.");
            return -1;
        }
    } else {
        int member = 0;
        for (int i = 0; i < n->cfg.nmembers; i++)
            if (n->cfg.members[i].id == to && to != n->cfg.node_id) member = 1;
        if (!member) {
            snprintf(err, errlen, "ERR FAILOVER target HOST and PORT is not a replica.");
            return -1;
        }
    }
    n->transfer_to = to;
    n->transfer_sent = 0;
    n->transfer_deadline_ms = ev_now_ms() + (timeout_ms ? timeout_ms : 10000);
    log_info(&n->log, "FAILOVER to node %u: writes paused until it has every record", to);
    return 0;
}

void node_elect_info(node *n, info_buf *b)
{
    if (!n->cfg.elected) return;
    uint64_t now = ev_now_ms(), lease = elect_lease_until(&n->el);
    info_printf(b,
                "elected:1\r\nelection_role:%s\r\nelection_epoch:%llu\r\nvoted_for:%u\r\n"
                "leader_id:%u\r\nelection_timeout_ms:%d\r\nelections_started:%llu\r\n"
                "elections_won:%llu\r\nprevotes_lost:%llu\r\nvotes_granted:%llu\r\n"
                "step_downs:%llu\r\nlast_election_reason:%s\r\nlast_election_ms_ago:%lld\r\n"
                "leader_changes:%llu\r\nlast_leader_change_ms_ago:%lld\r\n"
                "last_leader_change_reason:%s\r\nlease_remaining_ms:%llu\r\n"
                "epoch_start_lsn:%llu\r\nfailover_to:%u\r\n",
                elect_role_str(n->el.role), (unsigned long long)n->el.term, n->el.voted_for,
                n->el.leader, n->cfg.election_timeout_ms, (unsigned long long)n->el.elections,
                (unsigned long long)n->el.elections_won, (unsigned long long)n->el.prevotes_lost,
                (unsigned long long)n->el.votes_granted, (unsigned long long)n->el.step_downs,
                elect_reason_str(n->el.last_reason),
                n->el.last_election_ms ? (long long)(now - n->el.last_election_ms) : -1LL,
                (unsigned long long)n->leader_changes,
                n->last_leader_change_ms ? (long long)(now - n->last_leader_change_ms) : -1LL,
                n->last_change_why[0] ? n->last_change_why : "none",
                (unsigned long long)(lease > now ? (lease == UINT64_MAX ? 0 : lease - now) : 0),
                (unsigned long long)n->epoch_start_lsn, n->transfer_to);
}
