/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* sun_path holds 107 characters and a NUL: longer socket paths fail with -ENAMETOOLONG, and the
 * caller says which path (run directories must stay short). */
int sockaddr_un_set(struct sockaddr_un *sa, const char *path, socklen_t *ret_len);

/* A listening SOCK_STREAM unix socket at path (a stale socket file is replaced), non-blocking,
 * close-on-exec, with the given mode set before anyone can connect. */
int unix_listen(const char *path, mode_t mode);

/* Connects to path; the fd is blocking unless nonblock. */
int unix_connect(const char *path, int nonblock);

int fd_set_nonblock(int fd, int nonblock);

/* One byte, and with it up to SOCKET_FDS_MAX fds (SCM_RIGHTS): a go signal that can carry fds. */
#define SOCKET_FDS_MAX 253 /* the most fds one SCM_RIGHTS message carries */
/* One sendmsg() of buf with n fds (SCM_RIGHTS) attached to its first byte: the bytes sent (a
 * stream socket may take fewer than len; the fds went with the first), or -errno. */
int send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n);
int send_byte_fds(int sock, const int *fds, size_t n);
/* Up to *n fds (close-on-exec) into fds; *n becomes the number received. flags: recvmsg()'s
 * (MSG_DONTWAIT). -EIO when no byte came (the peer is gone), -EAGAIN, or -errno. */
int recv_byte_fds(int sock, int *fds, size_t *n, int flags);
