/* SPDX-License-Identifier: MIT */
#pragma once

#include "manager.h"

/* The instances by unit name (manager.c's instances list holds them in no order): with a thousand
 * units, a status, a reload and every message from a monitor look units up by name, and a walk of
 * the list for each made those quadratic. A unit has at most two instances at once (its instance,
 * and one on its way out), both under its name. */

void manager_index_add(Manager *m, Instance *i);
void manager_index_remove(Manager *m, Instance *i);
/* The instance of name that is retiring (or not), or NULL. */
Instance *manager_index_find(Manager *m, const char *name, bool retiring);
void manager_index_done(Manager *m);
