/* SPDX-License-Identifier: MIT */
#include "unit-diag.h"

#include <stdarg.h>

#include "alloc.h"

void diagnostics_addv(Diagnostics *d, const char *file, unsigned line, unsigned column, const char *path,
                      const char *fmt, va_list ap) {
        Diagnostic *e;
        char *msg;

        if (d->n >= DIAGNOSTICS_MAX) {
                d->dropped++;
                return;
        }
        msg = xvasprintf(fmt, ap);
        e = ARRAY_APPEND(d->items, d->n);
        e->file = xstrdup(file ? file : "");
        e->line = line;
        e->column = column;
        e->path = xstrdup(path ? path : "");
        e->message = msg;
}

void diagnostics_add(Diagnostics *d, const char *file, unsigned line, unsigned column, const char *path,
                     const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diagnostics_addv(d, file, line, column, path, fmt, ap);
        va_end(ap);
}

void diagnostics_done(Diagnostics *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].path);
                free(d->items[i].message);
        }
        free(d->items);
        *d = (Diagnostics) {};
}

void diagnostic_print(const Diagnostic *e, FILE *f) {
        fputs(e->file, f);
        if (e->line > 0)
                fprintf(f, ":%u:%u", e->line, e->column);
        fputs(": error: ", f);
        if (e->path[0])
                fprintf(f, "%s: ", e->path);
        fprintf(f, "%s\n", e->message);
}

void diagnostics_print(const Diagnostics *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++)
                diagnostic_print(&d->items[i], f);
        if (d->dropped > 0)
                fprintf(f, "(%zu more errors not shown)\n", d->dropped);
}

json_t *diagnostics_to_json(const Diagnostics *d) {
        json_t *a = json_array();

        for (size_t i = 0; i < d->n; i++) {
                const Diagnostic *e = &d->items[i];
                json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:s, s:s}", "file", e->file, "line",
                                                   (json_int_t) e->line, "column", (json_int_t) e->column, "path",
                                                   e->path, "message", e->message));
        }
        return a;
}
