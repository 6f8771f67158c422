/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

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
 * Sources today: dir: (a directory, used where it is). tar: and oci: pass validation and are
 * refused here at start, until the layer store that unpacks them exists. */

typedef struct ImageLayer {
        char *dir;  /* a read-only directory, absolute and without symlinks: an overlayfs lower layer */
        char *disk; /* its read-only ext4 disk for a guest; NULL unless ImageOptions.disk_cache was given */
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
        char **notes; /* what the operator may want to read in the unit's log (a disk built, in how long) */
} Image;

typedef struct ImageOptions {
        /* Layer disks for guests are made (once) and found in this directory; NULL: no disks. */
        const char *disk_cache;
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
 * the one place that does so. The command as image_command() (the unit format has no args yet);
 * env merged per variable, the unit's value winning; working_dir and user the image's only where
 * u has none (NULL: a parsed spec has "/" and "0" from unit_spec_new(), so the image's count once
 * the unit format tells "not set" apart), and "/" and "0" where neither has them: the run spec
 * always has both. A unit left without a command is an error. Pure (no I/O). */
int image_apply_defaults(const UnitSpec *u, const ImageConfig *c, UnitSpec **ret, SupError **ret_error);
