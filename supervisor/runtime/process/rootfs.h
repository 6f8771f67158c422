/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "unit-spec.h"
#include "workload.h"

/* Building a container's root file system, inside its own mount namespace. Every function here
 * runs in the child between clone() and pivot_root(); errors come back as -errno with a message
 * in err (a caller-provided buffer), because the child reports them to the monitor as text. */

#define ROOTFS_ERR_MAX WORKLOAD_ERR_MAX

/* Mounts the overlay of the unit's directory layers and the sandbox (upperdir/workdir made below
 * it) on target. */
int mount_overlay(const UnitSpec *u, const char *sandbox, const char *target, char *err);

/* /proc, /sys (read-only), a minimal /dev (null zero full random urandom tty, pts, shm, mqueue,
 * and the fd/stdin/stdout/stderr links), then the unit's own mounts, all below rootfd. */
int mount_api_filesystems(int rootfd, bool own_network, char *err);
int mount_unit_mounts(const UnitSpec *u, int rootfd, char *err);

/* Makes rootfs the root: pivot_root, the old root detached. */
int enter_rootfs(const char *rootfs, char *err);
