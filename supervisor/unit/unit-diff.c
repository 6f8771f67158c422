/* SPDX-License-Identifier: MIT */
#include "unit-diff.h"

#include <jansson.h>

#include "alloc.h"
#include "string-util.h"

/* env is one field: its keys are the operator's variable names, not the format's, and a changed
 * variable means the same to the executor whichever it is. */
static bool json_path_is_leaf(const char *path) {
        return path && streq(path, "env");
}

static void json_diff(const char *path, json_t *a, json_t *b, char ***changed) {
        const char *key;
        json_t *v;

        if (!json_is_object(a) || !json_is_object(b) || json_path_is_leaf(path)) {
                if (!json_equal(a, b))
                        strv_push(changed, xstrdup(path));
                return;
        }
        json_object_foreach(a, key, v) {
                _cleanup_free_ char *sub = path ? xasprintf("%s.%s", path, key) : xstrdup(key);
                json_t *w = json_object_get(b, key);
                if (w)
                        json_diff(sub, v, w, changed);
                else
                        strv_push(changed, TAKE_PTR(sub));
        }
        json_object_foreach(b, key, v)
                if (!json_object_get(a, key))
                        strv_push(changed, path ? xasprintf("%s.%s", path, key) : xstrdup(key));
}

char **unit_spec_diff(const UnitSpec *a, const UnitSpec *b) {
        char **changed = xnew0(char *, 1);
        json_t *x, *y;

        if (!a || !b)
                return changed;
        x = unit_spec_to_json(a);
        y = unit_spec_to_json(b);
        if (x && y)
                json_diff(NULL, x, y, &changed);
        json_decref(x);
        json_decref(y);
        strv_sort(changed);
        return changed;
}

bool unit_spec_updatable_in_place(const UnitSpec *old, const UnitSpec *new, char *const *changed,
                                  UnitFieldIsLive is_live) {
        if (!old || !new || !changed || !changed[0] || !is_live || !streq(old->name, new->name) ||
            old->isolation != new->isolation)
                return false;
        STRV_FOREACH(f, changed)
                if (!is_live(old, new, *f))
                        return false;
        return true;
}

/* One resource as a unit file writes it; "unlimited" (or "default") when unset. */
static char *format_resource(const UnitSpec *u, const char *field) {
        if (streq(field, "resources.memory"))
                return u->resources.memory ? format_size(u->resources.memory) : xstrdup("unlimited");
        if (streq(field, "resources.cpus"))
                return u->resources.cpus_milli ? format_cpus(u->resources.cpus_milli) : xstrdup("unlimited");
        if (streq(field, "resources.pids"))
                return u->resources.pids ? xasprintf("%llu", (unsigned long long) u->resources.pids)
                                         : xstrdup("unlimited");
        if (streq(field, "resources.io_weight"))
                return u->resources.io_weight ? xasprintf("%u", u->resources.io_weight) : xstrdup("default");
        return NULL;
}

char **unit_spec_describe_changes(const UnitSpec *old, const UnitSpec *new, char *const *changed) {
        char **l = xnew0(char *, 1);

        STRV_FOREACH(f, changed) {
                _cleanup_free_ char *a = old ? format_resource(old, *f) : NULL,
                                    *b = new ? format_resource(new, *f) : NULL;

                strv_push(&l, a && b ? xasprintf("%s: %s -> %s", *f, a, b) : xstrdup(*f));
        }
        return l;
}
