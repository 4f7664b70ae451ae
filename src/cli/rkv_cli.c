/* rkv_cli.c -- rkv-cli, the command-line client: one command, or a prompt.
 *
 *   rkv-cli [-h host] [-p port] [-t seconds] [-a password | --pass password]
 *           [--user name] [--no-auth-warning] [--raw] [CMD args...]
 *   rkv-cli cluster check
 *
 * With a password (-a, --pass, or the REDISCLI_AUTH environment variable
 * as redis-cli reads it), every connection, a reconnect included, starts
 * with AUTH [user] password; a refused AUTH prints "AUTH failed: ..." on
 * stderr and the command runs anyway (and gets -NOAUTH), as in redis-cli.
 *
 * Replies print the way redis-cli prints them on a terminal ("OK",
 * "(integer) 5", "\"value\"" with escapes, "(nil)", "(error) ERR ...",
 * numbered and indented arrays), so documentation and muscle memory carry
 * over; --raw prints bulk strings as they are, as redis-cli --raw does. The
 * format does not change with isatty(stdout): scripts get the same output a
 * person sees. INFO-like commands always print raw, as in redis-cli.
 *
 * The socket is nonblocking underneath and every connect, send and read
 * waits in poll() against the -t deadline, so rkv-cli never hangs on a dead
 * or unreachable server. The interactive prompt has a small line editor
 * (termios raw mode: arrows, history, Ctrl-A/E/U/K) instead of readline, so
 * the only dependency is libc; when stdin is not a terminal it reads plain
 * lines. Arguments split like redis-cli: whitespace, "double quotes" with
 * \n \r \t \xHH escapes, 'single quotes'.
 *
 * --tls --cacert F [--cert F --key F] speaks TLS (redis-cli's flags): the
 * server's certificate must chain to the CA in F (the name is not checked:
 * rkv's certificates are issued per cluster, docs/SECURITY.md); the client
 * certificate is sent when the server asks for one (--tls-auth-clients).
 *
 * Exit status: 0 for a non-error reply, 1 for an error reply or a failed
 * connection (message on stderr), 2 for a bad command line. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h" /* RKV_HAVE_OPENSSL */
#include "net/net.h"
#include "net/resp.h"

#if RKV_HAVE_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define CLI_DEFAULT_HOST "127.0.0.1"
#define CLI_DEFAULT_PORT 7379
#define CLI_DEFAULT_TIMEOUT_S 10.0
#define CLI_HOST_MAX 256                    /* host name length */
#define CLI_LINE_MAX (64 * 1024)            /* one interactive input line */
#define CLI_ARGS_MAX (CLI_LINE_MAX / 2)     /* arguments on one line */
#define CLI_HISTORY_MAX 1000                /* remembered input lines */
#define CLI_REPLY_MAX (640u * 1024u * 1024u) /* buffered reply: 512 MiB bulk + slack */
#define CLI_READ_CHUNK (64u * 1024u)        /* least free space offered to one recv() */
#define CLI_ERR_MAX 512

typedef struct cli_conn {
    char host[CLI_HOST_MAX];
    int port;
    int timeout_ms; /* 0: wait forever */
    int fd;         /* -1 when not connected */
    const char *user, *pass; /* AUTH [user] pass after connecting (pass NULL: none) */
    char *buf;      /* unparsed input is buf[off, len) */
    size_t off, len, cap;
    char err[CLI_ERR_MAX];
    /* --tls */
    int tls;
    const char *cacert, *cert, *key;
#if RKV_HAVE_OPENSSL
    SSL_CTX *ctx;
    SSL *ssl; /* NULL when not connected or plain */
#endif
} cli_conn;

typedef struct cli_opts {
    int raw; /* --raw: bulk strings printed as they are */
    int pass_on_cmdline, no_auth_warning;
    int argc_cmd;
    char **argv_cmd;
} cli_opts;

/* ---- connection ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for EVENTS until DEADLINE (-1: none); 0 ready, -1 timeout/error. */
static int conn_poll(cli_conn *c, short events, long long deadline)
{
    for (;;) {
        int wait_ms = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
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

static long long conn_deadline(const cli_conn *c)
{
    return c->timeout_ms > 0 ? now_ms() + c->timeout_ms : -1;
}

static void conn_close(cli_conn *c)
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
    c->off = c->len = 0;
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
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(c->err, sizeof(c->err), "connection closed by server");
        return -1;
    }
    tls_reason(c, what);
    return -1;
}

static int tls_open(cli_conn *c)
{
    if (!c->ctx) {
        c->ctx = SSL_CTX_new(TLS_client_method());
        if (!c->ctx) {
            tls_reason(c, "setup");
            return -1;
        }
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
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
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        tls_reason(c, "setup");
        return -1;
    }
    SSL_set_tlsext_host_name(c->ssl, c->host);
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

static resp_value *conn_command(cli_conn *c, int argc, const char *const *argv,
                                const size_t *arglen);

/* AUTH on a fresh connection: -1 only if the connection failed. */
static int conn_auth(cli_conn *c)
{
    const char *argv[3] = {"AUTH", c->user ? c->user : c->pass, c->pass};
    resp_value *v = conn_command(c, c->user ? 3 : 2, argv, NULL);
    if (v == NULL)
        return -1;
    if (v->type == RESP_T_ERROR)
        fprintf(stderr, "AUTH failed: %s\n", v->str);
    resp_value_free(v);
    return 0;
}

/* A nonblocking connect bounded by the timeout: a blocking connect to an
 * unreachable host would wait for the kernel's SYN retries (minutes). */
static int conn_open(cli_conn *c)
{
    char nerr[CLI_ERR_MAX];
    conn_close(c);
    c->fd = net_connect(c->host, c->port, 1, NULL, nerr, sizeof(nerr));
    if (c->fd < 0) {
        snprintf(c->err, sizeof(c->err), "%s", nerr);
        return -1;
    }
    if (conn_poll(c, POLLOUT, conn_deadline(c)) != 0) {
        conn_close(c); /* c->err says why */
        return -1;
    }
    if (net_connect_finished(c->fd, nerr, sizeof(nerr)) != 0) {
        snprintf(c->err, sizeof(c->err), "%s", nerr);
        conn_close(c);
        return -1;
    }
#if RKV_HAVE_OPENSSL
    if (c->tls && tls_open(c) != 0) {
        conn_close(c);
        return -1;
    }
#endif
    if (c->pass != NULL && conn_auth(c) != 0)
        return -1; /* conn_command closed it; c->err says why */
    return 0;
}

static int conn_send(cli_conn *c, const char *p, size_t len)
{
    long long deadline = conn_deadline(c);
#if RKV_HAVE_OPENSSL
    while (c->ssl && len > 0) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, p, len > (1u << 30) ? (1 << 30) : (int)len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        } else if (tls_wait(c, w, deadline, "send") != 0) {
            return -1;
        }
    }
#endif
    while (len > 0) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            if (conn_poll(c, POLLOUT, deadline) != 0)
                return -1;
        } else if (w < 0 && errno != EINTR) {
            snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Compacts the buffer and makes room for CLI_READ_CHUNK more bytes. */
static int conn_make_room(cli_conn *c)
{
    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->cap - c->len >= CLI_READ_CHUNK)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : CLI_READ_CHUNK * 2;
    if (cap > CLI_REPLY_MAX) {
        snprintf(c->err, sizeof(c->err), "reply larger than %u bytes", CLI_REPLY_MAX);
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

/* Reads one reply; NULL with c->err on EOF, timeout or protocol error. */
static resp_value *conn_read(cli_conn *c)
{
    long long deadline = conn_deadline(c);
    for (;;) {
        resp_value *v = NULL;
        size_t used = 0;
        resp_status st = resp_parse_reply(c->buf + c->off, c->len - c->off, &v, &used, c->err,
                                          sizeof(c->err));
        if (st == RESP_OK) {
            c->off += used;
            return v;
        }
        if (st == RESP_ERROR || conn_make_room(c) != 0)
            return NULL;
#if RKV_HAVE_OPENSSL
        if (c->ssl) { /* SSL_read first: it may hold decrypted bytes already */
            size_t room = c->cap - c->len;
            ERR_clear_error();
            int r = SSL_read(c->ssl, c->buf + c->len, room > (1u << 30) ? (1 << 30) : (int)room);
            if (r > 0)
                c->len += (size_t)r;
            else if (tls_wait(c, r, deadline, "read") != 0)
                return NULL;
            continue;
        }
#endif
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
        } else if (r == 0) {
            snprintf(c->err, sizeof(c->err), "connection closed by server");
            return NULL;
        } else if (errno == EAGAIN) {
            if (conn_poll(c, POLLIN, deadline) != 0)
                return NULL;
        } else if (errno != EINTR) {
            snprintf(c->err, sizeof(c->err), "recv: %s", strerror(errno));
            return NULL;
        }
    }
}

/* Sends one command and reads its reply (connecting first if needed). */
static resp_value *conn_command(cli_conn *c, int argc, const char *const *argv,
                                const size_t *arglen)
{
    c->err[0] = '\0';
    if (c->fd < 0 && conn_open(c) != 0)
        return NULL;
    resp_buf b = {0};
    if (resp_encode_command(&b, argc, argv, arglen) != 0) {
        resp_buf_free(&b);
        snprintf(c->err, sizeof(c->err), "cannot encode the command (too large)");
        return NULL;
    }
    int rc = conn_send(c, b.p, b.len);
    resp_buf_free(&b);
    resp_value *v = rc == 0 ? conn_read(c) : NULL;
    if (v == NULL)
        conn_close(c); /* the stream position is unknown now: start afresh */
    return v;
}

/* ---- printing ---- */

/* A bulk string quoted and escaped as redis-cli's sdscatrepr does. */
static void print_repr(FILE *o, const char *s, size_t n)
{
    fputc('"', o);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\\': fputs("\\\\", o); break;
        case '"': fputs("\\\"", o); break;
        case '\n': fputs("\\n", o); break;
        case '\r': fputs("\\r", o); break;
        case '\t': fputs("\\t", o); break;
        case '\a': fputs("\\a", o); break;
        case '\b': fputs("\\b", o); break;
        default:
            if (isprint(ch))
                fputc(ch, o);
            else
                fprintf(o, "\\x%02x", ch);
        }
    }
    fputc('"', o);
}

static void print_human(FILE *o, const resp_value *v, const char *prefix, int raw_bulk);

/* "1) ..." with the index right-aligned to the widest index, and nested
 * arrays indented under their parent's index (redis-cli's TTY format). */
static void print_array(FILE *o, const resp_value *v, const char *prefix, int raw_bulk)
{
    if (v->nelem == 0) {
        fputs("(empty array)\n", o);
        return;
    }
    int idxlen = snprintf(NULL, 0, "%zu", v->nelem);
    char sub[256]; /* depth <= RESP_MAX_DEPTH levels of at most 10+2 spaces */
    snprintf(sub, sizeof(sub), "%s%*s", prefix, idxlen + 2, "");
    for (size_t i = 0; i < v->nelem; i++) {
        fprintf(o, "%s%*zu) ", i == 0 ? "" : prefix, idxlen, i + 1);
        print_human(o, v->elem[i], sub, raw_bulk);
    }
}

static void print_human(FILE *o, const resp_value *v, const char *prefix, int raw_bulk)
{
    switch (v->type) {
    case RESP_T_STATUS:
        fwrite(v->str, 1, v->len, o);
        fputc('\n', o);
        break;
    case RESP_T_ERROR:
        fputs("(error) ", o);
        fwrite(v->str, 1, v->len, o);
        fputc('\n', o);
        break;
    case RESP_T_INT:
        fprintf(o, "(integer) %lld\n", v->integer);
        break;
    case RESP_T_NIL:
        fputs("(nil)\n", o);
        break;
    case RESP_T_BULK:
        if (raw_bulk)
            fwrite(v->str, 1, v->len, o);
        else
            print_repr(o, v->str, v->len);
        fputc('\n', o);
        break;
    case RESP_T_ARRAY:
        print_array(o, v, prefix, raw_bulk);
        break;
    }
}

/* redis-cli --raw: strings as they are, array elements one per line. */
static void print_raw(FILE *o, const resp_value *v)
{
    switch (v->type) {
    case RESP_T_STATUS:
    case RESP_T_ERROR:
    case RESP_T_BULK:
        fwrite(v->str, 1, v->len, o);
        break;
    case RESP_T_INT:
        fprintf(o, "%lld", v->integer);
        break;
    case RESP_T_NIL:
        break;
    case RESP_T_ARRAY:
        for (size_t i = 0; i < v->nelem; i++) {
            if (i > 0)
                fputc('\n', o);
            print_raw(o, v->elem[i]);
        }
        break;
    }
}

/* Commands whose bulk reply is text meant to be read as is (redis-cli
 * prints these raw even on a terminal). */
static int wants_raw_output(int argc, const char *const *argv)
{
    if (argc < 1)
        return 0;
    if (strcasecmp(argv[0], "info") == 0 || strcasecmp(argv[0], "lolwut") == 0)
        return 1;
    if (argc < 2)
        return 0;
    if (strcasecmp(argv[0], "client") == 0)
        return strcasecmp(argv[1], "list") == 0 || strcasecmp(argv[1], "info") == 0;
    if (strcasecmp(argv[0], "cluster") == 0)
        return strcasecmp(argv[1], "nodes") == 0 || strcasecmp(argv[1], "info") == 0;
    if (strcasecmp(argv[0], "memory") == 0)
        return strcasecmp(argv[1], "doctor") == 0 || strcasecmp(argv[1], "malloc-stats") == 0;
    return 0;
}

static void print_reply(const resp_value *v, int raw, int argc, const char *const *argv)
{
    if (raw) {
        print_raw(stdout, v);
        fputc('\n', stdout);
    } else {
        print_human(stdout, v, "", wants_raw_output(argc, argv));
    }
    fflush(stdout);
}

/* ---- commands ---- */

/* Runs one command and prints its reply. Returns 0 for a normal reply, 1
 * for an error reply or a failed connection. */
static int run_command(cli_conn *c, const cli_opts *o, int argc, const char *const *argv,
                       const size_t *arglen)
{
    resp_value *v = conn_command(c, argc, argv, arglen);
    if (v == NULL) {
        fprintf(stderr, "Could not talk to rkv at %s:%d: %s\n", c->host, c->port, c->err);
        return 1;
    }
    print_reply(v, o->raw, argc, argv);
    int rc = v->type == RESP_T_ERROR ? 1 : 0;
    resp_value_free(v);
    return rc;
}

/* `rkv-cli cluster check`: INFO replication, then "N/M followers responded"
 * where N is connected_followers and M the number of followerK: lines. */
static int cluster_check(cli_conn *c)
{
    const char *const argv[] = {"INFO", "replication"};
    resp_value *v = conn_command(c, 2, argv, NULL);
    if (v == NULL) {
        fprintf(stderr, "Could not talk to rkv at %s:%d: %s\n", c->host, c->port, c->err);
        return 1;
    }
    if (v->type != RESP_T_BULK) {
        fprintf(stderr, "INFO replication: unexpected reply%s%s\n",
                v->type == RESP_T_ERROR ? ": " : "", v->type == RESP_T_ERROR ? v->str : "");
        resp_value_free(v);
        return 1;
    }
    long connected = -1, listed = 0;
    for (char *line = v->str; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, "connected_followers:", 20) == 0) {
            connected = strtol(line + 20, NULL, 10);
        } else if (strncmp(line, "follower", 8) == 0 && isdigit((unsigned char)line[8])) {
            const char *p = line + 8;
            while (isdigit((unsigned char)*p))
                p++;
            listed += *p == ':';
        }
        line = nl ? nl + 1 : NULL;
    }
    resp_value_free(v);
    if (connected < 0) {
        fprintf(stderr, "INFO replication has no connected_followers line\n");
        return 1;
    }
    printf("%ld/%ld followers responded\n", connected, listed);
    return connected == listed && listed > 0 ? 0 : 1;
}

/* ---- argument splitting (redis-cli / sdssplitargs rules) ---- */

typedef struct cli_args {
    int argc;
    char *arena; /* every token, back to back: never longer than the line */
    char *argv[CLI_ARGS_MAX];
    size_t len[CLI_ARGS_MAX];
} cli_args;

static void args_free(cli_args *a)
{
    free(a->arena);
    a->arena = NULL;
    a->argc = 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads one possibly quoted token at *pp into OUT (room for strlen(*pp)).
 * Returns its length, or -1 on unbalanced quotes or a closing quote that is
 * not followed by a space. */
static long split_token(const char **pp, char *out)
{
    const char *p = *pp;
    long n = 0;
    int dq = 0, sq = 0;
    for (;;) {
        if (dq) {
            if (p[0] == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                out[n++] = (char)(hexval(p[2]) * 16 + hexval(p[3]));
                p += 3;
            } else if (p[0] == '\\' && p[1] != '\0') {
                p++;
                char e = *p;
                out[n++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e == 'b' ? '\b'
                           : e == 'a' ? '\a' : e;
            } else if (p[0] == '"') {
                if (p[1] != '\0' && !isspace((unsigned char)p[1]))
                    return -1;
                p++;
                break;
            } else if (p[0] == '\0') {
                return -1;
            } else {
                out[n++] = *p;
            }
        } else if (sq) {
            if (p[0] == '\\' && p[1] == '\'') {
                out[n++] = '\'';
                p++;
            } else if (p[0] == '\'') {
                if (p[1] != '\0' && !isspace((unsigned char)p[1]))
                    return -1;
                p++;
                break;
            } else if (p[0] == '\0') {
                return -1;
            } else {
                out[n++] = *p;
            }
        } else if (*p == '\0' || isspace((unsigned char)*p)) {
            break;
        } else if (*p == '"') {
            dq = 1;
        } else if (*p == '\'') {
            sq = 1;
        } else {
            out[n++] = *p;
        }
        p++;
    }
    *pp = p;
    return n;
}

/* Splits LINE into A. Returns 0, or -1 with A empty on a quoting error. */
static int split_args(const char *line, cli_args *a)
{
    a->argc = 0;
    a->arena = malloc(strlen(line) + 1);
    if (a->arena == NULL)
        return -1;
    char *out = a->arena;
    const char *p = line;
    for (;;) {
        while (*p != '\0' && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return 0;
        long n = a->argc < CLI_ARGS_MAX ? split_token(&p, out) : -1;
        if (n < 0)
            break;
        a->argv[a->argc] = out;
        a->len[a->argc++] = (size_t)n;
        out += n;
    }
    args_free(a);
    return -1;
}

/* ---- line input: a small editor on a terminal, plain lines otherwise ---- */

typedef struct history {
    char *line[CLI_HISTORY_MAX];
    int n;
} history;

static struct termios saved_tio;
static int raw_mode_on;

static void raw_mode_off(void)
{
    if (raw_mode_on) {
        tcsetattr(0, TCSAFLUSH, &saved_tio);
        raw_mode_on = 0;
    }
}

/* Raw input (no echo, byte at a time, Ctrl-C read as a key); output
 * processing stays on so "\n" still moves to the next line. */
static int raw_mode_enable(void)
{
    if (tcgetattr(0, &saved_tio) != 0)
        return -1;
    struct termios t = saved_tio;
    t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    t.c_cflag |= CS8;
    t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSAFLUSH, &t) != 0)
        return -1;
    raw_mode_on = 1;
    return 0;
}

static void history_add(history *h, const char *line)
{
    if (line[0] == '\0' || (h->n > 0 && strcmp(h->line[h->n - 1], line) == 0))
        return;
    char *copy = strdup(line);
    if (copy == NULL)
        return;
    if (h->n == CLI_HISTORY_MAX) {
        free(h->line[0]);
        memmove(h->line, h->line + 1, sizeof(h->line[0]) * (CLI_HISTORY_MAX - 1));
        h->n--;
    }
    h->line[h->n++] = copy;
}

static void history_free(history *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->line[i]);
    h->n = 0;
}

typedef struct editor {
    char buf[CLI_LINE_MAX];
    size_t len, pos;
    const char *prompt;
    int hist_idx; /* == history n while editing a new line */
} editor;

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Redraws the line, scrolling horizontally when it is wider than the
 * terminal (as linenoise's single-line mode does). */
static void editor_refresh(const editor *e)
{
    struct winsize ws;
    size_t cols = ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    size_t plen = strlen(e->prompt);
    const char *b = e->buf;
    size_t len = e->len, pos = e->pos;
    while (plen + pos >= cols && pos > 0) {
        b++;
        len--;
        pos--;
    }
    while (plen + len > cols && len > 0)
        len--;
    char seq[64];
    write_all("\r", 1);
    write_all(e->prompt, plen);
    write_all(b, len);
    int n = snprintf(seq, sizeof(seq), "\x1b[0K\r\x1b[%zuC", plen + pos);
    write_all(seq, (size_t)n);
}

static void editor_set(editor *e, const char *s)
{
    size_t n = strlen(s);
    if (n >= sizeof(e->buf))
        n = sizeof(e->buf) - 1;
    memcpy(e->buf, s, n);
    e->len = e->pos = n;
}

static void editor_history(editor *e, const history *h, int dir)
{
    int idx = e->hist_idx + dir;
    if (idx < 0 || idx > h->n)
        return;
    e->hist_idx = idx;
    editor_set(e, idx == h->n ? "" : h->line[idx]);
}

/* Handles ESC [ x sequences: arrows, Home/End, Delete. */
static void editor_escape(editor *e, const history *h)
{
    char s[3];
    if (read(0, s, 1) != 1 || read(0, s + 1, 1) != 1)
        return;
    if (s[0] != '[' && s[0] != 'O')
        return;
    if (s[1] >= '0' && s[1] <= '9') {
        if (read(0, s + 2, 1) == 1 && s[2] == '~' && s[1] == '3' && e->pos < e->len) {
            memmove(e->buf + e->pos, e->buf + e->pos + 1, e->len - e->pos - 1);
            e->len--;
        }
        return;
    }
    switch (s[1]) {
    case 'A': editor_history(e, h, -1); break;
    case 'B': editor_history(e, h, +1); break;
    case 'C': if (e->pos < e->len) e->pos++; break;
    case 'D': if (e->pos > 0) e->pos--; break;
    case 'H': e->pos = 0; break;
    case 'F': e->pos = e->len; break;
    default: break;
    }
}

static void editor_insert(editor *e, char ch)
{
    if (e->len + 1 >= sizeof(e->buf))
        return;
    memmove(e->buf + e->pos + 1, e->buf + e->pos, e->len - e->pos);
    e->buf[e->pos++] = ch;
    e->len++;
}

/* One key. Returns 1 when the line is complete, -1 on EOF/Ctrl-C, else 0. */
static int editor_key(editor *e, const history *h, char ch)
{
    switch (ch) {
    case '\r': case '\n': return 1;
    case 3: return -1; /* Ctrl-C leaves the prompt, as in redis-cli */
    case 4: /* Ctrl-D: EOF on an empty line, else delete under the cursor */
        if (e->len == 0)
            return -1;
        if (e->pos < e->len) {
            memmove(e->buf + e->pos, e->buf + e->pos + 1, e->len - e->pos - 1);
            e->len--;
        }
        break;
    case 127: case 8: /* Backspace */
        if (e->pos > 0) {
            memmove(e->buf + e->pos - 1, e->buf + e->pos, e->len - e->pos);
            e->pos--;
            e->len--;
        }
        break;
    case 1: e->pos = 0; break;                         /* Ctrl-A */
    case 5: e->pos = e->len; break;                    /* Ctrl-E */
    case 2: if (e->pos > 0) e->pos--; break;           /* Ctrl-B */
    case 6: if (e->pos < e->len) e->pos++; break;      /* Ctrl-F */
    case 16: editor_history(e, h, -1); break;          /* Ctrl-P */
    case 14: editor_history(e, h, +1); break;          /* Ctrl-N */
    case 21: e->len = e->pos = 0; break;               /* Ctrl-U */
    case 11: e->len = e->pos; break;                   /* Ctrl-K */
    case 12: write_all("\x1b[H\x1b[2J", 7); break;     /* Ctrl-L */
    case 27: editor_escape(e, h); break;
    default:
        if ((unsigned char)ch >= 32)
            editor_insert(e, ch);
        break;
    }
    return 0;
}

/* Reads a line with editing on a terminal. Returns 0, or -1 on EOF. */
static int edit_line(editor *e, const history *h)
{
    e->len = e->pos = 0;
    e->hist_idx = h->n;
    if (raw_mode_enable() != 0)
        return -1;
    editor_refresh(e);
    int rc;
    for (;;) {
        char ch;
        ssize_t r = read(0, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = -1;
            break;
        }
        rc = editor_key(e, h, ch);
        if (rc != 0)
            break;
        editor_refresh(e);
    }
    raw_mode_off();
    write_all("\n", 1);
    e->buf[e->len] = '\0';
    return rc > 0 ? 0 : -1;
}

/* Reads a plain line from a pipe or file. Returns 0, -1 on EOF, or 1 when
 * the line was longer than CLI_LINE_MAX (it is skipped). */
static int plain_line(editor *e)
{
    if (fgets(e->buf, sizeof(e->buf), stdin) == NULL)
        return -1;
    size_t n = strlen(e->buf);
    if (n > 0 && e->buf[n - 1] == '\n') {
        e->buf[--n] = '\0';
    } else if (!feof(stdin)) {
        int ch;
        while ((ch = getchar()) != EOF && ch != '\n') {
        }
        return 1;
    }
    if (n > 0 && e->buf[n - 1] == '\r')
        e->buf[--n] = '\0';
    e->len = n;
    return 0;
}

/* ---- interactive loop ---- */

static void run_line(cli_conn *c, const cli_opts *o, const char *line)
{
    cli_args *a = malloc(sizeof(*a));
    if (a == NULL) {
        fprintf(stderr, "out of memory\n");
        return;
    }
    if (split_args(line, a) != 0) {
        printf("Invalid argument(s)\n");
    } else if (a->argc > 0) {
        if (a->argc == 2 && strcasecmp(a->argv[0], "cluster") == 0 &&
            strcasecmp(a->argv[1], "check") == 0)
            (void)cluster_check(c);
        else
            (void)run_command(c, o, a->argc, (const char *const *)a->argv, a->len);
    }
    fflush(stdout);
    args_free(a);
    free(a);
}

static int repl(cli_conn *c, const cli_opts *o)
{
    int tty = isatty(0);
    history h = {{0}, 0};
    editor *e = malloc(sizeof(*e));
    if (e == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    char prompt[CLI_HOST_MAX + 32];
    if (tty && conn_open(c) != 0)
        fprintf(stderr, "Could not connect to rkv at %s:%d: %s\n", c->host, c->port, c->err);
    for (;;) {
        if (c->fd >= 0 || !tty)
            snprintf(prompt, sizeof(prompt), "%s:%d> ", c->host, c->port);
        else
            snprintf(prompt, sizeof(prompt), "not connected> ");
        e->prompt = prompt;
        int r = tty ? edit_line(e, &h) : plain_line(e);
        if (r < 0)
            break;
        if (r > 0) {
            fprintf(stderr, "line longer than %d bytes skipped\n", CLI_LINE_MAX);
            continue;
        }
        const char *line = e->buf;
        while (isspace((unsigned char)*line))
            line++;
        if (*line == '\0')
            continue;
        if (tty)
            history_add(&h, e->buf);
        if (strcasecmp(line, "quit") == 0 || strcasecmp(line, "exit") == 0)
            break;
        run_line(c, o, line);
    }
    history_free(&h);
    free(e);
    return 0;
}

/* ---- main ---- */

static void usage(FILE *o)
{
    fprintf(o,
            "Usage: rkv-cli [-h host] [-p port] [-t seconds] [-a password] [--user name]\n"
            "               [--raw] [CMD [arg ...]]\n"
            "       rkv-cli [-h host] [-p port] cluster check\n"
            "  -h host     server address (default %s)\n"
            "  -p port     server port (default %d)\n"
            "  -t seconds  connect and reply timeout (default %.0f; 0 waits forever)\n"
            "  -a password AUTH with this password after connecting (also --pass; the\n"
            "              REDISCLI_AUTH environment variable is safer: not in ps)\n"
            "  --user name AUTH as this user (with -a / --pass)\n"
            "  --no-auth-warning  no warning about a password on the command line\n"
            "  --raw       print bulk strings as they are (like redis-cli --raw)\n"
            "  --tls       connect with TLS (--tls-port); --cacert F: the CA that signed\n"
            "              the server's certificate; --cert F --key F: a client\n"
            "              certificate, when the server requires one\n"
            "  --help      this text\n"
            "Without a command, rkv-cli reads commands at a prompt (arrow keys and\n"
            "history on a terminal). `cluster check` asks INFO replication and prints\n"
            "\"N/M followers responded\"; it exits 0 only if every listed follower is\n"
            "connected. Exit status: 0 ok, 1 error reply or connection failure, 2 usage.\n",
            CLI_DEFAULT_HOST, CLI_DEFAULT_PORT, CLI_DEFAULT_TIMEOUT_S);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Options stop at the first word that is not one: the command. */
static int parse_opts(int argc, char **argv, cli_conn *c, cli_opts *o)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        long v;
        char *end;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--raw") == 0) {
            o->raw = 1;
        } else if (strcmp(a, "--tls") == 0) {
            c->tls = 1;
        } else if (strcmp(a, "--cacert") == 0 && has_val) {
            c->cacert = argv[++i];
        } else if (strcmp(a, "--cert") == 0 && has_val) {
            c->cert = argv[++i];
        } else if (strcmp(a, "--key") == 0 && has_val) {
            c->key = argv[++i];
        } else if ((strcmp(a, "-a") == 0 || strcmp(a, "--pass") == 0) && has_val) {
            c->pass = argv[++i];
            o->pass_on_cmdline = 1;
        } else if (strcmp(a, "--user") == 0 && has_val) {
            c->user = argv[++i];
        } else if (strcmp(a, "--no-auth-warning") == 0) {
            o->no_auth_warning = 1;
        } else if (strcmp(a, "-h") == 0 && has_val) {
            if (strlen(argv[++i]) >= sizeof(c->host))
                return -1;
            snprintf(c->host, sizeof(c->host), "%s", argv[i]);
        } else if (strcmp(a, "-p") == 0 && has_val) {
            if (parse_int(argv[++i], 1, 65535, &v) != 0)
                return -1;
            c->port = (int)v;
        } else if (strcmp(a, "-t") == 0 && has_val) {
            errno = 0;
            double t = strtod(argv[++i], &end);
            if (errno != 0 || end == argv[i] || *end != '\0' || t < 0 || t > 86400.0)
                return -1;
            c->timeout_ms = t > 0 && t < 0.001 ? 1 : (int)(t * 1000.0);
        } else if (a[0] == '-' && a[1] != '\0') {
            return -1;
        } else {
            break;
        }
    }
    o->argc_cmd = argc - i;
    o->argv_cmd = argv + i;
    return 0;
}

int main(int argc, char **argv)
{
    cli_conn c;
    memset(&c, 0, sizeof(c));
    snprintf(c.host, sizeof(c.host), "%s", CLI_DEFAULT_HOST);
    c.port = CLI_DEFAULT_PORT;
    c.timeout_ms = (int)(CLI_DEFAULT_TIMEOUT_S * 1000);
    c.fd = -1;
    cli_opts o = {0, 0, 0, 0, NULL};
    if (parse_opts(argc, argv, &c, &o) != 0) {
        usage(stderr);
        return 2;
    }
#if !RKV_HAVE_OPENSSL
    if (c.tls) {
        fprintf(stderr, "rkv-cli: --tls needs OpenSSL, and this rkv-cli was built without it\n");
        return 2;
    }
#endif
    if (c.pass == NULL) {
        const char *env = getenv("REDISCLI_AUTH");
        if (env != NULL && env[0] != '\0')
            c.pass = env;
    }
    if (o.pass_on_cmdline && !o.no_auth_warning)
        fprintf(stderr, "Warning: Using a password with '-a' or '--pass' on the command line "
                        "may not be safe (others see it in ps); REDISCLI_AUTH is safer.\n");
    signal(SIGPIPE, SIG_IGN);
    atexit(raw_mode_off);
    int rc;
    if (o.argc_cmd == 0) {
        rc = repl(&c, &o);
    } else if (o.argc_cmd == 2 && strcasecmp(o.argv_cmd[0], "cluster") == 0 &&
               strcasecmp(o.argv_cmd[1], "check") == 0) {
        rc = cluster_check(&c);
    } else {
        rc = run_command(&c, &o, o.argc_cmd, (const char *const *)o.argv_cmd, NULL);
    }
    conn_close(&c);
#if RKV_HAVE_OPENSSL
    SSL_CTX_free(c.ctx);
#endif
    free(c.buf);
    return rc;
}
