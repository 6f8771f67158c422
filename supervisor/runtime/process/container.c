/* SPDX-License-Identifier: MIT */
#include "container.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "caps.h"
#include "macro.h"
#include "path-util.h"
#include "process-util.h"
#include "rootfs.h"
#include "socket-util.h"
#include "string-util.h"
#include "userns.h"
#include "workload.h"

/* The child's fds after clone(), at fixed numbers; everything else is closed. */
enum {
        CHILD_SYNC_FD = 3,  /* read: the parent has put us in our cgroup */
        CHILD_ERROR_FD = 4, /* write: a setup error as text */
        CHILD_EXIT_FD = 5,  /* write: the command's ContainerExit */
        CHILD_STDOUT_FD = 6,
        CHILD_STDERR_FD = 7,
};

_noreturn_ static void child_fail(int r, const char *msg) {
        char buf[WORKLOAD_ERR_MAX + 64];
        int n = snprintf(buf, sizeof(buf), "%s", msg);
        (void) !write(CHILD_ERROR_FD, buf, (size_t) MAX(n, 0));
        _exit(workload_exit_code(r));
}

/* The message crosses to the monitor through the error pipe, the one place it becomes a fixed
 * buffer. */
_noreturn_ static void child_fail_error(int r, const SupError *e) {
        char buf[WORKLOAD_ERR_MAX];
        sup_error_to_buffer(e, buf, sizeof(buf));
        child_fail(r, buf);
}

/* PID 2: becomes the unit's command. */
_noreturn_ static void run_command(const ContainerConfig *cfg, const ContainerUser *user, char **env) {
        char err[WORKLOAD_ERR_MAX];
        int r;

        close(CHILD_EXIT_FD);
        r = workload_exec(cfg->spec, user, env, -EBADF, CHILD_STDOUT_FD, CHILD_STDERR_FD, false, cfg->rlimits,
                          cfg->seccomp, err);
        child_fail(r, err);
}

/* PID 1: forwards signals to the command, reaps everything, reports the command's end. */
_noreturn_ static void run_init(pid_t command) {
        ContainerExit ex = {.code = -1};
        sigset_t all;

        sigfillset(&all);
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);

                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        (void) kill(command, sig);
                        continue;
                }
                for (;;) {
                        int status;
                        pid_t p = waitpid(-1, &status, WNOHANG);
                        if (p <= 0)
                                break;
                        if (p != command)
                                continue;
                        if (WIFEXITED(status))
                                ex.code = WEXITSTATUS(status);
                        else if (WIFSIGNALED(status))
                                ex.signal = WTERMSIG(status);
                        (void) !write(CHILD_EXIT_FD, &ex, sizeof(ex));
                        _exit(ex.signal ? 128 + ex.signal : ex.code);
                }
        }
}

/* What /proc/PID/cmdline and comm show of init, inside and out: init is a clone of the monitor,
 * whose argv names the host's run and state directories and cgroup parent. The argument area is
 * this process's own copy: the name is written over it and the rest zeroed. The kernel shows the
 * whole area up to arg_end, so the area is then shrunk to the name (else `ps` and `supctl top`
 * see the name and a tail of empty arguments, cmdline_area_set()). Where the kernel cannot
 * (CONFIG_CHECKPOINT_RESTORE off), its setproctitle() convention does the same for readers: with
 * the area's last byte not NUL, /proc/PID/cmdline ends at the first NUL. Best effort: nothing
 * depends on it. */
static void set_cmdline(const char *name) {
        size_t len = strlen(name) + 1;
        uintptr_t start, end;

        (void) prctl(PR_SET_NAME, name);
        if (cmdline_area_get(&start, &end) < 0 || end < start + len)
                return;
        memset((void *) start, 0, end - start);
        memcpy((void *) start, name, len);
        if (cmdline_area_set((const char *) start, len) < 0 && end > start + len)
                ((char *) end)[-1] = ' ';
}

/* The container's own mount and cgroup namespaces, once it is in its cgroup (so that the cgroup
 * becomes the namespace's root), and its root file system: the overlay of the image's layers
 * and the sandbox (idmapped_fds: made outside, user_namespace: auto), and the API file systems.
 * Returns the root's fd. */
static int make_root(const ContainerConfig *cfg, const int *idmapped_fds, SupError **ret_error) {
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        if (unshare(CLONE_NEWNS) < 0)
                return sup_error_errno(ret_error, -errno, "cannot create a mount namespace");
        if (unshare(CLONE_NEWCGROUP) < 0)
                return sup_error_errno(ret_error, -errno, "cannot create a cgroup namespace");
        /* Nothing mounted from here on may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return sup_error_errno(ret_error, -errno, "cannot make the mount namespace private");

        if (idmapped_fds) {
                /* From here on this process is root of its user namespace only: an unprivileged
                 * user of the host's. */
                r = mount_overlay_idmapped(cfg->image, idmapped_fds, cfg->rootfs, &rootfd, ret_error);
                if (r < 0)
                        return r;
        } else {
                r = mount_overlay(cfg->image, cfg->sandbox, cfg->rootfs, ret_error);
                if (r < 0)
                        return r;
                rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        return sup_error_errno(ret_error, -errno, "cannot open the container's root");
        }
        r = mount_api_filesystems(rootfd, cfg->spec->network != NETWORK_HOST, ret_error);
        if (r < 0)
                return r;
        return TAKE_FD(rootfd);
}

/* The host name and the loopback interface, in the container's own uts and network namespaces. */
static int set_up_names(const ContainerConfig *cfg, SupError **ret_error) {
        const UnitSpec *u = cfg->spec;

        if (sethostname(u->hostname, strlen(u->hostname)) < 0)
                return sup_error_errno(ret_error, -errno, "cannot set the host name");
        /* A joined network namespace is its owner's, loopback and all. */
        if (u->network != NETWORK_HOST && !(cfg->share && cfg->share->net >= 0) && loopback_up() < 0)
                return sup_error_errno(ret_error, -errno, "cannot bring up the loopback interface");
        return 0;
}

/* root_ahead, before the go: everything of the root that takes nothing of the host's mounts of
 * the start (container.h), up to pivot_root. */
static void build_root_ahead(const ContainerConfig *cfg) {
        _cleanup_sup_error_ SupError *e = NULL;
        int rootfd, r;

        rootfd = make_root(cfg, NULL, &e);
        if (rootfd < 0)
                child_fail_error(rootfd, e);
        r = set_up_names(cfg, &e);
        if (r >= 0)
                r = enter_rootfs(rootfd, &e);
        if (r < 0)
                child_fail_error(r, e);
        close(rootfd);
}

_noreturn_ static void child(const ContainerConfig *cfg) {
        const UnitSpec *u = cfg->spec;
        const Image *img = cfg->image;
        _cleanup_sup_error_ SupError *e = NULL;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        ContainerUser user;
        unsigned last_cap;
        _cleanup_free_ int *fds = NULL;
        size_t n_fds, want_fds = 0;
        int rootfd, r;
        sigset_t all;
        pid_t command;

        /* The monitor's loop blocked signals for its signalfd; init waits for them the same way. */
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        /* init is a fork of the monitor, root in the host's user namespace, and its /proc/1/exe
         * is the host's sup-monitor binary: it must not be a way out. Once it is not dumpable,
         * only a process with CAP_SYS_PTRACE may ptrace it, read its memory or open its
         * /proc/1/{exe,fd/N,cwd,root,mem}, and the workload lacks that unless the unit adds it
         * (CVE-2019-5736; the leaked fd of CVE-2024-21626). The command, forked from init, is
         * not dumpable either until its execve(). */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                child_fail(-errno, "cannot make the container's init non-dumpable");
        /* In a joined pid namespace init is not its PID 1: orphans would go to the owner's init.
         * As a subreaper it still reaps everything its command leaves behind. */
        if (cfg->share && cfg->share->pid >= 0 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                child_fail(-errno, "cannot make the container's init a subreaper");
        /* The container lives as long as its monitor: a monitor that dies (killed, or a bug)
         * takes its container along rather than leaving a workload nobody supervises, logs or
         * can stop; supd then starts a fresh monitor. supd itself dying changes nothing. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Named before the wait: a container made ahead (container_spawn()) waits in here for
         * its start, and must not look like a second monitor to `ps` meanwhile. */
        set_cmdline("sup-init");

        if (cfg->root_ahead) {
                int none;

                /* The first byte: in the cgroup now, where the root's memory is the unit's. */
                n_fds = 0;
                if (recv_byte_fds(CHILD_SYNC_FD, &none, &n_fds, 0) < 0)
                        _exit(1);
                build_root_ahead(cfg);
        }

        /* The go byte, and the mounts made outside: with user_namespace: auto the idmapped
         * layers, sandbox and binds; with a root built ahead, the binds. */
        if (cfg->userns)
                want_fds = img->n_layers + 1 + rootfs_count_binds(u);
        else if (cfg->root_ahead)
                want_fds = rootfs_count_binds(u);
        n_fds = want_fds ? ROOTFS_FDS_MAX : 0;
        if (n_fds)
                fds = xnew(int, n_fds);
        if (recv_byte_fds(CHILD_SYNC_FD, fds, &n_fds, 0) < 0)
                _exit(1); /* the parent gave up on us (and said why on the error pipe, if it could) */
        close(CHILD_SYNC_FD);
        if (n_fds != want_fds)
                child_fail(-EIO, "the mounts made outside the container did not arrive");

        if (cfg->root_ahead) {
                /* In the root since the parking: its binds from the host's mounts of now. */
                rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        child_fail(-errno, "cannot open the container's root");
                r = mount_unit_mounts(u, rootfd, fds, &e);
                if (r < 0)
                        child_fail_error(r, e);
        } else {
                /* The mount namespace only now, at the go, not at the clone: a container made
                 * ahead waits for its start for as long as its unit stays stopped, and a copy
                 * taken then would show it the host's mounts of that moment (a bind source
                 * mounted since, a volume's file system) instead of those of its start. */
                rootfd = make_root(cfg, cfg->userns ? fds : NULL, &e);
                if (rootfd < 0)
                        child_fail_error(rootfd, e);
                r = mount_unit_mounts(u, rootfd, cfg->userns ? fds + img->n_layers + 1 : NULL, &e);
                if (r >= 0)
                        r = set_up_names(cfg, &e);
                if (r >= 0 && cfg->setup)
                        r = cfg->setup(cfg->userdata, &e);
                if (r >= 0)
                        r = enter_rootfs(rootfd, &e);
                if (r < 0)
                        child_fail_error(r, e);
        }
        close(rootfd);
        if (u->security.read_only_rootfs) {
                r = rootfs_make_read_only(&e);
                if (r < 0)
                        child_fail_error(r, e);
        }

        r = workload_resolve_user(u->user, cfg->userns, &user, &error);
        if (r < 0)
                child_fail(r, sup_error_message(error));
        env = workload_env(u, user.home);
        /* No execve() from init or the command gets more than the unit allows (the command
         * drops the rest itself, as the guest's does). */
        last_cap = caps_last_cap();
        r = caps_apply_bounding(caps_of_unit(u, last_cap), last_cap);
        if (r < 0)
                child_fail(r, "cannot limit the capability bounding set of the container's init");

        command = fork();
        if (command < 0)
                child_fail(-errno, "cannot fork the command");
        if (command == 0)
                run_command(cfg, &user, env);

        /* All init does from here on is wait, reap and forward signals: kill() of a command that
         * is not root needs CAP_KILL, and nothing else does. */
        r = caps_apply(&(CapSets){.effective = CAP_BIT(CAP_KILL), .permitted = CAP_BIT(CAP_KILL)}, last_cap);
        if (r < 0) {
                (void) kill(command, SIGKILL);
                child_fail(r, "cannot drop the capabilities of the container's init");
        }
        /* The command holds its own copies; init keeps only the exit channel, and none of the
         * monitor's fds (its stdio is the host's /dev/null). Closing the error fd here means the
         * monitor sees EOF once the command has executed (its copy is close-on-exec) or its
         * message if it could not. */
        (void) close_range(0, CHILD_EXIT_FD - 1, 0);
        (void) close_range(CHILD_EXIT_FD + 1, ~0U, 0);
        run_init(command);
}

/* In the parent, once the child exists in its new user namespace: the namespace's maps, then the
 * idmapped mounts of its root that only the host's root can make. */
static int prepare_userns(const ContainerConfig *cfg, pid_t pid, RootfsFds *idmap, char *err) {
        _cleanup_sup_error_ SupError *e = NULL;
        _cleanup_close_ int nsfd = -EBADF;
        char path[64];
        int r;

        r = userns_write_maps(pid, cfg->userns);
        if (r < 0)
                return workload_error(err, r, "cannot map the container's user namespace to host ids %u-%u",
                                      cfg->userns->base, cfg->userns->base + cfg->userns->size - 1);
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return workload_error(err, negative_errno(), "cannot open the container's user namespace");
        r = rootfs_idmap_prepare(cfg->spec, cfg->image, cfg->sandbox, nsfd, idmap, &e);
        if (r < 0)
                sup_error_to_buffer(e, err, WORKLOAD_ERR_MAX);
        return r;
}

int container_clone_into_cgroup(const Cgroup *cg, struct clone_args *args) {
        int fd;

        if (!cg || cgroup_version(cg) != CGROUP_V2)
                return -EBADF;
        fd = cgroup_open_fd(cg);
        if (fd >= 0) {
                args->flags |= CLONE_INTO_CGROUP;
                args->cgroup = (uint64_t) fd;
        }
        return fd;
}

/* Everything before the go: the child in its namespaces and (v1: moved into) its cgroup, parked
 * on its sync socket before it has done anything of its own (no mount, no pivot_root, nothing
 * read from the image). */
int container_spawn(const ContainerConfig *cfg, Container *ret) {
        int sync_pipe[2] = {-EBADF, -EBADF}, err_pipe[2] = {-EBADF, -EBADF}, exit_pipe[2] = {-EBADF, -EBADF};
        _cleanup_close_ int cgroup_fd = -EBADF;
        struct clone_args args = {
                .flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD, /* CLONE_NEWNS: at the go */
                .exit_signal = SIGCHLD,
        };
        int pidfd = -EBADF, own_ns[CONTAINER_SHARE_KINDS], r;
        uint64_t joined;
        pid_t pid;

        if (cfg->spec->network != NETWORK_HOST)
                args.flags |= CLONE_NEWNET;
        cgroup_fd = container_clone_into_cgroup(cfg->cgroup, &args);
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;

        if (cfg->userns) {
                args.flags |= CLONE_NEWUSER;
                /* Born in the new user namespace, the child keeps the supplementary groups of its
                 * creator, host groups it could use on host files, and setgroups() will be denied
                 * in there: drop them here first. The monitor, root, needs none. */
                if (setgroups(0, NULL) < 0) {
                        r = negative_errno();
                        goto fail;
                }
        }
        /* The sync channel is a socket: with a user namespace the go byte carries fds. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync_pipe) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
            pipe2(exit_pipe, O_CLOEXEC) < 0) {
                r = negative_errno();
                goto fail;
        }

        r = container_share_enter(cfg->share, own_ns, &joined);
        if (r < 0)
                goto fail;
        args.flags &= ~joined;
        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        r = pid < 0 ? negative_errno() : 0;
        if (pid != 0)
                container_share_leave(own_ns);
        if (r < 0)
                goto fail;
        if (pid == 0) {
                /* The fds the child keeps at fixed numbers above 2, and nothing else of the
                 * monitor's (its socket, its log file). The command's stdout/stderr copies must
                 * survive its exec: not close-on-exec. */
                int src[] = {sync_pipe[0], err_pipe[1], exit_pipe[1], cfg->stdout_fd, cfg->stderr_fd};
                if (child_arrange_fds(src, ELEMENTSOF(src), CHILD_SYNC_FD) < 0)
                        _exit(125);
                (void) fcntl(CHILD_ERROR_FD, F_SETFD, FD_CLOEXEC);
                (void) fcntl(CHILD_EXIT_FD, F_SETFD, FD_CLOEXEC);
                child(cfg);
        }

        close(sync_pipe[0]);
        close(exit_pipe[1]);
        sync_pipe[0] = exit_pipe[1] = -EBADF;
        *ret = (Container){.pid = pid,
                           .pidfd = pidfd,
                           .error_fd = err_pipe[0],
                           .exit_fd = exit_pipe[0],
                           .sync_fd = sync_pipe[1],
                           .error_wfd = err_pipe[1]};

        /* On v1 the move into the cgroup: its cgroup.procs write waits for an RCU grace period
         * (about 10 ms), which is why a monitor spawns the next run's container ahead. */
        if (cfg->cgroup && !(args.flags & CLONE_INTO_CGROUP)) {
                r = cgroup_attach(cfg->cgroup, pid);
                if (r < 0) {
                        container_abandon(ret);
                        return r;
                }
        }
        /* A root built ahead is built once the child is in its cgroup. A child that has died
         * meanwhile is told by its pidfd at the go. */
        if (cfg->root_ahead)
                (void) send_byte_fds(ret->sync_fd, NULL, 0);
        return 0;

fail:
        for (int *fd = (int[]){sync_pipe[0], sync_pipe[1], err_pipe[0], err_pipe[1], exit_pipe[0], exit_pipe[1], pidfd},
                 *end = fd + 7;
             fd < end; fd++)
                if (*fd >= 0)
                        close(*fd);
        return r;
}

bool container_root_ahead_possible(const ContainerConfig *cfg) {
        const ContainerShare *sh = cfg->share;

        return cfg->spec->network == NETWORK_NONE && !cfg->userns && !cfg->prepare && !cfg->setup &&
               !(sh && (sh->ipc >= 0 || sh->net >= 0 || sh->pid >= 0)) &&
               rootfs_count_binds(cfg->spec) <= ROOTFS_FDS_MAX;
}

int container_release(const ContainerConfig *cfg, Container *c) {
        char prepare_err[WORKLOAD_ERR_MAX] = "";
        RootfsFds idmap = {0};
        int r;

        if (cfg->prepare) {
                _cleanup_sup_error_ SupError *e = NULL;

                r = cfg->prepare(c->pid, cfg->userdata, &e);
                if (r < 0 && e)
                        (void) sup_error_to_buffer(e, prepare_err, sizeof(prepare_err));
        } else
                r = 0;
        if (r >= 0 && cfg->userns)
                r = prepare_userns(cfg, c->pid, &idmap, prepare_err);
        else if (r >= 0 && cfg->root_ahead) {
                _cleanup_sup_error_ SupError *e = NULL;

                r = rootfs_binds_prepare(cfg->spec, &idmap, &e);
                if (r < 0)
                        sup_error_to_buffer(e, prepare_err, sizeof(prepare_err));
        }
        if (r < 0) {
                /* Told like a failure of the child's own setup: the reason on the error pipe, and
                 * the child, whose sync pipe closes without the go byte, exits. */
                if (!prepare_err[0])
                        snprintf(prepare_err, sizeof(prepare_err), "%s", strerror(-r));
                (void) !write(c->error_wfd, prepare_err, strlen(prepare_err));
        } else if ((r = send_byte_fds(c->sync_fd, idmap.fds, idmap.n)) < 0) {
                rootfs_fds_done(&idmap);
                container_abandon(c);
                return r;
        }
        rootfs_fds_done(&idmap);
        close(c->sync_fd);
        close(c->error_wfd);
        c->sync_fd = c->error_wfd = -EBADF;
        return 0;
}

int container_start(const ContainerConfig *cfg, Container *ret) {
        Container c;
        int r;

        r = container_spawn(cfg, &c);
        if (r < 0)
                return r;
        r = container_release(cfg, &c);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

void container_abandon(Container *c) {
        siginfo_t si;

        if (c->pidfd >= 0) {
                (void) syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
                /* Parked, it has nothing to finish: SIGKILL ends it at once, and the wait keeps
                 * a zombie from holding its cgroup. */
                (void) waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED);
        }
        container_close(c);
}

void container_close(Container *c) {
        int *fds[] = {&c->pidfd, &c->error_fd, &c->exit_fd, &c->sync_fd, &c->error_wfd};
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (*fds[i] >= 0) {
                        close(*fds[i]);
                        *fds[i] = -EBADF;
                }
}
