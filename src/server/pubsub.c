/* pubsub.c -- SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE and PUBLISH
 * (see pubsub.h): what Sentinel clients listen on (+switch-master), in
 * Redis 7's reply formats:
 *   SUBSCRIBE a b   ->  *3 subscribe a :1   *3 subscribe b :2
 *   UNSUBSCRIBE     ->  *3 unsubscribe a :1 ... (every channel), or
 *                       *3 unsubscribe $-1 :0 when there is none
 *   a message       ->  *3 message <channel> <payload>
 *                       *4 pmessage <pattern> <channel> <payload>
 * After HELLO 3 every one of these is a push frame (>3, >4) and the null
 * channel is RESP3's _ (reply_push, reply_nil). The count in a confirmation
 * is the connection's channels + patterns. A connection with CLIENT REPLY
 * OFF gets no messages (they still count as delivered, as in Redis).
 *
 * PUBLISH is local: it reaches this node's subscribers only (rkv does not
 * replicate messages), and the channels Sentinel itself publishes on (names
 * starting with '+' or '-') are refused, so no client can forge a
 * +switch-master that sends other clients to the wrong node. */
#include "server/pubsub.h"

#include "common/glob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "server/client.h"
#include "server/node.h"

int pubsub_subscribed(const client *c)
{
    return c->nsubs > 0;
}

int pubsub_active(const client *c)
{
    return c->nsubs > 0 && c->resp == 2;
}

void pubsub_client_reset(client *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i].name);
    free(c->subs);
    c->subs = NULL;
    c->nsubs = 0;
}

/* ---- glob ---- */

/* ---- replies ---- */

static long long sub_count(const client *c)
{
    return (long long)c->nsubs;
}

static void reply_confirm(client *c, const char *kind, const char *name, size_t len)
{
    reply_push(c, 3);
    reply_bulk(c, kind, strlen(kind));
    if (name)
        reply_bulk(c, name, len);
    else
        reply_nil(c);
    reply_int(c, sub_count(c));
}

static ssize_t sub_find(const client *c, const char *name, size_t len, int pattern)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i].pattern == pattern && c->subs[i].len == len &&
            memcmp(c->subs[i].name, name, len) == 0)
            return (ssize_t)i;
    return -1;
}

static int sub_add(client *c, const char *name, size_t len, int pattern)
{
    if (!c->subs) {
        c->subs = calloc(PUBSUB_SUBS_MAX, sizeof *c->subs);
        if (!c->subs) return -1;
    }
    pubsub_sub *s = &c->subs[c->nsubs];
    s->name = malloc(len + 1);
    if (!s->name) return -1;
    memcpy(s->name, name, len);
    s->name[len] = 0;
    s->len = len;
    s->pattern = pattern;
    c->nsubs++;
    return 0;
}

static void sub_remove(client *c, size_t i)
{
    free(c->subs[i].name);
    memmove(&c->subs[i], &c->subs[i + 1], (c->nsubs - i - 1) * sizeof *c->subs);
    c->nsubs--;
    if (c->nsubs == 0) pubsub_client_reset(c);
}

static void subscribe(client *c, int pattern)
{
    const char *kind = pattern ? "psubscribe" : "subscribe";
    for (size_t i = 1; i < c->argc; i++) {
        const resp_arg *a = &c->argv[i];
        if (a->len > PUBSUB_NAME_MAX) {
            reply_error(c, "ERR %s too long (%zu bytes, max %d)",
                        pattern ? "pattern" : "channel name", a->len, PUBSUB_NAME_MAX);
            continue;
        }
        if (sub_find(c, a->p, a->len, pattern) < 0) {
            if (c->nsubs >= PUBSUB_SUBS_MAX) {
                reply_error(c, "ERR too many subscriptions on this connection (max %d)",
                            PUBSUB_SUBS_MAX);
                continue;
            }
            if (sub_add(c, a->p, a->len, pattern) < 0) {
                reply_error(c, "ERR out of memory subscribing");
                continue;
            }
        }
        reply_confirm(c, kind, a->p, a->len);
    }
}

static void unsubscribe(client *c, int pattern)
{
    const char *kind = pattern ? "punsubscribe" : "unsubscribe";
    if (c->argc == 1) { /* every one of this kind, in subscription order */
        int any = 0;
        for (size_t i = 0; i < c->nsubs;) {
            if (c->subs[i].pattern != pattern) {
                i++;
                continue;
            }
            /* The confirmation carries the count after the removal. */
            pubsub_sub s = c->subs[i];
            c->subs[i].name = NULL;
            sub_remove(c, i);
            reply_confirm(c, kind, s.name, s.len);
            free(s.name);
            any = 1;
        }
        if (!any) reply_confirm(c, kind, NULL, 0);
        return;
    }
    for (size_t i = 1; i < c->argc; i++) {
        const resp_arg *a = &c->argv[i];
        ssize_t at = sub_find(c, a->p, a->len, pattern);
        if (at >= 0) sub_remove(c, (size_t)at);
        reply_confirm(c, kind, a->p, a->len);
    }
}

void cmd_subscribe(client *c)
{
    subscribe(c, 0);
}

void cmd_psubscribe(client *c)
{
    subscribe(c, 1);
}

void cmd_unsubscribe(client *c)
{
    unsubscribe(c, 0);
}

void cmd_punsubscribe(client *c)
{
    unsubscribe(c, 1);
}

/* ---- delivery ---- */

long pubsub_publish(node *n, const char *channel, size_t chlen, const char *msg, size_t msglen)
{
    /* Channel subscribers first, then pattern matches, as Redis orders them. */
    long deliveries = 0;
    for (int pattern = 0; pattern <= 1; pattern++)
        for (client *c = n->clients; c; c = c->next) {
            if (c->close_asap) continue;
            for (size_t i = 0; i < c->nsubs; i++) {
                const pubsub_sub *s = &c->subs[i];
                if (s->pattern != pattern) continue;
                if (!pattern) {
                    if (s->len != chlen || memcmp(s->name, channel, chlen) != 0) continue;
                    deliveries++;
                    if (c->reply_off) continue;
                    reply_push(c, 3);
                    reply_bulk(c, "message", 7);
                } else {
                    if (!rkv_glob_match(s->name, s->len, channel, chlen)) continue;
                    deliveries++;
                    if (c->reply_off) continue;
                    reply_push(c, 4);
                    reply_bulk(c, "pmessage", 8);
                    reply_bulk(c, s->name, s->len);
                }
                reply_bulk(c, channel, chlen);
                reply_bulk(c, msg, msglen);
            }
        }
    return deliveries;
}

void cmd_publish(client *c)
{
    const resp_arg *ch = &c->argv[1], *msg = &c->argv[2];
    if (ch->len > PUBSUB_NAME_MAX) {
        reply_error(c, "ERR channel name too long (%zu bytes, max %d)", ch->len, PUBSUB_NAME_MAX);
        return;
    }
    if (msg->len > PUBSUB_MSG_MAX) {
        reply_error(c, "ERR message too long (%zu bytes, max %d)", msg->len, PUBSUB_MSG_MAX);
        return;
    }
    if (ch->len > 0 && (ch->p[0] == '+' || ch->p[0] == '-')) {
        reply_error(c, "ERR channels starting with '+' or '-' carry this node's Sentinel events "
                       "and are published by the server only");
        return;
    }
    reply_int(c, pubsub_publish(c->n, ch->p, ch->len, msg->p, msg->len));
}
