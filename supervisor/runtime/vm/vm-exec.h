/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>

#include "event.h"
#include "exec.h"
#include "sup-error.h"

/* The host's side of the execs in a guest (guest-proto.h: exec and the exec-* commands and
 * events), for vm.c: which exec an event is for, their windows, and a streamed exec's relay
 * between the caller's fds and the agent port.
 *
 * A stream's relay, with end-to-end backpressure: stdio[0] is read only while the guest's input
 * window is open (GUEST_EXEC_WINDOW exec-input unacknowledged; its end of file is an
 * exec-input-close), and an exec-output is acknowledged only once it is all written to stdio[1]
 * or stdio[2] (with a terminal: all to stdio[1]); a write that would block waits for EPOLLOUT.
 * So a client that does not read holds at most GUEST_EXEC_WINDOW chunks here and stalls its own
 * command only: never the agent port, the other execs or the monitor's loop. The dups of the
 * caller's fds are made non-blocking, which their open file descriptions share: the caller's fds
 * are pipes or sockets it made for the exec (exec.h). A write to a reader that has gone (EPIPE)
 * drops that stream's output from then on (SIGPIPE is ignored by the monitor). */

typedef struct VmExecs VmExecs;
typedef struct VmExec VmExec;

typedef struct VmExecsOwner {
        /* Takes msg; queues it on the agent port, or drops it when the agent is gone. */
        void (*send)(json_t *msg, void *userdata);
        /* A line for the unit's log ("sup"). */
        void (*note)(const char *line, void *userdata);
        void *userdata;
} VmExecsOwner;

VmExecs *vm_execs_new(Event *e, const VmExecsOwner *owner);
/* Ends every exec (vm_execs_fail_all()) and frees. */
VmExecs *vm_execs_free(VmExecs *g);

/* Sends the exec command; *ret is the handle until its exited() has returned or
 * vm_exec_cancel(). No callback from within the call. */
int vm_execs_start(VmExecs *g, const ExecRequest *req, const ExecCallbacks *callbacks, void *userdata, VmExec **ret,
                   SupError **ret_error);
/* An exec-output, exec-input-ack or exec-exit event of the agent. */
void vm_execs_event(VmExecs *g, const json_t *msg);
/* The agent is gone: every exec ends with -1/SIGKILL (exec.h), whatever of its output is held is
 * dropped; cancelled ones just go. */
void vm_execs_fail_all(VmExecs *g);

/* exec-kill to the guest, and the handle is dropped: no callback of it runs afterwards. */
VmExec *vm_exec_cancel(VmExec *x);
/* exec-resize; -ENOTTY for an exec without a terminal. */
int vm_exec_resize(VmExec *x, unsigned short rows, unsigned short cols);
