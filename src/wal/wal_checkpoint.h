/* wal_checkpoint.h -- checkpoints: the whole KV state as of one LSN in one
 * file, so recovery replays only the WAL after it and older segments can go.
 *
 * File: <data_dir>/snapshot-<lsn as %020llu>.snap, written atomically
 * (temp file in data_dir, write, fsync, rename, fsync data_dir), so a
 * checkpoint either exists whole or not at all. The byte layout (all
 * integers little-endian; docs/WAL-FORMAT.md says why each field exists):
 *
 *   header, 48 bytes
 *     0  8  magic     "RKVSNAP1"
 *     8  4  version   2 (1: written before databases and expiries; still read)
 *     12 4  reserved  zero (keeps the u64 fields 8-aligned)
 *     16 8  lsn       every record <= lsn is in the state, none above
 *     24 8  epoch     epoch of record lsn
 *     32 8  max_ts    highest HLC timestamp in the state
 *     40 4  reserved  zero
 *     44 4  crc       CRC-32C of bytes [0, 44)
 *   then chunks, each
 *     0  4  payload_len
 *     4  4  crc       CRC-32C of bytes [8, 16 + payload_len): kind, count, payload
 *     8  4  kind      1 = entries, 2 = trailer
 *     12 4  count     entries in the payload (0 for the trailer)
 *     16 payload_len payload
 *   entries payload: count packed entries, each
 *     0  8  ts        version timestamp
 *     8  4  node_id   version origin node
 *     12 1  flags     bit 0: tombstone (then vlen == 0 and no expiry);
 *                     bit 1: a database follows; bit 2: an expiry follows
 *                     (version 2 only); other bits zero
 *     13 4  klen      <= WAL_KEY_MAX
 *     17 4  vlen      <= WAL_VAL_MAX
 *     21 2  db        bit 1 only: the database, never 0
 *     .. 8  expire    bit 2 only: absolute expiry, Unix ms, > 0
 *     ..    key, value
 *   An entry of database 0 without an expiry is byte for byte a version 1
 *   entry.
 *   trailer payload, 24 bytes: u64 entries, u64 tombstones, u64 lsn
 *
 * A checkpoint is valid if and only if the header is intact (magic, version,
 * reserved zero, CRC), every chunk's CRC matches, every length is within its
 * maximum and the entries fill each payload exactly, and the file ends with
 * exactly one trailer whose counts match the entries read and whose lsn is
 * the header's. No key appears twice (checked when loading into a store,
 * not by a verify-only load). A truncated file has no trailer and so is
 * never taken for a smaller valid state.
 *
 * The chunk framing is self-describing (length, CRC and kind up front), so a
 * later issue can stream a checkpoint file to a follower chunk by chunk as
 * it is on disk; the receiver validates and applies it with the
 * wal_ckpt_loader functions below, exactly as the file loader does. */
#ifndef RKV_WAL_CHECKPOINT_H
#define RKV_WAL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "kv/kv_store.h"
#include "wal/wal_record.h"
#include "wal/wal_writer.h" /* WAL_PATH_MAX, wal_fsync_dir */

#define WAL_CKPT_MAGIC "RKVSNAP1"
#define WAL_CKPT_VERSION 2u
#define WAL_CKPT_HDR_SIZE 48u
#define WAL_CKPT_CHUNK_HDR_SIZE 16u
#define WAL_CKPT_ENTRY_HDR_SIZE 21u
#define WAL_CKPT_ENTRY_HDR_MAX (WAL_CKPT_ENTRY_HDR_SIZE + 2u + 8u) /* with db and expiry */
enum { WAL_CKPT_E_TOMB = 1, WAL_CKPT_E_DB = 2, WAL_CKPT_E_EXPIRE = 4 };
#define WAL_CKPT_TRAILER_SIZE 24u
/* Entries are packed into chunks of at most this payload; an entry larger
 * than that gets a chunk of its own. */
#define WAL_CKPT_CHUNK_TARGET (1u << 20)
/* Largest payload any chunk may claim: one entry of maximum size. */
#define WAL_CKPT_CHUNK_MAX (WAL_CKPT_ENTRY_HDR_MAX + WAL_KEY_MAX + WAL_VAL_MAX)
#define WAL_CKPT_KEEP 2         /* checkpoints kept after a new one is written */
#define WAL_CKPT_LIST_MAX 4096u /* checkpoint files looked at in one directory */

enum { WAL_CKPT_CHUNK_ENTRIES = 1, WAL_CKPT_CHUNK_TRAILER = 2 };

typedef struct wal_checkpoint_info {
    uint64_t lsn;
    uint64_t epoch;
    uint64_t max_ts;
    uint64_t entries; /* entries read, tombstones included */
    uint64_t tombstones;
    uint64_t bytes; /* bytes of the file */
} wal_checkpoint_info;

/* Formats <data_dir>/snapshot-<LSN>.snap. 0, or -1 if it does not fit. */
int wal_checkpoint_path(char *buf, size_t buflen, const char *data_dir, uint64_t lsn);
/* Parses "snapshot-" + 20 digits + ".snap" exactly. 1 and *lsn, or 0. */
int wal_checkpoint_name_parse(const char *name, uint64_t *lsn);

/* Writes the state of KV, which holds every record <= LSN (>= 1) and no
 * other, as the checkpoint for LSN. Live entries and tombstones are both
 * written. Afterwards prunes to the newest WAL_CKPT_KEEP checkpoints (a
 * failure to prune is logged, not returned: the new checkpoint is durable).
 * KV must not change during the call. One writer per data dir at a time.
 * To keep the fallback to an older checkpoint useful, remove WAL segments
 * only below the oldest checkpoint kept (wal_checkpoint_list). 0 or -1 +
 * message (the temp file is removed). */
int wal_checkpoint_write(const char *data_dir, kv_store *kv, uint64_t lsn, uint64_t epoch,
                         uint64_t max_ts, const rkv_log *log, char *err, size_t errlen);

/* Streams the checkpoint at PATH into KV chunk by chunk, checking everything
 * before it trusts it. KV NULL: verify only. INFO (may be NULL) gets the
 * header and totals. On failure KV holds part of the state: the caller
 * discards it. 0, or -1 + message naming PATH and the byte offset. */
int wal_checkpoint_load(const char *path, kv_store *kv, wal_checkpoint_info *info, char *err,
                        size_t errlen);

/* Lists the checkpoint LSNs in DATA_DIR, newest first. *LSNS is malloc'd
 * (free() it; NULL when *N is 0). A missing directory gives 0 entries. */
int wal_checkpoint_list(const char *data_dir, uint64_t **lsns, size_t *n, char *err, size_t errlen);

/* Removes all but the newest KEEP (>= 1) checkpoints, and temp files left by
 * interrupted writes at or below the newest LSN. Returns files removed or -1. */
int wal_checkpoint_prune(const char *data_dir, size_t keep, const rkv_log *log, char *err,
                         size_t errlen);

/* ---- Incremental loader: file bytes in, KV state out ----
 * Feed the header, then for each chunk its 16-byte header (which tells how
 * many payload bytes follow, bounded by WAL_CKPT_CHUNK_MAX) and its
 * payload, until done is set. Used by wal_checkpoint_load; a follower can
 * drive it from a socket. */
typedef struct wal_ckpt_chunk {
    uint32_t payload_len;
    uint32_t crc;
    uint32_t kind;
    uint32_t count;
} wal_ckpt_chunk;

typedef struct wal_ckpt_loader {
    kv_store *kv;             /* NULL: verify only */
    uint32_t version;         /* the file's format version */
    wal_checkpoint_info info; /* header fields, then running totals */
    int have_header;
    int done; /* the trailer was accepted */
} wal_ckpt_loader;

void wal_ckpt_loader_init(wal_ckpt_loader *ld, kv_store *kv);
/* BUF holds WAL_CKPT_HDR_SIZE bytes. */
int wal_ckpt_loader_header(wal_ckpt_loader *ld, const uint8_t *buf, char *err, size_t errlen);
/* HDR holds WAL_CKPT_CHUNK_HDR_SIZE bytes; validates kind, count and length
 * before anyone reads or allocates for the payload. */
int wal_ckpt_loader_chunk_header(wal_ckpt_loader *ld, const uint8_t *hdr, wal_ckpt_chunk *c,
                                 char *err, size_t errlen);
/* PAYLOAD holds c->payload_len bytes: CRC, then parse, then apply. */
int wal_ckpt_loader_chunk(wal_ckpt_loader *ld, const wal_ckpt_chunk *c, const uint8_t *payload,
                          char *err, size_t errlen);

#endif
