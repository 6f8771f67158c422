/* SPDX-License-Identifier: MIT */
/* The common part of the cgroup backends: detection, dispatch, and what works the same on every
 * hierarchy (attach, listing, signalling by pid, removal). */
#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "alloc.h"
#include "cgroup-internal.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"

static bool component_is_valid(const char *s, size_t n) {
        if (n == 0 || n > NAME_MAX)
                return false;
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                return false;
        return true;
}

/* parent: relative, clean ("sup", "sup-1a2b/inner"); name: one component. Anything else could
 * reach outside the hierarchy or name another instance's directory. */
static bool names_are_valid(const char *parent, const char *name) {
        if (!parent || !name || parent[0] == '/')
                return false;
        for (const char *c = parent;;) {
                const char *end = strchrnul(c, '/');
                if (!component_is_valid(c, (size_t) (end - c)))
                        return false;
                if (!*end)
                        break;
                c = end + 1;
        }
        return !strchr(name, '/') && component_is_valid(name, strlen(name));
}

/* Asked in this order: a cgroup2 mount is v2 whatever else exists; a tmpfs of v1 mounts (legacy,
 * or hybrid with an empty cgroup2 beside them) is v1. */
static const CgroupBackend *const cgroup_backends[] = {&cgroup_backend_v2, &cgroup_backend_v1};

static int detect_backend(const char *root, const CgroupBackend **ret) {
        struct statfs fs;
        int r;

        if (!root)
                return -EINVAL;
        r = cgroup_stat(root, NULL, &fs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(cgroup_backends); i++) {
                r = cgroup_backends[i]->probe(root, &fs);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = cgroup_backends[i];
                        return 0;
                }
        }
        return -ENOMEDIUM;
}

int cgroup_detect(const char *root, CgroupVersion *ret) {
        const CgroupBackend *b;
        int r = detect_backend(root, &b);

        if (r < 0)
                return r;
        *ret = b->version;
        return 0;
}

/* v2_controllers: NULL for the backend's own choice, else v2 only, with these controllers. */
static int create_full(const char *root, const char *parent, const char *name, const char *const *v2_controllers,
                       CgroupCreateMode mode, Cgroup **ret) {
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        const CgroupBackend *b;
        int r;

        if (!names_are_valid(parent, name))
                return -EINVAL;
        cgroup_anchor(root);
        r = detect_backend(root, &b);
        if (r < 0)
                return r;

        /* A failure half-way leaves the directories made so far: harmless and empty, and the next
         * attempt opens them. */
        cg = cgroup_new(b);
        r = b->create(cg, root, parent, name, v2_controllers, mode);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(cg);
        return 0;
}

int cgroup_create(const char *root, const char *parent, const char *name, Cgroup **ret) {
        return create_full(root, parent, name, NULL, CGROUP_CREATE, ret);
}

int cgroup_create_own(const char *root, const char *parent, const char *name, Cgroup **ret) {
        return create_full(root, parent, name, NULL, CGROUP_CREATE_OWN, ret);
}

int cgroup_open(const char *root, const char *parent, const char *name, Cgroup **ret) {
        return create_full(root, parent, name, NULL, CGROUP_OPEN, ret);
}

int cgroup_create_v2_with(const char *root, const char *parent, const char *name, const char *const *controllers,
                          Cgroup **ret) {
        return create_full(root, parent, name, controllers, CGROUP_CREATE, ret);
}

CgroupVersion cgroup_version(const Cgroup *cg) {
        return cg->backend->version;
}

int cgroup_open_fd(const Cgroup *cg) {
        return cg->backend->open_fd(cg);
}

/* Moves pid into the cgroup of every hierarchy, or with suffix ("/PARENT/NAME") into the root
 * cgroup of each: the hierarchy's path without it. */
static int move_pid(const Cgroup *cg, const char *suffix, pid_t pid) {
        size_t k = suffix ? strlen(suffix) : 0;
        char buf[32];
        int r;

        if (pid <= 0)
                return -EINVAL;
        (void) snprintf(buf, sizeof(buf), "%d", (int) pid);
        for (size_t i = 0; i < cg->n_hierarchies; i++) {
                const char *path = cg->hierarchies[i].path;
                size_t n = strlen(path);
                _cleanup_free_ char *dir = NULL;

                if (n <= k || !streq(path + n - k, suffix ?: ""))
                        return -EINVAL;
                dir = xstrndup(path, n - k);
                r = cgroup_write_file(dir, "cgroup.procs", buf);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_attach(const Cgroup *cg, pid_t pid) {
        return move_pid(cg, NULL, pid);
}

int cgroup_leave(const Cgroup *cg, const char *parent, const char *name, pid_t pid) {
        _cleanup_free_ char *suffix = xasprintf("/%s/%s", parent, name);
        return move_pid(cg, suffix, pid);
}

int cgroup_kill(const Cgroup *cg, int sig) {
        if (sig <= 0 || sig >= _NSIG)
                return -EINVAL;
        return cg->backend->kill(cg, sig);
}

int cgroup_is_empty(const Cgroup *cg, bool *ret) {
        return cg->backend->is_empty(cg, ret);
}

/* Removes dir and the child cgroups a workload may have made below it, deepest first. cgroupfs
 * directories are removed with rmdir() alone, control files and all. */
static int remove_tree(const char *dir) {
        _cleanup_strv_free_ char **children = NULL;
        int r, ret = 0;

        r = cgroup_list_subdirs(dir, &children);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        STRV_FOREACH(c, children) {
                _cleanup_free_ char *sub = path_join(dir, *c);
                r = remove_tree(sub);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        r = cgroup_rmdir(dir);
        if (r < 0 && r != -ENOENT)
                return ret < 0 ? ret : r;
        return ret;
}

int cgroup_destroy(const Cgroup *cg) {
        bool empty;
        int r, ret = 0;

        r = cgroup_is_empty(cg, &empty);
        if (r == -ENOENT) /* removed already, on the hierarchy that tells */
                empty = true;
        else if (r < 0)
                return r;
        if (!empty)
                return -EBUSY;

        /* On every hierarchy, even after a failure: what can go, goes. The parents stay, other
         * instances use them; supd removes its own when it ends. */
        for (size_t i = 0; i < cg->n_hierarchies; i++) {
                r = remove_tree(cg->hierarchies[i].path);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

int cgroup_oom_kills(const Cgroup *cg, uint64_t *ret) {
        const char *memory = cgroup_controller_path(cg, CGROUP_CONTROLLER_MEMORY);
        int r;

        if (!memory) {
                *ret = 0;
                return 0;
        }
        r = cgroup_read_keyed(memory, cg->backend->oom_kill_file, "oom_kill", ret);
        if (r == -ENXIO) /* the line came with kernel 4.13, on both */
                return -EOPNOTSUPP;
        return r;
}

int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes) {
        const char *memory = cgroup_controller_path(cg, CGROUP_CONTROLLER_MEMORY);
        char value[32];

        if (!memory)
                return -EOPNOTSUPP;
        if (bytes == 0)
                snprintf(value, sizeof(value), cg->backend->version == CGROUP_V2 ? "max" : "-1");
        else
                snprintf(value, sizeof(value), "%" PRIu64, bytes);
        return cgroup_write_file(memory, cg->backend->memory_max_file, value);
}

/* --- limits --- */

/* The directory of controller c; a missing one is an error only when a limit is wanted. */
static int limit_dir(const Cgroup *cg, CgroupController c, bool wanted, const char **ret) {
        *ret = cgroup_controller_path(cg, c);
        if (*ret)
                return 1;
        return wanted ? -EOPNOTSUPP : 0;
}

int cgroup_set_memory(const Cgroup *cg, uint64_t bytes, CgroupSwap *ret_swap) {
        CgroupSwap swap = CGROUP_SWAP_NA;
        const char *dir;
        int r;

        r = limit_dir(cg, CGROUP_CONTROLLER_MEMORY, bytes > 0, &dir);
        if (r <= 0)
                return r;
        r = cg->backend->set_memory(dir, bytes, &swap);
        if (r < 0)
                return r;
        if (ret_swap)
                *ret_swap = swap;
        return 0;
}

int cgroup_set_cpus(const Cgroup *cg, uint32_t milli) {
        const char *dir;
        int r;

        r = limit_dir(cg, CGROUP_CONTROLLER_CPU, milli > 0, &dir);
        if (r <= 0)
                return r;
        return cg->backend->set_cpus(dir, milli);
}

int cgroup_set_pids_max(const Cgroup *cg, uint64_t n) {
        char value[32] = "max";
        const char *dir;
        int r;

        r = limit_dir(cg, CGROUP_CONTROLLER_PIDS, n > 0, &dir);
        if (r <= 0)
                return r;
        if (n > 0)
                (void) snprintf(value, sizeof(value), "%" PRIu64, n);
        return cgroup_missing_is_unsupported(cgroup_write_file(dir, "pids.max", value));
}

uint32_t cgroup_io_weight_scale(uint32_t weight, CgroupIoScale scale) {
        /* {minimum, default, maximum} of each scale; v2's is the unit's. */
        static const uint32_t ranges[][3] = {
                [CGROUP_IO_SCALE_V2] = {1, 100, 10000},
                [CGROUP_IO_SCALE_BFQ] = {1, 100, 1000},
                [CGROUP_IO_SCALE_BLKIO] = {10, 500, 1000},
        };
        const uint32_t *to = ranges[scale], *from = ranges[CGROUP_IO_SCALE_V2];

        if (weight == 0)
                return to[1];
        weight = MIN(MAX(weight, from[0]), from[2]);
        if (weight <= from[1])
                return to[0] + (weight - from[0]) * (to[1] - to[0]) / (from[1] - from[0]);
        return to[1] + (uint32_t) ((uint64_t) (weight - from[1]) * (to[2] - to[1]) / (from[2] - from[1]));
}

int cgroup_set_io_weight(const Cgroup *cg, uint32_t weight, const char **ret_file) {
        const char *dir, *file = NULL;
        int r;

        r = limit_dir(cg, CGROUP_CONTROLLER_IO, weight > 0, &dir);
        if (r <= 0)
                return r;
        for (const CgroupIoWeightFile *f = cg->backend->io_weight_files; f->name; f++) {
                char value[32];

                (void) snprintf(value, sizeof(value), f->format, cgroup_io_weight_scale(weight, f->scale));
                r = cgroup_write_file(dir, f->name, value);
                if (r == -ENOENT)
                        continue;
                file = f->name;
                break;
        }
        if (!file) /* unset, and no file to reset: nothing was asked */
                return weight > 0 ? -EOPNOTSUPP : 0;
        if (r >= 0 && ret_file)
                *ret_file = file;
        return r;
}

/* --- usage --- */

int cgroup_get_stats(const Cgroup *cg, CgroupStats *ret) {
        CgroupStats s = {
                .memory_current = UINT64_MAX,
                .memory_max = UINT64_MAX,
                .cpu_usec = UINT64_MAX,
                .pids_current = UINT64_MAX,
                .pids_max = UINT64_MAX,
        };
        const char *pids = cgroup_controller_path(cg, CGROUP_CONTROLLER_PIDS);

        if (pids && cgroup_read_u64(pids, "pids.current", &s.pids_current) >= 0)
                (void) cgroup_read_u64(pids, "pids.max", &s.pids_max);
        cg->backend->get_stats(cg, &s);
        *ret = s;
        return 0;
}
