/* repl_rejoin.c -- WAL cursor for catch-up (see repl_rejoin.h). */
#include "repl/repl_rejoin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wal/wal_record.h"
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

long repl_cursor_read(repl_cursor *c, iobuf *out, uint64_t upto_lsn, size_t max_bytes,
                      char *err, size_t errlen)
{
    long count = 0;
    size_t bytes = 0;
    int refreshed = 0;
    while (c->next_lsn <= upto_lsn && bytes < max_bytes) {
        wal_rec r;
        size_t used;
        wal_dec d = wal_record_decode(c->buf + c->buf_pos, c->buf_len - c->buf_pos, &r, &used);
        if (d == WAL_DEC_NEED_MORE) {
            long got = cursor_fill(c, used, err, errlen);
            if (got < 0) return -1;
            if (got > 0) continue;
            /* End of this segment: the next one starts at next_lsn. */
            if (c->buf_len - c->buf_pos > 0) {
                snprintf(err, errlen, "segment %llu ends inside a record at lsn %llu",
                         (unsigned long long)c->seg_first, (unsigned long long)c->next_lsn);
                return -1;
            }
            int rc = cursor_open_segment(c, c->next_lsn, err, errlen);
            if (rc != CURSOR_OK) return -1;
            if (c->seg_first != c->next_lsn) break; /* same segment: not written yet */
            continue;
        }
        if (d == WAL_DEC_BAD_LENGTH && zero_header(c->buf + c->buf_pos, c->buf_len - c->buf_pos)) {
            /* Preallocated space: either the buffer holds zeros read before
             * the record was written (read again, once), or the record is
             * not on disk yet (stop here for now). */
            if (refreshed) break;
            refreshed = 1;
            c->buf_len = c->buf_pos;
            if (cursor_fill(c, WAL_HDR_SIZE, err, errlen) < 0) return -1;
            continue;
        }
        if (d != WAL_DEC_OK) {
            snprintf(err, errlen, "WAL segment %llu at offset %llu: %s",
                     (unsigned long long)c->seg_first,
                     (unsigned long long)c->file_off + c->buf_pos, wal_dec_str(d));
            return -1;
        }
        c->buf_pos += used;
        refreshed = 0;
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
