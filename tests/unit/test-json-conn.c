/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <sys/socket.h>

#include "json-conn.h"

static int closed = -1000;

static void on_message(JsonConn *c, json_t *msg, void *userdata) {
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_close_after_flush_with_nothing_queued),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
