/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

#include "macro.h"

/* Errors in unit files, formatted like a compiler's ("file:line:col: error: path: message") so that
 * editors can jump to them. */

#define DIAGNOSTICS_MAX 1000

typedef struct Diagnostic {
        char *file;
        unsigned line, column; /* 1-based; 0 when the error concerns the whole file */
        char *path;            /* the YAML path, "" for the document itself */
        char *message;
} Diagnostic;

typedef struct Diagnostics {
        Diagnostic *items;
        size_t n;
        size_t dropped; /* beyond DIAGNOSTICS_MAX */
} Diagnostics;

void diagnostics_add(Diagnostics *d, const char *file, unsigned line, unsigned column, const char *path,
                     const char *fmt, ...) _printf_(6, 7);
void diagnostics_addv(Diagnostics *d, const char *file, unsigned line, unsigned column, const char *path,
                      const char *fmt, va_list ap) _printf_(6, 0);
void diagnostics_done(Diagnostics *d);
static inline size_t diagnostics_count(const Diagnostics *d) {
        return d->n + d->dropped;
}

void diagnostic_print(const Diagnostic *e, FILE *f);
void diagnostics_print(const Diagnostics *d, FILE *f);
json_t *diagnostics_to_json(const Diagnostics *d);
