/* SPDX-License-Identifier: MIT */
#include "resources.h"

#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"

static void note(char ***notes, const char *fmt, ...) _printf_(2, 3);
static void note(char ***notes, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        strv_push(notes, xvasprintf(fmt, ap));
        va_end(ap);
}

static int refuse(SupError **ret_error, int r, const char *key, const char *what) {
        if (r == -EOPNOTSUPP)
                return sup_error_make(ret_error, r, "resources.%s: the host cannot enforce it: %s", key, what);
        return sup_error_errno(ret_error, r, "resources.%s: the kernel refused it", key);
}

static int apply_memory(const Cgroup *cg, const UnitSpec *u, char ***notes, SupError **ret_error) {
        _cleanup_free_ char *size = NULL;
        CgroupSwap swap = CGROUP_SWAP_NA;
        int r;

        r = cgroup_set_memory(cg, u->resources.memory, &swap);
        if (r < 0)
                return refuse(ret_error, r, "memory",
                              "no memory controller in the instance's cgroup (v2: not enabled in its parents' "
                              "cgroup.subtree_control; v1: not mounted)");
        size = u->resources.memory ? format_size(u->resources.memory) : NULL;
        switch (swap) {
        case CGROUP_SWAP_SWAPPINESS:
                note(notes,
                     "resources.memory: %s of RAM; the kernel does not account swap (no "
                     "memory.memsw.limit_in_bytes): memory.swappiness 0 keeps the cgroup's own reclaim "
                     "off swap, the host may still swap it out",
                     size);
                break;
        case CGROUP_SWAP_UNCONTROLLED:
                note(notes,
                     "resources.memory: %s of RAM; the kernel does not account swap (no memory.swap.max): "
                     "the workload may swap beyond it if the host has swap",
                     size);
                break;
        case CGROUP_SWAP_OFF:
        case CGROUP_SWAP_NA:
                break;
        }
        return 0;
}

int resources_apply(const Cgroup *cg, const UnitSpec *u, ResourcesTarget target, char ***ret_notes,
                    SupError **ret_error) {
        _cleanup_strv_free_ char **notes = NULL;
        const char *file = NULL;
        bool qemu = target != RESOURCES_CONTAINER;
        int r;

        if (!qemu) {
                r = apply_memory(cg, u, &notes, ret_error);
                if (r < 0)
                        return r;
        }

        if (target == RESOURCES_QEMU_TCG) {
                if (u->resources.cpus_milli) {
                        _cleanup_free_ char *cpus = format_cpus(u->resources.cpus_milli);
                        note(&notes,
                             "resources.cpus %s: no CPU quota on QEMU under TCG, whose emulation takes "
                             "many host cycles per guest cycle; the guest's vCPUs bound it",
                             cpus);
                }
        } else {
                r = cgroup_set_cpus(cg, u->resources.cpus_milli);
                if (r < 0 && !qemu)
                        return refuse(ret_error, r, "cpus",
                                      "no cpu controller, or no CFS bandwidth control, in the instance's cgroup");
                if (r < 0)
                        note(&notes, "resources.cpus: no CPU quota on QEMU (%s); the guest's vCPUs bound it",
                             strerror(-r));
        }

        if (!qemu) {
                r = cgroup_set_pids_max(cg, u->resources.pids);
                if (r < 0)
                        return refuse(ret_error, r, "pids", "no pids controller in the instance's cgroup");
        }

        r = cgroup_set_io_weight(cg, u->resources.io_weight, &file);
        if (r == -EOPNOTSUPP)
                note(&notes,
                     "resources.io_weight %" PRIu32 ": not applied, the host has no I/O weight (neither "
                     "blk-iocost's io.weight nor BFQ's weight file)",
                     u->resources.io_weight);
        else if (r < 0)
                note(&notes, "resources.io_weight %" PRIu32 ": not applied: %s", u->resources.io_weight, strerror(-r));
        else if (u->resources.io_weight && file && strstr(file, "bfq"))
                note(&notes,
                     "resources.io_weight %" PRIu32 ": written to %s, which weighs I/O on block devices "
                     "whose scheduler is bfq only",
                     u->resources.io_weight, file);

        *ret_notes = TAKE_PTR(notes);
        return 0;
}
