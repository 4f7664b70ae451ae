/* cli_help.c -- `help`, Tab completion and grey hints at rkv-cli's prompt,
 * all three from one table of commands.
 *
 * The table comes from the server: COMMAND DOCS, fetched lazily (at the
 * first prompt, or the first `help`) once per connection, so a server with
 * more or fewer commands than this rkv-cli knows is described as it is. A
 * Redis 7 server's docs carry "arguments", from which the syntax line is
 * built with redis-cli 7's rules ("key value [NX|XX] [GET] [EX seconds|...]",
 * "key [key ...]"); rkv's docs carry summary, since and group only, so the
 * syntax then comes from the built-in table (cli_commands.h, generated from
 * Redis's docs for the commands rkv has). Before any connection, or when
 * COMMAND DOCS fails, the built-in table is all there is.
 *
 * `help <command>` and `help @<group>` print as redis-cli 7 prints them
 * (bold name, grey syntax, yellow "summary:", "since:", "group:", CRLF line
 * ends), so what an operator reads is the same. Every string kept is bounded
 * (CLI_HELP_TEXT_MAX) and so is the number of commands (CLI_HELP_CMDS_MAX). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

#define CLI_HELP_CMDS_MAX 4096     /* commands and subcommands kept */
#define CLI_HELP_TEXT_MAX 2048     /* one syntax line, summary, group name */
#define CLI_HELP_ARG_DEPTH_MAX 8   /* nested "arguments" of one argument */
#define CLI_HELP_GROUPS_MAX 64     /* distinct groups offered by "help @<Tab>" */

#include "cli/cli_commands.h"

typedef struct help_entry {
    char *name, *params, *summary, *since, *group;
} help_entry;

struct cli_help {
    help_entry *e;
    size_t n, cap;
    unsigned long generation; /* the connection the table was built from; 0: built-in */
    int loaded;
};

/* A bounded string builder: text past CLI_HELP_TEXT_MAX is cut. */
typedef struct sbuf {
    char s[CLI_HELP_TEXT_MAX];
    size_t n;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (l > sizeof(b->s) - 1 - b->n)
        l = sizeof(b->s) - 1 - b->n;
    memcpy(b->s + b->n, s, l);
    b->n += l;
    b->s[b->n] = '\0';
}

cli_help *cli_help_new(void)
{
    return calloc(1, sizeof(cli_help));
}

static void entries_clear(cli_help *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->e[i].name);
        free(h->e[i].params);
        free(h->e[i].summary);
        free(h->e[i].since);
        free(h->e[i].group);
    }
    h->n = 0;
}

void cli_help_free(cli_help *h)
{
    if (h == NULL)
        return;
    entries_clear(h);
    free(h->e);
    free(h);
}

static char *dup_bounded(const char *s)
{
    return strndup(s ? s : "", CLI_HELP_TEXT_MAX);
}

static int entry_add(cli_help *h, const char *name, const char *params, const char *summary,
                     const char *since, const char *group)
{
    if (h->n == CLI_HELP_CMDS_MAX)
        return -1;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 128;
        help_entry *p = realloc(h->e, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        h->e = p;
        h->cap = cap;
    }
    help_entry *e = &h->e[h->n];
    e->name = dup_bounded(name);
    e->params = dup_bounded(params);
    e->summary = dup_bounded(summary);
    e->since = dup_bounded(since);
    e->group = dup_bounded(group);
    if (!e->name || !e->params || !e->summary || !e->since || !e->group) {
        free(e->name);
        free(e->params);
        free(e->summary);
        free(e->since);
        free(e->group);
        return -1;
    }
    for (char *p = e->name; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    h->n++;
    return 0;
}

static const cli_cmd_help *builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(cli_builtin_help) / sizeof(cli_builtin_help[0]); i++)
        if (strcasecmp(cli_builtin_help[i].name, name) == 0)
            return &cli_builtin_help[i];
    return NULL;
}

static void load_builtin(cli_help *h)
{
    entries_clear(h);
    for (size_t i = 0; i < sizeof(cli_builtin_help) / sizeof(cli_builtin_help[0]); i++) {
        const cli_cmd_help *b = &cli_builtin_help[i];
        if (entry_add(h, b->name, b->params, b->summary, b->since, b->group) != 0)
            break;
    }
}

/* ---- COMMAND DOCS ---- */

static int has_flag(const cli_reply *arg, const char *flag)
{
    const cli_reply *f = cli_reply_field(arg, "flags");
    if (f == NULL || (f->type != CLI_R_ARRAY && f->type != CLI_R_SET))
        return 0;
    for (size_t i = 0; i < f->nelem; i++) {
        const char *s = cli_reply_str(f->elem[i]);
        if (s != NULL && strcasecmp(s, flag) == 0)
            return 1;
    }
    return 0;
}

static void arg_syntax(sbuf *b, const cli_reply *arg, int depth);

/* The argument without its brackets and repetition; WITH_TOKEN adds its token. */
static void arg_body(sbuf *b, const cli_reply *arg, int depth, int with_token)
{
    const char *type = cli_reply_str(cli_reply_field(arg, "type"));
    const char *token = cli_reply_str(cli_reply_field(arg, "token"));
    const char *name = cli_reply_str(cli_reply_field(arg, "name"));
    int pure = type != NULL && strcasecmp(type, "pure-token") == 0;
    if (token != NULL && with_token) {
        sb_add(b, token);
        if (pure)
            return;
        sb_add(b, " ");
    }
    if (type != NULL && (strcasecmp(type, "oneof") == 0 || strcasecmp(type, "block") == 0)) {
        const cli_reply *subs = cli_reply_field(arg, "arguments");
        for (size_t i = 0; subs != NULL && i < subs->nelem; i++) {
            if (i > 0)
                sb_add(b, strcasecmp(type, "oneof") == 0 ? "|" : " ");
            arg_syntax(b, subs->elem[i], depth + 1);
        }
    } else if (!pure && name != NULL) {
        sb_add(b, name);
    }
}

/* One argument of COMMAND DOCS as redis-cli 7 writes it. */
static void arg_syntax(sbuf *b, const cli_reply *arg, int depth)
{
    if (depth >= CLI_HELP_ARG_DEPTH_MAX)
        return;
    int optional = has_flag(arg, "optional");
    if (optional)
        sb_add(b, "[");
    arg_body(b, arg, depth, 1);
    if (has_flag(arg, "multiple")) {
        sb_add(b, " [");
        arg_body(b, arg, depth, has_flag(arg, "multiple_token"));
        sb_add(b, " ...]");
    }
    if (optional)
        sb_add(b, "]");
}

static void add_doc(cli_help *h, const char *name, const cli_reply *doc, int depth)
{
    sbuf params = {"", 0};
    const cli_reply *args = cli_reply_field(doc, "arguments");
    if (args != NULL && (args->type == CLI_R_ARRAY || args->type == CLI_R_SET)) {
        for (size_t i = 0; i < args->nelem; i++) {
            if (i > 0)
                sb_add(&params, " ");
            arg_syntax(&params, args->elem[i], 0);
        }
    } else if (builtin_find(name) != NULL) {
        sb_add(&params, builtin_find(name)->params);
    }
    char shown[CLI_HELP_TEXT_MAX];
    snprintf(shown, sizeof(shown), "%s", name);
    for (char *p = shown; *p; p++)
        if (*p == '|')
            *p = ' ';
    if (entry_add(h, shown, params.s, cli_reply_str(cli_reply_field(doc, "summary")),
                  cli_reply_str(cli_reply_field(doc, "since")),
                  cli_reply_str(cli_reply_field(doc, "group"))) != 0)
        return;
    const cli_reply *subs = cli_reply_field(doc, "subcommands");
    for (size_t i = 0; depth < 1 && subs != NULL && i + 1 < subs->nelem; i += 2) {
        const char *sub = cli_reply_str(subs->elem[i]);
        if (sub != NULL)
            add_doc(h, sub, subs->elem[i + 1], depth + 1);
    }
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const help_entry *)a)->name, ((const help_entry *)b)->name);
}

void cli_help_refresh(cli_help *h, cli_conn *c)
{
    if (!h->loaded) {
        load_builtin(h);
        h->loaded = 1;
    }
    if (c->fd < 0 || c->generation == h->generation)
        return;
    h->generation = c->generation;
    const char *argv[2] = {"COMMAND", "DOCS"};
    cli_reply *r = cli_conn_command(c, 2, argv, NULL);
    if (r == NULL || (r->type != CLI_R_ARRAY && r->type != CLI_R_MAP) || r->nelem < 2) {
        cli_reply_free(r); /* an old server, or none: the built-in table stays */
        return;
    }
    entries_clear(h);
    for (size_t i = 0; i + 1 < r->nelem; i += 2) {
        const char *name = cli_reply_str(r->elem[i]);
        if (name != NULL)
            add_doc(h, name, r->elem[i + 1], 0);
    }
    cli_reply_free(r);
    if (h->n == 0)
        load_builtin(h);
    qsort(h->e, h->n, sizeof(h->e[0]), entry_cmp);
}

/* ---- printing ---- */

static void print_entry(const help_entry *e, int with_group)
{
    printf("\r\n  \x1b[1m%s\x1b[0m \x1b[90m%s\x1b[0m\r\n", e->name, e->params);
    printf("  \x1b[33msummary:\x1b[0m %s\r\n", e->summary);
    printf("  \x1b[33msince:\x1b[0m %s\r\n", e->since);
    if (with_group)
        printf("  \x1b[33mgroup:\x1b[0m %s\r\n", e->group);
}

static void print_general(void)
{
    printf("rkv-cli %s\n"
           "To get help about rkv commands type:\n"
           "      \"help @<group>\" to get a list of commands in <group>\n"
           "      \"help <command>\" for help on <command>\n"
           "      \"help <tab>\" to get a list of possible help topics\n"
           "      \"quit\" to exit\n"
           "\n"
           "To set rkv-cli preferences:\n"
           "      \":set hints\" enable online hints\n"
           "      \":set nohints\" disable online hints\n",
           CLI_VERSION);
}

void cli_help_print(const cli_help *h, int argc, char **argv)
{
    if (argc == 0) {
        print_general();
        return;
    }
    if (argv[0][0] == '@') {
        for (size_t i = 0; i < h->n; i++)
            if (strcasecmp(h->e[i].group, argv[0] + 1) == 0)
                print_entry(&h->e[i], 0);
        printf("\r\n");
        return;
    }
    sbuf topic = {"", 0};
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            sb_add(&topic, " ");
        sb_add(&topic, argv[i]);
    }
    size_t tl = topic.n;
    for (size_t i = 0; i < h->n; i++) {
        const char *n = h->e[i].name;
        if (strcasecmp(n, topic.s) == 0 || (strncasecmp(n, topic.s, tl) == 0 && n[tl] == ' '))
            print_entry(&h->e[i], 1);
    }
    printf("\r\n");
}

/* ---- completion and hints ---- */

/* NAME in the case the user types in: lower when LIKE starts lower. */
static char *cased(const char *prefix, const char *name, const char *like)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    char *s = malloc(pl + nl + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < pl; i++)
        s[i] = prefix[i];
    int lower = islower((unsigned char)like[0]) != 0;
    for (size_t i = 0; i <= nl; i++)
        s[pl + i] = lower ? (char)tolower((unsigned char)name[i]) : name[i];
    return s;
}

static int complete_add(char **out, int n, int max, char *s)
{
    if (s == NULL || n >= max) {
        free(s);
        return n;
    }
    out[n] = s;
    return n + 1;
}

/* "help <Tab>": commands and @groups. */
static int complete_topic(const cli_help *h, const char *line, const char *topic, char **out,
                          int max)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%.*s", (int)(topic - line), line);
    size_t tl = strlen(topic);
    const char *groups[CLI_HELP_GROUPS_MAX];
    int ng = 0, n = 0;
    for (size_t i = 0; i < h->n; i++) {
        const char *g = h->e[i].group;
        int seen = 0;
        for (int k = 0; k < ng && !seen; k++)
            seen = strcmp(groups[k], g) == 0;
        if (!seen && ng < CLI_HELP_GROUPS_MAX && g[0] != '\0')
            groups[ng++] = g;
    }
    for (int k = 0; k < ng; k++) {
        char at[CLI_HELP_TEXT_MAX + 2];
        snprintf(at, sizeof(at), "@%s", groups[k]);
        if (strncasecmp(at, topic, tl) == 0)
            n = complete_add(out, n, max, cased(prefix, at, topic[0] ? topic : "x"));
    }
    for (size_t i = 0; i < h->n; i++)
        if (strncasecmp(h->e[i].name, topic, tl) == 0)
            n = complete_add(out, n, max, cased(prefix, h->e[i].name, topic[0] ? topic : "x"));
    return n;
}

int cli_help_complete(const cli_help *h, const char *line, char **out, int max)
{
    if (h == NULL || line[0] == '\0')
        return 0;
    if (strncasecmp(line, "help ", 5) == 0) {
        const char *topic = line + 5;
        while (*topic == ' ')
            topic++;
        return complete_topic(h, line, topic, out, max);
    }
    if (strchr(line, ' ') != NULL)
        return 0;
    size_t l = strlen(line);
    int n = 0;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->e[i].name;
        if (strchr(name, ' ') == NULL && strncasecmp(name, line, l) == 0)
            n = complete_add(out, n, max, cased("", name, line));
    }
    return n;
}

static const help_entry *entry_find(const cli_help *h, const char *name, size_t len)
{
    for (size_t i = 0; i < h->n; i++)
        if (strncasecmp(h->e[i].name, name, len) == 0 && h->e[i].name[len] == '\0')
            return &h->e[i];
    return NULL;
}

/* Skips COUNT leading mandatory parameters of P (top-level words outside
 * brackets); an optional one stops the skipping. */
static const char *skip_params(const char *p, int count)
{
    while (count > 0 && *p != '\0' && *p != '[') {
        int depth = 0;
        while (*p != '\0' && (depth > 0 || *p != ' ')) {
            depth += *p == '[' ? 1 : *p == ']' ? -1 : 0;
            p++;
        }
        while (*p == ' ')
            p++;
        count--;
    }
    return p;
}

int cli_help_hint(const cli_help *h, const char *line, char *out, size_t outlen)
{
    const char *p = line;
    while (*p == ' ')
        p++;
    size_t wl = strcspn(p, " ");
    if (wl == 0)
        return 0;
    const help_entry *e = entry_find(h, p, wl);
    const char *rest = p + wl;
    /* "CLIENT LIST": a subcommand named by the second word. */
    if (*rest == ' ') {
        const char *q = rest + strspn(rest, " ");
        size_t sl = strcspn(q, " ");
        char two[CLI_HELP_TEXT_MAX];
        if (sl > 0 && q[sl] == ' ' && wl + 1 + sl < sizeof(two)) {
            snprintf(two, sizeof(two), "%.*s %.*s", (int)wl, p, (int)sl, q);
            const help_entry *sub = entry_find(h, two, strlen(two));
            if (sub != NULL) {
                e = sub;
                rest = q + sl;
            }
        }
    }
    if (e == NULL)
        return 0;
    int typed = 0;
    for (const char *q = rest; *q != '\0';) {
        q += strspn(q, " ");
        if (*q == '\0')
            break;
        typed++;
        q += strcspn(q, " ");
    }
    size_t ll = strlen(line);
    int at_space = ll > 0 && line[ll - 1] == ' ';
    const char *left = skip_params(e->params, typed);
    if (*left == '\0')
        return 0;
    snprintf(out, outlen, "%s%s", at_space ? "" : " ", left);
    return (int)strlen(out);
}
