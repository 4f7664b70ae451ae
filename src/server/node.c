/* node.c -- a node's life: start-up (recovery, WAL, listeners), the commit
 * pipeline (pending log -> durable -> quorum -> apply -> replies) and an
 * orderly stop. See node.h for the write path.
 *
 * The data directory (docs/ARCHITECTURE.md, "Data directory layout"):
 * start-up first takes an exclusive flock on <data-dir>/LOCK (else it fails
 * naming the PID that holds it) and only then reads anything; the WAL and
 * checkpoints live in the storage generation <data-dir>/gen-N that
 * <data-dir>/CURRENT names, and a snapshot install builds gen-(N+1) beside
 * it and switches CURRENT atomically, so a crash at any step leaves the
 * whole old or the whole new state. Checkpoints are forked children bound
 * to the generation of their fork; one is started every
 * --checkpoint-every-bytes of WAL written (node_wal_written). */
#include "server/node.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crypto.h"
#include "repl/repl.h"
#include "repl/repl_conflict.h"
#include "server/acl.h"
#include "server/client.h"
#include "net/tls.h"
#include "repl/repl_rejoin.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_recovery.h"

#define NODE_WAL_RETRY_MIN_MS 100  /* a failed WAL is retried after this, */
#define NODE_WAL_RETRY_MAX_MS 5000 /* doubling up to this */
#define NODE_CRON_MS 10            /* deadline granularity: timeouts, heartbeats */
#define NODE_TICKETS_INIT 1024
#define NODE_PENDING_COMPACT (1u << 20) /* move the pending log down past this */
#define NODE_REHASH_STEPS 100       /* buckets moved per cron while idle */
#define NODE_EPOCH_FILE "epoch"
#define NODE_LOCK_FILE "LOCK"
#define NODE_CURRENT_FILE "CURRENT"
#define NODE_GEN_PREFIX "gen-"
#define NODE_SNAP_PREFIX "snapshot-" /* checkpoints, their temp files, incoming */
#define NODE_CRASH_EXIT 86 /* exit code of the RKV_TEST_CRASH_AT hook */
/* Descriptors kept from clients: WAL segments and cursors, checkpoint files
 * and child pipes, replication links and listeners, vote connections,
 * eventfds, epoll, the log, stdio. */
#define NODE_FD_RESERVE 128

static void node_hint_save(node *n, int force);

/* ---- pending log ---- */

size_t node_pending_bytes(const node *n)
{
    return iobuf_used(&n->pending);
}

/* ---- tickets ---- */

static ticket *ticket_front(node *n)
{
    return n->tk_len ? &n->tickets[n->tk_head] : NULL;
}

static void ticket_pop(node *n)
{
    ticket *t = &n->tickets[n->tk_head];
    free(t->heap);
    t->heap = NULL;
    n->tk_head = (n->tk_head + 1) % n->tk_cap;
    n->tk_len--;
}

/* Completes the front ticket: the owed reply goes to its client. A failed
 * one gets WHY, or the quorum timeout's error when NULL. */
static void ticket_complete(node *n, ticket *t, int ok, const char *why)
{
    client *c = t->c;
    if (ok) n->stats.writes_committed++;
    if (c) {
        if (!ok && why)
            reply_error(c, "%s", why);
        else if (!ok)
            reply_error(c, "TIMEOUT no quorum within %d ms: the write's outcome is unknown "
                           "(it stays in the leader's log and may still commit)",
                        n->cfg.quorum_timeout_ms);
        else if (t->len)
            reply_raw(c, t->heap ? t->heap : t->inl, t->len);
    }
    obs_reply_released(n, t->obs_cmd, t->obs_t0_us, ok);
    ticket_pop(n);
    if (c) client_ticket_done(c);
}

int node_add_ticket(node *n, client *c, uint64_t first, uint64_t last, const char *reply,
                    size_t len)
{
    char *heap = NULL;
    if (len > TICKET_INLINE) {
        if (len > UINT32_MAX || !(heap = malloc(len))) return -1;
        memcpy(heap, reply, len);
    }
    assert(n->tk_len == 0 || n->tickets[(n->tk_head + n->tk_len - 1) % n->tk_cap].last_lsn <= last);
    if (n->tk_len == n->tk_cap) {
        size_t cap = n->tk_cap ? n->tk_cap * 2 : NODE_TICKETS_INIT;
        ticket *t = malloc(cap * sizeof *t);
        if (!t) {
            free(heap);
            return -1;
        }
        for (size_t i = 0; i < n->tk_len; i++) t[i] = n->tickets[(n->tk_head + i) % n->tk_cap];
        free(n->tickets);
        n->tickets = t;
        n->tk_cap = cap;
        n->tk_head = 0;
    }
    ticket *t = &n->tickets[(n->tk_head + n->tk_len) % n->tk_cap];
    t->c = c;
    t->first_lsn = first;
    t->last_lsn = last;
    t->len = (uint32_t)len;
    t->heap = heap;
    t->obs_cmd = n->obs.cur_idx; /* the command running now (obs.h) */
    t->obs_t0_us = n->obs.cur_t0_us;
    if (!heap && len) memcpy(t->inl, reply, len);
    t->deadline_ms = ev_now_ms() + (uint64_t)n->cfg.quorum_timeout_ms;
    n->tk_len++;
    c->owed++;
    return 0;
}

/* Detaches a closing client from its tickets (they complete silently). */
void node_forget_client(node *n, client *c)
{
    for (size_t i = 0; i < n->tk_len; i++) {
        ticket *t = &n->tickets[(n->tk_head + i) % n->tk_cap];
        if (t->c == c) t->c = NULL;
    }
    c->owed = 0;
}

/* ---- the commit pipeline ---- */

int node_propose_reserve(node *n, size_t bytes)
{
    if (bytes > n->cfg.pending_bytes_max ||
        node_pending_bytes(n) > n->cfg.pending_bytes_max - bytes)
        return -1;
    if (iobuf_reserve(&n->pending, bytes) < 0) return -1;
    return wal_thread_reserve(n->walt, bytes);
}

uint64_t node_propose_rec(node *n, wal_rec *r)
{
    size_t size = wal_record_size_x(r->klen, r->vlen, r->flags & WAL_F_EXPIRE);
    if (node_propose_reserve(n, size) < 0) return 0;
    r->lsn = n->last_lsn + 1;
    r->epoch = n->epoch;
    r->ts = hlc_now(&n->clock);
    r->node_id = n->cfg.node_id;
    uint8_t *dst = n->pending.p + n->pending.len;
    size_t wrote = wal_record_encode(r, dst);
    assert(wrote == size);
    (void)wrote;
    if (wal_thread_append(n->walt, dst, size, r->lsn) < 0) return 0;
    /* A MULTI's operations use ts .. ts + count - 1 (wal_record.h). */
    hlc_observe(&n->clock, wal_rec_last_ts(r));
    n->pending.len += size;
    n->last_lsn = r->lsn;
    n->last_rec_epoch = r->epoch;
    if (n->leader) repl_leader_ship(n->leader, dst, size, r->lsn);
    return r->lsn;
}

uint64_t node_propose(node *n, uint8_t op, const uint8_t *key, uint32_t klen,
                      const uint8_t *val, uint32_t vlen)
{
    wal_rec r = {.op = op, .klen = klen, .vlen = vlen, .key = key, .val = val};
    return node_propose_rec(n, &r);
}

int node_append_encoded(node *n, const uint8_t *rec, size_t len, const wal_rec *r)
{
    if (r->lsn != n->last_lsn + 1) return -1;
    /* A follower's pending log is bounded like the leader's: past it the
     * link drops and the leader resends from our last LSN later. */
    if (n->wal_failed || node_propose_reserve(n, len) < 0) return -1;
    memcpy(n->pending.p + n->pending.len, rec, len);
    if (wal_thread_append(n->walt, rec, len, r->lsn) < 0) return -1;
    n->pending.len += len;
    n->last_lsn = r->lsn;
    n->last_rec_epoch = r->epoch;
    if (r->epoch > n->epoch) n->epoch = r->epoch;
    uint64_t now = hlc_wall_us(NULL);
    if (r->ts > now && r->ts - now > n->max_clock_offset_seen_us)
        n->max_clock_offset_seen_us = r->ts - now;
    if (r->ts > now + n->cfg.max_clock_offset_ms * 1000u) {
        /* Reported, and the record kept: LWW order is the leader's to
         * decide, and the HLC absorbs the lead (hlc.h). */
        n->stats.future_records++;
        log_warn_limited(&n->log, &n->limits[NL_FUTURE_RECORD],
                         "record lsn=%llu from node %u is %llu ms ahead of this node's clock "
                         "(--max-clock-offset-ms %llu): check the clocks",
                         (unsigned long long)r->lsn, r->node_id,
                         (unsigned long long)((r->ts - now) / 1000u),
                         (unsigned long long)n->cfg.max_clock_offset_ms);
    }
    hlc_observe(&n->clock, wal_rec_last_ts(r));
    return 0;
}

/* Applies the next pending record; returns its LSN. */
#define NODE_PF_AHEAD 8 /* records prefetched ahead of the one being applied */

/* Prefetches what applying the pending record at OFF will touch in the
 * store (a PUT's or DEL's key; MULTI and the rest are left alone). */
static void node_prefetch_record(node *n, size_t off, int deep)
{
    const uint8_t *p = n->pending.p + off;
    uint8_t op = p[36];
    if (op != WAL_OP_PUT && op != WAL_OP_DEL) return;
    uint32_t klen = wal_get_u32(p + 40);
    size_t at = WAL_HDR_SIZE + ((p[37] & WAL_F_EXPIRE) ? 8 : 0);
    kv_prefetch(n->kv, (unsigned)p[38] | (unsigned)p[39] << 8, p + at, klen, deep);
}

static uint64_t node_apply_next(node *n)
{
    wal_rec r;
    size_t used;
    iobuf *b = &n->pending;
    wal_dec d = wal_record_decode(b->p + b->pos, iobuf_used(b), &r, &used);
    /* These bytes were encoded or CRC-verified by this node. */
    assert(d == WAL_DEC_OK && r.lsn == n->applied_lsn + 1);
    (void)d;
    /* The leader's proposed view forgets what is now in the store. */
    n->ks.applying_lsn = r.lsn;
    if (repl_apply_record(n->kv, &r, n->leader || node_is_leader(n) ? ks_on_applied : NULL, n) ==
        KV_NOMEM) {
        log_error(&n->log, "out of memory applying lsn=%llu; stopping (the WAL has it)",
                  (unsigned long long)r.lsn);
        abort();
    }
    iobuf_consume(b, used);
    n->applied_lsn = r.lsn;
    n->applied_epoch = r.epoch;
    n->applied_ts = r.ts;
    /* Replies were computed when their commands ran; several may wait on
     * one record (a no-op reply waits on the last record proposed). */
    ticket *t;
    while ((t = ticket_front(n)) && t->last_lsn <= r.lsn) ticket_complete(n, t, 1, NULL);
    return r.lsn;
}

void node_advance_commit(node *n)
{
    uint64_t target = n->durable_lsn;
    if (n->leader) {
        /* Durable here and on Q followers (Q + 1 members), and, elected, at
         * or after our epoch-start record (elect_commit, Raft 5.4.2): an
         * earlier epoch's record counts only once one of ours commits. */
        uint64_t acks[ELECT_MEMBERS_MAX];
        acks[0] = n->durable_lsn;
        int k = 1 + repl_leader_acks(n->leader, acks + 1, ELECT_MEMBERS_MAX - 1);
        int need = n->cfg.quorum + 1;
        uint64_t q = need <= k ? elect_commit(acks, k, need, n->epoch_start_lsn) : 0;
        if (q < target) target = q;
    } else if (n->follower) { /* only what the leader says is committed, and is its record */
        uint64_t b = repl_follower_commit_bound(n->follower);
        if (b < target) target = b;
    }
    if (target > n->commit_lsn) n->commit_lsn = target;
    assert(n->commit_lsn <= n->durable_lsn); /* nothing is committed before it is on our disk */
    int applied = 0;
    /* Prefetch ahead: the store's bucket of the record NODE_PF_AHEAD records
     * on, and the entry of the one half as far, so the cache misses of a
     * large store overlap instead of stalling each apply in turn (a profile
     * of pipelined SETs had the store's lookup at 9-13% of the server).
     * len[j % AHEAD]: the length of record applied+1+j; offsets are taken
     * from pending.pos each time (applying consumes the buffer). */
    uint32_t len[NODE_PF_AHEAD];
    uint64_t todo = n->commit_lsn - n->applied_lsn, peeked = 0;
    size_t end = 0; /* bytes from pending.pos to the first record not peeked */
    for (uint64_t i = 0; i < todo; i++) {
        while (peeked < todo && peeked < i + NODE_PF_AHEAD) {
            node_prefetch_record(n, n->pending.pos + end, 0);
            len[peeked % NODE_PF_AHEAD] = wal_get_u32(n->pending.p + n->pending.pos + end);
            end += len[peeked % NODE_PF_AHEAD];
            peeked++;
        }
        uint64_t half = i + NODE_PF_AHEAD / 2;
        if (half < peeked) {
            size_t off = 0;
            for (uint64_t j = i; j < half; j++) off += len[j % NODE_PF_AHEAD];
            node_prefetch_record(n, n->pending.pos + off, 1);
        }
        end -= len[i % NODE_PF_AHEAD];
        node_apply_next(n);
        applied = 1;
    }
    assert(n->applied_lsn == n->commit_lsn);
    if (n->applied_lsn > n->served_lsn) n->served_lsn = n->applied_lsn;
    if (applied) {
        clients_check_blocked(n, ev_now_ms());
        if (n->leader && n->cfg.log_lag) repl_leader_log_lag(n->leader);
    }
}

void node_on_acked(node *n)
{
    node_advance_commit(n);
    clients_check_blocked(n, ev_now_ms());
}

/* ---- loop hooks ---- */

static void node_on_wal(ev_loop *loop, int fd, void *data, unsigned events)
{
    node *n = data;
    int failed = 0;
    uint64_t d = wal_thread_poll(n->walt, &failed, n->wal_error, sizeof n->wal_error);
    if (failed && !n->wal_failed) {
        n->wal_failed = 1;
        n->wal_failures++;
        n->wal_retry_ms = NODE_WAL_RETRY_MIN_MS;
        n->wal_retry_at = ev_now_ms() + n->wal_retry_ms;
        log_error(&n->log, "WAL failed: %s; %s until the disk works again (retried every %d-%d ms)",
                  n->wal_error, n->follower ? "this follower takes no records" : "writes are refused",
                  NODE_WAL_RETRY_MIN_MS, NODE_WAL_RETRY_MAX_MS);
        if (n->follower) repl_follower_drop_leader(n->follower, "this follower's WAL failed");
    }
    if (d > n->durable_lsn) {
        n->durable_lsn = d;
        if (n->follower) repl_follower_durable(n->follower, d);
        node_advance_commit(n);
    }
}

/* A failed WAL is retried with backoff, as Redis retries a failed BGSAVE:
 * the writer is cut back to what was synced, and the records after the
 * durable LSN, still in the pending log, are handed over again. */
static void node_wal_retry(node *n, uint64_t now)
{
    if (!n->wal_failed || now < n->wal_retry_at) return;
    char err[256];
    if (wal_thread_restart(n->walt, err, sizeof err) < 0) {
        n->wal_retry_ms = n->wal_retry_ms * 2 > NODE_WAL_RETRY_MAX_MS ? NODE_WAL_RETRY_MAX_MS
                                                                     : n->wal_retry_ms * 2;
        n->wal_retry_at = now + n->wal_retry_ms;
        log_warn_limited(&n->log, &n->limits[NL_DISK], "WAL still failing: %s", err);
        return;
    }
    uint64_t d = wal_thread_durable_lsn(n->walt);
    assert(d >= n->applied_lsn && d <= n->last_lsn);
    n->durable_lsn = d;
    size_t off = n->pending.pos;
    for (uint64_t lsn = n->applied_lsn + 1; lsn <= n->last_lsn; lsn++) {
        uint32_t len = wal_get_u32(n->pending.p + off);
        if (lsn > d && wal_thread_append(n->walt, n->pending.p + off, len, lsn) < 0) {
            log_error(&n->log, "WAL recovered but re-queueing lsn %llu failed (out of memory); "
                               "stopping (the WAL has everything acknowledged)",
                      (unsigned long long)lsn);
            abort();
        }
        off += len;
    }
    n->wal_failed = 0;
    n->wal_error[0] = 0;
    log_info(&n->log, "WAL works again: durable lsn %llu, %llu records written again",
             (unsigned long long)d, (unsigned long long)(n->last_lsn - d));
    wal_thread_kick(n->walt);
}

static void node_on_stop(ev_loop *loop, int fd, void *data, unsigned events)
{
    node *n = data;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    log_info(&n->log, "stop requested: no longer accepting connections");
    n->stopping = 1;
    ev_stop(loop);
}

static void node_on_accept(ev_loop *loop, int fd, void *data, unsigned events)
{
    client_accept(data, fd);
}

/* --tls-port and --tls-replication: the contexts, loaded at start so that a
 * bad file is a start error carrying OpenSSL's reason. */
static int node_tls_init(node *n, char *err, size_t errlen)
{
    const node_config *c = &n->cfg;
    if (c->tls_port) {
        enum tls_verify v = c->tls_auth_clients == CFG_TLS_AUTH_YES        ? TLS_VERIFY_REQUIRED
                            : c->tls_auth_clients == CFG_TLS_AUTH_OPTIONAL ? TLS_VERIFY_OPTIONAL
                                                                           : TLS_VERIFY_NONE;
        n->tls_clients = tls_ctx_new(c->tls_cert_file, c->tls_key_file,
                                     v == TLS_VERIFY_NONE ? "" : c->tls_ca_cert_file, v, "client",
                                     &n->log, &n->limits[NL_TLS], &n->limits[NL_TLS], err,
                                     errlen);
        if (!n->tls_clients) return -1;
        /* A client that never finishes its handshake is an unauthenticated one. */
        tls_ctx_set_handshake_timeout(n->tls_clients,
                                      c->auth_timeout_ms < TLS_HANDSHAKE_TIMEOUT_MS
                                          ? c->auth_timeout_ms
                                          : TLS_HANDSHAKE_TIMEOUT_MS);
        n->tls_lfd = net_listen(c->bind, c->tls_port, &n->tls_port, err, errlen);
        if (n->tls_lfd < 0) return -1;
        if (ev_set(n->loop, n->tls_lfd, EV_READ, node_on_accept, n) < 0) {
            snprintf(err, errlen, "epoll: %s", strerror(errno));
            return -1;
        }
    }
    if (c->tls_replication) {
        n->tls_repl = tls_ctx_new(c->tls_cert_file, c->tls_key_file, c->tls_ca_cert_file,
                                  TLS_VERIFY_REQUIRED, "replication peer", &n->log,
                                  &n->limits[NL_TLS_REPL], &n->limits[NL_TLS_DIAL], err,
                                  errlen);
        if (!n->tls_repl) return -1;
    }
    return 0;
}

static void node_expire_tickets(node *n, uint64_t now)
{
    ticket *t;
    while ((t = ticket_front(n)) && t->deadline_ms <= now) {
        n->stats.quorum_timeouts++;
        log_warn_limited(&n->log, &n->limits[NL_QUORUM], "write lsn=%llu..%llu: no quorum within %d ms (outcome unknown)",
                 (unsigned long long)t->first_lsn, (unsigned long long)t->last_lsn,
                 n->cfg.quorum_timeout_ms);
        ticket_complete(n, t, 0, NULL);
    }
}

void node_fail_tickets(node *n, const char *why)
{
    ticket *t;
    while ((t = ticket_front(n))) ticket_complete(n, t, 0, why);
}


/* ---- checkpoints ---- */

int node_checkpoint_start(node *n)
{
    if (n->ckpt_pid > 0) return 0;
    if (n->applied_lsn == 0 || n->applied_lsn == n->snapshot_lsn) return 0;
    n->ckpt_lsn = n->applied_lsn;
    n->ckpt_epoch = n->applied_epoch;
    n->ckpt_ts = n->clock.last;
    n->ckpt_applied_ts = n->applied_ts;
    n->ckpt_wal_bytes = node_wal_written(n);
    fflush(n->log.fp);
    pid_t parent = getpid();
    uint64_t fork_t0 = obs_now_us();
    pid_t pid = fork();
    if (pid < 0) {
        n->checkpoints_failed++;
        log_error(&n->log, "checkpoint: fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Child: the store as of the fork, copy-on-write. Only this thread
         * exists here; nothing else of the node is touched. It dies with its
         * parent: a checkpoint nobody waits for would race the next
         * incarnation's in the same directory. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) _exit(1);
        /* The parent holds the data dir lock; a child outliving it must not
         * keep the next incarnation out. It writes only into the storage
         * generation of the fork (store_dir): an install that replaces it
         * kills this child, and a later rename into a removed generation
         * fails, so a stale checkpoint never reaches the live state. */
        if (n->lock_fd >= 0) close(n->lock_fd);
        char err[512];
        int rc = wal_checkpoint_write(n->store_dir, n->kv, n->ckpt_lsn, n->ckpt_epoch,
                                      n->ckpt_ts, &n->log, err, sizeof err);
        if (rc < 0) log_error(&n->log, "checkpoint at lsn %llu failed: %s",
                              (unsigned long long)n->ckpt_lsn, err);
        fflush(n->log.fp);
        _exit(rc == 0 ? 0 : 1);
    }
    n->ckpt_pid = pid;
    obs_ckpt_started(n, obs_now_us() - fork_t0);
    log_info(&n->log, "checkpoint of lsn %llu started (pid %d)", (unsigned long long)n->ckpt_lsn,
             (int)pid);
    return 0;
}

typedef struct remove_ctx {
    uint64_t below_lsn, retain_bytes;
    uint64_t freed; /* bytes of the segments removed */
    char err[256];
} remove_ctx;

/* Runs on the WAL thread, between batches: the writer's size changes only
 * by the removal, so the difference is exactly the bytes removed. */
static int node_remove_wal_cb(void *ctx, wal_writer *w)
{
    remove_ctx *rc = ctx;
    uint64_t before = wal_writer_bytes(w);
    int r = wal_writer_remove_below(w, rc->below_lsn, rc->retain_bytes, rc->err, sizeof rc->err);
    uint64_t after = wal_writer_bytes(w);
    rc->freed = before > after ? before - after : 0;
    return r;
}

uint64_t node_wal_written(node *n)
{
    return wal_thread_wal_bytes(n->walt) + n->wal_removed_bytes;
}

uint64_t node_durable_now(node *n)
{
    uint64_t d = n->walt ? wal_thread_durable_lsn(n->walt) : 0;
    return d > n->durable_lsn && d <= n->last_lsn ? d : n->durable_lsn;
}

/* Kills and reaps a running checkpoint child (a snapshot install is about
 * to replace the generation it writes into). */
static void node_checkpoint_kill(node *n, const char *why)
{
    if (n->ckpt_pid <= 0) return;
    pid_t pid = n->ckpt_pid;
    int status;
    if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
        log_warn(&n->log, "checkpoint child %d: kill: %s", (int)pid, strerror(errno));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    n->ckpt_pid = 0;
    log_info(&n->log, "checkpoint of lsn %llu (pid %d) killed: %s",
             (unsigned long long)n->ckpt_lsn, (int)pid, why);
}

/* Reaps a finished checkpoint child, then drops WAL the checkpoints cover. */
static void node_checkpoint_cron(node *n)
{
    if (n->ckpt_pid > 0) {
        int status;
        pid_t r = waitpid(n->ckpt_pid, &status, WNOHANG);
        if (r == 0) return;
        n->ckpt_pid = 0;
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            n->checkpoints_failed++;
            log_error(&n->log, "checkpoint of lsn %llu failed", (unsigned long long)n->ckpt_lsn);
            return;
        }
        n->checkpoints_done++;
        n->snapshot_lsn = n->ckpt_lsn;
        log_info(&n->log, "checkpoint of lsn %llu written", (unsigned long long)n->ckpt_lsn);
        /* Keep the WAL the oldest retained checkpoint needs, plus
         * wal_retain_bytes for catching followers up. */
        uint64_t *lsns = NULL;
        size_t cnt = 0;
        char err[256];
        if (wal_checkpoint_list(n->store_dir, &lsns, &cnt, err, sizeof err) == 0 && cnt > 0) {
            remove_ctx rc = {lsns[cnt - 1] + 1, n->cfg.wal_retain_bytes, 0, {0}};
            /* Keep what a follower being caught up still needs, while the
             * WAL stays within --wal-catchup-max-bytes; past that it rejoins
             * by snapshot instead of the disk filling. */
            uint64_t need = n->leader ? repl_leader_retain_lsn(n->leader) : UINT64_MAX;
            if (need < rc.below_lsn) {
                if (wal_thread_wal_bytes(n->walt) <= n->cfg.wal_catchup_max_bytes)
                    rc.below_lsn = need;
                else
                    log_warn_limited(&n->log, &n->limits[NL_CATCHUP],
                                     "the WAL kept for a follower's catch-up (from lsn %llu) "
                                     "exceeds --wal-catchup-max-bytes %llu: released; that "
                                     "follower will rejoin by snapshot",
                                     (unsigned long long)need,
                                     (unsigned long long)n->cfg.wal_catchup_max_bytes);
            }
            int removed = wal_thread_call(n->walt, node_remove_wal_cb, &rc);
            n->wal_removed_bytes += rc.freed;
            if (removed < 0)
                log_warn(&n->log, "removing old WAL segments: %s", rc.err);
            else if (removed > 0)
                log_info(&n->log, "removed %d WAL segments below lsn %llu", removed,
                         (unsigned long long)rc.below_lsn);
        }
        free(lsns);
        /* Only tombstones the checkpoint holds (timestamps rise with LSN). */
        size_t dropped = kv_drop_tombstones(n->kv, n->ckpt_applied_ts);
        if (dropped) log_debug(&n->log, "dropped %zu tombstones", dropped);
        return;
    }
    /* Bytes written since the last checkpoint started, not the live WAL
     * size: that drops whenever segments are removed, which pushed every
     * next checkpoint further out. */
    if ((n->cfg.checkpoint_every_bytes &&
         node_wal_written(n) >= n->ckpt_wal_bytes + n->cfg.checkpoint_every_bytes) ||
        node_mem_wants_checkpoint(n, ev_now_ms()))
        node_checkpoint_start(n);
}

/* ---- storage generations ----
 * <data-dir>/CURRENT names the live generation N; its WAL and checkpoints
 * are in <data-dir>/gen-N. A snapshot install builds gen-(N+1) beside it and
 * switches CURRENT (temp file, fsync, rename, fsync dir: atomic), then
 * removes gen-N. Start-up removes every gen-* that CURRENT does not name.
 * Without CURRENT a data dir with a wal/ directory or checkpoints in it has
 * the layout from before generations: that is generation 0, read in place,
 * until the first install moves it to gen-1. */

/* RKV_TEST_CRASH_AT=<step>: the process dies at that step of a snapshot
 * install (_exit, no cleanup, like a crash), for
 * tests/repl/install_crash_proc_test.c. */
static void node_crash_point(node *n, const char *step)
{
    const char *at = getenv("RKV_TEST_CRASH_AT");
    if (!at || strcmp(at, step) != 0) return;
    log_warn(&n->log, "RKV_TEST_CRASH_AT=%s: exiting at this step of the install", step);
    fflush(n->log.fp);
    _exit(NODE_CRASH_EXIT);
}

static int node_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes PATH and everything below it (no symlinks followed). */
static int node_rmtree(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (nftw(path, node_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        snprintf(err, errlen, "removing %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void node_gen_path(char *buf, size_t len, const char *root, uint64_t gen)
{
    if (gen == 0)
        snprintf(buf, len, "%s", root);
    else
        snprintf(buf, len, "%s/" NODE_GEN_PREFIX "%llu", root, (unsigned long long)gen);
}

/* "gen-" + decimal digits, no leading zero: 1 and *gen, else 0. */
static int node_gen_name_parse(const char *name, uint64_t *gen)
{
    size_t pl = strlen(NODE_GEN_PREFIX);
    if (strncmp(name, NODE_GEN_PREFIX, pl) != 0) return 0;
    const char *d = name + pl;
    if (*d < '1' || *d > '9' || strlen(d) > 19) return 0;
    uint64_t v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9') return 0;
        v = v * 10 + (uint64_t)(*d - '0');
    }
    *gen = v;
    return 1;
}

/* 1 and *gen: CURRENT names it; 0: no CURRENT; -1 + message: unreadable. */
static int node_current_load(const char *root, uint64_t *gen, char *err, size_t errlen)
{
    char path[CFG_PATH_MAX + 16], buf[32];
    snprintf(path, sizeof path, "%s/" NODE_CURRENT_FILE, root);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t r = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (r < 0) {
        snprintf(err, errlen, "read %s: %s", path, strerror(e));
        return -1;
    }
    buf[r] = 0;
    char name[48];
    snprintf(name, sizeof name, NODE_GEN_PREFIX "%s", buf);
    size_t nl = strlen(name);
    if (nl > 0 && name[nl - 1] == '\n') name[--nl] = 0;
    if (r == 0 || buf[r - 1] != '\n' || !node_gen_name_parse(name, gen)) {
        snprintf(err, errlen, "%s does not hold a generation number (\"%.20s\"): refusing to guess "
                              "which gen-* directory is the live state",
                 path, buf);
        return -1;
    }
    return 1;
}

/* Points CURRENT at GEN: CURRENT.tmp, fsync, rename, fsync the dir.
 * -1: nothing changed (old CURRENT intact); -2: renamed but the directory
 * sync failed, so which CURRENT survives a crash is unknown. */
static int node_current_store(node *n, uint64_t gen, char *err, size_t errlen)
{
    const char *root = n->cfg.data_dir;
    char path[CFG_PATH_MAX + 16], tmp[CFG_PATH_MAX + 24];
    snprintf(path, sizeof path, "%s/" NODE_CURRENT_FILE, root);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[32];
    int len = snprintf(line, sizeof line, "%llu\n", (unsigned long long)gen);
    if (write(fd, line, (size_t)len) != len || fsync(fd) < 0) {
        snprintf(err, errlen, "write %s: %s", tmp, strerror(errno ? errno : EIO));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    node_crash_point(n, "current-tmp");
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (wal_fsync_dir(root, err, errlen) < 0) return -2;
    return 0;
}

/* Removes the storage of the old layout from ROOT: wal/ and snapshot-*.
 * Returns the entries removed, or -1 + message. */
static int node_remove_legacy(const char *root, char *err, size_t errlen)
{
    char path[WAL_PATH_MAX];
    int removed = 0;
    struct stat st;
    if (wal_dir_path(path, sizeof path, root) < 0) {
        snprintf(err, errlen, "path too long: %s", root);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (node_rmtree(path, err, errlen) < 0) return -1;
        removed++;
    }
    DIR *d = opendir(root);
    if (!d) {
        snprintf(err, errlen, "opendir %s: %s", root, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, NODE_SNAP_PREFIX, strlen(NODE_SNAP_PREFIX)) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (unlink(path) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        removed++;
    }
    closedir(d);
    return rc < 0 ? -1 : removed;
}

/* Does ROOT hold storage of the old layout (wal/ or a checkpoint)? */
static int node_has_legacy(const char *root)
{
    char path[WAL_PATH_MAX];
    struct stat st;
    if (wal_dir_path(path, sizeof path, root) == 0 && lstat(path, &st) == 0) return 1;
    uint64_t *lsns = NULL;
    size_t cnt = 0;
    char err[256];
    int has = wal_checkpoint_list(root, &lsns, &cnt, err, sizeof err) == 0 && cnt > 0;
    free(lsns);
    return has;
}

/* Removes every gen-* in ROOT but KEEP's (with an INFO line each), and the
 * leftovers of interrupted writes: CURRENT.tmp, an incoming snapshot. */
static int node_remove_stray(node *n, uint64_t keep, char *err, size_t errlen)
{
    const char *root = n->cfg.data_dir;
    char path[WAL_PATH_MAX];
    DIR *d = opendir(root);
    if (!d) {
        snprintf(err, errlen, "opendir %s: %s", root, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0, removed = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        uint64_t g;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (node_gen_name_parse(e->d_name, &g) && g != keep) {
            log_info(&n->log, "removing %s: a storage generation CURRENT does not name (left "
                              "by an interrupted snapshot install)",
                     path);
            rc = node_rmtree(path, err, errlen);
            removed++;
        } else if (strcmp(e->d_name, NODE_CURRENT_FILE ".tmp") == 0 ||
                   strcmp(e->d_name, NODE_SNAP_PREFIX "incoming.tmp") == 0) {
            if (unlink(path) < 0 && errno != ENOENT) {
                snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
                rc = -1;
            }
            removed++;
        }
    }
    closedir(d);
    if (rc == 0 && removed && wal_fsync_dir(root, err, errlen) < 0) rc = -1;
    return rc;
}

int node_install_snapshot(node *n, const char *tmp_path, kv_store *kv,
                          const wal_checkpoint_info *info, char *err, size_t errlen)
{
    assert(kv && info->lsn >= 1);
    const char *root = n->cfg.data_dir;
    uint64_t t0 = ev_now_us();
    /* A checkpoint child of the old state would rename its file into the
     * old generation: harmless once that is gone, but reap it now so no
     * "written" is ever credited to the new state. */
    node_checkpoint_kill(n, "a snapshot install replaces the state");

    /* 1. Build the new generation beside the old one. Nothing the old
     * state needs is touched until CURRENT is switched. */
    uint64_t ng = n->gen + 1;
    char gdir[sizeof n->store_dir], path[WAL_PATH_MAX], err2[256];
    node_gen_path(gdir, sizeof gdir, root, ng);
    int rc = node_rmtree(gdir, err, errlen); /* left by a failed install in this run */
    if (rc == 0 && mkdir(gdir, 0755) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", gdir, strerror(errno));
        rc = -1;
    }
    if (rc == 0) node_crash_point(n, "mkdir");
    if (rc == 0 && wal_checkpoint_path(path, sizeof path, gdir, info->lsn) < 0) {
        snprintf(err, errlen, "path too long: %s", gdir);
        rc = -1;
    }
    if (rc == 0 && rename(tmp_path, path) < 0) {
        snprintf(err, errlen, "rename %s to %s: %s", tmp_path, path, strerror(errno));
        rc = -1;
    }
    if (rc == 0) node_crash_point(n, "moved");
    if (rc == 0) rc = wal_fsync_dir(gdir, err, errlen);
    if (rc == 0) rc = wal_fsync_dir(root, err, errlen);
    if (rc == 0) node_crash_point(n, "synced");
    /* 2. The switch: one rename. */
    if (rc == 0) rc = node_current_store(n, ng, err, errlen);
    if (rc == -2) {
        log_error(&n->log, "snapshot install: %s; stopping (a restart recovers either the "
                           "whole old or the whole new state)",
                  err);
        abort();
    }
    if (rc < 0) {
        if (node_rmtree(gdir, err2, sizeof err2) < 0) log_warn(&n->log, "%s", err2);
        kv_free(kv);
        return -1; /* the old state is intact and its WAL still running */
    }
    node_crash_point(n, "switched");

    /* 3. Retire the old generation. Its WAL thread may still be syncing
     * records the snapshot supersedes: they go with it. */
    ev_set(n->loop, wal_thread_event_fd(n->walt), 0, NULL, NULL);
    if (wal_thread_stop(n->walt) < 0) log_warn(&n->log, "flushing the old WAL failed");
    n->walt = NULL;
    wal_writer_close(n->wal);
    n->wal = NULL;
    int removed = n->gen == 0 ? node_remove_legacy(root, err2, sizeof err2)
                              : node_rmtree(n->store_dir, err2, sizeof err2);
    if (removed < 0 || wal_fsync_dir(root, err2, sizeof err2) < 0)
        log_warn(&n->log, "removing the old storage generation: %s (start-up retries)", err2);
    node_crash_point(n, "removed");
    log_info(&n->log, "storage generation %llu (%s) replaces generation %llu",
             (unsigned long long)ng, gdir, (unsigned long long)n->gen);
    n->gen = ng;
    snprintf(n->store_dir, sizeof n->store_dir, "%s", gdir);

    /* 4. The new state in memory, and a WAL after it. */
    kv_free(n->kv);
    n->kv = kv;
    iobuf_reset(&n->pending);
    /* A snapshot older than what this node has served would make reads go
     * back in time: they wait (-LOADING) until it is back there. */
    if (info->lsn < n->served_lsn) {
        n->read_floor = n->served_lsn;
        log_info(&n->log, "reads wait until lsn %llu (served before this snapshot of lsn %llu)",
                 (unsigned long long)n->served_lsn, (unsigned long long)info->lsn);
    }
    n->snapshot_lsn = info->lsn;
    n->last_lsn = n->durable_lsn = n->commit_lsn = n->applied_lsn = info->lsn;
    n->last_rec_epoch = n->applied_epoch = info->epoch;
    n->applied_ts = info->max_ts;
    hlc_observe(&n->clock, info->max_ts);
    n->wal = wal_writer_open(n->store_dir, n->cfg.segment_bytes, info->lsn + 1, &n->log, err,
                             errlen);
    if (n->wal) n->walt = wal_thread_start(n->wal, &n->log, err, errlen);
    if (n->walt && n->follower) repl_follower_attach_wal(n->follower);
    if (!n->walt) {
        log_error(&n->log, "reopening the WAL after a snapshot failed: %s; stopping", err);
        abort(); /* the new state is whole on disk: a restart recovers it */
    }
    ev_set(n->loop, wal_thread_event_fd(n->walt), EV_READ, node_on_wal, n);
    n->wal_removed_bytes = 0;
    n->ckpt_wal_bytes = 0;
    log_info(&n->log, "installed snapshot of lsn %llu (%llu entries) in %.1f ms",
             (unsigned long long)info->lsn, (unsigned long long)info->entries,
             (double)(ev_now_us() - t0) / 1000.0);
    clients_check_blocked(n, ev_now_ms());
    return 0;
}

int node_truncate_log(node *n, uint64_t lsn, char *err, size_t errlen)
{
    if (lsn < n->applied_lsn || lsn > n->last_lsn) {
        snprintf(err, errlen, "cannot cut the log after lsn %llu: applied %llu, last %llu",
                 (unsigned long long)lsn, (unsigned long long)n->applied_lsn,
                 (unsigned long long)n->last_lsn);
        return -1;
    }
    if (lsn == n->last_lsn) return 0;
    uint64_t epoch = 0;
    if (!node_record_epoch(n, lsn, &epoch)) {
        snprintf(err, errlen, "record %llu is not held here", (unsigned long long)lsn);
        return -1;
    }
    uint64_t t0 = ev_now_us(), dropped = n->last_lsn - lsn;
    ev_set(n->loop, wal_thread_event_fd(n->walt), 0, NULL, NULL);
    if (wal_thread_stop(n->walt) < 0) log_warn(&n->log, "flushing the WAL before a cut failed");
    n->walt = NULL;
    wal_writer_close(n->wal);
    n->wal = NULL;
    if (wal_truncate_after(n->store_dir, lsn, &n->log, err, errlen) < 0) {
        log_error(&n->log, "cutting the log after lsn %llu failed: %s; stopping (a restart "
                           "recovers a prefix of the old log)",
                  (unsigned long long)lsn, err);
        abort();
    }
    /* The pending log keeps applied_lsn+1 .. lsn. */
    size_t off = n->pending.pos;
    for (uint64_t l = n->applied_lsn + 1; l <= lsn; l++) off += wal_get_u32(n->pending.p + off);
    n->pending.len = off;
    n->last_lsn = n->durable_lsn = lsn;
    n->last_rec_epoch = epoch;
    n->wal = wal_writer_open(n->store_dir, n->cfg.segment_bytes, lsn + 1, &n->log, err, errlen);
    if (n->wal) n->walt = wal_thread_start(n->wal, &n->log, err, errlen);
    if (n->walt && n->follower) repl_follower_attach_wal(n->follower);
    if (!n->walt) {
        log_error(&n->log, "reopening the WAL after a cut failed: %s; stopping", err);
        abort();
    }
    ev_set(n->loop, wal_thread_event_fd(n->walt), EV_READ, node_on_wal, n);
    log_info(&n->log, "dropped %llu uncommitted records after lsn %llu (a dead leader's tail) in "
                      "%.1f ms",
             (unsigned long long)dropped, (unsigned long long)lsn,
             (double)(ev_now_us() - t0) / 1000.0);
    return 0;
}

int node_record_epoch(node *n, uint64_t lsn, uint64_t *epoch)
{
    if (lsn == 0) {
        *epoch = 0;
        return 1;
    }
    if (lsn > n->last_lsn) return 0;
    if (lsn == n->last_lsn) {
        *epoch = n->last_rec_epoch;
        return 1;
    }
    if (lsn == n->applied_lsn) {
        *epoch = n->applied_epoch;
        return 1;
    }
    if (lsn > n->applied_lsn) { /* in the pending log */
        size_t off = n->pending.pos;
        for (uint64_t l = n->applied_lsn + 1; l < lsn; l++) off += wal_get_u32(n->pending.p + off);
        *epoch = wal_get_u64(n->pending.p + off + 16);
        return 1;
    }
    repl_cursor cur;
    char err[256];
    iobuf one = {0};
    int found = 0;
    if (repl_cursor_open(&cur, n->store_dir, lsn, err, sizeof err) == CURSOR_OK &&
        repl_cursor_read(&cur, &one, lsn, 1, err, sizeof err) == 1) {
        *epoch = wal_get_u64(one.p + 16);
        found = 1;
    }
    repl_cursor_close(&cur);
    iobuf_free(&one);
    return found;
}

static void node_cron(ev_loop *loop, void *data)
{
    node *n = data;
    uint64_t now = ev_now_ms();
    node_expire_tickets(n, now);
    clients_check_blocked(n, now);
    clients_cron(n, now);
    if (n->tls_clients) clients_expire_handshakes(n, now);
    if (n->leader) repl_leader_cron(n->leader, now);
    if (n->follower) repl_follower_cron(n->follower, now);
    if (n->cfg.elected) node_elect_cron(n, now);
    node_checkpoint_cron(n);
    node_wal_retry(n, now);
    node_mem_sample(n, now, 0);
    node_mem_cron(n);
    kv_set_clock(n->kv, now / NODE_LRU_TICK_MS); /* --maxmemory's LRU */
    obs_cron(n, now);
    node_hint_save(n, 0);
    for (int i = 0; i < NL_COUNT; i++) log_limit_flush(&n->log, &n->limits[i]);
    kv_rehash_step(n->kv, NODE_REHASH_STEPS);
    ks_expire_cycle(n);
    node_ready_cron(n);
}

/* The WAL thread is kicked and the followers are sent to first (their
 * fdatasync and round trip are the write's latency), then clients are
 * flushed. Flushing may process a client's pipelined input that waited for
 * its owed replies, proposing more records: those are handed over in this
 * same iteration too, or a write-then-read pipeline would wait for the next
 * cron tick per pair (issue 10 item 17). */
static void node_before_sleep(ev_loop *loop, void *data)
{
    node *n = data;
    if (n->cfg.elected) node_elect_settle(n);
    else if (n->leader && repl_leader_stale_epoch(n->leader) >= n->epoch && !n->fenced) {
        /* Fixed topology: a follower follows another leader in our epoch or
         * a later one (two nodes started with --role leader). Only one may
         * lead an epoch; this one stops, loudly, instead of fighting for
         * the followers. */
        char why[160];
        snprintf(why, sizeof why,
                 "a follower follows another leader in epoch %llu (ours: %llu): restart this "
                 "node as a follower",
                 (unsigned long long)repl_leader_stale_epoch(n->leader),
                 (unsigned long long)n->epoch);
        node_fence(n, why);
    }
    wal_thread_kick(n->walt);
    if (n->leader) repl_leader_flush(n->leader);
    if (n->follower) repl_follower_flush(n->follower);
    uint64_t proposed = n->last_lsn;
    clients_flush(n);
    if (n->last_lsn != proposed) {
        wal_thread_kick(n->walt);
        if (n->leader) repl_leader_flush(n->leader);
    }
}

/* ---- epoch and commit hint: one number in a small file ---- */

/* The epoch file holds the last epoch this node led (or followed). A leader
 * takes max(file, log) + 1 at every start and persists it before serving, so
 * records of different incarnations are always told apart.
 * The commit file holds the commit hint (node.h). */
#define NODE_COMMIT_FILE "commit"
#define NODE_HINT_EVERY_MS 100

/* Reads the number in DIR/NAME into *OUT (0 if the file does not exist).
 * 0, or -1 if it exists but cannot be read or parsed. */
static int node_u64_load(const char *dir, const char *name, uint64_t *out)
{
    char path[CFG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    *out = 0;
    if (!fp) return errno == ENOENT ? 0 : -1;
    unsigned long long v = 0;
    int ok = fscanf(fp, "%llu", &v) == 1;
    fclose(fp);
    if (!ok) return -1;
    *out = v;
    return 0;
}

/* Writes V to DIR/NAME through a temp file and a rename; with SYNC, the
 * file and the directory are fsynced first (the epoch must survive a power
 * cut; the commit hint may be stale and is written without). */
static int node_line_store(const char *dir, const char *name, const char *line, int sync,
                           char *err, size_t errlen);

static int node_u64_store(const char *dir, const char *name, uint64_t v, int sync, char *err,
                          size_t errlen)
{
    char line[32];
    snprintf(line, sizeof line, "%llu\n", (unsigned long long)v);
    return node_line_store(dir, name, line, sync, err, errlen);
}

/* The epoch file holds "EPOCH VOTED_FOR": Raft's persistent state but the
 * log. Old files hold only the epoch (voted for nobody). */
int node_vote_store(const char *dir, uint64_t epoch, unsigned voted_for, char *err, size_t errlen)
{
    char line[48];
    snprintf(line, sizeof line, "%llu %u\n", (unsigned long long)epoch, voted_for);
    return node_line_store(dir, NODE_EPOCH_FILE, line, 1, err, errlen);
}

int node_vote_load(const char *dir, uint64_t *epoch, unsigned *voted_for)
{
    char path[CFG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", dir, NODE_EPOCH_FILE);
    *epoch = 0;
    *voted_for = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) return errno == ENOENT ? 0 : -1;
    unsigned long long e = 0;
    unsigned v = 0;
    int got = fscanf(fp, "%llu %u", &e, &v);
    fclose(fp);
    if (got < 1) return -1;
    *epoch = e;
    *voted_for = got == 2 ? v : 0;
    return 0;
}

static int node_line_store(const char *dir, const char *name, const char *line, int sync,
                           char *err, size_t errlen)
{
    char path[CFG_PATH_MAX + 16], tmp[CFG_PATH_MAX + 24];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    ssize_t len = (ssize_t)strlen(line);
    if (write(fd, line, (size_t)len) != len || (sync && fsync(fd) < 0)) {
        close(fd);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0) goto fail;
    if (!sync) return 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) goto fail;
    int rc = fsync(dfd);
    close(dfd);
    if (rc < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "persisting %s: %s", path, strerror(errno));
    return -1;
}

int node_epoch_store(const char *dir, uint64_t epoch, char *err, size_t errlen)
{
    return node_u64_store(dir, NODE_EPOCH_FILE, epoch, 1, err, errlen);
}

/* Persists the commit hint when it moved (at most every NODE_HINT_EVERY_MS
 * unless FORCE). A failure is logged and retried: the hint is advisory. */
static void node_hint_save(node *n, int force)
{
    uint64_t now = ev_now_ms();
    uint64_t v = n->commit_lsn > n->commit_hint ? n->commit_lsn : n->commit_hint;
    if (v == n->hint_written || (!force && now - n->hint_written_ms < NODE_HINT_EVERY_MS)) return;
    char err[CFG_PATH_MAX + 64];
    n->hint_written_ms = now;
    if (!force) {
        /* Ten times a second on the loop: one pwrite of a fixed-width line
         * over the first bytes of the file, kept open (no open, rename and
         * close, which took ~0.9 ms and up to 6 ms on the loop, a p99 stall
         * under load). 21 bytes at offset 0 sit in one sector, so a crash
         * leaves the old or the new line; unsynced, like the rename was. */
        char line[32];
        int len = snprintf(line, sizeof line, "%020llu\n", (unsigned long long)v);
        if (n->hint_fd < 0) {
            char path[CFG_PATH_MAX + 16];
            snprintf(path, sizeof path, "%s/%s", n->cfg.data_dir, NODE_COMMIT_FILE);
            n->hint_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        }
        if (n->hint_fd >= 0 && pwrite(n->hint_fd, line, (size_t)len, 0) == len) {
            n->hint_written = v;
            return;
        }
        snprintf(err, sizeof err, "persisting %s/%s: %s", n->cfg.data_dir, NODE_COMMIT_FILE,
                 strerror(errno));
        log_warn_limited(&n->log, &n->limits[NL_DISK], "%s (the commit hint is advisory; retrying)", err);
        if (n->hint_fd >= 0) close(n->hint_fd);
        n->hint_fd = -1;
        return;
    }
    /* Forced (a fence, the last save at stop): through a temp file, synced.
     * The rename replaces the file the kept descriptor points at. */
    if (n->hint_fd >= 0) close(n->hint_fd);
    n->hint_fd = -1;
    if (node_u64_store(n->cfg.data_dir, NODE_COMMIT_FILE, v, force, err, sizeof err) < 0) {
        log_warn_limited(&n->log, &n->limits[NL_DISK], "%s (the commit hint is advisory; retrying)", err);
        return;
    }
    n->hint_written = v;
}

void node_fence(node *n, const char *reason)
{
    if (n->fenced) return;
    n->fenced = 1;
    snprintf(n->fence_reason, sizeof n->fence_reason, "%s", reason);
    log_error(&n->log, "refusing to lead: %s", reason);
}

void node_fence_until(node *n, uint64_t need, const char *reason)
{
    if (n->fenced && n->fence_need == 0) return; /* for good */
    if (need > n->fence_need) n->fence_need = need;
    /* Kept in the commit hint too: a restart before the records are back
     * must not forget that they are missing. */
    if (need > n->commit_hint) n->commit_hint = need;
    if (!n->fenced) {
        n->fenced = 1;
        snprintf(n->fence_reason, sizeof n->fence_reason, "%s", reason);
        log_error(&n->log, "refusing to lead until this log reaches lsn %llu (from a follower "
                           "that has it): %s",
                  (unsigned long long)n->fence_need, reason);
    }
}

void node_unfence_check(node *n)
{
    if (!n->fenced || n->fence_need == 0 || n->last_lsn < n->fence_need) return;
    n->fenced = 0;
    n->fence_reason[0] = 0;
    log_warn(&n->log, "the log reaches lsn %llu again (committed records given back by a "
                      "follower): leading again",
             (unsigned long long)n->fence_need);
    n->fence_need = 0;
}

/* An elected leader not yet allowed to answer reads from its own state:
 * 1 its epoch-start record has not committed (it may not hold every
 * committed write yet), 2 its lease does not hold (another leader may
 * exist: repl_elect.h); 0 it may (or it is no elected leader). */
static int node_leader_unconfirmed(const node *n)
{
    if (!n->cfg.elected || !node_is_leader(n)) return 0;
    if (n->commit_lsn < n->epoch_start_lsn) return 1;
    return elect_lease_until(&n->el) <= ev_now_ms() ? 2 : 0;
}

int node_read_transient(const node *n)
{
    return !n->fenced && n->applied_lsn >= n->read_floor && node_leader_unconfirmed(n);
}

const char *node_read_refusal(const node *n, char *buf, size_t len)
{
    if (n->fenced) {
        snprintf(buf, len, "ERR this node refuses to serve: %s", n->fence_reason);
        return buf;
    }
    int unconfirmed = node_leader_unconfirmed(n);
    if (unconfirmed == 1) {
        snprintf(buf, len, "TRYAGAIN this leader (epoch %llu) has not committed its first record yet",
                 (unsigned long long)n->epoch);
        return buf;
    }
    if (unconfirmed == 2) {
        snprintf(buf, len, "TRYAGAIN this leader has not heard from a majority within its lease; "
                           "it cannot tell whether it still leads");
        return buf;
    }
    if (n->applied_lsn < n->read_floor) {
        snprintf(buf, len,
                 "LOADING rkv is catching up after a resync (applied lsn %llu of %llu already "
                 "served); reads resume when it is back there",
                 (unsigned long long)n->applied_lsn, (unsigned long long)n->read_floor);
        return buf;
    }
    return NULL;
}

/* ---- life cycle ---- */

/* Recovery's hold callback: a record above the commit hint goes to the
 * pending log (it is on disk already) instead of the store. */
static int node_hold_record(void *ctx, const wal_rec *r)
{
    node *n = ctx;
    size_t size = wal_record_size_x(r->klen, r->vlen, r->flags & WAL_F_EXPIRE);
    if (iobuf_reserve(&n->pending, size) < 0) return -1;
    size_t wrote = wal_record_encode(r, n->pending.p + n->pending.len);
    assert(wrote == size);
    n->pending.len += wrote;
    return 0;
}

/* Takes <data-dir>/LOCK (flock, exclusive, held until exit) before anything
 * else in the directory is touched, and writes this process's PID into it. */
int node_dir_trylock(int fd, char *pid, size_t pidlen)
{
    pid[0] = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    int e = errno;
    ssize_t r = pidlen > 1 ? pread(fd, pid, pidlen - 1, 0) : 0;
    pid[r > 0 ? r : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    return e;
}

static int node_lock_data_dir(node *n, char *err, size_t errlen)
{
    char path[CFG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" NODE_LOCK_FILE, n->cfg.data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
        return -1;
    }
    char pid[24];
    int e = node_dir_trylock(fd, pid, sizeof pid);
    if (e) {
        close(fd);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "data dir '%s' is in use by another rkv-server (pid %s, or a "
                                  "checkpoint child it forked, holds the lock on %s); not "
                                  "touching it",
                     n->cfg.data_dir, pid[0] ? pid : "unknown", path);
        else
            snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        return -1;
    }
    char line[24];
    int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        snprintf(err, errlen, "writing the pid to %s: %s", path, strerror(errno ? errno : EIO));
        close(fd);
        return -1;
    }
    n->lock_fd = fd;
    return 0;
}

/* Finds (or, in an empty data dir, creates) the live storage generation
 * and removes what an interrupted install left. Sets gen and store_dir. */
static int node_pick_generation(node *n, char *err, size_t errlen)
{
    const char *root = n->cfg.data_dir;
    uint64_t gen = 0;
    int have = node_current_load(root, &gen, err, errlen);
    if (have < 0) return -1;
    if (have) {
        node_gen_path(n->store_dir, sizeof n->store_dir, root, gen);
        struct stat st;
        if (stat(n->store_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s/" NODE_CURRENT_FILE " names generation %llu but %s is "
                                  "missing",
                     root, (unsigned long long)gen, n->store_dir);
            return -1;
        }
        /* An install from the old layout that crashed after its switch. */
        if (node_has_legacy(root)) {
            int r = node_remove_legacy(root, err, errlen);
            if (r < 0) return -1;
            log_info(&n->log, "removed %d entries of the old layout from %s (generation %llu "
                              "is live)",
                     r, root, (unsigned long long)gen);
        }
    } else if (node_has_legacy(root)) {
        gen = 0;
        log_info(&n->log, "%s has no " NODE_CURRENT_FILE ": reading the old layout in place as "
                          "generation 0 (the next snapshot install moves it to gen-1)",
                 root);
    } else {
        gen = 1;
    }
    n->gen = gen;
    node_gen_path(n->store_dir, sizeof n->store_dir, root, gen);
    if (node_remove_stray(n, gen, err, errlen) < 0) return -1;
    if (!have && gen == 1) { /* a new data dir */
        if (mkdir(n->store_dir, 0755) < 0) {
            snprintf(err, errlen, "mkdir %s: %s", n->store_dir, strerror(errno));
            return -1;
        }
        int rc = wal_fsync_dir(root, err, errlen);
        if (rc == 0) rc = node_current_store(n, gen, err, errlen);
        if (rc < 0) return -1;
    }
    return 0;
}

static int node_open_storage(node *n, char *err, size_t errlen)
{
    if (mkdir(n->cfg.data_dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir '%s': %s", n->cfg.data_dir,
                 strerror(errno));
        return -1;
    }
    if (node_lock_data_dir(n, err, errlen) < 0) return -1;
    if (node_pick_generation(n, err, errlen) < 0) return -1;
    wal_recovery_info info;
    uint64_t t0 = ev_now_us();
    /* Only what is known committed (the commit hint) is applied; the rest of
     * the log waits in the pending log, unreadable and uncounted, until a
     * quorum acknowledges it (a write that timed out before a restart must
     * not become readable because this node alone has it). */
    if (node_u64_load(n->cfg.data_dir, NODE_COMMIT_FILE, &n->commit_hint) < 0) {
        log_warn(&n->log, "unreadable commit hint in %s: ignored (it is advisory)",
                 n->cfg.data_dir);
        n->commit_hint = 0;
    }
    n->hint_written = n->commit_hint;
    if (wal_recover_held(n->store_dir, n->kv, n->commit_hint, node_hold_record, n, &info,
                         &n->log, err, errlen) < 0)
        return -1;
    log_info(&n->log,
             "recovered %zu keys from %s (generation %llu): snapshot lsn=%llu, %llu WAL records "
             "replayed, last lsn=%llu in %.1f ms; %llu records above the commit hint %llu are "
             "held until a quorum confirms them",
             kv_count(n->kv), n->store_dir, (unsigned long long)n->gen,
             (unsigned long long)info.snapshot_lsn,
             (unsigned long long)info.records_replayed, (unsigned long long)info.last_lsn,
             (double)(ev_now_us() - t0) / 1000.0,
             (unsigned long long)(info.last_lsn - info.applied_lsn),
             (unsigned long long)n->commit_hint);
    assert(info.applied_lsn <= info.last_lsn);
    assert(iobuf_used(&n->pending) == 0 || info.applied_lsn < info.last_lsn);
    n->snapshot_lsn = info.snapshot_lsn;
    n->last_lsn = n->durable_lsn = info.last_lsn;
    n->commit_lsn = n->applied_lsn = n->served_lsn = info.applied_lsn;
    n->last_rec_epoch = info.last_epoch;
    n->applied_epoch = info.applied_epoch;
    n->applied_ts = info.applied_ts;
    n->ckpt_wal_bytes = 0;
    n->wal_removed_bytes = 0;
    hlc_observe(&n->clock, info.max_ts);
    uint64_t stored;
    if (node_vote_load(n->cfg.data_dir, &stored, &n->epoch_leader) < 0) {
        snprintf(err, errlen, "unreadable epoch file in %s", n->cfg.data_dir);
        return -1;
    }
    n->epoch = stored > info.last_epoch ? stored : info.last_epoch;
    if (n->epoch != stored) n->epoch_leader = 0;
    if (n->commit_hint > info.last_lsn) {
        char why[CFG_PATH_MAX + 256];
        snprintf(why, sizeof why,
                 "the log in %s ends at lsn %llu, but lsn %llu was committed: committed records "
                 "are missing (a damaged or deleted WAL segment?)",
                 n->cfg.data_dir, (unsigned long long)info.last_lsn,
                 (unsigned long long)n->commit_hint);
        if (n->cfg.elected) {
            /* Elections keep this node from leading (or voting) until a
             * leader has given the records back (node_elect_cron). */
            log_warn(&n->log, "%s; this node neither campaigns nor votes until a leader gives "
                              "them back",
                     why);
        } else if (n->cfg.role == ROLE_LEADER && n->cfg.nfollowers == 0) {
            /* Nobody else can hold them: say so loudly and serve what is
             * left (as Redis does with a truncated AOF), instead of a node
             * that refuses everything until an operator edits a file. */
            log_error(&n->log, "%s; no followers are configured to take them back from: "
                               "serving the log as it is",
                      why);
            n->commit_hint = info.last_lsn;
            n->hint_written = 0; /* rewritten at the next cron */
        } else if (n->cfg.role == ROLE_LEADER) {
            node_fence_until(n, n->commit_hint, why);
        } else { /* a follower gets them from its leader */
            log_warn(&n->log, "%s; they will be fetched from the leader", why);
        }
    }
    if (n->epoch > NODE_EPOCH_MAX) {
        snprintf(err, errlen, "epoch %llu in %s is beyond the largest accepted (%llu)",
                 (unsigned long long)n->epoch, n->cfg.data_dir,
                 (unsigned long long)NODE_EPOCH_MAX);
        return -1;
    }
    if (n->cfg.role == ROLE_LEADER && !n->cfg.elected) {
        if (n->epoch >= NODE_EPOCH_MAX) {
            snprintf(err, errlen, "epoch %llu in %s is beyond the largest (%llu)",
                     (unsigned long long)n->epoch, n->cfg.data_dir,
                     (unsigned long long)NODE_EPOCH_MAX);
            return -1;
        }
        n->epoch++;
        if (node_epoch_store(n->cfg.data_dir, n->epoch, err, errlen) < 0) return -1;
    }
    n->wal = wal_writer_open(n->store_dir, n->cfg.segment_bytes, info.last_lsn + 1, &n->log,
                             err, errlen);
    if (!n->wal) return -1;
    n->walt = wal_thread_start(n->wal, &n->log, err, errlen);
    return n->walt ? 0 : -1;
}

/* --max-clients must leave descriptors for everything else the node opens
 * (WAL segments, checkpoints and their child, replication and vote links,
 * listeners, the log): raise the soft RLIMIT_NOFILE toward what is needed,
 * as far as the hard limit allows, and lower max-clients, with a warning,
 * when even that is not enough (Redis does the same). Clients then can
 * never take the descriptor the WAL needs for its next segment. */
static void node_fit_fd_limit(node *n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t need = (rlim_t)n->cfg.clients_max + NODE_FD_RESERVE;
    if (rl.rlim_cur < need) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
    if (rl.rlim_cur >= need) return;
    size_t fit = rl.rlim_cur > NODE_FD_RESERVE + 1 ? (size_t)(rl.rlim_cur - NODE_FD_RESERVE) : 1;
    log_warn(&n->log,
             "max-clients lowered from %zu to %zu: the descriptor limit (ulimit -n) is %llu and "
             "%d are kept for the WAL, checkpoints and replication; raise the limit to allow more",
             n->cfg.clients_max, fit, (unsigned long long)rl.rlim_cur, NODE_FD_RESERVE);
    n->cfg.clients_max = fit;
    if (n->cfg.unauth_clients_max > fit) n->cfg.unauth_clients_max = fit;
}

node *node_new(const node_config *cfg, char *err, size_t errlen)
{
    node *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->cfg = *cfg;
    n->lfd = n->stop_fd = n->lock_fd = n->tls_lfd = n->hint_fd = -1;
    n->stats.start_ms = ev_now_ms();
    node_mem_init(n); /* malloc's total before any data */
    log_init(&n->log, cfg->node_id, cfg->log_level);
    if (cfg->log_file[0] && log_open_file(&n->log, cfg->log_file) < 0) {
        snprintf(err, errlen, "--log-file %s: %s", cfg->log_file, strerror(errno));
        goto fail;
    }
    /* Users first: a bad aclfile stops the start before any storage is
     * touched. The password is hashed now and its plain copy wiped. */
    n->acl = cfg->aclfile[0] ? acl_load_file(cfg->aclfile, NULL, cfg->requirepass, err, errlen)
                             : acl_new(cfg->requirepass);
    rkv_wipe(n->cfg.requirepass, sizeof n->cfg.requirepass);
    if (!n->acl) {
        if (!cfg->aclfile[0]) snprintf(err, errlen, "out of memory");
        goto fail;
    }
    hlc_init(&n->clock, NULL, NULL);
    n->clock.offset_us = cfg->clock_offset_us;
    n->kv = kv_new();
    n->loop = ev_new();
    if (!n->kv || !n->loop || ks_init(n) < 0 || obs_init(n) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->cluster_secret_file[0]) {
        char warn[CFG_PATH_MAX + 128];
        if (repl_secret_load(cfg->cluster_secret_file, &n->secret, warn, sizeof warn, err,
                             errlen) < 0)
            goto fail;
        if (warn[0]) log_warn(&n->log, "%s", warn);
    } else if (cfg->tls_replication) {
        log_warn(&n->log, "no --cluster-secret-file: replication peers are authenticated by "
                          "their TLS certificates alone (any certificate of this CA makes a "
                          "member; docs/SECURITY.md)");
    } else if (cfg->elected || cfg->nfollowers > 0 || cfg->role == ROLE_FOLLOWER) {
        log_warn(&n->log, "no --cluster-secret-file: replication and votes are not "
                          "authenticated, and are accepted from loopback addresses only "
                          "(docs/SECURITY.md)");
    }
    node_fit_fd_limit(n);
    if (node_open_storage(n, err, errlen) < 0) goto fail;
    n->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->stop_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    n->lfd = net_listen(cfg->bind, cfg->port, &n->port, err, errlen);
    if (n->lfd < 0) goto fail;
    if (ev_set(n->loop, n->lfd, EV_READ, node_on_accept, n) < 0 ||
        ev_set(n->loop, n->stop_fd, EV_READ, node_on_stop, n) < 0 ||
        ev_set(n->loop, wal_thread_event_fd(n->walt), EV_READ, node_on_wal, n) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto fail;
    }
    if (node_tls_init(n, err, errlen) < 0) goto fail;
    if (cfg->elected) {
        n->follower = repl_follower_new(n, err, errlen);
        if (!n->follower || node_elect_init(n, err, errlen) < 0) goto fail;
    } else if (cfg->role == ROLE_LEADER && cfg->nfollowers > 0) {
        n->leader = repl_leader_new(n, cfg->followers, cfg->nfollowers, err, errlen);
        n->lead_since_ms = ev_now_ms();
        if (!n->leader) goto fail;
    } else if (cfg->role == ROLE_FOLLOWER) {
        n->follower = repl_follower_new(n, err, errlen);
        if (!n->follower) goto fail;
    }
    node_advance_commit(n); /* a lone node commits what it recovered at once */
    /* A fixed leader's recovered records above the commit hint are pending:
     * its commands must see them (keyspace.h). */
    if (node_is_leader(n) && ks_rebuild_proposed(n) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    ev_set_cron(n->loop, NODE_CRON_MS, node_cron, n);
    node_mem_sample(n, ev_now_ms(), 1);
    ev_set_before_sleep(n->loop, node_before_sleep, n);
    log_info(&n->log, "node %u ready: role=%s epoch=%llu clients on %s:%d", cfg->node_id,
             cfg->elected ? "elected" : cfg->role == ROLE_LEADER ? "leader" : "follower",
             (unsigned long long)n->epoch,
             cfg->bind, n->port);
    if (n->tls_lfd >= 0)
        log_info(&n->log, "TLS clients on %s:%d (client certificates: %s)", cfg->bind,
                 n->tls_port,
                 cfg->tls_auth_clients == CFG_TLS_AUTH_YES        ? "required"
                 : cfg->tls_auth_clients == CFG_TLS_AUTH_OPTIONAL ? "optional"
                                                                  : "not asked");
    if (n->tls_repl) log_info(&n->log, "replication and votes over mutual TLS");
    return n;
fail:
    node_free(n);
    return NULL;
}

int node_run(node *n)
{
    return ev_run(n->loop);
}

int node_run_once(node *n, int timeout_ms)
{
    return ev_run_once(n->loop, timeout_ms);
}

void node_request_stop(node *n)
{
    uint64_t one = 1;
    ssize_t r = write(n->stop_fd, &one, sizeof one);
    (void)r;
}

void node_free(node *n)
{
    if (!n) return;
    if (n->lfd >= 0) close(n->lfd);
    n->lfd = -1;
    if (n->tls_lfd >= 0) {
        ev_set(n->loop, n->tls_lfd, 0, NULL, NULL);
        close(n->tls_lfd);
    }
    n->tls_lfd = -1;
    /* Everything acknowledged is already durable (replies follow fsync);
     * flushing the rest costs one more sync and loses nothing. */
    clients_free_all(n);
    if (n->ckpt_pid > 0) { /* let a running checkpoint finish: it is cheap to keep */
        int status;
        waitpid(n->ckpt_pid, &status, 0);
    }
    repl_leader_free(n->leader);
    repl_follower_free(n->follower);
    node_elect_free(n);
    if (n->walt) node_hint_save(n, 1);
    if (n->hint_fd >= 0) close(n->hint_fd);
    if (wal_thread_stop(n->walt) < 0) log_error(&n->log, "final WAL flush failed");
    if (wal_writer_close(n->wal) < 0) log_error(&n->log, "closing the WAL failed");
    if (n->stop_fd >= 0) close(n->stop_fd);
    tls_ctx_free(n->tls_clients); /* after every connection that used them */
    tls_ctx_free(n->tls_repl);
    ev_free(n->loop);
    kv_free(n->kv);
    ks_free(n);
    obs_free(n);
    iobuf_free(&n->pending);
    for (size_t i = 0; i < n->tk_len; i++) free(n->tickets[(n->tk_head + i) % n->tk_cap].heap);
    free(n->tickets);
    acl_free(n->acl);
    log_info(&n->log, "node %u stopped", n->cfg.node_id);
    if (n->lock_fd >= 0) close(n->lock_fd); /* last: the directory is ours until here */
    log_close(&n->log);
    rkv_wipe(&n->secret, sizeof n->secret);
    free(n);
}

uint16_t node_announce(const node *n, char *host, size_t hostlen)
{
    const char *h = n->cfg.announce_host[0] ? n->cfg.announce_host : n->cfg.bind;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || !h[0]) h = "127.0.0.1";
    snprintf(host, hostlen, "%s", h);
    return (uint16_t)(n->cfg.announce_port ? n->cfg.announce_port : n->port);
}

int node_is_leader(const node *n)
{
    if (!n->cfg.elected) return n->cfg.role == ROLE_LEADER;
    return n->leader != NULL && n->el.role == EL_LEADER;
}

int node_leader_known(const node *n, unsigned id)
{
    return id != 0 && (!n->cfg.elected || id == n->el.leader);
}
