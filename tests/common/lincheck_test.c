/* lincheck_test.c -- the linearizability checker on histories whose answer
 * is known: small hand-made ones that are (concurrent operations, unknown
 * writes that take effect late or never, dels) and are not (a stale read
 * after a completed write, a read of a value never written, two readers
 * seeing two writes in opposite orders, a failed write that is read), the
 * file format (parse, escapes, bad lines, a round trip), the too-big limit,
 * adds from several threads, and a large random history generated from a
 * sequential register model with jittered call and return times around
 * each operation's instant, which must check quickly, and the same history
 * with one read corrupted, which must fail. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../testhelp.h"
#include "lincheck.h"

#define GEN_CLIENTS_MAX 64
#define GEN_KEYS_MAX 64
#define GEN_VALUE_MAX 24
#define GEN_OPS_MAX 1000000L
#define THREAD_ADDERS 4
#define THREAD_OPS 5000
#define BIG_SECONDS_MAX 20.0 /* "quickly", on a loaded 2-core machine */

static lc_history *H;

static void add(long client, lc_kind kind, const char *key, const char *value, long call, long ret,
                lc_outcome out, int del_result)
{
    lc_op op = {.client = client,
                .kind = kind,
                .key = key,
                .value = value,
                .call_us = call,
                .ret_us = ret,
                .outcome = out,
                .del_result = del_result};
    char err[256];
    if (lc_add(H, &op, err, sizeof err) != 0) printf("lc_add: %s\n", err);
}

static void W(long c, const char *k, const char *v, long call, long ret)
{
    add(c, LC_WRITE, k, v, call, ret, LC_OUT_OK, -1);
}
static void Wu(long c, const char *k, const char *v, long call) /* unknown outcome */
{
    add(c, LC_WRITE, k, v, call, 0, LC_OUT_UNKNOWN, -1);
}
static void Wf(long c, const char *k, const char *v, long call, long ret) /* failed */
{
    add(c, LC_WRITE, k, v, call, ret, LC_OUT_FAIL, -1);
}
static void R(long c, const char *k, const char *result, long call, long ret) /* NULL: nil */
{
    add(c, LC_READ, k, result, call, ret, LC_OUT_OK, -1);
}
static void D(long c, const char *k, int result, long call, long ret)
{
    add(c, LC_DEL, k, NULL, call, ret, LC_OUT_OK, result);
}

/* Checks H with LIM and frees it; returns the verdict. EXPLAIN_HAS: a
 * string the first bad key's explanation must contain (NULL: any). */
static int verdict_of(const lc_limits *lim, const char *explain_has, int *explain_ok)
{
    lc_report rep;
    int v = lc_check(H, lim, &rep);
    if (explain_ok) {
        *explain_ok = 0;
        for (long i = 0; i < rep.keys; i++)
            if (rep.k[i].verdict != LC_KEY_LINEARIZABLE && rep.k[i].explain &&
                (!explain_has || strstr(rep.k[i].explain, explain_has)))
                *explain_ok = 1;
    }
    if (v != LC_LINEARIZABLE) lc_report_print(stdout, &rep, 0);
    lc_report_free(&rep);
    lc_history_free(H);
    H = lc_history_new();
    return v;
}

static int check(void)
{
    return verdict_of(NULL, NULL, NULL);
}

static void small_histories(void)
{
    int ex;
    test_section("linearizable by hand");
    test_cond("empty history", check() == LC_LINEARIZABLE);
    R(1, "k", NULL, 0, 5);
    W(1, "k", "a", 10, 20);
    R(2, "k", "a", 30, 40);
    test_cond("sequential: nil, write a, read a", check() == LC_LINEARIZABLE);
    W(1, "k", "a", 0, 100);
    R(2, "k", NULL, 10, 20);
    R(3, "k", "a", 30, 40);
    R(2, "k", "a", 50, 60);
    test_cond("reads inside a slow write: nil, then a", check() == LC_LINEARIZABLE);
    W(1, "k", "a", 0, 100);
    W(2, "k", "b", 0, 100);
    R(3, "k", "b", 10, 20);
    R(3, "k", "a", 30, 40);
    R(4, "k", "a", 50, 60);
    test_cond("two concurrent writes, b then a", check() == LC_LINEARIZABLE);
    W(1, "k", "a", 0, 10);
    R(2, "k", "a", 10, 20); /* touches: called at the instant the write returned */
    W(1, "k", "b", 20, 30);
    R(2, "k", "a", 30, 40); /* touches the write of b at 30: may precede it */
    test_cond("operations that touch are concurrent", check() == LC_LINEARIZABLE);
    W(1, "x", "1", 0, 10);
    R(2, "y", NULL, 20, 30); /* y: nil after its write returned */
    W(3, "y", "2", 0, 10);
    R(2, "x", "1", 20, 30);
    lc_report rep;
    int v = lc_check(H, NULL, &rep);
    test_cond("two keys, each its own register: x fine, y not",
              v == LC_NOT_LINEARIZABLE && rep.keys == 2 && rep.linearizable == 1 &&
                  rep.not_linearizable == 1 && rep.k[0].verdict == LC_KEY_LINEARIZABLE);
    lc_report_free(&rep);
    lc_history_free(H);
    H = lc_history_new();

    test_section("not linearizable by hand");
    W(1, "k", "a", 0, 10);
    W(1, "k", "b", 20, 30);
    R(2, "k", "a", 40, 50);
    test_cond("stale read after a completed write",
              verdict_of(NULL, "-> a", &ex) == LC_NOT_LINEARIZABLE);
    test_cond("its explanation names the stale read", ex);
    W(1, "k", "a", 0, 10);
    R(2, "k", "z", 20, 30);
    test_cond("read of a value never written",
              verdict_of(NULL, "-> z", &ex) == LC_NOT_LINEARIZABLE);
    test_cond("its explanation names that read", ex);
    W(1, "k", "a", 0, 10);
    R(2, "k", NULL, 20, 30);
    test_cond("nil after a completed write", check() == LC_NOT_LINEARIZABLE);
    W(1, "k", "a", 0, 100);
    W(2, "k", "b", 0, 100);
    R(3, "k", "a", 10, 20);
    R(3, "k", "b", 30, 40);
    R(4, "k", "b", 10, 20);
    R(4, "k", "a", 30, 40);
    test_cond("two readers see two writes in opposite orders", check() == LC_NOT_LINEARIZABLE);
    R(1, "k", "a", 0, 10);
    W(2, "k", "a", 20, 30);
    test_cond("a read that returns before the write is called", check() == LC_NOT_LINEARIZABLE);
    W(1, "k", "a", 0, 10);
    R(2, "k", "a", 20, 30);
    R(2, "k", NULL, 40, 50);
    test_cond("a value that disappears", check() == LC_NOT_LINEARIZABLE);

    test_section("unknown and failed outcomes");
    Wu(1, "k", "a", 0);
    W(2, "k", "b", 10, 20);
    R(3, "k", "b", 30, 40);
    R(3, "k", "a", 1000, 1010);
    test_cond("an unknown write taking effect late", check() == LC_LINEARIZABLE);
    Wu(1, "k", "a", 0);
    R(2, "k", NULL, 10, 20);
    R(2, "k", NULL, 5000, 5010);
    test_cond("an unknown write that never takes effect", check() == LC_LINEARIZABLE);
    R(2, "k", "a", 0, 10);
    Wu(1, "k", "a", 20);
    test_cond("an unknown write cannot take effect before its call",
              check() == LC_NOT_LINEARIZABLE);
    W(1, "k", "x", 0, 10);
    W(1, "k", "y", 20, 30);
    Wu(2, "k", "x", 40);
    R(3, "k", "x", 50, 60);
    R(3, "k", "y", 70, 80);
    W(1, "k", "y", 65, 90);
    test_cond("an unknown write of a value written twice (kept pending)",
              check() == LC_LINEARIZABLE);
    W(1, "k", "x", 0, 10);
    W(1, "k", "y", 20, 30);
    Wu(2, "k", "x", 40);
    R(3, "k", "x", 32, 38);
    test_cond("... which cannot explain a read before its call", check() == LC_NOT_LINEARIZABLE);
    for (int i = 0; i < 12; i++)
        Wu(10 + i, "k", i % 2 ? "p" : "q", 10 + i);
    R(1, "k", "p", 100, 110);
    R(1, "k", "q", 120, 130);
    R(1, "k", "p", 140, 150);
    R(1, "k", NULL, 0, 5);
    test_cond("many identical unknown writes, some taking effect", check() == LC_LINEARIZABLE);
    Wf(1, "k", "a", 0, 10);
    R(2, "k", "a", 20, 30);
    test_cond("a failed write that is read", check() == LC_NOT_LINEARIZABLE);
    Wf(1, "k", "a", 0, 10);
    R(2, "k", NULL, 20, 30);
    add(3, LC_READ, "k", NULL, 25, 0, LC_OUT_UNKNOWN, -1);
    test_cond("a failed write that is not read; an unknown read", check() == LC_LINEARIZABLE);

    test_section("del");
    W(1, "k", "a", 0, 10);
    D(2, "k", 1, 20, 30);
    R(3, "k", NULL, 40, 50);
    test_cond("write, del (removed 1), nil", check() == LC_LINEARIZABLE);
    W(1, "k", "a", 0, 10);
    D(2, "k", 0, 20, 30);
    test_cond("a del that found nothing after a write", check() == LC_NOT_LINEARIZABLE);
    W(1, "k", "a", 0, 10);
    add(2, LC_DEL, "k", NULL, 20, 0, LC_OUT_UNKNOWN, -1);
    R(3, "k", "a", 40, 50);
    R(3, "k", NULL, 60, 70);
    test_cond("an unknown del taking effect between two reads", check() == LC_LINEARIZABLE);
    Wu(1, "k", "a", 0);
    D(2, "k", 1, 20, 30);
    test_cond("a del that removed an unknown write (kept for the del)", check() == LC_LINEARIZABLE);
}

static void file_format(void)
{
    test_section("file format");
    char err[256];
    test_cond("a write", lc_parse_line(H, "1 write k v1 10 20 ok", err, sizeof err) == 0);
    test_cond("a read", lc_parse_line(H, "2 read k - 30 40 ok v1\n", err, sizeof err) == 0);
    test_cond("a nil read", lc_parse_line(H, "2 read j - 30 40 ok nil", err, sizeof err) == 0);
    test_cond("an unknown write",
              lc_parse_line(H, "3 write k v2 50 - unknown", err, sizeof err) == 0);
    test_cond("an unknown with a time",
              lc_parse_line(H, "3 write k v3 60 70 unknown", err, sizeof err) == 0);
    test_cond("a del with a result",
              lc_parse_line(H, "4 del j - 80 90 ok 0", err, sizeof err) == 0);
    test_cond("a del without", lc_parse_line(H, "4 del j - 80 90 ok", err, sizeof err) == 0);
    test_cond("a failed read", lc_parse_line(H, "4 read j - 80 90 fail", err, sizeof err) == 0);
    test_cond("a comment", lc_parse_line(H, "# elect_chaos seed 1", err, sizeof err) == 1);
    test_cond("a blank line", lc_parse_line(H, "   \n", err, sizeof err) == 1);
    test_cond("eight ops in", lc_count(H) == 8);
    static const char *const bad[] = {
        "1 write k v1 10 20",      "1 write k v1 10 20 ok extra", "1 put k v1 10 20 ok",
        "1 write k - 10 20 ok",    "1 read k v 10 20 ok v",       "1 read k - 10 20 ok",
        "1 write k v 20 10 ok",    "1 write k v 10 - ok",         "x write k v 10 20 ok",
        "1 write k v 10 20 maybe", "1 write k%zz v 10 20 ok",     "1 del k - 10 20 ok 2",
        "1 read k - 10 20 fail v", "-1 write k v 10 20 ok",       "1 write k v -5 20 ok",
        "1 write % v 10 20 ok",
    };
    int all_refused = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lc_parse_line(H, bad[i], err, sizeof err) != -1 || !err[0]) {
            printf("accepted a bad line: %s\n", bad[i]);
            all_refused = 0;
        }
    test_cond("every bad line refused, with a reason", all_refused && lc_count(H) == 8);
    test_cond("the parsed history checks", check() == LC_LINEARIZABLE);

    /* A round trip through the file of values that need escaping. */
    static const char *const vals[] = {"a b", "-", "nil", "", "100%", "tab\there", "\xff\x01"};
    int n = (int)(sizeof vals / sizeof vals[0]);
    for (int i = 0; i < n; i++) {
        lc_op op = {.client = i,
                    .kind = LC_WRITE,
                    .key = "key with space",
                    .value = vals[i],
                    .value_empty = vals[i][0] == 0,
                    .call_us = 100 * i,
                    .ret_us = 100 * i + 10};
        lc_add(H, &op, err, sizeof err);
        lc_op rd = op;
        rd.kind = LC_READ;
        rd.call_us += 20;
        rd.ret_us += 20;
        lc_add(H, &rd, err, sizeof err);
    }
    R(99, "key with space", NULL, 0, 0); /* a nil read, before everything */
    char path[] = "/tmp/rkv-lincheck-XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    test_cond("history written", fp && lc_write_history(fp, H) == 0);
    if (fp) fclose(fp);
    lc_history *back = lc_history_new();
    int rd = lc_read_file(back, path, err, sizeof err);
    test_cond("and read back", rd == 0 && lc_count(back) == 2 * n + 1);
    if (rd != 0) printf("read back: %s\n", err);
    lc_report rep;
    test_cond("the round trip is still linearizable",
              lc_check(back, NULL, &rep) == LC_LINEARIZABLE);
    lc_report_free(&rep);
    /* A read of "-" must not have become a read of nil, nor "nil" nil. */
    FILE *in = fopen(path, "r");
    char line[512];
    int dash = 0, nilv = 0, empty = 0;
    while (in && fgets(line, sizeof line, in)) {
        dash += strstr(line, " %2D ") != NULL;
        nilv += strstr(line, " %6Eil ") != NULL;
        empty += strstr(line, " % ") != NULL;
    }
    if (in) fclose(in);
    test_cond("'-', 'nil' and '' escaped", dash == 1 && nilv == 1 && empty == 1);
    lc_history_free(back);
    unlink(path);
    lc_history_free(H);
    H = lc_history_new();
}

/* Twenty concurrent writes of two values, a and b, reads that alternate
 * between them, and a last read of a value never written: not
 * linearizable, and (the values not being unique, no write is pinned by
 * its reads) a search over about 2^20 sets of writes, far past small
 * limits. */
static void hard_history(void)
{
    for (int i = 0; i < 20; i++)
        W(i, "k", i % 2 ? "a" : "b", 0, 1000);
    for (int i = 0; i < 20; i++)
        R(100 + i, "k", i % 2 ? "b" : "a", 10 + 40 * i, 30 + 40 * i);
    R(200, "k", "z", 2000, 2010);
}

static void too_big(void)
{
    test_section("limits");
    int ex;
    hard_history();
    lc_limits few_steps = {0, 1000, 0};
    test_cond("a search past its step limit is undecided",
              verdict_of(&few_steps, "step", &ex) == LC_UNDECIDED && ex);
    hard_history();
    lc_limits small = {64 * 1024, 0, 0};
    test_cond("a memo table past its byte limit is undecided",
              verdict_of(&small, "byte limit", &ex) == LC_UNDECIDED && ex);
}

typedef struct adder {
    int id;
} adder;

static void *adder_main(void *arg)
{
    const adder *a = arg;
    char key[16], val[32];
    for (int i = 0; i < THREAD_OPS; i++) {
        snprintf(key, sizeof key, "t%d", a->id);
        snprintf(val, sizeof val, "t%dv%d", a->id, i);
        W(a->id, key, val, 10L * i, 10L * i + 5);
    }
    return NULL;
}

static void threads(void)
{
    test_section("adds from threads");
    pthread_t t[THREAD_ADDERS];
    adder a[THREAD_ADDERS];
    for (int i = 0; i < THREAD_ADDERS; i++) {
        a[i].id = i;
        pthread_create(&t[i], NULL, adder_main, &a[i]);
    }
    for (int i = 0; i < THREAD_ADDERS; i++)
        pthread_join(t[i], NULL);
    test_cond("every add counted", lc_count(H) == THREAD_ADDERS * THREAD_OPS);
    test_cond("and linearizable", check() == LC_LINEARIZABLE);
}

/* ---- a large random history from a sequential model ---- */

typedef struct gop {
    long client;
    lc_kind kind;
    lc_outcome out;
    long long call, ret;
    int key;
    char val[GEN_VALUE_MAX]; /* write: written; read: result ("" with nil set) */
    int nil;
} gop;

static uint64_t rs;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* NOPS operations by NCLIENTS clients on NKEYS keys: each has an instant t
 * (strictly increasing), where the model applies it; its call is up to
 * JITTER us before t (not before its client's previous return) and its
 * return up to JITTER us after. Some writes fail (not applied) or end
 * unknown (applied or not, by a coin); some reads end unknown. */
static long generate(gop *g, long nops, int nclients, int nkeys, int jitter, int dels)
{
    long long free_at[GEN_CLIENTS_MAX] = {0}, t = 1000;
    long model[GEN_KEYS_MAX]; /* value number, -1 absent */
    for (int k = 0; k < nkeys; k++)
        model[k] = -1;
    long n = 0, vnum = 0;
    while (n < nops) {
        t += 1 + (long long)(rnd() % 3);
        int c = (int)(rnd() % (uint64_t)nclients);
        for (int tries = 0; tries < nclients && free_at[c] > t; tries++)
            c = (c + 1) % nclients;
        if (free_at[c] > t) continue; /* everyone busy: let time pass */
        gop *o = &g[n++];
        memset(o, 0, sizeof *o);
        o->client = c;
        o->key = (int)(rnd() % (uint64_t)nkeys);
        o->call = t - (long long)(rnd() % (uint64_t)(jitter + 1));
        if (o->call < free_at[c]) o->call = free_at[c];
        o->ret = t + (long long)(rnd() % (uint64_t)(jitter + 1));
        o->out = LC_OUT_OK;
        unsigned roll = (unsigned)(rnd() % 100);
        if (roll < 45) {
            o->kind = LC_WRITE;
            snprintf(o->val, sizeof o->val, "v%ld", vnum++);
            unsigned fate = (unsigned)(rnd() % 100);
            if (fate < 4) {
                o->out = LC_OUT_FAIL;
            } else if (fate < 10) {
                o->out = LC_OUT_UNKNOWN;
                if (rnd() % 2) model[o->key] = vnum - 1; /* it took effect at t */
                o->ret += 3 * jitter;                    /* the client gave up later */
            } else {
                model[o->key] = vnum - 1;
            }
        } else if (roll < 95 || !dels) {
            o->kind = LC_READ;
            if (model[o->key] < 0)
                o->nil = 1;
            else
                snprintf(o->val, sizeof o->val, "v%ld", model[o->key]);
            if (rnd() % 100 < 2) o->out = LC_OUT_UNKNOWN;
        } else {
            o->kind = LC_DEL;
            model[o->key] = -1;
        }
        free_at[c] = o->ret + 1;
    }
    return n;
}

static void add_generated(const gop *g, long n)
{
    char key[16];
    for (long i = 0; i < n; i++) {
        const gop *o = &g[i];
        snprintf(key, sizeof key, "key%d", o->key);
        const char *v = o->kind == LC_WRITE               ? o->val
                        : (o->kind == LC_READ && !o->nil) ? o->val
                                                          : NULL;
        add(o->client, o->kind, key, v, o->call, o->ret, o->out, -1);
    }
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A read in the second half turned stale: it returns the value of an ok
 * write that an ok write to the same key followed, and that later write
 * returned before the read was called. Index of the read, or -1. */
static long corrupt_stale(gop *g, long n, gop *saved)
{
    for (long i = n / 2; i < n; i++) {
        if (g[i].kind != LC_READ || g[i].out != LC_OUT_OK) continue;
        for (long j = i - 1; j >= 0 && j > i - 2000; j--) {
            if (g[j].key != g[i].key || g[j].kind != LC_WRITE || g[j].out != LC_OUT_OK ||
                g[j].ret >= g[i].call)
                continue;
            for (long k = j - 1; k >= 0 && k > j - 2000; k--) {
                if (g[k].key != g[i].key || g[k].kind != LC_WRITE || g[k].out != LC_OUT_OK ||
                    g[k].ret >= g[j].call || strcmp(g[k].val, g[i].val) == 0)
                    continue;
                *saved = g[i];
                memcpy(g[i].val, g[k].val, sizeof g[i].val);
                g[i].nil = 0;
                return i;
            }
        }
    }
    return -1;
}

static void big_random(void)
{
    test_section("large random histories");
    static const struct {
        const char *name;
        long ops;
        int clients, keys, jitter, dels;
    } runs[] = {
        {"1 key, 40000 ops, 6 clients", 40000, 6, 1, 30, 0},
        {"8 keys, 160000 ops, 16 clients, dels", 160000, 16, 8, 40, 1},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        long nops = runs[r].ops;
        if (nops > GEN_OPS_MAX) nops = GEN_OPS_MAX;
        gop *g = malloc((size_t)nops * sizeof *g);
        if (!g) {
            test_cond("memory for the generated history", 0);
            return;
        }
        rs = 42 + r;
        long n = generate(g, nops, runs[r].clients, runs[r].keys, runs[r].jitter, runs[r].dels);
        add_generated(g, n);
        double t0 = secs();
        int v = check();
        double dt = secs() - t0;
        printf("   %s: linearizable=%s in %.3f s (%.0f ops/s)\n", runs[r].name,
               v == LC_LINEARIZABLE ? "yes" : "NO", dt, (double)n / (dt > 0 ? dt : 1e-9));
        test_cond(runs[r].name, v == LC_LINEARIZABLE);
        test_cond("checked quickly", dt < BIG_SECONDS_MAX);

        gop saved;
        long bad = corrupt_stale(g, n, &saved);
        test_cond("a read to corrupt was found", bad >= 0);
        add_generated(g, n);
        t0 = secs();
        char needle[64];
        snprintf(needle, sizeof needle, "client %ld read -> %s", bad >= 0 ? g[bad].client : -1,
                 bad >= 0 ? g[bad].val : "");
        int ex;
        v = verdict_of(NULL, needle, &ex);
        dt = secs() - t0;
        printf("   ... one read made stale (op %ld): NOT linearizable=%s in %.3f s\n", bad,
               v == LC_NOT_LINEARIZABLE ? "yes" : "no", dt);
        test_cond("with one stale read it fails", v == LC_NOT_LINEARIZABLE);
        test_cond("naming that read", ex);
        test_cond("and fails quickly", dt < BIG_SECONDS_MAX);

        /* Put it back; a read of a value never written, in the middle. */
        if (bad >= 0) g[bad] = saved;
        for (long i = n / 2; i < n; i++)
            if (g[i].kind == LC_READ && g[i].out == LC_OUT_OK) {
                snprintf(g[i].val, sizeof g[i].val, "never");
                g[i].nil = 0;
                break;
            }
        add_generated(g, n);
        test_cond("with a read of a value never written it fails",
                  verdict_of(NULL, "-> never", &ex) == LC_NOT_LINEARIZABLE && ex);
        free(g);
    }
}

/* ---- agreement with a brute-force checker on small random histories ---- */

#define BRUTE_OPS_MAX 7 /* 7! orders times 2^unknowns subsets: instant */
#define BRUTE_HISTORIES 20000

typedef struct bop {
    lc_kind kind;
    lc_outcome out;
    int call, ret; /* ret ignored for unknown */
    int val;       /* write: 0..2; read: -1 nil or 0..2; del: result -1/0/1 */
} bop;

/* Is there an order of the ops in SEL (count NS) that keeps real time and
 * the register? Permutations by Heap's algorithm would do; a recursive
 * extension with pruning is simpler: place any op whose every real-time
 * predecessor in SEL is placed. */
static int brute_extend(const bop *o, const int *sel, int ns, int placed_mask, int state)
{
    if (placed_mask == (1 << ns) - 1) return 1;
    for (int i = 0; i < ns; i++) {
        if (placed_mask & (1 << i)) continue;
        const bop *x = &o[sel[i]];
        int ready = 1;
        for (int j = 0; j < ns && ready; j++) {
            const bop *y = &o[sel[j]];
            if (j != i && !(placed_mask & (1 << j)) && y->out == LC_OUT_OK && y->ret < x->call)
                ready = 0; /* y returned before x was called: y first */
        }
        if (!ready) continue;
        int ns2 = state;
        if (x->kind == LC_WRITE)
            ns2 = x->val;
        else if (x->kind == LC_READ) {
            if (state != x->val) continue;
        } else {
            if (x->out == LC_OUT_OK && x->val >= 0 && x->val != (state >= 0)) continue;
            ns2 = -1;
        }
        if (brute_extend(o, sel, ns, placed_mask | (1 << i), ns2)) return 1;
    }
    return 0;
}

static int brute(const bop *o, int n)
{
    int must[BRUTE_OPS_MAX], nm = 0, maybe[BRUTE_OPS_MAX], nu = 0;
    for (int i = 0; i < n; i++) {
        if (o[i].out == LC_OUT_FAIL || (o[i].kind == LC_READ && o[i].out != LC_OUT_OK)) continue;
        if (o[i].out == LC_OUT_OK)
            must[nm++] = i;
        else
            maybe[nu++] = i;
    }
    for (int sub = 0; sub < (1 << nu); sub++) {
        int sel[BRUTE_OPS_MAX], ns = 0;
        for (int i = 0; i < nm; i++)
            sel[ns++] = must[i];
        for (int i = 0; i < nu; i++)
            if (sub & (1 << i)) sel[ns++] = maybe[i];
        if (brute_extend(o, sel, ns, 0, -1)) return 1;
    }
    return 0;
}

static void brute_force(void)
{
    test_section("agreement with brute force");
    static const char *const vn[] = {"a", "b", "c"};
    int disagree = 0, lin = 0;
    rs = 7;
    for (int h = 0; h < BRUTE_HISTORIES; h++) {
        bop o[BRUTE_OPS_MAX];
        int n = 2 + (int)(rnd() % (BRUTE_OPS_MAX - 1));
        int nvals = 1 + (int)(rnd() % 3);
        for (int i = 0; i < n; i++) {
            bop *x = &o[i];
            unsigned k = (unsigned)(rnd() % 10);
            x->kind = k < 5 ? LC_WRITE : k < 9 ? LC_READ : LC_DEL;
            unsigned f = (unsigned)(rnd() % 10);
            x->out = f < 7 ? LC_OUT_OK : f < 9 ? LC_OUT_UNKNOWN : LC_OUT_FAIL;
            x->call = (int)(rnd() % 20);
            x->ret = x->call + (int)(rnd() % 8);
            if (x->kind == LC_WRITE)
                x->val = (int)(rnd() % (uint64_t)nvals);
            else if (x->kind == LC_READ)
                x->val = (int)(rnd() % (uint64_t)(nvals + 1)) - 1;
            else
                x->val = (int)(rnd() % 3) - 1;
        }
        for (int i = 0; i < n; i++) {
            const bop *x = &o[i];
            const char *v = x->kind == LC_WRITE                 ? vn[x->val]
                            : x->kind == LC_READ && x->val >= 0 ? vn[x->val]
                                                                : NULL;
            add(i, x->kind, "k", v, x->call, x->ret, x->out, x->kind == LC_DEL ? x->val : -1);
        }
        lc_report rep;
        int got = lc_check(H, NULL, &rep);
        int want = brute(o, n) ? LC_LINEARIZABLE : LC_NOT_LINEARIZABLE;
        lin += want == LC_LINEARIZABLE;
        if (got != want && disagree++ < 3) {
            printf("disagreement (brute force says %s):\n",
                   want == LC_LINEARIZABLE ? "linearizable" : "not");
            lc_write_history(stdout, H);
        }
        lc_report_free(&rep);
        lc_history_free(H);
        H = lc_history_new();
    }
    printf("   %d random histories, %d of them linearizable\n", BRUTE_HISTORIES, lin);
    test_cond("the search agrees with brute force on every one", disagree == 0);
    test_cond("and both verdicts were common",
              lin > BRUTE_HISTORIES / 10 && lin < BRUTE_HISTORIES * 9 / 10);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    H = lc_history_new();
    small_histories();
    file_format();
    too_big();
    threads();
    brute_force();
    big_random();
    lc_history_free(H);
    return test_report();
}
