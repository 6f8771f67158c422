/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One instance's cgroup, on whichever hierarchy the host has: one interface, two backends.
 *
 *  - v2 (unified): /sys/fs/cgroup is cgroup2. The instance is <root>/<parent>/<name>; the
 *    controllers sup uses (memory, pids, cpu, io) are enabled in the parents' subtree_control.
 *  - v1 (legacy or hybrid, like these build machines): one directory <parent>/<name> in each
 *    mounted controller hierarchy sup uses (memory, pids, cpu, cpuacct, blkio), created where the
 *    controller is mounted; plus, on hybrid hosts, the same directory in the controller-less
 *    cgroup2 at /sys/fs/cgroup/unified, which gives cgroup.kill and cgroup.events there too.
 *
 * parent is a relative path such as "sup" or "sup-1a2b3c4d" (each supd instance has its own, so
 * two supd with different run directories never touch each other's cgroups); name is a unit name.
 * Functions return 0 or -errno and do not log. */

typedef enum CgroupVersion {
        CGROUP_V1,
        CGROUP_V2,
} CgroupVersion;

typedef struct Cgroup Cgroup;

/* The host's layout, read from the cgroup mounts under root ("/sys/fs/cgroup" outside tests). */
int cgroup_detect(const char *root, CgroupVersion *ret);

/* Creates the instance cgroup (and its parents) on every hierarchy the backend uses, or opens it
 * if it exists already (adoption after a supd restart). */
int cgroup_create(const char *root, const char *parent, const char *name, Cgroup **ret);
Cgroup *cgroup_free(Cgroup *cg); /* frees the handle only; the cgroup stays */
static inline void cgroup_freep(Cgroup **cg) {
        cgroup_free(*cg);
}

CgroupVersion cgroup_version(const Cgroup *cg);

/* The directory of the hierarchy that tracks processes: the v2 cgroup, or on v1 the unified
 * one when the host has it, else the pids controller's. For logs and for `supctl top`. */
const char *cgroup_path(const Cgroup *cg);

/* An O_DIRECTORY fd of the v2 cgroup for clone3(CLONE_INTO_CGROUP), or -EOPNOTSUPP on v1. */
int cgroup_open_fd(const Cgroup *cg);

/* Moves a process into the instance cgroup on every hierarchy. */
int cgroup_attach(const Cgroup *cg, pid_t pid);

/* The processes in the cgroup (sorted, deduplicated across hierarchies). */
int cgroup_get_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n);

/* Sends sig to every process in it. SIGKILL uses cgroup.kill where the kernel has it (v2, or the
 * unified hierarchy of a hybrid host); otherwise the processes are listed and signalled until
 * none is left that has not been signalled (freezing the v1 freezer first where it exists, so
 * none can fork meanwhile). Returns once every process has the signal, without waiting for them
 * to exit: cgroup_is_empty() says when they have. -EBUSY if they fork faster than that. */
int cgroup_kill(const Cgroup *cg, int sig);

/* Whether no process is left (cgroup.events "populated 0" on v2, empty cgroup.procs on v1). */
int cgroup_is_empty(const Cgroup *cg, bool *ret);

/* Removes the instance cgroup on every hierarchy; -EBUSY while processes are left. */
int cgroup_destroy(const Cgroup *cg);

/* The number of OOM kills so far (v2 memory.events "oom_kill", v1 memory.oom_control
 * "oom_kill"); 0 without the memory controller. */
int cgroup_oom_kills(const Cgroup *cg, uint64_t *ret);

/* Limits the memory of the instance's processes to bytes (0: no limit): v2 memory.max, v1
 * memory.limit_in_bytes. -EOPNOTSUPP without the memory controller. */
int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes);
