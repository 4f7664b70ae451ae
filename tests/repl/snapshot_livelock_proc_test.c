/* snapshot_livelock_proc_test.c -- a follower whose snapshot takes longer
 * to load than --follower-timeout-ms installs it exactly once, then
 * catches up from the leader's WAL, with real rkv-server processes.
 *
 * The follower used to load the received checkpoint inside its event loop.
 * With a large store that took longer than the follower timeout, so the
 * leader dropped the link, stale HELLOs queued meanwhile replaced the live
 * one, the follower reported the checkpoint's LSN plus a few records (still
 * beyond --catchup-max-lag-records) and got the same snapshot again: a
 * livelock (13 installs of one checkpoint in 40 s with no writes). Now the
 * load runs on a helper thread while the loop keeps the link alive.
 *
 * The leader holds KEYS keys in a checkpoint and MORE written after it; the
 * follower missed them all. The test checks
 * that the load really took longer than the timeout (else it proves
 * nothing), that exactly one checkpoint was sent and installed, and that the
 * follower then converges: equal digests and every key. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define KEYS 300000
#define MORE 20000
#define TIMEOUT_MS 100
#define CONVERGE_MS 40000

static const char *const leader_flags[] = {"--catchup-max-lag-records", "10000", NULL};

typedef struct ckpt_wait {
    tclient *t;
} ckpt_wait;

static int ckpt_done(void *ctx)
{
    tclient *t = ((ckpt_wait *)ctx)->t;
    return cl_info_ll(t, "persistence", "checkpoint_in_progress") == 0 &&
           cl_info_ll(t, "persistence", "checkpoints_done") >= 1;
}

/* Milliseconds of the longest load or install logged in PATH: "loaded the
 * checkpoint ... in X ms" (a helper-thread load) or "installed snapshot ...
 * in X ms" (the whole install, which used to include the load). */
static double load_ms(const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    double best = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        if (!strstr(line, "loaded the checkpoint") && !strstr(line, "installed snapshot"))
            continue;
        const char *p = strstr(line, ") in ");
        double ms;
        if (p && sscanf(p, ") in %lf ms", &ms) == 1 && ms > best) best = ms;
    }
    if (fp) fclose(fp);
    return best;
}

int main(void)
{
    cl_watchdog(170);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.heartbeat_ms = 20;
    o.follower_timeout_ms = TIMEOUT_MS;
    for (int i = 0; leader_flags[i]; i++)
        o.leader_extra[i] = leader_flags[i];
    if (cl_start(&c, "snap-livelock", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("killed follower node 1 with SIGKILL", cl_signal(&c, 1, SIGKILL) == 128 + SIGKILL);
    long long t0 = proc_now_ms();
    test_cond("300k writes while it is down",
              cl_pipeline_set(l, "k:", 0, KEYS, 512, NULL) == KEYS);
    printf("writes took %.1f s\n", (double)(proc_now_ms() - t0) / 1000.0);
    resp_value *r = tc_cmd(l, "BGSAVE");
    test_cond("BGSAVE starts", r && (r->type == RESP_T_STATUS || r->type == RESP_T_ERROR));
    resp_value_free(r);
    ckpt_wait cw = {l};
    test_cond("the checkpoint is written", proc_wait_until(ckpt_done, &cw, 60000));
    /* The checkpoint is now MORE behind the leader's last LSN: more than
     * --catchup-max-lag-records, so a follower that reconnects right after
     * installing it is sent a snapshot again, unless the link survives the
     * load and the leader goes on from the WAL as it should. */
    test_cond("20k writes after the checkpoint",
              cl_pipeline_set(l, "more:", 0, MORE, 512, NULL) == MORE);

    test_section("the follower restarts, gets one snapshot, loads it, catches up");
    long long snap_before = cl_follower_ll(l, 0, "catchup_snapshot");
    t0 = proc_now_ms();
    test_cond("follower node 1 restarts", cl_start_node(&c, 1) == 0);
    test_cond("its snapshot is installed", cl_wait_log(c.n[1].log, "installed snapshot", 60000));
    test_cond("1000 writes after the install",
              cl_pipeline_set(l, "after:", 0, 1000, 64, NULL) == 1000);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    printf("rejoin took %.1f s\n", (double)(proc_now_ms() - t0) / 1000.0);
    double ms = load_ms(c.n[1].log);
    printf("checkpoint load took %.1f ms (follower timeout %d ms)\n", ms, TIMEOUT_MS);
    test_cond("the load took longer than --follower-timeout-ms (else this proves nothing)",
              ms > TIMEOUT_MS);
    long long snap_after = cl_follower_ll(l, 0, "catchup_snapshot");
    int received = cl_log_count(c.n[1].log, "receiving a checkpoint");
    int installed = cl_log_count(c.n[1].log, "installed snapshot");
    printf("leader catchup_snapshot %lld -> %lld; follower received %d, installed %d\n",
           snap_before, snap_after, received, installed);
    test_cond("the leader sent exactly one snapshot", snap_after - snap_before == 1);
    test_cond("the follower received exactly one", received == 1);
    test_cond("and installed exactly one", installed == 1);
    tclient *f = cl_connect(&c, 1);
    test_cond("INFO snapshots_installed is 1",
              cl_info_ll(f, "replication", "snapshots_installed") == 1);
    test_cond("every key is on the follower",
              f && wl_verify(f, "node 1", "k:", 0, KEYS, NULL, 0) == 0 &&
                  wl_verify(f, "node 1", "more:", 0, MORE, NULL, 0) == 0 &&
                  wl_verify(f, "node 1", "after:", 0, 1000, NULL, 0) == 0);
    tc_close(f);
    test_cond("digests equal on all nodes", cl_converged(&c));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
