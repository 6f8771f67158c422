/* SPDX-License-Identifier: MIT */
/* libarchive, loaded when a layer is first unpacked rather than linked. Every sup-monitor links the
 * image library, and libarchive brings libxml2, ICU, libstdc++, nettle, lzma, lz4, bz2 and acl along:
 * about 250 KiB of relocated, private pages in every monitor (bench/scale.sh, smaps per mapping),
 * for an unpack that most monitors never do (the store unpacks a layer once). So the build links
 * none of them, and the functions layer-unpack.c calls are defined here, under their own names, as
 * calls through pointers that dlopen() fills in on the first archive_read_new(); layer-unpack.c is
 * written against libarchive's headers as if linked.
 *
 * archive_read_new() returns NULL when the library cannot be loaded (layer-unpack.c reports it as
 * it reports a failed allocation); every other function here takes an archive or an entry, which
 * only exists once it was loaded. */
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define LIBARCHIVE_SONAME "libarchive.so.13"

static void *handle;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Unpacks run on image-jobs' threads in supd: the load happens once, whoever gets there first. */
static void load(void) {
        handle = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

static void *sym(const char *name) {
        (void) pthread_once(&once, load);
        return handle ? dlsym(handle, name) : NULL;
}

/* RET NAME(PARAMS) forwarded to the library's NAME with ARGS. */
#define FORWARD(ret, name, params, args)                \
        ret name params {                               \
                static ret(*f) params;                  \
                if (!f)                                 \
                        f = (ret(*) params) sym(#name); \
                return f args;                          \
        }

struct archive *archive_read_new(void) {
        struct archive *(*f)(void) = (struct archive * (*) (void) ) sym("archive_read_new");
        return f ? f() : NULL;
}

void archive_set_error(struct archive *a, int err, const char *fmt, ...) {
        static void (*f)(struct archive *, int, const char *, ...);
        char buf[1024];
        va_list ap;

        if (!f)
                f = (void (*)(struct archive *, int, const char *, ...)) sym("archive_set_error");
        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        f(a, err, "%s", buf);
}

FORWARD(int, archive_read_free, (struct archive * a), (a))
FORWARD(int, archive_read_support_format_tar, (struct archive * a), (a))
FORWARD(int, archive_read_support_format_empty, (struct archive * a), (a))
FORWARD(int, archive_read_open,
        (struct archive * a, void *data, archive_open_callback *o, archive_read_callback *r, archive_close_callback *c),
        (a, data, o, r, c))
FORWARD(int, archive_read_next_header, (struct archive * a, struct archive_entry **e), (a, e))
FORWARD(int, archive_read_data_block, (struct archive * a, const void **b, size_t *s, la_int64_t *o), (a, b, s, o))
FORWARD(const char *, archive_error_string, (struct archive * a), (a))
FORWARD(int, archive_errno, (struct archive * a), (a))

FORWARD(__LA_MODE_T, archive_entry_perm, (struct archive_entry * e), (e))
FORWARD(__LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
FORWARD(la_int64_t, archive_entry_size, (struct archive_entry * e), (e))
FORWARD(la_int64_t, archive_entry_uid, (struct archive_entry * e), (e))
FORWARD(la_int64_t, archive_entry_gid, (struct archive_entry * e), (e))
FORWARD(int, archive_entry_xattr_count, (struct archive_entry * e), (e))
FORWARD(int, archive_entry_xattr_reset, (struct archive_entry * e), (e))
FORWARD(int, archive_entry_xattr_next, (struct archive_entry * e, const char **n, const void **v, size_t *s),
        (e, n, v, s))
FORWARD(const char *, archive_entry_pathname, (struct archive_entry * e), (e))
FORWARD(const char *, archive_entry_pathname_utf8, (struct archive_entry * e), (e))
FORWARD(const char *, archive_entry_symlink, (struct archive_entry * e), (e))
FORWARD(const char *, archive_entry_symlink_utf8, (struct archive_entry * e), (e))
FORWARD(const char *, archive_entry_hardlink, (struct archive_entry * e), (e))
FORWARD(const char *, archive_entry_hardlink_utf8, (struct archive_entry * e), (e))
FORWARD(dev_t, archive_entry_rdevmajor, (struct archive_entry * e), (e))
FORWARD(dev_t, archive_entry_rdevminor, (struct archive_entry * e), (e))
FORWARD(time_t, archive_entry_mtime, (struct archive_entry * e), (e))
FORWARD(long, archive_entry_mtime_nsec, (struct archive_entry * e), (e))
FORWARD(int, archive_entry_mtime_is_set, (struct archive_entry * e), (e))
FORWARD(time_t, archive_entry_atime, (struct archive_entry * e), (e))
FORWARD(long, archive_entry_atime_nsec, (struct archive_entry * e), (e))
FORWARD(int, archive_entry_atime_is_set, (struct archive_entry * e), (e))
