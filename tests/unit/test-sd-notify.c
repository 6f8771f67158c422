/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "alloc.h"
#include "sd-notify.h"

/* The test plays the service manager: it binds the datagram socket itself and reads back what
 * sd_notify_send() sent, the way systemd would, credentials included. No root needed. */

static char *tmpdir;
static unsigned counter;

static int group_setup(void **state) {
        const char *t = getenv("TMPDIR");
        tmpdir = xasprintf("%s/sup-test-notify-XXXXXX", t && *t ? t : "/tmp");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
        (void) rmdir(tmpdir);
        free(tmpdir);
        return 0;
}

static int clear_env(void **state) {
        (void) unsetenv("NOTIFY_SOCKET");
        (void) unsetenv("WATCHDOG_USEC");
        (void) unsetenv("WATCHDOG_PID");
        return 0;
}

/* A unique address in the form $NOTIFY_SOCKET takes: a path in tmpdir, or "@name". */
static char *new_address(bool abstract) {
        if (abstract)
                return xasprintf("@sup-test-notify/%d/%u", (int) getpid(), counter++);
        return xasprintf("%s/notify-%u.sock", tmpdir, counter++);
}

static socklen_t fill_sockaddr(const char *address, struct sockaddr_un *sa) {
        size_t n = strlen(address);

        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        assert_true(n <= sizeof(sa->sun_path));
        if (address[0] == '@') {
                memcpy(sa->sun_path + 1, address + 1, n - 1); /* unterminated, as systemd binds it */
                return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
        }
        memcpy(sa->sun_path, address, n);
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + MIN(n + 1, sizeof(sa->sun_path)));
}

/* Binds a listening datagram socket at address, with SO_PASSCRED as systemd's has. */
static int bind_listener(const char *address) {
        struct sockaddr_un sa;
        socklen_t len = fill_sockaddr(address, &sa);
        int fd, one = 1;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, len), 0);
        return fd;
}

static void close_listener(int fd, const char *address) {
        assert_int_equal(close(fd), 0);
        if (address[0] == '/')
                assert_int_equal(unlink(address), 0);
}

/* Reads one datagram (size in *ret_size, NUL-terminated in buf) and asserts that this process sent
 * it; -EAGAIN when none is queued. */
static int receive(int fd, char *buf, size_t size, size_t *ret_size) {
        union {
                struct cmsghdr h;
                uint8_t data[CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *c;
        bool have_creds = false;
        ssize_t n;

        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        assert_false(mh.msg_flags & MSG_TRUNC);
        for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                        struct ucred cred;
                        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                        assert_int_equal(cred.pid, getpid());
                        have_creds = true;
                }
        assert_true(have_creds); /* what NotifyAccess=main attributes the message by */
        buf[n] = '\0';
        *ret_size = (size_t) n;
        return 0;
}

static void assert_receives(int fd, const char *expected) {
        char buf[PIPE_BUF + 1];
        size_t n;

        assert_int_equal(receive(fd, buf, sizeof(buf), &n), 0);
        assert_int_equal(n, strlen(expected)); /* no NUL, no newline added */
        assert_string_equal(buf, expected);
        assert_int_equal(receive(fd, buf, sizeof(buf), &n), -EAGAIN); /* exactly one datagram */
}

static void check_round_trip(bool abstract) {
        _cleanup_free_ char *address = new_address(abstract);
        int fd = bind_listener(address);

        assert_int_equal(setenv("NOTIFY_SOCKET", address, 1), 0);
        assert_int_equal(sd_notify_send("READY=1\nSTATUS=x"), 1);
        assert_receives(fd, "READY=1\nSTATUS=x");

        assert_int_equal(sd_notifyf("STATUS=%u units running\nWATCHDOG=1", 3u), 1);
        assert_receives(fd, "STATUS=3 units running\nWATCHDOG=1");

        close_listener(fd, address);
}

static void test_send_path(void **state) {
        check_round_trip(false);
}

static void test_send_abstract(void **state) {
        check_round_trip(true);
}

static void test_unset(void **state) {
        _cleanup_free_ char *address = new_address(false);
        int fd = bind_listener(address);
        char buf[64];
        size_t n;

        /* Not under a service manager: nothing to do, and that is not an error. */
        assert_int_equal(sd_notify_send("READY=1"), 0);
        assert_int_equal(sd_notifyf("STATUS=%s", "x"), 0);
        assert_int_equal(receive(fd, buf, sizeof(buf), &n), -EAGAIN);
        close_listener(fd, address);
}

static void test_nobody_listening(void **state) {
        _cleanup_free_ char *missing = new_address(false), *stale = new_address(false), *abstract = new_address(true);

        assert_int_equal(setenv("NOTIFY_SOCKET", missing, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), -ENOENT);

        /* A socket file left behind by a listener that is gone. */
        close(bind_listener(stale));
        assert_int_equal(setenv("NOTIFY_SOCKET", stale, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), -ECONNREFUSED);
        assert_int_equal(unlink(stale), 0);

        assert_int_equal(setenv("NOTIFY_SOCKET", abstract, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), -ECONNREFUSED);
}

static void test_invalid(void **state) {
        _cleanup_free_ char *address = new_address(true);
        int fd = bind_listener(address);
        char buf[64];
        size_t n;

        assert_int_equal(setenv("NOTIFY_SOCKET", address, 1), 0);
        assert_int_equal(sd_notify_send(NULL), -EINVAL);
        assert_int_equal(sd_notify_send(""), -EINVAL);

        for (size_t i = 0; i < 4; i++) {
                static const char *const bad[] = { "", "@", "notify.sock", "./notify.sock" };
                assert_int_equal(setenv("NOTIFY_SOCKET", bad[i], 1), 0);
                assert_int_equal(sd_notify_send("READY=1"), -EINVAL);
        }
        assert_int_equal(receive(fd, buf, sizeof(buf), &n), -EAGAIN);
        close_listener(fd, address);
}

static void test_too_long(void **state) {
        const size_t max = sizeof(((struct sockaddr_un *) NULL)->sun_path); /* 108 on Linux */
        _cleanup_free_ char *prefix = xasprintf("@sup-test-notify/%d/", (int) getpid()), *path = NULL, *abstract = NULL,
                            *long_path = NULL, *long_abstract = NULL;
        size_t dir_len = strlen(tmpdir);
        int fd;

        /* The longest that fit: a path of max - 1 bytes plus its NUL, and '@' plus max - 1 bytes. */
        abstract = xasprintf("%s%0*d", prefix, (int) (max - strlen(prefix)), 0);
        assert_int_equal(strlen(abstract), max);
        fd = bind_listener(abstract);
        assert_int_equal(setenv("NOTIFY_SOCKET", abstract, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), 1);
        assert_receives(fd, "READY=1");
        close_listener(fd, abstract);

        long_abstract = xasprintf("%sb", abstract);
        assert_int_equal(setenv("NOTIFY_SOCKET", long_abstract, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), -ENAMETOOLONG);

        if (dir_len + 2 <= max - 1) {
                path = xasprintf("%s/%0*d", tmpdir, (int) (max - 1 - dir_len - 1), 0);
                assert_int_equal(strlen(path), max - 1);
                fd = bind_listener(path);
                assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
                assert_int_equal(sd_notify_send("READY=1"), 1);
                assert_receives(fd, "READY=1");
                close_listener(fd, path);
        } else
                fprintf(stderr, "TMPDIR is too long to bind a %zu-byte path; not checked\n", max - 1);

        /* One byte more: it would need the unterminated form, which is refused. And far more. */
        long_path = xasprintf("%s/%0*d", tmpdir, (int) (dir_len + 2 > max ? 1 : max - dir_len - 1), 0);
        assert_true(strlen(long_path) >= max);
        assert_int_equal(setenv("NOTIFY_SOCKET", long_path, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), -ENAMETOOLONG);
        free(long_path);
        long_path = xasprintf("%s/%0300d", tmpdir, 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", long_path, 1), 0);
        assert_int_equal(sd_notify_send("READY=1"), -ENAMETOOLONG);
}

static void test_message_size(void **state) {
        _cleanup_free_ char *address = new_address(true), *big = xmalloc(PIPE_BUF + 1);
        int fd = bind_listener(address);
        char buf[64];
        size_t n;

        assert_int_equal(setenv("NOTIFY_SOCKET", address, 1), 0);
        memcpy(big, "STATUS=", 7);
        memset(big + 7, 'x', PIPE_BUF - 7);
        big[PIPE_BUF] = '\0';
        assert_int_equal(sd_notify_send(big), -EMSGSIZE);
        assert_int_equal(receive(fd, buf, sizeof(buf), &n), -EAGAIN);

        big[PIPE_BUF - 1] = '\0'; /* the largest systemd reads whole */
        assert_int_equal(sd_notify_send(big), 1);
        assert_receives(fd, big);
        close_listener(fd, address);
}

static void test_never_blocks(void **state) {
        _cleanup_free_ char *address = new_address(true);
        int fd = bind_listener(address), r = 0;
        unsigned sent = 0;

        /* A manager that does not read: once its queue is full the send fails instead of waiting
         * (a blocking send would hang here until the test's timeout). */
        assert_int_equal(setenv("NOTIFY_SOCKET", address, 1), 0);
        while (sent < 100000) {
                r = sd_notify_send("WATCHDOG=1");
                if (r != 1)
                        break;
                sent++;
        }
        assert_int_equal(r, -EAGAIN);
        assert_true(sent > 0);
        close_listener(fd, address);
}

static void test_watchdog(void **state) {
        char pid[32];
        usec_t usec = 4711;

        /* Unset: disabled, and *ret untouched. */
        assert_int_equal(sd_watchdog_interval(&usec), 0);
        assert_int_equal(usec, 4711);

        assert_int_equal(setenv("WATCHDOG_USEC", "30000000", 1), 0);
        assert_int_equal(sd_watchdog_interval(&usec), 1);
        assert_int_equal(usec, 30 * USEC_PER_SEC);
        assert_int_equal(sd_watchdog_interval(NULL), 1);

        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
        usec = 0;
        assert_int_equal(sd_watchdog_interval(&usec), 1);
        assert_int_equal(usec, 30 * USEC_PER_SEC);

        /* Meant for another process (pid 1 is never a unit test), inherited by us. */
        assert_int_equal(setenv("WATCHDOG_PID", "1", 1), 0);
        usec = 4711;
        assert_int_equal(sd_watchdog_interval(&usec), 0);
        assert_int_equal(usec, 4711);

        for (size_t i = 0; i < 6; i++) {
                static const char *const bad_pid[] = { "", "x", "0", "-1", " 1", "12abc" };
                assert_int_equal(setenv("WATCHDOG_PID", bad_pid[i], 1), 0);
                assert_int_equal(sd_watchdog_interval(&usec), -EINVAL);
        }
        assert_int_equal(setenv("WATCHDOG_PID", "99999999999", 1), 0);
        assert_int_equal(sd_watchdog_interval(&usec), -ERANGE);
        assert_int_equal(unsetenv("WATCHDOG_PID"), 0);

        for (size_t i = 0; i < 8; i++) {
                static const char *const bad_usec[] = { "", "garbage", "30s", "0", "-30000000", " 30000000",
                                                        "30000000 ", "0x10" };
                assert_int_equal(setenv("WATCHDOG_USEC", bad_usec[i], 1), 0);
                assert_int_equal(sd_watchdog_interval(&usec), -EINVAL);
        }
        assert_int_equal(setenv("WATCHDOG_USEC", "18446744073709551616", 1), 0);
        assert_int_equal(sd_watchdog_interval(&usec), -ERANGE);
        assert_int_equal(setenv("WATCHDOG_USEC", "18446744073709551615", 1), 0); /* USEC_INFINITY */
        assert_int_equal(sd_watchdog_interval(&usec), -ERANGE);
        assert_int_equal(usec, 4711);

        /* WATCHDOG_PID alone enables nothing. */
        assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
        assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
        assert_int_equal(sd_watchdog_interval(&usec), 0);
}

static unsigned count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_no_fd_leak(void **state) {
        _cleanup_free_ char *address = new_address(false), *missing = new_address(false);
        unsigned before, after;
        char buf[64];
        size_t n;
        int fd;

        fd = bind_listener(address);
        before = count_fds();
        for (unsigned i = 0; i < 50; i++) {
                assert_int_equal(setenv("NOTIFY_SOCKET", address, 1), 0);
                assert_int_equal(sd_notify_send("READY=1"), 1);
                assert_int_equal(receive(fd, buf, sizeof(buf), &n), 0);
                assert_int_equal(sd_notifyf("STATUS=%u", i), 1);
                assert_int_equal(receive(fd, buf, sizeof(buf), &n), 0);
                assert_int_equal(setenv("NOTIFY_SOCKET", missing, 1), 0);
                assert_int_equal(sd_notify_send("READY=1"), -ENOENT);
                assert_int_equal(setenv("NOTIFY_SOCKET", "@", 1), 0);
                assert_int_equal(sd_notify_send("READY=1"), -EINVAL);
        }
        after = count_fds();
        assert_int_equal(before, after);
        close_listener(fd, address);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_send_path, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_send_abstract, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_unset, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_nobody_listening, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_invalid, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_too_long, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_message_size, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_never_blocks, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_watchdog, clear_env, clear_env),
                cmocka_unit_test_setup_teardown(test_no_fd_leak, clear_env, clear_env),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
