/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "driver.h"
#include "event.h"
#include "exec.h"
#include "instance.h"
#include "sup-error.h"
#include "time-util.h"
#include "unit-spec.h"

/* The health check of one run of a unit (healthcheck.*), in two parts: a pure tally of check
 * results (HealthTally: no I/O, no clock), and a runner on the monitor's event loop that runs the
 * command through the isolation driver's exec (HealthCheck).
 *
 * The tally (Docker's and podman's rules). Each run begins at starting with a streak of 0.
 *   a check passes (exit 0)              -> healthy, streak 0 (from any state)
 *   a check fails (non-zero, killed, timed out, could not be started):
 *     starting, and the check began within start_period of the run's start
 *                                        -> nothing changes: a slow start is no failure
 *     otherwise                          -> streak + 1; streak >= retries -> unhealthy
 *   unhealthy stays unhealthy (the streak grows) until a check passes.
 * Once the run has been healthy, start_period no longer applies: a later failure counts even
 * within it (Docker's "the container is considered started").
 *
 * The runner. The first check runs min(interval, 1 s) after the run started (readiness, which
 * `requires` waits for, should not wait a whole interval), each next one interval after the
 * previous one ended. Checks never overlap. A check still running at healthcheck.timeout is
 * cancelled (exec_cancel: SIGKILL) and counts as failed, timed out, by SIGKILL. A driver that
 * cannot cancel (its exec returns no handle: the vm driver's) leaves the check running: it still
 * counts as failed at its timeout (timed out, exit code -1 and no signal: it was not killed), no
 * other check starts until it has ended, and each interval it outlives counts as one more such
 * failure, so that a hung check still turns the unit unhealthy; its own end is not counted. The output kept is the tail
 * (HEALTH_OUTPUT_MAX bytes) of stdout and stderr as they came, as text (NUL bytes dropped, a character cut at the front
 * dropped); a command that could not be started (ExecResult.error, code 126/127) or a driver that could not start it
 * (exec() < 0, code 126/127 as workload_exit_code() has it) keeps the reason as the output.
 *
 * What the monitor does with it (monitor.c):
 *   - health_check_new() when the workload runs (the driver's started(); run_started its
 *     CLOCK_MONOTONIC time), health_check_free() as soon as the run is no longer wanted or has
 *     ended (a stop or restart begins, the workload exited): no check runs while the unit stops,
 *     and no result comes afterwards. A unit without healthcheck.command has none, and its
 *     status.health.enabled stays false.
 *   - ops->changed() comes after every check (each changes at least last_check's time): write
 *     health_check_status() into the status and publish it; when old != new, log one line in the
 *     unit's log, "health: starting -> healthy" (with the check's exit and output for a failure).
 *     changed() may free the HealthCheck.
 *   - new == HEALTH_UNHEALTHY && old != HEALTH_UNHEALTHY (once per turn; a unit that stays
 *     unhealthy is not acted on again): healthcheck.on_failure decides:
 *       none     nothing more: only the status and the log say it.
 *       restart  free the check, then stop the workload as a restart does (stop.signal, then
 *                SIGKILL at stop.timeout); its end counts as a failed run (RUN_FAILED) whatever
 *                its exit status, and goes through the restart policy's back-off
 *                (restart_state_exit()) and start limit (restart_state_start(); past it the unit
 *                is failed) as any failure does, whatever restart.policy says (on_failure:
 *                restart asks for the restart); the status reason says "the health check failed
 *                N times in a row (healthcheck.on_failure: restart)".
 *       stop     free the check, then an operator's stop (supctl stop): the unit ends stopped and
 *                is not restarted; the reason says "stopped: the health check failed ...
 *                (healthcheck.on_failure: stop)".
 *       kill     free the check, then the driver's kill() (SIGKILL, no stop.signal first); the end
 *                is an exit by SIGKILL and the restart policy decides as for any such exit
 *                (on-failure and always restart, "no" does not); the reason says the health check
 *                killed it.
 *   - Each new run (a restart, a start) gets a new HealthCheck: it begins at starting, streak 0.
 *     The status keeps the previous run's health fields until then. */

/* ---- the tally ---- */

typedef struct HealthTally {
        HealthState state;
        unsigned failing_streak;
} HealthTally;

#define HEALTH_TALLY_INIT ((HealthTally){.state = HEALTH_STARTING})

/* Counts one check of a run that started at run_started (both CLOCK_MONOTONIC): it began at
 * check_started and passed or not. Uses u->healthcheck's retries and start_period. Returns
 * whether the state changed. */
bool health_tally_record(HealthTally *t, const UnitSpec *u, usec_t run_started, usec_t check_started, bool passed);

/* ---- the runner ---- */

typedef struct HealthCheck HealthCheck;

typedef struct HealthCheckOps {
        /* Driver.exec() of the instance (driver.h has the contract): cb and cb_userdata are the
         * check's; *ret the handle for cancel(), or NULL when it cannot be cancelled. */
        int (*exec)(const ExecRequest *req, const ExecCallbacks *cb, void *cb_userdata, DriverExec **ret,
                    SupError **ret_error, void *userdata);
        /* Driver.exec_cancel(): ends the exec, no callback of it afterwards. */
        void (*cancel)(DriverExec *x, void *userdata);
        /* After each check (the status changed): old and new states, equal unless it turned.
         * May free h. */
        void (*changed)(HealthCheck *h, HealthState old_state, HealthState new_state, void *userdata);
} HealthCheckOps;

/* Starts checking the run that started at run_started (CLOCK_MONOTONIC) with spec's healthcheck
 * (copied: spec may go). No callback runs from within this call. NULL when spec has no
 * healthcheck.command. ops must outlive the check. */
HealthCheck *health_check_new(Event *e, const UnitSpec *spec, usec_t run_started, const HealthCheckOps *ops,
                              void *userdata);

/* Ends the check that runs (cancel()), or leaves one that cannot be cancelled to end unheard; no
 * callback afterwards. Returns NULL. */
HealthCheck *health_check_free(HealthCheck *h);
static inline void health_check_freep(HealthCheck **h) {
        health_check_free(*h);
}

HealthState health_check_state(const HealthCheck *h);

/* Writes the health fields of s (enabled, state, streak, the last check; the old output freed). */
void health_check_status(const HealthCheck *h, InstanceStatus *s);
