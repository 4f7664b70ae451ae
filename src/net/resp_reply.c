/* resp_reply.c -- the reply half of RESP2: parse, skip and encode (client side).
 *
 * One scanner, scan_reply(), walks a reply without allocating anything. It is
 * iterative (an explicit stack of "elements still expected" per open array,
 * RESP_MAX_DEPTH deep), so hostile nesting cannot grow the C stack, and it
 * checks every length and count against a named maximum before trusting it.
 * resp_skip_reply() is that scanner alone: rkv-bench calls it for every
 * reply, so it does one memchr per line and never copies.
 * resp_parse_reply() first runs the scanner and builds the tree only once the
 * whole reply is present. That ordering is what makes it safe: "need more
 * bytes" never leaves a half-built tree behind, a protocol error is found
 * before any allocation, and no allocation is larger than the bytes actually
 * received (a "$500000000" header alone allocates nothing).
 * Re-scanning from the start after each read is O(reply) per read; clients
 * of this parser (rkv-cli, tests) read small replies, and the bench only
 * skips.
 *
 * resp_encode_command() writes "*N\r\n" + N x "$len\r\n<bytes>\r\n" into a
 * growable buffer after one reservation of the exact size. */
#include "net/resp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest status, error or integer line we accept ("+OK", "-ERR ...").
 * Redis's error messages are far shorter; a peer sending a longer line
 * without CRLF is not speaking RESP. */
#define RESP_REPLY_MAX_LINE (64u * 1024u)
/* Longest bulk string in a reply: Redis's default proto-max-bulk-len. The
 * server's own request limit may be lower, but a client must read whatever
 * value the server it talks to is configured to store. */
#define RESP_REPLY_MAX_BULK (512ull * 1024u * 1024u)
/* "-9223372036854775808" is 20 characters; a longer number line is an error. */
#define RESP_NUM_MAX_CHARS 20u
/* Largest buffer resp_buf grows to (one encoded command). */
#define RESP_BUF_MAX ((size_t)1 << 32)

/* ---- scanning ---- */

typedef struct scan_ctx {
    const char *buf;
    size_t len;
    char *err;
    size_t errlen;
} scan_ctx;

static resp_status scan_fail(const scan_ctx *s, size_t off, const char *what)
{
    if (s->err != NULL && s->errlen > 0)
        snprintf(s->err, s->errlen, "Protocol error: %s at offset %zu", what, off);
    return RESP_ERROR;
}

/* Finds the CRLF ending the line whose content starts at POS. On RESP_OK,
 * *eol is the offset of '\r'. A line longer than MAXLEN is an error even
 * before its end arrives, so a peer cannot make us wait forever. */
static resp_status find_eol(const scan_ctx *s, size_t pos, size_t maxlen, size_t *eol)
{
    size_t avail = s->len - pos;
    size_t look = avail < maxlen + 1 ? avail : maxlen + 1;
    const char *cr = memchr(s->buf + pos, '\r', look);
    if (cr == NULL)
        return avail > maxlen ? scan_fail(s, pos, "line too long or missing CRLF")
                              : RESP_NEED_MORE;
    size_t at = (size_t)(cr - s->buf);
    if (at + 1 >= s->len)
        return RESP_NEED_MORE;
    if (s->buf[at + 1] != '\n')
        return scan_fail(s, at + 1, "expected \\n after \\r");
    *eol = at;
    return RESP_OK;
}

/* Parses the signed decimal P[0, n). Strict: an optional '-', then
 * 1..19 digits, no spaces, no '+', no overflow. */
static int parse_ll(const char *p, size_t n, long long *out)
{
    int neg = 0;
    if (n > 0 && p[0] == '-') {
        neg = 1;
        p++;
        n--;
    }
    if (n == 0 || n > 19)
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0'); /* 19 digits cannot overflow 64 bits */
    }
    if (!neg && v > (unsigned long long)LLONG_MAX)
        return -1;
    if (neg && v > (unsigned long long)LLONG_MAX + 1ull)
        return -1;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* Reads the number line after a type byte at POS; *next is past its CRLF. */
static resp_status scan_number(const scan_ctx *s, size_t pos, long long *v, size_t *next)
{
    size_t eol = 0;
    resp_status st = find_eol(s, pos + 1, RESP_NUM_MAX_CHARS, &eol);
    if (st != RESP_OK)
        return st;
    if (parse_ll(s->buf + pos + 1, eol - pos - 1, v) != 0)
        return scan_fail(s, pos + 1, "invalid number");
    *next = eol + 2;
    return RESP_OK;
}

static resp_status scan_bulk(const scan_ctx *s, size_t pos, size_t *next)
{
    long long n;
    size_t body;
    resp_status st = scan_number(s, pos, &n, &body);
    if (st != RESP_OK)
        return st;
    if (n == -1) {
        *next = body;
        return RESP_OK;
    }
    if (n < 0 || (unsigned long long)n > RESP_REPLY_MAX_BULK)
        return scan_fail(s, pos + 1, "bulk string length out of range");
    size_t need = body + (size_t)n + 2;
    if (need > s->len)
        return RESP_NEED_MORE;
    if (s->buf[need - 2] != '\r' || s->buf[need - 1] != '\n')
        return scan_fail(s, need - 2, "bulk string not terminated by CRLF");
    *next = need;
    return RESP_OK;
}

/* Scans one complete reply at the start of S->buf. Never allocates. */
static resp_status scan_reply(const scan_ctx *s, size_t *consumed)
{
    long long pending[RESP_MAX_DEPTH]; /* elements still expected per open array */
    int depth = 0;
    size_t pos = 0;
    for (;;) {
        if (pos >= s->len)
            return RESP_NEED_MORE;
        size_t next = 0, eol = 0;
        long long n;
        resp_status st;
        switch (s->buf[pos]) {
        case '+':
        case '-':
            st = find_eol(s, pos + 1, RESP_REPLY_MAX_LINE, &eol);
            if (st == RESP_OK)
                next = eol + 2;
            break;
        case ':':
            st = scan_number(s, pos, &n, &next);
            break;
        case '$':
            st = scan_bulk(s, pos, &next);
            break;
        case '*':
            st = scan_number(s, pos, &n, &next);
            if (st != RESP_OK)
                return st;
            if (n < -1 || (n > 0 && (unsigned long long)n > RESP_MAX_REPLY_ELEMS))
                return scan_fail(s, pos + 1, "array length out of range");
            if (n > 0) {
                if (depth == RESP_MAX_DEPTH)
                    return scan_fail(s, pos, "arrays nested too deeply");
                pending[depth++] = n;
                pos = next;
                continue; /* the array ends with its last element */
            }
            break;
        default:
            return scan_fail(s, pos, "invalid reply type byte");
        }
        if (st != RESP_OK)
            return st;
        pos = next;
        /* One element done: close every array it completes. */
        for (;;) {
            if (depth == 0) {
                *consumed = pos;
                return RESP_OK;
            }
            if (--pending[depth - 1] > 0)
                break;
            depth--;
        }
    }
}

resp_status resp_skip_reply(const char *buf, size_t len, size_t *consumed, int *type)
{
    scan_ctx s = {buf, len, NULL, 0};
    resp_status st = scan_reply(&s, consumed);
    if (st == RESP_OK && type != NULL)
        *type = (unsigned char)buf[0];
    return st;
}

/* ---- building (input already validated by scan_reply) ---- */

static resp_value *build_string(enum resp_type t, const char *p, size_t n)
{
    resp_value *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->type = t;
    v->str = malloc(n + 1);
    if (v->str == NULL) {
        free(v);
        return NULL;
    }
    memcpy(v->str, p, n);
    v->str[n] = '\0';
    v->len = n;
    return v;
}

static resp_value *build_simple(enum resp_type t, long long integer)
{
    resp_value *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->type = t;
    v->integer = integer;
    return v;
}

/* The number line after the type byte at POS (validated by the scanner);
 * *next is past its CRLF. */
static long long header_number(const char *buf, size_t len, size_t pos, size_t *next)
{
    const char *cr = memchr(buf + pos + 1, '\r', len - pos - 1);
    long long v = 0;
    (void)parse_ll(buf + pos + 1, (size_t)(cr - buf) - pos - 1, &v);
    *next = (size_t)(cr - buf) + 2;
    return v;
}

static resp_value *build(const char *buf, size_t len, size_t *pos);

static resp_value *build_array(const char *buf, size_t len, size_t *pos, long long n)
{
    resp_value *v = build_simple(RESP_T_ARRAY, 0);
    if (v == NULL || n == 0)
        return v;
    v->elem = calloc((size_t)n, sizeof(resp_value *));
    if (v->elem == NULL) {
        free(v);
        return NULL;
    }
    for (long long i = 0; i < n; i++) {
        v->elem[i] = build(buf, len, pos);
        if (v->elem[i] == NULL) {
            resp_value_free(v);
            return NULL;
        }
        v->nelem++;
    }
    return v;
}

/* Builds the reply at *pos. The scanner has validated BUF[0, len), and its
 * RESP_MAX_DEPTH check bounds this recursion. Returns NULL only when out of
 * memory. */
static resp_value *build(const char *buf, size_t len, size_t *pos)
{
    size_t p = *pos, next;
    long long n;
    switch (buf[p]) {
    case '+':
    case '-': {
        const char *cr = memchr(buf + p + 1, '\r', len - p - 1);
        *pos = (size_t)(cr - buf) + 2;
        return build_string(buf[p] == '+' ? RESP_T_STATUS : RESP_T_ERROR, buf + p + 1,
                            (size_t)(cr - buf) - p - 1);
    }
    case ':':
        n = header_number(buf, len, p, pos);
        return build_simple(RESP_T_INT, n);
    case '$':
        n = header_number(buf, len, p, &next);
        if (n == -1) {
            *pos = next;
            return build_simple(RESP_T_NIL, 0);
        }
        *pos = next + (size_t)n + 2;
        return build_string(RESP_T_BULK, buf + next, (size_t)n);
    default: /* '*' */
        n = header_number(buf, len, p, pos);
        if (n == -1)
            return build_simple(RESP_T_NIL, 0);
        return build_array(buf, len, pos, n);
    }
}

resp_status resp_parse_reply(const char *buf, size_t len, resp_value **out, size_t *consumed,
                             char *err, size_t errlen)
{
    scan_ctx s = {buf, len, err, errlen};
    size_t end = 0;
    *out = NULL;
    resp_status st = scan_reply(&s, &end);
    if (st != RESP_OK)
        return st;
    size_t pos = 0;
    *out = build(buf, end, &pos);
    if (*out == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory building a %zu-byte reply", end);
        return RESP_ERROR;
    }
    *consumed = end;
    return RESP_OK;
}

void resp_value_free(resp_value *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->nelem; i++)
        resp_value_free(v->elem[i]);
    free(v->elem);
    free(v->str);
    free(v);
}

/* ---- encoding ---- */

int resp_buf_reserve(resp_buf *b, size_t extra)
{
    if (extra > RESP_BUF_MAX || b->len > RESP_BUF_MAX - extra)
        return -1;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > RESP_BUF_MAX / 2 ? RESP_BUF_MAX : cap * 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int resp_buf_append(resp_buf *b, const void *data, size_t len)
{
    if (resp_buf_reserve(b, len) != 0)
        return -1;
    if (len > 0)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

void resp_buf_free(resp_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Writes "<prefix><n>\r\n" at DST; returns the bytes written. */
static size_t put_header(char *dst, char prefix, size_t n)
{
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    size_t w = 0;
    dst[w++] = prefix;
    while (nd > 0)
        dst[w++] = digits[--nd];
    dst[w++] = '\r';
    dst[w++] = '\n';
    return w;
}

int resp_encode_command(resp_buf *b, int argc, const char *const *argv, const size_t *arglen)
{
    if (argc < 0 || (size_t)argc > RESP_MAX_ARGS_DEFAULT)
        return -1;
    /* Header sizes are bounded by 1 + 20 digits + CRLF = 23 bytes. */
    size_t total = 23;
    for (int i = 0; i < argc; i++) {
        size_t n = arglen ? arglen[i] : strlen(argv[i]);
        if (n > RESP_BUF_MAX || RESP_BUF_MAX - n < total + 25)
            return -1;
        total += 23 + n + 2;
    }
    if (resp_buf_reserve(b, total) != 0)
        return -1;
    char *d = b->p + b->len;
    size_t w = put_header(d, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = arglen ? arglen[i] : strlen(argv[i]);
        w += put_header(d + w, '$', n);
        if (n > 0)
            memcpy(d + w, argv[i], n);
        w += n;
        d[w++] = '\r';
        d[w++] = '\n';
    }
    b->len += w;
    return 0;
}
