/* sdnotify.c -- sd_notify(3) by hand (see sdnotify.h): one SOCK_DGRAM unix
 * socket, one nonblocking sendto per message.
 *
 * Why it is shaped so: the protocol is a single datagram of text lines, so
 * libsystemd would add a dependency for thirty lines of code. The socket is
 * created once at start (a failure there is reported, and the node runs
 * without notifications rather than refusing to start); sends never block
 * (MSG_DONTWAIT) because they happen on the event loop, and a dropped
 * message costs a counter and at most one log line a minute. */
#include "server/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sdn_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Fills the address from $NOTIFY_SOCKET: "/path" or "@abstract". */
static int sdn_addr(sdnotify *s, const char *name, char *err, size_t errlen)
{
    size_t len = strlen(name);
    if ((name[0] != '/' && name[0] != '@') || len < 2 || len >= sizeof s->addr.sun_path) {
        snprintf(err, errlen,
                 "NOTIFY_SOCKET '%.200s' is not an absolute path or @name of at most %zu bytes",
                 name, sizeof s->addr.sun_path - 1);
        return -1;
    }
    memset(&s->addr, 0, sizeof s->addr);
    s->addr.sun_family = AF_UNIX;
    memcpy(s->addr.sun_path, name, len);
    if (name[0] == '@') s->addr.sun_path[0] = 0; /* abstract: no terminating NUL counted */
    s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
    return 0;
}

int sdnotify_open(sdnotify *s, const char *socket_name, const char *watchdog_usec,
                  const char *watchdog_pid, const rkv_log *log, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->log = log;
    if (!socket_name || !socket_name[0]) return 0;
    if (sdn_addr(s, socket_name, err, errlen) < 0) return -1;
    /* The watchdog is ours only if WATCHDOG_PID is unset or names us. */
    uint64_t pid = 0, usec = 0;
    if (watchdog_usec && watchdog_usec[0]) {
        if (sdn_parse_u64(watchdog_usec, &usec) < 0 || usec == 0) {
            snprintf(err, errlen, "WATCHDOG_USEC '%.40s' is not a positive number", watchdog_usec);
            return -1;
        }
        if (watchdog_pid && watchdog_pid[0] &&
            (sdn_parse_u64(watchdog_pid, &pid) < 0 || pid != (uint64_t)getpid()))
            usec = 0;
    }
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        snprintf(err, errlen, "socket(AF_UNIX, SOCK_DGRAM): %s", strerror(errno));
        return -1;
    }
    s->watchdog_usec = usec;
    return 1;
}

int sdnotify_enabled(const sdnotify *s)
{
    return s->fd >= 0;
}

int sdnotify_send(sdnotify *s, const char *msg)
{
    if (s->fd < 0) return 0;
    size_t len = strnlen(msg, SDN_MSG_MAX);
    ssize_t r;
    do
        r = sendto(s->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                   (const struct sockaddr *)&s->addr, s->addrlen);
    while (r < 0 && errno == EINTR);
    if (r == (ssize_t)len) {
        s->sent++;
        return 0;
    }
    s->failed++;
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(msg, "\n"), msg);
    log_warn_limited(s->log, &s->lim, "sd_notify: cannot send '%s' to NOTIFY_SOCKET: %s", first,
                     r < 0 ? strerror(errno) : "short send");
    return -1;
}

int sdnotify_sendf(sdnotify *s, const char *fmt, ...)
{
    if (s->fd < 0) return 0;
    char msg[SDN_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n >= sizeof msg) { /* cut at the last whole line */
        char *nl = strrchr(msg, '\n');
        if (nl) nl[1] = 0;
    }
    return sdnotify_send(s, msg);
}

void sdnotify_close(sdnotify *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}
