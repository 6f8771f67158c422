/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The unit's log: what its command writes to stdout and stderr, and sup's own messages about the
 * instance, one line each as "<ISO timestamp> <stream> <text>". The file is capped: when it grows
 * past max_size it becomes NAME.log.1 (replacing the older one) and a new file starts, so a unit
 * uses at most twice max_size of disk. A write error (a full disk) drops lines and counts them; it
 * never stops the monitor. */

#define LOG_LINE_MAX         16384
#define LOG_DEFAULT_MAX_SIZE (8U * 1024U * 1024U)
/* Below this a log would rotate every few lines. */
#define LOG_MIN_MAX_SIZE 4096U

typedef struct LogStream {
        const char *name; /* "stdout", "stderr" */
        char buf[LOG_LINE_MAX];
        size_t used;
} LogStream;

typedef struct LogWriter {
        char *path;
        int fd;
        uint64_t size;
        uint64_t max_size;
        uint64_t dropped; /* lines lost to write errors */
} LogWriter;

int log_writer_open(LogWriter *w, const char *path, uint64_t max_size);
void log_writer_close(LogWriter *w);

/* Appends one complete line (without its newline) for stream. */
void log_writer_line(LogWriter *w, const char *stream, const char *text, size_t n);
void log_writer_printf(LogWriter *w, const char *stream, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Feeds raw output of a stream: complete lines are written, a partial one is kept until its end
 * arrives, or written as it is when it reaches LOG_LINE_MAX or at flush (EOF). */
void log_stream_feed(LogWriter *w, LogStream *s, const char *data, size_t n);
void log_stream_flush(LogWriter *w, LogStream *s);
