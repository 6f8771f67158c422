/* SPDX-License-Identifier: MIT */
/* The process driver's streamed exec (container-exec.h) against the real kernel, without a monitor:
 * a stand-in for a container's init in new mount, uts, ipc, net, cgroup and pid namespaces, whose
 * /dev/pts is a devpts of its own and /dev/ptmx its multiplexer (as rootfs.c sets them up), on the
 * host's root otherwise; the commands are the host's /bin/sh and coreutils. Each case names the
 * fault it stops. Needs root (exit 77 otherwise; SUP_TESTS_MUST_WORK=1 makes that a failure). */
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "check.h"
#include "container-exec.h"
#include "event.h"
#include "macro.h"
#include "socket-util.h"
#include "string-util.h"
#include "unit-spec.h"

/* Only against a hang: how each case ends is what it checks, never how long it took. */
#define HANG_MS 60000

typedef enum PtmxKind {
        PTMX_DEVPTS,  /* a devpts of the container's own, /dev/ptmx its multiplexer */
        PTMX_HOST,    /* no devpts of its own: /dev/ptmx is the host's devtmpfs node (c 5:2) */
        PTMX_DEVNULL, /* the container replaced /dev/ptmx with another device */
        PTMX_SLAVE,   /* with a device of its devpts that is not the multiplexer: a pty's slave */
} PtmxKind;

typedef struct Exec {
        bool done;
        ExecResult result;
        char error[512];
        size_t output_calls;
        bool keep_output;
        char *output; /* with keep_output: what came through output(), an 'E' before stderr's pieces */
        size_t output_len;
} Exec;

static Event *event;
static UnitSpec *spec;

static void on_output(ExecStream stream, const char *buf, size_t n, void *userdata) {
        Exec *x = userdata;
        x->output_calls++;
        if (!x->keep_output)
                return;
        x->output = xrealloc(x->output, x->output_len + n + 2);
        if (stream == EXEC_STDERR)
                x->output[x->output_len++] = 'E';
        memcpy(x->output + x->output_len, buf, n);
        x->output_len += n;
        x->output[x->output_len] = 0;
}

static void on_exited(const ExecResult *result, void *userdata) {
        Exec *x = userdata;
        x->done = true;
        x->result = *result;
        if (result->error)
                (void) snprintf(x->error, sizeof(x->error), "%s", result->error);
        x->result.error = result->error ? x->error : NULL;
}

static const ExecCallbacks callbacks = {.output = on_output, .exited = on_exited};

/* The stand-in init: its namespaces and mounts, then it waits until the test is gone. */
static int container_start(PtmxKind kind, int *ret_pidfd) {
        struct clone_args args = {
                .flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWPID |
                         CLONE_PIDFD,
                .exit_signal = SIGCHLD,
        };
        int pidfd = -EBADF, ready[2];
        char c;
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return -errno;
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* /proc of its own pid namespace, as a container has: $$ is then the shell's. */
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        _exit(1);
                if (kind == PTMX_DEVPTS &&
                    (mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 ||
                     mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0))
                        _exit(1);
                if (kind == PTMX_DEVNULL && mount("/dev/null", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
                        _exit(1);
                /* The master stays open in init, unlocked, so that /dev/pts/0 lives on and opens. */
                if (kind == PTMX_SLAVE) {
                        int m;
                        if (mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 ||
                            (m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY)) < 0 || ioctl(m, TIOCSPTLCK, &(int){0}) < 0 ||
                            mount("/dev/pts/0", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
                                _exit(1);
                }
                (void) !write(ready[1], "x", 1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        if (read(ready[0], &c, 1) != 1) {
                close(ready[0]);
                close(pidfd);
                return -EIO;
        }
        close(ready[0]);
        *ret_pidfd = pidfd;
        return 0;
}

static void container_stop(int pidfd) {
        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &(siginfo_t){}, WEXITED);
        close(pidfd);
}

static int start(int init_pidfd, ExecRequest *req, Exec *x, ContainerExec **ret) {
        ContainerExecConfig cfg = {.spec = spec, .init_pidfd = init_pidfd};
        _cleanup_sup_error_ SupError *error = NULL;
        int r = container_exec(event, &cfg, req, &callbacks, x, ret, &error);
        if (r < 0)
                fprintf(stderr, "container_exec: %s\n", sup_error_message(error));
        return r;
}

/* Appends what the peer has now to out (NUL-terminated); the peer is non-blocking. */
static void take(int peer, char **out, size_t *len) {
        char buf[65536];
        ssize_t n;

        while (peer >= 0 && (n = read(peer, buf, sizeof(buf))) > 0) {
                *out = xrealloc(*out, *len + (size_t) n + 1);
                memcpy(*out + *len, buf, (size_t) n);
                *len += (size_t) n;
                (*out)[*len] = 0;
        }
}

/* Runs the loop, reading the peer, until want is in the output (NULL: until the exec exited). */
static int run_until(Exec *x, int peer, char **out, size_t *len, const char *want) {
        for (int waited = 0; waited < HANG_MS; waited += 10) {
                take(peer, out, len);
                if (want ? *out && strstr(*out, want) : x->done)
                        return 0;
                if (event_run(event, 10 * USEC_PER_MSEC) < 0)
                        return -1;
        }
        fprintf(stderr, "hung waiting for %s; output so far:\n%s\n", want ?: "the exit", *out ?: "");
        return -1;
}

/* A terminal session as a client holds it: stdio[0] and stdio[1] are one socket, whose other end
 * (peer, non-blocking) the test writes the keys to and reads the terminal from (out). */
typedef struct Session {
        Exec x;
        ContainerExec *c;
        int peer;
        char *out;
        size_t len;
} Session;

static int session_start(int init, ExecRequest *req, Session *ret) {
        int s[2];

        *ret = (Session){.peer = -EBADF};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0)
                return -errno;
        req->stdio[0] = req->stdio[1] = req->stdio[2] = s[0];
        if (fd_set_nonblock(s[1], 1) < 0 || start(init, req, &ret->x, &ret->c) < 0) {
                close(s[0]), close(s[1]);
                return -1;
        }
        close(s[0]);
        ret->peer = s[1];
        return 0;
}

/* Until want is on the terminal (NULL: until the exec exited, and then all it wrote is read). */
static int session_wait(Session *s, const char *want) {
        if (run_until(&s->x, s->peer, &s->out, &s->len, want) < 0)
                return -1;
        take(s->peer, &s->out, &s->len);
        return 0;
}

static int session_send(Session *s, const char *keys) {
        return write(s->peer, keys, strlen(keys)) == (ssize_t) strlen(keys) ? 0 : -1;
}

static void session_done(Session *s) {
        if (s->peer >= 0)
                close(s->peer);
        free(s->out);
}

/* Without a terminal: the command's stdin, stdout and stderr are the caller's pipes themselves,
 * and nothing else of the host. Stops: output through the callbacks (or copied by the monitor)
 * instead of the caller's fds; stdin still /dev/null; a host fd (the helper's socket, the
 * container's pidfd) left open in the command; the exit status lost. */
static int case_stream_pipes(int init) {
        int in[2], out[2], err[2];
        char *o = NULL, *e = NULL;
        size_t ol = 0, el = 0;
        ContainerExec *c;
        Exec x = {};
        char *argv[] = {"/bin/sh", "-c", "cat; echo fds; ls /proc/$$/fd; echo oops >&2; exit 3", NULL};
        ExecRequest req = {.argv = argv, .stream = true};

        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
        req.stdio[0] = in[0], req.stdio[1] = out[1], req.stdio[2] = err[1];
        CHECK(write(in[1], "hello\n", 6) == 6);
        close(in[1]);
        CHECK(start(init, &req, &x, &c) == 0);
        close(in[0]), close(out[1]), close(err[1]);
        CHECK(fd_set_nonblock(out[0], 1) == 0 && fd_set_nonblock(err[0], 1) == 0);
        CHECK(run_until(&x, out[0], &o, &ol, NULL) == 0);
        take(out[0], &o, &ol);
        take(err[0], &e, &el);
        fprintf(stderr, "stream: code %d, stdout %s, stderr %s, error %s\n", x.result.code, o ?: "", e ?: "",
                x.result.error ?: "-");
        CHECK(x.result.code == 3 && x.result.signal == 0 && !x.result.error);
        CHECK(o && streq(o, "hello\nfds\n0\n1\n2\n"));
        CHECK(e && streq(e, "oops\n"));
        CHECK(x.output_calls == 0);
        close(out[0]), close(err[0]);
        free(o), free(e);
        return 0;
}

/* merge_stderr (a health check's output): stderr is the stdout pipe, so what the command wrote
 * comes in its order, all as stdout. Stops: two pipes read in whatever order the loop finds them
 * ready, which put a check's "cat: no such file" before or after its echo by chance (and so
 * differently in the two isolation modes). */
static int case_merged_output(int init) {
        char *argv[] = {"/bin/sh", "-c",
                        "for i in 1 2 3 4 5 6 7 8 9 10; do echo e$i >&2; echo o$i; done; ls /proc/$$/fd; "
                        "[ \"$(readlink /proc/$$/fd/1)\" = \"$(readlink /proc/$$/fd/2)\" ] && echo same",
                        NULL};
        ExecRequest req = {.argv = argv, .merge_stderr = true};
        _cleanup_free_ char *want = NULL;
        ContainerExec *c;
        Exec x = {.keep_output = true};

        CHECK(start(init, &req, &x, &c) == 0);
        CHECK(run_until(&x, -EBADF, NULL, NULL, NULL) == 0);
        fprintf(stderr, "merged: code %d, output %s\n", x.result.code, x.output ?: "");
        CHECK(x.result.code == 0 && !x.result.error);
        want = xstrdup("");
        for (int i = 1; i <= 10; i++) {
                char *w = xasprintf("%se%d\no%d\n", want, i, i);
                free(want);
                want = w;
        }
        CHECK(x.output && startswith(x.output, want));
        CHECK(streq(x.output + strlen(want), "0\n1\n2\nsame\n")); /* one pipe, nothing else */
        free(x.output);
        return 0;
}

/* A host file or terminal is refused as a streamed fd: inside the container it would be a way
 * out (a file's /proc/self/fd link, TIOCSTI into the host's session). */
static int case_stream_refuses_files(int init) {
        const char *paths[] = {"/etc/hostname", "/dev/ptmx"};
        char *argv[] = {"/bin/true", NULL};
        int p[2];

        CHECK(pipe2(p, O_CLOEXEC) == 0);
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                ExecRequest req = {.argv = argv, .stream = true};
                ContainerExec *c = NULL;
                Exec x = {};
                int fd = open(paths[i], O_RDONLY | O_NOCTTY | O_CLOEXEC);

                CHECK(fd >= 0);
                req.stdio[0] = fd, req.stdio[1] = p[1], req.stdio[2] = p[1];
                CHECK(start(init, &req, &x, &c) == -EINVAL);
                CHECK(!c);
                close(fd);
        }
        close(p[0]), close(p[1]);
        return 0;
}

/* The pty session, driven as a user would through one socket (the caller's stdio[0] and [1]).
 * Stops: a terminal of the host's devpts (or none: `tty` says "not a tty"); the size not set, or
 * a resize that does not reach it; ^C that does not reach the foreground job, or that kills the
 * shell (no controlling terminal: no job control); the master left open in the container; the
 * exit status lost. */
static int case_terminal(int init) {
        char *argv[] = {"/bin/sh", NULL};
        ExecRequest req = {.argv = argv, .stream = true, .tty = true, .rows = 30, .cols = 100};
        /* What is typed, and what the command's output then shows (never the typed line's echo). */
        const char *script[][2] = {
                {"tty\n", "/dev/pts/0\r\n"},
                {"[ \"$(stat -L -c %d /proc/self/fd/0)\" = \"$(stat -c %d /dev/pts/ptmx)\" ] && echo same\"\"dev\n",
                 "samedev\r\n"},
                {"stty size\n", "30 100\r\n"},
                {"echo ptmx-fds $(ls -l /proc/$$/fd | grep -c ptmx)\n", "ptmx-fds 0\r\n"},
                /* A job that says when it runs (a ^C before the shell read its line would only
                 * flush the line); ^C then ends it by SIGINT (130) and the shell lives on. */
                {"sh -c 'echo sl\"\"eeping; exec sleep 100'\n", "sleeping\r\n"},
                {"\003echo al\"\"ive $?\n", "alive 130\r\n"},
        };
        _cleanup_(session_done) Session s;

        CHECK(session_start(init, &req, &s) == 0);
        for (size_t i = 0; i < ELEMENTSOF(script); i++)
                CHECK(session_send(&s, script[i][0]) == 0 && session_wait(&s, script[i][1]) == 0);
        CHECK(container_exec_resize(s.c, 40, 120) == 0);
        CHECK(session_send(&s, "stty size\n") == 0 && session_wait(&s, "40 120\r\n") == 0);
        CHECK(!s.x.done);
        CHECK(session_send(&s, "exit 7\n") == 0 && session_wait(&s, NULL) == 0);
        fprintf(stderr, "terminal: code %d signal %d, error %s\n", s.x.result.code, s.x.result.signal,
                s.x.result.error ?: "-");
        CHECK(s.x.result.code == 7 && !s.x.result.error);
        CHECK(s.x.output_calls == 0);
        return 0;
}

/* A resize that comes before the helper passed the terminal on (the client's window changed
 * at once) is not lost. Stops: the request's size winning over the later one. */
static int case_terminal_early_resize(int init) {
        /* The line it waits for comes through the relay, which starts once the master came. */
        char *argv[] = {"/bin/sh", "-c", "read x; stty size", NULL};
        ExecRequest req = {.argv = argv, .stream = true, .tty = true, .rows = 30, .cols = 100};
        _cleanup_(session_done) Session s;

        CHECK(session_start(init, &req, &s) == 0);
        CHECK(container_exec_resize(s.c, 35, 90) == 0);
        CHECK(session_send(&s, "\n") == 0 && session_wait(&s, NULL) == 0);
        CHECK(s.x.result.code == 0 && s.out && streq(s.out, "\r\n35 90\r\n"));
        return 0;
}

/* Everything the command wrote reaches the caller before exited(), with the caller's side taking
 * it only as the loop runs: 100000 lines that the pty and the socket cannot hold at once. Stops:
 * exited() as soon as the command ended, with its last output still in the terminal; the relay
 * stalling once a write would block. */
static int case_terminal_drain(int init) {
        char *argv[] = {"/bin/sh", "-c", "seq 1 100000", NULL};
        const char *last = "99999\r\n100000\r\n";
        ExecRequest req = {.argv = argv, .stream = true, .tty = true};
        _cleanup_(session_done) Session s;

        CHECK(session_start(init, &req, &s) == 0 && session_wait(&s, NULL) == 0);
        fprintf(stderr, "drain: code %d, %zu bytes\n", s.x.result.code, s.len);
        CHECK(s.x.result.code == 0);
        /* Every line, as the terminal writes it (\r\n). */
        CHECK(s.len == 688895 && streq(s.out + s.len - strlen(last), last));
        return 0;
}

/* The caller's side goes away while the command writes on: the terminal hangs up (SIGHUP), as
 * when a terminal emulator closes. Stops: a command blocked for good on a terminal nobody reads,
 * and an exec that never ends. */
static int case_terminal_hangup(int init) {
        char *argv[] = {"/usr/bin/yes", NULL};
        ExecRequest req = {.argv = argv, .stream = true, .tty = true};
        _cleanup_(session_done) Session s;

        CHECK(session_start(init, &req, &s) == 0);
        close(TAKE_FD(s.peer));
        CHECK(session_wait(&s, NULL) == 0);
        fprintf(stderr, "hangup: code %d signal %d\n", s.x.result.code, s.x.result.signal);
        CHECK(s.x.result.signal == SIGHUP);
        return 0;
}

/* The command ends while a child of it that ignores SIGHUP writes on to the terminal: the exec
 * ends all the same, with the command's status. Stops: a drain that waits for the terminal to
 * fall silent or close, which this child never lets happen. */
static int case_terminal_background_writer(int init) {
        char *argv[] = {"/bin/sh", "-c", "(trap '' HUP; exec yes) & read x; exit 3", NULL};
        ExecRequest req = {.argv = argv, .stream = true, .tty = true};
        _cleanup_(session_done) Session s;

        CHECK(session_start(init, &req, &s) == 0 && session_wait(&s, "y\r\ny\r\n") == 0);
        CHECK(session_send(&s, "\n") == 0 && session_wait(&s, NULL) == 0);
        fprintf(stderr, "background writer: code %d, %zu bytes\n", s.x.result.code, s.len);
        CHECK(s.x.result.code == 3);
        return 0;
}

/* The terminal is the command's user's, as a login's is (screen and the like refuse one that is
 * not theirs). Stops: a pty left to the host's root, which the command cannot reopen. */
static int case_terminal_owner(int init) {
        char *argv[] = {"/bin/sh", "-c", "stat -L -c owner%u /proc/self/fd/0", NULL};
        ExecRequest req = {.argv = argv, .user = "65534", .stream = true, .tty = true};
        _cleanup_(session_done) Session s;

        CHECK(session_start(init, &req, &s) == 0 && session_wait(&s, NULL) == 0);
        fprintf(stderr, "owner: code %d, output %s, error %s\n", s.x.result.code, s.out ?: "", s.x.result.error ?: "-");
        CHECK(s.x.result.code == 0 && s.out && streq(s.out, "owner65534\r\n"));
        return 0;
}

/* A container whose /dev/ptmx is not its devpts's multiplexer: the host's (a pty of the host's
 * devpts would be a terminal of the host's) or another device. Refused with the reason, and no
 * command runs. */
static int case_terminal_refuses(PtmxKind kind) {
        char *argv[] = {"/bin/sh", "-c", "echo ran", NULL};
        ExecRequest req = {.argv = argv, .stream = true, .tty = true};
        _cleanup_(session_done) Session s = {.peer = -EBADF};
        int init, r;

        CHECK(container_start(kind, &init) == 0);
        r = session_start(init, &req, &s) == 0 && session_wait(&s, NULL) == 0 ? 0 : -1;
        container_stop(init);
        CHECK(r == 0);
        fprintf(stderr, "ptmx %d: code %d, error %s\n", kind, s.x.result.code, s.x.result.error ?: "-");
        CHECK(s.x.result.code == 126);
        CHECK(s.x.result.error && strstr(s.x.result.error, "not the multiplexer of a devpts"));
        CHECK(!s.out || !strstr(s.out, "ran"));
        return 0;
}

/* The pids of this thread's children now (the execs' helpers' parent, and so their commands'):
 * how many; zombies: how many of them have ended, unreaped. */
static size_t children(size_t *zombies) {
        char path[64], buf[4096];
        size_t n = 0;
        FILE *f;
        int pid;

        *zombies = 0;
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) gettid());
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fscanf(f, "%d", &pid) == 1) {
                FILE *st;
                char state = 0;
                n++;
                snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                st = fopen(path, "re");
                /* pid (comm) state: comm cannot hold ") " here (sleep, true, sup's own tests). */
                if (st && fgets(buf, sizeof(buf), st) && strstr(buf, ") "))
                        state = strstr(buf, ") ")[2];
                if (st)
                        fclose(st);
                *zombies += state == 'Z';
        }
        fclose(f);
        return n;
}

/* The stand-in init, killed, finishes exiting (its pidfd turns readable) and is reaped. Not while
 * a process of its pid namespace waits for a parent outside it to reap it: the kernel holds a pid
 * namespace's init in its exit until then (zap_pid_ns_processes()). */
static int init_exits(int pidfd) {
        (void) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        if (poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1, HANG_MS) != 1) {
                fprintf(stderr, "the container's init never finished its exit: a process of its namespace "
                                "is left unreaped\n");
                return -1; /* leaked: waiting for it would hang the test */
        }
        (void) waitid((idtype_t) P_PIDFD, (id_t) pidfd, &(siginfo_t){}, WEXITED);
        close(pidfd);
        return 0;
}

/* The helper exited having passed its command on, and the exec is cancelled before the loop saw
 * that exit (a unit's stop in the same turn of the monitor's loop cancels its health check so).
 * Stops: the command's pidfd left unread on the socket, and the command's zombie, which nobody
 * would reap, keeping the container's init from ever finishing its exit: the monitor waited for
 * it for good, and supd's shutdown gave up on that monitor (CI's test-metrics, under ASan). */
static int case_cancel_after_helper_exited(void) {
        char *argv[] = {"/bin/true", NULL};
        ExecRequest req = {.argv = argv};
        ContainerExec *c = NULL;
        size_t zombies = 0;
        Exec x = {};
        int init;

        CHECK(container_start(PTMX_DEVPTS, &init) == 0);
        CHECK(start(init, &req, &x, &c) == 0);
        /* The helper ended, unseen by the loop; its command waits for the go that only a reaped
         * helper gives (case_command_after_helper_reaped). */
        for (int waited = 0; !(children(&zombies) == 3 && zombies == 1) && waited < HANG_MS; waited += 10)
                (void) poll(NULL, 0, 10);
        CHECK(children(&zombies) == 3 && zombies == 1);
        c = container_exec_free(c);
        CHECK(!x.done);
        CHECK(children(&zombies) == 1 && zombies == 0); /* the init alone */
        CHECK(init_exits(init) == 0);
        return 0;
}

/* The command runs only once its helper has been reaped. Stops: the helper's zombie counted in the
 * instance's pids limit while the command already ran (the kernel uncharges a task when it is
 * reaped, and the caller reaps the helper when its loop comes round): a fork bomb exec'd into a
 * unit with pids: 16 stopped one fork earlier than in the unit's hyperv twin, whose guest has no
 * helper (test-hyperv's pids case, under ASan in CI). */
static int case_command_after_helper_reaped(void) {
        _cleanup_free_ char *marker = xasprintf("/tmp/sup-test-exec-ran-%d", (int) getpid());
        char *argv[] = {"/bin/touch", marker, NULL};
        ExecRequest req = {.argv = argv};
        ContainerExec *c = NULL;
        size_t zombies = 0;
        Exec x = {};
        int init;

        (void) unlink(marker);
        CHECK(container_start(PTMX_DEVPTS, &init) == 0);
        CHECK(start(init, &req, &x, &c) == 0);
        /* The helper has ended and is not reaped (the loop does not run): the command waits. */
        for (int waited = 0; !(children(&zombies) == 3 && zombies == 1) && waited < HANG_MS; waited += 10)
                (void) poll(NULL, 0, 10);
        CHECK(children(&zombies) == 3 && zombies == 1);
        (void) poll(NULL, 0, 200);
        CHECK(access(marker, F_OK) < 0 && errno == ENOENT);
        /* The loop reaps the helper: then the command runs, and ends as it should. */
        CHECK(run_until(&x, -EBADF, NULL, NULL, NULL) == 0);
        CHECK(x.result.code == 0 && x.result.signal == 0 && !x.result.error);
        CHECK(access(marker, F_OK) == 0);
        (void) unlink(marker);
        CHECK(children(&zombies) == 1 && zombies == 0); /* the init alone: both reaped */
        CHECK(init_exits(init) == 0);
        return 0;
}

/* A command whose helper died between forking it and passing its pidfd on (a helper killed
 * there with the instance's cgroup, or by the OOM killer) is a child of the caller that no exec
 * knows: the next helper to end without a command looks for such strays, and kills and reaps
 * them. Stops: the stray keeping the init from its exit, as above; and the look killing a
 * command that an exec knows, or the init. */
static int case_stray_reaped(void) {
        char *sleep_argv[] = {"/bin/sh", "-c", "echo up; exec sleep 100", NULL}, *sh_argv[] = {"/bin/sh", NULL};
        ExecRequest known = {.argv = sleep_argv}, refused = {.argv = sh_argv, .stream = true, .tty = true};
        _cleanup_(session_done) Session s = {.peer = -EBADF};
        ContainerExec *c = NULL;
        size_t zombies;
        Exec x = {};
        pid_t fake;
        int init;

        /* A container whose terminal is refused: a helper that ends without a command. */
        CHECK(container_start(PTMX_DEVNULL, &init) == 0);
        CHECK(start(init, &known, &x, &c) == 0);
        /* The known command runs, and its helper is reaped (by the loop, which took its pidfd). */
        for (int waited = 0; !(x.output_calls > 0 && children(&zombies) == 2) && waited < HANG_MS; waited += 10)
                CHECK(event_run(event, 10 * USEC_PER_MSEC) >= 0);
        CHECK(children(&zombies) == 2 && zombies == 0);
        /* The stray: forked, as a helper forks its command, into the init's pid namespace as the
         * test's child (CLONE_PARENT), by a helper that then goes without passing it on. */
        fake = fork();
        CHECK(fake >= 0);
        if (fake == 0) {
                struct clone_args args = {.flags = CLONE_PARENT};
                if (setns(init, CLONE_NEWPID) < 0)
                        _exit(1);
                pid_t pid = (pid_t) syscall(SYS_clone3, &args, sizeof(args));
                if (pid == 0) {
                        for (;;)
                                pause();
                }
                _exit(pid > 0 ? 0 : 1);
        }
        int status;
        CHECK(waitpid(fake, &status, 0) == fake && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(children(&zombies) == 3 && zombies == 0);

        CHECK(session_start(init, &refused, &s) == 0 && session_wait(&s, NULL) == 0);
        CHECK(s.x.result.code == 126);
        CHECK(children(&zombies) == 2 && zombies == 0); /* the stray is gone; the init and sleep stay */
        CHECK(!x.done);
        c = container_exec_free(c);
        CHECK(children(&zombies) == 1);
        CHECK(init_exits(init) == 0);
        return 0;
}

int main(void) {
        int init, failed = 0;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: needs root\n");
                return getenv("SUP_TESTS_MUST_WORK") && streq(getenv("SUP_TESTS_MUST_WORK"), "1") ? 1 : 77;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        if (event_new(&event) < 0)
                return 1;
        spec = unit_spec_new();
        spec->user = xstrdup("0");
        spec->working_dir = xstrdup("/");
        if (container_start(PTMX_DEVPTS, &init) < 0) {
                fprintf(stderr, "cannot start the stand-in container\n");
                return 1;
        }
        struct {
                const char *name;
                int (*run)(int init);
        } cases[] = {
                {"stream-pipes", case_stream_pipes},
                {"merged-output", case_merged_output},
                {"stream-refuses-files", case_stream_refuses_files},
                {"terminal", case_terminal},
                {"terminal-early-resize", case_terminal_early_resize},
                {"terminal-drain", case_terminal_drain},
                {"terminal-hangup", case_terminal_hangup},
                {"terminal-owner", case_terminal_owner},
                {"terminal-background-writer", case_terminal_background_writer},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = cases[i].run(init);
                fprintf(stderr, "%s: %s\n", cases[i].name, r < 0 ? "FAIL" : "ok");
                failed += r < 0;
        }
        container_stop(init);
        struct {
                const char *name;
                int (*run)(void);
        } own_init[] = {
                {"stray-reaped", case_stray_reaped},
                {"cancel-after-helper-exited", case_cancel_after_helper_exited},
                {"command-after-helper-reaped", case_command_after_helper_reaped},
        };
        for (size_t i = 0; i < ELEMENTSOF(own_init); i++) {
                int r = own_init[i].run();
                fprintf(stderr, "%s: %s\n", own_init[i].name, r < 0 ? "FAIL" : "ok");
                failed += r < 0;
        }
        for (PtmxKind k = PTMX_HOST; k <= PTMX_SLAVE; k++) {
                int r = case_terminal_refuses(k);
                fprintf(stderr, "terminal-refuses-ptmx-%d: %s\n", k, r < 0 ? "FAIL" : "ok");
                failed += r < 0;
        }
        unit_spec_free(spec);
        event_free(event);
        return failed ? 1 : 0;
}
