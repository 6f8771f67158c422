/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>

#include "unit-spec.h"

/* The capabilities of a workload, in both isolation modes: computed from the unit (a pure
 * function, unit-tested), then applied just before the command is executed (workload.c). */

#define CAP_BIT(c) (UINT64_C(1) << (c))

/* What a unit's workload may hold unless its `security.capabilities` says otherwise: what a
 * process running as root in a container commonly needs (files of any owner, its own users and
 * groups, signals to its own processes, ports below 1024, chroot, file capabilities). It is
 * podman's default allow-list, which is Docker's less NET_RAW (raw packets: spoofing on the
 * bridge), MKNOD (device nodes: nothing but this keeps a workload from making one for a host
 * disk) and AUDIT_WRITE (records in the host's audit log, which is not namespaced).
 * docs/security.md lists it with the reasons. */
#define CAPS_DEFAULT                                                                                  \
        (CAP_BIT(CAP_CHOWN) | CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_FOWNER) | CAP_BIT(CAP_FSETID) | \
         CAP_BIT(CAP_KILL) | CAP_BIT(CAP_SETGID) | CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETPCAP) |       \
         CAP_BIT(CAP_NET_BIND_SERVICE) | CAP_BIT(CAP_SYS_CHROOT) | CAP_BIT(CAP_SETFCAP))

/* Bit n: capability n. */
typedef struct CapSets {
        uint64_t bounding;
        uint64_t effective;
        uint64_t permitted;
        uint64_t inheritable;
        uint64_t ambient;
} CapSets;

/* Every capability of a kernel whose highest is last_cap. */
static inline uint64_t caps_all(unsigned last_cap) {
        return last_cap >= 63 ? UINT64_MAX : CAP_BIT(last_cap + 1) - 1;
}

/* The unit's capability set: the default, or none with `drop: [ALL]`, or all with `add: [ALL]`,
 * plus `add`, less `drop`. */
uint64_t caps_of_unit(const UnitSpec *u, unsigned last_cap);

/* The five sets the workload runs with, for a kernel whose highest capability is last_cap:
 *   bounding     the unit's set: no execve() can give more (a setuid-root binary gets this much
 *                at most, and only with no_new_privileges off);
 *   effective,
 *   permitted    the unit's set for a workload running as root (uid 0 of its namespace); empty
 *                for any other user, which the kernel would leave it with after execve() of a
 *                file without capabilities anyway (there is no `ambient` key to keep them);
 *   inheritable  empty: with it set, a non-root workload could gain capabilities by executing a
 *                file with inheritable file capabilities (CVE-2022-24769 and its siblings);
 *   ambient      empty: units have no key for it.
 * Returns 0, or -EOPNOTSUPP when the unit adds by name a capability this kernel does not have;
 * *unsupported is then that capability (and untouched otherwise). */
int caps_for_unit(const UnitSpec *u, bool root, unsigned last_cap, CapSets *ret, unsigned *unsupported);

/* The highest capability the running kernel knows. */
unsigned caps_last_cap(void);

/* The calling thread's bounding set: what it, and so any workload it starts, can ever hold. Less
 * than every capability where sup itself runs confined (a container, a restricted service). */
uint64_t caps_bounding_held(unsigned last_cap);

/* Drops from the calling thread's bounding set every capability not in keep (needs CAP_SETPCAP).
 * -errno. */
int caps_apply_bounding(uint64_t keep, unsigned last_cap);

/* Sets the effective, permitted and inheritable sets and clears the ambient set (ambient must
 * be 0: nothing sets it). Only lowers what the thread holds. -errno. */
int caps_apply(const CapSets *s, unsigned last_cap);
