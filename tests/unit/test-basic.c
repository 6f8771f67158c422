/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "alloc.h"
#include "fileio.h"
#include "path-util.h"
#include "process-util.h"
#include "sha256.h"
#include "string-util.h"
#include "sup-error.h"

static void test_sha256_vectors(void **state) {
        char hex[65];
        _cleanup_free_ char *million = xmalloc(1000000);

        /* FIPS 180-4 / NIST example vectors. */
        sha256_hex("", 0, hex);
        assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sha256_hex("abc", 3, hex);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
        assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        memset(million, 'a', 1000000);
        sha256_hex(million, 1000000, hex);
        assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_incremental(void **state) {
        /* Feeding in odd-sized pieces across block boundaries gives the one-shot result. */
        const char *text = "The quick brown fox jumps over the lazy dog, again and again and again and again.";
        uint8_t a[32], b[32];
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, text, strlen(text));
        sha256_final(&s, a);
        sha256_init(&s);
        for (size_t i = 0; i < strlen(text); i += 7)
                sha256_update(&s, text + i, MIN((size_t) 7, strlen(text) - i));
        sha256_final(&s, b);
        assert_memory_equal(a, b, 32);
}

static void check_simplify(const char *in, const char *out) {
        _cleanup_free_ char *p = xstrdup(in);
        assert_string_equal(path_simplify(p), out);
}

static void test_path_simplify(void **state) {
        check_simplify("/", "/");
        check_simplify("//a//b/", "/a/b");
        check_simplify("/a/./b/.", "/a/b");
        check_simplify("./a", "a");
        check_simplify(".", ".");
        check_simplify("a/../b", "a/../b"); /* ".." is never resolved lexically */
}

static void test_path_helpers(void **state) {
        _cleanup_free_ char *j = path_join("/a/", "/b"), *d1 = path_dirname("x.yaml"), *d2 = path_dirname("/x.yaml"),
                            *d3 = path_dirname("a/b//c"), *abs1 = path_make_absolute("./site", "/etc/sup/units"),
                            *abs2 = path_make_absolute("/srv//data/", "/etc");

        assert_string_equal(j, "/a/b");
        assert_string_equal(d1, ".");
        assert_string_equal(d2, "/");
        assert_string_equal(d3, "a/b");
        assert_string_equal(abs1, "/etc/sup/units/site");
        assert_string_equal(abs2, "/srv/data");
        assert_true(path_has_dotdot("/a/../b"));
        assert_true(path_has_dotdot(".."));
        assert_false(path_has_dotdot("/a/..b/c.."));
        assert_true(path_startswith_dir("/proc/sys", "/proc"));
        assert_true(path_startswith_dir("/proc", "/proc"));
        assert_false(path_startswith_dir("/process", "/proc"));
        assert_string_equal(path_basename("/a/b.yaml"), "b.yaml");
}

static void test_string_distance(void **state) {
        static const char *const keys[] = { "name", "restart", "requires", "resources", NULL };

        assert_int_equal(string_distance("restart", "restart"), 0);
        assert_int_equal(string_distance("restrat", "restart"), 1); /* transposition */
        assert_int_equal(string_distance("rstart", "restart"), 1);
        assert_string_equal(string_nearest("restrat", keys), "restart");
        assert_string_equal(string_nearest("resoruces", keys), "resources");
        assert_null(string_nearest("zzzzzz", keys));
        assert_null(string_nearest("x", keys));
}

static void test_string_quote(void **state) {
        _cleanup_free_ char *a = string_quote("a\"b\n\x01", 5, 40), *b = string_quote("abcdefgh", 8, 3);
        assert_string_equal(a, "\"a\\\"b\\n\\x01\"");
        assert_string_equal(b, "\"abc...\"");
}

/* sanitized(S, N, KEEP, PARTIAL): what fwrite_sanitized() writes, and in *took what it took. */
static char *sanitized(const char *s, size_t n, const char *keep, bool partial, size_t *took) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        *took = fwrite_sanitized(s, n, keep, partial, f);
        assert_int_equal(fclose(f), 0);
        return buf;
}

/* A workload's log line that rewrites what the operator's terminal shows: CR back to the start of
 * the line (over the timestamp and stream), OSC to set the window title, CSI to erase the line,
 * the same CSI as the one-byte C1 control 0x9b (0xc2 0x9b in UTF-8), BEL, DEL, NUL. */
static void test_fwrite_sanitized(void **state) {
        static const char attack[] = "ok\r\x1b]0;pwned\a\x1b[2Kfake\xc2\2332Jx\x7f\x00y\tz\n";
        size_t took;
        char *out;

        out = sanitized(attack, sizeof(attack) - 1, "\t\n", false, &took);
        assert_string_equal(out, "ok??]0;pwned??[2Kfake?2Jx??y\tz\n");
        assert_int_equal(took, sizeof(attack) - 1);
        free(out);
        /* What top keeps of an argument: nothing, tabs and newlines included. */
        out = sanitized("a\tb\nc", 5, "", false, &took);
        assert_string_equal(out, "a?b?c");
        free(out);
        /* Text stays as it is, UTF-8 included (é is 0xc3 0xa9; 0xc2 0xa0 is a no-break space). */
        out = sanitized("caf\xc3\xa9 \xc2\xa0!", 9, "", false, &took);
        assert_string_equal(out, "caf\xc3\xa9 \xc2\xa0!");
        free(out);
        /* A C1 control split between two reads: 0xc2 waits for what follows... */
        out = sanitized("ab\xc2", 3, "", true, &took);
        assert_string_equal(out, "ab");
        assert_int_equal(took, 2);
        free(out);
        out = sanitized("\xc2\2332J", 4, "", true, &took);
        assert_string_equal(out, "?2J");
        assert_int_equal(took, 4);
        free(out);
        /* ...but not at the end of the stream. */
        out = sanitized("ab\xc2", 3, "", false, &took);
        assert_string_equal(out, "ab\xc2");
        assert_int_equal(took, 3);
        free(out);
}

static void test_utf8(void **state) {
        size_t off = 0;

        const char *ok = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
        assert_true(utf8_is_valid(ok, strlen(ok), NULL));
        assert_false(utf8_is_valid("ab\xff", 3, &off));
        assert_int_equal(off, 2);
        assert_false(utf8_is_valid("\xc0\xaf", 2, NULL));         /* overlong "/" */
        assert_false(utf8_is_valid("\xed\xa0\x80", 3, NULL));     /* a surrogate */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4, NULL)); /* above U+10FFFF */
        assert_false(utf8_is_valid("\xe2\x82", 2, NULL));         /* truncated */
}

static void test_strv(void **state) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL;

        strv_push(&l, xstrdup("b"));
        strv_push(&l, xstrdup("a"));
        strv_sort(l);
        assert_string_equal(l[0], "a");
        assert_int_equal(strv_length(l), 2);
        assert_true(strv_contains(l, "b"));
        c = strv_copy(l);
        assert_string_equal(c[1], "b");
        assert_null(c[2]);
}

static void test_strv_join(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *none = strv_join(NULL, ", "), *one = NULL, *two = NULL;

        assert_string_equal(none, "");
        strv_push(&l, xstrdup("command"));
        one = strv_join(l, ", ");
        assert_string_equal(one, "command");
        strv_push(&l, xstrdup("resources.memory"));
        two = strv_join(l, ", ");
        assert_string_equal(two, "command, resources.memory");
}

/* The first, innermost message wins; context goes in front as it rises; the code survives. */
static void test_sup_error(void **state) {
        _cleanup_sup_error_ SupError *e = NULL;
        SupError *none = NULL;
        char buf[16];

        assert_int_equal(sup_error_make(NULL, -ENOENT, "ignored"), -ENOENT);
        assert_int_equal(sup_error_make(&e, -ENOENT, "%s: no such layer", "/srv/site"), -ENOENT);
        assert_int_equal(sup_error_make(&e, -EIO, "second"), -EIO);
        assert_string_equal(e->message, "/srv/site: no such layer");
        assert_int_equal(sup_error_wrap(&e, -EIO, "layer %d", 2), -ENOENT);
        assert_int_equal(sup_error_wrap(&e, 0, "unit %s", "web"), -ENOENT);
        assert_string_equal(sup_error_message(e), "unit web: layer 2: /srv/site: no such layer");
        assert_int_equal(sup_error_to_buffer(e, buf, sizeof(buf)), 15);
        assert_string_equal(buf, "unit web: layer");

        assert_int_equal(sup_error_wrap(&none, -EACCES, "opening %s", "x"), -EACCES);
        assert_string_equal(none->message, "opening x: Permission denied");
        none = sup_error_free(none);
        assert_int_equal(sup_error_errno(&none, -EBUSY, "lease"), -EBUSY);
        assert_string_equal(none->message, "lease: Device or resource busy");
        none = sup_error_free(none);
        assert_int_equal(sup_error_make(&none, 0, "x"), -EINVAL);
        assert_int_equal(none->code, EINVAL);
        none = sup_error_free(none);
        assert_int_equal(sup_error_wrap(NULL, -EPERM, "x"), -EPERM);
        assert_string_equal(sup_error_message(NULL), "unknown error");
}

/* Both writers replace a file whole by a rename, and leave no temporary file beside it (the run
 * directory's spec.json is written without the fsyncs, and must stay as whole for its reader). */
static void test_write_file_replace(void **state) {
        _cleanup_free_ char *dir = make_tree(), *path = path_join(dir, "spec.json"), *data = NULL, *cmd = NULL;
        size_t n;

        assert_int_equal(write_file_atomic(path, "old\n", 4, 0600), 0);
        assert_int_equal(write_file_replace(path, "newer\n", 6, 0600), 0);
        assert_int_equal(read_full_file(path, 100, &data, &n), 0);
        assert_string_equal(data, "newer\n");
        /* And read relative to a directory's fd (the cgroup layer's anchor). */
        {
                _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ char *again = NULL;

                assert_true(dfd >= 0);
                assert_int_equal(read_full_file_at(dfd, "spec.json", 100, &again, &n), 0);
                assert_string_equal(again, "newer\n");
                assert_int_equal(n, 6);
                assert_int_equal(read_full_file_at(dfd, "missing", 100, &again, &n), -ENOENT);
        }
        cmd = xasprintf("test $(ls -A '%s' | wc -l) = 1 && rm -rf '%s'", dir, dir);
        assert_int_equal(system(cmd), 0);
}

/* read_full_file() reads a file whole whatever its size says: one past the first guess and past
 * its doubling, one of exactly max bytes, one that fstat says is empty (/proc's), and refuses one
 * byte more than max. */
static void test_read_full_file_sizes(void **state) {
        _cleanup_free_ char *dir = make_tree(), *cmd = NULL;
        static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 8193, 100000};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_free_ char *path = xasprintf("%s/f%zu", dir, i), *want = xmalloc(sizes[i] + 1), *got = NULL;
                size_t n = 12345;

                for (size_t k = 0; k < sizes[i]; k++)
                        want[k] = (char) ('a' + (k * 7 + i) % 26);
                assert_int_equal(write_file_atomic(path, want, sizes[i], 0600), 0);
                assert_int_equal(read_full_file(path, 100000, &got, &n), 0);
                assert_int_equal(n, sizes[i]);
                assert_memory_equal(got, want, sizes[i]);
                assert_int_equal(got[n], 0);
                free(got);
                got = NULL;
                /* max exactly the size, and one below it */
                assert_int_equal(read_full_file(path, sizes[i], &got, &n), 0);
                assert_int_equal(n, sizes[i]);
                free(got);
                got = NULL;
                if (sizes[i] > 0)
                        assert_int_equal(read_full_file(path, sizes[i] - 1, &got, &n), -EFBIG);
        }
        {
                _cleanup_free_ char *maps = NULL;
                size_t n;
                struct stat st;

                /* st_size 0, and longer than the first guess of a page */
                assert_int_equal(stat("/proc/self/smaps", &st), 0);
                assert_int_equal(st.st_size, 0);
                assert_int_equal(read_full_file("/proc/self/smaps", 4 << 20, &maps, &n), 0);
                assert_true(n > 4096);
                assert_int_equal(strlen(maps), n);
                assert_non_null(strstr(maps, "Rss:"));
        }
        cmd = xasprintf("rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* mkdir_p() makes what is missing, from the first missing ancestor down, and leaves what is there;
 * a file in the way is an error. */
static void test_mkdir_p(void **state) {
        _cleanup_free_ char *dir = make_tree(), *deep = NULL, *slash = NULL, *file = NULL, *below = NULL, *cmd = NULL;
        struct stat st;

        assert_non_null(dir);
        deep = path_join(dir, "a/b/c");
        assert_int_equal(mkdir_p(deep, 0750), 0);
        assert_int_equal(stat(deep, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(mkdir_p(deep, 0750), 0); /* there already */
        slash = xasprintf("%s/x//y/", dir);
        assert_int_equal(mkdir_p(slash, 0755), 0);
        assert_int_equal(stat(slash, &st), 0);
        file = path_join(dir, "file");
        assert_int_equal(write_file_replace(file, "", 0, 0600), 0);
        below = path_join(file, "d/e");
        assert_int_equal(mkdir_p(below, 0755), -ENOTDIR);
        cmd = xasprintf("rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* QEMU's resident memory split by its mappings: the guest RAM is the anonymous mapping of exactly
 * the guest's size (not a file's of that size, not an anonymous one of another size); everything
 * else, QEMU's own. A mapping without its Rss, or a number that does not parse, is refused rather
 * than counted as 0. */
static void test_smaps_rss(void **state) {
        static const char good[] = "55d0c0a00000-55d0c0b00000 r-xp 00000000 fd:01 1234  /usr/bin/qemu-system-x86_64\n"
                                   "Size:               1024 kB\n"
                                   "Rss:                 600 kB\n"
                                   "AnonHugePages:         0 kB\n"
                                   "VmFlags: rd ex mr mw me dw\n"
                                   "7f0000000000-7f000c000000 rw-p 00000000 00:00 0 \n"
                                   "Size:             196608 kB\n"
                                   "Rss:               40960 kB\n"
                                   "7f1000000000-7f100c000000 rw-s 00000000 00:05 99  /memfd:ram (deleted)\n"
                                   "Size:             196608 kB\n"
                                   "Rss:                1000 kB\n"
                                   "7f2000000000-7f2001000000 rw-p 00000000 00:00 0\n"
                                   "Size:              16384 kB\n"
                                   "Rss:               12000 kB\n";
        static const char no_rss[] = "7f0000000000-7f000c000000 rw-p 00000000 00:00 0\nSize: 196608 kB\n";
        static const char bad[] = "7f0000000000-7f000c000000 rw-p 00000000 00:00 0\nSize: 196608 kB\nRss: many kB\n";
        uint64_t total, anon;
        FILE *f;

        assert_non_null(f = fmemopen((void *) good, sizeof(good) - 1, "r"));
        assert_int_equal(smaps_rss_parse(f, 196608ULL << 10, &total, &anon), 0);
        fclose(f);
        assert_int_equal(anon, 40960ULL << 10);
        assert_int_equal(total, (600ULL + 40960 + 1000 + 12000) << 10);
        assert_non_null(f = fmemopen((void *) no_rss, sizeof(no_rss) - 1, "r"));
        assert_int_equal(smaps_rss_parse(f, 196608ULL << 10, &total, &anon), -EINVAL);
        fclose(f);
        assert_non_null(f = fmemopen((void *) bad, sizeof(bad) - 1, "r"));
        assert_int_equal(smaps_rss_parse(f, 196608ULL << 10, &total, &anon), -EINVAL);
        fclose(f);
        /* This process: some resident memory, no mapping of a size nobody maps. */
        assert_int_equal(proc_smaps_rss(getpid(), 12345ULL << 10, &total, &anon), 0);
        assert_true(total > 0);
        assert_int_equal(anon, 0);
}

/* The monitor's malloc tunable: added after what supd's environment had, and dropped again at the
 * monitor's start so that QEMU, virtiofsd and skopeo get supd's environment back, not a heap
 * setting meant for the monitor (nor, by a botched drop, none of the operator's tunables). */
static void test_glibc_tunables(void **state) {
        _cleanup_free_ char *alone = glibc_tunables_add(NULL, "a.b.c=0"), *empty = glibc_tunables_add("", "a.b.c=0"),
                            *after = glibc_tunables_add("x.y.z=1", "a.b.c=0");

        assert_string_equal(alone, "GLIBC_TUNABLES=a.b.c=0");
        assert_string_equal(empty, "GLIBC_TUNABLES=a.b.c=0");
        assert_string_equal(after, "GLIBC_TUNABLES=x.y.z=1:a.b.c=0");

        assert_int_equal(setenv("GLIBC_TUNABLES", "a.b.c=0", 1), 0);
        glibc_tunables_drop("a.b.c=0");
        assert_null(getenv("GLIBC_TUNABLES"));
        assert_int_equal(setenv("GLIBC_TUNABLES", "x.y.z=1:a.b.c=0", 1), 0);
        glibc_tunables_drop("a.b.c=0");
        assert_string_equal(getenv("GLIBC_TUNABLES"), "x.y.z=1");
        /* Not ours (the operator's own, or a longer name ending alike): left as it is. */
        assert_int_equal(setenv("GLIBC_TUNABLES", "x.y.z=1:aa.b.c=0", 1), 0);
        glibc_tunables_drop("a.b.c=0");
        assert_string_equal(getenv("GLIBC_TUNABLES"), "x.y.z=1:aa.b.c=0");
        assert_int_equal(setenv("GLIBC_TUNABLES", "a.b.c=0:x.y.z=1", 1), 0);
        glibc_tunables_drop("a.b.c=0");
        assert_string_equal(getenv("GLIBC_TUNABLES"), "a.b.c=0:x.y.z=1");
        assert_int_equal(unsetenv("GLIBC_TUNABLES"), 0);
        glibc_tunables_drop("a.b.c=0");
        assert_null(getenv("GLIBC_TUNABLES"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256_vectors),
                cmocka_unit_test(test_sha256_incremental),
                cmocka_unit_test(test_path_simplify),
                cmocka_unit_test(test_path_helpers),
                cmocka_unit_test(test_string_distance),
                cmocka_unit_test(test_string_quote),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_strv_join),
                cmocka_unit_test(test_fwrite_sanitized),
                cmocka_unit_test(test_sup_error),
                cmocka_unit_test(test_write_file_replace),
                cmocka_unit_test(test_read_full_file_sizes),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_smaps_rss),
                cmocka_unit_test(test_glibc_tunables),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
