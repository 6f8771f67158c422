/* SPDX-License-Identifier: MIT */
#include "sd-notify.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit-value.h"

/* The address $NOTIFY_SOCKET names. A path is passed with its NUL, which must fit in sun_path:
 * the kernel would take 108 bytes without one, but a name that only works unterminated is a trap
 * for every other tool. An abstract name is exactly the bytes after the '@', with no terminator
 * (the length is part of the name), so it may fill all of sun_path after the leading NUL. */
static int notify_address(const char *e, struct sockaddr_un *ret, socklen_t *ret_len) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(e);

        if (e[0] == '@') {
                if (n < 2)
                        return -EINVAL;
                if (n > sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                memcpy(sa.sun_path + 1, e + 1, n - 1);
                *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
        } else if (e[0] == '/') {
                if (n >= sizeof(sa.sun_path))
                        return -ENAMETOOLONG;
                memcpy(sa.sun_path, e, n + 1);
                *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        } else
                return -EINVAL;

        *ret = sa;
        return 0;
}

int sd_notify_send(const char *state) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        socklen_t sa_len;
        const char *e;
        size_t size;
        ssize_t n;
        int r;

        if (!state || !*state)
                return -EINVAL;

        e = getenv("NOTIFY_SOCKET");
        if (!e)
                return 0;

        /* systemd receives into a PIPE_BUF-sized buffer and ignores what does not fit, logging on
         * its side only: refuse here, where the caller can still notice. */
        size = strlen(state);
        if (size >= PIPE_BUF)
                return -EMSGSIZE;

        r = notify_address(e, &sa, &sa_len);
        if (r < 0)
                return r;

        /* Non-blocking: a manager that does not read its queue must not stall supd's event loop. */
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();

        n = sendto(fd, state, size, MSG_NOSIGNAL, (const struct sockaddr *) &sa, sa_len);
        if (n < 0)
                return negative_errno();
        if ((size_t) n != size) /* a datagram goes whole or not at all; never expected */
                return -EIO;
        return 1;
}

int sd_notifyf(const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                s = NULL; /* undefined after a failure */
                return -ENOMEM;
        }
        return sd_notify_send(s);
}

int sd_watchdog_interval(usec_t *ret) {
        const char *u, *p;
        uint64_t usec, pid;
        int r;

        u = getenv("WATCHDOG_USEC");
        if (!u)
                return 0;
        r = parse_decimal(u, USEC_INFINITY - 1, &usec);
        if (r < 0)
                return r;
        if (usec == 0)
                return -EINVAL;

        /* Unset means the variables are ours (older managers did not set it). Set to another pid,
         * they were inherited from an ancestor that was the one being watched. */
        p = getenv("WATCHDOG_PID");
        if (p) {
                r = parse_decimal(p, INT_MAX, &pid);
                if (r < 0)
                        return r;
                if (pid == 0)
                        return -EINVAL;
                if ((pid_t) pid != getpid())
                        return 0;
        }

        if (ret)
                *ret = usec;
        return 1;
}
