/* faultproxy.c -- a TCP proxy that injects network faults between a leader
 * and a follower, controlled at run time over a text socket.
 *
 *   faultproxy --listen PORT --to HOST:PORT --control PORT
 *              [--bind ADDR] [--max-buffer BYTES]
 *
 * Ports may be 0 (any free port). The first line on stdout is always
 * "listening on PORT control on CPORT", so a test can read the ports back.
 * The leader's --followers entry points at the listen port; every accepted
 * connection gets its own connection to --to. Single-threaded, epoll,
 * level-triggered; stops on SIGTERM or SIGINT.
 *
 * Directions: "up" is what the proxy reads from the accepted side (the
 * leader) and writes to the dialled side (the follower); "down" is the
 * reverse. Each direction holds at most --max-buffer bytes (default 4 MiB);
 * when full, the proxy stops reading that source, so TCP flow control pushes
 * back on the sender and memory stays bounded.
 *
 * Control protocol: one command per line, one reply line each, starting with
 * "OK" or "ERR".
 *
 *   delay MS           hold every chunk MS milliseconds before forwarding it,
 *                      both directions (0 turns it off). Applies to bytes
 *                      read from now on.
 *   drop               close every current connection pair (both sockets).
 *   blackhole on|off   stop forwarding without closing: from now on bytes
 *                      read in either direction are discarded, as are bytes
 *                      already held. New connections are still accepted and
 *                      dialled, and their bytes discarded too. "off" resumes
 *                      forwarding of bytes read afterwards; a stream that
 *                      lost bytes in the middle is corrupt from then on, as
 *                      the receiver's framing will tell it.
 *   flip N [BIT]       flip bit BIT (0-7, default 0) of the byte at offset N
 *                      (0-based) of the up (leader->follower) stream of the
 *                      current connection, i.e. the most recently accepted
 *                      pair still open, counting from that connection's
 *                      first byte. ERR if that byte has already been read.
 *                      With no connection open, it applies to the next one
 *                      accepted; a connection that closes before byte N
 *                      passes hands the flip on to the next one. One shot.
 *                      Deterministic where the stream's layout is: a fresh
 *                      link to a follower that is behind starts with HELLO
 *                      and then the catch-up RECORDS frame.
 *   fliprec N [BIT]    flip bit BIT of byte N of the payload of the next
 *                      RECORDS frame (type 4, see src/repl/repl_proto.h:
 *                      12-byte header, little-endian u32 length first) read
 *                      from a leader, on any connection (frames are
 *                      tracked from each connection's first byte). Frames with a
 *                      payload of N bytes or fewer are skipped. One shot.
 *                      This is deterministic where "flip" is not: heartbeat
 *                      frames interleave with records at times a test cannot
 *                      predict.
 *   status             "OK conns=.. accepted=.. delay_ms=.. blackhole=..
 *                      up_bytes=.. down_bytes=.. flip_armed=..
 *                      fliprec_armed=.. flips_done=.. discarded=.."
 *                      (up/down_bytes: of the current connection).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"

#define FP_PAIRS_MAX 64
#define FP_CTLS_MAX 8
#define FP_CTL_LINE_MAX 256
#define FP_READ_CHUNK (64u * 1024u)
#define FP_DIR_MAX_DEFAULT (4u << 20)
#define FP_EVENTS_MAX 64
#define FP_FRAME_HDR 12u     /* repl_proto.h: len u32, type u8, pad 3, crc u32 */
#define FP_FRAME_RECORDS 4u  /* REPL_RECORDS */

/* epoll data: tag in the high half, index in the low half. */
enum fp_tag { TAG_LISTEN = 1, TAG_CTL_LISTEN, TAG_SIGNAL, TAG_CTL, TAG_PAIR_C, TAG_PAIR_S };

typedef struct fp_chunk {
    struct fp_chunk *next;
    uint64_t ready_ms;
    size_t off, len;
    uint8_t data[];
} fp_chunk;

typedef struct fp_dir {
    fp_chunk *head, *tail;
    size_t queued;     /* bytes held */
    uint64_t bytes_in; /* bytes read from the source on this connection */
    int eof;           /* the source half-closed */
    int shut;          /* the half-close was passed on */
} fp_dir;

typedef struct fp_pair {
    int used;
    uint64_t id;
    int cfd, sfd;     /* accepted (leader) side, dialled (follower) side */
    int connecting;   /* sfd's connect not finished yet */
    fp_dir up, down;
    unsigned cmask, smask;
    /* Frame tracking of the up stream, for fliprec. */
    uint8_t fh[FP_FRAME_HDR];
    size_t fh_have;
    uint64_t payload_left, payload_off;
    int in_records;
    /* A "flip" aimed at this connection. */
    int flip_armed;
    uint64_t flip_off;
    uint8_t flip_mask;
} fp_pair;

typedef struct fp_ctl {
    int fd;
    size_t len;
    char line[FP_CTL_LINE_MAX];
} fp_ctl;

typedef struct proxy {
    int efd, lfd, ctl_lfd, sigfd;
    char to_host[256];
    int to_port;
    size_t dir_max;
    net_keepalive ka;
    fp_pair pairs[FP_PAIRS_MAX];
    fp_ctl ctls[FP_CTLS_MAX];
    uint64_t delay_ms;
    int blackhole;
    int flip_next;          /* "flip" waiting for the next connection */
    uint64_t flip_next_off;
    uint8_t flip_next_mask;
    int fliprec_armed;
    uint64_t fliprec_off;
    uint8_t fliprec_mask;
    uint64_t accepted, next_id, flips_done, discarded;
    int stop;
} proxy;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t ev_data(enum fp_tag tag, int idx)
{
    return ((uint64_t)tag << 32) | (uint32_t)idx;
}

static int ep_add(proxy *px, int fd, unsigned mask, enum fp_tag tag, int idx)
{
    struct epoll_event e = {.events = mask, .data.u64 = ev_data(tag, idx)};
    return epoll_ctl(px->efd, EPOLL_CTL_ADD, fd, &e);
}

static void ep_mod(proxy *px, int fd, unsigned *cur, unsigned mask, enum fp_tag tag, int idx)
{
    if (*cur == mask) return;
    struct epoll_event e = {.events = mask, .data.u64 = ev_data(tag, idx)};
    if (epoll_ctl(px->efd, EPOLL_CTL_MOD, fd, &e) == 0) *cur = mask;
}

/* ---- connection pairs ---- */

static void dir_clear(fp_dir *d)
{
    while (d->head) {
        fp_chunk *c = d->head;
        d->head = c->next;
        free(c);
    }
    d->tail = NULL;
    d->queued = 0;
}

static void pair_close(proxy *px, fp_pair *p)
{
    if (!p->used) return;
    if (p->flip_armed && !px->flip_next) { /* not reached: carry it over */
        px->flip_next = 1;
        px->flip_next_off = p->flip_off;
        px->flip_next_mask = p->flip_mask;
    }
    if (p->cfd >= 0) close(p->cfd); /* close() also removes it from epoll */
    if (p->sfd >= 0) close(p->sfd);
    dir_clear(&p->up);
    dir_clear(&p->down);
    memset(p, 0, sizeof *p);
    p->cfd = p->sfd = -1;
}

/* The most recently accepted pair still open, or NULL. */
static fp_pair *pair_current(proxy *px)
{
    fp_pair *best = NULL;
    for (int i = 0; i < FP_PAIRS_MAX; i++)
        if (px->pairs[i].used && (!best || px->pairs[i].id > best->id)) best = &px->pairs[i];
    return best;
}

static void on_accept(proxy *px)
{
    for (;;) {
        char err[256];
        int cfd = net_accept(px->lfd, &px->ka, NULL, 0, err, sizeof err);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) fprintf(stderr, "faultproxy: %s\n", err);
            return;
        }
        int idx = -1;
        for (int i = 0; i < FP_PAIRS_MAX && idx < 0; i++)
            if (!px->pairs[i].used) idx = i;
        int sfd = idx < 0 ? -1 : net_connect(px->to_host, px->to_port, 1, &px->ka, err, sizeof err);
        if (sfd < 0) {
            if (idx >= 0) fprintf(stderr, "faultproxy: %s\n", err);
            close(cfd); /* the peer sees the refusal as a closed connection */
            continue;
        }
        fp_pair *p = &px->pairs[idx];
        memset(p, 0, sizeof *p);
        p->used = 1;
        p->id = ++px->next_id;
        p->cfd = cfd;
        p->sfd = sfd;
        p->connecting = 1;
        p->cmask = EPOLLIN;
        p->smask = EPOLLOUT;
        if (px->flip_next) {
            p->flip_armed = 1;
            p->flip_off = px->flip_next_off;
            p->flip_mask = px->flip_next_mask;
            px->flip_next = 0;
        }
        px->accepted++;
        if (ep_add(px, cfd, p->cmask, TAG_PAIR_C, idx) < 0 ||
            ep_add(px, sfd, p->smask, TAG_PAIR_S, idx) < 0)
            pair_close(px, p);
    }
}

/* Flips and frame tracking on BUF[0..n), which starts at up-stream offset
 * p->up.bytes_in. The frame walker only needs each header's length and
 * type; it never trusts a length beyond skipping that many bytes. Bytes a
 * blackhole discards are tracked but never flipped: a flip is spent only on
 * bytes that reach the follower. */
static void up_inspect(proxy *px, fp_pair *p, uint8_t *buf, size_t n)
{
    uint64_t base = p->up.bytes_in;
    int live = !px->blackhole;
    if (live && p->flip_armed && p->flip_off >= base && p->flip_off < base + n) {
        buf[p->flip_off - base] ^= p->flip_mask;
        p->flip_armed = 0;
        px->flips_done++;
    }
    size_t i = 0;
    while (i < n) {
        if (p->payload_left == 0) {
            p->fh[p->fh_have++] = buf[i++];
            if (p->fh_have < FP_FRAME_HDR) continue;
            p->fh_have = 0;
            p->payload_left = (uint64_t)p->fh[0] | (uint64_t)p->fh[1] << 8 |
                              (uint64_t)p->fh[2] << 16 | (uint64_t)p->fh[3] << 24;
            p->payload_off = 0;
            p->in_records = p->fh[4] == FP_FRAME_RECORDS;
            continue;
        }
        size_t take = n - i < p->payload_left ? n - i : (size_t)p->payload_left;
        if (live && p->in_records && px->fliprec_armed && px->fliprec_off >= p->payload_off &&
            px->fliprec_off < p->payload_off + take) {
            buf[i + (px->fliprec_off - p->payload_off)] ^= px->fliprec_mask;
            px->fliprec_armed = 0;
            px->flips_done++;
        }
        i += take;
        p->payload_off += take;
        p->payload_left -= take;
    }
}

/* Reads what FD offers into D. 0 ok (or nothing now), -1: close the pair. */
static int pair_read(proxy *px, fp_pair *p, int fd, fp_dir *d, int is_up)
{
    if (d->eof || d->queued >= px->dir_max) return 0;
    uint8_t buf[FP_READ_CHUNK];
    size_t room = px->dir_max - d->queued;
    ssize_t r = read(fd, buf, room < sizeof buf ? room : sizeof buf);
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if (r == 0) {
        d->eof = 1;
        return 0;
    }
    if (is_up) up_inspect(px, p, buf, (size_t)r);
    d->bytes_in += (uint64_t)r;
    if (px->blackhole) {
        px->discarded += (uint64_t)r;
        return 0;
    }
    fp_chunk *c = malloc(sizeof *c + (size_t)r);
    if (!c) return -1;
    c->next = NULL;
    c->ready_ms = now_ms() + px->delay_ms;
    c->off = 0;
    c->len = (size_t)r;
    memcpy(c->data, buf, (size_t)r);
    if (d->tail) d->tail->next = c;
    else d->head = c;
    d->tail = c;
    d->queued += (size_t)r;
    return 0;
}

/* Writes D's chunks that are due to FD. 0 ok, -1: close the pair. */
static int pair_flush(fp_dir *d, int fd, uint64_t now)
{
    while (d->head && d->head->ready_ms <= now) {
        fp_chunk *c = d->head;
        ssize_t w = send(fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->off += (size_t)w;
        d->queued -= (size_t)w;
        if (c->off < c->len) return 0;
        d->head = c->next;
        if (!d->head) d->tail = NULL;
        free(c);
    }
    if (!d->head && d->eof && !d->shut) {
        shutdown(fd, SHUT_WR); /* pass the half-close on */
        d->shut = 1;
    }
    return 0;
}

static unsigned want_mask(const proxy *px, const fp_dir *in, const fp_dir *out, uint64_t now)
{
    unsigned m = 0;
    if (!in->eof && in->queued < px->dir_max) m |= EPOLLIN;
    if (out->head && out->head->ready_ms <= now) m |= EPOLLOUT;
    return m;
}

/* After any event: move due data, pass on half-closes, close finished
 * pairs, and ask epoll for what each socket needs next. */
static void pair_service(proxy *px, fp_pair *p, int idx, uint64_t now)
{
    if (!p->connecting && (pair_flush(&p->up, p->sfd, now) < 0 ||
                           pair_flush(&p->down, p->cfd, now) < 0)) {
        pair_close(px, p);
        return;
    }
    if (p->up.shut && p->down.shut) {
        pair_close(px, p);
        return;
    }
    ep_mod(px, p->cfd, &p->cmask, want_mask(px, &p->up, &p->down, now), TAG_PAIR_C, idx);
    unsigned sm = p->connecting ? EPOLLOUT : want_mask(px, &p->down, &p->up, now);
    ep_mod(px, p->sfd, &p->smask, sm, TAG_PAIR_S, idx);
}

static void on_pair_event(proxy *px, int idx, int server_side, unsigned events)
{
    fp_pair *p = &px->pairs[idx];
    if (!p->used) return;
    if (server_side && p->connecting) {
        char err[256];
        if (net_connect_finished(p->sfd, err, sizeof err) < 0) {
            fprintf(stderr, "faultproxy: %s:%d: %s\n", px->to_host, px->to_port, err);
            pair_close(px, p);
            return;
        }
        p->connecting = 0;
    }
    int rc = 0;
    if (events & EPOLLERR) {
        pair_close(px, p); /* reset or unreachable: the pair is over */
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP)) {
        if (server_side && !p->connecting) rc = pair_read(px, p, p->sfd, &p->down, 0);
        else if (!server_side) rc = pair_read(px, p, p->cfd, &p->up, 1);
    }
    if (rc < 0) pair_close(px, p);
}

/* ---- control socket ---- */

static void ctl_reply(fp_ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ctl_reply(fp_ctl *c, const char *fmt, ...)
{
    char out[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, sizeof out - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof out - 2) n = (int)sizeof out - 2;
    out[n++] = '\n';
    /* Replies are one short line: the socket buffer takes it whole. */
    ssize_t w = send(c->fd, out, (size_t)n, MSG_NOSIGNAL);
    (void)w;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int parse_bit(const char *s, uint8_t *mask)
{
    uint64_t b = 0;
    if (s && (parse_u64(s, &b) < 0 || b > 7)) return -1;
    *mask = (uint8_t)(1u << b);
    return 0;
}

static void cmd_status(proxy *px, fp_ctl *c)
{
    int conns = 0;
    for (int i = 0; i < FP_PAIRS_MAX; i++) conns += px->pairs[i].used;
    fp_pair *cur = pair_current(px);
    ctl_reply(c,
              "OK conns=%d accepted=%llu delay_ms=%llu blackhole=%d up_bytes=%llu down_bytes=%llu "
              "flip_armed=%d fliprec_armed=%d flips_done=%llu discarded=%llu",
              conns, (unsigned long long)px->accepted, (unsigned long long)px->delay_ms,
              px->blackhole, (unsigned long long)(cur ? cur->up.bytes_in : 0),
              (unsigned long long)(cur ? cur->down.bytes_in : 0),
              (cur && cur->flip_armed) || px->flip_next, px->fliprec_armed,
              (unsigned long long)px->flips_done, (unsigned long long)px->discarded);
}

static void cmd_flip(proxy *px, fp_ctl *c, const char *off, const char *bit)
{
    uint64_t n;
    uint8_t mask;
    if (parse_u64(off, &n) < 0 || parse_bit(bit, &mask) < 0) {
        ctl_reply(c, "ERR usage: flip N [BIT]");
        return;
    }
    fp_pair *cur = pair_current(px);
    if (!cur) {
        px->flip_next = 1;
        px->flip_next_off = n;
        px->flip_next_mask = mask;
        ctl_reply(c, "OK flip armed for the next connection at %llu", (unsigned long long)n);
    } else if (n < cur->up.bytes_in) {
        ctl_reply(c, "ERR offset %llu already forwarded on connection %llu (at %llu)",
                  (unsigned long long)n, (unsigned long long)cur->id,
                  (unsigned long long)cur->up.bytes_in);
    } else {
        cur->flip_armed = 1;
        cur->flip_off = n;
        cur->flip_mask = mask;
        ctl_reply(c, "OK flip armed on connection %llu at %llu (now at %llu)",
                  (unsigned long long)cur->id, (unsigned long long)n,
                  (unsigned long long)cur->up.bytes_in);
    }
}

static void cmd_blackhole(proxy *px, fp_ctl *c, const char *arg)
{
    if (!arg || (strcmp(arg, "on") && strcmp(arg, "off"))) {
        ctl_reply(c, "ERR usage: blackhole on|off");
        return;
    }
    px->blackhole = strcmp(arg, "on") == 0;
    if (px->blackhole)
        for (int i = 0; i < FP_PAIRS_MAX; i++) {
            fp_pair *p = &px->pairs[i];
            if (!p->used) continue;
            px->discarded += p->up.queued + p->down.queued;
            dir_clear(&p->up);
            dir_clear(&p->down);
        }
    ctl_reply(c, "OK blackhole %s", arg);
}

static void ctl_exec(proxy *px, fp_ctl *c, char *line)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r", &save);
    char *a1 = strtok_r(NULL, " \t\r", &save);
    char *a2 = strtok_r(NULL, " \t\r", &save);
    uint64_t v;
    if (!cmd) {
        ctl_reply(c, "ERR empty command");
    } else if (strcmp(cmd, "delay") == 0) {
        if (parse_u64(a1, &v) < 0 || v > 600000) {
            ctl_reply(c, "ERR usage: delay MS (0..600000)");
            return;
        }
        px->delay_ms = v;
        ctl_reply(c, "OK delay %llu", (unsigned long long)v);
    } else if (strcmp(cmd, "drop") == 0) {
        int k = 0;
        for (int i = 0; i < FP_PAIRS_MAX; i++)
            if (px->pairs[i].used) {
                pair_close(px, &px->pairs[i]);
                k++;
            }
        ctl_reply(c, "OK dropped %d", k);
    } else if (strcmp(cmd, "blackhole") == 0) {
        cmd_blackhole(px, c, a1);
    } else if (strcmp(cmd, "flip") == 0) {
        cmd_flip(px, c, a1, a2);
    } else if (strcmp(cmd, "fliprec") == 0) {
        if (parse_u64(a1, &v) < 0 || parse_bit(a2, &px->fliprec_mask) < 0) {
            ctl_reply(c, "ERR usage: fliprec N [BIT]");
            return;
        }
        px->fliprec_armed = 1;
        px->fliprec_off = v;
        ctl_reply(c, "OK fliprec armed at payload byte %llu", (unsigned long long)v);
    } else if (strcmp(cmd, "status") == 0) {
        cmd_status(px, c);
    } else {
        ctl_reply(c, "ERR unknown command '%.64s'", cmd);
    }
}

static void ctl_close(fp_ctl *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void on_ctl_read(proxy *px, fp_ctl *c)
{
    char buf[FP_CTL_LINE_MAX];
    ssize_t r = read(c->fd, buf, sizeof buf);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
        ctl_close(c);
        return;
    }
    for (ssize_t i = 0; i < r; i++) {
        if (buf[i] == '\n') {
            c->line[c->len] = 0;
            c->len = 0;
            ctl_exec(px, c, c->line);
        } else if (c->len < sizeof c->line - 1) {
            c->line[c->len++] = buf[i];
        } else {
            ctl_reply(c, "ERR line too long");
            ctl_close(c);
            return;
        }
    }
}

static void on_ctl_accept(proxy *px)
{
    for (;;) {
        char err[256];
        int fd = net_accept(px->ctl_lfd, &px->ka, NULL, 0, err, sizeof err);
        if (fd < 0) return;
        int idx = -1;
        for (int i = 0; i < FP_CTLS_MAX && idx < 0; i++)
            if (px->ctls[i].fd < 0) idx = i;
        if (idx < 0 || ep_add(px, fd, EPOLLIN, TAG_CTL, idx) < 0) {
            close(fd);
            continue;
        }
        px->ctls[idx].fd = fd;
        px->ctls[idx].len = 0;
    }
}

/* ---- main loop ---- */

static int next_timeout_ms(const proxy *px, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < FP_PAIRS_MAX; i++) {
        const fp_pair *p = &px->pairs[i];
        if (!p->used) continue;
        if (p->up.head && p->up.head->ready_ms < next) next = p->up.head->ready_ms;
        if (p->down.head && p->down.head->ready_ms < next) next = p->down.head->ready_ms;
    }
    if (next == UINT64_MAX) return -1;
    return next <= now ? 0 : (int)(next - now);
}

static void dispatch(proxy *px, const struct epoll_event *e)
{
    enum fp_tag tag = (enum fp_tag)(e->data.u64 >> 32);
    int idx = (int)(uint32_t)e->data.u64;
    switch (tag) {
    case TAG_LISTEN: on_accept(px); break;
    case TAG_CTL_LISTEN: on_ctl_accept(px); break;
    case TAG_SIGNAL: px->stop = 1; break;
    case TAG_CTL: if (px->ctls[idx].fd >= 0) on_ctl_read(px, &px->ctls[idx]); break;
    case TAG_PAIR_C: on_pair_event(px, idx, 0, e->events); break;
    case TAG_PAIR_S: on_pair_event(px, idx, 1, e->events); break;
    }
}

static int run(proxy *px)
{
    struct epoll_event evs[FP_EVENTS_MAX];
    while (!px->stop) {
        int n = epoll_wait(px->efd, evs, FP_EVENTS_MAX, next_timeout_ms(px, now_ms()));
        if (n < 0 && errno != EINTR) {
            perror("faultproxy: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) dispatch(px, &evs[i]);
        uint64_t now = now_ms();
        for (int i = 0; i < FP_PAIRS_MAX; i++)
            if (px->pairs[i].used) pair_service(px, &px->pairs[i], i, now);
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: faultproxy --listen PORT --to HOST:PORT --control PORT "
                    "[--bind ADDR] [--max-buffer BYTES]\n");
    exit(2);
}

static int setup(proxy *px, const char *bind, int lport, int cport)
{
    char err[256];
    int bound_l = 0, bound_c = 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    px->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    px->efd = epoll_create1(EPOLL_CLOEXEC);
    px->lfd = net_listen(bind, lport, &bound_l, err, sizeof err); /* SO_REUSEADDR */
    if (px->lfd < 0) goto fail;
    px->ctl_lfd = net_listen(bind, cport, &bound_c, err, sizeof err);
    if (px->ctl_lfd < 0) goto fail;
    if (px->sigfd < 0 || px->efd < 0 || ep_add(px, px->lfd, EPOLLIN, TAG_LISTEN, 0) < 0 ||
        ep_add(px, px->ctl_lfd, EPOLLIN, TAG_CTL_LISTEN, 0) < 0 ||
        ep_add(px, px->sigfd, EPOLLIN, TAG_SIGNAL, 0) < 0) {
        snprintf(err, sizeof err, "epoll/signalfd: %s", strerror(errno));
        goto fail;
    }
    printf("listening on %d control on %d\n", bound_l, bound_c);
    fflush(stdout);
    return 0;
fail:
    fprintf(stderr, "faultproxy: %s\n", err);
    return -1;
}

int main(int argc, char **argv)
{
    static proxy px; /* large: keep it off the stack */
    const char *bind = "127.0.0.1", *to = NULL;
    int lport = -1, cport = -1;
    px.dir_max = FP_DIR_MAX_DEFAULT;
    /* Like the nodes: a peer that vanished without a FIN is noticed in
     * idle + interval * count = 4 s instead of the kernel's two hours. */
    px.ka = (net_keepalive)NET_KEEPALIVE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--listen") == 0) lport = atoi(argv[++i]);
        else if (strcmp(argv[i], "--control") == 0) cport = atoi(argv[++i]);
        else if (strcmp(argv[i], "--to") == 0) to = argv[++i];
        else if (strcmp(argv[i], "--bind") == 0) bind = argv[++i];
        else if (strcmp(argv[i], "--max-buffer") == 0) px.dir_max = (size_t)atoll(argv[++i]);
        else usage();
    }
    if (lport < 0 || cport < 0 || !to || px.dir_max < FP_READ_CHUNK ||
        net_parse_hostport(to, px.to_host, sizeof px.to_host, &px.to_port) < 0)
        usage();
    for (int i = 0; i < FP_PAIRS_MAX; i++) px.pairs[i].cfd = px.pairs[i].sfd = -1;
    for (int i = 0; i < FP_CTLS_MAX; i++) px.ctls[i].fd = -1;
    if (setup(&px, bind, lport, cport) < 0) return 1;
    int rc = run(&px);
    for (int i = 0; i < FP_PAIRS_MAX; i++) pair_close(&px, &px.pairs[i]);
    for (int i = 0; i < FP_CTLS_MAX; i++)
        if (px.ctls[i].fd >= 0) ctl_close(&px.ctls[i]);
    close(px.lfd);
    close(px.ctl_lfd);
    close(px.sigfd);
    close(px.efd);
    return rc;
}
