/* fuzz.h -- what every fuzz target shares: the libFuzzer entry point, an
 * assertion that survives -DNDEBUG, and a temp file for the loaders that
 * only read from a path.
 *
 * Each tests/fuzz/fuzz_<target>.c is linked two ways: with libFuzzer by
 * clang (`make fuzz`, build-fuzz/fuzz_<target>) and with replay_main.c by
 * gcc (`make check`, which replays tests/fuzz/corpus/<target>/). The
 * targets check properties, not just "did not crash": a broken property
 * calls fuzz_fail(), which aborts so both drivers report it. */
#ifndef RKV_FUZZ_H
#define RKV_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the broken property; abort() is what libFuzzer records as a
 * crash and what the replay driver's caller sees as a signal. */
#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* One temp file per process, rewritten for every input and removed at exit
 * (a crash leaves it behind in $TMPDIR, which is fine). */
static char fuzz_tmp_path_[256];

static inline void fuzz_tmp_remove_(void)
{
    if (fuzz_tmp_path_[0]) unlink(fuzz_tmp_path_);
}

/* Writes DATA to the process's temp file and returns its path. */
static inline const char *fuzz_tmp_write(const uint8_t *data, size_t size)
{
    if (!fuzz_tmp_path_[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_tmp_path_, sizeof fuzz_tmp_path_, "%s/rkv-fuzz-XXXXXX",
                 dir && *dir ? dir : "/tmp");
        int fd = mkstemp(fuzz_tmp_path_);
        fuzz_check(fd >= 0);
        close(fd);
        atexit(fuzz_tmp_remove_);
    }
    int fd = open(fuzz_tmp_path_, O_WRONLY | O_TRUNC | O_CLOEXEC);
    fuzz_check(fd >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        fuzz_check(w > 0);
        off += (size_t)w;
    }
    close(fd);
    return fuzz_tmp_path_;
}

#endif
