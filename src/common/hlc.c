/* hlc.c -- see hlc.h. */
#include "common/hlc.h"

#include <time.h>

uint64_t hlc_wall_us(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void hlc_init(hlc *c, hlc_clock_fn clock, void *ctx)
{
    c->last = 0;
    c->clock = clock ? clock : hlc_wall_us;
    c->ctx = ctx;
    c->offset_us = 0;
}

uint64_t hlc_now(hlc *c)
{
    uint64_t wall = (uint64_t)((int64_t)c->clock(c->ctx) + c->offset_us);
    c->last = wall > c->last ? wall : c->last + 1;
    return c->last;
}

void hlc_observe(hlc *c, uint64_t ts)
{
    if (ts > c->last) c->last = ts;
}
