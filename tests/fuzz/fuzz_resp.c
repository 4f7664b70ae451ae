/* fuzz_resp.c -- fuzzes both halves of RESP on the same bytes.
 *
 * Requests: the input is a client's byte stream, parsed command after
 * command the way src/server/client.c does it, with an argv that starts at
 * one slot and grows on RESP_TOO_MANY. Properties: every OK consumes at
 * least one byte and its arguments lie inside what it consumed; TOO_MANY
 * asks for more slots than it was given; the NEED_MORE hint never asks for
 * bytes already present, and for a command that parses whole, every shorter
 * prefix is NEED_MORE with a hint no larger than the command (a larger hint
 * would make the server wait for bytes that never come).
 *
 * Replies: the same stream read as replies. resp_parse_reply and
 * resp_skip_reply must agree on status, length and type; a parsed tree,
 * encoded again and re-parsed, gives the same encoding; a reply cut short by
 * one byte is NEED_MORE. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/resp.h"

/* Small limits, so that short inputs reach the "too many" / "too long"
 * errors; the parser's behaviour does not depend on their size. */
#define FUZZ_ARGS_MAX 64
#define FUZZ_BULK_MAX 4096

/* Parses a copy of the first K bytes of a command that parsed whole in C
 * bytes: exactly K bytes are allocated, so ASan catches any read past K. */
static void check_request_prefix(const char *buf, size_t k, size_t c, const resp_limits *lim,
                                 resp_arg *argv, size_t cap)
{
    char *p = malloc(k ? k : 1);
    fuzz_check(p != NULL);
    if (k) memcpy(p, buf, k);
    size_t argc, consumed, need;
    char err[160];
    resp_status st =
        resp_parse_request(p, k, lim, argv, cap, &argc, &consumed, &need, err, sizeof err);
    fuzz_check(st == RESP_NEED_MORE);
    fuzz_check(need > k && need <= c);
    free(p);
}

static void fuzz_requests(const char *buf, size_t len)
{
    resp_limits lim = {FUZZ_ARGS_MAX, FUZZ_BULK_MAX};
    size_t cap = 1;
    resp_arg *argv = malloc(cap * sizeof *argv);
    fuzz_check(argv != NULL);
    size_t pos = 0;
    while (pos < len) {
        size_t argc, consumed, need;
        char err[160];
        resp_status st = resp_parse_request(buf + pos, len - pos, &lim, argv, cap, &argc,
                                            &consumed, &need, err, sizeof err);
        if (st == RESP_TOO_MANY) {
            fuzz_check(argc > cap);
            if (argc > lim.max_args) break; /* the server answers "too many arguments" */
            while (cap < argc) cap *= 2;
            resp_arg *grown = realloc(argv, cap * sizeof *argv);
            fuzz_check(grown != NULL);
            argv = grown;
            continue;
        }
        if (st == RESP_NEED_MORE) {
            fuzz_check(need > len - pos);
            break;
        }
        if (st == RESP_ERROR) {
            fuzz_check(strncmp(err, "Protocol error: ", 16) == 0);
            break;
        }
        fuzz_check(st == RESP_OK);
        fuzz_check(consumed > 0 && consumed <= len - pos);
        fuzz_check(argc <= cap);
        for (size_t i = 0; i < argc; i++) {
            fuzz_check(argv[i].p >= buf + pos);
            fuzz_check(argv[i].p + argv[i].len <= buf + pos + consumed);
            if (buf[pos] == '*') fuzz_check(argv[i].len <= lim.max_bulk);
        }
        check_request_prefix(buf + pos, consumed - 1, consumed, &lim, argv, cap);
        check_request_prefix(buf + pos, consumed / 2, consumed, &lim, argv, cap);
        pos += consumed;
    }
    free(argv);
}

/* Appends the canonical encoding of V. */
static void encode_value(resp_buf *b, const resp_value *v)
{
    char hdr[48];
    int n = 0;
    switch (v->type) {
    case RESP_T_STATUS:
    case RESP_T_ERROR:
        fuzz_check(resp_buf_append(b, v->type == RESP_T_STATUS ? "+" : "-", 1) == 0);
        fuzz_check(resp_buf_append(b, v->str, v->len) == 0);
        fuzz_check(resp_buf_append(b, "\r\n", 2) == 0);
        return;
    case RESP_T_INT:
        n = snprintf(hdr, sizeof hdr, ":%lld\r\n", v->integer);
        break;
    case RESP_T_BULK:
        n = snprintf(hdr, sizeof hdr, "$%zu\r\n", v->len);
        fuzz_check(resp_buf_append(b, hdr, (size_t)n) == 0);
        fuzz_check(resp_buf_append(b, v->str, v->len) == 0);
        fuzz_check(resp_buf_append(b, "\r\n", 2) == 0);
        return;
    case RESP_T_NIL:
        n = snprintf(hdr, sizeof hdr, "$-1\r\n");
        break;
    case RESP_T_ARRAY:
        n = snprintf(hdr, sizeof hdr, "*%zu\r\n", v->nelem);
        fuzz_check(resp_buf_append(b, hdr, (size_t)n) == 0);
        for (size_t i = 0; i < v->nelem; i++) encode_value(b, v->elem[i]);
        return;
    }
    fuzz_check(n > 0);
    fuzz_check(resp_buf_append(b, hdr, (size_t)n) == 0);
}

/* The tree's type agrees with the bytes it came from, and encode/parse is a
 * fixed point after one round. */
static void check_reply_tree(const char *buf, const resp_value *v)
{
    int t = (unsigned char)buf[0];
    if (v->type == RESP_T_NIL)
        fuzz_check((t == '$' || t == '*') && buf[1] == '-');
    else
        fuzz_check(t == (int)v->type);
    if (v->type == RESP_T_STATUS || v->type == RESP_T_ERROR || v->type == RESP_T_BULK)
        fuzz_check(v->str != NULL && v->str[v->len] == '\0');

    resp_buf once = {0}, twice = {0};
    encode_value(&once, v);
    resp_value *w = NULL;
    size_t used = 0;
    char err[160];
    fuzz_check(resp_parse_reply(once.p, once.len, &w, &used, err, sizeof err) == RESP_OK);
    fuzz_check(used == once.len);
    encode_value(&twice, w);
    fuzz_check(twice.len == once.len && memcmp(twice.p, once.p, once.len) == 0);
    resp_value_free(w);
    resp_buf_free(&once);
    resp_buf_free(&twice);
}

static void fuzz_replies(const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        resp_value *v = NULL;
        size_t c1 = 0, c2 = 0;
        int type = 0;
        char err[160];
        resp_status s1 = resp_parse_reply(buf + pos, len - pos, &v, &c1, err, sizeof err);
        resp_status s2 = resp_skip_reply(buf + pos, len - pos, &c2, &type);
        fuzz_check(s1 == s2);
        if (s1 != RESP_OK) {
            fuzz_check(v == NULL);
            fuzz_check(s1 == RESP_NEED_MORE || s1 == RESP_ERROR);
            break;
        }
        fuzz_check(v != NULL);
        fuzz_check(c1 == c2 && c1 > 0 && c1 <= len - pos);
        fuzz_check(type == (unsigned char)buf[pos]);
        check_reply_tree(buf + pos, v);
        resp_value_free(v);

        char *p = malloc(c1 - 1 ? c1 - 1 : 1);
        fuzz_check(p != NULL);
        memcpy(p, buf + pos, c1 - 1);
        fuzz_check(resp_skip_reply(p, c1 - 1, &c2, &type) == RESP_NEED_MORE);
        free(p);
        pos += c1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_requests((const char *)data, size);
    fuzz_replies((const char *)data, size);
    return 0;
}
