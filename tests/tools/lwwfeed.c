/* lwwfeed.c -- plays the leader to one rkv-server follower, for
 * tests/test_harness.sh (the in-process twin is tests/repl_full_test.c; both
 * use tests/common/fakeleader.c).
 *
 *   lwwfeed [-h HOST] -p PORT --seed S --perm K [--frame-bytes B] [-t SECONDS]
 *       ships seed S's set of conflicting records (LSNs 1..N in send order,
 *       epoch 1) in permutation K; exits 0 once the follower has acknowledged
 *       all N as durable.
 *   lwwfeed --expect --seed S
 *       prints "records N", then one "KEY VALUE" line per key with the value
 *       the LWW rule says the key must end with, written as rkv-cli --no-raw
 *       prints a GET reply ("value" in double quotes, or (nil)).
 *   lwwfeed [-h HOST] -p PORT --crc [-t SECONDS]
 *       sends a record with one flipped bit (the follower must drop the
 *       link), then the same record intact on a new link (it must be
 *       acknowledged). The caller checks records_rejected_crc and the key
 *       crc:key == "intact-value".
 *
 * Exit status: 0 done, 1 the follower misbehaved (message on stderr), 2 bad
 * command line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fakeleader.h"
#include "wal/wal_record.h"

#define FEED_TIMEOUT_S_DEFAULT 30

typedef struct feed_opts {
    const char *host;
    int port;
    uint64_t seed;
    int have_seed;
    int perm;
    size_t frame_bytes;
    int timeout_ms;
    int expect, crc;
} feed_opts;

static void usage(FILE *o)
{
    fprintf(o, "usage: lwwfeed [-h HOST] -p PORT --seed S --perm K [--frame-bytes B] [-t SECONDS]\n"
               "       lwwfeed --expect --seed S\n"
               "       lwwfeed [-h HOST] -p PORT --crc [-t SECONDS]\n");
}

static int parse_args(feed_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->timeout_ms = FEED_TIMEOUT_S_DEFAULT * 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--expect") == 0) {
            o->expect = 1;
        } else if (strcmp(a, "--crc") == 0) {
            o->crc = 1;
        } else if (!v) {
            return -1;
        } else if (strcmp(a, "-h") == 0) {
            o->host = v, i++;
        } else if (strcmp(a, "-p") == 0) {
            o->port = atoi(v), i++;
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = strtoull(v, NULL, 10), o->have_seed = 1, i++;
        } else if (strcmp(a, "--perm") == 0) {
            o->perm = atoi(v), i++;
        } else if (strcmp(a, "--frame-bytes") == 0) {
            o->frame_bytes = (size_t)strtoull(v, NULL, 10), i++;
        } else if (strcmp(a, "-t") == 0) {
            o->timeout_ms = atoi(v) * 1000, i++;
        } else {
            return -1;
        }
    }
    if (o->expect) return o->have_seed ? 0 : -1;
    if (o->port <= 0 || o->port > 65535 || o->timeout_ms <= 0) return -1;
    return o->crc || o->have_seed ? 0 : -1;
}

static int do_expect(const feed_opts *o)
{
    lww_op ops[LWW_N];
    lww_generate(o->seed, ops);
    printf("records %d\n", LWW_N);
    for (int k = 0; k < LWW_KEYS; k++) {
        char key[16];
        lww_key_name(k, key, sizeof key);
        const char *v = lww_expected(ops, k);
        if (v)
            printf("%s \"%s\"\n", key, v);
        else
            printf("%s (nil)\n", key);
    }
    return 0;
}

static int do_feed(const feed_opts *o)
{
    lww_op ops[LWW_N];
    int perm[LWW_N];
    fake_leader fl = {.fd = -1};
    uint8_t *buf = malloc(lww_encoded_max());
    int rc = 1;
    if (!buf) {
        fprintf(stderr, "lwwfeed: out of memory\n");
        return 1;
    }
    lww_generate(o->seed, ops);
    lww_permutation(o->seed, o->perm, perm, LWW_N);
    size_t len = lww_encode(ops, perm, buf);
    if (fl_connect(&fl, o->host, o->port, 1, LWW_EPOCH, o->timeout_ms) == 0 &&
        fl_send_records(&fl, buf, len, o->frame_bytes) == 0 &&
        fl_wait_ack(&fl, LWW_N, o->timeout_ms) == 0) {
        printf("fed %d records (seed %" PRIu64 ", permutation %d)\n", LWW_N, o->seed, o->perm);
        rc = 0;
    } else {
        fprintf(stderr, "lwwfeed: %s:%d: %s\n", o->host, o->port, fl.err);
    }
    fl_close(&fl);
    free(buf);
    return rc;
}

static int do_crc(const feed_opts *o)
{
    const char *key = "crc:key", *val = "intact-value";
    wal_rec r = {.lsn = 1, .epoch = 1, .ts = 1700000000000000ull, .node_id = 1,
                 .op = WAL_OP_PUT, .klen = (uint32_t)strlen(key), .vlen = (uint32_t)strlen(val),
                 .key = (const uint8_t *)key, .val = (const uint8_t *)val};
    uint8_t good[128], bad[128];
    size_t len = wal_record_encode(&r, good);
    memcpy(bad, good, len);
    bad[WAL_HDR_SIZE + r.klen + 3] ^= 0x10; /* one bit of the value */
    fake_leader fl = {.fd = -1};
    const char *step = "first HELLO";
    int ok = fl_connect(&fl, o->host, o->port, 1, 1, o->timeout_ms) == 0 &&
             (step = "sending the corrupted record",
              fl_send_records(&fl, bad, len, 0) == 0) &&
             (step = "waiting for the follower to drop the link",
              fl_wait_eof(&fl, o->timeout_ms) == 0);
    fl_close(&fl);
    if (ok) {
        step = "second HELLO";
        ok = fl_connect(&fl, o->host, o->port, 1, 1, o->timeout_ms) == 0;
        if (ok && fl.ok.last_lsn != 0) {
            snprintf(fl.err, sizeof fl.err, "follower holds lsn %" PRIu64 " after rejecting it",
                     fl.ok.last_lsn);
            ok = 0;
        }
        ok = ok && (step = "sending the intact record", fl_send_records(&fl, good, len, 0) == 0) &&
             (step = "waiting for its ACK", fl_wait_ack(&fl, 1, o->timeout_ms) == 0);
        fl_close(&fl);
    }
    if (!ok) {
        fprintf(stderr, "lwwfeed --crc: %s: %s\n", step, fl.err);
        return 1;
    }
    printf("corrupted record rejected, intact record acknowledged\n");
    return 0;
}

int main(int argc, char **argv)
{
    feed_opts o;
    if (parse_args(&o, argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    if (o.expect) return do_expect(&o);
    return o.crc ? do_crc(&o) : do_feed(&o);
}
