/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include <jansson.h>

#include "manager.h"
#include "time-util.h"

/* supd's metrics in the Prometheus text exposition format (version 0.0.4), for `supctl metrics`
 * and `supd --metrics-listen` (metrics-http.h). Every metric is listed in docs/metrics.md.
 *
 * Two halves: metrics_format() is pure (JSON and counters in, text out: unit-tested), and
 * metrics_collect() gathers what it formats from the manager, with the same reads as
 * `supctl status --json` (manager_status_json() with usage) plus two sysfs files per bridged
 * unit and a few /proc/self files: nothing is asked of the monitors, so a scrape never waits for
 * one. */

/* The latency buckets of the control requests, in microseconds (le="0.0001" ... "+Inf"). */
#define METRICS_LATENCY_BUCKETS 12

/* How many of one control method's requests took how long on supd's loop. */
typedef struct MetricsRequestStats {
        const char *method; /* static: the method table's name, or "other" for an unknown one */
        uint64_t count;
        usec_t sum;
        uint64_t buckets[METRICS_LATENCY_BUCKETS]; /* cumulative is computed when formatting */
} MetricsRequestStats;

typedef struct MetricsRequests {
        MetricsRequestStats *methods;
        size_t n_methods;
} MetricsRequests;

/* Counts one request of method (NULL: one without a known method) that took duration. */
void metrics_requests_note(MetricsRequests *r, const char *method, usec_t duration);
void metrics_requests_done(MetricsRequests *r);

/* What supd says of itself. A figure of UINT64_MAX is left out (not read). */
typedef struct MetricsDaemon {
        uint64_t reloads, reloads_refused;
        size_t monitors[_LIFE_MAX]; /* instances (each a monitor supd knows) by life */
        const MetricsRequests *requests;
        double cpu_seconds; /* process_*: < 0 when not read */
        uint64_t resident_bytes;
        uint64_t open_fds, max_fds;
        double start_time_seconds;
} MetricsDaemon;

/* The text for units (manager_status_json()'s array, usage included; each object may carry
 * "network": {"rx_bytes", "tx_bytes"} as the host's end of its link counts them and
 * "start_usec", the last start's duration, as metrics_collect() adds) and d. A unit's name seen a
 * second time (an instance being retired beside its successor) is skipped: one series per unit. */
char *metrics_format(const json_t *units, const MetricsDaemon *d);

/* A label value as the format wants it: backslash, double quote and newline escaped. */
char *metrics_escape_label(const char *s);

/* Gathers and formats everything (see above for the cost). */
char *metrics_collect(Manager *m, const MetricsRequests *requests);

/* From the manager's status path: an instance's state changed from old (-1: no status before) to
 * new; remembers when it began starting and how long its start took (Instance.start_usec). */
void metrics_note_state(Instance *i, int old, InstanceState new);
