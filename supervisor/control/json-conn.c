/* SPDX-License-Identifier: MIT */
#include "json-conn.h"

#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "alloc.h"
#include "macro.h"
#include "socket-util.h"

/* A read() gets at least a page of room (the buffer doubles below that), so that a large frame
 * costs few reads and reallocations; the first buffer is two pages. */
#define JSON_READ_ROOM_MIN       ((size_t) 4096)
#define JSON_READ_BUFFER_INITIAL ((size_t) 8192)

struct JsonConn {
        Event *event;
        int fd;
        EventSource *io;
        EventSource *idle;
        usec_t idle_timeout;    /* from the last complete message (or the connection's start) */
        usec_t request_timeout; /* from the first byte of a message not complete yet */
        usec_t idle_since, partial_since;
        size_t max_frame;
        JsonConnMessageHandler on_message;
        JsonConnCloseHandler on_close;
        void *userdata;

        char *in;
        size_t in_used, in_size;
        char *out;
        size_t out_used, out_size;
        size_t out_soft, out_hard; /* 0: no limit (see json_conn_set_output_limits()) */
        void (*on_drained)(JsonConn *c, void *userdata);
        void *drain_userdata;

        bool closing;       /* close once out is drained */
        int closing_error;
        bool quiet_errors;  /* a bad frame closes without an error reply */
        char *close_reason; /* why fail_request() closed, for the close handler */
        unsigned busy;      /* inside a handler: freeing is deferred */
        bool free_requested;

        /* json_conn_set_fd_passing(): fds that came with the bytes being handled (SCM_RIGHTS),
         * for the next message's handler to take; closed after it. */
        size_t max_fds;
        int fds[JSON_CONN_FDS_MAX];
        size_t n_fds;
};

static void drop_fds(JsonConn *c) {
        for (size_t i = 0; i < c->n_fds; i++)
                close(c->fds[i]);
        c->n_fds = 0;
}

static void conn_destroy(JsonConn *c) {
        drop_fds(c);
        event_source_free(c->io);
        event_source_free(c->idle);
        if (c->fd >= 0)
                close(c->fd);
        free(c->in);
        free(c->out);
        free(c->close_reason);
        free(c);
}

JsonConn *json_conn_free(JsonConn *c) {
        if (!c)
                return NULL;
        if (c->busy) {
                c->free_requested = true;
                return NULL;
        }
        conn_destroy(c);
        return NULL;
}

static void conn_finish(JsonConn *c, int error) {
        c->busy++;
        if (c->on_close)
                c->on_close(c, error, c->userdata);
        c->busy--;
        conn_destroy(c);
}

/* A peer that does not read its replies gets no more of its requests served: its requests stay
 * unread (in the socket, then in its own send buffer) until it reads. */
static bool output_full(const JsonConn *c) {
        return c->out_soft > 0 && c->out_used >= c->out_soft;
}

static void arm_timeout(JsonConn *c) {
        usec_t t;

        if (!c->idle)
                return;
        t = c->idle_since + c->idle_timeout;
        if (c->in_used > 0 && c->request_timeout > 0)
                t = MIN(t, c->partial_since + c->request_timeout);
        event_source_set_time(c->idle, t);
}

static void update_events(JsonConn *c) {
        /* Closing: EPOLLOUT even when everything is written already, so that the close is
         * completed by the loop (on_io) and not left waiting for an event that never comes. */
        uint32_t ev = c->closing ? EPOLLOUT : (output_full(c) ? 0 : EPOLLIN) | (c->out_used > 0 ? EPOLLOUT : 0);
        (void) event_source_set_io_events(c->io, ev);
}

/* A connection between messages holds no buffer: supd keeps one to every monitor, and a
 * thousand idle 8 KiB read buffers were half of its memory (bench/scale.sh). */
static void drop_idle_buffers(JsonConn *c) {
        if (c->in_used == 0 && c->in) {
                free(c->in);
                c->in = NULL;
                c->in_size = 0;
        }
        if (c->out_used == 0 && c->out) {
                free(c->out);
                c->out = NULL;
                c->out_size = 0;
        }
}

/* One write of what it can of p; returns the bytes written, 0 when the socket is full, or <0. */
static ssize_t write_some(JsonConn *c, const char *p, size_t n) {
        for (;;) {
                /* send() with MSG_NOSIGNAL: a peer that went away (QEMU exiting after "quit" while
                 * a command is on its way) is an -EPIPE here, not a SIGPIPE for the whole process. */
                ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == ENOTSOCK)
                        k = write(c->fd, p, n);
                if (k >= 0)
                        return k;
                if (errno == EINTR)
                        continue;
                return errno == EAGAIN ? 0 : negative_errno();
        }
}

/* Writes what it can; returns <0 on a write error, 1 when everything is out. */
static int flush(JsonConn *c) {
        while (c->out_used > 0) {
                ssize_t n = write_some(c, c->out, c->out_used);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        return 0;
                memmove(c->out, c->out + n, c->out_used - (size_t) n);
                c->out_used -= (size_t) n;
        }
        return 1;
}

/* While a message is serialised, what is queued is written out each time this much has piled up:
 * a status of a thousand units (some 130 KB) then needs no buffer of its size, which, grown by
 * doubling between the frees of the objects just serialised, was a fifth of supd's time for it
 * (realloc and malloc_consolidate). */
#define JSON_WRITE_CHUNK ((size_t) 16384)

typedef struct OutStream {
        JsonConn *conn;
        size_t start; /* where the message begins in conn->out (0 once some of it was written) */
        bool written; /* some of it was */
        int error;    /* the first write error: what follows is only queued */
        /* The next write is tried once out_used reaches this: jansson hands over each token on
         * its own, and a try per token while the peer's socket is full was a send() each (and a
         * memmove of up to the hard limit's queue each, for a peer reading slowly). */
        size_t flush_at;
} OutStream;

static int stream_write(const char *buffer, size_t size, void *userdata) {
        OutStream *o = userdata;
        JsonConn *c = o->conn;

        if (c->out_used + size > c->out_size) {
                c->out_size = MAX(MAX(c->out_size * 2, c->out_used + size), JSON_WRITE_CHUNK);
                c->out = xrealloc(c->out, c->out_size);
        }
        memcpy(c->out + c->out_used, buffer, size);
        c->out_used += size;
        if (c->out_used >= o->flush_at && o->error == 0) {
                size_t before = c->out_used;
                int r = flush(c);
                if (r < 0)
                        o->error = r;
                o->flush_at = c->out_used + JSON_WRITE_CHUNK;
                /* What was written is gone from the buffer, of the message too. */
                o->written = o->written || before - c->out_used > o->start;
                o->start -= MIN(o->start, before - c->out_used);
        }
        return 0;
}

int json_conn_send(JsonConn *c, const json_t *msg) {
        OutStream o = {.conn = c, .start = c->out_used, .flush_at = JSON_WRITE_CHUNK};
        int r;

        if (json_dump_callback(msg, stream_write, &o, JSON_COMPACT | JSON_REAL_PRECISION(10)) < 0) {
                /* Not serialisable (nothing sup builds, e.g. nested past jansson's depth): what of
                 * it is queued goes; if some of it went out, the peer's stream is cut mid-line,
                 * and the connection with it. */
                c->out_used = o.start;
                if (o.written) {
                        c->closing = true;
                        c->closing_error = -EIO;
                        update_events(c);
                }
                return -ENOMEM;
        }
        (void) stream_write("\n", 1, &o);
        if (c->out_hard > 0 && c->out_used > c->out_hard) {
                /* Past the hard limit (replies owed to it pile up while it does not read): the
                 * connection goes, with what it did not read. */
                free(c->close_reason);
                c->close_reason = xstrdup("the peer does not read its replies");
                c->out_used = 0;
                c->closing = true;
                c->closing_error = -ENOBUFS;
                /* Its socket is full and stays so: the hang-up is what wakes the loop to finish. */
                (void) shutdown(c->fd, SHUT_RDWR);
                update_events(c);
                return -ENOBUFS;
        }
        r = o.error < 0 ? o.error : flush(c);
        if (r < 0)
                return r;
        if (c->out_used == 0) { /* the input may be mid-message here: only the output goes */
                free(c->out);
                c->out = NULL;
                c->out_size = 0;
        }
        update_events(c);
        return 0;
}

int json_conn_reply(JsonConn *c, const json_t *request, json_t *result) {
        json_t *reply = json_object();
        json_t *id = json_object_get(request, "id");
        int r;

        json_object_set(reply, "id", id ? id : json_null());
        json_object_set_new(reply, "result", result ? result : json_null());
        r = json_conn_send(c, reply);
        json_decref(reply);
        return r;
}

int json_conn_reply_error(JsonConn *c, const json_t *request, const char *code, const char *fmt, ...) {
        json_t *reply = json_object(), *id = request ? json_object_get(request, "id") : NULL;
        char *msg;
        va_list ap;
        int r;

        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        json_object_set(reply, "id", id ? id : json_null());
        json_object_set_new(reply, "error", json_pack("{s:s, s:s}", "code", code, "message", msg));
        free(msg);
        r = json_conn_send(c, reply);
        json_decref(reply);
        return r;
}

void json_conn_close_after_flush(JsonConn *c) {
        c->closing = true;
        update_events(c);
}

static void fail_request(JsonConn *c, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_request(JsonConn *c, int error, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        free(c->close_reason);
        c->close_reason = xstrdup(msg);
        if (c->quiet_errors)
                c->out_used = 0; /* nothing more goes to a peer that does not speak our protocol */
        else
                (void) json_conn_reply_error(c, NULL, "bad-request", "%s", msg);
        c->closing = true;
        c->closing_error = error;
        c->in_used = 0;
        update_events(c);
}

/* A read, or with fd passing a recvmsg() that keeps up to max_fds of the fds that came along
 * (beyond them, or on a connection without fd passing, the kernel closes them). Fds that come
 * while others wait are closed: one message's at a time. */
static ssize_t conn_read(JsonConn *c, int fd) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * JSON_CONN_FDS_MAX)];
        } control;
        struct iovec iov = {.iov_base = c->in + c->in_used, .iov_len = c->in_size - c->in_used};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = &control,
                            .msg_controllen = CMSG_SPACE(sizeof(int) * c->max_fds)};
        ssize_t n;

        if (c->max_fds == 0)
                return read(fd, iov.iov_base, iov.iov_len);
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return n;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                size_t k;
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int got;
                        memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        if (c->n_fds < c->max_fds)
                                c->fds[c->n_fds++] = got;
                        else
                                close(got);
                }
        }
        return n;
}

/* Hands every complete line to the handler. Returns false when the connection went away. */
static bool process_input(JsonConn *c) {
        for (;;) {
                char *nl;
                json_error_t err;
                json_t *msg;
                size_t len;

                /* Held back until the peer reads (the buffer then holds several requests, which
                 * is no oversized one). */
                if (!c->closing && output_full(c))
                        return true;
                nl = c->closing ? NULL : memchr(c->in, '\n', c->in_used);

                if (!nl) {
                        if (!c->closing && c->in_used > c->max_frame)
                                fail_request(c, -EMSGSIZE, "a message is longer than %zu bytes", c->max_frame);
                        return true;
                }
                len = (size_t) (nl - c->in);
                if (len > c->max_frame) {
                        fail_request(c, -EMSGSIZE, "a message is longer than %zu bytes", c->max_frame);
                        return true;
                }
                msg = json_loadb(c->in, len, JSON_REJECT_DUPLICATES, &err);
                memmove(c->in, nl + 1, c->in_used - len - 1);
                c->in_used -= len + 1;
                /* A complete message: the idle time counts from here, and what follows it is a
                 * new message, whose time counts from its first byte. */
                c->idle_since = c->partial_since = now(CLOCK_MONOTONIC);
                arm_timeout(c);
                if (len == 0)
                        continue;
                if (!msg || !json_is_object(msg)) {
                        if (msg)
                                fail_request(c, -EBADMSG, "a message must be a JSON object");
                        else
                                fail_request(c, -EBADMSG, "invalid JSON at column %d: %s", err.column, err.text);
                        json_decref(msg);
                        return true;
                }
                c->busy++;
                c->on_message(c, msg, c->userdata);
                c->busy--;
                json_decref(msg);
                /* Fds are for the message they came with: the handler took them or they go. */
                drop_fds(c);
                if (c->free_requested) {
                        conn_destroy(c);
                        return false;
                }
        }
}

static void on_io(EventSource *s, int fd, uint32_t revents, void *userdata) {
        JsonConn *c = userdata;
        int r;

        if (revents & EPOLLOUT) {
                r = flush(c);
                if (r < 0) {
                        conn_finish(c, r);
                        return;
                }
                if (r > 0 && c->closing) {
                        conn_finish(c, c->closing_error);
                        return;
                }
                if (r > 0 && c->on_drained) {
                        c->busy++;
                        c->on_drained(c, c->drain_userdata);
                        c->busy--;
                        if (c->free_requested) {
                                conn_destroy(c);
                                return;
                        }
                }
                /* Room again: the requests read but held back are served now. */
                if (!c->closing && !output_full(c) && c->in_used > 0 && !process_input(c))
                        return;
                update_events(c);
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (c->closing) {
                        if (revents & (EPOLLHUP | EPOLLERR))
                                conn_finish(c, c->closing_error);
                        return;
                }
                if (output_full(c))
                        return; /* EPOLLHUP/EPOLLERR while held back: the write side tells */
                if (c->in_size - c->in_used < JSON_READ_ROOM_MIN) {
                        c->in_size = MAX(c->in_size * 2, JSON_READ_BUFFER_INITIAL);
                        c->in = xrealloc(c->in, c->in_size);
                }
                ssize_t n = conn_read(c, fd);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        conn_finish(c, negative_errno());
                        return;
                }
                if (n == 0) {
                        conn_finish(c, 0);
                        return;
                }
                /* Bytes alone do not keep a connection: one byte now and then would hold it
                 * forever. The first byte of a message starts its request timeout. */
                if (c->in_used == 0) {
                        c->partial_since = now(CLOCK_MONOTONIC);
                        c->in_used += (size_t) n;
                        arm_timeout(c);
                } else
                        c->in_used += (size_t) n;
                if (!process_input(c))
                        return;
                if (c->closing && c->out_used == 0) {
                        conn_finish(c, c->closing_error);
                        return;
                }
        }
        drop_idle_buffers(c);
}

void json_conn_set_fd_passing(JsonConn *c, size_t max_fds) {
        c->max_fds = MIN(max_fds, (size_t) JSON_CONN_FDS_MAX);
}

size_t json_conn_take_fds(JsonConn *c, int *fds, size_t max) {
        size_t n = MIN(max, c->n_fds);

        memcpy(fds, c->fds, n * sizeof(int));
        memmove(c->fds, c->fds + n, (c->n_fds - n) * sizeof(int));
        c->n_fds -= n;
        return n;
}

static void on_idle(EventSource *s, usec_t t, void *userdata) {
        JsonConn *c = userdata;
        bool partial = c->in_used > 0 && c->request_timeout > 0 && t < c->idle_since + c->idle_timeout;

        c->out_used = 0; /* what it did not read is dropped: the error is all it gets */
        if (partial)
                (void) json_conn_reply_error(c, NULL, "timeout", "a request incomplete for %llu s: closing",
                                             (unsigned long long) (c->request_timeout / USEC_PER_SEC));
        else
                (void) json_conn_reply_error(c, NULL, "timeout", "no request for %llu s: closing",
                                             (unsigned long long) (c->idle_timeout / USEC_PER_SEC));
        /* Written or not (a peer that does not read has a full socket), the connection goes
         * now: waiting to flush to it would let it hold the connection forever. */
        conn_finish(c, -ETIMEDOUT);
}

int json_conn_new(Event *e, int fd, size_t max_frame, JsonConnMessageHandler on_message,
                  JsonConnCloseHandler on_close, void *userdata, JsonConn **ret) {
        JsonConn *c = xzalloc(sizeof(JsonConn));
        int r;

        c->event = e;
        c->fd = fd;
        c->max_frame = max_frame;
        c->on_message = on_message;
        c->on_close = on_close;
        c->userdata = userdata;
        r = fd_set_nonblock(fd, 1);
        if (r >= 0)
                r = event_add_io(e, &c->io, fd, EPOLLIN, on_io, c);
        if (r < 0) {
                conn_destroy(c);
                return r;
        }
        *ret = c;
        return 0;
}

void json_conn_set_idle_timeout(JsonConn *c, usec_t timeout, usec_t request_timeout) {
        c->idle_timeout = timeout;
        c->request_timeout = request_timeout;
        if (timeout == 0) {
                c->idle = event_source_free(c->idle);
                return;
        }
        if (!c->idle)
                (void) event_add_time(c->event, &c->idle, USEC_INFINITY, on_idle, c);
        c->idle_since = now(CLOCK_MONOTONIC);
        if (c->in_used == 0)
                c->partial_since = c->idle_since;
        arm_timeout(c);
}

void json_conn_set_output_limits(JsonConn *c, size_t soft, size_t hard) {
        c->out_soft = soft;
        c->out_hard = hard;
        update_events(c);
}

size_t json_conn_output_pending(const JsonConn *c) {
        return c->out_used;
}

void json_conn_set_drain_handler(JsonConn *c, void (*on_drained)(JsonConn *c, void *userdata), void *userdata) {
        c->on_drained = on_drained;
        c->drain_userdata = userdata;
}

void json_conn_set_error_replies(JsonConn *c, bool enabled) {
        c->quiet_errors = !enabled;
}

const char *json_conn_close_reason(const JsonConn *c) {
        return c->close_reason;
}

static int wait_fd(int fd, short events, usec_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                usec_t n = now(CLOCK_MONOTONIC);
                int ms = deadline == USEC_INFINITY ? -1 : n >= deadline ? 0 : (int) ((deadline - n + 999) / 1000);
                int r = poll(&p, 1, ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                if (r == 0)
                        return -ETIMEDOUT;
                return 0;
        }
}

int json_read_frame(int fd, char **buf, size_t *len, size_t *used, size_t max, usec_t timeout, json_t **ret) {
        usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now(CLOCK_MONOTONIC) + timeout;
        size_t scanned = 0; /* bytes known to hold no newline: each read's are searched once */

        for (;;) {
                char *nl = *buf ? memchr(*buf + scanned, '\n', *used - scanned) : NULL;
                scanned = *used;
                if (nl) {
                        json_error_t err;
                        size_t n = (size_t) (nl - *buf);
                        json_t *msg = json_loadb(*buf, n, 0, &err);
                        memmove(*buf, nl + 1, *used - n - 1);
                        *used -= n + 1;
                        if (!msg || !json_is_object(msg)) {
                                json_decref(msg);
                                return -EBADMSG;
                        }
                        *ret = msg;
                        return 0;
                }
                if (*used > max)
                        return -EMSGSIZE;
                if (*len - *used < JSON_READ_ROOM_MIN) {
                        *len = MAX(*len * 2, JSON_READ_BUFFER_INITIAL);
                        *buf = xrealloc(*buf, *len);
                }
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                ssize_t k = read(fd, *buf + *used, *len - *used);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -ECONNRESET;
                *used += (size_t) k;
        }
}

int json_write_frame(int fd, const json_t *msg) {
        _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
        size_t n, off = 0;

        if (!s)
                return -ENOMEM;
        n = strlen(s);
        s = xrealloc(s, n + 2);
        s[n++] = '\n';
        while (off < n) {
                /* send() with MSG_NOSIGNAL where fd is a socket: a server that turns the caller
                 * away and closes (supd refusing a peer) is an -EPIPE, not a silent SIGPIPE death;
                 * write() for the character devices sup-init speaks over. */
                ssize_t k = send(fd, s + off, n - off, MSG_NOSIGNAL);
                if (k < 0 && errno == ENOTSOCK)
                        k = write(fd, s + off, n - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                off += (size_t) k;
        }
        return 0;
}

int json_call(int fd, const char *method, json_t *params, usec_t timeout, json_t **ret) {
        static json_int_t next_id = 1;
        json_int_t id = next_id++;
        json_t *req = json_pack("{s:I, s:s}", "id", id, "method", method);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, used = 0;
        int r;

        if (params)
                json_object_set(req, "params", params);
        r = json_write_frame(fd, req);
        json_decref(req);
        /* A server that refused us may have answered and closed before our request was
         * through: its answer is still there to read, and says more than EPIPE. */
        if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                return r;

        for (;;) {
                json_t *msg;
                r = json_read_frame(fd, &buf, &len, &used, JSON_FRAME_MAX_REPLY, timeout, &msg);
                if (r < 0)
                        return r;
                json_t *rid = json_object_get(msg, "id");
                /* A reply with a null id is the server refusing the request as a whole. */
                if ((rid && json_is_integer(rid) && json_integer_value(rid) == id) ||
                    (json_is_null(rid) && json_object_get(msg, "error"))) {
                        *ret = msg;
                        return 0;
                }
                json_decref(msg);
        }
}
