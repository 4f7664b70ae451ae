/* sentinel_proc_test.c -- what Redis clients and tools read to find the
 * leader, on real rkv-server processes: ROLE, the Redis fields of INFO
 * replication next to rkv's own (rkv_role), the READONLY text, HELLO, and
 * every SENTINEL subcommand (reply structure, field order, values), on a
 * three-node cluster with everything up, with a follower stopped (the
 * leader reports it s_down), with the leader stopped (a follower reports no
 * usable master), and on a lone leader with its own --cluster-name.
 *
 * The expected field lists are Redis Sentinel 7.0's, in its order, as
 * redis-sentinel prints them; the clients parse them by name, but the order
 * is checked too so a reply stays comparable byte for byte. Every wait is a
 * condition with a deadline. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../testhelp.h"

#define WATCHDOG_S 120
#define ONLINE_MS 5000
#define LINK_MS 5000 /* a link to go down or up again */
#define FOLLOWER_TIMEOUT "400"
#define HEARTBEAT "50"

static const char *const MASTER_KEYS[] = {"name",
                                          "ip",
                                          "port",
                                          "runid",
                                          "flags",
                                          "link-pending-commands",
                                          "link-refcount",
                                          "last-ping-sent",
                                          "last-ok-ping-reply",
                                          "last-ping-reply",
                                          "down-after-milliseconds",
                                          "info-refresh",
                                          "role-reported",
                                          "role-reported-time",
                                          "config-epoch",
                                          "num-slaves",
                                          "num-other-sentinels",
                                          "quorum",
                                          "failover-timeout",
                                          "parallel-syncs",
                                          NULL};
static const char *const MASTER_DOWN_KEYS[] = {"name",
                                               "ip",
                                               "port",
                                               "runid",
                                               "flags",
                                               "link-pending-commands",
                                               "link-refcount",
                                               "last-ping-sent",
                                               "last-ok-ping-reply",
                                               "last-ping-reply",
                                               "s-down-time",
                                               "o-down-time",
                                               "down-after-milliseconds",
                                               "info-refresh",
                                               "role-reported",
                                               "role-reported-time",
                                               "config-epoch",
                                               "num-slaves",
                                               "num-other-sentinels",
                                               "quorum",
                                               "failover-timeout",
                                               "parallel-syncs",
                                               NULL};
static const char *const REPLICA_KEYS[] = {"name",
                                           "ip",
                                           "port",
                                           "runid",
                                           "flags",
                                           "link-pending-commands",
                                           "link-refcount",
                                           "last-ping-sent",
                                           "last-ok-ping-reply",
                                           "last-ping-reply",
                                           "down-after-milliseconds",
                                           "info-refresh",
                                           "role-reported",
                                           "role-reported-time",
                                           "master-link-down-time",
                                           "master-link-status",
                                           "master-host",
                                           "master-port",
                                           "slave-priority",
                                           "slave-repl-offset",
                                           "replica-announced",
                                           NULL};
static const char *const REPLICA_DOWN_KEYS[] = {"name",
                                                "ip",
                                                "port",
                                                "runid",
                                                "flags",
                                                "link-pending-commands",
                                                "link-refcount",
                                                "last-ping-sent",
                                                "last-ok-ping-reply",
                                                "last-ping-reply",
                                                "s-down-time",
                                                "down-after-milliseconds",
                                                "info-refresh",
                                                "role-reported",
                                                "role-reported-time",
                                                "master-link-down-time",
                                                "master-link-status",
                                                "master-host",
                                                "master-port",
                                                "slave-priority",
                                                "slave-repl-offset",
                                                "replica-announced",
                                                NULL};
static const char *const SENTINEL_KEYS[] = {"name",
                                            "ip",
                                            "port",
                                            "runid",
                                            "flags",
                                            "link-pending-commands",
                                            "link-refcount",
                                            "last-ping-sent",
                                            "last-ok-ping-reply",
                                            "last-ping-reply",
                                            "down-after-milliseconds",
                                            "last-hello-message",
                                            "voted-leader",
                                            "voted-leader-epoch",
                                            NULL};
static const char *const SENTINEL_DOWN_KEYS[] = {"name",
                                                 "ip",
                                                 "port",
                                                 "runid",
                                                 "flags",
                                                 "link-pending-commands",
                                                 "link-refcount",
                                                 "last-ping-sent",
                                                 "last-ok-ping-reply",
                                                 "last-ping-reply",
                                                 "s-down-time",
                                                 "down-after-milliseconds",
                                                 "last-hello-message",
                                                 "voted-leader",
                                                 "voted-leader-epoch",
                                                 NULL};

/* ---- reply helpers ---- */

static int is_bulk(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_BULK && strcmp(r->str, s) == 0;
}

static int is_error(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_ERROR && strcmp(r->str, s) == 0;
}

static int is_int(const resp_value *r, long long v)
{
    return r && r->type == RESP_T_INT && r->integer == v;
}

static int is_hex40(const char *s)
{
    if (!s || strlen(s) != 40) return 0;
    for (int i = 0; i < 40; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

/* A flat field/value array whose keys are exactly KEYS, in that order, and
 * whose values are all bulk strings. */
static int keys_exactly(const resp_value *r, const char *const *keys)
{
    size_t n = 0;
    while (keys[n])
        n++;
    if (!r || r->type != RESP_T_ARRAY || r->nelem != 2 * n) {
        printf("   expected %zu fields, got %zu\n", n,
               r && r->type == RESP_T_ARRAY ? r->nelem / 2 : 0);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_bulk(r->elem[2 * i], keys[i]) || r->elem[2 * i + 1]->type != RESP_T_BULK) {
            printf("   field %zu: expected '%s', got '%s'\n", i, keys[i],
                   r->elem[2 * i]->str ? r->elem[2 * i]->str : "(not a string)");
            return 0;
        }
    }
    return 1;
}

/* The value of KEY in a flat field/value array ("" if absent). */
static const char *fv(const resp_value *r, const char *key)
{
    if (!r || r->type != RESP_T_ARRAY) return "";
    for (size_t i = 0; i + 1 < r->nelem; i += 2)
        if (is_bulk(r->elem[i], key) && r->elem[i + 1]->type == RESP_T_BULK)
            return r->elem[i + 1]->str;
    return "";
}

static long long fv_ll(const resp_value *r, const char *key)
{
    const char *v = fv(r, key);
    char *end;
    long long x = strtoll(v, &end, 10);
    return *v && !*end ? x : -1;
}

static int port_is(const char *s, int port)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", port);
    return s && strcmp(s, buf) == 0;
}

static long long lastlsn(tclient *t)
{
    resp_value *r = tc_cmd(t, "LASTLSN");
    long long v = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    return v;
}

static int info_is(tclient *t, const char *field, const char *want)
{
    char *v = tc_info_field(t, "replication", field);
    int ok = v && strcmp(v, want) == 0;
    if (!ok) printf("   INFO %s is '%s', expected '%s'\n", field, v ? v : "(absent)", want);
    free(v);
    return ok;
}

static int info_has(tclient *t, const char *section, const char *field)
{
    char *v = tc_info_field(t, section, field);
    free(v);
    return v != NULL;
}

/* ---- waits ---- */

typedef struct role_wait {
    tclient *t;
    const char *state; /* follower: ROLE's link state */
    long long offset;  /* leader: every listed replica at this offset; -1 any */
    int replicas;      /* leader: how many ROLE lists */
} role_wait;

static int follower_state_is(void *arg)
{
    role_wait *w = arg;
    resp_value *r = tc_cmd(w->t, "ROLE");
    int ok = r && r->type == RESP_T_ARRAY && r->nelem == 5 && is_bulk(r->elem[3], w->state);
    resp_value_free(r);
    return ok;
}

static int leader_replicas_are(void *arg)
{
    role_wait *w = arg;
    resp_value *r = tc_cmd(w->t, "ROLE");
    int ok = r && r->type == RESP_T_ARRAY && r->nelem == 3 && r->elem[2]->type == RESP_T_ARRAY &&
             (int)r->elem[2]->nelem == w->replicas;
    for (size_t i = 0; ok && w->offset >= 0 && i < r->elem[2]->nelem; i++) {
        const resp_value *e = r->elem[2]->elem[i];
        ok = e->type == RESP_T_ARRAY && e->nelem == 3 && e->elem[2]->type == RESP_T_BULK &&
             atoll(e->elem[2]->str) == w->offset;
    }
    resp_value_free(r);
    return ok;
}

/* ---- the cluster, everything up ---- */

static void check_role_and_info(cluster *c, tclient *l, tclient *f1, long long lsn)
{
    test_section("ROLE and INFO replication, leader and follower");
    role_wait w = {l, NULL, lsn, 2};
    test_cond("leader's ROLE lists both followers at the last LSN",
              proc_wait_until(leader_replicas_are, &w, ONLINE_MS));
    resp_value *r = tc_cmd(l, "ROLE");
    test_cond("leader ROLE: *3 master <offset> [...]",
              r && r->type == RESP_T_ARRAY && r->nelem == 3 && is_bulk(r->elem[0], "master") &&
                  is_int(r->elem[1], lsn) && r->elem[2]->type == RESP_T_ARRAY);
    if (r && r->nelem == 3 && r->elem[2]->nelem == 2) {
        int seen1 = 0, seen2 = 0;
        for (int i = 0; i < 2; i++) {
            const resp_value *e = r->elem[2]->elem[i];
            test_cond("a replica is [ip, port, offset], all bulk strings",
                      e->type == RESP_T_ARRAY && e->nelem == 3 &&
                          is_bulk(e->elem[0], "127.0.0.1") && e->elem[1]->type == RESP_T_BULK &&
                          e->elem[2]->type == RESP_T_BULK);
            seen1 |= port_is(e->elem[1]->str, c->n[1].port);
            seen2 |= port_is(e->elem[1]->str, c->n[2].port);
        }
        test_cond("the replicas are the followers' client ports", seen1 && seen2);
    }
    resp_value_free(r);

    r = tc_cmd(f1, "ROLE");
    test_cond("follower ROLE: *5 slave 127.0.0.1 <leader port> connected <offset>",
              r && r->type == RESP_T_ARRAY && r->nelem == 5 && is_bulk(r->elem[0], "slave") &&
                  is_bulk(r->elem[1], "127.0.0.1") && is_int(r->elem[2], c->n[0].port) &&
                  is_bulk(r->elem[3], "connected") && is_int(r->elem[4], lsn));
    resp_value_free(r);

    char lsnbuf[32], portbuf[16], slave[128];
    snprintf(lsnbuf, sizeof lsnbuf, "%lld", lsn);
    snprintf(portbuf, sizeof portbuf, "%d", c->n[0].port);
    test_cond("leader INFO role:master", info_is(l, "role", "master"));
    test_cond("leader INFO rkv_role:leader", info_is(l, "rkv_role", "leader"));
    test_cond("leader INFO connected_slaves:2", info_is(l, "connected_slaves", "2"));
    char *s0 = tc_info_field(l, "replication", "slave0");
    snprintf(slave, sizeof slave, ",state=online,offset=%lld,lag=0", lsn);
    test_cond("leader INFO slave0:ip=127.0.0.1,port=..,state=online,offset=<lsn>,lag=0",
              s0 && strncmp(s0, "ip=127.0.0.1,port=", 18) == 0 && strstr(s0, slave));
    free(s0);
    test_cond("leader INFO master_failover_state:no-failover",
              info_is(l, "master_failover_state", "no-failover"));
    test_cond("leader INFO master_repl_offset is the last LSN",
              info_is(l, "master_repl_offset", lsnbuf));
    test_cond("leader INFO second_repl_offset:-1", info_is(l, "second_repl_offset", "-1"));
    test_cond("leader INFO master_replid2 is 40 zeros",
              info_is(l, "master_replid2", "0000000000000000000000000000000000000000"));
    char *id0 = tc_info_field(l, "replication", "master_replid");
    char *id1 = tc_info_field(f1, "replication", "master_replid");
    test_cond("master_replid is 40 hex digits, the same on leader and follower",
              is_hex40(id0) && id1 && strcmp(id0, id1) == 0);
    free(id0);
    free(id1);
    test_cond("leader INFO repl_backlog_active:1", info_is(l, "repl_backlog_active", "1"));

    test_cond("follower INFO role:slave", info_is(f1, "role", "slave"));
    test_cond("follower INFO rkv_role:follower", info_is(f1, "rkv_role", "follower"));
    test_cond("follower INFO master_host", info_is(f1, "master_host", "127.0.0.1"));
    test_cond("follower INFO master_port", info_is(f1, "master_port", portbuf));
    test_cond("follower INFO master_link_status:up", info_is(f1, "master_link_status", "up"));
    test_cond("follower INFO master_sync_in_progress:0",
              info_is(f1, "master_sync_in_progress", "0"));
    test_cond("follower INFO slave_repl_offset", info_is(f1, "slave_repl_offset", lsnbuf));
    test_cond("follower INFO slave_read_repl_offset",
              info_is(f1, "slave_read_repl_offset", lsnbuf));
    test_cond("follower INFO slave_priority:100", info_is(f1, "slave_priority", "100"));
    test_cond("follower INFO slave_read_only:1", info_is(f1, "slave_read_only", "1"));
    test_cond("follower INFO replica_announced:1", info_is(f1, "replica_announced", "1"));
    test_cond("follower INFO connected_slaves:0", info_is(f1, "connected_slaves", "0"));
    test_cond("no master_link_down_since_seconds while the link is up",
              !info_has(f1, "replication", "master_link_down_since_seconds"));
    test_cond("plain INFO has the replication fields too",
              info_has(f1, NULL, "master_link_status"));
    test_cond("plain INFO has no Sentinel section", !info_has(f1, NULL, "sentinel_masters"));
    test_cond("INFO persistence loading:0", info_has(f1, "persistence", "loading"));
    char *run = tc_info_field(l, "server", "run_id");
    test_cond("INFO server run_id is 40 hex digits", is_hex40(run));
    free(run);

    test_section("writes on a follower: Redis's READONLY text");
    r = tc_cmd(f1, "SET", "k", "v");
    test_cond("-READONLY You can't write against a read only replica.",
              is_error(r, "READONLY You can't write against a read only replica."));
    resp_value_free(r);
    r = tc_cmd(f1, "DEL", "k");
    test_cond("DEL too", is_error(r, "READONLY You can't write against a read only replica."));
    resp_value_free(r);
}

static void check_hello(tclient *l, tclient *f1)
{
    test_section("HELLO");
    resp_value *r = tc_cmd(l, "HELLO");
    test_cond("HELLO: 14 elements, server redis, proto 2, mode standalone, role master",
              r && r->type == RESP_T_ARRAY && r->nelem == 14 && is_bulk(r->elem[0], "server") &&
                  is_bulk(r->elem[1], "redis") && is_bulk(r->elem[4], "proto") &&
                  is_int(r->elem[5], 2) && is_bulk(r->elem[6], "id") &&
                  r->elem[7]->type == RESP_T_INT && is_bulk(r->elem[9], "standalone") &&
                  is_bulk(r->elem[10], "role") && is_bulk(r->elem[11], "master") &&
                  is_bulk(r->elem[12], "modules") && r->elem[13]->type == RESP_T_ARRAY &&
                  r->elem[13]->nelem == 0);
    resp_value_free(r);
    r = tc_cmd(f1, "HELLO", "2");
    test_cond("HELLO 2 on a follower: role replica",
              r && r->type == RESP_T_ARRAY && r->nelem == 14 && is_bulk(r->elem[11], "replica"));
    resp_value_free(r);
    r = tc_cmd(l, "HELLO", "4"); /* HELLO 3's map: tests/server/resp3_proc_test.c */
    test_cond("HELLO 4: -NOPROTO", is_error(r, "NOPROTO unsupported protocol version"));
    resp_value_free(r);
    r = tc_cmd(l, "HELLO", "1");
    test_cond("HELLO 1: -NOPROTO", is_error(r, "NOPROTO unsupported protocol version"));
    resp_value_free(r);
    r = tc_cmd(l, "HELLO", "x");
    test_cond("HELLO x: not an integer",
              is_error(r, "ERR Protocol version is not an integer or out of range"));
    resp_value_free(r);
    r = tc_cmd(l, "HELLO", "2", "FOO");
    test_cond("HELLO 2 FOO: syntax error", is_error(r, "ERR Syntax error in HELLO option 'FOO'"));
    resp_value_free(r);
    r = tc_cmd(l, "HELLO", "2", "AUTH", "default", "pw", "SETNAME", "me");
    resp_value_free(r);
    r = tc_cmd(l, "CLIENT", "GETNAME");
    test_cond("HELLO 2 AUTH .. SETNAME me sets the name", is_bulk(r, "me"));
    resp_value_free(r);
}

static void check_sentinel_up(cluster *c, tclient *l, tclient *f1, tclient *f2)
{
    test_section("SENTINEL, everything up");
    char lport[16];
    snprintf(lport, sizeof lport, "%d", c->n[0].port);
    tclient *all[3] = {l, f1, f2};
    for (int i = 0; i < 3; i++) {
        resp_value *r = tc_cmd(all[i], "SENTINEL", "get-master-addr-by-name", "rkv");
        test_cond("get-master-addr-by-name rkv: [127.0.0.1, <leader port>] from every node",
                  r && r->type == RESP_T_ARRAY && r->nelem == 2 &&
                      is_bulk(r->elem[0], "127.0.0.1") && is_bulk(r->elem[1], lport));
        resp_value_free(r);
    }
    resp_value *r = tc_cmd(l, "SENTINEL", "get-master-addr-by-name", "nope");
    test_cond("get-master-addr-by-name of an unknown name: a null array",
              r && r->type == RESP_T_NIL);
    resp_value_free(r);

    resp_value *m = tc_cmd(f1, "SENTINEL", "master", "rkv");
    test_cond("SENTINEL master rkv: Sentinel's fields in Sentinel's order",
              keys_exactly(m, MASTER_KEYS));
    test_cond("master name rkv, ip, port", strcmp(fv(m, "name"), "rkv") == 0 &&
                                               strcmp(fv(m, "ip"), "127.0.0.1") == 0 &&
                                               strcmp(fv(m, "port"), lport) == 0);
    test_cond("master flags: master", strcmp(fv(m, "flags"), "master") == 0);
    test_cond("master runid: 40 hex digits", is_hex40(fv(m, "runid")));
    test_cond("master role-reported: master", strcmp(fv(m, "role-reported"), "master") == 0);
    test_cond("master config-epoch: the epoch",
              fv_ll(m, "config-epoch") == cl_info_ll(l, "replication", "epoch"));
    test_cond("master down-after-milliseconds: --follower-timeout-ms",
              strcmp(fv(m, "down-after-milliseconds"), FOLLOWER_TIMEOUT) == 0);
    test_cond("master quorum: a majority", fv_ll(m, "quorum") >= 2);
    resp_value *ml = tc_cmd(l, "SENTINEL", "master", "rkv");
    test_cond("the leader reports the same runid and epoch",
              strcmp(fv(ml, "runid"), fv(m, "runid")) == 0 &&
                  strcmp(fv(ml, "config-epoch"), fv(m, "config-epoch")) == 0);
    test_cond("the leader sees 2 slaves and 2 other sentinels",
              fv_ll(ml, "num-slaves") == 2 && fv_ll(ml, "num-other-sentinels") == 2);
    resp_value_free(ml);
    resp_value_free(m);

    r = tc_cmd(l, "SENTINEL", "masters");
    test_cond("SENTINEL masters: one master, the same entry",
              r && r->type == RESP_T_ARRAY && r->nelem == 1 &&
                  keys_exactly(r->elem[0], MASTER_KEYS) &&
                  strcmp(fv(r->elem[0], "name"), "rkv") == 0);
    resp_value_free(r);

    const char *rep[] = {"replicas", "slaves"};
    for (int k = 0; k < 2; k++) {
        r = tc_cmd(l, "SENTINEL", rep[k], "rkv");
        test_cond("SENTINEL replicas|slaves rkv on the leader: both followers",
                  r && r->type == RESP_T_ARRAY && r->nelem == 2);
        int seen1 = 0, seen2 = 0;
        for (size_t i = 0; r && r->type == RESP_T_ARRAY && i < r->nelem; i++) {
            const resp_value *e = r->elem[i];
            char name[64];
            snprintf(name, sizeof name, "127.0.0.1:%s", fv(e, "port"));
            test_cond("replica: Sentinel's fields in order", keys_exactly(e, REPLICA_KEYS));
            test_cond("replica name is ip:port", strcmp(fv(e, "name"), name) == 0);
            test_cond("replica flags slave, link ok, master address",
                      strcmp(fv(e, "flags"), "slave") == 0 &&
                          strcmp(fv(e, "master-link-status"), "ok") == 0 &&
                          strcmp(fv(e, "master-host"), "127.0.0.1") == 0 &&
                          strcmp(fv(e, "master-port"), lport) == 0 &&
                          strcmp(fv(e, "role-reported"), "slave") == 0 &&
                          strcmp(fv(e, "slave-priority"), "100") == 0);
            seen1 |= port_is(fv(e, "port"), c->n[1].port);
            seen2 |= port_is(fv(e, "port"), c->n[2].port);
        }
        test_cond("the replicas are the followers' client ports", seen1 && seen2);
        resp_value_free(r);
    }
    r = tc_cmd(f1, "SENTINEL", "replicas", "rkv");
    test_cond("a follower lists itself as a replica, link ok",
              r && r->type == RESP_T_ARRAY && r->nelem >= 1 &&
                  port_is(fv(r->elem[0], "port"), c->n[1].port) &&
                  strcmp(fv(r->elem[0], "master-link-status"), "ok") == 0);
    resp_value_free(r);

    r = tc_cmd(l, "SENTINEL", "sentinels", "rkv");
    test_cond("SENTINEL sentinels rkv on the leader: the two other members",
              r && r->type == RESP_T_ARRAY && r->nelem == 2);
    resp_value *id1 = tc_cmd(f1, "SENTINEL", "myid");
    test_cond("SENTINEL myid: 40 hex digits",
              id1 && id1->type == RESP_T_BULK && is_hex40(id1->str));
    int found = 0;
    for (size_t i = 0; r && r->type == RESP_T_ARRAY && i < r->nelem; i++) {
        const resp_value *e = r->elem[i];
        test_cond("sentinel: Sentinel's fields in order", keys_exactly(e, SENTINEL_KEYS));
        test_cond("sentinel flags sentinel, name == runid",
                  strcmp(fv(e, "flags"), "sentinel") == 0 &&
                      strcmp(fv(e, "name"), fv(e, "runid")) == 0);
        if (port_is(fv(e, "port"), c->n[1].port))
            found = id1 && id1->str && strcmp(fv(e, "name"), id1->str) == 0;
    }
    test_cond("the leader names follower 1 by the id follower 1 gives itself", found);
    resp_value_free(id1);
    resp_value_free(r);
    r = tc_cmd(f1, "SENTINEL", "sentinels", "rkv");
    test_cond("a follower lists the leader as a sentinel",
              r && r->type == RESP_T_ARRAY && r->nelem >= 1 &&
                  port_is(fv(r->elem[0], "port"), c->n[0].port));
    resp_value_free(r);

    test_section("SENTINEL errors");
    const char *named[] = {"master", "replicas", "slaves", "sentinels"};
    for (int k = 0; k < 4; k++) {
        r = tc_cmd(l, "SENTINEL", named[k], "nope");
        test_cond("unknown master name: -ERR No such master with that name",
                  is_error(r, "ERR No such master with that name"));
        resp_value_free(r);
    }
    r = tc_cmd(l, "SENTINEL", "foo");
    test_cond("unknown subcommand",
              is_error(r, "ERR unknown subcommand 'foo'. Try SENTINEL HELP."));
    resp_value_free(r);
    r = tc_cmd(l, "SENTINEL");
    test_cond("SENTINEL alone: arity",
              is_error(r, "ERR wrong number of arguments for 'sentinel' command"));
    resp_value_free(r);
    r = tc_cmd(l, "SENTINEL", "master");
    test_cond("SENTINEL master without a name: arity",
              is_error(r, "ERR wrong number of arguments for 'sentinel|master' command"));
    resp_value_free(r);
    r = tc_cmd(l, "SENTINEL", "MASTERS", "x");
    test_cond("SENTINEL MASTERS x: arity (subcommands are case-insensitive)",
              is_error(r, "ERR wrong number of arguments for 'sentinel|masters' command"));
    resp_value_free(r);
    r = tc_cmd(l, "SENTINEL", "help");
    test_cond("SENTINEL HELP: status lines",
              r && r->type == RESP_T_ARRAY && r->nelem > 1 && r->elem[0]->type == RESP_T_STATUS);
    resp_value_free(r);
}

/* Follower 2 stopped: the leader reports it s_down and no longer lists it. */
static void check_follower_down(cluster *c, tclient *l)
{
    test_section("a follower stopped: the leader reports it s_down");
    test_cond("SIGSTOP follower 2", cl_signal(c, 2, SIGSTOP) == 0);
    test_cond("the leader sees it offline", cl_wait_follower_online(c, 1, 0, LINK_MS));
    role_wait w = {l, NULL, -1, 1};
    test_cond("ROLE lists one replica", proc_wait_until(leader_replicas_are, &w, LINK_MS));
    test_cond("INFO connected_slaves:1", info_is(l, "connected_slaves", "1"));
    resp_value *r = tc_cmd(l, "SENTINEL", "replicas", "rkv");
    int down = 0, up = 0;
    for (size_t i = 0; r && r->type == RESP_T_ARRAY && i < r->nelem; i++) {
        const resp_value *e = r->elem[i];
        if (port_is(fv(e, "port"), c->n[2].port))
            down = keys_exactly(e, REPLICA_DOWN_KEYS) &&
                   strcmp(fv(e, "flags"), "s_down,slave") == 0 &&
                   strcmp(fv(e, "master-link-status"), "err") == 0;
        if (port_is(fv(e, "port"), c->n[1].port)) up = strcmp(fv(e, "flags"), "slave") == 0;
    }
    test_cond("the stopped one: s_down,slave, s-down-time, link err", down);
    test_cond("the other: slave", up);
    resp_value_free(r);
    r = tc_cmd(l, "SENTINEL", "sentinels", "rkv");
    int sdown = 0;
    for (size_t i = 0; r && r->type == RESP_T_ARRAY && i < r->nelem; i++)
        if (port_is(fv(r->elem[i], "port"), c->n[2].port))
            sdown = keys_exactly(r->elem[i], SENTINEL_DOWN_KEYS) &&
                    strcmp(fv(r->elem[i], "flags"), "s_down,sentinel") == 0;
    test_cond("as a sentinel: s_down,sentinel", sdown);
    resp_value_free(r);
    test_cond("SIGCONT follower 2", cl_signal(c, 2, SIGCONT) == 0);
    test_cond("it comes back online", cl_wait_follower_online(c, 1, 1, LINK_MS * 2));
}

/* The leader stopped: a follower has no master to hand out. */
static void check_leader_down(cluster *c, tclient *f1)
{
    test_section("the leader stopped: no usable master");
    test_cond("SIGSTOP the leader", cl_signal(c, 0, SIGSTOP) == 0);
    role_wait w = {f1, "connect", 0, 0};
    test_cond("follower ROLE state becomes connect",
              proc_wait_until(follower_state_is, &w, LINK_MS));
    resp_value *r = tc_cmd(f1, "ROLE");
    test_cond("ROLE: slave <leader> connect -1", r && r->type == RESP_T_ARRAY && r->nelem == 5 &&
                                                     is_int(r->elem[2], c->n[0].port) &&
                                                     is_int(r->elem[4], -1));
    resp_value_free(r);
    test_cond("INFO master_link_status:down", info_is(f1, "master_link_status", "down"));
    test_cond("INFO master_last_io_seconds_ago:-1",
              info_is(f1, "master_last_io_seconds_ago", "-1"));
    test_cond("INFO master_link_down_since_seconds appears",
              info_has(f1, "replication", "master_link_down_since_seconds"));
    r = tc_cmd(f1, "SENTINEL", "get-master-addr-by-name", "rkv");
    test_cond("get-master-addr-by-name: a null array", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    r = tc_cmd(f1, "SENTINEL", "master", "rkv");
    test_cond("SENTINEL master: the down fields in order", keys_exactly(r, MASTER_DOWN_KEYS));
    test_cond("flags s_down,o_down,master", strcmp(fv(r, "flags"), "s_down,o_down,master") == 0);
    resp_value_free(r);
    r = tc_cmd(f1, "SENTINEL", "replicas", "rkv");
    test_cond("the follower's own link: err",
              r && r->type == RESP_T_ARRAY && r->nelem >= 1 &&
                  strcmp(fv(r->elem[0], "master-link-status"), "err") == 0);
    resp_value_free(r);
    char *st = tc_info_field(f1, "sentinel", "master0");
    test_cond("INFO sentinel: master0 status=odown", st && strstr(st, "status=odown"));
    free(st);
    test_cond("SIGCONT the leader", cl_signal(c, 0, SIGCONT) == 0);
    w.state = "connected";
    test_cond("the link comes back: connected",
              proc_wait_until(follower_state_is, &w, LINK_MS * 2));
    r = tc_cmd(f1, "SENTINEL", "get-master-addr-by-name", "rkv");
    test_cond("get-master-addr-by-name: the leader again",
              r && r->type == RESP_T_ARRAY && r->nelem == 2 &&
                  port_is(r->elem[1]->str, c->n[0].port));
    resp_value_free(r);
}

static void test_cluster(void)
{
    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.heartbeat_ms = atoi(HEARTBEAT);
    o.follower_timeout_ms = atoi(FOLLOWER_TIMEOUT);
    test_cond("cluster starts", cl_start(&c, "sentinel", &o) == 0);
    test_cond("both followers online", cl_wait_online(&c, 2, ONLINE_MS));
    tclient *l = cl_connect(&c, 0), *f1 = cl_connect(&c, 1), *f2 = cl_connect(&c, 2);
    resp_value *r = tc_cmd(l, "SET", "k", "v");
    test_cond("SET on the leader", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    long long lsn = lastlsn(l);
    test_cond("caught up", lsn > 0 && cl_wait_caught_up(&c, ONLINE_MS));
    check_role_and_info(&c, l, f1, lsn);
    check_hello(l, f1);
    check_sentinel_up(&c, l, f1, f2);
    check_follower_down(&c, l);
    check_leader_down(&c, f1);
    tc_close(l);
    tc_close(f1);
    tc_close(f2);
    test_cond("all nodes exit cleanly", cl_stop(&c, test_failed_ > 0) == 0);
}

/* ---- a lone leader with its own master name ---- */

static void test_lone_leader(void)
{
    test_section("a lone leader, --cluster-name mymaster");
    char *dir = proc_tmpdir("sentinel-lone");
    int port = proc_free_port();
    char bin[PROC_PATH_MAX], portstr[16], log[PROC_PATH_MAX];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(log, sizeof log, "%s.log", dir ? dir : "/tmp/rkv-sentinel-lone");
    const char *const argv[] = {
        bin,        "--port", portstr, "--data-dir", dir ? dir : "/nonexistent", "--cluster-name",
        "mymaster", NULL};
    pid_t pid = proc_spawn(argv, log);
    tclient *t = tc_connect("127.0.0.1", port, 10000);
    test_cond("it starts", t != NULL);
    resp_value *r = tc_cmd(t, "SET", "a", "1");
    test_cond("it takes writes", r && r->type == RESP_T_STATUS);
    resp_value_free(r);
    r = tc_cmd(t, "ROLE");
    test_cond("ROLE: master <offset> []",
              r && r->type == RESP_T_ARRAY && r->nelem == 3 && is_bulk(r->elem[0], "master") &&
                  is_int(r->elem[1], 1) && r->elem[2]->type == RESP_T_ARRAY &&
                  r->elem[2]->nelem == 0);
    resp_value_free(r);
    test_cond("INFO role:master", info_is(t, "role", "master"));
    test_cond("INFO rkv_role:leader", info_is(t, "rkv_role", "leader"));
    test_cond("INFO connected_slaves:0", info_is(t, "connected_slaves", "0"));
    r = tc_cmd(t, "SENTINEL", "get-master-addr-by-name", "mymaster");
    test_cond("get-master-addr-by-name mymaster: itself",
              r && r->type == RESP_T_ARRAY && r->nelem == 2 && port_is(r->elem[1]->str, port));
    resp_value_free(r);
    r = tc_cmd(t, "SENTINEL", "get-master-addr-by-name", "rkv");
    test_cond("get-master-addr-by-name rkv: unknown here", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    r = tc_cmd(t, "SENTINEL", "master", "rkv");
    test_cond("SENTINEL master rkv: no such master",
              is_error(r, "ERR No such master with that name"));
    resp_value_free(r);
    r = tc_cmd(t, "SENTINEL", "master", "mymaster");
    test_cond("SENTINEL master mymaster: flags master, 0 slaves, 0 other sentinels, quorum 1",
              keys_exactly(r, MASTER_KEYS) && strcmp(fv(r, "flags"), "master") == 0 &&
                  fv_ll(r, "num-slaves") == 0 && fv_ll(r, "num-other-sentinels") == 0 &&
                  fv_ll(r, "quorum") == 1);
    resp_value_free(r);
    r = tc_cmd(t, "SENTINEL", "replicas", "mymaster");
    test_cond("no replicas", r && r->type == RESP_T_ARRAY && r->nelem == 0);
    resp_value_free(r);
    r = tc_cmd(t, "SENTINEL", "sentinels", "mymaster");
    test_cond("no other sentinels", r && r->type == RESP_T_ARRAY && r->nelem == 0);
    resp_value_free(r);
    tc_close(t);
    test_cond("it exits cleanly", pid > 0 && proc_stop(pid, SIGTERM, 10000) == 0);
    if (test_failed_ == 0 && dir) {
        proc_rmtree(dir);
        remove(log);
    } else {
        printf("files kept: %s, %s\n", dir ? dir : "", log);
    }
    free(dir);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    test_cluster();
    test_lone_leader();
    return test_report();
}
