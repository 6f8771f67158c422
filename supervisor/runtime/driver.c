/* SPDX-License-Identifier: MIT */
#include "driver.h"

#include "macro.h"
#include "string-util.h"

extern const IsolationDriver process_driver;
extern const IsolationDriver vm_driver;

/* One entry per isolation mode: a new driver is its folder and its line here. */
static const IsolationDriver *const drivers[_ISOLATION_MAX] = {
        [ISOLATION_PROCESS] = &process_driver,
        [ISOLATION_HYPERV] = &vm_driver,
};

const IsolationDriver *isolation_driver_get(Isolation isolation) {
        if (isolation < 0 || isolation >= _ISOLATION_MAX)
                return NULL;
        return drivers[isolation];
}

bool isolation_driver_field_is_live(const UnitSpec *old, const UnitSpec *new, const char *field) {
        const IsolationDriver *d;

        if (!old || !new || !field || old->isolation != new->isolation)
                return false;
        d = isolation_driver_get(old->isolation);
        return d && d->is_live(old, new, field);
}

int driver_apply_resources(const DriverContext *ctx, const UnitSpec *u, ResourcesTarget target, SupError **ret_error) {
        _cleanup_strv_free_ char **notes = NULL;
        char err[512];
        int r;

        /* Without a cgroup of its own (a monitor's tests) the limits have nowhere to go. */
        if (!ctx->cgroup)
                return 0;
        r = resources_apply(ctx->cgroup, u, target, &notes, err, sizeof(err));
        STRV_FOREACH(n, notes)
        log_writer_printf(ctx->log, "sup", "%s", *n);
        if (r < 0)
                return sup_error_make(ret_error, r, "%s", err);
        return 0;
}

int driver_exec_unsupported(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                            DriverExec **ret, SupError **ret_error) {
        return sup_error_make(ret_error, -EOPNOTSUPP, "exec: the %s driver cannot run commands in its workload yet",
                              d->driver->name);
}
