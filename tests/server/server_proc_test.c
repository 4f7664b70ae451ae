/* server_proc_test.c -- rkv-server as a real process, driven over TCP.
 *
 * Starts rkv-server processes on free ports with fresh data directories and
 * checks what a client sees: every command and its errors, pipelining and
 * inline commands, every limit (each refused with nothing written), malformed
 * frames (bad lengths, wrong type bytes, bad CRLF, a command split at every
 * byte boundary, binary and empty values), streams of garbage, kill -9 under
 * write load with no acknowledged write lost, the config file and flag
 * errors, and a SIGTERM shutdown under valgrind with every block freed.
 * Every wait is a condition with a deadline; every server started is stopped
 * by its PID, on failure paths too. Logs and data directories are kept (and
 * their paths printed) when a test fails. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/proc.h"
#include "../testhelp.h"

#define HOST "127.0.0.1"
#define IO_TIMEOUT_MS 10000                        /* one command's reply */
#define START_TIMEOUT_MS 15000                     /* a server to listen */
#define STOP_TIMEOUT_MS 15000                      /* a server to exit after SIGTERM */
#define VG_TIMEOUT_MS 60000                        /* the same, under valgrind */
#define MAX_SERVERS 16                             /* started at once by this binary */
#define MAX_DIRS 32                                /* temp directories created */
#define GARBAGE_TOTAL_BYTES (1024LL * 1024 * 1024) /* "1 GiB of garbage" */
#define GARBAGE_CHUNK_BYTES (1024 * 1024)

/* ---- servers ---- */

typedef struct srv {
    pid_t pid; /* -1 once stopped */
    int port;
    char dir[PROC_PATH_MAX]; /* data directory */
    char log[PROC_PATH_MAX]; /* stdout + stderr */
} srv;

static char *g_base;              /* logs and config files */
static pid_t g_live[MAX_SERVERS]; /* started and not yet stopped */
static char *g_dirs[MAX_DIRS];
static int g_ndirs, g_nlogs;

static void live_add(pid_t pid)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_live[i] == 0) {
            g_live[i] = pid;
            return;
        }
}

static void live_remove(pid_t pid)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_live[i] == pid) g_live[i] = 0;
}

static const char *new_dir(const char *tag)
{
    char *d = proc_tmpdir(tag);
    if (d && g_ndirs < MAX_DIRS) g_dirs[g_ndirs++] = d;
    return d;
}

typedef struct listen_wait {
    pid_t pid;
    int port;
    int exited; /* proc_exited() code when the process ended first */
} listen_wait;

static int listening_or_exited(void *arg)
{
    listen_wait *w = arg;
    tclient *c = tc_connect(HOST, w->port, 0);
    if (c) {
        tc_close(c);
        return 1;
    }
    int code = proc_exited(w->pid);
    if (code == -2) return 0;
    w->exited = code < 0 ? 255 : code;
    return 1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap + 1);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n == cap) {
            char *q = realloc(p, cap * 2 + 1);
            if (!q) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
    }
    fclose(fp);
    if (p) p[n] = 0;
    if (len) *len = n;
    return p;
}

static int file_contains(const char *path, const char *needle)
{
    char *s = slurp(path, NULL);
    int hit = s && strstr(s, needle) != NULL;
    free(s);
    return hit;
}

static void print_log_tail(const char *path)
{
    size_t n;
    char *s = slurp(path, &n);
    if (!s) return;
    const char *from = n > 2000 ? s + n - 2000 : s;
    printf("   --- %s (tail) ---\n%s\n   ---\n", path, from);
    free(s);
}

/* Starts rkv-server (under valgrind if VG) on a free port with data dir DIR
 * (NULL: a new temp dir) and EXTRA flags; waits until it listens. Retries
 * with another port if the one picked was taken meanwhile. 0 or -1. */
static int srv_start_ex(srv *s, const char *dir, const char *const *extra, int vg)
{
    char bin[PROC_PATH_MAX];
    if (proc_build_path(bin, sizeof bin, "rkv-server") < 0) return -1;
    if (!dir && !(dir = new_dir("srvdata"))) return -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->pid = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        char portstr[16];
        const char *argv[64];
        int a = 0;
        s->port = proc_free_port();
        snprintf(portstr, sizeof portstr, "%d", s->port);
        snprintf(s->log, sizeof s->log, "%s/server-%02d.log", g_base, ++g_nlogs);
        if (vg) {
            argv[a++] = "valgrind";
            argv[a++] = "--leak-check=full";
            argv[a++] = "--errors-for-leak-kinds=all";
            argv[a++] = "--error-exitcode=99";
        }
        argv[a++] = bin;
        argv[a++] = "--port";
        argv[a++] = portstr;
        argv[a++] = "--data-dir";
        argv[a++] = s->dir;
        for (int i = 0; extra && extra[i] && a < 62; i++)
            argv[a++] = extra[i];
        argv[a] = NULL;
        pid_t pid = proc_spawn(argv, s->log);
        if (pid < 0) return -1;
        listen_wait w = {pid, s->port, -1};
        int ok = proc_wait_until(listening_or_exited, &w, vg ? VG_TIMEOUT_MS : START_TIMEOUT_MS);
        if (ok && w.exited < 0) {
            s->pid = pid;
            live_add(pid);
            return 0;
        }
        if (!ok) {
            proc_stop(pid, SIGKILL, STOP_TIMEOUT_MS);
            printf("   server did not listen within the deadline\n");
            print_log_tail(s->log);
            return -1;
        }
        if (!file_contains(s->log, "in use")) {
            printf("   server exited with %d at start\n", w.exited);
            print_log_tail(s->log);
            return -1;
        }
    }
    return -1;
}

static int srv_start(srv *s, const char *const *extra)
{
    return srv_start_ex(s, NULL, extra, 0);
}

/* Sends SIG and waits for the exit; returns proc_stop's code. */
static int srv_stop(srv *s, int sig, int timeout_ms)
{
    if (s->pid <= 0) return -1;
    int code = proc_stop(s->pid, sig, timeout_ms);
    live_remove(s->pid);
    s->pid = -1;
    return code;
}

/* 1 while the server process runs (reaps it if it has exited). */
static int srv_alive(srv *s)
{
    if (s->pid <= 0) return 0;
    int code = proc_exited(s->pid);
    if (code == -2) return 1;
    printf("   server %d exited unexpectedly with %d\n", (int)s->pid, code);
    print_log_tail(s->log);
    live_remove(s->pid);
    s->pid = -1;
    return 0;
}

static tclient *srv_client(const srv *s)
{
    return tc_connect(HOST, s->port, IO_TIMEOUT_MS);
}

/* ---- replies ---- */

static void show(const char *label, const resp_value *r)
{
    if (!r) {
        printf("   %s: no reply\n", label);
        return;
    }
    switch (r->type) {
    case RESP_T_STATUS:
    case RESP_T_ERROR:
    case RESP_T_BULK:
        printf("   %s: %c%.*s%s (%zu bytes)\n", label, r->type, r->len > 200 ? 200 : (int)r->len,
               r->str, r->len > 200 ? "..." : "", r->len);
        break;
    case RESP_T_INT:
        printf("   %s: :%lld\n", label, r->integer);
        break;
    case RESP_T_NIL:
        printf("   %s: nil\n", label);
        break;
    case RESP_T_ARRAY:
        printf("   %s: array of %zu\n", label, r->nelem);
        break;
    }
}

/* Each want_* checks one reply, prints it on a mismatch and frees it. */
static int want_status(resp_value *r, const char *s)
{
    int ok = r && r->type == RESP_T_STATUS && strcmp(r->str, s) == 0;
    if (!ok) {
        printf("   expected +%s\n", s);
        show("got", r);
    }
    resp_value_free(r);
    return ok;
}

static int want_error(resp_value *r, const char *prefix)
{
    int ok = r && r->type == RESP_T_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
    if (!ok) {
        printf("   expected -%s...\n", prefix);
        show("got", r);
    }
    resp_value_free(r);
    return ok;
}

static int want_error_exact(resp_value *r, const char *msg)
{
    int ok = r && r->type == RESP_T_ERROR && strcmp(r->str, msg) == 0;
    if (!ok) {
        printf("   expected -%s\n", msg);
        show("got", r);
    }
    resp_value_free(r);
    return ok;
}

static int want_int(resp_value *r, long long v)
{
    int ok = r && r->type == RESP_T_INT && r->integer == v;
    if (!ok) {
        printf("   expected :%lld\n", v);
        show("got", r);
    }
    resp_value_free(r);
    return ok;
}

static int want_bulk(resp_value *r, const void *p, size_t len)
{
    int ok = r && r->type == RESP_T_BULK && r->len == len && memcmp(r->str, p, len) == 0;
    if (!ok) {
        printf("   expected a bulk string of %zu bytes\n", len);
        show("got", r);
    }
    resp_value_free(r);
    return ok;
}

static int want_str(resp_value *r, const char *s)
{
    return want_bulk(r, s, strlen(s));
}

static int want_nil(resp_value *r)
{
    int ok = r && r->type == RESP_T_NIL;
    if (!ok) show("expected nil, got", r);
    resp_value_free(r);
    return ok;
}

/* The server closed the connection: the next read sees EOF or a reset. */
static int closed_by_server(tclient *c)
{
    resp_value *r = tc_read(c);
    if (r) {
        show("expected the connection closed, got", r);
        resp_value_free(r);
        return 0;
    }
    int ok = tc_eof(c) || strstr(tc_error(c), "reset") != NULL;
    if (!ok) printf("   expected EOF, got: %s\n", tc_error(c));
    return ok;
}

/* No reply is waiting on C's socket right now. */
static int no_reply_pending(tclient *c)
{
    struct pollfd p = {tc_fd(c), POLLIN, 0};
    return poll(&p, 1, 0) == 0;
}

static long long info_ll(tclient *c, const char *section, const char *field)
{
    char *v = tc_info_field(c, section, field);
    long long x = v ? atoll(v) : -1;
    if (!v) printf("   INFO %s has no %s\n", section, field);
    free(v);
    return x;
}

static long long dbsize(tclient *c)
{
    resp_value *r = tc_cmd(c, "DBSIZE");
    long long n = r && r->type == RESP_T_INT ? r->integer : -1;
    resp_value_free(r);
    return n;
}

static char *digest(tclient *c)
{
    resp_value *r = tc_cmd(c, "DEBUG", "DIGEST");
    char *d = r && r->type == RESP_T_STATUS ? strdup(r->str) : NULL;
    resp_value_free(r);
    return d;
}

/* A round trip on another connection: once it returns, the server has read
 * (and processed) every byte sent before on any connection. On Linux
 * loopback a send() is in the peer's receive queue when it returns, and the
 * server's replies are written after every ready descriptor of a loop
 * iteration was handled. */
static int barrier(tclient *other)
{
    return want_status(tc_cmd(other, "PING"), "PONG");
}

/* ---- every command ---- */

static void test_basic_commands(tclient *c)
{
    test_cond("PING", want_status(tc_cmd(c, "PING"), "PONG"));
    test_cond("PING msg", want_str(tc_cmd(c, "PING", "hello there"), "hello there"));
    test_cond("PING a b: arity",
              want_error_exact(tc_cmd(c, "PING", "a", "b"),
                               "ERR wrong number of arguments for 'ping' command"));
    test_cond("ECHO", want_str(tc_cmd(c, "ECHO", "echoed"), "echoed"));
    const char *bin[] = {"ECHO", "a\0b\r\nc"};
    size_t binlen[] = {4, 7};
    test_cond("ECHO binary", want_bulk(tc_cmdv(c, 2, bin, binlen), "a\0b\r\nc", 7));
    test_cond("commands are case-insensitive", want_status(tc_cmd(c, "pInG"), "PONG"));
    test_cond("GET missing", want_nil(tc_cmd(c, "GET", "nosuch")));
    test_cond("SET", want_status(tc_cmd(c, "SET", "k1", "v1"), "OK"));
    test_cond("GET", want_str(tc_cmd(c, "GET", "k1"), "v1"));
    test_cond("SET overwrite", want_status(tc_cmd(c, "set", "k1", "v1b"), "OK"));
    test_cond("GET overwritten", want_str(tc_cmd(c, "get", "k1"), "v1b"));

    long long lsn0 = info_ll(c, "persistence", "last_lsn");
    long long n0 = dbsize(c);
    test_cond("SET NX of a held key: nil", want_nil(tc_cmd(c, "SET", "k1", "x", "NX")));
    test_cond("SET with a bad option: syntax error",
              want_error_exact(tc_cmd(c, "SET", "k9", "x", "NX", "XX"), "ERR syntax error"));
    test_cond("SET EX 0: invalid expire time",
              want_error_exact(tc_cmd(c, "SET", "k9", "x", "EX", "0"),
                               "ERR invalid expire time in 'set' command"));
    test_cond("those wrote nothing: old value", want_str(tc_cmd(c, "GET", "k1"), "v1b"));
    test_cond("those wrote nothing: no key", want_nil(tc_cmd(c, "GET", "k9")));
    test_cond("those wrote nothing: last_lsn", info_ll(c, "persistence", "last_lsn") == lsn0);
    test_cond("those wrote nothing: DBSIZE", dbsize(c) == n0);
    test_cond("SET NX of a new key", want_status(tc_cmd(c, "SET", "k9", "x", "NX"), "OK"));
    test_cond("SET GET answers the old value", want_str(tc_cmd(c, "SET", "k9", "y", "GET"), "x"));
    test_cond("DEL k9", want_int(tc_cmd(c, "DEL", "k9"), 1));

    test_cond("SET k2", want_status(tc_cmd(c, "SET", "k2", "v2"), "OK"));
    test_cond("DEL k1 k2 -> 2", want_int(tc_cmd(c, "DEL", "k1", "k2"), 2));
    test_cond("DEL k1 k2 again -> 0", want_int(tc_cmd(c, "DEL", "k1", "k2"), 0));
    test_cond("DEL gone", want_nil(tc_cmd(c, "GET", "k1")));
    test_cond("SET k3", want_status(tc_cmd(c, "SET", "k3", "v3"), "OK"));
    test_cond("DEL k3 nosuch -> 1", want_int(tc_cmd(c, "DEL", "k3", "nosuch"), 1));
    test_cond("SET dup", want_status(tc_cmd(c, "SET", "dup", "x"), "OK"));
    test_cond("DEL dup dup -> 1", want_int(tc_cmd(c, "DEL", "dup", "dup"), 1));

    test_cond("SET e1", want_status(tc_cmd(c, "SET", "e1", "1"), "OK"));
    test_cond("SET e2", want_status(tc_cmd(c, "SET", "e2", "2"), "OK"));
    test_cond("EXISTS one", want_int(tc_cmd(c, "EXISTS", "e1"), 1));
    test_cond("EXISTS none", want_int(tc_cmd(c, "EXISTS", "nosuch"), 0));
    test_cond("EXISTS e1 e2 nosuch e1 -> 3 (repeats count)",
              want_int(tc_cmd(c, "EXISTS", "e1", "e2", "nosuch", "e1"), 3));
    test_cond("EXISTS a deleted key", want_int(tc_cmd(c, "EXISTS", "k1", "k3"), 0));
    test_cond("DBSIZE counts live keys", want_int(tc_cmd(c, "DBSIZE"), 2));
    test_cond("SET e3", want_status(tc_cmd(c, "SET", "e3", "3"), "OK"));
    test_cond("DBSIZE after SET", want_int(tc_cmd(c, "DBSIZE"), 3));
}

static void test_info(tclient *c)
{
    static const char *const sections[][2] = {
        {"server", "# Server"},     {"clients", "# Clients"},
        {"memory", "# Memory"},     {"persistence", "# Persistence"},
        {"stats", "# Stats"},       {"replication", "# Replication"},
        {"keyspace", "# Keyspace"},
    };
    resp_value *all = tc_cmd(c, "INFO");
    test_cond("INFO is a bulk string", all && all->type == RESP_T_BULK);
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        char d[96];
        snprintf(d, sizeof d, "INFO lists section %s", sections[i][1]);
        test_cond(d, all && all->type == RESP_T_BULK && strstr(all->str, sections[i][1]));
        resp_value *one = tc_cmd(c, "INFO", sections[i][0]);
        snprintf(d, sizeof d, "INFO %s answers its section", sections[i][0]);
        test_cond(d, one && one->type == RESP_T_BULK && strstr(one->str, sections[i][1]) &&
                         (i == 0 || !strstr(one->str, "# Server")));
        resp_value_free(one);
    }
    resp_value_free(all);
    char *used = tc_info_field(c, "memory", "used_memory");
    test_cond("INFO memory has used_memory", used && atoll(used) > 0);
    free(used);
    char *keys = tc_info_field(c, "keyspace", "db0");
    test_cond("INFO keyspace db0 keys=3", keys && strncmp(keys, "keys=3,", 7) == 0);
    free(keys);

    long long before = info_ll(c, "persistence", "last_lsn");
    test_cond("SET for last_lsn", want_status(tc_cmd(c, "SET", "lsnkey", "x"), "OK"));
    long long after = info_ll(c, "persistence", "last_lsn");
    test_cond("INFO persistence last_lsn moves by one per SET", before > 0 && after == before + 1);
    resp_value *r = tc_cmd(c, "LASTLSN");
    test_cond("LASTLSN equals INFO last_lsn", r && r->type == RESP_T_INT && r->integer == after);
    resp_value_free(r);

    char lsn[32], far[32];
    snprintf(lsn, sizeof lsn, "%lld", after);
    snprintf(far, sizeof far, "%lld", after + 1000);
    r = tc_cmd(c, "WAITLSN", lsn, "1000");
    test_cond("WAITLSN of an applied LSN", r && r->type == RESP_T_INT && r->integer >= after);
    resp_value_free(r);
    long long t0 = proc_now_ms();
    test_cond("WAITLSN of a future LSN times out",
              want_error(tc_cmd(c, "WAITLSN", far, "100"), "TIMEOUT"));
    test_cond("WAITLSN waited about its timeout", proc_now_ms() - t0 >= 90);
    test_cond("WAITLSN bad argument", want_error(tc_cmd(c, "WAITLSN", "abc", "0"), "ERR"));
    test_cond("WAIT 0 0", want_int(tc_cmd(c, "WAIT", "0", "0"), 0));
    test_cond("WAIT 1 50 without followers -> 0 after the timeout",
              want_int(tc_cmd(c, "WAIT", "1", "50"), 0));
    test_cond("WAIT bad argument", want_error(tc_cmd(c, "WAIT", "x", "0"), "ERR"));
}

static const resp_value *elem(const resp_value *r, size_t i)
{
    return r && r->type == RESP_T_ARRAY && i < r->nelem ? r->elem[i] : NULL;
}

static int is_bulk_str(const resp_value *r, const char *s)
{
    return r && r->type == RESP_T_BULK && strcmp(r->str, s) == 0;
}

static void test_command_config_client(tclient *c)
{
    resp_value *all = tc_cmd(c, "COMMAND");
    resp_value *count = tc_cmd(c, "COMMAND", "COUNT");
    test_cond("COMMAND COUNT is an int", count && count->type == RESP_T_INT && count->integer > 10);
    test_cond("COMMAND lists COUNT commands",
              all && all->type == RESP_T_ARRAY && count && (long long)all->nelem == count->integer);
    int found_get = 0, shapes_ok = all != NULL;
    for (size_t i = 0; all && i < all->nelem; i++) {
        const resp_value *e = all->elem[i];
        if (!e || e->type != RESP_T_ARRAY || e->nelem < 6 || !elem(e, 0) ||
            elem(e, 0)->type != RESP_T_BULK)
            shapes_ok = 0;
        else if (is_bulk_str(elem(e, 0), "get") && elem(e, 1)->type == RESP_T_INT &&
                 elem(e, 1)->integer == 2)
            found_get = 1;
    }
    test_cond("COMMAND entries are [name, arity, flags, first, last, step]", shapes_ok);
    test_cond("COMMAND lists get with arity 2", found_get);
    resp_value_free(all);
    resp_value_free(count);

    resp_value *r = tc_cmd(c, "COMMAND", "DOCS");
    test_cond("COMMAND DOCS answers an array", r && r->type == RESP_T_ARRAY);
    resp_value_free(r);
    r = tc_cmd(c, "COMMAND", "INFO", "get", "nosuch");
    test_cond("COMMAND INFO get nosuch: two entries",
              r && r->type == RESP_T_ARRAY && r->nelem == 2);
    const resp_value *g = elem(r, 0);
    test_cond("COMMAND INFO get: name and arity", is_bulk_str(elem(g, 0), "get") && elem(g, 1) &&
                                                      elem(g, 1)->type == RESP_T_INT &&
                                                      elem(g, 1)->integer == 2);
    test_cond("COMMAND INFO nosuch: nil", elem(r, 1) && elem(r, 1)->type == RESP_T_NIL);
    resp_value_free(r);

    r = tc_cmd(c, "CONFIG", "GET", "save");
    test_cond("CONFIG GET save -> [save, \"\"]", r && r->type == RESP_T_ARRAY && r->nelem == 2 &&
                                                     is_bulk_str(elem(r, 0), "save") &&
                                                     is_bulk_str(elem(r, 1), ""));
    resp_value_free(r);
    r = tc_cmd(c, "CONFIG", "GET", "appendonly");
    test_cond("CONFIG GET appendonly -> [appendonly, yes]",
              r && r->type == RESP_T_ARRAY && r->nelem == 2 &&
                  is_bulk_str(elem(r, 0), "appendonly") && is_bulk_str(elem(r, 1), "yes"));
    resp_value_free(r);
    r = tc_cmd(c, "CONFIG", "GET", "no-such-setting");
    test_cond("CONFIG GET unknown -> empty array", r && r->type == RESP_T_ARRAY && r->nelem == 0);
    resp_value_free(r);
    test_cond("CONFIG SET save \"\": what it is, +OK",
              want_status(tc_cmd(c, "CONFIG", "SET", "save", ""), "OK"));
    test_cond("CONFIG SET save \"900 1\" is refused",
              want_error(tc_cmd(c, "CONFIG", "SET", "save", "900 1"), "ERR"));

    test_cond("SELECT 0", want_status(tc_cmd(c, "SELECT", "0"), "OK"));
    test_cond("SELECT 16 -> error",
              want_error_exact(tc_cmd(c, "SELECT", "16"), "ERR DB index is out of range"));
    test_cond("SELECT x -> error", want_error(tc_cmd(c, "SELECT", "x"), "ERR"));

    test_cond("CLIENT GETNAME before SETNAME", want_nil(tc_cmd(c, "CLIENT", "GETNAME")));
    test_cond("CLIENT SETNAME", want_status(tc_cmd(c, "CLIENT", "SETNAME", "tester"), "OK"));
    test_cond("CLIENT GETNAME", want_str(tc_cmd(c, "CLIENT", "GETNAME"), "tester"));
    test_cond("CLIENT SETNAME with a space -> error",
              want_error(tc_cmd(c, "CLIENT", "SETNAME", "a b"), "ERR"));
    test_cond("CLIENT GETNAME kept the old name",
              want_str(tc_cmd(c, "CLIENT", "GETNAME"), "tester"));

    char *d = digest(c);
    int hex = d && strlen(d) == 16 && strspn(d, "0123456789abcdef") == 16;
    test_cond("DEBUG DIGEST is 16 hex digits", hex);
    free(d);
    test_cond("DEBUG other -> error", want_error(tc_cmd(c, "DEBUG", "SEGFAULT"), "ERR"));
}

static void test_errors(tclient *c)
{
    test_cond("unknown command text",
              want_error_exact(tc_cmd(c, "foo"), "ERR unknown command 'foo', with args beginning with: "));
    test_cond("unknown command with arguments",
              want_error_exact(tc_cmd(c, "foo", "bar"),
                               "ERR unknown command 'foo', with args beginning with: 'bar' "));
    static const char *const arity[][4] = {
        {"get", "GET", NULL},
        {"get", "GET", "a", "b"},
        {"set", "SET", "k", NULL},
        {"del", "DEL", NULL},
        {"exists", "EXISTS", NULL},
        {"echo", "ECHO", NULL},
        {"echo", "ECHO", "a", "b"},
        {"dbsize", "DBSIZE", "x", NULL},
        {"select", "SELECT", NULL},
        {"wait", "WAIT", "0", NULL},
        {"waitlsn", "WAITLSN", "1", NULL},
        {"config", "CONFIG", NULL},
        {"lastlsn", "LASTLSN", "x", NULL},
        {"debug", "DEBUG", NULL},
    };
    for (size_t i = 0; i < sizeof arity / sizeof arity[0]; i++) {
        int argc = 0;
        while (argc < 3 && arity[i][argc + 1])
            argc++;
        char want[128], d[128];
        snprintf(want, sizeof want, "ERR wrong number of arguments for '%s' command", arity[i][0]);
        snprintf(d, sizeof d, "wrong arity: %s with %d argument(s)", arity[i][1], argc - 1);
        test_cond(d, want_error_exact(tc_cmdv(c, argc, &arity[i][1], NULL), want));
    }
    test_cond("the connection survives command errors",
              want_status(tc_cmd(c, "PING"), "PONG"));
}

static void test_commands(void)
{
    test_section("commands");
    srv s;
    if (srv_start(&s, NULL) < 0) {
        test_cond("server starts", 0);
        return;
    }
    tclient *c = srv_client(&s);
    tclient *q = srv_client(&s);
    test_cond("connect", c && q);
    if (c && q) {
        resp_value *r = tc_cmd(q, "LASTLSN");
        test_cond("LASTLSN before any write is 0", r && r->type == RESP_T_INT && r->integer == 0);
        resp_value_free(r);
        test_basic_commands(c);
        test_info(c);
        test_command_config_client(c);
        test_errors(c);
        test_cond("QUIT -> OK", want_status(tc_cmd(q, "QUIT"), "OK"));
        test_cond("QUIT closes the connection", closed_by_server(q));
        test_cond("other clients unaffected by QUIT", want_status(tc_cmd(c, "PING"), "PONG"));
    }
    tc_close(c);
    tc_close(q);
    test_cond("SIGTERM exits 0", srv_stop(&s, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

/* Two servers reach the same contents by different routes (another order,
 * overwrites, a key set and deleted) and must report the same digest. */
static void test_digest(void)
{
    test_section("DEBUG DIGEST across servers");
    srv a, b;
    int sa = srv_start(&a, NULL), sb = srv_start(&b, NULL);
    test_cond("two servers start", sa == 0 && sb == 0);
    tclient *ca = sa == 0 ? srv_client(&a) : NULL, *cb = sb == 0 ? srv_client(&b) : NULL;
    if (ca && cb) {
        char *empty_a = digest(ca), *empty_b = digest(cb);
        test_cond("empty servers: equal digests", empty_a && empty_b && !strcmp(empty_a, empty_b));
        const char *binkey[] = {"SET", "bin\0key", "v\r\n\0"};
        size_t binlen[] = {3, 7, 4};
        int ok = want_status(tc_cmd(ca, "SET", "a", "1"), "OK") &&
                 want_status(tc_cmd(ca, "SET", "b", "2"), "OK") &&
                 want_status(tc_cmd(ca, "SET", "c", "3"), "OK") &&
                 want_status(tc_cmdv(ca, 3, binkey, binlen), "OK");
        ok = ok && want_status(tc_cmdv(cb, 3, binkey, binlen), "OK") &&
             want_status(tc_cmd(cb, "SET", "c", "3"), "OK") &&
             want_status(tc_cmd(cb, "SET", "a", "old"), "OK") &&
             want_status(tc_cmd(cb, "SET", "tmp", "gone"), "OK") &&
             want_status(tc_cmd(cb, "SET", "b", "2"), "OK") &&
             want_int(tc_cmd(cb, "DEL", "tmp"), 1) &&
             want_status(tc_cmd(cb, "SET", "a", "1"), "OK");
        test_cond("writes on both servers", ok);
        char *da = digest(ca), *db = digest(cb);
        int same = da && db && strcmp(da, db) == 0;
        if (!same) printf("   digests differ: %s vs %s\n", da ? da : "?", db ? db : "?");
        test_cond("same contents, different order: equal digests", same);
        test_cond("and equal DBSIZE", dbsize(ca) == 4 && dbsize(cb) == 4);
        test_cond("digest of contents differs from the empty one",
                  da && empty_a && strcmp(da, empty_a) != 0);
        test_cond("change a value on one", want_status(tc_cmd(cb, "SET", "a", "2"), "OK"));
        char *db2 = digest(cb);
        test_cond("different value: different digest", da && db2 && strcmp(da, db2) != 0);
        free(empty_a);
        free(empty_b);
        free(da);
        free(db);
        free(db2);
    }
    tc_close(ca);
    tc_close(cb);
    if (sa == 0) test_cond("SIGTERM a", srv_stop(&a, SIGTERM, STOP_TIMEOUT_MS) == 0);
    if (sb == 0) test_cond("SIGTERM b", srv_stop(&b, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

/* ---- pipelining and inline commands ---- */

#define PIPELINE_CMDS 1000

static void test_pipelining(const srv *s)
{
    test_section("pipelining");
    tclient *c = srv_client(s);
    if (!c) {
        test_cond("connect", 0);
        return;
    }
    resp_buf b = {0};
    for (int i = 0; i < PIPELINE_CMDS; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "pk:%d", i / 2);
        snprintf(v, sizeof v, "value-%d", i / 2);
        const char *set[] = {"SET", k, v}, *get[] = {"GET", k};
        if (i % 2 == 0)
            resp_encode_command(&b, 3, set, NULL);
        else
            resp_encode_command(&b, 2, get, NULL);
    }
    test_cond("pipeline of 1000 sent in one write", tc_send_raw(c, b.p, b.len) == 0);
    resp_buf_free(&b);
    int in_order = 1;
    for (int i = 0; i < PIPELINE_CMDS && in_order; i++) {
        char v[32];
        snprintf(v, sizeof v, "value-%d", i / 2);
        int ok = i % 2 == 0 ? want_status(tc_read(c), "OK") : want_str(tc_read(c), v);
        if (!ok) {
            printf("   reply %d of the pipeline is wrong\n", i);
            in_order = 0;
        }
    }
    test_cond("1000 pipelined replies in order, each GET sees the SET before it", in_order);

    static const char inl[] = "SET a b\r\nPING\r\n\r\n\n  \t \r\nGET a\r\nECHO \t hi  \r\n"
                              "EXISTS a nosuch\nDEL a\r\n";
    test_cond("inline commands sent", tc_send_raw(c, inl, sizeof inl - 1) == 0);
    test_cond("inline SET", want_status(tc_read(c), "OK"));
    test_cond("inline PING", want_status(tc_read(c), "PONG"));
    test_cond("inline GET (empty lines skipped)", want_str(tc_read(c), "b"));
    test_cond("inline ECHO with tabs and spaces", want_str(tc_read(c), "hi"));
    test_cond("inline EXISTS with LF only", want_int(tc_read(c), 1));
    test_cond("inline DEL", want_int(tc_read(c), 1));
    test_cond("no reply for empty lines", want_status(tc_cmd(c, "PING"), "PONG"));
    static const char mixed[] = "PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nr\r\n\r\nECHO inline\r\n";
    test_cond("RESP and inline mixed in one write", tc_send_raw(c, mixed, sizeof mixed - 1) == 0);
    test_cond("mixed 1", want_status(tc_read(c), "PONG"));
    test_cond("mixed 2: RESP value with CR LF inside", want_bulk(tc_read(c), "r\r\n", 3));
    test_cond("mixed 3", want_str(tc_read(c), "inline"));
    tc_close(c);
}

typedef struct ordered_case {
    const char *what;
    const char *bytes;
    const char *replies[6]; /* "+S" status, "-E" error prefix, "$B" bulk, ":N" int, "." nil */
    int closes;             /* the server closes after the last reply */
} ordered_case;

static int want_spec(resp_value *r, const char *spec)
{
    switch (spec[0]) {
    case '+':
        return want_status(r, spec + 1);
    case '-':
        return want_error(r, spec + 1);
    case '$':
        return want_str(r, spec + 1);
    case ':':
        return want_int(r, atoll(spec + 1));
    default:
        return want_nil(r);
    }
}

/* Pipelines ending in an immediate error (a refused write, a protocol
 * error) behind writes whose replies are still owed: every reply must still
 * come in command order, and nothing after a QUIT or a protocol error runs. */
static void run_ordered(const srv *s, const ordered_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tclient *c = srv_client(s);
        int ok = c && tc_send_raw(c, cases[i].bytes, strlen(cases[i].bytes)) == 0;
        for (int j = 0; ok && j < 6 && cases[i].replies[j]; j++) {
            ok = want_spec(tc_read(c), cases[i].replies[j]);
            if (!ok) printf("   %s: reply %d wrong\n", cases[i].what, j + 1);
        }
        if (ok && cases[i].closes) ok = closed_by_server(c);
        test_cond(cases[i].what, ok);
        tc_close(c);
    }
}

static void test_pipelined_errors(const srv *s)
{
    static const ordered_case cases[] = {
        {"owed SET, then SET with wrong arity",
         "SET po1 1\r\nSET po2\r\nGET po1\r\n",
         {"+OK", "-ERR wrong number of arguments for 'set'", "$1"},
         0},
        {"owed SET, then SET with options and DEL with no key",
         "SET po1 2\r\nSET po3 x EX 0\r\nDEL\r\nGET po1\r\n",
         {"+OK", "-ERR invalid expire time", "-ERR wrong number of arguments for 'del'", "$2"},
         0},
        {"owed SETs, then an unknown command",
         "SET po1 3\r\nSET po4 4\r\nfoo\r\nGET po1\r\n",
         {"+OK", "+OK", "-ERR unknown command 'foo'", "$3"},
         0},
        {"owed SETs, then QUIT: later commands do not run",
         "SET po1 4\r\nSET po5 v\r\nQUIT\r\nSET po6 x\r\n",
         {"+OK", "+OK", "+OK"},
         1},
        {"after QUIT", "GET po6\r\nGET po5\r\n", {".", "$v"}, 0},
        {"owed SET, then a protocol error",
         "SET po7 v\r\n*1\r\n$-1\r\n",
         {"+OK", "-ERR Protocol error"},
         1},
        {"the SET before the protocol error was written", "GET po7\r\n", {"$v"}, 0},
    };
    run_ordered(s, cases, sizeof cases / sizeof cases[0]);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A client that half-closes (shutdown(SHUT_WR), as `printf ... | nc -N`
 * does) still gets every reply, then the server closes. */
static void test_half_close(const srv *s)
{
    test_section("half-closed clients");
    static const struct {
        const char *what, *bytes;
        const char *replies[3];
    } cases[] = {
        {"SET + GET, then EOF", "SET hc1 v\r\nGET hc1\r\n", {"+OK", "$v"}},
        {"PING, then EOF", "PING\r\n", {"+PONG"}},
        {"pipelined SETs, then EOF", "SET hc2 a\r\nSET hc3 b\r\nDEL hc2\r\n", {"+OK", "+OK", ":1"}},
        {"blocked in WAITLSN, then EOF: dropped like Redis", "WAITLSN 999999999 0\r\n", {NULL}},
        {"half a command, then EOF", "*2\r\n$3\r\nGET\r\n$3\r\nhc", {NULL}},
        {"nothing, then EOF", "", {NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tclient *c = srv_client(s);
        int ok = c && tc_send_raw(c, cases[i].bytes, strlen(cases[i].bytes)) == 0 &&
                 shutdown(tc_fd(c), SHUT_WR) == 0;
        for (int j = 0; ok && j < 3 && cases[i].replies[j]; j++)
            ok = want_spec(tc_read(c), cases[i].replies[j]);
        ok = ok && closed_by_server(c);
        test_cond(cases[i].what, ok);
        tc_close(c);
    }
    tclient *c = srv_client(s);
    test_cond("half-closed writes were applied", c &&
                                                     want_str(tc_cmd(c, "GET", "hc3"), "b") &&
                                                     want_nil(tc_cmd(c, "GET", "hc2")));
    long long blocked = c ? info_ll(c, "clients", "blocked_clients") : -1;
    test_cond("no client left blocked", blocked == 0);
    tc_close(c);
}

#define MANY_CLIENTS 64
#define MANY_SETS 100

/* Many connections pipelining writes at once (they share fsyncs). */
static void test_many_clients(const srv *s)
{
    test_section("many clients");
    tclient *c[MANY_CLIENTS] = {0};
    int ok = 1;
    for (int i = 0; i < MANY_CLIENTS && ok; i++)
        ok = (c[i] = srv_client(s)) != NULL;
    long long n0 = ok ? dbsize(c[0]) : -1;
    for (int i = 0; i < MANY_CLIENTS && ok; i++) {
        resp_buf b = {0};
        for (int j = 0; j < MANY_SETS; j++) {
            char k[32], v[32];
            snprintf(k, sizeof k, "mc:%d:%d", i, j);
            snprintf(v, sizeof v, "%d", i * MANY_SETS + j);
            const char *argv[] = {"SET", k, v};
            resp_encode_command(&b, 3, argv, NULL);
        }
        const char *get[] = {"GET", "mc:0:0"};
        resp_encode_command(&b, 2, get, NULL);
        ok = tc_send_raw(c[i], b.p, b.len) == 0;
        resp_buf_free(&b);
    }
    for (int i = 0; i < MANY_CLIENTS && ok; i++) {
        for (int j = 0; j < MANY_SETS && ok; j++)
            ok = want_status(tc_read(c[i]), "OK");
        resp_value *r = ok ? tc_read(c[i]) : NULL;
        ok = ok && r && r->type == RESP_T_BULK; /* mc:0:0 may be set by then or not */
        resp_value_free(r);
    }
    test_cond("64 clients x 100 pipelined SETs all acknowledged", ok);
    test_cond("DBSIZE grew by 6400", ok && dbsize(c[0]) == n0 + MANY_CLIENTS * MANY_SETS);
    test_cond("a sample reads back", ok && want_str(tc_cmd(c[5], "GET", "mc:63:99"), "6399"));
    for (int i = 0; i < MANY_CLIENTS; i++)
        tc_close(c[i]);
}

/* A pipeline of commands with large values, sent in random-sized pieces:
 * the server's "bytes needed" hints must never stall or misparse. */
static void test_random_chunks(const srv *s)
{
    test_section("random chunking");
    tclient *c = srv_client(s);
    if (!c) {
        test_cond("connect", 0);
        return;
    }
    enum { NCMD = 60 };
    static const size_t sizes[] = {0, 1, 2, 100, 4095, 16384, 16385, 70000, 300000};
    resp_buf b = {0};
    char *val = malloc(300000);
    if (!val) {
        test_cond("malloc", 0);
        tc_close(c);
        return;
    }
    for (size_t i = 0; i < 300000; i++)
        val[i] = (char)(rng() >> 56);
    for (int i = 0; i < NCMD; i++) {
        char k[32];
        snprintf(k, sizeof k, "rc:%d", i / 3);
        size_t vl = sizes[(i / 3) % (sizeof sizes / sizeof sizes[0])];
        const char *set[] = {"SET", k, val}, *get[] = {"GET", k};
        size_t setlen[] = {3, strlen(k), vl};
        if (i % 3 == 0)
            resp_encode_command(&b, 3, set, setlen);
        else if (i % 3 == 1)
            resp_encode_command(&b, 2, get, NULL);
        else
            resp_buf_append(&b, "PING\r\n", 6);
    }
    int ok = 1;
    for (size_t off = 0; off < b.len && ok;) {
        size_t n = 1 + (size_t)(rng() % (rng() % 2 ? 17 : 70000));
        if (n > b.len - off) n = b.len - off;
        ok = tc_send_raw(c, b.p + off, n) == 0;
        off += n;
    }
    for (int i = 0; i < NCMD && ok; i++) {
        size_t vl = sizes[(i / 3) % (sizeof sizes / sizeof sizes[0])];
        if (i % 3 == 0)
            ok = want_status(tc_read(c), "OK");
        else if (i % 3 == 1)
            ok = want_bulk(tc_read(c), val, vl);
        else
            ok = want_status(tc_read(c), "PONG");
        if (!ok) printf("   reply %d wrong\n", i);
    }
    test_cond("pipeline with big values in random pieces: every reply right", ok);
    resp_buf_free(&b);
    free(val);
    tc_close(c);
}

/* The default limits: 64 KiB keys and 16 MiB values are accepted, one byte
 * more is refused with nothing written. */
static void test_default_limits(const srv *s)
{
    test_section("default key and value limits");
    tclient *c = srv_client(s);
    size_t vmax = 16u * 1024 * 1024, kmax = 64 * 1024;
    char *buf = malloc(vmax + 1);
    if (!c || !buf) {
        test_cond("connect", 0);
        tc_close(c);
        free(buf);
        return;
    }
    memset(buf, 'd', vmax + 1);
    tc_set_timeout(c, 30000);
    const char *set[] = {"SET", "dl", buf};
    size_t setlen[] = {3, 2, vmax};
    test_cond("16 MiB value accepted", want_status(tc_cmdv(c, 3, set, setlen), "OK"));
    test_cond("16 MiB value reads back",
              want_bulk(tc_cmdv(c, 2, (const char *[]){"GET", "dl"}, NULL), buf, vmax));
    long long lsn0 = info_ll(c, "persistence", "last_lsn");
    setlen[2] = vmax + 1;
    set[1] = "dl2";
    test_cond("16 MiB + 1 value refused",
              want_error(tc_cmdv(c, 3, set, setlen), "ERR value too large"));
    set[1] = buf;
    setlen[1] = kmax;
    setlen[2] = 1;
    set[2] = "v";
    test_cond("64 KiB key accepted", want_status(tc_cmdv(c, 3, set, setlen), "OK"));
    long long lsn1 = info_ll(c, "persistence", "last_lsn");
    setlen[1] = kmax + 1;
    test_cond("64 KiB + 1 key refused",
              want_error(tc_cmdv(c, 3, set, setlen), "ERR key too large"));
    test_cond("refused ones wrote nothing",
              lsn1 == lsn0 + 1 && info_ll(c, "persistence", "last_lsn") == lsn1);
    test_cond("clean up", want_int(tc_cmd(c, "DEL", "dl"), 1));
    free(buf);
    tc_close(c);
}

/* ---- malformed input ---- */

typedef struct bad_frame {
    const char *what;
    const char *bytes;
    const char *err; /* expected error prefix */
} bad_frame;

static void test_bad_frames(const srv *s, tclient *probe)
{
    static const bad_frame bad[] = {
        {"huge multibulk count", "*99999999999\r\n", "ERR Protocol error: invalid multibulk"},
        {"multibulk count with 20 digits", "*10000000000000000000\r\n",
         "ERR Protocol error: invalid multibulk"},
        {"multibulk header without CRLF", "*11111111111111111111111111111111111111111",
         "ERR Protocol error: invalid multibulk"},
        {"multibulk count not a number", "*1x\r\n", "ERR Protocol error: invalid multibulk"},
        {"empty multibulk count", "*\r\n", "ERR Protocol error: invalid multibulk"},
        {"negative bulk length", "*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"},
        {"very negative bulk length", "*2\r\n$3\r\nGET\r\n$-99\r\n",
         "ERR Protocol error: invalid bulk length"},
        {"huge bulk length", "*2\r\n$3\r\nGET\r\n$99999999999\r\n",
         "ERR Protocol error: invalid bulk length"},
        {"bulk length above max", "*1\r\n$2147483648\r\n", "ERR Protocol error: invalid bulk"},
        {"bulk length with 19 digits", "*1\r\n$9223372036854775807\r\n",
         "ERR Protocol error: invalid bulk length"},
        {"'+' where '$' is expected", "*2\r\n+GET\r\n", "ERR Protocol error: expected '$'"},
        {"':' where '$' is expected", "*1\r\n:4\r\n", "ERR Protocol error: expected '$'"},
        {"second argument not '$'", "*2\r\n$3\r\nGET\r\n*1\r\n",
         "ERR Protocol error: expected '$'"},
        {"bulk not followed by CRLF", "*1\r\n$4\r\nPINGxx", "ERR Protocol error: bulk string"},
        {"bulk followed by LF LF", "*1\r\n$4\r\nPING\n\n", "ERR Protocol error: bulk string"},
        {"bulk followed by CR CR", "*1\r\n$4\r\nPING\r\r", "ERR Protocol error: bulk string"},
        {"bulk header with CR X", "*1\r\n$4\rXPING\r\n", "ERR Protocol error: invalid bulk"},
    };
    tclient *m = srv_client(s);
    long long errs0 = m ? info_ll(m, "stats", "protocol_errors") : -1;
    long long n0 = m ? dbsize(m) : -1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tclient *c = srv_client(s);
        char d[128];
        snprintf(d, sizeof d, "%s: error reply", bad[i].what);
        test_cond(d, c && tc_send_raw(c, bad[i].bytes, strlen(bad[i].bytes)) == 0 &&
                         want_error(tc_read(c), bad[i].err));
        snprintf(d, sizeof d, "%s: connection closed", bad[i].what);
        test_cond(d, c && closed_by_server(c));
        tc_close(c);
    }
    test_cond("server serves others after bad frames", barrier(probe));
    long long errs = m ? info_ll(m, "stats", "protocol_errors") : -1;
    test_cond("INFO stats protocol_errors counts every bad frame",
              errs0 >= 0 && errs == errs0 + (long long)(sizeof bad / sizeof bad[0]));
    test_cond("bad frames wrote nothing", m && dbsize(m) == n0);
    tc_close(m);

    /* Redis skips "*0" and negative counts as empty commands. */
    tclient *c = srv_client(s);
    static const char empty[] = "*0\r\n*-1\r\n*-100\r\n*1\r\n$4\r\nPING\r\n";
    test_cond("*0 / *-1 / *-100 are skipped without a reply",
              c && tc_send_raw(c, empty, sizeof empty - 1) == 0 &&
                  want_status(tc_read(c), "PONG") && barrier(probe) && no_reply_pending(c));
    tc_close(c);
}

static void test_binary(tclient *c)
{
    char key[] = {'k', 0, '\r', '\n', (char)0xff, '$', '*'};
    char val[512];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (char)(i & 0xff);
    const char *set[] = {"SET", key, val};
    size_t setlen[] = {3, sizeof key, sizeof val};
    test_cond("SET binary key and value (NUL, CR, LF, all bytes)",
              want_status(tc_cmdv(c, 3, set, setlen), "OK"));
    const char *get[] = {"GET", key};
    size_t getlen[] = {3, sizeof key};
    test_cond("GET binary", want_bulk(tc_cmdv(c, 2, get, getlen), val, sizeof val));
    getlen[1] = 1;
    test_cond("binary key is not truncated at NUL", want_nil(tc_cmdv(c, 2, get, getlen)));
    static const char proto_like[] = "\r\n$3\r\nfoo\r\n*1\r\n";
    const char *set2[] = {"SET", "\r\n", proto_like};
    size_t set2len[] = {3, 2, sizeof proto_like - 1};
    test_cond("SET key CR LF, value that looks like RESP",
              want_status(tc_cmdv(c, 3, set2, set2len), "OK"));
    const char *get2[] = {"GET", "\r\n"};
    test_cond("GET it back",
              want_bulk(tc_cmdv(c, 2, get2, set2len), proto_like, sizeof proto_like - 1));
    test_cond("SET empty value", want_status(tc_cmd(c, "SET", "ev", ""), "OK"));
    resp_value *r = tc_cmd(c, "GET", "ev");
    test_cond("GET empty value is an empty bulk, not nil",
              r && r->type == RESP_T_BULK && r->len == 0);
    resp_value_free(r);
    test_cond("EXISTS empty value", want_int(tc_cmd(c, "EXISTS", "ev"), 1));
    test_cond("SET empty key", want_status(tc_cmd(c, "SET", "", "empty-key"), "OK"));
    test_cond("GET empty key", want_str(tc_cmd(c, "GET", ""), "empty-key"));
    test_cond("DEL empty key", want_int(tc_cmd(c, "DEL", ""), 1));
    test_cond("GET deleted empty key", want_nil(tc_cmd(c, "GET", "")));
}

/* Sends CMD in two parts at every split point (and once byte by byte), with
 * the server reading each part before the next: no reply may come early,
 * and the reply must be EXPECT. */
static void split_everywhere(tclient *c, tclient *probe, const char *what, const char *cmd,
                             size_t len, const char *expect, size_t elen, int is_status)
{
    int ok = 1;
    for (size_t cut = 1; cut < len && ok; cut++) {
        ok = tc_send_raw(c, cmd, cut) == 0 && barrier(probe) && no_reply_pending(c) &&
             tc_send_raw(c, cmd + cut, len - cut) == 0;
        resp_value *r = tc_read(c);
        ok = ok && (is_status ? want_status(r, expect) : want_bulk(r, expect, elen));
        if (!ok) printf("   %s: failed when split at byte %zu of %zu\n", what, cut, len);
    }
    char d[128];
    snprintf(d, sizeof d, "%s split at every byte boundary", what);
    test_cond(d, ok);
    for (size_t i = 0; i < len && ok; i++) {
        ok = tc_send_raw(c, cmd + i, 1) == 0 && barrier(probe) &&
             (i + 1 == len || no_reply_pending(c));
        if (!ok) printf("   %s: reply before byte %zu of %zu\n", what, i + 1, len);
    }
    resp_value *r = ok ? tc_read(c) : NULL;
    ok = ok && (is_status ? want_status(r, expect) : want_bulk(r, expect, elen));
    snprintf(d, sizeof d, "%s sent byte by byte", what);
    test_cond(d, ok);
}

static void test_split(const srv *s, tclient *probe)
{
    tclient *c = srv_client(s);
    if (!c) {
        test_cond("connect", 0);
        return;
    }
    const char *set[] = {"SET", "split\0key", "va\r\nlue"};
    size_t setlen[] = {3, 9, 7};
    resp_buf b = {0};
    resp_encode_command(&b, 3, set, setlen);
    split_everywhere(c, probe, "SET (RESP, binary)", b.p, b.len, "OK", 2, 1);
    resp_buf_free(&b);
    const char *get[] = {"GET", "split\0key"};
    resp_encode_command(&b, 2, get, setlen);
    split_everywhere(c, probe, "GET (RESP)", b.p, b.len, "va\r\nlue", 7, 0);
    resp_buf_free(&b);
    static const char inl[] = "ECHO split-inline\r\n";
    split_everywhere(c, probe, "inline ECHO", inl, sizeof inl - 1, "split-inline", 12, 0);
    tc_close(c);
}

static void test_malformed(const srv *s)
{
    test_section("malformed input");
    tclient *probe = srv_client(s);
    tclient *c = srv_client(s);
    if (!probe || !c) {
        test_cond("connect", 0);
    } else {
        test_bad_frames(s, probe);
        test_binary(c);
        test_split(s, probe);
    }
    tc_close(probe);
    tc_close(c);
}

/* ---- limits ---- */

#define LIM_KEY_MAX 16
#define LIM_VALUE_MAX 300000
#define LIM_ARGS_MAX 6
#define LIM_REPLY_BUF (1024 * 1024)
#define BIG_VALUE_BYTES (256 * 1024)
#define HOG_GETS 400

static void test_size_limits(tclient *c)
{
    tclient *m = c;
    long long lsn0, n0;
    char key[LIM_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[LIM_KEY_MAX] = 0;
    test_cond("key of max-key-bytes accepted", want_status(tc_cmd(c, "SET", key, "v"), "OK"));
    key[LIM_KEY_MAX] = 'k';
    key[LIM_KEY_MAX + 1] = 0;
    lsn0 = info_ll(m, "persistence", "last_lsn");
    n0 = dbsize(m);
    test_cond("SET key over max-key-bytes -> error",
              want_error(tc_cmd(c, "SET", key, "v"), "ERR key too large"));
    test_cond("DEL key over max-key-bytes -> error",
              want_error(tc_cmd(c, "DEL", "ok", key), "ERR key too large"));
    test_cond("long key: nothing written (last_lsn)",
              info_ll(m, "persistence", "last_lsn") == lsn0);
    test_cond("long key: nothing written (DBSIZE)", dbsize(m) == n0);
    test_cond("long key: not stored", want_nil(tc_cmd(c, "GET", key)));

    char *val = malloc(LIM_VALUE_MAX + 2048);
    if (!val) {
        test_cond("malloc", 0);
        return;
    }
    memset(val, 'v', LIM_VALUE_MAX + 2048);
    const char *set[] = {"SET", "bigv", val};
    size_t setlen[] = {3, 4, LIM_VALUE_MAX};
    test_cond("value of max-value-bytes accepted", want_status(tc_cmdv(c, 3, set, setlen), "OK"));
    lsn0 = info_ll(m, "persistence", "last_lsn");
    n0 = dbsize(m);
    setlen[1] = 5;
    set[1] = "bigv2";
    setlen[2] = LIM_VALUE_MAX + 1;
    test_cond("value over max-value-bytes -> error",
              want_error(tc_cmdv(c, 3, set, setlen), "ERR value too large"));
    test_cond("long value: nothing written (last_lsn)",
              info_ll(m, "persistence", "last_lsn") == lsn0);
    test_cond("long value: nothing written (DBSIZE)", dbsize(m) == n0);
    test_cond("long value: not stored", want_nil(tc_cmd(c, "GET", "bigv2")));
    test_cond("the value at the limit is intact",
              want_bulk(tc_cmd(c, "GET", "bigv"), val, LIM_VALUE_MAX));
    free(val);
}

static void test_args_limit(const srv *s, tclient *m)
{
    long long lsn0 = info_ll(m, "persistence", "last_lsn"), n0 = dbsize(m);
    tclient *c = srv_client(s);
    test_cond("max-args arguments accepted",
              c && want_int(tc_cmd(c, "EXISTS", "a", "b", "c", "d", "e"), 0));
    test_cond("max-args + 1 (RESP) -> error",
              c && want_error(tc_cmd(c, "SET", "k", "v", "a", "b", "c", "d"), "ERR"));
    test_cond("max-args + 1 (RESP): connection closed", c && closed_by_server(c));
    tc_close(c);
    c = srv_client(s);
    static const char inl[] = "SET k v a b c d\r\n";
    test_cond("max-args + 1 (inline) -> error",
              c && tc_send_raw(c, inl, sizeof inl - 1) == 0 &&
                  want_error(tc_read(c), "ERR Protocol error: too many arguments"));
    test_cond("max-args + 1 (inline): connection closed", c && closed_by_server(c));
    tc_close(c);
    /* The same once the connection's argument array has grown. */
    c = srv_client(s);
    static const char grown[] = "EXISTS a b c d e\r\nEXISTS a b c d e f g h i j k l m n\r\n";
    test_cond("max-args + 1 (inline, after a command) -> error",
              c && tc_send_raw(c, grown, sizeof grown - 1) == 0 && want_int(tc_read(c), 0) &&
                  want_error(tc_read(c), "ERR Protocol error: too many arguments"));
    test_cond("... connection closed", c && closed_by_server(c));
    tc_close(c);
    test_cond("too many args: nothing written (last_lsn)",
              info_ll(m, "persistence", "last_lsn") == lsn0);
    test_cond("too many args: nothing written (DBSIZE)", dbsize(m) == n0);
}

typedef struct counter_wait {
    tclient *c;
    const char *field;
    long long at_least;
} counter_wait;

static int counter_reached(void *arg)
{
    counter_wait *w = arg;
    return info_ll(w->c, "stats", w->field) >= w->at_least;
}

/* A client that never reads its replies is dropped past max-reply-buffer;
 * the others are served meanwhile. */
static void test_reply_limit(const srv *s, tclient *m)
{
    char *big = malloc(BIG_VALUE_BYTES);
    if (!big) {
        test_cond("malloc", 0);
        return;
    }
    for (size_t i = 0; i < BIG_VALUE_BYTES; i++)
        big[i] = (char)('a' + i % 26);
    const char *set[] = {"SET", "big", big};
    size_t setlen[] = {3, 3, BIG_VALUE_BYTES};
    test_cond("SET big value", want_status(tc_cmdv(m, 3, set, setlen), "OK"));
    long long dropped0 = info_ll(m, "stats", "clients_dropped_output_limit");
    tclient *hog = srv_client(s);
    resp_buf b = {0};
    const char *get[] = {"GET", "big"};
    for (int i = 0; i < HOG_GETS; i++)
        resp_encode_command(&b, 2, get, NULL);
    test_cond("hog sends many GETs of a big value", hog && tc_send_raw(hog, b.p, b.len) == 0);
    resp_buf_free(&b);
    test_cond("others are served while the hog does not read",
              want_status(tc_cmd(m, "SET", "other", "works"), "OK") &&
                  want_str(tc_cmd(m, "GET", "other"), "works"));
    counter_wait w = {m, "clients_dropped_output_limit", dropped0 + 1};
    test_cond("hog dropped (INFO clients_dropped_output_limit)",
              dropped0 >= 0 && proc_wait_until(counter_reached, &w, IO_TIMEOUT_MS));
    int got = 0, closed = 0;
    for (; hog && got < HOG_GETS; got++) {
        resp_value *r = tc_read(hog);
        if (!r) {
            closed = tc_eof(hog) || strstr(tc_error(hog), "reset") != NULL;
            if (!closed) printf("   hog: %s\n", tc_error(hog));
            break;
        }
        resp_value_free(r);
    }
    printf("   hog received %d of %d replies before the close\n", got, HOG_GETS);
    test_cond("hog's connection closed before all replies", closed && got < HOG_GETS);
    tc_close(hog);
    test_cond("server still serves after the drop", want_status(tc_cmd(m, "PING"), "PONG"));
    free(big);
}

static void test_pipelined_limit_errors(const srv *s)
{
    static const ordered_case cases[] = {
        {"owed SET, then SET with a key over the limit",
         "SET lo1 1\r\nSET kkkkkkkkkkkkkkkkk v\r\nDEL lo1 kkkkkkkkkkkkkkkkk\r\nGET lo1\r\n",
         {"+OK", "-ERR key too large", "-ERR key too large", "$1"},
         0},
        {"owed SET, then too many arguments (inline)",
         "SET lo2 2\r\nSET a b c d e f g\r\n",
         {"+OK", "-ERR Protocol error"},
         1},
        {"owed SET, then too many arguments (RESP)",
         "SET lo3 3\r\n*7\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
         "$1\r\nf\r\n",
         {"+OK", "-ERR Protocol error"},
         1},
        {"the SETs before the errors were written", "GET lo2\r\nGET lo3\r\n", {"$2", "$3"}, 0},
    };
    run_ordered(s, cases, sizeof cases / sizeof cases[0]);
}

static void test_limits(void)
{
    test_section("limits: key, value, args, reply buffer");
    srv s;
    char keymax[16], valmax[16], argsmax[16], replymax[16];
    snprintf(keymax, sizeof keymax, "%d", LIM_KEY_MAX);
    snprintf(valmax, sizeof valmax, "%d", LIM_VALUE_MAX);
    snprintf(argsmax, sizeof argsmax, "%d", LIM_ARGS_MAX);
    snprintf(replymax, sizeof replymax, "%d", LIM_REPLY_BUF);
    const char *const extra[] = {"--max-key-bytes",
                                 keymax,
                                 "--max-value-bytes",
                                 valmax,
                                 "--max-args",
                                 argsmax,
                                 "--max-reply-buffer",
                                 replymax,
                                 NULL};
    if (srv_start(&s, extra) < 0) {
        test_cond("limits server starts", 0);
        return;
    }
    tclient *m = srv_client(&s);
    if (m) {
        test_size_limits(m);
        /* A value a little over the parser's bound is a protocol error. */
        tclient *c = srv_client(&s);
        long long n0 = dbsize(m), lsn0 = info_ll(m, "persistence", "last_lsn");
        char hdr[64];
        int hl = snprintf(hdr, sizeof hdr, "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$%d\r\n",
                          LIM_VALUE_MAX + 4096);
        test_cond("value far over max-value-bytes: protocol error",
                  c && tc_send_raw(c, hdr, (size_t)hl) == 0 &&
                      want_error(tc_read(c), "ERR Protocol error"));
        test_cond("... and closed", c && closed_by_server(c));
        test_cond("... nothing written",
                  dbsize(m) == n0 && info_ll(m, "persistence", "last_lsn") == lsn0);
        tc_close(c);
        test_args_limit(&s, m);
        test_pipelined_limit_errors(&s);
        test_reply_limit(&s, m);
    } else {
        test_cond("connect", 0);
    }
    tc_close(m);
    test_cond("limits server: SIGTERM exits 0", srv_stop(&s, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

typedef struct accept_wait {
    int port;
    tclient *c;
} accept_wait;

/* Connects and PINGs; succeeds once the server has room for a client. */
static int client_admitted(void *arg)
{
    accept_wait *w = arg;
    tclient *c = tc_connect(HOST, w->port, IO_TIMEOUT_MS);
    resp_value *r = c ? tc_cmd(c, "PING") : NULL;
    int ok = r && r->type == RESP_T_STATUS;
    resp_value_free(r);
    if (ok) {
        w->c = c;
        return 1;
    }
    tc_close(c);
    return 0;
}

static int connected_is(void *arg)
{
    accept_wait *w = arg;
    char *v = tc_info_field(w->c, "clients", "connected_clients");
    int ok = v && atoi(v) == 1;
    free(v);
    return ok;
}

#define LIM_CLIENTS 3

static void test_max_clients(const srv *s)
{
    accept_wait w = {s->port, NULL};
    tclient *c[LIM_CLIENTS] = {0};
    /* The start-up probe may still count: wait until this client is alone. */
    c[0] = srv_client(s);
    accept_wait alone = {s->port, c[0]};
    test_cond("first client alone", c[0] && proc_wait_until(connected_is, &alone, IO_TIMEOUT_MS));
    int ok = 1;
    for (int i = 1; i < LIM_CLIENTS; i++) {
        c[i] = srv_client(s);
        ok = ok && c[i] && want_status(tc_cmd(c[i], "PING"), "PONG");
    }
    test_cond("max-clients clients served", ok);
    tclient *extra = srv_client(s);
    test_cond("client over max-clients gets an error",
              extra && want_error(tc_read(extra), "ERR max number of clients reached"));
    test_cond("... and is closed", extra && closed_by_server(extra));
    tc_close(extra);
    test_cond("existing clients unaffected",
              c[0] && want_status(tc_cmd(c[0], "PING"), "PONG"));
    test_cond("INFO stats rejected_connections",
              c[0] && info_ll(c[0], "stats", "rejected_connections") >= 1);
    tc_close(c[LIM_CLIENTS - 1]);
    c[LIM_CLIENTS - 1] = NULL;
    test_cond("a slot frees when a client leaves",
              proc_wait_until(client_admitted, &w, IO_TIMEOUT_MS));
    tc_close(w.c);
    for (int i = 0; i < LIM_CLIENTS; i++)
        tc_close(c[i]);
}

/* Unparsed input (a 2 MiB value, legal for max-value-bytes) beyond
 * max-query-buffer (1 MiB) disconnects the client. */
static void test_query_limit(const srv *s)
{
    accept_wait w = {s->port, NULL};
    test_cond("query-limit: a client gets in", proc_wait_until(client_admitted, &w, IO_TIMEOUT_MS));
    tclient *m = w.c;
    if (!m) return;
    long long dropped0 = info_ll(m, "stats", "clients_dropped_input_limit");
    tclient *c = srv_client(s);
    static const char hdr[] = "*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$2097152\r\n";
    int sent_ok = c && tc_send_raw(c, hdr, sizeof hdr - 1) == 0;
    char *chunk = calloc(1, 64 * 1024);
    size_t sent = 0;
    while (sent_ok && sent < 2097152 && chunk) {
        if (tc_send_raw(c, chunk, 64 * 1024) != 0) break;
        sent += 64 * 1024;
    }
    free(chunk);
    counter_wait cw = {m, "clients_dropped_input_limit", dropped0 + 1};
    test_cond("client over max-query-buffer dropped (INFO)",
              dropped0 >= 0 && proc_wait_until(counter_reached, &cw, IO_TIMEOUT_MS));
    test_cond("... its connection is closed", c && closed_by_server(c));
    tc_close(c);
    test_cond("... nothing written", want_nil(tc_cmd(m, "GET", "q")));
    test_cond("... others still served", want_status(tc_cmd(m, "PING"), "PONG"));
    tc_close(m);
}

static void test_client_limits(void)
{
    test_section("limits: clients, query buffer");
    srv s;
    char nclients[16];
    snprintf(nclients, sizeof nclients, "%d", LIM_CLIENTS);
    const char *const extra[] = {"--max-clients", nclients, "--max-query-buffer", "1048576", NULL};
    if (srv_start(&s, extra) < 0) {
        test_cond("server starts", 0);
        return;
    }
    test_max_clients(&s);
    test_query_limit(&s);
    test_cond("SIGTERM exits 0", srv_stop(&s, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

static int write_accepted(void *arg)
{
    resp_value *r = tc_cmd(arg, "SET", "online", "1");
    int ok = r && r->type == RESP_T_STATUS;
    resp_value_free(r);
    return ok;
}

/* CPU time (utime + stime, clock ticks) of PID, or -1. */
static long long cpu_ticks(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *s = slurp(path, NULL);
    const char *p = s ? strrchr(s, ')') : NULL; /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    int ok =
        p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2;
    free(s);
    return ok ? (long long)(ut + st) : -1;
}

/* A half-closed client whose write waits for a stopped follower's ack: the
 * reply comes once the follower resumes, and the leader does not spin on
 * the peer's EOF meanwhile. */
static void test_half_close_slow_commit(void)
{
    test_section("half-closed client waiting for a quorum");
    char rport[16], peers[64];
    snprintf(rport, sizeof rport, "%d", proc_free_port());
    snprintf(peers, sizeof peers, "127.0.0.1:%s", rport);
    const char *const fextra[] = {"--role",      "follower", "--node-id", "2",
                                  "--repl-port", rport,      NULL};
    const char *const lextra[] = {"--node-id", "1", "--followers", peers, NULL};
    srv f, l;
    if (srv_start(&f, fextra) < 0) {
        test_cond("follower starts", 0);
        return;
    }
    if (srv_start(&l, lextra) < 0) {
        test_cond("leader starts", 0);
        srv_stop(&f, SIGTERM, STOP_TIMEOUT_MS);
        return;
    }
    tclient *m = srv_client(&l);
    int online = m && proc_wait_until(write_accepted, m, IO_TIMEOUT_MS);
    test_cond("leader with its follower takes writes", online);
    tclient *c = online ? srv_client(&l) : NULL;
    static const char set[] = "SET hs v\r\n";
    int ok = c && kill(f.pid, SIGSTOP) == 0 && tc_send_raw(c, set, sizeof set - 1) == 0 &&
             shutdown(tc_fd(c), SHUT_WR) == 0;
    long long t0 = cpu_ticks(l.pid);
    struct pollfd p = {c ? tc_fd(c) : -1, POLLIN, 0};
    ok = ok && poll(&p, 1, 400) == 0; /* no reply while the follower is stopped */
    long long used = cpu_ticks(l.pid) - t0;
    printf("   leader used %lld clock ticks in 400 ms waiting with a half-closed client\n", used);
    test_cond("no reply before the quorum", ok);
    test_cond("the leader does not spin on the half-closed client", t0 >= 0 && used < 20);
    test_cond("follower resumed", kill(f.pid, SIGCONT) == 0);
    test_cond("half-closed client gets its OK once the follower acks, then EOF",
              ok && want_status(tc_read(c), "OK") && closed_by_server(c));
    tc_close(c);
    tc_close(m);
    test_cond("leader: SIGTERM exits 0", srv_stop(&l, SIGTERM, STOP_TIMEOUT_MS) == 0);
    test_cond("follower: SIGTERM exits 0", srv_stop(&f, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

/* ---- garbage ---- */

typedef enum { G_NO_NEWLINE, G_RANDOM, G_UNKNOWN_LINES, G_BIG_BULK } garbage_kind;

static void fill_garbage(char *p, size_t n, garbage_kind k)
{
    static const char line[] = "garbage\r\n";
    for (size_t i = 0; i < n; i++) {
        switch (k) {
        case G_NO_NEWLINE:
            p[i] = (char)('A' + i % 26);
            break;
        case G_RANDOM:
            p[i] = (char)(rng() >> 56);
            break;
        case G_UNKNOWN_LINES:
            p[i] = line[i % (sizeof line - 1)];
            break;
        case G_BIG_BULK:
            p[i] = 'x';
            break;
        }
    }
}

/* Streams up to 1 GiB of KIND in 1 MiB chunks and stops when the server
 * closes the socket: it must, long before the end. */
static void garbage_one(srv *s, tclient *probe, garbage_kind kind, const char *what)
{
    tclient *c = srv_client(s);
    char *chunk = malloc(GARBAGE_CHUNK_BYTES);
    if (!c || !chunk) {
        test_cond("garbage: connect", 0);
        tc_close(c);
        free(chunk);
        return;
    }
    long long sent = 0, t0 = proc_now_ms();
    if (kind == G_BIG_BULK) {
        static const char hdr[] = "*1\r\n$16777216\r\n";
        if (tc_send_raw(c, hdr, sizeof hdr - 1) == 0) sent += (long long)sizeof hdr - 1;
    }
    fill_garbage(chunk, GARBAGE_CHUNK_BYTES, kind);
    if (kind == G_UNKNOWN_LINES) tc_set_timeout(c, 2000); /* the send blocks: backpressure */
    while (sent < GARBAGE_TOTAL_BYTES) {
        if (kind == G_RANDOM) fill_garbage(chunk, GARBAGE_CHUNK_BYTES, kind);
        if (tc_send_raw(c, chunk, GARBAGE_CHUNK_BYTES) != 0) break;
        sent += GARBAGE_CHUNK_BYTES;
    }
    const char *err = tc_error(c);
    printf("   %s: closed after %lld bytes in %lld ms (%s)\n", what, sent, proc_now_ms() - t0,
           err[0] ? err : "never closed");
    char d[160];
    if (kind == G_UNKNOWN_LINES) {
        /* Replies never read: the server stops reading this client once
         * CLIENT_OUT_PAUSE of replies wait (backpressure), so the sender
         * blocks, and what the server holds for it stays small. */
        snprintf(d, sizeof d, "%s: server stopped taking input before 1 GiB", what);
        test_cond(d, sent < GARBAGE_TOTAL_BYTES);
        long long mem = info_ll(probe, "memory", "mem_clients_normal");
        printf("   client buffers held meanwhile: %lld bytes\n", mem);
        snprintf(d, sizeof d, "%s: the server holds under 16 MiB for it", what);
        test_cond(d, mem >= 0 && mem < (16ll << 20));
    } else {
        snprintf(d, sizeof d, "%s: server closed the connection before 1 GiB", what);
        test_cond(d, sent < GARBAGE_TOTAL_BYTES && strncmp(err, "timeout", 7) != 0);
    }
    snprintf(d, sizeof d, "%s: server still up and serving", what);
    test_cond(d, srv_alive(s) && barrier(probe));
    tc_close(c);
    free(chunk);
}

static void test_garbage(void)
{
    test_section("1 GiB of garbage (default limits)");
    srv s;
    if (srv_start(&s, NULL) < 0) {
        test_cond("server starts", 0);
        return;
    }
    tclient *probe = srv_client(&s);
    if (probe) {
        garbage_one(&s, probe, G_NO_NEWLINE, "one endless inline line");
        garbage_one(&s, probe, G_RANDOM, "random bytes");
        garbage_one(&s, probe, G_UNKNOWN_LINES, "unknown inline commands, replies never read");
        garbage_one(&s, probe, G_BIG_BULK, "16 MiB bulk without its CRLF");
        test_cond("nothing written by garbage", dbsize(probe) == 0);
        long long mem = info_ll(probe, "memory", "used_memory_buffers");
        printf("   used_memory_buffers after the garbage: %lld\n", mem);
    } else {
        test_cond("connect", 0);
    }
    tc_close(probe);
    test_cond("SIGTERM exits 0", srv_stop(&s, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

/* ---- durability: kill -9 under write load ---- */

#define DUR_WRITERS 4
#define DUR_BATCH 200
#define DUR_RUN_MS 1000
#define DUR_DEPTH 2
#define DUR_MAX_KEYS 2000000
#define DUR_VALUE_PAD 64

static void dur_key(char *k, size_t kl, char *v, size_t vl, int i)
{
    snprintf(k, kl, "dur:%07d", i);
    snprintf(v, vl, "value-%07d-%.*s", i, DUR_VALUE_PAD,
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-abcdefghij");
}

/* Sends the batch of SETs for keys FIRST..FIRST+DUR_BATCH-1. */
static int dur_send(tclient *c, int first)
{
    resp_buf b = {0};
    for (int i = first; i < first + DUR_BATCH; i++) {
        char k[32], v[128];
        dur_key(k, sizeof k, v, sizeof v, i);
        const char *argv[] = {"SET", k, v};
        resp_encode_command(&b, 3, argv, NULL);
    }
    int rc = tc_send_raw(c, b.p, b.len);
    resp_buf_free(&b);
    return rc;
}

/* Reads replies for a batch; marks acknowledged keys; returns how many. */
static int dur_read(tclient *c, int first, unsigned char *acked)
{
    int n = 0;
    for (int i = first; i < first + DUR_BATCH; i++) {
        resp_value *r = tc_read(c);
        int ok = r && r->type == RESP_T_STATUS && strcmp(r->str, "OK") == 0;
        resp_value_free(r);
        if (!ok) break;
        acked[i] = 1;
        n++;
    }
    return n;
}

/* Checks every acknowledged key with pipelined GETs; returns missing ones. */
static int dur_verify(tclient *c, const unsigned char *acked, int nkeys, int *present_total)
{
    int missing = 0, present = 0;
    for (int first = 0; first < nkeys; first += 1000) {
        int last = first + 1000 < nkeys ? first + 1000 : nkeys;
        resp_buf b = {0};
        for (int i = first; i < last; i++) {
            char k[32], v[128];
            dur_key(k, sizeof k, v, sizeof v, i);
            const char *argv[] = {"GET", k};
            resp_encode_command(&b, 2, argv, NULL);
        }
        int rc = tc_send_raw(c, b.p, b.len);
        resp_buf_free(&b);
        if (rc != 0) return -1;
        for (int i = first; i < last; i++) {
            char k[32], v[128];
            dur_key(k, sizeof k, v, sizeof v, i);
            resp_value *r = tc_read(c);
            if (!r) return -1;
            int has = r->type == RESP_T_BULK;
            int right = has && r->len == strlen(v) && memcmp(r->str, v, r->len) == 0;
            present += has;
            if (has && !right) {
                printf("   %s has a wrong value\n", k);
                missing++;
            } else if (acked[i] && !has) {
                if (missing < 10) printf("   acknowledged %s is missing\n", k);
                missing++;
            }
            resp_value_free(r);
        }
    }
    *present_total = present;
    return missing;
}

static void test_durability(void)
{
    test_section("kill -9 under write load, restart, no acknowledged write lost");
    srv s;
    if (srv_start(&s, NULL) < 0) {
        test_cond("server starts", 0);
        return;
    }
    unsigned char *acked = calloc(DUR_MAX_KEYS, 1);
    tclient *w[DUR_WRITERS] = {0};
    int ok = acked != NULL;
    for (int i = 0; i < DUR_WRITERS; i++)
        ok = ok && (w[i] = srv_client(&s)) != NULL;
    test_cond("writers connect", ok);
    /* Each writer keeps DUR_DEPTH batches in flight and reads the oldest
     * one's replies while the server works on the newer ones; at the end
     * the server is killed with every writer's batches still in flight. */
    int next = 0, nacked = 0, late = 0;
    int first[DUR_WRITERS][DUR_DEPTH], inflight[DUR_WRITERS] = {0};
    long long t0 = proc_now_ms();
    while (ok) {
        for (int i = 0; i < DUR_WRITERS && ok; i++)
            while (ok && inflight[i] < DUR_DEPTH && next + DUR_BATCH <= DUR_MAX_KEYS) {
                first[i][inflight[i]++] = next;
                ok = dur_send(w[i], next) == 0;
                next += DUR_BATCH;
            }
        if (proc_now_ms() - t0 >= DUR_RUN_MS || next + DUR_BATCH > DUR_MAX_KEYS) break;
        for (int i = 0; i < DUR_WRITERS && ok; i++) {
            int n = dur_read(w[i], first[i][0], acked);
            nacked += n;
            ok = n == DUR_BATCH;
            memmove(&first[i][0], &first[i][1], sizeof first[i][0] * (DUR_DEPTH - 1));
            inflight[i]--;
        }
    }
    test_cond("writes acknowledged before the kill", ok);
    int code = srv_stop(&s, SIGKILL, STOP_TIMEOUT_MS);
    test_cond("kill -9", code == 128 + SIGKILL);
    /* Replies that reached the socket before the kill are acknowledgements. */
    for (int i = 0; i < DUR_WRITERS; i++)
        for (int b = 0; w[i] && b < inflight[i]; b++) {
            int n = dur_read(w[i], first[i][b], acked);
            late += n;
            if (n < DUR_BATCH) break;
        }
    nacked += late;
    printf("   %d SETs sent, %d acknowledged (%d while the kill was under way)\n", next, nacked,
           late);
    test_cond("enough writes to mean something", nacked >= 1000);
    for (int i = 0; i < DUR_WRITERS; i++)
        tc_close(w[i]);

    srv r;
    if (srv_start_ex(&r, s.dir, NULL, 0) < 0) {
        test_cond("restart on the same data dir", 0);
        free(acked);
        return;
    }
    tclient *c = srv_client(&r);
    int present = 0;
    int missing = c ? dur_verify(c, acked, next, &present) : -1;
    long long n = c ? dbsize(c) : -1;
    char *d = c ? digest(c) : NULL;
    printf("   after restart: %lld keys (%d of the keys written), digest %s\n", n, present,
           d ? d : "?");
    test_cond("every acknowledged key present with its value after kill -9", missing == 0);
    test_cond("no keys beyond those written", n == present && present >= nacked && n <= next);
    test_cond("restarted server takes writes",
              c && want_status(tc_cmd(c, "SET", "after", "restart"), "OK"));
    char *d_stop = c ? digest(c) : NULL;
    tc_close(c);
    test_cond("SIGTERM after recovery exits 0", srv_stop(&r, SIGTERM, STOP_TIMEOUT_MS) == 0);

    /* A clean stop then a restart keeps everything, including the last SET. */
    srv r2;
    if (srv_start_ex(&r2, s.dir, NULL, 0) == 0) {
        c = srv_client(&r2);
        char *d2 = c ? digest(c) : NULL;
        test_cond("after SIGTERM: the last write survived",
                  c && want_str(tc_cmd(c, "GET", "after"), "restart"));
        int same = d_stop && d2 && strcmp(d_stop, d2) == 0;
        if (!same)
            printf("   digest before stop %s, after restart %s\n", d_stop ? d_stop : "?",
                   d2 ? d2 : "?");
        test_cond("after SIGTERM + restart: same digest", same);
        tc_close(c);
        free(d2);
        test_cond("second restart: SIGTERM exits 0", srv_stop(&r2, SIGTERM, STOP_TIMEOUT_MS) == 0);
    } else {
        test_cond("second restart", 0);
    }
    free(d_stop);
    free(d);
    free(acked);
}

/* ---- configuration ---- */

/* Runs rkv-server with ARGV (after the binary) to completion; returns its
 * exit code and leaves its output in LOG. */
static int run_to_exit(const char *const *args, char *log, size_t loglen)
{
    char bin[PROC_PATH_MAX];
    const char *argv[16];
    int a = 0;
    if (proc_build_path(bin, sizeof bin, "rkv-server") < 0) return -1;
    argv[a++] = bin;
    for (int i = 0; args[i] && a < 15; i++)
        argv[a++] = args[i];
    argv[a] = NULL;
    snprintf(log, loglen, "%s/run-%02d.log", g_base, ++g_nlogs);
    pid_t pid = proc_spawn(argv, log);
    if (pid < 0) return -1;
    live_add(pid);
    int code = proc_stop(pid, 0, START_TIMEOUT_MS);
    live_remove(pid);
    return code;
}

static int write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    int ok = fputs(text, fp) >= 0;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

static void test_config_file(void)
{
    char bin[PROC_PATH_MAX], cfg[PROC_PATH_MAX], text[2 * PROC_PATH_MAX];
    const char *dir = new_dir("srvcfg");
    int port = proc_free_port();
    snprintf(cfg, sizeof cfg, "%s/rkv.conf", g_base);
    snprintf(text, sizeof text,
             "# rkv test configuration\n\n   # an indented comment\n"
             "port %d   # the client port\ndata-dir\t%s\nlog-level warn\nmax-clients 77\n",
             port, dir ? dir : "/nonexistent");
    if (!dir || proc_build_path(bin, sizeof bin, "rkv-server") < 0 || write_file(cfg, text) < 0) {
        test_cond("config file written", 0);
        return;
    }
    srv s = {.port = port};
    snprintf(s.dir, sizeof s.dir, "%s", dir);
    snprintf(s.log, sizeof s.log, "%s/config-server.log", g_base);
    const char *const argv[] = {bin, "--config", cfg, NULL};
    s.pid = proc_spawn(argv, s.log);
    listen_wait w = {s.pid, port, -1};
    int up =
        s.pid > 0 && proc_wait_until(listening_or_exited, &w, START_TIMEOUT_MS) && w.exited < 0;
    if (s.pid > 0) live_add(s.pid);
    test_cond("--config FILE: listens on the file's port", up);
    if (!up) print_log_tail(s.log);
    tclient *c = up ? srv_client(&s) : NULL;
    char *dd = c ? tc_info_field(c, "server", "data_dir") : NULL;
    test_cond("--config FILE: uses the file's data-dir", dd && strcmp(dd, dir) == 0);
    free(dd);
    resp_value *r = c ? tc_cmd(c, "CONFIG", "GET", "maxclients") : NULL;
    test_cond("--config FILE: max-clients from the file",
              r && r->type == RESP_T_ARRAY && r->nelem == 2 && is_bulk_str(elem(r, 1), "77"));
    resp_value_free(r);
    test_cond("--config FILE: writes work",
              c && want_status(tc_cmd(c, "SET", "cfg", "ok"), "OK"));
    tc_close(c);
    test_cond("--config server: SIGTERM exits 0", srv_stop(&s, SIGTERM, STOP_TIMEOUT_MS) == 0);
}

static void test_config_errors(void)
{
    char log[PROC_PATH_MAX], bad1[PROC_PATH_MAX], bad2[PROC_PATH_MAX];
    snprintf(bad1, sizeof bad1, "%s/bad-key.conf", g_base);
    snprintf(bad2, sizeof bad2, "%s/no-value.conf", g_base);
    write_file(bad1, "# fine so far\nport 0\nbogus-key 1\n");
    write_file(bad2, "port\n");
    const char *dir = new_dir("srvbad");
    struct {
        const char *args[6];
        const char *name; /* must appear in the message */
    } cases[] = {
        {{"--no-such-flag", "1", NULL}, "no-such-flag"},
        {{"--port", "notaport", NULL}, "port"},
        {{"--port", "70000", NULL}, "port"},
        {{"--max-clients", "0", NULL}, "max-clients"},
        {{"--role", "boss", NULL}, "role"},
        {{"--log-level", "loud", NULL}, "log-level"},
        {{"--data-dir", dir ? dir : "/tmp", "--port", NULL}, "port"},
        {{"--config", "/nonexistent/rkv.conf", NULL}, "config"},
        {{"--config", bad1, NULL}, "bogus-key"},
        {{"--config", bad2, NULL}, "port"},
        {{"stray-argument", NULL}, "stray-argument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = run_to_exit(cases[i].args, log, sizeof log);
        char d[160];
        snprintf(d, sizeof d, "bad setting %s %s: exit 2 naming '%s'", cases[i].args[0],
                 cases[i].args[1] ? cases[i].args[1] : "", cases[i].name);
        int ok = code == 2 && file_contains(log, cases[i].name);
        if (!ok) {
            printf("   exit code %d\n", code);
            print_log_tail(log);
        }
        test_cond(d, ok);
    }
    static const char *const help[] = {"--help", NULL};
    int code = run_to_exit(help, log, sizeof log);
    test_cond("--help exits 0", code == 0);
    test_cond("--help documents the flags",
              file_contains(log, "--config") && file_contains(log, "--data-dir") &&
                  file_contains(log, "--max-reply-buffer") && file_contains(log, "--port"));
}

/* ---- SIGTERM under valgrind ---- */

static int have_valgrind(void)
{
    const char *path = getenv("PATH");
    char buf[PROC_PATH_MAX];
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 && n < sizeof buf - 16) {
            snprintf(buf, sizeof buf, "%.*s/valgrind", (int)n, path);
            if (access(buf, X_OK) == 0) return 1;
        }
        path = colon ? colon + 1 : NULL;
    }
    return 0;
}

static int no_blocked_clients(void *arg)
{
    char *v = tc_info_field(arg, "clients", "blocked_clients");
    int ok = v && atoi(v) == 0;
    free(v);
    return ok;
}

/* A sanitizer runtime (make asan / tsan) cannot run under valgrind. */
static int server_is_sanitized(void)
{
    char bin[PROC_PATH_MAX];
    size_t n = 0;
    char *p = proc_build_path(bin, sizeof bin, "rkv-server") == 0 ? slurp(bin, &n) : NULL;
    int hit = p && (memmem(p, n, "__asan_init", 11) || memmem(p, n, "__tsan_init", 11));
    free(p);
    return hit;
}

static int vg_clean(const srv *s, int code, const char *when)
{
    int freed = file_contains(s->log, "All heap blocks were freed");
    int noerr = file_contains(s->log, "ERROR SUMMARY: 0 errors");
    char d[128];
    snprintf(d, sizeof d, "valgrind %s: SIGTERM exits 0", when);
    test_cond(d, code == 0);
    snprintf(d, sizeof d, "valgrind %s: all heap blocks freed", when);
    test_cond(d, freed);
    snprintf(d, sizeof d, "valgrind %s: 0 errors", when);
    test_cond(d, noerr);
    if (code != 0 || !freed || !noerr) print_log_tail(s->log);
    return code == 0 && freed && noerr;
}

static void test_valgrind(void)
{
    test_section("SIGTERM under valgrind");
    if (!have_valgrind()) {
        printf("   NOTE: valgrind not found on PATH; skipping the leak check\n");
        return;
    }
    if (server_is_sanitized()) {
        printf("   NOTE: rkv-server is built with a sanitizer; skipping the valgrind run\n");
        return;
    }
    srv s;
    if (srv_start_ex(&s, NULL, NULL, 1) < 0) {
        test_cond("server starts under valgrind", 0);
        return;
    }
    tclient *c = tc_connect(HOST, s.port, VG_TIMEOUT_MS);
    tclient *half = tc_connect(HOST, s.port, VG_TIMEOUT_MS);
    tclient *unread = tc_connect(HOST, s.port, VG_TIMEOUT_MS);
    int ok = c && half && unread;
    ok = ok && want_status(tc_cmd(c, "SET", "vg1", "one"), "OK") &&
         want_status(tc_cmd(c, "SET", "vg2", "two"), "OK") &&
         want_str(tc_cmd(c, "GET", "vg1"), "one") &&
         want_int(tc_cmd(c, "DEL", "vg2", "nosuch"), 1) &&
         want_int(tc_cmd(c, "EXISTS", "vg1", "vg2"), 1) &&
         want_status(tc_cmd(c, "CLIENT", "SETNAME", "vg"), "OK");
    resp_value *r = ok ? tc_cmd(c, "INFO") : NULL;
    ok = ok && r && r->type == RESP_T_BULK;
    resp_value_free(r);
    r = ok ? tc_cmd(c, "COMMAND") : NULL;
    ok = ok && r && r->type == RESP_T_ARRAY;
    resp_value_free(r);
    resp_buf b = {0};
    for (int i = 0; ok && i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "vgp:%d", i);
        const char *argv[] = {"SET", k, "pipelined"};
        resp_encode_command(&b, 3, argv, NULL);
    }
    ok = ok && tc_send_raw(c, b.p, b.len) == 0;
    for (int i = 0; ok && i < 200; i++)
        ok = want_status(tc_read(c), "OK");
    test_cond("writes and reads under valgrind", ok);
    /* Clients that leave while blocked, while owed replies, or half-closed. */
    tclient *x = tc_connect(HOST, s.port, VG_TIMEOUT_MS);
    tclient *y = tc_connect(HOST, s.port, VG_TIMEOUT_MS);
    tclient *z = tc_connect(HOST, s.port, VG_TIMEOUT_MS);
    static const char block[] = "WAITLSN 999999999 0\r\n", hz[] = "SET hz v\r\nGET hz\r\n";
    int left = x && y && z && tc_send_raw(x, block, sizeof block - 1) == 0 && barrier(c);
    tc_close(x);
    left = left && tc_send_raw(y, b.p, b.len) == 0;
    tc_close(y);
    left = left && tc_send_raw(z, hz, sizeof hz - 1) == 0 && shutdown(tc_fd(z), SHUT_WR) == 0 &&
           want_status(tc_read(z), "OK") && want_str(tc_read(z), "v") && closed_by_server(z);
    tc_close(z);
    test_cond("clients leaving blocked / owed / half-closed under valgrind",
              left && proc_wait_until(no_blocked_clients, c, VG_TIMEOUT_MS));
    /* At shutdown: one client holds half a command, one has unread replies. */
    static const char partial[] = "*3\r\n$3\r\nSET\r\n$4\r\nhalf";
    test_cond("clients mid-command at shutdown",
              half && tc_send_raw(half, partial, sizeof partial - 1) == 0 && unread &&
                  tc_send_raw(unread, b.p, b.len) == 0 && barrier(c));
    resp_buf_free(&b);
    int code = srv_stop(&s, SIGTERM, VG_TIMEOUT_MS);
    tc_close(c);
    tc_close(half);
    tc_close(unread);
    vg_clean(&s, code, "after writes");

    /* Recovery and a second shutdown under valgrind too. */
    srv r2;
    if (srv_start_ex(&r2, s.dir, NULL, 1) < 0) {
        test_cond("restart under valgrind", 0);
        return;
    }
    c = tc_connect(HOST, r2.port, VG_TIMEOUT_MS);
    test_cond("recovered under valgrind",
              c && want_str(tc_cmd(c, "GET", "vg1"), "one") &&
                  want_nil(tc_cmd(c, "GET", "vg2")) &&
                  want_str(tc_cmd(c, "GET", "vgp:199"), "pipelined"));
    tc_close(c);
    vg_clean(&r2, srv_stop(&r2, SIGTERM, VG_TIMEOUT_MS), "after recovery");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    g_base = proc_tmpdir("srvtest");
    if (!g_base) {
        printf("cannot create a temp dir\n");
        return 1;
    }
    long long t0 = proc_now_ms();
    test_commands();
    test_digest();
    {
        srv s;
        if (srv_start(&s, NULL) == 0) {
            test_pipelining(&s);
            test_pipelined_errors(&s);
            test_half_close(&s);
            test_many_clients(&s);
            test_random_chunks(&s);
            test_default_limits(&s);
            test_malformed(&s);
            test_cond("SIGTERM exits 0", srv_stop(&s, SIGTERM, STOP_TIMEOUT_MS) == 0);
        } else {
            test_cond("server starts", 0);
        }
    }
    test_limits();
    test_client_limits();
    test_half_close_slow_commit();
    test_garbage();
    test_durability();
    test_section("configuration");
    test_config_file();
    test_config_errors();
    test_valgrind();
    int stray = 0;
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_live[i] > 0) {
            stray++;
            proc_stop(g_live[i], SIGKILL, STOP_TIMEOUT_MS);
        }
    test_cond("no server left running", stray == 0);
    printf("   elapsed %lld ms\n", proc_now_ms() - t0);
    if (test_failed_ == 0) {
        for (int i = 0; i < g_ndirs; i++)
            proc_rmtree(g_dirs[i]);
        proc_rmtree(g_base);
    } else {
        printf("   logs kept in %s\n", g_base);
    }
    for (int i = 0; i < g_ndirs; i++)
        free(g_dirs[i]);
    free(g_base);
    return test_report();
}
