/* commit_proc_test.c -- what is readable is what is committed, on every node,
 * across restarts and damage (issue 10 items 3, 4 and 5), with real
 * rkv-server processes:
 *
 *  1. a follower never serves a record the leader has not committed: with
 *     --quorum 2 and one follower stopped, a SET is durable on the other
 *     follower but not committed, and a GET there returns nil until the
 *     stopped follower is back (item 4);
 *  2. a restarted leader does not serve a record that never reached a
 *     quorum: a SET that answered -TIMEOUT is not readable after a restart
 *     with no follower reachable, and commits once they are back (item 5);
 *  3. a leader whose newest WAL segment was deleted refuses to lead, the
 *     followers, which hold the records it lost, keep every one of them
 *     (they are not rebuilt from the shorter log), and the leader takes the
 *     lost records back from a follower and leads again with every
 *     acknowledged write (item 3): once detected by the followers (a kill -9
 *     leaves the leader's own hint stale), once by the leader's own commit
 *     hint after a clean stop;
 *  4. a byte flipped in a running leader's WAL (after recovery checked it)
 *     is reported in the log and INFO, and the follower that needs that
 *     range rejoins by a fresh snapshot instead of retrying forever
 *     (item 11);
 *  5. a newest checkpoint that went bad on the leader's disk, rejected by
 *     the follower it is sent to, is replaced by a fresh one instead of
 *     being sent again and again (item 11);
 *  6. a leader that lost committed records and has a stale hint does not
 *     lead again on the word of one follower: it waits until enough
 *     followers answered that every quorum is among them, and takes the most
 *     recent of their logs (found by the 10-minute chaos run: it had taken
 *     the first follower's applied records and overwritten what only the
 *     other, then down, follower held).
 * Every wait is a condition with a deadline; every server is stopped by PID. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define WATCHDOG_S 240

static int get_is(tclient *t, const char *key, const char *want)
{
    resp_value *r = tc_cmd(t, "GET", key);
    int ok = want ? (r && r->type == RESP_T_BULK && strcmp(r->str, want) == 0)
                  : (r && r->type == RESP_T_NIL);
    resp_value_free(r);
    return ok;
}

typedef struct get_wait {
    cluster *c;
    int node;
    const char *key, *want;
} get_wait;

static int get_becomes(void *arg)
{
    get_wait *g = arg;
    tclient *t = cl_connect(g->c, g->node);
    int ok = t && get_is(t, g->key, g->want);
    tc_close(t);
    return ok;
}

typedef struct info_wait {
    cluster *c;
    int node;
    const char *field;
    long long at_least;
} info_wait;

static int info_reaches(void *arg)
{
    info_wait *w = arg;
    tclient *t = cl_connect(w->c, w->node);
    long long v = t ? cl_info_ll(t, "replication", w->field) : -1;
    tc_close(t);
    return v >= w->at_least;
}

/* ---- 1: followers serve only what is committed ---- */

static void test_follower_reads_committed(void)
{
    test_section("a follower does not serve a durable but uncommitted record");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum = 2;
    o.follower_timeout_ms = 10000; /* the stopped follower stays online: writes wait */
    o.quorum_timeout_ms = 20000;
    test_cond("cluster starts", cl_start(&c, "fread", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    resp_value *r = tc_cmd(l, "SET", "a", "1");
    test_cond("first SET committed", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    cl_signal(&c, 2, SIGSTOP);
    long long last = cl_info_ll(l, "replication", "last_lsn");
    static const char set_b[] = "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
    test_cond("SET sent", tc_send_raw(l, set_b, sizeof set_b - 1) == 0);
    info_wait w = {&c, 1, "durable_lsn", last + 1};
    test_cond("the record is durable on follower 1", proc_wait_until(info_reaches, &w, 5000));
    tclient *f = cl_connect(&c, 1);
    test_cond("follower 1 does not serve it before the commit", get_is(f, "b", NULL));
    test_cond("nor does the leader", !cl_readable_within(l, 300));
    cl_signal(&c, 2, SIGCONT);
    r = tc_read(l);
    test_cond("the SET commits when follower 2 is back", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    get_wait g = {&c, 1, "b", "2"};
    test_cond("follower 1 serves it once the leader says it is committed",
              proc_wait_until(get_becomes, &g, 5000));
    tc_close(f);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- 2: a restarted leader holds what no quorum confirmed ---- */

static void test_restart_holds_uncommitted(void)
{
    test_section("a restarted leader does not serve a write that timed out");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum_timeout_ms = 300;
    o.follower_timeout_ms = 500;
    test_cond("cluster starts", cl_start(&c, "hold", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    resp_value *r = tc_cmd(l, "SET", "a", "1");
    test_cond("SET a committed", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    test_cond("followers caught up", cl_wait_caught_up(&c, 5000));
    cl_signal(&c, 1, SIGSTOP);
    cl_signal(&c, 2, SIGSTOP);
    r = tc_cmd(l, "SET", "x", "v");
    test_cond("SET x times out (no quorum)", r && r->type == RESP_T_ERROR &&
                                                  strncmp(r->str, "TIMEOUT", 7) == 0);
    resp_value_free(r);
    tc_close(l);
    cl_signal(&c, 0, SIGKILL);
    cl_signal(&c, 1, SIGKILL);
    cl_signal(&c, 2, SIGKILL);
    test_cond("leader restarts alone", cl_start_node(&c, 0) == 0);
    l = cl_connect(&c, 0);
    test_cond("a is readable (committed before)", get_is(l, "a", "1"));
    test_cond("x is not readable: no quorum has it", get_is(l, "x", NULL));
    test_cond("followers restart", cl_start_node(&c, 1) == 0 && cl_start_node(&c, 2) == 0);
    get_wait g = {&c, 0, "x", "v"};
    test_cond("x commits once a quorum has it", proc_wait_until(get_becomes, &g, 10000));
    test_cond("cluster converges", cl_wait_caught_up(&c, 10000) && cl_converged(&c));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- 3: a leader that lost committed records must not lead ---- */

#define DAMAGE_KEYS 300

/* The path of the newest (NEWEST) or oldest WAL segment of node data
 * directory DIR into OUT. 0 or -1. */
static int pick_segment(const char *dir, int newest, char *out, size_t outlen)
{
    char store[PROC_PATH_MAX], wal[PROC_PATH_MAX + 8], best[256] = "";
    if (cl_store_dir(dir, store, sizeof store) < 0) return -1;
    snprintf(wal, sizeof wal, "%s/wal", store);
    DIR *d = opendir(wal);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".wal") &&
            (!best[0] || (newest ? strcmp(e->d_name, best) > 0 : strcmp(e->d_name, best) < 0)))
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    if (!best[0]) return -1;
    snprintf(out, outlen, "%s/%s", wal, best);
    return 0;
}

/* Removes the newest WAL segment of DIR. */
static int delete_newest_segment(const char *dir)
{
    char path[PROC_PATH_MAX + 300];
    if (pick_segment(dir, 1, path, sizeof path) < 0) return -1;
    printf("   removing %s\n", path);
    return unlink(path);
}

static long keys_present(cluster *c, int i, const char *prefix)
{
    tclient *t = cl_connect(c, i);
    long n = 0;
    for (int j = 0; t && j < DAMAGE_KEYS; j++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "%s%d", prefix, j);
        snprintf(v, sizeof v, "v%d", j);
        n += get_is(t, k, v);
    }
    tc_close(t);
    return n;
}

static void test_damaged_leader(int clean_stop)
{
    test_section(clean_stop ? "a leader whose own commit hint shows lost records refuses to lead"
                            : "a leader whose followers know of lost records refuses to lead");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.leader_extra[0] = "--wal-segment-bytes";
    o.leader_extra[1] = "4096";
    test_cond("cluster starts", cl_start(&c, "damage", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    test_cond("300 SETs acknowledged", cl_pipeline_set(l, "d", 0, DAMAGE_KEYS, 16, NULL) == DAMAGE_KEYS);
    tc_close(l);
    test_cond("followers caught up", cl_wait_caught_up(&c, 5000));
    if (clean_stop) {
        cl_signal(&c, 1, SIGTERM);
        cl_signal(&c, 2, SIGTERM);
        cl_signal(&c, 0, SIGTERM);
    } else {
        cl_signal(&c, 0, SIGKILL);
    }
    test_cond("newest segment of the leader removed", delete_newest_segment(c.n[0].dir) == 0);
    test_cond("leader restarts", cl_start_node(&c, 0) == 0);
    if (clean_stop) {
        test_cond("the leader says why at start",
                  cl_wait_log(c.n[0].log, "committed records are missing", 5000));
        test_cond("followers restart", cl_start_node(&c, 1) == 0 && cl_start_node(&c, 2) == 0);
    } else {
        test_cond("the leader learns it from a follower and says why",
                  cl_wait_log(c.n[0].log, "committed records are missing", 5000));
    }
    /* It takes the lost records back from a follower that has them
     * applied, then leads again: nothing acknowledged is forgotten. */
    test_cond("the leader fetches the lost records back from a follower",
              cl_wait_log(c.n[0].log, "fetched the records up to lsn", 10000));
    test_cond("and leads again", cl_wait_log(c.n[0].log, "leading again", 5000));
    test_cond("both followers online again", cl_wait_online(&c, 2, 5000));
    l = cl_connect(&c, 0);
    resp_value *r = tc_cmd(l, "SET", "after", "1");
    test_cond("writes are acknowledged again", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    tc_close(l);
    test_cond("the followers were never rebuilt from the shorter log",
              cl_log_count(c.n[1].log, "installed snapshot") == 0 &&
                  cl_log_count(c.n[2].log, "installed snapshot") == 0);
    test_cond("cluster converges", cl_wait_caught_up(&c, 10000) && cl_converged(&c));
    for (int i = 0; i <= 2; i++) {
        long n = keys_present(&c, i, "d");
        printf("   node %d holds %ld of %d acknowledged keys\n", i, n, DAMAGE_KEYS);
        test_cond("every acknowledged write is on every node", n == DAMAGE_KEYS);
    }
    test_cond("all nodes exit", cl_stop(&c, test_failed_ > 0) >= 0);
}

/* ---- 4: bit rot in a running leader's WAL ---- */

/* Flips one byte in the middle of the written part of DIR's first segment. */
static int flip_byte_in_wal(const char *dir)
{
    char path[PROC_PATH_MAX + 300];
    if (pick_segment(dir, 0, path, sizeof path) < 0) return -1;
    FILE *fp = fopen(path, "r+b");
    if (!fp) return -1;
    long last = -1, off = 0;
    int ch;
    while ((ch = fgetc(fp)) != EOF) {
        if (ch) last = off;
        off++;
    }
    int rc = -1;
    if (last > 1000 && fseek(fp, last / 2, SEEK_SET) == 0) {
        int old = fgetc(fp);
        if (old != EOF && fseek(fp, last / 2, SEEK_SET) == 0 && fputc(old ^ 0x5a, fp) != EOF)
            rc = 0;
        printf("   flipped the byte at offset %ld of %s\n", last / 2, path);
    }
    if (fclose(fp) != 0) rc = -1;
    return rc;
}

static int corruption_counted(void *arg)
{
    cluster *c = arg;
    tclient *t = cl_connect(c, 0);
    long long v = t ? cl_info_ll(t, "persistence", "wal_corruptions") : -1;
    tc_close(t);
    return v > 0;
}

static void test_runtime_wal_damage(void)
{
    test_section("a flipped byte in a running leader's WAL: the follower rejoins by snapshot");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    test_cond("cluster starts", cl_start(&c, "rot", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    cl_signal(&c, 2, SIGKILL);
    tclient *l = cl_connect(&c, 0);
    test_cond("2000 SETs while follower 2 is down",
              cl_pipeline_set(l, "r", 0, 2000, 64, NULL) == 2000);
    tc_close(l);
    test_cond("a byte of the leader's WAL flipped", flip_byte_in_wal(c.n[0].dir) == 0);
    test_cond("follower 2 restarts", cl_start_node(&c, 2) == 0);
    test_cond("the leader reports the damage in INFO", proc_wait_until(corruption_counted, &c, 10000));
    test_cond("and in its log", cl_wait_log(c.n[0].log, "WAL damage found at run time", 1000));
    test_cond("follower 2 catches up (by snapshot)", cl_wait_caught_up(&c, 20000));
    test_cond("digests equal", cl_converged(&c));
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- 5: a bad checkpoint is not sent again and again ---- */

/* Flips a byte in the middle of the newest checkpoint of node dir DIR. */
static int flip_newest_checkpoint(const char *dir)
{
    char store[PROC_PATH_MAX], best[256] = "", path[PROC_PATH_MAX + 300];
    if (cl_store_dir(dir, store, sizeof store) < 0) return -1;
    DIR *d = opendir(store);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "snapshot-", 9) == 0 && strstr(e->d_name, ".snap") &&
            strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    if (!best[0]) return -1;
    snprintf(path, sizeof path, "%s/%s", store, best);
    FILE *fp = fopen(path, "r+b");
    if (!fp || fseek(fp, 0, SEEK_END) != 0) {
        if (fp) fclose(fp);
        return -1;
    }
    long mid = ftell(fp) / 2;
    int rc = -1;
    if (fseek(fp, mid, SEEK_SET) == 0) {
        int old = fgetc(fp);
        if (old != EOF && fseek(fp, mid, SEEK_SET) == 0 && fputc(old ^ 0x21, fp) != EOF) rc = 0;
    }
    printf("   flipped the byte at offset %ld of %s\n", mid, path);
    return fclose(fp) == 0 ? rc : -1;
}

static int bgsave_done(void *arg)
{
    cluster *c = arg;
    tclient *t = cl_connect(c, 0);
    long long v = t ? cl_info_ll(t, "persistence", "checkpoints_done") : -1;
    tc_close(t);
    return v >= 1;
}

static void test_bad_checkpoint(void)
{
    test_section("a checkpoint a follower rejects is replaced by a fresh one, not sent again");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.leader_extra[0] = "--catchup-max-lag-records";
    o.leader_extra[1] = "100";
    test_cond("cluster starts", cl_start(&c, "badckpt", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    test_cond("3000 SETs", cl_pipeline_set(l, "b", 0, 3000, 64, NULL) == 3000);
    resp_value *r = tc_cmd(l, "BGSAVE");
    resp_value_free(r);
    tc_close(l);
    test_cond("a checkpoint is written", proc_wait_until(bgsave_done, &c, 10000));
    test_cond("a byte of it flipped", flip_newest_checkpoint(c.n[0].dir) == 0);
    cl_signal(&c, 2, SIGTERM);
    test_cond("follower 2's data wiped", proc_rmtree(c.n[2].dir) == 0);
    test_cond("follower 2 restarts empty", cl_start_node(&c, 2) == 0);
    test_cond("it rejects the bad checkpoint",
              cl_wait_log(c.n[2].log, "checkpoint from the leader rejected", 10000));
    test_cond("the leader writes a fresh one",
              cl_wait_log(c.n[0].log, "the next snapshot is a fresh one", 5000));
    test_cond("follower 2 catches up", cl_wait_caught_up(&c, 20000));
    test_cond("digests equal", cl_converged(&c));
    int rejects = cl_log_count(c.n[2].log, "checkpoint from the leader rejected");
    printf("   follower 2 rejected %d checkpoint(s)\n", rejects);
    test_cond("the bad checkpoint was sent once, not again and again", rejects == 1);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- 6: a fenced leader takes the most recent log of enough followers ---- */

/* Removes every WAL segment of node dir DIR whose first LSN is above LSN. */
static int delete_segments_above(const char *dir, unsigned long long lsn)
{
    char store[PROC_PATH_MAX], wal[PROC_PATH_MAX + 8], path[PROC_PATH_MAX + 300];
    if (cl_store_dir(dir, store, sizeof store) < 0) return -1;
    snprintf(wal, sizeof wal, "%s/wal", store);
    DIR *d = opendir(wal);
    if (!d) return -1;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        unsigned long long first;
        if (sscanf(e->d_name, "%20llu.wal", &first) != 1 || first <= lsn) continue;
        snprintf(path, sizeof path, "%s/%s", wal, e->d_name);
        if (unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}

static void test_recover_from_enough_followers(void)
{
    test_section("a leader that lost records waits for enough followers and takes the longest log");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.leader_extra[0] = "--wal-segment-bytes";
    o.leader_extra[1] = "4096";
    test_cond("cluster starts", cl_start(&c, "recover", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    test_cond("400 SETs with everyone up", cl_pipeline_set(l, "a", 0, 400, 16, NULL) == 400);
    test_cond("followers caught up", cl_wait_caught_up(&c, 5000));
    cl_signal(&c, 2, SIGTERM); /* node 3 stops at lsn 400, all of it applied */
    test_cond("300 more SETs, on node 2 only", cl_pipeline_set(l, "y", 0, 300, 16, NULL) == 300);
    tc_close(l);
    test_cond("node 2 has them", cl_wait_caught_up(&c, 5000));
    cl_signal(&c, 0, SIGTERM);
    cl_signal(&c, 1, SIGTERM);
    /* The leader loses everything after about lsn 300, and its commit hint
     * is stale (350, as after a kill -9 within its write interval): above
     * its log, below what node 3 applied, far below the real commit. */
    int removed = delete_segments_above(c.n[0].dir, 300);
    printf("   removed %d WAL segments of the leader\n", removed);
    test_cond("the leader's newest segments removed", removed > 0);
    char hint[PROC_PATH_MAX + 16];
    snprintf(hint, sizeof hint, "%s/commit", c.n[0].dir);
    FILE *fp = fopen(hint, "w");
    test_cond("its hint set back to 350", fp && fprintf(fp, "350\n") > 0 && fclose(fp) == 0);
    /* Only node 3 (lsn 400) comes back with it: not enough to know. */
    test_cond("node 3 restarts", cl_start_node(&c, 2) == 0);
    test_cond("the leader restarts", cl_start_node(&c, 0) == 0);
    test_cond("the leader waits for the other follower",
              cl_wait_log(c.n[0].log, "waiting for the others", 5000));
    l = cl_connect(&c, 0);
    resp_value *r = tc_cmd(l, "SET", "during", "1");
    test_cond("and takes no write meanwhile", r && r->type == RESP_T_ERROR);
    resp_value_free(r);
    tc_close(l);
    test_cond("node 2 restarts", cl_start_node(&c, 1) == 0);
    test_cond("the leader fetches the most recent log, node 2's",
              cl_wait_log(c.n[0].log, "back from follower node 2, the most recent log", 10000));
    test_cond("and leads again", cl_wait_log(c.n[0].log, "leading again", 5000));
    test_cond("both followers online", cl_wait_online(&c, 2, 10000));
    test_cond("cluster converges", cl_wait_caught_up(&c, 20000) && cl_converged(&c));
    for (int i = 0; i <= 2; i++) {
        tclient *t = cl_connect(&c, i);
        char who[32];
        snprintf(who, sizeof who, "node %d", i);
        test_cond("every acknowledged write of both rounds is on every node",
                  t && wl_verify(t, who, "a", 0, 400, NULL, 0) == 0 &&
                      wl_verify(t, who, "y", 0, 300, NULL, 0) == 0);
        tc_close(t);
    }
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    test_follower_reads_committed();
    test_restart_holds_uncommitted();
    test_damaged_leader(0);
    test_damaged_leader(1);
    test_runtime_wal_damage();
    test_bad_checkpoint();
    test_recover_from_enough_followers();
    return test_report();
}
