/* faultproxy_proc_test.c -- the fault proxy itself (build/tools/faultproxy),
 * between this test as the "leader" (client side) and this test as the
 * "follower" (a listener it owns): plain forwarding both ways, flip, fliprec,
 * delay, blackhole, drop, status, and a clean exit on SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../testhelp.h"
#include "net/net.h"

#define WATCHDOG_S 30
#define IO_MS 3000
#define DELAY_MS 200
#define ABSENT_MS 300 /* how long "nothing arrives" is watched */

typedef struct fp {
    pid_t pid;
    int port, ctl;
    char log[PROC_PATH_MAX];
} fp;

typedef struct log_wait {
    const char *path;
} log_wait;

static int has_first_line(void *ctx)
{
    log_wait *w = ctx;
    FILE *f = fopen(w->path, "r");
    char line[128];
    int ok = f && fgets(line, sizeof line, f) && strchr(line, '\n');
    if (f) fclose(f);
    return ok;
}

static int fp_start(fp *p, const char *dir, int upstream)
{
    char bin[PROC_PATH_MAX], to[64];
    proc_build_path(bin, sizeof bin, "tools/faultproxy");
    snprintf(to, sizeof to, "127.0.0.1:%d", upstream);
    snprintf(p->log, sizeof p->log, "%s/proxy.log", dir);
    const char *const argv[] = {bin, "--listen", "0", "--to", to, "--control", "0", NULL};
    p->pid = proc_spawn(argv, p->log);
    log_wait w = {p->log};
    if (p->pid < 0 || !proc_wait_until(has_first_line, &w, IO_MS)) return -1;
    FILE *f = fopen(p->log, "r");
    int ok = f && fscanf(f, "listening on %d control on %d", &p->port, &p->ctl) == 2;
    if (f) fclose(f);
    return ok ? 0 : -1;
}

/* One control command; REPLY gets the answer line. 0 if it starts "OK". */
static int fp_cmd(fp *p, const char *cmd, char *reply, size_t len)
{
    tclient *t = tc_connect("127.0.0.1", p->ctl, IO_MS);
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    size_t got = 0;
    reply[0] = 0;
    if (t && tc_send_raw(t, line, (size_t)n) == 0) {
        long long deadline = proc_now_ms() + IO_MS;
        while (got < len - 1 && !memchr(reply, '\n', got) && proc_now_ms() < deadline) {
            struct pollfd pf = {tc_fd(t), POLLIN, 0};
            if (poll(&pf, 1, 50) <= 0) continue;
            ssize_t r = recv(tc_fd(t), reply + got, len - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            reply[got] = 0;
        }
    }
    tc_close(t);
    char *nl = strchr(reply, '\n');
    if (nl) *nl = 0;
    return strncmp(reply, "OK", 2) == 0 ? 0 : -1;
}

/* Reads exactly LEN bytes from FD within MS; returns how many arrived. */
static size_t recv_n(int fd, void *buf, size_t len, int ms)
{
    size_t got = 0;
    long long deadline = proc_now_ms() + ms;
    while (got < len) {
        long long left = deadline - proc_now_ms();
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0) break;
        ssize_t r = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            break;
        }
        got += (size_t)r;
    }
    return got;
}

/* 1 if FD sees EOF (or a reset) within MS. */
static int sees_eof(int fd, int ms)
{
    char b[256];
    long long deadline = proc_now_ms() + ms;
    for (;;) {
        long long left = deadline - proc_now_ms();
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0) return 0;
        ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return 1;
    }
}

static int accept_within(int lfd, int ms)
{
    struct pollfd pf = {lfd, POLLIN, 0};
    if (poll(&pf, 1, ms) <= 0) return -1;
    char err[128];
    return net_accept(lfd, NULL, NULL, 0, err, sizeof err);
}

/* A connection through the proxy: C is our "leader" end, S our "follower" end. */
static int open_pair(fp *p, int lfd, int *c, int *s)
{
    char err[128];
    *c = net_connect("127.0.0.1", p->port, 0, NULL, err, sizeof err);
    *s = *c >= 0 ? accept_within(lfd, IO_MS) : -1;
    return *c >= 0 && *s >= 0 ? 0 : -1;
}

static void close_pair(int c, int s)
{
    if (c >= 0) close(c);
    if (s >= 0) close(s);
}

static int sendall(int fd, const void *b, size_t n)
{
    return send(fd, b, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static void test_forward_and_flip(fp *p, int lfd)
{
    test_section("forwarding both ways, flip, fliprec");
    int c, s;
    test_cond("a connection through the proxy", open_pair(p, lfd, &c, &s) == 0);
    char buf[64];
    test_cond("leader -> follower bytes arrive intact",
              sendall(c, "hello", 5) == 0 && recv_n(s, buf, 5, IO_MS) == 5 && !memcmp(buf, "hello", 5));
    test_cond("follower -> leader bytes arrive intact",
              sendall(s, "ack!", 4) == 0 && recv_n(c, buf, 4, IO_MS) == 4 && !memcmp(buf, "ack!", 4));
    char reply[256];
    test_cond("flip at an offset already forwarded is refused", fp_cmd(p, "flip 2", reply, sizeof reply) < 0);
    test_cond("flip 7 is armed on this connection", fp_cmd(p, "flip 7", reply, sizeof reply) == 0);
    test_cond("byte 7 of the leader's stream arrives with bit 0 flipped",
              sendall(c, "abcdef", 6) == 0 && recv_n(s, buf, 6, IO_MS) == 6 &&
                  !memcmp(buf, "ab\x62" "def", 6));

    close_pair(c, s);

    /* On a fresh connection (the proxy tracks frames from a stream's first
     * byte): a 4-byte control frame (type 5), then an 8-byte RECORDS frame. */
    test_cond("a second connection", open_pair(p, lfd, &c, &s) == 0);
    static const uint8_t frames[] = {4, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 'c', 't', 'r', 'l',
                                     8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 'A', 'A', 'A', 'A',
                                     'A', 'A', 'A', 'A'};
    uint8_t got[sizeof frames];
    test_cond("fliprec 2 3 armed", fp_cmd(p, "fliprec 2 3", reply, sizeof reply) == 0);
    int ok = sendall(c, frames, sizeof frames) == 0 && recv_n(s, got, sizeof got, IO_MS) == sizeof got;
    test_cond("only payload byte 2 of the RECORDS frame is flipped (bit 3)",
              ok && !memcmp(got, frames, 30) && got[30] == ('A' ^ 8) && !memcmp(got + 31, frames + 31, 5));
    test_cond("status counts two flips and one connection",
              fp_cmd(p, "status", reply, sizeof reply) == 0 && strstr(reply, "flips_done=2") &&
                  strstr(reply, "conns=1"));
    close_pair(c, s);
}

static void test_delay_blackhole_drop(fp *p, int lfd)
{
    test_section("delay, blackhole, drop");
    int c, s;
    char buf[16], reply[256];
    test_cond("a connection through the proxy", open_pair(p, lfd, &c, &s) == 0);
    test_cond("delay 200", fp_cmd(p, "delay 200", reply, sizeof reply) == 0);
    long long t0 = proc_now_ms();
    int ok = sendall(c, "x", 1) == 0 && recv_n(s, buf, 1, IO_MS) == 1;
    long long one_way = proc_now_ms() - t0;
    ok = ok && sendall(s, "y", 1) == 0 && recv_n(c, buf, 1, IO_MS) == 1;
    long long round_trip = proc_now_ms() - t0;
    printf("   one way %lld ms, round trip %lld ms with delay %d\n", one_way, round_trip, DELAY_MS);
    test_cond("both directions are delayed", ok && one_way >= DELAY_MS && round_trip >= 2 * DELAY_MS &&
                                                 round_trip < 2 * DELAY_MS + IO_MS);
    test_cond("delay 0", fp_cmd(p, "delay 0", reply, sizeof reply) == 0);

    test_cond("blackhole on", fp_cmd(p, "blackhole on", reply, sizeof reply) == 0);
    test_cond("nothing crosses a blackhole, and nothing is closed",
              sendall(c, "lost", 4) == 0 && sendall(s, "lost", 4) == 0 && !sees_eof(s, ABSENT_MS) &&
                  !sees_eof(c, 0));
    test_cond("blackhole off", fp_cmd(p, "blackhole off", reply, sizeof reply) == 0);
    test_cond("bytes sent after healing arrive, the blackholed ones do not",
              sendall(c, "back", 4) == 0 && recv_n(s, buf, 4, IO_MS) == 4 && !memcmp(buf, "back", 4));

    test_cond("drop", fp_cmd(p, "drop", reply, sizeof reply) == 0 && strcmp(reply, "OK dropped 1") == 0);
    test_cond("both ends see the connection closed", sees_eof(c, IO_MS) && sees_eof(s, IO_MS));
    close_pair(c, s);
    test_cond("unknown commands are answered ERR", fp_cmd(p, "explode", reply, sizeof reply) < 0 &&
                                                       strncmp(reply, "ERR", 3) == 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(WATCHDOG_S); /* default action kills us, and the proxy with us */
    char *dir = proc_tmpdir("faultproxy");
    char err[128];
    int up_port = 0;
    int lfd = net_listen("127.0.0.1", 0, &up_port, err, sizeof err);
    fp p;
    memset(&p, 0, sizeof p);
    test_cond("temp dir and upstream listener", dir && lfd >= 0);
    test_cond("the proxy starts and prints its ports", dir && fp_start(&p, dir, up_port) == 0);
    if (p.port > 0) {
        test_forward_and_flip(&p, lfd);
        test_delay_blackhole_drop(&p, lfd);
    }
    test_cond("the proxy exits 0 on SIGTERM", p.pid > 0 && proc_stop(p.pid, SIGTERM, IO_MS) == 0);
    if (lfd >= 0) close(lfd);
    if (dir && test_failed_ == 0) proc_rmtree(dir);
    else if (dir) printf("files kept in %s\n", dir);
    free(dir);
    return test_report();
}
