/* ecluster.c -- an elected cluster of real rkv-server processes (see
 * ecluster.h). */
#include "ecluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "common/crypto.h"

#define EC_IO_MS 5000
#define EC_START_MS 10000
#define EC_STOP_MS 10000
#define EC_ARGS_MAX (24 + EC_EXTRA_MAX)

int ec_start_node(ecluster *c, int i)
{
    ec_node *nd = &c->nd[i];
    char bin[PROC_PATH_MAX], id[16], port[16];
    const char *argv[EC_ARGS_MAX];
    int argc = 0;
    if (proc_build_path(bin, sizeof bin, "rkv-server") < 0) return -1;
    snprintf(id, sizeof id, "%d", nd->id);
    snprintf(port, sizeof port, "%d", nd->port);
    if (nd->netns[0]) {
        argv[argc++] = "ip";
        argv[argc++] = "netns";
        argv[argc++] = "exec"; /* execs in place: the pid is the server's */
        argv[argc++] = nd->netns;
    }
    argv[argc++] = bin;
    if (strcmp(nd->host, "127.0.0.1") != 0) {
        argv[argc++] = "--bind";
        argv[argc++] = nd->host;
        /* The test's clients reach it from another namespace, not over
         * loopback: protected mode (on by default, no password) would
         * refuse them. */
        argv[argc++] = "--protected-mode";
        argv[argc++] = "no";
    }
    argv[argc++] = "--node-id";
    argv[argc++] = id;
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--peers";
    argv[argc++] = c->peers;
    argv[argc++] = "--data-dir";
    argv[argc++] = nd->dir;
    if (c->secret[0]) {
        argv[argc++] = "--cluster-secret-file";
        argv[argc++] = c->secret;
    }
    for (int j = 0; j < EC_EXTRA_MAX && c->extra[j] && argc < EC_ARGS_MAX - 1; j++)
        argv[argc++] = c->extra[j];
    argv[argc] = NULL;
    nd->pid = proc_spawn(argv, nd->log);
    nd->stopped = 0;
    if (nd->pid <= 0) return -1;
    tclient *t = tc_connect(nd->host, nd->port, EC_START_MS);
    int ok = t != NULL;
    tc_close(t);
    if (!ok) printf("ecluster: node %d did not start (see %s)\n", i, nd->log);
    return ok ? 0 : -1;
}

int ec_start(ecluster *c, const char *tag, int n, const char *const *extra)
{
    ec_opts o;
    memset(&o, 0, sizeof o);
    o.extra = extra;
    return ec_start_opts(c, tag, n, &o);
}

int ec_start_opts(ecluster *c, const char *tag, int n, const ec_opts *o)
{
    memset(c, 0, sizeof *c);
    if (n < 1 || n > EC_MAX) return -1;
    c->n = n;
    for (int j = 0; o->extra && o->extra[j] && j < EC_EXTRA_MAX - 1; j++) c->extra[j] = o->extra[j];
    char *root = proc_tmpdir(tag);
    if (!root) return -1;
    snprintf(c->root, sizeof c->root, "%s", root);
    free(root);
    /* Every elected test runs with the cluster-secret handshake (and netns
     * tests need it: without a secret only loopback may replicate). */
    if (rkv_crypto_available()) {
        char rootdir[sizeof c->root];
        memcpy(rootdir, c->root, sizeof rootdir);
        snprintf(c->secret, sizeof c->secret, "%s/secret", rootdir);
        if (proc_write_secret(c->secret) < 0) return -1;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        ec_node *nd = &c->nd[i];
        nd->id = i + 1;
        if (snprintf(nd->host, sizeof nd->host, "%s", o->host[i] ? o->host[i] : "127.0.0.1") >=
                (int)sizeof nd->host ||
            snprintf(nd->netns, sizeof nd->netns, "%s", o->netns[i] ? o->netns[i] : "") >=
                (int)sizeof nd->netns)
            return -1;
        nd->port = proc_free_port();
        nd->repl_port = proc_free_port();
        if (nd->port <= 0 || nd->repl_port <= 0 || nd->port == nd->repl_port) return -1;
        for (int j = 0; j < i; j++)
            if (c->nd[j].port == nd->port || c->nd[j].repl_port == nd->port ||
                c->nd[j].port == nd->repl_port || c->nd[j].repl_port == nd->repl_port)
                return -1; /* (vanishingly rare: the test fails rather than flakes later) */
        char rootdir[sizeof c->root]; /* a copy: gcc -O1 -Wrestrict sees c->root and nd in one struct */
        memcpy(rootdir, c->root, sizeof rootdir);
        snprintf(nd->dir, sizeof nd->dir, "%s/n%d", rootdir, i + 1);
        snprintf(nd->log, sizeof nd->log, "%s/n%d.log", rootdir, i + 1);
        off += (size_t)snprintf(c->peers + off, sizeof c->peers - off, "%s%d=%s:%d",
                                i ? "," : "", nd->id, nd->host, nd->repl_port);
        if (off >= sizeof c->peers) return -1;
    }
    for (int i = 0; i < n; i++)
        if (ec_start_node(c, i) < 0) return -1;
    return 0;
}

int ec_signal(ecluster *c, int i, int sig)
{
    return proc_signal(&c->nd[i].pid, &c->nd[i].stopped, sig, EC_STOP_MS);
}

int ec_stop(ecluster *c, int keep)
{
    int bad = 0;
    for (int i = 0; i < c->n; i++) {
        bad += proc_stop_clean(&c->nd[i].pid, &c->nd[i].stopped, EC_STOP_MS, "ecluster", i);
    }
    if (!c->root[0]) return bad;
    if (keep || bad) {
        for (int i = 0; i < c->n; i++) cl_print_tail(c->nd[i].log);
        printf("ecluster: files kept in %s\n", c->root);
    } else {
        proc_rmtree(c->root);
    }
    c->root[0] = 0;
    return bad;
}

tclient *ec_connect(ecluster *c, int i)
{
    if (c->nd[i].pid <= 0) return NULL;
    return tc_connect(c->nd[i].host, c->nd[i].port, EC_IO_MS);
}

long long ec_info_ll(ecluster *c, int i, const char *field)
{
    tclient *t = ec_connect(c, i);
    char *v = t ? tc_info_field(t, NULL, field) : NULL;
    long long r = v ? atoll(v) : -1;
    free(v);
    tc_close(t);
    return r;
}

/* What every running, not stopped node says: whether it leads, whom it
 * names as leader (-2 not asked, -1 unreachable) and its election epoch. */
typedef struct ec_views {
    int leads[EC_MAX];
    long long lid[EC_MAX], epoch[EC_MAX];
} ec_views;

static void ec_ask_all(ecluster *c, ec_views *v)
{
    for (int i = 0; i < c->n; i++) {
        v->leads[i] = 0;
        v->lid[i] = -2;
        v->epoch[i] = -1;
        if (c->nd[i].pid <= 0 || c->nd[i].stopped) continue;
        tclient *t = tc_connect(c->nd[i].host, c->nd[i].port, 1000);
        resp_value *r = t ? tc_cmd(t, "INFO") : NULL;
        char *role = NULL, *id = NULL, *ep = NULL;
        if (r && r->type == RESP_T_BULK) {
            role = info_text_field(r->str, r->len, "election_role");
            /* The election's leader_id, not the follower block's: that one
             * names the last leader that connected, of any epoch. */
            id = info_text_field_from(r->str, r->len, "election_role:", "leader_id");
            ep = info_text_field(r->str, r->len, "election_epoch");
        }
        v->lid[i] = id ? atoll(id) : -1;
        v->epoch[i] = ep ? atoll(ep) : -1;
        v->leads[i] = role && strcmp(role, "leader") == 0;
        free(role);
        free(id);
        free(ep);
        resp_value_free(r);
        tc_close(t);
    }
}

int ec_leader(ecluster *c)
{
    ec_views v;
    ec_ask_all(c, &v);
    int leader = -1;
    for (int i = 0; i < c->n; i++)
        if (v.leads[i]) {
            if (leader >= 0) return -1; /* two claim it (different epochs): not settled */
            leader = i;
        }
    if (leader < 0) return -1;
    for (int i = 0; i < c->n; i++)
        if (v.lid[i] != -2 && v.lid[i] != c->nd[leader].id) return -1;
    return leader;
}

int ec_majority_leader(ecluster *c)
{
    ec_views v;
    ec_ask_all(c, &v);
    for (int l = 0; l < c->n; l++) {
        if (!v.leads[l]) continue;
        int votes = 0;
        for (int i = 0; i < c->n; i++)
            votes += v.lid[i] == c->nd[l].id && v.epoch[i] == v.epoch[l];
        if (votes > c->n / 2) return l;
    }
    return -1;
}

typedef struct { ecluster *c; int found; } leader_wait;

static int leader_found(void *ctx)
{
    leader_wait *w = ctx;
    w->found = ec_leader(w->c);
    return w->found >= 0;
}

int ec_wait_leader(ecluster *c, int timeout_ms)
{
    leader_wait w = {c, -1};
    return proc_wait_until(leader_found, &w, timeout_ms) ? w.found : -1;
}

static int digest_of(ecluster *c, int i, char *out, size_t outlen, long long *size)
{
    tclient *t = ec_connect(c, i);
    resp_value *r = t ? tc_cmd(t, "DEBUG", "DIGEST") : NULL;
    int rc = -1;
    if (r && (r->type == RESP_T_STATUS || r->type == RESP_T_BULK) && r->len < outlen) {
        memcpy(out, r->str, r->len);
        out[r->len] = 0;
        rc = 0;
    }
    resp_value_free(r);
    r = t ? tc_cmd(t, "DBSIZE") : NULL;
    *size = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    tc_close(t);
    return rc;
}

static int converged_quiet(ecluster *c, int print)
{
    char dig[EC_MAX][64];
    long long size[EC_MAX];
    int same = 1, first = -1;
    for (int i = 0; i < c->n; i++) {
        dig[i][0] = 0;
        size[i] = -1;
        if (c->nd[i].pid <= 0 || c->nd[i].stopped) continue;
        if (digest_of(c, i, dig[i], sizeof dig[i], &size[i]) < 0) same = 0;
        if (first < 0) first = i;
        else if (strcmp(dig[i], dig[first]) != 0 || size[i] != size[first]) same = 0;
    }
    if (!same && print)
        for (int i = 0; i < c->n; i++)
            printf("ecluster: node %d digest=%s dbsize=%lld%s\n", i, dig[i], size[i],
                   c->nd[i].pid <= 0 ? " (not running)" : "");
    return same;
}

int ec_converged(ecluster *c)
{
    return converged_quiet(c, 1);
}

static int converged_cond(void *ctx)
{
    return converged_quiet(ctx, 0);
}

int ec_wait_converged(ecluster *c, int timeout_ms)
{
    return proc_wait_until(converged_cond, c, timeout_ms) || ec_converged(c);
}
