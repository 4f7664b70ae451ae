/* ev.h -- the per-node event loop: epoll for descriptors, a cron callback
 * for deadlines, a before-sleep hook for batching.
 *
 * One loop per node and no globals, so several nodes can live in one process.
 * Shaped like Redis's ae: a handler per descriptor, and a before-sleep hook
 * where the node flushes what a whole iteration produced (WAL batch, frames
 * to followers, replies) with one syscall each instead of one per command.
 * Time-driven work (heartbeats, timeouts) runs in a cron callback that fires
 * every cron_ms; epoll_wait sleeps until then or until a descriptor is ready,
 * never spinning. */
#ifndef RKV_EV_H
#define RKV_EV_H

#include <stdint.h>

#define EV_READ 1u
#define EV_WRITE 2u
#define EV_HUP 4u /* the peer closed or the socket failed (always watched) */
#define EV_MAX_FDS (1024 * 64) /* highest descriptor number a loop accepts */

typedef struct ev_loop ev_loop;
/* events: EV_READ / EV_WRITE, plus EV_READ and EV_HUP on error/hangup so the
 * handler's read sees the EOF or error. A descriptor registered with only
 * EV_HUP is told about hangups and nothing else (a paused client). */
typedef void (*ev_fd_fn)(ev_loop *loop, int fd, void *data, unsigned events);
typedef void (*ev_hook_fn)(ev_loop *loop, void *data);

ev_loop *ev_new(void);
void ev_free(ev_loop *loop);
/* Registers or changes interest in FD. mask 0 removes it. 0 or -1. */
int ev_set(ev_loop *loop, int fd, unsigned mask, ev_fd_fn fn, void *data);
unsigned ev_mask(const ev_loop *loop, int fd);
void ev_set_cron(ev_loop *loop, int cron_ms, ev_hook_fn fn, void *data);
void ev_set_before_sleep(ev_loop *loop, ev_hook_fn fn, void *data);
/* Runs until ev_stop. Returns 0, or -1 if epoll_wait failed. */
int ev_run(ev_loop *loop);
/* One iteration: waits at most timeout_ms (-1: until the next cron). */
int ev_run_once(ev_loop *loop, int timeout_ms);
void ev_stop(ev_loop *loop);
/* FD has input buffered in user space (inside OpenSSL: bytes already read
 * from the socket and decrypted), which a level-triggered epoll cannot see.
 * The loop then does not sleep and calls FD's handler with EV_READ after
 * this iteration's events, once, while the handler is registered with
 * EV_READ (a paused reader keeps the mark until it reads again). ev_set(fd,
 * 0) forgets the mark. Costs nothing while no descriptor is marked. */
void ev_mark_pending(ev_loop *loop, int fd);
uint64_t ev_now_ms(void); /* CLOCK_MONOTONIC milliseconds */
uint64_t ev_now_us(void); /* CLOCK_MONOTONIC microseconds */

#endif
