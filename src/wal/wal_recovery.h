/* wal_recovery.h -- start-up: newest valid checkpoint + the WAL after it.
 *
 * Rules (docs/WAL-FORMAT.md has the reasons):
 *   - Checkpoints are tried newest first; one that fails verification (or
 *     whose header LSN differs from its name) is skipped with a WARN line,
 *     falling back to an older one and finally to the whole WAL.
 *   - Segments whose records are all <= the checkpoint LSN are not read.
 *     Every other record must carry the next LSN (dense, increasing across
 *     segments; the first segment read may start at or below checkpoint+1)
 *     and an epoch no lower than the record before it.
 *   - Torn tail: the first invalid batch (header cut short or failing its
 *     checks or salt, payload cut short or failing its CRC, zeros at the
 *     boundary) of the LAST segment, when no batch header with that
 *     segment's salt and an LSN at or above the one it should have had
 *     decodes anywhere after it. The segment is cut back to the batch's
 *     offset (ftruncate + fsync) and a WARN line gives the file, offset, LSN
 *     range and bytes dropped (INFO if they were all zeros: preallocated).
 *     A last segment whose header is torn with nothing behind it is cut to
 *     nothing. Format-1 segments (records only, written before batches)
 *     keep the record-level rule: the first undecodable record, when no
 *     complete record with an LSN at or above it decodes after it.
 *   - Anything else is corruption and fails with the file and byte offset:
 *     a bad batch followed by a valid one, any bad batch, cut or zeros in a
 *     non-final segment, a bad segment header, a batch whose checksums match
 *     but whose LSNs, records, epochs or fields are wrong, an LSN gap
 *     between segments (a missing segment) or after the checkpoint.
 *   - A missing or empty data directory recovers to an empty store. */
#ifndef RKV_WAL_RECOVERY_H
#define RKV_WAL_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "kv/kv_store.h"
#include "wal/wal_record.h"
#include "wal/wal_writer.h" /* WAL_PATH_MAX */

/* Segment bytes read per read(2): large enough that syscalls cost nothing
 * per record; the buffer grows past it only to hold one larger record. */
#define WAL_RECOVERY_READ_BYTES (1u << 20)

typedef struct wal_recovery_info {
    uint64_t snapshot_lsn;        /* checkpoint loaded, 0 for none */
    uint64_t last_lsn;            /* last LSN in the state (0: empty log) */
    uint64_t last_epoch;          /* epoch of record last_lsn (0: empty log) */
    uint64_t max_ts;              /* highest timestamp in checkpoint and WAL */
    uint64_t records_replayed;    /* WAL records applied after the checkpoint */
    uint64_t truncated_bytes;     /* torn tail dropped */
    uint64_t wal_bytes;           /* bytes in live segments afterwards */
    uint64_t segments;            /* segment files found */
    uint64_t checkpoints_skipped; /* corrupt checkpoints passed over */
    uint64_t applied_lsn;         /* last record in the store (the rest was held) */
    uint64_t applied_epoch, applied_ts; /* its epoch and timestamp (checkpoint's if none) */
} wal_recovery_info;

/* Rebuilds KV (which must be empty) from DATA_DIR, truncating a torn tail.
 * Afterwards the writer is opened at info->last_lsn + 1. On failure KV holds
 * part of the state (discard it) and ERR names the file and byte offset.
 * LOG may be NULL. 0 or -1. */
int wal_recover(const char *data_dir, kv_store *kv, wal_recovery_info *info, const rkv_log *log,
                char *err, size_t errlen);

/* Records not known to be committed are not applied at start-up: they wait
 * in the caller's pending log until a quorum confirms them. HOLD gets every
 * valid record with an LSN above both APPLY_UPTO and the checkpoint's, in
 * LSN order, instead of the store (0, or -1 to fail recovery, e.g. out of
 * memory); everything else is as wal_recover. */
typedef int (*wal_hold_fn)(void *ctx, const wal_rec *rec);
int wal_recover_held(const char *data_dir, kv_store *kv, uint64_t apply_upto, wal_hold_fn hold,
                     void *ctx, wal_recovery_info *info, const rkv_log *log, char *err,
                     size_t errlen);

/* ---- Offline check (rkv-server --check-wal, src/server/check.c) ---- */

/* What recovery would cut from the last segment. */
typedef struct wal_tail_report {
    int found;  /* 1: recovery would cut the bytes below */
    int zeros;  /* they are all zeros: preallocated space, not a torn write */
    char path[WAL_PATH_MAX];
    uint64_t offset, bytes;
    char what[256]; /* why, as recovery's WARN line would say */
} wal_tail_report;

/* Called with every valid record in LSN order (those in the checkpoint
 * too); -1 stops the walk. */
typedef int (*wal_each_fn)(void *ctx, const wal_rec *rec);

/* The walk of wal_recover over DATA_DIR with nothing changed: files are
 * opened read-only, nothing is cut or synced, and every segment is read,
 * also those wholly below the checkpoint that recovery skips (they serve
 * follower catch-up). A tail recovery would cut goes into *TAIL (0 is
 * returned); corruption is -1 with ERR naming the file and offset, as
 * recovery would fail. KV (empty) gets the state recovery would build.
 * INFO as wal_recover. Not for a directory a running node writes. */
int wal_recover_dry(const char *data_dir, kv_store *kv, wal_each_fn each, void *ctx,
                    wal_recovery_info *info, wal_tail_report *tail, char *err, size_t errlen);

#endif
