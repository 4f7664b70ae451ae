/* wal_record_test.c -- the WAL record codec: round trips, and every decode
 * result from every kind of damage (prefixes, flipped bits, bad lengths,
 * ops and fields), including lengths too large to ever wait for. */
#include <stdlib.h>
#include <string.h>

#include "../testhelp.h"
#include "wal/crc32.h"
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
    buf[38] = 1;
    fix_crc(buf);
    test_cond("nonzero pad", wal_record_decode(buf, n, &r, &used) == WAL_DEC_BAD_OP);
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

int main(void)
{
    test_roundtrip();
    test_need_more();
    test_bit_flips();
    test_bad_length();
    test_bad_op_field();
    test_strings();
    return test_report();
}
