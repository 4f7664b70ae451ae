/* cli.h -- what the files of rkv-cli share: the reply tree, the connection,
 * the options, and each file's entry points.
 *
 * rkv-cli is split by role so that each part can be read whole:
 *   rkv_cli.c    options, one-shot commands (-r/-i/-x/-e), the prompt's loop
 *   cli_conn.c   one server connection: connect (IPv4/IPv6, TLS), AUTH,
 *                SELECT and HELLO 3 on every (re)connect, send, read
 *   cli_reply.c  RESP2/RESP3 reply parser and the two output formats
 *   cli_edit.c   the line editor: keys, history file, completion, hints
 *   cli_help.c   `help`, built from COMMAND DOCS or the built-in table
 *   cli_modes.c  --pipe, --scan, --latency[-history], --stat, --bigkeys,
 *                --memkeys
 * Nothing here is global state except the terminal's saved mode (cli_edit.c),
 * which atexit() must be able to restore. */
#ifndef RKV_CLI_H
#define RKV_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "common/crypto.h" /* RKV_HAVE_OPENSSL */

#if RKV_HAVE_OPENSSL
#include <openssl/ssl.h>
#endif

/* The version is every program's (common/version.h): one release. */
#include "common/version.h"
#define CLI_VERSION RKV_VERSION

#define CLI_DEFAULT_HOST "127.0.0.1"
#define CLI_DEFAULT_PORT 7379
#define CLI_DEFAULT_TIMEOUT_S 10.0
#define CLI_HOST_MAX 256                 /* host name length */
#define CLI_LINE_MAX (64 * 1024)         /* one interactive input line */
#define CLI_ARGS_MAX (CLI_LINE_MAX / 2)  /* arguments on one line */
#define CLI_ERR_MAX 512
#define CLI_DB_MAX 1000000               /* -n and SELECT: more than any server has */

/* ---- replies (cli_reply.c) ---- */

typedef enum cli_rtype {
    CLI_R_STATUS, /* +OK */
    CLI_R_ERROR,  /* -ERR ..., and RESP3 !<len> blob errors */
    CLI_R_INT,    /* :5 */
    CLI_R_BULK,   /* $3 abc */
    CLI_R_NIL,    /* $-1, *-1, RESP3 _ */
    CLI_R_ARRAY,  /* * */
    CLI_R_MAP,    /* RESP3 %: elem holds key, value, key, value ... */
    CLI_R_SET,    /* RESP3 ~ */
    CLI_R_PUSH,   /* RESP3 > */
    CLI_R_DOUBLE, /* RESP3 , (kept as the server's text) */
    CLI_R_BOOL,   /* RESP3 # (integer 0 or 1) */
    CLI_R_VERB,   /* RESP3 = (str is the text after "txt:") */
    CLI_R_BIGNUM, /* RESP3 ( (kept as the server's digits) */
} cli_rtype;

typedef struct cli_reply {
    cli_rtype type;
    long long integer; /* INT, BOOL */
    char *str;         /* STATUS ERROR BULK DOUBLE VERB BIGNUM: NUL-terminated */
    size_t len;
    size_t nelem;      /* ARRAY MAP SET PUSH */
    struct cli_reply **elem;
} cli_reply;

typedef enum cli_parse_rc { CLI_PARSE_OK = 1, CLI_PARSE_MORE = 0, CLI_PARSE_ERROR = -1 } cli_parse_rc;

/* Parses one reply at BUF[0, LEN). OK: *out and *used are set. MORE: *need
 * is the least total length worth parsing again at. ERROR: err says why. */
cli_parse_rc cli_reply_parse(const char *buf, size_t len, cli_reply **out, size_t *used,
                             size_t *need, char *err, size_t errlen);
void cli_reply_free(cli_reply *r);
/* redis-cli's terminal format (cliFormatReplyTTY). */
void cli_print_tty(FILE *o, const cli_reply *r);
/* redis-cli's raw format (cliFormatReplyRaw): no final newline. */
void cli_print_raw(FILE *o, const cli_reply *r);
/* A string quoted and escaped as redis-cli's sdscatrepr does. */
void cli_print_repr(FILE *o, const char *s, size_t n);
/* A reply element as a plain string (BULK STATUS VERB DOUBLE BIGNUM), or NULL. */
const char *cli_reply_str(const cli_reply *r);
/* The value of key NAME in a MAP, or in a RESP2 flat key/value ARRAY. */
const cli_reply *cli_reply_field(const cli_reply *r, const char *name);

/* ---- the connection (cli_conn.c) ---- */

typedef struct cli_conn {
    char host[CLI_HOST_MAX];
    int port;
    int timeout_ms;           /* 0: wait forever */
    int fd;                   /* -1 when not connected */
    const char *user, *pass;  /* AUTH [user] pass after connecting (pass NULL: none) */
    int db;                   /* SELECTed after every connect (-n, and SELECT typed) */
    int resp3;                /* HELLO 3 after every connect (-3) */
    unsigned long generation; /* connections opened so far: help is fetched once per one */
    int dropped;              /* the last failure was the server closing the connection */
    int connect_failed;       /* ... or connecting (the message says which) */
    char *buf;                /* unparsed input is buf[off, len) */
    size_t off, len, cap, need;
    char err[CLI_ERR_MAX];
    int tls;
    const char *cacert, *cert, *key;
#if RKV_HAVE_OPENSSL
    SSL_CTX *ctx;
    SSL *ssl; /* NULL when not connected or plain */
#endif
} cli_conn;

void cli_conn_init(cli_conn *c);
void cli_conn_free(cli_conn *c);
int cli_conn_open(cli_conn *c);   /* 0, or -1 with c->err */
void cli_conn_close(cli_conn *c);
/* "host:port", with an IPv6 literal in brackets, as redis-cli shows it. */
void cli_conn_addr(const cli_conn *c, char *out, size_t outlen);
int cli_conn_send(cli_conn *c, const char *p, size_t len);
int cli_conn_send_argv(cli_conn *c, int argc, const char *const *argv, const size_t *arglen);
cli_reply *cli_conn_read(cli_conn *c);
/* One command and its reply, connecting first if needed. NULL with c->err. */
cli_reply *cli_conn_command(cli_conn *c, int argc, const char *const *argv, const size_t *arglen);
/* The same, retried once on a fresh connection when the old one turns out to
 * have been closed by the server (a restart): redis-cli's habit. */
cli_reply *cli_conn_command_retry(cli_conn *c, int argc, const char *const *argv,
                                  const size_t *arglen);
/* cli_conn_command_retry with NULL-terminated string arguments. */
cli_reply *cli_cmd(cli_conn *c, const char *arg0, ...);
/* Nonblocking pieces for --pipe: bytes written or read (0: would block), -1. */
long cli_conn_try_send(cli_conn *c, const char *p, size_t len);
long cli_conn_try_recv(cli_conn *c);
/* A parsed reply already in the buffer, or NULL (c->err set on a bad one). */
cli_reply *cli_conn_take(cli_conn *c, int *bad);

/* ---- options ---- */

typedef enum cli_output { CLI_OUT_TTY, CLI_OUT_RAW } cli_output;

typedef struct cli_opts {
    cli_output output;
    int pass_on_cmdline, no_auth_warning;
    long repeat;        /* -r: -1 forever */
    double interval_s;  /* -i */
    int interval_set;
    int stdin_arg;      /* -x */
    int errcode;        /* -e */
    int pipe, scan, latency, latency_history, stat, bigkeys, memkeys;
    const char *pattern; /* --pattern */
    long scan_count;     /* --count */
    int pipe_timeout_s;  /* --pipe-timeout */
    int hints;           /* :set hints / :set nohints */
    int argc_cmd;
    char **argv_cmd;
} cli_opts;

/* ---- modes (cli_modes.c): each returns the exit status ---- */

int cli_mode_pipe(cli_conn *c, const cli_opts *o);
int cli_mode_scan(cli_conn *c, const cli_opts *o);
int cli_mode_latency(cli_conn *c, const cli_opts *o);
int cli_mode_stat(cli_conn *c, const cli_opts *o);
int cli_mode_bigkeys(cli_conn *c, const cli_opts *o, int memkeys);
/* Sleeps SECONDS (fractions too), restarting after signals. */
void cli_sleep(double seconds);
long long cli_now_ms(void);

/* ---- help (cli_help.c) ---- */

typedef struct cli_cmd_help {
    const char *name;    /* "SET", "CLIENT LIST" */
    const char *params;  /* "key value [NX|XX] ..." */
    const char *summary, *since, *group;
} cli_cmd_help;

typedef struct cli_help cli_help;
cli_help *cli_help_new(void);
void cli_help_free(cli_help *h);
/* Refreshes from the server's COMMAND DOCS when C has a connection the help
 * has not been built from yet; the built-in table otherwise. */
void cli_help_refresh(cli_help *h, cli_conn *c);
/* `help [topic...]` typed at the prompt. */
void cli_help_print(const cli_help *h, int argc, char **argv);
/* Completions of the first word (or of the topic after "help "). Returns the
 * number of names written to OUT (each strdup'ed: the caller frees them). */
int cli_help_complete(const cli_help *h, const char *line, char **out, int max);
/* The grey hint after LINE: the arguments still to type, or NULL. */
int cli_help_hint(const cli_help *h, const char *line, char *out, size_t outlen);

/* ---- the line editor (cli_edit.c) ---- */

#define CLI_HISTORY_MAX 1000 /* lines kept in memory and in the history file */

typedef struct cli_history {
    char *line[CLI_HISTORY_MAX];
    int n;
    char *path; /* NULL: not saved */
} cli_history;

void cli_history_load(cli_history *h);
void cli_history_add(cli_history *h, const char *line); /* and saves the file */
void cli_history_free(cli_history *h);
/* Lines that carry a password are not kept (redis-cli's rule). */
int cli_line_is_sensitive(int argc, char **argv);

typedef struct cli_editor {
    char buf[CLI_LINE_MAX];
    size_t len, pos;
    const char *prompt;
    int hist_idx;
    const cli_help *help; /* completion and hints; NULL: none */
    int hints;
} cli_editor;

/* Reads a line with editing on a terminal. 0, or -1 on EOF / Ctrl-C / Ctrl-D. */
int cli_edit_line(cli_editor *e, const cli_history *h);
void cli_raw_mode_off(void);

#endif
