/* SPDX-License-Identifier: MIT */
#include "rlimits.h"

#include <inttypes.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"

static uint64_t from_rlim(rlim_t v) {
        return v == RLIM_INFINITY ? UNIT_RLIMIT_INFINITY : (uint64_t) v;
}

static rlim_t to_rlim(uint64_t v) {
        return v == UNIT_RLIMIT_INFINITY ? RLIM_INFINITY : (rlim_t) v;
}

int rlimits_resolve(const UnitSpec *u, const RlimitSet host, bool can_raise, RlimitSet ret, SupError **ret_error) {
        RlimitSet l;

        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++) {
                const UnitRlimit *want = UNIT_SPEC_RLIMIT(u, i);
                uint64_t host_hard = from_rlim(host[i].rlim_max);

                if (want->set) {
                        if (want->hard > host_hard && !can_raise) {
                                _cleanup_free_ char *w = format_rlimit(want->hard), *h = format_rlimit(host_hard);
                                return sup_error_make(ret_error, -EPERM,
                                                      "rlimits.%s: the hard limit %s is above this host's (%s), and "
                                                      "sup may not raise it (it lacks CAP_SYS_RESOURCE)",
                                                      rlimit_name_to_string(i), w, h);
                        }
                        l[i] = (struct rlimit){.rlim_cur = to_rlim(want->soft), .rlim_max = to_rlim(want->hard)};
                } else if (i == RLIMIT_NOFILE) {
                        uint64_t hard = can_raise ? UNIT_RLIMIT_NOFILE_HARD : MIN(host_hard, UNIT_RLIMIT_NOFILE_HARD);
                        l[i] = (struct rlimit){.rlim_cur = to_rlim(MIN(hard, UNIT_RLIMIT_NOFILE_SOFT)),
                                               .rlim_max = to_rlim(hard)};
                } else
                        l[i] = host[i];
        }
        memcpy(ret, l, sizeof(l));
        return 0;
}

int rlimits_get_host(RlimitSet ret, bool *ret_can_raise) {
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                if (getrlimit(i, &ret[i]) < 0)
                        return negative_errno();
        if (syscall(SYS_capget, &h, d) < 0)
                return negative_errno();
        *ret_can_raise = d[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE);
        return 0;
}

int rlimits_apply(const RlimitSet l, SupError **ret_error) {
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                if (setrlimit(i, &l[i]) < 0) {
                        int r = negative_errno();
                        _cleanup_free_ char *s = format_rlimit(from_rlim(l[i].rlim_cur)),
                                            *h = format_rlimit(from_rlim(l[i].rlim_max));
                        return sup_error_errno(ret_error, r, "rlimits.%s: cannot set %s:%s", rlimit_name_to_string(i),
                                               s, h);
                }
        return 0;
}

static json_t *value_to_json(rlim_t v) {
        return v == RLIM_INFINITY ? json_string("unlimited") : json_integer((json_int_t) v);
}

json_t *rlimits_to_json(const RlimitSet l) {
        json_t *o = json_object();

        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                json_object_set_new(o, rlimit_name_to_string(i),
                                    json_pack("{s:o, s:o}", "soft", value_to_json(l[i].rlim_cur), "hard",
                                              value_to_json(l[i].rlim_max)));
        return o;
}

static int value_from_json(const json_t *v, rlim_t *ret) {
        if (json_is_string(v) && streq(json_string_value(v), "unlimited")) {
                *ret = RLIM_INFINITY;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return -EINVAL;
        *ret = (rlim_t) json_integer_value(v);
        return 0;
}

int rlimits_from_json(const json_t *o, RlimitSet ret, SupError **ret_error) {
        RlimitSet l;

        if (!json_is_object(o))
                return sup_error_make(ret_error, -EINVAL,
                                      "spec.rlimits: expected every resource's limits, as the host resolved them");
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++) {
                const json_t *v = json_object_get(o, rlimit_name_to_string(i));
                if (!json_is_object(v) || value_from_json(json_object_get(v, "soft"), &l[i].rlim_cur) < 0 ||
                    value_from_json(json_object_get(v, "hard"), &l[i].rlim_max) < 0 || l[i].rlim_cur > l[i].rlim_max)
                        return sup_error_make(ret_error, -EINVAL,
                                              "spec.rlimits.%s: expected {\"soft\": N, \"hard\": M} with N <= M "
                                              "(integers or \"unlimited\")",
                                              rlimit_name_to_string(i));
        }
        if (json_object_size(o) != _UNIT_RLIMIT_MAX)
                return sup_error_make(ret_error, -EINVAL, "spec.rlimits: unknown resources besides the known ones");
        memcpy(ret, l, sizeof(l));
        return 0;
}
