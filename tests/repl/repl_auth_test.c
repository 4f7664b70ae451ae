/* repl_auth_test.c -- the cluster-secret handshake's proofs (repl_auth.h):
 * a proof verifies only under the same secret, cluster id, purpose, ids and
 * both nonces; a recorded proof replayed against a fresh nonce fails; one
 * side's proof cannot be reflected as the other's; the frames round-trip
 * and malformed ones are refused; secret files are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../testhelp.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"

static repl_secret secret_of(const char *s)
{
    repl_secret k;
    memset(&k, 0, sizeof k);
    k.len = strlen(s);
    memcpy(k.key, s, k.len);
    return k;
}

int main(void)
{
    if (!rkv_crypto_available()) {
        test_skip("built without OpenSSL");
        return test_report();
    }
    repl_secret k = secret_of("0123456789abcdef-the-cluster"), other = secret_of("0123456789abcdef-another-one");
    uint8_t nd[RKV_NONCE_LEN], na[RKV_NONCE_LEN], na2[RKV_NONCE_LEN], mac[RKV_SHA256_LEN];
    test_cond("random nonces", rkv_random(nd, sizeof nd) == 0 && rkv_random(na, sizeof na) == 0 &&
                                   rkv_random(na2, sizeof na2) == 0);
    test_cond("two nonces differ", memcmp(na, na2, sizeof na) != 0);
    test_section("proofs");
    test_cond("dialler proof computed",
              repl_auth_mac(&k, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na, mac) == 0);
    test_cond("verifies with the same transcript",
              repl_auth_verify(&k, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na, mac));
    test_cond("not under another secret",
              !repl_auth_verify(&other, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na, mac));
    test_cond("not for another cluster id",
              !repl_auth_verify(&k, REPL_AUTH_DIALLER, "rkv2", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na, mac));
    test_cond("not for another purpose",
              !repl_auth_verify(&k, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_VOTE, 1, 2, nd, na, mac));
    test_cond("not for other node ids",
              !repl_auth_verify(&k, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, 3, 2, nd, na, mac));
    test_cond("replayed against a fresh acceptor nonce: fails",
              !repl_auth_verify(&k, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na2, mac));
    test_cond("reflected as the acceptor's proof: fails",
              !repl_auth_verify(&k, REPL_AUTH_ACCEPTOR, "rkv", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na, mac));
    uint8_t flipped[RKV_SHA256_LEN];
    memcpy(flipped, mac, sizeof mac);
    flipped[31] ^= 1;
    test_cond("one flipped bit: fails",
              !repl_auth_verify(&k, REPL_AUTH_DIALLER, "rkv", REPL_AUTH_PURPOSE_LINK, 1, 2, nd, na, flipped));
    repl_secret none;
    memset(&none, 0, sizeof none);
    test_cond("no secret: no proof", repl_auth_mac(&none, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac) < 0);

    test_section("frames");
    repl_auth_msg m, d;
    memset(&m, 0, sizeof m);
    m.version = REPL_AUTH_VERSION;
    m.purpose = REPL_AUTH_PURPOSE_VOTE;
    m.id = 7;
    snprintf(m.cluster_id, sizeof m.cluster_id, "prod-eu");
    memcpy(m.nonce, nd, sizeof nd);
    memcpy(m.mac, mac, sizeof mac);
    uint8_t buf[REPL_CTRL_MAX];
    repl_frame f;
    size_t used;
    char err[128];
    size_t len = repl_encode_auth(buf, &m);
    test_cond("AUTH parses", repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK && used == len);
    test_cond("AUTH round-trips", repl_decode_auth(&f, &d) == 0 && d.id == 7 &&
                                      d.purpose == REPL_AUTH_PURPOSE_VOTE && memcmp(d.nonce, nd, sizeof nd) == 0 &&
                                      strcmp(d.cluster_id, "prod-eu") == 0);
    buf[REPL_FRAME_HDR + 1] = 9; /* an unknown purpose (the CRC is rechecked by parse: redo it) */
    repl_frame_header(buf, REPL_AUTH, buf + REPL_FRAME_HDR, (uint32_t)(len - REPL_FRAME_HDR));
    test_cond("unknown purpose refused", repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK &&
                                             repl_decode_auth(&f, &d) < 0);
    len = repl_encode_challenge(buf, &m);
    test_cond("CHALLENGE round-trips", repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK &&
                                           repl_decode_challenge(&f, &d) == 0 && d.id == 7 &&
                                           memcmp(d.mac, mac, sizeof mac) == 0);
    test_cond("a CHALLENGE is not a PROOF", repl_decode_proof(&f, &d) < 0);
    len = repl_encode_proof(buf, &m);
    test_cond("PROOF round-trips", repl_frame_parse(buf, len, &f, &used, err, sizeof err) == REPL_OK &&
                                       repl_decode_proof(&f, &d) == 0 && memcmp(d.mac, mac, sizeof mac) == 0);
    f.len--;
    test_cond("a short PROOF is refused", repl_decode_proof(&f, &d) < 0);

    test_section("secret files");
    char *dir = proc_tmpdir("auth");
    char path[512], warn[256];
    snprintf(path, sizeof path, "%s/s", dir);
    repl_secret s;
    FILE *fp = fopen(path, "w");
    fputs("short\n", fp);
    fclose(fp);
    chmod(path, 0600);
    test_cond("a short secret is refused", repl_secret_load(path, &s, warn, sizeof warn, err, sizeof err) < 0 &&
                                               strstr(err, "at least") != NULL);
    fp = fopen(path, "w");
    fputs("0123456789abcdef0123\n\n", fp);
    fclose(fp);
    test_cond("a good one loads, trailing newlines cut",
              repl_secret_load(path, &s, warn, sizeof warn, err, sizeof err) == 0 && s.len == 20 && !warn[0]);
    chmod(path, 0644);
    test_cond("world-readable: loads with a warning",
              repl_secret_load(path, &s, warn, sizeof warn, err, sizeof err) == 0 && strstr(warn, "chmod 600"));
    fp = fopen(path, "w");
    fputs("new-secret-0123456789\nold-secret-0123456789\n", fp);
    fclose(fp);
    chmod(path, 0600);
    test_cond("two lines: the first proves, the second is also accepted",
              repl_secret_load(path, &s, warn, sizeof warn, err, sizeof err) == 0 && s.len == 21 &&
                  s.next_len == 21 && memcmp(s.key, "new-", 4) == 0);
    repl_secret old = secret_of("old-secret-0123456789"), fresh = secret_of("new-secret-0123456789");
    test_cond("a proof under the old secret is accepted during rotation",
              repl_auth_mac(&old, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac) == 0 &&
                  repl_auth_verify(&s, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac));
    test_cond("and under the new one",
              repl_auth_mac(&fresh, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac) == 0 &&
                  repl_auth_verify(&s, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac));
    test_cond("not under a third",
              repl_auth_mac(&other, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac) == 0 &&
                  !repl_auth_verify(&s, REPL_AUTH_DIALLER, "rkv", 1, 1, 2, nd, na, mac));
    fp = fopen(path, "w");
    fputs("new-secret-0123456789\nshort\n", fp);
    fclose(fp);
    test_cond("a short second secret is refused", repl_secret_load(path, &s, warn, sizeof warn, err, sizeof err) < 0);
    snprintf(path, sizeof path, "%s/missing", dir);
    test_cond("a missing file is an error", repl_secret_load(path, &s, warn, sizeof warn, err, sizeof err) < 0);
    proc_rmtree(dir);
    free(dir);
    return test_report();
}
