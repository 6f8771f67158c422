/* SPDX-License-Identifier: MIT */
#pragma once

/* What cgroup.c (detection, dispatch) and the two backends (cgroup-v1.c, cgroup-v2.c) share: the
 * Cgroup object, the backend table's shape and the file helpers. The backends include this and
 * nothing of each other or of cgroup.c's dispatch, so the dependency runs one way:
 * cgroup.c -> {cgroup-v1.c, cgroup-v2.c} -> cgroup-util.c. Not for the rest of sup. */

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "cgroup.h"

/* The controllers sup uses, whatever each is called on a given hierarchy. */
typedef enum CgroupController {
        CGROUP_CONTROLLER_MEMORY,
        CGROUP_CONTROLLER_PIDS,
        CGROUP_CONTROLLER_CPU,
        CGROUP_CONTROLLER_CPUACCT, /* v1 only: v2's cpu controller does the accounting */
        CGROUP_CONTROLLER_IO,      /* "blkio" on v1 */
        CGROUP_CONTROLLER_FREEZER, /* v1 only, for kill: every v2 cgroup has cgroup.freeze */
        _CGROUP_CONTROLLER_MAX,
        _CGROUP_CONTROLLER_INVALID = -EINVAL,
} CgroupController;

#define CGROUP_CONTROLLER_BIT(c) (1U << (c))

/* The instance's directory in one hierarchy. */
typedef struct CgroupHierarchy {
        char *path;
        unsigned controllers; /* CGROUP_CONTROLLER_BIT()s available in this directory */
        bool unified;         /* cgroup2: has cgroup.kill (kernel >= 5.14) and cgroup.events */
} CgroupHierarchy;

typedef struct CgroupBackend CgroupBackend;

/* What a backend's create() does with the instance's directories. */
typedef enum CgroupCreateMode {
        CGROUP_CREATE,     /* made (or opened) on every hierarchy the backend uses */
        CGROUP_CREATE_OWN, /* v1: on memory's, cpu's and cpuacct's only (v2: as above) */
        CGROUP_OPEN,       /* the directories that exist, nothing made */
} CgroupCreateMode;

typedef struct CgroupIoWeightFile {
        const char *name; /* NULL ends a list */
        CgroupIoScale scale;
        const char *format; /* of the value, with one %u: "default %u" or "%u" */
} CgroupIoWeightFile;

struct Cgroup {
        const CgroupBackend *backend;
        CgroupHierarchy *hierarchies;
        size_t n_hierarchies;
        size_t tracking; /* index of the hierarchy cgroup_path() names */
};

struct CgroupBackend {
        CgroupVersion version;
        /* Whether root (fs: its statfs()) is a hierarchy of this kind: > 0 yes, 0 no, or -errno.
         * cgroup.c asks each backend in turn (cgroup_backends[]). */
        int (*probe)(const char *root, const struct statfs *fs);
        /* Fills in cg->hierarchies, making the directories as mode says; CGROUP_OPEN: -ENOENT when
         * none exists. v2_controllers: NULL for the backend's own choice, else the controllers to
         * enable in the parents (v2 names; v1: -EMEDIUMTYPE). */
        int (*create)(Cgroup *cg, const char *root, const char *parent, const char *name,
                      const char *const *v2_controllers, CgroupCreateMode mode);
        int (*open_fd)(const Cgroup *cg);
        int (*kill)(const Cgroup *cg, int sig);
        int (*is_empty)(const Cgroup *cg, bool *ret);
        const char *oom_kill_file;   /* in the memory controller's directory, with an "oom_kill N" line */
        const char *memory_max_file; /* the memory limit in bytes ("max": none) */
        /* The limits, each given the directory of the controller it needs (never NULL). */
        int (*set_memory)(const char *dir, uint64_t bytes, CgroupSwap *ret_swap);
        int (*set_cpus)(const char *dir, uint32_t milli);
        /* The I/O weight files, in the order they are tried: the first that exists is written. */
        const CgroupIoWeightFile *io_weight_files;
        /* Fills in what the backend's files tell; the rest is UINT64_MAX already. */
        void (*get_stats)(const Cgroup *cg, CgroupStats *ret);
};

/* cgroup-util.c */

/* The files and directories below root are reached relative to root's directory, opened once and
 * checked again at each call (the same directory as root names now, else opened anew), instead of
 * through root's own path. On these hosts that path crosses sysfs ("fs", "cgroup"), whose lock
 * every new network namespace takes for writing (its loopback device's files): a hundred starts
 * at once spent their idle time waiting on it, one walk per cgroup file opened (bench/README.md,
 * goal 4c). Called by cgroup.c at every create and open. */
void cgroup_anchor(const char *root);
/* stat() and statfs() of path (either may be NULL), through the anchor when below it: 0 or -errno. */
int cgroup_stat(const char *path, struct stat *ret_st, struct statfs *ret_fs);
/* open() (flags | O_CLOEXEC: the fd or -errno) and rmdir() (0 or -errno), through the anchor. */
int cgroup_open_path(const char *path, int flags);
int cgroup_rmdir(const char *path);
/* opendir() through the anchor when below it. */
DIR *cgroup_opendir(const char *path);

Cgroup *cgroup_new(const CgroupBackend *backend);
void cgroup_add_hierarchy(Cgroup *cg, char *path, unsigned controllers, bool unified); /* takes path */
int cgroup_make_path(const char *base, const char *parent, const char *name,
                     int (*on_parent)(const char *dir, void *userdata), void *userdata, char **ret);
/* base/parent/name if it is a directory, else -ENOENT (or -ENOTDIR): opening without creating. */
int cgroup_existing_path(const char *base, const char *parent, const char *name, char **ret);
int cgroup_read_file(const char *dir, const char *file, char **ret);
int cgroup_write_file(const char *dir, const char *file, const char *value);
/* The same, but only if the file does not read value already (with or without a newline): for the
 * CPU bandwidth files, whose every write checks every cgroup of the host against its parent's
 * bandwidth (the kernel's __cfs_schedulable() walks all task groups), a walk that writing the
 * default "no limit" into two new cgroups per start made quadratic in the units (perf at 900 units:
 * 5 % of the CPU of 100 more starts). 1 if it wrote, 0 if not. */
int cgroup_write_file_changed(const char *dir, const char *file, const char *value);
/* A limit's file that is not there (-ENOENT): the controller is, the feature is not. */
static inline int cgroup_missing_is_unsupported(int r) {
        return r == -ENOENT ? -EOPNOTSUPP : r;
}
int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret);
/* One number, or "max" (UINT64_MAX); v1's "-1" and its page-rounded "unlimited" (anything from
 * 2^62 up) read as UINT64_MAX too. */
int cgroup_read_u64(const char *dir, const char *file, uint64_t *ret);
bool cgroup_words_contain(const char *words, const char *word);
int cgroup_signal_all(const Cgroup *cg, int sig);
/* The names of dir's subdirectories (child cgroups). */
int cgroup_list_subdirs(const char *dir, char ***ret);

/* The directory in which the controller's files are, or NULL when the instance has not got it. */
const char *cgroup_controller_path(const Cgroup *cg, CgroupController c);

size_t cgroup_n_hierarchies(const Cgroup *cg);
const CgroupHierarchy *cgroup_hierarchy(const Cgroup *cg, size_t i);
