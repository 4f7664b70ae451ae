/* obs.h -- what a node measures about itself for INFO, SLOWLOG, LATENCY and
 * MONITOR: per-command calls and latency histograms, error counts by
 * prefix, the slow log, the latency monitor's events, the instantaneous
 * rates and the MONITOR clients. All of it lives in the node (obs_state in
 * struct node): several nodes run in one process in some tests.
 *
 * Every table has a named maximum, checked before anything is allocated:
 * a client cannot grow the node's memory through the names it sends
 * (OBS_CMDS_MAX command names, OBS_ERRORS_MAX error prefixes, then Redis's
 * ERRORSTATS_DISABLED), nor through MONITOR (--monitor-buffer-limit).
 *
 * Two latencies per command (docs/MONITORING.md):
 *   - Redis's: dispatch to the reply being queued (the command's own
 *     execution, a write's proposal included): commandstats usec,
 *     latencystats, LATENCY HISTOGRAM, SLOWLOG and the "command" events;
 *   - rkv's: dispatch to the reply being released, which for a write is
 *     after its quorum commit (cmdstat_rkv_reply|CMD in commandstats,
 *     latency_percentiles_usec_rkv_reply|CMD in latencystats). */
#ifndef RKV_OBS_H
#define RKV_OBS_H

#include <stddef.h>
#include <stdint.h>

struct node;
struct client;
struct info_buf;

/* ---- latency histogram (HdrHistogram's layout, as Redis 7 uses it) ----
 * A log-linear histogram of nanoseconds, 1 ns (OBS_HIST_MIN_NS) to 1 s
 * (OBS_HIST_MAX_NS; longer is clamped), two significant digits: 256
 * linear sub-buckets per power of two. The index arithmetic is
 * HdrHistogram's with Redis 7.0's parameters, so percentiles and LATENCY
 * HISTOGRAM's buckets are the numbers Redis prints for the same samples
 * (checked against redis-server 7.0.15: a 3 µs GET is p50=3.007). */
#define OBS_HIST_MIN_NS 1ll            /* Redis's LATENCY_HISTOGRAM_MIN_VALUE */
#define OBS_HIST_MAX_NS 1000000000ll   /* 1 s: LATENCY_HISTOGRAM_MAX_VALUE */
#define OBS_HIST_SUB_HALF_MAG 7        /* log2(256 / 2): 2 significant digits */
#define OBS_HIST_SUB_COUNT 256
#define OBS_HIST_BUCKETS 23            /* powers of two past 256 to reach OBS_HIST_MAX_NS */
#define OBS_HIST_COUNTS ((OBS_HIST_BUCKETS + 1) * (OBS_HIST_SUB_COUNT / 2))

typedef struct obs_hist {
    uint64_t total;
    uint64_t counts[OBS_HIST_COUNTS];
} obs_hist;

void obs_hist_record_us(obs_hist *h, uint64_t us);
/* The value at percentile P (0..100) in nanoseconds, HdrHistogram's
 * hdr_value_at_percentile. */
int64_t obs_hist_percentile_ns(const obs_hist *h, double p);
/* LATENCY HISTOGRAM's buckets (Redis's fillCommandCDF): FN(CTX, upper
 * bound in µs, cumulative count) for each; returns how many (FN may be
 * NULL to count them first). */
size_t obs_hist_cdf(const obs_hist *h, void (*fn)(void *, long long, long long), void *ctx);

/* ---- limits ---- */
#define OBS_CMDS_MAX 256          /* command (and subcommand) names tracked */
#define OBS_CMD_NAME_MAX 48       /* "client|no-evict" */
#define OBS_ERRORS_MAX 128        /* Redis's ERROR_STATS_NUMBER */
#define OBS_ERR_NAME_MAX 32       /* a prefix longer than this counts as ERR, as Redis */
#define OBS_SLOW_ARGS_MAX 32      /* Redis's SLOWLOG_ENTRY_MAX_ARGC */
#define OBS_SLOW_ARG_BYTES 128    /* Redis's SLOWLOG_ENTRY_MAX_STRING */
#define OBS_SLOW_NAME_MAX 128     /* client name kept with an entry */
#define OBS_LAT_EVENTS_MAX 16     /* distinct latency monitor events */
#define OBS_LAT_SAMPLES 160       /* Redis's LATENCY_TS_LEN */
#define OBS_LAT_NAME_MAX 32
#define OBS_RATE_SLOTS 16         /* Redis's STATS_METRIC_SAMPLES */
#define OBS_RATE_MS 100           /* sampled this often, as Redis's serverCron */
#define OBS_MONITORS_MAX 64       /* MONITOR clients at once */
#define OBS_FSYNC_BUCKETS 32      /* WAL fdatasync times: power-of-two µs buckets */

/* Command flags for obs_cmd_end (from the command table). */
enum {
    OBS_FAST = 1,       /* @fast: its slow runs are "fast-command" events */
    OBS_NO_MONITOR = 2, /* @admin: not shown to MONITOR, as Redis */
    OBS_NO_SLOWLOG = 4, /* EXEC: its commands are logged one by one */
};

typedef struct obs_cmdstat {
    char name[OBS_CMD_NAME_MAX]; /* "" free slot */
    int admin_sub; /* an @admin subcommand (CONFIG SET, ...): not fed to MONITOR */
    uint64_t calls, usec, rejected, failed;
    uint64_t reply_calls, reply_usec; /* rkv: replies released after a commit */
    obs_hist *hist;   /* execution (NULL until the first call) */
    obs_hist *rhist;  /* dispatch to release, for replies that waited */
} obs_cmdstat;

typedef struct obs_slow {
    uint64_t id;
    int64_t time_s;
    uint64_t dur_us;
    int argc;           /* what is shown, the "... (N more arguments)" included */
    char **argv;        /* one allocation with the entry */
    size_t *arglen;
    char peer[64];
    char name[OBS_SLOW_NAME_MAX];
} obs_slow;

typedef struct obs_lat_event {
    char name[OBS_LAT_NAME_MAX]; /* "" free */
    struct {
        int64_t time_s;
        uint32_t ms;
    } s[OBS_LAT_SAMPLES];
    unsigned idx;       /* next slot */
    uint32_t max_ms;    /* the largest since the last reset */
} obs_lat_event;

typedef struct obs_rate {
    uint64_t last_val, last_ms;
    uint64_t s[OBS_RATE_SLOTS];
    unsigned idx;
} obs_rate;

/* The command running now: what a ticket queued by it is attributed to. */
typedef struct obs_call {
    int idx;              /* obs_cmdstat slot, or -1 */
    uint64_t t0_us;       /* monotonic, at dispatch */
    uint32_t owed0;       /* the client's owed replies before it ran */
    int prev_idx;
    uint64_t prev_t0_us;
    uint64_t prev_errors; /* the enclosing command's (EXEC's) error count */
} obs_call;

typedef struct obs_state {
    obs_cmdstat *cmds; /* OBS_CMDS_MAX slots, open addressing by name */
    size_t ncmds;
    struct {
        char name[OBS_ERR_NAME_MAX];
        uint64_t count;
    } errs[OBS_ERRORS_MAX];
    size_t nerrs;
    int errs_disabled; /* OBS_ERRORS_MAX prefixes were seen: ERRORSTATS_DISABLED */
    uint64_t error_replies;

    obs_slow **slow;   /* ring of cfg.slowlog_max_len, newest at slow_head - 1 */
    size_t slow_cap, slow_head, slow_len;
    uint64_t slow_next_id;

    obs_lat_event *lat; /* OBS_LAT_EVENTS_MAX (allocated with the state) */

    obs_rate ops, net_in, net_out;
    uint64_t net_in_bytes, net_out_bytes, reads, writes;
    uint64_t keyspace_hits, keyspace_misses; /* reads' key lookups (cmd_lookup) */
    uint64_t rate_ms;

    struct client *mon[OBS_MONITORS_MAX];
    size_t nmon;
    uint64_t monitors_dropped;

    int cur_idx;        /* the running command (obs_call) */
    uint64_t cur_t0_us;
    uint64_t cur_errors; /* error replies of the running command itself */

    /* Checkpoints (persistence). */
    int64_t last_save_s;      /* unix time of the last checkpoint written (start time if none) */
    uint64_t ckpt_done_seen, ckpt_failed_seen; /* node counters at the last cron */
    uint64_t ckpt_start_us;   /* monotonic, of the running one */
    int64_t last_bgsave_sec;  /* duration of the last one (-1 none) */
    int last_bgsave_ok;
    uint64_t fork_usec, forks;

    /* WAL fdatasync times as last read from the WAL thread. */
    uint64_t fsync_seen_max_us;
    obs_hist *quorum; /* proposal (dispatch) to commit of writes */
    uint64_t quorum_max_us, quorum_usec;
    uint64_t start_us;
} obs_state;

int obs_init(struct node *n);
void obs_free(struct node *n);
/* CONFIG RESETSTAT: counters, histograms, error stats (not the slow log
 * nor the latency events, as Redis). */
void obs_reset(struct node *n);
uint64_t obs_now_us(void);

/* ---- the dispatch hooks (commands.c) ---- */
/* A command starts: NAME is its table name; CONTAINER: argv[1] names a
 * subcommand ("client|list"). Notes the full name for CLIENT LIST. */
void obs_cmd_begin(struct client *c, const char *name, int container, obs_call *call);
/* It ended (its reply queued or owed): counts, times, slow log, latency
 * events, MONITOR. FLAGS: OBS_*. */
void obs_cmd_end(struct client *c, obs_call *call, unsigned flags);
/* Refused before it ran (arity, ACL, READONLY, OOM, LOADING ...). */
void obs_cmd_rejected(struct client *c, const char *name, int container);
/* An error reply is being sent (reply_error): counts it by prefix. */
void obs_error_reply(struct node *n, const char *msg, size_t len);
/* A ticket's reply was released: IDX and T0 were the command's (node.c). */
void obs_reply_released(struct node *n, int idx, uint64_t t0_us, int ok);

/* ---- node hooks ---- */
/* From the cron: rates every OBS_RATE_MS, WAL fsync events. */
void obs_cron(struct node *n, uint64_t now_ms);
void obs_ckpt_started(struct node *n, uint64_t fork_us);
void obs_ckpt_finished(struct node *n, int ok);
/* Records a latency monitor event of MS milliseconds, if at least
 * --latency-monitor-threshold (and that is not 0). */
void obs_latency_event(struct node *n, const char *event, uint64_t ms);
/* A client is freed: it stops being a monitor. */
void obs_client_gone(struct client *c);

/* ---- for INFO and the commands (info.c, cmd_obs.c) ---- */
void obs_info_commandstats(struct node *n, struct info_buf *b);
void obs_info_errorstats(struct node *n, struct info_buf *b);
void obs_info_latencystats(struct node *n, struct info_buf *b);
/* rkv's own INFO fields for the stats section (WAL fsync, quorum wait). */
void obs_info_rkv_stats(struct node *n, struct info_buf *b);
uint64_t obs_rate_value(const obs_rate *r);
/* The cmdstat of NAME (lowercase full name), or NULL. */
const obs_cmdstat *obs_find_cmd(const struct node *n, const char *name);
/* Makes CLIENT C a monitor: 0, or -1 (too many). */
int obs_monitor_add(struct client *c);
void obs_slowlog_reset(struct node *n);

#endif
