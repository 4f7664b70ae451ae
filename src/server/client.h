/* client.h -- one client connection: input buffer, parsed arguments, output
 * buffer and the state of a command waiting on a commit or a WAIT.
 *
 * Reply order under pipelining: a write's reply is owed until its records
 * commit (node.h). Further writes from the same client keep being processed
 * (their replies are owed too, in LSN order); the first non-write command
 * after an owed write makes the client wait until every owed reply has been
 * sent, so replies always leave in command order and a read after a write
 * sees that write. */
#ifndef RKV_CLIENT_H
#define RKV_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "net/resp.h"

typedef struct node node;
struct tls_conn;

#define CLIENT_READ_CHUNK (16 * 1024)   /* bytes read per read(2) at least */
#define CLIENT_ARGV_INIT 16
#define CLIENT_TICKETS_MAX 65536 /* owed write replies before input pauses */
#define CLIENT_NAME_MAX 128
#define CLIENT_LIB_MAX 128   /* CLIENT SETINFO LIB-NAME / LIB-VER, bytes */
#define CLIENT_CMD_NAME_MAX 32 /* last_cmd: "client|list" */
/* Abuse limits (docs/SECURITY.md, "Bad input and abuse"). */
#define CLIENT_UNAUTH_QUERY_MAX (16 * 1024) /* input an unauthenticated client may buffer */
#define CLIENT_OUT_PAUSE (4u << 20) /* unsent replies above this: stop running its commands */
#define CLIENT_SLOW_EVICT_MS 1000   /* when full, a request incomplete this long may be evicted */
#define CLIENT_SCAN_MS 100          /* timeouts and the memory limit are checked this often */
#define LISTEN_BACKOFF_MS 100       /* accept(2) out of descriptors: pause the listener */

enum client_wait { WAIT_NONE = 0, WAIT_REPLICAS, WAIT_LSN, WAIT_READ,
                   WAIT_SAVE, /* SAVE: until the checkpoint of wait_lsn is written (obs.c) */
                   WAIT_QUORUM /* a write in a new leader's first moments (commands.c) */ };
enum client_pause { CLIENT_PAUSE_OFF = 0, CLIENT_PAUSE_WRITE = 1, CLIENT_PAUSE_ALL = 2 };

typedef struct client {
    node *n;
    int fd;
    struct tls_conn *tls; /* accepted on --tls-port, else NULL (plain) */
    uint64_t id;
    char peer[64];
    char name[CLIENT_NAME_MAX];

    char *in;
    size_t in_len, in_cap, in_need; /* in_need: bytes required before parsing */
    resp_arg *argv;
    size_t argc, argv_cap;

    char *out;
    size_t out_len, out_sent, out_cap;

    uint32_t owed;           /* write replies owed (tickets outstanding) */
    uint64_t last_write_lsn; /* LASTLSN / WAIT */

    enum client_wait wait;
    uint64_t wait_lsn;
    int write_waited; /* WAIT_QUORUM ended: the write runs or is refused now */
    int read_waited; /* WAIT_READ ended: 1 timed out (the read answers the refusal),
                        2 the node stopped leading (it answers TRYAGAIN) */
    int wait_replicas;
    uint64_t wait_deadline_ms; /* 0: forever */

    int resp;      /* protocol: 2, or 3 after HELLO 3 (reply_* pick the RESP3 types) */
    unsigned db;   /* SELECT: the database the commands address */
    /* CLIENT REPLY OFF|SKIP: reply_* write nothing while silent is set.
     * client_process_input sets silent around each command_exec from
     * reply_off / reply_skip (reply_skip: the next command's reply is
     * dropped; CLIENT REPLY SKIP sets it to 2, "armed by this command", and
     * it becomes 1 after that command). A command whose reply is written
     * later (a write's ticket, a blocked WAIT) must keep silent for it. */
    int reply_off, reply_skip, silent;
    int no_evict;       /* CLIENT NO-EVICT on: never dropped by --maxmemory-clients */
    int monitor;        /* MONITOR: fed every command (obs.c), output bounded */
    int pause_blocked;  /* its next command waits for CLIENT PAUSE to end */
    char lib_name[CLIENT_LIB_MAX]; /* CLIENT SETINFO LIB-NAME ("" none) */
    char lib_ver[CLIENT_LIB_MAX];
    char last_cmd[CLIENT_CMD_NAME_MAX]; /* client_note_cmd: CLIENT LIST's cmd= ("" none yet) */
    struct multi_state *multi; /* MULTI ... EXEC queue and WATCHed keys (NULL: none) */
    size_t reply_mark; /* client_out_mark() when the running command started */
    int64_t cmd_lsn;   /* the running command's record: 0 none, -1 the pending log was full */

    const struct acl_user *user; /* logged in as (acl.h); NULL: "default" */
    int authed;                  /* AUTH / HELLO AUTH succeeded, or default is nopass */

    struct pubsub_sub *subs; /* channels and patterns, in subscription order (pubsub.h) */
    size_t nsubs;

    /* Until authed the client holds at most CLIENT_UNAUTH_QUERY_MAX of input
     * and is closed after --auth-timeout-ms; changed only through
     * client_set_authed (node->nunauth counts the others). */
    uint64_t created_ms;
    uint64_t ncmds;          /* commands run on this connection */
    uint64_t last_input_ms;  /* --timeout counts from here */
    uint64_t req_start_ms;   /* an incomplete request has been buffered since (0: none) */
    size_t mem;              /* in_cap + out_cap, counted in node->client_mem */
    int out_paused;          /* CLIENT_OUT_PAUSE of replies unsent: input waits */

    int close_asap;     /* drop now (limit exceeded, protocol error) */
    int drop_flush;     /* clients_drop_all: one last nonblocking write of queued
                           output before the close */
    int close_after;    /* QUIT: close once output is sent */
    int peer_closed;    /* read EOF: finish owed replies, then close */
    int in_flush;       /* on node->flush list */
    int reading;        /* EV_READ registered */
    struct client *prev, *next; /* node->clients */
    struct client *fnext;       /* node->flush_head list */
    struct client *wnext;       /* node->blocked list */
} client;

/* Timeouts (auth, idle, slow request), the all-clients memory limit and the
 * listener's backoff; from the node's cron. */
void clients_cron(node *n, uint64_t now_ms);
/* The authenticated / unauthenticated count changes (acl.c after AUTH). */
void client_set_authed(client *c, int authed);
/* Accept handler for a client listener: LFD is n->lfd or n->tls_lfd (the
 * connections it gives are TLS). */
void client_accept(node *n, int lfd);
/* Closes the TLS clients whose handshake is past its deadline (cron). */
void clients_expire_handshakes(node *n, uint64_t now_ms);
/* Frees every client (shutdown). */
void clients_free_all(node *n);
/* Closes every client connection except the subscribed (pub/sub) ones, as
 * Redis does on a role change so that clients resolve the leader again; the
 * subscribed ones stay, they are where Sentinel clients hear +switch-master.
 * Safe from any callback on the loop, a command of one of these clients
 * included: each connection is only marked here (no new replies, no more
 * input), and closed at the next safe point, the end of its own event
 * handler or clients_flush before the loop sleeps, after one last
 * nonblocking write of what it had queued. WHY goes to the log. */
void clients_drop_all(node *n, const char *why);
/* Writes pending output of every client on the flush list (before sleep). */
void clients_flush(node *n);
/* Marks C to have its output written before the loop sleeps. */
void client_want_flush(client *c);
/* Resumes parsing input after the client stopped waiting. */
void client_resume(client *c);
/* Called when a ticket of C is released (reply appended already). */
void client_ticket_done(client *c);
/* Records the command C runs now, for CLIENT LIST / INFO's cmd= field:
 * Redis's full name, lowercase ("get", "client|list" for a subcommand of a
 * container command). To be called by command_exec before the command runs. */
void client_note_cmd(client *c, const char *name);
/* RESET: back to a fresh connection's state, as Redis's
 * clearClientConnectionState: RESP2, no subscriptions, no name, CLIENT
 * REPLY ON, NO-EVICT off, logged out (back to "default"). Database and
 * MULTI state are the caller's (cmd_reset). */
void client_reset_conn(client *c);
/* CLIENT PAUSE: is the command in C->argv held back now (PAUSE ALL: every
 * command; PAUSE WRITE: the commands that write, and PUBLISH)? */
int client_pause_holds(const client *c);
/* CLIENT UNPAUSE, or the pause's end (cron): the held clients run again. */
void clients_unpause(node *n);

/* Recounts C's memory (buffers and MULTI queue) into node->client_mem. */
void client_mem_update(client *c);

/* Output marks: a position in the unsent replies that survives the buffer
 * being compacted. The running command's reply is what follows its mark. */
size_t client_out_mark(const client *c);
void client_out_rewind(client *c, size_t mark);
/* The bytes after MARK (valid until the next reply). */
const char *client_out_since(const client *c, size_t mark, size_t *len);

/* Reply builders. */
void reply_raw(client *c, const char *s, size_t len);
void reply_status(client *c, const char *s);
void reply_error(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(client *c, long long v);
void reply_bulk(client *c, const void *p, size_t len);
void reply_nil(client *c);
void reply_array(client *c, long long n);
/* RESP3-aware: the RESP3 type after HELLO 3, Redis's RESP2 form otherwise. */
void reply_null_array(client *c);            /* _  | *-1 */
void reply_map(client *c, long long pairs);  /* %n | *2n */
void reply_set(client *c, long long n);      /* ~n | *n */
void reply_push(client *c, long long n);     /* >n | *n */
void reply_bool(client *c, int v);           /* #t | :1 */
void reply_double(client *c, double d);      /* ,d | $ "%.17g" */
void reply_verbatim(client *c, const char *p, size_t len); /* =txt: | $ */

/* Command dispatch (commands.c): runs c->argv, or returns CMD_DEFERRED
 * without effect when the command must wait for owed write replies. */
enum { CMD_DONE = 0, CMD_DEFERRED = 1 };
int command_exec(client *c);
/* WAIT / WAITLSN: re-evaluates blocked clients (after acks, applies, cron). */
void clients_check_blocked(node *n, uint64_t now_ms);

#endif
