/* wal_record_test.c -- the WAL record codec: round trips, and every decode
 * result from every kind of damage (prefixes, flipped bits, bad lengths,
 * ops and fields), including lengths too large to ever wait for. */
#include <stdlib.h>
#include <string.h>

#include "../testhelp.h"
#include "wal/crc32.h"
#include "wal/wal_apply.h"
#include "wal/wal_record.h"

static size_t make_rec(uint8_t *out, uint8_t op, const char *key, const char *val, uint64_t lsn)
{
    wal_rec r = {.lsn = lsn,
                 .epoch = 7,
                 .ts = 1234567890123ull,
                 .node_id = 3,
                 .op = op,
                 .klen = (uint32_t)strlen(key),
                 .vlen = val ? (uint32_t)strlen(val) : 0,
                 .key = (const uint8_t *)key,
                 .val = (const uint8_t *)val};
    return wal_record_encode(&r, out);
}

/* Recomputes the CRC after a deliberate edit, so only the edit is judged. */
static void fix_crc(uint8_t *b)
{
    uint32_t len = wal_get_u32(b);
    wal_put_u32(b + 4, crc32c(0, b + 8, len - 8));
}

static void test_roundtrip(void)
{
    test_section("roundtrip");
    uint8_t buf[512];
    size_t n = make_rec(buf, WAL_OP_PUT, "key:00000001", "hello world", 42);
    test_cond("size matches wal_record_size", n == wal_record_size(12, 11));
    test_cond("len field", wal_get_u32(buf) == n);
    wal_rec r;
    size_t used = 0;
    test_cond("decode ok", wal_record_decode(buf, n, &r, &used) == WAL_DEC_OK);
    test_cond("consumed", used == n);
    test_cond("fields", r.lsn == 42 && r.epoch == 7 && r.ts == 1234567890123ull && r.node_id == 3 &&
                            r.op == WAL_OP_PUT);
    test_cond("key", r.klen == 12 && memcmp(r.key, "key:00000001", 12) == 0);
    test_cond("value", r.vlen == 11 && memcmp(r.val, "hello world", 11) == 0);
    test_cond("key points into buffer", r.key == buf + WAL_HDR_SIZE);

    n = make_rec(buf, WAL_OP_DEL, "gone", NULL, 43);
    test_cond("del decode", wal_record_decode(buf, n, &r, &used) == WAL_DEC_OK &&
                                r.op == WAL_OP_DEL && r.vlen == 0 && r.klen == 4 &&
                                used == WAL_HDR_SIZE + 4);
    n = make_rec(buf, WAL_OP_PUT, "", "", 1);
    test_cond("empty key and value", wal_record_decode(buf, n, &r, &used) == WAL_DEC_OK &&
                                         n == WAL_HDR_SIZE && r.klen == 0 && r.vlen == 0);
    /* Extra bytes after a record are left alone. */
    n = make_rec(buf, WAL_OP_PUT, "a", "b", 5);
    memset(buf + n, 0xAB, 20);
    test_cond("trailing bytes ignored",
              wal_record_decode(buf, n + 20, &r, &used) == WAL_DEC_OK && used == n);

    /* Largest key, a large value. */
    size_t vlen = 1u << 20;
    uint8_t *key = malloc(WAL_KEY_MAX), *val = malloc(vlen),
            *big = malloc(wal_record_size(WAL_KEY_MAX, (uint32_t)vlen));
    for (size_t i = 0; i < WAL_KEY_MAX; i++)
        key[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < vlen; i++)
        val[i] = (uint8_t)(i * 13);
    wal_rec br = {.lsn = 9,
                  .epoch = 1,
                  .ts = 5,
                  .node_id = 1,
                  .op = WAL_OP_PUT,
                  .klen = WAL_KEY_MAX,
                  .vlen = (uint32_t)vlen,
                  .key = key,
                  .val = val};
    n = wal_record_encode(&br, big);
    test_cond("big decode", wal_record_decode(big, n, &r, &used) == WAL_DEC_OK &&
                                r.klen == WAL_KEY_MAX && memcmp(r.key, key, WAL_KEY_MAX) == 0 &&
                                memcmp(r.val, val, vlen) == 0);
    free(key);
    free(val);
    free(big);
}

static void test_need_more(void)
{
    test_section("need more at every prefix");
    uint8_t buf[256];
    size_t n = make_rec(buf, WAL_OP_PUT, "prefix-key", "some value bytes", 77);
    int all_need = 1, all_goal = 1;
    for (size_t k = 0; k < n; k++) {
        wal_rec r;
        size_t used = 0;
        if (wal_record_decode(buf, k, &r, &used) != WAL_DEC_NEED_MORE) all_need = 0;
        size_t goal = k < 4 ? WAL_HDR_SIZE : n;
        if (used != goal) all_goal = 0;
    }
    test_cond("every proper prefix is NEED_MORE", all_need);
    test_cond("consumed tells the bytes needed", all_goal);

    /* Incremental decode of a stream of records fed one byte at a time. */
    uint8_t stream[1024];
    size_t len = 0;
    for (int i = 0; i < 5; i++)
        len += make_rec(stream + len, WAL_OP_PUT, "k", "vvvv", (uint64_t)i + 1);
    size_t have = 0, pos = 0;
    int got = 0, bad = 0;
    for (have = 0; have <= len; have++) {
        for (;;) {
            wal_rec r;
            size_t used;
            wal_dec d = wal_record_decode(stream + pos, have - pos, &r, &used);
            if (d == WAL_DEC_NEED_MORE) break;
            if (d != WAL_DEC_OK || r.lsn != (uint64_t)got + 1) bad = 1;
            got++;
            pos += used;
        }
    }
    test_cond("byte-at-a-time stream yields every record", got == 5 && !bad && pos == len);
}

static void test_bit_flips(void)
{
    test_section("flipped bits");
    uint8_t orig[256], buf[256];
    size_t n = make_rec(orig, WAL_OP_PUT, "flip-key", "flip value", 1000);
    int crc_ok = 1, len_never_ok = 1;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, orig, n);
            buf[i] ^= (uint8_t)(1u << bit);
            wal_rec r;
            size_t used;
            wal_dec d = wal_record_decode(buf, n, &r, &used);
            if (i >= 8 && d != WAL_DEC_BAD_CRC) crc_ok = 0;
            if (i >= 4 && i < 8 && d != WAL_DEC_BAD_CRC) crc_ok = 0; /* the CRC itself */
            if (i < 4 && d == WAL_DEC_OK) len_never_ok = 0;
        }
    }
    test_cond("every flipped bit after offset 4 is BAD_CRC", crc_ok);
    test_cond("a flipped length bit never decodes OK", len_never_ok);

    /* On BAD_CRC the header fields are filled as read (for the log line). */
    memcpy(buf, orig, n);
    buf[n - 1] ^= 1;
    wal_rec r;
    size_t used;
    test_cond("bad crc fills lsn",
              wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_CRC && r.lsn == 1000);
}

static void test_bad_length(void)
{
    test_section("bad length");
    uint8_t buf[256];
    size_t n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    wal_rec r;
    size_t used;
    wal_put_u32(buf, 47);
    test_cond("len below header size", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_LENGTH);
    wal_put_u32(buf, 0);
    test_cond("len zero", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_LENGTH);
    test_cond("len zero known from 4 bytes",
              wal_record_decode(buf, 4, &r, &used) == WAL_DEC_BAD_LENGTH);

    /* A huge length is refused at once: never waited for, never buffered. */
    wal_put_u32(buf, 0xFFFFFFFFu);
    test_cond("huge len refused with 4 bytes",
              wal_record_decode(buf, 4, &r, &used) == WAL_DEC_BAD_LENGTH);
    wal_put_u32(buf, WAL_RECORD_MAX + 1);
    test_cond("len just over max refused",
              wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_LENGTH);

    /* Consistent header at the maximum: legal, so NEED_MORE with the goal. */
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    wal_put_u32(buf, WAL_RECORD_MAX);
    wal_put_u32(buf + 40, WAL_KEY_MAX);
    wal_put_u32(buf + 44, WAL_VAL_MAX);
    test_cond("max record waits for its bytes",
              wal_record_decode(buf, WAL_HDR_SIZE, &r, &used) == WAL_DEC_NEED_MORE &&
                  used == WAL_RECORD_MAX);
    /* Inconsistent header with the body missing: refused without waiting. */
    wal_put_u32(buf + 40, 3);
    test_cond("inconsistent header refused early",
              wal_record_decode(buf, WAL_HDR_SIZE, &r, &used) == WAL_DEC_BAD_LENGTH);
    wal_put_u32(buf + 40, WAL_KEY_MAX + 1);
    wal_put_u32(buf + 44, WAL_VAL_MAX - 1);
    test_cond("klen over max refused early",
              wal_record_decode(buf, WAL_HDR_SIZE, &r, &used) == WAL_DEC_BAD_LENGTH);

    /* Complete record, valid CRC, lengths that do not add up. */
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    wal_put_u32(buf + 40, 5);
    wal_put_u32(buf + 44, 4);
    fix_crc(buf);
    test_cond("len != 48 + klen + vlen",
              wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_LENGTH);
}

static void test_bad_op_field(void)
{
    test_section("bad op and fields");
    uint8_t buf[256];
    wal_rec r;
    size_t used;
    size_t n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    buf[36] = 3;
    fix_crc(buf);
    test_cond("unknown op", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_OP);
    buf[36] = 0;
    fix_crc(buf);
    test_cond("op zero", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_OP);
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    buf[37] = 2;
    fix_crc(buf);
    test_cond("unknown flag bit", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_OP);
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    buf[38] = 1;
    fix_crc(buf);
    test_cond("bytes 38-39 are the database (old records: 0)",
              wal_record_decode(buf, n, &r, &used) == WAL_DEC_OK && r.db == 1);
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    buf[37] = WAL_F_EXPIRE; /* the length does not account for the expiry */
    fix_crc(buf);
    test_cond("expiry flag without its 8 bytes", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_LENGTH);
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    buf[36] = WAL_OP_DEL;
    fix_crc(buf);
    test_cond("DEL with a value", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_OP);
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    wal_put_u64(buf + 8, 0);
    fix_crc(buf);
    test_cond("lsn zero", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_FIELD);
    n = make_rec(buf, WAL_OP_PUT, "key", "value", 5);
    wal_put_u64(buf + 16, 0);
    fix_crc(buf);
    test_cond("epoch zero",
              wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_FIELD && r.lsn == 5);
}

static void test_strings(void)
{
    test_section("result names");
    const char *s[6];
    for (int i = 0; i < 6; i++)
        s[i] = wal_dec_str((wal_dec)i);
    int distinct = 1;
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            if (!s[i] || !s[j] || strcmp(s[i], s[j]) == 0) distinct = 0;
    test_cond("every result has its own name", distinct);
}

/* Records of databases, expiries and MULTI units, and what they do to a
 * store (wal_apply.h). */
static void test_units(void)
{
    test_section("expiry, database, MULTI: encode, decode, apply");
    uint8_t buf[1024], body[512];
    wal_rec r = {.lsn = 9, .epoch = 2, .ts = 1000, .node_id = 4, .op = WAL_OP_PUT,
                 .flags = WAL_F_EXPIRE, .db = 3, .expire_ms = 1700000000123ll,
                 .key = (const uint8_t *)"k", .klen = 1, .val = (const uint8_t *)"v", .vlen = 1};
    size_t n = wal_record_encode(&r, buf);
    wal_rec d;
    size_t used;
    test_cond("PUT with expiry and db: 8 more bytes", n == wal_record_size_x(1, 1, 1) &&
                                                      n == WAL_HDR_SIZE + 8 + 2);
    test_cond("decodes with both", wal_record_decode(buf, n, &d, &used) == WAL_DEC_OK &&
                                       d.db == 3 && d.expire_ms == 1700000000123ll &&
                                       d.klen == 1 && d.key[0] == 'k' && d.val[0] == 'v');
    /* A unit: SET a 1 in db 0, DEL b in db 2, FLUSHDB 5, PUT c with an expiry. */
    size_t bl = 4;
    bl += wal_subop_encode(body + bl, WAL_OP_PUT, 0, 0, "a", 1, "1", 1);
    bl += wal_subop_encode(body + bl, WAL_OP_DEL, 2, 0, "b", 1, NULL, 0);
    bl += wal_subop_encode(body + bl, WAL_OP_FLUSHDB, 5, 0, NULL, 0, NULL, 0);
    bl += wal_subop_encode(body + bl, WAL_OP_PUT, 1, 42, "c", 1, "x", 1);
    wal_put_u32(body, 4);
    wal_rec m = {.lsn = 10, .epoch = 2, .ts = 2000, .node_id = 4, .op = WAL_OP_MULTI,
                 .val = body, .vlen = (uint32_t)bl};
    n = wal_record_encode(&m, buf);
    test_cond("MULTI decodes", wal_record_decode(buf, n, &d, &used) == WAL_DEC_OK &&
                                   d.op == WAL_OP_MULTI && used == n);
    test_cond("its last timestamp is ts + count - 1", wal_rec_last_ts(&d) == 2003);
    wal_op_iter it;
    wal_op_view op;
    wal_op_iter_init(&it, &d);
    int k = 0, order = 1;
    static const uint8_t ops[] = {WAL_OP_PUT, WAL_OP_DEL, WAL_OP_FLUSHDB, WAL_OP_PUT};
    while (wal_op_next(&it, &op)) {
        order &= k < 4 && op.op == ops[k] && op.ts == 2000u + (unsigned)k && op.node_id == 4;
        k++;
    }
    test_cond("the iterator gives the four operations in order, versions ts + i", k == 4 && order);
    kv_store *kv = kv_new();
    kv_entry_view e;
    kv_put(kv, 5, "z", 1, "old", 3, 0, (kv_version){1, 1});
    kv_put(kv, 2, "b", 1, "old", 3, 0, (kv_version){1, 1});
    test_cond("applied", wal_apply_record(kv, &d, NULL, NULL) == KV_WON);
    test_cond("a=1 in db 0", kv_find(kv, 0, "a", 1, &e) && !e.tombstone && e.vlen == 1);
    test_cond("b deleted in db 2", kv_find(kv, 2, "b", 1, &e) && e.tombstone);
    test_cond("db 5 flushed", kv_db_count(kv, 5) == 0 && !kv_find(kv, 5, "z", 1, &e));
    test_cond("c in db 1 with its expiry", kv_find(kv, 1, "c", 1, &e) && e.expire_ms == 42);
    kv_free(kv);

    /* Two writes of one key in a unit: the later one wins (ts + 1). */
    bl = 4;
    bl += wal_subop_encode(body + bl, WAL_OP_PUT, 0, 0, "k", 1, "zz", 2);
    bl += wal_subop_encode(body + bl, WAL_OP_PUT, 0, 0, "k", 1, "aa", 2);
    wal_put_u32(body, 2);
    m.val = body;
    m.vlen = (uint32_t)bl;
    n = wal_record_encode(&m, buf);
    kv = kv_new();
    test_cond("a unit writing one key twice decodes", wal_record_decode(buf, n, &d, &used) == WAL_DEC_OK);
    wal_apply_record(kv, &d, NULL, NULL);
    test_cond("the later write wins, though its value sorts lower",
              kv_find(kv, 0, "k", 1, &e) && e.vlen == 2 && memcmp(e.val, "aa", 2) == 0);
    kv_free(kv);

    /* Bad bodies: each refused as BAD_OP, after a valid CRC. */
    static const struct {
        const char *what;
        int count_delta, op, flags, db_all;
    } bad[] = {
        {"a count larger than the operations", 1, WAL_OP_PUT, 0, 0},
        {"a count of zero", -99, WAL_OP_PUT, 0, 0},
        {"a nested NOOP", 0, WAL_OP_NOOP, 0, 0},
        {"a nested MULTI", 0, WAL_OP_MULTI, 0, 0},
        {"an expiry on a DEL", 0, WAL_OP_DEL, WAL_F_EXPIRE, 0},
        {"FLUSHALL with a database", 0, WAL_OP_FLUSHALL, 0, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bl = 4;
        size_t at = bl;
        bl += wal_subop_encode(body + bl, WAL_OP_PUT, bad[i].db_all ? 1 : 0, 0, "", 0, "", 0);
        body[at] = (uint8_t)bad[i].op;
        if (bad[i].flags) { /* the operation is empty: its 8 expiry bytes follow the header */
            body[at + 1] = (uint8_t)bad[i].flags;
            memset(body + at + WAL_SUB_HDR_SIZE, 1, 8);
            bl += 8;
        }
        wal_put_u32(body, bad[i].count_delta == -99 ? 0 : (uint32_t)(1 + bad[i].count_delta));
        /* The encoder asserts a valid body: encode a PUT holding it, then
         * turn it into a MULTI. */
        n = wal_record_encode(&(wal_rec){.lsn = 1, .epoch = 1, .op = WAL_OP_PUT,
                                         .val = body, .vlen = (uint32_t)bl},
                              buf);
        buf[36] = WAL_OP_MULTI;
        fix_crc(buf);
        test_cond(bad[i].what, wal_record_decode(buf, n, &d, &used) == WAL_DEC_BAD_OP);
    }
    /* A torn MULTI is just a short record. */
    bl = 4 + wal_subop_encode(body + 4, WAL_OP_PUT, 0, 0, "a", 1, "b", 1);
    wal_put_u32(body, 1);
    m.val = body;
    m.vlen = (uint32_t)bl;
    n = wal_record_encode(&m, buf);
    test_cond("a torn MULTI is incomplete, never partly decoded",
              wal_record_decode(buf, n - 1, &d, &used) == WAL_DEC_NEED_MORE);
}

int main(void)
{
    test_roundtrip();
    test_units();
    test_need_more();
    test_bit_flips();
    test_bad_length();
    test_bad_op_field();
    test_strings();
    return test_report();
}
