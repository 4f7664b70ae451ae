/* acl_cmd.c -- AUTH, ACL and the per-command authentication and rights
 * check: the client side of acl.h.
 *
 * Replies and errors are Redis 7.0's, byte for byte where clients look at
 * them (-NOAUTH, -WRONGPASS, -NOPERM). A failed authentication is counted
 * (INFO auth_failures) and logged with the peer and the user name, rate
 * limited, never with the password. A client logged in as a user that is
 * deleted or switched off, or that disappears in an ACL LOAD, is
 * disconnected (after its own reply when it ran the command itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/acl.h"
#include "server/client.h"
#include "server/node.h"

static int arg_is(const resp_arg *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->p, s, a->len) == 0;
}

/* At most 64 printable bytes of A, for logs and errors. */
static void printable(const resp_arg *a, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < a->len && i < 64 && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)a->p[i];
        if (ch > 32 && ch < 127 && ch != '\'')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    out[o] = 0;
}

static const acl_user *client_user(const client *c)
{
    return c->user ? c->user : acl_default_user(c->n->acl);
}

void acl_client_init(client *c)
{
    const acl_user *def = acl_default_user(c->n->acl);
    c->user = def;
    client_set_authed(c, acl_user_enabled(def) && acl_user_nopass(def));
}

int acl_client_auth_required(const client *c)
{
    const acl_user *def = acl_default_user(c->n->acl);
    return !c->authed && (!acl_user_nopass(def) || !acl_user_enabled(def));
}

int acl_client_unrestricted(const client *c)
{
    return c->authed && acl_user_unrestricted(client_user(c));
}

int acl_client_refuse(client *c, size_t cmd, const char *name, int no_auth, int first, int last,
                      int step)
{
    if (acl_client_auth_required(c)) {
        if (no_auth) return 0;
        reply_error(c, "NOAUTH Authentication required.");
        return 1;
    }
    switch (acl_check(client_user(c), cmd, c->argv, c->argc, first, last, step)) {
    case ACL_OK: return 0;
    case ACL_DENIED_CMD:
        c->n->stats.acl_denied_cmd++;
        reply_error(c, "NOPERM this user has no permissions to run the '%s' command", name);
        return 1;
    case ACL_DENIED_KEY:
        c->n->stats.acl_denied_key++;
        reply_error(c, "NOPERM this user has no permissions to access one of the keys used as "
                       "arguments");
        return 1;
    }
    return 1;
}

int acl_client_auth(client *c, const resp_arg *user, const resp_arg *pass)
{
    node *n = c->n;
    const acl_user *u = acl_authenticate(n->acl, user->p, user->len, pass->p, pass->len);
    if (u) {
        c->user = u;
        client_set_authed(c, 1);
        return 0;
    }
    /* A failure leaves an earlier login as it was (Redis does too). */
    n->stats.auth_failures++;
    char name[300];
    printable(user, name, sizeof name);
    log_warn_limited(&n->log, &n->limits[NL_AUTH],
                     "client %llu (%s): authentication failed for user '%s'",
                     (unsigned long long)c->id, c->peer, name);
    reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
    return -1;
}

void cmd_auth(client *c)
{
    if (c->argc > 3) {
        reply_error(c, "ERR syntax error");
        return;
    }
    static const resp_arg default_name = {"default", 7};
    const resp_arg *user = &default_name, *pass = &c->argv[1];
    if (c->argc == 2) {
        if (acl_user_nopass(acl_default_user(c->n->acl))) {
            reply_error(c, "ERR AUTH <password> called without any password configured for the "
                           "default user. Are you sure your configuration is correct?");
            return;
        }
    } else {
        user = &c->argv[1];
        pass = &c->argv[2];
    }
    if (acl_client_auth(c, user, pass) == 0) reply_status(c, "OK");
}

/* ---- ACL ---- */

/* Closes every connection logged in as U (SELF after its reply). */
static void drop_clients_of(node *n, const acl_user *u, client *self)
{
    size_t k = 0;
    for (client *c = n->clients; c; c = c->next) {
        if (c->user != u || c->close_asap) continue;
        k++;
        if (c == self) {
            c->close_after = 1;
            continue;
        }
        c->close_asap = 1;
        c->drop_flush = 1;
        client_want_flush(c); /* freed by clients_flush before the loop sleeps */
    }
    if (k)
        log_info(&n->log, "closing %zu connection%s of user '%s'", k, k == 1 ? "" : "s",
                 acl_user_name(u));
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(acl_user_name(*(const acl_user *const *)a),
                  acl_user_name(*(const acl_user *const *)b));
}

/* The users sorted by name, as Redis lists them. malloc'd. */
static const acl_user **sorted_users(const acl *a, size_t *n)
{
    *n = acl_user_count(a);
    const acl_user **v = malloc(*n * sizeof(const acl_user *));
    if (!v) return NULL;
    for (size_t i = 0; i < *n; i++) v[i] = acl_user_at(a, i);
    qsort(v, *n, sizeof(const acl_user *), name_cmp);
    return v;
}

static void reply_cstr(client *c, const char *s)
{
    if (s)
        reply_bulk(c, s, strlen(s));
    else
        reply_error(c, "ERR out of memory");
}

static void acl_list(client *c, int names_only)
{
    size_t n;
    const acl_user **v = sorted_users(c->n->acl, &n);
    if (!v) {
        reply_error(c, "ERR out of memory");
        return;
    }
    reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const char *name = acl_user_name(v[i]);
        if (names_only) {
            reply_bulk(c, name, strlen(name));
            continue;
        }
        char *d = acl_describe(v[i]);
        size_t len = strlen(name) + (d ? strlen(d) : 0) + 8;
        char *line = malloc(len);
        if (d && line) snprintf(line, len, "user %s %s", name, d);
        reply_cstr(c, d && line ? line : NULL);
        free(line);
        free(d);
    }
    free(v);
}

static void acl_getuser(client *c)
{
    const acl_user *u = acl_user_find(c->n->acl, c->argv[2].p, c->argv[2].len);
    if (!u) {
        reply_nil(c);
        return;
    }
    /* Redis 7.0: a map of 6 (an array of 12 in RESP2), the flags a set. */
    reply_map(c, 6);
    reply_bulk(c, "flags", 5);
    reply_set(c, 1 + acl_user_nopass(u));
    reply_bulk(c, acl_user_enabled(u) ? "on" : "off", acl_user_enabled(u) ? 2 : 3);
    if (acl_user_nopass(u)) reply_bulk(c, "nopass", 6);
    reply_bulk(c, "passwords", 9);
    reply_array(c, (long long)acl_user_npass(u));
    for (size_t i = 0; i < acl_user_npass(u); i++) {
        char hex[65];
        acl_user_pass_hex(u, i, hex);
        reply_bulk(c, hex, 64);
    }
    char *cmds = acl_describe_commands(u), *keys = acl_describe_keys(u),
         *chans = acl_describe_channels(u);
    reply_bulk(c, "commands", 8);
    reply_cstr(c, cmds);
    reply_bulk(c, "keys", 4);
    reply_cstr(c, keys);
    reply_bulk(c, "channels", 8);
    reply_cstr(c, chans);
    reply_bulk(c, "selectors", 9);
    reply_array(c, 0);
    free(cmds);
    free(keys);
    free(chans);
}

static void acl_cat(client *c)
{
    if (c->argc == 2) {
        reply_array(c, ACL_NCATS);
        for (int i = 0; i < ACL_NCATS; i++) reply_bulk(c, acl_cat_name(i), strlen(acl_cat_name(i)));
        return;
    }
    int cat = -1;
    for (int i = 0; i < ACL_NCATS && cat < 0; i++)
        if (arg_is(&c->argv[2], acl_cat_name(i))) cat = i;
    if (cat < 0) {
        char name[300];
        printable(&c->argv[2], name, sizeof name);
        reply_error(c, "ERR Unknown category '%s'", name);
        return;
    }
    long long k = 0;
    for (size_t i = 0; i < command_table_size(); i++) k += (command_table_cats(i) >> cat) & 1;
    reply_array(c, k);
    for (size_t i = 0; i < command_table_size(); i++)
        if ((command_table_cats(i) >> cat) & 1)
            reply_bulk(c, command_table_name(i), strlen(command_table_name(i)));
}

static void acl_setuser_cmd(client *c)
{
    node *n = c->n;
    const acl_user *old = acl_user_find(n->acl, c->argv[2].p, c->argv[2].len);
    int was_on = old && acl_user_enabled(old);
    size_t bad = 0;
    char why[256];
    if (acl_setuser(n->acl, c->argv[2].p, c->argv[2].len, c->argv + 3, c->argc - 3, &bad, why,
                    sizeof why) < 0) {
        const resp_arg *r = c->argc > 3 ? &c->argv[3 + bad] : &c->argv[2];
        char rule[300];
        if (r->len && (r->p[0] == '>' || r->p[0] == '<'))
            snprintf(rule, sizeof rule, "%c...", r->p[0]); /* never echo a password */
        else
            printable(r, rule, sizeof rule);
        reply_error(c, "ERR Error in ACL SETUSER modifier '%s': %s", rule, why);
        return;
    }
    if (was_on && !acl_user_enabled(old)) drop_clients_of(n, old, c);
    reply_status(c, "OK");
}

static void acl_deluser_cmd(client *c)
{
    node *n = c->n;
    for (size_t i = 2; i < c->argc; i++)
        if (c->argv[i].len == 7 && memcmp(c->argv[i].p, "default", 7) == 0) {
            reply_error(c, "ERR The 'default' user cannot be removed");
            return;
        }
    long long removed = 0;
    for (size_t i = 2; i < c->argc; i++) {
        const acl_user *u = acl_user_find(n->acl, c->argv[i].p, c->argv[i].len);
        if (!u) continue;
        drop_clients_of(n, u, c);
        for (client *o = n->clients; o; o = o->next) /* no pointer to freed memory */
            if (o->user == u) {
                o->user = NULL;
                client_set_authed(o, 0);
            }
        removed += acl_deluser(n->acl, c->argv[i].p, c->argv[i].len) == 1;
    }
    reply_int(c, removed);
}

static const char no_aclfile[] =
    "ERR This rkv instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and start the server with --aclfile to store them.";

static void acl_load_cmd(client *c)
{
    node *n = c->n;
    if (!n->cfg.aclfile[0]) {
        reply_error(c, "%s", no_aclfile);
        return;
    }
    char err[CFG_PATH_MAX + 256];
    acl *fresh = acl_load_file(n->cfg.aclfile, n->acl, NULL, err, sizeof err);
    if (!fresh) {
        reply_error(c, "ERR %s", err);
        return;
    }
    /* Every connection follows its user into the new table by name; one
     * whose user is gone or off now is closed. */
    for (client *o = n->clients; o; o = o->next) {
        if (!o->user) continue;
        const char *name = acl_user_name(o->user);
        const acl_user *nu = acl_user_find(fresh, name, strlen(name));
        int keep = nu && (acl_user_enabled(nu) || !acl_user_enabled(o->user));
        if (!keep) {
            if (o == c) {
                o->close_after = 1;
            } else if (!o->close_asap) {
                o->close_asap = 1;
                o->drop_flush = 1;
                client_want_flush(o);
            }
            client_set_authed(o, 0);
        }
        o->user = nu;
    }
    acl_free(n->acl);
    n->acl = fresh;
    log_info(&n->log, "ACL LOAD: %zu users from %s", acl_user_count(fresh), n->cfg.aclfile);
    reply_status(c, "OK");
}

static void acl_save_cmd(client *c)
{
    node *n = c->n;
    if (!n->cfg.aclfile[0]) {
        reply_error(c, "%s", no_aclfile);
        return;
    }
    char err[CFG_PATH_MAX + 256];
    if (acl_save_file(n->acl, n->cfg.aclfile, err, sizeof err) < 0) {
        log_warn(&n->log, "ACL SAVE failed: %s", err);
        reply_error(c, "ERR There was an error trying to save the ACLs. Please check the server "
                       "logs for more information");
        return;
    }
    reply_status(c, "OK");
}

static void acl_help(client *c)
{
    static const char *const lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users (their connections are closed).",
        "GETUSER <username>",
        "    Get the user's details.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Print this help.",
    };
    reply_array(c, (long long)(sizeof lines / sizeof lines[0]));
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) reply_status(c, lines[i]);
}

void cmd_acl(client *c)
{
    const resp_arg *sub = &c->argv[1];
    const char *wrong = NULL;
    if (arg_is(sub, "whoami")) {
        if (c->argc != 2) wrong = "whoami";
        else reply_cstr(c, acl_user_name(client_user(c)));
    } else if (arg_is(sub, "users")) {
        if (c->argc != 2) wrong = "users";
        else acl_list(c, 1);
    } else if (arg_is(sub, "list")) {
        if (c->argc != 2) wrong = "list";
        else acl_list(c, 0);
    } else if (arg_is(sub, "cat")) {
        if (c->argc > 3) wrong = "cat";
        else acl_cat(c);
    } else if (arg_is(sub, "getuser")) {
        if (c->argc != 3) wrong = "getuser";
        else acl_getuser(c);
    } else if (arg_is(sub, "setuser")) {
        if (c->argc < 3) wrong = "setuser";
        else acl_setuser_cmd(c);
    } else if (arg_is(sub, "deluser")) {
        if (c->argc < 3) wrong = "deluser";
        else acl_deluser_cmd(c);
    } else if (arg_is(sub, "load")) {
        if (c->argc != 2) wrong = "load";
        else acl_load_cmd(c);
    } else if (arg_is(sub, "save")) {
        if (c->argc != 2) wrong = "save";
        else acl_save_cmd(c);
    } else if (arg_is(sub, "help") && c->argc == 2) {
        acl_help(c);
    } else {
        char name[300];
        printable(sub, name, sizeof name);
        reply_error(c, "ERR unknown subcommand '%s'. Try ACL HELP.", name);
    }
    if (wrong) reply_error(c, "ERR wrong number of arguments for 'acl|%s' command", wrong);
}
