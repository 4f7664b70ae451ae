/* cmd_script.c -- EVAL, EVALSHA and SCRIPT for the few Lua scripts client
 * libraries send on their own, run natively: rkv has no Lua.
 *
 * Why: redis-py's Lock (and so Django's and Celery's locks built on it)
 * acquires with SET NX PX but releases and extends with Lua scripts sent by
 * EVALSHA. Without them a lock can be taken but never given back. rkv does
 * not embed Lua (issue 13 leaves scripting out; a Lua interpreter would be
 * a new runtime dependency and a second way to write), so it recognises
 * those scripts by their text, whitespace aside, and runs the equivalent
 * commands: the same reads and the same writes, through the keyspace unit
 * like any command, so the effect is one record and the reply is sent when
 * it commits. Any other script is refused with an error that says so.
 *
 * SCRIPT LOAD of a known script remembers its SHA-1 (of the exact bytes
 * sent, as Redis does) for EVALSHA; the cache is per node and not
 * replicated, as in Redis: after a failover a client gets NOSCRIPT and loads
 * it again (redis-py does that by itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "server/client.h"
#include "server/cmd.h"
#include "server/node.h"

#define SCRIPT_BODY_MAX 4096 /* longer than any known script: refused unread */

typedef enum { SCR_LOCK_RELEASE = 0, SCR_LOCK_EXTEND, SCR_LOCK_REACQUIRE, SCR_COUNT } script_id;

/* The texts, as redis-py 4.x and 5.x send them (redis/lock.py), compared
 * with every run of whitespace taken as one space. */
static const char *const known_text[SCR_COUNT] = {
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 "
    "end redis.call('del', KEYS[1]) return 1",
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 "
    "end local expiration = redis.call('pttl', KEYS[1]) if not expiration then expiration = 0 "
    "end if expiration < 0 then return 0 end local newttl = ARGV[2] if ARGV[3] == \"0\" then "
    "newttl = ARGV[2] + expiration end redis.call('pexpire', KEYS[1], newttl) return 1",
    "local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then return 0 "
    "end redis.call('pexpire', KEYS[1], ARGV[2]) return 1",
};
static const int known_keys[SCR_COUNT] = {1, 1, 1};
static const int known_args[SCR_COUNT] = {1, 3, 2};

/* Which known script BODY is (-1: none). */
static int script_match(const resp_arg *body)
{
    if (body->len > SCRIPT_BODY_MAX) return -1;
    char norm[SCRIPT_BODY_MAX + 1];
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < body->len; i++) {
        char ch = body->p[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            space = o > 0;
            continue;
        }
        if (space) norm[o++] = ' ';
        space = 0;
        norm[o++] = ch;
    }
    norm[o] = 0;
    for (int i = 0; i < SCR_COUNT; i++)
        if (strcmp(norm, known_text[i]) == 0) return i;
    return -1;
}

/* The SHA-1 of BODY in hex: 0, or -1 when built without OpenSSL (then
 * only EVAL works, not SCRIPT LOAD / EVALSHA). */
static int script_sha(const resp_arg *body, char hex[41])
{
    uint8_t d[RKV_SHA1_LEN];
    if (rkv_sha1(body->p, body->len, d) < 0) return -1;
    for (int i = 0; i < RKV_SHA1_LEN; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

static int script_lookup_sha(const node *n, const resp_arg *sha)
{
    if (sha->len != 40) return -1;
    for (size_t i = 0; i < n->nscripts; i++)
        if (strncasecmp(n->scripts[i].sha, sha->p, 40) == 0) return n->scripts[i].id;
    return -1;
}

static void script_remember(node *n, const char *sha, int id)
{
    for (size_t i = 0; i < n->nscripts; i++)
        if (strcmp(n->scripts[i].sha, sha) == 0) return;
    if (n->nscripts == NODE_SCRIPTS_MAX) n->nscripts = 0; /* a handful exist: start over */
    memcpy(n->scripts[n->nscripts].sha, sha, 41);
    n->scripts[n->nscripts++].id = id;
}

static void reply_unknown_script(client *c)
{
    reply_error(c, "ERR rkv runs no Lua: only the lock scripts of redis-py (release, extend, "
                   "reacquire) are known, and run natively");
}

/* The scripts themselves, as the commands they call would run. */
static void run_script(client *c, int id, const resp_arg *keys, int nkeys, const resp_arg *argv,
                       int nargs)
{
    if (nkeys != known_keys[id] || nargs != known_args[id]) {
        reply_error(c, "ERR Error running script: %d keys and %d arguments expected", known_keys[id],
                    known_args[id]);
        return;
    }
    const resp_arg *k = &keys[0], *token = &argv[0];
    if (!cmd_key_ok(c, k)) return;
    ks_val v;
    cmd_lookup(c, k, &v);
    if (!v.exists || v.vlen != token->len || memcmp(v.val, token->p, token->len) != 0) {
        reply_int(c, 0);
        return;
    }
    if (id == SCR_LOCK_RELEASE) {
        if (cmd_del(c, c->db, k) == 0) reply_int(c, 1);
        return;
    }
    long long ttl;
    if (arg_ll(&argv[1], &ttl) < 0) {
        reply_error(c, "ERR Error running script: value is not an integer or out of range");
        return;
    }
    long long now = ks_now_ms();
    if (id == SCR_LOCK_EXTEND) {
        if (!v.expire_ms) { /* pttl -1: not extended */
            reply_int(c, 0);
            return;
        }
        long long left = v.expire_ms - now;
        if (left < 0) left = 0;
        if (argv[2].len == 1 && argv[2].p[0] == '0') ttl += left; /* extend, not replace */
    }
    /* PEXPIRE key ttl: a time not in the future deletes the key. */
    int rc = ttl <= 0 ? cmd_del(c, c->db, k) : cmd_put(c, c->db, k, v.val, v.vlen, now + ttl);
    if (rc == 0) reply_int(c, 1);
}

/* numkeys and the split of the rest into keys and arguments (Redis's checks). */
static int script_args(client *c, size_t at, int *nkeys)
{
    long long n;
    if (arg_ll(&c->argv[at], &n) < 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return -1;
    }
    if (n < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return -1;
    }
    if ((size_t)n > c->argc - at - 1) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    *nkeys = (int)n;
    return 0;
}

void cmd_eval(client *c)
{
    int nkeys;
    if (script_args(c, 2, &nkeys) < 0) return;
    int id = script_match(&c->argv[1]);
    if (id < 0) {
        reply_unknown_script(c);
        return;
    }
    char sha[41];
    if (script_sha(&c->argv[1], sha) == 0) script_remember(c->n, sha, id);
    run_script(c, id, &c->argv[3], nkeys, &c->argv[3 + nkeys], (int)(c->argc - 3 - (size_t)nkeys));
}

void cmd_evalsha(client *c)
{
    int nkeys;
    if (script_args(c, 2, &nkeys) < 0) return;
    int id = script_lookup_sha(c->n, &c->argv[1]);
    if (id < 0) {
        reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    run_script(c, id, &c->argv[3], nkeys, &c->argv[3 + nkeys], (int)(c->argc - 3 - (size_t)nkeys));
}

/* SCRIPT LOAD body | EXISTS sha ... | FLUSH [ASYNC|SYNC] | HELP */
void cmd_script(client *c)
{
    const resp_arg *sub = &c->argv[1];
    node *n = c->n;
    if (arg_eq(sub, "load") && c->argc == 3) {
        int id = script_match(&c->argv[2]);
        if (id < 0) {
            reply_unknown_script(c);
            return;
        }
        char sha[41];
        if (script_sha(&c->argv[2], sha) < 0) {
            reply_error(c, "ERR SCRIPT LOAD needs SHA-1: this rkv is built without OpenSSL "
                           "(TLS=no); EVAL works");
            return;
        }
        script_remember(n, sha, id);
        reply_bulk(c, sha, 40);
    } else if (arg_eq(sub, "exists") && c->argc >= 3) {
        reply_array(c, (long long)c->argc - 2);
        for (size_t i = 2; i < c->argc; i++) reply_int(c, script_lookup_sha(n, &c->argv[i]) >= 0);
    } else if (arg_eq(sub, "flush") &&
               (c->argc == 2 ||
                (c->argc == 3 && (arg_eq(&c->argv[2], "async") || arg_eq(&c->argv[2], "sync"))))) {
        n->nscripts = 0;
        reply_status(c, "OK");
    } else {
        char name[600];
        arg_printable(sub, name, sizeof name);
        reply_error(c, "ERR unknown subcommand '%s'. Try SCRIPT HELP.", name);
    }
}
