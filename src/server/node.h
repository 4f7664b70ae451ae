/* node.h -- one rkv node: its configuration, store, WAL, event loop,
 * clients and replication state, all in one struct (no globals), so several
 * nodes can run in one process (tests/repl_full_test.c does).
 *
 * The write path (docs/ARCHITECTURE.md has the picture):
 *   client SET -> record encoded once (LSN, epoch, HLC timestamp)
 *             -> appended to the pending log (records not yet applied)
 *             -> handed to the WAL thread (write + fdatasync, group commit)
 *             -> shipped to followers (leader)
 *   commit_lsn = min(durable_lsn, LSN acknowledged by Q followers)
 *   records up to commit_lsn are applied to the KV store, and only then are
 *   the writers' replies sent. Reads therefore see only committed data: a
 *   value read from rkv is durable on the leader and Q followers.
 * A follower runs the same path with commit_lsn = min(its durable_lsn, the
 * leader's commit and match LSNs from COMMIT frames): it applies only what
 * the leader said is committed. Records recovered above the commit hint wait
 * in the pending log the same way. */
#ifndef RKV_NODE_H
#define RKV_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/hlc.h"
#include "common/log.h"
#include "kv/kv_store.h"
#include "net/ev.h"
#include "net/iobuf.h"
#include "net/resp.h"
#include "repl/repl_auth.h"
#include "repl/repl_elect.h"
#include "server/config.h"
#include "server/keyspace.h"
#include "server/node_mem.h"
#include "server/obs.h"
#include "wal/wal_checkpoint.h"
#include "wal/wal_thread.h"
#include "wal/wal_record.h"
#include "wal/wal_writer.h"

typedef struct node node;

/* Largest epoch a node takes or accepts: far beyond any real count of
 * elections, and far enough below 2^64 that epoch + 1 never wraps. */
#define NODE_EPOCH_MAX (1ull << 62)
/* A write to a leader without its quorum waits for its followers to
 * connect, up to this long after it started leading (commands.c). */
#define NODE_QUORUM_GRACE_MS 2000
#define NODE_SCRIPTS_MAX 16 /* SHA-1s of known scripts remembered (cmd_script.c) */
#define NODE_STATUS_MAX 256 /* the readiness status line (node_ready.c) */
typedef struct client client;
struct repl_leader;
struct repl_follower;
struct repl_voter;
struct repl_vote;
struct repl_vote_resp;
struct info_buf;

/* A write waiting for its commit: the reply owed to CLIENT once every record
 * FIRST..LAST is committed. Kept in a FIFO in LSN order, so one commit
 * advance releases every ticket at or below it without scanning waiters. */
#define TICKET_INLINE 24 /* replies this short live in the ticket itself */
typedef struct ticket {
    client *c; /* NULL once the client has gone */
    uint64_t first_lsn, last_lsn;
    uint64_t deadline_ms;
    uint32_t len;  /* the reply, computed when the command ran */
    int obs_cmd;   /* the command's obs_cmdstat slot (-1 none) ... */
    uint64_t obs_t0_us; /* ... and its dispatch time: rkv's time to reply (obs.h) */
    char *heap;    /* it, when longer than TICKET_INLINE */
    char inl[TICKET_INLINE];
} ticket;


/* One rate limiter per kind of message that a peer, a client, the disk or
 * the clock can make repeat (common/log.h). */
enum node_limit {
    NL_FUTURE_RECORD,  /* records stamped beyond --max-clock-offset-ms */
    NL_REPL_REFUSED,   /* replication connections refused (follower) */
    NL_REPL_BAD_INPUT, /* bad frames and records from the leader */
    NL_LINK,           /* follower links refused / failing (leader) */
    NL_CATCHUP,        /* catch-up reads that fail */
    NL_QUORUM,         /* writes that timed out waiting for a quorum */
    NL_ACCEPT,         /* accept(2) failures */
    NL_CLIENT,         /* clients dropped for their input */
    NL_DISK,           /* retried disk operations (hint, WAL restarts) */
    NL_SNAPSHOT,       /* snapshot transfers refused (size, disk) */
    NL_REPL_AUTH,      /* replication / vote connections that failed the secret handshake */
    NL_AUTH,           /* failed AUTH / HELLO AUTH (peer and user, never the password) */
    NL_TLS,            /* TLS handshakes of clients that fail or time out */
    NL_TLS_REPL,       /* TLS handshakes of replication / vote connections accepted that fail */
    NL_TLS_DIAL,       /* TLS handshakes of links and vote connections this node dials that fail */
    NL_COUNT
};

typedef struct node_stats {
    uint64_t connections_received;
    uint64_t connections_rejected;
    uint64_t commands_processed;
    uint64_t writes_committed;
    uint64_t writes_rejected;
    uint64_t quorum_timeouts;
    uint64_t protocol_errors;
    uint64_t clients_dropped_output;
    uint64_t clients_dropped_input;
    uint64_t clients_dropped_memory;  /* --maxmemory-clients */
    uint64_t clients_timed_out;       /* --timeout, --auth-timeout-ms, --request-timeout-ms */
    uint64_t clients_evicted;         /* a slot taken back for a new connection */
    uint64_t accept_emfile;           /* accept(2) found no descriptor */
    uint64_t records_rejected_crc; /* follower */
    uint64_t future_records;       /* timestamps beyond max clock skew */
    uint64_t wal_corruptions;      /* damaged WAL found at run time (catch-up reads) */
    uint64_t repl_auth_failures;   /* replication / vote connections refused: no or wrong proof
                                      of the cluster secret, or not loopback without one */
    uint64_t auth_failures;        /* failed AUTH / HELLO AUTH */
    uint64_t acl_denied_cmd;       /* -NOPERM: a command the user may not run */
    uint64_t acl_denied_key;       /* -NOPERM: a key outside the user's patterns */
    uint64_t evicted_keys;         /* deleted by --maxmemory-policy (leader) */
    uint64_t oom_rejected;         /* writes refused with -OOM (--maxmemory) */
    uint64_t start_ms;
} node_stats;

struct node {
    node_config cfg;
    rkv_log log;
    ev_loop *loop;
    kv_store *kv;
    wal_writer *wal;
    wal_thread *walt;
    hlc clock;
    int lfd;   /* client listener */
    int port;  /* bound client port */
    int tls_lfd;  /* TLS client listener (--tls-port), or -1 */
    int tls_port; /* its bound port (0: none) */
    struct tls_ctx *tls_clients; /* --tls-port: server side for clients, or NULL */
    struct tls_ctx *tls_repl;    /* --tls-replication: mutual TLS for links and votes, or NULL */
    int stop_fd; /* eventfd: node_request_stop from any thread */
    int stopping;

    uint64_t epoch;
    uint64_t last_lsn;    /* last LSN assigned / received */
    uint64_t last_rec_epoch; /* epoch of record last_lsn (0: none) */
    uint64_t durable_lsn; /* fsynced on this node */
    uint64_t commit_lsn;  /* leader: durable here and on Q followers */
    uint64_t applied_lsn; /* applied to kv (== commit_lsn after apply) */
    uint64_t snapshot_lsn;   /* newest checkpoint on disk (0: none) */
    /* Commit hint: a lower bound of the cluster's commit LSN, kept in
     * <data-dir>/commit (written at most every 100 ms and at stop; stale is
     * safe, too high never is: it is only ever a value commit_lsn had). A
     * log that ends below it has lost committed records. */
    uint64_t commit_hint, hint_written;
    uint64_t hint_written_ms;
    int hint_fd; /* the commit hint file, kept open for the periodic pwrite (-1: closed) */
    /* Reads are served only from applied_lsn >= served_lsn's floor: after
     * a rebuild from an older snapshot the node answers reads with -LOADING
     * until it is back where it was, so reads never go backwards. */
    uint64_t served_lsn;  /* highest LSN ever applied by this process */
    uint64_t read_floor;  /* reads wait until applied_lsn >= read_floor */
    /* Fenced: this node must not lead (its log lacks committed records);
     * writes and reads are refused with the reason. */
    int fenced;
    uint64_t fence_need; /* the log must reach this LSN (0: an operator must act) */
    char fence_reason[CFG_PATH_MAX + 256];
    uint64_t applied_epoch, applied_ts; /* of record applied_lsn */
    int ckpt_pid;            /* checkpoint child running, or 0 */
    uint64_t ckpt_lsn, ckpt_epoch, ckpt_ts; /* what the child is writing */
    uint64_t ckpt_applied_ts; /* timestamp of record ckpt_lsn */
    uint64_t ckpt_wal_bytes; /* node_wal_written() when the last checkpoint started */
    uint64_t checkpoints_done, checkpoints_failed;
    int wal_failed;
    uint64_t wal_failures;              /* times the WAL failed since start */
    uint64_t wal_retry_at, wal_retry_ms; /* next retry of a failed WAL, backoff */
    char wal_error[256];
    char wal_corruption[256]; /* the last damage found at run time ("" none) */

    iobuf pending; /* encoded records applied_lsn+1 .. last_lsn */
    keyspace ks;   /* what commands read, and the unit their writes become (keyspace.h) */
    ticket *tickets;
    size_t tk_head, tk_len, tk_cap; /* ring */

    client *clients; /* doubly linked, newest first */
    size_t nclients;
    size_t nunauth;        /* clients not (yet) authenticated */
    size_t client_mem;     /* every client's buffers (client.mem), for --maxmemory-clients */
    uint64_t listen_paused_until; /* accept(2) ran out of descriptors: listener off until */
    uint64_t clients_scan_ms;
    client *flush_head; /* clients with output to write this iteration */
    client *blocked;    /* clients in WAIT / WAITLSN (singly linked via wnext) */
    uint64_t next_client_id;
    /* CLIENT PAUSE (client.c): until pause_until_ms, commands of every
     * client (CLIENT_PAUSE_ALL) or its writes (CLIENT_PAUSE_WRITE) wait. */
    uint64_t pause_until_ms;
    int pause_kind;
    uint8_t *scratch;   /* encode buffer, WAL_RECORD_MAX */

    struct repl_leader *leader;     /* role leader */
    struct repl_follower *follower; /* role follower; elected: always (the
                                       replication listener takes votes too) */
    int repl_port;                  /* bound replication port (follower) */
    uint64_t lead_since_ms;         /* when repl_leader was last started */

    /* Elections (--peers; node_elect.c). el is the pure state machine;
     * the node persists (epoch, voted_for) in <data-dir>/epoch before acting
     * on its output, and turns became_leader / stepped_down into starting
     * and stopping repl_leader. */
    elect el;
    uint64_t vote_epoch;       /* (epoch, voted_for) as last persisted */
    unsigned vote_for;
    struct repl_voter *voter;  /* the candidate's vote connections */
    uint64_t epoch_start_lsn;  /* elected leader: its epoch-start record (0: none) */
    unsigned transfer_to;      /* FAILOVER in progress: the chosen follower (0: none) */
    uint64_t transfer_deadline_ms;
    int transfer_sent;         /* TIMEOUT_NOW sent */
    unsigned known_leader;     /* the leader of our epoch, once heard from or elected */
    unsigned published_leader; /* the last one announced by +switch-master */
    char published_host[CFG_HOST_MAX];
    int published_port;
    /* Fixed topology, follower: the leader it followed in `epoch` (persisted
     * with it): a second node claiming the same epoch is refused. */
    unsigned epoch_leader;
    uint64_t leader_changes, last_leader_change_ms;
    char last_change_why[64];

    struct acl *acl; /* users and their rights (acl.h): this node's own */
    /* SCRIPT LOAD / EVAL of the known scripts (cmd_script.c): SHA-1 -> which. */
    struct {
        char sha[41];
        int id;
    } scripts[NODE_SCRIPTS_MAX];
    size_t nscripts;

    node_stats stats;
    node_mem mem; /* used_memory, RSS (node_mem.c) */
    obs_state obs; /* command stats, SLOWLOG, LATENCY, MONITOR (obs.h) */
    log_limit limits[NL_COUNT];
    log_by_source refusals; /* refused connections and failed handshakes, once per source */
    /* --cluster-secret-file (repl_auth.h); len 0: none, replication only
     * from loopback. */
    repl_secret secret;
    uint64_t max_clock_offset_seen_us; /* largest lead of a record's timestamp on our clock */

    /* Storage (docs/ARCHITECTURE.md, "Data directory layout"): the WAL and
     * checkpoints live in one generation directory, <data-dir>/gen-<gen>,
     * named by <data-dir>/CURRENT; gen 0 is the old layout (storage directly
     * in <data-dir>, no CURRENT). LOCK and epoch stay in <data-dir>. */
    int lock_fd;                        /* flock'd <data-dir>/LOCK, or -1 */
    uint64_t gen;
    char store_dir[CFG_PATH_MAX + 32];  /* where the WAL and checkpoints are */
    uint64_t wal_removed_bytes;         /* WAL bytes removed since start */

    /* Readiness (node_ready.c): the hook hears once when the node first
     * serves, then whenever its status line changes (main.c: sd_notify). */
    struct {
        void (*fn)(void *arg, const char *status);
        void *arg;
        int told;              /* the hook has heard "ready" */
        int link_was_up;       /* follower: its leader link was up at the last cron */
        uint64_t catchup_lsn;  /* follower: the leader's last LSN when the link came up */
        char status[NODE_STATUS_MAX];
    } ready;
};

/* Creates a node: recovers the data directory, opens the WAL, starts the WAL
 * thread and the listeners. NULL + message on failure. */
node *node_new(const node_config *cfg, char *err, size_t errlen);
/* Runs the loop until node_request_stop (or a fatal error). 0 or -1. */
int node_run(node *n);
/* One loop iteration (for tests that drive several nodes in one thread). */
int node_run_once(node *n, int timeout_ms);
/* Thread-safe and async-signal-safe: asks the loop to stop. */
void node_request_stop(node *n);
/* Flushes acknowledged state, closes the WAL, frees everything. */
void node_free(node *n);

/* ---- used by the server and replication modules ---- */

/* Encodes and appends R (op, flags, db, expiry, key, value set by the
 * caller), authored here: fills in its LSN, epoch, timestamp and node id.
 * Returns the LSN, or 0 if it could not be buffered. */
uint64_t node_propose_rec(node *n, wal_rec *r);
/* Encodes and appends one record authored here (leader). Returns its LSN, or
 * 0 if it could not be buffered (out of memory / too much pending). */
uint64_t node_propose(node *n, uint8_t op, const uint8_t *key, uint32_t klen,
                      const uint8_t *val, uint32_t vlen);
/* Makes sure records totalling BYTES (sum of wal_record_size) can be
 * proposed now without any of them failing: within max-pending-bytes, and
 * memory reserved. A multi-key write calls it first, so it is proposed whole
 * or refused whole. 0 or -1. */
int node_propose_reserve(node *n, size_t bytes);
/* Appends one already-encoded, CRC-verified record (follower). 0 or -1. */
int node_append_encoded(node *n, const uint8_t *rec, size_t len, const wal_rec *r);
/* Recomputes commit_lsn and applies / replies up to it. */
void node_advance_commit(node *n);
/* A follower acknowledged more: the commit may move, and WAIT clients
 * counting replicas may be answered. */
void node_on_acked(node *n);
/* Queues REPLY (LEN bytes, computed now) owed to C once records up to LAST
 * are committed. LAST >= every earlier ticket's. */
int node_add_ticket(node *n, client *c, uint64_t first, uint64_t last, const char *reply,
                    size_t len);
/* Detaches a closing client from its owed replies. */
void node_forget_client(node *n, client *c);
/* Starts a checkpoint of the applied state in a forked child (the loop goes
 * on; copy-on-write keeps the child's view fixed). 0 started or running,
 * -1 failed to fork. */
int node_checkpoint_start(node *n);
/* Replaces the whole state with the checkpoint file at TMP_PATH (follower
 * snapshot install). KV holds that file's state, already loaded and verified
 * (wal_checkpoint_load, INFO its header), and is owned by the node from now
 * on. A running checkpoint child is killed first; the file then becomes the
 * only content of a new storage generation, which CURRENT is switched to
 * atomically before the old one is removed, so a crash at any point leaves
 * either the whole old state or the whole new one. 0, or -1 + message with
 * the old state intact and running (KV freed). */
int node_install_snapshot(node *n, const char *tmp_path, kv_store *kv,
                          const wal_checkpoint_info *info, char *err, size_t errlen);
/* Bytes ever appended to the WAL of this incarnation, removed segments
 * included: monotonic, unlike the live WAL size. */
uint64_t node_wal_written(node *n);
/* What is on this node's disk right now, as INFO reports it: the WAL
 * thread's durable LSN, which can be ahead of n->durable_lsn (the loop's
 * copy, updated when it handles the thread's eventfd). A follower ACKs from
 * the WAL thread, so a client can hold an OK whose record the follower's loop
 * has not yet heard is durable; reporting the loop's copy would then show a
 * quorum member "behind" an acknowledged write. Never above last_lsn. */
uint64_t node_durable_now(node *n);
/* Drops this node's records after LSN (a follower's uncommitted divergent
 * tail; LSN >= applied_lsn): the WAL is stopped, cut (wal_truncate_after)
 * and reopened, the pending log trimmed. 0, or -1 + message with nothing
 * changed; a failure after the WAL was stopped aborts (restart recovers). */
int node_truncate_log(node *n, uint64_t lsn, char *err, size_t errlen);
/* Epoch of the record at LSN on this node: 1 found, 0 not held. */
int node_record_epoch(node *n, uint64_t lsn, uint64_t *epoch);
/* Persists EPOCH in DIR/epoch (temp file, fsync, rename, fsync dir). */
int node_epoch_store(const char *dir, uint64_t epoch, char *err, size_t errlen);
/* Stops this node from leading: logs REASON once, refuses writes and reads
 * with it, and the replication links refuse followers (so no follower is
 * ever rebuilt from a log that lacks committed records). */
void node_fence(node *n, const char *reason);
/* The same, lifted by itself once the log reaches lsn NEED (records given
 * back by a follower, repl_ship.c); NEED only ever rises. */
void node_fence_until(node *n, uint64_t need, const char *reason);
/* Lifts a fence whose NEED the log has reached. */
void node_unfence_check(node *n);
/* Is the read refusal a leader's transient one (its epoch-start record or
 * its lease not confirmed yet)? Such a read waits instead of failing. */
int node_read_transient(const node *n);
/* Why a read cannot be served now (NULL: it can). */
const char *node_read_refusal(const node *n, char *buf, size_t len);
/* ---- elections (node_elect.c) ---- */
/* Loads (epoch, voted_for), starts the state machine and the voter. */
int node_elect_init(node *n, char *err, size_t errlen);
void node_elect_free(node *n);
void node_elect_cron(node *n, uint64_t now);
/* Before sleeping: steps down if a follower reported a later epoch. */
void node_elect_settle(node *n);
/* Called by replication: a frame from leader LEADER of EPOCH. 0: it is our
 * leader now; -1: stale (the caller answers STALE and closes). */
int node_elect_on_leader(node *n, uint64_t epoch, unsigned leader);
/* A (pre)vote request: 0 and *RESP to send, or -1 (no answer). */
int node_elect_on_vote_req(node *n, const struct repl_vote *req, struct repl_vote_resp *resp);
void node_elect_on_vote_resp(node *n, const struct repl_vote_resp *resp);
/* TIMEOUT_NOW of EPOCH from our leader (ignored unless EPOCH is ours). */
void node_elect_timeout_now(node *n, uint64_t epoch);
void node_elect_on_ack(node *n, unsigned id, uint64_t beat_ms);
void node_elect_on_link_lost(node *n, unsigned id);
unsigned node_elect_leader_id(const node *n);
/* FAILOVER [TO id] [TIMEOUT ms] / FAILOVER ABORT: 0, or -1 + message. */
int node_failover(node *n, unsigned to, uint64_t timeout_ms, int abort_it, char *err,
                  size_t errlen);
/* INFO fields of the election (epoch, leader, last election, counters). */
void node_elect_info(node *n, struct info_buf *b);
/* Persists (EPOCH, VOTED_FOR) in DIR/epoch (fsync). */
int node_vote_store(const char *dir, uint64_t epoch, unsigned voted_for, char *err,
                    size_t errlen);
int node_vote_load(const char *dir, uint64_t *epoch, unsigned *voted_for);
/* Fails every write waiting for its commit with the error WHY (the leader
 * stepped down: their outcome is unknown). */
void node_fail_tickets(node *n, const char *why);

/* Does this node take writes now (the fixed leader, or elected)? */
int node_is_leader(const node *n);
/* Is ID the leader of our current epoch as far as we know (a follower's
 * last HELLO may be from a leader that has since lost the epoch)? */
int node_leader_known(const node *n, unsigned id);
/* The client address this node announces (--announce-host/-port, else its
 * bind address and bound port) into HOST; returns the port. */
uint16_t node_announce(const node *n, char *host, size_t hostlen);
/* Bytes of pending (unapplied) records. */
size_t node_pending_bytes(const node *n);

/* ---- readiness (node_ready.c) ---- */
/* FN(ARG, status) is called from the loop once when the node first becomes
 * ready, then each time its status line changes (ready or not). */
void node_set_ready_hook(node *n, void (*fn)(void *arg, const char *status), void *arg);
/* From node_cron: decides readiness and calls the hook. */
void node_ready_cron(node *n);
/* Does the node serve now: a leader with a write quorum of followers
 * connected, a follower connected to its leader and caught up? */
int node_is_ready(const node *n);
/* Takes the data directory's lock on FD (LOCK, flock exclusive,
 * nonblocking): 0, or the errno, with the holder's pid as written in the
 * file (or "") in PID. Shared by start-up and the offline checks. */
int node_dir_trylock(int fd, char *pid, size_t pidlen);
/* The status line into BUF ("leader (epoch 3), 2/2 followers connected",
 * "follower of node 1 (epoch 3)"); returns node_is_ready. */
int node_ready_status(const node *n, char *buf, size_t len);

#endif
