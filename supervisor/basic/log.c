/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>

static LogLevel max_level = LOG_LEVEL_INFO;
static const char *program = "sup";

void log_set_max_level(LogLevel level) {
        max_level = level;
}

void log_set_program(const char *name) {
        program = name;
}

int log_full_errno(LogLevel level, int error, const char *fmt, ...) {
        int saved = errno;
        va_list ap;

        error = error < 0 ? -error : error;
        if (level <= max_level) {
                fprintf(stderr, "%s: ", program);
                if (error != 0)
                        errno = error;
                va_start(ap, fmt);
                vfprintf(stderr, fmt, ap);
                va_end(ap);
                fputc('\n', stderr);
        }
        errno = saved;
        return -error;
}
