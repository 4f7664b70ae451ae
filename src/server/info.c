/* info.c -- INFO sections (see info.h). Field names follow Redis where the
 * meaning is the same, so dashboards and client libraries can read them. */
#include "server/info.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "net/tls.h"
#include "server/client.h"
#include "server/node.h"
#include "server/sentinel.h"

#define INFO_VERSION "0.1.0"

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

static void info_server(node *n, info_buf *b)
{
    uint64_t up = (ev_now_ms() - n->stats.start_ms) / 1000;
    char runid[SENTINEL_ID_HEX + 1];
    sentinel_runid(n, n->cfg.node_id, runid);
    info_printf(b,
                "# Server\r\nrkv_version:%s\r\nredis_version:%s\r\nredis_mode:standalone\r\n"
                "process_id:%ld\r\nrun_id:%s\r\nnode_id:%u\r\ntcp_port:%d\r\n"
                "tls_port:%d\r\ntls_replication:%d\r\n"
                "uptime_in_seconds:%llu\r\ndata_dir:%s\r\n\r\n",
                INFO_VERSION, INFO_REDIS_VERSION, (long)getpid(), runid, n->cfg.node_id, n->port,
                n->tls_port, n->tls_repl != NULL, (unsigned long long)up, n->cfg.data_dir);
}

static void info_clients(node *n, info_buf *b)
{
    size_t blocked = 0;
    for (client *c = n->blocked; c; c = c->wnext) blocked++;
    info_printf(b,
                "# Clients\r\nconnected_clients:%zu\r\nmaxclients:%zu\r\nblocked_clients:%zu\r\n"
                "unauthenticated_clients:%zu\r\nmax_unauth_clients:%zu\r\n\r\n",
                n->nclients, n->cfg.clients_max, blocked, n->nunauth, n->cfg.unauth_clients_max);
}

static void info_memory(node *n, info_buf *b)
{
    size_t bufs = n->pending.cap + n->client_mem;
    size_t kvb = kv_memory_bytes(n->kv);
    size_t used = kvb + bufs + n->tk_cap * sizeof(ticket);
    info_printf(b,
                "# Memory\r\nused_memory:%zu\r\nused_memory_human:%.2fM\r\n"
                "used_memory_dataset:%zu\r\nused_memory_buffers:%zu\r\npending_bytes:%zu\r\n"
                "kv_tombstones:%zu\r\n"
                "mem_clients_normal:%zu\r\nmaxmemory_clients:%zu\r\n\r\n",
                used, (double)used / (1024.0 * 1024.0), kvb, bufs, node_pending_bytes(n),
                kv_tombstones(n->kv),
                n->client_mem, n->cfg.maxmemory_clients);
}

static void info_persistence(node *n, info_buf *b)
{
    info_printf(b,
                "# Persistence\r\nloading:%d\r\naof_enabled:1\r\nlast_lsn:%llu\r\ndurable_lsn:%llu\r\n"
                "commit_lsn:%llu\r\napplied_lsn:%llu\r\nwal_bytes:%llu\r\nwal_syncs:%llu\r\n"
                "wal_failed:%d\r\nlast_checkpoint_lsn:%llu\r\ncheckpoint_in_progress:%d\r\n"
                "checkpoints_done:%llu\r\ncheckpoints_failed:%llu\r\ncommit_hint:%llu\r\n"
                "fenced:%d\r\nfence_reason:%s\r\nread_floor_lsn:%llu\r\n"
                "wal_corruptions:%llu\r\nwal_last_corruption:%s\r\n\r\n",
                n->applied_lsn < n->read_floor, (unsigned long long)n->last_lsn, (unsigned long long)n->durable_lsn,
                (unsigned long long)n->commit_lsn, (unsigned long long)n->applied_lsn,
                (unsigned long long)wal_thread_wal_bytes(n->walt),
                (unsigned long long)wal_thread_syncs(n->walt), n->wal_failed,
                (unsigned long long)n->snapshot_lsn, n->ckpt_pid > 0,
                (unsigned long long)n->checkpoints_done, (unsigned long long)n->checkpoints_failed,
                (unsigned long long)n->hint_written, n->fenced, n->fenced ? n->fence_reason : "",
                (unsigned long long)n->read_floor,
                (unsigned long long)n->stats.wal_corruptions, n->wal_corruption);
}

static void info_stats(node *n, info_buf *b)
{
    node_stats *s = &n->stats;
    info_printf(b,
                "# Stats\r\ntotal_connections_received:%llu\r\nrejected_connections:%llu\r\n"
                "total_commands_processed:%llu\r\nexpired_keys:%llu\r\nevicted_keys:%llu\r\n"
                "oom_rejected:%llu\r\nwrites_committed:%llu\r\n"
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
                "\r\n",
                (unsigned long long)s->connections_received,
                (unsigned long long)s->connections_rejected,
                (unsigned long long)s->commands_processed, (unsigned long long)n->ks.expired_keys,
                (unsigned long long)s->evicted_keys, (unsigned long long)s->oom_rejected,
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
                tls_ctx_handshaking(n->tls_clients));
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

void info_render(node *n, const char *const *names, size_t count, info_buf *b)
{
    static const struct {
        const char *name;
        void (*fn)(node *, info_buf *);
        int by_name_only; /* not in plain INFO, "all" or "everything" */
    } sections[] = {{"server", info_server, 0},       {"clients", info_clients, 0},
                    {"memory", info_memory, 0},       {"persistence", info_persistence, 0},
                    {"stats", info_stats, 0},         {"replication", info_replication, 0},
                    {"cpu", info_cpu, 0},             {"cluster", info_cluster, 0},
                    {"keyspace", info_keyspace, 0},   {"sentinel", info_sentinel, 1}};
    int every = count == 0;
    for (size_t k = 0; k < count; k++)
        every |= strcasecmp(names[k], "all") == 0 || strcasecmp(names[k], "default") == 0 ||
                 strcasecmp(names[k], "everything") == 0;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        int want = every && !sections[i].by_name_only;
        for (size_t k = 0; k < count && !want; k++)
            want = strcasecmp(names[k], sections[i].name) == 0;
        if (want) sections[i].fn(n, b);
    }
    /* Drop the blank line after the last section, as Redis does. */
    if (b->len >= 2 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\r') b->len -= 2;
}
