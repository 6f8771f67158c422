/* SPDX-License-Identifier: MIT */
#pragma once

#include "sup-error.h"
#include "time-util.h"

/* The disk of a layer, for guests (the counterpart of a Windows container's layer VHD): a
 * read-only, uncompressed erofs image made with mkfs.erofs (erofs-utils) from the layer's
 * directory, named by the SHA-256
 * of the layer's content and kept in a cache directory: built once, shared by every instance
 * (and every unit) with the same content, a new one when the content changes. Made under a
 * temporary name and renamed into place, so that an interrupted build (a full disk, a kill) never
 * leaves a half-made image under the final name.
 *
 * Knowing the content hash means reading every file. A start does not: the cache keeps, for each
 * tree it hashed, the digest of a listing of every entry's path, dev, ino, mode, owner, size,
 * rdev, mtime and ctime (trees/DIGEST, holding the content hash). A start lists the tree with
 * stat alone; the same listing means the same content, since no write, chmod, chown, rename or
 * replacement leaves all of these as they were (ctime cannot be set back). A listing it has not
 * seen falls back to the hash. One case is left, as git's index has it ("racily clean"): a change
 * within a time stamp's granularity of the hashing gives the same listing. So an entry whose
 * ctime is within LAYER_DISK_RACY_WINDOW of the time the listing was kept is not trusted: the
 * tree is hashed again, and the listing kept anew, later.
 *
 * erofs rather than ext4 (measured in bench/README.md, "Recommendation: erofs"): it builds as fast
 * or faster, is smaller and not sparse, mounts and reads faster in the guest, and above all adds
 * no /lost+found: an ext4 disk's would show in a hyperv unit's root and not in the same unit's in
 * process isolation. The sandbox disk, which the guest writes, stays ext4 (runtime/vm/vm-disk.h). */

#define LAYER_DISK_SUFFIX ".erofs"

/* Every layer disk's file system UUID: fixed, so that a build depends on the tree alone (the guest
 * finds its disks by virtio serial, never by UUID). */
#define LAYER_DISK_UUID "5c1a7e8d-0000-4000-8000-000000000000"

/* Covers file systems that keep time stamps in whole seconds (ext4 with 128-byte inodes) or two
 * (FAT), and the kernel's coarse clock behind them. */
#define LAYER_DISK_RACY_WINDOW (2 * USEC_PER_SEC)

typedef enum LayerDiskOrigin {
        LAYER_DISK_KNOWN,  /* the tree's listing matched a kept one: found without reading a file */
        LAYER_DISK_HASHED, /* the tree was hashed; its disk was there */
        LAYER_DISK_BUILT,  /* the disk was built now */
} LayerDiskOrigin;

/* The SHA-256 (hex) of what a layer directory holds: every entry's path, type, mode, owner, size
 * and content (regular files), target (symbolic links) and device number, in sorted order. Time
 * stamps are left out, so a rebuilt but identical image tree gives the same hash. */
int layer_hash(const char *dir, char ret[65], SupError **ret_error);

/* The disk image of the layer in dir: cache_dir/HASH.erofs, built if missing. ret_origin (may be
 * NULL) says how it was found. */
int layer_disk(const char *cache_dir, const char *dir, char **ret_path, LayerDiskOrigin *ret_origin,
               SupError **ret_error);

/* Builds the disk of the layer in dir at path (a temporary name beside it, renamed in when
 * complete), with no content hash: for a layer whose identity is known already (the image
 * store's, by diff_id). */
int layer_disk_build(const char *dir, const char *path, SupError **ret_error);
