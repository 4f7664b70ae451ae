/* cluster.c -- a three-node cluster of real rkv-server processes for the
 * replication process tests (see cluster.h). */
#include "cluster.h"

#include "common/crypto.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CL_IO_MS 15000      /* client I/O timeout: generous, for sanitizer builds */
#define CL_ARGS_MAX 48
#define CL_LOG_TAIL 25      /* lines of each log printed when a test fails */

/* ---- processes ---- */

static int spawn_proxy(cluster *c, int i)
{
    cl_node *nd = &c->n[i];
    char bin[PROC_PATH_MAX], to[64];
    if (proc_build_path(bin, sizeof bin, "tools/faultproxy") < 0) return -1;
    snprintf(to, sizeof to, "127.0.0.1:%d", nd->repl_port);
    const char *const argv[] = {bin, "--listen", "0", "--to", to, "--control", "0", NULL};
    nd->proxy_pid = proc_spawn(argv, nd->proxy_log);
    if (nd->proxy_pid < 0 || !cl_wait_log(nd->proxy_log, "listening on", CL_START_MS)) {
        printf("cluster: fault proxy for node %d did not start (see %s)\n", i, nd->proxy_log);
        return -1;
    }
    FILE *fp = fopen(nd->proxy_log, "r");
    char line[256];
    int ok = fp && fgets(line, sizeof line, fp) &&
             sscanf(line, "listening on %d control on %d", &nd->proxy_port, &nd->proxy_ctl) == 2;
    if (fp) fclose(fp);
    return ok ? 0 : -1;
}

static void add_int_flag(const char **argv, int *argc, char (*store)[16], const char *flag, int v)
{
    snprintf(*store, sizeof *store, "%d", v);
    argv[(*argc)++] = flag;
    argv[(*argc)++] = *store;
}

int cl_start_node(cluster *c, int i)
{
    cl_node *nd = &c->n[i];
    const cl_opts *o = &c->opts;
    char bin[PROC_PATH_MAX], followers[160];
    char nums[8][16];
    const char *argv[CL_ARGS_MAX];
    int argc = 0, k = 0;
    if (proc_build_path(bin, sizeof bin, "rkv-server") < 0) return -1;
    argv[argc++] = bin;
    add_int_flag(argv, &argc, &nums[k++], "--node-id", nd->id);
    add_int_flag(argv, &argc, &nums[k++], "--port", nd->port);
    argv[argc++] = "--data-dir";
    argv[argc++] = nd->dir;
    if (c->secret[0]) {
        argv[argc++] = "--cluster-secret-file";
        argv[argc++] = c->secret;
    }
    if (o->heartbeat_ms) add_int_flag(argv, &argc, &nums[k++], "--heartbeat-ms", o->heartbeat_ms);
    if (o->follower_timeout_ms)
        add_int_flag(argv, &argc, &nums[k++], "--follower-timeout-ms", o->follower_timeout_ms);
    if (i == 0) {
        int p[CL_NODES];
        for (int j = 1; j < CL_NODES; j++)
            p[j] = o->external_port[j] ? o->external_port[j]
                   : c->n[j].proxy_pid > 0 ? c->n[j].proxy_port : c->n[j].repl_port;
        int p1 = p[1], p2 = p[2];
        snprintf(followers, sizeof followers, "127.0.0.1:%d,127.0.0.1:%d", p1, p2);
        argv[argc++] = "--role";
        argv[argc++] = "leader";
        argv[argc++] = "--followers";
        argv[argc++] = followers;
        if (o->quorum >= 0) add_int_flag(argv, &argc, &nums[k++], "--quorum", o->quorum);
        if (o->quorum_timeout_ms)
            add_int_flag(argv, &argc, &nums[k++], "--quorum-timeout-ms", o->quorum_timeout_ms);
        if (o->leader_cluster_id) {
            argv[argc++] = "--cluster-id";
            argv[argc++] = o->leader_cluster_id;
        }
        for (int j = 0; j < CL_EXTRA_MAX && o->leader_extra[j]; j++) argv[argc++] = o->leader_extra[j];
    } else {
        argv[argc++] = "--role";
        argv[argc++] = "follower";
        add_int_flag(argv, &argc, &nums[k++], "--repl-port", nd->repl_port);
        for (int j = 0; j < CL_EXTRA_MAX && o->follower_extra[j]; j++)
            argv[argc++] = o->follower_extra[j];
    }
    argv[argc] = NULL;
    nd->pid = proc_spawn(argv, nd->log);
    nd->stopped = 0;
    if (nd->pid < 0) {
        nd->pid = 0;
        return -1;
    }
    tclient *t = tc_connect("127.0.0.1", nd->port, CL_START_MS);
    if (!t) {
        printf("cluster: node %d (pid %d) did not listen on %d (see %s)\n", i, (int)nd->pid,
               nd->port, nd->log);
        return -1;
    }
    tc_close(t);
    return 0;
}

int cl_start(cluster *c, const char *tag, const cl_opts *o)
{
    memset(c, 0, sizeof *c);
    c->opts = *o;
    char *root = proc_tmpdir(tag);
    if (!root || strlen(root) >= sizeof c->root) {
        free(root);
        return -1;
    }
    snprintf(c->root, sizeof c->root, "%s", root);
    free(root);
    char base[CL_ROOT_MAX]; /* a copy, so the paths below do not alias *c */
    memcpy(base, c->root, sizeof base);
    int external = 0;
    for (int i = 0; i < CL_NODES; i++) external |= o->external_port[i] != 0;
    if (!o->no_secret && !external && rkv_crypto_available()) {
        snprintf(c->secret, sizeof c->secret, "%s/secret", base);
        if (proc_write_secret(c->secret) < 0) return -1;
    }
    for (int i = 0; i < CL_NODES; i++) {
        cl_node *nd = &c->n[i];
        nd->id = i + 1;
        nd->port = proc_free_port();
        nd->repl_port = i == 0 ? 0 : proc_free_port();
        snprintf(nd->dir, sizeof nd->dir, "%s/node%d", base, nd->id);
        snprintf(nd->log, sizeof nd->log, "%s/node%d.log", base, nd->id);
        if (o->proxied & (1u << i))
            snprintf(nd->proxy_log, sizeof nd->proxy_log, "%s/proxy%d.log", base, nd->id);
        if (nd->port < 0 || nd->repl_port < 0) return -1;
    }
    for (int i = 1; i < CL_NODES; i++) {
        if (o->external_port[i]) continue;
        if (cl_start_node(c, i) < 0) return -1;
        if ((o->proxied & (1u << i)) && spawn_proxy(c, i) < 0) return -1;
    }
    return cl_start_node(c, 0);
}

int cl_start_online(cluster *c, const char *tag, const cl_opts *o)
{
    cl_opts x = *o;
    if (!x.follower_timeout_ms) x.follower_timeout_ms = 30000;
    if (!x.quorum_timeout_ms) x.quorum_timeout_ms = 30000;
    int ok = cl_start(c, tag, &x) == 0 && cl_wait_online(c, 2, 10000);
    if (!ok) {
        printf("cluster %s: did not start with both followers online\n", tag);
        cl_stop(c, 1);
    }
    return ok ? 0 : -1;
}

int cl_signal(cluster *c, int i, int sig)
{
    return proc_signal(&c->n[i].pid, &c->n[i].stopped, sig, CL_STOP_MS);
}

void cl_print_tail(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return;
    char *lines[CL_LOG_TAIL] = {0};
    char buf[1024];
    size_t k = 0;
    while (fgets(buf, sizeof buf, fp)) {
        free(lines[k % CL_LOG_TAIL]);
        lines[k % CL_LOG_TAIL] = strdup(buf);
        k++;
    }
    fclose(fp);
    printf("---- last lines of %s\n", path);
    size_t first = k > CL_LOG_TAIL ? k - CL_LOG_TAIL : 0;
    for (size_t j = first; j < k; j++) printf("   %s", lines[j % CL_LOG_TAIL] ? lines[j % CL_LOG_TAIL] : "");
    for (size_t j = 0; j < CL_LOG_TAIL; j++) free(lines[j]);
}

int cl_stop(cluster *c, int keep)
{
    int bad = 0;
    for (int i = CL_NODES - 1; i >= 0; i--) {
        cl_node *nd = &c->n[i];
        bad += proc_stop_clean(&nd->pid, &nd->stopped, CL_STOP_MS, "cluster", i);
        if (nd->proxy_pid > 0) proc_stop(nd->proxy_pid, SIGTERM, CL_STOP_MS);
        nd->proxy_pid = 0;
    }
    if (!c->root[0]) return bad;
    if (keep || bad) {
        for (int i = 0; i < CL_NODES; i++) {
            cl_print_tail(c->n[i].log);
            if (c->n[i].proxy_log[0]) cl_print_tail(c->n[i].proxy_log);
        }
        printf("cluster: files kept in %s\n", c->root);
    } else {
        proc_rmtree(c->root);
    }
    c->root[0] = 0;
    return bad;
}

tclient *cl_connect(cluster *c, int i)
{
    return tc_connect("127.0.0.1", c->n[i].port, CL_IO_MS);
}

/* ---- INFO ---- */

long long cl_info_ll(tclient *t, const char *section, const char *field)
{
    char *v = tc_info_field(t, section, field);
    if (!v) return -1;
    char *end;
    long long x = strtoll(v, &end, 10);
    int ok = end != v && (*end == 0 || *end == '/');
    free(v);
    return ok ? x : -1;
}

long long cl_follower_ll(tclient *leader, int k, const char *key)
{
    char name[32];
    snprintf(name, sizeof name, "follower%d", k);
    char *v = tc_info_field(leader, "replication", name);
    if (!v) return -1;
    long long x = -1;
    size_t kl = strlen(key);
    for (const char *p = v; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            x = strtoll(p + kl + 1, NULL, 10);
            break;
        }
    }
    free(v);
    return x;
}

int cl_follower_str(tclient *leader, int k, const char *key, char *out, size_t outlen)
{
    char name[32];
    snprintf(name, sizeof name, "follower%d", k);
    if (outlen) out[0] = 0;
    char *v = tc_info_field(leader, "replication", name);
    if (!v) return -1;
    int rc = -1;
    size_t kl = strlen(key);
    for (const char *p = v; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *s = p + kl + 1, *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n >= outlen) n = outlen ? outlen - 1 : 0;
            if (outlen) {
                memcpy(out, s, n);
                out[n] = 0;
            }
            rc = 0;
            break;
        }
    }
    free(v);
    return rc;
}

typedef struct online_wait {
    tclient *t;
    int k, want;
} online_wait;

static int online_at_least(void *ctx)
{
    online_wait *w = ctx;
    return cl_info_ll(w->t, "replication", "connected_followers") >= w->want;
}

int cl_wait_online(cluster *c, int k, int timeout_ms)
{
    tclient *t = cl_connect(c, 0);
    if (!t) return 0;
    online_wait w = {t, 0, k};
    int ok = proc_wait_until(online_at_least, &w, timeout_ms);
    tc_close(t);
    return ok;
}

static int follower_online_is(void *ctx)
{
    online_wait *w = ctx;
    return cl_follower_ll(w->t, w->k, "online") == w->want;
}

int cl_wait_follower_online(cluster *c, int k, int want, int timeout_ms)
{
    tclient *t = cl_connect(c, 0);
    if (!t) return 0;
    online_wait w = {t, k, want};
    int ok = proc_wait_until(follower_online_is, &w, timeout_ms);
    tc_close(t);
    return ok;
}

typedef struct catchup_wait {
    tclient *t[CL_NODES]; /* NULL: not checked */
} catchup_wait;

static int all_caught_up(void *ctx)
{
    catchup_wait *w = ctx;
    long long last = cl_info_ll(w->t[0], "replication", "last_lsn");
    if (last < 0 || cl_info_ll(w->t[0], "persistence", "applied_lsn") < last) return 0;
    for (int i = 1; i < CL_NODES; i++)
        if (w->t[i] && cl_info_ll(w->t[i], "replication", "applied_lsn") < last) return 0;
    return 1;
}

int cl_wait_caught_up(cluster *c, int timeout_ms)
{
    catchup_wait w = {{NULL}};
    int ok = 1;
    for (int i = 0; i < CL_NODES; i++) {
        if (c->n[i].pid <= 0 || c->n[i].stopped) continue;
        w.t[i] = cl_connect(c, i);
        if (!w.t[i]) ok = 0;
    }
    ok = ok && w.t[0] && proc_wait_until(all_caught_up, &w, timeout_ms);
    if (!ok && w.t[0]) {
        printf("cluster: not caught up: leader last_lsn=%lld", cl_info_ll(w.t[0], "replication", "last_lsn"));
        for (int i = 1; i < CL_NODES; i++)
            if (w.t[i]) printf(", node %d applied_lsn=%lld", i, cl_info_ll(w.t[i], "replication", "applied_lsn"));
        printf("\n");
    }
    for (int i = 0; i < CL_NODES; i++) tc_close(w.t[i]);
    return ok;
}

int cl_digest(cluster *c, int i, char *out, size_t outlen)
{
    tclient *t = cl_connect(c, i);
    if (!t) return -1;
    resp_value *r = tc_cmd(t, "DEBUG", "DIGEST");
    int rc = -1;
    if (r && (r->type == RESP_T_STATUS || r->type == RESP_T_BULK) && r->len < outlen) {
        memcpy(out, r->str, r->len);
        out[r->len] = 0;
        rc = 0;
    }
    resp_value_free(r);
    tc_close(t);
    return rc;
}

int cl_converged(cluster *c)
{
    char dig[CL_NODES][64];
    long long size[CL_NODES];
    int same = 1, first = -1;
    for (int i = 0; i < CL_NODES; i++) {
        dig[i][0] = 0;
        size[i] = -1;
        if (c->n[i].pid <= 0 || c->n[i].stopped) continue;
        tclient *t = cl_connect(c, i);
        resp_value *r = t ? tc_cmd(t, "DBSIZE") : NULL;
        if (r && r->type == RESP_T_INT) size[i] = r->integer;
        resp_value_free(r);
        tc_close(t);
        if (cl_digest(c, i, dig[i], sizeof dig[i]) < 0) same = 0;
        if (first < 0) first = i;
        else if (strcmp(dig[i], dig[first]) != 0 || size[i] != size[first]) same = 0;
    }
    if (!same)
        for (int i = 0; i < CL_NODES; i++)
            printf("cluster: node %d digest=%s dbsize=%lld%s\n", i, dig[i], size[i],
                   c->n[i].pid <= 0 ? " (not running)" : "");
    return same;
}

/* ---- fault proxy ---- */

int cl_proxy(cluster *c, int i, const char *cmd, char *reply, size_t replylen)
{
    char scratch[512];
    if (!reply || replylen == 0) {
        reply = scratch;
        replylen = sizeof scratch;
    }
    reply[0] = 0;
    tclient *t = tc_connect("127.0.0.1", c->n[i].proxy_ctl, CL_IO_MS);
    if (!t) return -1;
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    size_t got = 0;
    int rc = -1;
    if (n > 0 && (size_t)n < sizeof line && tc_send_raw(t, line, (size_t)n) == 0) {
        shutdown(tc_fd(t), SHUT_WR); /* the proxy answers, then sees EOF and closes */
        cl_read_until_eof(tc_fd(t), reply, replylen - 1, &got, CL_IO_MS);
        reply[got] = 0;
        char *nl = strchr(reply, '\n');
        if (nl) *nl = 0;
        rc = strncmp(reply, "OK", 2) == 0 ? 0 : -1;
    }
    tc_close(t);
    if (rc < 0) printf("cluster: proxy %d: '%s' -> '%s'\n", i, cmd, reply);
    return rc;
}

/* ---- I/O helpers ---- */

long cl_pipeline_set(tclient *t, const char *prefix, long from, long count, int depth,
                     char *outcome)
{
    char *buf = malloc((size_t)depth * 128 + 64);
    if (!buf) return -1;
    long sent = 0, read = 0, ok = 0;
    while (read < count) {
        /* Keep up to DEPTH in flight: send a batch, then read the oldest. */
        if (sent < count && sent - read < depth) {
            size_t len = 0;
            long batch = count - sent < depth - (sent - read) ? count - sent : depth - (sent - read);
            for (long j = 0; j < batch; j++) {
                char key[64], val[32];
                int kl = snprintf(key, sizeof key, "%s%ld", prefix, from + sent + j);
                int vl = snprintf(val, sizeof val, "v%ld", from + sent + j);
                len += (size_t)sprintf(buf + len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl,
                                       key, vl, val);
            }
            if (tc_send_raw(t, buf, len) != 0) break;
            sent += batch;
        }
        long target = sent - read > depth / 2 ? sent - depth / 2 : sent;
        int io_error = 0;
        while (read < target) {
            resp_value *r = tc_read(t);
            if (!r) {
                io_error = 1;
                break;
            }
            int is_ok = r->type == RESP_T_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
            ok += is_ok;
            if (outcome) outcome[read] = is_ok ? 'O' : 'E';
            read++;
            resp_value_free(r);
        }
        if (io_error) break;
    }
    free(buf);
    return read == count ? ok : -1;
}

int cl_readable_within(tclient *t, int ms)
{
    struct pollfd p = {tc_fd(t), POLLIN, 0};
    long long deadline = proc_now_ms() + ms;
    for (;;) {
        long long left = deadline - proc_now_ms();
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0) return 1;
        if (r == 0 || errno != EINTR) return 0;
    }
}

int cl_read_until_eof(int fd, void *buf, size_t cap, size_t *got, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;
    char sink[4096];
    *got = 0;
    for (;;) {
        long long left = deadline - proc_now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0) continue;
        char *dst = *got < cap ? (char *)buf + *got : sink;
        size_t room = *got < cap ? cap - *got : sizeof sink;
        ssize_t r = recv(fd, dst, room, MSG_DONTWAIT);
        if (r == 0) return 1;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return 1; /* reset: closed just as well */
        }
        if (dst != sink) *got += (size_t)r;
    }
}

typedef struct log_wait {
    const char *path, *needle;
} log_wait;

static int log_has(void *ctx)
{
    log_wait *w = ctx;
    FILE *fp = fopen(w->path, "r");
    if (!fp) return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, fp)) found = strstr(line, w->needle) != NULL;
    fclose(fp);
    return found;
}

int cl_wait_log(const char *path, const char *needle, int timeout_ms)
{
    log_wait w = {path, needle};
    return proc_wait_until(log_has, &w, timeout_ms);
}

int cl_store_dir(const char *data_dir, char *out, size_t outlen)
{
    char path[PROC_PATH_MAX];
    snprintf(path, sizeof path, "%s/CURRENT", data_dir);
    FILE *fp = fopen(path, "r");
    int n;
    if (!fp) {
        if (errno != ENOENT) return -1;
        n = snprintf(out, outlen, "%s", data_dir);
    } else {
        unsigned long long gen = 0;
        int ok = fscanf(fp, "%llu", &gen) == 1;
        fclose(fp);
        if (!ok) return -1;
        n = snprintf(out, outlen, "%s/gen-%llu", data_dir, gen);
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int cl_log_count(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (fp && fgets(line, sizeof line, fp))
        n += strstr(line, needle) != NULL;
    if (fp) fclose(fp);
    return n;
}

static void on_alarm(int sig)
{
    static const char msg[] = "FAIL watchdog: test binary ran too long; its servers die with it\n"
                              "0 passed, 1 failed\n";
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    (void)sig;
    _exit(1);
}

void cl_watchdog(unsigned seconds)
{
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

int cl_followers_applied(cluster *c, tclient *leader)
{
    long long lsn = cl_info_ll(leader, "persistence", "last_lsn");
    int ok = lsn > 0;
    for (int i = 1; i < CL_NODES && ok; i++) {
        if (c->n[i].pid <= 0 || c->n[i].stopped) continue;
        tclient *f = cl_connect(c, i);
        char ls[32];
        snprintf(ls, sizeof ls, "%lld", lsn);
        resp_value *r = f ? tc_cmd(f, "WAITLSN", ls, "10000") : NULL;
        ok = r && r->type == RESP_T_INT && r->integer >= lsn;
        resp_value_free(r);
        tc_close(f);
    }
    return ok;
}

typedef struct cl_settle_ctx {
    cluster *c;
    tclient *leader;
} cl_settle_ctx;

static int cl_settle_once(void *ctx)
{
    cl_settle_ctx *x = ctx;
    return cl_followers_applied(x->c, x->leader) && cl_converged(x->c);
}

int cl_settled(cluster *c, tclient *leader, int timeout_ms)
{
    cl_settle_ctx x = {c, leader};
    return proc_wait_until(cl_settle_once, &x, timeout_ms);
}

