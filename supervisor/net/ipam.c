/* SPDX-License-Identifier: MIT */
#include "ipam.h"

#include <arpa/inet.h>

#include "macro.h"
#include "sha256.h"

uint32_t ipam_pool_size(const Ipv4Net *n) {
        uint64_t size = ipv4_net_size(n);
        return size > 3 ? (uint32_t) (size - 3) : 0;
}

struct in_addr ipam_candidate(const Ipv4Net *n, uint64_t seed, uint32_t k) {
        uint32_t pool = ipam_pool_size(n);
        /* Offsets 2 .. size-2: past the network address and the gateway, before the broadcast. */
        return ipv4_net_host(n, 2 + (uint32_t) ((seed % pool + k) % pool));
}

uint64_t ipam_seed(const char *owner) {
        uint8_t digest[SHA256_DIGEST_SIZE];
        Sha256 s;
        uint64_t seed = 0;

        sha256_init(&s);
        sha256_update(&s, owner, strlen(owner));
        sha256_final(&s, digest);
        for (size_t i = 0; i < sizeof(seed); i++)
                seed = seed << 8 | digest[i];
        return seed;
}

/* The k-th candidate's lease name for walk(), false past the last. */
typedef bool (*CandidateName)(const void *net, uint64_t seed, uint64_t k, char name[INET6_ADDRSTRLEN]);

/* Takes the first free (or stale) candidate's lease; *ret_k says which. */
static int walk(const char *dir, const void *net, CandidateName candidate, const char *owner, const char *subnet,
                Lease *ret, uint64_t *ret_k, SupError **ret_error) {
        _cleanup_(lease_dir_close) LeaseDir d = LEASE_DIR_NULL;
        uint64_t seed = ipam_seed(owner);
        char name[INET6_ADDRSTRLEN];
        int r;

        r = lease_dir_open(dir, &d, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "cannot lease an address");
        for (uint64_t k = 0; candidate(net, seed, k, name); k++) {
                Lease l = LEASE_NULL;

                r = lease_try_take(&d, name, owner, &l, ret_error);
                if (r < 0)
                        return sup_error_wrap(ret_error, r, "cannot lease an address");
                if (r > 0) {
                        *ret = l;
                        *ret_k = k;
                        return 0;
                }
        }
        return sup_error_make(ret_error, -ENOSPC, "no free address left in the bridge subnet %s", subnet);
}

static bool candidate4(const void *net, uint64_t seed, uint64_t k, char name[INET6_ADDRSTRLEN]) {
        struct in_addr a;

        if (k >= ipam_pool_size(net))
                return false;
        a = ipam_candidate(net, seed, (uint32_t) k);
        (void) inet_ntop(AF_INET, &a, name, INET6_ADDRSTRLEN);
        return true;
}

int ipam_acquire(const char *dir, const Ipv4Net *n, const char *owner, IpamLease *ret, SupError **ret_error) {
        char subnet[IPV4_NET_STRLEN];
        uint64_t k;
        Lease l;
        int r;

        ipv4_net_format(n, subnet);
        r = walk(dir, n, candidate4, owner, subnet, &l, &k, ret_error);
        if (r < 0)
                return r;
        *ret = (IpamLease){.lease = l, .address = ipam_candidate(n, ipam_seed(owner), (uint32_t) k)};
        return 0;
}

uint64_t ipam6_pool_size(const Ipv6Net *n) {
        if (n->prefix < 64 || n->prefix > 126)
                return 0;
        /* 2^(128-prefix) - 2; for a /64, 2^64 - 2 without the overflow. */
        return n->prefix == 64 ? UINT64_MAX - 1 : (UINT64_C(1) << (128 - n->prefix)) - 2;
}

struct in6_addr ipam6_candidate(const Ipv6Net *n, uint64_t seed, uint64_t k) {
        uint64_t pool = ipam6_pool_size(n);
        /* Offsets from 2: past the subnet-router anycast address and the gateway. (seed % pool + k)
         * cannot overflow for k < IPAM6_MAX_TRIES: seed % pool < 2^64 - 2^16 is not guaranteed,
         * hence the two steps. */
        uint64_t start = seed % pool, off = k % pool;
        off = off < pool - start ? start + off : off - (pool - start);
        return ipv6_net_host(n, 2 + off);
}

static bool candidate6(const void *net, uint64_t seed, uint64_t k, char name[INET6_ADDRSTRLEN]) {
        struct in6_addr a;

        if (k >= ipam6_pool_size(net) || k >= IPAM6_MAX_TRIES)
                return false;
        a = ipam6_candidate(net, seed, k);
        (void) inet_ntop(AF_INET6, &a, name, INET6_ADDRSTRLEN);
        return true;
}

int ipam_acquire6(const char *dir, const Ipv6Net *n, const char *owner, IpamLease6 *ret, SupError **ret_error) {
        char subnet[IPV6_NET_STRLEN];
        uint64_t k;
        Lease l;
        int r;

        ipv6_net_format(n, subnet);
        r = walk(dir, n, candidate6, owner, subnet, &l, &k, ret_error);
        if (r < 0)
                return r;
        *ret = (IpamLease6){.lease = l, .address = ipam6_candidate(n, ipam_seed(owner), k)};
        return 0;
}

int ipam_release6(IpamLease6 *l) {
        int r = lease_release(&l->lease);

        *l = IPAM_LEASE6_NULL;
        return r;
}

int ipam_release(IpamLease *l) {
        int r = lease_release(&l->lease);

        *l = IPAM_LEASE_NULL;
        return r;
}
