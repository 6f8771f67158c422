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

void net_attachment_init(NetAttachment *a, const char *state_dir, const char *cgroup_parent, const Ipv4Net *subnet,
                         const char *unit) {
        *a = (NetAttachment){.unit = xstrdup(unit), .lease = IPAM_LEASE_NULL};
        bridge_name(cgroup_parent, a->bridge);
        veth_name(cgroup_parent, unit, a->veth);
        a->lease_dir = xasprintf("%s/ipam/%s", state_dir, a->bridge);
        /* One table per instance, named after its bridge. */
        a->table = (PortmapTable){.name = a->bridge, .bridge = a->bridge, .subnet = *subnet};
}

void net_attachment_done(NetAttachment *a) {
        /* A lease still held is given back with the process: closing its fd drops the lock. */
        lease_abandon(&a->lease.lease);
        host_ports_release(&a->host_ports);
        free(a->lease_dir);
        free(a->unit);
        *a = (NetAttachment){.lease = IPAM_LEASE_NULL};
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
        r = bridge_ensure(a->bridge, &a->table.subnet, &a->bridge_ifindex, ret_error);
        if (r < 0) {
                (void) ipam_release(&a->lease);
                goto fail;
        }
        return 0;

fail:
        host_ports_release(&a->host_ports);
        return r;
}

static int publish(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        _cleanup_free_ char *base = portmap_script_base(&a->table), *ports = NULL, *script = NULL;
        _cleanup_free_ char *localnet = NULL;
        bool changed = false;
        int r;

        a->enabled_forwarding = false;
        if (u->n_ports > 0) {
                /* 127.0.0.1:PORT from the host is DNATed to the container and leaves through the
                 * bridge with its loopback source (masqueraded only afterwards, in postrouting):
                 * the kernel routes that only with route_localnet on the way out. */
                localnet = xasprintf("net/ipv4/conf/%s/route_localnet", a->bridge);
                r = sysctl_enable(localnet, &changed);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot set %s", localnet);
                /* Connections from other hosts and namespaces to a published port are forwarded
                 * to the bridge: the one global switch this needs. It is left on at stop (others
                 * may have come to rely on it). */
                r = sysctl_enable("net/ipv4/ip_forward", &a->enabled_forwarding);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot enable IPv4 forwarding (net.ipv4.ip_forward)");
                ports = portmap_script_publish(&a->table, a->unit, u->ports, u->n_ports, a->lease.address);
                a->published = true;
        }
        script = xasprintf("%s%s", base, ports ? ports : "");
        r = portmap_apply(script, ret_error);
        if (r < 0 && u->n_ports > 0)
                return sup_error_wrap(ret_error, r, "cannot publish the ports");
        if (r < 0)
                return sup_error_wrap(ret_error, r, "cannot set up the nftables table %s", a->table.name);
        return host_ports_listen(&a->host_ports, u->ports, ret_error);
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
        char addr[INET_ADDRSTRLEN];
        int r;

        r = netif_configure_ipv4(NET_CONTAINER_IFNAME, a->lease.address, a->table.subnet.prefix, gateway);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot configure " NET_CONTAINER_IFNAME " with %s/%u",
                                       inet_ntop(AF_INET, &a->lease.address, addr, sizeof(addr)),
                                       a->table.subnet.prefix);
        return 0;
}

int net_attachment_release(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        int r, ret = 0;

        if (a->published || u->n_ports > 0) {
                _cleanup_free_ char *script = portmap_script_unpublish(&a->table, a->unit);

                r = portmap_apply(script, ret_error);
                if (r < 0)
                        ret = sup_error_wrap(ret_error, r, "cannot remove the published ports");
                else {
                        a->published = false;
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
        return ret;
}
