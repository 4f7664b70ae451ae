/* node_mem.c -- the node's memory as the allocator sees it.
 *
 * Redis's used_memory counts every byte zmalloc handed out. rkv allocates
 * with plain malloc (and so does OpenSSL), so the same number comes from
 * glibc's own books: mallinfo2()'s in-use bytes, main arena and every
 * thread arena, plus mmap'd chunks. That is what the process really holds,
 * whoever allocated it; RSS minus it is fragmentation and free pages malloc
 * keeps (mem_fragmentation_ratio = RSS / used_memory, as Redis reports).
 *
 * mallinfo2() walks malloc's free lists, so it is read at most every
 * NODE_MEM_SAMPLE_MS from the cron, never per command. Between samples,
 * used_memory moves with the store's own byte count (kv_memory_bytes), so a
 * burst of writes is seen by --maxmemory at once, not 100 ms late. */
#include "server/node_mem.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

void node_mem_sample(node *n, uint64_t now_ms, int force)
{
    node_mem *m = &n->mem;
    if (!force && m->sample_ms && now_ms - m->sample_ms < NODE_MEM_SAMPLE_MS) return;
    struct mallinfo2 mi = mallinfo2();
    m->heap = mi.uordblks + mi.hblkhd;
    m->kv_at_sample = kv_memory_bytes(n->kv);
    m->sample_ms = now_ms;
    if (force || !m->rss_ms || now_ms - m->rss_ms >= NODE_MEM_RSS_MS) {
        m->rss = read_rss();
        m->rss_ms = now_ms;
    }
    size_t used = node_used_memory(n);
    if (used > m->peak) m->peak = used;
    if (!m->startup) m->startup = used;
}

size_t node_used_memory(const node *n)
{
    const node_mem *m = &n->mem;
    size_t kv = kv_memory_bytes(n->kv);
    if (kv >= m->kv_at_sample) return m->heap + (kv - m->kv_at_sample);
    size_t drop = m->kv_at_sample - kv;
    return drop < m->heap ? m->heap - drop : 0;
}

size_t node_rss_bytes(const node *n)
{
    return n->mem.rss;
}
