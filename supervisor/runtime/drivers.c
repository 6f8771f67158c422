/* SPDX-License-Identifier: MIT */
/* The registry of isolation drivers: above both of them in the layers (meson.build's
 * supdrivers), so that driver.h's interface and the drivers never depend on each other's
 * registry. */
#include "drivers.h"

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
