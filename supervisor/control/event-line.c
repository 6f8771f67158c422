/* SPDX-License-Identifier: MIT */
#include "event-line.h"

#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"
#include "time-util.h"

static const char *str(const json_t *o, const char *key, const char *dflt) {
        return json_string_value(json_object_get(o, key)) ?: dflt;
}

/* "a, b" of an array of names; NULL when it is empty. */
static char *names(const json_t *list) {
        _cleanup_strv_free_ char **l = NULL;
        size_t k;
        json_t *v;

        json_array_foreach(list, k, v)
                strv_push(&l, xstrdup(json_string_value(v) ?: "?"));
        return l ? strv_join(l, ", ") : NULL;
}

static char *describe_reload(const json_t *e) {
        static const char *const keys[] = {"started", "replaced", "updated", "removed"};
        _cleanup_strv_free_ char **parts = NULL;
        json_t *first = json_array_get(json_object_get(e, "errors"), 0);
        json_int_t n_errors = json_integer_value(json_object_get(e, "error_count"));

        if (streq(str(e, "result", ""), "refused"))
                return xasprintf(
                        "refused (%lld error%s): %s:%lld:%lld: %s", (long long) n_errors, n_errors == 1 ? "" : "s",
                        str(first, "file", "?"), (long long) json_integer_value(json_object_get(first, "line")),
                        (long long) json_integer_value(json_object_get(first, "column")), str(first, "message", "?"));
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                _cleanup_free_ char *n = names(json_object_get(e, keys[k]));
                if (n)
                        strv_push(&parts, xasprintf("%s %s", keys[k], n));
        }
        strv_push(&parts, xasprintf("%lld unchanged", (long long) json_integer_value(json_object_get(e, "unchanged"))));
        _cleanup_free_ char *joined = strv_join(parts, "; ");
        return xasprintf("%s: %s", str(e, "result", "?"), joined);
}

/* The words after "TIME [UNIT] TYPE". */
static char *describe(const json_t *e) {
        const char *type = str(e, "type", "?");
        const json_t *sig = json_object_get(e, "signal");

        if (streq(type, "state"))
                return xasprintf("%s -> %s%s%s", str(e, "from", "none"), str(e, "to", "?"),
                                 json_is_string(json_object_get(e, "reason")) ? ": " : "", str(e, "reason", ""));
        if (streq(type, "exit"))
                return json_is_string(sig)
                               ? xasprintf("signal %s%s", json_string_value(sig),
                                           json_is_true(json_object_get(e, "oom")) ? " (the OOM killer)" : "")
                               : xasprintf("status %lld%s",
                                           (long long) json_integer_value(json_object_get(e, "exit_code")),
                                           json_is_true(json_object_get(e, "oom")) ? " (the OOM killer)" : "");
        if (streq(type, "restart")) {
                char span[64];
                return xasprintf(
                        "in %s (attempt %lld, restart.policy %s): %s",
                        format_timespan((usec_t) json_integer_value(json_object_get(e, "delay_ms")) * USEC_PER_MSEC,
                                        span, sizeof(span)),
                        (long long) json_integer_value(json_object_get(e, "attempt")), str(e, "policy", "?"),
                        str(e, "reason", "no reason given"));
        }
        if (streq(type, "health"))
                return xasprintf("%s -> %s (%lld failed in a row)", str(e, "from", "?"), str(e, "to", "?"),
                                 (long long) json_integer_value(json_object_get(e, "failing_streak")));
        if (streq(type, "reload"))
                return describe_reload(e);
        if (streq(type, "pull"))
                return xasprintf("%s %s%s%s", str(e, "reference", "?"), str(e, "result", "?"),
                                 json_is_string(json_object_get(e, "digest")) ||
                                                 json_is_string(json_object_get(e, "error"))
                                         ? (json_is_string(json_object_get(e, "error")) ? ": " : " ")
                                         : "",
                                 str(e, "error", str(e, "digest", "")));
        if (streq(type, "adopt"))
                return xasprintf("%s, pid %lld", str(e, "state", "?"),
                                 (long long) json_integer_value(json_object_get(e, "pid")));
        if (streq(type, "supd"))
                return streq(str(e, "action", ""), "start")
                               ? xasprintf("start (pid %lld)",
                                           (long long) json_integer_value(json_object_get(e, "pid")))
                               : xasprintf("%s (units: %s)", str(e, "action", "?"), str(e, "units", "?"));
        if (streq(type, "lost"))
                return xasprintf("%lld events (seq %lld to %lld): this reader did not keep up",
                                 (long long) json_integer_value(json_object_get(e, "count")),
                                 (long long) json_integer_value(json_object_get(e, "first_seq")),
                                 (long long) json_integer_value(json_object_get(e, "last_seq")));
        /* A type this supctl does not know (a newer supd's): its fields as they are. */
        return json_dumps(e, JSON_COMPACT);
}

char *event_format_line(const json_t *e) {
        _cleanup_free_ char *what = describe(e), *raw = NULL, *line = NULL;
        const char *unit = str(e, "unit", NULL);
        size_t size = 0;
        FILE *f;

        raw = xasprintf("%s %s%s%s %s", str(e, "time", "?"), unit ?: "", unit ? " " : "", str(e, "type", "?"), what);
        f = open_memstream(&line, &size);
        if (!f)
                abort(); /* as alloc.h's x*() */
        (void) fwrite_sanitized(raw, strlen(raw), "", false, f);
        if (fclose(f) != 0)
                abort();
        return TAKE_PTR(line);
}
