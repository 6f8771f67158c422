/* SPDX-License-Identifier: MIT */
#pragma once

#include "sup-error.h"
#include "time-util.h"

/* Making ext4 images with mkfs.ext4 (e2fsprogs): the layer disks of image/ and the sandbox disks
 * of runtime/vm/ alike. */

#define MKFS_EXT4_TIMEOUT (120 * USEC_PER_SEC)

/* Runs argv (argv[0] "mkfs.ext4", found in PATH or /usr/sbin, /sbin) and waits for it, at most
 * MKFS_EXT4_TIMEOUT. On failure the error names what (e.g. "the disk of layer /srv/site") and
 * says why: not installed, too slow, or mkfs.ext4's own last line. */
int mkfs_ext4(char **argv, const char *what, SupError **ret_error);
