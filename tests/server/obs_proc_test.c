/* obs_proc_test.c -- the observability commands on a real rkv-server
 * process (docs/MONITORING.md):
 *   - INFO: every section Redis 7 has and the fields tools read, several
 *     sections at once, default / all / everything membership, case;
 *     instantaneous_ops_per_sec under load and back to 0, net input bytes
 *     growing by what was sent, keyspace hits / misses exact, commandstats
 *     calls exact, rejected (arity) and failed (WRONGTYPE-like / not an
 *     integer) calls, errorstats, latencystats;
 *   - SLOWLOG (slower-than 0 logs everything, max-len, RESET, Redis's
 *     argument truncation), LATENCY HISTOGRAM shape and counts, LATENCY
 *     LATEST after DEBUG SLEEP with a threshold;
 *   - MONITOR: another client's commands in Redis's format; a monitor that
 *     never reads is dropped past --monitor-buffer-limit while the server's
 *     RSS stays bounded and another client is served;
 *   - MEMORY USAGE / STATS, DEBUG refused by default, SAVE + LASTSAVE and a
 *     checkpoint, SHUTDOWN NOSAVE (exit 0, acknowledged writes there after
 *     a restart). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../testhelp.h"

#define START_MS 15000
#define MON_LIMIT (256 * 1024) /* --monitor-buffer-limit of the test server */

static int port;
static char bin[PROC_PATH_MAX], logpath[PROC_PATH_MAX], *dir;

static pid_t start(const char *const *extra)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *argv[32] = {bin, "--port", portstr, "--data-dir", dir, "--log-file", logpath};
    int k = 7;
    for (int i = 0; extra && extra[i] && k < 30; i++) argv[k++] = extra[i];
    argv[k] = NULL;
    pid_t pid = proc_spawn(argv, NULL);
    tclient *t = tc_connect("127.0.0.1", port, START_MS);
    tc_close(t);
    return t ? pid : -1;
}

static int is_status(resp_value *r, const char *s)
{
    int ok = r && r->type == RESP_T_STATUS && strcmp(r->str, s) == 0;
    resp_value_free(r);
    return ok;
}

static int is_int(resp_value *r, long long v)
{
    int ok = r && r->type == RESP_T_INT && r->integer == v;
    resp_value_free(r);
    return ok;
}

static int is_err(resp_value *r, const char *prefix)
{
    int ok = r && r->type == RESP_T_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
    resp_value_free(r);
    return ok;
}

static long long info_ll(tclient *c, const char *section, const char *field)
{
    char *v = tc_info_field(c, section, field);
    long long x = v ? atoll(v) : -1;
    free(v);
    return x;
}

static int has_line(const char *text, const char *line)
{
    return text && strstr(text, line) != NULL;
}

static char *info_text(tclient *c, const char *a, const char *b)
{
    resp_value *r = b ? tc_cmd(c, "INFO", a, b) : a ? tc_cmd(c, "INFO", a) : tc_cmd(c, "INFO");
    char *s = r && r->type == RESP_T_BULK ? strdup(r->str) : NULL;
    resp_value_free(r);
    return s;
}

static void test_info(tclient *c)
{
    test_section("INFO sections and fields");
    char *all = info_text(c, "everything", NULL);
    static const char *const sections[] = {"# Server", "# Clients", "# Memory", "# Persistence",
                                           "# Stats", "# Replication", "# CPU", "# Modules",
                                           "# Commandstats", "# Errorstats", "# Latencystats",
                                           "# Cluster", "# Keyspace"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        test_cond(sections[i], has_line(all, sections[i]));
    static const char *const fields[] = {
        "redis_version:", "redis_git_sha1:", "redis_mode:standalone", "os:", "arch_bits:",
        "multiplexing_api:epoll", "process_id:", "run_id:", "tcp_port:", "server_time_usec:",
        "uptime_in_seconds:", "uptime_in_days:", "hz:", "lru_clock:", "executable:",
        "io_threads_active:0", "connected_clients:", "cluster_connections:0", "maxclients:",
        "client_recent_max_input_buffer:", "blocked_clients:", "used_memory:",
        "used_memory_human:", "used_memory_rss:", "used_memory_peak:", "used_memory_peak_perc:",
        "used_memory_overhead:", "used_memory_startup:", "used_memory_dataset:",
        "total_system_memory:", "used_memory_lua:0", "maxmemory:", "maxmemory_human:",
        "maxmemory_policy:", "mem_fragmentation_ratio:", "mem_allocator:libc",
        "lazyfree_pending_objects:0", "loading:0", "rdb_changes_since_last_save:",
        "rdb_bgsave_in_progress:", "rdb_last_save_time:", "rdb_last_bgsave_status:ok",
        "aof_enabled:", "aof_last_write_status:ok", "total_connections_received:",
        "total_commands_processed:", "instantaneous_ops_per_sec:", "total_net_input_bytes:",
        "total_net_output_bytes:", "instantaneous_input_kbps:", "rejected_connections:",
        "expired_keys:", "evicted_keys:", "keyspace_hits:", "keyspace_misses:",
        "pubsub_channels:", "latest_fork_usec:", "total_forks:", "total_error_replies:",
        "total_reads_processed:", "total_writes_processed:", "rkv_wal_fsync_usec_p99:",
        "rkv_quorum_wait_usec_p99:", "role:master", "master_repl_offset:", "used_cpu_sys:",
        "cluster_enabled:0"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        test_cond(fields[i], has_line(all, fields[i]));
    free(all);
    char *two = info_text(c, "server", "CLIENTS");
    test_cond("INFO server CLIENTS: both, nothing else",
              has_line(two, "# Server") && has_line(two, "# Clients") && !has_line(two, "# Memory"));
    free(two);
    char *def = info_text(c, NULL, NULL), *dflt = info_text(c, "default", NULL),
         *al = info_text(c, "ALL", NULL);
    test_cond("plain INFO: no commandstats, no latencystats, errorstats and modules",
              def && !has_line(def, "# Commandstats") && !has_line(def, "# Latencystats") &&
                  has_line(def, "# Errorstats") && has_line(def, "# Modules"));
    test_cond("INFO default: the same sections",
              dflt && !has_line(dflt, "# Commandstats") && has_line(dflt, "# Keyspace"));
    test_cond("INFO all: commandstats and latencystats",
              al && has_line(al, "# Commandstats") && has_line(al, "# Latencystats"));
    free(def);
    free(dflt);
    free(al);
    char *none = info_text(c, "nosuchsection", NULL);
    test_cond("INFO of an unknown section: empty", none && none[0] == 0);
    free(none);
}

static void test_counters(tclient *c)
{
    test_section("stats: hits, misses, net bytes, commandstats, errors");
    test_cond("CONFIG RESETSTAT", is_status(tc_cmd(c, "CONFIG", "RESETSTAT"), "OK"));
    resp_value_free(tc_cmd(c, "SET", "hit1", "v"));
    resp_value_free(tc_cmd(c, "SET", "hit2", "v"));
    resp_value_free(tc_cmd(c, "CONFIG", "RESETSTAT"));
    resp_value_free(tc_cmd(c, "GET", "hit1"));
    resp_value_free(tc_cmd(c, "GET", "hit2"));
    resp_value_free(tc_cmd(c, "GET", "miss1"));
    resp_value_free(tc_cmd(c, "MGET", "hit1", "miss2", "miss3"));
    resp_value_free(tc_cmd(c, "EXISTS", "hit2"));
    test_cond("keyspace_hits 4", info_ll(c, "stats", "keyspace_hits") == 4);
    test_cond("keyspace_misses 3", info_ll(c, "stats", "keyspace_misses") == 3);
    long long in0 = info_ll(c, "stats", "total_net_input_bytes");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    resp_value_free(tc_cmd(c, "ECHO", big)); /* *2 $4 ECHO $999 ... \r\n: 1021 bytes */
    long long in1 = info_ll(c, "stats", "total_net_input_bytes");
    /* + the INFO command itself: *2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n = 25 */
    test_cond("total_net_input_bytes grows by what was sent", in1 - in0 == 1021 + 25);
    for (int i = 0; i < 10; i++) resp_value_free(tc_cmd(c, "SET", "cs", "v"));
    char *v = tc_info_field(c, "commandstats", "cmdstat_set");
    test_cond("cmdstat_set calls=10 (the 2 before RESETSTAT do not count)",
              v && strncmp(v, "calls=10,", 9) == 0);
    free(v);
    test_cond("wrong arity refused", is_err(tc_cmd(c, "GET"), "ERR wrong number"));
    test_cond("INCR of a non-integer fails", is_err(tc_cmd(c, "INCR", "cs"), "ERR value is not"));
    v = tc_info_field(c, "commandstats", "cmdstat_get");
    test_cond("cmdstat_get rejected_calls=1 failed_calls=0",
              v && strstr(v, "rejected_calls=1,failed_calls=0"));
    free(v);
    v = tc_info_field(c, "commandstats", "cmdstat_incr");
    test_cond("cmdstat_incr calls=1 failed_calls=1", v && strncmp(v, "calls=1,", 8) == 0 &&
                                                         strstr(v, "failed_calls=1"));
    free(v);
    v = tc_info_field(c, "errorstats", "errorstat_ERR");
    test_cond("errorstat_ERR:count=2", v && strcmp(v, "count=2") == 0);
    free(v);
    test_cond("total_error_replies 2", info_ll(c, "stats", "total_error_replies") == 2);
    v = tc_info_field(c, "latencystats", "latency_percentiles_usec_set");
    test_cond("latencystats for set, p50 p99 p99.9",
              v && strstr(v, "p50=") && strstr(v, ",p99=") && strstr(v, ",p99.9="));
    free(v);
    v = tc_info_field(c, "commandstats", "cmdstat_rkv_reply|set");
    test_cond("rkv's reply time of set (after its commit)", v && strncmp(v, "calls=10,", 9) == 0);
    free(v);
}

typedef struct ops_ctx {
    tclient *c;
    int want_zero;
} ops_ctx;

static int ops_is(void *p)
{
    ops_ctx *o = p;
    long long v = info_ll(o->c, "stats", "instantaneous_ops_per_sec");
    return o->want_zero ? v == 0 : v > 50;
}

static void test_ops(tclient *c)
{
    test_section("instantaneous_ops_per_sec");
    tclient *load = tc_connect("127.0.0.1", port, START_MS);
    long long t0 = proc_now_ms();
    int seen = 0;
    ops_ctx oc = {c, 0};
    while (proc_now_ms() - t0 < 5000 && !seen) {
        for (int i = 0; i < 200; i++) resp_value_free(tc_cmd(load, "PING"));
        seen = ops_is(&oc);
    }
    test_cond("instantaneous_ops_per_sec > 50 under load", seen);
    tc_close(load);
    /* INFO itself is a command: the rate averages the last 16 samples of
     * 100 ms, so it reads 0 only when the previous INFO is more than 1.6 s
     * old (as Redis's). */
    int zero = 0;
    t0 = proc_now_ms();
    while (proc_now_ms() - t0 < 10000 && !zero) {
        usleep(2000 * 1000);
        zero = ops_is(&(ops_ctx){c, 1});
    }
    test_cond("back to 0 when idle", zero);
}

static void test_slowlog(tclient *c)
{
    test_section("SLOWLOG");
    resp_value_free(tc_cmd(c, "CONFIG", "SET", "slowlog-log-slower-than", "0"));
    resp_value_free(tc_cmd(c, "CONFIG", "SET", "slowlog-max-len", "5"));
    test_cond("SLOWLOG RESET", is_status(tc_cmd(c, "SLOWLOG", "RESET"), "OK"));
    test_cond("SLOWLOG LEN after RESET: the RESET", is_int(tc_cmd(c, "SLOWLOG", "LEN"), 1));
    char longarg[300];
    memset(longarg, 'a', 200);
    longarg[200] = 0;
    resp_value_free(tc_cmd(c, "SET", "slowkey", longarg));
    resp_value *r = tc_cmd(c, "SLOWLOG", "GET", "1");
    int shape = r && r->type == RESP_T_ARRAY && r->nelem == 1 && r->elem[0]->nelem == 6;
    test_cond("SLOWLOG GET 1: one entry of 6 fields", shape);
    if (shape) {
        resp_value *e = r->elem[0], *args = e->elem[3];
        test_cond("entry: id, time, duration are integers",
                  e->elem[0]->type == RESP_T_INT && e->elem[1]->type == RESP_T_INT &&
                      e->elem[2]->type == RESP_T_INT);
        test_cond("entry: SET slowkey <128 bytes>... (72 more bytes)",
                  args->nelem == 3 && strcmp(args->elem[0]->str, "SET") == 0 &&
                      strncmp(args->elem[2]->str + 128, "... (72 more bytes)", 19) == 0 &&
                      args->elem[2]->len == 128 + 19);
        test_cond("entry: the client's address", strncmp(e->elem[4]->str, "127.0.0.1:", 10) == 0);
    }
    resp_value_free(r);
    const char *many[40];
    many[0] = "DEL";
    for (int i = 1; i < 40; i++) many[i] = "k";
    resp_value_free(tc_cmdv(c, 40, many, NULL));
    r = tc_cmd(c, "SLOWLOG", "GET", "1");
    test_cond("40 arguments: 31 shown and '... (9 more arguments)'",
              r && r->nelem == 1 && r->elem[0]->elem[3]->nelem == 32 &&
                  strcmp(r->elem[0]->elem[3]->elem[31]->str, "... (9 more arguments)") == 0);
    resp_value_free(r);
    for (int i = 0; i < 10; i++) resp_value_free(tc_cmd(c, "PING"));
    test_cond("slowlog-max-len 5 bounds it", is_int(tc_cmd(c, "SLOWLOG", "LEN"), 5));
    r = tc_cmd(c, "SLOWLOG", "GET", "-1");
    test_cond("SLOWLOG GET -1: all 5", r && r->type == RESP_T_ARRAY && r->nelem == 5);
    resp_value_free(r);
    test_cond("SLOWLOG GET -2: Redis's error",
              is_err(tc_cmd(c, "SLOWLOG", "GET", "-2"), "ERR count should be greater than or equal to -1"));
    resp_value_free(tc_cmd(c, "CONFIG", "SET", "slowlog-log-slower-than", "10000"));
}

static void test_latency(tclient *c)
{
    test_section("LATENCY");
    resp_value_free(tc_cmd(c, "CONFIG", "RESETSTAT"));
    for (int i = 0; i < 7; i++) resp_value_free(tc_cmd(c, "SET", "lk", "v"));
    resp_value *r = tc_cmd(c, "LATENCY", "HISTOGRAM", "set");
    int ok = r && r->type == RESP_T_ARRAY && r->nelem == 2 && strcmp(r->elem[0]->str, "set") == 0;
    test_cond("LATENCY HISTOGRAM set: set => {...}", ok);
    if (ok) {
        resp_value *m = r->elem[1];
        test_cond("calls 7", m->nelem == 4 && strcmp(m->elem[0]->str, "calls") == 0 &&
                                 m->elem[1]->integer == 7);
        resp_value *h = m->elem[3];
        test_cond("histogram_usec: pairs, cumulative, ending at 7",
                  strcmp(m->elem[2]->str, "histogram_usec") == 0 && h->nelem >= 2 &&
                      h->nelem % 2 == 0 && h->elem[h->nelem - 1]->integer == 7);
    }
    resp_value_free(r);
    test_cond("CONFIG SET latency-monitor-threshold 50",
              is_status(tc_cmd(c, "CONFIG", "SET", "latency-monitor-threshold", "50"), "OK"));
    test_cond("DEBUG SLEEP 0.12", is_status(tc_cmd(c, "DEBUG", "SLEEP", "0.12"), "OK"));
    r = tc_cmd(c, "LATENCY", "LATEST");
    ok = 0;
    for (size_t i = 0; r && r->type == RESP_T_ARRAY && i < r->nelem; i++) {
        resp_value *e = r->elem[i];
        if (e->nelem == 4 && strcmp(e->elem[0]->str, "command") == 0)
            ok = e->elem[2]->integer >= 120 && e->elem[3]->integer >= 120 && e->elem[1]->integer > 0;
    }
    test_cond("LATENCY LATEST: command, time, >= 120 ms, max", ok);
    resp_value_free(r);
    r = tc_cmd(c, "LATENCY", "HISTORY", "command");
    test_cond("LATENCY HISTORY command: one [time, ms]", r && r->nelem == 1 && r->elem[0]->nelem == 2);
    resp_value_free(r);
    test_cond("LATENCY RESET: 1", is_int(tc_cmd(c, "LATENCY", "RESET"), 1));
    resp_value_free(tc_cmd(c, "CONFIG", "SET", "latency-monitor-threshold", "0"));
}

static int mon_read(int fd, char *buf, size_t cap, size_t *len, const char *want)
{
    long long t0 = proc_now_ms();
    while (proc_now_ms() - t0 < 5000) {
        buf[*len] = 0;
        if (strstr(buf, want)) return 1;
        ssize_t r = recv(fd, buf + *len, cap - 1 - *len, MSG_DONTWAIT);
        if (r > 0) *len += (size_t)r;
        else usleep(5000);
    }
    return 0;
}

static long long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    long long kb = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = atoll(line + 6);
    if (fp) fclose(fp);
    return kb;
}

static void test_monitor(tclient *c, pid_t pid)
{
    test_section("MONITOR");
    tclient *m = tc_connect("127.0.0.1", port, START_MS);
    test_cond("MONITOR: OK", is_status(tc_cmd(m, "MONITOR"), "OK"));
    resp_value_free(tc_cmd(c, "SET", "mk", "a b\"\n"));
    resp_value_free(tc_cmd(c, "AUTH", "secretpw"));
    char buf[8192] = {0};
    size_t len = 0;
    test_cond("the other client's SET, quoted as Redis",
              mon_read(tc_fd(m), buf, sizeof buf, &len, "\"SET\" \"mk\" \"a b\\\"\\n\"\r\n"));
    test_cond("with time and [db addr]", buf[0] == '+' && strstr(buf, " [0 127.0.0.1:"));
    test_cond("AUTH redacted", mon_read(tc_fd(m), buf, sizeof buf, &len, "\"AUTH\" \"(redacted)\""));
    test_cond("no password in the feed", !strstr(buf, "secretpw"));
    tc_close(m);

    /* A monitor that never reads: dropped once MON_LIMIT is unsent. */
    tclient *slow = tc_connect("127.0.0.1", port, START_MS);
    int one = 4096;
    setsockopt(tc_fd(slow), SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    resp_value_free(tc_cmd(slow, "MONITOR"));
    long long rss0 = rss_kb(pid);
    char val[4000];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = 0;
    long long t0 = proc_now_ms();
    long long dropped = 0;
    while (proc_now_ms() - t0 < 20000 && dropped == 0) {
        for (int i = 0; i < 100; i++) resp_value_free(tc_cmd(c, "SET", "mon", val));
        char *v = tc_info_field(c, "stats", "rkv_monitors_dropped");
        dropped = v ? atoll(v) : 0;
        free(v);
    }
    test_cond("the monitor that does not read is dropped", dropped == 1);
    long long rss1 = rss_kb(pid);
    test_cond("RSS stayed bounded (< 32 MiB more)", rss1 > 0 && rss1 - rss0 < 32 * 1024);
    test_cond("the other client is served", is_status(tc_cmd(c, "PING"), "PONG"));
    tc_close(slow);
}

static void test_memory(tclient *c)
{
    test_section("MEMORY");
    resp_value_free(tc_cmd(c, "SET", "small", "x"));
    char big[20000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    resp_value_free(tc_cmd(c, "SET", "bigk", big));
    resp_value *a = tc_cmd(c, "MEMORY", "USAGE", "small"), *b = tc_cmd(c, "MEMORY", "USAGE", "bigk");
    test_cond("MEMORY USAGE grows with the value",
              a && b && a->type == RESP_T_INT && b->type == RESP_T_INT && a->integer > 0 &&
                  b->integer >= a->integer + 19000);
    resp_value_free(a);
    resp_value_free(b);
    resp_value *r = tc_cmd(c, "MEMORY", "USAGE", "nosuchkey");
    test_cond("MEMORY USAGE of a missing key: nil", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    r = tc_cmd(c, "MEMORY", "STATS");
    int ok = r && r->type == RESP_T_ARRAY && r->nelem % 2 == 0 && r->nelem > 40 &&
             strcmp(r->elem[0]->str, "peak.allocated") == 0 &&
             strcmp(r->elem[2]->str, "total.allocated") == 0;
    int keys = 0;
    for (size_t i = 0; ok && i + 1 < r->nelem; i += 2)
        keys |= strcmp(r->elem[i]->str, "keys.count") == 0 && r->elem[i + 1]->integer > 0;
    test_cond("MEMORY STATS: Redis's map, keys.count", ok && keys);
    resp_value_free(r);
    test_cond("MEMORY PURGE", is_status(tc_cmd(c, "MEMORY", "PURGE"), "OK"));
    r = tc_cmd(c, "DEBUG", "OBJECT", "small");
    test_cond("DEBUG OBJECT: Redis's line", r && r->type == RESP_T_STATUS &&
                                                strstr(r->str, "refcount:1 encoding:embstr"));
    resp_value_free(r);
}

static int ckpt_exists(void)
{
    char cmd[PROC_PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "find '%s' -name 'snapshot-*.snap' | grep -q .", dir);
    return system(cmd) == 0;
}

static void test_save(tclient *c)
{
    test_section("SAVE, LASTSAVE");
    resp_value *r = tc_cmd(c, "LASTSAVE");
    long long before = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    sleep(1); /* LASTSAVE counts seconds */
    resp_value_free(tc_cmd(c, "SET", "saved", "1"));
    test_cond("SAVE: OK once written", is_status(tc_cmd(c, "SAVE"), "OK"));
    r = tc_cmd(c, "LASTSAVE");
    test_cond("LASTSAVE moved", r && r->type == RESP_T_INT && r->integer > before);
    resp_value_free(r);
    test_cond("a checkpoint is on disk", ckpt_exists());
    test_cond("SAVE inside MULTI refused", is_status(tc_cmd(c, "MULTI"), "OK") &&
                                               is_err(tc_cmd(c, "SAVE"), "ERR Command not allowed inside a transaction"));
    resp_value_free(tc_cmd(c, "DISCARD"));
    test_cond("SHUTDOWN ABORT", is_err(tc_cmd(c, "SHUTDOWN", "ABORT"), "ERR No shutdown in progress."));
}

/* CLIENT LIST's multi-mem: what a client's open MULTI holds. */
static void test_client_list(tclient *c)
{
    test_section("CLIENT LIST multi-mem");
    tclient *m = tc_connect("127.0.0.1", port, START_MS);
    resp_value_free(m ? tc_cmd(m, "CLIENT", "SETNAME", "queuer") : NULL);
    resp_value_free(m ? tc_cmd(m, "MULTI") : NULL);
    resp_value_free(m ? tc_cmd(m, "SET", "k", "0123456789012345678901234567890123456789") : NULL);
    resp_value *r = tc_cmd(c, "CLIENT", "LIST");
    const char *line = r && r->type == RESP_T_BULK ? strstr(r->str, "name=queuer ") : NULL;
    const char *mm = line ? strstr(line, " multi-mem=") : NULL;
    long long v = mm ? atoll(mm + 11) : -1;
    test_cond("a client with 45 bytes queued shows multi-mem of at least them",
              line && strstr(line, " multi=1 ") && v >= 45);
    resp_value_free(r);
    resp_value_free(m ? tc_cmd(m, "DISCARD") : NULL);
    r = tc_cmd(c, "CLIENT", "LIST");
    line = r && r->type == RESP_T_BULK ? strstr(r->str, "name=queuer ") : NULL;
    test_cond("after DISCARD: multi-mem=0", line && strstr(line, " multi-mem=0 "));
    resp_value_free(r);
    tc_close(m);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    dir = proc_tmpdir("obs");
    port = proc_free_port();
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(logpath, sizeof logpath, "%s.log", dir ? dir : "/tmp/rkv-obs");
    char lim[32];
    snprintf(lim, sizeof lim, "%d", MON_LIMIT);
    const char *const plain[] = {NULL};
    pid_t pid = start(plain);
    test_cond("the server starts", pid > 0);
    tclient *c = tc_connect("127.0.0.1", port, START_MS);
    test_section("DEBUG refused by default");
    test_cond("DEBUG SLEEP refused", is_err(tc_cmd(c, "DEBUG", "SLEEP", "0"), "ERR DEBUG command not allowed"));
    resp_value *dg = tc_cmd(c, "DEBUG", "DIGEST");
    test_cond("DEBUG DIGEST allowed (rkv's replica check)", dg && dg->type == RESP_T_STATUS);
    resp_value_free(dg);
    tc_close(c);
    test_cond("stops on SIGTERM", proc_stop(pid, SIGTERM, START_MS) == 0);

    const char *const dbg[] = {"--enable-debug-command", "yes", "--monitor-buffer-limit", lim, NULL};
    pid = start(dbg);
    c = tc_connect("127.0.0.1", port, START_MS);
    test_info(c);
    test_counters(c);
    test_ops(c);
    test_slowlog(c);
    test_latency(c);
    test_monitor(c, pid);
    test_memory(c);
    test_client_list(c);
    test_save(c);

    test_section("SHUTDOWN NOSAVE");
    resp_value_free(tc_cmd(c, "SET", "acked", "yes"));
    resp_value *r = tc_cmd(c, "SHUTDOWN", "NOSAVE");
    test_cond("SHUTDOWN: no reply, the connection closes", r == NULL);
    resp_value_free(r);
    tc_close(c);
    test_cond("the process exits 0", proc_stop(pid, 0, START_MS) == 0);
    pid = start(dbg);
    c = tc_connect("127.0.0.1", port, START_MS);
    r = tc_cmd(c, "GET", "acked");
    test_cond("after a restart the acknowledged write is there",
              r && r->type == RESP_T_BULK && strcmp(r->str, "yes") == 0);
    resp_value_free(r);
    tc_close(c);
    test_cond("it exits cleanly", proc_stop(pid, SIGTERM, START_MS) == 0);
    if (test_failed_ == 0 && dir) {
        proc_rmtree(dir);
        remove(logpath);
    } else {
        printf("files kept: %s, %s\n", dir ? dir : "", logpath);
    }
    free(dir);
    return test_report();
}
