/* SPDX-License-Identifier: MIT */
/* The canonical JSON codec (unit-json.c): every example unit and every valid test unit goes
 * through to_json -> from_json -> to_json unchanged, byte for byte and hash for hash; the decoder
 * requires every key the encoder always writes and refuses unknown keys and wrong types, naming
 * the JSON path; unit_spec_clone() is a deep copy. */
#include "test-helpers.h"

#include <glob.h>
#include <sys/resource.h>

#include "string-util.h"
#include "sup-error.h"

static const char *source_root = ".";

/* The hash's text: sorted keys, compact. */
static char *canonical_text(const UnitSpec *u) {
        json_t *j = unit_spec_to_json(u);
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10));

        json_decref(j);
        assert_non_null(s);
        return s;
}

static UnitSpec *load(const char *path) {
        Diagnostics d = {};
        UnitSpec *u = NULL;

        if (unit_load_file(path, 0, &d, &u, NULL) < 0) {
                diagnostics_print(&d, stderr);
                fail_msg("%s: not a valid unit", path);
        }
        diagnostics_done(&d);
        return u;
}

static UnitSpec *decode(const json_t *j) {
        SupError *e = NULL;
        UnitSpec *u = NULL;

        if (unit_spec_from_json(j, &u, &e) < 0)
                fail_msg("the canonical form was refused: %s", sup_error_message(e));
        assert_null(e);
        return u;
}

/* Fails the test unless u survives the codec unchanged, and its clone is u. */
static void assert_round_trip(const UnitSpec *u, const char *what) {
        _cleanup_free_ char *t1 = canonical_text(u), *t2 = NULL, *f1 = unit_spec_format(u), *f2 = NULL;
        json_t *j = unit_spec_to_json(u);
        UnitSpec *v = decode(j), *c;
        char h1[65], h2[65];

        json_decref(j);
        t2 = canonical_text(v);
        if (strcmp(t1, t2) != 0)
                fail_msg("%s changed through the codec:\n%s\n%s", what, t1, t2);
        f2 = unit_spec_format(v);
        assert_string_equal(f1, f2);
        assert_int_equal(unit_spec_hash(u, h1), 0);
        assert_int_equal(unit_spec_hash(v, h2), 0);
        assert_string_equal(h1, h2);
        unit_spec_free(v);

        c = unit_spec_clone(u);
        assert_non_null(c);
        assert_int_equal(unit_spec_hash(c, h2), 0);
        assert_string_equal(h1, h2);
        /* What the canonical form leaves out comes along too: messages about the copy name the
         * file and the line of the original. */
        assert_string_equal(c->source_file, u->source_file);
        assert_int_equal(c->name_pos.line, u->name_pos.line);
        for (size_t i = 0; i < u->n_ports; i++) {
                assert_int_equal(c->ports[i].pos.line, u->ports[i].pos.line);
                assert_string_equal(c->ports[i].pos.path, u->ports[i].pos.path);
        }
        for (size_t i = 0; i < u->n_requires; i++)
                assert_string_equal(c->requires[i].pos.path, u->requires[i].pos.path);
        /* As parsing the canonical form as a unit file sets it: network is there unless share.network is. */
        assert_int_equal(c->network_explicit, !u->share.network.name);
        unit_spec_free(c);
}

static size_t round_trip_glob(const char *pattern) {
        _cleanup_free_ char *p = xasprintf("%s/%s", source_root, pattern);
        glob_t g = {};
        size_t n;

        if (glob(p, 0, NULL, &g) != 0)
                fail_msg("no files match %s", p);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                UnitSpec *u = load(g.gl_pathv[i]);
                assert_round_trip(u, g.gl_pathv[i]);
                unit_spec_free(u);
        }
        n = g.gl_pathc;
        globfree(&g);
        return n;
}

static void test_round_trip_files(void **state) {
        assert_true(round_trip_glob("examples/*.yaml") >= 4);
        assert_true(round_trip_glob("tests/units/valid/*.yaml") + round_trip_glob("tests/units/valid/*.yml") >= 15);
}

/* A unit with every optional part there: full.yaml, plus what it cannot have together with its
 * user namespace (share) and what it does not set (rlimits). */
static UnitSpec *rich_unit(void) {
        _cleanup_free_ char *path = xasprintf("%s/tests/units/valid/full.yaml", source_root);
        UnitSpec *u = load(path);

        u->share.ipc.name = xstrdup("db");
        u->rlimits = xnew0(UnitRlimit, _UNIT_RLIMIT_MAX);
        u->rlimits[RLIMIT_NOFILE] = (UnitRlimit){.set = true, .soft = 100, .hard = UNIT_RLIMIT_INFINITY};
        u->rlimits[RLIMIT_CORE] = (UnitRlimit){.set = true, .soft = 0, .hard = 0};
        return u;
}

static void test_round_trip_values(void **state) {
        /* Values at the edges of their spelling: cpus that are not binary fractions, sizes that
         * are no whole unit, durations of every unit, signals beyond SIGRTMIN, an address. */
        static const char *const units[] = {
                MINIMAL_UNIT "resources: {cpus: 0.1, memory: 4097K, pids: 4194304, io_weight: 10000}\n",
                MINIMAL_UNIT
                "resources: {cpus: 1024}\nrestart: {delay: 1d1h1m1s1ms1us, max_delay: 2d, interval: 1us}\n",
                MINIMAL_UNIT
                "stop: {signal: SIGRTMIN+5, timeout: 0s}\nports: [\"[::1]:80:80/udp\", \"10.0.0.1:81:81\"]\n",
                MINIMAL_UNIT "env: {\"A\": \"\\u00e9\\t\\u007f\", A1: x, B: \"\"}\ndescription: \"\\u2028\"\n",
                MINIMAL_UNIT "rlimits: {stack: 8M, nofile: unlimited, nice: {soft: 0, hard: 40}}\n",
                MINIMAL_UNIT "mounts: [{type: tmpfs, target: /a, mode: \"0700\"}, {type: tmpfs, target: /b//c/}]\n",
                MINIMAL_UNIT "mounts: [{type: volume, name: pg.data_1, target: /v, read_only: true}, {type: volume, "
                             "name: 0-x, target: /w}]\n",
                MINIMAL_UNIT "security: {seccomp: unconfined, capabilities: {add: [ALL]}}\n",
                MINIMAL_UNIT "share: {network: other}\nisolation: process\n",
        };
        UnitSpec *u = rich_unit();

        assert_round_trip(u, "the rich unit");
        unit_spec_free(u);
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                Diagnostics d = {};
                if (parse_text("web.yaml", units[i], &d, &u) < 0) {
                        diagnostics_print(&d, stderr);
                        fail_msg("case %zu: not a valid unit", i);
                }
                assert_round_trip(u, units[i]);
                unit_spec_free(u);
                diagnostics_done(&d);
        }
}

/* The image's fields come back as they were, not only as the same text: an encoder that wrote a
 * default in place of a value would round-trip its own output unchanged. */
static void test_image_fields(void **state) {
        UnitSpec *u = rich_unit(), *v;
        json_t *j;

        /* full.yaml: oci: with ref "1.36", registry: with tls_verify: false, pull: always, args. */
        j = unit_spec_to_json(u);
        v = decode(j);
        json_decref(j);
        assert_int_equal(v->n_layers, 5);
        assert_int_equal(v->layers[2].type, LAYER_OCI);
        assert_string_equal(v->layers[2].ref, "1.36");
        assert_int_equal(v->layers[3].type, LAYER_REGISTRY);
        assert_string_equal(v->layers[3].path, "localhost:5000/team/app:1.4");
        assert_false(v->layers[3].tls_verify);
        assert_null(v->layers[3].ref);
        assert_int_equal(v->layers[4].type, LAYER_TAR);
        assert_int_equal(v->pull, PULL_ALWAYS);
        assert_string_equal(v->args[0], "-h");
        assert_string_equal(v->args[1], "/www");
        assert_null(v->args[2]);
        unit_spec_free(v);

        /* And their absence: no ref, tls_verify true, the default policy, no args, user and
         * working_dir left to the image. */
        free(u->layers[2].ref);
        u->layers[2].ref = NULL;
        u->layers[3].tls_verify = true;
        u->pull = PULL_MISSING;
        u->args = strv_free(u->args);
        u->user = (free(u->user), NULL);
        u->working_dir = (free(u->working_dir), NULL);
        j = unit_spec_to_json(u);
        assert_null(json_object_get(j, "args"));
        assert_null(json_object_get(j, "user"));
        assert_null(json_object_get(j, "working_dir"));
        v = decode(j);
        json_decref(j);
        assert_null(v->layers[2].ref);
        assert_true(v->layers[3].tls_verify);
        assert_int_equal(v->pull, PULL_MISSING);
        assert_null(v->args);
        assert_null(v->user);
        assert_null(v->working_dir);
        assert_round_trip(u, "the rich unit without its image's options");
        unit_spec_free(v);
        unit_spec_free(u);
}

/* Keys the encoder leaves out in some units: their absence is the default (outbound: also absent
 * in JSON written before it existed). */
static bool optional_key(const char *path) {
        static const char *const optional[] = {
                "command",          "args",           "user",           "working_dir",
                "network",          "outbound",       "rlimits",        "healthcheck",
                "resources.memory", "resources.cpus", "resources.pids", "resources.io_weight",
                "share.ipc",        "share.pid",      "share.network",  "mounts[1].size",
        };
        for (size_t i = 0; i < ELEMENTSOF(optional); i++)
                if (strcmp(path, optional[i]) == 0)
                        return true;
        /* any variable, any resource limit, an oci: layer's ref */
        return strncmp(path, "env.", 4) == 0 || (strncmp(path, "rlimits.", 8) == 0 && !strchr(path + 8, '.')) ||
               (strncmp(path, "image.layers[", 13) == 0 && endswith(path, "].ref"));
}

/* Decodes root, which must fail with a message that starts with prefix (when it is not empty)
 * and holds text. */
static void assert_refused(const json_t *root, const char *prefix, const char *text, const char *what) {
        SupError *e = NULL;
        UnitSpec *u = NULL;
        const char *msg;

        if (unit_spec_from_json(root, &u, &e) >= 0)
                fail_msg("%s: accepted", what);
        assert_null(u);
        msg = sup_error_message(e);
        if ((*prefix && (strncmp(msg, prefix, strlen(prefix)) != 0 || msg[strlen(prefix)] != ':')) ||
            !strstr(msg, text))
                fail_msg("%s: \"%s\" does not start with \"%s:\" or lacks \"%s\"", what, msg, prefix, text);
        sup_error_free(e);
}

static void mutate(json_t *root, json_t *v, const char *path, size_t *count);

/* The member key of object o (at path): removed, given a value of the wrong type; and the object
 * given an unknown key. */
static void mutate_member(json_t *root, json_t *o, const char *path, const char *key, size_t *count) {
        _cleanup_free_ char *p = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
        json_t *v = json_incref(json_object_get(o, key));
        json_t *wrong = json_is_array(v) ? json_object() : json_array();
        _cleanup_free_ char *missing = xasprintf("missing key \"%s\"", key);

        json_object_del(o, key);
        if (optional_key(p)) {
                UnitSpec *u = decode(root);
                unit_spec_free(u);
        } else
                /* A layer without its source key is no layer: the error is the layer's. */
                assert_refused(
                        root, path,
                        strstr(path, "layers[") && layer_type_from_string(key) >= 0 ? "expected a layer" : missing, p);
        json_object_set_new(o, key, wrong);
        assert_refused(root, p, "expected", p);
        json_object_set(o, key, v);
        (*count)++;
        mutate(root, v, p, count);
        json_decref(v);
}

static void mutate(json_t *root, json_t *v, const char *path, size_t *count) {
        if (json_is_object(v)) {
                _cleanup_free_ char *what = xasprintf("an unknown key in %s", *path ? path : "the unit"),
                                    *p = *path ? xasprintf("%s.x-unknown", path) : xstrdup("x-unknown");
                _cleanup_strv_free_ char **keys = xnew0(char *, 1);
                const char *key;
                json_t *value;

                /* The keys first: a member removed and put back moves to the end of the object. */
                json_object_foreach(v, key, value) {
                        strv_push(&keys, xstrdup(key));
                }
                STRV_FOREACH(k, keys) {
                        mutate_member(root, v, path, *k, count);
                }
                json_object_set_new(v, "x-unknown", json_true());
                assert_refused(root, p, "", what);
                json_object_del(v, "x-unknown");
        } else if (json_is_array(v)) {
                size_t i;
                json_t *item;

                json_array_foreach(v, i, item) {
                        _cleanup_free_ char *p = xasprintf("%s[%zu]", path, i);
                        json_t *keep = json_incref(item);

                        json_array_set_new(v, i, json_is_array(keep) ? json_object() : json_array());
                        assert_refused(root, p, "expected", p);
                        json_array_set_new(v, i, keep);
                        mutate(root, keep, p, count);
                }
        }
}

static void test_strict(void **state) {
        UnitSpec *u = rich_unit();
        json_t *j = unit_spec_to_json(u);
        size_t count = 0;

        mutate(j, j, "", &count);
        /* Every member of every object was tried: the rich unit has 78. */
        assert_int_equal(count, 78);
        /* Nothing was left changed. */
        {
                UnitSpec *v = decode(j);
                _cleanup_free_ char *a = canonical_text(u), *b = canonical_text(v);
                assert_string_equal(a, b);
                unit_spec_free(v);
        }
        json_decref(j);
        unit_spec_free(u);
}

static void test_refused_values(void **state) {
        /* Values of the right type that no unit file could have. */
        static const struct {
                const char *object, *key, *value, *error;
        } cases[] = {
                {NULL, "name", "\"Web\"", "name: expected a unit name"},
                {NULL, "hostname", "\"-x\"", "hostname: expected a host name"},
                {NULL, "working_dir", "\"/a/../b\"", "working_dir: expected an absolute path"},
                {NULL, "command", "[]",
                 "command: expected a list of strings (the program and its arguments) with at least 1 item, found 0"},
                {NULL, "command", "[\"\"]", "command: the program to run (the first item) is empty"},
                {NULL, "isolation", "\"vm\"", "isolation: expected one of process, hyperv, found \"vm\""},
                {NULL, "ports", "[\"0:80\"]", "ports[0]: expected"},
                {NULL, "requires", "[\"web\", \"-db\"]", "requires[1]: expected a unit name"},
                {NULL, "image", "{\"layers\":[{\"dir\":\"rel\"}]}", "image.layers[0].dir: expected an absolute path"},
                {NULL, "image", "{\"layers\":[{\"zip\":\"/x\"}]}", "image.layers[0]: expected a layer"},
                {NULL, "image", "{\"layers\":[]}", "image.layers: expected a list of layers, bottom first with 1 to"},
                {NULL, "image", "{\"layers\":[{\"dir\":\"/a\",\"oci\":\"/b\"}]}",
                 "image.layers[0]: a layer has exactly one source"},
                {NULL, "image", "{\"layers\":[{\"tar\":\"/a.zip\"}]}",
                 "image.layers[0].tar: expected the absolute path of a *.tar"},
                {NULL, "image", "{\"layers\":[{\"registry\":\"alpine\",\"tls_verify\":true}]}",
                 "image.layers[0].registry: expected a registry reference HOST[:PORT]/NAME[:TAG][@sha256:DIGEST], "
                 "found "
                 "\"alpine\": a short name is ambiguous"},
                {NULL, "image", "{\"layers\":[{\"registry\":\"r.io/a\"}]}",
                 "image.layers[0]: missing key \"tls_verify\""},
                {NULL, "image", "{\"layers\":[{\"dir\":\"/a\",\"ref\":\"v1\"}]}",
                 "image.layers[0].ref: only valid beside \"oci\""},
                {NULL, "image", "{\"layers\":[{\"oci\":\"/a\",\"tls_verify\":true}]}",
                 "image.layers[0].tls_verify: only valid beside \"registry\""},
                {NULL, "image", "{\"layers\":[{\"oci\":\"/a\",\"ref\":\"-v1\"}]}",
                 "image.layers[0].ref: expected an image's name"},
                {NULL, "image", "{\"layers\":[{\"dir\":\"/a\"}],\"pull\":\"sometimes\"}",
                 "image.pull: expected one of missing, always, never, found \"sometimes\""},
                {NULL, "args", "[]", "args: expected a list of strings (the arguments) with at least 1 item, found 0"},
                {NULL, "args", "[1]", "args[0]: expected a string"},
                {NULL, "rlimits", "{\"nofile\":{\"soft\":-1,\"hard\":1}}", "rlimits.nofile.soft: expected an integer"},
                {NULL, "rlimits", "{\"files\":{\"soft\":1,\"hard\":1}}", "rlimits.files: not a resource"},
                {NULL, "mounts", "[{\"type\":\"bind\",\"source\":\"/proc\",\"target\":\"/p\",\"read_only\":true}]",
                 "mounts[0].source: /proc: the host's /proc"},
                {NULL, "mounts", "[{\"target\":\"/p\"}]", "mounts[0]: missing key \"type\""},
                {NULL, "mounts", "[{\"type\":\"volume\",\"name\":\"../x\",\"target\":\"/p\",\"read_only\":true}]",
                 "mounts[0].name: expected a volume name"},
                {NULL, "mounts",
                 "[{\"type\":\"volume\",\"source\":\"/x\",\"name\":\"x\",\"target\":\"/p\",\"read_only\":true}]",
                 "mounts[0].source"},
                {"resources", "memory", "4096", "resources.memory: expected an integer from 4194304"},
                {"resources", "cpus", "0.0001", "resources.cpus: expected at most three decimals, found 0.0001"},
                {"resources", "cpus", "\"1\"", "resources.cpus: expected a number of CPUs"},
                {"resources", "pids", "0", "resources.pids: expected an integer from 1 to 4194304"},
                {"restart", "burst", "10001", "restart.burst: expected an integer from 1 to 10000"},
                {"restart", "interval", "\"0s\"", "restart.interval: expected a duration longer than 0s"},
                {"restart", "policy", "false", "restart.policy: expected one of no, on-failure, always, found false"},
                {"healthcheck", "on_failure", "\"ignore\"",
                 "healthcheck.on_failure: expected one of none, restart, stop, kill, found \"ignore\""},
                {"security", "user_namespace", "true", "security.user_namespace: expected false or \"auto\""},
                {"vm", "kernel", "\"vmlinuz\"", "vm.kernel: expected default or the absolute path"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                UnitSpec *u = rich_unit();
                json_t *j = unit_spec_to_json(u), *o = cases[i].object ? json_object_get(j, cases[i].object) : j;
                json_error_t err;
                json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, &err);
                _cleanup_free_ char *what = xasprintf("case %zu", i);

                assert_non_null(v);
                json_object_set_new(o, cases[i].key, v);
                assert_refused(j, "", cases[i].error, what);
                json_decref(j);
                unit_spec_free(u);
        }
        /* Not an object at all. */
        json_t *a = json_array();
        assert_refused(a, "", "expected a unit's canonical JSON object, found a list", "a list");
        json_decref(a);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip_files), cmocka_unit_test(test_round_trip_values),
                cmocka_unit_test(test_image_fields),     cmocka_unit_test(test_strict),
                cmocka_unit_test(test_refused_values),
        };

        if (argc > 1)
                source_root = argv[1];
        return cmocka_run_group_tests(tests, NULL, NULL);
}
