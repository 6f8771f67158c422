/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "unit-spec.h"
#include "workload.h"

/* Building a container's root file system, inside its own mount namespace. Every function here
 * runs in the child between clone() and pivot_root() (or in sup-init, PID 1 of a hyperv guest,
 * which builds the same root for the same unit); errors come back as -errno with a message in
 * err (a caller-provided buffer), because the child reports them to the monitor as text.
 *
 * Every mount point below the container's root is opened with open_beneath() (mount-util.h) and
 * mounted on by fd: a symlink in the image or the sandbox, wherever it points, stops the start
 * with an error naming it, and nothing is mounted anywhere else. */

#define ROOTFS_ERR_MAX WORKLOAD_ERR_MAX

/* What is hidden from the workload (ROOTFS_MASKED: /dev/null bound over files, an empty
 * read-only tmpfs over directories) and what it may read but not change (ROOTFS_READ_ONLY),
 * relative to the container's root; NULL-terminated. Paths this kernel lacks are skipped.
 * docs/security.md says why each is there. */
extern const char *const ROOTFS_MASKED[];
extern const char *const ROOTFS_READ_ONLY[];

/* Mounts the overlay of the unit's directory layers and the sandbox (upperdir/workdir made below
 * it) on target, nodev: a device node an image carries cannot be opened. */
int mount_overlay(const UnitSpec *u, const char *sandbox, const char *target, char *err);

/* /proc, /sys (read-only), a minimal /dev (null zero full random urandom tty bound from the
 * current root's /dev, pts, shm, mqueue, and the fd/stdin/stdout/stderr links), then the masked
 * and read-only paths, all below rootfd. Everything but the six device nodes and devpts is
 * nodev. */
int mount_api_filesystems(int rootfd, bool own_network, char *err);

/* The unit's mounts below rootfd: tmpfs (nosuid, nodev) and binds (nosuid, nodev, the mounts
 * below the source too, read-only throughout with read_only). A bind's source must be a path
 * without symlinks to something other than a device node, outside the host's kernel interfaces
 * (bind_source_refusal()). */
int mount_unit_mounts(const UnitSpec *u, int rootfd, char *err);

/* Makes rootfs the root: pivot_root, the old root detached. */
int enter_rootfs(const char *rootfs, char *err);

/* security.read_only_rootfs: makes the mount of the current root read-only (and nothing else:
 * /proc, /dev and the unit's mounts keep their own attributes). Run after pivot_root, when every
 * mount point the runtime needed exists. */
int rootfs_make_read_only(char *err);
