/* rkv_bench.c -- rkv-bench: a RESP load generator, plus `rkv-bench storage`.
 *
 *   rkv-bench [-h host] [-p port] [--target host:port ...] [-c conns] [-n reqs |
 *             --duration S] [-P depth] [-d bytes] [-r keys] [--mix set|get|R:W]
 *             [--wait N] [--threads T] [--prefill] [--seed S] [--csv] [--quiet]
 *             [--latency-out FILE] [--timeout S]
 *   rkv-bench storage ...        (the storage-engine benchmark, bench_storage.c)
 *
 * It measures rkv and, side by side, Redis or anything else that speaks RESP,
 * so it must never be the bottleneck on a 2-core box. The hot path is shaped
 * for that: every connection owns a preallocated output buffer into which a
 * batch of P requests is stamped from a template (only the 12 key digits
 * change), sent with one send(); replies are found with resp_skip_reply()
 * (no tree, no copy) straight out of one receive buffer; latencies go into a
 * fixed log-linear histogram (HDR style, 128 sub-buckets per power of two,
 * < 0.8 % error), so there is no malloc and no per-request storage while
 * measuring. Each --threads worker runs its own epoll loop over its share of
 * the connections; workers share only an atomic request counter.
 *
 * A "client" is one closed-loop user: it sends a batch of P requests, waits
 * for all P replies, sends the next. It holds one connection per target it
 * needs: SETs (and their WAIT) go to the first target, GETs go round-robin
 * over all targets, which is how reads are spread over followers. With
 * --wait N every SET is followed by "WAIT N 0" on the same connection and the
 * pair is one request whose latency ends at the WAIT reply (how Redis with
 * WAIT is measured against rkv's quorum-durable SET). A request's latency
 * runs from its batch's send to the read that completes it (CLOCK_MONOTONIC).
 *
 * Output ends with one summary line for scripts:
 *   SET: 51234.5 req/s, p50=0.810 ms p99=2.100 ms p99.9=3.500 ms max=9.000 ms, errors=0
 * Exit status: 0 clean run, 1 error replies / connection failure / stall,
 * 2 bad command line. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/version.h"
#include "net/net.h"
#include "net/resp.h"

#define BENCH_DEFAULT_HOST "127.0.0.1"
#define BENCH_DEFAULT_PORT 7379
#define BENCH_HOST_MAX 256
#define BENCH_TARGETS_MAX 16
#define BENCH_CONNS_MAX 10000
#define BENCH_THREADS_MAX 64
#define BENCH_PIPELINE_MAX 4096
#define BENCH_VALUE_MAX (16u * 1024u * 1024u)
#define BENCH_KEYSPACE_MAX 1000000000000ull      /* keys are "key:%012d" */
#define BENCH_KEY_DIGITS 12
#define BENCH_MIX_MAX 1000000                    /* each side of --mix R:W */
#define BENCH_WAIT_MAX 1000                      /* --wait numfollowers */
#define BENCH_OUTBUF_MAX (64u * 1024u * 1024u)   /* one connection's batch */
#define BENCH_INBUF_INITIAL (64u * 1024u)
#define BENCH_INBUF_MAX (640u * 1024u * 1024u)   /* one reply (512 MiB bulk + slack) */
#define BENCH_READ_MIN (16u * 1024u)             /* least free space offered to recv() */
#define BENCH_ERRTEXT_MAX 256
#define BENCH_MSG_MAX 1024                       /* a setup error: host + reason */
#define BENCH_PREFILL_PIPELINE 64                /* prefill batches, whatever -P is */
#define BENCH_EPOLL_EVENTS 256
#define BENCH_LOOP_TICK_MS 100                   /* epoll timeout: notice stop/deadline */
#define BENCH_DEFAULT_TIMEOUT_S 30.0             /* no reply at all for this long: stall */
#define BENCH_CONNECT_TIMEOUT_MS 5000

/* ---- configuration ---- */

typedef struct bench_target {
    char host[BENCH_HOST_MAX];
    int port;
} bench_target;

typedef struct bench_cfg {
    bench_target target[BENCH_TARGETS_MAX];
    int ntargets;
    int conns, threads, pipeline;
    uint64_t requests; /* UINT64_MAX: until --duration */
    double duration_s; /* 0: none */
    size_t value_size;
    uint64_t keyspace, seed;
    unsigned mix_r, mix_w; /* reads : writes */
    int wait_n;            /* -1: no WAIT */
    int cmd;               /* --cmd: the write (BCMD_*) */
    int csv, quiet, prefill;
    const char *latency_out;
    double timeout_s;
    char label[64];
} bench_cfg;

/* ---- latency histogram (log-linear, HDR style) ---- */

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS) /* sub-buckets per power of two */
#define HIST_MAX_EXP 40                /* values up to 2^40 ns (18 min) */
#define HIST_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB + HIST_SUB)

typedef struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t n, sum_ns, min_ns, max_ns;
} hist;

static unsigned hist_index(uint64_t v)
{
    if (v >= (1ull << HIST_MAX_EXP))
        v = (1ull << HIST_MAX_EXP) - 1;
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned b = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    return b * HIST_SUB + (unsigned)(v >> b);
}

static uint64_t hist_lower(unsigned idx)
{
    if (idx < 2 * HIST_SUB)
        return idx;
    unsigned b = idx / HIST_SUB - 1;
    return (uint64_t)(idx - b * HIST_SUB) << b;
}

static void hist_record(hist *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->n++;
    h->sum_ns += v;
    if (v > h->max_ns)
        h->max_ns = v;
    if (v < h->min_ns || h->n == 1)
        h->min_ns = v;
}

static void hist_merge(hist *into, const hist *from)
{
    if (from->n == 0)
        return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->count[i] += from->count[i];
    if (into->n == 0 || from->min_ns < into->min_ns)
        into->min_ns = from->min_ns;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
    into->n += from->n;
    into->sum_ns += from->sum_ns;
}

/* The value at quantile Q: the highest value of the bucket holding the
 * ceil(Q*n)-th sample, capped at the exact maximum. */
static uint64_t hist_quantile(const hist *h, double q)
{
    if (h->n == 0)
        return 0;
    double want = q * (double)h->n;
    uint64_t rank = (uint64_t)want; /* ceil() without libm: the Makefile links none */
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t hi = i + 1 < HIST_BUCKETS ? hist_lower(i + 1) - 1 : h->max_ns;
            return hi < h->max_ns ? hi : h->max_ns;
        }
    }
    return h->max_ns;
}

/* ---- request templates ---- */

typedef struct bench_tpl {
    char *p;
    size_t len;
    size_t key_off; /* offset of the 12 key digits; 0 if no key */
} bench_tpl;

/* Encodes ARGV once; requests are later stamped from it by memcpy. */
static int tpl_make(bench_tpl *t, int argc, const char *const *argv, const size_t *arglen)
{
    resp_buf b = {0};
    if (resp_encode_command(&b, argc, argv, arglen) != 0) {
        resp_buf_free(&b);
        return -1;
    }
    t->p = b.p;
    t->len = b.len;
    t->key_off = 0;
    const char *k = memmem(b.p, b.len, "key:000000000000", 16);
    if (k != NULL)
        t->key_off = (size_t)(k - b.p) + 4;
    return 0;
}

static inline void put_key(char *d, uint64_t key)
{
    for (int i = BENCH_KEY_DIGITS - 1; i >= 0; i--) {
        d[i] = (char)('0' + key % 10);
        key /= 10;
    }
}

/* ---- run state ---- */

enum { KIND_DONE = 0, KIND_PRE = 1 }; /* a reply that ends a request / a SET before WAIT */
/* --cmd: what a write request is. */
enum { BCMD_SET = 0, BCMD_SETEX, BCMD_INCR, BCMD_MULTI10 };
#define BENCH_MULTI_SETS 10
#define BENCH_KINDS_PER_REQ (BENCH_MULTI_SETS + 3) /* MULTI, 10 SETs, EXEC, WAIT */

struct bclient;

typedef struct bconn {
    int fd;
    int want_out;            /* EPOLLOUT registered */
    struct bclient *cl;
    char *out;               /* pending bytes are out[out_off, out_len) */
    size_t out_off, out_len, out_cap;
    char *in;                /* unparsed replies are in[in_off, in_len) */
    size_t in_off, in_len, in_cap;
    unsigned char *kind;     /* expected replies of the current batch */
    size_t kind_pos, kind_n;
    int carry_err;           /* the SET before a WAIT failed */
} bconn;

typedef struct bclient {
    bconn *conn[BENCH_TARGETS_MAX]; /* NULL for targets it does not need */
    uint64_t rng;
    uint64_t t0_ns;   /* when the current batch was sent */
    unsigned left;    /* requests of the batch not yet answered */
    unsigned rr;      /* round-robin position for GETs */
} bclient;

typedef struct bench_phase {
    int sequential;  /* keys 0..n-1 in order (prefill) instead of random */
    int writes_only; /* prefill: SET, no WAIT, first target */
    int record;      /* fill the histogram */
    int pipeline;
    uint64_t total;  /* requests in this phase */
    uint64_t deadline_ns; /* 0: none */
} bench_phase;

typedef struct bench_shared {
    const bench_cfg *cfg;
    bench_phase phase;
    bench_tpl set_tpl, get_tpl, wait_tpl, multi_tpl, exec_tpl;
    _Atomic uint64_t next_ticket;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running; /* workers still in the phase, under mu */
} bench_shared;

typedef struct bworker {
    int id;
    bench_shared *sh;
    pthread_t thread;
    int epfd;
    bclient *clients;
    int nclients;
    bconn *conns;
    int nconns;
    hist *h;
    int active;                  /* clients with a batch in flight */
    uint64_t done, errors;       /* this phase */
    _Atomic uint64_t done_pub, errors_pub;
    uint64_t last_progress_ns, end_ns;
    char first_err[BENCH_ERRTEXT_MAX];
    uint64_t first_err_ns;
    char fail[BENCH_ERRTEXT_MAX]; /* fatal: connection lost, protocol error, stall */
} bworker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Records the first fatal error of W ("WHAT: DETAIL") and stops every
 * worker. Not variadic: clang-tidy 14 reports false va_list errors when it
 * analyses several files in one run, as `make lint` does. */
static void worker_fail(bworker *w, const char *what, const char *detail)
{
    if (w->fail[0] == '\0')
        snprintf(w->fail, sizeof(w->fail), "%s%s%s", what, detail[0] ? ": " : "", detail);
    atomic_store(&w->sh->stop, 1);
}

/* ---- sending ---- */

static int conn_watch_out(bworker *w, bconn *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        worker_fail(w, "epoll_ctl", strerror(errno));
        return -1;
    }
    c->want_out = on;
    return 0;
}

/* Writes what is pending; the rest waits for EPOLLOUT. */
static int conn_flush(bworker *w, bconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            return c->want_out ? 0 : conn_watch_out(w, c, 1);
        } else if (n < 0 && errno != EINTR) {
            worker_fail(w, "send", strerror(errno));
            return -1;
        }
    }
    c->out_off = c->out_len = 0;
    return c->want_out ? conn_watch_out(w, c, 0) : 0;
}

static inline void stamp(bconn *c, const bench_tpl *t, uint64_t key, unsigned char kind)
{
    assert(c != NULL && c->out_len + t->len <= c->out_cap); /* sized by make_workers */
    char *d = c->out + c->out_len;
    memcpy(d, t->p, t->len);
    if (t->key_off)
        put_key(d + t->key_off, key);
    c->out_len += t->len;
    c->kind[c->kind_n++] = kind;
}

/* Claims up to a pipeline's worth of requests and sends them. Returns 1 if
 * a batch went out, 0 if the phase has no requests left, -1 on failure. */
static int issue_batch(bworker *w, bclient *cl)
{
    bench_shared *sh = w->sh;
    const bench_cfg *cfg = sh->cfg;
    const bench_phase *ph = &sh->phase;
    if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
        return 0;
    uint64_t start = atomic_fetch_add_explicit(&sh->next_ticket, (uint64_t)ph->pipeline,
                                               memory_order_relaxed);
    if (start >= ph->total)
        return 0;
    uint64_t left = ph->total - start;
    unsigned n = left < (uint64_t)ph->pipeline ? (unsigned)left : (unsigned)ph->pipeline;
    unsigned mix = cfg->mix_r + cfg->mix_w;
    for (int t = 0; t < cfg->ntargets; t++)
        if (cl->conn[t] != NULL)
            cl->conn[t]->kind_pos = cl->conn[t]->kind_n = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t key = ph->sequential ? start + i : xorshift64(&cl->rng) % cfg->keyspace;
        int is_get = !ph->writes_only &&
                     (cfg->mix_w == 0 || (cfg->mix_r > 0 && xorshift64(&cl->rng) % mix < cfg->mix_r));
        if (is_get) {
            stamp(cl->conn[cl->rr], &sh->get_tpl, key, KIND_DONE);
            cl->rr = cl->rr + 1 == (unsigned)cfg->ntargets ? 0 : cl->rr + 1;
        } else if (cfg->cmd == BCMD_MULTI10 && !ph->writes_only) {
            /* One request: MULTI, 10 SETs of random keys, EXEC [, WAIT]. */
            stamp(cl->conn[0], &sh->multi_tpl, 0, KIND_PRE);
            for (int j = 0; j < BENCH_MULTI_SETS; j++)
                stamp(cl->conn[0], &sh->set_tpl, xorshift64(&cl->rng) % cfg->keyspace, KIND_PRE);
            stamp(cl->conn[0], &sh->exec_tpl, 0, cfg->wait_n >= 0 ? KIND_PRE : KIND_DONE);
            if (cfg->wait_n >= 0) stamp(cl->conn[0], &sh->wait_tpl, 0, KIND_DONE);
        } else if (cfg->wait_n >= 0 && !ph->writes_only) {
            stamp(cl->conn[0], &sh->set_tpl, key, KIND_PRE);
            stamp(cl->conn[0], &sh->wait_tpl, 0, KIND_DONE);
        } else {
            stamp(cl->conn[0], &sh->set_tpl, key, KIND_DONE);
        }
    }
    cl->left = n;
    cl->t0_ns = now_ns();
    for (int t = 0; t < cfg->ntargets; t++)
        if (cl->conn[t] != NULL && cl->conn[t]->out_len > 0 && conn_flush(w, cl->conn[t]) != 0)
            return -1;
    return 1;
}

/* ---- receiving ---- */

static void note_error_text(bworker *w, const char *p, size_t avail, uint64_t now)
{
    if (w->first_err[0] != '\0')
        return;
    const char *cr = memchr(p, '\r', avail);
    size_t n = cr ? (size_t)(cr - p) : avail;
    if (n >= sizeof(w->first_err))
        n = sizeof(w->first_err) - 1;
    memcpy(w->first_err, p, n);
    w->first_err[n] = '\0';
    w->first_err_ns = now;
}

/* One reply of TYPE arrived on C at time NOW. Returns -1 on failure. */
static int on_reply(bworker *w, bconn *c, int type, const char *p, size_t avail, uint64_t now)
{
    if (c->kind_pos == c->kind_n) {
        worker_fail(w, "the server sent a reply nobody asked for", "");
        return -1;
    }
    int err = type == '-';
    if (err)
        note_error_text(w, p + 1, avail - 1, now);
    if (c->kind[c->kind_pos++] == KIND_PRE) {
        c->carry_err |= err;
        return 0;
    }
    err |= c->carry_err;
    c->carry_err = 0;
    bclient *cl = c->cl;
    if (w->sh->phase.record)
        hist_record(w->h, now - cl->t0_ns);
    w->done++;
    w->errors += (uint64_t)err;
    w->last_progress_ns = now;
    if (--cl->left > 0)
        return 0;
    int r = issue_batch(w, cl);
    if (r == 0)
        w->active--;
    return r < 0 ? -1 : 0;
}

/* Makes room for BENCH_READ_MIN more bytes: compact, then grow. */
static int conn_in_room(bworker *w, bconn *c)
{
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_cap - c->in_len >= BENCH_READ_MIN)
        return 0;
    if (c->in_cap * 2 > BENCH_INBUF_MAX) {
        worker_fail(w, "a reply larger than BENCH_INBUF_MAX", "");
        return -1;
    }
    char *p = realloc(c->in, c->in_cap * 2);
    if (p == NULL) {
        worker_fail(w, "out of memory", "");
        return -1;
    }
    c->in = p;
    c->in_cap *= 2;
    return 0;
}

/* Reads what the socket has and handles every complete reply. */
static int conn_read(bworker *w, bconn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < BENCH_READ_MIN && conn_in_room(w, c) != 0)
            return -1;
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n == 0) {
            worker_fail(w, "connection closed by the server", "");
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            worker_fail(w, "recv", strerror(errno));
            return -1;
        }
        c->in_len += (size_t)n;
        uint64_t now = now_ns();
        for (;;) {
            size_t used;
            int type;
            const char *p = c->in + c->in_off;
            size_t avail = c->in_len - c->in_off;
            resp_status st = resp_skip_reply(p, avail, &used, &type);
            if (st == RESP_NEED_MORE)
                break;
            if (st != RESP_OK) {
                char err[BENCH_ERRTEXT_MAX];
                resp_value *v = NULL;
                (void)resp_parse_reply(p, avail, &v, &used, err, sizeof(err));
                resp_value_free(v);
                worker_fail(w, err, "");
                return -1;
            }
            c->in_off += used;
            if (on_reply(w, c, type, p, used, now) != 0)
                return -1;
        }
        if (c->in_off == c->in_len)
            c->in_off = c->in_len = 0;
        if ((size_t)n < room)
            return 0; /* drained: skip the recv() that would say EAGAIN */
    }
}

/* ---- the worker loop ---- */

static void worker_publish(bworker *w)
{
    atomic_store_explicit(&w->done_pub, w->done, memory_order_relaxed);
    atomic_store_explicit(&w->errors_pub, w->errors, memory_order_relaxed);
}

static void worker_loop(bworker *w)
{
    bench_shared *sh = w->sh;
    uint64_t stall_ns = (uint64_t)(sh->cfg->timeout_s * 1e9);
    struct epoll_event ev[BENCH_EPOLL_EVENTS];
    w->last_progress_ns = now_ns();
    for (int i = 0; i < w->nclients; i++) {
        int r = issue_batch(w, &w->clients[i]);
        if (r < 0)
            return;
        w->active += r;
    }
    while (w->active > 0 && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        int n = epoll_wait(w->epfd, ev, BENCH_EPOLL_EVENTS, BENCH_LOOP_TICK_MS);
        if (n < 0 && errno != EINTR) {
            worker_fail(w, "epoll_wait", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            bconn *c = ev[i].data.ptr;
            if ((ev[i].events & EPOLLOUT) && conn_flush(w, c) != 0)
                return;
            if ((ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(w, c) != 0)
                return;
        }
        worker_publish(w);
        uint64_t now = now_ns();
        if (sh->phase.deadline_ns && now >= sh->phase.deadline_ns) {
            atomic_store(&sh->stop, 1);
        } else if (now - w->last_progress_ns > stall_ns) {
            char why[64];
            snprintf(why, sizeof(why), "no reply for %.1f s (--timeout)", sh->cfg->timeout_s);
            worker_fail(w, why, "");
            return;
        }
    }
}

static void *worker_main(void *arg)
{
    bworker *w = arg;
    worker_loop(w);
    w->end_ns = now_ns();
    worker_publish(w);
    pthread_mutex_lock(&w->sh->mu);
    w->sh->running--;
    pthread_cond_signal(&w->sh->cv);
    pthread_mutex_unlock(&w->sh->mu);
    return NULL;
}

/* ---- setup ---- */

/* A nonblocking connect bounded by BENCH_CONNECT_TIMEOUT_MS. */
static int connect_target(const bench_target *t, char *err, size_t errlen)
{
    int fd = net_connect(t->host, t->port, 1, NULL, err, errlen);
    if (fd < 0)
        return -1;
    struct pollfd p = {fd, POLLOUT, 0};
    int r;
    do {
        r = poll(&p, 1, BENCH_CONNECT_TIMEOUT_MS);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        snprintf(err, errlen, "connect %s:%d: %s", t->host, t->port,
                 r == 0 ? "timed out" : strerror(errno));
        close(fd);
        return -1;
    }
    char why[BENCH_ERRTEXT_MAX];
    if (net_connect_finished(fd, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s:%d: %s", t->host, t->port, why);
        close(fd);
        return -1;
    }
    return fd;
}

static int conn_init(bworker *w, bconn *c, bclient *cl, const bench_target *t, size_t out_cap,
                     size_t kinds, char *err, size_t errlen)
{
    c->cl = cl;
    c->fd = connect_target(t, err, errlen);
    if (c->fd < 0)
        return -1;
    c->out = malloc(out_cap);
    c->in = malloc(BENCH_INBUF_INITIAL);
    c->kind = malloc(kinds);
    if (c->out == NULL || c->in == NULL || c->kind == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->out_cap = out_cap;
    c->in_cap = BENCH_INBUF_INITIAL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Does a client need a connection to target T? The first target takes
 * every write and its share of reads; the others only reads. */
static int needs_target(const bench_cfg *cfg, int t)
{
    return t == 0 || cfg->mix_r > 0;
}

/* Creates worker W's epoll set, clients and connections (clients FIRST .. FIRST+N). */
static int worker_init(bworker *w, bench_shared *sh, int first, int n, size_t out_cap,
                       size_t kinds, char *err, size_t errlen)
{
    const bench_cfg *cfg = sh->cfg;
    w->sh = sh;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->clients = calloc((size_t)n, sizeof(*w->clients));
    w->conns = calloc((size_t)n * (size_t)cfg->ntargets, sizeof(*w->conns));
    w->h = calloc(1, sizeof(*w->h));
    if (w->epfd < 0 || w->clients == NULL || w->conns == NULL || w->h == NULL) {
        snprintf(err, errlen, "cannot set up worker: %s", strerror(errno));
        return -1;
    }
    w->nclients = n;
    for (int i = 0; i < n; i++) {
        bclient *cl = &w->clients[i];
        uint64_t s = cfg->seed ^ ((uint64_t)(first + i) * 0x9E3779B97F4A7C15ull);
        cl->rng = splitmix64(&s) | 1; /* xorshift must not start at 0 */
        cl->rr = (unsigned)(first + i) % (unsigned)cfg->ntargets;
        for (int t = 0; t < cfg->ntargets; t++) {
            if (!needs_target(cfg, t))
                continue;
            bconn *c = &w->conns[w->nconns++];
            c->fd = -1;
            cl->conn[t] = c;
            if (conn_init(w, c, cl, &cfg->target[t], out_cap, kinds, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

static void worker_free(bworker *w)
{
    for (int i = 0; i < w->nconns; i++) {
        if (w->conns[i].fd >= 0)
            close(w->conns[i].fd);
        free(w->conns[i].out);
        free(w->conns[i].in);
        free(w->conns[i].kind);
    }
    free(w->conns);
    free(w->clients);
    free(w->h);
    if (w->epfd >= 0)
        close(w->epfd);
}

/* ---- phases ---- */

static void print_progress(bworker *ws, int nw, uint64_t start_ns,
                           uint64_t *prev_done, uint64_t *prev_ns, const char *what)
{
    uint64_t done = 0, errors = 0, now = now_ns();
    for (int i = 0; i < nw; i++) {
        done += atomic_load_explicit(&ws[i].done_pub, memory_order_relaxed);
        errors += atomic_load_explicit(&ws[i].errors_pub, memory_order_relaxed);
    }
    double dt = (double)(now - *prev_ns) / 1e9;
    double rate = dt > 0 ? (double)(done - *prev_done) / dt : 0;
    int tty = isatty(2);
    fprintf(stderr, "%s%s: %.0f s, %.1f req/s now, %llu done, %llu errors%s", tty ? "\r\x1b[K" : "",
            what, (double)(now - start_ns) / 1e9, rate, (unsigned long long)done,
            (unsigned long long)errors, tty ? "" : "\n");
    fflush(stderr);
    *prev_done = done;
    *prev_ns = now;
}

/* Runs one phase on every worker; the calling thread prints progress once a
 * second and enforces --duration. Returns the elapsed seconds. */
static double run_phase(bench_shared *sh, bworker *ws, int nw, const bench_phase *ph,
                        const char *what, int show_progress)
{
    sh->phase = *ph;
    atomic_store(&sh->next_ticket, 0);
    atomic_store(&sh->stop, 0);
    sh->running = nw;
    uint64_t start = now_ns();
    if (ph->deadline_ns)
        sh->phase.deadline_ns = start + ph->deadline_ns;
    for (int i = 0; i < nw; i++) {
        ws[i].done = ws[i].errors = 0;
        ws[i].active = 0;
        worker_publish(&ws[i]);
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "rkv-bench: pthread_create failed\n");
            exit(1);
        }
    }
    uint64_t prev_done = 0, prev_ns = start, next_tick = start + 1000000000ull;
    int printed = 0;
    pthread_mutex_lock(&sh->mu);
    while (sh->running > 0) {
        struct timespec ts = {(time_t)(next_tick / 1000000000ull), (long)(next_tick % 1000000000ull)};
        int r = pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
        if (r == ETIMEDOUT && sh->running > 0) {
            next_tick += 1000000000ull;
            if (show_progress) {
                print_progress(ws, nw, start, &prev_done, &prev_ns, what);
                printed = 1;
            }
        }
    }
    pthread_mutex_unlock(&sh->mu);
    uint64_t end = start;
    for (int i = 0; i < nw; i++) {
        pthread_join(ws[i].thread, NULL);
        if (ws[i].end_ns > end)
            end = ws[i].end_ns;
    }
    if (printed && isatty(2))
        fputs("\r\x1b[K", stderr);
    return (double)(end - start) / 1e9;
}

/* ---- reporting ---- */

static int write_latency_file(const char *path, const hist *h)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (h->count[i] > 0)
            fprintf(f, "%.3f %llu\n", (double)hist_lower(i) / 1e3,
                    (unsigned long long)h->count[i]);
    return fclose(f) == 0 ? 0 : -1;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void report(const bench_cfg *cfg, const hist *h, double secs, uint64_t errors,
                   const char *first_err)
{
    double rps = secs > 0 ? (double)h->n / secs : 0;
    double mean = h->n ? ms(h->sum_ns / h->n) : 0;
    if (cfg->csv) {
        printf("test,requests,seconds,rps,min_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,"
               "errors\n");
        printf("%s,%llu,%.3f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%llu\n", cfg->label,
               (unsigned long long)h->n, secs, rps, ms(h->min_ns), ms(hist_quantile(h, 0.5)),
               ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)),
               ms(h->max_ns), mean, (unsigned long long)errors);
        return;
    }
    if (!cfg->quiet) {
        printf("rkv-bench: %s against %s:%d%s, %d connections, %d thread%s, pipeline %d, "
               "%zu-byte values, %llu keys\n",
               cfg->label, cfg->target[0].host, cfg->target[0].port,
               cfg->ntargets > 1 ? " (+ more for reads)" : "", cfg->conns, cfg->threads,
               cfg->threads == 1 ? "" : "s", cfg->pipeline, cfg->value_size,
               (unsigned long long)cfg->keyspace);
        printf("  %llu requests in %.3f s, %llu errors\n", (unsigned long long)h->n, secs,
               (unsigned long long)errors);
        printf("  latency ms: min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  p99.99 %.3f  "
               "max %.3f  mean %.3f\n",
               ms(h->min_ns), ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.9)),
               ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)),
               ms(hist_quantile(h, 0.9999)), ms(h->max_ns), mean);
    }
    if (errors > 0)
        fprintf(stderr, "rkv-bench: %llu error replies; the first was: %s\n",
                (unsigned long long)errors, first_err);
    printf("%s: %.1f req/s, p50=%.3f ms p99=%.3f ms p99.9=%.3f ms max=%.3f ms, errors=%llu\n",
           cfg->label, rps, ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.99)),
           ms(hist_quantile(h, 0.999)), ms(h->max_ns), (unsigned long long)errors);
}

/* ---- command line ---- */

static void usage(FILE *o)
{
    fprintf(o,
        "Usage: rkv-bench [options]          RESP load generator (rkv, Redis, ...)\n"
        "       rkv-bench storage [options]  storage-engine benchmark\n"
        "  -h host            server (default %s)\n"
        "  -p port            port (default %d)\n"
        "  --target host:port repeatable; SETs go to the first, GETs round-robin to all\n"
        "  -c conns           concurrent clients (default 50)\n"
        "  -n requests        total requests (default 100000)\n"
        "  --duration S       run for S seconds instead (with -n: whichever ends first)\n"
        "  -P depth           pipeline depth (default 1)\n"
        "  -d bytes           SET value size (default 100)\n"
        "  -r keys            key space, keys key:%%012d uniform at random (default 100000)\n"
        "  --seed S           random seed (default 1)\n"
        "  --mix set|get|R:W  workload: SET only (default), GET only, or R reads : W writes\n"
        "  --wait N           follow every SET with WAIT N 0; the pair is one request\n"
        "  --cmd C            the write: set (default), setex (SET ... EX 3600), incr (INCR;\n"
        "                     of one hot key, rkv-bench:counter), multi10 (MULTI, 10 SETs, EXEC: one request)\n"
        "  --threads T        event-loop threads (default 1)\n"
        "  --prefill          SET every key once (pipelined) before measuring\n"
        "  --timeout S        give up after S seconds without any reply (default %.0f)\n"
        "  --csv              print a CSV header and one row\n"
        "  --quiet            no progress, only the summary line\n"
        "  --latency-out FILE write the latency histogram as \"usec count\" lines\n"
        "The last line is the summary, e.g.\n"
        "  SET: 51234.5 req/s, p50=0.810 ms p99=2.100 ms p99.9=3.500 ms max=9.000 ms, errors=0\n"
        "Exit status: 0 ok, 1 error replies or connection failure, 2 bad usage.\n",
        BENCH_DEFAULT_HOST, BENCH_DEFAULT_PORT, BENCH_DEFAULT_TIMEOUT_S);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s[0] == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    uint64_t v;
    if (parse_u64(s, (uint64_t)lo, (uint64_t)hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_secs(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e7)
        return -1;
    *out = v;
    return 0;
}

static int parse_mix(const char *s, bench_cfg *cfg)
{
    if (strcmp(s, "set") == 0) {
        cfg->mix_r = 0;
        cfg->mix_w = 1;
        return 0;
    }
    if (strcmp(s, "get") == 0) {
        cfg->mix_r = 1;
        cfg->mix_w = 0;
        return 0;
    }
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon - s >= 16)
        return -1;
    char r[16];
    memcpy(r, s, (size_t)(colon - s));
    r[colon - s] = '\0';
    int rv, wv;
    if (parse_int(r, 0, BENCH_MIX_MAX, &rv) != 0 || parse_int(colon + 1, 0, BENCH_MIX_MAX, &wv) != 0 ||
        rv + wv == 0)
        return -1;
    cfg->mix_r = (unsigned)rv;
    cfg->mix_w = (unsigned)wv;
    return 0;
}

static int add_target(bench_cfg *cfg, const char *hp)
{
    if (cfg->ntargets == BENCH_TARGETS_MAX)
        return -1;
    bench_target *t = &cfg->target[cfg->ntargets];
    if (net_parse_hostport(hp, t->host, sizeof(t->host), &t->port) != 0)
        return -1;
    cfg->ntargets++;
    return 0;
}

/* Parses one option at argv[*i] (its value, if any, at argv[*i + 1]; *i
 * then points at the value). Returns 0 or -1. */
static int parse_one(int argc, char **argv, int *i, bench_cfg *cfg, char *host, int *port,
                     int *n_given)
{
    const char *a = argv[*i];
    if (strcmp(a, "--csv") == 0) { cfg->csv = 1; return 0; }
    if (strcmp(a, "--quiet") == 0) { cfg->quiet = 1; return 0; }
    if (strcmp(a, "--prefill") == 0) { cfg->prefill = 1; return 0; }
    if (*i + 1 >= argc)
        return -1;
    const char *v = argv[++*i];
    uint64_t u;
    if (strcmp(a, "-h") == 0) {
        if (strlen(v) >= BENCH_HOST_MAX)
            return -1;
        snprintf(host, BENCH_HOST_MAX, "%s", v);
        return 0;
    }
    if (strcmp(a, "-p") == 0) return parse_int(v, 1, 65535, port);
    if (strcmp(a, "--target") == 0) return add_target(cfg, v);
    if (strcmp(a, "-c") == 0) return parse_int(v, 1, BENCH_CONNS_MAX, &cfg->conns);
    if (strcmp(a, "-n") == 0) { *n_given = 1; return parse_u64(v, 1, UINT64_MAX - 1, &cfg->requests); }
    if (strcmp(a, "--duration") == 0) return parse_secs(v, &cfg->duration_s);
    if (strcmp(a, "-P") == 0) return parse_int(v, 1, BENCH_PIPELINE_MAX, &cfg->pipeline);
    if (strcmp(a, "-d") == 0) {
        if (parse_u64(v, 0, BENCH_VALUE_MAX, &u) != 0)
            return -1;
        cfg->value_size = (size_t)u;
        return 0;
    }
    if (strcmp(a, "-r") == 0) return parse_u64(v, 1, BENCH_KEYSPACE_MAX, &cfg->keyspace);
    if (strcmp(a, "--seed") == 0) return parse_u64(v, 0, UINT64_MAX, &cfg->seed);
    if (strcmp(a, "--mix") == 0) return parse_mix(v, cfg);
    if (strcmp(a, "--wait") == 0) return parse_int(v, 0, BENCH_WAIT_MAX, &cfg->wait_n);
    if (strcmp(a, "--cmd") == 0) {
        static const char *const names[] = {"set", "setex", "incr", "multi10"};
        for (int k = 0; k < 4; k++)
            if (strcmp(v, names[k]) == 0) {
                cfg->cmd = k;
                return 0;
            }
        return -1;
    }
    if (strcmp(a, "--threads") == 0) return parse_int(v, 1, BENCH_THREADS_MAX, &cfg->threads);
    if (strcmp(a, "--timeout") == 0) return parse_secs(v, &cfg->timeout_s);
    if (strcmp(a, "--latency-out") == 0) { cfg->latency_out = v; return 0; }
    return -1;
}

static void make_label(bench_cfg *cfg)
{
    const char *wait = cfg->wait_n >= 0 && cfg->mix_w > 0 ? "+WAIT" : "";
    static const char *const names[] = {"SET", "SETEX", "INCR", "MULTI10"};
    if (cfg->mix_r == 0)
        snprintf(cfg->label, sizeof(cfg->label), "%s%s", names[cfg->cmd], wait);
    else if (cfg->mix_w == 0)
        snprintf(cfg->label, sizeof(cfg->label), "GET");
    else
        snprintf(cfg->label, sizeof(cfg->label), "MIX-%u:%u%s", cfg->mix_r, cfg->mix_w, wait);
}

static int parse_args(int argc, char **argv, bench_cfg *cfg)
{
    char host[BENCH_HOST_MAX];
    int port = BENCH_DEFAULT_PORT, n_given = 0;
    snprintf(host, sizeof(host), "%s", BENCH_DEFAULT_HOST);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("rkv-bench %s\n", RKV_VERSION);
            exit(0);
        }
        int at = i;
        if (parse_one(argc, argv, &i, cfg, host, &port, &n_given) != 0) {
            fprintf(stderr, "rkv-bench: bad option or value: %s%s%s (see --help)\n", argv[at],
                    i > at ? " " : "", i > at ? argv[i] : "");
            return -1;
        }
    }
    if (cfg->ntargets == 0) {
        snprintf(cfg->target[0].host, sizeof(cfg->target[0].host), "%s", host);
        cfg->target[0].port = port;
        cfg->ntargets = 1;
    }
    if (cfg->duration_s > 0 && !n_given)
        cfg->requests = UINT64_MAX;
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    make_label(cfg);
    return 0;
}

/* ---- main ---- */

static int make_templates(bench_shared *sh, const bench_cfg *cfg)
{
    char *value = malloc(cfg->value_size ? cfg->value_size : 1);
    if (value == NULL)
        return -1;
    memset(value, 'x', cfg->value_size);
    const char *key = "key:000000000000";
    const char *set[] = {"SET", key, value, "EX", "3600"};
    const size_t setlen[] = {3, 16, cfg->value_size, 2, 4};
    const char *incr[] = {"INCR", "rkv-bench:counter"}; /* one hot key, never SET by a workload */
    const char *get[] = {"GET", key};
    char n[16];
    snprintf(n, sizeof(n), "%d", cfg->wait_n < 0 ? 0 : cfg->wait_n);
    const char *wait[] = {"WAIT", n, "0"};
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    int rc = cfg->cmd == BCMD_INCR ? tpl_make(&sh->set_tpl, 2, incr, NULL)
                                   : tpl_make(&sh->set_tpl, cfg->cmd == BCMD_SETEX ? 5 : 3, set,
                                              setlen);
    rc |= tpl_make(&sh->get_tpl, 2, get, NULL) | tpl_make(&sh->wait_tpl, 3, wait, NULL) |
          tpl_make(&sh->multi_tpl, 1, multi, NULL) | tpl_make(&sh->exec_tpl, 1, exec, NULL);
    free(value);
    return rc;
}

/* Sets up workers with their share of the clients. */
static bworker *make_workers(bench_shared *sh, const bench_cfg *cfg)
{
    int pipe_max = cfg->pipeline > BENCH_PREFILL_PIPELINE ? cfg->pipeline : BENCH_PREFILL_PIPELINE;
    size_t per_req = sh->set_tpl.len + sh->wait_tpl.len;
    if (cfg->cmd == BCMD_MULTI10)
        per_req = sh->multi_tpl.len + BENCH_MULTI_SETS * sh->set_tpl.len + sh->exec_tpl.len +
                  sh->wait_tpl.len;
    if (sh->get_tpl.len > per_req)
        per_req = sh->get_tpl.len;
    if (per_req > BENCH_OUTBUF_MAX / (size_t)pipe_max) {
        fprintf(stderr, "rkv-bench: -P x -d is too large (a batch over %u bytes)\n",
                BENCH_OUTBUF_MAX);
        return NULL;
    }
    bworker *ws = calloc((size_t)cfg->threads, sizeof(*ws));
    if (ws == NULL)
        return NULL;
    int first = 0;
    for (int t = 0; t < cfg->threads; t++) {
        int n = cfg->conns / cfg->threads + (t < cfg->conns % cfg->threads);
        char err[BENCH_MSG_MAX];
        ws[t].id = t;
        ws[t].epfd = -1;
        if (worker_init(&ws[t], sh, first, n, per_req * (size_t)pipe_max,
                        BENCH_KINDS_PER_REQ * (size_t)pipe_max,
                        err, sizeof(err)) != 0) {
            fprintf(stderr, "rkv-bench: %s\n", err);
            for (int i = 0; i <= t; i++)
                worker_free(&ws[i]);
            free(ws);
            return NULL;
        }
        first += n;
    }
    return ws;
}

/* Reports a fatal worker error, if any. */
static int check_failures(const bworker *ws, int nw)
{
    for (int i = 0; i < nw; i++) {
        if (ws[i].fail[0] != '\0') {
            fprintf(stderr, "rkv-bench: %s\n", ws[i].fail);
            return 1;
        }
    }
    return 0;
}

static int run(const bench_cfg *cfg, bench_shared *sh, bworker *ws)
{
    int nw = cfg->threads;
    if (cfg->prefill) {
        bench_phase pre = {1, 1, 0, BENCH_PREFILL_PIPELINE, cfg->keyspace, 0};
        double s = run_phase(sh, ws, nw, &pre, "prefill", !cfg->quiet && !cfg->csv);
        if (check_failures(ws, nw))
            return 1;
        uint64_t errors = 0;
        for (int i = 0; i < nw; i++)
            errors += ws[i].errors;
        if (errors > 0) {
            fprintf(stderr, "rkv-bench: prefill got %llu error replies\n", (unsigned long long)errors);
            return 1;
        }
        if (!cfg->quiet && !cfg->csv)
            fprintf(stderr, "prefill: %llu keys in %.3f s\n", (unsigned long long)cfg->keyspace, s);
    }
    uint64_t dur_ns = cfg->duration_s > 0 ? (uint64_t)(cfg->duration_s * 1e9) : 0;
    bench_phase main_ph = {0, 0, 1, cfg->pipeline, cfg->requests, dur_ns};
    double secs = run_phase(sh, ws, nw, &main_ph, cfg->label, !cfg->quiet && !cfg->csv);
    if (check_failures(ws, nw))
        return 1;
    hist *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return 1;
    uint64_t errors = 0, first_ns = UINT64_MAX;
    const char *first_err = "";
    for (int i = 0; i < nw; i++) {
        hist_merge(h, ws[i].h);
        errors += ws[i].errors;
        if (ws[i].first_err[0] != '\0' && ws[i].first_err_ns < first_ns) {
            first_ns = ws[i].first_err_ns;
            first_err = ws[i].first_err;
        }
    }
    int rc = errors > 0 ? 1 : 0;
    if (cfg->latency_out != NULL && write_latency_file(cfg->latency_out, h) != 0) {
        fprintf(stderr, "rkv-bench: cannot write %s: %s\n", cfg->latency_out, strerror(errno));
        rc = 1;
    }
    report(cfg, h, secs, errors, first_err);
    free(h);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "storage") == 0)
        return bench_storage(argc - 1, argv + 1);
    bench_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.conns = 50;
    cfg.threads = 1;
    cfg.pipeline = 1;
    cfg.requests = 100000;
    cfg.value_size = 100;
    cfg.keyspace = 100000;
    cfg.seed = 1;
    cfg.mix_w = 1;
    cfg.wait_n = -1;
    cfg.timeout_s = BENCH_DEFAULT_TIMEOUT_S;
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    bench_shared *sh = calloc(1, sizeof(*sh));
    if (sh == NULL)
        return 1;
    sh->cfg = &cfg;
    pthread_condattr_t ca;
    if (pthread_mutex_init(&sh->mu, NULL) != 0 || pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&sh->cv, &ca) != 0 || make_templates(sh, &cfg) != 0) {
        fprintf(stderr, "rkv-bench: setup failed\n");
        return 1;
    }
    pthread_condattr_destroy(&ca);
    bworker *ws = make_workers(sh, &cfg);
    int rc = ws != NULL ? run(&cfg, sh, ws) : 1;
    for (int i = 0; ws != NULL && i < cfg.threads; i++)
        worker_free(&ws[i]);
    free(ws);
    free(sh->set_tpl.p);
    free(sh->get_tpl.p);
    free(sh->wait_tpl.p);
    free(sh->multi_tpl.p);
    free(sh->exec_tpl.p);
    pthread_cond_destroy(&sh->cv);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
    return rc;
}
