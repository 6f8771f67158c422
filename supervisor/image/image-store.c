/* SPDX-License-Identifier: MIT */
/* The image store (image-store.h): its directories, locks, the unpack of one layer into it, the
 * record of who uses what, and what supctl image shows and removes. */
#include "image-store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "image-source.h"
#include "image-store-internal.h"
#include "layer-disk.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"

static const char *const store_subdirs[] = {"blobs", "blobs/sha256", "refs",  "images", "layers",
                                            "disks", "tars",         "users", "tmp",    "locks"};

const char *store_digest_hex(const char *digest) {
        const char *hex = digest ? startswith(digest, "sha256:") : NULL;

        if (!hex || strlen(hex) != DIGEST_HEX_LEN)
                return NULL;
        for (const char *c = hex; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return NULL;
        return hex;
}

char *store_path(const char *store_dir, const char *fmt, ...) {
        _cleanup_free_ char *rel = NULL;
        va_list ap;

        va_start(ap, fmt);
        rel = xvasprintf(fmt, ap);
        va_end(ap);
        return path_join(store_dir, rel);
}

const char *store_host_architecture(void) {
        static const struct {
                const char *machine, *oci;
        } map[] = {
                {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"i686", "386"},
                {"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"},
        };
        static struct utsname u;

        if (uname(&u) < 0)
                return "amd64";
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(u.machine, map[i].machine))
                        return map[i].oci;
        return u.machine;
}

static bool pid_alive(int pid) {
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int image_store_init(const char *store_dir, SupError **ret_error) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        r = mkdir_p(store_dir, 0700);
        /* Its parent may have made it with another mode: the store holds images' setuid files and
         * device nodes, which no other host user may reach. */
        if (r < 0 || chmod(store_dir, 0700) < 0)
                return sup_error_errno(ret_error, r < 0 ? r : -errno, "cannot create the image store %s", store_dir);
        for (size_t i = 0; i < ELEMENTSOF(store_subdirs); i++) {
                _cleanup_free_ char *p = path_join(store_dir, store_subdirs[i]);
                if (mkdir(p, 0700) < 0 && errno != EEXIST)
                        return sup_error_errno(ret_error, -errno, "cannot create %s", p);
        }

        /* What a crash left in tmp/: nothing there is complete, nothing refers to it. Another
         * monitor may be unpacking into tmp/ right now, so only entries whose maker is gone go:
         * each carries its maker's pid (store_layer_ingest(), the pulls). */
        tmp = path_join(store_dir, "tmp");
        d = opendir(tmp);
        if (!d)
                return sup_error_errno(ret_error, -errno, "cannot read %s", tmp);
        while ((de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                _cleanup_free_ char *p = NULL;
                int pid;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                /* KIND-PID.RANDOM */
                if (dot && sscanf(de->d_name, "%*[a-z]-%d.", &pid) == 1 && pid_alive(pid))
                        continue;
                p = path_join(tmp, de->d_name);
                (void) rm_rf(p);
        }

        /* A disk build's temporary image (layer-disk.c: .NAME.PID beside it) whose builder is
         * gone: a whole layer's worth of space. */
        closedir(TAKE_PTR(d));
        free(tmp);
        tmp = path_join(store_dir, "disks");
        d = opendir(tmp);
        while (d && (de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                _cleanup_free_ char *p = NULL;
                int pid;

                if (de->d_name[0] != '.' || !dot || sscanf(dot, ".%d", &pid) != 1 || pid_alive(pid))
                        continue;
                p = path_join(tmp, de->d_name);
                (void) unlink(p);
        }
        return 0;
}

static int lock_file(const char *path, int op, int *ret_fd, SupError **ret_error) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open the lock %s", path);
        while (flock(fd, op) < 0)
                if (errno != EINTR)
                        return sup_error_errno(ret_error, -errno, "cannot take the lock %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int store_lock(const char *store_dir, const char *name, int op, int *ret_fd, SupError **ret_error) {
        _cleanup_free_ char *path = store_path(store_dir, "locks/%s.lock", name);
        return lock_file(path, op, ret_fd, ret_error);
}

int store_lock_whole(const char *store_dir, int op, int *ret_fd, SupError **ret_error) {
        _cleanup_free_ char *path = path_join(store_dir, "lock");
        return lock_file(path, op, ret_fd, ret_error);
}

bool store_layer_present(const char *store_dir, const char *diff_id) {
        _cleanup_free_ char *path = store_path(store_dir, "layers/%s", store_digest_hex(diff_id));
        struct stat st;
        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void store_add_layer(const char *store_dir, const char *diff_id, Image *img) {
        ImageLayer *l = image_add_layer(img, store_path(store_dir, "layers/%s", store_digest_hex(diff_id)));
        l->diff_id = xstrdup(diff_id);
}

char **store_lowers(const Image *img) {
        char **l = xnew0(char *, img->n_layers + 1);

        for (size_t i = 0; i < img->n_layers; i++)
                l[i] = xstrdup(img->layers[i].dir);
        return l;
}

/* Whether a directory on path's way in the lower root_fd is opaque (what the unpacker or an
 * overlay marks so): the layers further down do not show below it. */
static bool lower_hides_below(int root_fd, const char *path) {
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        _cleanup_free_ char *p = xstrdup(path);

        for (char *slash; (slash = strrchr(p, '/'));) {
                *slash = 0;
                _cleanup_close_ int fd = (int) syscall(SYS_openat2, root_fd, p, &how, sizeof(how));
                char v;

                if (fd >= 0 && ((fgetxattr(fd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y') ||
                                (fgetxattr(fd, "user.overlay.opaque", &v, 1) == 1 && v == 'y')))
                        return true;
        }
        return false;
}

/* The directory at path in the nearest lower that has path at all, in *ret_fd (O_PATH), and
 * which lower in *ret_index: -ENOENT
 * when none has it, or when the nearest that has it holds something else there (a file, a
 * symlink, a whiteout) or an opaque directory above it: what the layers below show at path is
 * then no directory. path is resolved
 * in each lower as the unpacker resolves it, its symlinks never out of that layer. */
static int lower_dir_find(char *const *lowers, const char *path, int *ret_fd, size_t *ret_index) {
        struct open_how how = {
                .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };

        for (size_t i = strv_length(lowers); i > 0; i--) {
                _cleanup_close_ int root = open(lowers[i - 1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                if (root < 0)
                        return -errno;
                fd = (int) syscall(SYS_openat2, root, path, &how, sizeof(how));
                if (fd < 0 && errno == ENOENT) {
                        if (lower_hides_below(root, path))
                                return -ENOENT;
                        continue;
                }
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
                        return -ENOENT;
                *ret_fd = TAKE_FD(fd);
                *ret_index = i - 1;
                return 0;
        }
        return -ENOENT;
}

/* The directories the archive never listed (LayerUnpackResult.implicit_dirs) get the owner,
 * mode and times of the same directory in the nearest lower: in an overlay the topmost copy of a
 * directory decides its metadata, and the unpacker's 0755 root would hide an image's /tmp 1777 or
 * a directory only its user may enter. Without a lower that has it, 0755 root stays. containerd
 * does the same (its mkparent() with the parents of the apply).
 *
 * Layers are shared by diff_id, not by chain: a layer's implicit directories keep what the lowers
 * of the first image that unpacked it said, and another image with the same layer over other
 * lowers sees that. containerd keys its snapshots by chain ID for that reason; here the case
 * (one layer tar over two different bases, relying on directories it does not list) is left. */
static int implicit_dirs_inherit(int root_fd, const LayerUnpackResult *res, char *const *lowers, json_t **ret_record,
                                 SupError **ret_error) {
        /* The record names which lower gave what, up to a bound: a hostile archive may hold
         * millions of such parents. */
        static const size_t record_max = 256;
        _cleanup_json_ json_t *list = json_array();
        size_t inherited = 0;

        for (size_t i = 0; i < res->n_implicit_dirs; i++) {
                const char *path = res->implicit_dirs[i];
                struct open_how how = {
                        .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
                };
                _cleanup_close_ int lower_fd = -EBADF, fd = -EBADF;
                struct stat st;
                size_t from = 0;

                if (lower_dir_find(lowers, path, &lower_fd, &from) < 0)
                        continue;
                if (fstat(lower_fd, &st) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot look at %s below the layer", path);
                fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
                if (fd < 0)
                        return sup_error_errno(ret_error, -errno, "cannot open the layer's directory %s", path);
                /* chown first: the mode's setgid bit must outlive it. */
                if (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0 ||
                    futimens(fd, (const struct timespec[2]){st.st_atim, st.st_mtim}) < 0)
                        return sup_error_errno(ret_error, -errno,
                                               "cannot give the layer's directory %s the metadata of %s", path,
                                               lowers[from]);
                if (inherited++ < record_max)
                        json_array_append_new(list, json_pack("{s:s, s:s}", "path", path, "from", lowers[from]));
        }
        *ret_record = json_pack("{s:I, s:I, s:O}", "count", (json_int_t) res->n_implicit_dirs, "inherited",
                                (json_int_t) inherited, "from_lowers", list);
        return 0;
}

static json_t *timestamp_json(usec_t t) {
        char buf[64];
        return json_string(format_timestamp(t, buf, sizeof(buf)));
}

static int write_json_atomic(const char *path, json_t *j) {
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

        if (!text)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0600);
}

int store_layer_ingest(const char *store_dir, int blob_fd, LayerCompression compression,
                       const LayerUnpackLimits *opts_limits, char *const *lowers, const char *lock_name,
                       const char *want_blob_digest, const char *want_diff_id, char ret_diff_id[DIGEST_LEN + 1],
                       SupError **ret_error) {
        /* A zero field is its default, never "no limit": a layer is hostile input. */
        LayerUnpackLimits limits = {
                .max_bytes =
                        opts_limits && opts_limits->max_bytes ? opts_limits->max_bytes : LAYER_UNPACK_MAX_BYTES_DEFAULT,
                .max_entries = opts_limits && opts_limits->max_entries ? opts_limits->max_entries
                                                                       : LAYER_UNPACK_MAX_ENTRIES_DEFAULT,
        };
        _cleanup_free_ char *tmp = NULL, *final = NULL, *record_path = NULL;
        _cleanup_close_ int lock_fd = -EBADF, publish_fd = -EBADF, root_fd = -EBADF;
        _cleanup_json_ json_t *record = NULL, *implicit = NULL;
        _cleanup_(layer_unpack_result_done) LayerUnpackResult res = {};
        usec_t t0;
        int r;

        if (want_diff_id && store_layer_present(store_dir, want_diff_id))
                goto done;
        /* Two monitors starting units of one image: the second waits here, then finds the layer
         * the first made instead of unpacking it again. */
        r = store_lock(store_dir, lock_name, LOCK_EX, &lock_fd, ret_error);
        if (r < 0)
                return r;
        if (want_diff_id && store_layer_present(store_dir, want_diff_id))
                goto done;

        t0 = now(CLOCK_MONOTONIC);
        tmp = store_path(store_dir, "tmp/layer-%d.XXXXXX", (int) getpid());
        if (!mkdtemp(tmp))
                return sup_error_errno(ret_error, -errno, "cannot create a directory in %s/tmp", store_dir);
        /* The root of the layer is the root of the container's file system where nothing above
         * says otherwise; mkdtemp()'s 0700 would leave it unreadable to a non-root workload. An
         * entry "./" in the archive sets it as the archive says. */
        root_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root_fd < 0 || fchmod(root_fd, 0755) < 0) {
                r = sup_error_errno(ret_error, -errno, "cannot open %s", tmp);
                goto fail;
        }
        r = layer_unpack(blob_fd, compression, root_fd, &limits, &res, ret_error);
        if (r < 0)
                goto fail;
        if (want_blob_digest && !streq(res.blob_digest, want_blob_digest)) {
                r = sup_error_make(ret_error, -EBADMSG, "the blob %s does not match its digest (its content is %s)",
                                   want_blob_digest, res.blob_digest);
                goto fail;
        }
        if (want_diff_id && !streq(res.diff_id, want_diff_id)) {
                r = sup_error_make(ret_error, -EBADMSG,
                                   "the layer unpacked from %s is not the one the image's config names (diff_id %s, "
                                   "the config says %s)",
                                   res.blob_digest, res.diff_id, want_diff_id);
                goto fail;
        }
        final = store_path(store_dir, "layers/%s", store_digest_hex(res.diff_id));
        if (!want_diff_id) {
                /* A tar: file, whose diff_id is known only now: publish under the layer's own lock,
                 * which an oci: or registry: unpack of the same layer holds throughout, so that
                 * neither finds the other's rename in its way. */
                r = store_lock(store_dir, store_digest_hex(res.diff_id), LOCK_EX, &publish_fd, ret_error);
                if (r < 0)
                        goto fail;
                if (store_layer_present(store_dir, res.diff_id)) {
                        (void) rm_rf(tmp); /* the content of a layer the store holds already */
                        goto found;
                }
        }

        /* Before the rename: the layer is complete when it is published. */
        r = implicit_dirs_inherit(root_fd, &res, lowers, &implicit, ret_error);
        if (r < 0)
                goto fail;

        record = json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:O, s:o, s:I}", "diff_id", res.diff_id, "digest",
                           want_blob_digest, "size", (json_int_t) res.blob_size, "unpacked_size",
                           (json_int_t) res.tar_size, "entries", (json_int_t) res.n_entries, "whiteouts",
                           (json_int_t) res.n_whiteouts, "implicit_dirs", implicit, "unpacked",
                           timestamp_json(now(CLOCK_REALTIME)), "duration_ms",
                           (json_int_t) ((now(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC));
        record_path = store_path(store_dir, "layers/%s.json", store_digest_hex(res.diff_id));
        r = write_json_atomic(record_path, record);
        if (r < 0) {
                r = sup_error_errno(ret_error, r, "cannot write %s", record_path);
                goto fail;
        }
        /* The rename is what makes the layer complete: before it, nothing looks in tmp/. */
        if (rename(tmp, final) < 0) {
                r = sup_error_errno(ret_error, -errno, "cannot move the unpacked layer to %s", final);
                goto fail;
        }
found:
        memcpy(ret_diff_id, res.diff_id, DIGEST_LEN + 1);
        return 0;
done:
        memcpy(ret_diff_id, want_diff_id, DIGEST_LEN + 1);
        return 0;
fail:
        (void) rm_rf(tmp);
        return r;
}

int store_layer_disk(const char *store_dir, const char *diff_id, bool lookup_only, char **ret_path, bool *ret_built,
                     SupError **ret_error) {
        const char *hex = store_digest_hex(diff_id);
        _cleanup_free_ char *path = NULL, *dir = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        bool built = false;
        int r;

        if (!hex)
                return sup_error_make(ret_error, -EINVAL, "not a sha256 digest: %s", diff_id);
        path = store_path(store_dir, "disks/%s" LAYER_DISK_SUFFIX, hex);
        if (access(path, F_OK) == 0)
                goto done;
        if (lookup_only)
                return sup_error_make(ret_error, -ENOENT, "the disk of layer %s is not built yet (only looking)",
                                      diff_id);
        /* The diff_id is the layer's identity: no content hash to compute, one build per layer
         * across every monitor. */
        r = store_lock(store_dir, hex, LOCK_EX, &lock_fd, ret_error);
        if (r < 0)
                return r;
        if (access(path, F_OK) < 0) {
                dir = store_path(store_dir, "layers/%s", hex);
                r = layer_disk_build(dir, path, ret_error);
                if (r < 0)
                        return r;
                built = true;
        }
done:
        if (ret_built)
                *ret_built = built;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* ---- users ---- */

static int check_unit_name(const char *unit, SupError **ret_error) {
        if (!unit || !*unit || unit[0] == '.' || strchr(unit, '/'))
                return sup_error_make(ret_error, -EINVAL, "not a unit name: %s", unit ?: "(null)");
        return 0;
}

static json_t *usage_json(const char *unit, const Image *img) {
        json_t *images = json_array(), *layers = json_array();

        STRV_FOREACH(s, img->images)
                json_array_append_new(images, json_string(*s));
        for (size_t i = 0; i < img->n_layers; i++)
                if (img->layers[i].diff_id)
                        json_array_append_new(layers, json_string(img->layers[i].diff_id));
        return json_pack("{s:s?, s:o, s:o, s:o}", "unit", unit, "images", images, "layers", layers, "recorded",
                         timestamp_json(now(CLOCK_REALTIME)));
}

/* users/.resolving-PID.json: what this process resolved and has not recorded for its unit yet.
 * Written while image_resolve() holds the store's lock shared, and kept by prune as long as PID
 * lives: without it, a prune between the resolve and image_store_record_user() would see
 * neither and could remove the layers the start is about to mount. */
static char *resolving_path(const char *store_dir, pid_t pid) {
        return store_path(store_dir, "users/.resolving-%d.json", (int) pid);
}

int store_note_resolving(const char *store_dir, const Image *img, SupError **ret_error) {
        _cleanup_json_ json_t *j = usage_json(NULL, img);
        _cleanup_free_ char *path = resolving_path(store_dir, getpid());
        int r;

        r = write_json_atomic(path, j);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot write %s", path);
        return 0;
}

int image_store_record_user(const char *store_dir, const char *unit, const Image *img, SupError **ret_error) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL, *resolving = NULL;
        int r;

        r = check_unit_name(unit, ret_error);
        if (r < 0)
                return r;
        j = usage_json(unit, img);
        path = store_path(store_dir, "users/%s.json", unit);
        r = write_json_atomic(path, j);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot write %s", path);
        resolving = resolving_path(store_dir, getpid());
        (void) unlink(resolving);
        return 0;
}

int image_store_forget_user(const char *store_dir, const char *unit, SupError **ret_error) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = check_unit_name(unit, ret_error);
        if (r < 0)
                return r;
        path = store_path(store_dir, "users/%s.json", unit);
        if (unlink(path) < 0 && errno != ENOENT)
                return sup_error_errno(ret_error, -errno, "cannot remove %s", path);
        return 0;
}

/* ---- list, inspect, prune ---- */

static json_t *load_json(const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t size;

        if (read_full_file(path, STORE_JSON_MAX, &text, &size) < 0)
                return NULL;
        return json_loadb(text, size, 0, NULL);
}

/* The names in STORE/dir ending in suffix, the suffix cut off (sorted; only names that are
 * digests' hex or units' names: nothing of a crash's leftovers). */
static char **list_dir(const char *store_dir, const char *dir, const char *suffix) {
        _cleanup_free_ char *path = path_join(store_dir, dir);
        _cleanup_closedir_ DIR *d = opendir(path);
        char **names = NULL;
        struct dirent *de;

        while (d && (de = readdir(d))) {
                const char *end = suffix ? endswith(de->d_name, suffix) : de->d_name + strlen(de->d_name);
                if (!end || end == de->d_name || de->d_name[0] == '.')
                        continue;
                if (suffix == NULL && strchr(de->d_name, '.'))
                        continue;
                strv_push(&names, xstrndup(de->d_name, (size_t) (end - de->d_name)));
        }
        if (names)
                strv_sort(names);
        return names;
}

/* unit -> its record, for every users/UNIT.json */
static json_t *load_users(const char *store_dir) {
        _cleanup_strv_free_ char **units = list_dir(store_dir, "users", ".json");
        json_t *users = json_object();

        STRV_FOREACH(u, units) {
                _cleanup_free_ char *p = store_path(store_dir, "users/%s.json", *u);
                json_t *j = load_json(p);
                if (j)
                        json_object_set_new(users, *u, j);
        }
        return users;
}

static bool json_strings_contain(json_t *array, const char *s) {
        size_t i;
        json_t *v;

        json_array_foreach(array, i, v)
                if (json_is_string(v) && streq(json_string_value(v), s))
                        return true;
        return false;
}

/* The units whose record names what (an image digest in "images", a diff_id in "layers"). */
static json_t *users_of(json_t *users, const char *key, const char *what) {
        json_t *out = json_array(), *rec;
        const char *unit;

        json_object_foreach(users, unit, rec)
                if (json_strings_contain(json_object_get(rec, key), what))
                        json_array_append_new(out, json_string(unit));
        return out;
}

static json_t *image_summary(json_t *rec, json_t *users) {
        const char *digest = json_string_value(json_object_get(rec, "digest"));

        return json_pack("{s:O?, s:s, s:O?, s:I, s:O?, s:o}", "names", json_object_get(rec, "names"), "digest",
                         digest ?: "", "size", json_object_get(rec, "size"), "layers",
                         (json_int_t) json_array_size(json_object_get(rec, "layers")), "created",
                         json_object_get(rec, "created"), "users", users_of(users, "images", digest ?: ""));
}

int image_store_list(const char *store_dir, json_t **ret, SupError **ret_error) {
        _cleanup_strv_free_ char **hexes = list_dir(store_dir, "images", ".json");
        _cleanup_json_ json_t *users = load_users(store_dir), *out = json_array();

        (void) ret_error;
        STRV_FOREACH(h, hexes) {
                _cleanup_free_ char *p = store_path(store_dir, "images/%s.json", *h);
                _cleanup_json_ json_t *rec = load_json(p);
                if (rec)
                        json_array_append_new(out, image_summary(rec, users));
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int image_store_inspect(const char *store_dir, const char *name, json_t **ret, SupError **ret_error) {
        _cleanup_strv_free_ char **hexes = list_dir(store_dir, "images", ".json");
        _cleanup_json_ json_t *users = load_users(store_dir), *found = NULL;
        const char *prefix = startswith(name, "sha256:") ?: name;
        size_t n_prefix = 0;

        STRV_FOREACH(h, hexes) {
                _cleanup_free_ char *p = store_path(store_dir, "images/%s.json", *h);
                _cleanup_json_ json_t *rec = load_json(p);
                if (!rec)
                        continue;
                if (json_strings_contain(json_object_get(rec, "names"), name)) {
                        json_decref(found);
                        found = TAKE_PTR(rec);
                        n_prefix = 1;
                        break;
                }
                if (*prefix && startswith(*h, prefix)) {
                        json_decref(found);
                        found = TAKE_PTR(rec);
                        n_prefix++;
                }
        }
        if (!found)
                return sup_error_make(ret_error, -ENOENT, "no image %s in the store", name);
        if (n_prefix > 1)
                return sup_error_make(ret_error, -EINVAL, "%s names more than one image of the store", name);
        json_object_set_new(found, "users",
                            users_of(users, "images", json_string_value(json_object_get(found, "digest")) ?: ""));
        *ret = TAKE_PTR(found);
        return 0;
}

/* The bytes below path (st_blocks), without following links. */
static uint64_t disk_usage(int dir_fd, const char *name) {
        struct stat st;
        uint64_t total;
        int fd;
        DIR *d;
        struct dirent *de;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        total = (uint64_t) st.st_blocks * 512;
        if (!S_ISDIR(st.st_mode))
                return total;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return total;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return total;
        }
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        total += disk_usage(dirfd(d), de->d_name);
        closedir(d);
        return total;
}

typedef struct Prune {
        const char *store_dir;
        bool dry_run;
        json_t *removed;
        uint64_t bytes;
        int error; /* the first failure to remove */
} Prune;

static void prune_remove(Prune *p, const char *kind, const char *id, const char *rel) {
        _cleanup_free_ char *path = path_join(p->store_dir, rel);
        uint64_t bytes = disk_usage(AT_FDCWD, path);
        int r;

        if (!p->dry_run) {
                r = rm_rf(path);
                if (r < 0) {
                        if (p->error == 0)
                                p->error = r;
                        return;
                }
        }
        json_array_append_new(p->removed,
                              json_pack("{s:s, s:s, s:I}", "kind", kind, "id", id, "bytes", (json_int_t) bytes));
        p->bytes += bytes;
}

static void keep_strings(json_t *set, json_t *array) {
        size_t i;
        json_t *v;

        json_array_foreach(array, i, v)
                if (json_is_string(v))
                        json_object_set_new(set, json_string_value(v), json_true());
}

int image_store_prune(const char *store_dir, char *const *keep_units, bool dry_run, json_t **ret,
                      SupError **ret_error) {
        _cleanup_json_ json_t *users = NULL, *keep_images = json_object(), *keep_layers = json_object(),
                              *keep_blobs = json_object();
        _cleanup_strv_free_ char **images = NULL, **layers = NULL, **disks = NULL, **refs = NULL, **blobs = NULL,
                                 **tars = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        Prune p = {.store_dir = store_dir, .dry_run = dry_run, .removed = json_array()};
        const char *unit;
        json_t *rec;
        int r;

        /* Exclusive: no start is between resolving its layers and recording them meanwhile (they
         * hold the lock shared), so what the records say is all that is in use. */
        r = store_lock_whole(store_dir, LOCK_EX, &lock_fd, ret_error);
        if (r < 0) {
                json_decref(p.removed);
                return r;
        }
        users = load_users(store_dir);
        json_object_foreach(users, unit, rec) {
                if (!strv_contains(keep_units, unit)) {
                        _cleanup_free_ char *rel = xasprintf("users/%s.json", unit);
                        prune_remove(&p, "user", unit, rel);
                        continue;
                }
                keep_strings(keep_images, json_object_get(rec, "images"));
                keep_strings(keep_layers, json_object_get(rec, "layers"));
        }

        {
                _cleanup_free_ char *dir = path_join(store_dir, "users");
                _cleanup_closedir_ DIR *d = opendir(dir);
                struct dirent *de;
                int pid;

                while (d && (de = readdir(d))) {
                        _cleanup_free_ char *path = NULL;
                        _cleanup_json_ json_t *j = NULL;

                        if (sscanf(de->d_name, ".resolving-%d.json", &pid) != 1)
                                continue;
                        path = path_join(dir, de->d_name);
                        if (!pid_alive(pid)) {
                                if (!dry_run)
                                        (void) unlink(path);
                                continue;
                        }
                        j = load_json(path);
                        keep_strings(keep_images, json_object_get(j, "images"));
                        keep_strings(keep_layers, json_object_get(j, "layers"));
                }
        }

        /* Images: a kept one keeps its blobs (manifest, config, layer blobs). */
        images = list_dir(store_dir, "images", ".json");
        STRV_FOREACH(h, images) {
                _cleanup_free_ char *digest = xasprintf("sha256:%s", *h), *rel = xasprintf("images/%s.json", *h);
                _cleanup_free_ char *path = path_join(store_dir, rel);
                _cleanup_json_ json_t *img = NULL;
                size_t i;
                json_t *l;

                if (!json_object_get(keep_images, digest)) {
                        prune_remove(&p, "image", digest, rel);
                        continue;
                }
                img = load_json(path);
                json_object_set_new(keep_blobs, digest, json_true());
                if (json_is_string(json_object_get(img, "config_digest")))
                        json_object_set_new(keep_blobs, json_string_value(json_object_get(img, "config_digest")),
                                            json_true());
                json_array_foreach(json_object_get(img, "layers"), i, l) {
                        json_t *d = json_object_get(l, "digest");
                        if (json_is_string(d))
                                json_object_set_new(keep_blobs, json_string_value(d), json_true());
                }
        }

        refs = list_dir(store_dir, "refs", ".json");
        STRV_FOREACH(k, refs) {
                _cleanup_free_ char *rel = xasprintf("refs/%s.json", *k), *path = path_join(store_dir, rel);
                _cleanup_json_ json_t *ref = load_json(path);
                const char *m = json_string_value(json_object_get(ref, "manifest"));
                if (!m || !json_object_get(keep_images, m))
                        prune_remove(&p, "ref", json_string_value(json_object_get(ref, "reference")) ?: *k, rel);
        }

        blobs = list_dir(store_dir, "blobs/sha256", NULL);
        STRV_FOREACH(h, blobs) {
                _cleanup_free_ char *digest = xasprintf("sha256:%s", *h), *rel = xasprintf("blobs/sha256/%s", *h);
                if (!json_object_get(keep_blobs, digest))
                        prune_remove(&p, "blob", digest, rel);
        }

        /* Layers: never one a kept unit's record names. */
        layers = list_dir(store_dir, "layers", NULL);
        STRV_FOREACH(h, layers) {
                _cleanup_free_ char *diff_id = xasprintf("sha256:%s", *h), *rel = xasprintf("layers/%s", *h),
                                    *rel_json = xasprintf("layers/%s.json", *h);
                if (json_object_get(keep_layers, diff_id))
                        continue;
                prune_remove(&p, "layer", diff_id, rel);
                if (!dry_run) {
                        _cleanup_free_ char *path = path_join(store_dir, rel_json);
                        (void) unlink(path);
                }
        }
        disks = list_dir(store_dir, "disks", LAYER_DISK_SUFFIX);
        STRV_FOREACH(h, disks) {
                _cleanup_free_ char *diff_id = xasprintf("sha256:%s", *h),
                                    *rel = xasprintf("disks/%s" LAYER_DISK_SUFFIX, *h);
                if (!json_object_get(keep_layers, diff_id))
                        prune_remove(&p, "disk", diff_id, rel);
        }
        /* Disks of the ext4 format layer disks had before erofs: no guest attaches them again. */
        strv_free(disks);
        disks = list_dir(store_dir, "disks", ".ext4");
        STRV_FOREACH(h, disks) {
                _cleanup_free_ char *diff_id = xasprintf("sha256:%s", *h), *rel = xasprintf("disks/%s.ext4", *h);
                prune_remove(&p, "disk", diff_id, rel);
        }
        tars = list_dir(store_dir, "tars", NULL);
        STRV_FOREACH(k, tars) {
                _cleanup_free_ char *rel = xasprintf("tars/%s", *k), *path = path_join(store_dir, rel), *text = NULL;
                size_t size;
                if (read_full_file(path, 256, &text, &size) < 0 ||
                    !json_object_get(keep_layers, strtok(text, " \n") ?: ""))
                        prune_remove(&p, "tar", *k, rel);
        }

        if (p.error < 0) {
                json_decref(p.removed);
                return sup_error_errno(ret_error, p.error, "cannot remove everything prune found unused in %s",
                                       store_dir);
        }
        *ret = json_pack("{s:o, s:I, s:b}", "removed", p.removed, "bytes", (json_int_t) p.bytes, "dry_run", dry_run);
        return 0;
}
