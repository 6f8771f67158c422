/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <fcntl.h>
#include <inttypes.h>
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

/* What a handler took with json_conn_take_fds(), and how many. */
static int taken[JSON_CONN_FDS_MAX];
static size_t n_taken;
static bool take_fds;

static void on_message_fds(JsonConn *c, json_t *msg, void *userdata) {
        handled++;
        if (take_fds)
                n_taken = json_conn_take_fds(c, taken, 2);
}

/* Whether fd refers to the same open pipe as the write end w: a byte written to it comes out of r. */
static bool same_pipe(int fd, int r) {
        char b = 0;
        return write(fd, "z", 1) == 1 && read(r, &b, 1) == 1 && b == 'z';
}

/* supctl exec hands over its pipes with the request: the handler gets exactly the fds that came
 * with its message; fds it does not take are closed after it (a peer cannot pin fds in the
 * monitor by sending more than a request takes, nor by sending them with requests that take
 * none); and a connection without fd passing never holds any (the kernel drops them). */
static void test_fds_go_with_their_message_and_no_further(void **state) {
        static const char req[] = "{\"method\":\"x\"}\n";
        Event *e = NULL;
        JsonConn *c = NULL;
        int sv[2], p[2], fds[3];
        char b;

        assert_int_equal(event_new(&e), 0);
        for (int mode = 0; mode < 3; mode++) {
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
                assert_int_equal(json_conn_new(e, sv[0], 4096, on_message_fds, on_close, NULL, &c), 0);
                if (mode > 0)
                        json_conn_set_fd_passing(c, 3);
                take_fds = mode == 2;
                handled = 0;
                n_taken = 0;
                /* Three dups of the write end go over; the test keeps none of them. */
                for (int i = 0; i < 3; i++)
                        fds[i] = fcntl(p[1], F_DUPFD_CLOEXEC, 0);
                assert_int_equal(send_fds(sv[1], req, strlen(req), fds, 3), (int) strlen(req));
                for (int i = 0; i < 3; i++)
                        close(fds[i]);
                close(p[1]);
                for (int i = 0; i < 20 && handled == 0; i++)
                        assert_int_equal(event_run(e, 50 * USEC_PER_MSEC), 0);
                assert_int_equal(handled, 1);
                if (mode == 2) {
                        assert_int_equal(n_taken, 2);
                        assert_true(same_pipe(taken[0], p[0]) && same_pipe(taken[1], p[0]));
                        close(taken[0]);
                        close(taken[1]);
                } else
                        assert_int_equal(n_taken, 0);
                /* Every write end is closed now: the third fd (not taken) went after the handler,
                 * and without fd passing none was ever kept. */
                assert_int_equal(read(p[0], &b, 1), 0);
                close(p[0]);
                json_conn_free(c);
                close(sv[1]);
        }
        event_free(e);
}

/* json_read_frame() searches each read's bytes once for the newline (a reply of a thousand units
 * comes in many reads): a frame whose newline lands anywhere in a later read, or right after
 * the room of a read, is still found, and the frame after it too. */
static void test_read_frame_over_many_reads(void **state) {
        /* {"s":"…"} is the string and 8 bytes: newlines at the end of the first read (8192 bytes), at
         * the first byte of the second, just after it, and so on for the third. */
        static const size_t sizes[] = {1, 8183, 8184, 8185, 16375, 16376, 16377, 60000};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_free_ char *big = xmalloc(sizes[i] + 1), *buf = NULL;
                size_t len = 0, used = 0;
                json_t *a = NULL, *b = NULL;
                int sv[2];

                memset(big, 'x', sizes[i]);
                big[sizes[i]] = 0;
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
                json_t *first = json_pack("{s:s}", "s", big), *second = json_pack("{s:i}", "n", (int) i);
                assert_int_equal(json_write_frame(sv[1], first), 0);
                assert_int_equal(json_write_frame(sv[1], second), 0);
                assert_int_equal(json_read_frame(sv[0], &buf, &len, &used, 1 << 20, 5 * USEC_PER_SEC, &a), 0);
                assert_true(json_equal(a, first));
                assert_int_equal(json_read_frame(sv[0], &buf, &len, &used, 1 << 20, 5 * USEC_PER_SEC, &b), 0);
                assert_true(json_equal(b, second));
                assert_int_equal(used, 0);
                json_decref(a);
                json_decref(b);
                json_decref(first);
                json_decref(second);
                close(sv[0]);
                close(sv[1]);
        }
}

/* The write syscalls this process made so far (/proc/self/io's syscw). */
static uint64_t write_syscalls(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/io", "re");
        char line[128];
        uint64_t n = UINT64_MAX;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "syscw: %" SCNu64, &n) == 1)
                        break;
        assert_int_not_equal(n, UINT64_MAX);
        return n;
}

/* A reply serialised while the peer's socket is full: jansson hands over each token on its own,
 * and a write tried per token (once 16 KiB were queued) was a syscall each, and for a peer that
 * reads slowly a memmove of the whole queue each. A write is tried once per 16 KiB. The peer is
 * a pipe here: its write()s are what syscw counts (send() is not counted). */
static void test_send_tries_a_full_socket_once_per_chunk(void **state) {
        Event *e = NULL;
        JsonConn *c = NULL;
        json_t *msg = json_array();
        char fill[4096] = {0};
        uint64_t before;
        int p[2];

        for (int i = 0; i < 20000; i++) /* 100 KB, 40000 tokens */
                json_array_append_new(msg, json_string("ab"));
        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        (void) fcntl(p[1], F_SETPIPE_SZ, 4096);
        while (write(p[1], fill, sizeof(fill)) > 0)
                ;
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(json_conn_new(e, p[1], 4096, on_message, on_close, NULL, &c), 0);

        before = write_syscalls();
        assert_int_equal(json_conn_send(c, msg), 0);
        /* 100 KB in 16 KiB steps, and the write of the whole at the end: some 8 tries. */
        assert_true(write_syscalls() - before < 16);

        json_decref(msg);
        json_conn_free(c);
        close(p[0]);
        event_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_close_after_flush_with_nothing_queued),
                cmocka_unit_test(test_output_limit_holds_back_requests),
                cmocka_unit_test(test_output_hard_limit_closes),
                cmocka_unit_test(test_request_timeout_counts_from_first_byte),
                cmocka_unit_test(test_idle_timeout_closes_a_full_socket),
                cmocka_unit_test(test_fds_go_with_their_message_and_no_further),
                cmocka_unit_test(test_read_frame_over_many_reads),
                cmocka_unit_test(test_send_tries_a_full_socket_once_per_chunk),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
