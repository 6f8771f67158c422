/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <sys/file.h>
#include <sys/wait.h>

#include "fileio.h"
#include "userns.h"

static void test_reserved_ids_from_passwd_group_and_subid(void **state) {
        _cleanup_free_ IdRange *r = NULL;
        size_t n = 0;

        userns_reserved_parse("root:x:0:0:root:/root:/bin/bash\n"
                              "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                              "# a comment\n"
                              "broken:x:notanumber:0::/:\n"
                              "big:x:600000:600000::/:",
                              false, &r, &n);
        assert_int_equal(n, 3);
        assert_true(r[0].first == 0 && r[0].count == 1);
        assert_true(r[1].first == 65534 && r[1].count == 1);
        assert_true(r[2].first == 600000 && r[2].count == 1);

        userns_reserved_parse("podman:524288:65536\nshort:1\nbad:1:2:3\n", true, &r, &n);
        assert_int_equal(n, 4);
        assert_true(r[3].first == 524288 && r[3].count == 65536);
}

static void test_range_clear_of_reserved(void **state) {
        const IdRange reserved[] = { { 1000, 1 }, { 0x100000, 0x10000 } };

        assert_true(userns_range_is_clear(reserved, 2, 0x80000, 0x10000));
        /* A user's uid inside the range, and a subuid delegation that overlaps by one id. */
        assert_false(userns_range_is_clear(reserved, 2, 0, 0x10000));
        assert_false(userns_range_is_clear(reserved, 2, 0xf0001, 0x10000));
        assert_true(userns_range_is_clear(reserved, 2, 0xf0000, 0x10000));
        assert_false(userns_range_is_clear(reserved, 2, 0x10ffff, 0x10000));
        assert_true(userns_range_is_clear(reserved, 2, 0x110000, 0x10000));
}

static char *lease_dir(void) {
        char tmpl[] = "/tmp/test-userns.XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

/* A unit gets the range its name hashes to, the same run after run; a second unit never the
 * same one while the first holds it, even with the same name (two supds); reserved ids are
 * skipped. */
static void test_leases_never_overlap(void **state) {
        _cleanup_free_ char *dir = lease_dir();
        UsernsRange a = USERNS_RANGE_NULL, b = USERNS_RANGE_NULL, c = USERNS_RANGE_NULL, again = USERNS_RANGE_NULL;
        uint32_t first = USERNS_POOL_FIRST + userns_first_slot("web") * USERNS_RANGE_SIZE;

        assert_int_equal(userns_acquire(dir, "web", NULL, 0, &a), 0);
        assert_int_equal(a.base, first);
        assert_int_equal(a.size, 65536);
        assert_true(a.base >= USERNS_POOL_FIRST && a.base + a.size <= USERNS_POOL_END);

        assert_int_equal(userns_acquire(dir, "web", NULL, 0, &b), 0);
        assert_true(b.base >= a.base + a.size || b.base + b.size <= a.base);

        /* Reserved: the range after a's is some host user's. */
        const IdRange reserved[] = { { a.base + a.size + 5, 1 } };
        userns_release(&b);
        assert_int_equal(userns_acquire(dir, "web", reserved, 1, &c), 0);
        assert_true(c.base != a.base && c.base != a.base + a.size);
        assert_true(userns_range_is_clear(reserved, 1, c.base, c.size));

        /* Released, the range is the name's again. */
        userns_release(&a);
        assert_int_equal(a.lease.fd, -EBADF);
        assert_int_equal(userns_acquire(dir, "web", NULL, 0, &again), 0);
        assert_int_equal(again.base, first);

        userns_release(&c);
        userns_release(&again);
        assert_int_equal(rm_rf(dir), 0);
}

/* The lease is the lock, held by the open file: another process (another supd's monitor) sees it
 * taken; the file's text only names the holder. */
static void test_lease_is_a_lock_others_see(void **state) {
        _cleanup_free_ char *dir = lease_dir(), *file = NULL, *text = NULL;
        UsernsRange a = USERNS_RANGE_NULL;
        size_t size;
        int fd;

        assert_int_equal(userns_acquire(dir, "db", NULL, 0, &a), 0);
        file = xasprintf("%s/%u", dir, a.base);
        assert_int_equal(read_full_file(file, 4096, &text, &size), 0);
        assert_string_equal(text, "db\n");
        fd = open(file, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
        assert_int_equal(errno, EWOULDBLOCK);
        userns_release(&a);
        assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
        close(fd);
        assert_int_equal(rm_rf(dir), 0);
}

/* A monitor that died holding its range (a crash: no release) leaves a stale lease, which the
 * next unit to hash there takes over, naming itself in the file. */
static void test_stale_lease_taken_over(void **state) {
        _cleanup_free_ char *dir = lease_dir(), *file = NULL, *text = NULL;
        UsernsRange a = USERNS_RANGE_NULL;
        uint32_t first = USERNS_POOL_FIRST + userns_first_slot("cache") * USERNS_RANGE_SIZE;
        size_t size;
        pid_t pid;
        int status;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                UsernsRange held = USERNS_RANGE_NULL;
                _exit(userns_acquire(dir, "crashed", NULL, 0, &held) == 0 ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        file = xasprintf("%s/%u", dir, USERNS_POOL_FIRST + userns_first_slot("crashed") * USERNS_RANGE_SIZE);
        assert_int_equal(access(file, F_OK), 0);

        assert_int_equal(userns_acquire(dir, "crashed", NULL, 0, &a), 0);
        assert_int_equal(read_full_file(file, 4096, &text, &size), 0);
        assert_string_equal(text, "crashed\n");
        userns_release(&a);

        assert_int_equal(userns_acquire(dir, "cache", NULL, 0, &a), 0);
        assert_int_equal(a.base, first);
        userns_release(&a);
        assert_int_equal(rm_rf(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reserved_ids_from_passwd_group_and_subid),
                cmocka_unit_test(test_range_clear_of_reserved),
                cmocka_unit_test(test_leases_never_overlap),
                cmocka_unit_test(test_lease_is_a_lock_others_see),
                cmocka_unit_test(test_stale_lease_taken_over),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
