/* datadir_proc_test.c -- the data directory belongs to one server at a time,
 * and its layout (CURRENT naming gen-N) survives restarts, with real
 * rkv-server processes.
 *
 *   - A second server started on a running node's data dir (the same
 *     command line: `make run` typed twice) exits non-zero before touching
 *     anything, with a message naming the directory and the PID that holds
 *     <data-dir>/LOCK; the first node's WAL files are byte for byte as they
 *     were, and after a restart every acknowledged write is there.
 *   - A new data dir gets CURRENT = 1 and gen-1/; a stray gen-* directory
 *     CURRENT does not name (an interrupted install) is removed at start-up
 *     with an INFO line.
 *   - A data dir of the old layout (wal/ and checkpoints directly in it, no
 *     CURRENT) is read in place as generation 0. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "../testhelp.h"

#define KEYS 3000

static char g_base[256];

typedef struct srv {
    pid_t pid;
    int port;
    const char *ckpt_every; /* --checkpoint-every-bytes (0: off) */
    char dir[PROC_PATH_MAX], log[PROC_PATH_MAX];
} srv;

static pid_t srv_spawn(srv *s, const char *logname)
{
    char bin[PROC_PATH_MAX], portstr[16];
    if (proc_build_path(bin, sizeof bin, "rkv-server") < 0) return -1;
    snprintf(portstr, sizeof portstr, "%d", s->port);
    snprintf(s->log, sizeof s->log, "%s/%s", g_base, logname);
    const char *const argv[] = {bin,          "--port",      portstr, "--data-dir",
                                s->dir,       "--checkpoint-every-bytes", s->ckpt_every ? s->ckpt_every : "65536",
                                "--wal-segment-bytes", "32768", NULL};
    return proc_spawn(argv, s->log);
}

static int srv_start(srv *s, const char *logname)
{
    s->pid = srv_spawn(s, logname);
    if (s->pid < 0) return -1;
    tclient *t = tc_connect("127.0.0.1", s->port, CL_START_MS);
    int ok = t != NULL;
    tc_close(t);
    return ok ? 0 : -1;
}

/* "name size" of every WAL segment and checkpoint of the node, one line
 * each, sorted by readdir order of two directories (stable while nobody
 * writes). */
static void storage_listing(const char *data_dir, char *out, size_t outlen)
{
    char store[PROC_PATH_MAX], sub[PROC_PATH_MAX + 8];
    out[0] = 0;
    if (cl_store_dir(data_dir, store, sizeof store) < 0) return;
    const char *dirs[2] = {store, sub};
    snprintf(sub, sizeof sub, "%s/wal", store);
    size_t len = 0;
    for (int d = 0; d < 2; d++) {
        DIR *dp = opendir(dirs[d]);
        struct dirent *e;
        while (dp && (e = readdir(dp)) != NULL) {
            char path[PROC_PATH_MAX * 2];
            struct stat st;
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
            int n = snprintf(out + len, outlen - len, "%s %lld\n", e->d_name,
                             (long long)st.st_size);
            if (n < 0 || (size_t)n >= outlen - len) break;
            len += (size_t)n;
        }
        if (dp) closedir(dp);
    }
}

static long verify(int port, const char *prefix, long count)
{
    tclient *t = tc_connect("127.0.0.1", port, 5000);
    long bad = t ? wl_verify(t, "node", prefix, 0, count, NULL, 0) : -1;
    tc_close(t);
    return bad;
}

static void test_second_server(void)
{
    test_section("a second server on a running node's data dir leaves it alone");
    /* No checkpoints: the listing below must stay still on its own. */
    srv a = {.port = proc_free_port(), .ckpt_every = "0"};
    char *dir = proc_tmpdir("datadir-lock");
    test_cond("temp dir", dir != NULL);
    if (!dir) return;
    snprintf(a.dir, sizeof a.dir, "%s", dir);
    test_cond("first server starts", srv_start(&a, "lock-first.log") == 0);
    tclient *t = tc_connect("127.0.0.1", a.port, 5000);
    test_cond("writes to it", cl_pipeline_set(t, "k:", 0, KEYS, 64, NULL) == KEYS);
    tc_close(t);
    static char before[65536], after[65536];
    storage_listing(a.dir, before, sizeof before);
    test_cond("it has WAL segments", strstr(before, ".wal") != NULL);

    /* The very same command line again. */
    srv b = a;
    b.pid = srv_spawn(&b, "lock-second.log");
    test_cond("second server spawned", b.pid > 0);
    int rc = b.pid > 0 ? proc_stop(b.pid, 0, 10000) : -1;
    printf("second server exited with %d\n", rc);
    test_cond("second server exits non-zero by itself", rc > 0 && rc < 128);
    char needle[PROC_PATH_MAX + 64];
    snprintf(needle, sizeof needle, "data dir '%s' is in use by another rkv-server (pid %d",
             a.dir, (int)a.pid);
    test_cond("its message names the directory and the holder's pid",
              cl_wait_log(b.log, needle, 0));
    if (!cl_wait_log(b.log, needle, 0)) {
        char cmd[PROC_PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "tail -5 %s", b.log);
        if (system(cmd) < 0) printf("(cannot show %s)\n", b.log);
    }
    test_cond("the first server still runs", proc_exited(a.pid) == -2);
    storage_listing(a.dir, after, sizeof after);
    test_cond("the first server's WAL and checkpoints are untouched", strcmp(before, after) == 0);
    if (strcmp(before, after) != 0) printf("before:\n%safter:\n%s", before, after);
    test_cond("the first server still serves every key", verify(a.port, "k:", KEYS) == 0);
    test_cond("first server stops cleanly", proc_stop(a.pid, SIGTERM, 10000) == 0);
    test_cond("it restarts on its data dir", srv_start(&a, "lock-first-2.log") == 0);
    test_cond("every acknowledged write is there after the restart",
              verify(a.port, "k:", KEYS) == 0);
    char lockpath[PROC_PATH_MAX + 8], pidline[32] = "";
    snprintf(lockpath, sizeof lockpath, "%s/LOCK", a.dir);
    FILE *fp = fopen(lockpath, "r");
    if (fp) {
        if (!fgets(pidline, sizeof pidline, fp)) pidline[0] = 0;
        fclose(fp);
    }
    test_cond("LOCK holds the running server's pid", atoi(pidline) == (int)a.pid);
    test_cond("stops cleanly", proc_stop(a.pid, SIGTERM, 10000) == 0);
    /* A server that stopped releases the lock: a SIGKILLed one too. */
    test_cond("restarts", srv_start(&a, "lock-first-3.log") == 0);
    test_cond("SIGKILL", proc_stop(a.pid, SIGKILL, 10000) == 128 + SIGKILL);
    test_cond("restarts at once after a SIGKILL", srv_start(&a, "lock-first-4.log") == 0);
    test_cond("every write there", verify(a.port, "k:", KEYS) == 0);
    test_cond("stops cleanly", proc_stop(a.pid, SIGTERM, 10000) == 0);
    proc_rmtree(dir);
    free(dir);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_layout(void)
{
    test_section("CURRENT names gen-1 in a new data dir; stray generations are removed");
    srv a = {.port = proc_free_port()};
    char *dir = proc_tmpdir("datadir-layout");
    test_cond("temp dir", dir != NULL);
    if (!dir) return;
    snprintf(a.dir, sizeof a.dir, "%s", dir);
    test_cond("server starts", srv_start(&a, "layout-1.log") == 0);
    tclient *t = tc_connect("127.0.0.1", a.port, 5000);
    test_cond("writes", cl_pipeline_set(t, "g:", 0, KEYS, 64, NULL) == KEYS);
    tc_close(t);
    test_cond("stops", proc_stop(a.pid, SIGTERM, 10000) == 0);
    char path[PROC_PATH_MAX + 32], store[PROC_PATH_MAX];
    test_cond("CURRENT names a generation", cl_store_dir(a.dir, store, sizeof store) == 0);
    snprintf(path, sizeof path, "%s/gen-1", a.dir);
    test_cond("it is gen-1", strcmp(store, path) == 0);
    snprintf(path, sizeof path, "%s/gen-1/wal", a.dir);
    test_cond("gen-1 holds the WAL", is_dir(path));
    snprintf(path, sizeof path, "%s/wal", a.dir);
    test_cond("no WAL directly in the data dir", !is_dir(path));

    snprintf(path, sizeof path, "%s/gen-2", a.dir);
    test_cond("a stray gen-2 is planted", mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/gen-2/wal", a.dir);
    test_cond("with a WAL dir in it", mkdir(path, 0755) == 0);
    test_cond("server restarts", srv_start(&a, "layout-2.log") == 0);
    test_cond("the stray generation is logged as removed", cl_wait_log(a.log, "gen-2: a storage generation CURRENT does not name", 0));
    snprintf(path, sizeof path, "%s/gen-2", a.dir);
    test_cond("and is gone", !is_dir(path));
    test_cond("every key there", verify(a.port, "g:", KEYS) == 0);
    test_cond("stops", proc_stop(a.pid, SIGTERM, 10000) == 0);

    test_section("a data dir of the old layout is read in place as generation 0");
    /* Rebuild the old layout by hand: gen-1's contents directly in the data
     * dir, no CURRENT. */
    char cmd[PROC_PATH_MAX * 5];
    snprintf(cmd, sizeof cmd, "mv '%s'/gen-1/* '%s'/ && rmdir '%s'/gen-1 && rm '%s'/CURRENT",
             a.dir, a.dir, a.dir, a.dir);
    test_cond("old layout made", system(cmd) == 0);
    test_cond("server starts on it", srv_start(&a, "layout-3.log") == 0);
    test_cond("it says it reads the old layout",
              cl_wait_log(a.log, "reading the old layout in place as generation 0", 0));
    test_cond("every key there", verify(a.port, "g:", KEYS) == 0);
    t = tc_connect("127.0.0.1", a.port, 5000);
    test_cond("more writes", cl_pipeline_set(t, "h:", 0, KEYS, 64, NULL) == KEYS);
    tc_close(t);
    test_cond("stops", proc_stop(a.pid, SIGTERM, 10000) == 0);
    snprintf(path, sizeof path, "%s/CURRENT", a.dir);
    test_cond("still no CURRENT (no install happened)", access(path, F_OK) < 0);
    test_cond("restarts", srv_start(&a, "layout-4.log") == 0);
    test_cond("every key of both rounds there",
              verify(a.port, "g:", KEYS) == 0 && verify(a.port, "h:", KEYS) == 0);
    test_cond("stops", proc_stop(a.pid, SIGTERM, 10000) == 0);

    test_section("an unreadable CURRENT stops the start-up with a message");
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs("garbage\n", fp);
        fclose(fp);
    }
    a.pid = srv_spawn(&a, "layout-5.log");
    test_cond("exits non-zero", a.pid > 0 && proc_stop(a.pid, 0, 10000) > 0);
    test_cond("naming CURRENT", cl_wait_log(a.log, "CURRENT does not hold a generation number", 0));
    proc_rmtree(dir);
    free(dir);
}

int main(void)
{
    cl_watchdog(120);
    char *base = proc_tmpdir("datadir-logs");
    if (!base) {
        test_cond("log dir", 0);
        return test_report();
    }
    snprintf(g_base, sizeof g_base, "%s", base);
    test_second_server();
    test_layout();
    if (test_failed_ == 0) proc_rmtree(base);
    else printf("logs kept in %s\n", base);
    free(base);
    return test_report();
}
