/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "event.h"

/* The host's side of the guest's wall clock (guest-proto.h: clock, clock-adjust; docs/guest.md):
 * an NTP-like exchange over the agent port, right after hello (its step is what the run command
 * waits for, so that the workload starts on the host's time) and every VM_CLOCK_INTERVAL while the
 * command runs, each answered by a correction of the guest's clock.
 *
 * Why the host drives it: the guest has no clock of its own worth the name (QEMU's RTC has
 * one-second resolution, there is no kvmclock under TCG), and the host's CLOCK_REALTIME is the one
 * a process container reads, so keeping the guest on it is what makes both modes see the same
 * time. Why slew afterwards: a workload may measure intervals with CLOCK_REALTIME; a clock that
 * jumps back under it breaks that, where a 500 ppm slew does not. */

/* Between two exchanges while the command runs. The guest's TSC is the host's under TCG and its
 * frequency is given on the kernel command line (vm-host.h: tsc_khz), so it drifts by a few ppm
 * at most: microseconds per interval. */
#define VM_CLOCK_INTERVAL (10 * USEC_PER_SEC)
/* After a sample whose round trip was too long to use (guest-proto.h: guest_clock_decide()). */
#define VM_CLOCK_RETRY (1 * USEC_PER_SEC)
/* How many samples' round trips the shortest is taken of. */
#define VM_CLOCK_FILTER 8

typedef struct VmClock VmClock;

typedef struct VmClockOwner {
        /* Takes msg; queues it on the agent port, or drops it when the agent is gone. */
        void (*send)(json_t *msg, void *userdata);
        /* A line for the unit's log ("sup"). */
        void (*note)(const char *line, void *userdata);
        /* The first correction is sent (or the guest cannot keep time): the run command may go. */
        void (*synced)(void *userdata);
        void *userdata;
        bool verbose;    /* every sample into the log (sup.debug), not only the first and the steps */
        usec_t interval; /* between exchanges; 0: VM_CLOCK_INTERVAL (a test's is shorter) */
} VmClockOwner;

VmClock *vm_clock_new(Event *e, const VmClockOwner *owner);
VmClock *vm_clock_free(VmClock *c);

/* hello: the first exchange. */
void vm_clock_hello(VmClock *c);
/* "started": the exchanges every VM_CLOCK_INTERVAL begin. */
void vm_clock_running(VmClock *c);
/* The agent's clock event. */
void vm_clock_event(VmClock *c, const json_t *msg);
/* The agent refused a command: if it was the first clock (a sup-init from before the clock was
 * kept), synced() goes on without it, with a note. Returns whether it was that. */
bool vm_clock_refused(VmClock *c);
/* The agent is gone: no more exchanges. */
void vm_clock_stop(VmClock *c);
