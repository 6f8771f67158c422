/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include "rlimits.h"

/* A host as these machines are: nofile 20000:20000 (below systemd's 524288), nproc from the RAM. */
static void host_limits(RlimitSet host) {
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                host[i] = (struct rlimit){.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
        host[RLIMIT_NOFILE] = (struct rlimit){.rlim_cur = 20000, .rlim_max = 20000};
        host[RLIMIT_NPROC] = (struct rlimit){.rlim_cur = 96367, .rlim_max = 96367};
        host[RLIMIT_STACK] = (struct rlimit){.rlim_cur = 8 << 20, .rlim_max = RLIM_INFINITY};
        host[RLIMIT_CORE] = (struct rlimit){.rlim_cur = 0, .rlim_max = RLIM_INFINITY};
}

static UnitSpec *unit(const char *rlimits) {
        _cleanup_free_ char *yaml = xasprintf(MINIMAL_UNIT "%s", rlimits);
        UnitSpec *u = NULL;
        Diagnostics d = {};

        if (parse_text("u.yaml", yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        diagnostics_done(&d);
        return u;
}

static void test_defaults(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit("");
        RlimitSet host, l;

        host_limits(host);
        assert_int_equal(rlimits_resolve(u, host, false, l, NULL), 0);
        /* A command that inherited supd's nofile 20000 (or a guest kernel's 1024:4096) gets
         * systemd's 1024 soft; the hard limit the host can give, not an error. */
        assert_int_equal(l[RLIMIT_NOFILE].rlim_cur, 1024);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_max, 20000);
        /* The rest as the host has it, which the guest then gets as numbers (nproc was 831 there). */
        assert_int_equal(l[RLIMIT_NPROC].rlim_cur, 96367);
        assert_int_equal(l[RLIMIT_NPROC].rlim_max, 96367);
        assert_int_equal(l[RLIMIT_STACK].rlim_cur, 8 << 20);
        assert_true(l[RLIMIT_CORE].rlim_max == RLIM_INFINITY);

        /* With CAP_SYS_RESOURCE, systemd's hard limit itself. */
        assert_int_equal(rlimits_resolve(u, host, true, l, NULL), 0);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_max, 524288);
        /* A host whose hard limit is below 1024: the soft limit follows it down. */
        host[RLIMIT_NOFILE] = (struct rlimit){.rlim_cur = 512, .rlim_max = 512};
        assert_int_equal(rlimits_resolve(u, host, false, l, NULL), 0);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_cur, 512);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_max, 512);
}

static void test_unit_values(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u =
                unit("rlimits: {nofile: 4096, core: 0, nproc: {soft: 10, hard: 20}, stack: unlimited}\n");
        RlimitSet host, l;

        host_limits(host);
        assert_int_equal(rlimits_resolve(u, host, false, l, NULL), 0);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_cur, 4096);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_max, 4096);
        assert_int_equal(l[RLIMIT_CORE].rlim_max, 0);
        assert_int_equal(l[RLIMIT_NPROC].rlim_cur, 10);
        assert_int_equal(l[RLIMIT_NPROC].rlim_max, 20);
        assert_true(l[RLIMIT_STACK].rlim_cur == RLIM_INFINITY);
}

static void test_above_host_refused(void **state) {
        /* podman's default nofile on these machines: a hard limit above the host's. In a guest it
         * would be granted, in process mode refused: refused in both, on the host, before either
         * starts. */
        _cleanup_(unit_spec_freep) UnitSpec *u = unit("rlimits: {nofile: {soft: 1024, hard: 1048576}}\n");
        RlimitSet host, l;
        _cleanup_sup_error_ SupError *error = NULL;

        host_limits(host);
        assert_int_equal(rlimits_resolve(u, host, false, l, &error), -EPERM);
        assert_non_null(strstr(sup_error_message(error),
                               "rlimits.nofile: the hard limit 1048576 is above this host's (20000)"));
        assert_non_null(strstr(sup_error_message(error), "CAP_SYS_RESOURCE"));
        assert_int_equal(rlimits_resolve(u, host, true, l, NULL), 0);
        assert_int_equal(l[RLIMIT_NOFILE].rlim_max, 1048576);
}

static void test_json_round_trip(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit("rlimits: {nofile: 4096, stack: unlimited}\n");
        RlimitSet host, l, back;
        _cleanup_sup_error_ SupError *error = NULL;
        json_t *j;

        host_limits(host);
        assert_int_equal(rlimits_resolve(u, host, false, l, NULL), 0);
        j = rlimits_to_json(l);
        assert_int_equal(json_object_size(j), _UNIT_RLIMIT_MAX);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "stack"), "hard")), "unlimited");
        assert_int_equal(rlimits_from_json(j, back, &error), 0);
        assert_null(error);
        assert_memory_equal(l, back, sizeof(RlimitSet));
        /* A resource the guest does not know: refused, not ignored. */
        json_object_set_new(j, "threads", json_pack("{s:i, s:i}", "soft", 1, "hard", 1));
        assert_int_equal(rlimits_from_json(j, back, &error), -EINVAL);
        assert_non_null(strstr(sup_error_message(error), "spec.rlimits: unknown resources"));
        json_decref(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_unit_values),
                cmocka_unit_test(test_above_host_refused),
                cmocka_unit_test(test_json_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
