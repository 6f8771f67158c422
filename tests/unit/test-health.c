/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <errno.h>
#include <signal.h>

#include "event.h"
#include "health.h"
#include "string-util.h"

/* ---- the tally: every (state, result, within start_period) cell ---- */

static UnitSpec *spec_with(unsigned retries, usec_t start_period, usec_t interval, usec_t timeout) {
        UnitSpec *u = unit_spec_new();
        u->healthcheck.command = xnew0(char *, 1);
        strv_push(&u->healthcheck.command, xstrdup("/bin/check"));
        u->healthcheck.retries = retries;
        u->healthcheck.start_period = start_period;
        u->healthcheck.interval = interval;
        u->healthcheck.timeout = timeout;
        return u;
}

static void test_tally_every_cell(void **state) {
        /* retries 3, start_period 10 s from a run that started at 100 s; each cell starts with a
         * streak of 2 (one short of retries) unless it says otherwise. */
        static const struct {
                const char *fault; /* what a wrong cell would let through */
                HealthState from;
                unsigned streak;
                bool passed;
                usec_t check_at; /* seconds after the run started */
                HealthState to;
                unsigned streak_after;
                bool changed;
        } cells[] = {
                {"a pass that does not make a starting unit healthy", HEALTH_STARTING, 2, true, 1, HEALTH_HEALTHY, 0,
                 true},
                {"a pass that leaves the streak standing", HEALTH_HEALTHY, 2, true, 20, HEALTH_HEALTHY, 0, false},
                {"an unhealthy unit that never recovers", HEALTH_UNHEALTHY, 7, true, 20, HEALTH_HEALTHY, 0, true},
                {"a failure within start_period counted against a slow start", HEALTH_STARTING, 2, false, 9,
                 HEALTH_STARTING, 2, false},
                {"start_period measured as never ending", HEALTH_STARTING, 2, false, 10, HEALTH_UNHEALTHY, 3, true},
                {"a failure below retries that turns the unit unhealthy", HEALTH_STARTING, 1, false, 20,
                 HEALTH_STARTING, 2, false},
                {"start_period forgiving a unit that was already healthy", HEALTH_HEALTHY, 2, false, 1,
                 HEALTH_UNHEALTHY, 3, true},
                {"a healthy unit that turns unhealthy before retries", HEALTH_HEALTHY, 1, false, 20, HEALTH_HEALTHY, 2,
                 false},
                {"retries failures in a row that leave the unit healthy", HEALTH_HEALTHY, 2, false, 20,
                 HEALTH_UNHEALTHY, 3, true},
                {"an unhealthy unit whose streak stops counting", HEALTH_UNHEALTHY, 5, false, 20, HEALTH_UNHEALTHY, 6,
                 false},
                {"start_period forgiving an unhealthy unit", HEALTH_UNHEALTHY, 5, false, 1, HEALTH_UNHEALTHY, 6, false},
        };
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 10 * USEC_PER_SEC, USEC_PER_SEC, USEC_PER_SEC);
        const usec_t run = 100 * USEC_PER_SEC;

        for (size_t i = 0; i < ELEMENTSOF(cells); i++) {
                HealthTally t = {.state = cells[i].from, .failing_streak = cells[i].streak};
                bool changed = health_tally_record(&t, u, run, run + cells[i].check_at * USEC_PER_SEC, cells[i].passed);

                if (t.state != cells[i].to || t.failing_streak != cells[i].streak_after || changed != cells[i].changed)
                        fail_msg("cell %zu stops %s: got %s/%u/%d, want %s/%u/%d", i, cells[i].fault,
                                 health_state_to_string(t.state), t.failing_streak, changed,
                                 health_state_to_string(cells[i].to), cells[i].streak_after, cells[i].changed);
        }
}

static void test_tally_a_run(void **state) {
        /* The sequence a run goes through, from the start: it stops a tally that forgets the
         * streak between checks or turns unhealthy more than once. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(2, 0, USEC_PER_SEC, USEC_PER_SEC);
        HealthTally t = HEALTH_TALLY_INIT;

        assert_int_equal(t.state, HEALTH_STARTING);
        assert_false(health_tally_record(&t, u, 0, 1, false));
        assert_int_equal(t.failing_streak, 1);
        assert_true(health_tally_record(&t, u, 0, 2, false));
        assert_int_equal(t.state, HEALTH_UNHEALTHY);
        assert_false(health_tally_record(&t, u, 0, 3, false));
        assert_int_equal(t.failing_streak, 3);
        assert_true(health_tally_record(&t, u, 0, 4, true));
        assert_int_equal(t.state, HEALTH_HEALTHY);
        assert_int_equal(t.failing_streak, 0);
        assert_false(health_tally_record(&t, u, 0, 5, false));
        assert_int_equal(t.state, HEALTH_HEALTHY);
}

/* ---- the runner, against a fake exec on a real loop ---- */

typedef enum FakeMode {
        FAKE_PASS,
        FAKE_FAIL,        /* exit 1 */
        FAKE_HANG,        /* writes its output, never exits */
        FAKE_SETUP_ERROR, /* 127, "not found" */
        FAKE_REFUSE,      /* exec() < 0 */
        FAKE_KILLED,      /* ended by SIGSEGV */
} FakeMode;

#define FAKE_MAX 32

typedef struct Fake {
        Event *e;
        HealthCheck *h;
        FakeMode script[FAKE_MAX]; /* the i-th check's mode; past n_script: the last one */
        size_t n_script;
        bool uncancellable; /* exec() gives no handle, as the vm driver's */
        usec_t duration;    /* of a check that ends */
        const char *output; /* written on stdout at its start */
        size_t output_len;
        bool free_in_changed;

        unsigned execs, cancels, running, max_running;
        usec_t exec_at[FAKE_MAX], ended_at[FAKE_MAX];
        char *argv0;

        /* the exec that runs */
        EventSource *pending;
        FakeMode mode;
        const ExecCallbacks *cb;
        void *cb_userdata;
        bool output_sent;
        int handle;

        unsigned changes;
        HealthState olds[FAKE_MAX], news[FAKE_MAX];
        InstanceStatus last; /* health_check_status() at the last changed() */
} Fake;

static void fake_end(Fake *f, const ExecResult *res) {
        const ExecCallbacks *cb = f->cb;

        f->pending = event_source_free(f->pending);
        f->running--;
        f->ended_at[f->execs - 1] = now(CLOCK_MONOTONIC);
        cb->exited(res, f->cb_userdata);
}

static void fake_step(EventSource *s, usec_t t, void *userdata) {
        Fake *f = userdata;
        ExecResult res = {};

        if (!f->output_sent) {
                f->output_sent = true;
                if (f->output)
                        f->cb->output(EXEC_STDOUT, f->output, f->output_len, f->cb_userdata);
                if (f->mode == FAKE_HANG)
                        return;
                event_source_set_time(s, t + f->duration);
                return;
        }
        switch (f->mode) {
        case FAKE_PASS:
                break;
        case FAKE_FAIL:
                res.code = 1;
                break;
        case FAKE_SETUP_ERROR:
                res.code = 127;
                res.error = "cannot run /bin/check: No such file or directory";
                break;
        case FAKE_KILLED:
                res.code = -1;
                res.signal = SIGSEGV;
                break;
        case FAKE_HANG:
        case FAKE_REFUSE:
                fail();
        }
        fake_end(f, &res);
}

static int fake_exec(const ExecRequest *req, const ExecCallbacks *cb, void *cb_userdata, DriverExec **ret,
                     SupError **ret_error, void *userdata) {
        Fake *f = userdata;
        FakeMode mode = f->script[f->execs < f->n_script ? f->execs : f->n_script - 1];

        assert_true(f->execs < FAKE_MAX);
        free(f->argv0);
        f->argv0 = xstrdup(req->argv[0]);
        f->exec_at[f->execs++] = now(CLOCK_MONOTONIC);
        if (mode == FAKE_REFUSE) {
                f->ended_at[f->execs - 1] = f->exec_at[f->execs - 1];
                return sup_error_make(ret_error, -ENOTCONN, "the workload does not run");
        }
        f->running++;
        f->max_running = MAX(f->max_running, f->running);
        f->mode = mode;
        f->cb = cb;
        f->cb_userdata = cb_userdata;
        f->output_sent = false;
        /* Never from within exec() (exec.h): the first step on the next round of the loop. */
        (void) event_add_time(f->e, &f->pending, now(CLOCK_MONOTONIC), fake_step, f);
        *ret = f->uncancellable ? NULL : (DriverExec *) &f->handle;
        return 0;
}

static void fake_cancel(DriverExec *x, void *userdata) {
        Fake *f = userdata;

        assert_ptr_equal(x, &f->handle);
        f->cancels++;
        f->running--;
        f->ended_at[f->execs - 1] = now(CLOCK_MONOTONIC);
        f->pending = event_source_free(f->pending);
}

static void fake_changed(HealthCheck *h, HealthState old_state, HealthState new_state, void *userdata) {
        Fake *f = userdata;

        assert_ptr_equal(h, f->h);
        assert_true(f->changes < FAKE_MAX);
        f->olds[f->changes] = old_state;
        f->news[f->changes] = new_state;
        f->changes++;
        health_check_status(h, &f->last);
        assert_int_equal(health_check_state(h), new_state);
        if (f->free_in_changed)
                f->h = health_check_free(h);
}

static const HealthCheckOps fake_ops = {
        .exec = fake_exec,
        .cancel = fake_cancel,
        .changed = fake_changed,
};

static Fake *fake_new(FakeMode first) {
        Fake *f = xnew0(Fake, 1);

        assert_int_equal(event_new(&f->e), 0);
        f->script[0] = first;
        f->n_script = 1;
        f->duration = 5 * USEC_PER_MSEC;
        return f;
}

/* Starts checking a run that started so long ago that the first check is due at once: the
 * tests do not wait the real second. */
static void fake_start(Fake *f, const UnitSpec *u) {
        f->h = health_check_new(f->e, u, now(CLOCK_MONOTONIC) - USEC_PER_SEC, &fake_ops, f);
        assert_non_null(f->h);
}

static void fake_free(Fake *f) {
        health_check_free(f->h);
        event_source_free(f->pending);
        event_free(f->e);
        instance_status_done(&f->last);
        free(f->argv0);
        free(f);
}

/* Runs the loop until changed() has been called n times. The bound only ends a test that would
 * otherwise hang; no result depends on it. */
static void run_until_changes(Fake *f, unsigned n) {
        usec_t give_up = now(CLOCK_MONOTONIC) + 20 * USEC_PER_SEC;

        while (f->changes < n) {
                assert_true(now(CLOCK_MONOTONIC) < give_up);
                assert_int_equal(event_run(f->e, 100 * USEC_PER_MSEC), 0);
        }
}

static void test_first_check_within_a_second_not_an_interval(void **state) {
        /* A first check that waited a whole interval would keep `requires` waiting that long. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, 30 * USEC_PER_SEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_PASS);
        usec_t run = now(CLOCK_MONOTONIC) - 950 * USEC_PER_MSEC;

        f->h = health_check_new(f->e, u, run, &fake_ops, f);
        assert_int_equal(f->execs, 0); /* nothing from within the call */
        run_until_changes(f, 1);
        assert_true(f->exec_at[0] >= run + USEC_PER_SEC);           /* not before its second */
        assert_true(f->exec_at[0] < run + u->healthcheck.interval); /* nor an interval late */
        assert_string_equal(f->argv0, "/bin/check");
        assert_int_equal(f->olds[0], HEALTH_STARTING);
        assert_int_equal(f->news[0], HEALTH_HEALTHY);
        assert_true(f->last.health.enabled);
        assert_int_equal(f->last.health.state, HEALTH_HEALTHY);
        assert_int_equal(f->last.health.last_exit_code, 0);
        assert_true(f->last.health.last_at > 0);
        fake_free(f);
}

static void test_a_short_interval_is_the_first_delay(void **state) {
        /* interval below a second: the first check comes after interval, not after a second. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, 10 * USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_PASS);
        usec_t run = now(CLOCK_MONOTONIC);

        f->h = health_check_new(f->e, u, run, &fake_ops, f);
        run_until_changes(f, 1);
        assert_true(f->exec_at[0] >= run + u->healthcheck.interval);
        assert_true(f->exec_at[0] < run + USEC_PER_SEC);
        fake_free(f);
}

static void test_hung_check_is_cancelled_and_counts(void **state) {
        /* A check that hangs must not hold the checks up forever: it is killed at its timeout
         * and counts as a failure, timed out, by SIGKILL, with what it wrote before it hung. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(1, 0, 10 * USEC_PER_MSEC, 20 * USEC_PER_MSEC);
        Fake *f = fake_new(FAKE_HANG);

        f->output = "connecting...";
        f->output_len = strlen(f->output);
        fake_start(f, u);
        run_until_changes(f, 1);
        assert_int_equal(f->cancels, 1);
        assert_int_equal(f->running, 0);
        assert_true(f->ended_at[0] >= f->exec_at[0] + u->healthcheck.timeout);
        assert_int_equal(f->news[0], HEALTH_UNHEALTHY);
        assert_true(f->last.health.last_timed_out);
        assert_int_equal(f->last.health.last_signal, SIGKILL);
        assert_int_equal(f->last.health.last_exit_code, -1);
        assert_int_equal(f->last.health.failing_streak, 1);
        assert_string_equal(f->last.health.last_output, "connecting...");
        /* The next check comes, and hangs again: counted again. */
        run_until_changes(f, 2);
        assert_int_equal(f->cancels, 2);
        assert_int_equal(f->last.health.failing_streak, 2);
        assert_int_equal(f->olds[1], HEALTH_UNHEALTHY);
        assert_int_equal(f->news[1], HEALTH_UNHEALTHY);
        fake_free(f);
}

static void test_checks_never_overlap(void **state) {
        /* Checks slower than the interval: the next one starts interval after the previous one
         * ended, never beside it. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, 5 * USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_PASS);

        f->duration = 20 * USEC_PER_MSEC;
        fake_start(f, u);
        run_until_changes(f, 5);
        assert_int_equal(f->max_running, 1);
        for (unsigned i = 1; i < 5; i++)
                assert_true(f->exec_at[i] >= f->ended_at[i - 1] + u->healthcheck.interval);
        fake_free(f);
}

static void test_uncancellable_hung_check_blocks_and_counts(void **state) {
        /* A driver that cannot cancel (the vm driver): no second check beside the hung one,
         * yet each of its turns counts, so that the unit still turns unhealthy. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, 10 * USEC_PER_MSEC, 10 * USEC_PER_MSEC);
        Fake *f = fake_new(FAKE_HANG);
        ExecResult killed = {.code = -1, .signal = SIGKILL};

        f->uncancellable = true;
        f->script[1] = FAKE_PASS;
        f->n_script = 2;
        fake_start(f, u);
        run_until_changes(f, 3);
        assert_int_equal(f->execs, 1);
        assert_int_equal(f->cancels, 0);
        assert_int_equal(f->news[2], HEALTH_UNHEALTHY);
        assert_true(f->last.health.last_timed_out);
        assert_int_equal(f->last.health.last_signal, 0); /* not killed: it still runs */
        /* Its own end is not a result; the check after it is. */
        fake_end(f, &killed);
        assert_int_equal(f->changes, 3);
        run_until_changes(f, 4);
        assert_int_equal(f->execs, 2);
        assert_int_equal(f->olds[3], HEALTH_UNHEALTHY);
        assert_int_equal(f->news[3], HEALTH_HEALTHY);
        assert_int_equal(f->max_running, 1);
        fake_free(f);
}

static void test_transitions_reach_changed(void **state) {
        /* Every check is reported, with the states before and after: the monitor logs and acts
         * on old != new only. */
        static const FakeMode script[] = {FAKE_PASS, FAKE_FAIL, FAKE_KILLED, FAKE_FAIL, FAKE_PASS};
        static const HealthState want[] = {HEALTH_STARTING, HEALTH_HEALTHY,   HEALTH_HEALTHY,
                                           HEALTH_HEALTHY,  HEALTH_UNHEALTHY, HEALTH_HEALTHY};
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_PASS);

        memcpy(f->script, script, sizeof(script));
        f->n_script = ELEMENTSOF(script);
        fake_start(f, u);
        run_until_changes(f, ELEMENTSOF(script));
        for (size_t i = 0; i < ELEMENTSOF(script); i++) {
                assert_int_equal(f->olds[i], want[i]);
                assert_int_equal(f->news[i], want[i + 1]);
        }
        assert_int_equal(f->last.health.failing_streak, 0);
        fake_free(f);
}

/* The status after one check of mode that wrote output (NULL: nothing). */
static Fake *run_one_check(FakeMode mode, const char *output, const UnitSpec *u) {
        Fake *f = fake_new(mode);

        f->output = output;
        f->output_len = output ? strlen(output) : 0;
        fake_start(f, u);
        run_until_changes(f, 1);
        assert_int_equal(f->last.health.failing_streak, 1);
        assert_false(f->last.health.last_timed_out);
        return f;
}

static void test_killed_check_fails_with_its_signal(void **state) {
        /* A check ended by a signal is a failure whose status names the signal. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = run_one_check(FAKE_KILLED, NULL, u);

        assert_int_equal(f->last.health.last_signal, SIGSEGV);
        assert_int_equal(f->last.health.last_exit_code, -1);
        fake_free(f);
}

static void test_setup_error_is_the_output(void **state) {
        /* A check whose command is not there says why in the status, not an empty output. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = run_one_check(FAKE_SETUP_ERROR, "ignored", u);

        assert_int_equal(f->last.health.last_exit_code, 127);
        assert_string_equal(f->last.health.last_output, "cannot run /bin/check: No such file or directory");
        fake_free(f);
}

static void test_exec_that_cannot_start_counts(void **state) {
        /* exec() refused (the workload is not reachable): a failure with the driver's reason,
         * and the checks go on. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(2, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_REFUSE);

        fake_start(f, u);
        run_until_changes(f, 2);
        assert_int_equal(f->execs, 2);
        assert_int_equal(f->news[1], HEALTH_UNHEALTHY);
        assert_int_equal(f->last.health.last_exit_code, 126);
        assert_string_equal(f->last.health.last_output, "the workload does not run");
        fake_free(f);
}

static void test_start_period_on_the_loop(void **state) {
        /* Failures of a slow start are not counted (the run started now, start_period is long),
         * and still reported (the status shows the last check). */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(1, 60 * USEC_PER_SEC, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_FAIL);

        fake_start(f, u);
        run_until_changes(f, 3);
        assert_int_equal(f->news[2], HEALTH_STARTING);
        assert_int_equal(f->last.health.failing_streak, 0);
        assert_int_equal(f->last.health.last_exit_code, 1);
        fake_free(f);
}

static void test_output_keeps_the_tail_as_text(void **state) {
        /* A check that floods its output keeps its last HEALTH_OUTPUT_MAX bytes, where the error
         * is; a character cut at the front and NUL bytes (which would end the string) go. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_FAIL);
        size_t n = 3000;
        char *big = xnew(char, n);

        memset(big, 'x', n);
        /* "é" (2 bytes) straddling the cut: its second byte would start the tail. */
        memcpy(big + n - HEALTH_OUTPUT_MAX - 1, "\xc3\xa9", 2);
        big[n - 10] = '\0';
        memcpy(big + n - 5, "ERROR", 5);
        f->output = big;
        f->output_len = n;
        fake_start(f, u);
        run_until_changes(f, 1);
        assert_int_equal(strlen(f->last.health.last_output), HEALTH_OUTPUT_MAX - 2);
        assert_true(endswith(f->last.health.last_output, "xxxxERROR"));
        assert_int_equal(f->last.health.last_output[0], 'x');
        fake_free(f);
        free(big);
}

static void test_free_while_checking_is_silent(void **state) {
        /* The monitor frees the check when the run ends: the running check is cancelled and
         * nothing is reported afterwards. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_HANG);

        fake_start(f, u);
        while (f->execs == 0)
                assert_int_equal(event_run(f->e, 100 * USEC_PER_MSEC), 0);
        f->h = health_check_free(f->h);
        assert_int_equal(f->cancels, 1);
        assert_int_equal(event_run(f->e, 20 * USEC_PER_MSEC), 0);
        assert_int_equal(f->changes, 0);
        fake_free(f);
}

static void test_uncancellable_check_outlives_its_owner(void **state) {
        /* A check the driver cannot cancel ends after the HealthCheck is gone: its callbacks
         * must not reach the freed owner (ASan sees it if they do). */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(3, 0, USEC_PER_MSEC, USEC_PER_SEC);
        Fake *f = fake_new(FAKE_HANG);
        ExecResult killed = {.code = -1, .signal = SIGKILL};

        f->uncancellable = true;
        f->output = "late";
        f->output_len = 4;
        fake_start(f, u);
        while (f->execs == 0)
                assert_int_equal(event_run(f->e, 100 * USEC_PER_MSEC), 0);
        f->h = health_check_free(f->h);
        assert_int_equal(event_run(f->e, 0), 0); /* the output step, to nobody */
        fake_end(f, &killed);
        assert_int_equal(f->changes, 0);
        assert_int_equal(f->cancels, 0);
        fake_free(f);
}

static void test_changed_may_free(void **state) {
        /* The monitor frees the check from changed() when it acts on unhealthy. */
        _cleanup_(unit_spec_freep) UnitSpec *u = spec_with(1, 0, USEC_PER_MSEC, 10 * USEC_PER_MSEC);
        Fake *f = fake_new(FAKE_HANG);

        f->free_in_changed = true;
        fake_start(f, u);
        run_until_changes(f, 1);
        assert_null(f->h);
        assert_int_equal(event_run(f->e, 20 * USEC_PER_MSEC), 0);
        assert_int_equal(f->changes, 1);
        assert_int_equal(f->execs, 1);
        fake_free(f);
}

static void test_no_healthcheck_no_runner(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_spec_new();
        Event *e = NULL;

        assert_int_equal(event_new(&e), 0);
        assert_null(health_check_new(e, u, 0, &fake_ops, NULL));
        event_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tally_every_cell),
                cmocka_unit_test(test_tally_a_run),
                cmocka_unit_test(test_first_check_within_a_second_not_an_interval),
                cmocka_unit_test(test_a_short_interval_is_the_first_delay),
                cmocka_unit_test(test_hung_check_is_cancelled_and_counts),
                cmocka_unit_test(test_checks_never_overlap),
                cmocka_unit_test(test_uncancellable_hung_check_blocks_and_counts),
                cmocka_unit_test(test_transitions_reach_changed),
                cmocka_unit_test(test_killed_check_fails_with_its_signal),
                cmocka_unit_test(test_setup_error_is_the_output),
                cmocka_unit_test(test_exec_that_cannot_start_counts),
                cmocka_unit_test(test_start_period_on_the_loop),
                cmocka_unit_test(test_output_keeps_the_tail_as_text),
                cmocka_unit_test(test_free_while_checking_is_silent),
                cmocka_unit_test(test_uncancellable_check_outlives_its_owner),
                cmocka_unit_test(test_changed_may_free),
                cmocka_unit_test(test_no_healthcheck_no_runner),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
