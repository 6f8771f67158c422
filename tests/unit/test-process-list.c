/* SPDX-License-Identifier: MIT */
/* What `top` reads of /proc: against a fake proc tree (odd names, kernel threads, zombies,
 * processes that end half-way through being read, long and non-UTF-8 command lines), and once
 * against the host's /proc for this test's own process. */
#include "test-helpers.h"

#include <unistd.h>

#include "macro.h"
#include "process-list.h"
#include "string-util.h"

/* A stat line with the fields process_read() uses; the rest as the kernel writes them. */
static void put_stat(const char *proc, int pid, const char *comm, char state, int ppid, unsigned flags,
                     unsigned long utime, unsigned long stime) {
        char *path = xasprintf("%d/stat", pid),
             *line = xasprintf("%d (%s) %c %d %d %d 0 -1 %u 120 0 0 0 %lu %lu 0 0 20 0 1 0 4711 2846720 %d\n", pid,
                               comm, state, ppid, pid, pid, flags, utime, stime, 231);
        put(proc, path, line);
        free(path);
        free(line);
}

static void put_status(const char *proc, int pid, const char *uids, const char *vmrss) {
        char *path = xasprintf("%d/status", pid),
             *text = xasprintf(
                     "Name:\tx\nState:\tS (sleeping)\nPid:\t%d\nUid:\t%s\nGid:\t0\t0\t0\t0\n%s%s%sThreads:\t1\n", pid,
                     uids, vmrss ? "VmRSS:\t" : "", vmrss ? vmrss : "", vmrss ? "\n" : "");
        put(proc, path, text);
        free(path);
        free(text);
}

static void put_cmdline(const char *proc, int pid, const char *bytes, size_t n) {
        char *path = xasprintf("%d/cmdline", pid);
        put_bytes(proc, path, bytes, n);
        free(path);
}

static char *make_proc(void) {
        char *proc = make_tree();
        char long_cmd[PROCESS_ARGS_MAX + 100];

        /* A sleeping process with parentheses in its name, a uid that differs from the real one. */
        put_stat(proc, 7, "my (odd) name", 'S', 1, 4194560, 150, 50);
        put_status(proc, 7, "1000\t1001\t1000\t1001", "    1234 kB");
        put_cmdline(proc, 7, "sh\0-c\0echo a b\0", 15);
        /* A kernel thread (PF_KTHREAD in the flags). */
        put_stat(proc, 2, "kthreadd", 'S', 0, 2129984, 0, 0);
        put_status(proc, 2, "0\t0\t0\t0", NULL);
        put_cmdline(proc, 2, "", 0);
        /* Gone before its stat was read; and one gone between its stat and its status. */
        put(proc, "3/comm", "gone\n");
        put_stat(proc, 11, "going", 'S', 1, 4194560, 0, 0);
        /* A zombie: no memory, no command line. */
        put_stat(proc, 9, "defunct", 'Z', 7, 4227084, 3, 1);
        put_status(proc, 9, "0\t0\t0\t0", NULL);
        put_cmdline(proc, 9, "", 0);
        /* A command line longer than what is kept. */
        memset(long_cmd, 'x', sizeof(long_cmd));
        memcpy(long_cmd, "cat\0", 4);
        put_stat(proc, 12, "cat", 'R', 1, 4194304, 0, 0);
        put_status(proc, 12, "0\t0\t0\t0", "4 kB");
        put_cmdline(proc, 12, long_cmd, sizeof(long_cmd));
        /* Bytes that are not UTF-8, in its name and its arguments. */
        put_stat(proc, 13, "b\377d", 'S', 1, 4194304, 0, 0);
        put_status(proc, 13, "0\t0\t0\t0", "8 kB");
        put_cmdline(proc, 13, "b\377d\0\303\0", 6);
        /* A command line rewritten in place (setproctitle): no NUL at its end. */
        put_stat(proc, 14, "nginx", 'S', 1, 4194624, 0, 0);
        put_status(proc, 14, "33\t33\t33\t33", "2048 kB");
        put_cmdline(proc, 14, "nginx: worker process", 21);
        /* Not processes. */
        put(proc, "self/stat", "x");
        put(proc, "1x/stat", "x");
        put(proc, "uptime", "1.0 1.0\n");
        return proc;
}

static void test_read(void **state) {
        char *proc = make_proc(), *expected;
        long tick = sysconf(_SC_CLK_TCK);
        json_t *p;

        expected = xasprintf("{\"pid\":7,\"ppid\":1,\"uid\":1001,\"state\":\"S\",\"rss_bytes\":%d,\"cpu_time_ms\":%ld,"
                             "\"comm\":\"my (odd) name\",\"args\":[\"sh\",\"-c\",\"echo a b\"]}",
                             1234 * 1024, 200 * 1000 / tick);
        assert_json(process_read(proc, 7), expected);
        free(expected);

        expected = xasprintf("{\"pid\":9,\"ppid\":7,\"uid\":0,\"state\":\"Z\",\"rss_bytes\":0,\"cpu_time_ms\":%ld,"
                             "\"comm\":\"defunct\",\"args\":[]}",
                             4 * 1000 / tick);
        assert_json(process_read(proc, 9), expected);
        free(expected);

        assert_null(process_read(proc, 2));  /* a kernel thread */
        assert_null(process_read(proc, 3));  /* no stat */
        assert_null(process_read(proc, 11)); /* no status */
        assert_null(process_read(proc, 99)); /* nothing at all */

        /* Cut at PROCESS_ARGS_MAX bytes, and said so. */
        p = process_read(proc, 12);
        assert_non_null(p);
        assert_true(json_is_true(json_object_get(p, "args_truncated")));
        assert_int_equal(json_array_size(json_object_get(p, "args")), 2);
        assert_string_equal(json_string_value(json_array_get(json_object_get(p, "args"), 0)), "cat");
        assert_int_equal(json_string_length(json_array_get(json_object_get(p, "args"), 1)), PROCESS_ARGS_MAX - 4);
        assert_int_equal(json_integer_value(json_object_get(p, "rss_bytes")), 4096);
        json_decref(p);
        p = process_read(proc, 7);
        assert_null(json_object_get(p, "args_truncated"));
        json_decref(p);

        p = process_read(proc, 13);
        assert_string_equal(json_string_value(json_object_get(p, "comm")), "b\357\277\275d");
        assert_json(json_incref(json_object_get(p, "args")), "[\"b\357\277\275d\",\"\357\277\275\"]");
        json_decref(p);

        p = process_read(proc, 14);
        assert_json(json_incref(json_object_get(p, "args")), "[\"nginx: worker process\"]");
        assert_int_equal(json_integer_value(json_object_get(p, "uid")), 33);
        json_decref(p);

        assert_int_equal(rm_rf(proc), 0);
        free(proc);
}

static json_t *pids_of(json_t *list) {
        json_t *pids = json_array(), *p;
        size_t i;
        json_array_foreach(list, i, p)
                json_array_append(pids, json_object_get(p, "pid"));
        json_decref(list);
        return pids;
}

static void test_lists(void **state) {
        char *proc = make_proc();
        const pid_t from_cgroup[] = {12, 7, 99, 2, 11, 9};

        /* The pids given (a cgroup's), in their order, less those that are gone or kernel threads. */
        assert_json(pids_of(process_list_read(proc, from_cgroup, ELEMENTSOF(from_cgroup))), "[12,7,9]");
        assert_json(process_list_read(proc, NULL, 0), "[]");
        /* Everything under proc, by pid; "self" and other names are no processes. */
        assert_json(pids_of(process_list_all(proc)), "[7,9,12,13,14]");

        assert_int_equal(rm_rf(proc), 0);
        free(proc);
        assert_json(process_list_all("/nonexistent"), "[]");
}

static void test_host(void **state) {
        pid_t self = getpid();
        json_t *p = process_read("/proc", self), *list;

        /* This test, as the kernel sees it. */
        assert_non_null(p);
        assert_int_equal(json_integer_value(json_object_get(p, "pid")), self);
        assert_int_equal(json_integer_value(json_object_get(p, "ppid")), getppid());
        assert_int_equal(json_integer_value(json_object_get(p, "uid")), geteuid());
        assert_string_equal(json_string_value(json_object_get(p, "state")), "R");
        assert_true(json_integer_value(json_object_get(p, "rss_bytes")) > 0);
        assert_string_equal(json_string_value(json_object_get(p, "comm")), "test-process-li"); /* 15 characters */
        assert_true(endswith(json_string_value(json_array_get(json_object_get(p, "args"), 0)), "test-process-list"));
        json_decref(p);

        /* Kernel threads are left out (kthreadd is PID 2 outside containers). */
        list = process_list_all("/proc");
        assert_true(json_array_size(list) > 0);
        for (size_t i = 0; i < json_array_size(list); i++)
                assert_string_not_equal(json_string_value(json_object_get(json_array_get(list, i), "comm")),
                                        "kthreadd");
        json_decref(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read),
                cmocka_unit_test(test_lists),
                cmocka_unit_test(test_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
