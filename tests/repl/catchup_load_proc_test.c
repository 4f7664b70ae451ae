/* catchup_load_proc_test.c -- a WAL catch-up that runs while clients keep
 * writing must go through in one piece: one catch-up, no dropped links.
 *
 * Regression: the leader patched the header of a catch-up RECORDS frame at an
 * absolute buffer offset, but reading the records could compact the buffer
 * (unsent bytes moved to the front), so a zero header went out, the follower
 * saw "unknown frame type 0" and dropped the link, and the catch-up restarted
 * over and over (21 times for a 1M-record backlog). Safe, the CRCs and the
 * resume-from-last-good-LSN rule held, but slow; only visible when live
 * writes keep the link's buffer from ever draining. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define BEHIND 300000 /* records the follower misses: many catch-up frames */

int main(void)
{
    cl_watchdog(300);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    if (cl_start(&c, "catchup-load", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("follower node 3 stopped", cl_signal(&c, 2, SIGKILL) == 128 + SIGKILL);
    char *outcome = NULL;
    test_cond("backlog written while it is down",
              cl_pipeline_set(l, "b:", 0, BEHIND, 256, outcome) == BEHIND);
    long long wal_before = cl_follower_ll(l, 1, "catchup_wal");

    wl_writer w;
    test_cond("writer set up", wl_writer_init(&w, c.n[0].port, "live:", 5000000, 0) == 0);
    test_cond("writer starts", wl_writer_start(&w) == 0);
    test_cond("live load flows", wl_wait_ok(&w, 5000, 20000));
    test_cond("follower restarted under load", cl_start_node(&c, 2) == 0);
    long ok_at_restart = atomic_load(&w.ok);
    test_cond("load goes on during the catch-up", wl_wait_ok(&w, ok_at_restart + 50000, 30000));
    wl_writer_stop(&w);
    test_cond("caught up", cl_wait_caught_up(&c, 60000));
    long long catchups = cl_follower_ll(l, 1, "catchup_wal") - wal_before;
    tclient *f = cl_connect(&c, 2);
    long long handshakes = f ? cl_info_ll(f, "replication", "handshakes") : -1;
    printf("catch-ups %lld, handshakes since the restart %lld\n", catchups, handshakes);
    test_cond("exactly one WAL catch-up", catchups == 1);
    test_cond("the link was never dropped during it (one handshake)", handshakes == 1);
    test_cond("the follower never saw a bad frame", !cl_wait_log(c.n[2].log, "bad frame", 1));
    test_cond("every node converged", cl_converged(&c));
    test_cond("every acknowledged live write is on the follower",
              f && wl_verify(f, "node 3", "live:", 0, atomic_load(&w.sent), w.outcome, 0) == 0);
    test_cond("and the whole backlog", f && wl_verify(f, "node 3", "b:", 0, BEHIND, NULL, 0) == 0);
    tc_close(f);
    tc_close(l);
    wl_writer_free(&w);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
