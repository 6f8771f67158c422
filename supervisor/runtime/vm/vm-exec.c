/* SPDX-License-Identifier: MIT */
#include "vm-exec.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"
#include "guest-proto.h"
#include "macro.h"
#include "socket-util.h"
#include "string-util.h"

/* One exec-output event's data, until it is all written. */
typedef struct OutChunk {
        ExecStream stream;
        uint8_t *data;
        size_t n, done;
} OutChunk;

struct VmExec {
        VmExecs *g;
        uint64_t id;
        ExecCallbacks callbacks;
        void *userdata;
        /* exec_cancel(): no callback any more; kept (and its events ignored) until its exec-exit,
         * so that they are not taken for a stranger's. */
        bool cancelled;
        bool stream, tty;
        /* A stream's relay (vm-exec.h): dups of stdio[0..2], each -EBADF once done with. */
        int in_fd;
        EventSource *in_source;
        unsigned in_credit; /* exec-input the guest may still take before it acks one */
        int out_fd[_EXEC_STREAM_MAX];
        EventSource *out_source;         /* EPOLLOUT on the head chunk's fd, while it would block */
        OutChunk out[GUEST_EXEC_WINDOW]; /* a ring: n_out held from out_head on */
        unsigned out_head, n_out;
        bool exited; /* its exec-exit came: exited() once the output held is written */
        ExecResult result;
        struct VmExec *next;
};

struct VmExecs {
        Event *event;
        VmExecsOwner owner;
        VmExec *execs;
        uint64_t last_id;
};

static void send_cmd(VmExecs *g, json_t *msg) {
        g->owner.send(msg, g->owner.userdata);
}

static void note(VmExecs *g, const char *fmt, ...) _printf_(2, 3);
static void note(VmExecs *g, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        s = xvasprintf(fmt, ap);
        va_end(ap);
        g->owner.note(s, g->owner.userdata);
}

VmExecs *vm_execs_new(Event *e, const VmExecsOwner *owner) {
        VmExecs *g = xzalloc(sizeof(VmExecs));

        *g = (VmExecs){.event = e, .owner = *owner};
        return g;
}

/* Its fds, watches and what it holds: a stream relays nothing more. */
static void relay_close(VmExec *x) {
        x->in_source = event_source_free(x->in_source);
        x->out_source = event_source_free(x->out_source);
        close_and_reset(&x->in_fd);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                close_and_reset(&x->out_fd[s]);
        for (; x->n_out > 0; x->n_out--) {
                free(x->out[x->out_head].data);
                x->out_head = (x->out_head + 1) % ELEMENTSOF(x->out);
        }
}

static void exec_unlink(VmExec *x) {
        for (VmExec **p = &x->g->execs; *p; p = &(*p)->next)
                if (*p == x) {
                        *p = x->next;
                        return;
                }
}

static void exec_free(VmExec *x) {
        exec_unlink(x);
        relay_close(x);
        free((char *) x->result.error);
        free(x);
}

/* The last callback: x leaves the list first, so that nothing the callback does finds it. */
static void exec_end(VmExec *x, const ExecResult *result) {
        exec_unlink(x);
        if (!x->cancelled)
                x->callbacks.exited(result, x->userdata);
        exec_free(x);
}

static void in_watch(VmExec *x);

static void on_in(EventSource *s, int fd, uint32_t revents, void *userdata) {
        VmExec *x = userdata;
        uint8_t buf[GUEST_EXEC_CHUNK];
        ssize_t n = read(x->in_fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n > 0) {
                x->in_credit--;
                send_cmd(x->g, guest_exec_input_to_json(x->id, buf, (size_t) n));
        } else {
                /* The end of the input (or a read error, which ends it as well). */
                x->in_source = event_source_free(x->in_source);
                close_and_reset(&x->in_fd);
                send_cmd(x->g, guest_exec_input_close_to_json(x->id));
        }
        in_watch(x);
}

/* Read only while the guest's input window is open: a client that types faster than the command
 * reads waits in its own write. */
static void in_watch(VmExec *x) {
        bool want = x->in_fd >= 0 && x->in_credit > 0;

        if (want && !x->in_source && event_add_io(x->g->event, &x->in_source, x->in_fd, EPOLLIN, on_in, x) < 0) {
                note(x->g, "exec %" PRIu64 ": cannot watch its input; closed", x->id);
                close_and_reset(&x->in_fd);
                send_cmd(x->g, guest_exec_input_close_to_json(x->id));
        } else if (!want)
                x->in_source = event_source_free(x->in_source);
}

static void out_pump(VmExec *x);

static void on_out(EventSource *s, int fd, uint32_t revents, void *userdata) {
        VmExec *x = userdata;

        x->out_source = event_source_free(x->out_source);
        out_pump(x);
}

/* Writes the chunks held, in the order they came, each acked once it is all out; then, after the
 * last, exited(). */
static void out_pump(VmExec *x) {
        while (x->n_out > 0) {
                OutChunk *c = &x->out[x->out_head];
                int *fd = &x->out_fd[x->tty ? EXEC_STDOUT : c->stream];
                ssize_t k = *fd < 0 ? (ssize_t) (c->n - c->done) : write(*fd, c->data + c->done, c->n - c->done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        if (!x->out_source && event_add_io(x->g->event, &x->out_source, *fd, EPOLLOUT, on_out, x) >= 0)
                                return;
                        note(x->g, "exec %" PRIu64 ": cannot watch its %s; its output is dropped", x->id,
                             exec_stream_to_string(c->stream));
                        k = -1;
                }
                if (k < 0) {
                        /* The reader has gone: what comes for it is dropped, the command goes on. */
                        close_and_reset(fd);
                        continue;
                }
                c->done += (size_t) k;
                if (c->done < c->n)
                        continue;
                c->data = (free(c->data), NULL);
                x->out_head = (x->out_head + 1) % ELEMENTSOF(x->out);
                x->n_out--;
                if (!x->exited)
                        send_cmd(x->g, guest_exec_ack_to_json(x->id));
        }
        if (x->exited)
                exec_end(x, &x->result);
}

int vm_execs_start(VmExecs *g, const ExecRequest *req, const ExecCallbacks *callbacks, void *userdata, VmExec **ret,
                   SupError **ret_error) {
        VmExec *x;

        if (!req->argv || !req->argv[0])
                return sup_error_make(ret_error, -EINVAL, "exec: no command");
        x = xzalloc(sizeof(VmExec));
        *x = (VmExec){
                .g = g,
                .id = ++g->last_id,
                .callbacks = *callbacks,
                .userdata = userdata,
                .stream = req->stream,
                .tty = req->stream && req->tty,
                .in_fd = -EBADF,
                .out_fd = {-EBADF, -EBADF},
                .in_credit = GUEST_EXEC_WINDOW,
                .next = g->execs,
        };
        if (req->stream) {
                /* Dups: the caller's fds stay the caller's (exec.h). */
                int fds[3];
                for (size_t i = 0; i < 3; i++) {
                        fds[i] = req->stdio[i] < 0 || (x->tty && i == 2) ? -EBADF
                                                                         : fcntl(req->stdio[i], F_DUPFD_CLOEXEC, 3);
                        if (req->stdio[i] >= 0 && !(x->tty && i == 2) &&
                            (fds[i] < 0 || fd_set_nonblock(fds[i], 1) < 0)) {
                                int r = -errno;
                                for (size_t j = 0; j <= i; j++)
                                        close_and_reset(&fds[j]);
                                free(x);
                                return sup_error_make(ret_error, r, "exec: cannot take its stdio: %s", strerror(-r));
                        }
                }
                x->in_fd = fds[0];
                x->out_fd[EXEC_STDOUT] = fds[1];
                x->out_fd[EXEC_STDERR] = fds[2];
        }
        g->execs = x;
        send_cmd(g, guest_exec_to_json(x->id, req));
        if (x->stream && x->in_fd < 0)
                send_cmd(g, guest_exec_input_close_to_json(x->id));
        in_watch(x);
        *ret = x;
        return 0;
}

static void on_output(VmExec *x, GuestExecEvent *ev) {
        OutChunk *c;

        if (x->cancelled || x->exited)
                return; /* what came before the guest had its exec-kill; or a guest out of turn */
        if (!x->stream) {
                /* Taken: the guest may send the next piece (guest-proto.h: the exec's window). */
                send_cmd(x->g, guest_exec_ack_to_json(x->id));
                if (x->callbacks.output)
                        x->callbacks.output(ev->stream, (const char *) ev->data, ev->n, x->userdata);
                return;
        }
        if (x->n_out >= GUEST_EXEC_WINDOW) {
                note(x->g, "the guest's agent sent exec %" PRIu64 " output beyond its window; dropped", x->id);
                return;
        }
        c = &x->out[(x->out_head + x->n_out++) % ELEMENTSOF(x->out)];
        *c = (OutChunk){.stream = ev->stream, .data = TAKE_PTR(ev->data), .n = ev->n};
        if (x->n_out == 1 && !x->out_source)
                out_pump(x);
}

void vm_execs_event(VmExecs *g, const json_t *msg) {
        GuestExecEvent ev;
        VmExec *x = NULL;

        if (guest_exec_event_from_json(msg, &ev) < 0) {
                note(g, "the guest's agent sent a malformed exec event; ignored");
                return;
        }
        for (VmExec *p = g->execs; p; p = p->next)
                if (p->id == ev.id)
                        x = p;
        if (!x) {
                note(g, "the guest's agent sent an event of exec %" PRIu64 ", which is not running; ignored", ev.id);
                guest_exec_event_done(&ev);
                return;
        }
        switch (ev.type) {
        case GUEST_EXEC_EVENT_OUTPUT:
                on_output(x, &ev);
                break;
        case GUEST_EXEC_EVENT_INPUT_ACK:
                x->in_credit = MIN(x->in_credit + 1, GUEST_EXEC_WINDOW);
                in_watch(x);
                break;
        case GUEST_EXEC_EVENT_EXIT:
                if (x->exited)
                        break;
                /* The guest has forgotten the id: no more input for it. The output it sent before
                 * is written first. */
                x->exited = true;
                x->result = ev.result;
                ev.result.error = NULL;
                x->in_source = event_source_free(x->in_source);
                close_and_reset(&x->in_fd);
                if (!x->out_source)
                        out_pump(x);
                break;
        case _GUEST_EXEC_EVENT_MAX:
        case _GUEST_EXEC_EVENT_INVALID:
                break;
        }
        guest_exec_event_done(&ev);
}

void vm_execs_fail_all(VmExecs *g) {
        while (g->execs)
                exec_end(g->execs, &(ExecResult){.code = -1, .signal = SIGKILL});
}

VmExecs *vm_execs_free(VmExecs *g) {
        if (!g)
                return NULL;
        vm_execs_fail_all(g);
        free(g);
        return NULL;
}

VmExec *vm_exec_cancel(VmExec *x) {
        if (!x)
                return NULL;
        x->cancelled = true;
        relay_close(x);
        /* After its exec-exit the guest has forgotten it: only the output held was left. */
        if (x->exited)
                exec_free(x);
        else
                send_cmd(x->g, guest_exec_kill_to_json(x->id));
        return NULL;
}

int vm_exec_resize(VmExec *x, unsigned short rows, unsigned short cols) {
        if (!x->tty)
                return -ENOTTY;
        if (!x->exited && !x->cancelled)
                send_cmd(x->g, guest_exec_resize_to_json(x->id, rows, cols));
        return 0;
}
