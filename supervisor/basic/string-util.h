/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

/* NULL-terminated string vectors. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
void strv_push(char ***l, char *value); /* takes ownership of value */
bool strv_contains(char *const *l, const char *s);
char **strv_copy(char *const *l);
void strv_sort(char **l);
char *strv_join(char *const *l, const char *sep); /* a new string; "" for an empty or NULL list */
#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

const char *startswith(const char *s, const char *prefix);
const char *endswith(const char *s, const char *suffix);

/* Edit distance (insertions, deletions, substitutions, transpositions), for "did you mean". */
size_t string_distance(const char *a, const char *b);

/* The closest candidate to s within a distance that still reads as a typo, or NULL. */
const char *string_nearest(const char *s, const char *const *candidates);

/* Renders s (of length n, may hold any bytes) as a double-quoted, escaped string for messages,
 * cut to about max visible characters with "..." when longer. */
char *string_quote(const char *s, size_t n, size_t max);

/* Writes s (n bytes, any bytes) to f with each character a terminal obeys shown as '?', as ps
 * and top show them: C0 controls (below 0x20) but those in keep, DEL, and C1 controls
 * (U+0080-U+009F, 0xc2 0x80-0x9f in UTF-8; a terminal that reads UTF-8 obeys them, 0x9b is CSI).
 * Text that a workload chose (its log, its command line) could otherwise move the cursor, erase
 * and rewrite what is shown around it, set the window title or answer the terminal's queries.
 * Returns the bytes taken: n, or n - 1 when partial (more of the stream follows) and s ends in
 * 0xc2, which may begin a C1 control that the next piece completes: the caller passes that byte
 * again in front of the next piece. */
size_t fwrite_sanitized(const char *s, size_t n, const char *keep, bool partial, FILE *f);

/* Whether s is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF); if not, the
 * offset of the first bad byte goes to *ret_offset when given. */
bool utf8_is_valid(const char *s, size_t n, size_t *ret_offset);
