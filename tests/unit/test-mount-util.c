/* SPDX-License-Identifier: MIT */
/* open_beneath(), the walk that opens a container's mount points: against a tree of the test's
 * own with symlinks that point out of it (absolute, relative, through ".."), into it, nowhere,
 * and through /proc's magic links; and against a symlink swapped in and out while it walks. */
#include "test-helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "mount-util.h"

typedef struct Tree {
        char *top;  /* the test's directory */
        char *root; /* top/root: the "container's root" */
        int rootfd; /* an O_PATH fd of it */
} Tree;

static void at(const char *top, const char *fmt, const char *path, char *buf, size_t n) {
        snprintf(buf, n, fmt, top, path);
}

static void mk_dir(Tree *t, const char *path) {
        char p[4096];
        at(t->top, "%s/%s", path, p, sizeof(p));
        assert_int_equal(mkdir_p(p, 0755), 0);
}

static void mk_link(Tree *t, const char *target, const char *path) {
        char p[4096];
        at(t->top, "%s/%s", path, p, sizeof(p));
        assert_int_equal(symlink(target, p), 0);
}

static ino_t ino_of(Tree *t, const char *path) {
        char p[4096];
        struct stat st;
        at(t->top, "%s/%s", path, p, sizeof(p));
        assert_int_equal(lstat(p, &st), 0);
        return st.st_ino;
}

static bool exists(Tree *t, const char *path) {
        char p[4096];
        struct stat st;
        at(t->top, "%s/%s", path, p, sizeof(p));
        return lstat(p, &st) == 0;
}

static int setup(void **state) {
        Tree *t = xzalloc(sizeof(*t));
        char *outside;

        t->top = make_tree();
        t->root = xasprintf("%s/root", t->top);
        outside = xasprintf("%s/outside", t->top);
        mk_dir(t, "outside/target");
        mk_dir(t, "root/dir/sub");
        mk_dir(t, "root/real/target");
        put(t->top, "root/file", "in the root\n");
        put(t->top, "outside/secret", "outside the root\n");
        mk_link(t, outside, "root/abs");           /* absolute, out */
        mk_link(t, "/etc", "root/etc");            /* absolute, to the host's /etc */
        mk_link(t, "../outside", "root/rel");      /* relative, out */
        mk_link(t, "dir", "root/inner");           /* relative, in */
        mk_link(t, "/dir", "root/inner-abs");      /* absolute, in (if it were resolved in the root) */
        mk_link(t, "..", "root/dir/up");           /* up one, still in */
        mk_link(t, "../../..", "root/dir/sub/up"); /* up and out */
        free(outside);
        outside = xasprintf("%s/outside/made", t->top);
        mk_link(t, outside, "root/dangling"); /* nothing there yet: a creation would land outside */
        free(outside);
        t->rootfd = open(t->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(t->rootfd >= 0);
        *state = t;
        return 0;
}

static int teardown(void **state) {
        Tree *t = *state;
        close(t->rootfd);
        (void) rm_rf(t->top);
        free(t->root);
        free(t->top);
        free(t);
        return 0;
}

/* open_beneath() of path must succeed and give the inode at top/expect. */
static void assert_opens(Tree *t, const char *path, BeneathFlags flags, const char *expect) {
        struct stat st;
        int fd = -EBADF;

        assert_int_equal(open_beneath(t->rootfd, path, flags, &fd, NULL), 0);
        assert_int_equal(fstat(fd, &st), 0);
        if (st.st_ino != ino_of(t, expect))
                fail_msg("%s opened something other than %s", path, expect);
        /* O_PATH: usable as a mount target and a dirfd, not for reading. */
        assert_int_equal(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
        close(fd);
}

/* open_beneath() of path must fail with r, and name the component that failed: prefix. */
static void assert_refused(Tree *t, const char *path, BeneathFlags flags, int r, const char *prefix) {
        size_t failed_at = 0;
        int fd = -EBADF;

        assert_int_equal(open_beneath(t->rootfd, path, flags, &fd, &failed_at), r);
        assert_int_equal(fd, -EBADF);
        if (failed_at != strlen(prefix) || strncmp(path, prefix, failed_at) != 0)
                fail_msg("%s: failed at \"%.*s\", expected \"%s\"", path, (int) failed_at, path, prefix);
}

static void test_plain_paths(void **state) {
        Tree *t = *state;

        assert_opens(t, "dir/sub", 0, "root/dir/sub");
        assert_opens(t, "/dir//sub/./", 0, "root/dir/sub");
        assert_opens(t, "./file", 0, "root/file");
        assert_opens(t, "", 0, "root");
        assert_opens(t, "/", 0, "root");
        assert_refused(t, "file/x", 0, -ENOTDIR, "file");
        assert_refused(t, "dir/missing/x", 0, -ENOENT, "dir/missing");
}

static void test_symlinks_refused(void **state) {
        Tree *t = *state;

        /* Out of the root, every way. */
        assert_refused(t, "abs", 0, -ELOOP, "abs");
        assert_refused(t, "abs/target", 0, -ELOOP, "abs");
        assert_refused(t, "etc/passwd", 0, -ELOOP, "etc");
        assert_refused(t, "rel/target", 0, -ELOOP, "rel");
        assert_refused(t, "dir/sub/up/outside", 0, -ELOOP, "dir/sub/up");
        assert_refused(t, "dangling", 0, -ELOOP, "dangling");
        /* Into the root: refused as well, a mount point is the image's own directory or file. */
        assert_refused(t, "inner/sub", 0, -ELOOP, "inner");
        assert_refused(t, "inner-abs", 0, -ELOOP, "inner-abs");
        assert_refused(t, "dir/up/file", 0, -ELOOP, "dir/up");
        /* ".." is never walked, even where it would stay inside. */
        assert_refused(t, "..", 0, -EINVAL, "..");
        assert_refused(t, "../outside", 0, -EINVAL, "..");
        assert_refused(t, "dir/../file", 0, -EINVAL, "dir/..");
}

static void test_magic_links_refused(void **state) {
        int proc = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -EBADF;

        /* /proc/PID/root and /proc/PID/fd/N jump anywhere: a walk below /proc (the masked paths
         * are there) must not take them. */
        assert_true(proc >= 0);
        assert_int_equal(open_beneath(proc, "root/etc", 0, &fd, NULL), -ELOOP);
        assert_int_equal(open_beneath(proc, "cwd", 0, &fd, NULL), -ELOOP);
        assert_int_equal(open_beneath(proc, "fd/0", 0, &fd, NULL), -ELOOP);
        assert_int_equal(fd, -EBADF);
        close(proc);
        (void) state;
}

static void test_create(void **state) {
        Tree *t = *state;
        struct stat st;
        char p[4096];

        assert_opens(t, "new/a/b", BENEATH_MKDIR, "root/new/a/b");
        at(t->top, "%s/%s", "root/new/a/b", p, sizeof(p));
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_opens(t, "new/f", BENEATH_MKDIR | BENEATH_MKFILE, "root/new/f");
        at(t->top, "%s/%s", "root/new/f", p, sizeof(p));
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_size, 0);
        /* What exists is opened as it is. */
        assert_opens(t, "file", BENEATH_MKDIR, "root/file");
        assert_opens(t, "dir", BENEATH_MKDIR | BENEATH_MKFILE, "root/dir");

        /* Nothing is made through a link, dangling or not, in the last place or before it. */
        assert_refused(t, "dangling", BENEATH_MKDIR, -ELOOP, "dangling");
        assert_refused(t, "dangling", BENEATH_MKDIR | BENEATH_MKFILE, -ELOOP, "dangling");
        assert_refused(t, "abs/made", BENEATH_MKDIR, -ELOOP, "abs");
        assert_refused(t, "rel/made", BENEATH_MKDIR | BENEATH_MKFILE, -ELOOP, "rel");
        assert_refused(t, "../outside/made", BENEATH_MKDIR, -EINVAL, "..");
        assert_false(exists(t, "outside/made"));
        assert_false(exists(t, "made"));
}

/* A component that is a directory one moment and a symlink out of the root the next: two names
 * exchanged atomically (renameat2 RENAME_EXCHANGE) as fast as a thread can, while the walk
 * opens, and makes, below it. A walk may fail; it may never open or make anything outside. */
typedef struct Swapper {
        char *a, *b;
        atomic_bool stop;
        unsigned long swaps;
} Swapper;

static void *swap_loop(void *userdata) {
        Swapper *s = userdata;
        while (!atomic_load(&s->stop))
                if (renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE) == 0)
                        s->swaps++;
        return NULL;
}

static void test_swap_race(void **state) {
        Tree *t = *state;
        char outside[4096];
        Swapper s = {};
        pthread_t thread;
        unsigned ok = 0, refused = 0;
        ino_t inside, out;

        at(t->top, "%s/%s", "outside", outside, sizeof(outside));
        mk_dir(t, "root/swap/target");
        mk_link(t, outside, "root/swap-link");
        inside = ino_of(t, "root/swap/target");
        out = ino_of(t, "outside/target");
        s.a = xasprintf("%s/root/swap", t->top);
        s.b = xasprintf("%s/root/swap-link", t->top);
        assert_int_equal(pthread_create(&thread, NULL, swap_loop, &s), 0);

        for (unsigned i = 0; i < 20000; i++) {
                struct stat st;
                int fd = -EBADF;
                int r = open_beneath(t->rootfd, i % 2 ? "swap/target" : "swap/made", i % 2 ? 0 : BENEATH_MKDIR, &fd,
                                     NULL);
                if (r < 0) {
                        /* The link (-ELOOP), or the name between two renames (-ENOENT). */
                        if (r != -ELOOP && r != -ENOENT)
                                fail_msg("unexpected error %d", r);
                        refused++;
                        continue;
                }
                assert_int_equal(fstat(fd, &st), 0);
                close(fd);
                if (i % 2 && st.st_ino != inside)
                        fail_msg("swap/target opened %s",
                                 st.st_ino == out ? "the directory outside the root" : "something else");
                ok++;
        }
        atomic_store(&s.stop, true);
        assert_int_equal(pthread_join(thread, NULL), 0);
        print_message("    %lu swaps; %u walks got the directory, %u met the link\n", s.swaps, ok, refused);
        assert_false(exists(t, "outside/made"));
        assert_true(ok > 0);
        free(s.a);
        free(s.b);
}

/* In a mount namespace of its own: a shared source, its copy attached beside it, then a mount the
 * "host" makes below the source. Exit status: 0 when the copy does not get it. */
static int clone_then_mount_below(void) {
        char top[] = "/tmp/test-mount-clone-XXXXXX", src[PATH_MAX], dst[PATH_MAX], sub[PATH_MAX], seen[PATH_MAX];
        int srcfd, dstfd, mfd;
        struct stat a, b;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || !mkdtemp(top) ||
            mount("tmpfs", top, "tmpfs", 0, NULL) < 0)
                return 10;
        snprintf(src, sizeof(src), "%s/src", top);
        snprintf(dst, sizeof(dst), "%s/dst", top);
        snprintf(sub, sizeof(sub), "%s/src/sub", top);
        snprintf(seen, sizeof(seen), "%s/dst/sub", top);
        if (mkdir(src, 0755) < 0 || mkdir(dst, 0755) < 0 || mount("tmpfs", src, "tmpfs", 0, NULL) < 0 ||
            mount(NULL, src, NULL, MS_SHARED, NULL) < 0 || mkdir(sub, 0755) < 0)
                return 11;
        srcfd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
        dstfd = open(dst, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (srcfd < 0 || dstfd < 0 || mount_clone(srcfd, true, MOUNT_ATTR_RDONLY, &mfd) < 0 ||
            mount_attach(mfd, dstfd) < 0)
                return 12;
        if (mount("tmpfs", sub, "tmpfs", 0, NULL) < 0 || stat(dst, &a) < 0 || stat(seen, &b) < 0)
                return 13;
        return a.st_dev == b.st_dev ? 0 : 1;
}

/* A copy of a shared mount joined its peer group: a mount the host made later below a bind's source
 * showed in the container (or the guest's virtiofsd) with its own flags, writable under read_only. */
static void test_clone_is_private(void **state) {
        int status;
        pid_t pid;

        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root\n");
                skip();
        }
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(clone_then_mount_below());
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_plain_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinks_refused, setup, teardown),
                cmocka_unit_test(test_magic_links_refused),
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swap_race, setup, teardown),
                cmocka_unit_test(test_clone_is_private),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
