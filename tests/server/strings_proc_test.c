/* strings_proc_test.c -- the Redis 7 string, keyspace, expiry and
 * transaction commands on a real three-node cluster (issue 13):
 *
 *  1. replication: every kind of write on the leader reads the same on each
 *     follower after WAITLSN (values, TTLs, databases); digests equal;
 *  2. INCR exactness: 50 clients x 1,000 INCRs on one key, one at a time
 *     and pipelined, end at exactly 50,000 on every node, and the replies
 *     are exactly 1..50,000 (each value handed out once: the replies agree
 *     with the log);
 *  3. expiry: a key past its expiry reads as absent on every node, the
 *     leader deletes it through the log (active cycle), a follower whose
 *     leader is frozen still does not serve it, and a restarted node does
 *     not serve a key that expired while it was down;
 *  4. rejoin: expiries and transactions reach a follower that comes back by
 *     WAL catch-up and one that comes back by snapshot;
 *  5. transaction atomicity under kill -9 of the leader mid-load: every
 *     EXEC of 10 SETs (and every MSET of 10 keys) is on each node whole or
 *     not at all, after the leader recovers;
 *  6. SCAN completeness: every key present for the whole scan is returned
 *     while another client's inserts make the table grow;
 *  7. WATCH: a write by another client, and an expiry, fail the EXEC;
 *     followers refuse writes, and a MULTI holding one answers EXECABORT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../testhelp.h"
#include "wal/wal_segment.h"

#define CONVERGE_MS 30000
#define INCR_CLIENTS 50
#define INCR_EACH 1000
#define TX_KEYS 10

static int is_int(resp_value *r, long long v)
{
    int ok = r && r->type == RESP_T_INT && r->integer == v;
    if (!ok)
        printf("   expected :%lld, got type %d int %lld str %s\n", v, r ? (int)r->type : -1,
               r ? r->integer : 0, r && r->str ? r->str : "");
    resp_value_free(r);
    return ok;
}

static int is_str(resp_value *r, const char *s)
{
    int ok = r && (r->type == RESP_T_BULK || r->type == RESP_T_STATUS) && r->len == strlen(s) &&
             memcmp(r->str, s, r->len) == 0;
    if (!ok)
        printf("   expected '%s', got type %d '%s'\n", s, r ? (int)r->type : -1,
               r && r->str ? r->str : "");
    resp_value_free(r);
    return ok;
}

static int is_nil(resp_value *r)
{
    int ok = r && r->type == RESP_T_NIL;
    if (!ok) printf("   expected nil, got type %d '%s'\n", r ? (int)r->type : -1, r && r->str ? r->str : "");
    resp_value_free(r);
    return ok;
}

static int is_err(resp_value *r, const char *prefix)
{
    int ok = r && r->type == RESP_T_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
    if (!ok) printf("   expected -%s..., got '%s'\n", prefix, r && r->str ? r->str : "");
    resp_value_free(r);
    return ok;
}

static long long int_of(resp_value *r)
{
    long long v = r && r->type == RESP_T_INT ? r->integer : -999;
    resp_value_free(r);
    return v;
}


/* ---- 1. replication of every kind of write ---- */

static void each_node_str(cluster *c, const char *what, const char *db, const char *key,
                          const char *want)
{
    for (int i = 0; i < CL_NODES; i++) {
        tclient *t = cl_connect(c, i);
        char d[160];
        snprintf(d, sizeof d, "node %d: %s", i, what);
        if (db) resp_value_free(tc_cmd(t, "SELECT", db));
        test_cond(d, want ? is_str(tc_cmd(t, "GET", key), want) : is_nil(tc_cmd(t, "GET", key)));
        tc_close(t);
    }
}

static void test_replication(cluster *c)
{
    test_section("every kind of write reads the same on each follower");
    tclient *l = cl_connect(c, 0);
    test_cond("SET EX", is_str(tc_cmd(l, "SET", "r:ex", "v", "EX", "1000"), "OK"));
    test_cond("SET PXAT", is_str(tc_cmd(l, "SET", "r:pxat", "v", "PXAT", "99999999999999"), "OK"));
    test_cond("INCRBY", is_int(tc_cmd(l, "INCRBY", "r:n", "41"), 41));
    test_cond("INCR", is_int(tc_cmd(l, "INCR", "r:n"), 42));
    test_cond("INCRBYFLOAT", is_str(tc_cmd(l, "INCRBYFLOAT", "r:f", "2.5"), "2.5"));
    test_cond("APPEND", is_int(tc_cmd(l, "APPEND", "r:ex", "w"), 2));
    test_cond("SETRANGE", is_int(tc_cmd(l, "SETRANGE", "r:sr", "3", "abc"), 6));
    test_cond("MSET", is_str(tc_cmd(l, "MSET", "r:m1", "a", "r:m2", "b", "r:m3", "c"), "OK"));
    test_cond("MSETNX refused (one exists)", is_int(tc_cmd(l, "MSETNX", "r:m1", "x", "r:m9", "y"), 0));
    test_cond("RENAME", is_str(tc_cmd(l, "RENAME", "r:m3", "r:m4"), "OK"));
    test_cond("COPY to db 2", is_int(tc_cmd(l, "COPY", "r:m1", "r:c", "DB", "2"), 1));
    test_cond("GETDEL", is_str(tc_cmd(l, "GETDEL", "r:m2"), "b"));
    test_cond("SELECT 3", is_str(tc_cmd(l, "SELECT", "3"), "OK"));
    test_cond("SET in db 3", is_str(tc_cmd(l, "SET", "r:db3", "three"), "OK"));
    test_cond("SET in db 3, to flush", is_str(tc_cmd(l, "SET", "r:gone", "x"), "OK"));
    test_cond("SELECT 5", is_str(tc_cmd(l, "SELECT", "5"), "OK"));
    test_cond("SET in db 5", is_str(tc_cmd(l, "SET", "r:db5", "five"), "OK"));
    test_cond("FLUSHDB db 5", is_str(tc_cmd(l, "FLUSHDB"), "OK"));
    test_cond("SELECT 0", is_str(tc_cmd(l, "SELECT", "0"), "OK"));
    test_cond("MULTI", is_str(tc_cmd(l, "MULTI"), "OK"));
    test_cond("queued SET", is_str(tc_cmd(l, "SET", "r:tx1", "1"), "QUEUED"));
    test_cond("queued INCR", is_str(tc_cmd(l, "INCR", "r:tx1"), "QUEUED"));
    test_cond("queued EXPIRE", is_str(tc_cmd(l, "EXPIRE", "r:tx1", "500"), "QUEUED"));
    resp_value *r = tc_cmd(l, "EXEC");
    test_cond("EXEC answers the three replies",
              r && r->type == RESP_T_ARRAY && r->nelem == 3 && r->elem[1]->type == RESP_T_INT &&
                  r->elem[1]->integer == 2 && r->elem[2]->integer == 1);
    resp_value_free(r);
    test_cond("PERSIST", is_int(tc_cmd(l, "PERSIST", "r:pxat"), 1));
    test_cond("DEL of three, two present", is_int(tc_cmd(l, "DEL", "r:m1", "r:m4", "r:no"), 2));
    test_cond("followers applied it all", cl_followers_applied(c, l));

    each_node_str(c, "INCR result", NULL, "r:n", "42");
    each_node_str(c, "INCRBYFLOAT result", NULL, "r:f", "2.5");
    each_node_str(c, "APPEND result", NULL, "r:ex", "vw");
    each_node_str(c, "transaction result", NULL, "r:tx1", "2");
    each_node_str(c, "deleted by DEL", NULL, "r:m1", NULL);
    each_node_str(c, "renamed away", NULL, "r:m3", NULL);
    each_node_str(c, "COPY in db 2", "2", "r:c", "a");
    each_node_str(c, "db 3 key", "3", "r:db3", "three");
    each_node_str(c, "db 3 key not in db 0", "0", "r:db3", NULL);
    each_node_str(c, "db 5 flushed", "5", "r:db5", NULL);
    for (int i = 0; i < CL_NODES; i++) {
        tclient *t = cl_connect(c, i);
        long long ttl = int_of(tc_cmd(t, "TTL", "r:ex"));
        long long txttl = int_of(tc_cmd(t, "TTL", "r:tx1"));
        char d[96];
        snprintf(d, sizeof d, "node %d: TTLs travelled (%lld, %lld)", i, ttl, txttl);
        test_cond(d, ttl > 990 && ttl <= 1000 && txttl > 490 && txttl <= 500);
        snprintf(d, sizeof d, "node %d: PERSIST travelled", i);
        test_cond(d, is_int(tc_cmd(t, "TTL", "r:pxat"), -1));
        snprintf(d, sizeof d, "node %d: SETRANGE zero-padded", i);
        r = tc_cmd(t, "GET", "r:sr");
        test_cond(d, r && r->len == 6 && memcmp(r->str, "\0\0\0abc", 6) == 0);
        resp_value_free(r);
        tc_close(t);
    }
    test_cond("digests equal on all nodes", cl_converged(c));
    tc_close(l);
}

/* ---- 2. INCR exactness ---- */

typedef struct incr_job {
    int port, depth;
    long long *replies; /* INCR_EACH */
    int ok;
} incr_job;

static void *incr_thread(void *arg)
{
    incr_job *j = arg;
    tclient *t = tc_connect("127.0.0.1", j->port, 20000);
    if (!t) return NULL;
    const char cmd[] = "*2\r\n$4\r\nINCR\r\n$3\r\nhot\r\n";
    int sent = 0, got = 0;
    j->ok = 1;
    while (got < INCR_EACH && j->ok) {
        while (sent < INCR_EACH && sent - got < j->depth) {
            if (tc_send_raw(t, cmd, sizeof cmd - 1) < 0) j->ok = 0;
            sent++;
        }
        resp_value *r = tc_read(t);
        if (!r || r->type != RESP_T_INT)
            j->ok = 0;
        else
            j->replies[got++] = r->integer;
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

static void run_incr(cluster *c, int depth, long long base)
{
    pthread_t th[INCR_CLIENTS];
    incr_job jobs[INCR_CLIENTS];
    long long *all = calloc(INCR_CLIENTS * INCR_EACH, sizeof *all);
    int started = 0;
    for (int i = 0; i < INCR_CLIENTS; i++) {
        jobs[i] = (incr_job){.port = c->n[0].port, .depth = depth, .replies = all + i * INCR_EACH};
        if (pthread_create(&th[i], NULL, incr_thread, &jobs[i]) == 0) started++;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    int ok = started == INCR_CLIENTS, mono = 1;
    for (int i = 0; i < INCR_CLIENTS; i++) {
        ok &= jobs[i].ok;
        for (int k = 1; k < INCR_EACH; k++) mono &= jobs[i].replies[k] > jobs[i].replies[k - 1];
    }
    char d[128];
    snprintf(d, sizeof d, "%d clients x %d INCRs (depth %d) all answered", INCR_CLIENTS,
             INCR_EACH, depth);
    test_cond(d, ok);
    test_cond("each client's replies increase", mono);
    qsort(all, INCR_CLIENTS * INCR_EACH, sizeof *all, cmp_ll);
    int exact = 1;
    for (long k = 0; k < INCR_CLIENTS * INCR_EACH; k++) exact &= all[k] == base + k + 1;
    test_cond("the replies are exactly the values base+1 .. base+50000, each once", exact);
    free(all);
    tclient *l = cl_connect(c, 0);
    test_cond("followers applied every INCR", cl_followers_applied(c, l));
    tc_close(l);
    char want[32];
    snprintf(want, sizeof want, "%lld", base + INCR_CLIENTS * INCR_EACH);
    each_node_str(c, "the hot key holds the exact count", NULL, "hot", want);
}

static void test_incr(cluster *c)
{
    test_section("50 clients x 1000 INCR on one key: exact on every node");
    run_incr(c, 1, 0);
    run_incr(c, 16, INCR_CLIENTS * INCR_EACH);
    test_cond("digests equal on all nodes", cl_converged(c));
}

/* ---- 3. expiry ---- */

typedef struct key_gone {
    cluster *c;
    int node;
    const char *key;
} key_gone;

static int dbsize_zero_db(void *ctx)
{
    key_gone *g = ctx;
    tclient *t = cl_connect(g->c, g->node);
    resp_value_free(tc_cmd(t, "SELECT", "7"));
    long long n = int_of(tc_cmd(t, "DBSIZE"));
    tc_close(t);
    return n == 0;
}

static void test_expiry(cluster *c)
{
    test_section("expiry: absent when past, deleted by the leader, never served after");
    tclient *l = cl_connect(c, 0);
    resp_value_free(tc_cmd(l, "SELECT", "7"));
    test_cond("SET PX 400", is_str(tc_cmd(l, "SET", "x:short", "v", "PX", "400"), "OK"));
    test_cond("SET EX 1000", is_str(tc_cmd(l, "SET", "x:long", "v", "EX", "1000"), "OK"));
    test_cond("followers have both", cl_followers_applied(c, l));
    for (int i = 0; i < CL_NODES; i++) {
        tclient *t = cl_connect(c, i);
        resp_value_free(tc_cmd(t, "SELECT", "7"));
        long long p = int_of(tc_cmd(t, "PTTL", "x:short"));
        char d[80];
        snprintf(d, sizeof d, "node %d: PTTL in (0, 400] (%lld)", i, p);
        test_cond(d, p > 0 && p <= 400);
        tc_close(t);
    }
    /* Freeze the leader: followers must stop serving the key by themselves. */
    test_cond("leader frozen", cl_signal(c, 0, SIGSTOP) == 0);
    long long t0 = proc_now_ms();
    while (proc_now_ms() - t0 < 600) {
        tclient *t = cl_connect(c, 1);
        tc_close(t);
    }
    for (int i = 1; i < CL_NODES; i++) {
        tclient *t = cl_connect(c, i);
        resp_value_free(tc_cmd(t, "SELECT", "7"));
        char d[96];
        snprintf(d, sizeof d, "node %d (leader frozen): the expired key reads as absent", i);
        test_cond(d, is_nil(tc_cmd(t, "GET", "x:short")));
        snprintf(d, sizeof d, "node %d: EXISTS 0 and TTL -2", i);
        test_cond(d, is_int(tc_cmd(t, "EXISTS", "x:short"), 0) &&
                         is_int(tc_cmd(t, "TTL", "x:short"), -2));
        snprintf(d, sizeof d, "node %d: but it still holds it (followers never delete)", i);
        test_cond(d, is_int(tc_cmd(t, "DBSIZE"), 2));
        tc_close(t);
    }
    test_cond("leader resumes", cl_signal(c, 0, SIGCONT) == 0);
    test_cond("DEL x:long", is_int(tc_cmd(l, "DEL", "x:long"), 1));
    for (int i = 0; i < CL_NODES; i++) {
        key_gone g = {c, i, "x:short"};
        char d[96];
        snprintf(d, sizeof d, "node %d: the leader's active expiry deleted it (DBSIZE 0)", i);
        test_cond(d, proc_wait_until(dbsize_zero_db, &g, 5000));
    }
    long long expired = cl_info_ll(l, "stats", "expired_keys");
    test_cond("INFO stats expired_keys counts it", expired >= 1);
    test_cond("digests equal on all nodes", cl_converged(c));

    /* Restart: a key that expires while the node is down is not served. */
    test_cond("SET PX 1500 before a restart",
              is_str(tc_cmd(l, "SET", "x:restart", "v", "PX", "1500"), "OK"));
    test_cond("SET EX 1000 before a restart",
              is_str(tc_cmd(l, "SET", "x:keeps", "v", "EX", "1000"), "OK"));
    test_cond("followers have them", cl_followers_applied(c, l));
    tc_close(l);
    test_cond("follower node 2 killed", cl_signal(c, 2, SIGKILL) == 128 + SIGKILL);
    long long t1 = proc_now_ms();
    while (proc_now_ms() - t1 < 1700) {
        tclient *t = cl_connect(c, 1);
        tc_close(t);
    }
    test_cond("node 2 restarts", cl_start_node(c, 2) == 0);
    tclient *f = cl_connect(c, 2);
    resp_value_free(tc_cmd(f, "SELECT", "7"));
    test_cond("restarted node does not serve the expired key", is_nil(tc_cmd(f, "GET", "x:restart")));
    test_cond("node 2 back online", cl_wait_follower_online(c, 1, 1, 10000));
    l = cl_connect(c, 0);
    test_cond("and caught up", cl_followers_applied(c, l));
    tc_close(l);
    test_cond("still not served once caught up", is_nil(tc_cmd(f, "GET", "x:restart")));
    long long ttl = int_of(tc_cmd(f, "TTL", "x:keeps"));
    test_cond("restarted node keeps the other key's TTL", ttl > 990 && ttl <= 1000);
    tc_close(f);
}

/* ---- 4. rejoin by WAL and by snapshot ---- */

static void write_volatile(tclient *l, const char *prefix, int n)
{
    char cmd[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        char k[64];
        int kl = snprintf(k, sizeof k, "%s%d", prefix, i);
        len += (size_t)snprintf(cmd + len, sizeof cmd - len,
                                "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\n900\r\n",
                                kl, k);
        if (len > sizeof cmd - 200 || i == n - 1) {
            tc_send_raw(l, cmd, len);
            len = 0;
        }
    }
    for (int i = 0; i < n; i++) resp_value_free(tc_read(l));
}

static void check_volatile(cluster *c, int node, const char *prefix, int n)
{
    tclient *t = cl_connect(c, node);
    int ok = t != NULL;
    for (int i = 0; i < n && ok; i += n / 10) {
        char k[64];
        snprintf(k, sizeof k, "%s%d", prefix, i);
        long long ttl = int_of(tc_cmd(t, "TTL", k));
        ok = ttl > 800 && ttl <= 900;
        if (!ok) printf("   node %d %s TTL %lld\n", node, k, ttl);
    }
    char d[96];
    snprintf(d, sizeof d, "node %d: keys of %s kept their expiries", node, prefix);
    test_cond(d, ok);
    tc_close(t);
}

static int bgsave_done(void *ctx)
{
    tclient *t = ctx;
    return cl_info_ll(t, "persistence", "checkpoint_in_progress") == 0;
}

static void test_rejoin(cluster *c)
{
    test_section("expiries and transactions reach followers that rejoin by WAL and by snapshot");
    tclient *l = cl_connect(c, 0);
    test_cond("follower node 1 killed", cl_signal(c, 1, SIGKILL) == 128 + SIGKILL);
    write_volatile(l, "wal:", 2000);
    test_cond("MULTI", is_str(tc_cmd(l, "MULTI"), "OK"));
    resp_value_free(tc_cmd(l, "SET", "wal:tx", "a"));
    resp_value_free(tc_cmd(l, "PEXPIRE", "wal:tx", "900000"));
    resp_value_free(tc_cmd(l, "EXEC"));
    test_cond("node 1 restarts", cl_start_node(c, 1) == 0);
    test_cond("node 1 back online", cl_wait_follower_online(c, 0, 1, 10000));
    test_cond("all caught up", cl_wait_caught_up(c, CONVERGE_MS));
    check_volatile(c, 1, "wal:", 2000);
    test_cond("digests equal after the WAL rejoin", cl_converged(c));

    long long snaps = cl_follower_ll(l, 1, "catchup_snapshot");
    test_cond("follower node 2 killed", cl_signal(c, 2, SIGKILL) == 128 + SIGKILL);
    write_volatile(l, "snap:", 3000);
    test_cond("50k writes push its next record out of the leader's WAL",
              cl_pipeline_set(l, "snapfill:", 0, 50000, 256, NULL) == 50000);
    resp_value_free(tc_cmd(l, "BGSAVE"));
    test_cond("checkpoint written", proc_wait_until(bgsave_done, l, 20000));
    test_cond("node 2 restarts", cl_start_node(c, 2) == 0);
    test_cond("node 2 back online", cl_wait_follower_online(c, 1, 1, 20000));
    test_cond("all caught up", cl_wait_caught_up(c, CONVERGE_MS));
    long long snaps2 = cl_follower_ll(l, 1, "catchup_snapshot");
    printf("follower1 catchup_snapshot %lld -> %lld\n", snaps, snaps2);
    test_cond("node 2 came back by snapshot", snaps2 > snaps);
    check_volatile(c, 2, "snap:", 3000);
    check_volatile(c, 2, "wal:", 2000);
    test_cond("digests equal after the snapshot rejoin", cl_converged(c));
    tc_close(l);
}

/* ---- 5. atomicity under kill -9 ---- */

typedef struct tx_load {
    int port;
    volatile int stop;
    long acked; /* transactions acknowledged */
    long sent;
} tx_load;

static void *tx_thread(void *arg)
{
    tx_load *x = arg;
    tclient *t = tc_connect("127.0.0.1", x->port, 5000);
    if (!t) return NULL;
    for (long i = 0; !x->stop; i++) {
        char buf[4096];
        size_t len = 0;
        char v[32];
        int vl = snprintf(v, sizeof v, "%ld", i);
        if (i % 2 == 0) { /* MULTI with 10 SETs */
            len += (size_t)snprintf(buf + len, sizeof buf - len, "*1\r\n$5\r\nMULTI\r\n");
            for (int k = 0; k < TX_KEYS; k++) {
                char key[64];
                int kl = snprintf(key, sizeof key, "tx:%ld:%d", i, k);
                len += (size_t)snprintf(buf + len, sizeof buf - len,
                                        "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl, key,
                                        vl, v);
            }
            len += (size_t)snprintf(buf + len, sizeof buf - len, "*1\r\n$4\r\nEXEC\r\n");
        } else { /* one MSET of 10 keys */
            len += (size_t)snprintf(buf + len, sizeof buf - len, "*%d\r\n$4\r\nMSET\r\n",
                                    1 + 2 * TX_KEYS);
            for (int k = 0; k < TX_KEYS; k++) {
                char key[64];
                int kl = snprintf(key, sizeof key, "tx:%ld:%d", i, k);
                len += (size_t)snprintf(buf + len, sizeof buf - len, "$%d\r\n%s\r\n$%d\r\n%s\r\n",
                                        kl, key, vl, v);
            }
        }
        x->sent = i + 1;
        if (tc_send_raw(t, buf, len) < 0) break;
        int replies = i % 2 == 0 ? TX_KEYS + 2 : 1, good = 1;
        for (int k = 0; k < replies; k++) {
            resp_value *r = tc_read(t);
            if (!r) {
                good = -1;
                break;
            }
            if (k == replies - 1 && !(r->type == RESP_T_ARRAY || r->type == RESP_T_STATUS))
                good = 0;
            resp_value_free(r);
        }
        if (good < 0) break;
        if (good) x->acked = i + 1;
    }
    tc_close(t);
    return NULL;
}

/* Every transaction 0..SENT-1 whole or absent on node I, the acked ones whole. */
static void check_atomic(cluster *c, int node, long sent, long acked)
{
    tclient *t = cl_connect(c, node);
    long torn = 0, lost = 0, whole = 0;
    for (long i = 0; t && i < sent; i++) {
        int have = 0;
        for (int k = 0; k < TX_KEYS; k++) {
            char key[64];
            snprintf(key, sizeof key, "tx:%ld:%d", i, k);
            resp_value *r = tc_cmd(t, "EXISTS", key);
            have += r && r->type == RESP_T_INT && r->integer == 1;
            resp_value_free(r);
        }
        if (have != 0 && have != TX_KEYS) torn++;
        if (have == TX_KEYS) whole++;
        if (i < acked && have != TX_KEYS) lost++;
    }
    char d[128];
    snprintf(d, sizeof d, "node %d: no transaction or MSET applied in part (%ld whole of %ld sent)",
             node, whole, sent);
    test_cond(d, t && torn == 0);
    snprintf(d, sizeof d, "node %d: every acknowledged one is there (%ld acked)", node, acked);
    test_cond(d, t && lost == 0);
    tc_close(t);
}

static void test_atomic_kill(cluster *c)
{
    test_section("kill -9 of the leader mid-EXEC: all or nothing on every node");
    tx_load x = {.port = c->n[0].port};
    pthread_t th;
    test_cond("load starts", pthread_create(&th, NULL, tx_thread, &x) == 0);
    long long t0 = proc_now_ms();
    while (x.acked < 300 && proc_now_ms() - t0 < 20000) {
        tclient *p = cl_connect(c, 1);
        tc_close(p);
    }
    test_cond("300 transactions acknowledged before the kill", x.acked >= 300);
    test_cond("leader killed with SIGKILL", cl_signal(c, 0, SIGKILL) == 128 + SIGKILL);
    x.stop = 1;
    pthread_join(th, NULL);
    test_cond("leader restarts (its WAL recovers, a torn tail dropped)", cl_start_node(c, 0) == 0);
    test_cond("followers back", cl_wait_online(c, 2, 20000));
    test_cond("all caught up", cl_wait_caught_up(c, CONVERGE_MS));
    for (int i = 0; i < CL_NODES; i++) check_atomic(c, i, x.sent, x.acked);
    test_cond("digests equal on all nodes", cl_converged(c));
}

/* ---- 6. SCAN completeness ---- */

static void test_scan(cluster *c)
{
    test_section("SCAN returns every key present for the whole scan while the table grows");
    tclient *l = cl_connect(c, 0);
    resp_value_free(tc_cmd(l, "SELECT", "9"));
    test_cond("FLUSHDB 9", is_str(tc_cmd(l, "FLUSHDB"), "OK"));
    char buf[256];
    for (int i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf, "scan:%d", i);
        resp_value_free(tc_cmd(l, "SET", buf, "v"));
    }
    unsigned char *seen = calloc(3000, 1);
    unsigned long long cursor = 0;
    int calls = 0, grew = 0;
    long inserted = 0;
    do {
        char cs[32];
        snprintf(cs, sizeof cs, "%llu", cursor);
        resp_value *r = tc_cmd(l, "SCAN", cs, "COUNT", "20");
        if (!r || r->type != RESP_T_ARRAY || r->nelem != 2) {
            resp_value_free(r);
            break;
        }
        cursor = strtoull(r->elem[0]->str, NULL, 10);
        for (size_t i = 0; i < r->elem[1]->nelem; i++) {
            const char *k = r->elem[1]->elem[i]->str;
            if (strncmp(k, "scan:", 5) == 0) seen[atoi(k + 5)] = 1;
        }
        resp_value_free(r);
        calls++;
        /* Between SCAN calls, 200 new keys in the same database. */
        if (calls % 2 == 0 && inserted < 40000) {
            size_t len = 0;
            static char pipe[200 * 64];
            for (int j = 0; j < 200; j++, inserted++) {
                char k[32];
                int kl = snprintf(k, sizeof k, "grow:%ld", inserted);
                len += (size_t)snprintf(pipe + len, sizeof pipe - len,
                                        "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", kl, k);
            }
            tc_send_raw(l, pipe, len);
            for (int j = 0; j < 200; j++) resp_value_free(tc_read(l));
            grew = 1;
        }
    } while (cursor != 0 && calls < 100000);
    long missing = 0;
    for (int i = 0; i < 3000; i++) missing += !seen[i];
    printf("SCAN: %d calls, %ld keys inserted during the scan, %ld of 3000 missed\n", calls,
           inserted, missing);
    test_cond("the scan finished (cursor 0)", cursor == 0);
    test_cond("keys were inserted during the scan (the table grew)", grew && inserted >= 4000);
    test_cond("every key present for the whole scan was returned", missing == 0);
    free(seen);
    tc_close(l);
}

/* ---- 7. WATCH, follower refusals ---- */

static void test_watch(cluster *c)
{
    test_section("WATCH: another client's write and an expiry fail the EXEC");
    tclient *a = cl_connect(c, 0), *b = cl_connect(c, 0);
    test_cond("SET w", is_str(tc_cmd(a, "SET", "w", "1"), "OK"));
    test_cond("WATCH w", is_str(tc_cmd(a, "WATCH", "w"), "OK"));
    test_cond("another client writes w", is_str(tc_cmd(b, "SET", "w", "2"), "OK"));
    test_cond("MULTI", is_str(tc_cmd(a, "MULTI"), "OK"));
    test_cond("queued", is_str(tc_cmd(a, "SET", "w", "3"), "QUEUED"));
    resp_value *r = tc_cmd(a, "EXEC");
    test_cond("EXEC answers nil", r && (r->type == RESP_T_NIL || (r->type == RESP_T_ARRAY && r->nelem == (size_t)-1)));
    resp_value_free(r);
    test_cond("the other client's value stands", is_str(tc_cmd(a, "GET", "w"), "2"));
    test_cond("SET wx PX 200", is_str(tc_cmd(a, "SET", "wx", "1", "PX", "200"), "OK"));
    test_cond("WATCH wx", is_str(tc_cmd(a, "WATCH", "wx"), "OK"));
    long long t0 = proc_now_ms();
    while (proc_now_ms() - t0 < 300) {
        tclient *p = cl_connect(c, 1);
        tc_close(p);
    }
    test_cond("MULTI", is_str(tc_cmd(a, "MULTI"), "OK"));
    test_cond("queued", is_str(tc_cmd(a, "SET", "wx", "3"), "QUEUED"));
    r = tc_cmd(a, "EXEC");
    test_cond("EXEC after the watched key expired answers nil", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    test_cond("WATCH, no change: EXEC runs", is_str(tc_cmd(a, "WATCH", "w"), "OK") &&
                                                   is_str(tc_cmd(a, "MULTI"), "OK") &&
                                                   is_str(tc_cmd(a, "INCR", "w"), "QUEUED"));
    r = tc_cmd(a, "EXEC");
    test_cond("EXEC answers [3]", r && r->type == RESP_T_ARRAY && r->nelem == 1 &&
                                      r->elem[0]->integer == 3);
    resp_value_free(r);
    tc_close(a);
    tc_close(b);

    tclient *f = cl_connect(c, 1);
    test_cond("follower: INCR is READONLY", is_err(tc_cmd(f, "INCR", "w"), "READONLY"));
    test_cond("follower: MULTI", is_str(tc_cmd(f, "MULTI"), "OK"));
    test_cond("follower: a queued write is refused", is_err(tc_cmd(f, "SET", "w", "x"), "READONLY"));
    test_cond("follower: EXEC answers EXECABORT", is_err(tc_cmd(f, "EXEC"), "EXECABORT"));
    test_cond("follower: a read-only transaction runs", is_str(tc_cmd(f, "MULTI"), "OK") &&
                                                           is_str(tc_cmd(f, "GET", "w"), "QUEUED"));
    r = tc_cmd(f, "EXEC");
    test_cond("follower: EXEC answers [\"3\"]", r && r->type == RESP_T_ARRAY && r->nelem == 1 &&
                                                  r->elem[0]->str && strcmp(r->elem[0]->str, "3") == 0);
    resp_value_free(r);
    tc_close(f);
}

int main(void)
{
    cl_watchdog(420);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    const char *lf[] = {"--wal-retain-bytes", "0", "--wal-segment-bytes", "65536",
                        "--checkpoint-every-bytes", "262144", NULL};
    for (int i = 0; lf[i]; i++) o.leader_extra[i] = lf[i];
    if (cl_start(&c, "strings", &o) != 0 || !cl_wait_online(&c, 2, 10000)) {
        test_cond("cluster starts with both followers online", 0);
        cl_stop(&c, 1);
        return test_report();
    }
    test_replication(&c);
    test_incr(&c);
    test_expiry(&c);
    test_watch(&c);
    test_scan(&c);
    test_rejoin(&c);
    test_atomic_kill(&c);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
