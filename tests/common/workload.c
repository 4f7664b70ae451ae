/* workload.c -- background writers and pipelined read-back for process
 * tests (see workload.h). */
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WL_CHECK_BATCH 512              /* GETs per pipelined round trip */
#define WL_EXISTS_BATCH 256             /* keys per EXISTS */
#define WL_PRINT_MAX 5                  /* bad keys printed per wl_verify call */
#define WL_CMD_MAX (WL_VALUE_MAX + 128) /* one encoded SET, generously */

size_t wl_value(long j, size_t value_bytes, char *buf)
{
    int n = snprintf(buf, 32, "v%ld", j);
    size_t len = (size_t)n;
    if (value_bytes > WL_VALUE_MAX) value_bytes = WL_VALUE_MAX;
    for (; len < value_bytes; len++)
        buf[len] = (char)('a' + (size_t)(j + (long)len) % 26);
    buf[len] = 0;
    return len;
}

int wl_writer_init(wl_writer *w, int port, const char *prefix, long max, size_t value_bytes)
{
    memset(w, 0, sizeof *w);
    if (max <= 0 || strlen(prefix) >= sizeof w->prefix || value_bytes > WL_VALUE_MAX) return -1;
    w->port = port;
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix);
    w->max = max;
    w->value_bytes = value_bytes;
    w->outcome = calloc((size_t)max, 1);
    atomic_init(&w->sent, 0);
    atomic_init(&w->replied, 0);
    atomic_init(&w->ok, 0);
    atomic_init(&w->errors, 0);
    atomic_init(&w->stop, 0);
    atomic_init(&w->done, 0);
    return w->outcome ? 0 : -1;
}

/* Encodes SETs for keys FROM..FROM+COUNT-1 into BUF; returns the length. */
static size_t encode_sets(const wl_writer *w, char *buf, long from, long count)
{
    size_t len = 0;
    char key[64], val[WL_VALUE_MAX + 32];
    for (long j = from; j < from + count; j++) {
        int kl = snprintf(key, sizeof key, "%s%ld", w->prefix, j);
        size_t vl = wl_value(j, w->value_bytes, val);
        len += (size_t)sprintf(buf + len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n", kl, key, vl);
        memcpy(buf + len, val, vl);
        len += vl;
        memcpy(buf + len, "\r\n", 2);
        len += 2;
    }
    return len;
}

static void *writer_main(void *arg)
{
    wl_writer *w = arg;
    tclient *t = tc_connect("127.0.0.1", w->port, WL_IO_MS);
    char *buf = malloc((size_t)WL_DEPTH * WL_CMD_MAX);
    long sent = 0, read = 0;
    if (!t || !buf) {
        snprintf(w->err, sizeof w->err, "%s", t ? "out of memory" : "cannot connect");
        goto out;
    }
    for (;;) {
        int stopping = atomic_load(&w->stop);
        if (!stopping && sent < w->max && sent - read < WL_DEPTH) {
            long batch = w->max - sent;
            if (batch > WL_DEPTH - (sent - read)) batch = WL_DEPTH - (sent - read);
            size_t len = encode_sets(w, buf, sent, batch);
            sent += batch; /* possibly sent from here on: outcome unknown until a reply */
            atomic_store(&w->sent, sent);
            if (tc_send_raw(t, buf, len) != 0) {
                snprintf(w->err, sizeof w->err, "send: %s", tc_error(t));
                break;
            }
        }
        /* Keep half the window in flight; drain it all when stopping. */
        long target = stopping || sent == w->max ? sent : sent - WL_DEPTH / 2;
        if (read >= sent && (stopping || sent == w->max)) break;
        long errors_before = atomic_load(&w->errors);
        while (read < target) {
            resp_value *r = tc_read(t);
            if (!r) {
                snprintf(w->err, sizeof w->err, "read: %s", tc_error(t));
                goto out;
            }
            int ok = r->type == RESP_T_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
            if (!ok && !w->first_error[0])
                snprintf(w->first_error, sizeof w->first_error, "%.*s",
                         (int)(r->str && r->len < 100 ? r->len : 100), r->str ? r->str : "?");
            w->outcome[read++] = ok ? WL_OK : WL_ERR;
            atomic_fetch_add(ok ? &w->ok : &w->errors, 1);
            atomic_store(&w->replied, read);
            resp_value_free(r);
        }
        /* The client's pacing, not the server's: errors come back at once
         * (NOREPLICAS), and a writer that does not slow down spends its key
         * space on them. */
        if (w->error_pause_us > 0 && atomic_load(&w->errors) > errors_before)
            usleep((useconds_t)w->error_pause_us);
        else if (w->pace_us > 0 && !stopping)
            usleep((useconds_t)w->pace_us);
    }
out:
    tc_close(t);
    free(buf);
    atomic_store(&w->done, 1);
    return NULL;
}

int wl_writer_start(wl_writer *w)
{
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) return -1;
    w->started = 1;
    return 0;
}

typedef struct ok_wait {
    wl_writer *w;
    long n;
} ok_wait;

static int has_ok(void *ctx)
{
    ok_wait *o = ctx;
    return atomic_load(&o->w->ok) >= o->n || atomic_load(&o->w->done);
}

int wl_wait_ok(wl_writer *w, long n, int timeout_ms)
{
    ok_wait o = {w, n};
    proc_wait_until(has_ok, &o, timeout_ms);
    return atomic_load(&w->ok) >= n;
}

void wl_writer_stop(wl_writer *w)
{
    if (!w->started) return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    w->started = 0;
}

void wl_writer_free(wl_writer *w)
{
    wl_writer_stop(w);
    free(w->outcome);
    w->outcome = NULL;
}

/* Checks one GET reply for key J; 1 if bad (printed while PRINTED < max). */
static int check_reply(const resp_value *r, const char *who, const char *prefix, long j,
                       size_t value_bytes, long *printed)
{
    char want[WL_VALUE_MAX + 32];
    size_t wl = wl_value(j, value_bytes, want);
    if (r->type == RESP_T_BULK && r->len == wl && memcmp(r->str, want, wl) == 0) return 0;
    if ((*printed)++ < WL_PRINT_MAX) {
        if (r->type == RESP_T_NIL)
            printf("%s: key %s%ld acknowledged OK but missing\n", who, prefix, j);
        else
            printf("%s: key %s%ld acknowledged OK but holds %.*s (type %c), want %.*s\n", who,
                   prefix, j, (int)(r->len > 40 ? 40 : r->len), r->str ? r->str : "", (char)r->type,
                   (int)(wl > 40 ? 40 : wl), want);
    }
    return 1;
}

long wl_verify(tclient *t, const char *who, const char *prefix, long from, long count,
               const char *outcome, size_t value_bytes)
{
    char *buf = malloc((size_t)WL_CHECK_BATCH * 128);
    long bad = 0, printed = 0;
    if (!buf) return -1;
    for (long base = 0; base < count; base += WL_CHECK_BATCH) {
        long n = count - base < WL_CHECK_BATCH ? count - base : WL_CHECK_BATCH;
        size_t len = 0;
        for (long i = 0; i < n; i++) {
            char key[64];
            int kl = snprintf(key, sizeof key, "%s%ld", prefix, from + base + i);
            len += (size_t)sprintf(buf + len, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
        }
        if (tc_send_raw(t, buf, len) != 0) goto io_error;
        for (long i = 0; i < n; i++) {
            resp_value *r = tc_read(t);
            if (!r) goto io_error;
            if (!outcome || outcome[base + i] == WL_OK)
                bad += check_reply(r, who, prefix, from + base + i, value_bytes, &printed);
            resp_value_free(r);
        }
    }
    if (bad) printf("%s: %ld bad keys of %s%ld..%ld\n", who, bad, prefix, from, from + count - 1);
    free(buf);
    return bad;
io_error:
    printf("%s: verify: %s\n", who, tc_error(t));
    free(buf);
    return -1;
}

long wl_count_present(tclient *t, const char *prefix, long from, long count)
{
    long present = 0;
    char keys[WL_EXISTS_BATCH][64];
    const char *argv[WL_EXISTS_BATCH + 1];
    for (long base = 0; base < count; base += WL_EXISTS_BATCH) {
        long n = count - base < WL_EXISTS_BATCH ? count - base : WL_EXISTS_BATCH;
        argv[0] = "EXISTS";
        for (long i = 0; i < n; i++) {
            snprintf(keys[i], sizeof keys[i], "%s%ld", prefix, from + base + i);
            argv[i + 1] = keys[i];
        }
        resp_value *r = tc_cmdv(t, (int)n + 1, argv, NULL);
        if (!r || r->type != RESP_T_INT) {
            resp_value_free(r);
            return -1;
        }
        present += r->integer;
        resp_value_free(r);
    }
    return present;
}
