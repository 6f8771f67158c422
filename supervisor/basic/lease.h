/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>

#include "sup-error.h"

/* A lease on a name (an IP address, a range of uids): a file DIR/NAME holding its holder's name,
 * for the operator who looks. Any number of processes take leases in one directory at once without
 * talking to each other; net/ipam.h and runtime/process/userns.h are built on it.
 *
 *  - A lease appears whole and already locked: it is written to an unnamed file (O_TMPFILE), which
 *    is flock()ed and only then linked under the name. link fails if the name exists, so exactly
 *    one of two processes racing for a name gets it, and nobody ever sees a lease file without
 *    its holder's name or without its lock.
 *  - The flock is the holder's liveness: the holder keeps the file open for as long as it holds
 *    the lease, and the kernel drops the lock when that process dies, however it dies (and a
 *    directory on /run empties at boot). A lease whose lock can be taken is stale and is taken
 *    over in place, after checking that the name still refers to the file that was locked: its
 *    holder may have just released it.
 *  - Releasing is unlink, then close: while the lock is still held nobody can take the file
 *    over, so the name removed is the holder's own.
 * Only the lock counts; the file's text is never trusted. */

typedef struct LeaseDir {
        int fd; /* O_PATH; -EBADF: not open */
        char *path;
} LeaseDir;

#define LEASE_DIR_NULL ((LeaseDir){.fd = -EBADF})

typedef struct Lease {
        int fd; /* holds the flock that keeps the lease alive; -EBADF: no lease */
        char *path;
} Lease;

#define LEASE_NULL ((Lease){.fd = -EBADF})

/* Opens the directory of a set of leases, made (0700) when missing. */
int lease_dir_open(const char *path, LeaseDir *ret, SupError **ret_error);
void lease_dir_close(LeaseDir *d);

/* Takes the lease name of d for holder. 1: it is ours (*ret set); 0: a live holder has it (no
 * error: that is an answer); < 0: a failure (the error set). */
int lease_try_take(const LeaseDir *d, const char *name, const char *holder, Lease *ret, SupError **ret_error);

/* Gives the lease back. Fine on a lease never taken or already released. */
int lease_release(Lease *l);
/* Lets go of it without removing the file, as the holder's death would: the lease is stale from
 * then on, and taken over by the next to ask. For a holder's memory freed where unlinking is not
 * its business, and for leases whose files others may open by name without the check that
 * lease_try_take() makes (an older sup's monitors, which outlive an upgrade): such a process could
 * lock a file just unlinked and believe it holds the name. Fine on a lease never taken. */
void lease_abandon(Lease *l);
