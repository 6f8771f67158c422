/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <signal.h>

#include "instance.h"
#include "status-table.h"

/* A status with something in every key: a hyperv unit that exited on a signal, with a health
 * check's last run, an image, a pull, a user namespace. */
static void full_status(InstanceStatus *s) {
        static char *images[] = {(char *) "sha256:aaaa", (char *) "sha256:bbbb", NULL};

        *s = (InstanceStatus){
                .name = (char *) "web",
                .hash = (char *) "0123abcd",
                .isolation = ISOLATION_HYPERV,
                .state = INSTANCE_BACKOFF,
                .admin_stopped = true,
                .pid = 42,
                .monitor_pid = 41,
                .restarts = 3,
                .has_exit = true,
                .exit_code = -1,
                .exit_signal = SIGKILL,
                .oom = true,
                .started_at = 1700000000000000,
                .exited_at = 1700000001000000,
                .next_restart_at = 1700000002000000,
                .reason = (char *) "why",
                .restart_reason = (char *) "the command exited",
                .log_path = (char *) "/var/log/web.log",
                .address = (char *) "10.0.0.2",
                .userns_base = 100000,
                .userns_size = 65536,
                .images = images,
                .image_layers = 2,
                .pull = {.reference = (char *) "r/x:1",
                         .bytes_done = 1,
                         .bytes_total = 2,
                         .layers_done = 3,
                         .layers_total = 4},
                .health = {.enabled = true,
                           .state = HEALTH_UNHEALTHY,
                           .failing_streak = 2,
                           .last_at = 1700000003000000,
                           .last_signal = SIGTERM,
                           .last_timed_out = true,
                           .last_output = (char *) "out"},
                .vm = {.guest_pid = 7,
                       .accel = (char *) "tcg",
                       .memory = 1 << 20,
                       .vcpus = 1,
                       .stop_step = (char *) "acpi",
                       .end = (char *) "exited"},
        };
}

/* Each key alone, from the per-key encoders, is what the whole object has under it: a request that
 * names keys (`supctl status`'s table) reads the same values as `status --json`. And the keys are
 * all of the object's, none left out of the table nor missing from it. */
static void test_each_key_alone_is_the_full_objects(void **state) {
        InstanceStatus statuses[3];
        unsigned n_keys = 0;

        full_status(&statuses[0]);
        statuses[1] = (InstanceStatus){.name = (char *) "bare", .state = INSTANCE_STOPPED};
        full_status(&statuses[2]);
        statuses[2].isolation = ISOLATION_PROCESS; /* no vm */
        statuses[2].exit_signal = 0;               /* an exit code, no signal */
        statuses[2].exit_code = 3;
        statuses[2].health.last_signal = 0;

        /* The keys of `supctl status --json` (docs/supd.md), each encoded by the table. */
        static const char *const protocol_keys[] = {
                "name",
                "hash",
                "isolation",
                "state",
                "admin_stopped",
                "pid",
                "monitor_pid",
                "restarts",
                "exit_code",
                "exit_signal",
                "oom",
                "started_at",
                "exited_at",
                "next_restart_at",
                "reason",
                "restart_reason",
                "log",
                "address",
                "user_namespace",
                "image",
                "pull",
                "health",
                "vm",
        };

        while (instance_status_key(n_keys))
                n_keys++;
        assert_int_equal(n_keys, ELEMENTSOF(protocol_keys));
        for (size_t k = 0; k < ELEMENTSOF(protocol_keys); k++)
                assert_string_equal(instance_status_key(k), protocol_keys[k]);
        for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
                json_t *full = instance_status_to_json(&statuses[i]);
                assert_int_equal(json_object_size(full), n_keys);
                for (unsigned k = 0; k < n_keys; k++) {
                        const char *key = instance_status_key(k);
                        json_t *fields = json_pack("[s]", key);
                        uint32_t mask = instance_status_keys_mask(fields);
                        json_t *one = instance_status_to_json_keys(&statuses[i], mask, false);
                        json_t *lean = instance_status_to_json_keys(&statuses[i], mask, true);

                        assert_int_equal(mask, UINT32_C(1) << k);
                        assert_int_equal(json_object_size(one), 1);
                        assert_non_null(json_object_get(full, key));
                        assert_true(json_equal(json_object_get(one, key), json_object_get(full, key)));
                        /* Left out only when null. */
                        assert_int_equal(json_object_size(lean), json_is_null(json_object_get(full, key)) ? 0 : 1);
                        json_decref(lean);
                        json_decref(one);
                        json_decref(fields);
                }
                json_decref(full);
        }
}

/* A list of keys: names of no key are ignored, the others built, and the nulls left out. */
static void test_fields_build_only_the_named_keys(void **state) {
        InstanceStatus s = {.name = (char *) "web", .state = INSTANCE_RUNNING, .pid = 9};
        json_t *fields = json_pack("[s,s,s,s,s]", "name", "state", "pid", "reason", "no-such-key");
        json_t *o = instance_status_to_json_keys(&s, instance_status_keys_mask(fields), true);
        json_t *want = json_pack("{s:s,s:s,s:i}", "name", "web", "state", "running", "pid", 9);

        assert_true(json_equal(o, want));
        assert_int_equal(instance_status_keys_mask(NULL), INSTANCE_STATUS_KEYS_ALL);
        json_decref(want);
        json_decref(o);
        json_decref(fields);
}

/* `supctl status`'s table, as supd now writes it for supctl: the columns of each state, and the
 * note (a unit's reason, or its pull) cut to 60 characters. A reason can quote what the workload
 * wrote (a health check's output): its terminal controls are shown as '?'. Stops: a check whose
 * output is "\e]0;title\a\e[2J" retitling and clearing the operator's terminal through `supctl
 * status` (the table printed reasons as they came); and any change to the columns, widths and
 * cuts supctl printed before the table moved to supd. */
static void test_status_table(void **state) {
        const usec_t now = 1700000100000000;
        json_t *units =
                json_pack("[{s:s, s:s, s:s, s:{s:s}, s:i, s:o, s:i, s:s},"
                          " {s:s, s:s, s:s, s:s, s:b, s:o, s:i, s:s},"
                          " {s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i, s:i}},"
                          " {s:s, s:s, s:s, s:i}]",
                          "name", "web", "isolation", "process", "state", "running", "health", "status", "healthy",
                          "pid", 42, "started_at", timestamp_to_json(now - 90 * USEC_PER_SEC), "restarts", 1, "reason",
                          "the last check: \x1b]0;pwned\x07\x1b[2J\xc2\x9b"
                          "31m",
                          "name", "db", "isolation", "hyperv", "state", "backoff", "exit_signal", "SIGKILL", "oom", 1,
                          "next_restart_at", timestamp_to_json(now + 5 * USEC_PER_SEC), "restarts", 3, "reason",
                          "0123456789012345678901234567890123456789012345678901234567890123456789", "name", "pulled",
                          "isolation", "process", "state", "starting", "pull", "reference", "r/x:1", "layers_done", 3,
                          "layers_total", 4, "bytes_done", 1, "bytes_total", 2, "name", "done", "isolation", "process",
                          "state", "exited", "exit_code", 0);
        _cleanup_free_ char *text = status_table_format(units, now);
        const char *want =
                "UNIT             ISOLATION STATE    HEALTH        PID UPTIME   RESTARTS LAST EXIT     NEXT RESTART "
                "NOTE\n"
                "web              process   running  healthy        42 1m 30s          1 -             -            "
                "the last check: ?]0;pwned??[2J?31m\n"
                "db               hyperv    backoff  -               - -               3 SIGKILL (oom) in 5.0s      "
                "012345678901234567890123456789012345678901234567890123456789...\n"
                "pulled           process   starting -               - -               0 -             -            "
                "pulling r/x:1: 3/4 layers, 1/2 bytes\n"
                "done             process   exited   -               - -               0 code 0        -            \n";

        assert_non_null(text);
        assert_string_equal(text, want);
        json_decref(units);

        /* A reason whose 60th byte is inside a character is cut before it: supd sends the table
         * as a JSON string, which a split "é" would make invalid (json_pack() refuses it). */
        units = json_pack("[{s:s, s:s, s:s, s:s}]", "name", "u", "isolation", "process", "state", "failed", "reason",
                          "01234567890123456789012345678901234567890123456789012345678\u00e9tat et plus");
        free(text);
        text = status_table_format(units, now);
        assert_non_null(strstr(text, " 01234567890123456789012345678901234567890123456789012345678...\n"));
        json_t *j = json_pack("{s:s}", "text", text);
        assert_non_null(j);
        json_decref(j);
        json_decref(units);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_each_key_alone_is_the_full_objects),
                cmocka_unit_test(test_fields_build_only_the_named_keys),
                cmocka_unit_test(test_status_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
