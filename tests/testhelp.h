/* testhelp.h -- a dozen lines of test macros, modelled on Redis's testhelp.h.
 *
 * A test binary calls test_cond() for every assertion and ends with
 * `return test_report();`, which prints "N passed, M failed, K skipped"
 * (the line tests/run_all.sh and CI read) and returns non-zero on any
 * failure. test_skip() records a check that could not run here: it is
 * counted as a skip, never as a pass.
 * The counters are static to the including translation unit: every test
 * binary has exactly one .c that includes this header with the counters. */
#ifndef RKV_TESTHELP_H
#define RKV_TESTHELP_H

#include <stdio.h>

static int test_passed_ = 0, test_failed_ = 0, test_skipped_ = 0;

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

/* A check that cannot run here (why says so). */
#define test_skip(why)                                                                             \
    do {                                                                                           \
        test_skipped_++;                                                                           \
        printf("SKIP %s:%d: %s\n", __FILE__, __LINE__, (why));                                     \
    } while (0)

/* Prints a section name so a failure can be located in the output. */
#define test_section(name) printf("-- %s\n", (name))

static inline int test_report(void)
{
    printf("%d passed, %d failed, %d skipped\n", test_passed_, test_failed_, test_skipped_);
    return test_failed_ == 0 ? 0 : 1;
}

#endif
