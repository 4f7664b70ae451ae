/* sentinel.c -- ROLE, SENTINEL, HELLO and the Redis fields of INFO
 * replication (see sentinel.h), in Redis 7.0's reply shapes, field names and
 * field order, checked against redis-server 7.0 and redis-sentinel 7.0:
 * clients parse these byte for byte (redis-py turns SENTINEL MASTERS into a
 * dict and checks the flags; ioredis reads get-master-addr-by-name and the
 * INFO role; node-redis reads SENTINEL master/replicas/sentinels).
 *
 * Mapping rkv onto Redis's words:
 *   leader -> master, follower -> slave (replica), member -> sentinel;
 *   replication offsets are LSNs (records), not bytes;
 *   a member is s_down when this node has no live link to it
 *   (down-after-milliseconds is --follower-timeout-ms, the silence after
 *   which rkv marks a peer offline); the master is reported
 *   "s_down,o_down,master" when no leader can be handed out (none known, or
 *   a follower's link to it is down): o_down because in rkv a follower that
 *   lost its leader is on its way to an election, not waiting for a quorum
 *   of sentinels to agree;
 *   config-epoch is the epoch; quorum is a majority of the members.
 * Times this node does not know (when a peer was last heard from, when the
 * role was last reported) are printed as what it does know: 0 for a live
 * link, the time since this node started for role-reported-time.
 *
 * Ids: Redis's run ids and replication ids are 40 random hex digits. Here
 * they are a stable hash of the cluster id (--cluster-id) and the node id
 * (run id, sentinel id) or the epoch (replication id), so every node prints
 * the same ids for the same member without exchanging them, and the
 * replication id changes exactly when a new leader's history begins (a new
 * epoch), which is what a Redis replid change means. They identify; they do
 * not authenticate (FNV-1a + splitmix64, not a cryptographic hash). */
#include "server/sentinel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/ev.h"
#include "server/acl.h"
#include "server/client.h"
#include "server/cmd.h"
#include "server/info.h"
#include "server/node.h"
#include "server/pubsub.h"

#define SENT_FIELDS_MAX 32                 /* fields in one instance's reply */
#define SENT_VALUE_MAX (CFG_HOST_MAX + 32) /* "host:port" fits */
#define SENT_PARALLEL_SYNCS 1
#define SENT_SLAVE_PRIORITY 100
#define SENT_ZERO_ID "0000000000000000000000000000000000000000"

/* ---- the view ---- */

static int member_addressable(const node_member *m)
{
    return m->host[0] && m->port > 0;
}

const node_member *sentinel_usable_leader(const node_view *v)
{
    const node_member *l = node_view_leader(v);
    if (!l || !member_addressable(l)) return NULL;
    return (v->is_leader || v->leader_link_up) ? l : NULL;
}

/* ---- ids ---- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void hex_id(const node *n, const char *kind, uint64_t a, char out[SENTINEL_ID_HEX + 1])
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(a >> (8 * i));
    uint64_t h = fnv1a(FNV_OFFSET, kind, strlen(kind) + 1);
    h = fnv1a(h, n->cfg.cluster_id, strlen(n->cfg.cluster_id) + 1);
    h = fnv1a(h, le, sizeof le);
    for (int i = 0; i < SENTINEL_ID_HEX / 8; i++) {
        uint64_t w = mix64(h + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull);
        snprintf(out + 8 * i, 9, "%08x", (unsigned)(w >> 32));
    }
    out[SENTINEL_ID_HEX] = 0;
}

void sentinel_replid(const node *n, uint64_t epoch, char out[SENTINEL_ID_HEX + 1])
{
    hex_id(n, "replid", epoch, out);
}

void sentinel_runid(const node *n, unsigned node_id, char out[SENTINEL_ID_HEX + 1])
{
    hex_id(n, "runid", node_id, out);
}

void sentinel_myid(const node *n, unsigned node_id, char out[SENTINEL_ID_HEX + 1])
{
    hex_id(n, "sentinel", node_id, out);
}

/* ---- flat field/value replies ---- */

typedef struct fields {
    int n;
    const char *key[SENT_FIELDS_MAX];
    char val[SENT_FIELDS_MAX][SENT_VALUE_MAX];
} fields;

static void field(fields *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void field(fields *f, const char *key, const char *fmt, ...)
{
    if (f->n == SENT_FIELDS_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->val[f->n], SENT_VALUE_MAX, fmt, ap);
    va_end(ap);
    f->key[f->n++] = key;
}

/* A flat field/value array in RESP2, a map after HELLO 3 (Sentinel's
 * setDeferredMapLen). */
static void reply_fields(client *c, const fields *f)
{
    reply_map(c, f->n);
    for (int i = 0; i < f->n; i++) {
        reply_bulk(c, f->key[i], strlen(f->key[i]));
        reply_bulk(c, f->val[i], strlen(f->val[i]));
    }
}

static unsigned long long down_after_ms(const node *n)
{
    return (unsigned long long)n->cfg.follower_timeout_ms;
}

static unsigned long long uptime_ms(const node *n)
{
    return (unsigned long long)(ev_now_ms() - n->stats.start_ms);
}

/* Replicas: every member but the leader whose address is known. */
static int is_replica(const node_member *m)
{
    return !m->is_leader && member_addressable(m);
}

static int count_replicas(const node_view *v)
{
    int k = 0;
    for (int i = 0; i < v->n; i++)
        k += is_replica(&v->m[i]);
    return k;
}

/* The fields every instance starts with (Sentinel's
 * addReplySentinelRedisInstance): name .. last-ping-reply, the down times,
 * down-after-milliseconds. SEEN_MS: since it was last heard from. */
static void instance_head(fields *f, const node *n, const char *name, const char *ip, int port,
                          const char *runid, const char *flags, int s_down, int o_down,
                          unsigned long long seen_ms)
{
    unsigned long long down_for = seen_ms > down_after_ms(n) ? seen_ms - down_after_ms(n) : 0;
    field(f, "name", "%s", name);
    field(f, "ip", "%s", ip);
    field(f, "port", "%d", port);
    field(f, "runid", "%s", runid);
    field(f, "flags", "%s", flags);
    field(f, "link-pending-commands", "0");
    field(f, "link-refcount", "1");
    field(f, "last-ping-sent", "0");
    field(f, "last-ok-ping-reply", "%llu", seen_ms);
    field(f, "last-ping-reply", "%llu", seen_ms);
    if (s_down) field(f, "s-down-time", "%llu", down_for);
    if (o_down) field(f, "o-down-time", "%llu", down_for);
    field(f, "down-after-milliseconds", "%llu", down_after_ms(n));
}

static void master_fields(const node *n, const node_view *v, fields *f)
{
    const node_member *l = node_view_leader(v);
    int usable = sentinel_usable_leader(v) != NULL;
    char runid[SENTINEL_ID_HEX + 1] = "";
    if (l) sentinel_runid(n, l->id, runid);
    unsigned long long seen = v->is_leader ? 0 : (unsigned long long)v->leader_seen_ms_ago;
    if (!usable && seen < down_after_ms(n)) seen = down_after_ms(n); /* down: at least this */
    instance_head(f, n, v->cluster_name, l && l->host[0] ? l->host : "?", l ? l->port : 0, runid,
                  usable ? "master" : "s_down,o_down,master", !usable, !usable, seen);
    field(f, "info-refresh", "%llu", seen);
    field(f, "role-reported", "master");
    field(f, "role-reported-time", "%llu", uptime_ms(n));
    field(f, "config-epoch", "%llu", (unsigned long long)v->epoch);
    field(f, "num-slaves", "%d", count_replicas(v));
    field(f, "num-other-sentinels", "%d", v->n > 0 ? v->n - 1 : 0);
    field(f, "quorum", "%d", v->n / 2 + 1);
    field(f, "failover-timeout", "%llu", 2ull * (unsigned long long)n->cfg.election_timeout_ms);
    field(f, "parallel-syncs", "%d", SENT_PARALLEL_SYNCS);
}

static void replica_fields(const node *n, const node_view *v, const node_member *m, fields *f)
{
    const node_member *l = node_view_leader(v);
    char name[SENT_VALUE_MAX], runid[SENTINEL_ID_HEX + 1];
    snprintf(name, sizeof name, "%s:%d", m->host, m->port);
    sentinel_runid(n, m->id, runid);
    /* Its link to the leader: the leader sees it on the link; a follower
     * knows only its own. */
    int link_ok = m->is_self ? v->leader_link_up : m->online;
    unsigned long long seen = m->online ? 0 : down_after_ms(n);
    instance_head(f, n, name, m->host, m->port, runid, m->online ? "slave" : "s_down,slave",
                  !m->online, 0, seen);
    field(f, "info-refresh", "%llu", seen);
    field(f, "role-reported", "slave");
    field(f, "role-reported-time", "%llu", uptime_ms(n));
    field(f, "master-link-down-time", "%llu", link_ok ? 0ull : down_after_ms(n));
    field(f, "master-link-status", "%s", link_ok ? "ok" : "err");
    field(f, "master-host", "%s", l && l->host[0] ? l->host : "?");
    field(f, "master-port", "%d", l ? l->port : 0);
    field(f, "slave-priority", "%d", SENT_SLAVE_PRIORITY);
    field(f, "slave-repl-offset", "%llu", (unsigned long long)m->offset);
    field(f, "replica-announced", "1");
}

static void sentinel_fields(const node *n, const node_member *m, fields *f)
{
    char id[SENTINEL_ID_HEX + 1];
    sentinel_myid(n, m->id, id);
    unsigned long long seen = m->online ? 0 : down_after_ms(n);
    instance_head(f, n, id, m->host, m->port, id, m->online ? "sentinel" : "s_down,sentinel",
                  !m->online, 0, seen);
    field(f, "last-hello-message", "%llu", seen);
    field(f, "voted-leader", "?");
    field(f, "voted-leader-epoch", "0");
}

/* ---- SENTINEL ---- */

static int arg_is(const resp_arg *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* Is ARG this cluster's master name? Otherwise answers Sentinel's error. */
static int name_known(client *c, const node_view *v, const resp_arg *arg)
{
    if (arg->len == strlen(v->cluster_name) && memcmp(arg->p, v->cluster_name, arg->len) == 0)
        return 1;
    reply_error(c, "ERR No such master with that name");
    return 0;
}

static void sub_masters(client *c, const node_view *v)
{
    fields f = {0};
    master_fields(c->n, v, &f);
    reply_array(c, 1);
    reply_fields(c, &f);
}

static void sub_master(client *c, const node_view *v)
{
    if (!name_known(c, v, &c->argv[2])) return;
    fields f = {0};
    master_fields(c->n, v, &f);
    reply_fields(c, &f);
}

static void sub_replicas(client *c, const node_view *v)
{
    if (!name_known(c, v, &c->argv[2])) return;
    reply_array(c, count_replicas(v));
    for (int i = 0; i < v->n; i++) {
        if (!is_replica(&v->m[i])) continue;
        fields f = {0};
        replica_fields(c->n, v, &v->m[i], &f);
        reply_fields(c, &f);
    }
}

static void sub_sentinels(client *c, const node_view *v)
{
    if (!name_known(c, v, &c->argv[2])) return;
    int k = 0;
    for (int i = 0; i < v->n; i++)
        k += !v->m[i].is_self && member_addressable(&v->m[i]);
    reply_array(c, k);
    for (int i = 0; i < v->n; i++) {
        if (v->m[i].is_self || !member_addressable(&v->m[i])) continue;
        fields f = {0};
        sentinel_fields(c->n, &v->m[i], &f);
        reply_fields(c, &f);
    }
}

static void sub_get_master_addr(client *c, const node_view *v)
{
    const resp_arg *a = &c->argv[2];
    const node_member *l = sentinel_usable_leader(v);
    /* Sentinel answers an unknown name with a null array, not an error. */
    if (a->len != strlen(v->cluster_name) || memcmp(a->p, v->cluster_name, a->len) != 0 || !l) {
        reply_null_array(c);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", l->port);
    reply_array(c, 2);
    reply_bulk(c, l->host, strlen(l->host));
    reply_bulk(c, port, strlen(port));
}

static void sub_myid(client *c, const node_view *v)
{
    char id[SENTINEL_ID_HEX + 1];
    sentinel_myid(c->n, c->n->cfg.node_id, id);
    reply_bulk(c, id, SENTINEL_ID_HEX);
}

static void sub_help(client *c, const node_view *v);

static const struct sentinel_sub {
    const char *name;
    int argc; /* SENTINEL and the subcommand included */
    void (*fn)(client *c, const node_view *v);
    const char *help;
} subs[] = {
    {"masters", 2, sub_masters, "MASTERS -- this cluster's master (its leader) and its state"},
    {"master", 3, sub_master, "MASTER <name> -- the master's state"},
    {"replicas", 3, sub_replicas, "REPLICAS <name> -- the followers this node knows, as replicas"},
    {"slaves", 3, sub_replicas, "SLAVES <name> -- the same as REPLICAS"},
    {"sentinels", 3, sub_sentinels, "SENTINELS <name> -- the other members, as sentinels"},
    {"get-master-addr-by-name", 3, sub_get_master_addr,
     "GET-MASTER-ADDR-BY-NAME <name> -- the leader's ip and port, or nil if none is usable"},
    {"myid", 2, sub_myid, "MYID -- this node's sentinel id"},
    {"help", 2, sub_help, "HELP -- this text"},
};
#define NSUBS (sizeof subs / sizeof subs[0])

static void sub_help(client *c, const node_view *v)
{
    reply_array(c, (long long)NSUBS + 1);
    reply_status(c, "SENTINEL <subcommand> [<arg> ...]. Subcommands are:");
    for (size_t i = 0; i < NSUBS; i++)
        reply_status(c, subs[i].help);
}

/* The subcommand for an error message: printable bytes only, bounded. */
static void printable(const resp_arg *a, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < a->len && o + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)a->p[i];
        out[o++] = (ch >= 32 && ch < 127 && ch != '\'') ? (char)ch : '?';
    }
    out[o] = 0;
}

void cmd_sentinel(client *c)
{
    const resp_arg *sub = &c->argv[1];
    for (size_t i = 0; i < NSUBS; i++) {
        if (!arg_is(sub, subs[i].name)) continue;
        if (c->argc != (size_t)subs[i].argc) {
            reply_error(c, "ERR wrong number of arguments for 'sentinel|%s' command", subs[i].name);
            return;
        }
        node_view v;
        node_get_view(c->n, &v);
        subs[i].fn(c, &v);
        return;
    }
    char name[130];
    printable(sub, name, sizeof name);
    reply_error(c, "ERR unknown subcommand '%s'. Try SENTINEL HELP.", name);
}

/* ---- ROLE ---- */

void cmd_role(client *c)
{
    node_view v;
    node_get_view(c->n, &v);
    char num[32];
    if (v.is_leader) {
        int k = 0;
        for (int i = 0; i < v.n; i++)
            k += is_replica(&v.m[i]) && v.m[i].online;
        reply_array(c, 3);
        reply_bulk(c, "master", 6);
        reply_int(c, (long long)v.offset);
        reply_array(c, k);
        for (int i = 0; i < v.n; i++) {
            const node_member *m = &v.m[i];
            if (!is_replica(m) || !m->online) continue;
            reply_array(c, 3);
            reply_bulk(c, m->host, strlen(m->host));
            snprintf(num, sizeof num, "%d", m->port);
            reply_bulk(c, num, strlen(num));
            snprintf(num, sizeof num, "%llu", (unsigned long long)m->offset);
            reply_bulk(c, num, strlen(num));
        }
        return;
    }
    /* A Redis replica always knows its master's address; an rkv follower
     * may not know a leader yet: "?" and port 0, state "connect". The offset
     * is -1 while there is no live link, as Redis prints it. */
    const node_member *l = node_view_leader(&v);
    const char *host = l && l->host[0] ? l->host : "?";
    const char *state = v.leader_link_up ? "connected" : "connect";
    reply_array(c, 5);
    reply_bulk(c, "slave", 5);
    reply_bulk(c, host, strlen(host));
    reply_int(c, l ? l->port : 0);
    reply_bulk(c, state, strlen(state));
    reply_int(c, v.leader_link_up ? (long long)v.offset : -1);
}

/* ---- HELLO ---- */

void cmd_hello(client *c)
{
    long long ver = 0; /* none given: the connection keeps its protocol */
    size_t i = 1;
    if (c->argc >= 2) {
        if (arg_ll(&c->argv[1], &ver) < 0) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    const resp_arg *setname = NULL, *user = NULL, *pass = NULL;
    for (; i < c->argc; i++) {
        size_t more = c->argc - i - 1;
        if (arg_is(&c->argv[i], "auth") && more >= 2) {
            user = &c->argv[i + 1];
            pass = &c->argv[i + 2];
            i += 2;
        } else if (arg_is(&c->argv[i], "setname") && more >= 1) {
            setname = &c->argv[++i];
        } else {
            char opt[130];
            printable(&c->argv[i], opt, sizeof opt);
            reply_error(c, "ERR Syntax error in HELLO option '%s'", opt);
            return;
        }
    }
    /* Authenticate first, then the name, then the protocol (Redis's
     * helloCommand order): a refused HELLO changes nothing. */
    if (user && acl_client_auth(c, user, pass) < 0) return;
    if (acl_client_auth_required(c)) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time");
        return;
    }
    if (setname && client_setname(c, setname) < 0) return;
    if (ver) c->resp = (int)ver;
    const char *role = node_is_leader(c->n) ? "master" : "replica";
    reply_map(c, 7);
    reply_bulk(c, "server", 6);
    reply_bulk(c, "redis", 5);
    reply_bulk(c, "version", 7);
    reply_bulk(c, INFO_REDIS_VERSION, strlen(INFO_REDIS_VERSION));
    reply_bulk(c, "proto", 5);
    reply_int(c, c->resp);
    reply_bulk(c, "id", 2);
    reply_int(c, (long long)c->id);
    reply_bulk(c, "mode", 4);
    reply_bulk(c, "standalone", 10);
    reply_bulk(c, "role", 4);
    reply_bulk(c, role, strlen(role));
    reply_bulk(c, "modules", 7);
    reply_array(c, 0);
}

/* ---- INFO ---- */

void sentinel_info_replication(node *n, info_buf *b)
{
    node_view v;
    node_get_view(n, &v);
    char replid[SENTINEL_ID_HEX + 1];
    sentinel_replid(n, v.epoch, replid);
    if (v.is_leader) {
        int k = 0;
        for (int i = 0; i < v.n; i++)
            k += is_replica(&v.m[i]) && v.m[i].online;
        info_printf(b, "role:master\r\nconnected_slaves:%d\r\n", k);
        k = 0;
        for (int i = 0; i < v.n; i++) {
            const node_member *m = &v.m[i];
            if (!is_replica(m) || !m->online) continue;
            info_printf(b, "slave%d:ip=%s,port=%d,state=online,offset=%llu,lag=%llu\r\n", k++,
                        m->host, m->port, (unsigned long long)m->offset,
                        (unsigned long long)(m->lag_ms / 1000));
        }
    } else {
        const node_member *l = node_view_leader(&v);
        long long seen_s = (long long)(v.leader_seen_ms_ago / 1000);
        info_printf(b,
                    "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n"
                    "master_last_io_seconds_ago:%lld\r\nmaster_sync_in_progress:0\r\n"
                    "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\n",
                    l && l->host[0] ? l->host : "?", l ? l->port : 0,
                    v.leader_link_up ? "up" : "down", v.leader_link_up ? seen_s : -1LL,
                    (unsigned long long)n->last_lsn, (unsigned long long)node_durable_now(n));
        if (!v.leader_link_up)
            info_printf(b, "master_link_down_since_seconds:%lld\r\n",
                        v.leader_seen_ms_ago ? seen_s : -1LL);
        info_printf(b,
                    "slave_priority:%d\r\nslave_read_only:1\r\nreplica_announced:1\r\n"
                    "connected_slaves:0\r\n",
                    SENT_SLAVE_PRIORITY);
    }
    /* The backlog is the WAL: every record after the newest checkpoint is
     * always there (recovery needs it), older ones while --wal-retain-bytes
     * keeps them. Offsets count records. */
    unsigned long long first = (unsigned long long)n->snapshot_lsn + 1;
    unsigned long long hist = n->last_lsn > n->snapshot_lsn ? n->last_lsn - n->snapshot_lsn : 0;
    info_printf(b,
                "master_failover_state:no-failover\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n"
                "master_repl_offset:%llu\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n"
                "repl_backlog_size:%llu\r\nrepl_backlog_first_byte_offset:%llu\r\n"
                "repl_backlog_histlen:%llu\r\n",
                replid, SENT_ZERO_ID, (unsigned long long)v.offset,
                (unsigned long long)n->cfg.wal_retain_bytes, first, hist);
}

void sentinel_info_sentinel(node *n, info_buf *b)
{
    node_view v;
    node_get_view(n, &v);
    const node_member *l = node_view_leader(&v);
    info_printf(b,
                "# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:0\r\n"
                "sentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\n"
                "sentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n"
                "master0:name=%s,status=%s,address=%s:%d,slaves=%d,sentinels=%d\r\n\r\n",
                v.cluster_name, sentinel_usable_leader(&v) ? "ok" : "odown",
                l && l->host[0] ? l->host : "?", l ? l->port : 0, count_replicas(&v), v.n);
}

/* ---- the node's hook ---- */

void sentinel_leader_changed(node *n, const char *old_host, int old_port, const char *new_host,
                             int new_port)
{
    if (!new_host || !new_host[0] || new_port <= 0) return;
    int old_known = old_host && old_host[0] && old_port > 0;
    if (old_known && old_port == new_port && strcmp(old_host, new_host) == 0) return;
    char msg[CFG_CLUSTER_ID_MAX + 2 * CFG_HOST_MAX + 64];
    int len = snprintf(msg, sizeof msg, "%s %s %d %s %d", n->cfg.cluster_name,
                       old_known ? old_host : "?", old_known ? old_port : 0, new_host, new_port);
    if (len < 0) return;
    if ((size_t)len >= sizeof msg) len = (int)sizeof msg - 1;
    long k = pubsub_publish(n, SENTINEL_SWITCH_CHANNEL, strlen(SENTINEL_SWITCH_CHANNEL), msg,
                            (size_t)len);
    log_info(&n->log, "%s %s (to %ld subscriber%s)", SENTINEL_SWITCH_CHANNEL, msg, k,
             k == 1 ? "" : "s");
}
