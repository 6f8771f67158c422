/* SPDX-License-Identifier: MIT */
#pragma once

#include "unit-diag.h"
#include "unit-parse.h"
#include "unit-spec.h"

/* A generation: the set of units supd should run, valid as a whole or not at all. Besides each
 * unit's own errors, a set is invalid when two files define one unit name, two units publish the
 * same host port, a requires/share target is missing or requires/share form a cycle. */

typedef struct UnitSet {
        UnitSpec **units; /* sorted by name */
        size_t n_units;
        char **failed; /* names (or file stems) of units whose files had errors */
        size_t n_files;
} UnitSet;

UnitSet *unit_set_free(UnitSet *s);
static inline void unit_set_freep(UnitSet **s) {
        unit_set_free(*s);
}

/* Loads every path: a file, or a directory whose *.yaml and *.yml files are read (not recursively,
 * hidden files skipped, in name order). Every error goes to diags; the set holds the units that
 * parsed. Returns 0 when the whole set is valid, -EINVAL when anything was wrong, another negative
 * errno when a path could not be read at all (also reported in diags). */
int unit_set_load(char *const *paths, UnitParseFlags flags, Diagnostics *diags, UnitSet **ret);

/* The parses of an earlier load, by file, for the next load to reuse: a reload of a thousand units
 * whose files did not change parses none of them. A file's parse is reused only when
 *  - stat says the same of it (device, inode, size, mode, mtime and ctime to the nanosecond), and
 *    the same flags are asked for;
 *  - and, when its mtime or ctime is within UNIT_SET_CACHE_RACY_NS of when it was read (a write in
 *    the same timestamp tick as the read leaves both as they were), its bytes hash the same;
 *  - and every check of the host the parse made (unit-walk.h: a layer source exists, a seccomp
 *    profile loads, ...) passes again (a path that many units name is checked once per load);
 *    when one fails the file is parsed again, for the error.
 * Only the parses of valid units are kept; a file that is not listed any more is dropped. */
typedef struct UnitSetCache UnitSetCache;

#define UNIT_SET_CACHE_RACY_NS (2 * 1000000000LL)

UnitSetCache *unit_set_cache_new(void);
UnitSetCache *unit_set_cache_free(UnitSetCache *c);
static inline void unit_set_cache_freep(UnitSetCache **c) {
        unit_set_cache_free(*c);
}
/* unit_set_load() through cache (NULL: none), which then holds this load's parses. */
int unit_set_load_cached(char *const *paths, UnitParseFlags flags, UnitSetCache *cache, Diagnostics *diags,
                         UnitSet **ret);
/* How many files the last load through cache parsed, and how many it reused. */
void unit_set_cache_counts(const UnitSetCache *c, size_t *ret_parsed, size_t *ret_reused);

/* The checks across units, on a set of units that parsed; adds to diags, returns the count. */
size_t unit_set_check(const UnitSet *s, Diagnostics *diags);

const UnitSpec *unit_set_find(const UnitSet *s, const char *name);
