/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/stat.h>

#include "sup-error.h"

/* A bind mount's host source, as both isolation drivers take it: process isolation binds it into
 * the container, and the vm driver gives it to the unit's virtiofsd. Same checks, one place. */

/* Opens source as an O_PATH fd, which is then what is bound: checked once, used as checked. No
 * symlink anywhere on the way (whoever can write a directory on the path could otherwise point
 * the container at any file of the host between a check and the bind), not a device node, not the
 * host's root, /proc, /sys or /dev (bind_source_refusal()), nor on a kernel interface's file
 * system wherever it is mounted. */
int open_bind_source(const char *source, int *ret_fd, struct stat *ret_st, SupError **ret_error);
