/* SPDX-License-Identifier: MIT */
#include "subnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

uint32_t ipv4_net_mask(unsigned prefix) {
        return prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
}

int ipv4_net_parse(const char *s, Ipv4Net *ret) {
        char addr[INET_ADDRSTRLEN];
        const char *slash = strchr(s, '/');
        struct in_addr a;
        unsigned prefix = 0;
        size_t n;

        if (!slash || (size_t) (slash - s) >= sizeof(addr))
                return -EINVAL;
        n = (size_t) (slash - s);
        memcpy(addr, s, n);
        addr[n] = 0;
        if (inet_pton(AF_INET, addr, &a) != 1)
                return -EINVAL;
        /* Plain decimal digits, no sign, no leading zero, at most 32. */
        slash++;
        if (!*slash || strlen(slash) > 2 || (slash[0] == '0' && slash[1]))
                return -EINVAL;
        for (const char *p = slash; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                prefix = prefix * 10 + (unsigned) (*p - '0');
        }
        if (prefix > 32)
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
