/* SPDX-License-Identifier: MIT */
#include "exec.h"

#include <limits.h>

#include "alloc.h"
#include "string-util.h"

static const char *const exec_stream_table[_EXEC_STREAM_MAX] = {
        [EXEC_STDOUT] = "stdout",
        [EXEC_STDERR] = "stderr",
};
DEFINE_STRING_TABLE_LOOKUP(exec_stream, ExecStream, _EXEC_STREAM_MAX);

static int strv_from_json(const json_t *a, const char *key, bool env, char ***ret, SupError **ret_error) {
        _cleanup_strv_free_ char **l = xzalloc(sizeof(char *));
        size_t i;
        json_t *v;

        if (!json_is_array(a))
                return sup_error_make(ret_error, -EINVAL, "exec: \"%s\" must be a list of strings", key);
        json_array_foreach(a, i, v) {
                const char *s = json_string_value(v);
                if (!s)
                        return sup_error_make(ret_error, -EINVAL, "exec: %s[%zu]: expected a string", key, i);
                if (env && (s[0] == '=' || !strchr(s, '=')))
                        return sup_error_make(ret_error, -EINVAL, "exec: %s[%zu]: expected NAME=value", key, i);
                strv_push(&l, xstrdup(s));
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int exec_request_from_json(const json_t *o, ExecRequest *ret, SupError **ret_error) {
        const json_t *env = json_object_get(o, "env"), *user = json_object_get(o, "user"),
                     *wd = json_object_get(o, "working_dir"), *tty = json_object_get(o, "tty");
        static const char *const size_keys[] = {"rows", "cols"};
        ExecRequest req = {};
        unsigned short *size[] = {&req.rows, &req.cols};
        int r;

        r = strv_from_json(json_object_get(o, "argv"), "argv", false, &req.argv, ret_error);
        if (r >= 0 && !req.argv[0])
                r = sup_error_make(ret_error, -EINVAL, "exec: \"argv\" is empty");
        if (r >= 0 && env)
                r = strv_from_json(env, "env", true, &req.env, ret_error);
        if (r >= 0 && user && !json_is_string(user))
                r = sup_error_make(ret_error, -EINVAL, "exec: \"user\" must be a string");
        if (r >= 0 && wd && (!json_is_string(wd) || json_string_value(wd)[0] != '/'))
                r = sup_error_make(ret_error, -EINVAL, "exec: \"working_dir\" must be an absolute path");
        if (r >= 0 && tty && !json_is_boolean(tty))
                r = sup_error_make(ret_error, -EINVAL, "exec: \"tty\" must be a boolean");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(size); i++) {
                const json_t *v = json_object_get(o, size_keys[i]);
                if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > USHRT_MAX))
                        r = sup_error_make(ret_error, -EINVAL, "exec: \"%s\" must be an integer from 1 to %u",
                                           size_keys[i], USHRT_MAX);
                else if (v)
                        *size[i] = (unsigned short) json_integer_value(v);
        }
        if (r < 0) {
                exec_request_done(&req);
                return r;
        }
        req.tty = json_is_true(tty);
        req.user = user ? xstrdup(json_string_value(user)) : NULL;
        req.working_dir = wd ? xstrdup(json_string_value(wd)) : NULL;
        *ret = req;
        return 0;
}

void exec_request_done(ExecRequest *r) {
        r->argv = strv_free(r->argv);
        r->env = strv_free(r->env);
        free((char *) r->user);
        r->user = NULL;
        free((char *) r->working_dir);
        r->working_dir = NULL;
}
