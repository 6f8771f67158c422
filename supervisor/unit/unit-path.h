/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Where a value stands inside a unit, as messages name it: image.layers[0].dir, env["A B"]. The
 * same spelling for the unit file's YAML (unit-walk.c) and the canonical JSON (unit-json.c). */

/* Deep enough for the deepest path (security.capabilities.drop[127]) with an env key of
 * env_name_is_valid()'s 256 characters; a longer path is cut, and its start still says where. */
#define UNIT_PATH_MAX 512

/* How much of an odd key, or of a refused value, a message quotes. */
#define UNIT_PATH_QUOTE_MAX 40

typedef struct UnitPath {
        char text[UNIT_PATH_MAX]; /* "" at the top of the unit */
        size_t len;
} UnitPath;

/* Each returns the length to give unit_path_pop() to go back. */
size_t unit_path_push_key(UnitPath *p, const char *key);
size_t unit_path_push_index(UnitPath *p, size_t i);
void unit_path_pop(UnitPath *p, size_t old);
