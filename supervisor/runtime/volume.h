/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "image.h"
#include "sup-error.h"

/* Named volumes (mounts of type volume, docs/volumes.md): directories sup keeps under its state
 * directory, one per name, made at the first start of a unit that names it and removed only by
 * `supctl volume rm`. The monitor prepares and holds the volumes of its instance
 * (volume_prepare()); supd lists, inspects and removes them (in a worker, image-jobs.h). Both
 * drivers bind the directory volume_prepare() returns, as they bind a bind mount's source.
 *
 *   STATE/volumes/             0700 root
 *   STATE/volumes/NAME/        0700 root: no host user walks in (a volume of a unit without a user
 *                              namespace holds files of the container's root, setuid ones too)
 *     _data/                   what the container sees; a new one takes the owner and mode of the
 *                              image's directory at the target (volume_image_owner())
 *     volume.json              {"name", "created", "created_by", "uid", "gid", "mode"}, written
 *                              atomically when _data is made
 *     lock                     flock: shared by every monitor whose instance mounts the volume,
 *                              exclusive while `supctl volume rm` decides and moves NAME away
 *     users/UNIT               flock: shared by unit UNIT's monitor while its instance mounts the
 *                              volume; a lock that can be taken is a unit that no longer runs
 *   STATE/volumes/.removing-NAME-PID/  a volume being removed (renamed first, so that a start
 *                              after the check makes a new one instead of finding half a tree)
 *
 * The locks are flocks on files the holder keeps open, so a monitor's death, however it dies,
 * releases them (as basic/lease.h's leases). */

#define VOLUME_SUBDIR "volumes" /* below supd's state directory */

/* The owner and permissions a new volume's _data gets. */
typedef struct VolumeOwner {
        uid_t uid;
        gid_t gid;
        mode_t mode; /* permission bits only */
} VolumeOwner;

/* volume.json */
typedef struct VolumeMeta {
        char *name;
        char *created;    /* "2026-12-06T09:30:00.000Z" */
        char *created_by; /* the unit whose start made it */
        VolumeOwner owner;
} VolumeMeta;

void volume_meta_done(VolumeMeta *m);
json_t *volume_meta_to_json(const VolumeMeta *m);
/* -EINVAL: not a volume record (a missing key, a wrong type, a name that is not a volume name). */
int volume_meta_from_json(const json_t *j, VolumeMeta *ret);

/* Why a volume may not be removed: "used by unit web (running), named by unit db" for the units
 * whose running instances mount it and the loaded units that name it (a unit in both is said once,
 * as running); NULL when none. Pure. */
char *volume_in_use_reason(char *const *running, char *const *named);

/* The owner and mode of the image's directory at target (absolute), looked up in its layer
 * directories from the top down as overlayfs would (a whiteout ends the search, as does an
 * opaque directory above the layer that lacks the path). What is not a directory in the image,
 * or sits behind a symlink (the runtime refuses such targets), or is absent: root, 0755, as the
 * runtime makes a missing target. */
int volume_image_owner(const Image *img, const char *target, VolumeOwner *ret);

/* A volume an instance holds: the directory to bind, and the two locks. */
typedef struct VolumeHold {
        char *path; /* STATE/volumes/NAME/_data */
        int lock_fd;
        int user_fd;
} VolumeHold;

#define VOLUME_HOLD_NULL ((VolumeHold){.lock_fd = -EBADF, .user_fd = -EBADF})

/* Makes volume name (with owner, when new) and holds it for unit until volume_hold_release():
 * its directory in ret->path. Waits while a removal decides (a moment); a volume removed
 * meanwhile is made anew. */
int volume_prepare(const char *state_dir, const char *name, const char *unit, const VolumeOwner *owner, VolumeHold *ret,
                   SupError **ret_error);
void volume_hold_release(VolumeHold *h);

/* A loaded unit that names a volume (supd's unit set, which the store cannot see). */
typedef struct VolumeNamer {
        const char *volume;
        const char *unit;
} VolumeNamer;

/* Every volume: [{"name", "path", "created", "created_by", "uid", "gid", "mode", "users": [units
 * running with it], "named_by": [loaded units naming it]}], by name. */
int volume_list(const char *state_dir, const VolumeNamer *namers, size_t n_namers, json_t **ret, SupError **ret_error);
/* One volume, as volume_list() has it. -ENOENT: no such volume. */
int volume_inspect(const char *state_dir, const char *name, const VolumeNamer *namers, size_t n_namers, json_t **ret,
                   SupError **ret_error);
/* Removes volume name and its data, unless a running instance mounts it or a loaded unit names
 * it: -EBUSY with volume_in_use_reason() in the error. -ENOENT: no such volume. */
int volume_remove(const char *state_dir, const char *name, const VolumeNamer *namers, size_t n_namers,
                  SupError **ret_error);
