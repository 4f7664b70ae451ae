/* ack_gate_proc_test.c -- a follower says nothing about its log to a new
 * leader between its HELLO_OK and the leader's first frame.
 *
 * The leader answers HELLO_OK with a TRUNCATE when the follower's tail is
 * divergent (records of an old epoch the new leader never had), and then
 * re-ships from the cut. An ACK the follower sent after HELLO_OK but before
 * it read the TRUNCATE speaks of the divergent tail; arriving after the
 * leader re-shipped past those LSNs, it would count records the follower
 * does not hold toward a quorum, and an OK could precede the durability it
 * promises. Against a real rkv-server follower and two fake leaders
 * (tests/common/fakeleader.h):
 *  - leader A (epoch 1) ships a few MiB of records and, without waiting for
 *    them to be durable, leader B (epoch 2) says HELLO: the follower's WAL
 *    is still writing A's tail when it answers;
 *  - B sends nothing for a while: no frame at all may come from the
 *    follower (before the fix, the ACK of A's tail arrived here, from the
 *    WAL thread or the loop);
 *  - B sends TRUNCATE to the follower's applied LSN and three records of its
 *    own: the ACKs now report B's records, and the follower holds exactly
 *    them. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/fakeleader.h"
#include "../testhelp.h"
#include "wal/wal_record.h"

#define WATCHDOG_S 60
#define IO_MS 10000
#define TAIL_RECORDS 4000 /* about 4 MiB: the WAL is still busy when B says HELLO */
#define TAIL_VALUE 1000
#define QUIET_MS 400      /* B's silence, during which the follower must be silent too */
#define B_RECORDS 3

static size_t encode(uint8_t *out, uint64_t lsn, uint64_t epoch, uint32_t node_id, size_t vlen)
{
    static uint8_t val[TAIL_VALUE];
    char key[32];
    memset(val, 'v', sizeof val);
    int klen = snprintf(key, sizeof key, "gate:%llu", (unsigned long long)lsn);
    wal_rec r = {.lsn = lsn, .epoch = epoch, .ts = 1700000000000000ull + lsn * 1000 + epoch,
                 .node_id = node_id, .op = WAL_OP_PUT, .klen = (uint32_t)klen,
                 .vlen = (uint32_t)vlen, .key = (const uint8_t *)key, .val = val};
    return wal_record_encode(&r, out);
}

static long long info_ll(int port, const char *sec, const char *field)
{
    tclient *t = tc_connect("127.0.0.1", port, 5000);
    long long v = t ? cl_info_ll(t, sec, field) : -1;
    tc_close(t);
    return v;
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    char *root = proc_tmpdir("ackgate");
    char dir[PROC_PATH_MAX], log[PROC_PATH_MAX], bin[PROC_PATH_MAX], p[16], rp[16];
    snprintf(dir, sizeof dir, "%s/f", root);
    snprintf(log, sizeof log, "%s/f.log", root);
    int port = proc_free_port(), repl_port = proc_free_port();
    snprintf(p, sizeof p, "%d", port);
    snprintf(rp, sizeof rp, "%d", repl_port);
    proc_build_path(bin, sizeof bin, "rkv-server");
    const char *argv[] = {bin, "--node-id", "2", "--role", "follower", "--port", p,
                          "--repl-port", rp, "--data-dir", dir, NULL};
    pid_t pid = proc_spawn(argv, log);
    tclient *t = pid > 0 ? tc_connect("127.0.0.1", port, IO_MS) : NULL;
    test_cond("follower starts", t != NULL);
    tc_close(t);

    test_section("leader A ships a tail; leader B says HELLO while it is being written");
    size_t cap = (size_t)TAIL_RECORDS * (TAIL_VALUE + 128);
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    for (uint64_t lsn = 1; buf && lsn <= TAIL_RECORDS; lsn++)
        len += encode(buf + len, lsn, 1, 1, TAIL_VALUE);
    fake_leader a, b;
    int rc = buf ? fl_connect(&a, "127.0.0.1", repl_port, 1, 1, IO_MS) : -1;
    test_cond("leader A (epoch 1) is accepted", rc == 0);
    a.no_commit = 1; /* A dies before its quorum: its tail is divergent to B */
    test_cond("A's tail is sent", rc == 0 && fl_send_records(&a, buf, len, 256 * 1024) == 0);
    rc = fl_connect(&b, "127.0.0.1", repl_port, 3, 2, IO_MS);
    test_cond("leader B (epoch 2) is accepted", rc == 0);
    printf("   HELLO_OK to B: last_lsn %llu, applied %llu\n", (unsigned long long)b.ok.last_lsn,
           (unsigned long long)b.ok.applied_lsn);
    test_cond("the follower holds A's records (none applied: A never committed)",
              rc == 0 && b.ok.last_lsn > 0 && b.ok.applied_lsn == 0);

    test_section("until B's first frame the follower sends nothing");
    uint8_t type = 0, payload[REPL_CTRL_MAX];
    uint32_t plen = 0;
    int got = rc == 0 && fl_read_frame(&b, &type, payload, &plen, QUIET_MS) == 0;
    if (got) {
        repl_frame f = {type, payload, plen};
        repl_beat beat = {0, 0, 0};
        repl_decode_beat(&f, &beat);
        printf("   the follower sent frame type %u (durable %llu) before B's first frame\n", type,
               (unsigned long long)beat.a);
    }
    test_cond("no ACK of the old tail before B's first frame", rc == 0 && !got && !b.eof);
    b.err[0] = 0; /* the quiet read's timeout */
    long long durable = info_ll(port, "replication", "durable_lsn");
    printf("   follower durable_lsn %lld of last_lsn %llu\n", durable,
           (unsigned long long)b.ok.last_lsn);

    test_section("after B's TRUNCATE and records, the ACKs speak of B's log");
    uint8_t mine[B_RECORDS * 256];
    size_t mlen = 0;
    for (uint64_t lsn = 1; lsn <= B_RECORDS; lsn++) mlen += encode(mine + mlen, lsn, 2, 3, 8);
    test_cond("TRUNCATE to 0 and three records of epoch 2 sent",
              rc == 0 && fl_send_beat(&b, REPL_TRUNCATE, 0, 0, 0) == 0 &&
                  fl_send_records(&b, mine, mlen, 0) == 0);
    test_cond("ACK of B's third record", rc == 0 && fl_wait_ack(&b, B_RECORDS, IO_MS) == 0);
    if (b.err[0]) printf("   %s\n", b.err);
    test_cond("no ACK ever reported more than B shipped", b.acked == B_RECORDS);
    test_cond("the follower holds exactly B's records",
              info_ll(port, "replication", "last_lsn") == B_RECORDS);
    fl_close(&a);
    fl_close(&b);
    free(buf);
    test_cond("follower stops cleanly", proc_stop(pid, SIGTERM, IO_MS) == 0);
    if (test_failed_ == 0) proc_rmtree(root);
    else cl_print_tail(log);
    free(root);
    return test_report();
}
