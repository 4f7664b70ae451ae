/* acl.c -- the user table: rule parser, password hashes, command and key
 * rights, the aclfile, and the protected-mode decision (acl.h).
 *
 * Shaped so: a user is a plain struct that a rule edits in place; ACL
 * SETUSER applies its rules to a copy and swaps the copy in only when every
 * rule parsed, so a bad rule changes nothing (Redis does the same), and a
 * client's pointer to its user stays valid across SETUSER. Command rights
 * are a bitmap over the command table's indexes, so the check on every
 * command is one bit test plus, for a user without allkeys, one glob per key
 * argument. The rule text shown by ACL LIST is kept as the user wrote it,
 * compacted at every +@all / -@all, instead of being reconstructed from the
 * bitmap. A password is in plain text only in the buffer it arrived in (the
 * client's input, the aclfile line, which is wiped): the table holds its
 * SHA-256. */
#include "server/acl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/glob.h"
#include "server/node.h"

#define ACL_WORDS (ACL_CMD_MAX / 64)
#define ACL_LINE_MAX (64 * 1024) /* longest aclfile line */
#define ACL_FILE_LINES_MAX 100000

struct acl_user {
    char *name;
    int enabled, nopass;
    uint8_t (*pass)[RKV_SHA256_LEN];
    size_t npass;
    uint64_t cmds[ACL_WORDS];
    char *cmd_rules; /* "+@all", "-@all +get -set" */
    int allkeys;
    char **keys;
    size_t nkeys;
    int allchannels;
    char **chans;
    size_t nchans;
};

struct acl {
    acl_user **users;
    size_t n, cap;
};

static const char *const cat_names[ACL_NCATS] = {
    "keyspace", "read",  "write", "set",      "sortedset", "list",       "hash",
    "string",   "bitmap", "hyperloglog", "geo", "stream",  "pubsub",     "admin",
    "fast",     "slow",  "blocking", "dangerous", "connection", "transaction", "scripting",
};

const char *acl_cat_name(int i)
{
    return i >= 0 && i < ACL_NCATS ? cat_names[i] : NULL;
}

/* ---- small helpers ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Space-separated: adds a space first unless B is empty. */
static void sb_word(sbuf *b, const char *s, size_t n)
{
    if (b->len) sb_add(b, " ", 1);
    sb_add(b, s, n);
}

static char *sb_done(sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p) return strdup("");
    return b->p;
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int eq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* ---- glob (Redis's stringmatchlen semantics, linear backtracking) ---- */

int acl_glob(const char *pat, size_t plen, const char *s, size_t slen)
{
    return rkv_glob_match(pat, plen, s, slen);
}

/* ---- users ---- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void user_clear(acl_user *u)
{
    if (u->pass) rkv_wipe(u->pass, u->npass * sizeof *u->pass);
    free(u->pass);
    free(u->cmd_rules);
    strv_free(u->keys, u->nkeys);
    strv_free(u->chans, u->nchans);
    u->pass = NULL;
    u->npass = 0;
    u->cmd_rules = NULL;
    u->keys = u->chans = NULL;
    u->nkeys = u->nchans = 0;
}

static void user_free(acl_user *u)
{
    if (!u) return;
    user_clear(u);
    free(u->name);
    free(u);
}

/* "reset": off, no password, no keys, no channels, no commands. */
static int user_reset(acl_user *u)
{
    user_clear(u);
    u->enabled = u->nopass = u->allkeys = u->allchannels = 0;
    memset(u->cmds, 0, sizeof u->cmds);
    u->cmd_rules = strdup("-@all");
    return u->cmd_rules ? 0 : -1;
}

static acl_user *user_new(const char *name, size_t len)
{
    acl_user *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->name = dupn(name, len);
    if (!u->name || user_reset(u) < 0) {
        user_free(u);
        return NULL;
    }
    return u;
}

static char **strv_dup(char *const *v, size_t n)
{
    if (n == 0) return NULL;
    char **d = calloc(n, sizeof *d);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(d[i] = strdup(v[i]))) {
            strv_free(d, i);
            return NULL;
        }
    return d;
}

static acl_user *user_clone(const acl_user *s)
{
    acl_user *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    *u = *s;
    u->name = strdup(s->name);
    u->pass = s->npass ? malloc(s->npass * sizeof *s->pass) : NULL;
    if (u->pass) memcpy(u->pass, s->pass, s->npass * sizeof *s->pass);
    u->cmd_rules = strdup(s->cmd_rules ? s->cmd_rules : "-@all");
    u->keys = strv_dup(s->keys, s->nkeys);
    u->chans = strv_dup(s->chans, s->nchans);
    if (!u->name || (s->npass && !u->pass) || !u->cmd_rules || (s->nkeys && !u->keys) ||
        (s->nchans && !u->chans)) {
        if (!u->keys) u->nkeys = 0;
        if (!u->chans) u->nchans = 0;
        if (!u->pass) u->npass = 0;
        user_free(u);
        return NULL;
    }
    return u;
}

static int strv_add(char ***v, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0) return 0;
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    if (!(nv[*n] = dupn(s, len))) return -1;
    (*n)++;
    return 0;
}

static int pass_find(const acl_user *u, const uint8_t h[RKV_SHA256_LEN])
{
    int found = -1;
    for (size_t i = 0; i < u->npass; i++) /* no early exit: same time for every slot */
        if (rkv_ct_equal(u->pass[i], h, RKV_SHA256_LEN) && found < 0) found = (int)i;
    return found;
}

static int pass_add(acl_user *u, const uint8_t h[RKV_SHA256_LEN])
{
    u->nopass = 0;
    if (pass_find(u, h) >= 0) return 0;
    uint8_t (*np)[RKV_SHA256_LEN] = realloc(u->pass, (u->npass + 1) * sizeof *np);
    if (!np) return -1;
    u->pass = np;
    memcpy(np[u->npass++], h, RKV_SHA256_LEN);
    return 0;
}

static int pass_del(acl_user *u, const uint8_t h[RKV_SHA256_LEN])
{
    int i = pass_find(u, h);
    if (i < 0) return -1;
    memmove(u->pass[i], u->pass[i + 1], (u->npass - (size_t)i - 1) * sizeof *u->pass);
    u->npass--;
    return 0;
}

int acl_user_unrestricted(const acl_user *u)
{
    if (!u->allkeys) return 0;
    size_t n = command_table_size();
    for (size_t w = 0; w * 64 < n; w++) {
        size_t bits = n - w * 64 < 64 ? n - w * 64 : 64;
        uint64_t want = bits == 64 ? ~0ull : (1ull << bits) - 1;
        if ((u->cmds[w] & want) != want) return 0;
    }
    return 1;
}

static void cmd_bit(acl_user *u, size_t i, int on)
{
    if (on)
        u->cmds[i / 64] |= 1ull << (i % 64);
    else
        u->cmds[i / 64] &= ~(1ull << (i % 64));
}

static int cmd_allowed(const acl_user *u, size_t i)
{
    return (u->cmds[i / 64] >> (i % 64)) & 1;
}

static int rules_set(acl_user *u, const char *s)
{
    char *r = strdup(s);
    if (!r) return -1;
    free(u->cmd_rules);
    u->cmd_rules = r;
    return 0;
}

static int rules_append(acl_user *u, char sign, const char *word, size_t len)
{
    size_t old = strlen(u->cmd_rules);
    char *r = realloc(u->cmd_rules, old + len + 3);
    if (!r) return -1;
    r[old] = ' ';
    r[old + 1] = sign;
    for (size_t i = 0; i < len; i++) {
        char ch = word[i];
        r[old + 2 + i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    r[old + 2 + len] = 0;
    u->cmd_rules = r;
    return 0;
}

static int cat_index(const char *s, size_t len)
{
    for (int i = 0; i < ACL_NCATS; i++)
        if (eq(s, len, cat_names[i])) return i;
    return -1;
}

static const char *const msg_syntax = "Syntax error";
static const char *const msg_unknown = "Unknown command or category name in ACL";
static const char *const msg_nopass_del =
    "The password you are trying to remove from the user does not exist";
static const char *const msg_badhash =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters";
static const char *const msg_keys_after_all =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns";
static const char *const msg_chans_after_all =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels";

static int parse_hash(const char *s, size_t len, uint8_t out[RKV_SHA256_LEN])
{
    if (len != 2 * RKV_SHA256_LEN) return -1;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return -1;
    return rkv_unhex(s, RKV_SHA256_LEN, out);
}

/* Applies one rule to U. NULL, or why it is refused. */
static const char *apply_rule(acl_user *u, const char *r, size_t len)
{
    static const char *const oom = "out of memory";
    if (len == 0) return msg_syntax;
    if (eq(r, len, "on")) {
        u->enabled = 1;
    } else if (eq(r, len, "off")) {
        u->enabled = 0;
    } else if (eq(r, len, "nopass") || eq(r, len, "resetpass")) {
        if (u->pass) rkv_wipe(u->pass, u->npass * sizeof *u->pass);
        free(u->pass);
        u->pass = NULL;
        u->npass = 0;
        u->nopass = eq(r, len, "nopass");
    } else if (r[0] == '>' || r[0] == '<') {
        uint8_t h[RKV_SHA256_LEN];
        if (rkv_sha256(r + 1, len - 1, h) < 0) return "passwords need OpenSSL";
        int rc = r[0] == '>' ? pass_add(u, h) : pass_del(u, h);
        rkv_wipe(h, sizeof h);
        if (rc < 0) return r[0] == '>' ? oom : msg_nopass_del;
    } else if (r[0] == '#' || r[0] == '!') {
        uint8_t h[RKV_SHA256_LEN];
        if (parse_hash(r + 1, len - 1, h) < 0) return msg_badhash;
        if ((r[0] == '#' ? pass_add(u, h) : pass_del(u, h)) < 0)
            return r[0] == '#' ? oom : msg_nopass_del;
    } else if (eq(r, len, "allkeys") || (len == 2 && r[0] == '~' && r[1] == '*')) {
        strv_free(u->keys, u->nkeys);
        u->keys = NULL;
        u->nkeys = 0;
        u->allkeys = 1;
    } else if (eq(r, len, "resetkeys")) {
        strv_free(u->keys, u->nkeys);
        u->keys = NULL;
        u->nkeys = 0;
        u->allkeys = 0;
    } else if (r[0] == '~') {
        if (u->allkeys) return msg_keys_after_all;
        if (strv_add(&u->keys, &u->nkeys, r + 1, len - 1) < 0) return oom;
    } else if (eq(r, len, "allchannels") || (len == 2 && r[0] == '&' && r[1] == '*')) {
        strv_free(u->chans, u->nchans);
        u->chans = NULL;
        u->nchans = 0;
        u->allchannels = 1;
    } else if (eq(r, len, "resetchannels")) {
        strv_free(u->chans, u->nchans);
        u->chans = NULL;
        u->nchans = 0;
        u->allchannels = 0;
    } else if (r[0] == '&') {
        if (u->allchannels) return msg_chans_after_all;
        if (strv_add(&u->chans, &u->nchans, r + 1, len - 1) < 0) return oom;
    } else if (eq(r, len, "allcommands") || eq(r, len, "+@all")) {
        for (size_t i = 0; i < command_table_size(); i++) cmd_bit(u, i, 1);
        if (rules_set(u, "+@all") < 0) return oom;
    } else if (eq(r, len, "nocommands") || eq(r, len, "-@all")) {
        memset(u->cmds, 0, sizeof u->cmds);
        if (rules_set(u, "-@all") < 0) return oom;
    } else if ((r[0] == '+' || r[0] == '-') && len > 2 && r[1] == '@') {
        int c = cat_index(r + 2, len - 2);
        if (c < 0) return msg_unknown;
        for (size_t i = 0; i < command_table_size(); i++)
            if (command_table_cats(i) & (1u << c)) cmd_bit(u, i, r[0] == '+');
        if (rules_append(u, r[0], r + 1, len - 1) < 0) return oom;
    } else if ((r[0] == '+' || r[0] == '-') && len > 1) {
        size_t i, n = command_table_size();
        for (i = 0; i < n; i++)
            if (eq(r + 1, len - 1, command_table_name(i))) break;
        if (i == n) return msg_unknown; /* only the subcommands the table lists */
        cmd_bit(u, i, r[0] == '+');
        size_t l = strlen(command_table_name(i)); /* "+acl": its subcommands too */
        for (size_t j = 0; j < n; j++)
            if (strncmp(command_table_name(j), command_table_name(i), l) == 0 &&
                command_table_name(j)[l] == '|')
                cmd_bit(u, j, r[0] == '+');
        if (rules_append(u, r[0], r + 1, len - 1) < 0) return oom;
    } else if (eq(r, len, "reset")) {
        if (user_reset(u) < 0) return oom;
    } else if (eq(r, len, "sanitize-payload") || eq(r, len, "skip-sanitize-payload") ||
               eq(r, len, "clearselectors")) {
        /* Redis flags with nothing to act on here (no RESTORE, no
         * selectors): accepted so that Redis aclfiles load. */
    } else {
        return msg_syntax;
    }
    return NULL;
}

/* ---- the table ---- */

static int table_add(acl *a, acl_user *u)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        acl_user **nu = realloc(a->users, cap * sizeof(acl_user *));
        if (!nu) return -1;
        a->users = nu;
        a->cap = cap;
    }
    a->users[a->n++] = u;
    return 0;
}

acl *acl_new(const char *requirepass)
{
    acl *a = calloc(1, sizeof *a);
    acl_user *u = user_new("default", 7);
    if (!a || !u || table_add(a, u) < 0) {
        user_free(u);
        free(a);
        return NULL;
    }
    static const char *const rules[] = {"on", "nopass", "~*", "&*", "+@all"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (apply_rule(u, rules[i], strlen(rules[i]))) goto fail;
    if (requirepass && requirepass[0]) {
        uint8_t h[RKV_SHA256_LEN];
        if (rkv_sha256(requirepass, strlen(requirepass), h) < 0 || pass_add(u, h) < 0) {
            rkv_wipe(h, sizeof h);
            goto fail;
        }
        rkv_wipe(h, sizeof h);
    }
    return a;
fail:
    acl_free(a);
    return NULL;
}

void acl_free(acl *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) user_free(a->users[i]);
    free(a->users);
    free(a);
}

acl_user *acl_user_find(const acl *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->n; i++)
        if (strlen(a->users[i]->name) == len && memcmp(a->users[i]->name, name, len) == 0)
            return a->users[i];
    return NULL;
}

const acl_user *acl_default_user(const acl *a)
{
    return a->users[0]; /* always first, never removed */
}

size_t acl_user_count(const acl *a)
{
    return a->n;
}

const acl_user *acl_user_at(const acl *a, size_t i)
{
    return i < a->n ? a->users[i] : NULL;
}

static int name_ok(const char *name, size_t len)
{
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] > '~') return 0;
    return 1;
}

int acl_setuser(acl *a, const char *name, size_t len, const resp_arg *rules, size_t nrules,
                size_t *bad, char *err, size_t errlen)
{
    if (!name_ok(name, len)) {
        *bad = 0;
        snprintf(err, errlen, "Usernames can't contain spaces or null characters");
        return -1;
    }
    acl_user *old = acl_user_find(a, name, len);
    acl_user *u = old ? user_clone(old) : user_new(name, len);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < nrules; i++) {
        const char *why = apply_rule(u, rules[i].p, rules[i].len);
        if (why) {
            *bad = i;
            snprintf(err, errlen, "%s", why);
            user_free(u);
            return -1;
        }
    }
    if (!old) {
        if (table_add(a, u) < 0) {
            user_free(u);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    /* Swap the new rights into the old struct: clients keep their pointer. */
    user_clear(old);
    free(u->name);
    u->name = old->name;
    *old = *u;
    free(u);
    return 0;
}

int acl_deluser(acl *a, const char *name, size_t len)
{
    if (len == 7 && memcmp(name, "default", 7) == 0) return -1;
    for (size_t i = 1; i < a->n; i++)
        if (strlen(a->users[i]->name) == len && memcmp(a->users[i]->name, name, len) == 0) {
            user_free(a->users[i]);
            memmove(&a->users[i], &a->users[i + 1], (a->n - i - 1) * sizeof(acl_user *));
            a->n--;
            return 1;
        }
    return 0;
}

/* ---- one user ---- */

const char *acl_user_name(const acl_user *u)
{
    return u->name;
}

int acl_user_enabled(const acl_user *u)
{
    return u->enabled;
}

int acl_user_nopass(const acl_user *u)
{
    return u->nopass;
}

size_t acl_user_npass(const acl_user *u)
{
    return u->npass;
}

void acl_user_pass_hex(const acl_user *u, size_t i, char out[65])
{
    rkv_hex(u->pass[i], RKV_SHA256_LEN, out);
}

const acl_user *acl_authenticate(const acl *a, const char *name, size_t nlen, const char *pass,
                                 size_t plen)
{
    uint8_t h[RKV_SHA256_LEN];
    /* Hash first, whatever the user: a missing user costs the same. */
    int hashed = rkv_sha256(pass, plen, h) == 0;
    const acl_user *u = acl_user_find(a, name, nlen);
    int ok = u && u->enabled && (u->nopass || (hashed && pass_find(u, h) >= 0));
    rkv_wipe(h, sizeof h);
    return ok ? u : NULL;
}

enum acl_verdict acl_check(const acl_user *u, size_t cmd, const resp_arg *argv, size_t argc,
                           int first, int last, int step)
{
    if (command_table_no_auth(cmd)) return ACL_OK; /* AUTH, HELLO, QUIT, RESET: as Redis */
    if (!cmd_allowed(u, cmd)) return ACL_DENIED_CMD;
    if (u->allkeys || first <= 0 || step <= 0) return ACL_OK;
    long lastk = last < 0 ? (long)argc + last : last;
    for (long i = first; i <= lastk && i < (long)argc; i += step) {
        size_t k;
        for (k = 0; k < u->nkeys; k++)
            if (acl_glob(u->keys[k], strlen(u->keys[k]), argv[i].p, argv[i].len)) break;
        if (k == u->nkeys) return ACL_DENIED_KEY;
    }
    return ACL_OK;
}

char *acl_describe_commands(const acl_user *u)
{
    return strdup(u->cmd_rules ? u->cmd_rules : "-@all");
}

char *acl_describe_keys(const acl_user *u)
{
    sbuf b = {0};
    if (u->allkeys) sb_str(&b, "~*");
    for (size_t i = 0; i < u->nkeys; i++) {
        if (b.len) sb_add(&b, " ", 1);
        sb_add(&b, "~", 1);
        sb_str(&b, u->keys[i]);
    }
    return sb_done(&b);
}

char *acl_describe_channels(const acl_user *u)
{
    sbuf b = {0};
    if (u->allchannels) sb_str(&b, "&*");
    for (size_t i = 0; i < u->nchans; i++) {
        if (b.len) sb_add(&b, " ", 1);
        sb_add(&b, "&", 1);
        sb_str(&b, u->chans[i]);
    }
    return sb_done(&b);
}

char *acl_describe(const acl_user *u)
{
    sbuf b = {0};
    sb_word(&b, u->enabled ? "on" : "off", u->enabled ? 2 : 3);
    if (u->nopass) sb_word(&b, "nopass", 6);
    for (size_t i = 0; i < u->npass; i++) {
        char hex[2 * RKV_SHA256_LEN + 2];
        hex[0] = '#';
        rkv_hex(u->pass[i], RKV_SHA256_LEN, hex + 1);
        sb_word(&b, hex, strlen(hex));
    }
    char *keys = acl_describe_keys(u), *chans = acl_describe_channels(u);
    if (keys && keys[0]) sb_word(&b, keys, strlen(keys));
    if (!u->allchannels) sb_word(&b, "resetchannels", 13);
    if (chans && chans[0]) sb_word(&b, chans, strlen(chans));
    if (!keys || !chans) b.oom = 1;
    free(keys);
    free(chans);
    sb_word(&b, u->cmd_rules, strlen(u->cmd_rules));
    return sb_done(&b);
}

/* ---- the aclfile ---- */

/* Splits LINE in place on blanks into at most MAX words. */
static size_t split_words(char *line, resp_arg *w, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) break;
        char *s = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') p++;
        if (n == max) return max + 1;
        w[n].p = s;
        w[n].len = (size_t)(p - s);
        n++;
    }
    return n;
}

/* A rule for an error message: never a password. */
static void rule_for_msg(const resp_arg *r, char *out, size_t outlen)
{
    if (r->len && (r->p[0] == '>' || r->p[0] == '<'))
        snprintf(out, outlen, "%c...", r->p[0]);
    else
        snprintf(out, outlen, "%.*s", (int)(r->len > 80 ? 80 : r->len), r->p);
}

acl *acl_load_file(const char *path, const acl *current, const char *requirepass, char *err,
                   size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    acl *a = acl_new(requirepass);
    enum { WORDS_MAX = 4096 };
    resp_arg *w = malloc(WORDS_MAX * sizeof *w);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, fail = 0, default_seen = 0;
    if (!a || !w) {
        snprintf(err, errlen, "out of memory");
        fail = 1;
    }
    while (!fail && (got = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (lineno > ACL_FILE_LINES_MAX || got > ACL_LINE_MAX) {
            snprintf(err, errlen, "%s:%d: line too long or too many lines", path, lineno);
            fail = 1;
            break;
        }
        if (strlen(line) != (size_t)got) {
            snprintf(err, errlen, "%s:%d: NUL byte in line", path, lineno);
            fail = 1;
            break;
        }
        size_t n = split_words(line, w, WORDS_MAX);
        if (n == 0 || w[0].p[0] == '#') continue;
        if (n > WORDS_MAX) {
            snprintf(err, errlen, "%s:%d: too many rules", path, lineno);
            fail = 1;
        } else if (!eq(w[0].p, w[0].len, "user") || n < 2) {
            snprintf(err, errlen, "%s:%d: should start with user keyword followed by a name",
                     path, lineno);
            fail = 1;
        } else {
            acl_user *u = acl_user_find(a, w[1].p, w[1].len);
            int is_default = u && u == a->users[0];
            /* Every user is declared once; "default" starts again from
             * nothing (as Redis: the file's line is the whole of it). */
            if (u && (!is_default || default_seen)) {
                snprintf(err, errlen, "%s:%d: duplicate user '%.*s' found", path, lineno,
                         (int)(w[1].len > 64 ? 64 : w[1].len), w[1].p);
                fail = 1;
            } else {
                size_t bad = 0;
                char why[256];
                int rc = 0;
                if (is_default) {
                    default_seen = 1;
                    rc = user_reset(u);
                }
                if (rc == 0)
                    rc = acl_setuser(a, w[1].p, w[1].len, w + 2, n - 2, &bad, why, sizeof why);
                if (rc < 0) {
                    char rule[96];
                    if (2 + bad < n)
                        rule_for_msg(&w[2 + bad], rule, sizeof rule);
                    else
                        snprintf(rule, sizeof rule, "%.*s", (int)(w[1].len > 64 ? 64 : w[1].len), w[1].p);
                    snprintf(err, errlen, "%s:%d: %s (rule '%s')", path, lineno, why, rule);
                    fail = 1;
                }
            }
        }
        rkv_wipe(line, cap); /* it may have held >password rules */
    }
    if (!fail && ferror(fp)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        fail = 1;
    }
    if (line) rkv_wipe(line, cap);
    free(line);
    free(w);
    fclose(fp);
    if (!fail && !default_seen && current) {
        acl_user *keep = user_clone(current->users[0]);
        if (!keep) {
            snprintf(err, errlen, "out of memory");
            fail = 1;
        } else {
            user_free(a->users[0]);
            a->users[0] = keep;
        }
    }
    if (fail) {
        acl_free(a);
        return NULL;
    }
    return a;
}

int acl_save_file(const acl *a, const char *path, char *err, size_t errlen)
{
    sbuf b = {0};
    for (size_t i = 0; i < a->n; i++) {
        char *d = acl_describe(a->users[i]);
        if (!d) b.oom = 1;
        sb_str(&b, "user ");
        sb_str(&b, a->users[i]->name);
        sb_str(&b, " ");
        if (d) sb_str(&b, d);
        sb_str(&b, "\n");
        free(d);
    }
    if (b.oom) {
        free(b.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char tmp[CFG_PATH_MAX + 16], dir[CFG_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(dir, sizeof dir, "%s", path);
    const char *what = "open";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = fd < 0 ? -1 : 0;
    for (size_t off = 0; rc == 0 && off < b.len;) {
        ssize_t w = write(fd, b.p + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            what = "write";
            rc = -1;
        } else {
            off += (size_t)w;
        }
    }
    if (rc == 0 && fsync(fd) < 0) {
        what = "fsync";
        rc = -1;
    }
    if (fd >= 0 && close(fd) < 0 && rc == 0) {
        what = "close";
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        what = "rename";
        rc = -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s %s: %s", what, tmp, strerror(errno));
        unlink(tmp);
    } else {
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0) {
            snprintf(err, errlen, "fsync of the directory of %s: %s", path, strerror(errno));
            rc = -1;
        }
        if (dfd >= 0) close(dfd);
    }
    free(b.p);
    return rc;
}

/* ---- protected mode ---- */

static const char denied_msg[] =
    "-DENIED rkv is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to rkv you may "
    "adopt one of the following solutions: 1) Just disable protected mode by restarting the "
    "server with the '--protected-mode no' option (or 'protected-mode no' in its config file), "
    "however MAKE SURE rkv is not publicly accessible from internet if you do so. 2) Set up an "
    "authentication password for the default user with '--requirepass <password>', or users "
    "with '--aclfile <path>'. NOTE: You only need to do one of the above things in order for "
    "the server to start accepting connections from the outside.\r\n";

static int peer_is_loopback(const char *peer)
{
    if (strncmp(peer, "127.", 4) == 0) return 1;
    if (strncmp(peer, "::1", 3) == 0 && (peer[3] == 0 || peer[3] == ':')) return 1;
    if (strncmp(peer, "[::1]", 5) == 0) return 1;
    if (strncmp(peer, "::ffff:127.", 11) == 0) return 1;
    return 0;
}

const char *acl_protected_refuse(const node *n, const char *peer)
{
    if (!n->cfg.protected_mode || !n->acl) return NULL;
    if (!acl_user_nopass(acl_default_user(n->acl))) return NULL;
    return peer_is_loopback(peer) ? NULL : denied_msg;
}
