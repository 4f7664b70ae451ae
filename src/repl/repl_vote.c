/* repl_vote.c -- the candidate's side of an election: one short connection
 * per member per round.
 *
 * A round (a prevote or a vote, repl_elect.h) dials every other member's
 * replication port, sends one VOTE frame and reads one VOTE_RESP; the
 * answer goes to the node (node_elect_on_vote_resp), and the connection is
 * closed. A new round closes whatever the previous one left open, so a
 * member that never answers costs one socket for at most one round. Vote
 * connections are separate from the leader's replication links on purpose:
 * a candidate has no link of its own, and a vote must not wait behind a
 * snapshot transfer. The member's side is in repl_recv.c (a connection
 * whose first frame is VOTE instead of HELLO). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/iobuf.h"
#include "net/tls.h"
#include "repl/repl.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"
#include "server/node.h"

#define VOTE_IN_MAX (REPL_FRAME_HDR + REPL_CTRL_MAX) /* one VOTE_RESP, no more */

typedef struct vconn {
    repl_voter *v;
    int fd;
    struct tls_conn *tls; /* --tls-replication: its TLS state, else NULL */
    int connecting;
    cfg_peer peer;
    unsigned id;
    iobuf in, out;
    /* Cluster secret (repl_auth.h): VOTE waits until the member proved it. */
    int auth_wait;
    uint8_t nonce[RKV_NONCE_LEN];
    uint8_t vote[REPL_CTRL_MAX];
    size_t vote_len;
} vconn;

struct repl_voter {
    node *n;
    vconn c[ELECT_MEMBERS_MAX];
    int nc;
    uint64_t round_ms;
    uint64_t sent, answers;
};

static void vconn_close(vconn *c)
{
    if (c->fd >= 0) {
        ev_set(c->v->n->loop, c->fd, 0, NULL, NULL);
        sock_close(&c->tls, c->fd);
        c->fd = -1;
    }
    iobuf_free(&c->in);
    iobuf_free(&c->out);
    c->connecting = 0;
    c->auth_wait = 0;
}

/* The member's CHALLENGE: 0 and PROOF + VOTE queued, or -1 (not a member). */
static int vconn_on_challenge(vconn *c, const repl_frame *fr)
{
    node *n = c->v->n;
    repl_auth_msg ch, pr;
    if (repl_decode_challenge(fr, &ch) < 0 || ch.id != c->id ||
        !repl_auth_verify(&n->secret, REPL_AUTH_ACCEPTOR, n->cfg.cluster_id,
                          REPL_AUTH_PURPOSE_VOTE, n->cfg.node_id, ch.id, c->nonce, ch.nonce,
                          ch.mac)) {
        n->stats.repl_auth_failures++;
        log_warn_limited(&n->log, &n->limits[NL_REPL_AUTH],
                         "vote: %s:%d (node %u) did not prove the cluster secret: no vote asked",
                         c->peer.host, c->peer.port, c->id);
        return -1;
    }
    memset(&pr, 0, sizeof pr);
    uint8_t frame[REPL_CTRL_MAX];
    if (repl_auth_mac(&n->secret, REPL_AUTH_DIALLER, n->cfg.cluster_id, REPL_AUTH_PURPOSE_VOTE,
                      n->cfg.node_id, ch.id, c->nonce, ch.nonce, pr.mac) < 0)
        return -1;
    size_t len = repl_encode_proof(frame, &pr);
    if (iobuf_append(&c->out, frame, len) < 0 || iobuf_append(&c->out, c->vote, c->vote_len) < 0)
        return -1;
    c->auth_wait = 0;
    return 0;
}

static void vconn_on_event(ev_loop *loop, int fd, void *data, unsigned events);

static void vconn_arm(vconn *c)
{
    unsigned mask = EV_READ;
    if (c->connecting || iobuf_used(&c->out)) mask |= EV_WRITE;
    mask = sock_mask(c->tls, mask);
    if (ev_set(c->v->n->loop, c->fd, mask, vconn_on_event, c) < 0) vconn_close(c);
}

static void vconn_on_event(ev_loop *loop, int fd, void *data, unsigned events)
{
    vconn *c = data;
    node *n = c->v->n;
    char err[160];
    events = sock_events(c->tls, events);
    if (c->connecting) {
        if (!(events & (EV_READ | EV_WRITE))) return;
        if (net_connect_finished(c->fd, err, sizeof err) < 0) {
            log_debug(&n->log, "vote: dial node %u at %s:%d: %s", c->id, c->peer.host,
                      c->peer.port, err);
            vconn_close(c);
            return;
        }
        c->connecting = 0;
        if (n->tls_repl) { /* mutual TLS; the VOTE waits in c->out for the handshake */
            char peer[REPL_HOST_MAX + 16];
            snprintf(peer, sizeof peer, "%s:%d", c->peer.host, c->peer.port);
            if (!(c->tls = tls_conn_new(n->tls_repl, n->loop, c->fd, 0, peer, c))) {
                vconn_close(c);
                return;
            }
        }
    }
    if (iobuf_used(&c->out) && iobuf_write_conn(&c->out, c->tls, c->fd) < 0) {
        vconn_close(c);
        return;
    }
    if (events & EV_READ) {
        long r = iobuf_read_conn(&c->in, c->tls, c->fd, VOTE_IN_MAX);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            vconn_close(c);
            return;
        }
        repl_frame fr;
        size_t used;
        repl_status st = repl_frame_parse(c->in.p + c->in.pos, iobuf_used(&c->in), &fr, &used,
                                          err, sizeof err);
        if (st == REPL_OK && c->auth_wait && fr.type == REPL_AUTH_CHALLENGE) {
            iobuf_consume(&c->in, used);
            if (vconn_on_challenge(c, &fr) < 0 ||
                (iobuf_used(&c->out) && iobuf_write_conn(&c->out, c->tls, c->fd) < 0)) {
                vconn_close(c);
                return;
            }
            st = repl_frame_parse(c->in.p + c->in.pos, iobuf_used(&c->in), &fr, &used, err,
                                  sizeof err);
        }
        if (st == REPL_NEED_MORE) {
            if (iobuf_used(&c->in) >= VOTE_IN_MAX) vconn_close(c);
            else
                vconn_arm(c);
            return;
        }
        repl_vote_resp resp;
        if (st == REPL_BAD || c->auth_wait || fr.type != REPL_VOTE_RESP ||
            repl_decode_vote_resp(&fr, &resp) < 0 || resp.voter != c->id) {
            if (fr.type == REPL_REFUSE && st == REPL_OK) {
                char reason[REPL_REASON_MAX + 1];
                repl_decode_refuse(&fr, reason, sizeof reason);
                log_warn_limited(&n->log, &n->limits[NL_LINK], "vote: node %u refused: %s", c->id,
                                 reason);
            } else {
                log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT],
                                 "vote: bad answer from node %u at %s:%d", c->id, c->peer.host,
                                 c->peer.port);
            }
            vconn_close(c);
            return;
        }
        c->v->answers++;
        vconn_close(c); /* one answer per round; the node may start the next one now */
        node_elect_on_vote_resp(n, &resp);
        return;
    }
    vconn_arm(c);
}

void repl_voter_send(repl_voter *v, const repl_vote *req)
{
    node *n = v->n;
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_vote(frame, req);
    v->round_ms = ev_now_ms();
    for (int i = 0; i < v->nc; i++) {
        vconn *c = &v->c[i];
        vconn_close(c);
        char err[160];
        net_keepalive ka = n->cfg.keepalive;
        ka.user_timeout_ms = (ka.idle_s + ka.interval_s * ka.count) * 1000;
        c->fd = net_connect(c->peer.host, c->peer.port, 1, &ka, err, sizeof err);
        if (c->fd < 0) {
            log_debug(&n->log, "vote: dial node %u: %s", c->id, err);
            continue;
        }
        c->connecting = 1;
        const uint8_t *first = frame;
        size_t first_len = len;
        uint8_t auth[REPL_CTRL_MAX];
        if (n->secret.len) { /* the VOTE waits for the member's proof */
            repl_auth_msg m;
            if (repl_auth_start(&m, REPL_AUTH_PURPOSE_VOTE, n->cfg.node_id, n->cfg.cluster_id,
                                c->nonce) < 0) {
                vconn_close(c);
                continue;
            }
            memcpy(c->vote, frame, len);
            c->vote_len = len;
            c->auth_wait = 1;
            first_len = repl_encode_auth(auth, &m);
            first = auth;
        }
        if (iobuf_append(&c->out, first, first_len) < 0 ||
            ev_set(n->loop, c->fd, EV_READ | EV_WRITE, vconn_on_event, c) < 0) {
            vconn_close(c);
            continue;
        }
        v->sent++;
    }
}

void repl_voter_cron(repl_voter *v, uint64_t now)
{
    /* A round's connections live at most one election timeout. */
    if (now - v->round_ms < (uint64_t)v->n->cfg.election_timeout_ms) return;
    for (int i = 0; i < v->nc; i++)
        if (v->c[i].fd >= 0) vconn_close(&v->c[i]);
}

repl_voter *repl_voter_new(node *n, char *err, size_t errlen)
{
    repl_voter *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->n = n;
    for (int i = 0; i < n->cfg.nmembers; i++) {
        const cfg_member *m = &n->cfg.members[i];
        if (m->id == n->cfg.node_id) continue;
        vconn *c = &v->c[v->nc++];
        c->v = v;
        c->fd = -1;
        c->id = m->id;
        c->peer = m->addr;
    }
    return v;
}

void repl_voter_free(repl_voter *v)
{
    if (!v) return;
    for (int i = 0; i < v->nc; i++) vconn_close(&v->c[i]);
    free(v);
}
