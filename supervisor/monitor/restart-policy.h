/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "time-util.h"
#include "unit-spec.h"

/* The decisions of the restart policy, free of clocks and randomness so that every case can be
 * tested: times come in, and jitter is a number in [-1, 1] the caller draws. */

#define START_HISTORY_MAX 10000 /* restart.burst is at most 10000 */

typedef struct RestartState {
        unsigned consecutive_failures; /* failed runs since the last one that counted as healthy */
        usec_t *starts;                /* monotonic start times within the last interval, oldest first */
        unsigned n_starts;
} RestartState;

void restart_state_done(RestartState *s);
void restart_state_reset(RestartState *s); /* an operator's start: the slate is clean */

/* Records a start at t. Returns false if it breaks the start limit (burst starts within
 * interval): the unit is then failed and must not start. */
bool restart_state_start(RestartState *s, const UnitSpec *u, usec_t t);

typedef enum RunEnd {
        RUN_CLEAN,      /* exit code 0 */
        RUN_FAILED,    /* a non-zero exit code, or killed by a signal (OOM included) */
        RUN_SETUP_FAILED,      /* the container could not be set up or the command not executed */
} RunEnd;

/* Whether the policy restarts after an exit of this kind. */
bool restart_policy_wants_restart(RestartPolicy p, RunEnd k);

/* The back-off before the next start after an unexpected exit at t of a run that lasted uptime:
 * restart.delay doubled for each consecutive failure, at most restart.max_delay, times
 * (1 + jitter/10). A run of at least max_delay ends the streak, as a clean exit does. */
usec_t restart_state_exit(RestartState *s, const UnitSpec *u, RunEnd k, usec_t uptime, double jitter);
