/* checkpoint_interval_proc_test.c -- --checkpoint-every-bytes means bytes
 * written to the WAL since the last checkpoint, so checkpoints come at a
 * constant pace and the WAL on disk stays bounded, with a real rkv-server.
 *
 * A small constant dataset (KEYS keys) is overwritten again and again, so
 * every record has the same size. The trigger used to compare the live WAL
 * size (which drops whenever a checkpoint lets segments go) with its value
 * at the last checkpoint, and the gap between checkpoints grew with every
 * checkpoint. The test reads the "checkpoint of lsn N started" lines and
 * checks that consecutive checkpoints are the same number of records apart
 * (within the slack of the 10 ms cron), and that INFO's wal_bytes stays
 * within a few intervals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../testhelp.h"

#define KEYS 100
#define ROUNDS 60
#define EVERY 32768 /* --checkpoint-every-bytes */
#define SEGMENT 8192
#define MAX_CKPTS 1024

/* LSNs of the "checkpoint of lsn N started" lines of the log at PATH. */
static int started_lsns(const char *path, unsigned long long *out, int max)
{
    FILE *fp = fopen(path, "r");
    char line[2048];
    int n = 0;
    while (fp && fgets(line, sizeof line, fp) && n < max) {
        const char *p = strstr(line, "checkpoint of lsn ");
        unsigned long long lsn;
        if (p && strstr(p, " started") && sscanf(p, "checkpoint of lsn %llu", &lsn) == 1)
            out[n++] = lsn;
    }
    if (fp) fclose(fp);
    return n;
}

int main(void)
{
    cl_watchdog(120);
    char *dir = proc_tmpdir("ckpt-interval");
    int port = proc_free_port();
    char bin[PROC_PATH_MAX], portstr[16], every[24], seg[24], log[PROC_PATH_MAX + 16];
    if (!dir || port < 0 || proc_build_path(bin, sizeof bin, "rkv-server") < 0) {
        test_cond("setup", 0);
        return test_report();
    }
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(every, sizeof every, "%d", EVERY);
    snprintf(seg, sizeof seg, "%d", SEGMENT);
    snprintf(log, sizeof log, "%s.log", dir);
    const char *const argv[] = {bin, "--port", portstr, "--data-dir", dir,
                                "--checkpoint-every-bytes", every, "--wal-segment-bytes", seg,
                                "--wal-retain-bytes", "0", NULL};
    pid_t pid = proc_spawn(argv, log);
    tclient *t = tc_connect("127.0.0.1", port, CL_START_MS);
    test_cond("server starts", t != NULL);
    long long max_wal = 0;
    int ok = 1;
    /* Shallow pipelines: a few records per 10 ms cron tick, so a trigger is
     * late by a few records at most. */
    for (int r = 0; r < ROUNDS && ok; r++) {
        ok = cl_pipeline_set(t, "k:", 0, KEYS, 4, NULL) == KEYS;
        long long w = cl_info_ll(t, "persistence", "wal_bytes");
        if (w > max_wal) max_wal = w;
    }
    test_cond("every overwrite acknowledged", ok);
    long long lsn = cl_info_ll(t, "replication", "last_lsn");
    if (lsn < 0) lsn = cl_info_ll(t, "persistence", "last_lsn");
    tc_close(t);
    test_cond("server stops cleanly", proc_stop(pid, SIGTERM, 10000) == 0);

    static unsigned long long l[MAX_CKPTS];
    int n = started_lsns(log, l, MAX_CKPTS);
    printf("%d checkpoints over %d records, max wal_bytes %lld\n", n, KEYS * ROUNDS, max_wal);
    /* Records are all the same size: about KEYS*ROUNDS*size/EVERY of them. */
    test_cond("several checkpoints", n >= 8);
    unsigned long long dmin = ~0ull, dmax = 0;
    for (int i = 1; i < n; i++) {
        unsigned long long d = l[i] - l[i - 1];
        printf("%s%llu", i == 1 ? "records between checkpoints: " : " ", d);
        if (d < dmin) dmin = d;
        if (d > dmax) dmax = d;
    }
    printf("\n");
    test_cond("records between consecutive checkpoints stay constant (max <= 1.5 x min)",
              n >= 3 && dmax * 2 <= dmin * 3);
    /* Live WAL: the oldest kept checkpoint's worth (2 intervals) plus the
     * segment being written and one interval of slack. */
    test_cond("the WAL on disk stays bounded (<= 3 intervals + 2 segments)",
              max_wal > 0 && max_wal <= 3 * EVERY + 2 * SEGMENT);
    if (test_failed_ == 0) {
        proc_rmtree(dir);
        remove(log);
    } else {
        printf("data dir %s, log %s kept\n", dir, log);
    }
    free(dir);
    return test_report();
}
