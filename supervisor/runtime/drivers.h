/* SPDX-License-Identifier: MIT */
#pragma once

#include "driver.h"

/* The driver of an isolation mode; NULL for one that has none. */
const IsolationDriver *isolation_driver_get(Isolation isolation);

/* Whether a running instance of old can take field of new in place: the same isolation, and its
 * driver's is_live(). What reconcile gets from daemon/ (reconcile stays pure and runtime-free). */
bool isolation_driver_field_is_live(const UnitSpec *old, const UnitSpec *new, const char *field);
