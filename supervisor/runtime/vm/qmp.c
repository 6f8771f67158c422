/* SPDX-License-Identifier: MIT */
#include "qmp.h"

#include <stdarg.h>
#include <sys/socket.h>

#include "alloc.h"
#include "json-conn.h"
#include "macro.h"
#include "qmp-message.h"
#include "socket-util.h"

typedef enum QmpState {
        QMP_STATE_INIT,
        QMP_STATE_CONNECTING,  /* the socket is not there yet: retrying */
        QMP_STATE_GREETING,    /* connected, waiting for the greeting */
        QMP_STATE_NEGOTIATING, /* qmp_capabilities sent */
        QMP_STATE_READY,
        QMP_STATE_CLOSED,
} QmpState;

/* connect() is retried this often while QEMU has not created its socket yet. */
#define CONNECT_RETRY_MIN (5 * USEC_PER_MSEC)
#define CONNECT_RETRY_MAX (100 * USEC_PER_MSEC)

typedef struct Pending Pending;
struct Pending {
        Qmp *qmp;
        uint64_t id;
        char *command;
        usec_t timeout;
        EventSource *timer;
        QmpCommandCallback callback;
        void *userdata;
        Pending *prev, *next;
};

typedef struct HeldEvent HeldEvent;
struct HeldEvent {
        json_t *msg;
        HeldEvent *next;
};

struct Qmp {
        Event *event;
        QmpCallbacks callbacks;
        void *userdata;
        QmpState state;

        JsonConn *conn;
        char *path; /* qmp_connect(): what is retried */
        usec_t retry_delay;
        EventSource *retry_timer;
        EventSource *handshake_timer; /* connect + greeting + negotiation share one deadline */
        EventSource *write_failed;    /* a write error, reported from the loop */
        int write_error;

        uint64_t next_id;
        Pending *pending_first, *pending_last; /* in issue order */

        /* Events not yet delivered, in arrival order: held until ready(). Once ready, an event
         * goes through the list and straight out, so the list is empty between messages. */
        HeldEvent *held_first, *held_last;
        size_t n_held;
        json_t *empty_data;

        bool have_version;
        QmpVersion version;
        char *package;
        char *close_reason;

        unsigned busy;       /* inside a callback: qmp_free() is deferred */
        bool free_requested; /* qmp_free() was called: no more callbacks, except -ECANCELED ones */
};

int qmp_new(Event *e, const QmpCallbacks *callbacks, void *userdata, Qmp **ret) {
        Qmp *q = xzalloc(sizeof(Qmp));

        q->event = e;
        if (callbacks)
                q->callbacks = *callbacks;
        q->userdata = userdata;
        q->next_id = 1;
        q->empty_data = json_object();
        if (!q->empty_data) {
                free(q);
                return -ENOMEM;
        }
        *ret = q;
        return 0;
}

static void pending_unlink(Qmp *q, Pending *p) {
        if (p->prev)
                p->prev->next = p->next;
        else
                q->pending_first = p->next;
        if (p->next)
                p->next->prev = p->prev;
        else
                q->pending_last = p->prev;
        p->prev = p->next = NULL;
}

static void pending_free(Pending *p) {
        event_source_free(p->timer);
        free(p->command);
        free(p);
}

/* Takes p off the list and runs its callback: the one place a command ends. */
static void pending_complete(Qmp *q, Pending *p, int error, json_t *result, const char *error_class,
                             const char *error_desc) {
        QmpCommandCallback cb = p->callback;
        void *userdata = p->userdata;

        pending_unlink(q, p);
        pending_free(p);
        if (cb)
                cb(q, error, result, error_class, error_desc, userdata);
}

static void held_events_clear(Qmp *q) {
        while (q->held_first) {
                HeldEvent *h = q->held_first;
                q->held_first = h->next;
                json_decref(h->msg);
                free(h);
        }
        q->held_last = NULL;
        q->n_held = 0;
}

static void qmp_destroy(Qmp *q) {
        /* Reached with no pending commands: qmp_free() failed them. */
        while (q->pending_first) {
                Pending *p = q->pending_first;
                pending_unlink(q, p);
                pending_free(p);
        }
        held_events_clear(q);
        json_conn_free(q->conn);
        event_source_free(q->retry_timer);
        event_source_free(q->handshake_timer);
        event_source_free(q->write_failed);
        json_decref(q->empty_data);
        free(q->path);
        free(q->package);
        free(q->close_reason);
        free(q);
}

static void qmp_ref(Qmp *q) {
        q->busy++;
}

static void qmp_unref(Qmp *q) {
        if (--q->busy == 0 && q->free_requested)
                qmp_destroy(q);
}

static void set_state(Qmp *q, QmpState state) {
        q->state = state;
        if (state != QMP_STATE_CONNECTING)
                q->retry_timer = event_source_free(q->retry_timer);
        if (state == QMP_STATE_READY || state == QMP_STATE_CLOSED)
                q->handshake_timer = event_source_free(q->handshake_timer);
        if (state == QMP_STATE_CLOSED) {
                q->conn = json_conn_free(q->conn);
                q->write_failed = event_source_free(q->write_failed);
        }
}

Qmp *qmp_free(Qmp *q) {
        if (!q || q->free_requested)
                return NULL;
        q->free_requested = true;
        set_state(q, QMP_STATE_CLOSED); /* JsonConn defers its own free when inside its handler */

        /* The owner's callbacks may free what userdata points to: each command hears of its end. */
        qmp_ref(q);
        while (q->pending_first)
                pending_complete(q, q->pending_first, -ECANCELED, NULL, NULL, "the QMP client was freed");
        qmp_unref(q);
        return NULL;
}

/* Delivers held events in order, until none is left or the owner freed the client. */
static void deliver_held_events(Qmp *q) {
        while (q->held_first && !q->free_requested) {
                HeldEvent *h = q->held_first;
                QmpMessage m;
                QmpEvent ev;
                const char *why;

                q->held_first = h->next;
                if (!q->held_first)
                        q->held_last = NULL;
                q->n_held--;
                /* Classified when it arrived; again here for the borrowed pointers. */
                if (qmp_message_classify(h->msg, &m, &why) >= 0 && q->callbacks.event) {
                        qmp_event_from_message(&m, q->empty_data, &ev);
                        q->callbacks.event(q, &ev, q->userdata);
                }
                json_decref(h->msg);
                free(h);
        }
}

/* Ends the connection, once: held events first (they came before the end), then every pending
 * command, then closed(). error 0: QEMU closed it. */
static void qmp_fail(Qmp *q, int error, const char *fmt, ...) _printf_(3, 4);
static void qmp_fail(Qmp *q, int error, const char *fmt, ...) {
        va_list ap;
        char *reason;

        if (q->state == QMP_STATE_CLOSED)
                return;
        va_start(ap, fmt);
        reason = xvasprintf(fmt, ap);
        va_end(ap);
        free(q->close_reason);
        q->close_reason = reason;
        set_state(q, QMP_STATE_CLOSED);

        qmp_ref(q);
        deliver_held_events(q);
        /* One at a time from the head: a callback may call qmp_free(), which takes the rest. */
        while (q->pending_first)
                pending_complete(q, q->pending_first, error == 0 ? -ECONNRESET : error, NULL, NULL, q->close_reason);
        if (!q->free_requested && q->callbacks.closed)
                q->callbacks.closed(q, error, q->close_reason, q->userdata);
        qmp_unref(q);
}

static void on_command_timeout(EventSource *s, usec_t t, void *userdata) {
        Pending *p = userdata;
        Qmp *q = p->qmp;
        char desc[256];

        /* The connection stays: QEMU may still answer, and the late reply is dropped by id. */
        snprintf(desc, sizeof(desc), "QEMU did not answer \"%s\" within %llu ms", p->command,
                 (unsigned long long) (p->timeout / USEC_PER_MSEC));
        qmp_ref(q);
        pending_complete(q, p, -ETIMEDOUT, NULL, NULL, desc);
        qmp_unref(q);
}

static void on_write_failed(EventSource *s, usec_t t, void *userdata) {
        Qmp *q = userdata;

        qmp_ref(q);
        qmp_fail(q, q->write_error, "writing to QMP failed: %s", strerror(-q->write_error));
        qmp_unref(q);
}

static int send_command(Qmp *q, const char *command, json_t *args, usec_t timeout, QmpCommandCallback callback,
                        void *userdata) {
        uint64_t id = q->next_id++;
        json_t *msg;
        Pending *p;
        int r;

        msg = qmp_message_command(command, args, id);
        if (!msg)
                return -EINVAL;
        p = xzalloc(sizeof(Pending));
        p->qmp = q;
        p->id = id;
        p->command = xstrdup(command);
        p->timeout = timeout;
        p->callback = callback;
        p->userdata = userdata;
        if (timeout != USEC_INFINITY) {
                usec_t n = now(CLOCK_MONOTONIC);
                r = event_add_time(q->event, &p->timer, timeout > USEC_INFINITY - n ? USEC_INFINITY - 1 : n + timeout,
                                   on_command_timeout, p);
                if (r < 0) {
                        json_decref(msg);
                        pending_free(p);
                        return r;
                }
        }

        r = json_conn_send(q->conn, msg);
        json_decref(msg);
        if (r == -ENOMEM) {
                pending_free(p);
                return r;
        }
        p->prev = q->pending_last;
        if (q->pending_last)
                q->pending_last->next = p;
        else
                q->pending_first = p;
        q->pending_last = p;
        if (r < 0 && !q->write_failed) {
                /* The command is queued but the socket is broken. Failing everything from here
                 * would run the owner's callbacks inside its own qmp_command() call: the loop
                 * does it on its next round instead. */
                q->write_error = r;
                if (event_add_time(q->event, &q->write_failed, 0, on_write_failed, q) < 0)
                        q->write_failed = NULL; /* the read side will see the hangup */
        }
        return 0;
}

static void on_capabilities(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                            void *userdata) {
        if (q->state != QMP_STATE_NEGOTIATING)
                return; /* the connection ended first, and said why */
        if (error < 0) {
                qmp_fail(q, -EPROTO, "QEMU refused capabilities negotiation: %s%s%s", error_class ?: "",
                         error_class ? ": " : "", error_desc ?: strerror(-error));
                return;
        }
        set_state(q, QMP_STATE_READY);
        if (q->callbacks.ready)
                q->callbacks.ready(q, q->userdata);
        deliver_held_events(q);
}

static int error_class_to_errno(const char *class) {
        /* CommandNotFound is the one a caller acts on: the command does not exist in this QEMU
         * (or is not allowed in this state). The rest say "QEMU refused", with the class. */
        return streq(class, "CommandNotFound") ? -EOPNOTSUPP : -EREMOTEIO;
}

static Pending *find_pending(Qmp *q, const json_t *id) {
        for (Pending *p = q->pending_first; p; p = p->next)
                if (qmp_message_id_is(id, p->id))
                        return p;
        return NULL;
}

static void handle_message(Qmp *q, json_t *msg) {
        const char *why = NULL;
        QmpMessage m;
        Pending *p;

        if (q->state == QMP_STATE_CLOSED)
                return;
        if (qmp_message_classify(msg, &m, &why) < 0) {
                qmp_fail(q, -EPROTO, "QMP protocol error: %s", why);
                return;
        }

        switch (m.kind) {
        case QMP_MESSAGE_GREETING:
                if (q->state != QMP_STATE_GREETING) {
                        qmp_fail(q, -EPROTO, "QMP protocol error: a second greeting");
                        return;
                }
                q->package = xstrdup(m.version.package);
                q->version = m.version;
                q->version.package = q->package;
                q->have_version = true;
                /* We never enable "oob": in-band commands are answered in order, and nothing
                 * here needs to overtake a command QEMU is busy with. */
                set_state(q, QMP_STATE_NEGOTIATING);
                (void) send_command(q, "qmp_capabilities", NULL, USEC_INFINITY, on_capabilities, NULL);
                return;

        case QMP_MESSAGE_EVENT: {
                HeldEvent *h;

                if (q->state != QMP_STATE_READY && q->n_held >= QMP_HELD_EVENTS_MAX) {
                        qmp_fail(q, -EPROTO, "QMP protocol error: more than %u events before capabilities negotiation",
                                 QMP_HELD_EVENTS_MAX);
                        return;
                }
                h = xzalloc(sizeof(HeldEvent));
                h->msg = json_incref(msg);
                if (q->held_last)
                        q->held_last->next = h;
                else
                        q->held_first = h;
                q->held_last = h;
                q->n_held++;
                if (q->state == QMP_STATE_READY)
                        deliver_held_events(q);
                return;
        }

        case QMP_MESSAGE_RETURN:
        case QMP_MESSAGE_ERROR:
                if (q->state == QMP_STATE_GREETING) {
                        qmp_fail(q, -EPROTO, "QMP protocol error: a reply before the greeting");
                        return;
                }
                if (!m.id) {
                        /* QEMU leaves the id out only when it could not read the command at all
                         * (a JSON parse error). We send every command with an id, so its input
                         * and ours are out of step, and one of our commands will never be
                         * answered: better to say so now than to let it time out. */
                        qmp_fail(q, -EPROTO, "QMP protocol error: a reply without id (%s)",
                                 m.kind == QMP_MESSAGE_ERROR ? m.error_desc : "a return value");
                        return;
                }
                p = find_pending(q, m.id);
                if (!p)
                        return; /* a command that timed out, or an id we never sent: the spec says drop it */
                if (m.kind == QMP_MESSAGE_RETURN)
                        pending_complete(q, p, 0, m.result, NULL, NULL);
                else
                        pending_complete(q, p, error_class_to_errno(m.error_class), NULL, m.error_class, m.error_desc);
                return;

        case _QMP_MESSAGE_KIND_MAX:
        case _QMP_MESSAGE_KIND_INVALID:
                break;
        }
}

static void on_conn_message(JsonConn *c, json_t *msg, void *userdata) {
        Qmp *q = userdata;

        qmp_ref(q);
        handle_message(q, msg);
        qmp_unref(q);
}

static const char *state_phrase(QmpState state) {
        switch (state) {
        case QMP_STATE_GREETING:
                return " before its greeting";
        case QMP_STATE_NEGOTIATING:
                return " during capabilities negotiation";
        case QMP_STATE_INIT:
        case QMP_STATE_CONNECTING:
        case QMP_STATE_READY:
        case QMP_STATE_CLOSED:
                break;
        }
        return "";
}

static void on_conn_close(JsonConn *c, int error, void *userdata) {
        Qmp *q = userdata;
        const char *why = json_conn_close_reason(c);

        q->conn = NULL; /* JsonConn frees itself after this call */
        qmp_ref(q);
        if (error == 0 || error == -ECONNRESET)
                /* QEMU reads QMP input one byte at a time: when it exits after "quit", the
                 * newline behind the command is still unread, and the kernel reports a reset
                 * instead of EOF. Either way everything QEMU wrote was delivered first. */
                qmp_fail(q, 0, "QEMU closed the QMP connection%s", state_phrase(q->state));
        else if ((error == -EBADMSG || error == -EMSGSIZE) && why)
                qmp_fail(q, error, "QMP protocol error (QEMU never sends this): %s", why);
        else
                qmp_fail(q, error, "reading from QMP failed: %s", strerror(-error));
        qmp_unref(q);
}

static void on_handshake_timeout(EventSource *s, usec_t t, void *userdata) {
        Qmp *q = userdata;

        qmp_ref(q);
        switch (q->state) {
        case QMP_STATE_CONNECTING:
                qmp_fail(q, -ETIMEDOUT, "QEMU's QMP socket %s did not accept a connection in time", q->path);
                break;
        case QMP_STATE_GREETING:
                qmp_fail(q, -ETIMEDOUT, "QEMU sent no QMP greeting in time");
                break;
        case QMP_STATE_NEGOTIATING:
                qmp_fail(q, -ETIMEDOUT, "QEMU did not finish QMP capabilities negotiation in time");
                break;
        case QMP_STATE_INIT:
        case QMP_STATE_READY:
        case QMP_STATE_CLOSED:
                break;
        }
        qmp_unref(q);
}

static int arm_handshake(Qmp *q, usec_t timeout) {
        usec_t n = now(CLOCK_MONOTONIC);

        if (timeout == USEC_INFINITY)
                return 0;
        return event_add_time(q->event, &q->handshake_timer,
                              timeout > USEC_INFINITY - n ? USEC_INFINITY - 1 : n + timeout, on_handshake_timeout, q);
}

static int start_conn(Qmp *q, int fd) {
        int r;

        r = json_conn_new(q->event, fd, QMP_FRAME_MAX, on_conn_message, on_conn_close, q, &q->conn);
        if (r < 0) {
                close(fd);
                return r;
        }
        json_conn_set_error_replies(q->conn, false);
        set_state(q, QMP_STATE_GREETING);
        return 0;
}

int qmp_attach(Qmp *q, int fd, usec_t timeout) {
        int r;

        if (fd < 0)
                return -EBADF;
        if (q->state != QMP_STATE_INIT || q->free_requested) {
                close(fd);
                return -EBUSY;
        }
        r = arm_handshake(q, timeout);
        if (r < 0) {
                close(fd);
                return r;
        }
        r = start_conn(q, fd);
        if (r < 0)
                q->handshake_timer = event_source_free(q->handshake_timer);
        return r;
}

/* Not there yet: no socket file, a stale one nobody listens on, or a full listen backlog. */
static bool connect_retryable(int error) {
        return error == ENOENT || error == ECONNREFUSED || error == EAGAIN;
}

/* One connect() attempt: 1 connected, 0 not yet (retry), < 0 failed. */
static int try_connect(Qmp *q) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        r = sockaddr_un_set(&sa, q->path, &len);
        if (r < 0)
                return r;
        /* Non-blocking before connect(): a QEMU whose listen backlog is full must not block the
         * loop (EAGAIN is retried like a missing socket). */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, len) < 0) {
                if (connect_retryable(errno))
                        return 0;
                return negative_errno();
        }
        r = start_conn(q, TAKE_FD(fd));
        return r < 0 ? r : 1;
}

static void on_connect_retry(EventSource *s, usec_t t, void *userdata) {
        Qmp *q = userdata;
        int r;

        qmp_ref(q);
        r = try_connect(q);
        if (r < 0)
                qmp_fail(q, r, "connecting to QMP socket %s failed: %s", q->path, strerror(-r));
        else if (r == 0) {
                q->retry_delay = MIN(q->retry_delay * 2, CONNECT_RETRY_MAX);
                event_source_set_time(q->retry_timer, now(CLOCK_MONOTONIC) + q->retry_delay);
        }
        qmp_unref(q);
}

int qmp_connect(Qmp *q, const char *path, usec_t timeout) {
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        if (q->state != QMP_STATE_INIT || q->free_requested)
                return -EBUSY;
        r = sockaddr_un_set(&sa, path, &len);
        if (r < 0)
                return r;
        q->path = xstrdup(path);
        r = try_connect(q);
        if (r == 0) {
                q->retry_delay = CONNECT_RETRY_MIN;
                r = event_add_time(q->event, &q->retry_timer, now(CLOCK_MONOTONIC) + q->retry_delay, on_connect_retry,
                                   q);
                if (r >= 0)
                        q->state = QMP_STATE_CONNECTING;
        }
        if (r >= 0)
                r = arm_handshake(q, timeout);
        if (r < 0) {
                /* Back to the start: the owner may try again, or free. */
                q->conn = json_conn_free(q->conn);
                q->retry_timer = event_source_free(q->retry_timer);
                free(q->path);
                q->path = NULL;
                q->state = QMP_STATE_INIT;
                return r;
        }
        return 0;
}

int qmp_command(Qmp *q, const char *command, json_t *args, usec_t timeout, QmpCommandCallback callback,
                void *userdata) {
        int r;

        if (!command || !*command || (args && !json_is_object(args)) || timeout == 0)
                r = -EINVAL;
        else if (q->state != QMP_STATE_READY || q->free_requested)
                r = -ENOTCONN;
        else
                r = send_command(q, command, args, timeout, callback, userdata);
        json_decref(args);
        return r;
}

bool qmp_is_ready(const Qmp *q) {
        return q->state == QMP_STATE_READY && !q->free_requested;
}

const QmpVersion *qmp_get_version(const Qmp *q) {
        return q->have_version ? &q->version : NULL;
}

const char *qmp_close_reason(const Qmp *q) {
        return q->close_reason;
}
