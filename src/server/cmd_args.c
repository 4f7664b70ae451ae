/* cmd_args.c -- argument parsing shared by every command (cmd.h). The
 * number rules are Redis's (util.c string2ll / string2ld), because clients
 * and Redis's own tests rely on exactly which strings are numbers: "+1",
 * " 1", "01" and "1.0" are not integers to Redis, and must not be here. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/cmd.h"

#define ARG_LD_MAX 5120 /* Redis's MAX_LONG_DOUBLE_CHARS */

int arg_eq(const resp_arg *a, const char *s)
{
    size_t l = strlen(s);
    return a->len == l && strncasecmp(a->p, s, l) == 0;
}

int arg_ull(const resp_arg *a, unsigned long long *out)
{
    const char *p = a->p;
    size_t n = a->len;
    if (n == 0 || n > 20) return -1;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    if (p[0] < '1' || p[0] > '9') return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (~0ull - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int arg_ll(const resp_arg *a, long long *out)
{
    if (a->len == 0) return -1;
    int neg = a->p[0] == '-';
    resp_arg mag = {a->p + neg, a->len - (size_t)neg};
    unsigned long long v;
    if (arg_ull(&mag, &v) < 0) return -1;
    if (neg) {
        if (v == 0 || v > (unsigned long long)9223372036854775807LL + 1) return -1; /* "-0" too */
        *out = v == (unsigned long long)9223372036854775807LL + 1 ? (-9223372036854775807LL - 1)
                                                                 : -(long long)v;
    } else {
        if (v > 9223372036854775807ULL) return -1;
        *out = (long long)v;
    }
    return 0;
}

int arg_ld(const resp_arg *a, long double *out)
{
    char buf[ARG_LD_MAX + 1];
    if (a->len == 0 || a->len > ARG_LD_MAX) return -1;
    memcpy(buf, a->p, a->len);
    buf[a->len] = 0;
    if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n' || buf[0] == '\r' || buf[0] == '\v' ||
        buf[0] == '\f')
        return -1;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (*end || isnan(v) || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)))
        return -1;
    *out = v;
    return 0;
}

void arg_printable(const resp_arg *a, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < a->len && i < 128 && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)a->p[i];
        if (ch >= 32 && ch < 127 && ch != '\'')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    out[o] = 0;
}
