/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "container-share.h"
#include "sup-error.h"
#include "unit-spec.h"

/* share.*: the running instances whose namespaces an instance joins, found anew at every start
 * (the monitor restarts its workload on its own, without asking supd, and the target may have a
 * new init since the last start).
 *
 * Where: instance directories are siblings in supd's run directory, so the target's monitor
 * keeps its status in INSTANCES/TARGET/status.json. It must say running, isolation process, and
 * give the PID of the target's container init. Whose that PID is, is then proven rather than
 * trusted: it is opened as a pidfd first, and only then checked to be in the target's cgroup
 * (CGROUP_ROOT/CGROUP_PARENT/TARGET). A PID that was freed and reused since the status was written
 * fails the check; a process that exits after it leaves a pidfd that setns() refuses (ESRCH). The
 * pidfd never names another process. */

/* Fills ret with a pidfd per shared kind (-EBADF for a kind not shared). On failure returns
 * -errno, the reason (naming the unit and the key) in *ret_error, and nothing open. */
int share_targets_open(const UnitSpec *u, const char *instances, const char *cgroup_root, const char *cgroup_parent,
                       ContainerShare *ret, SupError **ret_error);
void share_targets_close(ContainerShare *s);

/* The share.* key ("share.ipc") and target unit of the first kind whose target has exited since
 * it was opened, or NULL. */
const char *share_targets_gone(const ContainerShare *s, const UnitSpec *u, const char **ret_unit);
