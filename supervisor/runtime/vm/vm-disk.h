/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sup-error.h"

/* The writable disk of a hyperv instance (the counterpart of a Windows container's sandbox.vhdx):
 * one ext4 image per instance, its sandbox, kept with the instance's sandbox across restarts like
 * process isolation's sandbox directory. (The read-only disks of its layers are the image step's:
 * image/layer-disk.h.) Made under a temporary name and renamed into place, so that an interrupted
 * build never leaves a half-made image under the final name. Returns -errno with a sentence in
 * err. */

/* Sparse: only what the guest writes takes host disk space. */
#define VM_SANDBOX_DISK_SIZE (4ULL << 30)

/* Makes path an empty ext4 image of size bytes unless it exists already. */
int vm_sandbox_disk(const char *path, uint64_t size, SupError **ret_error);
