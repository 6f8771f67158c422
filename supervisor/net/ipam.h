/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>

#include "lease.h"
#include "subnet.h"
#include "sup-error.h"

/* Addresses for the containers on one bridge, handed out as leases (basic/lease.h): DIR/<address>
 * (e.g. <state-dir>/ipam/sup0/10.88.0.7) holding the owner's name. Any number of monitors allocate
 * from one directory at once without talking to each other; the lease's flock is the owner's
 * liveness (the monitor keeps it while its container has the address), and a lease whose owner
 * died is taken over.
 *
 * Which address to try first comes from a hash of the owner's name, so a unit gets the same
 * address across restarts whenever it is still free. */

/* The pool: the subnet without its network address, the gateway (the first host address, the
 * bridge's own) and the broadcast address. 0 when there is no room (/31, /32). */
uint32_t ipam_pool_size(const Ipv4Net *n);

/* The k-th address (k < the pool size) to try for an owner whose preference is seed: a walk over
 * the whole pool, each address once, starting at the place the seed picks. */
struct in_addr ipam_candidate(const Ipv4Net *n, uint64_t seed, uint32_t k);
uint64_t ipam_seed(const char *owner);

typedef struct IpamLease {
        Lease lease; /* lease.fd < 0: no address */
        struct in_addr address;
} IpamLease;

#define IPAM_LEASE_NULL ((IpamLease){.lease = LEASE_NULL})

/* Takes the first free (or stale) address of the pool for owner. -ENOSPC: every address is held
 * by a live owner. dir is created when missing. */
int ipam_acquire(const char *dir, const Ipv4Net *n, const char *owner, IpamLease *ret, SupError **ret_error);

/* Gives the address back. Fine on a lease never acquired or already released. */
int ipam_release(IpamLease *l);

/* IPv6 (the bridge's /64, beside the IPv4 subnet): leases in the same directory, named by the
 * address (DIR/fd53:...::7). The pool is the subnet without its first two addresses (the
 * subnet-router anycast address and the gateway); IPv6 has no broadcast address. A /64 holds
 * 2^64 - 2: a walk over all of it cannot end, so ipam_acquire6() tries the first
 * IPAM6_MAX_TRIES candidates only, which is more than a bridge has ports. */
#define IPAM6_MAX_TRIES 65536U

uint64_t ipam6_pool_size(const Ipv6Net *n); /* n->prefix from 64 to 126; 0 otherwise */
struct in6_addr ipam6_candidate(const Ipv6Net *n, uint64_t seed, uint64_t k);

typedef struct IpamLease6 {
        Lease lease; /* lease.fd < 0: no address */
        struct in6_addr address;
} IpamLease6;

#define IPAM_LEASE6_NULL ((IpamLease6){.lease = LEASE_NULL})

int ipam_acquire6(const char *dir, const Ipv6Net *n, const char *owner, IpamLease6 *ret, SupError **ret_error);
int ipam_release6(IpamLease6 *l);
