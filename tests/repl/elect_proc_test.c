/* elect_proc_test.c -- automatic failover (issue 11) against real elected
 * rkv-server processes (--peers), each rule a section:
 *
 *  1. three members elect exactly one leader, every node agrees on it;
 *  2. writes go to the leader; a follower answers READONLY; reads on the
 *     leader see acknowledged writes;
 *  3. kill -9 of the leader: another one takes writes, and every write
 *     acknowledged before the kill is there;
 *  4. the old leader comes back as a follower and the replicas converge
 *     (the "obvious manual recovery": the same flags again);
 *  5. SIGSTOP of the leader for longer than the election timeout: a new
 *     leader is elected; a write sent to the paused leader is never answered
 *     OK after it resumes, and it steps down;
 *  6. CheckQuorum: a leader whose followers are all paused acknowledges
 *     nothing and steps down within a few election timeouts;
 *  7. --quorum below a majority is refused at start;
 *  8. five members survive the loss of two;
 *  9. FAILOVER TO hands leadership to the named follower without losing a
 *     write; ROLE follows; the old leader's clients are disconnected (as
 *     Redis does on a role change) and Sentinel subscribers hear
 *     +switch-master;
 * 10. a node whose --peers differs from the others' is refused (votes and
 *     HELLOs carry a CRC of the member list), and says why;
 * 11. a node that cannot persist its vote does not vote: with the leader
 *     dead and one of the two others unable to write its epoch file, no
 *     leader is elected; once it can, one is.
 * Every wait is a condition with a deadline; servers are stopped by PID. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/ecluster.h"
#include "../testhelp.h"

#define WATCHDOG_S 240
#define T_MS "300" /* election timeout for the tests: short, so the suite stays quick */
#define ELECT_WAIT_MS 8000
#define NKEYS 200

static const char *const fast[] = {"--election-timeout-ms", T_MS, "--heartbeat-ms", "50",
                                   "--quorum-timeout-ms", "3000", NULL};

static int is_status(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_STATUS && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

static int is_error_prefix(const resp_value *r, const char *p)
{
    return r && r->type == RESP_T_ERROR && r->len >= strlen(p) && memcmp(r->str, p, strlen(p)) == 0;
}

/* SETs PREFIX0..PREFIX(n-1) on node I; marks acked[j] for each OK. */
static int write_keys(ecluster *c, int i, const char *prefix, int n, char *acked)
{
    tclient *t = ec_connect(c, i);
    int ok = 0;
    for (int j = 0; j < n && t; j++) {
        char k[64], v[64];
        snprintf(k, sizeof k, "%s%d", prefix, j);
        snprintf(v, sizeof v, "v%d", j);
        resp_value *r = tc_cmd(t, "SET", k, v);
        if (is_status(r, "OK")) {
            acked[j] = 1;
            ok++;
        }
        resp_value_free(r);
    }
    tc_close(t);
    return ok;
}

/* Every acked key reads back from node I with its value. */
static int keys_present(ecluster *c, int i, const char *prefix, int n, const char *acked)
{
    tclient *t = ec_connect(c, i);
    int good = t != NULL;
    for (int j = 0; j < n && good; j++) {
        if (!acked[j]) continue;
        char k[64], v[64];
        snprintf(k, sizeof k, "%s%d", prefix, j);
        snprintf(v, sizeof v, "v%d", j);
        resp_value *r = tc_cmd(t, "GET", k);
        if (!r || r->type != RESP_T_BULK || r->len != strlen(v) || memcmp(r->str, v, r->len) != 0) {
            printf("   key %s missing or wrong on node %d: %.*s\n", k, i, r ? (int)r->len : 4,
                   r ? r->str : "null");
            good = 0;
        }
        resp_value_free(r);
    }
    tc_close(t);
    return good;
}

/* Retries SET on the leader until one is OK (the new leader's lease and
 * epoch-start record take a moment). */
static int set_ok_within(ecluster *c, int i, const char *k, const char *v, int ms)
{
    long long end = proc_now_ms() + ms;
    while (proc_now_ms() < end) {
        tclient *t = ec_connect(c, i);
        resp_value *r = t ? tc_cmd(t, "SET", k, v) : NULL;
        int ok = is_status(r, "OK");
        resp_value_free(r);
        tc_close(t);
        if (ok) return 1;
        usleep(20000); /* a retry pace, not a wait for a condition */
    }
    return 0;
}

static char *role_of(ecluster *c, int i)
{
    tclient *t = ec_connect(c, i);
    char *r = t ? tc_info_field(t, NULL, "election_role") : NULL;
    tc_close(t);
    return r;
}

typedef struct { ecluster *c; int i; const char *want; } role_wait;
static int role_is(void *ctx)
{
    role_wait *w = ctx;
    char *r = role_of(w->c, w->i);
    int ok = r && strcmp(r, w->want) == 0;
    free(r);
    return ok;
}

static void three_members(void)
{
    ecluster c;
    char acked[NKEYS] = {0}, acked2[NKEYS] = {0};
    test_section("1. three members elect one leader");
    test_cond("three elected nodes start", ec_start(&c, "elect3", 3, fast) == 0);
    int l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("one leader, every node agrees on it", l >= 0);
    if (l < 0) goto out;
    test_cond("its epoch is at least 1", ec_info_ll(&c, l, "election_epoch") >= 1);

    test_section("2. writes go to the leader; followers answer READONLY");
    test_cond("the leader takes a write", set_ok_within(&c, l, "hello", "world", 5000));
    int f = (l + 1) % 3;
    tclient *t = ec_connect(&c, f);
    resp_value *r = t ? tc_cmd(t, "SET", "x", "1") : NULL;
    test_cond("a follower refuses writes with READONLY", is_error_prefix(r, "READONLY"));
    resp_value_free(r);
    tc_close(t);
    test_cond("200 writes acknowledged on the leader", write_keys(&c, l, "a", NKEYS, acked) == NKEYS);
    test_cond("the leader reads them back", keys_present(&c, l, "a", NKEYS, acked));

    test_section("3. kill -9 of the leader: another takes over with every acknowledged write");
    long long t0 = proc_now_ms();
    test_cond("leader killed", ec_signal(&c, l, SIGKILL) != -1);
    int l2 = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("a new leader is elected", l2 >= 0 && l2 != l);
    if (l2 < 0) goto out;
    test_cond("it takes writes", set_ok_within(&c, l2, "after", "kill", 5000));
    printf("   first OK on the new leader %lld ms after the kill (election timeout " T_MS " ms)\n",
           proc_now_ms() - t0);
    test_cond("every write acknowledged before the kill is on it", keys_present(&c, l2, "a", NKEYS, acked));
    test_cond("more writes acknowledged", write_keys(&c, l2, "b", NKEYS, acked2) == NKEYS);

    test_section("4. the old leader comes back (same flags) as a follower");
    test_cond("restarted", ec_start_node(&c, l) == 0);
    role_wait w = {&c, l, "follower"};
    test_cond("it follows", proc_wait_until(role_is, &w, ELECT_WAIT_MS));
    test_cond("still one leader, the same", ec_wait_leader(&c, ELECT_WAIT_MS) == l2);
    test_cond("replicas converge", ec_wait_converged(&c, 15000));
    test_cond("the old leader has every acknowledged write", keys_present(&c, l, "b", NKEYS, acked2) &&
                                                             keys_present(&c, l, "a", NKEYS, acked));

    test_section("5. SIGSTOP of the leader beyond the election timeout");
    l = l2;
    tclient *paused = ec_connect(&c, l);
    test_cond("leader paused", ec_signal(&c, l, SIGSTOP) == 0);
    l2 = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("the others elect a new leader", l2 >= 0 && l2 != l);
    /* A write sent to the paused leader: read by it only after SIGCONT. */
    const char set[] = "*3\r\n$3\r\nSET\r\n$6\r\npaused\r\n$3\r\nyes\r\n";
    test_cond("a write queued for the paused leader", tc_send_raw(paused, set, sizeof set - 1) == 0);
    test_cond("the new leader takes writes", l2 >= 0 && set_ok_within(&c, l2, "during", "pause", 5000));
    test_cond("old leader resumed", ec_signal(&c, l, SIGCONT) == 0);
    r = tc_read(paused);
    test_cond("the queued write is not acknowledged by the old leader", !is_status(r, "OK"));
    if (r && r->type == RESP_T_ERROR) printf("   it answered: %.*s\n", (int)r->len, r->str);
    resp_value_free(r);
    tc_close(paused);
    role_wait w2 = {&c, l, "follower"};
    test_cond("the old leader steps down", proc_wait_until(role_is, &w2, ELECT_WAIT_MS));
    test_cond("one leader in the end", ec_wait_leader(&c, ELECT_WAIT_MS) >= 0);
    test_cond("replicas converge", ec_wait_converged(&c, 15000));

    test_section("6. CheckQuorum: a leader without a majority acknowledges nothing");
    l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("a leader", l >= 0);
    if (l < 0) goto out;
    int fa = (l + 1) % 3, fb = (l + 2) % 3;
    test_cond("both followers paused", ec_signal(&c, fa, SIGSTOP) == 0 && ec_signal(&c, fb, SIGSTOP) == 0);
    t = ec_connect(&c, l);
    r = t ? tc_cmd(t, "SET", "alone", "1") : NULL;
    test_cond("a write on the isolated leader is not acknowledged", r && !is_status(r, "OK"));
    resp_value_free(r);
    tc_close(t);
    role_wait w3 = {&c, l, "follower"};
    test_cond("the isolated leader steps down", proc_wait_until(role_is, &w3, ELECT_WAIT_MS));
    test_cond("followers resumed", ec_signal(&c, fa, SIGCONT) == 0 && ec_signal(&c, fb, SIGCONT) == 0);
    l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("a leader again", l >= 0);
    test_cond("it takes writes", l >= 0 && set_ok_within(&c, l, "again", "1", 5000));
    test_cond("replicas converge", ec_wait_converged(&c, 15000));
out:
    test_cond("all nodes exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
}

static void quorum_refused(void)
{
    test_section("7. --quorum below a majority is refused");
    char bin[PROC_PATH_MAX], log[PROC_PATH_MAX];
    char *dir = proc_tmpdir("elect-q");
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(log, sizeof log, "%s/log", dir ? dir : "/tmp");
    const char *const argv[] = {bin, "--node-id", "1", "--port", "0", "--data-dir", dir ? dir : "/tmp/x",
                                "--peers", "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3",
                                "--quorum", "0", NULL};
    pid_t pid = proc_spawn(argv, log);
    int st = proc_stop(pid, 0, 5000);
    test_cond("the server exits with status 2", st == 2);
    test_cond("and says why", cl_log_count(log, "fewer would let two leaders") == 1);
    if (dir) proc_rmtree(dir);
    free(dir);
}

static void five_members(void)
{
    ecluster c;
    char acked[NKEYS] = {0};
    test_section("8. five members survive the loss of two");
    test_cond("five elected nodes start", ec_start(&c, "elect5", 5, fast) == 0);
    int l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("one leader", l >= 0);
    if (l < 0) goto out;
    test_cond("writes acknowledged", write_keys(&c, l, "f", NKEYS, acked) == NKEYS);
    test_cond("leader killed", ec_signal(&c, l, SIGKILL) != -1);
    int l2 = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("a second leader", l2 >= 0);
    if (l2 < 0) goto out;
    test_cond("second leader killed", ec_signal(&c, l2, SIGKILL) != -1);
    int l3 = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("a third leader among the three left", l3 >= 0);
    test_cond("it takes writes", l3 >= 0 && set_ok_within(&c, l3, "three", "left", 5000));
    test_cond("every acknowledged write is there", l3 >= 0 && keys_present(&c, l3, "f", NKEYS, acked));
    test_cond("the two come back", ec_start_node(&c, l) == 0 && ec_start_node(&c, l2) == 0);
    test_cond("replicas converge", ec_wait_converged(&c, 20000));
out:
    test_cond("all nodes exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
}

static int role_is_str(ecluster *c, int i, const char *want)
{
    tclient *t = ec_connect(c, i);
    resp_value *r = t ? tc_cmd(t, "ROLE") : NULL;
    int ok = r && r->type == RESP_T_ARRAY && r->nelem >= 1 && r->elem[0]->type == RESP_T_BULK &&
             r->elem[0]->len == strlen(want) && memcmp(r->elem[0]->str, want, r->elem[0]->len) == 0;
    resp_value_free(r);
    tc_close(t);
    return ok;
}

typedef struct { ecluster *c; int i; } node_ref;
static int replicas_both(void *ctx)
{
    node_ref *w = ctx;
    tclient *t = ec_connect(w->c, w->i);
    resp_value *r = t ? tc_cmd(t, "SENTINEL", "replicas", "rkv") : NULL;
    int ok = r && r->type == RESP_T_ARRAY && r->nelem == 2;
    resp_value_free(r);
    tc_close(t);
    return ok;
}

typedef struct { ecluster *c; int want; } leader_is;
static int leader_is_cond(void *ctx)
{
    leader_is *w = ctx;
    return ec_leader(w->c) == w->want;
}

static void failover_cmd(void)
{
    ecluster c;
    char acked[NKEYS] = {0};
    test_section("9. FAILOVER TO: a planned handover");
    test_cond("three elected nodes start", ec_start(&c, "failover", 3, fast) == 0);
    int l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("one leader", l >= 0);
    if (l < 0) goto out;
    int to = (l + 1) % 3, watcher = (l + 2) % 3;
    test_cond("ROLE says master on the leader", role_is_str(&c, l, "master"));
    test_cond("ROLE says slave on a follower", role_is_str(&c, to, "slave"));
    node_ref nr = {&c, to};
    test_cond("a follower lists both followers in SENTINEL replicas (MEMBERS from the leader)",
              proc_wait_until(replicas_both, &nr, 5000));
    tclient *sub = ec_connect(&c, watcher);
    resp_value *r = sub ? tc_cmd(sub, "SUBSCRIBE", "+switch-master") : NULL;
    test_cond("a Sentinel client subscribes to +switch-master", r && r->type == RESP_T_ARRAY);
    resp_value_free(r);
    test_cond("writes acknowledged", write_keys(&c, l, "h", NKEYS, acked) == NKEYS);
    tclient *plain = ec_connect(&c, l);
    r = plain ? tc_cmd(plain, "PING") : NULL;
    resp_value_free(r);
    char port[16];
    snprintf(port, sizeof port, "%d", c.nd[to].port);
    tclient *t = ec_connect(&c, l);
    r = t ? tc_cmd(t, "FAILOVER", "TO", "127.0.0.1", port, "TIMEOUT", "5000") : NULL;
    test_cond("FAILOVER TO the follower answers OK", is_status(r, "OK"));
    if (r && r->type == RESP_T_ERROR) printf("   %.*s\n", (int)r->len, r->str);
    resp_value_free(r);
    tc_close(t);
    leader_is w = {&c, to};
    test_cond("the named follower leads", proc_wait_until(leader_is_cond, &w, ELECT_WAIT_MS));
    test_cond("it has every acknowledged write", keys_present(&c, to, "h", NKEYS, acked));
    test_cond("it takes writes", set_ok_within(&c, to, "handed", "over", 5000));
    test_cond("ROLE follows", role_is_str(&c, to, "master") && role_is_str(&c, l, "slave"));
    r = plain ? tc_cmd(plain, "PING") : NULL;
    test_cond("the old leader closed its client connections", r == NULL && tc_eof(plain));
    resp_value_free(r);
    tc_close(plain);
    char want[128];
    snprintf(want, sizeof want, "rkv 127.0.0.1 %d 127.0.0.1 %d", c.nd[l].port, c.nd[to].port);
    int heard = 0;
    for (int k = 0; k < 4 && !heard && sub; k++) { /* the last announcement names the new leader */
        r = tc_read(sub);
        if (r && r->type == RESP_T_ARRAY && r->nelem == 3 && r->elem[2]->len == strlen(want) &&
            memcmp(r->elem[2]->str, want, r->elem[2]->len) == 0)
            heard = 1;
        resp_value_free(r);
        if (!r) break;
    }
    test_cond("the subscriber heard +switch-master old -> new", heard);
    tc_close(sub);
out:
    test_cond("all nodes exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
}

static void peers_mismatch(void)
{
    ecluster c;
    test_section("10. a member with a different --peers list is refused");
    test_cond("three elected nodes start", ec_start(&c, "mismatch", 3, fast) == 0);
    test_cond("node 3 stopped", ec_signal(&c, 2, SIGTERM) == 0);
    char bin[PROC_PATH_MAX], port[16], peers[EC_PEERS_MAX];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(port, sizeof port, "%d", c.nd[2].port);
    /* The same members, but node 1 under a wrong port: a typo in one config. */
    snprintf(peers, sizeof peers, "1=127.0.0.1:%d,2=127.0.0.1:%d,3=127.0.0.1:%d",
             c.nd[0].repl_port + 1000 > 65535 ? c.nd[0].repl_port - 1000 : c.nd[0].repl_port + 1000,
             c.nd[1].repl_port, c.nd[2].repl_port);
    const char *const argv[] = {bin, "--node-id", "3", "--port", port, "--peers", peers,
                                "--data-dir", c.nd[2].dir, "--election-timeout-ms", T_MS,
                                "--heartbeat-ms", "50", "--cluster-secret-file", c.secret, NULL};
    pid_t odd = proc_spawn(argv, c.nd[2].log);
    tclient *t = tc_connect("127.0.0.1", c.nd[2].port, 10000);
    test_cond("it starts", t != NULL);
    tc_close(t);
    int l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("the two others elect a leader", l >= 0);
    test_cond("the odd node refuses it, saying why",
              cl_wait_log(c.nd[2].log, "different member list", ELECT_WAIT_MS));
    c.nd[2].pid = odd; /* for ec_info_ll and ec_stop */
    test_cond("and follows nobody", ec_info_ll(&c, 2, "leader_id") == 0);
    test_cond("all nodes exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
}

static void vote_not_persisted(void)
{
    ecluster c;
    char path[PROC_PATH_MAX + 16];
    test_section("11. no vote without its fsync");
    test_cond("three elected nodes start", ec_start(&c, "novote", 3, fast) == 0);
    int l = ec_wait_leader(&c, ELECT_WAIT_MS);
    test_cond("one leader", l >= 0);
    if (l < 0) goto out;
    int a = (l + 1) % 3;
    /* A directory where the temp file goes: every write of the epoch file fails. */
    snprintf(path, sizeof path, "%s/epoch.tmp", c.nd[a].dir);
    test_cond("node a's epoch file made unwritable", mkdir(path, 0755) == 0);
    test_cond("leader killed", ec_signal(&c, l, SIGKILL) != -1);
    test_cond("no leader while node a cannot persist a vote", ec_wait_leader(&c, 2500) < 0);
    test_cond("node a says why", cl_wait_log(c.nd[a].log, "cannot persist epoch", 1000));
    test_cond("its epoch file writable again", rmdir(path) == 0);
    test_cond("then a leader is elected", ec_wait_leader(&c, ELECT_WAIT_MS) >= 0);
out:
    test_cond("all nodes exit cleanly", ec_stop(&c, test_failed_ > 0) == 0);
}

int main(void)
{
    cl_watchdog(WATCHDOG_S);
    signal(SIGPIPE, SIG_IGN);
    three_members();
    quorum_refused();
    five_members();
    failover_cmd();
    peers_mismatch();
    vote_not_persisted();
    return test_report();
}
