/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "image.h"
#include "layer-unpack.h"
#include "sup-error.h"

/* The image store: one per supd, under its state directory (STATE/images), root's alone (0700:
 * it holds setuid files and device nodes of images, which no other host user may reach).
 *
 *   lock               flock: shared while a start resolves and records what it uses, exclusive
 *                      while prune decides and removes
 *   blobs/sha256/HEX   blobs of pulled images: manifests, configs, compressed layers; each
 *                      renamed here whole from a pull's own directory (image-registry.c)
 *   refs/KEY.json      a pulled reference: {"reference", "manifest": "sha256:..", "size",
 *                      "media_type" (the manifest's descriptor), "pulled": time}
 *   images/HEX.json    an image the store has unpacked (oci:, registry:), by manifest digest: its
 *                      names, source, config digest, platform, layers (digest, diff_id, size) and
 *                      config (Entrypoint, Cmd, Env, WorkingDir, User, history)
 *   layers/HEX/        an unpacked layer, by diff_id; present means complete and verified (made
 *                      under tmp/ and renamed here only after both digests matched)
 *   layers/HEX.json    its record: blob digest, sizes, entries, when unpacked, how long it took
 *   disks/HEX.erofs    its disk for guests, built once from layers/HEX
 *   tars/KEY           tar: sources already unpacked: KEY from the file's identity (dev, ino,
 *                      size, mtime, ctime), holding its diff_id
 *   users/UNIT.json    what a unit's last start used (images, diff_ids): prune keeps these
 *   users/.resolving-PID.json  what process PID resolved and has not recorded for a unit yet:
 *                      prune keeps it while PID lives
 *   tmp/               unpacks and pulls in progress; what a crash left there is removed at the
 *                      next open
 *   locks/HEX.lock     one unpack of a layer at a time, across every monitor
 */

#define IMAGE_STORE_SUBDIR "images" /* below supd's state directory */

typedef struct ImageStoreOptions {
        LayerUnpackLimits limits; /* zero: the defaults (layer-unpack.h) */
} ImageStoreOptions;

/* Creates the store's directories if missing and removes stale tmp/ entries. */
int image_store_init(const char *store_dir, SupError **ret_error);

/* Records (users/UNIT.json, atomically) that unit's current instance uses img's images and
 * layers; called by the monitor after each image_resolve(), before the start. */
int image_store_record_user(const char *store_dir, const char *unit, const Image *img, SupError **ret_error);
/* Forgets unit's record (the unit was removed). */
int image_store_forget_user(const char *store_dir, const char *unit, SupError **ret_error);

/* ---- registry pulls: skopeo copy docker://REF into the store ---- */

typedef struct ImagePull ImagePull;

/* Whether u needs a pull before its start under its pull policy: the references of its
 * registry: layers that pull: always names, or that pull: missing names and the store lacks.
 * pull: never returns none (a missing image is then image_resolve()'s error). */
int image_store_pulls_needed(const char *store_dir, const UnitSpec *u, char ***ret_references, SupError **ret_error);

/* Starts skopeo for one reference (a child process; never waits). The caller watches
 * image_pull_fd() (skopeo's output, readable) and the child's exit (image_pull_pid()), calls
 * image_pull_read() when the fd is readable (progress through opts' callback) and
 * image_pull_finish() with the exit status: on success the reference is recorded in refs/;
 * on failure the error carries skopeo's own message; either way tmp/ is cleaned. */
int image_pull_start(const char *store_dir, const char *reference, bool tls_verify, const ImageOptions *opts,
                     ImagePull **ret, SupError **ret_error);
int image_pull_fd(const ImagePull *p);
pid_t image_pull_pid(const ImagePull *p);
/* Reads what skopeo wrote so far (never blocks): 1 read some, 0 its output ended (skopeo is
 * exiting: stop watching the fd), -EAGAIN nothing there, or -errno. */
int image_pull_read(ImagePull *p);
int image_pull_finish(ImagePull *p, int wait_status, SupError **ret_error);
/* Kills skopeo if running, reaps it, removes its temporary files. */
ImagePull *image_pull_free(ImagePull *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImagePull *, image_pull_free);

/* A pull from start to end, waiting (supctl image pull through supd's child, tests). */
int image_store_pull(const char *store_dir, const char *reference, bool tls_verify, const ImageOptions *opts,
                     char **ret_manifest_digest, SupError **ret_error);

/* ---- what supctl image shows and does (JSON as the control socket sends it) ---- */

/* Every image of the store: [{"names": [...], "digest", "size", "layers", "created",
 * "users": [unit names from users/]}] */
int image_store_list(const char *store_dir, json_t **ret, SupError **ret_error);
/* One image, by a name it was pulled or resolved as, or by (a prefix of) its digest: its record
 * with its config and history. -ENOENT: no such image. */
int image_store_inspect(const char *store_dir, const char *name, json_t **ret, SupError **ret_error);
/* Removes the layers, disks, images, refs and blobs that no unit in keep_units (the running
 * generation) uses, under the exclusive lock; dry_run: only says what it would remove.
 * *ret: {"removed": [{"kind", "id", "bytes"}], "bytes"} */
int image_store_prune(const char *store_dir, char *const *keep_units, bool dry_run, json_t **ret, SupError **ret_error);
