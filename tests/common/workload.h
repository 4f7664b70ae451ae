/* workload.h -- write load for process tests that kill nodes under it: a
 * background writer thread that pipelines SETs of unique keys and records
 * the reply to every one, and a pipelined checker that reads them back.
 *
 * Key j of a writer is "<prefix><j>"; its value is wl_value(j, value_bytes):
 * "v<j>" padded with a byte pattern to VALUE_BYTES (0: no padding, the same
 * values cl_pipeline_set writes). Each key is written once, so after any
 * crash a key whose SET got +OK must read back exactly that value.
 *
 *     wl_writer w;
 *     wl_writer_init(&w, port, "a:", 1000000, 0);
 *     wl_writer_start(&w);
 *     wl_wait_ok(&w, 5000, 10000);             // load is flowing
 *     ... kill -9 something ...
 *     wl_writer_stop(&w);                      // joins; outcome[] is final
 *     long bad = wl_verify(t, "a:", 0, w.sent, w.outcome, 0);
 *     wl_writer_free(&w);
 *
 * outcome[j] is WL_NO_REPLY until a reply arrives, then WL_OK or WL_ERR. A
 * writer whose server dies sees EOF and stops by itself: the keys it sent
 * after the last reply stay WL_NO_REPLY (outcome unknown). */
#ifndef RKV_TEST_WORKLOAD_H
#define RKV_TEST_WORKLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "proc.h"

#define WL_NO_REPLY 0
#define WL_OK 'O'
#define WL_ERR 'E'
#define WL_DEPTH 256      /* SETs in flight per writer */
#define WL_VALUE_MAX 4096 /* largest padded value */
#define WL_IO_MS 15000    /* client I/O timeout */

typedef struct wl_writer {
    int port;
    char prefix[32];
    long max;           /* keys 0..max-1 at most */
    size_t value_bytes; /* 0: "v<j>" */
    char *outcome;      /* max bytes */
    atomic_long sent, replied, ok, errors;
    atomic_int stop, done;
    char err[TC_ERR_MAX];  /* why the writer ended early ("" if it did not) */
    int error_pause_us;    /* after a window with an error reply, pause (0: never) */
    int pace_us;           /* pause after every window of replies (0: full speed) */
    char first_error[128]; /* the first error reply, for the test's log */
    pthread_t thread;
    int started;
} wl_writer;

/* The value of key J: "v<j>" padded to VALUE_BYTES. Writes into BUF (at
 * least WL_VALUE_MAX + 32 bytes) and returns the length. */
size_t wl_value(long j, size_t value_bytes, char *buf);

/* 0 or -1 (out of memory, bad arguments). */
int wl_writer_init(wl_writer *w, int port, const char *prefix, long max, size_t value_bytes);
/* Starts the thread (connects to 127.0.0.1:port). 0 or -1. */
int wl_writer_start(wl_writer *w);
/* Waits until the writer has at least N OK replies. 1, or 0 on timeout or
 * if the writer ended first. */
int wl_wait_ok(wl_writer *w, long n, int timeout_ms);
/* Asks the writer to stop sending, waits for the replies still owed (or EOF)
 * and joins the thread. */
void wl_writer_stop(wl_writer *w);
void wl_writer_free(wl_writer *w);

/* Reads keys FROM..FROM+COUNT-1 of PREFIX from T with pipelined GETs. A key
 * whose OUTCOME (indexed from FROM; NULL: every key) is WL_OK must hold its
 * value; others are not checked. Returns the number of bad keys (the first
 * few are printed, tagged with WHO), or -1 on an I/O error. */
long wl_verify(tclient *t, const char *who, const char *prefix, long from, long count,
               const char *outcome, size_t value_bytes);

/* Counts keys FROM..FROM+COUNT-1 of PREFIX present on T (pipelined
 * EXISTS). -1 on an I/O error. */
long wl_count_present(tclient *t, const char *prefix, long from, long count);

#endif
