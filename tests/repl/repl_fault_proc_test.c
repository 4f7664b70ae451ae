/* repl_fault_proc_test.c -- replication under faults, with real rkv-server
 * processes and build/tools/faultproxy between the leader and follower 2:
 * a bit flipped in a shipped record (R3), SIGSTOP (heartbeat detector), a
 * blackholed link, and kill -9 of a follower under write load (R6). Every
 * test that breaks something ends by comparing the datasets. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../testhelp.h"
#include "repl/repl_auth.h"
#include "repl/repl_proto.h"

#define WATCHDOG_S 85
#define FOLLOWER_TIMEOUT_MS 1000
#define DETECT_MARGIN_MS 500  /* cron granularity, INFO polling, loaded machines */
#define REJOIN_MS 10000       /* redial backoff (max 2 s) + a timed-out handshake */
#define CATCHUP_MS 30000
#define KILL_BATCH 20000      /* writes in flight when the follower is killed */
#define AFTER_KILL 5000       /* writes while it is down */
#define CRC_WRITES 200

static int is_status(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_STATUS && strcmp(r->str, s) == 0;
}

/* Status field "name=value" of a proxy status line, or -1. */
static long long proxy_field(cluster *c, int i, const char *name)
{
    char reply[512], pat[64];
    if (cl_proxy(c, i, "status", reply, sizeof reply) < 0) return -1;
    snprintf(pat, sizeof pat, " %s=", name);
    const char *p = strstr(reply, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* Every key whose OUTCOME is 'O' reads back "v<j>" on every running node. */
static int acked_present_everywhere(cluster *c, const char *prefix, long from, long count,
                                    const char *outcome)
{
    int ok = 1;
    for (int i = 0; i < CL_NODES && ok; i++) {
        tclient *t = cl_connect(c, i);
        ok = t != NULL;
        for (long j = 0; j < count && ok; j++) {
            if (outcome[j] != 'O') continue;
            char key[64], want[32];
            snprintf(key, sizeof key, "%s%ld", prefix, from + j);
            snprintf(want, sizeof want, "v%ld", from + j);
            resp_value *r = tc_cmd(t, "GET", key);
            ok = r && r->type == RESP_T_BULK && strcmp(r->str, want) == 0;
            if (!ok) printf("acknowledged key %s missing or wrong on node %d\n", key, i);
            resp_value_free(r);
        }
        tc_close(t);
    }
    return ok;
}

static void test_flipped_record(void)
{
    test_section("a bit flipped in a shipped record is rejected, re-sent, and converges");
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum = 2; /* every OK then needs follower 2, the one behind the proxy */
    o.follower_timeout_ms = 2000;
    o.quorum_timeout_ms = 10000;
    o.proxied = 1u << 2;
    test_cond("cluster with a proxy in front of follower 2 starts", cl_start(&c, "repl-crc", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0), *f = cl_connect(&c, 2);
    test_cond("10 writes before the fault", l && cl_pipeline_set(l, "pre:", 0, 10, 10, NULL) == 10);
    long long rej0 = f ? cl_info_ll(f, "replication", "records_rejected_crc") : -1;
    long long hs0 = f ? cl_info_ll(f, "replication", "handshakes") : -1;
    long long rc0 = l ? cl_follower_ll(l, 1, "reconnects") : -1;
    test_cond("no record rejected yet", rej0 == 0);

    /* Byte 20 of a RECORDS payload is inside the first record's epoch
     * field, which its CRC covers (src/wal/wal_record.h). */
    test_cond("proxy arms a flip in the next records frame", cl_proxy(&c, 2, "fliprec 20", NULL, 0) == 0);
    char outcome[CRC_WRITES];
    long ok = l ? cl_pipeline_set(l, "crc:", 0, CRC_WRITES, 50, outcome) : -1;
    printf("   %ld of %d writes acknowledged OK across the fault\n", ok, CRC_WRITES);
    test_cond("the writes got replies", ok >= 0);
    test_cond("the proxy flipped a bit", proxy_field(&c, 2, "flips_done") == 1);
    long long rej1 = f ? cl_info_ll(f, "replication", "records_rejected_crc") : -1;
    test_cond("follower 2 rejected exactly one record (records_rejected_crc rose)", rej1 == rej0 + 1);
    test_cond("follower 2 logged the rejected LSN", cl_wait_log(c.n[2].log, "rejected record lsn=", 1000));
    test_cond("the link reconnected", f && cl_info_ll(f, "replication", "handshakes") > hs0 &&
                                          cl_follower_ll(l, 1, "reconnects") > rc0);
    test_cond("follower 2 back online", cl_wait_follower_online(&c, 1, 1, REJOIN_MS));
    test_cond("most writes succeed once the link is back", ok > 0);
    resp_value *r = l ? tc_cmd(l, "SET", "after", "1") : NULL;
    test_cond("a write after the fault is OK", is_status(r, "OK"));
    resp_value_free(r);
    test_cond("followers caught up", cl_wait_caught_up(&c, CATCHUP_MS));
    test_cond("digests converge", cl_converged(&c));
    test_cond("every write acknowledged OK is present on all nodes",
              ok >= 0 && acked_present_everywhere(&c, "crc:", 0, CRC_WRITES, outcome));
    test_cond("no further rejection after the resend",
              f && cl_info_ll(f, "replication", "records_rejected_crc") == rej1);
    tc_close(f);
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* Waits for follower K to go offline; returns the milliseconds it took from
 * T0, or -1 past the deadline. */
static long long time_to_offline(cluster *c, int k, long long t0)
{
    int ok = cl_wait_follower_online(c, k, 0, FOLLOWER_TIMEOUT_MS * 4);
    return ok ? proc_now_ms() - t0 : -1;
}

static void test_stop_and_blackhole(cluster *c, tclient *l)
{
    test_section("SIGSTOP: online=0 within the heartbeat bound, SIGCONT: online=1, caught up");
    long long t0 = proc_now_ms();
    test_cond("SIGSTOP follower 1", cl_signal(c, 1, SIGSTOP) == 0);
    long long took = time_to_offline(c, 0, t0);
    printf("   stopped follower marked online=0 after %lld ms (timeout %d)\n", took,
           FOLLOWER_TIMEOUT_MS);
    test_cond("online=0 within follower-timeout-ms + margin",
              took >= 0 && took <= FOLLOWER_TIMEOUT_MS + DETECT_MARGIN_MS);
    test_cond("writes continue with quorum 1", cl_pipeline_set(l, "stop:", 0, 500, 100, NULL) == 500);
    test_cond("SIGCONT follower 1", cl_signal(c, 1, SIGCONT) == 0);
    test_cond("online=1 again", cl_wait_follower_online(c, 0, 1, REJOIN_MS));
    test_cond("caught up", cl_wait_caught_up(c, CATCHUP_MS));
    test_cond("digests equal after SIGSTOP/SIGCONT", cl_converged(c));

    test_section("blackhole: online=0 within the bound; heal: online=1, caught up");
    t0 = proc_now_ms();
    test_cond("proxy blackholes follower 2", cl_proxy(c, 2, "blackhole on", NULL, 0) == 0);
    took = time_to_offline(c, 1, t0);
    printf("   blackholed follower marked online=0 after %lld ms\n", took);
    test_cond("online=0 within follower-timeout-ms + margin",
              took >= 0 && took <= FOLLOWER_TIMEOUT_MS + DETECT_MARGIN_MS);
    test_cond("writes continue", cl_pipeline_set(l, "bh:", 0, 500, 100, NULL) == 500);
    test_cond("proxy heals", cl_proxy(c, 2, "blackhole off", NULL, 0) == 0);
    test_cond("online=1 after healing", cl_wait_follower_online(c, 1, 1, REJOIN_MS));
    test_cond("caught up after healing", cl_wait_caught_up(c, CATCHUP_MS));
    test_cond("digests equal after the blackhole", cl_converged(c));
}

/* Bytes the leader sends on a fresh link before its first RECORDS frame:
 * its half of the cluster-secret handshake (AUTH, PROOF) when the cluster
 * has a secret, then HELLO. */
static long hello_bytes(const cluster *c)
{
    repl_hello h;
    memset(&h, 0, sizeof h);
    snprintf(h.cluster_id, sizeof h.cluster_id, "rkv"); /* the default --cluster-id */
    uint8_t frame[REPL_CTRL_MAX];
    long len = (long)repl_encode_hello(frame, &h);
    if (c->secret[0]) {
        repl_auth_msg m;
        memset(&m, 0, sizeof m);
        snprintf(m.cluster_id, sizeof m.cluster_id, "rkv");
        len += (long)repl_encode_auth(frame, &m) + (long)repl_encode_proof(frame, &m);
    }
    return len;
}

static void test_flip_offset(cluster *c, tclient *l)
{
    test_section("flip N: a bit flipped at a stream offset in the catch-up of a restarted follower");
    long long flips0 = proxy_field(c, 2, "flips_done");
    test_cond("stop follower 2 cleanly", cl_signal(c, 2, SIGTERM) == 0);
    test_cond("the leader marks it offline", cl_wait_follower_online(c, 1, 0, FOLLOWER_TIMEOUT_MS * 4));
    test_cond("writes while it is down", cl_pipeline_set(l, "flip:", 0, 200, 100, NULL) == 200);
    /* A fresh link to a follower that is behind carries HELLO, then the
     * catch-up RECORDS frame: its first record starts at HELLO + 12, and
     * its byte 20 (the epoch) is covered by the record's CRC. */
    char cmd[64];
    snprintf(cmd, sizeof cmd, "flip %ld", hello_bytes(c) + (long)REPL_FRAME_HDR + 20);
    test_cond("drop stale connections", cl_proxy(c, 2, "drop", NULL, 0) == 0);
    test_cond("arm the flip for the next link", cl_proxy(c, 2, cmd, NULL, 0) == 0);
    test_cond("restart follower 2", cl_start_node(c, 2) == 0);
    test_cond("it comes back online", cl_wait_follower_online(c, 1, 1, REJOIN_MS));
    test_cond("caught up", cl_wait_caught_up(c, CATCHUP_MS));
    test_cond("the proxy flipped the bit", proxy_field(c, 2, "flips_done") == flips0 + 1);
    tclient *f = cl_connect(c, 2);
    test_cond("the restarted follower rejected exactly that record",
              f && cl_info_ll(f, "replication", "records_rejected_crc") == 1);
    tc_close(f);
    test_cond("digests equal after the resend", cl_converged(c));
}

/* Sends COUNT pipelined SETs "<prefix><j> v<j>" without reading replies. */
static int send_sets(tclient *t, const char *prefix, long count)
{
    size_t cap = (size_t)count * 64 + 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (long j = 0; j < count; j++) {
        char key[48], val[24];
        int kl = snprintf(key, sizeof key, "%s%ld", prefix, j);
        int vl = snprintf(val, sizeof val, "v%ld", j);
        len += (size_t)snprintf(buf + len, cap - len, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n",
                                kl, key, vl, val);
    }
    int rc = tc_send_raw(t, buf, len);
    free(buf);
    return rc;
}

static void test_kill_during_writes(cluster *c, tclient *l)
{
    test_section("kill -9 a follower during writes, write more, restart: WAL catch-up");
    long long wal0 = cl_follower_ll(l, 0, "catchup_wal");
    test_cond("writes in flight", send_sets(l, "kill:", KILL_BATCH) == 0);
    test_cond("kill -9 follower 1 under load", cl_signal(c, 1, SIGKILL) == 128 + SIGKILL);
    long ok = 0;
    for (long j = 0; j < KILL_BATCH; j++) {
        resp_value *r = tc_read(l);
        if (!r) break;
        ok += is_status(r, "OK");
        resp_value_free(r);
    }
    test_cond("every in-flight write acknowledged (quorum 1, follower 2 up)", ok == KILL_BATCH);
    test_cond("more writes while it is down",
              cl_pipeline_set(l, "down:", 0, AFTER_KILL, 500, NULL) == AFTER_KILL);
    test_cond("restart follower 1", cl_start_node(c, 1) == 0);
    test_cond("it comes back online", cl_wait_follower_online(c, 0, 1, REJOIN_MS));
    long long wal1 = cl_follower_ll(l, 0, "catchup_wal");
    printf("   catchup_wal for follower 1: %lld -> %lld\n", wal0, wal1);
    test_cond("catchup_wal increased for it", wal0 >= 0 && wal1 > wal0);
    test_cond("caught up", cl_wait_caught_up(c, CATCHUP_MS));
    test_cond("digests equal after kill -9 and restart", cl_converged(c));
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    test_flipped_record();

    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.quorum = 1;
    o.follower_timeout_ms = FOLLOWER_TIMEOUT_MS;
    o.proxied = 1u << 2;
    test_cond("cluster with a proxy in front of follower 2 starts", cl_start(&c, "repl-fault", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, 5000));
    tclient *l = cl_connect(&c, 0);
    if (l) {
        test_stop_and_blackhole(&c, l);
        test_flip_offset(&c, l);
        test_kill_during_writes(&c, l);
    }
    tc_close(l);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
    return test_report();
}
