/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "subnet.h"
#include "sup-error.h"
#include "unit-spec.h"

/* The nftables table of one supd instance ("table inet <bridge name>"), which publishes ports and
 * keeps the bridge's traffic in bounds:
 *
 *   guard        (filter, prerouting, raw)  drops packets for 127.0.0.0/8 and ::1 that arrive on
 *                any interface but lo, before the DNAT could send a loopback-published port's to a
 *                container (and route_localnet, which published ports need on the bridge, let
 *                them in)
 *   forward      (filter, forward)          forwarding through the host to or from the bridge is
 *                for published ports only (connections that were DNATed), and with outbound
 *                (supd's, on by default) for connections the containers open and their replies;
 *                inside the bridge free
 *   forward_guard (filter, forward)        only where sup switched forwarding on (attachment.c): drops
 *                what is forwarded between interfaces none of which is a sup bridge, which the host
 *                did not forward before; left alone where the admin had it on
 *   postrouting  (nat, postrouting)         masquerades what reaches a container from 127.0.0.0/8
 *                (local access to a published port) or, through a published port, from another
 *                container (hairpin), so that the replies come back through the host; with
 *                outbound, what the containers send beyond the bridge (IPv4 and IPv6)
 *   dnat_<unit>                             the unit's DNAT rules, one or two per published port
 *   pre_<unit>   (nat, prerouting, dstnat)  jump to dnat_<unit> for the host's own addresses
 *   out_<unit>   (nat, output, dstnat)      the same for connections made on the host itself,
 *                but to ::1: the kernel cannot route a packet from ::1 off the host (IPv6 has
 *                no route_localnet); those reach the monitor's proxy (hostport.h)
 *   egress_<unit> (filter, forward, -1)     a unit with outbound: false: drops what its addresses
 *                send beyond the bridge, but for replies on its published ports
 *   spoof_<unit> (table bridge <name>: filter, prerouting)  every bridged unit: drops what its
 *                veth or tap sends from an address not its own (portmap_script_spoof())
 *
 * The shared chains are the same whoever writes them, and every monitor writes them again
 * (flush and refill, in one transaction) when its container starts, so nothing depends on who came
 * first. A unit's chains carry its name (unit names have no "_"), so a monitor removes exactly its
 * own, and one that crashed has its leftovers replaced when the unit starts again.
 *
 * The script builders are pure (and unit-tested); portmap_apply() runs one through nft. */

typedef struct PortmapTable {
        const char *name; /* the table's, in the inet family */
        const char *bridge;
        Ipv4Net subnet;
        Ipv6Net subnet6;
        bool outbound; /* supd's: containers may open connections beyond the bridge */
        bool guard;    /* sup switched IPv4 forwarding on: forward_guard drops what passes no bridge */
        bool guard6;   /* ... IPv6 forwarding */
} PortmapTable;

/* The shared chains, stated again. */
char *portmap_script_base(const PortmapTable *t);
/* The unit's chains, flushed and filled with its ports, forwarded to its addresses to and to6
 * (NULL: the host has IPv6 off, no IPv6 rules), and with outbound false (the unit's key), its
 * egress chain. */
char *portmap_script_publish(const PortmapTable *t, const char *unit, const PortSpec *ports, size_t n,
                             struct in_addr to, const struct in6_addr *to6, bool outbound);
/* Whether a unit needs chains of its own (published ports, or outbound off), and so forwarding. */
bool portmap_unit_has_chains(const PortmapTable *t, size_t n_ports, bool outbound);
/* Every bridged unit's anti-spoofing chain, spoof_<unit> in "table bridge <name>" (filter,
 * prerouting, which sees frames between two containers too): what comes from its veth or tap
 * ifname with a source address other than its own (addr, and addr6 unless NULL, or link-local
 * or :: for neighbour discovery) is dropped, so that outbound: false, which goes by source
 * address, cannot be dodged with another one, and no container speaks as another; and its router
 * advertisements, whose link-local source passes, so that none poses as the others' router. */
char *portmap_script_spoof(const PortmapTable *t, const char *unit, const char *ifname, struct in_addr addr,
                           const struct in6_addr *addr6);
/* The unit's chains removed (whether they exist or not), spoof_<unit> too. */
char *portmap_script_unpublish(const PortmapTable *t, const char *unit);
/* The whole table removed (whether it exists or not), and the bridge family's of the same name. */
char *portmap_script_drop(const PortmapTable *t);

/* Refuses (-EAFNOSUPPORT) ports that cannot be published: UDP on ::1, which the kernel cannot
 * NAT to a container (out_<unit> above) and the relay (relay.h) does not carry. */
int portmap_check(const PortSpec *ports, size_t n, SupError **ret_error);

/* Runs the script through nft; see nft_run(). */
int portmap_apply(const char *script, SupError **ret_error);
