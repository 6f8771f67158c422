/* SPDX-License-Identifier: MIT */
#include "driver.h"

#include "macro.h"
#include "string-util.h"

int driver_apply_resources(const DriverContext *ctx, const UnitSpec *u, ResourcesTarget target, SupError **ret_error) {
        _cleanup_strv_free_ char **notes = NULL;
        int r;

        /* Without a cgroup of its own (a monitor's tests) the limits have nowhere to go. */
        if (!ctx->cgroup)
                return 0;
        r = resources_apply(ctx->cgroup, u, target, &notes, ret_error);
        STRV_FOREACH(n, notes)
        log_writer_printf(ctx->log, "sup", "%s", *n);
        return r < 0 ? r : 0;
}

int driver_exec_unsupported(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                            DriverExec **ret, SupError **ret_error) {
        return sup_error_make(ret_error, -EOPNOTSUPP, "exec: the %s driver cannot run commands in its workload yet",
                              d->driver->name);
}
