/* log.h -- leveled, timestamped log lines, one per event, node id on each.
 *
 * A logger is a value owned by whoever runs (a node, a test, a tool), never a
 * global, so several nodes in one process keep their own ids and files.
 * Every function accepts a NULL logger and then prints nothing, which lets
 * library code (recovery, checkpoints) log without making a logger mandatory.
 * Line format:
 *   2026-11-26T12:00:00.123Z node=1 INFO wal: truncated 17 bytes of torn tail
 */
#ifndef RKV_LOG_H
#define RKV_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

typedef struct rkv_log {
    FILE *fp;             /* stderr unless a --log-file was opened */
    int owns_fp;          /* fclose(fp) in log_close() */
    enum log_level level; /* lines below this level are dropped */
    unsigned node_id;
} rkv_log;

void log_init(rkv_log *log, unsigned node_id, enum log_level level);
/* Opens PATH for appending (created 0640: logs name keys and peers);
 * returns 0 or -1 with errno set. */
int log_open_file(rkv_log *log, const char *path);
/* Reopens PATH in place of the file LOG writes to (SIGHUP after logrotate
 * moved it away): the new file takes over the same descriptor (dup3), so
 * threads logging meanwhile write whole lines to the old file or the new
 * one, never to a closed stream. On failure (ERR says why) the old file
 * stays in use. Only for a LOG opened with log_open_file. 0 or -1. */
int log_reopen(rkv_log *log, const char *path, char *err, size_t errlen);
void log_close(rkv_log *log);
/* Changes / reads the level; safe while other threads log. */
void log_set_level(rkv_log *log, enum log_level level);
enum log_level log_get_level(const rkv_log *log);
/* Parses "debug|info|warn|error"; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

#if defined(__GNUC__)
#define RKV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RKV_PRINTF(a, b)
#endif

void log_msg(const rkv_log *log, enum log_level level, const char *fmt, ...) RKV_PRINTF(3, 4);

/* A rate limit for one kind of repeated message (a per-record warning, a
 * peer retrying a refused handshake): the first is printed, the rest of the
 * window are counted, and the next one printed after the window (or
 * log_limit_flush from a cron) says how many were not:
 *   WARN record lsn=7 is 3600000 ms in the future (63854 more like this in the last 60 s)
 * A limiter belongs to its owner (a node), never to the process. */
#define LOG_LIMIT_WINDOW_MS 60000
#define LOG_LIMIT_TEXT_MAX 160 /* of the last suppressed message, for the flush line */
typedef struct log_limit {
    long long window_start_ms; /* 0: nothing printed yet */
    unsigned long long suppressed;
    enum log_level level;
    char last[LOG_LIMIT_TEXT_MAX];
} log_limit;

void log_msg_limited(const rkv_log *log, log_limit *lim, enum log_level level, const char *fmt,
                     ...) RKV_PRINTF(4, 5);
/* Prints the count of messages suppressed in a window that has ended. */
void log_limit_flush(const rkv_log *log, log_limit *lim);

/* Refusals logged once per source: the first refusal of each peer address
 * (the part of "ip:port" before the port) is printed, later ones from that
 * address in the window are counted and reported with its next line. A
 * table of LOG_SOURCES_MAX addresses; when every slot is live, new sources
 * share OVERFLOW's limit, so a flood from many addresses still writes a
 * bounded number of lines. */
#define LOG_SOURCES_MAX 32
#define LOG_SOURCE_MAX 64
typedef struct log_by_source {
    struct {
        char src[LOG_SOURCE_MAX];
        long long last_ms;
        unsigned long long suppressed;
    } e[LOG_SOURCES_MAX];
    log_limit overflow;
} log_by_source;

void log_msg_by_source(const rkv_log *log, log_by_source *t, enum log_level level,
                       const char *peer, const char *fmt, ...) RKV_PRINTF(5, 6);

#define log_warn_limited(l, lim, ...) log_msg_limited((l), (lim), LOG_WARN, __VA_ARGS__)
#define log_info_limited(l, lim, ...) log_msg_limited((l), (lim), LOG_INFO, __VA_ARGS__)
#define log_error_limited(l, lim, ...) log_msg_limited((l), (lim), LOG_ERROR, __VA_ARGS__)

#define log_debug(l, ...) log_msg((l), LOG_DEBUG, __VA_ARGS__)
#define log_info(l, ...) log_msg((l), LOG_INFO, __VA_ARGS__)
#define log_warn(l, ...) log_msg((l), LOG_WARN, __VA_ARGS__)
#define log_error(l, ...) log_msg((l), LOG_ERROR, __VA_ARGS__)

#endif
