/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "alloc.h"
#include "path-util.h"
#include "string-util.h"
#include "unit-set.h"

static char dir[64];

/* The build links this test with -Wl,--wrap=statx (the cache looks at each unit file with statx()
 * relative to its directory): statx() of forged_path says what forged says, as a file system would
 * of a file written twice within one tick of its clock. */
int __real_statx(int dfd, const char *path, int flags, unsigned mask, struct statx *sx);
int __wrap_statx(int dfd, const char *path, int flags, unsigned mask, struct statx *sx);
static char *forged_path;
static struct stat forged;

int __wrap_statx(int dfd, const char *path, int flags, unsigned mask, struct statx *sx) {
        char link[64], target[PATH_MAX];
        ssize_t n = 0;
        int r = __real_statx(dfd, path, flags, mask, sx);

        if (r < 0 || !forged_path)
                return r;
        if (path[0] != '/') {
                snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
                n = readlink(link, target, sizeof(target) - 1);
                if (n <= 0)
                        return r;
                target[n] = 0;
        }
        _cleanup_free_ char *full = n > 0 ? path_join(target, path) : xstrdup(path);
        if (streq(full, forged_path)) {
                sx->stx_dev_major = major(forged.st_dev);
                sx->stx_dev_minor = minor(forged.st_dev);
                sx->stx_ino = forged.st_ino;
                sx->stx_mode = (uint16_t) forged.st_mode;
                sx->stx_size = (uint64_t) forged.st_size;
                sx->stx_mtime = (struct statx_timestamp){.tv_sec = forged.st_mtim.tv_sec,
                                                         .tv_nsec = (uint32_t) forged.st_mtim.tv_nsec};
                sx->stx_ctime = (struct statx_timestamp){.tv_sec = forged.st_ctim.tv_sec,
                                                         .tv_nsec = (uint32_t) forged.st_ctim.tv_nsec};
        }
        return r;
}

static void write_unit(const char *name, const char *text) {
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int setup(void **state) {
        strcpy(dir, "/tmp/sup-set-XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state) {
        free(forged_path);
        forged_path = NULL;
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static int load(Diagnostics *d, UnitSet **ret) {
        char *paths[] = { dir, NULL };
        return unit_set_load(paths, 0, d, ret);
}

#define UNIT(extra) MINIMAL_UNIT extra

static void test_valid_set(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        write_unit("db.yaml", UNIT("ports: [\"127.0.0.1:5432:5432\"]\n"));
        write_unit("web.yml", UNIT("requires: [db]\nports: [\"8080:80\"]\n"));
        write_unit("worker.yaml", UNIT("share: {ipc: web, network: web}\n"));
        write_unit("notes.txt", "not a unit");
        write_unit(".hidden.yaml", "garbage: [");
        assert_int_equal(load(&d, &s), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(s->n_units, 3);
        assert_string_equal(s->units[0]->name, "db");
        assert_non_null(unit_set_find(s, "worker"));
        assert_null(unit_set_find(s, "notes"));
}

static void test_duplicate_names(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        write_unit("web.yaml", UNIT(""));
        write_unit("other.yaml", UNIT("name: web\n"));
        assert_int_equal(load(&d, &s), -EINVAL);
        assert_int_equal(d.n, 1);
        assert_true(strstr(d.items[0].message, "unit \"web\" is also defined by") != NULL);
        /* Both files are named: one in the position, the other in the message. */
        assert_true(strstr(d.items[0].file, "web.yaml") || strstr(d.items[0].message, "web.yaml"));
        assert_true(strstr(d.items[0].file, "other.yaml") || strstr(d.items[0].message, "other.yaml"));
        diagnostics_done(&d);
}

static void test_port_conflict_across_units(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        write_unit("a.yaml", UNIT("ports: [\"8080:80\"]\n"));
        write_unit("b.yaml", UNIT("ports: [\"9090:90\", \"127.0.0.1:8080:81/tcp\"]\n"));
        write_unit("c.yaml", UNIT("ports: [\"8080:80/udp\"]\n")); /* another protocol: fine */
        assert_int_equal(load(&d, &s), -EINVAL);
        assert_int_equal(d.n, 1);
        assert_diag(&d, 5, 20, "ports[1]", "claims the same host port as 8080:80/tcp of unit \"a\"");
        assert_true(strstr(d.items[0].file, "b.yaml") != NULL);
        assert_true(strstr(d.items[0].message, "a.yaml:5:9") != NULL);
        diagnostics_done(&d);
}

static void test_missing_and_cycles(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        write_unit("a.yaml", UNIT("requires: [b]\n"));
        write_unit("b.yaml", UNIT("requires: [c]\n"));
        write_unit("c.yaml", UNIT("share: {pid: a}\n"));
        write_unit("d.yaml", UNIT("requires: [nope]\n"));
        assert_int_equal(load(&d, &s), -EINVAL);
        assert_int_equal(d.n, 2);
        assert_diag(&d, 5, 12, "requires[0]", "requires unit \"nope\", which does not exist");
        assert_diag(&d, 5, 14, "share.pid", "dependency cycle: a -> b -> c -> a");
        diagnostics_done(&d);
}

static void test_share_with_hyperv_target(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        write_unit("vm.yaml", UNIT("isolation: hyperv\n"));
        write_unit("p.yaml", UNIT("share: {network: vm}\n"));
        assert_int_equal(load(&d, &s), -EINVAL);
        assert_diag(&d, 5, 18, "share.network", "isolation: hyperv");
        diagnostics_done(&d);
}

static void test_share_across_user_namespaces(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        /* Either side's user namespace is enough: the sharer's, the target's, or both. */
        write_unit("owner.yaml", UNIT("security: {user_namespace: auto}\n"));
        write_unit("plain.yaml", UNIT(""));
        write_unit("a.yaml", UNIT("share: {ipc: owner}\n"));
        write_unit("b.yaml", UNIT("security: {user_namespace: auto}\nshare: {pid: plain}\n"));
        write_unit("c.yaml", UNIT("security: {user_namespace: auto}\nshare: {network: owner}\n"));
        assert_int_equal(load(&d, &s), -EINVAL);
        assert_int_equal(d.n, 3);
        assert_diag(
                &d, 5, 14, "share.ipc",
                "unit \"a\" cannot share the ipc namespace of unit \"owner\": owner has security.user_namespace: auto");
        assert_diag(&d, 6, 14, "share.pid",
                    "unit \"b\" cannot share the pid namespace of unit \"plain\": b has security.user_namespace: auto");
        assert_diag(&d, 6, 18, "share.network", "\"owner\": each has security.user_namespace: auto");
        diagnostics_done(&d);
}

static void test_broken_unit_is_not_missing(void **state) {
        /* The unit b has an error of its own: a requires on it reports that error only, not a
         * second, misleading "does not exist". */
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};

        write_unit("a.yaml", UNIT("requires: [b]\n"));
        write_unit("b.yaml", UNIT("resources: {pids: many}\n"));
        assert_int_equal(load(&d, &s), -EINVAL);
        assert_int_equal(d.n, 1);
        assert_true(strstr(d.items[0].file, "b.yaml") != NULL);
        assert_int_equal(s->n_units, 1);
        diagnostics_done(&d);
}

static void test_missing_path(void **state) {
        _cleanup_(unit_set_freep) UnitSet *s = NULL;
        Diagnostics d = {};
        char *paths[] = { (char *) "/nonexistent/sup-units", NULL };

        assert_int_equal(unit_set_load(paths, 0, &d, &s), -ENOENT);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.items[0].file, "/nonexistent/sup-units");
        diagnostics_done(&d);
}

/* ---- the parse cache ---- */

static int load_cached(UnitSetCache *c, UnitParseFlags flags, Diagnostics *d, UnitSet **ret) {
        char *paths[] = {dir, NULL};
        return unit_set_load_cached(paths, flags, c, d, ret);
}

static void assert_counts(UnitSetCache *c, size_t parsed, size_t reused) {
        size_t p, r;
        unit_set_cache_counts(c, &p, &r);
        assert_int_equal(p, parsed);
        assert_int_equal(r, reused);
}

/* A reload with nothing changed parses nothing, and gets the very same specs (and their hashes). */
static void test_cache_reuses_unchanged(void **state) {
        _cleanup_(unit_set_cache_freep) UnitSetCache *c = unit_set_cache_new();
        _cleanup_(unit_set_freep) UnitSet *a = NULL, *b = NULL;
        Diagnostics d = {};
        char h[65];

        write_unit("db.yaml", UNIT(""));
        write_unit("web.yaml", UNIT("requires: [db]\n"));
        assert_int_equal(load_cached(c, 0, &d, &a), 0);
        assert_counts(c, 2, 0);
        assert_int_equal(load_cached(c, 0, &d, &b), 0);
        assert_counts(c, 0, 2);
        assert_ptr_equal(a->units[1], b->units[1]);
        assert_string_equal(b->units[1]->cached_hash, (unit_spec_hash(b->units[1], h), h));
        assert_int_equal(d.n, 0);
}

/* The file rewritten with other bytes of the same size, and stat saying exactly what it said when
 * the file was cached (two writes within one tick of the file system's clock): the change is seen,
 * because a stamp that close to the read is checked against the bytes' hash. */
static void test_cache_sees_change_within_one_tick(void **state) {
        _cleanup_(unit_set_cache_freep) UnitSetCache *c = unit_set_cache_new();
        _cleanup_(unit_set_freep) UnitSet *a = NULL, *b = NULL, *x = NULL;
        Diagnostics d = {};

        write_unit("web.yaml", UNIT("hostname: aaaa\n"));
        forged_path = xasprintf("%s/web.yaml", dir);
        assert_int_equal(stat(forged_path, &forged), 0);
        assert_int_equal(load_cached(c, 0, &d, &a), 0);
        assert_string_equal(a->units[0]->hostname, "aaaa");

        write_unit("web.yaml", UNIT("hostname: bbbb\n"));
        assert_int_equal(load_cached(c, 0, &d, &b), 0);
        assert_counts(c, 1, 0);
        assert_string_equal(b->units[0]->hostname, "bbbb");

        /* The same bytes again under the same stamp: reused. */
        free(forged_path);
        forged_path = xasprintf("%s/web.yaml", dir);
        assert_int_equal(stat(forged_path, &forged), 0);
        unit_set_free(b);
        b = NULL;
        assert_int_equal(load_cached(c, 0, &d, &b), 0);
        assert_int_equal(load_cached(c, 0, &d, &x), 0);
        assert_counts(c, 0, 1);
        assert_ptr_equal(b->units[0], x->units[0]);
}

/* Deleted, renamed (the unit is named after its file), replaced by a rename over it. */
static void test_cache_follows_the_directory(void **state) {
        _cleanup_(unit_set_cache_freep) UnitSetCache *c = unit_set_cache_new();
        _cleanup_(unit_set_freep) UnitSet *a = NULL, *b = NULL, *e = NULL, *f = NULL;
        _cleanup_free_ char *old = xasprintf("%s/web.yaml", dir), *new = xasprintf("%s/site.yaml", dir),
                            *tmp = xasprintf("%s/.db.yaml.tmp", dir), *db = xasprintf("%s/db.yaml", dir),
                            *gone = xasprintf("%s/gone.yaml", dir);
        Diagnostics d = {};

        write_unit("db.yaml", UNIT(""));
        write_unit("web.yaml", UNIT(""));
        write_unit("gone.yaml", UNIT(""));
        assert_int_equal(load_cached(c, 0, &d, &a), 0);
        assert_int_equal(a->n_units, 3);

        assert_int_equal(unlink(gone), 0);
        assert_int_equal(rename(old, new), 0);
        write_unit(".db.yaml.tmp", UNIT("hostname: replaced\n"));
        assert_int_equal(rename(tmp, db), 0);
        assert_int_equal(load_cached(c, 0, &d, &b), 0);
        assert_int_equal(b->n_units, 2);
        assert_string_equal(b->units[0]->name, "db");
        assert_string_equal(b->units[0]->hostname, "replaced");
        assert_string_equal(b->units[1]->name, "site");
        assert_null(unit_set_find(b, "gone"));
        assert_null(unit_set_find(b, "web"));
        assert_counts(c, 2, 0); /* db: a new inode; site: a new path */

        /* The file back under its old name: parsed again, not confused with what it was. */
        assert_int_equal(rename(new, old), 0);
        assert_int_equal(load_cached(c, 0, &d, &e), 0);
        assert_counts(c, 1, 1);
        assert_non_null(unit_set_find(e, "web"));
        assert_int_equal(load_cached(c, 0, &d, &f), 0);
        assert_counts(c, 0, 2);
        assert_int_equal(d.n, 0);
}

/* A unit's file unchanged, but the layer directory it names removed: invalid now, with the error
 * at its position, as without a cache. And valid again once the directory is back. Two units on
 * the one directory: a load checks it once (a memo of that load's checks), and both see the
 * outcome, in the load that removed it and in the one that brought it back. */
static void test_cache_checks_sources_again(void **state) {
        _cleanup_(unit_set_cache_freep) UnitSetCache *c = unit_set_cache_new();
        _cleanup_(unit_set_freep) UnitSet *a = NULL, *b = NULL, *e = NULL;
        _cleanup_free_ char *layer = xasprintf("%s/layer", dir),
                            *text = xasprintf("image:\n  layers:\n    - dir: %s\ncommand: [/bin/true]\n", layer);
        Diagnostics d = {};

        assert_int_equal(mkdir(layer, 0755), 0);
        write_unit("web.yaml", text);
        write_unit("www.yaml", text);
        assert_int_equal(load_cached(c, UNIT_PARSE_CHECK_SOURCES, &d, &a), 0);
        assert_int_equal(rmdir(layer), 0);
        assert_int_equal(load_cached(c, UNIT_PARSE_CHECK_SOURCES, &d, &b), -EINVAL);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.items[0].line, 3);
        assert_non_null(strstr(d.items[0].message, "No such file or directory"));
        assert_non_null(strstr(d.items[1].message, "No such file or directory"));
        diagnostics_done(&d);
        assert_int_equal(mkdir(layer, 0755), 0);
        assert_int_equal(load_cached(c, UNIT_PARSE_CHECK_SOURCES, &d, &e), 0);
        assert_counts(c, 2, 0);
        assert_int_equal(d.n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_valid_set, setup, teardown),
                cmocka_unit_test_setup_teardown(test_duplicate_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_port_conflict_across_units, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_cycles, setup, teardown),
                cmocka_unit_test_setup_teardown(test_share_with_hyperv_target, setup, teardown),
                cmocka_unit_test_setup_teardown(test_share_across_user_namespaces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken_unit_is_not_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_path, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_reuses_unchanged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_sees_change_within_one_tick, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_follows_the_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_checks_sources_again, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
