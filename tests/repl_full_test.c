/* repl_full_test.c -- the brief's six categories in one process: a leader
 * and two followers, each a node struct running its own event loop on its
 * own thread, talking over loopback TCP through the real modules.
 *
 *   [test 1] both followers are online and answer heartbeats (2/2);
 *   [test 2] 10 writes reach both followers, key by key and by digest, and a
 *            record with one flipped bit is rejected, then accepted intact;
 *   [test 3] with --quorum 2 a write is not answered while one follower is
 *            held back, and is answered once it acknowledges: at that moment
 *            the held follower's durable LSN covers the write;
 *   [test 4] a fake leader ships the same conflicting records to two fresh
 *            followers in different seeded orders: both converge, to the
 *            state an independent model of the LWW rule predicts;
 *   [test 5] a follower that stops answering is marked online=0 within the
 *            heartbeat bound; writes go on; restarted on its data dir it
 *            catches up from the leader's WAL and matches the leader;
 *   [test 6] 20 writes with a follower stopped after 10 and restarted: all
 *            three stores match.
 *
 * Every wait is a condition with a deadline (generous, so the test passes
 * under valgrind too); the one bounded "must not have happened yet" wait is
 * test 3's. Output is one line per category, then "N passed, M failed".
 * RKV_TEST_LOG=debug|info|warn|error shows the nodes' logs (default: error
 * only); RKV_TEST_SEED changes test 4's seeds. */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fakeleader.h"
#include "common/proc.h"
#include "server/config.h"
#include "server/node.h"
#include "wal/wal_thread.h"
#include "wal/wal_record.h"

#define T_IO_MS 30000             /* client calls and waits: valgrind is slow */
#define T_HOLD_MS 400             /* test 3: a held write must stay unanswered this long */
#define T_HEARTBEAT_MS 100
#define T_FOLLOWER_TIMEOUT_MS 1000
#define T_DETECT_SLACK_MS 1500    /* scheduling slack on the detection bound (valgrind) */
#define T_QUORUM_TIMEOUT_MS 60000 /* never the reason a test write fails */
#define T_KEYS_MAX 64
#define T_KEY_LEN 32
#define T_LWW_SEEDS 4
#define T_WHY_MAX 1024

/* ---- failure reporting ---- */

static char g_why[T_WHY_MAX];

/* Keeps the first reason a test failed (later ones are consequences). */
static void set_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_why(const char *fmt, ...)
{
    if (g_why[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_why, sizeof g_why, fmt, ap);
    va_end(ap);
}

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            set_why(__VA_ARGS__);                                                                  \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* ---- nodes on threads ---- */

typedef struct tnode {
    char name[16];
    node_config cfg;
    node *n;
    pthread_t th;
    int running;
    char *dir;
    char err[512];
} tnode;

static enum log_level g_log_level = LOG_ERROR;

static void tn_init(tnode *t, const char *name, unsigned id, enum node_role role, int repl_port)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    config_defaults(&t->cfg);
    t->cfg.node_id = id;
    t->cfg.role = role;
    t->cfg.port = 0;
    t->cfg.repl_port = repl_port;
    t->cfg.log_level = g_log_level;
    t->cfg.heartbeat_ms = T_HEARTBEAT_MS;
    t->cfg.follower_timeout_ms = T_FOLLOWER_TIMEOUT_MS;
    t->cfg.quorum_timeout_ms = T_QUORUM_TIMEOUT_MS;
    t->dir = proc_tmpdir(name);
    if (t->dir) snprintf(t->cfg.data_dir, sizeof t->cfg.data_dir, "%s", t->dir);
}

/* Points leader L at the followers' replication ports (fixed up front, so a
 * restarted follower comes back where the leader dials). */
static void tn_set_followers(tnode *l, tnode *const *f, int nf, int quorum)
{
    l->cfg.nfollowers = nf;
    for (int i = 0; i < nf; i++) {
        snprintf(l->cfg.followers[i].host, sizeof l->cfg.followers[i].host, "127.0.0.1");
        l->cfg.followers[i].port = f[i]->cfg.repl_port;
    }
    l->cfg.quorum = quorum;
}

static void *tn_thread(void *arg)
{
    node_run(arg);
    return NULL;
}

/* node_new only: the node listens but nobody runs its loop yet. */
static int tn_open(tnode *t)
{
    if (!t->dir) {
        snprintf(t->err, sizeof t->err, "no data dir");
        return -1;
    }
    if (config_validate(&t->cfg, t->err, sizeof t->err) < 0) return -1;
    t->n = node_new(&t->cfg, t->err, sizeof t->err);
    return t->n ? 0 : -1;
}

static int tn_spawn(tnode *t)
{
    if (!t->n || pthread_create(&t->th, NULL, tn_thread, t->n) != 0) return -1;
    t->running = 1;
    return 0;
}

static int tn_start(tnode *t)
{
    return tn_open(t) == 0 && tn_spawn(t) == 0 ? 0 : -1;
}

/* Stops the loop: the node's sockets stay open but nothing answers (a hung
 * process, as far as its peers can tell). */
static void tn_halt(tnode *t)
{
    if (!t->running) return;
    node_request_stop(t->n);
    pthread_join(t->th, NULL);
    t->running = 0;
}

/* Halts and frees: every socket closes. */
static void tn_close(tnode *t)
{
    tn_halt(t);
    node_free(t->n);
    t->n = NULL;
}

static void tn_destroy(tnode *t)
{
    tn_close(t);
    if (t->dir) {
        proc_rmtree(t->dir);
        free(t->dir);
        t->dir = NULL;
    }
}

static tclient *tn_client(const tnode *t)
{
    return t->n ? tc_connect("127.0.0.1", t->n->port, T_IO_MS) : NULL;
}

/* ---- small RESP helpers ---- */

/* An integer INFO field, or -1. */
static long long info_ll(tclient *c, const char *section, const char *field)
{
    char *v = tc_info_field(c, section, field);
    long long x = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return x;
}

/* KEY=value inside the leader's "followerN:id=..,online=..,..." line. */
static long long follower_field(tclient *c, int idx, const char *key)
{
    char name[32];
    snprintf(name, sizeof name, "follower%d", idx);
    char *line = tc_info_field(c, "replication", name);
    long long x = -1;
    size_t kl = strlen(key);
    for (const char *p = line; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            x = strtoll(p + kl + 1, NULL, 10);
            break;
        }
        p = strchr(p, ',');
        if (p) p++;
    }
    free(line);
    return x;
}

/* SET KEY VAL; 0 if the reply is +OK, else -1 with WHY. */
static int set_ok(tclient *c, const char *key, const char *val, char *why, size_t wl)
{
    resp_value *r = tc_cmd(c, "SET", key, val);
    int ok = r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0;
    if (!ok)
        snprintf(why, wl, "SET %s: %s", key,
                 r ? (r->str ? r->str : "unexpected reply type") : tc_error(c));
    resp_value_free(r);
    return ok ? 0 : -1;
}

/* GET KEY: 0 with a malloc'd *OUT (NULL for nil), or -1. */
static int get_value(tclient *c, const char *key, char **out)
{
    resp_value *r = tc_cmd(c, "GET", key);
    int rc = -1;
    *out = NULL;
    if (r && r->type == RESP_T_BULK) {
        *out = strndup(r->str, r->len);
        rc = *out ? 0 : -1;
    } else if (r && r->type == RESP_T_NIL) {
        rc = 0;
    }
    resp_value_free(r);
    return rc;
}

/* DEBUG DIGEST into OUT (17 bytes); 0 or -1. */
static int digest_of(tclient *c, char *out, size_t len)
{
    resp_value *r = tc_cmd(c, "DEBUG", "DIGEST");
    int ok = r && r->type == RESP_T_STATUS;
    snprintf(out, len, "%s", ok ? r->str : "?");
    resp_value_free(r);
    return ok ? 0 : -1;
}

static const char *show(const char *v)
{
    return v ? v : "(nil)";
}

/* ---- conditions with deadlines ---- */

typedef struct field_wait {
    tclient *c;
    const char *section, *field;
    long long want, got;
} field_wait;

static int field_at_least(void *ctx)
{
    field_wait *w = ctx;
    w->got = info_ll(w->c, w->section, w->field);
    return w->got >= w->want;
}

/* Waits until T's applied_lsn reaches LSN. 1 or 0 (timeout, *GOT says where
 * it stopped). */
static int wait_applied(const tnode *t, long long lsn, long long *got)
{
    tclient *c = tn_client(t);
    field_wait w = {c, "persistence", "applied_lsn", lsn, -1};
    int ok = c && proc_wait_until(field_at_least, &w, T_IO_MS);
    if (got) *got = w.got;
    tc_close(c);
    return ok;
}

typedef struct online_wait {
    tclient *c;
    int idx;
    long long want, got;
} online_wait;

static int follower_online_is(void *ctx)
{
    online_wait *w = ctx;
    w->got = follower_field(w->c, w->idx, "online");
    return w->got == w->want;
}

typedef struct link_wait {
    tclient *c;
    int idx;
    const char *key;
    long long want, got;
} link_wait;

static int link_field_at_least(void *ctx)
{
    link_wait *w = ctx;
    w->got = follower_field(w->c, w->idx, w->key);
    return w->got >= w->want;
}

/* Compares NODES key by key (GET), by DBSIZE and by DEBUG DIGEST. 0 equal,
 * -1 with both sides in g_why. */
static int compare_nodes(tnode *const *nodes, int nn, char keys[][T_KEY_LEN], int nkeys)
{
    tclient *c[3] = {NULL, NULL, NULL};
    int rc = -1;
    char d0[32] = "", dx[32] = "";
    for (int i = 0; i < nn; i++)
        REQUIRE((c[i] = tn_client(nodes[i])) != NULL, "cannot connect to %s", nodes[i]->name);
    for (int k = 0; k < nkeys; k++) {
        char *v0 = NULL, *vx = NULL;
        REQUIRE(get_value(c[0], keys[k], &v0) == 0, "GET %s on %s failed", keys[k],
                nodes[0]->name);
        for (int i = 1; i < nn; i++) {
            int same = get_value(c[i], keys[k], &vx) == 0 &&
                       (v0 == vx || (v0 && vx && strcmp(v0, vx) == 0));
            if (!same)
                set_why("key %s: %s has %s, %s has %s", keys[k],
                         nodes[0]->name, show(v0), nodes[i]->name, show(vx));
            free(vx);
            vx = NULL;
            if (!same) {
                free(v0);
                goto out;
            }
        }
        free(v0);
    }
    long long s0 = -1;
    for (int i = 0; i < nn; i++) {
        resp_value *r = tc_cmd(c[i], "DBSIZE");
        long long s = r && r->type == RESP_T_INT ? r->integer : -2;
        resp_value_free(r);
        if (i == 0) s0 = s;
        REQUIRE(s == s0 && s >= 0, "DBSIZE: %s has %lld keys, %s has %lld", nodes[0]->name, s0,
                nodes[i]->name, s);
    }
    REQUIRE(digest_of(c[0], d0, sizeof d0) == 0, "DEBUG DIGEST on %s failed", nodes[0]->name);
    for (int i = 1; i < nn; i++) {
        REQUIRE(digest_of(c[i], dx, sizeof dx) == 0, "DEBUG DIGEST on %s failed",
                nodes[i]->name);
        REQUIRE(strcmp(d0, dx) == 0, "digests differ: %s %s, %s %s", nodes[0]->name, d0,
                nodes[i]->name, dx);
    }
    rc = 0;
out:
    for (int i = 0; i < nn; i++) tc_close(c[i]);
    return rc;
}

/* ---- the shared cluster (tests 1, 2, 5, 6) ---- */

typedef struct cluster {
    tnode l, f[2];
    char keys[T_KEYS_MAX][T_KEY_LEN]; /* every key written, for key-by-key checks */
    int nkeys;
} cluster;

static int cluster_write(cluster *cl, tclient *c, const char *prefix, int i)
{
    char why[256];
    if (cl->nkeys == T_KEYS_MAX) {
        set_why("test bug: more than %d keys", T_KEYS_MAX);
        return -1;
    }
    char *key = cl->keys[cl->nkeys];
    char val[64];
    snprintf(key, T_KEY_LEN, "%s:%d", prefix, i);
    snprintf(val, sizeof val, "%s-value-%d", prefix, i * 7919);
    if (set_ok(c, key, val, why, sizeof why) < 0) {
        set_why("%s", why);
        return -1;
    }
    cl->nkeys++;
    return 0;
}

/* Waits for every follower to apply the leader's last LSN, then compares
 * all three stores. 0 or -1 with g_why. */
static int cluster_converged(cluster *cl)
{
    tclient *c = tn_client(&cl->l);
    long long last = c ? info_ll(c, "persistence", "last_lsn") : -1;
    tc_close(c);
    if (last < 0) {
        set_why("cannot read the leader's last_lsn");
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        long long got;
        if (!wait_applied(&cl->f[i], last, &got)) {
            set_why("%s applied_lsn is %lld after %d ms, leader at %lld",
                     cl->f[i].name, got, T_IO_MS, last);
            return -1;
        }
    }
    tnode *all[3] = {&cl->l, &cl->f[0], &cl->f[1]};
    return compare_nodes(all, 3, cl->keys, cl->nkeys);
}

/* ---- test 1: connectivity ---- */

typedef struct heard_wait {
    tclient *c;
    long long since_ms; /* test clock after both were seen online */
    long long dials[2]; /* each link's reconnects counter at SINCE_MS */
    long long online[2], heard[2];
    int redialled;
} heard_wait;

/* Both followers online, and each has been heard from after SINCE_MS on the
 * same link: the handshake was over by then and no record was written, so
 * what was heard is an ACK answering a heartbeat. The leader reports
 * last_heard_ms = render_time - heard_time with render_time >= NOW, hence
 * heard_time >= NOW - last_heard_ms > SINCE_MS. A redial (a new handshake
 * is also "heard") ends the wait as a failure. */
static int heartbeats_answered(void *ctx)
{
    heard_wait *w = ctx;
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        long long now = proc_now_ms();
        w->online[i] = follower_field(w->c, i, "online");
        w->heard[i] = follower_field(w->c, i, "last_heard_ms");
        if (follower_field(w->c, i, "reconnects") != w->dials[i]) w->redialled = 1;
        ok &= w->online[i] == 1 && w->heard[i] >= 0 && now - w->heard[i] > w->since_ms;
    }
    return ok || w->redialled;
}

typedef struct str_wait {
    tclient *c;
    const char *section, *field, *want;
    char got[64];
} str_wait;

static int field_equals(void *ctx)
{
    str_wait *w = ctx;
    char *v = tc_info_field(w->c, w->section, w->field);
    snprintf(w->got, sizeof w->got, "%s", v ? v : "(none)");
    free(v);
    return strcmp(w->got, w->want) == 0;
}

static int test_connectivity(cluster *cl)
{
    tclient *c = tn_client(&cl->l), *fc = NULL;
    REQUIRE(c, "cannot connect to the leader: %s", cl->l.err);
    str_wait sw = {c, "replication", "followers_responded", "2/2", ""};
    REQUIRE(proc_wait_until(field_equals, &sw, T_IO_MS), "followers_responded is %s after %d ms",
            sw.got, T_IO_MS);
    heard_wait hw = {c, proc_now_ms(), {0, 0}, {0, 0}, {0, 0}, 0};
    for (int i = 0; i < 2; i++) hw.dials[i] = follower_field(c, i, "reconnects");
    int answered = proc_wait_until(heartbeats_answered, &hw, T_IO_MS);
    REQUIRE(answered && !hw.redialled,
            "heartbeats not answered%s: follower0 online=%lld last_heard_ms=%lld, follower1 "
            "online=%lld last_heard_ms=%lld",
            hw.redialled ? " (a link was redialled)" : "", hw.online[0], hw.heard[0],
            hw.online[1], hw.heard[1]);
    for (int i = 0; i < 2; i++) {
        fc = tn_client(&cl->f[i]);
        REQUIRE(fc, "cannot connect to %s", cl->f[i].name);
        str_wait lw = {fc, "replication", "leader_link", "up", ""};
        REQUIRE(proc_wait_until(field_equals, &lw, T_IO_MS), "%s: leader_link is %s",
                cl->f[i].name, lw.got);
        tc_close(fc);
        fc = NULL;
    }
    printf("%s followers responded\n", sw.got);
out:
    tc_close(fc);
    tc_close(c);
    return !g_why[0];
}

/* ---- test 2: log shipping, and a corrupted record rejected ---- */

/* A fresh follower gets a record with one bit flipped: it must reject it
 * (records_rejected_crc, link dropped, nothing applied), then take the same
 * record intact from the next link. */
static int crc_rejected_then_accepted(void)
{
    tnode f;
    fake_leader fl = {.fd = -1};
    tclient *c = NULL;
    char *v = NULL;
    tn_init(&f, "crc", 9, ROLE_FOLLOWER, 0);
    REQUIRE(tn_start(&f) == 0, "crc follower: %s", f.err);
    const char *key = "crc:key", *val = "intact-value";
    wal_rec r = {.lsn = 1, .epoch = 1, .ts = 1700000000000000ull, .node_id = 1,
                 .op = WAL_OP_PUT, .klen = (uint32_t)strlen(key), .vlen = (uint32_t)strlen(val),
                 .key = (const uint8_t *)key, .val = (const uint8_t *)val};
    uint8_t good[128], bad[128];
    size_t len = wal_record_encode(&r, good);
    memcpy(bad, good, len);
    bad[WAL_HDR_SIZE + r.klen + 3] ^= 0x10; /* one bit of the value */

    REQUIRE(fl_connect(&fl, "127.0.0.1", f.n->repl_port, 1, 1, T_IO_MS) == 0, "HELLO: %s",
            fl.err);
    REQUIRE(fl_send_records(&fl, bad, len, 0) == 0, "send: %s", fl.err);
    REQUIRE(fl_wait_eof(&fl, T_IO_MS) == 0, "follower kept the link after a bad CRC: %s",
            fl.err);
    fl_close(&fl);
    c = tn_client(&f);
    REQUIRE(c, "cannot connect to the crc follower");
    long long rej = info_ll(c, "stats", "records_rejected_crc");
    long long applied = info_ll(c, "persistence", "applied_lsn");
    REQUIRE(rej == 1 && applied == 0,
            "after a flipped bit: records_rejected_crc=%lld applied_lsn=%lld, want 1 and 0", rej,
            applied);
    REQUIRE(get_value(c, key, &v) == 0 && v == NULL, "corrupted record became visible: %s",
            show(v));

    REQUIRE(fl_connect(&fl, "127.0.0.1", f.n->repl_port, 1, 1, T_IO_MS) == 0, "re-HELLO: %s",
            fl.err);
    REQUIRE(fl.ok.last_lsn == 0, "follower claims lsn %" PRIu64 " after rejecting lsn 1",
            fl.ok.last_lsn);
    REQUIRE(fl_send_records(&fl, good, len, 0) == 0, "send: %s", fl.err);
    REQUIRE(fl_wait_ack(&fl, 1, T_IO_MS) == 0, "no ACK for the intact record: %s", fl.err);
    long long got;
    REQUIRE(wait_applied(&f, 1, &got), "intact record not applied (applied_lsn=%lld)", got);
    REQUIRE(get_value(c, key, &v) == 0 && v && strcmp(v, val) == 0,
            "after the intact resend GET %s is %s, want %s", key, show(v), val);
    rej = info_ll(c, "stats", "records_rejected_crc");
    REQUIRE(rej == 1, "records_rejected_crc=%lld after the intact record, want 1", rej);
out:
    free(v);
    tc_close(c);
    fl_close(&fl);
    tn_destroy(&f);
    return g_why[0] ? -1 : 0;
}

static int test_shipping(cluster *cl)
{
    tclient *c = tn_client(&cl->l);
    REQUIRE(c, "cannot connect to the leader");
    for (int i = 0; i < 10; i++) REQUIRE(cluster_write(cl, c, "ship", i) == 0, "%s", g_why);
    REQUIRE(cluster_converged(cl) == 0, "%s", g_why);
    REQUIRE(crc_rejected_then_accepted() == 0, "%s", g_why);
out:
    tc_close(c);
    return !g_why[0];
}

/* ---- test 3: quorum ---- */

/* Runs B's loop on this thread until the leader sees both followers online. */
static int drive_until_online(tnode *b, tclient *lc)
{
    long long deadline = proc_now_ms() + T_IO_MS;
    while (proc_now_ms() < deadline) {
        node_run_once(b->n, 10);
        if (follower_field(lc, 0, "online") == 1 && follower_field(lc, 1, "online") == 1) return 0;
    }
    return -1;
}

static int readable_within(tclient *c, int ms)
{
    struct pollfd p = {tc_fd(c), POLLIN, 0};
    return poll(&p, 1, ms) > 0;
}

static int test_quorum(void)
{
    tnode l, a, b;
    tclient *lc = NULL, *wc = NULL, *bc = NULL;
    resp_value *r = NULL;
    tn_init(&a, "q-f2", 2, ROLE_FOLLOWER, proc_free_port());
    tn_init(&b, "q-f3", 3, ROLE_FOLLOWER, proc_free_port());
    tn_init(&l, "q-leader", 1, ROLE_LEADER, 0);
    tnode *fs[2] = {&a, &b};
    tn_set_followers(&l, fs, 2, 2);
    REQUIRE(tn_start(&a) == 0, "follower a: %s", a.err);
    REQUIRE(tn_open(&b) == 0, "follower b: %s", b.err); /* its loop runs only when we say */
    REQUIRE(tn_start(&l) == 0, "leader: %s", l.err);
    REQUIRE((lc = tn_client(&l)) && (wc = tn_client(&l)), "cannot connect to the leader");
    REQUIRE(drive_until_online(&b, lc) == 0, "followers not both online after %d ms", T_IO_MS);

    /* B is held from here: its socket takes the record, nobody reads it. */
    long long lsn = info_ll(lc, "persistence", "last_lsn") + 1;
    REQUIRE(lsn >= 1, "cannot read the leader's last_lsn");
    static const char set_cmd[] = "*3\r\n$3\r\nSET\r\n$6\r\nq:held\r\n$5\r\nvalue\r\n";
    REQUIRE(tc_send_raw(wc, set_cmd, sizeof set_cmd - 1) == 0, "send SET: %s", tc_error(wc));
    /* The other follower's ack arrives: one of the two the write needs. */
    link_wait aw = {lc, 0, "acked_lsn", lsn, -1};
    REQUIRE(proc_wait_until(link_field_at_least, &aw, T_IO_MS),
            "follower a never acknowledged lsn %lld (acked %lld)", lsn, aw.got);
    REQUIRE(!readable_within(wc, T_HOLD_MS),
            "the write was answered with 1 of 2 acks (follower b durable_lsn=%" PRIu64 ")",
            b.n->durable_lsn);
    long long b_acked = follower_field(lc, 1, "acked_lsn");
    long long commit = info_ll(lc, "persistence", "commit_lsn");
    REQUIRE(b_acked < lsn && commit < lsn,
            "INFO should show b's missing ack: follower1 acked_lsn=%lld commit_lsn=%lld, lsn %lld",
            b_acked, commit, lsn);

    /* Release B one loop iteration at a time; the moment the OK is seen, B's
     * loop is not running. Its WAL thread may have acked (and synced) more
     * than the loop has heard of (--ack-from-wal-thread), so what counts is
     * what B's disk holds: the WAL thread's durable LSN. */
    long long deadline = proc_now_ms() + T_IO_MS;
    int answered = 0;
    uint64_t b_durable = 0;
    while (!answered && proc_now_ms() < deadline) {
        node_run_once(b.n, 10);
        answered = readable_within(wc, 0);
        b_durable = wal_thread_durable_lsn(b.n->walt);
    }
    REQUIRE(answered, "the write was not answered within %d ms of releasing b", T_IO_MS);
    REQUIRE(b_durable >= (uint64_t)lsn,
            "OK arrived while b's durable_lsn was %" PRIu64 " < write lsn %lld", b_durable, lsn);
    r = tc_read(wc);
    REQUIRE(r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0,
            "the held write was answered with %s", r ? show(r->str) : tc_error(wc));
    REQUIRE(tn_spawn(&b) == 0, "cannot start b's thread");
    REQUIRE((bc = tn_client(&b)) != NULL, "cannot connect to b");
    long long bd = info_ll(bc, "persistence", "durable_lsn");
    REQUIRE(bd >= lsn, "b's durable_lsn is %lld after the OK, write lsn %lld", bd, lsn);
out:
    resp_value_free(r);
    tc_close(bc);
    tc_close(wc);
    tc_close(lc);
    tn_destroy(&l);
    tn_destroy(&a);
    tn_destroy(&b);
    return !g_why[0];
}

/* ---- test 4: LWW convergence ---- */

/* Ships seed SEED's set to one follower in permutation WHICH. */
static int feed(const tnode *f, uint64_t seed, int which, const lww_op *ops, uint8_t *buf)
{
    fake_leader fl = {.fd = -1};
    int perm[LWW_N];
    lww_permutation(seed, which, perm, LWW_N);
    size_t len = lww_encode(ops, perm, buf);
    /* One frame for the first follower, many small ones for the second. */
    int ok = fl_connect(&fl, "127.0.0.1", f->n->repl_port, 1, 1, T_IO_MS) == 0 &&
             fl_send_records(&fl, buf, len, which ? 300 : 0) == 0 &&
             fl_wait_ack(&fl, LWW_N, T_IO_MS) == 0;
    if (!ok)
        set_why("seed %" PRIu64 ": feeding %s: %s", seed, f->name, fl.err);
    fl_close(&fl);
    return ok ? 0 : -1;
}

static int lww_one_seed(uint64_t seed, uint8_t *buf)
{
    tnode f[2];
    tclient *c[2] = {NULL, NULL};
    char d[2][32] = {"", ""};
    char *v[2] = {NULL, NULL};
    lww_op ops[LWW_N];
    lww_generate(seed, ops);
    tn_init(&f[0], "lww-a", 2, ROLE_FOLLOWER, 0);
    tn_init(&f[1], "lww-b", 3, ROLE_FOLLOWER, 0);
    for (int i = 0; i < 2; i++) {
        REQUIRE(tn_start(&f[i]) == 0, "seed %" PRIu64 ": %s: %s", seed, f[i].name, f[i].err);
        REQUIRE(feed(&f[i], seed, i, ops, buf) == 0, "%s", g_why);
    }
    for (int i = 0; i < 2; i++) {
        long long got;
        REQUIRE(wait_applied(&f[i], LWW_N, &got), "seed %" PRIu64 ": %s applied_lsn=%lld, want %d",
                seed, f[i].name, got, LWW_N);
        REQUIRE((c[i] = tn_client(&f[i])) != NULL, "cannot connect to %s", f[i].name);
        REQUIRE(digest_of(c[i], d[i], sizeof d[i]) == 0, "DEBUG DIGEST failed");
        long long rej = info_ll(c[i], "stats", "records_rejected_crc");
        REQUIRE(rej == 0, "seed %" PRIu64 ": %s rejected %lld records", seed, f[i].name, rej);
    }
    for (int k = 0; k < LWW_KEYS; k++) {
        char key[16];
        lww_key_name(k, key, sizeof key);
        const char *want = lww_expected(ops, k);
        for (int i = 0; i < 2; i++) {
            REQUIRE(get_value(c[i], key, &v[i]) == 0, "GET %s failed", key);
        }
        int same = (v[0] == v[1]) || (v[0] && v[1] && strcmp(v[0], v[1]) == 0);
        REQUIRE(same, "seed %" PRIu64 ": key %s diverged: %s has %s, %s has %s", seed, key,
                f[0].name, show(v[0]), f[1].name, show(v[1]));
        int right = (!want && !v[0]) || (want && v[0] && strcmp(want, v[0]) == 0);
        REQUIRE(right, "seed %" PRIu64 ": key %s converged to %s, the LWW rule says %s", seed, key,
                show(v[0]), show(want));
        for (int i = 0; i < 2; i++) {
            free(v[i]);
            v[i] = NULL;
        }
    }
    REQUIRE(strcmp(d[0], d[1]) == 0, "seed %" PRIu64 ": digests differ: %s %s, %s %s", seed,
            f[0].name, d[0], f[1].name, d[1]);
out:
    for (int i = 0; i < 2; i++) {
        free(v[i]);
        tc_close(c[i]);
        tn_destroy(&f[i]);
    }
    return g_why[0] ? -1 : 0;
}

static int test_lww(void)
{
    uint64_t base = 20260101;
    const char *env = getenv("RKV_TEST_SEED");
    if (env && *env) base = strtoull(env, NULL, 10);
    uint8_t *buf = malloc(lww_encoded_max());
    REQUIRE(buf, "out of memory");
    for (int s = 0; s < T_LWW_SEEDS; s++)
        REQUIRE(lww_one_seed(base + (uint64_t)s, buf) == 0, "%s", g_why);
out:
    free(buf);
    return !g_why[0];
}

/* ---- test 5: failure detection and rejoin ---- */

static int test_rejoin(cluster *cl)
{
    tclient *c = tn_client(&cl->l);
    tnode *b = &cl->f[1];
    REQUIRE(c, "cannot connect to the leader");
    online_wait ow = {c, 1, 1, -1};
    REQUIRE(proc_wait_until(follower_online_is, &ow, T_IO_MS), "follower1 not online at start");
    long long wal_before = follower_field(c, 1, "catchup_wal");

    /* B stops answering (sockets open, loop stopped): only the heartbeat
     * timeout can notice. */
    long long t0 = proc_now_ms();
    tn_halt(b);
    ow.want = 0;
    REQUIRE(proc_wait_until(follower_online_is, &ow, T_IO_MS),
            "a silent follower still online=%lld after %d ms", ow.got, T_IO_MS);
    long long took = proc_now_ms() - t0;
    long long bound = T_FOLLOWER_TIMEOUT_MS + T_HEARTBEAT_MS + T_DETECT_SLACK_MS;
    REQUIRE(took <= bound, "online=0 after %lld ms, bound %lld ms", took, bound);
    tn_close(b); /* now its sockets close too */

    for (int i = 0; i < 5; i++) REQUIRE(cluster_write(cl, c, "rejoin", i) == 0, "%s", g_why);

    REQUIRE(tn_start(b) == 0, "restarting %s: %s", b->name, b->err);
    ow.want = 1;
    REQUIRE(proc_wait_until(follower_online_is, &ow, T_IO_MS), "%s did not rejoin in %d ms",
            b->name, T_IO_MS);
    REQUIRE(cluster_converged(cl) == 0, "%s", g_why);
    long long wal_after = follower_field(c, 1, "catchup_wal");
    REQUIRE(wal_after == wal_before + 1, "catchup_wal went %lld -> %lld, want one WAL catch-up",
            wal_before, wal_after);
out:
    tc_close(c);
    return !g_why[0];
}

/* ---- test 6: full pipeline with a crash ---- */

static int test_pipeline(cluster *cl)
{
    tclient *c = tn_client(&cl->l);
    tnode *a = &cl->f[0];
    REQUIRE(c, "cannot connect to the leader");
    for (int i = 0; i < 10; i++) REQUIRE(cluster_write(cl, c, "pipe", i) == 0, "%s", g_why);
    tn_close(a);
    for (int i = 10; i < 20; i++) REQUIRE(cluster_write(cl, c, "pipe", i) == 0, "%s", g_why);
    REQUIRE(tn_start(a) == 0, "restarting %s: %s", a->name, a->err);
    REQUIRE(cluster_converged(cl) == 0, "%s", g_why);
out:
    tc_close(c);
    return !g_why[0];
}

/* ---- main ---- */

static int g_passed, g_failed;

static void report(int num, const char *title, int ok)
{
    if (ok)
        printf("[test %d] %s... PASS\n", num, title);
    else
        printf("[test %d] %s... FAIL: %s\n", num, title, g_why[0] ? g_why : "cluster down");
    fflush(stdout);
    if (ok)
        g_passed++;
    else
        g_failed++;
    g_why[0] = '\0';
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *lv = getenv("RKV_TEST_LOG");
    if (lv && *lv) log_level_parse(lv, &g_log_level);

    static cluster cl;
    tn_init(&cl.f[0], "f2", 2, ROLE_FOLLOWER, proc_free_port());
    tn_init(&cl.f[1], "f3", 3, ROLE_FOLLOWER, proc_free_port());
    tn_init(&cl.l, "leader", 1, ROLE_LEADER, 0);
    tnode *fs[2] = {&cl.f[0], &cl.f[1]};
    tn_set_followers(&cl.l, fs, 2, 1);
    int up = tn_start(&cl.f[0]) == 0 && tn_start(&cl.f[1]) == 0 && tn_start(&cl.l) == 0;
    if (!up)
        set_why("cluster did not start: %s%s%s", cl.f[0].err, cl.f[1].err,
                 cl.l.err);

    report(1, "leader-follower connectivity", up && test_connectivity(&cl));
    report(2, "log shipping (10 records)", up && test_shipping(&cl));
    report(3, "quorum acknowledgment", test_quorum());
    report(4, "conflict resolution (LWW)", test_lww());
    report(5, "failure and rejoin", up && test_rejoin(&cl));
    report(6, "full pipeline (20 records + crash)", up && test_pipeline(&cl));

    tn_destroy(&cl.l);
    tn_destroy(&cl.f[0]);
    tn_destroy(&cl.f[1]);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
