/* SPDX-License-Identifier: MIT */
/* The relay for ports published on ::1 (net/relay.h), on loopback, without privileges: a client,
 * the relay in an event loop, and a server standing in for the container. test-network.sh checks
 * the same end to end with a real unit. */
#include "test-helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event.h"
#include "macro.h"
#include "relay.h"

/* A TCP socket listening on [::1] (port 0: the kernel's pick), non-blocking; its address. */
static int listener(struct sockaddr_in6 *ret) {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 8), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) ret, &len), 0);
        return fd;
}

static int client_of(const struct sockaddr_in6 *to) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        /* The relay's socket listens: connect() completes from its backlog, before any accept. */
        assert_int_equal(connect(fd, (const struct sockaddr *) to, sizeof(*to)), 0);
        assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        return fd;
}

/* Runs the loop until f(fd) stops saying EAGAIN (at most two seconds): its result. */
static ssize_t run_until(Event *e, ssize_t (*f)(int fd, char *buf, size_t n), int fd, char *buf, size_t n) {
        for (int i = 0; i < 200; i++) {
                ssize_t r = f(fd, buf, n);
                if (r >= 0 || errno != EAGAIN)
                        return r;
                assert_true(event_run(e, 10 * USEC_PER_MSEC) >= 0);
        }
        fail_msg("nothing happened on fd %d", fd);
        return -1;
}

static ssize_t do_accept(int fd, char *buf, size_t n) {
        return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

static ssize_t do_read(int fd, char *buf, size_t n) {
        return read(fd, buf, n);
}

/* The fault: a connection to a port published on [::1] went nowhere (the kernel cannot NAT it).
 * Through the relay the bytes go both ways, a half-close passes on (an HTTP/1.0 client that
 * shuts its side still gets the answer), and the end of one side ends the other. */
static void test_relay_both_ways(void **state) {
        _cleanup_(event_freep) Event *e = NULL;
        struct sockaddr_in6 front, back;
        int lfd = listener(&front), sfd = listener(&back), c, s;
        Relay *relay = NULL;
        char buf[16];

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(relay_new(e, lfd, &back, &relay), 0);
        c = client_of(&front);
        s = (int) run_until(e, do_accept, sfd, NULL, 0);
        assert_true(s >= 0);

        assert_int_equal(write(c, "ping", 4), 4);
        assert_int_equal(shutdown(c, SHUT_WR), 0);
        assert_int_equal(run_until(e, do_read, s, buf, sizeof(buf)), 4);
        assert_memory_equal(buf, "ping", 4);
        assert_int_equal(run_until(e, do_read, s, buf, sizeof(buf)), 0); /* the client's half-close */

        assert_int_equal(write(s, "pong", 4), 4);
        close(s);
        assert_int_equal(run_until(e, do_read, c, buf, sizeof(buf)), 4);
        assert_memory_equal(buf, "pong", 4);
        assert_int_equal(run_until(e, do_read, c, buf, sizeof(buf)), 0);
        close(c);

        relay_free(relay);
        close(lfd);
        close(sfd);
}

/* The container does not listen (yet): the client's connection ends instead of hanging; the relay
 * goes on accepting. And relay_free() with a connection open drops it (ASan sees no leak). */
static void test_relay_refused_and_free(void **state) {
        _cleanup_(event_freep) Event *e = NULL;
        struct sockaddr_in6 front, back;
        int lfd = listener(&front), sfd = listener(&back), c, s;
        Relay *relay = NULL;
        char buf[16];
        ssize_t r;

        close(sfd); /* nothing listens on back any more */
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(relay_new(e, lfd, &back, &relay), 0);
        c = client_of(&front);
        r = run_until(e, do_read, c, buf, sizeof(buf));
        assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
        close(c);

        sfd = listener(&back);
        relay_free(relay);
        assert_int_equal(relay_new(e, lfd, &back, &relay), 0);
        c = client_of(&front);
        s = (int) run_until(e, do_accept, sfd, NULL, 0);
        assert_true(s >= 0);
        relay_free(relay);
        assert_int_equal(run_until(e, do_read, s, buf, sizeof(buf)), 0); /* dropped */
        close(s);
        close(c);
        close(lfd);
        close(sfd);
}

/* The fault: a client that sent more than the relay's 64 KiB buffer and shut its side, once the
 * container had answered and closed its own, was cut off: the relay took the hangup on the
 * client's socket (its FIN after the relay's shutdown) for a reset while the container, a slow
 * reader, had not taken the rest yet. Every byte arrives, then the end. */
static void test_relay_half_close_drains(void **state) {
        _cleanup_(event_freep) Event *e = NULL;
        struct sockaddr_in6 front, back;
        int lfd = listener(&front), sfd = listener(&back), c, s;
        Relay *relay = NULL;
        static char out[1 << 20], in[4096];
        size_t sent = 0, got = 0;
        bool shut = false, done = false;

        for (size_t i = 0; i < sizeof(out); i++)
                out[i] = (char) (i * 7);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(relay_new(e, lfd, &back, &relay), 0);
        c = client_of(&front);
        s = (int) run_until(e, do_accept, sfd, NULL, 0);
        assert_true(s >= 0);
        assert_int_equal(write(s, "answer", 6), 6);
        assert_int_equal(shutdown(s, SHUT_WR), 0);
        assert_int_equal(run_until(e, do_read, c, in, sizeof(in)), 6);
        assert_int_equal(run_until(e, do_read, c, in, sizeof(in)), 0); /* the relay shut its side to c */

        for (int round = 0; !done && round < 100000; round++) {
                ssize_t n;

                if (sent < sizeof(out)) {
                        n = write(c, out + sent, sizeof(out) - sent);
                        if (n > 0)
                                sent += (size_t) n;
                } else if (!shut) {
                        assert_int_equal(shutdown(c, SHUT_WR), 0);
                        shut = true;
                }
                /* The slow reader: a little at a time, so that the relay's buffer stays full. */
                n = read(s, in, sizeof(in));
                if (n > 0) {
                        assert_memory_equal(in, out + got, (size_t) n);
                        got += (size_t) n;
                }
                if (n == 0)
                        done = true;
                assert_true(n >= 0 || errno == EAGAIN);
                assert_true(event_run(e, USEC_PER_MSEC) >= 0);
        }
        assert_true(done);
        assert_int_equal(got, sizeof(out));

        relay_free(relay);
        close(c);
        close(s);
        close(lfd);
        close(sfd);
}

/* The fault: every client connection took two fds with no bound, and at EMFILE the readable
 * listening socket woke the loop for ever. At the cap (an eighth of RLIMIT_NOFILE: 3 here) the
 * relay stops accepting, clients wait in the backlog, and the end of a connection lets the next
 * one in. */
static void test_relay_cap(void **state) {
        _cleanup_(event_freep) Event *e = NULL;
        struct rlimit saved, low = {.rlim_cur = 24};
        struct sockaddr_in6 front, back;
        int lfd = listener(&front), sfd = listener(&back), c[4], s[4];
        Relay *relay = NULL;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        low.rlim_max = saved.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(relay_new(e, lfd, &back, &relay), 0);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        for (size_t i = 0; i < 4; i++)
                c[i] = client_of(&front);
        for (size_t i = 0; i < 3; i++) {
                s[i] = (int) run_until(e, do_accept, sfd, NULL, 0);
                assert_true(s[i] >= 0);
        }
        for (int i = 0; i < 20; i++)
                assert_true(event_run(e, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(do_accept(sfd, NULL, 0), -1); /* the fourth waits */
        assert_int_equal(errno, EAGAIN);

        close(c[0]);
        close(s[0]);
        s[3] = (int) run_until(e, do_accept, sfd, NULL, 0);
        assert_true(s[3] >= 0);

        relay_free(relay);
        for (size_t i = 1; i < 4; i++) {
                close(c[i]);
                close(s[i]);
        }
        close(lfd);
        close(sfd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_relay_both_ways),
                cmocka_unit_test(test_relay_refused_and_free),
                cmocka_unit_test(test_relay_cap),
                cmocka_unit_test(test_relay_half_close_drains),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
