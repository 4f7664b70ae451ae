/* fast_ack_proc_test.c -- followers acknowledge from their WAL thread.
 *
 * With --ack-from-wal-thread yes (the default) a follower's WAL thread
 * writes the ACK to the leader link the moment fdatasync returns, without
 * waking the loop (repl_recv.c). Checked here on real processes:
 *   - writes commit and every follower counts thread ACKs (INFO replication
 *     wal_thread_acks), about one per fdatasync when writes come one by one;
 *   - with one follower frozen the other's thread ACKs alone commit, and the
 *     frozen one catches up after it thaws, its link re-armed;
 *   - a follower restarted with the option off sends none and the cluster
 *     still commits (the loop's ACK path), and the data converges.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/expect.h"
#include "../testhelp.h"

static int set_n(tclient *l, const char *prefix, int from, int n)
{
    int ok = 0;
    for (int i = from; i < from + n; i++) {
        char k[48];
        snprintf(k, sizeof k, "%s:%d", prefix, i);
        resp_value *r = tc_cmd(l, "SET", k, "v");
        ok += r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0;
        resp_value_free(r);
    }
    return ok;
}

static long long node_ll(cluster *c, int i, const char *section, const char *field)
{
    tclient *t = cl_connect(c, i);
    long long v = t ? cl_info_ll(t, section, field) : -1;
    tc_close(t);
    return v;
}

int main(void)
{
    cl_watchdog(120);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    int up = cl_start_online(&c, "fastack", &o) == 0;
    test_cond("cluster starts with both followers online", up);
    if (!up) return test_report();
    tclient *l = cl_connect(&c, 0);
    tc_set_timeout(l, 20000);
    test_cond("200 SETs one by one commit", l && set_n(l, "a", 0, 200) == 200);
    for (int i = 1; i <= 2; i++) {
        long long acks = node_ll(&c, i, "replication", "wal_thread_acks");
        long long syncs = node_ll(&c, i, "persistence", "wal_syncs");
        printf("follower %d: %lld thread ACKs, %lld WAL syncs\n", i, acks, syncs);
        char d[96];
        snprintf(d, sizeof d, "follower %d acked from its WAL thread (most of its syncs)", i);
        test_cond(d, acks > 0 && acks * 10 >= syncs * 8);
    }

    test_cond("follower 2 frozen", cl_signal(&c, 2, SIGSTOP) == 0);
    long long before = node_ll(&c, 1, "replication", "wal_thread_acks");
    test_cond("100 SETs commit on follower 1's ACKs alone", set_n(l, "b", 0, 100) == 100);
    test_cond("follower 1's thread ACKs went on",
              node_ll(&c, 1, "replication", "wal_thread_acks") > before);
    test_cond("follower 2 thawed", cl_signal(&c, 2, SIGCONT) == 0);
    test_cond("every node caught up", cl_wait_caught_up(&c, 30000));
    before = node_ll(&c, 2, "replication", "wal_thread_acks");
    test_cond("50 more SETs", set_n(l, "c", 0, 50) == 50);
    test_cond("follower 2 acks from its thread again",
              node_ll(&c, 2, "replication", "wal_thread_acks") > before);

    /* Follower 1 restarted with the option off: the loop acks. */
    tc_close(l);
    test_cond("follower 1 stops cleanly", cl_signal(&c, 1, SIGTERM) == 0);
    c.opts.follower_extra[0] = "--ack-from-wal-thread";
    c.opts.follower_extra[1] = "no";
    c.opts.follower_extra[2] = NULL;
    test_cond("follower 1 restarts with --ack-from-wal-thread no", cl_start_node(&c, 1) == 0);
    test_cond("both followers online again", cl_wait_online(&c, 2, 10000));
    test_cond("follower 2 frozen (only follower 1 can make the quorum)",
              cl_signal(&c, 2, SIGSTOP) == 0);
    l = cl_connect(&c, 0);
    tc_set_timeout(l, 20000);
    test_cond("100 SETs commit on the loop's ACKs", l && set_n(l, "d", 0, 100) == 100);
    test_cond("follower 1 sent no thread ACK",
              node_ll(&c, 1, "replication", "wal_thread_acks") == 0);
    test_cond("follower 2 thawed", cl_signal(&c, 2, SIGCONT) == 0);
    test_cond("every node caught up", cl_wait_caught_up(&c, 30000));
    test_cond("digests equal", cl_converged(&c));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
