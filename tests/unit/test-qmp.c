/* SPDX-License-Identifier: MIT */
/* The QMP client against a scripted fake QEMU on the same event loop: the fake holds one end of
 * a socketpair (or of a unix socket in a temporary directory) and plays a script of steps:
 * send bytes, expect a command, wait, hang up. The client's owner writes what it sees into a
 * transcript, one line per callback, and each test compares the transcript with what the
 * protocol promises. ASan turns "exactly once" into a checkable property: every command's
 * userdata is freed by its callback, so a missing call leaks and a second one is a double free.
 *
 * SIGPIPE keeps its default action here on purpose: a client that wrote to a vanished QEMU
 * with write() instead of send(MSG_NOSIGNAL) would kill the test. */
#include "test-helpers.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "alloc.h"
#include "json-conn.h"
#include "macro.h"
#include "qmp-message.h"
#include "qmp.h"
#include "socket-util.h"

/* ---- the fake QEMU ---- */

typedef enum StepType {
        STEP_END,
        STEP_SEND,   /* text, with $N replaced by the id of the N-th expected command (from 0),
                      * and $BIG by n bytes of 'a'; written with one write() where it fits */
        STEP_EXPECT, /* the next command the client sends is this one */
        STEP_WAIT,   /* n milliseconds, on the loop */
        STEP_CLOSE,  /* hang up, once everything sent has been written */
} StepType;

typedef struct Step {
        StepType type;
        const char *text;
        size_t n;
} Step;

#define SEND(t) \
        { STEP_SEND, (t), 0 }
#define SEND_BIG(t, n) \
        { STEP_SEND, (t), (n) }
#define EXPECT(c) \
        { STEP_EXPECT, (c), 0 }
#define WAIT(ms) \
        { STEP_WAIT, NULL, (ms) }
#define CLOSE() \
        { STEP_CLOSE, NULL, 0 }
#define END() \
        { STEP_END, NULL, 0 }

/* What QEMU 7.2 on Debian 12 sends, CRLF and all. */
#define GREETING                                                                                                 \
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian " \
        "1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define HANDSHAKE     SEND(GREETING), EXPECT("qmp_capabilities"), SEND("{\"return\": {}, \"id\": $0}\r\n")
#define STATUS_PAUSED "{\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}"
#define EV(name)      "{\"timestamp\": {\"seconds\": 1795369469, \"microseconds\": 867314}, \"event\": \"" name "\"}\r\n"

typedef struct Fake {
        Event *e;
        int fd;
        int listen_fd;
        EventSource *io, *listen_io, *timer;
        const Step *script;
        size_t step;
        char *in;
        size_t in_used, in_size;
        char *out;
        size_t out_used, out_size;
        char ids[16][64];
        size_t n_ids;
        bool peer_gone; /* the client closed its end */
        char failure[512];
} Fake;

static void fake_advance(Fake *f);

static bool fake_done(const Fake *f) {
        return f->peer_gone || f->failure[0] || f->script[f->step].type == STEP_END;
}

static void fake_hang_up(Fake *f) {
        f->io = event_source_free(f->io);
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
}

static void fake_flush(Fake *f) {
        while (f->out_used > 0 && f->fd >= 0) {
                ssize_t n = send(f->fd, f->out, f->out_used, MSG_NOSIGNAL);
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n < 0) { /* EPIPE, ECONNRESET: the client gave up on us, as it may */
                        f->peer_gone = true;
                        f->out_used = 0;
                        fake_hang_up(f);
                        return;
                }
                memmove(f->out, f->out + n, f->out_used - (size_t) n);
                f->out_used -= (size_t) n;
        }
        if (f->io)
                (void) event_source_set_io_events(f->io, EPOLLIN | (f->out_used ? EPOLLOUT : 0));
}

static void fake_append(Fake *f, const char *s, size_t n) {
        if (f->out_used + n > f->out_size) {
                f->out_size = MAX(f->out_size * 2, f->out_used + n);
                f->out = xrealloc(f->out, f->out_size);
        }
        memcpy(f->out + f->out_used, s, n);
        f->out_used += n;
}

static void fake_send(Fake *f, const Step *st) {
        for (const char *p = st->text; *p;) {
                if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
                        size_t i = (size_t) (p[1] - '0');
                        const char *id = i < f->n_ids ? f->ids[i] : "null";
                        fake_append(f, id, strlen(id));
                        p += 2;
                } else if (strneq(p, "$BIG", 4)) {
                        char *big = xmalloc(st->n);
                        memset(big, 'a', st->n);
                        fake_append(f, big, st->n);
                        free(big);
                        p += 4;
                } else {
                        fake_append(f, p, 1);
                        p++;
                }
        }
        fake_flush(f);
}

/* Takes one line the client wrote; false while there is none. */
static bool fake_expect(Fake *f, const char *command) {
        char *nl = f->in ? memchr(f->in, '\n', f->in_used) : NULL;
        json_error_t err;
        json_t *msg, *id;
        size_t len;

        if (!nl)
                return false;
        len = (size_t) (nl - f->in);
        msg = json_loadb(f->in, len, 0, &err);
        id = json_object_get(msg, "id");
        if (!msg || !json_is_string(json_object_get(msg, "execute")) ||
            !streq(json_string_value(json_object_get(msg, "execute")), command))
                snprintf(f->failure, sizeof(f->failure), "expected \"%s\", the client sent %.*s", command, (int) len,
                         f->in);
        else if (!id)
                snprintf(f->failure, sizeof(f->failure), "\"%s\" came without an id", command);
        else if (f->n_ids < ELEMENTSOF(f->ids)) {
                char *s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
                snprintf(f->ids[f->n_ids++], sizeof(f->ids[0]), "%s", s);
                free(s);
        }
        json_decref(msg);
        memmove(f->in, nl + 1, f->in_used - len - 1);
        f->in_used -= len + 1;
        return true;
}

static void on_fake_timer(EventSource *s, usec_t t, void *userdata) {
        Fake *f = userdata;
        f->timer = event_source_free(f->timer);
        f->step++;
        fake_advance(f);
}

static void fake_advance(Fake *f) {
        while (!f->failure[0] && !f->timer) {
                const Step *st = &f->script[f->step];
                switch (st->type) {
                case STEP_END:
                        return;
                case STEP_SEND:
                        if (f->fd < 0)
                                return;
                        fake_send(f, st);
                        break;
                case STEP_EXPECT:
                        if (!fake_expect(f, st->text))
                                return;
                        break;
                case STEP_WAIT:
                        assert_int_equal(event_add_time(f->e, &f->timer, now(CLOCK_MONOTONIC) + st->n * USEC_PER_MSEC,
                                                        on_fake_timer, f),
                                         0);
                        return;
                case STEP_CLOSE:
                        if (f->out_used > 0 && f->fd >= 0)
                                return; /* after the last byte is out */
                        fake_hang_up(f);
                        break;
                }
                f->step++;
        }
}

static void on_fake_io(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Fake *f = userdata;

        if (revents & EPOLLOUT)
                fake_flush(f);
        if (f->fd >= 0 && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                if (f->in_size - f->in_used < 4096) {
                        f->in_size = MAX(f->in_size * 2, (size_t) 8192);
                        f->in = xrealloc(f->in, f->in_size);
                }
                ssize_t n = read(fd, f->in + f->in_used, f->in_size - f->in_used);
                if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
                        f->peer_gone = true;
                        fake_hang_up(f);
                } else if (n > 0)
                        f->in_used += (size_t) n;
        }
        fake_advance(f);
}

static void fake_start(Fake *f, Event *e, int fd, const Step *script) {
        f->e = e;
        f->script = script;
        f->fd = fd;
        assert_int_equal(fd_set_nonblock(fd, 1), 0);
        assert_int_equal(event_add_io(e, &f->io, fd, EPOLLIN, on_fake_io, f), 0);
        fake_advance(f);
}

static void fake_done_free(Fake *f) {
        fake_hang_up(f);
        event_source_free(f->timer);
        event_source_free(f->listen_io);
        if (f->listen_fd > 0)
                close(f->listen_fd);
        free(f->in);
        free(f->out);
}

/* ---- the client's owner ---- */

typedef struct Harness Harness;
typedef struct CommandSpec {
        const char *name;
        const char *args;    /* JSON text or NULL */
        unsigned timeout_ms; /* 0: none */
} CommandSpec;

struct Harness {
        Event *e;
        Qmp *q;
        Fake fake;
        char log[65536];
        unsigned n_events;
        bool closed, freed;
        int closed_error;
        char closed_reason[512];
        const CommandSpec *on_ready; /* issued from ready(), up to an entry with no name */
        void (*after_command)(Harness *h, const char *name, int error);
        void (*after_event)(Harness *h, const QmpEvent *ev);
};

typedef struct Cmd {
        Harness *h;
        const char *name;
} Cmd;

static void logf_(Harness *h, const char *fmt, ...) _printf_(2, 3);
static void logf_(Harness *h, const char *fmt, ...) {
        size_t n = strlen(h->log);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(h->log + n, sizeof(h->log) - n, fmt, ap);
        va_end(ap);
}

static const char *errname(int error) {
        return error == 0 ? "0" : strerrorname_np(-error);
}

static char *dump(const json_t *j) {
        return json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
}

static void on_command_done(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                            void *userdata) {
        Cmd *c = userdata;
        Harness *h = c->h;
        const char *name = c->name;

        free(c);
        assert_true(q == h->q);
        if (error == 0) {
                char *s = dump(result);
                if (strlen(s) > 200)
                        logf_(h, "return %s <%zu bytes>\n", name, strlen(s));
                else
                        logf_(h, "return %s %s\n", name, s);
                free(s);
        } else if (error_class)
                logf_(h, "error %s %s %s: %s\n", name, errname(error), error_class, error_desc);
        else {
                assert_non_null(error_desc); /* our own errors say why, too */
                logf_(h, "fail %s %s\n", name, errname(error));
        }
        if (h->after_command)
                h->after_command(h, name, error);
}

static int command(Harness *h, const char *name, const char *args, unsigned timeout_ms) {
        Cmd *c = xzalloc(sizeof(Cmd));
        json_t *a = NULL;
        int r;

        c->h = h;
        c->name = name;
        if (args) {
                a = json_loads(args, 0, NULL);
                assert_non_null(a);
        }
        r = qmp_command(h->q, name, a, timeout_ms ? timeout_ms * USEC_PER_MSEC : USEC_INFINITY, on_command_done, c);
        if (r < 0)
                free(c);
        return r;
}

static void on_ready(Qmp *q, void *userdata) {
        Harness *h = userdata;
        const QmpVersion *v = qmp_get_version(q);

        assert_non_null(v);
        assert_true(qmp_is_ready(q));
        logf_(h, "ready %u.%u.%u\n", v->major, v->minor, v->micro);
        for (const CommandSpec *c = h->on_ready; c && c->name; c++)
                assert_int_equal(command(h, c->name, c->args, c->timeout_ms), 0);
}

static void on_event(Qmp *q, const QmpEvent *ev, void *userdata) {
        Harness *h = userdata;
        char *s = dump(ev->data);

        assert_true(json_is_object(ev->data));
        h->n_events++;
        logf_(h, "event %s%s%s\n", ev->name, json_object_size(ev->data) ? " " : "",
              json_object_size(ev->data) ? s : "");
        free(s);
        if (h->after_event)
                h->after_event(h, ev);
}

static void on_closed(Qmp *q, int error, const char *reason, void *userdata) {
        Harness *h = userdata;

        assert_false(h->closed);
        assert_false(qmp_is_ready(q));
        assert_int_equal(qmp_command(q, "query-status", NULL, USEC_INFINITY, on_command_done, NULL), -ENOTCONN);
        h->closed = true;
        h->closed_error = error;
        snprintf(h->closed_reason, sizeof(h->closed_reason), "%s", reason);
        assert_string_equal(reason, qmp_close_reason(q));
        logf_(h, "closed %s\n", errname(error));
        /* What an owner does: free the client from its own callback. */
        h->q = qmp_free(q);
        h->freed = true;
}

static const QmpCallbacks callbacks = {
        .ready = on_ready,
        .event = on_event,
        .closed = on_closed,
};

static void harness_init(Harness *h) {
        memset(h, 0, sizeof(*h));
        h->fake.fd = -1;
        h->fake.listen_fd = -1;
        assert_int_equal(event_new(&h->e), 0);
        assert_int_equal(qmp_new(h->e, &callbacks, h, &h->q), 0);
}

/* Client and fake on a socketpair; the handshake must finish within handshake_ms. */
static void harness_start(Harness *h, const Step *script, unsigned handshake_ms) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(qmp_attach(h->q, sv[0], handshake_ms * USEC_PER_MSEC), 0);
        fake_start(&h->fake, h->e, sv[1], script);
}

/* Until the client is gone and the fake has played its script (or lost its peer); then a little
 * longer, to catch callbacks after the end. */
static void harness_run(Harness *h) {
        usec_t deadline = now(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;

        while (!(h->freed && fake_done(&h->fake))) {
                assert_true(now(CLOCK_MONOTONIC) < deadline);
                assert_int_equal(event_run(h->e, 10 * USEC_PER_MSEC), 0);
        }
        for (int i = 0; i < 3; i++)
                assert_int_equal(event_run(h->e, 5 * USEC_PER_MSEC), 0);
        if (h->fake.failure[0])
                fail_msg("fake QEMU: %s", h->fake.failure);
}

static void harness_done(Harness *h) {
        qmp_free(h->q);
        fake_done_free(&h->fake);
        event_free(h->e);
}

static void run_script(Harness *h, const Step *script, const CommandSpec *on_ready_commands, const char *want) {
        h->on_ready = on_ready_commands;
        harness_start(h, script, 2000);
        harness_run(h);
        assert_string_equal(h->log, want);
}

/* The common test: the script against a fresh client; the transcript must be want, and the
 * reason given to closed() must contain want_reason (unless NULL). */
static void play(const Step *script, const CommandSpec *commands, const char *want, const char *want_reason) {
        Harness h;

        harness_init(&h);
        run_script(&h, script, commands, want);
        if (want_reason && !strstr(h.closed_reason, want_reason))
                fail_msg("reason \"%s\" lacks \"%s\"", h.closed_reason, want_reason);
        harness_done(&h);
}

static const CommandSpec query_status[] = {{"query-status"}, {}};

/* ---- the tests ---- */

static void test_handshake_then_query_status(void **state) {
        /* Guards the basic life: greeting (version recorded), qmp_capabilities with an id before
         * anything else, ready, a command answered by id, and an orderly EOF. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $1}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        run_script(&h, script, query_status,
                   "ready 7.2.22\n"
                   "return query-status {\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}\n"
                   "closed 0\n");
        assert_int_equal(h.fake.n_ids, 2);
        assert_string_not_equal(h.fake.ids[0], h.fake.ids[1]); /* every command its own id */
        assert_non_null(strstr(h.closed_reason, "QEMU closed the QMP connection"));
        harness_done(&h);
}

static void test_version_is_recorded(void **state) {
        /* Guards qmp_get_version(): the runtime decides what it may ask of QEMU from it. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                WAIT(1),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        assert_null(qmp_get_version(h.q));
        harness_start(&h, script, 2000);
        while (!fake_done(&h.fake) || !qmp_is_ready(h.q))
                assert_int_equal(event_run(h.e, 10 * USEC_PER_MSEC), 0);
        assert_int_equal(qmp_get_version(h.q)->major, 7);
        assert_int_equal(qmp_get_version(h.q)->minor, 2);
        assert_int_equal(qmp_get_version(h.q)->micro, 22);
        assert_string_equal(qmp_get_version(h.q)->package, "Debian 1:7.2+dfsg-7+deb12u18+b3");
        assert_null(qmp_close_reason(h.q));
        harness_done(&h); /* freed while connected and idle: no callback */
}

static void test_events_before_greeting_and_during_negotiation(void **state) {
        /* Guards "never swallowed": QEMU sends no events before negotiation, but if something
         * does, they are held and come right after ready(), in order, not dropped and not taken
         * for a protocol error. */
        /* clang-format off */
        static const Step script[] = {
                SEND(EV("STOP")),
                SEND(GREETING),
                EXPECT("qmp_capabilities"),
                SEND(EV("RESUME")),
                WAIT(20),
                SEND("{\"return\": {}, \"id\": $0}\r\n"),
                EXPECT("query-status"),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $1}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        play(script, query_status,
             "ready 7.2.22\n"
             "event STOP\n"
             "event RESUME\n"
             "return query-status {\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}\n"
             "closed 0\n",
             NULL);
}

static void test_event_between_command_and_reply(void **state) {
        /* Guards the classic bug of a client that waits for "its" reply and throws away what
         * comes before it: the event arrives on its own, while the reply is awaited. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND(EV("STOP")),
                WAIT(20),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $1}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        play(script, query_status,
             "ready 7.2.22\n"
             "event STOP\n"
             "return query-status {\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}\n"
             "closed 0\n",
             NULL);
}

static void test_coalesced_and_split_frames(void **state) {
        /* Guards framing: QEMU writes an event and the reply that caused it in one go ("stop"
         * gives STOP then the return), so several frames come in one read and must all be
         * taken, in order; and one frame may be cut across two reads. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("stop"),
                SEND(EV("STOP") "{\"return\": {}, \"id\": $1}\r\n" EV("POWERDOWN")),
                EXPECT("cont"),
                SEND("{\"timestamp\": {\"seconds\": 1795369469, \"microseconds\": 867314}, \"eve"),
                WAIT(20),
                SEND("nt\": \"RESUME\"}\r\n{\"return\""),
                WAIT(20),
                SEND(": {}, \"id\": $2}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"stop"}, {"cont"}, {}};
        play(script, commands,
             "ready 7.2.22\n"
             "event STOP\n"
             "return stop {}\n"
             "event POWERDOWN\n"
             "event RESUME\n"
             "return cont {}\n"
             "closed 0\n",
             NULL);
}

static void test_replies_out_of_order(void **state) {
        /* Guards matching by id rather than by order (out-of-band commands, or a fake, may
         * answer out of order); and replies with ids we never sent are dropped, as the QMP spec
         * asks, without disturbing the rest. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                EXPECT("query-version"),
                SEND("{\"return\": {}, \"id\": 999}\r\n{\"return\": {}, \"id\": \"foo\"}\r\n"),
                SEND("{\"return\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"id\": $2}\r\n"),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $1}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"query-status"}, {"query-version"}, {}};
        play(script, commands,
             "ready 7.2.22\n"
             "return query-version {\"package\":\"\",\"qemu\":{\"major\":7,\"micro\":22,\"minor\":2}}\n"
             "return query-status {\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}\n"
             "closed 0\n",
             NULL);
}

static void test_error_replies(void **state) {
        /* Guards error replies: class and desc reach the callback, CommandNotFound is
         * -EOPNOTSUPP (what a caller probes for), other classes -EREMOTEIO; the connection
         * carries on; and arguments go out as "arguments". */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("nonexist"),
                SEND("{\"id\": $1, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nonexist has not been found\"}}\r\n"),
                EXPECT("device_del"),
                SEND("{\"id\": $2, \"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'x' not found\"}}\r\n"),
                EXPECT("query-status"),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $3}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"nonexist"}, {"device_del", "{\"id\": \"x\"}"}, {"query-status"}, {}};
        play(script, commands,
             "ready 7.2.22\n"
             "error nonexist EOPNOTSUPP CommandNotFound: The command nonexist has not been found\n"
             "error device_del EREMOTEIO DeviceNotFound: Device 'x' not found\n"
             "return query-status {\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}\n"
             "closed 0\n",
             NULL);
}

static void test_arguments_are_sent(void **state) {
        /* Guards the command encoding: "execute", "arguments" (borrowed, not stolen), "id". */
        json_t *args = json_pack("{s:s}", "id", "x");
        json_t *c = qmp_message_command("device_del", args, 7);
        char *s = dump(c);

        json_decref(args);
        assert_string_equal(s, "{\"arguments\":{\"id\":\"x\"},\"execute\":\"device_del\",\"id\":7}");
        free(s);
        json_decref(c);
}

static void test_long_line_within_the_cap(void **state) {
        /* Guards the cap from the other side: a reply of 900 KiB on one line (query-qmp-schema
         * is 202 KiB) passes, growing the buffer across many reads. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND_BIG("{\"return\": \"$BIG\", \"id\": $1}\r\n", 900 * 1024),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        h.on_ready = query_status;
        harness_start(&h, script, 2000);
        harness_run(&h);
        assert_string_equal(h.log, "ready 7.2.22\nreturn query-status <921602 bytes>\nclosed 0\n");
        harness_done(&h);
}

static void test_huge_line(void **state) {
        /* Guards memory against a peer that never ends its line: past QMP_FRAME_MAX the
         * connection is closed and the pending command fails, with a sentence that says so. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND_BIG("{\"return\": \"$BIG", QMP_FRAME_MAX + 4096),
                END(),
        };
        /* clang-format on */
        play(script, query_status,
             "ready 7.2.22\n"
             "fail query-status EMSGSIZE\n"
             "closed EMSGSIZE\n",
             "longer than 1048576 bytes");
}

static void test_bad_utf8(void **state) {
        /* Guards the UTF-8 check: QEMU sends ASCII only, so a bad byte means the peer is not
         * QEMU (or the stream is corrupt); it ends the connection rather than reaching callers. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": \"\xff\xfe\", \"id\": $1}\r\n"),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        run_script(&h, script, query_status,
                   "ready 7.2.22\n"
                   "fail query-status EBADMSG\n"
                   "closed EBADMSG\n");
        assert_non_null(strstr(h.closed_reason, "QMP protocol error"));
        assert_non_null(strstr(h.closed_reason, "0xff"));
        harness_done(&h);
}

static void test_garbage(void **state) {
        /* Guards the classifier: text that is not JSON, JSON that is not an object, and objects
         * that are no QMP message (in each case the peer is not QEMU) all end the connection
         * with a clear reason, failing what is pending. */
        static const struct {
                const char *line;
                const char *error;
                const char *reason;
        } cases[] = {
                {"hello world\r\n", "EBADMSG", "invalid JSON"},
                {"[1, 2]\r\n", "EBADMSG", "must be a JSON object"},
                {"{\"foo\": 1}\r\n", "EPROTO", "neither greeting, event, return nor error"},
                {"{\"return\": {}, \"error\": {}, \"id\": $1}\r\n", "EPROTO", "at once two"},
                {"{\"event\": 42}\r\n", "EPROTO", "malformed event"},
                {"{\"event\": \"STOP\", \"data\": [1]}\r\n", "EPROTO", "malformed event"},
                {"{\"error\": \"no\", \"id\": $1}\r\n", "EPROTO", "malformed error reply"},
                {"{\"return\": {}}\r\n", "EPROTO", "reply without id"},
                {"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n", "EPROTO",
                 "reply without id (JSON parse error)"},
                {GREETING, "EPROTO", "a second greeting"},
                {"{\"a\": 1, \"a\": 2}\r\n", "EBADMSG", "duplicate"},
                {"{\"return\": \"\\u0000\", \"id\": $1}\r\n", "EBADMSG", "invalid JSON"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                /* clang-format off */
                const Step script[] = {
                        HANDSHAKE,
                        EXPECT("query-status"),
                        SEND(cases[i].line),
                        END(),
                };
                /* clang-format on */
                char want[256];

                snprintf(want, sizeof(want), "ready 7.2.22\nfail query-status %s\nclosed %s\n", cases[i].error,
                         cases[i].error);
                play(script, query_status, want, cases[i].reason);
        }
}

static void test_reply_before_greeting(void **state) {
        /* Guards the greeting rule: nothing but events may come before it. */
        /* clang-format off */
        static const Step script[] = {
                SEND("{\"return\": {}, \"id\": 1}\r\n"),
                END(),
        };
        /* clang-format on */
        play(script, NULL, "closed EPROTO\n", "a reply before the greeting");
}

static void test_capabilities_refused(void **state) {
        /* Guards the negotiation: no ready() when QEMU refuses qmp_capabilities. */
        /* clang-format off */
        static const Step script[] = {
                SEND(GREETING),
                EXPECT("qmp_capabilities"),
                SEND("{\"id\": $0, \"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\r\n"),
                END(),
        };
        /* clang-format on */
        play(script, NULL, "closed EPROTO\n", "QEMU refused capabilities negotiation: GenericError: nope");
}

static void test_eof_with_commands_pending(void **state) {
        /* Guards "on EOF every pending command fails": both outstanding commands hear of it
         * exactly once (ASan checks the once), before closed(), and events QEMU sent first are
         * still delivered. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                EXPECT("system_powerdown"),
                SEND(EV("POWERDOWN")),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"query-status"}, {"system_powerdown"}, {}};
        play(script, commands,
             "ready 7.2.22\n"
             "event POWERDOWN\n"
             "fail query-status ECONNRESET\n"
             "fail system_powerdown ECONNRESET\n"
             "closed 0\n",
             NULL);
}

static void test_eof_before_greeting(void **state) {
        /* Guards the earliest end: no ready(), one closed() that says when. */
        /* clang-format off */
        static const Step script[] = {
                CLOSE(),
                END(),
        };
        /* clang-format on */
        play(script, NULL, "closed 0\n", "QEMU closed the QMP connection before its greeting");
}

static void test_command_timeout(void **state) {
        /* Guards the per-command timer: the command fails with -ETIMEDOUT on time, the
         * connection stays usable, and the late reply (a known id no longer pending) is
         * dropped rather than given to the next command or taken for an error. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                WAIT(150),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $1}\r\n" EV("RESUME")),
                EXPECT("cont"),
                SEND("{\"return\": {}, \"id\": $2}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"query-status", NULL, 50}, {}};
        Harness h;
        usec_t t0;

        harness_init(&h);
        h.on_ready = commands;
        t0 = now(CLOCK_MONOTONIC);
        harness_start(&h, script, 2000);
        /* After the timeout, the owner goes on with another command. */
        while (!strstr(h.log, "fail query-status"))
                assert_int_equal(event_run(h.e, 10 * USEC_PER_MSEC), 0);
        assert_true(now(CLOCK_MONOTONIC) - t0 >= 50 * USEC_PER_MSEC);
        assert_int_equal(command(&h, "cont", NULL, 2000), 0);
        harness_run(&h);
        assert_string_equal(h.log, "ready 7.2.22\n"
                                   "fail query-status ETIMEDOUT\n"
                                   "event RESUME\n"
                                   "return cont {}\n"
                                   "closed 0\n");
        harness_done(&h);
}

static void test_handshake_timeout(void **state) {
        /* Guards a QEMU that accepts but never greets (a second client waits in QEMU's backlog
         * until the first leaves): the deadline ends the wait. */
        /* clang-format off */
        static const Step script[] = {
                WAIT(300),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        harness_start(&h, script, 50);
        harness_run(&h);
        assert_string_equal(h.log, "closed ETIMEDOUT\n");
        assert_string_equal(h.closed_reason, "QEMU sent no QMP greeting in time");
        harness_done(&h);
}

static void test_held_event_flood(void **state) {
        /* Guards memory while events are held: a peer that sends events without end before
         * negotiation (QEMU sends none then) is cut off at QMP_HELD_EVENTS_MAX. */
        static char flood[(QMP_HELD_EVENTS_MAX + 1) * sizeof(EV("STOP")) + 1];
        /* clang-format off */
        const Step script[] = {
                SEND(flood),
                END(),
        };
        /* clang-format on */
        Harness h;

        flood[0] = '\0';
        for (unsigned i = 0; i <= QMP_HELD_EVENTS_MAX; i++)
                strcat(flood, EV("STOP"));
        harness_init(&h);
        harness_start(&h, script, 2000);
        harness_run(&h);
        /* Held events are not lost even then: all that came before the cut reach the owner. */
        assert_int_equal(h.n_events, QMP_HELD_EVENTS_MAX);
        assert_non_null(strstr(h.log, "event STOP\nclosed EPROTO\n"));
        assert_non_null(strstr(h.closed_reason, "more than 1024 events"));
        harness_done(&h);
}

static void free_on_stop(Harness *h, const QmpEvent *ev) {
        if (ev->type == QMP_EVENT_STOP) {
                h->q = qmp_free(h->q);
                h->freed = true;
        }
}

static void test_free_inside_event_callback(void **state) {
        /* Guards re-entrancy: the owner frees the client from an event callback while the same
         * read still holds an event and a reply. Pending commands hear -ECANCELED once, nothing
         * else is delivered, nothing is touched after the free (ASan). */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                EXPECT("stop"),
                SEND(EV("STOP") EV("RESUME") "{\"return\": {}, \"id\": $1}\r\n"),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"query-status"}, {"stop"}, {}};
        Harness h;

        harness_init(&h);
        h.after_event = free_on_stop;
        run_script(&h, script, commands,
                   "ready 7.2.22\n"
                   "event STOP\n"
                   "fail query-status ECANCELED\n"
                   "fail stop ECANCELED\n");
        harness_done(&h);
}

static void free_after_first(Harness *h, const char *name, int error) {
        if (!h->freed) {
                h->q = qmp_free(h->q);
                h->freed = true;
        }
}

static void test_free_inside_command_callback_at_eof(void **state) {
        /* Guards the EOF path against a free from the first failed command's callback: the
         * second command still hears exactly once (-ECANCELED now), and closed() never comes. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                EXPECT("stop"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        static const CommandSpec commands[] = {{"query-status"}, {"stop"}, {}};
        Harness h;

        harness_init(&h);
        h.after_command = free_after_first;
        run_script(&h, script, commands,
                   "ready 7.2.22\n"
                   "fail query-status ECONNRESET\n"
                   "fail stop ECANCELED\n");
        harness_done(&h);
}

static void test_write_to_vanished_peer(void **state) {
        /* Guards SIGPIPE: QEMU hangs up right after negotiating, and the owner's command is
         * written to a socket with nobody behind it. The test process must survive, and the
         * command fails once, through the loop. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                CLOSE(),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        /* The fake hangs up in the same breath as it answers qmp_capabilities: the command
         * from ready() is written after it is gone. */
        h.on_ready = query_status;
        harness_start(&h, script, 2000);
        harness_run(&h);
        assert_true(streq(h.log, "ready 7.2.22\nfail query-status ECONNRESET\nclosed 0\n") ||
                    streq(h.log, "ready 7.2.22\nfail query-status EPIPE\nclosed EPIPE\n"));
        harness_done(&h);
}

static void test_command_misuse(void **state) {
        /* Guards the synchronous refusals: nothing is sent and no callback will run. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                WAIT(1),
                END(),
        };
        /* clang-format on */
        Harness h;

        harness_init(&h);
        assert_int_equal(command(&h, "query-status", NULL, 0), -ENOTCONN); /* before the connection */
        harness_start(&h, script, 2000);
        assert_int_equal(command(&h, "query-status", NULL, 0), -ENOTCONN); /* before ready() */
        while (!qmp_is_ready(h.q))
                assert_int_equal(event_run(h.e, 10 * USEC_PER_MSEC), 0);
        assert_int_equal(command(&h, "", NULL, 0), -EINVAL);
        assert_int_equal(command(&h, "x", "[1]", 0), -EINVAL);                 /* arguments are an object */
        assert_int_equal(command(&h, "\xff", NULL, 0), -EINVAL);               /* names are UTF-8 */
        assert_int_equal(qmp_command(h.q, "x", NULL, 0, NULL, NULL), -EINVAL); /* a timeout of 0 */
        assert_int_equal(qmp_attach(h.q, -1, USEC_INFINITY), -EBADF);
        assert_int_equal(qmp_connect(h.q, "/nonexistent", USEC_INFINITY), -EBUSY);
        harness_done(&h);
}

/* ---- connecting by path ---- */

static char tmpdir[64];

static void make_tmpdir(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/sup-test-qmp-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
}

static void on_fake_accept(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Harness *h = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

        if (cfd < 0)
                return;
        h->fake.listen_io = event_source_free(h->fake.listen_io);
        fake_start(&h->fake, h->e, cfd, h->fake.script);
}

static void on_create_socket(EventSource *s, usec_t t, void *userdata) {
        Harness *h = userdata;
        char path[128];

        snprintf(path, sizeof(path), "%s/qmp.sock", tmpdir);
        h->fake.listen_fd = unix_listen(path, 0600);
        assert_true(h->fake.listen_fd >= 0);
        assert_int_equal(event_add_io(h->e, &h->fake.listen_io, h->fake.listen_fd, EPOLLIN, on_fake_accept, h), 0);
        event_source_free(s);
}

static void test_connect_waits_for_the_socket(void **state) {
        /* Guards the start of a VM: QEMU creates its QMP socket some time after exec, so
         * qmp_connect() keeps trying (ENOENT, then ECONNREFUSED for a stale file) until it is
         * there, without blocking the loop. */
        /* clang-format off */
        static const Step script[] = {
                HANDSHAKE,
                EXPECT("query-status"),
                SEND("{\"return\": " STATUS_PAUSED ", \"id\": $1}\r\n"),
                CLOSE(),
                END(),
        };
        /* clang-format on */
        char path[128];
        Harness h;

        make_tmpdir();
        snprintf(path, sizeof(path), "%s/qmp.sock", tmpdir);
        /* A stale socket from an earlier QEMU: the file is there, nobody listens. */
        close(unix_listen(path, 0600));
        harness_init(&h);
        h.on_ready = query_status;
        h.fake.script = script;
        assert_int_equal(qmp_connect(h.q, path, 2 * USEC_PER_SEC), 0);
        assert_int_equal(event_add_time(h.e, NULL, now(CLOCK_MONOTONIC) + 40 * USEC_PER_MSEC, on_create_socket, &h), 0);
        harness_run(&h);
        assert_string_equal(h.log,
                            "ready 7.2.22\n"
                            "return query-status {\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}\n"
                            "closed 0\n");
        harness_done(&h);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(tmpdir), 0);
}

static void test_connect_timeout(void **state) {
        /* Guards a QEMU that never comes up: the deadline ends the retries, naming the path. */
        /* clang-format off */
        static const Step script[] = {
                END(),
        };
        /* clang-format on */
        char path[128];
        Harness h;

        make_tmpdir();
        snprintf(path, sizeof(path), "%s/never.sock", tmpdir);
        harness_init(&h);
        h.fake.script = script;
        assert_int_equal(qmp_connect(h.q, path, 60 * USEC_PER_MSEC), 0);
        harness_run(&h);
        assert_string_equal(h.log, "closed ETIMEDOUT\n");
        assert_non_null(strstr(h.closed_reason, path));
        harness_done(&h);
        assert_int_equal(rmdir(tmpdir), 0);
}

static void test_connect_path_too_long(void **state) {
        /* Guards sun_path: 107 characters is the most a socket path can have; longer is a clear
         * -ENAMETOOLONG at once, not a truncated path or a retry loop. */
        char path[200];
        Event *e = NULL;
        Qmp *q = NULL;

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(qmp_new(e, &callbacks, NULL, &q), 0);
        memset(path, 'a', sizeof(path));
        path[0] = '/';
        path[108] = '\0';
        assert_int_equal(qmp_connect(q, path, USEC_INFINITY), -ENAMETOOLONG);
        path[107] = '\0'; /* fits: not there, so it is retried */
        assert_int_equal(qmp_connect(q, path, USEC_INFINITY), 0);
        qmp_free(q);
        event_free(e);
}

static void test_connect_refused_for_good(void **state) {
        /* Guards the errors that no retry fixes: they are returned at once, and the client can
         * be pointed elsewhere afterwards. */
        Event *e = NULL;
        Qmp *q = NULL;

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(qmp_new(e, &callbacks, NULL, &q), 0);
        assert_int_equal(qmp_connect(q, "/etc/passwd/qmp.sock", USEC_INFINITY), -ENOTDIR);
        assert_int_equal(qmp_connect(q, "/nonexistent/qmp.sock", USEC_INFINITY), 0);
        qmp_free(q);
        event_free(e);
}

/* ---- the event table and the classifier ---- */

static void test_event_type_table(void **state) {
        /* Guards the string table: every named type round-trips, OTHER has no name. */
        for (QmpEventType t = 0; t < _QMP_EVENT_TYPE_MAX; t++) {
                const char *s = qmp_event_type_to_string(t);
                if (t == QMP_EVENT_OTHER) {
                        assert_null(s);
                        continue;
                }
                assert_non_null(s);
                assert_int_equal(qmp_event_type_from_string(s), t);
        }
        assert_int_equal(qmp_event_type_from_string("BLOCK_JOB_READY"), _QMP_EVENT_TYPE_INVALID);
        assert_null(qmp_event_type_to_string(_QMP_EVENT_TYPE_MAX));
}

static void event_from_text(const char *text, json_t **ret_msg, QmpEvent *ret) {
        static json_t *empty;
        const char *why;
        QmpMessage m;

        if (!empty)
                empty = json_object();
        *ret_msg = json_loads(text, 0, NULL);
        assert_non_null(*ret_msg);
        assert_int_equal(qmp_message_classify(*ret_msg, &m, &why), 0);
        assert_int_equal(m.kind, QMP_MESSAGE_EVENT);
        qmp_event_from_message(&m, empty, ret);
}

static void test_event_decoding(void **state) {
        /* Guards the typed fields the runtime acts on, as QEMU 7.2 sends them, and leniency for
         * fields that are missing or odd (the event still arrives, with defaults). */
        json_t *msg;
        QmpEvent ev;

        event_from_text("{\"timestamp\": {\"seconds\": 1795369482, \"microseconds\": 110291}, \"event\": \"SHUTDOWN\", "
                        "\"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}",
                        &msg, &ev);
        assert_int_equal(ev.type, QMP_EVENT_SHUTDOWN);
        assert_false(ev.shutdown.guest);
        assert_string_equal(ev.shutdown.reason, "host-qmp-quit");
        assert_true(ev.timestamp == 1795369482ULL * USEC_PER_SEC + 110291);
        json_decref(msg);

        event_from_text("{\"event\": \"RESET\", \"data\": {\"guest\": true, \"reason\": \"guest-reset\"}, "
                        "\"timestamp\": {\"seconds\": -1, \"microseconds\": -1}}",
                        &msg, &ev);
        assert_int_equal(ev.type, QMP_EVENT_RESET);
        assert_true(ev.reset.guest);
        assert_string_equal(ev.reset.reason, "guest-reset");
        assert_true(ev.timestamp == USEC_INFINITY); /* QEMU could not read its clock */
        json_decref(msg);

        event_from_text("{\"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\", \"info\": {\"type\": "
                        "\"hyper-v\"}}}",
                        &msg, &ev);
        assert_int_equal(ev.type, QMP_EVENT_GUEST_PANICKED);
        assert_string_equal(ev.guest_panicked.action, "pause");
        assert_true(ev.timestamp == USEC_INFINITY); /* no timestamp at all */
        json_decref(msg);

        event_from_text("{\"event\": \"SHUTDOWN\"}", &msg, &ev); /* before QEMU 4.0: no data */
        assert_int_equal(ev.type, QMP_EVENT_SHUTDOWN);
        assert_true(json_is_object(ev.data));
        assert_false(ev.shutdown.guest);
        assert_null(ev.shutdown.reason);
        json_decref(msg);

        event_from_text("{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": \"yes\", \"reason\": 3}}", &msg, &ev);
        assert_false(ev.shutdown.guest);
        assert_null(ev.shutdown.reason);
        json_decref(msg);

        event_from_text("{\"event\": \"BLOCK_JOB_COMPLETED\", \"data\": {\"device\": \"d0\"}}", &msg, &ev);
        assert_int_equal(ev.type, QMP_EVENT_OTHER);
        assert_string_equal(ev.name, "BLOCK_JOB_COMPLETED");
        assert_string_equal(json_string_value(json_object_get(ev.data, "device")), "d0");
        json_decref(msg);

        for (const char *const *n = (const char *const[]){"POWERDOWN", "STOP", "RESUME", NULL}; *n; n++) {
                char text[128];
                snprintf(text, sizeof(text), "{\"event\": \"%s\"}", *n);
                event_from_text(text, &msg, &ev);
                assert_string_equal(qmp_event_type_to_string(ev.type), *n);
                json_decref(msg);
        }
}

static void test_classify_greeting(void **state) {
        /* Guards the greeting parser: QEMU's own greeting, one without "oob" (QEMU < 2.12), and
         * greetings with parts missing or mistyped, which are protocol errors. */
        static const char *const bad[] = {
                "{\"QMP\": {}}",
                "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2}}, \"capabilities\": []}}",
                "{\"QMP\": {\"version\": {\"qemu\": {\"major\": -1, \"minor\": 2, \"micro\": 0}}, \"capabilities\": "
                "[]}}",
                "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}}}",
                "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, \"package\": 1}, "
                "\"capabilities\": []}}",
                "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, \"capabilities\": "
                "[1]}}",
                "{\"QMP\": 1}",
        };
        const char *why;
        QmpMessage m;
        json_t *j;

        j = json_loads(GREETING, 0, NULL);
        assert_int_equal(qmp_message_classify(j, &m, &why), 0);
        assert_int_equal(m.kind, QMP_MESSAGE_GREETING);
        assert_true(m.oob);
        assert_int_equal(m.version.major, 7);
        json_decref(j);

        j = json_loads("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 11, \"major\": 2}, \"package\": "
                       "\"\"}, \"capabilities\": []}}",
                       0, NULL);
        assert_int_equal(qmp_message_classify(j, &m, &why), 0);
        assert_false(m.oob);
        assert_int_equal(m.version.minor, 11);
        json_decref(j);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                j = json_loads(bad[i], 0, NULL);
                assert_non_null(j);
                why = NULL;
                assert_int_equal(qmp_message_classify(j, &m, &why), -EPROTO);
                assert_non_null(why);
                json_decref(j);
        }
}

static void test_ids(void **state) {
        /* Guards id matching: only the integer we sent matches, not its string or float form. */
        json_t *j;

        assert_true(qmp_message_id_is((j = json_integer(5)), 5));
        json_decref(j);
        assert_false(qmp_message_id_is((j = json_integer(-5)), (uint64_t) -5));
        json_decref(j);
        assert_false(qmp_message_id_is((j = json_string("5")), 5));
        json_decref(j);
        assert_false(qmp_message_id_is((j = json_real(5.0)), 5));
        json_decref(j);
        assert_false(qmp_message_id_is(NULL, 5));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_handshake_then_query_status),
                cmocka_unit_test(test_version_is_recorded),
                cmocka_unit_test(test_events_before_greeting_and_during_negotiation),
                cmocka_unit_test(test_event_between_command_and_reply),
                cmocka_unit_test(test_coalesced_and_split_frames),
                cmocka_unit_test(test_replies_out_of_order),
                cmocka_unit_test(test_error_replies),
                cmocka_unit_test(test_arguments_are_sent),
                cmocka_unit_test(test_long_line_within_the_cap),
                cmocka_unit_test(test_huge_line),
                cmocka_unit_test(test_bad_utf8),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_reply_before_greeting),
                cmocka_unit_test(test_capabilities_refused),
                cmocka_unit_test(test_eof_with_commands_pending),
                cmocka_unit_test(test_eof_before_greeting),
                cmocka_unit_test(test_command_timeout),
                cmocka_unit_test(test_handshake_timeout),
                cmocka_unit_test(test_held_event_flood),
                cmocka_unit_test(test_free_inside_event_callback),
                cmocka_unit_test(test_free_inside_command_callback_at_eof),
                cmocka_unit_test(test_write_to_vanished_peer),
                cmocka_unit_test(test_command_misuse),
                cmocka_unit_test(test_connect_waits_for_the_socket),
                cmocka_unit_test(test_connect_timeout),
                cmocka_unit_test(test_connect_path_too_long),
                cmocka_unit_test(test_connect_refused_for_good),
                cmocka_unit_test(test_event_type_table),
                cmocka_unit_test(test_event_decoding),
                cmocka_unit_test(test_classify_greeting),
                cmocka_unit_test(test_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
