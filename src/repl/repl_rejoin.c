/* repl_rejoin.c -- WAL cursor for catch-up (see repl_rejoin.h): walks the
 * segment header, batch headers and records of the leader's segments in
 * bounded chunks, skipping whole batches before the start point, and reads
 * again (once) any bytes that do not decode before calling them corrupt. */
#include "repl/repl_rejoin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

void repl_cursor_close(repl_cursor *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->buf_len = c->buf_pos = c->buf_cap = 0;
}

/* Opens the segment whose range holds LSN (largest first LSN <= lsn). */
static int cursor_open_segment(repl_cursor *c, uint64_t lsn, char *err, size_t errlen)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    if (wal_segments_list(c->data_dir, &firsts, &n, err, errlen) < 0) return CURSOR_ERR;
    int found = -1;
    for (size_t i = 0; i < n; i++)
        if (firsts[i] <= lsn) found = (int)i;
    if (found < 0) {
        free(firsts);
        snprintf(err, errlen, "lsn %llu is older than every retained WAL segment",
                 (unsigned long long)lsn);
        return CURSOR_GONE;
    }
    uint64_t first = firsts[found];
    free(firsts);
    char path[WAL_PATH_MAX];
    if (wal_segment_path(path, sizeof path, c->data_dir, first) < 0) {
        snprintf(err, errlen, "segment path too long");
        return CURSOR_ERR;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return errno == ENOENT ? CURSOR_GONE : CURSOR_ERR;
    }
    c->seg_first = first;
    c->file_off = 0;
    c->buf_len = c->buf_pos = 0;
    c->seg_format = 0;
    c->salt = 0;
    c->batch_end = 0;
    return CURSOR_OK;
}

/* Reads more of the segment into the buffer. Returns bytes read (0: EOF). */
static long cursor_fill(repl_cursor *c, size_t need, char *err, size_t errlen)
{
    if (c->buf_pos > 0) {
        memmove(c->buf, c->buf + c->buf_pos, c->buf_len - c->buf_pos);
        c->file_off += c->buf_pos;
        c->buf_len -= c->buf_pos;
        c->buf_pos = 0;
    }
    size_t want = c->buf_len + (need > REPL_CURSOR_CHUNK ? need : REPL_CURSOR_CHUNK);
    if (want > c->buf_cap) {
        uint8_t *p = realloc(c->buf, want);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->buf = p;
        c->buf_cap = want;
    }
    ssize_t r;
    do {
        r = pread(c->fd, c->buf + c->buf_len, c->buf_cap - c->buf_len,
                  (off_t)(c->file_off + c->buf_len));
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        snprintf(err, errlen, "read segment %llu: %s", (unsigned long long)c->seg_first,
                 strerror(errno));
        return -1;
    }
    c->buf_len += (size_t)r;
    return (long)r;
}

int repl_cursor_open(repl_cursor *c, const char *data_dir, uint64_t from_lsn, char *err,
                     size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    snprintf(c->data_dir, sizeof c->data_dir, "%s", data_dir);
    c->next_lsn = from_lsn;
    return cursor_open_segment(c, from_lsn, err, errlen);
}

/* 1 if the first bytes of a would-be record are all zero (a length of 0
 * cannot be a record: the writer's preallocated space). */
static int zero_header(const uint8_t *p, size_t avail)
{
    size_t n = avail < WAL_HDR_SIZE ? avail : WAL_HDR_SIZE;
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return n > 0;
}

/* Drops the buffered bytes from the current position on: the next decode
 * reads them again from the file. */
static void cursor_drop_buffered(repl_cursor *c)
{
    c->buf_len = c->buf_pos;
}

/* The open segment has no more data at the current position (EOF, or zeros
 * at a boundary). Moves to the segment that holds next_lsn if that is a
 * later one: 1 moved, 0 not written yet (stay here), -1 error. */
static int cursor_next_segment(repl_cursor *c, char *err, size_t errlen)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    if (wal_segments_list(c->data_dir, &firsts, &n, err, errlen) < 0) return -1;
    uint64_t first = 0;
    for (size_t i = 0; i < n; i++)
        if (firsts[i] <= c->next_lsn) first = firsts[i];
    free(firsts);
    if (first <= c->seg_first) {
        cursor_drop_buffered(c); /* read again on the next call */
        return 0;
    }
    return cursor_open_segment(c, c->next_lsn, err, errlen) == CURSOR_OK ? 1 : -1;
}

long repl_cursor_read(repl_cursor *c, iobuf *out, uint64_t upto_lsn, size_t max_bytes,
                      char *err, size_t errlen)
{
    long count = 0;
    size_t bytes = 0;
    int reread = 0; /* the bytes at the current position were read again */
    const char *bad = NULL;
    char gap[96];
    while (c->next_lsn <= upto_lsn && bytes < max_bytes) {
        if (bad) {
            /* Everything up to next_lsn is complete on disk: bytes that do
             * not decode were read before the writer had finished them, or
             * are damage. Read them again once to tell which. */
            if (reread) {
                snprintf(err, errlen, "WAL segment %llu at offset %llu: %s",
                         (unsigned long long)c->seg_first,
                         (unsigned long long)c->file_off + (unsigned long long)c->buf_pos, bad);
                return -1;
            }
            reread = 1;
            bad = NULL;
            cursor_drop_buffered(c);
        }
        const uint8_t *p = c->buf + c->buf_pos;
        size_t avail = c->buf_len - c->buf_pos;
        uint64_t pos_off = c->file_off + c->buf_pos;
        long got;
        if (c->seg_format == 0) { /* segment header */
            wal_seg_hdr sh;
            wal_frame f = wal_seg_hdr_decode(p, avail, &sh);
            if (f == WAL_FRAME_NEED_MORE) {
                if ((got = cursor_fill(c, WAL_SEG_HDR_SIZE, err, errlen)) < 0) return -1;
                if (got > 0) continue;
                if (avail > 0 && !reread) {
                    bad = "segment header cut short";
                    continue;
                }
                f = WAL_FRAME_ZERO; /* empty, or a header not written yet */
            }
            if (f == WAL_FRAME_ZERO) {
                if (!reread) {
                    bad = "zeros"; /* stale: read again once, not an error */
                    continue;
                }
                int rc = cursor_next_segment(c, err, errlen);
                if (rc < 0) return -1;
                if (rc == 0) break;
                reread = 0;
                continue;
            }
            if (f == WAL_FRAME_OLD) {
                c->seg_format = 1;
            } else if (f == WAL_FRAME_OK && sh.first_lsn == c->seg_first) {
                c->seg_format = 2;
                c->salt = sh.salt;
                c->buf_pos += WAL_SEG_HDR_SIZE;
            } else {
                bad = "bad segment header";
                continue;
            }
            reread = 0;
            continue;
        }
        if (c->seg_format == 2 && c->batch_end == 0) { /* batch header */
            wal_batch_hdr bh;
            wal_frame f = wal_batch_hdr_decode(p, avail, &bh);
            if (f == WAL_FRAME_NEED_MORE) {
                if ((got = cursor_fill(c, WAL_BATCH_HDR_SIZE, err, errlen)) < 0) return -1;
                if (got > 0) continue;
                if (avail > 0) {
                    bad = "segment ends inside a batch header";
                    continue;
                }
                f = WAL_FRAME_ZERO; /* EOF at a boundary: handled like zeros */
                reread = 1;
            }
            if (f == WAL_FRAME_ZERO) {
                if (!reread) {
                    bad = "zeros";
                    continue;
                }
                int rc = cursor_next_segment(c, err, errlen);
                if (rc < 0) return -1;
                if (rc == 0) break;
                reread = 0;
                continue;
            }
            if (f != WAL_FRAME_OK || bh.salt != c->salt) {
                bad = f != WAL_FRAME_OK ? "bad batch header" : "batch header of another salt";
                continue;
            }
            if (bh.first_lsn > c->next_lsn) {
                snprintf(gap, sizeof gap, "WAL gap: expected lsn %llu, batch starts at %llu",
                         (unsigned long long)c->next_lsn, (unsigned long long)bh.first_lsn);
                bad = gap;
                continue;
            }
            uint64_t total = WAL_BATCH_HDR_SIZE + (uint64_t)bh.payload_len;
            if (bh.last_lsn < c->next_lsn) { /* wholly before the start point */
                if (total <= avail) {
                    c->buf_pos += (size_t)total;
                } else {
                    c->file_off = pos_off + total;
                    c->buf_len = c->buf_pos = 0;
                }
            } else {
                c->buf_pos += WAL_BATCH_HDR_SIZE;
                c->batch_end = pos_off + total;
            }
            reread = 0;
            continue;
        }
        /* A record: within the current batch (format 2) or anywhere. */
        size_t limit = avail;
        if (c->seg_format == 2 && c->batch_end - pos_off < limit)
            limit = (size_t)(c->batch_end - pos_off);
        wal_rec r;
        size_t used;
        wal_dec d = wal_record_decode(p, limit, &r, &used);
        int more_in_file = c->seg_format == 1 || limit < c->batch_end - pos_off;
        if (d == WAL_DEC_NEED_MORE && more_in_file) {
            if ((got = cursor_fill(c, used, err, errlen)) < 0) return -1;
            if (got > 0) continue;
            if (c->seg_format == 1 && avail == 0) { /* format 1: EOF at a record boundary */
                int rc = cursor_next_segment(c, err, errlen);
                if (rc < 0) return -1;
                if (rc == 0) break;
                reread = 0;
                continue;
            }
            bad = c->seg_format == 1 ? "segment ends inside a record"
                                     : "segment ends inside a batch";
            continue;
        }
        if (d == WAL_DEC_BAD_LENGTH && c->seg_format == 1 && zero_header(p, avail)) {
            /* Format 1 preallocated space: zeros read before the record was
             * written (read again, once), or the end of what is written. */
            if (!reread) {
                bad = "zeros";
                continue;
            }
            int rc = cursor_next_segment(c, err, errlen);
            if (rc < 0) return -1;
            if (rc == 0) break;
            reread = 0;
            continue;
        }
        if (d != WAL_DEC_OK) {
            bad = d == WAL_DEC_NEED_MORE ? "record crosses the end of its batch" : wal_dec_str(d);
            continue;
        }
        c->buf_pos += used;
        reread = 0;
        if (c->seg_format == 2 && c->file_off + c->buf_pos == c->batch_end) c->batch_end = 0;
        if (r.lsn < c->next_lsn) continue; /* before the start point */
        if (r.lsn != c->next_lsn) {
            snprintf(err, errlen, "WAL gap: expected lsn %llu, found %llu",
                     (unsigned long long)c->next_lsn, (unsigned long long)r.lsn);
            return -1;
        }
        if (iobuf_append(out, c->buf + c->buf_pos - used, used) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->next_lsn++;
        count++;
        bytes += used;
    }
    return count;
}
