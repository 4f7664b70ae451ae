/* rejoin_snapshot_proc_test.c -- followers that need records the leader no
 * longer keeps rejoin by snapshot, with real rkv-server processes.
 *
 * The leader runs with --wal-retain-bytes 0, small segments and a
 * checkpoint every 256 KiB of WAL, so old segments disappear quickly.
 *  1. A follower killed (-9) before 50k writes restarts: its next LSN is
 *     gone from the leader's WAL, so it gets a snapshot (catchup_snapshot
 *     moves, its snapshots_installed moves) while a writer keeps writing;
 *     digests equal, every acknowledged key present; it survives one more
 *     restart from the installed snapshot.
 *  2. A follower whose data directory was wiped rejoins by snapshot. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"
#include "wal/wal_writer.h"

#define CONVERGE_MS 30000
#define LOAD_MS 20000

static const char *const leader_flags[] = {"--wal-retain-bytes",
                                           "0",
                                           "--wal-segment-bytes",
                                           "65536",
                                           "--checkpoint-every-bytes",
                                           "262144",
                                           NULL};

typedef struct ckpt_wait {
    tclient *t;
    long long done_before;
    long long applied; /* applied_lsn when BGSAVE was sent */
} ckpt_wait;

/* A checkpoint finished since BGSAVE, or one already held everything BGSAVE
 * asked for (the cron's own may finish just before it: BGSAVE then has
 * nothing left to write). */
static int ckpt_finished(void *ctx)
{
    ckpt_wait *w = ctx;
    return cl_info_ll(w->t, "persistence", "checkpoint_in_progress") == 0 &&
           (cl_info_ll(w->t, "persistence", "checkpoints_done") > w->done_before ||
            cl_info_ll(w->t, "persistence", "last_checkpoint_lsn") >= w->applied);
}

static int ckpt_idle(void *ctx)
{
    return cl_info_ll(((ckpt_wait *)ctx)->t, "persistence", "checkpoint_in_progress") == 0;
}

/* BGSAVE on T and wait until that checkpoint is written. 1 or 0. */
static int bgsave_and_wait(tclient *t)
{
    ckpt_wait w = {t, 0, 0};
    int ok = 0;
    /* The cron may start a checkpoint of its own between the idle check
     * and BGSAVE (--checkpoint-every-bytes is small here): then again. */
    for (int tries = 0; tries < 20 && !ok; tries++) {
        if (!proc_wait_until(ckpt_idle, &w, 20000)) return 0;
        w.done_before = cl_info_ll(t, "persistence", "checkpoints_done");
        w.applied = cl_info_ll(t, "persistence", "applied_lsn");
        resp_value *r = tc_cmd(t, "BGSAVE");
        ok = r && r->type == RESP_T_STATUS;
        int busy = r && r->str && strstr(r->str, "already in progress");
        if (!ok && !busy) printf("BGSAVE: %s\n", r && r->str ? r->str : tc_error(t));
        resp_value_free(r);
        if (!ok && !busy) return 0;
    }
    return ok && proc_wait_until(ckpt_finished, &w, 20000);
}

/* First LSN of the oldest WAL segment of the node with data dir DIR (0 if
 * none). */
static unsigned long long oldest_segment(const char *dir)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    char err[256], store[PROC_PATH_MAX];
    unsigned long long first = 0;
    if (cl_store_dir(dir, store, sizeof store) == 0 &&
        wal_segments_list(store, &firsts, &n, err, sizeof err) == 0 && n > 0)
        first = firsts[0];
    free(firsts);
    return first;
}

static void verify_keys(cluster *c, int i, const char *prefix, long count, const wl_writer *w)
{
    char who[32];
    snprintf(who, sizeof who, "node %d", i);
    tclient *t = cl_connect(c, i);
    test_cond("connect to check keys", t != NULL);
    if (!t) return;
    test_cond("every key written while the follower was away is present",
              wl_verify(t, who, prefix, 0, count, NULL, 0) == 0);
    if (w)
        test_cond("every OK'd key of the writer during the rejoin is present",
                  wl_verify(t, who, w->prefix, 0, atomic_load(&w->sent), w->outcome, 0) == 0);
    tc_close(t);
}

static void test_missed_records(cluster *c, tclient *l)
{
    test_section("a follower that missed checkpointed-away records rejoins by snapshot");
    tclient *f = cl_connect(c, 1);
    long long f_last = cl_info_ll(f, "replication", "last_lsn");
    tc_close(f);
    test_cond("killed follower node 1 with SIGKILL", cl_signal(c, 1, SIGKILL) == 128 + SIGKILL);
    test_cond("50k writes while it is down",
              cl_pipeline_set(l, "miss:", 0, 50000, 256, NULL) == 50000);
    test_cond("BGSAVE writes a checkpoint", bgsave_and_wait(l));
    unsigned long long oldest = oldest_segment(c->n[0].dir);
    printf("node 1 stopped at lsn %lld; leader's oldest WAL segment starts at %llu, "
           "checkpoints_done=%lld\n",
           f_last, oldest, cl_info_ll(l, "persistence", "checkpoints_done"));
    test_cond("the leader no longer has the follower's next record in its WAL",
              oldest > (unsigned long long)f_last + 1);

    long long snap_before = cl_follower_ll(l, 0, "catchup_snapshot");
    wl_writer w;
    test_cond("writer set up", wl_writer_init(&w, c->n[0].port, "during:", 5000000, 0) == 0);
    test_cond("writer starts", wl_writer_start(&w) == 0);
    test_cond("follower node 1 restarts", cl_start_node(c, 1) == 0);
    test_cond("it comes back online", cl_wait_follower_online(c, 0, 1, 10000));
    test_cond("its snapshot is installed", cl_wait_log(c->n[1].log, "installed snapshot", 20000));
    long ok_now = atomic_load(&w.ok);
    test_cond("writes continue after the install", wl_wait_ok(&w, ok_now + 5000, LOAD_MS));
    wl_writer_stop(&w);
    test_cond("the writer saw no I/O error", w.err[0] == 0);
    if (w.err[0]) printf("writer: %s\n", w.err);
    test_cond("all nodes caught up", cl_wait_caught_up(c, CONVERGE_MS));
    long long snap_after = cl_follower_ll(l, 0, "catchup_snapshot");
    printf("follower0 catchup_snapshot %lld -> %lld, catchup_wal=%lld\n", snap_before, snap_after,
           cl_follower_ll(l, 0, "catchup_wal"));
    test_cond("catchup_snapshot increased", snap_after > snap_before);
    f = cl_connect(c, 1);
    test_cond("node 1 reports snapshots_installed >= 1",
              cl_info_ll(f, "replication", "snapshots_installed") >= 1);
    tc_close(f);
    test_cond("digests equal on all nodes", cl_converged(c));
    for (int i = 0; i < CL_NODES; i++)
        verify_keys(c, i, "miss:", 50000, &w);

    test_section("the rebuilt follower restarts from its installed snapshot");
    test_cond("node 1 stops cleanly", cl_signal(c, 1, SIGTERM) == 0);
    test_cond("1000 more writes", cl_pipeline_set(l, "after:", 0, 1000, 256, NULL) == 1000);
    test_cond("node 1 restarts", cl_start_node(c, 1) == 0);
    test_cond("all nodes caught up", cl_wait_caught_up(c, CONVERGE_MS));
    test_cond("digests equal on all nodes", cl_converged(c));
    verify_keys(c, 1, "miss:", 50000, &w);
    wl_writer_free(&w);
}

static void test_wiped_follower(cluster *c, tclient *l)
{
    test_section("a follower whose data directory was wiped rejoins by snapshot");
    test_cond("node 2 stops", cl_signal(c, 2, SIGTERM) == 0);
    test_cond("its data directory is removed", proc_rmtree(c->n[2].dir) == 0);
    test_cond("5000 writes while it is away",
              cl_pipeline_set(l, "wiped:", 0, 5000, 256, NULL) == 5000);
    long long snap_before = cl_follower_ll(l, 1, "catchup_snapshot");
    test_cond("node 2 restarts empty", cl_start_node(c, 2) == 0);
    test_cond("all nodes caught up", cl_wait_caught_up(c, CONVERGE_MS));
    long long snap_after = cl_follower_ll(l, 1, "catchup_snapshot");
    printf("follower1 catchup_snapshot %lld -> %lld\n", snap_before, snap_after);
    test_cond("catchup_snapshot increased", snap_after > snap_before);
    tclient *f = cl_connect(c, 2);
    test_cond("node 2 reports snapshots_installed >= 1",
              cl_info_ll(f, "replication", "snapshots_installed") >= 1);
    tc_close(f);
    test_cond("digests equal on all nodes", cl_converged(c));
    verify_keys(c, 2, "miss:", 50000, NULL);
    verify_keys(c, 2, "wiped:", 5000, NULL);
}

int main(void)
{
    cl_watchdog(150);
    long long t0 = proc_now_ms();
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    for (int i = 0; leader_flags[i]; i++)
        o.leader_extra[i] = leader_flags[i];
    if (cl_start(&c, "rejoin-snap", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("2000 writes with everyone up",
              cl_pipeline_set(l, "base:", 0, 2000, 256, NULL) == 2000);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    long long t1 = proc_now_ms();
    test_missed_records(&c, l);
    long long t2 = proc_now_ms();
    test_wiped_follower(&c, l);
    for (int i = 0; i < CL_NODES; i++)
        verify_keys(&c, i, "base:", 2000, NULL);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    printf("times: setup %.1f s, missed records %.1f s, wiped %.1f s\n", (double)(t1 - t0) / 1000.0,
           (double)(t2 - t1) / 1000.0, (double)(proc_now_ms() - t2) / 1000.0);
    return test_report();
}
