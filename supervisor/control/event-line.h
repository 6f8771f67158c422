/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>

/* An event of supd's stream (docs/events.md) as `supctl events` shows it: "TIME [UNIT] TYPE WHAT",
 * one line without its newline. The strings in an event are not ours (a refused reload's message
 * quotes the unit file, a reason the workload's words): every control character in them, a newline
 * first, is shown as '?' (fwrite_sanitized()), so that an event is always one line and never moves
 * the terminal. */
char *event_format_line(const json_t *e);
