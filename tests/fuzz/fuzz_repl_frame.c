/* fuzz_repl_frame.c -- fuzzes the replication frame codec
 * (src/repl/repl_proto.c).
 *
 * The input is the byte stream of one replication link, cut into frames by
 * repl_frame_parse as repl_recv.c and repl_ship.c do, and each frame goes
 * through the decoder its type calls for. The stream is read twice: as
 * given, and in a copy where each frame's CRC field (and each record's CRC
 * inside a RECORDS frame) is recomputed before parsing, so mutations reach
 * the decoders behind the checksum. Properties:
 *   - parse OK: the frame lies inside the input and has the declared length;
 *     NEED_MORE: the frame really is incomplete; BAD: a message says why,
 *     and a frame with a fixed CRC is never rejected for its CRC;
 *   - a control payload that decodes re-encodes to exactly the frame's bytes;
 *   - a REFUSE reason comes out printable, NUL-terminated and bounded;
 *   - each record of a RECORDS frame that decodes re-encodes exactly. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"
#include "wal/crc32.h"

/* Re-encodes a decoded control frame and compares it with the original. */
static void check_same(const uint8_t *frame, size_t used, const uint8_t *out, size_t len)
{
    fuzz_check(len == used);
    fuzz_check(memcmp(out, frame, used) == 0);
}

static void check_refuse(const repl_frame *f, const uint8_t *frame, size_t used)
{
    char reason[REPL_REASON_MAX + 1];
    repl_decode_refuse(f, reason, sizeof reason);
    size_t want = f->len < REPL_REASON_MAX ? f->len : REPL_REASON_MAX;
    fuzz_check(strlen(reason) == want);
    int verbatim = f->len <= REPL_REASON_MAX;
    for (size_t i = 0; i < want; i++) {
        fuzz_check(reason[i] >= 32 && reason[i] < 127);
        verbatim &= reason[i] == (char)f->payload[i];
    }
    char tiny[1];
    repl_decode_refuse(f, tiny, sizeof tiny);
    fuzz_check(tiny[0] == '\0');
    if (verbatim) {
        uint8_t out[REPL_CTRL_MAX];
        size_t len = repl_encode_refuse(out, reason);
        check_same(frame, used, out, len);
    }
}

/* The records of a RECORDS payload, as follower_on_records reads them. */
static void check_records(uint8_t *p, size_t len, int fix_crc)
{
    size_t off = 0;
    while (off < len) {
        size_t avail = len - off;
        if (fix_crc && avail >= WAL_HDR_SIZE) {
            uint32_t rlen = wal_get_u32(p + off);
            if (rlen >= WAL_HDR_SIZE && rlen <= avail)
                wal_put_u32(p + off + 4, crc32c(0, p + off + 8, rlen - 8));
        }
        wal_rec r;
        size_t used;
        if (wal_record_decode(p + off, avail, &r, &used) != WAL_DEC_OK) return;
        fuzz_check(used >= WAL_HDR_SIZE && used <= avail);
        uint8_t *out = malloc(used);
        fuzz_check(out != NULL);
        fuzz_check(wal_record_encode(&r, out) == used);
        fuzz_check(memcmp(out, p + off, used) == 0);
        free(out);
        off += used;
    }
}

static void check_frame(uint8_t *frame, size_t used, const repl_frame *f, int fix_crc)
{
    uint8_t out[REPL_FRAME_HDR + REPL_MEMBERS_FRAME_MAX];
    fuzz_check(f->type >= REPL_HELLO && f->type <= REPL_TYPE_MAX);
    switch (f->type) {
    case REPL_HELLO: {
        repl_hello h;
        if (repl_decode_hello(f, &h) != 0) return;
        fuzz_check(strlen(h.cluster_id) <= REPL_CLUSTER_ID_MAX);
        size_t len = repl_encode_hello(out, &h);
        check_same(frame, used, out, len);
        return;
    }
    case REPL_HELLO_OK: {
        repl_hello_ok h;
        if (repl_decode_hello_ok(f, &h) != 0) return;
        size_t len = repl_encode_hello_ok(out, &h);
        check_same(frame, used, out, len);
        return;
    }
    case REPL_VOTE: {
        repl_vote v;
        if (repl_decode_vote(f, &v) != 0) return;
        size_t len = repl_encode_vote(out, &v);
        check_same(frame, used, out, len);
        return;
    }
    case REPL_VOTE_RESP: {
        repl_vote_resp v;
        if (repl_decode_vote_resp(f, &v) != 0) return;
        size_t len = repl_encode_vote_resp(out, &v);
        check_same(frame, used, out, len);
        return;
    }
    case REPL_AUTH:
    case REPL_AUTH_CHALLENGE:
    case REPL_AUTH_PROOF: { /* the cluster-secret handshake: decode, re-encode, same bytes */
        repl_auth_msg m;
        size_t len;
        if (f->type == REPL_AUTH) {
            if (repl_decode_auth(f, &m) != 0) return;
            fuzz_check(strlen(m.cluster_id) <= 64);
            len = repl_encode_auth(out, &m);
        } else if (f->type == REPL_AUTH_CHALLENGE) {
            if (repl_decode_challenge(f, &m) != 0) return;
            len = repl_encode_challenge(out, &m);
        } else {
            if (repl_decode_proof(f, &m) != 0) return;
            len = repl_encode_proof(out, &m);
        }
        check_same(frame, used, out, len);
        return;
    }
    case REPL_MEMBERS: {
        repl_member m[REPL_MEMBERS_MAX];
        int k = repl_decode_members(f, m);
        if (k < 0) return;
        fuzz_check(k <= (int)REPL_MEMBERS_MAX);
        size_t len = repl_encode_members(out, m, k);
        check_same(frame, used, out, len);
        return;
    }
    case REPL_HEARTBEAT:
    case REPL_ACK:
    case REPL_SNAP_BEGIN:
    case REPL_SNAP_END:
    case REPL_SNAP_ACK:
    case REPL_COMMIT:
    case REPL_FETCH:
    case REPL_TRUNCATE:
    case REPL_STALE:
    case REPL_TIMEOUT_NOW: {
        repl_beat b;
        if (repl_decode_beat(f, &b) != 0) return;
        size_t len = repl_encode_beat(out, f->type, &b);
        check_same(frame, used, out, len);
        return;
    }
    case REPL_REFUSE:
        check_refuse(f, frame, used);
        return;
    case REPL_RECORDS:
        check_records(frame + REPL_FRAME_HDR, f->len, fix_crc);
        return;
    case REPL_SNAP_CHUNK: /* checkpoint file bytes: fuzz_checkpoint's job */
        return;
    }
}

/* Recomputes the CRC field of the frame at BUF if it is whole. */
static void fix_frame_crc(uint8_t *buf, size_t avail)
{
    if (avail < REPL_FRAME_HDR) return;
    uint32_t len = wal_get_u32(buf);
    if (len > avail - REPL_FRAME_HDR) return;
    if (buf[4] == REPL_RECORDS)
        wal_put_u32(buf + 8, 0);
    else
        wal_put_u32(buf + 8, crc32c(crc32c(0, buf + 4, 4), buf + REPL_FRAME_HDR, len));
}

static void parse_stream(uint8_t *buf, size_t len, int fix_crc)
{
    size_t pos = 0;
    while (pos < len) {
        size_t avail = len - pos;
        if (fix_crc) fix_frame_crc(buf + pos, avail);
        repl_frame f;
        size_t used = 0;
        char err[160] = "";
        repl_status st = repl_frame_parse(buf + pos, avail, &f, &used, err, sizeof err);
        if (st == REPL_NEED_MORE) {
            fuzz_check(avail < REPL_FRAME_HDR || avail - REPL_FRAME_HDR < wal_get_u32(buf + pos));
            return;
        }
        if (st == REPL_BAD) {
            fuzz_check(err[0] != '\0');
            if (fix_crc) fuzz_check(strstr(err, "CRC") == NULL && strstr(err, "crc") == NULL);
            return;
        }
        fuzz_check(st == REPL_OK);
        fuzz_check(used == REPL_FRAME_HDR + (size_t)f.len && used <= avail);
        fuzz_check(f.payload == buf + pos + REPL_FRAME_HDR && f.type == buf[pos + 4]);
        check_frame(buf + pos, used, &f, fix_crc);
        pos += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    fuzz_check(copy != NULL);
    if (size) memcpy(copy, data, size);
    parse_stream(copy, size, 0);
    parse_stream(copy, size, 1);
    free(copy);
    return 0;
}
