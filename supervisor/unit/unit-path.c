/* SPDX-License-Identifier: MIT */
#include "unit-path.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"

static size_t path_push(UnitPath *p, const char *fmt, ...) _printf_(2, 3);
static size_t path_push(UnitPath *p, const char *fmt, ...) {
        size_t old = p->len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(p->text + p->len, sizeof(p->text) - p->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                p->len = MIN(p->len + (size_t) n, sizeof(p->text) - 1);
        return old;
}

size_t unit_path_push_key(UnitPath *p, const char *key) {
        /* Keys that could be confused with path syntax are shown quoted: env["A B"]. */
        for (const char *k = key; *k; k++)
                if (!(isalnum((unsigned char) *k) || *k == '_' || *k == '-')) {
                        _cleanup_free_ char *q = string_quote(key, strlen(key), UNIT_PATH_QUOTE_MAX);
                        return path_push(p, "[%s]", q);
                }
        return path_push(p, "%s%s", p->len ? "." : "", *key ? key : "\"\"");
}

size_t unit_path_push_index(UnitPath *p, size_t i) {
        return path_push(p, "[%zu]", i);
}

void unit_path_pop(UnitPath *p, size_t old) {
        p->len = old;
        p->text[old] = 0;
}
