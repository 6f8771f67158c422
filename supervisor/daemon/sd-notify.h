/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"
#include "time-util.h"

/* The service manager notification protocol (sd_notify(3)), written without libsystemd.
 *
 * A message is one datagram of newline-separated KEY=VALUE assignments, sent to the AF_UNIX socket
 * named by $NOTIFY_SOCKET: an absolute path, or with a leading '@' a name in the abstract namespace.
 * The manager attributes it to a unit by the sender's credentials, which the kernel attaches
 * (SO_PASSCRED on the receiving end); with NotifyAccess=main only supd's own pid is heard, so
 * nothing here passes credentials or file descriptors.
 *
 * What supd is meant to send, and when:
 *   READY=1                   once the control socket listens and running monitors are adopted
 *                             (not after every unit is up: image unpacking may take minutes)
 *   RELOADING=1               with MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>, when a reload starts;
 *                             READY=1 again when it ends, whether applied or refused (systemd ≥ 253
 *                             requires MONOTONIC_USEC for Type=notify-reload; 252 ignores it)
 *   STOPPING=1                when it begins to stop all units, or to exit leaving them running
 *   STATUS=<one line>         e.g. "5 units running, 1 failed"
 *   WATCHDOG=1                every half of sd_watchdog_interval(), from a timer on the event loop
 *   EXTEND_TIMEOUT_USEC=<µs>  while stopping units takes longer than TimeoutStopSec= allows
 *
 * These variables describe supd's place under systemd, not a workload's: whatever supd spawns
 * (monitors, and through them workloads) gets an environment built from scratch, never supd's, so
 * that a workload cannot speak for supd and sees the same environment with or without systemd.
 * They are read with getenv() on each call: supd is single-threaded and does not unset them.
 *
 * Library code: returns -errno, never logs. */

/* Sends state as one datagram to $NOTIFY_SOCKET. Returns 0 when the variable is unset (not started
 * by a service manager), 1 when sent, or -errno:
 *   -EINVAL        state NULL or empty; $NOTIFY_SOCKET empty, relative, or a bare "@"
 *   -ENAMETOOLONG  the address does not fit in sockaddr_un (a path must leave room for its NUL)
 *   -EMSGSIZE      state is PIPE_BUF bytes or more: systemd drops such a message unread
 *   -ENOENT, -ECONNREFUSED, -EACCES, ...   from sendto(): nobody listens there
 *   -EAGAIN        the receiver's queue is full; the send never blocks the event loop
 * The socket is opened with SOCK_CLOEXEC and closed before returning, whatever the outcome. */
int sd_notify_send(const char *state);

/* sd_notify_send() of a formatted message; also -ENOMEM. */
int sd_notifyf(const char *fmt, ...) _printf_(1, 2);

/* Whether the service manager expects WATCHDOG=1 keep-alive messages. Returns 0 when
 * $WATCHDOG_USEC is unset, or when $WATCHDOG_PID is set to another process's pid (the variables
 * were meant for an ancestor and inherited); 1 when enabled, with the timeout in *ret (which may be
 * NULL; written only then); -EINVAL for a value that is not a positive decimal number, -ERANGE for
 * one out of range. Ping at half the returned interval, as sd_watchdog_enabled(3) recommends. */
int sd_watchdog_interval(usec_t *ret);
