/* SPDX-License-Identifier: MIT */
/* An image's defaults applied to a unit: the one place that decides what runs when the unit
 * leaves something to its image. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "image.h"
#include "string-util.h"
#include "unit-parse.h"

static void strv_extend(char ***l, char *const *more) {
        for (size_t i = 0; more && more[i]; i++)
                strv_push(l, xstrdup(more[i]));
}

char **image_command(const ImageConfig *c, char *const *command, char *const *args) {
        char **argv = NULL;

        if (command) {
                strv_extend(&argv, command);
                strv_extend(&argv, args);
        } else {
                strv_extend(&argv, c->entrypoint);
                strv_extend(&argv, args ?: c->cmd);
        }
        return argv;
}

/* The length of an assignment's name, "NAME=value"; 0 if it has none. */
static size_t env_name_length(const char *assignment) {
        const char *eq = strchr(assignment, '=');
        return eq && eq > assignment ? (size_t) (eq - assignment) : 0;
}

static int compare_env(const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;
        size_t nx = env_name_length(x), ny = env_name_length(y);
        int r = strncmp(x, y, MIN(nx, ny));
        return r != 0 ? r : (nx > ny) - (nx < ny);
}

static bool env_has(char *const *env, const char *assignment) {
        size_t n = env_name_length(assignment);

        for (size_t i = 0; env && env[i]; i++)
                if (env_name_length(env[i]) == n && strncmp(env[i], assignment, n) == 0)
                        return true;
        return false;
}

/* The image's variables that the unit does not set (the last of a name, as a shell would take
 * them), then the unit's, sorted by name as a spec's env is. */
static int merge_env(char *const *image, char *const *unit, char ***ret, SupError **ret_error) {
        _cleanup_strv_free_ char **env = NULL;

        for (size_t i = strv_length(image); i > 0; i--) {
                const char *a = image[i - 1];

                if (env_name_length(a) == 0)
                        return sup_error_make(ret_error, -EINVAL, "the image's environment has \"%s\", not NAME=value",
                                              a);
                if (!env_has(unit, a) && !env_has(env, a))
                        strv_push(&env, xstrdup(a));
        }
        strv_extend(&env, unit);
        if (env)
                qsort(env, strv_length(env), sizeof(char *), compare_env);
        else
                env = xnew0(char *, 1);
        *ret = TAKE_PTR(env);
        return 0;
}

/* The unit's, else the image's, else fallback: a run spec always has one. Judged on the unit's
 * spec, where NULL means the unit file does not set it. */
static void set_default(char **field, const char *unit, const char *image, const char *fallback) {
        if (!unit) {
                free(*field);
                *field = xstrdup(image ?: fallback);
        }
}

int image_apply_defaults(const UnitSpec *u, const ImageConfig *c, UnitSpec **ret, SupError **ret_error) {
        _cleanup_(unit_spec_freep) UnitSpec *spec = unit_spec_clone(u);
        char **argv, **env = NULL;
        int r;

        if (!spec)
                return sup_error_make(ret_error, -EINVAL, "cannot copy the spec of unit %s", u->name);
        argv = image_command(c, u->command, u->args);
        if (!argv)
                return sup_error_make(ret_error, -EINVAL,
                                      "the unit has no command, and its image has none either (Entrypoint, Cmd)");
        strv_free(spec->command);
        spec->command = argv;
        /* Applied: the run spec's command is the whole argv, with the arguments in it. */
        spec->args = strv_free(spec->args);

        r = merge_env(c->env, u->env, &env, ret_error);
        if (r < 0)
                return r;
        strv_free(spec->env);
        spec->env = env;

        set_default(&spec->working_dir, u->working_dir, c->working_dir, "/");
        set_default(&spec->user, u->user, c->user, "0");
        *ret = TAKE_PTR(spec);
        return 0;
}
