/* SPDX-License-Identifier: MIT */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

/* A container's link to the bridge: a veth pair whose host end is a port of the bridge and whose
 * other end is created directly inside the container's network namespace. */

/* The host end's name: "v" and 8 hex digits of a hash of "<scope>/<unit>" (scope: the cgroup
 * parent, which tells supd instances apart), so that it is known without asking the kernel,
 * fits IFNAMSIZ and differs between units and instances. */
void veth_name(const char *scope, const char *unit, char ret[IFNAMSIZ]);

/* The MAC address for a container's end, from its IPv4 address: 02:53 (locally administered)
 * and the address's four bytes. An address keeps its MAC across restarts of its container, so the
 * neighbour caches of the host and of the other containers stay right; a random MAC would leave
 * them pointing at the previous container for up to a minute. */
void veth_mac_for(struct in_addr address, uint8_t ret[6]);

/* Creates the pair: name on the host, up, a port of the bridge (with hairpin mode, so that a
 * container can reach its own published ports through the host's addresses), and peer with the
 * MAC address peer_mac inside the network namespace of the process netns_pid, down (the container
 * configures it). A host end of that name left by a previous run, whose namespace the kernel has
 * not torn down yet, is deleted first. */
int veth_create(const char *name, int bridge_ifindex, const char *peer, const uint8_t peer_mac[6], pid_t netns_pid);

/* Deletes the pair by its host end; 0 when it is gone already. -ENOTTY when the interface of that
 * name is no veth. */
int veth_remove(const char *name);

/* A virtual machine's link to the bridge: a tap device called name (a veth_name()), up, a port of
 * the bridge with hairpin mode, IFF_VNET_HDR for virtio-net. It exists while an fd of it is open:
 * *ret_fd (close-on-exec) is for QEMU's -netdev tap,fd=. A veth of that name (the unit ran with
 * process isolation before) is deleted first. */
int tap_create(const char *name, int bridge_ifindex, int *ret_fd);
