/* chaos.c -- a seeded nemesis against a real three-node cluster.
 *
 *   chaos [--seconds S] [--seed N]        (tests/chaos.sh wraps it)
 *
 * Several writers pipeline SETs of unique keys to the leader and record the
 * outcome of every one (OK, error, or no reply = unknown). Meanwhile a
 * nemesis, driven by one seeded PRNG, injects a fault every 0.3-1.5 s:
 *   kill -9 a follower (restarted 1-3 s later), SIGSTOP a follower
 *   (SIGCONT 0.5-2.5 s later), delay / blackhole a follower's link through its
 *   fault proxy (healed later), flip a bit in a shipped record, and kill -9
 *   the leader (restarted at once; the writers of that generation end and a
 *   new generation starts).
 * At the end everything is healed, the cluster must converge, and then:
 *   - every write that got OK is present with its value on every node;
 *   - all digests are equal;
 *   - no process died that the nemesis did not kill;
 *   - no sanitizer report is in any log.
 * Prints the seed and a summary; exits 1 on any violation. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/workload.h"

#define CHAOS_WRITERS 3
#define CHAOS_GENERATIONS_MAX 64    /* leader restarts + 1 */
#define CHAOS_KEYS_PER_WRITER 2000000
#define CHAOS_CONVERGE_MS 120000
#define CHAOS_SECONDS_MAX 86400

enum fault { F_KILL, F_STOP, F_DELAY, F_BLACKHOLE, F_FLIP, F_KILL_LEADER, F_COUNT };
static const char *const fault_names[F_COUNT] = {"kill-follower", "stop-follower", "delay",
                                                 "blackhole",     "bitflip",       "kill-leader"};

typedef struct generation {
    wl_writer w[CHAOS_WRITERS];
    char prefix[CHAOS_WRITERS][32];
    int started;
} generation;

typedef struct heal {
    long long due_ms; /* 0: nothing pending */
    enum fault what;
} heal;

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static long rng_between(long lo, long hi)
{
    return lo + (long)(rng() % (uint64_t)(hi - lo + 1));
}

static int gen_start(generation *g, int gi, int port)
{
    for (int i = 0; i < CHAOS_WRITERS; i++) {
        snprintf(g->prefix[i], sizeof g->prefix[i], "g%dw%d:", gi, i);
        if (wl_writer_init(&g->w[i], port, g->prefix[i], CHAOS_KEYS_PER_WRITER, 16) < 0) return -1;
        g->w[i].error_pause_us = 20000;
        /* ~1.3k writes/s per writer: enough to keep every path busy, few
         * enough that a restart's recovery stays quick after ten minutes. */
        g->w[i].pace_us = 100000;
        if (wl_writer_start(&g->w[i]) < 0) return -1;
    }
    g->started = 1;
    return 0;
}

static void gen_stop(generation *g)
{
    for (int i = 0; i < CHAOS_WRITERS && g->started; i++) wl_writer_stop(&g->w[i]);
}

/* Applies a heal for follower K. */
static void do_heal(cluster *c, int k, enum fault what)
{
    char reply[256];
    switch (what) {
    case F_KILL:
        cl_start_node(c, k);
        break;
    case F_STOP:
        cl_signal(c, k, SIGCONT);
        break;
    case F_DELAY:
        cl_proxy(c, k, "delay 0", reply, sizeof reply);
        break;
    case F_BLACKHOLE:
        cl_proxy(c, k, "blackhole off", reply, sizeof reply);
        break;
    default:
        break;
    }
}

static int grep_file(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    char line[4096];
    int hit = 0;
    while (!hit && fgets(line, sizeof line, fp)) hit = strstr(line, needle) != NULL;
    fclose(fp);
    return hit;
}

int main(int argc, char **argv)
{
    long seconds = 60;
    unsigned long long seed = (unsigned long long)time(NULL);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0) seconds = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (seconds < 1 || seconds > CHAOS_SECONDS_MAX) {
        fprintf(stderr, "chaos: --seconds must be in [1, %d]\n", CHAOS_SECONDS_MAX);
        return 2;
    }
    rng_state = seed;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("chaos: seed %llu, %ld s\n", seed, seconds);
    cl_watchdog((unsigned)(seconds + CHAOS_CONVERGE_MS / 1000 + 120));

    cluster c;
    cl_opts o = CL_OPTS_DEFAULT;
    o.proxied = (1u << 1) | (1u << 2);
    o.follower_timeout_ms = 1000;
    o.quorum_timeout_ms = 2000;
    if (cl_start(&c, "chaos", &o) < 0 || !cl_wait_online(&c, 2, 10000)) {
        printf("chaos: cluster did not start\n");
        cl_stop(&c, 1);
        return 1;
    }

    static generation gens[CHAOS_GENERATIONS_MAX];
    int ngen = 0;
    if (gen_start(&gens[ngen++], 0, c.n[0].port) < 0) {
        printf("chaos: writers did not start\n");
        cl_stop(&c, 1);
        return 1;
    }
    long faults[F_COUNT] = {0};
    heal pending[CL_NODES] = {{0, F_KILL}};
    long long start = proc_now_ms(), end = start + seconds * 1000;
    long long next_fault = start + rng_between(300, 1500);
    int violations = 0;

    while (proc_now_ms() < end) {
        long long now = proc_now_ms();
        for (int k = 1; k < CL_NODES; k++)
            if (pending[k].due_ms && now >= pending[k].due_ms) {
                do_heal(&c, k, pending[k].what);
                pending[k].due_ms = 0;
            }
        /* A process that died without our doing is a bug. */
        for (int i = 0; i < CL_NODES; i++)
            if (c.n[i].pid > 0 && !c.n[i].stopped && proc_exited(c.n[i].pid) >= 0) {
                printf("chaos: node %d (pid %d) died on its own\n", c.n[i].id, (int)c.n[i].pid);
                c.n[i].pid = 0;
                violations++;
            }
        if (now < next_fault) {
            usleep(20000); /* the nemesis's tick; the system under test never waits on it */
            continue;
        }
        next_fault = now + rng_between(300, 1500);
        enum fault f = (enum fault)(rng() % F_COUNT);
        int k = (int)rng_between(1, CL_FOLLOWERS);
        char cmd[64], reply[256];
        if (f == F_KILL_LEADER) {
            if (ngen == CHAOS_GENERATIONS_MAX) continue;
            faults[f]++;
            printf("chaos: t=%llds kill -9 leader\n", (now - start) / 1000);
            cl_signal(&c, 0, SIGKILL);
            gen_stop(&gens[ngen - 1]);
            if (cl_start_node(&c, 0) < 0) {
                printf("chaos: leader did not restart\n");
                violations++;
                break;
            }
            if (gen_start(&gens[ngen], ngen, c.n[0].port) < 0) {
                printf("chaos: writers did not restart\n");
                violations++;
                break;
            }
            ngen++;
            continue;
        }
        if (pending[k].due_ms) continue; /* one fault per follower at a time */
        faults[f]++;
        printf("chaos: t=%llds %s node %d\n", (now - start) / 1000, fault_names[f], c.n[k].id);
        switch (f) {
        case F_KILL:
            cl_signal(&c, k, SIGKILL);
            pending[k] = (heal){now + rng_between(1000, 3000), F_KILL};
            break;
        case F_STOP:
            cl_signal(&c, k, SIGSTOP);
            pending[k] = (heal){now + rng_between(500, 2500), F_STOP};
            break;
        case F_DELAY:
            snprintf(cmd, sizeof cmd, "delay %ld", rng_between(5, 80));
            cl_proxy(&c, k, cmd, reply, sizeof reply);
            pending[k] = (heal){now + rng_between(500, 3000), F_DELAY};
            break;
        case F_BLACKHOLE:
            cl_proxy(&c, k, "blackhole on", reply, sizeof reply);
            pending[k] = (heal){now + rng_between(500, 3000), F_BLACKHOLE};
            break;
        case F_FLIP:
            snprintf(cmd, sizeof cmd, "fliprec %ld %ld", rng_between(0, 200), rng_between(0, 7));
            cl_proxy(&c, k, cmd, reply, sizeof reply);
            break;
        default:
            break;
        }
    }

    /* Heal everything, stop writing, converge. */
    for (int k = 1; k < CL_NODES; k++)
        if (pending[k].due_ms) do_heal(&c, k, pending[k].what);
    char reply[256];
    for (int k = 1; k < CL_NODES; k++) {
        cl_proxy(&c, k, "delay 0", reply, sizeof reply);
        cl_proxy(&c, k, "blackhole off", reply, sizeof reply);
    }
    gen_stop(&gens[ngen - 1]);
    long long heal_at = proc_now_ms();
    int converged = cl_wait_online(&c, 2, CHAOS_CONVERGE_MS) &&
                    cl_wait_caught_up(&c, CHAOS_CONVERGE_MS) && cl_converged(&c);
    long long converge_ms = proc_now_ms() - heal_at;
    if (!converged) {
        printf("chaos: the cluster did not converge within %d ms\n", CHAOS_CONVERGE_MS);
        violations++;
    }

    /* Every acknowledged write, on every node. */
    long ok = 0, failed = 0, unknown = 0;
    for (int g = 0; g < ngen; g++)
        for (int i = 0; i < CHAOS_WRITERS; i++) {
            wl_writer *w = &gens[g].w[i];
            long sent = atomic_load(&w->sent);
            for (long j = 0; j < sent; j++) {
                if (w->outcome[j] == WL_OK) ok++;
                else if (w->outcome[j] == WL_ERR) failed++;
                else unknown++;
            }
            for (int n = 0; n < CL_NODES; n++) {
                tclient *t = cl_connect(&c, n);
                char who[32];
                snprintf(who, sizeof who, "node %d", c.n[n].id);
                long bad = t ? wl_verify(t, who, gens[g].prefix[i], 0, sent, w->outcome, 16) : -1;
                if (bad != 0) {
                    printf("chaos: %s: %ld acknowledged writes of %s missing or wrong\n", who,
                           bad, gens[g].prefix[i]);
                    violations++;
                }
                tc_close(t);
            }
        }

    static const char *const sanitizer_marks[] = {"AddressSanitizer", "LeakSanitizer",
                                                  "ThreadSanitizer", "runtime error:"};
    for (int n = 0; n < CL_NODES; n++)
        for (size_t s = 0; s < sizeof sanitizer_marks / sizeof sanitizer_marks[0]; s++)
            if (grep_file(c.n[n].log, sanitizer_marks[s])) {
                printf("chaos: %s in %s\n", sanitizer_marks[s], c.n[n].log);
                violations++;
            }

    long total_faults = 0;
    printf("chaos: seed %llu: writes ok=%ld failed=%ld unknown=%ld; faults:", seed, ok, failed,
           unknown);
    for (int f = 0; f < F_COUNT; f++) {
        printf(" %s=%ld", fault_names[f], faults[f]);
        total_faults += faults[f];
    }
    printf("; converged in %lld ms\n", converge_ms);
    int unclean = cl_stop(&c, violations > 0);
    if (unclean) {
        printf("chaos: %d node(s) did not stop cleanly\n", unclean);
        violations++;
    }
    for (int g = 0; g < ngen; g++)
        for (int i = 0; i < CHAOS_WRITERS; i++) wl_writer_free(&gens[g].w[i]);
    printf("%d passed, %d failed\n", violations ? 0 : 1, violations ? 1 : 0);
    (void)total_faults;
    return violations ? 1 : 0;
}
