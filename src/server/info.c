/* info.c -- INFO sections (see info.h). Field names follow Redis where the
 * meaning is the same, so dashboards and client libraries can read them. */
#include "server/info.h"
#include "common/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "net/tls.h"
#include "server/client.h"
#include "server/node.h"
#include "server/obs.h"
#include "server/pubsub.h"
#include "server/sentinel.h"

#define INFO_VERSION RKV_VERSION
#define INFO_HZ 100 /* the node's cron runs every 10 ms */

void info_printf(info_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        int l = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (l < 0) return;
        if (b->p && (size_t)l < room) {
            b->len += (size_t)l;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + (size_t)l + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
}

/* Redis's bytesToHuman. */
static void human(char *out, size_t len, double n)
{
    static const char units[] = "KMGTPE";
    if (n < 1024) {
        snprintf(out, len, "%lluB", (unsigned long long)n);
        return;
    }
    int u = 0;
    n /= 1024;
    while (n >= 1024 && u < 5) {
        n /= 1024;
        u++;
    }
    snprintf(out, len, "%.2f%c", n, units[u]);
}

static void info_server(node *n, info_buf *b)
{
    uint64_t up = (ev_now_ms() - n->stats.start_ms) / 1000;
    char runid[SENTINEL_ID_HEX + 1];
    sentinel_runid(n, n->cfg.node_id, runid);
    struct utsname u;
    if (uname(&u) < 0) memset(&u, 0, sizeof u);
    char exe[CFG_PATH_MAX];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    info_printf(b,
                "# Server\r\nredis_version:%s\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
                "redis_build_id:%.16s\r\nredis_mode:standalone\r\nos:%s %s %s\r\n"
                "arch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
                "multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n"
                "gcc_version:%d.%d.%d\r\nprocess_id:%ld\r\nprocess_supervised:no\r\n"
                "run_id:%s\r\ntcp_port:%d\r\nserver_time_usec:%lld\r\n"
                "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\nhz:%d\r\nconfigured_hz:%d\r\n"
                "lru_clock:%lld\r\nexecutable:%s\r\nconfig_file:\r\nio_threads_active:0\r\n"
                "rkv_version:%s\r\nnode_id:%u\r\ntls_port:%d\r\ntls_replication:%d\r\n"
                "data_dir:%s\r\n\r\n",
                INFO_REDIS_VERSION, runid, u.sysname, u.release, u.machine,
                (int)(sizeof(void *) * 8),
#ifdef __GNUC__
                __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                0, 0, 0,
#endif
                (long)getpid(), runid, n->port,
                (long long)tv.tv_sec * 1000000LL + (long long)tv.tv_usec,
                (unsigned long long)up, (unsigned long long)(up / 86400), INFO_HZ, INFO_HZ,
                (long long)(tv.tv_sec & ((1 << 24) - 1)), exe, INFO_VERSION, n->cfg.node_id,
                n->tls_port, n->tls_repl != NULL, n->cfg.data_dir);
}

static void info_clients(node *n, info_buf *b)
{
    size_t blocked = 0, max_in = 0, max_out = 0;
    for (client *c = n->blocked; c; c = c->wnext) blocked++;
    for (const client *c = n->clients; c; c = c->next) {
        if (c->in_cap > max_in) max_in = c->in_cap;
        if (c->out_cap > max_out) max_out = c->out_cap;
    }
    info_printf(b,
                "# Clients\r\nconnected_clients:%zu\r\ncluster_connections:0\r\nmaxclients:%zu\r\n"
                "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
                "blocked_clients:%zu\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n"
                "unauthenticated_clients:%zu\r\nmax_unauth_clients:%zu\r\n\r\n",
                n->nclients, n->cfg.clients_max, max_in, max_out, blocked, n->nunauth,
                n->cfg.unauth_clients_max);
}

static void info_memory(node *n, info_buf *b)
{
    size_t used = node_used_memory(n), rss = node_rss_bytes(n);
    size_t peak = n->mem.peak > used ? n->mem.peak : used, startup = n->mem.startup;
    size_t kvb = kv_memory_bytes(n->kv), bufs = n->pending.cap + n->client_mem;
    size_t overhead = used > kvb ? used - kvb : 0, net = used > startup ? used - startup : 0;
    size_t sysmem = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    char h_used[32], h_rss[32], h_peak[32], h_sys[32], h_max[32];
    human(h_used, sizeof h_used, (double)used);
    human(h_rss, sizeof h_rss, (double)rss);
    human(h_peak, sizeof h_peak, (double)peak);
    human(h_sys, sizeof h_sys, (double)sysmem);
    human(h_max, sizeof h_max, (double)n->cfg.maxmemory);
    double frag = used ? (double)rss / (double)used : 0.0;
    info_printf(b,
                "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
                "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
                "used_memory_peak_perc:%.2f%%\r\nused_memory_overhead:%zu\r\n"
                "used_memory_startup:%zu\r\nused_memory_dataset:%zu\r\n"
                "used_memory_dataset_perc:%.2f%%\r\nallocator_allocated:%zu\r\n"
                "allocator_active:%zu\r\nallocator_resident:%zu\r\ntotal_system_memory:%zu\r\n"
                "total_system_memory_human:%s\r\nused_memory_lua:0\r\nused_memory_vm_eval:0\r\n"
                "used_memory_lua_human:0B\r\nused_memory_scripts_eval:0\r\n"
                "number_of_cached_scripts:%zu\r\nnumber_of_functions:0\r\nnumber_of_libraries:0\r\n"
                "used_memory_vm_functions:0\r\nused_memory_vm_total:0\r\n"
                "used_memory_vm_total_human:0B\r\nused_memory_functions:0\r\n"
                "used_memory_scripts:0\r\nused_memory_scripts_human:0B\r\nmaxmemory:%zu\r\n"
                "maxmemory_human:%s\r\nmaxmemory_policy:%s\r\nallocator_frag_ratio:1.00\r\n"
                "allocator_frag_bytes:0\r\nallocator_rss_ratio:%.2f\r\nallocator_rss_bytes:%lld\r\n"
                "rss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:%.2f\r\n"
                "mem_fragmentation_bytes:%lld\r\nmem_not_counted_for_evict:%zu\r\n"
                "mem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\n"
                "mem_clients_slaves:0\r\nmem_clients_normal:%zu\r\nmem_cluster_links:0\r\n"
                "mem_aof_buffer:0\r\nmem_allocator:libc\r\nactive_defrag_running:0\r\n"
                "lazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n"
                "used_memory_buffers:%zu\r\npending_bytes:%zu\r\nkv_tombstones:%zu\r\n"
                "maxmemory_clients:%zu\r\n\r\n",
                used, h_used, rss, h_rss, peak, h_peak,
                peak ? (double)used * 100.0 / (double)peak : 0.0, overhead, startup, kvb,
                net ? (double)kvb * 100.0 / (double)net : 0.0, used, used, rss, sysmem, h_sys,
                n->nscripts, n->cfg.maxmemory, h_max, config_policy_name(n->cfg.maxmemory_policy),
                frag, (long long)rss - (long long)used, frag, (long long)rss - (long long)used,
                node_mem_not_evictable(n), n->client_mem, bufs, node_pending_bytes(n), kv_tombstones(n->kv),
                n->cfg.maxmemory_clients);
}

static void info_persistence(node *n, info_buf *b)
{
    const obs_state *o = &n->obs;
    long long cur = n->ckpt_pid > 0 && o->ckpt_start_us
                        ? (long long)((obs_now_us() - o->ckpt_start_us) / 1000000u)
                        : -1;
    info_printf(b,
                "# Persistence\r\nloading:%d\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\n"
                "current_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n"
                "current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n"
                "rdb_changes_since_last_save:%llu\r\nrdb_bgsave_in_progress:%d\r\n"
                "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
                "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\n"
                "rdb_saves:%llu\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\n"
                "rdb_last_load_keys_loaded:0\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\n"
                "aof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\n"
                "aof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\n"
                "aof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\n"
                "aof_last_write_status:%s\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n"
                "module_fork_last_cow_size:0\r\naof_current_size:%llu\r\naof_base_size:0\r\n"
                "aof_pending_rewrite:0\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\n"
                "aof_delayed_fsync:0\r\n",
                n->applied_lsn < n->read_floor,
                (unsigned long long)(n->applied_lsn > n->snapshot_lsn ? n->applied_lsn - n->snapshot_lsn : 0),
                n->ckpt_pid > 0, (long long)o->last_save_s, o->last_bgsave_ok ? "ok" : "err",
                (long long)o->last_bgsave_sec, cur, (unsigned long long)n->checkpoints_done,
                n->wal_failed ? "err" : "ok", (unsigned long long)wal_thread_wal_bytes(n->walt));
    char ready[160];
    int is_ready = node_ready_status(n, ready, sizeof ready);
    info_printf(b, "rkv_ready:%d\r\nrkv_ready_status:%s\r\n", is_ready, ready);
    info_printf(b,
                "last_lsn:%llu\r\ndurable_lsn:%llu\r\n"
                "commit_lsn:%llu\r\napplied_lsn:%llu\r\nwal_bytes:%llu\r\nwal_syncs:%llu\r\n"
                "wal_failed:%d\r\nlast_checkpoint_lsn:%llu\r\ncheckpoint_in_progress:%d\r\n"
                "checkpoints_done:%llu\r\ncheckpoints_failed:%llu\r\ncommit_hint:%llu\r\n"
                "fenced:%d\r\nfence_reason:%s\r\nread_floor_lsn:%llu\r\n"
                "wal_corruptions:%llu\r\nwal_last_corruption:%s\r\n\r\n",
                (unsigned long long)n->last_lsn, (unsigned long long)node_durable_now(n),
                (unsigned long long)n->commit_lsn, (unsigned long long)n->applied_lsn,
                (unsigned long long)wal_thread_wal_bytes(n->walt),
                (unsigned long long)wal_thread_syncs(n->walt), n->wal_failed,
                (unsigned long long)n->snapshot_lsn, n->ckpt_pid > 0,
                (unsigned long long)n->checkpoints_done, (unsigned long long)n->checkpoints_failed,
                (unsigned long long)n->hint_written, n->fenced, n->fenced ? n->fence_reason : "",
                (unsigned long long)n->read_floor,
                (unsigned long long)n->stats.wal_corruptions, n->wal_corruption);
}

#define INFO_PUBSUB_EXACT_MAX 4096 /* subscriptions counted exactly (distinct); more: their count */

static void pubsub_counts(node *n, size_t *channels, size_t *patterns)
{
    size_t total = 0;
    *channels = *patterns = 0;
    for (const client *c = n->clients; c; c = c->next) total += c->nsubs;
    for (const client *c = n->clients; c; c = c->next)
        for (size_t i = 0; i < c->nsubs; i++) {
            const pubsub_sub *s = &c->subs[i];
            int seen = 0;
            for (const client *d = n->clients; d && !seen && total <= INFO_PUBSUB_EXACT_MAX;
                 d = d->next) {
                size_t lim = d == c ? i : d->nsubs;
                if (d != c && d->id > c->id) lim = 0; /* only clients listed before C count */
                for (size_t j = 0; j < lim && !seen; j++)
                    seen = d->subs[j].pattern == s->pattern && d->subs[j].len == s->len &&
                           memcmp(d->subs[j].name, s->name, s->len) == 0;
                if (d == c) break;
            }
            if (!seen) ++*(s->pattern ? patterns : channels);
        }
}

static void info_stats(node *n, info_buf *b)
{
    node_stats *s = &n->stats;
    const obs_state *o = &n->obs;
    size_t chans, pats;
    pubsub_counts(n, &chans, &pats);
    info_printf(b,
                "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                "instantaneous_ops_per_sec:%llu\r\ntotal_net_input_bytes:%llu\r\n"
                "total_net_output_bytes:%llu\r\ntotal_net_repl_input_bytes:0\r\n"
                "total_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:%.2f\r\n"
                "instantaneous_output_kbps:%.2f\r\ninstantaneous_input_repl_kbps:0.00\r\n"
                "instantaneous_output_repl_kbps:0.00\r\nrejected_connections:%llu\r\n"
                "sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:%llu\r\n"
                "expired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\n"
                "expire_cycle_cpu_milliseconds:0\r\nevicted_keys:%llu\r\nevicted_clients:%llu\r\n"
                "total_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\n"
                "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\npubsub_channels:%zu\r\n"
                "pubsub_patterns:%zu\r\npubsubshard_channels:0\r\nlatest_fork_usec:%llu\r\n"
                "total_forks:%llu\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\n"
                "active_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\n"
                "active_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n"
                "current_active_defrag_time:0\r\ntracking_total_keys:0\r\n"
                "tracking_total_items:0\r\ntracking_total_prefixes:0\r\n"
                "unexpected_error_replies:0\r\ntotal_error_replies:%llu\r\n"
                "dump_payload_sanitizations:0\r\ntotal_reads_processed:%llu\r\n"
                "total_writes_processed:%llu\r\nio_threaded_reads_processed:0\r\n"
                "io_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\n"
                "reply_buffer_expands:0\r\n",
                (unsigned long long)s->connections_received,
                (unsigned long long)s->commands_processed,
                (unsigned long long)obs_rate_value(&o->ops),
                (unsigned long long)o->net_in_bytes, (unsigned long long)o->net_out_bytes,
                (double)obs_rate_value(&o->net_in) / 1024.0,
                (double)obs_rate_value(&o->net_out) / 1024.0,
                (unsigned long long)s->connections_rejected, (unsigned long long)n->ks.expired_keys,
                (unsigned long long)s->evicted_keys, (unsigned long long)s->clients_dropped_memory,
                (unsigned long long)o->keyspace_hits, (unsigned long long)o->keyspace_misses,
                chans, pats, (unsigned long long)o->fork_usec, (unsigned long long)o->forks,
                (unsigned long long)o->error_replies, (unsigned long long)o->reads,
                (unsigned long long)o->writes);
    info_printf(b,
                "writes_committed:%llu\r\n"
                "writes_rejected:%llu\r\nquorum_timeouts:%llu\r\nprotocol_errors:%llu\r\n"
                "clients_dropped_output_limit:%llu\r\nclients_dropped_input_limit:%llu\r\n"
                "records_rejected_crc:%llu\r\nfuture_records:%llu\r\n"
                "max_clock_offset_ms:%llu\r\nmax_clock_offset_seen_ms:%llu\r\n"
                "clients_dropped_memory_limit:%llu\r\nclients_timed_out:%llu\r\n"
                "clients_evicted:%llu\r\naccept_out_of_fds:%llu\r\nrepl_auth_failures:%llu\r\n"
                "auth_failures:%llu\r\nacl_access_denied_auth:%llu\r\n"
                "acl_access_denied_cmd:%llu\r\nacl_access_denied_key:%llu\r\n"
                "tls_handshake_failures:%llu\r\ntls_client_handshake_failures:%llu\r\n"
                "tls_repl_handshake_failures:%llu\r\ntls_client_handshakes_in_progress:%zu\r\n"
                "oom_rejected:%llu\r\n",
                (unsigned long long)s->writes_committed,
                (unsigned long long)s->writes_rejected, (unsigned long long)s->quorum_timeouts,
                (unsigned long long)s->protocol_errors,
                (unsigned long long)s->clients_dropped_output,
                (unsigned long long)s->clients_dropped_input,
                (unsigned long long)s->records_rejected_crc,
                (unsigned long long)s->future_records,
                (unsigned long long)n->cfg.max_clock_offset_ms,
                (unsigned long long)(n->max_clock_offset_seen_us / 1000u),
                (unsigned long long)s->clients_dropped_memory,
                (unsigned long long)s->clients_timed_out, (unsigned long long)s->clients_evicted,
                (unsigned long long)s->accept_emfile, (unsigned long long)s->repl_auth_failures,
                (unsigned long long)s->auth_failures, (unsigned long long)s->auth_failures,
                (unsigned long long)s->acl_denied_cmd, (unsigned long long)s->acl_denied_key,
                (unsigned long long)tls_ctx_failures(n->tls_clients) +
                    (unsigned long long)tls_ctx_failures(n->tls_repl),
                (unsigned long long)tls_ctx_failures(n->tls_clients),
                (unsigned long long)tls_ctx_failures(n->tls_repl),
                tls_ctx_handshaking(n->tls_clients), (unsigned long long)s->oom_rejected);
    obs_info_rkv_stats(n, b);
    info_printf(b, "\r\n");
}

static void info_replication(node *n, info_buf *b)
{
    info_printf(b, "# Replication\r\n");
    sentinel_info_replication(n, b); /* Redis's fields first, then rkv's */
    if (n->leader) {
        repl_leader_info(n->leader, b);
    } else if (n->follower) {
        repl_follower_info(n->follower, b);
    } else {
        info_printf(b,
                    "rkv_role:leader\r\nnode_id:%u\r\nepoch:%llu\r\nlast_lsn:%llu\r\n"
                    "commit_lsn:%llu\r\nquorum:0\r\nconnected_followers:0\r\n",
                    n->cfg.node_id, (unsigned long long)n->epoch,
                    (unsigned long long)n->last_lsn, (unsigned long long)n->commit_lsn);
    }
    node_elect_info(n, b);
    info_printf(b, "\r\n");
}

/* Redis Sentinel's section: only when asked for by name (INFO sentinel), so
 * that a tool reading plain INFO sees a data node, as it is. */
static void info_sentinel(node *n, info_buf *b)
{
    sentinel_info_sentinel(n, b);
}

static void info_keyspace(node *n, info_buf *b)
{
    info_printf(b, "# Keyspace\r\n");
    /* Redis's lines exactly (tools parse them); rkv's tombstone count is
     * in # Memory (kv_tombstones). avg_ttl is not estimated: 0. */
    unsigned slots = kv_db_slots(n->kv);
    for (unsigned db = 0; db < slots; db++)
        if (kv_db_count(n->kv, db))
            info_printf(b, "db%u:keys=%zu,expires=%zu,avg_ttl=0\r\n", db, kv_db_count(n->kv, db),
                        kv_db_volatile(n->kv, db));
    info_printf(b, "\r\n");
}

static void info_cpu(node *n, info_buf *b)
{
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread); /* INFO runs on the loop: its thread */
    info_printf(b,
                "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n"
                "used_cpu_sys_children:%ld.%06ld\r\nused_cpu_user_children:%ld.%06ld\r\n"
                "used_cpu_sys_main_thread:%ld.%06ld\r\nused_cpu_user_main_thread:%ld.%06ld\r\n"
                "\r\n",
                (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
                (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
                (long)children.ru_stime.tv_sec, (long)children.ru_stime.tv_usec,
                (long)children.ru_utime.tv_sec, (long)children.ru_utime.tv_usec,
                (long)thread.ru_stime.tv_sec, (long)thread.ru_stime.tv_usec,
                (long)thread.ru_utime.tv_sec, (long)thread.ru_utime.tv_usec);
}

/* Redis Cluster's section: rkv is not a Redis Cluster (clients that look
 * here then use it as a standalone server). */
static void info_cluster(node *n, info_buf *b)
{
    info_printf(b, "# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

static void info_modules(node *n, info_buf *b)
{
    (void)n;
    info_printf(b, "# Modules\r\n\r\n");
}

void info_render(node *n, const char *const *names, size_t count, info_buf *b)
{
    /* Redis 7.0's order. DEFAULT: plain INFO and "default" (no
     * commandstats, latencystats); "all" and "everything" add those (rkv
     * has no module sections, so the two are the same); sentinel only by
     * its own name. */
    enum { IN_DEFAULT = 1, IN_ALL = 2, BY_NAME = 4 };
    static const struct {
        const char *name;
        void (*fn)(node *, info_buf *);
        int in;
    } sections[] = {{"server", info_server, IN_DEFAULT},
                    {"clients", info_clients, IN_DEFAULT},
                    {"memory", info_memory, IN_DEFAULT},
                    {"persistence", info_persistence, IN_DEFAULT},
                    {"stats", info_stats, IN_DEFAULT},
                    {"replication", info_replication, IN_DEFAULT},
                    {"cpu", info_cpu, IN_DEFAULT},
                    {"modules", info_modules, IN_DEFAULT},
                    {"commandstats", obs_info_commandstats, IN_ALL},
                    {"errorstats", obs_info_errorstats, IN_DEFAULT},
                    {"latencystats", obs_info_latencystats, IN_ALL},
                    {"cluster", info_cluster, IN_DEFAULT},
                    {"keyspace", info_keyspace, IN_DEFAULT},
                    {"sentinel", info_sentinel, BY_NAME}};
    int want_default = count == 0, want_all = 0;
    for (size_t k = 0; k < count; k++) {
        want_default |= strcasecmp(names[k], "default") == 0;
        want_all |= strcasecmp(names[k], "all") == 0 || strcasecmp(names[k], "everything") == 0;
    }
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        int in = sections[i].in;
        int want = (want_all && in != BY_NAME) || (want_default && in == IN_DEFAULT);
        for (size_t k = 0; k < count && !want; k++)
            want = strcasecmp(names[k], sections[i].name) == 0;
        if (want) sections[i].fn(n, b);
    }
    /* Drop the blank line after the last section, as Redis does. */
    if (b->len >= 2 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\r') b->len -= 2;
}
