/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "sup-error.h"

/* resources.pids in a guest, enforced as process isolation enforces it: by a pids cgroup around
 * the unit's processes, here the guest kernel's (QEMU's threads on the host are not the workload's
 * tasks). sup-init mounts the guest's cgroup2 where the workload does not see it, makes one cgroup
 * with pids.max and moves itself into it, so that the command and every exec it forks afterwards
 * are in it from their first instruction, as process isolation's init, command and execs are in
 * the instance's cgroup: a fork bomb gets EAGAIN at the same count in both modes. */

/* Where sup-init mounts cgroup2: in the initramfs, under the container's root once that is moved
 * over it, so the workload's /sys/fs/cgroup stays empty as a process container's. */
#define GUEST_CGROUP_MOUNT "/run/sup/cgroup"
#define GUEST_CGROUP_UNIT  "unit"

/* pids_max 0: no limit (pids.max stays "max"); a guest kernel without cgroup2 or its pids
 * controller is then fine, and refused when a limit is asked for. Last, sup-init enters a cgroup
 * namespace rooted there (its children inherit it). */
int guest_cgroup_enter(uint64_t pids_max, SupError **ret_error);
