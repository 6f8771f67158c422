/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "unit-diag.h"
#include "unit-spec.h"

#define UNIT_FILE_SIZE_MAX (1024 * 1024)

typedef enum UnitParseFlags {
        /* Check that layer sources, bind-mount sources, seccomp profiles and kernels exist and have
         * the right type. Off in the fuzzer, which must not depend on the file system. */
        UNIT_PARSE_CHECK_SOURCES = 1 << 0,
} UnitParseFlags;

/* Parses one unit from the text of a file. file names it in errors and gives the default unit
 * name; dir is the absolute directory relative paths resolve against. Every error found is added
 * to diags. Returns 0 and the spec when there was none, -EINVAL otherwise. With ret_name, the
 * unit's name (or what it would have been) is returned even on failure when it can be told, so
 * that errors about other units can take the failed one into account. */
int unit_parse(const char *file, const char *dir, const char *data, size_t size, UnitParseFlags flags,
               Diagnostics *diags, UnitSpec **ret, char **ret_name);

/* Reads and parses a unit file; relative paths resolve against its directory. */
int unit_load_file(const char *path, UnitParseFlags flags, Diagnostics *diags, UnitSpec **ret, char **ret_name);

/* The unit name a file gets when it does not set one: its name without .yaml or .yml. */
char *unit_name_from_file(const char *path);
