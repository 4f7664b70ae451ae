/* ready_proc_test.c -- writes right after a leader starts (issue 14): a
 * leader whose followers are still connecting holds a write until they
 * are, instead of answering NOREPLICAS, so a script may write as soon as
 * the leader accepts connections; with no follower coming, the write is
 * refused once NODE_QUORUM_GRACE_MS (2 s) have passed since the leader
 * started, not held forever. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/expect.h"
#include "../testhelp.h"

int main(void)
{
    cl_watchdog(120);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    test_cond("cluster starts", cl_start(&c, "ready", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 10000));
    test_cond("followers stopped", cl_signal(&c, 1, SIGTERM) == 0 && cl_signal(&c, 2, SIGTERM) == 0);
    test_cond("leader restarted alone", cl_signal(&c, 0, SIGTERM) == 0 && cl_start_node(&c, 0) == 0);

    test_section("a write to a new leader waits for its followers");
    tclient *l = cl_connect(&c, 0);
    /* The SET is sent, then the followers are started (from this thread:
     * processes die with the thread that forked them), then its reply read. */
    static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    test_cond("INFO says the leader is not ready (rkv_ready:0)",
              l && cl_info_ll(l, "persistence", "rkv_ready") == 0);
    long long t0 = proc_now_ms();
    int sent = l && tc_send_raw(l, set, sizeof set - 1) == 0;
    test_cond("nothing answered while no follower is there", sent && !cl_readable_within(l, 300));
    test_cond("followers restarted", cl_start_node(&c, 1) == 0 && cl_start_node(&c, 2) == 0);
    test_cond("SET right after the start: OK once the followers connect",
              sent && expect_str(tc_read(l), "OK"));
    long long waited = proc_now_ms() - t0;
    printf("   the SET waited %lld ms\n", waited);
    test_cond("it waited for them (not refused at once)", waited >= 300 && waited < 5000);
    test_cond("and INFO says ready (rkv_ready:1)", l && cl_info_ll(l, "persistence", "rkv_ready") == 1);
    test_cond("the write is on every node", cl_wait_caught_up(&c, 10000) && cl_converged(&c));
    tc_close(l);

    test_section("with no follower coming, the write is refused after the grace");
    test_cond("followers stopped", cl_signal(&c, 1, SIGTERM) == 0 && cl_signal(&c, 2, SIGTERM) == 0);
    test_cond("leader restarted alone", cl_signal(&c, 0, SIGTERM) == 0 && cl_start_node(&c, 0) == 0);
    l = cl_connect(&c, 0);
    t0 = proc_now_ms();
    test_cond("SET: NOREPLICAS", l && expect_err(tc_cmd(l, "SET", "k2", "v"), "NOREPLICAS"));
    waited = proc_now_ms() - t0;
    printf("   refused after %lld ms\n", waited);
    test_cond("after the 2 s grace, not before, not much later", waited >= 1500 && waited < 4000);
    t0 = proc_now_ms();
    test_cond("past the grace: refused at once", l && expect_err(tc_cmd(l, "SET", "k3", "v"), "NOREPLICAS"));
    test_cond("(at once)", proc_now_ms() - t0 < 500);
    test_cond("reads go on", l && expect_str(tc_cmd(l, "GET", "k"), "v"));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
