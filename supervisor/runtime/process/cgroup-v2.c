/* SPDX-License-Identifier: MIT */
/* The v2 backend: one directory in the unified hierarchy, with sup's controllers delegated to it
 * through the subtree_control of every cgroup above it. */
#include <fcntl.h>
#include <signal.h>

#include "alloc.h"
#include "cgroup-internal.h"
#include "macro.h"

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

int cgroup_v2_create_dirs(Cgroup *cg, const char *root, const char *parent, const char *name,
                          const char *const *controllers) {
        _cleanup_free_ char *leaf = NULL, *available = NULL;
        int r;

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

static int v2_create(Cgroup *cg, const char *root, const char *parent, const char *name) {
        return cgroup_v2_create_dirs(cg, root, parent, name, v2_default_controllers);
}

static int v2_open_fd(const Cgroup *cg) {
        int fd = open(cgroup_path(cg), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
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

const CgroupBackend cgroup_backend_v2 = {
        .version = CGROUP_V2,
        .create = v2_create,
        .open_fd = v2_open_fd,
        .kill = v2_kill,
        .is_empty = v2_is_empty,
        .oom_kill_file = "memory.events",
        .memory_max_file = "memory.max",
};
