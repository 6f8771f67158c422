/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

#include "event.h"
#include "manager.h"

/* supd's control socket: JSON lines (see json-conn.h), mode 0600, or 0660 with a group whose
 * members may use the read-only verbs. Every connection's peer is checked with SO_PEERCRED:
 * root may do everything, the group only look.
 *
 * Methods: status {unit?} · reload {dry_run?} · start|stop|restart {unit} · logs {unit} ·
 * top {unit} (the monitor's answer, see monitor.c's monitor_top()) · wait {unit, healthy?,
 * timeout_usec?}: replied to once the unit runs (healthy: is healthy) with its status, or with an
 * error "timeout", "unreachable" (it failed, exited, was stopped or removed), "no-healthcheck",
 * "no-such-unit" · events {since_usec?, units?, follow?}: the event stream (events.h) ·
 * metrics: {"text": the Prometheus text format, metrics.h}. Read-only: status, logs, top,
 * wait, events, metrics. */

typedef struct ControlServer ControlServer;

int control_server_new(Event *e, Manager *m, const char *path, gid_t group, ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);

/* The count and time of the requests so far, by method (metrics.h). */
typedef struct MetricsRequests MetricsRequests;
const MetricsRequests *control_server_requests(const ControlServer *s);

/* Called by the daemon around a reload (for sd_notify). */
extern void (*control_on_reload)(bool begin);
