/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>

#include <jansson.h>

#include "sup-error.h"
#include "unit-spec.h"

/* The resource limits (setrlimit(2)) of a unit's command, the same numbers in both isolation
 * modes. They are resolved once, on the host, by the monitor: a hyperv guest's kernel has defaults
 * of its own (nofile 1024:4096, nproc from the guest's RAM), so the guest gets every limit as a
 * number from the host and applies what process isolation's command would have had.
 *
 * The policy, as systemd gives a service its limits: what the unit sets; where it does not, nofile
 * 1024 soft and 524288 hard (the hard limit no higher than the host's unless sup may raise it: a
 * default that the host cannot grant is lowered, never an error), and every other resource as the
 * monitor has it (what the command would inherit). A hard limit the unit sets above the host's is
 * refused when sup lacks CAP_SYS_RESOURCE, whatever the mode: the guest could grant it, process
 * isolation could not. */

typedef struct rlimit RlimitSet[_UNIT_RLIMIT_MAX];

/* Pure: host[] is the monitor's own limits, can_raise whether it holds CAP_SYS_RESOURCE. On error,
 * a message naming the unit's key in *ret_error. */
int rlimits_resolve(const UnitSpec *u, const RlimitSet host, bool can_raise, RlimitSet ret, SupError **ret_error);

/* The calling process's limits, and whether it may raise a hard limit. */
int rlimits_get_host(RlimitSet ret, bool *ret_can_raise);

/* setrlimit() of every resource; -errno with a message naming the resource in *ret_error. */
int rlimits_apply(const RlimitSet l, SupError **ret_error);

/* Every resource as the canonical form's rlimits spells it ({"nofile":{"soft":1024,"hard":4096},
 * ...}), and back; the decoder wants every resource, so that none is left to a guest kernel's
 * default. */
json_t *rlimits_to_json(const RlimitSet l);
int rlimits_from_json(const json_t *o, RlimitSet ret, SupError **ret_error);
