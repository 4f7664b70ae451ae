/* wal_checkpoint.c -- writes the KV state to a checkpoint file atomically
 * and streams it back, chunk by chunk (format in wal_checkpoint.h and
 * docs/WAL-FORMAT.md).
 *
 * Why it is shaped so:
 *   - Entries are packed into CRC-protected chunks of about 1 MiB: big enough
 *     that writing and reading cost one syscall per MiB, small enough that a
 *     loader needs one bounded buffer and damage is pinned to one chunk. The
 *     loader never holds more than one chunk, whatever the file size.
 *   - Every length is checked against its named maximum before a byte is
 *     read or allocated for it, and a chunk's CRC is checked before any of
 *     its entries is parsed.
 *   - The trailer (counts, LSN) is the proof that the file is complete: a
 *     file cut at a chunk boundary would otherwise look like a valid, smaller
 *     state.
 *   - The temp file, fsync, rename, fsync(dir) sequence means a crash leaves
 *     either the old set of checkpoints or the new one, never a half file
 *     under a checkpoint name. */
#include "wal/wal_checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wal/crc32.h"
#include "wal/wal_writer.h"

#define CKPT_PREFIX "snapshot-"
#define CKPT_SUFFIX ".snap"
#define CKPT_TMP_SUFFIX ".snap.tmp"

static const uint8_t ckpt_magic[8] = {'R', 'K', 'V', 'S', 'N', 'A', 'P', '1'}; /* WAL_CKPT_MAGIC */

/* ---- Names ---- */

int wal_checkpoint_path(char *buf, size_t buflen, const char *data_dir, uint64_t lsn)
{
    int n = snprintf(buf, buflen, "%s/" CKPT_PREFIX "%020" PRIu64 CKPT_SUFFIX, data_dir, lsn);
    return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

/* Parses PREFIX + 20 digits + SUFFIX exactly. */
static int ckpt_parse(const char *name, const char *suffix, uint64_t *lsn)
{
    size_t plen = strlen(CKPT_PREFIX);
    if (strncmp(name, CKPT_PREFIX, plen) != 0) return 0;
    uint64_t v = 0;
    for (size_t i = plen; i < plen + 20; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (strcmp(name + plen + 20, suffix) != 0) return 0;
    *lsn = v;
    return 1;
}

int wal_checkpoint_name_parse(const char *name, uint64_t *lsn)
{
    return ckpt_parse(name, CKPT_SUFFIX, lsn);
}

/* ---- Writing ---- */

typedef struct ckpt_out {
    int fd;
    const char *path;
    uint8_t *buf;   /* chunk header + payload being packed */
    size_t len;     /* payload bytes in buf */
    uint32_t count; /* entries in buf */
    uint64_t entries, tombstones, bytes;
    char *err;
    size_t errlen;
} ckpt_out;

static int ckpt_write_all(ckpt_out *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(o->fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(o->err, o->errlen, "checkpoint: write %s at %" PRIu64 ": %s", o->path,
                     o->bytes, w < 0 ? strerror(errno) : "wrote nothing");
            return -1;
        }
        b += w;
        n -= (size_t)w;
        o->bytes += (uint64_t)w;
    }
    return 0;
}

static void ckpt_chunk_header(uint8_t *h, uint32_t payload_len, uint32_t kind, uint32_t count)
{
    wal_put_u32(h + 0, payload_len);
    wal_put_u32(h + 8, kind);
    wal_put_u32(h + 12, count);
}

/* Writes the packed chunk of kind KIND held in o->buf, if it has a payload. */
static int ckpt_flush(ckpt_out *o, uint32_t kind)
{
    if (o->len == 0) return 0;
    ckpt_chunk_header(o->buf, (uint32_t)o->len, kind, o->count);
    wal_put_u32(o->buf + 4, crc32c(0, o->buf + 8, 8 + o->len));
    int rc = ckpt_write_all(o, o->buf, WAL_CKPT_CHUNK_HDR_SIZE + o->len);
    o->len = 0;
    o->count = 0;
    return rc;
}

/* Bytes of the entry's header with its optional fields (db, expiry). */
static size_t ckpt_entry_hdr_size(const kv_entry_view *e)
{
    return WAL_CKPT_ENTRY_HDR_SIZE + (e->db ? 2u : 0u) + (e->expire_ms && !e->tombstone ? 8u : 0u);
}

/* Writes the header and optional fields; returns their size. */
static size_t ckpt_entry_header(uint8_t *p, const kv_entry_view *e)
{
    int has_exp = e->expire_ms && !e->tombstone;
    wal_put_u64(p + 0, e->ver.ts);
    wal_put_u32(p + 8, e->ver.node_id);
    p[12] = (uint8_t)((e->tombstone ? WAL_CKPT_E_TOMB : 0) | (e->db ? WAL_CKPT_E_DB : 0) |
                      (has_exp ? WAL_CKPT_E_EXPIRE : 0));
    wal_put_u32(p + 13, e->klen);
    wal_put_u32(p + 17, e->tombstone ? 0 : e->vlen);
    size_t off = WAL_CKPT_ENTRY_HDR_SIZE;
    if (e->db) {
        p[off] = (uint8_t)e->db;
        p[off + 1] = (uint8_t)(e->db >> 8);
        off += 2;
    }
    if (has_exp) {
        wal_put_u64(p + off, (uint64_t)e->expire_ms);
        off += 8;
    }
    return off;
}

/* An entry bigger than a chunk target: a chunk of its own, written from the
 * store's bytes without copying them. */
static int ckpt_write_big(ckpt_out *o, const kv_entry_view *e, size_t esize)
{
    uint8_t h[WAL_CKPT_CHUNK_HDR_SIZE + WAL_CKPT_ENTRY_HDR_MAX];
    ckpt_chunk_header(h, (uint32_t)esize, WAL_CKPT_CHUNK_ENTRIES, 1);
    size_t hl = WAL_CKPT_CHUNK_HDR_SIZE + ckpt_entry_header(h + WAL_CKPT_CHUNK_HDR_SIZE, e);
    uint32_t vlen = e->tombstone ? 0 : e->vlen;
    uint32_t crc = crc32c(0, h + 8, hl - 8);
    crc = crc32c(crc, e->key, e->klen);
    if (vlen) crc = crc32c(crc, e->val, vlen);
    wal_put_u32(h + 4, crc);
    if (ckpt_write_all(o, h, hl) != 0) return -1;
    if (ckpt_write_all(o, e->key, e->klen) != 0) return -1;
    return vlen ? ckpt_write_all(o, e->val, vlen) : 0;
}

static int ckpt_add_entry(void *ctx, const kv_entry_view *e)
{
    ckpt_out *o = ctx;
    uint32_t vlen = e->tombstone ? 0 : e->vlen;
    if (e->klen > WAL_KEY_MAX || vlen > WAL_VAL_MAX) {
        snprintf(o->err, o->errlen,
                 "checkpoint: entry with klen %u vlen %u exceeds the format's maxima", e->klen,
                 vlen);
        return -1;
    }
    size_t hsize = ckpt_entry_hdr_size(e), esize = hsize + (size_t)e->klen + vlen;
    if (o->len + esize > WAL_CKPT_CHUNK_TARGET && ckpt_flush(o, WAL_CKPT_CHUNK_ENTRIES) != 0)
        return -1;
    o->entries++;
    o->tombstones += e->tombstone ? 1 : 0;
    if (esize > WAL_CKPT_CHUNK_TARGET) return ckpt_write_big(o, e, esize);

    uint8_t *p = o->buf + WAL_CKPT_CHUNK_HDR_SIZE + o->len;
    ckpt_entry_header(p, e);
    if (e->klen) memcpy(p + hsize, e->key, e->klen);
    if (vlen) memcpy(p + hsize + e->klen, e->val, vlen);
    o->len += esize;
    o->count++;
    return 0;
}

static void ckpt_header_encode(uint8_t *h, uint64_t lsn, uint64_t epoch, uint64_t max_ts)
{
    memset(h, 0, WAL_CKPT_HDR_SIZE);
    memcpy(h, ckpt_magic, sizeof ckpt_magic);
    wal_put_u32(h + 8, WAL_CKPT_VERSION);
    wal_put_u64(h + 16, lsn);
    wal_put_u64(h + 24, epoch);
    wal_put_u64(h + 32, max_ts);
    wal_put_u32(h + 44, crc32c(0, h, 44));
}

/* Header, every entry, the trailer, fsync. */
static int ckpt_write_body(ckpt_out *o, kv_store *kv, uint64_t lsn, uint64_t epoch, uint64_t max_ts)
{
    uint8_t h[WAL_CKPT_HDR_SIZE];
    ckpt_header_encode(h, lsn, epoch, max_ts);
    if (ckpt_write_all(o, h, sizeof h) != 0) return -1;
    if (kv_iterate(kv, ckpt_add_entry, o) != 0) return -1;
    if (ckpt_flush(o, WAL_CKPT_CHUNK_ENTRIES) != 0) return -1;

    uint8_t *t = o->buf + WAL_CKPT_CHUNK_HDR_SIZE;
    wal_put_u64(t + 0, o->entries);
    wal_put_u64(t + 8, o->tombstones);
    wal_put_u64(t + 16, lsn);
    o->len = WAL_CKPT_TRAILER_SIZE;
    o->count = 0;
    if (ckpt_flush(o, WAL_CKPT_CHUNK_TRAILER) != 0) return -1;
    if (fsync(o->fd) != 0) {
        snprintf(o->err, o->errlen, "checkpoint: fsync %s: %s", o->path, strerror(errno));
        return -1;
    }
    return 0;
}

static double ckpt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int wal_checkpoint_write(const char *data_dir, kv_store *kv, uint64_t lsn, uint64_t epoch,
                         uint64_t max_ts, const rkv_log *log, char *err, size_t errlen)
{
    char path[WAL_PATH_MAX], tmp[WAL_PATH_MAX];
    if (lsn == 0) {
        snprintf(err, errlen, "checkpoint: LSN must be >= 1");
        return -1;
    }
    int n =
        snprintf(tmp, sizeof tmp, "%s/" CKPT_PREFIX "%020" PRIu64 CKPT_TMP_SUFFIX, data_dir, lsn);
    if (wal_checkpoint_path(path, sizeof path, data_dir, lsn) != 0 || n < 0 ||
        (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "checkpoint: path too long: %s", data_dir);
        return -1;
    }
    double t0 = ckpt_now_s();
    ckpt_out o = {.fd = -1, .path = tmp, .err = err, .errlen = errlen};
    o.buf = malloc(WAL_CKPT_CHUNK_HDR_SIZE + WAL_CKPT_CHUNK_TARGET);
    if (!o.buf) {
        snprintf(err, errlen, "checkpoint: out of memory");
        return -1;
    }
    o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = -1;
    if (o.fd < 0) {
        snprintf(err, errlen, "checkpoint: create %s: %s", tmp, strerror(errno));
    } else if (ckpt_write_body(&o, kv, lsn, epoch, max_ts) == 0) {
        rc = 0;
    }
    free(o.buf);
    if (o.fd >= 0 && close(o.fd) != 0 && rc == 0) {
        snprintf(err, errlen, "checkpoint: close %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, errlen, "checkpoint: rename %s to %s: %s", tmp, path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        if (o.fd >= 0) unlink(tmp);
        return -1;
    }
    if (wal_fsync_dir(data_dir, err, errlen) != 0) return -1;
    log_info(log,
             "checkpoint: wrote %s: %" PRIu64 " entries (%" PRIu64 " tombstones), %" PRIu64
             " bytes in %.3f s",
             path, o.entries, o.tombstones, o.bytes, ckpt_now_s() - t0);
    char perr[256];
    if (wal_checkpoint_prune(data_dir, WAL_CKPT_KEEP, log, perr, sizeof perr) < 0)
        log_warn(log, "checkpoint: pruning old checkpoints: %s", perr);
    return 0;
}

/* ---- Incremental loader ---- */

void wal_ckpt_loader_init(wal_ckpt_loader *ld, kv_store *kv)
{
    memset(ld, 0, sizeof *ld);
    ld->kv = kv;
}

int wal_ckpt_loader_header(wal_ckpt_loader *ld, const uint8_t *h, char *err, size_t errlen)
{
    if (memcmp(h, ckpt_magic, sizeof ckpt_magic) != 0) {
        snprintf(err, errlen, "bad magic (not a checkpoint)");
        return -1;
    }
    if (wal_get_u32(h + 44) != crc32c(0, h, 44)) {
        snprintf(err, errlen, "header checksum mismatch");
        return -1;
    }
    uint32_t version = wal_get_u32(h + 8);
    if (version < 1 || version > WAL_CKPT_VERSION || wal_get_u32(h + 12) != 0 ||
        wal_get_u32(h + 40) != 0) {
        snprintf(err, errlen, "unsupported version %u or nonzero reserved field", version);
        return -1;
    }
    ld->version = version;
    ld->info.lsn = wal_get_u64(h + 16);
    ld->info.epoch = wal_get_u64(h + 24);
    ld->info.max_ts = wal_get_u64(h + 32);
    if (ld->info.lsn == 0) {
        snprintf(err, errlen, "header LSN is zero");
        return -1;
    }
    ld->have_header = 1;
    ld->info.bytes = WAL_CKPT_HDR_SIZE;
    return 0;
}

int wal_ckpt_loader_chunk_header(wal_ckpt_loader *ld, const uint8_t *h, wal_ckpt_chunk *c,
                                 char *err, size_t errlen)
{
    if (!ld->have_header || ld->done) {
        snprintf(err, errlen, "chunk %s", ld->done ? "after the trailer" : "before the header");
        return -1;
    }
    c->payload_len = wal_get_u32(h + 0);
    c->crc = wal_get_u32(h + 4);
    c->kind = wal_get_u32(h + 8);
    c->count = wal_get_u32(h + 12);
    if (c->kind == WAL_CKPT_CHUNK_TRAILER) {
        if (c->payload_len != WAL_CKPT_TRAILER_SIZE || c->count != 0) {
            snprintf(err, errlen, "trailer chunk with length %u count %u", c->payload_len,
                     c->count);
            return -1;
        }
        return 0;
    }
    if (c->kind != WAL_CKPT_CHUNK_ENTRIES) {
        snprintf(err, errlen, "unknown chunk kind %u", c->kind);
        return -1;
    }
    if (c->payload_len < WAL_CKPT_ENTRY_HDR_SIZE || c->payload_len > WAL_CKPT_CHUNK_MAX ||
        c->count == 0 || c->count > c->payload_len / WAL_CKPT_ENTRY_HDR_SIZE) {
        snprintf(err, errlen, "entries chunk with length %u count %u out of range", c->payload_len,
                 c->count);
        return -1;
    }
    return 0;
}

static int ckpt_apply_entry(wal_ckpt_loader *ld, const uint8_t *p, const uint8_t *key,
                            int tomb, unsigned db, int64_t expire, uint32_t klen, uint32_t vlen,
                            char *err, size_t errlen)
{
    kv_version ver = {wal_get_u64(p), wal_get_u32(p + 8)};
    /* A key seen before is refused whatever the versions: a later copy could
     * win the LWW compare and the store would hold fewer entries than the
     * file counts (found by fuzz_checkpoint). Every entry of a valid file
     * adds one entry to the store, so counting catches a duplicate without a
     * second lookup per key (this is on recovery's hot path). */
    size_t before = kv_count(ld->kv) + kv_tombstones(ld->kv);
    int r = tomb ? kv_del(ld->kv, db, key, klen, ver)
                 : kv_put(ld->kv, db, key, klen, key + klen, vlen, expire, ver);
    if (r == KV_WON && kv_count(ld->kv) + kv_tombstones(ld->kv) == before + 1) return 0;
    snprintf(err, errlen, "%s", r == KV_NOMEM ? "out of memory" : "duplicate key");
    return -1;
}

/* Parses the entries of a payload whose CRC matched: each must fit, the
 * count must match and the entries must fill the payload exactly. */
static int ckpt_apply_entries(wal_ckpt_loader *ld, const wal_ckpt_chunk *c, const uint8_t *p,
                              char *err, size_t errlen)
{
    size_t off = 0, len = c->payload_len;
    /* Version 1 files know only the tombstone flag. */
    unsigned known = ld->version >= 2 ? WAL_CKPT_E_TOMB | WAL_CKPT_E_DB | WAL_CKPT_E_EXPIRE
                                      : WAL_CKPT_E_TOMB;
    for (uint32_t i = 0; i < c->count; i++) {
        if (len - off < WAL_CKPT_ENTRY_HDR_SIZE) {
            snprintf(err, errlen, "entry %u of %u overruns its chunk", i, c->count);
            return -1;
        }
        const uint8_t *e = p + off;
        uint8_t flags = e[12];
        int tomb = flags & WAL_CKPT_E_TOMB;
        uint32_t klen = wal_get_u32(e + 13), vlen = wal_get_u32(e + 17);
        size_t hsize = WAL_CKPT_ENTRY_HDR_SIZE + ((flags & WAL_CKPT_E_DB) ? 2u : 0u) +
                       ((flags & WAL_CKPT_E_EXPIRE) ? 8u : 0u);
        if ((flags & ~known) || (tomb && (vlen || (flags & WAL_CKPT_E_EXPIRE))) ||
            klen > WAL_KEY_MAX || vlen > WAL_VAL_MAX ||
            (uint64_t)hsize + klen + vlen > len - off) {
            snprintf(err, errlen, "entry %u: bad flags %u or lengths klen %u vlen %u", i, flags,
                     klen, vlen);
            return -1;
        }
        size_t x = WAL_CKPT_ENTRY_HDR_SIZE;
        unsigned db = 0;
        int64_t expire = 0;
        if (flags & WAL_CKPT_E_DB) {
            db = (unsigned)(e[x] | e[x + 1] << 8);
            x += 2;
        }
        if (flags & WAL_CKPT_E_EXPIRE) expire = (int64_t)wal_get_u64(e + x);
        if (((flags & WAL_CKPT_E_DB) && db == 0) || ((flags & WAL_CKPT_E_EXPIRE) && expire <= 0)) {
            snprintf(err, errlen, "entry %u: database 0 or expiry %lld written out", i,
                     (long long)expire);
            return -1;
        }
        if (ld->kv && ckpt_apply_entry(ld, e, e + hsize, tomb, db, expire, klen, vlen, err,
                                       errlen) != 0)
            return -1;
        ld->info.entries++;
        ld->info.tombstones += tomb ? 1u : 0u;
        off += hsize + (size_t)klen + vlen;
    }
    if (off != len) {
        snprintf(err, errlen, "%zu stray bytes after %u entries", len - off, c->count);
        return -1;
    }
    return 0;
}

int wal_ckpt_loader_chunk(wal_ckpt_loader *ld, const wal_ckpt_chunk *c, const uint8_t *payload,
                          char *err, size_t errlen)
{
    uint8_t h[8];
    wal_put_u32(h, c->kind);
    wal_put_u32(h + 4, c->count);
    if (crc32c(crc32c(0, h, 8), payload, c->payload_len) != c->crc) {
        snprintf(err, errlen, "chunk checksum mismatch");
        return -1;
    }
    if (c->kind == WAL_CKPT_CHUNK_ENTRIES) {
        if (ckpt_apply_entries(ld, c, payload, err, errlen) != 0) return -1;
    } else {
        uint64_t entries = wal_get_u64(payload), tombs = wal_get_u64(payload + 8);
        uint64_t lsn = wal_get_u64(payload + 16);
        if (entries != ld->info.entries || tombs != ld->info.tombstones || lsn != ld->info.lsn) {
            snprintf(err, errlen,
                     "trailer says %" PRIu64 " entries (%" PRIu64 " tombstones) at LSN %" PRIu64
                     ", read %" PRIu64 " (%" PRIu64 ") at LSN %" PRIu64,
                     entries, tombs, lsn, ld->info.entries, ld->info.tombstones, ld->info.lsn);
            return -1;
        }
        ld->done = 1;
    }
    ld->info.bytes += WAL_CKPT_CHUNK_HDR_SIZE + (uint64_t)c->payload_len;
    return 0;
}

/* ---- Loading a file ---- */

/* Reads up to N bytes; returns bytes read (< N only at end of file) or -1. */
static ssize_t ckpt_read_full(int fd, void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (uint8_t *)p + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Reads exactly N bytes at offset OFF of PATH, or says why not. */
static int ckpt_read_exact(int fd, void *p, size_t n, const char *path, uint64_t off,
                           const char *what, char *err, size_t errlen)
{
    ssize_t r = ckpt_read_full(fd, p, n);
    if (r == (ssize_t)n) return 0;
    if (r < 0)
        snprintf(err, errlen, "checkpoint %s: read at offset %" PRIu64 ": %s", path, off,
                 strerror(errno));
    else
        snprintf(err, errlen, "checkpoint %s: truncated at offset %" PRIu64 " (in %s, no trailer)",
                 path, off + (uint64_t)r, what);
    return -1;
}

static int ckpt_load_chunks(int fd, const char *path, wal_ckpt_loader *ld, char *err, size_t errlen)
{
    size_t cap = WAL_CKPT_CHUNK_TARGET;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "checkpoint %s: out of memory", path);
        return -1;
    }
    int rc = 0;
    struct stat st;
    uint64_t file_bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
    while (!ld->done && rc == 0) {
        uint64_t off = ld->info.bytes;
        uint8_t h[WAL_CKPT_CHUNK_HDR_SIZE];
        wal_ckpt_chunk c;
        char why[200];
        rc = ckpt_read_exact(fd, h, sizeof h, path, off, "a chunk header", err, errlen);
        if (rc != 0) break;
        if (wal_ckpt_loader_chunk_header(ld, h, &c, why, sizeof why) != 0) {
            snprintf(err, errlen, "checkpoint %s: chunk at offset %" PRIu64 ": %s", path, off, why);
            rc = -1;
            break;
        }
        /* A length the file cannot hold is refused before anything is
         * allocated for it. */
        if (off + WAL_CKPT_CHUNK_HDR_SIZE + c.payload_len > file_bytes) {
            snprintf(err, errlen, "checkpoint %s: truncated: the chunk at offset %" PRIu64
                     " claims %u bytes past the end of the file", path, off, c.payload_len);
            rc = -1;
            break;
        }
        if (c.payload_len > cap) { /* one big entry; bounded by WAL_CKPT_CHUNK_MAX */
            uint8_t *nb = realloc(buf, c.payload_len);
            if (!nb) {
                snprintf(err, errlen, "checkpoint %s: out of memory for a %u-byte chunk", path,
                         c.payload_len);
                rc = -1;
                break;
            }
            buf = nb;
            cap = c.payload_len;
        }
        rc = ckpt_read_exact(fd, buf, c.payload_len, path, off + WAL_CKPT_CHUNK_HDR_SIZE,
                             "a chunk payload", err, errlen);
        if (rc == 0 && wal_ckpt_loader_chunk(ld, &c, buf, why, sizeof why) != 0) {
            snprintf(err, errlen, "checkpoint %s: chunk at offset %" PRIu64 ": %s", path, off, why);
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

int wal_checkpoint_load(const char *path, kv_store *kv, wal_checkpoint_info *info, char *err,
                        size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "checkpoint %s: open: %s", path, strerror(errno));
        return -1;
    }
    wal_ckpt_loader ld;
    wal_ckpt_loader_init(&ld, kv);
    uint8_t h[WAL_CKPT_HDR_SIZE];
    char why[200];
    int rc = ckpt_read_exact(fd, h, sizeof h, path, 0, "the header", err, errlen);
    if (rc == 0 && wal_ckpt_loader_header(&ld, h, why, sizeof why) != 0) {
        snprintf(err, errlen, "checkpoint %s: offset 0: %s", path, why);
        rc = -1;
    }
    if (rc == 0) rc = ckpt_load_chunks(fd, path, &ld, err, errlen);
    if (rc == 0) {
        uint8_t extra;
        ssize_t r = ckpt_read_full(fd, &extra, 1);
        if (r != 0) {
            snprintf(err, errlen, "checkpoint %s: %s at offset %" PRIu64, path,
                     r < 0 ? "read error" : "bytes after the trailer", ld.info.bytes);
            rc = -1;
        }
    }
    close(fd);
    if (rc == 0 && info) *info = ld.info;
    return rc;
}

/* ---- Listing and pruning ---- */

static int ckpt_cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* Collects the LSNs of names ending in SUFFIX, newest first. */
static int ckpt_scan(const char *data_dir, const char *suffix, uint64_t **lsns, size_t *n,
                     char *err, size_t errlen)
{
    *lsns = NULL;
    *n = 0;
    DIR *d = opendir(data_dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "checkpoint: opendir %s: %s", data_dir, strerror(errno));
        return -1;
    }
    uint64_t *v = NULL;
    size_t len = 0;
    int rc = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        uint64_t lsn;
        if (!ckpt_parse(de->d_name, suffix, &lsn)) continue;
        if (len == WAL_CKPT_LIST_MAX) {
            snprintf(err, errlen, "checkpoint: more than %u checkpoint files in %s",
                     WAL_CKPT_LIST_MAX, data_dir);
            rc = -1;
            break;
        }
        if (!v && !(v = malloc(WAL_CKPT_LIST_MAX * sizeof *v))) {
            snprintf(err, errlen, "checkpoint: out of memory");
            rc = -1;
            break;
        }
        v[len++] = lsn;
    }
    if (rc == 0 && errno != 0) {
        snprintf(err, errlen, "checkpoint: readdir %s: %s", data_dir, strerror(errno));
        rc = -1;
    }
    closedir(d);
    if (rc != 0) {
        free(v);
        return -1;
    }
    if (len) qsort(v, len, sizeof *v, ckpt_cmp_desc);
    *lsns = v;
    *n = len;
    return 0;
}

int wal_checkpoint_list(const char *data_dir, uint64_t **lsns, size_t *n, char *err, size_t errlen)
{
    return ckpt_scan(data_dir, CKPT_SUFFIX, lsns, n, err, errlen);
}

static int ckpt_unlink(const char *data_dir, uint64_t lsn, const char *suffix, const rkv_log *log,
                       char *err, size_t errlen)
{
    char path[WAL_PATH_MAX];
    int n =
        snprintf(path, sizeof path, "%s/" CKPT_PREFIX "%020" PRIu64 "%s", data_dir, lsn, suffix);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "checkpoint: path too long: %s", data_dir);
        return -1;
    }
    if (unlink(path) != 0) {
        snprintf(err, errlen, "checkpoint: unlink %s: %s", path, strerror(errno));
        return -1;
    }
    log_info(log, "checkpoint: removed %s", path);
    return 0;
}

int wal_checkpoint_prune(const char *data_dir, size_t keep, const rkv_log *log, char *err,
                         size_t errlen)
{
    if (keep < 1) keep = 1;
    uint64_t *snaps, *tmps;
    size_t nsnaps, ntmps;
    if (wal_checkpoint_list(data_dir, &snaps, &nsnaps, err, errlen) != 0) return -1;
    if (ckpt_scan(data_dir, CKPT_TMP_SUFFIX, &tmps, &ntmps, err, errlen) != 0) {
        free(snaps);
        return -1;
    }
    int removed = 0, rc = 0;
    for (size_t i = keep; i < nsnaps && rc == 0; i++) {
        rc = ckpt_unlink(data_dir, snaps[i], CKPT_SUFFIX, log, err, errlen);
        removed += rc == 0;
    }
    /* A temp file above the newest checkpoint may belong to a write in
     * progress; below or at it, it is debris from an interrupted one. */
    for (size_t i = 0; i < ntmps && rc == 0 && nsnaps > 0; i++) {
        if (tmps[i] > snaps[0]) continue;
        rc = ckpt_unlink(data_dir, tmps[i], CKPT_TMP_SUFFIX, log, err, errlen);
        removed += rc == 0;
    }
    free(snaps);
    free(tmps);
    if (removed > 0) {
        char serr[256];
        if (wal_fsync_dir(data_dir, serr, sizeof serr) != 0 && rc == 0) {
            snprintf(err, errlen, "checkpoint: %s", serr);
            rc = -1;
        }
    }
    return rc == 0 ? removed : -1;
}
