/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads a regular file whole. Refuses with -EFBIG a file larger than max bytes (checked on the
 * size read, not only on what fstat claims, so a file growing meanwhile is caught too), and with
 * -EINVAL a file that is not a regular file (a FIFO would block, a device may never end).
 * The buffer is NUL-terminated; *ret_size excludes that NUL. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
/* The same, path relative to dirfd (openat(2): AT_FDCWD, or an absolute path, as open(2)). */
int read_full_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size);

/* Writes all of buf to a blocking fd, across short writes and EINTR: 0, or -errno. */
int loop_write(int fd, const void *buf, size_t n);

/* Writes a file so that a reader sees the old content or the new, never a mix, also across a
 * crash: a temporary file in the same directory, fsync, rename over path, fsync of the directory
 * (the s6 status-file discipline). */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* The same without the fsyncs: readers still see the old content or the new, never a mix, but a
 * crash of the host may leave the old one or an empty file. For files whose meaning ends with the
 * host's uptime (the run directory: no monitor outlives a reboot), where two fsyncs per file put a
 * disk's flush on every path through them. */
int write_file_replace(const char *path, const void *data, size_t size, mode_t mode);

/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);

/* Removes path and everything below it without following symlinks and without crossing into
 * other file systems (a bind or overlay mount left below is an error, -EBUSY, not a way to delete
 * somebody else's files). A missing path is fine. */
int rm_rf(const char *path);
