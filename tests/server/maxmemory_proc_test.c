/* maxmemory_proc_test.c -- --maxmemory and its policies on a real
 * three-node cluster (issue 14):
 *
 *  1. noeviction: a leader filled past its limit refuses writes with
 *     Redis's -OOM text, while reads, DEL and EXPIRE go on; MULTI with a
 *     write aborts, INCR is refused; every write acknowledged before is on
 *     every node, and followers (which apply, never enforce) hold the same;
 *  2. allkeys-lru: writing three times the limit on top never fails, the
 *     leader's used_memory stays near the limit, keys read all along (hot)
 *     survive, the evictions reach the followers (equal digests and sizes);
 *  3. volatile-ttl: only keys with an expiry are evicted, the nearest
 *     expiry first; once none is left, writes are refused again;
 *  4. allkeys-random: writes go on; CONFIG GET / SET of the settings;
 *  5. an elected cluster under allkeys-lru whose leader is killed mid-load:
 *     the new leader evicts in its turn, writes never fail past the
 *     election, and every node ends with the same keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>

#include "../common/cluster.h"
#include "../common/ecluster.h"
#include "../common/expect.h"
#include "../testhelp.h"

#define LIMIT_MB 16
#define LIMIT_BYTES ((long long)LIMIT_MB << 20)
#define VAL_LEN 1000
#define DEPTH 32
#define FILL_MAX 200000 /* keys written at most by one fill */
#define HOT 20
#define OOM_TEXT "OOM command not allowed when used memory > 'maxmemory'."

static char val[VAL_LEN + 1];

/* Writes PREFIX<from..from+max) pipelined DEPTH deep (EX ttl_base+i when
 * TTL_BASE > 0) and stops after the batch in which the first error came.
 * status[i] = 'O' acknowledged, 'E' error, 0 not sent. Every HOT_EVERY
 * writes the hot keys are read (0: never). Returns the writes acknowledged;
 * *errors the error replies, *first_err the first one's text. */
static long fill(tclient *t, const char *prefix, long max, long ttl_base, char *status,
                 int hot_every, long *errors, char *first_err, size_t errlen)
{
    static char buf[DEPTH * (VAL_LEN + 128)];
    long acked = 0;
    *errors = 0;
    first_err[0] = 0;
    for (long i = 0; i < max && *errors == 0; i += DEPTH) {
        size_t len = 0;
        long batch = max - i < DEPTH ? max - i : DEPTH;
        for (long j = 0; j < batch; j++) {
            char key[64], ttl[32];
            int kl = snprintf(key, sizeof key, "%s%ld", prefix, i + j);
            if (ttl_base > 0) {
                int tl = snprintf(ttl, sizeof ttl, "%ld", ttl_base + i + j);
                len += (size_t)sprintf(buf + len, "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$%d\r\n%s\r\n",
                                       kl, key, VAL_LEN, val, tl, ttl);
            } else {
                len += (size_t)sprintf(buf + len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl,
                                       key, VAL_LEN, val);
            }
        }
        if (tc_send_raw(t, buf, len) != 0) return -1;
        for (long j = 0; j < batch; j++) {
            resp_value *r = tc_read(t);
            if (!r) return -1;
            int ok = r->type == RESP_T_STATUS;
            if (ok) {
                acked++;
            } else {
                if (!*errors) snprintf(first_err, errlen, "%s", r->str ? r->str : "?");
                ++*errors;
            }
            status[i + j] = ok ? 'O' : 'E';
            resp_value_free(r);
        }
        if (hot_every && (i / DEPTH) % hot_every == 0)
            for (int h = 0; h < HOT; h++) {
                char key[32];
                snprintf(key, sizeof key, "hot:%d", h);
                resp_value_free(tc_cmd(t, "GET", key));
            }
    }
    return acked;
}


/* Keys PREFIX<i> with status 'O' that node I does not hold. */
static long missing_on(cluster *c, int i, const char *prefix, const char *status, long n)
{
    tclient *t = cl_connect(c, i);
    if (!t) return n;
    long missing = 0;
    for (long k = 0; k < n; k++) {
        if (status[k] != 'O') continue;
        char key[64];
        snprintf(key, sizeof key, "%s%ld", prefix, k);
        resp_value *r = tc_cmd(t, "STRLEN", key);
        if (!r || r->type != RESP_T_INT || r->integer != VAL_LEN) missing++;
        resp_value_free(r);
    }
    tc_close(t);
    return missing;
}

static int exists(tclient *t, const char *prefix, long k)
{
    char key[64];
    snprintf(key, sizeof key, "%s%ld", prefix, k);
    resp_value *r = tc_cmd(t, "EXISTS", key);
    int e = r && r->type == RESP_T_INT && r->integer == 1;
    resp_value_free(r);
    return e;
}

static long long dbsize(cluster *c, int i)
{
    tclient *t = cl_connect(c, i);
    long long v = t ? expect_int_of(tc_cmd(t, "DBSIZE")) : -1;
    tc_close(t);
    return v;
}

static void test_noeviction(cluster *c, tclient *l, char *status)
{
    test_section("noeviction: writes refused at the limit, nothing acknowledged lost");
    long errors;
    char err[256];
    long acked = fill(l, "k:", FILL_MAX, 0, status, 0, &errors, err, sizeof err);
    printf("   %ld writes acknowledged before the limit (%d MiB, %d-byte values)\n", acked,
           LIMIT_MB, VAL_LEN);
    test_cond("the leader refuses writes past the limit", errors > 0);
    test_cond("with Redis's -OOM text", strcmp(err, OOM_TEXT) == 0);
    test_cond("after a plausible number of writes (limit / value size)",
              acked > LIMIT_BYTES / (4 * VAL_LEN) && acked < LIMIT_BYTES / VAL_LEN);
    /* Memory moves as the last writes commit (their pending copies are
     * freed): a limit of half what is used makes every check below land
     * past it, whatever the last write left. */
    long long used = cl_info_ll(l, "memory", "used_memory");
    char half[32];
    snprintf(half, sizeof half, "%lld", used / 2);
    test_cond("CONFIG SET maxmemory to half of used_memory",
              used > 0 && expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory", half), "OK"));
    test_cond("another SET: -OOM", expect_err(tc_cmd(l, "SET", "one-more", "v"), OOM_TEXT));
    test_cond("INCR: -OOM", expect_err(tc_cmd(l, "INCR", "counter"), "OOM "));
    test_cond("GET goes on", expect_int(tc_cmd(l, "STRLEN", "k:0"), VAL_LEN));
    test_cond("EXPIRE goes on", expect_int(tc_cmd(l, "EXPIRE", "k:1", "100000"), 1));
    test_cond("MULTI", expect_str(tc_cmd(l, "MULTI"), "OK"));
    test_cond("a SET queued under OOM: -OOM", expect_err(tc_cmd(l, "SET", "x", "y"), "OOM "));
    test_cond("its EXEC aborts",
              expect_err(tc_cmd(l, "EXEC"), "EXECABORT Transaction discarded because of previous errors."));
    test_cond("followers caught up", cl_followers_applied(c, l));
    for (int i = 0; i < CL_NODES; i++) {
        char what[96];
        snprintf(what, sizeof what, "node %d holds every acknowledged key", i);
        test_cond(what, missing_on(c, i, "k:", status, acked + errors + DEPTH) == 0);
    }
    test_cond("every node holds the same (digests, sizes)", cl_converged(c));
    tclient *f = cl_connect(c, 1);
    test_cond("a follower serves reads under the leader's OOM",
              f && expect_int(tc_cmd(f, "STRLEN", "k:0"), VAL_LEN));
    tc_close(f);
    char dels[16][16];
    const char *argv[17] = {"DEL"};
    for (int k = 0; k < 16; k++) {
        snprintf(dels[k], sizeof dels[k], "k:%d", 100 + k);
        argv[k + 1] = dels[k];
        status[100 + k] = 'D';
    }
    resp_value *r = tc_cmdv(l, 17, argv, NULL);
    test_cond("DEL goes on under OOM", expect_int(r, 16));
    test_cond("oom_rejected counted", cl_info_ll(l, "stats", "oom_rejected") >= 2);
    snprintf(half, sizeof half, "%lld", LIMIT_BYTES);
    test_cond("CONFIG SET maxmemory back", expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory", half), "OK"));
}

typedef struct under_ctx {
    tclient *t;
    long long limit;
} under_ctx;

static int under_limit(void *arg)
{
    under_ctx *u = arg;
    long long used = cl_info_ll(u->t, "memory", "used_memory");
    long long keep = cl_info_ll(u->t, "memory", "mem_not_counted_for_evict");
    return used > 0 && keep >= 0 && used - keep <= u->limit;
}

static void test_lru(cluster *c, tclient *l, char *status)
{
    test_section("allkeys-lru: writes go on, memory stays at the limit, hot keys stay");
    test_cond("CONFIG SET maxmemory-policy allkeys-lru",
              expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru"), "OK"));
    for (int h = 0; h < HOT; h++) { /* allowed: eviction makes room first */
        char key[32];
        snprintf(key, sizeof key, "hot:%d", h);
        resp_value_free(tc_cmd(l, "SET", key, "hot"));
    }
    long errors;
    char err[256];
    long n = 3 * LIMIT_BYTES / VAL_LEN;
    memset(status, 0, FILL_MAX);
    long acked = fill(l, "lru:", n, 0, status, 4, &errors, err, sizeof err);
    test_cond("three times the limit written without one error", acked == n && errors == 0);
    if (errors) printf("   first error: %s\n", err);
    long long evicted = cl_info_ll(l, "stats", "evicted_keys");
    printf("   evicted %lld keys; dbsize %lld\n", evicted, dbsize(c, 0));
    test_cond("keys were evicted", evicted > n / 2);
    long long used = cl_info_ll(l, "memory", "used_memory");
    printf("   used_memory %lld of %lld\n", used, LIMIT_BYTES);
    test_cond("used_memory stays within 10% of the limit", used > 0 && used < LIMIT_BYTES * 11 / 10);
    int hot_left = 0;
    for (int h = 0; h < HOT; h++) hot_left += exists(l, "hot:", h);
    printf("   %d of %d hot keys left\n", hot_left, HOT);
    test_cond("keys read all along survive (LRU)", hot_left >= HOT * 3 / 4);
    long early = 0;
    for (long k = 0; k < 1000; k++) early += exists(l, "lru:", k);
    printf("   %ld of the first 1000 keys written left\n", early);
    test_cond("the oldest untouched keys went first", early < 500);
    test_cond("followers caught up", cl_followers_applied(c, l));
    test_cond("evictions reached every node (digests, sizes)", cl_converged(c));

    /* A lower limit with no write coming: the leader evicts on its own. */
    long long before = dbsize(c, 0);
    char half[32];
    snprintf(half, sizeof half, "%lld", LIMIT_BYTES / 2);
    test_cond("CONFIG SET maxmemory to half", expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory", half), "OK"));
    under_ctx u = {l, LIMIT_BYTES / 2};
    test_cond("without a write, the leader evicts down to the new limit (less the log and "
              "replication buffers, which eviction leaves out)",
              proc_wait_until(under_limit, &u, 10000));
    printf("   %lld keys before, %lld after\n", before, dbsize(c, 0));
    test_cond("about half the keys went", dbsize(c, 0) < before * 3 / 4);
    /* The cron may still evict a little after the limit is met: the nodes
     * must agree once it rests, not at one instant of its run. */
    test_cond("followers caught up and every node holds the same", cl_settled(c, l, 10000));
    snprintf(half, sizeof half, "%lld", LIMIT_BYTES);
    test_cond("CONFIG SET maxmemory back", expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory", half), "OK"));
}

static void test_volatile_ttl(cluster *c, tclient *l, char *status)
{
    test_section("volatile-ttl: only keys with an expiry go, nearest first");
    test_cond("FLUSHALL", expect_str(tc_cmd(l, "FLUSHALL"), "OK"));
    test_cond("CONFIG SET maxmemory-policy volatile-ttl",
              expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory-policy", "volatile-ttl"), "OK"));
    long errors;
    char err[256];
    memset(status, 0, FILL_MAX);
    long persist = fill(l, "p:", LIMIT_BYTES / (3 * VAL_LEN), 0, status, 0, &errors, err, sizeof err);
    test_cond("a third of the limit without expiry", errors == 0 && persist > 0);
    char *vstatus = calloc(FILL_MAX, 1);
    long n = 2 * LIMIT_BYTES / VAL_LEN;
    long vacked = fill(l, "v:", n, 100000, vstatus, 0, &errors, err, sizeof err);
    test_cond("twice the limit of keys with an expiry, without an error", vacked == n && errors == 0);
    test_cond("followers caught up", cl_followers_applied(c, l));
    test_cond("not one key without an expiry was evicted", missing_on(c, 0, "p:", status, persist) == 0);
    long near = 0, far = 0;
    for (long k = 0; k < 500; k++) {
        near += exists(l, "v:", k);
        far += exists(l, "v:", n - 1 - k);
    }
    printf("   of 500 keys: %ld with the nearest expiries left, %ld with the farthest\n", near, far);
    test_cond("the nearest expiries went first", near < far);
    /* Only keys without an expiry left to write: once the volatile ones
     * are gone too, nothing can be evicted and writes are refused. */
    memset(vstatus, 0, FILL_MAX);
    long more = fill(l, "q:", FILL_MAX, 0, vstatus, 0, &errors, err, sizeof err);
    printf("   %ld more keys without expiry before -OOM\n", more);
    test_cond("with nothing left to evict: -OOM", errors > 0 && strcmp(err, OOM_TEXT) == 0);
    test_cond("and still no key without an expiry evicted", missing_on(c, 0, "p:", status, persist) == 0);
    test_cond("followers caught up", cl_followers_applied(c, l));
    test_cond("every node holds the same", cl_converged(c));
    free(vstatus);
}

static void test_random_and_config(cluster *c, tclient *l, char *status)
{
    test_section("allkeys-random, CONFIG");
    test_cond("CONFIG SET maxmemory-policy allkeys-random",
              expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory-policy", "allkeys-random"), "OK"));
    long errors;
    char err[256];
    memset(status, 0, FILL_MAX);
    long n = LIMIT_BYTES / VAL_LEN;
    long acked = fill(l, "r:", n, 0, status, 0, &errors, err, sizeof err);
    test_cond("writes go on", acked == n && errors == 0);
    test_cond("LFU is refused with the accepted names",
              expect_err(tc_cmd(l, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
                         "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
                         "argument(s) must be one of the following: noeviction, allkeys-lru"));
    resp_value *r = tc_cmd(l, "CONFIG", "GET", "maxmemory");
    test_cond("CONFIG GET maxmemory", r && r->type == RESP_T_ARRAY && r->nelem == 2 &&
                                          r->elem[1]->str && atoll(r->elem[1]->str) == LIMIT_BYTES);
    resp_value_free(r);
    test_cond("CONFIG SET maxmemory 0: no limit", expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory", "0"), "OK"));
    test_cond("CONFIG SET maxmemory-policy noeviction",
              expect_str(tc_cmd(l, "CONFIG", "SET", "maxmemory-policy", "noeviction"), "OK"));
    test_cond("writes go on without a limit", expect_str(tc_cmd(l, "SET", "free", "v"), "OK"));
    test_cond("followers caught up", cl_followers_applied(c, l));
    test_cond("every node holds the same", cl_converged(c));
}

static void test_failover(char *status)
{
    test_section("elected, allkeys-lru: the leader killed mid-load");
    char limit[32];
    snprintf(limit, sizeof limit, "%dmb", LIMIT_MB);
    const char *extra[] = {"--maxmemory", limit, "--maxmemory-policy", "allkeys-lru", NULL};
    ecluster c;
    test_cond("elected cluster starts", ec_start(&c, "maxmemory-el", 3, extra) == 0);
    int l = ec_wait_leader(&c, 10000);
    test_cond("a leader", l >= 0);
    if (l < 0) {
        ec_stop(&c, 1);
        return;
    }
    tclient *t = ec_connect(&c, l);
    long errors;
    char err[256];
    memset(status, 0, FILL_MAX);
    long n = 2 * LIMIT_BYTES / VAL_LEN;
    long acked = t ? fill(t, "a:", n, 0, status, 0, &errors, err, sizeof err) : -1;
    test_cond("twice the limit on the first leader", acked == n);
    long long ev1 = ec_info_ll(&c, l, "evicted_keys");
    test_cond("it evicted", ev1 > 0);
    tc_close(t);
    test_cond("the leader killed", ec_signal(&c, l, SIGKILL) != -1);
    int l2 = ec_wait_leader(&c, 10000);
    test_cond("a new leader", l2 >= 0 && l2 != l);
    t = l2 >= 0 ? ec_connect(&c, l2) : NULL;
    if (t) tc_set_timeout(t, 30000);
    memset(status, 0, FILL_MAX);
    acked = t ? fill(t, "b:", n, 0, status, 0, &errors, err, sizeof err) : -1;
    test_cond("twice the limit again on the new leader, not one error", acked == n && errors == 0);
    if (errors) printf("   first error: %s\n", err);
    test_cond("the new leader evicted in its turn", l2 >= 0 && ec_info_ll(&c, l2, "evicted_keys") > 0);
    tc_close(t);
    test_cond("the old leader back", ec_start_node(&c, l) == 0);
    test_cond("every node ends with the same keys", ec_wait_converged(&c, 30000));
    test_cond("elected cluster stops cleanly", ec_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(600);
    memset(val, 'x', VAL_LEN);
    char *status = calloc(FILL_MAX, 1);
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    char limit[32];
    snprintf(limit, sizeof limit, "%dmb", LIMIT_MB);
    o.leader_extra[0] = "--maxmemory";
    o.leader_extra[1] = limit;
    o.follower_extra[0] = "--maxmemory";
    o.follower_extra[1] = limit;
    test_cond("cluster starts", status && cl_start(&c, "maxmemory", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 10000));
    tclient *l = cl_connect(&c, 0);
    test_cond("leader connected", l != NULL);
    if (l) {
        tc_set_timeout(l, 30000);
        test_noeviction(&c, l, status);
        test_lru(&c, l, status);
        test_volatile_ttl(&c, l, status);
        test_random_and_config(&c, l, status);
    }
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    test_failover(status);
    free(status);
    return test_report();
}
