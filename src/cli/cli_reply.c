/* cli_reply.c -- rkv-cli's reply parser (RESP2 and RESP3) and its two output
 * formats, the ones redis-cli 7 prints.
 *
 * src/net/resp_reply.c parses RESP2 only; rkv-cli -3 (HELLO 3) must read
 * maps, sets, doubles, booleans, verbatim strings, big numbers, pushes and
 * attributes, so the CLI has this parser of its own. It runs in two passes
 * over the same recursive walk: the first only checks that a whole reply is
 * present (and allocates nothing), the second builds the tree. So "need more
 * bytes" never leaves a half-built tree, a "*100000000" header alone
 * allocates nothing, and no allocation is larger than the bytes received.
 * Every length and count is checked against a named maximum, and nesting is
 * bounded by CLI_REPLY_DEPTH_MAX (the walk is recursive: the bound keeps the
 * C stack small). An incomplete bulk string reports the total length it
 * needs, so a 100 MB value is not re-scanned after every read.
 *
 * Output, as redis-cli 7.0.15 prints it (compared byte for byte in
 * tests/cli/cli_test.sh):
 *   terminal  "value" quoted with escapes, (integer) 5, (nil), (error) ...,
 *             (double) 1.5, (true), numbered arrays "1) ", sets "1~ ", maps
 *             "1# key => value", nested aggregates indented under their index;
 *   raw       strings as they are, integers bare, nil as nothing, errors
 *             followed by a newline, aggregates one element per line, map
 *             entries as "key value", booleans (true)/(false).
 * redis-cli 7.0 exits with "Unknown reply type: 13" on a RESP3 big number;
 * rkv-cli prints "(big number) N" (terminal) or N (raw), as redis-cli 7.2. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

#define CLI_REPLY_LINE_MAX (64u * 1024u)              /* status, error, number lines */
#define CLI_REPLY_BULK_MAX (512ull * 1024u * 1024u)   /* one bulk string: proto-max-bulk-len */
#define CLI_REPLY_ELEMS_MAX (64ull * 1024u * 1024u)   /* elements of one aggregate */
#define CLI_REPLY_DEPTH_MAX 32                        /* nested aggregates */
#define CLI_NUM_CHARS_MAX 20u                         /* "-9223372036854775808" */
/* Indentation of the deepest element: each level adds its index width + 2. */
#define CLI_PREFIX_MAX ((CLI_REPLY_DEPTH_MAX + 1) * (20 + 2) + 1)

typedef struct parse_ctx {
    const char *buf;
    size_t len;
    size_t need; /* set when a bulk string is incomplete */
    char *err;
    size_t errlen;
} parse_ctx;

static cli_parse_rc parse_fail(const parse_ctx *p, size_t off, const char *what)
{
    snprintf(p->err, p->errlen, "Protocol error: %s at offset %zu", what, off);
    return CLI_PARSE_ERROR;
}

/* The line starting at POS: *eol is the offset of its '\r'. */
static cli_parse_rc find_eol(const parse_ctx *p, size_t pos, size_t *eol)
{
    size_t avail = p->len - pos;
    size_t scan = avail < CLI_REPLY_LINE_MAX + 2 ? avail : CLI_REPLY_LINE_MAX + 2;
    const char *nl = memchr(p->buf + pos, '\n', scan);
    if (nl == NULL)
        return avail > CLI_REPLY_LINE_MAX + 1 ? parse_fail(p, pos, "line too long")
                                              : CLI_PARSE_MORE;
    size_t at = (size_t)(nl - p->buf);
    if (at == pos || p->buf[at - 1] != '\r')
        return parse_fail(p, at, "expected CRLF");
    *eol = at - 1;
    return CLI_PARSE_OK;
}

static int parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > CLI_NUM_CHARS_MAX)
        return -1;
    char tmp[CLI_NUM_CHARS_MAX + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static cli_reply *reply_new(cli_rtype t)
{
    cli_reply *r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->type = t;
    return r;
}

static int reply_set_str(cli_reply *r, const char *s, size_t n)
{
    r->str = malloc(n + 1);
    if (r->str == NULL)
        return -1;
    memcpy(r->str, s, n);
    r->str[n] = '\0';
    r->len = n;
    return 0;
}

static cli_parse_rc parse_value(parse_ctx *p, size_t *pos, int depth, cli_reply **out);

/* $-1 and *-1: RESP2's nil. */
static cli_parse_rc parse_nil(const parse_ctx *p, size_t start, cli_reply **out)
{
    if (out != NULL && (*out = reply_new(CLI_R_NIL)) == NULL)
        return parse_fail(p, start, "out of memory");
    return CLI_PARSE_OK;
}

/* $ = ! : a length line, then that many bytes and CRLF. */
static cli_parse_rc parse_blob(parse_ctx *p, size_t *pos, long long n, cli_rtype t,
                               cli_reply **out)
{
    if (n < 0 || (unsigned long long)n > CLI_REPLY_BULK_MAX)
        return parse_fail(p, *pos, "bulk length out of range");
    size_t total = *pos + (size_t)n + 2;
    if (p->len < total) {
        p->need = total;
        return CLI_PARSE_MORE;
    }
    if (p->buf[total - 2] != '\r' || p->buf[total - 1] != '\n')
        return parse_fail(p, total - 2, "bulk string not followed by CRLF");
    const char *s = p->buf + *pos;
    size_t len = (size_t)n;
    if (t == CLI_R_VERB) { /* "txt:" first, as hiredis strips it */
        if (len < 4 || s[3] != ':')
            return parse_fail(p, *pos, "verbatim string without a type");
        s += 4;
        len -= 4;
    }
    *pos = total;
    if (out == NULL)
        return CLI_PARSE_OK;
    cli_reply *r = reply_new(t);
    if (r == NULL || reply_set_str(r, s, len) != 0) {
        free(r);
        return parse_fail(p, *pos, "out of memory");
    }
    *out = r;
    return CLI_PARSE_OK;
}

/* * % ~ > |: a count, then that many values (twice that for maps). */
static cli_parse_rc parse_aggregate(parse_ctx *p, size_t *pos, long long n, cli_rtype t,
                                    int depth, cli_reply **out)
{
    if (depth >= CLI_REPLY_DEPTH_MAX)
        return parse_fail(p, *pos, "nesting too deep");
    if (n < 0 || (unsigned long long)n > CLI_REPLY_ELEMS_MAX)
        return parse_fail(p, *pos, "aggregate length out of range");
    size_t count = (size_t)n * (t == CLI_R_MAP ? 2 : 1);
    cli_reply *r = NULL;
    if (out != NULL) {
        r = reply_new(t);
        if (r == NULL || (count > 0 && (r->elem = calloc(count, sizeof(cli_reply *))) == NULL)) {
            free(r);
            return parse_fail(p, *pos, "out of memory");
        }
        r->nelem = count;
    }
    for (size_t i = 0; i < count; i++) {
        cli_parse_rc rc = parse_value(p, pos, depth + 1, r ? &r->elem[i] : NULL);
        if (rc != CLI_PARSE_OK) {
            cli_reply_free(r);
            return rc;
        }
    }
    if (out != NULL)
        *out = r;
    return CLI_PARSE_OK;
}

/* One value at *pos; OUT NULL only checks that it is complete. */
static cli_parse_rc parse_value(parse_ctx *p, size_t *pos, int depth, cli_reply **out)
{
    if (*pos >= p->len)
        return CLI_PARSE_MORE;
    char t = p->buf[*pos];
    size_t eol;
    cli_parse_rc rc = find_eol(p, *pos + 1, &eol);
    if (rc != CLI_PARSE_OK)
        return rc;
    const char *line = p->buf + *pos + 1;
    size_t n = eol - (*pos + 1);
    size_t start = *pos;
    *pos = eol + 2;
    long long v = 0;
    cli_rtype lt;
    switch (t) {
    case '+': lt = CLI_R_STATUS; break;
    case '-': lt = CLI_R_ERROR; break;
    case ',': lt = CLI_R_DOUBLE; break;
    case '(': lt = CLI_R_BIGNUM; break;
    case ':': case '#': case '_': lt = CLI_R_INT; break;
    default:
        if (parse_ll(line, n, &v) != 0)
            return parse_fail(p, start, "bad length");
        switch (t) {
        case '$': return v == -1 ? parse_nil(p, start, out) : parse_blob(p, pos, v, CLI_R_BULK, out);
        case '=': return parse_blob(p, pos, v, CLI_R_VERB, out);
        case '!': return parse_blob(p, pos, v, CLI_R_ERROR, out);
        case '*': return v == -1 ? parse_nil(p, start, out)
                                 : parse_aggregate(p, pos, v, CLI_R_ARRAY, depth, out);
        case '%': return parse_aggregate(p, pos, v, CLI_R_MAP, depth, out);
        case '~': return parse_aggregate(p, pos, v, CLI_R_SET, depth, out);
        case '>': return parse_aggregate(p, pos, v, CLI_R_PUSH, depth, out);
        case '|': /* an attribute: metadata about the value that follows; dropped */
            rc = parse_aggregate(p, pos, v, CLI_R_MAP, depth, NULL);
            return rc != CLI_PARSE_OK ? rc : parse_value(p, pos, depth, out);
        default: return parse_fail(p, start, "unknown reply type");
        }
    }
    if (t == ':' && parse_ll(line, n, &v) != 0)
        return parse_fail(p, start, "bad integer");
    if (t == '#' && (n != 1 || (line[0] != 't' && line[0] != 'f')))
        return parse_fail(p, start, "bad boolean");
    if (t == '_' && n != 0)
        return parse_fail(p, start, "bad null");
    if (out == NULL)
        return CLI_PARSE_OK;
    cli_reply *r = reply_new(t == '#' ? CLI_R_BOOL : t == '_' ? CLI_R_NIL : lt);
    if (r == NULL)
        return parse_fail(p, start, "out of memory");
    if (t == '#')
        r->integer = line[0] == 't';
    else if (t == ':')
        r->integer = v;
    else if (t != '_' && reply_set_str(r, line, n) != 0) {
        free(r);
        return parse_fail(p, start, "out of memory");
    }
    *out = r;
    return CLI_PARSE_OK;
}

cli_parse_rc cli_reply_parse(const char *buf, size_t len, cli_reply **out, size_t *used,
                             size_t *need, char *err, size_t errlen)
{
    parse_ctx p = {buf, len, 0, err, errlen};
    size_t pos = 0;
    cli_parse_rc rc = parse_value(&p, &pos, 0, NULL);
    if (rc == CLI_PARSE_MORE) {
        *need = p.need > len ? p.need : len + 1;
        return rc;
    }
    if (rc != CLI_PARSE_OK)
        return rc;
    pos = 0;
    rc = parse_value(&p, &pos, 0, out);
    if (rc == CLI_PARSE_OK)
        *used = pos;
    return rc;
}

void cli_reply_free(cli_reply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nelem; i++)
        cli_reply_free(r->elem[i]);
    free(r->elem);
    free(r->str);
    free(r);
}

const char *cli_reply_str(const cli_reply *r)
{
    if (r == NULL)
        return NULL;
    switch (r->type) {
    case CLI_R_BULK: case CLI_R_STATUS: case CLI_R_VERB: case CLI_R_DOUBLE: case CLI_R_BIGNUM:
        return r->str;
    default:
        return NULL;
    }
}

const cli_reply *cli_reply_field(const cli_reply *r, const char *name)
{
    if (r == NULL || (r->type != CLI_R_MAP && r->type != CLI_R_ARRAY))
        return NULL;
    for (size_t i = 0; i + 1 < r->nelem; i += 2) {
        const char *k = cli_reply_str(r->elem[i]);
        if (k != NULL && strcasecmp(k, name) == 0)
            return r->elem[i + 1];
    }
    return NULL;
}

/* ---- printing ---- */

void cli_print_repr(FILE *o, const char *s, size_t n)
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

static int is_aggregate(const cli_reply *r)
{
    return r->type == CLI_R_ARRAY || r->type == CLI_R_MAP || r->type == CLI_R_SET ||
           r->type == CLI_R_PUSH;
}

/* Whether the terminal format spreads R over several lines: a map's value
 * that does starts on a line of its own (redis-cli's alignment rule). */
static int tty_multiline(const cli_reply *r)
{
    if (!is_aggregate(r) || r->nelem == 0)
        return 0;
    if (r->type == CLI_R_MAP)
        return r->nelem > 2 || tty_multiline(r->elem[1]);
    return r->nelem > 1 || tty_multiline(r->elem[0]);
}

static void tty_value(FILE *o, const cli_reply *r, const char *prefix, int depth);

static void tty_empty(FILE *o, const cli_reply *r)
{
    fputs(r->type == CLI_R_MAP ? "(empty hash)\n" : r->type == CLI_R_SET ? "(empty set)\n"
          : r->type == CLI_R_PUSH ? "(empty push)\n" : "(empty array)\n", o);
}

/* A map key printed without its final newline (redis-cli trims it). */
static void tty_key(FILE *o, const cli_reply *k, const char *prefix, int depth)
{
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    if (m == NULL) {
        tty_value(o, k, prefix, depth);
        return;
    }
    tty_value(m, k, prefix, depth);
    if (fclose(m) != 0 || text == NULL) {
        free(text);
        return;
    }
    if (n > 0 && text[n - 1] == '\n')
        n--;
    fwrite(text, 1, n, o);
    free(text);
}

static void tty_aggregate(FILE *o, const cli_reply *r, const char *prefix, int depth)
{
    if (r->nelem == 0) {
        tty_empty(o, r);
        return;
    }
    int ismap = r->type == CLI_R_MAP;
    size_t shown = ismap ? r->nelem / 2 : r->nelem;
    int idxlen = snprintf(NULL, 0, "%zu", shown);
    char sub[CLI_PREFIX_MAX];
    snprintf(sub, sizeof(sub), "%s%*s", prefix, idxlen + 2, "");
    char sep = ismap ? '#' : r->type == CLI_R_SET ? '~' : ')';
    for (size_t i = 0; i < r->nelem; i++) {
        fprintf(o, "%s%*zu%c ", i == 0 ? "" : prefix, idxlen, (ismap ? i / 2 : i) + 1, sep);
        if (!ismap) {
            tty_value(o, r->elem[i], sub, depth + 1);
            continue;
        }
        tty_key(o, r->elem[i], sub, depth + 1);
        i++;
        fputs(" => ", o);
        if (tty_multiline(r->elem[i]))
            fprintf(o, "\n%s", sub);
        tty_value(o, r->elem[i], sub, depth + 1);
    }
}

static void tty_value(FILE *o, const cli_reply *r, const char *prefix, int depth)
{
    switch (r->type) {
    case CLI_R_ERROR: fputs("(error) ", o); fwrite(r->str, 1, r->len, o); fputc('\n', o); break;
    case CLI_R_STATUS: case CLI_R_VERB: fwrite(r->str, 1, r->len, o); fputc('\n', o); break;
    case CLI_R_INT: fprintf(o, "(integer) %lld\n", r->integer); break;
    case CLI_R_DOUBLE: fprintf(o, "(double) %s\n", r->str); break;
    case CLI_R_BIGNUM: fprintf(o, "(big number) %s\n", r->str); break;
    case CLI_R_BULK: cli_print_repr(o, r->str, r->len); fputc('\n', o); break;
    case CLI_R_NIL: fputs("(nil)\n", o); break;
    case CLI_R_BOOL: fputs(r->integer ? "(true)\n" : "(false)\n", o); break;
    case CLI_R_ARRAY: case CLI_R_MAP: case CLI_R_SET: case CLI_R_PUSH:
        if (depth < CLI_REPLY_DEPTH_MAX)
            tty_aggregate(o, r, prefix, depth);
        break;
    }
}

void cli_print_tty(FILE *o, const cli_reply *r)
{
    tty_value(o, r, "", 0);
}

void cli_print_raw(FILE *o, const cli_reply *r)
{
    switch (r->type) {
    case CLI_R_NIL: break;
    case CLI_R_ERROR: fwrite(r->str, 1, r->len, o); fputc('\n', o); break;
    case CLI_R_STATUS: case CLI_R_BULK: case CLI_R_VERB: case CLI_R_DOUBLE: case CLI_R_BIGNUM:
        fwrite(r->str, 1, r->len, o);
        break;
    case CLI_R_BOOL: fputs(r->integer ? "(true)" : "(false)", o); break;
    case CLI_R_INT: fprintf(o, "%lld", r->integer); break;
    case CLI_R_ARRAY: case CLI_R_SET: case CLI_R_PUSH:
        for (size_t i = 0; i < r->nelem; i++) {
            if (i > 0)
                fputc('\n', o);
            cli_print_raw(o, r->elem[i]);
        }
        break;
    case CLI_R_MAP:
        for (size_t i = 0; i + 1 < r->nelem; i += 2) {
            if (i > 0)
                fputc('\n', o);
            cli_print_raw(o, r->elem[i]);
            fputc(' ', o);
            cli_print_raw(o, r->elem[i + 1]);
        }
        break;
    }
}
