/* repl_peer_proc_test.c -- bad replication peers against real rkv-server
 * processes: garbage, a wrong cluster id, a stale epoch and impossible frame
 * lengths on a follower's replication port are refused without harm (the
 * follower stays up and keeps following the real leader), and a leader with
 * a different --cluster-id never gets followers online, both sides logging
 * why. A fake follower (this test) checks that a reconnecting follower's
 * HELLO_OK is not taken for an acknowledgment of records it has not made
 * durable. Frames are built with src/repl/repl_proto.h's encoder. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../testhelp.h"
#include "net/net.h"
#include "repl/repl_proto.h"
#include "wal/wal_record.h"

#define WATCHDOG_S 60
#define FOLLOWER_TIMEOUT_MS 1000
#define CLOSE_MS 3000       /* a bad frame closes at once; silence after FOLLOWER_TIMEOUT_MS */
#define IDLE_CLOSE_MIN_MS 500 /* a silent peer is not closed much before the timeout */

typedef struct peer_result {
    int closed;                   /* the follower closed the connection */
    int refused;                  /* ... after a REFUSE frame */
    char reason[REPL_REASON_MAX + 1];
    long long close_ms;
} peer_result;

/* Connects to the follower's replication port, sends LEN bytes of BUF and
 * collects whatever comes back until the follower closes. */
static peer_result bad_peer(cluster *c, int i, const void *buf, size_t len)
{
    peer_result res;
    memset(&res, 0, sizeof res);
    tclient *t = tc_connect("127.0.0.1", c->n[i].repl_port, 5000);
    if (!t) return res;
    long long t0 = proc_now_ms();
    uint8_t in[4096];
    size_t got = 0;
    if (len == 0 || tc_send_raw(t, buf, len) == 0)
        res.closed = cl_read_until_eof(tc_fd(t), in, sizeof in, &got, CLOSE_MS);
    res.close_ms = proc_now_ms() - t0;
    repl_frame f;
    size_t used;
    char err[160];
    if (got && repl_frame_parse(in, got, &f, &used, err, sizeof err) == REPL_OK &&
        f.type == REPL_REFUSE) {
        res.refused = 1;
        repl_decode_refuse(&f, res.reason, sizeof res.reason);
    }
    tc_close(t);
    return res;
}

static size_t hello_frame(uint8_t *out, const char *cluster_id, uint32_t node_id, uint64_t epoch)
{
    repl_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.cluster_id, sizeof h.cluster_id, "%s", cluster_id);
    h.node_id = node_id;
    h.epoch = epoch;
    h.last_lsn = 1000000;
    h.commit_lsn = 1000000;
    return repl_encode_hello(out, &h);
}

static void test_bad_peers(void)
{
    test_section("bad peers on a follower's replication port are refused without harm");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.follower_timeout_ms = FOLLOWER_TIMEOUT_MS;
    /* The HELLO checks below run for a peer the secret handshake let in (or
     * any loopback peer without a secret): test them without one.
     * security_proc_test covers peers without the secret. */
    o.no_secret = 1;
    test_cond("cluster starts", cl_start(&c, "repl-peer", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0), *f = cl_connect(&c, 1);
    test_cond("a first write", l && cl_pipeline_set(l, "a:", 0, 10, 10, NULL) == 10);
    long long refused0 = f ? cl_info_ll(f, "replication", "refused_connections") : -1;
    long long hs0 = f ? cl_info_ll(f, "replication", "handshakes") : -1;

    static const char garbage[] = "GET / HTTP/1.1\r\nHost: rkv\r\n\r\n";
    peer_result r = bad_peer(&c, 1, garbage, sizeof garbage - 1);
    test_cond("garbage: connection closed at once", r.closed && r.close_ms < CLOSE_MS);

    uint8_t frame[REPL_CTRL_MAX];
    size_t n = hello_frame(frame, "not-rkv", 9, 99);
    r = bad_peer(&c, 1, frame, n);
    test_cond("wrong cluster id: REFUSE with the reason, then closed",
              r.closed && r.refused && strstr(r.reason, "cluster id mismatch") != NULL);
    if (r.refused) printf("   refused: %s\n", r.reason);

    n = hello_frame(frame, "rkv", 9, 0);
    r = bad_peer(&c, 1, frame, n);
    test_cond("stale epoch: REFUSE, then closed",
              r.closed && r.refused && strstr(r.reason, "stale leader") != NULL);

    uint8_t hdr[REPL_FRAME_HDR];
    memset(hdr, 0, sizeof hdr);
    wal_put_u32(hdr, 0xfffffff0u);
    hdr[4] = REPL_HELLO;
    r = bad_peer(&c, 1, hdr, sizeof hdr);
    test_cond("control frame with a 4 GiB length: closed at once", r.closed && r.close_ms < CLOSE_MS);

    wal_put_u32(hdr, REPL_FRAME_MAX + 1);
    hdr[4] = REPL_RECORDS;
    r = bad_peer(&c, 1, hdr, sizeof hdr);
    test_cond("records frame longer than REPL_FRAME_MAX: closed", r.closed && r.close_ms < CLOSE_MS);

    wal_put_u32(hdr, REPL_FRAME_MAX); /* legal length, but no HELLO ever comes */
    r = bad_peer(&c, 1, hdr, sizeof hdr);
    test_cond("records frame before any HELLO: closed", r.closed && r.close_ms < CLOSE_MS);

    r = bad_peer(&c, 1, "\x01\x02", 2);
    printf("   silent peer closed after %lld ms\n", r.close_ms);
    test_cond("a peer that never completes a frame is closed after the follower timeout",
              r.closed && r.close_ms >= IDLE_CLOSE_MIN_MS && r.close_ms < CLOSE_MS);

    test_cond("follower 1 is still running", proc_exited(c.n[1].pid) == -2);
    test_cond("it counted the refusals",
              f && cl_info_ll(f, "replication", "refused_connections") >= refused0 + 2);
    test_cond("the real leader link was never replaced",
              f && cl_info_ll(f, "replication", "handshakes") == hs0);
    test_cond("no record was rejected", f && cl_info_ll(f, "replication", "records_rejected_crc") == 0);
    test_cond("the leader still has it online", cl_wait_follower_online(&c, 0, 1, 1000));
    resp_value *v = l ? tc_cmd(l, "SET", "after-bad-peers", "yes") : NULL;
    test_cond("a write after the bad peers is OK", v && v->type == RESP_T_STATUS);
    resp_value_free(v);
    resp_value *lsn = l ? tc_cmd(l, "LASTLSN") : NULL;
    char lsnstr[32];
    snprintf(lsnstr, sizeof lsnstr, "%lld", lsn && lsn->type == RESP_T_INT ? lsn->integer : -1);
    resp_value_free(lsn);
    v = f ? tc_cmd(f, "WAITLSN", lsnstr, "5000") : NULL;
    test_cond("it reaches follower 1", v && v->type == RESP_T_INT);
    resp_value_free(v);
    v = f ? tc_cmd(f, "GET", "after-bad-peers") : NULL;
    test_cond("and reads back there", v && v->type == RESP_T_BULK && strcmp(v->str, "yes") == 0);
    resp_value_free(v);
    test_cond("caught up", cl_wait_caught_up(&c, 10000));
    test_cond("digests equal", cl_converged(&c));
    tc_close(f);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- a fake follower: this test plays follower 2 to a real leader ---- */

typedef struct fake_follower {
    int lfd, fd;
    uint8_t in[1u << 20];
    size_t len;
} fake_follower;

static int ff_accept(fake_follower *ff, int ms)
{
    struct pollfd p = {ff->lfd, POLLIN, 0};
    char err[128];
    if (poll(&p, 1, ms) <= 0) return -1;
    ff->fd = net_accept(ff->lfd, NULL, NULL, 0, err, sizeof err);
    ff->len = 0;
    return ff->fd >= 0 && net_set_nonblock(ff->fd, 0) == 0 ? 0 : -1;
}

/* Reads the next frame of type TYPE (skipping others) within MS; its
 * payload is copied to OUT (at most OUTLEN bytes). Returns the payload
 * length or -1. */
static long ff_expect(fake_follower *ff, uint8_t type, uint8_t *out, size_t outlen, int ms)
{
    long long deadline = proc_now_ms() + ms;
    for (;;) {
        repl_frame f;
        size_t used;
        char err[160];
        repl_status st = repl_frame_parse(ff->in, ff->len, &f, &used, err, sizeof err);
        if (st == REPL_BAD) return -1;
        if (st == REPL_OK) {
            long plen = (long)f.len;
            int match = f.type == type && f.len <= outlen;
            if (match) memcpy(out, f.payload, f.len);
            memmove(ff->in, ff->in + used, ff->len - used);
            ff->len -= used;
            if (match) return plen;
            continue;
        }
        long long left = deadline - proc_now_ms();
        struct pollfd p = {ff->fd, POLLIN, 0};
        if (left <= 0 || ff->len == sizeof ff->in || poll(&p, 1, (int)left) <= 0) return -1;
        ssize_t r = recv(ff->fd, ff->in + ff->len, sizeof ff->in - ff->len, 0);
        if (r <= 0) return -1;
        ff->len += (size_t)r;
    }
}

static int ff_send(fake_follower *ff, const uint8_t *frame, size_t len)
{
    return send(ff->fd, frame, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Accepts the leader's dial, reads its HELLO and answers HELLO_OK. */
static int ff_handshake(fake_follower *ff, uint64_t last, uint64_t epoch, uint64_t applied)
{
    uint8_t buf[REPL_CTRL_MAX], frame[REPL_CTRL_MAX];
    if (ff_accept(ff, 5000) < 0 || ff_expect(ff, REPL_HELLO, buf, sizeof buf, 5000) < 0) return -1;
    repl_hello_ok ok = {3, last, epoch, applied, 0, 0, ""};
    return ff_send(ff, frame, repl_encode_hello_ok(frame, &ok));
}

static int reply_pending(tclient *t, int ms)
{
    return cl_readable_within(t, ms);
}

static void test_hello_ok_is_not_an_ack(void)
{
    test_section("a follower's HELLO_OK counts as acknowledged only what it has applied");
    fake_follower *ff = calloc(1, sizeof *ff);
    char err[128];
    int port = 0;
    ff->fd = -1;
    ff->lfd = net_listen("127.0.0.1", 0, &port, err, sizeof err);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum = 2;
    o.follower_timeout_ms = 10000; /* the fake never answers heartbeats */
    o.quorum_timeout_ms = 10000;
    o.external_port[2] = port;
    test_cond("cluster with a fake follower 2 starts", ff->lfd >= 0 && cl_start(&c, "repl-fake", &o) == 0);
    test_cond("fake handshake at lsn 0", ff_handshake(ff, 0, 0, 0) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    static const char set[] = "*3\r\n$3\r\nSET\r\n$2\r\nw1\r\n$1\r\nx\r\n";
    test_cond("write sent", l && tc_send_raw(l, set, sizeof set - 1) == 0);
    test_cond("it waits for the fake's ack", l && !reply_pending(l, 300));
    uint8_t payload[4096];
    long plen = ff_expect(ff, REPL_RECORDS, payload, sizeof payload, 5000);
    wal_rec rec;
    size_t used;
    test_cond("the fake received the record",
              plen > 0 && wal_record_decode(payload, (size_t)plen, &rec, &used) == WAL_DEC_OK);
    uint64_t lsn = plen > 0 ? rec.lsn : 0, epoch = plen > 0 ? rec.epoch : 0;
    /* Reconnect holding the record but not yet durable: last_lsn says it
     * is there, applied_lsn says it is not applied (not durable) yet. */
    close(ff->fd);
    test_cond("fake re-handshakes holding the record, not durable",
              lsn > 0 && ff_handshake(ff, lsn, epoch, lsn - 1) == 0);
    test_cond("the leader has it online again", cl_wait_follower_online(&c, 1, 1, 5000));
    test_cond("still no reply: the HELLO_OK was not taken for an ack", l && !reply_pending(l, 500));
    tclient *q = cl_connect(&c, 0); /* l is blocked on its write */
    test_cond("the leader counts acked_lsn = applied_lsn",
              q && cl_follower_ll(q, 1, "acked_lsn") == (long long)lsn - 1);
    tc_close(q);
    uint8_t frame[REPL_CTRL_MAX];
    repl_beat ack = {lsn, lsn, 0};
    test_cond("fake acknowledges it durable", ff_send(ff, frame, repl_encode_beat(frame, REPL_ACK, &ack)) == 0);
    resp_value *r = l && reply_pending(l, 5000) ? tc_read(l) : NULL;
    test_cond("then the write is OK", r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0);
    resp_value_free(r);
    tc_close(l);
    if (ff->fd >= 0) close(ff->fd);
    if (ff->lfd >= 0) close(ff->lfd);
    free(ff);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

typedef struct attempts_wait {
    tclient *l;
} attempts_wait;

static int several_attempts(void *ctx)
{
    attempts_wait *w = ctx;
    return cl_follower_ll(w->l, 0, "reconnects") >= 3 && cl_follower_ll(w->l, 1, "reconnects") >= 3;
}

static void test_cluster_id_mismatch(void)
{
    test_section("a leader with another --cluster-id never gets followers online");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.follower_timeout_ms = FOLLOWER_TIMEOUT_MS;
    o.leader_cluster_id = "other-cluster";
    test_cond("cluster starts", cl_start(&c, "repl-cid", &o) == 0);
    for (int i = 1; i < CL_NODES; i++) {
        test_cond("the follower logs the refusal and why",
                  cl_wait_log(c.n[i].log, "cluster id mismatch", 5000));
    }
    test_cond("the leader logs the refusal and why",
              cl_wait_log(c.n[0].log, "refused the link: cluster id mismatch", 5000));
    tclient *l = cl_connect(&c, 0);
    attempts_wait w = {l};
    test_cond("the leader kept redialling both", l && proc_wait_until(several_attempts, &w, 10000));
    test_cond("no follower online", l && cl_info_ll(l, "replication", "connected_followers") == 0);
    test_cond("never online: the leader never logged online=1",
              !cl_wait_log(c.n[0].log, "online=1", 0));
    resp_value *r = l ? tc_cmd(l, "SET", "k", "v") : NULL;
    test_cond("writes get -NOREPLICAS", r && r->type == RESP_T_ERROR && strncmp(r->str, "NOREPLICAS", 10) == 0);
    resp_value_free(r);
    tclient *f = cl_connect(&c, 1);
    char *link = f ? tc_info_field(f, "replication", "leader_link") : NULL;
    test_cond("the follower's leader_link is down", link && strcmp(link, "down") == 0);
    free(link);
    tc_close(f);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    test_bad_peers();
    test_cluster_id_mismatch();
    test_hello_ok_is_not_an_ack();
    return test_report();
}
