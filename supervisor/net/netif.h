/* SPDX-License-Identifier: MIT */
#pragma once

#include <net/if.h>
#include <stddef.h>

#include "subnet.h"

/* Interfaces of the caller's network namespace, through rtnetlink (libnl-route). */

/* The name of a container's interface on the bridge: its end of the veth pair in process
 * isolation, the guest's network card in hyperv isolation. */
#define NET_CONTAINER_IFNAME "eth0"

typedef struct NetifAddr {
        char ifname[IFNAMSIZ];
        int ifindex;
        struct in_addr address;
        Ipv4Net net; /* the network the address's prefix makes it part of */
} NetifAddr;

/* Every IPv4 address of every interface: a new array of *ret_n items. */
int netif_list_ipv4(NetifAddr **ret, size_t *ret_n);

/* Renames the interface, which must be down. */
int netif_rename(const char *name, const char *new_name);

/* Gives the interface an IPv4 address and brings it up; with a gateway (not 0.0.0.0), adds the
 * default route through it. Made for a container's eth0, from inside its namespace. */
int netif_configure_ipv4(const char *ifname, struct in_addr address, unsigned prefix, struct in_addr gateway);

/* Gives the interface, which must be up (netif_configure_ipv4()), an IPv6 address without
 * duplicate address detection (netif.c says why) and, with a gateway (not NULL nor ::), the IPv6
 * default route through it. */
int netif_add_ipv6(const char *ifname, const struct in6_addr *address, unsigned prefix, const struct in6_addr *gateway);
