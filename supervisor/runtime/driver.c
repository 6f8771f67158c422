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
