/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <time.h>

#include "alloc.h"
#include "yaml-tree.h"

static int parse(const char *text, size_t len, YDocument **ret, YError *err) {
        return ydocument_parse(text, len, ret, err);
}

static void expect_error(const char *text, size_t len, unsigned line, unsigned column, const char *msg) {
        YDocument *d = NULL;
        YError e;

        assert_int_equal(parse(text, len, &d, &e), -EINVAL);
        assert_null(d);
        if (!strstr(e.message, msg) || e.line != line || e.column != column)
                fail_msg("got %u:%u %s, expected %u:%u ...%s...", e.line, e.column, e.message, line, column, msg);
        yerror_done(&e);
}

static void test_tree_shape_and_positions(void **state) {
        const char *text = "a: 1\nb:\n  - x\n  - 'y'\nc: {d: e}\n";
        YDocument *d = NULL;
        YError e;

        assert_int_equal(parse(text, strlen(text), &d, &e), 0);
        assert_int_equal(d->root->type, YNODE_MAPPING);
        assert_int_equal(d->root->n_pairs, 3);
        YNode *b = d->root->pairs[1].value;
        assert_int_equal(b->type, YNODE_SEQUENCE);
        assert_int_equal(b->n_items, 2);
        assert_int_equal(b->items[0]->line, 3);
        assert_int_equal(b->items[0]->column, 5);
        assert_false(b->items[0]->quoted);
        assert_true(b->items[1]->quoted);
        assert_int_equal(d->root->pairs[2].value->pairs[0].key->column, 5);
        assert_int_equal(d->root->weight, 11); /* map + 3 keys + 1 + seq + 2 + map + d + e */
        ydocument_free(d);
}

static void test_alias_shares_node(void **state) {
        const char *text = "a: &x [1, 2]\nb: *x\n";
        YDocument *d = NULL;
        YError e;

        assert_int_equal(parse(text, strlen(text), &d, &e), 0);
        assert_ptr_equal(d->root->pairs[0].value, d->root->pairs[1].value);
        assert_int_equal(d->root->weight, 1 + 2 + 3 + 3);
        ydocument_free(d);
}

static void test_billion_laughs_refused_fast(void **state) {
        /* Attack: each level aliases the previous one ten times; ten levels expand to 10^10
         * nodes from a 3 KB file. Refused when the expansion passes the node cap, in time and
         * memory proportional to the input. */
        _cleanup_free_ char *text = xmalloc(8192);
        size_t k = 0;
        struct timespec t0, t1;
        YDocument *d = NULL;
        YError e;

        k += (size_t) sprintf(text + k, "l0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (int i = 1; i < 10; i++) {
                k += (size_t) sprintf(text + k, "l%d: &l%d [", i, i);
                for (int j = 0; j < 10; j++)
                        k += (size_t) sprintf(text + k, "%s*l%d", j ? ", " : "", i - 1);
                k += (size_t) sprintf(text + k, "]\n");
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(parse(text, k, &d, &e), -EINVAL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_non_null(strstr(e.message, "billion laughs"));
        yerror_done(&e);
        /* Not a performance threshold: a sanity bound far above the ~1 ms this takes, to catch
         * an expansion that got through. */
        assert_true(t1.tv_sec - t0.tv_sec < 5);
}

static void test_recursive_alias_refused(void **state) {
        /* Attack: "&a [*a]" is a cycle; libyaml's loader builds it, a naive walker never ends. */
        expect_error("x: &a [*a]\n", 11, 1, 8, "recursive");
        expect_error("x: &a {k: *a}\n", 14, 1, 11, "recursive");
}

static void test_undefined_alias(void **state) {
        expect_error("x: *nope\n", 9, 1, 4, "no anchor");
}

static void test_depth_limit(void **state) {
        /* Attack: deep nesting exhausts the stack of recursive walkers. */
        _cleanup_free_ char *text = xmalloc(300);
        memset(text, '[', 100);
        memset(text + 100, ']', 100);
        expect_error(text, 200, 1, 65, "nesting deeper than 64");

        memset(text, '[', 64);
        memset(text + 64, ']', 64);
        YDocument *d = NULL;
        YError e;
        assert_int_equal(parse(text, 128, &d, &e), 0);
        ydocument_free(d);
}

static void test_node_limit_without_aliases(void **state) {
        /* 1 MiB of "- x" lines stays bounded too. */
        size_t n = 20000;
        _cleanup_free_ char *text = xmalloc(n * 4 + 1);
        for (size_t i = 0; i < n; i++)
                memcpy(text + 4 * i, "- x\n", 4);
        expect_error(text, n * 4, 10000, 3, "more than 10000 nodes");
}

static void test_multiple_documents_refused(void **state) {
        expect_error("a: 1\n---\nb: 2\n", 14, 2, 1, "second YAML document");
        expect_error("--- a\n--- b\n", 12, 2, 1, "second YAML document");
}

static void test_encodings(void **state) {
        /* UTF-16 with a BOM: libyaml would happily decode it. */
        const char utf16[] = "\xff\xfe" "a\0:\0 \0b\0\n\0";
        expect_error(utf16, sizeof(utf16) - 1, 1, 1, "UTF-16");
        expect_error("a: b\nc: \xc3\x28\n", 10, 2, 4, "not valid UTF-8");
        /* A UTF-8 byte-order mark is fine. */
        YDocument *d = NULL;
        YError e;
        assert_int_equal(parse("\xef\xbb\xbf" "a: b\n", 8, &d, &e), 0);
        ydocument_free(d);
}

static void test_tags(void **state) {
        YDocument *d = NULL;
        YError e;

        /* Attack: language-specific tags (PyYAML's !!python/object) construct objects in other
         * tools that read the same file. */
        expect_error("a: !!python/object:os.system x\n", 30, 1, 4, "tag");
        expect_error("a: !custom x\n", 13, 1, 4, "tag");
        expect_error("a: !!int 5\n", 11, 1, 4, "tag");
        assert_int_equal(parse("a: !!str 0755\n", 14, &d, &e), 0);
        assert_true(d->root->pairs[0].value->quoted); /* !!str makes it a string */
        ydocument_free(d);
}

static void test_syntax_error_position(void **state) {
        expect_error("a: [1, 2\nb: 3\n", 14, 2, 2, "YAML syntax error");
        expect_error("a: b\n c: d\n", 11, 2, 3, "YAML syntax error");
}

static void test_nul_in_scalar(void **state) {
        YDocument *d = NULL;
        YError e;
        assert_int_equal(parse("a: \"x\\0y\"\n", 10, &d, &e), 0);
        assert_int_equal(d->root->pairs[0].value->length, 3);
        ydocument_free(d);
}

static void test_empty(void **state) {
        YDocument *d = NULL;
        YError e;
        assert_int_equal(parse("", 0, &d, &e), 0);
        assert_null(d->root);
        ydocument_free(d);
        assert_int_equal(parse("# only a comment\n", 17, &d, &e), 0);
        assert_null(d->root);
        ydocument_free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree_shape_and_positions),
                cmocka_unit_test(test_alias_shares_node),
                cmocka_unit_test(test_billion_laughs_refused_fast),
                cmocka_unit_test(test_recursive_alias_refused),
                cmocka_unit_test(test_undefined_alias),
                cmocka_unit_test(test_depth_limit),
                cmocka_unit_test(test_node_limit_without_aliases),
                cmocka_unit_test(test_multiple_documents_refused),
                cmocka_unit_test(test_encodings),
                cmocka_unit_test(test_tags),
                cmocka_unit_test(test_syntax_error_position),
                cmocka_unit_test(test_nul_in_scalar),
                cmocka_unit_test(test_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
