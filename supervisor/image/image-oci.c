/* SPDX-License-Identifier: MIT */
/* oci: an OCI image layout directory (what podman, buildah, skopeo and umoci write), and what it
 * shares with registry: images, whose blobs are the store's: a manifest (through an index, by the
 * host's platform) read and verified, its layers unpacked into the store, its config taken.
 *
 * Everything in a layout is the image maker's: a digest is a file name below blobs/sha256 and is
 * validated before it becomes one, a blob is opened without following a symlink and only as a
 * regular file, and every JSON blob is checked against the digest and size its descriptor gives
 * before it is believed. */
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "image-source.h"
#include "image-store-internal.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"
#include "time-util.h"

typedef enum MediaKind {
        MEDIA_INDEX,
        MEDIA_MANIFEST,
        MEDIA_CONFIG,
        MEDIA_LAYER,
        _MEDIA_KIND_INVALID = -EINVAL,
} MediaKind;

/* The media types sup reads: the OCI image spec's and Docker's v2 schema 2 equivalents. */
static const struct {
        const char *type;
        MediaKind kind;
        LayerCompression compression;
} media_types[] = {
        {"application/vnd.oci.image.index.v1+json", MEDIA_INDEX, 0},
        {"application/vnd.docker.distribution.manifest.list.v2+json", MEDIA_INDEX, 0},
        {"application/vnd.oci.image.manifest.v1+json", MEDIA_MANIFEST, 0},
        {"application/vnd.docker.distribution.manifest.v2+json", MEDIA_MANIFEST, 0},
        {"application/vnd.oci.image.config.v1+json", MEDIA_CONFIG, 0},
        {"application/vnd.docker.container.image.v1+json", MEDIA_CONFIG, 0},
        {"application/vnd.oci.image.layer.v1.tar", MEDIA_LAYER, LAYER_COMPRESSION_NONE},
        {"application/vnd.oci.image.layer.v1.tar+gzip", MEDIA_LAYER, LAYER_COMPRESSION_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", MEDIA_LAYER, LAYER_COMPRESSION_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", MEDIA_LAYER, LAYER_COMPRESSION_GZIP},
};

static MediaKind media_kind(const char *type, LayerCompression *ret_compression) {
        for (size_t i = 0; type && i < ELEMENTSOF(media_types); i++)
                if (streq(type, media_types[i].type)) {
                        if (ret_compression)
                                *ret_compression = media_types[i].compression;
                        return media_types[i].kind;
                }
        return _MEDIA_KIND_INVALID;
}

int blob_dir_open(int dir_fd, int *ret_fd, SupError **ret_error) {
        _cleanup_close_ int blobs = openat(dir_fd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int fd;

        if (blobs < 0)
                return sup_error_errno(ret_error, -errno, "cannot open blobs/");
        fd = openat(blobs, "sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open blobs/sha256/");
        *ret_fd = fd;
        return 0;
}

/* A file below dir_fd: a regular file, no symlink followed, never blocking on a FIFO. */
static int open_regular(int dir_fd, const char *name, int *ret_fd, struct stat *ret_st, SupError **ret_error) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open %s", name);
        if (fstat(fd, ret_st) < 0)
                return sup_error_errno(ret_error, -errno, "cannot look at %s", name);
        if (!S_ISREG(ret_st->st_mode))
                return sup_error_make(ret_error, -EINVAL, "%s is not a regular file", name);
        if (fcntl(fd, F_SETFL, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot use %s", name);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int blob_open(const BlobDir *b, const char *digest, int *ret_fd, SupError **ret_error) {
        const char *hex = store_digest_hex(digest);
        struct stat st;
        int r;

        if (!hex)
                return sup_error_make(ret_error, -EINVAL, "not a sha256 digest: %s", digest ?: "(none)");
        r = open_regular(b->fd, hex, ret_fd, &st, ret_error);
        return r < 0 ? sup_error_wrap(ret_error, r, "the blob %s", digest) : 0;
}

/* Reads a whole small file from fd, at most max bytes (one more is an error). */
static int read_capped(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = xmalloc(max + 2);
        size_t n = 0;

        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret_size = n;
        *ret = TAKE_PTR(buf);
        return 0;
}

int blob_read_json(const BlobDir *b, const char *digest, json_int_t size, json_t **ret, SupError **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        char hex[DIGEST_HEX_LEN + 1];
        json_error_t jerr;
        size_t n;
        json_t *j;
        int r;

        if (size > (json_int_t) STORE_JSON_MAX)
                return sup_error_make(ret_error, -EFBIG, "the blob %s is larger (%lld bytes) than sup reads (%u)",
                                      digest, (long long) size, STORE_JSON_MAX);
        r = blob_open(b, digest, &fd, ret_error);
        if (r < 0)
                return r;
        r = read_capped(fd, STORE_JSON_MAX, &text, &n);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot read the blob %s", digest);
        if (size >= 0 && (json_int_t) n != size)
                return sup_error_make(ret_error, -EBADMSG, "the blob %s has %zu bytes, its descriptor says %lld",
                                      digest, n, (long long) size);
        sha256_hex(text, n, hex);
        if (!streq(hex, store_digest_hex(digest)))
                return sup_error_make(ret_error, -EBADMSG,
                                      "the blob %s does not match its digest (its content is sha256:%s)", digest, hex);
        j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(j)) {
                json_decref(j);
                return sup_error_make(ret_error, -EBADMSG, "the blob %s is not a JSON object: %s", digest, jerr.text);
        }
        *ret = j;
        return 0;
}

/* The image of an index that runs here: linux and the host's architecture. */
static int pick_platform(const BlobDir *b, json_t *index, json_t **ret, SupError **ret_error) {
        const char *arch = store_host_architecture();
        _cleanup_strv_free_ char **seen = NULL;
        _cleanup_free_ char *list = NULL;
        size_t i;
        json_t *m;

        json_array_foreach(json_object_get(index, "manifests"), i, m) {
                json_t *p = json_object_get(m, "platform");
                const char *os = json_string_value(json_object_get(p, "os"));
                const char *a = json_string_value(json_object_get(p, "architecture"));

                if (os && a && streq(os, "linux") && streq(a, arch)) {
                        *ret = m;
                        return 0;
                }
                strv_push(&seen, xasprintf("%s/%s", os ?: "?", a ?: "?"));
        }
        list = strv_join(seen, ", ");
        return sup_error_make(ret_error, -ENOEXEC, "%s has no image for linux/%s (it has: %s)", b->name, arch,
                              seen ? list : "none");
}

static int strv_from_json(json_t *j, const char *key, char ***ret, SupError **ret_error) {
        char **l = NULL;
        size_t i;
        json_t *v;

        if (!j || json_is_null(j)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(j))
                return sup_error_make(ret_error, -EBADMSG, "the config's %s is not a list", key);
        json_array_foreach(j, i, v) {
                if (!json_is_string(v)) {
                        strv_free(l);
                        return sup_error_make(ret_error, -EBADMSG, "the config's %s holds something not a string", key);
                }
                strv_push(&l, xstrdup(json_string_value(v)));
        }
        /* [] is "no command", as null: the image leaves it to the unit. */
        *ret = l;
        return 0;
}

static int config_from_json(json_t *c, ImageConfig *ret, SupError **ret_error) {
        ImageConfig cfg = {};
        const char *s;
        int r;

        r = strv_from_json(json_object_get(c, "Entrypoint"), "Entrypoint", &cfg.entrypoint, ret_error);
        if (r >= 0)
                r = strv_from_json(json_object_get(c, "Cmd"), "Cmd", &cfg.cmd, ret_error);
        if (r >= 0)
                r = strv_from_json(json_object_get(c, "Env"), "Env", &cfg.env, ret_error);
        if (r < 0) {
                strv_free(cfg.entrypoint);
                strv_free(cfg.cmd);
                return r;
        }
        if ((s = json_string_value(json_object_get(c, "WorkingDir"))) && *s)
                cfg.working_dir = xstrdup(s);
        if ((s = json_string_value(json_object_get(c, "User"))) && *s)
                cfg.user = xstrdup(s);
        *ret = cfg;
        return 0;
}

static void config_replace(ImageConfig *dst, ImageConfig *src) {
        strv_free(dst->entrypoint);
        strv_free(dst->cmd);
        strv_free(dst->env);
        free(dst->working_dir);
        free(dst->user);
        *dst = *src;
        *src = (ImageConfig){};
}

/* images/HEX.json: what inspect and list show, and what prune keeps the blobs of. The names
 * an image was resolved as gather there (an oci: layout's and a registry reference's). */
static void write_image_record(const char *store_dir, const BlobDir *b, const char *manifest_digest,
                               const char *config_digest, json_t *config, json_t *layers, json_int_t size) {
        const char *hex = store_digest_hex(manifest_digest);
        _cleanup_free_ char *path = store_path(store_dir, "images/%s.json", hex), *text = NULL;
        _cleanup_json_ json_t *old = NULL, *names = NULL, *rec = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        size_t n;

        if (store_lock(store_dir, hex, LOCK_EX, &lock_fd, NULL) < 0)
                return;
        if (read_full_file(path, STORE_JSON_MAX, &text, &n) >= 0)
                old = json_loadb(text, n, 0, NULL);
        names = json_deep_copy(json_object_get(old, "names")) ?: json_array();
        {
                size_t i;
                json_t *v;
                json_array_foreach(names, i, v)
                        if (json_is_string(v) && streq(json_string_value(v), b->name))
                                return;
        }
        json_array_append_new(names, json_string(b->name));
        rec = json_pack("{s:s, s:O, s:s, s:s, s:{s:O, s:O}, s:O, s:I, s:O, s:O, s:O}", "digest", manifest_digest,
                        "names", names, "source", b->source, "config_digest", config_digest, "platform", "architecture",
                        json_object_get(config, "architecture"), "os", json_object_get(config, "os"), "layers", layers,
                        "size", size, "config", json_object_get(config, "config") ?: json_null(), "history",
                        json_object_get(config, "history") ?: json_array(), "created",
                        json_object_get(config, "created") ?: json_null());
        if (!rec)
                return;
        free(text);
        text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
        /* Best effort: the record is for people and prune; a start does not depend on it. */
        if (text)
                (void) write_file_atomic(path, text, strlen(text), 0600);
}

static int resolve_manifest(const char *store_dir, const BlobDir *b, const char *manifest_digest, json_t *manifest,
                            const ImageOptions *opts, Image *img, SupError **ret_error) {
        _cleanup_json_ json_t *config = NULL, *records = json_array();
        json_t *cdesc = json_object_get(manifest, "config"), *layers = json_object_get(manifest, "layers");
        json_t *diff_ids, *cfg_json, *l;
        const char *arch, *os, *config_digest;
        ImageConfig cfg = {};
        json_int_t size = 0;
        size_t i, n;
        int r;

        if (!json_is_object(cdesc) || !json_is_array(layers))
                return sup_error_make(ret_error, -EBADMSG, "the manifest %s of %s has no config or no layers",
                                      manifest_digest, b->name);
        if (media_kind(json_string_value(json_object_get(cdesc, "mediaType")), NULL) != MEDIA_CONFIG)
                return sup_error_make(ret_error, -EMEDIUMTYPE, "%s: the config's media type %s is not an image config",
                                      b->name, json_string_value(json_object_get(cdesc, "mediaType")) ?: "(none)");
        config_digest = json_string_value(json_object_get(cdesc, "digest"));
        r = blob_read_json(b, config_digest, json_integer_value(json_object_get(cdesc, "size")), &config, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "the config of %s", b->name);

        arch = json_string_value(json_object_get(config, "architecture"));
        os = json_string_value(json_object_get(config, "os"));
        if (!arch || !os || !streq(os, "linux") || !streq(arch, store_host_architecture()))
                return sup_error_make(ret_error, -ENOEXEC, "%s is an image for %s/%s, not for this host (linux/%s)",
                                      b->name, os ?: "?", arch ?: "?", store_host_architecture());
        diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        n = json_array_size(layers);
        if (!json_is_array(diff_ids) || json_array_size(diff_ids) != n)
                return sup_error_make(ret_error, -EBADMSG,
                                      "%s: the config names %zu layers (rootfs.diff_ids), the manifest %zu", b->name,
                                      json_array_size(diff_ids), n);

        json_array_foreach(layers, i, l) {
                const char *type = json_string_value(json_object_get(l, "mediaType"));
                const char *digest = json_string_value(json_object_get(l, "digest"));
                const char *diff_id = json_string_value(json_array_get(diff_ids, i));
                json_int_t blob_size = json_integer_value(json_object_get(l, "size"));
                LayerCompression compression;
                char got[DIGEST_LEN + 1];

                if (media_kind(type, &compression) != MEDIA_LAYER)
                        return sup_error_make(ret_error, -EMEDIUMTYPE,
                                              "%s: layer %zu has the media type %s, which sup does not unpack", b->name,
                                              i, type ?: "(none)");
                if (!store_digest_hex(digest) || !store_digest_hex(diff_id))
                        return sup_error_make(ret_error, -EINVAL,
                                              "%s: layer %zu is not named by sha256 digests (%s, diff_id %s)", b->name,
                                              i, digest ?: "(none)", diff_id ?: "(none)");
                if (!store_layer_present(store_dir, diff_id)) {
                        _cleanup_strv_free_ char **lowers = NULL;
                        _cleanup_close_ int fd = -EBADF;
                        struct stat st;

                        if (opts->lookup_only)
                                return sup_error_make(
                                        ret_error, -ENOENT,
                                        "%s: layer %zu (%s) is not unpacked in the store yet (only looking)", b->name,
                                        i, diff_id);
                        r = blob_open(b, digest, &fd, ret_error);
                        if (r < 0)
                                return sup_error_wrap(ret_error, r, "%s: layer %zu", b->name, i);
                        if (fstat(fd, &st) < 0)
                                return sup_error_errno(ret_error, -errno, "%s: layer %zu: cannot look at the blob %s",
                                                       b->name, i, digest);
                        if (st.st_size != blob_size)
                                return sup_error_make(
                                        ret_error, -EBADMSG,
                                        "%s: layer %zu: the blob %s has %lld bytes, its descriptor says %lld", b->name,
                                        i, digest, (long long) st.st_size, (long long) blob_size);
                        /* Its lowers: the unit's layers below this image, then the image's own
                         * below it (unpacked by now: bottom first). */
                        lowers = store_lowers(img);
                        for (size_t j = 0; j < i; j++)
                                strv_push(&lowers,
                                          store_path(store_dir, "layers/%s",
                                                     store_digest_hex(json_string_value(json_array_get(diff_ids, j)))));
                        r = store_layer_ingest(store_dir, fd, compression, &opts->limits, lowers,
                                               store_digest_hex(diff_id), digest, diff_id, got, ret_error);
                        if (r < 0)
                                return sup_error_wrap(ret_error, r, "%s: layer %zu (%s)", b->name, i, digest);
                }
                json_array_append_new(records, json_pack("{s:s, s:s, s:I, s:s}", "digest", digest, "diff_id", diff_id,
                                                         "size", blob_size, "media_type", type));
                size += blob_size;
        }

        cfg_json = json_object_get(config, "config");
        r = config_from_json(cfg_json, &cfg, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "%s", b->name);
        json_array_foreach(diff_ids, i, l)
                store_add_layer(store_dir, json_string_value(l), img);
        config_replace(&img->config, &cfg);
        if (!strv_contains(img->images, manifest_digest))
                strv_push(&img->images, xstrdup(manifest_digest));
        if (!opts->lookup_only)
                write_image_record(store_dir, b, manifest_digest, config_digest, config, records, size);
        return 0;
}

int store_resolve_descriptor(const char *store_dir, const BlobDir *b, json_t *descriptor, const ImageOptions *opts,
                             Image *img, SupError **ret_error) {
        _cleanup_json_ json_t *held = json_incref(descriptor);

        /* An index in an index is legal; one level of it is what anyone writes. */
        for (unsigned depth = 0; depth < 3; depth++) {
                const char *digest = json_string_value(json_object_get(held, "digest"));
                json_t *size = json_object_get(held, "size"), *next = NULL;
                _cleanup_json_ json_t *blob = NULL;
                const char *type;
                int r;

                r = blob_read_json(b, digest, json_is_integer(size) ? json_integer_value(size) : -1, &blob, ret_error);
                if (r < 0)
                        return sup_error_wrap(ret_error, r, "%s", b->name);
                /* The descriptor's type, else the blob's own (refs/ may not know it). */
                type = json_string_value(json_object_get(held, "mediaType"))
                               ?: json_string_value(json_object_get(blob, "mediaType"));
                switch (media_kind(type, NULL)) {
                case MEDIA_MANIFEST:
                        return resolve_manifest(store_dir, b, digest, blob, opts, img, ret_error);
                case MEDIA_INDEX:
                        r = pick_platform(b, blob, &next, ret_error);
                        if (r < 0)
                                return r;
                        json_incref(next); /* it lives in blob, which goes at the end of this round */
                        json_decref(held);
                        held = next;
                        continue;
                case MEDIA_CONFIG:
                case MEDIA_LAYER:
                case _MEDIA_KIND_INVALID:
                        break;
                }
                return sup_error_make(ret_error, -EMEDIUMTYPE,
                                      "%s: %s has the media type %s, not an image manifest or index", b->name, digest,
                                      type ?: "(none)");
        }
        return sup_error_make(ret_error, -ELOOP, "%s: image indexes nested too deep", b->name);
}

/* ---- oci: ---- */

static int read_layout_json(int layout_fd, const char *name, json_t **ret, SupError **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        json_error_t jerr;
        struct stat st;
        size_t n;
        json_t *j;
        int r;

        r = open_regular(layout_fd, name, &fd, &st, ret_error);
        if (r < 0)
                return r;
        r = read_capped(fd, STORE_JSON_MAX, &text, &n);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot read %s", name);
        j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(j)) {
                json_decref(j);
                return sup_error_make(ret_error, -EBADMSG, "%s is not a JSON object: %s", name, jerr.text);
        }
        *ret = j;
        return 0;
}

#define REF_NAME "org.opencontainers.image.ref.name"

/* The descriptor in index.json that ref names; with no ref, the only one. */
static int pick_ref(json_t *index, const char *path, const char *ref, json_t **ret, SupError **ret_error) {
        _cleanup_strv_free_ char **refs = NULL;
        _cleanup_free_ char *list = NULL;
        json_t *manifests = json_object_get(index, "manifests"), *m, *found = NULL;
        size_t i;

        json_array_foreach(manifests, i, m) {
                const char *name = json_string_value(json_object_get(json_object_get(m, "annotations"), REF_NAME));
                if (name)
                        strv_push(&refs, xstrdup(name));
                if (ref && name && streq(name, ref) && !found)
                        found = m;
        }
        list = strv_join(refs, ", ");
        if (!ref) {
                if (json_array_size(manifests) == 1) {
                        *ret = json_array_get(manifests, 0);
                        return 0;
                }
                if (json_array_size(manifests) == 0)
                        return sup_error_make(ret_error, -ENOENT, "the OCI layout %s holds no image", path);
                return sup_error_make(ret_error, -EINVAL,
                                      "the OCI layout %s holds %zu images: say which with ref (one of: %s)", path,
                                      json_array_size(manifests), refs ? list : "none has a ref name");
        }
        if (!found)
                return sup_error_make(ret_error, -ENOENT, "the OCI layout %s has no image %s (its refs: %s)", path, ref,
                                      refs ? list : "none");
        *ret = found;
        return 0;
}

static int oci_resolve(const Layer *item, const ImageOptions *opts, Image *img, SupError **ret_error) {
        _cleanup_close_ int layout_fd = -EBADF, blobs_fd = -EBADF;
        _cleanup_json_ json_t *layout = NULL, *index = NULL;
        _cleanup_free_ char *name = NULL, *source = NULL;
        const char *version;
        json_t *desc = NULL;
        int r;

        if (!path_is_absolute(item->path))
                return sup_error_make(ret_error, -EINVAL, "not an absolute path");
        /* The layout's own path is the operator's (followed as dir: follows it); what is in it
         * is the image maker's, and nothing there is followed. */
        layout_fd = open(item->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (layout_fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open the OCI layout");
        r = read_layout_json(layout_fd, "oci-layout", &layout, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "not an OCI image layout");
        version = json_string_value(json_object_get(layout, "imageLayoutVersion"));
        if (!version || !startswith(version, "1."))
                return sup_error_make(ret_error, -EPROTONOSUPPORT, "the OCI layout's version is %s, sup reads 1.x",
                                      version ?: "missing");
        r = read_layout_json(layout_fd, "index.json", &index, ret_error);
        if (r < 0)
                return r;
        r = pick_ref(index, item->path, item->ref, &desc, ret_error);
        if (r < 0)
                return r;
        r = blob_dir_open(layout_fd, &blobs_fd, ret_error);
        if (r < 0)
                return r;
        name = item->ref ? xasprintf("%s:%s", item->path, item->ref) : xstrdup(item->path);
        source = xasprintf("oci:%s", name);
        return store_resolve_descriptor(opts->store_dir, &(BlobDir){.fd = blobs_fd, .name = name, .source = source},
                                        desc, opts, img, ret_error);
}

const ImageSource image_source_oci = {
        .type = LAYER_OCI,
        .resolve = oci_resolve,
};
