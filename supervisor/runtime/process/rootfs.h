/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "image.h"
#include "sup-error.h"
#include "unit-spec.h"

/* Building a container's root file system, inside its own mount namespace. Every function here
 * runs in the child between clone() and pivot_root() (or in sup-init, PID 1 of a hyperv guest,
 * which builds the same root for the same unit; with a root built ahead, mount_unit_mounts() runs
 * after pivot_root, at the go: container.h); errors come back as -errno and a SupError, which
 * the child then reports to the monitor as text. The layers are the image step's (image.h): this
 * file never reads a unit's image sources.
 *
 * Every mount point below the container's root is opened with open_beneath() (mount-util.h) and
 * mounted on by fd: a symlink in the image or the sandbox, wherever it points, stops the start
 * with an error naming it, and nothing is mounted anywhere else. */

/* What is hidden from the workload (ROOTFS_MASKED: /dev/null bound over files, an empty
 * read-only tmpfs over directories) and what it may read but not change (ROOTFS_READ_ONLY),
 * relative to the container's root; NULL-terminated. Paths this kernel lacks are skipped.
 * docs/security.md says why each is there. */
extern const char *const ROOTFS_MASKED[];
extern const char *const ROOTFS_READ_ONLY[];

/* Mounts the overlay of the image's layer directories and the sandbox (upperdir/workdir made below
 * it) on target, nodev: a device node an image carries cannot be opened. */
int mount_overlay(const Image *img, const char *sandbox, const char *target, SupError **ret_error);
/* upper/ and work/ below the sandbox, the overlay's upperdir and workdir, unless they exist. */
int rootfs_make_sandbox_dirs(const char *sandbox, SupError **ret_error);

/* Mounts made outside the child, by its parent, and handed over with the go (SCM_RIGHTS): at
 * most ROOTFS_FDS_MAX, in the order each function below says. */
#define ROOTFS_FDS_MAX 253 /* the most fds one SCM_RIGHTS message carries */
typedef struct RootfsFds {
        int *fds;
        size_t n;
} RootfsFds;
void rootfs_fds_done(RootfsFds *m);

/* security.user_namespace: auto (userns.h). The container's root is made inside its user
 * namespace, but idmapped mounts can only be made from the host's: its parent makes one for each
 * layer (read-only), the sandbox (with upper/ and work/) and each bind mount's source (checked as
 * mount_unit_mounts() checks it, with the bind's attributes), for the user namespace userns_fd,
 * and hands them over. fds holds them in that order: the layers as img->layers, the sandbox, then
 * the binds and volumes as they come in u->mounts. */
int rootfs_idmap_prepare(const UnitSpec *u, const Image *img, const char *sandbox, int userns_fd, RootfsFds *ret,
                         SupError **ret_error);

/* A root built ahead (container.h, root_ahead) lives in a copy of the host's mount table taken
 * before the start: its bind sources are opened and copied by the parent at the go instead, from
 * the host's mounts of that moment (checked and given their attributes as mount_unit_mounts()
 * would), the binds and volumes in u->mounts' order. */
size_t rootfs_count_binds(const UnitSpec *u);
int rootfs_binds_prepare(const UnitSpec *u, RootfsFds *ret, SupError **ret_error);

/* mount_overlay() from the idmapped layers and sandbox fds (rootfs_idmap_prepare()'s order), in a user
 * namespace: the caller becomes the namespace's root (uid and gid 0) on the way, as the overlay's
 * creator must be. Returns the overlay's root in *ret_rootfd. */
int mount_overlay_idmapped(const Image *img, const int *fds, const char *target, int *ret_rootfd, SupError **ret_error);

/* /proc, /sys (read-only), a minimal /dev (null zero full random urandom tty bound from the
 * current root's /dev, pts, shm, mqueue, and the fd/stdin/stdout/stderr links), then the masked
 * and read-only paths, all below rootfd. Everything but the six device nodes and devpts is
 * nodev. */
int mount_api_filesystems(int rootfd, bool own_network, SupError **ret_error);

/* The unit's mounts below rootfd: tmpfs (nosuid, nodev) and binds (nosuid, nodev, the mounts
 * below the source too, read-only throughout with read_only). A volume is a bind of the
 * directory the monitor prepared and wrote into its source (volume.h). A bind's source must be a path
 * without symlinks to something other than a device node, outside the host's kernel interfaces
 * (bind_source_refusal()). bind_fds: the binds made outside, one per bind in order
 * (rootfs_idmap_prepare(), rootfs_binds_prepare()); NULL: made here. */
int mount_unit_mounts(const UnitSpec *u, int rootfd, const int *bind_fds, SupError **ret_error);

/* Makes rootfd (the top mount of the container's root) the root: pivot_root, the old root
 * detached. */
int enter_rootfs(int rootfd, SupError **ret_error);

/* security.read_only_rootfs: makes the mount of the current root read-only (and nothing else:
 * /proc, /dev and the unit's mounts keep their own attributes). Run after pivot_root, when every
 * mount point the runtime needed exists. */
int rootfs_make_read_only(SupError **ret_error);
