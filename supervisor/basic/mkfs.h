/* SPDX-License-Identifier: MIT */
#pragma once

#include "sup-error.h"
#include "time-util.h"

/* Making file system images: ext4 with mkfs.ext4 (e2fsprogs) for the sandbox disks of
 * runtime/vm/, erofs with mkfs.erofs (erofs-utils) for the read-only layer disks of image/. */

#define MKFS_TIMEOUT (120 * USEC_PER_SEC)

/* Runs argv (argv[0] "mkfs.ext4", found in PATH or /usr/sbin, /sbin) and waits for it, at most
 * MKFS_TIMEOUT. On failure the error names what (e.g. "the sandbox of web") and says why: not
 * installed, too slow, or mkfs.ext4's own last line. */
int mkfs_ext4(char **argv, const char *what, SupError **ret_error);

/* The same for argv[0] "mkfs.erofs" (PATH, or /usr/bin, /usr/sbin, /sbin). */
int mkfs_erofs(char **argv, const char *what, SupError **ret_error);
