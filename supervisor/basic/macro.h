/* SPDX-License-Identifier: MIT */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _unused_ __attribute__((unused))
#define _fallthrough_ __attribute__((fallthrough))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership on: returns the value and clears the variable so its cleanup does nothing. */
#define TAKE_PTR(p)                    \
        ({                             \
                typeof(p) _tp_ = (p);  \
                (p) = NULL;            \
                _tp_;                  \
        })
#define TAKE_FD(fd)                    \
        ({                             \
                int _tf_ = (fd);       \
                (fd) = -EBADF;         \
                _tf_;                  \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Closes *fd if open and marks it closed: for fds that outlive one function (a struct's). */
static inline void close_and_reset(int *fd) {
        closep(fd);
        *fd = -EBADF;
}

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Defines funcp(type *p) that calls func(*p) when *p is not NULL, for _cleanup_(funcp). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)  \
        static inline void func##p(type *p) {    \
                if (*p)                          \
                        (void) func(*p);         \
        }

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)

/* qsort() with an empty array is fine, but with a NULL one undefined, even for zero elements. */
static inline void qsort_safe(void *base, size_t n, size_t size, int (*compar)(const void *, const void *)) {
        if (n > 1)
                qsort(base, n, size, compar);
}

/* Like systemd's: for the "-errno" convention, never returns 0 by accident. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
