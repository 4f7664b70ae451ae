/* lincheck.c -- checks a recorded history file for linearizability.
 *
 *   lincheck [-v] [--cache-mb N] [--steps N] [--key-seconds S] FILE|-
 *
 * FILE holds one operation a line in the format of tests/common/lincheck.h:
 *   <client> <op> <key> <value|-> <call_us> <ret_us|-> <ok|fail|unknown> [<result>]
 * (elect_chaos --history FILE writes one). Each key is checked on its own by
 * the Wing-Gong-Lowe search of tests/common/lincheck.c; the tool prints a
 * summary line, then for each key that is not linearizable the operations
 * involved (-v: a line for every key).
 *
 * Exit status: 0 linearizable, 1 not linearizable, 2 bad input or usage,
 * 3 undecided (no key is known to be wrong, but some key was too big for
 * the limits: raise them, or split the run). The tool is a thin shell over
 * the library so the chaos tools and the unit test run the same code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/lincheck.h"

#define LINCHECK_CACHE_MB_MAX (64L * 1024) /* --cache-mb at most (64 GiB) */
#define LINCHECK_KEY_SECONDS_MAX 86400L

static int usage(void)
{
    fprintf(stderr, "usage: lincheck [-v] [--cache-mb N] [--steps N] [--key-seconds S] FILE|-\n"
                    "exit: 0 linearizable, 1 not, 2 bad input, 3 undecided (too big)\n");
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    lc_limits lim = {0};
    int verbose = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--cache-mb") == 0 && v) {
            if (parse_long(v, 1, LINCHECK_CACHE_MB_MAX, &x) < 0) return usage();
            lim.cache_bytes = (size_t)x * 1024 * 1024;
            i++;
        } else if (strcmp(a, "--steps") == 0 && v) {
            if (parse_long(v, 1, 1L << 40, &x) < 0) return usage();
            lim.steps = x;
            i++;
        } else if (strcmp(a, "--key-seconds") == 0 && v) {
            if (parse_long(v, 1, LINCHECK_KEY_SECONDS_MAX, &x) < 0) return usage();
            lim.key_ms = x * 1000;
            i++;
        } else if (!path && (a[0] != '-' || strcmp(a, "-") == 0)) {
            path = a;
        } else {
            return usage();
        }
    }
    if (!path) return usage();
    lc_history *h = lc_history_new();
    if (!h) {
        fprintf(stderr, "lincheck: out of memory\n");
        return 2;
    }
    char err[512];
    if (lc_read_file(h, path, err, sizeof err) < 0) {
        fprintf(stderr, "lincheck: %s\n", err);
        lc_history_free(h);
        return 2;
    }
    lc_report rep;
    int verdict = lc_check(h, &lim, &rep);
    lc_report_print(stdout, &rep, verbose);
    lc_report_free(&rep);
    lc_history_free(h);
    switch (verdict) {
    case LC_LINEARIZABLE:
        printf("lincheck: linearizable\n");
        return 0;
    case LC_NOT_LINEARIZABLE:
        printf("lincheck: NOT linearizable\n");
        return 1;
    case LC_UNDECIDED:
        printf("lincheck: undecided (some key too big for the limits)\n");
        return 3;
    default:
        fprintf(stderr, "lincheck: out of memory\n");
        return 2;
    }
}
