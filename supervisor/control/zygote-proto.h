/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* supd and its monitor zygote (`sup-monitor --zygote`, monitor/zygote.h): a SOCK_SEQPACKET pair,
 * one message per spawn and one reply per message, in order.
 *
 * A request is the new monitor's argv, each string NUL-terminated, one after the other (so the
 * message ends in a NUL and holds as many strings as NULs), with one fd in SCM_RIGHTS: the write
 * end of the spawn's ready pipe, the monitor's fd 3 (manager-runtime.c reads the other end, as
 * for a monitor it executes itself). A reply is an int32_t: 0 once the monitor is forked, or
 * -errno when it could not be (the request is then not retried by the zygote). */

/* In the zygote's environment, with LD_BIND_NOW=1, when supd added that for the zygote alone
 * (daemon/manager-runtime.c says why); the zygote takes both out at its start. */
#define SUP_ZYGOTE_BIND_NOW "SUP_ZYGOTE_BIND_NOW"

/* Bounds a zygote holds a request to: supd's arguments are a dozen options with paths. */
#define ZYGOTE_REQUEST_MAX 16384
#define ZYGOTE_ARGS_MAX    64

/* The request for argv (NULL-terminated, at least one string): *ret (malloc'ed) of *ret_size bytes.
 * -E2BIG beyond the bounds above, -EINVAL for an empty argv. */
int zygote_request_encode(char *const *argv, char **ret, size_t *ret_size);

/* The argv of a request of n bytes: *ret_argv, NULL-terminated, one allocation with the strings
 * copied into it (free() it), and *ret_argc. -EINVAL for anything that is not a request: empty,
 * not ending in a NUL, too long, too many strings, an empty first string. */
int zygote_request_decode(const char *buf, size_t n, char ***ret_argv, int *ret_argc);
