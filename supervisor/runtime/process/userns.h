/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lease.h"

/* security.user_namespace: auto. The container gets a user namespace of its own in which uid and
 * gid 0..65535 are a range of host ids nobody else uses: its root is an unprivileged user of the
 * host, whatever it escapes into. The file systems it sees keep their owners through idmapped
 * mounts (mount-util.h), so images, sandboxes and bind mounts need no chown and do not care which
 * range a run got.
 *
 * Ranges are leased host-wide, so that no two units, of one supd or of several, ever share one:
 * a lease (basic/lease.h) is a file per range in USERNS_LEASE_DIR named after its base, holding an
 * flock() for as long as its holder (the unit's monitor) keeps it open. The kernel drops the lock
 * when the holder dies, and /run empties at boot: a lease cannot outlive the processes that use
 * the range. */

#define USERNS_RANGE_SIZE 65536u
/* The pool, 0x00080000..0x6fffffff in ranges of 65536 ids: systemd-nspawn's, above the ids of
 * the host's users and below those systemd gives its dynamic users. */
#define USERNS_POOL_FIRST 0x00080000u
#define USERNS_POOL_END 0x70000000u
#define USERNS_LEASE_DIR "/run/sup-userns"

typedef struct IdRange {
        uint64_t first, count;
} IdRange;

typedef struct UsernsRange {
        uint32_t base; /* the host uid and gid of the container's 0 */
        uint32_t size;
        Lease lease; /* lease.fd < 0: none */
} UsernsRange;

#define USERNS_RANGE_NULL ((UsernsRange){.lease = LEASE_NULL})

/* Adds to *ranges the ids a file of the host uses: passwd and group (the third field: one id
 * each) when subid is false, /etc/subuid and /etc/subgid ("name:first:count") when true.
 * Malformed lines are skipped. Pure: text is the file's content. */
void userns_reserved_parse(const char *text, bool subid, IdRange **ranges, size_t *n);
/* The host's ids that ranges must stay clear of: /etc/passwd, /etc/group, /etc/subuid and
 * /etc/subgid, those that exist. */
void userns_reserved_load(IdRange **ranges, size_t *n);
/* Whether [base, base + size) overlaps none of ranges. */
bool userns_range_is_clear(const IdRange *ranges, size_t n, uint64_t base, uint64_t size);
/* Where a unit's search for a free range starts: a hash of its name, so that a unit gets the same
 * range run after run unless another holds it (its files' owners do not depend on it, but the
 * operator's reading of `ps` does). */
uint32_t userns_first_slot(const char *name);

/* Leases a free range of the pool for name in lease_dir (made if missing), skipping ranges that
 * overlap reserved. -EBUSY when every range is taken. */
int userns_acquire(const char *lease_dir, const char *name, const IdRange *reserved, size_t n_reserved,
                   UsernsRange *ret);
/* Gives the lease back (the file stays, stale; its lock goes). */
void userns_release(UsernsRange *r);

/* Maps 0..size-1 of pid's (new, still unmapped) user namespace to the range, uid and gid alike,
 * after denying setgroups() in it: a process of the namespace cannot drop a supplementary group
 * to get past a file that denies that group. Run by the namespace's creator, from outside. */
int userns_write_maps(pid_t pid, const UsernsRange *r);
