/* resp_reply_test.c -- the client-side RESP reply parser, skipper and encoder.
 *
 * Every reply type and nil form, nested arrays, every split point of each
 * sample (NEED_MORE before the last byte, OK at it, for both the tree parser
 * and the skipper), malformed input that must be a precise RESP_ERROR, and
 * a deterministic mutation loop that must never crash (run under valgrind by
 * `make valgrind`). Encoding round-trips binary arguments through the
 * parser. */
#include "net/resp.h"
#include "../testhelp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 256

/* Parses S (length N) in full; returns the status, *out and *consumed. */
static resp_status parse_n(const char *s, size_t n, resp_value **out, size_t *consumed, char *err)
{
    err[0] = '\0';
    *consumed = 0;
    return resp_parse_reply(s, n, out, consumed, err, ERRLEN);
}

static resp_status parse(const char *s, resp_value **out, size_t *consumed, char *err)
{
    return parse_n(s, strlen(s), out, consumed, err);
}

/* Parses a string that must be an error whose message contains WANT. */
static int is_error(const char *s, size_t n, const char *want)
{
    char err[ERRLEN];
    resp_value *v = NULL;
    size_t c;
    resp_status st = parse_n(s, n, &v, &c, err);
    size_t sc;
    int t;
    resp_status sk = resp_skip_reply(s, n, &sc, &t);
    int ok = st == RESP_ERROR && v == NULL && sk == RESP_ERROR && strstr(err, want) != NULL;
    if (!ok)
        printf("   input %.40s: status %d skip %d err '%s' (want '%s')\n", s, st, sk, err, want);
    resp_value_free(v);
    return ok;
}

static void test_types(void)
{
    test_section("every reply type");
    char err[ERRLEN];
    resp_value *v;
    size_t c;

    test_cond("status", parse("+OK\r\n", &v, &c, err) == RESP_OK && v->type == RESP_T_STATUS &&
                            v->len == 2 && strcmp(v->str, "OK") == 0 && c == 5);
    resp_value_free(v);
    test_cond("empty status", parse("+\r\n", &v, &c, err) == RESP_OK && v->len == 0 && c == 3);
    resp_value_free(v);
    test_cond("error", parse("-ERR unknown command 'x'\r\n", &v, &c, err) == RESP_OK &&
                           v->type == RESP_T_ERROR && strcmp(v->str, "ERR unknown command 'x'") == 0);
    resp_value_free(v);
    test_cond("integer", parse(":1234\r\n", &v, &c, err) == RESP_OK && v->type == RESP_T_INT &&
                             v->integer == 1234);
    resp_value_free(v);
    test_cond("negative integer", parse(":-7\r\n", &v, &c, err) == RESP_OK && v->integer == -7);
    resp_value_free(v);
    test_cond("LLONG_MAX", parse(":9223372036854775807\r\n", &v, &c, err) == RESP_OK &&
                               v->integer == INT64_MAX);
    resp_value_free(v);
    test_cond("LLONG_MIN", parse(":-9223372036854775808\r\n", &v, &c, err) == RESP_OK &&
                               v->integer == INT64_MIN);
    resp_value_free(v);
    test_cond("bulk", parse("$5\r\nhello\r\n", &v, &c, err) == RESP_OK && v->type == RESP_T_BULK &&
                          v->len == 5 && strcmp(v->str, "hello") == 0 && c == 11);
    resp_value_free(v);
    test_cond("empty bulk", parse("$0\r\n\r\n", &v, &c, err) == RESP_OK &&
                                v->type == RESP_T_BULK && v->len == 0 && v->str[0] == '\0');
    resp_value_free(v);
    test_cond("nil bulk", parse("$-1\r\n", &v, &c, err) == RESP_OK && v->type == RESP_T_NIL &&
                              c == 5);
    resp_value_free(v);
    test_cond("nil array", parse("*-1\r\n", &v, &c, err) == RESP_OK && v->type == RESP_T_NIL);
    resp_value_free(v);
    test_cond("empty array", parse("*0\r\n", &v, &c, err) == RESP_OK &&
                                 v->type == RESP_T_ARRAY && v->nelem == 0 && v->elem == NULL);
    resp_value_free(v);

    static const char bin[] = "$6\r\na\r\n\0b\n\r\n";
    test_cond("binary bulk with CRLF and NUL inside",
              parse_n(bin, sizeof(bin) - 1, &v, &c, err) == RESP_OK && v->len == 6 &&
                  memcmp(v->str, "a\r\n\0b\n", 6) == 0 && c == sizeof(bin) - 1);
    resp_value_free(v);

    test_cond("trailing bytes are not consumed",
              parse("+OK\r\n:1\r\n", &v, &c, err) == RESP_OK && c == 5);
    resp_value_free(v);
}

static void test_arrays(void)
{
    test_section("arrays");
    char err[ERRLEN];
    resp_value *v;
    size_t c;
    const char *s = "*5\r\n+OK\r\n-ERR x\r\n:3\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n*0\r\n";
    test_cond("mixed nested array", parse(s, &v, &c, err) == RESP_OK && c == strlen(s));
    test_cond("shape", v != NULL && v->type == RESP_T_ARRAY && v->nelem == 5 &&
                           v->elem[0]->type == RESP_T_STATUS && v->elem[1]->type == RESP_T_ERROR &&
                           v->elem[2]->integer == 3 && v->elem[3]->type == RESP_T_NIL &&
                           v->elem[4]->nelem == 2 && strcmp(v->elem[4]->elem[0]->str, "a") == 0 &&
                           v->elem[4]->elem[1]->nelem == 1 &&
                           v->elem[4]->elem[1]->elem[0]->type == RESP_T_ARRAY &&
                           v->elem[4]->elem[1]->elem[0]->nelem == 0);
    resp_value_free(v);

    /* RESP_MAX_DEPTH nested arrays are fine; one more is an error. */
    char deep[256];
    size_t n = 0;
    for (int i = 0; i < RESP_MAX_DEPTH; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*1\r\n");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, ":1\r\n");
    test_cond("max depth parses", parse_n(deep, n, &v, &c, err) == RESP_OK && c == n);
    resp_value_free(v);
    n = 0;
    for (int i = 0; i < RESP_MAX_DEPTH + 1; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*1\r\n");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, ":1\r\n");
    test_cond("depth overflow is an error", is_error(deep, n, "nested too deeply"));
    /* Depth overflow is found before the inner elements arrive. */
    test_cond("depth overflow found early", is_error(deep, (size_t)(RESP_MAX_DEPTH + 1) * 4,
                                                     "nested too deeply"));
    /* Empty arrays do not count as open levels. */
    n = 0;
    for (int i = 0; i < RESP_MAX_DEPTH; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*2\r\n");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*0\r\n");
    for (int i = 0; i < RESP_MAX_DEPTH; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*0\r\n");
    test_cond("empty arrays at max depth", parse_n(deep, n, &v, &c, err) == RESP_OK && c == n);
    resp_value_free(v);
}

/* Every proper prefix must be NEED_MORE (no output, nothing consumed); the
 * whole sample must be OK with consumed == its length, for both parsers. */
static int check_splits(const char *s, size_t n)
{
    char err[ERRLEN];
    for (size_t k = 0; k < n; k++) {
        resp_value *v = (resp_value *)1;
        size_t c = 0, sc = 0;
        int t = 0;
        char *copy = malloc(k ? k : 1); /* exact-size copy: valgrind sees overreads */
        if (copy == NULL)
            return 0;
        memcpy(copy, s, k);
        resp_status st = resp_parse_reply(copy, k, &v, &c, err, sizeof(err));
        resp_status sk = resp_skip_reply(copy, k, &sc, &t);
        free(copy);
        if (st != RESP_NEED_MORE || sk != RESP_NEED_MORE || v != NULL) {
            printf("   split at %zu of %zu: parse %d skip %d\n", k, n, st, sk);
            resp_value_free(v == (resp_value *)1 ? NULL : v);
            return 0;
        }
    }
    resp_value *v = NULL;
    size_t c = 0, sc = 0;
    int t = 0;
    resp_status st = resp_parse_reply(s, n, &v, &c, err, sizeof(err));
    resp_status sk = resp_skip_reply(s, n, &sc, &t);
    int ok = st == RESP_OK && sk == RESP_OK && c == n && sc == n && t == (unsigned char)s[0];
    resp_value_free(v);
    return ok;
}

static void test_splits(void)
{
    test_section("partial input at every split point");
    static const char *const samples[] = {
        "+OK\r\n",
        "-ERR wrong number of arguments\r\n",
        ":0\r\n",
        ":-9223372036854775808\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "*0\r\n",
        "$0\r\n\r\n",
        "$12\r\nhello\r\nworld\r\n",
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        "*2\r\n*2\r\n:1\r\n$-1\r\n*1\r\n+x\r\n",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        test_cond(samples[i], check_splits(samples[i], strlen(samples[i])));

    /* A 100 KiB bulk split anywhere near its ends and in the middle. */
    size_t blen = 100 * 1024;
    char *big = malloc(blen + 32);
    test_cond("alloc", big != NULL);
    if (big == NULL)
        return;
    int h = snprintf(big, 32, "$%zu\r\n", blen);
    memset(big + h, 'x', blen);
    big[h + blen] = '\r';
    big[h + blen + 1] = '\n';
    size_t total = (size_t)h + blen + 2;
    int ok = 1;
    size_t cuts[] = {1, 2, 3, (size_t)h, (size_t)h + 1, total / 2, total - 2, total - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        size_t c;
        int t;
        ok &= resp_skip_reply(big, cuts[i], &c, &t) == RESP_NEED_MORE;
    }
    size_t c = 0;
    int t = 0;
    ok &= resp_skip_reply(big, total, &c, &t) == RESP_OK && c == total && t == '$';
    test_cond("large bulk split points", ok);
    free(big);
}

static void test_malformed(void)
{
    test_section("malformed input");
    test_cond("bad type byte", is_error("A\r\n", 3, "invalid reply type byte"));
    test_cond("bad type byte inside array", is_error("*2\r\n:1\r\n!x\r\n", 12, "type byte at offset 8"));
    test_cond("bulk length -2", is_error("$-2\r\n", 5, "bulk string length out of range"));
    test_cond("huge bulk length", is_error("$99999999999\r\n", 14, "bulk string length out of range"));
    test_cond("array count -2", is_error("*-2\r\n", 5, "array length out of range"));
    test_cond("huge array count", is_error("*99999999999\r\n", 14, "array length out of range"));
    test_cond("bulk without CRLF", is_error("$3\r\nabcXY", 9, "not terminated by CRLF"));
    test_cond("CR without LF", is_error("+OK\rX", 5, "expected \\n after \\r"));
    test_cond("non-numeric integer", is_error(":abc\r\n", 6, "invalid number"));
    test_cond("empty integer", is_error(":\r\n", 3, "invalid number"));
    test_cond("integer with space", is_error(":12 \r\n", 6, "invalid number"));
    test_cond("plus-signed length", is_error("$+3\r\nabc\r\n", 10, "invalid number"));
    test_cond("integer overflow", is_error(":9223372036854775808\r\n", 22, "invalid number"));
    test_cond("number line too long", is_error("$000000000000000000000001\r\n", 27, "line too long"));
    test_cond("number line without CRLF", is_error("*1111111111111111111111", 23, "line too long"));
    test_cond("lone minus", is_error(":-\r\n", 4, "invalid number"));

    /* A status line that never ends is an error once it passes the limit. */
    size_t n = 70 * 1024;
    char *line = malloc(n);
    test_cond("alloc", line != NULL);
    if (line != NULL) {
        line[0] = '+';
        memset(line + 1, 'a', n - 1);
        test_cond("endless status line", is_error(line, n, "line too long"));
        size_t c;
        int t;
        test_cond("status line below the limit waits",
                  resp_skip_reply(line, 1000, &c, &t) == RESP_NEED_MORE);
        free(line);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mutates valid samples and random bytes: parse and skip must agree and
 * never crash or read out of bounds (valgrind checks the latter). */
static void test_mutations(void)
{
    test_section("mutations never crash");
    static const char *const seeds[] = {
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        "*2\r\n*2\r\n:1\r\n$-1\r\n*1\r\n+x\r\n",
        "-ERR x\r\n",
        "$5\r\nhello\r\n",
    };
    static const char alphabet[] = "*$+-:\r\n0123456789-x";
    int agree = 1;
    for (int iter = 0; iter < 20000; iter++) {
        char buf[64];
        size_t n;
        const char *seed = seeds[rng() % (sizeof(seeds) / sizeof(seeds[0]))];
        n = strlen(seed);
        memcpy(buf, seed, n);
        int muts = 1 + (int)(rng() % 3);
        for (int m = 0; m < muts; m++)
            buf[rng() % n] = alphabet[rng() % (sizeof(alphabet) - 1)];
        if (iter % 4 == 0) {
            n = 1 + rng() % sizeof(buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
        }
        char *copy = malloc(n);
        if (copy == NULL)
            break;
        memcpy(copy, buf, n);
        resp_value *v = NULL;
        size_t c = 0, sc = 0;
        int t;
        char err[ERRLEN];
        resp_status st = resp_parse_reply(copy, n, &v, &c, err, sizeof(err));
        resp_status sk = resp_skip_reply(copy, n, &sc, &t);
        if (st != sk || (st == RESP_OK && (c != sc || c > n || v == NULL)))
            agree = 0;
        resp_value_free(v);
        free(copy);
    }
    test_cond("parse and skip agree on mutated input", agree);
}

/* Encodes ARGS and parses the encoding back as an array of bulk strings. */
static int round_trip(int argc, const char *const *argv, const size_t *arglen)
{
    resp_buf b = {0};
    if (resp_encode_command(&b, argc, argv, arglen) != 0)
        return 0;
    resp_value *v = NULL;
    size_t c;
    char err[ERRLEN];
    int ok = resp_parse_reply(b.p, b.len, &v, &c, err, sizeof(err)) == RESP_OK && c == b.len &&
             v->type == RESP_T_ARRAY && v->nelem == (size_t)argc;
    for (int i = 0; ok && i < argc; i++) {
        size_t n = arglen ? arglen[i] : strlen(argv[i]);
        ok = v->elem[i]->type == RESP_T_BULK && v->elem[i]->len == n &&
             memcmp(v->elem[i]->str, argv[i], n) == 0;
    }
    resp_value_free(v);
    resp_buf_free(&b);
    return ok;
}

static void test_encode(void)
{
    test_section("encode_command");
    resp_buf b = {0};
    const char *const set[] = {"SET", "k", "v"};
    test_cond("encode", resp_encode_command(&b, 3, set, NULL) == 0);
    const char *want = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    test_cond("exact bytes", b.len == strlen(want) && memcmp(b.p, want, b.len) == 0);
    test_cond("appends", resp_encode_command(&b, 3, set, NULL) == 0 &&
                             b.len == 2 * strlen(want) &&
                             memcmp(b.p + strlen(want), want, strlen(want)) == 0);
    resp_buf_free(&b);
    test_cond("freed", b.p == NULL && b.len == 0 && b.cap == 0);

    const char *const bin[] = {"SET", "a\0b\r\n", "", "$3\r\n*1\r\n"};
    const size_t binlen[] = {3, 5, 0, 9};
    test_cond("binary args round-trip", round_trip(4, bin, binlen));
    test_cond("zero args", round_trip(0, bin, binlen));

    size_t big = 1024 * 1024 + 7;
    char *val = malloc(big);
    test_cond("alloc", val != NULL);
    if (val != NULL) {
        for (size_t i = 0; i < big; i++)
            val[i] = (char)(i * 31);
        const char *const av[] = {"SET", "big", val};
        const size_t al[] = {3, 3, big};
        test_cond("1 MiB binary value round-trips", round_trip(3, av, al));
        free(val);
    }
    test_cond("negative argc refused", resp_encode_command(&b, -1, set, NULL) == -1);
    resp_buf_free(&b);

    test_cond("buf_append", resp_buf_append(&b, "abc", 3) == 0 && resp_buf_append(&b, "", 0) == 0 &&
                                b.len == 3 && memcmp(b.p, "abc", 3) == 0);
    test_cond("buf_reserve refuses absurd sizes", resp_buf_reserve(&b, SIZE_MAX - 1) == -1);
    resp_buf_free(&b);
}

int main(void)
{
    test_types();
    test_arrays();
    test_splits();
    test_malformed();
    test_mutations();
    test_encode();
    return test_report();
}
