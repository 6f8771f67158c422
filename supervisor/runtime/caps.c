/* SPDX-License-Identifier: MIT */
#include "caps.h"

#include <errno.h>
#include <sys/capability.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cap_t, cap_free);

uint64_t caps_of_unit(const UnitSpec *u, unsigned last_cap) {
        uint64_t all = caps_all(last_cap), base;

        if (u->security.cap_add_all)
                base = all;
        else if (u->security.cap_drop_all)
                base = 0;
        else
                base = CAPS_DEFAULT;
        /* The parser refuses a capability both added and dropped, so the order does not matter. */
        return ((base | u->security.cap_add) & ~u->security.cap_drop) & all;
}

int caps_for_unit(const UnitSpec *u, bool root, unsigned last_cap, CapSets *ret, unsigned *unsupported) {
        uint64_t beyond = u->security.cap_add & ~caps_all(last_cap), set;

        if (beyond) {
                unsigned cap = 0;
                while (!(beyond & CAP_BIT(cap)))
                        cap++;
                *unsupported = cap;
                return -EOPNOTSUPP;
        }
        set = caps_of_unit(u, last_cap);
        *ret = (CapSets) {
                .bounding = set,
                .effective = root ? set : 0,
                .permitted = root ? set : 0,
        };
        return 0;
}

unsigned caps_last_cap(void) {
        /* libcap reads /proc/sys/kernel/cap_last_cap, or probes the bounding set without /proc. */
        cap_value_t n = cap_max_bits();
        return n > 0 ? (unsigned) n - 1 : CAP_LAST_CAP;
}

uint64_t caps_bounding_held(unsigned last_cap) {
        uint64_t held = 0;

        for (unsigned c = 0; c <= last_cap && c < 64; c++)
                if (cap_get_bound((cap_value_t) c) > 0)
                        held |= CAP_BIT(c);
        return held;
}

int caps_apply_bounding(uint64_t keep, unsigned last_cap) {
        for (unsigned c = 0; c <= last_cap && c < 64; c++)
                if (!(keep & CAP_BIT(c)) && cap_drop_bound((cap_value_t) c) < 0)
                        return negative_errno();
        return 0;
}

static int set_flag(cap_t caps, cap_flag_t flag, uint64_t set, unsigned last_cap) {
        for (unsigned c = 0; c <= last_cap && c < 64; c++) {
                cap_value_t v = (cap_value_t) c;
                if ((set & CAP_BIT(c)) && cap_set_flag(caps, flag, 1, &v, CAP_SET) < 0)
                        return negative_errno();
        }
        return 0;
}

int caps_apply(const CapSets *s, unsigned last_cap) {
        _cleanup_(cap_freep) cap_t caps = cap_init(); /* all clear */
        int r;

        if (s->ambient != 0)
                return -EINVAL;
        if (!caps)
                return negative_errno();
        r = set_flag(caps, CAP_EFFECTIVE, s->effective, last_cap);
        if (r >= 0)
                r = set_flag(caps, CAP_PERMITTED, s->permitted, last_cap);
        if (r >= 0)
                r = set_flag(caps, CAP_INHERITABLE, s->inheritable, last_cap);
        if (r < 0)
                return r;
        if (cap_set_proc(caps) < 0)
                return negative_errno();
        /* Lowering the inheritable or permitted set drops what they no longer hold from the
         * ambient set already; clearing it says so whatever came before. */
        if (cap_reset_ambient() < 0)
                return negative_errno();
        return 0;
}
