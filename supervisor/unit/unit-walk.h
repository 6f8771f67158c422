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
#include "unit-path.h"
#include "unit-spec.h"
#include "yaml-tree.h"

/* What a unit's validity depends on outside its file, with UNIT_PARSE_CHECK_SOURCES: each check the
 * walk made of the host. The parse cache (unit-set.c) makes them again before it reuses a spec:
 * a layer directory deleted since, or a seccomp profile edited into one that does not load, makes
 * the unit invalid although its file is the same. */
typedef enum UnitSourceKind {
        UNIT_SOURCE_PATH,            /* exists, and is of type (0: any) */
        UNIT_SOURCE_OCI_LAYOUT,      /* a directory with an oci-layout file */
        UNIT_SOURCE_BIND,            /* a bind source: its real path allowed, no symlink on the way */
        UNIT_SOURCE_SECCOMP_PROFILE, /* a profile that loads */
        _UNIT_SOURCE_KIND_MAX,
        _UNIT_SOURCE_KIND_INVALID = -EINVAL,
} UnitSourceKind;

typedef struct UnitSource {
        UnitSourceKind kind;
        mode_t type;
        char *path;
} UnitSource;

typedef struct UnitSources {
        UnitSource *items;
        size_t n;
} UnitSources;

void unit_sources_done(UnitSources *s);
/* Whether every check passes again (without a word: a failing one is reported by the parse). */
bool unit_sources_pass(const UnitSources *s);

typedef struct WalkCtx {
        const char *file;
        const char *dir;
        UnitParseFlags flags;
        Diagnostics *diags;
        unsigned errors;
        UnitPath path;
        UnitSpec *u;
        UnitSources *sources; /* NULL: not recorded */
} WalkCtx;

/* Records a check in c->sources (with UNIT_PARSE_CHECK_SOURCES and a list to record in). */
void walk_record_source(WalkCtx *c, UnitSourceKind kind, const char *path, mode_t type);
/* unit_parse() that records the checks of sources (sources may be NULL). */
int unit_parse_recording(const char *file, const char *dir, const char *data, size_t size, UnitParseFlags flags,
                         Diagnostics *diags, UnitSources *sources, UnitSpec **ret, char **ret_name);
/* unit_load_file()'s two halves: the file's bytes (errors reported), and their parse. */
int unit_read_file(const char *path, Diagnostics *diags, char **ret, size_t *ret_size);
int unit_parse_file_data(const char *path, const char *data, size_t size, UnitParseFlags flags, Diagnostics *diags,
                         UnitSources *sources, UnitSpec **ret, char **ret_name);

/* The checks themselves, one definition for the walk and for unit_sources_pass(). */
int unit_source_stat(const char *path, mode_t type); /* 0, -errno, or 1: not of type */

/* A field parser gets the value's node and where to store the result: the mapping's object (the
 * UnitSpec, a Layer, a MountSpec) plus the field's offset, as in systemd's config tables. Parsers
 * for one specific field ignore the pointer and use c->u. */
typedef void (*WalkFieldParser)(WalkCtx *c, const YNode *value, void *ret);

typedef struct WalkField {
        const char *key;
        WalkFieldParser parse;
        size_t offset;
        bool required;
} WalkField;

#define UNIT_FIELD(member) offsetof(UnitSpec, member)

#define WALK_FIELDS_MAX 32

#define WALK_GET_ENUM(c, n, name, max) walk_get_enum((c), (n), (const char *(*) (int) ) name##_to_string, (max), NULL)

static inline bool walk_scalar_has_nul(const YNode *n) {
        return memchr(n->value, 0, n->length) != NULL;
}

void walk_error_at(WalkCtx *c, const YNode *n, const char *fmt, ...) _printf_(3, 4);
static inline size_t walk_path_push_key(WalkCtx *c, const char *key) {
        return unit_path_push_key(&c->path, key);
}
static inline size_t walk_path_push_index(WalkCtx *c, size_t i) {
        return unit_path_push_index(&c->path, i);
}
static inline void walk_path_pop(WalkCtx *c, size_t old) {
        unit_path_pop(&c->path, old);
}
SourcePos walk_source_pos(WalkCtx *c, const YNode *n);
const char *walk_plain_kind(const YNode *n);
void walk_error_expected(WalkCtx *c, const YNode *n, const char *expected, const char *hint);
const char *walk_get_string(WalkCtx *c, const YNode *n, const char *expected);
const char *walk_get_nonempty_string(WalkCtx *c, const YNode *n, const char *expected);
bool walk_get_bool(WalkCtx *c, const YNode *n, bool *ret);
bool walk_get_uint(WalkCtx *c, const YNode *n, uint64_t min, uint64_t max, uint64_t *ret);
bool walk_get_duration(WalkCtx *c, const YNode *n, usec_t *ret);
bool walk_get_size(WalkCtx *c, const YNode *n, uint64_t *ret);
bool walk_get_unit_ref(WalkCtx *c, const YNode *n, UnitRef *ret);
char *walk_get_host_path(WalkCtx *c, const YNode *n);
char *walk_get_container_path(WalkCtx *c, const YNode *n);
void walk_check_source(WalkCtx *c, const YNode *n, const char *what, const char *path, mode_t type);
const YPair *walk_field_seen(const WalkField *fields, const YPair *const *seen, const char *key);
void walk_string_list_item(WalkCtx *c, const YNode *item, size_t i, void *data);
char **walk_get_command(WalkCtx *c, const YNode *n);
void walk_field_bool(WalkCtx *c, const YNode *n, void *ret);
void walk_field_duration(WalkCtx *c, const YNode *n, void *ret);
void walk_field_positive_duration(WalkCtx *c, const YNode *n, void *ret);
void walk_field_unit_ref(WalkCtx *c, const YNode *n, void *ret);
void walk_field_command(WalkCtx *c, const YNode *n, void *ret);

/* Looks an enum value up in its string table (via to_string), reporting the choices if absent. */
int walk_get_enum(WalkCtx *c, const YNode *n, const char *(*to_string)(int), int max, const char *hint);

/* Walks a mapping against a table of known keys (terminated by an empty entry): refuses non-string,
 * unknown, duplicate and merge keys, calls each field's parser with the path extended, reports
 * missing required keys. seen[i] gets the pair of fields[i], for checks between fields afterwards. */
bool walk_parse_mapping(WalkCtx *c, const YNode *n, const WalkField *fields, void *data, const YPair **seen,
                        const char *expected);

/* Calls parse_item for every item of a list of min to max items, with the path extended by [i]. */
bool walk_parse_list(WalkCtx *c, const YNode *n, size_t min, size_t max, const char *expected,
                     void (*parse_item)(WalkCtx *c, const YNode *item, size_t i, void *data), void *data);
