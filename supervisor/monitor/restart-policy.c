/* SPDX-License-Identifier: MIT */
#include "restart-policy.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"

void restart_state_done(RestartState *s) {
        free(s->starts);
        *s = (RestartState) {};
}

void restart_state_reset(RestartState *s) {
        s->consecutive_failures = 0;
        s->n_starts = 0;
}

bool restart_state_start(RestartState *s, const UnitSpec *u, usec_t t) {
        unsigned keep = 0;

        /* Forget starts that fell out of the window. */
        for (unsigned i = 0; i < s->n_starts; i++)
                if (t - s->starts[i] < u->restart.interval)
                        s->starts[keep++] = s->starts[i];
        s->n_starts = keep;
        if (s->n_starts >= u->restart.burst)
                return false;
        if (!s->starts)
                s->starts = xnew(usec_t, START_HISTORY_MAX);
        s->starts[s->n_starts++] = t;
        return true;
}

bool restart_policy_wants_restart(RestartPolicy p, RunEnd k) {
        switch (p) {
        case RESTART_NO:
                return false;
        case RESTART_ON_FAILURE:
                return k != RUN_CLEAN;
        case RESTART_ALWAYS:
                return true;
        case _RESTART_POLICY_MAX:
        case _RESTART_POLICY_INVALID:
                break;
        }
        return false;
}

usec_t restart_state_exit(RestartState *s, const UnitSpec *u, RunEnd k, usec_t uptime, double jitter) {
        usec_t delay = u->restart.delay;

        if (k == RUN_CLEAN || (k == RUN_FAILED && uptime >= u->restart.max_delay))
                s->consecutive_failures = 0;
        else
                s->consecutive_failures++;

        for (unsigned i = 1; i < s->consecutive_failures && delay < u->restart.max_delay; i++)
                delay = delay > u->restart.max_delay / 2 ? u->restart.max_delay : delay * 2;
        delay = MIN(delay, u->restart.max_delay);

        /* Jitter spreads the restarts of units that failed together (a shared dependency). */
        jitter = MAX(-1.0, MIN(1.0, jitter));
        return (usec_t) ((double) delay * (1.0 + jitter / 10.0));
}
