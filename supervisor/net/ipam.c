/* SPDX-License-Identifier: MIT */
#include "ipam.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "sha256.h"

/* How often one address is retried when its lease file changes under us (released and taken
 * again while we looked at it) before it counts as taken. */
#define LEASE_ATTEMPTS 8

uint32_t ipam_pool_size(const Ipv4Net *n) {
        uint64_t size = ipv4_net_size(n);
        return size > 3 ? (uint32_t) (size - 3) : 0;
}

struct in_addr ipam_candidate(const Ipv4Net *n, uint64_t seed, uint32_t k) {
        uint32_t pool = ipam_pool_size(n);
        /* Offsets 2 .. size-2: past the network address and the gateway, before the broadcast. */
        return ipv4_net_host(n, 2 + (uint32_t) ((seed % pool + k) % pool));
}

uint64_t ipam_seed(const char *owner) {
        uint8_t digest[SHA256_DIGEST_SIZE];
        Sha256 s;
        uint64_t seed = 0;

        sha256_init(&s);
        sha256_update(&s, owner, strlen(owner));
        sha256_final(&s, digest);
        for (size_t i = 0; i < sizeof(seed); i++)
                seed = seed << 8 | digest[i];
        return seed;
}

static int write_owner(int fd, const char *owner) {
        _cleanup_free_ char *text = xasprintf("%s\n", owner);
        size_t n = strlen(text);
        ssize_t w;

        if (ftruncate(fd, 0) < 0)
                return negative_errno();
        w = pwrite(fd, text, n, 0);
        if (w < 0)
                return negative_errno();
        return (size_t) w == n ? 0 : -EIO;
}

/* A new lease: -EEXIST when the address has a lease file already. */
static int lease_create(int dfd, const char *name, const char *owner, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char proc[64];
        int r;

        fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        /* Nobody else can see this file yet: the lock cannot block. */
        if (flock(fd, LOCK_EX) < 0)
                return negative_errno();
        r = write_owner(fd, owner);
        if (r < 0)
                return r;
        /* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link does not. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* An existing lease: 0 when it was stale and is ours now, -EEXIST when its owner lives, -EAGAIN
 * when the file changed while we looked (try again). */
static int lease_reclaim(int dfd, const char *name, const char *owner, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct stat held, now;
        int r;

        fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? -EAGAIN : negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EEXIST : negative_errno();
        /* The owner may have released it (unlinked, then closed) between our open and our lock:
         * then the name is gone or names a newer lease, and what we hold is nobody's. */
        if (fstat(fd, &held) < 0)
                return negative_errno();
        if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? -EAGAIN : negative_errno();
        if (held.st_dev != now.st_dev || held.st_ino != now.st_ino)
                return -EAGAIN;
        r = write_owner(fd, owner);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* 0: the address is ours; -EEXIST: a live owner has it; other errors: give up. */
static int lease_take(int dfd, const char *name, const char *owner, int *ret_fd) {
        for (unsigned attempt = 0; attempt < LEASE_ATTEMPTS; attempt++) {
                int r = lease_create(dfd, name, owner, ret_fd);
                if (r != -EEXIST)
                        return r;
                r = lease_reclaim(dfd, name, owner, ret_fd);
                if (r != -EAGAIN)
                        return r;
        }
        return -EEXIST;
}

int ipam_acquire(const char *dir, const Ipv4Net *n, const char *owner, IpamLease *ret) {
        uint32_t pool = ipam_pool_size(n);
        uint64_t seed = ipam_seed(owner);
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (pool == 0)
                return -ENOSPC;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();

        for (uint32_t k = 0; k < pool; k++) {
                struct in_addr a = ipam_candidate(n, seed, k);
                char name[INET_ADDRSTRLEN];
                int fd = -EBADF;

                (void) inet_ntop(AF_INET, &a, name, sizeof(name));
                r = lease_take(dfd, name, owner, &fd);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return r;
                *ret = (IpamLease){.fd = fd, .path = xasprintf("%s/%s", dir, name), .address = a};
                return 0;
        }
        return -ENOSPC;
}

int ipam_release(IpamLease *l) {
        int r = 0;

        if (l->fd < 0)
                return 0;
        /* Unlink first: while we still hold the lock nobody can take the file over, so the name
         * we remove is ours. */
        if (unlink(l->path) < 0 && errno != ENOENT)
                r = negative_errno();
        close(l->fd);
        free(l->path);
        *l = IPAM_LEASE_NULL;
        return r;
}
