/* SPDX-License-Identifier: MIT */
#include "volume.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"
#include "unit-value.h"

#define DATA_DIR  "_data"
#define META_FILE "volume.json"

/* ---- the pure part ---- */

void volume_meta_done(VolumeMeta *m) {
        free(m->name);
        free(m->created);
        free(m->created_by);
        *m = (VolumeMeta){0};
}

json_t *volume_meta_to_json(const VolumeMeta *m) {
        char mode[8];

        snprintf(mode, sizeof(mode), "%04o", (unsigned) (m->owner.mode & 07777));
        return json_pack("{s:s, s:s?, s:s?, s:I, s:I, s:s}", "name", m->name, "created", m->created, "created_by",
                         m->created_by, "uid", (json_int_t) m->owner.uid, "gid", (json_int_t) m->owner.gid, "mode",
                         mode);
}

int volume_meta_from_json(const json_t *j, VolumeMeta *ret) {
        const char *name = json_string_value(json_object_get(j, "name")),
                   *created = json_string_value(json_object_get(j, "created")),
                   *by = json_string_value(json_object_get(j, "created_by")),
                   *mode = json_string_value(json_object_get(j, "mode"));
        const json_t *uid = json_object_get(j, "uid"), *gid = json_object_get(j, "gid");
        mode_t m;

        if (!name || !volume_name_is_valid(name) || !json_is_integer(uid) || !json_is_integer(gid) || !mode ||
            parse_mode(mode, &m) < 0)
                return -EINVAL;
        if (json_integer_value(uid) < 0 || json_integer_value(uid) >= UINT32_MAX || json_integer_value(gid) < 0 ||
            json_integer_value(gid) >= UINT32_MAX)
                return -EINVAL;
        *ret = (VolumeMeta){
                .name = xstrdup(name),
                .created = created ? xstrdup(created) : NULL,
                .created_by = by ? xstrdup(by) : NULL,
                .owner = {(uid_t) json_integer_value(uid), (gid_t) json_integer_value(gid), m},
        };
        return 0;
}

char *volume_in_use_reason(char *const *running, char *const *named) {
        _cleanup_strv_free_ char **parts = NULL;

        STRV_FOREACH(u, running)
                strv_push(&parts, xasprintf("used by unit %s (running)", *u));
        STRV_FOREACH(u, named)
                if (!strv_contains(running, *u))
                        strv_push(&parts, xasprintf("named by unit %s", *u));
        return parts ? strv_join(parts, ", ") : NULL;
}

/* ---- the image's directory at the target ---- */

static bool is_whiteout(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int fd) {
        char path[64], v;

        /* The unpacker sets both (layer-unpack.h); an O_PATH fd takes no fgetxattr(). */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return (getxattr(path, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y') ||
               (getxattr(path, "user.overlay.opaque", &v, 1) == 1 && v == 'y');
}

typedef enum LayerLookup {
        LOOKUP_FOUND,   /* *ret_st is the directory */
        LOOKUP_ABSENT,  /* not in this layer: look below */
        LOOKUP_HIDDEN,  /* a whiteout or an opaque directory: not in the image */
        LOOKUP_NOT_DIR, /* something else is there (a file, a symlink on the way) */
} LayerLookup;

/* target's components walked one at a time below layer, never following a symlink. */
static LayerLookup layer_lookup(const char *layer, const char *target, struct stat *ret_st) {
        _cleanup_free_ char *copy = xstrdup(target);
        _cleanup_close_ int fd = open(layer, O_PATH | O_DIRECTORY | O_CLOEXEC);
        bool opaque_above = false;
        char *save = NULL;
        struct stat st;

        if (fd < 0)
                return LOOKUP_ABSENT;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next = openat(fd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return errno == ENOENT && !opaque_above ? LOOKUP_ABSENT : LOOKUP_HIDDEN;
                close(fd);
                fd = next;
                if (fstat(fd, &st) < 0)
                        return LOOKUP_NOT_DIR;
                if (is_whiteout(&st))
                        return LOOKUP_HIDDEN;
                if (!S_ISDIR(st.st_mode))
                        return LOOKUP_NOT_DIR;
                opaque_above = opaque_above || is_opaque(fd);
        }
        *ret_st = st;
        return LOOKUP_FOUND;
}

int volume_image_owner(const Image *img, const char *target, VolumeOwner *ret) {
        struct stat st;

        *ret = (VolumeOwner){0, 0, 0755};
        for (size_t i = img ? img->n_layers : 0; i > 0; i--)
                switch (layer_lookup(img->layers[i - 1].dir, target, &st)) {
                case LOOKUP_FOUND:
                        *ret = (VolumeOwner){st.st_uid, st.st_gid, st.st_mode & 07777};
                        return 1;
                case LOOKUP_ABSENT:
                        continue;
                case LOOKUP_HIDDEN:
                case LOOKUP_NOT_DIR:
                        return 0;
                }
        return 0;
}

/* ---- the store ---- */

static char *volumes_dir(const char *state_dir) {
        return path_join(state_dir, VOLUME_SUBDIR);
}

static int open_dir_at(int dirfd, const char *name, int *ret) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

static int open_file_at(int dirfd, const char *name, int *ret) {
        int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

/* Whether fd is still the file at dirfd/name: a removal may have moved it away since it was
 * opened. */
static bool still_there(int dirfd, const char *name, int fd) {
        struct stat a, b;
        return fstat(fd, &a) >= 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) >= 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

static int write_meta(int dirfd, const char *dir, const char *name, const char *unit, const VolumeOwner *owner) {
        VolumeMeta m = {.name = (char *) name, .created_by = (char *) unit, .owner = *owner};
        _cleanup_free_ char *path = path_join(dir, META_FILE), *text = NULL;
        char stamp[32];
        json_t *j;

        m.created = format_timestamp(now(CLOCK_REALTIME), stamp, sizeof(stamp));
        j = volume_meta_to_json(&m);
        text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        return text ? write_file_atomic(path, text, strlen(text), 0600) : -ENOMEM;
}

/* A new _data, owned and moded as owner says, made whole under a temporary name and renamed into
 * place without replacing: of two monitors making it at once, one wins and both use its. */
static int make_data(int dirfd, const char *dir, const char *name, const char *unit, const VolumeOwner *owner,
                     SupError **ret_error) {
        _cleanup_free_ char *tmp = xasprintf(".%s-%d", DATA_DIR, (int) getpid());
        _cleanup_close_ int fd = -EBADF;
        int r;

        (void) unlinkat(dirfd, tmp, AT_REMOVEDIR); /* a crash's leftover, empty */
        if (mkdirat(dirfd, tmp, 0700) < 0)
                return sup_error_errno(ret_error, -errno, "cannot make %s/%s", dir, tmp);
        r = open_dir_at(dirfd, tmp, &fd);
        if (r >= 0 && (fchown(fd, owner->uid, owner->gid) < 0 || fchmod(fd, owner->mode & 07777) < 0))
                r = -errno;
        if (r >= 0 && renameat2(dirfd, tmp, dirfd, DATA_DIR, RENAME_NOREPLACE) < 0)
                r = -errno;
        if (r == -EEXIST)
                r = 1; /* another start made it first */
        if (r != 0) {
                (void) unlinkat(dirfd, tmp, AT_REMOVEDIR);
                return r > 0 ? 0 : sup_error_errno(ret_error, r, "cannot make volume %s's directory", name);
        }
        r = write_meta(dirfd, dir, name, unit, owner);
        return r < 0 ? sup_error_errno(ret_error, r, "cannot record volume %s in %s/" META_FILE, name, dir) : 0;
}

int volume_prepare(const char *state_dir, const char *name, const char *unit, const VolumeOwner *owner, VolumeHold *ret,
                   SupError **ret_error) {
        _cleanup_free_ char *top = volumes_dir(state_dir), *dir = NULL;
        _cleanup_close_ int topfd = -EBADF, dirfd = -EBADF, lockfd = -EBADF, usersfd = -EBADF, userfd = -EBADF;
        int r;

        if (!volume_name_is_valid(name))
                return sup_error_make(ret_error, -EINVAL, "\"%s\" is not a volume name", name);
        r = mkdir_p(top, 0700);
        if (r >= 0)
                r = open_dir_at(AT_FDCWD, top, &topfd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot open the volume store %s", top);
        dir = path_join(top, name);
        /* A removal holds the lock exclusively while it decides, then moves NAME away: a lock
         * taken on a file no longer at its name is the removed volume's, and the start begins
         * again with a new one. */
        for (unsigned attempt = 0;; attempt++) {
                if (attempt >= 8)
                        return sup_error_make(ret_error, -EBUSY, "volume %s keeps being removed", name);
                close_and_reset(&dirfd);
                close_and_reset(&lockfd);
                if (mkdirat(topfd, name, 0700) < 0 && errno != EEXIST)
                        return sup_error_errno(ret_error, -errno, "cannot make volume %s", dir);
                r = open_dir_at(topfd, name, &dirfd);
                if (r == -ENOENT)
                        continue;
                if (r >= 0)
                        r = open_file_at(dirfd, "lock", &lockfd);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot open volume %s", dir);
                if (flock(lockfd, LOCK_SH) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot lock volume %s", dir);
                if (still_there(topfd, name, dirfd) && still_there(dirfd, "lock", lockfd))
                        break;
        }
        if (faccessat(dirfd, DATA_DIR, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return sup_error_errno(ret_error, -errno, "cannot look at volume %s", dir);
                r = make_data(dirfd, dir, name, unit, owner, ret_error);
                if (r < 0)
                        return r;
        }
        if (mkdirat(dirfd, "users", 0700) < 0 && errno != EEXIST)
                return sup_error_errno(ret_error, -errno, "cannot make %s/users", dir);
        r = open_dir_at(dirfd, "users", &usersfd);
        if (r >= 0)
                r = open_file_at(usersfd, unit, &userfd);
        /* Shared, and waiting: an exclusive lock on it is only ever `volume ls` looking, a moment. */
        if (r >= 0 && flock(userfd, LOCK_SH) < 0)
                r = -errno;
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot record unit %s as a user of volume %s", unit, name);
        *ret = (VolumeHold){
                .path = path_join(dir, DATA_DIR),
                .lock_fd = TAKE_FD(lockfd),
                .user_fd = TAKE_FD(userfd),
        };
        return 0;
}

void volume_hold_release(VolumeHold *h) {
        free(h->path);
        close_and_reset(&h->lock_fd);
        close_and_reset(&h->user_fd);
        *h = VOLUME_HOLD_NULL;
}

/* The units whose monitors hold users/UNIT now. Looking takes the lock exclusively for a moment,
 * which a monitor's shared lock waits out. */
static char **running_users(int volfd) {
        _cleanup_close_ int usersfd = -EBADF;
        char **units = NULL;
        struct dirent *de;
        DIR *d;

        if (open_dir_at(volfd, "users", &usersfd) < 0)
                return NULL;
        d = fdopendir(TAKE_FD(usersfd));
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                int fd;
                if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name))
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
                        strv_push(&units, xstrdup(de->d_name));
                close(fd);
        }
        closedir(d);
        strv_sort(units);
        return units;
}

static char **named_by(const char *name, const VolumeNamer *namers, size_t n) {
        char **units = NULL;

        for (size_t i = 0; i < n; i++)
                if (streq(namers[i].volume, name) && !strv_contains(units, namers[i].unit))
                        strv_push(&units, xstrdup(namers[i].unit));
        strv_sort(units);
        return units;
}

static json_t *strv_to_json(char *const *l) {
        json_t *a = json_array();
        STRV_FOREACH(s, l)
                json_array_append_new(a, json_string(*s));
        return a;
}

static json_t *describe(int topfd, const char *top, const char *name, const VolumeNamer *namers, size_t n) {
        _cleanup_free_ char *dir = path_join(top, name), *meta_path = path_join(dir, META_FILE),
                            *data = path_join(dir, DATA_DIR), *text = NULL;
        _cleanup_strv_free_ char **running = NULL, **named = named_by(name, namers, n);
        _cleanup_close_ int dirfd = -EBADF;
        VolumeMeta meta = {0};
        json_t *j = NULL, *parsed;
        struct stat st;

        if (open_dir_at(topfd, name, &dirfd) < 0)
                return NULL;
        running = running_users(dirfd);
        if (read_full_file(meta_path, 64 * 1024, &text, NULL) >= 0 && (parsed = json_loads(text, 0, NULL))) {
                if (volume_meta_from_json(parsed, &meta) >= 0)
                        j = volume_meta_to_json(&meta);
                json_decref(parsed);
        }
        if (!j) {
                /* No record (a crash between the rename and its write): what _data says. */
                j = json_pack("{s:s, s:n, s:n}", "name", name, "created", "created_by");
                if (fstatat(dirfd, DATA_DIR, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                        char mode[8];
                        snprintf(mode, sizeof(mode), "%04o", (unsigned) (st.st_mode & 07777));
                        json_object_set_new(j, "uid", json_integer(st.st_uid));
                        json_object_set_new(j, "gid", json_integer(st.st_gid));
                        json_object_set_new(j, "mode", json_string(mode));
                }
        }
        volume_meta_done(&meta);
        json_object_set_new(j, "path", json_string(data));
        json_object_set_new(j, "users", strv_to_json(running));
        json_object_set_new(j, "named_by", strv_to_json(named));
        return j;
}

static int open_top(const char *state_dir, char **ret_top, int *ret_fd, SupError **ret_error) {
        _cleanup_free_ char *top = volumes_dir(state_dir);
        int r = open_dir_at(AT_FDCWD, top, ret_fd);

        if (r < 0 && r != -ENOENT)
                return sup_error_errno(ret_error, r, "cannot open the volume store %s", top);
        *ret_top = TAKE_PTR(top);
        return r;
}

int volume_list(const char *state_dir, const VolumeNamer *namers, size_t n_namers, json_t **ret, SupError **ret_error) {
        _cleanup_free_ char *top = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int topfd = -EBADF, r;
        struct dirent *de;
        json_t *out;
        DIR *d;

        r = open_top(state_dir, &top, &topfd, ret_error);
        if (r == -ENOENT) {
                *ret = json_array();
                return 0;
        }
        if (r < 0)
                return r;
        d = fdopendir(topfd);
        if (!d) {
                close(topfd);
                return sup_error_errno(ret_error, -errno, "cannot read the volume store %s", top);
        }
        while ((de = readdir(d)))
                if (volume_name_is_valid(de->d_name))
                        strv_push(&names, xstrdup(de->d_name));
        strv_sort(names);
        out = json_array();
        STRV_FOREACH(n, names) {
                json_t *j = describe(dirfd(d), top, *n, namers, n_namers);
                if (j)
                        json_array_append_new(out, j);
        }
        closedir(d);
        *ret = out;
        return 0;
}

int volume_inspect(const char *state_dir, const char *name, const VolumeNamer *namers, size_t n_namers, json_t **ret,
                   SupError **ret_error) {
        _cleanup_free_ char *top = NULL;
        _cleanup_close_ int topfd = -EBADF;
        json_t *j;
        int r;

        if (!volume_name_is_valid(name))
                return sup_error_make(ret_error, -ENOENT, "no volume %s (not a volume name)", name);
        r = open_top(state_dir, &top, &topfd, ret_error);
        if (r == -ENOENT)
                return sup_error_make(ret_error, r, "no volume %s", name);
        if (r < 0)
                return r;
        j = describe(topfd, top, name, namers, n_namers);
        if (!j)
                return sup_error_make(ret_error, -ENOENT, "no volume %s", name);
        *ret = j;
        return 0;
}

#define REMOVING_PREFIX ".removing-"

/* What earlier removals left behind (a crash between the rename and the end of rm_rf(), or an
 * rm_rf() that failed): nobody else ever looks at them. Best effort: one still failing stays. A
 * removal running beside this one (each is a worker of its own) holds its directory's flock. */
static void sweep_removed(int topfd, const char *top) {
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        int fd = fcntl(topfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (startswith(de->d_name, REMOVING_PREFIX))
                        strv_push(&names, xstrdup(de->d_name));
        closedir(d);
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *path = path_join(top, *n);
                _cleanup_close_ int lock = -EBADF;

                if (open_dir_at(topfd, *n, &lock) >= 0 && flock(lock, LOCK_EX | LOCK_NB) >= 0)
                        (void) rm_rf(path);
        }
}

int volume_remove(const char *state_dir, const char *name, const VolumeNamer *namers, size_t n_namers,
                  SupError **ret_error) {
        _cleanup_free_ char *top = NULL, *gone = NULL, *gone_path = NULL, *reason = NULL;
        _cleanup_strv_free_ char **running = NULL, **named = NULL;
        _cleanup_close_ int topfd = -EBADF, dirfd = -EBADF, lockfd = -EBADF;
        int r;

        if (!volume_name_is_valid(name))
                return sup_error_make(ret_error, -ENOENT, "no volume %s (not a volume name)", name);
        r = open_top(state_dir, &top, &topfd, ret_error);
        if (r >= 0)
                r = open_dir_at(topfd, name, &dirfd);
        if (r == -ENOENT)
                return sup_error_make(ret_error, r, "no volume %s", name);
        if (r >= 0)
                r = open_file_at(dirfd, "lock", &lockfd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot open volume %s", name);
        /* Exclusive while deciding and moving the volume away: no start takes it meanwhile (a
         * start waits, then finds it gone and makes a new one). Running instances hold it shared. */
        if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return sup_error_errno(ret_error, -errno, "cannot lock volume %s", name);
                running = running_users(dirfd);
                /* No users/ record held yet: a start between its two locks. */
                if (!running)
                        return sup_error_make(ret_error, -EBUSY, "volume %s is in use: a unit using it is starting",
                                              name);
        }
        named = named_by(name, namers, n_namers);
        reason = volume_in_use_reason(running, named);
        if (reason)
                return sup_error_make(ret_error, -EBUSY, "volume %s is in use: %s", name, reason);
        sweep_removed(topfd, top);
        /* Held until the files are gone: a removal beside this one does not sweep them meanwhile. */
        if (flock(dirfd, LOCK_EX) < 0)
                return sup_error_errno(ret_error, -errno, "cannot lock volume %s", name);
        /* Unique, and never onto a leftover: rename() replaces an empty directory. */
        gone = xasprintf(REMOVING_PREFIX "%s-%d-%llu", name, (int) getpid(), (unsigned long long) now(CLOCK_REALTIME));
        if (renameat2(topfd, name, topfd, gone, RENAME_NOREPLACE) < 0)
                return sup_error_errno(ret_error, -errno, "cannot remove volume %s", name);
        close_and_reset(&lockfd);
        gone_path = path_join(top, gone);
        r = rm_rf(gone_path);
        return r < 0 ? sup_error_errno(ret_error, r, "volume %s is gone, but removing its files (%s) failed", name,
                                       gone_path)
                     : 0;
}
