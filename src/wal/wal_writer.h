/* wal_writer.h -- append-only WAL segments with group commit.
 *
 * Segments live in <data-dir>/wal/ and are named by the LSN of their first
 * record, zero-padded to 20 digits so names sort as numbers:
 *   <data-dir>/wal/00000000000000000001.wal
 * A new segment is started when the current one has reached segment_bytes
 * (checked before each batch, so segments break on record boundaries).
 * The directory is fsynced whenever a segment is created or removed.
 *
 * Group commit: the caller hands whole encoded records in batches
 * (wal_writer_write, one write(2) per batch) and then calls wal_writer_sync
 * (one fdatasync for everything written since the last sync). Only after
 * fdatasync returns does durable_lsn advance. The writer does no locking: the
 * server runs write+sync on its WAL thread while the event loop fills the
 * next batch in another buffer (see src/server and docs/ARCHITECTURE.md).
 *
 * Errors (ENOSPC, EIO, short writes) come back as -1 with a message. After a
 * failed write the segment is truncated back to its last durable size, so the
 * log stays recoverable; after a failed fdatasync the writer is poisoned (the
 * page cache can no longer be trusted, the PostgreSQL "fsyncgate" lesson) and
 * every later call fails: nothing unsynced is ever reported durable. */
#ifndef RKV_WAL_WRITER_H
#define RKV_WAL_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define WAL_SEGMENT_BYTES_DEFAULT (64ull * 1024 * 1024)
#define WAL_SEGMENT_NAME_MAX 64

typedef struct wal_writer wal_writer;

/* Opens the writer for appending records from NEXT_LSN on (1 for an empty
 * log; recovery's last_lsn + 1 otherwise). Creates <data_dir>/wal if needed
 * and starts a fresh segment named NEXT_LSN (recovery has verified that a
 * segment of that name, if any, holds no valid record). NULL + message on
 * error. */
wal_writer *wal_writer_open(const char *data_dir, uint64_t segment_bytes, uint64_t next_lsn,
                            const rkv_log *log, char *err, size_t errlen);

/* Appends BUF (LEN bytes of whole encoded records, LSNs FIRST_LSN..LAST_LSN,
 * FIRST_LSN == the writer's next LSN) with one write(2), rotating first when
 * the segment is full. Not durable until wal_writer_sync. 0 or -1 + message. */
int wal_writer_write(wal_writer *w, const uint8_t *buf, size_t len, uint64_t first_lsn,
                     uint64_t last_lsn, char *err, size_t errlen);

/* fdatasync of everything written; then durable_lsn = last written LSN. */
int wal_writer_sync(wal_writer *w, char *err, size_t errlen);

uint64_t wal_writer_durable_lsn(const wal_writer *w);
uint64_t wal_writer_next_lsn(const wal_writer *w);
uint64_t wal_writer_bytes(const wal_writer *w); /* bytes in all live segments */

/* Closes (syncing first) and frees. Returns 0, or -1 if the final sync
 * failed. W may be NULL. */
int wal_writer_close(wal_writer *w);

/* Removes segments that hold only records < BELOW_LSN, keeping the newest
 * such segments while their total size is <= RETAIN_BYTES (kept for follower
 * catch-up). Never removes the segment being written. Returns the number of
 * segments removed, or -1 + message. */
int wal_writer_remove_below(wal_writer *w, uint64_t below_lsn, uint64_t retain_bytes, char *err,
                            size_t errlen);

#endif
