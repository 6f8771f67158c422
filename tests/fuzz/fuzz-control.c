/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the control protocol: arbitrary bytes arrive on a socket handled by a
 * JsonConn (framing, the frame cap, bad JSON), and every message that comes through is read as
 * an InstanceStatus (what supd does with a monitor's reports). Invariants: no crash, no leak,
 * a status that parses prints back to JSON that parses to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "instance.h"
#include "json-conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_status(const json_t *msg) {
        InstanceStatus a = {}, b = {};
        json_t *j, *k;

        if (instance_status_from_json(msg, &a) < 0)
                return;
        j = instance_status_to_json(&a);
        if (instance_status_from_json(j, &b) < 0)
                abort();
        k = instance_status_to_json(&b);
        if (!json_equal(j, k))
                abort();
        json_decref(j);
        json_decref(k);
        instance_status_done(&a);
        instance_status_done(&b);
}

static void on_message(JsonConn *c, json_t *msg, void *userdata) {
        check_status(msg);
        check_status(json_object_get(msg, "data"));
        check_status(json_object_get(msg, "result"));
        (void) json_conn_reply(c, msg, json_true());
}

static void on_close(JsonConn *c, int error, void *userdata) {
        *(bool *) userdata = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Event *e = NULL;
        JsonConn *conn = NULL;
        int sv[2];
        bool closed = false;

        if (size > 256 * 1024 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                return 0;
        if (event_new(&e) < 0 ||
            json_conn_new(e, sv[0], 4096, on_message, on_close, &closed, &conn) < 0) {
                close(sv[1]);
                event_free(e);
                return 0;
        }
        /* The peer writes everything and hangs up; the connection must end, one way or another. */
        for (size_t off = 0; off < size && !closed;) {
                ssize_t n = write(sv[1], data + off, size - off);
                if (n > 0)
                        off += (size_t) n;
                (void) event_run(e, 0);
                char sink[4096];
                while (read(sv[1], sink, sizeof(sink)) > 0)
                        ;
        }
        shutdown(sv[1], SHUT_WR);
        for (int i = 0; i < 1000 && !closed; i++) {
                char sink[4096];
                (void) event_run(e, 0);
                while (read(sv[1], sink, sizeof(sink)) > 0)
                        ;
        }
        if (!closed)
                json_conn_free(conn);
        close(sv[1]);
        event_free(e);
        return 0;
}
