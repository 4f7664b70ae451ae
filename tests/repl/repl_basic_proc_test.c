/* repl_basic_proc_test.c -- replication with real rkv-server processes:
 * start-up and heartbeats, log shipping (10 writes key by key, then 100k
 * pipelined), the quorum rule (a write waits for its acks, never less), and
 * -NOREPLICAS with both followers down. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../testhelp.h"

#define WATCHDOG_S 85
#define ONLINE_MS 1000         /* the brief: both followers online within a second */
#define CATCHUP_MS 30000       /* 100k records to two followers, sanitizers included */
#define BLOCKED_CHECK_MS 300   /* a quorum write must not answer this long while stopped */
#define RELEASE_MS 3000        /* ... and must answer within this after SIGCONT */
#define AT_ONCE_MS 1000        /* "at once": one fsync on leader and follower, generously */
#define PIPELINE_WRITES 100000
#define PIPELINE_DEPTH 1000
#define SEQ_WRITES 200

static int is_status(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_STATUS && strcmp(r->str, s) == 0;
}

static int is_error_prefix(const resp_value *r, const char *prefix)
{
    return r && r->type == RESP_T_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

static long long lastlsn(tclient *t)
{
    resp_value *r = tc_cmd(t, "LASTLSN");
    long long v = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    return v;
}

/* Sends SET without reading the reply. */
static int send_set(tclient *t, const char *k, const char *v)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(k), k,
                     strlen(v), v);
    return tc_send_raw(t, buf, (size_t)n);
}

/* Every key K0..K(n-1) reads back the same value on every node. */
static int keys_equal_everywhere(cluster *c, const char *prefix, int n)
{
    tclient *t[CL_NODES];
    int same = 1;
    for (int i = 0; i < CL_NODES; i++) t[i] = cl_connect(c, i);
    for (int k = 0; k < n && same; k++) {
        char key[64];
        snprintf(key, sizeof key, "%s%d", prefix, k);
        resp_value *r0 = t[0] ? tc_cmd(t[0], "GET", key) : NULL;
        same = r0 && r0->type == RESP_T_BULK;
        for (int i = 1; i < CL_NODES && same; i++) {
            resp_value *ri = t[i] ? tc_cmd(t[i], "GET", key) : NULL;
            same = ri && ri->type == RESP_T_BULK && ri->len == r0->len &&
                   memcmp(ri->str, r0->str, r0->len) == 0;
            if (!same)
                printf("key %s: leader '%s', node %d '%s'\n", key, r0->str, i,
                       ri && ri->str ? ri->str : "(nil or error)");
            resp_value_free(ri);
        }
        resp_value_free(r0);
    }
    for (int i = 0; i < CL_NODES; i++) tc_close(t[i]);
    return same;
}

static void test_startup_and_shipping(void)
{
    test_section("start-up, 10 writes, 100k pipelined writes (quorum 1)");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    test_cond("cluster starts", cl_start(&c, "repl-basic", &o) == 0);
    test_cond("both followers online within 1 s", cl_wait_online(&c, 2, ONLINE_MS));
    tclient *l = cl_connect(&c, 0);
    char *resp = l ? tc_info_field(l, "replication", "followers_responded") : NULL;
    test_cond("INFO shows followers_responded:2/2", resp && strcmp(resp, "2/2") == 0);
    free(resp);

    int ok = 1;
    for (int k = 0; k < 10 && l; k++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "value-%d", k * 7);
        resp_value *r = tc_cmd(l, "SET", key, val);
        ok &= is_status(r, "OK");
        resp_value_free(r);
    }
    test_cond("10 writes acknowledged", l && ok);
    /* Read-your-writes on a follower: WAITLSN the leader's LSN. */
    long long lsn = l ? lastlsn(l) : -1;
    tclient *f = cl_connect(&c, 1);
    char lsnstr[32];
    snprintf(lsnstr, sizeof lsnstr, "%lld", lsn);
    resp_value *w = f ? tc_cmd(f, "WAITLSN", lsnstr, "5000") : NULL;
    test_cond("LASTLSN is 10 and WAITLSN on a follower reaches it",
              lsn == 10 && w && w->type == RESP_T_INT && w->integer >= lsn);
    resp_value_free(w);
    tc_close(f);
    test_cond("followers caught up after 10 writes", cl_wait_caught_up(&c, CATCHUP_MS));
    test_cond("every key equal on all three nodes", keys_equal_everywhere(&c, "k", 10));
    test_cond("digests equal after 10 writes", cl_converged(&c));

    long long t0 = proc_now_ms();
    long n = l ? cl_pipeline_set(l, "p:", 0, PIPELINE_WRITES, PIPELINE_DEPTH, NULL) : -1;
    long long t1 = proc_now_ms();
    printf("   %ld pipelined writes acknowledged in %lld ms\n", n, t1 - t0);
    test_cond("100k pipelined writes all acknowledged OK", n == PIPELINE_WRITES);
    test_cond("followers reach the leader's last_lsn", cl_wait_caught_up(&c, CATCHUP_MS));
    printf("   followers caught up %lld ms after the last reply\n", proc_now_ms() - t1);
    test_cond("digests equal after 100k writes", cl_converged(&c));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

typedef struct durable_probe {
    tclient *f[CL_FOLLOWERS];
} durable_probe;

/* Both followers' durable LSN is at least LSN right now. */
static int durable_on_both(durable_probe *p, long long lsn)
{
    for (int i = 0; i < CL_FOLLOWERS; i++) {
        long long d = p->f[i] ? cl_info_ll(p->f[i], "replication", "durable_lsn") : -1;
        if (d < lsn) {
            printf("follower %d durable_lsn=%lld < acknowledged lsn %lld\n", i + 1, d, lsn);
            return 0;
        }
    }
    return 1;
}

static void test_quorum_two(void)
{
    test_section("quorum 2: a write waits for both acks, never less");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum = 2;
    /* The stop below is shorter than the follower timeout, so the follower
     * stays online and the write waits instead of failing -NOREPLICAS. */
    o.follower_timeout_ms = 5000;
    o.quorum_timeout_ms = 10000;
    test_cond("cluster starts", cl_start(&c, "repl-q2", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, ONLINE_MS * 5));
    tclient *l = cl_connect(&c, 0);
    resp_value *r = l ? tc_cmd(l, "SET", "before", "1") : NULL;
    test_cond("a write with both followers up is OK", is_status(r, "OK"));
    resp_value_free(r);

    test_cond("SIGSTOP follower 2", cl_signal(&c, 2, SIGSTOP) == 0);
    test_cond("write sent", l && send_set(l, "blocked", "x") == 0);
    test_cond("no reply while a quorum follower is stopped",
              l && !cl_readable_within(l, BLOCKED_CHECK_MS));
    test_cond("SIGCONT follower 2", cl_signal(&c, 2, SIGCONT) == 0);
    long long t0 = proc_now_ms();
    r = l && cl_readable_within(l, RELEASE_MS) ? tc_read(l) : NULL;
    long long waited = proc_now_ms() - t0;
    printf("   write released %lld ms after SIGCONT\n", waited);
    test_cond("the write returns OK right after SIGCONT", is_status(r, "OK") && waited < RELEASE_MS);
    resp_value_free(r);

    durable_probe p;
    for (int i = 0; i < CL_FOLLOWERS; i++) p.f[i] = cl_connect(&c, i + 1);
    long long lsn = l ? lastlsn(l) : -1;
    test_cond("after the released OK both followers hold its LSN durably",
              lsn > 0 && durable_on_both(&p, lsn));
    /* Many chances to catch an OK that overtook an ack: after each OK, ask
     * both followers at once what they have made durable. */
    int ok = l != NULL;
    for (int k = 0; k < SEQ_WRITES && ok; k++) {
        char key[32];
        snprintf(key, sizeof key, "seq%d", k);
        r = tc_cmd(l, "SET", key, "v");
        ok = is_status(r, "OK") && durable_on_both(&p, lastlsn(l));
        resp_value_free(r);
    }
    test_cond("no OK precedes the acks (200 writes, durable_lsn checked after each)", ok);
    for (int i = 0; i < CL_FOLLOWERS; i++) tc_close(p.f[i]);
    test_cond("followers caught up", cl_wait_caught_up(&c, CATCHUP_MS));
    test_cond("digests equal", cl_converged(&c));
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

static void test_quorum_one_and_noreplicas(void)
{
    test_section("quorum 1: one follower stopped does not block; both down: -NOREPLICAS");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum = 1;
    test_cond("cluster starts", cl_start(&c, "repl-q1", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, ONLINE_MS * 5));
    tclient *l = cl_connect(&c, 0);
    long n = l ? cl_pipeline_set(l, "a:", 0, 100, 100, NULL) : -1;
    test_cond("100 writes OK", n == 100);

    test_cond("SIGSTOP follower 2", cl_signal(&c, 2, SIGSTOP) == 0);
    long long t0 = proc_now_ms();
    resp_value *r = l ? tc_cmd(l, "SET", "while-stopped", "1") : NULL;
    long long took = proc_now_ms() - t0;
    printf("   write with one follower stopped answered in %lld ms\n", took);
    test_cond("with quorum 1 the write returns OK at once", is_status(r, "OK") && took < AT_ONCE_MS);
    resp_value_free(r);
    test_cond("SIGCONT follower 2", cl_signal(&c, 2, SIGCONT) == 0);
    test_cond("followers caught up", cl_wait_caught_up(&c, CATCHUP_MS));
    test_cond("digests equal", cl_converged(&c));

    r = l ? tc_cmd(l, "DBSIZE") : NULL;
    long long size_before = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    test_cond("kill -9 follower 1", cl_signal(&c, 1, SIGKILL) == 128 + SIGKILL);
    test_cond("kill -9 follower 2", cl_signal(&c, 2, SIGKILL) == 128 + SIGKILL);
    test_cond("leader sees no follower online", cl_wait_follower_online(&c, 0, 0, 5000) &&
                                                    cl_wait_follower_online(&c, 1, 0, 5000));
    r = l ? tc_cmd(l, "SET", "rejected", "1") : NULL;
    test_cond("a write with both followers down gets -NOREPLICAS", is_error_prefix(r, "NOREPLICAS"));
    resp_value_free(r);
    r = l ? tc_cmd(l, "GET", "a:42") : NULL;
    test_cond("an earlier key still reads back", r && r->type == RESP_T_BULK && strcmp(r->str, "v42") == 0);
    resp_value_free(r);
    r = l ? tc_cmd(l, "GET", "rejected") : NULL;
    test_cond("the rejected write was not applied", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    r = l ? tc_cmd(l, "DBSIZE") : NULL;
    test_cond("DBSIZE unchanged", r && r->type == RESP_T_INT && r->integer == size_before &&
                                      size_before == 101);
    resp_value_free(r);
    tc_close(l);
    test_cond("leader exits cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    test_startup_and_shipping();
    test_quorum_two();
    test_quorum_one_and_noreplicas();
    return test_report();
}
