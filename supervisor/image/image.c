/* SPDX-License-Identifier: MIT */
#include "image.h"

#include <sys/file.h>

#include "alloc.h"
#include "image-source.h"
#include "image-store-internal.h"
#include "layer-disk.h"
#include "string-util.h"

/* The sources image_resolve() knows, by the key of an image.layers item. */
static const ImageSource *const sources[_LAYER_TYPE_MAX] = {
        [LAYER_DIR] = &image_source_dir,
        [LAYER_TAR] = &image_source_tar,
        [LAYER_OCI] = &image_source_oci,
        [LAYER_REGISTRY] = &image_source_registry,
};

ImageLayer *image_add_layer(Image *img, char *dir) {
        ImageLayer *l;

        img->layers = xreallocarray(img->layers, img->n_layers + 1, sizeof(ImageLayer));
        l = &img->layers[img->n_layers++];
        *l = (ImageLayer){.dir = dir};
        return l;
}

static void image_config_done(ImageConfig *c) {
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->env);
        free(c->working_dir);
        free(c->user);
}

Image *image_free(Image *img) {
        if (!img)
                return NULL;
        for (size_t i = 0; i < img->n_layers; i++) {
                free(img->layers[i].dir);
                free(img->layers[i].disk);
                free(img->layers[i].diff_id);
        }
        free(img->layers);
        image_config_done(&img->config);
        strv_free(img->images);
        strv_free(img->notes);
        free(img);
        return NULL;
}

static int resolve_disks(Image *img, const ImageOptions *opts, SupError **ret_error) {
        for (size_t i = 0; i < img->n_layers; i++) {
                ImageLayer *l = &img->layers[i];
                usec_t t0 = now(CLOCK_MONOTONIC);
                bool built;
                int r;

                if (l->diff_id)
                        /* A layer of the store: its disk is the store's, by diff_id. */
                        r = store_layer_disk(opts->store_dir, l->diff_id, opts->lookup_only, &l->disk, &built,
                                             ret_error);
                else if (opts->lookup_only)
                        /* Finding a dir: layer's disk means hashing it; only looking, it has none. */
                        continue;
                else {
                        LayerDiskOrigin origin;
                        r = layer_disk(opts->disk_cache, l->dir, &l->disk, &origin, ret_error);
                        built = r >= 0 && origin == LAYER_DISK_BUILT;
                }
                if (r < 0)
                        return sup_error_wrap(ret_error, r, "the disk of layer %s", l->dir);
                if (built)
                        strv_push(&img->notes,
                                  xasprintf("built the disk of layer %s in %llu ms: %s", l->dir,
                                            (unsigned long long) ((now(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC),
                                            l->disk));
        }
        return 0;
}

int image_resolve(const UnitSpec *u, const ImageOptions *opts, Image **ret, SupError **ret_error) {
        static const ImageOptions no_options = {};
        _cleanup_(image_freep) Image *img = xnew0(Image, 1);
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!opts)
                opts = &no_options;
        for (size_t i = 0; i < u->n_layers; i++) {
                const Layer *item = &u->layers[i];
                const ImageSource *source =
                        item->type >= 0 && item->type < _LAYER_TYPE_MAX ? sources[item->type] : NULL;
                const char *type = layer_type_to_string(item->type) ?: "?";

                if (!source)
                        return sup_error_make(ret_error, -EOPNOTSUPP,
                                              "layer %zu (%s: %s): not a kind of layer sup knows", i, type, item->path);
                if (item->type != LAYER_DIR && !opts->store_dir)
                        return sup_error_make(ret_error, -EOPNOTSUPP,
                                              "layer %zu (%s: %s) needs the image store, and none was given", i, type,
                                              item->path);
                /* Shared: prune (exclusive) waits until this start has recorded what it uses. */
                if (item->type != LAYER_DIR && lock_fd < 0) {
                        r = store_lock_whole(opts->store_dir, opts->lookup_only ? LOCK_SH | LOCK_NB : LOCK_SH, &lock_fd,
                                             ret_error);
                        if (r < 0 && !opts->lookup_only)
                                return r;
                }
                r = source->resolve(item, opts, img, ret_error);
                if (r < 0)
                        return sup_error_wrap(ret_error, r, "layer %zu (%s: %s)", i, type, item->path);
        }
        if (opts->disk_cache) {
                r = resolve_disks(img, opts, ret_error);
                if (r < 0)
                        return r;
        }
        if (lock_fd >= 0 && !opts->lookup_only) {
                r = store_note_resolving(opts->store_dir, img, ret_error);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(img);
        return 0;
}
