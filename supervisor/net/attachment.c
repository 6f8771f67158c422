/* SPDX-License-Identifier: MIT */
#include "attachment.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "alloc.h"
#include "bridge.h"
#include "macro.h"
#include "netif.h"
#include "sysctl.h"
#include "veth.h"

void net_attachment_init(NetAttachment *a, Event *e, const char *state_dir, const char *cgroup_parent,
                         const Ipv4Net *subnet, const Ipv6Net *subnet6, bool outbound, const char *unit) {
        *a = (NetAttachment){.unit = xstrdup(unit), .event = e, .lease = IPAM_LEASE_NULL, .lease6 = IPAM_LEASE6_NULL};
        bridge_name(cgroup_parent, a->bridge);
        veth_name(cgroup_parent, unit, a->veth);
        a->lease_dir = xasprintf("%s/ipam/%s", state_dir, a->bridge);
        /* One table per instance, named after its bridge. */
        a->table = (PortmapTable){
                .name = a->bridge, .bridge = a->bridge, .subnet = *subnet, .subnet6 = *subnet6, .outbound = outbound};
}

/* Before the held sockets they watch go. */
static void relays_stop(NetAttachment *a) {
        for (size_t i = 0; a->relays && i < a->host_ports.n; i++)
                relay_free(a->relays[i]);
        free(a->relays);
        a->relays = NULL;
}

/* The held IPv6 TCP sockets are where connections to the unit's ports on ::1 land (relay.h). */
static int relays_start(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        int r;

        relays_stop(a);
        if (a->host_ports.n == 0)
                return 0;
        a->relays = xnew0(Relay *, a->host_ports.n);
        for (size_t i = 0; i < a->host_ports.n; i++) {
                struct sockaddr_in6 to = {
                        .sin6_family = AF_INET6,
                        .sin6_addr = a->lease6.address,
                        .sin6_port = htons(u->ports[i].container_port),
                };
                int fd = a->host_ports.fds[2 * i + 1];

                if (fd < 0 || u->ports[i].protocol != PORT_TCP)
                        continue;
                r = relay_new(a->event, fd, &to, &a->relays[i]);
                if (r < 0) {
                        _cleanup_free_ char *p = format_port(&u->ports[i]);
                        return sup_error_errno(ret_error, r, "ports[%zu] %s: cannot relay it on ::1", i, p);
                }
        }
        return 0;
}

void net_attachment_done(NetAttachment *a) {
        relays_stop(a);
        /* A lease still held is given back with the process: closing its fd drops the lock. */
        lease_abandon(&a->lease.lease);
        lease_abandon(&a->lease6.lease);
        host_ports_release(&a->host_ports);
        free(a->lease_dir);
        free(a->unit);
        *a = (NetAttachment){.lease = IPAM_LEASE_NULL, .lease6 = IPAM_LEASE6_NULL};
}

int net_attachment_prepare(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        int r;

        /* Before anything changes on the host. */
        r = portmap_check(u->ports, u->n_ports, ret_error);
        if (r < 0)
                return r;
        r = host_ports_bind(&a->host_ports, u->ports, u->n_ports, ret_error);
        if (r < 0)
                return r;
        if (a->lease.lease.fd < 0) {
                r = ipam_acquire(a->lease_dir, &a->table.subnet, a->unit, &a->lease, ret_error);
                if (r < 0)
                        goto fail;
        }
        if (a->lease6.lease.fd < 0) {
                r = ipam_acquire6(a->lease_dir, &a->table.subnet6, a->unit, &a->lease6, ret_error);
                if (r < 0)
                        goto fail_lease;
        }
        r = bridge_ensure(a->bridge, &a->table.subnet, &a->table.subnet6, &a->bridge_ifindex, ret_error);
        if (r < 0)
                goto fail_lease;
        return 0;

fail_lease:
        (void) ipam_release6(&a->lease6);
        (void) ipam_release(&a->lease);
fail:
        host_ports_release(&a->host_ports);
        return r;
}

/* Forwarding through the host, which published ports (connections from other hosts and
 * namespaces) and outbound traffic need: the global switches, one per family. They are left on at
 * stop (others may have come to rely on them). */
static int enable_forwarding(NetAttachment *a, SupError **ret_error) {
        int r;

        r = sysctl_enable("net/ipv4/ip_forward", &a->enabled_forwarding);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot enable IPv4 forwarding (net.ipv4.ip_forward)");
        /* Note: with forwarding on, the kernel stops taking router advertisements on interfaces
         * with accept_ra=1 (docs/networking.md). */
        r = sysctl_enable("net/ipv6/conf/all/forwarding", &a->enabled_forwarding6);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot enable IPv6 forwarding (net.ipv6.conf.all.forwarding)");
        return 0;
}

static int publish(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        _cleanup_free_ char *base = portmap_script_base(&a->table), *ports = NULL, *script = NULL;
        _cleanup_free_ char *localnet = NULL;
        bool changed = false, chains = portmap_unit_has_chains(&a->table, u->n_ports, u->outbound);
        int r;

        a->enabled_forwarding = a->enabled_forwarding6 = false;
        if (u->n_ports > 0) {
                /* 127.0.0.1:PORT from the host is DNATed to the container and leaves through the
                 * bridge with its loopback source (masqueraded only afterwards, in postrouting):
                 * the kernel routes that only with route_localnet on the way out. */
                localnet = xasprintf("net/ipv4/conf/%s/route_localnet", a->bridge);
                r = sysctl_enable(localnet, &changed);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot set %s", localnet);
        }
        if (u->n_ports > 0 || (a->table.outbound && u->outbound)) {
                r = enable_forwarding(a, ret_error);
                if (r < 0)
                        return r;
        }
        if (chains) {
                ports = portmap_script_publish(&a->table, a->unit, u->ports, u->n_ports, a->lease.address,
                                               &a->lease6.address, u->outbound);
                a->published = true;
        }
        script = xasprintf("%s%s", base, ports ? ports : "");
        r = portmap_apply(script, ret_error);
        if (r < 0 && u->n_ports > 0)
                return sup_error_wrap(ret_error, r, "cannot publish the ports");
        if (r < 0)
                return sup_error_wrap(ret_error, r, "cannot set up the nftables table %s", a->table.name);
        r = host_ports_listen(&a->host_ports, u->ports, ret_error);
        if (r < 0)
                return r;
        return a->event ? relays_start(a, u, ret_error) : 0;
}

int net_attachment_attach(NetAttachment *a, const UnitSpec *u, pid_t pid, SupError **ret_error) {
        uint8_t mac[6];
        int r;

        veth_mac_for(a->lease.address, mac);
        r = veth_create(a->veth, a->bridge_ifindex, NET_CONTAINER_IFNAME, mac, pid);
        if (r == -ENOTTY)
                return sup_error_make(ret_error, -EEXIST,
                                      "cannot create the veth pair %s/" NET_CONTAINER_IFNAME
                                      ": an interface %s exists and is not a veth",
                                      a->veth, a->veth);
        if (r < 0)
                return sup_error_errno(ret_error, r,
                                       "cannot create the veth pair %s/" NET_CONTAINER_IFNAME " on the bridge %s",
                                       a->veth, a->bridge);
        return publish(a, u, ret_error);
}

int net_attachment_attach_tap(NetAttachment *a, const UnitSpec *u, int *ret_fd, SupError **ret_error) {
        int fd, r;

        r = tap_create(a->veth, a->bridge_ifindex, &fd);
        if (r == -ENOENT)
                return sup_error_make(
                        ret_error, r,
                        "cannot create the tap device %s on the bridge %s: no /dev/net/tun (modprobe tun)", a->veth,
                        a->bridge);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot create the tap device %s on the bridge %s", a->veth,
                                       a->bridge);
        r = publish(a, u, ret_error);
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int net_attachment_configure(const NetAttachment *a, SupError **ret_error) {
        struct in_addr gateway = ipv4_net_host(&a->table.subnet, 1);
        struct in6_addr gateway6;
        char addr[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN];
        int r;

        r = netif_configure_ipv4(NET_CONTAINER_IFNAME, a->lease.address, a->table.subnet.prefix, gateway);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot configure " NET_CONTAINER_IFNAME " with %s/%u",
                                       inet_ntop(AF_INET, &a->lease.address, addr, sizeof(addr)),
                                       a->table.subnet.prefix);
        gateway6 = ipv6_net_host(&a->table.subnet6, 1);
        r = netif_add_ipv6(NET_CONTAINER_IFNAME, &a->lease6.address, a->table.subnet6.prefix, &gateway6);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot configure " NET_CONTAINER_IFNAME " with %s/%u",
                                       inet_ntop(AF_INET6, &a->lease6.address, addr6, sizeof(addr6)),
                                       a->table.subnet6.prefix);
        return 0;
}

int net_attachment_release(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        int r, ret = 0;

        if (a->published || portmap_unit_has_chains(&a->table, u->n_ports, u->outbound)) {
                _cleanup_free_ char *script = portmap_script_unpublish(&a->table, a->unit);

                r = portmap_apply(script, ret_error);
                if (r < 0)
                        ret = sup_error_wrap(ret_error, r, "cannot remove the published ports");
                else {
                        a->published = false;
                        relays_stop(a);
                        /* Not before: while rules send the port to the container, no host
                         * program may bind it unnoticed. (A failed removal keeps them until the
                         * next start binds them again, or the monitor exits.) */
                        host_ports_release(&a->host_ports);
                }
        }
        /* The pair goes with the container's namespace too, but asynchronously; now is known.
         * (A VM's tap went with QEMU's fd; a tap of that name would be -ENOTTY here: left.) */
        r = veth_remove(a->veth);
        if (r == -ENOTTY)
                r = 0;
        if (r < 0 && ret == 0)
                ret = sup_error_errno(ret_error, r, "cannot remove the veth %s", a->veth);
        r = ipam_release(&a->lease);
        if (r < 0 && ret == 0)
                ret = sup_error_errno(ret_error, r, "cannot release the address lease");
        r = ipam_release6(&a->lease6);
        if (r < 0 && ret == 0)
                ret = sup_error_errno(ret_error, r, "cannot release the IPv6 address lease");
        return ret;
}
