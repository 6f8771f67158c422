/* SPDX-License-Identifier: MIT */
#include "rootfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "alloc.h"
#include "macro.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"

#define fail workload_error

static char *fd_path(int fd) {
        return xasprintf("/proc/self/fd/%d", fd);
}

/* mount(2) onto an O_PATH fd, so the target is exactly what open_beneath() checked. */
static int mount_at(int fd, const char *source, const char *type, unsigned long flags, const char *data) {
        _cleanup_free_ char *p = fd_path(fd);
        return mount(source, p, type, flags, data) < 0 ? negative_errno() : 0;
}

int mount_overlay(const UnitSpec *u, const char *sandbox, const char *target, char *err) {
        _cleanup_free_ char *upper = path_join(sandbox, "upper"), *work = path_join(sandbox, "work");
        _cleanup_close_ int fsfd = -EBADF, mfd = -EBADF;

        if (mkdir(upper, 0755) < 0 && errno != EEXIST)
                return fail(err, negative_errno(), "cannot create the sandbox layer %s", upper);
        if (mkdir(work, 0700) < 0 && errno != EEXIST)
                return fail(err, negative_errno(), "cannot create the overlay work directory %s", work);

        /* The new mount API takes one lower layer per call ("lowerdir+", Linux 6.8): no limit on
         * the number of layers from the page-sized option string, and no escaping of ":" and ","
         * in layer paths. The first lower layer given is the top one. */
        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return fail(err, negative_errno(), "cannot open an overlay file system context");
        for (size_t i = u->n_layers; i > 0; i--) {
                const Layer *l = &u->layers[i - 1];
                if (l->type != LAYER_DIR)
                        return fail(err, -EOPNOTSUPP, "layer %zu (%s: %s) needs the image store, which is not built yet",
                                    i - 1, layer_type_to_string(l->type), l->path);
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", l->path, 0) < 0)
                        return fail(err, negative_errno(), "cannot use layer %zu (%s) as an overlay layer", i - 1,
                                    l->path);
        }
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
                return fail(err, negative_errno(), "cannot use the sandbox %s as the overlay's upper layer", sandbox);
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return fail(err, negative_errno(), "cannot create the overlay file system");
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
        if (mfd < 0)
                return fail(err, negative_errno(), "cannot mount the overlay file system");
        if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return fail(err, negative_errno(), "cannot attach the overlay at %s", target);
        return 0;
}

static int mount_below(int rootfd, const char *path, const char *source, const char *type, unsigned long flags,
                       const char *data, char *err) {
        _cleanup_close_ int fd = -EBADF;
        int r = open_beneath(rootfd, path, BENEATH_MKDIR, &fd, NULL);

        if (r < 0)
                return fail(err, r, "cannot create the mount point %s in the image%s", path,
                            r == -ELOOP ? " (it is a symlink, which could point out of the container)" : "");
        r = mount_at(fd, source, type, flags, data);
        if (r < 0)
                return fail(err, r, "cannot mount %s on %s", type ? type : source, path);
        return 0;
}

int mount_api_filesystems(int rootfd, bool own_network, char *err) {
        static const struct {
                const char *name;
                unsigned major, minor;
        } devices[] = {
                { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
        };
        static const struct {
                const char *name;
                const char *target;
        } links[] = {
                { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },         { "core", "/proc/kcore" },
        };
        _cleanup_close_ int dev = -EBADF;
        _cleanup_free_ char *devpath = NULL;
        int r;

        r = mount_below(rootfd, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
        if (r < 0)
                return r;
        /* sysfs shows the network devices of the namespace that mounts it: with the host's network
         * the host's sysfs is bound instead, read-only either way. */
        if (own_network)
                r = mount_below(rootfd, "sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL, err);
        else {
                r = mount_below(rootfd, "sys", "/sys", NULL, MS_BIND | MS_REC, NULL, err);
                if (r >= 0)
                        r = mount_below(rootfd, "sys", NULL, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                        NULL, err);
        }
        if (r < 0)
                return r;

        r = mount_below(rootfd, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME, "mode=755,size=65536k", err);
        if (r < 0)
                return r;
        r = open_beneath(rootfd, "dev", 0, &dev, NULL);
        if (r < 0)
                return fail(err, r, "cannot open the container's /dev");
        /* An O_PATH fd cannot be used with mknodat(); reopen the new tmpfs for real. */
        devpath = fd_path(dev);
        r = open(devpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r < 0)
                return fail(err, negative_errno(), "cannot open the container's /dev");
        close(dev);
        dev = r;
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                if (mknodat(dev, devices[i].name, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0)
                        return fail(err, negative_errno(), "cannot create /dev/%s", devices[i].name);
                (void) fchmodat(dev, devices[i].name, 0666, 0); /* despite the umask */
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i].target, dev, links[i].name) < 0)
                        return fail(err, negative_errno(), "cannot create /dev/%s", links[i].name);

        r = mount_below(rootfd, "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                        "newinstance,ptmxmode=0666,mode=0620,gid=5", err);
        if (r < 0)
                return r;
        r = mount_below(rootfd, "dev/shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", err);
        if (r < 0)
                return r;
        return mount_below(rootfd, "dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
}

int mount_unit_mounts(const UnitSpec *u, int rootfd, char *err) {
        for (size_t i = 0; i < u->n_mounts; i++) {
                const MountSpec *m = &u->mounts[i];
                _cleanup_close_ int fd = -EBADF;
                struct stat st;
                int r;

                if (m->type == MOUNT_TMPFS) {
                        _cleanup_free_ char *opts = m->size ? xasprintf("mode=%04o,size=%llu", (unsigned) m->mode,
                                                                         (unsigned long long) m->size)
                                                             : xasprintf("mode=%04o", (unsigned) m->mode);
                        r = mount_below(rootfd, m->target + 1, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, opts, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (stat(m->source, &st) < 0)
                        return fail(err, negative_errno(), "bind mount source %s", m->source);
                r = open_beneath(rootfd, m->target + 1, BENEATH_MKDIR | (S_ISDIR(st.st_mode) ? 0 : BENEATH_MKFILE), &fd,
                                 NULL);
                if (r < 0)
                        return fail(err, r, "cannot create the mount point %s in the image", m->target);
                r = mount_at(fd, m->source, NULL, MS_BIND | MS_REC, NULL);
                if (r >= 0 && m->read_only)
                        r = mount_at(fd, NULL, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
                if (r < 0)
                        return fail(err, r, "cannot bind %s to %s", m->source, m->target);
        }
        return 0;
}

int enter_rootfs(const char *rootfs, char *err) {
        if (chdir(rootfs) < 0)
                return fail(err, negative_errno(), "cannot enter %s", rootfs);
        /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves the
         * container with nothing of the host's tree (the trick runc and crun use). */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return fail(err, negative_errno(), "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return fail(err, negative_errno(), "cannot detach the old root");
        if (chdir("/") < 0)
                return fail(err, negative_errno(), "chdir /");
        return 0;
}
