/* bounds_proc_test.c -- a follower bounds what a peer can make it hold or
 * believe (issue 10 item 15), against a real rkv-server follower and a fake
 * leader (tests/common/fakeleader.h):
 *  - a connection that has not sent a HELLO cannot park a large frame: a
 *    RECORDS header announcing 18 MiB is refused at once, not buffered
 *    until the handshake timeout;
 *  - a HELLO with epoch 2^64-1 is refused and never persisted (the real
 *    leader, epoch 1, is still accepted afterwards, also after a restart);
 *  - a record stamped 2^64-1 us (or with an epoch above its leader's) is
 *    refused, not appended, and the link dropped with one clear line;
 *  - a SNAP_BEGIN announcing more than the disk can hold (1 TiB) is refused
 *    before a byte is written, with one line saying why;
 *  - the epoch file holding a value beyond the maximum stops the start
 *    with a message instead of wrapping later. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/fakeleader.h"
#include "../testhelp.h"
#include "wal/wal_record.h"

#define WATCHDOG_S 60
#define FAST_CLOSE_MS 500 /* well under the 2 s handshake timeout set below */

typedef struct fsrv {
    pid_t pid;
    int port, repl_port;
    char dir[PROC_PATH_MAX], log[PROC_PATH_MAX];
} fsrv;

static int fsrv_start(fsrv *s)
{
    char bin[PROC_PATH_MAX], p[16], rp[16];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(p, sizeof p, "%d", s->port);
    snprintf(rp, sizeof rp, "%d", s->repl_port);
    const char *argv[] = {bin, "--node-id", "2", "--role", "follower", "--port", p,
                          "--repl-port", rp, "--data-dir", s->dir, "--follower-timeout-ms",
                          "2000", NULL};
    s->pid = proc_spawn(argv, s->log);
    tclient *t = tc_connect("127.0.0.1", s->port, 10000);
    int ok = t != NULL;
    tc_close(t);
    return s->pid > 0 && ok ? 0 : -1;
}

static long long info_ll(fsrv *s, const char *sec, const char *field)
{
    tclient *t = tc_connect("127.0.0.1", s->port, 5000);
    long long v = t ? cl_info_ll(t, sec, field) : -1;
    tc_close(t);
    return v;
}

static size_t encode_one(uint8_t *out, uint64_t lsn, uint64_t epoch, uint64_t ts)
{
    wal_rec r = {.lsn = lsn, .epoch = epoch, .ts = ts, .node_id = 1, .op = WAL_OP_PUT,
                 .klen = 3, .vlen = 1, .key = (const uint8_t *)"key", .val = (const uint8_t *)"v"};
    return wal_record_encode(&r, out);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    char *root = proc_tmpdir("bounds");
    fsrv s;
    memset(&s, 0, sizeof s);
    snprintf(s.dir, sizeof s.dir, "%s/f", root);
    snprintf(s.log, sizeof s.log, "%s/f.log", root);
    s.port = proc_free_port();
    s.repl_port = proc_free_port();
    test_cond("follower starts", fsrv_start(&s) == 0);

    test_section("a RECORDS frame before any HELLO is refused at once");
    tclient *t = tc_connect("127.0.0.1", s.repl_port, 5000);
    uint8_t hdr[REPL_FRAME_HDR + 4096];
    memset(hdr, 'x', sizeof hdr);
    wal_put_u32(hdr, REPL_FRAME_MAX);
    hdr[4] = REPL_RECORDS;
    hdr[5] = hdr[6] = hdr[7] = 0;
    wal_put_u32(hdr + 8, 0);
    long long t0 = proc_now_ms();
    char in[512];
    size_t got = 0;
    int closed = t && tc_send_raw(t, hdr, sizeof hdr) == 0 &&
                 cl_read_until_eof(tc_fd(t), in, sizeof in, &got, 5000);
    long long ms = proc_now_ms() - t0;
    printf("   closed after %lld ms\n", ms);
    test_cond("closed well before the handshake timeout", closed && ms < FAST_CLOSE_MS);
    tc_close(t);

    test_section("a HELLO with epoch 2^64-1 is refused and not persisted");
    fake_leader fl;
    int rc = fl_connect(&fl, "127.0.0.1", s.repl_port, 1, UINT64_MAX, 5000);
    test_cond("refused", rc != 0 && strstr(fl.err, "beyond the largest") != NULL);
    if (rc != 0) printf("   %s\n", fl.err);
    fl_close(&fl);
    test_cond("the follower's epoch did not move", info_ll(&s, "replication", "epoch") == 0);

    test_section("records with an absurd timestamp or epoch are refused");
    rc = fl_connect(&fl, "127.0.0.1", s.repl_port, 1, 1, 5000);
    test_cond("a leader of epoch 1 is accepted", rc == 0);
    uint8_t rec[256];
    size_t len = encode_one(rec, 1, 1, UINT64_MAX);
    test_cond("record stamped 2^64-1 sent", fl_send_records(&fl, rec, len, 0) == 0);
    test_cond("the link is dropped", fl_wait_eof(&fl, 5000) == 0);
    fl_close(&fl);
    test_cond("nothing was appended", info_ll(&s, "replication", "last_lsn") == 0);
    test_cond("one clear line says why", cl_wait_log(s.log, "out of range; dropping the link", 2000));
    rc = fl_connect(&fl, "127.0.0.1", s.repl_port, 1, 1, 5000);
    len = encode_one(rec, 1, 7, 1000);
    test_cond("record with an epoch above its leader's sent",
              rc == 0 && fl_send_records(&fl, rec, len, 0) == 0);
    test_cond("the link is dropped", fl_wait_eof(&fl, 5000) == 0);
    fl_close(&fl);
    test_cond("nothing was appended", info_ll(&s, "replication", "last_lsn") == 0);
    rc = fl_connect(&fl, "127.0.0.1", s.repl_port, 1, 1, 5000);
    len = encode_one(rec, 1, 1, 1000);
    test_cond("a sane record is taken", rc == 0 && fl_send_records(&fl, rec, len, 0) == 0 &&
                                            fl_wait_ack(&fl, 1, 5000) == 0);
    fl_close(&fl);

    test_section("a SNAP_BEGIN of 1 TiB is refused before anything is written");
    rc = fl_connect(&fl, "127.0.0.1", s.repl_port, 1, 1, 5000);
    test_cond("SNAP_BEGIN (1 TiB) sent", rc == 0 && fl_send_beat(&fl, REPL_SNAP_BEGIN, 1000, 1, 1ull << 40) == 0);
    test_cond("the link is dropped", fl_wait_eof(&fl, 5000) == 0);
    fl_close(&fl);
    test_cond("one line says why", cl_wait_log(s.log, "refusing a checkpoint of 1099511627776 bytes", 2000));
    char tmp[PROC_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/snapshot-incoming.tmp", s.dir);
    test_cond("no incoming snapshot file was created", access(tmp, F_OK) != 0);
    test_cond("follower stops cleanly", proc_stop(s.pid, SIGTERM, 10000) == 0);

    test_section("an epoch file beyond the maximum stops the start with a message");
    char path[PROC_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/epoch", s.dir);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fprintf(fp, "%llu\n", (unsigned long long)UINT64_MAX);
        fclose(fp);
    }
    char bin[PROC_PATH_MAX], p[16];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(p, sizeof p, "%d", s.port);
    const char *argv[] = {bin, "--port", p, "--data-dir", s.dir, NULL};
    pid_t pid = proc_spawn(argv, s.log);
    rc = proc_stop(pid, 0, 10000);
    test_cond("the server exits non-zero", rc > 0 && rc < 128);
    test_cond("saying why", cl_wait_log(s.log, "is beyond the largest accepted", 1000));
    if (test_failed_ == 0) proc_rmtree(root);
    else printf("files kept in %s\n", root);
    free(root);
    return test_report();
}
