/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "container-share.h"
#include "image.h"
#include "seccomp-filter.h"
#include "sup-error.h"
#include "unit-spec.h"

/* A process-isolated container: new mount, pid, uts, ipc, cgroup and (unless network: host) net
 * namespaces, or for ipc, pid and net another container's (share, container-share.h); an overlay
 * of the image's layers and the instance's sandbox as its root; its own /proc, /sys (read-only)
 * and minimal /dev.
 *
 * PID 1 inside is a small init of sup's (a clone of the caller, never an exec of a host binary):
 * it starts the unit's command as PID 2, forwards the signals it receives to it (so the stop
 * signal works for shells and programs that do not expect to be PID 1, which ignores signals it
 * has no handler for), reaps orphans, and when the command ends reports how on exit_fd and exits;
 * the kernel then kills whatever is left in the pid namespace. In a joined pid namespace init is
 * not PID 1 but a subreaper, and what is left is the caller's to kill (its cgroup). */

typedef struct ContainerConfig {
        const UnitSpec *spec;
        const Image *image;  /* its layers, resolved (image.h) */
        const char *rootfs;  /* an empty host directory, the overlay's mount point (in the child's namespace only) */
        const char *sandbox; /* the instance's writable layer (upper/ and work/ are made below it) */
        int stdout_fd;       /* the command's stdout and stderr (write ends); stdin is /dev/null */
        int stderr_fd;
        const Cgroup *cgroup; /* NULL: stay in the caller's cgroup */
        const SeccompProgram *seccomp; /* the command's filter, compiled before the clone; NULL: none */
        const struct rlimit *rlimits;  /* the command's limits (rlimits.h); NULL: the caller's */
        const ContainerShare *share;   /* NULL: no namespace joined */
        /* security.user_namespace: auto: the leased host range the container's ids 0..size-1 map
         * to (userns.h); NULL: the host's user namespace. */
        const struct UsernsRange *userns;

        /* Optional steps that need the container's namespaces to exist but the command not yet to
         * run (its network: network: bridge). prepare runs in the caller once the child has its
         * namespaces and waits to be released; setup runs in the child after that, inside its
         * namespaces, before pivot_root. Each returns -errno with the reason. A failure of either
         * reaches the caller like every setup error: as text on error_fd (ROOTFS_ERR_MAX bytes at
         * most), then the child's exit. */
        int (*prepare)(pid_t pid, void *userdata, SupError **ret_error);
        int (*setup)(void *userdata, SupError **ret_error);
        void *userdata;

        /* container_spawn() builds the root before the go (container_root_ahead_possible() says
         * for which configurations): the child, once in its cgroup, makes its mount and cgroup
         * namespaces, the overlay of the layers and the sandbox, /proc, /sys, /dev and the masks,
         * sets its host name and loopback, and enters its root (pivot_root, the copy of the
         * host's mounts detached). What the host's mounts of the start decide comes at the go:
         * the binds, opened and copied by the parent then (rootfs_binds_prepare()), the tmpfs
         * mounts in the unit's order with them, read_only_rootfs, then as a cold start. What the
         * root stands on (the layers' and the sandbox's directories) is the caller's to check at
         * the go; what it holds was read by nobody: no workload has run. */
        bool root_ahead;
} ContainerConfig;

typedef struct Container {
        pid_t pid;   /* the container's PID 1, as the host sees it */
        int pidfd;   /* its pidfd; readable when it has exited */
        int error_fd; /* a setup error as text, or EOF once the command was executed */
        int exit_fd; /* sizeof(ContainerExit) bytes when the command has ended */
        int sync_fd; /* until container_release(): the go */
        int error_wfd; /* until container_release(): the error pipe's write end, for prepare's error */
} Container;

typedef struct ContainerExit {
        int32_t code;   /* the exit status, or -1 */
        int32_t signal; /* the signal that killed the command, or 0 */
} ContainerExit;

/* Starts the container. Returns once the child exists; whether the command could be executed is
 * then told by error_fd (read it until EOF). The fds in *ret are close-on-exec and the caller's. */
int container_start(const ContainerConfig *cfg, Container *ret);

/* container_start() in two steps, so that the slow part can be done before the start is asked
 * for. container_spawn() creates the child in its namespaces and cgroup (on v1 the cgroup.procs
 * write, about 10 ms: an RCU grace period), where it waits for the go before anything of its own:
 * no mount, nothing read from the image or the host's files, no step of cfg->prepare; its mount
 * namespace is made at the go (until then it sees the host's, as its creator does), so that the
 * container sees the host's mounts of its start. With root_ahead it builds its root meanwhile,
 * but still takes nothing of the host's mounts but the layers and the sandbox before the go (see
 * root_ahead). Everything
 * it will do is already decided, though: cfg (spec, image, seccomp program, rlimits...) as it was
 * at the spawn is the child's copy, so a caller that parks one must throw it away
 * (container_abandon()) when any of it changes. container_release() then runs cfg->prepare (the
 * network: addresses are the run's, leased at its start) and the user namespace's maps, and sends
 * the go; from there on, as container_start(). cfg must be the same for both calls. */
int container_spawn(const ContainerConfig *cfg, Container *ret);
int container_release(const ContainerConfig *cfg, Container *c);
/* Whether cfg's root can be built ahead (root_ahead): a network of its own and nothing else of
 * the host's in it (network: none; with network: host the host's /sys is bound, with everything
 * mounted below it at the start), no user namespace (the idmapped mounts are the parent's), no
 * network steps, no joined namespaces, and no more binds than one go carries. */
bool container_root_ahead_possible(const ContainerConfig *cfg);
/* Kills a container (SIGKILL to its init: one parked has nothing to finish), waits for it, and
 * closes its fds. */
void container_abandon(Container *c);
void container_close(Container *c);

struct clone_args;
/* A clone3() into cg's v2 cgroup (CLONE_INTO_CGROUP), so that the child is in it from its first
 * instruction: sets args' flag and cgroup, and returns the cgroup's fd for the caller to close
 * after the clone; -errno where it cannot (cg NULL, cgroup v1: the caller then moves the child
 * with cgroup_attach() before letting it go). */
int container_clone_into_cgroup(const Cgroup *cg, struct clone_args *args);
