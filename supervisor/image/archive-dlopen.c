/* SPDX-License-Identifier: MIT */
/* libarchive, loaded when a layer is first unpacked rather than linked. Every sup-monitor links the
 * image library, and libarchive brings libxml2, ICU, libstdc++, nettle, lzma, lz4, bz2 and acl along:
 * about 250 KiB of relocated, private pages in every monitor (bench/scale.sh, smaps per mapping),
 * for an unpack that most monitors never do (the store unpacks a layer once). So the build links
 * none of them, and the functions layer-unpack.c calls are defined here, under their own names, as
 * calls through pointers that dlopen() fills in on the first archive_read_new(); layer-unpack.c is
 * written against libarchive's headers as if linked.
 *
 * The library is loaded, and every function resolved, at once on the first archive_read_new(): a
 * library without one of them (an older libarchive.so.13) is not used at all, so no call can go
 * through a NULL pointer halfway through an unpack. archive_read_new() then returns NULL and
 * archive_dlopen_error() says why (layer-unpack.c reports it); every other function here takes an
 * archive or an entry, which only exists once the library was loaded.
 *
 * The definitions are hidden: a binary that also links the real libarchive (the unit test that
 * writes its fixtures with it) must not export them, or libarchive's own calls of its public
 * functions would be bound to these. */
#include "archive-dlopen.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LIBARCHIVE_SONAME "libarchive.so.13"
#define HIDDEN            __attribute__((visibility("hidden")))

/* X(RET, NAME, PARAMS, ARGS): the functions layer-unpack.c calls that are plain calls through the
 * pointer (FORWARDED), and the two written out below (OWN). */
#define ARCHIVE_FORWARDED(X)                                                                                          \
        X(int, archive_read_free, (struct archive * a), (a))                                                          \
        X(int, archive_read_support_format_tar, (struct archive * a), (a))                                            \
        X(int, archive_read_support_format_empty, (struct archive * a), (a))                                          \
        X(int, archive_read_open,                                                                                     \
          (struct archive * a, void *data, archive_open_callback *o, archive_read_callback *r,                        \
           archive_close_callback *c),                                                                                \
          (a, data, o, r, c))                                                                                         \
        X(int, archive_read_next_header, (struct archive * a, struct archive_entry * *e), (a, e))                     \
        X(int, archive_read_data_block, (struct archive * a, const void **b, size_t *s, la_int64_t *o), (a, b, s, o)) \
        X(const char *, archive_error_string, (struct archive * a), (a))                                              \
        X(int, archive_errno, (struct archive * a), (a))                                                              \
        X(__LA_MODE_T, archive_entry_perm, (struct archive_entry * e), (e))                                           \
        X(__LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))                                       \
        X(la_int64_t, archive_entry_size, (struct archive_entry * e), (e))                                            \
        X(la_int64_t, archive_entry_uid, (struct archive_entry * e), (e))                                             \
        X(la_int64_t, archive_entry_gid, (struct archive_entry * e), (e))                                             \
        X(int, archive_entry_xattr_count, (struct archive_entry * e), (e))                                            \
        X(int, archive_entry_xattr_reset, (struct archive_entry * e), (e))                                            \
        X(int, archive_entry_xattr_next, (struct archive_entry * e, const char **n, const void **v, size_t *s),       \
          (e, n, v, s))                                                                                               \
        X(const char *, archive_entry_pathname, (struct archive_entry * e), (e))                                      \
        X(const char *, archive_entry_pathname_utf8, (struct archive_entry * e), (e))                                 \
        X(const char *, archive_entry_symlink, (struct archive_entry * e), (e))                                       \
        X(const char *, archive_entry_symlink_utf8, (struct archive_entry * e), (e))                                  \
        X(const char *, archive_entry_hardlink, (struct archive_entry * e), (e))                                      \
        X(const char *, archive_entry_hardlink_utf8, (struct archive_entry * e), (e))                                 \
        X(dev_t, archive_entry_rdevmajor, (struct archive_entry * e), (e))                                            \
        X(dev_t, archive_entry_rdevminor, (struct archive_entry * e), (e))                                            \
        X(time_t, archive_entry_mtime, (struct archive_entry * e), (e))                                               \
        X(long, archive_entry_mtime_nsec, (struct archive_entry * e), (e))                                            \
        X(int, archive_entry_mtime_is_set, (struct archive_entry * e), (e))                                           \
        X(time_t, archive_entry_atime, (struct archive_entry * e), (e))                                               \
        X(long, archive_entry_atime_nsec, (struct archive_entry * e), (e))                                            \
        X(int, archive_entry_atime_is_set, (struct archive_entry * e), (e))
#define ARCHIVE_OWN(X)                                    \
        X(struct archive *, archive_read_new, (void), ()) \
        X(void, archive_set_error, (struct archive * a, int err, const char *fmt, ...), ())

#define POINTER(ret, name, params, args) ret(*name) params;
static struct {
        ARCHIVE_FORWARDED(POINTER)
        ARCHIVE_OWN(POINTER)
} lib;
#undef POINTER

static bool loaded;
static char load_error[256] = "libarchive was not loaded yet";
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Once, whoever gets there first: all or nothing. */
static void load(void) {
        void *handle = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

        if (!handle) {
                snprintf(load_error, sizeof(load_error), "cannot load %s: %s", LIBARCHIVE_SONAME, dlerror());
                return;
        }
#define RESOLVE(ret, name, params, args)                                                                          \
        lib.name = (ret(*) params) dlsym(handle, #name);                                                          \
        if (!lib.name) {                                                                                          \
                snprintf(load_error, sizeof(load_error), "%s has no %s: too old a libarchive", LIBARCHIVE_SONAME, \
                         #name);                                                                                  \
                memset(&lib, 0, sizeof(lib));                                                                     \
                return;                                                                                           \
        }
        ARCHIVE_FORWARDED(RESOLVE)
        ARCHIVE_OWN(RESOLVE)
#undef RESOLVE
        loaded = true;
}

const char *archive_dlopen_error(void) {
        (void) pthread_once(&once, load);
        return loaded ? NULL : load_error;
}

HIDDEN struct archive *archive_read_new(void) {
        (void) pthread_once(&once, load);
        return loaded ? lib.archive_read_new() : NULL;
}

/* libarchive itself calls it with a NULL format to clear the error. */
HIDDEN void archive_set_error(struct archive *a, int err, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        if (!fmt) {
                lib.archive_set_error(a, err, NULL);
                return;
        }
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        lib.archive_set_error(a, err, "%s", buf);
}

/* The rest: an archive or an entry exists, so the library was loaded whole. */
#define FORWARD(ret, name, params, args) \
        HIDDEN ret name params {         \
                return lib.name args;    \
        }
ARCHIVE_FORWARDED(FORWARD)
