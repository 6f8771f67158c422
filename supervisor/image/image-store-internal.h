/* SPDX-License-Identifier: MIT */
#pragma once

/* What the store's files share among themselves (image-store.c, image-oci.c, image-tar.c,
 * image-registry.c); the layout is image-store.h's. */

#include <jansson.h>

#include "image-store.h"

/* jansson's own json_decrefp() */
#define _cleanup_json_ _cleanup_(json_decrefp)

#define DIGEST_HEX_LEN 64
#define DIGEST_LEN     (7 + DIGEST_HEX_LEN) /* "sha256:HEX" */

/* JSON blobs (an index, a manifest, a config) are read whole: past this, a blob is refused
 * rather than read into memory (a real config with a long history is tens of KiB). */
#define STORE_JSON_MAX (4U << 20)

/* The hex part of "sha256:HEX" when digest is exactly that (lowercase, 64 digits), else NULL.
 * Every path built from a digest goes through here first: a digest is written by whoever made
 * the image, and "sha256:../../etc" is a path. */
const char *store_digest_hex(const char *digest);

/* STORE/<formatted> */
char *store_path(const char *store_dir, const char *fmt, ...) _printf_(2, 3);

/* flock(op) on STORE/locks/NAME.lock, held as long as *ret_fd stays open. */
int store_lock(const char *store_dir, const char *name, int op, int *ret_fd, SupError **ret_error);
/* flock(op) on STORE/lock: shared while a start resolves, exclusive while prune removes. */
int store_lock_whole(const char *store_dir, int op, int *ret_fd, SupError **ret_error);

/* Notes, for prune, what this process resolved before image_store_record_user() names its
 * unit; called with the store's lock held shared. */
int store_note_resolving(const char *store_dir, const Image *img, SupError **ret_error);

/* Appends the store's layer diff_id (present) to img. */
void store_add_layer(const char *store_dir, const char *diff_id, Image *img);
/* Whether layers/HEX is there (complete: it is renamed in only when verified). */
bool store_layer_present(const char *store_dir, const char *diff_id);

/* Unpacks the layer archive on blob_fd into the store (image-store.h's steps: under
 * locks/lock_name, into tmp/, both digests checked, layers/HEX.json, then the rename), unless
 * want_diff_id is already there. want_blob_digest, want_diff_id: what the image says (NULL: not
 * known, as for a tar: file). limits: ImageOptions.limits (a zero field: the default). lowers:
 * the directories of the layers below it in the unit, bottom first (a strv; NULL: none), whose
 * metadata the directories the archive never listed take. The diff_id of the layer in
 * ret_diff_id. */
int store_layer_ingest(const char *store_dir, int blob_fd, LayerCompression compression,
                       const LayerUnpackLimits *limits, char *const *lowers, const char *lock_name,
                       const char *want_blob_digest, const char *want_diff_id, char ret_diff_id[DIGEST_LEN + 1],
                       SupError **ret_error);

/* The directories of img's layers so far, bottom first: the lowers of the next (a strv). */
char **store_lowers(const Image *img);

/* The store's disk for guests of layer diff_id (disks/HEX.erofs), built from layers/HEX if
 * missing (not with lookup_only: an error then). */
int store_layer_disk(const char *store_dir, const char *diff_id, bool lookup_only, char **ret_path, bool *ret_built,
                     SupError **ret_error);

/* Where an image's blobs are: an OCI layout's blobs/sha256, or the store's. */
typedef struct BlobDir {
        int fd;             /* blobs/sha256, opened without following symlinks */
        const char *name;   /* the image as the operator wrote it, for errors */
        const char *source; /* "oci:PATH" or "registry:REF", for the image's record */
} BlobDir;

/* Opens blobs/sha256 below dir_fd without following a symlink on the way. */
int blob_dir_open(int dir_fd, int *ret_fd, SupError **ret_error);
/* Opens the blob digest (validated) read-only: a regular file, no symlink followed. */
int blob_open(const BlobDir *b, const char *digest, int *ret_fd, SupError **ret_error);
/* Reads the JSON blob that descriptor-like digest/size name, verified against both (size < 0:
 * not known, then only capped). */
int blob_read_json(const BlobDir *b, const char *digest, json_int_t size, json_t **ret, SupError **ret_error);

/* Adds the image a manifest (or an index, by the host's platform) descriptor names to img: its
 * layers (unpacked unless opts->lookup_only), its config, its manifest digest in img->images,
 * and its record in images/. */
int store_resolve_descriptor(const char *store_dir, const BlobDir *b, json_t *descriptor, const ImageOptions *opts,
                             Image *img, SupError **ret_error);

/* The host's platform in the OCI image spec's terms ("amd64", "arm64"; "linux"). */
const char *store_host_architecture(void);

/* refs/KEY.json's KEY for a reference (the SHA-256 of it, ":latest" added when it has neither a
 * tag nor a digest). -EINVAL: not a reference sup passes to skopeo. */
int registry_reference_key(const char *reference, char ret_key[DIGEST_HEX_LEN + 1], SupError **ret_error);
