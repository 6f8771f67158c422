/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sup-error.h"
#include "unit-spec.h"

/* The host ports a unit publishes, held by its monitor while it publishes them (as kube-proxy
 * holds the node ports it programs): a socket of the host bound to each port's address and port.
 * Without it a host program listening on a published port would have its clients taken over by
 * the container, silently. With it, a port that something on the host holds already fails the
 * unit's start with the port in the reason, and a later bind() by a host program fails with
 * EADDRINUSE. The sockets see no traffic while the unit's DNAT rules exist: the rules send every
 * new connection for the port to the container first.
 *
 *   host_ports_bind()     before the rules, so that a conflict changes nothing on the host
 *   host_ports_listen()   once the rules are in (TCP only; hostport.c says why not earlier)
 *   host_ports_release()  once the rules are gone
 *
 * On the families the rules publish on: a port on an address holds that address, a port on
 * every address holds 0.0.0.0 and [::] (IPv6 only, so that each family is its own socket). */
typedef struct HostPorts {
        int *fds; /* two per published port, in the spec's order: IPv4, IPv6; -EBADF: not held */
        size_t n; /* ports */
} HostPorts;

/* -EADDRINUSE when something on the host holds a port, with the port named in *ret_error; nothing
 * is held then. Without ipv6 (the host has it off), a port on every address holds 0.0.0.0 only. */
int host_ports_bind(HostPorts *h, const PortSpec *ports, size_t n, bool ipv6, SupError **ret_error);
int host_ports_listen(HostPorts *h, const PortSpec *ports, SupError **ret_error);
void host_ports_release(HostPorts *h);
