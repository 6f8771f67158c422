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
        char subnet[IPV4_NET_STRLEN];
        const char *T = t->name, *B = t->bridge;
        Script s;

        ipv4_net_format(&t->subnet, subnet);
        script_open(&s);
        fprintf(s.f, "add table inet %s\n", T);

        /* Nothing for 127.0.0.0/8 comes in from outside the host (CVE-2020-8558, kube-proxy's
         * lesson): the kernel drops such a packet as a martian only when it routes it, after the
         * DNAT in prerouting has rewritten a loopback-published port's destination to the
         * container; and with route_localnet on the bridge (publish()) it would not drop it at
         * all. So before any DNAT (raw comes before dstnat), on every interface but lo. IPv6
         * needs no rule: the kernel drops ::1 from outside before prerouting. */
        chain_fresh(&s, T, "guard", CHAIN_BASE("prerouting", "filter", "raw"));
        fprintf(s.f, "add rule inet %s guard ip daddr 127.0.0.0/8 iif != \"lo\" drop\n", T);

        chain_fresh(&s, T, "forward", CHAIN_BASE("forward", "filter", "filter"));
        fprintf(s.f, "add rule inet %s forward iifname \"%s\" oifname \"%s\" accept\n", T, B, B);
        fprintf(s.f, "add rule inet %s forward iifname \"%s\" ct status dnat accept\n", T, B);
        fprintf(s.f, "add rule inet %s forward oifname \"%s\" ct status dnat accept\n", T, B);
        fprintf(s.f, "add rule inet %s forward iifname \"%s\" drop\n", T, B);
        fprintf(s.f, "add rule inet %s forward oifname \"%s\" drop\n", T, B);

        chain_fresh(&s, T, "postrouting", CHAIN_BASE("postrouting", "nat", "srcnat"));
        fprintf(s.f, "add rule inet %s postrouting oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", T, B);
        fprintf(s.f, "add rule inet %s postrouting oifname \"%s\" ip saddr %s ct status dnat masquerade\n", T, B,
                subnet);
        return script_close(&s);
}

char *portmap_script_publish(const PortmapTable *t, const char *unit, const PortSpec *ports, size_t n,
                             struct in_addr to) {
        _cleanup_free_ char *dnat = xasprintf("dnat_%s", unit), *pre = xasprintf("pre_%s", unit),
                            *out = xasprintf("out_%s", unit);
        char target[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
        const char *T = t->name;
        Script s;

        (void) inet_ntop(AF_INET, &to, target, sizeof(target));
        script_open(&s);
        fprintf(s.f, "add table inet %s\n", T);
        chain_fresh(&s, T, dnat, NULL);
        for (size_t i = 0; i < n; i++) {
                const PortSpec *p = &ports[i];
                const char *proto = port_protocol_to_string(p->protocol);

                fprintf(s.f, "add rule inet %s %s ", T, dnat);
                if (p->family == AF_INET)
                        fprintf(s.f, "ip daddr %s ", inet_ntop(AF_INET, &p->address.in, host, sizeof(host)));
                else
                        fprintf(s.f, "meta nfproto ipv4 ");
                fprintf(s.f, "%s dport %u dnat ip to %s:%u\n", proto, p->host_port, target, p->container_port);
        }
        /* The base chains last: they jump to a chain that is complete by then. */
        chain_fresh(&s, T, pre, CHAIN_BASE("prerouting", "nat", "dstnat"));
        fprintf(s.f, "add rule inet %s %s fib daddr type local jump %s\n", T, pre, dnat);
        chain_fresh(&s, T, out, CHAIN_BASE("output", "nat", "-100"));
        fprintf(s.f, "add rule inet %s %s fib daddr type local jump %s\n", T, out, dnat);
        return script_close(&s);
}

char *portmap_script_unpublish(const PortmapTable *t, const char *unit) {
        _cleanup_free_ char *dnat = xasprintf("dnat_%s", unit), *pre = xasprintf("pre_%s", unit),
                            *out = xasprintf("out_%s", unit);
        Script s;

        script_open(&s);
        fprintf(s.f, "add table inet %s\n", t->name);
        /* The jumps go first: a chain that is jumped to cannot be deleted. */
        chain_remove(&s, t->name, pre, CHAIN_BASE("prerouting", "nat", "dstnat"));
        chain_remove(&s, t->name, out, CHAIN_BASE("output", "nat", "-100"));
        chain_remove(&s, t->name, dnat, NULL);
        return script_close(&s);
}

char *portmap_script_drop(const PortmapTable *t) {
        return xasprintf("add table inet %s\ndelete table inet %s\n", t->name, t->name);
}

int portmap_check(const PortSpec *ports, size_t n, SupError **ret_error) {
        for (size_t i = 0; i < n; i++)
                if (ports[i].family == AF_INET6) {
                        _cleanup_free_ char *p = format_port(&ports[i]);
                        return sup_error_make(ret_error, -EAFNOSUPPORT,
                                              "ports[%zu] %s: publishing on an IPv6 address is not supported (the "
                                              "bridge is IPv4 only)",
                                              i, p);
                }
        return 0;
}

int portmap_apply(const char *script, SupError **ret_error) {
        return nft_run(script, ret_error);
}
