/* SPDX-License-Identifier: MIT */
#include "log-writer.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "alloc.h"
#include "macro.h"
#include "time-util.h"

int log_writer_open(LogWriter *w, const char *path, uint64_t max_size) {
        struct stat st;

        *w = (LogWriter){.path = xstrdup(path), .max_size = max_size ? max_size : LOG_DEFAULT_MAX_SIZE};
        w->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
        if (w->fd < 0)
                return negative_errno();
        if (fstat(w->fd, &st) == 0)
                w->size = (uint64_t) st.st_size;
        return 0;
}

void log_writer_close(LogWriter *w) {
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -EBADF;
        w->path = (free(w->path), NULL);
}

static void rotate(LogWriter *w) {
        _cleanup_free_ char *old = xasprintf("%s.1", w->path);
        int fd;

        if (rename(w->path, old) < 0)
                return;
        fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
        if (fd < 0)
                return; /* keep writing to the renamed file rather than losing lines */
        close(w->fd);
        w->fd = fd;
        w->size = 0;
}

void log_writer_line(LogWriter *w, const char *stream, const char *text, size_t n) {
        char ts[64], prefix[96];
        struct iovec iov[3];
        ssize_t written;
        size_t total;

        if (w->fd < 0) {
                w->dropped++;
                return;
        }
        format_timestamp(now(CLOCK_REALTIME), ts, sizeof(ts));
        snprintf(prefix, sizeof(prefix), "%s %s ", ts, stream);
        iov[0] = (struct iovec){prefix, strlen(prefix)};
        iov[1] = (struct iovec){(void *) text, n};
        iov[2] = (struct iovec){(void *) "\n", 1};
        total = iov[0].iov_len + n + 1;

        if (w->size + total > w->max_size && w->size > 0)
                rotate(w);
        /* O_APPEND and one writev(): a line is never interleaved with another writer's. */
        written = writev(w->fd, iov, 3);
        if (written < 0 || (size_t) written != total)
                w->dropped++;
        if (written > 0)
                w->size += (uint64_t) written;
}

void log_writer_printf(LogWriter *w, const char *stream, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        log_writer_line(w, stream, buf, MIN((size_t) MAX(n, 0), sizeof(buf) - 1));
}

void log_stream_feed(LogWriter *w, LogStream *s, const char *data, size_t n) {
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t) (nl - data) : n;
                size_t room = LOG_LINE_MAX - s->used;

                if (take >= room) {
                        /* An overlong line is cut into LOG_LINE_MAX pieces. */
                        memcpy(s->buf + s->used, data, room);
                        log_writer_line(w, s->name, s->buf, LOG_LINE_MAX);
                        s->used = 0;
                        data += room;
                        n -= room;
                        continue;
                }
                memcpy(s->buf + s->used, data, take);
                s->used += take;
                data += take;
                n -= take;
                if (nl) {
                        log_writer_line(w, s->name, s->buf, s->used);
                        s->used = 0;
                        data++;
                        n--;
                }
        }
}

void log_stream_flush(LogWriter *w, LogStream *s) {
        if (s->used > 0)
                log_writer_line(w, s->name, s->buf, s->used);
        s->used = 0;
}
