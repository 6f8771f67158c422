/* SPDX-License-Identifier: MIT */
#pragma once

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "fileio.h"
#include "unit-diag.h"
#include "unit-parse.h"

/* Parses a unit from text as if it were /units/<file>, without looking at the file system. */
static inline int parse_text(const char *file, const char *yaml, Diagnostics *d, UnitSpec **ret) {
        UnitSpec *u = NULL;
        int r = unit_parse(file, "/units", yaml, strlen(yaml), 0, d, &u, NULL);
        if (ret)
                *ret = u;
        else
                unit_spec_free(u);
        return r;
}

/* Asserts that some diagnostic sits at line:column with this path and a message containing text. */
#define assert_diag(d, l, c, p, text)                                                    \
        do {                                                                             \
                if (!has_diag((d), (l), (c), (p), (text), __FILE__, __LINE__))           \
                        fail();                                                          \
        } while (0)
static inline bool has_diag(const Diagnostics *d, unsigned line, unsigned column, const char *path, const char *text,
                            const char *file, int at) {
        for (size_t i = 0; i < d->n; i++) {
                const Diagnostic *e = &d->items[i];
                if (e->line == line && e->column == column && strcmp(e->path, path) == 0 &&
                    strstr(e->message, text))
                        return true;
        }
        fprintf(stderr, "%s:%d: no diagnostic %u:%u %s: ...%s... among:\n", file, at, line, column, path, text);
        diagnostics_print(d, stderr);
        return false;
}

/* A unit that is valid on its own, to which a test appends the one key it is about. */
#define MINIMAL_UNIT "image:\n  layers:\n    - dir: /layer\ncommand: [/bin/true]\n"

/* A directory of the test's own under /tmp, standing in for /proc, /sys or a root file system. */
static inline char *make_tree(void) {
        char *dir = xstrdup("/tmp/sup-test.XXXXXX");
        assert_non_null(mkdtemp(dir));
        return dir;
}

/* Writes dir/path (n bytes of content, which may hold NULs), creating the directories on the way. */
static inline void put_bytes(const char *dir, const char *path, const char *content, size_t n) {
        char *p = xasprintf("%s/%s", dir, path), *slash = strrchr(p, '/');
        *slash = 0;
        assert_int_equal(mkdir_p(p, 0755), 0);
        *slash = '/';
        assert_int_equal(write_file_atomic(p, content, n, 0644), 0);
        free(p);
}

static inline void put(const char *dir, const char *path, const char *content) {
        put_bytes(dir, path, content, strlen(content));
}

/* Compares j (consumed), printed compactly in its keys' order, with expected. */
static inline void assert_json(json_t *j, const char *expected) {
        char *s = json_dumps(j, JSON_COMPACT);
        assert_non_null(s);
        assert_string_equal(s, expected);
        free(s);
        json_decref(j);
}
