/* SPDX-License-Identifier: MIT */
#include "time-util.h"

#include <stdio.h>

char *format_timestamp(usec_t t, char *buf, size_t size) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&sec, &tm)) {
                snprintf(buf, size, "-");
                return buf;
        }
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned) (t % USEC_PER_SEC / USEC_PER_MSEC));
        return buf;
}

char *format_timespan(usec_t t, char *buf, size_t size) {
        if (t >= USEC_PER_DAY)
                snprintf(buf, size, "%llud %lluh", (unsigned long long) (t / USEC_PER_DAY),
                         (unsigned long long) (t % USEC_PER_DAY / USEC_PER_HOUR));
        else if (t >= USEC_PER_HOUR)
                snprintf(buf, size, "%lluh %llum", (unsigned long long) (t / USEC_PER_HOUR),
                         (unsigned long long) (t % USEC_PER_HOUR / USEC_PER_MINUTE));
        else if (t >= USEC_PER_MINUTE)
                snprintf(buf, size, "%llum %llus", (unsigned long long) (t / USEC_PER_MINUTE),
                         (unsigned long long) (t % USEC_PER_MINUTE / USEC_PER_SEC));
        else if (t >= USEC_PER_SEC)
                snprintf(buf, size, "%llu.%llus", (unsigned long long) (t / USEC_PER_SEC),
                         (unsigned long long) (t % USEC_PER_SEC / (100 * USEC_PER_MSEC)));
        else
                snprintf(buf, size, "%llums", (unsigned long long) (t / USEC_PER_MSEC));
        return buf;
}
