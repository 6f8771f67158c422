/* SPDX-License-Identifier: MIT */
/* The layer unpacker as a security boundary: each hostile archive is built here with libarchive's
 * writer, so that it is exactly the attack its test names, and every hostile case also checks that
 * nothing appeared outside the layer (a sentinel directory beside the root, and the host's own
 * files). Cases that need root (chown to another owner, device nodes, trusted.* xattrs, a tmpfs)
 * are skipped without it. */
#include "test-helpers.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer-unpack.h"
#include "sha256.h"
#include "path-util.h"
#include "string-util.h"

typedef struct Fixture {
        char *tree; /* tmp dir: root/ (the layer), sentinel/ (beside it) */
        char *root;
        char *sentinel; /* holds "canary" and nothing else; a hostile archive aims at it */
        int root_fd;
        char **implicit; /* the last unpack's implicit_dirs */
} Fixture;

static Fixture fx;

static int setup(void **state) {
        fx.tree = make_tree();
        fx.root = path_join(fx.tree, "root");
        fx.sentinel = path_join(fx.tree, "sentinel");
        assert_int_equal(mkdir(fx.root, 0755), 0);
        put(fx.sentinel, "canary", "untouched\n");
        fx.root_fd = open(fx.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fx.root_fd >= 0);
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = xasprintf("chmod -R u+rwX %s", fx.tree);

        /* Without root, the directories the archives made read-only would keep their files. */
        if (geteuid() != 0)
                assert_int_equal(system(cmd), 0);
        closep(&fx.root_fd);
        assert_int_equal(rm_rf(fx.tree), 0);
        free(fx.tree);
        free(fx.root);
        free(fx.sentinel);
        fx.implicit = strv_free(fx.implicit);
        return 0;
}

#define SKIP_UNLESS_ROOT()                                        \
        do {                                                      \
                if (geteuid() != 0) {                             \
                        fprintf(stderr, "skipped: needs root\n"); \
                        skip();                                   \
                }                                                 \
        } while (0)

/* ---- archives ---- */

typedef struct Tar {
        struct archive *a;
        char *data;
        size_t size;
        FILE *f;
} Tar;

static void tar_begin(Tar *t, LayerCompression c) {
        *t = (Tar){.a = archive_write_new()};
        assert_non_null(t->a);
        /* pax: xattrs and long names as real tools write them. */
        assert_int_equal(archive_write_set_format_pax_restricted(t->a), ARCHIVE_OK);
        /* xattrs as Go's archive/tar (docker, buildah) and GNU tar write them, once each. */
        assert_int_equal(archive_write_set_options(t->a, "pax:xattrheader=SCHILY"), ARCHIVE_OK);
        if (c == LAYER_COMPRESSION_GZIP)
                assert_int_equal(archive_write_add_filter_gzip(t->a), ARCHIVE_OK);
        else if (c == LAYER_COMPRESSION_ZSTD)
                assert_int_equal(archive_write_add_filter_zstd(t->a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(t->a, 1), ARCHIVE_OK);
        t->f = open_memstream(&t->data, &t->size);
        assert_non_null(t->f);
        assert_int_equal(archive_write_open_FILE(t->a, t->f), ARCHIVE_OK);
}

static struct archive_entry *entry_new(const char *name, mode_t type, mode_t perm) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, perm);
        /* Our own ids: without root, chown to anything else fails. */
        archive_entry_set_uid(e, geteuid());
        archive_entry_set_gid(e, getegid());
        archive_entry_set_mtime(e, 1700000000, 0);
        return e;
}

static void tar_put(Tar *t, struct archive_entry *e, const void *data, size_t n) {
        assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
        if (n > 0)
                assert_int_equal(archive_write_data(t->a, data, n), (la_ssize_t) n);
        archive_entry_free(e);
}

static void tar_file(Tar *t, const char *name, mode_t perm, const char *content) {
        struct archive_entry *e = entry_new(name, AE_IFREG, perm);
        archive_entry_set_size(e, (la_int64_t) strlen(content));
        tar_put(t, e, content, strlen(content));
}

static void tar_dir(Tar *t, const char *name, mode_t perm) {
        tar_put(t, entry_new(name, AE_IFDIR, perm), NULL, 0);
}

static void tar_symlink(Tar *t, const char *name, const char *target) {
        struct archive_entry *e = entry_new(name, AE_IFLNK, 0777);
        archive_entry_set_symlink(e, target);
        tar_put(t, e, NULL, 0);
}

static void tar_hardlink(Tar *t, const char *name, const char *target) {
        struct archive_entry *e = entry_new(name, AE_IFREG, 0644);
        archive_entry_set_hardlink(e, target);
        tar_put(t, e, NULL, 0);
}

static void tar_node(Tar *t, const char *name, mode_t type, unsigned major, unsigned minor) {
        struct archive_entry *e = entry_new(name, type, 0666);
        archive_entry_set_rdevmajor(e, major);
        archive_entry_set_rdevminor(e, minor);
        tar_put(t, e, NULL, 0);
}

/* Ends the archive; the caller frees t->data. */
static void tar_end(Tar *t) {
        assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
        assert_int_equal(archive_write_free(t->a), ARCHIVE_OK);
        assert_int_equal(fclose(t->f), 0);
}

/* ---- unpacking ---- */

static unsigned count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* Unpacks data into fx.root; the error message in *ret_message (NULL on success), the implicit
 * directories in fx.implicit. Checks that no fd was left open, on success or failure, and that a
 * failure came with a message. */
static int unpack_limits(const void *data, size_t n, LayerCompression c, const LayerUnpackLimits *limits,
                         LayerUnpackResult *ret, char **ret_message) {
        _cleanup_sup_error_ SupError *e = NULL;
        unsigned before;
        int fd = memfd_create("layer", MFD_CLOEXEC), r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t) n);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        before = count_fds();
        r = layer_unpack(fd, c, fx.root_fd, limits, ret, &e);
        assert_int_equal(count_fds(), before);
        close(fd);
        assert_true(r >= 0 || e);
        if (r < 0)
                fprintf(stderr, "layer_unpack: %s\n", e->message);
        if (ret_message)
                *ret_message = e ? xstrdup(e->message) : NULL;
        if (r >= 0 && ret) {
                assert_int_equal(strv_length(ret->implicit_dirs), ret->n_implicit_dirs);
                strv_free(fx.implicit);
                fx.implicit = TAKE_PTR(ret->implicit_dirs);
        }
        return r;
}

static int unpack(const Tar *t, char **ret_message) {
        LayerUnpackResult res;
        return unpack_limits(t->data, t->size, LAYER_COMPRESSION_DETECT, NULL, &res, ret_message);
}

static void assert_message(char *message, const char *text) {
        assert_non_null(message);
        if (!strstr(message, text)) {
                fprintf(stderr, "message \"%s\" lacks \"%s\"\n", message, text);
                fail();
        }
        free(message);
}

/* Nothing new beside the root: the sentinel holds its canary alone, unchanged, with one link. */
static void assert_sentinel_intact(void) {
        _cleanup_free_ char *canary = path_join(fx.sentinel, "canary"), *content = NULL;
        DIR *d;
        struct dirent *de;
        struct stat st;
        size_t size;

        assert_int_equal(read_full_file(canary, 4096, &content, &size), 0);
        assert_string_equal(content, "untouched\n");
        assert_int_equal(lstat(canary, &st), 0);
        assert_int_equal(st.st_nlink, 1);
        assert_non_null(d = opendir(fx.sentinel));
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && !streq(de->d_name, "canary")) {
                        fprintf(stderr, "sentinel/%s appeared\n", de->d_name);
                        fail();
                }
        closedir(d);
        assert_non_null(d = opendir(fx.tree));
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && !streq(de->d_name, "root") &&
                    !streq(de->d_name, "sentinel")) {
                        fprintf(stderr, "%s appeared beside the layer\n", de->d_name);
                        fail();
                }
        closedir(d);
}

static bool in_root(const char *rel, struct stat *ret) {
        _cleanup_free_ char *p = path_join(fx.root, rel);
        struct stat st;
        bool found = lstat(p, &st) == 0;
        if (ret)
                *ret = st;
        return found;
}

static char *read_in_root(const char *rel) {
        _cleanup_free_ char *p = path_join(fx.root, rel);
        char *content = NULL;
        size_t size;

        assert_int_equal(read_full_file(p, 1 << 20, &content, &size), 0);
        return content;
}

#define PWNED_PASSWD "pwned::0:0::/:/bin/sh\n"

static char *host_passwd(void) {
        char *content = NULL;
        size_t size;

        assert_int_equal(read_full_file("/etc/passwd", 1 << 20, &content, &size), 0);
        return content;
}

/* The archive's passwd landed in the layer, and the host's is as it was (before). */
static void assert_passwd_confined(const char *before) {
        _cleanup_free_ char *mine = read_in_root("etc/passwd"), *after = host_passwd();

        assert_string_equal(mine, PWNED_PASSWD);
        assert_string_equal(after, before);
}

/* ---- digests and the plain cases ---- */

static void build_sample(Tar *t, LayerCompression c) {
        /* Written in a UTF-8 locale, as a UTF-8 pax path (what Go's archive/tar writes too), and
         * read in the C locale, as supd runs. */
        assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
        tar_begin(t, c);
        tar_dir(t, "./", 0755);
        tar_dir(t, "./etc/", 0755);
        tar_file(t, "./etc/hostname", 0644, "layer\n");
        tar_dir(t, "usr/bin/", 0755);
        tar_file(t, "usr/bin/tool", 0755, "#!/bin/sh\necho tool\n");
        tar_symlink(t, "bin", "usr/bin");
        tar_hardlink(t, "usr/bin/tool2", "usr/bin/tool");
        tar_file(t, "caf\xc3\xa9", 0600, "utf-8 name");
        tar_end(t);
        assert_non_null(setlocale(LC_CTYPE, "C"));
}

static void sha256sum_of(const char *cmd, char ret[7 + 64 + 1]) {
        FILE *p = popen(cmd, "r");
        char line[128];

        assert_non_null(p);
        assert_non_null(fgets(line, sizeof(line), p));
        assert_int_equal(pclose(p), 0);
        memcpy(ret, "sha256:", 7);
        memcpy(ret + 7, line, 64);
        ret[7 + 64] = 0;
}

static void check_digests(LayerCompression c, const char *decompress) {
        _cleanup_free_ char *blob = path_join(fx.tree, "blob"), *tar = path_join(fx.tree, "tar"), *cmd = NULL;
        char want_blob[7 + 64 + 1], want_diff_id[7 + 64 + 1], want_plain[7 + 64 + 1];
        LayerUnpackResult res;
        Tar plain, t;

        build_sample(&plain, LAYER_COMPRESSION_NONE);
        build_sample(&t, c);
        assert_int_equal(write_file_atomic(blob, t.data, t.size, 0600), 0);
        assert_int_equal(write_file_atomic(tar, plain.data, plain.size, 0600), 0);
        cmd = xasprintf("sha256sum %s", blob);
        sha256sum_of(cmd, want_blob);
        free(cmd);
        cmd = xasprintf("%s %s | sha256sum", decompress, blob);
        sha256sum_of(cmd, want_diff_id);
        free(cmd);
        cmd = xasprintf("sha256sum %s", tar);
        sha256sum_of(cmd, want_plain);

        /* Told the compression, and left to find it. */
        assert_int_equal(unpack_limits(t.data, t.size, c, NULL, &res, NULL), 0);
        assert_int_equal(rm_rf(fx.root), 0);
        assert_int_equal(mkdir(fx.root, 0755), 0);
        closep(&fx.root_fd);
        fx.root_fd = open(fx.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_DETECT, NULL, &res, NULL), 0);
        assert_string_equal(res.blob_digest, want_blob);
        assert_string_equal(res.diff_id, want_diff_id);
        assert_string_equal(res.diff_id, want_plain);
        assert_int_equal(res.blob_size, t.size);
        assert_int_equal(res.tar_size, plain.size);
        assert_int_equal(res.n_entries, 8);
        assert_int_equal(res.n_whiteouts, 0);
        unlink(blob);
        unlink(tar);
        free(plain.data);
        free(t.data);
}

static void test_digests_equal_sha256sum(void **state) {
        struct stat st, st2;

        check_digests(LAYER_COMPRESSION_NONE, "cat");
        check_digests(LAYER_COMPRESSION_GZIP, "gzip -dc");
        check_digests(LAYER_COMPRESSION_ZSTD, "zstd -dcq");

        /* And what was unpacked is the archive's. */
        _cleanup_free_ char *hostname = read_in_root("etc/hostname"), *tool = read_in_root("bin/tool"),
                            *cafe = read_in_root("caf\xc3\xa9");
        assert_string_equal(hostname, "layer\n");
        assert_string_equal(tool, "#!/bin/sh\necho tool\n");
        assert_string_equal(cafe, "utf-8 name");
        assert_true(in_root("usr/bin/tool", &st) && in_root("usr/bin/tool2", &st2));
        assert_int_equal(st.st_ino, st2.st_ino);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(st.st_mtime, 1700000000);
        assert_true(in_root("bin", &st) && S_ISLNK(st.st_mode));
        assert_true(in_root("usr/bin", &st) && st.st_mtime == 1700000000);
}

/* The empty layers images carry: 1024 zero bytes (docker's, whose digest every registry knows),
 * gzipped, and zero bytes. */
static void test_empty_layers(void **state) {
        _cleanup_free_ char *zeros = xzalloc(1024);
        LayerUnpackResult res;
        char *message;
        Tar t;

        assert_int_equal(unpack_limits(zeros, 1024, LAYER_COMPRESSION_DETECT, NULL, &res, NULL), 0);
        assert_string_equal(res.diff_id, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
        assert_string_equal(res.blob_digest, res.diff_id);
        assert_int_equal(res.n_entries, 0);
        tar_begin(&t, LAYER_COMPRESSION_GZIP);
        tar_end(&t);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_DETECT, NULL, &res, NULL), 0);
        assert_int_equal(res.blob_size, t.size);
        assert_int_equal(res.n_entries, 0);
        free(t.data);
        assert_int_equal(unpack_limits(zeros, 0, LAYER_COMPRESSION_NONE, NULL, &res, NULL), 0);
        assert_string_equal(res.diff_id, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        /* Zero bytes said to be gzip are no gzip stream. */
        assert_int_equal(unpack_limits(zeros, 0, LAYER_COMPRESSION_GZIP, NULL, &res, &message), -EBADMSG);
        assert_message(message, "the gzip stream is empty");
        assert_sentinel_intact();
}

/* pigz writes several gzip members; the tar runs on across them. */
static void test_multi_member_and_padded_streams(void **state) {
        _cleanup_free_ char *tar = path_join(fx.tree, "tar"), *blob = path_join(fx.tree, "blob"), *cmd = NULL,
                            *data = NULL;
        char want[7 + 64 + 1];
        LayerUnpackResult res;
        size_t size;
        Tar t;

        build_sample(&t, LAYER_COMPRESSION_NONE);
        assert_int_equal(write_file_atomic(tar, t.data, t.size, 0600), 0);
        cmd = xasprintf("(head -c 700 %1$s | gzip -c; tail -c +701 %1$s | gzip -c) > %2$s", tar, blob);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(read_full_file(blob, 1 << 20, &data, &size), 0);
        assert_int_equal(unpack_limits(data, size, LAYER_COMPRESSION_DETECT, NULL, &res, NULL), 0);
        free(cmd);
        cmd = xasprintf("sha256sum %s", tar);
        sha256sum_of(cmd, want);
        assert_string_equal(res.diff_id, want);
        assert_true(in_root("caf\xc3\xa9", NULL));

        /* Padding after the tar's end, past what libarchive reads ahead: the diff_id is of the
         * whole stream, not of what the tar reader looked at. */
        size_t padded = t.size + 300 * 1024;
        t.data = xrealloc(t.data, padded);
        memset(t.data + t.size, 0, padded - t.size);
        assert_int_equal(write_file_atomic(tar, t.data, padded, 0600), 0);
        sha256sum_of(cmd, want);
        assert_int_equal(unpack_limits(t.data, padded, LAYER_COMPRESSION_NONE, NULL, &res, NULL), 0);
        assert_string_equal(res.diff_id, want);
        assert_int_equal(res.tar_size, padded);
        free(t.data);
}

/* ---- paths ---- */

static void test_dotdot_refused(void **state) {
        Tar t;

        /* The classic: "..", climbing out of the layer into the directory beside it. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_dir(&t, "usr/", 0755);
        tar_file(&t, "usr/../../sentinel/pwned", 0644, "pwned");
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL) < 0, true);
        free(t.data);
        assert_sentinel_intact();

        tar_begin(&t, LAYER_COMPRESSION_GZIP);
        tar_file(&t, "../sentinel/canary", 0644, "pwned");
        tar_end(&t);
        char *message;
        assert_int_equal(unpack(&t, &message), -EINVAL);
        assert_message(message, "entry ../sentinel/canary: leaves the layer");
        free(t.data);
        assert_sentinel_intact();

        /* A name that would move the terminal's cursor where the message is shown: escaped, and
         * so is a link target the message repeats. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_hardlink(&t, "x\x1b[2J", "..\x1b[2J/../sentinel/canary");
        tar_end(&t);
        assert_int_equal(unpack(&t, &message), -EINVAL);
        assert_message(message, "entry \"x\\x1b[2J\": a hard link to ..?[2J/../sentinel/canary, which leaves");
        free(t.data);
        assert_sentinel_intact();
}

static void test_absolute_path_confined(void **state) {
        _cleanup_free_ char *host = host_passwd(), *name = xasprintf("%s/pwned", fx.sentinel);
        Tar t;

        /* An absolute name is the layer's, not the host's: the host's /etc/passwd and the
         * sentinel, named by its absolute path, stay as they are. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_file(&t, "/etc/passwd", 0644, PWNED_PASSWD);
        tar_file(&t, name, 0644, "pwned");
        tar_file(&t, ".//./a//b/./c", 0644, "c");
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        assert_passwd_confined(host);
        assert_true(in_root(name + 1, NULL));
        assert_true(in_root("a/b/c", NULL));
        /* Parents the archive did not list: 0755 whatever the umask, or a container's users could
         * not get through them. */
        struct stat st;
        assert_true(in_root("a/b", &st) && (st.st_mode & 07777) == 0755);
        assert_sentinel_intact();
}

static void test_write_through_symlink(void **state) {
        _cleanup_free_ char *host = host_passwd();
        char *message;
        Tar t;

        /* A symlink the archive made earlier, to the sentinel by its absolute path, then a file
         * below it: the symlink resolves inside the layer, where that path does not exist. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_symlink(&t, "d", fx.sentinel);
        tar_file(&t, "d/pwned", 0644, "pwned");
        tar_end(&t);
        assert_true(unpack(&t, &message) < 0);
        assert_message(message, "entry d/pwned:");
        free(t.data);
        assert_sentinel_intact();

        /* The same with a relative symlink that climbs. */
        assert_int_equal(rm_rf(fx.root), 0);
        assert_int_equal(mkdir(fx.root, 0755), 0);
        closep(&fx.root_fd);
        fx.root_fd = open(fx.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_symlink(&t, "d", "../sentinel");
        tar_file(&t, "d/pwned", 0644, "pwned");
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        assert_sentinel_intact();

        /* symlink -> / and then a path below it: first to the sentinel, so that an unpacker that
         * follows it out fails here, before the host's /etc/passwd is at stake; then the classic
         * link/etc/passwd, which must be the layer's /etc/passwd, not the host's. */
        _cleanup_free_ char *through = xasprintf("link%s/canary", fx.sentinel);
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_symlink(&t, "link", "/");
        tar_file(&t, through, 0644, "pwned");
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        assert_sentinel_intact();
        assert_true(in_root(through, NULL));

        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_dir(&t, "etc/", 0755);
        tar_symlink(&t, "link", "/");
        tar_file(&t, "link/etc/passwd", 0644, PWNED_PASSWD);
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        assert_passwd_confined(host);

        /* A chain of symlinks to "..": each ".." stops at the layer's root. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_symlink(&t, "a", "..");
        tar_symlink(&t, "b", "a/..");
        tar_symlink(&t, "c", "b/../../..");
        tar_file(&t, "c/sentinel/pwned", 0644, "pwned");
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        assert_true(in_root("sentinel/pwned", NULL));
        assert_sentinel_intact();

        /* The entry itself a symlink made earlier, to the canary: a later file of that name
         * replaces the symlink, and never writes through it. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        _cleanup_free_ char *canary = path_join(fx.sentinel, "canary");
        tar_symlink(&t, "f", canary);
        tar_file(&t, "f", 0644, "pwned");
        tar_symlink(&t, "g", canary);
        tar_dir(&t, "g", 0755);
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        struct stat st;
        assert_true(in_root("f", &st) && S_ISREG(st.st_mode));
        assert_true(in_root("g", &st) && S_ISDIR(st.st_mode));
        assert_sentinel_intact();
}

static void test_hardlink_out_of_the_layer(void **state) {
        _cleanup_free_ char *canary = path_join(fx.sentinel, "canary");
        char *message;
        Tar t;

        /* A hard link to a file outside, by "..": refused. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_hardlink(&t, "h", "../sentinel/canary");
        tar_end(&t);
        assert_int_equal(unpack(&t, &message), -EINVAL);
        assert_message(message, "entry h: a hard link to ../sentinel/canary, which leaves the layer");
        free(t.data);
        assert_sentinel_intact();

        /* By its absolute path: that is a path in the layer, where there is nothing. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_hardlink(&t, "h", canary);
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        assert_sentinel_intact();

        /* To a path that does not exist: refused, and nothing made on the way to it. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_hardlink(&t, "h", "no/such/file");
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        assert_false(in_root("no", NULL));

        /* Through a symlink the archive made to the sentinel. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_symlink(&t, "s", fx.sentinel);
        tar_symlink(&t, "r", "../sentinel");
        tar_hardlink(&t, "h", "s/canary");
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_hardlink(&t, "h2", "r/canary");
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        assert_sentinel_intact();

        /* To a directory (a loop no fsck undoes, were the kernel to allow it): refused. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_dir(&t, "d/", 0755);
        tar_hardlink(&t, "h3", "d");
        tar_end(&t);
        assert_int_equal(unpack(&t, &message), -EPERM);
        assert_message(message, "entry h3: a hard link to d, a directory");
        free(t.data);

        /* To the final symlink itself: the link is to the symlink, never to what it names. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_symlink(&t, "c", canary);
        tar_hardlink(&t, "h4", "c");
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        struct stat st;
        assert_true(in_root("h4", &st) && S_ISLNK(st.st_mode));
        assert_sentinel_intact();
}

static void test_device_nodes_only_inside(void **state) {
        struct stat st;
        Tar t;

        SKIP_UNLESS_ROOT();
        /* /dev/sda's numbers, a char device and a FIFO: made in the layer (the store is 0700 and
         * the overlay nodev), never beside it, neither by ".." nor through a symlink. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_node(&t, "dev/sda", AE_IFBLK, 8, 0);
        tar_node(&t, "dev/null", AE_IFCHR, 1, 3);
        tar_node(&t, "run/fifo", AE_IFIFO, 0, 0);
        tar_symlink(&t, "s", fx.sentinel);
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        assert_true(in_root("dev/sda", &st) && S_ISBLK(st.st_mode) && st.st_rdev == makedev(8, 0));
        assert_int_equal(st.st_mode & 07777, 0666);
        assert_true(in_root("dev/null", &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
        assert_true(in_root("run/fifo", &st) && S_ISFIFO(st.st_mode));

        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_node(&t, "../sentinel/sda", AE_IFBLK, 8, 0);
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_node(&t, "s/sda", AE_IFBLK, 8, 0);
        tar_end(&t);
        assert_true(unpack(&t, NULL) < 0);
        free(t.data);
        assert_sentinel_intact();
}

static void test_setuid_and_owner_kept(void **state) {
        struct archive_entry *e;
        struct stat st;
        Tar t;

        SKIP_UNLESS_ROOT();
        /* chown clears setuid: the mode must come after it, or every setuid binary of an image
         * (su, passwd, ping) loses its bit. */
        tar_begin(&t, LAYER_COMPRESSION_GZIP);
        e = entry_new("usr/bin/su", AE_IFREG, 04755);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_uname(e, "nobody"); /* names are ignored: the numbers are the owner */
        archive_entry_set_size(e, 2);
        tar_put(&t, e, "su", 2);
        e = entry_new("usr/bin/wall", AE_IFREG, 02755);
        archive_entry_set_uid(e, 1234);
        archive_entry_set_gid(e, 5);
        archive_entry_set_size(e, 4);
        tar_put(&t, e, "wall", 4);
        e = entry_new("tmp", AE_IFDIR, 01777);
        archive_entry_set_uid(e, 1234);
        tar_put(&t, e, NULL, 0);
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        assert_true(in_root("usr/bin/su", &st));
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(st.st_uid, 0);
        assert_true(in_root("usr/bin/wall", &st));
        assert_int_equal(st.st_mode & 07777, 02755);
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_gid, 5);
        assert_true(in_root("tmp", &st));
        assert_int_equal(st.st_mode & 07777, 01777);
        assert_int_equal(st.st_uid, 1234);
}

static void test_xattrs_filtered(void **state) {
        _cleanup_free_ char *file = path_join(fx.root, "f"), *dir = path_join(fx.root, "d");
        /* A v2 vfs_cap_data: effective, CAP_NET_BIND_SERVICE permitted. */
        static const uint8_t cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};
        LayerUnpackResult res;
        struct archive_entry *e;
        char value[64];
        Tar t;

        /* An archive speaking for overlayfs (trusted.overlay.opaque, .redirect, and
         * user.overlay.opaque for an overlay mounted with userxattr) or an LSM
         * (security.selinux): dropped. user.* passes, and security.capability as root. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        e = entry_new("f", AE_IFREG, 0755);
        archive_entry_xattr_add_entry(e, "user.mime", "text/plain", 10);
        archive_entry_xattr_add_entry(e, "trusted.overlay.redirect", "/etc", 4);
        archive_entry_xattr_add_entry(e, "security.selinux", "system_u:object_r:shadow_t:s0", 29);
        if (geteuid() == 0)
                archive_entry_xattr_add_entry(e, "security.capability", cap, sizeof(cap));
        archive_entry_set_size(e, 1);
        tar_put(&t, e, "x", 1);
        e = entry_new("d", AE_IFDIR, 0755);
        archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
        archive_entry_xattr_add_entry(e, "user.overlay.opaque", "y", 1);
        archive_entry_xattr_add_entry(e, "user.note", "dir", 3);
        tar_put(&t, e, NULL, 0);
        tar_end(&t);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_NONE, NULL, &res, NULL), 0);
        free(t.data);
        assert_int_equal(res.n_xattrs_skipped, 4);
        assert_int_equal(lgetxattr(file, "user.mime", value, sizeof(value)), 10);
        assert_int_equal(lgetxattr(dir, "user.note", value, sizeof(value)), 3);
        assert_int_equal(lgetxattr(file, "trusted.overlay.redirect", value, sizeof(value)), -1);
        assert_int_equal(errno, ENODATA);
        assert_int_equal(lgetxattr(dir, "trusted.overlay.opaque", value, sizeof(value)), -1);
        assert_int_equal(errno, ENODATA);
        assert_int_equal(lgetxattr(dir, "user.overlay.opaque", value, sizeof(value)), -1);
        assert_int_equal(errno, ENODATA);
        if (lgetxattr(file, "security.selinux", value, sizeof(value)) >= 0)
                assert_string_not_equal(value, "system_u:object_r:shadow_t:s0");
        if (geteuid() == 0) {
                struct stat st;
                /* After chown (which clears it) and with the mode kept. */
                assert_int_equal(lgetxattr(file, "security.capability", value, sizeof(value)), 20);
                assert_memory_equal(value, cap, 20);
                assert_true(in_root("f", &st) && (st.st_mode & 07777) == 0755);
        }
}

static void test_whiteouts_and_opaque(void **state) {
        SKIP_UNLESS_ROOT(); /* mknod 0/0 and trusted.*; first: skip() jumps over cleanups */
        _cleanup_free_ char *opq = path_join(fx.root, "opq"), *late = path_join(fx.root, "late/sub");
        LayerUnpackResult res;
        struct stat st;
        char value[8];
        Tar t;

        tar_begin(&t, LAYER_COMPRESSION_ZSTD);
        tar_dir(&t, "etc/", 0755);
        tar_file(&t, "etc/gone", 0644, "replaced by the whiteout");
        tar_file(&t, "etc/.wh.gone", 0644, "");
        tar_file(&t, "etc/.wh.never-here", 0644, "");
        tar_dir(&t, "opq/", 0755);
        tar_file(&t, "opq/.wh..wh..opq", 0644, "");
        tar_file(&t, "opq/kept", 0644, "kept");
        /* Before its directory (or with none at all): the directory is made for it. */
        tar_file(&t, "late/sub/.wh..wh..opq", 0644, "");
        tar_file(&t, ".wh..wh.plnk/123.456", 0644, ""); /* aufs' bookkeeping: not a file */
        tar_end(&t);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_ZSTD, NULL, &res, NULL), 0);
        free(t.data);
        assert_int_equal(res.n_whiteouts, 4);
        assert_true(in_root("etc/gone", &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        assert_true(in_root("etc/never-here", &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        assert_false(in_root("etc/.wh.gone", NULL));
        assert_int_equal(lgetxattr(opq, "trusted.overlay.opaque", value, sizeof(value)), 1);
        assert_int_equal(value[0], 'y');
        assert_int_equal(lgetxattr(opq, "user.overlay.opaque", value, sizeof(value)), 1);
        assert_true(in_root("opq/kept", NULL));
        assert_false(in_root("opq/.wh..wh..opq", NULL));
        assert_int_equal(lgetxattr(late, "trusted.overlay.opaque", value, sizeof(value)), 1);
        assert_true(in_root("late/sub", &st) && S_ISDIR(st.st_mode));
}

/* ---- streams: bombs, truncation, damage ---- */

static void test_decompression_bomb(void **state) {
        LayerUnpackLimits limits = {.max_bytes = 1 << 20};
        _cleanup_free_ char *zeros = xzalloc(512 * 1024 + 1);
        char *message;
        Tar t;

        memset(zeros, 'z', 512 * 1024);
        /* A few kilobytes of gzip that become megabytes: stopped at the limit, counted on the
         * uncompressed stream, whatever the entries' headers say. */
        for (LayerCompression c = LAYER_COMPRESSION_NONE; c <= LAYER_COMPRESSION_ZSTD; c++) {
                tar_begin(&t, c);
                for (int i = 0; i < 8; i++) {
                        _cleanup_free_ char *name = xasprintf("f%d", i);
                        tar_file(&t, name, 0644, zeros);
                }
                tar_end(&t);
                if (c != LAYER_COMPRESSION_NONE)
                        assert_true(t.size < 64 * 1024);
                assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_DETECT, &limits, NULL, &message),
                                 -EFBIG);
                assert_message(message, "the layer is larger than its limit of 1048576 bytes uncompressed");
                free(t.data);
                assert_sentinel_intact();
        }

        /* One entry whose header alone claims more than the limit. */
        tar_begin(&t, LAYER_COMPRESSION_GZIP);
        struct archive_entry *e = entry_new("huge", AE_IFREG, 0644);
        archive_entry_set_size(e, 2 << 20);
        assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
        archive_entry_free(e);
        for (int i = 0; i < 4; i++)
                assert_int_equal(archive_write_data(t.a, zeros, 512 * 1024), 512 * 1024);
        tar_end(&t);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_DETECT,
                                       &(LayerUnpackLimits){.max_bytes = 1 << 20}, NULL, &message),
                         -EFBIG);
        assert_message(message, "entry huge: the files' sizes add up to more than the layer's limit");
        free(t.data);

        /* Sparse files: 600 KiB each, a byte of data at the end, the rest holes. Two fit in a
         * 2 KiB tar, and together pass the limit: the files count, not only the stream. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *name = xasprintf("sparse%d", i);
                e = entry_new(name, AE_IFREG, 0644);
                archive_entry_set_size(e, 600 * 1024);
                archive_entry_sparse_add_entry(e, 600 * 1024 - 1, 1);
                assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
                assert_int_equal(archive_write_data(t.a, "s", 1), 1);
                archive_entry_free(e);
        }
        tar_end(&t);
        assert_true(t.size < 1 << 20);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_NONE,
                                       &(LayerUnpackLimits){.max_bytes = 1 << 20}, NULL, &message),
                         -EFBIG);
        assert_message(message, "entry sparse1: the files' sizes add up to more than the layer's limit");
        free(t.data);
        /* The first was whole, holes and all. */
        struct stat st;
        assert_true(in_root("sparse0", &st));
        assert_int_equal(st.st_size, 600 * 1024);

        /* Too many entries. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        for (int i = 0; i < 10; i++) {
                _cleanup_free_ char *name = xasprintf("e%d", i);
                tar_file(&t, name, 0644, "");
        }
        tar_end(&t);
        assert_int_equal(unpack_limits(t.data, t.size, LAYER_COMPRESSION_NONE, &(LayerUnpackLimits){.max_entries = 5},
                                       NULL, &message),
                         -EFBIG);
        assert_message(message, "more entries than the layer's limit of 5");
        free(t.data);
}

static void build_big(Tar *t, LayerCompression c) {
        _cleanup_free_ char *text = xmalloc(256 * 1024 + 1);

        /* Text that does not compress to nothing, so a cut lands inside the data. */
        for (size_t i = 0; i < 256 * 1024; i++)
                text[i] = (char) ('a' + (i * 7919 % 26));
        text[256 * 1024] = 0;
        tar_begin(t, c);
        tar_file(t, "first", 0644, text);
        tar_file(t, "second", 0644, text);
        tar_end(t);
}

static void test_truncated_streams(void **state) {
        static const struct {
                LayerCompression c;
                const char *message;
        } cases[] = {
                {LAYER_COMPRESSION_GZIP, "the gzip stream is truncated"},
                {LAYER_COMPRESSION_ZSTD, "the zstd stream is truncated"},
        };
        char *message;
        Tar t;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                build_big(&t, cases[i].c);
                /* Cut in the middle of the data, and cut just before the end (the gzip trailer:
                 * all of the tar may be there, but the stream never ended). */
                assert_int_equal(unpack_limits(t.data, t.size / 2, cases[i].c, NULL, NULL, &message), -EBADMSG);
                assert_message(message, cases[i].message);
                assert_int_equal(unpack_limits(t.data, t.size - 4, cases[i].c, NULL, NULL, &message), -EBADMSG);
                assert_message(message, cases[i].message);
                /* Nothing at all. */
                assert_int_equal(unpack_limits(t.data, 0, cases[i].c, NULL, NULL, &message), -EBADMSG);
                assert_message(message, "stream is empty");
                /* A byte changed in the middle: refused by the decompressor's check, or first by
                 * the tar reader, whichever meets the damage first. */
                t.data[t.size / 2] ^= 0x55;
                assert_true(unpack_limits(t.data, t.size, cases[i].c, NULL, NULL, &message) < 0);
                assert_true(strstr(message, " stream is damaged") || strstr(message, "the tar stream: "));
                free(message);
                free(t.data);
                assert_sentinel_intact();
        }

        /* Garbage after the last gzip member is not a member. */
        build_big(&t, LAYER_COMPRESSION_GZIP);
        t.data = xrealloc(t.data, t.size + 16);
        memset(t.data + t.size, 'x', 16);
        assert_int_equal(unpack_limits(t.data, t.size + 16, LAYER_COMPRESSION_GZIP, NULL, NULL, &message), -EBADMSG);
        assert_message(message, "the gzip stream is damaged (member 2)");
        free(t.data);
}

static void test_entry_larger_than_its_header(void **state) {
        char *message;
        Tar t;

        /* A tar whose first entry carries 512 bytes more data than its header says: what follows
         * is read as a header, and is none. Never taken for an entry of its own. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_file(&t, "a", 0644, "short");
        tar_file(&t, "b", 0644, "b");
        tar_end(&t);
        /* pax_restricted with ASCII names: "a" is one 512-byte header, then one data block. */
        char *damaged = xmalloc(t.size + 512);
        memcpy(damaged, t.data, 1024);
        memset(damaged + 1024, 'A', 512);
        memcpy(damaged + 1536, t.data + 1024, t.size - 1024);
        assert_true(unpack_limits(damaged, t.size + 512, LAYER_COMPRESSION_NONE, NULL, NULL, &message) < 0);
        assert_message(message, "after entry a: the tar stream: ");
        assert_false(in_root("b", NULL));
        free(damaged);

        /* The other way: a header that says more than the archive holds. */
        assert_true(unpack_limits(t.data, 1024 + 3, LAYER_COMPRESSION_NONE, NULL, NULL, &message) < 0);
        assert_message(message, "entry a: the tar stream: ");
        free(t.data);

        /* Not a tar at all: a gzip stream taken as a plain one (libarchive's own filters are off,
         * so a layer compressed twice is refused, not unwrapped by it). */
        build_big(&t, LAYER_COMPRESSION_GZIP);
        assert_true(unpack_limits(t.data, t.size, LAYER_COMPRESSION_NONE, NULL, NULL, &message) < 0);
        assert_message(message, "the tar stream: ");
        free(t.data);
        assert_sentinel_intact();
}

/* ENOSPC half-way: a tmpfs of 384 KiB (the first file fits, the second does not) in a mount namespace of a child's own.
 */
/* A tar that ends right after its last file's data, without padding or end blocks (umoci insert
 * writes such layers; Go's reader, hence docker and containerd, runs them): the layer is whole,
 * and its diff_id the digest of exactly those bytes. Cut a byte earlier, inside the data, it is
 * truncated; cut inside a header that follows, it is too. */
static void test_unpadded_end(void **state) {
        char *message = NULL;
        Tar t;

        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_file(&t, "a", 0644, "short");
        tar_file(&t, "b", 0644, "bcdefgh");
        tar_end(&t);
        /* "a": header 0, data 512; "b": header 1024, data 1536..1542. */
        LayerUnpackResult res;
        char hex[65], *b;

        assert_int_equal(unpack_limits(t.data, 1536 + 7, LAYER_COMPRESSION_NONE, NULL, &res, &message), 0);
        assert_string_equal(b = read_in_root("b"), "bcdefgh");
        free(b);
        sha256_hex(t.data, 1536 + 7, hex);
        assert_string_equal(res.diff_id + 7, hex);
        assert_true(unpack_limits(t.data, 1536 + 6, LAYER_COMPRESSION_NONE, NULL, NULL, &message) < 0);
        free(message);
        /* Ends inside b's header: a's data is whole and ends at 517, but the stream does not end there. */
        assert_true(unpack_limits(t.data, 1024 + 5, LAYER_COMPRESSION_NONE, NULL, NULL, &message) < 0);
        free(message);
        free(t.data);
        assert_sentinel_intact();
}

static void test_enospc_mid_unpack(void **state) {
        int pipefd[2], status;
        char message[512] = "";
        ssize_t n;
        pid_t pid;
        Tar t;

        SKIP_UNLESS_ROOT();
        build_big(&t, LAYER_COMPRESSION_GZIP);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *small = path_join(fx.tree, "small");
                SupError *e = NULL;
                int fd, root, r;

                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mkdir(small, 0755) < 0 || mount("tmpfs", small, "tmpfs", 0, "size=384k") < 0)
                        _exit(2);
                fd = memfd_create("layer", MFD_CLOEXEC);
                root = open(small, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || root < 0 || write(fd, t.data, t.size) != (ssize_t) t.size || lseek(fd, 0, SEEK_SET) != 0)
                        _exit(3);
                r = layer_unpack(fd, LAYER_COMPRESSION_DETECT, root, NULL, NULL, &e);
                if (e)
                        (void) !write(pipefd[1], e->message, strlen(e->message));
                _exit(r == -ENOSPC ? 0 : 1);
        }
        close(pipefd[1]);
        n = read(pipefd[0], message, sizeof(message) - 1);
        close(pipefd[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        fprintf(stderr, "child: %s\n", message);
        assert_true(n > 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_non_null(strstr(message, "entry second: cannot write: No space left on device"));
        free(t.data);
        _cleanup_free_ char *small = path_join(fx.tree, "small");
        assert_int_equal(rmdir(small), 0);
        assert_sentinel_intact();
}

static void test_replacing_earlier_entries(void **state) {
        _cleanup_free_ char *a = NULL, *old = NULL;
        struct stat st;
        char *message;
        Tar t;

        /* A later entry of the same name wins, as with tar: a file over a file, a directory over
         * a file, a file over a symlink; a hard link made before keeps the old content. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_file(&t, "a", 0644, "first");
        tar_hardlink(&t, "old", "a");
        tar_file(&t, "a", 0600, "second");
        tar_file(&t, "x", 0644, "file");
        tar_dir(&t, "x/", 0711);
        tar_file(&t, "x/in", 0644, "in");
        tar_dir(&t, "x/", 0750);
        tar_dir(&t, "empty/", 0755);
        tar_file(&t, "empty", 0644, "no longer a directory");
        tar_dir(&t, "ro/", 0555); /* its mode comes last: it must not shut out ro/f */
        tar_file(&t, "ro/f", 0644, "f");
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);
        a = read_in_root("a");
        old = read_in_root("old");
        assert_string_equal(a, "second");
        assert_string_equal(old, "first");
        assert_true(in_root("a", &st) && (st.st_mode & 07777) == 0600);
        assert_true(in_root("x", &st) && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
        assert_true(in_root("x/in", NULL));
        assert_true(in_root("empty", &st) && S_ISREG(st.st_mode));
        assert_true(in_root("ro", &st) && (st.st_mode & 07777) == 0555);
        assert_true(in_root("ro/f", NULL));

        /* A directory that holds entries is not replaced by a file. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_file(&t, "x", 0644, "over x/in");
        tar_end(&t);
        assert_int_equal(unpack(&t, &message), -ENOTEMPTY);
        assert_message(message, "entry x: cannot replace the earlier directory");
        free(t.data);
}

static void test_implicit_parents_reported(void **state) {
        static const char *const want[] = {"a", "a/b/c", "real", "tmp", "x/y", "x/z", NULL};
        struct stat st;
        Tar t;

        /* umoci writes "tmp/foo" without "tmp/": the parents made for it are listed, so that the
         * store can give them the layers' below metadata (else the image's /tmp 1777 becomes
         * 0755); a parent an entry describes later, by any name, is the archive's own. */
        tar_begin(&t, LAYER_COMPRESSION_NONE);
        tar_file(&t, "tmp/foo", 0644, "foo");
        tar_file(&t, "a/b/c/f", 0644, "nested");
        tar_dir(&t, "a/b/", 0711); /* after its child: explicit */
        tar_dir(&t, "x/", 0750);   /* before: never implicit */
        tar_file(&t, "x/y/f", 0644, "y");
        tar_file(&t, "real/q/f", 0644, "q");
        tar_symlink(&t, "s", "real");
        tar_dir(&t, "s/q/", 0700); /* real/q, described through a symlink of the archive */
        tar_symlink(&t, "l", "x");
        tar_file(&t, "l/z/f", 0644, "z"); /* x/z, by its real name */
        tar_end(&t);
        assert_int_equal(unpack(&t, NULL), 0);
        free(t.data);

        assert_int_equal(strv_length(fx.implicit), ELEMENTSOF(want) - 1);
        for (size_t i = 0; want[i]; i++)
                assert_string_equal(fx.implicit[i], want[i]);
        assert_true(in_root("tmp", &st) && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
        assert_true(in_root("a/b", &st) && (st.st_mode & 07777) == 0711);
        assert_true(in_root("real/q", &st) && (st.st_mode & 07777) == 0700);
        assert_true(in_root("x/z/f", NULL));
}

int main(void) {
        /* Parents made with 0755 must be 0755 whatever the umask of the process that unpacks. */
        umask(077);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_digests_equal_sha256sum, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_layers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_multi_member_and_padded_streams, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dotdot_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_absolute_path_confined, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_through_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hardlink_out_of_the_layer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_device_nodes_only_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_setuid_and_owner_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_xattrs_filtered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_whiteouts_and_opaque, setup, teardown),
                cmocka_unit_test_setup_teardown(test_decompression_bomb, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncated_streams, setup, teardown),
                cmocka_unit_test_setup_teardown(test_entry_larger_than_its_header, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unpadded_end, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enospc_mid_unpack, setup, teardown),
                cmocka_unit_test_setup_teardown(test_replacing_earlier_entries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_implicit_parents_reported, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
