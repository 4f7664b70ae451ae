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

/* ADDR as a socket address: an IPv4 dotted quad, or an IPv6 address with
 * or without brackets ("::1", "[::1]"). 0, or -1. */
static int net_addr_parse(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return 0;
    }
    char buf[INET6_ADDRSTRLEN + 2];
    size_t l = strlen(addr);
    if (l >= 2 && addr[0] == '[' && addr[l - 1] == ']' && l - 2 < sizeof buf) {
        memcpy(buf, addr + 1, l - 2);
        buf[l - 2] = 0;
        addr = buf;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

int net_listen(const char *addr, int port, int *bound_port, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    if (net_addr_parse(addr, port, &sa, &salen) < 0) {
        snprintf(err, errlen, "invalid bind address '%s' (an IPv4 or IPv6 address expected)", addr);
        return -1;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return net_err(err, errlen, "socket");
    int one = 1;
    /* A restarted node must be able to bind its port while connections of the
     * previous incarnation sit in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        net_err(err, errlen, "setsockopt(SO_REUSEADDR)");
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
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
        *bound_port = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    }
    return fd;
}

void net_format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%d", ip, ntohs(in6->sin6_port)); /* Redis's anetFormatAddr */
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%d", ip, ntohs(in->sin_port));
    }
}

int net_accept(int lfd, const net_keepalive *ka, char *peer, size_t peerlen, char *err,
               size_t errlen)
{
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa); /* accept4 may fill less than sizeof sa */
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
    if (peer && peerlen) net_format_addr(&sa, peer, peerlen);
    return fd;
}

int net_connect(const char *host, int port, int nonblock, const net_keepalive *ka, char *err,
                size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC; /* IPv4 or IPv6, as the name resolves */
    hints.ai_socktype = SOCK_STREAM;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    char bare[NET_HOST_MAX];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof bare) {
        memcpy(bare, host + 1, hl - 2); /* "[::1]": an IPv6 literal */
        bare[hl - 2] = 0;
        host = bare;
    }
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
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
        char what[NET_HOST_MAX + 32];
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
    memset(&ss, 0, sizeof ss);
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
