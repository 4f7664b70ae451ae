/* acl_test.c -- the ACL module without a server: Redis's glob, the rule
 * parser (every rule kind, all-or-nothing SETUSER, Redis 7.0's error
 * texts), passwords kept only as SHA-256, command and key checks over the
 * real command table, the aclfile (load errors naming file:line, save and
 * load round trip holding no plain password), and the protected-mode
 * decision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "server/acl.h"
#include "server/node.h"
#include "../common/proc.h"
#include "../testhelp.h"

static int glob(const char *p, const char *s)
{
    return acl_glob(p, strlen(p), s, strlen(s));
}

/* SETUSER NAME with the space-separated RULES (NULL: none). */
static int setuser(acl *a, const char *name, const char *rules, char *err, size_t errlen)
{
    resp_arg r[32];
    size_t n = 0, bad = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", rules ? rules : "");
    for (char *t = strtok(buf, " "); t && n < 32; t = strtok(NULL, " ")) {
        r[n].p = t;
        r[n].len = strlen(t);
        n++;
    }
    return acl_setuser(a, name, strlen(name), r, n, &bad, err, errlen);
}

static size_t cmd_index(const char *name)
{
    for (size_t i = 0; i < command_table_size(); i++)
        if (strcmp(command_table_name(i), name) == 0) return i;
    return (size_t)-1;
}

/* acl_check of command NAME with the given arguments (argv[0] = NAME). */
static enum acl_verdict check(const acl_user *u, const char *name, int first, int last,
                              int step, const char *a1, const char *a2)
{
    resp_arg av[3] = {{name, strlen(name)}, {a1 ? a1 : "", a1 ? strlen(a1) : 0},
                      {a2 ? a2 : "", a2 ? strlen(a2) : 0}};
    size_t argc = a2 ? 3 : a1 ? 2 : 1;
    return acl_check(u, cmd_index(name), av, argc, first, last, step);
}

static int described(const acl_user *u, const char *want)
{
    char *d = acl_describe(u);
    int ok = d && strcmp(d, want) == 0;
    if (!ok) printf("   described as '%s', expected '%s'\n", d ? d : "(null)", want);
    free(d);
    return ok;
}

/* U's command rules are WANT (EXACT) or contain it. */
static int has_cmds(const acl_user *u, const char *want, int exact)
{
    char *d = acl_describe_commands(u);
    int ok = d && (exact ? strcmp(d, want) == 0 : strstr(d, want) != NULL);
    free(d);
    return ok;
}

static int has_chans(const acl_user *u, const char *want)
{
    char *d = acl_describe_channels(u);
    int ok = d && strcmp(d, want) == 0;
    free(d);
    return ok;
}

static void test_glob(void)
{
    test_section("glob: Redis's stringmatchlen");
    test_cond("* matches all", glob("*", "") && glob("*", "anything"));
    test_cond("prefix", glob("app:*", "app:x") && !glob("app:*", "other:x") && glob("app:*", "app:"));
    test_cond("?", glob("a?c", "abc") && !glob("a?c", "ac") && !glob("a?c", "abbc"));
    test_cond("class", glob("h[ae]llo", "hallo") && glob("h[ae]llo", "hello") &&
                           !glob("h[ae]llo", "hillo"));
    test_cond("negated class", glob("h[^e]llo", "hallo") && !glob("h[^e]llo", "hello"));
    test_cond("range", glob("k[0-9]", "k5") && !glob("k[0-9]", "ka") && glob("k[9-0]", "k3"));
    test_cond("escape", glob("a\\*b", "a*b") && !glob("a\\*b", "axb") && glob("[\\]]", "]"));
    test_cond("stars backtrack", glob("*a*b*c", "xxaybzzc") && !glob("*a*b*c", "xxaybzz") &&
                                     glob("a*a*a*a*b", "aaaaaaaaaab") &&
                                     !glob("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"));
    test_cond("case sensitive", !glob("App", "app"));
    test_cond("exact", glob("k", "k") && !glob("k", "kk") && !glob("kk", "k"));
}

static void test_default_user(void)
{
    test_section("default user: nopass, or --requirepass");
    acl *a = acl_new(NULL);
    const acl_user *d = acl_default_user(a);
    test_cond("default is on nopass ~* &* +@all", described(d, "on nopass ~* &* +@all"));
    test_cond("any password logs in as default (nopass)",
              acl_authenticate(a, "default", 7, "x", 1) == d);
    test_cond("the default user may run anything",
              check(d, "set", 1, 1, 1, "k", "v") == ACL_OK &&
                  check(d, "bgsave", 0, 0, 0, NULL, NULL) == ACL_OK);
    acl_free(a);

    a = acl_new("s3cret");
    d = acl_default_user(a);
    uint8_t h[RKV_SHA256_LEN];
    char hex[65], want[128];
    rkv_sha256("s3cret", 6, h);
    rkv_hex(h, sizeof h, hex);
    snprintf(want, sizeof want, "on #%s ~* &* +@all", hex);
    test_cond("--requirepass: the password only as its SHA-256", described(d, want));
    test_cond("right password", acl_authenticate(a, "default", 7, "s3cret", 6) == d);
    test_cond("wrong password", !acl_authenticate(a, "default", 7, "s3cre", 5) &&
                                    !acl_authenticate(a, "default", 7, "s3cret!", 7));
    test_cond("unknown user", !acl_authenticate(a, "nobody", 6, "s3cret", 6));
    acl_free(a);
}

static void test_rules(void)
{
    test_section("rules");
    char err[256];
    acl *a = acl_new(NULL);
    test_cond("a new user with no rules", setuser(a, "u", NULL, err, sizeof err) == 0);
    acl_user *u = acl_user_find(a, "u", 1);
    test_cond("is off, no keys, resetchannels -@all (Redis 7.0's new user)",
              u && described(u, "off resetchannels -@all"));
    test_cond("an off user cannot log in", !acl_authenticate(a, "u", 1, "", 0));

    test_cond("on >pw ~app:* +@read +@write -@dangerous",
              setuser(a, "u", "on >pw ~app:* +@read +@write -@dangerous", err, sizeof err) == 0);
    test_cond("logs in with pw", acl_authenticate(a, "u", 1, "pw", 2) == u);
    test_cond("not with another", !acl_authenticate(a, "u", 1, "pW", 2));
    char *d = acl_describe(u);
    test_cond("described with #hash, never the plain password",
              d && strstr(d, "on #") == d && !strstr(d, "pw ") && !strstr(d, ">") &&
                  strstr(d, "~app:* resetchannels -@all +@read +@write -@dangerous"));
    free(d);
    test_cond("SET app:x allowed", check(u, "set", 1, 1, 1, "app:x", "v") == ACL_OK);
    test_cond("SET other:x: key denied", check(u, "set", 1, 1, 1, "other:x", "v") == ACL_DENIED_KEY);
    test_cond("GET app:1 allowed", check(u, "get", 1, 1, 1, "app:1", NULL) == ACL_OK);
    test_cond("DEL app:1 other:1: denied for the second key",
              check(u, "del", 1, -1, 1, "app:1", "other:1") == ACL_DENIED_KEY);
    test_cond("DEL app:1 app:2 allowed", check(u, "del", 1, -1, 1, "app:1", "app:2") == ACL_OK);
    test_cond("BGSAVE, DEBUG, CONFIG, FAILOVER, INFO: command denied",
              check(u, "bgsave", 0, 0, 0, NULL, NULL) == ACL_DENIED_CMD &&
                  check(u, "debug", 0, 0, 0, "digest", NULL) == ACL_DENIED_CMD &&
                  check(u, "config", 0, 0, 0, "get", "port") == ACL_DENIED_CMD &&
                  check(u, "failover", 0, 0, 0, NULL, NULL) == ACL_DENIED_CMD &&
                  check(u, "info", 0, 0, 0, NULL, NULL) == ACL_DENIED_CMD);
    test_cond("PING is @connection: denied", check(u, "ping", 0, 0, 0, NULL, NULL) == ACL_DENIED_CMD);
    test_cond("AUTH, HELLO, QUIT, RESET always allowed (no-auth)",
              check(u, "auth", 0, 0, 0, "x", NULL) == ACL_OK &&
                  check(u, "hello", 0, 0, 0, NULL, NULL) == ACL_OK &&
                  check(u, "quit", 0, 0, 0, NULL, NULL) == ACL_OK &&
                  check(u, "reset", 0, 0, 0, NULL, NULL) == ACL_OK);
    test_cond("+ping", setuser(a, "u", "+ping", err, sizeof err) == 0 &&
                           check(u, "ping", 0, 0, 0, NULL, NULL) == ACL_OK);
    test_cond("-get", setuser(a, "u", "-GET", err, sizeof err) == 0 &&
                          check(u, "get", 1, 1, 1, "app:1", NULL) == ACL_DENIED_CMD);
    test_cond("the rule text keeps the order, lower case", has_cmds(u, "+ping -get", 0));
    test_cond("allkeys", setuser(a, "u", "allkeys", err, sizeof err) == 0 &&
                             check(u, "set", 1, 1, 1, "other:x", "v") == ACL_OK);
    test_cond("a pattern after allkeys is refused (Redis's text)",
              setuser(a, "u", "~x", err, sizeof err) < 0 &&
                  strstr(err, "Adding a pattern after the * pattern") == err);
    test_cond("resetkeys: no key allowed",
              setuser(a, "u", "resetkeys", err, sizeof err) == 0 &&
                  check(u, "set", 1, 1, 1, "app:x", "v") == ACL_DENIED_KEY &&
                  check(u, "dbsize", 0, 0, 0, NULL, NULL) == ACL_OK);
    test_cond("+@all / allcommands compacts the rules",
              setuser(a, "u", "allcommands ~*", err, sizeof err) == 0 &&
                  has_cmds(u, "+@all", 1) &&
                  check(u, "bgsave", 0, 0, 0, NULL, NULL) == ACL_OK);
    test_cond("-@dangerous after +@all",
              setuser(a, "u", "-@dangerous", err, sizeof err) == 0 &&
                  check(u, "bgsave", 0, 0, 0, NULL, NULL) == ACL_DENIED_CMD &&
                  check(u, "set", 1, 1, 1, "k", "v") == ACL_OK);
    test_cond("nocommands", setuser(a, "u", "nocommands", err, sizeof err) == 0 &&
                                check(u, "set", 1, 1, 1, "k", "v") == ACL_DENIED_CMD);

    test_section("passwords");
    test_cond("a second password", setuser(a, "u", ">two", err, sizeof err) == 0 &&
                                       acl_authenticate(a, "u", 1, "pw", 2) == u &&
                                       acl_authenticate(a, "u", 1, "two", 3) == u &&
                                       acl_user_npass(u) == 2);
    test_cond("<pw removes one", setuser(a, "u", "<pw", err, sizeof err) == 0 &&
                                     !acl_authenticate(a, "u", 1, "pw", 2) &&
                                     acl_authenticate(a, "u", 1, "two", 3) == u);
    test_cond("<missing is refused (Redis's text), the user unchanged",
              setuser(a, "u", "<nothere", err, sizeof err) < 0 &&
                  strcmp(err, "The password you are trying to remove from the user does not "
                              "exist") == 0 &&
                  acl_authenticate(a, "u", 1, "two", 3) == u);
    uint8_t h[RKV_SHA256_LEN];
    char rule[80], hex[65];
    rkv_sha256("hashed", 6, h);
    rkv_hex(h, sizeof h, hex);
    snprintf(rule, sizeof rule, "#%s", hex);
    test_cond("#<hash> taken as is", setuser(a, "u", rule, err, sizeof err) == 0 &&
                                         acl_authenticate(a, "u", 1, "hashed", 6) == u);
    rule[5] = 'X';
    test_cond("a bad #hash is refused",
              setuser(a, "u", rule, err, sizeof err) < 0 && strstr(err, "password hash"));
    test_cond("#short is refused", setuser(a, "u", "#abcd", err, sizeof err) < 0);
    snprintf(rule, sizeof rule, "!%s", hex);
    test_cond("!<hash> removes it", setuser(a, "u", rule, err, sizeof err) == 0 &&
                                        !acl_authenticate(a, "u", 1, "hashed", 6));
    test_cond("nopass: any password", setuser(a, "u", "nopass", err, sizeof err) == 0 &&
                                          acl_authenticate(a, "u", 1, "whatever", 8) == u &&
                                          acl_user_npass(u) == 0);
    test_cond("resetpass: no password at all, no login",
              setuser(a, "u", "resetpass", err, sizeof err) == 0 &&
                  !acl_authenticate(a, "u", 1, "whatever", 8) && !acl_user_nopass(u));
    test_cond(">pw clears nopass", setuser(a, "u", "nopass >pw", err, sizeof err) == 0 &&
                                      !acl_user_nopass(u) && !acl_authenticate(a, "u", 1, "x", 1));

    test_section("all or nothing, errors");
    test_cond("a bad rule changes nothing",
              setuser(a, "u", "off resetkeys ~new:* bogus", err, sizeof err) < 0 &&
                  strcmp(err, "Syntax error") == 0 && acl_user_enabled(u));
    test_cond("unknown command (Redis's text)",
              setuser(a, "u", "+nosuch", err, sizeof err) < 0 &&
                  strcmp(err, "Unknown command or category name in ACL") == 0);
    test_cond("unknown category", setuser(a, "u", "+@nosuch", err, sizeof err) < 0);
    test_cond("a failed SETUSER of a new user creates nothing",
              setuser(a, "v", "on bogus", err, sizeof err) < 0 && !acl_user_find(a, "v", 1));
    test_cond("names with spaces are refused", setuser(a, "a b", "on", err, sizeof err) < 0);
    test_cond("reset", setuser(a, "u", "reset", err, sizeof err) == 0 &&
                           described(u, "off resetchannels -@all"));
    test_cond("+acl|whoami alone does not grant the rest of ACL",
              setuser(a, "w", "on nopass +acl|whoami", err, sizeof err) == 0 &&
                  check(acl_user_find(a, "w", 1), "acl", 0, 0, 0, "whoami", NULL) ==
                      ACL_DENIED_CMD);
    test_cond("&chan rules kept", setuser(a, "u", "&news.* &x", err, sizeof err) == 0 &&
                                      has_chans(u, "&news.* &x"));

    test_section("DELUSER");
    test_cond("default cannot be removed", acl_deluser(a, "default", 7) == -1);
    test_cond("u removed", acl_deluser(a, "u", 1) == 1 && !acl_user_find(a, "u", 1));
    test_cond("again: 0", acl_deluser(a, "u", 1) == 0);
    acl_free(a);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_file(void)
{
    test_section("aclfile");
    char *dir = proc_tmpdir("acltest");
    char path[PROC_PATH_MAX], err[512];
    snprintf(path, sizeof path, "%s/users.acl", dir);
    write_file(path, "# users\n\nuser default on >dpw ~* &* +@all\n"
                     "user app on >apppw ~app:* +@read +@write -@dangerous\n");
    acl *a = acl_load_file(path, NULL, NULL, err, sizeof err);
    test_cond("loads", a != NULL);
    if (!a) {
        printf("   %s\n", err);
        return;
    }
    test_cond("default from the file", acl_authenticate(a, "default", 7, "dpw", 3) != NULL &&
                                          !acl_user_nopass(acl_default_user(a)));
    test_cond("app from the file", acl_authenticate(a, "app", 3, "apppw", 5) != NULL);
    test_cond("save", acl_save_file(a, path, err, sizeof err) == 0);
    char *text = read_all(path);
    test_cond("the saved file holds no plain password",
              text && !strstr(text, "dpw") && !strstr(text, "apppw") && !strstr(text, ">") &&
                  strstr(text, "user app on #"));
    char tmp[PROC_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    test_cond("no temp file left", access(tmp, F_OK) != 0);
    acl *b = acl_load_file(path, NULL, NULL, err, sizeof err);
    test_cond("and loads back the same users",
              b && acl_user_count(b) == 2 && acl_authenticate(b, "app", 3, "apppw", 5) &&
                  acl_authenticate(b, "default", 7, "dpw", 3));
    acl_free(b);

    write_file(path, "user app on nopass ~* +@all\nuser bad on +nosuchcmd\n");
    b = acl_load_file(path, NULL, NULL, err, sizeof err);
    char want[PROC_PATH_MAX + 16];
    snprintf(want, sizeof want, "%s:2: ", path);
    test_cond("a bad line: refused, naming file:line", !b && strstr(err, want) == err &&
                                                             strstr(err, "Unknown command"));
    write_file(path, "user app on nopass\nuser app off\n");
    b = acl_load_file(path, NULL, NULL, err, sizeof err);
    test_cond("a duplicate user is refused", !b && strstr(err, ":2: duplicate user 'app'"));
    write_file(path, "usr app on\n");
    b = acl_load_file(path, NULL, NULL, err, sizeof err);
    test_cond("a line not starting with user", !b && strstr(err, ":1: "));
    write_file(path, "user app on >leaked bogus\n");
    b = acl_load_file(path, NULL, NULL, err, sizeof err);
    test_cond("an error never shows a password", !b && !strstr(err, "leaked"));
    write_file(path, "user app on >x ~* +@all\n");
    b = acl_load_file(path, NULL, "rp", err, sizeof err);
    test_cond("no default in the file: --requirepass's default stays",
              b && acl_authenticate(b, "default", 7, "rp", 2) && !acl_user_nopass(acl_default_user(b)));
    acl *c = acl_load_file(path, a, NULL, err, sizeof err);
    test_cond("ACL LOAD without default: the current default stays",
              c && acl_authenticate(c, "default", 7, "dpw", 3));
    acl_free(c);
    acl_free(b);
    snprintf(path, sizeof path, "%s/missing.acl", dir);
    b = acl_load_file(path, NULL, NULL, err, sizeof err);
    test_cond("a missing file is an error", !b && strstr(err, "missing.acl"));
    acl_free(a);
    proc_rmtree(dir);
    free(dir);
}

static void test_protected(void)
{
    test_section("protected mode decision");
    node *n = calloc(1, sizeof *n);
    n->cfg.protected_mode = 1;
    n->acl = acl_new(NULL);
    const char *m = acl_protected_refuse(n, "192.168.1.5:4000");
    test_cond("nopass default, non-loopback peer: refused with -DENIED",
              m && strncmp(m, "-DENIED rkv is running in protected mode", 40) == 0 &&
                  strstr(m, "--protected-mode no") && strstr(m, "--requirepass") &&
                  strcmp(m + strlen(m) - 2, "\r\n") == 0);
    test_cond("loopback peers accepted", !acl_protected_refuse(n, "127.0.0.1:4000") &&
                                             !acl_protected_refuse(n, "127.3.4.5:1"));
    n->cfg.protected_mode = 0;
    test_cond("--protected-mode no: accepted", !acl_protected_refuse(n, "192.168.1.5:4000"));
    n->cfg.protected_mode = 1;
    acl_free(n->acl);
    n->acl = acl_new("pw");
    test_cond("a password on default: accepted", !acl_protected_refuse(n, "192.168.1.5:4000"));
    acl_free(n->acl);
    free(n);
}

int main(void)
{
    test_glob();
    test_default_user();
    test_rules();
    test_file();
    test_protected();
    return test_report();
}
