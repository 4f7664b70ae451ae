/* net.h -- TCP socket helpers (Redis's anet is the model).
 *
 * Every function returns 0 / a descriptor on success and -1 on failure with
 * a message in the caller's ERR buffer. Every listener gets SO_REUSEADDR;
 * every connection, accepted or dialled, gets TCP keepalive and TCP_NODELAY
 * (net_tune): rkv's replies are small and latency-bound, so Nagle would only
 * add delay, and keepalive is how a peer that vanished without a FIN is
 * noticed at all. */
#ifndef RKV_NET_H
#define RKV_NET_H

#include <stddef.h>
#include <stdint.h>

/* Keepalive timing. The Linux default (7200 s idle) is useless for failure
 * detection; rkv's defaults notice a silent peer in idle + interval*count
 * seconds (1 + 1*3 = 4 s), and user_timeout_ms bounds how long sent data may
 * stay unacknowledged (TCP_USER_TIMEOUT) before the connection fails. */
typedef struct net_keepalive {
    int idle_s;
    int interval_s;
    int count;
    int user_timeout_ms; /* 0: leave the kernel default */
} net_keepalive;

#define NET_KEEPALIVE_DEFAULT {1, 1, 3, 0}

#define NET_HOST_MAX 256 /* a host name or address, as text */

struct sockaddr_storage;

/* Listens on ADDR:PORT (port 0 picks a free port; *bound_port tells which),
 * nonblocking, SO_REUSEADDR, backlog 511. ADDR is an IPv4 or an IPv6
 * address ("::1", "[::1]", "::" for every address of both families). */
int net_listen(const char *addr, int port, int *bound_port, char *err, size_t errlen);
/* "ip:port", or "[ip6]:port" as Redis prints an IPv6 peer. */
void net_format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen);
/* Accepts one connection (nonblocking, tuned); PEER gets net_format_addr.
 * -1 with errno EAGAIN when there is none. */
int net_accept(int lfd, const net_keepalive *ka, char *peer, size_t peerlen, char *err,
               size_t errlen);
/* Connects to HOST:PORT (a name, an IPv4 address, or an IPv6 one with or
 * without brackets). nonblock=1 starts a nonblocking connect (check
 * completion with net_connect_finished); nonblock=0 blocks. */
int net_connect(const char *host, int port, int nonblock, const net_keepalive *ka, char *err,
                size_t errlen);
/* After EPOLLOUT on a nonblocking connect: 0 connected, -1 failed. */
int net_connect_finished(int fd, char *err, size_t errlen);
int net_set_nonblock(int fd, int on);
/* SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT + TCP_NODELAY (+ TCP_USER_TIMEOUT). */
int net_tune(int fd, const net_keepalive *ka, char *err, size_t errlen);
/* 1 if the peer of connected socket FD is a loopback address (127/8, ::1,
 * ::ffff:127.x, or a Unix socket), else 0. */
int net_peer_is_loopback(int fd);
/* Splits "host:port" ("[ip6]:port": the brackets stay in HOST, and
 * net_connect takes them). Returns 0 or -1. */
int net_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
