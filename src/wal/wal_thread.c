/* wal_thread.c -- see wal_thread.h. */
#include "wal/wal_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define WAL_THREAD_BUF_INIT (1u << 20)        /* 1 MiB per buffer to start */
#define WAL_THREAD_BUF_MAX (1024ull << 20)    /* 1 GiB filling at most */

typedef struct wal_batch {
    uint8_t *p;
    size_t len, cap;
    uint64_t first_lsn, last_lsn;
} wal_batch;

struct wal_thread {
    wal_writer *w;
    const rkv_log *log;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* wakes the thread: job, call or stop */
    pthread_cond_t done_cv; /* wakes a caller of wal_thread_call */
    int efd;

    wal_batch filling;  /* loop-owned */
    wal_batch queued;   /* handed over while the thread was busy (guarded by mu) */
    wal_batch flushing; /* thread-owned while busy */
    int busy;           /* flushing holds a job (guarded by mu) */
    int stop;
    uint64_t appended_lsn; /* loop-side: last LSN appended */

    pthread_mutex_t hook_mu; /* guards the hook and is held while it runs */
    void (*hook_fn)(void *, uint64_t);
    void *hook_ctx;

    int (*call_fn)(void *, wal_writer *);
    void *call_ctx;
    int call_rc, call_pending;

    _Atomic uint64_t durable_lsn;
    _Atomic uint64_t wal_bytes;
    _Atomic uint64_t syncs;
    _Atomic int failed;
    /* Sync times (wal_thread_fsync_stats): written by the thread only. */
    _Atomic uint64_t fsync_buckets[WAL_FSYNC_BUCKETS];
    _Atomic uint64_t fsync_count, fsync_total_us, fsync_max_us, fsync_last_us, fsync_window_max_us;
    char errmsg[256]; /* written once before failed is set */
};

/* Makes the queued batch the one to flush (mu held, thread idle). */
static void take_queued(wal_thread *t)
{
    wal_batch tmp = t->flushing;
    t->flushing = t->queued;
    t->queued = tmp;
    t->queued.len = 0;
    t->busy = 1;
}

static void wal_thread_notify(wal_thread *t)
{
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(t->efd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is already nonzero: the loop will wake. */
}

static uint64_t wal_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One batch's write + fdatasync took US (the thread is the only writer;
 * the loop reads the atomics). */
static void wal_fsync_note(wal_thread *t, uint64_t us)
{
    unsigned i = 0;
    while (i + 1 < WAL_FSYNC_BUCKETS && us >= (1ull << i)) i++;
    atomic_fetch_add(&t->fsync_buckets[i], 1);
    atomic_fetch_add(&t->fsync_count, 1);
    atomic_fetch_add(&t->fsync_total_us, us);
    atomic_store(&t->fsync_last_us, us);
    if (us > atomic_load(&t->fsync_max_us)) atomic_store(&t->fsync_max_us, us);
    uint64_t w = atomic_load(&t->fsync_window_max_us);
    while (us > w && !atomic_compare_exchange_weak(&t->fsync_window_max_us, &w, us)) {
    }
}

static void *wal_thread_main(void *arg)
{
    wal_thread *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->busy && !t->call_pending && !t->stop && t->queued.len == 0)
            pthread_cond_wait(&t->cv, &t->mu);
        if (!t->busy && t->call_pending) { /* between batches, before queued ones */
            t->call_rc = t->call_fn(t->call_ctx, t->w);
            t->call_pending = 0;
            atomic_store(&t->wal_bytes, wal_writer_bytes(t->w));
            pthread_cond_broadcast(&t->done_cv);
            continue;
        }
        if (!t->busy && t->queued.len > 0) take_queued(t);
        if (!t->busy) break; /* stop requested and nothing left */
        pthread_mutex_unlock(&t->mu);

        wal_batch *b = &t->flushing;
        char err[256];
        int rc = 0;
        if (!atomic_load(&t->failed)) {
            uint64_t t0 = wal_mono_us();
            rc = wal_writer_write(t->w, b->p, b->len, b->first_lsn, b->last_lsn, err, sizeof err);
            if (rc == 0) rc = wal_writer_sync(t->w, err, sizeof err);
            if (rc == 0) wal_fsync_note(t, wal_mono_us() - t0);
        }
        /* Durable: published before the hook tells anyone (an ACK from it
         * must never be ahead of wal_thread_durable_lsn). Still busy: a
         * restart, call or stop waits for the hook too. */
        if (rc == 0 && !atomic_load(&t->failed)) {
            atomic_store(&t->durable_lsn, b->last_lsn);
            pthread_mutex_lock(&t->hook_mu);
            if (t->hook_fn) t->hook_fn(t->hook_ctx, b->last_lsn);
            pthread_mutex_unlock(&t->hook_mu);
        }
        pthread_mutex_lock(&t->mu);
        if (rc < 0 && !atomic_load(&t->failed)) {
            memcpy(t->errmsg, err, sizeof t->errmsg);
            atomic_store(&t->failed, 1);
            log_error(t->log, "wal: %s; writes are refused from now on", err);
        } else if (rc == 0 && !atomic_load(&t->failed)) {
            atomic_fetch_add(&t->syncs, 1);
            atomic_store(&t->wal_bytes, wal_writer_bytes(t->w));
        }
        b->len = 0;
        t->busy = 0;
        /* Records handed over during that sync go next, at once: no round
         * trip through the loop between two fdatasyncs. */
        if (t->queued.len > 0 && !t->call_pending) take_queued(t);
        pthread_cond_broadcast(&t->done_cv);
        /* The eventfd write outside the mutex: the loop it wakes takes the
         * mutex first thing (wal_thread_poll kicks the next batch). */
        pthread_mutex_unlock(&t->mu);
        wal_thread_notify(t);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

wal_thread *wal_thread_start(wal_writer *w, const rkv_log *log, char *err, size_t errlen)
{
    wal_thread *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->w = w;
    t->log = log;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(t);
        return NULL;
    }
    uint64_t durable = wal_writer_durable_lsn(w);
    atomic_store(&t->durable_lsn, durable);
    atomic_store(&t->wal_bytes, wal_writer_bytes(w));
    t->appended_lsn = wal_writer_next_lsn(w) - 1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->hook_mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    pthread_cond_init(&t->done_cv, NULL);
    int rc = pthread_create(&t->tid, NULL, wal_thread_main, t);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        close(t->efd);
        pthread_mutex_destroy(&t->mu);
        pthread_mutex_destroy(&t->hook_mu);
        pthread_cond_destroy(&t->cv);
        pthread_cond_destroy(&t->done_cv);
        free(t);
        return NULL;
    }
    return t;
}

void wal_thread_set_durable_hook(wal_thread *t, void (*fn)(void *ctx, uint64_t lsn), void *ctx)
{
    pthread_mutex_lock(&t->hook_mu);
    t->hook_fn = fn;
    t->hook_ctx = ctx;
    pthread_mutex_unlock(&t->hook_mu);
}

int wal_thread_event_fd(const wal_thread *t)
{
    return t->efd;
}

int wal_thread_reserve(wal_thread *t, size_t len)
{
    wal_batch *b = &t->filling;
    if (len > WAL_THREAD_BUF_MAX || b->len > WAL_THREAD_BUF_MAX - len) return -1;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : WAL_THREAD_BUF_INIT;
        while (cap < b->len + len) cap *= 2;
        if (cap > WAL_THREAD_BUF_MAX) cap = WAL_THREAD_BUF_MAX;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    return 0;
}

int wal_thread_append(wal_thread *t, const uint8_t *rec, size_t len, uint64_t lsn)
{
    wal_batch *b = &t->filling;
    if (wal_thread_reserve(t, len) < 0) return -1;
    memcpy(b->p + b->len, rec, len);
    if (b->len == 0) b->first_lsn = lsn;
    b->len += len;
    b->last_lsn = lsn;
    t->appended_lsn = lsn;
    return 0;
}

/* Appends batch SRC to DST (both hold consecutive records). -1: no memory. */
static int batch_append(wal_batch *dst, const wal_batch *src)
{
    if (dst->len + src->len > dst->cap) {
        size_t cap = dst->cap ? dst->cap : WAL_THREAD_BUF_INIT;
        while (cap < dst->len + src->len) cap *= 2;
        uint8_t *p = realloc(dst->p, cap);
        if (!p) return -1;
        dst->p = p;
        dst->cap = cap;
    }
    memcpy(dst->p + dst->len, src->p, src->len);
    if (dst->len == 0) dst->first_lsn = src->first_lsn;
    dst->len += src->len;
    dst->last_lsn = src->last_lsn;
    return 0;
}

/* Moves the filling batch to the back of the queue (mu held). 0, or -1 if
 * the queue cannot grow: the records then stay in filling for next time. */
static int queue_filling(wal_thread *t)
{
    if (t->queued.len == 0) {
        wal_batch tmp = t->queued;
        t->queued = t->filling;
        t->filling = tmp;
    } else if (batch_append(&t->queued, &t->filling) < 0) {
        return -1;
    }
    t->filling.len = 0;
    return 0;
}

void wal_thread_kick(wal_thread *t)
{
    if (t->filling.len == 0) return;
    int wake = 0;
    pthread_mutex_lock(&t->mu);
    /* Busy: the thread takes the queue itself right after its sync. */
    if (queue_filling(t) == 0 && !t->busy && !t->call_pending) {
        take_queued(t);
        wake = 1;
    }
    pthread_mutex_unlock(&t->mu);
    /* Signalled after the unlock: woken while we still held the mutex, the
     * thread went straight back to sleep on it (strace showed the extra
     * futex round trip on every write). busy is set, so a thread that
     * checks before the signal arrives does not wait. */
    if (wake) pthread_cond_signal(&t->cv);
}

uint64_t wal_thread_poll(wal_thread *t, int *failed, char *msg, size_t msglen)
{
    uint64_t v;
    ssize_t n;
    do {
        n = read(t->efd, &v, sizeof v);
    } while (n < 0 && errno == EINTR);
    int f = atomic_load(&t->failed);
    if (failed) *failed = f;
    if (f && msg && msglen) snprintf(msg, msglen, "%s", t->errmsg);
    wal_thread_kick(t);
    return atomic_load(&t->durable_lsn);
}

uint64_t wal_thread_durable_lsn(wal_thread *t)
{
    return atomic_load(&t->durable_lsn);
}

uint64_t wal_thread_last_lsn(const wal_thread *t)
{
    return t->appended_lsn;
}

uint64_t wal_thread_wal_bytes(wal_thread *t)
{
    return atomic_load(&t->wal_bytes);
}

uint64_t wal_thread_syncs(wal_thread *t)
{
    return atomic_load(&t->syncs);
}

void wal_thread_fsync_stats(wal_thread *t, wal_fsync_stats *out)
{
    for (unsigned i = 0; i < WAL_FSYNC_BUCKETS; i++) out->buckets[i] = atomic_load(&t->fsync_buckets[i]);
    out->count = atomic_load(&t->fsync_count);
    out->total_us = atomic_load(&t->fsync_total_us);
    out->max_us = atomic_load(&t->fsync_max_us);
    out->last_us = atomic_load(&t->fsync_last_us);
}

uint64_t wal_thread_fsync_take_max(wal_thread *t)
{
    return atomic_exchange(&t->fsync_window_max_us, 0);
}

int wal_thread_call(wal_thread *t, int (*fn)(void *ctx, wal_writer *w), void *ctx)
{
    pthread_mutex_lock(&t->mu);
    while (t->call_pending) pthread_cond_wait(&t->done_cv, &t->mu);
    t->call_fn = fn;
    t->call_ctx = ctx;
    t->call_pending = 1; /* runs after the batch being synced, if any */
    pthread_cond_signal(&t->cv);
    while (t->call_pending) pthread_cond_wait(&t->done_cv, &t->mu);
    int rc = t->call_rc;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int wal_thread_restart(wal_thread *t, char *err, size_t errlen)
{
    pthread_mutex_lock(&t->mu);
    while (t->busy || t->call_pending) pthread_cond_wait(&t->done_cv, &t->mu);
    int rc = wal_writer_recover(t->w, err, errlen);
    if (rc == 0) {
        t->filling.len = 0;
        t->queued.len = 0;
        uint64_t d = wal_writer_durable_lsn(t->w);
        t->appended_lsn = d;
        atomic_store(&t->durable_lsn, d);
        atomic_store(&t->wal_bytes, wal_writer_bytes(t->w));
        atomic_store(&t->failed, 0);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int wal_thread_stop(wal_thread *t)
{
    if (!t) return 0;
    /* Drain: hand over what is filling once the thread is idle, and wait. */
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (t->busy) pthread_cond_wait(&t->done_cv, &t->mu);
        if (t->filling.len > 0 && queue_filling(t) < 0) break;
        if (t->queued.len == 0) break;
        take_queued(t);
        pthread_cond_signal(&t->cv);
    }
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->tid, NULL);
    int rc = atomic_load(&t->failed) ? -1 : 0;
    close(t->efd);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->hook_mu);
    pthread_cond_destroy(&t->cv);
    pthread_cond_destroy(&t->done_cv);
    free(t->filling.p);
    free(t->queued.p);
    free(t->flushing.p);
    free(t);
    return rc;
}
