/* pipeline_read_proc_test.c -- key reads pipelined behind the client's own
 * writes run at once, see those writes, and wait for them to commit.
 *
 * A client sends PAIRS "SET k<i> v<i>" / "GET k<i>" pairs in one write (as
 * `redis-cli --pipe` or a client library's pipeline does). Every GET must
 * answer the value the SET before it wrote (read-your-writes through the
 * proposed layer), the replies must come in order, and the whole batch must
 * take a handful of WAL syncs on the leader: before, each GET waited for the
 * owed SET reply before running, so nothing after it was parsed and every
 * pair cost one commit round (one fdatasync per pair, PAIRS in all).
 *
 * Then the same with a slow quorum: followers frozen, so nothing commits. A
 * pipelined GET behind the uncommitted SET must not be answered (its reply
 * describes a state the log may still lose) until the followers thaw. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/expect.h"
#include "../testhelp.h"

#define PAIRS 400

static size_t put_cmd(char *p, const char *a, const char *b, const char *c3)
{
    if (c3)
        return (size_t)sprintf(p, "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(a), a,
                               strlen(b), b, strlen(c3), c3);
    return (size_t)sprintf(p, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(a), a, strlen(b), b);
}

int main(void)
{
    cl_watchdog(120);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    int up = cl_start_online(&c, "piperead", &o) == 0;
    test_cond("cluster starts with both followers online", up);
    if (!up) return test_report();
    tclient *l = cl_connect(&c, 0);
    tc_set_timeout(l, 20000);
    test_cond("warm-up SET", l && expect_str(tc_cmd(l, "SET", "warm", "1"), "OK"));

    char *buf = malloc((size_t)PAIRS * 128);
    size_t len = 0;
    for (int i = 0; i < PAIRS; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        len += put_cmd(buf + len, "SET", k, v);
        len += put_cmd(buf + len, "GET", k, NULL);
    }
    long long syncs0 = cl_info_ll(l, "persistence", "wal_syncs");
    test_cond("pipeline of SET/GET pairs sent", tc_send_raw(l, buf, len) == 0);
    int ok_sets = 0, ok_gets = 0;
    for (int i = 0; i < PAIRS; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%d", i);
        resp_value *r = tc_read(l);
        ok_sets += r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0;
        resp_value_free(r);
        r = tc_read(l);
        int good = r && r->type == RESP_T_BULK && strcmp(r->str, v) == 0;
        if (!good && ok_gets == i)
            printf("   pair %d: GET answered type %d '%s'\n", i, r ? (int)r->type : -1,
                   r && r->str ? r->str : "");
        ok_gets += good;
        resp_value_free(r);
    }
    long long syncs = cl_info_ll(l, "persistence", "wal_syncs") - syncs0;
    printf("%d pairs: %lld WAL syncs on the leader\n", PAIRS, syncs);
    test_cond("every SET answered OK, in order", ok_sets == PAIRS);
    test_cond("every GET answered the value its SET wrote", ok_gets == PAIRS);
    /* One sync per pair was the old cost; batching makes it a few. */
    test_cond("the pairs shared WAL syncs (fewer than a quarter of the pairs)",
              syncs >= 1 && syncs < PAIRS / 4);

    /* A pipelined GET behind an uncommitted SET waits for the commit. */
    test_cond("followers frozen", cl_signal(&c, 1, SIGSTOP) == 0 && cl_signal(&c, 2, SIGSTOP) == 0);
    len = put_cmd(buf, "SET", "held", "new");
    len += put_cmd(buf + len, "GET", "held", NULL);
    test_cond("SET+GET sent while nothing can commit", tc_send_raw(l, buf, len) == 0);
    test_cond("neither is answered before the quorum", !cl_readable_within(l, 300));
    tclient *other = cl_connect(&c, 0);
    test_cond("another client's plain GET still reads the committed state (nil)",
              other && expect_nil(tc_cmd(other, "GET", "held")));
    tc_close(other);
    test_cond("followers thawed", cl_signal(&c, 1, SIGCONT) == 0 && cl_signal(&c, 2, SIGCONT) == 0);
    test_cond("then the SET answers OK", expect_str(tc_read(l), "OK"));
    test_cond("and the GET the new value", expect_str(tc_read(l), "new"));
    test_cond("every node caught up", cl_wait_caught_up(&c, 30000));
    test_cond("digests equal", cl_converged(&c));
    free(buf);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
