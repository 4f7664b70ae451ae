/* cmd_obs.c -- the observability commands (SLOWLOG, LATENCY, MONITOR,
 * MEMORY, DEBUG) and the ones about the server's life (SHUTDOWN, SAVE,
 * LASTSAVE), with Redis 7.0's replies and errors (checked against
 * redis-server 7.0.15; docs/MONITORING.md says where rkv differs).
 *
 * They only read what obs.c and the node keep, so they live apart from
 * the data commands. None of them blocks the loop except DEBUG SLEEP,
 * whose point that is (and which is refused unless enable-debug-command
 * allows it); SAVE waits for the forked checkpoint without blocking other
 * clients (the client is parked with WAIT_SAVE, obs.c answers it). */
#include <malloc.h>
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
#include "server/obs.h"

#define DEBUG_SLEEP_MAX_S 3600        /* DEBUG SLEEP longer than this sleeps this long */
#define MALLOC_STATS_MAX (1u << 20)   /* MEMORY MALLOC-STATS text, at most */
#define LAT_GRAPH_COLS 80             /* samples LATENCY GRAPH draws */
#define LAT_GRAPH_ROWS 4
/* One line of LATENCY HELP, Redis's words (one literal: it is one element). */
static const char lat_help_histogram[] = "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.";

static void reply_help(client *c, const char *const *lines, size_t n)
{
    reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++) reply_status(c, lines[i]);
}

static void reply_unknown_sub(client *c, const char *cmd)
{
    char s[600];
    arg_printable(&c->argv[1], s, sizeof s);
    reply_error(c, "ERR unknown subcommand '%s'. Try %s HELP.", s, cmd);
}

static void reply_sub_arity(client *c, const char *cmd, const char *sub)
{
    reply_error(c, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

/* ---- SLOWLOG ---- */

static void slowlog_get(client *c)
{
    obs_state *o = &c->n->obs;
    long long count = 10;
    if (c->argc == 3 && (arg_ll(&c->argv[2], &count) < 0 || count < -1)) {
        reply_error(c, "ERR count should be greater than or equal to -1");
        return;
    }
    if (count == -1 || (unsigned long long)count > o->slow_len) count = (long long)o->slow_len;
    reply_array(c, count);
    for (long long k = 0; k < count; k++) { /* newest first */
        const obs_slow *e = o->slow[(o->slow_head + o->slow_len - 1 - (size_t)k) % o->slow_cap];
        reply_array(c, 6);
        reply_int(c, (long long)e->id);
        reply_int(c, (long long)e->time_s);
        reply_int(c, (long long)e->dur_us);
        reply_array(c, e->argc);
        for (int j = 0; j < e->argc; j++) reply_bulk(c, e->argv[j], e->arglen[j]);
        reply_bulk(c, e->peer, strlen(e->peer));
        reply_bulk(c, e->name, strlen(e->name));
    }
}

void cmd_slowlog(client *c)
{
    const resp_arg *sub = &c->argv[1];
    if (arg_eq(sub, "get")) {
        if (c->argc > 3) {
            char s[600];
            arg_printable(sub, s, sizeof s);
            reply_error(c, "ERR unknown subcommand or wrong number of arguments for '%s'. Try "
                           "SLOWLOG HELP.", s);
            return;
        }
        slowlog_get(c);
    } else if (arg_eq(sub, "len")) {
        if (c->argc != 2) return reply_sub_arity(c, "slowlog", "len");
        reply_int(c, (long long)c->n->obs.slow_len);
    } else if (arg_eq(sub, "reset")) {
        if (c->argc != 2) return reply_sub_arity(c, "slowlog", "reset");
        obs_slowlog_reset(c->n);
        reply_status(c, "OK");
    } else if (arg_eq(sub, "help")) {
        if (c->argc != 2) return reply_sub_arity(c, "slowlog", "help");
        static const char *const help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, help, sizeof help / sizeof help[0]);
    } else {
        reply_unknown_sub(c, "SLOWLOG");
    }
}

/* ---- LATENCY ---- */

static obs_lat_event *lat_find(node *n, const resp_arg *name)
{
    for (size_t i = 0; i < OBS_LAT_EVENTS_MAX; i++)
        if (n->obs.lat[i].name[0] && arg_eq(name, n->obs.lat[i].name) &&
            strlen(n->obs.lat[i].name) == name->len)
            return &n->obs.lat[i];
    return NULL;
}

static void latency_latest(client *c)
{
    obs_state *o = &c->n->obs;
    long long k = 0;
    for (size_t i = 0; i < OBS_LAT_EVENTS_MAX; i++) k += o->lat[i].name[0] != 0;
    reply_array(c, k);
    for (size_t i = 0; i < OBS_LAT_EVENTS_MAX; i++) {
        const obs_lat_event *e = &o->lat[i];
        if (!e->name[0]) continue;
        unsigned last = (e->idx + OBS_LAT_SAMPLES - 1) % OBS_LAT_SAMPLES;
        reply_array(c, 4);
        reply_bulk(c, e->name, strlen(e->name));
        reply_int(c, (long long)e->s[last].time_s);
        reply_int(c, (long long)e->s[last].ms);
        reply_int(c, (long long)e->max_ms);
    }
}

static void latency_history(client *c)
{
    const obs_lat_event *e = lat_find(c->n, &c->argv[2]);
    long long k = 0;
    for (unsigned j = 0; e && j < OBS_LAT_SAMPLES; j++) k += e->s[j].time_s != 0;
    reply_array(c, k);
    for (unsigned j = 0; e && j < OBS_LAT_SAMPLES; j++) {
        unsigned i = (e->idx + j) % OBS_LAT_SAMPLES; /* oldest first */
        if (!e->s[i].time_s) continue;
        reply_array(c, 2);
        reply_int(c, (long long)e->s[i].time_s);
        reply_int(c, (long long)e->s[i].ms);
    }
}

static void latency_reset(client *c)
{
    obs_state *o = &c->n->obs;
    long long k = 0;
    if (c->argc == 2) {
        for (size_t i = 0; i < OBS_LAT_EVENTS_MAX; i++)
            if (o->lat[i].name[0]) {
                memset(&o->lat[i], 0, sizeof o->lat[i]);
                k++;
            }
    } else {
        for (size_t a = 2; a < c->argc; a++) {
            obs_lat_event *e = lat_find(c->n, &c->argv[a]);
            if (e) {
                memset(e, 0, sizeof *e);
                k++;
            }
        }
    }
    reply_int(c, k);
}

/* A bar per sample, newest right, scaled between the lowest and highest. */
static void latency_graph(client *c)
{
    const obs_lat_event *e = lat_find(c->n, &c->argv[2]);
    if (!e) {
        char s[600];
        arg_printable(&c->argv[2], s, sizeof s);
        reply_error(c, "ERR No samples available for event '%s'", s);
        return;
    }
    uint32_t v[LAT_GRAPH_COLS];
    int64_t t[LAT_GRAPH_COLS];
    size_t n = 0;
    for (unsigned j = 0; j < OBS_LAT_SAMPLES; j++) {
        unsigned i = (e->idx + j) % OBS_LAT_SAMPLES;
        if (!e->s[i].time_s) continue;
        if (n == LAT_GRAPH_COLS) { /* keep the newest */
            memmove(v, v + 1, sizeof v - sizeof v[0]);
            memmove(t, t + 1, sizeof t - sizeof t[0]);
            n--;
        }
        v[n] = e->s[i].ms;
        t[n++] = e->s[i].time_s;
    }
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    info_buf b = {0};
    info_printf(&b, "%s - high %u ms, low %u ms (all time high %u ms)\n", e->name, hi, lo,
                e->max_ms);
    for (size_t i = 0; i < n + 2 && i < LAT_GRAPH_COLS + 2; i++) info_printf(&b, "-");
    info_printf(&b, "\n");
    for (int row = LAT_GRAPH_ROWS; row >= 1; row--) {
        info_printf(&b, " ");
        for (size_t i = 0; i < n; i++) {
            uint32_t h = hi == lo ? LAT_GRAPH_ROWS
                                  : 1 + (uint32_t)((uint64_t)(v[i] - lo) * (LAT_GRAPH_ROWS - 1) /
                                                   (hi - lo));
            info_printf(&b, "%c", h >= (uint32_t)row ? (h == (uint32_t)row ? '_' : '|') : ' ');
        }
        info_printf(&b, "\n");
    }
    struct timeval now;
    gettimeofday(&now, NULL);
    info_printf(&b, "\nnewest sample %llds ago, oldest %llds ago\n",
                n ? (long long)(now.tv_sec - t[n - 1]) : 0LL,
                n ? (long long)(now.tv_sec - t[0]) : 0LL);
    reply_verbatim(c, b.p ? b.p : "", b.len);
    free(b.p);
}

static void latency_doctor(client *c)
{
    node *n = c->n;
    obs_state *o = &n->obs;
    info_buf b = {0};
    int events = 0;
    for (size_t i = 0; i < OBS_LAT_EVENTS_MAX; i++) events += o->lat[i].name[0] != 0;
    if (n->cfg.latency_monitor_threshold_ms <= 0) {
        info_printf(&b, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                        "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
                        "<milliseconds>.\" in order to enable it. If we weren't in a deep space "
                        "mission I'd suggest to take a look at "
                        "https://redis.io/topics/latency-monitor.\n");
    } else if (!events) {
        info_printf(&b, "Dave, no latency spike was observed during the lifetime of this rkv "
                        "node, not in the slightest bit. I honestly think you ought to sleep "
                        "better tonight.\n");
    } else {
        info_printf(&b, "Dave, I have observed latency spikes in this rkv node. You don't mind "
                        "talking about it, do you Dave?\n\n");
        int k = 0;
        for (size_t i = 0; i < OBS_LAT_EVENTS_MAX; i++) {
            const obs_lat_event *e = &o->lat[i];
            if (!e->name[0]) continue;
            uint64_t sum = 0, cnt = 0;
            int64_t first = 0, last = 0;
            for (unsigned j = 0; j < OBS_LAT_SAMPLES; j++) {
                if (!e->s[j].time_s) continue;
                sum += e->s[j].ms;
                cnt++;
                if (!first || e->s[j].time_s < first) first = e->s[j].time_s;
                if (e->s[j].time_s > last) last = e->s[j].time_s;
            }
            uint64_t avg = cnt ? sum / cnt : 0;
            info_printf(&b, "%d. %s: %llu latency spikes (average %llums, period %.1f sec). "
                            "Worst all time event %ums.\n",
                        ++k, e->name, (unsigned long long)cnt, (unsigned long long)avg,
                        cnt > 1 ? (double)(last - first) / (double)(cnt - 1) : 0.0, e->max_ms);
        }
        info_printf(&b, "\nI have a few advices for you:\n\n");
        if (lat_find(n, &(resp_arg){"wal-fsync", 9}))
            info_printf(&b, "- wal-fsync: the disk under --data-dir is slow to fdatasync; every "
                            "write waits for it (group commit shares one sync). Use a dedicated "
                            "disk with a write cache that survives power loss.\n");
        if (lat_find(n, &(resp_arg){"quorum-wait", 11}))
            info_printf(&b, "- quorum-wait: writes waited long for their quorum: check the "
                            "followers' disks (their wal-fsync) and the network between the "
                            "nodes (INFO replication: follower lag_ms).\n");
        if (lat_find(n, &(resp_arg){"command", 7}) || lat_find(n, &(resp_arg){"fast-command", 12}))
            info_printf(&b, "- command / fast-command: see SLOWLOG GET for the commands; KEYS, "
                            "SCAN with a large COUNT and big MGET / MSET run long.\n");
        if (lat_find(n, &(resp_arg){"checkpoint-fork", 15}))
            info_printf(&b, "- checkpoint-fork: fork() of a large process is slow; disable "
                            "transparent huge pages, or checkpoint less often "
                            "(--checkpoint-every-bytes).\n");
    }
    reply_verbatim(c, b.p ? b.p : "", b.len);
    free(b.p);
}

static void cdf_emit(void *ctx, long long us, long long cum)
{
    client *c = ctx;
    reply_int(c, us);
    reply_int(c, cum);
}

static void reply_cmd_hist(client *c, const obs_cmdstat *s)
{
    reply_bulk(c, s->name, strlen(s->name));
    reply_map(c, 2);
    reply_bulk(c, "calls", 5);
    reply_int(c, (long long)s->hist->total);
    reply_bulk(c, "histogram_usec", 14);
    reply_map(c, (long long)obs_hist_cdf(s->hist, NULL, NULL));
    obs_hist_cdf(s->hist, cdf_emit, c);
}

/* Is table entry S asked for by LATENCY HISTOGRAM's arguments (none:
 * every command; "client": its subcommands too)? */
static int hist_wanted(const client *c, const obs_cmdstat *s)
{
    if (!s->name[0] || !s->hist || !s->hist->total) return 0;
    if (c->argc == 2) return 1;
    size_t l = strlen(s->name);
    const char *bar = strchr(s->name, '|');
    for (size_t a = 2; a < c->argc; a++) {
        const resp_arg *x = &c->argv[a];
        if (x->len == l && arg_eq(x, s->name)) return 1;
        if (bar && x->len == (size_t)(bar - s->name) && strncasecmp(x->p, s->name, x->len) == 0)
            return 1;
    }
    return 0;
}

static void latency_histogram(client *c)
{
    obs_state *o = &c->n->obs;
    long long k = 0;
    for (size_t i = 0; i < OBS_CMDS_MAX; i++) k += hist_wanted(c, &o->cmds[i]);
    reply_map(c, k);
    for (size_t i = 0; i < OBS_CMDS_MAX; i++)
        if (hist_wanted(c, &o->cmds[i])) reply_cmd_hist(c, &o->cmds[i]);
}

void cmd_latency(client *c)
{
    const resp_arg *sub = &c->argv[1];
    if (arg_eq(sub, "latest")) {
        if (c->argc != 2) return reply_sub_arity(c, "latency", "latest");
        latency_latest(c);
    } else if (arg_eq(sub, "history")) {
        if (c->argc != 3) return reply_sub_arity(c, "latency", "history");
        latency_history(c);
    } else if (arg_eq(sub, "reset")) {
        latency_reset(c);
    } else if (arg_eq(sub, "graph")) {
        if (c->argc != 3) return reply_sub_arity(c, "latency", "graph");
        latency_graph(c);
    } else if (arg_eq(sub, "doctor")) {
        if (c->argc != 2) return reply_sub_arity(c, "latency", "doctor");
        latency_doctor(c);
    } else if (arg_eq(sub, "histogram")) {
        latency_histogram(c);
    } else if (arg_eq(sub, "help")) {
        if (c->argc != 2) return reply_sub_arity(c, "latency", "help");
        static const char *const help[] = {
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            lat_help_histogram,
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, help, sizeof help / sizeof help[0]);
    } else {
        reply_unknown_sub(c, "LATENCY");
    }
}

/* ---- MONITOR ---- */

void cmd_monitor(client *c)
{
    if (c->n->ks.unit_open) { /* inside EXEC: a reply per command is expected */
        reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->monitor) return; /* Redis: ignored, no reply */
    if (obs_monitor_add(c) < 0) {
        reply_error(c, "ERR too many MONITOR clients (at most %d)", OBS_MONITORS_MAX);
        return;
    }
    reply_status(c, "OK");
}

/* ---- MEMORY ---- */

static void memory_usage(client *c)
{
    long long samples = 5;
    if (c->argc == 5 && arg_eq(&c->argv[3], "samples")) {
        if (arg_ll(&c->argv[4], &samples) < 0) {
            reply_error(c, "ERR value is not an integer or out of range");
            return;
        }
    } else if (c->argc != 3) {
        reply_error(c, "ERR syntax error");
        return;
    }
    ks_val v;
    cmd_lookup(c, &c->argv[2], &v);
    if (!v.exists) {
        reply_nil(c);
        return;
    }
    size_t bytes = kv_entry_memory(c->n->kv, c->db, c->argv[2].p, c->argv[2].len);
    if (bytes == 0) /* only in the proposed layer (not yet committed): its size as it will be */
        bytes = kv_entry_memory_estimate(c->argv[2].len, v.vlen, v.expire_ms != 0);
    reply_int(c, (long long)bytes);
}

typedef struct mem_numbers {
    size_t used, peak, startup, rss, dataset, clients, overhead, keys;
} mem_numbers;

static void mem_collect(node *n, mem_numbers *m)
{
    m->used = node_used_memory(n);
    m->peak = n->mem.peak > m->used ? n->mem.peak : m->used;
    m->startup = n->mem.startup;
    m->rss = node_rss_bytes(n);
    m->dataset = kv_memory_bytes(n->kv);
    m->clients = n->client_mem;
    m->overhead = m->used > m->dataset ? m->used - m->dataset : 0;
    m->keys = 0;
    for (unsigned db = 0; db < kv_db_slots(n->kv); db++) m->keys += kv_db_count(n->kv, db);
}

static void kv_int(client *c, const char *k, long long v)
{
    reply_bulk(c, k, strlen(k));
    reply_int(c, v);
}

static void kv_dbl(client *c, const char *k, double v)
{
    reply_bulk(c, k, strlen(k));
    reply_double(c, v);
}

static void memory_stats(client *c)
{
    node *n = c->n;
    mem_numbers m;
    mem_collect(n, &m);
    unsigned slots = kv_db_slots(n->kv);
    long long dbs = 0;
    for (unsigned db = 0; db < slots; db++) dbs += kv_db_count(n->kv, db) > 0;
    size_t net = m.used > m.startup ? m.used - m.startup : 0;
    reply_map(c, 27 + dbs + 4);
    kv_int(c, "peak.allocated", (long long)m.peak);
    kv_int(c, "total.allocated", (long long)m.used);
    kv_int(c, "startup.allocated", (long long)m.startup);
    kv_int(c, "replication.backlog", 0); /* rkv's backlog is the WAL, on disk */
    kv_int(c, "clients.slaves", 0);
    kv_int(c, "clients.normal", (long long)m.clients);
    kv_int(c, "cluster.links", 0);
    kv_int(c, "aof.buffer", 0);
    kv_int(c, "lua.caches", 0);
    kv_int(c, "functions.caches", 0);
    for (unsigned db = 0; db < slots; db++) {
        size_t keys = kv_db_count(n->kv, db);
        if (!keys) continue;
        char name[32];
        snprintf(name, sizeof name, "db.%u", db);
        reply_bulk(c, name, strlen(name));
        reply_map(c, 3);
        kv_int(c, "overhead.hashtable.main", (long long)keys * (long long)sizeof(void *));
        kv_int(c, "overhead.hashtable.expires", 0);
        kv_int(c, "overhead.hashtable.slot-to-keys", 0);
    }
    kv_int(c, "overhead.total", (long long)m.overhead);
    kv_int(c, "keys.count", (long long)m.keys);
    kv_int(c, "keys.bytes-per-key", m.keys ? (long long)(net / m.keys) : 0);
    kv_int(c, "dataset.bytes", (long long)m.dataset);
    kv_dbl(c, "dataset.percentage", net ? (double)m.dataset * 100.0 / (double)net : 0.0);
    kv_dbl(c, "peak.percentage", m.peak ? (double)m.used * 100.0 / (double)m.peak : 0.0);
    kv_int(c, "allocator.allocated", (long long)m.used);
    kv_int(c, "allocator.active", (long long)m.used);
    kv_int(c, "allocator.resident", (long long)m.rss);
    kv_dbl(c, "allocator-fragmentation.ratio", 1.0);
    kv_int(c, "allocator-fragmentation.bytes", 0);
    kv_dbl(c, "allocator-rss.ratio", m.used ? (double)m.rss / (double)m.used : 0.0);
    kv_int(c, "allocator-rss.bytes", (long long)m.rss - (long long)m.used);
    kv_dbl(c, "rss-overhead.ratio", 1.0);
    kv_int(c, "rss-overhead.bytes", 0);
    kv_dbl(c, "fragmentation", m.used ? (double)m.rss / (double)m.used : 0.0);
    kv_int(c, "fragmentation.bytes", (long long)m.rss - (long long)m.used);
    /* rkv's own */
    kv_int(c, "rkv.pending-log.bytes", (long long)node_pending_bytes(n));
    kv_int(c, "rkv.proposed-layer.bytes",
           n->ks.proposed ? (long long)kv_memory_bytes(n->ks.proposed) : 0);
    kv_int(c, "rkv.tickets.bytes", (long long)n->tk_cap * (long long)sizeof(ticket));
    kv_int(c, "rkv.wal.bytes-on-disk", (long long)wal_thread_wal_bytes(n->walt));
}

#define MEM_DOCTOR_EMPTY (5u << 20) /* Redis: below this the doctor has nothing to say */

static void memory_doctor(client *c)
{
    node *n = c->n;
    mem_numbers m;
    mem_collect(n, &m);
    info_buf b = {0};
    if (m.used < MEM_DOCTOR_EMPTY) {
        info_printf(&b, "Hi Sam, this instance is empty or is using very little memory, my "
                        "issues detector can't be used in these conditions. Please, leave for "
                        "your mission on Earth and fill it with some data. The new Sam and I "
                        "will be back to our programming as soon as I finished rebooting.\n");
    } else {
        int issues = 0;
        info_buf r = {0};
        if (m.peak > m.used + m.used / 2) {
            issues++;
            info_printf(&r, " * Peak memory: in the past this node used more than 150%% the "
                            "memory it uses now (%zu bytes then). The allocator may not give "
                            "that back; MEMORY PURGE asks it to.\n\n", m.peak);
        }
        if (m.rss > m.used + m.used / 2 && m.rss - m.used > (10u << 20)) {
            issues++;
            info_printf(&r, " * High fragmentation: RSS is %.2f times used_memory. MEMORY "
                            "PURGE may return some of it.\n\n", (double)m.rss / (double)m.used);
        }
        if (node_pending_bytes(n) > n->cfg.pending_bytes_max / 2) {
            issues++;
            info_printf(&r, " * Pending log: %zu bytes of uncommitted records (half of "
                            "--max-pending-bytes): the followers or the disk are not keeping up "
                            "(INFO replication lag, LATENCY LATEST wal-fsync).\n\n",
                        node_pending_bytes(n));
        }
        if (n->cfg.maxmemory && m.used > n->cfg.maxmemory / 10 * 9) {
            issues++;
            info_printf(&r, " * Near maxmemory: used_memory is over 90%% of --maxmemory "
                            "(policy %s).\n\n", config_policy_name(n->cfg.maxmemory_policy));
        }
        if (m.clients > m.used / 2) {
            issues++;
            info_printf(&r, " * Client buffers: clients hold %zu bytes (CLIENT LIST: qbuf, "
                            "omem); a slow reader or a MONITOR may be the cause.\n\n",
                        m.clients);
        }
        if (!issues)
            info_printf(&b, "Hi Sam, I can't find any memory issue in your instance. I can only "
                            "account for what occurs on this base.\n");
        else
            info_printf(&b, "Sam, I detected a few issues in this rkv node memory implants:\n\n%s"
                            "I'm here to keep you safe, Sam. I want to help you.\n",
                        r.p ? r.p : "");
        free(r.p);
    }
    reply_verbatim(c, b.p ? b.p : "", b.len);
    free(b.p);
}

static void memory_malloc_stats(client *c)
{
    char *p = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&p, &len);
    if (!fp || malloc_info(0, fp) != 0) {
        if (fp) fclose(fp);
        free(p);
        static const char msg[] = "Stats not supported for the current allocator";
        reply_verbatim(c, msg, sizeof msg - 1);
        return;
    }
    fclose(fp);
    reply_verbatim(c, p, len > MALLOC_STATS_MAX ? MALLOC_STATS_MAX : len);
    free(p);
}

void cmd_memory(client *c)
{
    const resp_arg *sub = &c->argv[1];
    if (arg_eq(sub, "usage")) {
        if (c->argc < 3) return reply_sub_arity(c, "memory", "usage");
        memory_usage(c);
    } else if (arg_eq(sub, "stats")) {
        if (c->argc != 2) return reply_sub_arity(c, "memory", "stats");
        memory_stats(c);
    } else if (arg_eq(sub, "doctor")) {
        if (c->argc != 2) return reply_sub_arity(c, "memory", "doctor");
        memory_doctor(c);
    } else if (arg_eq(sub, "malloc-stats")) {
        if (c->argc != 2) return reply_sub_arity(c, "memory", "malloc-stats");
        memory_malloc_stats(c);
    } else if (arg_eq(sub, "purge")) {
        if (c->argc != 2) return reply_sub_arity(c, "memory", "purge");
        malloc_trim(0);
        reply_status(c, "OK");
    } else if (arg_eq(sub, "help")) {
        if (c->argc != 2) return reply_sub_arity(c, "memory", "help");
        static const char *const help[] = {
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, help, sizeof help / sizeof help[0]);
    } else {
        reply_unknown_sub(c, "MEMORY");
    }
}

/* ---- DEBUG ---- */

static int peer_is_loopback(const client *c)
{
    return strncmp(c->peer, "127.", 4) == 0 || strncmp(c->peer, "[::1]", 5) == 0 ||
           strncmp(c->peer, "::1", 3) == 0;
}

static int debug_allowed(const client *c)
{
    const char *v = c->n->cfg.enable_debug_cmd;
    if (strcasecmp(v, "yes") == 0) return 1;
    return strcasecmp(v, "local") == 0 && peer_is_loopback(c);
}

/* A string's encoding by Redis's rules (tryObjectEncoding): an integer of
 * at most 20 characters is "int", up to 44 bytes "embstr", else "raw". */
static const char *string_encoding(const uint8_t *p, uint32_t len)
{
    resp_arg a = {(const char *)p, len};
    long long ll;
    if (len <= 20 && arg_ll(&a, &ll) == 0) return "int";
    return len <= 44 ? "embstr" : "raw";
}

/* RDB length of the value as Redis writes it uncompressed (an integer in
 * 1 + 1, 2 or 4 bytes; a string with its 1-, 2- or 5-byte length). Redis
 * LZF-compresses strings over 20 bytes; rkv reports the uncompressed size. */
static size_t serialized_length(const uint8_t *p, uint32_t len)
{
    resp_arg a = {(const char *)p, len};
    long long ll;
    if (len <= 20 && arg_ll(&a, &ll) == 0) {
        if (ll >= -128 && ll <= 127) return 2;
        if (ll >= -32768 && ll <= 32767) return 3;
        if (ll >= -2147483648LL && ll <= 2147483647LL) return 5;
    }
    return (len < 64 ? 1 : len < 16384 ? 2 : 5) + (size_t)len;
}

static void debug_object(client *c)
{
    ks_val v;
    cmd_lookup(c, &c->argv[2], &v);
    if (!v.exists) {
        reply_error(c, "ERR no such key");
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned lru = (unsigned)(tv.tv_sec & ((1 << 24) - 1)); /* Redis's LRU clock: seconds, 24 bits */
    char line[256];
    snprintf(line, sizeof line,
             "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u lru_seconds_idle:0",
             (const void *)v.val, string_encoding(v.val, v.vlen), serialized_length(v.val, v.vlen),
             lru);
    reply_status(c, line);
}

void cmd_debug(client *c)
{
    const resp_arg *sub = &c->argv[1];
    /* DIGEST is rkv's way to compare replicas (the test suite and
     * operators use it): always allowed, it changes nothing. */
    if (arg_eq(sub, "digest") && c->argc == 2) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)kv_digest(c->n->kv));
        reply_status(c, hex);
        return;
    }
    if (!debug_allowed(c)) {
        reply_error(c, "ERR DEBUG command not allowed. If the enable-debug-command option is set "
                       "to \"local\", you can run it from a local connection, otherwise you "
                       "need to set this option in the configuration file, and then restart "
                       "the server.");
        return;
    }
    if (arg_eq(sub, "sleep") && c->argc == 3) {
        char num[64];
        size_t l = c->argv[2].len < sizeof num - 1 ? c->argv[2].len : sizeof num - 1;
        memcpy(num, c->argv[2].p, l);
        num[l] = 0;
        double s = strtod(num, NULL); /* Redis: no validation, "x" sleeps 0 */
        if (!(s > 0)) s = 0;
        if (s > DEBUG_SLEEP_MAX_S) s = DEBUG_SLEEP_MAX_S;
        long long us = (long long)(s * 1e6);
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) < 0) {
        }
        reply_status(c, "OK");
    } else if (arg_eq(sub, "object") && c->argc == 3) {
        debug_object(c);
    } else if (arg_eq(sub, "help")) {
        static const char *const help[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "OBJECT <key>",
            "    Show low level info about the <key> and associated value.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Prints this help.",
        };
        reply_help(c, help, sizeof help / sizeof help[0]);
    } else {
        reply_unknown_sub(c, "DEBUG");
    }
}

/* ---- SHUTDOWN, SAVE, LASTSAVE ---- */

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the node stops cleanly
 * (everything acknowledged is already durable: replies follow fsync) and
 * the connection closes without a reply, as Redis. SAVE writes a
 * checkpoint first (node_free waits for the child); without it, none:
 * the WAL is the node's persistence. NOW and FORCE change nothing (there
 * is no replica wait to skip and no save that can fail the shutdown). */
void cmd_shutdown(client *c)
{
    int save = 0, nosave = 0, abort_it = 0, other = 0;
    for (size_t i = 1; i < c->argc; i++) {
        const resp_arg *a = &c->argv[i];
        if (arg_eq(a, "nosave")) {
            nosave = 1;
            other = 1;
        } else if (arg_eq(a, "save")) {
            save = 1;
            other = 1;
        } else if (arg_eq(a, "now") || arg_eq(a, "force")) {
            other = 1;
        } else if (arg_eq(a, "abort")) {
            abort_it = 1;
        } else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    if ((abort_it && other) || (save && nosave)) {
        reply_error(c, "ERR syntax error");
        return;
    }
    if (abort_it) {
        reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    node *n = c->n;
    if (save && node_checkpoint_start(n) < 0)
        log_warn(&n->log, "SHUTDOWN SAVE: the checkpoint could not start; stopping anyway (the "
                          "WAL holds everything acknowledged)");
    log_info(&n->log, "SHUTDOWN by client %llu (%s)%s", (unsigned long long)c->id, c->peer,
             save ? " with a checkpoint" : "");
    c->close_asap = 1; /* no reply: the connection just closes */
    client_want_flush(c);
    node_request_stop(n);
}

/* SAVE: a checkpoint of the applied state, answered once it is on disk.
 * It is written by the forked child as BGSAVE's is; this client waits
 * (WAIT_SAVE, answered by obs.c's cron), the others are served meanwhile. */
void cmd_save(client *c)
{
    node *n = c->n;
    if (n->ckpt_pid > 0) {
        reply_error(c, "ERR Background save already in progress");
        return;
    }
    if (node_checkpoint_start(n) < 0) {
        reply_error(c, "ERR the checkpoint could not start (see the log)");
        return;
    }
    if (n->ckpt_pid <= 0) { /* nothing new since the newest checkpoint: it is the save */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        n->obs.last_save_s = (int64_t)tv.tv_sec;
        reply_status(c, "OK");
        return;
    }
    c->wait = WAIT_SAVE;
    c->wait_lsn = n->ckpt_lsn;
    c->wait_deadline_ms = 0;
    c->wnext = n->blocked;
    n->blocked = c;
}

void cmd_lastsave(client *c)
{
    reply_int(c, (long long)c->n->obs.last_save_s);
}
