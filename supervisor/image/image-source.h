/* SPDX-License-Identifier: MIT */
#pragma once

#include "image.h"

/* One kind of image source (a key of an image.layers item): a table of small functions, as
 * CgroupBackend is. image_resolve() takes the unit's items bottom first and asks each one's source
 * to add what it stands for; each is one file (image-dir.c, image-tar.c, image-oci.c,
 * image-registry.c) and one entry in image.c's table, and the drivers never know. */
typedef struct ImageSource {
        LayerType type;
        /* Appends the layers item stands for to img, bottom first (image_add_layer()): one for a
         * directory or an archive, all of an image's for an OCI layout. A source that knows the
         * image's defaults fills img->config; a later item's replace an earlier one's. Errors need
         * not name the item: the caller puts "layer N (type: path)" in front. */
        int (*resolve)(const Layer *item, const ImageOptions *opts, Image *img, SupError **ret_error);
} ImageSource;

extern const ImageSource image_source_dir;
extern const ImageSource image_source_tar;
extern const ImageSource image_source_oci;
extern const ImageSource image_source_registry;

/* Appends a layer whose read-only directory is dir (taken). */
ImageLayer *image_add_layer(Image *img, char *dir);
