/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "time-util.h"

/* The keys of a unit's status that `supctl status`'s table shows (docs/supd.md). */
#define STATUS_TABLE_N_FIELDS 13
extern const char *const status_table_fields[STATUS_TABLE_N_FIELDS];

/* `supctl status`'s table of units (status objects, each with at least those keys; a missing key
 * reads as null): a header line, then a line per unit, with uptimes and next restarts as of now
 * (CLOCK_REALTIME). supd writes it for `supctl status` (a thousand units' rows are cheaper to send
 * as the lines they make than as objects to parse), supctl for a supd from before that. What a
 * workload chose (a reason quoting a health check's output) has its control characters shown as
 * '?' (fwrite_sanitized()), so that a line stays one line and never moves the terminal. */
char *status_table_format(const json_t *units, usec_t now);

/* "code 3", "SIGKILL (oom)" or "-": how a unit's last run ended (exit_code, exit_signal, oom). */
void status_last_exit(const json_t *o, char *buf, size_t size);

/* "pulling REF: 1/3 layers, 5/9 bytes" while a registry pull runs before the start (its "pull");
 * false when none runs. */
bool status_format_pull(const json_t *o, char *buf, size_t size);
