/* sdnotify.h -- systemd's readiness protocol (sd_notify(3)) written by hand,
 * so rkv-server needs no libsystemd: a datagram of `KEY=VALUE` lines sent
 * to the unix socket named by $NOTIFY_SOCKET (a path, or `@name` for an
 * abstract one).
 *
 * What rkv-server sends (src/server/main.c): READY=1 once the node first
 * serves (node_ready.c decides), STATUS=... when its role or followers
 * change, RELOADING=1 / READY=1 around a SIGHUP log reopen, STOPPING=1 when
 * shutdown begins, WATCHDOG=1 every WATCHDOG_USEC / 2 when the unit sets
 * WatchdogSec=.
 *
 * Every send is one nonblocking sendto(2): a full or missing socket drops
 * the message, logged at most once a minute, and never blocks the loop.
 * Without NOTIFY_SOCKET everything here does nothing. The state is a value
 * owned by main.c, never a global. */
#ifndef RKV_SDNOTIFY_H
#define RKV_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/log.h"

#define SDN_MSG_MAX 512 /* longest message sent (STATUS text included) */

typedef struct sdnotify {
    int fd; /* datagram socket, or -1: nothing is sent */
    struct sockaddr_un addr;
    socklen_t addrlen;
    uint64_t watchdog_usec; /* 0: no watchdog asked for */
    uint64_t sent, failed;  /* datagrams sent / dropped */
    const rkv_log *log;     /* for the rate-limited failure line (may be NULL) */
    log_limit lim;
} sdnotify;

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment
 * (values passed in, so tests need not set them) and opens the socket.
 * 0: nothing to notify (SOCKET NULL or empty), 1: ready to send, -1 + ERR:
 * a malformed value (the caller logs it; sends then do nothing). */
int sdnotify_open(sdnotify *s, const char *socket, const char *watchdog_usec,
                  const char *watchdog_pid, const rkv_log *log, char *err, size_t errlen);
/* Sends MSG (one or more "KEY=VALUE\n" lines). 0 sent or nothing to do, -1
 * dropped (counted, logged rate-limited). */
int sdnotify_send(sdnotify *s, const char *msg);
/* Formats and sends; a message longer than SDN_MSG_MAX is cut at a line. */
int sdnotify_sendf(sdnotify *s, const char *fmt, ...) RKV_PRINTF(2, 3);
int sdnotify_enabled(const sdnotify *s);
void sdnotify_close(sdnotify *s);

#endif
