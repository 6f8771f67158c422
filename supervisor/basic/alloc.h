/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* Small allocations abort on failure, as in crun and git: a supervisor that cannot allocate a few
 * hundred bytes cannot report anything useful either, and threading -ENOMEM through every parser
 * helper would obscure the checks that matter. Large or attacker-sized buffers use plain malloc()
 * and handle failure. */
void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#define xnew(type, n) ((type *) xreallocarray(NULL, (n), sizeof(type)))
#define xnew0(type, n) ((type *) xzalloc_array((n), sizeof(type)))
void *xzalloc_array(size_t n, size_t size);

/* Appends one zeroed element to a (pointer, count) array; returns the new element. */
#define ARRAY_APPEND(array, count) \
        ((array) = xreallocarray((array), (count) + 1, sizeof(*(array))), \
         memset(&(array)[(count)], 0, sizeof(*(array))), \
         &(array)[(count)++])
