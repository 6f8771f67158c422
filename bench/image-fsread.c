/* SPDX-License-Identifier: MIT */
/* The stopwatch of image.sh for a layer's read-only disk, in a guest (static, in a tiny initramfs)
 * or on the host (a loop device):
 *
 *   image-fsread insmod MODULE.ko            loads a module: "insmod MODULE US"
 *   image-fsread clock                       CLOCK_MONOTONIC: "clock US" (in a guest: since its boot)
 *   image-fsread mount DEV DIR TYPE          mounts DEV read-only on DIR as TYPE: "mount DEV US"
 *   image-fsread read DIR                    walks the tree (readdir and lstat of every entry),
 *                                            then reads every regular file to its end:
 *     "read DIR walk US read US entries N files N bytes N whiteouts N opaque N"
 *   image-fsread mount-read DEV DIR TYPE     mount, read, umount:
 *     "fsread TYPE DEV mount US walk US read US entries N files N bytes N whiteouts N opaque N"
 *
 * whiteouts: character devices 0:0 (overlayfs's whiteouts); opaque: directories whose
 * trusted.overlay.opaque is "y". Both must survive a disk format, or the merged view of the
 * layers changes. Times are CLOCK_MONOTONIC; a failure is a line "fsread-error ..." and exit 1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

typedef struct Count {
        uint64_t entries, files, bytes, whiteouts, opaque;
} Count;

static char buf[1 << 17];

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int fail(const char *what, const char *path) {
        printf("fsread-error %s %s: %s\n", what, path, strerror(errno));
        return -1;
}

/* Depth first, in readdir order (the order a container's first `ls -R` sees). With read, the
 * content of regular files; without, the metadata alone. */
static int walk(int dirfd, const char *path, int read_content, Count *c) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        char value[8];

        if (fd < 0)
                return fail("open", path);
        ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", value, sizeof(value));
        if (n == 1 && value[0] == 'y')
                c->opaque++;
        d = fdopendir(fd);
        if (!d)
                return close(fd), fail("fdopendir", path);
        while ((de = readdir(d))) {
                struct stat st;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                c->entries++;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return closedir(d), fail("lstat", de->d_name);
                if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
                        c->whiteouts++;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return closedir(d), fail("open", de->d_name);
                        int r = walk(sub, de->d_name, read_content, c);
                        close(sub);
                        if (r < 0)
                                return closedir(d), r;
                } else if (S_ISREG(st.st_mode)) {
                        c->files++;
                        if (read_content) {
                                int f = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                                ssize_t k;
                                if (f < 0)
                                        return closedir(d), fail("open", de->d_name);
                                while ((k = read(f, buf, sizeof(buf))) > 0)
                                        c->bytes += (uint64_t) k;
                                close(f);
                                if (k < 0)
                                        return closedir(d), fail("read", de->d_name);
                        }
                }
        }
        closedir(d);
        return 0;
}

static int do_mount(const char *dev, const char *dir, const char *type, uint64_t *ret_us) {
        uint64_t t0;

        (void) mkdir(dir, 0755);
        t0 = now_us();
        if (mount(dev, dir, type, MS_RDONLY, NULL) < 0)
                return fail("mount", dev);
        *ret_us = now_us() - t0;
        return 0;
}

/* The walk, then the read: "walk US read US entries N files N bytes N whiteouts N opaque N". */
static int do_read(const char *dir, char *ret, size_t size) {
        Count walked = {0}, read = {0};
        uint64_t t0, t1, t2;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return fail("open", dir);
        t0 = now_us();
        if (walk(fd, dir, 0, &walked) < 0)
                return close(fd), -1;
        t1 = now_us();
        if (walk(fd, dir, 1, &read) < 0)
                return close(fd), -1;
        t2 = now_us();
        close(fd);
        snprintf(ret, size, "walk %llu read %llu entries %llu files %llu bytes %llu whiteouts %llu opaque %llu",
                 (unsigned long long) (t1 - t0), (unsigned long long) (t2 - t1), (unsigned long long) read.entries,
                 (unsigned long long) read.files, (unsigned long long) read.bytes, (unsigned long long) read.whiteouts,
                 (unsigned long long) read.opaque);
        return 0;
}

static int mount_read(const char *dev, const char *dir, const char *type) {
        char line[512];
        uint64_t us;

        if (do_mount(dev, dir, type, &us) < 0 || do_read(dir, line, sizeof(line)) < 0)
                return -1;
        if (umount(dir) < 0)
                return fail("umount", dir);
        printf("fsread %s %s mount %llu %s\n", type, dev, (unsigned long long) us, line);
        return 0;
}

static int insmod(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        uint64_t t0;

        if (fd < 0)
                return fail("open", path);
        t0 = now_us();
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
                return fail("finit_module", path);
        printf("insmod %s %llu\n", path, (unsigned long long) (now_us() - t0));
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3 && !strcmp(argv[1], "insmod"))
                r = insmod(argv[2]);
        else if (argc == 5 && !strcmp(argv[1], "mount-read"))
                r = mount_read(argv[2], argv[3], argv[4]);
        else if (argc == 2 && !strcmp(argv[1], "clock"))
                r = printf("clock %llu\n", (unsigned long long) now_us()) < 0 ? -1 : 0;
        else if (argc == 5 && !strcmp(argv[1], "mount")) {
                uint64_t us;
                r = do_mount(argv[2], argv[3], argv[4], &us);
                if (r >= 0)
                        printf("mount %s %llu\n", argv[2], (unsigned long long) us);
        } else if (argc == 3 && !strcmp(argv[1], "read")) {
                char line[512];
                r = do_read(argv[2], line, sizeof(line));
                if (r >= 0)
                        printf("read %s %s\n", argv[2], line);
        } else {
                fprintf(stderr, "usage: image-fsread insmod MODULE | clock | mount DEV DIR TYPE | read DIR | "
                                "mount-read DEV DIR TYPE\n");
                return 2;
        }
        return r < 0 ? 1 : 0;
}
