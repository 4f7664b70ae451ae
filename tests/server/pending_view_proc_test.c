/* pending_view_proc_test.c -- a leader restarted with an uncommitted INCR
 * in its log counts it in the next INCR.
 *
 * Records recovered above the commit hint wait in the pending log until a
 * quorum confirms them; the leader rebuilds its view of proposed writes
 * from them at start (keyspace.h). Without that rebuild, an INCR arriving
 * before they commit would read the older committed value, and two INCRs
 * would both answer 1 (and the key end at 1).
 *
 * The window is made wide on purpose: both followers sit behind fault
 * proxies that delay every chunk by 700 ms, so after the restart a
 * follower is online seconds before the held record's acknowledgment gets
 * back. Steps: freeze the followers (a long --follower-timeout-ms keeps
 * them online), INCR (durable on the leader only), kill -9 the leader,
 * thaw the followers, delay the proxies, restart the leader, wait for a
 * follower online, INCR again: it must answer 2, and every node end at 2. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/cluster.h"
#include "../testhelp.h"

#define DELAY_MS "700"

static int is_int_reply(resp_value *r, long long v)
{
    int ok = r && r->type == RESP_T_INT && r->integer == v;
    if (!ok)
        printf("   expected :%lld, got type %d int %lld '%s'\n", v, r ? (int)r->type : -1,
               r ? r->integer : 0, r && r->str ? r->str : "");
    resp_value_free(r);
    return ok;
}

static int lsn_at_least(void *ctx)
{
    void **a = ctx;
    return cl_info_ll(a[0], "persistence", "durable_lsn") >= *(long long *)a[1];
}

int main(void)
{
    cl_watchdog(120);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.proxied = (1u << 1) | (1u << 2);
    o.follower_timeout_ms = 30000;
    o.quorum_timeout_ms = 30000;
    if (cl_start(&c, "pendview", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("SET a first key (committed)", l && tc_cmd(l, "SET", "warm", "1") != NULL);
    long long before = cl_info_ll(l, "persistence", "last_lsn");
    test_cond("followers frozen", cl_signal(&c, 1, SIGSTOP) == 0 && cl_signal(&c, 2, SIGSTOP) == 0);
    const char incr[] = "*2\r\n$4\r\nINCR\r\n$4\r\npend\r\n";
    test_cond("INCR sent (it cannot commit)", tc_send_raw(l, incr, sizeof incr - 1) == 0);
    long long want = before + 1;
    tclient *probe = cl_connect(&c, 0);
    void *arg[2] = {probe, &want};
    test_cond("the INCR is durable on the leader", proc_wait_until(lsn_at_least, arg, 5000));
    tc_close(probe);
    test_cond("and not answered", !cl_readable_within(l, 100));
    tc_close(l);
    test_cond("leader killed with SIGKILL", cl_signal(&c, 0, SIGKILL) == 128 + SIGKILL);
    test_cond("proxies delay every chunk " DELAY_MS " ms",
              cl_proxy(&c, 1, "delay " DELAY_MS, NULL, 0) == 0 &&
                  cl_proxy(&c, 2, "delay " DELAY_MS, NULL, 0) == 0 &&
                  cl_proxy(&c, 1, "drop", NULL, 0) == 0 && cl_proxy(&c, 2, "drop", NULL, 0) == 0);
    test_cond("followers thawed", cl_signal(&c, 1, SIGCONT) == 0 && cl_signal(&c, 2, SIGCONT) == 0);
    test_cond("leader restarts", cl_start_node(&c, 0) == 0);
    l = cl_connect(&c, 0);
    tc_set_timeout(l, 30000);
    long long held = cl_info_ll(l, "persistence", "last_lsn"),
              applied = cl_info_ll(l, "persistence", "applied_lsn");
    printf("restarted leader: last_lsn %lld, applied_lsn %lld\n", held, applied);
    test_cond("it holds the INCR, not applied", held == want && applied < held);
    test_cond("a follower comes online through the slow proxy", cl_wait_online(&c, 1, 30000));
    applied = cl_info_ll(l, "persistence", "applied_lsn");
    printf("when the follower is online: applied_lsn %lld\n", applied);
    test_cond("the held INCR is still not applied (the window is open)", applied < held);
    test_cond("the second INCR answers 2: it counted the held one",
              is_int_reply(tc_cmd(l, "INCR", "pend"), 2));
    test_cond("proxies back to no delay",
              cl_proxy(&c, 1, "delay 0", NULL, 0) == 0 && cl_proxy(&c, 2, "delay 0", NULL, 0) == 0);
    test_cond("every node caught up", cl_wait_caught_up(&c, 30000));
    for (int i = 0; i < CL_NODES; i++) {
        tclient *t = cl_connect(&c, i);
        resp_value *r = t ? tc_cmd(t, "GET", "pend") : NULL;
        char d[64];
        snprintf(d, sizeof d, "node %d: pend is 2", i);
        test_cond(d, r && r->type == RESP_T_BULK && strcmp(r->str, "2") == 0);
        resp_value_free(r);
        tc_close(t);
    }
    test_cond("digests equal", cl_converged(&c));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
