/* keyspace.h -- what a command sees and how its writes become one record.
 *
 * Three layers, newest first (leader):
 *   1. the unit: the writes of the command being run (or of a whole EXEC),
 *      not proposed yet;
 *   2. proposed: the latest proposed-but-not-applied state of every key
 *      with a record in the pending log, and the databases a pending
 *      FLUSHDB / FLUSHALL empties;
 *   3. the store: what has committed and been applied.
 * Read-modify-write commands (INCR, APPEND, SET NX, RENAME, WATCH, ...)
 * read through all three, so 50 clients each sending INCR to one key count
 * exactly, whether or not the earlier INCRs have committed. Plain reads
 * (GET outside a transaction) read only the store: what they return is
 * committed; except a key read pipelined behind the client's own owed
 * writes (SET k v; GET k in one batch), which reads layer 2 as well. A reply computed from layers 1-2 is sent only once the record
 * it depended on commits (commands.c), so no client ever sees a state the
 * log might lose.
 *
 * At the end of a command (or EXEC) the unit becomes one record: a plain
 * PUT / DEL / FLUSH when it holds one operation, else one MULTI record
 * holding them all (wal_record.h), so a transaction, an MSET or a DEL of
 * many keys commits, ships, recovers and applies whole or not at all.
 * Proposed entries leave layer 2 when their record is applied
 * (ks_on_applied); a leader that steps down drops layer 2, and a node that
 * starts leading rebuilds it from its pending log.
 *
 * Expiry: an expiry is an absolute Unix time in milliseconds, part of the
 * key's state. A key past it reads as absent everywhere; only the leader
 * deletes it, through the log (ks_expire_key, and the active cycle
 * ks_expire_cycle), so every replica holds the same state. */
#ifndef RKV_KEYSPACE_H
#define RKV_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv_store.h"
#include "wal/wal_record.h"

typedef struct node node;

/* Per-node keyspace state (node->ks). */
typedef struct keyspace {
    kv_store *proposed;    /* layer 2 (entries and tombstones of pending records) */
    uint64_t *flush_lsn;   /* [db]: a pending FLUSHDB/FLUSHALL at this LSN (0: none) */
    unsigned nflush;       /* slots in flush_lsn */
    kv_store *unit;        /* layer 1, once it holds two operations or more */
    int unit_used;         /* the unit store holds something (else nothing to clear) */
    /* The unit's first operation, kept here (copied into one_buf) until a
     * second one arrives: a command of one key never touches the unit store. */
    struct {
        int used;
        uint8_t op; /* WAL_OP_PUT or WAL_OP_DEL */
        unsigned db;
        uint32_t klen, vlen;
        int64_t expire_ms;
    } one;
    uint8_t *one_buf; /* key, then value */
    size_t one_cap;
    uint8_t *unit_flush;   /* [db]: the unit flushes this database first */
    int unit_flushall;
    int unit_open;         /* a write command or EXEC is running: reads see layers 1-2 */
    int read_proposed;     /* a key read pipelined behind owed writes: reads see layer 2 */
    size_t unit_ops, unit_bytes; /* operations added and their encoded bytes (upper bound) */
    uint8_t *body;         /* MULTI value being encoded */
    size_t body_cap;
    uint64_t applying_lsn; /* the record ks_on_applied is called for */
    unsigned expire_db;    /* active expiry: the database and cursor it is at */
    uint64_t expire_cursor;
    uint64_t expired_keys; /* keys the leader deleted because they expired */
    uint64_t evict_rnd;    /* eviction's sampling sequence */
} keyspace;

/* A key's state as a command sees it. */
typedef struct ks_val {
    const uint8_t *val;
    uint32_t vlen;
    int64_t expire_ms; /* 0: no expiry */
    kv_version ver;    /* for WATCH */
    int exists;        /* live and not past its expiry */
    int has_entry;     /* some layer has an entry (live, tombstone or expired) */
    int expired;       /* live in its layer but past its expiry */
} ks_val;

int ks_init(node *n);
void ks_free(node *n);
/* Wall clock in Unix milliseconds: the time expiries are compared with. */
int64_t ks_now_ms(void);

/* Looks KEY up in database DB (see above for which layers). The value
 * pointer is valid until the next change of the keyspace. */
void ks_lookup(node *n, unsigned db, const void *key, uint32_t klen, ks_val *out);

/* Every key of DB as ks_lookup sees them (inside EXEC: the unit's and the
 * proposed writes too), each once: FN gets live entries, expired ones
 * included (the caller filters). */
void ks_walk(node *n, unsigned db, kv_iter_fn fn, void *ctx);
/* Keys DB holds as ks_lookup sees them (DBSIZE). */
size_t ks_dbsize(node *n, unsigned db);

/* ---- the unit (leader; the caller checked that it may write) ---- */
void ks_unit_begin(node *n);
/* Adds an operation. -1 (nothing added) if the unit would outgrow one
 * record (WAL_VAL_MAX of operations). */
int ks_put(node *n, unsigned db, const void *key, uint32_t klen, const void *val, uint32_t vlen,
           int64_t expire_ms);
int ks_del(node *n, unsigned db, const void *key, uint32_t klen);
int ks_flushdb(node *n, unsigned db);
int ks_flushall(node *n);
/* Would BYTES more of operations still fit in the unit? */
int ks_unit_fits(const node *n, size_t bytes);
/* Bytes one operation takes in a unit. */
size_t ks_op_bytes(uint32_t klen, uint32_t vlen, int has_expire);
/* Proposes the unit as one record and moves it into layer 2. Returns its
 * LSN, 0 if the unit was empty, or -1 when the pending log is full (the
 * unit is dropped: nothing was written). Closes the unit. */
int64_t ks_unit_commit(node *n);
void ks_unit_discard(node *n);

/* ---- record life ---- */
/* The commit path applied an operation of record LSN (node->ks.applying_lsn). */
void ks_on_applied(void *node, const wal_op_view *op);
/* Drops layer 2 (the node stopped leading: its pending records may never
 * commit). */
void ks_forget_proposed(node *n);
/* Rebuilds layer 2 from the pending log (the node starts leading: records
 * it holds but has not applied will commit before any of its own). */
int ks_rebuild_proposed(node *n);

/* ---- expiry (leader) ---- */
/* KEY was found past its expiry by a read: the leader proposes its delete
 * (once: not while one is pending). Nothing on a follower. */
void ks_expire_key(node *n, unsigned db, const void *key, uint32_t klen);
/* The active expiry cycle, bounded: looks at up to KS_EXPIRE_BUCKETS
 * buckets and deletes up to KS_EXPIRE_KEYS expired keys in one record. */
void ks_expire_cycle(node *n);
#define KS_EXPIRE_BUCKETS 200
#define KS_EXPIRE_KEYS 64

/* ---- eviction (--maxmemory-policy; leader) ---- */
/* Deletes keys chosen by the policy, in one record, until their entries'
 * bytes (less the tombstones they leave) reach NEED or KS_EVICT_KEYS keys
 * went. Each round samples --maxmemory-samples keys of every database and
 * takes the best: the longest idle (LRU), the nearest expiry (TTL), or any
 * (random). Returns the keys evicted (0: none could be), with the bytes
 * they free once applied in *FREED and the record's LSN in *LSN. */
int ks_evict(node *n, size_t need, size_t *freed, int64_t *lsn);
#define KS_EVICT_KEYS 64          /* keys one write may evict before it runs */
#define KS_EVICT_VOLATILE_TRIES 8 /* draws per wanted sample under volatile-* */

#endif
