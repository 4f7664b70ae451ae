/* config.h -- every setting of an rkv-server node, from flags or a file.
 *
 * Flags and config-file keys share names: `--port 7379` on the command line
 * is `port 7379` in the file given with `--config FILE` (one `key value` per
 * line, `#` starts a comment). Flags given after --config override the
 * file. A bad flag or value is an error naming it (the server exits with 2).
 * The whole configuration is a value inside the node: no globals. */
#ifndef RKV_CONFIG_H
#define RKV_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "common/log.h"
#include "net/net.h"

#define CFG_PATH_MAX 1024
#define CFG_HOST_MAX 256
#define CFG_FOLLOWERS_MAX 8
#define CFG_CLUSTER_ID_MAX 64
#define CFG_LINE_MAX 4096       /* longest config-file line */
#define CFG_FILE_LINES_MAX 10000 /* most lines read from a config file */
#define CFG_SECRET_MAX 512       /* longest password on the command line or in a file */
#define CFG_EVICT_SAMPLES_MAX 64  /* --maxmemory-samples */
#define CFG_SLOWLOG_LEN_MAX (1u << 20) /* --slowlog-max-len */
#define CFG_PERCENTILES_MAX 128  /* --latency-tracking-info-percentiles text */

enum node_role { ROLE_LEADER = 0, ROLE_FOLLOWER = 1 };

typedef struct cfg_peer {
    char host[CFG_HOST_MAX];
    int port;
} cfg_peer;

#define CFG_MEMBERS_MAX (CFG_FOLLOWERS_MAX + 1)
/* A member of an elected cluster (--peers ID=HOST:PORT): its replication
 * address. */
typedef struct cfg_member {
    unsigned id;
    cfg_peer addr;
} cfg_member;

typedef struct node_config {
    unsigned node_id;
    enum node_role role;
    char bind[CFG_HOST_MAX];
    int port; /* client port; 0 picks a free one */
    char data_dir[CFG_PATH_MAX];
    enum log_level log_level;
    char log_file[CFG_PATH_MAX]; /* empty: stderr */

    /* Limits, each answered with a clear error and nothing written. */
    uint32_t key_max;          /* longest key, bytes */
    uint32_t value_max;        /* longest value, bytes */
    size_t args_max;           /* most arguments in one command */
    size_t clients_max;        /* most client connections */
    unsigned databases;        /* SELECT 0 .. databases-1 (--databases, default 16) */
    size_t query_buf_max;      /* unread input buffered per client */
    size_t reply_buf_max;      /* unsent replies buffered per client */
    size_t pending_bytes_max;  /* uncommitted records held in memory */

    uint64_t segment_bytes; /* WAL segment rotation size */
    uint64_t checkpoint_every_bytes; /* WAL growth that triggers a checkpoint; 0 = never */
    uint64_t wal_retain_bytes;       /* WAL kept behind the oldest checkpoint for catch-up */
    uint64_t wal_catchup_max_bytes;  /* WAL kept for followers being caught up, at most */
    uint64_t catchup_max_lag_records; /* further behind: snapshot instead of WAL catch-up */

    /* Replication. */
    char cluster_id[CFG_CLUSTER_ID_MAX];
    int repl_port; /* follower: replication listener; 0 picks a free one */
    cfg_peer followers[CFG_FOLLOWERS_MAX];
    int nfollowers;
    int quorum; /* -1: default (majority of the cluster minus the leader) */
    /* Elections (--peers): every member listed with its replication
     * address; this node is the one with --node-id. Set, the node elects its
     * leader (repl_elect.h); unset, the fixed topology of --role. */
    cfg_member members[CFG_MEMBERS_MAX];
    int nmembers;
    int elected;               /* computed by config_validate: nmembers > 0 */
    uint32_t members_crc;      /* computed: CRC-32C of the member list, sorted by id (nonzero) */
    int election_timeout_ms;   /* T: a follower campaigns after T..2T of silence */
    char cluster_name[CFG_CLUSTER_ID_MAX]; /* the Sentinel master name */
    char announce_host[CFG_HOST_MAX];      /* client address given to clients and peers */
    int announce_port;
    int heartbeat_ms;
    int follower_timeout_ms;
    net_keepalive keepalive;
    int quorum_timeout_ms;
    int log_lag;
    int ship_threads; /* removed (issue 15): parsed so old configurations start; ignored */
    int wal_thread_ack; /* follower: ACK from the WAL thread after fdatasync (issue 15) */
    int64_t clock_offset_us;  /* test hook: skews this node's HLC wall clock */
    uint64_t max_clock_offset_ms; /* records stamped further ahead of our clock are reported */

    /* Security (docs/SECURITY.md). Redis's option names where Redis has one. */
    char requirepass[CFG_SECRET_MAX];   /* the default user's password ("" none) */
    char aclfile[CFG_PATH_MAX];         /* users and their rights, Redis ACL syntax */
    int protected_mode;                 /* no password: refuse non-loopback clients */
    char cluster_secret_file[CFG_PATH_MAX]; /* shared by every node: replication handshake */
    int tls_port;                       /* TLS client port (0: none) */
    char tls_cert_file[CFG_PATH_MAX];
    char tls_key_file[CFG_PATH_MAX];
    char tls_ca_cert_file[CFG_PATH_MAX];
    int tls_auth_clients;               /* CFG_TLS_AUTH_* */
    int tls_replication;                /* replication and vote links over mutual TLS */
    /* Abuse limits: a client cannot hold the server's descriptors, memory or
     * slots without authenticating and making progress. */
    int timeout_s;                      /* idle client closed after this (0: never) */
    int auth_timeout_ms;                /* unauthenticated connection closed after this */
    size_t unauth_clients_max;          /* unauthenticated connections at once */
    int request_timeout_ms;             /* an incomplete request older than this is dropped */
    size_t maxmemory_clients;           /* all clients' buffers together (0: no limit) */
    /* Memory limit (node_mem.c): writes are refused or keys evicted above it. */
    size_t maxmemory;                   /* used_memory limit (0: none) */
    int maxmemory_policy;               /* CFG_MM_* */
    int maxmemory_samples;              /* keys sampled per eviction */
    /* Observability. */
    int slowlog_slower_than_us;         /* -1: never, 0: every command */
    size_t slowlog_max_len;             /* SLOWLOG entries kept */
    int latency_monitor_threshold_ms;   /* LATENCY events at least this long (0: off) */
    int latency_tracking;               /* per-command histograms */
    char latency_percentiles[CFG_PERCENTILES_MAX]; /* "50 99 99.9" */
    size_t monitor_buf_max;             /* a MONITOR client's unsent output */
    char enable_debug_cmd[8];           /* DEBUG: "no", "local" (loopback clients) or "yes" */
} node_config;

/* --maxmemory-policy. LFU is not offered: rkv keeps an access clock per key
 * (LRU), not a frequency counter. */
enum {
    CFG_MM_NOEVICTION,
    CFG_MM_ALLKEYS_LRU,
    CFG_MM_VOLATILE_LRU,
    CFG_MM_ALLKEYS_RANDOM,
    CFG_MM_VOLATILE_RANDOM,
    CFG_MM_VOLATILE_TTL,
    CFG_MM_COUNT
};
#define CFG_MM_NAMES "noeviction|allkeys-lru|volatile-lru|allkeys-random|volatile-random|volatile-ttl"
#define CFG_MM_LIST "noeviction, allkeys-lru, volatile-lru, allkeys-random, volatile-random, volatile-ttl"
int config_policy_parse(const char *s, int *out);
const char *config_policy_name(int policy);

enum { CFG_TLS_AUTH_NO = 0, CFG_TLS_AUTH_YES = 1, CFG_TLS_AUTH_OPTIONAL = 2 };

void config_defaults(node_config *c);
/* Parses argv (argv[0] is the program). Returns 0, 1 if --help was given
 * (usage printed), or -1 with a message naming the bad flag in ERR. */
int config_parse_args(node_config *c, int argc, char **argv, char *err, size_t errlen);
/* Applies one `key value` setting (flag name without the dashes). */
int config_set(node_config *c, const char *key, const char *value, char *err, size_t errlen);
/* Reads a config file. 0 or -1 with "FILE:LINE: message" in ERR. */
int config_load_file(node_config *c, const char *path, char *err, size_t errlen);
/* Cross-field checks after parsing (quorum vs followers, ...). */
int config_validate(node_config *c, char *err, size_t errlen);
void config_usage(FILE *fp);
/* Writes the sample config file: every option, a paragraph each, its
 * default value on a commented line (rkv-server --dump-config-sample;
 * contrib/rkv.conf is its output). 0, or -1 on a write error. */
int config_write_sample(FILE *fp);

/* CONFIG GET / SET: the params are every setting under its rkv name (the
 * flag's), Redis's names for those Redis has under another name
 * ("maxclients", "loglevel" with Redis's levels, "dir", ...), and Redis
 * settings with one fixed value here ("appendonly" yes, "save" "", ...). */
enum {
    CFG_PARAM_RUNTIME = 1, /* CONFIG SET may change it (read where used, never cached) */
    CFG_PARAM_SECRET = 2,  /* requirepass: never shown; kept as a hash by the ACL only */
    CFG_PARAM_FIXED = 4,   /* a Redis setting with one value here: SET accepts that one */
};
size_t config_param_count(void);
const char *config_param_name(size_t i);
/* The rkv option behind param I (its own name for an alias), NULL for a
 * fixed one. */
const char *config_param_opt(size_t i);
/* The param named NAME[0..LEN), case-insensitively, or -1. */
int config_param_lookup(const char *name, size_t len);
unsigned config_param_flags(size_t i);
/* Params with equal values here are one setting (an alias and its option). */
size_t config_param_setting(size_t i);
/* Where param I's setting lives in node_config (a staged copy is committed
 * field by field). 0, or -1 for a fixed param. */
int config_param_field(size_t i, size_t *off, size_t *size);
/* Its value as CONFIG GET shows it ("yes"/"no", plain integers, ""). */
void config_param_get(const node_config *c, size_t i, char *out, size_t outlen);
/* CONFIG SET of param I to VALUE in C. 0, or -1 with Redis's reason in ERR
 * ("argument couldn't be parsed into an integer", "argument must be
 * between 0 and 60000 inclusive", "can't set immutable config (...)"). */
int config_param_set(node_config *c, size_t i, const char *value, size_t vlen, char *err,
                     size_t errlen);

#endif
