/* SPDX-License-Identifier: MIT */
#include "time-util.h"

#include <errno.h>
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

/* n digits at *p, advancing it; -1 if they are not all digits. */
static int take_digits(const char **p, int n) {
        int v = 0;
        for (int i = 0; i < n; i++, (*p)++) {
                if (**p < '0' || **p > '9')
                        return -1;
                v = v * 10 + (**p - '0');
        }
        return v;
}

int parse_timestamp(const char *s, usec_t *ret) {
        static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        struct tm tm = {};
        const char *p = s;
        usec_t frac = 0, scale = USEC_PER_SEC;
        int year, mon, day, hour, min, sec, offset = 0;
        time_t t;

        year = take_digits(&p, 4);
        if (year < 0 || *p++ != '-' || (mon = take_digits(&p, 2)) < 1 || mon > 12 || *p++ != '-' ||
            (day = take_digits(&p, 2)) < 1 || day > mdays[mon - 1] || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if ((hour = take_digits(&p, 2)) < 0 || hour > 23 || *p++ != ':' || (min = take_digits(&p, 2)) < 0 || min > 59 ||
            *p++ != ':' || (sec = take_digits(&p, 2)) < 0 || sec > 60)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++)
                        if (scale > 1) {
                                scale /= 10;
                                frac += (usec_t) (*p - '0') * scale;
                        }
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;
                if ((oh = take_digits(&p, 2)) < 0 || oh > 23 || *p++ != ':' || (om = take_digits(&p, 2)) < 0 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        tm = (struct tm){.tm_year = year - 1900,
                         .tm_mon = mon - 1,
                         .tm_mday = day,
                         .tm_hour = hour,
                         .tm_min = min,
                         .tm_sec = sec == 60 ? 59 : sec};
        t = timegm(&tm);
        if (t == (time_t) -1 || tm.tm_mday != day || (long long) t - offset < 0)
                return -EINVAL;
        *ret = (usec_t) ((long long) t - offset) * USEC_PER_SEC + frac;
        return 0;
}
