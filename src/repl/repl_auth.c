/* repl_auth.c -- the cluster-secret handshake's messages and proofs (see
 * repl_auth.h for the protocol and why it is shaped so). */
#include "repl/repl_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl/repl_proto.h"
#include "wal/wal_record.h"

#define AUTH_LEN 38u      /* u8 version, u8 purpose, u32 id, nonce; then u8 len, cluster id */
#define CHALLENGE_LEN 68u /* u32 id, nonce, mac */
#define PROOF_LEN 32u     /* mac */
#define TRANSCRIPT_MAX (32u + 64u + 1u + 8u + 2u * RKV_NONCE_LEN)

static size_t trim(const uint8_t *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' ' ||
                       p[len - 1] == '\t'))
        len--;
    return len;
}

int repl_secret_load(const char *path, repl_secret *s, char *warn, size_t warnlen, char *err,
                     size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (warnlen) warn[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cluster secret file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cluster secret file %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        snprintf(warn, warnlen,
                 "cluster secret file %s is readable by group or others (mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
    size_t len = 0;
    for (;;) {
        if (len == sizeof s->key) {
            snprintf(err, errlen, "cluster secret file %s: longer than %u bytes", path,
                     REPL_SECRET_MAX);
            close(fd);
            rkv_wipe(s, sizeof *s);
            return -1;
        }
        ssize_t r = read(fd, s->key + len, sizeof s->key - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "cluster secret file %s: %s", path, strerror(errno));
            close(fd);
            rkv_wipe(s, sizeof *s);
            return -1;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    close(fd);
    /* Line two, if any, moves to next[]. */
    uint8_t *nl = memchr(s->key, '\n', len);
    if (nl) {
        size_t first = (size_t)(nl - s->key), rest = len - first - 1;
        memcpy(s->next, nl + 1, rest);
        s->next_len = trim(s->next, rest);
        if (memchr(s->next, '\n', s->next_len)) {
            snprintf(err, errlen, "cluster secret file %s: more than two lines", path);
            rkv_wipe(s, sizeof *s);
            return -1;
        }
        rkv_wipe(nl, rest + 1);
        len = first;
    }
    len = trim(s->key, len);
    if (s->next_len && s->next_len < REPL_SECRET_MIN) {
        snprintf(err, errlen, "cluster secret file %s: the second secret has %zu bytes; at least %u are needed",
                 path, s->next_len, REPL_SECRET_MIN);
        rkv_wipe(s, sizeof *s);
        return -1;
    }
    if (len < REPL_SECRET_MIN) {
        snprintf(err, errlen,
                 "cluster secret file %s: %zu bytes; at least %u are needed (e.g. `openssl "
                 "rand -hex 32 > %s`)",
                 path, len, REPL_SECRET_MIN, path);
        rkv_wipe(s, sizeof *s);
        return -1;
    }
    s->len = len;
    return 0;
}

static size_t finish(uint8_t *out, uint8_t type, size_t len)
{
    repl_frame_header(out, type, out + REPL_FRAME_HDR, (uint32_t)len);
    return REPL_FRAME_HDR + len;
}

int repl_auth_start(repl_auth_msg *m, uint8_t purpose, uint32_t id, const char *cluster_id,
                    uint8_t nonce[RKV_NONCE_LEN])
{
    memset(m, 0, sizeof *m);
    m->version = REPL_AUTH_VERSION;
    m->purpose = purpose;
    m->id = id;
    snprintf(m->cluster_id, sizeof m->cluster_id, "%s", cluster_id);
    if (rkv_random(m->nonce, sizeof m->nonce) < 0) return -1;
    memcpy(nonce, m->nonce, RKV_NONCE_LEN);
    return 0;
}

size_t repl_encode_auth(uint8_t *out, const repl_auth_msg *m)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    p[0] = m->version;
    p[1] = m->purpose;
    wal_put_u32(p + 2, m->id);
    memcpy(p + 6, m->nonce, RKV_NONCE_LEN);
    size_t cl = strnlen(m->cluster_id, 64);
    p[AUTH_LEN] = (uint8_t)cl;
    memcpy(p + AUTH_LEN + 1, m->cluster_id, cl);
    return finish(out, REPL_AUTH, AUTH_LEN + 1 + cl);
}

size_t repl_encode_challenge(uint8_t *out, const repl_auth_msg *m)
{
    uint8_t *p = out + REPL_FRAME_HDR;
    wal_put_u32(p, m->id);
    memcpy(p + 4, m->nonce, RKV_NONCE_LEN);
    memcpy(p + 4 + RKV_NONCE_LEN, m->mac, RKV_SHA256_LEN);
    return finish(out, REPL_AUTH_CHALLENGE, CHALLENGE_LEN);
}

size_t repl_encode_proof(uint8_t *out, const repl_auth_msg *m)
{
    memcpy(out + REPL_FRAME_HDR, m->mac, RKV_SHA256_LEN);
    return finish(out, REPL_AUTH_PROOF, PROOF_LEN);
}

int repl_decode_auth(const repl_frame *f, repl_auth_msg *m)
{
    memset(m, 0, sizeof *m);
    if (f->type != REPL_AUTH || f->len < AUTH_LEN + 1) return -1;
    m->version = f->payload[0];
    m->purpose = f->payload[1];
    m->id = wal_get_u32(f->payload + 2);
    memcpy(m->nonce, f->payload + 6, RKV_NONCE_LEN);
    size_t cl = f->payload[AUTH_LEN];
    if (cl > 64 || f->len != AUTH_LEN + 1 + cl) return -1;
    for (size_t i = 0; i < cl; i++) {
        uint8_t ch = f->payload[AUTH_LEN + 1 + i];
        if (ch < 32 || ch > 126) return -1;
        m->cluster_id[i] = (char)ch;
    }
    m->cluster_id[cl] = 0;
    if (m->purpose != REPL_AUTH_PURPOSE_LINK && m->purpose != REPL_AUTH_PURPOSE_VOTE) return -1;
    return 0;
}

int repl_decode_challenge(const repl_frame *f, repl_auth_msg *m)
{
    memset(m, 0, sizeof *m);
    if (f->type != REPL_AUTH_CHALLENGE || f->len != CHALLENGE_LEN) return -1;
    m->id = wal_get_u32(f->payload);
    memcpy(m->nonce, f->payload + 4, RKV_NONCE_LEN);
    memcpy(m->mac, f->payload + 4 + RKV_NONCE_LEN, RKV_SHA256_LEN);
    return 0;
}

int repl_decode_proof(const repl_frame *f, repl_auth_msg *m)
{
    memset(m, 0, sizeof *m);
    if (f->type != REPL_AUTH_PROOF || f->len != PROOF_LEN) return -1;
    memcpy(m->mac, f->payload, RKV_SHA256_LEN);
    return 0;
}

int repl_auth_mac(const repl_secret *k, enum repl_auth_side side, const char *cluster_id,
                  uint8_t purpose, uint32_t id_d, uint32_t id_a, const uint8_t nonce_d[RKV_NONCE_LEN],
                  const uint8_t nonce_a[RKV_NONCE_LEN], uint8_t out[RKV_SHA256_LEN])
{
    uint8_t t[TRANSCRIPT_MAX];
    size_t len = 0;
    static const uint8_t acceptor[] = "rkv-auth-acceptor-v1", dialler[] = "rkv-auth-dialler-v1";
    const uint8_t *label = side == REPL_AUTH_ACCEPTOR ? acceptor : dialler;
    size_t ll = side == REPL_AUTH_ACCEPTOR ? sizeof acceptor - 1 : sizeof dialler - 1;
    size_t cl = strnlen(cluster_id, 64);
    memcpy(t, label, ll); /* bytes of the transcript, not a string */
    len += ll;
    t[len++] = (uint8_t)cl; /* length-prefixed: no two transcripts concatenate alike */
    memcpy(t + len, cluster_id, cl);
    len += cl;
    t[len++] = purpose;
    wal_put_u32(t + len, id_d);
    wal_put_u32(t + len + 4, id_a);
    len += 8;
    memcpy(t + len, nonce_d, RKV_NONCE_LEN);
    len += RKV_NONCE_LEN;
    memcpy(t + len, nonce_a, RKV_NONCE_LEN);
    len += RKV_NONCE_LEN;
    if (k->len == 0) return -1;
    return rkv_hmac_sha256(k->key, k->len, t, len, out);
}

int repl_auth_verify(const repl_secret *k, enum repl_auth_side side, const char *cluster_id,
                     uint8_t purpose, uint32_t id_d, uint32_t id_a,
                     const uint8_t nonce_d[RKV_NONCE_LEN], const uint8_t nonce_a[RKV_NONCE_LEN],
                     const uint8_t mac[RKV_SHA256_LEN])
{
    uint8_t want[RKV_SHA256_LEN];
    if (repl_auth_mac(k, side, cluster_id, purpose, id_d, id_a, nonce_d, nonce_a, want) < 0)
        return 0;
    int ok = rkv_ct_equal(want, mac, RKV_SHA256_LEN);
    if (!ok && k->next_len) { /* rotation: the other accepted secret */
        repl_secret alt;
        memcpy(alt.key, k->next, k->next_len);
        alt.len = k->next_len;
        alt.next_len = 0;
        if (repl_auth_mac(&alt, side, cluster_id, purpose, id_d, id_a, nonce_d, nonce_a, want) == 0)
            ok = rkv_ct_equal(want, mac, RKV_SHA256_LEN);
        rkv_wipe(&alt, sizeof alt);
    }
    rkv_wipe(want, sizeof want);
    return ok;
}
