/* pubsub_proc_test.c -- SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE
 * and PUBLISH on a real rkv-server process, against the replies redis-server
 * 7.0 gives for the same sequence (RESP2): the confirmation arrays and their
 * counts, the null channel of an UNSUBSCRIBE with nothing subscribed (byte
 * for byte), what a subscribed connection may still send (PING's pong
 * array, QUIT, RESET) and the error for anything else, message and pmessage
 * deliveries and PUBLISH's count, the channels the server keeps for its own
 * Sentinel events, and the per-connection limits. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../testhelp.h"

#define START_MS 10000
#define IO_MS 5000
#define QUIET_MS 200       /* nothing more arrives within this: nothing was sent */
#define SUBS_MAX 128       /* PUBSUB_SUBS_MAX */
#define NAME_MAX_BYTES 256 /* PUBSUB_NAME_MAX */

static int port;

static tclient *conn(void)
{
    return tc_connect("127.0.0.1", port, IO_MS);
}

static int is_bulk(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_BULK && strcmp(r->str, s) == 0;
}

static int is_error(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_ERROR && strcmp(r->str, s) == 0;
}

/* *3 KIND NAME :COUNT (NAME NULL: a nil bulk). */
static int is_confirm(const resp_value *r, const char *kind, const char *name, long long count)
{
    return r && r->type == RESP_T_ARRAY && r->nelem == 3 && is_bulk(r->elem[0], kind) &&
           (name ? is_bulk(r->elem[1], name) : r->elem[1]->type == RESP_T_NIL) &&
           r->elem[2]->type == RESP_T_INT && r->elem[2]->integer == count;
}

static int confirm_next(tclient *t, const char *kind, const char *name, long long count)
{
    resp_value *r = tc_read(t);
    int ok = is_confirm(r, kind, name, count);
    if (!ok) printf("   expected %s %s %lld\n", kind, name ? name : "(nil)", count);
    resp_value_free(r);
    return ok;
}

static int is_message(const resp_value *r, const char *channel, const char *payload)
{
    return r && r->type == RESP_T_ARRAY && r->nelem == 3 && is_bulk(r->elem[0], "message") &&
           is_bulk(r->elem[1], channel) && is_bulk(r->elem[2], payload);
}

static int is_pmessage(const resp_value *r, const char *pattern, const char *channel,
                       const char *payload)
{
    return r && r->type == RESP_T_ARRAY && r->nelem == 4 && is_bulk(r->elem[0], "pmessage") &&
           is_bulk(r->elem[1], pattern) && is_bulk(r->elem[2], channel) &&
           is_bulk(r->elem[3], payload);
}

static long long publish(tclient *t, const char *ch, const char *msg)
{
    resp_value *r = tc_cmd(t, "PUBLISH", ch, msg);
    long long v = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    return v;
}

/* Reads raw bytes until WANT bytes arrived or IO_MS passed. */
static int read_exact(tclient *t, char *buf, size_t want)
{
    size_t got = 0;
    long long end = proc_now_ms() + IO_MS;
    while (got < want && proc_now_ms() < end) {
        struct pollfd p = {tc_fd(t), POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t r = read(tc_fd(t), buf + got, want - got);
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return got == want;
}

static void test_confirmations(void)
{
    test_section("confirmations, as redis-server 7.0 answers them");
    tclient *t = conn();
    static const char cmd[] = "*1\r\n$11\r\nUNSUBSCRIBE\r\n";
    static const char want[] = "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n";
    char got[sizeof want] = {0};
    test_cond("UNSUBSCRIBE with nothing subscribed: *3 unsubscribe $-1 :0, byte for byte",
              tc_send_raw(t, cmd, sizeof cmd - 1) == 0 && read_exact(t, got, sizeof want - 1) &&
                  memcmp(got, want, sizeof want - 1) == 0);
    resp_value *r = tc_cmd(t, "PUNSUBSCRIBE");
    test_cond("PUNSUBSCRIBE likewise", is_confirm(r, "punsubscribe", NULL, 0));
    resp_value_free(r);
    r = tc_cmd(t, "SUBSCRIBE", "a", "b", "a");
    test_cond("SUBSCRIBE a b a: a 1", is_confirm(r, "subscribe", "a", 1));
    resp_value_free(r);
    test_cond("b 2", confirm_next(t, "subscribe", "b", 2));
    test_cond("a again: still 2", confirm_next(t, "subscribe", "a", 2));
    r = tc_cmd(t, "PSUBSCRIBE", "x*", "y?");
    test_cond("PSUBSCRIBE x* y?: x* 3", is_confirm(r, "psubscribe", "x*", 3));
    resp_value_free(r);
    test_cond("y? 4", confirm_next(t, "psubscribe", "y?", 4));

    r = tc_cmd(t, "PING");
    test_cond("PING while subscribed: [pong, \"\"]",
              r && r->type == RESP_T_ARRAY && r->nelem == 2 && is_bulk(r->elem[0], "pong") &&
                  is_bulk(r->elem[1], ""));
    resp_value_free(r);
    r = tc_cmd(t, "PING", "hi");
    test_cond("PING hi: [pong, hi]", r && r->type == RESP_T_ARRAY && r->nelem == 2 &&
                                         is_bulk(r->elem[0], "pong") && is_bulk(r->elem[1], "hi"));
    resp_value_free(r);
    r = tc_cmd(t, "GET", "k");
    test_cond("GET while subscribed: Redis's error",
              is_error(r, "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING "
                          "/ QUIT / RESET are allowed in this context"));
    resp_value_free(r);
    r = tc_cmd(t, "SET", "k", "v");
    test_cond("SET too",
              is_error(r, "ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING "
                          "/ QUIT / RESET are allowed in this context"));
    resp_value_free(r);
    r = tc_cmd(t, "SUBSCRIBE");
    test_cond("SUBSCRIBE with no channel: arity",
              is_error(r, "ERR wrong number of arguments for 'subscribe' command"));
    resp_value_free(r);
    r = tc_cmd(t, "UNSUBSCRIBE", "b", "zz");
    test_cond("UNSUBSCRIBE b zz: b 3", is_confirm(r, "unsubscribe", "b", 3));
    resp_value_free(r);
    test_cond("zz (never subscribed): 3", confirm_next(t, "unsubscribe", "zz", 3));
    r = tc_cmd(t, "PUNSUBSCRIBE");
    test_cond("PUNSUBSCRIBE: every pattern, in order: x* 2",
              is_confirm(r, "punsubscribe", "x*", 2));
    resp_value_free(r);
    test_cond("y? 1", confirm_next(t, "punsubscribe", "y?", 1));
    r = tc_cmd(t, "UNSUBSCRIBE");
    test_cond("UNSUBSCRIBE: a 0", is_confirm(r, "unsubscribe", "a", 0));
    resp_value_free(r);
    r = tc_cmd(t, "GET", "k");
    test_cond("no longer subscribed: GET answers", r && r->type == RESP_T_NIL);
    resp_value_free(r);

    r = tc_cmd(t, "SUBSCRIBE", "c");
    resp_value_free(r);
    r = tc_cmd(t, "RESET");
    test_cond("RESET while subscribed: +RESET",
              r && r->type == RESP_T_STATUS && strcmp(r->str, "RESET") == 0);
    resp_value_free(r);
    r = tc_cmd(t, "GET", "k");
    test_cond("RESET left the subscribed state", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    r = tc_cmd(t, "SUBSCRIBE", "c");
    resp_value_free(r);
    r = tc_cmd(t, "QUIT");
    test_cond("QUIT while subscribed: +OK",
              r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0);
    resp_value_free(r);
    tc_close(t);
}

static void test_delivery(void)
{
    test_section("PUBLISH: message and pmessage deliveries");
    tclient *sub = conn(), *psub = conn(), *both = conn(), *pub = conn();
    resp_value *r = tc_cmd(sub, "SUBSCRIBE", "news");
    resp_value_free(r);
    r = tc_cmd(psub, "PSUBSCRIBE", "n[ae]w?");
    resp_value_free(r);
    r = tc_cmd(both, "PSUBSCRIBE", "*");
    resp_value_free(r);
    r = tc_cmd(both, "SUBSCRIBE", "news");
    test_cond("a connection on a pattern and a channel: count 2",
              is_confirm(r, "subscribe", "news", 2));
    resp_value_free(r);
    test_cond("PUBLISH news hello reaches 4 subscriptions", publish(pub, "news", "hello") == 4);
    r = tc_read(sub);
    test_cond("the channel subscriber: message news hello", is_message(r, "news", "hello"));
    resp_value_free(r);
    r = tc_read(psub);
    test_cond("the pattern subscriber: pmessage n[ae]w? news hello",
              is_pmessage(r, "n[ae]w?", "news", "hello"));
    resp_value_free(r);
    r = tc_read(both);
    test_cond("both: the message first", is_message(r, "news", "hello"));
    resp_value_free(r);
    r = tc_read(both);
    test_cond("then the pmessage", is_pmessage(r, "*", "news", "hello"));
    resp_value_free(r);
    test_cond("PUBLISH nobody x reaches the * pattern only", publish(pub, "nobody", "x") == 1);
    r = tc_read(both);
    test_cond("pmessage * nobody x", is_pmessage(r, "*", "nobody", "x"));
    resp_value_free(r);
    test_cond("the others got nothing",
              !cl_readable_within(sub, QUIET_MS) && !cl_readable_within(psub, QUIET_MS));
    r = tc_cmd(pub, "PUBLISH", "+switch-master", "rkv 1.2.3.4 1 5.6.7.8 2");
    test_cond("PUBLISH on +switch-master is refused (the server's own events)",
              r && r->type == RESP_T_ERROR &&
                  strncmp(r->str, "ERR channels starting with", 26) == 0);
    resp_value_free(r);
    r = tc_cmd(pub, "PUBLISH", "-sdown", "x");
    test_cond("and on -sdown", r && r->type == RESP_T_ERROR);
    resp_value_free(r);
    test_cond("nothing was delivered", !cl_readable_within(both, QUIET_MS));
    tc_close(sub);
    tc_close(psub);
    tc_close(both);
    tc_close(pub);
}

static void test_limits(void)
{
    test_section("limits: subscriptions per connection, name length");
    tclient *t = conn();
    char name[NAME_MAX_BYTES + 2];
    int ok = 1;
    for (int i = 0; i < SUBS_MAX && ok; i++) {
        snprintf(name, sizeof name, "ch%d", i);
        resp_value *r = tc_cmd(t, "SUBSCRIBE", name);
        ok = is_confirm(r, "subscribe", name, i + 1);
        resp_value_free(r);
    }
    test_cond("128 subscriptions are taken", ok);
    resp_value *r = tc_cmd(t, "PSUBSCRIBE", "one-more*");
    test_cond("the 129th is refused",
              is_error(r, "ERR too many subscriptions on this connection (max 128)"));
    resp_value_free(r);
    r = tc_cmd(t, "SUBSCRIBE", "ch0");
    test_cond("one already held is still confirmed", is_confirm(r, "subscribe", "ch0", SUBS_MAX));
    resp_value_free(r);
    r = tc_cmd(t, "UNSUBSCRIBE", "ch0");
    resp_value_free(r);
    memset(name, 'n', NAME_MAX_BYTES);
    name[NAME_MAX_BYTES] = 0;
    r = tc_cmd(t, "SUBSCRIBE", name);
    test_cond("a 256-byte name is taken", is_confirm(r, "subscribe", name, SUBS_MAX));
    resp_value_free(r);
    name[NAME_MAX_BYTES] = 'n';
    name[NAME_MAX_BYTES + 1] = 0;
    r = tc_cmd(t, "SUBSCRIBE", name);
    test_cond("a 257-byte name is refused",
              is_error(r, "ERR channel name too long (257 bytes, max 256)"));
    resp_value_free(r);
    tclient *p = conn();
    r = tc_cmd(p, "PUBLISH", name, "x");
    test_cond("PUBLISH to a 257-byte channel is refused", r && r->type == RESP_T_ERROR);
    resp_value_free(r);
    tc_close(p);
    tc_close(t);
}

int main(void)
{
    char *dir = proc_tmpdir("pubsub");
    port = proc_free_port();
    char bin[PROC_PATH_MAX], portstr[16], log[PROC_PATH_MAX];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(log, sizeof log, "%s.log", dir ? dir : "/tmp/rkv-pubsub");
    const char *const argv[] = {bin, "--port", portstr, "--data-dir", dir ? dir : "/nonexistent",
                                NULL};
    pid_t pid = proc_spawn(argv, log);
    tclient *t = tc_connect("127.0.0.1", port, START_MS);
    test_cond("the server starts", t != NULL);
    tc_close(t);
    test_confirmations();
    test_delivery();
    test_limits();
    test_cond("it exits cleanly", pid > 0 && proc_stop(pid, SIGTERM, START_MS) == 0);
    if (test_failed_ == 0 && dir) {
        proc_rmtree(dir);
        remove(log);
    } else {
        printf("files kept: %s, %s\n", dir ? dir : "", log);
    }
    free(dir);
    return test_report();
}
