/* abuse_proc_test.c -- floods that need no protocol knowledge (issue 12)
 * leave a real rkv-server responsive to a legitimate client (PING under
 * 50 ms) and writing:
 *  1. descriptor exhaustion: under `ulimit -n 256`, max-clients is lowered
 *     at start (with a reserve for the WAL), 300 idle connections neither
 *     spin the loop nor flood the log, a new client gets a slot (an idle
 *     connection that never sent a command is evicted), and the WAL keeps
 *     opening segments;
 *  2. slowloris: max-clients taken by connections trickling a request byte
 *     by byte: a new client gets in (the slowest request is evicted) and the
 *     tricklers are closed after --request-timeout-ms;
 *  3. clients that pipeline GETs of a 1 MiB value and never read: the
 *     server stops reading them (backpressure) and holds a few MiB each, not
 *     hundreds; with --maxmemory-clients the biggest are disconnected;
 *  4. unauthenticated connections (--requirepass): a small input cap, a cap
 *     on their number, and --auth-timeout-ms. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../testhelp.h"
#include "common/crypto.h"
#include "net/net.h"

#define WATCHDOG_S 180
#define PING_MS 50
#define WAIT_MS 10000

typedef struct srv {
    pid_t pid;
    int port;
    char root[256], dir[PROC_PATH_MAX], log[PROC_PATH_MAX];
} srv;

/* Starts a single node with EXTRA flags; PREFIX (NULL-terminated, or NULL)
 * runs before the binary (prlimit). */
static int srv_start(srv *s, const char *tag, const char *const *prefix, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    char *root = proc_tmpdir(tag);
    if (!root) return -1;
    snprintf(s->root, sizeof s->root, "%s", root);
    free(root);
    snprintf(s->dir, sizeof s->dir, "%s/data", s->root);
    snprintf(s->log, sizeof s->log, "%s/node.log", s->root);
    s->port = proc_free_port();
    char bin[PROC_PATH_MAX], port[16];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[48];
    int argc = 0;
    for (int i = 0; prefix && prefix[i]; i++) argv[argc++] = prefix[i];
    argv[argc++] = bin;
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--data-dir";
    argv[argc++] = s->dir;
    for (int i = 0; extra && extra[i] && argc < 46; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    s->pid = proc_spawn(argv, s->log);
    tclient *t = tc_connect("127.0.0.1", s->port, WAIT_MS);
    int ok = s->pid > 0 && t != NULL;
    tc_close(t);
    return ok ? 0 : -1;
}

static int srv_stop(srv *s)
{
    int rc = s->pid > 0 ? proc_stop(s->pid, SIGTERM, WAIT_MS) : -1;
    if (rc == 0 && !test_failed_) proc_rmtree(s->root);
    else {
        cl_print_tail(s->log);
        printf("files kept in %s\n", s->root);
    }
    return rc;
}

/* A raw connection (no handshake), or -1. */
static int raw_connect(int port)
{
    tclient *t = tc_connect("127.0.0.1", port, 2000);
    if (!t) return -1;
    int fd = dup(tc_fd(t));
    tc_close(t);
    return fd;
}

static int is_status(resp_value *r, const char *s)
{
    return r && r->type == RESP_T_STATUS && strcmp(r->str, s) == 0;
}

/* A new client connects, (AUTHs,) PINGs and writes; returns the PING's
 * round trip in ms, or -1 on failure. */
static long long legit_client(srv *s, const char *pass, const char *key)
{
    tclient *t = tc_connect("127.0.0.1", s->port, 2000);
    if (!t) return -1;
    if (pass) {
        resp_value *a = tc_cmd(t, "AUTH", pass);
        int ok = is_status(a, "OK");
        resp_value_free(a);
        if (!ok) {
            tc_close(t);
            return -1;
        }
    }
    long long t0 = proc_now_ms();
    resp_value *r = tc_cmd(t, "PING");
    long long ms = proc_now_ms() - t0;
    int ok = is_status(r, "PONG");
    resp_value_free(r);
    r = tc_cmd(t, "SET", key, "v");
    ok = ok && is_status(r, "OK");
    resp_value_free(r);
    if (getenv("ABUSE_DEBUG"))
        printf("   [%s: connected_clients %lld, evicted %lld]\n", key,
               cl_info_ll(t, "clients", "connected_clients"), cl_info_ll(t, "stats", "clients_evicted"));
    tc_close(t);
    return ok ? ms : -1;
}

static long long info_of(srv *s, const char *pass, const char *sec, const char *field)
{
    tclient *t = tc_connect("127.0.0.1", s->port, 2000);
    if (!t) return -1;
    if (pass) resp_value_free(tc_cmd(t, "AUTH", pass));
    long long v = cl_info_ll(t, sec, field);
    tc_close(t);
    return v;
}

static void fd_exhaustion(void)
{
    test_section("1. descriptor exhaustion under ulimit -n 256");
    if (system("command -v prlimit >/dev/null 2>&1") != 0) {
        test_skip("no prlimit (util-linux) to start the node under a descriptor limit");
        return;
    }
    srv s;
    static const char *const prefix[] = {"prlimit", "--nofile=256:256", NULL};
    static const char *const extra[] = {"--wal-segment-bytes", "4096", NULL};
    test_cond("a node starts under prlimit --nofile=256", srv_start(&s, "abuse-fd", prefix, extra) == 0);
    test_cond("it lowers max-clients, saying why", cl_wait_log(s.log, "max-clients lowered", WAIT_MS));
    long long maxc = info_of(&s, NULL, "clients", "maxclients");
    printf("   maxclients: %lld\n", maxc);
    test_cond("max-clients leaves a reserve", maxc > 0 && maxc <= 256 - 64);
    int fds[300], nfd = 0;
    for (int i = 0; i < 300; i++) {
        int fd = raw_connect(s.port);
        if (fd >= 0) fds[nfd++] = fd;
    }
    printf("   %d flood connections opened\n", nfd);
    long long cpu0 = proc_cpu_ticks(s.pid), t0 = proc_now_ms();
    usleep(1500 * 1000); /* the flood sits idle: measure the server's CPU meanwhile */
    long long cpu1 = proc_cpu_ticks(s.pid), el = proc_now_ms() - t0;
    long long hz = sysconf(_SC_CLK_TCK);
    double pct = el > 0 ? 100.0 * (double)(cpu1 - cpu0) * 1000.0 / (double)hz / (double)el : 0;
    printf("   server CPU while flooded: %.1f%%\n", pct);
    test_cond("the loop does not spin (under 20% CPU)", cpu0 >= 0 && pct < 20.0);
    long long ms = legit_client(&s, NULL, "legit:1");
    printf("   legitimate PING: %lld ms\n", ms);
    test_cond("a legitimate client gets in and PINGs under 50 ms", ms >= 0 && ms < PING_MS);
    int writes = 0;
    tclient *t = tc_connect("127.0.0.1", s.port, 2000);
    for (int i = 0; t && i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "seg:%d", i);
        resp_value *r = tc_cmd(t, "SET", k, "0123456789012345678901234567890123456789");
        writes += is_status(r, "OK");
        resp_value_free(r);
    }
    tc_close(t);
    test_cond("200 writes across new WAL segments succeed", writes == 200);
    test_cond("evictions are counted", info_of(&s, NULL, "stats", "clients_evicted") >= 1);
    test_cond("the log stays small (rate-limited)", cl_log_count(s.log, "\n") < 200);
    for (int i = 0; i < nfd; i++) close(fds[i]);
    test_cond("stops cleanly", srv_stop(&s) == 0);
}

static void slowloris(void)
{
    test_section("2. slowloris: max-clients taken by requests trickling in");
    srv s;
    static const char *const extra[] = {"--max-clients", "40", "--request-timeout-ms", "2500", NULL};
    test_cond("a node starts with --max-clients 40", srv_start(&s, "abuse-slow", NULL, extra) == 0);
    int fds[50], nfd = 0;
    for (int i = 0; i < 50; i++) { /* more than the table holds: it is full */
        if (i == 45) usleep(300 * 1000); /* (the start-up probe's slot frees late) */
        int fd = raw_connect(s.port);
        if (fd >= 0) fds[nfd++] = fd;
    }
    static const char part[] = "*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$100\r\n";
    for (int i = 0; i < nfd; i++) {
        ssize_t w = write(fds[i], part, sizeof part - 1);
        (void)w;
    }
    long long start = proc_now_ms(), ms = -2;
    while (proc_now_ms() - start < 4000) { /* one byte per connection every 200 ms */
        for (int i = 0; i < nfd; i++) {
            ssize_t w = send(fds[i], "x", 1, MSG_NOSIGNAL);
            (void)w;
        }
        if (ms == -2 && proc_now_ms() - start > 1500) ms = legit_client(&s, NULL, "legit:2");
        usleep(200 * 1000);
    }
    printf("   legitimate PING during the attack: %lld ms\n", ms);
    test_cond("a legitimate client gets in and PINGs under 50 ms", ms >= 0 && ms < PING_MS);
    test_cond("a trickler was evicted for it", info_of(&s, NULL, "stats", "clients_evicted") >= 1);
    long long to = info_of(&s, NULL, "stats", "clients_timed_out");
    printf("   tricklers closed by --request-timeout-ms: %lld\n", to);
    test_cond("the tricklers are closed after --request-timeout-ms", to >= 30);
    for (int i = 0; i < nfd; i++) close(fds[i]);
    test_cond("stops cleanly", srv_stop(&s) == 0);
}

static int big_value(srv *s)
{
    tclient *t = tc_connect("127.0.0.1", s->port, 5000);
    if (!t) return -1;
    size_t len = 1u << 20;
    char *v = malloc(len);
    memset(v, 'v', len);
    const char *argv[] = {"SET", "big", v};
    size_t lens[] = {3, 3, len};
    resp_value *r = tc_cmdv(t, 3, argv, lens);
    int ok = is_status(r, "OK");
    resp_value_free(r);
    free(v);
    tc_close(t);
    return ok ? 0 : -1;
}

/* Opens N connections that each send COUNT "GET big" and never read. */
static int non_readers(int port, int *fds, int n, int count)
{
    static const char get[] = "GET big\r\n";
    char *buf = malloc((sizeof get - 1) * (size_t)count);
    for (int j = 0; j < count; j++) memcpy(buf + j * (int)(sizeof get - 1), get, sizeof get - 1);
    int k = 0;
    for (int i = 0; i < n; i++) {
        int fd = raw_connect(port);
        if (fd < 0) continue;
        int rcv = 4096; /* a small receive window: the replies back up in the server */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        net_set_nonblock(fd, 1);
        ssize_t w = send(fd, buf, (sizeof get - 1) * (size_t)count, MSG_NOSIGNAL);
        (void)w;
        fds[k++] = fd;
    }
    free(buf);
    return k;
}

static void non_reading(void)
{
    test_section("3. clients that pipeline GETs of 1 MiB and never read");
    srv s;
    test_cond("a node starts", srv_start(&s, "abuse-read", NULL, NULL) == 0);
    test_cond("a 1 MiB value", big_value(&s) == 0);
    int fds[8];
    int k = non_readers(s.port, fds, 8, 2000);
    usleep(1000 * 1000);
    long long mem = info_of(&s, NULL, "memory", "mem_clients_normal");
    printf("   8 non-readers x 2000 GETs of 1 MiB: the server holds %lld bytes for clients\n", mem);
    test_cond("8 non-readers connected", k == 8);
    test_cond("it holds under 80 MiB for them (not 2 GiB)", mem >= 0 && mem < (80ll << 20));
    long long ms = legit_client(&s, NULL, "legit:3");
    printf("   legitimate PING: %lld ms\n", ms);
    test_cond("a legitimate client PINGs under 50 ms", ms >= 0 && ms < PING_MS);
    for (int i = 0; i < k; i++) close(fds[i]);
    test_cond("stops cleanly", srv_stop(&s) == 0);

    test_section("3b. --maxmemory-clients 12 MiB: the biggest go first");
    static const char *const extra[] = {"--maxmemory-clients", "12582912", NULL};
    test_cond("a node starts", srv_start(&s, "abuse-mem", NULL, extra) == 0);
    test_cond("a 1 MiB value", big_value(&s) == 0);
    k = non_readers(s.port, fds, 8, 2000);
    long long dropped = 0, end = proc_now_ms() + WAIT_MS;
    while (proc_now_ms() < end && (dropped = info_of(&s, NULL, "stats", "clients_dropped_memory_limit")) < 1)
        usleep(50 * 1000);
    printf("   clients dropped by the limit: %lld\n", dropped);
    test_cond("clients are dropped by the limit", dropped >= 1);
    mem = info_of(&s, NULL, "memory", "mem_clients_normal");
    test_cond("what is held stays near the limit", mem >= 0 && mem < (24ll << 20));
    ms = legit_client(&s, NULL, "legit:4");
    test_cond("the server is up: PING under 50 ms", ms >= 0 && ms < PING_MS);
    for (int i = 0; i < k; i++) close(fds[i]);
    test_cond("stops cleanly", srv_stop(&s) == 0);
}

static void unauthenticated(void)
{
    test_section("4. unauthenticated connections (--requirepass)");
    if (!rkv_crypto_available()) {
        test_skip("built without OpenSSL: no passwords");
        return;
    }
    srv s;
    static const char *const extra[] = {"--requirepass", "s3cret-pass", "--max-unauth-clients", "20",
                                        "--auth-timeout-ms", "1500", NULL};
    test_cond("a node with a password starts", srv_start(&s, "abuse-auth", NULL, extra) == 0);
    int fd = raw_connect(s.port);
    static char blob[64 * 1024];
    memset(blob, 'a', sizeof blob);
    ssize_t w = send(fd, blob, sizeof blob, MSG_NOSIGNAL);
    (void)w;
    char b[256];
    size_t got = 0;
    cl_read_until_eof(fd, b, sizeof b, &got, 5000);
    test_cond("64 KiB before AUTH: disconnected", info_of(&s, "s3cret-pass", "stats", "clients_dropped_input_limit") >= 1);
    close(fd);
    int fds[40], nfd = 0;
    for (int i = 0; i < 40; i++) {
        int f = raw_connect(s.port);
        if (f >= 0) fds[nfd++] = f;
    }
    long long un = info_of(&s, "s3cret-pass", "clients", "unauthenticated_clients");
    printf("   unauthenticated connections held: %lld (40 opened)\n", un);
    test_cond("at most --max-unauth-clients are held", un >= 0 && un <= 21);
    long long ms = legit_client(&s, "s3cret-pass", "legit:5");
    test_cond("a legitimate client authenticates and PINGs under 50 ms", ms >= 0 && ms < PING_MS);
    long long end = proc_now_ms() + WAIT_MS;
    while (proc_now_ms() < end && info_of(&s, "s3cret-pass", "clients", "unauthenticated_clients") > 1)
        usleep(100 * 1000);
    test_cond("they are closed after --auth-timeout-ms",
              info_of(&s, "s3cret-pass", "clients", "unauthenticated_clients") <= 1);
    for (int i = 0; i < nfd; i++) close(fds[i]);
    test_cond("stops cleanly", srv_stop(&s) == 0);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    fd_exhaustion();
    slowloris();
    non_reading();
    unauthenticated();
    return test_report();
}
