/* SPDX-License-Identifier: MIT */
#include "unit-walk.h"

#include <ctype.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "alloc.h"
#include "path-util.h"
#include "string-util.h"
#include "unit-value.h"

SourcePos walk_source_pos(WalkCtx *c, const YNode *n) {
        return (SourcePos){.line = n->line, .column = n->column, .path = xstrdup(c->path.text)};
}

void walk_error_at(WalkCtx *c, const YNode *n, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        diagnostics_addv(c->diags, c->file, n ? n->line : 0, n ? n->column : 0, c->path.text, fmt, ap);
        va_end(ap);
        c->errors++;
}

const char *walk_plain_kind(const YNode *n) {
        if (n->type != YNODE_SCALAR || n->quoted || walk_scalar_has_nul(n))
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
        q = string_quote(n->value, n->length, UNIT_PATH_QUOTE_MAX);
        if (n->quoted)
                return xasprintf("the string %s", q);
        kind = walk_plain_kind(n);
        if (kind && n->length == 0)
                return xstrdup("nothing (an empty value)");
        if (kind)
                return xasprintf("%s %s", kind, n->value);
        return TAKE_PTR(q);
}

void walk_error_expected(WalkCtx *c, const YNode *n, const char *expected, const char *hint) {
        _cleanup_free_ char *found = describe(n);
        walk_error_at(c, n, "expected %s, found %s%s%s", expected, found, hint ? "; " : "", hint ? hint : "");
}

const char *walk_get_string(WalkCtx *c, const YNode *n, const char *expected) {
        const char *kind;

        if (n->type != YNODE_SCALAR) {
                walk_error_expected(c, n, expected, NULL);
                return NULL;
        }
        if (walk_scalar_has_nul(n)) {
                walk_error_at(c, n, "expected %s, found a string containing a NUL character", expected);
                return NULL;
        }
        kind = walk_plain_kind(n);
        if (kind && n->length == 0) {
                walk_error_expected(c, n, expected, NULL);
                return NULL;
        }
        if (kind) {
                _cleanup_free_ char *hint = xasprintf(
                        "unquoted, YAML readers take it for %s %s (which one depends on the YAML version): "
                        "write \"%s\" if you mean the string",
                        streq(kind, "integer") ? "an" : "a", kind, n->value);
                walk_error_expected(c, n, expected, hint);
                return NULL;
        }
        return n->value;
}

const char *walk_get_nonempty_string(WalkCtx *c, const YNode *n, const char *expected) {
        const char *s = walk_get_string(c, n, expected);
        if (s && !*s) {
                walk_error_expected(c, n, expected, NULL);
                return NULL;
        }
        return s;
}

bool walk_get_bool(WalkCtx *c, const YNode *n, bool *ret) {
        if (n->type == YNODE_SCALAR && !n->quoted) {
                if (streq(n->value, "true")) {
                        *ret = true;
                        return true;
                }
                if (streq(n->value, "false")) {
                        *ret = false;
                        return true;
                }
                if (walk_plain_kind(n) && streq(walk_plain_kind(n), "boolean")) {
                        walk_error_expected(
                                c, n, "true or false",
                                "YAML 1.1 reads it as a boolean, YAML 1.2 as a string: write true or false");
                        return false;
                }
        }
        walk_error_expected(c, n, "true or false", n->quoted ? "a quoted value is a string: remove the quotes" : NULL);
        return false;
}

bool walk_get_uint(WalkCtx *c, const YNode *n, uint64_t min, uint64_t max, uint64_t *ret) {
        _cleanup_free_ char *expected = xasprintf("an integer from %llu to %llu", (unsigned long long) min,
                                                  (unsigned long long) max);
        uint64_t v;
        int r;

        if (n->type == YNODE_SCALAR && !walk_scalar_has_nul(n)) {
                r = parse_decimal(n->value, max, &v);
                if (!n->quoted && r == 0 && v >= min) {
                        *ret = v;
                        return true;
                }
                if (!n->quoted && (r == -ERANGE || (r == 0 && v < min))) {
                        walk_error_expected(c, n, expected, NULL);
                        return false;
                }
                if (!n->quoted && n->value[0] == '0' && walk_plain_kind(n)) {
                        walk_error_expected(c, n, expected,
                                            "with a leading zero YAML 1.1 reads it as octal and YAML 1.2 as decimal: "
                                            "write it without the zero");
                        return false;
                }
                if (n->quoted && r == 0) {
                        walk_error_expected(c, n, expected, "a quoted value is a string: remove the quotes");
                        return false;
                }
        }
        walk_error_expected(c, n, expected, NULL);
        return false;
}

bool walk_get_duration(WalkCtx *c, const YNode *n, usec_t *ret) {
        const char *reason = NULL, *s;
        const char *expected = "a duration like 10s, 500ms or 1m30s";

        if (n->type == YNODE_SCALAR && !n->quoted && walk_plain_kind(n) && streq(walk_plain_kind(n), "integer")) {
                walk_error_expected(
                        c, n, expected,
                        "a bare number is ambiguous (seconds? milliseconds?): add a unit, like 10s or 500ms");
                return false;
        }
        s = walk_get_string(c, n, expected);
        if (!s)
                return false;
        if (parse_duration(s, ret, &reason) < 0) {
                walk_error_expected(c, n, expected, reason);
                return false;
        }
        return true;
}

bool walk_get_size(WalkCtx *c, const YNode *n, uint64_t *ret) {
        const char *expected = "a size like 64M, 1G or a number of bytes";
        const char *reason = NULL, *s;
        uint64_t v;

        if (n->type == YNODE_SCALAR && !n->quoted && parse_decimal(n->value, UINT64_MAX, &v) == 0)
                goto check;
        s = walk_get_string(c, n, expected);
        if (!s)
                return false;
        if (parse_size(s, &v, &reason) < 0) {
                walk_error_expected(c, n, expected, reason);
                return false;
        }
check:
        /* JSON (the canonical form, the control protocol) carries signed 64-bit integers. */
        if (v > (uint64_t) INT64_MAX) {
                walk_error_expected(c, n, expected, "the size is too large");
                return false;
        }
        *ret = v;
        return true;
}

bool walk_get_unit_ref(WalkCtx *c, const YNode *n, UnitRef *ret) {
        const char *s = walk_get_string(c, n, "a unit name");

        if (!s)
                return false;
        if (!unit_name_is_valid(s)) {
                walk_error_expected(c, n,
                                    "a unit name (1-63 characters of a-z, 0-9 and -, starting and ending with a "
                                    "letter or digit)",
                                    NULL);
                return false;
        }
        free(ret->name);
        source_pos_done(&ret->pos);
        ret->name = xstrdup(s);
        ret->pos = walk_source_pos(c, n);
        return true;
}

int walk_get_enum(WalkCtx *c, const YNode *n, const char *(*to_string)(int), int max, const char *hint) {
        char expected[256] = "one of ";
        const char *s = NULL;

        for (int i = 0; i < max; i++) {
                const char *name = to_string(i);
                if (n->type == YNODE_SCALAR && !walk_scalar_has_nul(n) && streq(n->value, name) &&
                    (n->quoted || !walk_plain_kind(n)))
                        return i;
                snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s", i ? ", " : "",
                         name);
        }
        if (n->type == YNODE_SCALAR && !n->quoted && !walk_plain_kind(n))
                s = n->value;
        walk_error_expected(c, n, expected, s ? hint : NULL);
        return -EINVAL;
}

char *walk_get_host_path(WalkCtx *c, const YNode *n) {
        const char *s = walk_get_nonempty_string(c, n, "a path");
        return s ? path_make_absolute(s, c->dir) : NULL;
}

char *walk_get_container_path(WalkCtx *c, const YNode *n) {
        const char *s = walk_get_nonempty_string(c, n, "an absolute path inside the container");

        if (!s)
                return NULL;
        if (!path_is_absolute(s)) {
                walk_error_expected(c, n, "an absolute path inside the container", NULL);
                return NULL;
        }
        if (path_has_dotdot(s)) {
                walk_error_at(c, n, "expected an absolute path inside the container, found %s, which contains \"..\"",
                              n->value);
                return NULL;
        }
        return path_simplify(xstrdup(s));
}

/* With UNIT_PARSE_CHECK_SOURCES: the host path must exist and be of the given type (0: any). */
int unit_source_stat(const char *path, mode_t type) {
        struct stat st;

        if (stat(path, &st) < 0)
                return negative_errno();
        return type != 0 && (st.st_mode & S_IFMT) != type;
}

void walk_record_source(WalkCtx *c, UnitSourceKind kind, const char *path, mode_t type) {
        if (!(c->flags & UNIT_PARSE_CHECK_SOURCES) || !c->sources)
                return;
        *ARRAY_APPEND(c->sources->items, c->sources->n) = (UnitSource){kind, type, xstrdup(path)};
}

void unit_sources_done(UnitSources *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->items[i].path);
        free(s->items);
        *s = (UnitSources){};
}

void walk_check_source(WalkCtx *c, const YNode *n, const char *what, const char *path, mode_t type) {
        int r;

        if (!(c->flags & UNIT_PARSE_CHECK_SOURCES))
                return;
        walk_record_source(c, UNIT_SOURCE_PATH, path, type);
        r = unit_source_stat(path, type);
        if (r < 0)
                walk_error_at(c, n, "%s %s: %s", what, path, strerror(-r));
        else if (r > 0)
                walk_error_at(c, n, "%s %s is not a %s", what, path, type == S_IFDIR ? "directory" : "regular file");
}

const YPair *walk_field_seen(const WalkField *fields, const YPair *const *seen, const char *key) {
        for (size_t i = 0; fields[i].key; i++)
                if (streq(fields[i].key, key))
                        return seen[i];
        return NULL;
}

bool walk_parse_mapping(WalkCtx *c, const YNode *n, const WalkField *fields, void *data, const YPair **seen,
                        const char *expected) {
        const char *names[WALK_FIELDS_MAX + 1];
        size_t n_fields = 0;

        for (; fields[n_fields].key; n_fields++) {
                names[n_fields] = fields[n_fields].key;
                seen[n_fields] = NULL;
        }
        names[n_fields] = NULL;

        if (n->type != YNODE_MAPPING) {
                walk_error_expected(c, n, expected, NULL);
                return false;
        }

        for (size_t i = 0; i < n->n_pairs; i++) {
                const YPair *p = &n->pairs[i];
                const YNode *key = p->key;
                size_t idx = n_fields, old;

                if (key->type != YNODE_SCALAR || walk_scalar_has_nul(key)) {
                        walk_error_expected(c, key, "a key name", NULL);
                        continue;
                }
                if (!key->quoted && streq(key->value, "<<")) {
                        old = walk_path_push_key(c, "<<");
                        walk_error_at(c, key,
                                      "YAML merge keys (<<) are not supported: write the keys out, or use an alias "
                                      "for the whole value");
                        walk_path_pop(c, old);
                        continue;
                }
                for (size_t f = 0; f < n_fields; f++)
                        if (streq(key->value, fields[f].key)) {
                                idx = f;
                                break;
                        }
                if (idx == n_fields) {
                        _cleanup_free_ char *q = string_quote(key->value, key->length, UNIT_PATH_QUOTE_MAX);
                        const char *near = string_nearest(key->value, names);
                        old = walk_path_push_key(c, key->value);
                        if (near)
                                walk_error_at(c, key, "unknown key %s; did you mean \"%s\"?", q, near);
                        else {
                                char list[512] = "";
                                for (size_t f = 0; f < n_fields; f++)
                                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                                                 f ? ", " : "", names[f]);
                                walk_error_at(c, key, "unknown key %s; expected one of %s", q, list);
                        }
                        walk_path_pop(c, old);
                        continue;
                }
                old = walk_path_push_key(c, fields[idx].key);
                if (seen[idx]) {
                        walk_error_at(c, key, "duplicate key \"%s\"; it is first set at line %u, column %u", key->value,
                                      seen[idx]->key->line, seen[idx]->key->column);
                        walk_path_pop(c, old);
                        continue;
                }
                seen[idx] = p;
                fields[idx].parse(c, p->value, (uint8_t *) data + fields[idx].offset);
                walk_path_pop(c, old);
        }

        for (size_t f = 0; f < n_fields; f++)
                if (fields[f].required && !seen[f])
                        walk_error_at(c, n, "missing required key \"%s\"", fields[f].key);
        return true;
}

bool walk_parse_list(WalkCtx *c, const YNode *n, size_t min, size_t max, const char *expected,
                     void (*parse_item)(WalkCtx *c, const YNode *item, size_t i, void *data), void *data) {
        if (n->type != YNODE_SEQUENCE) {
                walk_error_expected(c, n, expected, NULL);
                return false;
        }
        if (n->n_items < min || n->n_items > max) {
                if (max == SIZE_MAX)
                        walk_error_at(c, n, "expected %s with at least %zu item%s, found %zu", expected, min,
                                      min == 1 ? "" : "s", n->n_items);
                else
                        walk_error_at(c, n, "expected %s with %zu to %zu items, found %zu", expected, min, max,
                                      n->n_items);
                return false;
        }
        for (size_t i = 0; i < n->n_items; i++) {
                size_t old = walk_path_push_index(c, i);
                parse_item(c, n->items[i], i, data);
                walk_path_pop(c, old);
        }
        return true;
}

void walk_string_list_item(WalkCtx *c, const YNode *item, size_t i, void *data) {
        const char *s = walk_get_string(c, item, "a string");
        if (s)
                strv_push(data, xstrdup(s));
}

/* A list of strings, such as a command: at least one item, the first not empty. */
char **walk_get_command(WalkCtx *c, const YNode *n) {
        _cleanup_strv_free_ char **l = NULL;
        unsigned before = c->errors;

        if (!walk_parse_list(c, n, 1, SIZE_MAX, "a list of strings (the program and its arguments)",
                             walk_string_list_item, &l))
                return NULL;
        if (c->errors != before)
                return NULL;
        if (!l[0][0]) {
                size_t old = walk_path_push_index(c, 0);
                walk_error_at(c, n->items[0], "the program to run (the first item) is empty");
                walk_path_pop(c, old);
                return NULL;
        }
        return TAKE_PTR(l);
}

/* ---- generic field parsers ---- */

void walk_field_bool(WalkCtx *c, const YNode *n, void *ret) {
        (void) walk_get_bool(c, n, ret);
}

void walk_field_duration(WalkCtx *c, const YNode *n, void *ret) {
        (void) walk_get_duration(c, n, ret);
}

void walk_field_positive_duration(WalkCtx *c, const YNode *n, void *ret) {
        usec_t v;
        if (!walk_get_duration(c, n, &v))
                return;
        if (v == 0) {
                walk_error_at(c, n, "expected a duration longer than 0s");
                return;
        }
        *(usec_t *) ret = v;
}

void walk_field_unit_ref(WalkCtx *c, const YNode *n, void *ret) {
        (void) walk_get_unit_ref(c, n, ret);
}

void walk_field_command(WalkCtx *c, const YNode *n, void *ret) {
        char ***l = ret;
        strv_free(*l);
        *l = walk_get_command(c, n);
}
