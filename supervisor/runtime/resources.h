/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "cgroup.h"
#include "sup-error.h"
#include "unit-spec.h"

/* A unit's resources.* onto its instance's cgroup, at start and on a live update: the policy above
 * runtime/cgroup/cgroup.h's mechanism.
 *
 * What the host cannot enforce:
 *  - memory, cpus, pids: the start fails with the reason (no controller, no CFS bandwidth, a write
 *    the kernel refuses). A limit the operator set that silently does not hold is worse than a
 *    unit that does not start.
 *  - swap off (with a memory limit): where the kernel does not account swap, a note in the log;
 *    the RAM limit holds (docs/unit-format.md says what then happens to swap).
 *  - io_weight: a note in the log. It is a share among competing cgroups, not a bound, and
 *    needs an I/O scheduler that weighs cgroups (blk-iocost or BFQ), which many hosts lack.
 *
 * hyperv (the cgroup is QEMU's): memory is guest RAM + overhead, which runtime/vm/vm.c sets, never
 * this; cpus is a CPU quota on QEMU under KVM only (under TCG, emulation costs many host cycles
 * per guest cycle: a quota of 0.25 CPU would starve the guest's boot; its vCPUs bound it); pids is
 * left alone here (QEMU's threads are not the workload's tasks): sup-init enforces it with the
 * guest kernel's own pids cgroup (guest/guest-cgroup.h);
 * io_weight as for containers. None of these fails a hyperv start: the VM's own bounds hold. */

typedef enum ResourcesTarget {
        RESOURCES_CONTAINER,
        RESOURCES_QEMU_KVM,
        RESOURCES_QEMU_TCG,
} ResourcesTarget;

/* Writes u's limits. Returns 0 with the notes to log in *ret_notes (a strv, NULL when none), or a
 * negative errno with the reason in *ret_error ("resources.memory: ..."). */
int resources_apply(const Cgroup *cg, const UnitSpec *u, ResourcesTarget target, char ***ret_notes,
                    SupError **ret_error);
