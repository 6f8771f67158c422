/* SPDX-License-Identifier: MIT */
/* The monitor zygote: its requests (control/zygote-proto.h), and the zygote itself
 * (monitor/zygote.h) run in a child of the test with a stand-in for the monitor's main(), which
 * reports what a forked monitor gets: its argv, /proc/self/cmdline, its fds, its session. */
#include "test-helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "socket-util.h"
#include "zygote-proto.h"
#include "zygote.h"

static void test_request_round_trip(void **state) {
        char *argv[] = {(char *) "sup-monitor", (char *) "--dir", (char *) "/run/sup/units/a b", (char *) "", NULL};
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char **out = NULL;
        size_t n;
        int argc;

        assert_int_equal(zygote_request_encode(argv, &buf, &n), 0);
        assert_int_equal(n, sizeof("sup-monitor") + sizeof("--dir") + sizeof("/run/sup/units/a b") + 1);
        assert_int_equal(zygote_request_decode(buf, n, &out, &argc), 0);
        assert_int_equal(argc, 4);
        for (int i = 0; i < 4; i++)
                assert_string_equal(out[i], argv[i]);
        assert_null(out[4]);
}

/* A request is only ever supd's; the zygote still takes nothing that would make it read past
 * what it received or build a monitor without a name. */
static void test_request_decode_refuses(void **state) {
        static const struct {
                const char *buf;
                size_t n;
        } bad[] = {
                {"", 0},                    /* empty */
                {"sup-monitor", 11},        /* no NUL at the end: strings would run past it */
                {"\0--dir\0", 7},           /* no program name */
                {"sup-monitor\0--dir", 17}, /* the last string unterminated */
        };
        _cleanup_free_ char *many = xmalloc(2 * (ZYGOTE_ARGS_MAX + 1)), *huge = xmalloc(ZYGOTE_REQUEST_MAX + 1);
        char **argv = NULL;
        int argc;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(zygote_request_decode(bad[i].buf, bad[i].n, &argv, &argc), -EINVAL);
        for (size_t i = 0; i < ZYGOTE_ARGS_MAX + 1; i++) {
                many[2 * i] = 'a';
                many[2 * i + 1] = 0;
        }
        assert_int_equal(zygote_request_decode(many, 2 * (ZYGOTE_ARGS_MAX + 1), &argv, &argc), -EINVAL);
        assert_int_equal(zygote_request_decode(many, 2 * ZYGOTE_ARGS_MAX, &argv, &argc), 0);
        assert_int_equal(argc, ZYGOTE_ARGS_MAX);
        free(argv);
        memset(huge, 'a', ZYGOTE_REQUEST_MAX);
        huge[ZYGOTE_REQUEST_MAX] = 0;
        assert_int_equal(zygote_request_decode(huge, ZYGOTE_REQUEST_MAX + 1, &argv, &argc), -EINVAL);
}

static void test_request_encode_refuses(void **state) {
        char *empty[] = {NULL};
        char *many[ZYGOTE_ARGS_MAX + 2];
        _cleanup_free_ char *huge = xmalloc(ZYGOTE_REQUEST_MAX + 1);
        char *big[] = {huge, NULL};
        char *buf = NULL;
        size_t n;

        assert_int_equal(zygote_request_encode(empty, &buf, &n), -EINVAL);
        for (size_t i = 0; i < ZYGOTE_ARGS_MAX + 1; i++)
                many[i] = (char *) "a";
        many[ZYGOTE_ARGS_MAX + 1] = NULL;
        assert_int_equal(zygote_request_encode(many, &buf, &n), -E2BIG);
        memset(huge, 'a', ZYGOTE_REQUEST_MAX);
        huge[ZYGOTE_REQUEST_MAX] = 0;
        assert_int_equal(zygote_request_encode(big, &buf, &n), -E2BIG);
        assert_null(buf);
}

/* The zygote's warm-up, once, before its first fork, with that request's argv: what it leaves in
 * the zygote's memory is every monitor's. */
static char warm_mark[64];
static int warm_calls;

static void warm_main(int argc, char **argv) {
        warm_calls++;
        snprintf(warm_mark, sizeof(warm_mark), "%s", argc > 2 ? argv[2] : "?");
}

/* The stand-in for the monitor's main(): writes to fd 3 (the request's pipe) one line per fact. */
static int report_main(int argc, char **argv) {
        char cmdline[4096], line[8192];
        ssize_t n;
        int fd, open_above_3 = 0, k = 0;

        fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline)) : -1;
        if (fd >= 0)
                close(fd);
        for (ssize_t i = 0; i < n; i++)
                if (cmdline[i] == 0)
                        cmdline[i] = '|';
        for (int f = 4; f < 64; f++)
                if (fcntl(f, F_GETFD) >= 0)
                        open_above_3++;
        k += snprintf(line + k, sizeof(line) - (size_t) k, "argc=%d", argc);
        for (int i = 0; i < argc; i++)
                k += snprintf(line + k, sizeof(line) - (size_t) k, " [%s]", argv[i]);
        k += snprintf(line + k, sizeof(line) - (size_t) k,
                      "\ncmdline=%.*s\nfds-above-3=%d\nsession-leader=%d\ngroup-leader=%d\nsession=%d\n",
                      (int) MAX(n, 0), cmdline, open_above_3, getsid(0) == getpid(), getpgid(0) == getpid(),
                      (int) getsid(0));
        k += snprintf(line + k, sizeof(line) - (size_t) k, "bind-now=%s\n", getenv("LD_BIND_NOW") ?: "unset");
        k += snprintf(line + k, sizeof(line) - (size_t) k, "warmed=%d %s\n", warm_calls, warm_mark);
        {
                /* Its children are its to wait for (not reaped for it, as the zygote's are). */
                struct sigaction sa;
                int status = -1;
                pid_t c = fork();

                if (c == 0)
                        _exit(5);
                (void) sigaction(SIGCHLD, NULL, &sa);
                k += snprintf(line + k, sizeof(line) - (size_t) k, "sigchld-default=%d child-waited=%d\n",
                              sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_NOCLDWAIT),
                              c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 5);
        }
        return write(3, line, (size_t) k) == k ? 7 : 1;
}

static pid_t start_zygote(int *ret_sock) {
        int pair[2];
        pid_t pid;

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* The zygote's socket is its fd 3, as supd starts it. */
                if (dup2(pair[1], 3) < 0)
                        _exit(99);
                (void) close_range(4, ~0U, 0);
                /* As supd starts it: LD_BIND_NOW for the zygote alone, which it drops. */
                if (setenv("LD_BIND_NOW", "1", 1) < 0 || setenv(SUP_ZYGOTE_BIND_NOW, "1", 1) < 0)
                        _exit(99);
                monitor_zygote_environment_drop();
                _exit(monitor_zygote_run(3, report_main, warm_main));
        }
        close(pair[1]);
        *ret_sock = pair[0];
        return pid;
}

static int32_t send_request(int sock, char *const *argv, int fd) {
        _cleanup_free_ char *buf = NULL;
        int32_t reply = 1;
        size_t n;

        if (argv)
                assert_int_equal(zygote_request_encode(argv, &buf, &n), 0);
        else {
                buf = xstrdup("x");
                n = 1; /* no NUL at the end */
        }
        assert_int_equal(send_fds(sock, buf, n, &fd, fd >= 0 ? 1 : 0), (int) n);
        assert_int_equal(recv(sock, &reply, sizeof(reply), 0), (ssize_t) sizeof(reply));
        return reply;
}

/* Everything the monitor wrote to its pipe, once every copy of the write end is closed. */
static char *read_all(int fd) {
        char *out = xzalloc(16384);
        size_t k = 0;
        ssize_t n;

        while ((n = read(fd, out + k, 16383 - k)) > 0)
                k += (size_t) n;
        return out;
}

static void test_zygote_forks_monitors(void **state) {
        char *argv[] = {(char *) "sup-monitor", (char *) "--dir", (char *) "/run/sup/units/web",
                        (char *) "--ready-fd",  (char *) "3",     NULL};
        int sock, status;
        pid_t zygote = start_zygote(&sock);

        for (int round = 0; round < 2; round++) {
                _cleanup_free_ char *out = NULL;
                int ready[2];

                assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
                assert_int_equal(send_request(sock, argv, ready[1]), 0);
                close(ready[1]);
                /* The pipe ends once the monitor has exited: the zygote keeps no copy. */
                out = read_all(ready[0]);
                close(ready[0]);
                assert_non_null(strstr(out, "argc=5 [sup-monitor] [--dir] [/run/sup/units/web] [--ready-fd] [3]\n"));
                /* What ps and pgrep -f show is the monitor's own argv, not "sup-monitor --zygote". */
                assert_non_null(strstr(out, "cmdline=sup-monitor|--dir|/run/sup/units/web|--ready-fd|3|\n"));
                /* Not the zygote's socket nor anything else of it: a monitor must not be able to
                 * ask for monitors. */
                assert_non_null(strstr(out, "fds-above-3=0\n"));
                /* Not supd's session (the test's here), nor the leader of one (it could acquire a
                 * controlling terminal, an exec's), and a process group of its own. */
                assert_non_null(strstr(out, "session-leader=0\n"));
                assert_non_null(strstr(out, "group-leader=1\n"));
                {
                        _cleanup_free_ char *mine = xasprintf("session=%d\n", (int) getsid(0)),
                                            *zygotes = xasprintf("session=%d\n", (int) zygote);
                        assert_null(strstr(out, mine));
                        assert_non_null(strstr(out, zygotes));
                }
                /* supd's LD_BIND_NOW for the zygote is not the monitors' (nor their helpers'). */
                assert_non_null(strstr(out, "bind-now=unset\n"));
                assert_non_null(strstr(out, "sigchld-default=1 child-waited=1\n"));
                /* Warmed once, with the first request's argv, for both monitors. */
                assert_non_null(strstr(out, "warmed=1 /run/sup/units/web\n"));
        }
        /* The monitors it forked (its children, exited) were not waited for, and are not left as
         * zombies either. */
        {
                _cleanup_free_ char *path = xasprintf("/proc/%d/task/%d/children", (int) zygote, (int) zygote),
                                    *children = NULL;
                size_t n;

                /* A monitor's pipe ends as it exits, a moment before it leaves its parent's list:
                 * a zombie would stay there. */
                for (int i = 0; i < 500; i++) {
                        free(children);
                        children = NULL;
                        assert_int_equal(read_full_file(path, 4096, &children, &n), 0);
                        if (n == 0)
                                break;
                        (void) usleep(10000);
                }
                assert_string_equal(children, "");
        }

        /* A request without its pipe, or that is no request, forks nothing and is answered. */
        assert_int_equal(send_request(sock, argv, -1), -EINVAL);
        {
                int p[2];

                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                assert_int_equal(send_request(sock, NULL, p[1]), -EINVAL);
                close(p[1]);
                _cleanup_free_ char *out = read_all(p[0]);
                close(p[0]);
                assert_string_equal(out, ""); /* and the zygote closed its copy */
        }

        /* supd gone: the zygote exits. */
        close(sock);
        assert_int_equal(waitpid(zygote, &status, 0), zygote);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_round_trip),
                cmocka_unit_test(test_request_decode_refuses),
                cmocka_unit_test(test_request_encode_refuses),
                cmocka_unit_test(test_zygote_forks_monitors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
