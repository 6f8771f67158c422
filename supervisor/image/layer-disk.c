/* SPDX-License-Identifier: MIT */
#include "layer-disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "mkfs.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"

/* A layer tree deeper than this is refused rather than walked with unbounded recursion. */
#define LAYER_DEPTH_MAX 256U

typedef struct Walk {
        bool content;     /* read every file for the content hash; false: the listing only */
        Sha256 sha;       /* the content hash (with content) */
        Sha256 listing;   /* every entry's stat, time stamps and inode numbers included */
        usec_t ctime_max; /* the newest ctime in the tree */
        SupError **error;
} Walk;

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static usec_t timespec_usec(const struct timespec *ts) {
        return ts->tv_sec < 0 ? 0 : (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / 1000;
}

/* The entry in the listing, always; in the content hash (extra: a file's digest or a link's
 * target) when the walk reads content. */
static void record(Walk *w, const char *rel, const struct stat *st, const char *extra, size_t extra_len) {
        char head[256];
        int n;

        n = snprintf(head, sizeof(head), "%o %u %u %" PRIu64 " %u:%u %" PRIu64 " %" PRIu64 " %lld.%09ld %lld.%09ld\n",
                     (unsigned) st->st_mode, (unsigned) st->st_uid, (unsigned) st->st_gid, (uint64_t) st->st_size,
                     major(st->st_rdev), minor(st->st_rdev), (uint64_t) st->st_dev, (uint64_t) st->st_ino,
                     (long long) st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long) st->st_ctim.tv_sec,
                     st->st_ctim.tv_nsec);
        sha256_update(&w->listing, rel, strlen(rel) + 1);
        sha256_update(&w->listing, head, (size_t) n);
        w->ctime_max = MAX(w->ctime_max, timespec_usec(&st->st_ctim));
        if (!w->content)
                return;

        /* The content hash's own record: no time stamps, no inode numbers. Its format names every
         * disk in every cache: changing it rebuilds them all. */
        n = snprintf(head, sizeof(head), "%o %u %u %" PRIu64 " %u:%u %zu ", (unsigned) st->st_mode,
                     (unsigned) st->st_uid, (unsigned) st->st_gid, (uint64_t) st->st_size, major(st->st_rdev),
                     minor(st->st_rdev), extra_len);
        sha256_update(&w->sha, rel, strlen(rel) + 1);
        sha256_update(&w->sha, head, (size_t) n);
        if (extra_len)
                sha256_update(&w->sha, extra, extra_len);
}

static int hash_file(Walk *w, int dirfd, const char *name, const char *rel, const struct stat *st) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t digest[SHA256_DIGEST_SIZE];
        char buf[65536];
        Sha256 content;
        ssize_t n;

        if (!w->content) {
                record(w, rel, st, NULL, 0);
                return 0;
        }
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return sup_error_errno(w->error, -errno, "cannot read %s", rel);
        sha256_init(&content);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                sha256_update(&content, buf, (size_t) n);
        if (n < 0)
                return sup_error_errno(w->error, -errno, "cannot read %s", rel);
        sha256_final(&content, digest);
        record(w, rel, st, (const char *) digest, sizeof(digest));
        return 0;
}

static int walk_dir(Walk *w, int dirfd, const char *rel, unsigned depth) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        struct dirent *de;
        int r;

        if (depth > LAYER_DEPTH_MAX)
                return sup_error_make(w->error, -ELOOP, "%s: directories nested deeper than %u", rel, LAYER_DEPTH_MAX);
        d = fdopendir(dup(dirfd));
        if (!d)
                return sup_error_errno(w->error, -errno, "cannot read the directory %s", rel);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        strv_push(&names, xstrdup(de->d_name));
        closedir(d);
        if (names)
                qsort(names, strv_length(names), sizeof(char *), compare_names);

        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *child = xasprintf("%s/%s", rel, names[i]);
                struct stat st;

                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return sup_error_errno(w->error, -errno, "cannot stat %s", child);
                if (S_ISREG(st.st_mode)) {
                        r = hash_file(w, dirfd, names[i], child, &st);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = 0;

                        /* A new target is a new link: its ctime and inode say so without reading it. */
                        if (w->content && (n = readlinkat(dirfd, names[i], target, sizeof(target))) < 0)
                                return sup_error_errno(w->error, -errno, "cannot read the link %s", child);
                        record(w, child, &st, target, (size_t) n);
                        r = 0;
                } else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                                openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return sup_error_errno(w->error, -errno, "cannot open the directory %s", child);
                        record(w, child, &st, NULL, 0);
                        r = walk_dir(w, sub, child, depth + 1);
                } else {
                        record(w, child, &st, NULL, 0); /* devices, FIFOs, sockets */
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Walks the layer in dir: its listing's digest in ret_listing, and with w->content its content
 * hash in ret_hash. */
static int walk_layer(const char *dir, Walk *w, char ret_listing[65], char ret_hash[65]) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0)
                return sup_error_errno(w->error, -errno, "cannot open the layer %s", dir);
        sha256_init(&w->sha);
        sha256_init(&w->listing);
        record(w, ".", &st, NULL, 0);
        r = walk_dir(w, fd, ".", 0);
        if (r < 0)
                return r;
        sha256_final_hex(&w->listing, ret_listing);
        if (w->content)
                sha256_final_hex(&w->sha, ret_hash);
        return 0;
}

int layer_hash(const char *dir, char ret[65], SupError **ret_error) {
        Walk w = {.content = true, .error = ret_error};
        char listing[65];
        return walk_layer(dir, &w, listing, ret);
}

static char *tree_path(const char *cache_dir, const char *listing) {
        return xasprintf("%s/trees/%s", cache_dir, listing);
}

/* The content hash kept for a listing, if the listing can be trusted (layer-disk.h): > 0. */
static int tree_lookup(const char *cache_dir, const char *listing, usec_t ctime_max, char ret_hash[65]) {
        _cleanup_free_ char *path = tree_path(cache_dir, listing), *text = NULL;
        unsigned long long kept_at;
        char hash[65];
        size_t size;

        if (read_full_file(path, 256, &text, &size) < 0)
                return 0;
        if (sscanf(text, "%64[0-9a-f] %llu", hash, &kept_at) != 2 || strlen(hash) != 64)
                return 0;
        if (ctime_max + LAYER_DISK_RACY_WINDOW > (usec_t) kept_at)
                return 0;
        memcpy(ret_hash, hash, 65);
        return 1;
}

/* Keeps the listing's content hash, hashed from a walk that began at started (CLOCK_REALTIME).
 * Best effort: without it the next start hashes again. */
static void tree_keep(const char *cache_dir, const char *listing, const char *hash, usec_t started) {
        _cleanup_free_ char *dir = path_join(cache_dir, "trees"), *path = tree_path(cache_dir, listing), *text = NULL;

        if (mkdir_p(dir, 0700) < 0)
                return;
        text = xasprintf("%s %" PRIu64 "\n", hash, (uint64_t) started);
        (void) write_file_atomic(path, text, strlen(text), 0600);
}

/* Builds the disk of the tree in dir at path, through a temporary name beside it. */
static int build_disk(const char *dir, const char *path, SupError **ret_error) {
        _cleanup_free_ char *tmp = NULL, *what = NULL, *cache_dir = path_dirname(path);
        int r;

        r = mkdir_p(cache_dir, 0700);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot create %s", cache_dir);
        tmp = xasprintf("%s/.%s.%d", cache_dir, path_basename(path), (int) getpid());
        what = xasprintf("the disk of layer %s", dir);
        (void) unlink(tmp);
        {
                /* Uncompressed (no -z): a guest reads it as fast as it can. Owners, modes, device
                 * numbers (whiteouts are 0/0), links and xattrs (the opaque markers) are kept as they
                 * are: never --all-root. --preserve-mtime keeps every file's mtime, as process
                 * isolation shows it; the UUID is fixed, so the only byte that differs between two
                 * builds of one tree is the superblock's build time (1.5's -T would fix it, but sets
                 * every file's mtime to it too). */
                char *argv[] = {(char *) "mkfs.erofs",
                                (char *) "--quiet",
                                (char *) "--preserve-mtime",
                                (char *) "-U" LAYER_DISK_UUID,
                                tmp,
                                (char *) dir,
                                NULL};
                r = mkfs_erofs(argv, what, ret_error);
        }
        if (r >= 0 && (chmod(tmp, 0444) < 0 || rename(tmp, path) < 0))
                r = sup_error_errno(ret_error, -errno, "cannot store the disk of layer %s in %s", dir, cache_dir);
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int layer_disk(const char *cache_dir, const char *dir, char **ret_path, LayerDiskOrigin *ret_origin,
               SupError **ret_error) {
        Walk w = {.error = ret_error};
        _cleanup_free_ char *path = NULL;
        LayerDiskOrigin origin = LAYER_DISK_KNOWN;
        char listing[65], hash[65];
        int r;

        /* stat() alone first: the common start, of a tree hashed before. */
        r = walk_layer(dir, &w, listing, hash);
        if (r < 0)
                return r;
        if (tree_lookup(cache_dir, listing, w.ctime_max, hash) <= 0) {
                usec_t started = now(CLOCK_REALTIME);

                w = (Walk){.content = true, .error = ret_error};
                r = walk_layer(dir, &w, listing, hash);
                if (r < 0)
                        return r;
                origin = LAYER_DISK_HASHED;
                tree_keep(cache_dir, listing, hash, started);
        }
        path = xasprintf("%s/%s" LAYER_DISK_SUFFIX, cache_dir, hash);
        if (access(path, F_OK) < 0) {
                r = build_disk(dir, path, ret_error);
                if (r < 0)
                        return r;
                origin = LAYER_DISK_BUILT;
        }
        if (ret_origin)
                *ret_origin = origin;
        *ret_path = TAKE_PTR(path);
        return 0;
}

int layer_disk_build(const char *dir, const char *path, SupError **ret_error) {
        return build_disk(dir, path, ret_error);
}
