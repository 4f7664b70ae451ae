/* durable_info_test.c -- INFO's durable_lsn is what is on the disk now, not
 * the event loop's copy of it.
 *
 * A follower's WAL thread ACKs the leader the moment fdatasync returns, and
 * only then wakes the follower's loop (eventfd). A client can therefore hold
 * an OK whose record that follower's loop has not yet heard is durable; if
 * INFO reported the loop's copy, the quorum member would look behind an
 * acknowledged write (CI caught exactly this in repl_basic_proc_test, "no OK
 * precedes the acks", once under CPU steal). Driven in-process on a lone
 * node: a record is proposed and handed to the WAL thread, the loop is NOT
 * pumped, so the eventfd stays unread and n->durable_lsn stays behind; INFO
 * (persistence and replication sections) must still report the record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/lone_node.h"
#include "../common/proc.h"
#include "../testhelp.h"
#include "server/info.h"
#include "server/node.h"
#include "wal/wal_thread.h"

#define SYNC_MS 5000

/* The value of FIELD in the rendered INFO text, or -1. */
static long long info_field(node *n, const char *section, const char *field)
{
    info_buf b = {0};
    const char *names[] = {section};
    info_render(n, names, 1, &b);
    long long v = -1;
    char key[64];
    snprintf(key, sizeof key, "\n%s:", field);
    const char *at = b.p ? strstr(b.p, key) : NULL;
    if (at) v = strtoll(at + strlen(key), NULL, 10);
    free(b.p);
    return v;
}

static uint64_t g_lsn;

static int thread_durable(void *ctx)
{
    return wal_thread_durable_lsn(((node *)ctx)->walt) >= g_lsn;
}

static int loop_durable(void *ctx)
{
    node *n = ctx;
    node_run_once(n, 10);
    return n->durable_lsn >= g_lsn;
}

int main(void)
{
    char *dir = NULL;
    node *n = lone_node_new("durinfo", &dir);
    test_cond("a lone node starts in-process", n != NULL);
    if (!n) return test_report();
    uint64_t before = n->durable_lsn;
    uint64_t lsn = node_propose(n, WAL_OP_PUT, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1);
    test_cond("a record is proposed", lsn == before + 1);
    wal_thread_kick(n->walt);
    g_lsn = lsn;
    test_cond("the WAL thread makes it durable", proc_wait_until(thread_durable, n, SYNC_MS));
    test_cond("the loop has not heard yet (its copy is behind)", n->durable_lsn < lsn);
    test_cond("INFO persistence durable_lsn reports the disk, not the loop's copy",
              info_field(n, "persistence", "durable_lsn") == (long long)lsn);
    test_cond("node_durable_now never passes last_lsn", node_durable_now(n) <= n->last_lsn);
    test_cond("after the loop runs, its copy agrees",
              proc_wait_until(loop_durable, n, SYNC_MS) && node_durable_now(n) == lsn);
    lone_node_free(n, dir);
    return test_report();
}
