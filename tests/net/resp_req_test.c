/* resp_req_test.c -- the request parser: multibulk and inline commands,
 * partial input at every split point, limits, and malformed input. */
#include <stdio.h>
#include <string.h>

#include "../testhelp.h"
#include "net/resp.h"

static resp_limits lim = {1024, 1024 * 1024};

static resp_status parse(const char *buf, size_t len, resp_arg *argv, size_t cap, size_t *argc,
                         size_t *consumed, size_t *need, char *err)
{
    return resp_parse_request(buf, len, &lim, argv, cap, argc, consumed, need, err, 128);
}

int main(void)
{
    resp_arg argv[16];
    size_t argc, consumed, need;
    char err[128];

    test_section("multibulk");
    const char *set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\0\r\nx\r\n";
    size_t setlen = 4 + 9 + 7 + 11;
    resp_status st = parse(set, setlen, argv, 16, &argc, &consumed, &need, err);
    test_cond("SET parses", st == RESP_OK && argc == 3 && consumed == setlen);
    test_cond("binary value kept", argv[2].len == 5 && memcmp(argv[2].p, "v\0\r\nx", 5) == 0);

    test_section("every split point needs more, then parses");
    int ok = 1;
    for (size_t cut = 0; cut < setlen; cut++) {
        st = parse(set, cut, argv, 16, &argc, &consumed, &need, err);
        if (st != RESP_NEED_MORE || need <= cut || need > setlen) ok = 0;
    }
    test_cond("NEED_MORE with a growing, bounded hint at every cut", ok);

    test_section("inline");
    st = parse("PING\r\n", 6, argv, 16, &argc, &consumed, &need, err);
    test_cond("inline PING", st == RESP_OK && argc == 1 && consumed == 6);
    st = parse("  SET  a\tb\n", 11, argv, 16, &argc, &consumed, &need, err);
    test_cond("inline with spaces and bare LF",
              st == RESP_OK && argc == 3 && argv[1].len == 1 && argv[2].p[0] == 'b');
    st = parse("\r\n", 2, argv, 16, &argc, &consumed, &need, err);
    test_cond("empty line is zero args", st == RESP_OK && argc == 0 && consumed == 2);
    st = parse("*0\r\n", 4, argv, 16, &argc, &consumed, &need, err);
    test_cond("*0 is zero args", st == RESP_OK && argc == 0 && consumed == 4);

    test_section("argv growth");
    st = parse("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 25, argv, 2, &argc, &consumed, &need,
               err);
    test_cond("TOO_MANY reports the count", st == RESP_TOO_MANY && argc == 3);
    st = parse("a b c d\r\n", 9, argv, 2, &argc, &consumed, &need, err);
    test_cond("inline TOO_MANY counts all", st == RESP_TOO_MANY && argc == 4);

    test_section("malformed");
    static const char *bad[] = {
        "*-5x\r\n",                       /* bad count */
        "*99999999999\r\n",               /* count beyond max_args */
        "*1\r\n:5\r\n",                   /* not a bulk */
        "*1\r\n$-1\r\n",                  /* negative bulk */
        "*1\r\n$99999999999\r\n",         /* bulk beyond limit */
        "*1\r\n$1\r\nabc\r\n",            /* no CRLF after the bulk */
        "*1\r\n$abc\r\n",                 /* non-numeric length */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = parse(bad[i], strlen(bad[i]), argv, 16, &argc, &consumed, &need, err);
        char d[64];
        snprintf(d, sizeof d, "bad input %zu is an error", i);
        test_cond(d, st == RESP_ERROR && strstr(err, "Protocol error") != NULL);
    }
    char longline[RESP_MAX_INLINE + 10];
    memset(longline, 'a', sizeof longline);
    st = parse(longline, sizeof longline, argv, 16, &argc, &consumed, &need, err);
    test_cond("inline line over the limit is an error", st == RESP_ERROR);
    char longhdr[64];
    memset(longhdr, '1', sizeof longhdr);
    longhdr[0] = '*';
    st = parse(longhdr, sizeof longhdr, argv, 16, &argc, &consumed, &need, err);
    test_cond("endless count digits are an error", st == RESP_ERROR);
    return test_report();
}
