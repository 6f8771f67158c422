/* SPDX-License-Identifier: MIT */
#include "attachment.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "alloc.h"
#include "bridge.h"
#include "macro.h"
#include "netif.h"
#include "string-util.h"
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
        for (size_t i = 0; i < a->n_relays; i++)
                relay_free(a->relays[i]);
        free(a->relays);
        a->relays = NULL;
        a->n_relays = 0;
}

/* The held IPv6 TCP sockets are where connections to the unit's ports on ::1 land (relay.h). */
static int relays_start(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        int r;

        relays_stop(a);
        if (a->host_ports.n == 0)
                return 0;
        a->relays = xnew0(Relay *, a->host_ports.n);
        a->n_relays = a->host_ports.n;
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
        free(a->ra_kept);
        free(a->unit);
        *a = (NetAttachment){.lease = IPAM_LEASE_NULL, .lease6 = IPAM_LEASE6_NULL};
}

bool net_ipv6_off(int r) {
        return r == -EACCES || r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL;
}

int net_ipv6_probe(const char *bridge) {
        _cleanup_free_ char *key = xasprintf("net/ipv6/conf/%s/disable_ipv6", bridge);
        _cleanup_close_ int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bool off;
        int r;

        if (fd < 0)
                return negative_errno();
        r = sysctl_read_bool(key, &off);
        if (r == -ENOENT)
                r = sysctl_read_bool("net/ipv6/conf/default/disable_ipv6", &off);
        if (r < 0)
                return r;
        return off ? -EACCES : 0; /* what adding an address says then */
}

int net_attachment_prepare(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        int r;

        /* Before anything changes on the host. */
        r = portmap_check(u->ports, u->n_ports, ret_error);
        if (r < 0)
                return r;
        r = net_ipv6_probe(a->bridge);
        if (r < 0 && !net_ipv6_off(r))
                return sup_error_errno(ret_error, r, "cannot tell whether the host has IPv6");
        a->ipv6 = r >= 0;
        a->ipv6_error = r;
        for (size_t i = 0; !a->ipv6 && i < u->n_ports; i++)
                if (u->ports[i].family == AF_INET6) {
                        _cleanup_free_ char *p = format_port(&u->ports[i]);
                        return sup_error_errno(ret_error, r, "ports[%zu] %s: the host has IPv6 off", i, p);
                }
        /* A relay left from a start whose release failed watches sockets that go now. */
        relays_stop(a);
        r = host_ports_bind(&a->host_ports, u->ports, u->n_ports, a->ipv6, ret_error);
        if (r < 0)
                return r;
        if (a->lease.lease.fd < 0) {
                r = ipam_acquire(a->lease_dir, &a->table.subnet, a->unit, &a->lease, ret_error);
                if (r < 0)
                        goto fail;
        }
        if (a->ipv6 && a->lease6.lease.fd < 0) {
                r = ipam_acquire6(a->lease_dir, &a->table.subnet6, a->unit, &a->lease6, ret_error);
                if (r < 0)
                        goto fail_lease;
        }
        if (!a->ipv6)
                (void) ipam_release6(&a->lease6); /* IPv6 went off since the last start */
        r = bridge_ensure(a->bridge, &a->table.subnet, a->ipv6 ? &a->table.subnet6 : NULL, &a->bridge_ifindex,
                          ret_error);
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

/* That sup, not the admin, switched a family's forwarding on since boot: a file in /run, which
 * goes with the setting at reboot. Host-wide, not the instance's: the table that holds
 * forward_guard goes when its supd is idle, while the setting stays, and the next monitor (of any
 * instance) finds it on and must still tell that it was sup's doing. The setting is the network
 * namespace's, so the file names it (the inode of /proc/self/ns/net): a supd in another one (a
 * test's, a container's) marks its own. */
static char *forwarding_marker(const char *family) {
        struct stat st;

        if (stat("/proc/self/ns/net", &st) < 0)
                st.st_ino = 0;
        return xasprintf("/run/sup-forwarding-%s-%llu", family, (unsigned long long) st.st_ino);
}

static int mark_forwarding(const char *key, const char *marker, bool *ret_off) {
        bool on;
        int r, fd;

        r = sysctl_read_bool(key, &on);
        if (r < 0)
                return r;
        *ret_off = !on;
        if (on)
                return 0;
        fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return negative_errno();
        close(fd);
        return 0;
}

/* An interface of sup's: a bridge (bridge_name()) or a veth or tap ("v" and 8 hex digits,
 * veth_name()). */
static bool ifname_is_sup(const char *name) {
        return startswith(name, "sup") ||
               (name[0] == 'v' && strlen(name) == 9 && strspn(name + 1, "0123456789abcdef") == 8);
}

/* With all.forwarding=1 the kernel ignores router advertisements on interfaces with
 * accept_ra=1, and a host that has its IPv6 default route by SLAAC loses it when it expires.
 * accept_ra=2 takes them regardless, as Docker and libvirt advise; not on sup's own interfaces,
 * where the advertisements would come from containers. */
static int keep_router_advertisements(NetAttachment *a) {
        _cleanup_closedir_ DIR *d = opendir("/proc/sys/net/ipv6/conf");
        struct dirent *de;
        int r;

        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *key = NULL;
                bool changed;

                if (de->d_name[0] == '.' || streq(de->d_name, "all") || streq(de->d_name, "default") ||
                    streq(de->d_name, "lo") || ifname_is_sup(de->d_name))
                        continue;
                key = xasprintf("net/ipv6/conf/%s/accept_ra", de->d_name);
                r = sysctl_replace(key, "1", "2", &changed);
                if (r == -ENOENT)
                        continue; /* gone meanwhile */
                if (r < 0)
                        return r;
                if (changed) {
                        char *l = xasprintf("%s%s%s", a->ra_kept ?: "", a->ra_kept ? " " : "", de->d_name);
                        free(a->ra_kept);
                        a->ra_kept = l;
                }
        }
        return 0;
}

/* Forwarding through the host, which published ports (connections from other hosts and
 * namespaces) and outbound traffic need: the global switches, one per family. Before they are
 * switched on: what must not change with them (the marker, so that the table gets its
 * forward_guard in the same script, and accept_ra). */
static int prepare_forwarding(NetAttachment *a, const char *marker, const char *marker6, SupError **ret_error) {
        bool off;
        int r;

        r = mark_forwarding("net/ipv4/ip_forward", marker, &off);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot prepare IPv4 forwarding (%s)", marker);
        if (!a->ipv6)
                return 0;
        r = mark_forwarding("net/ipv6/conf/all/forwarding", marker6, &off);
        if (r >= 0 && off)
                r = keep_router_advertisements(a);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot prepare IPv6 forwarding (accept_ra, %s)", marker6);
        return 0;
}

/* They are left on at stop (others may have come to rely on them), and so is forward_guard. */
static int enable_forwarding(NetAttachment *a, SupError **ret_error) {
        int r;

        r = sysctl_enable("net/ipv4/ip_forward", &a->enabled_forwarding);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot enable IPv4 forwarding (net.ipv4.ip_forward)");
        if (!a->ipv6)
                return 0;
        r = sysctl_enable("net/ipv6/conf/all/forwarding", &a->enabled_forwarding6);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot enable IPv6 forwarding (net.ipv6.conf.all.forwarding)");
        return 0;
}

static int publish(NetAttachment *a, const UnitSpec *u, SupError **ret_error) {
        _cleanup_free_ char *base = NULL, *ports = NULL, *script = NULL, *localnet = NULL, *spoof = NULL;
        _cleanup_free_ char *marker = forwarding_marker("ipv4"), *marker6 = forwarding_marker("ipv6");
        bool changed = false, forwarding, chains = portmap_unit_has_chains(&a->table, u->n_ports, u->outbound);
        int r;

        a->enabled_forwarding = a->enabled_forwarding6 = false;
        free(a->ra_kept);
        a->ra_kept = NULL;
        if (u->n_ports > 0) {
                /* 127.0.0.1:PORT from the host is DNATed to the container and leaves through the
                 * bridge with its loopback source (masqueraded only afterwards, in postrouting):
                 * the kernel routes that only with route_localnet on the way out. */
                localnet = xasprintf("net/ipv4/conf/%s/route_localnet", a->bridge);
                r = sysctl_enable(localnet, &changed);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot set %s", localnet);
        }
        forwarding = u->n_ports > 0 || (a->table.outbound && u->outbound);
        if (forwarding) {
                r = prepare_forwarding(a, marker, marker6, ret_error);
                if (r < 0)
                        return r;
        }
        a->table.guard = access(marker, F_OK) >= 0;
        a->table.guard6 = access(marker6, F_OK) >= 0;
        base = portmap_script_base(&a->table);
        if (chains)
                ports = portmap_script_publish(&a->table, a->unit, u->ports, u->n_ports, a->lease.address,
                                               a->ipv6 ? &a->lease6.address : NULL, u->outbound);
        /* Every unit has its spoof_ chain: so the unit's chains may exist from here on. */
        spoof = portmap_script_spoof(&a->table, a->unit, a->veth, a->lease.address,
                                     a->ipv6 ? &a->lease6.address : NULL);
        a->published = true;
        script = xasprintf("%s%s%s", base, ports ? ports : "", spoof);
        r = portmap_apply(script, ret_error);
        if (r < 0 && u->n_ports > 0)
                return sup_error_wrap(ret_error, r, "cannot publish the ports");
        if (r < 0)
                return sup_error_wrap(ret_error, r, "cannot set up the nftables table %s", a->table.name);
        if (forwarding) {
                r = enable_forwarding(a, ret_error);
                if (r < 0)
                        return r;
        }
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
        if (!a->ipv6)
                return 0;
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
