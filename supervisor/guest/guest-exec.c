/* SPDX-License-Identifier: MIT */
/* Execs in the running unit: forked as the workload is and set up by the same code
 * (workload_exec_request()) in the workload's root, which is sup-init's own since the switch. The
 * output goes to the host as agent events, a GUEST_EXEC_CHUNK at a time and at most
 * GUEST_EXEC_WINDOW unacknowledged: while the host has not taken them, the command's pipe (or its
 * terminal) is not read and the command waits in its write, so that neither the workload's output
 * port nor the agent's other events queue behind a chatty exec. One read per event while it runs,
 * as for the workload's output: epoll then takes turns among the ready pipes. A streamed exec's
 * input comes the other way under the same window: at most GUEST_EXEC_WINDOW chunks held, each
 * acknowledged once its command has read it. */
#include "guest-exec.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "process-util.h"
#include "socket-util.h"
#include "string-util.h"
#include "workload.h"

typedef struct InputChunk {
        uint8_t *data;
        size_t n, done;
} InputChunk;

/* An exec, from its fork until its exec-exit is sent. */
typedef struct Exec {
        GuestExecs *g;
        uint64_t id;
        pid_t pid; /* 0 once reaped */
        int code, signal;
        bool stream, tty;
        bool killed; /* exec-kill (or the host left): its output is read and dropped */
        /* The read ends of its stdout and stderr (with a terminal: the pty's master as stdout,
         * no stderr), until drained. */
        int fd[_EXEC_STREAM_MAX];
        EventSource *source[_EXEC_STREAM_MAX];
        int error_fd;    /* its setup error, if it could not be executed */
        unsigned credit; /* output events it may send before the host acks one */
        /* A stream's input: its stdin pipe's write end, or a dup of the pty's master (closing it
         * leaves the terminal to the output); -EBADF once closed. */
        int input_fd;
        EventSource *input_source;
        InputChunk input[GUEST_EXEC_WINDOW]; /* a ring: n_input held from input_head on */
        unsigned input_head, n_input;
        bool input_closing; /* exec-input-close: input_fd goes once what is held is written */
        struct Exec *next;
} Exec;

struct GuestExecs {
        Event *event;
        const GuestRun *run;
        GuestExecOwner owner;
        bool connected;
        Exec *execs;
        unsigned n_execs;
};

static void say(GuestExecs *g, const char *fmt, ...) _printf_(2, 3);
static void say(GuestExecs *g, const char *fmt, ...) {
        char buf[256];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        g->owner.say(buf, g->owner.userdata);
}

static void send_event(GuestExecs *g, json_t *msg) {
        g->owner.send(msg, g->owner.userdata);
}

GuestExecs *guest_execs_new(Event *e, const GuestRun *run, const GuestExecOwner *owner) {
        GuestExecs *g = xzalloc(sizeof(GuestExecs));

        *g = (GuestExecs){.event = e, .run = run, .owner = *owner, .connected = true};
        return g;
}

/* The input held is dropped, acked (for the host's window: it was taken, nobody will read it) or
 * not (the exec is going: the host stops at its exec-exit anyway). */
static void input_drop(Exec *x, bool ack) {
        for (; x->n_input > 0; x->n_input--) {
                InputChunk *c = &x->input[x->input_head];
                c->data = (free(c->data), NULL);
                x->input_head = (x->input_head + 1) % GUEST_EXEC_WINDOW;
                if (ack)
                        send_event(x->g, guest_event_exec_input_ack(x->id));
        }
}

static void input_close(Exec *x) {
        x->input_source = event_source_free(x->input_source);
        close_and_reset(&x->input_fd);
}

static void exec_free(Exec *x) {
        GuestExecs *g = x->g;

        for (Exec **p = &g->execs; *p; p = &(*p)->next)
                if (*p == x) {
                        *p = x->next;
                        break;
                }
        g->n_execs--;
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++) {
                x->source[s] = event_source_free(x->source[s]);
                close_and_reset(&x->fd[s]);
        }
        input_drop(x, false);
        input_close(x);
        close_and_reset(&x->error_fd);
        free(x);
}

/* Reaped and drained: its end goes out after its last output. */
static void exec_maybe_finish(Exec *x) {
        char err[WORKLOAD_ERR_MAX + 1];
        ExecResult result = {.code = x->signal ? -1 : x->code, .signal = x->signal};
        ssize_t n;

        if (x->pid != 0 || x->fd[EXEC_STDOUT] >= 0 || x->fd[EXEC_STDERR] >= 0)
                return;
        n = read(x->error_fd, err, sizeof(err) - 1);
        if (n > 0) {
                err[n] = 0;
                result.error = err;
        }
        send_event(x->g, guest_event_exec_exit(x->id, &result));
        exec_free(x);
}

/* Output nobody will take (the exec was killed, or the host is away) is read without a window and
 * dropped. */
static bool exec_dropping(const Exec *x) {
        return x->killed || !x->g->connected;
}

static void exec_watch(Exec *x, ExecStream s);

/* Reads what the window allows: one piece while the command runs (the next comes with the next
 * event), all that is there once it has been reaped. An empty pipe of a reaped command is done:
 * what its background children write later is not waited for. A pty's master reads EIO once no
 * process holds its slave: its end of file. */
static void exec_pump(Exec *x, ExecStream s) {
        char buf[GUEST_EXEC_CHUNK];

        while (x->fd[s] >= 0 && (x->credit > 0 || exec_dropping(x))) {
                ssize_t n = read(x->fd[s], buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n > 0) {
                        if (!exec_dropping(x)) {
                                x->credit--;
                                send_event(x->g, guest_event_exec_output(x->id, s, buf, (size_t) n));
                        }
                        if (x->pid != 0)
                                break;
                        continue;
                }
                if (n < 0 && errno == EAGAIN && x->pid != 0)
                        break;
                x->source[s] = event_source_free(x->source[s]);
                close_and_reset(&x->fd[s]);
        }
        exec_watch(x, s);
}

static void on_exec_output(EventSource *src, int fd, uint32_t revents, void *userdata) {
        Exec *x = userdata;

        exec_pump(x, fd == x->fd[EXEC_STDOUT] ? EXEC_STDOUT : EXEC_STDERR);
        exec_maybe_finish(x);
}

/* Watched only while it runs and has a window: a pipe with data that may not be read yet would
 * wake the loop for nothing (level-triggered). */
static void exec_watch(Exec *x, ExecStream s) {
        bool want = x->fd[s] >= 0 && x->pid != 0 && (x->credit > 0 || exec_dropping(x));

        if (want && !x->source[s] && event_add_io(x->g->event, &x->source[s], x->fd[s], EPOLLIN, on_exec_output, x) < 0)
                say(x->g, "exec %" PRIu64 ": cannot watch its output", x->id);
        else if (!want)
                x->source[s] = event_source_free(x->source[s]);
}

static void input_pump(Exec *x);

static void on_exec_input(EventSource *src, int fd, uint32_t revents, void *userdata) {
        input_pump(userdata);
}

/* Writes what is held, in order, acking each chunk once it is all written; waits for room
 * (EPOLLOUT) while the command does not read. A command that closed its stdin (EPIPE; a pty
 * whose slave is gone: EIO) takes no more: what is held and what comes is acked and dropped. */
static void input_pump(Exec *x) {
        while (x->n_input > 0 && x->input_fd >= 0) {
                InputChunk *c = &x->input[x->input_head];
                ssize_t k = write(x->input_fd, c->data + c->done, c->n - c->done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        break;
                if (k < 0) {
                        input_close(x);
                        break;
                }
                c->done += (size_t) k;
                if (c->done < c->n)
                        continue;
                c->data = (free(c->data), NULL);
                x->input_head = (x->input_head + 1) % GUEST_EXEC_WINDOW;
                x->n_input--;
                send_event(x->g, guest_event_exec_input_ack(x->id));
        }
        if (x->input_fd < 0)
                input_drop(x, true);
        else if (x->n_input == 0 && x->input_closing)
                input_close(x);
        else if (x->n_input > 0 && !x->input_source &&
                 event_add_io(x->g->event, &x->input_source, x->input_fd, EPOLLOUT, on_exec_input, x) < 0) {
                say(x->g, "exec %" PRIu64 ": cannot watch its input", x->id);
                input_close(x);
                input_drop(x, true);
        } else if (x->n_input == 0)
                x->input_source = event_source_free(x->input_source);
}

static void exec_refuse(GuestExecs *g, uint64_t id, const char *why) {
        send_event(g, guest_event_exec_exit(id, &(ExecResult){.code = 126, .error = why}));
}

/* A new pty of the guest's (the workload's root's devpts, through its /dev/ptmx) of the given
 * size; its slave by TIOCGPTPEER, which needs no path of the slave in this root. */
static int open_pty(unsigned short rows, unsigned short cols, int *ret_master, int *ret_slave) {
        struct winsize ws = {.ws_row = rows, .ws_col = cols};
        _cleanup_close_ int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        int s;

        if (m < 0 || unlockpt(m) < 0 || ioctl(m, TIOCSWINSZ, &ws) < 0)
                return -errno;
        s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s < 0)
                return -errno;
        *ret_master = TAKE_FD(m);
        *ret_slave = s;
        return 0;
}

/* What the child gets and what sup-init keeps: fds[] are the child's stdin, stdout, stderr (stdin
 * -EBADF: /dev/null) and keep[] the read ends of its stdout and stderr and the input's end. */
enum { CHILD_IN, CHILD_OUT, CHILD_ERR, KEEP_OUT, KEEP_ERR, KEEP_IN, _STDIO_MAX };

static int make_stdio(const ExecRequest *req, int fds[_STDIO_MAX]) {
        int p[2];

        if (req->stream && req->tty) {
                int r = open_pty(req->rows, req->cols, &fds[KEEP_OUT], &fds[CHILD_IN]);
                if (r < 0)
                        return r;
                fds[CHILD_OUT] = fcntl(fds[CHILD_IN], F_DUPFD_CLOEXEC, 3);
                fds[CHILD_ERR] = fcntl(fds[CHILD_IN], F_DUPFD_CLOEXEC, 3);
                /* A dup of the master, so that input and output have a watch each. */
                fds[KEEP_IN] = fcntl(fds[KEEP_OUT], F_DUPFD_CLOEXEC, 3);
                return fds[CHILD_OUT] < 0 || fds[CHILD_ERR] < 0 || fds[KEEP_IN] < 0 ? -errno : 0;
        }
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        fds[KEEP_OUT] = p[0], fds[CHILD_OUT] = p[1];
        if (req->merge_stderr) {
                fds[CHILD_ERR] = fcntl(fds[CHILD_OUT], F_DUPFD_CLOEXEC, 3);
                if (fds[CHILD_ERR] < 0)
                        return -errno;
        } else {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return -errno;
                fds[KEEP_ERR] = p[0], fds[CHILD_ERR] = p[1];
        }
        if (req->stream) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return -errno;
                fds[CHILD_IN] = p[0], fds[KEEP_IN] = p[1];
        }
        return 0;
}

static void exec_start(GuestExecs *g, const json_t *msg, bool command_runs) {
        _cleanup_(guest_exec_done) GuestExec e = {};
        _cleanup_sup_error_ SupError *error = NULL;
        int fds[_STDIO_MAX], status[2] = {-EBADF, -EBADF};
        Exec *x;
        pid_t pid;
        int r;

        for (size_t i = 0; i < _STDIO_MAX; i++)
                fds[i] = -EBADF;
        if (guest_exec_from_json(msg, &e, &error) < 0) {
                if (e.id > 0)
                        exec_refuse(g, e.id, sup_error_message(error));
                else
                        send_event(g, guest_event_refused(sup_error_message(error)));
                return;
        }
        for (x = g->execs; x; x = x->next)
                if (x->id == e.id) {
                        exec_refuse(g, e.id, "exec: the id is taken by an exec that runs");
                        return;
                }
        if (g->n_execs >= GUEST_EXEC_MAX || !command_runs) {
                exec_refuse(g, e.id, !command_runs ? "exec: the unit's command has ended" : "exec: too many at once");
                return;
        }
        r = make_stdio(&e.req, fds);
        if (r < 0 || pipe2(status, O_CLOEXEC) < 0) {
                exec_refuse(g, e.id, e.req.tty ? "exec: cannot open a terminal" : "exec: cannot create its pipes");
                goto close;
        }
        pid = fork();
        if (pid < 0) {
                exec_refuse(g, e.id, "exec: cannot fork");
                goto close;
        }
        if (pid == 0) {
                /* Like the workload: forked from sup-init, not dumpable until its execve(), and
                 * every other fd of sup-init's is close-on-exec. A new session of its own
                 * (workload_exec()): exec-kill finds what it started by that. */
                char err[WORKLOAD_ERR_MAX];
                r = workload_exec_request(g->run->spec, &e.req, false, fds[CHILD_IN], fds[CHILD_OUT], fds[CHILD_ERR],
                                          g->run->rlimits, g->run->seccomp, err);
                (void) !write(status[1], err, strlen(err));
                _exit(workload_exit_code(r));
        }
        x = xzalloc(sizeof(Exec));
        *x = (Exec){
                .g = g,
                .id = e.id,
                .pid = pid,
                .stream = e.req.stream,
                .tty = e.req.stream && e.req.tty,
                .fd = {fds[KEEP_OUT], fds[KEEP_ERR]},
                .error_fd = status[0],
                .credit = GUEST_EXEC_WINDOW,
                .input_fd = fds[KEEP_IN],
                .next = g->execs,
        };
        fds[KEEP_OUT] = fds[KEEP_ERR] = fds[KEEP_IN] = status[0] = -EBADF;
        g->execs = x;
        g->n_execs++;
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                if (x->fd[s] >= 0) {
                        (void) fd_set_nonblock(x->fd[s], 1);
                        exec_watch(x, s);
                }
        if (x->input_fd >= 0)
                (void) fd_set_nonblock(x->input_fd, 1);
        (void) fd_set_nonblock(x->error_fd, 1);
close:
        for (size_t i = 0; i < _STDIO_MAX; i++)
                close_and_reset(&fds[i]);
        close_and_reset(&status[0]);
        close_and_reset(&status[1]);
}

static Exec *exec_find(GuestExecs *g, uint64_t id) {
        for (Exec *x = g->execs; x; x = x->next)
                if (x->id == id)
                        return x;
        return NULL;
}

/* The command, and the session it leads (workload_exec()'s setsid()): every process in it, also
 * those a shell with job control put in process groups of their own. Only while the command has
 * not been reaped: until then its pid, which names the session, is not reused. The command
 * itself too: a kill that comes before its setsid() finds no session yet. What its pipes still
 * hold is read and dropped now, also for a command reaped already: no ack comes for it, and the
 * exec must end (it holds one of GUEST_EXEC_MAX). */
static void exec_kill(Exec *x) {
        if (x->pid > 0) {
                (void) kill(x->pid, SIGKILL);
                (void) kill_session(x->pid, SIGKILL);
        }
        x->killed = true;
        input_drop(x, false);
        input_close(x);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                exec_pump(x, s);
}

static void exec_input(GuestExecs *g, Exec *x, GuestCommand *cmd) {
        InputChunk *c;

        if (!x->stream || x->input_closing) {
                send_event(g, guest_event_refused(!x->stream ? "exec-input: the exec has no stream"
                                                             : "exec-input: after exec-input-close"));
                return;
        }
        if (x->n_input >= GUEST_EXEC_WINDOW) {
                send_event(g, guest_event_refused("exec-input: beyond the exec's window"));
                return;
        }
        if (x->input_fd < 0) { /* the command took its last input already */
                send_event(g, guest_event_exec_input_ack(x->id));
                return;
        }
        c = &x->input[(x->input_head + x->n_input++) % GUEST_EXEC_WINDOW];
        *c = (InputChunk){.data = TAKE_PTR(cmd->data), .n = cmd->n};
        input_pump(x);
}

void guest_execs_command(GuestExecs *g, GuestCommand *cmd, const json_t *msg, bool command_runs) {
        Exec *x;

        if (cmd->type == GUEST_CMD_EXEC) {
                exec_start(g, msg, command_runs);
                return;
        }
        /* The exec may have ended while the command was on its way: nothing to do. */
        x = exec_find(g, cmd->id);
        if (!x)
                return;
        switch (cmd->type) {
        case GUEST_CMD_EXEC_ACK:
                x->credit = MIN(x->credit + 1, GUEST_EXEC_WINDOW);
                for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                        exec_pump(x, s);
                exec_maybe_finish(x);
                return;
        case GUEST_CMD_EXEC_INPUT:
                if (!x->killed)
                        exec_input(g, x, cmd);
                return;
        case GUEST_CMD_EXEC_INPUT_CLOSE:
                x->input_closing = true;
                input_pump(x);
                return;
        case GUEST_CMD_EXEC_RESIZE: {
                struct winsize ws = {.ws_row = cmd->rows, .ws_col = cmd->cols};
                /* The master's size: the kernel tells the terminal's foreground process group. */
                if (x->tty && x->fd[EXEC_STDOUT] >= 0)
                        (void) ioctl(x->fd[EXEC_STDOUT], TIOCSWINSZ, &ws);
                return;
        }
        case GUEST_CMD_EXEC_KILL:
                exec_kill(x);
                exec_maybe_finish(x);
                return;
        case GUEST_CMD_EXEC:
        case GUEST_CMD_RUN:
        case GUEST_CMD_PS:
        case GUEST_CMD_STOP:
        case GUEST_CMD_CLOCK:
        case GUEST_CMD_CLOCK_ADJUST:
        case GUEST_CMD_PARK:
        case _GUEST_CMD_MAX:
        case _GUEST_CMD_INVALID:
                break;
        }
}

bool guest_execs_reaped(GuestExecs *g, pid_t p, int status) {
        for (Exec *x = g->execs; x; x = x->next)
                if (x->pid == p) {
                        x->pid = 0;
                        x->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                        x->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
                        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                                exec_pump(x, s);
                        exec_maybe_finish(x);
                        return true;
                }
        return false;
}

/* The host left: whatever the execs write now is not wanted by anyone (the host ended them on its
 * side); they are killed, and drained without a window. */
void guest_execs_set_connected(GuestExecs *g, bool connected) {
        Exec *next;

        g->connected = connected;
        if (!connected)
                for (Exec *x = g->execs; x; x = next) {
                        next = x->next;
                        exec_kill(x);
                        exec_maybe_finish(x); /* may free x */
                }
}
