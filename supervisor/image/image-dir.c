/* SPDX-License-Identifier: MIT */
/* dir: a directory of the host, used where it is (no copy: a change to it shows in the next
 * start's overlay, and gets the next start a new disk). */
#include <stdlib.h>
#include <sys/stat.h>

#include "alloc.h"
#include "image-source.h"
#include "path-util.h"
#include "string-util.h"

static int dir_resolve(const Layer *item, const ImageOptions *opts, Image *img, SupError **ret_error) {
        _cleanup_free_ char *real = NULL;
        struct stat st;

        /* Parsing made it absolute against the unit file's directory; relative now, it would mean
         * whatever the monitor's working directory holds. */
        if (!path_is_absolute(item->path))
                return sup_error_make(ret_error, -EINVAL, "not an absolute path");
        /* Symlinks on the way are followed (a layer is the operator's own tree), once: the
         * drivers get the real path, so what is checked here is what they stack. */
        real = realpath(item->path, NULL);
        if (!real)
                return sup_error_errno(ret_error, -errno, "cannot resolve the path");
        if (stat(real, &st) < 0)
                return sup_error_errno(ret_error, -errno, "cannot look at %s", real);
        if (!S_ISDIR(st.st_mode))
                return streq(real, item->path)
                               ? sup_error_make(ret_error, -ENOTDIR, "not a directory")
                               : sup_error_make(ret_error, -ENOTDIR, "not a directory (it resolves to %s)", real);
        image_add_layer(img, TAKE_PTR(real));
        return 0;
}

const ImageSource image_source_dir = {
        .type = LAYER_DIR,
        .resolve = dir_resolve,
};
