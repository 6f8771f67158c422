/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

static inline bool path_is_absolute(const char *p) {
        return p && p[0] == '/';
}

/* Joins a and b with exactly one slash between them. */
char *path_join(const char *a, const char *b);

/* Lexical clean-up in place: collapses "//" and "/./", drops a trailing "/" and a leading "./".
 * ".." is kept: on the host, resolving it lexically would be wrong when a component is a symlink. */
char *path_simplify(char *p);

/* Whether any component of p is "..". */
bool path_has_dotdot(const char *p);

/* The directory part of p ("." for a bare name); a new string. */
char *path_dirname(const char *p);

/* The last component of p, pointing into p. */
const char *path_basename(const char *p);

/* Makes p absolute against base (which must be absolute) unless it already is; simplified. */
char *path_make_absolute(const char *p, const char *base);

/* Whether p equals prefix or lies below it (both simplified absolute paths). */
bool path_startswith_dir(const char *p, const char *prefix);
