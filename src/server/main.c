/* main.c -- rkv-server: parse flags, build one node, run it until SIGTERM or
 * SIGINT, then stop cleanly (everything acknowledged is already durable; the
 * rest is flushed, the WAL closed, all memory freed).
 *
 * Around the node, for running under systemd (docs/OPERATIONS.md):
 * sd_notify (sdnotify.h) READY=1 once node_ready.c says the node serves,
 * STATUS= on every change, STOPPING=1 at shutdown, WATCHDOG=1 from a timer
 * on the node's loop; SIGHUP reopens --log-file (logrotate) on the loop,
 * between RELOADING=1 and READY=1. The signal handlers only write to an
 * eventfd or ask the node to stop; everything else runs on the loop.
 *
 * Instead of a node, the offline tools of check.h (--check-wal,
 * --check-snapshot, --restore), --check-config, --dump-config-sample and
 * --version run and exit. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include "common/version.h"
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "net/ev.h"
#include "server/check.h"
#include "server/config.h"
#include "server/node.h"
#include "server/sdnotify.h"

#define RKV_SERVER_VERSION RKV_VERSION
#define MAIN_ARGS_MAX 4096         /* command-line arguments accepted */

/* What main runs beside the node: the systemd side of it. */
typedef struct server {
    node *n;
    sdnotify sd;
    int hup_fd;      /* eventfd: SIGHUP arrived, the loop reopens the log */
    int wd_fd;       /* timerfd: WATCHDOG=1, or -1 */
    int ready_sent;  /* READY=1 has gone out */
    int hup_noted;   /* "SIGHUP ignored" was logged */
} server;

/* The one process-wide variable: a signal handler has no other way to find
 * the node. It is only read by the handlers. */
static server *volatile running;

static void on_signal(int sig)
{
    server *s = running;
    if (!s) return;
    if (sig == SIGHUP) {
        uint64_t one = 1;
        ssize_t r = write(s->hup_fd, &one, sizeof one); /* async-signal-safe */
        (void)r;
        return;
    }
    node_request_stop(s->n);
}

/* node_ready.c's hook: the first call is READY=1, later ones STATUS=. */
static void on_ready(void *arg, const char *status)
{
    server *s = arg;
    if (!s->ready_sent) {
        log_info(&s->n->log, "ready: %s", status);
        sdnotify_sendf(&s->sd, "READY=1\nSTATUS=%s\n", status);
        s->ready_sent = 1;
        return;
    }
    log_info(&s->n->log, "status: %s", status);
    sdnotify_sendf(&s->sd, "STATUS=%s\n", status);
}

static uint64_t mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* SIGHUP, on the loop: reopen --log-file where logrotate left a new one. */
static void on_hup(ev_loop *loop, int fd, void *data, unsigned events)
{
    server *s = data;
    node *n = s->n;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    if (s->ready_sent)
        sdnotify_sendf(&s->sd, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reopening the log\n",
                       mono_usec());
    if (!n->cfg.log_file[0]) {
        if (!s->hup_noted)
            log_info(&n->log, "SIGHUP ignored: no --log-file to reopen (logging to stderr)");
        s->hup_noted = 1;
    } else {
        char err[CFG_PATH_MAX + 128];
        if (log_reopen(&n->log, n->cfg.log_file, err, sizeof err) == 0)
            log_info(&n->log, "SIGHUP: reopened log file %s", n->cfg.log_file);
        else
            log_warn(&n->log, "SIGHUP: %s; still logging to the file opened before", err);
    }
    if (s->ready_sent) {
        char status[NODE_STATUS_MAX];
        node_ready_status(n, status, sizeof status);
        sdnotify_sendf(&s->sd, "READY=1\nSTATUS=%s\n", status);
    }
}

static void on_watchdog(ev_loop *loop, int fd, void *data, unsigned events)
{
    server *s = data;
    uint64_t ticks;
    ssize_t r = read(fd, &ticks, sizeof ticks);
    (void)r;
    sdnotify_send(&s->sd, "WATCHDOG=1\n");
}

/* Opens the notify socket, the SIGHUP eventfd and the watchdog timer on
 * the node's loop. A failure of the systemd side is logged and the node
 * runs without it; only the eventfd is required. */
static int server_attach(server *s, node *n, char *err, size_t errlen)
{
    s->n = n;
    s->wd_fd = -1;
    char why[256];
    if (sdnotify_open(&s->sd, getenv("NOTIFY_SOCKET"), getenv("WATCHDOG_USEC"),
                      getenv("WATCHDOG_PID"), &n->log, why, sizeof why) < 0)
        log_warn(&n->log, "sd_notify disabled: %s", why);
    s->hup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->hup_fd < 0 || ev_set(n->loop, s->hup_fd, EV_READ, on_hup, s) < 0) {
        snprintf(err, errlen, "eventfd for SIGHUP: %s", strerror(errno));
        return -1;
    }
    if (s->sd.watchdog_usec) {
        uint64_t half = s->sd.watchdog_usec / 2 ? s->sd.watchdog_usec / 2 : 1;
        struct itimerspec its = {
            .it_interval = {.tv_sec = (time_t)(half / 1000000u), .tv_nsec = (long)(half % 1000000u) * 1000},
        };
        its.it_value = its.it_interval;
        s->wd_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (s->wd_fd < 0 || timerfd_settime(s->wd_fd, 0, &its, NULL) < 0 ||
            ev_set(n->loop, s->wd_fd, EV_READ, on_watchdog, s) < 0) {
            log_warn(&n->log, "sd_notify: no watchdog timer: %s", strerror(errno));
            if (s->wd_fd >= 0) close(s->wd_fd);
            s->wd_fd = -1;
        } else {
            log_info(&n->log, "sd_notify: WATCHDOG=1 every %" PRIu64 " ms", half / 1000);
        }
    }
    node_set_ready_hook(n, on_ready, s);
    return 0;
}

static void server_detach(server *s)
{
    if (s->n) {
        if (s->wd_fd >= 0) ev_set(s->n->loop, s->wd_fd, 0, NULL, NULL);
        if (s->hup_fd >= 0) ev_set(s->n->loop, s->hup_fd, 0, NULL, NULL);
        node_set_ready_hook(s->n, NULL, NULL);
    }
    if (s->wd_fd >= 0) close(s->wd_fd);
    if (s->hup_fd >= 0) close(s->hup_fd);
    s->wd_fd = s->hup_fd = -1;
    sdnotify_close(&s->sd);
}

static void usage_tools(FILE *fp)
{
    fprintf(fp,
            "\nTools (run instead of a node, then exit):\n"
            "  --version                   print the version\n"
            "  --check-config              check the flags and --config file; exit 0 good, 2 bad\n"
            "  --dump-config-sample        print a config file with every option and its default\n"
            "  --check-wal DIR             verify data directory DIR offline (CURRENT, generation,\n"
            "                              checkpoints, every segment and record); exit 0 sound,\n"
            "                              1 torn tail (recovery would cut it), 3 damaged,\n"
            "                              4 cannot check (missing, unreadable, in use)\n"
            "  --fix                       with --check-wal: cut a torn tail, nothing else\n"
            "  --check-snapshot FILE       verify checkpoint FILE; exit 0 sound, 3 corrupt, 4 unreadable\n"
            "  --restore FILE              install checkpoint FILE as the whole state of the\n"
            "                              empty data directory (as given by --data-dir or the\n"
            "                              config file); exit 0 done, 3 bad checkpoint, 4 failed\n"
            "\nSignals: SIGTERM or SIGINT stop cleanly; SIGHUP reopens --log-file (logrotate).\n"
            "Under systemd (NOTIFY_SOCKET set) the server reports READY=1, STATUS=, RELOADING=1,\n"
            "STOPPING=1 and WATCHDOG=1 (Type=notify, WatchdogSec=).\n"
            "Exit status: 0 stopped cleanly, 1 could not start or failed, 2 bad flags.\n");
}

/* The tool flags main takes out of argv before config_parse_args. */
typedef struct tool_args {
    int help, version, check_config, dump_sample, fix;
    const char *check_wal, *check_snapshot, *restore;
} tool_args;

/* Splits ARGV into tool flags (*T) and node flags (OUT, room for ARGC + 1,
 * with argv[0]). Returns the count in OUT, or -1 + message. */
static int split_args(int argc, char **argv, tool_args *t, char **out, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int k = 0;
    out[k++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = strcmp(a, "--check-wal") == 0        ? &t->check_wal
                           : strcmp(a, "--check-snapshot") == 0 ? &t->check_snapshot
                           : strcmp(a, "--restore") == 0        ? &t->restore
                                                                : NULL;
        if (val) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag '%s' needs a value", a);
                return -1;
            }
            *val = argv[++i];
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            t->help = 1;
        } else if (strcmp(a, "--version") == 0) {
            t->version = 1;
        } else if (strcmp(a, "--check-config") == 0) {
            t->check_config = 1;
        } else if (strcmp(a, "--dump-config-sample") == 0) {
            t->dump_sample = 1;
        } else if (strcmp(a, "--fix") == 0) {
            t->fix = 1;
        } else {
            out[k++] = argv[i];
            /* A node flag's value is never taken for a tool flag. */
            if (strncmp(a, "--", 2) == 0 && !strchr(a, '=') && i + 1 < argc) out[k++] = argv[++i];
        }
    }
    out[k] = NULL;
    if (t->fix && !t->check_wal) {
        snprintf(err, errlen, "--fix goes with --check-wal DIR");
        return -1;
    }
    if (!!t->check_wal + !!t->check_snapshot + !!t->restore + t->dump_sample + t->check_config > 1) {
        snprintf(err, errlen, "give one of --check-wal, --check-snapshot, --restore, "
                              "--dump-config-sample, --check-config");
        return -1;
    }
    return k;
}

/* Runs the node until it is asked to stop. */
static int run_node(const node_config *cfg)
{
    char err[1024];
    signal(SIGPIPE, SIG_IGN);
    /* A SIGHUP during recovery (logrotate at the wrong moment) must not
     * kill the server: ignored until the loop can reopen the log. */
    signal(SIGHUP, SIG_IGN);
    node *n = node_new(cfg, err, sizeof err);
    if (!n) {
        fprintf(stderr, "rkv-server: cannot start: %s\n", err);
        return 1;
    }
    server s = {.hup_fd = -1, .wd_fd = -1};
    if (server_attach(&s, n, err, sizeof err) < 0) {
        fprintf(stderr, "rkv-server: cannot start: %s\n", err);
        server_detach(&s);
        node_free(n);
        return 1;
    }
    running = &s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int rc = node_run(n);
    sdnotify_send(&s.sd, "STOPPING=1\nSTATUS=stopping: flushing the WAL\n");
    log_info(&n->log, "shutting down");
    running = NULL;
    server_detach(&s);
    node_free(n);
    return rc == 0 ? 0 : 1;
}

static int main_run(int argc, char **argv, char **args)
{
    char err[1024];
    tool_args t;
    int nargs = split_args(argc, argv, &t, args, err, sizeof err);
    if (nargs < 0) {
        fprintf(stderr, "rkv-server: %s (see --help)\n", err);
        return 2;
    }
    if (t.help) {
        config_usage(stdout);
        usage_tools(stdout);
        return 0;
    }
    if (t.version) {
        printf("rkv-server %s\n", RKV_SERVER_VERSION);
        return 0;
    }
    if (t.dump_sample) return config_write_sample(stdout) == 0 && fflush(stdout) == 0 ? 0 : 1;
    if (t.check_wal) return check_wal_dir(t.check_wal, t.fix, stdout, stderr);
    if (t.check_snapshot) return check_snapshot_file(t.check_snapshot, stdout, stderr);
    node_config cfg;
    config_defaults(&cfg);
    int rc = config_parse_args(&cfg, nargs, args, err, sizeof err);
    if (rc == 1) return 0;
    if (rc < 0 || config_validate(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "rkv-server: %s (see --help)\n", err);
        return 2;
    }
    if (t.check_config) {
        printf("configuration OK: node %u, %s, data dir %s\n", cfg.node_id,
               cfg.elected ? "elected" : cfg.role == ROLE_LEADER ? "leader" : "follower",
               cfg.data_dir);
        return 0;
    }
    if (t.restore) return check_restore(t.restore, cfg.data_dir, stdout, stderr);
    return run_node(&cfg);
}

int main(int argc, char **argv)
{
    if (argc < 1 || argc > MAIN_ARGS_MAX) {
        fprintf(stderr, "rkv-server: more than %d arguments\n", MAIN_ARGS_MAX);
        return 2;
    }
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) {
        fprintf(stderr, "rkv-server: out of memory\n");
        return 1;
    }
    int rc = main_run(argc, argv, args);
    free(args);
    return rc;
}
