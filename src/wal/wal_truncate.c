/* wal_truncate.c -- cuts a closed WAL back to a given LSN (see wal_writer.h,
 * wal_truncate_after).
 *
 * Used by a follower whose log ends in another leader's uncommitted tail:
 * instead of being rebuilt from a snapshot it drops the records after its
 * committed prefix and catches up from there (docs/PROTOCOL.md, TRUNCATE).
 *
 * Why it is shaped so: segments after the cut point go first, newest first,
 * so a crash at any moment leaves a log that is a prefix of the old one.
 * In the segment that holds the cut, a batch that straddles it keeps its
 * bytes in place: the file is first cut after that batch (synced), then its
 * header is rewritten (count, last LSN, payload length and CRC of the
 * records kept; synced), then the file is cut after those records. A crash
 * after the first step leaves a log ending at that batch (a prefix); after
 * the second, a valid batch followed by bytes that are not a batch:
 * recovery's torn tail. Format-1 segments (records
 * only) are cut at a record boundary. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal/crc32.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"
#include "wal/wal_writer.h"

#define WAL_TRUNCATE_READ_MAX (1ull << 31) /* a segment read whole to cut it */

/* Offset at which the records above LSN start in the format-1 segment BUF,
 * or LEN if none is there. */
static size_t old_cut(const uint8_t *buf, size_t len, uint64_t lsn)
{
    size_t off = 0;
    while (off + WAL_HDR_SIZE <= len) {
        wal_rec r;
        size_t used;
        if (wal_record_decode(buf + off, len - off, &r, &used) != WAL_DEC_OK) break;
        if (r.lsn > lsn) return off;
        off += used;
    }
    return off;
}

/* Cuts the segment at PATH after record LSN. 0 or -1 + message. */
static int cut_segment(const char *path, uint64_t lsn, const rkv_log *log, char *err,
                       size_t errlen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "wal: open %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > WAL_TRUNCATE_READ_MAX) {
        snprintf(err, errlen, "wal: %s is %lld bytes, more than a cut reads", path,
                 (long long)st.st_size);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    ssize_t got = buf ? pread(fd, buf, len, 0) : -1;
    if (got < 0 || (size_t)got != len) {
        snprintf(err, errlen, "wal: read %s: %s", path, buf ? strerror(errno) : "out of memory");
        free(buf);
        close(fd);
        return -1;
    }
    wal_seg_hdr sh;
    size_t cut = len;
    int rc = 0;
    wal_frame f = wal_seg_hdr_decode(buf, len, &sh);
    if (f == WAL_FRAME_OLD) {
        cut = old_cut(buf, len, lsn);
    } else if (f != WAL_FRAME_OK) {
        snprintf(err, errlen, "wal: %s: bad segment header", path);
        rc = -1;
    } else {
        size_t off = WAL_SEG_HDR_SIZE;
        cut = off;
        while (rc == 0 && off + WAL_BATCH_HDR_SIZE <= len) {
            wal_batch_hdr bh;
            if (wal_batch_hdr_decode(buf + off, len - off, &bh) != WAL_FRAME_OK ||
                bh.salt != sh.salt || off + WAL_BATCH_HDR_SIZE + bh.payload_len > len)
                break; /* the end (zeros, or a torn tail recovery already cut) */
            size_t pay = off + WAL_BATCH_HDR_SIZE;
            if (bh.last_lsn <= lsn) { /* kept whole */
                off = pay + bh.payload_len;
                cut = off;
                continue;
            }
            if (bh.first_lsn <= lsn) { /* straddles: keep its first records */
                size_t keep = 0;
                uint32_t count = 0;
                while (keep < bh.payload_len) {
                    wal_rec r;
                    size_t used;
                    if (wal_record_decode(buf + pay + keep, bh.payload_len - keep, &r, &used) !=
                            WAL_DEC_OK ||
                        r.lsn > lsn)
                        break;
                    keep += used;
                    count++;
                }
                if (count != lsn - bh.first_lsn + 1) {
                    snprintf(err, errlen, "wal: %s: batch at %zu does not hold lsn %" PRIu64,
                             path, off, lsn);
                    rc = -1;
                    break;
                }
                /* Later batches go first (and durably): were they still
                 * there after the header rewrite, the cut batch would be
                 * "damage followed by a valid batch" to recovery. */
                if (ftruncate(fd, (off_t)(pay + bh.payload_len)) != 0 || fdatasync(fd) != 0) {
                    snprintf(err, errlen, "wal: cut %s: %s", path, strerror(errno));
                    rc = -1;
                    break;
                }
                bh.last_lsn = lsn;
                bh.count = count;
                bh.payload_len = (uint32_t)keep;
                bh.payload_crc = crc32c(0, buf + pay, keep);
                uint8_t hdr[WAL_BATCH_HDR_SIZE];
                wal_batch_hdr_encode(&bh, hdr);
                if (pwrite(fd, hdr, sizeof hdr, (off_t)off) != (ssize_t)sizeof hdr ||
                    fdatasync(fd) != 0) {
                    snprintf(err, errlen, "wal: rewrite batch header in %s: %s", path,
                             strerror(errno));
                    rc = -1;
                    break;
                }
                cut = pay + keep;
            }
            break;
        }
    }
    if (rc == 0 && (ftruncate(fd, (off_t)cut) != 0 || fdatasync(fd) != 0)) {
        snprintf(err, errlen, "wal: cut %s at %zu: %s", path, cut, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        log_info(log, "wal: %s cut after lsn %" PRIu64 " (%zu of %zu bytes kept)", path, lsn, cut,
                 len);
    free(buf);
    close(fd);
    return rc;
}

int wal_truncate_after(const char *data_dir, uint64_t lsn, const rkv_log *log, char *err,
                       size_t errlen)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    if (wal_segments_list(data_dir, &firsts, &n, err, errlen) < 0) return -1;
    char path[WAL_PATH_MAX], dir[WAL_PATH_MAX];
    int rc = 0;
    if (wal_dir_path(dir, sizeof dir, data_dir) < 0) {
        snprintf(err, errlen, "wal: path too long: %s", data_dir);
        rc = -1;
    }
    /* Newest first: every segment wholly above the cut goes. */
    size_t i = n;
    while (rc == 0 && i > 0 && firsts[i - 1] > lsn) {
        i--;
        if (wal_segment_path(path, sizeof path, data_dir, firsts[i]) < 0 ||
            (unlink(path) < 0 && errno != ENOENT)) {
            snprintf(err, errlen, "wal: remove %s: %s", path, strerror(errno));
            rc = -1;
        } else {
            log_info(log, "wal: removed %s (records after lsn %" PRIu64 ")", path, lsn);
        }
    }
    if (rc == 0 && n > i) rc = wal_fsync_dir(dir, err, errlen);
    if (rc == 0 && i > 0) {
        if (wal_segment_path(path, sizeof path, data_dir, firsts[i - 1]) < 0) {
            snprintf(err, errlen, "wal: path too long: %s", data_dir);
            rc = -1;
        } else {
            rc = cut_segment(path, lsn, log, err, errlen);
        }
    }
    free(firsts);
    return rc;
}
