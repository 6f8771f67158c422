/* SPDX-License-Identifier: MIT */
#include "mount-util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "alloc.h"
#include "macro.h"

static int openat2_one(int dirfd, const char *name, int flags) {
        /* No O_NOFOLLOW: with O_PATH it would open a trailing symlink itself rather than fail. */
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
        return fd < 0 ? negative_errno() : fd;
}

/* The next component of *p (skipping "/" and "."), NUL-terminated in place; NULL at the end. */
static char *next_component(char **p) {
        for (;;) {
                char *s = *p + strspn(*p, "/"), *e;
                size_t n = strcspn(s, "/");

                if (n == 0)
                        return NULL;
                e = s + n;
                *p = *e ? e + 1 : e;
                *e = 0;
                if (!streq(s, "."))
                        return s;
        }
}

int open_beneath(int rootfd, const char *path, BeneathFlags flags, int *ret_fd, size_t *failed_at) {
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_close_ int dir = -EBADF;
        char *p = copy, *comp;
        int r;

        dir = openat2_one(rootfd, ".", O_PATH | O_DIRECTORY);
        if (dir < 0)
                return dir;
        for (comp = next_component(&p); comp;) {
                char *next = next_component(&p);
                bool last = !next;
                struct stat st;
                int fd;

                if (streq(comp, "..")) {
                        r = -EINVAL;
                        goto fail;
                }
                if (flags & BENEATH_MKDIR) {
                        /* Neither follows a symlink in the last place: one there is EEXIST, then
                         * -ELOOP from the open. */
                        if (last && (flags & BENEATH_MKFILE))
                                r = mknodat(dir, comp, S_IFREG | 0644, 0);
                        else
                                r = mkdirat(dir, comp, 0755);
                        if (r < 0 && errno != EEXIST) {
                                r = negative_errno();
                                goto fail;
                        }
                }
                fd = openat2_one(dir, comp, O_PATH | (last ? 0 : O_DIRECTORY));
                if (fd < 0) {
                        r = fd;
                        goto fail;
                }
                close(dir);
                dir = fd;
                /* openat2() refused symlinks already; this only states the invariant. */
                if (fstat(dir, &st) < 0 || S_ISLNK(st.st_mode)) {
                        r = -ELOOP;
                        goto fail;
                }
                comp = next;
        }
        *ret_fd = TAKE_FD(dir);
        return 0;

fail:
        if (failed_at)
                *failed_at = (size_t) (comp - copy) + strlen(comp);
        return r;
}

int mount_new_fs(const char *type, const char *source, const char *options, unsigned attrs, int *ret_fd) {
        _cleanup_close_ int fsfd = -EBADF;
        _cleanup_free_ char *opts = options ? xstrdup(options) : NULL;
        char *save = NULL;
        int mfd;

        fsfd = fsopen(type, FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return negative_errno();
        if (source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
                return negative_errno();
        for (char *o = opts ? strtok_r(opts, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(o, '=');
                int k;

                if (eq) {
                        *eq = 0;
                        k = fsconfig(fsfd, FSCONFIG_SET_STRING, o, eq + 1, 0);
                } else
                        k = fsconfig(fsfd, FSCONFIG_SET_FLAG, o, NULL, 0);
                if (k < 0)
                        return negative_errno();
        }
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return negative_errno();
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
        if (mfd < 0)
                return negative_errno();
        *ret_fd = mfd;
        return 0;
}

int mount_set_attrs(int fd, bool recursive, unsigned attrs) {
        /* The access time flags are a field, not bits: changing it takes clearing it. */
        struct mount_attr attr = {.attr_set = attrs, .attr_clr = attrs & MOUNT_ATTR__ATIME ? MOUNT_ATTR__ATIME : 0};

        if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
                return negative_errno();
        return 0;
}

int mount_clone_idmapped(int fd, bool recursive, unsigned attrs, int userns_fd, int *ret_fd) {
        struct mount_attr attr = {
                .attr_set = attrs,
                .attr_clr = attrs & MOUNT_ATTR__ATIME ? MOUNT_ATTR__ATIME : 0,
                .propagation = MS_PRIVATE,
        };
        _cleanup_close_ int mfd = -EBADF;

        mfd = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
        if (mfd < 0)
                return negative_errno();
        /* Detached, so nobody sees the copy before it has its attributes (read-only above all).
         * An idmapping can only be given to a mount nobody has seen yet, and in the same call.
         * Private: a clone of a shared mount joins its peer group, so mounts the host makes later
         * below the source would show in the copy with their own flags (writable under a read-only
         * bind), and the copy's would show on the host. */
        if (userns_fd >= 0) {
                attr.attr_set |= MOUNT_ATTR_IDMAP;
                attr.userns_fd = (uint64_t) userns_fd;
        }
        if (mount_setattr(mfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(mfd);
        return 0;
}

int mount_clone(int fd, bool recursive, unsigned attrs, int *ret_fd) {
        return mount_clone_idmapped(fd, recursive, attrs, -EBADF, ret_fd);
}

int mount_attach(int mnt_fd, int target_fd) {
        if (move_mount(mnt_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}
