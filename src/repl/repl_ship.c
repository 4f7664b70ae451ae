/* repl_ship.c -- the leader's side of replication: one link per follower.
 *
 * The leader dials each follower's replication port (the brief's topology)
 * and redials with exponential backoff when a link fails. After the
 * handshake the follower says which LSN it holds; the link then either
 * streams live records (appended to its output buffer as the node proposes
 * them, batched into one RECORDS frame per loop iteration) or catches up
 * first, from the records still in memory or from the WAL on disk
 * (repl_rejoin.c). A link whose output backs up beyond REPL_OUT_HIGH stops
 * taking live records and falls back to catch-up, so a slow follower costs
 * bounded memory and never slows the others: every link has its own buffer
 * and socket, and no write ever blocks.
 *
 * Failure detection: TCP keepalive and TCP_USER_TIMEOUT on the socket, plus
 * heartbeats every heartbeat_ms that the follower must answer within
 * follower_timeout_ms. A silent follower is marked offline (logged once at
 * the transition) and its link is closed and redialled. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls.h"
#include "repl/repl.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"
#include "repl/repl_rejoin.h"
#include "server/node.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_writer.h"

#define REPL_OUT_LOW (1u << 20)       /* catch-up refills below this */
#define REPL_OUT_HIGH (64u << 20)     /* live streaming stops above this */
#define REPL_IN_MAX (1u << 20)        /* follower->leader frames are tiny */
#define REPL_BACKOFF_MIN_MS 50
#define REPL_BACKOFF_MAX_MS 2000
#define REPL_LAG_SAMPLES 4096         /* (lsn, time) ring for lag_ms */
#define REPL_PROGRESS_EVERY 100000    /* catch-up progress log period, records */

enum link_state {
    LINK_DOWN,
    LINK_CONNECTING,
    LINK_HANDSHAKE,
    LINK_RECOVER,   /* fenced leader: waits to hear from enough followers (no records) */
    LINK_FETCH,     /* this (fenced) leader takes committed records back from the follower */
    LINK_SNAPWAIT,  /* a checkpoint is being written for this follower */
    LINK_SNAPSHOT,  /* sending a checkpoint file */
    LINK_CATCHUP,   /* sending from the WAL / pending log */
    LINK_STREAMING, /* live: every new record is appended as it is made */
};
static const char *const link_state_names[] = {"down",         "connecting",  "handshake", "recovering", "fetching",
                                               "snapshot_wait", "snapshot",   "catching_up",
                                               "streaming"};

typedef struct flink {
    repl_leader *l;
    int idx;
    cfg_peer peer;
    int fd;
    struct tls_conn *tls; /* --tls-replication: the link's TLS state, else NULL */
    enum link_state state;
    uint64_t retry_at_ms, backoff_ms, state_since_ms;
    uint32_t node_id; /* reported by the follower */
    char client_host[REPL_HOST_MAX + 1]; /* its announced client address */
    int client_port;
    uint64_t acked_lsn;
    uint64_t sent_lsn;
    uint64_t commit_sent, match_sent; /* last COMMIT frame's values */
    uint64_t fetch_to;                /* LINK_FETCH: last LSN asked for */
    uint64_t h_last, h_epoch;         /* LINK_RECOVER: the follower's log end */
    int fetch_check;                  /* the first record fetched must be our last one */
    int online;
    uint64_t last_heard_ms, last_beat_ms;
    uint64_t hello_sent_ms; /* HELLO_OK echoes it: the lease counts it as a heartbeat */
    int auth_wait;          /* AUTH sent, the follower's CHALLENGE not yet checked */
    uint8_t auth_nonce[RKV_NONCE_LEN];
    uint64_t members_sent;  /* members_gen + 1 of the last MEMBERS sent on this link (0: none) */
    iobuf in, out;
    int frame_open;
    size_t frame_bytes; /* payload bytes of the open RECORDS frame */
    repl_cursor cur;
    int cur_open;
    int snap_fd;
    uint64_t snap_lsn, snap_epoch, snap_off, snap_size;
    int snap_unacked; /* a snapshot was started: ACKs count from its install on */
    uint64_t catchup_target, catchup_start, catchup_logged;
    uint64_t catchup_bytes; /* record bytes sent by the current catch-up */
    uint64_t catchup_wal, catchup_snapshot, reconnects, truncations;
} flink;

typedef struct lag_sample {
    uint64_t lsn, ms;
} lag_sample;

struct repl_leader {
    node *n;
    flink links[CFG_FOLLOWERS_MAX];
    int nlinks;
    lag_sample lag[REPL_LAG_SAMPLES];
    size_t lag_head, lag_len;
    /* Elections: the highest epoch a follower answered STALE with. The node
     * steps down when it sees it (repl_leader_stale_epoch), outside our
     * callbacks, since stepping down frees this struct. */
    uint64_t stale_epoch;
    uint64_t members_gen; /* bumped when a follower's link goes online or offline */
};

static void link_on_event(ev_loop *loop, int fd, void *data, unsigned events);
static void link_close_frame(flink *lk);
static void link_start_snapshot(flink *lk, const char *why);
static void leader_try_recover(repl_leader *l);
static void link_fetch(flink *lk);

/* Is LK the link that counts for its node? A quorum counts nodes, not
 * links: if one node answered on two addresses (a --followers list naming
 * it twice under different names), only the first link that claimed its
 * node id counts (link_on_hello_ok refuses the other). */
static int link_counts(const flink *lk)
{
    if (lk->node_id == 0) return 0; /* never completed a handshake */
    const repl_leader *l = lk->l;
    for (int i = 0; i < lk->idx; i++)
        if (l->links[i].node_id == lk->node_id) return 0;
    return 1;
}

size_t repl_leader_mem(const repl_leader *l)
{
    size_t b = sizeof *l;
    for (int i = 0; i < l->nlinks; i++) b += l->links[i].in.cap + l->links[i].out.cap;
    return b;
}

int repl_leader_online(const repl_leader *l)
{
    int k = 0;
    for (int i = 0; i < l->nlinks; i++) k += l->links[i].online && link_counts(&l->links[i]);
    return k;
}

int repl_leader_count(const repl_leader *l)
{
    return l->nlinks;
}

uint64_t repl_leader_retain_lsn(const repl_leader *l)
{
    uint64_t need = UINT64_MAX;
    for (int i = 0; i < l->nlinks; i++) {
        const flink *lk = &l->links[i];
        uint64_t v = UINT64_MAX;
        if (lk->state == LINK_CATCHUP) v = lk->sent_lsn + 1;
        else if (lk->state == LINK_SNAPSHOT) v = lk->snap_lsn + 1;
        if (v < need) need = v;
    }
    return need;
}

int repl_leader_acked_at_least(const repl_leader *l, uint64_t lsn)
{
    int k = 0;
    for (int i = 0; i < l->nlinks; i++)
        k += l->links[i].online && link_counts(&l->links[i]) && l->links[i].acked_lsn >= lsn;
    return k;
}

/* ---- link life cycle ---- */

static int link_send_ctrl(flink *lk, const uint8_t *frame, size_t len);

/* Tells every online follower the followers' client addresses and links
 * (MEMBERS), so ROLE and SENTINEL answer the same on any node. */
static void leader_send_members(repl_leader *l)
{
    int due = 0;
    for (int i = 0; i < l->nlinks && !due; i++)
        due = l->links[i].fd >= 0 && l->links[i].state == LINK_STREAMING &&
              l->links[i].members_sent != l->members_gen + 1;
    if (!due) return;
    repl_member m[REPL_MEMBERS_MAX];
    int k = 0;
    memset(m, 0, sizeof m);
    for (int i = 0; i < l->nlinks && k < (int)REPL_MEMBERS_MAX; i++) {
        const flink *o = &l->links[i];
        if (!o->node_id || !o->client_port) continue;
        m[k].id = o->node_id;
        m[k].online = (uint8_t)o->online;
        m[k].acked = o->acked_lsn;
        m[k].port = (uint16_t)o->client_port;
        snprintf(m[k].host, sizeof m[k].host, "%s", o->client_host);
        k++;
    }
    uint8_t frame[REPL_FRAME_HDR + REPL_MEMBERS_FRAME_MAX];
    size_t len = repl_encode_members(frame, m, k);
    for (int i = 0; i < l->nlinks; i++) {
        flink *o = &l->links[i];
        /* Only to live streams (a catch-up's first frames stay records),
         * once per change; advisory: out of memory, that view stays older. */
        if (o->fd < 0 || o->state != LINK_STREAMING || o->members_sent == l->members_gen + 1)
            continue;
        if (link_send_ctrl(o, frame, len) == 0) o->members_sent = l->members_gen + 1;
    }
}

static void link_set_online(flink *lk, int online, const char *why)
{
    node *n = lk->l->n;
    if (lk->online == online) return;
    lk->online = online;
    lk->l->members_gen++; /* sent by the cron to streaming links */
    if (online)
        log_info(&n->log, "follower %s:%d (node %u) online=1", lk->peer.host, lk->peer.port,
                 lk->node_id);
    else
        log_warn(&n->log, "follower %s:%d (node %u) online=0: %s", lk->peer.host, lk->peer.port,
                 lk->node_id, why);
}

static void link_close(flink *lk, const char *why)
{
    node *n = lk->l->n;
    if (lk->fd >= 0) {
        ev_set(n->loop, lk->fd, 0, NULL, NULL);
        sock_close(&lk->tls, lk->fd);
        lk->fd = -1;
    }
    if (lk->state >= LINK_HANDSHAKE)
        log_info(&n->log, "link to follower %s:%d closed: %s", lk->peer.host, lk->peer.port, why);
    if (lk->node_id) node_elect_on_link_lost(n, lk->node_id);
    link_set_online(lk, 0, why);
    lk->state = LINK_DOWN;
    lk->auth_wait = 0;
    lk->members_sent = 0; /* the next link hears MEMBERS again */
    iobuf_free(&lk->in);
    iobuf_free(&lk->out);
    lk->frame_open = 0;
    lk->frame_bytes = 0;
    if (lk->cur_open) repl_cursor_close(&lk->cur);
    lk->cur_open = 0;
    if (lk->snap_fd >= 0) close(lk->snap_fd);
    lk->snap_fd = -1;
    uint64_t now = ev_now_ms();
    lk->retry_at_ms = now + lk->backoff_ms;
    lk->backoff_ms = lk->backoff_ms * 2 > REPL_BACKOFF_MAX_MS ? REPL_BACKOFF_MAX_MS
                                                              : lk->backoff_ms * 2;
    lk->state_since_ms = now;
}

static void link_update_events(flink *lk)
{
    unsigned mask = EV_READ;
    if (lk->state == LINK_CONNECTING || iobuf_used(&lk->out) > 0) mask |= EV_WRITE;
    mask = sock_mask(lk->tls, mask);
    if (ev_mask(lk->l->n->loop, lk->fd) != mask)
        ev_set(lk->l->n->loop, lk->fd, mask, link_on_event, lk);
}

static void link_close_frame(flink *lk)
{
    if (!lk->frame_open) return;
    uint8_t *payload = lk->out.p + lk->out.len - lk->frame_bytes;
    repl_frame_header(payload - REPL_FRAME_HDR, REPL_RECORDS, payload, (uint32_t)lk->frame_bytes);
    lk->frame_open = 0;
    lk->frame_bytes = 0;
}

/* Appends whole records to the open RECORDS frame (opening one). */
static int link_append_records(flink *lk, const uint8_t *recs, size_t len)
{
    if (lk->frame_open && lk->frame_bytes + len > REPL_BATCH_TARGET) link_close_frame(lk);
    if (!lk->frame_open) {
        uint8_t hdr[REPL_FRAME_HDR] = {0};
        if (iobuf_append(&lk->out, hdr, sizeof hdr) < 0) return -1;
        lk->frame_open = 1;
        lk->frame_bytes = 0;
    }
    if (iobuf_append(&lk->out, recs, len) < 0) return -1;
    lk->frame_bytes += len;
    return 0;
}

static int link_send_ctrl(flink *lk, const uint8_t *frame, size_t len)
{
    link_close_frame(lk);
    return iobuf_append(&lk->out, frame, len);
}


/* Bytes queued for this follower and not yet written to its socket. */
static size_t link_out_bytes(const flink *lk)
{
    return iobuf_used(&lk->out);
}

/* Writes the link's output. 0, or -1 if the link failed. */
static int link_send_out(flink *lk)
{
    link_close_frame(lk);
    return iobuf_write_conn(&lk->out, lk->tls, lk->fd);
}

static void link_dial(flink *lk, uint64_t now)
{
    node *n = lk->l->n;
    char err[256];
    net_keepalive ka = n->cfg.keepalive;
    ka.user_timeout_ms = (ka.idle_s + ka.interval_s * ka.count) * 1000;
    lk->fd = net_connect(lk->peer.host, lk->peer.port, 1, &ka, err, sizeof err);
    lk->state_since_ms = now;
    if (lk->fd < 0) {
        log_debug(&n->log, "dial follower %s:%d: %s", lk->peer.host, lk->peer.port, err);
        lk->state = LINK_CONNECTING; /* so link_close schedules the retry */
        link_close(lk, err);
        return;
    }
    lk->state = LINK_CONNECTING;
    lk->reconnects++;
    link_update_events(lk);
}

static void link_send_hello(flink *lk)
{
    node *n = lk->l->n;
    repl_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.cluster_id, sizeof h.cluster_id, "%s", n->cfg.cluster_id);
    h.node_id = n->cfg.node_id;
    h.epoch = n->epoch;
    h.last_lsn = n->last_lsn;
    h.commit_lsn = n->commit_lsn;
    h.members_crc = n->cfg.elected ? n->cfg.members_crc : 0;
    h.client_port = node_announce(n, h.client_host, sizeof h.client_host);
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_hello(frame, &h);
    lk->state = LINK_HANDSHAKE;
    lk->state_since_ms = lk->hello_sent_ms = ev_now_ms();
    if (link_send_ctrl(lk, frame, len) < 0) link_close(lk, "out of memory");
}

/* With a cluster secret, the link opens with the handshake of repl_auth.h;
 * HELLO follows only once the follower has proved the secret. */
static void link_send_auth(flink *lk)
{
    node *n = lk->l->n;
    repl_auth_msg m;
    if (repl_auth_start(&m, REPL_AUTH_PURPOSE_LINK, n->cfg.node_id, n->cfg.cluster_id,
                        lk->auth_nonce) < 0) {
        link_close(lk, "no random bytes for the handshake");
        return;
    }
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_auth(frame, &m);
    lk->state = LINK_HANDSHAKE;
    lk->state_since_ms = ev_now_ms();
    lk->auth_wait = 1;
    if (link_send_ctrl(lk, frame, len) < 0) link_close(lk, "out of memory");
}

/* The follower's CHALLENGE: check its proof, answer with ours, then HELLO.
 * 0, or -1 when the link was closed. */
static int link_on_challenge(flink *lk, const repl_frame *f)
{
    node *n = lk->l->n;
    repl_auth_msg ch, pr;
    if (repl_decode_challenge(f, &ch) < 0 ||
        !repl_auth_verify(&n->secret, REPL_AUTH_ACCEPTOR, n->cfg.cluster_id,
                          REPL_AUTH_PURPOSE_LINK, n->cfg.node_id, ch.id, lk->auth_nonce, ch.nonce,
                          ch.mac)) {
        n->stats.repl_auth_failures++;
        log_warn_limited(&n->log, &n->limits[NL_REPL_AUTH],
                         "follower %s:%d did not prove the cluster secret (not a member of this "
                         "cluster, or a different secret): nothing is sent to it",
                         lk->peer.host, lk->peer.port);
        link_close(lk, "follower failed the cluster-secret handshake");
        return -1;
    }
    memset(&pr, 0, sizeof pr);
    if (repl_auth_mac(&n->secret, REPL_AUTH_DIALLER, n->cfg.cluster_id, REPL_AUTH_PURPOSE_LINK,
                      n->cfg.node_id, ch.id, lk->auth_nonce, ch.nonce, pr.mac) < 0) {
        link_close(lk, "cannot compute the handshake proof");
        return -1;
    }
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_proof(frame, &pr);
    lk->auth_wait = 0;
    if (link_send_ctrl(lk, frame, len) < 0) {
        link_close(lk, "out of memory");
        return -1;
    }
    link_send_hello(lk);
    return lk->state == LINK_DOWN ? -1 : 0;
}

static void link_refuse(flink *lk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void link_refuse(flink *lk, const char *fmt, ...)
{
    char reason[REPL_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    log_warn_limited(&lk->l->n->log, &lk->l->n->limits[NL_LINK], "refusing follower %s:%d: %s", lk->peer.host, lk->peer.port, reason);
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_refuse(frame, reason);
    ssize_t w = sock_write(lk->tls, lk->fd, frame, len); /* best effort: we close right after */
    (void)w;
    link_close(lk, reason);
}

/* Tells the follower the commit LSN and how far its log is known to be ours
 * (sent_lsn: every record up to it precedes this frame in the stream). The
 * follower applies and serves only up to the smaller of the two. */
static int link_send_commit(flink *lk)
{
    node *n = lk->l->n;
    if (lk->state != LINK_CATCHUP && lk->state != LINK_STREAMING) return 0;
    if (lk->snap_unacked) return 0;
    uint64_t match = lk->sent_lsn;
    /* Only when it lets the follower apply more: the commit moved, or the
     * last match sent was below the commit and has moved since. */
    if (n->commit_lsn == lk->commit_sent &&
        (match == lk->match_sent || lk->match_sent >= lk->commit_sent))
        return 0;
    repl_beat b = {n->commit_lsn, match, 0};
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_beat(frame, REPL_COMMIT, &b);
    if (link_send_ctrl(lk, frame, len) < 0) return -1;
    lk->commit_sent = n->commit_lsn;
    lk->match_sent = match;
    return 0;
}

/* ---- catch-up ---- */

/* Copies records FROM..last_lsn out of the node's pending log (records not
 * yet applied live there, in LSN order). */
static int link_copy_pending(flink *lk, uint64_t from)
{
    node *n = lk->l->n;
    iobuf *b = &n->pending;
    size_t off = b->pos;
    uint64_t lsn = n->applied_lsn + 1;
    while (lsn < from && off < b->len) { /* skip what the follower has */
        off += wal_get_u32(b->p + off);
        lsn++;
    }
    if (off < b->len && link_append_records(lk, b->p + off, b->len - off) < 0) return -1;
    lk->catchup_bytes += b->len - off;
    lk->sent_lsn = n->last_lsn;
    return 0;
}

static void link_start_streaming(flink *lk)
{
    node *n = lk->l->n;
    if (lk->state == LINK_CATCHUP && lk->catchup_target) {
        uint64_t ms = ev_now_ms() - lk->state_since_ms;
        double secs = ms ? (double)ms / 1000.0 : 0.001;
        uint64_t recs = lk->sent_lsn - lk->catchup_start;
        log_info(&n->log,
                 "follower node %u caught up: %llu records, %.1f MB in %llu ms (%.0f records/s, "
                 "%.0f MB/s)",
                 lk->node_id, (unsigned long long)recs, (double)lk->catchup_bytes / 1e6,
                 (unsigned long long)ms, (double)recs / secs,
                 (double)lk->catchup_bytes / 1e6 / secs);
    }
    lk->state = LINK_STREAMING;
    lk->state_since_ms = ev_now_ms();
    if (lk->cur_open) repl_cursor_close(&lk->cur);
    lk->cur_open = 0;
}

/* Refills a catching-up link while its output is below the low-water mark. */
static void link_pump(flink *lk)
{
    node *n = lk->l->n;
    char err[256];
    while (lk->state == LINK_CATCHUP && link_out_bytes(lk) < REPL_OUT_LOW) {
        uint64_t next = lk->sent_lsn + 1;
        if (next > n->last_lsn) {
            link_start_streaming(lk);
            return;
        }
        if (next > n->applied_lsn) { /* the rest is in memory */
            if (link_copy_pending(lk, next) < 0) {
                link_close(lk, "out of memory");
                return;
            }
            link_start_streaming(lk);
            return;
        }
        if (!lk->cur_open) {
            int rc = repl_cursor_open(&lk->cur, n->store_dir, next, err, sizeof err);
            if (rc != CURSOR_OK) {
                repl_cursor_close(&lk->cur);
                link_refuse(lk, "cannot catch up from lsn %llu: %s", (unsigned long long)next, err);
                return;
            }
            lk->cur_open = 1;
        }
        link_close_frame(lk);
        /* Offsets from the unsent start: appending may compact the buffer
         * (memmove to the front), which moves absolute offsets but not these. */
        size_t hdr_at = iobuf_used(&lk->out);
        uint8_t hdr[REPL_FRAME_HDR] = {0};
        if (iobuf_append(&lk->out, hdr, sizeof hdr) < 0) {
            link_close(lk, "out of memory");
            return;
        }
        /* Records <= applied_lsn are durable here, hence on disk. */
        long got = repl_cursor_read(&lk->cur, &lk->out, n->applied_lsn, REPL_BATCH_TARGET, err,
                                    sizeof err);
        if (got <= 0) {
            lk->out.len = lk->out.pos + hdr_at;
            if (got < 0) {
                /* Bit rot found at run time (recovery checked this log at
                 * start): say so loudly, count it, and serve this follower
                 * from a snapshot at or past the damage instead of retrying
                 * the same bad bytes forever. */
                uint64_t bad = lk->sent_lsn + 1;
                n->stats.wal_corruptions++;
                snprintf(n->wal_corruption, sizeof n->wal_corruption, "%s", err);
                log_error_limited(&n->log, &n->limits[NL_CATCHUP],
                                  "WAL damage found at run time while catching up node %u from "
                                  "lsn %llu: %s; it rejoins by snapshot",
                                  lk->node_id, (unsigned long long)bad, err);
                repl_cursor_close(&lk->cur);
                lk->cur_open = 0;
                if (n->snapshot_lsn < bad) n->snapshot_lsn = 0; /* too old: write a fresh one */
                link_start_snapshot(lk, "the WAL it needs is damaged here");
            }
            return;
        }
        uint8_t *frame = lk->out.p + lk->out.pos + hdr_at;
        size_t plen = iobuf_used(&lk->out) - hdr_at - REPL_FRAME_HDR;
        repl_frame_header(frame, REPL_RECORDS, frame + REPL_FRAME_HDR, (uint32_t)plen);
        lk->catchup_bytes += plen;
        lk->sent_lsn += (uint64_t)got;
        if (lk->sent_lsn - lk->catchup_logged >= REPL_PROGRESS_EVERY) {
            lk->catchup_logged = lk->sent_lsn;
            log_info(&n->log, "catch-up of node %u: sent lsn %llu of %llu", lk->node_id,
                     (unsigned long long)lk->sent_lsn, (unsigned long long)n->last_lsn);
        }
    }
}


/* ---- snapshot rejoin ---- */

static void link_snapshot_begin(flink *lk)
{
    node *n = lk->l->n;
    char path[WAL_PATH_MAX];
    if (wal_checkpoint_path(path, sizeof path, n->store_dir, n->snapshot_lsn) < 0) {
        link_close(lk, "checkpoint path too long");
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        log_warn(&n->log, "cannot open checkpoint %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        lk->state = LINK_SNAPWAIT; /* write a new one */
        n->snapshot_lsn = 0;
        node_checkpoint_start(n);
        return;
    }
    lk->snap_fd = fd; /* held open: a prune may unlink the file meanwhile */
    lk->snap_lsn = n->snapshot_lsn;
    lk->snap_off = 0;
    lk->snap_size = (uint64_t)st.st_size;
    uint64_t epoch = 0;
    node_record_epoch(n, lk->snap_lsn, &epoch);
    lk->snap_epoch = epoch;
    repl_beat b = {lk->snap_lsn, epoch, lk->snap_size};
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_beat(frame, REPL_SNAP_BEGIN, &b);
    lk->state = LINK_SNAPSHOT;
    lk->state_since_ms = ev_now_ms();
    lk->catchup_snapshot++;
    log_info(&n->log, "sending checkpoint of lsn %llu (%llu bytes) to follower node %u",
             (unsigned long long)lk->snap_lsn, (unsigned long long)lk->snap_size, lk->node_id);
    if (link_send_ctrl(lk, frame, len) < 0) link_close(lk, "out of memory");
}

/* Sends the next chunks of the checkpoint file, then SNAP_END, then moves
 * on to WAL catch-up from the checkpoint's LSN. */
static void link_snapshot_pump(flink *lk)
{
    node *n = lk->l->n;
    while (lk->state == LINK_SNAPSHOT && link_out_bytes(lk) < REPL_OUT_LOW) {
        link_close_frame(lk);
        if (lk->snap_off == lk->snap_size) {
            repl_beat b = {lk->snap_lsn, lk->snap_size, 0};
            uint8_t frame[REPL_CTRL_MAX];
            size_t len = repl_encode_beat(frame, REPL_SNAP_END, &b);
            if (link_send_ctrl(lk, frame, len) < 0) {
                link_close(lk, "out of memory");
                return;
            }
            close(lk->snap_fd);
            lk->snap_fd = -1;
            log_info(&n->log, "checkpoint sent to follower node %u in %.1f s", lk->node_id,
                     (double)(ev_now_ms() - lk->state_since_ms) / 1000.0);
            lk->sent_lsn = lk->snap_lsn;
            lk->state = LINK_CATCHUP;
            lk->catchup_start = lk->catchup_logged = lk->sent_lsn;
            lk->catchup_bytes = 0;
            lk->catchup_target = n->last_lsn;
            return;
        }
        size_t want = REPL_SNAP_CHUNK_MAX;
        if (lk->snap_size - lk->snap_off < want) want = (size_t)(lk->snap_size - lk->snap_off);
        if (iobuf_reserve(&lk->out, REPL_FRAME_HDR + want) < 0) {
            link_close(lk, "out of memory");
            return;
        }
        uint8_t *hdr = lk->out.p + lk->out.len;
        ssize_t r = pread(lk->snap_fd, hdr + REPL_FRAME_HDR, want, (off_t)lk->snap_off);
        if (r <= 0) {
            log_error(&n->log, "reading checkpoint for node %u: %s", lk->node_id,
                      r < 0 ? strerror(errno) : "file shrank");
            link_close(lk, "checkpoint read failed");
            return;
        }
        repl_frame_header(hdr, REPL_SNAP_CHUNK, hdr + REPL_FRAME_HDR, (uint32_t)r);
        lk->out.len += REPL_FRAME_HDR + (size_t)r;
        lk->snap_off += (uint64_t)r;
    }
}

/* Sends a checkpoint (writing one first if there is none). */
static void link_start_snapshot(flink *lk, const char *why)
{
    node *n = lk->l->n;
    log_info(&n->log, "follower node %u rejoins by snapshot: %s", lk->node_id, why);
    lk->acked_lsn = 0; /* it will hold only what it acknowledges from now on */
    lk->snap_unacked = 1;
    if (n->snapshot_lsn == 0 || n->ckpt_pid > 0) {
        lk->state = LINK_SNAPWAIT;
        lk->state_since_ms = ev_now_ms();
        if (node_checkpoint_start(n) < 0) link_close(lk, "cannot write a checkpoint");
        return;
    }
    link_snapshot_begin(lk);
}

/* Is record LSN still available to catch up from (WAL or memory)? */
static int leader_has_lsn(node *n, uint64_t lsn)
{
    if (lsn > n->applied_lsn) return 1;
    uint64_t *firsts = NULL;
    size_t cnt = 0;
    char err[128];
    int ok = wal_segments_list(n->store_dir, &firsts, &cnt, err, sizeof err) == 0 && cnt > 0 &&
             firsts[0] <= lsn;
    free(firsts);
    return ok;
}

/* ---- frames from the follower ---- */

static void link_on_hello_ok(flink *lk, const repl_hello_ok *h)
{
    repl_leader *l = lk->l;
    node *n = l->n;
    /* One node, one vote: a node id already claimed by another link (up or
     * down) is the same node reached under a second address. */
    for (int i = 0; i < l->nlinks; i++) {
        flink *o = &l->links[i];
        if (o != lk && o->node_id == h->node_id) {
            link_refuse(lk,
                        "node id %u already answers as follower %s:%d: --followers names one "
                        "node twice, and a node counts once toward the quorum",
                        h->node_id, o->peer.host, o->peer.port);
            return;
        }
    }
    if (h->node_id == n->cfg.node_id) {
        link_refuse(lk, "follower has the leader's own node id %u", h->node_id);
        return;
    }
    if (h->commit_lsn > n->last_lsn) {
        /* The follower knows of a commit beyond our log's end: our log lost
         * committed records. Rebuilding anyone from it would make the
         * cluster forget them. */
        char why[256];
        snprintf(why, sizeof why,
                 "follower node %u knows lsn %llu was committed, but this leader's log ends at "
                 "lsn %llu: committed records are missing here",
                 h->node_id, (unsigned long long)h->commit_lsn, (unsigned long long)n->last_lsn);
        node_fence_until(n, h->commit_lsn, why);
    }
    if (n->fenced) {
        /* The records we lost are on the followers, but a committed record
         * need only be on Q of them: wait until enough followers answered
         * that every possible quorum is among them, then take the longest
         * of their logs (the most recent epoch first, as Raft's vote rule),
         * and lead again. Until then, nothing is shipped to anyone. */
        if (n->fence_need && !n->wal_failed) {
            lk->node_id = h->node_id;
            lk->state = LINK_RECOVER;
            lk->state_since_ms = lk->last_heard_ms = ev_now_ms();
            lk->h_last = h->last_lsn;
            lk->h_epoch = h->last_epoch;
            leader_try_recover(l);
            return;
        }
        link_refuse(lk, "the leader refuses to lead: %.150s", n->fence_reason);
        return;
    }
    /* Raft's rule for a leader that has written nothing in its epoch yet:
     * the most recent log wins. A follower whose log goes further in our
     * last record's epoch (records we shipped, then lost or never synced)
     * or holds a later epoch is not rebuilt from ours: we take its records
     * first (those not committed may commit; their clients were told
     * nothing). Once we have written in our own epoch, ours is the most
     * recent log by definition. */
    if (n->last_rec_epoch < n->epoch && !n->wal_failed &&
        (h->last_epoch > n->last_rec_epoch ||
         (h->last_epoch == n->last_rec_epoch && h->last_lsn > n->last_lsn))) {
        char why[200];
        snprintf(why, sizeof why,
                 "follower node %u has a more recent log (lsn %llu, epoch %llu) than this one "
                 "(lsn %llu, epoch %llu): taking its records first",
                 h->node_id, (unsigned long long)h->last_lsn, (unsigned long long)h->last_epoch,
                 (unsigned long long)n->last_lsn, (unsigned long long)n->last_rec_epoch);
        node_fence_until(n, h->last_lsn, why);
        lk->node_id = h->node_id;
        lk->last_heard_ms = ev_now_ms();
        lk->h_last = h->last_lsn;
        lk->h_epoch = h->last_epoch;
        log_warn(&n->log, "%s", why);
        link_fetch(lk);
        return;
    }
    lk->node_id = h->node_id;
    node_elect_on_ack(n, lk->node_id, lk->hello_sent_ms); /* it took our HELLO: it follows us */
    snprintf(lk->client_host, sizeof lk->client_host, "%s", h->client_host);
    lk->client_port = h->client_port;
    lk->snap_unacked = 0;
    lk->commit_sent = lk->match_sent = 0;
    lk->backoff_ms = REPL_BACKOFF_MIN_MS;
    lk->last_heard_ms = ev_now_ms();
    link_set_online(lk, 1, "");
    /* Where does the follower's log stand against ours? (epoch, lsn) names a
     * record uniquely: one leader per epoch, epochs never reused. */
    uint64_t F = h->last_lsn, mine = 0, A = h->applied_lsn;
    char why[160] = "";
    int divergent = F > n->last_lsn || (node_record_epoch(n, F, &mine) && mine != h->last_epoch);
    /* A divergent tail sits above what the follower applied (it applies only
     * what a leader said is committed, and committed records are the same
     * everywhere): it drops the tail and catches up from there, when we
     * still have the records after that point. Otherwise, a snapshot. */
    if (divergent && A < F && A <= n->last_lsn &&
        n->last_lsn - A <= n->cfg.catchup_max_lag_records &&
        (A == n->last_lsn || leader_has_lsn(n, A + 1))) {
        repl_beat b = {A, 0, 0};
        uint8_t frame[REPL_CTRL_MAX];
        size_t len = repl_encode_beat(frame, REPL_TRUNCATE, &b);
        log_info(&n->log, "follower node %u has a divergent tail (lsn %llu epoch %llu): it drops "
                          "the records after its applied lsn %llu and catches up from there",
                 lk->node_id, (unsigned long long)F, (unsigned long long)h->last_epoch,
                 (unsigned long long)A);
        if (link_send_ctrl(lk, frame, len) < 0) {
            link_close(lk, "out of memory");
            return;
        }
        lk->truncations++;
        F = A;
        divergent = 0;
    }
    if (F > n->last_lsn)
        snprintf(why, sizeof why, "it holds lsn %llu beyond the leader's %llu (divergent tail)",
                 (unsigned long long)F, (unsigned long long)n->last_lsn);
    else if (!node_record_epoch(n, F, &mine))
        snprintf(why, sizeof why, "its lsn %llu is no longer in the leader's WAL",
                 (unsigned long long)F);
    else if (divergent)
        snprintf(why, sizeof why, "its record %llu has epoch %llu, the leader's has %llu (divergent)",
                 (unsigned long long)F, (unsigned long long)h->last_epoch, (unsigned long long)mine);
    else if (n->last_lsn - F > n->cfg.catchup_max_lag_records)
        snprintf(why, sizeof why, "%llu records behind (catchup-max-lag-records %llu)",
                 (unsigned long long)(n->last_lsn - F),
                 (unsigned long long)n->cfg.catchup_max_lag_records);
    else if (F < n->last_lsn && !leader_has_lsn(n, F + 1))
        snprintf(why, sizeof why, "lsn %llu was removed from the WAL by a checkpoint",
                 (unsigned long long)F + 1);
    if (why[0]) {
        link_start_snapshot(lk, why);
        return;
    }
    /* Count as acknowledged only what the follower has applied, which it
     * does only once durable: its last_lsn may include records still in its
     * group commit, and no OK may count those. Its next ACK (at the latest,
     * the answer to the next heartbeat) reports its durable LSN. */
    lk->acked_lsn = h->applied_lsn < F ? h->applied_lsn : F;
    lk->sent_lsn = F;
    if (lk->sent_lsn < n->last_lsn) {
        lk->state = LINK_CATCHUP;
        lk->state_since_ms = ev_now_ms();
        lk->catchup_start = lk->catchup_logged = lk->sent_lsn;
        lk->catchup_bytes = 0;
        lk->catchup_target = n->last_lsn;
        if (lk->sent_lsn < n->applied_lsn) {
            lk->catchup_wal++;
            log_info(&n->log, "follower node %u at lsn %llu, leader at %llu: catching up from the WAL",
                     lk->node_id, (unsigned long long)lk->sent_lsn,
                     (unsigned long long)n->last_lsn);
        }
        link_pump(lk);
    } else {
        lk->state = LINK_STREAMING;
        lk->catchup_target = 0;
    }
    node_advance_commit(n);
}

/* A fenced leader that heard from enough followers (every quorum of Q
 * followers meets any nlinks - Q + 1 of them) fetches from the one with the
 * most recent log everything after its own last record. */
static void leader_try_recover(repl_leader *l)
{
    node *n = l->n;
    int need = l->nlinks - n->cfg.quorum + 1, have = 0;
    if (need > l->nlinks) need = l->nlinks;
    if (need < 1) need = 1;
    flink *best = NULL;
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        if (lk->state == LINK_FETCH) return; /* one fetch at a time */
        if (lk->state != LINK_RECOVER || !link_counts(lk)) continue;
        have++;
        if (!best || lk->h_epoch > best->h_epoch ||
            (lk->h_epoch == best->h_epoch && lk->h_last > best->h_last))
            best = lk;
    }
    if (have < need) {
        log_warn_limited(&n->log, &n->limits[NL_LINK],
                         "lost committed records: %d of the %d followers needed to find them "
                         "have answered; waiting for the others",
                         have, need);
        return;
    }
    if (best->h_last <= n->last_lsn) {
        log_error_limited(&n->log, &n->limits[NL_LINK],
                          "lost committed records up to lsn %llu, and no follower holds more "
                          "than this log (lsn %llu): an operator must restore them",
                          (unsigned long long)n->fence_need, (unsigned long long)n->last_lsn);
        return;
    }
    link_fetch(best);
    log_warn(&n->log, "fetching lsn %llu..%llu back from follower node %u, the most recent log "
                      "of %d followers (this log ends at %llu, lsn %llu was committed)",
             (unsigned long long)n->last_lsn + 1, (unsigned long long)best->h_last, best->node_id,
             have, (unsigned long long)n->last_lsn, (unsigned long long)n->fence_need);
}

/* Asks LK's follower for its records after our last one, from our last one
 * on: the overlap proves its log extends ours (link_on_fetched). */
static void link_fetch(flink *lk)
{
    node *n = lk->l->n;
    lk->state = LINK_FETCH;
    lk->state_since_ms = ev_now_ms();
    lk->fetch_to = lk->h_last;
    lk->fetch_check = n->last_lsn > 0;
    repl_beat b = {n->last_lsn > 0 ? n->last_lsn : 1, lk->h_last, 0};
    uint8_t frame[REPL_CTRL_MAX];
    size_t len = repl_encode_beat(frame, REPL_FETCH, &b);
    if (link_send_ctrl(lk, frame, len) < 0) link_close(lk, "out of memory");
}

/* Records a follower gives back to a fenced leader (LINK_FETCH): verified
 * like any a follower receives, appended to our WAL. -1: link closed. */
static int link_on_fetched(flink *lk, const repl_frame *fr)
{
    node *n = lk->l->n;
    size_t off = 0;
    while (off < fr->len) {
        wal_rec r;
        size_t used;
        wal_dec d = wal_record_decode(fr->payload + off, fr->len - off, &r, &used);
        if (lk->fetch_check && d == WAL_DEC_OK && r.lsn == n->last_lsn) {
            /* The overlap: the follower's record at our last LSN. */
            lk->fetch_check = 0;
            if (r.epoch != n->last_rec_epoch) {
                char why[200];
                snprintf(why, sizeof why,
                         "follower node %u's log does not extend this one (its lsn %llu has "
                         "epoch %llu, ours %llu)",
                         lk->node_id, (unsigned long long)r.lsn, (unsigned long long)r.epoch,
                         (unsigned long long)n->last_rec_epoch);
                node_fence(n, why);
                link_close(lk, "logs do not match");
                return -1;
            }
            off += used;
            continue;
        }
        /* It must continue our log: the next LSN, an epoch not below our
         * last record's (recovery refuses a log whose epochs go down). */
        if (d != WAL_DEC_OK || r.lsn != n->last_lsn + 1 || r.lsn > lk->fetch_to ||
            r.epoch > n->epoch || r.epoch < n->last_rec_epoch) {
            log_warn_limited(&n->log, &n->limits[NL_LINK],
                             "follower node %u gave back a bad record (%s, lsn %llu, want %llu)",
                             lk->node_id, wal_dec_str(d), (unsigned long long)r.lsn,
                             (unsigned long long)(n->last_lsn + 1));
            link_close(lk, "bad fetched record");
            return -1;
        }
        if (node_append_encoded(n, fr->payload + off, used, &r) < 0) {
            link_close(lk, "cannot take fetched records now");
            return -1;
        }
        off += used;
    }
    if (n->last_lsn >= lk->fetch_to) {
        log_info(&n->log, "fetched the records up to lsn %llu back from follower node %u",
                 (unsigned long long)lk->fetch_to, lk->node_id);
        node_unfence_check(n);
        /* Fresh handshakes decide how every follower goes on (the records
         * taken were not shipped to the links already up). */
        repl_leader *l = lk->l;
        for (int i = 0; i < l->nlinks; i++) {
            flink *o = &l->links[i];
            if (o->state == LINK_DOWN) continue;
            o->backoff_ms = REPL_BACKOFF_MIN_MS;
            link_close(o, "records fetched back: handshake again");
        }
        return -1;
    }
    return 0;
}

static void link_on_ack(flink *lk, const repl_beat *b)
{
    node *n = lk->l->n;
    uint64_t durable = b->a;
    /* Until the follower has installed the snapshot, its ACKs report its old
     * log (a divergent tail, perhaps), and one sent before it read SNAP_BEGIN
     * can arrive after we have shipped records up to that LSN. SNAP_ACK
     * (link_read) marks the point in the ordered stream after which ACKs
     * speak of our records. */
    if (lk->snap_unacked) return;
    if (durable > lk->sent_lsn) return; /* acks what we never sent: ignore */
    if (durable > lk->acked_lsn) {
        lk->acked_lsn = durable;
        node_on_acked(n);
    }
}

static void link_read(flink *lk)
{
    node *n = lk->l->n;
    /* Follower->leader frames are tiny, but for records given back. */
    long r = iobuf_read_conn(&lk->in, lk->tls, lk->fd,
                           lk->state == LINK_FETCH ? REPL_FRAME_HDR + REPL_FRAME_MAX : REPL_IN_MAX);
    if (r == 0) {
        link_close(lk, "connection closed by follower");
        return;
    }
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            link_close(lk, errno == ENOBUFS ? "input limit" : strerror(errno));
        return;
    }
    lk->last_heard_ms = ev_now_ms();
    if (lk->node_id) node_elect_on_ack(n, lk->node_id, 0);
    for (;;) {
        repl_frame f;
        size_t used;
        char err[160];
        repl_status st = repl_frame_parse(lk->in.p + lk->in.pos, iobuf_used(&lk->in), &f, &used,
                                          err, sizeof err);
        if (st == REPL_NEED_MORE) break;
        if (st == REPL_BAD) {
            log_warn_limited(&n->log, &n->limits[NL_LINK], "follower %s:%d sent a bad frame: %s", lk->peer.host, lk->peer.port,
                     err);
            link_close(lk, "protocol error");
            return;
        }
        if (lk->auth_wait && f.type != REPL_REFUSE) {
            if (f.type != REPL_AUTH_CHALLENGE) {
                n->stats.repl_auth_failures++;
                log_warn_limited(&n->log, &n->limits[NL_REPL_AUTH],
                                 "follower %s:%d answered the cluster-secret handshake with "
                                 "frame type %u (no secret configured there?)",
                                 lk->peer.host, lk->peer.port, f.type);
                link_close(lk, "no AUTH_CHALLENGE");
                return;
            }
            if (link_on_challenge(lk, &f) < 0) return;
            iobuf_consume(&lk->in, used);
            continue;
        }
        if (f.type == REPL_HELLO_OK && lk->state == LINK_HANDSHAKE) {
            repl_hello_ok h;
            if (repl_decode_hello_ok(&f, &h) < 0) {
                link_close(lk, "malformed HELLO_OK");
                return;
            }
            iobuf_consume(&lk->in, used);
            link_on_hello_ok(lk, &h);
            if (lk->state == LINK_DOWN) return;
            continue;
        }
        if (f.type == REPL_STALE) {
            repl_beat b;
            if (repl_decode_beat(&f, &b) < 0) {
                link_close(lk, "malformed STALE");
                return;
            }
            log_warn(&n->log, "follower %s:%d is in epoch %llu, later than ours (%llu): a newer "
                              "leader exists; stepping down",
                     lk->peer.host, lk->peer.port, (unsigned long long)b.a,
                     (unsigned long long)n->epoch);
            if (b.a > lk->l->stale_epoch) lk->l->stale_epoch = b.a;
            link_close(lk, "follower is in a later epoch");
            return;
        }
        if (lk->state == LINK_RECOVER && f.type == REPL_ACK) {
            /* alive; nothing to count while the leader is fenced */
        } else if (lk->state == LINK_FETCH && (f.type == REPL_RECORDS || f.type == REPL_ACK)) {
            if (f.type == REPL_RECORDS && link_on_fetched(lk, &f) < 0) return;
            if (lk->state == LINK_DOWN) return;
        } else if (f.type == REPL_ACK && lk->state >= LINK_SNAPWAIT) {
            repl_beat b;
            if (repl_decode_beat(&f, &b) < 0) {
                link_close(lk, "malformed ACK");
                return;
            }
            node_elect_on_ack(n, lk->node_id, b.c); /* b.c: our heartbeat time it echoes */
            link_on_ack(lk, &b);
        } else if (f.type == REPL_SNAP_ACK && lk->state >= LINK_SNAPWAIT) {
            repl_beat b;
            if (repl_decode_beat(&f, &b) < 0 || !lk->snap_unacked || b.a != lk->snap_lsn) {
                link_close(lk, "unexpected SNAP_ACK");
                return;
            }
            lk->snap_unacked = 0;
            link_on_ack(lk, &b);
        } else if (f.type == REPL_REFUSE) {
            char reason[REPL_REASON_MAX + 1];
            repl_decode_refuse(&f, reason, sizeof reason);
            log_warn_limited(&n->log, &n->limits[NL_LINK], "follower %s:%d refused the link: %s", lk->peer.host, lk->peer.port,
                     reason);
            if (strncmp(reason, "checkpoint rejected", 19) == 0 && n->snapshot_lsn) {
                /* Our newest checkpoint is bad (or went bad on disk): the
                 * next snapshot rejoin writes a fresh one instead of
                 * sending the same bytes again. */
                log_error(&n->log, "follower node %u rejected checkpoint lsn %llu: the next "
                                   "snapshot is a fresh one",
                          lk->node_id, (unsigned long long)n->snapshot_lsn);
                n->snapshot_lsn = 0;
            }
            link_close(lk, "refused by follower");
            return;
        } else {
            link_close(lk, "unexpected frame");
            return;
        }
        iobuf_consume(&lk->in, used);
    }
}

static void link_on_event(ev_loop *loop, int fd, void *data, unsigned events)
{
    flink *lk = data;
    node *n = lk->l->n;
    events = sock_events(lk->tls, events);
    if (lk->state == LINK_CONNECTING) {
        if (!(events & (EV_WRITE | EV_READ))) return;
        char err[256];
        if (net_connect_finished(lk->fd, err, sizeof err) < 0) {
            log_debug(&n->log, "dial follower %s:%d: %s", lk->peer.host, lk->peer.port, err);
            link_close(lk, err);
            return;
        }
        if (n->tls_repl) { /* mutual TLS; HELLO waits in lk->out for the handshake */
            char peer[REPL_HOST_MAX + 16];
            snprintf(peer, sizeof peer, "%s:%d", lk->peer.host, lk->peer.port);
            if (!(lk->tls = tls_conn_new(n->tls_repl, n->loop, lk->fd, 0, peer, lk))) {
                link_close(lk, "out of memory");
                return;
            }
        }
        if (n->secret.len)
            link_send_auth(lk);
        else
            link_send_hello(lk);
        if (lk->state == LINK_DOWN) return;
    } else if (events & EV_READ) {
        link_read(lk);
        if (lk->state == LINK_DOWN) return;
    }
    if (lk->state == LINK_SNAPSHOT) link_snapshot_pump(lk);
    if (lk->state == LINK_CATCHUP) link_pump(lk);
    if (lk->state == LINK_DOWN) return;
    if (link_send_commit(lk) < 0) {
        link_close(lk, "out of memory");
        return;
    }
    if (link_send_out(lk) < 0) {
        link_close(lk, strerror(errno));
        return;
    }
    link_update_events(lk);
}

/* ---- node hooks ---- */

void repl_leader_ship(repl_leader *l, const uint8_t *rec, size_t len, uint64_t lsn)
{
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        if (lk->state != LINK_STREAMING || lk->sent_lsn + 1 != lsn) continue;
        if (link_out_bytes(lk) > REPL_OUT_HIGH) {
            /* Too far behind to buffer: continue from the log later. */
            lk->state = LINK_CATCHUP;
            lk->catchup_target = 0;
            continue;
        }
        if (link_append_records(lk, rec, len) < 0) {
            link_close(lk, "out of memory");
            continue;
        }
        lk->sent_lsn = lsn;
    }
    uint64_t now = ev_now_ms();
    if (l->lag_len == 0 || l->lag[(l->lag_head + l->lag_len - 1) % REPL_LAG_SAMPLES].ms != now) {
        size_t slot = (l->lag_head + l->lag_len) % REPL_LAG_SAMPLES;
        if (l->lag_len == REPL_LAG_SAMPLES)
            l->lag_head = (l->lag_head + 1) % REPL_LAG_SAMPLES;
        else
            l->lag_len++;
        l->lag[slot].lsn = lsn;
        l->lag[slot].ms = now;
    }
}

void repl_leader_flush(repl_leader *l)
{
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        if (lk->state < LINK_HANDSHAKE) continue;
        if (lk->state == LINK_SNAPSHOT) link_snapshot_pump(lk);
        if (lk->state == LINK_CATCHUP) link_pump(lk);
        if (lk->state == LINK_DOWN) continue;
        if (link_send_commit(lk) < 0) {
            link_close(lk, "out of memory");
            continue;
        }
        link_close_frame(lk);
        if (iobuf_used(&lk->out) == 0) continue;
        if (link_send_out(lk) < 0) {
            link_close(lk, strerror(errno));
            continue;
        }
        link_update_events(lk);
    }
}

void repl_leader_cron(repl_leader *l, uint64_t now)
{
    node *n = l->n;
    leader_send_members(l);
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        switch (lk->state) {
        case LINK_DOWN:
            if (now >= lk->retry_at_ms && !n->stopping) link_dial(lk, now);
            break;
        case LINK_CONNECTING:
        case LINK_HANDSHAKE:
            if (now - lk->state_since_ms > (uint64_t)n->cfg.follower_timeout_ms)
                link_close(lk, "handshake timed out");
            break;
        case LINK_RECOVER:
        case LINK_FETCH:
        case LINK_SNAPWAIT:
        case LINK_SNAPSHOT:
        case LINK_CATCHUP:
        case LINK_STREAMING:
            if (lk->state == LINK_SNAPWAIT && n->ckpt_pid == 0) {
                if (n->snapshot_lsn > 0)
                    link_snapshot_begin(lk);
                else
                    link_close(lk, "no checkpoint could be written");
                break;
            }
            /* heartbeats and timeouts as for a live link */
            if (now - lk->last_heard_ms > (uint64_t)n->cfg.follower_timeout_ms) {
                char why[96];
                snprintf(why, sizeof why, "%s for %llu ms",
                         lk->state == LINK_FETCH     ? "fetch stalled"
                         : lk->state == LINK_RECOVER ? "silent while recovering"
                                                     : "no answer to heartbeats",
                         (unsigned long long)(now - lk->last_heard_ms));
                link_close(lk, why);
                break;
            }
            if (now - lk->last_beat_ms >= (uint64_t)n->cfg.heartbeat_ms) {
                repl_beat b = {n->last_lsn, n->commit_lsn, now};
                uint8_t frame[REPL_CTRL_MAX];
                size_t len = repl_encode_beat(frame, REPL_HEARTBEAT, &b);
                lk->last_beat_ms = now;
                if (link_send_ctrl(lk, frame, len) < 0) link_close(lk, "out of memory");
            }
            break;
        }
    }
}

static uint64_t lag_ms(const repl_leader *l, uint64_t acked, uint64_t now)
{
    if (acked >= l->n->last_lsn || l->lag_len == 0) return 0;
    /* First sample with lsn > acked: binary search over the ring. */
    size_t lo = 0, hi = l->lag_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->lag[(l->lag_head + mid) % REPL_LAG_SAMPLES].lsn > acked)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo == l->lag_len) return 0;
    uint64_t t = l->lag[(l->lag_head + lo) % REPL_LAG_SAMPLES].ms;
    return now > t ? now - t : 0;
}

void repl_leader_info(const repl_leader *l, info_buf *b)
{
    node *n = l->n;
    uint64_t now = ev_now_ms();
    int online = repl_leader_online(l);
    info_printf(b,
                "rkv_role:leader\r\nnode_id:%u\r\ncluster_id:%s\r\nepoch:%llu\r\nlast_lsn:%llu\r\n"
                "commit_lsn:%llu\r\nquorum:%d\r\nconnected_followers:%d\r\n"
                "followers_responded:%d/%d\r\n",
                n->cfg.node_id, n->cfg.cluster_id, (unsigned long long)n->epoch,
                (unsigned long long)n->last_lsn, (unsigned long long)n->commit_lsn, n->cfg.quorum,
                online, online, l->nlinks);
    for (int i = 0; i < l->nlinks; i++) {
        const flink *lk = &l->links[i];
        uint64_t lag = n->last_lsn > lk->acked_lsn ? n->last_lsn - lk->acked_lsn : 0;
        info_printf(b,
                    "follower%d:id=%u,addr=%s:%d,online=%d,state=%s,acked_lsn=%llu,lag=%llu,"
                    "lag_ms=%llu,last_heard_ms=%llu,catchup_wal=%llu,catchup_snapshot=%llu,"
                    "reconnects=%llu,sent_lsn=%llu,snapshot_sent_bytes=%llu/%llu,"
                    "truncations=%llu\r\n",
                    i, lk->node_id, lk->peer.host, lk->peer.port, lk->online,
                    link_state_names[lk->state], (unsigned long long)lk->acked_lsn,
                    (unsigned long long)lag, (unsigned long long)lag_ms(l, lk->acked_lsn, now),
                    (unsigned long long)(lk->last_heard_ms ? now - lk->last_heard_ms : 0),
                    (unsigned long long)lk->catchup_wal,
                    (unsigned long long)lk->catchup_snapshot,
                    (unsigned long long)lk->reconnects, (unsigned long long)lk->sent_lsn,
                    (unsigned long long)lk->snap_off, (unsigned long long)lk->snap_size,
                    (unsigned long long)lk->truncations);
    }
}

int repl_leader_peers(const repl_leader *l, repl_peer_info *out, int max)
{
    uint64_t now = ev_now_ms();
    int k = 0;
    for (int i = 0; i < l->nlinks && k < max; i++) {
        const flink *lk = &l->links[i];
        repl_peer_info *p = &out[k++];
        memset(p, 0, sizeof *p);
        p->id = lk->node_id;
        snprintf(p->host, sizeof p->host, "%s", lk->client_host);
        p->port = lk->client_port;
        p->online = lk->online && lk->state == LINK_STREAMING;
        p->acked = lk->acked_lsn;
        p->lag_ms = lag_ms(l, lk->acked_lsn, now);
        p->link_state = link_state_names[lk->state];
    }
    return k;
}

void repl_leader_log_lag(const repl_leader *l)
{
    node *n = l->n;
    uint64_t now = ev_now_ms();
    for (int i = 0; i < l->nlinks; i++) {
        const flink *lk = &l->links[i];
        log_info(&n->log, "lag follower%d node=%u online=%d acked_lsn=%llu lag=%llu lag_ms=%llu", i,
                 lk->node_id, lk->online, (unsigned long long)lk->acked_lsn,
                 (unsigned long long)(n->last_lsn - lk->acked_lsn),
                 (unsigned long long)lag_ms(l, lk->acked_lsn, now));
    }
}

uint64_t repl_leader_stale_epoch(const repl_leader *l)
{
    return l->stale_epoch;
}

int repl_leader_acks(const repl_leader *l, uint64_t *out, int max)
{
    int k = 0;
    for (int i = 0; i < l->nlinks && k < max; i++)
        if (link_counts(&l->links[i])) out[k++] = l->links[i].acked_lsn;
    return k;
}

int repl_leader_transfer(repl_leader *l, unsigned id, uint64_t lsn)
{
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        if (lk->node_id != id || !link_counts(lk)) continue;
        if (lk->state != LINK_STREAMING || lk->acked_lsn < lsn) return 0;
        repl_beat b = {l->n->epoch, 0, 0};
        uint8_t frame[REPL_CTRL_MAX];
        size_t len = repl_encode_beat(frame, REPL_TIMEOUT_NOW, &b);
        if (link_send_ctrl(lk, frame, len) < 0) {
            link_close(lk, "out of memory");
            return 0;
        }
        return 1;
    }
    return 0;
}

repl_leader *repl_leader_new(node *n, const cfg_peer *peers, int npeers, char *err, size_t errlen)
{
    repl_leader *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->n = n;
    l->nlinks = npeers;
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        lk->l = l;
        lk->idx = i;
        lk->peer = peers[i];
        lk->fd = -1;
        lk->snap_fd = -1;
        lk->state = LINK_DOWN;
        lk->backoff_ms = REPL_BACKOFF_MIN_MS;
        lk->retry_at_ms = 0; /* dial at the first cron */
    }
    return l;
}

void repl_leader_free(repl_leader *l)
{
    if (!l) return;
    for (int i = 0; i < l->nlinks; i++) {
        flink *lk = &l->links[i];
        if (lk->fd >= 0) {
            /* Push out what is queued (best effort) before closing. */
            link_close_frame(lk);
            (void)iobuf_write_conn(&lk->out, lk->tls, lk->fd);
        }
        lk->state = LINK_DOWN;
        link_close(lk, "leader stopping");
    }
    free(l);
}
