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

/* The checks across units, on a set of units that parsed; adds to diags, returns the count. */
size_t unit_set_check(const UnitSet *s, Diagnostics *diags);

const UnitSpec *unit_set_find(const UnitSet *s, const char *name);
