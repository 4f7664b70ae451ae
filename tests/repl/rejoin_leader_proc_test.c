/* rejoin_leader_proc_test.c -- leader crash and divergent follower tails,
 * with real rkv-server processes.
 *
 *  1. kill -9 the leader while four clients pipeline unique keys and record
 *     every reply (OK / error / none), three times, the later crashes soon
 *     after a restart. Restarted, the leader takes a new epoch; every key
 *     that got OK is on every node with its value, and the digests are
 *     equal once the followers have rejoined.
 *  2. A follower's WAL gets a tail the leader never had, written by this test
 *     with the real record codec and WAL writer (what a follower holds when
 *     the leader shipped records and crashed before its own fdatasync):
 *     a. tail in the old epoch, leader restarted (new epoch) and ahead of it:
 *        the leader's record at the follower's last LSN has another epoch;
 *        The follower drops the tail (it sits above what it applied: a
 *        follower applies only what a leader said is committed) and
 *        catches up from there, without a snapshot (the leader's follower
 *        line counts truncations, catchup_snapshot does not move); the
 *        divergent keys are gone, digests are equal, and they stay gone
 *        after the follower restarts.
 *     b. tail beyond the leader's last LSN, in the leader's own last epoch,
 *        the leader restarted and nothing written yet: the follower's log
 *        is the more recent one, and the leader takes its records first
 *        (Raft's rule: the most recent log wins); the tail's keys end up on
 *        every node, digests equal. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"
#include "common/hlc.h"
#include "kv/kv_store.h"
#include "wal/wal_record.h"
#include "wal/wal_recovery.h"
#include "wal/wal_writer.h"

#define CLIENTS 4
#define CRASH_ROUNDS 3
#define CONVERGE_MS 30000
#define LOAD_MS 20000

/* ---- leader kill -9 under load ---- */

static void verify_writers(cluster *c, wl_writer *w, int nw)
{
    for (int i = 0; i < CL_NODES; i++) {
        char who[32];
        snprintf(who, sizeof who, "node %d", i);
        tclient *t = cl_connect(c, i);
        test_cond("connect to check keys", t != NULL);
        if (!t) continue;
        long bad = 0;
        for (int k = 0; k < nw; k++) {
            long b = wl_verify(t, who, w[k].prefix, 0, atomic_load(&w[k].sent), w[k].outcome, 0);
            bad += b < 0 ? 1 : b;
        }
        test_cond("every key that got OK is present with its value", bad == 0);
        tc_close(t);
    }
}

/* Starts CLIENTS writers of round R on the leader, waits until each has
 * MIN_OK replies, kills the leader with SIGKILL and collects the outcomes. */
static void crash_under_load(cluster *c, wl_writer *w, int r, long min_ok)
{
    for (int k = 0; k < CLIENTS; k++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "r%dc%d:", r, k);
        test_cond("writer set up", wl_writer_init(&w[k], c->n[0].port, prefix, 5000000, 0) == 0);
        test_cond("writer starts", wl_writer_start(&w[k]) == 0);
    }
    for (int k = 0; k < CLIENTS; k++)
        test_cond("load flows", wl_wait_ok(&w[k], min_ok, LOAD_MS));
    test_cond("killed the leader with SIGKILL", cl_signal(c, 0, SIGKILL) == 128 + SIGKILL);
    long ok = 0, err = 0, unknown = 0;
    for (int k = 0; k < CLIENTS; k++) {
        wl_writer_stop(&w[k]);
        if (w[k].first_error[0])
            printf("round %d writer %d: first error: %s\n", r, k, w[k].first_error);
        ok += atomic_load(&w[k].ok);
        err += atomic_load(&w[k].errors);
        unknown += atomic_load(&w[k].sent) - atomic_load(&w[k].replied);
    }
    printf("round %d: at the crash %ld OK, %ld errors, %ld without a reply\n", r, ok, err, unknown);
}

static void test_leader_kill9(void)
{
    test_section("kill -9 the leader under load from 4 clients; no acknowledged write is lost");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    if (cl_start(&c, "rejoin-leader", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return;
    }
    tclient *l = cl_connect(&c, 0);
    long long epoch_before = cl_info_ll(l, "replication", "epoch");
    tc_close(l);
    /* Round 0 crashes a settled cluster; the later rounds crash the leader
     * again right after its restart, while followers may still be catching
     * up or taking a snapshot. */
    wl_writer w[CRASH_ROUNDS * CLIENTS];
    for (int r = 0; r < CRASH_ROUNDS; r++) {
        crash_under_load(&c, &w[r * CLIENTS], r, r == 0 ? 10000 : 1000);
        test_cond("the leader restarts", cl_start_node(&c, 0) == 0);
        if (r == 0) test_cond("both followers rejoin", cl_wait_online(&c, 2, 10000));
    }
    test_cond("both followers rejoin", cl_wait_online(&c, 2, 10000));
    l = cl_connect(&c, 0);
    long long epoch_after = cl_info_ll(l, "replication", "epoch");
    printf(
        "leader epoch %lld -> %lld; follower0 wal=%lld snap=%lld, follower1 wal=%lld snap=%lld\n",
        epoch_before, epoch_after, cl_follower_ll(l, 0, "catchup_wal"),
        cl_follower_ll(l, 0, "catchup_snapshot"), cl_follower_ll(l, 1, "catchup_wal"),
        cl_follower_ll(l, 1, "catchup_snapshot"));
    test_cond("the restarted leader took a new epoch each time",
              epoch_after == epoch_before + CRASH_ROUNDS);
    test_cond("it accepts writes again", cl_pipeline_set(l, "post:", 0, 1000, 256, NULL) == 1000);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    test_cond("digests equal on all nodes", cl_converged(&c));
    verify_writers(&c, w, CRASH_ROUNDS * CLIENTS);
    for (int k = 0; k < CRASH_ROUNDS * CLIENTS; k++)
        wl_writer_free(&w[k]);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- divergent tails ---- */

/* Appends COUNT records "<prefix><j>" = "v<j>" (epoch EPOCH) after the last
 * record of the log in DIR, with the real codec and writer. 0 or -1. */
static int append_divergent_tail(const char *data_dir, uint64_t epoch, const char *prefix,
                                 int count, uint64_t *last_out)
{
    char err[512], dir[PROC_PATH_MAX];
    /* The WAL is in the storage generation CURRENT names. */
    if (cl_store_dir(data_dir, dir, sizeof dir) < 0) {
        printf("no storage dir in %s\n", data_dir);
        return -1;
    }
    kv_store *kv = kv_new();
    wal_recovery_info info;
    if (!kv || wal_recover(dir, kv, &info, NULL, err, sizeof err) < 0) {
        printf("recover %s: %s\n", dir, kv ? err : "out of memory");
        kv_free(kv);
        return -1;
    }
    kv_free(kv);
    wal_writer *wr =
        wal_writer_open(dir, WAL_SEGMENT_BYTES_DEFAULT, info.last_lsn + 1, NULL, err, sizeof err);
    if (!wr) {
        printf("open WAL of %s: %s\n", dir, err);
        return -1;
    }
    hlc clock;
    hlc_init(&clock, NULL, NULL);
    hlc_observe(&clock, info.max_ts);
    /* One batch, one write: the writer syncs each batch before the next,
     * so record-at-a-time writes would cost a sync per record. */
    int rc = 0;
    uint8_t *all = malloc((size_t)count * 256);
    size_t total = 0;
    if (!all) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    for (int j = 0; j < count && rc == 0; j++) {
        char key[64], val[WL_VALUE_MAX + 32];
        int kl = snprintf(key, sizeof key, "%s%d", prefix, j);
        size_t vl = wl_value(j, 0, val);
        wal_rec r = {.lsn = info.last_lsn + 1 + (uint64_t)j,
                     .epoch = epoch,
                     .ts = hlc_now(&clock),
                     .node_id = 1,
                     .op = WAL_OP_PUT,
                     .klen = (uint32_t)kl,
                     .vlen = (uint32_t)vl,
                     .key = (const uint8_t *)key,
                     .val = (const uint8_t *)val};
        if (wal_record_size(r.klen, r.vlen) > 256) {
            snprintf(err, sizeof err, "record %d too big for the test buffer", j);
            rc = -1;
            break;
        }
        total += wal_record_encode(&r, all + total);
    }
    if (rc == 0 && count > 0)
        rc = wal_writer_write(wr, all, total, info.last_lsn + 1, info.last_lsn + (uint64_t)count,
                              err, sizeof err);
    free(all);
    if (rc == 0) rc = wal_writer_sync(wr, err, sizeof err);
    if (rc < 0) printf("append to %s: %s\n", dir, err);
    if (wal_writer_close(wr) < 0) rc = -1;
    *last_out = info.last_lsn + (uint64_t)count;
    return rc;
}

/* Stops every node, in order: followers after the leader is gone would be
 * fine too; SIGTERM flushes everything. */
static int stop_all(cluster *c)
{
    int bad = 0;
    for (int i = 0; i < CL_NODES; i++)
        if (c->n[i].pid > 0 && cl_signal(c, i, SIGTERM) != 0) bad++;
    return bad;
}

/* Starts node 1 with its divergent tail and checks it is rebuilt. */
static void expect_rebuilt(cluster *c, const char *div_prefix, int div_count, uint64_t div_last,
                           const char *leader_says)
{
    tclient *l = cl_connect(c, 0);
    long long snap_before = cl_follower_ll(l, 0, "catchup_snapshot");
    test_cond("node 1 starts with its divergent tail", cl_start_node(c, 1) == 0);
    /* Its log, not INFO: the leader may already be replacing its state. */
    char needle[64];
    snprintf(needle, sizeof needle, "last lsn=%llu in", (unsigned long long)div_last);
    test_cond("node 1 recovered the divergent tail", cl_wait_log(c->n[1].log, needle, 5000));
    test_cond("node 1 comes back online", cl_wait_follower_online(c, 0, 1, 10000));
    test_cond("it drops its divergent tail", cl_wait_log(c->n[1].log, "uncommitted records after lsn", 20000));
    test_cond("the leader saw the divergence", cl_wait_log(c->n[0].log, leader_says, 1000));
    test_cond("no snapshot was needed", cl_log_count(c->n[1].log, "installed snapshot") == 0);
    test_cond("100 more writes", cl_pipeline_set(l, "more:", 0, 100, 64, NULL) == 100);
    test_cond("all nodes caught up", cl_wait_caught_up(c, CONVERGE_MS));
    long long snap_after = cl_follower_ll(l, 0, "catchup_snapshot");
    printf("follower0 catchup_snapshot %lld -> %lld\n", snap_before, snap_after);
    test_cond("catchup_snapshot did not move", snap_after == snap_before);
    test_cond("the leader counts the truncation", cl_follower_ll(l, 0, "truncations") >= 1);
    test_cond("digests equal on all nodes", cl_converged(c));
    tclient *f = cl_connect(c, 1);
    test_cond("no divergent key is left on node 1",
              wl_count_present(f, div_prefix, 0, div_count) == 0);
    test_cond("node 1 has the base keys", wl_verify(f, "node 1", "base:", 0, 3000, NULL, 0) == 0);
    tc_close(f);

    test_cond("node 1 restarts from its rebuilt state",
              cl_signal(c, 1, SIGTERM) == 0 && cl_start_node(c, 1) == 0);
    test_cond("all nodes caught up", cl_wait_caught_up(c, CONVERGE_MS));
    test_cond("digests still equal", cl_converged(c));
    f = cl_connect(c, 1);
    test_cond("the divergent keys did not come back",
              wl_count_present(f, div_prefix, 0, div_count) == 0);
    tc_close(f);
    tc_close(l);
}

static void test_divergent_tail(void)
{
    test_section("a follower with a divergent tail is brought back in line");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    if (cl_start(&c, "rejoin-diverge", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return;
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("2000 writes", cl_pipeline_set(l, "base:", 0, 2000, 256, NULL) == 2000);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    uint64_t epoch = (uint64_t)cl_info_ll(l, "replication", "epoch");
    tc_close(l);
    test_cond("cluster stops", stop_all(&c) == 0);

    test_section("a: tail in the old epoch; the new leader's records at those LSNs differ");
    uint64_t div_last = 0;
    test_cond("100 divergent records appended to node 1's WAL",
              append_divergent_tail(c.n[1].dir, epoch, "diva:", 100, &div_last) == 0);
    test_cond("leader and node 2 restart", cl_start_node(&c, 2) == 0 && cl_start_node(&c, 0) == 0);
    test_cond("node 2 is online", cl_wait_follower_online(&c, 1, 1, 10000));
    l = cl_connect(&c, 0);
    test_cond("1000 writes: the leader passes the divergent LSNs",
              cl_pipeline_set(l, "base:", 2000, 1000, 256, NULL) == 1000);
    test_cond("leader is ahead of the tail",
              cl_info_ll(l, "replication", "last_lsn") > (long long)div_last);
    epoch = (uint64_t)cl_info_ll(l, "replication", "epoch");
    tc_close(l);
    expect_rebuilt(&c, "diva:", 100, div_last, "has a divergent tail");
    test_cond("cluster stops", stop_all(&c) == 0);

    test_section("b: tail beyond the leader's last LSN");
    test_cond("5000 divergent records appended to node 1's WAL",
              append_divergent_tail(c.n[1].dir, epoch, "divb:", 5000, &div_last) == 0);
    test_cond("leader and node 2 restart", cl_start_node(&c, 2) == 0 && cl_start_node(&c, 0) == 0);
    l = cl_connect(&c, 0);
    test_cond("leader is behind the tail",
              cl_info_ll(l, "replication", "last_lsn") < (long long)div_last);
    tc_close(l);
    /* The tail is of the leader's own last epoch and the leader has written
     * nothing in its new one: the most recent log wins (Raft's rule), so
     * the leader takes those records instead of cutting them. */
    test_cond("node 1 starts with its tail", cl_start_node(&c, 1) == 0);
    test_cond("the leader takes the more recent log",
              cl_wait_log(c.n[0].log, "taking its records first", 10000));
    test_cond("and leads again", cl_wait_log(c.n[0].log, "leading again", 10000));
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    test_cond("digests equal on all nodes", cl_converged(&c));
    for (int i = 0; i < CL_NODES; i++) {
        tclient *t = cl_connect(&c, i);
        test_cond("the tail's keys are on every node", wl_count_present(t, "divb:", 0, 5000) == 5000);
        tc_close(t);
    }
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(120);
    long long t0 = proc_now_ms();
    test_leader_kill9();
    long long t1 = proc_now_ms();
    test_divergent_tail();
    printf("times: leader kill9 %.1f s, divergent tails %.1f s\n", (double)(t1 - t0) / 1000.0,
           (double)(proc_now_ms() - t1) / 1000.0);
    return test_report();
}
