/* wal_thread.h -- group commit on a thread of its own, so the event loop
 * never waits for the disk.
 *
 * The loop appends encoded records to a "filling" buffer it owns and, once
 * per loop iteration, hands it over (wal_thread_kick): to the thread at once
 * if it is idle, else to a queue the thread takes by itself the moment its
 * fdatasync returns, so consecutive syncs need no round trip through the
 * loop. Each batch costs one batch write (header + records) and one
 * fdatasync. When the sync
 * returns, the thread publishes the new durable LSN and writes to an eventfd
 * that the loop watches. So every record that arrives while an fdatasync runs
 * shares the next one: group commit with no timer and no added latency when
 * the load is light.
 *
 * The loop is the only producer and the thread the only consumer of the
 * writer while it runs; the mutex guards only the hand-off and the
 * published results. */
#ifndef RKV_WAL_THREAD_H
#define RKV_WAL_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "wal/wal_writer.h"

typedef struct wal_thread wal_thread;

/* Starts the thread on W (ownership of W stays with the caller, who closes
 * it after wal_thread_stop). NULL + message on error. */
wal_thread *wal_thread_start(wal_writer *w, const rkv_log *log, char *err, size_t errlen);
/* The eventfd that becomes readable when the durable LSN advances or the
 * writer fails. */
int wal_thread_event_fd(const wal_thread *t);

/* Appends one encoded record (LSN must be the next one). 0, or -1 if the
 * buffer cannot grow (out of memory). */
int wal_thread_append(wal_thread *t, const uint8_t *rec, size_t len, uint64_t lsn);
/* Makes room for LEN more bytes in the filling batch, so that appends
 * totalling LEN cannot fail (a multi-record write is appended whole or not
 * at all). 0 or -1 (the batch would exceed its maximum, or no memory). */
int wal_thread_reserve(wal_thread *t, size_t len);
/* After a failure: waits until the thread is idle, drops every batch not
 * yet written, recovers the writer (wal_writer_recover) and clears the
 * failure. The caller appends the records after wal_thread_durable_lsn()
 * again. 0, or -1 + message (still failed). */
int wal_thread_restart(wal_thread *t, char *err, size_t errlen);
/* Hands the filled buffer to the thread if it is idle. Call from the loop's
 * before-sleep hook and after each wake-up. */
void wal_thread_kick(wal_thread *t);
/* Clears the eventfd and returns the durable LSN (then kicks). If the writer
 * has failed, *failed is set and MSG (if given) receives the error. */
uint64_t wal_thread_poll(wal_thread *t, int *failed, char *msg, size_t msglen);
uint64_t wal_thread_durable_lsn(wal_thread *t);
uint64_t wal_thread_last_lsn(const wal_thread *t); /* last LSN appended */
uint64_t wal_thread_wal_bytes(wal_thread *t);      /* bytes in live segments */
uint64_t wal_thread_syncs(wal_thread *t);          /* fdatasyncs done */
/* How long the write + fdatasync of each batch took, measured on the
 * thread (INFO, LATENCY "wal-fsync"): BUCKETS[i] counts batches that took
 * < 2^i µs (the last bucket: longer), all-time. */
#define WAL_FSYNC_BUCKETS 32
typedef struct wal_fsync_stats {
    uint64_t buckets[WAL_FSYNC_BUCKETS];
    uint64_t count, total_us, max_us, last_us;
} wal_fsync_stats;
void wal_thread_fsync_stats(wal_thread *t, wal_fsync_stats *out);
/* The longest sync since the previous call (0: none), for the loop's
 * latency monitor; resets it. */
uint64_t wal_thread_fsync_take_max(wal_thread *t);
/* FN(CTX, LSN) runs on the WAL thread the moment a batch ending at LSN is
 * durable, before the loop hears of it (a follower sends its ACK from
 * there: no wake-up of the loop on the commit path). It must be quick and
 * must not call into T. NULL removes it; once this returns, a removed hook
 * is no longer running and will not run again. */
void wal_thread_set_durable_hook(wal_thread *t, void (*fn)(void *ctx, uint64_t lsn), void *ctx);
/* Runs FN(ctx, writer) on the thread between batches (e.g. removing old
 * segments after a checkpoint), waiting for it to finish. */
int wal_thread_call(wal_thread *t, int (*fn)(void *ctx, wal_writer *w), void *ctx);
/* Flushes everything appended, syncs, stops and joins the thread, frees T.
 * Returns 0, or -1 if the final flush failed. T may be NULL. */
int wal_thread_stop(wal_thread *t);

#endif
