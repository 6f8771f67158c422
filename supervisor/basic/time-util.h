/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MINUTE)
#define USEC_PER_DAY (24 * USEC_PER_HOUR)

/* Timers and timeouts use CLOCK_MONOTONIC only; CLOCK_REALTIME is for timestamps shown to people. */
static inline usec_t now(clockid_t clock) {
        struct timespec ts;
        (void) clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

/* A realtime timestamp as "2026-11-22T16:27:01.123Z" into buf (at least 32 bytes). */
char *format_timestamp(usec_t t, char *buf, size_t size);

/* A span as "1h 2m", "3.2s", "450ms" for tables. */
char *format_timespan(usec_t t, char *buf, size_t size);

/* An RFC 3339 time ("2026-12-06T15:38:12Z", "2026-12-06 16:38:12.277+01:00": a fraction of a
 * second is optional, the offset is not) as realtime microseconds: 0, or -EINVAL. */
int parse_timestamp(const char *s, usec_t *ret);
