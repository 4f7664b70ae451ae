/* install_ckpt_race_proc_test.c -- a checkpoint child forked before a
 * snapshot install never gets its stale checkpoint into the installed
 * state, with real rkv-server processes.
 *
 * A follower forks a checkpoint child (BGSAVE, which any client may send to
 * a follower; the cron does the same), then is sent a snapshot. The install
 * used to ignore the child: it finished afterwards and renamed its
 * snapshot-<old lsn>.snap into the data dir the install had just rebuilt,
 * where recovery could later pick it. To make the race certain the test
 * SIGSTOPs the child right after the fork and SIGCONTs it after the
 * install. Now the install kills and reaps the child, and a child writes
 * only into the storage generation of its fork, which the install retires.
 * Checked: the live storage holds no checkpoint older than the installed
 * one, the follower restarts from the installed snapshot and converges with
 * every write. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"
#include "wal/wal_checkpoint.h"

#define BASE_KEYS 200000 /* the follower's old state: its checkpoint takes a while */
#define MORE 12000       /* > --catchup-max-lag-records: a snapshot is sent */
#define CONVERGE_MS 40000

static const char *const leader_flags[] = {"--catchup-max-lag-records", "10000", NULL};

typedef struct pid_wait {
    const char *log;
    int pid;
    unsigned long long lsn;
} pid_wait;

/* The follower logged "checkpoint of lsn L started (pid P)". */
static int child_started(void *ctx)
{
    pid_wait *w = ctx;
    FILE *fp = fopen(w->log, "r");
    char line[4096];
    while (fp && fgets(line, sizeof line, fp)) {
        const char *p = strstr(line, "checkpoint of lsn ");
        if (p && sscanf(p, "checkpoint of lsn %llu started (pid %d)", &w->lsn, &w->pid) == 2)
            break;
    }
    if (fp) fclose(fp);
    return w->pid > 0;
}

/* State letter of PID from /proc (0 if it is gone). */
static char proc_state(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static int child_gone(void *ctx)
{
    char s = proc_state(((pid_wait *)ctx)->pid);
    return s == 0 || s == 'Z';
}

static int child_stopped(void *ctx)
{
    char s = proc_state(((pid_wait *)ctx)->pid);
    return s != 'R' && s != 'S' && s != 'D';
}

typedef struct count_wait {
    const char *path, *needle;
    int above;
} count_wait;

static int count_above(void *ctx)
{
    count_wait *w = ctx;
    return cl_log_count(w->path, w->needle) > w->above;
}

typedef struct ckpt_wait {
    tclient *t;
    long long before;
} ckpt_wait;

static int ckpt_done(void *ctx)
{
    ckpt_wait *w = ctx;
    return cl_info_ll(w->t, "persistence", "checkpoint_in_progress") == 0 &&
           cl_info_ll(w->t, "persistence", "checkpoints_done") > w->before;
}

int main(void)
{
    cl_watchdog(170);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.heartbeat_ms = 50;
    o.follower_timeout_ms = 300;
    for (int i = 0; leader_flags[i]; i++)
        o.leader_extra[i] = leader_flags[i];
    if (cl_start(&c, "install-race", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("200k writes with everyone up",
              cl_pipeline_set(l, "base:", 0, BASE_KEYS, 512, NULL) == BASE_KEYS);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));

    test_section("BGSAVE on the follower, its child held stopped");
    tclient *f = cl_connect(&c, 1);
    resp_value *r = tc_cmd(f, "BGSAVE");
    test_cond("BGSAVE on the follower starts a child", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    tc_close(f);
    pid_wait pw = {c.n[1].log, 0, 0};
    test_cond("its pid is logged", proc_wait_until(child_started, &pw, 5000));
    test_cond("the child is stopped before it finishes",
              pw.pid > 0 && kill(pw.pid, SIGSTOP) == 0);
    proc_wait_until(child_stopped, &pw, 2000); /* the signal lands asynchronously */
    char st = pw.pid > 0 ? proc_state(pw.pid) : 0;
    printf("checkpoint child %d (lsn %llu) state %c\n", pw.pid, pw.lsn, st ? st : '-');
    test_cond("it was still running (else the race was lost: rerun)", st == 'T' || st == 't');

    test_section("the follower falls behind and is sent a snapshot");
    test_cond("follower stopped", cl_signal(&c, 1, SIGSTOP) == 0);
    test_cond("the leader drops it", cl_wait_follower_online(&c, 0, 0, 10000));
    test_cond("12k writes while it is stopped",
              cl_pipeline_set(l, "more:", 0, MORE, 512, NULL) == MORE);
    ckpt_wait cw = {l, cl_info_ll(l, "persistence", "checkpoints_done")};
    r = tc_cmd(l, "BGSAVE");
    resp_value_free(r);
    test_cond("the leader writes a checkpoint holding them",
              proc_wait_until(ckpt_done, &cw, 30000));
    int installs = cl_log_count(c.n[1].log, "installed snapshot");
    test_cond("follower resumed", cl_signal(&c, 1, SIGCONT) == 0);
    count_wait cnt = {c.n[1].log, "installed snapshot", installs};
    test_cond("it installs a snapshot", proc_wait_until(count_above, &cnt, 30000));
    if (pw.pid > 0) kill(pw.pid, SIGCONT); /* a child still alive now finishes its write */
    test_cond("the old checkpoint child is gone", proc_wait_until(child_gone, &pw, 20000));
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));

    test_section("no stale checkpoint in the live storage");
    f = cl_connect(&c, 1);
    long long snap = cl_info_ll(f, "persistence", "last_checkpoint_lsn");
    tc_close(f);
    char store[PROC_PATH_MAX], err[256];
    uint64_t *lsns = NULL;
    size_t n = 0;
    int listed = cl_store_dir(c.n[1].dir, store, sizeof store) == 0 &&
                 wal_checkpoint_list(store, &lsns, &n, err, sizeof err) == 0;
    test_cond("the follower's checkpoints are listed", listed);
    int stale = 0;
    for (size_t i = 0; i < n; i++) {
        printf("checkpoint in %s: lsn %llu%s\n", store, (unsigned long long)lsns[i],
               (long long)lsns[i] < snap ? " (older than the installed one)" : "");
        stale += (long long)lsns[i] < snap;
    }
    free(lsns);
    printf("installed snapshot lsn %lld, stale child lsn %llu\n", snap, pw.lsn);
    test_cond("none older than the installed snapshot (the child's is not there)", stale == 0);
    test_cond("the install logged killing the child", cl_wait_log(c.n[1].log, "killed: a snapshot install", 0));

    test_section("the follower restarts from the installed state and converges");
    test_cond("follower stops cleanly", cl_signal(&c, 1, SIGTERM) == 0);
    test_cond("1000 more writes", cl_pipeline_set(l, "after:", 0, 1000, 64, NULL) == 1000);
    test_cond("follower restarts", cl_start_node(&c, 1) == 0);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    test_cond("digests equal on all nodes", cl_converged(&c));
    f = cl_connect(&c, 1);
    test_cond("every write is on the follower",
              f && wl_verify(f, "node 1", "base:", 0, BASE_KEYS, NULL, 0) == 0 &&
                  wl_verify(f, "node 1", "more:", 0, MORE, NULL, 0) == 0 &&
                  wl_verify(f, "node 1", "after:", 0, 1000, NULL, 0) == 0);
    tc_close(f);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
