/* SPDX-License-Identifier: MIT */
#include "container-exec.h"

#include <assert.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "alloc.h"
#include "caps.h"
#include "container.h"
#include "fileio.h"
#include "macro.h"
#include "process-util.h"
#include "socket-util.h"
#include "workload.h"

/* The helper's fds after clone(), at fixed numbers; everything else is closed. Which of them
 * exist depends on the request: the output pipes without stream, the caller's stdio with stream
 * and no terminal, neither with a terminal (the helper makes the pty itself). */
enum {
        HELPER_SOCK_FD = 3,  /* read: the go byte (in the cgroup); write: the command's pidfd (and the pty's master) */
        HELPER_ERROR_FD = 4, /* write: a setup error as text */
        HELPER_INIT_FD = 5,  /* the container's init's pidfd */
        HELPER_STDOUT_FD = 6,
        HELPER_STDERR_FD = 7,
        HELPER_STDIN_FD = 8, /* stream only */
};

/* The pty's master device: the multiplexer of a devpts instance, /dev/pts/ptmx (c 5:2). */
#define PTMX_MAJOR 5
#define PTMX_MINOR 2

/* One direction of a terminal's relay, on the loop: a chunk read from `from` is written whole to
 * `to` before the next one is read, so that a reader that does not keep up holds the writer back
 * (the pty's or the pipe's buffer fills and the other side's write blocks) instead of the monitor
 * buffering without bound. Its one source watches `from` for EPOLLIN while the chunk is empty and
 * `to` for EPOLLOUT while some of it is unwritten. */
typedef struct Relay {
        ContainerExec *exec;
        int from, to; /* dups of the exec's own: -EBADF once the relay stopped */
        EventSource *source;
        int watched; /* the fd the source watches */
        char buf[4096];
        size_t len, off;
} Relay;

typedef enum RelayDirection {
        RELAY_INPUT,  /* stdio[0] -> the terminal */
        RELAY_OUTPUT, /* the terminal -> stdio[1] */
        _RELAY_MAX,
} RelayDirection;

struct ContainerExec {
        ContainerExec *prev, *next; /* every exec alive in this process (strays_reap()) */
        pid_t init_pid;             /* the container's init, as the exec began */
        Event *event;
        ExecCallbacks callbacks;
        void *userdata;
        int helper_pidfd; /* the helper, until reaped */
        int sock;         /* the command's pidfd comes on it */
        int pidfd;        /* the command's, once it came */
        int error_fd;
        int out_fd[_EXEC_STREAM_MAX]; /* without stream */
        EventSource *helper_source, *pidfd_source, *out_source[_EXEC_STREAM_MAX];
        char error[WORKLOAD_ERR_MAX];
        size_t error_len;
        /* With a terminal: the pty's master (for its size) and the relays, whose fds are dups of
         * the master and of the caller's stdio[0] and stdio[1]. */
        bool tty;
        int master;
        struct winsize resized; /* a size asked for before the master came; ws_row 0: none */
        Relay relay[_RELAY_MAX];
        /* The command ended: what the terminal still holds is relayed, then exited(). */
        bool draining;
        unsigned drained; /* chunks relayed since */
        int code, signal;
};

/* The commands of every exec alive in this process, and how many of their helpers may be forking
 * one right now: a helper that died between forking its command and passing the command's pidfd
 * on (cancelled, killed with the instance's cgroup, by the OOM killer, or failing to send) leaves
 * that command a child of ours (CLONE_PARENT) that nothing knows of. Once it ends, nothing reaps
 * it, and a pid namespace's init cannot finish exiting while a process of its namespace waits
 * for a parent outside it to reap it (the kernel's zap_pid_ns_processes()): the container's init
 * would never be seen to exit, its monitor would wait for it for good, and supd's shutdown with
 * it. Such a stray is looked for once no other helper is forking (a command whose pidfd is on its
 * way is not a stray). */
static ContainerExec *execs;
static unsigned helpers_running;
static bool strays_pending;

static bool exec_knows(pid_t pid) {
        for (ContainerExec *x = execs; x; x = x->next) {
                pid_t p;
                if (x->init_pid == pid || (x->pidfd >= 0 && pidfd_get_pid(x->pidfd, &p) >= 0 && p == pid))
                        return true;
        }
        return false;
}

/* A container's init: its pid namespace's 1, or (in a joined one) named sup-init from its first
 * instructions (container.c). */
static bool child_is_init(pid_t pid) {
        _cleanup_free_ char *status = NULL, *comm = NULL;
        char path[64], *ns;

        snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        if (read_full_file(path, 64, &comm, NULL) >= 0 && streq(comm, "sup-init\n"))
                return true;
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        /* Cannot tell: left alone. */
        if (read_full_file(path, 16384, &status, NULL) < 0 || !(ns = strstr(status, "\nNSpid:")))
                return true;
        /* The line's last field: its pid in the innermost namespace. */
        ns[strcspn(ns + 1, "\n") + 1] = '\0';
        ns = strrchr(ns, '\t') ?: strrchr(ns, ' ');
        return ns && streq(ns + 1, "1");
}

/* The strays of the container whose init is INIT_PID: children of this thread (the helpers'
 * parent, and so their commands') in its pid namespace that no exec knows and that are no init.
 * A stray cannot be reported to anyone: it is killed (it may still run) and reaped. */
static void strays_reap(pid_t init_pid) {
        _cleanup_free_ char *children = NULL;
        struct stat ns, st;
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) init_pid);
        if (stat(path, &ns) < 0)
                return; /* the init is gone, and with it its namespace: no stray can be left in it */
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) gettid());
        if (read_full_file(path, 1 << 20, &children, NULL) < 0)
                return;
        for (char *p = children, *end; *p; p = end) {
                pid_t pid = (pid_t) strtol(p, &end, 10);
                if (end == p)
                        break;
                snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) pid);
                /* Our child, not reaped: its pid cannot be another process's meanwhile. */
                if (pid <= 0 || exec_knows(pid) || stat(path, &st) < 0 || st.st_dev != ns.st_dev ||
                    st.st_ino != ns.st_ino || child_is_init(pid))
                        continue;
                (void) kill_session(pid, SIGKILL);
                (void) kill(pid, SIGKILL);
                (void) waitid(P_PID, (id_t) pid, &(siginfo_t){}, WEXITED);
        }
}

/* X's helper is gone and reaped; DELIVERED: it passed its command's pidfd on. */
static void helper_done(ContainerExec *x, bool delivered) {
        assert(helpers_running > 0);
        helpers_running--;
        if (!delivered)
                strays_pending = true;
        if (strays_pending && helpers_running == 0) {
                strays_pending = false;
                strays_reap(x->init_pid);
        }
}

static void exec_unlink(ContainerExec *x) {
        if (x->prev)
                x->prev->next = x->next;
        else if (execs == x)
                execs = x->next;
        if (x->next)
                x->next->prev = x->prev;
        x->prev = x->next = NULL;
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
 * child. slave: the pty's, with a terminal; else -EBADF. */
_noreturn_ static void run_command(const ContainerExecConfig *cfg, const ExecRequest *req, int master, int slave) {
        char err[WORKLOAD_ERR_MAX];
        size_t n = 0;
        int r;

        /* The second go byte: the caller has reaped the helper. Until then the helper, a zombie,
         * still counts in the instance's pids limit (the kernel uncharges a task when it is
         * reaped), and a command that forked at once found one process fewer than the same exec
         * in a guest, where no helper exists. No byte (the caller gave up, or died): nothing runs. */
        if (recv_byte_fds(HELPER_SOCK_FD, NULL, &n, 0) < 0)
                _exit(1);
        close(HELPER_SOCK_FD);
        close(HELPER_INIT_FD);
        if (slave >= 0) {
                /* The master is the caller's alone: never an fd of a process of the container,
                 * not even for the instructions before execve() closes it. */
                close(master);
                r = workload_exec_request(cfg->spec, req, cfg->userns, slave, slave, slave, cfg->rlimits, cfg->seccomp,
                                          err);
        } else if (req->stream)
                r = workload_exec_request(cfg->spec, req, cfg->userns, HELPER_STDIN_FD, HELPER_STDOUT_FD,
                                          HELPER_STDERR_FD, cfg->rlimits, cfg->seccomp, err);
        else
                r = workload_exec_request(cfg->spec, req, cfg->userns, -EBADF, HELPER_STDOUT_FD, HELPER_STDERR_FD,
                                          cfg->rlimits, cfg->seccomp, err);
        helper_fail(r, err);
}

/* A new pty of the container's own devpts (rootfs.c mounts a new instance on /dev/pts, and
 * /dev/ptmx is a link to its pts/ptmx), made by the helper once it is in the container's mount
 * namespace: the command's terminal is then the container's, as its /dev/pts/N shows, and never
 * one of the host's devpts (whose ptys are the host's sessions). /dev/ptmx is the container's to
 * replace, so what was opened is checked to be a devpts multiplexer before anything is done with
 * it (not a link to a FIFO, a file or another device the container has: those are refused), and
 * the slave comes from the master itself (TIOCGPTPEER), never by its path under /dev/pts, which
 * the container could swap for something else between the two opens. The slave belongs to the
 * command's user, as a login's terminal does (programs such as screen refuse a terminal that is
 * not theirs); the device's mode and group are the mount's (0620, tty). */
static void open_terminal(const ContainerExecConfig *cfg, const ExecRequest *req, int *ret_master, int *ret_slave) {
        struct open_how how = {
                .flags = O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK, /* non-blocking: the caller relays it */
                .resolve = RESOLVE_NO_MAGICLINKS,
        };
        struct winsize size = {.ws_row = req->rows ?: 24, .ws_col = req->cols ?: 80};
        _cleanup_sup_error_ SupError *error = NULL;
        ContainerUser user;
        bool owner;
        struct statfs sfs;
        struct stat st;
        int master, slave;

        /* The user's lookup is the command's again right after (workload_exec_request()), which
         * reports a failure of it: here it only decides the owner. */
        owner = workload_resolve_user(req->user ?: cfg->spec->user, cfg->userns, &user, &error) >= 0;
        /* In a user namespace of its own, a pty made by the host's root would belong to a user the
         * container does not have (and could not be given to anyone): made as the container's
         * root instead, which the helper, with every capability in that namespace, may be. */
        if (cfg->userns)
                (void) setfsuid(0);

        master = (int) syscall(SYS_openat2, AT_FDCWD, "/dev/ptmx", &how, sizeof(how));
        if (master < 0)
                helper_fail_errno(-errno, "cannot open the container's /dev/ptmx");
        if (fstatfs(master, &sfs) < 0 || fstat(master, &st) < 0)
                helper_fail_errno(-errno, "cannot check the container's /dev/ptmx");
        if (sfs.f_type != DEVPTS_SUPER_MAGIC || !S_ISCHR(st.st_mode) || major(st.st_rdev) != PTMX_MAJOR ||
            minor(st.st_rdev) != PTMX_MINOR)
                helper_fail_errno(-EPERM, "the container's /dev/ptmx is not the multiplexer of a devpts");
        if (ioctl(master, TIOCSPTLCK, &(int){0}) < 0)
                helper_fail_errno(-errno, "cannot unlock the terminal");
        if (ioctl(master, TIOCSWINSZ, &size) < 0)
                helper_fail_errno(-errno, "cannot set the terminal's size");
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                helper_fail_errno(-errno, "cannot open the terminal's slave");
        if (owner && fchown(slave, user.uid, (gid_t) -1) < 0)
                helper_fail_errno(-errno, "cannot give the terminal to the command's user");
        *ret_master = master;
        *ret_slave = slave;
}

_noreturn_ static void helper(const ContainerExecConfig *cfg, const ExecRequest *req) {
        int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWPID;
        struct clone_args args = {.flags = CLONE_PARENT | CLONE_PIDFD};
        int fds[2] = {-EBADF, -EBADF}, master = -EBADF, slave = -EBADF, r;
        size_t n = 0;
        pid_t pid;

        /* Before it is in any of the container's namespaces: the helper and the command (a fork
         * of it, which inherits this until its execve()) are root on the host, hold the host's
         * fds until they are closed, and their /proc/PID/exe is the host's sup-monitor. Once
         * they are not dumpable, a process of the container cannot ptrace them, read their
         * memory or open their /proc/PID/{exe,fd/N,cwd,root,mem} without CAP_SYS_PTRACE over the
         * host's user namespace: no overwriting the host's binary through /proc/PID/exe
         * (CVE-2019-5736, which an exec into a running container is exactly the moment of), no
         * way out through a host fd (CVE-2024-21626), no taking the terminal's master. */
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
        if (req->stream && req->tty)
                open_terminal(cfg, req, &master, &slave);

        /* CLONE_PARENT: the command is the caller's child, not ours, so that the caller holds its
         * pidfd, reaps it and sees how it really ended (not relayed through us), and we can exit. */
        args.pidfd = (uint64_t) (uintptr_t) &fds[0];
        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0)
                helper_fail_errno(-errno, "cannot fork the command");
        if (pid == 0)
                run_command(cfg, req, master, slave);
        fds[1] = master;
        r = send_byte_fds(HELPER_SOCK_FD, fds, master >= 0 ? 2 : 1);
        if (r < 0) {
                (void) syscall(SYS_pidfd_send_signal, fds[0], SIGKILL, NULL, 0);
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
        close_and_reset(&x->out_fd[s]);
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

static void relay_stop(Relay *r) {
        r->source = event_source_free(r->source);
        r->watched = -EBADF;
        close_and_reset(&r->from);
        close_and_reset(&r->to);
        r->len = r->off = 0;
}

/* The terminal's user is gone (its output cannot be written): the terminal hangs up, as when a
 * terminal emulator closes, once no fd of its master is left: the command's session gets SIGHUP
 * and its reads and writes of the terminal fail, rather than it blocking for good on a terminal
 * whose output nobody takes. */
static void terminal_hang_up(ContainerExec *x) {
        for (RelayDirection d = 0; d < _RELAY_MAX; d++)
                relay_stop(&x->relay[d]);
        close_and_reset(&x->master);
}

typedef enum RelayState {
        RELAY_MOVED,   /* the chunk is written whole: the next one can be read */
        RELAY_WAITING, /* for input, or for room in the destination: the source watches it */
        RELAY_EOF,     /* nothing more can be read (EOF, or EIO: the terminal's slave is closed) */
        RELAY_FAILED,  /* the destination failed (EPIPE: its reader is gone; EIO) */
} RelayState;

static void on_relay(EventSource *src, int fd, uint32_t revents, void *userdata);

static RelayState relay_watch(Relay *r, int fd, uint32_t events) {
        int k;

        if (r->watched == fd)
                return RELAY_WAITING;
        r->source = event_source_free(r->source);
        k = event_add_io(r->exec->event, &r->source, fd, events, on_relay, r);
        if (k < 0)
                return RELAY_FAILED; /* unwatched, it would never move again */
        r->watched = fd;
        return RELAY_WAITING;
}

/* At most one chunk: read it if there is none, then write what is left of it. Level-triggered,
 * so a busy stream comes back on the next turn of the loop and shares it with the others. */
static RelayState relay_step(Relay *r) {
        ssize_t n;

        if (r->off == r->len) {
                n = read(r->from, r->buf, sizeof(r->buf));
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return relay_watch(r, r->from, EPOLLIN);
                if (n <= 0)
                        return RELAY_EOF;
                r->len = (size_t) n;
                r->off = 0;
        }
        while (r->off < r->len) {
                n = write(r->to, r->buf + r->off, r->len - r->off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return relay_watch(r, r->to, EPOLLOUT);
                if (n <= 0)
                        return RELAY_FAILED;
                r->off += (size_t) n;
        }
        (void) relay_watch(r, r->from, EPOLLIN);
        return RELAY_MOVED;
}

static void exec_close(ContainerExec *x) {
        x->helper_source = event_source_free(x->helper_source);
        x->pidfd_source = event_source_free(x->pidfd_source);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                close_output(x, s);
        terminal_hang_up(x);
        close_and_reset(&x->helper_pidfd);
        close_and_reset(&x->pidfd);
        close_and_reset(&x->sock);
        close_and_reset(&x->error_fd);
}

/* The command (or the helper, before it started one) has ended and what it wrote is relayed:
 * its output, then its end. */
static void finish(ContainerExec *x) {
        ExecResult result = {.code = x->signal ? -1 : x->code, .signal = x->signal};
        ssize_t n;

        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                drain_output(x, s);
        while ((n = read(x->error_fd, x->error + x->error_len, sizeof(x->error) - 1 - x->error_len)) > 0)
                x->error_len += (size_t) n;
        x->error[x->error_len] = 0;
        if (x->error_len > 0)
                result.error = x->error;
        exec_close(x);
        exec_unlink(x);
        x->callbacks.exited(&result, x->userdata);
        free(x);
}

/* What the terminal still holds once the command ended: until the master has nothing more to
 * read right now or cannot be read (EIO: no slave is left), or the output cannot be written. A
 * background child of the command that keeps the slave open and writes on is not waited for:
 * past DRAIN_MAX chunks (far more than a pty holds) the exec ends anyway. At most DRAIN_TURN
 * chunks per turn of the loop, which the relay then yields (its destination's EPOLLOUT brings it
 * back at once: the master's EPOLLIN would not, were it empty by then). Returns true when done
 * (x is then freed). */
#define DRAIN_MAX  256
#define DRAIN_TURN 16
static bool drain_terminal(ContainerExec *x) {
        Relay *out = &x->relay[RELAY_OUTPUT];
        RelayState s = RELAY_EOF;

        for (unsigned i = 0; out->from >= 0 && x->drained < DRAIN_MAX; i++) {
                if (i == DRAIN_TURN) {
                        if (relay_watch(out, out->to, EPOLLOUT) == RELAY_WAITING)
                                return false;
                        break;
                }
                s = relay_step(out);
                if (s != RELAY_MOVED)
                        break;
                x->drained++;
        }
        /* Waiting on the output: for room in it, with a chunk unwritten. Waiting on the master:
         * it is empty. */
        if (s == RELAY_WAITING && out->watched == out->to)
                return false;
        finish(x);
        return true;
}

static void on_relay(EventSource *src, int fd, uint32_t revents, void *userdata) {
        Relay *r = userdata;
        ContainerExec *x = r->exec;
        RelayDirection d = r == &x->relay[RELAY_INPUT] ? RELAY_INPUT : RELAY_OUTPUT;

        if (x->draining) {
                (void) drain_terminal(x);
                return;
        }
        switch (relay_step(r)) {
        case RELAY_MOVED:
        case RELAY_WAITING:
                break;
        case RELAY_EOF:
                /* The caller's input ended: the command may well go on (a shell reading a
                 * script, then working). Its terminal stays; only the reading stops. Or the
                 * terminal's slave is closed by every process: nothing more will come out. */
                relay_stop(r);
                break;
        case RELAY_FAILED:
                if (d == RELAY_OUTPUT)
                        terminal_hang_up(x);
                else
                        relay_stop(r);
                break;
        }
}

/* The command has ended (its pidfd): what its terminal still holds, then its end. */
static void command_ended(ContainerExec *x, int code, int signal) {
        x->code = code;
        x->signal = signal;
        x->pidfd_source = event_source_free(x->pidfd_source);
        if (!x->tty) {
                finish(x);
                return;
        }
        /* Its input is of no use any more; a chunk already read of it is dropped. */
        relay_stop(&x->relay[RELAY_INPUT]);
        x->draining = true;
        (void) drain_terminal(x);
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
        command_ended(x, code, sig);
}

/* The terminal's relays start once its master came: dups of the master and of the caller's fds,
 * non-blocking, so that one stream that cannot move never stops the loop. */
static int start_relays(ContainerExec *x) {
        Relay *in = &x->relay[RELAY_INPUT], *out = &x->relay[RELAY_OUTPUT];

        if (fd_set_nonblock(x->master, 1) < 0)
                return negative_errno();
        if (x->resized.ws_row > 0 && ioctl(x->master, TIOCSWINSZ, &x->resized) < 0)
                return negative_errno();
        in->to = fcntl(x->master, F_DUPFD_CLOEXEC, 3);
        out->from = fcntl(x->master, F_DUPFD_CLOEXEC, 3);
        if (in->to < 0 || out->from < 0)
                return negative_errno();
        if (relay_watch(in, in->from, EPOLLIN) != RELAY_WAITING ||
            relay_watch(out, out->from, EPOLLIN) != RELAY_WAITING)
                return -ENOMEM;
        return 0;
}

static void on_helper_exit(EventSource *src, int fd, uint32_t revents, void *userdata) {
        ContainerExec *x = userdata;
        int fds[2] = {-EBADF, -EBADF}, code, sig, r;
        size_t want = x->tty ? 2 : 1, n = want;

        wait_status(x->helper_pidfd, &code, &sig);
        x->helper_source = event_source_free(x->helper_source);
        close_and_reset(&x->helper_pidfd);
        /* The helper sent the command's pidfd (and the terminal's master) before it exited, if it
         * started one. */
        r = recv_byte_fds(x->sock, fds, &n, MSG_DONTWAIT);
        if (r >= 0 && n == want)
                x->pidfd = fds[0];
        /* The helper is reaped (above): the command may run (run_command()). */
        if (x->pidfd >= 0 && send_byte_fds(x->sock, NULL, 0) < 0)
                (void) syscall(SYS_pidfd_send_signal, x->pidfd, SIGKILL, NULL, 0);
        close_and_reset(&x->sock);
        helper_done(x, x->pidfd >= 0);
        if (x->pidfd >= 0) {
                x->master = fds[1];
                r = event_add_io(x->event, &x->pidfd_source, x->pidfd, EPOLLIN, on_command_exit, x);
                if (r >= 0 && x->tty)
                        r = start_relays(x);
                if (r >= 0)
                        return;
                /* Not watched, it would run on unseen: it ends here instead. */
                (void) syscall(SYS_pidfd_send_signal, x->pidfd, SIGKILL, NULL, 0);
                (void) waitid((idtype_t) P_PIDFD, (id_t) x->pidfd, &(siginfo_t){}, WEXITED);
                code = -1;
                sig = SIGKILL;
        } else {
                for (size_t i = 0; r >= 0 && i < n; i++)
                        close(fds[i]);
                if (code == 0 && sig == 0) /* cannot be: it exits 0 only once the pidfd is sent */
                        code = 126;
        }
        x->code = code;
        x->signal = sig;
        finish(x);
}

/* A streamed command's fds are the caller's stdio as they are: only pipes and sockets, which
 * give the container what is written to them and nothing else. A terminal of the host would let
 * the command type into the host's session (TIOCSTI) or take it over; a file or a directory
 * would be a way to the host's file system by its /proc/self/fd link or by openat() from it
 * (CVE-2024-21626). */
static int check_stdio(const ExecRequest *req, SupError **ret_error) {
        for (int i = 0; i < (req->tty ? 2 : 3); i++) {
                struct stat st;

                if (fstat(req->stdio[i], &st) < 0)
                        return sup_error_errno(ret_error, -errno, "exec: cannot check the stream's fd %d", i);
                int domain = 0;
                socklen_t len = sizeof(domain);

                /* A pipe, or a unix socket: what is written to it and nothing else. Not a socket of
                 * another family, which would give the container the host's network. */
                if (S_ISSOCK(st.st_mode) &&
                    (getsockopt(req->stdio[i], SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX))
                        return sup_error_make(ret_error, -EINVAL, "exec: the stream's fd %d is not a unix socket", i);
                if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
                        return sup_error_make(ret_error, -EINVAL, "exec: the stream's fd %d is not a pipe or a socket",
                                              i);
        }
        return 0;
}

int container_exec(Event *e, const ContainerExecConfig *cfg, const ExecRequest *req, const ExecCallbacks *callbacks,
                   void *userdata, ContainerExec **ret, SupError **ret_error) {
        int sock[2] = {-EBADF, -EBADF}, err_pipe[2] = {-EBADF, -EBADF},
            out[2][2] = {{-EBADF, -EBADF}, {-EBADF, -EBADF}}, relay_fd[2] = {-EBADF, -EBADF};
        _cleanup_close_ int cgroup_fd = -EBADF;
        struct clone_args args = {.flags = CLONE_PIDFD, .exit_signal = SIGCHLD};
        bool tty = req->stream && req->tty;
        uint32_t events[_EXEC_STREAM_MAX];
        ContainerExec *x;
        int pidfd = -EBADF, r;
        pid_t pid;

        if (!req->argv || !req->argv[0])
                return sup_error_make(ret_error, -EINVAL, "exec: no command");
        if (req->stream) {
                r = check_stdio(req, ret_error);
                if (r < 0)
                        return r;
        }

        cgroup_fd = container_clone_into_cgroup(cfg->cgroup, &args);
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
                r = sup_error_errno(ret_error, -errno, "exec: cannot create the helper's channels");
                goto fail;
        }
        for (ExecStream s = 0; !req->stream && s < (req->merge_stderr ? EXEC_STDERR : _EXEC_STREAM_MAX); s++) {
                r = workload_output_pipe(out[s], &events[s]);
                if (r < 0) {
                        r = sup_error_errno(ret_error, r, "exec: cannot create the output pipes");
                        goto fail;
                }
        }
        /* The terminal's relay: its own dups of the caller's fds, made non-blocking. O_NONBLOCK
         * is the open file's, shared with every dup of it: the caller's stdio are pipes or sockets
         * made for this exec (exec.h), whose other ends, the client's, are files of their own. */
        for (int i = 0; tty && i < 2; i++) {
                relay_fd[i] = fcntl(req->stdio[i], F_DUPFD_CLOEXEC, 3);
                if (relay_fd[i] < 0 || fd_set_nonblock(relay_fd[i], 1) < 0) {
                        r = sup_error_errno(ret_error, -errno, "exec: cannot set up the terminal's relay");
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
                 * its sockets, its log, the terminal relay's dups. What survives the command's
                 * execve() is its stdin, stdout and stderr: the output pipes, or the caller's
                 * stdio, or the terminal's slave (made by the helper); nothing else does. */
                int src[] = {sock[1],
                             err_pipe[1],
                             cfg->init_pidfd,
                             req->stream ? req->stdio[1] : out[EXEC_STDOUT][1],
                             req->stream         ? req->stdio[2]
                             : req->merge_stderr ? out[EXEC_STDOUT][1]
                                                 : out[EXEC_STDERR][1],
                             req->stream ? req->stdio[0] : -EBADF};
                size_t n = tty ? 3 : req->stream ? 6 : 5;
                if (child_arrange_fds(src, n, HELPER_SOCK_FD) < 0)
                        _exit(125);
                (void) fcntl(HELPER_SOCK_FD, F_SETFD, FD_CLOEXEC);
                (void) fcntl(HELPER_ERROR_FD, F_SETFD, FD_CLOEXEC);
                (void) fcntl(HELPER_INIT_FD, F_SETFD, FD_CLOEXEC);
                helper(cfg, req);
        }

        close_and_reset(&sock[1]);
        close_and_reset(&err_pipe[1]);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                close_and_reset(&out[s][1]);
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
                .next = execs,
                .event = e,
                .callbacks = *callbacks,
                .userdata = userdata,
                .helper_pidfd = pidfd,
                .sock = sock[0],
                .pidfd = -EBADF,
                .error_fd = err_pipe[0],
                .out_fd = {out[EXEC_STDOUT][0], out[EXEC_STDERR][0]},
                .tty = tty,
                .master = -EBADF,
        };
        for (RelayDirection d = 0; d < _RELAY_MAX; d++)
                x->relay[d] = (Relay){.exec = x, .from = -EBADF, .to = -EBADF, .watched = -EBADF};
        x->relay[RELAY_INPUT].from = relay_fd[0];
        x->relay[RELAY_OUTPUT].to = relay_fd[1];
        (void) pidfd_get_pid(cfg->init_pidfd, &x->init_pid);
        if (execs)
                execs->prev = x;
        execs = x;
        helpers_running++;
        (void) fd_set_nonblock(x->error_fd, 1);
        r = event_add_io(e, &x->helper_source, pidfd, EPOLLIN, on_helper_exit, x);
        for (ExecStream s = 0; r >= 0 && !req->stream && s < _EXEC_STREAM_MAX; s++)
                if (x->out_fd[s] >= 0)
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
                               relay_fd[0], relay_fd[1], pidfd},
                 *end = fd + 11;
             fd < end; fd++)
                if (*fd >= 0)
                        close(*fd);
        return r;
}

int container_exec_resize(ContainerExec *x, unsigned short rows, unsigned short cols) {
        struct winsize size = {.ws_row = rows ?: 24, .ws_col = cols ?: 80};

        if (!x->tty)
                return -ENOTTY;
        if (x->master < 0) {
                /* The helper has not passed the master on yet: it gets this size once it has. */
                if (x->helper_pidfd >= 0) {
                        x->resized = size;
                        return 0;
                }
                return -EIO; /* hung up: there is no terminal any more */
        }
        /* The kernel sends SIGWINCH to the terminal's foreground process group when the size
         * changes. */
        if (ioctl(x->master, TIOCSWINSZ, &size) < 0)
                return negative_errno();
        return 0;
}

/* How long a cancel lets a helper that has its go finish on its own: it only joins the
 * namespaces, forks and sends, and a helper killed after its fork leaves a stray. */
#define HELPER_FINISH_MS 100

ContainerExec *container_exec_free(ContainerExec *x) {
        pid_t pid;

        if (!x)
                return NULL;
        /* Both are the caller's children: killed and reaped here, no zombie left. The helper
         * first: once it is gone, the command's pidfd is on the socket if it was ever sent (the
         * helper may have exited before its end was seen), and a command whose helper died
         * before sending it is a stray (strays_reap()). */
        if (x->helper_pidfd >= 0) {
                int fds[2] = {-EBADF, -EBADF}, r;
                size_t n = x->tty ? 2 : 1;

                (void) poll(&(struct pollfd){.fd = x->helper_pidfd, .events = POLLIN}, 1, HELPER_FINISH_MS);
                (void) syscall(SYS_pidfd_send_signal, x->helper_pidfd, SIGKILL, NULL, 0);
                (void) waitid((idtype_t) P_PIDFD, (id_t) x->helper_pidfd, &(siginfo_t){}, WEXITED);
                close_and_reset(&x->helper_pidfd);
                r = recv_byte_fds(x->sock, fds, &n, MSG_DONTWAIT);
                if (r >= 0 && n >= 1)
                        x->pidfd = fds[0];
                if (r >= 0 && n == 2)
                        close(fds[1]);
                helper_done(x, x->pidfd >= 0);
        }
        /* The command's session first, while the command (unreaped) keeps its id from being
         * reused: a shell's children and a terminal's background jobs go with it, as they do
         * when the instance ends (an exec cancelled by its client leaves nothing in the unit). */
        if (x->pidfd >= 0 && pidfd_get_pid(x->pidfd, &pid) >= 0)
                (void) kill_session(pid, SIGKILL);
        if (x->pidfd >= 0) {
                (void) syscall(SYS_pidfd_send_signal, x->pidfd, SIGKILL, NULL, 0);
                (void) waitid((idtype_t) P_PIDFD, (id_t) x->pidfd, &(siginfo_t){}, WEXITED);
        }
        exec_close(x);
        exec_unlink(x);
        free(x);
        return NULL;
}
