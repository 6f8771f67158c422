/* SPDX-License-Identifier: MIT */
#pragma once

#include <net/if.h>
#include <stddef.h>

#include "netif.h"
#include "subnet.h"
#include "sup-error.h"

/* The bridge of one supd instance: every container of network: bridge has a port on it, and the
 * host has the subnet's first address on it (the containers' gateway). It is shared by every
 * monitor of the instance; whichever needs it first creates it. */

/* The subnet of the default supd instance (run directory /run/sup); see docs/networking.md. */
#define BRIDGE_DEFAULT_SUBNET "10.88.0.0/16"

/* The bridge's name from the instance's cgroup parent: "sup0" for "sup" (the default run
 * directory), "sup-" and the first 6 hex digits for "sup-<hex>" (supd's other instances), and
 * "sup-" and 6 digits of a hash for any other parent. */
void bridge_name(const char *cgroup_parent, char ret[IFNAMSIZ]);

/* The bridge's IPv6 subnet when supd is given none: a unique local /64 (RFC 4193) whose 40-bit
 * global ID is taken from a hash of the bridge's name, so that every supd instance (each has its
 * own bridge name) has its own, and the same one at every start: fdXX:XXXX:XXXX::/64. */
void bridge_default_subnet6(const char *name, Ipv6Net *ret);

/* Makes the bridge exist, carry the gateway addresses (the first host address of subnet, and of
 * subnet6 unless NULL) and be up. Safe to call from any number of processes at once: whatever exists already is fine.
 * Refuses (-EADDRINUSE) a subnet that overlaps an address of another interface, or a bridge that
 * has an address of another subnet; -EEXIST when an interface of that name is no bridge. The
 * reason is in *ret_error. */
int bridge_ensure(const char *name, const Ipv4Net *subnet, const Ipv6Net *subnet6, int *ret_ifindex,
                  SupError **ret_error);

/* The subnet of the bridge's IPv4 address; -ENOENT when it has none (or does not exist). */
int bridge_get_subnet(const char *name, Ipv4Net *ret);

/* Whether subnet overlaps an address of an interface other than except (NULL: any); the first
 * such address goes to *ret_conflict. */
int host_subnet_in_use(const Ipv4Net *subnet, const char *except, NetifAddr *ret_conflict);

/* Deletes the bridge; 0 when there is none. -ENOTTY when the interface of that name is no bridge. */
int bridge_remove(const char *name);
