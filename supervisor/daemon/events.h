/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "instance.h"
#include "json-conn.h"
#include "macro.h"
#include "reconcile.h"
#include "time-util.h"
#include "unit-diag.h"

/* supd's event stream (`supctl events`, docs/events.md has the schema): what supd sees happen,
 * one JSON object per event, {"v": 1, "seq": N, "time": "...", "type": "...", "unit": ..., ...}.
 *
 * The last `keep` events are held in a ring in memory and written to a journal in the state
 * directory (two files, journal and journal.1: when journal holds keep lines it becomes journal.1
 * and a new journal begins), so that a later supd, after a restart or an upgrade, replays them to
 * `--since` and carries the sequence numbers on. Appended with one write() per event, no fsync:
 * a host crash loses what the page cache had not written back yet (the last seconds), and may
 * leave a torn last line, which the next load drops with a warning, as it drops any line that is
 * not an event. A journal that cannot be written (a full disk) is warned about once; the ring
 * goes on, and the journal again once a write succeeds.
 *
 * Subscribers (control.c's "events" method) each have a cursor in the ring: what they have not
 * been sent yet stays in the ring, not in a queue of theirs; their connection is given at most
 * EVENTS_OUTPUT_BUDGET bytes at a time, more when it has drained (json_conn_set_drain_handler()).
 * One that falls further behind than the ring holds loses the events that leave the ring unsent,
 * and gets one record {"type": "lost", "count": N} before the next event it is sent: a reader that
 * does not read costs supd a bounded amount of memory and never holds it up. */

#define EVENTS_SCHEMA_VERSION 1
#define EVENTS_KEEP_DEFAULT   4096U
#define EVENTS_KEEP_MIN       16U
/* Queued for one subscriber before it must read (the socket's buffer comes on top). */
#define EVENTS_OUTPUT_BUDGET (16U * 1024U)
/* A refused reload's event carries at most this many of its errors (and how many there were). */
#define EVENTS_RELOAD_ERRORS_MAX 20U

typedef struct Events Events;

/* dir: where the journal goes (made if missing), loaded now; NULL: memory only (tests). A journal
 * that cannot be read is a warning, never a failure: events start afresh. */
int events_new(const char *dir, size_t keep, Events **ret);
/* Drops the subscribers (their connections are the control server's) and the ring. */
Events *events_free(Events *ev);
DEFINE_TRIVIAL_CLEANUP_FUNC(Events *, events_free);

/* Records one event: type, the unit it is about (NULL: none) and its other fields (stolen; NULL:
 * none), and sends it to the subscribers. ev NULL: nothing (a manager without a stream, tests). */
void events_emit(Events *ev, const char *type, const char *unit, json_t *fields);

/* The events of a unit's new status from its monitor (old: its previous one, NULL for the first of
 * a new monitor): "state", "exit" (a new exit: code, signal, OOM), "restart" (its policy backs off
 * to start it again: reason, attempt, delay), "health", "pull" (a pull before its start begins or
 * ends). */
void events_emit_status(Events *ev, const char *unit, const InstanceStatus *old, const InstanceStatus *new,
                        const char *policy);
/* A reload: the plan applied, of n_units units (the rest unchanged), or refused (plan NULL) with
 * the errors in refused. */
void events_emit_reload(Events *ev, const Plan *plan, size_t n_units, const Diagnostics *refused);

/* A pull into the image store (`supctl image pull`) is over: key is its job's ("pull REFERENCE
 * ..."), reply its result or error (image-jobs.h). */
void events_emit_image_pull(Events *ev, const char *key, const json_t *reply);

/* Subscribes conn (the control client client_id) from the first event at or after since (0: the
 * oldest kept; USEC_INFINITY: only new ones), about units only (NULL: all; taken). The events kept
 * are sent first, then the reply to request (its "result": {"next_seq": N}); with follow the new
 * events follow, until events_unsubscribe(), else the subscription ends with the reply. -EBUSY (units
 * not taken): the client has a subscription already (one per connection). */
int events_subscribe(Events *ev, JsonConn *conn, uint64_t client_id, const json_t *request, usec_t since, char **units,
                     bool follow);
/* The client has gone: its subscriptions go, before its connection. */
void events_unsubscribe(Events *ev, uint64_t client_id);

/* Every subscription goes (the control server is closing its connections). */
void events_drop_subscribers(Events *ev);

/* What the ring holds: the next event's seq, and how many are kept. */
uint64_t events_next_seq(const Events *ev);
size_t events_count(const Events *ev);
