/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to supervisor/unit/: the walk over a YAML tree that the unit parser is built from.
 * Each handler checks one value, stores it in the spec and reports
 * what is wrong with it; nothing stops at the first error, so a file's mistakes are all reported
 * in one run. c->path always holds the YAML path of the value being looked at. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "unit-diag.h"
#include "unit-parse.h"
#include "unit-spec.h"
#include "yaml-tree.h"

typedef struct Ctx {
        const char *file;
        const char *dir;
        UnitParseFlags flags;
        Diagnostics *diags;
        unsigned errors;
        char path[512];
        size_t path_len;
        UnitSpec *u;
} Ctx;

/* A field parser gets the value's node and where to store the result: the mapping's object (the
 * UnitSpec, a Layer, a MountSpec) plus the field's offset, as in systemd's config tables. Parsers
 * for one specific field ignore the pointer and use c->u. */
typedef void (*FieldParser)(Ctx *c, const YNode *value, void *ret);

typedef struct Field {
        const char *key;
        FieldParser parse;
        size_t offset;
        bool required;
} Field;

#define UNIT_FIELD(member) offsetof(UnitSpec, member)

#define FIELDS_MAX 32

#define GET_ENUM(c, n, name, max)                                                                   \
        get_enum((c), (n), (const char *(*) (int)) name##_to_string, (max), NULL)

static inline bool scalar_has_nul(const YNode *n) {
        return memchr(n->value, 0, n->length) != NULL;
}

void error_at(Ctx *c, const YNode *n, const char *fmt, ...) _printf_(3, 4);
size_t path_push_key(Ctx *c, const char *key);
size_t path_push_index(Ctx *c, size_t i);
void path_pop(Ctx *c, size_t old);
SourcePos here(Ctx *c, const YNode *n);
const char *plain_kind(const YNode *n);
void error_expected(Ctx *c, const YNode *n, const char *expected, const char *hint);
const char *get_string(Ctx *c, const YNode *n, const char *expected);
const char *get_nonempty_string(Ctx *c, const YNode *n, const char *expected);
bool get_bool(Ctx *c, const YNode *n, bool *ret);
bool get_uint(Ctx *c, const YNode *n, uint64_t min, uint64_t max, uint64_t *ret);
bool get_duration(Ctx *c, const YNode *n, usec_t *ret);
bool get_size(Ctx *c, const YNode *n, uint64_t *ret);
bool get_unit_ref(Ctx *c, const YNode *n, UnitRef *ret);
char *get_host_path(Ctx *c, const YNode *n);
char *get_container_path(Ctx *c, const YNode *n);
void check_source(Ctx *c, const YNode *n, const char *what, const char *path, mode_t type);
const YPair *field_seen(const Field *fields, const YPair *const *seen, const char *key);
bool parse_mapping(Ctx *c, const YNode *n, const Field *fields, void *data, const YPair **seen,
                          const char *expected);
void string_list_item(Ctx *c, const YNode *item, size_t i, void *data);
char **get_command(Ctx *c, const YNode *n);
void field_bool(Ctx *c, const YNode *n, void *ret);
void field_duration(Ctx *c, const YNode *n, void *ret);
void field_positive_duration(Ctx *c, const YNode *n, void *ret);
void field_unit_ref(Ctx *c, const YNode *n, void *ret);
void field_command(Ctx *c, const YNode *n, void *ret);

/* Looks an enum value up in its string table (via to_string), reporting the choices if absent. */
int get_enum(Ctx *c, const YNode *n, const char *(*to_string)(int), int max, const char *hint);

/* Walks a mapping against a table of known keys (terminated by an empty entry): refuses non-string,
 * unknown, duplicate and merge keys, calls each field's parser with the path extended, reports
 * missing required keys. seen[i] gets the pair of fields[i], for checks between fields afterwards. */
bool parse_mapping(Ctx *c, const YNode *n, const Field *fields, void *data, const YPair **seen,
                   const char *expected);

/* Calls parse_item for every item of a list of min to max items, with the path extended by [i]. */
bool parse_list(Ctx *c, const YNode *n, size_t min, size_t max, const char *expected,
                void (*parse_item)(Ctx *c, const YNode *item, size_t i, void *data), void *data);
