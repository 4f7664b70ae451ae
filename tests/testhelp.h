/* testhelp.h -- a dozen lines of test macros, modelled on Redis's testhelp.h.
 *
 * A test binary calls test_cond() for every assertion and ends with
 * `return test_report();`, which prints "N passed, M failed" (the line
 * tests/run_all.sh and CI read) and returns non-zero on any failure.
 * The counters are static to the including translation unit: every test
 * binary has exactly one .c that includes this header with the counters. */
#ifndef RKV_TESTHELP_H
#define RKV_TESTHELP_H

#include <stdio.h>

static int test_passed_ = 0, test_failed_ = 0;

#define test_cond(descr, cond)                                                                     \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_passed_++;                                                                        \
        } else {                                                                                   \
            test_failed_++;                                                                        \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, (descr));                               \
            fflush(stdout);                                                                        \
        }                                                                                          \
    } while (0)

/* Prints a section name so a failure can be located in the output. */
#define test_section(name) printf("-- %s\n", (name))

static inline int test_report(void)
{
    printf("%d passed, %d failed\n", test_passed_, test_failed_);
    return test_failed_ == 0 ? 0 : 1;
}

#endif
