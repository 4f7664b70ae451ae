/* sentinel_hooks_test.c -- the two functions the node calls on a leader
 * change, driven in-process on a real node (node_new, the loop pumped from
 * this thread, clients on real sockets), plus the pub/sub glob matcher:
 *   sentinel_leader_changed publishes Sentinel's +switch-master message to
 *   channel and pattern subscribers, and nothing for an unchanged or unknown
 *   leader;
 *   clients_drop_all closes every plain connection (a blocked WAITLSN one
 *   too) and keeps the subscribed ones, which go on answering, and the node
 *   goes on accepting;
 *   rkv_glob_match agrees with Redis's stringmatchlen on its syntax and
 *   stays fast on patterns that make a naive matcher exponential.
 * In-process so the hooks can be called directly (no command reaches them),
 * and so valgrind (make valgrind) sees the closing paths. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/lone_node.h"
#include "../common/proc.h"
#include "../testhelp.h"
#include "server/client.h"
#include "server/node.h"
#include "common/glob.h"
#include "server/pubsub.h"
#include "server/sentinel.h"

#define IO_MS 5000
#define QUIET_MS 100

static node *g_node;

/* ---- a raw client on the node's port, the loop pumped while waiting ---- */

typedef struct rc {
    int fd;
    char buf[8192];
    size_t len;
    int eof;
} rc;

static int rc_open(rc *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_node->port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
    node_run_once(g_node, 0); /* accept */
    return 0;
}

static void rc_send(rc *c, const char *s)
{
    ssize_t w = write(c->fd, s, strlen(s));
    (void)w;
}

/* Pumps the loop until C holds a buffer containing WANT (or EOF if WANT is
 * NULL), or MS pass. Consumes through the match. */
static int rc_expect(rc *c, const char *want, int ms)
{
    long long end = proc_now_ms() + ms;
    for (;;) {
        if (want) {
            c->buf[c->len] = 0;
            char *at = strstr(c->buf, want);
            if (at) {
                size_t used = (size_t)(at - c->buf) + strlen(want);
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                return 1;
            }
        } else if (c->eof) {
            return 1;
        }
        if (proc_now_ms() >= end) return 0;
        node_run_once(g_node, 5);
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {
            ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
            if (r <= 0)
                c->eof = 1;
            else
                c->len += (size_t)r;
        }
    }
}

/* Nothing arrives within QUIET_MS. */
static int rc_quiet(rc *c)
{
    long long end = proc_now_ms() + QUIET_MS;
    while (proc_now_ms() < end) {
        node_run_once(g_node, 5);
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0) return 0;
    }
    return 1;
}

static void rc_close(rc *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* ---- tests ---- */

static void test_switch_master(void)
{
    test_section("sentinel_leader_changed publishes +switch-master");
    rc chan, pat, other, plain;
    test_cond("clients connect", rc_open(&chan) == 0 && rc_open(&pat) == 0 &&
                                     rc_open(&other) == 0 && rc_open(&plain) == 0);
    rc_send(&chan, "SUBSCRIBE +switch-master\r\n");
    test_cond("subscribed to the channel",
              rc_expect(&chan, "$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n", IO_MS));
    rc_send(&pat, "PSUBSCRIBE *switch*\r\n");
    test_cond("subscribed to a pattern", rc_expect(&pat, ":1\r\n", IO_MS));
    rc_send(&other, "PSUBSCRIBE [-+]sdown\r\n");
    test_cond("subscribed to another event", rc_expect(&other, ":1\r\n", IO_MS));

    sentinel_leader_changed(g_node, "10.0.0.1", 7000, "10.0.0.2", 7001);
    test_cond("the channel subscriber gets: message +switch-master <name> old new",
              rc_expect(&chan,
                        "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$31\r\nrkv 10.0.0.1 7000 "
                        "10.0.0.2 7001\r\n",
                        IO_MS));
    test_cond("the pattern subscriber gets the pmessage",
              rc_expect(&pat,
                        "*4\r\n$8\r\npmessage\r\n$8\r\n*switch*\r\n$14\r\n+switch-master\r\n$31\r\n"
                        "rkv 10.0.0.1 7000 10.0.0.2 7001\r\n",
                        IO_MS));
    test_cond("a subscriber to other events gets nothing", rc_quiet(&other));
    test_cond("an unsubscribed connection gets nothing", rc_quiet(&plain));

    sentinel_leader_changed(g_node, "10.0.0.2", 7001, "10.0.0.2", 7001);
    test_cond("the same leader again: nothing", rc_quiet(&chan));
    sentinel_leader_changed(g_node, "10.0.0.2", 7001, "", 0);
    sentinel_leader_changed(g_node, "10.0.0.2", 7001, NULL, 0);
    test_cond("no new leader address: nothing", rc_quiet(&chan));
    sentinel_leader_changed(g_node, NULL, 0, "10.0.0.3", 7002);
    test_cond("no old leader: ? 0", rc_expect(&chan, "$21\r\nrkv ? 0 10.0.0.3 7002\r\n", IO_MS));
    rc_close(&chan);
    rc_close(&pat);
    rc_close(&other);
    rc_close(&plain);
}

static void test_drop_all(void)
{
    test_section("clients_drop_all closes plain connections, keeps subscribed ones");
    rc a, b, blocked, sub;
    test_cond("clients connect",
              rc_open(&a) == 0 && rc_open(&b) == 0 && rc_open(&blocked) == 0 && rc_open(&sub) == 0);
    rc_send(&a, "PING\r\n");
    test_cond("a answers", rc_expect(&a, "+PONG\r\n", IO_MS));
    rc_send(&b, "SET k v\r\n");
    test_cond("b writes", rc_expect(&b, "+OK\r\n", IO_MS));
    rc_send(&blocked, "WAITLSN 1000000 0\r\n"); /* blocks forever */
    test_cond("a blocked client stays blocked", rc_quiet(&blocked));
    rc_send(&sub, "SUBSCRIBE +switch-master\r\n");
    test_cond("sub subscribes", rc_expect(&sub, ":1\r\n", IO_MS));
    size_t before = g_node->nclients;

    clients_drop_all(g_node, "test: stepped down");
    clients_drop_all(g_node, "test: twice is harmless");
    test_cond("a is closed", rc_expect(&a, NULL, IO_MS));
    test_cond("b is closed", rc_expect(&b, NULL, IO_MS));
    test_cond("the blocked one is closed", rc_expect(&blocked, NULL, IO_MS));
    test_cond("three connections fewer", g_node->nclients == before - 3);
    rc_send(&sub, "PING\r\n");
    test_cond("the subscribed one still answers",
              rc_expect(&sub, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", IO_MS));
    sentinel_leader_changed(g_node, "10.0.0.3", 7002, "10.0.0.4", 7003);
    test_cond("and still hears +switch-master",
              rc_expect(&sub, "rkv 10.0.0.3 7002 10.0.0.4 7003\r\n", IO_MS));
    rc c;
    test_cond("new connections are accepted", rc_open(&c) == 0);
    rc_send(&c, "GET k\r\n");
    test_cond("and served", rc_expect(&c, "$1\r\nv\r\n", IO_MS));
    rc_close(&a);
    rc_close(&b);
    rc_close(&blocked);
    rc_close(&sub);
    rc_close(&c);
}

static int gm(const char *p, const char *s)
{
    return rkv_glob_match(p, strlen(p), s, strlen(s));
}

static void test_glob(void)
{
    test_section("rkv_glob_match: Redis's glob");
    test_cond("literal", gm("news", "news") && !gm("news", "new") && !gm("new", "news"));
    test_cond("empty", gm("", "") && !gm("", "a") && gm("*", ""));
    test_cond("?", gm("h?llo", "hello") && gm("h?llo", "hallo") && !gm("h?llo", "hllo"));
    test_cond("*", gm("h*llo", "hllo") && gm("h*llo", "heeeello") && !gm("h*llo", "hellO"));
    test_cond("* at the ends",
              gm("*switch*", "+switch-master") && gm("+*", "+sdown") && !gm("+*", "-sdown"));
    test_cond("[ae]",
              gm("h[ae]llo", "hello") && gm("h[ae]llo", "hallo") && !gm("h[ae]llo", "hillo"));
    test_cond("[^e]", gm("h[^e]llo", "hallo") && !gm("h[^e]llo", "hello"));
    test_cond("[a-b] and [b-a]",
              gm("h[a-b]llo", "hbllo") && gm("h[b-a]llo", "hallo") && !gm("h[a-b]llo", "hcllo"));
    test_cond("[-+]sdown (node-redis's pattern)",
              gm("[-+]sdown", "+sdown") && gm("[-+]sdown", "-sdown") && !gm("[-+]sdown", "sdown"));
    test_cond("escapes", gm("a\\*b", "a*b") && !gm("a\\*b", "axb") && gm("[\\]]", "]"));
    test_cond("an open class runs to the end", gm("a[bc", "ab") && !gm("a[bc", "ad"));
    test_cond("binary", rkv_glob_match("a?c", 3, "a\0c", 3));
    char pat[PUBSUB_NAME_MAX + 1], s[PUBSUB_NAME_MAX + 1];
    size_t k = 0;
    while (k + 2 < PUBSUB_NAME_MAX - 1) {
        pat[k++] = '*';
        pat[k++] = 'a';
    }
    pat[k++] = 'b';
    memset(s, 'a', PUBSUB_NAME_MAX);
    long long t0 = proc_now_ms();
    int m = rkv_glob_match(pat, k, s, PUBSUB_NAME_MAX);
    test_cond("*a*a*...*ab against 256 a's: no match, in well under a second",
              !m && proc_now_ms() - t0 < 1000);
}

int main(void)
{
    char *dir = NULL;
    g_node = lone_node_new("hooks", &dir);
    test_cond("a lone node starts in-process", g_node != NULL);
    if (!g_node) return test_report();
    test_switch_master();
    test_drop_all();
    test_glob();
    lone_node_free(g_node, dir);
    return test_report();
}
