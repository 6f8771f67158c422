/* SPDX-License-Identifier: MIT */
#include "vm-fs.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "bind-source.h"
#include "guest-proto.h"
#include "macro.h"
#include "mount-util.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"

/* The vhost-user socket's number in virtiofsd (--fd). */
#define VIRTIOFSD_FD 3

typedef struct VmFsShare {
        VmFs *fs;
        size_t mount;      /* its index in the spec's mounts */
        char *target;      /* the guest's path, for messages */
        char *socket;      /* fs-N.sock, in the instance directory */
        char *socket_path; /* the same, absolute: unlinked when the share goes */
        char *mountpoint;  /* DIR/fs-N: where the source is in virtiofsd's mount namespace */
        int listen_fd;     /* until virtiofsd has it */
        int mnt_fd;        /* the detached, checked copy of the source; until virtiofsd has it attached */
        pid_t pid;
        int pidfd;
        EventSource *source;
} VmFsShare;

struct VmFs {
        VmFsShare *shares;
        size_t n;
        VmFsDied died;
        void *userdata;
        bool killed;
};

void vm_shares_free(VmShare *s, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                free(s[i].source);
        free(s);
}

int vm_shares_from_spec(const UnitSpec *u, VmShare **ret, size_t *ret_n, SupError **ret_error) {
        VmShare *s = NULL;
        size_t n = 0;

        for (size_t i = 0; i < u->n_mounts; i++) {
                const MountSpec *m = &u->mounts[i];
                char *source = NULL;

                /* Which mounts are shares is the protocol's (the guest checks the same list). */
                if (!guest_mount_needs_share(m))
                        continue;
                switch (m->type) {
                case MOUNT_BIND:
                        source = xstrdup(m->source);
                        break;
                case MOUNT_VOLUME:
                        /* Its directory under supd's state directory, which the monitor made, holds
                         * and wrote into the spec the driver runs (volume.h). */
                        if (!m->source) {
                                vm_shares_free(s, n);
                                return sup_error_make(
                                        ret_error, -EINVAL,
                                        "mounts[%zu]: volume %s has no directory: the monitor prepares it", i, m->name);
                        }
                        source = xstrdup(m->source);
                        break;
                case MOUNT_TMPFS:
                case _MOUNT_TYPE_MAX:
                case _MOUNT_TYPE_INVALID:
                        vm_shares_free(s, n);
                        return sup_error_make(ret_error, -EINVAL, "mounts[%zu]: no host path for a %s mount", i,
                                              mount_type_to_string(m->type) ?: "(invalid)");
                }
                s = xrealloc(s, sizeof(VmShare) * (n + 1));
                s[n++] = (VmShare){.mount = i, .source = source, .read_only = m->read_only};
        }
        if (n > GUEST_SHARES_MAX) {
                vm_shares_free(s, n);
                return sup_error_make(
                        ret_error, -E2BIG,
                        "mounts: %zu bind mounts, and a guest takes at most %u (one virtio-fs device each)", n,
                        GUEST_SHARES_MAX);
        }
        *ret = s;
        *ret_n = n;
        return 0;
}

char *vm_share_tag(size_t i) {
        return xasprintf("sup-fs-%zu", i);
}

static void share_done(VmFsShare *s) {
        s->source = event_source_free(s->source);
        if (s->pidfd >= 0) {
                if (s->pid > 0) {
                        (void) syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
                        (void) waitid((idtype_t) P_PIDFD, (id_t) s->pidfd, &(siginfo_t){}, WEXITED);
                }
                close(s->pidfd);
        }
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        if (s->mnt_fd >= 0)
                close(s->mnt_fd);
        if (s->mountpoint)
                (void) rmdir(s->mountpoint);
        if (s->socket_path)
                (void) unlink(s->socket_path);
        free(s->target);
        free(s->socket);
        free(s->socket_path);
        free(s->mountpoint);
}

VmFs *vm_fs_free(VmFs *fs) {
        if (!fs)
                return NULL;
        fs->killed = true;
        for (size_t i = 0; i < fs->n; i++)
                share_done(&fs->shares[i]);
        free(fs->shares);
        free(fs);
        return NULL;
}

size_t vm_fs_count(const VmFs *fs) {
        return fs ? fs->n : 0;
}

const char *vm_fs_socket(const VmFs *fs, size_t i) {
        return fs->shares[i].socket;
}

size_t vm_fs_mount(const VmFs *fs, size_t i) {
        return fs->shares[i].mount;
}

pid_t vm_fs_pid(const VmFs *fs, size_t i) {
        return fs->shares[i].pid;
}

/* A listening unix socket at path (0600: only root may speak vhost-user to virtiofsd). */
static int listen_at(const char *path, int *ret, SupError **ret_error) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;
        mode_t old;
        int r = 0;

        if (strlen(path) >= sizeof(sa.sun_path))
                return sup_error_make(ret_error, -ENAMETOOLONG,
                                      "the virtiofsd socket path %s is longer than a unix socket address allows: use "
                                      "a shorter --run-dir",
                                      path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot create a socket");
        (void) unlink(path);
        old = umask(0177);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
                r = -errno;
        umask(old);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot listen on %s", path);
        *ret = TAKE_FD(fd);
        return 0;
}

int vm_fs_prepare(const UnitSpec *u, const char *dir, VmFs **ret, SupError **ret_error) {
        _cleanup_(vm_fs_freep) VmFs *fs = xzalloc(sizeof(VmFs));
        VmShare *shares = NULL;
        size_t n = 0;
        int r;

        r = vm_shares_from_spec(u, &shares, &n, ret_error);
        if (r < 0)
                return r;
        /* virtiofsd splits its -o options at ',' and reads '\' as an escape: a source=DIR/fs-N
         * with either would name another directory, or add options of the directory's choosing. */
        if (n > 0 && dir[strcspn(dir, ",\\")]) {
                vm_shares_free(shares, n);
                return sup_error_make(ret_error, -EINVAL,
                                      "the instance directory %s has a ',' or '\\', which virtiofsd's options "
                                      "cannot name: use a --run-dir without one",
                                      dir);
        }
        if (n > 0 && access(VM_VIRTIOFSD_PATH, X_OK) < 0) {
                r = sup_error_errno(ret_error, -errno,
                                    "bind mounts in a guest need virtiofsd (%s, in Debian's qemu-system-common)",
                                    VM_VIRTIOFSD_PATH);
                vm_shares_free(shares, n);
                return r;
        }
        fs->shares = xzalloc(sizeof(VmFsShare) * (n ?: 1));
        for (size_t i = 0; i < n; i++) {
                VmFsShare *s = &fs->shares[i];
                const MountSpec *m = &u->mounts[shares[i].mount];
                _cleanup_close_ int src = -EBADF;
                struct stat st;

                *s = (VmFsShare){.fs = fs, .listen_fd = -EBADF, .mnt_fd = -EBADF, .pidfd = -EBADF};
                fs->n = i + 1;
                s->mount = shares[i].mount;
                s->target = xstrdup(m->target);
                r = open_bind_source(shares[i].source, &src, &st, ret_error);
                if (r < 0)
                        break;
                if (!S_ISDIR(st.st_mode)) {
                        r = sup_error_make(ret_error, -ENOTDIR,
                                           "bind mount source %s is not a directory: a guest gets directories only "
                                           "(virtio-fs shares a directory tree); bind its directory",
                                           shares[i].source);
                        break;
                }
                /* What process isolation binds: the mounts below it too, nosuid, nodev, and
                 * read-only throughout with read_only. This is virtiofsd's whole view. */
                r = mount_clone(src, true,
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (shares[i].read_only ? MOUNT_ATTR_RDONLY : 0),
                                &s->mnt_fd);
                if (r < 0) {
                        r = sup_error_errno(ret_error, r, "cannot bind %s", shares[i].source);
                        break;
                }
                s->mountpoint = xasprintf("%s/fs-%zu", dir, i);
                if (mkdir(s->mountpoint, 0700) < 0 && errno != EEXIST) {
                        r = sup_error_errno(ret_error, -errno, "cannot create %s", s->mountpoint);
                        break;
                }
                s->socket = xasprintf("fs-%zu.sock", i);
                s->socket_path = path_join(dir, s->socket);
                r = listen_at(s->socket_path, &s->listen_fd, ret_error);
                if (r < 0)
                        break;
        }
        vm_shares_free(shares, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(fs);
        return 0;
}

_noreturn_ static void exec_virtiofsd(const VmFsShare *s, pid_t parent, const Cgroup *cgroup, int err_fd) {
        _cleanup_free_ char *source = xasprintf("source=%s", s->mountpoint), *fdarg = NULL;
        const char *argv[] = {
                VM_VIRTIOFSD_PATH,
                "-f",
                (fdarg = xasprintf("--fd=%d", VIRTIOFSD_FD)),
                "-o",
                source,
                "-o",
                "sandbox=namespace",
                "-o",
                /* The NFS-like default: what the host changes shows within a second. */
                "cache=auto",
                "-o",
                /* Extended attributes stay off: with them, the guest's root would set
                 * security.capability (file capabilities) and security.* labels on host files. */
                "no_xattr",
                "-o",
                "announce_submounts",
                "-o",
                /* Device nodes and file capabilities on the host are not the guest's to make (the
                 * share is nodev for the guest, not for the host's other users of the files). */
                "modcaps=-mknod:-setfcap",
                "-o",
                /* Its warnings are about its own unfinished parts ("fv_remove_watch: TODO!") at
                 * every guest power-off: errors only. */
                "log_level=err",
                /* Its default raises RLIMIT_NOFILE to a million, which fails without
                 * CAP_SYS_RESOURCE: it keeps the monitor's limit. */
                "--rlimit-nofile=0",
                NULL,
        };
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC), target, keep = VIRTIOFSD_FD;

        /* It goes with its monitor, as QEMU does: an orphan would keep serving a volume whose lock
         * died with the monitor, to a second machine or while `supctl volume rm` deletes it. */
        child_die_with_parent(parent);
        /* Into the instance's cgroup before it allocates anything, as QEMU is. */
        if (cgroup && cgroup_attach(cgroup, getpid()) < 0)
                _exit(126);
        if (null < 0 || dup2(null, 0) < 0 || dup2(err_fd, 1) < 0 || dup2(err_fd, 2) < 0)
                _exit(126);
        /* A mount namespace of its own, whose mounts do not propagate to the host's: the source's
         * checked copy is attached there only, and virtiofsd's sandbox starts from it. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
                dprintf(2, "virtiofsd for %s: cannot make a mount namespace: %m\n", s->target);
                _exit(126);
        }
        target = open(s->mountpoint, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0 || mount_attach(s->mnt_fd, target) < 0) {
                dprintf(2, "virtiofsd for %s: cannot attach the source: %m\n", s->target);
                _exit(126);
        }
        /* dup2() onto itself would keep close-on-exec. */
        if (dup2(s->listen_fd, VIRTIOFSD_FD) < 0 || fcntl(VIRTIOFSD_FD, F_SETFD, 0) < 0)
                _exit(126);
        child_reset(&keep, 1);
        execv(argv[0], (char **) argv);
        dprintf(2, "virtiofsd for %s: cannot execute %s: %m\n", s->target, argv[0]);
        _exit(EXIT_NOT_INSTALLED);
}

static void on_pidfd(EventSource *es, int fd, uint32_t revents, void *userdata) {
        VmFsShare *s = userdata;
        VmFs *fs = s->fs;
        siginfo_t si = {};
        _cleanup_free_ char *reason = NULL;

        if (waitid((idtype_t) P_PIDFD, (id_t) s->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return;
        s->source = event_source_free(s->source);
        s->pid = 0;
        /* Status 0: it saw QEMU close the vhost-user connection, which QEMU does as it ends (the
         * guest powered off, or the stop ladder ended it), a moment before it is reaped: QEMU's end
         * is the one to tell. */
        if (fs->killed || (si.si_code == CLD_EXITED && si.si_status == 0))
                return;
        reason = si.si_code == CLD_EXITED ? xasprintf("virtiofsd for %s exited with status %d", s->target, si.si_status)
                                          : xasprintf("virtiofsd for %s died (signal %d)", s->target, si.si_status);
        fs->died(reason, fs->userdata);
}

int vm_fs_start(VmFs *fs, Event *e, const Cgroup *cgroup, int err_fd, VmFsDied died, void *userdata,
                SupError **ret_error) {
        pid_t parent = getpid();
        int r;

        fs->died = died;
        fs->userdata = userdata;
        for (size_t i = 0; i < fs->n; i++) {
                VmFsShare *s = &fs->shares[i];
                pid_t pid = fork();

                if (pid < 0)
                        return sup_error_errno(ret_error, -errno, "cannot fork: %m");
                if (pid == 0)
                        exec_virtiofsd(s, parent, cgroup, err_fd);
                s->pid = pid;
                s->pidfd = pidfd_open(pid, 0);
                if (s->pidfd < 0) {
                        r = -errno;
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        s->pid = 0;
                        return sup_error_errno(ret_error, r, "cannot open a pidfd for virtiofsd: %m");
                }
                /* Both are virtiofsd's now. */
                close_and_reset(&s->listen_fd);
                close_and_reset(&s->mnt_fd);
                /* Unwatched, its death would go unnoticed: the caller frees fs, which ends it. */
                r = event_add_io(e, &s->source, s->pidfd, EPOLLIN, on_pidfd, s);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot watch virtiofsd for %s", s->target);
        }
        return 0;
}

void vm_fs_kill(VmFs *fs) {
        if (!fs)
                return;
        fs->killed = true;
        for (size_t i = 0; i < fs->n; i++)
                if (fs->shares[i].pid > 0)
                        (void) syscall(SYS_pidfd_send_signal, fs->shares[i].pidfd, SIGKILL, NULL, 0);
}
