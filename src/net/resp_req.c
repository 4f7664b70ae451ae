/* resp_req.c -- the request half of RESP2: parses one client command.
 *
 * The parser is stateless: it re-reads the command from the start of the
 * buffer each time, and on a partial command reports the byte count it needs
 * at least, so the caller waits for that many bytes instead of re-parsing a
 * half-received large value on every read (Redis keeps parser state in the
 * client for the same reason; a hint gives the same effect with less state).
 * Arguments point into the caller's buffer. Lengths are checked against the
 * limits before they are trusted. */
#include "net/resp.h"

#include <stdio.h>
#include <string.h>

#define RESP_MAX_HEADER 32 /* "*<count>\r\n" or "$<len>\r\n": sign + 19 digits + CRLF fits */

/* Parses a decimal integer in [p, end) (optional leading '-'). */
static int parse_ll(const char *p, const char *end, long long *out)
{
    int neg = 0;
    long long v = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p == end || end - p > 18) return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* Finds "\r\n" starting at buf+pos within LEN; returns its offset or -1.
 * Looks at most RESP_MAX_HEADER bytes; *toolong set if it gave up. */
static long find_crlf(const char *buf, size_t len, size_t pos, int *toolong)
{
    size_t lim = pos + RESP_MAX_HEADER < len ? pos + RESP_MAX_HEADER : len;
    *toolong = 0;
    for (size_t i = pos; i + 1 < lim + 1 && i + 1 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n') return (long)i;
    if (len - pos >= RESP_MAX_HEADER) *toolong = 1;
    return -1;
}

static resp_status perr(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "Protocol error: %s", msg);
    return RESP_ERROR;
}

static resp_status parse_multibulk(const char *buf, size_t len, const resp_limits *lim,
                                   resp_arg *argv, size_t argv_cap, size_t *argc,
                                   size_t *consumed, size_t *need, char *err, size_t errlen)
{
    int toolong;
    long nl = find_crlf(buf, len, 1, &toolong);
    if (nl < 0) {
        if (toolong) return perr(err, errlen, "invalid multibulk length");
        *need = len + 1;
        return RESP_NEED_MORE;
    }
    long long count;
    if (parse_ll(buf + 1, buf + nl, &count) < 0 || count > (long long)lim->max_args)
        return perr(err, errlen, "invalid multibulk length");
    size_t pos = (size_t)nl + 2;
    if (count <= 0) { /* "*0" and "*-1": an empty command, skipped like Redis */
        *argc = 0;
        *consumed = pos;
        return RESP_OK;
    }
    if ((size_t)count > argv_cap) {
        *argc = (size_t)count;
        return RESP_TOO_MANY;
    }
    for (long long i = 0; i < count; i++) {
        if (pos >= len) {
            *need = pos + 1;
            return RESP_NEED_MORE;
        }
        if (buf[pos] != '$') {
            char msg[64];
            unsigned char c = (unsigned char)buf[pos];
            if (c >= 32 && c < 127)
                snprintf(msg, sizeof msg, "expected '$', got '%c'", c);
            else
                snprintf(msg, sizeof msg, "expected '$', got byte 0x%02x", c);
            return perr(err, errlen, msg);
        }
        nl = find_crlf(buf, len, pos + 1, &toolong);
        if (nl < 0) {
            if (toolong) return perr(err, errlen, "invalid bulk length");
            *need = len + 1;
            return RESP_NEED_MORE;
        }
        long long blen;
        if (parse_ll(buf + pos + 1, buf + nl, &blen) < 0 || blen < 0 ||
            (unsigned long long)blen > lim->max_bulk)
            return perr(err, errlen, "invalid bulk length");
        pos = (size_t)nl + 2;
        if (len - pos < (size_t)blen + 2) {
            *need = pos + (size_t)blen + 2;
            return RESP_NEED_MORE;
        }
        if (buf[pos + (size_t)blen] != '\r' || buf[pos + (size_t)blen + 1] != '\n')
            return perr(err, errlen, "bulk string not terminated by CRLF");
        argv[i].p = buf + pos;
        argv[i].len = (size_t)blen;
        pos += (size_t)blen + 2;
    }
    *argc = (size_t)count;
    *consumed = pos;
    return RESP_OK;
}

static resp_status parse_inline(const char *buf, size_t len, const resp_limits *lim,
                                resp_arg *argv, size_t argv_cap, size_t *argc, size_t *consumed,
                                size_t *need, char *err, size_t errlen)
{
    const char *nlp = memchr(buf, '\n', len < RESP_MAX_INLINE ? len : RESP_MAX_INLINE);
    if (!nlp) {
        if (len >= RESP_MAX_INLINE) return perr(err, errlen, "too big inline request");
        *need = len + 1;
        return RESP_NEED_MORE;
    }
    const char *end = nlp;
    if (end > buf && end[-1] == '\r') end--;
    size_t n = 0;
    const char *p = buf;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p == end) break;
        const char *s = p;
        while (p < end && *p != ' ' && *p != '\t') p++;
        if (n == lim->max_args) return perr(err, errlen, "too many arguments");
        if (n == argv_cap) {
            /* Count them all so the caller can grow argv once. */
            size_t more = n + 1;
            while (p < end) {
                while (p < end && (*p == ' ' || *p == '\t')) p++;
                if (p == end) break;
                while (p < end && *p != ' ' && *p != '\t') p++;
                more++;
            }
            *argc = more;
            return RESP_TOO_MANY;
        }
        argv[n].p = s;
        argv[n].len = (size_t)(p - s);
        n++;
    }
    *argc = n;
    *consumed = (size_t)(nlp - buf) + 1;
    return RESP_OK;
}

resp_status resp_parse_request(const char *buf, size_t len, const resp_limits *lim,
                               resp_arg *argv, size_t argv_cap, size_t *argc, size_t *consumed,
                               size_t *need, char *err, size_t errlen)
{
    *argc = 0;
    *consumed = 0;
    *need = 1;
    if (len == 0) return RESP_NEED_MORE;
    if (buf[0] == '*')
        return parse_multibulk(buf, len, lim, argv, argv_cap, argc, consumed, need, err,
                               errlen);
    return parse_inline(buf, len, lim, argv, argv_cap, argc, consumed, need, err, errlen);
}
