/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Mounting onto file descriptors, never onto path names: a container's mount points are opened
 * by a walk that cannot leave its root. A symlink put in place while the root is built (by an
 * image, or by a workload in the sandbox of an earlier run) cannot redirect a mount to the host:
 * what the walk opened is what gets mounted on. */

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
