/* gen_corpus.c -- writes the seed corpora of the fuzz targets with the real
 * encoders, so the seeds stay valid when a format changes:
 *
 *   make fuzz-corpus      (runs: gen_corpus tests/fuzz/corpus)
 *
 * Every file it writes is named seed-*; files named crash-* (minimised
 * inputs that once broke a target) are left alone. Seeds are small: valid
 * inputs of each kind, streams of several, and a few edge cases (cut short,
 * one bit flipped, limits exceeded) that start the fuzzer next to the
 * checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv/kv_store.h"
#include "net/resp.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"
#include "wal/crc32.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_record.h"
#include "wal/wal_segment.h"

static const char *out_root;
static int written;

static void die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put_file(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path);
    snprintf(path, sizeof path, "%s/%s/seed-%s", out_root, target, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(p, 1, n, fp) != n) || fclose(fp) != 0) die(path);
    written++;
}

static void put_str(const char *target, const char *name, const char *s)
{
    put_file(target, name, s, strlen(s));
}

/* ---- resp ---- */

static void cmd(resp_buf *b, int argc, const char *const *argv)
{
    if (resp_encode_command(b, argc, argv, NULL) != 0) die("resp_encode_command");
}

static void gen_resp(void)
{
    resp_buf b = {0};
    const char *set[] = {"SET", "key", "value"};
    cmd(&b, 3, set);
    put_file("resp", "set", b.p, b.len);
    const char *get[] = {"GET", "key"};
    cmd(&b, 2, get);
    const char *del[] = {"DEL", "key"};
    cmd(&b, 2, del);
    const char *ping[] = {"PING"};
    cmd(&b, 1, ping);
    put_file("resp", "pipeline", b.p, b.len);
    put_file("resp", "cut-in-bulk", b.p, b.len - 3);
    b.len = 0;

    /* More arguments than the initial argv: RESP_TOO_MANY, then growth. */
    const char *many[40];
    for (int i = 0; i < 40; i++) many[i] = i % 2 ? "v" : "k";
    many[0] = "MSET";
    cmd(&b, 39, many);
    put_file("resp", "many-args", b.p, b.len);
    b.len = 0;

    /* Binary-safe: CRLF, NUL and '$' inside a bulk. */
    const char bin[] = "a\r\nb\0c$3\r\n";
    const char *setb[] = {"SET", "bin", bin};
    size_t lens[] = {3, 3, sizeof bin - 1};
    if (resp_encode_command(&b, 3, setb, lens) != 0) die("resp_encode_command");
    const char *empty[] = {"SET", "", ""};
    cmd(&b, 3, empty);
    put_file("resp", "binary", b.p, b.len);
    resp_buf_free(&b);

    put_str("resp", "inline", "PING\r\nSET k v\r\nGET  k\n\r\n\tINFO\treplication \r\n");
    put_str("resp", "inline-many", "MSET a 1 b 2 c 3 d 4 e 5 f 6 g 7 h 8 i 9 j 10\r\n");
    put_str("resp", "empty-arrays", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
    put_str("resp", "bad-bulk-len", "*2\r\n$3\r\nGET\r\n$-5\r\nk\r\n");
    put_str("resp", "bad-dollar", "*2\r\n$3\r\nGET\r\n:1\r\n");
    put_str("resp", "bulk-no-crlf", "*1\r\n$4\r\nPINGxx");
    put_str("resp", "too-many-args", "*1048577\r\n");
    put_str("resp", "huge-bulk", "*1\r\n$99999999999\r\n");

    /* Replies, as the server writes them. */
    put_str("resp", "reply-simple", "+OK\r\n-ERR unknown command 'FOO'\r\n:42\r\n:-1\r\n$-1\r\n");
    put_str("resp", "reply-bulk", "$5\r\nhello\r\n$0\r\n\r\n$12\r\nrole:leader\n\r\n");
    put_str("resp", "reply-int-limits", ":9223372036854775807\r\n:-9223372036854775808\r\n");
    put_str("resp", "reply-array",
            "*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n*0\r\n*-1\r\n");
    put_str("resp", "reply-deep", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    put_str("resp", "reply-too-deep",
            "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    put_str("resp", "reply-bad-type", "?what\r\n");
    put_str("resp", "reply-bare-cr", "+O\rK\r\n");
}

/* ---- wal_record ---- */

static size_t rec(uint8_t *out, uint64_t lsn, uint8_t op, const char *key, const char *val)
{
    wal_rec r = {.lsn = lsn,
                 .epoch = 1,
                 .ts = 1700000000000000ull + lsn,
                 .node_id = 1,
                 .op = op,
                 .klen = (uint32_t)strlen(key),
                 .vlen = val ? (uint32_t)strlen(val) : 0,
                 .key = (const uint8_t *)key,
                 .val = (const uint8_t *)val};
    return wal_record_encode(&r, out);
}

static void gen_wal_record(void)
{
    uint8_t buf[8192];
    size_t n = rec(buf, 1, WAL_OP_PUT, "key", "value");
    put_file("wal_record", "put", buf, n);
    put_file("wal_record", "put-cut", buf, n - 1);
    put_file("wal_record", "header-only", buf, WAL_HDR_SIZE);
    buf[50] ^= 0x10;
    put_file("wal_record", "put-bitflip", buf, n);

    n = rec(buf, 2, WAL_OP_DEL, "key", NULL);
    put_file("wal_record", "del", buf, n);
    n = rec(buf, 3, WAL_OP_PUT, "", "");
    put_file("wal_record", "put-empty", buf, n);

    size_t len = 0;
    len += rec(buf + len, 1, WAL_OP_PUT, "a", "1");
    len += rec(buf + len, 2, WAL_OP_PUT, "b", "22");
    len += rec(buf + len, 3, WAL_OP_DEL, "a", NULL);
    len += rec(buf + len, 4, WAL_OP_PUT, "c", "");
    put_file("wal_record", "stream", buf, len);

    char big[1025];
    memset(big, 'v', 1024);
    big[1024] = 0;
    n = rec(buf, 7, WAL_OP_PUT, "big", big);
    put_file("wal_record", "put-1k", buf, n);

    /* Databases, expiries and a MULTI unit. */
    wal_rec x = {.lsn = 8, .epoch = 2, .ts = 1700000000000000ull, .node_id = 2,
                 .op = WAL_OP_PUT, .flags = WAL_F_EXPIRE, .db = 5, .expire_ms = 1700000000123ll,
                 .key = (const uint8_t *)"k", .klen = 1, .val = (const uint8_t *)"v", .vlen = 1};
    n = wal_record_encode(&x, buf);
    put_file("wal_record", "put-expire-db", buf, n);
    uint8_t body[512];
    size_t bl = 4;
    bl += wal_subop_encode(body + bl, WAL_OP_FLUSHDB, 3, 0, NULL, 0, NULL, 0);
    bl += wal_subop_encode(body + bl, WAL_OP_PUT, 0, 0, "a", 1, "1", 1);
    bl += wal_subop_encode(body + bl, WAL_OP_PUT, 1, 99, "b", 1, "22", 2);
    bl += wal_subop_encode(body + bl, WAL_OP_DEL, 0, 0, "c", 1, NULL, 0);
    wal_put_u32(body, 4);
    x = (wal_rec){.lsn = 9, .epoch = 2, .ts = 1700000000000100ull, .node_id = 2,
                  .op = WAL_OP_MULTI, .val = body, .vlen = (uint32_t)bl};
    n = wal_record_encode(&x, buf);
    put_file("wal_record", "multi", buf, n);

    /* Lengths that lie: len beyond the maximum, len != 48 + klen + vlen. */
    n = rec(buf, 1, WAL_OP_PUT, "k", "v");
    wal_put_u32(buf, 0xffffffffu);
    put_file("wal_record", "len-huge", buf, n);
    n = rec(buf, 1, WAL_OP_PUT, "k", "v");
    wal_put_u32(buf + 40, 2);
    put_file("wal_record", "klen-lies", buf, n);
}

/* ---- wal_segment ---- */

/* Appends a batch of records FIRST..FIRST+N-1 with SALT at OUT. */
static size_t seg_batch(uint8_t *out, uint64_t salt, uint64_t first, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += rec(out + WAL_BATCH_HDR_SIZE + len, first + (uint64_t)i, WAL_OP_PUT, "key", "val");
    wal_batch_hdr h = {.salt = salt,
                       .first_lsn = first,
                       .last_lsn = first + (uint64_t)n - 1,
                       .count = (uint32_t)n,
                       .payload_len = (uint32_t)len,
                       .payload_crc = crc32c(0, out + WAL_BATCH_HDR_SIZE, len)};
    wal_batch_hdr_encode(&h, out);
    return WAL_BATCH_HDR_SIZE + len;
}

static void gen_wal_segment(void)
{
    uint8_t buf[8192];
    uint64_t salt = 0x5eed5a17c0ffee01ull;
    wal_seg_hdr sh = {.first_lsn = 1, .salt = salt};
    wal_seg_hdr_encode(&sh, buf);
    put_file("wal_segment", "header-only", buf, WAL_SEG_HDR_SIZE);
    size_t len = WAL_SEG_HDR_SIZE;
    len += seg_batch(buf + len, salt, 1, 3);
    size_t second = len;
    len += seg_batch(buf + len, salt, 4, 1);
    len += seg_batch(buf + len, salt, 5, 4);
    put_file("wal_segment", "three-batches", buf, len);
    memset(buf + len, 0, 256);
    put_file("wal_segment", "zero-tail", buf, len + 256);
    put_file("wal_segment", "cut", buf, len - 7);
    buf[second + 60] ^= 0x08;
    put_file("wal_segment", "bitflip", buf, len);
    buf[second + 60] ^= 0x08;
    wal_put_u64(buf + second + 8, salt ^ 1); /* another salt (header CRC now wrong) */
    put_file("wal_segment", "other-salt", buf, len);
    /* Format 1: records only. */
    len = 0;
    len += rec(buf + len, 1, WAL_OP_PUT, "a", "1");
    len += rec(buf + len, 2, WAL_OP_DEL, "a", NULL);
    put_file("wal_segment", "format1", buf, len);
}

/* ---- repl_frame ---- */

static size_t records_frame(uint8_t *out, uint64_t first, int count)
{
    size_t len = 0;
    for (int i = 0; i < count; i++)
        len += rec(out + REPL_FRAME_HDR + len, first + (uint64_t)i, WAL_OP_PUT, "key", "val");
    repl_frame_header(out, REPL_RECORDS, out + REPL_FRAME_HDR, (uint32_t)len);
    return REPL_FRAME_HDR + len;
}

static void gen_repl_frame(void)
{
    uint8_t buf[8192];
    repl_hello h = {.cluster_id = "rkv", .node_id = 1, .epoch = 3, .last_lsn = 10, .commit_lsn = 9};
    size_t n = repl_encode_hello(buf, &h);
    put_file("repl_frame", "hello", buf, n);
    put_file("repl_frame", "hello-cut", buf, n - 1);

    repl_hello_ok ok = {.node_id = 2, .last_lsn = 7, .last_epoch = 3, .applied_lsn = 7};
    n = repl_encode_hello_ok(buf, &ok);
    put_file("repl_frame", "hello-ok", buf, n);

    repl_beat beat = {10, 9, 123456789};
    n = repl_encode_beat(buf, REPL_HEARTBEAT, &beat);
    put_file("repl_frame", "heartbeat", buf, n);
    buf[REPL_FRAME_HDR] ^= 1;
    put_file("repl_frame", "heartbeat-bad-crc", buf, n);
    n = repl_encode_beat(buf, REPL_ACK, &beat);
    put_file("repl_frame", "ack", buf, n);

    n = repl_encode_refuse(buf, "cluster id mismatch: expected 'rkv'");
    put_file("repl_frame", "refuse", buf, n);

    /* Elections (docs/PROTOCOL.md section 3). */
    repl_vote v = {.cluster_id = "rkv", .term = 4, .candidate = 2, .last_epoch = 3,
                   .last_lsn = 10, .flags = REPL_VOTE_PRE, .members_crc = 0x1234abcd};
    n = repl_encode_vote(buf, &v);
    put_file("repl_frame", "vote", buf, n);
    repl_vote_resp vr = {.term = 4, .voter = 3, .flags = REPL_VOTE_GRANTED | REPL_VOTE_PRE};
    n = repl_encode_vote_resp(buf, &vr);
    put_file("repl_frame", "vote-resp", buf, n);
    repl_member mem[2] = {{.id = 2, .online = 1, .acked = 9, .port = 7380, .host = "127.0.0.1"},
                          {.id = 3, .online = 0, .acked = 4, .port = 7381, .host = "10.0.0.3"}};
    n = repl_encode_members(buf, mem, 2);
    put_file("repl_frame", "members", buf, n);
    repl_beat st = {5, 2, 0};
    n = repl_encode_beat(buf, REPL_STALE, &st);
    put_file("repl_frame", "stale", buf, n);

    /* The cluster-secret handshake (repl_auth.h). */
    repl_auth_msg am = {.version = REPL_AUTH_VERSION, .purpose = REPL_AUTH_PURPOSE_LINK, .id = 1,
                        .cluster_id = "rkv"};
    for (size_t i = 0; i < sizeof am.nonce; i++) am.nonce[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof am.mac; i++) am.mac[i] = (uint8_t)(i * 13 + 5);
    n = repl_encode_auth(buf, &am);
    put_file("repl_frame", "auth", buf, n);
    n = repl_encode_challenge(buf, &am);
    put_file("repl_frame", "auth-challenge", buf, n);
    n = repl_encode_proof(buf, &am);
    put_file("repl_frame", "auth-proof", buf, n);

    n = records_frame(buf, 1, 3);
    put_file("repl_frame", "records", buf, n);

    /* A whole session: HELLO, RECORDS, HEARTBEAT, then a snapshot. */
    size_t len = repl_encode_hello(buf, &h);
    len += records_frame(buf + len, 8, 2);
    len += repl_encode_beat(buf + len, REPL_HEARTBEAT, &beat);
    repl_beat sb = {10, 3, 64};
    len += repl_encode_beat(buf + len, REPL_SNAP_BEGIN, &sb);
    memset(buf + len + REPL_FRAME_HDR, 0xab, 64);
    repl_frame_header(buf + len, REPL_SNAP_CHUNK, buf + len + REPL_FRAME_HDR, 64);
    len += REPL_FRAME_HDR + 64;
    len += repl_encode_beat(buf + len, REPL_SNAP_END, &sb);
    put_file("repl_frame", "session", buf, len);

    n = repl_encode_beat(buf, REPL_HEARTBEAT, &beat);
    buf[5] = 1;
    put_file("repl_frame", "bad-pad", buf, n);
    n = repl_encode_beat(buf, REPL_HEARTBEAT, &beat);
    buf[4] = 10;
    put_file("repl_frame", "bad-type", buf, n);
    n = repl_encode_beat(buf, REPL_HEARTBEAT, &beat);
    wal_put_u32(buf, REPL_CTRL_MAX + 1);
    put_file("repl_frame", "ctrl-too-long", buf, n);
}

/* ---- checkpoint ---- */

static void ckpt_seed(const char *name, kv_store *kv, uint64_t lsn, size_t cut)
{
    char dir[] = "/tmp/rkv-gen-corpus-XXXXXX", path[WAL_PATH_MAX], err[512];
    if (!mkdtemp(dir)) die("mkdtemp");
    if (wal_checkpoint_write(dir, kv, lsn, 2, 1700000000000000ull, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "gen_corpus: %s\n", err);
        exit(1);
    }
    wal_checkpoint_path(path, sizeof path, dir, lsn);
    FILE *fp = fopen(path, "rb");
    if (!fp) die(path);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    unlink(path);
    rmdir(dir);
    put_file("checkpoint", name, buf, cut && cut < n ? n - cut : n);
}

static void gen_checkpoint(void)
{
    kv_store *kv = kv_new();
    if (!kv) die("kv_new");
    ckpt_seed("empty", kv, 1, 0);
    kv_version v = {1700000000000001ull, 1};
    kv_apply_put(kv, "key", 3, "value", 5, v);
    kv_apply_put(kv, "k2", 2, "", 0, v);
    kv_apply_put(kv, "", 0, "empty key", 9, v);
    ckpt_seed("three", kv, 5, 0);
    v.ts++;
    kv_apply_del(kv, "k2", 2, v);
    kv_apply_del(kv, "gone", 4, v);
    ckpt_seed("tombstones", kv, 8, 0);
    ckpt_seed("no-trailer", kv, 8, WAL_CKPT_CHUNK_HDR_SIZE + WAL_CKPT_TRAILER_SIZE);
    ckpt_seed("cut", kv, 8, 30);
    char key[16], val[64];
    memset(val, 'x', sizeof val);
    for (int i = 0; i < 100; i++) {
        int kl = snprintf(key, sizeof key, "key:%03d", i);
        kv_apply_put(kv, key, (uint32_t)kl, val, (uint32_t)(i % 64), v);
    }
    ckpt_seed("hundred", kv, 120, 0);
    kv_put(kv, 4, "in-db-4", 7, "v", 1, 1700000000123ll, v);
    kv_put(kv, 0, "volatile", 8, "w", 1, 1800000000000ll, v);
    kv_del(kv, 9, "dead", 4, v);
    ckpt_seed("db-expire", kv, 130, 0);
    kv_free(kv);
}

/* ---- config ---- */

static void gen_config(void)
{
    put_str("config", "leader.conf",
            "# a leader with two followers\n"
            "node-id 1\nrole leader\nport 7379\nbind 127.0.0.1\ndata-dir ./data/n1\n"
            "followers 127.0.0.1:7101,localhost:7102\nquorum 1\ncluster-id rkv\n");
    put_str("config", "follower.conf",
            "node-id 2\r\nrole follower\r\nrepl-port 7101\r\nlog-level debug\r\n");
    put_str("config", "all-keys.conf",
            "node-id 3\nrole leader\nbind 0.0.0.0\nport 0\ndata-dir /var/lib/rkv\n"
            "log-level warn\nlog-file /tmp/rkv.log\nmax-key-bytes 1024\nmax-value-bytes 0\n"
            "max-args 16\nmax-clients 100\nmax-query-buffer 1048576\n"
            "max-reply-buffer 65536\nmax-pending-bytes 1048576\nwal-segment-bytes 4096\n"
            "checkpoint-every-bytes 0\nwal-retain-bytes 0\ncatchup-max-lag-records 1\n"
            "cluster-id test\nrepl-port 0\nfollowers a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8\n"
            "quorum 8\nheartbeat-ms 1\nfollower-timeout-ms 1\nkeepalive-idle-s 1\n"
            "keepalive-interval-s 1\nkeepalive-count 1\nquorum-timeout-ms 1\nlog-lag yes\n"
            "clock-offset-us -9223372036854775808\nmax-clock-skew-ms 0\n");
    put_str("config", "comments.conf",
            "\n   # indented comment\n\tport\t 7380   # trailing comment\n\n#\n");
    put_str("config", "bad-quorum.conf", "followers 127.0.0.1:7101\nquorum 2\n");
    put_str("config", "follower-with-followers.conf", "role follower\nfollowers h:1\n");
    put_str("config", "no-value.conf", "port\n");
    put_str("config", "nested.conf", "config other.conf\n");
    put_str("config", "too-many-followers.conf", "followers a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9\n");
    put_str("config", "set-port", "port=7379");
    put_str("config", "set-followers", "followers=[::1]:7001,host:65535,x:0");
    put_str("config", "set-role", "role=follower");
    put_str("config", "set-log-level", "log-level=error");
    put_str("config", "set-bool", "log-lag=no");
    put_str("config", "set-range", "max-args=0");
    put_str("config", "set-overflow", "wal-segment-bytes=99999999999999999999");
    put_file("config", "set-nul", "cluster-id\0abc", 14);
    put_str("config", "set-unknown", "no-such-key=1");
}

int main(int argc, char **argv)
{
    out_root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    if (mkdir(out_root, 0755) != 0 && errno != EEXIST) die(out_root);
    gen_resp();
    gen_wal_record();
    gen_wal_segment();
    gen_repl_frame();
    gen_checkpoint();
    gen_config();
    printf("gen_corpus: wrote %d seed files under %s\n", written, out_root);
    return 0;
}
