/* node.c -- a node's life: start-up (recovery, WAL, listeners), the commit
 * pipeline (pending log -> durable -> quorum -> apply -> replies) and an
 * orderly stop. See node.h for the write path. */
#include "server/node.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl/repl.h"
#include "repl/repl_conflict.h"
#include "server/client.h"
#include "wal/wal_recovery.h"

#define NODE_CRON_MS 10            /* deadline granularity: timeouts, heartbeats */
#define NODE_TICKETS_INIT 1024
#define NODE_PENDING_COMPACT (1u << 20) /* move the pending log down past this */
#define NODE_REHASH_STEPS 100       /* buckets moved per cron while idle */
#define NODE_EPOCH_FILE "epoch"

/* ---- pending log ---- */

static int bytebuf_reserve(bytebuf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return 0;
    if (b->head > 0) { /* reclaim consumed space first */
        memmove(b->p, b->p + b->head, b->len - b->head);
        b->len -= b->head;
        b->head = 0;
        if (b->len + extra <= b->cap) return 0;
    }
    size_t cap = b->cap ? b->cap : (1u << 16);
    while (cap < b->len + extra) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

size_t node_pending_bytes(const node *n)
{
    return n->pending.len - n->pending.head;
}

/* ---- tickets ---- */

static ticket *ticket_front(node *n)
{
    return n->tk_len ? &n->tickets[n->tk_head] : NULL;
}

static void ticket_pop(node *n)
{
    n->tk_head = (n->tk_head + 1) % n->tk_cap;
    n->tk_len--;
}

/* Completes the front ticket: the owed reply goes to its client. */
static void ticket_complete(node *n, ticket *t, int ok)
{
    client *c = t->c;
    if (ok) n->stats.writes_committed++;
    if (c) {
        if (!ok)
            reply_error(c, "TIMEOUT no quorum within %d ms: the write's outcome is unknown "
                           "(it stays in the leader's log and may still commit)",
                        n->cfg.quorum_timeout_ms);
        else if (t->kind == TICKET_COUNT)
            reply_int(c, t->count);
        else
            reply_status(c, "OK");
    }
    ticket_pop(n);
    if (c) client_ticket_done(c);
}

int node_add_ticket(node *n, client *c, uint64_t first, uint64_t last, int kind)
{
    if (n->tk_len == n->tk_cap) {
        size_t cap = n->tk_cap ? n->tk_cap * 2 : NODE_TICKETS_INIT;
        ticket *t = malloc(cap * sizeof *t);
        if (!t) return -1;
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
    t->kind = kind;
    t->count = 0;
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

uint64_t node_propose(node *n, uint8_t op, const uint8_t *key, uint32_t klen,
                      const uint8_t *val, uint32_t vlen)
{
    size_t size = wal_record_size(klen, vlen);
    if (node_pending_bytes(n) + size > n->cfg.pending_bytes_max) return 0;
    if (bytebuf_reserve(&n->pending, size) < 0) return 0;
    wal_rec r = {.lsn = n->last_lsn + 1,
                 .epoch = n->epoch,
                 .ts = hlc_now(&n->clock),
                 .node_id = n->cfg.node_id,
                 .op = op,
                 .klen = klen,
                 .vlen = vlen,
                 .key = key,
                 .val = val};
    uint8_t *dst = n->pending.p + n->pending.len;
    size_t wrote = wal_record_encode(&r, dst);
    assert(wrote == size);
    if (wal_thread_append(n->walt, dst, size, r.lsn) < 0) return 0;
    n->pending.len += size;
    n->last_lsn = r.lsn;
    n->last_rec_epoch = r.epoch;
    if (n->leader) repl_leader_ship(n->leader, dst, size, r.lsn);
    return r.lsn;
}

int node_append_encoded(node *n, const uint8_t *rec, size_t len, const wal_rec *r)
{
    if (r->lsn != n->last_lsn + 1) return -1;
    if (bytebuf_reserve(&n->pending, len) < 0) return -1;
    memcpy(n->pending.p + n->pending.len, rec, len);
    if (wal_thread_append(n->walt, rec, len, r->lsn) < 0) return -1;
    n->pending.len += len;
    n->last_lsn = r->lsn;
    n->last_rec_epoch = r->epoch;
    if (r->epoch > n->epoch) n->epoch = r->epoch;
    uint64_t now = hlc_wall_us(NULL);
    if (r->ts > now + n->cfg.max_clock_skew_ms * 1000u) {
        n->stats.future_records++;
        log_warn(&n->log, "record lsn=%llu from node %u is %llu ms in the future (max skew %llu ms)",
                 (unsigned long long)r->lsn, r->node_id,
                 (unsigned long long)((r->ts - now) / 1000u),
                 (unsigned long long)n->cfg.max_clock_skew_ms);
    }
    hlc_observe(&n->clock, r->ts);
    return 0;
}

/* Applies the next pending record; returns its LSN. */
static uint64_t node_apply_next(node *n)
{
    wal_rec r;
    size_t used;
    bytebuf *b = &n->pending;
    wal_dec d = wal_record_decode(b->p + b->head, b->len - b->head, &r, &used);
    /* These bytes were encoded or CRC-verified by this node. */
    assert(d == WAL_DEC_OK && r.lsn == n->applied_lsn + 1);
    (void)d;
    int existed = 0;
    if (repl_apply_record(n->kv, &r, &existed) == KV_NOMEM) {
        log_error(&n->log, "out of memory applying lsn=%llu; stopping (the WAL has it)",
                  (unsigned long long)r.lsn);
        abort();
    }
    b->head += used;
    if (b->head == b->len) b->head = b->len = 0;
    n->applied_lsn = r.lsn;
    ticket *t = ticket_front(n);
    if (t && t->first_lsn <= r.lsn && r.lsn <= t->last_lsn) {
        if (r.op == WAL_OP_DEL && existed) t->count++;
        if (r.lsn == t->last_lsn) ticket_complete(n, t, 1);
    }
    return r.lsn;
}

void node_advance_commit(node *n)
{
    uint64_t target = n->durable_lsn;
    if (n->leader) {
        uint64_t q = repl_leader_quorum_lsn(n->leader);
        if (q < target) target = q;
    }
    if (target > n->commit_lsn) n->commit_lsn = target;
    int applied = 0;
    while (n->applied_lsn < n->commit_lsn) {
        node_apply_next(n);
        applied = 1;
    }
    if (applied) {
        clients_check_blocked(n, ev_now_ms());
        if (n->leader && n->cfg.log_lag) repl_leader_log_lag(n->leader);
    }
}

/* ---- loop hooks ---- */

static void node_on_wal(ev_loop *loop, int fd, void *data, unsigned events)
{
    node *n = data;
    int failed = 0;
    uint64_t d = wal_thread_poll(n->walt, &failed, n->wal_error, sizeof n->wal_error);
    if (failed && !n->wal_failed) {
        n->wal_failed = 1;
        log_error(&n->log, "WAL failed: %s; the node refuses writes until restarted",
                  n->wal_error);
    }
    if (d > n->durable_lsn) {
        n->durable_lsn = d;
        if (n->follower) repl_follower_durable(n->follower, d);
        node_advance_commit(n);
    }
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
    client_accept(data);
}

static void node_expire_tickets(node *n, uint64_t now)
{
    ticket *t;
    while ((t = ticket_front(n)) && t->deadline_ms <= now) {
        n->stats.quorum_timeouts++;
        log_warn(&n->log, "write lsn=%llu..%llu: no quorum within %d ms (outcome unknown)",
                 (unsigned long long)t->first_lsn, (unsigned long long)t->last_lsn,
                 n->cfg.quorum_timeout_ms);
        ticket_complete(n, t, 0);
    }
}

static void node_cron(ev_loop *loop, void *data)
{
    node *n = data;
    uint64_t now = ev_now_ms();
    node_expire_tickets(n, now);
    clients_check_blocked(n, now);
    if (n->leader) repl_leader_cron(n->leader, now);
    if (n->follower) repl_follower_cron(n->follower, now);
    kv_rehash_step(n->kv, NODE_REHASH_STEPS);
}

static void node_before_sleep(ev_loop *loop, void *data)
{
    node *n = data;
    wal_thread_kick(n->walt);
    if (n->leader) repl_leader_flush(n->leader);
    if (n->follower) repl_follower_flush(n->follower);
    clients_flush(n);
}

/* ---- epoch ---- */

/* The epoch file holds the last epoch this node led (or followed). A leader
 * takes max(file, log) + 1 at every start and persists it before serving, so
 * records of different incarnations are always told apart. */
static int node_epoch_load(const char *dir, uint64_t *out)
{
    char path[CFG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" NODE_EPOCH_FILE, dir);
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

static int node_epoch_store(const char *dir, uint64_t epoch, char *err, size_t errlen)
{
    char path[CFG_PATH_MAX + 16], tmp[CFG_PATH_MAX + 24];
    snprintf(path, sizeof path, "%s/" NODE_EPOCH_FILE, dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    char line[32];
    int len = snprintf(line, sizeof line, "%llu\n", (unsigned long long)epoch);
    if (write(fd, line, (size_t)len) != len || fsync(fd) < 0) {
        close(fd);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0) goto fail;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) goto fail;
    int rc = fsync(dfd);
    close(dfd);
    if (rc < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "persisting epoch in %s: %s", path, strerror(errno));
    return -1;
}

/* ---- life cycle ---- */

static int node_open_storage(node *n, char *err, size_t errlen)
{
    if (mkdir(n->cfg.data_dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir '%s': %s", n->cfg.data_dir,
                 strerror(errno));
        return -1;
    }
    wal_recovery_info info;
    uint64_t t0 = ev_now_us();
    if (wal_recover(n->cfg.data_dir, n->kv, &info, &n->log, err, errlen) < 0) return -1;
    log_info(&n->log,
             "recovered %zu keys from %s: snapshot lsn=%llu, %llu WAL records replayed, "
             "last lsn=%llu in %.1f ms",
             kv_count(n->kv), n->cfg.data_dir, (unsigned long long)info.snapshot_lsn,
             (unsigned long long)info.records_replayed, (unsigned long long)info.last_lsn,
             (double)(ev_now_us() - t0) / 1000.0);
    n->snapshot_lsn = info.snapshot_lsn;
    n->last_lsn = n->durable_lsn = n->commit_lsn = n->applied_lsn = info.last_lsn;
    n->last_rec_epoch = info.last_epoch;
    hlc_observe(&n->clock, info.max_ts);
    uint64_t stored;
    if (node_epoch_load(n->cfg.data_dir, &stored) < 0) {
        snprintf(err, errlen, "unreadable epoch file in %s", n->cfg.data_dir);
        return -1;
    }
    n->epoch = stored > info.last_epoch ? stored : info.last_epoch;
    if (n->cfg.role == ROLE_LEADER) {
        n->epoch++;
        if (node_epoch_store(n->cfg.data_dir, n->epoch, err, errlen) < 0) return -1;
    }
    n->wal = wal_writer_open(n->cfg.data_dir, n->cfg.segment_bytes, info.last_lsn + 1, &n->log,
                             err, errlen);
    if (!n->wal) return -1;
    n->walt = wal_thread_start(n->wal, &n->log, err, errlen);
    return n->walt ? 0 : -1;
}

node *node_new(const node_config *cfg, char *err, size_t errlen)
{
    node *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->cfg = *cfg;
    n->lfd = n->stop_fd = -1;
    n->stats.start_ms = ev_now_ms();
    log_init(&n->log, cfg->node_id, cfg->log_level);
    if (cfg->log_file[0] && log_open_file(&n->log, cfg->log_file) < 0) {
        snprintf(err, errlen, "--log-file %s: %s", cfg->log_file, strerror(errno));
        goto fail;
    }
    hlc_init(&n->clock, NULL, NULL);
    n->clock.offset_us = cfg->clock_offset_us;
    n->kv = kv_new();
    n->loop = ev_new();
    if (!n->kv || !n->loop) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
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
    if (cfg->role == ROLE_LEADER && cfg->nfollowers > 0) {
        n->leader = repl_leader_new(n, err, errlen);
        if (!n->leader) goto fail;
    } else if (cfg->role == ROLE_FOLLOWER) {
        n->follower = repl_follower_new(n, err, errlen);
        if (!n->follower) goto fail;
    }
    ev_set_cron(n->loop, NODE_CRON_MS, node_cron, n);
    ev_set_before_sleep(n->loop, node_before_sleep, n);
    log_info(&n->log, "node %u ready: role=%s epoch=%llu clients on %s:%d%s", cfg->node_id,
             cfg->role == ROLE_LEADER ? "leader" : "follower", (unsigned long long)n->epoch,
             cfg->bind, n->port, n->follower ? "" : "");
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
    /* Everything acknowledged is already durable (replies follow fsync);
     * flushing the rest costs one more sync and loses nothing. */
    clients_free_all(n);
    repl_leader_free(n->leader);
    repl_follower_free(n->follower);
    if (wal_thread_stop(n->walt) < 0) log_error(&n->log, "final WAL flush failed");
    if (wal_writer_close(n->wal) < 0) log_error(&n->log, "closing the WAL failed");
    if (n->stop_fd >= 0) close(n->stop_fd);
    ev_free(n->loop);
    kv_free(n->kv);
    free(n->pending.p);
    free(n->tickets);
    log_info(&n->log, "node %u stopped", n->cfg.node_id);
    log_close(&n->log);
    free(n);
}
