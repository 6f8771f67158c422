/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The guest's wall clock, kept on the host's by the agent's clock and clock-adjust commands
 * (guest-proto.h, whose guest_clock_now() both sides read; docs/guest.md says why and how well). */

/* Corrects the clock, which is offset_ns ahead of the host's (behind when negative): step sets it
 * at once, by that much relative to itself (the command's own delay does not matter); otherwise the
 * kernel slews it, at most 0.5 ms per second, so that it never runs backwards under the workload.
 * A step drops a slew still under way; a slew replaces one (each offset is the whole error). */
int guest_clock_adjust(int64_t offset_ns, bool step);
