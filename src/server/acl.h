/* acl.h -- users, passwords and command / key rights (Redis 6+ ACL), and
 * protected mode.
 *
 * A node has one user table (struct acl, in struct node; never global: a
 * test process runs several nodes, each with its own users). It always holds
 * the user "default", which a new connection is logged in as; with
 * --requirepass that user has the password, otherwise it is
 * "on nopass ~* &* +@all" and nobody needs to authenticate (Redis's rules).
 * --aclfile PATH loads users in Redis's aclfile syntax.
 *
 * Rules are Redis's: on/off, >pass <pass #hash !hash nopass resetpass,
 * +cmd -cmd +@cat -@cat allcommands nocommands, ~pattern allkeys resetkeys,
 * &pattern allchannels resetchannels (kept and shown; channels are not
 * checked yet), reset. A password is hashed with SHA-256 the moment it is
 * parsed and the plain text wiped: the table, ACL LIST / GETUSER and the
 * saved file only ever hold hashes, compared in constant time.
 *
 * This module knows nothing of clients or replies (acl_cmd.c does the AUTH
 * and ACL commands), so the rule parser and glob are unit-tested without a
 * server (tests/server/acl_test.c). It learns the command table through the
 * three command_table_* functions of commands.c. */
#ifndef RKV_ACL_H
#define RKV_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "net/resp.h"

typedef struct node node;
typedef struct acl acl;
typedef struct acl_user acl_user;

/* Redis 7.0's categories, in its ACL CAT order. */
enum acl_cat {
    ACL_CAT_KEYSPACE = 1u << 0,
    ACL_CAT_READ = 1u << 1,
    ACL_CAT_WRITE = 1u << 2,
    ACL_CAT_SET = 1u << 3,
    ACL_CAT_SORTEDSET = 1u << 4,
    ACL_CAT_LIST = 1u << 5,
    ACL_CAT_HASH = 1u << 6,
    ACL_CAT_STRING = 1u << 7,
    ACL_CAT_BITMAP = 1u << 8,
    ACL_CAT_HYPERLOGLOG = 1u << 9,
    ACL_CAT_GEO = 1u << 10,
    ACL_CAT_STREAM = 1u << 11,
    ACL_CAT_PUBSUB = 1u << 12,
    ACL_CAT_ADMIN = 1u << 13,
    ACL_CAT_FAST = 1u << 14,
    ACL_CAT_SLOW = 1u << 15,
    ACL_CAT_BLOCKING = 1u << 16,
    ACL_CAT_DANGEROUS = 1u << 17,
    ACL_CAT_CONNECTION = 1u << 18,
    ACL_CAT_TRANSACTION = 1u << 19,
    ACL_CAT_SCRIPTING = 1u << 20,
};
#define ACL_NCATS 21
/* Name of category I (0..ACL_NCATS-1, without the @), its bit 1u << I. */
const char *acl_cat_name(int i);

#define ACL_CMD_MAX 128 /* commands in the table, at most */

/* ---- provided by commands.c: the command table, by index ---- */
size_t command_table_size(void);
const char *command_table_name(size_t i);
uint32_t command_table_cats(size_t i);
/* AUTH, HELLO, QUIT, RESET: Redis 7.0's no-auth commands, always allowed. */
int command_table_no_auth(size_t i);

/* ---- the table ---- */

/* A table with only "default": on nopass ~* &* +@all, or, with REQUIREPASS
 * non-empty, on #sha256(REQUIREPASS) ~* &* +@all. NULL if out of memory. */
acl *acl_new(const char *requirepass);
void acl_free(acl *a);
/* Reads users from PATH (lines "user NAME RULES...", blank lines and lines
 * starting with '#' skipped) into a new table. A file without a "default"
 * user keeps CURRENT's default user (ACL LOAD), or without CURRENT
 * acl_new(REQUIREPASS)'s (at start): never a silent "nopass" default as
 * Redis would make. NULL + "PATH:LINE: message" in ERR if any line is bad:
 * nothing half-loaded. */
acl *acl_load_file(const char *path, const acl *current, const char *requirepass, char *err,
                   size_t errlen);
/* Writes every user as "user NAME RULES" (acl_describe) to PATH atomically:
 * PATH.tmp, fsync, rename, fsync of the directory. 0 or -1 + message. */
int acl_save_file(const acl *a, const char *path, char *err, size_t errlen);

acl_user *acl_user_find(const acl *a, const char *name, size_t len);
const acl_user *acl_default_user(const acl *a);
size_t acl_user_count(const acl *a);
const acl_user *acl_user_at(const acl *a, size_t i); /* in creation order */
/* ACL SETUSER: creates NAME (off, no password, no keys, no channels, -@all)
 * if new, then applies RULES in order. All or nothing: a bad rule leaves
 * the user as it was (a new one is not created), with *BAD = its index and
 * the reason in ERR. 0 or -1. */
int acl_setuser(acl *a, const char *name, size_t len, const resp_arg *rules, size_t nrules,
                size_t *bad, char *err, size_t errlen);
/* Removes NAME. The caller must drop clients logged in as it first.
 * 1 removed, 0 no such user, -1 it is "default" (cannot be removed). */
int acl_deluser(acl *a, const char *name, size_t len);

/* ---- one user ---- */

const char *acl_user_name(const acl_user *u);
int acl_user_enabled(const acl_user *u);
int acl_user_nopass(const acl_user *u);
/* The user if NAME exists, is on, and PASS is one of its passwords (or it
 * is nopass); else NULL. Hash compared with rkv_ct_equal. */
const acl_user *acl_authenticate(const acl *a, const char *name, size_t nlen, const char *pass,
                                 size_t plen);

enum acl_verdict { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2 };
/* May U run command CMD (a table index) with ARGV[0..ARGC)? Every key
 * argument (FIRST..LAST by STEP, LAST < 0 counted from the end, as in the
 * command table; FIRST 0: no keys) must match one of U's key patterns. */
enum acl_verdict acl_check(const acl_user *u, size_t cmd, const resp_arg *argv, size_t argc,
                           int first, int last, int step);

/* U's rules as ACL LIST shows them and ACL SAVE writes them, without the
 * "user NAME " prefix: "on nopass ~* &* +@all", "off #<hex> ~app:* resetchannels
 * -@all +get". Passwords only as #<hash>. malloc'd; NULL if out of memory. */
char *acl_describe(const acl_user *u);
/* The same pieces for ACL GETUSER. */
char *acl_describe_commands(const acl_user *u); /* "+@all", "-@all +get" */
char *acl_describe_keys(const acl_user *u);     /* "~*", "~a ~b", "" */
char *acl_describe_channels(const acl_user *u); /* "&*", "" */
size_t acl_user_npass(const acl_user *u);
void acl_user_pass_hex(const acl_user *u, size_t i, char out[65]);

/* Redis's glob (stringmatchlen, case sensitive): * ? [abc] [^a-z] and \x. */
int acl_glob(const char *pat, size_t plen, const char *s, size_t slen);

/* ---- acl_cmd.c: what the client layer calls ---- */

struct client;
/* At accept: logged in as "default", authenticated iff default is on and
 * nopass (Redis's createClient). */
void acl_client_init(struct client *c);
/* Before command CMD (table index) runs, after the unknown-command and
 * arity checks: answers -NOAUTH (unless NO_AUTH) or -NOPERM and returns 1,
 * or returns 0 to run it. */
/* Every command on every key (+@all ~*): the per-command check can be skipped. */
int acl_user_unrestricted(const acl_user *u);
/* C is logged in as such a user (the common case: no ACL at all). */
int acl_client_unrestricted(const struct client *c);
int acl_client_refuse(struct client *c, size_t cmd, const char *name, int no_auth, int first,
                      int last, int step);
/* AUTH / HELLO AUTH: logs C in as USER with PASS. 0, or -1 with
 * -WRONGPASS answered, counted and logged (never the password). */
int acl_client_auth(struct client *c, const resp_arg *user, const resp_arg *pass);
/* Would a command without NO_AUTH be refused with -NOAUTH now? */
int acl_client_auth_required(const struct client *c);
void cmd_auth(struct client *c);
void cmd_acl(struct client *c);

/* ---- protected mode ---- */

/* Called by client_accept for every new connection from PEER ("ip:port").
 * Redis 7.0's rule: protected mode on and the default user has no password
 * (nopass), and the peer is not on the loopback interface (127.0.0.0/8,
 * ::1): returns the whole "-DENIED ...\r\n" line for the caller to write
 * before it closes the connection. NULL: accept it. */
const char *acl_protected_refuse(const node *n, const char *peer);

#endif
