/* netns.c -- the namespaces, bridge and veth cables of netns.h, with `ip`. */
#include "netns.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NN_ARGS_MAX 24

int nn_ip(const netns_net *w, const char *const *argv)
{
    const char *av[NN_ARGS_MAX + 2];
    int n = 0;
    av[n++] = "ip";
    for (int i = 0; argv[i]; i++) {
        if (n == NN_ARGS_MAX) return -1;
        av[n++] = argv[i];
    }
    av[n] = NULL;
    pid_t pid = proc_spawn(av, w && w->log[0] ? w->log : "/dev/null");
    if (pid < 0) return -1;
    return proc_stop(pid, 0, NN_IP_MS);
}

/* ip with up to a dozen words, the last NULL. */
#define IP(w, ...) nn_ip((w), (const char *const[]){__VA_ARGS__, NULL})

int nn_available(char *why, size_t whylen)
{
    if (geteuid() != 0) {
        snprintf(why, whylen, "not root");
        return 0;
    }
    char probe[NN_NAME_MAX];
    snprintf(probe, sizeof probe, "rkvprobe%d", (int)getpid() % 100000);
    netns_net none;
    memset(&none, 0, sizeof none);
    if (IP(&none, "netns", "add", probe) != 0) {
        snprintf(why, whylen, "`ip netns add` failed (no iproute2, or no namespace support)");
        return 0;
    }
    IP(&none, "netns", "del", probe);
    return 1;
}

int nn_create(netns_net *w, const char *tag, int n, const char *log, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (n < 1 || n > NN_MAX || strlen(tag) > NN_TAG_MAX) {
        snprintf(err, errlen, "netns: %d nodes (max %d) or tag '%s' longer than %d", n, NN_MAX, tag,
                 NN_TAG_MAX);
        return -1;
    }
    w->n = n;
    snprintf(w->tag, sizeof w->tag, "%s", tag);
    snprintf(w->log, sizeof w->log, "%s", log ? log : "");
    unsigned h = 5381;
    for (const char *p = tag; *p; p++)
        h = h * 33 + (unsigned char)*p;
    w->subnet = 16 + (int)(h % 224);
    snprintf(w->hub, sizeof w->hub, "%sh", tag);
    snprintf(w->root_if, sizeof w->root_if, "%sr", tag);
    char root_ip[40], node_ip[40];
    snprintf(root_ip, sizeof root_ip, "10.232.%d.254/24", w->subnet);
    const char *step = "netns add (hub)";
    int bad = IP(w, "netns", "add", w->hub);
    w->created = bad == 0;
    if (!bad) {
        step = "bridge";
        bad = IP(w, "-n", w->hub, "link", "add", "br0", "type", "bridge");
    }
    if (!bad) bad = IP(w, "-n", w->hub, "link", "set", "br0", "up");
    if (!bad) {
        step = "cable to the hub";
        bad = IP(w, "link", "add", w->root_if, "type", "veth", "peer", "name", "up0", "netns",
                 w->hub);
    }
    if (!bad) bad = IP(w, "-n", w->hub, "link", "set", "up0", "master", "br0");
    if (!bad) bad = IP(w, "-n", w->hub, "link", "set", "up0", "up");
    if (!bad) bad = IP(w, "addr", "add", root_ip, "dev", w->root_if);
    if (!bad) bad = IP(w, "link", "set", w->root_if, "up");
    for (int i = 0; i < n && !bad; i++) {
        char port[16];
        snprintf(w->ns[i], sizeof w->ns[i], "%sn%d", tag, i + 1);
        snprintf(w->host[i], sizeof w->host[i], "10.232.%d.%d", w->subnet, i + 1);
        snprintf(node_ip, sizeof node_ip, "%s/24", w->host[i]);
        snprintf(port, sizeof port, "n%d", i + 1);
        step = "node namespace";
        bad = IP(w, "netns", "add", w->ns[i]);
        if (!bad) {
            step = "node cable";
            bad = IP(w, "-n", w->hub, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                     "netns", w->ns[i]);
        }
        if (!bad) bad = IP(w, "-n", w->hub, "link", "set", port, "master", "br0");
        if (!bad) bad = IP(w, "-n", w->hub, "link", "set", port, "up");
        if (!bad) bad = IP(w, "-n", w->ns[i], "addr", "add", node_ip, "dev", "eth0");
        if (!bad) bad = IP(w, "-n", w->ns[i], "link", "set", "eth0", "up");
        if (!bad) bad = IP(w, "-n", w->ns[i], "link", "set", "lo", "up");
    }
    if (bad) {
        snprintf(err, errlen, "netns: %s: ip failed (exit %d; see %s)", step, bad,
                 w->log[0] ? w->log : "no log");
        return -1;
    }
    return 0;
}

int nn_destroy(netns_net *w)
{
    if (!w->created) return 0;
    int bad = 0;
    for (int i = 0; i < w->n; i++)
        if (w->ns[i][0]) bad |= IP(w, "netns", "del", w->ns[i]) != 0;
    IP(w, "link", "del", w->root_if); /* gone with the hub already, most often */
    bad |= IP(w, "netns", "del", w->hub) != 0;
    w->created = 0;
    return bad ? -1 : 0;
}

int nn_link(netns_net *w, int i, int up)
{
    char port[16];
    snprintf(port, sizeof port, "n%d", i + 1);
    int rc = IP(w, "-n", w->hub, "link", "set", port, up ? "up" : "down");
    if (rc == 0) w->link_down[i] = !up;
    return rc == 0 ? 0 : -1;
}

/* The blackhole route in node I's namespace for node J's address. */
static int route(netns_net *w, int i, int j, int add)
{
    char dst[48];
    snprintf(dst, sizeof dst, "%s/32", w->host[j]);
    return IP(w, "-n", w->ns[i], "route", add ? "add" : "del", "blackhole", dst) == 0 ? 0 : -1;
}

int nn_cut(netns_net *w, int i, int j, int cut)
{
    if (i == j || ((w->cut[i] >> j) & 1u) == (unsigned)(cut != 0)) return 0;
    int rc = route(w, i, j, cut) | route(w, j, i, cut);
    if (cut) {
        w->cut[i] |= 1u << j;
        w->cut[j] |= 1u << i;
    } else {
        w->cut[i] &= ~(1u << j);
        w->cut[j] &= ~(1u << i);
    }
    return rc;
}

int nn_heal(netns_net *w)
{
    int rc = 0;
    for (int i = 0; i < w->n; i++) {
        if (w->link_down[i]) rc |= nn_link(w, i, 1);
        for (int j = i + 1; j < w->n; j++)
            if ((w->cut[i] >> j) & 1u) rc |= nn_cut(w, i, j, 0);
    }
    return rc;
}
