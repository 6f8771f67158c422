/* SPDX-License-Identifier: MIT */
#include "rootfs.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "alloc.h"
#include "bind-source.h"
#include "macro.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"
#include "sup-error.h"

/* The same lists as runc's and crun's defaults, give or take: docs/security.md, "Masked paths
 * and mounts", has the reason for each. */
const char *const ROOTFS_MASKED[] = {
        "proc/acpi",
        "proc/asound",
        "proc/interrupts",
        "proc/kcore",
        "proc/keys",
        "proc/latency_stats",
        "proc/sched_debug",
        "proc/scsi",
        "proc/timer_list",
        "proc/timer_stats",
        "sys/devices/virtual/powercap",
        "sys/firmware",
        NULL,
};
const char *const ROOTFS_READ_ONLY[] = {
        "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger", NULL,
};

#define API_ATTRS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
#define BIND_ATTRS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

/* A bind's source, or a volume's directory: the monitor makes and holds a volume (volume.h) and
 * writes its directory into the spec it runs, which is then checked as a bind's source is. */
static int open_mount_source(const MountSpec *m, int *ret_fd, struct stat *ret_st, SupError **ret_error) {
        if (!m->source)
                return sup_error_make(ret_error, -EINVAL, "volume %s has no directory: the monitor prepares it",
                                      m->name ?: "?");
        return open_bind_source(m->source, ret_fd, ret_st, ret_error);
}

/* Says why open_beneath(rootfd, path) failed: failed_at ends the component at fault. */
static int describe_open_failure(int rootfd, const char *path, size_t failed_at, int r, SupError **ret_error) {
        _cleanup_free_ char *culprit = xstrndup(path, failed_at), *parent = NULL;
        _cleanup_close_ int pfd = -EBADF;
        char link[PATH_MAX] = "";

        switch (r) {
        case -ELOOP:
                /* Read through an fd the same walk opened: the link's text only, never followed. */
                parent = path_dirname(culprit);
                if (open_beneath(rootfd, parent, 0, &pfd, NULL) >= 0) {
                        ssize_t n = readlinkat(pfd, path_basename(culprit), link, sizeof(link) - 1);
                        link[MAX(n, 0)] = 0;
                }
                /* Without strerror's "Too many levels of symbolic links": there is one. */
                return sup_error_make(ret_error, r,
                                      "cannot mount on /%s: /%s in the container's file system is a symlink%s%s%s, "
                                      "which could lead out of the container",
                                      path, culprit, *link ? " (to " : "", link, *link ? ")" : "");
        case -ENOTDIR:
                return sup_error_make(ret_error, r,
                                      "cannot mount on /%s: /%s in the container's file system is not a directory",
                                      path, culprit);
        case -EINVAL:
                return sup_error_make(ret_error, r, "cannot mount on /%s: \"..\" is not allowed in a mount point",
                                      path);
        default:
                return sup_error_errno(ret_error, r, "cannot open the mount point /%s (at /%s)", path, culprit);
        }
}

/* Opens the mount point path below rootfd, made if missing (a directory, or with file an empty
 * file), with an error that names the culprit. */
static int open_mount_point(int rootfd, const char *path, bool file, int *ret_fd, SupError **ret_error) {
        size_t at = 0;
        int r = open_beneath(rootfd, path, BENEATH_MKDIR | (file ? BENEATH_MKFILE : 0), ret_fd, &at);
        return r < 0 ? describe_open_failure(rootfd, path, at, r, ret_error) : 0;
}

/* Attaches the detached mount mfd on target (a mount point below the root, path for messages). */
static int attach(int mfd, int target, const char *what, const char *path, SupError **ret_error) {
        int r = mount_attach(mfd, target);
        return r < 0 ? sup_error_errno(ret_error, r, "cannot mount %s on /%s", what, path) : 0;
}

/* A new file system of type on path below rootfd. */
static int mount_fs_below(int rootfd, const char *path, const char *type, const char *source, const char *options,
                          unsigned attrs, SupError **ret_error) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;
        int r;

        r = open_mount_point(rootfd, path, false, &target, ret_error);
        if (r < 0)
                return r;
        r = mount_new_fs(type, source, options, attrs, &mfd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot make a %s file system for /%s", type, path);
        return attach(mfd, target, type, path, ret_error);
}

int rootfs_make_sandbox_dirs(const char *sandbox, SupError **ret_error) {
        _cleanup_free_ char *upper = path_join(sandbox, "upper"), *work = path_join(sandbox, "work");

        if (mkdir(upper, 0755) < 0 && errno != EEXIST)
                return sup_error_errno(ret_error, -errno, "cannot create the sandbox layer %s", upper);
        if (mkdir(work, 0700) < 0 && errno != EEXIST)
                return sup_error_errno(ret_error, -errno, "cannot create the overlay work directory %s", work);
        return 0;
}

/* The lower layers as one "lowerdir" list, top first, ':' and '\\' escaped with '\\' as overlayfs
 * reads them. A ',' cannot be escaped: the kernel refuses the option, and the error says so. */
static char *lowerdir_list(const Image *img) {
        size_t n = 1;
        char *list, *w;

        for (size_t i = 0; i < img->n_layers; i++)
                n += 2 * strlen(img->layers[i].dir) + 1;
        list = w = xnew0(char, n);
        for (size_t i = img->n_layers; i > 0; i--) {
                if (w != list)
                        *w++ = ':';
                for (const char *c = img->layers[i - 1].dir; *c; c++) {
                        if (*c == ':' || *c == '\\')
                                *w++ = '\\';
                        *w++ = *c;
                }
        }
        return list;
}

/* The overlay's file system context, created: *ret_fsfd. legacy: one "lowerdir" list for kernels
 * before 6.8, else one "lowerdir+" per layer. */
static int overlay_create(const Image *img, const char *upper, const char *work, bool legacy, int *ret_fsfd,
                          SupError **ret_error) {
        _cleanup_close_ int fsfd = -EBADF;

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open an overlay file system context");
        if (legacy) {
                _cleanup_free_ char *list = lowerdir_list(img);
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", list, 0) < 0)
                        return sup_error_errno(ret_error, -errno,
                                               "cannot use the layers %s as the overlay's lower layers", list);
        } else
                for (size_t i = img->n_layers; i > 0; i--) {
                        const char *dir = img->layers[i - 1].dir;
                        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", dir, 0) < 0)
                                return sup_error_errno(ret_error, -errno,
                                                       "cannot use layer %zu (%s) as an overlay layer", i - 1, dir);
                }
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot use the sandbox %s as the overlay's upper layer",
                                       upper);
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot create the overlay file system");
        *ret_fsfd = TAKE_FD(fsfd);
        return 0;
}

int mount_overlay(const Image *img, const char *sandbox, const char *target, SupError **ret_error) {
        _cleanup_free_ char *upper = path_join(sandbox, "upper"), *work = path_join(sandbox, "work");
        _cleanup_close_ int fsfd = -EBADF, mfd = -EBADF;
        int r;

        r = rootfs_make_sandbox_dirs(sandbox, ret_error);
        if (r < 0)
                return r;

        /* The new mount API takes one lower layer per call ("lowerdir+", Linux 6.8): no limit on
         * the number of layers from the page-sized option string, and no escaping of ":" and ","
         * in layer paths. The first lower layer given is the top one. Older kernels refuse it
         * with EINVAL (6.5-6.7 do not know the parameter; before 6.5 the legacy parser passes it
         * on and overlayfs refuses it at create time: Debian 12's 6.1, seen by
         * test-cgroup2-vm.sh): they get the one list the option string holds. (Nothing is
         * remembered: this runs in a fresh fork of the monitor at every start.) */
        r = overlay_create(img, upper, work, false, &fsfd, ret_error);
        if (r == -EINVAL) {
                if (ret_error)
                        *ret_error = sup_error_free(*ret_error);
                r = overlay_create(img, upper, work, true, &fsfd, ret_error);
        }
        if (r < 0)
                return r;
        /* nodev: an image's /dev/sda, or a node made in the sandbox by an earlier run, opens
         * nothing. The runtime's own nodes in /dev are bind mounts of their own. setuid programs
         * stay: no_new_privileges is what makes them harmless, and a unit may turn it off. */
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        if (mfd < 0)
                return sup_error_errno(ret_error, -errno, "cannot mount the overlay file system");
        if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return sup_error_errno(ret_error, -errno, "cannot attach the overlay at %s", target);
        return 0;
}

/* An idmapped copy of path (layer, sandbox) for the user namespace userns_fd, as *ret_fd. */
static int idmapped_dir(const char *path, const char *what, unsigned attrs, int userns_fd, int *ret_fd,
                        SupError **ret_error) {
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open %s %s", what, path);
        r = mount_clone_idmapped(fd, false, attrs, userns_fd, ret_fd);
        if (r == -EINVAL)
                return sup_error_errno(ret_error, r,
                                       "cannot map the owners of %s %s into the unit's user namespace: its file system "
                                       "does not support idmapped mounts, which user_namespace: auto needs",
                                       what, path);
        return r < 0 ? sup_error_errno(ret_error, r, "cannot make an idmapped mount of %s %s", what, path) : 0;
}

static void push_fd(RootfsFds *m, int fd) {
        m->fds = xreallocarray(m->fds, m->n + 1, sizeof(int));
        m->fds[m->n++] = fd;
}

/* The binds and volumes of u, in their order, onto m: each source opened and checked here, in the
 * caller's mount namespace, and copied with the bind's attributes (idmapped for userns_fd, unless
 * it is -EBADF). */
static int clone_binds(const UnitSpec *u, int userns_fd, RootfsFds *m, SupError **ret_error) {
        for (size_t i = 0; i < u->n_mounts; i++) {
                const MountSpec *ms = &u->mounts[i];
                _cleanup_close_ int src = -EBADF;
                struct stat st;
                int fd, r;

                if (ms->type == MOUNT_TMPFS)
                        continue;
                r = open_mount_source(ms, &src, &st, ret_error);
                if (r < 0)
                        return r;
                r = mount_clone_idmapped(src, true, BIND_ATTRS | (ms->read_only ? MOUNT_ATTR_RDONLY : 0), userns_fd,
                                         &fd);
                if (r == -EINVAL && userns_fd >= 0)
                        return sup_error_errno(ret_error, r,
                                               "cannot map the owners of bind mount source %s into the unit's user "
                                               "namespace: its file system, or one mounted below it, does not support "
                                               "idmapped mounts, which user_namespace: auto needs",
                                               ms->source);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot bind %s", ms->source ?: ms->name);
                push_fd(m, fd);
        }
        return 0;
}

size_t rootfs_count_binds(const UnitSpec *u) {
        size_t n = 0;
        for (size_t i = 0; i < u->n_mounts; i++)
                n += u->mounts[i].type != MOUNT_TMPFS; /* binds and volumes */
        return n;
}

int rootfs_binds_prepare(const UnitSpec *u, RootfsFds *ret, SupError **ret_error) {
        RootfsFds m = {0};
        int r;

        if (rootfs_count_binds(u) > ROOTFS_FDS_MAX)
                return sup_error_errno(ret_error, -E2BIG, "at most %d bind mounts", ROOTFS_FDS_MAX);
        r = clone_binds(u, -EBADF, &m, ret_error);
        if (r < 0) {
                rootfs_fds_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int rootfs_idmap_prepare(const UnitSpec *u, const Image *img, const char *sandbox, int userns_fd, RootfsFds *ret,
                         SupError **ret_error) {
        RootfsFds m = {0};
        int fd, r;

        if (img->n_layers + 1 + u->n_mounts > ROOTFS_FDS_MAX) {
                r = sup_error_errno(ret_error, -E2BIG,
                                    "user_namespace: auto takes at most %d layers and bind mounts together",
                                    ROOTFS_FDS_MAX - 1);
                goto fail;
        }
        for (size_t i = 0; i < img->n_layers; i++) {
                /* Read-only: the overlay never writes a lower layer, and nothing else gets this
                 * copy. */
                r = idmapped_dir(img->layers[i].dir, "the layer", BIND_ATTRS | MOUNT_ATTR_RDONLY, userns_fd, &fd,
                                 ret_error);
                if (r < 0)
                        goto fail;
                push_fd(&m, fd);
        }
        r = rootfs_make_sandbox_dirs(sandbox, ret_error);
        if (r >= 0)
                r = idmapped_dir(sandbox, "the sandbox", BIND_ATTRS, userns_fd, &fd, ret_error);
        if (r < 0)
                goto fail;
        push_fd(&m, fd);
        r = clone_binds(u, userns_fd, &m, ret_error);
        if (r < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        rootfs_fds_done(&m);
        return r;
}

void rootfs_fds_done(RootfsFds *m) {
        for (size_t i = 0; i < m->n; i++)
                close(m->fds[i]);
        free(m->fds);
        *m = (RootfsFds){0};
}

/* An overlay context on the idmapped layers (fds) and the sandbox's upper and work fds, every
 * option set: legacy, one "lowerdir" list; else one "lowerdir+" per layer. Returns the fd, or
 * -errno (without a message for a "lowerdir+" the kernel refuses). */
static int idmapped_overlay_context(size_t n_layers, const int *fds, int upper, int work, bool legacy,
                                    SupError **ret_error) {
        _cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        _cleanup_free_ char *list = xstrdup("");
        char path[64];

        if (fsfd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open an overlay file system context");
        for (size_t i = n_layers; i > 0; i--) {
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i - 1]);
                if (legacy) {
                        char *more = xasprintf("%s%s%s", list, *list ? ":" : "", path);
                        free(list);
                        list = more;
                } else if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", path, 0) < 0)
                        return negative_errno();
        }
        if (legacy && fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", list, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot use the layers as the overlay's lower layers");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", upper);
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", path, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot use the sandbox as the overlay's upper layer");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", work);
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", path, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot use the sandbox's work directory");
        /* trusted.* extended attributes (opaque directories, redirects) are the host's root's
         * alone; in a user namespace the overlay keeps them as user.overlay.*. */
        if (fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot set the overlay's userxattr option");
        return TAKE_FD(fsfd);
}

int mount_overlay_idmapped(const Image *img, const int *fds, const char *target, int *ret_rootfd,
                           SupError **ret_error) {
        _cleanup_close_ int target_fd = -EBADF, upper = -EBADF, work = -EBADF, plus_fsfd = -EBADF, legacy_fsfd = -EBADF,
                            mfd = -EBADF;
        const size_t n_layers = img->n_layers;
        const int sandbox = fds[n_layers];
        int fsfd, r;

        /* Still as the host's root, which owns the run directory on the way (0700). */
        target_fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (target_fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open %s", target);
        /* overlayfs uses private copies of its layers' mounts, and copies only mounts of the
         * caller's mount namespace: the detached mounts made outside join it, stacked on the mount
         * point under where the overlay goes. pivot_root takes them away with the rest. */
        for (size_t i = 0; i <= n_layers; i++) {
                r = mount_attach(fds[i], target_fd);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot attach the idmapped %s",
                                               i < n_layers ? "layers" : "sandbox");
        }
        upper = openat(sandbox, "upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        work = openat(sandbox, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0 || work < 0)
                return sup_error_errno(ret_error, -errno, "cannot open the sandbox's upper and work directories");

        /* Two contexts, as mount_overlay() may need them: one "lowerdir+" per layer (6.8), and
         * the one "lowerdir" list older kernels take. Both get the layers by their fds' paths,
         * resolved now, while /proc/self/fd is still this (non-dumpable) process's own: the host's
         * root's. 6.5-6.7 refuse "lowerdir+" already here, older kernels at create time. */
        plus_fsfd = idmapped_overlay_context(n_layers, fds, upper, work, false, NULL);
        legacy_fsfd = idmapped_overlay_context(n_layers, fds, upper, work, true, ret_error);
        if (legacy_fsfd < 0)
                return legacy_fsfd;

        /* The overlay acts on its layers with its creator's credentials (copy-up above all), and
         * an idmapped mount refuses writes by ids it does not map: the creator must be the
         * namespace's root, not the host's. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot become root of the container's user namespace");
        /* A change of user resets "dumpable" to fs.suid_dumpable: the workload, which is this
         * same user, must not be able to ptrace its init (container.c says why). */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot make the container's init non-dumpable");
        fsfd = plus_fsfd;
        if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                if (fsfd >= 0 && errno != EINVAL)
                        return sup_error_errno(ret_error, -errno, "cannot create the overlay file system");
                fsfd = legacy_fsfd;
                if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot create the overlay file system");
        }
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        if (mfd < 0)
                return sup_error_errno(ret_error, -errno, "cannot mount the overlay file system");
        r = mount_attach(mfd, target_fd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot attach the overlay at %s", target);
        *ret_rootfd = TAKE_FD(mfd);
        return 0;
}

/* Binds the device node name of the current root's /dev (hostdev) on an empty file of the
 * container's /dev. Bound rather than made with mknod: the container's /dev is nodev, so that a
 * node the workload makes there opens nothing, and only these mounts are not. They are read-only
 * because they are the host's own inodes: a chmod inside would change the host's /dev/null. */
static int bind_device(int rootfd, int hostdev, const char *name, unsigned major, unsigned minor,
                       SupError **ret_error) {
        _cleanup_free_ char *path = xasprintf("dev/%s", name);
        _cleanup_close_ int src = -EBADF, target = -EBADF, mfd = -EBADF;
        struct stat st;
        int r;

        r = open_beneath(hostdev, name, 0, &src, NULL);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot open the device /dev/%s to give it to the container",
                                       name);
        if (fstat(src, &st) < 0)
                return sup_error_errno(ret_error, -errno, "cannot look at /dev/%s", name);
        if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != major || minor(st.st_rdev) != minor)
                return sup_error_errno(ret_error, -ENODEV, "/dev/%s is not the character device %u:%u", name, major,
                                       minor);
        r = open_mount_point(rootfd, path, true, &target, ret_error);
        if (r < 0)
                return r;
        r = mount_clone(src, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &mfd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot bind /dev/%s", name);
        return attach(mfd, target, name, path, ret_error);
}

static int mount_dev(int rootfd, SupError **ret_error) {
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
        _cleanup_close_ int dev = -EBADF, hostdev = -EBADF;
        int r;

        r = mount_fs_below(rootfd, "dev", "tmpfs", "tmpfs", "mode=755,size=65536k", API_ATTRS | MOUNT_ATTR_STRICTATIME,
                           ret_error);
        if (r < 0)
                return r;
        hostdev = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (hostdev < 0)
                return sup_error_errno(ret_error, -errno, "cannot open /dev");
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                r = bind_device(rootfd, hostdev, devices[i].name, devices[i].major, devices[i].minor, ret_error);
                if (r < 0)
                        return r;
        }
        r = open_beneath(rootfd, "dev", 0, &dev, NULL);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot open the container's /dev");
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                if (symlinkat(links[i].target, dev, links[i].name) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot create /dev/%s", links[i].name);

        /* devpts's nodes are its own mount's: not nodev, and nothing else can be made on it. */
        r = mount_fs_below(rootfd, "dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5",
                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, ret_error);
        if (r < 0)
                return r;
        r = mount_fs_below(rootfd, "dev/shm", "tmpfs", "shm", "mode=1777,size=65536k", API_ATTRS, ret_error);
        if (r < 0)
                return r;
        return mount_fs_below(rootfd, "dev/mqueue", "mqueue", "mqueue", NULL, API_ATTRS, ret_error);
}

/* Opens a path of /proc or /sys below rootfd, to mask or protect it: > 0 with the fd, 0 where
 * this kernel has no such path (which is then fine to leave alone). */
static int open_kernel_path(int rootfd, const char *path, int *ret_fd, SupError **ret_error) {
        size_t at = 0;
        int r = open_beneath(rootfd, path, 0, ret_fd, &at);

        if (r == -ENOENT)
                return 0;
        return r < 0 ? describe_open_failure(rootfd, path, at, r, ret_error) : 1;
}

/* Hides path below rootfd: /dev/null (null_fd) over a file, an empty read-only tmpfs over a
 * directory. */
static int mask_path(int rootfd, int null_fd, const char *path, SupError **ret_error) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;
        struct stat st;
        int r;

        r = open_kernel_path(rootfd, path, &target, ret_error);
        if (r <= 0)
                return r;
        if (fstat(target, &st) < 0)
                return sup_error_errno(ret_error, -errno, "cannot look at /%s", path);
        if (S_ISDIR(st.st_mode))
                r = mount_new_fs("tmpfs", "tmpfs", "mode=555,size=4k,nr_inodes=1", API_ATTRS | MOUNT_ATTR_RDONLY, &mfd);
        else
                r = mount_clone(null_fd, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &mfd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot mask /%s", path);
        return attach(mfd, target, "a mask", path, ret_error);
}

/* Binds path below rootfd on itself, read-only (and whatever is mounted below it). */
static int read_only_path(int rootfd, const char *path, SupError **ret_error) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;
        int r;

        r = open_kernel_path(rootfd, path, &target, ret_error);
        if (r <= 0)
                return r;
        r = mount_clone(target, true, API_ATTRS | MOUNT_ATTR_RDONLY, &mfd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot make /%s read-only", path);
        return attach(mfd, target, "a read-only copy", path, ret_error);
}

int mount_api_filesystems(int rootfd, bool own_network, SupError **ret_error) {
        _cleanup_close_ int null_fd = -EBADF;
        int r;

        r = mount_fs_below(rootfd, "proc", "proc", "proc", NULL, API_ATTRS, ret_error);
        if (r < 0)
                return r;
        /* sysfs shows the network devices of the namespace that mounts it: with the host's network
         * the host's sysfs is bound instead, read-only either way (the bind with every mount
         * below it: the host's cgroup hierarchies are there). */
        if (own_network)
                r = mount_fs_below(rootfd, "sys", "sysfs", "sysfs", NULL, API_ATTRS | MOUNT_ATTR_RDONLY, ret_error);
        else {
                _cleanup_close_ int host = -EBADF, target = -EBADF, mfd = -EBADF;

                host = open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (host < 0)
                        return sup_error_errno(ret_error, -errno, "cannot open /sys");
                r = open_mount_point(rootfd, "sys", false, &target, ret_error);
                if (r < 0)
                        return r;
                r = mount_clone(host, true, API_ATTRS | MOUNT_ATTR_RDONLY, &mfd);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot bind the host's /sys");
                r = attach(mfd, target, "the host's sysfs", "sys", ret_error);
        }
        if (r < 0)
                return r;
        r = mount_dev(rootfd, ret_error);
        if (r < 0)
                return r;

        r = open_beneath(rootfd, "dev/null", 0, &null_fd, NULL);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot open the container's /dev/null");
        for (const char *const *p = ROOTFS_MASKED; *p; p++) {
                r = mask_path(rootfd, null_fd, *p, ret_error);
                if (r < 0)
                        return r;
        }
        for (const char *const *p = ROOTFS_READ_ONLY; *p; p++) {
                r = read_only_path(rootfd, *p, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int mount_unit_mounts(const UnitSpec *u, int rootfd, const int *bind_fds, SupError **ret_error) {
        for (size_t i = 0; i < u->n_mounts; i++) {
                const MountSpec *m = &u->mounts[i];
                const char *target = m->target + strspn(m->target, "/");
                /* For the messages: a volume in a guest has no host path, only its share. */
                const char *source = m->source ?: m->name;
                _cleanup_close_ int src = -EBADF, fd = -EBADF, mfd = -EBADF;
                unsigned attrs = BIND_ATTRS;
                struct stat st;
                int r;

                if (m->type == MOUNT_TMPFS) {
                        _cleanup_free_ char *opts = m->size ? xasprintf("mode=%04o,size=%llu", (unsigned) m->mode,
                                                                         (unsigned long long) m->size)
                                                             : xasprintf("mode=%04o", (unsigned) m->mode);
                        r = mount_fs_below(rootfd, target, "tmpfs", "tmpfs", opts, attrs, ret_error);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (bind_fds) {
                        /* Made, checked and given its attributes outside (rootfs_idmap_prepare(),
                         * rootfs_binds_prepare()). */
                        mfd = *bind_fds++;
                        if (fstat(mfd, &st) < 0)
                                return sup_error_errno(ret_error, -errno, "bind mount source %s", source);
                } else {
                        r = open_mount_source(m, &src, &st, ret_error);
                        if (r < 0)
                                return r;
                }
                r = open_mount_point(rootfd, target, !S_ISDIR(st.st_mode), &fd, ret_error);
                if (r < 0)
                        return r;
                if (mfd < 0) {
                        r = mount_clone(src, true, attrs | (m->read_only ? MOUNT_ATTR_RDONLY : 0), &mfd);
                        if (r < 0)
                                return sup_error_errno(ret_error, r, "cannot bind %s", source);
                }
                r = attach(mfd, fd, source, target, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int enter_rootfs(int rootfd, SupError **ret_error) {
        if (fchdir(rootfd) < 0)
                return sup_error_errno(ret_error, -errno, "cannot enter the container's root");
        /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves the
         * container with nothing of the host's tree (the trick runc and crun use). */
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return sup_error_errno(ret_error, -errno, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return sup_error_errno(ret_error, -errno, "cannot detach the old root");
        if (chdir("/") < 0)
                return sup_error_errno(ret_error, -errno, "chdir /");
        return 0;
}

int rootfs_make_read_only(SupError **ret_error) {
        _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open the root");
        /* mount_setattr() sets only what it is given: a remount (MS_REMOUNT | MS_BIND | MS_RDONLY)
         * would replace the mount's flags, and drop nodev with them. */
        r = mount_set_attrs(fd, false, MOUNT_ATTR_RDONLY);
        return r < 0 ? sup_error_errno(ret_error, r, "cannot make the root file system read-only") : 0;
}
