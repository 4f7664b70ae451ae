/* node_ready.c -- when a node is ready to serve, and the one-line status
 * that says why (or why not): what systemd's READY=1 and STATUS= carry
 * (main.c, sdnotify.h), and what INFO can show.
 *
 * Ready means a client sent here gets served:
 *   - a leader (elected or fixed) once enough followers are connected for a
 *     write quorum (at once when it has none configured), and it may answer
 *     reads (node_read_refusal: an elected leader's epoch-start record is
 *     committed and its lease holds);
 *   - a follower once its link to a leader it accepts is up, no snapshot is
 *     being loaded, and its log has reached the LSN the leader had when the
 *     link came up (caught up, not merely connected);
 *   - never while fenced or while its WAL has failed.
 *
 * Why it is shaped so: the decision is a pure function of the node
 * (node_is_ready, also for INFO); node_ready_cron, called from the node's
 * 10 ms cron, only remembers what it needs between ticks (the catch-up
 * target) and calls the hook: once when the node first becomes ready, then
 * only when the status line changes (a role change, a follower lost or
 * back), so the hook is not called every tick. The status text holds no
 * counters that move with every write. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "repl/repl.h"
#include "server/node.h"

void node_set_ready_hook(node *n, void (*fn)(void *arg, const char *status), void *arg)
{
    n->ready.fn = fn;
    n->ready.arg = arg;
}

/* Follower: the leader it follows, if one is known and its link is up. */
static int ready_leader(const node *n, repl_peer_info *p)
{
    if (!n->follower || !repl_follower_leader(n->follower, p)) return 0;
    return node_leader_known(n, p->id) && p->online;
}

static int ready_followers_configured(const node *n)
{
    return n->cfg.elected ? n->cfg.nmembers - 1 : n->cfg.nfollowers;
}

/* 1 ready, 0 not; STATUS (may be NULL) gets the line either way. */
static int ready_eval(const node *n, char *status, size_t len)
{
    char buf[NODE_STATUS_MAX], why[CFG_PATH_MAX + 320];
    if (!status) {
        status = buf;
        len = sizeof buf;
    }
    if (n->fenced) {
        snprintf(status, len, "fenced: %.200s", n->fence_reason);
        return 0;
    }
    if (n->wal_failed) {
        snprintf(status, len, "WAL failed, retrying: %.200s", n->wal_error);
        return 0;
    }
    if (node_is_leader(n)) {
        int want = ready_followers_configured(n);
        int online = n->leader ? repl_leader_online(n->leader) : 0;
        if (want == 0) {
            snprintf(status, len, "leader (epoch %" PRIu64 "), no followers", n->epoch);
            return 1;
        }
        int quorum_ok = online >= n->cfg.quorum;
        const char *refusal = node_read_refusal(n, why, sizeof why);
        snprintf(status, len, "leader (epoch %" PRIu64 "), %d/%d followers connected%s%s",
                 n->epoch, online, want,
                 !quorum_ok ? ": below the write quorum" : refusal ? ": " : "",
                 quorum_ok && refusal ? "confirming its leadership" : "");
        return quorum_ok && !refusal;
    }
    repl_peer_info p;
    if (!ready_leader(n, &p)) {
        if (n->cfg.elected && n->el.role != EL_FOLLOWER)
            snprintf(status, len, "%s (epoch %" PRIu64 "), no leader", elect_role_str(n->el.role),
                     n->epoch);
        else
            snprintf(status, len, "follower (epoch %" PRIu64 "), no leader connected", n->epoch);
        return 0;
    }
    if (repl_follower_installing(n->follower)) {
        snprintf(status, len, "follower of node %u (epoch %" PRIu64 "), loading a snapshot", p.id,
                 n->epoch);
        return 0;
    }
    if (n->durable_lsn < n->ready.catchup_lsn || node_read_refusal(n, why, sizeof why)) {
        snprintf(status, len, "follower of node %u (epoch %" PRIu64 "), catching up", p.id,
                 n->epoch);
        return 0;
    }
    snprintf(status, len, "follower of node %u (epoch %" PRIu64 ")", p.id, n->epoch);
    return 1;
}

int node_is_ready(const node *n)
{
    return ready_eval(n, NULL, 0);
}

int node_ready_status(const node *n, char *buf, size_t len)
{
    return ready_eval(n, buf, len);
}

void node_ready_cron(node *n)
{
    /* A follower is caught up once its log reaches what the leader had
     * when the link came up (the leader's last LSN from its HELLO). */
    repl_peer_info p;
    memset(&p, 0, sizeof p);
    int up = !node_is_leader(n) && ready_leader(n, &p);
    if (up && !n->ready.link_was_up) n->ready.catchup_lsn = p.acked;
    n->ready.link_was_up = up;
    if (!n->ready.fn) return;
    char status[NODE_STATUS_MAX];
    int ready = ready_eval(n, status, sizeof status);
    if (!n->ready.told && !ready) return; /* systemd waits for the first READY=1 */
    if (n->ready.told && strcmp(status, n->ready.status) == 0) return;
    n->ready.told = 1;
    snprintf(n->ready.status, sizeof n->ready.status, "%s", status);
    n->ready.fn(n->ready.arg, status);
}
