/* node_view.c -- node_get_view (see node_view.h): the cluster as the
 * client-facing commands see it, copied out of the node and its
 * replication links. */
#include "server/node_view.h"

#include <stdio.h>
#include <string.h>

#include "repl/repl.h"
#include "server/node.h"

static node_member *view_add(node_view *v, unsigned id)
{
    for (int i = 0; i < v->n; i++)
        if (id && v->m[i].id == id) return &v->m[i];
    if (v->n == ELECT_MEMBERS_MAX) return NULL;
    node_member *m = &v->m[v->n++];
    memset(m, 0, sizeof *m);
    m->id = id;
    return m;
}

void node_get_view(node *n, node_view *v)
{
    memset(v, 0, sizeof *v);
    v->elected = n->cfg.elected;
    v->epoch = n->epoch;
    v->offset = n->last_lsn;
    v->commit_lsn = n->commit_lsn;
    snprintf(v->cluster_name, sizeof v->cluster_name, "%s", n->cfg.cluster_name);
    v->is_leader = node_is_leader(n);
    /* Every configured member first, in --peers order, so the list is stable. */
    for (int i = 0; i < n->cfg.nmembers; i++) view_add(v, n->cfg.members[i].id);
    node_member *self = view_add(v, n->cfg.node_id);
    if (self) {
        self->is_self = 1;
        self->port = node_announce(n, self->host, sizeof self->host);
        self->online = 1;
        self->offset = n->last_lsn;
        self->is_leader = v->is_leader;
    }
    if (v->is_leader) {
        v->leader_id = n->cfg.node_id;
        v->leader_link_up = 1;
        repl_peer_info p[ELECT_MEMBERS_MAX];
        int k = n->leader ? repl_leader_peers(n->leader, p, ELECT_MEMBERS_MAX) : 0;
        for (int i = 0; i < k; i++) {
            if (!p[i].id) continue; /* never answered: unknown */
            node_member *m = view_add(v, p[i].id);
            if (!m) continue;
            snprintf(m->host, sizeof m->host, "%s", p[i].host);
            m->port = p[i].port;
            m->online = p[i].online;
            m->offset = p[i].acked;
            m->lag_ms = p[i].lag_ms;
        }
    } else if (n->follower) {
        repl_peer_info p;
        if (repl_follower_leader(n->follower, &p) && node_leader_known(n, p.id)) {
            node_member *m = view_add(v, p.id);
            if (m) {
                m->is_leader = 1;
                snprintf(m->host, sizeof m->host, "%s", p.host);
                m->port = p.port;
                m->online = p.online;
                m->offset = p.acked;
            }
            v->leader_id = p.id;
            v->leader_link_up = p.online;
            v->leader_seen_ms_ago = p.seen_ms_ago;
            /* The other followers, as the leader described them. */
            repl_peer_info o[ELECT_MEMBERS_MAX];
            int k = repl_follower_members(n->follower, o, ELECT_MEMBERS_MAX);
            for (int i = 0; i < k; i++) {
                if (o[i].id == n->cfg.node_id || o[i].id == p.id) continue;
                node_member *om = view_add(v, o[i].id);
                if (!om) continue;
                snprintf(om->host, sizeof om->host, "%s", o[i].host);
                om->port = o[i].port;
                om->online = o[i].online;
                om->offset = o[i].acked;
            }
        }
    }
}

const node_member *node_view_leader(const node_view *v)
{
    for (int i = 0; i < v->n; i++)
        if (v->m[i].is_leader) return &v->m[i];
    return NULL;
}
