/* node_mem.c -- the node's memory, as used_memory, and --maxmemory.
 *
 * Redis's used_memory counts every byte zmalloc handed out. rkv allocates
 * with plain malloc, and glibc's own total (mallinfo2) walks every free
 * chunk: 40 ms with a million of them, far too slow for the event loop. So
 * used_memory is counted: what malloc gave at start-up (mallinfo2 once,
 * before any data: cheap then), plus everything that grows with data or
 * load, each counted where it is allocated, by malloc_usable_size where it
 * matters (the store, layer 2 and the unit: kv_memory_bytes), else by
 * capacity (the pending log, client and replication buffers, tickets, TLS
 * sessions at a fixed estimate). RSS minus it is fragmentation, free pages
 * malloc keeps and what is not counted (mem_fragmentation_ratio = RSS /
 * used_memory, as Redis reports it).
 *
 * --maxmemory (node_mem_admit): over the limit, a write that may grow
 * memory is refused (noeviction) or first makes room: the leader picks
 * victims (ks_evict) and deletes them through the log in one record, as it
 * does expired keys, so every replica drops the same keys. Their bytes
 * leave the store only when that record commits and applies; until then
 * they are remembered here, so the next write does not evict again for
 * room already on its way. A deleted key leaves a tombstone until a
 * checkpoint covers it, so only the entry's bytes beyond its tombstone are
 * counted as freed, and a node whose tombstones outgrow an eighth of the
 * limit checkpoints early (node_mem_wants_checkpoint) to let them go. */
#include "server/node_mem.h"

#include <assert.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "repl/repl.h"
#include "server/client.h"
#include "server/node.h"

static size_t read_rss(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return 0;
    buf[r] = 0;
    unsigned long long size = 0, resident = 0;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)resident * (size_t)(page > 0 ? page : 4096);
}

void node_mem_init(node *n)
{
    struct mallinfo2 mi = mallinfo2();
    n->mem.heap = mi.uordblks + mi.hblkhd;
}

void node_mem_sample(node *n, uint64_t now_ms, int force)
{
    node_mem *m = &n->mem;
    if (!m->startup) m->startup = node_used_memory(n); /* recovered data included */
    if (!force && m->sample_ms && now_ms - m->sample_ms < NODE_MEM_SAMPLE_MS) return;
    m->sample_ms = now_ms;
    if (force || !m->rss_ms || now_ms - m->rss_ms >= NODE_MEM_RSS_MS) {
        m->rss = read_rss();
        m->rss_ms = now_ms;
    }
    size_t used = node_used_memory(n);
    if (used > m->peak) m->peak = used;
}

size_t node_used_memory(const node *n)
{
    const node_mem *m = &n->mem;
    size_t b = m->heap;
    if (n->kv) b += kv_memory_bytes(n->kv);
    if (n->ks.proposed) b += kv_memory_bytes(n->ks.proposed);
    if (n->ks.unit) b += kv_memory_bytes(n->ks.unit);
    b += n->ks.one_cap + n->ks.body_cap;
    b += n->pending.cap + n->client_mem + n->nclients * (sizeof(client) + NODE_MEM_CONN_BYTES);
    b += n->tk_cap * sizeof(ticket);
    if (n->leader) b += repl_leader_mem(n->leader);
    if (n->follower) b += repl_follower_mem(n->follower);
    return b;
}

size_t node_mem_not_evictable(const node *n)
{
    size_t b = n->pending.cap;
    if (n->leader) b += repl_leader_mem(n->leader);
    if (n->follower) b += repl_follower_mem(n->follower);
    return b;
}

size_t node_rss_bytes(const node *n)
{
    return n->mem.rss;
}

static void evict_forget_applied(node *n)
{
    node_mem *m = &n->mem;
    while (m->evict_len && m->evict[m->evict_head].lsn <= n->applied_lsn) {
        assert(m->evict_bytes >= m->evict[m->evict_head].bytes);
        m->evict_bytes -= m->evict[m->evict_head].bytes;
        m->evict_head = (m->evict_head + 1) % NODE_EVICT_PENDING_MAX;
        m->evict_len--;
    }
    if (!m->evict_len) m->evict_bytes = 0;
}

static void evict_remember(node *n, uint64_t lsn, size_t bytes)
{
    node_mem *m = &n->mem;
    if (m->evict_len == NODE_EVICT_PENDING_MAX) { /* merged into the newest */
        size_t last = (m->evict_head + m->evict_len - 1) % NODE_EVICT_PENDING_MAX;
        assert(m->evict[last].lsn < lsn);
        m->evict[last].lsn = lsn;
        m->evict[last].bytes += bytes;
    } else {
        size_t at = (m->evict_head + m->evict_len) % NODE_EVICT_PENDING_MAX;
        m->evict[at].lsn = lsn;
        m->evict[at].bytes = bytes;
        m->evict_len++;
    }
    m->evict_bytes += bytes;
}

/* Bytes over the limit once the evictions in flight have applied (0: none). */
static size_t mem_over(node *n)
{
    node_mem *m = &n->mem;
    size_t limit = n->cfg.maxmemory;
    if (m->evict_epoch != n->epoch) { /* a new term: its log is not the one evicted into */
        m->evict_len = m->evict_head = m->evict_bytes = 0;
        m->evict_epoch = n->epoch;
    }
    evict_forget_applied(n);
    size_t used = node_used_memory(n), keep = node_mem_not_evictable(n);
    used = used > keep ? used - keep : 0;
    size_t coming = m->evict_bytes < used ? used - m->evict_bytes : 0;
    return coming > limit ? coming - limit : 0;
}

static int mem_evict(node *n, size_t need)
{
    size_t freed;
    int64_t lsn;
    int got = ks_evict(n, need, &freed, &lsn);
    if (got > 0) {
        n->stats.evicted_keys += (uint64_t)got;
        evict_remember(n, (uint64_t)lsn, freed);
    }
    return got;
}

void node_mem_cron(node *n)
{
    if (!n->cfg.maxmemory || n->cfg.maxmemory_policy == CFG_MM_NOEVICTION || !node_is_leader(n))
        return;
    size_t over = mem_over(n);
    if (over) mem_evict(n, over);
}

int node_mem_admit(node *n)
{
    if (!n->cfg.maxmemory || !node_is_leader(n)) return 1;
    size_t over = mem_over(n);
    if (!over) return 1;
    if (n->cfg.maxmemory_policy == CFG_MM_NOEVICTION || mem_evict(n, over) <= 0) {
        n->stats.oom_rejected++;
        return 0;
    }
    return 1;
}

int node_mem_wants_checkpoint(node *n, uint64_t now_ms)
{
    if (!n->cfg.maxmemory || kv_tombstone_bytes(n->kv) <= n->cfg.maxmemory / 8) return 0;
    if (n->mem.tomb_ckpt_ms && now_ms - n->mem.tomb_ckpt_ms < NODE_MEM_TOMB_CKPT_MS) return 0;
    n->mem.tomb_ckpt_ms = now_ms;
    return 1;
}
