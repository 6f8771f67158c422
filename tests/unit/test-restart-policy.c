/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include "restart-policy.h"

static UnitSpec *spec(const char *restart) {
        UnitSpec *u = NULL;
        Diagnostics d = {};
        char yaml[512];

        snprintf(yaml, sizeof(yaml), MINIMAL_UNIT "restart: %s\n", restart);
        assert_int_equal(parse_text("u.yaml", yaml, &d, &u), 0);
        return u;
}

static void test_policy_table(void **state) {
        /* Every cell of policy x exit kind. */
        static const struct {
                RestartPolicy policy;
                RunEnd kind;
                bool restart;
        } cells[] = {
                { RESTART_NO, RUN_CLEAN, false },        { RESTART_NO, RUN_FAILED, false },
                { RESTART_NO, RUN_SETUP_FAILED, false },        { RESTART_ON_FAILURE, RUN_CLEAN, false },
                { RESTART_ON_FAILURE, RUN_FAILED, true }, { RESTART_ON_FAILURE, RUN_SETUP_FAILED, true },
                { RESTART_ALWAYS, RUN_CLEAN, true },     { RESTART_ALWAYS, RUN_FAILED, true },
                { RESTART_ALWAYS, RUN_SETUP_FAILED, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(cells); i++)
                assert_int_equal(restart_policy_wants_restart(cells[i].policy, cells[i].kind), cells[i].restart);
}

static void test_backoff_grows_and_caps(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = spec("{delay: 1s, max_delay: 10s}");
        RestartState s = {};
        static const usec_t expected[] = { 1, 2, 4, 8, 10, 10 };

        for (size_t i = 0; i < ELEMENTSOF(expected); i++)
                assert_int_equal(restart_state_exit(&s, u, RUN_FAILED, 100 * USEC_PER_MSEC, 0.0),
                                 expected[i] * USEC_PER_SEC);
        /* A run as long as max_delay counts as healthy: the streak ends. */
        assert_int_equal(restart_state_exit(&s, u, RUN_FAILED, 10 * USEC_PER_SEC, 0.0), USEC_PER_SEC);
        assert_int_equal(s.consecutive_failures, 0);
        /* So does a clean exit (policy always). */
        (void) restart_state_exit(&s, u, RUN_FAILED, 0, 0.0);
        (void) restart_state_exit(&s, u, RUN_FAILED, 0, 0.0);
        assert_int_equal(restart_state_exit(&s, u, RUN_CLEAN, 0, 0.0), USEC_PER_SEC);
        /* Setup failures always count, however long the attempt took. */
        (void) restart_state_exit(&s, u, RUN_SETUP_FAILED, 60 * USEC_PER_SEC, 0.0);
        assert_int_equal(restart_state_exit(&s, u, RUN_SETUP_FAILED, 60 * USEC_PER_SEC, 0.0), 2 * USEC_PER_SEC);
        restart_state_done(&s);
}

static void test_jitter_is_bounded(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = spec("{delay: 10s}");
        RestartState s = {};

        assert_int_equal(restart_state_exit(&s, u, RUN_FAILED, 0, 1.0), 11 * USEC_PER_SEC);
        restart_state_reset(&s);
        assert_int_equal(restart_state_exit(&s, u, RUN_FAILED, 0, -1.0), 9 * USEC_PER_SEC);
        restart_state_reset(&s);
        assert_int_equal(restart_state_exit(&s, u, RUN_FAILED, 0, 5.0), 11 * USEC_PER_SEC); /* clamped */
        restart_state_done(&s);
}

static void test_start_limit(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = spec("{burst: 3, interval: 10s}");
        RestartState s = {};
        usec_t t = 1000 * USEC_PER_SEC;

        assert_true(restart_state_start(&s, u, t));
        assert_true(restart_state_start(&s, u, t + 1 * USEC_PER_SEC));
        assert_true(restart_state_start(&s, u, t + 2 * USEC_PER_SEC));
        /* A fourth start within 10s of the first: refused, and not recorded. */
        assert_false(restart_state_start(&s, u, t + 3 * USEC_PER_SEC));
        assert_false(restart_state_start(&s, u, t + 9 * USEC_PER_SEC));
        /* Once the first falls out of the window there is room again. */
        assert_true(restart_state_start(&s, u, t + 10 * USEC_PER_SEC));
        assert_false(restart_state_start(&s, u, t + 10 * USEC_PER_SEC + 1));
        /* An operator's start wipes the slate. */
        restart_state_reset(&s);
        assert_true(restart_state_start(&s, u, t + 10 * USEC_PER_SEC + 2));
        restart_state_done(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy_table),
                cmocka_unit_test(test_backoff_grows_and_caps),
                cmocka_unit_test(test_jitter_is_bounded),
                cmocka_unit_test(test_start_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
