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

int ipam_acquire(const char *dir, const Ipv4Net *n, const char *owner, IpamLease *ret, SupError **ret_error) {
        _cleanup_(lease_dir_close) LeaseDir d = LEASE_DIR_NULL;
        uint32_t pool = ipam_pool_size(n);
        uint64_t seed = ipam_seed(owner);
        char subnet[IPV4_NET_STRLEN];
        int r;

        if (pool == 0)
                return sup_error_make(ret_error, -ENOSPC, "no free address left in the bridge subnet %s",
                                      ipv4_net_format(n, subnet));
        r = lease_dir_open(dir, &d, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "cannot lease an address");

        for (uint32_t k = 0; k < pool; k++) {
                struct in_addr a = ipam_candidate(n, seed, k);
                char name[INET_ADDRSTRLEN];
                Lease l = LEASE_NULL;

                (void) inet_ntop(AF_INET, &a, name, sizeof(name));
                r = lease_try_take(&d, name, owner, &l, ret_error);
                if (r < 0)
                        return sup_error_wrap(ret_error, r, "cannot lease an address");
                if (r > 0) {
                        *ret = (IpamLease){.lease = l, .address = a};
                        return 0;
                }
        }
        return sup_error_make(ret_error, -ENOSPC, "no free address left in the bridge subnet %s",
                              ipv4_net_format(n, subnet));
}

int ipam_release(IpamLease *l) {
        int r = lease_release(&l->lease);

        *l = IPAM_LEASE_NULL;
        return r;
}
