/* rkv_cli.c -- rkv-cli, the command-line client: options, one command (with
 * -r/-i/-x/-e), the modes, or a prompt. It behaves like redis-cli 7 so an
 * operator's habits and scripts carry over; docs/CLI.md lists the flags and
 * the few differences.
 *
 *   rkv-cli [options] [CMD args...]
 *   rkv-cli cluster check
 *
 * Output follows redis-cli: when stdout is a terminal, replies print for
 * people ("value" quoted, (integer) 5, (nil), (error) ..., numbered arrays);
 * otherwise raw, for scripts (the value as it is, 5, an empty line). --raw
 * and --no-raw force one or the other. INFO and the other text reports
 * print raw in both. An error reply exits 0 unless -e is given (then the
 * error goes to stderr and the exit status is 1), as in redis-cli 7.0.
 *
 * Options are parsed up to the first word that is not one (the command). A
 * bad option, a missing value or a bad value is named in one line on stderr
 * and exits 2; --help prints the usage on stdout and exits 0. The usage text
 * keeps a fixed shape (a "Usage:" line first, option lines indented by two
 * spaces, "-x, --long ARG  text") because a man page is generated from it.
 *
 * Without a command rkv-cli reads commands at a prompt (cli_edit.c); with
 * stdin not a terminal it reads plain lines and prints no prompt.
 * Arguments split like redis-cli's: whitespace, "double quotes" with \n \r
 * \t \xHH escapes, 'single quotes'. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLI_AUTH_MAX 1024                         /* user name, password (-u, --askpass) */
#define CLI_STDIN_ARG_MAX (512u * 1024u * 1024u)  /* -x: proto-max-bulk-len */
#define CLI_INTERVAL_MAX_S 86400.0                /* -i, -t */
#define CLI_REPEAT_PREFIX_MAX 1000000000L         /* "3 PING" at the prompt */
#define CLI_PROMPT_MAX (CLI_HOST_MAX + 64)

typedef struct cli_args {
    int argc;
    char *arena; /* every token, back to back: never longer than the line */
    char *argv[CLI_ARGS_MAX];
    size_t len[CLI_ARGS_MAX];
} cli_args;

/* Strings the options point at that the program owns (from -u, --askpass). */
typedef struct cli_owned {
    char user[CLI_AUTH_MAX], pass[CLI_AUTH_MAX];
} cli_owned;

/* ---- printing a reply ---- */

/* Commands whose reply is a text report meant to be read as is: redis-cli
 * prints these raw even on a terminal. */
static int wants_raw_output(int argc, const char *const *argv)
{
    if (argc < 1)
        return 0;
    if (strcasecmp(argv[0], "info") == 0 || strcasecmp(argv[0], "lolwut") == 0)
        return 1;
    if (argc < 2)
        return 0;
    if (strcasecmp(argv[0], "client") == 0)
        return strcasecmp(argv[1], "list") == 0 || strcasecmp(argv[1], "info") == 0;
    if (strcasecmp(argv[0], "cluster") == 0)
        return strcasecmp(argv[1], "nodes") == 0 || strcasecmp(argv[1], "info") == 0;
    if (strcasecmp(argv[0], "memory") == 0)
        return strcasecmp(argv[1], "doctor") == 0 || strcasecmp(argv[1], "malloc-stats") == 0;
    if (strcasecmp(argv[0], "latency") == 0)
        return strcasecmp(argv[1], "doctor") == 0 || strcasecmp(argv[1], "graph") == 0;
    return 0;
}

/* Prints R in the chosen format. Returns 1 for an error reply under -e. */
static int print_reply(const cli_opts *o, const cli_reply *r, int argc, const char *const *argv,
                       int interactive)
{
    if (r->type == CLI_R_ERROR && o->errcode && !interactive) {
        fflush(stdout);
        fprintf(stderr, "%s\n", r->str);
        return 1;
    }
    if (wants_raw_output(argc, argv)) {
        cli_print_raw(stdout, r);
    } else if (o->output == CLI_OUT_TTY) {
        cli_print_tty(stdout, r);
    } else {
        cli_print_raw(stdout, r);
        fputc('\n', stdout);
    }
    fflush(stdout);
    return 0;
}

/* What a successful SELECT or HELLO changes for the next reconnect. */
static void track_session(cli_conn *c, int argc, const char *const *argv, const cli_reply *r)
{
    if (r->type == CLI_R_ERROR || argc < 2)
        return;
    if (strcasecmp(argv[0], "select") == 0) {
        long db = strtol(argv[1], NULL, 10);
        if (db >= 0 && db <= CLI_DB_MAX)
            c->db = (int)db;
    } else if (strcasecmp(argv[0], "hello") == 0) {
        c->resp3 = strcmp(argv[1], "3") == 0;
    }
}

static void print_conn_error(const cli_conn *c)
{
    char addr[CLI_HOST_MAX + 16];
    cli_conn_addr(c, addr, sizeof(addr));
    if (c->connect_failed)
        fprintf(stderr, "Could not connect to rkv at %s: %s\n", addr, c->err);
    else
        fprintf(stderr, "Could not talk to rkv at %s: %s\n", addr, c->err);
}

/* Runs one command and prints its reply. 0, 1 for an error reply under -e,
 * 2 when the server could not be reached. */
static int run_command(cli_conn *c, const cli_opts *o, int argc, const char *const *argv,
                       const size_t *arglen, int interactive)
{
    /* SHUTDOWN closes the connection instead of replying (when it works):
     * that is its success, as redis-cli takes it, and it is never retried
     * on a new connection (a supervisor may have restarted the server). */
    int shutdown = argc > 0 && (arglen ? arglen[0] : strlen(argv[0])) == 8 &&
                   strncasecmp(argv[0], "shutdown", 8) == 0;
    cli_reply *r = shutdown ? cli_conn_command(c, argc, argv, arglen)
                            : cli_conn_command_retry(c, argc, argv, arglen);
    if (r == NULL) {
        if (shutdown && c->dropped) return 0;
        print_conn_error(c);
        return 2;
    }
    track_session(c, argc, argv, r);
    int rc = print_reply(o, r, argc, argv, interactive);
    cli_reply_free(r);
    return rc;
}

/* `rkv-cli cluster check`: INFO replication, then "N/M followers responded"
 * where N is connected_followers and M the number of followerK: lines. */
static int cluster_check(cli_conn *c)
{
    cli_reply *r = cli_cmd(c, "INFO", "replication", (const char *)NULL);
    if (r == NULL) {
        print_conn_error(c);
        return 1;
    }
    const char *text = cli_reply_str(r);
    if (text == NULL) {
        fprintf(stderr, "INFO replication: unexpected reply%s%s\n",
                r->type == CLI_R_ERROR ? ": " : "", r->type == CLI_R_ERROR ? r->str : "");
        cli_reply_free(r);
        return 1;
    }
    long connected = -1, listed = 0;
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, "connected_followers:", 20) == 0) {
            connected = strtol(line + 20, NULL, 10);
        } else if (strncmp(line, "follower", 8) == 0 && isdigit((unsigned char)line[8])) {
            const char *p = line + 8;
            while (isdigit((unsigned char)*p))
                p++;
            listed += *p == ':';
        }
        line = nl ? nl + 1 : NULL;
    }
    cli_reply_free(r);
    if (connected < 0) {
        fprintf(stderr, "INFO replication has no connected_followers line\n");
        return 1;
    }
    printf("%ld/%ld followers responded\n", connected, listed);
    return connected == listed && listed > 0 ? 0 : 1;
}

/* ---- argument splitting (redis-cli / sdssplitargs rules) ---- */

static void args_free(cli_args *a)
{
    free(a->arena);
    a->arena = NULL;
    a->argc = 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static char unescape(char e)
{
    switch (e) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return e;
    }
}

/* Inside "double quotes" at P: appends one character or escape to OUT.
 * Returns the next position, or NULL at the closing quote (*pp past it) or
 * on an error (*pp set to NULL). */
static const char *split_dq(const char *p, char *out, long *n, const char **pp)
{
    if (p[0] == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
        out[(*n)++] = (char)(hexval(p[2]) * 16 + hexval(p[3]));
        return p + 4;
    }
    if (p[0] == '\\' && p[1] != '\0') {
        out[(*n)++] = unescape(p[1]);
        return p + 2;
    }
    if (p[0] == '"') {
        *pp = p[1] != '\0' && !isspace((unsigned char)p[1]) ? NULL : p + 1;
        return NULL;
    }
    if (p[0] == '\0') {
        *pp = NULL;
        return NULL;
    }
    out[(*n)++] = *p;
    return p + 1;
}

/* Reads one possibly quoted token at *pp into OUT (room for strlen(*pp)).
 * Returns its length, or -1 on unbalanced quotes or a closing quote that is
 * not followed by a space. */
static long split_token(const char **pp, char *out)
{
    const char *p = *pp;
    long n = 0;
    while (*p != '\0' && !isspace((unsigned char)*p)) {
        if (*p == '"') {
            const char *end = p;
            for (const char *q = p + 1; q != NULL;)
                q = split_dq(q, out, &n, &end);
            if (end == NULL)
                return -1;
            p = end;
            break;
        }
        if (*p == '\'') {
            for (p++;; p++) {
                if (p[0] == '\\' && p[1] == '\'') {
                    out[n++] = '\'';
                    p++;
                } else if (p[0] == '\'') {
                    if (p[1] != '\0' && !isspace((unsigned char)p[1]))
                        return -1;
                    p++;
                    break;
                } else if (p[0] == '\0') {
                    return -1;
                } else {
                    out[n++] = *p;
                }
            }
            break;
        }
        out[n++] = *p++;
    }
    *pp = p;
    return n;
}

/* Splits LINE into A. Returns 0, or -1 with A empty on a quoting error. */
static int split_args(const char *line, cli_args *a)
{
    a->argc = 0;
    a->arena = malloc(strlen(line) + 1);
    if (a->arena == NULL)
        return -1;
    char *out = a->arena;
    const char *p = line;
    for (;;) {
        while (*p != '\0' && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return 0;
        long n = a->argc < CLI_ARGS_MAX ? split_token(&p, out) : -1;
        if (n < 0)
            break;
        a->argv[a->argc] = out;
        a->len[a->argc++] = (size_t)n;
        out[n] = '\0';
        out += n + 1;
    }
    args_free(a);
    return -1;
}

/* ---- the prompt ---- */

/* Reads a plain line from a pipe or file. Returns 0, -1 on EOF, or 1 when
 * the line was longer than CLI_LINE_MAX (it is skipped). */
static int plain_line(cli_editor *e)
{
    if (fgets(e->buf, sizeof(e->buf), stdin) == NULL)
        return -1;
    size_t n = strlen(e->buf);
    if (n > 0 && e->buf[n - 1] == '\n') {
        e->buf[--n] = '\0';
    } else if (!feof(stdin)) {
        int ch;
        while ((ch = getchar()) != EOF && ch != '\n') {
        }
        return 1;
    }
    if (n > 0 && e->buf[n - 1] == '\r')
        e->buf[--n] = '\0';
    e->len = n;
    return 0;
}

static void make_prompt(const cli_conn *c, char *out, size_t outlen)
{
    if (c->fd < 0) {
        snprintf(out, outlen, "not connected> ");
        return;
    }
    char addr[CLI_HOST_MAX + 16];
    cli_conn_addr(c, addr, sizeof(addr));
    if (c->db != 0)
        snprintf(out, outlen, "%s[%d]> ", addr, c->db);
    else
        snprintf(out, outlen, "%s> ", addr);
}

/* The prompt's own words: quit, help, :set, clear. 1 handled, -1 quit. */
static int repl_builtin(cli_conn *c, cli_opts *o, cli_help *help, cli_args *a)
{
    const char *cmd = a->argv[0];
    if (strcasecmp(cmd, "quit") == 0 || strcasecmp(cmd, "exit") == 0)
        return -1;
    if (strcasecmp(cmd, "help") == 0 || strcmp(cmd, "?") == 0) {
        cli_help_refresh(help, c);
        cli_help_print(help, a->argc - 1, a->argv + 1);
        return 1;
    }
    if (strcasecmp(cmd, ":set") == 0 && a->argc == 2) {
        if (strcasecmp(a->argv[1], "hints") == 0)
            o->hints = 1;
        else if (strcasecmp(a->argv[1], "nohints") == 0)
            o->hints = 0;
        else
            printf("Unknown rkv-cli preference '%s'\n", a->argv[1]);
        return 1;
    }
    if (strcasecmp(cmd, "clear") == 0 && a->argc == 1) {
        fputs("\x1b[H\x1b[2J", stdout);
        return 1;
    }
    return 0;
}

/* A line typed at the prompt: "[N] CMD args", N repeating it (-i apart). */
static void repl_run(cli_conn *c, const cli_opts *o, cli_args *a)
{
    long times = 1;
    int skip = 0;
    char *end;
    if (a->argc > 1 && isdigit((unsigned char)a->argv[0][0])) {
        errno = 0;
        long n = strtol(a->argv[0], &end, 10);
        if (errno == 0 && *end == '\0' && n > 0 && n <= CLI_REPEAT_PREFIX_MAX) {
            times = n;
            skip = 1;
        }
    }
    int argc = a->argc - skip;
    const char *const *argv = (const char *const *)a->argv + skip;
    if (argc == 2 && strcasecmp(argv[0], "cluster") == 0 && strcasecmp(argv[1], "check") == 0) {
        (void)cluster_check(c);
        return;
    }
    for (long i = 0; i < times; i++) {
        if (i > 0 && o->interval_s > 0)
            cli_sleep(o->interval_s);
        if (run_command(c, o, argc, argv, a->len + skip, 1) == 2)
            break;
    }
}

static int repl(cli_conn *c, cli_opts *o)
{
    int tty = isatty(0);
    cli_history hist;
    memset(&hist, 0, sizeof(hist));
    cli_help *help = cli_help_new();
    cli_editor *e = calloc(1, sizeof(*e));
    cli_args *a = calloc(1, sizeof(*a));
    if (help == NULL || e == NULL || a == NULL) {
        fprintf(stderr, "rkv-cli: out of memory\n");
        cli_help_free(help);
        free(e);
        free(a);
        return 1;
    }
    if (tty)
        cli_history_load(&hist);
    if (cli_conn_open(c) != 0)
        print_conn_error(c);
    char prompt[CLI_PROMPT_MAX];
    for (;;) {
        make_prompt(c, prompt, sizeof(prompt));
        e->prompt = prompt;
        e->help = help;
        e->hints = o->hints;
        if (tty)
            cli_help_refresh(help, c);
        int r = tty ? cli_edit_line(e, &hist) : plain_line(e);
        if (r < 0)
            break;
        if (r > 0) {
            fprintf(stderr, "line longer than %d bytes skipped\n", CLI_LINE_MAX);
            continue;
        }
        if (split_args(e->buf, a) != 0) {
            printf("Invalid argument(s)\n");
            fflush(stdout);
            continue;
        }
        if (a->argc == 0) {
            args_free(a);
            continue;
        }
        if (tty && !cli_line_is_sensitive(a->argc, a->argv))
            cli_history_add(&hist, e->buf);
        int b = repl_builtin(c, o, help, a);
        if (b == 0)
            repl_run(c, o, a);
        fflush(stdout);
        args_free(a);
        if (b < 0)
            break;
    }
    cli_history_free(&hist);
    cli_help_free(help);
    free(e);
    free(a);
    return 0;
}

/* ---- one command from the command line ---- */

/* -x: all of stdin, bounded, as one more argument. */
static char *read_stdin_arg(size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            if (cap >= CLI_STDIN_ARG_MAX) {
                fprintf(stderr, "rkv-cli: -x: stdin is longer than %u bytes\n", CLI_STDIN_ARG_MAX);
                free(buf);
                return NULL;
            }
            char *p = realloc(buf, cap * 2);
            if (p == NULL)
                break;
            buf = p;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0) {
            if (ferror(stdin)) {
                fprintf(stderr, "rkv-cli: -x: reading stdin: %s\n", strerror(errno));
                free(buf);
                return NULL;
            }
            *len = n;
            return buf;
        }
    }
    free(buf);
    fprintf(stderr, "rkv-cli: out of memory\n");
    return NULL;
}

static int run_oneshot(cli_conn *c, const cli_opts *o)
{
    int argc = o->argc_cmd;
    const char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    size_t *len = calloc((size_t)argc + 1, sizeof(*len));
    char *extra = NULL;
    int rc = 1;
    if (argv == NULL || len == NULL) {
        fprintf(stderr, "rkv-cli: out of memory\n");
        goto out;
    }
    for (int i = 0; i < argc; i++) {
        argv[i] = o->argv_cmd[i];
        len[i] = strlen(argv[i]);
    }
    if (o->stdin_arg) {
        if ((extra = read_stdin_arg(&len[argc])) == NULL)
            goto out;
        argv[argc++] = extra;
    }
    rc = 0;
    for (long i = 0; o->repeat < 0 || i < o->repeat; i++) {
        if (i > 0 && o->interval_s > 0)
            cli_sleep(o->interval_s);
        int r = run_command(c, o, argc, argv, len, 0);
        if (r == 2) {
            rc = 1;
            break;
        }
        rc |= r;
    }
out:
    free(argv);
    free(len);
    free(extra);
    return rc;
}

/* ---- options ---- */

static void usage(FILE *o)
{
    fprintf(o,
"Usage: rkv-cli [OPTIONS] [cmd [arg [arg ...]]]\n"
"       rkv-cli [OPTIONS] cluster check\n"
"Connection:\n"
"  -h HOST              Server hostname or address, IPv6 too (default: %s).\n"
"  -p PORT              Server port (default: %d).\n"
"  -t SECONDS           Timeout of connect, send and reply, fractions allowed\n"
"                       (default: %.0f; 0 waits forever).\n"
"  -a, --pass PASSWORD  Password to AUTH with after connecting (the\n"
"                       REDISCLI_AUTH environment variable is safer: not in ps).\n"
"  --user USERNAME      User to AUTH as (with -a, --pass or --askpass).\n"
"  --askpass            Read the password from stdin, not echoed\n"
"                       (overrides -a and REDISCLI_AUTH).\n"
"  -u URI               Server URI: redis://[[USER:]PASSWORD@]HOST[:PORT][/DB];\n"
"                       rkv:// is the same, rediss:// and rkvs:// use TLS.\n"
"  -n DB                Database number, SELECTed after every connect.\n"
"  -2                   Speak RESP2 (the default).\n"
"  -3                   Speak RESP3 (HELLO 3 after every connect).\n"
"  --tls                Connect with TLS (to the server's --tls-port).\n"
"  --cacert FILE        CA certificate that signed the server's certificate.\n"
"  --cert FILE          Client certificate, when the server asks for one.\n"
"  --key FILE           Private key of --cert.\n"
"  --no-auth-warning    No warning about a password on the command line.\n"
"Commands:\n"
"  -r REPEAT            Run the command REPEAT times (-1: forever).\n"
"  -i INTERVAL          Wait INTERVAL seconds between repeats (fractions\n"
"                       allowed); in --stat and --latency-history the period,\n"
"                       in --scan, --bigkeys and --memkeys a pause per 100 SCANs.\n"
"  -x                   Read the last argument of the command from stdin.\n"
"  -e                   An error reply goes to stderr and exits 1.\n"
"  --raw                Raw output (the default when stdout is not a terminal).\n"
"  --no-raw             Formatted output even when stdout is not a terminal.\n"
"Modes:\n"
"  --pipe               Send stdin (RESP or inline commands) as it is, count\n"
"                       the replies and the errors.\n"
"  --pipe-timeout N     In --pipe, give up after N seconds without a reply\n"
"                       (default: 30; 0 waits forever).\n"
"  --scan               List all keys with SCAN.\n"
"  --pattern PATTERN    In --scan, only keys matching PATTERN.\n"
"  --count COUNT        In --scan, the COUNT hint of each SCAN.\n"
"  --latency            Sample PING round trips continuously (one line and\n"
"                       exit after a second when stdout is not a terminal).\n"
"  --latency-history    Like --latency, a new line every -i seconds (default 15).\n"
"  --stat               A line of server statistics every -i seconds (default 1).\n"
"  --bigkeys            Find the biggest key of each type (SCAN + STRLEN).\n"
"  --memkeys            Find the keys using the most memory (MEMORY USAGE).\n"
"Other:\n"
"  --help               Output this help and exit.\n"
"  --version            Output the version and exit.\n"
"\n"
"Without a command, rkv-cli reads commands at a prompt: history in\n"
"~/.rkvcli_history (RKVCLI_HISTFILE overrides it, /dev/null disables it), Tab\n"
"completes command names, `help <command>` and `help @<group>` explain them.\n"
"`cluster check` asks INFO replication and prints \"N/M followers responded\";\n"
"it exits 0 only if every listed follower is connected.\n"
"Exit status: 0 ok, 1 connection failure or (with -e) an error reply, 2 usage.\n"
"Examples:\n"
"  rkv-cli -p 7379 set key value\n"
"  rkv-cli -r 100 -i 0.5 incr counter\n"
"  cat /etc/passwd | rkv-cli -x set passwd\n"
"  rkv-cli --scan --pattern 'user:*'\n",
            CLI_DEFAULT_HOST, CLI_DEFAULT_PORT, CLI_DEFAULT_TIMEOUT_S);
}

/* The one line a bad command line gets. Returns -1. */
static int bad_usage(const char *before, const char *what, const char *after)
{
    fprintf(stderr, "rkv-cli: %s%s%s (try --help)\n", before, what, after);
    return -1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > CLI_INTERVAL_MAX_S)
        return -1;
    *out = v;
    return 0;
}

/* Copies percent-decoded S[0, N) into OUT. */
static int percent_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return -1;
            ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (k + 1 >= outlen)
            return -1;
        out[k++] = ch;
    }
    out[k] = '\0';
    return 0;
}

/* The host[:port] part of a URI, an IPv6 literal in brackets. */
static int parse_uri_host(const char *s, size_t n, cli_conn *c)
{
    const char *port = NULL;
    const char *h = s;
    size_t hl = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return -1;
        h = s + 1;
        hl = (size_t)(close - s - 1);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL) {
            hl = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (hl >= sizeof(c->host))
        return -1;
    if (hl > 0) {
        memcpy(c->host, h, hl);
        c->host[hl] = '\0';
    }
    if (port != NULL) {
        char tmp[16];
        size_t pl = (size_t)(s + n - port);
        long v;
        if (pl == 0 || pl >= sizeof(tmp))
            return -1;
        memcpy(tmp, port, pl);
        tmp[pl] = '\0';
        if (parse_long(tmp, 1, 65535, &v) != 0)
            return -1;
        c->port = (int)v;
    }
    return 0;
}

/* -u redis://[[user:]password@]host[:port][/db] (rkv://, rediss://, rkvs://). */
static int parse_uri(const char *uri, cli_conn *c, cli_opts *o, cli_owned *own)
{
    static const char *const schemes[] = {"redis://", "rkv://", "rediss://", "rkvs://"};
    const char *p = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]) && p == NULL; i++) {
        if (strncasecmp(uri, schemes[i], strlen(schemes[i])) == 0) {
            p = uri + strlen(schemes[i]);
            c->tls |= i >= 2;
        }
    }
    if (p == NULL)
        return -1;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        if (colon != NULL && colon > p) {
            if (percent_decode(p, (size_t)(colon - p), own->user, sizeof(own->user)) != 0)
                return -1;
            c->user = own->user;
        }
        if (percent_decode(pw, (size_t)(at - pw), own->pass, sizeof(own->pass)) != 0)
            return -1;
        c->pass = own->pass;
        o->pass_on_cmdline = 1;
        p = at + 1;
    }
    if (parse_uri_host(p, (size_t)(end - p), c) != 0)
        return -1;
    if (slash != NULL && slash[1] != '\0') {
        long db;
        if (parse_long(slash + 1, 0, CLI_DB_MAX, &db) != 0)
            return -1;
        c->db = (int)db;
    }
    return 0;
}

/* --askpass: a line from stdin, not echoed when it is a terminal. */
static int ask_password(cli_owned *own)
{
    struct termios saved, t;
    int tty = isatty(0) && tcgetattr(0, &saved) == 0;
    fprintf(stderr, "Please input password: ");
    fflush(stderr);
    if (tty) {
        t = saved;
        t.c_lflag &= ~(tcflag_t)ECHO;
        if (tcsetattr(0, TCSAFLUSH, &t) != 0)
            tty = 0;
    }
    char *line = fgets(own->pass, sizeof(own->pass), stdin);
    if (tty && tcsetattr(0, TCSAFLUSH, &saved) != 0)
        fprintf(stderr, "rkv-cli: cannot restore the terminal: %s\n", strerror(errno));
    fputc('\n', stderr);
    if (line == NULL)
        return -1;
    own->pass[strcspn(own->pass, "\r\n")] = '\0';
    return 0;
}

/* The value of option A at argv[*i + 1]; NULL (and a message) if missing. */
static const char *opt_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        bad_usage("option '", argv[*i], "' needs a value");
        return NULL;
    }
    return argv[++*i];
}

/* Options without a value. 1 matched, 0 not one of them. */
static int parse_flag(const char *a, cli_conn *c, cli_opts *o)
{
    const struct { const char *name; int *set; } flags[] = {
        {"-x", &o->stdin_arg}, {"-e", &o->errcode}, {"--pipe", &o->pipe}, {"--scan", &o->scan},
        {"--latency", &o->latency}, {"--latency-history", &o->latency_history},
        {"--stat", &o->stat}, {"--bigkeys", &o->bigkeys}, {"--memkeys", &o->memkeys},
        {"--no-auth-warning", &o->no_auth_warning},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strcmp(a, flags[i].name) == 0) {
            *flags[i].set = 1;
            return 1;
        }
    }
    if (strcmp(a, "--raw") == 0)
        o->output = CLI_OUT_RAW;
    else if (strcmp(a, "--no-raw") == 0)
        o->output = CLI_OUT_TTY;
    else if (strcmp(a, "--tls") == 0)
        c->tls = 1;
    else if (strcmp(a, "-3") == 0)
        c->resp3 = 1;
    else if (strcmp(a, "-2") == 0)
        c->resp3 = 0;
    else
        return 0;
    return 1;
}

/* Options with a value. 1 matched, 0 not one of them, -1 bad. */
static int parse_valued(int argc, char **argv, int *i, cli_conn *c, cli_opts *o, cli_owned *own)
{
    const char *a = argv[*i];
    static const char *const names[] = {"-h", "-p", "-t", "-a", "--pass", "--user", "-u", "-n",
                                        "-r", "-i", "--cacert", "--cert", "--key", "--pattern",
                                        "--count", "--pipe-timeout"};
    size_t k = 0;
    while (k < sizeof(names) / sizeof(names[0]) && strcmp(a, names[k]) != 0)
        k++;
    if (k == sizeof(names) / sizeof(names[0]))
        return 0;
    const char *v = opt_value(argc, argv, i);
    if (v == NULL)
        return -1;
    long n = 0;
    double d = 0;
    int ok = 1;
    switch (k) {
    case 0: ok = strlen(v) < sizeof(c->host); if (ok) snprintf(c->host, sizeof(c->host), "%s", v); break;
    case 1: ok = parse_long(v, 1, 65535, &n) == 0; c->port = (int)n; break;
    case 2: ok = parse_seconds(v, &d) == 0; c->timeout_ms = d > 0 && d < 0.001 ? 1 : (int)(d * 1000.0); break;
    case 3: case 4: c->pass = v; o->pass_on_cmdline = 1; break;
    case 5: c->user = v; break;
    case 6: ok = parse_uri(v, c, o, own) == 0; break;
    case 7: ok = parse_long(v, 0, CLI_DB_MAX, &n) == 0; c->db = (int)n; break;
    case 8: ok = parse_long(v, -1, CLI_REPEAT_PREFIX_MAX, &n) == 0; o->repeat = n; break;
    case 9: ok = parse_seconds(v, &o->interval_s) == 0; o->interval_set = 1; break;
    case 10: c->cacert = v; break;
    case 11: c->cert = v; break;
    case 12: c->key = v; break;
    case 13: o->pattern = v; break;
    case 14: ok = parse_long(v, 1, 1000000000L, &o->scan_count) == 0; break;
    default: ok = parse_long(v, 0, 86400, &n) == 0; o->pipe_timeout_s = (int)n; break;
    }
    if (!ok)
        return bad_usage("invalid value for option '", a, "'");
    return 1;
}

/* Options stop at the first word that is not one: the command. 0 ok, -1
 * bad (message printed), 1 done (--help, --version). */
static int parse_opts(int argc, char **argv, cli_conn *c, cli_opts *o, cli_owned *own)
{
    int i = 1, askpass = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf("rkv-cli %s\n", CLI_VERSION);
            return 1;
        }
        if (strcmp(a, "--askpass") == 0) {
            askpass = 1;
            continue;
        }
        if (parse_flag(a, c, o))
            continue;
        int r = parse_valued(argc, argv, &i, c, o, own);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if (a[0] == '-' && a[1] != '\0')
            return bad_usage("unrecognized option '", a, "'");
        break;
    }
    o->argc_cmd = argc - i;
    o->argv_cmd = argv + i;
    if (askpass) {
        if (ask_password(own) != 0)
            return bad_usage("", "--askpass", ": no password read from stdin");
        c->pass = own->pass;
    }
    return 0;
}

static int run(cli_conn *c, cli_opts *o)
{
    if (o->pipe || o->scan || o->latency || o->latency_history || o->stat || o->bigkeys ||
        o->memkeys) {
        if (cli_conn_open(c) != 0) {
            print_conn_error(c);
            return 1;
        }
        if (o->pipe)
            return cli_mode_pipe(c, o);
        if (o->scan)
            return cli_mode_scan(c, o);
        if (o->latency || o->latency_history)
            return cli_mode_latency(c, o);
        if (o->stat)
            return cli_mode_stat(c, o);
        return cli_mode_bigkeys(c, o, o->memkeys);
    }
    if (o->argc_cmd == 0)
        return repl(c, o);
    if (o->argc_cmd == 2 && strcasecmp(o->argv_cmd[0], "cluster") == 0 &&
        strcasecmp(o->argv_cmd[1], "check") == 0)
        return cluster_check(c);
    return run_oneshot(c, o);
}

int main(int argc, char **argv)
{
    cli_conn c;
    cli_conn_init(&c);
    cli_opts o;
    memset(&o, 0, sizeof(o));
    o.output = isatty(1) ? CLI_OUT_TTY : CLI_OUT_RAW;
    o.repeat = 1;
    o.pipe_timeout_s = 30;
    o.hints = 1;
    static cli_owned own;
    int p = parse_opts(argc, argv, &c, &o, &own);
    if (p != 0)
        return p > 0 ? 0 : 2;
#if !RKV_HAVE_OPENSSL
    if (c.tls) {
        fprintf(stderr, "rkv-cli: --tls needs OpenSSL, and this rkv-cli was built without it\n");
        return 2;
    }
#endif
    if (c.pass == NULL) {
        const char *env = getenv("RKVCLI_AUTH");
        if (env == NULL || env[0] == '\0')
            env = getenv("REDISCLI_AUTH");
        if (env != NULL && env[0] != '\0')
            c.pass = env;
    }
    if (o.pass_on_cmdline && !o.no_auth_warning)
        fprintf(stderr, "Warning: Using a password with '-a' or '-u' option on the command line "
                        "interface may not be safe.\n");
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || atexit(cli_raw_mode_off) != 0)
        fprintf(stderr, "rkv-cli: cannot set up signals: %s\n", strerror(errno));
    int rc = run(&c, &o);
    cli_conn_free(&c);
    return rc;
}
