/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The disks of a hyperv instance (the counterparts of a Windows container's layer VHDs and its
 * sandbox.vhdx):
 *
 *  - one read-only ext4 image per image layer, made with mkfs.ext4 -d from the layer's directory,
 *    named by the SHA-256 of the layer's content and kept in a cache directory: built once, shared
 *    by every instance (and every unit) with the same layer, rebuilt when the content changes;
 *  - one writable ext4 image per instance, its sandbox, kept with the instance's sandbox across
 *    restarts like process isolation's sandbox directory.
 *
 * Both are made under a temporary name and renamed into place, so that an interrupted build (a
 * full disk, a kill) never leaves a half-made image under the final name. Functions return -errno
 * with a sentence in err. */

/* Sparse: only what the guest writes takes host disk space. */
#define VM_SANDBOX_DISK_SIZE (4ULL << 30)

/* The SHA-256 (hex) of what a layer directory holds: every entry's path, type, mode, owner,
 * size and content (regular files), target (symbolic links) and device number, in sorted order.
 * Time stamps are left out, so a rebuilt but identical image tree gives the same hash. */
int vm_layer_hash(const char *dir, char ret[65], char *err, size_t errlen);

/* The disk image of the layer in dir: cache_dir/HASH.ext4, built if missing. *ret_built says
 * whether it was (may be NULL). */
int vm_layer_disk(const char *cache_dir, const char *dir, char **ret_path, int *ret_built, char *err, size_t errlen);

/* Makes path an empty ext4 image of size bytes unless it exists already. */
int vm_sandbox_disk(const char *path, uint64_t size, char *err, size_t errlen);
