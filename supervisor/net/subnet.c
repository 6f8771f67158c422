/* SPDX-License-Identifier: MIT */
#include "subnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

uint32_t ipv4_net_mask(unsigned prefix) {
        return prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
}

/* Splits "addr/n" at the slash into addr (len bytes) and the prefix, plain decimal digits, no
 * sign, no leading zero, at most max. */
static int split_cidr(const char *s, char *addr, size_t len, unsigned max, unsigned *ret_prefix) {
        const char *slash = strchr(s, '/');
        unsigned prefix = 0;
        size_t n;

        if (!slash || (size_t) (slash - s) >= len)
                return -EINVAL;
        n = (size_t) (slash - s);
        memcpy(addr, s, n);
        addr[n] = 0;
        slash++;
        if (!*slash || strlen(slash) > 3 || (slash[0] == '0' && slash[1]))
                return -EINVAL;
        for (const char *p = slash; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                prefix = prefix * 10 + (unsigned) (*p - '0');
        }
        if (prefix > max)
                return -EINVAL;
        *ret_prefix = prefix;
        return 0;
}

int ipv4_net_parse(const char *s, Ipv4Net *ret) {
        char addr[INET_ADDRSTRLEN];
        struct in_addr a;
        unsigned prefix;

        if (split_cidr(s, addr, sizeof(addr), 32, &prefix) < 0 || inet_pton(AF_INET, addr, &a) != 1)
                return -EINVAL;
        *ret = ipv4_net_of(a, prefix);
        return ret->addr.s_addr == a.s_addr ? 0 : -EDOM;
}

char *ipv4_net_format(const Ipv4Net *n, char *buf) {
        char a[INET_ADDRSTRLEN];
        (void) inet_ntop(AF_INET, &n->addr, a, sizeof(a));
        snprintf(buf, IPV4_NET_STRLEN, "%s/%u", a, n->prefix);
        return buf;
}

uint64_t ipv4_net_size(const Ipv4Net *n) {
        return UINT64_C(1) << (32 - n->prefix);
}

bool ipv4_net_contains(const Ipv4Net *n, struct in_addr a) {
        uint32_t mask = ipv4_net_mask(n->prefix);
        return (ntohl(a.s_addr) & mask) == ntohl(n->addr.s_addr);
}

bool ipv4_net_overlaps(const Ipv4Net *a, const Ipv4Net *b) {
        /* Two CIDR blocks overlap exactly when the larger one contains the other's network. */
        return a->prefix <= b->prefix ? ipv4_net_contains(a, b->addr) : ipv4_net_contains(b, a->addr);
}

struct in_addr ipv4_net_host(const Ipv4Net *n, uint32_t i) {
        return (struct in_addr){.s_addr = htonl(ntohl(n->addr.s_addr) + i)};
}

Ipv4Net ipv4_net_of(struct in_addr a, unsigned prefix) {
        return (Ipv4Net){
                .addr = {.s_addr = htonl(ntohl(a.s_addr) & ipv4_net_mask(prefix))},
                .prefix = prefix,
        };
}

/* The prefix's mask over byte i of an address. */
static uint8_t ipv6_mask_byte(unsigned prefix, size_t i) {
        unsigned bits = prefix > i * 8 ? prefix - (unsigned) i * 8 : 0;
        return bits >= 8 ? 0xff : (uint8_t) (0xff00 >> bits);
}

Ipv6Net ipv6_net_of(const struct in6_addr *a, unsigned prefix) {
        Ipv6Net n = {.prefix = prefix};

        for (size_t i = 0; i < 16; i++)
                n.addr.s6_addr[i] = a->s6_addr[i] & ipv6_mask_byte(prefix, i);
        return n;
}

int ipv6_net_parse(const char *s, Ipv6Net *ret) {
        char addr[INET6_ADDRSTRLEN];
        struct in6_addr a;
        unsigned prefix;

        if (split_cidr(s, addr, sizeof(addr), 128, &prefix) < 0 || inet_pton(AF_INET6, addr, &a) != 1)
                return -EINVAL;
        *ret = ipv6_net_of(&a, prefix);
        return memcmp(&ret->addr, &a, sizeof(a)) == 0 ? 0 : -EDOM;
}

char *ipv6_net_format(const Ipv6Net *n, char *buf) {
        char a[INET6_ADDRSTRLEN];
        (void) inet_ntop(AF_INET6, &n->addr, a, sizeof(a));
        snprintf(buf, IPV6_NET_STRLEN, "%s/%u", a, n->prefix);
        return buf;
}

bool ipv6_net_contains(const Ipv6Net *n, const struct in6_addr *a) {
        Ipv6Net x = ipv6_net_of(a, n->prefix);
        return memcmp(&x.addr, &n->addr, sizeof(x.addr)) == 0;
}

bool ipv6_net_overlaps(const Ipv6Net *a, const Ipv6Net *b) {
        return a->prefix <= b->prefix ? ipv6_net_contains(a, &b->addr) : ipv6_net_contains(b, &a->addr);
}

struct in6_addr ipv6_net_host(const Ipv6Net *n, uint64_t i) {
        struct in6_addr a = n->addr;
        uint64_t low = 0;

        for (size_t k = 8; k < 16; k++)
                low = low << 8 | a.s6_addr[k];
        low += i;
        for (size_t k = 16; k-- > 8; low >>= 8)
                a.s6_addr[k] = (uint8_t) low;
        return a;
}
