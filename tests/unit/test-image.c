/* SPDX-License-Identifier: MIT */
/* The image step: dir: layers resolved (order, paths, and what is refused), the layer disk cache
 * (the content hash, and the listing that spares a start from reading every file), and the image's
 * defaults merged into a spec. */
#include "test-helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image.h"
#include "layer-disk.h"
#include "path-util.h"
#include "string-util.h"

static UnitSpec *spec_in(const char *dir, const char *yaml) {
        UnitSpec *u = NULL;
        Diagnostics d = {};

        if (unit_parse("u.yaml", dir, yaml, strlen(yaml), 0, &d, &u, NULL) < 0)
                diagnostics_print(&d, stderr);
        diagnostics_done(&d);
        assert_non_null(u);
        return u;
}

static char *at(const char *dir, const char *name) {
        return path_join(dir, name);
}

static void mkdir_at(const char *dir, const char *name) {
        _cleanup_free_ char *p = at(dir, name);
        assert_int_equal(mkdir_p(p, 0755), 0);
}

static void symlink_at(const char *target, const char *dir, const char *name) {
        _cleanup_free_ char *p = at(dir, name);
        assert_int_equal(symlink(target, p), 0);
}

/* Resolves u without disks; returns the error code, the error in *ret_message (may be NULL). */
static int resolve(const UnitSpec *u, Image **ret, char **ret_message) {
        SupError *e = NULL;
        int r = image_resolve(u, NULL, ret, &e);

        assert_true(r >= 0 || e);
        if (ret_message)
                *ret_message = e ? xstrdup(e->message) : NULL;
        sup_error_free(e);
        return r;
}

static void test_resolve_order_and_paths(void **state) {
        _cleanup_free_ char *tree = make_tree(), *a = at(tree, "a"), *b = at(tree, "b"), *yaml = NULL;
        Image *img = NULL;
        UnitSpec *u;

        assert_int_equal(mkdir(a, 0755), 0);
        assert_int_equal(mkdir(b, 0755), 0);
        /* A relative path (against the unit file's directory) and an absolute one, bottom first:
         * the order stays, the top layer last. */
        yaml = xasprintf("image:\n  layers:\n    - dir: b\n    - dir: %s\n    - dir: ./b\ncommand: [/bin/true]\n", a);
        u = spec_in(tree, yaml);
        assert_int_equal(resolve(u, &img, NULL), 0);
        assert_int_equal(img->n_layers, 3);
        assert_string_equal(img->layers[0].dir, b);
        assert_string_equal(img->layers[1].dir, a);
        assert_string_equal(img->layers[2].dir, b);
        /* No disk cache asked for: no disks, and dir: has no defaults. */
        assert_null(img->layers[0].disk);
        assert_null(img->config.entrypoint);
        assert_null(img->config.cmd);
        assert_null(img->config.env);
        assert_null(img->notes);
        image_free(img);

        /* A relative path in a spec that did not come from parsing is not guessed at. */
        free(u->layers[0].path);
        u->layers[0].path = xstrdup("b");
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(resolve(u, &img, &msg), -EINVAL);
        assert_string_equal(msg, "layer 0 (dir: b): not an absolute path");
        unit_spec_free(u);
        assert_int_equal(rm_rf(tree), 0);
}

static void test_resolve_refusals(void **state) {
        _cleanup_free_ char *tree = make_tree(), *yaml = NULL, *msg = NULL, *expect = NULL;
        Image *img = NULL;
        UnitSpec *u;

        put(tree, "file", "x");
        mkdir_at(tree, "real/site");
        symlink_at("real", tree, "link");
        symlink_at("file", tree, "to-file");
        symlink_at("nowhere", tree, "dangling");

        /* Missing: the second layer, named with its source. */
        yaml = xasprintf("image:\n  layers:\n    - dir: real\n    - dir: missing\ncommand: [/bin/true]\n");
        u = spec_in(tree, yaml);
        assert_int_equal(resolve(u, &img, &msg), -ENOENT);
        expect = xasprintf("layer 1 (dir: %s/missing): cannot resolve the path: No such file or directory", tree);
        assert_string_equal(msg, expect);
        unit_spec_free(u);
        free(yaml), free(msg), free(expect);

        /* Not a directory, directly or through a symlink. */
        yaml = xstrdup("image:\n  layers:\n    - dir: file\n    - dir: to-file\ncommand: [/bin/true]\n");
        u = spec_in(tree, yaml);
        assert_int_equal(resolve(u, &img, &msg), -ENOTDIR);
        expect = xasprintf("layer 0 (dir: %s/file): not a directory", tree);
        assert_string_equal(msg, expect);
        free(msg), free(expect);
        Layer swap = u->layers[0];
        u->layers[0] = u->layers[1];
        u->layers[1] = swap;
        assert_int_equal(resolve(u, &img, &msg), -ENOTDIR);
        expect = xasprintf("layer 0 (dir: %s/to-file): not a directory (it resolves to %s/file)", tree, tree);
        assert_string_equal(msg, expect);
        unit_spec_free(u);
        free(yaml), free(msg), free(expect);

        /* A symlink on the way is followed: the driver gets the real path. A dangling one is
         * missing. */
        yaml = xstrdup("image:\n  layers:\n    - dir: link/site\ncommand: [/bin/true]\n");
        u = spec_in(tree, yaml);
        assert_int_equal(resolve(u, &img, NULL), 0);
        expect = xasprintf("%s/real/site", tree);
        assert_string_equal(img->layers[0].dir, expect);
        img = image_free(img);
        free(u->layers[0].path);
        u->layers[0].path = at(tree, "dangling");
        assert_int_equal(resolve(u, &img, &msg), -ENOENT);
        assert_non_null(strstr(msg, "dangling): cannot resolve the path"));
        unit_spec_free(u);
        free(yaml), free(msg), free(expect);

        /* tar: and oci: are unpacked into the image store: resolving them without one (no
         * ImageOptions.store_dir) is refused, for both drivers. test-image-store has them. */
        u = spec_in(tree, "image:\n  layers:\n    - dir: real\n    - tar: /images/x.tar\ncommand: [/bin/true]\n");
        assert_int_equal(resolve(u, &img, &msg), -EOPNOTSUPP);
        assert_string_equal(msg, "layer 1 (tar: /images/x.tar) needs the image store, and none was given");
        unit_spec_free(u);
        free(msg);
        u = spec_in(tree, "image:\n  layers:\n    - oci: /images/busybox\n");
        assert_int_equal(resolve(u, &img, &msg), -EOPNOTSUPP);
        assert_string_equal(msg, "layer 0 (oci: /images/busybox) needs the image store, and none was given");
        unit_spec_free(u);
        free(msg);
        msg = NULL, yaml = NULL, expect = NULL;

        assert_int_equal(rm_rf(tree), 0);
}

static void write_at(const char *dir, const char *name, const char *content) {
        char *p = xasprintf("%s/%s", dir, name);
        assert_int_equal(write_file_atomic(p, content, strlen(content), 0644), 0);
        free(p);
}

static void test_layer_hash(void **state) {
        char a[] = "/tmp/sup-test-layer-XXXXXX", b[] = "/tmp/sup-test-layer-XXXXXX";
        char ha[65], hb[65];
        SupError *e = NULL;
        char *sub;

        assert_non_null(mkdtemp(a));
        assert_non_null(mkdtemp(b));
        for (int i = 0; i < 2; i++) {
                const char *d = i ? b : a;
                sub = xasprintf("%s/etc", d);
                assert_int_equal(mkdir(sub, 0755), 0);
                free(sub);
                write_at(d, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
                sub = xasprintf("%s/sh", d);
                assert_int_equal(symlink("busybox", sub), 0);
                free(sub);
        }
        /* Same content, made at different times: one hash, so one disk. */
        assert_int_equal(layer_hash(a, ha, NULL), 0);
        assert_int_equal(layer_hash(b, hb, NULL), 0);
        assert_string_equal(ha, hb);
        assert_int_equal(strlen(ha), 64);

        /* A changed byte, a changed mode, a changed link target: each a new disk. */
        write_at(b, "etc/passwd", "root:x:0:0::/root:/bin/ash\n");
        assert_int_equal(layer_hash(b, hb, NULL), 0);
        assert_string_not_equal(ha, hb);
        write_at(b, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        assert_int_equal(layer_hash(b, hb, NULL), 0);
        assert_string_equal(ha, hb);
        sub = xasprintf("%s/etc/passwd", b);
        assert_int_equal(chmod(sub, 0600), 0);
        free(sub);
        assert_int_equal(layer_hash(b, hb, NULL), 0);
        assert_string_not_equal(ha, hb);
        sub = xasprintf("%s/etc/passwd", b);
        assert_int_equal(chmod(sub, 0644), 0);
        free(sub);
        sub = xasprintf("%s/sh", b);
        assert_int_equal(unlink(sub), 0);
        assert_int_equal(symlink("/bin/busybox", sub), 0);
        free(sub);
        assert_int_equal(layer_hash(b, hb, NULL), 0);
        assert_string_not_equal(ha, hb);

        /* A layer that is not there: an error that names it. */
        assert_int_equal(layer_hash("/nonexistent/layer", ha, &e), -ENOENT);
        assert_non_null(strstr(sup_error_message(e), "/nonexistent/layer"));
        sup_error_free(e);

        assert_int_equal(rm_rf(a), 0);
        assert_int_equal(rm_rf(b), 0);
}

/* Writes over the start of dir/name, in place. */
static void overwrite(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = at(dir, name);
        FILE *f = fopen(p, "r+e");

        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
        assert_int_equal(fclose(f), 0);
}

static bool have_mkfs(void) {
        return system("command -v mkfs.erofs >/dev/null || test -x /usr/sbin/mkfs.erofs") == 0;
}

static int disk(const char *cache, const char *dir, char **ret_path) {
        LayerDiskOrigin origin = -1;
        SupError *e = NULL;
        char *path = NULL;
        int r = layer_disk(cache, dir, &path, &origin, &e);

        if (r < 0)
                fail_msg("layer_disk: %s", sup_error_message(e));
        if (ret_path)
                *ret_path = path;
        else
                free(path);
        return (int) origin;
}

/* Waits until what the test just wrote is older than the cache's window of doubt. */
static void outwait_racy_window(void) {
        assert_int_equal(usleep((useconds_t) (LAYER_DISK_RACY_WINDOW + 100 * USEC_PER_MSEC)), 0);
}

/* The cache's only file in dir (trees/), rewritten to point at hash. */
static void redirect_tree(const char *cache, const char *hash) {
        _cleanup_free_ char *trees = at(cache, "trees"), *text = NULL, *p = NULL;
        unsigned long long kept_at;
        char old[65];
        DIR *d = opendir(trees);
        struct dirent *de;
        size_t n = 0, size;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        free(p);
                        p = at(trees, de->d_name);
                        n++;
                }
        closedir(d);
        assert_int_equal(n, 1);
        assert_int_equal(read_full_file(p, 256, &text, &size), 0);
        assert_int_equal(sscanf(text, "%64s %llu", old, &kept_at), 2);
        free(text);
        text = xasprintf("%s %llu\n", hash, kept_at);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0600), 0);
}

static void test_layer_disk_cache(void **state) {
        _cleanup_free_ char *tree = make_tree(), *layer = at(tree, "layer"), *cache = at(tree, "cache");
        _cleanup_free_ char *first = NULL, *again = NULL, *changed = NULL, *decoy = NULL, *found = NULL, *p = NULL;
        char hash[65];

        if (!have_mkfs()) {
                (void) rm_rf(tree);
                skip();
        }
        put(layer, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        put(layer, "www/index.html", "<p>hello</p>\n");

        /* First start: hashed and built, named by the content hash. */
        assert_int_equal(disk(cache, layer, &first), LAYER_DISK_BUILT);
        assert_int_equal(layer_hash(layer, hash, NULL), 0);
        p = xasprintf("%s/%s.erofs", cache, hash);
        assert_string_equal(first, p);
        /* At once again: the tree changed within the window of doubt of its listing (it was just
         * written), so it is hashed, not trusted. */
        assert_int_equal(disk(cache, layer, &again), LAYER_DISK_HASHED);
        assert_string_equal(again, first);
        free(again);
        outwait_racy_window();
        /* The listing kept a moment ago is still too close to the tree's last change; the one
         * kept now is not. */
        assert_int_equal(disk(cache, layer, NULL), LAYER_DISK_HASHED);
        assert_int_equal(disk(cache, layer, &again), LAYER_DISK_KNOWN);
        assert_string_equal(again, first);

        /* Found by the listing, without hashing: pointed at another disk, the cache returns that
         * one, which no hash of the tree would name. */
        decoy = xasprintf("%s/%064d.erofs", cache, 0);
        assert_int_equal(write_file_atomic(decoy, "", 0, 0444), 0);
        redirect_tree(cache, "0000000000000000000000000000000000000000000000000000000000000000");
        assert_int_equal(disk(cache, layer, &found), LAYER_DISK_KNOWN);
        assert_string_equal(found, decoy);

        /* A file changed in place, same size, same inode: its time stamps alone tell; a new
         * disk. */
        overwrite(layer, "www/index.html", "<p>HELLO</p>\n");
        assert_int_equal(disk(cache, layer, &changed), LAYER_DISK_BUILT);
        assert_string_not_equal(changed, first);
        assert_string_not_equal(changed, decoy);
        /* Changed back, its content is the first one's again: the first disk, not a third. */
        put(layer, "www/index.html", "<p>hello</p>\n");
        free(changed);
        assert_int_equal(disk(cache, layer, &changed), LAYER_DISK_HASHED);
        assert_string_equal(changed, first);

        assert_int_equal(rm_rf(tree), 0);
}

static void xattr_is(const char *path, const char *name, const char *value) {
        char buf[64];
        ssize_t n = getxattr(path, name, buf, sizeof(buf));

        if (n < 0)
                fail_msg("%s: no %s: %m", path, name);
        assert_int_equal((size_t) n, strlen(value));
        assert_memory_equal(buf, value, (size_t) n);
}

/* What the workload and the guest's overlayfs read from a layer disk is what the layer holds:
 * owners, setuid, symbolic and hard links, a whiteout (0/0 character device), both opaque
 * markers (trusted. for a root overlay, user. for userxattr), mtimes, and nothing more: no
 * lost+found (ext4's showed in a hyperv unit's root only). Read back through the kernel's own
 * erofs, loop-mounted. */
static void test_layer_disk_content(void **state) {
        _cleanup_free_ char *tree = make_tree(), *layer = at(tree, "layer"), *cache = at(tree, "cache"),
                            *mnt = at(tree, "mnt"), *path = NULL, *p = NULL, *q = NULL;
        struct timespec times[2] = {{.tv_sec = 981173106}, {.tv_sec = 981173106}};
        struct stat st, st2;
        char target[64];
        ssize_t n;

        if (!have_mkfs() || geteuid() != 0 || system("grep -qw erofs /proc/filesystems || modprobe erofs") != 0) {
                (void) rm_rf(tree);
                skip();
        }
        put(layer, "bin/su", "#!/bin/sh\n");
        p = at(layer, "bin/su");
        assert_int_equal(chown(p, 1234, 5678), 0);
        assert_int_equal(chmod(p, 04755), 0);
        assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
        q = at(layer, "bin/su2");
        assert_int_equal(link(p, q), 0);
        mkdir_at(layer, "etc");
        symlink_at("../bin/su", layer, "etc/sh");
        free(p);
        p = at(layer, "etc/gone");
        assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(0, 0)), 0);
        mkdir_at(layer, "opq");
        free(p);
        p = at(layer, "opq");
        assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
        assert_int_equal(setxattr(p, "user.overlay.opaque", "y", 1, 0), 0);

        assert_int_equal(disk(cache, layer, &path), LAYER_DISK_BUILT);
        assert_true(endswith(path, ".erofs"));
        assert_int_equal(mkdir(mnt, 0755), 0);
        free(p);
        p = xasprintf("mount -t erofs -o ro,loop %s %s", path, mnt);
        assert_int_equal(system(p), 0);

        free(p);
        p = at(mnt, "bin/su");
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_gid, 5678);
        assert_int_equal(st.st_mtim.tv_sec, 981173106);
        assert_int_equal(st.st_nlink, 2);
        free(q);
        q = at(mnt, "bin/su2");
        assert_int_equal(lstat(q, &st2), 0);
        assert_int_equal(st2.st_ino, st.st_ino);
        free(p);
        p = at(mnt, "etc/sh");
        n = readlink(p, target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = 0;
        assert_string_equal(target, "../bin/su");
        free(p);
        p = at(mnt, "etc/gone");
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
        free(p);
        p = at(mnt, "opq");
        xattr_is(p, "trusted.overlay.opaque", "y");
        xattr_is(p, "user.overlay.opaque", "y");
        free(p);
        p = at(mnt, "lost+found");
        assert_int_not_equal(access(p, F_OK), 0);

        free(p);
        p = xasprintf("umount %s", mnt);
        assert_int_equal(system(p), 0);
        assert_int_equal(rm_rf(tree), 0);
}

static void test_resolve_disks(void **state) {
        _cleanup_free_ char *tree = make_tree(), *cache = at(tree, "cache"), *yaml = NULL;
        ImageOptions opts = {.disk_cache = cache};
        Image *img = NULL;
        UnitSpec *u;

        if (!have_mkfs()) {
                (void) rm_rf(tree);
                skip();
        }
        put(tree, "a/etc/hostname", "a\n");
        put(tree, "b/etc/hostname", "b\n");
        yaml = xstrdup("image:\n  layers:\n    - dir: a\n    - dir: b\n    - dir: a\ncommand: [/bin/true]\n");
        u = spec_in(tree, yaml);
        assert_int_equal(image_resolve(u, &opts, &img, NULL), 0);
        assert_int_equal(img->n_layers, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_non_null(img->layers[i].disk);
                assert_true(startswith(img->layers[i].disk, cache));
        }
        /* One disk per content: the third layer is the first one's. */
        assert_string_not_equal(img->layers[0].disk, img->layers[1].disk);
        assert_string_equal(img->layers[0].disk, img->layers[2].disk);
        /* The builds are told, once each. */
        assert_int_equal(strv_length(img->notes), 2);
        assert_non_null(strstr(img->notes[0], "built the disk of layer "));
        img = image_free(img);
        assert_int_equal(image_resolve(u, &opts, &img, NULL), 0);
        assert_null(img->notes);
        image_free(img);
        unit_spec_free(u);
        assert_int_equal(rm_rf(tree), 0);
}

static char **strv(const char *a, ...) {
        char **l = NULL;
        va_list ap;

        va_start(ap, a);
        for (const char *s = a; s; s = va_arg(ap, const char *))
                strv_push(&l, xstrdup(s));
        va_end(ap);
        return l;
}

static void assert_strv(char **l, const char *joined) {
        _cleanup_free_ char *s = strv_join(l, " ");
        assert_string_equal(s, joined);
}

/* image_command() of c, command and args, joined with spaces; NULL for no command. */
static void assert_command(const ImageConfig *c, char **command, char **args, const char *joined) {
        char **argv = image_command(c, command, args);

        if (!joined)
                assert_null(argv);
        else
                assert_strv(argv, joined);
        strv_free(argv);
}

static void test_command(void **state) {
        ImageConfig c = {
                .entrypoint = strv("/bin/httpd", "-f", NULL),
                .cmd = strv("-p", "80", NULL),
        };
        char **command = strv("/bin/sh", "-c", "true", NULL), **args = strv("-p", "8080", NULL);
        ImageConfig none = {};

        /* Neither: the image's Entrypoint, then its Cmd. */
        assert_command(&c, NULL, NULL, "/bin/httpd -f -p 80");
        /* The unit's command replaces both (the Cmd is no argument of another program). */
        assert_command(&c, command, NULL, "/bin/sh -c true");
        /* Args alone replace the Cmd only. */
        assert_command(&c, NULL, args, "/bin/httpd -f -p 8080");
        /* Both: the unit's, in that order. */
        assert_command(&c, command, args, "/bin/sh -c true -p 8080");
        /* An image without either, and a unit without a command: nothing to run. */
        assert_command(&none, NULL, NULL, NULL);
        assert_command(&none, NULL, args, "-p 8080");

        strv_free(c.entrypoint);
        strv_free(c.cmd);
        strv_free(command);
        strv_free(args);
}

static void test_apply_defaults(void **state) {
        ImageConfig c = {
                .entrypoint = strv("/docker-entrypoint.sh", NULL),
                .cmd = strv("nginx", "-g", "daemon off;", NULL),
                .env = strv("PATH=/usr/local/bin:/usr/bin", "B=image", "A=first", "A=last", NULL),
                .working_dir = xstrdup("/srv"),
                .user = xstrdup("nginx"),
        };
        UnitSpec *u, *run = NULL;
        SupError *e = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL;

        u = spec_in("/units",
                    "image:\n  layers:\n    - dir: /layer\ncommand: [/bin/sh, -c, 'env']\nenv: {B: unit, C: c}\n"
                    "user: '1000'\nworking_dir: /app\n");
        before = unit_spec_format(u);
        assert_int_equal(image_apply_defaults(u, &c, &run, NULL), 0);
        /* The unit's command; env merged per variable, the unit's winning, the image's last
         * duplicate kept, sorted by name; the unit's user and directory. */
        assert_strv(run->command, "/bin/sh -c env");
        assert_strv(run->env, "A=last B=unit C=c PATH=/usr/local/bin:/usr/bin");
        assert_string_equal(run->user, "1000");
        assert_string_equal(run->working_dir, "/app");
        /* Pure: the unit's spec is as it was, and the rest of the run's is the unit's. */
        after = unit_spec_format(u);
        assert_string_equal(before, after);
        assert_string_equal(run->name, u->name);
        assert_string_equal(run->layers[0].path, "/layer");
        unit_spec_free(run);

        /* A unit that leaves the command, the user and the directory to the image, as parsed
         * from its file: the image's apply (they did not while a parsed spec had "0" and "/"). */
        unit_spec_free(u);
        u = spec_in("/units", "image:\n  layers:\n    - oci: /images/nginx\n");
        assert_null(u->command);
        assert_int_equal(image_apply_defaults(u, &c, &run, NULL), 0);
        assert_strv(run->command, "/docker-entrypoint.sh nginx -g daemon off;");
        assert_strv(run->env, "A=last B=image PATH=/usr/local/bin:/usr/bin");
        assert_string_equal(run->user, "nginx");
        assert_string_equal(run->working_dir, "/srv");
        unit_spec_free(run);

        /* args (Kubernetes' meaning): the image's Entrypoint with the unit's arguments instead of
         * its Cmd; and the run spec holds the whole argv, with no args left to add twice. */
        unit_spec_free(u);
        u = spec_in("/units", "image:\n  layers:\n    - registry: r.example.com/nginx:1\nargs: [-t, '']\n");
        assert_int_equal(image_apply_defaults(u, &c, &run, NULL), 0);
        assert_strv(run->command, "/docker-entrypoint.sh -t ");
        assert_null(run->args);
        unit_spec_free(run);
        /* With the unit's command: its command, then its args. */
        unit_spec_free(u);
        u = spec_in("/units", "image:\n  layers:\n    - oci: /images/nginx\ncommand: [/bin/echo]\nargs: [a, b]\n");
        assert_int_equal(image_apply_defaults(u, &c, &run, NULL), 0);
        assert_strv(run->command, "/bin/echo a b");
        unit_spec_free(run);

        /* Neither the unit nor the image: root in /, which a run spec always has. */
        {
                ImageConfig bare = {.cmd = strv("/bin/true", NULL)};
                assert_int_equal(image_apply_defaults(u, &bare, &run, NULL), 0);
                assert_string_equal(run->user, "0");
                assert_string_equal(run->working_dir, "/");
                unit_spec_free(run);
                strv_free(bare.cmd);
        }

        unit_spec_free(u);
        u = spec_in("/units", "image:\n  layers:\n    - oci: /images/nginx\n");
        /* Nothing to run: an error, not an empty command. */
        ImageConfig none = {};
        assert_int_equal(image_apply_defaults(u, &none, &run, &e), -EINVAL);
        assert_non_null(strstr(sup_error_message(e), "no command"));
        e = sup_error_free(e);
        /* An image's variable that is no assignment. */
        strv_push(&c.env, xstrdup("JUNK"));
        assert_int_equal(image_apply_defaults(u, &c, &run, &e), -EINVAL);
        assert_non_null(strstr(sup_error_message(e), "\"JUNK\", not NAME=value"));
        sup_error_free(e);

        unit_spec_free(u);
        strv_free(c.entrypoint);
        strv_free(c.cmd);
        strv_free(c.env);
        free(c.working_dir);
        free(c.user);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve_order_and_paths),
                cmocka_unit_test(test_resolve_refusals),
                cmocka_unit_test(test_layer_hash),
                cmocka_unit_test(test_layer_disk_cache),
                cmocka_unit_test(test_layer_disk_content),
                cmocka_unit_test(test_resolve_disks),
                cmocka_unit_test(test_command),
                cmocka_unit_test(test_apply_defaults),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
