/* net.c -- TCP socket helpers made a bit less boring (see net.h). */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NET_BACKLOG 511 /* same as Redis: the kernel caps it at somaxconn */

static int net_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

int net_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl);
}

int net_tune(int fd, const net_keepalive *ka, char *err, size_t errlen)
{
    int one = 1;
    /* Replies and acks are small and latency-bound: Nagle would hold them. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return net_err(err, errlen, "setsockopt(TCP_NODELAY)");
    /* Keepalive is what notices a peer that vanished without a FIN (power
     * loss, cable pulled). Linux's default 7200 s idle would notice it after
     * two hours; rkv probes after idle_s and gives up after count probes. */
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0)
        return net_err(err, errlen, "setsockopt(SO_KEEPALIVE)");
    net_keepalive def = NET_KEEPALIVE_DEFAULT;
    if (!ka) ka = &def;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka->idle_s, sizeof ka->idle_s) < 0)
        return net_err(err, errlen, "setsockopt(TCP_KEEPIDLE)");
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka->interval_s, sizeof ka->interval_s) < 0)
        return net_err(err, errlen, "setsockopt(TCP_KEEPINTVL)");
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka->count, sizeof ka->count) < 0)
        return net_err(err, errlen, "setsockopt(TCP_KEEPCNT)");
    /* Keepalive only probes an idle link; data stuck unacknowledged in the
     * send queue is bounded by TCP_USER_TIMEOUT instead. */
    if (ka->user_timeout_ms > 0) {
        unsigned int uto = (unsigned int)ka->user_timeout_ms;
        if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto) < 0)
            return net_err(err, errlen, "setsockopt(TCP_USER_TIMEOUT)");
    }
    return 0;
}

int net_listen(const char *addr, int port, int *bound_port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "invalid bind address '%s' (IPv4 dotted quad expected)", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return net_err(err, errlen, "socket");
    int one = 1;
    /* A restarted node must be able to bind its port while connections of the
     * previous incarnation sit in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        net_err(err, errlen, "setsockopt(SO_REUSEADDR)");
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        char what[96];
        snprintf(what, sizeof what, "bind %s:%d", addr, port);
        net_err(err, errlen, what);
        close(fd);
        return -1;
    }
    if (listen(fd, NET_BACKLOG) < 0) {
        net_err(err, errlen, "listen");
        close(fd);
        return -1;
    }
    if (bound_port) {
        socklen_t sl = sizeof sa;
        if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
            net_err(err, errlen, "getsockname");
            close(fd);
            return -1;
        }
        *bound_port = ntohs(sa.sin_port);
    }
    return fd;
}

int net_accept(int lfd, const net_keepalive *ka, char *peer, size_t peerlen, char *err,
               size_t errlen)
{
    struct sockaddr_in sa = {0}; /* accept4 may fill less than sizeof sa */
    socklen_t sl = sizeof sa;
    int fd;
    do {
        fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return net_err(err, errlen, "accept");
    if (net_tune(fd, ka, err, errlen) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (peer && peerlen) {
        char ip[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
        snprintf(peer, peerlen, "%s:%d", ip, ntohs(sa.sin_port));
    }
    return fd;
}

int net_connect(const char *host, int port, int nonblock, const net_keepalive *ka, char *err,
                size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return net_err(err, errlen, "socket");
    }
    if (net_tune(fd, ka, err, errlen) < 0) {
        freeaddrinfo(res);
        close(fd);
        return -1;
    }
    do {
        rc = connect(fd, res->ai_addr, res->ai_addrlen);
    } while (rc < 0 && errno == EINTR && !nonblock);
    freeaddrinfo(res);
    if (rc < 0 && !(nonblock && errno == EINPROGRESS)) {
        char what[96];
        snprintf(what, sizeof what, "connect %s:%d", host, port);
        net_err(err, errlen, what);
        close(fd);
        return -1;
    }
    return fd;
}

int net_connect_finished(int fd, char *err, size_t errlen)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        return net_err(err, errlen, "getsockopt(SO_ERROR)");
    if (soerr) {
        errno = soerr;
        return net_err(err, errlen, "connect");
    }
    return 0;
}

int net_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= hostlen) return -1;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 1 || p > 65535) return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}

int net_peer_is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) return 0;
    if (ss.ss_family == AF_UNIX) return 1;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}
