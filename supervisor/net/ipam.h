/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>

#include "subnet.h"

/* Addresses for the containers on one bridge, handed out as lease files: DIR/<address> (e.g.
 * <state-dir>/ipam/sup0/10.88.0.7) holding the owner's name. Any number of monitors allocate from
 * one directory at once without talking to each other:
 *
 *  - A lease appears whole and already locked: it is written to an unnamed file (O_TMPFILE), which
 *    is flock()ed and only then linked under the address's name. link fails if the name exists, so
 *    exactly one of two monitors racing for an address gets it.
 *  - The flock is the owner's liveness: the monitor keeps the file open while its container has
 *    the address, and the kernel drops the lock when that process dies, however it dies. A lease
 *    whose lock can be taken is stale and is taken over in place (after checking that the name
 *    still refers to the file that was locked: the owner may have just released it).
 *  - Releasing is unlink, then close.
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
        int fd; /* holds the flock that keeps the lease alive; -EBADF: no lease */
        char *path;
        struct in_addr address;
} IpamLease;

#define IPAM_LEASE_NULL ((IpamLease){.fd = -EBADF})

/* Takes the first free (or stale) address of the pool for owner. -ENOSPC: every address is held
 * by a live owner. dir is created when missing. */
int ipam_acquire(const char *dir, const Ipv4Net *n, const char *owner, IpamLease *ret);

/* Gives the address back. Fine on a lease never acquired or already released. */
int ipam_release(IpamLease *l);
