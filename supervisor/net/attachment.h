/* SPDX-License-Identifier: MIT */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <sys/types.h>

#include "hostport.h"
#include "ipam.h"
#include "netif.h"
#include "portmap.h"
#include "relay.h"
#include "subnet.h"
#include "sup-error.h"
#include "unit-spec.h"

/* One instance's place on its supd's bridge (network: bridge): an address leased from each of the
 * bridge's subnets (IPv4 and IPv6), a veth pair (the host end a port of the bridge, eth0 in the container) and its
 * published ports. The steps follow the container's life:
 *
 *   net_attachment_prepare()    monitor, before the container: the published ports held on the
 *                               host (hostport.h), the address, the bridge
 *   net_attachment_attach()     monitor, once the container's namespaces exist and its init waits:
 *                               the veth pair, the nft table and the unit's published ports
 *   net_attachment_configure()  the container's init, after attach: eth0 with the address, up,
 *                               the default route through the bridge
 *   net_attachment_release()    monitor, after the container: ports (rules, then the held
 *                               sockets), veth pair, address
 *
 * Each returns -errno with the reason, worded for the unit's status, in *ret_error. */
typedef struct NetAttachment {
        char *unit;
        char bridge[IFNAMSIZ];
        char veth[IFNAMSIZ];
        char *lease_dir; /* <state-dir>/ipam/<bridge> */
        PortmapTable table;
        int bridge_ifindex;
        IpamLease lease;
        IpamLease6 lease6;
        HostPorts host_ports;     /* held from prepare until the unit's rules are gone */
        Event *event;             /* the monitor's, for the relays */
        Relay **relays;           /* per published port, for TCP on IPv6 (relay.h says why) */
        size_t n_relays;          /* ... as many as the ports when they were started */
        bool published;           /* the unit's chains may exist */
        bool enabled_forwarding;  /* the last attach switched net.ipv4.ip_forward on */
        bool enabled_forwarding6; /* ... and net.ipv6.conf.all.forwarding */
        bool ipv6;                /* the host has IPv6 on the bridge (prepare asks) */
        int ipv6_error;           /* ... and if not, why (-errno); the monitor logs it once */
        char *ra_kept;            /* ... and so set accept_ra=2 on these interfaces (space-separated) */
} NetAttachment;

/* outbound: supd's (--no-outbound: false); a unit's own outbound key can only narrow it. e: the
 * monitor's loop, where the relays of ports published on IPv6 run. */
void net_attachment_init(NetAttachment *a, Event *e, const char *state_dir, const char *cgroup_parent,
                         const Ipv4Net *subnet, const Ipv6Net *subnet6, bool outbound, const char *unit);
void net_attachment_done(NetAttachment *a);

/* Whether IPv6 is there to use on the bridge: 0, or -EAFNOSUPPORT (ipv6.disable=1), -EACCES
 * (disable_ipv6 on the bridge, or on new interfaces while it does not exist yet). Without it,
 * the units run on IPv4 alone: no IPv6 lease, address, rules or held sockets. */
int net_ipv6_probe(const char *bridge);
/* Whether r, from net_ipv6_probe() or from giving an interface an IPv6 address, says the host has
 * IPv6 off rather than that something failed. */
bool net_ipv6_off(int r);

int net_attachment_prepare(NetAttachment *a, const UnitSpec *u, SupError **ret_error);
int net_attachment_attach(NetAttachment *a, const UnitSpec *u, pid_t pid, SupError **ret_error);
int net_attachment_configure(const NetAttachment *a, SupError **ret_error);
/* isolation: hyperv, instead of attach and configure: a tap device on the bridge (*ret_fd, for
 * QEMU) and the published ports; the guest configures its side (runtime/vm, sup-init). The MAC
 * for the guest's NIC is veth_mac_for() of the lease, as for a container's eth0. */
int net_attachment_attach_tap(NetAttachment *a, const UnitSpec *u, int *ret_fd, SupError **ret_error);
/* Best effort: everything is attempted; the first failure is returned. */
int net_attachment_release(NetAttachment *a, const UnitSpec *u, SupError **ret_error);
