/* chaos.c -- a seeded nemesis against a real three-node cluster.
 *
 *   chaos [--seconds S] [--seed N] [--faults LIST] [--small-segments]
 *         [--new-faults] [--wal-damage KIND] [--snapshot-lag N] [--strict-reads]
 *                                              (tests/chaos.sh wraps it)
 *
 * Several writers pipeline SETs of unique keys to the leader and record the
 * outcome of every one (OK, error, or no reply = unknown). Counter writers
 * set one key each, ctr:<i>, to 1, 2, 3, ... and record the highest value
 * sent and the highest acknowledged. Readers, one connection each to every
 * node (followers and the leader), GET the counters over and over.
 * Meanwhile a nemesis, driven by one seeded PRNG, injects a fault every
 * 0.3-1.5 s, chosen among the enabled ones (--faults, comma-separated names
 * below, or "all"):
 *   kill-follower    kill -9 a follower (restarted 1-3 s later)
 *   stop-follower    SIGSTOP a follower (SIGCONT 0.5-2.5 s later)
 *   delay            delay a follower's link through its fault proxy
 *   blackhole        blackhole a follower's link (healed later)
 *   bitflip          flip a bit in a shipped record
 *   kill-leader      kill -9 the leader (restarted at once; the writers of
 *                    that generation end and a new generation starts)
 *   bgsave-follower  BGSAVE sent to a follower for 2-4 s (every 3-15 ms in
 *                    the first 0.6 s, then every 50-150 ms),
 *                    most often right after it was killed (and half of those
 *                    times its data dir wiped) and restarted, so the BGSAVEs
 *                    land while it rejoins, by snapshot after a wipe
 *   snapkill         kill -9 a follower, wipe its data dir, restart it, and
 *                    kill -9 it again as soon as it receives the snapshot
 *                    (its log says "receiving a checkpoint", or the leader's
 *                    INFO shows the link in state snapshot); restarted
 *                    0.5-2 s later
 *   wal-damage       kill -9 the leader, damage its newest WAL segment (flip
 *                    a byte of the last record, cut the file inside the last
 *                    record, cut it at the record boundary before the last
 *                    record, zero the last 4 KiB of records, or delete the
 *                    segment), then restart it; --wal-damage KIND picks
 *                    one kind (flip-byte, cut-mid-record, cut-at-boundary,
 *                    zero-last-4k, delete-segment). Each is followed by an
 *                    outcome line: the leader's last LSN before and after,
 *                    and whether it still holds the acknowledged counters
 *   long-catchup     kill -9 a follower and keep it down 4-8 s under load
 *   stop-ckpt        SIGSTOP a node's checkpoint child (BGSAVE starts one if
 *                    none runs) for 1-5 s, then SIGCONT: a slow disk
 * --small-segments runs every node with 256 KiB WAL segments, a checkpoint
 * every 1 MiB of WAL and 512 KiB of WAL retained, so catch-ups cross
 * segments and checkpoints, and long ones need a snapshot. With it, or with
 * snapkill enabled, the leader runs with --catchup-max-lag-records 20000
 * (about 4 s of the load), so a wiped follower or one down for long
 * rejoins by snapshot.
 *
 * Without --faults the default mix is every fault, wal-damage included (it
 * found acknowledged writes lost on every node before issue 10's fixes;
 * --new-faults and CHAOS_NEW_FAULTS=1 are still accepted and change
 * nothing). The default mix also turns --small-segments on for about half
 * the seeds.
 *
 * At the end everything is healed, the cluster must converge, and then:
 *   - every write that got OK is present with its value on every node;
 *   - every counter holds, on every node, a value between its highest
 *     acknowledged one and its highest sent one;
 *   - no read returned a counter value above the highest its writer had
 *     sent, and no read on one connection went backwards (before issue 10's
 *     fixes a follower rebuilt from an older checkpoint served reads from
 *     it; --lenient-reads only reports such regressions);
 *   - all digests are equal;
 *   - no process died that the nemesis did not kill;
 *   - no sanitizer report is in any log.
 * Prints the seed and a summary; exits 1 on any violation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/workload.h"
#include "wal/wal_segment.h"

#define CHAOS_WRITERS 3
#define CHAOS_GENERATIONS_MAX 64    /* leader restarts + 1 */
#define CHAOS_KEYS_PER_WRITER 2000000
#define CHAOS_CONVERGE_MS 120000
#define CHAOS_SECONDS_MAX 86400
#define CHAOS_COUNTERS 2            /* counter writers, one key each */
#define CHAOS_READERS CL_NODES      /* one reader connection per node */
#define CHAOS_READ_PRINT_MAX 6      /* violations printed per reader connection */
#define CHAOS_SNAP_WAIT_MS 4000     /* snapkill: wait this long for the snapshot */

enum fault {
    F_KILL,
    F_STOP,
    F_DELAY,
    F_BLACKHOLE,
    F_FLIP,
    F_KILL_LEADER,
    F_BGSAVE,
    F_SNAPKILL,
    F_WAL_DAMAGE,
    F_LONG_DOWN,
    F_STOP_CKPT,
    F_COUNT
};
static const char *const fault_names[F_COUNT] = {
    "kill-follower",   "stop-follower", "delay",      "blackhole",    "bitflip",  "kill-leader",
    "bgsave-follower", "snapkill",      "wal-damage", "long-catchup", "stop-ckpt"};
/* Faults that find bugs today's server has: only with CHAOS_NEW_FAULTS=1
 * (or --new-faults, or named in --faults) until the fixes land. */
static const int fault_gated[F_COUNT] = {0};

typedef struct generation {
    wl_writer w[CHAOS_WRITERS];
    char prefix[CHAOS_WRITERS][32];
    int started;
} generation;

typedef struct heal {
    long long due_ms; /* 0: nothing pending */
    enum fault what;
    long long next_ms;     /* F_BGSAVE: when to send the next BGSAVE */
    long long since_ms;    /* F_BGSAVE: the window's start */
    pid_t child, parent;   /* F_STOP_CKPT: the stopped checkpoint child */
} heal;

static uint64_t rng_state;
static long long t_start;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static long rng_between(long lo, long hi)
{
    return lo + (long)(rng() % (uint64_t)(hi - lo + 1));
}

static double t_now(void)
{
    return (double)(proc_now_ms() - t_start) / 1000.0;
}

/* ---- counter writers and readers ---- */

/* A counter's value from a GET reply: nil is 0; -1 if not a number. */
static long ctr_value(const resp_value *v)
{
    if (v && v->type == RESP_T_NIL) return 0;
    if (!v || v->type != RESP_T_BULK || v->len == 0 || v->len >= 24) return -1;
    char s[24], *end;
    memcpy(s, v->str, v->len);
    s[v->len] = 0;
    long x = strtol(s, &end, 10);
    return *end ? -1 : x;
}

typedef struct ctr_writer {
    int id, port;
    atomic_long sent_max;  /* highest value sent: no node may ever hold more */
    atomic_long acked_max; /* highest value that got +OK */
    atomic_long acked, errors, noreply;
    atomic_int stop;
    atomic_int paused; /* set while the leader is down for wal-damage */
    pthread_t thread;
    int started;
} ctr_writer;

static void *ctr_main(void *arg)
{
    ctr_writer *w = arg;
    tclient *t = NULL;
    char key[32], val[32];
    snprintf(key, sizeof key, "ctr:%d", w->id);
    while (!atomic_load(&w->stop)) {
        if (atomic_load(&w->paused)) {
            usleep(1000);
            continue;
        }
        if (!t && !(t = tc_connect("127.0.0.1", w->port, 1000))) {
            usleep(50000);
            continue;
        }
        if (atomic_load(&w->paused)) continue; /* not into the restarted leader yet */
        tc_set_timeout(t, 10000); /* longer than a quorum timeout */
        long v = atomic_load(&w->sent_max) + 1;
        snprintf(val, sizeof val, "%ld", v);
        atomic_store(&w->sent_max, v); /* before it can reach any node */
        resp_value *r = tc_cmd(t, "SET", key, val);
        if (!r) {
            atomic_fetch_add(&w->noreply, 1);
            tc_close(t); /* the next value goes on a new connection */
            t = NULL;
            continue;
        }
        if (r->type == RESP_T_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0) {
            atomic_fetch_add(&w->acked, 1);
            atomic_store(&w->acked_max, v);
        } else {
            atomic_fetch_add(&w->errors, 1);
            usleep(20000);
        }
        resp_value_free(r);
        usleep(2000);
    }
    tc_close(t);
    return NULL;
}

typedef struct reader {
    int node, id, port;
    ctr_writer *ctr;
    atomic_long reads, conns;
    atomic_long regressions; /* a read older than an earlier one on the connection */
    atomic_long phantoms;    /* a value never sent, or not a number */
    long conn_printed;       /* violations printed on the current connection */
    atomic_int stop;
    pthread_t thread;
    int started;
} reader;

static void read_violation(reader *r, long conn, long key, int regression, const char *what)
{
    atomic_fetch_add(regression ? &r->regressions : &r->phantoms, 1);
    if (r->conn_printed++ >= CHAOS_READ_PRINT_MAX) return; /* the first few of each connection */
    printf("chaos: READ %s t=%.3fs node %d connection %d.%ld key ctr:%ld: %s\n",
           regression ? "REGRESSION" : "VIOLATION", t_now(), r->node + 1, r->id, conn, key, what);
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    long last[CHAOS_COUNTERS];
    char buf[CHAOS_COUNTERS * 64];
    size_t len = 0;
    for (int i = 0; i < CHAOS_COUNTERS; i++)
        len += (size_t)sprintf(buf + len, "*2\r\n$3\r\nGET\r\n$5\r\nctr:%d\r\n", i);
    while (!atomic_load(&r->stop)) {
        tclient *t = tc_connect("127.0.0.1", r->port, 300);
        if (!t) {
            usleep(50000);
            continue;
        }
        tc_set_timeout(t, 3000);
        long conn = atomic_fetch_add(&r->conns, 1) + 1; /* a new connection: a fresh history */
        for (int i = 0; i < CHAOS_COUNTERS; i++) last[i] = 0;
        r->conn_printed = 0;
        while (!atomic_load(&r->stop)) {
            if (tc_send_raw(t, buf, len) != 0) break;
            int ok = 1;
            for (int i = 0; i < CHAOS_COUNTERS && ok; i++) {
                resp_value *v = tc_read(t);
                if (!v) {
                    ok = 0;
                    break;
                }
                long x = ctr_value(v);
                int is_err = v->type == RESP_T_ERROR;
                resp_value_free(v);
                if (is_err) continue; /* e.g. LOADING: not a read */
                long hi = atomic_load(&r->ctr[i].sent_max);
                atomic_fetch_add(&r->reads, 1);
                char what[160];
                what[0] = 0;
                if (x < 0)
                    snprintf(what, sizeof what, "unparsable value");
                else if (x < last[i])
                    snprintf(what, sizeof what, "read %ld after %ld on the same connection", x,
                             last[i]);
                else if (x > hi)
                    snprintf(what, sizeof what, "read %ld but its writer sent at most %ld", x, hi);
                if (what[0]) read_violation(r, conn, i, x >= 0 && x < last[i], what);
                if (x > last[i]) last[i] = x;
            }
            if (!ok) break;
            usleep(2000);
        }
        tc_close(t);
    }
    return NULL;
}

/* ---- writers of unique keys, one generation per leader incarnation ---- */

static int gen_start(generation *g, int gi, int port)
{
    for (int i = 0; i < CHAOS_WRITERS; i++) {
        snprintf(g->prefix[i], sizeof g->prefix[i], "g%dw%d:", gi, i);
        if (wl_writer_init(&g->w[i], port, g->prefix[i], CHAOS_KEYS_PER_WRITER, 16) < 0) return -1;
        g->w[i].error_pause_us = 20000;
        /* ~1.3k writes/s per writer: enough to keep every path busy, few
         * enough that a restart's recovery stays quick after ten minutes. */
        g->w[i].pace_us = 100000;
        if (wl_writer_start(&g->w[i]) < 0) return -1;
    }
    g->started = 1;
    return 0;
}

static void gen_stop(generation *g)
{
    for (int i = 0; i < CHAOS_WRITERS && g->started; i++) wl_writer_stop(&g->w[i]);
}

/* ---- helpers for the new faults ---- */

static long count_in_file(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    char line[4096];
    long n = 0;
    while (fgets(line, sizeof line, fp)) n += strstr(line, needle) != NULL;
    fclose(fp);
    return n;
}

/* The parent pid of PID from /proc, or -1. */
static pid_t parent_of(pid_t pid)
{
    char buf[512];
    const char *rest = proc_stat_fields(pid, buf, sizeof buf);
    int ppid;
    char state;
    if (!rest || sscanf(rest, " %c %d", &state, &ppid) != 2) return -1;
    return (pid_t)ppid;
}

/* A child process of PID (a checkpoint child of rkv-server), or 0. */
static pid_t child_of(pid_t pid)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char *end;
        long p = strtol(e->d_name, &end, 10);
        if (*end || p <= 0) continue;
        if (parent_of((pid_t)p) == pid) found = (pid_t)p;
    }
    closedir(d);
    return found;
}

/* Sends BGSAVE to node I: 1 started, 0 error reply, -1 no reply. */
static int send_bgsave(cluster *c, int i)
{
    tclient *t = tc_connect("127.0.0.1", c->n[i].port, 500);
    if (!t) return -1;
    tc_set_timeout(t, 2000);
    resp_value *r = tc_cmd(t, "BGSAVE");
    int rc = !r ? -1 : r->type == RESP_T_STATUS ? 1 : 0;
    resp_value_free(r);
    tc_close(t);
    return rc;
}

/* The newest segment of DIR/wal holding at least one record into PATH
 * (NEWEST gets the newest segment of all, even if empty). 0 or -1. */
typedef struct seg_info {
    char path[PROC_PATH_MAX + 300];
    long long size;      /* file size, zero-filled preallocation included */
    long long nrec;      /* records found from the start */
    long long last_off;  /* the last record */
    long long last_len;
    unsigned long long last_lsn;
} seg_info;

static int scan_segment(seg_info *s)
{
    int fd = open(s->path, O_RDONLY);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    s->size = st.st_size;
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    ssize_t got = buf ? pread(fd, buf, (size_t)st.st_size, 0) : -1;
    close(fd);
    if (got != st.st_size) {
        free(buf);
        return -1;
    }
    /* Through the segment framing (src/wal/wal_segment.h): batch headers
     * and the segment header sit between records. */
    s->nrec = 0;
    wal_seg_iter it;
    wal_seg_iter_init(&it, buf, (size_t)st.st_size);
    wal_rec r;
    size_t off;
    while (wal_seg_iter_next(&it, &r, &off) == 1) {
        s->last_off = (long long)off;
        s->last_len = (long long)(48u + r.klen + r.vlen);
        s->last_lsn = (unsigned long long)r.lsn;
        s->nrec++;
    }
    free(buf);
    return 0;
}

static int seg_cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

/* Lists DIR/wal/ *.wal newest first into NAMES (malloc'd). Count or -1. */
static int list_segments(const char *dir, char ***names)
{
    char wal[PROC_PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s/wal", dir);
    DIR *d = opendir(wal);
    if (!d) return -1;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".wal") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, seg_cmp_desc);
    *names = v;
    return n;
}

/* Damages the (stopped) leader's newest WAL segment; DESC gets the outcome
 * line. 0, or -1 if there was nothing to damage. */
static const char *const damage_kinds[] = {"flip-byte", "cut-mid-record", "cut-at-boundary",
                                           "zero-last-4k", "delete-segment"};
static int damage_only = -1; /* --wal-damage KIND: always that one */

static int damage_wal(const char *data_dir, char *desc, size_t desclen)
{
    char dir[PROC_PATH_MAX];
    if (cl_store_dir(data_dir, dir, sizeof dir) < 0) {
        snprintf(desc, desclen, "no storage generation in %s", data_dir);
        return -1;
    }
    const char *const *kinds = damage_kinds;
    int kind = (int)(rng() % 5);
    if (damage_only >= 0) kind = damage_only;
    char **names = NULL;
    int n = list_segments(dir, &names);
    if (n <= 0) {
        snprintf(desc, desclen, "no WAL segment in %s/wal", dir);
        free(names);
        return -1;
    }
    seg_info s;
    memset(&s, 0, sizeof s);
    int rc = -1;
    if (kind == 4) {
        snprintf(s.path, sizeof s.path, "%s/wal/%s", dir, names[0]);
        scan_segment(&s);
        rc = unlink(s.path);
        snprintf(desc, desclen, "%s %s (%lld records, lsn up to %llu, %lld bytes)%s", kinds[kind],
                 s.path, s.nrec, s.last_lsn, s.size, rc ? " FAILED" : "");
        goto out;
    }
    /* The newest segment only: that is where a crash can leave damage that
     * is not corruption. Damage to an older, synced segment is corruption,
     * and a node rightly refuses to start on it. A fresh rotation may hold
     * no record yet: then there is nothing to damage this time. */
    snprintf(s.path, sizeof s.path, "%s/wal/%s", dir, names[0]);
    if (scan_segment(&s) != 0 || s.nrec == 0) {
        snprintf(desc, desclen, "%s: the newest segment %s holds no record: nothing damaged",
                 kinds[kind], s.path);
        goto out;
    }
    long long end = s.last_off + s.last_len;
    char rec[160];
    snprintf(rec, sizeof rec, "last record lsn %llu at %lld+%lld, %lld records, file %lld bytes",
             s.last_lsn, s.last_off, s.last_len, s.nrec, s.size);
    int fd = open(s.path, O_RDWR);
    if (fd < 0) {
        snprintf(desc, desclen, "%s: cannot open %s: %s", kinds[kind], s.path, strerror(errno));
        goto out;
    }
    if (kind == 0) {
        long long at = s.last_off + 8 + (long long)(rng() % (uint64_t)(s.last_len - 8));
        int bit = (int)(rng() % 8);
        unsigned char b;
        rc = pread(fd, &b, 1, at) == 1 ? 0 : -1;
        b ^= (unsigned char)(1u << bit);
        if (rc == 0) rc = pwrite(fd, &b, 1, at) == 1 ? 0 : -1;
        snprintf(desc, desclen, "%s: bit %d of byte %lld of %s (%s)", kinds[kind], bit, at,
                 s.path, rec);
    } else if (kind == 1) {
        long long at = s.last_off + rng_between(1, (long)s.last_len - 1);
        rc = ftruncate(fd, at);
        snprintf(desc, desclen, "%s: %s cut to %lld bytes (%s)", kinds[kind], s.path, at, rec);
    } else if (kind == 2) {
        rc = ftruncate(fd, s.last_off);
        snprintf(desc, desclen, "%s: %s cut to %lld bytes, dropping lsn %llu whole (%s)",
                 kinds[kind], s.path, s.last_off, s.last_lsn, rec);
    } else {
        long long from = end > 4096 ? end - 4096 : 0;
        static const char zeros[4096];
        rc = pwrite(fd, zeros, (size_t)(end - from), from) == end - from ? 0 : -1;
        snprintf(desc, desclen, "%s: bytes %lld..%lld of %s zeroed (%s)", kinds[kind], from,
                 end - 1, s.path, rec);
    }
    close(fd);
    if (rc) snprintf(desc + strlen(desc), desclen - strlen(desc), " FAILED: %s", strerror(errno));
out:
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* The leader's last LSN (-1 if it cannot be asked). */
static long long leader_last(cluster *c)
{
    if (c->n[0].pid <= 0 || c->n[0].stopped) return -1;
    tclient *t = cl_connect(c, 0);
    long long v = t ? cl_info_ll(t, "replication", "last_lsn") : -1;
    tc_close(t);
    return v;
}

/* Is every copy back since the last destructive fault: the leader up and
 * not fenced, and every follower's acknowledged LSN at least LSN? */
static int copies_whole(cluster *c, long long lsn)
{
    if (lsn < 0) return 1;
    if (c->n[0].pid <= 0 || c->n[0].stopped) return 0;
    tclient *t = cl_connect(c, 0);
    int ok = t && cl_info_ll(t, "persistence", "fenced") == 0;
    for (int k = 0; ok && k < CL_FOLLOWERS; k++) ok = cl_follower_ll(t, k, "acked_lsn") >= lsn;
    tc_close(t);
    return ok;
}

/* Applies a heal for node K. */
static void do_heal(cluster *c, int k, heal *h)
{
    char reply[256];
    switch (h->what) {
    case F_KILL:
    case F_SNAPKILL:
    case F_LONG_DOWN:
        if (c->n[k].pid <= 0) cl_start_node(c, k);
        break;
    case F_STOP:
        cl_signal(c, k, SIGCONT);
        break;
    case F_DELAY:
        cl_proxy(c, k, "delay 0", reply, sizeof reply);
        break;
    case F_BLACKHOLE:
        cl_proxy(c, k, "blackhole off", reply, sizeof reply);
        break;
    case F_STOP_CKPT: {
        /* Still that node's child, or orphaned by a kill of its parent
         * (stopped before its PR_SET_PDEATHSIG took effect: it holds the
         * data dir's lock, and only running on lets it see its parent gone
         * and exit). */
        pid_t pp = h->child > 0 ? parent_of(h->child) : -1;
        if (pp == h->parent || pp == 1) kill(h->child, SIGCONT);
        break;
    }
    default:
        break;
    }
    h->due_ms = 0;
}

static int grep_file(const char *path, const char *needle)
{
    return count_in_file(path, needle) > 0;
}

static int parse_faults(const char *list, int *enabled)
{
    for (int f = 0; f < F_COUNT; f++) enabled[f] = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0) {
            for (int f = 0; f < F_COUNT; f++) enabled[f] = 1;
            continue;
        }
        int found = 0;
        for (int f = 0; f < F_COUNT; f++)
            if (strcmp(tok, fault_names[f]) == 0) enabled[f] = found = 1;
        if (!found) {
            fprintf(stderr, "chaos: unknown fault '%s'; known:", tok);
            for (int f = 0; f < F_COUNT; f++) fprintf(stderr, " %s", fault_names[f]);
            fprintf(stderr, " all\n");
            return -1;
        }
    }
    return 0;
}

typedef struct run {
    cluster c;
    generation gens[CHAOS_GENERATIONS_MAX];
    int ngen;
    int violations;
} run;

/* kill -9 the leader (and its writers' generation); DAMAGE: damage its WAL
 * first. Restarts it and a new generation. 0, or -1 if the run must end. */
static int crash_leader(run *r, int damage, long long now, ctr_writer *ctrs)
{
    cluster *c = &r->c;
    tclient *t = cl_connect(c, 0);
    long long lsn_before = t ? cl_info_ll(t, "replication", "last_lsn") : -1;
    tc_close(t);
    /* No counter write may reach the restarted leader before the outcome
     * line has read what it recovered. */
    for (int i = 0; i < CHAOS_COUNTERS && damage; i++) atomic_store(&ctrs[i].paused, 1);
    cl_signal(c, 0, SIGKILL);
    long acked[CHAOS_COUNTERS]; /* no more acks can come: the leader is dead */
    for (int i = 0; i < CHAOS_COUNTERS; i++) acked[i] = atomic_load(&ctrs[i].acked_max);
    gen_stop(&r->gens[r->ngen - 1]);
    if (damage) {
        char desc[3 * PROC_PATH_MAX];
        damage_wal(c->n[0].dir, desc, sizeof desc);
        printf("chaos: t=%llds wal-damage leader: %s\n", (now - t_start) / 1000, desc);
    } else {
        printf("chaos: t=%llds kill -9 leader\n", (now - t_start) / 1000);
    }
    if (cl_start_node(c, 0) < 0) {
        printf("chaos: leader did not restart (see %s)\n", c->n[0].log);
        r->violations++;
        return -1;
    }
    if (damage) {
        /* What the restarted leader holds, before anything is written to
         * it: did the damage cost acknowledged writes? (The final check
         * decides; this line ties a loss to the damage that caused it.) */
        t = cl_connect(c, 0);
        long long lsn_after = t ? cl_info_ll(t, "replication", "last_lsn") : -1;
        char line[512];
        int len = snprintf(line, sizeof line, "chaos: wal-damage outcome: leader last_lsn %lld (just before the kill) -> %lld (restarted)",
                           lsn_before, lsn_after);
        for (int i = 0; i < CHAOS_COUNTERS && len > 0 && (size_t)len < sizeof line; i++) {
            char key[32];
            snprintf(key, sizeof key, "ctr:%d", i);
            resp_value *v = t ? tc_cmd(t, "GET", key) : NULL;
            long x = ctr_value(v);
            resp_value_free(v);
            len += snprintf(line + len, sizeof line - (size_t)len, "; %s=%ld acked %ld%s", key, x,
                            acked[i], x < acked[i] ? " (behind what was acknowledged, at restart: it must come back)" : "");
        }
        tc_close(t);
        printf("%s\n", line);
        for (int i = 0; i < CHAOS_COUNTERS; i++) atomic_store(&ctrs[i].paused, 0);
    }
    if (gen_start(&r->gens[r->ngen], r->ngen, c->n[0].port) < 0) {
        printf("chaos: writers did not restart\n");
        r->violations++;
        return -1;
    }
    r->ngen++;
    return 0;
}

/* Kills follower K, wipes its data dir, restarts it, and kills it again
 * once the snapshot transfer to it has begun. Prints what happened; 1 if
 * the kill landed before the snapshot was installed. */
static int snapkill(run *r, int k, long long now)
{
    cluster *c = &r->c;
    cl_node *nd = &c->n[k];
    cl_signal(c, k, SIGKILL);
    proc_rmtree(nd->dir);
    long recv0 = count_in_file(nd->log, "receiving a checkpoint");
    long inst0 = count_in_file(nd->log, "installed snapshot");
    if (cl_start_node(c, k) < 0) {
        printf("chaos: t=%llds snapkill node %d: wiped, but it did not restart\n",
               (now - t_start) / 1000, nd->id);
        return 0;
    }
    tclient *l = cl_connect(c, 0);
    char state[32] = "";
    long long deadline = proc_now_ms() + CHAOS_SNAP_WAIT_MS, sent = -1;
    int seen = 0;
    while (!seen && proc_now_ms() < deadline) {
        if (count_in_file(nd->log, "receiving a checkpoint") > recv0) seen = 1;
        else if (l && cl_follower_str(l, k - 1, "state", state, sizeof state) == 0 &&
                 strcmp(state, "snapshot") == 0)
            seen = 2;
        else
            usleep(2000);
    }
    if (l) {
        cl_follower_str(l, k - 1, "state", state, sizeof state);
        sent = cl_follower_ll(l, k - 1, "snapshot_sent_bytes");
    }
    cl_signal(c, k, SIGKILL);
    tc_close(l);
    char tmp[PROC_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/snapshot-incoming.tmp", nd->dir);
    struct stat st;
    long long part = stat(tmp, &st) == 0 ? (long long)st.st_size : -1;
    int installed = count_in_file(nd->log, "installed snapshot") > inst0;
    printf("chaos: t=%llds snapkill node %d: wiped, restarted, killed %s (%s; leader link state "
           "%s, snapshot_sent_bytes %lld; its snapshot-incoming.tmp %lld bytes)\n",
           (now - t_start) / 1000, nd->id,
           !seen ? "without seeing a snapshot start" : installed ? "after the install" : "before the install",
           seen == 1 ? "its log said receiving a checkpoint" : seen == 2 ? "leader INFO said snapshot" : "timeout",
           state[0] ? state : "?", sent, part);
    return seen && !installed;
}

int main(int argc, char **argv)
{
    long seconds = 60;
    unsigned long long seed = (unsigned long long)time(NULL);
    const char *faults_arg = NULL;
    int small = -1, new_faults = 0;
    long snap_lag = 20000; /* the leader's --catchup-max-lag-records; 0: the server's default */
    int strict_reads = 1;
    long long destroy_lsn = -1; /* leader's last LSN at the last destructive fault */
    const char *env = getenv("CHAOS_NEW_FAULTS");
    if (env && strcmp(env, "1") == 0) new_faults = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--seconds") == 0 && v) seconds = atol(argv[++i]);
        else if (strcmp(a, "--seed") == 0 && v) seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--faults") == 0 && v) faults_arg = argv[++i];
        else if (strcmp(a, "--small-segments") == 0) small = 1;
        else if (strcmp(a, "--new-faults") == 0) new_faults = 1;
        else if (strcmp(a, "--snapshot-lag") == 0 && v) snap_lag = atol(argv[++i]);
        else if (strcmp(a, "--strict-reads") == 0) strict_reads = 1;
        else if (strcmp(a, "--lenient-reads") == 0) strict_reads = 0;
        else if (strcmp(a, "--wal-damage") == 0 && v) {
            for (int d = 0; d < 5; d++)
                if (strcmp(v, damage_kinds[d]) == 0) damage_only = d;
            if (damage_only < 0) {
                fprintf(stderr, "chaos: --wal-damage: flip-byte|cut-mid-record|cut-at-boundary|"
                                "zero-last-4k|delete-segment\n");
                return 2;
            }
            i++;
        }
        else {
            fprintf(stderr, "usage: chaos [--seconds S] [--seed N] [--faults LIST|all] "
                            "[--small-segments] [--new-faults] [--wal-damage KIND] "
                            "[--snapshot-lag N] [--strict-reads]\n");
            return 2;
        }
    }
    if (seconds < 1 || seconds > CHAOS_SECONDS_MAX) {
        fprintf(stderr, "chaos: --seconds must be in [1, %d]\n", CHAOS_SECONDS_MAX);
        return 2;
    }
    int enabled[F_COUNT];
    if (faults_arg) {
        if (parse_faults(faults_arg, enabled) < 0) return 2;
    } else {
        for (int f = 0; f < F_COUNT; f++) enabled[f] = !fault_gated[f] || new_faults;
    }
    rng_state = seed;
    if (small < 0) small = faults_arg ? 0 : (int)(rng() % 2);
    if (new_faults) strict_reads = 1;
    int nenabled = 0;
    enum fault menu[F_COUNT] = {F_KILL};
    for (int f = 0; f < F_COUNT; f++)
        if (enabled[f]) menu[nenabled++] = (enum fault)f;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("chaos: seed %llu, %ld s%s", seed, seconds, small ? ", small segments" : "");
    if (snap_lag > 0) printf(", catchup-max-lag-records %ld", snap_lag);
    printf("; faults:");
    for (int i = 0; i < nenabled; i++) printf(" %s", fault_names[menu[i]]);
    printf("\n");
    cl_watchdog((unsigned)(seconds + CHAOS_CONVERGE_MS / 1000 + 180));

    static run R;
    run *r = &R;
    cluster *c = &r->c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.proxied = (1u << 1) | (1u << 2);
    o.follower_timeout_ms = 1000;
    o.quorum_timeout_ms = 2000;
    if (small) {
        static const char *const seg[] = {"--wal-segment-bytes", "262144",
                                          "--checkpoint-every-bytes", "1048576",
                                          "--wal-retain-bytes", "524288"};
        for (int j = 0; j < 6; j++) o.leader_extra[j] = o.follower_extra[j] = seg[j];
    }
    char lag_arg[32];
    if (snap_lag > 0) {
        /* A follower further behind (a wiped one, one down for seconds)
         * rejoins by snapshot. */
        int j = 0;
        while (o.leader_extra[j]) j++;
        snprintf(lag_arg, sizeof lag_arg, "%ld", snap_lag);
        o.leader_extra[j] = "--catchup-max-lag-records";
        o.leader_extra[j + 1] = lag_arg;
    }
    if (cl_start(c, "chaos", &o) < 0 || !cl_wait_online(c, 2, 10000)) {
        printf("chaos: cluster did not start\n");
        cl_stop(c, 1);
        return 1;
    }
    t_start = proc_now_ms();

    if (gen_start(&r->gens[r->ngen++], 0, c->n[0].port) < 0) {
        printf("chaos: writers did not start\n");
        cl_stop(c, 1);
        return 1;
    }
    static ctr_writer ctrs[CHAOS_COUNTERS];
    static reader readers[CHAOS_READERS];
    for (int i = 0; i < CHAOS_COUNTERS; i++) {
        ctrs[i].id = i;
        ctrs[i].port = c->n[0].port;
        ctrs[i].started = pthread_create(&ctrs[i].thread, NULL, ctr_main, &ctrs[i]) == 0;
    }
    for (int i = 0; i < CHAOS_READERS; i++) {
        readers[i].node = i % CL_NODES;
        readers[i].id = i;
        readers[i].port = c->n[i % CL_NODES].port;
        readers[i].ctr = ctrs;
        readers[i].started = pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) == 0;
    }

    long faults[F_COUNT] = {0};
    long bgsave_started = 0, bgsave_refused = 0, bgsave_noreply = 0;
    long ckpt_stopped = 0, snap_mid = 0;
    heal pending[CL_NODES];
    memset(pending, 0, sizeof pending);
    long long start = t_start, end = start + seconds * 1000;
    long long next_fault = start + rng_between(300, 1500);

    while (proc_now_ms() < end && nenabled > 0) {
        long long now = proc_now_ms();
        for (int k = 0; k < CL_NODES; k++) {
            heal *h = &pending[k];
            if (!h->due_ms) continue;
            if (now >= h->due_ms) {
                do_heal(c, k, h);
            } else if (h->what == F_BGSAVE && now >= h->next_ms) {
                int rc = send_bgsave(c, k);
                if (rc > 0) bgsave_started++;
                else if (rc == 0) bgsave_refused++;
                else bgsave_noreply++;
                /* Densely at first, while a restarted follower rejoins. */
                h->next_ms = proc_now_ms() + (proc_now_ms() - h->since_ms < 600
                                                  ? rng_between(3, 15) : rng_between(50, 150));
            }
        }
        /* A process that died without our doing is a bug. */
        for (int i = 0; i < CL_NODES; i++)
            if (c->n[i].pid > 0 && !c->n[i].stopped && proc_exited(c->n[i].pid) >= 0) {
                printf("chaos: t=%.1fs node %d (pid %d) died on its own (see %s)\n", t_now(),
                       c->n[i].id, (int)c->n[i].pid, c->n[i].log);
                c->n[i].pid = 0;
                r->violations++;
            }
        if (now < next_fault) {
            usleep(20000); /* the nemesis's tick; the system under test never waits on it */
            continue;
        }
        next_fault = now + rng_between(300, 1500);
        enum fault f = menu[rng() % (uint64_t)nenabled];
        /* Destroying a node's data (WAL damage, a wiped follower) while an
         * earlier destruction is not yet repaired can remove every copy of
         * a committed record: beyond what any 3-node quorum survives (f=1).
         * Until every follower holds what the leader had then, and the
         * leader is not fenced, the nemesis kills instead. */
        int destructive = f == F_WAL_DAMAGE || f == F_SNAPKILL || f == F_BGSAVE;
        int whole = destructive ? copies_whole(c, destroy_lsn) : 1;
        if (destructive && !whole && f != F_BGSAVE) f = f == F_WAL_DAMAGE ? F_KILL_LEADER : F_KILL;
        if (destructive && (f == F_WAL_DAMAGE || f == F_SNAPKILL || f == F_BGSAVE)) {
            long long l = leader_last(c);
            if (l > destroy_lsn) destroy_lsn = l;
        }
        int k = (int)rng_between(1, CL_FOLLOWERS);
        char cmd[64], reply[256];
        if (f == F_KILL_LEADER || f == F_WAL_DAMAGE) {
            if (r->ngen == CHAOS_GENERATIONS_MAX) continue;
            faults[f]++;
            if (crash_leader(r, f == F_WAL_DAMAGE, now, ctrs) < 0) break;
            continue;
        }
        if (f == F_STOP_CKPT) {
            int i = (int)rng_between(0, CL_NODES - 1);
            if (pending[i].due_ms || c->n[i].pid <= 0 || c->n[i].stopped) continue;
            faults[f]++;
            pid_t child = child_of(c->n[i].pid);
            int by_bgsave = 0;
            if (!child) {
                by_bgsave = send_bgsave(c, i) > 0;
                child = child_of(c->n[i].pid);
            }
            if (!child || kill(child, SIGSTOP) != 0) {
                printf("chaos: t=%llds stop-ckpt node %d: no checkpoint child to stop%s\n",
                       (now - start) / 1000, c->n[i].id, by_bgsave ? " (BGSAVE's ended at once)" : "");
                continue;
            }
            ckpt_stopped++;
            long ms = rng_between(1000, 5000);
            printf("chaos: t=%llds stop-ckpt node %d: SIGSTOP checkpoint child %d (%s) for %ld ms\n",
                   (now - start) / 1000, c->n[i].id, (int)child,
                   by_bgsave ? "started by BGSAVE" : "already running", ms);
            pending[i] = (heal){now + ms, F_STOP_CKPT, 0, 0, child, c->n[i].pid};
            continue;
        }
        if (pending[k].due_ms) continue; /* one fault per follower at a time */
        faults[f]++;
        switch (f) {
        case F_KILL:
            printf("chaos: t=%llds %s node %d\n", (now - start) / 1000, fault_names[f], c->n[k].id);
            cl_signal(c, k, SIGKILL);
            pending[k] = (heal){now + rng_between(1000, 3000), F_KILL, 0, 0, 0, 0};
            break;
        case F_LONG_DOWN: {
            long ms = rng_between(4000, 8000);
            printf("chaos: t=%llds long-catchup node %d: kill -9, down %ld ms under load\n",
                   (now - start) / 1000, c->n[k].id, ms);
            cl_signal(c, k, SIGKILL);
            pending[k] = (heal){now + ms, F_LONG_DOWN, 0, 0, 0, 0};
            break;
        }
        case F_STOP:
            printf("chaos: t=%llds %s node %d\n", (now - start) / 1000, fault_names[f], c->n[k].id);
            cl_signal(c, k, SIGSTOP);
            pending[k] = (heal){now + rng_between(500, 2500), F_STOP, 0, 0, 0, 0};
            break;
        case F_DELAY:
            printf("chaos: t=%llds %s node %d\n", (now - start) / 1000, fault_names[f], c->n[k].id);
            snprintf(cmd, sizeof cmd, "delay %ld", rng_between(5, 80));
            cl_proxy(c, k, cmd, reply, sizeof reply);
            pending[k] = (heal){now + rng_between(500, 3000), F_DELAY, 0, 0, 0, 0};
            break;
        case F_BLACKHOLE:
            printf("chaos: t=%llds %s node %d\n", (now - start) / 1000, fault_names[f], c->n[k].id);
            cl_proxy(c, k, "blackhole on", reply, sizeof reply);
            pending[k] = (heal){now + rng_between(500, 3000), F_BLACKHOLE, 0, 0, 0, 0};
            break;
        case F_FLIP:
            printf("chaos: t=%llds %s node %d\n", (now - start) / 1000, fault_names[f], c->n[k].id);
            snprintf(cmd, sizeof cmd, "fliprec %ld %ld", rng_between(0, 200), rng_between(0, 7));
            cl_proxy(c, k, cmd, reply, sizeof reply);
            break;
        case F_BGSAVE: {
            /* Most often while it rejoins: after a kill, half of those with a wipe. */
            int mode = (int)(rng() % 4); /* 0: as it is, 1-2: kill -9 + restart, 3: + wipe */
            if (mode == 3 && !whole) mode = 1;
            const char *how = "running";
            if (mode > 0) {
                cl_signal(c, k, SIGKILL);
                if (mode == 3) proc_rmtree(c->n[k].dir);
                how = mode == 3 ? "after kill -9, wipe and restart" : "after kill -9 and restart";
                if (cl_start_node(c, k) < 0) {
                    printf("chaos: t=%llds bgsave-follower node %d: it did not restart\n",
                           (now - start) / 1000, c->n[k].id);
                    pending[k] = (heal){now + 1000, F_KILL, 0, 0, 0, 0};
                    break;
                }
            }
            long ms = rng_between(2000, 4000);
            printf("chaos: t=%llds bgsave-follower node %d (%s) for %ld ms\n", (now - start) / 1000,
                   c->n[k].id, how, ms);
            pending[k] = (heal){proc_now_ms() + ms, F_BGSAVE, 0, proc_now_ms(), 0, 0};
            break;
        }
        case F_SNAPKILL: {
            snap_mid += snapkill(r, k, now);
            pending[k] = (heal){proc_now_ms() + rng_between(500, 2000), F_SNAPKILL, 0, 0, 0, 0};
            break;
        }
        default:
            break;
        }
    }

    /* Heal everything, stop writing, converge. */
    for (int k = 0; k < CL_NODES; k++)
        if (pending[k].due_ms) do_heal(c, k, &pending[k]);
    char reply[256];
    for (int k = 1; k < CL_NODES; k++) {
        cl_proxy(c, k, "delay 0", reply, sizeof reply);
        cl_proxy(c, k, "blackhole off", reply, sizeof reply);
    }
    gen_stop(&r->gens[r->ngen - 1]);
    for (int i = 0; i < CHAOS_COUNTERS; i++) {
        atomic_store(&ctrs[i].stop, 1);
        if (ctrs[i].started) pthread_join(ctrs[i].thread, NULL);
    }
    long long heal_at = proc_now_ms();
    int converged = cl_wait_online(c, 2, CHAOS_CONVERGE_MS) &&
                    cl_wait_caught_up(c, CHAOS_CONVERGE_MS) && cl_converged(c);
    long long converge_ms = proc_now_ms() - heal_at;
    if (!converged) {
        printf("chaos: the cluster did not converge within %d ms\n", CHAOS_CONVERGE_MS);
        r->violations++;
    }
    /* The readers keep reading through convergence, then stop. */
    long reads = 0, read_regressions = 0, read_phantoms = 0, read_conns = 0;
    for (int i = 0; i < CHAOS_READERS; i++) {
        atomic_store(&readers[i].stop, 1);
        if (readers[i].started) pthread_join(readers[i].thread, NULL);
        reads += atomic_load(&readers[i].reads);
        read_conns += atomic_load(&readers[i].conns);
        read_regressions += atomic_load(&readers[i].regressions);
        read_phantoms += atomic_load(&readers[i].phantoms);
    }
    r->violations += read_phantoms > 0;
    r->violations += strict_reads && read_regressions > 0;

    /* Every acknowledged write, on every node. */
    long ok = 0, failed = 0, unknown = 0, lost = 0;
    for (int g = 0; g < r->ngen; g++)
        for (int i = 0; i < CHAOS_WRITERS; i++) {
            wl_writer *w = &r->gens[g].w[i];
            long sent = atomic_load(&w->sent);
            for (long j = 0; j < sent; j++) {
                if (w->outcome[j] == WL_OK) ok++;
                else if (w->outcome[j] == WL_ERR) failed++;
                else unknown++;
            }
            for (int n = 0; n < CL_NODES; n++) {
                tclient *t = cl_connect(c, n);
                char who[32];
                snprintf(who, sizeof who, "node %d", c->n[n].id);
                long bad = t ? wl_verify(t, who, r->gens[g].prefix[i], 0, sent, w->outcome, 16) : -1;
                if (bad != 0) {
                    printf("chaos: %s: %ld acknowledged writes of %s missing or wrong\n", who,
                           bad, r->gens[g].prefix[i]);
                    r->violations++;
                    if (bad > 0) lost += bad;
                }
                tc_close(t);
            }
        }
    /* Every counter: at least its highest acknowledged value, at most its
     * highest sent one, on every node. */
    long ctr_acked = 0;
    for (int i = 0; i < CHAOS_COUNTERS; i++) {
        long lo = atomic_load(&ctrs[i].acked_max), hi = atomic_load(&ctrs[i].sent_max);
        ctr_acked += atomic_load(&ctrs[i].acked);
        char key[32];
        snprintf(key, sizeof key, "ctr:%d", i);
        for (int n = 0; n < CL_NODES; n++) {
            tclient *t = cl_connect(c, n);
            resp_value *v = t ? tc_cmd(t, "GET", key) : NULL;
            long x = ctr_value(v);
            resp_value_free(v);
            tc_close(t);
            if (x < lo || x > hi) {
                printf("chaos: node %d: %s = %ld, want a value in [%ld (highest acknowledged), "
                       "%ld (highest sent)]\n", c->n[n].id, key, x, lo, hi);
                r->violations++;
            }
        }
    }

    static const char *const sanitizer_marks[] = {"AddressSanitizer", "LeakSanitizer",
                                                  "ThreadSanitizer", "runtime error:"};
    for (int n = 0; n < CL_NODES; n++)
        for (size_t s = 0; s < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; s++)
            if (grep_file(c->n[n].log, sanitizer_marks[s])) {
                printf("chaos: %s in %s\n", sanitizer_marks[s], c->n[n].log);
                r->violations++;
            }

    printf("chaos: seed %llu: writes ok=%ld failed=%ld unknown=%ld lost=%ld; counter SETs ok=%ld; "
           "faults:", seed, ok, failed, unknown, lost, ctr_acked);
    for (int f = 0; f < F_COUNT; f++)
        if (enabled[f]) printf(" %s=%ld", fault_names[f], faults[f]);
    printf("; converged in %lld ms\n", converge_ms);
    printf("chaos: bgsave started=%ld refused=%ld noreply=%ld; checkpoint children stopped=%ld; "
           "snapkills before the install=%ld\n", bgsave_started, bgsave_refused, bgsave_noreply,
           ckpt_stopped, snap_mid);
    printf("chaos: reads checked=%ld on %ld connections: %ld went backwards on their connection%s, "
           "%ld returned a value never sent\n", reads, read_conns, read_regressions,
           read_regressions && !strict_reads ? " (reported only: CHAOS_NEW_FAULTS=1 or "
                                               "--strict-reads makes them violations)" : "",
           read_phantoms);
    int unclean = cl_stop(c, r->violations > 0);
    if (unclean) {
        printf("chaos: %d node(s) did not stop cleanly\n", unclean);
        r->violations++;
    }
    for (int g = 0; g < r->ngen; g++)
        for (int i = 0; i < CHAOS_WRITERS; i++) wl_writer_free(&r->gens[g].w[i]);
    printf("chaos: %d violation(s)\n", r->violations);
    printf("%d passed, %d failed\n", r->violations ? 0 : 1, r->violations ? 1 : 0);
    return r->violations ? 1 : 0;
}
