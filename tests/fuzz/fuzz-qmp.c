/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the QMP client: arbitrary bytes arrive, as if from QEMU, on a socketpair
 * whose other end a Qmp client holds (framing, the line cap, JSON and UTF-8 errors, greeting,
 * events, replies by id). The owner behaves like the VM runtime: it sends commands once ready
 * and more from their callbacks, and frees the client from inside a callback when the peer asks
 * for it with an event named FREE_ME. Command ids are predictable (qmp_capabilities is 1, then
 * 2, 3, ...), so inputs can answer them.
 *
 * Invariants (abort() otherwise): every command's callback runs exactly once; closed() runs at
 * most once, after every command has ended, and nothing runs after it or after the free; a
 * callback's arguments are well formed; after EOF the client has always ended. No crash, no
 * leak (ASan). Nothing depends on time: there are no timeouts here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COMMANDS 8

typedef struct State {
        Qmp *q;
        unsigned issued, completed;
        bool closed, freed;
} State;

static const char *const commands[] = {"query-status", "stop", "cont", "query-version", "system_powerdown"};

static void on_command(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                       void *userdata);

static void issue(State *s) {
        const char *name = commands[s->issued % (sizeof(commands) / sizeof(commands[0]))];
        json_t *args;

        if (s->issued >= MAX_COMMANDS)
                return;
        args = s->issued % 3 == 2 ? json_pack("{s:i}", "n", (int) s->issued) : NULL;
        if (qmp_command(s->q, name, args, USEC_INFINITY, on_command, s) >= 0)
                s->issued++;
}

static void on_command(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                       void *userdata) {
        State *s = userdata;

        if (s->closed || q != s->q)
                abort();
        s->completed++;
        if (s->completed > s->issued)
                abort();
        if (error == 0 && !result)
                abort();
        if (error < 0 && (!error_desc || result))
                abort();
        if (error_class && error != -EOPNOTSUPP && error != -EREMOTEIO)
                abort();
        /* The runtime reacts to an answer with the next command. */
        if (!s->freed && error == 0)
                issue(s);
}

static void on_ready(Qmp *q, void *userdata) {
        State *s = userdata;

        if (s->closed || s->freed || !qmp_is_ready(q) || !qmp_get_version(q))
                abort();
        issue(s);
        issue(s);
}

static void on_event(Qmp *q, const QmpEvent *ev, void *userdata) {
        State *s = userdata;

        if (s->closed || s->freed || !ev->name || !json_is_object(ev->data))
                abort();
        if (ev->type < 0 || ev->type >= _QMP_EVENT_TYPE_MAX)
                abort();
        if (ev->type != QMP_EVENT_OTHER && strcmp(qmp_event_type_to_string(ev->type), ev->name) != 0)
                abort();
        if (ev->type == QMP_EVENT_OTHER && qmp_event_type_from_string(ev->name) >= 0)
                abort();
        if (strcmp(ev->name, "FREE_ME") == 0) {
                s->freed = true;
                s->q = qmp_free(q); /* pending commands end here, with -ECANCELED */
                if (s->completed != s->issued)
                        abort();
        }
}

static void on_closed(Qmp *q, int error, const char *reason, void *userdata) {
        State *s = userdata;

        if (s->closed || s->freed || !reason || error > 0)
                abort();
        if (s->completed != s->issued)
                abort();
        s->closed = true;
}

static void drain(int fd) {
        char sink[4096];
        while (read(fd, sink, sizeof(sink)) > 0)
                ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const QmpCallbacks callbacks = {.ready = on_ready, .event = on_event, .closed = on_closed};
        State s = {};
        Event *e = NULL;
        int sv[2];

        if (size > 256 * 1024 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                return 0;
        if (event_new(&e) < 0 || qmp_new(e, &callbacks, &s, &s.q) < 0) {
                close(sv[0]);
                close(sv[1]);
                event_free(e);
                return 0;
        }
        if (qmp_attach(s.q, sv[0], USEC_INFINITY) < 0)
                abort();

        /* The fake QEMU writes everything, reads whatever the client sends, and hangs up. */
        for (size_t off = 0; off < size && !s.closed && !s.freed;) {
                ssize_t n = write(sv[1], data + off, size - off);
                if (n > 0)
                        off += (size_t) n;
                (void) event_run(e, 0);
                drain(sv[1]);
        }
        shutdown(sv[1], SHUT_WR);
        for (int i = 0; i < 1000 && !s.closed && !s.freed; i++) {
                (void) event_run(e, 0);
                drain(sv[1]);
        }
        /* EOF always ends the client. */
        if (!s.closed && !s.freed)
                abort();
        if (s.completed != s.issued)
                abort();

        qmp_free(s.q);
        close(sv[1]);
        event_free(e);
        return 0;
}
