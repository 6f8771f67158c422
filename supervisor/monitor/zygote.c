/* SPDX-License-Identifier: MIT */
#include "zygote.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "process-util.h"
#include "zygote-proto.h"

/* The request a forked monitor runs: its argv for its life (getopt's optarg points into it), held
 * here so that the leak check at its exit sees it referenced. */
static char **monitor_argv;

_Noreturn static void run_monitor(int ready_fd, int argc, char **argv, int (*main_fn)(int argc, char **argv)) {
        const char *last = argv[argc - 1];

        /* Detached from supd as an executed monitor is: in the zygote's session (not supd's),
         * where it is no session leader (it can never acquire a controlling terminal, such as
         * the terminal of an exec it serves), a process group of its own (a signal to the
         * zygote's group is not its), and waiting for its own children (not the zygote's
         * SA_NOCLDWAIT). The zygote is its parent, which reaps nothing of it (SA_NOCLDWAIT: the
         * kernel does) and whose death only hands it to init. */
        (void) sigaction(SIGCHLD, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
        (void) setpgid(0, 0);

        /* dup2() onto fd 3 closes the zygote's socket there; the copy is not close-on-exec. */
        if (dup2(ready_fd, 3) < 0)
                _exit(127);
        (void) close_range(4, ~0U, 0);
        (void) cmdline_area_set(argv[0], (size_t) (last + strlen(last) + 1 - argv[0]));
        optind = 0;
        monitor_argv = argv;
        exit(main_fn(argc, monitor_argv));
}

/* The one fd of a request's SCM_RIGHTS, or -EBADF (and any others closed). */
static int take_fd(struct msghdr *mh) {
        int fd = -EBADF;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t n;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int k;

                        memcpy(&k, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (fd < 0)
                                fd = k;
                        else
                                close(k);
                }
        }
        return fd;
}

void monitor_zygote_environment_drop(void) {
        if (!getenv(SUP_ZYGOTE_BIND_NOW))
                return;
        (void) unsetenv("LD_BIND_NOW");
        (void) unsetenv(SUP_ZYGOTE_BIND_NOW);
}

int monitor_zygote_run(int sock, int (*main_fn)(int argc, char **argv), void (*warm_fn)(int argc, char **argv)) {
        static char buf[ZYGOTE_REQUEST_MAX];
        bool warmed = false;

        /* A session of its own, which the monitors share without leading it (supd's spawn
         * detaches an executed monitor through an intermediate child that leads one; one fork per
         * monitor here instead of two). */
        if (setsid() < 0 && getsid(0) != getpid())
                return 1;
        /* The monitors it forks are not waited for: SA_NOCLDWAIT has the kernel reap them. */
        if (sigaction(SIGCHLD, &(struct sigaction){.sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT}, NULL) < 0)
                return 1;

        for (;;) {
                union {
                        struct cmsghdr h;
                        char b[CMSG_SPACE(4 * sizeof(int))];
                } control;
                struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                _cleanup_free_ char **argv = NULL;
                int32_t reply;
                ssize_t n;
                int fd, argc, r;

                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
                if (n == 0)
                        return 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                fd = take_fd(&mh);
                r = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fd < 0
                            ? -EINVAL
                            : zygote_request_decode(buf, (size_t) n, &argv, &argc);
                if (r >= 0) {
                        pid_t pid;

                        if (warm_fn && !warmed) {
                                warm_fn(argc, argv);
                                warmed = true;
                        }
                        pid = fork();
                        if (pid == 0)
                                run_monitor(fd, argc, argv, main_fn);
                        if (pid < 0)
                                r = -errno;
                }
                if (fd >= 0)
                        close(fd);
                reply = r;
                if (send(sock, &reply, sizeof(reply), MSG_NOSIGNAL) < 0 && errno != EINTR)
                        return 1;
        }
}
