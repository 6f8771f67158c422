/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <sys/socket.h>

#include "json-conn.h"
#include "socket-util.h"

static int closed = -1000;

static unsigned handled = 0;
static char payload[2001];

static void on_message(JsonConn *c, json_t *msg, void *userdata) {
        handled++;
        if (userdata) /* replying */
                (void) json_conn_reply(c, msg, json_string(payload));
}

static void on_close(JsonConn *c, int error, void *userdata) {
        closed = error;
}

/* A message written at once and then close_after_flush(): nothing is left to flush, and the
 * connection must still close (through the loop), not wait for an event that never comes. */
static void test_close_after_flush_with_nothing_queued(void **state) {
        Event *e = NULL;
        JsonConn *c = NULL;
        json_t *msg = json_pack("{s:s}", "event", "bye");
        int sv[2];
        char buf[64];
        ssize_t n;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(json_conn_new(e, sv[0], 4096, on_message, on_close, NULL, &c), 0);
        assert_int_equal(json_conn_send(c, msg), 0);
        json_conn_close_after_flush(c);
        closed = -1000;
        for (int i = 0; i < 10 && closed == -1000; i++)
                assert_int_equal(event_run(e, 100 * USEC_PER_MSEC), 0);
        assert_int_equal(closed, 0);

        n = read(sv[1], buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = 0;
        assert_string_equal(buf, "{\"event\":\"bye\"}\n");
        assert_int_equal(read(sv[1], buf, sizeof(buf)), 0); /* and the connection's end is closed */

        json_decref(msg);
        close(sv[1]);
        event_free(e);
}

static void run_for(Event *e, usec_t t) {
        usec_t end = now(CLOCK_MONOTONIC) + t;
        while (now(CLOCK_MONOTONIC) < end)
                assert_int_equal(event_run(e, 10 * USEC_PER_MSEC), 0);
}

/* A client that pipelines requests and never reads its replies (the attack: a read-only client
 * growing supd's memory without bound): past the soft limit no more of its requests are handled;
 * once it reads, the rest are. */
static void test_output_limit_holds_back_requests(void **state) {
        Event *e = NULL;
        JsonConn *c = NULL;
        const char *req = "{\"id\":1,\"method\":\"m\"}\n";
        int sv[2], small = 4096;
        char buf[65536];
        unsigned held;

        memset(payload, 'x', sizeof(payload) - 1);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(json_conn_new(e, sv[0], 4096, on_message, on_close, payload, &c), 0);
        json_conn_set_output_limits(c, 8192, 1024 * 1024);
        handled = 0;
        for (int i = 0; i < 200; i++)
                assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t) strlen(req));
        run_for(e, 100 * USEC_PER_MSEC);
        held = handled;
        assert_true(held > 0);
        assert_true(held < 200);
        run_for(e, 100 * USEC_PER_MSEC);
        assert_int_equal(handled, held); /* still held back: nothing read */

        /* The client reads: the requests held back are handled, all of them. */
        assert_int_equal(fd_set_nonblock(sv[1], 1), 0);
        for (int i = 0; i < 400 && handled < 200; i++) {
                while (read(sv[1], buf, sizeof(buf)) > 0)
                        ;
                assert_int_equal(event_run(e, 10 * USEC_PER_MSEC), 0);
        }
        assert_int_equal(handled, 200);

        json_conn_free(c);
        close(sv[1]);
        event_free(e);
}

/* Replies owed to a client pile up past the hard limit (deferred answers while it does not
 * read): the connection is closed, with -ENOBUFS, and what it did not read is dropped. */
static void test_output_hard_limit_closes(void **state) {
        Event *e = NULL;
        JsonConn *c = NULL;
        json_t *msg = json_string(payload);
        int sv[2], r = 0;

        memset(payload, 'x', sizeof(payload) - 1);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(json_conn_new(e, sv[0], 4096, on_message, on_close, NULL, &c), 0);
        json_conn_set_output_limits(c, 8192, 64 * 1024);
        for (int i = 0; i < 1000 && r == 0; i++) {
                json_t *reply = json_pack("{s:O}", "result", msg);
                r = json_conn_send(c, reply);
                json_decref(reply);
        }
        assert_int_equal(r, -ENOBUFS);
        closed = -1000;
        run_for(e, 50 * USEC_PER_MSEC);
        assert_int_equal(closed, -ENOBUFS);

        json_decref(msg);
        close(sv[1]);
        event_free(e);
}

/* A slow loris: one byte now and then never completes a request. Bytes do not reset the timeout;
 * the request is cut off request_timeout after its first byte. */
static void test_request_timeout_counts_from_first_byte(void **state) {
        Event *e = NULL;
        JsonConn *c = NULL;
        const char *req = "{\"id\":1,\"method\":\"status\"}";
        usec_t start;
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(json_conn_new(e, sv[0], 4096, on_message, on_close, NULL, &c), 0);
        json_conn_set_idle_timeout(c, 10 * USEC_PER_SEC, 200 * USEC_PER_MSEC);
        closed = -1000;
        start = now(CLOCK_MONOTONIC);
        for (size_t k = 0; closed == -1000 && k < strlen(req); k++) {
                (void) !write(sv[1], req + k, 1);
                run_for(e, 40 * USEC_PER_MSEC);
        }
        assert_int_equal(closed, -ETIMEDOUT);
        assert_true(now(CLOCK_MONOTONIC) - start < 2 * USEC_PER_SEC);

        close(sv[1]);
        event_free(e);
}

/* A client that neither reads nor writes, its socket full of replies: the idle timeout still
 * closes it (waiting to flush the timeout's error to it would keep the connection forever). */
static void test_idle_timeout_closes_a_full_socket(void **state) {
        Event *e = NULL;
        JsonConn *c = NULL;
        json_t *msg = json_pack("{s:s}", "result", payload);
        int sv[2];

        memset(payload, 'x', sizeof(payload) - 1);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(json_conn_new(e, sv[0], 4096, on_message, on_close, NULL, &c), 0);
        for (int i = 0; i < 200; i++)
                assert_int_equal(json_conn_send(c, msg), 0);
        json_conn_set_idle_timeout(c, 100 * USEC_PER_MSEC, 0);
        closed = -1000;
        run_for(e, 300 * USEC_PER_MSEC);
        assert_int_equal(closed, -ETIMEDOUT);

        json_decref(msg);
        close(sv[1]);
        event_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_close_after_flush_with_nothing_queued),
                cmocka_unit_test(test_output_limit_holds_back_requests),
                cmocka_unit_test(test_output_hard_limit_closes),
                cmocka_unit_test(test_request_timeout_counts_from_first_byte),
                cmocka_unit_test(test_idle_timeout_closes_a_full_socket),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
