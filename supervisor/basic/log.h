/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"

/* Logging for the top of the programs (supd, supctl); library code returns errors instead. */
typedef enum LogLevel {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
} LogLevel;

void log_set_max_level(LogLevel level);
void log_set_program(const char *name);

/* Logs; when error != 0, errno is set to |error| first so that %m works. Returns -|error|. */
int log_full_errno(LogLevel level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) ((void) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__))
#define log_warning(...) ((void) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__))
#define log_info(...) ((void) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__))
#define log_error_errno(e, ...) log_full_errno(LOG_LEVEL_ERROR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
