/* rejoin_proc_test.c -- a follower that dies or freezes under write load
 * comes back by WAL catch-up, with real rkv-server processes.
 *
 *  1. kill -9 a follower during continuous writes, write 10k more, restart
 *     it: the leader's catchup_wal counter for it moves (and catchup_snapshot
 *     does not), every acknowledged key is on every node, digests are equal.
 *  2. SIGSTOP a follower for longer than --follower-timeout-ms: the leader
 *     marks it online=0 and keeps committing through the other follower;
 *     after SIGCONT it rejoins by itself (online=1), digests equal. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define LOAD_MS 20000 /* a writer must reach its count within this */
#define CONVERGE_MS 30000

/* Every acknowledged key of W (and the 10k extra keys) on node I. */
static void verify_node(cluster *c, int i, const wl_writer *w, const char *extra_prefix, long extra)
{
    char who[32];
    snprintf(who, sizeof who, "node %d", i);
    tclient *t = cl_connect(c, i);
    test_cond("connect to check keys", t != NULL);
    if (!t) return;
    if (w)
        test_cond("every OK'd key of the background writer is present with its value",
                  wl_verify(t, who, w->prefix, 0, atomic_load(&w->sent), w->outcome, 0) == 0);
    if (extra)
        test_cond("every key written while the follower was down is present",
                  wl_verify(t, who, extra_prefix, 0, extra, NULL, 0) == 0);
    tc_close(t);
}

static void test_kill9_follower(void)
{
    test_section("kill -9 a follower under load; it rejoins by WAL catch-up");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    if (cl_start(&c, "rejoin-wal", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return;
    }
    tclient *l = cl_connect(&c, 0);
    wl_writer w;
    test_cond("writer set up", wl_writer_init(&w, c.n[0].port, "load:", 5000000, 0) == 0);
    test_cond("writer starts", wl_writer_start(&w) == 0);
    test_cond("load flows", wl_wait_ok(&w, 20000, LOAD_MS));

    long long wal_before = cl_follower_ll(l, 0, "catchup_wal");
    long long snap_before = cl_follower_ll(l, 0, "catchup_snapshot");
    test_cond("killed follower node 1 with SIGKILL", cl_signal(&c, 1, SIGKILL) == 128 + SIGKILL);
    long ok_at_kill = atomic_load(&w.ok);
    test_cond("writes keep committing through the other follower",
              wl_wait_ok(&w, ok_at_kill + 30000, LOAD_MS));
    wl_writer_stop(&w);
    test_cond("the writer saw no I/O error", w.err[0] == 0);
    if (w.err[0]) printf("writer: %s\n", w.err);
    test_cond("10k more writes while the follower is down",
              cl_pipeline_set(l, "more:", 0, 10000, 256, NULL) == 10000);

    test_cond("follower node 1 restarts", cl_start_node(&c, 1) == 0);
    test_cond("it comes back online", cl_wait_follower_online(&c, 0, 1, 10000));
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    long long wal_after = cl_follower_ll(l, 0, "catchup_wal");
    long long snap_after = cl_follower_ll(l, 0, "catchup_snapshot");
    printf("follower0 catchup_wal %lld -> %lld, catchup_snapshot %lld -> %lld\n", wal_before,
           wal_after, snap_before, snap_after);
    test_cond("catchup_wal increased", wal_after > wal_before);
    test_cond("no snapshot was needed", snap_after == snap_before);
    test_cond("digests equal on all nodes", cl_converged(&c));
    for (int i = 0; i < CL_NODES; i++)
        verify_node(&c, i, &w, "more:", 10000);

    wl_writer_free(&w);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

static void test_sigstop_follower(void)
{
    test_section("SIGSTOP a follower past the timeout; after SIGCONT it rejoins by itself");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.heartbeat_ms = 50;
    o.follower_timeout_ms = 400;
    if (cl_start(&c, "rejoin-stop", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return;
    }
    tclient *l = cl_connect(&c, 0);
    wl_writer w;
    test_cond("writer set up", wl_writer_init(&w, c.n[0].port, "stop:", 5000000, 0) == 0);
    test_cond("writer starts", wl_writer_start(&w) == 0);
    test_cond("load flows", wl_wait_ok(&w, 2000, LOAD_MS));

    test_cond("SIGSTOP follower node 2", cl_signal(&c, 2, SIGSTOP) == 0);
    test_cond("leader marks it online=0", cl_wait_follower_online(&c, 1, 0, 5000));
    long ok_at_stop = atomic_load(&w.ok);
    test_cond("writes keep committing through node 1", wl_wait_ok(&w, ok_at_stop + 5000, LOAD_MS));
    test_cond("SIGCONT follower node 2", cl_signal(&c, 2, SIGCONT) == 0);
    test_cond("it comes back online by itself", cl_wait_follower_online(&c, 1, 1, 10000));
    long ok_at_cont = atomic_load(&w.ok);
    test_cond("writes continue after it is back", wl_wait_ok(&w, ok_at_cont + 2000, LOAD_MS));
    wl_writer_stop(&w);
    test_cond("the writer saw no I/O error", w.err[0] == 0);
    if (w.err[0]) printf("writer: %s\n", w.err);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    test_cond("digests equal on all nodes", cl_converged(&c));
    printf("follower1 reconnects=%lld catchup_wal=%lld\n", cl_follower_ll(l, 1, "reconnects"),
           cl_follower_ll(l, 1, "catchup_wal"));
    for (int i = 0; i < CL_NODES; i++)
        verify_node(&c, i, &w, NULL, 0);

    wl_writer_free(&w);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(120);
    long long t0 = proc_now_ms();
    test_kill9_follower();
    long long t1 = proc_now_ms();
    test_sigstop_follower();
    printf("times: kill9 %.1f s, sigstop %.1f s\n", (double)(t1 - t0) / 1000.0,
           (double)(proc_now_ms() - t1) / 1000.0);
    return test_report();
}
