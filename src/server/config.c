/* config.c -- flag and config-file parsing (see config.h).
 *
 * One table lists every setting with its type, bounds and help text, so the
 * flag parser, the file parser and --help cannot drift apart. */
#include "server/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "wal/crc32.h"
#include "wal/wal_record.h"
#include "wal/wal_writer.h"

enum opt_type {
    OPT_INT, OPT_U64, OPT_SIZE, OPT_STR, OPT_ROLE, OPT_LEVEL, OPT_PEERS, OPT_BOOL, OPT_MEMBERS,
    OPT_TLSAUTH, OPT_POLICY
};

/* What CONFIG GET / SET (config_param_*) make of a setting. */
enum {
    OF_RUNTIME = 1, /* CONFIG SET may change it: it is read where it is used, never cached */
    OF_BYTES = 2,   /* a byte count: CONFIG SET takes Redis's units (1mb, 64kb, 2gb) */
    OF_SECRET = 4,  /* never shown, never kept in plain text (CFG_PARAM_SECRET) */
};

typedef struct opt {
    const char *name;
    enum opt_type type;
    unsigned flags; /* OF_* */
    size_t off;
    long long min, max;
    const char *help;
} opt;

#define OFF(f) offsetof(node_config, f)
static const opt opts[] = {
    {"node-id", OPT_INT, 0, OFF(node_id), 1, 65535, "this node's id, unique in the cluster (default 1)"},
    {"role", OPT_ROLE, 0, OFF(role), 0, 0, "leader|follower (default leader)"},
    {"bind", OPT_STR, 0, OFF(bind), 0, CFG_HOST_MAX, "address to listen on (default 127.0.0.1)"},
    {"port", OPT_INT, 0, OFF(port), 0, 65535, "client (RESP) port, 0 = any free port (default 7379)"},
    {"data-dir", OPT_STR, 0, OFF(data_dir), 0, CFG_PATH_MAX, "WAL and checkpoints (default ./data)"},
    {"log-level", OPT_LEVEL, OF_RUNTIME, OFF(log_level), 0, 0, "debug|info|warn|error (default info)"},
    {"log-file", OPT_STR, 0, OFF(log_file), 0, CFG_PATH_MAX, "append logs to this file (default stderr)"},
    {"max-key-bytes", OPT_INT, OF_RUNTIME, OFF(key_max), 1, WAL_KEY_MAX, "longest key (default 65536)"},
    {"max-value-bytes", OPT_INT, OF_RUNTIME, OFF(value_max), 0, WAL_VAL_MAX, "longest value (default 16 MiB)"},
    {"max-args", OPT_SIZE, OF_RUNTIME, OFF(args_max), 1, 1024 * 1024, "most arguments per command (default 1048576)"},
    {"max-clients", OPT_SIZE, OF_RUNTIME, OFF(clients_max), 1, 60000, "most client connections (default 10000)"},
    {"databases", OPT_INT, 0, OFF(databases), 1, 65536, "databases SELECT can address (default 16)"},
    {"max-query-buffer", OPT_SIZE, OF_RUNTIME | OF_BYTES, OFF(query_buf_max), 1 << 20, 1LL << 32,
     "unread input per client before it is disconnected (default 64 MiB)"},
    {"max-reply-buffer", OPT_SIZE, OF_RUNTIME | OF_BYTES, OFF(reply_buf_max), 1 << 16, 1LL << 32,
     "unsent replies per client before it is disconnected (default 256 MiB)"},
    {"max-pending-bytes", OPT_SIZE, OF_RUNTIME | OF_BYTES, OFF(pending_bytes_max), 1 << 20, 1LL << 34,
     "uncommitted records held in memory before writes are refused (default 512 MiB)"},
    {"wal-segment-bytes", OPT_U64, OF_BYTES, OFF(segment_bytes), 4096, 1LL << 40,
     "WAL segment rotation size (default 64 MiB)"},
    {"checkpoint-every-bytes", OPT_U64, OF_RUNTIME | OF_BYTES, OFF(checkpoint_every_bytes), 0, 1LL << 50,
     "write a checkpoint after this much WAL, 0 = never (default 256 MiB)"},
    {"wal-retain-bytes", OPT_U64, OF_RUNTIME | OF_BYTES, OFF(wal_retain_bytes), 0, 1LL << 50,
     "WAL kept behind the checkpoints for follower catch-up (default 256 MiB)"},
    {"wal-catchup-max-bytes", OPT_U64, OF_RUNTIME | OF_BYTES, OFF(wal_catchup_max_bytes), 0, 1LL << 50,
     "WAL kept for followers in catch-up or snapshot transfer, at most (default 1 GiB)"},
    {"catchup-max-lag-records", OPT_U64, OF_RUNTIME, OFF(catchup_max_lag_records), 1, 1LL << 50,
     "a follower further behind rejoins by snapshot (default 5000000)"},
    {"cluster-id", OPT_STR, 0, OFF(cluster_id), 1, CFG_CLUSTER_ID_MAX, "cluster name, must match on all nodes (default rkv)"},
    {"repl-port", OPT_INT, 0, OFF(repl_port), 0, 65535, "follower: replication port, 0 = any free port"},
    {"followers", OPT_PEERS, 0, OFF(followers), 0, 0, "leader: HOST:PORT,HOST:PORT of the followers' replication ports"},
    {"peers", OPT_MEMBERS, 0, OFF(members), 0, 0,
     "ID=HOST:PORT,... every member's replication address: the cluster elects its leader"},
    {"election-timeout-ms", OPT_INT, 0, OFF(election_timeout_ms), 10, 600000,
     "a follower that hears no leader for T..2T ms campaigns (default 1000)"},
    {"cluster-name", OPT_STR, 0, OFF(cluster_name), 1, CFG_CLUSTER_ID_MAX,
     "the master name SENTINEL commands answer to (default rkv)"},
    {"announce-host", OPT_STR, 0, OFF(announce_host), 0, CFG_HOST_MAX,
     "client address told to clients and peers (default: --bind)"},
    {"announce-port", OPT_INT, 0, OFF(announce_port), 0, 65535,
     "client port told to clients and peers (default: --port as bound)"},
    {"quorum", OPT_INT, 0, OFF(quorum), 0, CFG_FOLLOWERS_MAX,
     "follower acks a write needs before OK (default: majority of the cluster minus the leader)"},
    {"heartbeat-ms", OPT_INT, 0, OFF(heartbeat_ms), 1, 60000, "heartbeat period (default 100)"},
    {"follower-timeout-ms", OPT_INT, 0, OFF(follower_timeout_ms), 1, 3600000,
     "silence after which a peer is marked offline (default 1000)"},
    {"keepalive-idle-s", OPT_INT, 0, OFF(keepalive.idle_s), 1, 7200, "TCP keepalive idle time (default 1)"},
    {"keepalive-interval-s", OPT_INT, 0, OFF(keepalive.interval_s), 1, 600, "TCP keepalive probe interval (default 1)"},
    {"keepalive-count", OPT_INT, 0, OFF(keepalive.count), 1, 100, "TCP keepalive probes (default 3)"},
    {"quorum-timeout-ms", OPT_INT, OF_RUNTIME, OFF(quorum_timeout_ms), 1, 3600000,
     "time a write waits for its quorum before an outcome-unknown error (default 5000)"},
    {"ship-threads", OPT_BOOL, 0, OFF(ship_threads), 0, 1,
     "removed in issue 15 (sender threads lost to the event loop in every measurement); accepted and ignored"},
    {"ack-from-wal-thread", OPT_BOOL, 0, OFF(wal_thread_ack), 0, 1,
     "follower: send the ACK from the WAL thread the moment fdatasync returns, not from the loop (yes|no, default yes; plain-TCP links)"},
    {"log-lag", OPT_BOOL, OF_RUNTIME, OFF(log_lag), 0, 1, "leader: log every follower's lag on every write (yes|no)"},
    {"clock-offset-us", OPT_U64, 0, OFF(clock_offset_us), LLONG_MIN, LLONG_MAX, "test hook: skew this node's wall clock"},
    {"max-clock-offset-ms", OPT_U64, OF_RUNTIME, OFF(max_clock_offset_ms), 0, 1LL << 40,
     "a record stamped further ahead of this node's clock is reported, rate-limited, and counted in INFO (default 500, CockroachDB's max-offset)"},
    {"max-clock-skew-ms", OPT_U64, OF_RUNTIME, OFF(max_clock_offset_ms), 0, 1LL << 40,
     "old name of --max-clock-offset-ms"},
    /* Security (docs/SECURITY.md). */
    {"requirepass", OPT_STR, OF_RUNTIME | OF_SECRET, OFF(requirepass), 0, CFG_SECRET_MAX,
     "password of the default user; clients must AUTH (default none)"},
    {"aclfile", OPT_STR, 0, OFF(aclfile), 0, CFG_PATH_MAX, "users and their rights, Redis ACL file syntax"},
    {"protected-mode", OPT_BOOL, OF_RUNTIME, OFF(protected_mode), 0, 1,
     "with no password, refuse clients that are not on loopback (yes|no, default yes)"},
    {"cluster-secret-file", OPT_STR, 0, OFF(cluster_secret_file), 0, CFG_PATH_MAX,
     "file holding the secret every node shares; replication and votes must prove it"},
    {"tls-port", OPT_INT, 0, OFF(tls_port), 0, 65535, "TLS client port (default 0: none)"},
    {"tls-cert-file", OPT_STR, 0, OFF(tls_cert_file), 0, CFG_PATH_MAX, "this node's certificate (PEM)"},
    {"tls-key-file", OPT_STR, 0, OFF(tls_key_file), 0, CFG_PATH_MAX, "its private key (PEM)"},
    {"tls-ca-cert-file", OPT_STR, 0, OFF(tls_ca_cert_file), 0, CFG_PATH_MAX,
     "CA certificates that sign clients' and peers' certificates (PEM)"},
    {"tls-auth-clients", OPT_TLSAUTH, 0, OFF(tls_auth_clients), 0, 0,
     "TLS clients must present a certificate: yes|no|optional (default yes)"},
    {"tls-replication", OPT_BOOL, 0, OFF(tls_replication), 0, 1,
     "replication and election links over mutual TLS (yes|no, default no)"},
    {"timeout", OPT_INT, OF_RUNTIME, OFF(timeout_s), 0, 31536000, "close a client idle for this many seconds (default 0: never)"},
    {"auth-timeout-ms", OPT_INT, OF_RUNTIME, OFF(auth_timeout_ms), 100, 3600000,
     "close a connection that has not authenticated after this (default 10000)"},
    {"max-unauth-clients", OPT_SIZE, OF_RUNTIME, OFF(unauth_clients_max), 1, 60000,
     "unauthenticated connections at once (default 1000)"},
    {"request-timeout-ms", OPT_INT, OF_RUNTIME, OFF(request_timeout_ms), 100, 3600000,
     "close a client whose request stays incomplete this long, plus 1 s per MiB received (default 10000)"},
    {"maxmemory-clients", OPT_SIZE, OF_RUNTIME | OF_BYTES, OFF(maxmemory_clients), 0, 1LL << 40,
     "all clients' input and output buffers together; the largest go first (default 1 GiB, 0: no limit)"},
    /* Memory limit and eviction (docs/OPERATIONS.md). */
    {"maxmemory", OPT_SIZE, OF_RUNTIME | OF_BYTES, OFF(maxmemory), 0, 1LL << 48,
     "memory the node may use (INFO used_memory) before the policy applies (default 0: no limit)"},
    {"maxmemory-policy", OPT_POLICY, OF_RUNTIME, OFF(maxmemory_policy), 0, 0,
     "at the limit: noeviction (writes refused) | allkeys-lru | volatile-lru | allkeys-random | volatile-random | volatile-ttl (default noeviction)"},
    {"maxmemory-samples", OPT_INT, OF_RUNTIME, OFF(maxmemory_samples), 1, CFG_EVICT_SAMPLES_MAX,
     "keys sampled per eviction (default 5)"},
    /* Observability (SLOWLOG, LATENCY, MONITOR). */
    {"slowlog-log-slower-than", OPT_INT, OF_RUNTIME, OFF(slowlog_slower_than_us), -1, INT_MAX,
     "log commands slower than this many microseconds in SLOWLOG, -1 = never (default 10000)"},
    {"slowlog-max-len", OPT_SIZE, OF_RUNTIME, OFF(slowlog_max_len), 0, CFG_SLOWLOG_LEN_MAX,
     "entries SLOWLOG keeps (default 128)"},
    {"latency-monitor-threshold", OPT_INT, OF_RUNTIME, OFF(latency_monitor_threshold_ms), 0, INT_MAX,
     "record LATENCY events of at least this many ms, 0 = off (default 0)"},
    {"latency-tracking", OPT_BOOL, OF_RUNTIME, OFF(latency_tracking), 0, 1,
     "per-command latency histograms for LATENCY HISTOGRAM and INFO latencystats (yes|no, default yes)"},
    {"latency-tracking-info-percentiles", OPT_STR, OF_RUNTIME, OFF(latency_percentiles), 0, CFG_PERCENTILES_MAX,
     "percentiles INFO latencystats shows (default \"50 99 99.9\")"},
    {"monitor-buffer-limit", OPT_SIZE, OF_RUNTIME | OF_BYTES, OFF(monitor_buf_max), 1 << 16, 1LL << 32,
     "unsent MONITOR output before that monitor is disconnected (default 16 MiB)"},
    {"enable-debug-command", OPT_STR, 0, OFF(enable_debug_cmd), 0, 7, "DEBUG: no | local (loopback clients only) | yes (default no)"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

void config_defaults(node_config *c)
{
    memset(c, 0, sizeof *c);
    c->node_id = 1;
    c->role = ROLE_LEADER;
    snprintf(c->bind, sizeof c->bind, "127.0.0.1");
    c->port = 7379;
    snprintf(c->data_dir, sizeof c->data_dir, "./data");
    c->log_level = LOG_INFO;
    c->key_max = WAL_KEY_MAX;
    c->value_max = WAL_VAL_MAX;
    c->args_max = 1024 * 1024;
    c->clients_max = 10000;
    c->databases = 16;
    c->query_buf_max = 64u << 20;
    c->reply_buf_max = 256u << 20;
    c->pending_bytes_max = 512u << 20;
    c->segment_bytes = WAL_SEGMENT_BYTES_DEFAULT;
    c->checkpoint_every_bytes = 256ull << 20;
    c->wal_retain_bytes = 256ull << 20;
    c->wal_catchup_max_bytes = 1ull << 30;
    c->catchup_max_lag_records = 5000000;
    snprintf(c->cluster_id, sizeof c->cluster_id, "rkv");
    c->repl_port = 0;
    c->quorum = -1;
    c->election_timeout_ms = 1000;
    snprintf(c->cluster_name, sizeof c->cluster_name, "rkv");
    c->heartbeat_ms = 100;
    c->wal_thread_ack = 1;
    c->follower_timeout_ms = 1000;
    c->keepalive = (net_keepalive)NET_KEEPALIVE_DEFAULT;
    c->quorum_timeout_ms = 5000;
    c->max_clock_offset_ms = 500;
    c->protected_mode = 1;
    c->tls_auth_clients = CFG_TLS_AUTH_YES;
    c->auth_timeout_ms = 10000;
    c->unauth_clients_max = 1000;
    c->request_timeout_ms = 10000;
    c->maxmemory_clients = 1ull << 30;
    c->maxmemory_policy = CFG_MM_NOEVICTION;
    c->maxmemory_samples = 5;
    c->slowlog_slower_than_us = 10000;
    c->slowlog_max_len = 128;
    c->latency_tracking = 1;
    snprintf(c->latency_percentiles, sizeof c->latency_percentiles, "50 99 99.9");
    c->monitor_buf_max = 16u << 20;
    snprintf(c->enable_debug_cmd, sizeof c->enable_debug_cmd, "no");
}

static int parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_peers(node_config *c, const char *value, char *err, size_t errlen)
{
    c->nfollowers = 0;
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[CFG_HOST_MAX + 8];
        if (n == 0 || n >= sizeof item) {
            snprintf(err, errlen, "followers: bad entry in '%s'", value);
            return -1;
        }
        if (c->nfollowers == CFG_FOLLOWERS_MAX) {
            snprintf(err, errlen, "followers: at most %d", CFG_FOLLOWERS_MAX);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = 0;
        cfg_peer *peer = &c->followers[c->nfollowers];
        if (net_parse_hostport(item, peer->host, sizeof peer->host, &peer->port) < 0) {
            snprintf(err, errlen, "followers: '%s' is not HOST:PORT", item);
            return -1;
        }
        for (int j = 0; j < c->nfollowers; j++)
            if (c->followers[j].port == peer->port &&
                strcasecmp(c->followers[j].host, peer->host) == 0) {
                snprintf(err, errlen,
                         "followers: '%s' is listed twice (a node counts once toward the quorum)",
                         item);
                return -1;
            }
        c->nfollowers++;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

/* --peers 1=HOST:PORT,2=HOST:PORT,... */
static int parse_members(node_config *c, const char *value, char *err, size_t errlen)
{
    c->nmembers = 0;
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[CFG_HOST_MAX + 16];
        if (n == 0 || n >= sizeof item) {
            snprintf(err, errlen, "peers: bad entry in '%.200s'", value);
            return -1;
        }
        if (c->nmembers == CFG_MEMBERS_MAX) {
            snprintf(err, errlen, "peers: at most %d members", CFG_MEMBERS_MAX);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = 0;
        char *eq = strchr(item, '=');
        long long id;
        cfg_member *m = &c->members[c->nmembers];
        if (!eq) {
            snprintf(err, errlen, "peers: '%s' is not ID=HOST:PORT", item);
            return -1;
        }
        *eq = 0;
        if (parse_ll(item, &id) < 0 || id < 1 || id > 65535) {
            snprintf(err, errlen, "peers: '%s' is not a node id in [1, 65535]", item);
            return -1;
        }
        m->id = (unsigned)id;
        if (net_parse_hostport(eq + 1, m->addr.host, sizeof m->addr.host, &m->addr.port) < 0 ||
            m->addr.port == 0) {
            snprintf(err, errlen, "peers: '%s' is not HOST:PORT", eq + 1);
            return -1;
        }
        for (int j = 0; j < c->nmembers; j++) {
            const cfg_member *o = &c->members[j];
            if (o->id == m->id) {
                snprintf(err, errlen, "peers: node id %u is listed twice", m->id);
                return -1;
            }
            if (o->addr.port == m->addr.port && strcasecmp(o->addr.host, m->addr.host) == 0) {
                snprintf(err, errlen, "peers: %s:%d is listed twice (nodes %u and %u)",
                         m->addr.host, m->addr.port, o->id, m->id);
                return -1;
            }
        }
        c->nmembers++;
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

static int mem_ll(const char *s, long long *out);

int config_set(node_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const opt *o = NULL;
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, key) == 0) o = &opts[i];
    if (!o) {
        snprintf(err, errlen, "unknown option '%s'", key);
        return -1;
    }
    char *field = (char *)c + o->off;
    long long v;
    switch (o->type) {
    case OPT_INT:
    case OPT_U64:
    case OPT_SIZE:
        if ((parse_ll(value, &v) < 0 && (!(o->flags & OF_BYTES) || mem_ll(value, &v) < 0)) ||
            v < o->min || v > o->max) {
            snprintf(err, errlen, "--%s: '%s' is not an integer in [%lld, %lld]", key, value,
                     o->min, o->max);
            return -1;
        }
        if (o->type == OPT_INT) {
            if (o->off == OFF(node_id) || o->off == OFF(key_max) || o->off == OFF(value_max) ||
                o->off == OFF(databases))
                *(unsigned *)field = (unsigned)v;
            else
                *(int *)field = (int)v;
        } else if (o->type == OPT_U64) {
            *(uint64_t *)field = (uint64_t)v;
        } else {
            *(size_t *)field = (size_t)v;
        }
        return 0;
    case OPT_STR:
        if (strlen(value) >= (size_t)o->max || strlen(value) < (size_t)o->min) {
            snprintf(err, errlen, "--%s: value length must be in [%lld, %lld)", key, o->min,
                     o->max);
            return -1;
        }
        snprintf(field, (size_t)o->max, "%s", value);
        return 0;
    case OPT_ROLE:
        if (strcmp(value, "leader") == 0)
            c->role = ROLE_LEADER;
        else if (strcmp(value, "follower") == 0)
            c->role = ROLE_FOLLOWER;
        else {
            snprintf(err, errlen, "--role: '%s' is not leader|follower", value);
            return -1;
        }
        return 0;
    case OPT_LEVEL:
        if (log_level_parse(value, &c->log_level) < 0) {
            snprintf(err, errlen, "--log-level: '%s' is not debug|info|warn|error", value);
            return -1;
        }
        return 0;
    case OPT_POLICY:
        if (config_policy_parse(value, &c->maxmemory_policy) < 0) {
            snprintf(err, errlen, "--maxmemory-policy: '%s' is not %s", value, CFG_MM_NAMES);
            return -1;
        }
        return 0;
    case OPT_PEERS:
        return parse_peers(c, value, err, errlen);
    case OPT_MEMBERS:
        return parse_members(c, value, err, errlen);
    case OPT_TLSAUTH:
        if (strcmp(value, "yes") == 0)
            c->tls_auth_clients = CFG_TLS_AUTH_YES;
        else if (strcmp(value, "no") == 0)
            c->tls_auth_clients = CFG_TLS_AUTH_NO;
        else if (strcmp(value, "optional") == 0)
            c->tls_auth_clients = CFG_TLS_AUTH_OPTIONAL;
        else {
            snprintf(err, errlen, "--tls-auth-clients: '%s' is not yes|no|optional", value);
            return -1;
        }
        return 0;
    case OPT_BOOL:
        if (strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
            *(int *)field = 1;
        else if (strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
            *(int *)field = 0;
        else {
            snprintf(err, errlen, "--%s: '%s' is not yes|no", key, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

int config_load_file(node_config *c, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "--config: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[CFG_LINE_MAX];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (lineno > CFG_FILE_LINES_MAX) {
            snprintf(err, errlen, "%s: more than %d lines", path, CFG_FILE_LINES_MAX);
            rc = -1;
            break;
        }
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, CFG_LINE_MAX);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *key = line;
        while (*key == ' ' || *key == '\t') key++;
        char *end = key + strlen(key);
        while (end > key && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        if (!*key) continue;
        char *val = key;
        while (*val && *val != ' ' && *val != '\t') val++;
        if (!*val) {
            snprintf(err, errlen, "%s:%d: '%s' has no value", path, lineno, key);
            rc = -1;
            break;
        }
        *val++ = 0;
        while (*val == ' ' || *val == '\t') val++;
        char sub[512];
        if (strcmp(key, "config") == 0 || config_set(c, key, val, sub, sizeof sub) < 0) {
            if (strcmp(key, "config") == 0) snprintf(sub, sizeof sub, "config files do not nest");
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = -1;
            break;
        }
    }
    fclose(fp);
    return rc;
}

int config_parse_args(node_config *c, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (flags start with --)", a);
            return -1;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        char key[64];
        const char *val;
        if (eq) {
            size_t kl = (size_t)(eq - name);
            if (kl >= sizeof key) {
                snprintf(err, errlen, "unknown flag '%s'", a);
                return -1;
            }
            memcpy(key, name, kl);
            key[kl] = 0;
            val = eq + 1;
        } else {
            if (strlen(name) >= sizeof key) {
                snprintf(err, errlen, "unknown flag '%s'", a);
                return -1;
            }
            snprintf(key, sizeof key, "%s", name);
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag '%s' needs a value", a);
                return -1;
            }
            val = argv[++i];
        }
        int rc = strcmp(key, "config") == 0 ? config_load_file(c, val, err, errlen)
                                            : config_set(c, key, val, err, errlen);
        if (rc < 0) return -1;
    }
    return 0;
}

int config_validate(node_config *c, char *err, size_t errlen)
{
    if (!rkv_crypto_available()) {
        const char *flag = c->tls_port ? "--tls-port"
                           : c->tls_replication ? "--tls-replication"
                           : c->cluster_secret_file[0] ? "--cluster-secret-file"
                           : c->requirepass[0] ? "--requirepass"
                           : c->aclfile[0] ? "--aclfile"
                                           : NULL;
        if (flag) {
            snprintf(err, errlen,
                     "%s needs OpenSSL, and this rkv-server was built without it "
                     "(install libssl-dev and rebuild)",
                     flag);
            return -1;
        }
    }
    if (c->tls_port || c->tls_replication) {
        const char *why = c->tls_port ? "--tls-port" : "--tls-replication yes";
        if (!c->tls_cert_file[0] || !c->tls_key_file[0]) {
            snprintf(err, errlen,
                     "%s needs --tls-cert-file and --tls-key-file (this node's certificate "
                     "and its private key, PEM)",
                     why);
            return -1;
        }
    }
    if (c->tls_replication && !c->tls_ca_cert_file[0]) {
        snprintf(err, errlen, "--tls-replication yes needs --tls-ca-cert-file: every node checks "
                              "its peer's certificate against the cluster's CA (mutual TLS)");
        return -1;
    }
    if (c->tls_port && c->tls_auth_clients != CFG_TLS_AUTH_NO && !c->tls_ca_cert_file[0]) {
        snprintf(err, errlen,
                 "--tls-auth-clients %s needs --tls-ca-cert-file to check client certificates "
                 "(or --tls-auth-clients no)",
                 c->tls_auth_clients == CFG_TLS_AUTH_YES ? "yes" : "optional");
        return -1;
    }
    if (c->tls_port && c->tls_port == c->port) {
        snprintf(err, errlen, "--tls-port %d is also --port: they need different ports",
                 c->tls_port);
        return -1;
    }
    c->elected = c->nmembers > 0;
    if (c->elected) {
        const cfg_member *self = NULL;
        for (int i = 0; i < c->nmembers; i++)
            if (c->members[i].id == c->node_id) self = &c->members[i];
        if (!self) {
            snprintf(err, errlen, "--peers does not list this node (--node-id %u)", c->node_id);
            return -1;
        }
        if (c->nfollowers > 0) {
            snprintf(err, errlen, "--peers (elected leader) and --followers (fixed leader) "
                                  "exclude each other");
            return -1;
        }
        /* Every member must hold the same list, or two majorities need not
         * meet: the CRC travels in VOTE and HELLO and a mismatch is refused. */
        uint32_t crc = 0;
        for (unsigned id = 1, seen = 0; seen < (unsigned)c->nmembers && id <= 65535; id++)
            for (int i = 0; i < c->nmembers; i++) {
                if (c->members[i].id != id) continue;
                char item[CFG_HOST_MAX + 32];
                int len = snprintf(item, sizeof item, "%u=", id);
                for (const char *h = c->members[i].addr.host; *h && len < (int)sizeof item - 8; h++)
                    item[len++] = (char)((*h >= 'A' && *h <= 'Z') ? *h + 32 : *h);
                len += snprintf(item + len, sizeof item - (size_t)len, ":%d,", c->members[i].addr.port);
                crc = crc32c(crc, item, (size_t)len);
                seen++;
            }
        c->members_crc = crc ? crc : 1;
        if (c->repl_port == 0) c->repl_port = self->addr.port;
        if (c->repl_port != self->addr.port) {
            snprintf(err, errlen, "--repl-port %d differs from this node's --peers entry %s:%d",
                     c->repl_port, self->addr.host, self->addr.port);
            return -1;
        }
        /* A leader counts itself: a majority of n members needs n/2 follower acks. */
        int need = c->nmembers / 2, max = c->nmembers - 1;
        if (c->quorum < 0) c->quorum = need;
        if (c->quorum < need || c->quorum > max) {
            snprintf(err, errlen,
                     "--quorum %d: with %d members a write needs between %d (a majority with "
                     "the leader) and %d follower acks; fewer would let two leaders both "
                     "acknowledge writes",
                     c->quorum, c->nmembers, need, max);
            return -1;
        }
        if (c->election_timeout_ms < 2 * c->heartbeat_ms) {
            snprintf(err, errlen,
                     "--election-timeout-ms %d must be at least twice --heartbeat-ms %d",
                     c->election_timeout_ms, c->heartbeat_ms);
            return -1;
        }
        return 0;
    }
    if (c->role == ROLE_LEADER) {
        if (c->quorum < 0) c->quorum = (c->nfollowers + 1) / 2; /* majority of n+1 minus self */
        if (c->quorum > c->nfollowers) {
            snprintf(err, errlen, "--quorum %d is larger than the number of followers (%d)",
                     c->quorum, c->nfollowers);
            return -1;
        }
    } else {
        if (c->nfollowers > 0) {
            snprintf(err, errlen, "--followers is for the leader; a follower takes --repl-port");
            return -1;
        }
        /* A follower waits for no acks. A quorum in a config file shared by
         * every node is ignored here rather than refused (found by
         * fuzz_config: it used to be kept, and CONFIG GET echoed it). */
        c->quorum = 0;
    }
    return 0;
}

/* ---- CONFIG GET / SET ---- */

/* Redis's names for rkv's settings where Redis has the same setting under
 * another name ("loglevel" speaks Redis's levels), then Redis settings that
 * have one fixed value in rkv: CONFIG GET answers them as Redis would for a
 * server that behaves that way, and CONFIG SET accepts that value only. */
typedef struct cfg_alias {
    const char *name, *opt;
} cfg_alias;
static const cfg_alias aliases[] = {
    {"maxclients", "max-clients"},
    {"client-query-buffer-limit", "max-query-buffer"},
    {"loglevel", "log-level"},
    {"logfile", "log-file"},
    {"dir", "data-dir"},
};
#define NALIASES (sizeof aliases / sizeof aliases[0])
typedef struct cfg_fixed {
    const char *name, *value, *why;
} cfg_fixed;
static const cfg_fixed fixed[] = {
    {"save", "", "rkv has no snapshot schedule: every write is in the WAL"},
    {"appendonly", "yes", "every write is in the WAL"},
    {"appendfsync", "always", "a write is acknowledged once it is fsynced"},
};
#define NFIXED (sizeof fixed / sizeof fixed[0])

size_t config_param_count(void)
{
    return NOPTS + NALIASES + NFIXED;
}

static const opt *opt_by_name(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

/* The option behind param I (NULL: a fixed one). */
static const opt *param_opt(size_t i)
{
    if (i < NOPTS) return &opts[i];
    if (i < NOPTS + NALIASES) return opt_by_name(aliases[i - NOPTS].opt);
    return NULL;
}

static int param_is_loglevel(size_t i)
{
    return i >= NOPTS && i < NOPTS + NALIASES && strcmp(aliases[i - NOPTS].name, "loglevel") == 0;
}

const char *config_param_name(size_t i)
{
    if (i < NOPTS) return opts[i].name;
    if (i < NOPTS + NALIASES) return aliases[i - NOPTS].name;
    return fixed[i - NOPTS - NALIASES].name;
}

const char *config_param_opt(size_t i)
{
    const opt *o = param_opt(i);
    return o ? o->name : NULL;
}

int config_param_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < config_param_count(); i++) {
        const char *n = config_param_name(i);
        if (strlen(n) == len && strncasecmp(n, name, len) == 0) return (int)i;
    }
    return -1;
}

unsigned config_param_flags(size_t i)
{
    const opt *o = param_opt(i);
    if (!o) return CFG_PARAM_FIXED;
    unsigned f = 0;
    if (o->flags & OF_RUNTIME) f |= CFG_PARAM_RUNTIME;
    if (o->flags & OF_SECRET) f |= CFG_PARAM_SECRET;
    return f;
}

size_t config_param_setting(size_t i)
{
    const opt *o = param_opt(i);
    return o ? o->off : sizeof(node_config) + i; /* a fixed param is its own setting */
}

/* The OPT_INT fields that are unsigned (config_set stores them so too). */
static int opt_unsigned(const opt *o)
{
    return o->off == OFF(node_id) || o->off == OFF(key_max) || o->off == OFF(value_max);
}

static size_t opt_size(const opt *o)
{
    switch (o->type) {
    case OPT_INT:
        return opt_unsigned(o) ? sizeof(unsigned) : sizeof(int);
    case OPT_U64: return sizeof(uint64_t);
    case OPT_SIZE: return sizeof(size_t);
    case OPT_STR: return (size_t)o->max;
    case OPT_ROLE: return sizeof(enum node_role);
    case OPT_LEVEL: return sizeof(enum log_level);
    case OPT_BOOL:
    case OPT_POLICY:
    case OPT_TLSAUTH: return sizeof(int);
    case OPT_PEERS:
    case OPT_MEMBERS: return 0; /* never set at run time */
    }
    return 0;
}

int config_param_field(size_t i, size_t *off, size_t *size)
{
    const opt *o = param_opt(i);
    if (!o) return -1;
    *off = o->off;
    *size = opt_size(o);
    return 0;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const redis_level_names[] = {"debug", "notice", "warning", "warning"};

void config_param_get(const node_config *c, size_t i, char *out, size_t outlen)
{
    const opt *o = param_opt(i);
    out[0] = 0;
    if (!o) {
        snprintf(out, outlen, "%s", fixed[i - NOPTS - NALIASES].value);
        return;
    }
    const char *field = (const char *)c + o->off;
    switch (o->type) {
    case OPT_INT:
        if (opt_unsigned(o))
            snprintf(out, outlen, "%u", *(const unsigned *)(const void *)field);
        else
            snprintf(out, outlen, "%d", *(const int *)(const void *)field);
        break;
    case OPT_U64:
        if (o->off == OFF(clock_offset_us))
            snprintf(out, outlen, "%lld", (long long)c->clock_offset_us);
        else
            snprintf(out, outlen, "%llu",
                     (unsigned long long)*(const uint64_t *)(const void *)field);
        break;
    case OPT_SIZE:
        snprintf(out, outlen, "%zu", *(const size_t *)(const void *)field);
        break;
    case OPT_STR:
        if (!(o->flags & OF_SECRET)) snprintf(out, outlen, "%s", field);
        break;
    case OPT_ROLE:
        snprintf(out, outlen, "%s", c->role == ROLE_LEADER ? "leader" : "follower");
        break;
    case OPT_LEVEL:
        snprintf(out, outlen, "%s",
                 (param_is_loglevel(i) ? redis_level_names : level_names)[c->log_level & 3]);
        break;
    case OPT_BOOL:
        snprintf(out, outlen, "%s", *(const int *)(const void *)field ? "yes" : "no");
        break;
    case OPT_POLICY:
        snprintf(out, outlen, "%s", config_policy_name(c->maxmemory_policy));
        break;
    case OPT_TLSAUTH:
        snprintf(out, outlen, "%s",
                 c->tls_auth_clients == CFG_TLS_AUTH_YES  ? "yes"
                 : c->tls_auth_clients == CFG_TLS_AUTH_NO ? "no"
                                                          : "optional");
        break;
    case OPT_PEERS: {
        size_t l = 0;
        for (int k = 0; k < c->nfollowers && l + 1 < outlen; k++)
            l += (size_t)snprintf(out + l, outlen - l, "%s%s:%d", k ? "," : "",
                                  c->followers[k].host, c->followers[k].port);
        break;
    }
    case OPT_MEMBERS: {
        size_t l = 0;
        for (int k = 0; k < c->nmembers && l + 1 < outlen; k++)
            l += (size_t)snprintf(out + l, outlen - l, "%s%u=%s:%d", k ? "," : "",
                                  c->members[k].id, c->members[k].addr.host,
                                  c->members[k].addr.port);
        break;
    }
    }
}

/* Redis's string2ll: optional '-', digits, no leading zeros, no overflow. */
static int strict_ll(const char *s, long long *out)
{
    const char *p = s;
    int neg = *p == '-';
    if (neg) p++;
    if (!*p || (p[0] == '0' && p[1]) || (neg && p[0] == '0')) return -1;
    unsigned long long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg ? v > (unsigned long long)LLONG_MAX + 1 : v > (unsigned long long)LLONG_MAX) return -1;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* Redis's memtoull: digits, then nothing or one of b k kb m mb g gb (any
 * case; k = 1000, kb = 1024). */
static int mem_ll(const char *s, long long *out)
{
    const char *u = s;
    while (*u >= '0' && *u <= '9') u++;
    if (u == s || u - s > 20) return -1;
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1},           {"b", 1},           {"k", 1000},
                 {"kb", 1024},      {"m", 1000000},     {"mb", 1024 * 1024},
                 {"g", 1000000000}, {"gb", 1024ull * 1024 * 1024}};
    unsigned long long mul = 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (strcasecmp(u, units[k].unit) == 0) mul = units[k].mul;
    if (!mul) return -1;
    unsigned long long v = 0;
    for (const char *p = s; p < u; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v > (unsigned long long)LLONG_MAX / mul) return -1;
    *out = (long long)(v * mul);
    return 0;
}

int config_param_set(node_config *c, size_t i, const char *value, size_t vlen, char *err,
                     size_t errlen)
{
    const opt *o = param_opt(i);
    if (memchr(value, 0, vlen)) {
        snprintf(err, errlen, "argument must not contain NUL bytes");
        return -1;
    }
    char v[CFG_PATH_MAX + 1];
    if (vlen >= sizeof v) {
        snprintf(err, errlen, "argument is longer than %zu bytes", sizeof v - 1);
        return -1;
    }
    memcpy(v, value, vlen);
    v[vlen] = 0;
    if (!o) {
        const cfg_fixed *f = &fixed[i - NOPTS - NALIASES];
        if (strcasecmp(v, f->value) == 0) return 0; /* what it is already */
        snprintf(err, errlen, "can't set immutable config (rkv's %s is always '%s': %s)",
                 f->name, f->value, f->why);
        return -1;
    }
    if (!(o->flags & OF_RUNTIME)) {
        snprintf(err, errlen,
                 "can't set immutable config (rkv reads '%s' only at start: restart with --%s)",
                 config_param_name(i), o->name);
        return -1;
    }
    char *field = (char *)c + o->off;
    long long n;
    switch (o->type) {
    case OPT_INT:
    case OPT_U64:
    case OPT_SIZE:
        if ((o->flags & OF_BYTES) ? mem_ll(v, &n) < 0 : strict_ll(v, &n) < 0) {
            snprintf(err, errlen, "%s",
                     (o->flags & OF_BYTES) ? "argument must be a memory value"
                                           : "argument couldn't be parsed into an integer");
            return -1;
        }
        if (n < o->min || n > o->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", o->min,
                     o->max);
            return -1;
        }
        if (o->type == OPT_INT && opt_unsigned(o))
            *(unsigned *)(void *)field = (unsigned)n;
        else if (o->type == OPT_INT)
            *(int *)(void *)field = (int)n;
        else if (o->type == OPT_U64)
            *(uint64_t *)(void *)field = (uint64_t)n;
        else
            *(size_t *)(void *)field = (size_t)n;
        return 0;
    case OPT_BOOL:
        if (strcasecmp(v, "yes") != 0 && strcasecmp(v, "no") != 0) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        *(int *)(void *)field = strcasecmp(v, "yes") == 0;
        return 0;
    case OPT_LEVEL:
        if (param_is_loglevel(i)) { /* Redis's levels */
            static const struct {
                const char *name;
                enum log_level level;
            } rl[] = {{"debug", LOG_DEBUG},
                      {"verbose", LOG_INFO},
                      {"notice", LOG_INFO},
                      {"warning", LOG_WARN}};
            for (size_t k = 0; k < sizeof rl / sizeof rl[0]; k++)
                if (strcasecmp(v, rl[k].name) == 0) {
                    c->log_level = rl[k].level;
                    return 0;
                }
            snprintf(err, errlen,
                     "argument(s) must be one of the following: debug, verbose, notice, warning");
            return -1;
        }
        for (int k = 0; k < 4; k++)
            if (strcasecmp(v, level_names[k]) == 0) {
                c->log_level = (enum log_level)k;
                return 0;
            }
        snprintf(err, errlen, "argument(s) must be one of the following: debug, info, warn, error");
        return -1;
    case OPT_STR:
        if (vlen >= (size_t)o->max || vlen < (size_t)o->min) {
            snprintf(err, errlen, "argument must be shorter than %lld bytes", o->max);
            return -1;
        }
        snprintf(field, (size_t)o->max, "%s", v);
        rkv_wipe(v, sizeof v);
        return 0;
    case OPT_POLICY:
        if (config_policy_parse(v, &c->maxmemory_policy) < 0) {
            snprintf(err, errlen, "argument(s) must be one of the following: %s", CFG_MM_LIST);
            return -1;
        }
        return 0;
    case OPT_ROLE:
    case OPT_PEERS:
    case OPT_MEMBERS:
    case OPT_TLSAUTH:
        break;
    }
    snprintf(err, errlen, "can't set immutable config");
    return -1;
}

static const char *const policy_names[CFG_MM_COUNT] = {
    [CFG_MM_NOEVICTION] = "noeviction",         [CFG_MM_ALLKEYS_LRU] = "allkeys-lru",
    [CFG_MM_VOLATILE_LRU] = "volatile-lru",     [CFG_MM_ALLKEYS_RANDOM] = "allkeys-random",
    [CFG_MM_VOLATILE_RANDOM] = "volatile-random", [CFG_MM_VOLATILE_TTL] = "volatile-ttl",
};

int config_policy_parse(const char *s, int *out)
{
    for (int k = 0; k < CFG_MM_COUNT; k++)
        if (strcasecmp(s, policy_names[k]) == 0) {
            *out = k;
            return 0;
        }
    return -1;
}

const char *config_policy_name(int policy)
{
    return policy >= 0 && policy < CFG_MM_COUNT ? policy_names[policy] : "?";
}

void config_usage(FILE *fp)
{
    fprintf(fp, "Usage: rkv-server [--config FILE] [--flag value ...]\n\n"
                "Every flag is also a config-file key: `port 7379`, one per line, # comments.\n"
                "  --config FILE               read settings from FILE\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", opts[i].name,
                 opts[i].type == OPT_STR || opts[i].type == OPT_PEERS || opts[i].type == OPT_MEMBERS || opts[i].type == OPT_TLSAUTH || opts[i].type == OPT_POLICY ? "S" : "N");
        fprintf(fp, "  %-28s%s\n", left, opts[i].help);
    }
}

/* ---- The sample config file (rkv-server --dump-config-sample) ----
 * Written from the option table, so contrib/rkv.conf cannot drift from the
 * options: a paragraph per option (its help text, wrapped), then the
 * option as a commented line with its default value, which parses as it
 * stands (config_set is tried on it). An option without a default that
 * parses (an empty path, a computed quorum) gets an example instead,
 * marked as such. */
typedef struct cfg_example {
    const char *name, *value;
} cfg_example;
static const cfg_example sample_examples[] = {
    {"log-file", "/var/log/rkv/rkv.log"},
    {"followers", "10.0.0.2:7380,10.0.0.3:7380"},
    {"peers", "1=10.0.0.1:7380,2=10.0.0.2:7380,3=10.0.0.3:7380"},
    {"announce-host", "10.0.0.1"},
    {"quorum", "1"},
    {"requirepass", "a-long-random-password"},
    {"aclfile", "/etc/rkv/users.acl"},
    {"cluster-secret-file", "/etc/rkv/cluster-secret"},
    {"tls-cert-file", "/etc/rkv/tls/node.crt"},
    {"tls-key-file", "/etc/rkv/tls/node.key"},
    {"tls-ca-cert-file", "/etc/rkv/tls/ca.crt"},
};
#define SAMPLE_WRAP 76

/* Writes "NAME: TEXT." as "# " lines of at most SAMPLE_WRAP columns. */
static void sample_paragraph(FILE *fp, const char *name, const char *text)
{
    char para[512];
    snprintf(para, sizeof para, "%s: %s.", name, text);
    const char *p = para;
    while (*p) {
        size_t n = strlen(p);
        if (n > SAMPLE_WRAP - 2) {
            n = SAMPLE_WRAP - 2;
            while (n > 0 && p[n] != ' ') n--;
            if (n == 0) n = strcspn(p, " ");
        }
        fprintf(fp, "# %.*s\n", (int)n, p);
        p += n;
        while (*p == ' ') p++;
    }
}

int config_write_sample(FILE *fp)
{
    node_config def, scratch;
    config_defaults(&def);
    fprintf(fp,
            "# rkv.conf -- every rkv-server option, with its default.\n"
            "#\n"
            "# Generated by `rkv-server --dump-config-sample` from the server's option\n"
            "# table: regenerate it rather than editing the descriptions.\n"
            "#\n"
            "# Pass the file with `rkv-server --config FILE`; flags given after --config\n"
            "# override it. One `option value` per line, `#` starts a comment, values\n"
            "# are not quoted. Every line below is commented out and shows the default\n"
            "# value; lines after \"Example (no default):\" show an example instead.\n"
            "# `rkv-server --config FILE --check-config` checks a file without starting.\n"
            "# With the systemd unit rkv@N.service, node N reads /etc/rkv/nodeN.conf.\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const opt *o = &opts[i];
        char value[CFG_PATH_MAX], err[256];
        config_param_get(&def, i, value, sizeof value);
        scratch = def;
        int parses = value[0] && config_set(&scratch, o->name, value, err, sizeof err) == 0;
        const char *example = NULL;
        for (size_t k = 0; k < sizeof sample_examples / sizeof sample_examples[0]; k++)
            if (strcmp(sample_examples[k].name, o->name) == 0) example = sample_examples[k].value;
        fprintf(fp, "\n");
        sample_paragraph(fp, o->name, o->help);
        fprintf(fp, "#\n");
        if (parses) {
            fprintf(fp, "# %s %s\n", o->name, value);
        } else {
            fprintf(fp, "# Example (no default):\n# %s %s\n", o->name, example ? example : "VALUE");
        }
    }
    return ferror(fp) ? -1 : 0;
}
