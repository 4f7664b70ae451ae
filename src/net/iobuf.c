/* iobuf.c -- see iobuf.h. */
#include "net/iobuf.h"

#include "net/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IOBUF_INIT (64u * 1024u)
#define IOBUF_READ_CHUNK (256u * 1024u)
#define IOBUF_SHRINK (8u << 20) /* drop an emptied buffer larger than this */

int iobuf_reserve(iobuf *b, size_t extra)
{
    if (b->len + extra <= b->cap) return 0;
    if (b->pos > 0) {
        memmove(b->p, b->p + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
        if (b->len + extra <= b->cap) return 0;
    }
    size_t cap = b->cap ? b->cap : IOBUF_INIT;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int iobuf_append(iobuf *b, const void *data, size_t len)
{
    if (iobuf_reserve(b, len) < 0) return -1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

void iobuf_consume(iobuf *b, size_t n)
{
    b->pos += n;
    if (b->pos == b->len) {
        b->pos = b->len = 0;
        if (b->cap > IOBUF_SHRINK) {
            free(b->p);
            b->p = NULL;
            b->cap = 0;
        }
    }
}

void iobuf_reset(iobuf *b)
{
    b->pos = b->len = 0;
}

void iobuf_free(iobuf *b)
{
    free(b->p);
    b->p = NULL;
    b->pos = b->len = b->cap = 0;
}

long iobuf_read_fd(iobuf *b, int fd, size_t max)
{
    return iobuf_read_conn(b, NULL, fd, max);
}

int iobuf_write_fd(iobuf *b, int fd)
{
    return iobuf_write_conn(b, NULL, fd);
}

long iobuf_read_conn(iobuf *b, tls_conn *t, int fd, size_t max)
{
    size_t want = IOBUF_READ_CHUNK;
    if (iobuf_used(b) >= max) {
        errno = ENOBUFS;
        return -1;
    }
    if (want > max - iobuf_used(b)) want = max - iobuf_used(b);
    if (iobuf_reserve(b, want) < 0) return -1;
    ssize_t r;
    do {
        r = sock_read(t, fd, b->p + b->len, b->cap - b->len);
    } while (r < 0 && errno == EINTR);
    if (r > 0) b->len += (size_t)r;
    return (long)r;
}

int iobuf_write_conn(iobuf *b, tls_conn *t, int fd)
{
    while (b->pos < b->len) {
        ssize_t w = sock_write(t, fd, b->p + b->pos, b->len - b->pos);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        iobuf_consume(b, (size_t)w);
    }
    return 0;
}
