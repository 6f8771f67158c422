/* SPDX-License-Identifier: MIT */
#include "socket-util.h"

#include <fcntl.h>
#include <limits.h>
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

int recv_byte_fds(int sock, int *fds, size_t *n, int flags) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * SOCKET_FDS_MAX)];
        } control;
        char c;
        struct iovec iov = {.iov_base = &c, .iov_len = 1};
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)};
        struct cmsghdr *cm;
        ssize_t k;

        k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
        if (k < 0)
                return negative_errno();
        if (k != 1 || (mh.msg_flags & MSG_CTRUNC))
                return -EIO;
        cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
                *n = 0;
                return 0;
        }
        *n = MIN(*n, (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        memcpy(fds, CMSG_DATA(cm), *n * sizeof(int));
        return 0;
}

int send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * SOCKET_FDS_MAX)];
        } control = {0};
        struct iovec iov = {.iov_base = (void *) buf, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t k;

        if (n > SOCKET_FDS_MAX)
                return -E2BIG;
        if (n > 0) {
                struct cmsghdr *cm;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
                cm = CMSG_FIRSTHDR(&mh);
                *cm = (struct cmsghdr){
                        .cmsg_len = CMSG_LEN(sizeof(int) * n), .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS};
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
        }
        k = sendmsg(sock, &mh, MSG_NOSIGNAL);
        return k < 0 ? negative_errno() : (int) MIN((size_t) k, (size_t) INT_MAX);
}

int send_byte_fds(int sock, const int *fds, size_t n) {
        int r = send_fds(sock, "x", 1, fds, n);
        return r < 0 ? r : r == 1 ? 0 : -EIO;
}
