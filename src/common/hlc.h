/* hlc.h -- the hybrid logical clock that stamps every write.
 *
 * hlc_now() = max(wall clock in microseconds, last + 1): strictly increasing
 * even when the wall clock steps back, and close to real time when it does
 * not, so last-writer-wins between nodes follows real time where it can.
 * After recovery the server calls hlc_observe(max timestamp in the log), so
 * timestamps keep rising across restarts whatever the wall clock says.
 * The clock source is injectable so tests can step time back. */
#ifndef RKV_HLC_H
#define RKV_HLC_H

#include <stdint.h>

typedef uint64_t (*hlc_clock_fn)(void *ctx); /* returns microseconds */

typedef struct hlc {
    uint64_t last;      /* last timestamp handed out or observed */
    hlc_clock_fn clock; /* wall clock source */
    void *ctx;
    int64_t offset_us;  /* added to the source (tests inject skew) */
} hlc;

uint64_t hlc_wall_us(void *ctx); /* CLOCK_REALTIME in microseconds */
void hlc_init(hlc *c, hlc_clock_fn clock, void *ctx); /* clock NULL: hlc_wall_us */
uint64_t hlc_now(hlc *c);
void hlc_observe(hlc *c, uint64_t ts); /* last = max(last, ts) */

#endif
