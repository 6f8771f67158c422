/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* share.*: namespaces of another container to join instead of new ones. Each a pidfd of a
 * process in that namespace (the other container's init), or -EBADF: a new namespace. */
typedef struct ContainerShare {
        int ipc, net, pid;
} ContainerShare;

#define CONTAINER_SHARE_KINDS 3

/* Joins, in the caller, the namespaces share names, and returns their CLONE_NEW* flags in
 * ret_joined: clone3() without them creates no new namespace of those kinds, and the child starts
 * inside the joined ones. own[] gets the caller's namespaces, for container_share_leave() right
 * after clone3() (in the parent only: the child stays). On failure the caller is back in its own.
 *
 * Why in the caller rather than in the child: setns() of a pid namespace only moves the children
 * made afterwards (pid_for_children). The container's init itself must be in the joined pid
 * namespace, not only its command, since the /proc it mounts shows the pid namespace of whoever
 * mounts it. ipc and net go the same way so that one step joins all three. The caller (the
 * monitor) is single-threaded and does nothing else between the two calls.
 *
 * setns() on a pidfd joins the namespace of exactly that process, or fails with ESRCH once it has
 * exited: a PID reused since the caller checked whose it is cannot redirect the join. */
int container_share_enter(const ContainerShare *share, int own[static CONTAINER_SHARE_KINDS], uint64_t *ret_joined);
void container_share_leave(int own[static CONTAINER_SHARE_KINDS]);
