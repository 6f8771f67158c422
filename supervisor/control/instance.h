/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

#include "string-table.h"
#include "time-util.h"

/* The life of one instance of a unit, as its monitor runs it and supd, supctl and status files
 * report it. The names are the stable vocabulary of `supctl status --json`. */
typedef enum InstanceState {
        INSTANCE_STARTING, /* the container is being set up, until the command is executed */
        INSTANCE_RUNNING,
        INSTANCE_STOPPING, /* the stop signal was sent; SIGKILL follows after stop.timeout */
        INSTANCE_STOPPED,  /* stopped on request, or not started yet */
        INSTANCE_EXITED,   /* the workload ended and the restart policy does not restart it */
        INSTANCE_BACKOFF,  /* waiting for the next restart attempt (next_restart_at) */
        INSTANCE_FAILED,   /* the start limit was hit, or the container cannot be created */
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

DECLARE_STRING_TABLE_LOOKUP(instance_state, InstanceState);

/* Whether the instance has, or is about to have, a workload: what "up" means for requires. */
static inline bool instance_state_is_active(InstanceState s) {
        return s == INSTANCE_STARTING || s == INSTANCE_RUNNING || s == INSTANCE_STOPPING;
}
