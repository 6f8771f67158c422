/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

/* One error type for the whole tree (crun's libcrun_error_t is the model): a function that can
 * fail returns -errno and, when the caller passed a SupError **, sets it to a message saying what
 * went wrong. Callers on the way up add their context in front with sup_error_wrap(), so that the
 * message the operator reads says where as well as what ("layer 2 of web: /srv/site: not a
 * directory"), instead of being formatted into fixed buffers nested in each other.
 *
 * Conventions:
 * - `SupError **ret_error` is the last parameter; it may be NULL (the caller wants the code only).
 * - It is written only on failure, and only when *ret_error is still NULL (the first, innermost
 *   message wins; context is added with wrap, never by making a second error).
 * - A fixed buffer only where a message must cross clone() or a pipe: sup_error_to_buffer(). */
typedef struct SupError {
        int code;      /* a positive errno */
        char *message; /* context first, innermost last */
} SupError;

/* Sets *ret to a new error with the message; code from r (-errno or errno; 0: EINVAL). Returns
 * -code, so that `return sup_error_make(ret_error, -ENOENT, "...")` reads naturally. */
int sup_error_make(SupError **ret, int r, const char *fmt, ...) _printf_(3, 4);
int sup_error_makev(SupError **ret, int r, const char *fmt, va_list ap) _printf_(3, 0);

/* As sup_error_make(), with ": strerror(r)" after the message. */
int sup_error_errno(SupError **ret, int r, const char *fmt, ...) _printf_(3, 4);

/* Puts "context: " in front of *e's message. When *e is NULL (the failing call had no error out),
 * makes one of r's strerror() first. Returns -code of the error. A NULL e does nothing and
 * returns r. */
int sup_error_wrap(SupError **e, int r, const char *fmt, ...) _printf_(3, 4);

/* The message, or a stand-in for a NULL error. */
const char *sup_error_message(const SupError *e);

/* Copies the message into buf (truncated, always NUL-terminated); returns its length. */
size_t sup_error_to_buffer(const SupError *e, char *buf, size_t size);

SupError *sup_error_free(SupError *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(SupError *, sup_error_free);
#define _cleanup_sup_error_ _cleanup_(sup_error_freep)
