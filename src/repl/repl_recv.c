/* repl_recv.c -- the follower's side of replication.
 *
 * The follower listens on its replication port; the leader dials in. A new
 * connection is trusted only after a valid HELLO (right cluster id, an
 * epoch not older than the follower's): garbage, a wrong cluster or a huge
 * frame length ends that connection and nothing else, and only then does it
 * replace the current leader link (a leader that lost its old link half-open
 * must be able to come back).
 *
 * Every record's CRC-32C is verified before anything else is done with it.
 * A bad record is rejected (not appended, not applied), counted in
 * records_rejected_crc and logged with its LSN; the link is dropped, and the
 * leader's reconnect resumes from the last good LSN, so the record arrives
 * again intact. Good records go through the node's WAL path (the same
 * wal_writer, group commit); the follower acknowledges its durable LSN,
 * batching every record made durable by one fdatasync into one ACK, and
 * applies records only up to what the leader's COMMIT frames say is
 * committed and its own (match LSN). It also answers TRUNCATE (drop a dead
 * leader's tail) and FETCH (give records back to a leader that lost them).
 *
 * A snapshot (SNAP_BEGIN / CHUNK / END) is written to a temp file as it
 * arrives, then loaded into a fresh store on a helper thread, because
 * loading a large checkpoint takes longer than --follower-timeout-ms: the
 * loop goes on meanwhile, stops reading every replication connection (the
 * records the leader sends after SNAP_END wait in the socket, a HELLO on a
 * new connection waits for the new state) and sends the leader an ACK every
 * heartbeat_ms, which keeps the link alive (the leader counts any frame as
 * heard and ignores ACKs until SNAP_ACK). When the load is done the loop
 * switches to the new state (node_install_snapshot), sends SNAP_ACK and
 * reads on. The leader then catches the follower up from its WAL.
 *
 * A HELLO on a new connection replaces a live leader link only if its epoch
 * is higher, or if the link has been silent for --follower-timeout-ms: a
 * stale HELLO left queued by a leader that has since redialled must not
 * replace the link that leader is using. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "net/iobuf.h"
#include "net/tls.h"
#include "net/net.h"
#include "repl/repl.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"
#include "repl/repl_rejoin.h"
#include "server/node.h"
#include "wal/wal_thread.h"

#define REPL_ACCEPT_BACKOFF_MS 100 /* the listener's pause when accept(2) has no descriptor */
#define REPL_CONNS_MAX 12 /* leader link + connections in handshake + candidates' vote connections */
#define REPL_FOLLOWER_IN_MAX (REPL_FRAME_MAX + REPL_FRAME_HDR + (1u << 20))
#define REPL_FOLLOWER_OUT_MAX (1u << 20)
/* Before its HELLO a connection may buffer one control frame, no more: a
 * stranger does not get to park a full 18 MiB records frame in memory. */
#define REPL_HANDSHAKE_IN_MAX (REPL_FRAME_HDR + REPL_CTRL_MAX)
/* A record stamped this far ahead of our clock is refused: accepted, it
 * would win every later write of its key by last-writer-wins (a timestamp
 * of 2^64-1 froze a key forever). Clocks off by less are reported only. */
#define REPL_SNAP_DISK_MARGIN (64ull << 20) /* free disk kept when taking a checkpoint */
#define REPL_TS_AHEAD_MAX_US (24ull * 3600 * 1000000)

typedef struct fconn {
    repl_follower *f;
    int fd;
    struct tls_conn *tls; /* --tls-replication: its TLS state, else NULL */
    int authed; /* sent a valid HELLO: this is the leader link */
    /* From our HELLO_OK until the leader's next frame, no ACK goes out: the
     * leader may answer HELLO_OK with a TRUNCATE of our tail, and an ACK of
     * that tail sent before we read the TRUNCATE would reach it after it
     * re-shipped past those LSNs, counting records we do not hold. Every
     * frame the leader sends after HELLO is sent after it read HELLO_OK (it
     * sends nothing else in its handshake state), so the first one marks the
     * point in the stream after which our ACKs speak of its log. */
    int acks_held;
    /* The cluster-secret handshake (repl_auth.h): peer_ok once the dialler
     * proved the secret, or at once from loopback when no secret is set.
     * Nothing else is parsed before. */
    int peer_ok;
    int auth_stage;        /* 0: AUTH expected, 1: PROOF expected */
    uint8_t purpose;       /* REPL_AUTH_PURPOSE_* the dialler declared (0: none) */
    repl_auth_msg auth;    /* the dialler's AUTH */
    uint8_t nonce_a[RKV_NONCE_LEN];
    uint64_t since_ms;
    char peer[64];
    iobuf in, out;
    /* FETCH: committed records given back to a leader that lost them. */
    int fetching;
    repl_cursor fetch_cur;
    uint64_t fetch_to;
} fconn;

struct repl_follower {
    node *n;
    int lfd;
    uint64_t accept_paused_until; /* accept(2) out of descriptors: listener off until */
    fconn conns[REPL_CONNS_MAX];
    fconn *leader; /* the authenticated link, or NULL */
    uint32_t leader_id;
    char leader_host[REPL_HOST_MAX + 1]; /* its announced client address */
    int leader_port;
    uint64_t leader_epoch, leader_last_lsn, leader_commit_lsn;
    /* Our log equals the current leader's up to match_lsn: set to what we
     * have applied (committed, hence the same everywhere) at each handshake,
     * then raised by the leader's COMMIT frames, which follow in the stream
     * the records they vouch for. Records above it may be a dead leader's
     * uncommitted tail and are never applied. */
    uint64_t match_lsn;
    uint64_t last_seen_ms;
    uint64_t echo_time; /* leader time of the last heartbeat, echoed in ACK */
    int ack_due;
    uint64_t acked_sent;
    uint64_t handshakes, refused, links_dropped_crc;
    int snap_fd; /* incoming checkpoint being written, or -1 */
    uint64_t snap_lsn, snap_size, snap_got;
    uint64_t snapshots_installed, truncations;
    uint64_t link_seq; /* bumped at every accepted HELLO: names a leader link */
    repl_member members[REPL_MEMBERS_MAX]; /* the leader's last MEMBERS */
    int nmembers;
    /* The received checkpoint being loaded on a helper thread. Only the
     * thread writes ld_kv / ld_info / ld_rc / ld_err until it has signalled
     * ld_efd; the loop reads them after pthread_join. */
    int installing;
    int ld_efd; /* eventfd: the load is done */
    pthread_t ld_thread;
    char ld_path[1200];
    kv_store *ld_kv;
    wal_checkpoint_info ld_info;
    int ld_rc;
    char ld_err[512];
    uint64_t ld_link_seq; /* the link the snapshot came on */
    uint64_t ld_start_us, ld_beat_ms; /* load start, last keep-alive ACK */
    /* ACKs from the WAL thread (--ack-from-wal-thread): the thread writes an
     * ACK straight to the leader link the moment its fdatasync returns,
     * instead of waking the loop to do it, which takes one thread wake-up
     * off every write's commit path. Every write to the leader link, loop or
     * thread, happens under mu. The thread writes only while the link is
     * armed: plain TCP, the leader link, no snapshot loading, no records
     * being given back, and the stream at a frame boundary (the loop's last
     * write emptied its buffer, and no thread ACK is half sent; the rest of
     * one the socket did not take waits in tail, which the loop sends
     * before anything else). ACKs may then reach the leader out of order
     * with the loop's own; the leader keeps the highest of each. */
    struct {
        pthread_mutex_t mu;
        int fd;             /* armed: the leader link's descriptor, else -1 */
        int boundary;       /* the loop has no partly written frame on it */
        uint64_t applied, echo; /* what the thread's ACK carries besides the LSN */
        _Atomic uint64_t acked; /* highest durable LSN the thread has acked on this link */
        uint8_t tail[REPL_CTRL_MAX];
        size_t tail_pos, tail_len;
        _Atomic uint64_t sent; /* ACKs the thread sent (INFO rkv_wal_thread_acks) */
    } fa;
};

#define REPL_SNAP_TMP "snapshot-incoming.tmp"


static void fconn_on_event(ev_loop *loop, int fd, void *data, unsigned events);
static void snap_abort(repl_follower *f);
static int snap_load_start(repl_follower *f, const char *path);

/* ---- ACKs from the WAL thread (see struct repl_follower, fa) ---- */

/* Stops the thread's ACKs. CLOSING: the link is going, so a half-sent ACK
 * is dropped with it; otherwise its rest stays for the loop to send (the
 * stream must stay whole). Re-arming starts from the loop's acked_sent. */
static void fast_ack_disarm(repl_follower *f, int closing)
{
    pthread_mutex_lock(&f->fa.mu);
    f->fa.fd = -1;
    if (closing) f->fa.tail_len = f->fa.tail_pos = 0;
    atomic_store(&f->fa.acked, 0);
    pthread_mutex_unlock(&f->fa.mu);
}

/* The WAL thread's hook (wal_thread_set_durable_hook). */
static void fast_ack_durable(void *ctx, uint64_t lsn)
{
    repl_follower *f = ctx;
    pthread_mutex_lock(&f->fa.mu);
    if (f->fa.fd >= 0 && f->fa.boundary && f->fa.tail_len == 0 && lsn > atomic_load(&f->fa.acked)) {
        repl_beat b = {lsn, f->fa.applied, f->fa.echo};
        size_t len = repl_encode_beat(f->fa.tail, REPL_ACK, &b);
        ssize_t w;
        do {
            w = send(f->fa.fd, f->fa.tail, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            f->fa.boundary = 0; /* broken: the loop finds out and closes the link */
        } else {
            if (w < 0) w = 0;
            f->fa.tail_pos = (size_t)w;
            f->fa.tail_len = (size_t)w < len ? len : 0; /* the loop sends the rest */
            atomic_store(&f->fa.acked, lsn);
            atomic_fetch_add(&f->fa.sent, 1);
        }
    }
    pthread_mutex_unlock(&f->fa.mu);
}

/* Every write to a connection: a thread ACK's unsent rest first, then the
 * loop's buffer. 0, or -1 with errno (the connection must go). */
static int fconn_write(fconn *c)
{
    repl_follower *f = c->f;
    if (c != f->leader || c->tls) return iobuf_write_conn(&c->out, c->tls, c->fd);
    pthread_mutex_lock(&f->fa.mu);
    int rc = 0;
    while (f->fa.tail_pos < f->fa.tail_len) {
        ssize_t w = send(c->fd, f->fa.tail + f->fa.tail_pos, f->fa.tail_len - f->fa.tail_pos,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            rc = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
            break;
        }
        f->fa.tail_pos += (size_t)w;
    }
    if (rc == 0 && f->fa.tail_pos >= f->fa.tail_len) {
        f->fa.tail_pos = f->fa.tail_len = 0;
        rc = iobuf_write_conn(&c->out, NULL, c->fd);
    }
    int saved = errno;
    f->fa.boundary = rc == 0 && f->fa.tail_len == 0 && iobuf_used(&c->out) == 0;
    pthread_mutex_unlock(&f->fa.mu);
    errno = saved;
    return rc;
}

/* Bytes the leader link still has to write, the thread's included. */
static int fconn_out_pending(fconn *c)
{
    if (iobuf_used(&c->out)) return 1;
    if (c != c->f->leader || c->tls) return 0;
    pthread_mutex_lock(&c->f->fa.mu);
    int p = c->f->fa.tail_len > 0;
    pthread_mutex_unlock(&c->f->fa.mu);
    return p;
}

/* Arms the thread's ACKs when the link allows them, and hands it what they
 * carry; called at the end of every loop iteration (repl_follower_flush). */
static void fast_ack_update(repl_follower *f)
{
    fconn *c = f->leader;
    int arm = c && c->fd >= 0 && !c->tls && !c->fetching && !f->installing && !c->acks_held &&
              f->n->cfg.wal_thread_ack && !node_is_leader(f->n);
    pthread_mutex_lock(&f->fa.mu);
    if (!arm) {
        /* (a snapshot install, say: what the thread acked of the old log
         * must not hold back the loop's ACKs of the new one) */
        f->fa.fd = -1;
        atomic_store(&f->fa.acked, 0);
    } else {
        if (f->fa.fd != c->fd) atomic_store(&f->fa.acked, f->acked_sent);
        f->fa.fd = c->fd;
        f->fa.applied = f->n->applied_lsn;
        f->fa.echo = f->echo_time;
    }
    pthread_mutex_unlock(&f->fa.mu);
}

static void fconn_close(fconn *c, const char *why)
{
    repl_follower *f = c->f;
    if (c->fd < 0) return;
    if (c == f->leader) fast_ack_disarm(f, 1);
    ev_set(f->n->loop, c->fd, 0, NULL, NULL);
    sock_close(&c->tls, c->fd);
    c->fd = -1;
    if (c == f->leader) {
        f->leader = NULL;
        snap_abort(f);
        log_warn(&f->n->log, "leader link from %s closed: %s", c->peer, why);
    } else {
        log_debug(&f->n->log, "replication connection from %s closed: %s", c->peer, why);
    }
    c->authed = 0;
    c->acks_held = 0;
    if (c->fetching) repl_cursor_close(&c->fetch_cur);
    c->fetching = 0;
    iobuf_free(&c->in);
    iobuf_free(&c->out);
}

#define REPL_FETCH_OUT_LOW (1u << 20) /* refill the given-back stream below this */

static void fconn_refuse(fconn *c, const char *reason);

/* Sends the next records asked for by FETCH while the output is short: any
 * of this follower's records (the leader adopts the most recent log among
 * enough followers); those not yet on disk follow once the WAL thread has
 * written them. -1: the link was closed. */
static int fetch_pump(fconn *c)
{
    node *n = c->f->n;
    char err[256];
    while (c->fetching && iobuf_used(&c->out) < REPL_FETCH_OUT_LOW) {
        size_t hdr_at = iobuf_used(&c->out);
        uint8_t hdr[REPL_FRAME_HDR] = {0};
        if (iobuf_append(&c->out, hdr, sizeof hdr) < 0) {
            fconn_close(c, "out of memory");
            return -1;
        }
        long got = repl_cursor_read(&c->fetch_cur, &c->out, c->fetch_to, REPL_BATCH_TARGET, err,
                                    sizeof err);
        if (got <= 0) {
            c->out.len = c->out.pos + hdr_at;
            if (got < 0) {
                log_error_limited(&n->log, &n->limits[NL_CATCHUP],
                                  "giving records back to the leader: %s", err);
                fconn_refuse(c, "cannot give the records back");
                return -1;
            }
            break;
        }
        uint8_t *frame = c->out.p + c->out.pos + hdr_at;
        size_t plen = iobuf_used(&c->out) - hdr_at - REPL_FRAME_HDR;
        repl_frame_header(frame, REPL_RECORDS, frame + REPL_FRAME_HDR, (uint32_t)plen);
        if (c->fetch_cur.next_lsn > c->fetch_to) {
            log_info(&n->log, "gave the records up to lsn %llu back to the leader",
                     (unsigned long long)c->fetch_to);
            repl_cursor_close(&c->fetch_cur);
            c->fetching = 0;
        }
    }
    return 0;
}

/* FETCH from a leader that lost committed records. */
static int follower_on_fetch(fconn *c, const repl_frame *fr)
{
    node *n = c->f->n;
    repl_beat b;
    char err[256];
    if (repl_decode_beat(fr, &b) < 0 || b.a == 0 || b.a > b.b || b.b > n->last_lsn ||
        c->fetching) {
        fconn_refuse(c, "bad FETCH: beyond this follower's log");
        return -1;
    }
    if (repl_cursor_open(&c->fetch_cur, n->store_dir, b.a, err, sizeof err) != CURSOR_OK) {
        repl_cursor_close(&c->fetch_cur);
        log_warn(&n->log, "the leader asks for lsn %llu..%llu back, not in this WAL: %s",
                 (unsigned long long)b.a, (unsigned long long)b.b, err);
        fconn_refuse(c, "the records asked for are no longer in this follower's WAL");
        return -1;
    }
    log_warn(&n->log, "the leader lost committed records: giving lsn %llu..%llu back",
             (unsigned long long)b.a, (unsigned long long)b.b);
    c->fetching = 1;
    c->fetch_to = b.b;
    return fetch_pump(c);
}

/* REFUSE with REASON (best effort: the socket is nonblocking), then close. */
static void fconn_send_refuse(fconn *c, const char *reason)
{
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_refuse(frame, reason);
    ssize_t w = sock_write(c->tls, c->fd, frame, len);
    (void)w;
    c->f->refused++;
    fconn_close(c, reason);
}

static void fconn_refuse(fconn *c, const char *reason)
{
    repl_follower *f = c->f;
    log_warn_limited(&f->n->log, &f->n->limits[NL_REPL_REFUSED], "refusing replication connection from %s: %s", c->peer, reason);
    fconn_send_refuse(c, reason);
}

/* A connection that did not prove the cluster secret (or came from outside
 * loopback to a node without one): counted, logged with its address
 * (rate-limited), told why, closed. Nothing it sent was parsed. */
static void fconn_auth_fail(fconn *c, const char *reason)
{
    node *n = c->f->n;
    n->stats.repl_auth_failures++;
    log_msg_by_source(&n->log, &n->refusals, LOG_WARN, c->peer,
                      "replication connection from %s refused: %s", c->peer, reason);
    fconn_send_refuse(c, reason);
}

/* One step of the acceptor's side of the handshake. 0: go on reading
 * (the connection may now be peer_ok), -1: closed. */
static int fconn_auth_step(fconn *c, const repl_frame *fr)
{
    node *n = c->f->n;
    if (c->auth_stage == 0) {
        if (fr->type == REPL_HELLO || fr->type == REPL_VOTE) {
            fconn_auth_fail(c, "this node requires the cluster secret and the peer sent no "
                               "proof of it (start every node with the same "
                               "--cluster-secret-file)");
            return -1;
        }
        if (fr->type != REPL_AUTH || repl_decode_auth(fr, &c->auth) < 0 ||
            c->auth.version != REPL_AUTH_VERSION) {
            fconn_auth_fail(c, "expected an AUTH frame first");
            return -1;
        }
        if (strcmp(c->auth.cluster_id, n->cfg.cluster_id) != 0) {
            char reason[REPL_REASON_MAX];
            snprintf(reason, sizeof reason,
                     "cluster id mismatch: %s is in '%.64s', this node in '%.64s'",
                     c->auth.purpose == REPL_AUTH_PURPOSE_VOTE ? "candidate" : "leader",
                     c->auth.cluster_id, n->cfg.cluster_id);
            fconn_auth_fail(c, reason);
            return -1;
        }
        repl_auth_msg ch;
        memset(&ch, 0, sizeof ch);
        ch.id = n->cfg.node_id;
        if (rkv_random(c->nonce_a, sizeof c->nonce_a) < 0 ||
            repl_auth_mac(&n->secret, REPL_AUTH_ACCEPTOR, n->cfg.cluster_id, c->auth.purpose,
                          c->auth.id, ch.id, c->auth.nonce, c->nonce_a, ch.mac) < 0) {
            fconn_close(c, "cannot compute the handshake (random or HMAC failed)");
            return -1;
        }
        memcpy(ch.nonce, c->nonce_a, sizeof ch.nonce);
        uint8_t frame[REPL_CTRL_MAX];
        size_t len = repl_encode_challenge(frame, &ch);
        if (iobuf_append(&c->out, frame, len) < 0) {
            fconn_close(c, "out of memory");
            return -1;
        }
        c->auth_stage = 1;
        return 0;
    }
    repl_auth_msg pr;
    if (fr->type != REPL_AUTH_PROOF || repl_decode_proof(fr, &pr) < 0) {
        fconn_auth_fail(c, "expected the AUTH_PROOF frame");
        return -1;
    }
    if (!repl_auth_verify(&n->secret, REPL_AUTH_DIALLER, n->cfg.cluster_id, c->auth.purpose,
                          c->auth.id, n->cfg.node_id, c->auth.nonce, c->nonce_a, pr.mac)) {
        fconn_auth_fail(c, "wrong proof of the cluster secret (a different secret or cluster "
                           "id, or not a member of this cluster)");
        return -1;
    }
    c->peer_ok = 1;
    c->purpose = c->auth.purpose;
    log_debug(&n->log, "replication connection from %s (node %u) proved the cluster secret",
              c->peer, c->auth.id);
    return 0;
}

/* Elections: the leader of an epoch older than ours is told our epoch (and
 * steps down when it reads it), then the connection ends. */
static void fconn_stale(fconn *c)
{
    node *n = c->f->n;
    repl_beat b = {n->epoch, node_elect_leader_id(n), 0};
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_beat(frame, REPL_STALE, &b);
    ssize_t w = sock_write(c->tls, c->fd, frame, len); /* best effort: we close right after */
    (void)w;
    c->f->refused++;
    fconn_close(c, "leader of an older epoch");
}

/* A (pre)vote request on a connection that is not a leader link. */
static void fconn_on_vote(fconn *c, const repl_frame *fr)
{
    node *n = c->f->n;
    repl_vote v;
    repl_vote_resp resp;
    if (repl_decode_vote(fr, &v) < 0) {
        fconn_refuse(c, "malformed VOTE");
        return;
    }
    if (strcmp(v.cluster_id, n->cfg.cluster_id) != 0) {
        char reason[REPL_REASON_MAX];
        snprintf(reason, sizeof reason, "cluster id mismatch: candidate is in '%.64s', this node in '%.64s'",
                 v.cluster_id, n->cfg.cluster_id);
        fconn_refuse(c, reason);
        return;
    }
    if (!n->cfg.elected) {
        fconn_refuse(c, "this node does not take part in elections (no --peers)");
        return;
    }
    if (v.members_crc != n->cfg.members_crc) {
        log_error_limited(&n->log, &n->limits[NL_REPL_REFUSED],
                          "node %u asks for a vote with a different member list (--peers): "
                          "every member must list the same members",
                          v.candidate);
        fconn_refuse(c, "member list (--peers) differs from this node's");
        return;
    }
    if (node_elect_on_vote_req(n, &v, &resp) < 0) {
        fconn_close(c, "vote not answered");
        return;
    }
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_vote_resp(frame, &resp);
    if (iobuf_append(&c->out, frame, len) < 0) fconn_close(c, "out of memory");
}

static void fconn_update_events(fconn *c)
{
    /* While a snapshot loads nothing is read: frames wait in the socket. */
    unsigned mask = (c->f->installing ? 0 : EV_READ) | (fconn_out_pending(c) ? EV_WRITE : 0);
    mask = sock_mask(c->tls, mask);
    if (ev_mask(c->f->n->loop, c->fd) != mask)
        ev_set(c->f->n->loop, c->fd, mask, fconn_on_event, c);
}

static void follower_send_ack(repl_follower *f)
{
    fconn *c = f->leader;
    if (!c) return;
    if (c->acks_held) {
        f->ack_due = 1; /* sent once the leader's next frame is read */
        return;
    }
    node *n = f->n;
    repl_beat b = {n->durable_lsn, n->applied_lsn, f->echo_time};
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_beat(frame, REPL_ACK, &b);
    if (iobuf_used(&c->out) > REPL_FOLLOWER_OUT_MAX || iobuf_append(&c->out, frame, len) < 0) {
        fconn_close(c, "output limit");
        return;
    }
    f->acked_sent = n->durable_lsn;
    f->ack_due = 0;
}

static void follower_on_hello(fconn *c, const repl_hello *h)
{
    repl_follower *f = c->f;
    node *n = f->n;
    char reason[REPL_REASON_MAX];
    if (strcmp(h->cluster_id, n->cfg.cluster_id) != 0) {
        snprintf(reason, sizeof reason, "cluster id mismatch: leader is in '%.64s', this follower in '%.64s'",
                 h->cluster_id, n->cfg.cluster_id);
        fconn_refuse(c, reason);
        return;
    }
    if (n->wal_failed) {
        /* Unhealthy: the leader counts us offline until the disk works. */
        snprintf(reason, sizeof reason, "this follower's WAL is failing (%.120s); retrying",
                 n->wal_error);
        fconn_refuse(c, reason);
        return;
    }
    if (h->node_id == n->cfg.node_id) {
        snprintf(reason, sizeof reason, "leader has this follower's node id %u", h->node_id);
        fconn_refuse(c, reason);
        return;
    }
    if (h->epoch > NODE_EPOCH_MAX) {
        snprintf(reason, sizeof reason, "epoch %llu is beyond the largest accepted (%llu)",
                 (unsigned long long)h->epoch, (unsigned long long)NODE_EPOCH_MAX);
        fconn_refuse(c, reason);
        return;
    }
    if (n->cfg.elected && h->members_crc != n->cfg.members_crc) {
        log_error_limited(&n->log, &n->limits[NL_REPL_REFUSED],
                          "node %u leads with a different member list (--peers), or none: "
                          "every member must list the same members",
                          h->node_id);
        fconn_refuse(c, "member list (--peers) differs from this node's");
        return;
    }
    if (n->cfg.elected && node_elect_on_leader(n, h->epoch, h->node_id) < 0) {
        fconn_stale(c); /* older than ours (or ourselves): it must step down */
        return;
    }
    if (h->epoch < n->epoch) {
        snprintf(reason, sizeof reason, "stale leader: epoch %llu is older than %llu",
                 (unsigned long long)h->epoch, (unsigned long long)n->epoch);
        fconn_refuse(c, reason);
        return;
    }
    if (!n->cfg.elected && h->epoch == n->epoch && n->epoch_leader &&
        n->epoch_leader != h->node_id) {
        /* Fixed topology: one leader per epoch, as with elections. Two nodes
         * started with --role leader can pick the same epoch; the first one
         * this follower took keeps it, the other is told (STALE) and stops
         * leading. */
        log_warn_limited(&n->log, &n->limits[NL_REPL_REFUSED],
                         "node %u claims epoch %llu, which node %u leads: refused",
                         h->node_id, (unsigned long long)h->epoch, n->epoch_leader);
        fconn_stale(c);
        return;
    }
    uint64_t now = ev_now_ms(), timeout = (uint64_t)n->cfg.follower_timeout_ms;
    if (f->leader && f->leader != c && h->epoch <= f->leader_epoch &&
        now - f->last_seen_ms <= timeout) {
        snprintf(reason, sizeof reason, "the leader link of epoch %llu is alive (heard %llu ms "
                                        "ago); a new one replaces it after %llu ms of silence",
                 (unsigned long long)f->leader_epoch,
                 (unsigned long long)(now - f->last_seen_ms), (unsigned long long)timeout);
        fconn_refuse(c, reason);
        return;
    }
    if (f->leader && f->leader != c) fconn_close(f->leader, "replaced by a new leader link");
    f->leader = c;
    c->authed = 1;
    f->link_seq++;
    f->handshakes++;
    f->leader_id = h->node_id;
    f->nmembers = 0; /* a new leader tells its own */
    snprintf(f->leader_host, sizeof f->leader_host, "%s", h->client_host);
    f->leader_port = h->client_port;
    f->leader_epoch = h->epoch;
    f->leader_last_lsn = h->last_lsn;
    if (h->commit_lsn > f->leader_commit_lsn) f->leader_commit_lsn = h->commit_lsn;
    f->match_lsn = n->applied_lsn;
    f->last_seen_ms = ev_now_ms();
    /* ACKs echo the time of this leader's heartbeats, on its clock: never
     * echo another leader's (its lease would count on a foreign clock). */
    f->echo_time = 0;
    if (!n->cfg.elected && (h->epoch > n->epoch || n->epoch_leader != h->node_id)) {
        /* Remembered across restarts, so a stale leader stays refused, and
         * so does a second leader of this epoch. */
        char err[256];
        if (node_vote_store(n->cfg.data_dir, h->epoch, h->node_id, err, sizeof err) < 0)
            log_warn(&n->log, "%s", err);
        n->epoch = h->epoch;
        n->epoch_leader = h->node_id;
    }
    uint64_t known = f->leader_commit_lsn > n->commit_hint ? f->leader_commit_lsn : n->commit_hint;
    if (n->commit_lsn > known) known = n->commit_lsn;
    repl_hello_ok ok = {n->cfg.node_id, n->last_lsn, n->last_rec_epoch, n->applied_lsn, known,
                        0, ""};
    ok.client_port = node_announce(n, ok.client_host, sizeof ok.client_host);
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_hello_ok(frame, &ok);
    if (iobuf_append(&c->out, frame, len) < 0) {
        fconn_close(c, "out of memory");
        return;
    }
    c->acks_held = 1;
    log_info(&n->log, "leader node %u (epoch %llu, last lsn %llu) connected from %s; this follower has lsn %llu",
             h->node_id, (unsigned long long)h->epoch, (unsigned long long)h->last_lsn, c->peer,
             (unsigned long long)n->last_lsn);
}

/* Verifies and appends the records of one RECORDS frame. -1: drop the link. */
static int follower_on_records(fconn *c, const repl_frame *fr)
{
    repl_follower *f = c->f;
    node *n = f->n;
    size_t off = 0;
    while (off < fr->len) {
        wal_rec r;
        size_t used;
        wal_dec d = wal_record_decode(fr->payload + off, fr->len - off, &r, &used);
        if (d == WAL_DEC_BAD_CRC) {
            n->stats.records_rejected_crc++;
            f->links_dropped_crc++;
            log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT], "rejected record lsn=%llu: bad CRC; dropping the link so the leader "
                              "resends from lsn %llu",
                     (unsigned long long)r.lsn, (unsigned long long)(n->last_lsn + 1));
            return -1;
        }
        if (d != WAL_DEC_OK) {
            n->stats.records_rejected_crc += d != WAL_DEC_NEED_MORE;
            log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT], "rejected records frame: %s at byte %zu; dropping the link",
                     wal_dec_str(d), off);
            return -1;
        }
        off += used;
        if (r.lsn <= n->last_lsn) continue; /* already have it (resent after a reconnect) */
        uint64_t now = hlc_wall_us(NULL);
        if (r.epoch > NODE_EPOCH_MAX || r.epoch > f->leader_epoch ||
            r.ts > now + REPL_TS_AHEAD_MAX_US) {
            n->stats.records_rejected_crc++;
            log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT],
                             "rejected record lsn=%llu: epoch %llu (leader's %llu) or timestamp "
                             "%llu us (%llu s ahead of this node's clock, at most %llu s) out of "
                             "range; dropping the link",
                             (unsigned long long)r.lsn, (unsigned long long)r.epoch,
                             (unsigned long long)f->leader_epoch, (unsigned long long)r.ts,
                             (unsigned long long)(r.ts > now ? (r.ts - now) / 1000000u : 0),
                             (unsigned long long)(REPL_TS_AHEAD_MAX_US / 1000000u));
            return -1;
        }
        if (r.lsn != n->last_lsn + 1) {
            log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT], "gap in the stream: got lsn %llu after %llu; dropping the link",
                     (unsigned long long)r.lsn, (unsigned long long)n->last_lsn);
            return -1;
        }
        if (node_append_encoded(n, fr->payload + off - used, used, &r) < 0) {
            log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT],
                             "cannot take record lsn=%llu: %s; dropping the link (the leader "
                             "resends from lsn %llu)",
                             (unsigned long long)r.lsn,
                             n->wal_failed ? "the WAL is failing" : "max-pending-bytes reached",
                             (unsigned long long)(n->last_lsn + 1));
            return -1;
        }
    }
    return 0;
}


static void snap_abort(repl_follower *f)
{
    if (f->snap_fd >= 0) close(f->snap_fd);
    f->snap_fd = -1;
}

static void snap_tmp_path(const repl_follower *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s/" REPL_SNAP_TMP, f->n->cfg.data_dir);
}

/* SNAP_BEGIN / SNAP_CHUNK / SNAP_END: the checkpoint is written to a temp
 * file as it arrives (never held whole in memory), then validated and
 * installed by node_install_snapshot. -1: drop the link. */
static int follower_on_snapshot(fconn *c, const repl_frame *fr)
{
    repl_follower *f = c->f;
    node *n = f->n;
    char path[1200];
    snap_tmp_path(f, path, sizeof path);
    if (fr->type == REPL_SNAP_BEGIN) {
        repl_beat b;
        if (repl_decode_beat(fr, &b) < 0) return -1;
        snap_abort(f);
        /* The announced size is a claim, not a fact: it must fit on the disk
         * (with a margin) and in memory (the state is loaded whole). */
        struct statvfs vfs;
        uint64_t disk = statvfs(n->cfg.data_dir, &vfs) == 0
                            ? (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize
                            : 0;
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        uint64_t mem = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : UINT64_MAX;
        if (b.c > mem || b.c + REPL_SNAP_DISK_MARGIN > disk) {
            log_error_limited(&n->log, &n->limits[NL_SNAPSHOT],
                              "refusing a checkpoint of %llu bytes from the leader: %llu bytes "
                              "free on %s (a %llu-byte margin kept), %llu bytes of memory",
                              (unsigned long long)b.c, (unsigned long long)disk, n->cfg.data_dir,
                              (unsigned long long)REPL_SNAP_DISK_MARGIN, (unsigned long long)mem);
            return -1;
        }
        f->snap_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f->snap_fd < 0) {
            log_error(&n->log, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        f->snap_lsn = b.a;
        f->snap_size = b.c;
        f->snap_got = 0;
        log_info(&n->log, "receiving a checkpoint of lsn %llu (%llu bytes) from the leader",
                 (unsigned long long)b.a, (unsigned long long)b.c);
        return 0;
    }
    if (f->snap_fd < 0) return -1; /* chunk or end without a begin */
    if (fr->type == REPL_SNAP_CHUNK) {
        if (f->snap_got + fr->len > f->snap_size) return -1;
        size_t off = 0;
        while (off < fr->len) {
            ssize_t w = write(f->snap_fd, fr->payload + off, fr->len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                log_error(&n->log, "writing %s: %s", path, strerror(errno));
                snap_abort(f);
                return -1;
            }
            off += (size_t)w;
        }
        f->snap_got += fr->len;
        return 0;
    }
    repl_beat b;
    if (repl_decode_beat(fr, &b) < 0 || b.a != f->snap_lsn || f->snap_got != f->snap_size) {
        snap_abort(f);
        return -1;
    }
    int rc = fsync(f->snap_fd);
    snap_abort(f);
    if (rc < 0) {
        log_warn(&n->log, "checkpoint from the leader rejected: fsync %s: %s", path,
                 strerror(errno));
        unlink(path);
        return -1;
    }
    return snap_load_start(f, path);
}

/* ---- loading a received checkpoint on a helper thread ---- */

static void *snap_load_main(void *arg)
{
    repl_follower *f = arg;
    f->ld_rc = wal_checkpoint_load(f->ld_path, f->ld_kv, &f->ld_info, f->ld_err,
                                   sizeof f->ld_err);
    uint64_t one = 1;
    ssize_t w;
    do {
        w = write(f->ld_efd, &one, sizeof one);
    } while (w < 0 && errno == EINTR);
    return NULL;
}

static void follower_pause(repl_follower *f)
{
    for (int i = 0; i < REPL_CONNS_MAX; i++)
        if (f->conns[i].fd >= 0) fconn_update_events(&f->conns[i]);
}

/* Starts loading PATH. 0: loading (the caller stops parsing), -1: drop the
 * link. */
static int snap_load_start(repl_follower *f, const char *path)
{
    node *n = f->n;
    assert(!f->installing && !f->ld_kv);
    snprintf(f->ld_path, sizeof f->ld_path, "%s", path);
    f->ld_kv = kv_new();
    f->ld_rc = -1;
    f->ld_err[0] = 0;
    int e = f->ld_kv ? pthread_create(&f->ld_thread, NULL, snap_load_main, f) : ENOMEM;
    if (e != 0) {
        log_warn(&n->log, "checkpoint from the leader rejected: cannot start its loader: %s",
                 strerror(e));
        kv_free(f->ld_kv);
        f->ld_kv = NULL;
        unlink(path);
        return -1;
    }
    f->installing = 1;
    f->ld_link_seq = f->link_seq;
    f->ld_start_us = ev_now_us();
    f->ld_beat_ms = ev_now_ms();
    follower_pause(f);
    log_info(&n->log, "loading the checkpoint of lsn %llu on a helper thread; the leader link "
                      "is kept alive meanwhile",
             (unsigned long long)f->snap_lsn);
    return 0;
}

static void fconn_process(fconn *c);

/* The loop's side of the end of a load: switch to the new state, tell the
 * leader (if the link it came on is still up), read on. */
static void snap_on_loaded(ev_loop *loop, int fd, void *data, unsigned events)
{
    repl_follower *f = data;
    node *n = f->n;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0 && errno == EAGAIN) return;
    if (!f->installing) return;
    pthread_join(f->ld_thread, NULL);
    f->installing = 0;
    kv_store *kv = f->ld_kv;
    f->ld_kv = NULL;
    fconn *c = f->leader && f->link_seq == f->ld_link_seq ? f->leader : NULL;
    char err[512];
    int rc = f->ld_rc;
    if (rc < 0) {
        snprintf(err, sizeof err, "%s", f->ld_err);
        kv_free(kv);
    } else {
        log_info(&n->log, "loaded the checkpoint of lsn %llu (%llu entries) in %.1f ms",
                 (unsigned long long)f->ld_info.lsn, (unsigned long long)f->ld_info.entries,
                 (double)(ev_now_us() - f->ld_start_us) / 1000.0);
        rc = node_install_snapshot(n, f->ld_path, kv, &f->ld_info, err, sizeof err);
    }
    if (rc < 0) {
        log_warn(&n->log, "checkpoint from the leader rejected: %s", err);
        unlink(f->ld_path);
        /* Say why: a leader told its checkpoint is bad writes a fresh one
         * instead of sending the same bytes again and again. */
        if (c) {
            char reason[REPL_REASON_MAX];
            snprintf(reason, sizeof reason, "checkpoint rejected: %.160s", err);
            fconn_refuse(c, reason);
        }
        c = NULL;
    } else {
        f->snapshots_installed++;
        f->match_lsn = n->applied_lsn; /* the snapshot is the leader's committed state */
        if (c) {
            /* SNAP_ACK tells the leader that every ACK after it is about the
             * new state: the ones before it described the replaced log. */
            repl_beat ack = {n->durable_lsn, n->applied_lsn, 0};
            uint8_t frame[REPL_CTRL_MAX];
            size_t len = repl_encode_beat(frame, REPL_SNAP_ACK, &ack);
            if (iobuf_append(&c->out, frame, len) < 0) {
                fconn_close(c, "out of memory");
                c = NULL;
            } else {
                f->acked_sent = n->durable_lsn;
                f->last_seen_ms = ev_now_ms(); /* kept alive throughout */
            }
        } else {
            log_info(&n->log, "the link the checkpoint came on is gone: the leader's next "
                              "HELLO sees the new state");
        }
    }
    /* Read on: the frames buffered before the pause first, then the sockets. */
    for (int i = 0; i < REPL_CONNS_MAX; i++) {
        fconn *o = &f->conns[i];
        if (o->fd < 0) continue;
        if (iobuf_used(&o->in)) fconn_process(o);
        if (o->fd >= 0) fconn_update_events(o);
    }
}

static void fconn_read(fconn *c)
{
    if (c->f->installing) return; /* paused (an HUP can still wake us) */
    long r = iobuf_read_conn(&c->in, c->tls, c->fd, c->authed ? REPL_FOLLOWER_IN_MAX : REPL_HANDSHAKE_IN_MAX);
    if (r == 0) {
        fconn_close(c, "closed by peer");
        return;
    }
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) fconn_close(c, strerror(errno));
        return;
    }
    fconn_process(c);
}

/* Handles the whole frames in C's input buffer; stops early when a snapshot
 * load starts (the rest waits for its end). */
static void fconn_process(fconn *c)
{
    repl_follower *f = c->f;
    node *n = f->n;
    while (!f->installing) {
        repl_frame fr;
        size_t used;
        char err[160];
        if (!c->peer_ok && iobuf_used(&c->in) >= REPL_FRAME_HDR &&
            wal_get_u32(c->in.p + c->in.pos) > REPL_CTRL_MAX) {
            fconn_auth_fail(c, "oversized frame before the cluster-secret handshake");
            return;
        }
        if (c->peer_ok && !c->authed && iobuf_used(&c->in) >= REPL_FRAME_HDR) {
            const uint8_t *h = c->in.p + c->in.pos;
            if (h[4] == REPL_AUTH) {
                fconn_refuse(c, "this node has no cluster secret (--cluster-secret-file) and "
                                "the peer has one: they must match");
                return;
            }
            if ((h[4] != REPL_HELLO && h[4] != REPL_VOTE) || wal_get_u32(h) > REPL_CTRL_MAX) {
                fconn_refuse(c, "expected a HELLO or VOTE frame first");
                return;
            }
        }
        repl_status st = repl_frame_parse(c->in.p + c->in.pos, iobuf_used(&c->in), &fr, &used,
                                          err, sizeof err);
        if (st == REPL_NEED_MORE) return;
        if (st == REPL_BAD) {
            if (!c->peer_ok) {
                fconn_auth_fail(c, "bad frame before the cluster-secret handshake");
                return;
            }
            log_warn_limited(&n->log, &n->limits[NL_REPL_BAD_INPUT], "bad frame from %s: %s", c->peer, err);
            fconn_close(c, "protocol error");
            return;
        }
        if (!c->peer_ok) {
            if (fconn_auth_step(c, &fr) < 0) return;
            iobuf_consume(&c->in, used);
            continue;
        }
        /* The handshake declared what the connection is for. */
        if (!c->authed && c->purpose &&
            (fr.type == REPL_VOTE) != (c->purpose == REPL_AUTH_PURPOSE_VOTE)) {
            fconn_auth_fail(c, "frame does not match the purpose declared in AUTH");
            return;
        }
        if (!c->authed && fr.type == REPL_VOTE) {
            fconn_on_vote(c, &fr);
            if (c->fd < 0) return;
            iobuf_consume(&c->in, used);
            continue;
        }
        if (!c->authed) {
            repl_hello h;
            if (fr.type != REPL_HELLO || repl_decode_hello(&fr, &h) < 0) {
                fconn_refuse(c, "expected HELLO");
                return;
            }
            iobuf_consume(&c->in, used);
            follower_on_hello(c, &h);
            if (c->fd < 0) return;
            continue;
        }
        f->last_seen_ms = ev_now_ms();
        c->acks_held = 0; /* a frame the leader sent after reading our HELLO_OK */
        if (n->cfg.elected && node_elect_on_leader(n, f->leader_epoch, f->leader_id) < 0) {
            fconn_stale(c); /* we moved to a later epoch: this leader is over */
            return;
        }
        if (fr.type == REPL_RECORDS) {
            if (follower_on_records(c, &fr) < 0) {
                fconn_close(c, "bad record");
                return;
            }
        } else if (fr.type == REPL_HEARTBEAT) {
            repl_beat b;
            if (repl_decode_beat(&fr, &b) < 0) {
                fconn_close(c, "malformed heartbeat");
                return;
            }
            f->leader_last_lsn = b.a;
            if (b.b > f->leader_commit_lsn) f->leader_commit_lsn = b.b;
            f->echo_time = b.c;
            follower_send_ack(f); /* the answer to every heartbeat */
            if (c->fd < 0) return;
            node_advance_commit(n);
        } else if (fr.type == REPL_TRUNCATE) {
            repl_beat b;
            char terr[256];
            if (repl_decode_beat(&fr, &b) < 0 || b.a < n->applied_lsn || b.a > n->last_lsn) {
                fconn_close(c, "malformed TRUNCATE");
                return;
            }
            /* The thread must not ACK the tail being cut: the WAL flushes
             * it before the cut, and such an ACK reaching the leader once it
             * has shipped past those LSNs would count records we drop.
             * Re-armed by the next flush, from acked_sent (<= b.a). */
            fast_ack_disarm(f, 0);
            if (node_truncate_log(n, b.a, terr, sizeof terr) < 0) {
                log_warn(&n->log, "cannot drop the tail after lsn %llu: %s",
                         (unsigned long long)b.a, terr);
                fconn_close(c, "cannot truncate");
                return;
            }
            f->truncations++;
            f->match_lsn = b.a; /* committed, hence the leader's too */
            if (f->acked_sent > b.a) f->acked_sent = b.a;
        } else if (fr.type == REPL_MEMBERS) {
            int k = repl_decode_members(&fr, f->members);
            if (k < 0) {
                fconn_close(c, "malformed MEMBERS");
                return;
            }
            f->nmembers = k;
        } else if (fr.type == REPL_TIMEOUT_NOW) {
            repl_beat b;
            if (repl_decode_beat(&fr, &b) < 0) {
                fconn_close(c, "malformed TIMEOUT_NOW");
                return;
            }
            iobuf_consume(&c->in, used);
            if (b.a == f->leader_epoch) node_elect_timeout_now(n, b.a);
            continue;
        } else if (fr.type == REPL_FETCH) {
            if (follower_on_fetch(c, &fr) < 0) return;
        } else if (fr.type == REPL_COMMIT) {
            repl_beat b;
            if (repl_decode_beat(&fr, &b) < 0 || b.b > n->last_lsn) {
                fconn_close(c, "malformed COMMIT");
                return;
            }
            if (b.a > f->leader_commit_lsn) f->leader_commit_lsn = b.a;
            if (b.b > f->match_lsn) f->match_lsn = b.b;
            node_advance_commit(n);
        } else if (fr.type >= REPL_SNAP_BEGIN && fr.type <= REPL_SNAP_END) {
            if (follower_on_snapshot(c, &fr) < 0) {
                fconn_close(c, "bad snapshot transfer");
                return;
            }
            if (c->fd < 0) return; /* (a load may have started: the loop ends) */
        } else if (fr.type == REPL_REFUSE) {
            char reason[REPL_REASON_MAX + 1];
            repl_decode_refuse(&fr, reason, sizeof reason);
            log_warn_limited(&n->log, &n->limits[NL_REPL_REFUSED], "leader refused this follower: %s", reason);
            fconn_close(c, "refused by leader");
            return;
        } else {
            fconn_close(c, "unexpected frame type");
            return;
        }
        iobuf_consume(&c->in, used);
    }
}

static void fconn_on_event(ev_loop *loop, int fd, void *data, unsigned events)
{
    fconn *c = data;
    events = sock_events(c->tls, events);
    if (events & EV_READ) fconn_read(c);
    if (c->fd < 0) return;
    if (fconn_write(c) < 0) {
        fconn_close(c, strerror(errno));
        return;
    }
    fconn_update_events(c);
}

/* Do two "ip:port" peers share the ip? */
static int same_host(const char *a, const char *b)
{
    const char *ca = strrchr(a, ':'), *cb = strrchr(b, ':');
    size_t la = ca ? (size_t)(ca - a) : strlen(a), lb = cb ? (size_t)(cb - b) : strlen(b);
    return la == lb && memcmp(a, b, la) == 0;
}

static void follower_on_accept(ev_loop *loop, int lfd, void *data, unsigned events)
{
    repl_follower *f = data;
    node *n = f->n;
    for (;;) {
        char err[160], peer[64];
        net_keepalive ka = n->cfg.keepalive;
        ka.user_timeout_ms = (ka.idle_s + ka.interval_s * ka.count) * 1000;
        int fd = net_accept(lfd, &ka, peer, sizeof peer, err, sizeof err);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered epoll would call us again at once for the
                 * connection still in the backlog: pause the listener. */
                f->accept_paused_until = ev_now_ms() + REPL_ACCEPT_BACKOFF_MS;
                ev_set(n->loop, f->lfd, 0, NULL, NULL);
                log_warn_limited(&n->log, &n->limits[NL_ACCEPT],
                                 "repl accept: %s; the replication port pauses %d ms", err,
                                 REPL_ACCEPT_BACKOFF_MS);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_warn_limited(&n->log, &n->limits[NL_ACCEPT], "repl accept: %s", err);
            }
            return;
        }
        fconn *slot = NULL;
        for (int i = 0; i < REPL_CONNS_MAX && !slot; i++)
            if (f->conns[i].fd < 0) slot = &f->conns[i];
        if (!slot) {
            /* Evict the oldest connection that has not said HELLO, from the
             * new one's own address if there is one: a flood of connections
             * from one host then only ever displaces its own, never the
             * real leader's handshake from another host. */
            fconn *same = NULL;
            for (int i = 0; i < REPL_CONNS_MAX; i++) {
                fconn *c = &f->conns[i];
                if (c->authed) continue;
                if (!slot || c->since_ms < slot->since_ms) slot = c;
                if (same_host(c->peer, peer) && (!same || c->since_ms < same->since_ms)) same = c;
            }
            if (same) slot = same;
            if (slot) fconn_close(slot, "too many replication connections");
        }
        if (!slot) {
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->authed = 0;
        slot->peer_ok = 0;
        slot->auth_stage = 0;
        slot->purpose = 0;
        slot->since_ms = ev_now_ms();
        snprintf(slot->peer, sizeof slot->peer, "%s", peer);
        /* --tls-replication: the peer must present a certificate of the
         * cluster's CA before any frame is read (HELLO, VOTE). */
        if (n->tls_repl && !(slot->tls = tls_conn_new(n->tls_repl, n->loop, fd, 1, peer, slot))) {
            fconn_close(slot, "out of memory");
            continue;
        }
        if (!n->secret.len) {
            /* Without a secret: loopback only, unless mutual TLS checks
             * the peer's certificate before any frame is read. */
            if (!n->cfg.tls_replication && !net_peer_is_loopback(fd)) {
                fconn_auth_fail(slot, "this node has no --cluster-secret-file (nor "
                                      "--tls-replication), so it takes replication and votes "
                                      "from loopback only");
                continue;
            }
            slot->peer_ok = 1;
        }
        if (ev_set(n->loop, fd, sock_mask(slot->tls, f->installing ? 0 : EV_READ), fconn_on_event,
                   slot) < 0)
            fconn_close(slot, "epoll");
    }
}

void repl_follower_drop_leader(repl_follower *f, const char *why)
{
    if (f->leader) fconn_close(f->leader, why);
}

uint64_t repl_follower_commit_bound(const repl_follower *f)
{
    return f->leader_commit_lsn < f->match_lsn ? f->leader_commit_lsn : f->match_lsn;
}

void repl_follower_durable(repl_follower *f, uint64_t lsn)
{
    /* The WAL thread may have acked it already. */
    uint64_t thr = atomic_load(&f->fa.acked);
    if (thr > f->acked_sent) f->acked_sent = thr;
    if (f->leader && lsn > f->acked_sent) f->ack_due = 1;
}

void repl_follower_flush(repl_follower *f)
{
    if (f->ack_due) follower_send_ack(f);
    fconn *c = f->leader;
    if (c && c->fetching && fetch_pump(c) < 0) return;
    if (c && fconn_out_pending(c)) {
        if (fconn_write(c) < 0) {
            fconn_close(c, strerror(errno));
            return;
        }
        fconn_update_events(c);
    }
    fast_ack_update(f);
}

void repl_follower_cron(repl_follower *f, uint64_t now)
{
    uint64_t timeout = (uint64_t)f->n->cfg.follower_timeout_ms;
    if (f->accept_paused_until && now >= f->accept_paused_until) {
        f->accept_paused_until = 0;
        if (ev_set(f->n->loop, f->lfd, EV_READ, follower_on_accept, f) < 0)
            f->accept_paused_until = now + REPL_ACCEPT_BACKOFF_MS;
    }
    if (f->installing) {
        /* Keep-alive while the snapshot loads: the leader hears us, and
         * ignores what the ACK says until SNAP_ACK. */
        if (f->leader && f->link_seq == f->ld_link_seq &&
            now - f->ld_beat_ms >= (uint64_t)f->n->cfg.heartbeat_ms) {
            f->ld_beat_ms = now;
            follower_send_ack(f);
        }
    }
    for (int i = 0; i < REPL_CONNS_MAX; i++) {
        fconn *c = &f->conns[i];
        if (c->fd < 0) continue;
        if (!c->peer_ok && now - c->since_ms > timeout) {
            fconn_auth_fail(c, "no cluster-secret handshake in time");
        } else if (!c->authed && now - c->since_ms > timeout) fconn_close(c, "no HELLO in time");
        else if (c->authed && !f->installing && now - f->last_seen_ms > timeout * 3)
            fconn_close(c, "leader silent"); /* the leader redials; this frees the slot */
    }
}

void repl_follower_info(const repl_follower *f, info_buf *b)
{
    node *n = f->n;
    uint64_t now = ev_now_ms();
    int up = f->leader && now - f->last_seen_ms <= (uint64_t)n->cfg.follower_timeout_ms;
    info_printf(b,
                "rkv_role:follower\r\nnode_id:%u\r\ncluster_id:%s\r\nepoch:%llu\r\nrepl_port:%d\r\n"
                "last_lsn:%llu\r\ndurable_lsn:%llu\r\napplied_lsn:%llu\r\n%s:%u\r\n"
                "leader_link:%s\r\nleader_last_seen_ms:%llu\r\nleader_last_lsn:%llu\r\n"
                "leader_commit_lsn:%llu\r\nrecords_rejected_crc:%llu\r\nhandshakes:%llu\r\n"
                "refused_connections:%llu\r\nsnapshots_installed:%llu\r\ntruncations:%llu\r\n"
                "wal_thread_acks:%llu\r\n",
                n->cfg.node_id, n->cfg.cluster_id, (unsigned long long)n->epoch, n->repl_port,
                (unsigned long long)n->last_lsn, (unsigned long long)node_durable_now(n),
                (unsigned long long)n->applied_lsn,
                /* Elected, leader_id (the election block) names the leader of
                 * the current epoch; this is only who last held the link. */
                n->cfg.elected ? "link_leader_id" : "leader_id", f->leader_id, up ? "up" : "down",
                (unsigned long long)(f->last_seen_ms ? now - f->last_seen_ms : 0),
                (unsigned long long)f->leader_last_lsn, (unsigned long long)f->leader_commit_lsn,
                (unsigned long long)n->stats.records_rejected_crc,
                (unsigned long long)f->handshakes, (unsigned long long)f->refused,
                (unsigned long long)f->snapshots_installed, (unsigned long long)f->truncations,
                (unsigned long long)atomic_load(&f->fa.sent));
}

size_t repl_follower_mem(const repl_follower *f)
{
    size_t b = sizeof *f;
    for (int i = 0; i < REPL_CONNS_MAX; i++) b += f->conns[i].in.cap + f->conns[i].out.cap;
    return b;
}

int repl_follower_members(const repl_follower *f, repl_peer_info *out, int max)
{
    int k = 0;
    for (int i = 0; i < f->nmembers && k < max; i++) {
        repl_peer_info *p = &out[k++];
        memset(p, 0, sizeof *p);
        p->id = f->members[i].id;
        snprintf(p->host, sizeof p->host, "%s", f->members[i].host);
        p->port = f->members[i].port;
        p->online = f->members[i].online;
        p->acked = f->members[i].acked;
        p->link_state = p->online ? "online" : "down";
    }
    return k;
}

int repl_follower_installing(const repl_follower *f)
{
    return f->installing;
}

int repl_follower_leader(const repl_follower *f, repl_peer_info *out)
{
    if (!f->leader_id) return 0;
    memset(out, 0, sizeof *out);
    out->id = f->leader_id;
    snprintf(out->host, sizeof out->host, "%s", f->leader_host);
    out->port = f->leader_port;
    out->online = f->leader && ev_now_ms() - f->last_seen_ms <= (uint64_t)f->n->cfg.follower_timeout_ms;
    out->acked = f->leader_last_lsn;
    out->seen_ms_ago = f->last_seen_ms ? ev_now_ms() - f->last_seen_ms : 0;
    out->link_state = out->online ? "up" : "down";
    return 1;
}

repl_follower *repl_follower_new(node *n, char *err, size_t errlen)
{
    repl_follower *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->n = n;
    f->snap_fd = -1;
    f->ld_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->ld_efd < 0 || ev_set(n->loop, f->ld_efd, EV_READ, snap_on_loaded, f) < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        if (f->ld_efd >= 0) close(f->ld_efd);
        free(f);
        return NULL;
    }
    for (int i = 0; i < REPL_CONNS_MAX; i++) {
        f->conns[i].f = f;
        f->conns[i].fd = -1;
    }
    f->lfd = net_listen(n->cfg.bind, n->cfg.repl_port, &n->repl_port, err, errlen);
    if (f->lfd < 0 || ev_set(n->loop, f->lfd, EV_READ, follower_on_accept, f) < 0) {
        if (f->lfd >= 0) close(f->lfd);
        ev_set(n->loop, f->ld_efd, 0, NULL, NULL);
        close(f->ld_efd);
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->fa.mu, NULL);
    f->fa.fd = -1;
    repl_follower_attach_wal(f);
    log_info(&n->log, "replication port %s:%d", n->cfg.bind, n->repl_port);
    return f;
}

void repl_follower_attach_wal(repl_follower *f)
{
    if (f->n->walt) wal_thread_set_durable_hook(f->n->walt, fast_ack_durable, f);
}

uint64_t repl_follower_wal_thread_acks(const repl_follower *f)
{
    return atomic_load(&f->fa.sent);
}

void repl_follower_free(repl_follower *f)
{
    if (!f) return;
    if (f->n->walt) wal_thread_set_durable_hook(f->n->walt, NULL, NULL); /* before f goes */
    for (int i = 0; i < REPL_CONNS_MAX; i++) {
        fconn *c = &f->conns[i];
        if (c->fd >= 0) {
            if (c == f->leader) { /* a last ACK of what is durable: best effort */
                (void)fconn_write(c);
            }
            fconn_close(c, "follower stopping");
        }
    }
    snap_abort(f);
    if (f->installing) { /* the load cannot be interrupted: wait for it */
        pthread_join(f->ld_thread, NULL);
        kv_free(f->ld_kv);
        f->installing = 0;
        log_info(&f->n->log, "dropped a checkpoint loaded while stopping (the old state stays)");
    }
    ev_set(f->n->loop, f->ld_efd, 0, NULL, NULL);
    close(f->ld_efd);
    ev_set(f->n->loop, f->lfd, 0, NULL, NULL);
    close(f->lfd);
    pthread_mutex_destroy(&f->fa.mu);
    free(f);
}
