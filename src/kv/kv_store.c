/* kv_store.c -- the in-memory key-value store: a chained hash table with
 * incremental rehashing whose entries carry last-writer-wins versions, plus
 * an order-independent digest kept up to date on every change.
 *
 * Why it is shaped so:
 *   - Chained buckets and two tables during a resize (Redis's dict): every
 *     put/delete/lookup moves one bucket and kv_rehash_step() moves more when
 *     idle, so no request pays for rehashing millions of keys at once. The
 *     table doubles at load factor 1 and shrinks to fit when it falls under
 *     1/8 (only kv_drop_tombstones removes entries, so only it shrinks).
 *   - One allocation per entry: a 28-byte header (next, ts, node_id, a
 *     17-bit klen, a 26-bit vlen, the expiry and tombstone bits and a 19-bit
 *     access clock for --maxmemory's LRU, packed into the bits the lengths
 *     leave free) followed by the key and value bytes.
 *     A changed value size reallocates the entry; a delete shrinks it to the
 *     header and key. No stored hash: rehashing recomputes it, which is
 *     cheaper than 8 more bytes on every entry.
 *   - The table hash is SipHash-1-3 (as in Redis) keyed with 128 random bits
 *     per store: a client that chooses keys cannot make them collide, which a
 *     fast multiply-mix hash with public constants does not guarantee.
 *   - The digest hash is a different, fixed-key, wyhash-style hash (bulk
 *     speed matters there: it runs over every value written). It must be the
 *     same in every process and on every machine, so it reads bytes as
 *     little-endian and never touches the random seed. Its multiply keeps both
 *     operands (a ^= lo, b ^= hi), so no input block can cancel the state.
 *   - Memory accounting uses malloc_usable_size(): what the allocator really
 *     reserved for us, rounding included. It leaves out the allocator's own
 *     per-chunk header (8 bytes per allocation on glibc), which is therefore
 *     the only part of the true cost not counted.
 *   - Every allocation is checked. A put or delete that cannot allocate its
 *     entry returns KV_NOMEM with the contents unchanged; a failed table
 *     resize is not an error (chains just get longer until the next try).
 */
#include "kv/kv_store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- Entries ---- */

#define KV_TABLE_MIN 4u          /* smallest bucket array */
#define KV_SHRINK_RATIO 8u       /* shrink when entries * 8 < buckets */
#define KV_REHASH_EMPTY_VISITS 10 /* empty buckets skipped per bucket moved */
#define KV_RANDOM_TRIES 32       /* random buckets tried before a walk */

typedef struct kv_entry {
    struct kv_entry *next;  /* bucket chain */
    uint64_t ts;            /* version: timestamp ... */
    uint32_t node_id;       /* ... and origin node */
    uint32_t klen : 17;     /* KV_KLEN_MAX */
    uint32_t lru_lo : 14;   /* access clock (kv_set_clock), low bits */
    uint32_t has_exp : 1;   /* data starts with the 8-byte expiry */
    uint32_t vlen : 26;     /* KV_VLEN_MAX; 0 for a tombstone */
    uint32_t lru_hi : 5;    /* access clock, high bits */
    uint32_t tombstone : 1;
    uint8_t data[];         /* [expiry, 8 bytes], klen key bytes, then vlen value bytes */
} kv_entry;

_Static_assert(sizeof(void *) != 8 || offsetof(kv_entry, data) == 28,
               "entry header should be 28 bytes on 64-bit targets");

typedef struct kv_table {
    kv_entry **bucket;
    size_t size; /* power of two, or 0 before the first insert */
    size_t used; /* entries held, tombstones included */
} kv_table;

/* One database: its own table, so SELECT, FLUSHDB, DBSIZE and SCAN cost
 * what that database holds, not what the others do. */
typedef struct kv_dict {
    kv_table ht[2];      /* ht[1] is in use only while rehashing */
    int rehashing;       /* 1 while entries move from ht[0] to ht[1] */
    size_t rehash_idx;   /* next ht[0] bucket to move */
    size_t live;         /* live keys */
    size_t tombs;        /* tombstones */
    size_t volatile_keys; /* live keys with an expiry */
    size_t tomb_bytes;   /* malloc_usable_size() of its tombstones */
} kv_dict;

struct kv_store {
    kv_dict **db;        /* db[i]: NULL until database i is first written */
    unsigned ndb;        /* slots in db[] */
    unsigned rehash_db;  /* kv_rehash_step's round-robin position */
    uint64_t seed[2];    /* SipHash key of the table hash, random per store */
    size_t live;         /* live keys, every database */
    size_t tombs;        /* tombstones, every database */
    uint64_t digest;     /* sum of kv_entry_digest() over live entries */
    int no_digest;       /* kv_no_digest(): a scratch store, nobody reads its digest */
    size_t mem_bytes;    /* malloc_usable_size() of everything we hold */
    size_t tomb_bytes;   /* ... of which tombstones */
    uint32_t lru_clock;  /* kv_set_clock(), KV_LRU_BITS wide */
};

static inline void kv_entry_touch(const kv_store *kv, kv_entry *e)
{
    e->lru_lo = kv->lru_clock & 0x3FFFu;
    e->lru_hi = (kv->lru_clock >> 14) & 0x1Fu;
}

static inline uint32_t kv_entry_lru(const kv_entry *e)
{
    return (uint32_t)e->lru_lo | ((uint32_t)e->lru_hi << 14);
}

/* ---- Allocation with accounting ---- */

static void *kv_alloc(kv_store *kv, size_t n)
{
    void *p = malloc(n);
    if (p) kv->mem_bytes += malloc_usable_size(p);
    return p;
}

static void *kv_alloc_zero(kv_store *kv, size_t count, size_t size)
{
    void *p = calloc(count, size);
    if (p) kv->mem_bytes += malloc_usable_size(p);
    return p;
}

/* Like realloc: NULL on failure with P untouched and still accounted. */
static void *kv_realloc(kv_store *kv, void *p, size_t n)
{
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n);
    if (!q) return NULL;
    kv->mem_bytes = kv->mem_bytes - old + malloc_usable_size(q);
    return q;
}

static void kv_release(kv_store *kv, void *p)
{
    if (!p) return;
    kv->mem_bytes -= malloc_usable_size(p);
    free(p);
}

static size_t kv_entry_size(uint32_t klen, uint32_t vlen, int has_exp)
{
    size_t n = offsetof(kv_entry, data) + (has_exp ? 8u : 0u) + (size_t)klen + vlen;
    return n < sizeof(kv_entry) ? sizeof(kv_entry) : n;
}

static inline uint8_t *kv_entry_key(const kv_entry *e)
{
    return (uint8_t *)(uintptr_t)(e->data + (e->has_exp ? 8 : 0));
}

static inline int64_t kv_entry_expire(const kv_entry *e)
{
    int64_t x = 0;
    if (e->has_exp) memcpy(&x, e->data, 8);
    return x;
}

/* ---- Hashes ---- */

static inline uint64_t kv_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t kv_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

#define KV_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define KV_SIPROUND                                                                                \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = KV_ROTL(v1, 13);                                                                      \
        v1 ^= v0;                                                                                  \
        v0 = KV_ROTL(v0, 32);                                                                      \
        v2 += v3;                                                                                  \
        v3 = KV_ROTL(v3, 16);                                                                      \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = KV_ROTL(v3, 21);                                                                      \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = KV_ROTL(v1, 17);                                                                      \
        v1 ^= v2;                                                                                  \
        v2 = KV_ROTL(v2, 32);                                                                      \
    } while (0)

/* SipHash-1-3: one compression round per 8 bytes, three finalisation rounds. */
static uint64_t kv_siphash13(const uint8_t *in, size_t len, const uint64_t k[2])
{
    uint64_t v0 = 0x736f6d6570736575ull ^ k[0];
    uint64_t v1 = 0x646f72616e646f6dull ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ k[0];
    uint64_t v3 = 0x7465646279746573ull ^ k[1];
    const uint8_t *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m = kv_le64(in);
        v3 ^= m;
        KV_SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = len & 7; i > 0; i--) b |= (uint64_t)in[i - 1] << (8 * (i - 1));
    v3 ^= b;
    KV_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    KV_SIPROUND;
    KV_SIPROUND;
    KV_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t kv_hash(const kv_store *kv, const void *key, uint32_t klen)
{
    return kv_siphash13(key, klen, kv->seed);
}

/* 64x64 -> 128 multiply folded back into both operands. */
static inline void kv_mum(uint64_t *a, uint64_t *b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)*a * *b;
    *a ^= (uint64_t)r;
    *b ^= (uint64_t)(r >> 64);
#else
    uint64_t ha = *a >> 32, hb = *b >> 32, la = (uint32_t)*a, lb = (uint32_t)*b;
    uint64_t rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb;
    uint64_t t = rl + (rm0 << 32), c = t < rl;
    uint64_t lo = t + (rm1 << 32);
    c += lo < t;
    uint64_t hi = rh + (rm0 >> 32) + (rm1 >> 32) + c;
    *a ^= lo;
    *b ^= hi;
#endif
}

static inline uint64_t kv_mix(uint64_t a, uint64_t b)
{
    kv_mum(&a, &b);
    return a ^ b;
}

/* Fixed constants: the digest must agree across processes and machines. */
static const uint64_t kv_dsecret[4] = {0xa0761d6478bd642full, 0xe7037ed1a0b428dbull,
                                       0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull};
#define KV_DIGEST_SEED 0x726b762d64696765ull /* "rkv-dige" */

/* wyhash-style 64-bit hash of LEN bytes at P. */
static uint64_t kv_digest_hash(const uint8_t *p, size_t len, uint64_t seed)
{
    const uint64_t *s = kv_dsecret;
    uint64_t a, b;
    seed ^= kv_mix(seed ^ s[0], s[1]);
    if (len <= 16) {
        if (len >= 4) {
            size_t mid = (len >> 3) << 2;
            a = (kv_le32(p) << 32) | kv_le32(p + mid);
            b = (kv_le32(p + len - 4) << 32) | kv_le32(p + len - 4 - mid);
        } else if (len > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        if (i > 48) {
            uint64_t see1 = seed, see2 = seed;
            do {
                seed = kv_mix(kv_le64(p) ^ s[1], kv_le64(p + 8) ^ seed);
                see1 = kv_mix(kv_le64(p + 16) ^ s[2], kv_le64(p + 24) ^ see1);
                see2 = kv_mix(kv_le64(p + 32) ^ s[3], kv_le64(p + 40) ^ see2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= see1 ^ see2;
        }
        while (i > 16) {
            seed = kv_mix(kv_le64(p) ^ s[1], kv_le64(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        /* The last 16 bytes, overlapping already-mixed ones if i < 16. */
        a = kv_le64(p + i - 16);
        b = kv_le64(p + i - 8);
    }
    a ^= s[1];
    b ^= seed;
    kv_mum(&a, &b);
    return kv_mix(a ^ s[0] ^ (uint64_t)len, b ^ s[1]);
}

/* Digest contribution of a live entry: a hash of (klen, key, value), the
 * database and the expiry mixed in. The key length goes into the seed, so
 * ("ab", "c") and ("a", "bc") differ; database 0 without an expiry gives
 * what an entry gave before databases and expiries existed. */
static uint64_t kv_entry_digest(const kv_entry *e, unsigned db)
{
    uint64_t h = kv_digest_hash(kv_entry_key(e), (size_t)e->klen + e->vlen,
                                KV_DIGEST_SEED ^ e->klen ^ ((uint64_t)db << 32));
    if (e->has_exp) h ^= kv_mix((uint64_t)kv_entry_expire(e) ^ kv_dsecret[2], h ^ kv_dsecret[3]);
    return h;
}

/* 128 bits for the SipHash key: getrandom(), else /dev/urandom, else a mix of
 * the clock, pid and addresses (weak, but only if both sources are gone). */
static void kv_random_seed(kv_store *kv)
{
    uint8_t buf[16];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = getrandom(buf + got, sizeof buf - got, GRND_NONBLOCK);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got < sizeof buf) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        got = 0;
        while (fd >= 0 && got < sizeof buf) {
            ssize_t r = read(fd, buf + got, sizeof buf - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (fd >= 0) close(fd);
    }
    if (got == sizeof buf) {
        memcpy(kv->seed, buf, sizeof buf);
        return;
    }
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                 ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)kv ^ ++counter;
    for (int i = 0; i < 2; i++) { /* splitmix64 */
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        kv->seed[i] = z ^ (z >> 31);
    }
}

/* ---- Table and incremental rehashing ---- */

/* Moves up to N non-empty buckets from ht[0] to ht[1], looking at no more
 * than N * 10 empty ones. Returns 1 while a rehash remains in progress. */
static int kv_rehash(kv_store *kv, kv_dict *d, int n)
{
    if (!d->rehashing) return 0;
    kv_table *from = &d->ht[0], *to = &d->ht[1];
    size_t empty_visits = (size_t)(n > 0 ? n : 0) * KV_REHASH_EMPTY_VISITS;
    while (n-- > 0 && from->used > 0) {
        assert(d->rehash_idx < from->size);
        while (from->bucket[d->rehash_idx] == NULL) {
            d->rehash_idx++;
            if (--empty_visits == 0) return 1;
        }
        kv_entry *e = from->bucket[d->rehash_idx];
        while (e) {
            kv_entry *next = e->next;
            size_t i = kv_hash(kv, kv_entry_key(e), e->klen) & (to->size - 1);
            e->next = to->bucket[i];
            to->bucket[i] = e;
            from->used--;
            to->used++;
            e = next;
        }
        from->bucket[d->rehash_idx++] = NULL;
    }
    if (from->used > 0) {
        /* The next step will hash this entry: start loading it now. */
        if (d->rehash_idx < from->size && from->bucket[d->rehash_idx])
            __builtin_prefetch(from->bucket[d->rehash_idx]);
        return 1;
    }
    kv_release(kv, from->bucket);
    *from = *to;
    memset(to, 0, sizeof *to);
    d->rehashing = 0;
    d->rehash_idx = 0;
    return 0;
}

/* Starts moving to a SIZE-bucket table (a power of two), or switches at once
 * if ht[0] is empty. Returns -1 if the bucket array cannot be allocated. */
static int kv_resize(kv_store *kv, kv_dict *d, size_t size)
{
    assert(!d->rehashing && size >= KV_TABLE_MIN && (size & (size - 1)) == 0);
    kv_entry **b = kv_alloc_zero(kv, size, sizeof(kv_entry *));
    if (!b) return -1;
    if (d->ht[0].used == 0) {
        kv_release(kv, d->ht[0].bucket);
        d->ht[0] = (kv_table){.bucket = b, .size = size, .used = 0};
        return 0;
    }
    d->ht[1] = (kv_table){.bucket = b, .size = size, .used = 0};
    d->rehashing = 1;
    d->rehash_idx = 0;
    return 0;
}

/* Makes room for one more entry. Fails only when there is no table at all;
 * a failed grow of an existing table just leaves the chains longer. */
static int kv_grow(kv_store *kv, kv_dict *d)
{
    if (d->rehashing) return 0;
    if (d->ht[0].size == 0) return kv_resize(kv, d, KV_TABLE_MIN);
    if (d->ht[0].used >= d->ht[0].size && d->ht[0].size <= SIZE_MAX / 2 / sizeof(void *))
        (void)kv_resize(kv, d, d->ht[0].size * 2);
    return 0;
}

static void kv_maybe_shrink(kv_store *kv, kv_dict *d)
{
    kv_table *ht = &d->ht[0];
    if (d->rehashing || ht->size <= KV_TABLE_MIN || ht->used * KV_SHRINK_RATIO >= ht->size)
        return;
    size_t size = KV_TABLE_MIN;
    while (size < ht->used) size *= 2;
    (void)kv_resize(kv, d, size); /* failure: keep the big table */
}

/* Starts the cache misses of a lookup early: the bucket slots of both tables
 * load while the rehash step runs, and the heads of both chains load while
 * the first is walked. At 1M keys the misses are most of an operation's
 * cost, and overlapping them is what this buys. */
static inline void kv_prefetch_buckets(const kv_dict *d, uint64_t h)
{
    for (int t = 0; t <= d->rehashing; t++)
        if (d->ht[t].size) __builtin_prefetch(&d->ht[t].bucket[h & (d->ht[t].size - 1)]);
}

void kv_prefetch(kv_store *kv, unsigned db, const void *key, uint32_t klen, int deep)
{
    if (db >= kv->ndb || !kv->db[db]) return;
    const kv_dict *d = kv->db[db];
    uint64_t h = kv_hash(kv, key, klen);
    for (int t = 0; t <= d->rehashing; t++) {
        if (!d->ht[t].size) continue;
        kv_entry *const *slot = &d->ht[t].bucket[h & (d->ht[t].size - 1)];
        if (!deep)
            __builtin_prefetch(slot);
        else if (*slot) /* the slot was prefetched a few records ago */
            __builtin_prefetch(*slot);
    }
}

/* Returns the link pointing at KEY's entry (so the caller can unlink or
 * replace the entry), or NULL if the key is not held. */
static kv_entry **kv_find_link(kv_dict *d, const void *key, uint32_t klen, uint64_t h,
                               int *which)
{
    if (d->rehashing) __builtin_prefetch(d->ht[1].bucket[h & (d->ht[1].size - 1)]);
    for (int t = 0; t <= d->rehashing; t++) {
        kv_table *ht = &d->ht[t];
        if (ht->size == 0) continue;
        for (kv_entry **link = &ht->bucket[h & (ht->size - 1)]; *link; link = &(*link)->next) {
            const kv_entry *e = *link;
            if (e->klen == klen && (klen == 0 || memcmp(kv_entry_key(e), key, klen) == 0)) {
                if (which) *which = t;
                return link;
            }
        }
    }
    return NULL;
}

/* New entries go to the table being filled: ht[1] while rehashing. */
static void kv_link(kv_dict *d, kv_entry *e, uint64_t h)
{
    kv_table *ht = &d->ht[d->rehashing ? 1 : 0];
    size_t i = h & (ht->size - 1);
    e->next = ht->bucket[i];
    ht->bucket[i] = e;
    ht->used++;
}

/* The dictionary of database DB, created on first use when CREATE. NULL:
 * absent (not CREATE) or out of memory. */
static kv_dict *kv_dict_get(kv_store *kv, unsigned db, int create)
{
    assert(db < KV_DB_MAX);
    if (db < kv->ndb && kv->db[db]) return kv->db[db];
    if (!create) return NULL;
    if (db >= kv->ndb) {
        unsigned n = kv->ndb ? kv->ndb : 16;
        while (n <= db) n *= 2;
        if (n > KV_DB_MAX) n = KV_DB_MAX;
        /* An array of pointers, on purpose. */
        kv_dict **a = kv_alloc_zero(kv, n, sizeof(kv_dict *)); // NOLINT(bugprone-sizeof-expression)
        if (!a) return NULL;
        if (kv->ndb) memcpy(a, kv->db, kv->ndb * sizeof(kv_dict *)); // NOLINT(bugprone-sizeof-expression)
        kv_release(kv, kv->db);
        kv->db = a;
        kv->ndb = n;
    }
    kv->db[db] = kv_alloc_zero(kv, 1, sizeof(kv_dict));
    return kv->db[db];
}

/* ---- Entry updates ---- */

static kv_version kv_entry_version(const kv_entry *e)
{
    return (kv_version){.ts = e->ts, .node_id = e->node_id};
}

static const uint8_t *kv_entry_val(const kv_entry *e)
{
    return e->tombstone ? NULL : kv_entry_key(e) + e->klen;
}

static void kv_fill_view(const kv_entry *e, unsigned db, kv_entry_view *out)
{
    out->key = kv_entry_key(e);
    out->klen = e->klen;
    out->val = kv_entry_val(e);
    out->vlen = e->vlen;
    out->ver = kv_entry_version(e);
    out->tombstone = e->tombstone;
    out->db = db;
    out->expire_ms = kv_entry_expire(e);
    out->lru = kv_entry_lru(e);
    out->mem = 0;
}

static void kv_count_in(kv_store *kv, kv_dict *d, const kv_entry *e, unsigned db)
{
    if (e->tombstone) {
        kv->tombs++;
        d->tombs++;
        size_t sz = malloc_usable_size((void *)(uintptr_t)e);
        kv->tomb_bytes += sz;
        d->tomb_bytes += sz;
    } else {
        kv->live++;
        d->live++;
        if (e->has_exp) d->volatile_keys++;
        if (!kv->no_digest) kv->digest += kv_entry_digest(e, db);
    }
}

static void kv_count_out(kv_store *kv, kv_dict *d, const kv_entry *e, unsigned db)
{
    if (e->tombstone) {
        kv->tombs--;
        d->tombs--;
        size_t sz = malloc_usable_size((void *)(uintptr_t)e);
        kv->tomb_bytes -= sz;
        d->tomb_bytes -= sz;
    } else {
        kv->live--;
        d->live--;
        if (e->has_exp) d->volatile_keys--;
        if (!kv->no_digest) kv->digest -= kv_entry_digest(e, db);
    }
}

static void kv_entry_set(kv_entry *e, const void *val, uint32_t vlen, int64_t expire,
                         kv_version ver, int tomb)
{
    e->has_exp = expire ? 1u : 0u;
    if (expire) memcpy(e->data, &expire, 8);
    if (vlen) memcpy(kv_entry_key(e) + e->klen, val, vlen);
    e->vlen = vlen;
    e->tombstone = tomb ? 1u : 0u;
    e->ts = ver.ts;
    e->node_id = ver.node_id;
}

/* Adds an entry for an absent key: a put, or a tombstone if TOMB. */
static int kv_insert_new(kv_store *kv, kv_dict *d, unsigned db, const void *key, uint32_t klen,
                         const void *val, uint32_t vlen, int64_t expire, kv_version ver, int tomb,
                         uint64_t h)
{
    if (kv_grow(kv, d) != 0) return KV_NOMEM;
    kv_entry *e = kv_alloc(kv, kv_entry_size(klen, vlen, expire != 0));
    if (!e) return KV_NOMEM;
    e->klen = klen;
    e->has_exp = expire ? 1u : 0u;
    kv_entry_touch(kv, e);
    if (klen) memcpy(kv_entry_key(e), key, klen);
    kv_entry_set(e, val, vlen, expire, ver, tomb);
    kv_link(d, e, h);
    kv_count_in(kv, d, e, db);
    return KV_WON;
}

/* Overwrites the entry at *LINK with a put of VAL (or a tombstone if TOMB),
 * reallocating it when its size changes. The key moves when the expiry
 * field appears or goes. */
static int kv_replace(kv_store *kv, kv_dict *d, unsigned db, kv_entry **link, const void *val,
                      uint32_t vlen, int64_t expire, kv_version ver, int tomb)
{
    kv_entry *e = *link;
    int had_exp = e->has_exp, has_exp = expire != 0;
    size_t old_size = kv_entry_size(e->klen, e->vlen, had_exp);
    size_t new_size = kv_entry_size(e->klen, vlen, has_exp);
    kv_count_out(kv, d, e, db); /* before realloc truncates */
    if (had_exp && !has_exp) /* key moves down before a shrink can cut it */
        memmove(e->data, e->data + 8, e->klen);
    if (new_size != old_size) {
        kv_entry *n = kv_realloc(kv, e, new_size);
        if (n) {
            *link = n;
            e = n;
        } else if (new_size > old_size) {
            if (had_exp && !has_exp) memmove(e->data + 8, e->data, e->klen);
            kv_count_in(kv, d, e, db);
            return KV_NOMEM; /* nothing changed */
        } /* a failed shrink keeps the larger block, which still fits */
    }
    if (!had_exp && has_exp) memmove(e->data + 8, e->data, e->klen);
    e->has_exp = has_exp ? 1u : 0u;
    kv_entry_touch(kv, e);
    kv_entry_set(e, val, vlen, expire, ver, tomb);
    kv_count_in(kv, d, e, db);
    return KV_WON;
}

/* ---- Public API ---- */

kv_store *kv_new(void)
{
    kv_store *kv = calloc(1, sizeof *kv);
    if (!kv) return NULL;
    kv->mem_bytes = malloc_usable_size(kv);
    kv_random_seed(kv);
    return kv;
}

/* Frees D's entries and tables; D itself stays (zeroed). */
static void kv_dict_clear(kv_store *kv, kv_dict *d)
{
    for (int t = 0; t < 2; t++) {
        kv_table *ht = &d->ht[t];
        for (size_t i = 0; i < ht->size; i++) {
            kv_entry *e = ht->bucket[i];
            while (e) {
                kv_entry *next = e->next;
                kv_release(kv, e);
                e = next;
            }
        }
        kv_release(kv, ht->bucket);
    }
    memset(d, 0, sizeof *d);
}

void kv_no_digest(kv_store *kv)
{
    assert(kv->live == 0);
    kv->no_digest = 1;
}

void kv_free(kv_store *kv)
{
    if (!kv) return;
    for (unsigned i = 0; i < kv->ndb; i++)
        if (kv->db[i]) {
            kv_dict_clear(kv, kv->db[i]);
            free(kv->db[i]);
        }
    free(kv->db);
    free(kv);
}

int kv_version_cmp(kv_version a, int a_is_del, const void *a_val, uint32_t a_vlen, kv_version b,
                   int b_is_del, const void *b_val, uint32_t b_vlen)
{
    if (a.ts != b.ts) return a.ts < b.ts ? -1 : 1;
    if (a.node_id != b.node_id) return a.node_id < b.node_id ? -1 : 1;
    a_is_del = a_is_del != 0;
    b_is_del = b_is_del != 0;
    if (a_is_del || b_is_del) return a_is_del - b_is_del; /* remove wins; two deletes tie */
    uint32_t n = a_vlen < b_vlen ? a_vlen : b_vlen;
    int c = n ? memcmp(a_val, b_val, n) : 0;
    if (c != 0) return c < 0 ? -1 : 1;
    return (a_vlen > b_vlen) - (a_vlen < b_vlen); /* a proper prefix is smaller */
}

/* VAL must not point into the store (a view of the same store). */
int kv_put(kv_store *kv, unsigned db, const void *key, uint32_t klen, const void *val,
           uint32_t vlen, int64_t expire_ms, kv_version ver)
{
    assert(vlen <= KV_VLEN_MAX && klen <= KV_KLEN_MAX);
    assert(klen == 0 || key != NULL);
    assert(vlen == 0 || val != NULL);
    kv_dict *d = kv_dict_get(kv, db, 1);
    if (!d) return KV_NOMEM;
    uint64_t h = kv_hash(kv, key, klen);
    kv_prefetch_buckets(d, h);
    kv_rehash(kv, d, 1);
    kv_entry **link = kv_find_link(d, key, klen, h, NULL);
    if (!link) return kv_insert_new(kv, d, db, key, klen, val, vlen, expire_ms, ver, 0, h);
    const kv_entry *e = *link;
    if (kv_version_cmp(ver, 0, val, vlen, kv_entry_version(e), e->tombstone, kv_entry_val(e),
                       e->vlen) <= 0)
        return KV_LOST;
    return kv_replace(kv, d, db, link, val, vlen, expire_ms, ver, 0);
}

int kv_del(kv_store *kv, unsigned db, const void *key, uint32_t klen, kv_version ver)
{
    assert(klen <= KV_KLEN_MAX);
    assert(klen == 0 || key != NULL);
    kv_dict *d = kv_dict_get(kv, db, 1);
    if (!d) return KV_NOMEM;
    uint64_t h = kv_hash(kv, key, klen);
    kv_prefetch_buckets(d, h);
    kv_rehash(kv, d, 1);
    kv_entry **link = kv_find_link(d, key, klen, h, NULL);
    if (!link) return kv_insert_new(kv, d, db, key, klen, NULL, 0, 0, ver, 1, h);
    const kv_entry *e = *link;
    if (kv_version_cmp(ver, 1, NULL, 0, kv_entry_version(e), e->tombstone, kv_entry_val(e),
                       e->vlen) <= 0)
        return KV_LOST;
    return kv_replace(kv, d, db, link, NULL, 0, 0, ver, 1);
}

int kv_apply_put(kv_store *kv, const void *key, uint32_t klen, const void *val, uint32_t vlen,
                 kv_version ver)
{
    return kv_put(kv, 0, key, klen, val, vlen, 0, ver);
}

int kv_apply_del(kv_store *kv, const void *key, uint32_t klen, kv_version ver)
{
    return kv_del(kv, 0, key, klen, ver);
}

int kv_find(kv_store *kv, unsigned db, const void *key, uint32_t klen, kv_entry_view *out)
{
    assert(klen == 0 || key != NULL);
    kv_dict *d = kv_dict_get(kv, db, 0);
    if (!d) return 0;
    uint64_t h = kv_hash(kv, key, klen);
    kv_prefetch_buckets(d, h);
    kv_rehash(kv, d, 1);
    kv_entry **link = kv_find_link(d, key, klen, h, NULL);
    if (!link) return 0;
    kv_fill_view(*link, db, out); /* the stamp before this access */
    kv_entry_touch(kv, *link);
    return 1;
}

int kv_lookup(kv_store *kv, const void *key, uint32_t klen, kv_entry_view *out)
{
    return kv_find(kv, 0, key, klen, out);
}

int kv_get(kv_store *kv, const void *key, uint32_t klen, kv_entry_view *out)
{
    kv_entry_view v;
    if (!kv_find(kv, 0, key, klen, &v) || v.tombstone) return 0;
    *out = v;
    return 1;
}

int kv_remove(kv_store *kv, unsigned db, const void *key, uint32_t klen, const kv_version *only)
{
    kv_dict *d = kv_dict_get(kv, db, 0);
    if (!d) return 0;
    uint64_t h = kv_hash(kv, key, klen);
    kv_rehash(kv, d, 1);
    int t = 0;
    kv_entry **link = kv_find_link(d, key, klen, h, &t);
    if (!link) return 0;
    kv_entry *e = *link;
    if (only && (e->ts != only->ts || e->node_id != only->node_id)) return 0;
    *link = e->next;
    d->ht[t].used--;
    kv_count_out(kv, d, e, db);
    kv_release(kv, e);
    kv_rehash(kv, d, 0);
    return 1;
}

/* During a rehash, moved buckets of ht[0] are empty, so walking both tables
 * whole visits every entry exactly once. */
static int kv_dict_iterate(const kv_dict *d, unsigned db, kv_iter_fn fn, void *ctx)
{
    for (int t = 0; t <= d->rehashing; t++) {
        const kv_table *ht = &d->ht[t];
        for (size_t i = 0; i < ht->size; i++) {
            for (const kv_entry *e = ht->bucket[i]; e; e = e->next) {
                kv_entry_view v;
                kv_fill_view(e, db, &v);
                int rc = fn(ctx, &v);
                if (rc != 0) return rc;
            }
        }
    }
    return 0;
}

int kv_iterate(const kv_store *kv, kv_iter_fn fn, void *ctx)
{
    for (unsigned db = 0; db < kv->ndb; db++) {
        if (!kv->db[db]) continue;
        int rc = kv_dict_iterate(kv->db[db], db, fn, ctx);
        if (rc != 0) return rc;
    }
    return 0;
}

size_t kv_count(const kv_store *kv)
{
    return kv->live;
}

size_t kv_db_count(const kv_store *kv, unsigned db)
{
    return db < kv->ndb && kv->db[db] ? kv->db[db]->live : 0;
}

size_t kv_db_volatile(const kv_store *kv, unsigned db)
{
    return db < kv->ndb && kv->db[db] ? kv->db[db]->volatile_keys : 0;
}

unsigned kv_db_slots(const kv_store *kv)
{
    return kv->ndb;
}

size_t kv_tombstones(const kv_store *kv)
{
    return kv->tombs;
}

uint64_t kv_digest(const kv_store *kv)
{
    return kv->digest;
}

size_t kv_memory_bytes(const kv_store *kv)
{
    return kv->mem_bytes;
}

/* A full scan: it runs once per checkpoint, not per request. */
size_t kv_drop_tombstones(kv_store *kv, uint64_t ts_max)
{
    size_t dropped = 0;
    if (kv->tombs == 0) return 0;
    for (unsigned db = 0; db < kv->ndb; db++) {
        kv_dict *d = kv->db[db];
        if (!d || d->tombs == 0) continue;
        size_t here = 0;
        for (int t = 0; t <= d->rehashing; t++) {
            kv_table *ht = &d->ht[t];
            for (size_t i = 0; i < ht->size; i++) {
                kv_entry **link = &ht->bucket[i];
                while (*link) {
                    kv_entry *e = *link;
                    if (e->tombstone && e->ts <= ts_max) {
                        *link = e->next;
                        size_t sz = malloc_usable_size(e);
                        kv->tomb_bytes -= sz;
                        d->tomb_bytes -= sz;
                        kv_release(kv, e);
                        ht->used--;
                        here++;
                    } else {
                        link = &e->next;
                    }
                }
            }
        }
        d->tombs -= here;
        dropped += here;
        kv_rehash(kv, d, 0); /* finishes a rehash whose source just emptied */
        kv_maybe_shrink(kv, d);
    }
    kv->tombs -= dropped;
    return dropped;
}

void kv_flush_db(kv_store *kv, unsigned db)
{
    kv_dict *d = kv_dict_get(kv, db, 0);
    if (!d) return;
    kv->live -= d->live;
    kv->tombs -= d->tombs;
    kv->tomb_bytes -= d->tomb_bytes;
    d->tomb_bytes = 0;
    /* The digest of what goes is subtracted entry by entry. */
    for (int t = 0; t <= d->rehashing && !kv->no_digest; t++) {
        const kv_table *ht = &d->ht[t];
        for (size_t i = 0; i < ht->size; i++)
            for (const kv_entry *e = ht->bucket[i]; e; e = e->next)
                if (!e->tombstone) kv->digest -= kv_entry_digest(e, db);
    }
    kv_dict_clear(kv, d);
}

void kv_flush_all(kv_store *kv)
{
    for (unsigned db = 0; db < kv->ndb; db++) kv_flush_db(kv, db);
}

int kv_rehash_step(kv_store *kv, int n)
{
    for (unsigned k = 0; k < kv->ndb; k++) {
        unsigned db = (kv->rehash_db + k) % kv->ndb;
        kv_dict *d = kv->db[db];
        if (d && d->rehashing) {
            kv->rehash_db = db;
            if (kv_rehash(kv, d, n)) return 1;
        }
    }
    return 0;
}

/* ---- SCAN and random keys ---- */

static uint64_t kv_rev(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
}

static void kv_scan_bucket(const kv_entry *e, unsigned db, kv_iter_fn fn, void *ctx)
{
    for (; e; e = e->next) {
        kv_entry_view v;
        kv_fill_view(e, db, &v);
        (void)fn(ctx, &v);
    }
}

/* Redis's dictScan: the cursor counts with its bits reversed, so the
 * buckets not yet visited in a table of size 2^k are exactly the ones not yet
 * visited after it doubles or halves; while two tables exist, every bucket
 * of the larger one that the smaller one's bucket expands to is visited
 * with it. An entry present for the whole scan is returned at least once. */
uint64_t kv_scan(kv_store *kv, unsigned db, uint64_t v, kv_iter_fn fn, void *ctx)
{
    kv_dict *d = kv_dict_get(kv, db, 0);
    if (!d || d->ht[0].size == 0) return 0;
    if (!d->rehashing) {
        const kv_table *t0 = &d->ht[0];
        uint64_t m0 = t0->size - 1;
        kv_scan_bucket(t0->bucket[v & m0], db, fn, ctx);
        v |= ~m0;
        v = kv_rev(v);
        v++;
        v = kv_rev(v);
        return v;
    }
    const kv_table *t0 = &d->ht[0], *t1 = &d->ht[1];
    if (t0->size > t1->size) {
        const kv_table *x = t0;
        t0 = t1;
        t1 = x;
    }
    uint64_t m0 = t0->size - 1, m1 = t1->size - 1;
    kv_scan_bucket(t0->bucket[v & m0], db, fn, ctx);
    do {
        kv_scan_bucket(t1->bucket[v & m1], db, fn, ctx);
        v |= ~m1;
        v = kv_rev(v);
        v++;
        v = kv_rev(v);
    } while (v & (m0 ^ m1));
    return v;
}

void kv_set_clock(kv_store *kv, uint64_t now_ticks)
{
    kv->lru_clock = (uint32_t)(now_ticks & KV_LRU_MAX);
}

uint32_t kv_idle_ticks(const kv_store *kv, uint32_t lru)
{
    /* One wrap of the clock is assumed at most (Redis's estimateObjectIdleTime). */
    return kv->lru_clock >= lru ? kv->lru_clock - lru : kv->lru_clock + (KV_LRU_MAX + 1u) - lru;
}

size_t kv_tombstone_bytes(const kv_store *kv)
{
    return kv->tomb_bytes;
}

size_t kv_tombstone_size(uint32_t klen)
{
    /* What glibc's malloc reserves for a tombstone of KLEN: the request plus
     * its 8-byte chunk header, rounded up to 16, at least 32, minus the
     * header (malloc_usable_size of such a block). */
    size_t req = kv_entry_size(klen, 0, 0) + 8u;
    size_t chunk = (req + 15u) & ~(size_t)15u;
    if (chunk < 32u) chunk = 32u;
    return chunk - 8u;
}

int kv_random(kv_store *kv, unsigned db, uint64_t rnd, kv_entry_view *out)
{
    kv_dict *d = kv_dict_get(kv, db, 0);
    if (!d || d->live == 0) return 0;
    /* Random buckets first (cheap when the table is dense with live keys),
     * then a walk from a random bucket (tombstones can make it sparse). */
    for (int tries = 0; tries < KV_RANDOM_TRIES; tries++) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        int t = d->rehashing && (rnd >> 63) ? 1 : 0;
        const kv_table *ht = &d->ht[t];
        if (ht->size == 0) continue;
        const kv_entry *e = ht->bucket[(rnd >> 17) & (ht->size - 1)];
        size_t len = 0;
        for (const kv_entry *x = e; x; x = x->next) len += !x->tombstone;
        if (len == 0) continue;
        size_t pick = (size_t)(rnd % len);
        for (; e; e = e->next)
            if (!e->tombstone && pick-- == 0) {
                kv_fill_view(e, db, out);
                out->mem = malloc_usable_size((void *)(uintptr_t)e);
                return 1;
            }
    }
    for (int t = 0; t <= d->rehashing; t++) {
        const kv_table *ht = &d->ht[t];
        for (size_t k = 0; k < ht->size; k++) {
            size_t i = (k + (size_t)rnd) & (ht->size - 1);
            for (const kv_entry *e = ht->bucket[i]; e; e = e->next)
                if (!e->tombstone) {
                    kv_fill_view(e, db, out);
                    out->mem = malloc_usable_size((void *)(uintptr_t)e);
                    return 1;
                }
        }
    }
    return 0;
}

/* ---- MEMORY USAGE (read-only) ---- */

size_t kv_entry_memory(kv_store *kv, unsigned db, const void *key, size_t klen)
{
    if (klen > KV_KLEN_MAX || db >= kv->ndb || !kv->db[db]) return 0;
    kv_dict *d = kv->db[db];
    if (d->ht[0].size == 0 && d->ht[1].size == 0) return 0;
    uint64_t h = kv_hash(kv, key, (uint32_t)klen);
    kv_entry **link = kv_find_link(d, key, (uint32_t)klen, h, NULL);
    if (!link) return 0;
    return malloc_usable_size(*link) + sizeof(kv_entry *);
}

size_t kv_entry_memory_estimate(size_t klen, size_t vlen, int has_exp)
{
    return offsetof(kv_entry, data) + (has_exp ? 8 : 0) + klen + vlen + sizeof(kv_entry *);
}
