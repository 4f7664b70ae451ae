/* node_mem.h -- how much memory the node holds (INFO memory, --maxmemory,
 * MEMORY STATS). See node_mem.c. */
#ifndef RKV_NODE_MEM_H
#define RKV_NODE_MEM_H

#include <stddef.h>
#include <stdint.h>

#define NODE_MEM_SAMPLE_MS 100   /* the peak is taken this often */
#define NODE_MEM_CONN_BYTES 1024 /* per connection beyond its buffers (descriptor, epoll, TLS not) */
#define NODE_MEM_RSS_MS 1000     /* /proc/self/statm this often */
/* The store's access clock ticks this often (kv_set_clock): LRU tells keys
 * apart 100 ms apart, and a 19-bit clock wraps after 14.5 hours (a key idle
 * longer looks idle for less; Redis's 24-bit clock of seconds wraps after
 * 194 days but cannot tell apart keys touched in the same second). */
#define NODE_LRU_TICK_MS 100

#define NODE_MEM_TOMB_CKPT_MS 1000 /* tombstone checkpoints at most this often */
#define NODE_EVICT_PENDING_MAX 256 /* eviction records remembered until applied */

typedef struct node_mem {
    size_t heap;         /* malloc's bytes in use at start-up, before any data */
    size_t peak;         /* highest used_memory seen */
    size_t rss;          /* resident set size at the last RSS sample */
    size_t startup;      /* used_memory when the node had started (before data) */
    uint64_t sample_ms, rss_ms;
    /* Evictions proposed and not yet applied: their bytes still count in
     * used_memory, but another write must not evict for them again. */
    struct {
        uint64_t lsn;
        size_t bytes;
    } evict[NODE_EVICT_PENDING_MAX];
    size_t evict_head, evict_len;
    size_t evict_bytes; /* sum of the above */
    uint64_t evict_epoch;  /* the term they were proposed in */
    uint64_t tomb_ckpt_ms; /* the last checkpoint started for tombstones */
} node_mem;

struct node;
/* Reads malloc's total before the node holds anything (node_new's start;
 * cheap then: few free chunks). In a process running several nodes (tests)
 * it includes the others'. */
void node_mem_init(struct node *n);
/* Takes the peak (and RSS when due) if NODE_MEM_SAMPLE_MS have passed, or
 * at once with FORCE. Called by the cron. */
void node_mem_sample(struct node *n, uint64_t now_ms, int force);
/* used_memory: malloc's start-up total plus what the node holds for data
 * and load, counted (node_mem.c). */
size_t node_used_memory(const struct node *n);
size_t node_rss_bytes(const struct node *n);
/* Bytes --maxmemory leaves out (Redis's mem_not_counted_for_evict): the
 * uncommitted log and the replication buffers. A slow follower makes them
 * grow (bounded by --max-pending-bytes); evicting keys would not shrink
 * them, only empty the store. */
size_t node_mem_not_evictable(const struct node *n);
/* --maxmemory before a write that may grow memory (Redis's denyoom
 * commands, and anything queued in MULTI): 1 if it may run, after evicting
 * keys by --maxmemory-policy if needed; 0 if it must be refused with -OOM
 * (noeviction, or nothing left to evict). Leader only: a follower applies
 * what its leader decided, evictions included, and takes no writes. */
int node_mem_admit(struct node *n);
/* Over the limit without a write to make room (CONFIG SET maxmemory lower,
 * buffers grown): the leader evicts one batch per cron tick, as Redis's
 * eviction timer does, until it is back under. */
void node_mem_cron(struct node *n);
/* Checkpoint early: under --maxmemory, tombstones the deletes left (they
 * go only with a checkpoint) hold more than an eighth of the limit. */
int node_mem_wants_checkpoint(struct node *n, uint64_t now_ms);

#endif
