/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Mounting onto file descriptors, never onto path names: a container's mount points are opened
 * by a walk that cannot leave its root, and mounts are made detached with the new mount API
 * (fsopen/fsmount, open_tree), given their attributes, and only then attached to the fd. A
 * symlink put in place while the root is built (by an image, or by a workload in the sandbox of
 * an earlier run) can neither redirect a mount to the host nor catch one half made: what the walk
 * opened is what gets mounted on, and a mount is read-only before anyone can see it. */

typedef enum BeneathFlags {
        BENEATH_MKDIR = 1 << 0,  /* make the missing components, as directories (0755) */
        BENEATH_MKFILE = 1 << 1, /* with BENEATH_MKDIR: make a missing last component an empty file (0644) */
} BeneathFlags;

/* Opens path, relative to the directory rootfd, as an O_PATH fd, one component at a time with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) from the fd of the
 * previous one. No component may be a symlink (-ELOOP), wherever it points, not even inside the
 * root, nor ".." (-EINVAL); every component but the last must be a directory (-ENOTDIR). Empty
 * and "." components are skipped ("" is rootfd itself). Mount points are crossed.
 *
 * On failure, if failed_at is not NULL, it is set to the length of the prefix of path up to and
 * including the component that failed, for the caller's message. */
int open_beneath(int rootfd, const char *path, BeneathFlags flags, int *ret_fd, size_t *failed_at);

/* A new instance of the file system type, mounted detached: options is a comma-separated list of
 * "key=value" and "flag" items handed to fsconfig() one by one (NULL: none), source names the
 * mount in mountinfo, attrs are MOUNT_ATTR_* flags. */
int mount_new_fs(const char *type, const char *source, const char *options, unsigned attrs, int *ret_fd);

/* A detached copy of the mount at fd (a bind mount of what fd is; with recursive, the mounts
 * below it as well), with attrs (MOUNT_ATTR_*) set on the copy, and on each of its mounts when
 * recursive. */
int mount_clone(int fd, bool recursive, unsigned attrs, int *ret_fd);
/* The same, with the owners of its files mapped through the user namespace userns_fd (an fd of
 * /proc/PID/ns/user): a file that is uid N on disk belongs to uid N inside the namespace (the host
 * uid that N maps to, seen from outside), and what uid N of the namespace writes is stored as N. -EINVAL where the
 * file system (or, with recursive, one mounted below) does not support idmapped mounts. Needs
 * CAP_SYS_ADMIN over the file system: a caller in the host's user namespace. */
int mount_clone_idmapped(int fd, bool recursive, unsigned attrs, int userns_fd, int *ret_fd);

/* Attaches the detached mount mnt_fd (from mount_new_fs() or mount_clone()) on the file or
 * directory target_fd is. */
int mount_attach(int mnt_fd, int target_fd);

/* Sets attrs (MOUNT_ATTR_*) on the mount fd is on, and with recursive on the mounts below. */
int mount_set_attrs(int fd, bool recursive, unsigned attrs);
