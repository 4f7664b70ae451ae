/* hlc_test.c -- the hybrid logical clock with an injected wall clock:
 * follows the wall clock when it moves forward, stays strictly increasing
 * when it stalls or steps back, and continues above a recovered maximum. */
#include <stdint.h>

#include "../testhelp.h"
#include "common/hlc.h"

static uint64_t fake_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

int main(void)
{
    uint64_t wall = 1000000;
    hlc c;
    hlc_init(&c, fake_clock, &wall);

    test_section("follows the wall clock");
    test_cond("first reading is the wall clock", hlc_now(&c) == 1000000);
    wall = 2000000;
    test_cond("jumps forward with it", hlc_now(&c) == 2000000);

    test_section("strictly increasing");
    uint64_t prev = hlc_now(&c);
    int increasing = 1;
    for (int i = 0; i < 1000; i++) { /* stalled clock */
        uint64_t t = hlc_now(&c);
        if (t <= prev) increasing = 0;
        prev = t;
    }
    test_cond("stalled wall clock", increasing && prev == 2001001);
    wall = 500000; /* steps back 1.5 s */
    for (int i = 0; i < 1000; i++) {
        uint64_t t = hlc_now(&c);
        if (t <= prev) increasing = 0;
        prev = t;
    }
    test_cond("wall clock stepped back", increasing && prev == 2002001);
    wall = 3000000;
    test_cond("catches up when the wall clock passes it", hlc_now(&c) == 3000000);

    test_section("observe");
    hlc_init(&c, fake_clock, &wall); /* a restart: last is 0 */
    hlc_observe(&c, 9000000);        /* max timestamp found by recovery */
    test_cond("continues above a recovered max", hlc_now(&c) == 9000001);
    hlc_observe(&c, 5);
    test_cond("observing an older ts changes nothing", hlc_now(&c) == 9000002);
    wall = 10000000;
    test_cond("wall clock again once ahead", hlc_now(&c) == 10000000);

    test_section("offset and default source");
    c.offset_us = -2000000;
    test_cond("negative skew cannot go back", hlc_now(&c) == 10000001);
    c.offset_us = 5000000;
    test_cond("positive skew applied", hlc_now(&c) == 15000000);
    hlc_init(&c, NULL, NULL);
    uint64_t a = hlc_now(&c), b = hlc_now(&c);
    test_cond("real clock: plausible and increasing", a > 1600000000000000ull && b > a);
    return test_report();
}
