/* tls.h -- TLS (OpenSSL) for every rkv port, inside the one epoll loop.
 *
 * What: a tls_ctx is an SSL_CTX built from the node's files (certificate,
 * key, CA; TLS 1.2 or newer) with a verification mode: clients per
 * --tls-auth-clients, replication and votes always mutual (each side
 * presents its certificate and checks the peer's against the CA). A
 * tls_conn is one connection's SSL object over a nonblocking socket.
 *
 * Why shaped so: the callers (client.c, repl_ship.c, repl_recv.c,
 * repl_vote.c) keep their buffers, frames and state machines exactly as for
 * plain TCP. They only swap read/write for sock_read/sock_write (or the
 * iobuf_*_conn helpers), which take a tls_conn that is NULL for a plain
 * connection: one predictable branch, then the same read(2)/write(2) as
 * before, so the plaintext hot path does not change. For a TLS connection:
 *   - the handshake runs inside those calls: until it is done, a write
 *     returns -1/EAGAIN and leaves the caller's buffer queued (frames wait
 *     in the iobuf), a read drives the handshake and returns -1/EAGAIN;
 *   - SSL_ERROR_WANT_READ / WANT_WRITE become -1/EAGAIN, and the
 *     connection remembers which readiness it is waiting for:
 *     sock_mask() adjusts the caller's epoll mask (a write waiting to read
 *     must not spin on EPOLLOUT; a read waiting to write needs it) and
 *     sock_events() turns the readiness that arrived into the call that
 *     can progress (EV_WRITE wakes a read that wanted writable, ...);
 *   - after a read, bytes OpenSSL still holds (SSL_pending) are announced
 *     to the loop with ev_mark_pending, since level-triggered epoll cannot
 *     see them;
 *   - a failed handshake is logged here (rate-limited, with the peer's
 *     address and OpenSSL's reason) and counted in the context, and the
 *     call returns -1 with errno EPROTO: the caller closes as for any
 *     socket error;
 *   - a handshake that does not finish within its deadline is found by
 *     tls_ctx_expired() from the owner's cron (clients), or by the
 *     existing handshake timeouts of the replication code. A stalled peer
 *     costs a descriptor until then, never the loop's time.
 * Without OpenSSL (make TLS=no) this compiles to stubs: tls_ctx_new fails
 * with a message, and every tls_conn is NULL, i.e. plain. */
#ifndef RKV_TLS_H
#define RKV_TLS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/log.h"
#include "net/ev.h"

/* A TLS handshake not done after this is closed (replication and votes
 * have their own, shorter, handshake timeouts that cover it too). */
#define TLS_HANDSHAKE_TIMEOUT_MS 10000

enum tls_verify {
    TLS_VERIFY_NONE = 0,     /* do not ask for a certificate */
    TLS_VERIFY_OPTIONAL = 1, /* ask; check one if presented */
    TLS_VERIFY_REQUIRED = 2, /* a certificate signed by the CA is required */
};

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/* Loads CERT and KEY (PEM; the key must match the certificate) and, if CA
 * is non-empty, the CA certificates (a bundle may hold several, e.g. the old
 * and the new CA during a rotation) used to verify peers. VERIFY applies to
 * the peer in both roles (accepting and dialling). WHAT names the
 * connections in log lines ("client", "replication"); LOG and the limiters
 * are the owner's, used for handshake failures: LIM_ACCEPT for connections
 * accepted, LIM_DIAL for those dialled (a refused follower the leader dials
 * is not hidden behind a stream of refused inbound ones). NULL + OpenSSL's
 * reason in ERR. */
tls_ctx *tls_ctx_new(const char *cert, const char *key, const char *ca, enum tls_verify verify,
                     const char *what, rkv_log *log, log_limit *lim_accept, log_limit *lim_dial,
                     char *err, size_t errlen);
void tls_ctx_free(tls_ctx *ctx);
/* Handshakes that failed (bad or missing certificate, not TLS, ...). */
uint64_t tls_ctx_failures(const tls_ctx *ctx);
/* Connections of this context whose handshake is in progress. */
size_t tls_ctx_handshaking(const tls_ctx *ctx);

/* The handshake deadline of this context's connections (default
 * TLS_HANDSHAKE_TIMEOUT_MS). One per context, so that its handshake list is
 * in deadline order and tls_ctx_expired looks at its head only. */
void tls_ctx_set_handshake_timeout(tls_ctx *ctx, int timeout_ms);
/* A TLS connection over FD (nonblocking, connected). ACCEPT: the server
 * side, else the client side. OWNER is returned by tls_ctx_expired; PEER
 * names it in log lines. NULL on failure (out of memory, or no OpenSSL). */
tls_conn *tls_conn_new(tls_ctx *ctx, ev_loop *loop, int fd, int accept, const char *peer,
                       void *owner);
/* Sends a close_notify if it can without waiting, frees the SSL object.
 * Does not close FD. NULL is fine. */
void tls_conn_free(tls_conn *t);
/* 1 once the handshake is done. */
int tls_conn_ready(const tls_conn *t);
/* The OWNER of one connection of CTX whose handshake deadline passed
 * (it is taken off the handshake list: call again for the next), or NULL. */
void *tls_ctx_expired(tls_ctx *ctx, uint64_t now_ms);

/* Like read(2) / write(2): bytes, 0 on EOF (read), -1 with errno (EAGAIN:
 * try again when sock_mask's events arrive). */
ssize_t tls_read(tls_conn *t, void *buf, size_t len);
ssize_t tls_write(tls_conn *t, const void *buf, size_t len);
unsigned tls_mask(const tls_conn *t, unsigned mask);
unsigned tls_events(const tls_conn *t, unsigned events);

/* ---- the interface the callers use: NULL is a plain TCP connection ---- */

static inline ssize_t sock_read(tls_conn *t, int fd, void *buf, size_t len)
{
    if (__builtin_expect(t != NULL, 0)) return tls_read(t, buf, len);
    return read(fd, buf, len);
}

static inline ssize_t sock_write(tls_conn *t, int fd, const void *buf, size_t len)
{
    if (__builtin_expect(t != NULL, 0)) return tls_write(t, buf, len);
    return write(fd, buf, len);
}

/* The epoll mask to register for a caller that wants MASK. */
static inline unsigned sock_mask(const tls_conn *t, unsigned mask)
{
    return t ? tls_mask(t, mask) : mask;
}

/* The readiness to act on, given the EVENTS epoll reported. */
static inline unsigned sock_events(const tls_conn *t, unsigned events)
{
    return t ? tls_events(t, events) : events;
}

/* Closes a connection: its TLS state (*T, set to NULL) and then FD. */
static inline void sock_close(tls_conn **t, int fd)
{
    if (*t) {
        tls_conn_free(*t);
        *t = NULL;
    }
    close(fd);
}

#endif
