/* kv_store.h -- the in-memory key-value store: a hash table of binary-safe
 * keys and values, each entry carrying its last-writer-wins version.
 *
 * Incremental rehashing (Redis's dict is the model): while the table grows or
 * shrinks, two tables live side by side and every operation moves a few
 * buckets, so no single request pays for a whole resize.
 *
 * Last-writer-wins. Every write carries a version (ts, node_id). An incoming
 * write replaces what the key holds only if it is strictly greater in this
 * total order (see kv_version_cmp in kv_store.c and docs/WAL-FORMAT.md):
 *   1. larger timestamp wins;
 *   2. equal timestamp: larger origin node id wins;
 *   3. equal (ts, node): a delete wins over a put (remove-wins, so a
 *      concurrent delete is never undone by a put of the same version);
 *   4. two puts of equal (ts, node): the value greater in lexicographic byte
 *      order wins, a proper prefix being smaller ("ab" < "abc" < "b").
 *   Two deletes, or two puts with equal values, are equal: not applied again.
 * A delete leaves a tombstone holding its version, so an older put arriving
 * later cannot resurrect the key. Tombstones are dropped only when a
 * checkpoint covers them (kv_drop_tombstones).
 *
 * Databases (SELECT, FLUSHDB): one store holds every database, each its own
 * table created on first write, so one database's size never slows another's
 * commands and a flush frees exactly one table. The old functions without a
 * database argument (kv_apply_put, kv_get, ...) address database 0.
 *
 * Expiry: an entry may carry an absolute expiry time in Unix milliseconds.
 * The store never looks at a clock: it keeps the time as data (in the
 * entry, the digest and checkpoints) and the server decides, with its own
 * clock, that a key past it is gone and deletes it through the log
 * (docs/ARCHITECTURE.md, "Expiry"), so every replica holds the same state.
 *
 * The digest is order independent: the sum (mod 2^64) of a 64-bit hash of
 * every live (key, value) pair, kept up to date on every change, so equal live
 * contents give equal digests whatever the order of insertion, and reading it
 * costs nothing. Versions and tombstones do not enter the digest. */
#ifndef RKV_KV_STORE_H
#define RKV_KV_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct kv_version {
    uint64_t ts;      /* hybrid logical clock, microseconds */
    uint32_t node_id; /* origin node of the write */
} kv_version;

typedef struct kv_store kv_store;
struct kv_entry_view;
typedef int (*kv_iter_fn)(void *ctx, const struct kv_entry_view *e);

/* A read-only view of one entry, valid until the next change to the store. */
typedef struct kv_entry_view {
    const uint8_t *key;
    uint32_t klen;
    const uint8_t *val; /* NULL for a tombstone */
    uint32_t vlen;
    kv_version ver;
    int tombstone;
    unsigned db;        /* the database the entry is in */
    int64_t expire_ms;  /* absolute expiry, Unix ms; 0: none */
    uint32_t lru;       /* access clock when last written or found (kv_idle_ticks) */
    size_t mem;         /* bytes the entry holds (kv_random only; else 0) */
} kv_entry_view;

#define KV_DB_MAX 65536u          /* databases a store can address (u16 in the formats) */
#define KV_KLEN_MAX 0x1FFFFu      /* key length field (17 bits; WAL keys are <= 64 KiB) */
#define KV_VLEN_MAX 0x3FFFFFFu    /* value length field (26 bits; WAL values are <= 16 MiB) */
#define KV_LRU_MAX 0x7FFFFu       /* access clock: 19 bits of ticks (the server's tick: 100 ms, 14.5 h, then it wraps) */

kv_store *kv_new(void); /* NULL on out of memory */
/* An empty store stops keeping its digest (kv_digest stays 0): the scratch
 * stores of the keyspace view (keyspace.h) pay no hash of every value. */
void kv_no_digest(kv_store *kv);
void kv_free(kv_store *kv);

/* Results of kv_apply_put / kv_apply_del. */
enum { KV_LOST = 0, KV_WON = 1, KV_NOMEM = -1 };

/* Applies a put of VAL under KEY with version VER if VER is greater than what
 * the key holds (or the key is absent). Returns KV_WON, KV_LOST or KV_NOMEM
 * (the store is unchanged on KV_NOMEM). */
int kv_apply_put(kv_store *kv, const void *key, uint32_t klen, const void *val, uint32_t vlen,
                 kv_version ver);
/* Applies a delete: leaves a tombstone with VER if VER wins. Deleting an
 * absent key still records the tombstone (it must beat later-arriving older
 * puts). Returns KV_WON, KV_LOST or KV_NOMEM. */
int kv_apply_del(kv_store *kv, const void *key, uint32_t klen, kv_version ver);

/* Looks KEY up. Returns 1 and fills *out for a live entry; 0 if absent or a
 * tombstone. The view is valid until the next change to the store. */
int kv_get(kv_store *kv, const void *key, uint32_t klen, kv_entry_view *out);
/* Like kv_get but also returns tombstones (out->tombstone set). */
int kv_lookup(kv_store *kv, const void *key, uint32_t klen, kv_entry_view *out);

/* The same for database DB with an expiry (0: none). */
int kv_put(kv_store *kv, unsigned db, const void *key, uint32_t klen, const void *val,
           uint32_t vlen, int64_t expire_ms, kv_version ver);
int kv_del(kv_store *kv, unsigned db, const void *key, uint32_t klen, kv_version ver);
/* kv_lookup in database DB (tombstones included). */
int kv_find(kv_store *kv, unsigned db, const void *key, uint32_t klen, kv_entry_view *out);
/* A hint, no effect on the contents: starts loading what a lookup of KEY
 * will touch. DEEP 0: its bucket slot; DEEP 1 (some work later): the first
 * entry of that bucket. The commit path issues both a few records ahead of
 * the one it applies, so a large store's cache misses overlap. */
void kv_prefetch(kv_store *kv, unsigned db, const void *key, uint32_t klen, int deep);
/* Removes KEY's entry outright, tombstone or not, no tombstone left: only
 * if its version is *ONLY when ONLY is given. 1 removed, 0 not. (The
 * leader's view of proposed writes, node_view.c, forgets applied ones so.) */
int kv_remove(kv_store *kv, unsigned db, const void *key, uint32_t klen, const kv_version *only);
/* Empties database DB / every database, tombstones included (FLUSHDB and
 * FLUSHALL records are applied in log order, as barriers). */
void kv_flush_db(kv_store *kv, unsigned db);
void kv_flush_all(kv_store *kv);
size_t kv_db_count(const kv_store *kv, unsigned db);    /* live keys in DB */
size_t kv_db_volatile(const kv_store *kv, unsigned db); /* ... of them with an expiry */
unsigned kv_db_slots(const kv_store *kv); /* databases 0 .. slots-1 may hold entries */
/* One step of SCAN over database DB (Redis's reverse-binary cursor): calls
 * FN for each entry (tombstones included) of the bucket(s) at CURSOR and
 * returns the next cursor, 0 when the scan is complete. Every entry present
 * for the whole scan is given at least once, across resizes. */
uint64_t kv_scan(kv_store *kv, unsigned db, uint64_t cursor, kv_iter_fn fn, void *ctx);
/* A live entry of DB chosen with RND: 1, or 0 if DB has none. */
int kv_random(kv_store *kv, unsigned db, uint64_t rnd, kv_entry_view *out);

/* The access clock (--maxmemory's LRU). The store reads no clock: the
 * server sets it in ticks of its choice and every put, delete and kv_find
 * stamps the entry with it. kv_idle_ticks: ticks since an entry's stamp
 * (assuming the clock wrapped at most once since). */
void kv_set_clock(kv_store *kv, uint64_t now_ticks);
uint32_t kv_idle_ticks(const kv_store *kv, uint32_t lru);
/* Bytes a tombstone of a KLEN-byte key holds (what deleting a key keeps
 * until a checkpoint lets the tombstone go). */
size_t kv_tombstone_size(uint32_t klen);
/* Bytes all tombstones hold now (dropped at the next checkpoint). */
size_t kv_tombstone_bytes(const kv_store *kv);

/* Compares versions under the total order above. is_del: 1 for a delete.
 * Returns <0, 0, >0. */
int kv_version_cmp(kv_version a, int a_is_del, const void *a_val, uint32_t a_vlen, kv_version b,
                   int b_is_del, const void *b_val, uint32_t b_vlen);

/* Calls FN for every entry (tombstones included) until FN returns non-zero,
 * which is then returned. The store must not change during the walk. */
int kv_iterate(const kv_store *kv, kv_iter_fn fn, void *ctx);

size_t kv_count(const kv_store *kv);      /* live keys */
size_t kv_tombstones(const kv_store *kv); /* tombstones held */
uint64_t kv_digest(const kv_store *kv);   /* order-independent, see above */
size_t kv_memory_bytes(const kv_store *kv); /* bytes allocated by the store */

/* Drops tombstones whose timestamp is <= TS_MAX (a checkpoint covers them).
 * Returns how many were dropped. */
size_t kv_drop_tombstones(kv_store *kv, uint64_t ts_max);

/* Moves up to N buckets of a rehash in progress; returns 1 while more
 * remain. The server calls it when idle so a resize also finishes unloaded. */
int kv_rehash_step(kv_store *kv, int n);

/* MEMORY USAGE: the bytes the store holds for KEY in database DB (its
 * entry's allocation and its bucket slot), 0 if it holds no entry (a
 * tombstone counts: it is held). Read-only: no rehash step. */
size_t kv_entry_memory(kv_store *kv, unsigned db, const void *key, size_t klen);
/* What an entry of KLEN / VLEN bytes (with an expiry or not) would take:
 * for a key not yet in this store (a write still waiting for its commit). */
size_t kv_entry_memory_estimate(size_t klen, size_t vlen, int has_exp);

#endif
