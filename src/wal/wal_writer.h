/* wal_writer.h -- append-only WAL segments with group commit.
 *
 * Segments live in <data-dir>/wal/ and are named by the LSN of their first
 * record, zero-padded to 20 digits so names sort as numbers:
 *   <data-dir>/wal/00000000000000000001.wal
 * Each starts with a segment header (first LSN, random salt) that is made
 * durable before anything else is written to it, and holds batches, each a
 * batch header and whole records (wal_segment.h, docs/WAL-FORMAT.md).
 * A new segment is started when the current one has reached segment_bytes
 * (checked before each batch, so segments break on batch boundaries).
 * The directory is fsynced whenever a segment is created or removed.
 *
 * Group commit: the caller hands whole encoded records in batches
 * (wal_writer_write: one batch, header then records) and then calls
 * wal_writer_sync (one fdatasync). Only after fdatasync returns does
 * durable_lsn advance. A batch is never written while the one before it is
 * unsynced (wal_writer_write syncs it first if the caller did not), so only
 * the last batch can ever be torn: recovery depends on it. The writer does no locking: the
 * server runs write+sync on its WAL thread while the event loop fills the
 * next batch in another buffer (see src/server and docs/ARCHITECTURE.md).
 *
 * Errors (ENOSPC, EIO, short writes) come back as -1 with a message. After a
 * failed write the segment is truncated back to its size before the batch
 * (whole batches only), so the log stays recoverable; after a failed
 * fdatasync the writer is poisoned (the page cache can no longer be trusted,
 * the PostgreSQL "fsyncgate" lesson) and every later call fails: nothing
 * unsynced is ever reported durable. */
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
 * and starts a fresh segment named NEXT_LSN with a new salt (recovery has
 * verified that a segment of that name, if any, holds no valid record). A
 * segment of that name longer than a segment header, or any segment named
 * above it, is refused: run recovery first. NULL + message on error. */
wal_writer *wal_writer_open(const char *data_dir, uint64_t segment_bytes, uint64_t next_lsn,
                            const rkv_log *log, char *err, size_t errlen);

/* Appends BUF (LEN bytes of whole encoded records, LSNs FIRST_LSN..LAST_LSN,
 * FIRST_LSN == the writer's next LSN) as one batch behind a batch header
 * (several, synced in between, if LEN exceeds WAL_BATCH_PAYLOAD_MAX),
 * syncing the previous batch first if it is unsynced and rotating first
 * when the segment is full. Not durable until wal_writer_sync. 0 or -1 +
 * message. */
int wal_writer_write(wal_writer *w, const uint8_t *buf, size_t len, uint64_t first_lsn,
                     uint64_t last_lsn, char *err, size_t errlen);

/* After a failed write or fdatasync (ENOSPC, EIO): cuts the segment back to
 * its last synced size, syncs that, clears the poison and continues after
 * the durable LSN; the caller hands the records after it again. 0, or -1
 * if the disk still fails (stay failed, retry later). */
int wal_writer_recover(wal_writer *w, char *err, size_t errlen);

/* fdatasync of everything written; then durable_lsn = last written LSN. */
int wal_writer_sync(wal_writer *w, char *err, size_t errlen);

/* Zero-filled space kept ahead of the write position (default 1 MiB; 0
 * turns it off): fdatasync is cheaper when appends do not grow the file. */
void wal_writer_set_prealloc(wal_writer *w, uint64_t bytes);

/* Largest batch payload (default and upper bound WAL_BATCH_PAYLOAD_MAX; 0
 * restores it). A write above it is split into batches, synced in between.
 * For tests, which cannot afford writes of 256 MiB. */
void wal_writer_set_batch_max(wal_writer *w, uint32_t bytes);

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

/* Cuts the (closed) WAL of DATA_DIR after record LSN: segments wholly
 * above it are removed, the one holding it is cut after it (a batch that
 * straddles the cut keeps its first records under a rewritten header).
 * Crash-safe at every step: the log is always a prefix of the old one.
 * Then wal_writer_open(..., LSN + 1). 0, or -1 + message (wal_truncate.c). */
int wal_truncate_after(const char *data_dir, uint64_t lsn, const rkv_log *log, char *err,
                       size_t errlen);

/* ---- Segment files: names, listing, directory sync ----
 * Shared by the writer, recovery and (later) replication catch-up, which
 * reads old segments to ship their records to a lagging follower. */

#define WAL_DIR_NAME "wal"          /* <data_dir>/wal holds the segments */
#define WAL_PATH_MAX 4096           /* longest path any WAL module builds */
#define WAL_SEGMENTS_MAX (1u << 20) /* segments in one directory: 64 TiB at 64 MiB */

/* Formats <data_dir>/wal into BUF. 0, or -1 if it does not fit. */
int wal_dir_path(char *buf, size_t buflen, const char *data_dir);
/* Formats <data_dir>/wal/<FIRST_LSN as %020llu>.wal. 0, or -1 if it does
 * not fit. */
int wal_segment_path(char *buf, size_t buflen, const char *data_dir, uint64_t first_lsn);
/* Parses a segment file name: exactly 20 digits then ".wal". Returns 1 and
 * sets *first_lsn, or 0 for any other name (temp files, foreign files). */
int wal_segment_name_parse(const char *name, uint64_t *first_lsn);
/* Lists the segments of DATA_DIR by first LSN, ascending. *FIRST_LSNS is
 * malloc'd (free() it; NULL when *N is 0). A missing wal directory is not an
 * error: zero segments. 0, or -1 + message (more than WAL_SEGMENTS_MAX
 * segments, I/O error, out of memory). */
int wal_segments_list(const char *data_dir, uint64_t **first_lsns, size_t *n, char *err,
                      size_t errlen);
/* fsyncs the directory PATH, making creations, renames and removals in it
 * durable. 0, or -1 + message. */
int wal_fsync_dir(const char *path, char *err, size_t errlen);

#endif
