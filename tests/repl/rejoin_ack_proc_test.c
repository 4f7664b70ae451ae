/* rejoin_ack_proc_test.c -- a follower's ACKs from before a snapshot install
 * must not count towards the quorum, with a real leader and a follower
 * played by this test (its frames are built with src/repl/repl_proto.h).
 *
 * A real follower with a divergent tail (last LSN F from an old epoch) keeps
 * answering heartbeats with ACK(durable F) until it has processed the
 * leader's SNAP_BEGIN, and the leader's sending runs ahead of the follower's
 * processing (chunks, SNAP_END, then catch-up and live records). Such an
 * ACK can reach the leader after it has shipped a record with LSN F: the
 * leader must not take it as the follower holding its record F, or it
 * commits (and answers OK to) a write no follower has. The fake follower
 * sends exactly that ACK after the leader shipped LSN F, and the write must
 * not be acknowledged; once the fake acknowledges the installed snapshot
 * (ACK of the checkpoint's LSN, as a real follower does right after the
 * install) its later ACKs count again. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../testhelp.h"
#include "repl/repl_proto.h"

#define IO_MS 10000
#define QUORUM_TIMEOUT "1500"
#define IN_MAX (8u << 20)

/* ---- the fake follower: one accepted connection, frames in and out ---- */

typedef struct fake {
    int lfd, fd, port;
    uint8_t *in;
    size_t len;
    uint64_t snap_lsn;
} fake;

static int fake_listen(fake *f)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    f->in = malloc(IN_MAX);
    if (f->lfd < 0 || !f->in || bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(f->lfd, 4) < 0 || getsockname(f->lfd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    f->port = ntohs(sa.sin_port);
    return 0;
}

static int fake_accept(fake *f)
{
    struct pollfd p = {f->lfd, POLLIN, 0};
    if (poll(&p, 1, IO_MS) <= 0) return -1;
    f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
    return f->fd < 0 ? -1 : 0;
}

/* Reads the next frame of type WANT, skipping others (heartbeats, chunks).
 * FRAME's payload points into f->in until the next call. 0 or -1. */
static int fake_next(fake *f, uint8_t want, repl_frame *fr, size_t *used)
{
    long long deadline = proc_now_ms() + IO_MS;
    for (;;) {
        char err[160];
        while (f->len > 0) {
            repl_status st = repl_frame_parse(f->in, f->len, fr, used, err, sizeof err);
            if (st == REPL_BAD) {
                printf("fake follower: bad frame: %s\n", err);
                return -1;
            }
            if (st == REPL_NEED_MORE) break;
            if (fr->type == want) return 0;
            memmove(f->in, f->in + *used, f->len - *used);
            f->len -= *used;
        }
        long long left = deadline - proc_now_ms();
        struct pollfd p = {f->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || f->len == IN_MAX) return -1;
        ssize_t r = recv(f->fd, f->in + f->len, IN_MAX - f->len, 0);
        if (r <= 0) return -1;
        f->len += (size_t)r;
    }
}

static void fake_consume(fake *f, size_t used)
{
    memmove(f->in, f->in + used, f->len - used);
    f->len -= used;
}

static int fake_send(fake *f, const uint8_t *frame, size_t len)
{
    return send(f->fd, frame, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int fake_ack(fake *f, uint64_t durable)
{
    uint8_t frame[REPL_CTRL_MAX];
    repl_beat b = {durable, durable, 0};
    return fake_send(f, frame, repl_encode_beat(frame, REPL_ACK, &b));
}

/* The follower's "snapshot installed" marker (REPL_SNAP_ACK). */
static int fake_snap_ack(fake *f, uint64_t lsn)
{
    uint8_t frame[REPL_CTRL_MAX];
    repl_beat b = {lsn, lsn, 0};
    return fake_send(f, frame, repl_encode_beat(frame, REPL_SNAP_ACK, &b));
}

static void fake_close(fake *f)
{
    if (f->fd >= 0) close(f->fd);
    if (f->lfd >= 0) close(f->lfd);
    free(f->in);
}

/* ---- the test ---- */

static pid_t start_leader(const char *dir, const char *log, int port, const char *followers)
{
    char bin[PROC_PATH_MAX], portstr[16];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *const alone[] = {bin, "--node-id", "1", "--port", portstr, "--data-dir", dir, NULL};
    const char *const led[] = {bin,
                               "--node-id",
                               "1",
                               "--port",
                               portstr,
                               "--data-dir",
                               dir,
                               "--followers",
                               followers,
                               "--quorum",
                               "1",
                               "--quorum-timeout-ms",
                               QUORUM_TIMEOUT,
                               "--follower-timeout-ms",
                               "10000",
                               "--catchup-max-lag-records", /* a lag of 20 means a snapshot */
                               "1",
                               NULL};
    pid_t pid = proc_spawn(followers ? led : alone, log);
    tclient *t = pid > 0 ? tc_connect("127.0.0.1", port, IO_MS) : NULL;
    if (!t && pid > 0) proc_stop(pid, SIGKILL, IO_MS);
    tc_close(t);
    return t ? pid : -1;
}

static int is_status(resp_value *r, const char *s)
{
    return r && r->type == RESP_T_STATUS && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

int main(void)
{
    cl_watchdog(60);
    long long t0 = proc_now_ms();
    char *root = proc_tmpdir("rejoin-ack");
    char dir[PROC_PATH_MAX], log[PROC_PATH_MAX], followers[64];
    snprintf(dir, sizeof dir, "%s/leader", root);
    snprintf(log, sizeof log, "%s/leader.log", root);
    int port = proc_free_port();
    fake f;
    test_cond("fake follower listens", fake_listen(&f) == 0);
    snprintf(followers, sizeof followers, "127.0.0.1:%d", f.port);

    test_section("the leader holds 20 records of two epochs (written alone, quorum 0)");
    pid_t pid = -1;
    tclient *c = NULL;
    for (int run = 0; run < 2; run++) {
        pid = start_leader(dir, log, port, NULL);
        test_cond("leader starts alone", pid > 0);
        c = tc_connect("127.0.0.1", port, IO_MS);
        test_cond("10 writes", cl_pipeline_set(c, "k", run * 10, 10, 10, NULL) == 10);
        tc_close(c);
        test_cond("it stops cleanly", proc_stop(pid, SIGTERM, IO_MS) == 0);
    }

    test_section("a follower with a divergent tail at lsn 21 (an older epoch) gets a snapshot");
    pid = start_leader(dir, log, port, followers);
    test_cond("leader starts with the fake follower", pid > 0);
    test_cond("the leader dials the fake follower", fake_accept(&f) == 0);
    repl_frame fr;
    size_t used;
    repl_hello h = {0};
    test_cond("HELLO arrives",
              fake_next(&f, REPL_HELLO, &fr, &used) == 0 && repl_decode_hello(&fr, &h) == 0);
    fake_consume(&f, used);
    test_cond("the leader is at lsn 20", h.last_lsn == 20);
    uint8_t frame[REPL_CTRL_MAX];
    /* lsn 21 of the first epoch: older than the leader's last record (the
     * second's), so not a more recent log; nothing applied, 20 behind. */
    repl_hello_ok ok = {2, 21, h.epoch - 2, 0, 0, 0, ""};
    test_cond("HELLO_OK sent", fake_send(&f, frame, repl_encode_hello_ok(frame, &ok)) == 0);
    repl_beat b = {0};
    test_cond("SNAP_BEGIN arrives",
              fake_next(&f, REPL_SNAP_BEGIN, &fr, &used) == 0 && repl_decode_beat(&fr, &b) == 0);
    f.snap_lsn = b.a;
    fake_consume(&f, used);
    test_cond("SNAP_END arrives", fake_next(&f, REPL_SNAP_END, &fr, &used) == 0);
    fake_consume(&f, used);
    printf("snapshot of lsn %llu sent\n", (unsigned long long)f.snap_lsn);

    test_section("a stale ACK of the divergent lsn 21 does not commit the leader's lsn 21");
    c = tc_connect("127.0.0.1", port, IO_MS);
    static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n";
    test_cond("SET x sent", tc_send_raw(c, set, sizeof set - 1) == 0);
    test_cond("the leader ships lsn 21", fake_next(&f, REPL_RECORDS, &fr, &used) == 0);
    fake_consume(&f, used);
    test_cond("stale ACK(21) sent", fake_ack(&f, 21) == 0);
    test_cond("stale ACK of exactly the snapshot's lsn sent", fake_ack(&f, f.snap_lsn) == 0);
    resp_value *r = tc_read(c);
    printf("SET x answered: %c%.*s\n", r ? (char)r->type : '?', r ? (int)r->len : 0,
           r && r->str ? r->str : "");
    test_cond("the write is not acknowledged (no follower holds it)", r && r->type == RESP_T_ERROR);
    resp_value_free(r);
    tc_close(c);
    c = tc_connect("127.0.0.1", port, IO_MS);
    long long acked = cl_follower_ll(c, 0, "acked_lsn");
    printf("follower0 acked_lsn=%lld\n", acked);
    test_cond("the leader does not count lsn 21 as acknowledged", acked < 21);

    test_section("after the install's ACK, the follower's ACKs count again");
    test_cond("install marker and ACK sent", fake_snap_ack(&f, f.snap_lsn) == 0 && fake_ack(&f, 21) == 0);
    static const char set2[] = "*3\r\n$3\r\nSET\r\n$1\r\ny\r\n$1\r\n2\r\n";
    test_cond("SET y sent", tc_send_raw(c, set2, sizeof set2 - 1) == 0);
    test_cond("the leader ships lsn 22", fake_next(&f, REPL_RECORDS, &fr, &used) == 0);
    fake_consume(&f, used);
    test_cond("ACK(22) sent", fake_ack(&f, 22) == 0);
    r = tc_read(c);
    test_cond("SET y gets OK", is_status(r, "OK"));
    resp_value_free(r);
    test_cond("acked_lsn is 22", cl_follower_ll(c, 0, "acked_lsn") == 22);
    tc_close(c);

    test_cond("leader stops cleanly", proc_stop(pid, SIGTERM, IO_MS) == 0);
    fake_close(&f);
    if (test_failed_ == 0)
        proc_rmtree(root);
    else
        printf("files kept in %s\n", root);
    free(root);
    printf("time: %.1f s\n", (double)(proc_now_ms() - t0) / 1000.0);
    return test_report();
}
