/* install_crash_proc_test.c -- a follower that dies at any step of a
 * snapshot install restarts with either the whole old state or the whole
 * new one, then converges with the leader, with real rkv-server processes.
 *
 * The install used to delete the WAL and every checkpoint before renaming
 * the new checkpoint into place, so a crash in between left an empty
 * follower. Now it builds <data-dir>/gen-<N+1> beside the live gen-<N> and
 * switches <data-dir>/CURRENT atomically. The server's test hook
 * RKV_TEST_CRASH_AT=<step> makes it _exit(86) at that step; for every step
 * the follower is killed there, restarted, and its recovery line must show
 * the old state (steps before the CURRENT switch) or the new one (after),
 * exactly: same last LSN and key count. Then it rejoins: no stray
 * generation left, digests equal, every acknowledged write present. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define CONVERGE_MS 30000
#define BEHIND 12000 /* > --catchup-max-lag-records: a snapshot is sent */
#define CRASH_EXIT 86

static const char *const leader_flags[] = {"--catchup-max-lag-records", "10000", NULL};

typedef struct step {
    const char *name;
    int after_switch; /* 1: a restart must come back with the new state */
} step;

static const step steps[] = {
    {"mkdir", 0},       /* gen-N+1 created, empty */
    {"moved", 0},       /* the checkpoint renamed into it, not yet synced */
    {"synced", 0},      /* ... and fsynced */
    {"current-tmp", 0}, /* CURRENT.tmp written, not renamed */
    {"switched", 1},    /* CURRENT names gen-N+1; gen-N still there */
    {"removed", 1},     /* gen-N removed; the WAL not reopened yet */
};

/* From the last "recovered K keys ... last lsn=L" line of the log at PATH. */
/* Keys in the store and LSN of the last recovery line; *HELD gets the
 * records above the commit hint that recovery held back (not in the store
 * until a quorum confirms them), so KEYS may be below the old count. */
static int last_recovery(const char *path, unsigned long long *keys, unsigned long long *lsn,
                         unsigned long long *held)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    int found = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        const char *p = strstr(line, "recovered ");
        const char *q = strstr(line, "last lsn=");
        const char *h = strstr(line, " ms; ");
        if (p && q && sscanf(p, "recovered %llu keys", keys) == 1 &&
            sscanf(q, "last lsn=%llu", lsn) == 1) {
            found = 1;
            *held = 0;
            if (h && sscanf(h, " ms; %llu records above", held) != 1) *held = 0;
        }
    }
    if (fp) fclose(fp);
    return found;
}

/* LSN of the last "receiving a checkpoint of lsn X" line. */
static unsigned long long last_received(const char *path)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    unsigned long long lsn = 0, v;
    while (fp && fgets(line, sizeof line, fp)) {
        const char *p = strstr(line, "receiving a checkpoint of lsn ");
        if (p && sscanf(p, "receiving a checkpoint of lsn %llu", &v) == 1) lsn = v;
    }
    if (fp) fclose(fp);
    return lsn;
}

/* gen-* entries in DIR. */
static int count_gens(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "gen-", 4) == 0;
    if (d) closedir(d);
    return n;
}

static long long dbsize(tclient *t)
{
    resp_value *r = tc_cmd(t, "DBSIZE");
    long long n = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    return n;
}

static void crash_at(cluster *c, tclient *l, const step *s, int round)
{
    char section[128], prefix[32], needle[96];
    snprintf(section, sizeof section, "killed at step '%s' of the install", s->name);
    test_section(section);
    tclient *f = cl_connect(c, 1);
    unsigned long long old_lsn = (unsigned long long)cl_info_ll(f, "replication", "last_lsn");
    unsigned long long old_keys = (unsigned long long)dbsize(f);
    tc_close(f);
    test_cond("follower stopped with SIGKILL", cl_signal(c, 1, SIGKILL) == 128 + SIGKILL);
    snprintf(prefix, sizeof prefix, "r%d:", round);
    test_cond("writes while it is down",
              cl_pipeline_set(l, prefix, 0, BEHIND, 256, NULL) == BEHIND);
    resp_value *r = tc_cmd(l, "BGSAVE"); /* a checkpoint holding them (or one running) */
    resp_value_free(r);

    setenv("RKV_TEST_CRASH_AT", s->name, 1);
    cl_start_node(c, 1); /* may die before its port is seen: the exit code tells */
    unsetenv("RKV_TEST_CRASH_AT");
    int rc = c->n[1].pid > 0 ? proc_stop(c->n[1].pid, 0, 30000) : -1;
    c->n[1].pid = 0;
    printf("follower exited with %d\n", rc);
    test_cond("the follower died at that step (exit 86)", rc == CRASH_EXIT);
    snprintf(needle, sizeof needle, "RKV_TEST_CRASH_AT=%s:", s->name);
    test_cond("its log names the step", cl_wait_log(c->n[1].log, needle, 0));
    unsigned long long snap_lsn = last_received(c->n[1].log);

    test_cond("it restarts", cl_start_node(c, 1) == 0);
    unsigned long long keys = 0, lsn = 0, held = 0;
    test_cond("its recovery line is there", last_recovery(c->n[1].log, &keys, &lsn, &held));
    printf("old state: lsn %llu, %llu keys; snapshot lsn %llu; recovered lsn %llu, %llu keys\n",
           old_lsn, old_keys, snap_lsn, lsn, keys);
    if (s->after_switch) {
        test_cond("it recovered the whole new state (the snapshot's LSN)", lsn == snap_lsn);
        test_cond("with more keys than before", keys > old_keys);
    } else {
        test_cond("it recovered the whole old state (LSN)", lsn == old_lsn);
        /* Records above the commit hint wait for the leader's COMMIT. */
        test_cond("it recovered the whole old state (keys)",
                  held ? keys <= old_keys : keys == old_keys);
    }
    test_cond("all nodes caught up", cl_wait_caught_up(c, CONVERGE_MS));
    test_cond("digests equal on all nodes", cl_converged(c));
    test_cond("one storage generation left in its data dir", count_gens(c->n[1].dir) == 1);
    f = cl_connect(c, 1);
    test_cond("every acknowledged write is on the follower",
              f && wl_verify(f, "node 1", "base:", 0, 2000, NULL, 0) == 0);
    for (int k = 0; k <= round && f; k++) {
        snprintf(prefix, sizeof prefix, "r%d:", k);
        test_cond("every write of each round too",
                  wl_verify(f, "node 1", prefix, 0, BEHIND, NULL, 0) == 0);
    }
    tc_close(f);
}

int main(void)
{
    cl_watchdog(170);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    for (int i = 0; leader_flags[i]; i++)
        o.leader_extra[i] = leader_flags[i];
    if (cl_start(&c, "install-crash", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    tclient *l = cl_connect(&c, 0);
    test_cond("2000 writes with everyone up",
              cl_pipeline_set(l, "base:", 0, 2000, 256, NULL) == 2000);
    test_cond("all nodes caught up", cl_wait_caught_up(&c, CONVERGE_MS));
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        crash_at(&c, l, &steps[i], (int)i);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
