/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "event.h"
#include "guest-proto.h"

/* sup-init's execs (guest-proto.h: exec and the exec-* commands): commands run in the running
 * unit, set up as the workload is, with their output (and a streamed exec's input) relayed over
 * the agent port under the exec's windows. Everything is on sup-init's event loop; the events go
 * out through the owner's send(), which drops them while the host is away. */

typedef struct GuestExecs GuestExecs;

typedef struct GuestExecOwner {
        /* Takes msg; queues it on the agent port, or drops it while the host is away. */
        void (*send)(json_t *msg, void *userdata);
        /* sup-init's console, for what only a person reading it can act on. */
        void (*say)(const char *msg, void *userdata);
        void *userdata;
} GuestExecOwner;

/* run is the unit's (its spec, rlimits and seccomp filter), and outlives the GuestExecs, which
 * lives as long as sup-init: the guest powers off with it. */
GuestExecs *guest_execs_new(Event *e, const GuestRun *run, const GuestExecOwner *owner);

/* An exec or exec-* command (cmd decoded from msg; an exec-input's data may be taken from it).
 * command_runs: the unit's command has not ended (a new exec is refused afterwards). */
void guest_execs_command(GuestExecs *g, GuestCommand *cmd, const json_t *msg, bool command_runs);
/* Whether p was an exec's command: then its end is told once its output is out. */
bool guest_execs_reaped(GuestExecs *g, pid_t p, int status);
/* The host has left (connected false) or is back: without it there is no window, and nobody wants
 * what the execs write: they are killed and drained. */
void guest_execs_set_connected(GuestExecs *g, bool connected);
