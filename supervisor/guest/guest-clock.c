/* SPDX-License-Identifier: MIT */
#include "guest-clock.h"

#include <errno.h>
#include <stddef.h>
#include <sys/timex.h>
#include <time.h>

int guest_clock_adjust(int64_t offset_ns, bool step) {
        /* adjtime()'s single-shot offset, in µs: the kernel slews by it at 500 ppm and then
         * stops; a new one replaces what is left of the last. */
        struct timex slew = {.modes = ADJ_OFFSET_SINGLESHOT, .offset = step ? 0 : -(long) (offset_ns / 1000)};

        if (adjtimex(&slew) < 0)
                return -errno;
        if (!step)
                return 0;
        /* ADJ_SETOFFSET adds to the clock in the kernel: no window between reading and setting
         * it. With ADJ_NANO, tv_usec holds ns, from 0 to 10^9 - 1, and tv_sec the rest (floor). */
        int64_t add = -offset_ns;
        int64_t sec = add / 1000000000, nsec = add % 1000000000;
        if (nsec < 0) {
                nsec += 1000000000;
                sec--;
        }
        struct timex set = {.modes = ADJ_SETOFFSET | ADJ_NANO, .time = {.tv_sec = (time_t) sec, .tv_usec = nsec}};
        return adjtimex(&set) < 0 ? -errno : 0;
}
