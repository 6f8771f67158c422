/* SPDX-License-Identifier: MIT */
#include "layer-unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "alloc.h"
#include "archive-dlopen.h"
#include "macro.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"

static const char *const layer_compression_table[_LAYER_COMPRESSION_MAX] = {
        [LAYER_COMPRESSION_DETECT] = "detect",
        [LAYER_COMPRESSION_NONE] = "none",
        [LAYER_COMPRESSION_GZIP] = "gzip",
        [LAYER_COMPRESSION_ZSTD] = "zstd",
};
DEFINE_STRING_TABLE_LOOKUP(layer_compression, LayerCompression, _LAYER_COMPRESSION_MAX);

#define STREAM_BUFFER_SIZE (128U * 1024U)

/* ---- the stream: fd -> blob digest -> decompression -> diff_id and limits -> libarchive ---- */

typedef struct Stream {
        int fd;
        LayerCompression compression;
        uint64_t max_bytes;
        Sha256 blob, tar;
        uint64_t blob_size, tar_size;
        bool eof;        /* fd read to its end */
        bool ended;      /* the uncompressed stream ended where it may (stream_next() returned 0) */
        bool in_frame;   /* inside a gzip member or zstd frame: the end of fd here is a truncation */
        unsigned frames; /* gzip members or zstd frames begun */
        z_stream z;
        bool z_ready;
        ZSTD_DCtx *zstd;
        uint8_t *in, *out;
        size_t in_pos, in_size;
        SupError *error; /* the stream's own error, which libarchive's read callback cannot carry */
} Stream;

static const char *compression_name(LayerCompression c) {
        return c == LAYER_COMPRESSION_ZSTD ? "zstd" : "gzip";
}

/* Appends what one read() gives to the input buffer (emptied first when all of it was used). */
static int stream_read(Stream *s) {
        ssize_t n;

        if (s->in_pos == s->in_size)
                s->in_pos = s->in_size = 0;
        if (s->in_size == STREAM_BUFFER_SIZE)
                return 0;
        do
                n = read(s->fd, s->in + s->in_size, STREAM_BUFFER_SIZE - s->in_size);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return sup_error_errno(&s->error, -errno, "cannot read the layer");
        if (n == 0) {
                s->eof = true;
                return 0;
        }
        sha256_update(&s->blob, s->in + s->in_size, (size_t) n);
        s->blob_size += (uint64_t) n;
        s->in_size += (size_t) n;
        return 1;
}

static int stream_detect(Stream *s) {
        static const uint8_t gzip[] = {0x1f, 0x8b}, zstd[] = {0x28, 0xb5, 0x2f, 0xfd};
        int r;

        while (s->in_size < sizeof(zstd) && !s->eof)
                if ((r = stream_read(s)) < 0)
                        return r;
        if (s->in_size >= sizeof(gzip) && memcmp(s->in, gzip, sizeof(gzip)) == 0)
                s->compression = LAYER_COMPRESSION_GZIP;
        else if (s->in_size >= sizeof(zstd) && memcmp(s->in, zstd, sizeof(zstd)) == 0)
                s->compression = LAYER_COMPRESSION_ZSTD;
        /* A zstd stream may also begin with a skippable frame (magic 0x184D2A5?, little-endian). */
        else if (s->in_size >= sizeof(zstd) && (s->in[0] & 0xf0) == 0x50 && s->in[1] == 0x2a && s->in[2] == 0x4d &&
                 s->in[3] == 0x18)
                s->compression = LAYER_COMPRESSION_ZSTD;
        else
                s->compression = LAYER_COMPRESSION_NONE;
        return 0;
}

static int stream_init(Stream *s, int fd, LayerCompression compression, uint64_t max_bytes) {
        *s = (Stream){.fd = fd, .compression = compression, .max_bytes = max_bytes};
        sha256_init(&s->blob);
        sha256_init(&s->tar);
        s->in = xmalloc(STREAM_BUFFER_SIZE);
        s->out = xmalloc(STREAM_BUFFER_SIZE);
        if (s->compression == LAYER_COMPRESSION_DETECT) {
                int r = stream_detect(s);
                if (r < 0)
                        return r;
        }
        switch (s->compression) {
        case LAYER_COMPRESSION_GZIP:
                /* 15 + 16: a gzip wrapper only, with the largest window. */
                if (inflateInit2(&s->z, 15 + 16) != Z_OK)
                        return sup_error_make(&s->error, -ENOMEM, "cannot set up the gzip decoder");
                s->z_ready = true;
                break;
        case LAYER_COMPRESSION_ZSTD:
                /* The window stays at libzstd's default limit (128 MiB): a frame that asks for more
                 * is refused rather than allowed to make us allocate it. */
                s->zstd = ZSTD_createDCtx();
                if (!s->zstd)
                        return sup_error_make(&s->error, -ENOMEM, "cannot set up the zstd decoder");
                break;
        case LAYER_COMPRESSION_NONE:
                break;
        case LAYER_COMPRESSION_DETECT:
        case _LAYER_COMPRESSION_MAX:
        case _LAYER_COMPRESSION_INVALID:
        default:
                return sup_error_make(&s->error, -EINVAL, "unknown compression %d", (int) compression);
        }
        return 0;
}

static void stream_done(Stream *s) {
        if (s->z_ready)
                (void) inflateEnd(&s->z);
        ZSTD_freeDCtx(s->zstd);
        free(s->in);
        free(s->out);
        sup_error_free(s->error);
}

/* One step of the decompressor over what input there is, into s->out; returns the bytes made.
 * A new gzip member or zstd frame begins wherever the previous one ended: both formats allow
 * several back to back (pigz and zstd --format=gzip write them), and the tar runs on across. */
static ssize_t stream_decompress(Stream *s) {
        if (s->compression == LAYER_COMPRESSION_GZIP) {
                int zr;

                if (!s->in_frame && s->in_pos < s->in_size) {
                        if (s->frames > 0 && inflateReset(&s->z) != Z_OK)
                                return sup_error_make(&s->error, -EIO, "cannot reset the gzip decoder");
                        s->in_frame = true;
                        s->frames++;
                }
                if (!s->in_frame)
                        return 0;
                s->z.next_in = s->in + s->in_pos;
                s->z.avail_in = (uInt) (s->in_size - s->in_pos);
                s->z.next_out = s->out;
                s->z.avail_out = STREAM_BUFFER_SIZE;
                zr = inflate(&s->z, Z_NO_FLUSH);
                s->in_pos = s->in_size - s->z.avail_in;
                if (zr == Z_STREAM_END)
                        s->in_frame = false;
                else if (zr == Z_MEM_ERROR)
                        return sup_error_make(&s->error, -ENOMEM, "the gzip stream: out of memory");
                else if (zr != Z_OK && zr != Z_BUF_ERROR) /* Z_BUF_ERROR: it needs more input */
                        return sup_error_make(&s->error, -EBADMSG, "the gzip stream is damaged (member %u): %s",
                                              s->frames, s->z.msg ?: "invalid data");
                return (ssize_t) (STREAM_BUFFER_SIZE - s->z.avail_out);
        }

        ZSTD_inBuffer in = {.src = s->in, .size = s->in_size, .pos = s->in_pos};
        ZSTD_outBuffer out = {.dst = s->out, .size = STREAM_BUFFER_SIZE};
        size_t zr;

        if (!s->in_frame && s->in_pos < s->in_size) {
                s->in_frame = true;
                s->frames++;
        }
        if (!s->in_frame)
                return 0;
        zr = ZSTD_decompressStream(s->zstd, &out, &in);
        s->in_pos = in.pos;
        if (ZSTD_isError(zr))
                return sup_error_make(&s->error, -EBADMSG, "the zstd stream is damaged (frame %u): %s", s->frames,
                                      ZSTD_getErrorName(zr));
        if (zr == 0)
                s->in_frame = false;
        return (ssize_t) out.pos;
}

/* The next piece of the uncompressed tar in *ret; 0 at its end. Both digests and the size limit
 * see every byte on its way through, so that what libarchive reads is exactly what was hashed. */
static ssize_t stream_next_piece(Stream *s, const void **ret);

static ssize_t stream_next(Stream *s, const void **ret) {
        ssize_t n = stream_next_piece(s, ret);

        if (n == 0)
                s->ended = true;
        return n;
}

static ssize_t stream_next_piece(Stream *s, const void **ret) {
        for (;;) {
                ssize_t n;
                bool empty;
                int r;

                if (s->in_pos == s->in_size && !s->eof && (r = stream_read(s)) < 0)
                        return r;
                empty = s->in_pos == s->in_size;

                if (s->compression == LAYER_COMPRESSION_NONE) {
                        if (empty)
                                return 0;
                        *ret = s->in + s->in_pos;
                        n = (ssize_t) (s->in_size - s->in_pos);
                        s->in_pos = s->in_size;
                } else {
                        if (empty && !s->in_frame) {
                                if (s->frames == 0)
                                        return sup_error_make(&s->error, -EBADMSG, "the %s stream is empty",
                                                              compression_name(s->compression));
                                return 0;
                        }
                        n = stream_decompress(s);
                        if (n < 0)
                                return n;
                        if (n == 0) {
                                /* No output and no input left, inside a member or frame. */
                                if (empty && s->eof)
                                        return sup_error_make(&s->error, -EBADMSG, "the %s stream is truncated",
                                                              compression_name(s->compression));
                                continue;
                        }
                        *ret = s->out;
                }

                s->tar_size += (uint64_t) n;
                if (s->max_bytes > 0 && s->tar_size > s->max_bytes)
                        return sup_error_make(&s->error, -EFBIG,
                                              "the layer is larger than its limit of %" PRIu64
                                              " bytes uncompressed (a decompression bomb?)",
                                              s->max_bytes);
                sha256_update(&s->tar, *ret, (size_t) n);
                return n;
        }
}

static la_ssize_t stream_read_callback(struct archive *a, void *userdata, const void **ret) {
        Stream *s = userdata;
        ssize_t n = stream_next(s, ret);

        if (n < 0) {
                archive_set_error(a, (int) -n, "%s", sup_error_message(s->error));
                return -1;
        }
        return n;
}

/* The rest of the uncompressed stream after the tar's end (its zero blocks, padding), which the
 * diff_id covers as much as the entries. */
static int stream_drain(Stream *s) {
        const void *p;
        ssize_t n;

        while ((n = stream_next(s, &p)) > 0)
                ;
        return (int) n;
}

static void digest_format(Sha256 *h, char ret[static 7 + 64 + 1]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t d[SHA256_DIGEST_SIZE];

        sha256_final(h, d);
        memcpy(ret, "sha256:", 7);
        for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) {
                ret[7 + 2 * i] = hex[d[i] >> 4];
                ret[7 + 2 * i + 1] = hex[d[i] & 0xf];
        }
        ret[7 + 64] = 0;
}

/* ---- paths below the root ---- */

typedef struct DeferredDir {
        char *path; /* normalized; "" is the root */
        size_t order;
        mode_t mode;
        struct timespec times[2];
        dev_t dev; /* the directory the entry described, when it was unpacked */
        ino_t ino;
} DeferredDir;

/* A parent open_dir() made because an entry needed it and the archive had not listed it. */
typedef struct ImplicitDir {
        char *path; /* normalized, with no symlink on the way */
        dev_t dev;
        ino_t ino;
        bool described; /* a later entry of the archive described it after all */
} ImplicitDir;

typedef struct Unpacker {
        int root_fd;
        struct archive *archive;
        Stream *stream;
        DeferredDir *dirs;
        size_t n_dirs;
        ImplicitDir *implicit;
        size_t n_implicit;
        uint64_t n_whiteouts, n_xattrs_skipped;
        uint64_t file_bytes; /* the regular files' sizes, holes of sparse files included */
        bool unpadded_end;   /* the stream ended right after the last entry's data (write_data()) */
} Unpacker;

/* Every lookup below the root: symlinks the archive made are followed as if the root were "/"
 * (as the container will see them), and never out of it; /proc's magic links never. */
static int openat2_in_root(int root_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd;

        /* EAGAIN: a rename elsewhere raced with the ".." check of the lookup; try again. */
        for (int i = 0; i < 16; i++) {
                fd = (int) syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof(how));
                if (fd >= 0 || errno != EAGAIN)
                        break;
        }
        return fd < 0 ? negative_errno() : fd;
}

/* The entry's name as a path relative to the root: leading "/" and "./" gone, "." and empty
 * components dropped. Any ".." is refused, even one that would stay inside: no tool writes one
 * into a layer, and refusing them all leaves no arithmetic for an attacker to get wrong. */
static int path_normalize(const char *name, char **ret) {
        char *out = xmalloc(strlen(name) + 1);
        size_t k = 0;

        for (const char *p = name; *p;) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        return -EINVAL;
                }
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (k > 0)
                                out[k++] = '/';
                        memcpy(out + k, p, n);
                        k += n;
                }
                p += n + strspn(p + n, "/");
        }
        out[k] = 0;
        *ret = out;
        return 0;
}

/* Whether the directory parent_fd, which prefix (normalized) resolved to in the root, is prefix
 * itself: no symlink of the archive on the way. */
static bool prefix_is_literal(int root_fd, char *prefix, int parent_fd) {
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
        };
        _cleanup_close_ int fd = (int) syscall(SYS_openat2, root_fd, *prefix ? prefix : ".", &how, sizeof(how));
        struct stat a, b;

        return fd >= 0 && fstat(fd, &a) == 0 && fstat(parent_fd, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* The path below the root of directory fd, as the kernel names it (/proc/self/fd): NULL when
 * that cannot be had. */
static char *fd_path_below(int root_fd, int fd) {
        char proc[64], root[PATH_MAX], dir[PATH_MAX];
        ssize_t n, m;
        const char *rel;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", root_fd);
        n = readlink(proc, root, sizeof(root) - 1);
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        m = readlink(proc, dir, sizeof(dir) - 1);
        if (n <= 0 || m <= 0)
                return NULL;
        root[n] = dir[m] = 0;
        rel = startswith(dir, root);
        if (!rel || (*rel && *rel != '/'))
                return NULL;
        return xstrdup(rel + (*rel == '/'));
}

/* The name below the root of directory parent_fd, which prefix (normalized) resolved to there:
 * prefix itself, unless a symlink of the archive was on the way. NULL when it cannot be had. The
 * answer is checked: it must lead to parent_fd without a symlink. */
static char *prefix_real_path(int root_fd, char *prefix, int parent_fd) {
        _cleanup_free_ char *real = NULL;

        if (prefix_is_literal(root_fd, prefix, parent_fd))
                return xstrdup(prefix);
        real = fd_path_below(root_fd, parent_fd);
        if (!real || !prefix_is_literal(root_fd, real, parent_fd))
                return NULL;
        return TAKE_PTR(real);
}

/* Notes a parent open_dir() made at path (normalized, literal), by its inode, so that an entry
 * for it later on makes it explicit again whatever name that entry reached it by. */
static int implicit_add(Unpacker *u, char *path, int fd, SupError **ret_error) {
        struct stat st;

        if (fstat(fd, &st) < 0) {
                free(path);
                return sup_error_errno(ret_error, -errno, "cannot look at the directory");
        }
        *ARRAY_APPEND(u->implicit, u->n_implicit) = (ImplicitDir){
                .path = path,
                .dev = st.st_dev,
                .ino = st.st_ino,
        };
        return 0;
}

/* Opens directory path (normalized, below the root); with create, makes what is missing of it
 * with mode 0755 as tar does for the parents of an entry that comes before them, or has none,
 * and notes each one made (u->implicit) by its real name (a symlink of the archive on the way
 * resolved): the store gives it the metadata of the layers below. */
static int open_dir(Unpacker *u, char *path, bool create, SupError **ret_error) {
        int root_fd = u->root_fd, fd = openat2_in_root(root_fd, path, O_RDONLY | O_DIRECTORY);
        /* The real name of the deepest prefix there was, and where the missing part begins. */
        _cleanup_free_ char *real = NULL;
        const char *missing = NULL;

        if (fd != -ENOENT || !create)
                return fd >= 0 ? fd : sup_error_errno(ret_error, fd, "cannot open the directory %s", path);

        /* Component by component: each prefix resolved in the root, the missing one made in the
         * directory the previous prefix resolved to. */
        _cleanup_close_ int parent = openat2_in_root(root_fd, "", O_RDONLY | O_DIRECTORY);
        if (parent < 0)
                return sup_error_errno(ret_error, parent, "cannot open the layer's root");
        for (char *p = path;;) {
                char *end = p + strcspn(p, "/"), saved = *end;

                *end = 0;
                fd = openat2_in_root(root_fd, path, O_RDONLY | O_DIRECTORY);
                if (fd == -ENOENT) {
                        if (!missing) {
                                missing = p;
                                if (p > path)
                                        p[-1] = 0;
                                real = p == path ? xstrdup("") : prefix_real_path(root_fd, path, parent);
                                if (p > path)
                                        p[-1] = '/';
                        }
                        if (mkdirat(parent, p, 0755) < 0) {
                                char target[PATH_MAX];
                                ssize_t n = errno == EEXIST ? readlinkat(parent, p, target, sizeof(target) - 1) : -1;
                                int r;

                                /* A symlink the archive made, to where nothing is inside the layer
                                 * (a write-through attempt, or a dangling link): say so. */
                                if (n >= 0) {
                                        target[n] = 0;
                                        r = sup_error_make(ret_error, -ELOOP,
                                                           "%s is a symlink to %s, which is no directory of the layer "
                                                           "(a path through a symlink stays inside the layer)",
                                                           path, target);
                                } else
                                        r = sup_error_errno(ret_error, -errno, "cannot create the directory %s", path);
                                *end = saved;
                                return r;
                        }
                        fd = openat2_in_root(root_fd, path, O_RDONLY | O_DIRECTORY);
                        /* 0755 whatever supd's umask: a container's users must get through. */
                        if (fd >= 0 && fchmod(fd, 0755) < 0) {
                                int k = -errno;
                                close(fd);
                                fd = k;
                        }
                        /* Unnamed (left 0755 root) only if /proc could not name it. */
                        if (fd >= 0 && real) {
                                int r = implicit_add(u, *real ? path_join(real, missing) : xstrdup(missing), fd,
                                                     ret_error);
                                if (r < 0) {
                                        closep(&fd);
                                        *end = saved;
                                        return r;
                                }
                        }
                }
                if (fd < 0) {
                        int r = sup_error_errno(ret_error, fd, "cannot open the directory %s", path);
                        *end = saved;
                        return r;
                }
                *end = saved;
                if (!saved)
                        return fd;
                closep(&parent);
                parent = fd;
                p = end + 1;
        }
}

/* Opens the directory that holds path (normalized) and points *ret_base at its last component. */
static int open_parent(Unpacker *u, char *path, bool create, const char **ret_base, SupError **ret_error) {
        char *slash = strrchr(path, '/');
        int fd;

        if (!slash) {
                fd = openat2_in_root(u->root_fd, "", O_RDONLY | O_DIRECTORY);
                if (fd < 0)
                        return sup_error_errno(ret_error, fd, "cannot open the layer's root");
                *ret_base = path;
                return fd;
        }
        *slash = 0;
        fd = open_dir(u, path, create, ret_error);
        *slash = '/';
        if (fd >= 0)
                *ret_base = slash + 1;
        return fd;
}

/* Makes room for a new entry named base: a later entry replaces an earlier one of the same name,
 * as tar does. A directory stays when the new entry is one too (its metadata is then the later
 * one's); otherwise only an empty directory gives way. Returns 1 when a directory stays. */
static int make_room(int dir_fd, const char *base, bool new_is_dir, SupError **ret_error) {
        struct stat st;

        if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : sup_error_errno(ret_error, -errno, "cannot look at the earlier entry");
        if (S_ISDIR(st.st_mode)) {
                if (new_is_dir)
                        return 1;
                if (unlinkat(dir_fd, base, AT_REMOVEDIR) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot replace the earlier directory");
                return 0;
        }
        if (unlinkat(dir_fd, base, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot replace the earlier entry");
        return 0;
}

/* ---- entries ---- */

static void entry_times(struct archive_entry *e, struct timespec ret[2]) {
        ret[1] = archive_entry_mtime_is_set(e) ? (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)}
                                               : (struct timespec){.tv_nsec = UTIME_OMIT};
        ret[0] = archive_entry_atime_is_set(e) ? (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)}
                                               : ret[1];
}

static int entry_owner(struct archive_entry *e, uid_t *ret_uid, gid_t *ret_gid, SupError **ret_error) {
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

        /* (uid_t) -1 would tell chown to leave the owner as it is. */
        if (uid < 0 || uid >= (la_int64_t) UINT32_MAX || gid < 0 || gid >= (la_int64_t) UINT32_MAX)
                return sup_error_make(ret_error, -ERANGE, "owner %" PRId64 ":%" PRId64 " out of range", (int64_t) uid,
                                      (int64_t) gid);
        *ret_uid = (uid_t) uid;
        *ret_gid = (gid_t) gid;
        return 0;
}

/* The archive's xattrs that may pass: user.* (the file's own business) and security.capability
 * (file capabilities, as the OCI spec carries them). trusted.* would let the archive speak for
 * overlayfs (a forged opaque or redirect), and so would user.overlay.* to an overlay mounted with
 * userxattr; the other security.* for an LSM. Those are skipped. */
static int entry_xattrs(Unpacker *u, struct archive_entry *e, int fd, SupError **ret_error) {
        const char *name;
        const void *value;
        size_t size;

        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if ((!startswith(name, "user.") || startswith(name, "user.overlay.")) &&
                    !streq(name, "security.capability")) {
                        u->n_xattrs_skipped++;
                        continue;
                }
                if (fsetxattr(fd, name, value, size, 0) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot set the xattr %s", name);
        }
        return 0;
}

/* The data error of libarchive, or the stream's own when the stream is what failed. */
static int archive_fail(Unpacker *u, SupError **ret_error) {
        if (u->stream->error) {
                int r = -u->stream->error->code;
                if (ret_error && !*ret_error)
                        *ret_error = TAKE_PTR(u->stream->error);
                return r;
        }
        int code = archive_errno(u->archive);
        return sup_error_make(ret_error, code > 0 ? -code : -EBADMSG, "the tar stream: %s",
                              archive_error_string(u->archive) ?: "damaged");
}

static int write_data(Unpacker *u, int fd, la_int64_t size, SupError **ret_error) {
        la_int64_t end = 0;

        for (;;) {
                const void *buf;
                size_t n;
                la_int64_t offset;
                int r = archive_read_data_block(u->archive, &buf, &n, &offset);

                if (r == ARCHIVE_EOF)
                        break;
                /* Go's archive/tar (containerd, docker) takes a tar that ends right after its last
                 * file's data, without the padding to the next 512-byte block and the two zero
                 * blocks, as ending there; producers write such layers (umoci insert, whose diff_id
                 * is the digest of exactly those bytes). So here too, where nothing but a missing
                 * padding explains the failure: every byte of the entry came, and the stream ended
                 * cleanly exactly where they did. */
                if (r == ARCHIVE_FATAL && end == size && size % 512 != 0 && u->stream->ended && !u->stream->error &&
                    u->stream->tar_size % 512 == (uint64_t) size % 512) {
                        u->unpadded_end = true;
                        break;
                }
                if (r != ARCHIVE_OK)
                        return archive_fail(u, ret_error);
                for (size_t done = 0; done < n;) {
                        ssize_t w = pwrite(fd, (const uint8_t *) buf + done, n - done, offset + (off_t) done);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return sup_error_errno(ret_error, -errno, "cannot write");
                        done += (size_t) w;
                }
                end = MAX(end, offset + (la_int64_t) n);
        }
        /* A sparse file may end in a hole, which has no data block. */
        if (end < size && ftruncate(fd, size) < 0)
                return sup_error_errno(ret_error, -errno, "cannot extend");
        return 0;
}

static int entry_regular(Unpacker *u, struct archive_entry *e, int dir_fd, const char *base, uid_t uid, gid_t gid,
                         SupError **ret_error) {
        struct timespec ts[2];
        int r;

        /* Sparse files hold holes no byte of the stream paid for: their sizes count against the
         * limit too, or a small tar could make files of any size (and a disk built from them,
         * or a copy of them, would fill up with their zeros). */
        la_int64_t size = archive_entry_size(e);
        if (size < 0)
                return sup_error_make(ret_error, -EBADMSG, "a negative size");
        u->file_bytes += (uint64_t) size;
        if (u->stream->max_bytes > 0 && u->file_bytes > u->stream->max_bytes)
                return sup_error_make(ret_error, -EFBIG,
                                      "the files' sizes add up to more than the layer's limit of %" PRIu64 " bytes",
                                      u->stream->max_bytes);
        if ((r = make_room(dir_fd, base, false, ret_error)) < 0)
                return r;
        _cleanup_close_ int fd = openat(dir_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot create the file");
        if ((r = write_data(u, fd, archive_entry_size(e), ret_error)) < 0)
                return r;
        /* chown first: it clears setuid, setgid and security.capability, which come after it. */
        if (fchown(fd, uid, gid) < 0)
                return sup_error_errno(ret_error, -errno, "cannot change the owner");
        if ((r = entry_xattrs(u, e, fd, ret_error)) < 0)
                return r;
        if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
                return sup_error_errno(ret_error, -errno, "cannot change the mode");
        entry_times(e, ts);
        if (futimens(fd, ts) < 0)
                return sup_error_errno(ret_error, -errno, "cannot set the times");
        return 0;
}

static int entry_directory(Unpacker *u, struct archive_entry *e, const char *path, int dir_fd, const char *base,
                           uid_t uid, gid_t gid, SupError **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (dir_fd < 0) /* the root itself ("./") */
                fd = openat2_in_root(u->root_fd, "", O_RDONLY | O_DIRECTORY);
        else {
                if ((r = make_room(dir_fd, base, true, ret_error)) < 0)
                        return r;
                /* 0700 until the end: the archive's mode could shut its own later entries out. */
                if (r == 0 && mkdirat(dir_fd, base, 0700) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot create the directory");
                fd = openat(dir_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        fd = negative_errno();
        }
        if (fd < 0)
                return sup_error_errno(ret_error, fd, "cannot open the directory");
        if (fstat(fd, &st) < 0)
                return sup_error_errno(ret_error, -errno, "cannot look at the directory");
        if (fchown(fd, uid, gid) < 0)
                return sup_error_errno(ret_error, -errno, "cannot change the owner");
        if ((r = entry_xattrs(u, e, fd, ret_error)) < 0)
                return r;

        DeferredDir *d = ARRAY_APPEND(u->dirs, u->n_dirs);
        *d = (DeferredDir){
                .path = xstrdup(path),
                .order = u->n_dirs,
                .mode = archive_entry_perm(e) & 07777,
                .dev = st.st_dev,
                .ino = st.st_ino,
        };
        entry_times(e, d->times);
        return 0;
}

/* Symlinks, devices and FIFOs: created, then owner, mode and times without following. xattrs
 * are not kept on them (user.* is not allowed there; nothing else passes). */
static int entry_special(Unpacker *u, struct archive_entry *e, int dir_fd, const char *base, uid_t uid, gid_t gid,
                         SupError **ret_error) {
        mode_t type = archive_entry_filetype(e), mode = archive_entry_perm(e) & 07777;
        struct timespec ts[2];
        int r;

        if ((r = make_room(dir_fd, base, false, ret_error)) < 0)
                return r;
        if (type == AE_IFLNK) {
                /* Its target as the archive says: it is resolved in the container, or below the
                 * root by openat2 here, never on the host. */
                const char *target = archive_entry_symlink(e) ?: archive_entry_symlink_utf8(e);
                if (!target)
                        return sup_error_make(ret_error, -EBADMSG, "a symlink without a target");
                if (symlinkat(target, dir_fd, base) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot create the symlink");
        } else {
                /* A device node made here reaches nothing: the store is root's alone (0700), and
                 * the overlay that shows it to a container is mounted nodev. */
                dev_t dev = type == AE_IFCHR || type == AE_IFBLK
                                    ? makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))
                                    : 0;
                if (mknodat(dir_fd, base, type | mode, dev) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot create the node");
        }
        if (archive_entry_xattr_count(e) > 0)
                u->n_xattrs_skipped += (uint64_t) archive_entry_xattr_count(e);
        if (fchownat(dir_fd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return sup_error_errno(ret_error, -errno, "cannot change the owner");
        /* mknodat's mode went through the umask; a symlink has no mode of its own. */
        if (type != AE_IFLNK && fchmodat(dir_fd, base, mode, AT_SYMLINK_NOFOLLOW) < 0)
                return sup_error_errno(ret_error, -errno, "cannot change the mode");
        entry_times(e, ts);
        if (utimensat(dir_fd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return sup_error_errno(ret_error, -errno, "cannot set the times");
        return 0;
}

/* A hard link: its target resolved below the root as any entry is (so never outside it), and
 * linked without following a symlink there. Never a directory. */
static int entry_hardlink(Unpacker *u, const char *path, const char *link, int dir_fd, const char *base,
                          SupError **ret_error) {
        _cleanup_free_ char *target = NULL;
        const char *target_base;
        struct stat st;
        int r;

        if (path_normalize(link, &target) < 0)
                return sup_error_make(ret_error, -EINVAL, "a hard link to %s, which leaves the layer", link);
        if (!*target)
                return sup_error_make(ret_error, -EPERM, "a hard link to the layer's root");
        if (streq(target, path))
                return sup_error_make(ret_error, -EINVAL, "a hard link to itself");
        /* Nothing is made for a target: it exists, or the link is refused. */
        _cleanup_close_ int target_dir = open_parent(u, target, false, &target_base, ret_error);
        if (target_dir < 0)
                return sup_error_wrap(ret_error, target_dir, "a hard link to %s", link);
        if (fstatat(target_dir, target_base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return sup_error_errno(ret_error, -errno, "a hard link to %s", link);
        if (S_ISDIR(st.st_mode))
                return sup_error_make(ret_error, -EPERM, "a hard link to %s, a directory", link);
        if ((r = make_room(dir_fd, base, false, ret_error)) < 0)
                return r;
        if (linkat(target_dir, target_base, dir_fd, base, 0) < 0)
                return sup_error_errno(ret_error, -errno, "cannot link to %s", link);
        return 0;
}

/* ".wh.NAME": NAME is hidden from the layers below, which overlayfs reads as a character device
 * 0/0. ".wh..wh..opq": nothing of the layers below shows in this directory, the opaque xattr,
 * in both namespaces (trusted.* for overlays root mounts, user.* for those with userxattr). */
static int entry_whiteout(Unpacker *u, int dir_fd, const char *base, SupError **ret_error) {
        const char *name = base + strlen(".wh.");
        int r;

        /* Other ".wh..wh." names are aufs' own bookkeeping (hard link directories), not files. */
        if (startswith(name, ".wh.") && !streq(name, ".wh..opq"))
                return 0;
        u->n_whiteouts++;
        if (streq(name, ".wh..opq")) {
                if (fsetxattr(dir_fd, "trusted.overlay.opaque", "y", 1, 0) < 0 ||
                    fsetxattr(dir_fd, "user.overlay.opaque", "y", 1, 0) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot make the directory opaque");
                return 0;
        }
        if (!*name || streq(name, ".") || streq(name, ".."))
                return sup_error_make(ret_error, -EINVAL, "a whiteout of nothing");
        if ((r = make_room(dir_fd, name, false, ret_error)) < 0)
                return r;
        if (mknodat(dir_fd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
                return sup_error_errno(ret_error, -errno, "cannot create the whiteout");
        return 0;
}

static int entry_unpack(Unpacker *u, struct archive_entry *e, const char *name, SupError **ret_error) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        mode_t type = archive_entry_filetype(e);
        /* The name as the archive holds it (libarchive passes the bytes through in the C locale);
         * its UTF-8 form if only that is there. */
        const char *base, *link = archive_entry_hardlink(e) ?: archive_entry_hardlink_utf8(e);
        uid_t uid;
        gid_t gid;
        int r;

        if (path_normalize(name, &path) < 0)
                return sup_error_make(ret_error, -EINVAL, "leaves the layer");
        if (!*path) {
                if (type != AE_IFDIR || link)
                        return sup_error_make(ret_error, -EINVAL, "the layer's root, but not a directory");
                if ((r = entry_owner(e, &uid, &gid, ret_error)) < 0)
                        return r;
                return entry_directory(u, e, path, -EBADF, NULL, uid, gid, ret_error);
        }
        /* aufs' bookkeeping at the top (.wh..wh.plnk/, .wh..wh.aufs), which docker skips too. */
        if (startswith(path, ".wh..wh.") && !startswith(path, ".wh..wh..opq"))
                return 0;
        dir_fd = open_parent(u, path, true, &base, ret_error);
        if (dir_fd < 0)
                return dir_fd;
        if (startswith(base, ".wh."))
                return entry_whiteout(u, dir_fd, base, ret_error);
        if (link)
                return entry_hardlink(u, path, link, dir_fd, base, ret_error);
        if ((r = entry_owner(e, &uid, &gid, ret_error)) < 0)
                return r;

        switch (type) {
        case AE_IFREG:
                return entry_regular(u, e, dir_fd, base, uid, gid, ret_error);
        case AE_IFDIR:
                return entry_directory(u, e, path, dir_fd, base, uid, gid, ret_error);
        case AE_IFLNK:
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
                return entry_special(u, e, dir_fd, base, uid, gid, ret_error);
        default:
                return sup_error_make(ret_error, -EBADMSG, "a file type a layer cannot hold (%o)", (unsigned) type);
        }
}

static int deferred_dir_compare(const void *a, const void *b) {
        const DeferredDir *x = a, *y = b;
        int c = strcmp(x->path, y->path);
        return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

/* Directories' modes and times last: the mode could have shut out the entries below, and each
 * entry made in a directory changes its mtime. Sorted by path and walked backwards, a directory
 * comes before its parent (which a mode without search permission would close), and of a
 * directory the archive holds twice, the later entry, which wins. */
static int dirs_finish(Unpacker *u, SupError **ret_error) {
        const char *done = NULL;

        qsort_safe(u->dirs, u->n_dirs, sizeof(DeferredDir), deferred_dir_compare);
        for (size_t i = u->n_dirs; i > 0; i--) {
                DeferredDir *d = &u->dirs[i - 1];

                if (done && streq(done, d->path))
                        continue;
                done = d->path;
                _cleanup_close_ int fd = openat2_in_root(u->root_fd, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

                /* Replaced by a later entry, which then has its own metadata. */
                if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
                        continue;
                if (fd < 0)
                        return sup_error_errno(ret_error, fd, "entry %s: cannot open the directory", d->path);
                if (fchmod(fd, d->mode) < 0)
                        return sup_error_errno(ret_error, -errno, "entry %s: cannot change the mode", d->path);
                if (futimens(fd, d->times) < 0)
                        return sup_error_errno(ret_error, -errno, "entry %s: cannot set the times", d->path);
        }
        return 0;
}

static int implicit_dir_compare_inode(const void *a, const void *b) {
        const ImplicitDir *x = a, *y = b;
        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        return (x->ino > y->ino) - (x->ino < y->ino);
}

static int implicit_dir_compare_path(const void *a, const void *b) {
        return strcmp(((const ImplicitDir *) a)->path, ((const ImplicitDir *) b)->path);
}

/* The parents made that no entry described later (by its inode: an entry may have reached it
 * through a symlink of the archive), sorted by path, so a parent before what it holds. */
static char **implicit_finish(Unpacker *u, size_t *ret_n) {
        char **l = xnew0(char *, u->n_implicit + 1);
        size_t n = 0;

        qsort_safe(u->implicit, u->n_implicit, sizeof(ImplicitDir), implicit_dir_compare_inode);
        for (size_t i = 0; i < u->n_dirs && u->n_implicit > 0; i++) {
                ImplicitDir key = {.dev = u->dirs[i].dev, .ino = u->dirs[i].ino},
                            *hit = bsearch(&key, u->implicit, u->n_implicit, sizeof(ImplicitDir),
                                           implicit_dir_compare_inode);
                if (hit)
                        hit->described = true;
        }
        qsort_safe(u->implicit, u->n_implicit, sizeof(ImplicitDir), implicit_dir_compare_path);
        for (size_t i = 0; i < u->n_implicit; i++)
                if (!u->implicit[i].described)
                        l[n++] = TAKE_PTR(u->implicit[i].path);
        *ret_n = n;
        return l;
}

void layer_unpack_result_done(LayerUnpackResult *r) {
        if (!r)
                return;
        r->implicit_dirs = strv_free(r->implicit_dirs);
        r->n_implicit_dirs = 0;
}

/* The message, with the bytes a terminal would obey that the archive's names and link targets
 * brought into it shown as '?': it goes to logs and to supctl. */
static void message_sanitize(SupError *e) {
        for (char *p = e ? e->message : NULL; p && *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
}

/* An entry's name for messages: as it is, unless it holds bytes a terminal would obey. */
static char *name_for_message(const char *name) {
        for (const char *p = name; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return string_quote(name, strlen(name), 256);
        return xstrdup(name);
}

int layer_unpack(int fd, LayerCompression compression, int root_fd, const LayerUnpackLimits *limits,
                 LayerUnpackResult *ret, SupError **ret_error) {
        _cleanup_sup_error_ SupError *error = NULL;
        _cleanup_free_ char *last = NULL;
        Stream stream;
        Unpacker u = {.root_fd = root_fd, .stream = &stream};
        uint64_t max_entries = limits && limits->max_entries > 0 ? limits->max_entries : UINT64_MAX, n_entries = 0;
        int r;

        r = stream_init(&stream, fd, compression, limits ? limits->max_bytes : 0);
        if (r < 0) {
                error = TAKE_PTR(stream.error);
                goto finish;
        }

        u.archive = archive_read_new();
        if (!u.archive) {
                const char *why = archive_dlopen_error();

                r = why ? sup_error_make(&error, -ELIBACC, "%s", why)
                        : sup_error_make(&error, -ENOMEM, "cannot set up libarchive");
                goto finish;
        }
        /* The tar formats only (ustar, pax, GNU): libarchive's filters stay off, since the
         * decompression is ours, in front of it, where both digests are taken. "empty" is no
         * format but zero bytes, an empty layer to Go's archive/tar (containerd, docker) too. */
        if (archive_read_support_format_tar(u.archive) != ARCHIVE_OK ||
            archive_read_support_format_empty(u.archive) != ARCHIVE_OK ||
            archive_read_open(u.archive, &stream, NULL, stream_read_callback, NULL) != ARCHIVE_OK) {
                r = archive_fail(&u, &error);
                goto finish;
        }

        for (;;) {
                struct archive_entry *e;
                const char *name;

                r = archive_read_next_header(u.archive, &e);
                if (r == ARCHIVE_EOF)
                        break;
                /* ARCHIVE_WARN: a header libarchive read, with a note (a name it could not convert
                 * to the locale, an unknown pax keyword); the entry itself is whole. */
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                        r = archive_fail(&u, &error);
                        if (last)
                                (void) sup_error_wrap(&error, r, "after entry %s", last);
                        goto finish;
                }
                free(last);
                name = archive_entry_pathname(e) ?: archive_entry_pathname_utf8(e);
                last = name ? name_for_message(name) : xasprintf("#%" PRIu64, n_entries + 1);
                if (++n_entries > max_entries) {
                        r = sup_error_make(&error, -EFBIG, "more entries than the layer's limit of %" PRIu64,
                                           max_entries);
                        goto finish;
                }
                r = name ? entry_unpack(&u, e, name, &error)
                         : sup_error_make(&error, -EBADMSG, "a name that cannot be read");

                if (r < 0) {
                        (void) sup_error_wrap(&error, r, "entry %s", last);
                        goto finish;
                }
                if (u.unpadded_end)
                        break;
        }

        r = stream_drain(&stream);
        if (r < 0) {
                r = archive_fail(&u, &error);
                goto finish;
        }
        r = dirs_finish(&u, &error);
        if (r < 0)
                goto finish;

        if (ret) {
                *ret = (LayerUnpackResult){
                        .blob_size = stream.blob_size,
                        .tar_size = stream.tar_size,
                        .n_entries = n_entries,
                        .n_whiteouts = u.n_whiteouts,
                        .n_xattrs_skipped = u.n_xattrs_skipped,
                };
                digest_format(&stream.blob, ret->blob_digest);
                digest_format(&stream.tar, ret->diff_id);
                ret->implicit_dirs = implicit_finish(&u, &ret->n_implicit_dirs);
        }
        r = 0;

finish:
        if (u.archive)
                archive_read_free(u.archive);
        for (size_t i = 0; i < u.n_dirs; i++)
                free(u.dirs[i].path);
        free(u.dirs);
        for (size_t i = 0; i < u.n_implicit; i++)
                free(u.implicit[i].path);
        free(u.implicit);
        stream_done(&stream);
        if (r < 0 && ret_error && !*ret_error) {
                message_sanitize(error);
                *ret_error = TAKE_PTR(error);
        }
        return r;
}
