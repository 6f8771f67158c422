/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "instance.h"
#include "string-table.h"
#include "unit-set.h"
#include "unit-spec.h"

/* reconcile: a pure function from the desired generation and the observed instances to an ordered
 * plan. No I/O, no clock, no randomness: the same inputs give the same plan, byte for byte.
 *
 * Rules:
 *  - a unit in the generation without an instance: START;
 *  - an instance whose unit is no longer in the generation: REMOVE (stop it, destroy its sandbox);
 *  - a unit whose spec hash differs from its instance's: REPLACE (stop the old instance, start one
 *    with the new spec), with the changed fields listed; when the instance was stopped by the
 *    operator (admin_stopped), the new instance is created but not started (start = false);
 *  - a unit whose hash is unchanged: nothing, whatever its state (an exited batch job is not
 *    run again by a reload; a failed unit is not retried by a reload).
 * Order: every REMOVE first, dependents before what they depend on (the observed specs' requires
 * and share); then START and REPLACE, dependencies before dependents (the desired specs'); ties
 * by unit name. The executor additionally waits, before starting a unit, until every unit it
 * requires is running: the plan orders, the executor gates. */

typedef enum ActionType {
        ACTION_START,
        ACTION_REPLACE,
        ACTION_REMOVE,
        _ACTION_TYPE_MAX,
        _ACTION_TYPE_INVALID = -EINVAL,
} ActionType;

DECLARE_STRING_TABLE_LOOKUP(action_type, ActionType);

typedef struct Observed {
        const char *name;
        const char *hash;      /* the spec hash the instance runs */
        const UnitSpec *spec;  /* that spec (for requires order and the changed-field list); may be NULL */
        InstanceState state;
        bool admin_stopped;    /* stopped by `supctl stop`: a reload does not start it again */
} Observed;

typedef struct Action {
        ActionType type;
        char *unit;
        bool start;     /* START/REPLACE: start the (new) instance */
        char **changed; /* REPLACE: the changed fields as YAML paths ("command", "resources.memory"),
                         * sorted; NULL-terminated, empty when the old spec is unknown */
} Action;

typedef struct Plan {
        Action *actions;
        size_t n_actions;
} Plan;

/* desired must be a valid set (unit_set_load() returned 0); observed names are unique. */
int reconcile(const UnitSet *desired, const Observed *observed, size_t n_observed, Plan **ret);

Plan *plan_free(Plan *p);
static inline void plan_freep(Plan **p) {
        plan_free(*p);
}

/* [{"action": "replace", "unit": "web", "start": true, "changed": ["command"]}, ...] */
json_t *plan_to_json(const Plan *p);

/* One line per action, for `supctl reload --dry-run` and supd's log:
 *   start db (new unit)
 *   replace web (changed: command, resources.memory)
 *   replace job, not started (stopped by the operator; changed: env)
 *   remove old (no longer defined)
 * "nothing to do" for an empty plan. A new string. */
char *plan_format(const Plan *p);

/* The fields that differ between two specs' canonical forms, as sorted YAML paths: object keys
 * joined with ".", a list or scalar that differs is reported at its own path (not per item). */
char **unit_spec_diff(const UnitSpec *a, const UnitSpec *b);
