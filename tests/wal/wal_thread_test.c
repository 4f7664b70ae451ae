/* wal_thread_test.c -- the group-commit thread: records appended while a sync
 * runs share the next one, the durable LSN only moves after fdatasync, and
 * stop flushes everything appended. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testhelp.h"
#include "kv/kv_store.h"
#include "wal/wal_record.h"
#include "wal/wal_recovery.h"
#include "wal/wal_thread.h"
#include "wal/wal_writer.h"

static size_t make_rec(uint8_t *buf, uint64_t lsn)
{
    char key[32], val[64];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)lsn);
    snprintf(val, sizeof val, "value-%llu", (unsigned long long)lsn);
    wal_rec r = {.lsn = lsn, .epoch = 1, .ts = 1000 + lsn, .node_id = 1, .op = WAL_OP_PUT,
                 .klen = (uint32_t)strlen(key), .vlen = (uint32_t)strlen(val),
                 .key = (const uint8_t *)key, .val = (const uint8_t *)val};
    return wal_record_encode(&r, buf);
}

/* Waits (poll with a deadline) until the durable LSN reaches WANT. */
static uint64_t wait_durable(wal_thread *t, uint64_t want)
{
    uint64_t d = 0;
    for (int i = 0; i < 500 && d < want; i++) {
        struct pollfd p = {wal_thread_event_fd(t), POLLIN, 0};
        poll(&p, 1, 20);
        d = wal_thread_poll(t, NULL, NULL, 0);
    }
    return d;
}

static int probe_calls;

static int call_probe(void *ctx, wal_writer *w)
{
    (void)w;
    (*(int *)ctx)++;
    return 42;
}

int main(void)
{
    char dir[] = "/tmp/rkv-walthread-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char err[256];
    wal_writer *w = wal_writer_open(dir, WAL_SEGMENT_BYTES_DEFAULT, 1, NULL, err, sizeof err);
    test_cond("writer opens", w != NULL);
    if (!w) return test_report();
    wal_thread *t = wal_thread_start(w, NULL, err, sizeof err);
    test_cond("thread starts", t != NULL);
    if (!t) return test_report();

    test_section("nothing is durable before it is handed over");
    uint8_t buf[256];
    size_t len = make_rec(buf, 1);
    test_cond("append 1", wal_thread_append(t, buf, len, 1) == 0);
    test_cond("durable still 0 before kick", wal_thread_durable_lsn(t) == 0);
    test_cond("last appended is 1", wal_thread_last_lsn(t) == 1);
    wal_thread_kick(t);
    test_cond("durable reaches 1", wait_durable(t, 1) == 1);

    test_section("group commit: many records, few syncs");
    uint64_t syncs_before = wal_thread_syncs(t);
    for (uint64_t lsn = 2; lsn <= 1001; lsn++) {
        len = make_rec(buf, lsn);
        wal_thread_append(t, buf, len, lsn);
        if (lsn % 100 == 0) wal_thread_kick(t);
    }
    wal_thread_kick(t);
    test_cond("durable reaches 1001", wait_durable(t, 1001) == 1001);
    uint64_t syncs = wal_thread_syncs(t) - syncs_before;
    printf("   1000 records in %llu fdatasyncs\n", (unsigned long long)syncs);
    test_cond("at most one sync per kick", syncs <= 11);

    test_section("a call runs on the thread between batches");
    for (uint64_t lsn = 1002; lsn <= 1050; lsn++) {
        len = make_rec(buf, lsn);
        wal_thread_append(t, buf, len, lsn);
    }
    wal_thread_kick(t);
    test_cond("call returns its result", wal_thread_call(t, call_probe, &probe_calls) == 42);
    test_cond("call ran once", probe_calls == 1);
    test_cond("records appended before still become durable", wait_durable(t, 1050) == 1050);

    test_section("stop flushes what was appended");
    for (uint64_t lsn = 1051; lsn <= 1100; lsn++) {
        len = make_rec(buf, lsn);
        wal_thread_append(t, buf, len, lsn);
    }
    test_cond("stop succeeds", wal_thread_stop(t) == 0);
    test_cond("writer durable after stop", wal_writer_durable_lsn(w) == 1100);
    test_cond("writer closes", wal_writer_close(w) == 0);

    kv_store *kv = kv_new();
    wal_recovery_info info;
    test_cond("recovery ok", wal_recover(dir, kv, &info, NULL, err, sizeof err) == 0);
    test_cond("all 1100 records recovered", info.last_lsn == 1100 && kv_count(kv) == 1100);
    kv_free(kv);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("   (could not remove %s)\n", dir);
    return test_report();
}
