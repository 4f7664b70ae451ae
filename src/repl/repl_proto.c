/* repl_proto.c -- frame codec of the replication protocol (see .h). Every
 * length is checked before it is trusted; nothing here allocates. */
#include "repl/repl_proto.h"

#include <stdio.h>
#include <string.h>

#include "wal/crc32.h"

static uint32_t frame_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    uint32_t crc = crc32c(0, hdr + 4, 4);
    return crc32c(crc, payload, len);
}

void repl_frame_header(uint8_t *hdr, uint8_t type, const uint8_t *payload, uint32_t len)
{
    wal_put_u32(hdr, len);
    hdr[4] = type;
    hdr[5] = hdr[6] = hdr[7] = 0;
    wal_put_u32(hdr + 8, type == REPL_RECORDS ? 0 : frame_crc(hdr, payload, len));
}

repl_status repl_frame_parse(const uint8_t *buf, size_t avail, repl_frame *f, size_t *consumed,
                             char *err, size_t errlen)
{
    if (avail < REPL_FRAME_HDR) return REPL_NEED_MORE;
    uint32_t len = wal_get_u32(buf);
    uint8_t type = buf[4];
    if (type < REPL_HELLO || type > REPL_TYPE_MAX) {
        snprintf(err, errlen, "unknown frame type %u", type);
        return REPL_BAD;
    }
    if (buf[5] || buf[6] || buf[7]) {
        snprintf(err, errlen, "nonzero padding in frame header");
        return REPL_BAD;
    }
    uint32_t max = type == REPL_RECORDS      ? REPL_FRAME_MAX
                   : type == REPL_SNAP_CHUNK ? REPL_SNAP_CHUNK_MAX
                   : type == REPL_MEMBERS    ? REPL_MEMBERS_FRAME_MAX
                                             : REPL_CTRL_MAX;
    if (len > max) {
        snprintf(err, errlen, "frame length %u out of range (type %u, max %u)", len, type, max);
        return REPL_BAD;
    }
    if (avail - REPL_FRAME_HDR < len) return REPL_NEED_MORE;
    uint32_t crc = wal_get_u32(buf + 8);
    if (type == REPL_RECORDS) {
        if (crc != 0) {
            snprintf(err, errlen, "records frame with nonzero crc field");
            return REPL_BAD;
        }
    } else if (crc != frame_crc(buf, buf + REPL_FRAME_HDR, len)) {
        snprintf(err, errlen, "control frame (type %u) failed its CRC", type);
        return REPL_BAD;
    }
    f->type = type;
    f->payload = buf + REPL_FRAME_HDR;
    f->len = len;
    *consumed = REPL_FRAME_HDR + len;
    return REPL_OK;
}

/* An announced client address: u16 port, u8 length, host bytes. */
static size_t put_addr(uint8_t *p, uint16_t port, const char *host)
{
    size_t hl = strnlen(host, REPL_HOST_MAX);
    p[0] = (uint8_t)(port & 0xff);
    p[1] = (uint8_t)(port >> 8);
    p[2] = (uint8_t)hl;
    memcpy(p + 3, host, hl);
    return 3 + hl;
}

/* Decodes the address at P (AVAIL bytes, all of them its): 0 or -1. */
static int get_addr(const uint8_t *p, size_t avail, uint16_t *port, char *host)
{
    if (avail < 3 || avail != 3u + p[2]) return -1;
    *port = (uint16_t)(p[0] | (p[1] << 8));
    size_t hl = p[2];
    for (size_t i = 0; i < hl; i++)
        if (p[3 + i] <= 32 || p[3 + i] >= 127) return -1; /* a host name is printable */
    memcpy(host, p + 3, hl);
    host[hl] = 0;
    return 0;
}

static size_t finish(uint8_t *out, uint8_t type, size_t len)
{
    repl_frame_header(out, type, out + REPL_FRAME_HDR, (uint32_t)len);
    return REPL_FRAME_HDR + len;
}

size_t repl_encode_hello(uint8_t *out, const repl_hello *h)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    size_t idl = strnlen(h->cluster_id, REPL_CLUSTER_ID_MAX);
    p[0] = (uint8_t)idl;
    memcpy(p + 1, h->cluster_id, idl);
    p += 1 + idl;
    wal_put_u32(p, h->node_id);
    wal_put_u64(p + 4, h->epoch);
    wal_put_u64(p + 12, h->last_lsn);
    wal_put_u64(p + 20, h->commit_lsn);
    wal_put_u32(p + 28, h->members_crc);
    size_t hl = put_addr(p + 32, h->client_port, h->client_host);
    return finish(out, REPL_HELLO, 1 + idl + 32 + hl);
}

int repl_decode_hello(const repl_frame *f, repl_hello *h)
{
    if (f->len < 1) return -1;
    size_t idl = f->payload[0];
    if (idl > REPL_CLUSTER_ID_MAX || f->len < 1 + idl + 32) return -1;
    memcpy(h->cluster_id, f->payload + 1, idl);
    h->cluster_id[idl] = 0;
    if (strlen(h->cluster_id) != idl) return -1; /* embedded NUL */
    const uint8_t *p = f->payload + 1 + idl;
    h->node_id = wal_get_u32(p);
    h->epoch = wal_get_u64(p + 4);
    h->last_lsn = wal_get_u64(p + 12);
    h->commit_lsn = wal_get_u64(p + 20);
    h->members_crc = wal_get_u32(p + 28);
    return get_addr(p + 32, f->len - (1 + idl + 32), &h->client_port, h->client_host);
}

size_t repl_encode_hello_ok(uint8_t *out, const repl_hello_ok *h)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    wal_put_u32(p, h->node_id);
    wal_put_u64(p + 4, h->last_lsn);
    wal_put_u64(p + 12, h->last_epoch);
    wal_put_u64(p + 20, h->applied_lsn);
    wal_put_u64(p + 28, h->commit_lsn);
    size_t hl = put_addr(p + 36, h->client_port, h->client_host);
    return finish(out, REPL_HELLO_OK, 36 + hl);
}

int repl_decode_hello_ok(const repl_frame *f, repl_hello_ok *h)
{
    if (f->len < 36) return -1;
    h->node_id = wal_get_u32(f->payload);
    h->last_lsn = wal_get_u64(f->payload + 4);
    h->last_epoch = wal_get_u64(f->payload + 12);
    h->applied_lsn = wal_get_u64(f->payload + 20);
    h->commit_lsn = wal_get_u64(f->payload + 28);
    if (h->applied_lsn > h->last_lsn) return -1;
    return get_addr(f->payload + 36, f->len - 36, &h->client_port, h->client_host);
}

size_t repl_encode_beat(uint8_t *out, uint8_t type, const repl_beat *b)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    wal_put_u64(p, b->a);
    wal_put_u64(p + 8, b->b);
    wal_put_u64(p + 16, b->c);
    return finish(out, type, 24);
}

int repl_decode_beat(const repl_frame *f, repl_beat *b)
{
    if (f->len != 24) return -1;
    b->a = wal_get_u64(f->payload);
    b->b = wal_get_u64(f->payload + 8);
    b->c = wal_get_u64(f->payload + 16);
    return 0;
}

size_t repl_encode_refuse(uint8_t *out, const char *reason)
{
    size_t l = strnlen(reason, REPL_REASON_MAX);
    memcpy(out + REPL_FRAME_HDR, reason, l);
    return finish(out, REPL_REFUSE, l);
}

void repl_decode_refuse(const repl_frame *f, char *out, size_t outlen)
{
    size_t l = f->len < outlen - 1 ? f->len : outlen - 1;
    for (size_t i = 0; i < l; i++) {
        uint8_t ch = f->payload[i];
        out[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
    }
    out[l] = 0;
}

size_t repl_encode_vote(uint8_t *out, const repl_vote *v)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    wal_put_u64(p, v->term);
    wal_put_u32(p + 8, v->candidate);
    wal_put_u64(p + 12, v->last_epoch);
    wal_put_u64(p + 20, v->last_lsn);
    p[28] = v->flags;
    wal_put_u32(p + 29, v->members_crc);
    size_t idl = strnlen(v->cluster_id, REPL_CLUSTER_ID_MAX);
    p[33] = (uint8_t)idl;
    memcpy(p + 34, v->cluster_id, idl);
    return finish(out, REPL_VOTE, 34 + idl);
}

int repl_decode_vote(const repl_frame *f, repl_vote *v)
{
    if (f->len < 34) return -1;
    const uint8_t *p = f->payload;
    size_t idl = p[33];
    if (idl > REPL_CLUSTER_ID_MAX || f->len != 34 + idl) return -1;
    v->term = wal_get_u64(p);
    v->candidate = wal_get_u32(p + 8);
    v->last_epoch = wal_get_u64(p + 12);
    v->last_lsn = wal_get_u64(p + 20);
    v->flags = p[28];
    v->members_crc = wal_get_u32(p + 29);
    if (v->flags & ~(REPL_VOTE_PRE | REPL_VOTE_TRANSFER)) return -1;
    if (v->last_epoch > v->term || (v->last_lsn == 0) != (v->last_epoch == 0)) return -1;
    memcpy(v->cluster_id, p + 34, idl);
    v->cluster_id[idl] = 0;
    if (strlen(v->cluster_id) != idl) return -1;
    return 0;
}

size_t repl_encode_vote_resp(uint8_t *out, const repl_vote_resp *v)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    wal_put_u64(p, v->term);
    wal_put_u32(p + 8, v->voter);
    p[12] = v->flags;
    return finish(out, REPL_VOTE_RESP, 13);
}

int repl_decode_vote_resp(const repl_frame *f, repl_vote_resp *v)
{
    if (f->len != 13) return -1;
    v->term = wal_get_u64(f->payload);
    v->voter = wal_get_u32(f->payload + 8);
    v->flags = f->payload[12];
    if (v->flags & ~(REPL_VOTE_PRE | REPL_VOTE_GRANTED)) return -1;
    return 0;
}

size_t repl_encode_members(uint8_t *out, const repl_member *m, int n)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    size_t len = 1;
    if (n > (int)REPL_MEMBERS_MAX) n = (int)REPL_MEMBERS_MAX;
    p[0] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        wal_put_u32(p + len, m[i].id);
        p[len + 4] = m[i].online ? 1 : 0;
        wal_put_u64(p + len + 5, m[i].acked);
        len += 13;
        size_t hl = strnlen(m[i].host, REPL_HOST_MAX);
        p[len] = (uint8_t)(m[i].port & 0xff);
        p[len + 1] = (uint8_t)(m[i].port >> 8);
        p[len + 2] = (uint8_t)hl;
        memcpy(p + len + 3, m[i].host, hl);
        len += 3 + hl;
    }
    return finish(out, REPL_MEMBERS, len);
}

int repl_decode_members(const repl_frame *f, repl_member *m)
{
    if (f->len < 1 || f->payload[0] > REPL_MEMBERS_MAX) return -1;
    int n = f->payload[0];
    size_t off = 1;
    for (int i = 0; i < n; i++) {
        if (f->len - off < 16) return -1;
        const uint8_t *p = f->payload + off;
        m[i].id = wal_get_u32(p);
        if (p[4] > 1) return -1;
        m[i].online = p[4];
        m[i].acked = wal_get_u64(p + 5);
        size_t hl = p[15];
        if (f->len - off - 16 < hl) return -1;
        if (get_addr(p + 13, 3 + hl, &m[i].port, m[i].host) < 0) return -1;
        off += 16 + hl;
    }
    return off == f->len ? n : -1;
}
