/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <fcntl.h>
#include <signal.h>

#include "event.h"

static int fired;
static usec_t fired_at[4];

static void on_time(EventSource *s, usec_t t, void *userdata) {
        fired_at[fired++] = t;
}

static void test_timers_in_order(void **state) {
        Event *e = NULL;
        usec_t t0 = now(CLOCK_MONOTONIC);

        assert_int_equal(event_new(&e), 0);
        fired = 0;
        (void) event_add_time(e, NULL, t0 + 30 * USEC_PER_MSEC, on_time, NULL);
        (void) event_add_time(e, NULL, t0 + 10 * USEC_PER_MSEC, on_time, NULL);
        (void) event_add_time(e, NULL, USEC_INFINITY, on_time, NULL); /* disarmed: never fires */
        while (fired < 2)
                assert_int_equal(event_run(e, USEC_INFINITY), 0);
        assert_true(fired_at[0] >= t0 + 10 * USEC_PER_MSEC);
        assert_true(fired_at[1] >= t0 + 30 * USEC_PER_MSEC);
        assert_int_equal(event_run(e, 20 * USEC_PER_MSEC), 0);
        assert_int_equal(fired, 2);
        event_free(e);
}

static void on_signal_exit(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        Event **e = userdata;
        fired = (int) si->ssi_signo;
        event_exit(*e, 7);
}

static void test_signals_arrive_through_the_loop(void **state) {
        /* The signal is blocked and read from the signalfd, several signals sharing one. */
        Event *e = NULL;

        assert_int_equal(event_new(&e), 0);
        fired = 0;
        assert_int_equal(event_add_signal(e, NULL, SIGUSR2, on_signal_exit, &e), 0);
        assert_int_equal(event_add_signal(e, NULL, SIGUSR1, on_signal_exit, &e), 0);
        assert_int_equal(kill(getpid(), SIGUSR1), 0);
        assert_int_equal(event_loop(e), 7);
        assert_int_equal(fired, SIGUSR1);
        assert_int_equal(kill(getpid(), SIGUSR2), 0);
        assert_int_equal(event_loop(e), 7);
        assert_int_equal(fired, SIGUSR2);
        event_free(e);
}

static EventSource *victim;
static int io_calls;

static void on_io_free_other(EventSource *s, int fd, uint32_t revents, void *userdata) {
        char c;
        (void) !read(fd, &c, 1);
        io_calls++;
        victim = event_source_free(victim); /* freeing another source from a handler is safe */
        event_source_free(s);               /* and one's own */
}

static void test_free_inside_handlers(void **state) {
        Event *e = NULL;
        int a[2], b[2];

        assert_int_equal(pipe2(a, O_CLOEXEC), 0);
        assert_int_equal(pipe2(b, O_CLOEXEC), 0);
        assert_int_equal(event_new(&e), 0);
        io_calls = 0;
        assert_int_equal(event_add_io(e, NULL, a[0], EPOLLIN, on_io_free_other, NULL), 0);
        assert_int_equal(event_add_io(e, &victim, b[0], EPOLLIN, on_io_free_other, NULL), 0);
        /* Both readable in the same round: whichever runs first frees the other. */
        assert_int_equal(write(a[1], "x", 1), 1);
        assert_int_equal(write(b[1], "x", 1), 1);
        assert_int_equal(event_run(e, USEC_INFINITY), 0);
        assert_int_equal(io_calls, 1);
        assert_int_equal(event_run(e, 10 * USEC_PER_MSEC), 0);
        assert_int_equal(io_calls, 1);
        event_free(e);
        close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timers_in_order),
                cmocka_unit_test(test_signals_arrive_through_the_loop),
                cmocka_unit_test(test_free_inside_handlers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
