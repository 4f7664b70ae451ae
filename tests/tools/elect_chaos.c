/* elect_chaos.c -- a seeded nemesis against an ELECTED rkv cluster (--peers)
 * that records every client operation and checks the history for
 * linearizability.
 *
 *   elect_chaos [--seconds S] [--seed N] [--nodes 3|5] [--history FILE]
 *               [--faults LIST|all] [--workers N] [--keys N] [--no-netns]
 *               [--strict-errors] [--tls] [--election-timeout-ms T] [--pace-us U]
 *               [--check-follower-reads] [--keep] [--net-tag TAG]
 *                                       (tests/elect_chaos.sh wraps it)
 *
 * Workers (--workers, default 4), each with its own connection, do random
 * SET k v (every value unique: "w<worker>-<n>"), GET k, and SET k v + GET k2
 * in one pipeline (the GET read behind the client's own owed write) over a
 * small keyspace (--keys, default 8), each op with a deadline. A worker finds the
 * leader by itself: it tries nodes in turn, follows the leader_id of a node
 * that answers -READONLY, and moves on after a lost connection or repeated
 * errors. Every operation goes into a history with its call and return
 * times (monotonic us) and outcome:
 *   SET +OK                       ok
 *   SET -READONLY                 fail (PROTOCOL.md: it did not happen)
 *   any other error, no reply     unknown (it may take effect later, or
 *                                 never); --strict-errors trusts PROTOCOL.md's
 *                                 table instead: TRYAGAIN, NOREPLICAS,
 *                                 MISCONF, OOM and ERR are fails, TIMEOUT and
 *                                 UNCERTAIN unknown
 * A GET goes out between two INFO replication in one pipeline; the node
 * executes the three in order, so if both INFOs say election_role:leader
 * in the same election_epoch, the GET was served by a leader and must be
 * linearizable (rkv promises lease reads on the leader). Any other GET is a
 * follower read: recorded (as a comment in the history file) and checked
 * only for phantoms (a value no write of that key had sent by then, or one
 * whose write was refused), since follower reads may be stale.
 * --check-follower-reads is the self-test of that reasoning: half the
 * follower reads go into the history as if a leader had served them, and
 * the check is expected to find them stale (not linearizable) under faults.
 *
 * The nemesis, one seeded PRNG, injects one fault at a time with a quiet
 * gap between (names for --faults):
 *   kill-leader       kill -9 the leader, leave it down 2-5 s (a new leader
 *                     must be elected meanwhile), restart it
 *   stop-leader       SIGSTOP the leader for 2.5-4 election timeouts (a new
 *                     leader must be elected), SIGCONT (it must step down)
 *   restart-all       restart every node one by one (SIGTERM or kill -9 by
 *                     a coin), a leader re-elected after each
 *   kill-follower     kill -9 a follower, restart it 1-3 s later
 *   isolate-leader    take the leader's cable down (nobody reaches it, not
 *                     even the clients), then up
 *   partition-leader  cut the leader off from every peer with the clients
 *                     still reaching it: it must stop acknowledging writes
 *                     and serving reads as leader (a stale leader shows here)
 *   split-followers   cut the followers off from each other, each still
 *                     reaching the leader
 *   partition-random  cut a random minority off from the majority
 * The last four need network namespaces (root and iproute2, netns.h: every
 * node in a namespace of its own, cabled to one bridge); without them, or
 * with --no-netns, the cluster runs on 127.0.0.1 and they are reported as
 * skipped, never silently dropped.
 *
 * At the end: everything healed, the workers stopped, exactly one leader
 * that every node agrees on (a deadline), one final read of every key from
 * it (into the history: with the linearizability check this is the check
 * that no acknowledged write was lost), every node's data equal (DEBUG
 * DIGEST and DBSIZE; the keys node by node if not), the linearizability
 * check of the whole history (tests/common/lincheck.h), no phantom follower
 * read, no node that died without the nemesis killing it, no sanitizer
 * report in a log, and every node stopping cleanly (--keep leaves the data
 * dirs and logs even then). Violations are printed
 * as they happen and again at the end; the exit status is 1 on any, and
 * the last line is "N passed, M failed, K skipped" (a skip: partition faults
 * asked for but impossible here, or a key too big to decide).
 *
 * Why it is shaped so: the process helpers (ecluster.h, proc.h), the
 * namespaces (netns.h) and the checker (lincheck.h) are shared with the
 * tests; this file holds only the workload, the nemesis and the verdict. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/ecluster.h"
#include "../common/lincheck.h"
#include "../common/netns.h"

#define EC_WORKERS_MAX 16
#define EC_WORKERS_DEFAULT 4
#define EC_KEYS_MAX 64
#define EC_KEYS_DEFAULT 8
#define EC_SECONDS_MAX 86400
#define EC_ELECTION_MS_DEFAULT 1000
#define EC_ELECTION_MS_MAX 60000
#define EC_PACE_US_DEFAULT 1000 /* pause after each op: a load two shared cores take */
#define EC_PACE_US_MAX 1000000
#define EC_QUORUM_TIMEOUT_MS 2000 /* the servers' --quorum-timeout-ms */
#define EC_OP_MS 3000             /* a client op's deadline: past the quorum timeout */
#define EC_CONNECT_MS 300
#define EC_ERRORS_BEFORE_MOVING 3   /* error replies in a row before a worker tries another node */
#define EC_NO_LEADER_PAUSE_US 50000 /* a node that names no leader: pause before the next */
#define EC_LIVENESS_MS 10000        /* a lost leader must be replaced within this */
#define EC_LEADER_WAIT_MS 5000      /* the nemesis waits this long for a leader to hit */
#define EC_FINAL_LEADER_MS 30000
#define EC_FINAL_READ_MS 10000
#define EC_CONVERGE_MS 60000
#define EC_TICK_MS 50 /* the nemesis's tick while a fault holds */
#define EC_WRITES_PER_WORKER_MAX 4000000L
#define EC_FREADS_MAX 2000000L
#define EC_VALUE_MAX 48
#define EC_FINAL_CLIENT 1000  /* client id of the final reads */
#define EC_VIOLATIONS_MAX 256 /* kept for the summary at the end */
#define EC_VIOLATION_BYTES 512
#define EC_PRINT_MAX 20         /* phantom reads printed */
#define EC_WATCHDOG_EXTRA_S 600 /* past --seconds: convergence, checks, stopping */

enum fault {
    F_KILL_LEADER,
    F_STOP_LEADER,
    F_RESTART_ALL,
    F_KILL_FOLLOWER,
    F_ISOLATE_LEADER,
    F_PARTITION_LEADER,
    F_SPLIT_FOLLOWERS,
    F_PARTITION_RANDOM,
    F_COUNT
};
static const char *const fault_names[F_COUNT] = {
    "kill-leader",    "stop-leader",      "restart-all",     "kill-follower",
    "isolate-leader", "partition-leader", "split-followers", "partition-random"};
static const int fault_needs_net[F_COUNT] = {0, 0, 0, 0, 1, 1, 1, 1};

/* ---- shared state ---- */

typedef struct fread_rec { /* a read a follower (or a node not sure it led) served */
    int client, key, node, nil;
    long long call, ret;
    char val[EC_VALUE_MAX];
} fread_rec;

typedef struct run {
    ecluster c;
    netns_net net;
    int use_net;
    lc_history *h;
    int nkeys, nworkers, strict_errors;
    int check_follower_reads; /* a self-test: follower reads go into the history too */
    long pace_us;
    atomic_int stop;
    long long t0_us;
    pthread_mutex_t mu; /* the follower reads and the violations */
    fread_rec *freads;
    long nfreads, freads_dropped;
    int violations;
    char *vmsg[EC_VIOLATIONS_MAX];
    int nvmsg;
} run;

typedef struct wlog { /* a worker's writes, by sequence number */
    long long call;
    unsigned char key, outcome;
} wlog;

typedef struct worker {
    int id;
    run *r;
    uint64_t rng;
    pthread_t th;
    int started;
    wlog *w;
    long nw, wcap;
    /* counts, read after the join */
    long writes_ok, writes_fail, writes_unknown, reads_leader, reads_follower, reads_failed,
        reads_unknown, moves, pipelined_reads;
    char stopped_why[128]; /* why it ended early ("" if it did not) */
} worker;

static run R; /* the one run (static: it is large, and the options set it) */

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long now_us(const run *r)
{
    return mono_us() - r->t0_us;
}

static double t_now(const run *r)
{
    return (double)now_us(r) / 1e6;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static long between(uint64_t *s, long lo, long hi)
{
    return lo + (long)(splitmix(s) % (uint64_t)(hi - lo + 1));
}

static void violation(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(run *r, const char *fmt, ...)
{
    char buf[EC_VIOLATION_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->mu);
    r->violations++;
    if (r->nvmsg < EC_VIOLATIONS_MAX) r->vmsg[r->nvmsg++] = strdup(buf);
    pthread_mutex_unlock(&r->mu);
    printf("elect_chaos: VIOLATION t=%.3fs %s\n", t_now(r), buf);
}

/* ---- replies ---- */

static int is_status(const resp_value *v, const char *s)
{
    return v && v->type == RESP_T_STATUS && strcmp(v->str, s) == 0;
}

static int is_error(const resp_value *v, const char *prefix)
{
    size_t n = strlen(prefix);
    return v && v->type == RESP_T_ERROR && v->len >= n && memcmp(v->str, prefix, n) == 0 &&
           (v->len == n || v->str[n] == ' ');
}

/* What a SET's reply says about whether it happened. */
static lc_outcome write_outcome(const run *r, const resp_value *v)
{
    if (!v) return LC_OUT_UNKNOWN;
    if (is_status(v, "OK")) return LC_OUT_OK;
    if (is_error(v, "READONLY")) return LC_OUT_FAIL;
    if (r->strict_errors && (is_error(v, "TRYAGAIN") || is_error(v, "NOREPLICAS") ||
                             is_error(v, "MISCONF") || is_error(v, "OOM") || is_error(v, "ERR")))
        return LC_OUT_FAIL;
    return LC_OUT_UNKNOWN;
}

typedef struct role {
    int leads;
    long long epoch;
    long long leader_id;
} role;

/* A node's role from an INFO (replication) reply. 0, or -1 if it is none. */
static int parse_role(const resp_value *v, role *out)
{
    out->leads = 0;
    out->epoch = -1;
    out->leader_id = -1;
    if (!v || v->type != RESP_T_BULK) return -1;
    char *er = info_text_field(v->str, v->len, "election_role");
    char *rr = er ? NULL : info_text_field(v->str, v->len, "role");
    char *ep = info_text_field(v->str, v->len, "election_epoch");
    /* The election's leader_id (after election_role): the follower block's
     * leader_id names the last leader that connected, of any epoch, even on
     * a node that led since and stepped down. */
    char *li = info_text_field_from(v->str, v->len, er ? "election_role:" : NULL, "leader_id");
    const char *ro = er ? er : rr;
    out->leads = ro && (strcmp(ro, "leader") == 0 || strcmp(ro, "master") == 0);
    if (ep) out->epoch = atoll(ep);
    if (li) out->leader_id = atoll(li);
    free(er);
    free(rr);
    free(ep);
    free(li);
    return ro ? 0 : -1;
}

/* The node index of leader id ID, or -1. */
static int node_of_id(const run *r, long long id)
{
    for (int i = 0; i < r->c.n; i++)
        if (r->c.nd[i].id == id) return i;
    return -1;
}

/* ---- recording ---- */

static int record(worker *w, lc_kind kind, int key, const char *value, long long call,
                  long long ret, lc_outcome out)
{
    char k[16], err[256];
    snprintf(k, sizeof k, "k%d", key);
    lc_op op = {.client = w->id,
                .kind = kind,
                .outcome = out,
                .call_us = call,
                .ret_us = ret,
                .key = k,
                .value = value,
                .del_result = -1};
    if (lc_add(w->r->h, &op, err, sizeof err) < 0) {
        violation(w->r, "worker %d could not record an operation: %s", w->id, err);
        return -1;
    }
    return 0;
}

static void record_fread(worker *w, int key, int node, const resp_value *v, long long call,
                         long long ret)
{
    run *r = w->r;
    pthread_mutex_lock(&r->mu);
    if (r->nfreads >= EC_FREADS_MAX) {
        r->freads_dropped++;
    } else {
        if (r->nfreads % 4096 == 0) {
            fread_rec *p = realloc(r->freads, (size_t)(r->nfreads + 4096) * sizeof *p);
            if (!p) {
                r->freads_dropped++;
                pthread_mutex_unlock(&r->mu);
                return;
            }
            r->freads = p;
        }
        fread_rec *f = &r->freads[r->nfreads++];
        memset(f, 0, sizeof *f);
        f->client = w->id;
        f->key = key;
        f->node = node;
        f->call = call;
        f->ret = ret;
        f->nil = v->type == RESP_T_NIL;
        if (!f->nil) snprintf(f->val, sizeof f->val, "%.*s", (int)v->len, v->str);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Room for one more write in the worker's log (before it is sent: every
 * write sent must be recorded, or the history would lie). 0 or -1. */
static int wlog_room(worker *w)
{
    if (w->nw < w->wcap) return 0;
    if (w->wcap >= EC_WRITES_PER_WORKER_MAX) {
        snprintf(w->stopped_why, sizeof w->stopped_why, "EC_WRITES_PER_WORKER_MAX writes");
        return -1;
    }
    long cap = w->wcap ? w->wcap * 2 : 4096;
    if (cap > EC_WRITES_PER_WORKER_MAX) cap = EC_WRITES_PER_WORKER_MAX;
    wlog *p = realloc(w->w, (size_t)cap * sizeof *p);
    if (!p) {
        snprintf(w->stopped_why, sizeof w->stopped_why, "out of memory for its write log");
        return -1;
    }
    w->w = p;
    w->wcap = cap;
    return 0;
}

/* ---- the workers ---- */

enum { STAY = -1, NEXT = -2 }; /* where a worker goes after an op */

static int do_write(worker *w, tclient *t, int node, int key, int *errs)
{
    run *r = w->r;
    char k[16], val[EC_VALUE_MAX];
    long seq = w->nw;
    snprintf(k, sizeof k, "k%d", key);
    snprintf(val, sizeof val, "w%d-%ld", w->id, seq);
    long long call = now_us(r);
    resp_value *v = tc_cmd(t, "SET", k, val);
    long long ret = now_us(r);
    lc_outcome out = write_outcome(r, v);
    w->w[w->nw++] = (wlog){call, (unsigned char)key, (unsigned char)out};
    if (record(w, LC_WRITE, key, val, call, ret, out) < 0) atomic_store(&r->stop, 1);
    if (out == LC_OUT_OK)
        w->writes_ok++;
    else if (out == LC_OUT_FAIL)
        w->writes_fail++;
    else
        w->writes_unknown++;
    int go = STAY;
    if (!v) {
        go = NEXT;
    } else if (is_error(v, "READONLY")) {
        resp_value *info = tc_cmd(t, "INFO", "replication");
        role ro;
        parse_role(info, &ro);
        resp_value_free(info);
        int to = node_of_id(r, ro.leader_id);
        go = to >= 0 && to != node ? to : NEXT;
        if (go == NEXT) usleep(EC_NO_LEADER_PAUSE_US); /* an election, most likely */
    } else if (v->type == RESP_T_ERROR) {
        go = ++*errs >= EC_ERRORS_BEFORE_MOVING ? NEXT : STAY;
        usleep(20000);
    } else {
        *errs = 0;
    }
    resp_value_free(v);
    return go;
}

static int do_read(worker *w, tclient *t, int node, int key, int *errs)
{
    run *r = w->r;
    char k[16];
    snprintf(k, sizeof k, "k%d", key);
    const char *info[] = {"INFO", "replication"}, *get[] = {"GET", k};
    resp_buf b = {0};
    if (resp_encode_command(&b, 2, info, NULL) || resp_encode_command(&b, 2, get, NULL) ||
        resp_encode_command(&b, 2, info, NULL)) {
        resp_buf_free(&b);
        return STAY;
    }
    long long call = now_us(r);
    resp_value *before = NULL, *v = NULL, *after = NULL;
    if (tc_send_raw(t, b.p, b.len) == 0 && (before = tc_read(t)) && (v = tc_read(t)))
        after = tc_read(t);
    long long ret = now_us(r);
    resp_buf_free(&b);
    int go = STAY;
    role r1, r2;
    int roles_ok = after && parse_role(before, &r1) == 0;
    roles_ok = parse_role(after, &r2) == 0 && roles_ok; /* r2 set even for a NULL reply */
    if (!after) {
        record(w, LC_READ, key, NULL, call, ret, LC_OUT_UNKNOWN);
        w->reads_unknown++;
        go = NEXT;
    } else if (v->type != RESP_T_BULK && v->type != RESP_T_NIL) {
        record(w, LC_READ, key, NULL, call, ret, LC_OUT_FAIL); /* e.g. -TRYAGAIN: no lease yet */
        w->reads_failed++;
        go = ++*errs >= EC_ERRORS_BEFORE_MOVING ? NEXT : STAY;
        usleep(20000);
    } else if ((roles_ok && r1.leads && r2.leads && r1.epoch == r2.epoch) ||
               (r->check_follower_reads && w->id != EC_FINAL_CLIENT &&
                splitmix(&w->rng) % 2 == 0)) {
        char val[EC_VALUE_MAX + 1] = "";
        if (v->type == RESP_T_BULK) snprintf(val, sizeof val, "%.*s", (int)v->len, v->str);
        if (record(w, LC_READ, key, v->type == RESP_T_BULK ? val : NULL, call, ret, LC_OUT_OK) < 0)
            atomic_store(&r->stop, 1);
        w->reads_leader++;
        *errs = 0;
    } else {
        record_fread(w, key, node, v, call, ret);
        w->reads_follower++;
        int to = node_of_id(r, r2.leader_id);
        if (!r2.leads) go = to >= 0 && to != node ? to : NEXT;
        if (go == NEXT) usleep(EC_NO_LEADER_PAUSE_US);
    }
    resp_value_free(before);
    resp_value_free(v);
    resp_value_free(after);
    return go;
}

/* SET k v and GET k2 in one pipeline, between two INFO replication: the
 * GET reaches the leader while the SET is still owed, so the leader answers
 * it from the proposed state and holds the reply until that state commits
 * (docs/ARCHITECTURE.md, pipelined key reads). Both go into the history as
 * overlapping operations; the GET counts as a leader read only if both INFOs
 * say leader in one epoch, as in do_read. */
static int do_write_read(worker *w, tclient *t, int node, int key, int key2, int *errs)
{
    run *r = w->r;
    char k[16], k2[16], val[EC_VALUE_MAX];
    snprintf(k, sizeof k, "k%d", key);
    snprintf(k2, sizeof k2, "k%d", key2);
    snprintf(val, sizeof val, "w%d-%ld", w->id, w->nw);
    const char *info[] = {"INFO", "replication"}, *set[] = {"SET", k, val}, *get[] = {"GET", k2};
    resp_buf b = {0};
    if (resp_encode_command(&b, 2, info, NULL) || resp_encode_command(&b, 3, set, NULL) ||
        resp_encode_command(&b, 2, get, NULL) || resp_encode_command(&b, 2, info, NULL)) {
        resp_buf_free(&b);
        return STAY;
    }
    long long call = now_us(r);
    resp_value *before = NULL, *sv = NULL, *v = NULL, *after = NULL;
    long long set_ret = 0;
    int sent = tc_send_raw(t, b.p, b.len) == 0;
    resp_buf_free(&b);
    if (sent && (before = tc_read(t)) && (sv = tc_read(t))) {
        set_ret = now_us(r);
        if ((v = tc_read(t))) after = tc_read(t);
    }
    long long ret = now_us(r);
    if (!set_ret) set_ret = ret;
    /* The write: recorded whatever came back (no reply: unknown). */
    lc_outcome out = write_outcome(r, sv);
    w->w[w->nw++] = (wlog){call, (unsigned char)key, (unsigned char)out};
    if (record(w, LC_WRITE, key, val, call, set_ret, out) < 0) atomic_store(&r->stop, 1);
    if (out == LC_OUT_OK)
        w->writes_ok++;
    else if (out == LC_OUT_FAIL)
        w->writes_fail++;
    else
        w->writes_unknown++;
    role r1, r2;
    int roles_ok = after && parse_role(before, &r1) == 0;
    roles_ok = parse_role(after, &r2) == 0 && roles_ok;
    int go = STAY;
    if (!after) {
        record(w, LC_READ, key2, NULL, call, ret, LC_OUT_UNKNOWN);
        w->reads_unknown++;
        go = NEXT;
    } else if (v->type != RESP_T_BULK && v->type != RESP_T_NIL) {
        record(w, LC_READ, key2, NULL, call, ret, LC_OUT_FAIL);
        w->reads_failed++;
        go = ++*errs >= EC_ERRORS_BEFORE_MOVING ? NEXT : STAY;
        usleep(20000);
    } else if (roles_ok && r1.leads && r2.leads && r1.epoch == r2.epoch) {
        char got[EC_VALUE_MAX + 1] = "";
        if (v->type == RESP_T_BULK) snprintf(got, sizeof got, "%.*s", (int)v->len, v->str);
        if (record(w, LC_READ, key2, v->type == RESP_T_BULK ? got : NULL, call, ret, LC_OUT_OK) < 0)
            atomic_store(&r->stop, 1);
        w->reads_leader++;
        w->pipelined_reads++;
        *errs = sv && sv->type == RESP_T_ERROR ? *errs : 0;
    } else {
        record_fread(w, key2, node, v, call, ret);
        w->reads_follower++;
        int to = node_of_id(r, r2.leader_id);
        if (!r2.leads) go = to >= 0 && to != node ? to : NEXT;
        if (go == NEXT) usleep(EC_NO_LEADER_PAUSE_US);
    }
    resp_value_free(before);
    resp_value_free(sv);
    resp_value_free(v);
    resp_value_free(after);
    return go;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    ecluster *c = &r->c;
    tclient *t = NULL;
    int node = w->id % c->n, errs = 0;
    while (!atomic_load(&r->stop)) {
        if (!t) {
            t = tc_connect(c->nd[node].host, c->nd[node].port, EC_CONNECT_MS);
            if (!t) {
                node = (node + 1) % c->n;
                usleep(20000);
                continue;
            }
            tc_set_timeout(t, EC_OP_MS);
        }
        if (lc_count(r->h) >= LC_OPS_MAX - EC_WORKERS_MAX) {
            snprintf(w->stopped_why, sizeof w->stopped_why, "the history is full (LC_OPS_MAX)");
            break;
        }
        int key = (int)(splitmix(&w->rng) % (uint64_t)r->nkeys);
        int go;
        uint64_t pick = splitmix(&w->rng) % 8;
        if (pick < 3) {
            if (wlog_room(w) < 0) break;
            go = do_write(w, t, node, key, &errs);
        } else if (pick < 6) {
            go = do_read(w, t, node, key, &errs);
        } else {
            if (wlog_room(w) < 0) break;
            int key2 = pick == 6 ? key : (int)(splitmix(&w->rng) % (uint64_t)r->nkeys);
            go = do_write_read(w, t, node, key, key2, &errs);
        }
        if (go != STAY) {
            tc_close(t);
            t = NULL;
            node = go == NEXT ? (node + 1) % c->n : go;
            errs = 0;
            w->moves++;
        }
        if (r->pace_us) usleep((useconds_t)r->pace_us);
    }
    tc_close(t);
    return NULL;
}

/* ---- the nemesis ---- */

typedef struct nemesis {
    run *r;
    uint64_t rng;
    int T; /* election timeout, ms */
    long count[F_COUNT];
    long no_leader[F_COUNT]; /* faults that found no leader to hit */
    long long worst_failover_ms;
    long failovers;
} nemesis;

/* Restarts node I; a violation if it does not come up. */
static void restart(run *r, int i)
{
    if (r->c.nd[i].pid > 0) return;
    if (ec_start_node(&r->c, i) < 0)
        violation(r, "node %d did not restart (see %s)", r->c.nd[i].id, r->c.nd[i].log);
}

/* A node that died without the nemesis killing it is a bug: reported, and
 * restarted so the run goes on. */
static void check_deaths(run *r)
{
    for (int i = 0; i < r->c.n; i++) {
        ec_node *nd = &r->c.nd[i];
        if (nd->pid <= 0 || nd->stopped) continue;
        int st = proc_exited(nd->pid);
        if (st < 0) continue;
        nd->pid = 0;
        violation(r, "node %d died on its own (status %d; see %s)", nd->id, st, nd->log);
        restart(r, i);
    }
}

/* Holds for MS, looking for deaths every tick. */
static void hold(run *r, long ms)
{
    long long end = proc_now_ms() + ms;
    while (proc_now_ms() < end) {
        check_deaths(r);
        long long left = end - proc_now_ms();
        usleep((useconds_t)((left < EC_TICK_MS ? (left > 0 ? left : 0) : EC_TICK_MS) * 1000));
    }
}

/* Waits up to MS for a leader a majority names, other than NOT (-1: any).
 * Its index, or -1; *TOOK gets the wait. */
static int wait_majority_leader(run *r, int not, long ms, long long *took)
{
    long long t0 = proc_now_ms();
    for (;;) {
        check_deaths(r);
        int l = ec_majority_leader(&r->c);
        if (l >= 0 && l != not ) {
            *took = proc_now_ms() - t0;
            return l;
        }
        if (proc_now_ms() - t0 >= ms) {
            *took = proc_now_ms() - t0;
            return -1;
        }
        usleep(100000);
    }
}

/* Waits up to MS until there is a leader a majority names and node I is it
 * or names it too (a restarted node is back in the cluster). 1 or 0. */
static int rejoined(run *r, int i, long ms)
{
    long long t0 = proc_now_ms();
    do {
        check_deaths(r);
        int l = ec_majority_leader(&r->c);
        if (l >= 0 && (l == i || ec_info_ll(&r->c, i, "leader_id") == r->c.nd[l].id)) return 1;
        usleep(100000);
    } while (proc_now_ms() - t0 < ms);
    return 0;
}

/* The leader to hit, or -1 (noted) if none could be found in time. */
static int leader_to_hit(nemesis *m, enum fault f)
{
    long long took;
    int l = wait_majority_leader(m->r, -1, EC_LEADER_WAIT_MS, &took);
    if (l < 0) {
        m->no_leader[f]++;
        printf("elect_chaos: t=%.1fs %s: no leader found within %d ms; skipped this time\n",
               t_now(m->r), fault_names[f], EC_LEADER_WAIT_MS);
    }
    return l;
}

/* After leader L was lost (killed, stopped, cut off) at T0: a new leader
 * must come within EC_LIVENESS_MS; then the fault holds until HOLD_MS. */
static void expect_failover(nemesis *m, enum fault f, int l, long long t0, long hold_ms)
{
    run *r = m->r;
    long long took;
    int nl = wait_majority_leader(r, l, EC_LIVENESS_MS, &took);
    if (nl < 0) {
        violation(r, "%s: no new leader within %d ms of losing leader node %d", fault_names[f],
                  EC_LIVENESS_MS, r->c.nd[l].id);
    } else {
        /* When it took over, by its own account: polling is coarse while a
         * node is unreachable (each look waits out a connect timeout). */
        long long ago = ec_info_ll(&r->c, nl, "last_leader_change_ms_ago");
        long long ms = proc_now_ms() - t0 - (ago > 0 ? ago : 0);
        printf("elect_chaos: t=%.1fs %s: node %d leads %lld ms after node %d was lost\n", t_now(r),
               fault_names[f], r->c.nd[nl].id, ms, r->c.nd[l].id);
        m->failovers++;
        if (ms > m->worst_failover_ms) m->worst_failover_ms = ms;
    }
    long left = hold_ms - (long)(proc_now_ms() - t0);
    if (left > 0) hold(r, left);
}

/* After a heal: one leader every node agrees on, within EC_LIVENESS_MS. */
static void expect_one_leader(nemesis *m, enum fault f)
{
    run *r = m->r;
    check_deaths(r);
    if (ec_wait_leader(&r->c, EC_LIVENESS_MS) < 0)
        violation(r, "%s: no single leader every node agrees on within %d ms of the heal",
                  fault_names[f], EC_LIVENESS_MS);
}

static void say(nemesis *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(nemesis *m, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("elect_chaos: t=%.1fs %s\n", t_now(m->r), buf);
}

static int random_follower(nemesis *m, int l)
{
    int n = m->r->c.n, k = (int)between(&m->rng, 1, n - 1);
    return (l + k) % n;
}

static void fault(nemesis *m, enum fault f)
{
    run *r = m->r;
    ecluster *c = &r->c;
    int n = c->n, l = -1;
    if (f != F_RESTART_ALL && (l = leader_to_hit(m, f)) < 0) return;
    m->count[f]++;
    long long t0 = proc_now_ms();
    int T = m->T;
    switch (f) {
    case F_KILL_LEADER:
        say(m, "kill-leader: kill -9 node %d", c->nd[l].id);
        ec_signal(c, l, SIGKILL);
        expect_failover(m, f, l, t0, between(&m->rng, 2000, 5000));
        restart(r, l);
        break;
    case F_STOP_LEADER: {
        long ms = between(&m->rng, T * 5 / 2, T * 4);
        say(m, "stop-leader: SIGSTOP node %d for %ld ms", c->nd[l].id, ms);
        ec_signal(c, l, SIGSTOP);
        expect_failover(m, f, l, t0, ms);
        ec_signal(c, l, SIGCONT);
        expect_one_leader(m, f);
        break;
    }
    case F_RESTART_ALL: {
        int order[EC_MAX];
        for (int i = 0; i < n; i++)
            order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)between(&m->rng, 0, i), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        say(m, "restart-all: every node in turn");
        for (int k = 0; k < n; k++) {
            int i = order[k], sig = splitmix(&m->rng) % 2 ? SIGTERM : SIGKILL;
            if (c->nd[i].pid <= 0) continue;
            int st = ec_signal(c, i, sig);
            printf("elect_chaos: t=%.1fs restart-all: node %d %s (status %d), restarted\n",
                   t_now(r), c->nd[i].id, sig == SIGTERM ? "SIGTERM" : "kill -9", st);
            if (sig == SIGTERM && st != 0)
                violation(r, "restart-all: node %d exited with status %d on SIGTERM (see %s)",
                          c->nd[i].id, st, c->nd[i].log);
            restart(r, i);
            if (!rejoined(r, i, EC_LIVENESS_MS))
                violation(r, "restart-all: no leader that restarted node %d follows within %d ms",
                          c->nd[i].id, EC_LIVENESS_MS);
        }
        break;
    }
    case F_KILL_FOLLOWER: {
        int i = random_follower(m, l);
        long ms = between(&m->rng, 1000, 3000);
        say(m, "kill-follower: kill -9 node %d for %ld ms", c->nd[i].id, ms);
        ec_signal(c, i, SIGKILL);
        hold(r, ms);
        restart(r, i);
        break;
    }
    case F_ISOLATE_LEADER: {
        long ms = between(&m->rng, T * 5 / 2, T * 5);
        say(m, "isolate-leader: node %d's cable down for %ld ms", c->nd[l].id, ms);
        if (nn_link(&r->net, l, 0) < 0)
            violation(r, "isolate-leader: ip failed (see %s)", r->net.log);
        expect_failover(m, f, l, t0, ms);
        nn_link(&r->net, l, 1);
        expect_one_leader(m, f);
        break;
    }
    case F_PARTITION_LEADER: {
        long ms = between(&m->rng, T * 5 / 2, T * 5);
        say(m,
            "partition-leader: node %d cut off from its peers (clients still reach it) for "
            "%ld ms",
            c->nd[l].id, ms);
        for (int j = 0; j < n; j++)
            if (j != l && nn_cut(&r->net, l, j, 1) < 0)
                violation(r, "partition-leader: ip failed (see %s)", r->net.log);
        expect_failover(m, f, l, t0, ms);
        nn_heal(&r->net);
        expect_one_leader(m, f);
        break;
    }
    case F_SPLIT_FOLLOWERS: {
        long ms = between(&m->rng, 2000, 4000);
        say(m, "split-followers: the followers of node %d cut off from each other for %ld ms",
            c->nd[l].id, ms);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (i != l && j != l && nn_cut(&r->net, i, j, 1) < 0)
                    violation(r, "split-followers: ip failed (see %s)", r->net.log);
        hold(r, ms);
        long long took;
        if (wait_majority_leader(r, -1, EC_LIVENESS_MS, &took) < 0)
            violation(r,
                      "split-followers: no leader a majority names (each follower still "
                      "reached node %d)",
                      c->nd[l].id);
        nn_heal(&r->net);
        expect_one_leader(m, f);
        break;
    }
    case F_PARTITION_RANDOM: {
        long ms = between(&m->rng, 2000, 4000);
        unsigned minority = 0;
        int size = (int)between(&m->rng, 1, (n - 1) / 2);
        while (__builtin_popcount(minority) < size)
            minority |= 1u << between(&m->rng, 0, n - 1);
        char names[64] = "";
        for (int i = 0; i < n; i++)
            if (minority >> i & 1u)
                snprintf(names + strlen(names), sizeof names - strlen(names), " %d", c->nd[i].id);
        say(m,
            "partition-random: nodes%s cut off from the rest for %ld ms (the leader, node %d, "
            "%s)",
            names, ms, c->nd[l].id, minority >> l & 1u ? "among them" : "on the majority side");
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if ((minority >> i & 1u) && !(minority >> j & 1u) && nn_cut(&r->net, i, j, 1) < 0)
                    violation(r, "partition-random: ip failed (see %s)", r->net.log);
        if (minority >> l & 1u) {
            expect_failover(m, f, l, t0, ms);
        } else {
            hold(r, ms);
            long long took;
            if (wait_majority_leader(r, -1, EC_LIVENESS_MS, &took) < 0)
                violation(r, "partition-random: no leader on the majority side");
        }
        nn_heal(&r->net);
        expect_one_leader(m, f);
        break;
    }
    default:
        break;
    }
}

/* ---- the end ---- */

/* Every stopped node continued, every dead one restarted, every cut healed. */
static void heal_all(run *r)
{
    if (r->use_net && nn_heal(&r->net) < 0) violation(r, "heal: ip failed (see %s)", r->net.log);
    for (int i = 0; i < r->c.n; i++) {
        if (r->c.nd[i].stopped) ec_signal(&r->c, i, SIGCONT);
        restart(r, i);
    }
}

/* GET of every key from leader L, each between two role checks, into the
 * history as reads of client EC_FINAL_CLIENT. */
static void final_reads(run *r, int l)
{
    worker fin;
    memset(&fin, 0, sizeof fin);
    fin.id = EC_FINAL_CLIENT;
    fin.r = r;
    for (int k = 0; k < r->nkeys; k++) {
        long long deadline = proc_now_ms() + EC_FINAL_READ_MS;
        int done = 0;
        while (!done && proc_now_ms() < deadline) {
            tclient *t = ec_connect(&r->c, l);
            int errs = 0;
            long before = fin.reads_leader;
            if (t) do_read(&fin, t, l, k, &errs);
            tc_close(t);
            done = fin.reads_leader > before;
            if (!done) usleep(100000);
        }
        if (!done)
            violation(r, "final read of k%d from leader node %d: no answer as leader within %d ms",
                      k, r->c.nd[l].id, EC_FINAL_READ_MS);
    }
}

/* Every node's value of every key, for a report when the data differ. */
static void print_keys(run *r)
{
    for (int k = 0; k < r->nkeys; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        printf("elect_chaos:   %s:", key);
        for (int i = 0; i < r->c.n; i++) {
            tclient *t = ec_connect(&r->c, i);
            resp_value *v = t ? tc_cmd(t, "GET", key) : NULL;
            printf(" node %d=%s", r->c.nd[i].id,
                   !v                      ? "(no answer)"
                   : v->type == RESP_T_NIL ? "nil"
                   : v->str                ? v->str
                                           : "?");
            resp_value_free(v);
            tc_close(t);
        }
        printf("\n");
    }
}

/* A follower read must return nil or a value a write of that key had been
 * sent with by then and that was not refused. The number of phantoms. */
static long check_freads(run *r, worker *ws)
{
    long bad = 0;
    for (long i = 0; i < r->nfreads; i++) {
        const fread_rec *f = &r->freads[i];
        if (f->nil) continue;
        int wid = -1;
        long seq = -1;
        const char *why = NULL;
        char tail;
        if (sscanf(f->val, "w%d-%ld%c", &wid, &seq, &tail) != 2 || wid < 0 || wid >= r->nworkers ||
            seq < 0 || seq >= ws[wid].nw)
            why = "no worker wrote it";
        else if (ws[wid].w[seq].key != f->key)
            why = "it was written to another key";
        else if (ws[wid].w[seq].outcome == LC_OUT_FAIL)
            why = "its write was refused (-READONLY)";
        else if (ws[wid].w[seq].call > f->ret)
            why = "its write was sent only after the read returned";
        if (!why) continue;
        if (bad++ < EC_PRINT_MAX)
            violation(
                r, "phantom follower read: node %d answered k%d = %s to worker %d [%lld, %lld]: %s",
                r->c.nd[f->node].id, f->key, f->val, f->client, f->call, f->ret, why);
    }
    return bad;
}

static int write_history(run *r, const char *path, unsigned long long seed)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        printf("elect_chaos: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(fp,
            "# elect_chaos history: seed %llu, %d nodes, %d workers, %d keys\n"
            "# <client> <op> <key> <value|-> <call_us> <ret_us|-> <ok|fail|unknown> [<result>]\n"
            "# (tests/common/lincheck.h; check with build/tools/lincheck FILE). Follower reads,\n"
            "# not linearizable by design, are the comments '# follower-read ...'.\n",
            seed, r->c.n, r->nworkers, r->nkeys);
    int rc = lc_write_history(fp, r->h);
    for (long i = 0; i < r->nfreads && rc == 0; i++) {
        const fread_rec *f = &r->freads[i];
        if (fprintf(fp, "# follower-read %d k%d %s %lld %lld node %d\n", f->client, f->key,
                    f->nil ? "nil" : f->val, f->call, f->ret, r->c.nd[f->node].id) < 0)
            rc = -1;
    }
    if (fclose(fp) != 0) rc = -1;
    printf("elect_chaos: history (%ld operations) %s %s\n", lc_count(r->h),
           rc == 0 ? "written to" : "FAILED to write to", path);
    return rc;
}

static int parse_faults(const char *list, int *enabled)
{
    for (int f = 0; f < F_COUNT; f++)
        enabled[f] = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int f = 0; f < F_COUNT; f++)
            if (strcmp(tok, "all") == 0 || strcmp(tok, fault_names[f]) == 0) enabled[f] = found = 1;
        if (!found) {
            fprintf(stderr, "elect_chaos: unknown fault '%s'; known:", tok);
            for (int f = 0; f < F_COUNT; f++)
                fprintf(stderr, " %s", fault_names[f]);
            fprintf(stderr, " all\n");
            return -1;
        }
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: elect_chaos [--seconds S] [--seed N] [--nodes 3|5] [--history FILE] "
                    "[--faults LIST|all] [--workers N] [--keys N] [--no-netns] [--strict-errors] [--tls] "
                    "[--election-timeout-ms T] [--pace-us U] [--check-follower-reads] "
                    "[--keep] [--net-tag TAG]\n");
    return 2;
}

static int parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long seconds = 30, nodes = 3, workers = EC_WORKERS_DEFAULT, keys = EC_KEYS_DEFAULT;
    long T = EC_ELECTION_MS_DEFAULT, pace = EC_PACE_US_DEFAULT;
    unsigned long long seed = (unsigned long long)time(NULL);
    const char *faults_arg = "all", *history = NULL;
    char tag[NN_TAG_MAX + 1];
    snprintf(tag, sizeof tag, "rkvec%d", (int)getpid() % 100000);
    int no_netns = 0, strict = 0, keep = 0, tls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (strcmp(a, "--no-netns") == 0)
            no_netns = 1;
        else if (strcmp(a, "--check-follower-reads") == 0)
            R.check_follower_reads = 1;
        else if (strcmp(a, "--keep") == 0)
            keep = 1;
        else if (strcmp(a, "--strict-errors") == 0)
            strict = 1;
        else if (strcmp(a, "--tls") == 0)
            tls = 1; /* replication and votes over mutual TLS */
        else if (!v)
            return usage();
        else if (strcmp(a, "--seconds") == 0 && parse_num(v, 1, EC_SECONDS_MAX, &seconds) == 0)
            i++;
        else if (strcmp(a, "--nodes") == 0 && parse_num(v, 3, 5, &nodes) == 0 && nodes != 4)
            i++;
        else if (strcmp(a, "--workers") == 0 && parse_num(v, 1, EC_WORKERS_MAX, &workers) == 0)
            i++;
        else if (strcmp(a, "--keys") == 0 && parse_num(v, 1, EC_KEYS_MAX, &keys) == 0)
            i++;
        else if (strcmp(a, "--election-timeout-ms") == 0 &&
                 parse_num(v, 100, EC_ELECTION_MS_MAX, &T) == 0)
            i++;
        else if (strcmp(a, "--pace-us") == 0 && parse_num(v, 0, EC_PACE_US_MAX, &pace) == 0)
            i++;
        else if (strcmp(a, "--seed") == 0 && parse_num(v, 0, 0x7fffffffffffffffL, &x) == 0) {
            seed = (unsigned long long)x;
            i++;
        } else if (strcmp(a, "--faults") == 0)
            faults_arg = argv[++i];
        else if (strcmp(a, "--history") == 0)
            history = argv[++i];
        else if (strcmp(a, "--net-tag") == 0 && strlen(v) <= NN_TAG_MAX - 2) {
            snprintf(tag, sizeof tag, "%s", v); /* the namespaces are TAGh, TAGn1, ... */
            i++;
        } else
            return usage();
    }
    int enabled[F_COUNT];
    if (parse_faults(faults_arg, enabled) < 0) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    cl_watchdog((unsigned)(seconds + EC_WATCHDOG_EXTRA_S));

    run *r = &R;
    pthread_mutex_init(&r->mu, NULL);
    r->nkeys = (int)keys;
    r->nworkers = (int)workers;
    r->strict_errors = strict;
    r->pace_us = pace;
    r->h = lc_history_new();
    if (!r->h) return 1;
    r->t0_us = mono_us();

    /* Partition faults need namespaces; say so when they are off. */
    int want_net = 0, skipped_kinds = 0;
    for (int f = 0; f < F_COUNT; f++)
        want_net |= enabled[f] && fault_needs_net[f];
    char why[512] = "--no-netns";
    char *root = proc_tmpdir("elect-chaos");
    char netlog[PROC_PATH_MAX];
    snprintf(netlog, sizeof netlog, "%s/net.log", root ? root : "/tmp");
    if (want_net && !no_netns && nn_available(why, sizeof why)) {
        char err[512];
        if (nn_create(&r->net, tag, (int)nodes, netlog, err, sizeof err) == 0) {
            r->use_net = 1;
        } else {
            snprintf(why, sizeof why, "%s", err);
            nn_destroy(&r->net);
        }
    }
    if (want_net && !r->use_net) {
        printf("elect_chaos: SKIPPED partition faults (");
        for (int f = 0; f < F_COUNT; f++)
            if (enabled[f] && fault_needs_net[f]) {
                printf("%s%s", skipped_kinds++ ? ", " : "", fault_names[f]);
                enabled[f] = 0;
            }
        printf("): no network namespaces here: %s\n", why);
    }
    enum fault menu[F_COUNT] = {F_KILL_LEADER};
    int nmenu = 0;
    for (int f = 0; f < F_COUNT; f++)
        if (enabled[f]) menu[nmenu++] = (enum fault)f;

    char tbuf[24], qbuf[24], hbuf[24];
    snprintf(tbuf, sizeof tbuf, "%ld", T);
    snprintf(qbuf, sizeof qbuf, "%d", EC_QUORUM_TIMEOUT_MS);
    snprintf(hbuf, sizeof hbuf, "%ld", T / 10 > 10 ? T / 10 : 10);
    /* --tls: throwaway certificates (tests/tools/gen_certs.sh) and mutual
     * TLS on every replication and vote connection, the secret handshake
     * inside it. */
    static char certdir[PROC_PATH_MAX], cert[PROC_PATH_MAX + 16], key[PROC_PATH_MAX + 16],
        ca[PROC_PATH_MAX + 16];
    if (tls) {
        char *d = proc_tmpdir("elect-chaos-tls");
        char cmd[PROC_PATH_MAX * 2];
        snprintf(certdir, sizeof certdir, "%s", d ? d : "/tmp");
        free(d);
        snprintf(cmd, sizeof cmd, "tests/tools/gen_certs.sh '%s' >/dev/null 2>&1", certdir);
        if (system(cmd) != 0) {
            printf("elect_chaos: --tls: tests/tools/gen_certs.sh failed (run from the repository root)\n");
            return 2;
        }
        snprintf(cert, sizeof cert, "%s/node.crt", certdir);
        snprintf(key, sizeof key, "%s/node.key", certdir);
        snprintf(ca, sizeof ca, "%s/ca.crt", certdir);
    }
    const char *const extra_plain[] = {
        "--election-timeout-ms", tbuf, "--quorum-timeout-ms", qbuf, "--heartbeat-ms", hbuf, NULL};
    const char *const extra_tls[] = {"--election-timeout-ms", tbuf, "--quorum-timeout-ms", qbuf,
                                     "--heartbeat-ms", hbuf, "--tls-replication", "yes",
                                     "--tls-cert-file", cert, "--tls-key-file", key,
                                     "--tls-ca-cert-file", ca, NULL};
    const char *const *extra = tls ? extra_tls : extra_plain;
    ec_opts o;
    memset(&o, 0, sizeof o);
    o.extra = extra;
    for (int i = 0; r->use_net && i < nodes; i++) {
        o.host[i] = r->net.host[i];
        o.netns[i] = r->net.ns[i];
    }
    printf("elect_chaos: seed %llu, %ld s, %ld nodes (%s), %ld workers, %ld keys, election "
           "timeout %ld ms%s%s; faults:",
           seed, seconds, nodes, r->use_net ? "each in its own network namespace" : "127.0.0.1",
           workers, keys, T, strict ? ", strict errors" : "",
           tls ? ", mutual TLS between nodes" : "");
    for (int i = 0; i < nmenu; i++)
        printf(" %s", fault_names[menu[i]]);
    printf("\n");
    ecluster *c = &r->c;
    if (ec_start_opts(c, "elect-chaos", (int)nodes, &o) < 0 ||
        ec_wait_leader(c, EC_LIVENESS_MS) < 0) {
        printf("elect_chaos: the cluster did not start or elect a leader\n");
        ec_stop(c, 1);
        if (r->use_net) nn_destroy(&r->net);
        printf("0 passed, 1 failed\n");
        return 1;
    }

    static worker ws[EC_WORKERS_MAX];
    for (int i = 0; i < workers; i++) {
        ws[i].id = i;
        ws[i].r = r;
        ws[i].rng = seed ^ (0x1234567ull * (uint64_t)(i + 1));
        ws[i].started = pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) == 0;
    }

    nemesis m = {.r = r, .rng = seed, .T = (int)T};
    long long end = proc_now_ms() + seconds * 1000;
    hold(r, between(&m.rng, 500, 1500));
    while (proc_now_ms() < end && nmenu > 0 && !atomic_load(&r->stop)) {
        fault(&m, menu[splitmix(&m.rng) % (uint64_t)nmenu]);
        hold(r, between(&m.rng, 500, 1500));
    }
    if (nmenu == 0) hold(r, seconds * 1000);

    /* Heal, stop the load, settle. */
    printf("elect_chaos: t=%.1fs healing everything\n", t_now(r));
    heal_all(r);
    atomic_store(&r->stop, 1);
    long w_ok = 0, w_fail = 0, w_unk = 0, r_lead = 0, r_fol = 0, r_fail = 0, r_unk = 0, moves = 0,
         r_pipe = 0;
    for (int i = 0; i < workers; i++) {
        if (ws[i].started) pthread_join(ws[i].th, NULL);
        if (ws[i].stopped_why[0]) violation(r, "worker %d ended early: %s", i, ws[i].stopped_why);
        w_ok += ws[i].writes_ok;
        w_fail += ws[i].writes_fail;
        w_unk += ws[i].writes_unknown;
        r_lead += ws[i].reads_leader;
        r_fol += ws[i].reads_follower;
        r_fail += ws[i].reads_failed;
        r_unk += ws[i].reads_unknown;
        moves += ws[i].moves;
        r_pipe += ws[i].pipelined_reads;
    }
    long long settle = proc_now_ms();
    int l = ec_wait_leader(c, EC_FINAL_LEADER_MS);
    if (l < 0) {
        violation(r, "no single leader that every node agrees on within %d ms of the heal",
                  EC_FINAL_LEADER_MS);
    } else {
        printf("elect_chaos: node %d leads, every node agrees, %lld ms after the heal\n",
               c->nd[l].id, proc_now_ms() - settle);
        final_reads(r, l);
    }
    if (!ec_wait_converged(c, EC_CONVERGE_MS)) {
        violation(r, "the nodes' data differ %d ms after the heal (DEBUG DIGEST / DBSIZE above)",
                  EC_CONVERGE_MS);
        print_keys(r);
    }

    lc_report rep;
    int verdict = lc_check(r->h, NULL, &rep);
    lc_report_print(stdout, &rep, 0);
    if (verdict == LC_NOT_LINEARIZABLE)
        violation(r, "the history is NOT linearizable: %ld of %ld keys (explanations above)",
                  rep.not_linearizable, rep.keys);
    else if (verdict == LC_ERROR)
        violation(r, "the linearizability check ran out of memory");
    int undecided = verdict == LC_UNDECIDED;
    lc_report_free(&rep);
    long phantoms = check_freads(r, ws);

    static const char *const sanitizer_marks[] = {"AddressSanitizer", "LeakSanitizer",
                                                  "ThreadSanitizer", "runtime error:"};
    for (int i = 0; i < c->n; i++)
        for (size_t s = 0; s < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; s++)
            if (cl_log_count(c->nd[i].log, sanitizer_marks[s]) > 0)
                violation(r, "%s in %s", sanitizer_marks[s], c->nd[i].log);
    if (history) write_history(r, history, seed);
    int unclean = ec_stop(c, r->violations > 0 || keep);
    if (unclean) violation(r, "%d node(s) did not stop cleanly", unclean);
    if (r->use_net && nn_destroy(&r->net) < 0)
        printf("elect_chaos: removing the namespaces failed (see %s)\n", netlog);
    if (root && r->violations == 0 && !keep) proc_rmtree(root);

    printf("elect_chaos: seed %llu: %ld ops: writes ok=%ld fail=%ld unknown=%ld; reads as "
           "leader=%ld (%ld behind the same client's SET) as follower=%ld (phantoms %ld%s) "
           "refused=%ld unknown=%ld; %ld moves between nodes\n",
           seed, lc_count(r->h) + r->nfreads, w_ok, w_fail, w_unk, r_lead, r_pipe, r_fol, phantoms,
           r->freads_dropped ? ", some not kept" : "", r_fail, r_unk, moves);
    printf("elect_chaos: faults:");
    for (int f = 0; f < F_COUNT; f++)
        if (enabled[f])
            printf(" %s=%ld%s", fault_names[f], m.count[f],
                   m.no_leader[f] ? " (some found no leader)" : "");
    printf("; %ld failovers, the slowest %lld ms\n", m.failovers, m.worst_failover_ms);
    if (skipped_kinds)
        printf("elect_chaos: SKIPPED: %d partition fault kinds (%s)\n", skipped_kinds, why);
    if (undecided) printf("elect_chaos: SKIPPED: some key was too big for the checker to decide\n");
    if (r->violations) {
        printf("elect_chaos: %d violation(s):\n", r->violations);
        for (int i = 0; i < r->nvmsg; i++)
            printf("  %s\n", r->vmsg[i]);
        if (root) printf("elect_chaos: files kept in %s\n", root);
    } else {
        printf("elect_chaos: no violations\n");
    }
    for (int i = 0; i < r->nvmsg; i++)
        free(r->vmsg[i]);
    for (int i = 0; i < workers; i++)
        free(ws[i].w);
    free(r->freads);
    free(root);
    if (tls && certdir[0]) proc_rmtree(certdir);
    lc_history_free(r->h);
    int skips = (skipped_kinds > 0) + undecided;
    printf("%d passed, %d failed, %d skipped\n", r->violations ? 0 : 1, r->violations ? 1 : 0,
           skips);
    return r->violations ? 1 : 0;
}
