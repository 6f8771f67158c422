/* SPDX-License-Identifier: MIT */
#include "container-exec.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "caps.h"
#include "container.h"
#include "macro.h"
#include "process-util.h"
#include "socket-util.h"
#include "workload.h"

/* The helper's fds after clone(), at fixed numbers; everything else is closed. */
enum {
        HELPER_SOCK_FD = 3,  /* read: the go byte (in the cgroup); write: the command's pidfd */
        HELPER_ERROR_FD = 4, /* write: a setup error as text */
        HELPER_STDOUT_FD = 5,
        HELPER_STDERR_FD = 6,
        HELPER_INIT_FD = 7, /* the container's init's pidfd */
};

struct ContainerExec {
        Event *event;
        ExecCallbacks callbacks;
        void *userdata;
        int helper_pidfd; /* the helper, until reaped */
        int sock;         /* the command's pidfd comes on it */
        int pidfd;        /* the command's, once it came */
        int error_fd;
        int out_fd[_EXEC_STREAM_MAX];
        EventSource *helper_source, *pidfd_source, *out_source[_EXEC_STREAM_MAX];
        char error[WORKLOAD_ERR_MAX];
        size_t error_len;
};

static void close_fdp(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -EBADF;
}

_noreturn_ static void helper_fail(int r, const char *msg) {
        (void) !write(HELPER_ERROR_FD, msg, strlen(msg));
        _exit(workload_exit_code(r));
}

_noreturn_ static void helper_fail_errno(int r, const char *what) {
        char err[WORKLOAD_ERR_MAX];
        (void) workload_error(err, r, "%s", what);
        helper_fail(r, err);
}

/* The command: already in the container (its namespaces, its root, its cgroup), and the caller's
 * child. */
_noreturn_ static void run_command(const ContainerExecConfig *cfg, const ExecRequest *req) {
        char err[WORKLOAD_ERR_MAX];
        int r;

        close(HELPER_SOCK_FD);
        close(HELPER_INIT_FD);
        r = workload_exec_request(cfg->spec, req, cfg->userns, -EBADF, HELPER_STDOUT_FD, HELPER_STDERR_FD, cfg->rlimits,
                                  cfg->seccomp, err);
        helper_fail(r, err);
}

_noreturn_ static void helper(const ContainerExecConfig *cfg, const ExecRequest *req) {
        int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWPID;
        struct clone_args args = {.flags = CLONE_PARENT | CLONE_PIDFD};
        int pidfd = -EBADF, r;
        size_t n = 0;
        pid_t pid;

        /* Before it is in any of the container's namespaces: the helper and the command (a fork
         * of it, which inherits this until its execve()) are root on the host, hold the host's
         * fds until they are closed, and their /proc/PID/exe is the host's sup-monitor. Once
         * they are not dumpable, a process of the container cannot ptrace them, read their
         * memory or open their /proc/PID/{exe,fd/N,cwd,root,mem} without CAP_SYS_PTRACE over the
         * host's user namespace: no overwriting the host's binary through /proc/PID/exe
         * (CVE-2019-5736, which an exec into a running container is exactly the moment of), no
         * way out through a host fd (CVE-2024-21626). */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                helper_fail_errno(-errno, "cannot make the exec's helper non-dumpable");
        /* The helper lives no longer than the caller (a monitor that dies leaves nothing behind). */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);

        /* The go byte: the caller has put us into the instance's cgroup (on v1), so that the
         * command is in it from its first instruction and counted, limited and killed with it. */
        if (recv_byte_fds(HELPER_SOCK_FD, NULL, &n, 0) < 0)
                _exit(1); /* the caller gave up on us */

        /* All of init's namespaces in one step, so that no half-joined state exists (the pid
         * namespace applies to children only: the command is forked below). The mount namespace
         * brings the container's root with it (pivot_root() made it the namespace's root). A user
         * namespace only where the container has its own: joining one's own is EINVAL. */
        if (cfg->userns)
                flags |= CLONE_NEWUSER;
        if (setns(HELPER_INIT_FD, flags) < 0)
                helper_fail_errno(-errno, "cannot join the container's namespaces");

        /* CLONE_PARENT: the command is the caller's child, not ours, so that the caller holds its
         * pidfd, reaps it and sees how it really ended (not relayed through us), and we can exit. */
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0)
                helper_fail_errno(-errno, "cannot fork the command");
        if (pid == 0)
                run_command(cfg, req);
        r = send_byte_fds(HELPER_SOCK_FD, &pidfd, 1);
        if (r < 0) {
                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                helper_fail_errno(r, "cannot pass on the command's pidfd");
        }
        _exit(0);
}

static void deliver_output(ContainerExec *x, ExecStream s, const char *buf, size_t n) {
        if (x->callbacks.output)
                x->callbacks.output(s, buf, n, x->userdata);
}

static void close_output(ContainerExec *x, ExecStream s) {
        x->out_source[s] = event_source_free(x->out_source[s]);
        close_fdp(&x->out_fd[s]);
}

/* Whatever is in the pipe now; the writers may live on (a command's background children). */
static void drain_output(ContainerExec *x, ExecStream s) {
        char buf[16384];
        ssize_t n;

        while (x->out_fd[s] >= 0 && (n = read(x->out_fd[s], buf, sizeof(buf))) > 0)
                deliver_output(x, s, buf, (size_t) n);
        close_output(x, s);
}

/* One read per event, as the monitor reads the workload's (workload.h says why). */
static void on_output(EventSource *src, int fd, uint32_t revents, void *userdata) {
        ContainerExec *x = userdata;
        ExecStream s = fd == x->out_fd[EXEC_STDOUT] ? EXEC_STDOUT : EXEC_STDERR;
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0)
                deliver_output(x, s, buf, (size_t) n);
        if (n > 0 && !(revents & EPOLLHUP))
                return;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        drain_output(x, s);
}

static void exec_close(ContainerExec *x) {
        x->helper_source = event_source_free(x->helper_source);
        x->pidfd_source = event_source_free(x->pidfd_source);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                close_output(x, s);
        close_fdp(&x->helper_pidfd);
        close_fdp(&x->pidfd);
        close_fdp(&x->sock);
        close_fdp(&x->error_fd);
}

/* The command (or the helper, before it started one) has ended: its output, then its end. */
static void finish(ContainerExec *x, int code, int signal) {
        ExecResult result = {.code = signal ? -1 : code, .signal = signal};
        ssize_t n;

        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                drain_output(x, s);
        while ((n = read(x->error_fd, x->error + x->error_len, sizeof(x->error) - 1 - x->error_len)) > 0)
                x->error_len += (size_t) n;
        x->error[x->error_len] = 0;
        if (x->error_len > 0)
                result.error = x->error;
        exec_close(x);
        x->callbacks.exited(&result, x->userdata);
        free(x);
}

static void wait_status(int pidfd, int *ret_code, int *ret_signal) {
        siginfo_t si = {};

        (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &si, WEXITED | WNOHANG);
        *ret_code = si.si_code == CLD_EXITED ? si.si_status : -1;
        *ret_signal = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? si.si_status : 0;
}

static void on_command_exit(EventSource *src, int fd, uint32_t revents, void *userdata) {
        ContainerExec *x = userdata;
        int code, sig;

        wait_status(x->pidfd, &code, &sig);
        finish(x, code, sig);
}

static void on_helper_exit(EventSource *src, int fd, uint32_t revents, void *userdata) {
        ContainerExec *x = userdata;
        int code, sig, r;
        size_t n = 1;

        wait_status(x->helper_pidfd, &code, &sig);
        x->helper_source = event_source_free(x->helper_source);
        close_fdp(&x->helper_pidfd);
        /* The helper sent the command's pidfd before it exited, if it started one. */
        r = recv_byte_fds(x->sock, &x->pidfd, &n, MSG_DONTWAIT);
        close_fdp(&x->sock);
        if (r < 0 || n != 1) {
                x->pidfd = -EBADF;
                if (code == 0 && sig == 0) /* cannot be: it exits 0 only once the pidfd is sent */
                        code = 126;
                finish(x, code, sig);
                return;
        }
        r = event_add_io(x->event, &x->pidfd_source, x->pidfd, EPOLLIN, on_command_exit, x);
        if (r < 0) {
                /* Not watched, it would run on unseen: it ends here instead. */
                (void) syscall(SYS_pidfd_send_signal, x->pidfd, SIGKILL, NULL, 0);
                (void) waitid((idtype_t) P_PIDFD, (id_t) x->pidfd, &(siginfo_t){}, WEXITED);
                finish(x, -1, SIGKILL);
        }
}

int container_exec(Event *e, const ContainerExecConfig *cfg, const ExecRequest *req, const ExecCallbacks *callbacks,
                   void *userdata, ContainerExec **ret, SupError **ret_error) {
        int sock[2] = {-EBADF, -EBADF}, err_pipe[2] = {-EBADF, -EBADF},
            out[2][2] = {{-EBADF, -EBADF}, {-EBADF, -EBADF}};
        _cleanup_close_ int cgroup_fd = -EBADF;
        struct clone_args args = {.flags = CLONE_PIDFD, .exit_signal = SIGCHLD};
        uint32_t events[_EXEC_STREAM_MAX];
        ContainerExec *x;
        int pidfd = -EBADF, r;
        pid_t pid;

        if (!req->argv || !req->argv[0])
                return sup_error_make(ret_error, -EINVAL, "exec: no command");

        cgroup_fd = container_clone_into_cgroup(cfg->cgroup, &args);
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
                r = sup_error_errno(ret_error, -errno, "exec: cannot create the helper's channels");
                goto fail;
        }
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++) {
                r = workload_output_pipe(out[s], &events[s]);
                if (r < 0) {
                        r = sup_error_errno(ret_error, r, "exec: cannot create the output pipes");
                        goto fail;
                }
        }

        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0) {
                r = sup_error_errno(ret_error, -errno, "exec: cannot fork the helper");
                goto fail;
        }
        if (pid == 0) {
                /* The fds the helper keeps at fixed numbers, and nothing else of the caller's:
                 * its sockets, its log. The command's stdout and stderr survive its execve();
                 * nothing else does. */
                int src[] = {sock[1], err_pipe[1], out[EXEC_STDOUT][1], out[EXEC_STDERR][1], cfg->init_pidfd};
                if (child_arrange_fds(src, ELEMENTSOF(src), HELPER_SOCK_FD) < 0)
                        _exit(125);
                (void) fcntl(HELPER_SOCK_FD, F_SETFD, FD_CLOEXEC);
                (void) fcntl(HELPER_ERROR_FD, F_SETFD, FD_CLOEXEC);
                (void) fcntl(HELPER_INIT_FD, F_SETFD, FD_CLOEXEC);
                helper(cfg, req);
        }

        close_fdp(&sock[1]);
        close_fdp(&err_pipe[1]);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                close_fdp(&out[s][1]);
        if (cfg->cgroup && !(args.flags & CLONE_INTO_CGROUP)) {
                r = cgroup_attach(cfg->cgroup, pid);
                if (r < 0) {
                        r = sup_error_errno(ret_error, r, "exec: cannot move the helper into %s",
                                            cgroup_path(cfg->cgroup));
                        goto fail_kill;
                }
        }
        r = send_byte_fds(sock[0], NULL, 0);
        if (r < 0) {
                r = sup_error_errno(ret_error, r, "exec: cannot release the helper");
                goto fail_kill;
        }

        x = xnew0(ContainerExec, 1);
        *x = (ContainerExec){
                .event = e,
                .callbacks = *callbacks,
                .userdata = userdata,
                .helper_pidfd = pidfd,
                .sock = sock[0],
                .pidfd = -EBADF,
                .error_fd = err_pipe[0],
                .out_fd = {out[EXEC_STDOUT][0], out[EXEC_STDERR][0]},
        };
        (void) fd_set_nonblock(x->error_fd, 1);
        r = event_add_io(e, &x->helper_source, pidfd, EPOLLIN, on_helper_exit, x);
        for (ExecStream s = 0; r >= 0 && s < _EXEC_STREAM_MAX; s++)
                r = event_add_io(e, &x->out_source[s], x->out_fd[s], events[s], on_output, x);
        if (r < 0) {
                (void) container_exec_free(x);
                return sup_error_errno(ret_error, r, "exec: cannot watch the helper");
        }
        *ret = x;
        return 0;

fail_kill:
        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &(siginfo_t){}, WEXITED);
fail:
        for (int *fd = (int[]){sock[0], sock[1], err_pipe[0], err_pipe[1], out[0][0], out[0][1], out[1][0], out[1][1],
                               pidfd},
                 *end = fd + 9;
             fd < end; fd++)
                if (*fd >= 0)
                        close(*fd);
        return r;
}

ContainerExec *container_exec_free(ContainerExec *x) {
        if (!x)
                return NULL;
        /* Both are the caller's children: killed and reaped here, no zombie left. A helper that is
         * killed before it passed the command on takes nothing with it: the command, if it was
         * forked already, is in the container and dies with it. */
        for (int *fd = (int[]){x->helper_pidfd, x->pidfd}, *end = fd + 2; fd < end; fd++)
                if (*fd >= 0) {
                        (void) syscall(SYS_pidfd_send_signal, *fd, SIGKILL, NULL, 0);
                        (void) waitid((idtype_t) P_PIDFD, (id_t) *fd, &(siginfo_t){}, WEXITED);
                }
        exec_close(x);
        free(x);
        return NULL;
}
