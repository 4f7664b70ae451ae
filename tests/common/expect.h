/* expect.h -- checks of one reply for process tests: each takes the reply
 * (NULL: no reply), frees it, and returns 1 if it is what was expected; if
 * not, it prints what came instead, so a failed test_cond says why. */
#ifndef RKV_TEST_EXPECT_H
#define RKV_TEST_EXPECT_H

#include "net/resp.h"

int expect_int(resp_value *r, long long v);
int expect_str(resp_value *r, const char *s);  /* a bulk or status reply of S */
int expect_nil(resp_value *r);
int expect_err(resp_value *r, const char *prefix); /* an error starting with PREFIX */
/* The integer of R (-999999 if it is not one), R freed. */
long long expect_int_of(resp_value *r);

#endif
