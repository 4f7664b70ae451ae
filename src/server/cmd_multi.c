/* cmd_multi.c -- MULTI, EXEC, DISCARD, WATCH, UNWATCH with Redis 7.0's
 * semantics.
 *
 * Queued commands are copied (their arguments live in the input buffer,
 * which moves on). EXEC runs them all inside one keyspace unit
 * (keyspace.h), so their writes become one record: the transaction commits,
 * ships, recovers and applies whole or not at all, and its reply (the array
 * of every command's reply) is sent once that record commits.
 *
 * WATCH keeps, per key, the version of the newest state the client could
 * see (proposed writes included). EXEC compares: any write to the key since
 * (by anyone, expiry and FLUSH included) changes the version, a key that
 * expired since reads as gone, and either fails the transaction with a null
 * reply. A key that was absent and is still absent (FLUSHALL of an empty
 * database) does not, as in Redis. */
#include <stdlib.h>
#include <string.h>

#include "server/client.h"
#include "server/cmd.h"
#include "server/node.h"

#define MULTI_QUEUE_MAX 100000          /* commands one transaction may queue */
#define MULTI_BYTES_MAX (32u << 20)     /* their argument bytes: twice what one
                                           transaction may write (WAL_VAL_MAX) */
#define WATCH_KEYS_MAX 100000           /* keys one client may watch */
#define WATCH_BYTES_MAX (16u << 20)     /* and their bytes */

typedef struct multi_cmd {
    resp_arg *argv;
    size_t argc;
    char *buf; /* the arguments' bytes */
} multi_cmd;

typedef struct watched {
    unsigned db;
    char *key;
    uint32_t klen;
    int exists;        /* live (and not expired) when watched */
    int has_entry;
    kv_version ver;
} watched;

struct multi_state {
    int active;     /* between MULTI and EXEC / DISCARD */
    int dirty;      /* a command failed to queue: EXEC answers EXECABORT */
    int has_write;  /* a queued command writes */
    int has_denyoom; /* a queued command may grow memory (EXEC checks --maxmemory) */
    multi_cmd *q;
    size_t n, cap, bytes;
    watched *w;
    size_t nw, wcap, wbytes;
};

static struct multi_state *multi_get(client *c)
{
    if (!c->multi) c->multi = calloc(1, sizeof *c->multi);
    return c->multi;
}

static void multi_clear_queue(struct multi_state *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->q[i].argv);
        free(m->q[i].buf);
    }
    free(m->q);
    m->q = NULL;
    m->n = m->cap = m->bytes = 0;
    m->active = m->dirty = m->has_write = m->has_denyoom = 0;
}

static void multi_clear_watch(struct multi_state *m)
{
    for (size_t i = 0; i < m->nw; i++) free(m->w[i].key);
    free(m->w);
    m->w = NULL;
    m->nw = m->wcap = m->wbytes = 0;
}

void multi_free(client *c)
{
    if (!c->multi) return;
    multi_clear_queue(c->multi);
    multi_clear_watch(c->multi);
    free(c->multi);
    c->multi = NULL;
}

void multi_end(client *c)
{
    multi_free(c);
    client_mem_update(c);
}

size_t multi_mem(const client *c)
{
    const struct multi_state *m = c->multi;
    return m ? m->bytes + m->cap * sizeof(multi_cmd) + m->wbytes + m->wcap * sizeof(watched) : 0;
}

int multi_queued_count(const client *c)
{
    return c->multi && c->multi->active ? (int)c->multi->n : -1;
}

int multi_active(const client *c)
{
    return c->multi && c->multi->active;
}

void multi_flag_error(client *c)
{
    if (c->multi) c->multi->dirty = 1;
}

int multi_has_denyoom(const client *c)
{
    return c->multi && c->multi->active && c->multi->has_denyoom;
}

void multi_queue(client *c, int is_write, int denyoom)
{
    struct multi_state *m = c->multi;
    size_t bytes = 0;
    for (size_t i = 0; i < c->argc; i++) bytes += c->argv[i].len;
    if (m->n >= MULTI_QUEUE_MAX || bytes > MULTI_BYTES_MAX - m->bytes) {
        m->dirty = 1;
        reply_error(c, "ERR transaction too long: at most %d commands and %u MiB of arguments",
                    MULTI_QUEUE_MAX, MULTI_BYTES_MAX >> 20);
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        multi_cmd *q = realloc(m->q, cap * sizeof *q);
        if (!q) goto oom;
        m->q = q;
        m->cap = cap;
    }
    multi_cmd *mc = &m->q[m->n];
    mc->argv = malloc((c->argc ? c->argc : 1) * sizeof *mc->argv);
    mc->buf = malloc(bytes ? bytes : 1);
    if (!mc->argv || !mc->buf) {
        free(mc->argv);
        free(mc->buf);
        goto oom;
    }
    char *p = mc->buf;
    for (size_t i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].p, c->argv[i].len);
        mc->argv[i].p = p;
        mc->argv[i].len = c->argv[i].len;
        p += c->argv[i].len;
    }
    mc->argc = c->argc;
    m->n++;
    m->bytes += bytes + c->argc * sizeof(resp_arg);
    m->has_write |= is_write;
    m->has_denyoom |= denyoom;
    client_mem_update(c);
    reply_status(c, "QUEUED");
    return;
oom:
    m->dirty = 1;
    reply_error(c, "ERR out of memory queueing the command");
}

void cmd_multi(client *c)
{
    if (multi_active(c)) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    struct multi_state *m = multi_get(c);
    if (!m) {
        reply_error(c, "ERR out of memory");
        return;
    }
    m->active = 1;
    reply_status(c, "OK");
}

void cmd_discard(client *c)
{
    if (!multi_active(c)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    multi_end(c);
    reply_status(c, "OK");
}

void cmd_watch(client *c)
{
    if (multi_active(c)) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    struct multi_state *m = multi_get(c);
    if (!m) {
        reply_error(c, "ERR out of memory");
        return;
    }
    size_t add = 0;
    for (size_t i = 1; i < c->argc; i++) add += c->argv[i].len;
    if (m->nw + c->argc - 1 > WATCH_KEYS_MAX || add > WATCH_BYTES_MAX - m->wbytes) {
        reply_error(c, "ERR too many watched keys (at most %d, %u MiB, per connection)",
                    WATCH_KEYS_MAX, WATCH_BYTES_MAX >> 20);
        return;
    }
    for (size_t i = 1; i < c->argc; i++) {
        const resp_arg *k = &c->argv[i];
        int dup = 0;
        for (size_t j = 0; j < m->nw && !dup; j++)
            dup = m->w[j].db == c->db && m->w[j].klen == k->len &&
                  memcmp(m->w[j].key, k->p, k->len) == 0;
        if (dup) continue;
        if (m->nw == m->wcap) {
            size_t cap = m->wcap ? m->wcap * 2 : 8;
            watched *w = realloc(m->w, cap * sizeof *w);
            if (!w) goto oom;
            m->w = w;
            m->wcap = cap;
        }
        watched *w = &m->w[m->nw];
        w->key = malloc(k->len ? k->len : 1);
        if (!w->key) goto oom;
        memcpy(w->key, k->p, k->len);
        w->klen = (uint32_t)k->len;
        w->db = c->db;
        m->wbytes += k->len;
        /* The newest state: proposed writes included. */
        int was_open = c->n->ks.unit_open;
        c->n->ks.unit_open = 1;
        ks_val v;
        ks_lookup(c->n, c->db, k->p, (uint32_t)k->len, &v);
        c->n->ks.unit_open = was_open;
        w->exists = v.exists;
        w->has_entry = v.has_entry;
        w->ver = v.ver;
        m->nw++;
    }
    client_mem_update(c);
    reply_status(c, "OK");
    return;
oom:
    reply_error(c, "ERR out of memory");
}

void cmd_unwatch(client *c)
{
    if (c->multi) {
        multi_clear_watch(c->multi);
        if (!c->multi->active) multi_end(c);
    }
    reply_status(c, "OK");
}

/* Has any watched key changed since WATCH? (The unit is open, empty.) */
static int watch_dirty(client *c)
{
    struct multi_state *m = c->multi;
    for (size_t i = 0; i < m->nw; i++) {
        const watched *w = &m->w[i];
        ks_val v;
        ks_lookup(c->n, w->db, w->key, w->klen, &v);
        if (v.exists != w->exists) return 1; /* written, deleted or expired since */
        if (v.has_entry && w->has_entry &&
            (v.ver.ts != w->ver.ts || v.ver.node_id != w->ver.node_id))
            return 1;
        if (v.exists && !w->has_entry) return 1;
    }
    return 0;
}

void cmd_exec(client *c)
{
    node *n = c->n;
    if (!multi_active(c)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    struct multi_state *m = c->multi;
    if (m->dirty) {
        multi_end(c);
        reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    if (m->has_write && !command_write_allowed(c)) { /* the node stopped leading since */
        multi_end(c);
        return;
    }
    ks_unit_begin(n);
    if (watch_dirty(c)) {
        ks_unit_discard(n);
        multi_end(c);
        reply_null_array(c);
        return;
    }
    /* Detach the queue: the commands run with C's argv pointing at them. */
    multi_cmd *q = m->q;
    size_t nq = m->n;
    m->q = NULL;
    m->n = m->cap = 0;
    multi_end(c);
    resp_arg *argv = c->argv;
    size_t argc = c->argc, mark = c->reply_mark;
    reply_array(c, (long long)nq);
    for (size_t i = 0; i < nq; i++) {
        c->argv = q[i].argv;
        c->argc = q[i].argc;
        c->reply_mark = client_out_mark(c);
        command_call(c);
    }
    c->argv = argv;
    c->argc = argc;
    c->reply_mark = mark;
    for (size_t i = 0; i < nq; i++) {
        free(q[i].argv);
        free(q[i].buf);
    }
    free(q);
    c->cmd_lsn = ks_unit_commit(n);
}
