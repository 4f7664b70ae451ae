/* cli_modes.c -- rkv-cli's modes that are loops rather than one command:
 * --pipe, --scan, --latency and --latency-history, --stat, --bigkeys and
 * --memkeys. Each prints what redis-cli 7.0 prints, line for line, so the
 * scripts and the eyes used to redis-cli's output can read it; where rkv
 * differs (it stores strings only) the output still has redis-cli's shape.
 *
 * --pipe streams stdin to the server while it reads the replies (never one
 * after the other: a large input would fill both socket buffers and stall),
 * then sends ECHO with a random 20-byte marker; its echo is the proof that
 * every reply has arrived. A silent server ends it after --pipe-timeout.
 *
 * The loops sleep with nanosleep (cli_sleep); a CLI may wait, a server
 * thread may not. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLI_PIPE_CHUNK (64 * 1024)       /* stdin bytes read and sent at a time */
#define CLI_PIPE_MAGIC_LEN 20            /* redis-cli's marker length */
#define CLI_PIPE_POLL_MS 100             /* how often the pipe timeout is checked */
#define CLI_LATENCY_SAMPLE_MS 10         /* pause between two PINGs (redis-cli's) */
#define CLI_LATENCY_HISTORY_S 15.0       /* --latency-history window without -i */
#define CLI_STAT_HEADER_EVERY 20         /* --stat repeats its header every 20 lines */
#define CLI_SCAN_PAUSE_EVERY 100         /* -i pauses once per 100 SCANs */
#define CLI_NUM_MAX 32                   /* a number as text */

void cli_sleep(double seconds)
{
    if (!(seconds > 0))
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int conn_fail(const cli_conn *c, const char *what)
{
    fprintf(stderr, "rkv-cli: %s: %s\n", what, c->err);
    return 1;
}

/* ---- --pipe ---- */

typedef struct pipe_state {
    char out[CLI_PIPE_CHUNK];
    size_t off, len;
    int stdin_eof, magic_queued, magic_sent, done;
    char magic[CLI_PIPE_MAGIC_LEN + 1];
    long long errors, replies, last_reply_ms;
} pipe_state;

static void pipe_magic(pipe_state *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[CLI_PIPE_MAGIC_LEN];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(raw)) { /* no urandom: the time and pid are unique enough */
        unsigned long long x = (unsigned long long)cli_now_ms() * 2654435761u ^ (unsigned)getpid();
        for (size_t i = 0; i < sizeof(raw); i++, x = x * 6364136223846793005ull + 1)
            raw[i] = (unsigned char)(x >> 33);
    }
    for (size_t i = 0; i < CLI_PIPE_MAGIC_LEN; i++)
        p->magic[i] = hex[raw[i] & 15];
    p->magic[CLI_PIPE_MAGIC_LEN] = '\0';
}

/* Refills the output buffer from stdin, then with the ECHO marker. */
static int pipe_fill(pipe_state *p)
{
    if (p->off < p->len || p->magic_queued)
        return 0;
    p->off = p->len = 0;
    if (!p->stdin_eof) {
        ssize_t n = read(0, p->out, sizeof(p->out));
        if (n < 0 && errno == EINTR)
            return 0;
        if (n < 0) {
            fprintf(stderr, "rkv-cli: --pipe: reading stdin: %s\n", strerror(errno));
            return -1;
        }
        if (n > 0) {
            p->len = (size_t)n;
            return 0;
        }
        p->stdin_eof = 1;
    }
    int n = snprintf(p->out, sizeof(p->out), "*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n",
                     CLI_PIPE_MAGIC_LEN, p->magic);
    p->len = (size_t)n;
    p->magic_queued = 1;
    return 0;
}

static int pipe_read(cli_conn *c, pipe_state *p)
{
    int closed = cli_conn_try_recv(c) < 0; /* what came before the close still counts */
    int bad = 0;
    cli_reply *r;
    while ((r = cli_conn_take(c, &bad)) != NULL) {
        p->last_reply_ms = cli_now_ms();
        if (r->type == CLI_R_ERROR) {
            fprintf(stderr, "%s\n", r->str);
            p->errors++;
        } else if (p->magic_sent && r->type == CLI_R_BULK && r->len == CLI_PIPE_MAGIC_LEN &&
                   memcmp(r->str, p->magic, CLI_PIPE_MAGIC_LEN) == 0) {
            printf("Last reply received from server.\n");
            p->done = 1;
            p->replies--; /* the marker is not one of the caller's replies */
        }
        p->replies++;
        cli_reply_free(r);
    }
    if (bad || (closed && !p->done)) {
        conn_fail(c, "--pipe");
        return -1;
    }
    return 0;
}

static int pipe_write(cli_conn *c, pipe_state *p)
{
    long w = cli_conn_try_send(c, p->out + p->off, p->len - p->off);
    if (w < 0) {
        conn_fail(c, "--pipe");
        return -1;
    }
    p->off += (size_t)w;
    if (p->magic_queued && !p->magic_sent && p->off == p->len) {
        p->magic_sent = 1;
        p->last_reply_ms = cli_now_ms();
        printf("All data transferred. Waiting for the last reply...\n");
        fflush(stdout);
    }
    return 0;
}

int cli_mode_pipe(cli_conn *c, const cli_opts *o)
{
    pipe_state *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        fprintf(stderr, "rkv-cli: out of memory\n");
        return 1;
    }
    pipe_magic(p);
    int rc = 0;
    while (!p->done && rc == 0) {
        if (pipe_fill(p) != 0)
            break;
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (p->off < p->len)
            pf.events |= POLLOUT;
        int n = poll(&pf, 1, CLI_PIPE_POLL_MS);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "rkv-cli: --pipe: poll: %s\n", strerror(errno));
            break;
        }
        if (n > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR)))
            rc = pipe_read(c, p);
        if (rc == 0 && n > 0 && (pf.revents & POLLOUT))
            rc = pipe_write(c, p);
        if (p->magic_sent && !p->done && o->pipe_timeout_s > 0 &&
            cli_now_ms() - p->last_reply_ms > o->pipe_timeout_s * 1000LL) {
            fprintf(stderr, "No replies for %d seconds: exiting.\n", o->pipe_timeout_s);
            p->errors++;
            break;
        }
    }
    printf("errors: %lld, replies: %lld\n", p->errors, p->replies);
    int failed = p->errors > 0 || !p->done;
    free(p);
    return failed ? 1 : 0;
}

/* ---- --scan ---- */

static int scan_step(cli_conn *c, const char *cursor, const char *pattern, long count,
                     cli_reply **out)
{
    const char *argv[6] = {"SCAN", cursor};
    int argc = 2;
    char cnt[CLI_NUM_MAX];
    if (pattern != NULL) {
        argv[argc++] = "MATCH";
        argv[argc++] = pattern;
    }
    if (count > 0) {
        snprintf(cnt, sizeof(cnt), "%ld", count);
        argv[argc++] = "COUNT";
        argv[argc++] = cnt;
    }
    cli_reply *r = cli_conn_command_retry(c, argc, argv, NULL);
    if (r == NULL)
        return conn_fail(c, "SCAN");
    if (r->type == CLI_R_ERROR) {
        fprintf(stderr, "rkv-cli: SCAN: %s\n", r->str);
        cli_reply_free(r);
        return 1;
    }
    if (r->type != CLI_R_ARRAY || r->nelem != 2 || cli_reply_str(r->elem[0]) == NULL ||
        r->elem[1]->type != CLI_R_ARRAY) {
        fprintf(stderr, "rkv-cli: SCAN: unexpected reply\n");
        cli_reply_free(r);
        return 1;
    }
    *out = r;
    return 0;
}

int cli_mode_scan(cli_conn *c, const cli_opts *o)
{
    char cursor[CLI_NUM_MAX] = "0";
    long loops = 0;
    do {
        cli_reply *r;
        if (scan_step(c, cursor, o->pattern, o->scan_count, &r) != 0)
            return 1;
        snprintf(cursor, sizeof(cursor), "%s", cli_reply_str(r->elem[0]));
        const cli_reply *keys = r->elem[1];
        for (size_t i = 0; i < keys->nelem; i++) {
            const cli_reply *k = keys->elem[i];
            if (cli_reply_str(k) == NULL)
                continue;
            if (o->output == CLI_OUT_TTY)
                cli_print_repr(stdout, k->str, k->len);
            else
                fwrite(k->str, 1, k->len, stdout);
            fputc('\n', stdout);
        }
        cli_reply_free(r);
        if (o->interval_s > 0 && ++loops % CLI_SCAN_PAUSE_EVERY == 0)
            cli_sleep(o->interval_s);
    } while (strcmp(cursor, "0") != 0);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- --latency, --latency-history ---- */

typedef struct lat_stats {
    long long min, max, tot, count;
} lat_stats;

static void lat_print(const lat_stats *s, int tty)
{
    double avg = s->count ? (double)s->tot / (double)s->count : 0;
    if (tty)
        printf("min: %lld, max: %lld, avg: %.2f (%lld samples)", s->min, s->max, avg, s->count);
    else
        printf("%lld %lld %.2f %lld\n", s->min, s->max, avg, s->count);
    fflush(stdout);
}

int cli_mode_latency(cli_conn *c, const cli_opts *o)
{
    int history = o->latency_history, tty = o->output == CLI_OUT_TTY;
    double window_s = o->interval_set ? o->interval_s : history ? CLI_LATENCY_HISTORY_S : 1.0;
    long long window_ms = (long long)(window_s * 1000), start = cli_now_ms();
    lat_stats s = {0, 0, 0, 0};
    for (;;) {
        long long t0 = cli_now_ms();
        cli_reply *r = cli_cmd(c, "PING", (const char *)NULL);
        if (r == NULL)
            return conn_fail(c, "PING");
        cli_reply_free(r);
        long long lat = cli_now_ms() - t0;
        if (s.count == 0 || lat < s.min)
            s.min = lat;
        if (s.count == 0 || lat > s.max)
            s.max = lat;
        s.tot += lat;
        s.count++;
        if (tty) {
            printf("\x1b[0G\x1b[2K");
            lat_print(&s, 1);
        } else if (history) {
            lat_print(&s, 0);
        } else if (cli_now_ms() - start > window_ms) {
            lat_print(&s, 0);
            return 0;
        }
        if (history && cli_now_ms() - start > window_ms) {
            printf(" -- %.2f seconds range\n", (double)(cli_now_ms() - start) / 1000.0);
            fflush(stdout);
            start = cli_now_ms();
            memset(&s, 0, sizeof(s));
        }
        cli_sleep(CLI_LATENCY_SAMPLE_MS / 1000.0);
    }
}

/* ---- --stat ---- */

/* The number after "FIELD:" at the start of a line of INFO TEXT, or DEF. */
static long long info_field(const char *text, const char *field, long long def)
{
    size_t fl = strlen(field);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':')
            return strtoll(p + fl + 1, NULL, 10);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return def;
}

/* Keys of every database: the keys=N of the dbK: lines. */
static long long info_keys(const char *text)
{
    long long keys = 0;
    for (const char *p = strstr(text, "\ndb"); p != NULL; p = strstr(p + 1, "\ndb")) {
        const char *k = strstr(p, ":keys=");
        const char *eol = strchr(p + 1, '\n');
        if (k != NULL && (eol == NULL || k < eol))
            keys += strtoll(k + 6, NULL, 10);
    }
    return keys;
}

static void bytes_human(char *out, size_t outlen, long long n)
{
    double d = (double)n;
    if (n < 1024)
        snprintf(out, outlen, "%lldB", n);
    else if (n < 1024LL * 1024)
        snprintf(out, outlen, "%.2fK", d / 1024);
    else if (n < 1024LL * 1024 * 1024)
        snprintf(out, outlen, "%.2fM", d / (1024.0 * 1024));
    else if (n < 1024LL * 1024 * 1024 * 1024)
        snprintf(out, outlen, "%.2fG", d / (1024.0 * 1024 * 1024));
    else
        snprintf(out, outlen, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}

static void stat_line(const char *info, long long *prev_requests)
{
    char buf[CLI_NUM_MAX * 2];
    snprintf(buf, sizeof(buf), "%lld", info_keys(info));
    printf("%-11s", buf);
    bytes_human(buf, sizeof(buf), info_field(info, "used_memory", 0));
    printf("%-9s", buf);
    printf("%-8lld", info_field(info, "connected_clients", 0));
    printf("%-8lld", info_field(info, "blocked_clients", 0));
    long long req = info_field(info, "total_commands_processed", 0);
    snprintf(buf, sizeof(buf), "%lld (+%lld)", req, *prev_requests ? req - *prev_requests : 0);
    printf("%-20s", buf);
    *prev_requests = req;
    printf("%-12lld", info_field(info, "total_connections_received", 0));
    if (info_field(info, "rdb_bgsave_in_progress", 0) > 0)
        printf("RDB");
    if (info_field(info, "loading", 0) > 0)
        printf("LOAD");
    printf("\n");
}

int cli_mode_stat(cli_conn *c, const cli_opts *o)
{
    double interval = o->interval_set && o->interval_s > 0 ? o->interval_s : 1.0;
    long long prev_requests = 0;
    for (long lines = 0;; lines++) {
        cli_reply *r = cli_cmd(c, "INFO", (const char *)NULL);
        if (r == NULL)
            return conn_fail(c, "INFO");
        const char *info = cli_reply_str(r);
        if (info == NULL) {
            fprintf(stderr, "rkv-cli: INFO: %s\n", r->type == CLI_R_ERROR ? r->str : "unexpected reply");
            cli_reply_free(r);
            return 1;
        }
        if (lines % CLI_STAT_HEADER_EVERY == 0)
            printf("------- data ------ --------------------- load -------------------- - child -\n"
                   "keys       mem      clients blocked requests            connections          \n");
        stat_line(info, &prev_requests);
        cli_reply_free(r);
        if (fflush(stdout) != 0)
            return 1;
        cli_sleep(interval);
    }
}

/* ---- --bigkeys, --memkeys ---- */

/* redis-cli's order, and how each type's size is asked and named. */
static const struct key_type {
    const char *name, *size_cmd, *unit;
} key_types[] = {
    {"list", "LLEN", "items"}, {"hash", "HLEN", "fields"}, {"string", "STRLEN", "bytes"},
    {"stream", "XLEN", "entries"}, {"set", "SCARD", "members"}, {"zset", "ZCARD", "members"},
};
#define KEY_TYPES (sizeof(key_types) / sizeof(key_types[0]))

typedef struct big_stats {
    unsigned long long count[KEY_TYPES], total[KEY_TYPES], biggest[KEY_TYPES];
    char *biggest_key[KEY_TYPES];
    size_t biggest_len[KEY_TYPES];
    unsigned long long sampled, keylen;
} big_stats;

static int type_index(const char *t)
{
    for (size_t i = 0; i < KEY_TYPES; i++)
        if (strcasecmp(key_types[i].name, t) == 0)
            return (int)i;
    return -1;
}

static void print_key(FILE *f, const char *k, size_t n)
{
    fputc('\'', f);
    cli_print_repr(f, k, n);
    fputc('\'', f);
}

/* The size of one key: 0 and *size, 1 skip it, -1 stop (message printed). */
static int key_size(cli_conn *c, const cli_reply *key, int t, int memkeys,
                    unsigned long long *size)
{
    const char *argv[3] = {memkeys ? "MEMORY" : key_types[t].size_cmd, key->str, key->str};
    size_t len[3] = {strlen(argv[0]), key->len, key->len};
    if (memkeys) {
        argv[1] = "USAGE";
        len[1] = 5;
    }
    cli_reply *r = cli_conn_command_retry(c, memkeys ? 3 : 2, argv, len);
    if (r == NULL)
        return conn_fail(c, argv[0]), -1;
    int rc = 0;
    if (r->type == CLI_R_INT && r->integer >= 0) {
        *size = (unsigned long long)r->integer;
    } else if (memkeys && r->type == CLI_R_ERROR && strstr(r->str, "unknown command") != NULL) {
        fprintf(stderr, "rkv-cli: --memkeys needs MEMORY USAGE, which this server does not "
                        "have (%s)\n", r->str);
        rc = -1;
    } else {
        fprintf(stderr, "Warning:  %s on '%s' failed (may have changed type)\n",
                memkeys ? "MEMORY USAGE" : key_types[t].size_cmd, key->str);
        rc = 1;
    }
    cli_reply_free(r);
    return rc;
}

/* One key of a SCAN batch. -1 stops. */
static int big_key(cli_conn *c, big_stats *s, const cli_reply *key, int memkeys, double pct)
{
    const char *argv[2] = {"TYPE", key->str};
    size_t len[2] = {4, key->len};
    cli_reply *r = cli_conn_command_retry(c, 2, argv, len);
    if (r == NULL)
        return conn_fail(c, "TYPE"), -1;
    int t = cli_reply_str(r) ? type_index(r->str) : -1;
    cli_reply_free(r);
    if (t < 0)
        return 0; /* gone meanwhile, or a type redis-cli does not size either */
    unsigned long long size = 0;
    int rc = key_size(c, key, t, memkeys, &size);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    s->sampled++;
    s->keylen += key->len;
    s->count[t]++;
    s->total[t] += size;
    if (s->biggest_key[t] == NULL || size > s->biggest[t]) {
        char *copy = malloc(key->len + 1);
        if (copy == NULL)
            return -1;
        memcpy(copy, key->str, key->len + 1);
        free(s->biggest_key[t]);
        s->biggest_key[t] = copy;
        s->biggest_len[t] = key->len;
        s->biggest[t] = size;
        printf("[%05.2f%%] Biggest %-6s found so far ", pct, key_types[t].name);
        print_key(stdout, key->str, key->len);
        printf(" with %llu %s\n", size, memkeys ? "bytes" : key_types[t].unit);
        fflush(stdout);
    }
    return 0;
}

static void big_summary(const big_stats *s, int memkeys)
{
    printf("\n-------- summary -------\n\n");
    printf("Sampled %llu keys in the keyspace!\n", s->sampled);
    printf("Total key length in bytes is %llu (avg len %.2f)\n\n", s->keylen,
           s->sampled ? (double)s->keylen / (double)s->sampled : 0);
    for (size_t t = 0; t < KEY_TYPES; t++) {
        if (s->biggest_key[t] == NULL)
            continue;
        printf("Biggest %6s found ", key_types[t].name);
        print_key(stdout, s->biggest_key[t], s->biggest_len[t]);
        printf(" has %llu %s\n", s->biggest[t], memkeys ? "bytes" : key_types[t].unit);
    }
    printf("\n");
    for (size_t t = 0; t < KEY_TYPES; t++)
        printf("%llu %ss with %llu %s (%05.2f%% of keys, avg size %.2f)\n", s->count[t],
               key_types[t].name, s->total[t], memkeys ? "bytes" : key_types[t].unit,
               s->sampled ? 100.0 * (double)s->count[t] / (double)s->sampled : 0,
               s->count[t] ? (double)s->total[t] / (double)s->count[t] : 0);
}

static int big_scan(cli_conn *c, const cli_opts *o, big_stats *s, long long total, int memkeys)
{
    char cursor[CLI_NUM_MAX] = "0";
    long loops = 0;
    do {
        cli_reply *r;
        if (scan_step(c, cursor, NULL, o->scan_count, &r) != 0)
            return 1;
        snprintf(cursor, sizeof(cursor), "%s", cli_reply_str(r->elem[0]));
        double pct = total > 0 ? 100.0 * (double)s->sampled / (double)total : 0;
        const cli_reply *keys = r->elem[1];
        for (size_t i = 0; i < keys->nelem; i++) {
            if (keys->elem[i]->type == CLI_R_BULK && big_key(c, s, keys->elem[i], memkeys, pct) != 0) {
                cli_reply_free(r);
                return 1;
            }
        }
        cli_reply_free(r);
        if (o->interval_s > 0 && ++loops % CLI_SCAN_PAUSE_EVERY == 0)
            cli_sleep(o->interval_s);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int cli_mode_bigkeys(cli_conn *c, const cli_opts *o, int memkeys)
{
    cli_reply *r = cli_cmd(c, "DBSIZE", (const char *)NULL);
    if (r == NULL)
        return conn_fail(c, "DBSIZE");
    if (r->type != CLI_R_INT) {
        fprintf(stderr, "rkv-cli: DBSIZE: %s\n", r->type == CLI_R_ERROR ? r->str : "unexpected reply");
        cli_reply_free(r);
        return 1;
    }
    long long total = r->integer;
    cli_reply_free(r);
    printf("\n# Scanning the entire keyspace to find biggest keys as well as\n"
           "# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n"
           "# per 100 SCAN commands (not usually needed).\n\n");
    big_stats *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        fprintf(stderr, "rkv-cli: out of memory\n");
        return 1;
    }
    int rc = big_scan(c, o, s, total, memkeys);
    if (rc == 0)
        big_summary(s, memkeys);
    for (size_t t = 0; t < KEY_TYPES; t++)
        free(s->biggest_key[t]);
    free(s);
    return fflush(stdout) == 0 ? rc : 1;
}
