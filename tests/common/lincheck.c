/* lincheck.c -- the Wing-Gong-Lowe linearizability search over per-key
 * registers, with Lowe's memoisation, and the history file format (see
 * lincheck.h for the model, the format and the API).
 *
 * The search, for one key. Every operation that must be placed (ok, or an
 * unknown one kept) has a call entry, and an ok one a return entry, in one
 * list sorted by time (a call before a return at the same instant, so
 * operations that touch are treated as concurrent: never a false alarm from
 * clock granularity). Walking the list from its head, a call entry is a
 * candidate to linearize next: if the register allows it and the
 * configuration it leads to (set of linearized operations, register value)
 * was never explored, it is taken: both its entries are lifted out of the
 * list, the choice is pushed, and the walk restarts at the head. Reaching
 * a return entry means that operation can no longer be placed: pop the
 * last choice, put its entries back and try the candidate after it. The key
 * is linearizable when every ok operation is placed (unknown operations
 * left over never took effect); it is not when the stack runs out.
 *
 * What keeps it fast on long histories:
 *   - the memo table (every configuration explored; one explored and left
 *     has failed, since sets only grow along a path), with each set stored
 *     as (number of leading all-ones 64-bit words, the non-zero words past
 *     them, its population): operations are numbered in call order, so the
 *     linearized set is a prefix plus a few operations near its end, a few
 *     dozen bytes whatever the history's length. A Zobrist hash of the set,
 *     kept up to date with every bit flipped, finds the entry in O(1);
 *   - reads are forced moves: a read the register allows now is placed at
 *     once, and if that fails the configuration has failed (a read changes
 *     nothing, so moving it earlier never breaks a valid order);
 *   - the overwrite prune: placing a write or a del that replaces value v
 *     while an ok read of v is still unplaced and no unplaced write of v is
 *     left cannot lead anywhere (that read could never be satisfied), so it
 *     is not tried. With unique values this pins each write to its reads;
 *   - hidden writes (ok writes of a value no read returned, and no del
 *     result checked on the key): one is never a choice; it is placed just
 *     before the next write or del placed while it is pending (it is then
 *     invisible, and the earliest such place is as good as any), or at its
 *     return entry if none came (then it is the last write so far);
 *   - unknown writes: dropped if no read returned their value (placing one
 *     only hides what was there; with a checked del on the key they are
 *     kept, as such a del observes presence); made ok, returning at the
 *     earliest read of their value, if they are that value's only writer
 *     (that read needed it); the rest stay pending, and identical pending
 *     unknown operations (same kind and value, all already called) are tried
 *     in one order only, since any one of them can stand for another.
 * lincheck_test checks every verdict against a brute-force search on
 * thousands of small random histories, which is what keeps these shortcuts
 * honest.
 * The memo table's bytes, the steps and the wall-clock time are bounded per
 * key; past any of them the key is "too big" (undecided), not a hang.
 *
 * Explanations: the search remembers the furthest return entry it was
 * stopped at, and the register values it had there. That operation is the
 * one no order gets past; the explanation lists it, the writes of the value
 * it read, the later reads that held the register on its value, the last
 * writes before it and the operations overlapping it.
 */
#include "lincheck.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LC_NIL (-1)             /* the register's "absent" value and a nil result */
#define LC_STR_TABLE_MIN 1024   /* first size of the string hash table */
#define LC_OPS_INITIAL 4096     /* first capacity of the op array */
#define LC_SEEN_MAX 64          /* identical-unknown bookkeeping per walk */
#define LC_CLOCK_EVERY 65536    /* steps between two looks at the clock */
#define LC_CACHE_TABLE_MIN 4096 /* first size of a key's memo hash table */
#define LC_EXPLAIN_RECENT 3     /* writes before the culprit that are listed */
#define LC_EXPLAIN_WRITERS 2    /* writers of the culprit's value that are listed */

/* ---- the history ---- */

typedef struct lc_rec {
    int64_t call, ret;
    int32_t client;
    int32_t key; /* string id */
    int32_t val; /* string id; LC_NIL: nil (read) or none */
    uint8_t kind, outcome;
    int8_t del_result;
} lc_rec;

struct lc_history {
    pthread_mutex_t mu;
    lc_rec *ops;
    long n, cap;
    /* Interned strings: keys and values share one id space. */
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *soff, *slen;
    int32_t nstr, scap;
    int32_t *tab; /* open addressing over string ids, -1 empty */
    size_t tabcap;
};

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

lc_history *lc_history_new(void)
{
    lc_history *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return NULL;
    }
    return h;
}

void lc_history_free(lc_history *h)
{
    if (!h) return;
    pthread_mutex_destroy(&h->mu);
    free(h->ops);
    free(h->arena);
    free(h->soff);
    free(h->slen);
    free(h->tab);
    free(h);
}

long lc_count(const lc_history *h)
{
    lc_history *m = (lc_history *)(uintptr_t)h; /* the lock only */
    pthread_mutex_lock(&m->mu);
    long n = h->n;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static const char *str_at(const lc_history *h, int32_t id, size_t *len)
{
    *len = h->slen[id];
    return h->arena + h->soff[id];
}

static int tab_grow(lc_history *h)
{
    size_t cap = h->tabcap ? h->tabcap * 2 : LC_STR_TABLE_MIN;
    if (cap > (size_t)LC_OPS_MAX * 8) return -1;
    int32_t *t = malloc(cap * sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < cap; i++)
        t[i] = -1;
    for (int32_t id = 0; id < h->nstr; id++) {
        size_t l;
        const char *s = str_at(h, id, &l);
        size_t j = (size_t)fnv(s, l) & (cap - 1);
        while (t[j] >= 0)
            j = (j + 1) & (cap - 1);
        t[j] = id;
    }
    free(h->tab);
    h->tab = t;
    h->tabcap = cap;
    return 0;
}

/* The id of string P[0..N), interned on first sight; -1 at a limit. */
static int32_t intern(lc_history *h, const char *p, size_t n, char *err, size_t errlen)
{
    if (h->tabcap == 0 || (size_t)h->nstr * 2 >= h->tabcap) {
        if (tab_grow(h) < 0) {
            snprintf(err, errlen, "out of memory (string table)");
            return -1;
        }
    }
    size_t j = (size_t)fnv(p, n) & (h->tabcap - 1);
    for (; h->tab[j] >= 0; j = (j + 1) & (h->tabcap - 1)) {
        size_t l;
        const char *s = str_at(h, h->tab[j], &l);
        if (l == n && memcmp(s, p, n) == 0) return h->tab[j];
    }
    if (h->arena_len + n > (size_t)LC_STRINGS_BYTES_MAX || h->nstr >= INT32_MAX / 2) {
        snprintf(err, errlen,
                 "more than %ld bytes of distinct keys and values (LC_STRINGS_BYTES_MAX)",
                 (long)LC_STRINGS_BYTES_MAX);
        return -1;
    }
    if (h->arena_len + n > h->arena_cap) {
        size_t cap = h->arena_cap ? h->arena_cap : 65536;
        while (cap < h->arena_len + n)
            cap *= 2;
        if (cap > (size_t)LC_STRINGS_BYTES_MAX) cap = (size_t)LC_STRINGS_BYTES_MAX;
        char *a = realloc(h->arena, cap);
        if (!a) {
            snprintf(err, errlen, "out of memory (strings)");
            return -1;
        }
        h->arena = a;
        h->arena_cap = cap;
    }
    if (h->nstr == h->scap) {
        int32_t cap = h->scap ? h->scap * 2 : 1024;
        uint32_t *o = realloc(h->soff, (size_t)cap * sizeof *o);
        if (o) h->soff = o;
        uint32_t *l = o ? realloc(h->slen, (size_t)cap * sizeof *l) : NULL;
        if (!l) {
            snprintf(err, errlen, "out of memory (strings)");
            return -1;
        }
        h->slen = l;
        h->scap = cap;
    }
    if (n) memcpy(h->arena + h->arena_len, p, n);
    int32_t id = h->nstr++;
    h->soff[id] = (uint32_t)h->arena_len;
    h->slen[id] = (uint32_t)n;
    h->arena_len += n;
    h->tab[j] = id;
    return id;
}

int lc_add(lc_history *h, const lc_op *op, char *err, size_t errlen)
{
    char scratch[8];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = 0;
    if (!h || !op || !op->key) {
        snprintf(err, errlen, "no op or no key");
        return -1;
    }
    if (op->kind != LC_WRITE && op->kind != LC_READ && op->kind != LC_DEL) {
        snprintf(err, errlen, "unknown op kind %d", (int)op->kind);
        return -1;
    }
    if (op->outcome != LC_OUT_OK && op->outcome != LC_OUT_FAIL && op->outcome != LC_OUT_UNKNOWN) {
        snprintf(err, errlen, "unknown outcome %d", (int)op->outcome);
        return -1;
    }
    if (op->client < 0 || op->client > LC_CLIENT_MAX) {
        snprintf(err, errlen, "client id %ld outside [0, %ld]", op->client, LC_CLIENT_MAX);
        return -1;
    }
    if (op->call_us < 0 || op->call_us > LC_TIME_MAX) {
        snprintf(err, errlen, "call time %" PRId64 " outside [0, LC_TIME_MAX]", op->call_us);
        return -1;
    }
    if (op->outcome != LC_OUT_UNKNOWN && (op->ret_us < op->call_us || op->ret_us > LC_TIME_MAX)) {
        snprintf(err, errlen,
                 "return time %" PRId64 " before the call (%" PRId64 ") or past LC_TIME_MAX",
                 op->ret_us, op->call_us);
        return -1;
    }
    size_t klen = op->key_len ? op->key_len : strlen(op->key);
    if (klen > LC_KEY_MAX) {
        snprintf(err, errlen, "key of %zu bytes (LC_KEY_MAX is %d)", klen, LC_KEY_MAX);
        return -1;
    }
    int has_value = op->kind == LC_WRITE || (op->kind == LC_READ && op->outcome == LC_OUT_OK);
    if (op->kind == LC_WRITE && !op->value) {
        snprintf(err, errlen, "a write without a value");
        return -1;
    }
    size_t vlen = 0;
    if (has_value && op->value && !op->value_empty)
        vlen = op->value_len ? op->value_len : strlen(op->value);
    if (vlen > LC_VALUE_MAX) {
        snprintf(err, errlen, "value of %zu bytes (LC_VALUE_MAX is %d)", vlen, LC_VALUE_MAX);
        return -1;
    }
    if (op->kind == LC_DEL && op->outcome == LC_OUT_OK &&
        (op->del_result < -1 || op->del_result > 1)) {
        snprintf(err, errlen, "a del result other than 1, 0 or -1 (not checked)");
        return -1;
    }
    pthread_mutex_lock(&h->mu);
    int rc = -1;
    if (h->n >= LC_OPS_MAX) {
        snprintf(err, errlen, "more than %ld operations (LC_OPS_MAX)", LC_OPS_MAX);
        goto out;
    }
    if (h->n == h->cap) {
        long cap = h->cap ? h->cap * 2 : LC_OPS_INITIAL;
        if (cap > LC_OPS_MAX) cap = LC_OPS_MAX;
        lc_rec *o = realloc(h->ops, (size_t)cap * sizeof *o);
        if (!o) {
            snprintf(err, errlen, "out of memory (ops)");
            goto out;
        }
        h->ops = o;
        h->cap = cap;
    }
    lc_rec r = {0};
    r.call = op->call_us;
    r.ret = op->outcome == LC_OUT_UNKNOWN ? INT64_MAX : op->ret_us;
    r.client = (int32_t)op->client;
    r.kind = (uint8_t)op->kind;
    r.outcome = (uint8_t)op->outcome;
    r.del_result = (int8_t)(op->kind == LC_DEL && op->outcome == LC_OUT_OK ? op->del_result : -1);
    r.key = intern(h, op->key, klen, err, errlen);
    r.val = LC_NIL;
    if (r.key < 0) goto out;
    if (has_value && op->value) {
        r.val = intern(h, op->value, vlen, err, errlen);
        if (r.val < 0) goto out;
    }
    h->ops[h->n++] = r;
    rc = 0;
out:
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* ---- the file format ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Unescapes token T into OUT (capacity CAP); length or -1. */
static long unescape(const char *t, char *out, size_t cap)
{
    if (strcmp(t, "%") == 0) return 0;
    size_t n = 0;
    for (const char *p = t; *p; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int a = hexval((unsigned char)p[1]), b = a < 0 ? -1 : hexval((unsigned char)p[2]);
            if (a < 0 || b < 0) return -1;
            c = a * 16 + b;
            p += 2;
        }
        if (n >= cap) return -1;
        out[n++] = (char)c;
    }
    return (long)n;
}

/* Escapes P[0..N) into OUT (at least 3 * N + 4 bytes); returns OUT. */
static char *escape(const char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0) {
        strcpy(out, "%");
        return out;
    }
    int special = (n == 1 && p[0] == '-') || (n == 3 && memcmp(p, "nil", 3) == 0);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7f || c == '%' || (i == 0 && special)) {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
    return out;
}

static int parse_i64(const char *t, int64_t *out)
{
    if (!*t) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (*end || errno || v < 0 || v > LC_TIME_MAX) return -1;
    *out = v;
    return 0;
}

#define LC_FIELDS_MAX 9 /* a line has at most 8 fields; a 9th is an error */

int lc_parse_line(lc_history *h, const char *line, char *err, size_t errlen)
{
    size_t len = strlen(line);
    if ((long)len > LC_LINE_MAX) {
        snprintf(err, errlen, "line longer than LC_LINE_MAX (%ld bytes)", LC_LINE_MAX);
        return -1;
    }
    char *copy = malloc(len + 1);
    char *kbuf = malloc(LC_KEY_MAX + 1), *vbuf = malloc(LC_VALUE_MAX + 1);
    int rc = -1;
    if (!copy || !kbuf || !vbuf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(copy, line, len + 1);
    char *f[LC_FIELDS_MAX];
    int nf = 0;
    for (char *save = NULL, *t = strtok_r(copy, " \t\r\n", &save); t;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (nf == 0 && t[0] == '#') break;
        if (nf == LC_FIELDS_MAX) break;
        f[nf++] = t;
    }
    if (nf == 0) {
        rc = 1;
        goto out;
    }
    if (nf < 7 || nf > 8) {
        snprintf(err, errlen,
                 "%d fields; want <client> <op> <key> <value|-> <call_us> <ret_us|-> "
                 "<ok|fail|unknown> [<result>]",
                 nf);
        goto out;
    }
    lc_op op = {0};
    int64_t client;
    if (parse_i64(f[0], &client) < 0 || client > LC_CLIENT_MAX) {
        snprintf(err, errlen, "bad client id '%.40s'", f[0]);
        goto out;
    }
    op.client = (long)client;
    if (strcmp(f[1], "write") == 0)
        op.kind = LC_WRITE;
    else if (strcmp(f[1], "read") == 0)
        op.kind = LC_READ;
    else if (strcmp(f[1], "del") == 0)
        op.kind = LC_DEL;
    else {
        snprintf(err, errlen, "bad op '%.40s' (write, read or del)", f[1]);
        goto out;
    }
    if (strcmp(f[6], "ok") == 0)
        op.outcome = LC_OUT_OK;
    else if (strcmp(f[6], "fail") == 0)
        op.outcome = LC_OUT_FAIL;
    else if (strcmp(f[6], "unknown") == 0)
        op.outcome = LC_OUT_UNKNOWN;
    else {
        snprintf(err, errlen, "bad outcome '%.40s' (ok, fail or unknown)", f[6]);
        goto out;
    }
    long kl = unescape(f[2], kbuf, LC_KEY_MAX);
    if (kl < 0) {
        snprintf(err, errlen, "bad key '%.40s' (bad %%XX escape, or longer than LC_KEY_MAX)", f[2]);
        goto out;
    }
    kbuf[kl] = 0;
    op.key = kbuf;
    op.key_len = (size_t)kl;
    if (kl == 0) {
        snprintf(err, errlen, "empty key");
        goto out;
    }
    if (parse_i64(f[4], &op.call_us) < 0) {
        snprintf(err, errlen, "bad call time '%.40s'", f[4]);
        goto out;
    }
    if (strcmp(f[5], "-") == 0) {
        if (op.outcome != LC_OUT_UNKNOWN) {
            snprintf(err, errlen, "return time '-' is only for unknown outcomes");
            goto out;
        }
    } else if (parse_i64(f[5], &op.ret_us) < 0) {
        snprintf(err, errlen, "bad return time '%.40s'", f[5]);
        goto out;
    }
    const char *vtok = NULL; /* the token that holds the value or the result */
    if (op.kind == LC_WRITE) {
        if (strcmp(f[3], "-") == 0) {
            snprintf(err, errlen, "a write needs a value");
            goto out;
        }
        if (nf == 8) {
            snprintf(err, errlen, "a write has no result field");
            goto out;
        }
        vtok = f[3];
    } else {
        if (strcmp(f[3], "-") != 0) {
            snprintf(err, errlen, "a %s takes '-' for its value", f[1]);
            goto out;
        }
        op.del_result = -1;
        if (nf == 8 && op.outcome != LC_OUT_OK) {
            snprintf(err, errlen, "only an ok %s has a result", f[1]);
            goto out;
        }
        if (op.kind == LC_READ && op.outcome == LC_OUT_OK) {
            if (nf != 8) {
                snprintf(err, errlen, "an ok read needs its result (a value or nil)");
                goto out;
            }
            if (strcmp(f[7], "nil") != 0) vtok = f[7];
        }
        if (op.kind == LC_DEL && nf == 8) {
            if (strcmp(f[7], "0") == 0)
                op.del_result = 0;
            else if (strcmp(f[7], "1") == 0)
                op.del_result = 1;
            else {
                snprintf(err, errlen, "a del's result is 1 or 0, not '%.40s'", f[7]);
                goto out;
            }
        }
    }
    if (vtok) {
        long vl = unescape(vtok, vbuf, LC_VALUE_MAX);
        if (vl < 0) {
            snprintf(err, errlen,
                     "bad value '%.40s' (bad %%XX escape, or longer than LC_VALUE_MAX)", vtok);
            goto out;
        }
        vbuf[vl] = 0;
        op.value = vbuf;
        op.value_len = (size_t)vl;
        op.value_empty = vl == 0;
    }
    rc = lc_add(h, &op, err, errlen) == 0 ? 0 : -1;
out:
    free(copy);
    free(kbuf);
    free(vbuf);
    return rc;
}

int lc_read_file(lc_history *h, const char *path, char *err, size_t errlen)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* One buffer of the longest line allowed (+ newline and NUL): a longer
     * line is refused, not allocated for. */
    char *line = malloc((size_t)LC_LINE_MAX + 2);
    long lineno = 0;
    int rc = 0;
    char why[256];
    if (!line) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    while (rc == 0 && fgets(line, LC_LINE_MAX + 2, fp)) {
        lineno++;
        size_t n = strlen(line);
        if (n > (size_t)LC_LINE_MAX && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%ld: line longer than LC_LINE_MAX (%ld bytes)", path, lineno,
                     LC_LINE_MAX);
            rc = -1;
        } else if (lc_parse_line(h, line, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%ld: %s", path, lineno, why);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    if (fp != stdin) fclose(fp);
    return rc;
}

static const char *const kind_names[] = {"write", "read", "del"};
static const char *const outcome_names[] = {"ok", "fail", "unknown"};

int lc_write_op(FILE *fp, const lc_op *op)
{
    size_t klen = op->key_len ? op->key_len : strlen(op->key);
    size_t vlen = 0;
    int has_value =
        op->value && (op->kind == LC_WRITE || (op->kind == LC_READ && op->outcome == LC_OUT_OK));
    if (has_value) vlen = op->value_empty ? 0 : op->value_len ? op->value_len : strlen(op->value);
    if (klen > LC_KEY_MAX || vlen > LC_VALUE_MAX) return -1;
    char *kout = malloc(3 * klen + 8), *vesc = malloc(3 * vlen + 8);
    if (!kout || !vesc) {
        free(kout);
        free(vesc);
        return -1;
    }
    escape(op->key, klen, kout);
    const char *v = has_value ? escape(op->value, vlen, vesc) : "-";
    char ret[32];
    if (op->outcome == LC_OUT_UNKNOWN)
        snprintf(ret, sizeof ret, "-");
    else
        snprintf(ret, sizeof ret, "%" PRId64, op->ret_us);
    int rc;
    if (op->kind == LC_WRITE)
        rc = fprintf(fp, "%ld write %s %s %" PRId64 " %s %s\n", op->client, kout, v, op->call_us,
                     ret, outcome_names[op->outcome]);
    else if (op->kind == LC_READ && op->outcome == LC_OUT_OK)
        rc = fprintf(fp, "%ld read %s - %" PRId64 " %s ok %s\n", op->client, kout, op->call_us, ret,
                     op->value ? v : "nil");
    else if (op->kind == LC_DEL && op->outcome == LC_OUT_OK && op->del_result >= 0)
        rc = fprintf(fp, "%ld del %s - %" PRId64 " %s ok %d\n", op->client, kout, op->call_us, ret,
                     op->del_result);
    else
        rc = fprintf(fp, "%ld %s %s - %" PRId64 " %s %s\n", op->client, kind_names[op->kind], kout,
                     op->call_us, ret, outcome_names[op->outcome]);
    free(kout);
    free(vesc);
    return rc < 0 ? -1 : 0;
}

/* The lc_op view of record R (strings point into the history). */
static lc_op rec_op(const lc_history *h, const lc_rec *r)
{
    lc_op op = {0};
    op.client = r->client;
    op.kind = (lc_kind)r->kind;
    op.outcome = (lc_outcome)r->outcome;
    op.call_us = r->call;
    op.ret_us = r->ret;
    op.key = str_at(h, r->key, &op.key_len);
    if (r->val != LC_NIL) {
        op.value = str_at(h, r->val, &op.value_len);
        op.value_empty = op.value_len == 0;
    }
    op.del_result = r->del_result;
    return op;
}

int lc_write_history(FILE *fp, const lc_history *h)
{
    lc_history *m = (lc_history *)(uintptr_t)h; /* the lock only */
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    for (long i = 0; i < h->n && rc == 0; i++) {
        lc_op op = rec_op(h, &h->ops[i]);
        rc = lc_write_op(fp, &op);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- one key's search ---- */

/* Values are renumbered per key, densely: 0 .. nv-1, and nv for nil (the
 * register's "absent"), so the counters below are plain arrays. */
typedef struct sop {
    int64_t call, ret; /* ret: INT64_MAX for unknown */
    int32_t vi;        /* write: value; read: expected (nil index for nil); del: nil index */
    int32_t orig;      /* index into the history */
    uint8_t kind, unknown, converted;
    uint8_t hidden; /* an ok write nobody reads: placed with the next write, or at its return */
    int8_t del_result;
} sop;

typedef struct cent {
    uint64_t hash;
    uint64_t pairs; /* offset of its (index, word) pairs in the pair arena */
    int32_t state;
    uint32_t p, pop, npairs;
} cent;

typedef struct frame {
    int32_t op;
    int32_t prev_state;
    uint8_t forced; /* no alternative at its level: popping it fails the level too */
    uint32_t nauto; /* hidden writes placed just before it (on the aux stack) */
} frame;

typedef struct search {
    const lc_history *h;
    sop *op;
    int n, nok;
    int32_t nv, nil; /* values; the nil index (= nv) */
    int32_t *vstr;   /* value index -> string id */
    int32_t *preads; /* value index -> ok reads of it not placed yet */
    int32_t *pwrite; /* value index -> writes of it (nil: dels) not placed yet */
    /* entries: 0 .. ne-1 sorted by time; ne is the head sentinel */
    int32_t *eop;     /* op of the entry */
    uint8_t *eret;    /* 1: a return entry */
    int32_t *ecall;   /* op -> its call entry */
    int32_t *eret_of; /* op -> its return entry (-1: none) */
    int32_t *next, *prev;
    int ne;
    /* the linearized set */
    uint64_t *bits, *zob;
    uint32_t nwords, p, hi, pop;
    uint64_t zh;
    /* the path */
    frame *stack;
    int32_t *aux;
    int sp, ap, lifted_ok;
    int32_t state;
    /* memo table */
    cent *ce;
    size_t nce, cecap;
    uint64_t *pairs;
    size_t npairs, paircap;
    uint32_t *tab; /* entry index + 1; 0 empty */
    size_t tabcap;
    size_t bytes, bytes_max;
    /* explanation */
    int best; /* furthest return entry stopped at (-1: none) */
    int32_t best_states[LC_EXPLAIN_STATES_MAX];
    int nbest_states;
    int too_big; /* 1 memory, 2 steps, 3 time */
} search;

static void set_bit(search *s, int i)
{
    uint32_t w = (uint32_t)i >> 6;
    s->bits[w] |= 1ull << (i & 63);
    s->pop++;
    s->zh ^= s->zob[i];
    if (w > s->hi) s->hi = w;
    while (s->p < s->nwords && s->bits[s->p] == ~0ull)
        s->p++;
}

static void clear_bit(search *s, int i)
{
    uint32_t w = (uint32_t)i >> 6;
    s->bits[w] &= ~(1ull << (i & 63));
    s->pop--;
    s->zh ^= s->zob[i];
    if (w < s->p) s->p = w;
    while (s->hi > 0 && s->bits[s->hi] == 0)
        s->hi--;
}

static uint64_t cfg_hash(const search *s, int32_t state)
{
    return mix64(s->zh ^ ((uint64_t)(uint32_t)(state + 2) * 0x9e3779b97f4a7c15ull));
}

static int cent_matches(const search *s, const cent *e, uint64_t hash, int32_t state)
{
    if (e->hash != hash || e->state != state || e->p != s->p || e->pop != s->pop) return 0;
    const uint64_t *pp = s->pairs + e->pairs;
    for (uint32_t k = 0; k < e->npairs; k++)
        if (s->bits[pp[2 * k]] != pp[2 * k + 1]) return 0;
    return 1;
}

static int cache_has(const search *s, int32_t state)
{
    uint64_t hash = cfg_hash(s, state);
    for (size_t j = (size_t)hash & (s->tabcap - 1); s->tab[j]; j = (j + 1) & (s->tabcap - 1))
        if (cent_matches(s, &s->ce[s->tab[j] - 1], hash, state)) return 1;
    return 0;
}

/* Charges ADD bytes against the key's budget; -1 (too big) past it. */
static int charge(search *s, size_t add)
{
    if (s->bytes + add > s->bytes_max) {
        s->too_big = 1;
        return -1;
    }
    s->bytes += add;
    return 0;
}

static int cache_grow_table(search *s)
{
    size_t cap = s->tabcap * 2;
    if (charge(s, cap * sizeof(uint32_t)) < 0) return -1;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) {
        s->too_big = 1;
        return -1;
    }
    for (size_t i = 0; i < s->nce; i++) {
        size_t j = (size_t)s->ce[i].hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)(i + 1);
    }
    s->bytes -= s->tabcap * sizeof(uint32_t);
    free(s->tab);
    s->tab = t;
    s->tabcap = cap;
    return 0;
}

/* Doubles *CAP (elements of ELEM bytes at *P) until it holds NEED, within
 * the key's byte budget. 0, or -1 (too big). */
static int grow(search *s, void **p, size_t *cap, size_t elem, size_t need)
{
    size_t c = *cap;
    while (c < need)
        c *= 2;
    if (c == *cap) return 0;
    if (charge(s, (c - *cap) * elem) < 0) return -1;
    void *q = realloc(*p, c * elem);
    if (!q) {
        s->too_big = 1;
        return -1;
    }
    *p = q;
    *cap = c;
    return 0;
}

/* Memoises the current set with STATE. 0, or -1 (too big). */
static int cache_add(search *s, int32_t state)
{
    if ((s->nce + 1) * 2 > s->tabcap && cache_grow_table(s) < 0) return -1;
    if (s->nce >= UINT32_MAX - 1) {
        s->too_big = 1;
        return -1;
    }
    if (s->nce == s->cecap && grow(s, (void **)&s->ce, &s->cecap, sizeof *s->ce, s->cecap + 1) < 0)
        return -1;
    uint32_t np = 0;
    for (uint32_t w = s->p; w <= s->hi && w < s->nwords; w++)
        np += s->bits[w] != 0;
    if (grow(s, (void **)&s->pairs, &s->paircap, sizeof *s->pairs, s->npairs + 2 * (size_t)np) < 0)
        return -1;
    cent *e = &s->ce[s->nce];
    e->hash = cfg_hash(s, state);
    e->state = state;
    e->p = s->p;
    e->pop = s->pop;
    e->npairs = np;
    e->pairs = s->npairs;
    for (uint32_t w = s->p; w <= s->hi && w < s->nwords; w++)
        if (s->bits[w]) {
            s->pairs[s->npairs++] = w;
            s->pairs[s->npairs++] = s->bits[w];
        }
    size_t j = (size_t)e->hash & (s->tabcap - 1);
    while (s->tab[j])
        j = (j + 1) & (s->tabcap - 1);
    s->tab[j] = (uint32_t)(++s->nce);
    return 0;
}

static void unlink_entry(search *s, int e)
{
    s->next[s->prev[e]] = s->next[e];
    if (s->next[e] >= 0) s->prev[s->next[e]] = s->prev[e];
}

static void relink_entry(search *s, int e)
{
    s->next[s->prev[e]] = e;
    if (s->next[e] >= 0) s->prev[s->next[e]] = e;
}

/* Places OP: out of the list, into the set, off the pending counts. */
static void lift(search *s, int op)
{
    const sop *o = &s->op[op];
    unlink_entry(s, s->ecall[op]);
    if (s->eret_of[op] >= 0) unlink_entry(s, s->eret_of[op]);
    if (o->kind == LC_READ)
        s->preads[o->vi]--;
    else
        s->pwrite[o->vi]--;
    s->lifted_ok += !o->unknown;
}

static void unlift(search *s, int op)
{
    const sop *o = &s->op[op];
    if (s->eret_of[op] >= 0) relink_entry(s, s->eret_of[op]);
    relink_entry(s, s->ecall[op]);
    if (o->kind == LC_READ)
        s->preads[o->vi]++;
    else
        s->pwrite[o->vi]++;
    s->lifted_ok -= !o->unknown;
    clear_bit(s, op);
}

/* The register: can OP run in STATE; *NS gets the state after it. */
static int step(const search *s, const sop *o, int32_t state, int32_t *ns)
{
    switch (o->kind) {
    case LC_WRITE:
        *ns = o->vi;
        return 1;
    case LC_READ:
        *ns = state;
        return state == o->vi;
    default:
        *ns = s->nil;
        return o->del_result < 0 || o->del_result == (state != s->nil);
    }
}

/* Tries to place OP next (FORCED: a hidden write at its return, or a read:
 * no alternative at this level), with the hidden writes available now just
 * before it if it is a write or a del. 1 placed, 0 not (the register, the
 * prune or the memo table said no; s->too_big on a limit). */
static int try_place(search *s, int op, int forced)
{
    const sop *o = &s->op[op];
    int32_t ns;
    if (!step(s, o, s->state, &ns)) return 0;
    /* Overwriting a value that an unplaced read still has to see, with no
     * unplaced write of it left to bring it back, dooms the branch. */
    if (o->kind != LC_READ && ns != s->state && s->preads[s->state] > 0 && s->pwrite[s->state] == 0)
        return 0;
    uint32_t nh = 0;
    if (o->kind != LC_READ && !o->hidden)
        for (int x = s->next[s->ne]; x >= 0 && !s->eret[x]; x = s->next[x])
            if (s->op[s->eop[x]].hidden) s->aux[s->ap + nh++] = s->eop[x];
    for (uint32_t k = 0; k < nh; k++)
        set_bit(s, s->aux[s->ap + k]);
    set_bit(s, op);
    if (cache_has(s, ns) || cache_add(s, ns) < 0) {
        clear_bit(s, op);
        for (uint32_t k = 0; k < nh; k++)
            clear_bit(s, s->aux[s->ap + k]);
        return 0;
    }
    for (uint32_t k = 0; k < nh; k++)
        lift(s, s->aux[s->ap + k]);
    lift(s, op);
    s->stack[s->sp++] = (frame){op, s->state, (uint8_t)(forced || o->kind == LC_READ), nh};
    s->ap += (int)nh;
    s->state = ns;
    return 1;
}

/* Undoes the last placement; returns its frame. */
static frame pop_frame(search *s)
{
    frame f = s->stack[--s->sp];
    unlift(s, f.op);
    for (uint32_t k = 0; k < f.nauto; k++)
        unlift(s, s->aux[--s->ap]);
    s->state = f.prev_state;
    return f;
}

static int cmp_sop(const void *a, const void *b)
{
    const sop *x = a, *y = b;
    if (x->unknown != y->unknown) return x->unknown - y->unknown; /* ok ones first */
    if (x->call != y->call) return x->call < y->call ? -1 : 1;
    return x->orig - y->orig;
}

typedef struct ekey {
    int64_t t;
    int32_t op;
    uint8_t ret;
} ekey;

static int cmp_ekey(const void *a, const void *b)
{
    const ekey *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    if (x->ret != y->ret) return x->ret - y->ret; /* calls first: touching ops overlap */
    return x->op - y->op;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

typedef struct seen {
    int n;
    uint8_t kind[LC_SEEN_MAX];
    int32_t vi[LC_SEEN_MAX];
} seen;

static int seen_has(const seen *z, const sop *o)
{
    for (int i = 0; i < z->n; i++)
        if (z->kind[i] == o->kind && z->vi[i] == o->vi) return 1;
    return 0;
}

static void seen_add(seen *z, const sop *o)
{
    if (z->n < LC_SEEN_MAX && !seen_has(z, o)) {
        z->kind[z->n] = o->kind;
        z->vi[z->n] = o->vi;
        z->n++;
    }
}

/* The unknown operations tried in the walk that reached entry UPTO (it
 * included): every call entry from the head to it was a candidate. */
static void seen_rebuild(const search *s, seen *z, int upto)
{
    z->n = 0;
    for (int e = s->next[s->ne]; e >= 0; e = s->next[e]) {
        if (s->op[s->eop[e]].unknown) seen_add(z, &s->op[s->eop[e]]);
        if (e == upto) break;
    }
}

static void note_frontier(search *s, int e)
{
    if (e > s->best) {
        s->best = e;
        s->nbest_states = 0;
    }
    if (e != s->best) return;
    for (int i = 0; i < s->nbest_states; i++)
        if (s->best_states[i] == s->state) return;
    if (s->nbest_states < LC_EXPLAIN_STATES_MAX) s->best_states[s->nbest_states++] = s->state;
}

/* The search proper. 1 linearizable, 0 not, -1 too big (s->too_big). */
static int wgl(search *s, const lc_limits *lim, long long *steps_out)
{
    size_t frames = (size_t)(s->n + 1);
    long long steps = 0;
    int result = -1;
    if (charge(s, frames * (sizeof *s->stack + sizeof *s->aux)) < 0) goto out;
    s->stack = malloc(frames * sizeof *s->stack);
    s->aux = malloc(frames * sizeof *s->aux);
    if (!s->stack || !s->aux) {
        s->too_big = 1;
        goto out;
    }
    s->state = s->nil;
    double t0 = now_ms();
    seen z = {0};
    if (cache_add(s, s->state) < 0) goto out;
    int e = s->next[s->ne];
    for (;;) {
        if (s->lifted_ok == s->nok) {
            result = 1;
            break;
        }
        if (++steps > lim->steps) {
            s->too_big = 2;
            break;
        }
        if ((steps & (LC_CLOCK_EVERY - 1)) == 0 && now_ms() - t0 > (double)lim->key_ms) {
            s->too_big = 3;
            break;
        }
        /* e >= 0 here: an ok op still unplaced has its return entry ahead. */
        int o = s->eop[e];
        const sop *so = &s->op[o];
        if (!s->eret[e]) {
            if (so->hidden || (so->unknown && seen_has(&z, so))) {
                e = s->next[e];
                continue;
            }
            if (try_place(s, o, 0)) {
                e = s->next[s->ne];
                z.n = 0;
                continue;
            }
            if (s->too_big) break;
            if (so->unknown) seen_add(&z, so);
            e = s->next[e];
            continue;
        }
        /* A return entry: a hidden write goes in now or never; any other op
         * cannot be placed in this configuration. */
        if (so->hidden && try_place(s, o, 1)) {
            e = s->next[s->ne];
            z.n = 0;
            continue;
        }
        if (s->too_big) break;
        note_frontier(s, e);
        int resumed = 0;
        while (s->sp > 0) {
            frame f = pop_frame(s);
            if (!f.forced) {
                e = s->next[s->ecall[f.op]];
                seen_rebuild(s, &z, s->ecall[f.op]);
                resumed = 1;
                break;
            }
        }
        if (!resumed) {
            result = 0;
            break;
        }
    }
out:
    *steps_out = steps;
    return result;
}

/* ---- explanations ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* String id ID (LC_NIL: nil), escaped and cut at 64 bytes. */
static void sb_str(sbuf *b, const lc_history *h, int32_t id)
{
    if (id == LC_NIL) {
        sb_printf(b, "nil");
        return;
    }
    size_t l;
    const char *p = str_at(h, id, &l);
    char esc[3 * 64 + 8];
    if (l > 64)
        sb_printf(b, "%s...(%zu bytes)", escape(p, 64, esc), l);
    else
        sb_printf(b, "%s", escape(p, l, esc));
}

/* Value index VI of the search, as sb_str prints it. */
static void sb_vi(sbuf *b, const search *s, int32_t vi)
{
    sb_str(b, s->h, vi == s->nil ? LC_NIL : s->vstr[vi]);
}

static void sb_op(sbuf *b, const lc_history *h, const sop *so)
{
    const lc_rec *r = &h->ops[so->orig];
    sb_printf(b, "client %d %s", (int)r->client, kind_names[r->kind]);
    if (r->kind == LC_WRITE) {
        sb_printf(b, " ");
        sb_str(b, h, r->val);
    } else if (r->kind == LC_READ) {
        sb_printf(b, " -> ");
        sb_str(b, h, r->val);
    } else if (r->del_result >= 0) {
        sb_printf(b, " -> %d", r->del_result);
    }
    if (r->outcome == LC_OUT_UNKNOWN)
        sb_printf(b, "  [%" PRId64 ", inf) unknown", r->call);
    else
        sb_printf(b, "  [%" PRId64 ", %" PRId64 "] %s", r->call, r->ret, outcome_names[r->outcome]);
    if (so->converted)
        sb_printf(b, " (its value was read: it took effect by %" PRId64 ")", so->ret);
}

typedef struct picks {
    int32_t op[LC_EXPLAIN_OPS_MAX];
    int n;
} picks;

static void pick(picks *p, int32_t op)
{
    for (int j = 0; j < p->n; j++)
        if (p->op[j] == op) return;
    if (p->n < LC_EXPLAIN_OPS_MAX) p->op[p->n++] = op;
}

/* Up to MAX ops matching (KIND, VI) called at T or later, earliest called
 * first (ops are sorted by call already: the ok ones, then the unknown). */
static void pick_from(picks *p, const search *s, int kind, int32_t vi, int64_t t, int max)
{
    for (int i = 0, got = 0; i < s->n && got < max; i++)
        if (s->op[i].kind == kind && s->op[i].vi == vi && s->op[i].call >= t) {
            pick(p, i);
            got++;
        }
}

static char *explain(const search *s)
{
    sbuf b = {malloc(LC_EXPLAIN_BYTES_MAX), 0, LC_EXPLAIN_BYTES_MAX};
    if (!b.p) return NULL;
    b.p[0] = 0;
    if (s->best < 0) {
        sb_printf(&b, "no order fits (no operation reached)");
        return b.p;
    }
    int c = s->eop[s->best];
    const sop *co = &s->op[c];
    picks p = {{0}, 0};
    pick(&p, c);
    sb_printf(&b, "no order of the operations gets past the return of: ");
    sb_op(&b, s->h, co);
    sb_printf(&b, "\n    there the register could only hold: ");
    for (int i = 0; i < s->nbest_states; i++) {
        if (i) sb_printf(&b, " or ");
        sb_vi(&b, s, s->best_states[i]);
    }
    if (co->kind == LC_READ) {
        sb_printf(&b, " (the read needs ");
        sb_vi(&b, s, co->vi);
        sb_printf(&b, ")");
        if (co->vi != s->nil) pick_from(&p, s, LC_WRITE, co->vi, INT64_MIN, LC_EXPLAIN_WRITERS);
    }
    /* The register may have been held on a value by a read that still had
     * to see it: one not called yet (one already called would have been
     * placed at once), so a read of it called after this op returned. */
    int held = 0;
    for (int i = 0; i < s->nbest_states; i++) {
        int before = p.n;
        pick_from(&p, s, LC_READ, s->best_states[i], co->ret, LC_EXPLAIN_WRITERS);
        held |= p.n > before;
    }
    if (held)
        sb_printf(&b,
                  "\n    and could not move on from it: a later read (below) still has to see it");
    /* the last writes or dels that returned before it was called */
    int recent[LC_EXPLAIN_RECENT], nr = 0;
    for (int i = 0; i < s->n; i++) {
        const sop *o = &s->op[i];
        if (o->kind == LC_READ || o->unknown || o->ret >= co->call) continue;
        if (nr < LC_EXPLAIN_RECENT) {
            recent[nr++] = i;
            continue;
        }
        int oldest = 0;
        for (int k = 1; k < nr; k++)
            if (s->op[recent[k]].ret < s->op[recent[oldest]].ret) oldest = k;
        if (o->ret > s->op[recent[oldest]].ret) recent[oldest] = i;
    }
    for (int k = 0; k < nr; k++)
        pick(&p, recent[k]);
    /* the operations overlapping it */
    for (int i = 0; i < s->n && p.n < LC_EXPLAIN_OPS_MAX; i++)
        if (s->op[i].call <= co->ret && s->op[i].ret >= co->call) pick(&p, i);
    /* by call time (insertion sort: a handful) */
    for (int i = 1; i < p.n; i++)
        for (int j = i; j > 0; j--) {
            const sop *x = &s->op[p.op[j - 1]], *y = &s->op[p.op[j]];
            if (x->call < y->call || (x->call == y->call && x->orig <= y->orig)) break;
            int32_t t = p.op[j];
            p.op[j] = p.op[j - 1];
            p.op[j - 1] = t;
        }
    sb_printf(&b, "\n    operations involved:\n");
    for (int i = 0; i < p.n; i++) {
        sb_printf(&b, "      %s ", p.op[i] == c ? "=>" : "  ");
        sb_op(&b, s->h, &s->op[p.op[i]]);
        sb_printf(&b, "\n");
    }
    if (b.len && b.p[b.len - 1] == '\n') b.p[--b.len] = 0;
    return b.p;
}

/* ---- per key ---- */

typedef struct vinfo {
    int32_t val;            /* string id; LC_NIL: empty slot */
    int32_t vi;             /* dense index */
    int writers;            /* writes of it that did not fail */
    int64_t first_read_ret; /* INT64_MAX: never read */
} vinfo;

/* A small map from value string id to vinfo for one key (open addressing). */
typedef struct vmap {
    vinfo *v;
    size_t cap;
    int32_t n;
} vmap;

static vinfo *vmap_get(vmap *m, int32_t val)
{
    size_t j = (size_t)mix64((uint64_t)(uint32_t)val) & (m->cap - 1);
    while (m->v[j].val != LC_NIL && m->v[j].val != val)
        j = (j + 1) & (m->cap - 1);
    if (m->v[j].val == LC_NIL) {
        m->v[j].val = val;
        m->v[j].vi = m->n++;
        m->v[j].writers = 0;
        m->v[j].first_read_ret = INT64_MAX;
    }
    return &m->v[j];
}

static void free_search(search *s)
{
    void *all[] = {s->op,    s->vstr,    s->preads, s->pwrite, s->eop,  s->eret,
                   s->ecall, s->eret_of, s->next,   s->prev,   s->bits, s->zob,
                   s->stack, s->aux,     s->ce,     s->pairs,  s->tab};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static const char *const too_big_why[] = {"", "the memo table outgrew its byte limit",
                                          "the search took more steps than its limit",
                                          "the search ran out of time"};

/* The ops of one key, filtered and renumbered for the search (see the top
 * of the file): fail and unknown reads out, unknown writes nobody read out,
 * unknown writes whose unique value was read made ok, hidden writes marked.
 * 0, or -1 out of memory. */
static int prepare_ops(search *s, const lc_history *h, const int32_t *idx, long m)
{
    vmap vm = {NULL, 16, 0};
    while (vm.cap < (size_t)m * 2 + 16)
        vm.cap *= 2;
    vm.v = malloc(vm.cap * sizeof *vm.v);
    s->op = malloc((size_t)(m + 1) * sizeof *s->op);
    if (!vm.v || !s->op) {
        free(vm.v);
        return -1;
    }
    for (size_t j = 0; j < vm.cap; j++)
        vm.v[j].val = LC_NIL;
    int checked_del = 0;
    for (long i = 0; i < m; i++) {
        const lc_rec *x = &h->ops[idx[i]];
        if (x->outcome == LC_OUT_FAIL) continue;
        if (x->kind == LC_WRITE) vmap_get(&vm, x->val)->writers++;
        if (x->kind == LC_READ && x->outcome == LC_OUT_OK && x->val != LC_NIL) {
            vinfo *vi = vmap_get(&vm, x->val);
            if (x->ret < vi->first_read_ret) vi->first_read_ret = x->ret;
        }
        checked_del |= x->kind == LC_DEL && x->outcome == LC_OUT_OK && x->del_result >= 0;
    }
    s->nv = vm.n;
    s->nil = vm.n;
    s->vstr = malloc(((size_t)vm.n + 1) * sizeof *s->vstr);
    s->preads = calloc((size_t)vm.n + 1, sizeof *s->preads);
    s->pwrite = calloc((size_t)vm.n + 1, sizeof *s->pwrite);
    if (!s->vstr || !s->preads || !s->pwrite) {
        free(vm.v);
        return -1;
    }
    for (size_t j = 0; j < vm.cap; j++)
        if (vm.v[j].val != LC_NIL) s->vstr[vm.v[j].vi] = vm.v[j].val;
    int n = 0;
    for (long i = 0; i < m; i++) {
        const lc_rec *x = &h->ops[idx[i]];
        if (x->outcome == LC_OUT_FAIL) continue;
        if (x->kind == LC_READ && x->outcome != LC_OUT_OK) continue;
        const vinfo *vi = x->val != LC_NIL ? vmap_get(&vm, x->val) : NULL;
        sop o = {x->call, x->ret,  vi ? vi->vi : s->nil,
                 idx[i],  x->kind, x->outcome == LC_OUT_UNKNOWN,
                 0,       0,       x->del_result};
        if (x->kind == LC_DEL) o.vi = s->nil;
        if (x->kind == LC_WRITE) {
            int read = vi->first_read_ret != INT64_MAX;
            if (o.unknown && !read && !checked_del) continue; /* never seen: never mind */
            if (o.unknown && read && vi->writers == 1 && vi->first_read_ret >= o.call) {
                o.unknown = 0;
                o.converted = 1;
                o.ret = vi->first_read_ret;
            }
            o.hidden = !o.unknown && !read && !checked_del;
        }
        if (o.kind == LC_READ)
            s->preads[o.vi]++;
        else
            s->pwrite[o.vi]++;
        s->op[n++] = o;
    }
    free(vm.v);
    s->n = n;
    return 0;
}

/* Checks the M ops IDX[] of one key into R. -1 on out of memory. */
static int check_key(const lc_history *h, const int32_t *idx, long m, const lc_limits *lim,
                     lc_key_result *r)
{
    double t0 = now_ms();
    search s;
    memset(&s, 0, sizeof s);
    s.h = h;
    s.best = -1;
    s.bytes_max = lim->cache_bytes;
    int rc = -1;
    r->ops = m;
    if (m > LC_KEY_OPS_MAX) {
        r->verdict = LC_KEY_TOO_BIG;
        char buf[160];
        snprintf(buf, sizeof buf, "%ld operations on one key (LC_KEY_OPS_MAX is %ld)", m,
                 LC_KEY_OPS_MAX);
        r->explain = strdup(buf);
        r->ms = now_ms() - t0;
        return 0;
    }
    if (prepare_ops(&s, h, idx, m) < 0) goto out;
    int n = s.n;
    r->checked = n;
    qsort(s.op, (size_t)n, sizeof *s.op, cmp_sop);
    for (s.nok = 0; s.nok < n && !s.op[s.nok].unknown; s.nok++) {
    }
    s.ne = s.nok * 2 + (n - s.nok);
    s.nwords = (uint32_t)((n + 63) / 64);
    if (s.nwords == 0) s.nwords = 1;
    ekey *ek = malloc((size_t)s.ne * sizeof *ek + 1);
    s.eop = malloc((size_t)(s.ne + 1) * sizeof *s.eop);
    s.eret = malloc((size_t)(s.ne + 1));
    s.ecall = malloc((size_t)(n + 1) * sizeof *s.ecall);
    s.eret_of = malloc((size_t)(n + 1) * sizeof *s.eret_of);
    s.next = malloc((size_t)(s.ne + 1) * sizeof *s.next);
    s.prev = malloc((size_t)(s.ne + 1) * sizeof *s.prev);
    s.bits = calloc(s.nwords, sizeof *s.bits);
    s.zob = malloc((size_t)(n + 1) * sizeof *s.zob);
    s.cecap = 1024;
    s.paircap = 1024;
    s.tabcap = LC_CACHE_TABLE_MIN;
    s.ce = malloc(s.cecap * sizeof *s.ce);
    s.pairs = malloc(s.paircap * sizeof *s.pairs);
    s.tab = calloc(s.tabcap, sizeof *s.tab);
    if (!ek || !s.eop || !s.eret || !s.ecall || !s.eret_of || !s.next || !s.prev || !s.bits ||
        !s.zob || !s.ce || !s.pairs || !s.tab) {
        free(ek);
        goto out;
    }
    s.bytes = s.cecap * sizeof *s.ce + s.paircap * sizeof *s.pairs + s.tabcap * sizeof *s.tab;
    int ne = 0;
    for (int i = 0; i < n; i++) {
        ek[ne++] = (ekey){s.op[i].call, i, 0};
        if (!s.op[i].unknown) ek[ne++] = (ekey){s.op[i].ret, i, 1};
        s.zob[i] = mix64(0x5eed0000ull + (uint64_t)i);
        s.eret_of[i] = -1;
    }
    qsort(ek, (size_t)ne, sizeof *ek, cmp_ekey);
    for (int e = 0; e < ne; e++) {
        s.eop[e] = ek[e].op;
        s.eret[e] = ek[e].ret;
        if (ek[e].ret)
            s.eret_of[ek[e].op] = e;
        else
            s.ecall[ek[e].op] = e;
        s.next[e] = e + 1 < ne ? e + 1 : -1;
        s.prev[e] = e > 0 ? e - 1 : ne;
    }
    free(ek);
    s.next[ne] = ne > 0 ? 0 : -1; /* the head sentinel */
    s.prev[ne] = -1;
    long long steps = 0;
    int v = wgl(&s, lim, &steps);
    r->steps = steps;
    r->cache_entries = (long)s.nce;
    if (v == 1) {
        r->verdict = LC_KEY_LINEARIZABLE;
    } else if (v == 0) {
        r->verdict = LC_KEY_NOT_LINEARIZABLE;
        r->explain = explain(&s);
    } else {
        r->verdict = LC_KEY_TOO_BIG;
        char buf[256];
        snprintf(buf, sizeof buf,
                 "unknown (too big): %s after %lld steps, %zu configurations, "
                 "%zu bytes",
                 too_big_why[s.too_big], steps, s.nce, s.bytes);
        r->explain = strdup(buf);
    }
    rc = 0;
out:
    free_search(&s);
    r->ms = now_ms() - t0;
    return rc;
}

int lc_check(const lc_history *h, const lc_limits *lim_in, lc_report *rep)
{
    memset(rep, 0, sizeof *rep);
    double t0 = now_ms();
    lc_limits lim = {LC_CACHE_BYTES_DEFAULT, LC_STEPS_DEFAULT, LC_KEY_MS_DEFAULT};
    if (lim_in) {
        if (lim_in->cache_bytes) lim.cache_bytes = lim_in->cache_bytes;
        if (lim_in->steps) lim.steps = lim_in->steps;
        if (lim_in->key_ms) lim.key_ms = lim_in->key_ms;
    }
    lc_history *m = (lc_history *)(uintptr_t)h; /* the lock only */
    pthread_mutex_lock(&m->mu);
    long n = h->n;
    int32_t nstr = h->nstr;
    /* Ops grouped by key, keys in the order of their ids (first appearance). */
    int32_t *count = calloc((size_t)nstr + 1, sizeof *count);
    int32_t *start = malloc(((size_t)nstr + 2) * sizeof *start);
    int32_t *idx = malloc((size_t)n * sizeof *idx + 1);
    int rc = LC_ERROR;
    if (!count || !start || !idx) goto out;
    for (long i = 0; i < n; i++)
        count[h->ops[i].key]++;
    long nkeys = 0;
    start[0] = 0;
    for (int32_t k = 0; k < nstr; k++) {
        start[k + 1] = start[k] + count[k];
        nkeys += count[k] > 0;
    }
    for (int32_t k = 0; k < nstr; k++)
        count[k] = 0;
    for (long i = 0; i < n; i++) {
        int32_t k = h->ops[i].key;
        idx[start[k] + count[k]++] = (int32_t)i;
    }
    rep->ops = n;
    rep->k = calloc((size_t)nkeys + 1, sizeof *rep->k);
    if (!rep->k) goto out;
    for (int32_t k = 0; k < nstr; k++) {
        if (count[k] == 0) continue;
        lc_key_result *kr = &rep->k[rep->keys++];
        size_t kl;
        const char *kp = str_at(h, k, &kl);
        kr->key = malloc(3 * kl + 8);
        if (!kr->key) goto out;
        escape(kp, kl, kr->key);
        if (check_key(h, idx + start[k], count[k], &lim, kr) < 0) goto out;
        if (kr->verdict == LC_KEY_LINEARIZABLE)
            rep->linearizable++;
        else if (kr->verdict == LC_KEY_NOT_LINEARIZABLE)
            rep->not_linearizable++;
        else
            rep->too_big++;
    }
    rc = rep->not_linearizable ? LC_NOT_LINEARIZABLE
         : rep->too_big        ? LC_UNDECIDED
                               : LC_LINEARIZABLE;
out:
    pthread_mutex_unlock(&m->mu);
    free(count);
    free(start);
    free(idx);
    rep->ms = now_ms() - t0;
    return rc;
}

void lc_report_print(FILE *fp, const lc_report *rep, int verbose)
{
    fprintf(fp,
            "lincheck: %ld operations on %ld keys: %ld linearizable, %ld NOT linearizable, "
            "%ld unknown (too big); %.0f ms (%.0f ops/s)\n",
            rep->ops, rep->keys, rep->linearizable, rep->not_linearizable, rep->too_big, rep->ms,
            rep->ms > 0 ? (double)rep->ops / (rep->ms / 1000.0) : 0.0);
    int printed = 0;
    for (long i = 0; i < rep->keys; i++) {
        const lc_key_result *k = &rep->k[i];
        if (verbose)
            fprintf(
                fp,
                "lincheck:   key %s: %ld ops (%ld searched), %s, %lld steps, %ld configurations, "
                "%.1f ms\n",
                k->key, k->ops, k->checked,
                k->verdict == LC_KEY_LINEARIZABLE       ? "linearizable"
                : k->verdict == LC_KEY_NOT_LINEARIZABLE ? "NOT linearizable"
                                                        : "unknown (too big)",
                k->steps, k->cache_entries, k->ms);
        if (k->verdict == LC_KEY_LINEARIZABLE || printed >= LC_REPORT_BAD_MAX) continue;
        printed++;
        fprintf(fp, "lincheck: key %s: %s\n    %s\n", k->key,
                k->verdict == LC_KEY_NOT_LINEARIZABLE ? "NOT linearizable" : "unknown (too big)",
                k->explain ? k->explain : "");
    }
    if (printed < rep->not_linearizable + rep->too_big)
        fprintf(fp, "lincheck: (%ld more keys not shown)\n",
                rep->not_linearizable + rep->too_big - printed);
}

void lc_report_free(lc_report *rep)
{
    for (long i = 0; i < rep->keys; i++) {
        free(rep->k[i].key);
        free(rep->k[i].explain);
    }
    free(rep->k);
    memset(rep, 0, sizeof *rep);
}
