/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Base64 (RFC 4648, with padding): how the agent protocol carries bytes in JSON strings (the
 * seccomp filter, an exec's output). */

/* A new NUL-terminated string. */
char *base64_encode(const uint8_t *s, size_t n);
/* Strict: padded, no whitespace, nothing after the padding. -EINVAL otherwise. *ret is new. */
int base64_decode(const char *s, uint8_t **ret, size_t *ret_len);
