/* incr_failover_proc_test.c -- read-modify-write commands across leader
 * failures, on an elected three-node cluster.
 *
 * Eight clients send INCR to one key as fast as they can, each following
 * the leader (on -READONLY / -TRYAGAIN / -UNCERTAIN / a closed connection
 * it looks for the leader again), while the leader is killed with SIGKILL
 * three times (and restarted). An INCR's reply is computed from the newest
 * state, proposed writes included (keyspace.h), and sent only when its
 * record commits; so, machine-checked at the end:
 *   - no two acknowledged INCRs got the same value (a new leader that did
 *     not see its predecessor's committed-but-unapplied INCRs would hand a
 *     value out twice);
 *   - the final value V on every node satisfies acked <= V <= acked +
 *     uncertain (every acknowledged INCR is in it; only those whose outcome
 *     the client was told is unknown may be in it or not);
 *   - every acknowledged value is <= V, and the nodes' digests are equal.
 * The same with MULTI/EXEC: each transaction INCRs two keys; after the
 * failures both keys hold the same value on every node (a transaction is
 * one record: both or neither). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ecluster.h"
#include "../testhelp.h"

#define CLIENTS 8
#define PER_CLIENT_MAX 200000
#define KILLS 3
#define OP_MS 3000

typedef struct worker {
    ecluster *c;
    int tx; /* MULTI INCR a INCR b EXEC instead of INCR */
    atomic_int *stop;
    long long *vals; /* acknowledged values */
    long nvals, uncertain;
} worker;

static tclient *connect_leader(ecluster *c)
{
    int l = ec_leader(c);
    if (l < 0) return NULL;
    tclient *t = ec_connect(c, l);
    if (t) tc_set_timeout(t, OP_MS);
    return t;
}

static void *work(void *arg)
{
    worker *w = arg;
    tclient *t = NULL;
    while (!atomic_load(w->stop) && w->nvals < PER_CLIENT_MAX) {
        if (!t && !(t = connect_leader(w->c))) continue;
        resp_value *r;
        if (w->tx) {
            const char *req = "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$2\r\ntx\r\n"
                              "*2\r\n$4\r\nINCR\r\n$2\r\nty\r\n*1\r\n$4\r\nEXEC\r\n";
            int ok = tc_send_raw(t, req, strlen(req)) == 0;
            for (int i = 0; ok && i < 3; i++) {
                r = tc_read(t);
                ok = r && r->type == RESP_T_STATUS;
                resp_value_free(r);
            }
            r = ok ? tc_read(t) : NULL;
            if (r && r->type == RESP_T_ARRAY && r->nelem == 2 && r->elem[0]->type == RESP_T_INT &&
                r->elem[1]->type == RESP_T_INT) {
                w->vals[w->nvals++] = r->elem[0]->integer;
                if (r->elem[0]->integer != r->elem[1]->integer) w->vals[w->nvals - 1] = -1;
            } else if (!r || r->type == RESP_T_ERROR) {
                /* refused before running (READONLY) or outcome unknown */
                if (!r || strncmp(r->str, "READONLY", 8) != 0) w->uncertain++;
                tc_close(t);
                t = NULL;
            }
        } else {
            r = tc_cmd(t, "INCR", "hot");
            if (r && r->type == RESP_T_INT) {
                w->vals[w->nvals++] = r->integer;
            } else {
                /* READONLY / NOREPLICAS: not written; anything else (a
                 * timeout, UNCERTAIN, a closed connection): unknown */
                if (!r || (strncmp(r->str, "READONLY", 8) != 0 &&
                           strncmp(r->str, "NOREPLICAS", 10) != 0 &&
                           strncmp(r->str, "TRYAGAIN", 8) != 0))
                    w->uncertain++;
                tc_close(t);
                t = NULL;
            }
        }
        resp_value_free(r);
    }
    tc_close(t);
    return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int leader_up(void *ctx)
{
    return ec_leader(ctx) >= 0;
}

/* Kills the leader KILLS times under load, restarting it each time. */
static void chaos(ecluster *c)
{
    for (int k = 0; k < KILLS; k++) {
        long long t0 = proc_now_ms();
        while (proc_now_ms() - t0 < 1500) proc_wait_until(leader_up, c, 100);
        int l = ec_wait_leader(c, 10000);
        char d[64];
        snprintf(d, sizeof d, "kill %d: a leader to kill", k + 1);
        test_cond(d, l >= 0);
        if (l < 0) return;
        ec_signal(c, l, SIGKILL);
        test_cond("a new leader is elected", ec_wait_leader(c, 10000) >= 0);
        test_cond("the killed node restarts", ec_start_node(c, l) == 0);
    }
    long long t0 = proc_now_ms();
    while (proc_now_ms() - t0 < 1500) proc_wait_until(leader_up, c, 100);
}

static long long value_on(ecluster *c, int i, const char *key)
{
    tclient *t = ec_connect(c, i);
    resp_value *r = t ? tc_cmd(t, "GET", key) : NULL;
    long long v = r && r->type == RESP_T_BULK ? atoll(r->str) : r && r->type == RESP_T_NIL ? 0 : -1;
    resp_value_free(r);
    tc_close(t);
    return v;
}

static void run(ecluster *c, int tx)
{
    atomic_int stop = 0;
    worker w[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        w[i] = (worker){.c = c, .tx = tx, .stop = &stop, .vals = calloc(PER_CLIENT_MAX, sizeof(long long))};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    chaos(c);
    atomic_store(&stop, 1);
    for (int i = 0; i < CLIENTS; i++) pthread_join(th[i], NULL);
    long total = 0, uncertain = 0, torn = 0;
    for (int i = 0; i < CLIENTS; i++) {
        total += w[i].nvals;
        uncertain += w[i].uncertain;
    }
    long long *all = calloc((size_t)total + 1, sizeof *all);
    long n = 0;
    for (int i = 0; i < CLIENTS; i++) {
        for (long k = 0; k < w[i].nvals; k++) {
            if (w[i].vals[k] < 0) torn++;
            all[n++] = w[i].vals[k];
        }
        free(w[i].vals);
    }
    qsort(all, (size_t)n, sizeof *all, cmp_ll);
    long dups = 0;
    for (long k = 1; k < n; k++) dups += all[k] == all[k - 1];
    test_cond("the cluster converges", ec_wait_converged(c, 30000));
    const char *key = tx ? "tx" : "hot";
    long long v = value_on(c, 0, key);
    printf("%s: %ld acknowledged, %ld uncertain, final value %lld, largest reply %lld\n",
           tx ? "MULTI/EXEC" : "INCR", total, uncertain, v, n ? all[n - 1] : 0);
    test_cond("load went through the failures", total > 1000);
    test_cond("no value was handed out twice", dups == 0);
    test_cond("every acknowledged one is in the final value (acked <= V <= acked + uncertain)",
              v >= total && v <= total + uncertain);
    test_cond("no reply above the final value", n == 0 || all[n - 1] <= v);
    for (int i = 1; i < c->n; i++) {
        char d[80];
        snprintf(d, sizeof d, "node %d holds the same value", i);
        test_cond(d, value_on(c, i, key) == v);
    }
    if (tx) {
        test_cond("each EXEC answered the two INCRs with one value", torn == 0);
        for (int i = 0; i < c->n; i++) {
            char d[80];
            snprintf(d, sizeof d, "node %d: both keys of every transaction, or neither", i);
            test_cond(d, value_on(c, i, "ty") == value_on(c, i, "tx"));
        }
    }
    free(all);
}

int main(void)
{
    ecluster c;
    const char *extra[] = {"--election-timeout-ms", "400", NULL};
    if (ec_start(&c, "incr-failover", 3, extra) != 0 || ec_wait_leader(&c, 10000) < 0) {
        test_cond("cluster starts and elects a leader", 0);
        ec_stop(&c, 1);
        return test_report();
    }
    test_section("INCR from 8 clients while the leader is killed 3 times");
    run(&c, 0);
    test_section("MULTI INCR INCR EXEC from 8 clients while the leader is killed 3 times");
    run(&c, 1);
    test_cond("all nodes exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
