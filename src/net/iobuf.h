/* iobuf.h -- a growable byte buffer with a read position, for the
 * replication links' input and output (nonblocking read/write helpers). */
#ifndef RKV_IOBUF_H
#define RKV_IOBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct iobuf {
    uint8_t *p;
    size_t pos, len, cap; /* unread/unsent bytes are p[pos .. len) */
} iobuf;

static inline size_t iobuf_used(const iobuf *b)
{
    return b->len - b->pos;
}
/* Ensures room for EXTRA more bytes at p+len, compacting first. 0 or -1. */
int iobuf_reserve(iobuf *b, size_t extra);
int iobuf_append(iobuf *b, const void *data, size_t len);
void iobuf_consume(iobuf *b, size_t n);
void iobuf_free(iobuf *b);
void iobuf_reset(iobuf *b);
/* Reads what is available (at most MAX more buffered bytes). Returns bytes
 * read, 0 on EOF, -1 on error (errno EAGAIN: nothing now). */
long iobuf_read_fd(iobuf *b, int fd, size_t max);
/* Writes as much as the socket takes. 0 (maybe partial) or -1 on error. */
int iobuf_write_fd(iobuf *b, int fd);
/* The same over a connection that may be TLS (net/tls.h; NULL: plain, the
 * two calls above). Until a TLS handshake is done nothing is written: the
 * bytes stay queued and the call returns 0, as for a full socket. */
struct tls_conn;
long iobuf_read_conn(iobuf *b, struct tls_conn *t, int fd, size_t max);
int iobuf_write_conn(iobuf *b, struct tls_conn *t, int fd);

#endif
