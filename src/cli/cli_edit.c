/* cli_edit.c -- rkv-cli's line editor: keys, history (and its file), Tab
 * completion and grey hints, the parts of linenoise redis-cli relies on.
 *
 * No readline or linenoise: rkv-cli depends on libc (and OpenSSL) only, and
 * what an operator uses is small. The terminal goes into raw mode for one
 * line at a time (no echo, a byte at a time, Ctrl-C read as a key; output
 * processing stays on so "\n" still moves to the next line) and back after,
 * also at exit (atexit), so a crash of the session cannot leave the shell
 * unusable. The line is redrawn whole after every key, scrolled sideways
 * when wider than the terminal, as linenoise's single-line mode does.
 *
 * Keys: Left/Right, Home/End, Ctrl-A/E/B/F, Backspace, Delete, Ctrl-D (EOF
 * on an empty line), Ctrl-U/K, Ctrl-W (word back), Ctrl-L, Up/Down and
 * Ctrl-P/N (history), Tab (completion: each Tab shows the next candidate,
 * Esc goes back to what was typed, any other key keeps the candidate),
 * Ctrl-C (leaves the prompt, as in redis-cli).
 *
 * History: the last CLI_HISTORY_MAX lines, in ~/.rkvcli_history, or in the
 * file named by RKVCLI_HISTFILE (redis-cli's REDISCLI_HISTFILE; /dev/null
 * keeps nothing). The file is rewritten after every line (as linenoise does:
 * a killed session loses nothing) with mode 0600, and lines that carry a
 * password (AUTH, HELLO ... AUTH, MIGRATE ... AUTH, ACL SETUSER, CONFIG SET
 * of a password) are neither kept nor written, redis-cli's rule. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLI_PATH_MAX 4096          /* history file name */
#define CLI_COMPLETIONS_MAX 512    /* candidates one Tab cycles through */
#define CLI_HINT_MAX 1024          /* one grey hint */
#define CLI_HINT_COLOR "\x1b[0;90;49m"
#define CLI_COLOR_RESET "\x1b[0m"

static struct termios saved_tio;
static int raw_mode_on;

void cli_raw_mode_off(void)
{
    if (raw_mode_on) {
        (void)tcsetattr(0, TCSADRAIN, &saved_tio);
        raw_mode_on = 0;
    }
}

static int raw_mode_enable(void)
{
    if (tcgetattr(0, &saved_tio) != 0)
        return -1;
    struct termios t = saved_tio;
    t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    t.c_cflag |= CS8;
    t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    /* TCSADRAIN, not TCSAFLUSH: keys typed while the previous command ran
     * (type-ahead) are kept, not thrown away. */
    if (tcsetattr(0, TCSADRAIN, &t) != 0)
        return -1;
    raw_mode_on = 1;
    return 0;
}

/* ---- history ---- */

int cli_line_is_sensitive(int argc, char **argv)
{
    if (argc < 1)
        return 0;
    const char *c = argv[0];
    if (strcasecmp(c, "auth") == 0)
        return 1;
    if (strcasecmp(c, "hello") == 0 || strcasecmp(c, "migrate") == 0) {
        for (int i = 1; i < argc; i++)
            if (strcasecmp(argv[i], "auth") == 0 || strcasecmp(argv[i], "auth2") == 0)
                return 1;
        return 0;
    }
    if (argc >= 2 && strcasecmp(c, "acl") == 0 && strcasecmp(argv[1], "setuser") == 0)
        return 1;
    if (argc >= 3 && strcasecmp(c, "config") == 0 && strcasecmp(argv[1], "set") == 0) {
        for (int i = 2; i < argc; i += 2)
            if (strcasecmp(argv[i], "masterauth") == 0 || strcasecmp(argv[i], "masteruser") == 0 ||
                strcasecmp(argv[i], "requirepass") == 0)
                return 1;
    }
    return 0;
}

static void history_push(cli_history *h, const char *line)
{
    if (line[0] == '\0' || (h->n > 0 && strcmp(h->line[h->n - 1], line) == 0))
        return;
    char *copy = strdup(line);
    if (copy == NULL)
        return;
    if (h->n == CLI_HISTORY_MAX) {
        free(h->line[0]);
        memmove(h->line, h->line + 1, sizeof(h->line[0]) * (CLI_HISTORY_MAX - 1));
        h->n--;
    }
    h->line[h->n++] = copy;
}

static char *history_path(void)
{
    const char *env = getenv("RKVCLI_HISTFILE");
    char path[CLI_PATH_MAX];
    int n;
    if (env != NULL && env[0] != '\0') {
        if (strcmp(env, "/dev/null") == 0)
            return NULL;
        n = snprintf(path, sizeof(path), "%s", env);
    } else {
        const char *home = getenv("HOME");
        if (home == NULL || home[0] == '\0')
            return NULL;
        n = snprintf(path, sizeof(path), "%s/.rkvcli_history", home);
    }
    if (n < 0 || (size_t)n >= sizeof(path))
        return NULL;
    return strdup(path);
}

void cli_history_load(cli_history *h)
{
    h->path = history_path();
    if (h->path == NULL)
        return;
    FILE *f = fopen(h->path, "r");
    if (f == NULL)
        return; /* none yet */
    char *line = malloc(CLI_LINE_MAX);
    while (line != NULL && fgets(line, CLI_LINE_MAX, f) != NULL) {
        size_t n = strcspn(line, "\r\n");
        if (line[n] == '\0' && !feof(f)) { /* longer than CLI_LINE_MAX: skipped */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
            continue;
        }
        line[n] = '\0';
        history_push(h, line);
    }
    free(line);
    if (fclose(f) != 0)
        fprintf(stderr, "rkv-cli: reading %s: %s\n", h->path, strerror(errno));
}

static void history_save(const cli_history *h)
{
    if (h->path == NULL)
        return;
    int fd = open(h->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return; /* an unwritable history is no reason to stop the session */
    }
    (void)fchmod(fd, 0600); /* an older file may have been readable by others */
    int bad = 0;
    for (int i = 0; i < h->n && !bad; i++)
        bad = fputs(h->line[i], f) < 0 || fputc('\n', f) == EOF;
    if (fclose(f) != 0 || bad)
        fprintf(stderr, "rkv-cli: writing %s failed\n", h->path);
}

void cli_history_add(cli_history *h, const char *line)
{
    history_push(h, line);
    history_save(h);
}

void cli_history_free(cli_history *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->line[i]);
    h->n = 0;
    free(h->path);
    h->path = NULL;
}

/* ---- drawing ---- */

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(1, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static size_t term_cols(void)
{
    struct winsize ws;
    return ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

/* Redraws prompt, line and hint; the cursor goes back to e->pos. */
static void editor_refresh(const cli_editor *e)
{
    size_t cols = term_cols();
    size_t plen = strlen(e->prompt);
    const char *b = e->buf;
    size_t len = e->len, pos = e->pos;
    while (plen + pos >= cols && pos > 0) {
        b++;
        len--;
        pos--;
    }
    while (plen + len > cols && len > 0)
        len--;
    write_all("\r", 1);
    write_all(e->prompt, plen);
    write_all(b, len);
    char hint[CLI_HINT_MAX];
    if (e->hints && e->help != NULL && len == e->len && plen + len < cols &&
        cli_help_hint(e->help, e->buf, hint, sizeof(hint)) > 0) {
        size_t hl = strlen(hint);
        if (hl > cols - plen - len)
            hl = cols - plen - len;
        write_all(CLI_HINT_COLOR, strlen(CLI_HINT_COLOR));
        write_all(hint, hl);
        write_all(CLI_COLOR_RESET, strlen(CLI_COLOR_RESET));
    }
    char seq[64];
    int n = snprintf(seq, sizeof(seq), "\x1b[0K\r\x1b[%zuC", plen + pos);
    write_all(seq, (size_t)n);
}

static void editor_set(cli_editor *e, const char *s)
{
    size_t n = strlen(s);
    if (n >= sizeof(e->buf))
        n = sizeof(e->buf) - 1;
    memcpy(e->buf, s, n);
    e->buf[n] = '\0';
    e->len = e->pos = n;
}

static void editor_history(cli_editor *e, const cli_history *h, int dir)
{
    int idx = e->hist_idx + dir;
    if (idx < 0 || idx > h->n)
        return;
    e->hist_idx = idx;
    editor_set(e, idx == h->n ? "" : h->line[idx]);
}

static void editor_delete(cli_editor *e, size_t at)
{
    memmove(e->buf + at, e->buf + at + 1, e->len - at - 1);
    e->len--;
}

/* ESC [ x sequences: arrows, Home/End, Delete. */
static void editor_escape(cli_editor *e, const cli_history *h)
{
    char s[3];
    if (read(0, s, 1) != 1 || read(0, s + 1, 1) != 1)
        return;
    if (s[0] != '[' && s[0] != 'O')
        return;
    if (s[1] >= '0' && s[1] <= '9') {
        if (read(0, s + 2, 1) == 1 && s[2] == '~' && s[1] == '3' && e->pos < e->len)
            editor_delete(e, e->pos);
        return;
    }
    switch (s[1]) {
    case 'A': editor_history(e, h, -1); break;
    case 'B': editor_history(e, h, +1); break;
    case 'C': if (e->pos < e->len) e->pos++; break;
    case 'D': if (e->pos > 0) e->pos--; break;
    case 'H': e->pos = 0; break;
    case 'F': e->pos = e->len; break;
    default: break;
    }
}

static void editor_insert(cli_editor *e, char ch)
{
    if (e->len + 1 >= sizeof(e->buf))
        return;
    memmove(e->buf + e->pos + 1, e->buf + e->pos, e->len - e->pos);
    e->buf[e->pos++] = ch;
    e->len++;
}

static void editor_word_back(cli_editor *e)
{
    size_t end = e->pos, p = e->pos;
    while (p > 0 && e->buf[p - 1] == ' ')
        p--;
    while (p > 0 && e->buf[p - 1] != ' ')
        p--;
    memmove(e->buf + p, e->buf + end, e->len - end);
    e->len -= end - p;
    e->pos = p;
}

/* Tab: cycles through the candidates. Returns the key that ended the cycle
 * (to be handled as usual), or 0 when none is left to handle. */
static char editor_complete(cli_editor *e)
{
    char *cand[CLI_COMPLETIONS_MAX];
    e->buf[e->len] = '\0';
    int n = e->help ? cli_help_complete(e->help, e->buf, cand, CLI_COMPLETIONS_MAX) : 0;
    if (n == 0) {
        write_all("\x07", 1);
        return 0;
    }
    char saved[CLI_LINE_MAX];
    memcpy(saved, e->buf, e->len + 1);
    size_t saved_pos = e->pos;
    char ch = 0;
    for (int i = 0;;) {
        if (i < n)
            editor_set(e, cand[i]);
        else
            editor_set(e, saved);
        editor_refresh(e);
        ssize_t r = read(0, &ch, 1);
        if (r <= 0) {
            ch = 0;
            break;
        }
        if (ch == '\t') {
            i = (i + 1) % (n + 1); /* the typed text comes round too */
            if (i == n)
                write_all("\x07", 1);
            continue;
        }
        if (ch == 27) { /* Esc: back to what was typed */
            editor_set(e, saved);
            e->pos = saved_pos;
            ch = 0;
        }
        break;
    }
    for (int i = 0; i < n; i++)
        free(cand[i]);
    return ch;
}

/* One key. Returns 1 when the line is complete, -1 on EOF/Ctrl-C, else 0. */
static int editor_key(cli_editor *e, const cli_history *h, char ch)
{
    switch (ch) {
    case '\r': case '\n': return 1;
    case 3: return -1;
    case 4:
        if (e->len == 0)
            return -1;
        if (e->pos < e->len)
            editor_delete(e, e->pos);
        break;
    case 127: case 8:
        if (e->pos > 0)
            editor_delete(e, --e->pos);
        break;
    case 1: e->pos = 0; break;                         /* Ctrl-A */
    case 5: e->pos = e->len; break;                    /* Ctrl-E */
    case 2: if (e->pos > 0) e->pos--; break;           /* Ctrl-B */
    case 6: if (e->pos < e->len) e->pos++; break;      /* Ctrl-F */
    case 16: editor_history(e, h, -1); break;          /* Ctrl-P */
    case 14: editor_history(e, h, +1); break;          /* Ctrl-N */
    case 21: e->len = e->pos = 0; break;               /* Ctrl-U */
    case 11: e->len = e->pos; break;                   /* Ctrl-K */
    case 23: editor_word_back(e); break;               /* Ctrl-W */
    case 12: write_all("\x1b[H\x1b[2J", 7); break;     /* Ctrl-L */
    case 27: editor_escape(e, h); break;
    case '\t': {
        char next = editor_complete(e);
        return next != 0 ? editor_key(e, h, next) : 0;
    }
    default:
        if ((unsigned char)ch >= 32)
            editor_insert(e, ch);
        break;
    }
    return 0;
}

int cli_edit_line(cli_editor *e, const cli_history *h)
{
    e->len = e->pos = 0;
    e->buf[0] = '\0';
    e->hist_idx = h->n;
    if (raw_mode_enable() != 0)
        return -1;
    editor_refresh(e);
    int rc;
    for (;;) {
        char ch;
        ssize_t r = read(0, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = -1;
            break;
        }
        rc = editor_key(e, h, ch);
        e->buf[e->len] = '\0';
        if (rc != 0)
            break;
        editor_refresh(e);
    }
    /* The final line without its hint, as linenoise leaves it. */
    int hints = e->hints;
    e->hints = 0;
    e->pos = e->len;
    editor_refresh(e);
    e->hints = hints;
    cli_raw_mode_off();
    write_all("\n", 1);
    e->buf[e->len] = '\0';
    return rc > 0 ? 0 : -1;
}
