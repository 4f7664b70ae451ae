/* splitbrain_proc_test.c -- issue 11's manual split brain, in the fixed
 * topology (--role leader / --followers):
 *
 * the leader is killed; an operator restarts follower 2 (node 1) with
 * --role leader --followers <follower 3>, then restarts the old leader with
 * its original flags. Both pick epoch E + 1 ("this node's last epoch + 1").
 * Before the fix follower 3 flipped between them about ten times a second
 * and both answered OK. Now a follower keeps the first leader it took in an
 * epoch (persisted with the epoch) and answers a second claimant STALE; that
 * one refuses to lead. The test checks: one leader takes writes, the other
 * refuses them, follower 3 stops re-handshaking, and every acknowledged
 * write is on the leader and on follower 3. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../testhelp.h"

#define WATCHDOG_S 120
#define NKEYS 300

static int set_ok(tclient *t, const char *k, const char *v)
{
    resp_value *r = tc_cmd(t, "SET", k, v);
    int ok = r && r->type == RESP_T_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
    resp_value_free(r);
    return ok;
}

static int all_present(int port, const char *prefix, const char *acked)
{
    tclient *t = tc_connect("127.0.0.1", port, 5000);
    int good = t != NULL;
    for (int j = 0; j < NKEYS && good; j++) {
        if (!acked[j]) continue;
        char k[32], v[32];
        snprintf(k, sizeof k, "%s%d", prefix, j);
        snprintf(v, sizeof v, "v%d", j);
        resp_value *r = tc_cmd(t, "GET", k);
        good = r && r->type == RESP_T_BULK && r->len == strlen(v) && memcmp(r->str, v, r->len) == 0;
        if (!good) printf("   %s missing on port %d\n", k, port);
        resp_value_free(r);
    }
    tc_close(t);
    return good;
}

typedef struct { int port; } portw;
static int refuses_writes(void *ctx)
{
    portw *w = ctx;
    tclient *t = tc_connect("127.0.0.1", w->port, 2000);
    if (t) tc_set_timeout(t, 1500);
    resp_value *r = t ? tc_cmd(t, "SET", "probe", "x") : NULL;
    int refused = r && r->type == RESP_T_ERROR;
    resp_value_free(r);
    tc_close(t);
    return refused;
}

typedef struct { tclient *t; const char *field; long long want_above; } infow;
static int info_above(void *ctx)
{
    infow *w = ctx;
    return cl_info_ll(w->t, "replication", w->field) > w->want_above;
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    signal(SIGPIPE, SIG_IGN);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum_timeout_ms = 1000;
    char a1[NKEYS] = {0}, a2[NKEYS] = {0};
    test_section("a fixed cluster takes writes");
    test_cond("cluster starts", cl_start(&c, "splitbrain", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 10000));
    tclient *t = cl_connect(&c, 0);
    int n = 0;
    for (int j = 0; j < NKEYS; j++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "a%d", j);
        snprintf(v, sizeof v, "v%d", j);
        if (set_ok(t, k, v)) a1[j] = 1, n++;
    }
    tc_close(t);
    test_cond("300 writes acknowledged", n == NKEYS);

    test_section("follower 2 is restarted as a leader of follower 3");
    test_cond("leader killed", cl_signal(&c, 0, SIGKILL) != -1);
    test_cond("follower 2 stopped", cl_signal(&c, 1, SIGTERM) == 0);
    char bin[PROC_PATH_MAX], id[8], port[16], fol[64];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(id, sizeof id, "%d", c.n[1].id);
    snprintf(port, sizeof port, "%d", c.n[1].port);
    snprintf(fol, sizeof fol, "127.0.0.1:%d", c.n[2].repl_port);
    const char *const argv[] = {bin, "--node-id", id, "--port", port, "--data-dir", c.n[1].dir,
                                "--role", "leader", "--followers", fol, "--quorum-timeout-ms",
                                "1000", "--cluster-secret-file", c.secret, NULL};
    c.n[1].pid = proc_spawn(argv, c.n[1].log);
    t = tc_connect("127.0.0.1", c.n[1].port, 10000);
    test_cond("it listens", t != NULL);
    infow on = {t, "connected_followers", 0};
    test_cond("follower 3 follows it", proc_wait_until(info_above, &on, 10000));
    n = 0;
    for (int j = 0; j < NKEYS; j++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "b%d", j);
        snprintf(v, sizeof v, "v%d", j);
        if (set_ok(t, k, v)) a2[j] = 1, n++;
    }
    test_cond("it acknowledges writes", n == NKEYS);

    test_section("the old leader comes back with its original flags");
    test_cond("old leader restarted", cl_start_node(&c, 0) == 0);
    portw w = {c.n[0].port};
    test_cond("it refuses writes (follower 3 belongs to the other leader of its epoch)",
              proc_wait_until(refuses_writes, &w, 10000));
    tclient *f3 = cl_connect(&c, 2);
    long long h0 = cl_info_ll(f3, "replication", "handshakes");
    test_cond("the new leader still takes writes", set_ok(t, "after", "restart"));
    /* Flip-flopping showed as ~10 handshakes a second: none may come now. */
    infow hw = {f3, "handshakes", h0};
    test_cond("follower 3 no longer flips between leaders",
              h0 >= 0 && !proc_wait_until(info_above, &hw, 1500));
    tc_close(f3);
    tc_close(t);
    test_cond("every acknowledged write is on the new leader",
              all_present(c.n[1].port, "a", a1) && all_present(c.n[1].port, "b", a2));
    test_cond("and on follower 3", all_present(c.n[2].port, "a", a1) && all_present(c.n[2].port, "b", a2));
    test_cond("the old leader says why in its log",
              cl_log_count(c.n[0].log, "follows another leader in epoch") >= 1);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
