/* proc.h -- process-level test helpers: spawn servers, talk RESP, clean up.
 *
 * Process tests (tests/LAYER/NAME_proc_test.c) start real rkv-server
 * processes on free ports with temp data dirs, drive them with the blocking
 * client below (the suite must not need redis-cli), and stop exactly what
 * they started, by PID. A typical test:
 *
 *     char *dir = proc_tmpdir("wal");
 *     int port = proc_free_port();
 *     char bin[PROC_PATH_MAX], portstr[16];
 *     proc_build_path(bin, sizeof bin, "rkv-server");
 *     snprintf(portstr, sizeof portstr, "%d", port);
 *     const char *const argv[] = {bin, "--port", portstr, "--data-dir", dir, NULL};
 *     pid_t pid = proc_spawn(argv, "/tmp/node1.log");
 *     tclient *c = tc_connect("127.0.0.1", port, 5000);   // waits for it to listen
 *     resp_value *r = tc_cmd(c, "SET", "k", "v");
 *     ...
 *     resp_value_free(r);
 *     tc_close(c);
 *     proc_stop(pid, SIGTERM, 5000);
 *     proc_rmtree(dir);
 *     free(dir);
 *
 * Waiting is always a condition with a deadline, never a fixed sleep:
 * tc_connect retries until the server listens, proc_stop waits for the exit,
 * and proc_wait_until polls any predicate (a follower caught up, a counter
 * moved). Every function reports failure by its return value (NULL / -1) and
 * never aborts the test binary, so a test can assert on it with test_cond. */
#ifndef RKV_TEST_PROC_H
#define RKV_TEST_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "net/resp.h"

#define PROC_PATH_MAX 4096   /* paths built by these helpers */
#define TC_MAX_ARGS 64       /* arguments accepted by the variadic tc_cmd() */
#define TC_ERR_MAX 256       /* length of a client's last error message */
#define TC_INBUF_MAX (64u * 1024u * 1024u) /* largest reply tc_read() buffers */

/* ---- processes ---- */

/* A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it
 * back, close). Another process may take it before the test binds it; tests
 * start servers right away, and loopback ports are plentiful. -1 on error. */
int proc_free_port(void);

/* Fork + exec ARGV (NULL-terminated; argv[0] is a path or a name on PATH)
 * with stdin from /dev/null and stdout + stderr appended to LOG_PATH (NULL:
 * inherit). The child gets SIGKILL if the test binary dies, so a crashed test
 * leaves no server behind. Returns the pid or -1. */
pid_t proc_spawn(const char *const argv[], const char *log_path);

/* Sends SIG to PID (0: send nothing, just wait for it to exit by itself) and
 * waits up to TIMEOUT_MS for it to exit. Returns its exit code, 128 + signal
 * number if a signal ended it, or -1 if it had to be SIGKILLed after the
 * deadline (or could not be waited for). The child is always reaped. */
int proc_stop(pid_t pid, int sig, int timeout_ms);

/* A server a test keeps in *PID (0: not running) and *STOPPED: SIGSTOP /
 * SIGCONT keep it (and set *STOPPED); any other signal stops and reaps it
 * (SIGCONT first if it was stopped, so SIGTERM is handled), within
 * TIMEOUT_MS, and clears both. proc_stop's status, or -1. */
int proc_signal(pid_t *pid, int *stopped, int sig, int timeout_ms);

/* Stops a server proc_signal keeps, checking it ended well: 1 (and a line
 * naming WHO's node I) if it had exited on its own or did not exit with
 * status 0 on SIGTERM, else 0 (also when it was not running). */
int proc_stop_clean(pid_t *pid, int *stopped, int timeout_ms, const char *who, int i);

/* Has PID exited? Non-blocking: returns -2 while it runs, otherwise its
 * status encoded as in proc_stop (and it is reaped), or -1 on error. */
int proc_exited(pid_t pid);

/* Polls COND(CTX) every PROC_POLL_MS until it returns non-zero or
 * TIMEOUT_MS passes. Returns 1 if the condition held, 0 on timeout. This is
 * the one sanctioned wait loop in the suite. */
#define PROC_POLL_MS 5
int proc_wait_until(int (*cond)(void *), void *ctx, int timeout_ms);

/* Monotonic milliseconds, for tests that measure their own deadlines. */
long long proc_now_ms(void);

/* "$RKV_BUILD/NAME" (RKV_BUILD defaults to "build", as tests/run_all.sh
 * exports it) into OUT. Returns 0 or -1 if it does not fit. */
int proc_build_path(char *out, size_t outlen, const char *name);

/* A fresh directory /tmp/rkv-TAG-XXXXXX (mkdtemp); malloc'd path or NULL. */
char *proc_tmpdir(const char *tag);
/* Removes PATH and everything below it (no symlink following). 0 or -1. */
int proc_rmtree(const char *path);
/* The first non-loopback IPv4 address of this machine (up, not 127/8) into
 * OUT: 1, or 0 if it has none (tests of non-loopback clients skip then). */
int proc_local_address(char *out, size_t outlen);
/* /proc/PID/stat into BUF; the fields after the process name (state,
 * ppid, ...), or NULL. */
const char *proc_stat_fields(pid_t pid, char *buf, size_t cap);
/* utime + stime of PID in clock ticks (/proc/PID/stat), or -1. */
long long proc_cpu_ticks(pid_t pid);
/* Writes a fresh random cluster secret (64 hex digits, mode 0600) to PATH,
 * for --cluster-secret-file. 0 or -1. */
int proc_write_secret(const char *path);

/* ---- a blocking RESP client ---- */

typedef struct tclient tclient;

/* Connects to HOST:PORT, retrying until TIMEOUT_MS passes (this is how a
 * test waits for a server to come up). TIMEOUT_MS also bounds every later
 * send and read. NULL on failure; the calls below accept that NULL and
 * fail (NULL / -1), so a server that died fails a test, not the binary. */
tclient *tc_connect(const char *host, int port, int timeout_ms);
/* Changes the I/O timeout (e.g. before a WAIT that is meant to block). */
int tc_set_timeout(tclient *c, int timeout_ms);
/* Sends one command (ARGLEN NULL: C strings) and reads its reply. NULL on
 * I/O error, EOF, timeout or protocol error (see tc_error). */
resp_value *tc_cmdv(tclient *c, int argc, const char *const *argv, const size_t *arglen);
/* tc_cmd(c, "SET", "k", "v"): C-string arguments. The macro appends the
 * terminating (const char *)NULL, so callers need not (an explicit trailing
 * NULL also works, but cppcheck flags a bare NULL passed to a variadic
 * function). tc_cmd_list() is the NULL-terminated function underneath. */
resp_value *tc_cmd_list(tclient *c, const char *arg0, ...);
#define tc_cmd(c, ...) tc_cmd_list((c), __VA_ARGS__, (const char *)NULL)
/* Sends raw bytes (malformed frames, pipelines, inline commands). 0 or -1. */
int tc_send_raw(tclient *c, const void *buf, size_t len);
/* Reads the next reply; NULL on EOF, timeout or error. */
resp_value *tc_read(tclient *c);
/* 1 if the server closed the connection (read returned 0), else 0. */
int tc_eof(const tclient *c);
/* Why the last call failed ("" if it did not). */
const char *tc_error(const tclient *c);
/* The descriptor, for tests that poke at the socket (shutdown, SO_LINGER). */
int tc_fd(const tclient *c);
void tc_close(tclient *c);

/* Sends INFO SECTION (NULL: plain INFO) and returns a malloc'd copy of the
 * value in its "FIELD:value" line, or NULL if absent or on error. */
char *tc_info_field(tclient *c, const char *section, const char *field);
/* The value in line "FIELD:value" of INFO text TEXT[0..LEN), malloc'd, or
 * NULL if absent (for an INFO reply already read, e.g. from a pipeline). */
char *info_text_field(const char *text, size_t len, const char *field);
/* The same, looking only from the first line that starts with FROM (NULL:
 * the start): for a field that two sections of one INFO both have. */
char *info_text_field_from(const char *text, size_t len, const char *from, const char *field);

#endif
