/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>

#include "cgroup.h"
#include "event.h"
#include "exec.h"
#include "seccomp-filter.h"
#include "sup-error.h"
#include "unit-spec.h"

/* The process driver's exec (exec.h): a command run inside a running container.
 *
 * A helper forked from the caller is put into the instance's cgroup before it can run anything
 * (clone3(CLONE_INTO_CGROUP) on v2, cgroup.procs on v1 before it is let go), joins every
 * namespace of the container's init through its pidfd (setns(): user with user_namespace: auto,
 * mount (which is also the container's root), uts, ipc, net, cgroup, pid) and starts the command
 * as a sibling of its own (CLONE_PARENT): the caller's child, inside the container's pid
 * namespace, so that the caller reaps it and gets its real exit status through its pidfd. The
 * command then gets what the workload gets, by the workload's own code (workload_exec_request()):
 * the user looked up in the container's root, its environment, working directory, resource
 * limits, capability sets, no_new_privs and seccomp filter. It dies with the container (its pid
 * namespace, or its cgroup when the pid namespace is shared).
 *
 * Streamed (req->stream): without a terminal the command's stdin, stdout and stderr are dups of
 * the caller's stdio, handed through the helper: nothing is copied here, and exited() comes when
 * the command has ended. With a terminal the helper, in the container's mount namespace, makes a
 * pty of the container's devpts (its /dev/ptmx, checked to be one), gives the slave to the command
 * as its controlling terminal and stdio, and passes the master to the caller with the command's
 * pidfd; the master never enters the container. The caller relays stdio[0] to the master and the
 * master to stdio[1] on the loop, one chunk at a time per direction (a slow side holds the other
 * back; the memory is bounded); EOF on stdio[0] ends the input only; an output that fails hangs
 * the terminal up (SIGHUP to the command's session); once the command ended, what the master still
 * holds is relayed, then exited(). O_NONBLOCK is set on the caller's stdio[0] and stdio[1] (it is
 * their open files', so the caller's copies share it): they must be made for this exec. */

typedef struct ContainerExecConfig {
        const UnitSpec *spec;
        int init_pidfd;                /* the container's init (Container.pidfd): whose namespaces are joined */
        const Cgroup *cgroup;          /* the instance's; NULL: the caller's */
        const SeccompProgram *seccomp; /* the workload's filter; NULL: none */
        const struct rlimit *rlimits;  /* the workload's limits (rlimits.h); NULL: the caller's */
        bool userns;                   /* user_namespace: auto: the container's user namespace is joined too */
} ContainerExecConfig;

typedef struct ContainerExec ContainerExec;

/* Starts req on the loop e. cfg and req are used during the call only. On success *ret is the
 * handle, valid until callbacks->exited() has returned (the handle is then freed); on failure
 * nothing was started and no callback comes. */
int container_exec(Event *e, const ContainerExecConfig *cfg, const ExecRequest *req, const ExecCallbacks *callbacks,
                   void *userdata, ContainerExec **ret, SupError **ret_error);

/* The terminal's new size (the kernel sends SIGWINCH to its foreground process group). -ENOTTY:
 * the exec has no terminal; -EIO: it is hung up. */
int container_exec_resize(ContainerExec *x, unsigned short rows, unsigned short cols);

/* For an owner that goes away: kills the command, waits for it and frees the handle, without
 * calling back. Returns NULL. */
ContainerExec *container_exec_free(ContainerExec *x);
