/* auth_proc_test.c -- authentication, users and protected mode on real
 * rkv-server processes, against Redis 7.0's replies:
 *   --requirepass: -NOAUTH for everything but AUTH, HELLO, QUIT and RESET
 *     (Redis 7.0's no-auth commands; PING is not one), RESET logging out,
 *     the unknown-command and
 *     arity errors first (processCommand's order), -WRONGPASS, AUTH pass,
 *     AUTH user pass, HELLO 2 AUTH user pass SETNAME, auth_failures in INFO
 *     and in the log without the password;
 *   no password: AUTH's "called without any password configured" error;
 *   --aclfile: key patterns and categories (-NOPERM texts), ACL SETUSER /
 *     DELUSER / LIST / USERS / WHOAMI / CAT / GETUSER / SAVE / LOAD, the
 *     saved file without plain passwords, connections of a deleted or
 *     disabled user closed, a bad aclfile refusing the start (file:line);
 *   protected mode: --bind 0.0.0.0 without a password refuses a
 *     connection from the machine's non-loopback address with -DENIED
 *     (skipped if it has none) and accepts it with --protected-mode no or a
 *     password. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "../common/proc.h"
#include "../testhelp.h"

#define START_MS 10000
#define IO_MS 5000

static const char *const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";
static const char *const NOAUTH = "NOAUTH Authentication required.";

typedef struct server {
    pid_t pid;
    int port;
    char *dir;
    char log[PROC_PATH_MAX];
} server;

/* Starts rkv-server with EXTRA flags (NULL-terminated); waits for it on
 * 127.0.0.1. 0 or -1. */
static int start(server *s, const char *tag, const char *const *extra)
{
    char bin[PROC_PATH_MAX], portstr[16];
    const char *argv[32];
    int n = 0;
    memset(s, 0, sizeof *s);
    s->dir = proc_tmpdir(tag);
    s->port = proc_free_port();
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(portstr, sizeof portstr, "%d", s->port);
    snprintf(s->log, sizeof s->log, "%s.log", s->dir ? s->dir : "/tmp/rkv-auth");
    argv[n++] = bin;
    argv[n++] = "--port";
    argv[n++] = portstr;
    argv[n++] = "--data-dir";
    argv[n++] = s->dir ? s->dir : "/nonexistent";
    for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    s->pid = proc_spawn(argv, s->log);
    tclient *t = tc_connect("127.0.0.1", s->port, START_MS);
    int ok = t != NULL;
    tc_close(t);
    return ok ? 0 : -1;
}

static void stop(server *s)
{
    test_cond("the server exits cleanly", s->pid > 0 && proc_stop(s->pid, SIGTERM, START_MS) == 0);
    if (test_failed_ == 0 && s->dir) {
        proc_rmtree(s->dir);
        remove(s->log);
    } else {
        printf("files kept: %s, %s\n", s->dir ? s->dir : "", s->log);
    }
    free(s->dir);
}

static tclient *conn(const server *s)
{
    return tc_connect("127.0.0.1", s->port, IO_MS);
}

static int is_status(resp_value *r, const char *s)
{
    int ok = r && r->type == RESP_T_STATUS && strcmp(r->str, s) == 0;
    if (!ok) printf("   got %s, expected +%s\n", r ? r->str ? r->str : "(no text)" : "(none)", s);
    resp_value_free(r);
    return ok;
}

static int is_error(resp_value *r, const char *s)
{
    int ok = r && r->type == RESP_T_ERROR && strcmp(r->str, s) == 0;
    if (!ok) printf("   got %s, expected -%s\n", r ? r->str ? r->str : "(no text)" : "(none)", s);
    resp_value_free(r);
    return ok;
}

static int is_bulk(resp_value *r, const char *s)
{
    int ok = r && r->type == RESP_T_BULK && strcmp(r->str, s) == 0;
    if (!ok) printf("   got %s, expected $%s\n", r ? r->str ? r->str : "(no text)" : "(none)", s);
    resp_value_free(r);
    return ok;
}

static int is_int(resp_value *r, long long v)
{
    int ok = r && r->type == RESP_T_INT && r->integer == v;
    resp_value_free(r);
    return ok;
}

/* Does the array R hold the bulk S? */
static int array_has(const resp_value *r, const char *s)
{
    if (!r || r->type != RESP_T_ARRAY) return 0;
    for (size_t i = 0; i < r->nelem; i++)
        if (r->elem[i]->type == RESP_T_BULK && strcmp(r->elem[i]->str, s) == 0) return 1;
    return 0;
}

/* A fresh connection logged in as USER / PASS (NULL user: AUTH pass). */
static tclient *login(const server *s, const char *user, const char *pass)
{
    tclient *t = conn(s);
    resp_value *r = user ? tc_cmd(t, "AUTH", user, pass) : tc_cmd(t, "AUTH", pass);
    int ok = r && r->type == RESP_T_STATUS;
    resp_value_free(r);
    if (!ok) {
        tc_close(t);
        return NULL;
    }
    return t;
}

/* Has the server closed T (a read gets EOF within IO_MS)? */
static int closed(tclient *t)
{
    resp_value *r = tc_cmd(t, "PING");
    int gone = r == NULL;
    resp_value_free(r);
    return gone;
}

static char *file_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = 0;
    }
    fclose(f);
    return buf;
}

static int file_has(const char *path, const char *needle)
{
    char *t = file_text(path);
    int has = t && strstr(t, needle) != NULL;
    free(t);
    return has;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static void sha_hex(const char *pw, char out[65])
{
    uint8_t h[RKV_SHA256_LEN];
    rkv_sha256(pw, strlen(pw), h);
    rkv_hex(h, sizeof h, out);
}

/* ---- --requirepass ---- */

static void test_requirepass(void)
{
    test_section("--requirepass: NOAUTH until AUTH");
    server s;
    const char *const extra[] = {"--requirepass", "s3cret-pw", NULL};
    test_cond("the server starts", start(&s, "auth-pass", extra) == 0);
    tclient *t = conn(&s);
    test_cond("GET before AUTH: -NOAUTH", is_error(tc_cmd(t, "GET", "k"), NOAUTH));
    test_cond("SET before AUTH: -NOAUTH", is_error(tc_cmd(t, "SET", "k", "v"), NOAUTH));
    test_cond("PING before AUTH: -NOAUTH (not a no-auth command in Redis 7.0)",
              is_error(tc_cmd(t, "PING"), NOAUTH));
    test_cond("INFO, COMMAND, CLIENT, ACL before AUTH: -NOAUTH",
              is_error(tc_cmd(t, "INFO"), NOAUTH) && is_error(tc_cmd(t, "COMMAND"), NOAUTH) &&
                  is_error(tc_cmd(t, "CLIENT", "ID"), NOAUTH) &&
                  is_error(tc_cmd(t, "ACL", "WHOAMI"), NOAUTH));
    test_cond("an unknown command is still that error first",
              is_error(tc_cmd(t, "NOSUCH"),
                       "ERR unknown command 'NOSUCH', with args beginning with: "));
    test_cond("a wrong arity is still that error first",
              is_error(tc_cmd(t, "GET"), "ERR wrong number of arguments for 'get' command"));
    test_cond("HELLO without AUTH: Redis's NOAUTH HELLO text",
              is_error(tc_cmd(t, "HELLO", "2"),
                       "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time"));
    test_cond("AUTH without arguments: arity error",
              is_error(tc_cmd(t, "AUTH"), "ERR wrong number of arguments for 'auth' command"));
    test_cond("AUTH a b c: syntax error", is_error(tc_cmd(t, "AUTH", "a", "b", "c"), "ERR syntax error"));
    test_cond("AUTH wrong: -WRONGPASS", is_error(tc_cmd(t, "AUTH", "wrong-pw-xyz"), WRONGPASS));
    test_cond("AUTH default wrong: -WRONGPASS",
              is_error(tc_cmd(t, "AUTH", "default", "wrong-pw-xyz"), WRONGPASS));
    test_cond("AUTH nosuchuser s3cret-pw: -WRONGPASS",
              is_error(tc_cmd(t, "AUTH", "nosuchuser", "s3cret-pw"), WRONGPASS));
    test_cond("still not authenticated", is_error(tc_cmd(t, "GET", "k"), NOAUTH));
    test_cond("AUTH s3cret-pw: +OK", is_status(tc_cmd(t, "AUTH", "s3cret-pw"), "OK"));
    test_cond("SET / GET now work", is_status(tc_cmd(t, "SET", "k", "v"), "OK") &&
                                        is_bulk(tc_cmd(t, "GET", "k"), "v"));
    test_cond("ACL WHOAMI: default", is_bulk(tc_cmd(t, "ACL", "WHOAMI"), "default"));
    test_cond("a later wrong AUTH: -WRONGPASS, the login stays",
              is_error(tc_cmd(t, "AUTH", "nope"), WRONGPASS) &&
                  is_bulk(tc_cmd(t, "GET", "k"), "v"));
    char *fails = tc_info_field(t, "stats", "auth_failures");
    test_cond("INFO stats auth_failures counts the 4 failures", fails && strcmp(fails, "4") == 0);
    free(fails);
    char *ac = tc_info_field(t, "stats", "rejected_connections");
    test_cond("INFO never shows the password", ac != NULL);
    free(ac);
    resp_value *info = tc_cmd(t, "INFO");
    test_cond("INFO text has no password", info && info->str && !strstr(info->str, "s3cret"));
    resp_value_free(info);
    resp_value *cfg = tc_cmd(t, "CONFIG", "GET", "*");
    int leak = 0;
    for (size_t i = 0; cfg && cfg->type == RESP_T_ARRAY && i < cfg->nelem; i++)
        leak |= cfg->elem[i]->str && strstr(cfg->elem[i]->str, "s3cret") != NULL;
    test_cond("CONFIG GET * has no password", cfg && cfg->type == RESP_T_ARRAY && !leak);
    resp_value_free(cfg);
    tc_close(t);

    t = conn(&s);
    test_cond("AUTH default s3cret-pw: +OK", is_status(tc_cmd(t, "AUTH", "default", "s3cret-pw"), "OK") &&
                                                 is_bulk(tc_cmd(t, "GET", "k"), "v"));
    tc_close(t);

    t = conn(&s);
    test_cond("HELLO 2 AUTH default wrong: -WRONGPASS",
              is_error(tc_cmd(t, "HELLO", "2", "AUTH", "default", "bad", "SETNAME", "n1"),
                       WRONGPASS));
    test_cond("... and the name was not set",
              is_error(tc_cmd(t, "CLIENT", "GETNAME"), NOAUTH));
    resp_value *r = tc_cmd(t, "HELLO", "2", "AUTH", "default", "s3cret-pw", "SETNAME", "n1");
    test_cond("HELLO 2 AUTH default s3cret-pw SETNAME n1: the HELLO map",
              r && r->type == RESP_T_ARRAY && r->nelem == 14 && array_has(r, "proto"));
    resp_value_free(r);
    test_cond("authenticated and named", is_bulk(tc_cmd(t, "CLIENT", "GETNAME"), "n1") &&
                                             is_bulk(tc_cmd(t, "GET", "k"), "v"));
    tc_close(t);

    t = conn(&s);
    test_cond("RESET before AUTH: +RESET (no-auth)", is_status(tc_cmd(t, "RESET"), "RESET") &&
                                                        is_error(tc_cmd(t, "GET", "k"), NOAUTH));
    test_cond("AUTH, then RESET logs out", is_status(tc_cmd(t, "AUTH", "s3cret-pw"), "OK") &&
                                               is_bulk(tc_cmd(t, "GET", "k"), "v") &&
                                               is_status(tc_cmd(t, "RESET"), "RESET") &&
                                               is_error(tc_cmd(t, "GET", "k"), NOAUTH));
    tc_close(t);

    t = conn(&s);
    test_cond("QUIT before AUTH: +OK (no-auth) and closed",
              is_status(tc_cmd(t, "QUIT"), "OK") && closed(t));
    tc_close(t);

    char *log = file_text(s.log);
    test_cond("failed logins are logged with the peer and user",
              log && strstr(log, "authentication failed for user 'default'") &&
                  strstr(log, "(127.0.0.1:"));
    test_cond("the log never has a password",
              log && !strstr(log, "wrong-pw-xyz") && !strstr(log, "s3cret-pw"));
    free(log);
    stop(&s);
}

static void test_nopassword(void)
{
    test_section("no password configured");
    server s;
    test_cond("the server starts", start(&s, "auth-none", NULL) == 0);
    tclient *t = conn(&s);
    test_cond("commands run without AUTH", is_status(tc_cmd(t, "PING"), "PONG"));
    test_cond("AUTH pw: Redis's no-password error",
              is_error(tc_cmd(t, "AUTH", "pw"),
                       "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?"));
    test_cond("AUTH default anything: +OK (nopass)",
              is_status(tc_cmd(t, "AUTH", "default", "anything"), "OK"));
    resp_value *r = tc_cmd(t, "ACL", "LIST");
    test_cond("ACL LIST: user default on nopass ~* &* +@all",
              r && r->type == RESP_T_ARRAY && r->nelem == 1 &&
                  strcmp(r->elem[0]->str, "user default on nopass ~* &* +@all") == 0);
    resp_value_free(r);
    r = tc_cmd(t, "ACL", "SAVE");
    test_cond("ACL SAVE without --aclfile: the not-configured error",
              r && r->type == RESP_T_ERROR && strstr(r->str, "not configured to use an ACL file"));
    resp_value_free(r);
    tc_close(t);
    stop(&s);
}

/* ---- --aclfile ---- */

static void test_aclfile(void)
{
    test_section("--aclfile: users, key patterns and categories");
    char *fdir = proc_tmpdir("auth-aclf");
    char path[PROC_PATH_MAX];
    snprintf(path, sizeof path, "%s/users.acl", fdir ? fdir : "/tmp");
    write_file(path, "user default on >admin-pw ~* &* +@all\n"
                     "user app on >app-pw ~app:* +@read +@write -@dangerous\n");
    server s;
    const char *const extra[] = {"--aclfile", path, NULL};
    test_cond("the server starts", start(&s, "auth-acl", extra) == 0);

    tclient *t = conn(&s);
    test_cond("NOAUTH until AUTH (default has a password)", is_error(tc_cmd(t, "GET", "x"), NOAUTH));
    test_cond("AUTH app wrong: -WRONGPASS", is_error(tc_cmd(t, "AUTH", "app", "x"), WRONGPASS));
    test_cond("AUTH app app-pw: +OK", is_status(tc_cmd(t, "AUTH", "app", "app-pw"), "OK"));
    test_cond("SET app:x allowed", is_status(tc_cmd(t, "SET", "app:x", "1"), "OK"));
    test_cond("GET app:x allowed", is_bulk(tc_cmd(t, "GET", "app:x"), "1"));
    const char *keyerr = "NOPERM this user has no permissions to access one of the keys used as "
                         "arguments";
    test_cond("SET other:x: key denied", is_error(tc_cmd(t, "SET", "other:x", "1"), keyerr));
    test_cond("GET other:x: key denied", is_error(tc_cmd(t, "GET", "other:x"), keyerr));
    test_cond("DEL app:x other:x: denied (every key is checked)",
              is_error(tc_cmd(t, "DEL", "app:x", "other:x"), keyerr));
    test_cond("EXISTS app:x: allowed", is_int(tc_cmd(t, "EXISTS", "app:x"), 1));
    test_cond("FLUSHALL: denied (@dangerous)",
              is_error(tc_cmd(t, "FLUSHALL"),
                       "NOPERM this user has no permissions to run the 'flushall' command"));
    test_cond("CONFIG SET: denied",
              is_error(tc_cmd(t, "CONFIG", "SET", "maxclients", "1"),
                       "NOPERM this user has no permissions to run the 'config|set' command"));
    test_cond("CONFIG GET: denied",
              is_error(tc_cmd(t, "CONFIG", "GET", "port"),
                       "NOPERM this user has no permissions to run the 'config|get' command"));
    test_cond("DEBUG: denied", is_error(tc_cmd(t, "DEBUG", "DIGEST"),
                                        "NOPERM this user has no permissions to run the 'debug' "
                                        "command"));
    test_cond("BGSAVE: denied", is_error(tc_cmd(t, "BGSAVE"),
                                         "NOPERM this user has no permissions to run the 'bgsave' "
                                         "command"));
    test_cond("FAILOVER: denied", is_error(tc_cmd(t, "FAILOVER"),
                                           "NOPERM this user has no permissions to run the "
                                           "'failover' command"));
    test_cond("ACL SETUSER: denied",
              is_error(tc_cmd(t, "ACL", "SETUSER", "app", "+@all"),
                       "NOPERM this user has no permissions to run the 'acl|setuser' command"));
    tc_close(t);

    test_section("ACL SETUSER / LIST / USERS / GETUSER / CAT");
    tclient *adm = login(&s, NULL, "admin-pw");
    test_cond("AUTH admin-pw (default)", adm != NULL);
    test_cond("other:x was never written", is_int(tc_cmd(adm, "EXISTS", "other:x"), 0));
    char *dk = tc_info_field(adm, "stats", "acl_access_denied_key"),
         *dc = tc_info_field(adm, "stats", "acl_access_denied_cmd"),
         *da = tc_info_field(adm, "stats", "acl_access_denied_auth");
    test_cond("INFO: Redis's acl_access_denied_key / _cmd / _auth counters",
              dk && strcmp(dk, "3") == 0 && dc && strcmp(dc, "7") == 0 && da && strcmp(da, "1") == 0);
    free(dk);
    free(dc);
    free(da);
    test_cond("SETUSER temp on >temp-pw ~t:* +@all",
              is_status(tc_cmd(adm, "ACL", "SETUSER", "temp", "on", ">temp-pw", "~t:*", "+@all"), "OK"));
    test_cond("a bad modifier: Redis's text",
              is_error(tc_cmd(adm, "ACL", "SETUSER", "temp", "bogus"),
                       "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"));
    test_cond("an error never echoes a password",
              is_error(tc_cmd(adm, "ACL", "SETUSER", "temp", "<not-a-pw"),
                       "ERR Error in ACL SETUSER modifier '<...': The password you are trying to "
                       "remove from the user does not exist"));
    resp_value *r = tc_cmd(adm, "ACL", "USERS");
    test_cond("USERS: app default temp, sorted",
              r && r->type == RESP_T_ARRAY && r->nelem == 3 && strcmp(r->elem[0]->str, "app") == 0 &&
                  strcmp(r->elem[1]->str, "default") == 0 && strcmp(r->elem[2]->str, "temp") == 0);
    resp_value_free(r);
    char hex[65], want[256];
    sha_hex("temp-pw", hex);
    snprintf(want, sizeof want, "user temp on #%s ~t:* resetchannels +@all", hex);
    r = tc_cmd(adm, "ACL", "LIST");
    test_cond("LIST: passwords only as #<sha256>", r && array_has(r, want));
    int plain = 0;
    for (size_t i = 0; r && r->type == RESP_T_ARRAY && i < r->nelem; i++)
        plain |= strstr(r->elem[i]->str, "-pw") != NULL;
    test_cond("LIST: no plain password", r && !plain);
    resp_value_free(r);
    r = tc_cmd(adm, "ACL", "GETUSER", "temp");
    test_cond("GETUSER temp: flags, passwords, commands, keys, channels, selectors",
              r && r->type == RESP_T_ARRAY && r->nelem == 12 &&
                  strcmp(r->elem[0]->str, "flags") == 0 && array_has(r->elem[1], "on") &&
                  array_has(r->elem[3], hex) && strcmp(r->elem[5]->str, "+@all") == 0 &&
                  strcmp(r->elem[7]->str, "~t:*") == 0 && strcmp(r->elem[9]->str, "") == 0 &&
                  r->elem[11]->type == RESP_T_ARRAY && r->elem[11]->nelem == 0);
    resp_value_free(r);
    r = tc_cmd(adm, "ACL", "GETUSER", "nosuch");
    test_cond("GETUSER nosuch: nil", r && r->type == RESP_T_NIL);
    resp_value_free(r);
    r = tc_cmd(adm, "ACL", "CAT");
    test_cond("CAT: Redis 7.0's 21 categories",
              r && r->type == RESP_T_ARRAY && r->nelem == 21 && array_has(r, "dangerous") &&
                  array_has(r, "keyspace") && array_has(r, "scripting"));
    resp_value_free(r);
    r = tc_cmd(adm, "ACL", "CAT", "dangerous");
    test_cond("CAT dangerous: the admin commands, not GET",
              r && array_has(r, "bgsave") && array_has(r, "config") && array_has(r, "debug") &&
                  array_has(r, "failover") && array_has(r, "acl") && !array_has(r, "get"));
    resp_value_free(r);
    test_cond("CAT nosuch: error", is_error(tc_cmd(adm, "ACL", "CAT", "nosuch"),
                                            "ERR Unknown category 'nosuch'"));
    test_cond("an unknown subcommand", is_error(tc_cmd(adm, "ACL", "NOSUCH"),
                                                "ERR unknown subcommand 'NOSUCH'. Try ACL HELP."));
    r = tc_cmd(adm, "ACL", "HELP");
    test_cond("HELP: status lines", r && r->type == RESP_T_ARRAY && r->nelem > 10 &&
                                        r->elem[0]->type == RESP_T_STATUS);
    resp_value_free(r);

    test_section("EVAL's keys are checked against the user's key patterns");
    test_cond("SETUSER scr on >scr-pw ~s:* +@all",
              is_status(tc_cmd(adm, "ACL", "SETUSER", "scr", "on", ">scr-pw", "~s:*", "+@all"), "OK"));
    test_cond("a lock held by someone else", is_status(tc_cmd(adm, "SET", "other:lock", "tok"), "OK"));
    tclient *sc = login(&s, "scr", "scr-pw");
    static const char rel[] = "local token = redis.call('get', KEYS[1]) if not token or token ~= "
                              "ARGV[1] then return 0 end redis.call('del', KEYS[1]) return 1";
    test_cond("EVAL of redis-py's release on a key outside ~s:*: NOPERM",
              sc && is_error(tc_cmd(sc, "EVAL", rel, "1", "other:lock", "tok"),
                             "NOPERM this user has no permissions to access one of the keys used "
                             "as arguments"));
    test_cond("the lock is still there", is_int(tc_cmd(adm, "EXISTS", "other:lock"), 1));
    test_cond("on its own key: runs", sc && is_status(tc_cmd(sc, "SET", "s:lock", "tok"), "OK") &&
                                          is_int(tc_cmd(sc, "EVAL", rel, "1", "s:lock", "tok"), 1));
    tc_close(sc);
    test_cond("DELUSER scr", is_int(tc_cmd(adm, "ACL", "DELUSER", "scr"), 1));
    resp_value_free(tc_cmd(adm, "DEL", "other:lock"));

    test_section("DELUSER and SETUSER off close that user's connections");
    tclient *tt = login(&s, "temp", "temp-pw");
    test_cond("temp logs in and writes t:1", tt && is_status(tc_cmd(tt, "SET", "t:1", "v"), "OK") &&
                                                 is_bulk(tc_cmd(tt, "ACL", "WHOAMI"), "temp"));
    test_cond("DELUSER default: refused", is_error(tc_cmd(adm, "ACL", "DELUSER", "default"),
                                                   "ERR The 'default' user cannot be removed"));
    test_cond("DELUSER temp nosuch: 1", is_int(tc_cmd(adm, "ACL", "DELUSER", "temp", "nosuch"), 1));
    test_cond("temp's connection is closed", closed(tt));
    tc_close(tt);
    test_cond("temp can no longer log in", login(&s, "temp", "temp-pw") == NULL);
    test_cond("SETUSER temp2", is_status(tc_cmd(adm, "ACL", "SETUSER", "temp2", "on", ">p2", "~*",
                                                "+@all"), "OK"));
    tt = login(&s, "temp2", "p2");
    test_cond("temp2 logs in", tt && is_status(tc_cmd(tt, "PING"), "PONG"));
    test_cond("SETUSER temp2 off", is_status(tc_cmd(adm, "ACL", "SETUSER", "temp2", "off"), "OK"));
    test_cond("temp2's connection is closed", closed(tt));
    tc_close(tt);
    tt = conn(&s);
    test_cond("an off user: -WRONGPASS", is_error(tc_cmd(tt, "AUTH", "temp2", "p2"), WRONGPASS));
    tc_close(tt);

    test_section("ACL SAVE / LOAD");
    test_cond("SAVE: +OK", is_status(tc_cmd(adm, "ACL", "SAVE"), "OK"));
    char *text = file_text(path);
    test_cond("the saved file holds users and no plain password",
              text && strstr(text, "user app on #") && strstr(text, "user temp2 off #") &&
                  !strstr(text, "admin-pw") && !strstr(text, "app-pw") && !strstr(text, ">"));
    free(text);
    char tmp[PROC_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    test_cond("no temp file left", access(tmp, F_OK) != 0);
    write_file(path, "user default on >admin-pw ~* &* +@all\n"
                     "user loaded on >loaded-pw ~* +@all\n");
    test_cond("LOAD: +OK", is_status(tc_cmd(adm, "ACL", "LOAD"), "OK"));
    tt = login(&s, "loaded", "loaded-pw");
    test_cond("a user of the loaded file logs in", tt != NULL);
    tc_close(tt);
    test_cond("app (not in the file) is gone", login(&s, "app", "app-pw") == NULL);
    test_cond("the admin connection stayed (default still exists)",
              is_bulk(tc_cmd(adm, "ACL", "WHOAMI"), "default"));
    write_file(path, "user default on >admin-pw ~* &* +@all\nuser broken on +nosuchcmd\n");
    r = tc_cmd(adm, "ACL", "LOAD");
    char where[PROC_PATH_MAX + 8];
    snprintf(where, sizeof where, "%s:2: ", path);
    test_cond("LOAD of a bad file: an error naming file:line",
              r && r->type == RESP_T_ERROR && strstr(r->str, where));
    resp_value_free(r);
    tt = login(&s, "loaded", "loaded-pw");
    test_cond("... and the users are unchanged", tt != NULL);
    tc_close(tt);
    tc_close(adm);
    stop(&s);

    test_section("a bad aclfile refuses the start");
    server b;
    memset(&b, 0, sizeof b);
    b.dir = proc_tmpdir("auth-bad");
    snprintf(b.log, sizeof b.log, "%s.log", b.dir ? b.dir : "/tmp/rkv-auth-bad");
    char bin[PROC_PATH_MAX], portstr[16];
    proc_build_path(bin, sizeof bin, "rkv-server");
    snprintf(portstr, sizeof portstr, "%d", proc_free_port());
    const char *const argv[] = {bin, "--port", portstr, "--data-dir", b.dir ? b.dir : "/nonexistent",
                                "--aclfile", path, NULL};
    pid_t pid = proc_spawn(argv, b.log);
    int rc = proc_stop(pid, 0, START_MS);
    test_cond("the server exits with an error", rc != 0 && rc != -1);
    test_cond("naming file:line", file_has(b.log, where));
    proc_rmtree(b.dir);
    remove(b.log);
    free(b.dir);
    if (fdir) proc_rmtree(fdir);
    free(fdir);
}

/* ---- protected mode ---- */

static void test_protected(void)
{
    test_section("protected mode");
    char ip[64];
    if (!proc_local_address(ip, sizeof ip)) {
        test_skip("no non-loopback IPv4 address on this machine");
        return;
    }
    printf("   non-loopback address: %s\n", ip);
    server s;
    const char *const bind_any[] = {"--bind", "0.0.0.0", NULL};
    test_cond("--bind 0.0.0.0, no password: starts", start(&s, "auth-prot", bind_any) == 0);
    tclient *lo = conn(&s);
    test_cond("a loopback client is served", is_status(tc_cmd(lo, "PING"), "PONG"));
    tclient *t = tc_connect(ip, s.port, IO_MS);
    resp_value *r = tc_read(t);
    test_cond("a client from a non-loopback address gets -DENIED",
              r && r->type == RESP_T_ERROR &&
                  strncmp(r->str, "DENIED rkv is running in protected mode because protected "
                                  "mode is enabled and no password is set for the default user.",
                          118) == 0 &&
                  strstr(r->str, "'--protected-mode no'") && strstr(r->str, "--requirepass"));
    resp_value_free(r);
    r = tc_read(t);
    test_cond("... and is closed", r == NULL && tc_eof(t));
    resp_value_free(r);
    tc_close(t);
    char *rej = tc_info_field(lo, "stats", "rejected_connections");
    test_cond("counted in rejected_connections", rej && strcmp(rej, "1") == 0);
    free(rej);
    tc_close(lo);
    stop(&s);

    const char *const open_mode[] = {"--bind", "0.0.0.0", "--protected-mode", "no", NULL};
    test_cond("--protected-mode no: starts", start(&s, "auth-prot-no", open_mode) == 0);
    t = tc_connect(ip, s.port, IO_MS);
    test_cond("the non-loopback client is served", is_status(tc_cmd(t, "PING"), "PONG"));
    tc_close(t);
    stop(&s);

    const char *const with_pass[] = {"--bind", "0.0.0.0", "--requirepass", "pw", NULL};
    test_cond("a password: starts", start(&s, "auth-prot-pw", with_pass) == 0);
    t = tc_connect(ip, s.port, IO_MS);
    test_cond("the non-loopback client is accepted and must AUTH",
              is_error(tc_cmd(t, "PING"), NOAUTH) && is_status(tc_cmd(t, "AUTH", "pw"), "OK") &&
                  is_status(tc_cmd(t, "PING"), "PONG"));
    tc_close(t);
    stop(&s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_requirepass();
    test_nopassword();
    test_aclfile();
    test_protected();
    return test_report();
}
