/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layer-unpack.h"
#include "sup-error.h"
#include "unit-spec.h"

/* The image step: what a unit's `image` becomes before any isolation driver sees it.
 *
 * image_resolve() is the one place that reads a unit's image sources (spec->layers). What it
 * hands on is plain data: the drivers take the layers from an Image (directories for overlayfs,
 * disks for guests) and never look at a source themselves, so that a new kind of source is a new
 * file in image/ and an entry in its table (image-source.h), and no driver changes. The runtime
 * includes this header for the types only; the step itself is the monitor's to call.
 *
 * Sources: dir: (a directory, used where it is); tar:, oci: and registry:, whose layers are
 * unpacked once into the image store (image-store.h) and shared from there. */

typedef struct ImageLayer {
        char *dir;     /* a read-only directory, absolute and without symlinks: an overlayfs lower layer */
        char *disk;    /* its read-only disk for a guest; NULL unless ImageOptions.disk_cache was given */
        char *diff_id; /* "sha256:HEX", the digest of its uncompressed tar, for a layer of the store
                        * (tar:, oci:, registry:); its disk is then the store's, by diff_id. NULL for dir: */
} ImageLayer;

/* What the image says about running it (an OCI image config's Entrypoint, Cmd, Env, WorkingDir,
 * User); each NULL where the source has none, as dir: never does. */
typedef struct ImageConfig {
        char **entrypoint;
        char **cmd;
        char **env; /* "NAME=value" */
        char *working_dir;
        char *user;
} ImageConfig;

typedef struct Image {
        ImageLayer *layers; /* bottom first; one source item may stand for several (oci:) */
        size_t n_layers;
        ImageConfig config;
        char **images; /* the store's images it runs, "sha256:MANIFEST" each (oci:, registry:), for
                        * the store's record of who uses what and for status */
        char **notes;  /* what the operator may want to read in the unit's log (a disk built, in how long) */
} Image;

/* How far a registry pull has come (skopeo's progress), for the unit's status and log. */
typedef struct ImageProgress {
        const char *reference; /* as the unit names it */
        uint64_t bytes_done, bytes_total;
        unsigned layers_done, layers_total;
} ImageProgress;

typedef struct ImageOptions {
        /* Layer disks of dir: layers for guests are made (once) and found in this directory;
         * NULL: no disks. With it, store layers get the store's disks (by diff_id). */
        const char *disk_cache;
        /* The image store (image-store.h); NULL: tar:, oci: and registry: are refused. */
        const char *store_dir;
        /* Only look: never contact a registry, unpack, or build a disk; what the store does not
         * hold yet is an error saying so (supctl validate --print). */
        bool lookup_only;
        /* What unpacking a layer may cost (supd --image-max-layer-size); a zero field: its default
         * (layer-unpack.h), never "no limit". */
        LayerUnpackLimits limits;
        /* Called as a pull goes on; NULL: not told. */
        void (*progress)(const ImageProgress *p, void *userdata);
        void *userdata;
} ImageOptions;

/* Resolves u's image: the layers bottom first, their disks if asked for, and the image's
 * defaults. Errors say which layer ("layer 1 (dir: /srv/site): not a directory"). */
int image_resolve(const UnitSpec *u, const ImageOptions *opts, Image **ret, SupError **ret_error);

Image *image_free(Image *img);
DEFINE_TRIVIAL_CLEANUP_FUNC(Image *, image_free);

/* The command the workload runs, from the unit's and the image's, as Kubernetes has it: the
 * unit's command replaces the image's Entrypoint and Cmd (with args after it if given); args
 * alone replace the Cmd only; neither: Entrypoint then Cmd. NULL when that leaves nothing.
 * Pure. */
char **image_command(const ImageConfig *c, char *const *command, char *const *args);

/* The spec a driver runs: u with the image's defaults applied where the unit leaves them open,
 * the one place that does so. The command as image_command() with u's command and args (the run
 * spec has no args: its command is the whole argv); env merged per variable, the unit's value
 * winning; working_dir and user the image's where u has none (NULL), and "/" and "0" where
 * neither has them: the run spec always has both. A unit left without a command is an error.
 * Pure (no I/O). */
int image_apply_defaults(const UnitSpec *u, const ImageConfig *c, UnitSpec **ret, SupError **ret_error);
