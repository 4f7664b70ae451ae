/* fuzz_wal_record.c -- fuzzes the WAL record decoder (src/wal/wal_record.c).
 *
 * The input is a stream of records, decoded one after the other as the
 * recovery scan and the follower do. It is decoded twice: as given, and in
 * a copy where the CRC of each record is recomputed before it is decoded,
 * so that mutated lengths, ops and padding get past the checksum and reach
 * the checks behind it. Properties:
 *   - OK: the record re-encodes to exactly the bytes decoded, and the same
 *     record cut short by one byte is NEED_MORE asking for its whole length;
 *   - NEED_MORE asks for more bytes than are present, at most a maximal
 *     record;
 *   - BAD_CRC / BAD_OP / BAD_FIELD fill the header fields as read (the
 *     caller logs the LSN), and a record whose CRC was fixed is never
 *     BAD_CRC. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wal/crc32.h"
#include "wal/wal_record.h"

static void check_ok(const uint8_t *buf, size_t used, const wal_rec *r)
{
    fuzz_check(used >= WAL_HDR_SIZE && used <= WAL_RECORD_MAX);
    int has_exp = (r->flags & WAL_F_EXPIRE) != 0;
    fuzz_check(used == wal_record_size_x(r->klen, r->vlen, has_exp));
    fuzz_check(r->key == buf + WAL_HDR_SIZE + (has_exp ? 8 : 0) && r->val == r->key + r->klen);
    fuzz_check(!has_exp || r->expire_ms > 0);
    /* A MULTI's operations: each within the value, as many as it counts,
     * each a valid operation, versions ts, ts + 1, ... */
    wal_op_iter it;
    wal_op_view op;
    uint64_t nops = 0;
    wal_op_iter_init(&it, r);
    while (wal_op_next(&it, &op)) {
        fuzz_check(op.op == WAL_OP_PUT || op.op == WAL_OP_DEL || op.op == WAL_OP_FLUSHDB ||
                   op.op == WAL_OP_FLUSHALL);
        fuzz_check(op.ts == r->ts + nops);
        fuzz_check(op.klen <= WAL_KEY_MAX && op.vlen <= WAL_VAL_MAX);
        if (r->op == WAL_OP_MULTI)
            fuzz_check(op.key >= r->val && op.val + op.vlen <= r->val + r->vlen);
        nops++;
    }
    fuzz_check(nops == 0 || wal_rec_last_ts(r) == r->ts + nops - 1);
    fuzz_check(r->op != WAL_OP_NOOP || nops == 0);

    uint8_t *out = malloc(used);
    fuzz_check(out != NULL);
    fuzz_check(wal_record_encode(r, out) == used);
    fuzz_check(memcmp(out, buf, used) == 0);

    /* The same bytes minus the last one, in a buffer of exactly that size. */
    memcpy(out, buf, used - 1);
    wal_rec s;
    size_t need = 0;
    fuzz_check(wal_record_decode(out, used - 1, &s, &need) == WAL_DEC_NEED_MORE);
    fuzz_check(need == used);
    free(out);
}

static void decode_stream(uint8_t *buf, size_t len, int fix_crc)
{
    size_t pos = 0;
    while (pos < len) {
        size_t avail = len - pos;
        if (fix_crc && avail >= WAL_HDR_SIZE) {
            uint32_t rlen = wal_get_u32(buf + pos);
            if (rlen >= WAL_HDR_SIZE && rlen <= avail)
                wal_put_u32(buf + pos + 4, crc32c(0, buf + pos + 8, rlen - 8));
        }
        wal_rec r;
        size_t used = 0;
        wal_dec d = wal_record_decode(buf + pos, avail, &r, &used);
        if (d == WAL_DEC_NEED_MORE) {
            fuzz_check(used > avail && used <= WAL_RECORD_MAX);
            return;
        }
        if (d == WAL_DEC_BAD_CRC || d == WAL_DEC_BAD_OP || d == WAL_DEC_BAD_FIELD) {
            fuzz_check(r.lsn == wal_get_u64(buf + pos + 8));
            fuzz_check(r.epoch == wal_get_u64(buf + pos + 16));
            fuzz_check(r.op == buf[pos + 36]);
        }
        if (fix_crc) fuzz_check(d != WAL_DEC_BAD_CRC);
        if (d != WAL_DEC_OK) {
            fuzz_check(d == WAL_DEC_BAD_LENGTH || d == WAL_DEC_BAD_CRC || d == WAL_DEC_BAD_OP ||
                       d == WAL_DEC_BAD_FIELD);
            fuzz_check(strcmp(wal_dec_str(d), "unknown decode result") != 0);
            return;
        }
        check_ok(buf + pos, used, &r);
        pos += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    fuzz_check(copy != NULL);
    if (size) memcpy(copy, data, size);
    decode_stream(copy, size, 0);
    decode_stream(copy, size, 1);
    free(copy);
    return 0;
}
