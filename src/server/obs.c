/* obs.c -- per-command statistics, error counts, the slow log, the latency
 * monitor, instantaneous rates and MONITOR feeding (see obs.h).
 *
 * Shaped by two constraints: the dispatch hook runs for every command, so
 * it costs two clock reads, one hash lookup of a short name and a few adds
 * (nothing is allocated on that path once a command has been seen); and a
 * client must not be able to grow these tables, so every one of them has a
 * named maximum and the names they hold come from the command table or
 * from a fixed list of subcommands, never from what a client typed. */
#include "server/obs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "server/client.h"
#include "server/cmd.h"
#include "server/info.h"
#include "server/node.h"

uint64_t obs_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the histogram: HdrHistogram's index arithmetic, unit magnitude 0 ---- */

#define H_HALF (OBS_HIST_SUB_COUNT / 2)
#define H_MASK ((int64_t)OBS_HIST_SUB_COUNT - 1)

static int h_bucket(int64_t v)
{
    int pow2ceil = 64 - __builtin_clzll((unsigned long long)(v | H_MASK));
    return pow2ceil - (OBS_HIST_SUB_HALF_MAG + 1);
}

static int h_index(int64_t v)
{
    int b = h_bucket(v);
    int64_t sub = v >> b;
    return (int)(((int64_t)(b + 1) << OBS_HIST_SUB_HALF_MAG) + (sub - H_HALF));
}

static int64_t h_value_at(int idx)
{
    int b = (idx >> OBS_HIST_SUB_HALF_MAG) - 1;
    int64_t sub = (idx & (H_HALF - 1)) + H_HALF;
    if (b < 0) {
        sub -= H_HALF;
        b = 0;
    }
    return sub << b;
}

static int64_t h_lowest_equiv(int64_t v)
{
    int b = h_bucket(v);
    return (v >> b) << b;
}

static int64_t h_range(int64_t v)
{
    int b = h_bucket(v);
    int64_t sub = v >> b;
    return (int64_t)1 << (sub >= OBS_HIST_SUB_COUNT ? b + 1 : b);
}

static int64_t h_highest_equiv(int64_t v)
{
    return h_lowest_equiv(v) + h_range(v) - 1;
}

void obs_hist_record_us(obs_hist *h, uint64_t us)
{
    int64_t ns = us > (uint64_t)OBS_HIST_MAX_NS / 1000u ? OBS_HIST_MAX_NS : (int64_t)us * 1000;
    if (ns < OBS_HIST_MIN_NS) ns = OBS_HIST_MIN_NS;
    int idx = h_index(ns);
    if (idx < 0 || idx >= OBS_HIST_COUNTS) return;
    h->counts[idx]++;
    h->total++;
}

int64_t obs_hist_percentile_ns(const obs_hist *h, double p)
{
    if (p > 100.0) p = 100.0;
    int64_t want = (int64_t)((p / 100.0) * (double)h->total + 0.5);
    if (want < 1) want = 1;
    int64_t seen = 0, v = 0;
    for (int i = 0; i < OBS_HIST_COUNTS; i++) {
        seen += (int64_t)h->counts[i];
        if (seen >= want) {
            v = h_value_at(i);
            break;
        }
    }
    return p == 0.0 ? h_lowest_equiv(v) : h_highest_equiv(v);
}

/* LATENCY HISTOGRAM's buckets: HdrHistogram's logarithmic iterator (first
 * bucket 1024 ns, base 2), a bucket printed only when its cumulative count
 * grew, as Redis's fillCommandCDF. FN gets (upper bound µs, cumulative). */
size_t obs_hist_cdf(const obs_hist *h, void (*fn)(void *, long long, long long), void *ctx)
{
    int idx = -1;
    int64_t cum = 0, value = 0, high = 0, prev = 0;
    int64_t level = 1024, level_low = h_lowest_equiv(1024);
    size_t emitted = 0;
    for (;;) {
        int more = cum < (int64_t)h->total ||
                   (idx + 1 < OBS_HIST_COUNTS && h_value_at(idx + 1) > level_low);
        if (!more) break;
        int found = 0;
        for (;;) {
            if (value >= level_low) {
                level *= 2;
                level_low = h_lowest_equiv(level > OBS_HIST_MAX_NS * 4 ? OBS_HIST_MAX_NS * 4 : level);
                found = 1;
                break;
            }
            if (++idx >= OBS_HIST_COUNTS) break;
            cum += (int64_t)h->counts[idx];
            value = h_value_at(idx);
            high = h_highest_equiv(value);
        }
        if (!found) break;
        if (cum > prev) {
            if (fn) fn(ctx, (long long)(high / 1000), (long long)cum);
            emitted++;
        }
        prev = cum;
    }
    return emitted;
}

/* ---- the command table ---- */

int obs_init(node *n)
{
    obs_state *o = &n->obs;
    memset(o, 0, sizeof *o);
    o->cmds = calloc(OBS_CMDS_MAX, sizeof *o->cmds);
    o->lat = calloc(OBS_LAT_EVENTS_MAX, sizeof *o->lat);
    o->quorum = calloc(1, sizeof *o->quorum);
    if (!o->cmds || !o->lat || !o->quorum) {
        obs_free(n);
        return -1;
    }
    o->cur_idx = -1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    o->last_save_s = (int64_t)tv.tv_sec; /* Redis: the start time until a save */
    o->last_bgsave_sec = -1;
    o->last_bgsave_ok = 1;
    o->start_us = obs_now_us();
    o->ckpt_done_seen = n->checkpoints_done;
    o->ckpt_failed_seen = n->checkpoints_failed;
    return 0;
}

void obs_slowlog_reset(node *n)
{
    obs_state *o = &n->obs;
    for (size_t i = 0; i < o->slow_len; i++) free(o->slow[(o->slow_head + i) % o->slow_cap]);
    o->slow_len = 0;
    o->slow_head = 0;
}

void obs_free(node *n)
{
    obs_state *o = &n->obs;
    if (o->cmds)
        for (size_t i = 0; i < OBS_CMDS_MAX; i++) {
            free(o->cmds[i].hist);
            free(o->cmds[i].rhist);
        }
    if (o->slow) obs_slowlog_reset(n);
    free(o->slow);
    free(o->cmds);
    free(o->lat);
    free(o->quorum);
    o->slow = NULL;
    o->cmds = NULL;
    o->lat = NULL;
    o->quorum = NULL;
}

void obs_reset(node *n)
{
    obs_state *o = &n->obs;
    for (size_t i = 0; i < OBS_CMDS_MAX; i++) {
        obs_cmdstat *s = &o->cmds[i];
        if (!s->name[0]) continue;
        s->calls = s->usec = s->rejected = s->failed = s->reply_calls = s->reply_usec = 0;
        if (s->hist) memset(s->hist, 0, sizeof *s->hist);
        if (s->rhist) memset(s->rhist, 0, sizeof *s->rhist);
    }
    memset(o->errs, 0, sizeof o->errs);
    o->nerrs = 0;
    o->errs_disabled = 0;
    o->error_replies = 0;
    o->net_in_bytes = o->net_out_bytes = o->reads = o->writes = 0;
    o->keyspace_hits = o->keyspace_misses = 0;
    memset(&o->ops, 0, sizeof o->ops);
    memset(&o->net_in, 0, sizeof o->net_in);
    memset(&o->net_out, 0, sizeof o->net_out);
    o->monitors_dropped = 0;
    o->fork_usec = o->forks = 0;
    memset(o->quorum, 0, sizeof *o->quorum);
    o->quorum_max_us = 0;
    o->quorum_usec = 0;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of NAME, created if there is room: -1 when the table is full
 * (such a command is simply not counted). */
static void name_copy(char *out, size_t outlen, const char *name);
static int name_is_admin_sub(const char *full);

static int cmd_slot(obs_state *o, const char *name)
{
    uint32_t h = name_hash(name);
    for (size_t k = 0; k < OBS_CMDS_MAX; k++) {
        obs_cmdstat *s = &o->cmds[(h + k) % OBS_CMDS_MAX];
        if (!s->name[0]) {
            if (o->ncmds + 1 >= OBS_CMDS_MAX) return -1;
            name_copy(s->name, sizeof s->name, name);
            s->admin_sub = name_is_admin_sub(s->name);
            o->ncmds++;
            return (int)((h + k) % OBS_CMDS_MAX);
        }
        if (strcmp(s->name, name) == 0) return (int)((h + k) % OBS_CMDS_MAX);
    }
    return -1;
}

const obs_cmdstat *obs_find_cmd(const node *n, const char *name)
{
    uint32_t h = name_hash(name);
    for (size_t k = 0; k < OBS_CMDS_MAX; k++) {
        const obs_cmdstat *s = &n->obs.cmds[(h + k) % OBS_CMDS_MAX];
        if (!s->name[0]) return NULL;
        if (strcmp(s->name, name) == 0) return s;
    }
    return NULL;
}

/* Subcommands counted under their own name ("client|list"), as Redis 7
 * does; any other argv[1] of a container counts under the container. */
static const char *const subcommands[] = {
    "client|id", "client|info", "client|list", "client|kill", "client|getname",
    "client|setname", "client|setinfo", "client|pause", "client|unpause", "client|reply",
    "client|no-evict", "client|no-touch", "client|tracking", "client|trackinginfo",
    "client|getredir", "client|caching", "client|unblock", "client|help",
    "config|get", "config|set", "config|resetstat", "config|rewrite", "config|help",
    "command|count", "command|docs", "command|info", "command|getkeys", "command|list",
    "command|help", "script|load", "script|exists", "script|flush", "script|kill",
    "script|help", "acl|cat", "acl|deluser", "acl|dryrun", "acl|genpass", "acl|getuser",
    "acl|list", "acl|load", "acl|log", "acl|save", "acl|setuser", "acl|users", "acl|whoami",
    "acl|help", "slowlog|get", "slowlog|len", "slowlog|reset", "slowlog|help",
    "latency|latest", "latency|history", "latency|reset", "latency|doctor", "latency|graph",
    "latency|help", "latency|histogram", "memory|usage", "memory|stats", "memory|doctor",
    "memory|malloc-stats", "memory|purge", "memory|help",
};
/* Of those, Redis 7.0's @admin ones: not shown to MONITOR. */
static const char *const admin_subcommands[] = {
    "client|list", "client|kill", "client|pause", "client|unpause", "client|no-evict",
    "client|no-touch", "client|tracking", "client|unblock", "script|kill",
};

/* Copies NAME into OUT (per command: no snprintf, a profile showed it). */
static void name_copy(char *out, size_t outlen, const char *name)
{
    size_t l = strnlen(name, outlen - 1);
    memcpy(out, name, l);
    out[l] = 0;
}

static void full_name(const client *c, const char *name, int container, char *out, size_t outlen)
{
    name_copy(out, outlen, name);
    if (!container || c->argc < 2 || c->argv[1].len == 0 || c->argv[1].len > 20) return;
    char cand[OBS_CMD_NAME_MAX];
    size_t l = strlen(name);
    if (l + 1 + c->argv[1].len >= sizeof cand) return;
    memcpy(cand, name, l);
    cand[l] = '|';
    for (size_t i = 0; i < c->argv[1].len; i++)
        cand[l + 1 + i] = (char)tolower((unsigned char)c->argv[1].p[i]);
    cand[l + 1 + c->argv[1].len] = 0;
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(subcommands[i], cand) == 0) {
            name_copy(out, outlen, cand);
            return;
        }
}

static int name_is_admin_sub(const char *full)
{
    for (size_t i = 0; i < sizeof admin_subcommands / sizeof admin_subcommands[0]; i++)
        if (strcmp(admin_subcommands[i], full) == 0) return 1;
    return 0;
}

void obs_cmd_begin(client *c, const char *name, int container, obs_call *call)
{
    obs_state *o = &c->n->obs;
    char full[OBS_CMD_NAME_MAX];
    full_name(c, name, container, full, sizeof full);
    client_note_cmd(c, full);
    call->idx = cmd_slot(o, full);
    call->t0_us = obs_now_us();
    call->owed0 = c->owed;
    call->prev_idx = o->cur_idx;
    call->prev_t0_us = o->cur_t0_us;
    call->prev_errors = o->cur_errors;
    o->cur_idx = call->idx;
    o->cur_t0_us = call->t0_us;
    o->cur_errors = 0;
}

void obs_cmd_rejected(client *c, const char *name, int container)
{
    obs_state *o = &c->n->obs;
    char full[OBS_CMD_NAME_MAX];
    full_name(c, name, container, full, sizeof full);
    int i = cmd_slot(o, full);
    if (i >= 0) o->cmds[i].rejected++;
}

/* ---- errors ---- */

void obs_error_reply(node *n, const char *msg, size_t len)
{
    obs_state *o = &n->obs;
    o->error_replies++;
    o->cur_errors++;
    if (o->errs_disabled) return;
    /* The prefix: the first word, if it ends within OBS_ERR_NAME_MAX bytes
     * (Redis: else "ERR"). */
    size_t l = 0;
    while (l < len && l < OBS_ERR_NAME_MAX && msg[l] != ' ') l++;
    char name[OBS_ERR_NAME_MAX];
    if (l == len || l >= OBS_ERR_NAME_MAX || l == 0)
        snprintf(name, sizeof name, "ERR");
    else
        snprintf(name, sizeof name, "%.*s", (int)l, msg);
    for (size_t i = 0; i < o->nerrs; i++)
        if (strcmp(o->errs[i].name, name) == 0) {
            o->errs[i].count++;
            return;
        }
    if (o->nerrs >= OBS_ERRORS_MAX) { /* Redis: flush, keep one marker, stop */
        log_warn(&n->log, "errorstats: %d different error prefixes seen; no new ones are "
                          "tracked until CONFIG RESETSTAT", OBS_ERRORS_MAX);
        memset(o->errs, 0, sizeof o->errs);
        snprintf(o->errs[0].name, sizeof o->errs[0].name, "ERRORSTATS_DISABLED");
        o->errs[0].count = 1;
        o->nerrs = 1;
        o->errs_disabled = 1;
        return;
    }
    snprintf(o->errs[o->nerrs].name, sizeof o->errs[0].name, "%s", name);
    o->errs[o->nerrs++].count = 1;
}

/* ---- latency monitor ---- */

void obs_latency_event(node *n, const char *event, uint64_t ms)
{
    int thr = n->cfg.latency_monitor_threshold_ms;
    if (thr <= 0 || ms < (uint64_t)thr) return;
    obs_state *o = &n->obs;
    obs_lat_event *e = NULL;
    for (size_t i = 0; i < OBS_LAT_EVENTS_MAX && !e; i++)
        if (strcmp(o->lat[i].name, event) == 0) e = &o->lat[i];
    for (size_t i = 0; i < OBS_LAT_EVENTS_MAX && !e; i++)
        if (!o->lat[i].name[0]) {
            e = &o->lat[i];
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", event);
        }
    if (!e) return;
    uint32_t v = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (v > e->max_ms) e->max_ms = v;
    unsigned prev = (e->idx + OBS_LAT_SAMPLES - 1) % OBS_LAT_SAMPLES;
    if (e->s[prev].time_s == (int64_t)tv.tv_sec) { /* one sample per second: its max */
        if (v > e->s[prev].ms) e->s[prev].ms = v;
        return;
    }
    e->s[e->idx].time_s = (int64_t)tv.tv_sec;
    e->s[e->idx].ms = v;
    e->idx = (e->idx + 1) % OBS_LAT_SAMPLES;
}

/* ---- slow log ---- */

/* Redis hides credentials from SLOWLOG and MONITOR: AUTH's arguments,
 * HELLO's AUTH user and password, MIGRATE's AUTH / AUTH2, CONFIG SET of a
 * password. */
static int arg_redacted(const client *c, size_t i)
{
    const resp_arg *a = c->argv;
    if (i == 0) return 0;
    if (arg_eq(&a[0], "auth")) return 1;
    if (arg_eq(&a[0], "hello")) {
        for (size_t k = 1; k < i; k++)
            if (arg_eq(&a[k], "auth") && (i == k + 1 || i == k + 2)) return 1;
        return 0;
    }
    if (arg_eq(&a[0], "migrate")) {
        for (size_t k = 6; k < i; k++) {
            if (arg_eq(&a[k], "auth") && i == k + 1) return 1;
            if (arg_eq(&a[k], "auth2") && (i == k + 1 || i == k + 2)) return 1;
        }
        return 0;
    }
    if (arg_eq(&a[0], "config") && c->argc >= 4 && arg_eq(&a[1], "set") && i >= 3 && i % 2 == 1)
        return arg_eq(&a[i - 1], "requirepass") || arg_eq(&a[i - 1], "masterauth");
    return 0;
}

static void slowlog_push(client *c, uint64_t dur_us)
{
    node *n = c->n;
    obs_state *o = &n->obs;
    size_t max = n->cfg.slowlog_max_len;
    while (o->slow_len > 0 && o->slow_len >= max) { /* drop the oldest */
        free(o->slow[o->slow_head]);
        o->slow_head = (o->slow_head + 1) % o->slow_cap;
        o->slow_len--;
    }
    if (max == 0) return;
    size_t argc = c->argc > OBS_SLOW_ARGS_MAX ? OBS_SLOW_ARGS_MAX : c->argc;
    char more[64];
    size_t bytes = sizeof(obs_slow) + argc * (sizeof(char *) + sizeof(size_t));
    for (size_t j = 0; j < argc; j++) bytes += OBS_SLOW_ARG_BYTES + sizeof more;
    obs_slow *e = malloc(bytes);
    if (!e) return;
    e->argv = (char **)(e + 1);
    e->arglen = (size_t *)(e->argv + argc);
    char *p = (char *)(e->arglen + argc);
    for (size_t j = 0; j < argc; j++) {
        const char *src;
        size_t l;
        int ml = 0;
        if (argc != c->argc && j == argc - 1) {
            ml = snprintf(more, sizeof more, "... (%zu more arguments)", c->argc - argc + 1);
            src = more;
            l = (size_t)ml;
            ml = 0;
        } else if (arg_redacted(c, j)) {
            src = "(redacted)";
            l = 10;
        } else {
            src = c->argv[j].p;
            l = c->argv[j].len;
            if (l > OBS_SLOW_ARG_BYTES) {
                ml = snprintf(more, sizeof more, "... (%zu more bytes)", l - OBS_SLOW_ARG_BYTES);
                l = OBS_SLOW_ARG_BYTES;
            }
        }
        e->argv[j] = p;
        memcpy(p, src, l);
        if (ml > 0) memcpy(p + l, more, (size_t)ml);
        e->arglen[j] = l + (size_t)(ml > 0 ? ml : 0);
        p += e->arglen[j];
    }
    e->argc = (int)argc;
    e->id = o->slow_next_id++;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    e->time_s = (int64_t)tv.tv_sec;
    e->dur_us = dur_us;
    snprintf(e->peer, sizeof e->peer, "%s", c->peer);
    snprintf(e->name, sizeof e->name, "%s", c->name);
    if (o->slow_len == o->slow_cap) { /* grow, oldest first again */
        size_t cap = o->slow_cap ? o->slow_cap * 2 : 16;
        if (cap > max) cap = max;
        if (cap <= o->slow_len) cap = o->slow_len + 1;
        obs_slow **r = malloc(cap * sizeof(obs_slow *));
        if (!r) {
            free(e);
            return;
        }
        for (size_t i = 0; i < o->slow_len; i++) r[i] = o->slow[(o->slow_head + i) % o->slow_cap];
        free(o->slow);
        o->slow = r;
        o->slow_cap = cap;
        o->slow_head = 0;
    }
    o->slow[(o->slow_head + o->slow_len) % o->slow_cap] = e;
    o->slow_len++;
}

/* ---- MONITOR ---- */

int obs_monitor_add(client *c)
{
    obs_state *o = &c->n->obs;
    if (c->monitor) return 0;
    if (o->nmon >= OBS_MONITORS_MAX) return -1;
    o->mon[o->nmon++] = c;
    c->monitor = 1;
    return 0;
}

static void monitor_remove(obs_state *o, const client *c)
{
    for (size_t i = 0; i < o->nmon; i++)
        if (o->mon[i] == c) {
            o->mon[i] = o->mon[--o->nmon];
            return;
        }
}

void obs_client_gone(client *c)
{
    if (!c->monitor) return;
    monitor_remove(&c->n->obs, c);
    c->monitor = 0;
}

/* Bytes sdscatrepr makes of P[0..LEN) (without the quotes). */
static size_t repr_len(const char *p, size_t len)
{
    size_t l = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\\' || ch == '"' || ch == '\n' || ch == '\r' || ch == '\t' || ch == '\a' ||
            ch == '\b')
            l += 2;
        else
            l += isprint(ch) ? 1 : 4;
    }
    return l;
}

static char *repr_put(char *o, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\a': *o++ = '\\'; *o++ = 'a'; break;
        case '\b': *o++ = '\\'; *o++ = 'b'; break;
        default:
            if (isprint(ch)) {
                *o++ = (char)ch;
            } else {
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hex[ch >> 4];
                *o++ = hex[ch & 15];
            }
        }
    }
    *o++ = '"';
    return o;
}

static void monitor_drop(node *n, client *m, size_t need)
{
    obs_state *o = &n->obs;
    o->monitors_dropped++;
    n->stats.clients_dropped_output++;
    log_warn_limited(&n->log, &n->limits[NL_CLIENT],
                     "MONITOR client %llu (%s) dropped: %zu bytes of unsent output would exceed "
                     "--monitor-buffer-limit (%zu)",
                     (unsigned long long)m->id, m->peer, need, n->cfg.monitor_buf_max);
    monitor_remove(o, m);
    m->monitor = 0;
    m->close_asap = 1;
    client_want_flush(m);
}

/* "+1339518083.107412 [0 127.0.0.1:60866] "set" "key" "value"\r\n", Redis's
 * replicationFeedMonitors, to every monitor whose unsent output stays
 * within --monitor-buffer-limit; a monitor that would exceed it is
 * disconnected instead, so a monitor that does not read costs at most that. */
static void monitor_feed(client *c)
{
    node *n = c->n;
    obs_state *o = &n->obs;
    size_t max = n->cfg.monitor_buf_max;
    size_t len = 64 + strlen(c->peer) + 16;
    for (size_t i = 0; i < c->argc && len <= max; i++)
        len += 3 + (arg_redacted(c, i) ? 10 : repr_len(c->argv[i].p, c->argv[i].len));
    char *line = len <= max ? malloc(len) : NULL;
    size_t l = 0;
    if (line) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        l = (size_t)snprintf(line, len, "+%ld.%06ld [%u %s]", (long)tv.tv_sec, (long)tv.tv_usec,
                             c->db, c->peer);
        char *p = line + l;
        for (size_t i = 0; i < c->argc; i++) {
            *p++ = ' ';
            if (arg_redacted(c, i))
                p = repr_put(p, "(redacted)", 10);
            else
                p = repr_put(p, c->argv[i].p, c->argv[i].len);
        }
        *p++ = '\r';
        *p++ = '\n';
        l = (size_t)(p - line);
    }
    for (size_t i = o->nmon; i-- > 0;) {
        client *m = o->mon[i];
        if (m->close_asap) continue;
        size_t pending = m->out_len - m->out_sent;
        if (!line || pending + l > max) {
            monitor_drop(n, m, pending + (line ? l : len));
            continue;
        }
        int silent = m->silent;
        m->silent = 0; /* a monitor's own running command may be CLIENT REPLY OFF */
        reply_raw(m, line, l);
        m->silent = silent;
    }
    free(line);
}

/* ---- the end of a command ---- */

void obs_cmd_end(client *c, obs_call *call, unsigned flags)
{
    node *n = c->n;
    obs_state *o = &n->obs;
    uint64_t dur = obs_now_us() - call->t0_us;
    int failed = o->cur_errors > 0;
    o->cur_idx = call->prev_idx;
    o->cur_t0_us = call->prev_t0_us;
    o->cur_errors = call->prev_errors;
    if (call->idx >= 0) {
        obs_cmdstat *s = &o->cmds[call->idx];
        s->calls++;
        s->usec += dur;
        if (failed) s->failed++;
        if (n->cfg.latency_tracking) {
            if (!s->hist) s->hist = calloc(1, sizeof *s->hist);
            if (s->hist) obs_hist_record_us(s->hist, dur);
        }
        if (s->admin_sub) flags |= OBS_NO_MONITOR;
    }
    int thr = n->cfg.slowlog_slower_than_us;
    if (thr >= 0 && dur >= (uint64_t)thr && !(flags & OBS_NO_SLOWLOG)) slowlog_push(c, dur);
    obs_latency_event(n, (flags & OBS_FAST) ? "fast-command" : "command", dur / 1000u);
    if (o->nmon > 0 && !(flags & OBS_NO_MONITOR)) monitor_feed(c);
}

void obs_reply_released(node *n, int idx, uint64_t t0_us, int ok)
{
    obs_state *o = &n->obs;
    if (idx < 0 || idx >= OBS_CMDS_MAX || !t0_us) return;
    uint64_t us = obs_now_us() - t0_us;
    obs_cmdstat *s = &o->cmds[idx];
    if (!s->name[0]) return;
    s->reply_calls++;
    s->reply_usec += us;
    if (n->cfg.latency_tracking) {
        if (!s->rhist) s->rhist = calloc(1, sizeof *s->rhist);
        if (s->rhist) obs_hist_record_us(s->rhist, us);
    }
    if (ok) {
        obs_hist_record_us(o->quorum, us);
        o->quorum_usec += us;
        if (us > o->quorum_max_us) o->quorum_max_us = us;
        obs_latency_event(n, "quorum-wait", us / 1000u);
    }
}

/* ---- the cron: rates, WAL fsync events, checkpoints, SAVE ---- */

static void rate_sample(obs_rate *r, uint64_t val, uint64_t now_ms)
{
    uint64_t t = now_ms - r->last_ms;
    uint64_t d = val >= r->last_val ? val - r->last_val : 0;
    r->s[r->idx] = r->last_ms && t > 0 ? d * 1000u / t : 0;
    r->idx = (r->idx + 1) % OBS_RATE_SLOTS;
    r->last_ms = now_ms;
    r->last_val = val;
}

uint64_t obs_rate_value(const obs_rate *r)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < OBS_RATE_SLOTS; i++) sum += r->s[i];
    return sum / OBS_RATE_SLOTS;
}

void obs_ckpt_started(node *n, uint64_t fork_us)
{
    obs_state *o = &n->obs;
    o->fork_usec = fork_us;
    o->forks++;
    o->ckpt_start_us = obs_now_us();
    obs_latency_event(n, "checkpoint-fork", fork_us / 1000u);
}

void obs_ckpt_finished(node *n, int ok)
{
    obs_state *o = &n->obs;
    if (o->ckpt_start_us) o->last_bgsave_sec = (int64_t)((obs_now_us() - o->ckpt_start_us) / 1000000u);
    o->ckpt_start_us = 0;
    o->last_bgsave_ok = ok;
    if (ok) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        o->last_save_s = (int64_t)tv.tv_sec;
    }
}

/* SAVE's clients (cmd_obs.c blocks them with WAIT_SAVE and the LSN the
 * checkpoint covers) are answered once no checkpoint runs. */
static void save_waiters(node *n)
{
    if (n->ckpt_pid > 0) return;
    client **pp = &n->blocked;
    while (*pp) {
        client *c = *pp;
        if (c->wait != WAIT_SAVE) {
            pp = &c->wnext;
            continue;
        }
        if (n->snapshot_lsn >= c->wait_lsn)
            reply_status(c, "OK");
        else
            reply_error(c, "ERR the checkpoint failed (see the log)");
        *pp = c->wnext;
        c->wnext = NULL;
        c->wait = WAIT_NONE;
        client_want_flush(c);
    }
}

void obs_cron(node *n, uint64_t now_ms)
{
    obs_state *o = &n->obs;
    if (n->checkpoints_done != o->ckpt_done_seen) {
        o->ckpt_done_seen = n->checkpoints_done;
        obs_ckpt_finished(n, 1);
    }
    if (n->checkpoints_failed != o->ckpt_failed_seen) {
        o->ckpt_failed_seen = n->checkpoints_failed;
        obs_ckpt_finished(n, 0);
    }
    save_waiters(n);
    if (now_ms - o->rate_ms < OBS_RATE_MS) return;
    o->rate_ms = now_ms;
    rate_sample(&o->ops, n->stats.commands_processed, now_ms);
    rate_sample(&o->net_in, o->net_in_bytes, now_ms);
    rate_sample(&o->net_out, o->net_out_bytes, now_ms);
    if (n->walt) {
        uint64_t us = wal_thread_fsync_take_max(n->walt);
        if (us) obs_latency_event(n, "wal-fsync", us / 1000u);
    }
}

/* ---- INFO ---- */

static void pseudo_line(info_buf *b, const char *pre, const char *name, uint64_t calls,
                        uint64_t usec, uint64_t failed)
{
    info_printf(b,
                "cmdstat_%s%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=0,"
                "failed_calls=%llu\r\n",
                pre, name, (unsigned long long)calls, (unsigned long long)usec,
                calls ? (double)usec / (double)calls : 0.0, (unsigned long long)failed);
}

void obs_info_commandstats(node *n, info_buf *b)
{
    obs_state *o = &n->obs;
    info_printf(b, "# Commandstats\r\n");
    for (size_t i = 0; i < OBS_CMDS_MAX; i++) {
        const obs_cmdstat *s = &o->cmds[i];
        if (!s->name[0] || (s->calls == 0 && s->rejected == 0 && s->failed == 0)) continue;
        info_printf(b,
                    "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                    "failed_calls=%llu\r\n",
                    s->name, (unsigned long long)s->calls, (unsigned long long)s->usec,
                    s->calls ? (double)s->usec / (double)s->calls : 0.0,
                    (unsigned long long)s->rejected, (unsigned long long)s->failed);
    }
    /* rkv's, as pseudo-commands named rkv_* (no Redis command has such a
     * name) so that tools which read only Redis's sections carry them:
     * prometheus-redis-exporter v1.45 exports a cmdstat line, and the
     * latencystats line of the same name, and nothing else it does not
     * know (docs/MONITORING.md). calls / usec are: replies released after
     * their commit and the time to them; WAL batches written + fdatasynced
     * and their time; writes committed and their proposal-to-commit time;
     * elections started (failed_calls: not won); leader changes seen. */
    for (size_t i = 0; i < OBS_CMDS_MAX; i++) {
        const obs_cmdstat *s = &o->cmds[i];
        if (!s->name[0] || s->reply_calls == 0) continue;
        pseudo_line(b, "rkv_reply|", s->name, s->reply_calls, s->reply_usec, 0);
    }
    wal_fsync_stats st;
    memset(&st, 0, sizeof st);
    if (n->walt) wal_thread_fsync_stats(n->walt, &st);
    pseudo_line(b, "rkv_wal_fsync", "", st.count, st.total_us, 0);
    pseudo_line(b, "rkv_quorum_wait", "", o->quorum->total, o->quorum_usec, 0);
    if (n->cfg.elected)
        pseudo_line(b, "rkv_elections", "", n->el.elections,
                    0, n->el.elections > n->el.elections_won ? n->el.elections - n->el.elections_won : 0);
    pseudo_line(b, "rkv_leader_changes", "", n->leader_changes, 0, 0);
    info_printf(b, "\r\n");
}

void obs_info_errorstats(node *n, info_buf *b)
{
    obs_state *o = &n->obs;
    info_printf(b, "# Errorstats\r\n");
    for (size_t i = 0; i < o->nerrs; i++)
        info_printf(b, "errorstat_%s:count=%llu\r\n", o->errs[i].name,
                    (unsigned long long)o->errs[i].count);
    info_printf(b, "\r\n");
}

/* The --latency-tracking-info-percentiles values: up to 16 of them. */
#define OBS_PCT_MAX 16
static size_t parse_percentiles(const node *n, double *out)
{
    size_t k = 0;
    const char *p = n->cfg.latency_percentiles;
    while (*p && k < OBS_PCT_MAX) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) break;
        if (v >= 0.0 && v <= 100.0) out[k++] = v;
        p = end;
        while (*p == ' ' || *p == ',') p++;
    }
    return k;
}

static void pct_line(info_buf *b, const char *prefix, const char *name, const obs_hist *h,
                     const double *pct, size_t k)
{
    info_printf(b, "%s%s:", prefix, name);
    for (size_t j = 0; j < k; j++) {
        char f[64];
        snprintf(f, sizeof f, "%f", pct[j]);
        char *e = f + strlen(f) - 1; /* Redis's trimDoubleString */
        while (e > f && *e == '0') *e-- = 0;
        if (*e == '.') *e = 0;
        info_printf(b, "%sp%s=%.3f", j ? "," : "", f,
                    (double)obs_hist_percentile_ns(h, pct[j]) / 1000.0);
    }
    info_printf(b, "\r\n");
}

/* A histogram of the WAL thread's power-of-two buckets as an obs_hist
 * (each batch at its bucket's upper bound), for the percentiles. */
static void fsync_hist(node *n, obs_hist *h, wal_fsync_stats *st)
{
    memset(h, 0, sizeof *h);
    wal_thread_fsync_stats(n->walt, st);
    for (unsigned i = 0; i < WAL_FSYNC_BUCKETS; i++) {
        uint64_t up = i + 1 < WAL_FSYNC_BUCKETS ? (1ull << i) : st->max_us;
        if (!st->buckets[i]) continue;
        int64_t ns = (int64_t)(up > 1000000u ? OBS_HIST_MAX_NS : (int64_t)up * 1000);
        if (ns < 1) ns = 1;
        int idx = h_index(ns);
        if (idx >= 0 && idx < OBS_HIST_COUNTS) {
            h->counts[idx] += st->buckets[i];
            h->total += st->buckets[i];
        }
    }
}

void obs_info_latencystats(node *n, info_buf *b)
{
    obs_state *o = &n->obs;
    double pct[OBS_PCT_MAX];
    size_t k = parse_percentiles(n, pct);
    info_printf(b, "# Latencystats\r\n");
    for (size_t i = 0; i < OBS_CMDS_MAX && k; i++) {
        const obs_cmdstat *s = &o->cmds[i];
        if (s->name[0] && s->hist && s->hist->total)
            pct_line(b, "latency_percentiles_usec_", s->name, s->hist, pct, k);
    }
    /* rkv's, in the same format so that tools reading latencystats (the
     * Prometheus exporter: redis_latency_percentiles_usec{cmd=...}) show
     * them: names no Redis command has. */
    for (size_t i = 0; i < OBS_CMDS_MAX && k; i++) {
        const obs_cmdstat *s = &o->cmds[i];
        if (s->name[0] && s->rhist && s->rhist->total) {
            char nm[OBS_CMD_NAME_MAX + 16];
            snprintf(nm, sizeof nm, "rkv_reply|%s", s->name);
            pct_line(b, "latency_percentiles_usec_", nm, s->rhist, pct, k);
        }
    }
    if (k && o->quorum->total) pct_line(b, "latency_percentiles_usec_", "rkv_quorum_wait", o->quorum, pct, k);
    if (k && n->walt) {
        obs_hist *h = malloc(sizeof *h);
        wal_fsync_stats st;
        if (h) {
            fsync_hist(n, h, &st);
            if (h->total) pct_line(b, "latency_percentiles_usec_", "rkv_wal_fsync", h, pct, k);
            free(h);
        }
    }
    info_printf(b, "\r\n");
}

static uint64_t pow2_percentile(const wal_fsync_stats *st, double p)
{
    if (!st->count) return 0;
    uint64_t want = (uint64_t)((p / 100.0) * (double)st->count + 0.5), seen = 0;
    if (want < 1) want = 1;
    for (unsigned i = 0; i < WAL_FSYNC_BUCKETS; i++) {
        seen += st->buckets[i];
        if (seen >= want) {
            uint64_t up = i + 1 < WAL_FSYNC_BUCKETS ? (1ull << i) : st->max_us;
            return up < st->max_us ? up : st->max_us;
        }
    }
    return st->max_us;
}

void obs_info_rkv_stats(node *n, info_buf *b)
{
    obs_state *o = &n->obs;
    wal_fsync_stats st;
    memset(&st, 0, sizeof st);
    if (n->walt) wal_thread_fsync_stats(n->walt, &st);
    info_printf(b,
                "rkv_wal_fsyncs:%llu\r\nrkv_wal_fsync_usec_total:%llu\r\n"
                "rkv_wal_fsync_usec_last:%llu\r\nrkv_wal_fsync_usec_p50:%llu\r\n"
                "rkv_wal_fsync_usec_p99:%llu\r\nrkv_wal_fsync_usec_max:%llu\r\n"
                "rkv_quorum_waits:%llu\r\nrkv_quorum_wait_usec_p50:%.3f\r\n"
                "rkv_quorum_wait_usec_p99:%.3f\r\nrkv_quorum_wait_usec_max:%llu\r\n"
                "rkv_monitor_clients:%zu\r\nrkv_monitors_dropped:%llu\r\n",
                (unsigned long long)st.count, (unsigned long long)st.total_us,
                (unsigned long long)st.last_us, (unsigned long long)pow2_percentile(&st, 50),
                (unsigned long long)pow2_percentile(&st, 99), (unsigned long long)st.max_us,
                (unsigned long long)o->quorum->total,
                o->quorum->total ? (double)obs_hist_percentile_ns(o->quorum, 50) / 1000.0 : 0.0,
                o->quorum->total ? (double)obs_hist_percentile_ns(o->quorum, 99) / 1000.0 : 0.0,
                (unsigned long long)o->quorum_max_us, o->nmon,
                (unsigned long long)o->monitors_dropped);
}
