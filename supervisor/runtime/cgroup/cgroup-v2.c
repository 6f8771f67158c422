/* SPDX-License-Identifier: MIT */
/* The v2 backend: one directory in the unified hierarchy, with sup's controllers delegated to it
 * through the subtree_control of every cgroup above it. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "macro.h"
#include "string-util.h"

static const char *const v2_controller_names[_CGROUP_CONTROLLER_MAX] = {
        [CGROUP_CONTROLLER_MEMORY] = "memory",
        [CGROUP_CONTROLLER_PIDS] = "pids",
        [CGROUP_CONTROLLER_CPU] = "cpu",
        [CGROUP_CONTROLLER_IO] = "io",
};

static const char *const v2_default_controllers[] = {"memory", "pids", "cpu", "io", NULL};

/* Enables in dir's cgroup.subtree_control those of the wanted controllers that dir has (its
 * cgroup.controllers), so that its children have them. Only parents get this: a cgroup with
 * controllers in its subtree_control may hold no processes itself, and the leaf holds them.
 *
 * A controller the kernel refuses here is left out rather than failing the instance: EBUSY when
 * dir holds processes (someone put them into a parent), EINVAL or EOPNOTSUPP when it cannot be
 * enabled there (a threaded subtree, cpu next to realtime tasks), ENOENT when it went away. The
 * leaf then lacks it, which its controller mask records and which setting a limit on it reports. */
static int enable_controllers(const char *dir, void *userdata) {
        const char *const *want = userdata;
        _cleanup_free_ char *available = NULL, *enabled = NULL;
        int r;

        r = cgroup_read_file(dir, "cgroup.controllers", &available);
        if (r < 0)
                return r;
        r = cgroup_read_file(dir, "cgroup.subtree_control", &enabled);
        if (r < 0)
                return r;
        for (const char *const *w = want; *w; w++) {
                _cleanup_free_ char *op = NULL;

                if (!cgroup_words_contain(available, *w) || cgroup_words_contain(enabled, *w))
                        continue;
                /* One controller per write: one the kernel refuses must not take the others along. */
                op = xasprintf("+%s", *w);
                r = cgroup_write_file(dir, "cgroup.subtree_control", op);
                if (r == -EBUSY || r == -EINVAL || r == -ENOENT || r == -EOPNOTSUPP)
                        continue;
                if (r < 0)
                        return r;
        }
        return 0;
}

static unsigned controllers_mask(const char *words) {
        unsigned mask = 0;

        for (CgroupController c = 0; c < _CGROUP_CONTROLLER_MAX; c++)
                if (v2_controller_names[c] && cgroup_words_contain(words, v2_controller_names[c]))
                        mask |= CGROUP_CONTROLLER_BIT(c);
        return mask;
}

static int v2_create(Cgroup *cg, const char *root, const char *parent, const char *name, const char *const *controllers,
                     CgroupCreateMode mode) {
        _cleanup_free_ char *leaf = NULL, *available = NULL;
        int r;

        if (!controllers)
                controllers = v2_default_controllers;
        if (mode == CGROUP_OPEN)
                r = cgroup_existing_path(root, parent, name, &leaf);
        else
                r = cgroup_make_path(root, parent, name, enable_controllers, (void *) controllers, &leaf);
        if (r < 0)
                return r;
        r = cgroup_read_file(leaf, "cgroup.controllers", &available);
        if (r < 0)
                return r;
        cgroup_add_hierarchy(cg, TAKE_PTR(leaf), controllers_mask(available), true);
        cg->tracking = 0;
        return 0;
}

static int v2_open_fd(const Cgroup *cg) {
        return cgroup_open_path(cgroup_path(cg), O_RDONLY | O_DIRECTORY);
}

static int v2_kill(const Cgroup *cg, int sig) {
        int r;

        if (sig == SIGKILL) {
                /* The kernel kills the whole subtree at once, forks in flight included. */
                r = cgroup_write_file(cgroup_path(cg), "cgroup.kill", "1");
                if (r != -ENOENT) /* -ENOENT: a kernel before 5.14 */
                        return r;
        }
        return cgroup_signal_all(cg, sig);
}

static int v2_is_empty(const Cgroup *cg, bool *ret) {
        uint64_t populated;
        int r;

        /* "populated" covers the cgroups below too, and drops when the last task exits, before
         * anyone reaps it. */
        r = cgroup_read_keyed(cgroup_path(cg), "cgroup.events", "populated", &populated);
        if (r < 0)
                return r;
        *ret = populated == 0;
        return 0;
}

static int v2_set_memory(const char *dir, uint64_t bytes, CgroupSwap *ret_swap) {
        char value[32] = "max";
        int r;

        if (bytes > 0)
                (void) snprintf(value, sizeof(value), "%" PRIu64, bytes);
        /* Below what the workload uses, the kernel reclaims, and OOM-kills when it cannot: the
         * write itself succeeds. */
        r = cgroup_write_file(dir, "memory.max", value);
        if (r < 0)
                return cgroup_missing_is_unsupported(r);
        /* memory.swap.max is a limit of its own, beside memory.max: 0 keeps the workload off swap
         * entirely. It is missing where the kernel does not account swap (CONFIG_MEMCG_SWAP off,
         * or swapaccount=0). */
        r = cgroup_write_file(dir, "memory.swap.max", bytes > 0 ? "0" : "max");
        if (r == -ENOENT) {
                *ret_swap = bytes > 0 ? CGROUP_SWAP_UNCONTROLLED : CGROUP_SWAP_NA;
                return 0;
        }
        if (r < 0)
                return r;
        *ret_swap = bytes > 0 ? CGROUP_SWAP_OFF : CGROUP_SWAP_NA;
        return 0;
}

static int v2_set_cpus(const char *dir, uint32_t milli) {
        _cleanup_free_ char *now = NULL;
        uint64_t quota, period;
        char value[64];
        int r;

        if (milli == 0) {
                /* Unlimited already (any period): nothing to write (cgroup_write_file_changed()
                 * says why that matters). "max" alone keeps the period as it is. */
                if (cgroup_read_file(dir, "cpu.max", &now) >= 0 && startswith(now, "max "))
                        return 0;
                return cgroup_missing_is_unsupported(cgroup_write_file(dir, "cpu.max", "max"));
        }
        cgroup_cpu_bandwidth(milli, &quota, &period);
        (void) snprintf(value, sizeof(value), "%" PRIu64 " %" PRIu64, quota, period);
        r = cgroup_write_file_changed(dir, "cpu.max", value);
        return r < 0 ? cgroup_missing_is_unsupported(r) : 0;
}

/* blk-iocost's io.weight, on the unit's own scale; else BFQ's, a bare number (older kernels take no
 * "default"). */
static const CgroupIoWeightFile v2_io_weight_files[] = {
        {"io.weight", CGROUP_IO_SCALE_V2, "default %u"},
        {"io.bfq.weight", CGROUP_IO_SCALE_BFQ, "%u"},
        {},
};

static void v2_get_stats(const Cgroup *cg, CgroupStats *s) {
        const char *memory = cgroup_controller_path(cg, CGROUP_CONTROLLER_MEMORY);

        if (memory && cgroup_read_u64(memory, "memory.current", &s->memory_current) >= 0)
                (void) cgroup_read_u64(memory, "memory.max", &s->memory_max);
        /* cpu.stat is a core file: usage_usec is there with or without the cpu controller. */
        (void) cgroup_read_keyed(cgroup_path(cg), "cpu.stat", "usage_usec", &s->cpu_usec);
}

static int v2_probe(const char *root, const struct statfs *fs) {
        return fs->f_type == CGROUP2_SUPER_MAGIC;
}

const CgroupBackend cgroup_backend_v2 = {
        .version = CGROUP_V2,
        .probe = v2_probe,
        .create = v2_create,
        .open_fd = v2_open_fd,
        .kill = v2_kill,
        .is_empty = v2_is_empty,
        .oom_kill_file = "memory.events",
        .memory_max_file = "memory.max",
        .set_memory = v2_set_memory,
        .set_cpus = v2_set_cpus,
        .io_weight_files = v2_io_weight_files,
        .get_stats = v2_get_stats,
};
