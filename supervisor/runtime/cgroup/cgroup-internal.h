/* SPDX-License-Identifier: MIT */
#pragma once

/* cgroup.c's view of the backends, and what the integration test reaches for. Not for the rest of
 * sup, nor for the backends themselves (they include cgroup-util.h only). */

#include "cgroup-util.h"

extern const CgroupBackend cgroup_backend_v1;
extern const CgroupBackend cgroup_backend_v2;

/* Like cgroup_create() on a v2 root, with the controllers to enable in the parents named
 * explicitly (NULL-terminated, v2 names). On hosts whose cgroup2 holds none of sup's own
 * controllers, the test uses this to exercise the delegation with one it does hold. */
int cgroup_create_v2_with(const char *root, const char *parent, const char *name, const char *const *controllers,
                          Cgroup **ret);
