/* cli_conn.c -- rkv-cli's one connection to a server: connect, TLS, the
 * handshake every connection gets, send, read, and the retry after a restart.
 *
 * The socket is nonblocking underneath and every connect, send and read
 * waits in poll() against the -t deadline, so rkv-cli never hangs on a dead
 * or unreachable server (a blocking connect to an unreachable host waits for
 * the kernel's SYN retries: minutes).
 *
 * The address is resolved with getaddrinfo(AF_UNSPEC) and each result tried
 * in turn, so `-h ::1` and host names with only an AAAA record work:
 * net_connect() (src/net) is IPv4 only, as the servers listen on IPv4.
 *
 * Every connection, a reconnect included, starts the way redis-cli's does:
 * AUTH [user] pass (a refused AUTH prints "AUTH failed: ..." and the session
 * goes on, getting -NOAUTH), SELECT db when the db is not 0 (-n, or a SELECT
 * typed earlier), HELLO 3 with -3. So a server restart is invisible except
 * for the one retried command.
 *
 * The retry: a command whose connection turns out to be closed by the
 * server (EOF or reset while sending or reading: the server restarted) is
 * sent once more on a new connection. A timeout is not retried: the server
 * may be slow but alive, and the command may have run. A write can still run
 * twice if the server applied it and died before replying; redis-cli has the
 * same window. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "net/net.h"
#include "net/resp.h"

#if RKV_HAVE_OPENSSL
#include <openssl/err.h>
#endif

#define CLI_REPLY_BUF_MAX (640u * 1024u * 1024u) /* buffered reply: 512 MiB bulk + slack */
#define CLI_READ_CHUNK (64u * 1024u)             /* least free space offered to one recv() */
#define CLI_CMD_ARGS_MAX 16                      /* arguments of cli_cmd() */
/* redis-cli probes an idle connection after 15 s: a long-idle prompt still
 * notices a server that vanished, without probing every second. */
#define CLI_KEEPALIVE {15, 5, 3, 0}

long long cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_conn_init(cli_conn *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "%s", CLI_DEFAULT_HOST);
    c->port = CLI_DEFAULT_PORT;
    c->timeout_ms = (int)(CLI_DEFAULT_TIMEOUT_S * 1000);
    c->fd = -1;
}

void cli_conn_addr(const cli_conn *c, char *out, size_t outlen)
{
    if (strchr(c->host, ':') != NULL)
        snprintf(out, outlen, "[%s]:%d", c->host, c->port);
    else
        snprintf(out, outlen, "%s:%d", c->host, c->port);
}

static long long conn_deadline(const cli_conn *c)
{
    return c->timeout_ms > 0 ? cli_now_ms() + c->timeout_ms : -1;
}

/* Waits for EVENTS until DEADLINE (-1: none); 0 ready, -1 timeout/error. */
static int conn_poll(cli_conn *c, short events, long long deadline)
{
    for (;;) {
        int wait_ms = -1;
        if (deadline >= 0) {
            long long left = deadline - cli_now_ms();
            if (left <= 0) {
                snprintf(c->err, sizeof(c->err), "timeout after %d ms (use -t)", c->timeout_ms);
                return -1;
            }
            wait_ms = (int)left;
        }
        struct pollfd p = {c->fd, events, 0};
        int r = poll(&p, 1, wait_ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR) {
            snprintf(c->err, sizeof(c->err), "poll: %s", strerror(errno));
            return -1;
        }
    }
}

void cli_conn_close(cli_conn *c)
{
#if RKV_HAVE_OPENSSL
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
#endif
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->off = c->len = c->need = 0;
}

void cli_conn_free(cli_conn *c)
{
    cli_conn_close(c);
#if RKV_HAVE_OPENSSL
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
#endif
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
}

/* Marks a failure as the server having closed the connection (retryable). */
static void conn_dropped(cli_conn *c, const char *what)
{
    c->dropped = 1;
    snprintf(c->err, sizeof(c->err), "%s", what);
}

#if RKV_HAVE_OPENSSL
static void tls_reason(cli_conn *c, const char *what)
{
    char why[256] = "";
    unsigned long e = ERR_get_error();
    long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(why, sizeof why, "certificate verify failed (%s)", X509_verify_cert_error_string(v));
    else if (e)
        ERR_error_string_n(e, why, sizeof why);
    else
        snprintf(why, sizeof why, "%s", errno ? strerror(errno) : "connection closed");
    snprintf(c->err, sizeof(c->err), "TLS %s: %s", what, why);
    ERR_clear_error();
}

/* Waits until SSL call result R can be retried: 0, or -1 with c->err. */
static int tls_wait(cli_conn *c, int r, long long deadline, const char *what)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return conn_poll(c, POLLIN, deadline);
    if (e == SSL_ERROR_WANT_WRITE)
        return conn_poll(c, POLLOUT, deadline);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
        conn_dropped(c, "connection closed by server");
        ERR_clear_error();
        return -1;
    }
    tls_reason(c, what);
    return -1;
}

static int tls_setup_ctx(cli_conn *c)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        tls_reason(c, "setup");
        return -1;
    }
    if (SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1) {
        tls_reason(c, "setup");
        return -1;
    }
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if ((c->cacert && SSL_CTX_load_verify_locations(c->ctx, c->cacert, NULL) != 1) ||
        (!c->cacert && SSL_CTX_set_default_verify_paths(c->ctx) != 1)) {
        tls_reason(c, c->cacert ? c->cacert : "default CA paths");
        return -1;
    }
    if (c->cert && (SSL_CTX_use_certificate_chain_file(c->ctx, c->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(c->ctx, c->key ? c->key : c->cert,
                                                SSL_FILETYPE_PEM) != 1)) {
        tls_reason(c, c->cert);
        return -1;
    }
    return 0;
}

static int tls_open(cli_conn *c)
{
    if (!c->ctx && tls_setup_ctx(c) != 0)
        return -1;
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        tls_reason(c, "setup");
        return -1;
    }
    if (SSL_set_tlsext_host_name(c->ssl, c->host) != 1)
        ERR_clear_error(); /* an IP literal is no SNI name: connect without it */
    long long deadline = conn_deadline(c);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        if (tls_wait(c, r, deadline, "handshake") != 0)
            return -1;
    }
}
#endif

/* One address: a nonblocking connect bounded by the timeout. */
static int connect_addr(cli_conn *c, const struct addrinfo *ai)
{
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
        return -1;
    }
    net_keepalive ka = CLI_KEEPALIVE;
    char nerr[CLI_ERR_MAX];
    if (net_tune(c->fd, &ka, nerr, sizeof(nerr)) != 0) {
        snprintf(c->err, sizeof(c->err), "%s", nerr);
        return -1;
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        snprintf(c->err, sizeof(c->err), "%s", strerror(errno));
        return -1;
    }
    if (conn_poll(c, POLLOUT, conn_deadline(c)) != 0)
        return -1;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        soerr = errno;
    if (soerr != 0) {
        snprintf(c->err, sizeof(c->err), "%s", strerror(soerr));
        return -1;
    }
    return 0;
}

static int conn_tcp(cli_conn *c)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    int rc = getaddrinfo(c->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof(c->err), "%s", gai_strerror(rc));
        return -1;
    }
    rc = -1;
    for (const struct addrinfo *ai = res; ai != NULL && rc != 0; ai = ai->ai_next) {
        rc = connect_addr(c, ai);
        if (rc != 0)
            cli_conn_close(c);
    }
    freeaddrinfo(res);
    return rc;
}

/* A handshake command on a fresh connection: the reply, or NULL (closed). */
static cli_reply *conn_handshake(cli_conn *c, int argc, const char *const *argv)
{
    if (cli_conn_send_argv(c, argc, argv, NULL) != 0)
        return NULL;
    return cli_conn_read(c);
}

static int conn_auth(cli_conn *c)
{
    const char *argv[3] = {"AUTH", c->user ? c->user : c->pass, c->pass};
    cli_reply *r = conn_handshake(c, c->user ? 3 : 2, argv);
    if (r == NULL)
        return -1;
    if (r->type == CLI_R_ERROR)
        fprintf(stderr, "AUTH failed: %s\n", r->str);
    cli_reply_free(r);
    return 0;
}

static int conn_select_hello(cli_conn *c)
{
    if (c->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", c->db);
        const char *argv[2] = {"SELECT", db};
        cli_reply *r = conn_handshake(c, 2, argv);
        if (r == NULL)
            return -1;
        if (r->type == CLI_R_ERROR) {
            fprintf(stderr, "SELECT %d failed: %s\n", c->db, r->str);
            c->db = 0; /* the prompt then says where commands really go */
        }
        cli_reply_free(r);
    }
    if (c->resp3) {
        const char *argv[2] = {"HELLO", "3"};
        cli_reply *r = conn_handshake(c, 2, argv);
        if (r == NULL)
            return -1;
        if (r->type == CLI_R_ERROR)
            fprintf(stderr, "HELLO 3 failed: %s\n", r->str);
        cli_reply_free(r);
    }
    return 0;
}

int cli_conn_open(cli_conn *c)
{
    cli_conn_close(c);
    c->dropped = 0;
    c->err[0] = '\0';
    c->connect_failed = 1;
    if (conn_tcp(c) != 0)
        return -1;
#if RKV_HAVE_OPENSSL
    if (c->tls && tls_open(c) != 0) {
        cli_conn_close(c);
        return -1;
    }
#endif
    c->connect_failed = 0;
    c->generation++;
    if ((c->pass != NULL && conn_auth(c) != 0) || conn_select_hello(c) != 0) {
        cli_conn_close(c);
        return -1;
    }
    return 0;
}

int cli_conn_send(cli_conn *c, const char *p, size_t len)
{
    long long deadline = conn_deadline(c);
    while (len > 0) {
        long w = cli_conn_try_send(c, p, len);
        if (w < 0)
            return -1;
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
#if RKV_HAVE_OPENSSL
        if (c->ssl) { /* try_send left the reason in the SSL state */
            if (conn_poll(c, POLLIN | POLLOUT, deadline) != 0)
                return -1;
            continue;
        }
#endif
        if (conn_poll(c, POLLOUT, deadline) != 0)
            return -1;
    }
    return 0;
}

long cli_conn_try_send(cli_conn *c, const char *p, size_t len)
{
#if RKV_HAVE_OPENSSL
    if (c->ssl) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, p, len > (1u << 30) ? (1 << 30) : (int)len);
        if (w > 0)
            return w;
        int e = SSL_get_error(c->ssl, w);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        return tls_wait(c, w, -1, "send");
    }
#endif
    for (;;) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w >= 0)
            return (long)w;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == EPIPE || errno == ECONNRESET) {
            conn_dropped(c, "connection closed by server");
            return -1;
        }
        if (errno != EINTR) {
            snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
            return -1;
        }
    }
}

int cli_conn_send_argv(cli_conn *c, int argc, const char *const *argv, const size_t *arglen)
{
    resp_buf b = {0};
    if (resp_encode_command(&b, argc, argv, arglen) != 0) {
        resp_buf_free(&b);
        snprintf(c->err, sizeof(c->err), "cannot encode the command (too large)");
        return -1;
    }
    int rc = cli_conn_send(c, b.p, b.len);
    resp_buf_free(&b);
    return rc;
}

/* Compacts the buffer and makes room for CLI_READ_CHUNK more bytes. */
static int conn_make_room(cli_conn *c)
{
    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->need = c->need > c->off ? c->need - c->off : 0;
        c->off = 0;
    }
    if (c->cap - c->len >= CLI_READ_CHUNK)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : CLI_READ_CHUNK * 2;
    if (cap > CLI_REPLY_BUF_MAX) {
        snprintf(c->err, sizeof(c->err), "reply larger than %u bytes", CLI_REPLY_BUF_MAX);
        return -1;
    }
    char *p = realloc(c->buf, cap);
    if (p == NULL) {
        snprintf(c->err, sizeof(c->err), "out of memory");
        return -1;
    }
    c->buf = p;
    c->cap = cap;
    return 0;
}

long cli_conn_try_recv(cli_conn *c)
{
    if (conn_make_room(c) != 0)
        return -1;
    size_t room = c->cap - c->len;
#if RKV_HAVE_OPENSSL
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, c->buf + c->len, room > (1u << 30) ? (1 << 30) : (int)room);
        if (r > 0) {
            c->len += (size_t)r;
            return r;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        return tls_wait(c, r, -1, "read");
    }
#endif
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, room, 0);
        if (r > 0) {
            c->len += (size_t)r;
            return (long)r;
        }
        if (r == 0 || errno == ECONNRESET) {
            conn_dropped(c, "connection closed by server");
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR) {
            snprintf(c->err, sizeof(c->err), "recv: %s", strerror(errno));
            return -1;
        }
    }
}

cli_reply *cli_conn_take(cli_conn *c, int *bad)
{
    *bad = 0;
    size_t avail = c->len - c->off;
    if (avail == 0 || (c->need > 0 && avail < c->need))
        return NULL;
    cli_reply *r = NULL;
    size_t used = 0, need = 0;
    cli_parse_rc rc = cli_reply_parse(c->buf + c->off, avail, &r, &used, &need, c->err,
                                      sizeof(c->err));
    if (rc == CLI_PARSE_OK) {
        c->off += used;
        c->need = 0;
        return r;
    }
    if (rc == CLI_PARSE_MORE)
        c->need = need;
    else
        *bad = 1;
    return NULL;
}

cli_reply *cli_conn_read(cli_conn *c)
{
    long long deadline = conn_deadline(c);
    for (;;) {
        int bad;
        cli_reply *r = cli_conn_take(c, &bad);
        if (r != NULL)
            return r;
        if (bad)
            return NULL;
        /* Everything that is there already, before parsing again: a large
         * reply is then re-scanned once per pause of the sender, not once
         * per 64 KiB. */
        long n, got = 0;
        while ((n = cli_conn_try_recv(c)) > 0)
            got += n;
        if (n < 0) { /* closed right after the reply: the reply still counts */
            r = got > 0 ? cli_conn_take(c, &bad) : NULL;
            return r;
        }
        if (got > 0)
            continue;
#if RKV_HAVE_OPENSSL
        if (c->ssl && SSL_pending(c->ssl) > 0)
            continue;
#endif
        if (conn_poll(c, POLLIN, deadline) != 0)
            return NULL;
    }
}

cli_reply *cli_conn_command(cli_conn *c, int argc, const char *const *argv, const size_t *arglen)
{
    c->err[0] = '\0';
    c->dropped = 0;
    c->connect_failed = 0;
    if (c->fd < 0 && cli_conn_open(c) != 0)
        return NULL;
    cli_reply *r = NULL;
    if (cli_conn_send_argv(c, argc, argv, arglen) == 0)
        r = cli_conn_read(c);
    if (r == NULL)
        cli_conn_close(c); /* the stream position is unknown now: start afresh */
    return r;
}

cli_reply *cli_conn_command_retry(cli_conn *c, int argc, const char *const *argv,
                                  const size_t *arglen)
{
    int was_connected = c->fd >= 0;
    cli_reply *r = cli_conn_command(c, argc, argv, arglen);
    if (r == NULL && was_connected && c->dropped)
        r = cli_conn_command(c, argc, argv, arglen);
    return r;
}

cli_reply *cli_cmd(cli_conn *c, const char *arg0, ...)
{
    const char *argv[CLI_CMD_ARGS_MAX];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL && argc < CLI_CMD_ARGS_MAX; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    return cli_conn_command_retry(c, argc, argv, NULL);
}
