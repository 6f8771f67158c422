/* SPDX-License-Identifier: MIT */
/* The image store with real images: OCI layouts made by umoci here (two layers, a whiteout, an
 * opaque directory, a config), resolved into a store; what is refused (another architecture, a
 * missing or ambiguous ref, a tampered blob); what is shared (one layer directory for two images,
 * one unpack for two processes at once); tar: files found again without reading them; prune;
 * lookup_only; the disk of a store layer keeping its whiteouts. Root (the unpack sets owners and
 * makes device nodes); skipped without umoci. */
#include "test-helpers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image-store.h"
#include "image.h"
#include "path-util.h"
#include "string-util.h"

typedef struct Fixture {
        char *dir;   /* everything of the test */
        char *store; /* dir/store */
} Fixture;

static void sh(const char *fmt, ...) _printf_(1, 2);
static void sh(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;

        va_start(ap, fmt);
        cmd = xvasprintf(fmt, ap);
        va_end(ap);
        if (system(cmd) != 0) {
                fprintf(stderr, "failed: %s\n", cmd);
                fail();
        }
}

static int setup(void **state) {
        Fixture *f = xnew0(Fixture, 1);

        f->dir = make_tree();
        f->store = path_join(f->dir, "store");
        assert_int_equal(image_store_init(f->store, NULL), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        sh("rm -rf %s", f->dir);
        free(f->dir);
        free(f->store);
        free(f);
        return 0;
}

/* An OCI layout at DIR/lay: v1 = layer 1 (etc/a, etc/gone, opq/old); v2 = v1 + layer 2 (etc/gone
 * whited out) + layer 3 (opq/ opaque, with opq/new), with Entrypoint, Cmd, Env, WorkingDir and User set. */
static char *make_layout(const Fixture *f) {
        char *lay = path_join(f->dir, "lay");

        /* Files of whole 512-byte blocks: Debian's umoci 0.4.7 ends a layer's tar right after the
         * last file's data, without its padding (and the config's diff_id is of that), which the
         * unpacker refuses as a truncated stream. */
        sh("cd %s && mkdir -p r1/etc r1/opq r2/opq && for f in r1/etc/a r1/etc/gone r1/opq/old r2/opq/new; do "
           "head -c 512 /dev/zero | tr '\\0' \"$(basename $f)\" > $f; done && "
           "umoci init --layout lay && umoci new --image lay:v1 && umoci insert --image lay:v1 r1 / && "
           "umoci tag --image lay:v1 v2 && umoci insert --image lay:v2 --whiteout /etc/gone && "
           "umoci insert --image lay:v2 --opaque r2/opq /opq && "
           "umoci config --image lay:v2 --config.entrypoint /bin/echo --config.cmd hello --config.env A=1 "
           "--config.workingdir /etc --config.user 1000:1000",
           f->dir);
        return lay;
}

static UnitSpec *unit_of(Layer *layers, size_t n) {
        UnitSpec *u = xnew0(UnitSpec, 1);

        u->layers = layers;
        u->n_layers = n;
        return u;
}

/* Resolves one item; the error message (or NULL) in *ret_message. */
static int resolve_item(const Fixture *f, LayerType type, const char *path, const char *ref, bool lookup_only,
                        Image **ret, char **ret_message) {
        Layer l = {.type = type, .path = (char *) path, .ref = (char *) ref, .tls_verify = true};
        UnitSpec u = {.layers = &l, .n_layers = 1};
        ImageOptions o = {.store_dir = f->store, .lookup_only = lookup_only};
        SupError *e = NULL;
        Image *img = NULL;
        int r;

        r = image_resolve(&u, &o, &img, &e);
        assert_true(r >= 0 || e);
        if (ret_message)
                *ret_message = e ? xstrdup(e->message) : NULL;
        else if (e)
                fprintf(stderr, "%s\n", e->message);
        sup_error_free(e);
        if (ret)
                *ret = img;
        else
                image_free(img);
        return r;
}

static size_t count_entries(const char *dir) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

static char *store_sub(const Fixture *f, const char *fmt, const char *arg) {
        _cleanup_free_ char *rel = xasprintf(fmt, arg);
        return path_join(f->store, rel);
}

/* A real image: three layers bottom first, by diff_id, with the whiteout and the opaque directory
 * as overlayfs reads them; the config's defaults; the image's record. */
static void test_oci_two_layers(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *gone = NULL, *opq = NULL, *rec = NULL, *json = NULL;
        Image *img = NULL;
        struct stat st;
        char v[8] = {};

        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", false, &img, NULL), 0);
        assert_int_equal(img->n_layers, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_non_null(img->layers[i].diff_id);
                assert_true(startswith(img->layers[i].dir, f->store));
                assert_string_equal(path_basename(img->layers[i].dir), img->layers[i].diff_id + 7);
        }
        /* Layer 1 has the file, layer 2 its whiteout: a character device 0/0 of that name. */
        gone = xasprintf("%s/etc/gone", img->layers[1].dir);
        assert_int_equal(lstat(gone, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
        opq = xasprintf("%s/opq", img->layers[2].dir);
        assert_int_equal(lgetxattr(opq, "trusted.overlay.opaque", v, sizeof(v) - 1), 1);
        assert_string_equal(v, "y");

        assert_string_equal(img->config.entrypoint[0], "/bin/echo");
        assert_string_equal(img->config.cmd[0], "hello");
        assert_true(strv_contains(img->config.env, "A=1"));
        assert_string_equal(img->config.working_dir, "/etc");
        assert_string_equal(img->config.user, "1000:1000");
        assert_int_equal(strv_length(img->images), 1);

        /* images/HEX.json names the image as it was resolved, with its layers. */
        rec = store_sub(f, "images/%s.json", img->images[0] + 7);
        assert_int_equal(read_full_file(rec, 1 << 20, &json, NULL), 0);
        assert_non_null(strstr(json, "\"names\":[\""));
        assert_non_null(strstr(json, ":v2\"]"));
        assert_non_null(strstr(json, img->layers[2].diff_id));
        image_free(img);
        free(rec);
        rec = store_sub(f, "%s", "tmp");
        assert_int_equal(count_entries(rec), 0);
}

/* A layer that lists only its files (umoci raw add-layer of a tar made with --no-recursion, as
 * umoci's own layers can be): the parents the unpacker makes for them take the owner, mode and
 * times of the layer below, or the image's /tmp 1777 would be 0755 in the overlay (the topmost
 * copy of a directory decides) and a directory of user 1000 root's. */
static void test_oci_implicit_parents(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = path_join(f->dir, "imp"), *rec = NULL, *json = NULL;
        Image *img = NULL;
        struct stat lower, upper;

        sh("cd %s && mkdir -p b/tmp b/keep b/o/s u/tmp u/keep u/new && chmod 1777 b/tmp && chmod 0700 b/keep && "
           "touch -d 2001-02-03 b/keep && chown 1000:1000 b/keep b/o && chmod 0711 b/o && chmod 0700 b/o/s && "
           "for x in b/keep/base u/tmp/foo u/keep/f u/new/x; do head -c 512 /dev/zero > $x; done && "
           "umoci init --layout imp && umoci new --image imp:v1 && umoci insert --image imp:v1 b / && "
           "umoci tag --image imp:v1 base && "
           "tar -C u --no-recursion -cf up.tar tmp/foo keep/f new/x && tar -tf up.tar | grep -q '/$' && exit 1; "
           "umoci raw add-layer --image imp:v1 up.tar",
           f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", false, &img, NULL), 0);
        assert_int_equal(img->n_layers, 2);

        char *const paths[] = {"tmp", "keep"};
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ char *l = xasprintf("%s/%s", img->layers[0].dir, paths[i]),
                                    *u = xasprintf("%s/%s", img->layers[1].dir, paths[i]);
                assert_int_equal(lstat(l, &lower), 0);
                assert_int_equal(lstat(u, &upper), 0);
                assert_true(S_ISDIR(upper.st_mode));
                assert_int_equal(upper.st_mode, lower.st_mode);
                assert_int_equal(upper.st_uid, lower.st_uid);
                assert_int_equal(upper.st_gid, lower.st_gid);
                assert_int_equal(upper.st_mtim.tv_sec, lower.st_mtim.tv_sec);
        }
        assert_int_equal(upper.st_mode & 07777, 0700);
        assert_int_equal(upper.st_uid, 1000);
        assert_int_equal(upper.st_gid, 1000);
        rec = xasprintf("%s/tmp", img->layers[1].dir);
        assert_int_equal(lstat(rec, &upper), 0);
        assert_int_equal(upper.st_mode & 07777, 01777);
        free(rec);
        /* No layer below has new/: 0755 root, as the unpacker made it. */
        rec = xasprintf("%s/new", img->layers[1].dir);
        assert_int_equal(lstat(rec, &upper), 0);
        assert_int_equal(upper.st_mode & 07777, 0755);
        assert_int_equal(upper.st_uid, 0);
        free(rec);

        /* layers/HEX.json says which took whose. */
        rec = store_sub(f, "layers/%s.json", img->layers[1].diff_id + 7);
        assert_int_equal(read_full_file(rec, 1 << 20, &json, NULL), 0);
        assert_non_null(strstr(json, "\"implicit_dirs\":{\"count\":3,"));
        assert_non_null(strstr(json, "\"inherited\":2"));
        assert_non_null(strstr(json, img->layers[0].diff_id + 7));
        image_free(img);
        img = NULL;

        /* tar: items take the unit's items below them as their lowers, and the nearest lower
         * that has the path decides: a whiteout there (keep), or an opaque directory above it
         * (o/, whose o/s below does not show), leaves 0755 root. */
        _cleanup_free_ char *mid = path_join(f->dir, "mid.tar"), *up2 = path_join(f->dir, "up2.tar");
        sh("cd %s && mkdir -p m/o u2/tmp u2/keep u2/o/s && touch m/.wh.keep m/o/.wh..wh..opq u2/tmp/bar u2/keep/g "
           "u2/o/s/f && tar -C m --no-recursion -cf mid.tar .wh.keep o/.wh..wh..opq && "
           "tar -C u2 --no-recursion -cf up2.tar tmp/bar keep/g o/s/f",
           f->dir);
        Layer items[] = {
                {.type = LAYER_OCI, .path = lay, .ref = (char *) "base"},
                {.type = LAYER_TAR, .path = mid},
                {.type = LAYER_TAR, .path = up2},
        };
        UnitSpec u = {.layers = items, .n_layers = ELEMENTSOF(items)};
        ImageOptions o = {.store_dir = f->store};
        SupError *e = NULL;
        assert_int_equal(image_resolve(&u, &o, &img, &e), 0);
        assert_int_equal(img->n_layers, 3);
        struct {
                const char *path;
                mode_t mode;
                uid_t uid;
        } want[] = {
                {"tmp", 01777, 0},
                {"keep", 0755, 0},
                {"o", 0711, 1000},
                {"o/s", 0755, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", img->layers[2].dir, want[i].path);
                assert_int_equal(lstat(d, &upper), 0);
                if ((upper.st_mode & 07777) != want[i].mode || upper.st_uid != want[i].uid)
                        fail_msg("%s: %o %u, not %o %u", want[i].path, upper.st_mode & 07777, upper.st_uid,
                                 want[i].mode, want[i].uid);
        }
        image_free(img);
}

/* A layout with several images needs a ref; a ref it lacks is named with the ones it has. */
static void test_oci_ref_errors(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *msg = NULL;

        assert_int_equal(resolve_item(f, LAYER_OCI, lay, NULL, false, NULL, &msg), -EINVAL);
        assert_non_null(strstr(msg, "holds 2 images"));
        assert_non_null(strstr(msg, "v1, v2"));
        free(msg);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v3", false, NULL, &msg), -ENOENT);
        assert_non_null(strstr(msg, "no image v3"));
        assert_non_null(strstr(msg, "its refs: v1, v2"));
        free(msg);
        msg = NULL;
        /* One image and no ref: that one. */
        sh("cd %s && umoci rm --image lay:v1", f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, NULL, false, NULL, NULL), 0);
}

/* An image index (a manifest list, as buildah pushes one) is resolved to its linux/amd64 entry;
 * one without such an entry is refused, naming what it has. */
static void test_oci_index(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *multi = NULL, *msg = NULL;
        Image *img = NULL;

        /* Before anything is allocated: skip() leaves by longjmp(), past the cleanups. Where the
         * suite must work (CI), a missing buildah is a failure: tools/dev.sh installs it. */
        if (system("buildah --version >/dev/null 2>&1") != 0) {
                if (getenv("SUP_TESTS_MUST_WORK") && streq(getenv("SUP_TESTS_MUST_WORK"), "1"))
                        fail_msg("no buildah, which tools/dev.sh installs");
                skip();
        }
        multi = path_join(f->dir, "multi");
        free(make_layout(f));
        sh("cd %s && umoci config --image lay:v2 --architecture arm64 --tag v2arm && "
           "B='buildah --root %s/bh/root --runroot %s/bh/run --storage-driver vfs' && "
           "$B manifest create both >/dev/null && $B manifest add --arch arm64 both oci:lay:v2arm >/dev/null && "
           "$B manifest add both oci:lay:v2 >/dev/null && $B manifest push -q --all both oci:multi:both && "
           "$B manifest create arm >/dev/null && $B manifest add --arch arm64 arm oci:lay:v2arm >/dev/null && "
           "$B manifest push -q --all arm oci:multi:arm",
           f->dir, f->dir, f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, multi, "both", false, &img, NULL), 0);
        assert_int_equal(img->n_layers, 3);
        assert_string_equal(img->config.entrypoint[0], "/bin/echo");
        image_free(img);
        assert_int_equal(resolve_item(f, LAYER_OCI, multi, "arm", false, NULL, &msg), -ENOEXEC);
        assert_non_null(strstr(msg, "has no image for linux/amd64 (it has: linux/arm64)"));
}

/* An image for another architecture is refused, naming it, before anything is unpacked. */
static void test_oci_wrong_arch(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *msg = NULL, *layers = store_sub(f, "%s", "layers");

        sh("cd %s && umoci config --image lay:v2 --architecture arm64", f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", false, NULL, &msg), -ENOEXEC);
        assert_non_null(strstr(msg, "linux/arm64"));
        assert_non_null(strstr(msg, lay));
        assert_int_equal(count_entries(layers), 0);
}

/* A layer blob changed in place (same size, so only its digest tells) is refused after the
 * unpack, and nothing of it stays: not in layers/, not in tmp/. */
static void test_oci_tampered_blob(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *msg = NULL, *layers = store_sub(f, "%s", "layers"),
                            *tmp = store_sub(f, "%s", "tmp");

        /* Layer 1 of v1, re-gzipped with etc/a changed, padded to its size with the gzip header's
         * file name field. */
        sh("cd %s && python3 - <<'EOF'\n"
           "import json, gzip, io, os\n"
           "idx = json.load(open('lay/index.json'))\n"
           "m = [d for d in idx['manifests'] if d['annotations']['org.opencontainers.image.ref.name'] == 'v1'][0]\n"
           "man = json.load(open('lay/blobs/sha256/' + m['digest'][7:]))\n"
           "p = 'lay/blobs/sha256/' + man['layers'][0]['digest'][7:]\n"
           "orig = open(p, 'rb').read()\n"
           "tar = gzip.decompress(orig).replace(b'aaaa', b'bbbb', 1)\n"
           "def z(name):\n"
           "    b = io.BytesIO()\n"
           "    with gzip.GzipFile(filename=name, mode='wb', fileobj=b, mtime=0) as g: g.write(tar)\n"
           "    return b.getvalue()\n"
           "pad = len(orig) - len(z('x')) + 1\n"
           "assert pad >= 1, pad\n"
           "new = z('x' * pad)\n"
           "assert len(new) == len(orig) and new != orig\n"
           "os.chmod(p, 0o644); open(p, 'wb').write(new)\n"
           "EOF",
           f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", false, NULL, &msg), -EBADMSG);
        assert_non_null(strstr(msg, "does not match its digest"));
        assert_int_equal(count_entries(layers), 0);
        assert_int_equal(count_entries(tmp), 0);
}

/* What a layout's maker could try: a digest that is a path (sha256:../..), a blob that is a
 * symlink (to a file of the host), a descriptor whose size is not the blob's. Each is refused
 * before anything is read from where it points. */
static void test_oci_hostile_layout(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *msg = NULL;

        sh("cd %s && cp lay/index.json index.orig && python3 - <<'EOF'\n"
           "import json\n"
           "i = json.load(open('lay/index.json'))\n"
           "i['manifests'][0]['digest'] = 'sha256:../../../../../../etc/passwd'\n"
           "json.dump(i, open('lay/index.json', 'w'))\n"
           "EOF",
           f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", false, NULL, &msg), -EINVAL);
        assert_non_null(strstr(msg, "not a sha256 digest"));
        free(msg);

        /* The manifest of v1 made a symlink to a copy of itself outside the layout. */
        sh("cd %s && cp index.orig lay/index.json && python3 - <<'EOF'\n"
           "import json, os, shutil\n"
           "i = json.load(open('lay/index.json'))\n"
           "m = [d for d in i['manifests'] if d['annotations']['org.opencontainers.image.ref.name'] == 'v1'][0]\n"
           "p = 'lay/blobs/sha256/' + m['digest'][7:]\n"
           "shutil.copy(p, 'outside')\n"
           "os.unlink(p)\n"
           "os.symlink(os.path.abspath('outside'), p)\n"
           "EOF",
           f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", false, NULL, &msg), -ELOOP);
        free(msg);

        /* v2's descriptor says one byte more than its manifest has. */
        sh("cd %s && python3 - <<'EOF'\n"
           "import json\n"
           "i = json.load(open('lay/index.json'))\n"
           "m = [d for d in i['manifests'] if d['annotations']['org.opencontainers.image.ref.name'] == 'v2'][0]\n"
           "m['size'] += 1\n"
           "json.dump(i, open('lay/index.json', 'w'))\n"
           "EOF",
           f->dir);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", false, NULL, &msg), -EBADMSG);
        assert_non_null(strstr(msg, "its descriptor says"));
}

/* Two images with a layer in common: one directory (one inode) for both. */
static void test_oci_shared_layer(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f);
        Image *a = NULL, *b = NULL;
        struct stat sa, sb;

        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", false, &a, NULL), 0);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", false, &b, NULL), 0);
        assert_string_equal(a->layers[0].dir, b->layers[0].dir);
        assert_int_equal(stat(a->layers[0].dir, &sa), 0);
        assert_int_equal(stat(b->layers[0].dir, &sb), 0);
        assert_int_equal(sa.st_ino, sb.st_ino);
        assert_string_not_equal(a->images[0], b->images[0]);
        image_free(a);
        image_free(b);
}

/* Two processes resolve one image at once into an empty store: both succeed, with one layer
 * directory. Without the layer's lock both unpack and the second rename fails. */
static void test_oci_concurrent(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = path_join(f->dir, "big"), *layers = store_sub(f, "%s", "layers");
        int go[2], result[2];
        pid_t pids[2];

        /* Big enough that the two unpacks overlap. */
        sh("cd %s && mkdir -p rb && head -c 48M /dev/urandom > rb/blob && umoci init --layout big && "
           "umoci new --image big:x && umoci insert --image big:x rb /",
           f->dir);
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(result), 0);
        for (int i = 0; i < 2; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        char c;
                        Image *img = NULL;
                        struct stat st;
                        ino_t ino = 0;

                        close(go[1]);
                        if (read(go[0], &c, 1) != 0)
                                _exit(2);
                        if (resolve_item(f, LAYER_OCI, lay, NULL, false, &img, NULL) < 0)
                                _exit(1);
                        if (stat(img->layers[0].dir, &st) == 0)
                                ino = st.st_ino;
                        if (write(result[1], &ino, sizeof(ino)) != sizeof(ino))
                                _exit(3);
                        _exit(0);
                }
        }
        close(go[0]);
        close(go[1]); /* both start now */
        close(result[1]);
        for (int i = 0; i < 2; i++) {
                int status;
                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        {
                ino_t a, b;
                assert_int_equal(read(result[0], &a, sizeof(a)), sizeof(a));
                assert_int_equal(read(result[0], &b, sizeof(b)), sizeof(b));
                assert_int_not_equal(a, 0);
                assert_int_equal(a, b);
        }
        close(result[0]);
        assert_int_equal(count_entries(layers), 2); /* HEX and HEX.json */
}

/* tar: a warm start finds the layer by the file's identity (lookup_only cannot unpack, so its
 * success proves it); a touched file is a new identity, which only looking cannot resolve. */
static void test_tar_warm(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *tar = path_join(f->dir, "l.tar.gz"), *msg = NULL, *a = NULL;
        Image *img = NULL, *again = NULL;

        sh("cd %s && mkdir -p t/etc && echo x > t/etc/x && tar -C t -czf l.tar.gz etc", f->dir);
        assert_int_equal(resolve_item(f, LAYER_TAR, tar, NULL, true, NULL, &msg), -ENOENT);
        assert_non_null(strstr(msg, "not unpacked"));
        free(msg);
        msg = NULL;
        assert_int_equal(resolve_item(f, LAYER_TAR, tar, NULL, false, &img, NULL), 0);
        assert_int_equal(img->n_layers, 1);
        a = xasprintf("%s/etc/x", img->layers[0].dir);
        assert_int_equal(access(a, F_OK), 0);
        assert_int_equal(resolve_item(f, LAYER_TAR, tar, NULL, true, &again, NULL), 0);
        assert_string_equal(again->layers[0].diff_id, img->layers[0].diff_id);
        sh("touch %s", tar);
        assert_int_equal(resolve_item(f, LAYER_TAR, tar, NULL, true, NULL, &msg), -ENOENT);
        image_free(img);
        image_free(again);
}

/* The store's open removes what a crash left (an unpack in tmp/, a disk being built) but not
 * what a live process is making there now, and makes the store root's alone. */
static void test_init_leftovers(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *dead = store_sub(f, "tmp/layer-%s.abcdef", "2147483646"),
                            *dead_disk = store_sub(f, "disks/.%s.erofs.2147483646", "00"), *live = NULL,
                            *live_disk = NULL;
        struct stat st;

        live = xasprintf("%s/tmp/pull-%d.abcdef", f->store, (int) getpid());
        live_disk = xasprintf("%s/disks/.00.erofs.%d", f->store, (int) getpid());
        assert_int_equal(mkdir(dead, 0700), 0);
        assert_int_equal(mkdir(live, 0700), 0);
        sh("touch %s %s && chmod 0755 %s", dead_disk, live_disk, f->store);
        assert_int_equal(image_store_init(f->store, NULL), 0);
        assert_int_not_equal(access(dead, F_OK), 0);
        assert_int_not_equal(access(dead_disk, F_OK), 0);
        assert_int_equal(access(live, F_OK), 0);
        assert_int_equal(access(live_disk, F_OK), 0);
        assert_int_equal(stat(f->store, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
}

/* ImageOptions.limits reach the unpacker (supd --image-max-layer-size): past them the layer is
 * refused, and nothing of it stays. */
static void test_limits(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *tar = path_join(f->dir, "l.tar"), *layers = store_sub(f, "%s", "layers"),
                            *tmp = store_sub(f, "%s", "tmp");
        Layer l = {.type = LAYER_TAR, .path = tar};
        UnitSpec u = {.layers = &l, .n_layers = 1};
        ImageOptions o = {.store_dir = f->store, .limits = {.max_bytes = 4096}};
        SupError *e = NULL;
        Image *img = NULL;

        sh("cd %s && mkdir -p t && head -c 65536 /dev/zero > t/big && tar -C t -cf l.tar big", f->dir);
        assert_true(image_resolve(&u, &o, &img, &e) < 0);
        assert_null(img);
        sup_error_free(e);
        assert_int_equal(count_entries(layers), 0);
        assert_int_equal(count_entries(tmp), 0);
        /* Zero: the default, under which the layer is fine. */
        o.limits.max_bytes = 0;
        assert_int_equal(image_resolve(&u, &o, &img, NULL), 0);
        image_free(img);
}

/* prune keeps what a kept unit's record names and removes the rest; a dry run removes nothing. A
 * layer's disk in ext4, the format before erofs, goes even for a kept layer: no guest attaches it
 * again. */
static void test_prune(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *used = NULL, *unused = NULL, *text = NULL, *users = NULL,
                            *old_disk = NULL;
        char *keep[] = {(char *) "web", NULL};
        Image *v1 = NULL, *v2 = NULL;
        json_t *out = NULL;

        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", false, &v1, NULL), 0);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", false, &v2, NULL), 0);
        assert_int_equal(image_store_record_user(f->store, "web", v1, NULL), 0);
        assert_int_equal(image_store_record_user(f->store, "old", v2, NULL), 0);
        used = xstrdup(v1->layers[0].dir);
        unused = xstrdup(v2->layers[1].dir);

        /* A forgotten unit's record is gone; one never recorded is fine to forget. */
        assert_int_equal(image_store_record_user(f->store, "gone", v2, NULL), 0);
        assert_int_equal(image_store_forget_user(f->store, "gone", NULL), 0);
        assert_int_equal(image_store_forget_user(f->store, "never", NULL), 0);
        assert_int_equal(image_store_forget_user(f->store, "../x", NULL), -EINVAL);
        users = store_sub(f, "users/%s.json", "gone");
        assert_int_not_equal(access(users, F_OK), 0);

        assert_int_equal(image_store_prune(f->store, keep, true, &out, NULL), 0);
        text = json_dumps(out, JSON_COMPACT);
        assert_non_null(strstr(text, v2->layers[1].diff_id));
        assert_null(strstr(text, v1->layers[0].diff_id));
        json_decref(out);
        assert_int_equal(access(unused, F_OK), 0); /* a dry run */
        old_disk = store_sub(f, "disks/%s.ext4", v1->layers[0].diff_id + 7);
        sh("touch %s", old_disk);

        assert_int_equal(image_store_prune(f->store, keep, false, &out, NULL), 0);
        json_decref(out);
        assert_int_equal(access(used, F_OK), 0);
        assert_int_not_equal(access(unused, F_OK), 0);
        assert_int_not_equal(access(old_disk, F_OK), 0);
        /* v1 stays listed, v2 is gone, and web is its user. */
        assert_int_equal(image_store_list(f->store, &out, NULL), 0);
        assert_int_equal(json_array_size(out), 1);
        free(text);
        text = json_dumps(out, JSON_COMPACT);
        assert_non_null(strstr(text, "\"users\":[\"web\"]"));
        json_decref(out);
        assert_int_equal(image_store_inspect(f->store, v1->images[0], &out, NULL), 0);
        assert_non_null(json_object_get(out, "history"));
        json_decref(out);
        /* v1's layer is still resolvable without unpacking. */
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v1", true, NULL, NULL), 0);

        /* A start between its resolve and its record: what it resolved is kept (its process
         * lives), though no unit's record names it yet. */
        image_free(v2);
        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", false, &v2, NULL), 0);
        assert_int_equal(image_store_prune(f->store, keep, false, &out, NULL), 0);
        json_decref(out);
        assert_int_equal(access(unused, F_OK), 0);
        image_free(v1);
        image_free(v2);
}

/* Only looking: nothing unpacked, pulled or written; what is missing says so. */
static void test_lookup_only(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *msg = NULL, *layers = store_sub(f, "%s", "layers"),
                            *images = store_sub(f, "%s", "images");

        assert_int_equal(resolve_item(f, LAYER_OCI, lay, "v2", true, NULL, &msg), -ENOENT);
        assert_non_null(strstr(msg, "not unpacked in the store yet"));
        free(msg);
        assert_int_equal(resolve_item(f, LAYER_REGISTRY, "127.0.0.1:1/none:1", NULL, true, NULL, &msg), -ENOENT);
        assert_non_null(strstr(msg, "is not in the store"));
        assert_non_null(strstr(msg, "supctl image pull 127.0.0.1:1/none:1"));
        assert_int_equal(count_entries(layers), 0);
        assert_int_equal(count_entries(images), 0);
}

/* A store layer's disk for guests: built once by diff_id, and its whiteout and opaque directory
 * are in the erofs image as overlayfs in the guest reads them (the kernel's erofs, loop-mounted). */
static void test_store_disk(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *disk = NULL, *disk_opq = NULL;
        Layer l = {.type = LAYER_OCI, .path = lay, .ref = (char *) "v2"};
        UnitSpec *u = unit_of(&l, 1);
        ImageOptions o = {.store_dir = f->store, .disk_cache = f->dir};
        Image *img = NULL, *again = NULL;
        struct stat a, b;

        assert_int_equal(image_resolve(u, &o, &img, NULL), 0);
        disk = store_sub(f, "disks/%s.erofs", img->layers[1].diff_id + 7);
        assert_string_equal(img->layers[1].disk, disk);
        assert_int_equal(strv_length(img->notes), 3);
        assert_int_equal(image_resolve(u, &o, &again, NULL), 0);
        assert_null(again->notes); /* no second build */
        assert_int_equal(stat(img->layers[1].disk, &a), 0);
        assert_int_equal(stat(again->layers[1].disk, &b), 0);
        assert_int_equal(a.st_ino, b.st_ino);

        disk_opq = store_sub(f, "disks/%s.erofs", img->layers[2].diff_id + 7);
        sh("cd %s && mkdir m1 m2 && mount -t erofs -o ro,loop %s m1 && mount -t erofs -o ro,loop %s m2", f->dir, disk,
           disk_opq);
        {
                _cleanup_free_ char *gone = path_join(f->dir, "m1/etc/gone"), *opq = path_join(f->dir, "m2/opq"),
                                    *lf = path_join(f->dir, "m1/lost+found");
                struct stat st;
                char v[8];
                bool ok = lstat(gone, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) &&
                          getxattr(opq, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y' &&
                          access(lf, F_OK) < 0;

                sh("cd %s && umount m1 && umount m2", f->dir);
                assert_true(ok);
        }
        image_free(img);
        image_free(again);
        free(u);
}

typedef struct Progress {
        ImageProgress last;
        unsigned reports;
        bool totals_changed; /* a report's totals other than the first's */
} Progress;

static void count_progress(const ImageProgress *p, void *userdata) {
        Progress *pr = userdata;

        if (pr->reports++ > 0 && (p->layers_total != pr->last.layers_total || p->bytes_total != pr->last.bytes_total))
                pr->totals_changed = true;
        pr->last = *p;
}

/* The store's blobs/sha256/: each entry's name and inode, sorted by name; *n of them. */
typedef struct BlobInode {
        char name[80];
        ino_t ino;
} BlobInode;

static int blob_inode_cmp(const void *a, const void *b) {
        return strcmp(((const BlobInode *) a)->name, ((const BlobInode *) b)->name);
}

static size_t blob_inodes(const char *dir, BlobInode *ret, size_t max) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                assert_true(n < max);
                assert_true(strlen(de->d_name) < sizeof(ret[n].name));
                strcpy(ret[n].name, de->d_name);
                ret[n++].ino = de->d_ino;
        }
        qsort(ret, n, sizeof(*ret), blob_inode_cmp);
        return n;
}

/* The attack it stops: a reader of the store seeing a manifest half written. skopeo writes a
 * manifest in place (truncated, then written), also one the store has; pulling again into the
 * store's blobs/ let a start resolving the image (or a pull's own end) read a manifest of 0 bytes,
 * and a pull killed in between would have left it so. Pulling the same image again must write no
 * file of blobs/sha256/ in place (inotify sees every open for writing end there), and copy no
 * layer the store had (they keep their inodes). The manifest and the config (skopeo copies a
 * config every time) are replaced whole. */
static void repull_in_place_check(const Fixture *f, const char *ref, const char *digest) {
        _cleanup_free_ char *blobs = store_sub(f, "%s", "blobs/sha256"), *again = NULL,
                            *tmp = store_sub(f, "%s", "tmp"), *manifest_path = NULL;
        _cleanup_close_ int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        _cleanup_(json_decrefp) json_t *manifest = NULL;
        const char *config;
        BlobInode before[16], after[16];
        size_t n_before, n_after;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        SupError *e = NULL;
        ssize_t n;

        manifest_path = path_join(blobs, digest + strlen("sha256:"));
        manifest = json_load_file(manifest_path, 0, NULL);
        config = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
        assert_non_null(config);
        n_before = blob_inodes(blobs, before, 16);
        assert_int_equal(n_before, 5); /* manifest, config, three layers */
        assert_true(in >= 0);
        assert_true(inotify_add_watch(in, blobs, IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE) >= 0);
        assert_int_equal(image_store_pull(f->store, ref, false, NULL, &again, &e), 0);
        assert_null(e);
        assert_string_equal(again, digest);
        while ((n = read(in, buf, sizeof(buf))) > 0) {
                const struct inotify_event *ev = (const struct inotify_event *) buf;
                fail_msg("blobs/sha256/%s written in place by a second pull (mask %#x)", ev->len ? ev->name : "",
                         ev->mask);
        }
        assert_int_equal(errno, EAGAIN);
        n_after = blob_inodes(blobs, after, 16);
        assert_int_equal(n_after, n_before);
        for (size_t i = 0; i < n_before; i++) {
                assert_string_equal(after[i].name, before[i].name);
                if (streq(before[i].name, digest + strlen("sha256:")))
                        assert_int_not_equal(after[i].ino, before[i].ino);
                else if (!streq(before[i].name, config + strlen("sha256:")) && after[i].ino != before[i].ino)
                        fail_msg("blobs/sha256/%s copied again", before[i].name);
        }
        assert_int_equal(count_entries(tmp), 0);
}

/* Two pulls of one reference at the same time (two units with pull: always): both succeed and
 * find the manifest whole, and the image resolves after. */
static void concurrent_pulls(const Fixture *f, const char *ref, const char *digest) {
        _cleanup_free_ char *tmp = store_sub(f, "%s", "tmp");
        ImagePull *p[2] = {};
        bool done[2] = {};
        Image *img = NULL;

        for (size_t i = 0; i < 2; i++)
                assert_int_equal(image_pull_start(f->store, ref, false, NULL, &p[i], NULL), 0);
        while (!done[0] || !done[1]) {
                struct pollfd pfd[2];
                nfds_t n = 0;

                for (size_t i = 0; i < 2; i++)
                        if (!done[i])
                                pfd[n++] = (struct pollfd){.fd = image_pull_fd(p[i]), .events = POLLIN};
                assert_true(poll(pfd, n, 60000) > 0);
                for (size_t i = 0; i < 2; i++) {
                        SupError *e = NULL;
                        int status;

                        if (done[i] || image_pull_read(p[i]) != 0)
                                continue;
                        assert_int_equal(waitpid(image_pull_pid(p[i]), &status, 0), image_pull_pid(p[i]));
                        assert_int_equal(image_pull_finish(p[i], status, &e), 0);
                        assert_null(e);
                        done[i] = true;
                }
        }
        for (size_t i = 0; i < 2; i++)
                image_pull_free(p[i]);
        assert_int_equal(resolve_item(f, LAYER_REGISTRY, ref, NULL, false, &img, NULL), 0);
        assert_string_equal(img->images[0], digest);
        image_free(img);
        assert_int_equal(count_entries(tmp), 0);
}

/* A pull from a registry on 127.0.0.1 (Debian's docker-registry, when installed): the reference
 * is recorded only after skopeo succeeded, with progress up to the manifest's totals, and then
 * resolves from the store's blobs; a failed pull carries skopeo's message and records nothing. */
static void test_registry_pull(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *lay = make_layout(f), *ref = NULL, *bad = NULL, *digest = NULL, *msg = NULL,
                            *refs = store_sub(f, "%s", "refs"), *tmp = store_sub(f, "%s", "tmp");
        Progress pr = {};
        ImageOptions o = {.store_dir = f->store, .progress = count_progress, .userdata = &pr};
        Layer l = {.type = LAYER_REGISTRY, .tls_verify = false};
        UnitSpec u = {.layers = &l, .n_layers = 1, .pull = PULL_MISSING};
        char **needed = NULL;
        SupError *e = NULL;
        Image *img = NULL;
        int port = 20000 + getpid() % 20000, status;
        pid_t reg;

        if (access("/usr/bin/docker-registry", X_OK) < 0 || system("skopeo --version >/dev/null 2>&1") != 0)
                skip();
        sh("cd %s && printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/regdata\n"
           "http:\n  addr: 127.0.0.1:%d\n' > reg.yml",
           f->dir, f->dir, port);
        reg = fork();
        assert_true(reg >= 0);
        if (reg == 0) {
                _cleanup_free_ char *cfg = path_join(f->dir, "reg.yml");
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                dup2(null, 2);
                execl("/usr/bin/docker-registry", "docker-registry", "serve", cfg, NULL);
                _exit(127);
        }
        /* skopeo retries the push until the registry listens. */
        sh("for i in $(seq 50); do skopeo copy -q --dest-tls-verify=false oci:%s:v2 docker://127.0.0.1:%d/app:v2 "
           "2>/dev/null && exit 0; sleep 0.2; done; exit 1",
           lay, port);

        ref = xasprintf("127.0.0.1:%d/app:v2", port);
        l.path = ref;
        assert_int_equal(image_store_pulls_needed(f->store, &u, &needed, NULL), 0);
        assert_int_equal(strv_length(needed), 1);
        strv_free(needed);
        assert_int_equal(image_store_pull(f->store, ref, false, &o, &digest, &e), 0);
        assert_null(e);
        assert_true(startswith(digest, "sha256:"));
        /* The totals are known from the first report on (skopeo inspect), the manifest's. */
        assert_true(pr.reports >= 2);
        assert_false(pr.totals_changed);
        assert_int_equal(pr.last.layers_total, 3);
        assert_int_equal(pr.last.layers_done, 3);
        assert_true(pr.last.bytes_total > 0);
        assert_int_equal(pr.last.bytes_done, pr.last.bytes_total);
        assert_int_equal(count_entries(tmp), 0);
        assert_int_equal(image_store_pulls_needed(f->store, &u, &needed, NULL), 0);
        assert_null(needed);
        u.pull = PULL_ALWAYS;
        assert_int_equal(image_store_pulls_needed(f->store, &u, &needed, NULL), 0);
        assert_int_equal(strv_length(needed), 1);
        strv_free(needed);

        assert_int_equal(resolve_item(f, LAYER_REGISTRY, ref, NULL, false, &img, NULL), 0);
        assert_int_equal(img->n_layers, 3);
        assert_string_equal(img->config.entrypoint[0], "/bin/echo");
        assert_string_equal(img->images[0], digest);
        image_free(img);

        repull_in_place_check(f, ref, digest);
        concurrent_pulls(f, ref, digest);

        /* A tag the registry lacks: skopeo's reason, no ref, nothing left in tmp/. */
        bad = xasprintf("127.0.0.1:%d/app:nope", port);
        assert_int_equal(image_store_pull(f->store, bad, false, NULL, NULL, &e), -EIO);
        msg = xstrdup(e->message);
        sup_error_free(e);
        /* skopeo's reason itself, out of its log line's wrapping. */
        assert_non_null(strstr(msg, "skopeo: "));
        assert_non_null(strstr(msg, "manifest unknown"));
        assert_null(strstr(msg, "level=fatal"));
        assert_int_equal(count_entries(refs), 1);
        assert_int_equal(count_entries(tmp), 0);

        kill(reg, SIGTERM);
        assert_int_equal(waitpid(reg, &status, 0), reg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_oci_two_layers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_ref_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_wrong_arch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_index, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_tampered_blob, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_hostile_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_shared_layer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_concurrent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_implicit_parents, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tar_warm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_init_leftovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lookup_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_disk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_registry_pull, setup, teardown),
        };

        if (geteuid() != 0 || system("umoci --version >/dev/null 2>&1") != 0) {
                fprintf(stderr, "needs root and umoci\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
