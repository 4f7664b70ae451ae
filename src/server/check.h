/* check.h -- rkv-server's offline tools, run instead of a node (main.c):
 *
 *   --check-wal DIR [--fix]   verify a data directory: CURRENT, the live
 *                             generation, every checkpoint, every segment
 *                             and record (as redis-check-aof, etcdutl
 *                             snapshot status); --fix cuts a torn tail only
 *   --check-snapshot FILE     verify one checkpoint file
 *   --restore FILE            install checkpoint FILE as the whole state of
 *                             an empty data directory (a backup's restore)
 *
 * They print "key: value" lines on OUT (stable, for scripts and tests) and
 * problems on ERR, and return the process exit code below. */
#ifndef RKV_CHECK_H
#define RKV_CHECK_H

#include <stdio.h>

enum check_exit {
    CHECK_OK = 0,      /* sound (or, with --fix, sound after the fix) */
    CHECK_TORN = 1,    /* a torn tail recovery would cut; --fix cuts it */
    CHECK_USAGE = 2,   /* bad flags (rkv-server's usual code) */
    CHECK_CORRUPT = 3, /* damage recovery refuses (or a bad checkpoint); nothing is changed */
    CHECK_IO = 4,      /* cannot check: missing, unreadable, in use, out of memory */
};

int check_wal_dir(const char *dir, int fix, FILE *out, FILE *err);
int check_snapshot_file(const char *path, FILE *out, FILE *err);
/* DATA_DIR must not exist or hold nothing but an empty LOCK file. */
int check_restore(const char *file, const char *data_dir, FILE *out, FILE *err);

#endif
