/* SPDX-License-Identifier: MIT */
/* tar: one layer from a .tar, .tar.gz or .tar.zst file, unpacked into the store by its diff_id.
 *
 * The diff_id is known only after reading the whole file, so a start would read it every time.
 * tars/KEY remembers it by the file's identity instead: dev, inode, size, mtime and ctime. No
 * write, rename over or replacement leaves all of them as they were (ctime cannot be set back),
 * so the same identity is the same content and a warm start reads nothing but tars/KEY. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "image-source.h"
#include "image-store-internal.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"

static void tar_key(const struct stat *st, char ret[DIGEST_HEX_LEN + 1]) {
        _cleanup_free_ char *id =
                xasprintf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %lld.%09ld %lld.%09ld", (uint64_t) st->st_dev,
                          (uint64_t) st->st_ino, (uint64_t) st->st_size, (long long) st->st_mtim.tv_sec,
                          st->st_mtim.tv_nsec, (long long) st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
        sha256_hex(id, strlen(id), ret);
}

static bool same_identity(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The diff_id tars/KEY holds, if its layer is in the store. */
static bool tar_known(const char *store_dir, const char *key, char ret_diff_id[DIGEST_LEN + 1]) {
        _cleanup_free_ char *path = store_path(store_dir, "tars/%s", key), *text = NULL;
        size_t n;

        if (read_full_file(path, 256, &text, &n) < 0)
                return false;
        text[strcspn(text, " \n")] = 0;
        if (!store_digest_hex(text) || !store_layer_present(store_dir, text))
                return false;
        memcpy(ret_diff_id, text, DIGEST_LEN + 1);
        return true;
}

static int tar_resolve(const Layer *item, const ImageOptions *opts, Image *img, SupError **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        char key[DIGEST_HEX_LEN + 1], diff_id[DIGEST_LEN + 1];
        _cleanup_free_ char *lock_name = NULL, *path = NULL, *text = NULL;
        struct stat st, after;
        int r;

        if (!path_is_absolute(item->path))
                return sup_error_make(ret_error, -EINVAL, "not an absolute path");
        fd = open(item->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open the archive");
        if (fstat(fd, &st) < 0)
                return sup_error_errno(ret_error, -errno, "cannot look at the archive");
        if (!S_ISREG(st.st_mode))
                return sup_error_make(ret_error, -EINVAL, "not a regular file");
        if (fcntl(fd, F_SETFL, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot read the archive");
        tar_key(&st, key);
        if (tar_known(opts->store_dir, key, diff_id))
                goto add;
        if (opts->lookup_only)
                return sup_error_make(ret_error, -ENOENT, "not unpacked in the store yet (only looking)");

        lock_name = xasprintf("tar-%s", key);
        r = store_layer_ingest(opts->store_dir, fd, LAYER_COMPRESSION_DETECT, lock_name, NULL, NULL, diff_id,
                               ret_error);
        if (r < 0)
                return r;
        /* Changed while it was read: the layer is what was read, but the identity names neither
         * that nor what is there now. The next start reads it again. */
        if (fstat(fd, &after) == 0 && same_identity(&st, &after)) {
                path = store_path(opts->store_dir, "tars/%s", key);
                text = xasprintf("%s\n", diff_id);
                (void) write_file_atomic(path, text, strlen(text), 0600);
        }
add:
        store_add_layer(opts->store_dir, diff_id, img);
        return 0;
}

const ImageSource image_source_tar = {
        .type = LAYER_TAR,
        .resolve = tar_resolve,
};
