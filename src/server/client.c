/* client.c -- client connections: accept, read, parse, dispatch, reply.
 *
 * Input is read into a per-client buffer and parsed as RESP (or inline);
 * every complete command in the buffer is executed before the loop sleeps,
 * so pipelined commands cost one read. Replies are appended to a per-client
 * output buffer and written once per loop iteration (clients_flush, from the
 * before-sleep hook), so a pipeline of N commands costs one write.
 * Both buffers are bounded (query_buf_max, reply_buf_max): a client that
 * sends endless garbage or never reads its replies is disconnected, it does
 * not get to eat the server's memory. */
#include "server/client.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/tls.h"
#include "server/acl.h"
#include "server/cmd.h"
#include "server/node.h"
#include "server/pubsub.h"

#define CLIENT_OUT_INIT 4096
#define CLIENT_IN_INIT (16 * 1024)
#define CLIENT_SHRINK_BYTES (1u << 20) /* idle buffers above this are released */

static void client_on_event(ev_loop *loop, int fd, void *data, unsigned events);

/* Keeps node->client_mem (every client's buffers) up to date. */
void client_mem_update(client *c)
{
    size_t mem = c->in_cap + c->out_cap + multi_mem(c); /* MULTI's queue too (--maxmemory-clients) */
    c->n->client_mem = c->n->client_mem - c->mem + mem;
    c->mem = mem;
}

static size_t client_out_pending(const client *c)
{
    return c->out_len - c->out_sent;
}

static void client_update_events(client *c)
{
    /* Even a paused client must notice a hangup; one whose EOF was read
     * already must not, or the level-triggered RDHUP would spin the loop
     * until its owed replies are out. */
    unsigned mask = c->peer_closed ? 0 : EV_HUP;
    if (c->reading) mask |= EV_READ;
    if (c->out_len > c->out_sent) mask |= EV_WRITE;
    mask = sock_mask(c->tls, mask);
    if (ev_mask(c->n->loop, c->fd) != mask) ev_set(c->n->loop, c->fd, mask, client_on_event, c);
}

static void client_free(client *c)
{
    node *n = c->n;
    if (c->owed) node_forget_client(n, c);
    obs_client_gone(c);
    /* Unlink from the flush and blocked lists. */
    for (client **pp = &n->flush_head; *pp; pp = &(*pp)->fnext)
        if (*pp == c) {
            *pp = c->fnext;
            break;
        }
    for (client **pp = &n->blocked; *pp; pp = &(*pp)->wnext)
        if (*pp == c) {
            *pp = c->wnext;
            break;
        }
    if (c->prev)
        c->prev->next = c->next;
    else
        n->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    n->nclients--;
    if (!c->authed) n->nunauth--;
    n->client_mem -= c->mem;
    ev_set(n->loop, c->fd, 0, NULL, NULL);
    if (c->drop_flush && c->out_len > c->out_sent) { /* best effort: the socket is nonblocking */
        ssize_t w = sock_write(c->tls, c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
        (void)w;
    }
    sock_close(&c->tls, c->fd);
    pubsub_client_reset(c);
    multi_free(c);
    free(c->in);
    free(c->out);
    free(c->argv);
    free(c);
}

void clients_free_all(node *n)
{
    while (n->clients) client_free(n->clients);
}

void clients_drop_all(node *n, const char *why)
{
    size_t marked = 0, kept = 0;
    for (client *c = n->clients; c; c = c->next) {
        if (c->close_asap) continue;
        if (pubsub_subscribed(c)) {
            kept++;
            continue;
        }
        c->close_asap = 1;
        c->drop_flush = 1;
        client_want_flush(c); /* clients_flush frees it before the loop sleeps */
        marked++;
    }
    if (marked)
        log_info(&n->log, "closing %zu client connection%s (%zu subscribed kept): %s", marked,
                 marked == 1 ? "" : "s", kept, why ? why : "role change");
}

/* Accepted on the TLS port: the handshake runs in the client's first reads
 * (net/tls.h), under the TLS context's deadline (clients_expire_handshakes). */
static int client_start_tls(client *c)
{
    c->tls = tls_conn_new(c->n->tls_clients, c->n->loop, c->fd, 1, c->peer, c);
    return c->tls ? 0 : -1;
}

void clients_expire_handshakes(node *n, uint64_t now_ms)
{
    client *c;
    while ((c = tls_ctx_expired(n->tls_clients, now_ms)) != NULL) client_free(c);
}

void client_set_authed(client *c, int authed)
{
    if (c->authed == authed) return;
    c->authed = authed;
    if (authed)
        c->n->nunauth--;
    else
        c->n->nunauth++;
}

/* Does a new connection start logged in (the default user is on and needs
 * no password), or must it AUTH first? */
static int client_starts_authed(const node *n)
{
    const acl_user *def = acl_default_user(n->acl);
    return acl_user_enabled(def) && acl_user_nopass(def);
}

/* The client table is full (or the unauthenticated share of it): frees the
 * slot of the connection that has shown the least sign of being a real
 * client: the oldest unauthenticated one first; else (ONLY_UNAUTH unset)
 * the oldest that has been connected for CLIENT_SLOW_EVICT_MS without
 * sending a single command (a descriptor hog); else the one whose request
 * has been incomplete the longest, beyond CLIENT_SLOW_EVICT_MS (a
 * slowloris). A connection that has run commands and is idle, the pool of a
 * real application, is never taken (--timeout is for those). 1 if a slot
 * was freed. */
static int client_evict_one(node *n, int only_unauth, const char *why)
{
    uint64_t now = ev_now_ms();
    client *victim = NULL;
    for (client *c = n->clients; c; c = c->next) /* newest first: the last match is oldest */
        if (!c->authed && !c->close_asap) victim = c;
    const char *what = "not authenticated";
    uint64_t since = victim ? victim->created_ms : 0;
    if (!victim && !only_unauth) { /* connected, and never sent a command */
        for (client *c = n->clients; c; c = c->next)
            if (!c->close_asap && c->ncmds == 0 && c->in_len == 0 && c->owed == 0 &&
                !pubsub_subscribed(c) && now - c->created_ms > CLIENT_SLOW_EVICT_MS)
                victim = c;
        what = "connected without a command";
        since = victim ? victim->created_ms : 0;
    }
    if (!victim && !only_unauth) { /* a request trickling in (slowloris) */
        for (client *c = n->clients; c; c = c->next)
            if (!c->close_asap && c->req_start_ms && now - c->req_start_ms > CLIENT_SLOW_EVICT_MS &&
                (!victim || c->req_start_ms <= victim->req_start_ms))
                victim = c;
        what = "request incomplete";
        since = victim ? victim->req_start_ms : 0;
    }
    if (!victim) return 0;
    n->stats.clients_evicted++;
    log_warn_limited(&n->log, &n->limits[NL_CLIENT],
                     "client %llu (%s) evicted for a new connection (%s): %s for %llu ms",
                     (unsigned long long)victim->id, victim->peer, why, what,
                     (unsigned long long)(now - since));
    client_free(victim);
    return 1;
}

/* MSG NULL: nothing is written (a TLS client could not read it before a
 * handshake). */
static void client_refuse_fd(node *n, int fd, const char *peer, const char *msg, const char *why)
{
    if (msg) {
        ssize_t w = write(fd, msg, strlen(msg)); /* best effort: nonblocking, closed next */
        (void)w;
    }
    close(fd);
    n->stats.connections_rejected++;
    log_msg_by_source(&n->log, &n->refusals, LOG_WARN, peer, "connection from %s refused: %s",
                      peer, why);
}

static void client_on_listen(ev_loop *loop, int fd, void *data, unsigned events)
{
    client_accept(data, fd);
}

void client_accept(node *n, int lfd)
{
    if (n->listen_paused_until) return;
    for (int i = 0; i < 64; i++) { /* bounded: other work must not starve */
        char err[128], peer[64];
        int fd = net_accept(lfd, &n->cfg.keepalive, peer, sizeof peer, err, sizeof err);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection stays in the
                 * backlog, and level-triggered epoll would wake us for it
                 * at once, forever. Stop listening for a moment instead. */
                n->stats.accept_emfile++;
                n->listen_paused_until = ev_now_ms() + LISTEN_BACKOFF_MS;
                ev_set(n->loop, n->lfd, 0, NULL, NULL);
                if (n->tls_lfd >= 0) ev_set(n->loop, n->tls_lfd, 0, NULL, NULL);
                log_warn_limited(&n->log, &n->limits[NL_ACCEPT],
                                 "accept: %s; new connections wait %d ms (%zu clients, "
                                 "max-clients %zu)",
                                 err, LISTEN_BACKOFF_MS, n->nclients, n->cfg.clients_max);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_warn_limited(&n->log, &n->limits[NL_ACCEPT], "accept failed: %s", err);
            }
            return;
        }
        n->stats.connections_received++;
        int tls = lfd == n->tls_lfd; /* no plaintext refusal to a TLS client */
        const char *denied = acl_protected_refuse(n, peer); /* protected mode (acl.h) */
        if (denied) {
            client_refuse_fd(n, fd, peer, tls ? NULL : denied, "protected mode (no password set)");
            continue;
        }
        int authed = client_starts_authed(n);
        if (n->nclients >= n->cfg.clients_max && !client_evict_one(n, 0, "max-clients reached")) {
            client_refuse_fd(n, fd, peer, tls ? NULL : "-ERR max number of clients reached\r\n",
                             "max-clients reached");
            continue;
        }
        if (!authed && n->nunauth >= n->cfg.unauth_clients_max &&
            !client_evict_one(n, 1, "max-unauth-clients reached")) {
            client_refuse_fd(n, fd, peer,
                             tls ? NULL : "-ERR too many unauthenticated connections\r\n",
                             "max-unauth-clients reached");
            continue;
        }
        client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->n = n;
        c->fd = fd;
        c->id = ++n->next_client_id;
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        c->resp = 2;
        c->authed = 1; /* counted as such; acl_client_init moves it (and the count) */
        acl_client_init(c);
        c->created_ms = c->last_input_ms = ev_now_ms();
        c->reading = 1;
        c->next = n->clients;
        if (n->clients) n->clients->prev = c;
        n->clients = c;
        n->nclients++;
        if (tls && client_start_tls(c) < 0) {
            client_free(c);
            continue;
        }
        if (ev_set(n->loop, fd, sock_mask(c->tls, EV_READ | EV_HUP), client_on_event, c) < 0) {
            client_free(c);
            continue;
        }
        log_debug(&n->log, "client %llu connected from %s", (unsigned long long)c->id, peer);
    }
}

/* ---- output ---- */

static int out_reserve(client *c, size_t extra)
{
    if (c->out_sent == c->out_len) c->out_sent = c->out_len = 0;
    if (c->out_len + extra <= c->out_cap) return 0;
    if (c->out_sent > 0) {
        memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
        c->out_len -= c->out_sent;
        c->out_sent = 0;
        if (c->out_len + extra <= c->out_cap) return 0;
    }
    if (c->out_len + extra > c->n->cfg.reply_buf_max) {
        if (!c->close_asap) {
            c->n->stats.clients_dropped_output++;
            log_warn_limited(&c->n->log, &c->n->limits[NL_CLIENT],
                     "client %llu (%s) dropped: more than %zu bytes of unread replies",
                     (unsigned long long)c->id, c->peer, c->n->cfg.reply_buf_max);
        }
        c->close_asap = 1;
        return -1;
    }
    size_t cap = c->out_cap ? c->out_cap : CLIENT_OUT_INIT;
    while (cap < c->out_len + extra) cap *= 2;
    char *p = realloc(c->out, cap);
    if (!p) {
        c->close_asap = 1;
        return -1;
    }
    c->out = p;
    c->out_cap = cap;
    client_mem_update(c);
    return 0;
}

void client_want_flush(client *c)
{
    if (!c->in_flush) {
        c->in_flush = 1;
        c->fnext = c->n->flush_head;
        c->n->flush_head = c;
    }
}

size_t client_out_mark(const client *c)
{
    return c->out_len - c->out_sent;
}

void client_out_rewind(client *c, size_t mark)
{
    if (c->out_sent + mark < c->out_len) c->out_len = c->out_sent + mark;
}

const char *client_out_since(const client *c, size_t mark, size_t *len)
{
    size_t at = c->out_sent + mark;
    *len = c->out_len > at ? c->out_len - at : 0;
    return c->out ? c->out + at : "";
}

void reply_raw(client *c, const char *s, size_t len)
{
    if (c->silent || c->close_asap || out_reserve(c, len) < 0) return;
    memcpy(c->out + c->out_len, s, len);
    c->out_len += len;
    client_want_flush(c);
}

void reply_status(client *c, const char *s)
{
    size_t l = strlen(s);
    if (c->silent || c->close_asap || out_reserve(c, l + 3) < 0) return;
    c->out[c->out_len++] = '+';
    memcpy(c->out + c->out_len, s, l);
    c->out_len += l;
    c->out[c->out_len++] = '\r';
    c->out[c->out_len++] = '\n';
    client_want_flush(c);
}

void reply_error(client *c, const char *fmt, ...)
{
    if (c->silent) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int l = vsnprintf(msg + 1, sizeof msg - 3, fmt, ap);
    va_end(ap);
    if (l < 0) l = 0;
    if ((size_t)l > sizeof msg - 4) l = (int)(sizeof msg - 4);
    msg[0] = '-';
    /* An error line cannot carry CR or LF. */
    for (int i = 1; i <= l; i++)
        if (msg[i] == '\r' || msg[i] == '\n') msg[i] = ' ';
    msg[l + 1] = '\r';
    msg[l + 2] = '\n';
    obs_error_reply(c->n, msg + 1, (size_t)l); /* INFO errorstats */
    reply_raw(c, msg, (size_t)l + 3);
}

/* "<prefix><v>\r\n" into BUF (at least 24 bytes); returns its length. Every
 * bulk and integer reply has such a header: no snprintf here (a GET
 * profile showed vfprintf at 3% of the server). */
static size_t fmt_prefixed(char *buf, char prefix, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t l = 0;
    buf[l++] = prefix;
    if (v < 0) buf[l++] = '-';
    while (n) buf[l++] = tmp[--n];
    buf[l++] = '\r';
    buf[l++] = '\n';
    return l;
}

static void reply_prefixed_num(client *c, char prefix, long long v)
{
    char buf[32];
    size_t l = fmt_prefixed(buf, prefix, v);
    reply_raw(c, buf, l);
}

void reply_int(client *c, long long v)
{
    reply_prefixed_num(c, ':', v);
}

void reply_array(client *c, long long n)
{
    reply_prefixed_num(c, '*', n);
}

void reply_nil(client *c)
{
    if (c->resp == 3)
        reply_raw(c, "_\r\n", 3);
    else
        reply_raw(c, "$-1\r\n", 5);
}

void reply_null_array(client *c)
{
    if (c->resp == 3)
        reply_raw(c, "_\r\n", 3);
    else
        reply_raw(c, "*-1\r\n", 5);
}

void reply_map(client *c, long long pairs)
{
    if (c->resp == 3)
        reply_prefixed_num(c, '%', pairs);
    else
        reply_prefixed_num(c, '*', pairs * 2);
}

void reply_set(client *c, long long n)
{
    reply_prefixed_num(c, c->resp == 3 ? '~' : '*', n);
}

void reply_push(client *c, long long n)
{
    reply_prefixed_num(c, c->resp == 3 ? '>' : '*', n);
}

void reply_bool(client *c, int v)
{
    if (c->resp == 3)
        reply_raw(c, v ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_int(c, v ? 1 : 0);
}

/* Redis's addReplyDouble: "%.17g" in RESP2 (a bulk string), RESP3 a
 * double ("inf", "-inf" as RESP3 spells them). */
void reply_double(client *c, double d)
{
    char buf[64];
    int l;
    if (isinf(d))
        l = snprintf(buf, sizeof buf, "%s", d > 0 ? "inf" : "-inf");
    else
        l = snprintf(buf, sizeof buf, "%.17g", d);
    if (c->resp == 3) {
        char out[80];
        int ol = snprintf(out, sizeof out, ",%.*s\r\n", l, buf);
        reply_raw(c, out, (size_t)ol);
    } else {
        reply_bulk(c, buf, (size_t)l);
    }
}

/* RESP3 verbatim string ("txt:" + text) for human-readable text such as
 * INFO, a bulk string in RESP2. */
void reply_verbatim(client *c, const char *p, size_t len)
{
    if (c->silent) return;
    if (c->resp != 3) {
        reply_bulk(c, p, len);
        return;
    }
    char hdr[32];
    int hl = snprintf(hdr, sizeof hdr, "=%zu\r\ntxt:", len + 4);
    reply_raw(c, hdr, (size_t)hl);
    reply_raw(c, p, len);
    reply_raw(c, "\r\n", 2);
}

void reply_bulk(client *c, const void *p, size_t len)
{
    char hdr[32];
    size_t hl = fmt_prefixed(hdr, '$', (long long)len); /* len <= the value limit */
    if (c->silent || c->close_asap || out_reserve(c, hl + len + 2) < 0) return;
    memcpy(c->out + c->out_len, hdr, hl);
    c->out_len += hl;
    if (len) memcpy(c->out + c->out_len, p, len);
    c->out_len += len;
    c->out[c->out_len++] = '\r';
    c->out[c->out_len++] = '\n';
    client_want_flush(c);
}

/* A half-closed client is done once no reply is owed or blocked and its
 * output is sent: what is left in its input can never complete. */
static int client_finished(const client *c)
{
    return c->peer_closed && c->owed == 0 && c->wait == WAIT_NONE && c->out_sent == c->out_len;
}

/* Writes what can be written now. Returns -1 if the client must go. */
static int client_write(client *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t w = sock_write(c->tls, c->fd, c->out + c->out_sent, c->out_len - c->out_sent);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        c->out_sent += (size_t)w;
        c->n->obs.net_out_bytes += (size_t)w;
        c->n->obs.writes++;
    }
    if (c->out_sent == c->out_len) {
        c->out_sent = c->out_len = 0;
        if (c->out_cap > CLIENT_SHRINK_BYTES) {
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
            client_mem_update(c);
        }
        if (c->close_after || client_finished(c)) return -1;
    }
    /* Output drained enough: run the commands that waited (in flush). */
    if (c->out_paused && client_out_pending(c) < CLIENT_OUT_PAUSE / 2) {
        c->out_paused = 0;
        client_want_flush(c);
    }
    client_update_events(c);
    return 0;
}

/* ---- input ---- */

static void client_process_input(client *c);

void client_resume(client *c)
{
    if (!c->reading && !c->close_after && !c->peer_closed) {
        c->reading = 1;
        client_update_events(c);
    }
    client_process_input(c);
    client_want_flush(c);
}

void client_note_cmd(client *c, const char *name)
{
    size_t l = strnlen(name, sizeof c->last_cmd - 1); /* per command: no snprintf */
    memcpy(c->last_cmd, name, l);
    c->last_cmd[l] = 0;
}

void client_reset_conn(client *c)
{
    pubsub_client_reset(c);
    c->name[0] = 0;
    c->resp = 2;
    /* Redis clears REPLY OFF (so RESET's own reply is sent) and a SKIP
     * armed for the next command; a SKIP that applies to this RESET stays. */
    c->reply_off = 0;
    if (c->reply_skip == 2) c->reply_skip = 0;
    c->silent = c->reply_skip != 0;
    acl_client_init(c); /* logged out, back to "default" (Redis's clientSetDefaultAuth) */
}

int client_pause_holds(const client *c)
{
    const node *n = c->n;
    if (n->pause_kind == CLIENT_PAUSE_OFF || ev_now_ms() >= n->pause_until_ms) return 0;
    if (n->pause_kind == CLIENT_PAUSE_ALL) return 1;
    /* WRITE: what Redis holds is "may replicate": the writes, and PUBLISH. */
    const resp_arg *name = &c->argv[0];
    if (name->len == 7 && strncasecmp(name->p, "publish", 7) == 0) return 1;
    for (size_t i = 0; i < command_table_size(); i++) {
        const char *t = command_table_name(i);
        if (strlen(t) == name->len && strncasecmp(t, name->p, name->len) == 0)
            return (command_table_cats(i) & ACL_CAT_WRITE) != 0;
    }
    return 0;
}

void clients_unpause(node *n)
{
    n->pause_kind = CLIENT_PAUSE_OFF;
    n->pause_until_ms = 0;
    for (client *c = n->clients; c; c = c->next)
        if (c->pause_blocked) {
            c->pause_blocked = 0;
            client_want_flush(c); /* clients_flush runs the command that waited */
        }
}

void client_ticket_done(client *c)
{
    c->owed--;
    /* Resume in flush when this reply unblocks the client: input waited for
     * the last owed reply, or a full ticket table had stopped reading. */
    int input_waits = c->owed == 0 && c->in_len > 0;
    int table_freed = c->owed == CLIENT_TICKETS_MAX - 1 && !c->reading;
    if (input_waits || table_freed) client_want_flush(c);
}

static int client_grow_argv(client *c, size_t need)
{
    if (need > c->n->cfg.args_max) return -1;
    size_t cap = c->argv_cap ? c->argv_cap : CLIENT_ARGV_INIT;
    while (cap < need) cap *= 2;
    resp_arg *a = realloc(c->argv, cap * sizeof *a);
    if (!a) return -1;
    c->argv = a;
    c->argv_cap = cap;
    return 0;
}

/* Executes every complete command in the input buffer, until the client has
 * to wait (owed replies before a read, WAIT, output limit). */
static void client_process_input(client *c)
{
    node *n = c->n;
    resp_limits lim = {n->cfg.args_max, (size_t)n->cfg.value_max + 1024};
    size_t pos = 0;
    while (pos < c->in_len && !c->close_asap && !c->close_after && c->wait == WAIT_NONE &&
           !n->stopping) {
        if (c->in_len - pos < c->in_need) break;
        if (c->owed >= CLIENT_TICKETS_MAX) break;
        /* A client that does not read its replies stops being served (and
         * read: the kernel pushes back) instead of growing its buffer. */
        if (client_out_pending(c) >= CLIENT_OUT_PAUSE) {
            c->out_paused = 1;
            break;
        }
        size_t consumed, need;
        char err[160];
        resp_status st = resp_parse_request(c->in + pos, c->in_len - pos, &lim, c->argv,
                                            c->argv_cap, &c->argc, &consumed, &need, err,
                                            sizeof err);
        /* A protocol error is answered after the owed write replies, in
         * order: leave the bad bytes until those are sent. */
        if ((st == RESP_ERROR || (st == RESP_TOO_MANY && c->argc > n->cfg.args_max)) &&
            c->owed > 0)
            break;
        if (st == RESP_TOO_MANY) {
            if (client_grow_argv(c, c->argc) < 0) {
                reply_error(c, "ERR Protocol error: too many arguments (max %zu)",
                            n->cfg.args_max);
                n->stats.protocol_errors++;
                c->close_after = 1;
                break;
            }
            continue;
        }
        if (st == RESP_NEED_MORE) {
            c->in_need = need;
            break;
        }
        if (st == RESP_ERROR) {
            reply_error(c, "ERR %s", err);
            n->stats.protocol_errors++;
            log_debug(&n->log, "client %llu (%s): %s", (unsigned long long)c->id, c->peer, err);
            c->close_after = 1;
            break;
        }
        c->in_need = 0;
        if (c->argc > 0) {
            /* CLIENT PAUSE: the command waits in the buffer until the pause
             * ends (clients_unpause). */
            if (n->pause_kind != CLIENT_PAUSE_OFF && client_pause_holds(c)) {
                c->pause_blocked = 1;
                break;
            }
            c->pause_blocked = 0;
            /* CLIENT REPLY OFF / SKIP: nothing this command answers is sent
             * (client.h, reply_skip). */
            c->silent = c->reply_off || c->reply_skip;
            int rc = command_exec(c);
            c->silent = 0;
            /* A command that has to wait for owed replies is left in the
             * buffer and runs again once they are sent. */
            if (rc == CMD_DEFERRED) break;
            c->reply_skip = c->reply_skip == 2 ? 1 : 0;
        }
        c->ncmds++;
        pos += consumed;
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
        if (c->in_need > pos) c->in_need -= pos;
        c->req_start_ms = 0; /* progress */
    }
    /* What is left is an incomplete request (unless the client is only
     * waiting for us): --request-timeout-ms counts from here. */
    if (c->in_len == 0 || c->wait != WAIT_NONE || c->owed > 0 || c->out_paused ||
        c->pause_blocked)
        c->req_start_ms = 0;
    else if (!c->req_start_ms)
        c->req_start_ms = ev_now_ms();
}

static void client_read(client *c)
{
    node *n = c->n;
    /* Before AUTH a connection holds little: enough for AUTH / HELLO. */
    size_t qmax = c->authed ? n->cfg.query_buf_max : CLIENT_UNAUTH_QUERY_MAX;
    size_t want = CLIENT_READ_CHUNK;
    if (c->in_need > c->in_len && c->in_need - c->in_len > want) want = c->in_need - c->in_len;
    if (c->in_len + want > qmax) want = c->in_len < qmax ? qmax - c->in_len : 0;
    if (want == 0) {
        n->stats.clients_dropped_input++;
        log_warn_limited(&n->log, &n->limits[NL_CLIENT], "client %llu (%s) dropped: more than %zu bytes of unparsed input%s",
                 (unsigned long long)c->id, c->peer, qmax, c->authed ? "" : " before authenticating");
        c->close_asap = 1;
        return;
    }
    if (c->in_len + want > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : (c->authed ? CLIENT_IN_INIT : 1024);
        while (cap < c->in_len + want) cap *= 2;
        if (cap > qmax) cap = qmax;
        char *p = realloc(c->in, cap);
        if (!p) {
            c->close_asap = 1;
            return;
        }
        c->in = p;
        c->in_cap = cap;
        client_mem_update(c);
    }
    ssize_t r = sock_read(c->tls, c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (c->tls) client_update_events(c); /* the handshake or a read may wait for writable */
    if (r == 0) {
        /* The peer half-closed (shutdown, `nc -N`): answer what it sent,
         * then close; at once if nothing is left to answer. */
        c->peer_closed = 1;
        if (client_finished(c)) {
            c->close_asap = 1;
        } else if (c->reading) {
            c->reading = 0;
            client_update_events(c);
        }
        return;
    }
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c->close_asap = 1;
        return;
    }
    c->in_len += (size_t)r;
    n->obs.net_in_bytes += (size_t)r;
    n->obs.reads++;
    c->last_input_ms = ev_now_ms();
    client_process_input(c);
    /* Paused (waiting): stop reading so the kernel applies backpressure. */
    if ((c->wait != WAIT_NONE || c->owed >= CLIENT_TICKETS_MAX || c->out_paused) && c->reading) {
        c->reading = 0;
        client_update_events(c);
    }
}

static void client_on_event(ev_loop *loop, int fd, void *data, unsigned events)
{
    client *c = data;
    events = sock_events(c->tls, events);
    if ((events & EV_READ) && c->reading) client_read(c);
    /* Paused (waiting) and the peer is gone: nobody will read the reply.
     * Not after a read saw the EOF: a half-closed peer still gets the
     * replies it is owed (client_read). */
    if ((events & EV_HUP) && !c->reading && !c->peer_closed) c->close_asap = 1;
    if (!c->close_asap && (events & EV_WRITE) && client_write(c) < 0) c->close_asap = 1;
    if (c->close_asap) client_free(c);
}

/* --maxmemory-clients: while all clients' buffers together exceed it, the
 * client holding the most is disconnected (as Redis's maxmemory-clients).
 * Marked here, freed by clients_flush. */
static void clients_enforce_memory(node *n)
{
    size_t limit = n->cfg.maxmemory_clients, total = n->client_mem;
    if (!limit || total <= limit) return;
    for (client *c = n->clients; c; c = c->next)
        if (c->close_asap) total -= c->mem < total ? c->mem : total;
    while (total > limit) {
        client *big = NULL;
        for (client *c = n->clients; c; c = c->next)
            if (!c->close_asap && !c->no_evict && (!big || c->mem > big->mem)) big = c;
        if (!big || big->mem == 0) break;
        n->stats.clients_dropped_memory++;
        log_warn_limited(&n->log, &n->limits[NL_CLIENT],
                         "client %llu (%s) dropped: it holds %zu bytes of buffers and all "
                         "clients together %zu, above maxmemory-clients %zu",
                         (unsigned long long)big->id, big->peer, big->mem, n->client_mem, limit);
        big->close_asap = 1;
        client_want_flush(big);
        total -= big->mem < total ? big->mem : total;
    }
}

static void client_timeout(client *c, const char *why, uint64_t ms)
{
    node *n = c->n;
    n->stats.clients_timed_out++;
    log_info_limited(&n->log, &n->limits[NL_CLIENT], "client %llu (%s) closed: %s (%llu ms)",
                     (unsigned long long)c->id, c->peer, why, (unsigned long long)ms);
    c->close_asap = 1;
    client_want_flush(c);
}

void clients_cron(node *n, uint64_t now)
{
    if (n->pause_kind != CLIENT_PAUSE_OFF && now >= n->pause_until_ms) clients_unpause(n);
    if (n->listen_paused_until && now >= n->listen_paused_until) {
        n->listen_paused_until = 0;
        if (ev_set(n->loop, n->lfd, EV_READ, client_on_listen, n) < 0 ||
            (n->tls_lfd >= 0 && ev_set(n->loop, n->tls_lfd, EV_READ, client_on_listen, n) < 0))
            n->listen_paused_until = now + LISTEN_BACKOFF_MS;
    }
    if (now - n->clients_scan_ms < CLIENT_SCAN_MS) return;
    n->clients_scan_ms = now;
    uint64_t auth_ms = (uint64_t)n->cfg.auth_timeout_ms, idle_ms = (uint64_t)n->cfg.timeout_s * 1000;
    for (client *c = n->clients; c; c = c->next) {
        if (c->close_asap) continue;
        if (!c->authed && now - c->created_ms > auth_ms) {
            client_timeout(c, "not authenticated in time (--auth-timeout-ms)", now - c->created_ms);
        } else if (c->req_start_ms &&
                   now - c->req_start_ms >
                       (uint64_t)n->cfg.request_timeout_ms + (c->in_len >> 20) * 1000) {
            client_timeout(c, "request incomplete for too long (--request-timeout-ms)",
                           now - c->req_start_ms);
        } else if (idle_ms && now - c->last_input_ms > idle_ms && c->wait == WAIT_NONE &&
                   c->owed == 0 && !pubsub_subscribed(c) && !c->pause_blocked) {
            client_timeout(c, "idle (--timeout)", now - c->last_input_ms);
        }
    }
    clients_enforce_memory(n);
}

void clients_flush(node *n)
{
    if (n->cfg.maxmemory_clients && n->client_mem > n->cfg.maxmemory_clients)
        clients_enforce_memory(n);
    /* Pop the whole list first: processing input may re-add clients. */
    while (n->flush_head) {
        client *list = n->flush_head;
        n->flush_head = NULL;
        while (list) {
            client *c = list;
            list = c->fnext;
            c->in_flush = 0;
            c->fnext = NULL;
            if (!c->close_asap && c->wait == WAIT_NONE && c->owed == 0 && c->in_len > 0 &&
                c->in_len >= c->in_need && !c->out_paused) {
                client_process_input(c);
                if (!c->reading && c->wait == WAIT_NONE && !c->close_after &&
                    !c->peer_closed && !c->out_paused) {
                    c->reading = 1;
                    client_update_events(c);
                }
            } else if (!c->reading && c->wait == WAIT_NONE && c->owed < CLIENT_TICKETS_MAX &&
                       !c->close_after && !c->peer_closed && !c->out_paused) {
                c->reading = 1;
                client_update_events(c);
            }
            if (c->close_asap || client_write(c) < 0) {
                c->in_flush = 0;
                client_free(c);
            }
        }
    }
}
