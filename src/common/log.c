/* log.c -- see log.h. One fprintf per line so concurrent writers (the WAL
 * thread and the loop) never interleave inside a line. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

void log_init(rkv_log *log, unsigned node_id, enum log_level level)
{
    log->fp = stderr;
    log->owns_fp = 0;
    log->level = level;
    log->node_id = node_id;
}

/* The level may change while other threads log (CONFIG SET log-level):
 * relaxed atomics, a line logged or dropped around the change is fine. */
void log_set_level(rkv_log *log, enum log_level level)
{
    __atomic_store_n(&log->level, level, __ATOMIC_RELAXED);
}

enum log_level log_get_level(const rkv_log *log)
{
    return __atomic_load_n(&log->level, __ATOMIC_RELAXED);
}

/* The log's mode: readable by the group (an operator's), not by everyone. */
#define LOG_FILE_MODE 0640

static int log_open_fd(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, LOG_FILE_MODE);
}

int log_open_file(rkv_log *log, const char *path)
{
    int fd = log_open_fd(path);
    if (fd < 0) return -1;
    FILE *fp = fdopen(fd, "a");
    if (!fp) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    setvbuf(fp, NULL, _IOLBF, 0);
    if (log->owns_fp) fclose(log->fp);
    log->fp = fp;
    log->owns_fp = 1;
    return 0;
}

int log_reopen(rkv_log *log, const char *path, char *err, size_t errlen)
{
    if (!log->owns_fp) {
        snprintf(err, errlen, "no log file to reopen (logging to stderr)");
        return -1;
    }
    int fd = log_open_fd(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    /* The stream's lock keeps a line being formatted from being split
     * between the files; dup3 swaps the file under the descriptor in one
     * step for threads that write meanwhile (and keeps close-on-exec). */
    flockfile(log->fp);
    fflush(log->fp);
    int old = fileno(log->fp);
    int rc = old >= 0 && dup3(fd, old, O_CLOEXEC) >= 0 ? 0 : -1;
    int e = errno;
    funlockfile(log->fp);
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot switch to %s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

void log_close(rkv_log *log)
{
    if (log->owns_fp && log->fp) fclose(log->fp);
    log->fp = stderr;
    log->owns_fp = 0;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Writes one formatted line: timestamp, node id, level, MSG. */
static void log_write(const rkv_log *log, enum log_level level, const char *msg)
{
    static const char *tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(log->fp, "%s.%03ldZ node=%u %s %s\n", ts, (long)(tv.tv_usec / 1000), log->node_id,
            tags[level], msg);
}

static long long log_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One message, through LIM's rate limit when LIM is not NULL. */
static void log_vmsg(const rkv_log *log, log_limit *lim, enum log_level level, const char *fmt,
                     va_list ap)
{
    if (!log || level < log_get_level(log)) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (lim) {
        long long now = log_mono_ms();
        if (lim->window_start_ms && now - lim->window_start_ms < LOG_LIMIT_WINDOW_MS) {
            lim->suppressed++;
            lim->level = level;
            size_t l = strnlen(msg, sizeof lim->last - 1);
            memcpy(lim->last, msg, l);
            lim->last[l] = 0;
            return;
        }
        if (lim->suppressed) {
            size_t l = strnlen(msg, sizeof msg);
            snprintf(msg + l, sizeof msg - l, " (%llu more like this in the last %d s)",
                     lim->suppressed, LOG_LIMIT_WINDOW_MS / 1000);
        }
        lim->window_start_ms = now;
        lim->suppressed = 0;
    }
    log_write(log, level, msg);
}

void log_msg(const rkv_log *log, enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(log, NULL, level, fmt, ap);
    va_end(ap);
}

void log_msg_limited(const rkv_log *log, log_limit *lim, enum log_level level, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(log, lim, level, fmt, ap);
    va_end(ap);
}

void log_limit_flush(const rkv_log *log, log_limit *lim)
{
    if (!log || !lim->suppressed || log_mono_ms() - lim->window_start_ms < LOG_LIMIT_WINDOW_MS) return;
    char msg[LOG_LIMIT_TEXT_MAX + 96];
    snprintf(msg, sizeof msg, "%llu more like this in the last %d s, the last: %s",
             lim->suppressed, LOG_LIMIT_WINDOW_MS / 1000, lim->last);
    log_write(log, lim->level, msg);
    lim->suppressed = 0;
    lim->window_start_ms = 0;
}

void log_msg_by_source(const rkv_log *log, log_by_source *t, enum log_level level,
                       const char *peer, const char *fmt, ...)
{
    if (!log || level < log_get_level(log)) return;
    char src[LOG_SOURCE_MAX];
    snprintf(src, sizeof src, "%s", peer ? peer : "");
    char *colon = strrchr(src, ':'); /* "ip:port" -> "ip" */
    if (colon && colon != src) *colon = 0;
    long long now = log_mono_ms();
    int slot = -1, oldest = 0;
    for (int i = 0; i < LOG_SOURCES_MAX; i++) {
        if (t->e[i].last_ms && strcmp(t->e[i].src, src) == 0) {
            slot = i;
            break;
        }
        if (t->e[i].last_ms < t->e[oldest].last_ms) oldest = i;
    }
    va_list ap;
    va_start(ap, fmt);
    if (slot < 0 && t->e[oldest].last_ms && now - t->e[oldest].last_ms < LOG_LIMIT_WINDOW_MS) {
        log_vmsg(log, &t->overflow, level, fmt, ap); /* every slot live: a shared limit */
        va_end(ap);
        return;
    }
    if (slot < 0) {
        slot = oldest;
        snprintf(t->e[slot].src, sizeof t->e[slot].src, "%s", src);
        t->e[slot].last_ms = 0;
        t->e[slot].suppressed = 0;
    }
    if (t->e[slot].last_ms && now - t->e[slot].last_ms < LOG_LIMIT_WINDOW_MS) {
        t->e[slot].suppressed++;
        va_end(ap);
        return;
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->e[slot].suppressed) {
        size_t l = strnlen(msg, sizeof msg);
        snprintf(msg + l, sizeof msg - l, " (%llu more from %s in the last %d s)",
                 t->e[slot].suppressed, src, LOG_LIMIT_WINDOW_MS / 1000);
    }
    t->e[slot].last_ms = now;
    t->e[slot].suppressed = 0;
    log_write(log, level, msg);
}
