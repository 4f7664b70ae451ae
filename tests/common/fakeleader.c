/* fakeleader.c -- a test playing the leader to a real follower, and the LWW
 * record sets it ships (see fakeleader.h for the why). */
#include "fakeleader.h"

#include "repl/repl_auth.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "wal/wal_record.h"

#define LWW_TS_BASE 1700000000000000ull /* Nov 2023, microseconds: in the past */
#define LWW_NODES 3                     /* origin node ids 1..3 */

static long long fl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fl_fail(fake_leader *fl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fl_fail(fake_leader *fl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fl->err, sizeof fl->err, fmt, ap);
    va_end(ap);
}

/* Waits for EVENTS until DEADLINE; 0 ready, -1 timeout/error. */
static int fl_poll(fake_leader *fl, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - fl_now_ms();
        if (left <= 0) {
            fl_fail(fl, "timeout");
            return -1;
        }
        struct pollfd p = {fl->fd, events, 0};
        int r = poll(&p, 1, (int)left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) {
            fl_fail(fl, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

static int fl_send(fake_leader *fl, const uint8_t *p, size_t len)
{
    long long deadline = fl_now_ms() + fl->timeout_ms;
    while (len > 0) {
        ssize_t w = send(fl->fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (errno == EAGAIN && fl_poll(fl, POLLOUT, deadline) != 0) return -1;
        } else {
            fl_fail(fl, "send: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Reads more bytes before DEADLINE. 0 got some, -1 timeout/error/EOF. */
static int fl_read_more(fake_leader *fl, long long deadline)
{
    if (fl->in_cap - fl->in_len < 4096) {
        size_t cap = fl->in_cap ? fl->in_cap * 2 : 16384;
        if (cap > FL_IN_MAX) {
            fl_fail(fl, "follower sent more than %u unparsed bytes", FL_IN_MAX);
            return -1;
        }
        uint8_t *p = realloc(fl->in, cap);
        if (!p) {
            fl_fail(fl, "out of memory");
            return -1;
        }
        fl->in = p;
        fl->in_cap = cap;
    }
    for (;;) {
        ssize_t r = recv(fl->fd, fl->in + fl->in_len, fl->in_cap - fl->in_len, 0);
        if (r > 0) {
            fl->in_len += (size_t)r;
            return 0;
        }
        if (r == 0) {
            fl->eof = 1;
            fl_fail(fl, "connection closed by the follower");
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (fl_poll(fl, POLLIN, deadline) != 0) return -1;
        } else if (errno == ECONNRESET) {
            /* The peer closed with our bytes unread (it dropped the link
             * mid-stream): a close, as far as a test waiting for one cares. */
            fl->eof = 1;
            return 0;
        } else if (errno != EINTR) {
            fl_fail(fl, "recv: %s", strerror(errno));
            return -1;
        }
    }
}

/* The next frame from the follower: its type, and its payload copied into
 * PAYLOAD (room for REPL_CTRL_MAX bytes; follower frames are control
 * frames). 0 or -1. */
static int fl_next_frame(fake_leader *fl, uint8_t *type, uint8_t *payload, uint32_t *plen,
                         long long deadline)
{
    for (;;) {
        repl_frame f;
        size_t used;
        char err[160];
        repl_status st = repl_frame_parse(fl->in, fl->in_len, &f, &used, err, sizeof err);
        if (st == REPL_BAD) {
            fl_fail(fl, "bad frame from the follower: %s", err);
            return -1;
        }
        if (st == REPL_OK) {
            if (f.len > REPL_CTRL_MAX) {
                fl_fail(fl, "unexpectedly large frame (%u bytes) from the follower", f.len);
                return -1;
            }
            *type = f.type;
            memcpy(payload, f.payload, f.len);
            *plen = f.len;
            memmove(fl->in, fl->in + used, fl->in_len - used);
            fl->in_len -= used;
            return 0;
        }
        if (fl_read_more(fl, deadline) != 0) return -1;
    }
}

int fl_dial(fake_leader *fl, const char *host, int port, int timeout_ms)
{
    memset(fl, 0, sizeof *fl);
    fl->timeout_ms = timeout_ms;
    fl->fd = net_connect(host, port, 0, NULL, fl->err, sizeof fl->err);
    if (fl->fd < 0) return -1;
    if (net_set_nonblock(fl->fd, 1) != 0) {
        fl_fail(fl, "nonblock: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int fl_send_raw(fake_leader *fl, const uint8_t *p, size_t len)
{
    return fl_send(fl, p, len);
}

int fl_read_frame(fake_leader *fl, uint8_t *type, uint8_t *payload, uint32_t *plen, int timeout_ms)
{
    return fl_next_frame(fl, type, payload, plen, fl_now_ms() + timeout_ms);
}

/* The dialler's side of repl_auth.h with secret S (purpose: a link). */
static int fl_auth(fake_leader *fl, uint32_t leader_id, const repl_secret *s)
{
    repl_auth_msg m, ch, pr;
    uint8_t nonce[RKV_NONCE_LEN];
    if (repl_auth_start(&m, REPL_AUTH_PURPOSE_LINK, leader_id, "rkv", nonce) < 0) return -1;
    uint8_t frame[REPL_CTRL_MAX];
    if (fl_send(fl, frame, repl_encode_auth(frame, &m)) != 0) return -1;
    uint8_t type, payload[REPL_CTRL_MAX];
    uint32_t plen;
    if (fl_next_frame(fl, &type, payload, &plen, fl_now_ms() + fl->timeout_ms) != 0) return -1;
    repl_frame f = {type, payload, plen};
    if (type == REPL_REFUSE) {
        char reason[REPL_REASON_MAX + 1];
        repl_decode_refuse(&f, reason, sizeof reason);
        fl_fail(fl, "follower refused the AUTH: %s", reason);
        return -1;
    }
    if (repl_decode_challenge(&f, &ch) != 0) {
        fl_fail(fl, "expected AUTH_CHALLENGE, got frame type %u", type);
        return -1;
    }
    memset(&pr, 0, sizeof pr);
    if (repl_auth_mac(s, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, leader_id, ch.id,
                      m.nonce, ch.nonce, pr.mac) != 0)
        return -1;
    return fl_send(fl, frame, repl_encode_proof(frame, &pr));
}

int fl_connect(fake_leader *fl, const char *host, int port, uint32_t leader_id, uint64_t epoch,
               int timeout_ms)
{
    return fl_connect_secret(fl, host, port, leader_id, epoch, timeout_ms, NULL);
}

int fl_connect_secret(fake_leader *fl, const char *host, int port, uint32_t leader_id,
                      uint64_t epoch, int timeout_ms, const repl_secret *secret)
{
    if (fl_dial(fl, host, port, timeout_ms) != 0) return -1;
    if (secret && fl_auth(fl, leader_id, secret) != 0) return -1;
    repl_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.cluster_id, sizeof h.cluster_id, "rkv");
    h.node_id = leader_id;
    h.epoch = epoch;
    uint8_t frame[REPL_CTRL_MAX];
    if (fl_send(fl, frame, repl_encode_hello(frame, &h)) != 0) return -1;
    uint8_t type, payload[REPL_CTRL_MAX];
    uint32_t plen;
    if (fl_next_frame(fl, &type, payload, &plen, fl_now_ms() + timeout_ms) != 0) return -1;
    repl_frame f = {type, payload, plen};
    if (type == REPL_REFUSE) {
        char reason[REPL_REASON_MAX + 1];
        repl_decode_refuse(&f, reason, sizeof reason);
        fl_fail(fl, "follower refused the HELLO: %s", reason);
        return -1;
    }
    if (type != REPL_HELLO_OK || repl_decode_hello_ok(&f, &fl->ok) != 0) {
        fl_fail(fl, "expected HELLO_OK, got frame type %u", type);
        return -1;
    }
    return 0;
}

int fl_send_beat(fake_leader *fl, uint8_t type, uint64_t a, uint64_t b, uint64_t c)
{
    uint8_t frame[REPL_CTRL_MAX];
    repl_beat beat = {a, b, c};
    return fl_send(fl, frame, repl_encode_beat(frame, type, &beat));
}

int fl_send_records(fake_leader *fl, const uint8_t *buf, size_t len, size_t max_frame_bytes)
{
    uint8_t *frame = malloc(REPL_FRAME_HDR + len);
    if (!frame) {
        fl_fail(fl, "out of memory");
        return -1;
    }
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        size_t take = 0; /* whole records, at least one */
        while (off + take < len) {
            size_t rl = wal_get_u32(buf + off + take);
            if (take > 0 && max_frame_bytes && take + rl > max_frame_bytes) break;
            take += rl;
        }
        memcpy(frame + REPL_FRAME_HDR, buf + off, take);
        repl_frame_header(frame, REPL_RECORDS, frame + REPL_FRAME_HDR, (uint32_t)take);
        rc = fl_send(fl, frame, REPL_FRAME_HDR + take);
        /* A leader vouches for what it sent and says it is committed (a
         * follower applies only what a COMMIT frame covers): the highest
         * LSN of this frame, which is the last record's in a test's order
         * or above it. */
        uint64_t hi = 0;
        for (size_t o = off; o < off + take && o + 16 <= len; o += wal_get_u32(buf + o)) {
            uint64_t lsn = wal_get_u64(buf + o + 8);
            if (lsn > hi) hi = lsn;
            if (wal_get_u32(buf + o) == 0) break;
        }
        if (rc == 0 && hi && !fl->no_commit) {
            uint8_t cf[REPL_CTRL_MAX];
            repl_beat b = {hi, hi, 0};
            rc = fl_send(fl, cf, repl_encode_beat(cf, REPL_COMMIT, &b));
        }
        off += take;
    }
    free(frame);
    return rc;
}

int fl_wait_ack(fake_leader *fl, uint64_t lsn, int timeout_ms)
{
    long long deadline = fl_now_ms() + timeout_ms;
    while (fl->acked < lsn) {
        uint8_t type, payload[REPL_CTRL_MAX];
        uint32_t plen;
        if (fl_next_frame(fl, &type, payload, &plen, deadline) != 0) return -1;
        repl_frame f = {type, payload, plen};
        repl_beat b;
        if (type != REPL_ACK || repl_decode_beat(&f, &b) != 0) {
            fl_fail(fl, "expected ACK, got frame type %u", type);
            return -1;
        }
        if (b.a > fl->acked) fl->acked = b.a;
    }
    return 0;
}

int fl_wait_eof(fake_leader *fl, int timeout_ms)
{
    long long deadline = fl_now_ms() + timeout_ms;
    while (!fl->eof) {
        fl->in_len = 0; /* whatever it said before closing does not matter */
        if (fl_read_more(fl, deadline) != 0 && !fl->eof) return -1;
    }
    return 0;
}

void fl_close(fake_leader *fl)
{
    if (fl->fd >= 0) close(fl->fd);
    fl->fd = -1;
    free(fl->in);
    fl->in = NULL;
    fl->in_len = fl->in_cap = 0;
}

/* ---- the LWW record set ---- */

uint64_t fl_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void lww_generate(uint64_t seed, lww_op ops[LWW_N])
{
    /* Values chosen so that prefixes ("ab" < "abc") and plain byte order
     * both decide ties. */
    static const char *const pool[] = {"a", "ab", "abc", "b", "ba", "zz", "x1", "x"};
    uint64_t st = seed;
    uint64_t base = LWW_TS_BASE + (seed % 1000000u) * 1000u;
    for (int k = 0; k < LWW_KEYS; k++) {
        uint64_t ts0 = base + (uint64_t)k * 10u;
        for (int j = 0; j < LWW_PER_KEY; j++) {
            lww_op *o = &ops[k * LWW_PER_KEY + j];
            memset(o, 0, sizeof *o);
            o->key = k;
            o->ts = ts0 + fl_rand(&st) % 2;
            o->node_id = (uint32_t)(fl_rand(&st) % LWW_NODES) + 1;
            o->op = fl_rand(&st) % 4 == 0 ? WAL_OP_DEL : WAL_OP_PUT;
            if (o->op == WAL_OP_PUT)
                snprintf(o->val, sizeof o->val, "%s", pool[fl_rand(&st) % 8]);
        }
        /* Force an exact version tie on every key: the first record is a PUT
         * and the second has its (ts, node id): a DEL on even keys (remove
         * wins), a PUT of a longer value with the first as prefix on odd. */
        lww_op *a = &ops[k * LWW_PER_KEY], *b = a + 1;
        if (a->op != WAL_OP_PUT) {
            a->op = WAL_OP_PUT;
            snprintf(a->val, sizeof a->val, "%s", "ab");
        }
        b->ts = a->ts;
        b->node_id = a->node_id;
        if (k % 2 == 0) {
            b->op = WAL_OP_DEL;
            b->val[0] = '\0';
        } else {
            b->op = WAL_OP_PUT;
            snprintf(b->val, sizeof b->val, "%.8s+", a->val);
        }
    }
}

void lww_permutation(uint64_t seed, int which, int *perm, int n)
{
    uint64_t st = seed * 1000003u + (uint64_t)which * 7919u + 1;
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(fl_rand(&st) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void lww_key_name(int key, char *buf, size_t len)
{
    snprintf(buf, len, "lww:%d", key);
}

size_t lww_encoded_max(void)
{
    return (size_t)LWW_N * wal_record_size(16, LWW_VAL_MAX);
}

size_t lww_encode(const lww_op ops[LWW_N], const int *perm, uint8_t *out)
{
    size_t off = 0;
    for (int i = 0; i < LWW_N; i++) {
        const lww_op *o = &ops[perm[i]];
        char key[16];
        lww_key_name(o->key, key, sizeof key);
        wal_rec r = {.lsn = (uint64_t)i + 1,
                     .epoch = LWW_EPOCH,
                     .ts = o->ts,
                     .node_id = o->node_id,
                     .op = o->op,
                     .klen = (uint32_t)strlen(key),
                     .vlen = (uint32_t)strlen(o->val),
                     .key = (const uint8_t *)key,
                     .val = (const uint8_t *)o->val};
        off += wal_record_encode(&r, out + off);
    }
    return off;
}

/* The documented order, written out independently: timestamp, then origin
 * node id, then a delete beats a put, then the value greater in byte order
 * (a proper prefix smaller). Returns <0, 0, >0. */
static int lww_cmp(const lww_op *a, const lww_op *b)
{
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    if (a->node_id != b->node_id) return a->node_id < b->node_id ? -1 : 1;
    int ad = a->op == WAL_OP_DEL, bd = b->op == WAL_OP_DEL;
    if (ad || bd) return ad - bd;
    return strcmp(a->val, b->val); /* NUL-terminated: a prefix compares smaller */
}

const char *lww_expected(const lww_op ops[LWW_N], int key)
{
    const lww_op *best = NULL;
    for (int i = 0; i < LWW_N; i++)
        if (ops[i].key == key && (!best || lww_cmp(&ops[i], best) > 0)) best = &ops[i];
    return best && best->op == WAL_OP_PUT ? best->val : NULL;
}
