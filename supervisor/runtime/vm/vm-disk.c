/* SPDX-License-Identifier: MIT */
#include "vm-disk.h"

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
#include "path-util.h"
#include "process-util.h"
#include "sha256.h"
#include "string-util.h"

#define MKFS_TIMEOUT (120 * USEC_PER_SEC)
/* A layer tree deeper than this is refused rather than walked with unbounded recursion. */
#define LAYER_DEPTH_MAX 256U

static const char *const mkfs_fallbacks[] = {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", NULL};

typedef struct Walk {
        Sha256 sha;
        uint64_t blocks; /* 4 KiB blocks the files need */
        uint64_t entries;
        char *err;
        size_t errlen;
} Walk;

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void hash_record(Walk *w, const char *rel, const struct stat *st, const char *extra, size_t extra_len) {
        char head[256];
        int n = snprintf(head, sizeof(head), "%o %u %u %" PRIu64 " %u:%u %zu ", (unsigned) st->st_mode,
                         (unsigned) st->st_uid, (unsigned) st->st_gid, (uint64_t) st->st_size,
                         major(st->st_rdev), minor(st->st_rdev), extra_len);

        sha256_update(&w->sha, rel, strlen(rel) + 1);
        sha256_update(&w->sha, head, (size_t) n);
        if (extra_len)
                sha256_update(&w->sha, extra, extra_len);
}

static int hash_file(Walk *w, int dirfd, const char *name, const char *rel, const struct stat *st) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        uint8_t digest[SHA256_DIGEST_SIZE];
        char buf[65536];
        Sha256 content;
        ssize_t n;

        if (fd < 0) {
                snprintf(w->err, w->errlen, "cannot read %s: %m", rel);
                return negative_errno();
        }
        sha256_init(&content);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                sha256_update(&content, buf, (size_t) n);
        if (n < 0) {
                snprintf(w->err, w->errlen, "cannot read %s: %m", rel);
                return negative_errno();
        }
        sha256_final(&content, digest);
        hash_record(w, rel, st, (const char *) digest, sizeof(digest));
        return 0;
}

static int walk_dir(Walk *w, int dirfd, const char *rel, unsigned depth) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        struct dirent *de;
        int r;

        if (depth > LAYER_DEPTH_MAX) {
                snprintf(w->err, w->errlen, "%s: directories nested deeper than %u", rel, LAYER_DEPTH_MAX);
                return -ELOOP;
        }
        d = fdopendir(dup(dirfd));
        if (!d) {
                snprintf(w->err, w->errlen, "cannot read the directory %s: %m", rel);
                return negative_errno();
        }
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        strv_push(&names, xstrdup(de->d_name));
        closedir(d);
        if (names)
                qsort(names, strv_length(names), sizeof(char *), compare_names);

        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *child = xasprintf("%s/%s", rel, names[i]);
                struct stat st;

                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        snprintf(w->err, w->errlen, "cannot stat %s: %m", child);
                        return negative_errno();
                }
                w->entries++;
                if (S_ISREG(st.st_mode)) {
                        w->blocks += ((uint64_t) st.st_size + 4095) / 4096;
                        r = hash_file(w, dirfd, names[i], child, &st);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(dirfd, names[i], target, sizeof(target));
                        if (n < 0) {
                                snprintf(w->err, w->errlen, "cannot read the link %s: %m", child);
                                return negative_errno();
                        }
                        w->blocks++;
                        hash_record(w, child, &st, target, (size_t) n);
                        r = 0;
                } else if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                snprintf(w->err, w->errlen, "cannot open the directory %s: %m", child);
                                return negative_errno();
                        }
                        w->blocks++;
                        hash_record(w, child, &st, NULL, 0);
                        r = walk_dir(w, sub, child, depth + 1);
                } else {
                        hash_record(w, child, &st, NULL, 0); /* devices, FIFOs, sockets */
                        r = 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int walk_layer(const char *dir, Walk *w, char ret[65]) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint8_t digest[SHA256_DIGEST_SIZE];
        struct stat st;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0) {
                snprintf(w->err, w->errlen, "cannot open the layer %s: %m", dir);
                return negative_errno();
        }
        sha256_init(&w->sha);
        hash_record(w, ".", &st, NULL, 0);
        r = walk_dir(w, fd, ".", 0);
        if (r < 0)
                return r;
        sha256_final(&w->sha, digest);
        for (size_t i = 0; i < sizeof(digest); i++)
                snprintf(ret + 2 * i, 3, "%02x", digest[i]);
        return 0;
}

int vm_layer_hash(const char *dir, char ret[65], char *err, size_t errlen) {
        Walk w = {.err = err, .errlen = errlen};
        return walk_layer(dir, &w, ret);
}

/* mkfs.ext4's complaint, its last non-empty line. */
static void mkfs_error(const char *what, int status, const char *output, char *err, size_t errlen) {
        _cleanup_free_ char *copy = xstrdup(output ? output : "");
        char *last = NULL;

        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                last = line;
        if (status == -ETIMEDOUT)
                snprintf(err, errlen, "%s: mkfs.ext4 did not finish within %llu s", what,
                         (unsigned long long) (MKFS_TIMEOUT / USEC_PER_SEC));
        else if (status >= 0 && wait_status_code(status) == EXIT_NOT_INSTALLED)
                snprintf(err, errlen, "%s: cannot run mkfs.ext4 (apt-get install e2fsprogs)", what);
        else
                snprintf(err, errlen, "%s: mkfs.ext4 failed: %s", what, last ? last : "no message");
}

static int run_mkfs(char **argv, const char *what, char *err, size_t errlen) {
        _cleanup_free_ char *output = NULL;
        int status = run_program(argv, mkfs_fallbacks, NULL, MKFS_TIMEOUT, 4096, &output);

        if (status >= 0 && wait_status_code(status) == 0)
                return 0;
        mkfs_error(what, status, output, err, errlen);
        return status < 0 ? status : -EIO;
}

int vm_layer_disk(const char *cache_dir, const char *dir, char **ret_path, int *ret_built, char *err, size_t errlen) {
        Walk w = {.err = err, .errlen = errlen};
        _cleanup_free_ char *path = NULL, *tmp = NULL, *size = NULL, *inodes = NULL;
        char hash[65];
        uint64_t bytes;
        int r;

        r = walk_layer(dir, &w, hash);
        if (r < 0)
                return r;
        path = xasprintf("%s/%s.ext4", cache_dir, hash);
        if (ret_built)
                *ret_built = 0;
        if (access(path, F_OK) == 0) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        r = mkdir_p(cache_dir, 0700);
        if (r < 0) {
                snprintf(err, errlen, "cannot create %s: %s", cache_dir, strerror(-r));
                return r;
        }
        /* Room for every file's blocks and the file system's own structures, in KiB. */
        bytes = w.blocks * 4096 + w.entries * 512;
        size = xasprintf("%" PRIu64 "k", (bytes + bytes / 4) / 1024 + 8192);
        inodes = xasprintf("%" PRIu64, w.entries + 256);
        tmp = xasprintf("%s/.%s.ext4.%d", cache_dir, hash, (int) getpid());
        (void) unlink(tmp);
        {
                /* No journal: the image is only ever mounted read-only. */
                char *argv[] = {(char *) "mkfs.ext4", (char *) "-q", (char *) "-F", (char *) "-O", (char *) "^has_journal",
                                (char *) "-N", inodes, (char *) "-d", (char *) dir, tmp, size, NULL};
                _cleanup_free_ char *what = xasprintf("the disk of layer %s", dir);
                r = run_mkfs(argv, what, err, errlen);
        }
        if (r >= 0 && (chmod(tmp, 0444) < 0 || rename(tmp, path) < 0)) {
                snprintf(err, errlen, "cannot store the disk of layer %s in %s: %m", dir, cache_dir);
                r = negative_errno();
        }
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        if (ret_built)
                *ret_built = 1;
        *ret_path = TAKE_PTR(path);
        return 0;
}

int vm_sandbox_disk(const char *path, uint64_t size, char *err, size_t errlen) {
        _cleanup_free_ char *tmp = NULL, *bytes = NULL;
        int r;

        if (access(path, F_OK) == 0)
                return 0;
        tmp = xasprintf("%s.new", path);
        bytes = xasprintf("%" PRIu64 "k", size / 1024);
        (void) unlink(tmp);
        {
                /* Lazy initialisation: the image is sparse and made in milliseconds; the guest
                 * kernel finishes the inode tables in the background. */
                char *argv[] = {(char *) "mkfs.ext4", (char *) "-q", (char *) "-F", (char *) "-E",
                                (char *) "lazy_itable_init=1,lazy_journal_init=1", tmp, bytes, NULL};
                _cleanup_free_ char *what = xasprintf("the sandbox disk %s", path);
                r = run_mkfs(argv, what, err, errlen);
        }
        if (r >= 0 && (chmod(tmp, 0600) < 0 || rename(tmp, path) < 0)) {
                snprintf(err, errlen, "cannot create the sandbox disk %s: %m", path);
                r = negative_errno();
        }
        if (r < 0)
                (void) unlink(tmp);
        return r;
}
