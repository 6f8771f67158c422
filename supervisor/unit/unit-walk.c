/* SPDX-License-Identifier: MIT */
#include "unit-walk.h"

#include <ctype.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "alloc.h"
#include "path-util.h"
#include "string-util.h"
#include "unit-value.h"


static size_t path_push(Ctx *c, const char *fmt, ...) _printf_(2, 3);
static size_t path_push(Ctx *c, const char *fmt, ...) {
        size_t old = c->path_len;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(c->path + c->path_len, sizeof(c->path) - c->path_len, fmt, ap);
        va_end(ap);
        if (n > 0)
                c->path_len = MIN(c->path_len + (size_t) n, sizeof(c->path) - 1);
        return old;
}

size_t path_push_key(Ctx *c, const char *key) {
        /* Keys that could be confused with path syntax are shown quoted: env["A B"]. */
        for (const char *k = key; *k; k++)
                if (!(isalnum((unsigned char) *k) || *k == '_' || *k == '-')) {
                        _cleanup_free_ char *q = string_quote(key, strlen(key), 40);
                        return path_push(c, "[%s]", q);
                }
        return path_push(c, "%s%s", c->path_len ? "." : "", *key ? key : "\"\"");
}

size_t path_push_index(Ctx *c, size_t i) {
        return path_push(c, "[%zu]", i);
}

void path_pop(Ctx *c, size_t old) {
        c->path_len = old;
        c->path[old] = 0;
}

SourcePos here(Ctx *c, const YNode *n) {
        return (SourcePos) { .line = n->line, .column = n->column, .path = xstrdup(c->path) };
}

void error_at(Ctx *c, const YNode *n, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        diagnostics_addv(c->diags, c->file, n ? n->line : 0, n ? n->column : 0, c->path, fmt, ap);
        va_end(ap);
        c->errors++;
}


const char *plain_kind(const YNode *n) {
        if (n->type != YNODE_SCALAR || n->quoted || scalar_has_nul(n))
                return NULL;
        return yaml_plain_scalar_kind(n->value);
}

/* What was found, for "expected X, found Y". */
static char *describe(const YNode *n) {
        _cleanup_free_ char *q = NULL;
        const char *kind;

        switch (n->type) {
        case YNODE_MAPPING:
                return xstrdup("a mapping");
        case YNODE_SEQUENCE:
                return xstrdup("a list");
        case YNODE_SCALAR:
                break;
        }
        q = string_quote(n->value, n->length, 40);
        if (n->quoted)
                return xasprintf("the string %s", q);
        kind = plain_kind(n);
        if (kind && n->length == 0)
                return xstrdup("nothing (an empty value)");
        if (kind)
                return xasprintf("%s %s", kind, n->value);
        return TAKE_PTR(q);
}

void error_expected(Ctx *c, const YNode *n, const char *expected, const char *hint) {
        _cleanup_free_ char *found = describe(n);
        error_at(c, n, "expected %s, found %s%s%s", expected, found, hint ? "; " : "", hint ? hint : "");
}

const char *get_string(Ctx *c, const YNode *n, const char *expected) {
        const char *kind;

        if (n->type != YNODE_SCALAR) {
                error_expected(c, n, expected, NULL);
                return NULL;
        }
        if (scalar_has_nul(n)) {
                error_at(c, n, "expected %s, found a string containing a NUL character", expected);
                return NULL;
        }
        kind = plain_kind(n);
        if (kind && n->length == 0) {
                error_expected(c, n, expected, NULL);
                return NULL;
        }
        if (kind) {
                _cleanup_free_ char *hint = xasprintf(
                        "unquoted, YAML readers take it for %s %s (which one depends on the YAML version): "
                        "write \"%s\" if you mean the string",
                        streq(kind, "integer") ? "an" : "a", kind, n->value);
                error_expected(c, n, expected, hint);
                return NULL;
        }
        return n->value;
}

const char *get_nonempty_string(Ctx *c, const YNode *n, const char *expected) {
        const char *s = get_string(c, n, expected);
        if (s && !*s) {
                error_expected(c, n, expected, NULL);
                return NULL;
        }
        return s;
}

bool get_bool(Ctx *c, const YNode *n, bool *ret) {
        if (n->type == YNODE_SCALAR && !n->quoted) {
                if (streq(n->value, "true")) {
                        *ret = true;
                        return true;
                }
                if (streq(n->value, "false")) {
                        *ret = false;
                        return true;
                }
                if (plain_kind(n) && streq(plain_kind(n), "boolean")) {
                        error_expected(c, n, "true or false",
                                       "YAML 1.1 reads it as a boolean, YAML 1.2 as a string: write true or false");
                        return false;
                }
        }
        error_expected(c, n, "true or false", n->quoted ? "a quoted value is a string: remove the quotes" : NULL);
        return false;
}

bool get_uint(Ctx *c, const YNode *n, uint64_t min, uint64_t max, uint64_t *ret) {
        _cleanup_free_ char *expected = xasprintf("an integer from %llu to %llu", (unsigned long long) min,
                                                  (unsigned long long) max);
        uint64_t v;
        int r;

        if (n->type == YNODE_SCALAR && !scalar_has_nul(n)) {
                r = parse_decimal(n->value, max, &v);
                if (!n->quoted && r == 0 && v >= min) {
                        *ret = v;
                        return true;
                }
                if (!n->quoted && (r == -ERANGE || (r == 0 && v < min))) {
                        error_expected(c, n, expected, NULL);
                        return false;
                }
                if (!n->quoted && n->value[0] == '0' && plain_kind(n)) {
                        error_expected(c, n, expected,
                                       "with a leading zero YAML 1.1 reads it as octal and YAML 1.2 as decimal: "
                                       "write it without the zero");
                        return false;
                }
                if (n->quoted && r == 0) {
                        error_expected(c, n, expected, "a quoted value is a string: remove the quotes");
                        return false;
                }
        }
        error_expected(c, n, expected, NULL);
        return false;
}

bool get_duration(Ctx *c, const YNode *n, usec_t *ret) {
        const char *reason = NULL, *s;
        const char *expected = "a duration like 10s, 500ms or 1m30s";

        if (n->type == YNODE_SCALAR && !n->quoted && plain_kind(n) && streq(plain_kind(n), "integer")) {
                error_expected(c, n, expected,
                               "a bare number is ambiguous (seconds? milliseconds?): add a unit, like 10s or 500ms");
                return false;
        }
        s = get_string(c, n, expected);
        if (!s)
                return false;
        if (parse_duration(s, ret, &reason) < 0) {
                error_expected(c, n, expected, reason);
                return false;
        }
        return true;
}

bool get_size(Ctx *c, const YNode *n, uint64_t *ret) {
        const char *expected = "a size like 64M, 1G or a number of bytes";
        const char *reason = NULL, *s;
        uint64_t v;

        if (n->type == YNODE_SCALAR && !n->quoted && parse_decimal(n->value, UINT64_MAX, &v) == 0)
                goto check;
        s = get_string(c, n, expected);
        if (!s)
                return false;
        if (parse_size(s, &v, &reason) < 0) {
                error_expected(c, n, expected, reason);
                return false;
        }
check:
        /* JSON (the canonical form, the control protocol) carries signed 64-bit integers. */
        if (v > (uint64_t) INT64_MAX) {
                error_expected(c, n, expected, "the size is too large");
                return false;
        }
        *ret = v;
        return true;
}

bool get_unit_ref(Ctx *c, const YNode *n, UnitRef *ret) {
        const char *s = get_string(c, n, "a unit name");

        if (!s)
                return false;
        if (!unit_name_is_valid(s)) {
                error_expected(c, n, "a unit name (1-63 characters of a-z, 0-9 and -, starting and ending with a "
                                     "letter or digit)", NULL);
                return false;
        }
        free(ret->name);
        source_pos_done(&ret->pos);
        ret->name = xstrdup(s);
        ret->pos = here(c, n);
        return true;
}

int get_enum(Ctx *c, const YNode *n, const char *(*to_string)(int), int max, const char *hint) {
        char expected[256] = "one of ";
        const char *s = NULL;

        for (int i = 0; i < max; i++) {
                const char *name = to_string(i);
                if (n->type == YNODE_SCALAR && !scalar_has_nul(n) && streq(n->value, name) &&
                    (n->quoted || !plain_kind(n)))
                        return i;
                snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s", i ? ", " : "",
                         name);
        }
        if (n->type == YNODE_SCALAR && !n->quoted && !plain_kind(n))
                s = n->value;
        error_expected(c, n, expected, s ? hint : NULL);
        return -EINVAL;
}

char *get_host_path(Ctx *c, const YNode *n) {
        const char *s = get_nonempty_string(c, n, "a path");
        return s ? path_make_absolute(s, c->dir) : NULL;
}

char *get_container_path(Ctx *c, const YNode *n) {
        const char *s = get_nonempty_string(c, n, "an absolute path inside the container");

        if (!s)
                return NULL;
        if (!path_is_absolute(s)) {
                error_expected(c, n, "an absolute path inside the container", NULL);
                return NULL;
        }
        if (path_has_dotdot(s)) {
                error_at(c, n, "expected an absolute path inside the container, found %s, which contains \"..\"",
                         n->value);
                return NULL;
        }
        return path_simplify(xstrdup(s));
}

/* With UNIT_PARSE_CHECK_SOURCES: the host path must exist and be of the given type (0: any). */
void check_source(Ctx *c, const YNode *n, const char *what, const char *path, mode_t type) {
        struct stat st;

        if (!(c->flags & UNIT_PARSE_CHECK_SOURCES))
                return;
        if (stat(path, &st) < 0) {
                error_at(c, n, "%s %s: %s", what, path, strerror(errno));
                return;
        }
        if (type != 0 && (st.st_mode & S_IFMT) != type)
                error_at(c, n, "%s %s is not a %s", what, path, type == S_IFDIR ? "directory" : "regular file");
}

const YPair *field_seen(const Field *fields, const YPair *const *seen, const char *key) {
        for (size_t i = 0; fields[i].key; i++)
                if (streq(fields[i].key, key))
                        return seen[i];
        return NULL;
}

bool parse_mapping(Ctx *c, const YNode *n, const Field *fields, void *data, const YPair **seen,
                          const char *expected) {
        const char *names[FIELDS_MAX + 1];
        size_t n_fields = 0;

        for (; fields[n_fields].key; n_fields++) {
                names[n_fields] = fields[n_fields].key;
                seen[n_fields] = NULL;
        }
        names[n_fields] = NULL;

        if (n->type != YNODE_MAPPING) {
                error_expected(c, n, expected, NULL);
                return false;
        }

        for (size_t i = 0; i < n->n_pairs; i++) {
                const YPair *p = &n->pairs[i];
                const YNode *key = p->key;
                size_t idx = n_fields, old;

                if (key->type != YNODE_SCALAR || scalar_has_nul(key)) {
                        error_expected(c, key, "a key name", NULL);
                        continue;
                }
                if (!key->quoted && streq(key->value, "<<")) {
                        old = path_push_key(c, "<<");
                        error_at(c, key, "YAML merge keys (<<) are not supported: write the keys out, or use an alias "
                                         "for the whole value");
                        path_pop(c, old);
                        continue;
                }
                for (size_t f = 0; f < n_fields; f++)
                        if (streq(key->value, fields[f].key)) {
                                idx = f;
                                break;
                        }
                if (idx == n_fields) {
                        _cleanup_free_ char *q = string_quote(key->value, key->length, 40);
                        const char *near = string_nearest(key->value, names);
                        old = path_push_key(c, key->value);
                        if (near)
                                error_at(c, key, "unknown key %s; did you mean \"%s\"?", q, near);
                        else {
                                char list[512] = "";
                                for (size_t f = 0; f < n_fields; f++)
                                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                                                 f ? ", " : "", names[f]);
                                error_at(c, key, "unknown key %s; expected one of %s", q, list);
                        }
                        path_pop(c, old);
                        continue;
                }
                old = path_push_key(c, fields[idx].key);
                if (seen[idx]) {
                        error_at(c, key, "duplicate key \"%s\"; it is first set at line %u, column %u", key->value,
                                 seen[idx]->key->line, seen[idx]->key->column);
                        path_pop(c, old);
                        continue;
                }
                seen[idx] = p;
                fields[idx].parse(c, p->value, (uint8_t *) data + fields[idx].offset);
                path_pop(c, old);
        }

        for (size_t f = 0; f < n_fields; f++)
                if (fields[f].required && !seen[f])
                        error_at(c, n, "missing required key \"%s\"", fields[f].key);
        return true;
}

bool parse_list(Ctx *c, const YNode *n, size_t min, size_t max, const char *expected,
                       void (*parse_item)(Ctx *c, const YNode *item, size_t i, void *data), void *data) {
        if (n->type != YNODE_SEQUENCE) {
                error_expected(c, n, expected, NULL);
                return false;
        }
        if (n->n_items < min || n->n_items > max) {
                if (max == SIZE_MAX)
                        error_at(c, n, "expected %s with at least %zu item%s, found %zu", expected, min,
                                 min == 1 ? "" : "s", n->n_items);
                else
                        error_at(c, n, "expected %s with %zu to %zu items, found %zu", expected, min, max,
                                 n->n_items);
                return false;
        }
        for (size_t i = 0; i < n->n_items; i++) {
                size_t old = path_push_index(c, i);
                parse_item(c, n->items[i], i, data);
                path_pop(c, old);
        }
        return true;
}

void string_list_item(Ctx *c, const YNode *item, size_t i, void *data) {
        const char *s = get_string(c, item, "a string");
        if (s)
                strv_push(data, xstrdup(s));
}

/* A list of strings, such as a command: at least one item, the first not empty. */
char **get_command(Ctx *c, const YNode *n) {
        _cleanup_strv_free_ char **l = NULL;
        unsigned before = c->errors;

        if (!parse_list(c, n, 1, SIZE_MAX, "a list of strings (the program and its arguments)", string_list_item,
                        &l))
                return NULL;
        if (c->errors != before)
                return NULL;
        if (!l[0][0]) {
                size_t old = path_push_index(c, 0);
                error_at(c, n->items[0], "the program to run (the first item) is empty");
                path_pop(c, old);
                return NULL;
        }
        return TAKE_PTR(l);
}

/* ---- generic field parsers ---- */

void field_bool(Ctx *c, const YNode *n, void *ret) {
        (void) get_bool(c, n, ret);
}

void field_duration(Ctx *c, const YNode *n, void *ret) {
        (void) get_duration(c, n, ret);
}

void field_positive_duration(Ctx *c, const YNode *n, void *ret) {
        usec_t v;
        if (!get_duration(c, n, &v))
                return;
        if (v == 0) {
                error_at(c, n, "expected a duration longer than 0s");
                return;
        }
        *(usec_t *) ret = v;
}

void field_unit_ref(Ctx *c, const YNode *n, void *ret) {
        (void) get_unit_ref(c, n, ret);
}

void field_command(Ctx *c, const YNode *n, void *ret) {
        char ***l = ret;
        strv_free(*l);
        *l = get_command(c, n);
}

