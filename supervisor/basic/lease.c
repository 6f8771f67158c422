/* SPDX-License-Identifier: MIT */
#include "lease.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"

/* How often one name is retried when its lease file changes under us (released and taken again
 * while we looked at it) before it counts as held. */
#define LEASE_ATTEMPTS 8

int lease_dir_open(const char *path, LeaseDir *ret, SupError **ret_error) {
        int fd, r;

        r = mkdir_p(path, 0700);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot create %s", path);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open %s", path);
        *ret = (LeaseDir){.fd = fd, .path = xstrdup(path)};
        return 0;
}

void lease_dir_close(LeaseDir *d) {
        if (d->fd >= 0)
                close(d->fd);
        free(d->path);
        *d = LEASE_DIR_NULL;
}

static int write_holder(int fd, const char *holder) {
        _cleanup_free_ char *text = xasprintf("%s\n", holder);
        size_t n = strlen(text);
        ssize_t w;

        if (ftruncate(fd, 0) < 0)
                return negative_errno();
        w = pwrite(fd, text, n, 0);
        if (w < 0)
                return negative_errno();
        return (size_t) w == n ? 0 : -EIO;
}

/* A new lease file: -EEXIST when the name has one already. */
static int lease_create(int dfd, const char *name, const char *holder, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char proc[64];
        int r;

        fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        /* Nobody else can see this file yet: the lock cannot block. */
        if (flock(fd, LOCK_EX) < 0)
                return negative_errno();
        r = write_holder(fd, holder);
        if (r < 0)
                return r;
        /* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link does not. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* An existing lease file: 0 when it was stale and is ours now, -EEXIST when its holder lives,
 * -EAGAIN when the file changed while we looked (try again). */
static int lease_reclaim(int dfd, const char *name, const char *holder, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct stat held, now;
        int r;

        fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? -EAGAIN : negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EEXIST : negative_errno();
        /* The holder may have released it (unlinked, then closed) between our open and our lock:
         * then the name is gone or names a newer lease, and what we hold is nobody's. */
        if (fstat(fd, &held) < 0)
                return negative_errno();
        if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? -EAGAIN : negative_errno();
        if (held.st_dev != now.st_dev || held.st_ino != now.st_ino)
                return -EAGAIN;
        r = write_holder(fd, holder);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int lease_try_take(const LeaseDir *d, const char *name, const char *holder, Lease *ret, SupError **ret_error) {
        for (unsigned attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
                int fd = -EBADF, r;

                r = lease_create(d->fd, name, holder, &fd);
                if (r == -EEXIST)
                        r = lease_reclaim(d->fd, name, holder, &fd);
                if (r == -EAGAIN)
                        continue;
                if (r == -EEXIST)
                        return 0;
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot take the lease %s/%s", d->path, name);
                *ret = (Lease){.fd = fd, .path = xasprintf("%s/%s", d->path, name)};
                return 1;
        }
        /* Released and taken again every time we looked: somebody lives there. */
        return 0;
}

int lease_release(Lease *l) {
        int r = 0;

        if (l->fd < 0)
                return 0;
        /* Unlink first: while we still hold the lock nobody can take the file over, so the name
         * we remove is ours. */
        if (unlink(l->path) < 0 && errno != ENOENT)
                r = negative_errno();
        close(l->fd);
        free(l->path);
        *l = LEASE_NULL;
        return r;
}

void lease_abandon(Lease *l) {
        if (l->fd >= 0)
                close(l->fd);
        free(l->path);
        *l = LEASE_NULL;
}
