/* SPDX-License-Identifier: MIT */
#include "socket-util.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "macro.h"

int sockaddr_un_set(struct sockaddr_un *sa, const char *path, socklen_t *ret_len) {
        size_t n = strlen(path);

        if (n >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        memcpy(sa->sun_path, path, n);
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
}

int unix_listen(const char *path, mode_t mode) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        socklen_t len;
        mode_t old;
        int r;

        r = sockaddr_un_set(&sa, path, &len);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void) unlink(path);
        /* The umask makes the socket private from the moment it exists; chmod() after bind()
         * would leave a window in which anyone could connect. */
        old = umask(0777 & ~mode);
        r = bind(fd, (struct sockaddr *) &sa, len);
        umask(old);
        if (r < 0)
                return negative_errno();
        if (listen(fd, 64) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

int fd_set_nonblock(int fd, int nonblock) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return negative_errno();
        flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        return fcntl(fd, F_SETFL, flags) < 0 ? negative_errno() : 0;
}

int unix_connect(const char *path, int nonblock) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        socklen_t len;
        int r;

        r = sockaddr_un_set(&sa, path, &len);
        if (r < 0)
                return r;
        /* Non-blocking from the start: a unix connect then never waits (a full backlog, a peer
         * that stopped accepting, is -EAGAIN instead of a hang). */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, len) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}
