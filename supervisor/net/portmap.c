/* SPDX-License-Identifier: MIT */
#include "portmap.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "alloc.h"
#include "macro.h"
#include "nft.h"

/* The script is built with stdio into memory; fprintf cannot fail there short of ENOMEM, which
 * open_memstream turns into a NULL buffer at fclose. */
typedef struct Script {
        FILE *f;
        char *buf;
        size_t size;
} Script;

static void script_open(Script *s) {
        *s = (Script){};
        s->f = open_memstream(&s->buf, &s->size);
        if (!s->f)
                abort(); /* like every small allocation (alloc.h) */
}

static char *script_close(Script *s) {
        fclose(s->f);
        if (!s->buf)
                abort();
        return s->buf;
}

#define CHAIN_BASE(hook, type, prio) "{ type " type " hook " hook " priority " prio "; policy accept; }"

/* Adds the chain (a no-op when it exists), then empties it: a known starting point either way. */
static void chain_fresh(Script *s, const char *table, const char *chain, const char *base) {
        fprintf(s->f, "add chain inet %s %s%s%s\n", table, chain, base ? " " : "", base ? base : "");
        fprintf(s->f, "flush chain inet %s %s\n", table, chain);
}

static void chain_remove(Script *s, const char *table, const char *chain, const char *base) {
        chain_fresh(s, table, chain, base);
        fprintf(s->f, "delete chain inet %s %s\n", table, chain);
}

char *portmap_script_base(const PortmapTable *t) {
        char subnet[IPV4_NET_STRLEN], subnet6[IPV6_NET_STRLEN];
        const char *T = t->name, *B = t->bridge;
        Script s;

        ipv4_net_format(&t->subnet, subnet);
        ipv6_net_format(&t->subnet6, subnet6);
        script_open(&s);
        fprintf(s.f, "add table inet %s\n", T);

        /* Nothing for 127.0.0.0/8 comes in from outside the host (CVE-2020-8558, kube-proxy's
         * lesson): the kernel drops such a packet as a martian only when it routes it, after the
         * DNAT in prerouting has rewritten a loopback-published port's destination to the
         * container; and with route_localnet on the bridge (publish()) it would not drop it at
         * all. So before any DNAT (raw comes before dstnat), on every interface but lo. The
         * kernel drops ::1 from outside before prerouting already (ip6_rcv_core()); the rule
         * states the same for IPv6 rather than lean on that. */
        chain_fresh(&s, T, "guard", CHAIN_BASE("prerouting", "filter", "raw"));
        fprintf(s.f, "add rule inet %s guard ip daddr 127.0.0.0/8 iif != \"lo\" drop\n", T);
        fprintf(s.f, "add rule inet %s guard ip6 daddr ::1 iif != \"lo\" drop\n", T);

        chain_fresh(&s, T, "forward", CHAIN_BASE("forward", "filter", "filter"));
        fprintf(s.f, "add rule inet %s forward iifname \"%s\" oifname \"%s\" accept\n", T, B, B);
        fprintf(s.f, "add rule inet %s forward iifname \"%s\" ct status dnat accept\n", T, B);
        fprintf(s.f, "add rule inet %s forward oifname \"%s\" ct status dnat accept\n", T, B);
        if (t->outbound) {
                /* What the containers open, and what answers it; a unit's egress chain drops its
                 * share when it has outbound: false. Nothing new comes in that way. */
                fprintf(s.f, "add rule inet %s forward iifname \"%s\" accept\n", T, B);
                fprintf(s.f, "add rule inet %s forward oifname \"%s\" ct state established,related accept\n", T, B);
        }
        fprintf(s.f, "add rule inet %s forward iifname \"%s\" drop\n", T, B);
        fprintf(s.f, "add rule inet %s forward oifname \"%s\" drop\n", T, B);

        /* Forwarding on for the bridge is forwarding on between every pair of the host's
         * interfaces: where sup switched it on (and not the admin, whose router it may be), what
         * does not touch a bridge is dropped again, as Docker's forward policy does. Not just B:
         * every instance's bridge ("sup*", bridge_name()) lives under the same switch, and a drop
         * here is final for theirs too. */
        if (t->guard || t->guard6)
                chain_fresh(&s, T, "forward_guard", CHAIN_BASE("forward", "filter", "filter"));
        if (t->guard)
                fprintf(s.f,
                        "add rule inet %s forward_guard meta nfproto ipv4 iifname != \"sup*\" oifname != \"sup*\" "
                        "drop\n",
                        T);
        if (t->guard6)
                fprintf(s.f,
                        "add rule inet %s forward_guard meta nfproto ipv6 iifname != \"sup*\" oifname != \"sup*\" "
                        "drop\n",
                        T);

        chain_fresh(&s, T, "postrouting", CHAIN_BASE("postrouting", "nat", "srcnat"));
        fprintf(s.f, "add rule inet %s postrouting oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", T, B);
        fprintf(s.f, "add rule inet %s postrouting oifname \"%s\" ip saddr %s ct status dnat masquerade\n", T, B,
                subnet);
        fprintf(s.f, "add rule inet %s postrouting oifname \"%s\" ip6 saddr %s ct status dnat masquerade\n", T, B,
                subnet6);
        if (t->outbound) {
                /* The containers' private addresses leave as the host's, as with Docker's NAT. */
                fprintf(s.f, "add rule inet %s postrouting iifname \"%s\" oifname != \"%s\" ip saddr %s masquerade\n",
                        T, B, B, subnet);
                fprintf(s.f, "add rule inet %s postrouting iifname \"%s\" oifname != \"%s\" ip6 saddr %s masquerade\n",
                        T, B, B, subnet6);
        }
        return script_close(&s);
}

bool portmap_unit_has_chains(const PortmapTable *t, size_t n_ports, bool outbound) {
        return n_ports > 0 || (t->outbound && !outbound);
}

/* One published port's DNAT rules: on its address's family, or on both without an address. */
static void dnat_rules(Script *s, const char *T, const char *chain, const PortSpec *p, const char *to,
                       const char *to6) {
        const char *proto = port_protocol_to_string(p->protocol);
        char host[INET6_ADDRSTRLEN];

        if (p->family != AF_INET6) {
                fprintf(s->f, "add rule inet %s %s ", T, chain);
                if (p->family == AF_INET)
                        fprintf(s->f, "ip daddr %s ", inet_ntop(AF_INET, &p->address.in, host, sizeof(host)));
                else
                        fprintf(s->f, "meta nfproto ipv4 ");
                fprintf(s->f, "%s dport %u dnat ip to %s:%u\n", proto, p->host_port, to, p->container_port);
        }
        if (p->family != AF_INET && to6) {
                fprintf(s->f, "add rule inet %s %s ", T, chain);
                if (p->family == AF_INET6)
                        fprintf(s->f, "ip6 daddr %s ", inet_ntop(AF_INET6, &p->address.in6, host, sizeof(host)));
                else
                        fprintf(s->f, "meta nfproto ipv6 ");
                fprintf(s->f, "%s dport %u dnat ip6 to [%s]:%u\n", proto, p->host_port, to6, p->container_port);
        }
}

char *portmap_script_publish(const PortmapTable *t, const char *unit, const PortSpec *ports, size_t n,
                             struct in_addr to, const struct in6_addr *to6, bool outbound) {
        _cleanup_free_ char *dnat = xasprintf("dnat_%s", unit), *pre = xasprintf("pre_%s", unit),
                            *out = xasprintf("out_%s", unit), *egress = xasprintf("egress_%s", unit);
        char target[INET_ADDRSTRLEN], target6[INET6_ADDRSTRLEN];
        const char *T = t->name, *B = t->bridge;
        Script s;

        (void) inet_ntop(AF_INET, &to, target, sizeof(target));
        if (to6)
                (void) inet_ntop(AF_INET6, to6, target6, sizeof(target6));
        script_open(&s);
        fprintf(s.f, "add table inet %s\n", T);
        chain_fresh(&s, T, dnat, NULL);
        for (size_t i = 0; i < n; i++)
                dnat_rules(&s, T, dnat, &ports[i], target, to6 ? target6 : NULL);
        /* The base chains last: they jump to a chain that is complete by then. */
        chain_fresh(&s, T, pre, CHAIN_BASE("prerouting", "nat", "dstnat"));
        fprintf(s.f, "add rule inet %s %s fib daddr type local jump %s\n", T, pre, dnat);
        chain_fresh(&s, T, out, CHAIN_BASE("output", "nat", "-100"));
        /* A DNATed packet from ::1 would leave by the bridge with that source, and its reply, once
         * un-NATed to ::1, is dropped on the way in; masquerading cannot help. Left alone, a TCP
         * connection reaches the socket the monitor holds on the port, which relays it. UDP is
         * not relayed, and left alone it would only fill the held socket unread: DNATed, its
         * datagrams at least reach the container (one-way protocols work, replies are lost). */
        fprintf(s.f, "add rule inet %s %s ip6 daddr ::1 meta l4proto tcp return\n", T, out);
        fprintf(s.f, "add rule inet %s %s fib daddr type local jump %s\n", T, out, dnat);
        chain_fresh(&s, T, egress, CHAIN_BASE("forward", "filter", "-1"));
        if (t->outbound && !outbound) {
                /* A drop is final whichever base chain says it: the shared forward chain's
                 * accept cannot undo this one. Replies through published ports were DNATed on
                 * the way in. */
                fprintf(s.f, "add rule inet %s %s iifname \"%s\" oifname != \"%s\" ct status dnat accept\n", T, egress,
                        B, B);
                fprintf(s.f, "add rule inet %s %s iifname \"%s\" oifname != \"%s\" ip saddr %s drop\n", T, egress, B, B,
                        target);
                if (to6)
                        fprintf(s.f, "add rule inet %s %s iifname \"%s\" oifname != \"%s\" ip6 saddr %s drop\n", T,
                                egress, B, B, target6);
        }
        return script_close(&s);
}

/* In the bridge family: its prerouting sees every frame a port brings to the bridge, whether the
 * bridge forwards it to another port (another container, where the inet family sees nothing
 * without br_netfilter) or it goes up to the host. */
static void spoof_chain(Script *s, const char *table, const char *chain) {
        fprintf(s->f, "add table bridge %s\n", table);
        fprintf(s->f, "add chain bridge %s %s { type filter hook prerouting priority filter; policy accept; }\n", table,
                chain);
        fprintf(s->f, "flush chain bridge %s %s\n", table, chain);
}

char *portmap_script_spoof(const PortmapTable *t, const char *unit, const char *ifname, struct in_addr addr,
                           const struct in6_addr *addr6) {
        _cleanup_free_ char *chain = xasprintf("spoof_%s", unit);
        char a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
        Script s;

        script_open(&s);
        spoof_chain(&s, t->name, chain);
        fprintf(s.f, "add rule bridge %s %s iifname \"%s\" ip saddr != %s drop\n", t->name, chain, ifname,
                inet_ntop(AF_INET, &addr, a, sizeof(a)));
        /* Link-local and :: too: neighbour discovery and duplicate address detection need them. */
        if (addr6)
                fprintf(s.f, "add rule bridge %s %s iifname \"%s\" ip6 saddr != { %s, fe80::/10, :: } drop\n", t->name,
                        chain, ifname, inet_ntop(AF_INET6, addr6, a6, sizeof(a6)));
        fprintf(s.f, "add rule bridge %s %s iifname \"%s\" icmpv6 type nd-router-advert drop\n", t->name, chain,
                ifname);
        return script_close(&s);
}

char *portmap_script_unpublish(const PortmapTable *t, const char *unit) {
        _cleanup_free_ char *dnat = xasprintf("dnat_%s", unit), *pre = xasprintf("pre_%s", unit),
                            *out = xasprintf("out_%s", unit), *egress = xasprintf("egress_%s", unit),
                            *spoof = xasprintf("spoof_%s", unit);
        Script s;

        script_open(&s);
        fprintf(s.f, "add table inet %s\n", t->name);
        /* The jumps go first: a chain that is jumped to cannot be deleted. */
        chain_remove(&s, t->name, pre, CHAIN_BASE("prerouting", "nat", "dstnat"));
        chain_remove(&s, t->name, out, CHAIN_BASE("output", "nat", "-100"));
        chain_remove(&s, t->name, dnat, NULL);
        chain_remove(&s, t->name, egress, CHAIN_BASE("forward", "filter", "-1"));
        spoof_chain(&s, t->name, spoof);
        fprintf(s.f, "delete chain bridge %s %s\n", t->name, spoof);
        return script_close(&s);
}

char *portmap_script_drop(const PortmapTable *t) {
        return xasprintf("add table inet %s\ndelete table inet %s\nadd table bridge %s\ndelete table bridge %s\n",
                         t->name, t->name, t->name, t->name);
}

int portmap_check(const PortSpec *ports, size_t n, SupError **ret_error) {
        for (size_t i = 0; i < n; i++)
                if (ports[i].family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&ports[i].address.in6) &&
                    ports[i].protocol == PORT_UDP) {
                        _cleanup_free_ char *p = format_port(&ports[i]);
                        return sup_error_make(ret_error, -EAFNOSUPPORT,
                                              "ports[%zu] %s: UDP cannot be published on ::1 (IPv6 has no "
                                              "route_localnet; publish it on another address)",
                                              i, p);
                }
        return 0;
}

int portmap_apply(const char *script, SupError **ret_error) {
        return nft_run(script, ret_error);
}
