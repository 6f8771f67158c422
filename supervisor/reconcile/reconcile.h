/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "instance.h"
#include "string-table.h"
#include "unit-diff.h"
#include "unit-set.h"
#include "unit-spec.h"

/* reconcile: a pure function from the desired generation and the observed instances to an ordered
 * plan. No I/O, no clock, no randomness: the same inputs give the same plan, byte for byte, whatever
 * the order of the observed instances. Which fields a running instance can take in place is the
 * isolation drivers' answer (is_live, unit-diff.h), handed in by the caller: the planner knows no
 * runtime.
 *
 * Rules (the state is looked at only to tell UPDATE from REPLACE; admin_stopped also for the
 * start flag of a REPLACE):
 *  - a unit in the generation without an instance: START (start = true);
 *  - an instance whose unit is no longer in the generation: REMOVE (stop it, destroy its sandbox),
 *    whatever its state and whether or not the operator stopped it;
 *  - a unit whose spec differs from its instance's only in fields that can be applied to a running
 *    workload (unit_spec_updatable_in_place() with is_live), whose instance is starting or running, or was
 *    stopped by the operator: UPDATE (the monitor takes the new spec and writes the new limits to
 *    the cgroup; same workload, same PID), with the changes listed;
 *  - any other unit whose spec hash differs from its instance's (or whose instance has no hash):
 *    REPLACE (stop the old instance, start one with the new spec), with the changed fields listed;
 *    when the instance was stopped by the operator (admin_stopped), the new instance is created but
 *    not started (start = false). A failed, exited or backing-off instance whose spec changed is
 *    replaced and started, even when only its limits changed: the edit is the operator's answer to
 *    the failure (a memory limit raised after an OOM kill);
 *  - a unit whose hash is unchanged: nothing, whatever its state (an exited batch job is not
 *    run again by a reload; a failed unit is not retried by a reload);
 *  - but a unit with an instance that shares a namespace (share.*) of a unit that gets a new
 *    instance (START or REPLACE): REPLACE with follows naming that unit, instead of nothing or
 *    UPDATE (its changed list kept), started unless the operator stopped it. The old instance
 *    holds the old namespace, which nothing else joins any more. Transitively.
 * Order: every REMOVE first, dependents before what they depend on (the observed specs' requires
 * and share; an instance without a spec has no known edges); then START and REPLACE, dependencies
 * before dependents (the desired specs'). A dependency counts through units that have no action
 * (a requires b requires c, with only a and c changed: c before a). Among the actions whose
 * turn it is, the first by unit name goes first. Units that depend on each other (a cycle, which a
 * valid generation does not have but stale observed specs may) go together, in name order, at the
 * turn of the first of them. Edges to units outside the side (desired or observed) are ignored.
 * The executor additionally waits, before starting a unit, until every unit it requires is
 * running: the plan orders, the executor gates. */

typedef enum ActionType {
        ACTION_START,
        ACTION_REPLACE,
        ACTION_REMOVE,
        ACTION_UPDATE,
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
        bool start;          /* START/REPLACE: start the (new) instance; false for REMOVE and UPDATE */
        char **changed;      /* REPLACE, UPDATE: the changed fields as YAML paths ("command",
                              * "resources.memory"), sorted; NULL-terminated, never NULL, empty when the
                              * old spec is unknown (or the hashes differ while the canonical forms do
                              * not). NULL for START and REMOVE. */
        char **details;      /* UPDATE: one "resources.memory: 64M -> 128M" per changed field;
                              * REPLACE: the changed fields that need the restart (the others could have
                              * been applied live), empty when every one could and the instance's state
                              * is why (it is not running); NULL otherwise. */
        InstanceState state; /* REPLACE: the instance's, for the text */
        char *follows;       /* REPLACE: the unit whose new instance this one follows (share.*), or NULL */
        const char *follows_kind; /* with follows: "ipc", "pid" or "network" (static) */
} Action;

typedef struct Plan {
        Action *actions;
        size_t n_actions;
} Plan;

/* desired must be a valid set (unit_set_load() returned 0); on an invalid one (a cycle, a missing
 * target) it still terminates, with the rules above. observed may be in any order. Returns 0 and the
 * plan (possibly empty), or -EINVAL when an observed name is NULL or appears twice, or is_live is
 * NULL. */
int reconcile(const UnitSet *desired, const Observed *observed, size_t n_observed, UnitFieldIsLive is_live, Plan **ret);

Plan *plan_free(Plan *p);
static inline void plan_freep(Plan **p) {
        plan_free(*p);
}

/* [{"action": "replace", "unit": "web", "start": true, "changed": ["command"]}, ...]: "start" for
 * start and replace, "changed" for replace and update, "details" for update, "follows" ({"unit":
 * "web", "share": "ipc"}) for a replace that follows a share target; [] for an empty or NULL plan. */
json_t *plan_to_json(const Plan *p);

/* One line per action, each ending in "\n", for `supctl reload --dry-run` and supd's log:
 *   start db (new unit)
 *   update web in place (resources.memory: 64M -> 128M, resources.pids: unlimited -> 64)
 *   replace web (changed: command)
 *   replace web (changed: command, resources.memory; command needs a restart)
 *   replace web (changed: resources.memory; not running (failed): started anew)
 *   replace job, not started (stopped by the operator; changed: env)
 *   replace app (hash changed, fields not known)      the old spec is unknown
 *   replace sidecar (it shares the ipc namespace of web, which gets a new instance)
 *   remove old (no longer defined)
 * "nothing to do\n" for an empty (or NULL) plan. A new string. */
char *plan_format(const Plan *p);
