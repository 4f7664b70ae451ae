/* replay_main.c -- runs a fuzz target over files without libFuzzer, so
 * `make check` can replay every seed and crash corpus with gcc alone.
 *
 *   replay_<target> [FILE|DIR ...]
 *
 * Each FILE, and every regular file in each DIR (sorted by name), is read
 * whole and passed once to LLVMFuzzerTestOneInput. With no arguments the
 * target's corpus is used: $RKV_FUZZ_CORPUS/<target>, else
 * tests/fuzz/corpus/<target> from the current directory (the repo root under
 * `make check`), else the same path relative to the binary's location under
 * <build>/tests/fuzz/. <target> is this program's name minus "replay_".
 * A target that breaks a property aborts; the file being replayed is then
 * named on stderr. Prints "N passed, 0 failed" (tests/run_all.sh reads it). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define REPLAY_FILE_MAX (64u << 20) /* no corpus file is near this */

static const char *current_file = "";

static void on_fatal(int sig)
{
    static const char pre[] = "\nreplay: crashed on ";
    (void)!write(2, pre, sizeof pre - 1);
    (void)!write(2, current_file, strlen(current_file));
    (void)!write(2, "\n", 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            if (cap > REPLAY_FILE_MAX) {
                fprintf(stderr, "replay: %s: larger than %u bytes\n", path, REPLAY_FILE_MAX);
                free(buf);
                fclose(fp);
                return -1;
            }
            uint8_t *nb = realloc(buf, cap);
            if (!nb) abort();
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, fp);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return -1;
    }
    /* An exactly-sized copy, so a read one past the input is caught. */
    uint8_t *in = malloc(len ? len : 1);
    if (!in) abort();
    if (len) memcpy(in, buf, len);
    free(buf);
    current_file = path;
    LLVMFuzzerTestOneInput(in, len);
    free(in);
    return 0;
}

static int skip_name(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Replays PATH (a file or a directory); adds to *n files replayed. */
static int replay_path(const char *path, int *n)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (replay_file(path) != 0) return -1;
        (*n)++;
        return 0;
    }
    struct dirent **names;
    int count = scandir(path, &names, skip_name, alphasort);
    if (count < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < count; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
        if (rc == 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(file) != 0) rc = -1;
            else (*n)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Finds the default corpus directory for this binary; 0 or -1. */
static int default_corpus(const char *argv0, char *out, size_t outlen)
{
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    const char *target = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
    struct stat st;
    const char *env = getenv("RKV_FUZZ_CORPUS");
    if (env && *env) {
        snprintf(out, outlen, "%s/%s", env, target);
        return 0;
    }
    snprintf(out, outlen, "tests/fuzz/corpus/%s", target);
    if (stat(out, &st) == 0) return 0;
    /* <repo>/<build>/tests/fuzz/replay_x -> <repo>/tests/fuzz/corpus/x */
    int dirlen = (int)(base - argv0);
    snprintf(out, outlen, "%.*s../../../tests/fuzz/corpus/%s", dirlen, argv0, target);
    return stat(out, &st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    signal(SIGABRT, on_fatal);
#ifndef __SANITIZE_ADDRESS__ /* ASan's own SEGV report says more than we can */
    signal(SIGSEGV, on_fatal);
    signal(SIGBUS, on_fatal);
    signal(SIGFPE, on_fatal);
#endif
    int n = 0, rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && rc == 0; i++) rc = replay_path(argv[i], &n);
    } else {
        char dir[4096];
        if (default_corpus(argv[0], dir, sizeof dir) != 0) {
            fprintf(stderr, "replay: no corpus for %s (run from the repo root or set "
                            "RKV_FUZZ_CORPUS)\n", argv[0]);
            rc = -1;
        } else {
            rc = replay_path(dir, &n);
            if (rc == 0 && n == 0) {
                fprintf(stderr, "replay: %s is empty\n", dir);
                rc = -1;
            }
        }
    }
    printf("%d passed, %d failed\n", n, rc != 0);
    return rc != 0;
}
