/* SPDX-License-Identifier: MIT */
/* Named volumes (runtime/volume.h): the name rule, the record, the in-use decision, the image's
 * owner at a target, and the store on a temporary state directory (no privileges needed). */
#include "test-helpers.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "path-util.h"
#include "string-util.h"
#include "unit-value.h"
#include "volume.h"

static void test_name_rule(void **state) {
        /* What would leave the store or name one volume two ways is refused. */
        static const char *const good[] = {"pgdata", "0", "a-b_c.d", "9lives",
                                           "a123456789012345678901234567890123456789012345678901234567890123"};
        static const char *const bad[] = {"",
                                          ".",
                                          "..",
                                          "a/b",
                                          "../x",
                                          "-x",
                                          "_x",
                                          ".x",
                                          "PgData",
                                          "a b",
                                          "a\n",
                                          "été",
                                          "a123456789012345678901234567890123456789012345678901234567890123x"};

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(volume_name_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(volume_name_is_valid(bad[i]));
}

static void test_meta_round_trip(void **state) {
        /* The record supctl shows is the one written: every field survives, the mode in octal. */
        VolumeMeta m = {.name = (char *) "pg",
                        .created = (char *) "2026-12-06T09:30:00.000Z",
                        .created_by = (char *) "db",
                        .owner = {1000, 1001, 0750}},
                   back = {0};
        static const char *const bad[] = {
                "{\"name\":\"pg\",\"gid\":0,\"mode\":\"0755\"}",            /* no uid */
                "{\"name\":\"pg\",\"uid\":-1,\"gid\":0,\"mode\":\"0755\"}", /* not an id */
                "{\"name\":\"pg\",\"uid\":0,\"gid\":0,\"mode\":\"9\"}",     /* not a mode */
                "{\"name\":\"..\",\"uid\":0,\"gid\":0,\"mode\":\"0755\"}",  /* not a volume */
                "[]",
        };
        json_t *j = volume_meta_to_json(&m);

        assert_string_equal(json_string_value(json_object_get(j, "mode")), "0750");
        assert_int_equal(volume_meta_from_json(j, &back), 0);
        assert_string_equal(back.name, "pg");
        assert_string_equal(back.created, m.created);
        assert_string_equal(back.created_by, "db");
        assert_int_equal(back.owner.uid, 1000);
        assert_int_equal(back.owner.gid, 1001);
        assert_int_equal(back.owner.mode, 0750);
        volume_meta_done(&back);
        json_decref(j);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                j = json_loads(bad[i], 0, NULL);
                assert_non_null(j);
                assert_int_equal(volume_meta_from_json(j, &back), -EINVAL);
                json_decref(j);
        }
}

static void test_in_use_reason(void **state) {
        char *running[] = {(char *) "web", NULL}, *named[] = {(char *) "db", (char *) "web", NULL};
        char *s;

        assert_null(volume_in_use_reason(NULL, NULL)); /* nothing uses it: it may go */
        s = volume_in_use_reason(running, NULL);
        assert_string_equal(s, "used by unit web (running)");
        free(s);
        s = volume_in_use_reason(NULL, named);
        assert_string_equal(s, "named by unit db, named by unit web");
        free(s);
        /* A running unit that also names it is said once, as running. */
        s = volume_in_use_reason(running, named);
        assert_string_equal(s, "used by unit web (running), named by unit db");
        free(s);
}

static char *make_tmp(void) {
        char *t = xstrdup("/tmp/test-volume.XXXXXX");
        assert_non_null(mkdtemp(t));
        return t;
}

static void mkdirs(const char *base, const char *rel, mode_t mode) {
        _cleanup_free_ char *p = path_join(base, rel);
        assert_int_equal(mkdir_p(p, 0755), 0);
        assert_int_equal(chmod(p, mode), 0);
}

static void test_image_owner(void **state) {
        _cleanup_free_ char *tmp = make_tmp(), *bottom = path_join(tmp, "l0"), *top = path_join(tmp, "l1"), *p = NULL;
        ImageLayer layers[2] = {{.dir = bottom}, {.dir = top}};
        Image img = {.layers = layers, .n_layers = 2};
        VolumeOwner o;

        mkdirs(bottom, "var/lib/pg", 0710);
        mkdirs(top, "var", 0755);
        /* The path only in a lower layer: its owner and mode there. */
        assert_int_equal(volume_image_owner(&img, "/var/lib/pg", &o), 1);
        assert_int_equal(o.uid, getuid());
        assert_int_equal(o.mode, 0710);
        /* A path in no layer: root's 0755, as the runtime makes a missing target. */
        assert_int_equal(volume_image_owner(&img, "/srv", &o), 0);
        assert_true(o.uid == 0 && o.gid == 0 && o.mode == 0755);
        /* The top layer's wins. */
        mkdirs(top, "var/lib/pg", 0700);
        assert_int_equal(volume_image_owner(&img, "/var/lib/pg", &o), 1);
        assert_int_equal(o.mode, 0700);
        /* A symlink on the way is never followed (it could point out of the layer). */
        p = path_join(top, "var/lib");
        assert_int_equal(rm_rf(p), 0);
        assert_int_equal(symlink("/etc", p), 0);
        assert_int_equal(volume_image_owner(&img, "/var/lib/pg", &o), 0);
        assert_int_equal(o.mode, 0755);
        assert_int_equal(unlink(p), 0);
        /* An opaque directory above hides the lower layers' tree. */
        free(p);
        p = path_join(top, "var");
        if (setxattr(p, "user.overlay.opaque", "y", 1, 0) == 0) {
                assert_int_equal(volume_image_owner(&img, "/var/lib/pg", &o), 0);
                assert_int_equal(o.mode, 0755);
                assert_int_equal(removexattr(p, "user.overlay.opaque"), 0);
        } else
                print_message("no user xattrs on /tmp: the opaque case is not checked\n");
        /* A whiteout (a 0/0 character device) deletes what is below. */
        free(p);
        p = path_join(top, "var/lib");
        if (mknod(p, S_IFCHR | 0600, makedev(0, 0)) == 0) {
                assert_int_equal(volume_image_owner(&img, "/var/lib/pg", &o), 0);
                assert_int_equal(o.mode, 0755);
        } else
                print_message("no mknod (not root): the whiteout case is not checked\n");
        assert_int_equal(rm_rf(tmp), 0);
}

static bool has_string(const json_t *a, const char *s) {
        size_t k;
        json_t *v;
        json_array_foreach(a, k, v)
                if (streq(json_string_value(v), s))
                        return true;
        return false;
}

static void test_store(void **state) {
        _cleanup_free_ char *tmp = make_tmp(), *data = NULL, *leftover = NULL, *leftover_file = NULL, *busy = NULL;
        int busy_fd;
        VolumeOwner owner = {getuid(), getgid(), 0750}, other = {getuid(), getgid(), 0700};
        VolumeHold a = VOLUME_HOLD_NULL, b = VOLUME_HOLD_NULL;
        VolumeNamer namers[] = {{"pg", "db"}, {"other", "x"}};
        SupError *e = NULL;
        json_t *list = NULL, *v = NULL;
        struct stat st;

        assert_int_equal(volume_prepare(tmp, "pg", "web", &owner, &a, &e), 0);
        data = xasprintf("%s/volumes/pg/_data", tmp);
        assert_string_equal(a.path, data);
        assert_int_equal(stat(data, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);
        /* A second unit on the same volume shares it: the owner given for a new one does not apply. */
        assert_int_equal(volume_prepare(tmp, "pg", "api", &other, &b, &e), 0);
        assert_string_equal(b.path, data);
        assert_int_equal(stat(data, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);

        assert_int_equal(volume_list(tmp, namers, ELEMENTSOF(namers), &list, &e), 0);
        assert_int_equal(json_array_size(list), 1);
        v = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(v, "name")), "pg");
        assert_string_equal(json_string_value(json_object_get(v, "created_by")), "web");
        assert_true(has_string(json_object_get(v, "users"), "web") && has_string(json_object_get(v, "users"), "api"));
        assert_true(has_string(json_object_get(v, "named_by"), "db"));
        json_decref(list);

        /* Held: refused, naming who. */
        assert_int_equal(volume_remove(tmp, "pg", NULL, 0, &e), -EBUSY);
        assert_non_null(strstr(sup_error_message(e), "used by unit api (running), used by unit web (running)"));
        e = sup_error_free(e);
        volume_hold_release(&a);
        volume_hold_release(&b);
        /* Released, but a loaded unit names it: still refused. */
        assert_int_equal(volume_remove(tmp, "pg", namers, ELEMENTSOF(namers), &e), -EBUSY);
        assert_non_null(strstr(sup_error_message(e), "named by unit db"));
        assert_null(strstr(sup_error_message(e), "running"));
        e = sup_error_free(e);
        assert_int_equal(volume_inspect(tmp, "pg", NULL, 0, &v, &e), 0);
        assert_int_equal(json_array_size(json_object_get(v, "users")), 0); /* released: nobody runs with it */
        json_decref(v);

        /* What earlier removals left (a crash mid-way, a failed rm_rf()) goes with the next. */
        leftover = xasprintf("%s/volumes/.removing-pg-1", tmp);
        assert_int_equal(mkdir(leftover, 0700), 0);
        leftover_file = xasprintf("%s/f", leftover);
        assert_int_equal(write_file_atomic(leftover_file, "x", 1, 0600), 0);
        /* ...but not what a removal running beside it (another worker) is deleting. */
        busy = xasprintf("%s/volumes/.removing-other-2-3", tmp);
        assert_int_equal(mkdir(busy, 0700), 0);
        busy_fd = open(busy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(flock(busy_fd, LOCK_EX), 0);
        assert_int_equal(volume_remove(tmp, "pg", NULL, 0, &e), 0);
        assert_int_equal(stat(data, &st), -1);
        assert_int_equal(stat(leftover, &st), -1);
        assert_int_equal(stat(busy, &st), 0);
        close(busy_fd);
        assert_int_equal(volume_remove(tmp, "pg", NULL, 0, &e), -ENOENT);
        e = sup_error_free(e);
        assert_int_equal(volume_inspect(tmp, "pg", NULL, 0, &v, &e), -ENOENT);
        e = sup_error_free(e);
        /* The next start makes it anew, with the owner it is then given. */
        assert_int_equal(volume_prepare(tmp, "pg", "web", &other, &a, &e), 0);
        assert_int_equal(stat(data, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        volume_hold_release(&a);
        assert_int_equal(volume_prepare(tmp, "..", "web", &other, &a, &e), -EINVAL);
        e = sup_error_free(e);
        assert_int_equal(rm_rf(tmp), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_rule),     cmocka_unit_test(test_meta_round_trip),
                cmocka_unit_test(test_in_use_reason), cmocka_unit_test(test_image_owner),
                cmocka_unit_test(test_store),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
