/* repl_rejoin.h -- catch-up of a follower that is behind: a cursor that
 * reads the leader's WAL segments from a given LSN in bounded chunks.
 *
 * The leader keeps only uncommitted records in memory; a follower that comes
 * back after missing records is fed from the segments on disk, one chunk at
 * a time and only while its link's output buffer is below a low-water mark,
 * so a backlog of any size costs bounded memory and never stalls the loop
 * for long. Records are checked with the same codec on the way out (a
 * corrupt segment is reported, never shipped). Once the cursor reaches the
 * records still in memory, the link switches to live streaming. */
#ifndef RKV_REPL_REJOIN_H
#define RKV_REPL_REJOIN_H

#include <stddef.h>
#include <stdint.h>

#include "net/iobuf.h"

#define REPL_CURSOR_CHUNK (1u << 20) /* bytes read from disk per step */

/* Reading while the WAL thread writes: a chunk read from disk may end with
 * bytes the writer had not finished (a partial record or batch header,
 * preallocated zeros about to be overwritten). Records above UPTO_LSN are
 * never decoded, but their stale bytes stay in the buffer; so whenever
 * something the cursor needs (all of it at or below UPTO_LSN, hence
 * complete on disk) does not decode, the buffered bytes from that point are
 * dropped and read again from the file, once. Only a second failure at the
 * same point is corruption. Segment and batch headers (docs/WAL-FORMAT.md)
 * are read and skipped; what comes out are the records, exactly as stored.
 * Both segment formats (records only, and batches) are read. */

typedef struct repl_cursor {
    char data_dir[1024];
    int fd;               /* open segment, -1 none */
    uint64_t seg_first;   /* first LSN of the open segment */
    uint64_t file_off;    /* file offset of buf[0] */
    uint8_t *buf;
    size_t buf_len, buf_pos, buf_cap;
    uint64_t next_lsn;    /* next record to ship */
    int seg_format;       /* 0 header not read yet, 1 records only, 2 batches */
    uint64_t salt;        /* format 2: the open segment's salt */
    uint64_t batch_end;   /* format 2: file offset where the current batch ends, 0 between */
} repl_cursor;

enum { CURSOR_OK = 0, CURSOR_GONE = 1, CURSOR_ERR = -1 };

/* Positions C at FROM_LSN. CURSOR_GONE if no retained segment holds it
 * (checkpoints removed it: the follower needs a snapshot). */
int repl_cursor_open(repl_cursor *c, const char *data_dir, uint64_t from_lsn, char *err,
                     size_t errlen);
/* Appends whole records next_lsn..at most UPTO_LSN to OUT, stopping after
 * about MAX_BYTES. Returns the number of records appended (0: nothing
 * available yet) or -1 + message (corruption, I/O error). */
long repl_cursor_read(repl_cursor *c, iobuf *out, uint64_t upto_lsn, size_t max_bytes,
                      char *err, size_t errlen);
void repl_cursor_close(repl_cursor *c);

#endif
