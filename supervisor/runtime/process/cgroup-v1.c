/* SPDX-License-Identifier: MIT */
/* The v1 backend: legacy and hybrid hosts. One directory per controller hierarchy, plus the one in
 * the controller-less cgroup2 of a hybrid host, which brings cgroup.kill and cgroup.events. */
#include <dirent.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "alloc.h"
#include "cgroup-internal.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"

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
        unsigned controllers;
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
        struct stat st;
        DIR *d;
        int r = -ENOENT;

        if (stat(path, &st) >= 0) {
                *ret = TAKE_PTR(path);
                return 0;
        }
        if (errno != ENOENT)
                return negative_errno();

        d = opendir(root);
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

/* The v1 hierarchies under root that sup uses, each once: a joint mount reached by two names
 * (cpu and cpuacct both leading to cpu,cpuacct) is one hierarchy with both controllers. */
static int v1_discover(const char *root, V1Mount **ret, size_t *ret_n) {
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
                if (stat(path, &st) < 0 || statfs(path, &fs) < 0) {
                        r = negative_errno();
                        if (r == -ENOENT) /* gone meanwhile */
                                continue;
                        goto fail;
                }
                if (fs.f_type != CGROUP_SUPER_MAGIC || !S_ISDIR(st.st_mode))
                        continue; /* an empty mount point, or something else entirely */

                for (size_t i = 0; i < n; i++)
                        if (mounts[i].dev == st.st_dev && mounts[i].ino == st.st_ino)
                                m = &mounts[i];
                if (!m) {
                        m = ARRAY_APPEND(mounts, n);
                        m->path = TAKE_PTR(path);
                        m->dev = st.st_dev;
                        m->ino = st.st_ino;
                }
                m->controllers |= CGROUP_CONTROLLER_BIT(c);
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

        if (statfs(path, &fs) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (fs.f_type != CGROUP2_SUPER_MAGIC)
                return 0;
        *ret = TAKE_PTR(path);
        return 1;
}

int cgroup_v1_probe(const char *root) {
        _cleanup_free_ char *unified = NULL;
        V1Mount *mounts = NULL;
        size_t n = 0;
        int r;

        r = v1_discover(root, &mounts, &n);
        if (r < 0)
                return r;
        v1_mounts_free(mounts, n);
        if (n > 0)
                return 1;
        return unified_path(root, &unified);
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

static int v1_create(Cgroup *cg, const char *root, const char *parent, const char *name) {
        _cleanup_free_ char *unified = NULL;
        V1Mount *mounts = NULL;
        size_t n = 0;
        char *leaf;
        int r;

        r = v1_discover(root, &mounts, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = cgroup_make_path(mounts[i].path, parent, name, NULL, NULL, &leaf);
                if (r < 0)
                        break;
                cgroup_add_hierarchy(cg, leaf, mounts[i].controllers, false);
        }
        v1_mounts_free(mounts, n);
        if (r < 0)
                return r;

        r = unified_path(root, &unified);
        if (r < 0)
                return r;
        if (r > 0) {
                r = cgroup_make_path(unified, parent, name, NULL, NULL, &leaf);
                if (r < 0)
                        return r;
                cgroup_add_hierarchy(cg, leaf, 0, true);
        }
        if (cg->n_hierarchies == 0)
                return -ENOMEDIUM;

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

const CgroupBackend cgroup_backend_v1 = {
        .version = CGROUP_V1,
        .create = v1_create,
        .open_fd = v1_open_fd,
        .kill = v1_kill,
        .is_empty = v1_is_empty,
        .oom_kill_file = "memory.oom_control",
        .memory_max_file = "memory.limit_in_bytes",
};
