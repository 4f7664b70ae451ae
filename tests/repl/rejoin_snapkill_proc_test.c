/* rejoin_snapkill_proc_test.c -- a follower killed (-9) in the middle of a
 * snapshot transfer restarts from its old state and rejoins, with real
 * rkv-server processes.
 *
 * The leader holds 200k keys with 1 KiB values (a ~210 MB checkpoint, so
 * the transfer takes a moment) and runs with --catchup-max-lag-records
 * 10000, so a follower that missed them is sent a snapshot. The follower is
 * killed as soon as its log says it is receiving the checkpoint; the test
 * checks that the kill really landed mid-transfer (no "installed snapshot"
 * line, a partial snapshot-incoming.tmp). Restarted, it is killed again as
 * soon as the leader has sent the whole checkpoint, while it fsyncs,
 * validates and installs it. Restarted once more, it rejoins: a third
 * transfer, one install, equal digests and every key. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define BIG_KEYS 200000
#define BIG_VALUE 1024
#define CONVERGE_MS 60000

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

/* The log at PATH contains NEEDLE (one look, no waiting). */
static int log_contains(const char *path, const char *needle)
{
    return cl_wait_log(path, needle, 0);
}

/* Lines of the log at PATH that contain NEEDLE. */
static int log_count(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    char line[2048];
    int n = 0;
    while (fp && fgets(line, sizeof line, fp))
        n += strstr(line, needle) != NULL;
    if (fp) fclose(fp);
    return n;
}

typedef struct count_wait {
    const char *path, *needle;
    int above;
} count_wait;

static int count_above(void *ctx)
{
    count_wait *w = ctx;
    return log_count(w->path, w->needle) > w->above;
}

int main(void)
{
    cl_watchdog(150);
    long long t0 = proc_now_ms();
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    for (int i = 0; leader_flags[i]; i++)
        o.leader_extra[i] = leader_flags[i];
    if (cl_start(&c, "rejoin-snapkill", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_section("node 1 holds an old state, then misses 200k big writes");
    test_cond("1000 writes with everyone up",
              cl_pipeline_set(l, "old:", 0, 1000, 256, NULL) == 1000);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    test_cond("killed follower node 1 with SIGKILL", cl_signal(&c, 1, SIGKILL) == 128 + SIGKILL);
    wl_writer w;
    test_cond("writer set up", wl_writer_init(&w, c.n[0].port, "big:", BIG_KEYS, BIG_VALUE) == 0);
    test_cond("writer starts", wl_writer_start(&w) == 0);
    test_cond("200k writes of 1 KiB commit", wl_wait_ok(&w, BIG_KEYS, 90000));
    wl_writer_stop(&w);
    long long t1 = proc_now_ms();
    resp_value *r = tc_cmd(l, "BGSAVE");
    test_cond("BGSAVE starts", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    ckpt_wait cw = {l};
    test_cond("the checkpoint is written", proc_wait_until(ckpt_done, &cw, 60000));
    long long t2 = proc_now_ms();

    test_section("kill -9 the follower while the checkpoint is in flight");
    long long snap_before = cl_follower_ll(l, 0, "catchup_snapshot");
    test_cond("node 1 restarts", cl_start_node(&c, 1) == 0);
    test_cond("it starts receiving a checkpoint",
              cl_wait_log(c.n[1].log, "receiving a checkpoint", 20000));
    pid_t victim = c.n[1].pid;
    test_cond("killed node 1 mid-transfer", cl_signal(&c, 1, SIGKILL) == 128 + SIGKILL);
    char tmp[PROC_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/snapshot-incoming.tmp", c.n[1].dir);
    struct stat st;
    int have_tmp = stat(tmp, &st) == 0;
    printf("killed pid %d; snapshot-incoming.tmp %s (%lld bytes)\n", (int)victim,
           have_tmp ? "present" : "absent", have_tmp ? (long long)st.st_size : 0LL);
    test_cond("the kill landed before the install",
              !log_contains(c.n[1].log, "installed snapshot"));
    test_cond("a partial checkpoint was left behind", have_tmp);
    test_cond("the leader counted a snapshot transfer",
              cl_follower_ll(l, 0, "catchup_snapshot") > snap_before);

    test_section("kill -9 the follower once the whole checkpoint was sent (while it installs)");
    int sent_before = log_count(c.n[0].log, "checkpoint sent to follower node 2");
    test_cond("node 1 restarts (its old state recovers)", cl_start_node(&c, 1) == 0);
    count_wait cw2 = {c.n[0].log, "checkpoint sent to follower node 2", sent_before};
    test_cond("the leader has sent it the whole checkpoint",
              proc_wait_until(count_above, &cw2, 30000));
    test_cond("killed node 1 while it installs", cl_signal(&c, 1, SIGKILL) == 128 + SIGKILL);
    have_tmp = stat(tmp, &st) == 0;
    printf("killed after the leader sent it all; snapshot-incoming.tmp %s (%lld bytes)\n",
           have_tmp ? "present" : "absent", have_tmp ? (long long)st.st_size : 0LL);
    test_cond("the kill landed before the install completed",
              !log_contains(c.n[1].log, "installed snapshot"));

    test_section("restarted, it rejoins by a new snapshot");
    test_cond("node 1 restarts again (its old state recovers)", cl_start_node(&c, 1) == 0);
    test_cond("its snapshot is installed", cl_wait_log(c.n[1].log, "installed snapshot", 60000));
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    long long snap_after = cl_follower_ll(l, 0, "catchup_snapshot");
    printf("follower0 catchup_snapshot %lld -> %lld\n", snap_before, snap_after);
    test_cond("three snapshot transfers counted", snap_after >= snap_before + 3);
    test_cond("digests equal on all nodes", cl_converged(&c));
    tclient *f = cl_connect(&c, 1);
    test_cond("node 1 reports snapshots_installed == 1",
              cl_info_ll(f, "replication", "snapshots_installed") == 1);
    test_cond("node 1 has every big key",
              wl_verify(f, "node 1", "big:", 0, BIG_KEYS, w.outcome, BIG_VALUE) == 0);
    test_cond("node 1 has every old key", wl_verify(f, "node 1", "old:", 0, 1000, NULL, 0) == 0);
    tc_close(f);
    wl_writer_free(&w);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    printf("times: load %.1f s, checkpoint %.1f s, kill and rejoin %.1f s\n",
           (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0,
           (double)(proc_now_ms() - t2) / 1000.0);
    return test_report();
}
