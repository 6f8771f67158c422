/* SPDX-License-Identifier: MIT */
/* The v1 backend: legacy and hybrid hosts. One directory per controller hierarchy, plus the one in
 * the controller-less cgroup2 of a hybrid host, which brings cgroup.kill and cgroup.events. */
#include <dirent.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup-util.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"

static const char *const v1_controller_names[_CGROUP_CONTROLLER_MAX] = {
        [CGROUP_CONTROLLER_MEMORY] = "memory", [CGROUP_CONTROLLER_PIDS] = "pids",
        [CGROUP_CONTROLLER_CPU] = "cpu",       [CGROUP_CONTROLLER_CPUACCT] = "cpuacct",
        [CGROUP_CONTROLLER_IO] = "blkio",      [CGROUP_CONTROLLER_FREEZER] = "freezer",
};

/* Freezing takes a moment per task; it is awaited this many times FREEZER_POLL_NSEC at most. A task
 * stuck in the kernel (D state) can keep the cgroup FREEZING for ever: past that, signalling goes
 * on anyway, and the rounds of cgroup_signal_all() catch what forks meanwhile. */
#define FREEZER_POLLS     100
#define FREEZER_POLL_NSEC (1000L * 1000L)

typedef struct V1Mount {
        char *path;
        dev_t dev;
        ino_t ino;
        unsigned controllers; /* 0: a hierarchy joined only for placement (below) */
} V1Mount;

static void v1_mounts_free(V1Mount *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(m[i].path);
        free(m);
}

static bool comma_list_contains(const char *list, const char *word) {
        size_t n = strlen(word);

        for (const char *c = list;;) {
                const char *end = strchrnul(c, ',');
                if ((size_t) (end - c) == n && strneq(c, word, n))
                        return true;
                if (!*end)
                        return false;
                c = end + 1;
        }
}

/* Where the controller's hierarchy is mounted: <root>/<controller> (a directory, or on many hosts a
 * symlink to a joint mount such as cpu,cpuacct), else a joint mount without the symlink. */
static int find_mount(const char *root, const char *controller, char **ret) {
        _cleanup_free_ char *path = path_join(root, controller);
        struct dirent *de;
        DIR *d;
        int r = cgroup_stat(path, NULL, NULL);

        if (r >= 0) {
                *ret = TAKE_PTR(path);
                return 0;
        }
        if (r != -ENOENT)
                return r;

        r = -ENOENT;
        d = cgroup_opendir(root);
        if (!d)
                return negative_errno();
        while ((errno = 0, de = readdir(d))) {
                if (strchr(de->d_name, ',') && comma_list_contains(de->d_name, controller)) {
                        *ret = path_join(root, de->d_name);
                        r = 0;
                        break;
                }
        }
        if (r < 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        return r;
}

static V1Mount *find_or_add(V1Mount **mounts, size_t *n, const struct stat *st, char **path) {
        for (size_t i = 0; i < *n; i++)
                if ((*mounts)[i].dev == st->st_dev && (*mounts)[i].ino == st->st_ino)
                        return &(*mounts)[i];
        V1Mount *m = ARRAY_APPEND(*mounts, *n);
        m->path = TAKE_PTR(*path);
        m->dev = st->st_dev;
        m->ino = st->st_ino;
        return m;
}

/* Every other v1 hierarchy mounted under root (cpuset, devices, the name=systemd one, net_cls...):
 * sup uses none of their controllers, but the instance joins them all. A cgroup namespace shows a
 * process its own cgroup as the root of each hierarchy, and release_agent, the file of
 * CVE-2022-0492, exists only in a hierarchy's real root: a container left in the root cgroup of a
 * hierarchy would find it there by mounting that hierarchy (given CAP_SYS_ADMIN, which the
 * default capabilities withhold, and mount, which the default seccomp profile refuses; this is
 * the third lock). */
static int v1_discover_others(const char *root, V1Mount **mounts, size_t *n) {
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = cgroup_opendir(root);
        if (!d)
                return negative_errno();
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct statfs fs;
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                path = path_join(root, de->d_name);
                if (cgroup_stat(path, &st, &fs) < 0)
                        continue; /* gone meanwhile, or a dangling link */
                if (fs.f_type != CGROUP_SUPER_MAGIC || !S_ISDIR(st.st_mode))
                        continue;
                (void) find_or_add(mounts, n, &st, &path);
        }
        if (errno != 0)
                r = negative_errno();
        closedir(d);
        return r;
}

/* The v1 hierarchies under root, each once: first those of the controllers sup uses (a joint
 * mount reached by two names, cpu and cpuacct both leading to cpu,cpuacct, is one hierarchy with
 * both controllers), then, with all, every other one (for placement only). */
static int v1_discover(const char *root, bool all, V1Mount **ret, size_t *ret_n) {
        V1Mount *mounts = NULL;
        size_t n = 0;
        int r;

        for (CgroupController c = 0; c < _CGROUP_CONTROLLER_MAX; c++) {
                _cleanup_free_ char *path = NULL;
                struct statfs fs;
                struct stat st;
                V1Mount *m = NULL;

                r = find_mount(root, v1_controller_names[c], &path);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        goto fail;
                r = cgroup_stat(path, &st, &fs);
                if (r < 0) {
                        if (r == -ENOENT) /* gone meanwhile */
                                continue;
                        goto fail;
                }
                if (fs.f_type != CGROUP_SUPER_MAGIC || !S_ISDIR(st.st_mode))
                        continue; /* an empty mount point, or something else entirely */

                m = find_or_add(&mounts, &n, &st, &path);
                m->controllers |= CGROUP_CONTROLLER_BIT(c);
        }
        if (all && n > 0) {
                r = v1_discover_others(root, &mounts, &n);
                if (r < 0)
                        goto fail;
        }
        *ret = mounts;
        *ret_n = n;
        return 0;

fail:
        v1_mounts_free(mounts, n);
        return r;
}

/* The controller-less cgroup2 of a hybrid host, if there is one. */
static int unified_path(const char *root, char **ret) {
        _cleanup_free_ char *path = path_join(root, "unified");
        struct statfs fs;
        int r = cgroup_stat(path, NULL, &fs);

        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (fs.f_type != CGROUP2_SUPER_MAGIC)
                return 0;
        *ret = TAKE_PTR(path);
        return 1;
}

/* What cgroup_path() names: the unified hierarchy, else pids', else any. */
static size_t v1_tracking(const Cgroup *cg) {
        for (size_t i = 0; i < cg->n_hierarchies; i++)
                if (cg->hierarchies[i].unified)
                        return i;
        for (size_t i = 0; i < cg->n_hierarchies; i++)
                if (cg->hierarchies[i].controllers & CGROUP_CONTROLLER_BIT(CGROUP_CONTROLLER_PIDS))
                        return i;
        return 0;
}

/* A new v1 cpuset cgroup has no CPUs and no memory nodes, and refuses tasks until it is given
 * some (unless cgroup.clone_children is set above it): each directory from the hierarchy's root
 * down to the leaf gets its parent's where it has none, and a parent below the root that had a
 * child to fill gets clone_children, so that its next children come with them: each copy is two
 * writes that make the kernel revisit the cpusets (perf at 900 units: 1.5 % of the CPU of 100
 * more starts). The hierarchy's root is never changed. */
static int cpuset_inherit(const char *base, const char *parent, const char *name) {
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        _cleanup_free_ char *rel = path_join(parent, name), *dir = xstrdup(base);
        int r;

        for (const char *c = rel;;) {
                const char *end = strchrnul(c, '/');
                _cleanup_free_ char *component = xstrndup(c, (size_t) (end - c)), *up = TAKE_PTR(dir);

                dir = path_join(up, component);
                bool filled = false;
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        _cleanup_free_ char *mine = NULL, *theirs = NULL;

                        r = cgroup_read_file(dir, files[i], &mine);
                        if (r < 0)
                                return r;
                        if (!streq(mine, "\n") && !streq(mine, ""))
                                continue;
                        r = cgroup_read_file(up, files[i], &theirs);
                        if (r < 0)
                                return r;
                        r = cgroup_write_file(dir, files[i], theirs);
                        if (r < 0)
                                return r;
                        filled = true;
                }
                if (filled && c != rel)
                        (void) cgroup_write_file(up, "cgroup.clone_children", "1");
                if (!*end)
                        break;
                c = end + 1;
        }
        /* And the cgroups a workload makes below its own (with delegation) get the leaf's. */
        return cgroup_write_file(dir, "cgroup.clone_children", "1");
}

/* The instance's directory in one hierarchy; opening takes what is there and skips the rest. */
static int v1_add(Cgroup *cg, const V1Mount *m, const char *parent, const char *name, bool open_only) {
        _cleanup_free_ char *cpus = NULL;
        char *leaf = NULL;
        int r;

        if (open_only) {
                if (cgroup_existing_path(m->path, parent, name, &leaf) >= 0)
                        cgroup_add_hierarchy(cg, leaf, m->controllers, false);
                return 0;
        }
        r = cgroup_make_path(m->path, parent, name, NULL, NULL, &leaf);
        if (r < 0)
                return r;
        cgroup_add_hierarchy(cg, leaf, m->controllers, false);
        cpus = path_join(m->path, "cpuset.cpus");
        if (cgroup_stat(cpus, NULL, NULL) >= 0)
                return cpuset_inherit(m->path, parent, name);
        return 0;
}

/* A process's own cgroup (CGROUP_CREATE_OWN, a monitor's): the hierarchies that account or bound
 * its work, its CPU time (cpu's quota, cpuacct's usage) and its memory. Not pids and freezer (one
 * process, never frozen or killed as a tree), blkio (v1 does not account buffered writes, a log's,
 * to the writer's cgroup) or the unified one of a hybrid host (no controllers): four directories,
 * task moves and removals fewer per start. */
#define V1_OWN_CONTROLLERS                                                                                \
        (CGROUP_CONTROLLER_BIT(CGROUP_CONTROLLER_MEMORY) | CGROUP_CONTROLLER_BIT(CGROUP_CONTROLLER_CPU) | \
         CGROUP_CONTROLLER_BIT(CGROUP_CONTROLLER_CPUACCT))

/* What was found under a root, kept V1_LAYOUT_TTL, for the probe (is this a v1 layout?) and for
 * opening: supd opens two cgroups per running unit for each `status --json` and each metrics
 * scrape, and probing and discovering took some 80 path lookups each time, 61 % of supd's time for
 * a status of 1000 units (perf, bench/README.md). Hierarchies are mounted at boot; one mounted or
 * gone later is seen within the TTL, another file system mounted at the root (a private mount
 * namespace's) at once. A create discovers the hierarchies afresh, so a start never uses what the
 * cache says of them. */
#define V1_LAYOUT_TTL (2 * USEC_PER_SEC)

static struct {
        char *root;
        V1Mount *mounts;
        size_t n;
        char *unified; /* NULL: none */
        dev_t dev;     /* the root's */
        ino_t ino;
        usec_t at;
} v1_layout;

static void v1_layout_clear(void) {
        free(v1_layout.root);
        v1_mounts_free(v1_layout.mounts, v1_layout.n);
        free(v1_layout.unified);
        v1_layout.root = NULL;
        v1_layout.mounts = NULL;
        v1_layout.n = 0;
        v1_layout.unified = NULL;
}

/* The hierarchies under root and the unified one (borrowed: valid until the next call). */
static int v1_layout_get(const char *root, const V1Mount **ret_mounts, size_t *ret_n, const char **ret_unified) {
        usec_t t = now(CLOCK_MONOTONIC);
        V1Mount *mounts = NULL;
        char *unified = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        r = cgroup_stat(root, &st, NULL);
        if (r < 0)
                return r;
        if (!v1_layout.root || !streq(v1_layout.root, root) || v1_layout.dev != st.st_dev ||
            v1_layout.ino != st.st_ino || t >= v1_layout.at + V1_LAYOUT_TTL) {
                r = v1_discover(root, true, &mounts, &n);
                if (r < 0)
                        return r;
                r = unified_path(root, &unified);
                if (r < 0) {
                        v1_mounts_free(mounts, n);
                        return r;
                }
                v1_layout_clear();
                v1_layout.root = xstrdup(root);
                v1_layout.mounts = mounts;
                v1_layout.n = n;
                v1_layout.unified = unified;
                v1_layout.dev = st.st_dev;
                v1_layout.ino = st.st_ino;
                v1_layout.at = t;
        }
        *ret_mounts = v1_layout.mounts;
        *ret_n = v1_layout.n;
        *ret_unified = v1_layout.unified;
        return 0;
}

/* Legacy and hybrid layouts: a tmpfs with one mount per hierarchy in it. cgroup.c asks this at
 * every open and create: the layout found under the root a moment ago answers. */
static int v1_probe(const char *root, const struct statfs *fs) {
        const V1Mount *mounts;
        const char *unified;
        size_t n;
        int r;

        if (fs->f_type != TMPFS_MAGIC)
                return 0;
        r = v1_layout_get(root, &mounts, &n, &unified);
        if (r < 0)
                return r;
        return n > 0 || unified;
}

static int v1_create(Cgroup *cg, const char *root, const char *parent, const char *name,
                     const char *const *v2_controllers, CgroupCreateMode mode) {
        if (v2_controllers)
                return -EMEDIUMTYPE;
        bool open_only = mode == CGROUP_OPEN;
        _cleanup_free_ char *own_unified = NULL;
        const char *unified = NULL;
        const V1Mount *mounts;
        V1Mount *own = NULL;
        size_t n = 0;
        char *leaf;
        int r;

        if (open_only)
                r = v1_layout_get(root, &mounts, &n, &unified);
        else {
                /* CGROUP_CREATE_OWN: not the hierarchies an instance joins for placement only
                 * (v1_discover_others()): a host process's own cgroup needs no hiding of their
                 * roots, and each is a directory, a copy of cpuset's CPUs and a task move more.
                 * Nor those of its controllers that neither account nor bound one process's
                 * work (V1_OWN_CONTROLLERS). */
                r = v1_discover(root, mode == CGROUP_CREATE, &own, &n);
                mounts = own;
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (mode == CGROUP_CREATE_OWN && !(mounts[i].controllers & V1_OWN_CONTROLLERS))
                        continue;
                r = v1_add(cg, &mounts[i], parent, name, open_only);
                if (r < 0)
                        break;
        }
        v1_mounts_free(own, own ? n : 0);
        if (r < 0)
                return r;

        /* A process's own cgroup needs the unified one only where nothing else accounts it. */
        if (!open_only && (mode != CGROUP_CREATE_OWN || cg->n_hierarchies == 0)) {
                r = unified_path(root, &own_unified);
                if (r < 0)
                        return r;
                unified = own_unified;
        }
        if (unified) {
                if (open_only)
                        r = cgroup_existing_path(unified, parent, name, &leaf);
                else
                        r = cgroup_make_path(unified, parent, name, NULL, NULL, &leaf);
                if (r >= 0)
                        cgroup_add_hierarchy(cg, leaf, 0, true);
                else if (!open_only)
                        return r;
        }
        if (cg->n_hierarchies == 0)
                return open_only ? -ENOENT : -ENOMEDIUM;

        cg->tracking = v1_tracking(cg);
        return 0;
}

static int v1_open_fd(const Cgroup *cg) {
        /* CLONE_INTO_CGROUP takes a cgroup2 directory; a child cloned into the unified one of a
         * hybrid host would still sit in the root of every controller. */
        return -EOPNOTSUPP;
}

static const CgroupHierarchy *v1_unified(const Cgroup *cg) {
        for (size_t i = 0; i < cg->n_hierarchies; i++)
                if (cg->hierarchies[i].unified)
                        return &cg->hierarchies[i];
        return NULL;
}

static bool freezer_state_is(const char *state, const char *want) {
        return strneq(state, want, strlen(want)) && (state[strlen(want)] == '\n' || state[strlen(want)] == 0);
}

/* FROZEN, then waits (briefly, see FREEZER_POLLS) until every task is. *ret_was_frozen says whether
 * it was frozen before, by someone who wants it to stay so. */
static int freezer_freeze(const char *dir, bool *ret_was_frozen) {
        _cleanup_free_ char *state = NULL;
        bool was_frozen;
        int r;

        r = cgroup_read_file(dir, "freezer.state", &state);
        if (r < 0)
                return r;
        was_frozen = !freezer_state_is(state, "THAWED");

        r = cgroup_write_file(dir, "freezer.state", "FROZEN");
        if (r < 0)
                return r;
        *ret_was_frozen = was_frozen;
        for (int i = 0; i < FREEZER_POLLS; i++) {
                struct timespec ts = {.tv_nsec = FREEZER_POLL_NSEC};

                free(state);
                state = NULL;
                /* Reading freezer.state is also what moves FREEZING on to FROZEN. */
                r = cgroup_read_file(dir, "freezer.state", &state);
                if (r < 0)
                        return r;
                if (freezer_state_is(state, "FROZEN"))
                        return 0;
                (void) nanosleep(&ts, NULL);
        }
        return 0;
}

static int v1_kill(const Cgroup *cg, int sig) {
        const CgroupHierarchy *unified = v1_unified(cg);
        const char *freezer;
        bool was_frozen = false, frozen = false;
        int r, q;

        if (sig == SIGKILL && unified) {
                r = cgroup_write_file(unified->path, "cgroup.kill", "1");
                if (r != -ENOENT) /* -ENOENT: a kernel before 5.14 */
                        return r;
        }

        /* Frozen tasks can neither fork nor exit, so one listing is complete and no pid is reused
         * between the listing and the signal. Signals stay pending until the thaw. */
        freezer = cgroup_controller_path(cg, CGROUP_CONTROLLER_FREEZER);
        if (freezer) {
                r = freezer_freeze(freezer, &was_frozen);
                /* Without the freeze the rounds still converge: signal all the same. */
                frozen = r >= 0;
        }
        r = cgroup_signal_all(cg, sig);
        /* A paused instance stays paused for a signal it can handle later; SIGKILL needs the tasks
         * to run to die. */
        if (frozen && (!was_frozen || sig == SIGKILL)) {
                q = cgroup_write_file(freezer, "freezer.state", "THAWED");
                if (q < 0 && r >= 0)
                        r = q;
        }
        return r;
}

static int v1_is_empty(const Cgroup *cg, bool *ret) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n;
        int r;

        /* Every hierarchy counts: destroy needs each of them empty. */
        r = cgroup_get_pids(cg, &pids, &n);
        if (r < 0)
                return r;
        *ret = n == 0;
        return 0;
}

static int v1_set_memory(const char *dir, uint64_t bytes, CgroupSwap *ret_swap) {
        _cleanup_free_ char *memsw = path_join(dir, "memory.memsw.limit_in_bytes");
        uint64_t want = bytes > 0 ? bytes : UINT64_MAX, current;
        char value[32] = "-1";
        int r;

        if (bytes > 0)
                (void) snprintf(value, sizeof(value), "%" PRIu64, bytes);
        r = cgroup_read_u64(dir, "memory.limit_in_bytes", &current);
        if (r < 0)
                return cgroup_missing_is_unsupported(r);

        if (cgroup_stat(memsw, NULL, NULL) < 0) {
                /* No swap accounting (CONFIG_MEMCG_SWAP off, or swapaccount=0): the limit holds
                 * for RAM, and swappiness 0 keeps the cgroup's own reclaim from swapping. The host
                 * may still swap the workload's pages out under global pressure. */
                r = cgroup_write_file(dir, "memory.limit_in_bytes", value);
                if (r < 0)
                        return r;
                if (bytes > 0) {
                        r = cgroup_write_file(dir, "memory.swappiness", "0");
                        if (r < 0)
                                return r;
                }
                *ret_swap = bytes > 0 ? CGROUP_SWAP_SWAPPINESS : CGROUP_SWAP_NA;
                return 0;
        }

        /* memsw is RAM + swap, and the kernel keeps memsw >= the RAM limit at every write: a
         * limit going up raises memsw first, one going down lowers the RAM limit first. Equal,
         * they leave no room for swap. Lowering below what is in use makes the kernel reclaim;
         * if it cannot, the write fails with EBUSY and the old limits stay. */
        if (want >= current) {
                r = cgroup_write_file(dir, "memory.memsw.limit_in_bytes", value);
                if (r >= 0)
                        r = cgroup_write_file(dir, "memory.limit_in_bytes", value);
        } else {
                r = cgroup_write_file(dir, "memory.limit_in_bytes", value);
                if (r >= 0)
                        r = cgroup_write_file(dir, "memory.memsw.limit_in_bytes", value);
        }
        if (r < 0)
                return r;
        *ret_swap = bytes > 0 ? CGROUP_SWAP_OFF : CGROUP_SWAP_NA;
        return 0;
}

static int v1_set_cpus(const char *dir, uint32_t milli) {
        uint64_t quota, period;
        char value[32];
        int r;

        /* Without the two files the kernel has no CFS bandwidth control (CONFIG_CFS_BANDWIDTH). */
        if (milli == 0)
                r = cgroup_write_file_changed(dir, "cpu.cfs_quota_us", "-1");
        else {
                cgroup_cpu_bandwidth(milli, &quota, &period);
                (void) snprintf(value, sizeof(value), "%" PRIu64, period);
                r = cgroup_write_file_changed(dir, "cpu.cfs_period_us", value);
                if (r >= 0) {
                        (void) snprintf(value, sizeof(value), "%" PRIu64, quota);
                        r = cgroup_write_file_changed(dir, "cpu.cfs_quota_us", value);
                }
        }
        return r < 0 ? cgroup_missing_is_unsupported(r) : 0;
}

/* CFQ's, on kernels before 5.0 (which removed CFQ); then BFQ's. */
static const CgroupIoWeightFile v1_io_weight_files[] = {
        {"blkio.weight", CGROUP_IO_SCALE_BLKIO, "%u"},
        {"blkio.bfq.weight", CGROUP_IO_SCALE_BFQ, "%u"},
        {},
};

static void v1_get_stats(const Cgroup *cg, CgroupStats *s) {
        const char *memory = cgroup_controller_path(cg, CGROUP_CONTROLLER_MEMORY),
                   *cpuacct = cgroup_controller_path(cg, CGROUP_CONTROLLER_CPUACCT);
        uint64_t ns;

        if (memory && cgroup_read_u64(memory, "memory.usage_in_bytes", &s->memory_current) >= 0)
                (void) cgroup_read_u64(memory, "memory.limit_in_bytes", &s->memory_max);
        if (cpuacct && cgroup_read_u64(cpuacct, "cpuacct.usage", &ns) >= 0 && ns != UINT64_MAX)
                s->cpu_usec = ns / 1000;
}

const CgroupBackend cgroup_backend_v1 = {
        .version = CGROUP_V1,
        .probe = v1_probe,
        .create = v1_create,
        .open_fd = v1_open_fd,
        .kill = v1_kill,
        .is_empty = v1_is_empty,
        .oom_kill_file = "memory.oom_control",
        .memory_max_file = "memory.limit_in_bytes",
        .set_memory = v1_set_memory,
        .set_cpus = v1_set_cpus,
        .io_weight_files = v1_io_weight_files,
        .get_stats = v1_get_stats,
};
