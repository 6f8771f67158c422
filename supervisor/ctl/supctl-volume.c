/* SPDX-License-Identifier: MIT */
/* supctl volume: the operator's side of supd's named volumes (docs/volumes.md). */
#include <stdio.h>

#include "alloc.h"
#include "log.h"
#include "macro.h"
#include "string-util.h"
#include "supctl.h"

/* Listing reads a few files per volume; a removal deletes a whole tree, as long as that takes. */
#define VOLUME_READ_TIMEOUT (60 * USEC_PER_SEC)

/* "web (running), db": the units running with it, then the loaded units that name it. */
static char *users_of(const json_t *v, const char *none) {
        _cleanup_strv_free_ char **l = NULL;
        const json_t *running = json_object_get(v, "users");
        size_t k;
        json_t *u;

        json_array_foreach(running, k, u)
                strv_push(&l, xasprintf("%s (running)", json_string_value(u) ?: "?"));
        json_array_foreach(json_object_get(v, "named_by"), k, u) {
                bool seen = false;
                size_t i;
                json_t *w;
                json_array_foreach(running, i, w)
                        seen = seen || json_equal(u, w);
                if (!seen)
                        strv_push(&l, xstrdup(json_string_value(u) ?: "?"));
        }
        return l ? strv_join(l, ", ") : xstrdup(none);
}

static char *owner_of(const json_t *v) {
        const json_t *uid = json_object_get(v, "uid"), *gid = json_object_get(v, "gid");
        const char *mode = json_string_value(json_object_get(v, "mode"));

        if (!json_is_integer(uid) || !json_is_integer(gid))
                return xstrdup("?");
        return xasprintf("%lld:%lld %s", (long long) json_integer_value(uid), (long long) json_integer_value(gid),
                         mode ?: "?");
}

static void print_volume_table(const json_t *list, bool flag) {
        size_t k;
        json_t *v;

        printf("%-32s %-20s %-16s %s\n", "NAME", "CREATED", "OWNER", "USED BY");
        json_array_foreach(list, k, v) {
                _cleanup_free_ char *users = users_of(v, "-"), *owner = owner_of(v);
                const char *created = json_string_value(json_object_get(v, "created")) ?: "-";
                /* To the second, in UTC: "2026-12-06T03:27:47Z". */
                printf("%-32s %-19.19s%-1s %-16s %s\n", json_string_value(json_object_get(v, "name")) ?: "?", created,
                       strlen(created) > 19 ? "Z" : "", owner, users);
        }
}

static void print_volume(const json_t *v, bool flag) {
        _cleanup_free_ char *users = users_of(v, "none"), *owner = owner_of(v);

        printf("%12s: %s\n", "volume", json_string_value(json_object_get(v, "name")) ?: "?");
        printf("%12s: %s\n", "path", json_string_value(json_object_get(v, "path")) ?: "?");
        printf("%12s: %s\n", "created", json_string_value(json_object_get(v, "created")) ?: "-");
        printf("%12s: %s\n", "created by", json_string_value(json_object_get(v, "created_by")) ?: "-");
        printf("%12s: %s\n", "owner", owner);
        printf("%12s: %s\n", "used by", users);
}

static void print_removed(const json_t *result, bool flag) {
        printf("removed volume %s\n", json_string_value(json_object_get(result, "removed")) ?: "?");
}

/* Each verb: --json, and its operands (none, or one NAME). */
static int volume_verb(int argc, char **argv, const char *method, bool named, void (*print)(const json_t *, bool)) {
        bool json;

        if (parse_json_option(argc, argv, &json) < 0)
                return EXIT_USAGE;
        if (argc - optind != (named ? 1 : 0)) {
                log_error("volume %s: expected %s", argv[0], named ? "one NAME" : "no operands");
                return EXIT_USAGE;
        }
        return call_print(method, named ? json_pack("{s:s}", "name", argv[optind]) : NULL,
                          streq(method, "volume-rm") ? USEC_INFINITY : VOLUME_READ_TIMEOUT, json, print, false);
}

int verb_volume(int argc, char **argv) {
        static const struct {
                const char *name, *method;
                bool named;
                void (*print)(const json_t *result, bool flag);
        } verbs[] = {
                {"ls", "volume-ls", false, print_volume_table},
                {"inspect", "volume-inspect", true, print_volume},
                {"rm", "volume-rm", true, print_removed},
        };

        if (argc < 2) {
                log_error("volume: expected ls, inspect or rm; see supctl --help");
                return EXIT_USAGE;
        }
        for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                if (streq(argv[1], verbs[k].name))
                        return volume_verb(argc - 1, argv + 1, verbs[k].method, verbs[k].named, verbs[k].print);
        log_error("volume: unknown command \"%s\"; expected ls, inspect or rm", argv[1]);
        return EXIT_USAGE;
}
