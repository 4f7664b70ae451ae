/* ev.c -- epoll event loop (see ev.h). */
#include "net/ev.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EV_BATCH 256 /* events fetched per epoll_wait */

typedef struct ev_handler {
    ev_fd_fn fn;
    void *data;
    unsigned mask;
    int pending; /* on the pending list (ev_mark_pending) */
} ev_handler;

struct ev_loop {
    int epfd;
    int stop;
    ev_handler *h; /* indexed by fd, grown on demand up to EV_MAX_FDS */
    int nh;
    int cron_ms;
    uint64_t next_cron_ms;
    ev_hook_fn cron, before_sleep;
    void *cron_data, *before_sleep_data;
    int *pend; /* descriptors marked by ev_mark_pending */
    int npend, pend_cap;
};

uint64_t ev_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ev_now_ms(void)
{
    return ev_now_us() / 1000u;
}

ev_loop *ev_new(void)
{
    ev_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->cron_ms = 100;
    return l;
}

void ev_free(ev_loop *l)
{
    if (!l) return;
    close(l->epfd);
    free(l->h);
    free(l->pend);
    free(l);
}

static int ev_grow(ev_loop *l, int fd)
{
    if (fd < l->nh) return 0;
    if (fd >= EV_MAX_FDS) {
        errno = EMFILE;
        return -1;
    }
    int n = l->nh ? l->nh : 64;
    while (n <= fd) n *= 2;
    if (n > EV_MAX_FDS) n = EV_MAX_FDS;
    ev_handler *h = realloc(l->h, (size_t)n * sizeof *h);
    if (!h) return -1;
    for (int i = l->nh; i < n; i++) h[i] = (ev_handler){0};
    l->h = h;
    l->nh = n;
    return 0;
}

int ev_set(ev_loop *l, int fd, unsigned mask, ev_fd_fn fn, void *data)
{
    if (fd < 0 || ev_grow(l, fd) < 0) return -1;
    ev_handler *h = &l->h[fd];
    struct epoll_event ee = {0};
    ee.data.fd = fd;
    if (mask & EV_READ) ee.events |= EPOLLIN;
    if (mask & EV_WRITE) ee.events |= EPOLLOUT;
    if (mask) ee.events |= EPOLLRDHUP;
    int op = h->mask == 0 ? EPOLL_CTL_ADD : (mask == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    if (h->mask != 0 || mask != 0) {
        int rc = epoll_ctl(l->epfd, op, fd, &ee);
        /* The descriptor was closed and its number reused without ev_set(0):
         * epoll forgot it, so register it afresh. */
        if (rc < 0 && errno == ENOENT && op == EPOLL_CTL_MOD)
            rc = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee);
        if (rc < 0 && errno == ENOENT && op == EPOLL_CTL_DEL) rc = 0;
        if (rc < 0) return -1;
    }
    h->mask = mask;
    if (!mask) h->pending = 0; /* closed: a reused number starts unmarked */
    h->fn = mask ? fn : NULL;
    h->data = mask ? data : NULL;
    return 0;
}

unsigned ev_mask(const ev_loop *l, int fd)
{
    return (fd >= 0 && fd < l->nh) ? l->h[fd].mask : 0;
}

void ev_mark_pending(ev_loop *l, int fd)
{
    if (fd < 0 || fd >= l->nh || l->h[fd].pending || !l->h[fd].mask) return;
    if (l->npend == l->pend_cap) {
        int cap = l->pend_cap ? l->pend_cap * 2 : 16;
        int *p = realloc(l->pend, (size_t)cap * sizeof *p);
        if (!p) return; /* the next socket event reads it instead */
        l->pend = p;
        l->pend_cap = cap;
    }
    l->pend[l->npend++] = fd;
    l->h[fd].pending = 1;
}

/* Is a marked descriptor ready to be called now (registered for reading)? */
static int ev_pending_ready(const ev_loop *l)
{
    for (int i = 0; i < l->npend; i++) {
        const ev_handler *h = &l->h[l->pend[i]];
        if (h->pending && (h->mask & EV_READ)) return 1;
    }
    return 0;
}

/* Calls the handlers of marked descriptors registered for reading; keeps
 * the marks of paused ones, drops those ev_set(0) cleared. */
static void ev_run_pending(ev_loop *l)
{
    int n = l->npend, kept = 0;
    int batch[EV_BATCH];
    if (n > EV_BATCH) n = EV_BATCH; /* the rest wait for the next iteration */
    for (int i = 0; i < n; i++) batch[i] = l->pend[i];
    /* The list may grow while handlers run: move the unprocessed tail first. */
    for (int i = n; i < l->npend; i++) l->pend[i - n] = l->pend[i];
    l->npend -= n;
    for (int i = 0; i < n; i++) {
        int fd = batch[i];
        ev_handler *h = &l->h[fd];
        if (!h->pending) continue;
        if (!(h->mask & EV_READ) || !h->fn) {
            batch[kept++] = fd;
            continue;
        }
        h->pending = 0; /* the handler's read marks it again if bytes are left */
        h->fn(l, fd, h->data, EV_READ);
    }
    for (int i = 0; i < kept; i++) {
        /* kept <= n: batch[0..kept) was written in the loop above */
        // cppcheck-suppress uninitvar
        int fd = batch[i];
        if (!l->h[fd].pending) continue;
        l->h[fd].pending = 0;
        ev_mark_pending(l, fd);
    }
}

void ev_set_cron(ev_loop *l, int cron_ms, ev_hook_fn fn, void *data)
{
    l->cron_ms = cron_ms > 0 ? cron_ms : 100;
    l->cron = fn;
    l->cron_data = data;
    l->next_cron_ms = ev_now_ms() + (uint64_t)l->cron_ms;
}

void ev_set_before_sleep(ev_loop *l, ev_hook_fn fn, void *data)
{
    l->before_sleep = fn;
    l->before_sleep_data = data;
}

void ev_stop(ev_loop *l)
{
    l->stop = 1;
}

int ev_run_once(ev_loop *l, int timeout_ms)
{
    if (l->before_sleep) l->before_sleep(l, l->before_sleep_data);
    uint64_t now = ev_now_ms();
    int wait_ms = timeout_ms;
    if (l->cron) {
        int to_cron = l->next_cron_ms > now ? (int)(l->next_cron_ms - now) : 0;
        if (wait_ms < 0 || to_cron < wait_ms) wait_ms = to_cron;
    }
    if (l->npend && ev_pending_ready(l)) wait_ms = 0;
    struct epoll_event evs[EV_BATCH];
    int n = epoll_wait(l->epfd, evs, EV_BATCH, wait_ms);
    if (n < 0) {
        if (errno == EINTR) return 0;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        unsigned mask = 0;
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) mask |= EV_READ;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= EV_WRITE;
        if (evs[i].events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) mask |= EV_HUP;
        /* Re-check each time: an earlier handler may have closed this fd. */
        if (fd < l->nh && l->h[fd].fn) {
            mask &= l->h[fd].mask | EV_READ | EV_HUP;
            l->h[fd].fn(l, fd, l->h[fd].data, mask);
        }
    }
    if (l->npend) ev_run_pending(l);
    if (l->cron && ev_now_ms() >= l->next_cron_ms) {
        l->next_cron_ms = ev_now_ms() + (uint64_t)l->cron_ms;
        l->cron(l, l->cron_data);
    }
    return 0;
}

int ev_run(ev_loop *l)
{
    l->stop = 0;
    while (!l->stop)
        if (ev_run_once(l, -1) < 0) return -1;
    return 0;
}
