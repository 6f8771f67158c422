/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "unit-spec.h"

/* What changed between two specs of a unit, and whether a running instance can take the change:
 * for the planner (reconcile.h) and the monitor's live update alike. Pure. */

/* Whether field (a unit_spec_diff() path) can change on a running workload of old's isolation,
 * from old to new: each isolation driver's answer (runtime/driver.h), handed in by whoever wires
 * the two together (daemon/, monitor/). */
typedef bool (*UnitFieldIsLive)(const UnitSpec *old, const UnitSpec *new, const char *field);

/* The fields that differ between two specs' canonical forms (unit_spec_to_json()), as sorted YAML
 * paths: object keys joined with ".", a list or scalar that differs is reported at its own path (not
 * per item), a key present on one side only at its own path ("healthcheck", "resources.memory").
 * env is one field ("env"): its keys are the operator's variable names, not the format's. A new
 * NULL-terminated list, empty when the specs are the same or either is NULL. */
char **unit_spec_diff(const UnitSpec *a, const UnitSpec *b);

/* Whether an instance running old can take new in place: the specs have the same name and
 * isolation, changed (unit_spec_diff(old, new)) is not empty, and every field in it is_live(). */
bool unit_spec_updatable_in_place(const UnitSpec *old, const UnitSpec *new, char *const *changed,
                                  UnitFieldIsLive is_live);

/* "resources.memory: 64M -> 128M" for each field of changed (units as in a unit file; "unlimited",
 * or "default" for io_weight, where a side has none). A new NULL-terminated list. */
char **unit_spec_describe_changes(const UnitSpec *old, const UnitSpec *new, char *const *changed);
