/* node_mem.h -- how much memory the node holds (INFO memory, --maxmemory,
 * MEMORY STATS). See node_mem.c. */
#ifndef RKV_NODE_MEM_H
#define RKV_NODE_MEM_H

#include <stddef.h>
#include <stdint.h>

#define NODE_MEM_SAMPLE_MS 100   /* malloc's totals are read this often */
#define NODE_MEM_RSS_MS 1000     /* /proc/self/statm this often */

typedef struct node_mem {
    size_t heap;         /* malloc's bytes in use at the last sample */
    size_t kv_at_sample; /* kv_memory_bytes() then: writes since move used_memory */
    size_t peak;         /* highest used_memory seen */
    size_t rss;          /* resident set size at the last RSS sample */
    size_t startup;      /* used_memory when the node had started (before data) */
    uint64_t sample_ms, rss_ms;
} node_mem;

struct node;
/* Reads malloc's totals (and RSS when due) if NODE_MEM_SAMPLE_MS have
 * passed, or at once with FORCE. Called by the cron. */
void node_mem_sample(struct node *n, uint64_t now_ms, int force);
/* used_memory: every byte malloc has handed out and not taken back, from
 * the last sample, moved by what the store gained or lost since. */
size_t node_used_memory(const struct node *n);
size_t node_rss_bytes(const struct node *n);

#endif
