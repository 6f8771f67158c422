/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* IPv4 networks in CIDR notation, as the bridge's subnet. Pure functions, no I/O. Addresses are
 * in network byte order in struct in_addr, as the kernel and libnl want them. */

typedef struct Ipv4Net {
        struct in_addr addr; /* the network address: host bits zero */
        unsigned prefix;     /* 0-32 */
} Ipv4Net;

#define IPV4_NET_STRLEN sizeof("255.255.255.255/32")

/* Parses "a.b.c.d/n". -EINVAL for anything else, -EDOM when host bits are set ("10.88.0.1/16":
 * the caller can suggest the network, which *ret holds then). */
int ipv4_net_parse(const char *s, Ipv4Net *ret);
/* "a.b.c.d/n" into buf (IPV4_NET_STRLEN bytes); returns buf. */
char *ipv4_net_format(const Ipv4Net *n, char *buf);

uint32_t ipv4_net_mask(unsigned prefix);  /* host byte order */
uint64_t ipv4_net_size(const Ipv4Net *n); /* addresses in it, 2^(32-prefix) */
bool ipv4_net_contains(const Ipv4Net *n, struct in_addr a);
bool ipv4_net_overlaps(const Ipv4Net *a, const Ipv4Net *b);
/* The address at offset i from the network address (i < ipv4_net_size()). */
struct in_addr ipv4_net_host(const Ipv4Net *n, uint32_t i);
/* The network that address a with this prefix lies in. */
Ipv4Net ipv4_net_of(struct in_addr a, unsigned prefix);

/* IPv6 networks, as the bridge's dual-stack subnet (a /64: docs/networking.md). Host offsets are
 * counted in the low 64 bits, so the functions that take one need a prefix of at least 64. */

typedef struct Ipv6Net {
        struct in6_addr addr; /* the network address: host bits zero */
        unsigned prefix;      /* 0-128 */
} Ipv6Net;

#define IPV6_NET_STRLEN (INET6_ADDRSTRLEN + sizeof("/128"))

/* Parses "addr/n", as ipv4_net_parse(). */
int ipv6_net_parse(const char *s, Ipv6Net *ret);
/* "addr/n" into buf (IPV6_NET_STRLEN bytes); returns buf. */
char *ipv6_net_format(const Ipv6Net *n, char *buf);
bool ipv6_net_contains(const Ipv6Net *n, const struct in6_addr *a);
bool ipv6_net_overlaps(const Ipv6Net *a, const Ipv6Net *b);
/* The network that address a with this prefix lies in. */
Ipv6Net ipv6_net_of(const struct in6_addr *a, unsigned prefix);
/* The address at offset i from the network address (prefix >= 64, i below 2^(128-prefix)). */
struct in6_addr ipv6_net_host(const Ipv6Net *n, uint64_t i);
