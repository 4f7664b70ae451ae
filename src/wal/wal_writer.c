/* wal_writer.c -- appends batches of encoded records to WAL segment files,
 * each behind a batch header, with one fdatasync per group commit (contract
 * in wal_writer.h, on-disk format in docs/WAL-FORMAT.md).
 *
 * Why it is shaped so:
 *   - A segment is only ever appended to, at an offset the writer tracks
 *     (pwrite), so a failed write can be undone exactly: ftruncate back to
 *     the size before the batch. The log on disk then ends on a batch
 *     boundary again and stays recoverable.
 *   - At most one batch is unsynced at any time, and a segment's header is
 *     durable before its first batch: so a crash can only tear the last
 *     batch, and recovery can call a bad batch followed by a valid one
 *     corruption instead of guessing.
 *   - durable_lsn moves only after fdatasync returned 0. A failed fdatasync
 *     poisons the writer for good: Linux may already have dropped the dirty
 *     pages and marked them clean, so retrying could "succeed" without the
 *     data ever reaching the disk (PostgreSQL's fsyncgate).
 *   - Rotation happens before a batch, never inside one, and syncs the old
 *     segment first: a segment that is not the last one is always complete
 *     and durable, which is what lets recovery call any damage in a
 *     non-final segment corruption rather than a torn write.
 *   - Segment creation and removal are followed by an fsync of the
 *     directory; without it a crash can lose the file's name (and with it
 *     every record in it) even though the data blocks were synced.
 *   - durable_lsn is atomic because the server's event loop may read it
 *     while the WAL thread advances it; everything else belongs to the one
 *     thread that writes. */
#include "wal/wal_writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wal/crc32.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"

/* Bytes handed to one pwrite call: Linux transfers at most 0x7ffff000 per
 * call anyway; the loop continues where a call stopped. */
#define WAL_WRITE_CALL_MAX (1u << 30)
#define WAL_POISON_MSG_MAX 256
/* Zero-filled space kept ahead of the write position. An append that grows
 * the file makes fdatasync write the inode too; overwriting blocks that
 * already exist does not, which halves the sync time on the machines we
 * measured (docs/PERFORMANCE.md). Zeros, not fallocate: unwritten extents
 * need the same metadata update when first written. Recovery releases a
 * zero tail (wal_recovery.c); rotation and close trim it, so only the last
 * segment ever has one. */
#define WAL_PREALLOC_BYTES (1u << 20)
#define WAL_ZERO_CHUNK (64u * 1024u)

struct wal_writer {
    char data_dir[WAL_PATH_MAX];
    char dir[WAL_PATH_MAX];      /* <data_dir>/wal */
    char seg_path[WAL_PATH_MAX]; /* the segment being written */
    int dir_fd;
    int fd;
    uint64_t seg_first_lsn;
    uint64_t salt;          /* the current segment's, repeated in every batch header */
    uint64_t seg_size;      /* bytes of headers and whole batches in the segment */
    uint64_t synced_size;   /* seg_size when the segment was last made durable */
    uint64_t alloc_size;    /* file size: seg_size plus zero-filled space ahead */
    uint64_t prealloc_bytes; /* zero-filled ahead of the write position */
    uint32_t batch_max;     /* payload bytes per batch, <= WAL_BATCH_PAYLOAD_MAX */
    uint64_t segment_bytes; /* rotation threshold */
    uint64_t next_lsn;
    uint64_t written_lsn; /* last LSN written, durable or not */
    _Atomic uint64_t durable_lsn;
    uint64_t total_bytes; /* all live segments, current included */
    int unsynced;         /* bytes written since the last fdatasync */
    int poisoned;
    char poison_msg[WAL_POISON_MSG_MAX];
    const rkv_log *log;
};

/* ---- Paths and directory helpers ---- */

int wal_dir_path(char *buf, size_t buflen, const char *data_dir)
{
    int n = snprintf(buf, buflen, "%s/%s", data_dir, WAL_DIR_NAME);
    return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

int wal_segment_path(char *buf, size_t buflen, const char *data_dir, uint64_t first_lsn)
{
    int n = snprintf(buf, buflen, "%s/%s/%020" PRIu64 ".wal", data_dir, WAL_DIR_NAME, first_lsn);
    return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

int wal_segment_name_parse(const char *name, uint64_t *first_lsn)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        char c = name[i];
        if (c < '0' || c > '9') return 0;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10) return 0; /* 20 digits can overflow */
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".wal") != 0) return 0;
    *first_lsn = v;
    return 1;
}

static int wal_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int wal_segments_list(const char *data_dir, uint64_t **first_lsns, size_t *n, char *err,
                      size_t errlen)
{
    *first_lsns = NULL;
    *n = 0;
    char dir[WAL_PATH_MAX];
    if (wal_dir_path(dir, sizeof dir, data_dir) != 0) {
        snprintf(err, errlen, "wal: path too long: %s", data_dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "wal: opendir %s: %s", dir, strerror(errno));
        return -1;
    }
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0) {
                snprintf(err, errlen, "wal: readdir %s: %s", dir, strerror(errno));
                rc = -1;
            }
            break;
        }
        uint64_t lsn;
        if (!wal_segment_name_parse(de->d_name, &lsn)) continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            if (len >= WAL_SEGMENTS_MAX) {
                snprintf(err, errlen, "wal: more than %u segments in %s", WAL_SEGMENTS_MAX, dir);
                rc = -1;
                break;
            }
            uint64_t *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                snprintf(err, errlen, "wal: out of memory listing %s", dir);
                rc = -1;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[len++] = lsn;
    }
    closedir(d);
    if (rc != 0) {
        free(v);
        return -1;
    }
    if (len) qsort(v, len, sizeof *v, wal_cmp_u64);
    *first_lsns = v;
    *n = len;
    return 0;
}

int wal_fsync_dir(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open directory %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "fsync directory %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

/* mkdir PATH if missing; *created tells whether it was made now. */
static int wal_mkdir(const char *path, int *created, char *err, size_t errlen)
{
    *created = 0;
    if (mkdir(path, 0755) == 0) {
        *created = 1;
        return 0;
    }
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    snprintf(err, errlen, "wal: mkdir %s: %s", path,
             errno == EEXIST ? "not a directory" : strerror(errno));
    return -1;
}

/* fsyncs the directory that holds PATH (so PATH's own name is durable). */
static int wal_fsync_parent(const char *path, char *err, size_t errlen)
{
    char parent[WAL_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    return wal_fsync_dir(parent, err, errlen);
}

/* ---- The writer ---- */

static int wal_writer_refuse(const wal_writer *w, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", w->poison_msg);
    return -1;
}

/* Marks the writer failed for good and returns -1 with the message. */
static int wal_writer_poison(wal_writer *w, const char *msg, char *err, size_t errlen)
{
    snprintf(w->poison_msg, sizeof w->poison_msg, "wal: writer failed: %.200s", msg);
    w->poisoned = 1;
    log_error(w->log, "%s", w->poison_msg);
    return wal_writer_refuse(w, err, errlen);
}

/* Sums the sizes of the existing segments and checks that none is in the
 * way of a fresh segment named NEXT_LSN. */
static int wal_writer_scan(wal_writer *w, const char *data_dir, char *err, size_t errlen)
{
    uint64_t *lsns;
    size_t n;
    if (wal_segments_list(data_dir, &lsns, &n, err, errlen) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[WAL_PATH_MAX];
        struct stat st;
        if (wal_segment_path(path, sizeof path, data_dir, lsns[i]) != 0 || stat(path, &st) != 0) {
            snprintf(err, errlen, "wal: stat segment %" PRIu64 " in %s: %s", lsns[i], w->dir,
                     strerror(errno));
            rc = -1;
        } else if (lsns[i] > w->next_lsn ||
                   (lsns[i] == w->next_lsn && st.st_size > (off_t)WAL_SEG_HDR_SIZE)) {
            snprintf(err, errlen,
                     "wal: segment %s (%lld bytes) is in the way of next LSN %" PRIu64
                     "; run recovery first",
                     path, (long long)st.st_size, w->next_lsn);
            rc = -1;
        } else if (lsns[i] != w->next_lsn) { /* that one is rewritten */
            w->total_bytes += (uint64_t)st.st_size;
        }
    }
    free(lsns);
    return rc;
}

/* Cuts the zero-filled space off the current segment and makes that durable,
 * so a segment that is not the last one ends exactly at its last record. */
static int wal_writer_trim(wal_writer *w, char *err, size_t errlen)
{
    if (w->fd < 0 || w->alloc_size == w->seg_size) return 0;
    if (ftruncate(w->fd, (off_t)w->seg_size) != 0 || fsync(w->fd) != 0) {
        char msg[WAL_POISON_MSG_MAX];
        snprintf(msg, sizeof msg, "trim %.150s: %s", w->seg_path, strerror(errno));
        return wal_writer_poison(w, msg, err, errlen);
    }
    w->alloc_size = w->seg_size;
    return 0;
}

/* Zero-fills the segment up to at least NEED bytes, WAL_PREALLOC_BYTES at a
 * time. Only an optimisation: on failure (ENOSPC) the write appends anyway. */
static void wal_writer_prealloc(wal_writer *w, uint64_t need)
{
    static const uint8_t zeros[WAL_ZERO_CHUNK];
    if (w->prealloc_bytes == 0) return;
    uint64_t target = need + w->prealloc_bytes;
    uint64_t at = w->alloc_size;
    while (at < target) {
        size_t want = target - at < WAL_ZERO_CHUNK ? (size_t)(target - at) : WAL_ZERO_CHUNK;
        ssize_t n = pwrite(w->fd, zeros, want, (off_t)at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        at += (uint64_t)n;
    }
    w->alloc_size = at;
}

/* Writes LEN bytes of P at offset AT, continuing short writes and EINTR.
 * 0, or the errno of the failure (EIO for a write that makes no progress);
 * *DONE is the number of bytes written either way. */
static int wal_pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t at, size_t *done)
{
    *done = 0;
    while (*done < len) {
        size_t want = len - *done < WAL_WRITE_CALL_MAX ? len - *done : WAL_WRITE_CALL_MAX;
        ssize_t n = pwrite(fd, p + *done, want, (off_t)(at + *done));
        if (n > 0) {
            *done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 ? errno : EIO; /* 0 bytes for a regular file: give up */
    }
    return 0;
}

/* A batch header and its payload at AT with one pwritev(2) when they fit in
 * one call (one system call per group commit, as before batches had a
 * header), the rest after a short write with wal_pwrite_all. 0 or errno;
 * *DONE counts the bytes written. */
static int wal_pwrite2(int fd, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                       uint64_t at, size_t *done)
{
    *done = 0;
    if (alen + blen <= WAL_WRITE_CALL_MAX) {
        struct iovec iov[2] = {{(void *)(uintptr_t)a, alen}, {(void *)(uintptr_t)b, blen}};
        ssize_t n;
        do {
            n = pwritev(fd, iov, 2, (off_t)at);
        } while (n < 0 && errno == EINTR);
        if (n < 0) return errno;
        *done = (size_t)n;
        if (*done == alen + blen) return 0;
    }
    size_t d = 0;
    if (*done < alen) {
        int e = wal_pwrite_all(fd, a + *done, alen - *done, at + *done, &d);
        *done += d;
        if (e) return e;
    }
    size_t bdone = *done - alen;
    int e = wal_pwrite_all(fd, b + bdone, blen - bdone, at + alen + bdone, &d);
    *done += d;
    return e;
}

/* Creates (or, at open, reuses one holding no record: at most a segment
 * header's bytes, left by recovery or a crash at creation) the segment named
 * w->next_lsn, writes its header with a fresh salt and makes both durable
 * (fdatasync, then the directory) before any batch goes in: a batch is never
 * written behind a header that could still be lost. Only replaces w->fd once
 * everything succeeded. */
static int wal_writer_new_segment(wal_writer *w, int at_open, char *err, size_t errlen)
{
    char path[WAL_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%020" PRIu64 ".wal", w->dir, w->next_lsn);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "wal: path too long in %s", w->dir);
        return -1;
    }
    /* At open a segment of this name holding no record may be left by
     * recovery (a torn first batch cut back to the header); on rotation it
     * must not exist. */
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (at_open ? 0 : O_EXCL);
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "wal: create %s: %s", path, strerror(errno));
        return -1;
    }
    wal_seg_hdr sh = {.first_lsn = w->next_lsn};
    uint8_t hdr[WAL_SEG_HDR_SIZE];
    size_t done;
    int werr = 0;
    if (wal_salt_new(&sh.salt, err, errlen) != 0) {
        close(fd);
        unlink(path); /* holds no record: a retry creates it again */
        return -1;
    }
    wal_seg_hdr_encode(&sh, hdr);
    if (ftruncate(fd, 0) != 0 || (werr = wal_pwrite_all(fd, hdr, sizeof hdr, 0, &done)) != 0) {
        snprintf(err, errlen, "wal: write header of %s: %s", path, strerror(werr ? werr : errno));
        close(fd);
        unlink(path); /* holds no record: a retry creates it again */
        return -1;
    }
    if (fdatasync(fd) != 0) {
        char msg[WAL_POISON_MSG_MAX];
        snprintf(msg, sizeof msg, "fdatasync %.150s: %s", path, strerror(errno));
        close(fd);
        return wal_writer_poison(w, msg, err, errlen);
    }
    if (fsync(w->dir_fd) != 0) {
        char msg[WAL_POISON_MSG_MAX];
        snprintf(msg, sizeof msg, "fsync directory %.150s: %s", w->dir, strerror(errno));
        close(fd);
        return wal_writer_poison(w, msg, err, errlen);
    }
    if (w->fd >= 0 && close(w->fd) != 0)
        log_warn(w->log, "wal: close %s: %s", w->seg_path, strerror(errno));
    w->fd = fd;
    memcpy(w->seg_path, path, (size_t)n + 1);
    w->seg_first_lsn = w->next_lsn;
    w->salt = sh.salt;
    w->seg_size = WAL_SEG_HDR_SIZE;
    w->synced_size = WAL_SEG_HDR_SIZE;
    w->alloc_size = WAL_SEG_HDR_SIZE;
    w->total_bytes += WAL_SEG_HDR_SIZE;
    return 0;
}

wal_writer *wal_writer_open(const char *data_dir, uint64_t segment_bytes, uint64_t next_lsn,
                            const rkv_log *log, char *err, size_t errlen)
{
    if (next_lsn == 0) {
        snprintf(err, errlen, "wal: next LSN must be >= 1");
        return NULL;
    }
    wal_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "wal: out of memory");
        return NULL;
    }
    w->fd = -1;
    w->dir_fd = -1;
    w->prealloc_bytes = WAL_PREALLOC_BYTES;
    w->batch_max = WAL_BATCH_PAYLOAD_MAX;
    w->log = log;
    w->segment_bytes = segment_bytes ? segment_bytes : WAL_SEGMENT_BYTES_DEFAULT;
    w->next_lsn = next_lsn;
    w->written_lsn = next_lsn - 1;
    atomic_store(&w->durable_lsn, next_lsn - 1);

    int created;
    int n = snprintf(w->data_dir, sizeof w->data_dir, "%s", data_dir);
    if (n < 0 || (size_t)n >= sizeof w->data_dir ||
        wal_dir_path(w->dir, sizeof w->dir, data_dir) != 0) {
        snprintf(err, errlen, "wal: path too long: %s", data_dir);
        goto fail;
    }
    if (wal_mkdir(data_dir, &created, err, errlen) != 0) goto fail;
    if (created && wal_fsync_parent(data_dir, err, errlen) != 0) goto fail;
    if (wal_mkdir(w->dir, &created, err, errlen) != 0) goto fail;
    if (created && wal_fsync_dir(data_dir, err, errlen) != 0) goto fail;
    w->dir_fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_fd < 0) {
        snprintf(err, errlen, "wal: open %s: %s", w->dir, strerror(errno));
        goto fail;
    }
    if (wal_writer_scan(w, data_dir, err, errlen) != 0) goto fail;
    if (wal_writer_new_segment(w, 1, err, errlen) != 0) goto fail;
    log_info(log, "wal: appending at LSN %" PRIu64 " to %s (%" PRIu64 " bytes in segments)",
             next_lsn, w->seg_path, w->total_bytes);
    return w;
fail:
    if (w->fd >= 0) close(w->fd);
    if (w->dir_fd >= 0) close(w->dir_fd);
    free(w);
    return NULL;
}

/* Walks the record headers of a batch (no CRC: the encoder made them) to
 * check that it is whole records with exactly the LSNs FIRST..LAST. */
static int wal_batch_check(const uint8_t *buf, size_t len, uint64_t first, uint64_t last, char *err,
                           size_t errlen)
{
    size_t off = 0;
    uint64_t want = first;
    while (off < len) {
        uint32_t rlen = len - off >= WAL_HDR_SIZE ? wal_get_u32(buf + off) : 0;
        if (rlen < WAL_HDR_SIZE || rlen > WAL_RECORD_MAX || rlen > len - off) {
            snprintf(err, errlen, "wal: batch has a partial record at byte %zu", off);
            return -1;
        }
        uint64_t lsn = wal_get_u64(buf + off + 8);
        if (lsn != want) {
            snprintf(err, errlen,
                     "wal: batch record at byte %zu has LSN %" PRIu64 ", expected %" PRIu64, off,
                     lsn, want);
            return -1;
        }
        want++;
        off += rlen;
    }
    if (want - 1 != last) {
        snprintf(err, errlen, "wal: batch ends at LSN %" PRIu64 ", caller said %" PRIu64, want - 1,
                 last);
        return -1;
    }
    return 0;
}

static int wal_writer_rotate(wal_writer *w, char *err, size_t errlen)
{
    if (w->unsynced && wal_writer_sync(w, err, errlen) != 0) return -1;
    if (wal_writer_trim(w, err, errlen) != 0) return -1;
    if (wal_writer_new_segment(w, 0, err, errlen) != 0) return -1;
    log_info(w->log, "wal: started segment %s", w->seg_path);
    return 0;
}

/* Bytes of the whole records at the start of BUF[0, LEN) that fit in one
 * batch payload of at most MAX bytes (at least one record, and a record is
 * never above WAL_BATCH_PAYLOAD_MAX), and how many records that is (the
 * caller checked BUF). */
static size_t wal_batch_cut(const uint8_t *buf, size_t len, uint32_t max, uint32_t *count)
{
    size_t off = 0;
    *count = 0;
    while (off < len) {
        uint32_t rlen = wal_get_u32(buf + off);
        if (off > 0 && off + rlen > max) break;
        off += rlen;
        (*count)++;
    }
    return off;
}

/* Undoes a failed write: cuts the segment back to SIZE (its size before
 * the call), so it ends on a batch boundary again. */
static int wal_writer_undo(wal_writer *w, uint64_t size, int saved, size_t done, size_t len,
                           char *err, size_t errlen)
{
    if (ftruncate(w->fd, (off_t)size) != 0) {
        char msg[WAL_POISON_MSG_MAX];
        snprintf(msg, sizeof msg, "write %.100s: %s, then ftruncate: %s", w->seg_path,
                 strerror(saved), strerror(errno));
        return wal_writer_poison(w, msg, err, errlen);
    }
    w->alloc_size = size;
    snprintf(err, errlen, "wal: write %s at %" PRIu64 " (%zu of %zu bytes done): %s", w->seg_path,
             size, done, len, strerror(saved));
    return -1;
}

int wal_writer_write(wal_writer *w, const uint8_t *buf, size_t len, uint64_t first_lsn,
                     uint64_t last_lsn, char *err, size_t errlen)
{
    if (w->poisoned) return wal_writer_refuse(w, err, errlen);
    if (len == 0 || first_lsn != w->next_lsn || last_lsn < first_lsn) {
        snprintf(err, errlen,
                 "wal: batch LSNs %" PRIu64 "..%" PRIu64 " (%zu bytes) do not follow %" PRIu64,
                 first_lsn, last_lsn, len, w->next_lsn - 1);
        return -1;
    }
    if (wal_batch_check(buf, len, first_lsn, last_lsn, err, errlen) != 0) return -1;
    /* At most one batch is ever unsynced: the one just written. Recovery
     * relies on it to call a damaged batch followed by a valid one
     * corruption. The WAL thread syncs after every write anyway, so this
     * costs it nothing. */
    if (w->unsynced && wal_writer_sync(w, err, errlen) != 0) return -1;
    if (w->seg_size >= w->segment_bytes && wal_writer_rotate(w, err, errlen) != 0) return -1;

    uint64_t start = w->seg_size, at = start, lsn = first_lsn;
    size_t off = 0;
    while (off < len) {
        uint32_t count;
        size_t n = wal_batch_cut(buf + off, len - off, w->batch_max, &count);
        /* A write larger than one batch payload: the batches before this one
         * must be durable before it is written, like any earlier batch. */
        if (off > 0 && fdatasync(w->fd) != 0) {
            char msg[WAL_POISON_MSG_MAX];
            snprintf(msg, sizeof msg, "fdatasync %.150s: %s", w->seg_path, strerror(errno));
            return wal_writer_poison(w, msg, err, errlen);
        }
        wal_batch_hdr bh = {.salt = w->salt,
                            .first_lsn = lsn,
                            .last_lsn = lsn + count - 1,
                            .count = count,
                            .payload_len = (uint32_t)n,
                            .payload_crc = crc32c(0, buf + off, n)};
        uint8_t hdr[WAL_BATCH_HDR_SIZE];
        wal_batch_hdr_encode(&bh, hdr);
        if (at + WAL_BATCH_HDR_SIZE + n > w->alloc_size)
            wal_writer_prealloc(w, at + WAL_BATCH_HDR_SIZE + n);
        size_t done = 0;
        int saved = wal_pwrite2(w->fd, hdr, sizeof hdr, buf + off, n, at, &done);
        if (saved != 0)
            return wal_writer_undo(w, start, saved, (size_t)(at - start) + done,
                                   (size_t)(at - start) + sizeof hdr + n, err, errlen);
        at += WAL_BATCH_HDR_SIZE + n;
        off += n;
        lsn += count;
    }
    w->total_bytes += at - w->seg_size;
    w->seg_size = at;
    w->next_lsn = last_lsn + 1;
    w->written_lsn = last_lsn;
    w->unsynced = 1;
    return 0;
}

int wal_writer_sync(wal_writer *w, char *err, size_t errlen)
{
    if (w->poisoned) return wal_writer_refuse(w, err, errlen);
    if (!w->unsynced) return 0;
    if (fdatasync(w->fd) != 0) {
        char msg[WAL_POISON_MSG_MAX];
        snprintf(msg, sizeof msg, "fdatasync %.150s: %s", w->seg_path, strerror(errno));
        return wal_writer_poison(w, msg, err, errlen);
    }
    w->unsynced = 0;
    w->synced_size = w->seg_size;
    atomic_store_explicit(&w->durable_lsn, w->written_lsn, memory_order_release);
    return 0;
}

int wal_writer_recover(wal_writer *w, char *err, size_t errlen)
{
    if (w->fd < 0) {
        snprintf(err, errlen, "wal: no segment open to recover");
        return -1;
    }
    /* What the page cache holds after a failed fdatasync cannot be trusted
     * (fsyncgate): cut the segment back to its last synced size, make that
     * durable, and write everything after it again from the caller's copy. */
    if (ftruncate(w->fd, (off_t)w->synced_size) != 0 || fdatasync(w->fd) != 0) {
        snprintf(err, errlen, "wal: recovering %s: %s", w->seg_path, strerror(errno));
        return -1;
    }
    uint64_t durable = atomic_load_explicit(&w->durable_lsn, memory_order_acquire);
    /* A rotation that failed after creating the next segment leaves it
     * holding at most a header and no record: it goes, so the next rotation
     * can create it again. */
    char path[WAL_PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/%020" PRIu64 ".wal", w->dir, durable + 1);
    if (n > 0 && (size_t)n < sizeof path && durable + 1 != w->seg_first_lsn &&
        stat(path, &st) == 0 && (uint64_t)st.st_size <= WAL_SEG_HDR_SIZE && unlink(path) == 0 &&
        fsync(w->dir_fd) != 0) {
        snprintf(err, errlen, "wal: fsync directory %s: %s", w->dir, strerror(errno));
        return -1;
    }
    if (w->total_bytes >= w->seg_size - w->synced_size)
        w->total_bytes -= w->seg_size - w->synced_size;
    w->seg_size = w->alloc_size = w->synced_size;
    w->next_lsn = durable + 1;
    w->written_lsn = durable;
    w->unsynced = 0;
    w->poisoned = 0;
    w->poison_msg[0] = 0;
    log_info(w->log, "wal: %s recovered at %" PRIu64 " bytes; appending again at LSN %" PRIu64,
             w->seg_path, w->seg_size, w->next_lsn);
    return 0;
}

void wal_writer_set_prealloc(wal_writer *w, uint64_t bytes)
{
    w->prealloc_bytes = bytes;
}

void wal_writer_set_batch_max(wal_writer *w, uint32_t bytes)
{
    w->batch_max = bytes == 0 || bytes > WAL_BATCH_PAYLOAD_MAX ? WAL_BATCH_PAYLOAD_MAX : bytes;
}

uint64_t wal_writer_durable_lsn(const wal_writer *w)
{
    return atomic_load_explicit(&w->durable_lsn, memory_order_acquire);
}

uint64_t wal_writer_next_lsn(const wal_writer *w)
{
    return w->next_lsn;
}

uint64_t wal_writer_bytes(const wal_writer *w)
{
    return w->total_bytes;
}

int wal_writer_close(wal_writer *w)
{
    if (!w) return 0;
    char err[WAL_POISON_MSG_MAX];
    int rc = wal_writer_sync(w, err, sizeof err);
    if (rc == 0 && !w->poisoned) rc = wal_writer_trim(w, err, sizeof err);
    if (w->fd >= 0 && close(w->fd) != 0) {
        log_warn(w->log, "wal: close %s: %s", w->seg_path, strerror(errno));
    }
    if (w->dir_fd >= 0) close(w->dir_fd);
    free(w);
    return rc;
}

/* Removes the segments LSNS[0..count) oldest first, so a crash part-way
 * leaves a contiguous log. Adds the bytes freed to *freed. */
static int wal_remove_oldest(wal_writer *w, const uint64_t *lsns, size_t count,
                             const uint64_t *sizes, uint64_t *freed, char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "%020" PRIu64 ".wal", lsns[i]);
        if (unlinkat(w->dir_fd, name, 0) != 0) {
            snprintf(err, errlen, "wal: unlink %s/%s: %s", w->dir, name, strerror(errno));
            return (int)i;
        }
        *freed += sizes[i];
        log_info(w->log, "wal: removed segment %s/%s (%" PRIu64 " bytes)", w->dir, name, sizes[i]);
    }
    return (int)count;
}

int wal_writer_remove_below(wal_writer *w, uint64_t below_lsn, uint64_t retain_bytes, char *err,
                            size_t errlen)
{
    if (w->poisoned) return wal_writer_refuse(w, err, errlen);
    uint64_t *lsns;
    size_t n;
    if (wal_segments_list(w->data_dir, &lsns, &n, err, errlen) != 0) return -1;

    /* Segment i holds LSNs [lsns[i], lsns[i+1]); it holds only records below
     * BELOW_LSN iff lsns[i+1] <= below_lsn. Candidates form a prefix. */
    size_t cand = 0;
    while (cand + 1 < n && lsns[cand + 1] <= below_lsn && lsns[cand] < w->seg_first_lsn)
        cand++;
    uint64_t *sizes = cand ? calloc(cand, sizeof *sizes) : NULL;
    if (cand && !sizes) {
        free(lsns);
        snprintf(err, errlen, "wal: out of memory");
        return -1;
    }
    /* Keep the newest candidates while they fit in RETAIN_BYTES. */
    size_t remove = 0;
    uint64_t kept = 0;
    int rc = 0;
    for (size_t i = cand; i-- > 0;) {
        struct stat st;
        char name[32];
        snprintf(name, sizeof name, "%020" PRIu64 ".wal", lsns[i]);
        if (fstatat(w->dir_fd, name, &st, 0) != 0) {
            snprintf(err, errlen, "wal: stat %s/%s: %s", w->dir, name, strerror(errno));
            rc = -1;
            break;
        }
        sizes[i] = (uint64_t)st.st_size;
        if (remove == 0) {
            kept += sizes[i];
            if (kept > retain_bytes) remove = i + 1;
        }
    }
    if (rc == 0 && remove > 0) {
        uint64_t freed = 0;
        int removed = wal_remove_oldest(w, lsns, remove, sizes, &freed, err, errlen);
        w->total_bytes -= freed < w->total_bytes ? freed : w->total_bytes;
        /* A failed directory fsync here loses no record (at worst a removed
         * segment reappears after a crash), so it is an error, not poison. */
        if (removed > 0 && fsync(w->dir_fd) != 0) {
            snprintf(err, errlen, "wal: fsync directory %s: %s", w->dir, strerror(errno));
            rc = -1;
        } else {
            rc = (size_t)removed == remove ? removed : -1;
        }
    }
    free(sizes);
    free(lsns);
    return rc;
}
