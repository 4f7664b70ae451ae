/* check.c -- the offline tools of check.h: --check-wal, --check-snapshot,
 * --restore.
 *
 * Why it is shaped so: nothing here parses a WAL segment or a checkpoint.
 * The data directory walk is recovery's own (wal_recover_dry: the same
 * rules decide torn tail versus corruption, with nothing opened for
 * writing), checkpoints are read by wal_checkpoint_load, and --fix runs the
 * real recovery, which cuts exactly the tail the check reported. What is
 * here is the layout around them (LOCK, CURRENT, gen-N, epoch, commit:
 * docs/WAL-FORMAT.md; the names match node.c's), the report, and the
 * restore's few file operations, each written temp-file, fsync, rename,
 * fsync-dir so that a crash leaves no half state that a node would take for
 * a whole one (CURRENT is written last).
 *
 * Both checks load the state into a store, as recovery does (that is what
 * finds a key twice in a checkpoint and counts keys): they need about the
 * memory the node itself would. */
#include "server/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv/kv_store.h"
#include "server/config.h"
#include "server/node.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_recovery.h"
#include "wal/wal_writer.h"

/* The data directory's names (node.c, docs/WAL-FORMAT.md). */
#define CK_LOCK "LOCK"
#define CK_CURRENT "CURRENT"
#define CK_EPOCH "epoch"
#define CK_COMMIT "commit"
#define CK_GEN "gen-"
#define CK_SMALL_MAX 64 /* bytes read of CURRENT, epoch, commit */
#define CK_COPY_BUF (1u << 20)

typedef char ck_path[WAL_PATH_MAX];

static int ck_join(char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, WAL_PATH_MAX, "%s/%s", dir, name);
    return n < 0 || n >= WAL_PATH_MAX ? -1 : 0;
}

/* Reads DIR/NAME (at most CK_SMALL_MAX bytes) into BUF. 1 read, 0 missing,
 * -1 + message. */
static int ck_read_small(const char *dir, const char *name, char *buf, size_t len, char *err,
                         size_t errlen)
{
    ck_path path;
    if (ck_join(path, dir, name) < 0) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t r = read(fd, buf, len - 1);
    int e = errno;
    close(fd);
    if (r < 0) {
        snprintf(err, errlen, "read %s: %s", path, strerror(e));
        return -1;
    }
    buf[r] = 0;
    return 1;
}

/* Parses decimal digits followed by SEP (0 or a character). */
static int ck_u64(const char *s, char sep, uint64_t *out, const char **end)
{
    if (*s < '0' || *s > '9') return -1;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (sep && *s != sep) return -1;
    *out = v;
    if (end) *end = s;
    return 0;
}

/* Takes DIR/LOCK as a node would (exclusive, nonblocking), so no node runs
 * on DIR meanwhile. Without CREATE, *FD is -1 when there is no LOCK file (a
 * copied directory is checked without writing into it). 0, or -1 + message. */
static int ck_lock(const char *dir, int create, int *fd, char *err, size_t errlen)
{
    ck_path path;
    *fd = -1;
    if (ck_join(path, dir, CK_LOCK) < 0) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    int f = create ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0 && errno == ENOENT && !create) return 0;
    if (f < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    char pid[24];
    int e = node_dir_trylock(f, pid, sizeof pid);
    if (e) {
        close(f);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "%s is in use by a running rkv-server (pid %s holds %s): stop it, or check "
                     "a copy of the directory",
                     dir, pid[0] ? pid : "unknown", path);
        else
            snprintf(err, errlen, "lock %s: %s", path, strerror(e));
        return -1;
    }
    *fd = f;
    return 0;
}

/* Finds the live storage: DIR/gen-N named by CURRENT, or DIR itself in the
 * layout before generations. 1 found, 0 nothing there (an empty or new
 * directory), -1 + message. */
static int ck_store(const char *dir, char *store, uint64_t *gen, char *err, size_t errlen)
{
    char buf[CK_SMALL_MAX];
    int r = ck_read_small(dir, CK_CURRENT, buf, sizeof buf, err, errlen);
    if (r < 0) return -1;
    struct stat st;
    if (r == 1) {
        if (ck_u64(buf, '\n', gen, NULL) < 0 || *gen == 0 || buf[strlen(buf) - 1] != '\n' ||
            strchr(buf, '\n') != buf + strlen(buf) - 1) {
            snprintf(err, errlen, "%s/" CK_CURRENT " does not hold a generation number (\"%.20s\")",
                     dir, buf);
            return -1;
        }
        int n = snprintf(store, WAL_PATH_MAX, "%s/" CK_GEN "%" PRIu64, dir, *gen);
        if (n < 0 || n >= WAL_PATH_MAX || stat(store, &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s/" CK_CURRENT " names generation %" PRIu64 " but %.200s is missing",
                     dir, *gen, store);
            return -1;
        }
        return 1;
    }
    *gen = 0;
    snprintf(store, WAL_PATH_MAX, "%s", dir);
    ck_path wal;
    if (wal_dir_path(wal, sizeof wal, dir) == 0 && stat(wal, &st) == 0) return 1;
    uint64_t *lsns;
    size_t n;
    if (wal_checkpoint_list(dir, &lsns, &n, err, errlen) < 0) return -1;
    free(lsns);
    return n > 0;
}

/* Other gen-* directories: what an interrupted install left (start-up
 * removes them). */
static void ck_stray(const char *dir, uint64_t live, FILE *out)
{
    DIR *d = opendir(dir);
    if (!d) return;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t g;
        if (strncmp(e->d_name, CK_GEN, strlen(CK_GEN)) != 0) continue;
        if (ck_u64(e->d_name + strlen(CK_GEN), 0, &g, NULL) == 0 && g == live) continue;
        fprintf(out, "note: %s/%s is not the live generation (left by an interrupted snapshot "
                     "install; a node removes it at start)\n",
                dir, e->d_name);
    }
    closedir(d);
}

/* Prints every checkpoint, verified. Returns how many failed, or -1. */
static int ck_checkpoints(const char *store, FILE *out, FILE *errf, uint64_t *newest)
{
    uint64_t *lsns;
    size_t n;
    char err[WAL_PATH_MAX + 256];
    *newest = 0;
    if (wal_checkpoint_list(store, &lsns, &n, err, sizeof err) < 0) {
        fprintf(errf, "rkv-server: %s\n", err);
        return -1;
    }
    int bad = 0;
    fprintf(out, "checkpoints: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        ck_path path;
        wal_checkpoint_info ci;
        if (wal_checkpoint_path(path, sizeof path, store, lsns[i]) < 0) continue;
        int ok = wal_checkpoint_load(path, NULL, &ci, err, sizeof err) == 0;
        if (ok && ci.lsn != lsns[i]) {
            snprintf(err, sizeof err, "%s: header says LSN %" PRIu64, path, ci.lsn);
            ok = 0;
        }
        if (!ok) {
            bad++;
            fprintf(out, "checkpoint: %s corrupt\n", path);
            fprintf(errf, "problem: checkpoint %s: %s (recovery skips it)\n", path, err);
            continue;
        }
        if (!*newest) *newest = ci.lsn;
        fprintf(out,
                "checkpoint: %s lsn=%" PRIu64 " epoch=%" PRIu64 " entries=%" PRIu64
                " tombstones=%" PRIu64 " bytes=%" PRIu64 " ok\n",
                path, ci.lsn, ci.epoch, ci.entries, ci.tombstones, ci.bytes);
    }
    free(lsns);
    return bad;
}

/* Prints the segments with their sizes; returns the bytes, or -1. */
static int ck_segments(const char *store, FILE *out, FILE *errf, uint64_t *bytes)
{
    uint64_t *lsns;
    size_t n;
    char err[WAL_PATH_MAX + 256];
    *bytes = 0;
    if (wal_segments_list(store, &lsns, &n, err, sizeof err) < 0) {
        fprintf(errf, "rkv-server: %s\n", err);
        return -1;
    }
    fprintf(out, "segments: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        ck_path path;
        struct stat st;
        if (wal_segment_path(path, sizeof path, store, lsns[i]) < 0 || stat(path, &st) < 0)
            continue;
        *bytes += (uint64_t)st.st_size;
        fprintf(out, "segment: %s bytes=%lld\n", path, (long long)st.st_size);
    }
    free(lsns);
    return 0;
}

typedef struct ck_count {
    uint64_t records, first, last, last_epoch, bytes;
} ck_count;

static int ck_count_rec(void *ctx, const wal_rec *r)
{
    ck_count *c = ctx;
    if (!c->records) c->first = r->lsn;
    c->records++;
    c->last = r->lsn;
    c->last_epoch = r->epoch;
    c->bytes += wal_record_size_x(r->klen, r->vlen, r->flags & WAL_F_EXPIRE);
    return 0;
}

/* The epoch and commit files (one line each, docs/WAL-FORMAT.md). */
static void ck_small_files(const char *dir, FILE *out, uint64_t *commit)
{
    char buf[CK_SMALL_MAX], err[256];
    uint64_t epoch, voted = 0;
    const char *end;
    *commit = 0;
    int r = ck_read_small(dir, CK_EPOCH, buf, sizeof buf, err, sizeof err);
    if (r == 1 && ck_u64(buf, 0, &epoch, &end) == 0 &&
        (*end == '\n' || (*end == ' ' && ck_u64(end + 1, '\n', &voted, NULL) == 0)))
        fprintf(out, "epoch file: %" PRIu64 " (voted for / followed node %" PRIu64 ")\n", epoch,
                voted);
    else
        fprintf(out, "epoch file: %s\n", r == 0 ? "none" : "unreadable");
    r = ck_read_small(dir, CK_COMMIT, buf, sizeof buf, err, sizeof err);
    if (r == 1 && ck_u64(buf, '\n', commit, NULL) == 0)
        fprintf(out, "commit hint: %" PRIu64 "\n", *commit);
    else
        fprintf(out, "commit hint: %s\n", r == 0 ? "none" : "unreadable (advisory: ignored)");
}

/* The walk itself: 0 sound, CHECK_TORN, CHECK_CORRUPT or CHECK_IO. */
static int ck_walk(const char *dir, const char *store, FILE *out, FILE *errf,
                   wal_tail_report *tail)
{
    uint64_t newest, wal_bytes, commit;
    ck_small_files(dir, out, &commit);
    int bad = ck_checkpoints(store, out, errf, &newest);
    if (bad < 0 || ck_segments(store, out, errf, &wal_bytes) < 0) return CHECK_IO;
    kv_store *kv = kv_new();
    if (!kv) {
        fprintf(errf, "rkv-server: out of memory\n");
        return CHECK_IO;
    }
    ck_count c = {0};
    wal_recovery_info info;
    char err[WAL_PATH_MAX + 512];
    int rc = wal_recover_dry(store, kv, ck_count_rec, &c, &info, tail, err, sizeof err);
    size_t keys = kv_count(kv);
    kv_free(kv);
    if (rc < 0) {
        fprintf(out, "result: corrupt\n");
        fprintf(errf, "problem: %s\n", err);
        return strstr(err, "out of memory") ? CHECK_IO : CHECK_CORRUPT;
    }
    fprintf(out,
            "records: %" PRIu64 "\nrecord bytes: %" PRIu64 "\nfirst lsn: %" PRIu64
            "\nlast lsn: %" PRIu64 "\nlast epoch: %" PRIu64 "\nrecovered checkpoint lsn: %" PRIu64
            "\nkeys: %zu\nwal bytes: %" PRIu64 "\n",
            c.records, c.bytes, c.first, info.last_lsn, info.last_epoch, info.snapshot_lsn, keys,
            wal_bytes);
    int result = CHECK_OK;
    if (tail->found && tail->zeros) {
        fprintf(out, "note: %s: %" PRIu64 " bytes of preallocated space at offset %" PRIu64
                     " (never written; recovery releases it)\n",
                tail->path, tail->bytes, tail->offset);
    } else if (tail->found) {
        fprintf(out, "torn tail: %s offset=%" PRIu64 " bytes=%" PRIu64 " (%s)\n", tail->path,
                tail->offset, tail->bytes, tail->what);
        result = CHECK_TORN;
    }
    /* The hint is advisory (written without fsync, stale is safe), so a
     * hint above the log's end is reported without changing the verdict:
     * the node itself fences or, alone, serves what is left. */
    if (commit > info.last_lsn)
        fprintf(errf, "warning: the commit hint says lsn %" PRIu64 " was committed but the log "
                      "ends at lsn %" PRIu64 ": committed records are missing (a node started "
                      "on it takes them back from a replica, or, alone, serves what is left)\n",
                commit, info.last_lsn);
    if (bad > 0) result = CHECK_CORRUPT;
    fprintf(out, "result: %s\n",
            result == CHECK_OK     ? "sound"
            : result == CHECK_TORN ? "torn tail (recovery would cut it; --fix cuts it now)"
                                   : "damaged");
    return result;
}

int check_wal_dir(const char *dir, int fix, FILE *out, FILE *errf)
{
    char err[WAL_PATH_MAX + 512];
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(errf, "rkv-server: --check-wal %s: %s\n", dir,
                stat(dir, &st) < 0 ? strerror(errno) : "not a directory");
        return CHECK_IO;
    }
    int lock_fd;
    if (ck_lock(dir, 0, &lock_fd, err, sizeof err) < 0) {
        fprintf(errf, "rkv-server: %s\n", err);
        return CHECK_IO;
    }
    ck_path store;
    uint64_t gen;
    int have = ck_store(dir, store, &gen, err, sizeof err);
    int rc = CHECK_OK;
    wal_tail_report tail;
    memset(&tail, 0, sizeof tail);
    fprintf(out, "data directory: %s\n", dir);
    if (have < 0) {
        fprintf(errf, "problem: %s\n", err);
        fprintf(out, "result: damaged\n");
        rc = CHECK_CORRUPT;
    } else if (have == 0) {
        fprintf(out, "generation: none (no data: a node starts with an empty store)\n"
                     "result: sound\n");
    } else {
        fprintf(out, "generation: %" PRIu64 " (%s)\n", gen, store);
        if (gen) ck_stray(dir, gen, out);
        rc = ck_walk(dir, store, out, errf, &tail);
    }
    if (fix && rc == CHECK_TORN) {
        /* The real recovery cuts the tail, with the same decision the walk
         * just reported; then the directory is checked again. */
        kv_store *kv = kv_new();
        wal_recovery_info info;
        rkv_log log;
        log_init(&log, 0, LOG_INFO);
        log.fp = out;
        if (!kv || wal_recover(store, kv, &info, &log, err, sizeof err) < 0) {
            fprintf(errf, "rkv-server: --fix: %s\n", kv ? err : "out of memory");
            rc = CHECK_IO;
        } else {
            fprintf(out, "fixed: cut %s at offset %" PRIu64 " (%" PRIu64 " bytes)\n", tail.path,
                    tail.offset, tail.bytes);
            rc = ck_walk(dir, store, out, errf, &tail);
        }
        kv_free(kv);
    } else if (fix && rc == CHECK_CORRUPT) {
        fprintf(errf, "rkv-server: --fix refuses: the damage is not a torn tail (acknowledged "
                      "records may lie behind it); nothing was changed. Restore this node from "
                      "a replica or a backup (docs/OPERATIONS.md)\n");
    }
    if (lock_fd >= 0) close(lock_fd);
    return rc;
}

int check_snapshot_file(const char *path, FILE *out, FILE *errf)
{
    char err[WAL_PATH_MAX + 512];
    kv_store *kv = kv_new();
    if (!kv) {
        fprintf(errf, "rkv-server: out of memory\n");
        return CHECK_IO;
    }
    wal_checkpoint_info ci;
    struct stat st;
    int rc = CHECK_OK;
    if (stat(path, &st) < 0) {
        fprintf(errf, "rkv-server: --check-snapshot %s: %s\n", path, strerror(errno));
        rc = CHECK_IO;
    } else if (wal_checkpoint_load(path, kv, &ci, err, sizeof err) < 0) {
        fprintf(out, "snapshot: %s\nresult: corrupt\n", path);
        fprintf(errf, "problem: %s\n", err);
        rc = strstr(err, "out of memory") ? CHECK_IO : CHECK_CORRUPT;
    } else {
        size_t dbs = 0, vol = 0;
        for (unsigned db = 0; db < kv_db_slots(kv); db++) {
            dbs += kv_db_count(kv, db) > 0;
            vol += kv_db_volatile(kv, db);
        }
        fprintf(out,
                "snapshot: %s\nlsn: %" PRIu64 "\nepoch: %" PRIu64 "\nmax ts: %" PRIu64
                "\nentries: %" PRIu64 "\ntombstones: %" PRIu64 "\nkeys: %zu\ndatabases: %zu\n"
                "expiring keys: %zu\nbytes: %" PRIu64 "\nresult: sound\n",
                path, ci.lsn, ci.epoch, ci.max_ts, ci.entries, ci.tombstones, kv_count(kv), dbs,
                vol, ci.bytes);
    }
    kv_free(kv);
    return rc;
}

/* ---- --restore ---- */

/* Writes LINE to DIR/NAME through a temp file, fsynced, renamed. */
static int rs_write_line(const char *dir, const char *name, const char *line, char *err,
                         size_t errlen)
{
    ck_path path, tmp;
    if (ck_join(path, dir, name) < 0 || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "path too long: %s", dir);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(line);
    if (write(fd, line, len) != (ssize_t)len || fsync(fd) < 0) {
        snprintf(err, errlen, "write %s: %s", tmp, strerror(errno ? errno : EIO));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return wal_fsync_dir(dir, err, errlen);
}

/* Copies FROM to TO (created, fsynced). */
static int rs_copy(const char *from, const char *to, char *err, size_t errlen)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "open %s: %s", from, strerror(errno));
        return -1;
    }
    int outfd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    uint8_t *buf = malloc(CK_COPY_BUF);
    int rc = -1;
    if (outfd < 0 || !buf) {
        snprintf(err, errlen, "create %s: %s", to, buf ? strerror(errno) : "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t n = read(in, buf, CK_COPY_BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "read %s: %s", from, strerror(errno));
            goto done;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(outfd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                snprintf(err, errlen, "write %s: %s", to, strerror(w < 0 ? errno : EIO));
                goto done;
            }
            off += w;
        }
    }
    if (fsync(outfd) < 0) {
        snprintf(err, errlen, "fsync %s: %s", to, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(buf);
    if (outfd >= 0) close(outfd);
    close(in);
    if (rc < 0 && outfd >= 0) unlink(to);
    return rc;
}

/* DIR holds no data: absent (created here), or only an empty LOCK. */
static int rs_empty_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) == 0) return 0;
    if (errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "open %s: %s", dir, strerror(errno));
        return -1;
    }
    const struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, CK_LOCK) != 0 && !found) {
            snprintf(err, errlen,
                     "%s already holds data (%s): --restore only fills an empty data directory "
                     "(move it away first)",
                     dir, e->d_name);
            found = 1;
        }
    closedir(d);
    return found ? -1 : 0;
}

int check_restore(const char *file, const char *data_dir, FILE *out, FILE *errf)
{
    char err[WAL_PATH_MAX + 512];
    wal_checkpoint_info ci;
    struct stat st;
    if (stat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(errf, "rkv-server: --restore %s: %s\n", file,
                stat(file, &st) < 0 ? strerror(errno) : "not a regular file");
        return CHECK_IO;
    }
    if (wal_checkpoint_load(file, NULL, &ci, err, sizeof err) < 0) {
        fprintf(errf, "rkv-server: --restore: %s is not a sound checkpoint: %s\n", file, err);
        return CHECK_CORRUPT;
    }
    if (ci.lsn == 0 || ci.epoch == 0) {
        fprintf(errf, "rkv-server: --restore: %s holds lsn %" PRIu64 " epoch %" PRIu64
                      ": nothing to restore\n",
                file, ci.lsn, ci.epoch);
        return CHECK_CORRUPT;
    }
    int lock_fd = -1;
    if (rs_empty_dir(data_dir, err, sizeof err) < 0 ||
        ck_lock(data_dir, 1, &lock_fd, err, sizeof err) < 0 ||
        rs_empty_dir(data_dir, err, sizeof err) < 0) {
        fprintf(errf, "rkv-server: --restore: %s\n", err);
        if (lock_fd >= 0) close(lock_fd);
        return CHECK_IO;
    }
    /* gen-1 with the checkpoint as its only content, the epoch (its
     * record's, no vote: an elected node campaigns from it with an up-to-date
     * log) and the commit hint (a checkpoint holds committed state only),
     * then CURRENT: until it exists, a node would not take the directory
     * for a restored one. */
    ck_path gen, snap, tmp;
    char line[64];
    int rc = -1;
    if (ck_join(gen, data_dir, CK_GEN "1") < 0 ||
        wal_checkpoint_path(snap, sizeof snap, gen, ci.lsn) < 0 ||
        ck_join(tmp, gen, "restore.tmp") < 0) {
        snprintf(err, sizeof err, "path too long: %s", data_dir);
    } else if (mkdir(gen, 0755) < 0) {
        snprintf(err, sizeof err, "mkdir %s: %s", gen, strerror(errno));
    } else if (rs_copy(file, tmp, err, sizeof err) == 0) {
        if (rename(tmp, snap) < 0) {
            snprintf(err, sizeof err, "rename %s: %s", tmp, strerror(errno));
            unlink(tmp);
        } else if (wal_fsync_dir(gen, err, sizeof err) == 0 &&
                   node_vote_store(data_dir, ci.epoch, 0, err, sizeof err) == 0) {
            snprintf(line, sizeof line, "%" PRIu64 "\n", ci.lsn);
            if (rs_write_line(data_dir, CK_COMMIT, line, err, sizeof err) == 0 &&
                rs_write_line(data_dir, CK_CURRENT, "1\n", err, sizeof err) == 0)
                rc = 0;
        }
    }
    if (lock_fd >= 0) close(lock_fd);
    if (rc < 0) {
        fprintf(errf, "rkv-server: --restore: %s (remove %s before trying again)\n", err, data_dir);
        return CHECK_IO;
    }
    fprintf(out,
            "restored: %s\ninto: %s\nlsn: %" PRIu64 "\nepoch: %" PRIu64 "\nentries: %" PRIu64
            "\ntombstones: %" PRIu64 "\nresult: a node started on %s begins with this state\n",
            snap, data_dir, ci.lsn, ci.epoch, ci.entries, ci.tombstones, data_dir);
    return CHECK_OK;
}
