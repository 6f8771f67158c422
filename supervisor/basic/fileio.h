/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Reads a regular file whole. Refuses with -EFBIG a file larger than max bytes (checked on the
 * size read, not only on what fstat claims, so a file growing meanwhile is caught too), and with
 * -EINVAL a file that is not a regular file (a FIFO would block, a device may never end).
 * The buffer is NUL-terminated; *ret_size excludes that NUL. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
