/* SPDX-License-Identifier: MIT */
#include "instance.h"

static const char *const instance_state_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STARTING] = "starting",
        [INSTANCE_RUNNING] = "running",
        [INSTANCE_STOPPING] = "stopping",
        [INSTANCE_STOPPED] = "stopped",
        [INSTANCE_EXITED] = "exited",
        [INSTANCE_BACKOFF] = "backoff",
        [INSTANCE_FAILED] = "failed",
};
DEFINE_STRING_TABLE_LOOKUP(instance_state, InstanceState, _INSTANCE_STATE_MAX);
