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
/* The same for a host process's own cgroup, which accounts and bounds its work (sup-monitor's
 * NAME@monitor): on v1 only on the memory, cpu and cpuacct hierarchies (V1_OWN_CONTROLLERS), not
 * on the others, which account nothing of one process's work (pids, freezer, blkio, a hybrid
 * host's unified one) or which an instance joins only so that its container cannot reach their
 * roots (cpuset, devices, name=systemd...): the process stays in its parent's cgroup there. */
int cgroup_create_own(const char *root, const char *parent, const char *name, Cgroup **ret);
/* Opens an instance cgroup that exists, creating nothing (a reader such as supd's status):
 * -ENOENT when it is on no hierarchy. */
int cgroup_open(const char *root, const char *parent, const char *name, Cgroup **ret);
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

/* Moves a process out of the instance cgroup (made with parent and name) into the root cgroup of
 * every hierarchy, which may hold processes on v2 too: for a process that put itself into a
 * cgroup of its own and removes it before it exits (sup-monitor). */
int cgroup_leave(const Cgroup *cg, const char *parent, const char *name, pid_t pid);

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
 * memory.limit_in_bytes; swap is left as it is. -EOPNOTSUPP without the memory controller. What
 * hyperv puts around QEMU (runtime/vm/vm.c); a unit's own memory limit is cgroup_set_memory(). */
int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes);

/* ---- limits ----
 * One function per limit, each writing the backend's files (the per-version mapping is in
 * docs/unit-format.md, "resources"). A limit of 0 is "none": the files say "max" (v2) or -1 (v1),
 * so that a limit removed on a live update is lifted; a controller the instance lacks is then no
 * error. Otherwise -EOPNOTSUPP when the controller or the file the limit needs is missing, and the
 * kernel's verdict on the write (EINVAL, EBUSY: a v1 memory limit below what the kernel could
 * reclaim). Policy (which missing limit fails a start, which is only logged) is the caller's:
 * runtime/limits.h. */

/* How swap is kept out of a memory limit. */
typedef enum CgroupSwap {
        CGROUP_SWAP_OFF,          /* v2 memory.swap.max = 0; v1 memory.memsw.limit_in_bytes = the limit */
        CGROUP_SWAP_SWAPPINESS,   /* v1 without swap accounting: only memory.swappiness = 0 */
        CGROUP_SWAP_UNCONTROLLED, /* v2 without memory.swap.max: the kernel does not account swap */
        CGROUP_SWAP_NA,           /* no limit, so no swap limit either */
} CgroupSwap;

/* The memory limit with swap off: the workload's RAM is capped at bytes, and it cannot swap past
 * it. *ret_swap says how (optional). */
int cgroup_set_memory(const Cgroup *cg, uint64_t bytes, CgroupSwap *ret_swap);

/* CPU bandwidth in thousandths of a CPU: a quota per period (v2 cpu.max "QUOTA PERIOD", v1
 * cpu.cfs_quota_us and cpu.cfs_period_us); see cgroup_cpu_bandwidth() for the period. */
int cgroup_set_cpus(const Cgroup *cg, uint32_t milli);

/* The most tasks (processes and threads) the cgroup may hold: pids.max on both. */
int cgroup_set_pids_max(const Cgroup *cg, uint64_t n);

/* The relative I/O weight, on v2's scale (1-10000, 100 the default; 0: the default). The file is
 * whichever the kernel has: v2 io.weight (blk-iocost) else io.bfq.weight; v1 blkio.weight (CFQ,
 * before 5.0) else blkio.bfq.weight. BFQ's files take 1-1000 and blkio.weight 10-1000: the weight
 * is scaled (cgroup_io_weight_scale()). *ret_file names the file written (optional). */
int cgroup_set_io_weight(const Cgroup *cg, uint32_t weight, const char **ret_file);

/* The period and quota, in microseconds, of a CPU bandwidth of milli thousandths of a CPU: a
 * period of 100 ms, or 1 s when the quota would be under the kernel's 1 ms minimum (cpus below
 * 0.01). Pure. */
void cgroup_cpu_bandwidth(uint32_t milli, uint64_t *ret_quota_us, uint64_t *ret_period_us);

typedef enum CgroupIoScale {
        CGROUP_IO_SCALE_V2,    /* io.weight: 1-10000, default 100 (the unit's own scale) */
        CGROUP_IO_SCALE_BFQ,   /* io.bfq.weight, blkio.bfq.weight: 1-1000, default 100 */
        CGROUP_IO_SCALE_BLKIO, /* blkio.weight: 10-1000, default 500 */
} CgroupIoScale;

/* A weight on v2's scale (0: the default) on another scale: piecewise linear, so that minimum,
 * default and maximum map onto minimum, default and maximum. Pure. */
uint32_t cgroup_io_weight_scale(uint32_t weight, CgroupIoScale scale);

/* ---- usage ---- */

/* What the instance uses now, from its cgroup; UINT64_MAX where the host does not tell (no such
 * controller). A limit of UINT64_MAX is also "none". */
typedef struct CgroupStats {
        uint64_t memory_current; /* bytes: v2 memory.current, v1 memory.usage_in_bytes */
        uint64_t memory_max;     /* v2 memory.max, v1 memory.limit_in_bytes */
        uint64_t cpu_usec;       /* CPU time used: v2 cpu.stat usage_usec, v1 cpuacct.usage */
        uint64_t pids_current;   /* pids.current */
        uint64_t pids_max;       /* pids.max */
} CgroupStats;

int cgroup_get_stats(const Cgroup *cg, CgroupStats *ret);
