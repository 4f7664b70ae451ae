/* tls.c -- TLS connections driven by the event loop (see tls.h for the
 * shape and why). Everything OpenSSL-specific is here; the callers see
 * read/write semantics with EAGAIN. */
#include "net/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if RKV_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <limits.h>

struct tls_ctx {
    SSL_CTX *ssl;
    char what[24];
    rkv_log *log;
    log_limit *lim_accept, *lim_dial;
    uint64_t failures;
    int timeout_ms;
    tls_conn *hs_head, *hs_tail; /* handshakes in progress, oldest first */
    size_t nhs;
};

struct tls_conn {
    SSL *ssl;
    tls_ctx *ctx;
    ev_loop *loop;
    int fd;
    int accept; /* the server side */
    int ready;  /* handshake done */
    int failed; /* fatal error seen: only close is left */
    unsigned hs_want; /* handshake: EV_READ or EV_WRITE */
    int rd_wants_w;   /* the last read stopped on WANT_WRITE */
    int wr_wants_r;   /* the last write stopped on WANT_READ */
    int on_list;
    uint64_t deadline_ms;
    void *owner;
    tls_conn *hprev, *hnext;
    char peer[64];
};

/* OpenSSL's queued errors, most recent reason first, into BUF. */
static void tls_errors(char *buf, size_t len, const char *fallback)
{
    size_t used = 0;
    unsigned long e;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        char one[256];
        const char *r = ERR_reason_error_string(e);
        if (!r) {
            ERR_error_string_n(e, one, sizeof one);
            r = one;
        }
        if (used < len) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? "; " : "", r);
            if (w > 0) used += (size_t)w;
        }
    }
    if (!buf[0]) snprintf(buf, len, "%s", fallback);
}

tls_ctx *tls_ctx_new(const char *cert, const char *key, const char *ca, enum tls_verify verify,
                     const char *what, rkv_log *log, log_limit *lim_accept, log_limit *lim_dial,
                     char *err, size_t errlen)
{
    char why[512];
    tls_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->what, sizeof c->what, "%s", what);
    c->log = log;
    c->lim_accept = lim_accept;
    c->lim_dial = lim_dial;
    c->timeout_ms = TLS_HANDSHAKE_TIMEOUT_MS;
    ERR_clear_error();
    c->ssl = SSL_CTX_new(TLS_method());
    if (!c->ssl) {
        tls_errors(why, sizeof why, "unknown error");
        snprintf(err, errlen, "TLS (%s): SSL_CTX_new: %s", what, why);
        free(c);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
    /* Partial writes: SSL_write returns per record, as write(2) does; the
     * retried buffer may move (iobufs are compacted and grown). */
    SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_NO_RENEGOTIATION
    opts |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF; /* a peer that closes without close_notify: EOF */
#endif
    SSL_CTX_set_options(c->ssl, (uint64_t)opts);
    SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
#ifdef TLS1_3_VERSION
    SSL_CTX_set_num_tickets(c->ssl, 0);
#endif
    if (SSL_CTX_use_certificate_chain_file(c->ssl, cert) != 1) {
        tls_errors(why, sizeof why, "cannot read it");
        snprintf(err, errlen, "TLS (%s): certificate %s: %s", what, cert, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1) {
        tls_errors(why, sizeof why, "cannot read it");
        snprintf(err, errlen, "TLS (%s): private key %s: %s", what, key, why);
        goto fail;
    }
    if (SSL_CTX_check_private_key(c->ssl) != 1) {
        tls_errors(why, sizeof why, "it does not match the certificate");
        snprintf(err, errlen, "TLS (%s): private key %s does not match certificate %s: %s", what,
                 key, cert, why);
        goto fail;
    }
    if (ca && ca[0]) {
        if (SSL_CTX_load_verify_locations(c->ssl, ca, NULL) != 1) {
            tls_errors(why, sizeof why, "cannot read it");
            snprintf(err, errlen, "TLS (%s): CA certificate %s: %s", what, ca, why);
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (names) SSL_CTX_set_client_CA_list(c->ssl, names); /* told to clients: which CA */
        ERR_clear_error();
    } else if (verify != TLS_VERIFY_NONE) {
        snprintf(err, errlen, "TLS (%s): verifying peers needs a CA certificate", what);
        goto fail;
    }
    int mode = verify == TLS_VERIFY_REQUIRED   ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
               : verify == TLS_VERIFY_OPTIONAL ? SSL_VERIFY_PEER
                                               : SSL_VERIFY_NONE;
    SSL_CTX_set_verify(c->ssl, mode, NULL);
    return c;
fail:
    SSL_CTX_free(c->ssl);
    free(c);
    return NULL;
}

void tls_ctx_free(tls_ctx *c)
{
    if (!c) return;
    /* Connections must be gone already; unlink any left so none dangles. */
    for (tls_conn *t = c->hs_head; t; t = t->hnext) t->on_list = 0;
    SSL_CTX_free(c->ssl);
    free(c);
}

uint64_t tls_ctx_failures(const tls_ctx *c)
{
    return c ? c->failures : 0;
}

size_t tls_ctx_handshaking(const tls_ctx *c)
{
    return c ? c->nhs : 0;
}

void tls_ctx_set_handshake_timeout(tls_ctx *c, int timeout_ms)
{
    if (c && timeout_ms > 0) c->timeout_ms = timeout_ms;
}

static void hs_unlink(tls_conn *t)
{
    if (!t->on_list) return;
    tls_ctx *c = t->ctx;
    if (t->hprev)
        t->hprev->hnext = t->hnext;
    else
        c->hs_head = t->hnext;
    if (t->hnext)
        t->hnext->hprev = t->hprev;
    else
        c->hs_tail = t->hprev;
    t->hprev = t->hnext = NULL;
    t->on_list = 0;
    c->nhs--;
}

tls_conn *tls_conn_new(tls_ctx *c, ev_loop *loop, int fd, int accept, const char *peer,
                       void *owner)
{
    tls_conn *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl = SSL_new(c->ssl);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        if (t->ssl) SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    if (accept)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    t->ctx = c;
    t->accept = accept;
    t->loop = loop;
    t->fd = fd;
    t->owner = owner;
    t->hs_want = accept ? EV_READ : EV_WRITE; /* who speaks first */
    snprintf(t->peer, sizeof t->peer, "%s", peer ? peer : "?");
    t->deadline_ms = ev_now_ms() + (uint64_t)c->timeout_ms;
    t->hprev = c->hs_tail;
    if (c->hs_tail)
        c->hs_tail->hnext = t;
    else
        c->hs_head = t;
    c->hs_tail = t;
    t->on_list = 1;
    c->nhs++;
    return t;
}

void tls_conn_free(tls_conn *t)
{
    if (!t) return;
    hs_unlink(t);
    if (t->ready && !t->failed) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl); /* one nonblocking close_notify; no waiting for the answer */
    }
    SSL_free(t->ssl);
    ERR_clear_error();
    free(t);
}

int tls_conn_ready(const tls_conn *t)
{
    return t && t->ready;
}

void *tls_ctx_expired(tls_ctx *c, uint64_t now_ms)
{
    tls_conn *t = c ? c->hs_head : NULL;
    if (!t || now_ms < t->deadline_ms) return NULL;
    hs_unlink(t);
    t->failed = 1;
    c->failures++;
    log_warn_limited(c->log, t->accept ? c->lim_accept : c->lim_dial,
                     "TLS handshake with %s %s timed out after %d ms", c->what,
                     t->peer, c->timeout_ms);
    return t->owner;
}

/* A fatal error (SSL_get_error E after a call that returned R): logged when
 * the handshake fails, errno set for the caller. */
static void tls_fail(tls_conn *t, int e, int r)
{
    int saved = errno;
    char why[512];
    t->failed = 1;
    if (!t->ready) {
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK) {
            snprintf(why, sizeof why, "certificate verify failed (%s)",
                     X509_verify_cert_error_string(v));
            ERR_clear_error();
        } else if (e == SSL_ERROR_SYSCALL) {
            tls_errors(why, sizeof why,
                       r == 0 || saved == 0 ? "connection closed during the handshake"
                                            : strerror(saved));
        } else {
            tls_errors(why, sizeof why, "handshake failed");
        }
        hs_unlink(t);
        t->ctx->failures++;
        log_warn_limited(t->ctx->log, t->accept ? t->ctx->lim_accept : t->ctx->lim_dial,
                         "TLS handshake with %s %s failed: %s",
                         t->ctx->what, t->peer, why);
    } else {
        ERR_clear_error();
    }
    errno = (e == SSL_ERROR_SYSCALL && saved != 0 && saved != EAGAIN) ? saved : EPROTO;
}

/* Drives the handshake: 1 done, -1 with errno (EAGAIN: in progress). */
static int tls_handshake(tls_conn *t)
{
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->ready = 1;
        t->hs_want = 0;
        hs_unlink(t);
        return 1;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->hs_want = e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
        errno = EAGAIN;
        return -1;
    }
    tls_fail(t, e, r);
    return -1;
}

ssize_t tls_read(tls_conn *t, void *buf, size_t len)
{
    if (!t->ready && tls_handshake(t) < 0) return -1;
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    size_t got = 0;
    if (len > INT_MAX) len = INT_MAX;
    /* One SSL_read gives at most one record (16 KB): read on while records
     * are there, so a large buffer fills in one call as with read(2). */
    while (got < len) {
        ERR_clear_error();
        int r = SSL_read(t->ssl, (char *)buf + got, (int)(len - got));
        if (r > 0) {
            got += (size_t)r;
            t->rd_wants_w = 0;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            t->rd_wants_w = e == SSL_ERROR_WANT_WRITE;
            if (got) break;
            errno = EAGAIN;
            return -1;
        }
        if (got) break; /* the EOF or error shows at the next call */
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_SYSCALL && r == 0 && ERR_peek_error() == 0) return 0;
        tls_fail(t, e, r);
        return -1;
    }
    /* Decrypted bytes left inside OpenSSL: epoll cannot see them. */
    if (SSL_pending(t->ssl) > 0) ev_mark_pending(t->loop, t->fd);
    return (ssize_t)got;
}

ssize_t tls_write(tls_conn *t, const void *buf, size_t len)
{
    if (!t->ready && tls_handshake(t) < 0) return -1; /* the bytes stay queued */
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    if (len == 0) return 0;
    if (len > INT_MAX) len = INT_MAX;
    ERR_clear_error();
    int r = SSL_write(t->ssl, buf, (int)len);
    if (r > 0) {
        t->wr_wants_r = 0;
        return r;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->wr_wants_r = e == SSL_ERROR_WANT_READ;
        errno = EAGAIN;
        return -1;
    }
    tls_fail(t, e, r);
    return -1;
}

unsigned tls_mask(const tls_conn *t, unsigned mask)
{
    if (!(mask & (EV_READ | EV_WRITE))) return mask; /* paused: stays paused */
    if (!t->ready) {
        if (t->failed) return mask;
        /* Only what the handshake waits for: queued output must not spin
         * on EPOLLOUT while the peer has yet to answer. */
        return (mask & EV_HUP) | t->hs_want;
    }
    if (t->wr_wants_r && (mask & EV_WRITE)) mask = (mask & ~EV_WRITE) | EV_READ;
    if (t->rd_wants_w) mask |= EV_WRITE;
    return mask;
}

unsigned tls_events(const tls_conn *t, unsigned events)
{
    if (!t->ready) {
        /* Any readiness drives the handshake, through the caller's read. */
        if (events & (EV_READ | EV_WRITE)) events |= EV_READ;
        return events;
    }
    if (t->rd_wants_w && (events & EV_WRITE)) events |= EV_READ;
    if (t->wr_wants_r && (events & EV_READ)) events |= EV_WRITE;
    return events;
}

#else /* !RKV_HAVE_OPENSSL: TLS is refused at start (config_validate) */

tls_ctx *tls_ctx_new(const char *cert, const char *key, const char *ca, enum tls_verify verify,
                     const char *what, rkv_log *log, log_limit *lim_accept, log_limit *lim_dial,
                     char *err, size_t errlen)
{
    (void)cert, (void)key, (void)ca, (void)verify, (void)log, (void)lim_accept, (void)lim_dial;
    snprintf(err, errlen, "TLS (%s): this rkv was built without OpenSSL", what);
    return NULL;
}

void tls_ctx_free(tls_ctx *ctx)
{
    (void)ctx;
}

uint64_t tls_ctx_failures(const tls_ctx *ctx)
{
    (void)ctx;
    return 0;
}

size_t tls_ctx_handshaking(const tls_ctx *ctx)
{
    (void)ctx;
    return 0;
}

void tls_ctx_set_handshake_timeout(tls_ctx *ctx, int timeout_ms)
{
    (void)ctx, (void)timeout_ms;
}

tls_conn *tls_conn_new(tls_ctx *ctx, ev_loop *loop, int fd, int accept, const char *peer,
                       void *owner)
{
    (void)ctx, (void)loop, (void)fd, (void)accept, (void)peer, (void)owner;
    return NULL;
}

void tls_conn_free(tls_conn *t)
{
    (void)t;
}

int tls_conn_ready(const tls_conn *t)
{
    (void)t;
    return 0;
}

void *tls_ctx_expired(tls_ctx *ctx, uint64_t now_ms)
{
    (void)ctx, (void)now_ms;
    return NULL;
}

ssize_t tls_read(tls_conn *t, void *buf, size_t len)
{
    (void)t, (void)buf, (void)len;
    errno = ENOTSUP;
    return -1;
}

ssize_t tls_write(tls_conn *t, const void *buf, size_t len)
{
    (void)t, (void)buf, (void)len;
    errno = ENOTSUP;
    return -1;
}

unsigned tls_mask(const tls_conn *t, unsigned mask)
{
    (void)t;
    return mask;
}

unsigned tls_events(const tls_conn *t, unsigned events)
{
    (void)t;
    return events;
}

#endif
