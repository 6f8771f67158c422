/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include "alloc.h"
#include "driver.h"
#include "drivers.h"
#include "reconcile.h"
#include "string-util.h"

/* A unit without a command, so that each test says which command it runs. */
#define BASE "image:\n  layers:\n    - dir: /layer\n"
#define TRUE_UNIT BASE "command: [/bin/true]\n"

#define WORLD_MAX 256

/* The two sides of a reconcile, built by hand: the desired set from YAML text, the observed
 * instances with the hash of their own spec (or none). */
typedef struct World {
        UnitSet desired;
        Observed observed[WORLD_MAX];
        UnitSpec *observed_specs[WORLD_MAX];
        char *observed_names[WORLD_MAX];
        char hashes[WORLD_MAX][65];
        size_t n_observed;
} World;

static UnitSpec *spec(const char *name, const char *yaml) {
        _cleanup_free_ char *file = xasprintf("%s.yaml", name);
        Diagnostics d = {};
        UnitSpec *u = NULL;

        if (parse_text(file, yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        diagnostics_done(&d);
        return u;
}

static int unit_ptr_compare(const void *a, const void *b) {
        return strcmp((*(UnitSpec *const *) a)->name, (*(UnitSpec *const *) b)->name);
}

/* Adds a unit to the desired set, kept sorted by name as unit-set.h promises. */
static void want(World *w, const char *name, const char *yaml) {
        *ARRAY_APPEND(w->desired.units, w->desired.n_units) = spec(name, yaml);
        w->desired.n_files++;
        qsort(w->desired.units, w->desired.n_units, sizeof(UnitSpec *), unit_ptr_compare);
}

static void have_raw(World *w, const char *name, UnitSpec *u, const char *hash, InstanceState state,
                     bool admin_stopped) {
        size_t i = w->n_observed++;

        assert_true(i < WORLD_MAX);
        w->observed_names[i] = xstrdup(name);
        w->observed_specs[i] = u;
        if (hash)
                strcpy(w->hashes[i], hash);
        w->observed[i] = (Observed) {
                .name = w->observed_names[i],
                .hash = hash ? w->hashes[i] : NULL,
                .spec = u,
                .state = state,
                .admin_stopped = admin_stopped,
        };
}

/* An instance running the spec parsed from yaml. */
static void have(World *w, const char *name, const char *yaml, InstanceState state, bool admin_stopped) {
        UnitSpec *u = spec(name, yaml);
        char hash[65];

        assert_int_equal(unit_spec_hash(u, hash), 0);
        have_raw(w, name, u, hash, state, admin_stopped);
}

/* An instance of the spec parsed from yaml whose spec supd does not know, only its hash. */
static void have_unknown(World *w, const char *name, const char *yaml, InstanceState state, bool admin_stopped) {
        _cleanup_(unit_spec_freep) UnitSpec *u = spec(name, yaml);
        char hash[65];

        assert_int_equal(unit_spec_hash(u, hash), 0);
        have_raw(w, name, NULL, hash, state, admin_stopped);
}

static void world_done(World *w) {
        for (size_t i = 0; i < w->desired.n_units; i++)
                unit_spec_free(w->desired.units[i]);
        free(w->desired.units);
        for (size_t i = 0; i < w->n_observed; i++) {
                unit_spec_free(w->observed_specs[i]);
                free(w->observed_names[i]);
        }
        *w = (World) {};
}

static Plan *plan_of(const World *w) {
        Plan *p = NULL;

        assert_int_equal(reconcile(&w->desired, w->observed, w->n_observed, isolation_driver_field_is_live, &p), 0);
        assert_non_null(p);
        return p;
}

/* "remove c; start b; replace a": the order of a plan. */
static char *plan_order(const World *w) {
        _cleanup_(plan_freep) Plan *p = plan_of(w);
        _cleanup_strv_free_ char **l = NULL;

        for (size_t i = 0; i < p->n_actions; i++)
                strv_push(&l, xasprintf("%s %s", action_type_to_string(p->actions[i].type), p->actions[i].unit));
        return strv_join(l, "; ");
}

static char *plan_text(const World *w) {
        _cleanup_(plan_freep) Plan *p = plan_of(w);
        return plan_format(p);
}

/* One action as "replace start=0 changed=[command]"; "-" for a changed list that is NULL. */
static char *action_describe(const Action *a) {
        _cleanup_free_ char *list = a->changed ? strv_join(a->changed, ",") : NULL;
        return xasprintf("%s start=%d changed=%s%s%s", action_type_to_string(a->type), a->start,
                         list ? "[" : "-", list ? list : "", list ? "]" : "");
}

/* ---- the rule table -------------------------------------------------------------------------- */

typedef enum ObservedKind {
        OBSERVED_NONE,
        OBSERVED_SAME,             /* the instance runs the desired spec */
        OBSERVED_DIFFERENT,        /* it runs another spec, which supd knows */
        OBSERVED_DIFFERENT_NO_SPEC, /* it runs another spec, known only by its hash */
        _OBSERVED_KIND_MAX,
} ObservedKind;

static const char *const observed_kind_names[_OBSERVED_KIND_MAX] = {
        "none", "same-hash", "different-hash", "different-hash-no-spec",
};

/* Every cell, written out; the instance state never matters, so each row holds for all of them
 * (the tests run each row once per state). "none" is an empty plan. */
static const struct Cell {
        bool desired;
        ObservedKind observed;
        bool admin_stopped;
        const char *expect;
} cells[] = {
        { false, OBSERVED_NONE, false, "none" },
        { false, OBSERVED_NONE, true, "none" }, /* nothing to be stopped */
        { false, OBSERVED_SAME, false, "remove start=0 changed=-" },
        { false, OBSERVED_SAME, true, "remove start=0 changed=-" },
        { false, OBSERVED_DIFFERENT, false, "remove start=0 changed=-" },
        { false, OBSERVED_DIFFERENT, true, "remove start=0 changed=-" },
        { false, OBSERVED_DIFFERENT_NO_SPEC, false, "remove start=0 changed=-" },
        { false, OBSERVED_DIFFERENT_NO_SPEC, true, "remove start=0 changed=-" },
        { true, OBSERVED_NONE, false, "start start=1 changed=-" },
        { true, OBSERVED_NONE, true, "start start=1 changed=-" }, /* no instance to have been stopped */
        { true, OBSERVED_SAME, false, "none" },
        { true, OBSERVED_SAME, true, "none" },
        { true, OBSERVED_DIFFERENT, false, "replace start=1 changed=[command]" },
        { true, OBSERVED_DIFFERENT, true, "replace start=0 changed=[command]" },
        { true, OBSERVED_DIFFERENT_NO_SPEC, false, "replace start=1 changed=[]" },
        { true, OBSERVED_DIFFERENT_NO_SPEC, true, "replace start=0 changed=[]" },
};

static void add_cell(World *w, const char *name, const struct Cell *c, InstanceState state) {
        if (c->desired)
                want(w, name, TRUE_UNIT);
        switch (c->observed) {
        case OBSERVED_NONE:
                break;
        case OBSERVED_SAME:
                have(w, name, TRUE_UNIT, state, c->admin_stopped);
                break;
        case OBSERVED_DIFFERENT:
                have(w, name, BASE "command: [/bin/false]\n", state, c->admin_stopped);
                break;
        case OBSERVED_DIFFERENT_NO_SPEC:
                have_unknown(w, name, BASE "command: [/bin/false]\n", state, c->admin_stopped);
                break;
        case _OBSERVED_KIND_MAX:
                fail();
        }
}

static char *cell_label(const struct Cell *c, InstanceState state) {
        return xasprintf("desired=%s observed=%s admin_stopped=%s state=%s", c->desired ? "yes" : "no",
                         observed_kind_names[c->observed], c->admin_stopped ? "yes" : "no",
                         instance_state_to_string(state));
}

/* Asserts that unit's action in p (or its absence) is what cell i says, naming the cell if not. */
static void assert_cell(const Plan *p, const char *unit, size_t i, InstanceState s) {
        _cleanup_free_ char *label = cell_label(&cells[i], s), *d = NULL, *got = NULL, *expect = NULL;

        for (size_t k = 0; k < p->n_actions && !d; k++)
                if (streq(p->actions[k].unit, unit))
                        d = action_describe(&p->actions[k]);
        got = xasprintf("%s: %s", label, d ? d : "none");
        expect = xasprintf("%s: %s", label, cells[i].expect);
        assert_string_equal(got, expect);
}

/* Each cell alone: the plan is that one action, or empty. */
static void test_rule_table(void **state) {
        assert_int_equal(ELEMENTSOF(cells), 2 * _OBSERVED_KIND_MAX * 2);
        for (size_t i = 0; i < ELEMENTSOF(cells); i++)
                for (InstanceState s = 0; s < _INSTANCE_STATE_MAX; s++) {
                        _cleanup_(plan_freep) Plan *p = NULL;
                        World w = {};

                        add_cell(&w, "u", &cells[i], s);
                        p = plan_of(&w);
                        assert_int_equal(p->n_actions, !streq(cells[i].expect, "none"));
                        assert_cell(p, "u", i, s);
                        world_done(&w);
                }
}

/* Every cell at once, one unit per cell and state: no cell's action leaks into another's. */
static void test_rule_table_together(void **state) {
        _cleanup_(plan_freep) Plan *p = NULL;
        World w = {};
        size_t expected = 0;

        for (size_t i = 0; i < ELEMENTSOF(cells); i++)
                for (InstanceState s = 0; s < _INSTANCE_STATE_MAX; s++) {
                        _cleanup_free_ char *name = xasprintf("u%zu-%s", i, instance_state_to_string(s));
                        add_cell(&w, name, &cells[i], s);
                        expected += !streq(cells[i].expect, "none");
                }
        p = plan_of(&w);
        assert_int_equal(p->n_actions, expected);

        for (size_t i = 0; i < ELEMENTSOF(cells); i++)
                for (InstanceState s = 0; s < _INSTANCE_STATE_MAX; s++) {
                        _cleanup_free_ char *name = xasprintf("u%zu-%s", i, instance_state_to_string(s));
                        assert_cell(p, name, i, s);
                }
        world_done(&w);
}

static void test_instance_without_hash(void **state) {
        _cleanup_(plan_freep) Plan *p = NULL;
        _cleanup_free_ char *d = NULL;
        World w = {};

        /* Not known to run the desired spec: replaced, and what changed is still listed. */
        want(&w, "u", TRUE_UNIT);
        have_raw(&w, "u", spec("u", BASE "command: [/bin/false]\n"), NULL, INSTANCE_RUNNING, false);
        p = plan_of(&w);
        assert_int_equal(p->n_actions, 1);
        d = action_describe(&p->actions[0]);
        assert_string_equal(d, "replace start=1 changed=[command]");
        world_done(&w);
}

static void test_invalid_observed(void **state) {
        Plan *p = NULL;
        World w = {};

        want(&w, "u", TRUE_UNIT);
        have(&w, "a", TRUE_UNIT, INSTANCE_RUNNING, false);
        have(&w, "u", TRUE_UNIT, INSTANCE_RUNNING, false);
        have(&w, "a", TRUE_UNIT, INSTANCE_STOPPED, false);
        assert_int_equal(reconcile(&w.desired, w.observed, w.n_observed, isolation_driver_field_is_live, &p), -EINVAL);
        assert_null(p);

        w.observed[2].name = NULL;
        assert_int_equal(reconcile(&w.desired, w.observed, w.n_observed, isolation_driver_field_is_live, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(reconcile(NULL, NULL, 0, isolation_driver_field_is_live, &p), -EINVAL);
        assert_int_equal(reconcile(&w.desired, NULL, 1, isolation_driver_field_is_live, &p), -EINVAL);
        assert_int_equal(reconcile(&w.desired, NULL, 0, NULL, &p), -EINVAL); /* no driver's answer */
        world_done(&w);
}

static void test_empty(void **state) {
        _cleanup_free_ char *t = NULL;
        World w = {};

        t = plan_text(&w);
        assert_string_equal(t, "nothing to do\n");
}

/* ---- order ----------------------------------------------------------------------------------- */

/* A unit of an ordering case: TRUE_UNIT plus yaml. An observed unit with yaml NULL runs TRUE_UNIT
 * but its spec is not known. Instance states do not matter to the plan (the rule table shows it),
 * so every instance is running. */
typedef struct CaseUnit {
        const char *name, *yaml;
} CaseUnit;

#define V2 "env: {V: \"2\"}\n" /* makes a desired spec differ from its instance's */

static const struct OrderCase {
        const char *what;
        CaseUnit desired[8];
        CaseUnit observed[8];
        const char *expect;
} order_cases[] = {
        { "start chain",
          { { "a", "requires: [b]" }, { "b", "requires: [c]" }, { "c", "" } },
          {},
          "start c; start b; start a" },
        { "remove chain, dependents first against name order",
          {},
          { { "c", "requires: [b]" }, { "b", "requires: [a]" }, { "a", "" } },
          "remove c; remove b; remove a" },
        { "remove chain, dependents first along name order",
          {},
          { { "a", "requires: [b]" }, { "b", "requires: [c]" }, { "c", "" } },
          "remove a; remove b; remove c" },
        { "replace chain",
          { { "a", "requires: [b]\n" V2 }, { "b", "requires: [c]\n" V2 }, { "c", V2 } },
          { { "a", "requires: [b]" }, { "b", "requires: [c]" }, { "c", "" } },
          "replace c; replace b; replace a" },
        { "share orders starts",
          { { "a", "share: {network: z}" }, { "b", "share: {pid: v}" }, { "c", "share: {ipc: x}" },
            { "v", "" }, { "x", "" }, { "z", "" } },
          {},
          "start v; start b; start x; start c; start z; start a" },
        { "share orders removes",
          {},
          { { "x", "share: {network: a}" }, { "v", "share: {pid: b}" }, { "z", "share: {ipc: c}" },
            { "a", "" }, { "b", "" }, { "c", "" } },
          "remove v; remove b; remove x; remove a; remove z; remove c" },
        { "diamond starts: a needs b and c, which need d",
          { { "a", "requires: [c, b]" }, { "b", "requires: [d]" }, { "c", "requires: [d]" }, { "d", "" } },
          {},
          "start d; start b; start c; start a" },
        { "diamond removes",
          {},
          { { "a", "requires: [c, b]" }, { "b", "requires: [d]" }, { "c", "requires: [d]" }, { "d", "" } },
          "remove a; remove b; remove c; remove d" },
        { "reversed diamond starts: d needs b and c, which need a",
          { { "d", "requires: [b, c]" }, { "b", "requires: [a]" }, { "c", "requires: [a]" }, { "a", "" } },
          {},
          "start a; start b; start c; start d" },
        { "reversed diamond removes",
          {},
          { { "d", "requires: [b, c]" }, { "b", "requires: [a]" }, { "c", "requires: [a]" }, { "a", "" } },
          "remove d; remove b; remove c; remove a" },
        { "independent units by name",
          { { "zeta", "" }, { "mu", "" }, { "alpha", "" } },
          { { "x", "" }, { "w", "" } },
          "remove w; remove x; start alpha; start mu; start zeta" },
        /* z is ready from the start but comes after c; b follows the z it needs. */
        { "at each turn the first ready unit by name",
          { { "b", "requires: [z]" }, { "c", "" }, { "a", "" }, { "z", "" } },
          {},
          "start a; start c; start z; start b" },
        { "a dependency through a unit without action",
          { { "a", "requires: [b]" }, { "b", "requires: [c]" }, { "c", "" } },
          { { "b", "requires: [c]" } },
          "start c; start a" },
        { "removes ordered through a unit that stays",
          { { "k", "" } },
          { { "c", "requires: [k]" }, { "k", "requires: [a]" }, { "a", "" } },
          "remove c; remove a; replace k" },
        { "removes before starts and replaces",
          { { "a", "requires: [b]" }, { "b", V2 } },
          { { "b", "" }, { "z", "" } },
          "remove z; replace b; start a" },
        /* A fallback that took the first stuck unit by name would remove b first. */
        { "stale cycle before what it needs",
          {},
          { { "x", "requires: [w, b]" }, { "w", "requires: [x]" }, { "b", "" } },
          "remove w; remove x; remove b" },
        { "stale cycle through share, after its dependent",
          {},
          { { "a", "requires: [b]" }, { "b", "share: {ipc: c}" }, { "c", "requires: [a]" },
            { "d", "requires: [c]" } },
          "remove d; remove a; remove b; remove c" },
        { "stale self-dependency, missing target, unknown spec",
          {},
          { { "s", "requires: [s, gone]" }, { "r", NULL } },
          "remove r; remove s" },
        { "edges into an unknown spec count",
          {},
          { { "b", "requires: [a]" }, { "a", NULL } },
          "remove b; remove a" },
        { "stale cycle among units that stay: the desired specs order",
          { { "p", V2 }, { "q", "requires: [p]\n" V2 } },
          { { "p", "requires: [q]" }, { "q", "requires: [p]" } },
          "replace p; replace q" },
        /* side holds db's IPC namespace and far side's PID namespace: both follow db's new
         * instance; user only requires db and keeps its instance. */
        { "a replaced share target replaces its sharers, transitively",
          { { "db", V2 }, { "far", "share: {pid: side}" }, { "side", "share: {ipc: db}" }, { "user", "requires: [db]" } },
          { { "db", "" }, { "far", "share: {pid: side}" }, { "side", "share: {ipc: db}" }, { "user", "requires: [db]" } },
          "replace db; replace side; replace far" },
        { "a share target started anew (its monitor was lost) replaces its sharers",
          { { "db", "" }, { "side", "share: {network: db}" } },
          { { "side", "share: {network: db}" } },
          "start db; replace side" },
        { "an update in place of a share target keeps its namespaces and its sharers",
          { { "db", "resources: {memory: 64M}" }, { "side", "share: {ipc: db}" } },
          { { "db", "" }, { "side", "share: {ipc: db}" } },
          "update db" },
        { "a sharer's update in place becomes a replace when its target is replaced",
          { { "db", V2 }, { "side", "share: {ipc: db}\nresources: {memory: 64M}" } },
          { { "db", "" }, { "side", "share: {ipc: db}" } },
          "replace db; replace side" },
        { "a cycle in an invalid desired set still ends",
          { { "b", "requires: [a]" }, { "a", "requires: [b]" }, { "c", "requires: [a, missing]" } },
          {},
          "start a; start b; start c" },
};

static void test_order(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(order_cases); i++) {
                const struct OrderCase *c = &order_cases[i];
                _cleanup_free_ char *order = NULL, *got = NULL, *expect = NULL;
                World w = {};

                for (const CaseUnit *u = c->desired; u->name; u++) {
                        _cleanup_free_ char *yaml = xasprintf(TRUE_UNIT "%s\n", u->yaml);
                        want(&w, u->name, yaml);
                }
                for (const CaseUnit *u = c->observed; u->name; u++) {
                        _cleanup_free_ char *yaml = xasprintf(TRUE_UNIT "%s\n", u->yaml ? u->yaml : "");
                        if (u->yaml)
                                have(&w, u->name, yaml, INSTANCE_RUNNING, false);
                        else
                                have_unknown(&w, u->name, yaml, INSTANCE_RUNNING, false);
                }
                order = plan_order(&w);
                got = xasprintf("%s: %s", c->what, order);
                expect = xasprintf("%s: %s", c->what, c->expect);
                assert_string_equal(got, expect);
                world_done(&w);
        }
}

static void build_mixed(World *w, bool reversed) {
        static const char *const names[] = { "web", "db", "cache", "old", "job", "gone" };

        want(w, "web", TRUE_UNIT "requires: [db, cache]\n");
        want(w, "db", TRUE_UNIT "resources: {memory: 128M}\n");
        want(w, "cache", TRUE_UNIT);
        want(w, "job", TRUE_UNIT "env: {RUN: \"2\"}\n");
        for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                const char *n = names[reversed ? ELEMENTSOF(names) - 1 - k : k];
                if (streq(n, "db"))
                        have(w, n, TRUE_UNIT, INSTANCE_RUNNING, false);
                else if (streq(n, "old"))
                        have(w, n, TRUE_UNIT "requires: [gone]\n", INSTANCE_RUNNING, false);
                else if (streq(n, "gone"))
                        have(w, n, TRUE_UNIT, INSTANCE_BACKOFF, false);
                else if (streq(n, "job"))
                        have(w, n, TRUE_UNIT, INSTANCE_EXITED, true);
        }
}

static void test_determinism(void **state) {
        _cleanup_free_ char *first = NULL, *second = NULL, *reversed = NULL;
        World w = {};

        build_mixed(&w, false);
        first = plan_text(&w);
        second = plan_text(&w);
        assert_string_equal(first, second);
        world_done(&w);

        /* The order in which the instances are listed does not show in the plan. */
        build_mixed(&w, true);
        reversed = plan_text(&w);
        assert_string_equal(first, reversed);
        world_done(&w);

        assert_string_equal(first, "remove old (no longer defined)\n"
                                   "remove gone (no longer defined)\n"
                                   "start cache (new unit)\n"
                                   "update db in place (resources.memory: unlimited -> 128M)\n"
                                   "replace job, not started (stopped by the operator; changed: env)\n"
                                   "start web (new unit)\n");
}

/* ---- output ---------------------------------------------------------------------------------- */

static void build_every_kind(World *w) {
        want(w, "db", TRUE_UNIT);
        want(w, "web", BASE "command: [/bin/httpd]\nresources: {memory: 64M}\n");
        want(w, "job", TRUE_UNIT "env: {RUN: \"2\"}\n");
        want(w, "app", TRUE_UNIT "env: {RUN: \"2\"}\n");
        want(w, "cron", TRUE_UNIT "env: {RUN: \"2\"}\n");
        have(w, "web", TRUE_UNIT, INSTANCE_RUNNING, false);
        have(w, "job", TRUE_UNIT, INSTANCE_STOPPED, true);
        have_unknown(w, "app", TRUE_UNIT, INSTANCE_RUNNING, false);
        have_unknown(w, "cron", TRUE_UNIT, INSTANCE_STOPPED, true);
        have(w, "old", TRUE_UNIT, INSTANCE_RUNNING, false);
}

static void test_plan_format(void **state) {
        _cleanup_free_ char *t = NULL, *empty = plan_format(NULL), *created = NULL;
        Plan none = {};
        Action a = { .type = ACTION_START, .unit = (char *) "db", .start = false };
        Plan p = { .actions = &a, .n_actions = 1 };
        World w = {};

        build_every_kind(&w);
        t = plan_text(&w);
        assert_string_equal(t, "remove old (no longer defined)\n"
                               "replace app (hash changed, fields not known)\n"
                               "replace cron, not started (stopped by the operator; hash changed, fields not known)\n"
                               "start db (new unit)\n"
                               "replace job, not started (stopped by the operator; changed: env)\n"
                               "replace web (changed: command, resources.memory; command needs a restart)\n");
        world_done(&w);

        assert_string_equal(empty, "nothing to do\n");
        free(empty);
        empty = plan_format(&none);
        assert_string_equal(empty, "nothing to do\n");

        /* reconcile() makes none, but an executor's own START that does not start says so. */
        created = plan_format(&p);
        assert_string_equal(created, "create db, not started (new unit)\n");
}

static void test_plan_to_json(void **state) {
        _cleanup_(plan_freep) Plan *p = NULL;
        _cleanup_free_ char *s = NULL, *e = NULL;
        json_t *j;
        World w = {};

        build_every_kind(&w);
        p = plan_of(&w);
        j = plan_to_json(p);
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_string_equal(s, "[{\"action\":\"remove\",\"unit\":\"old\"},"
                               "{\"action\":\"replace\",\"unit\":\"app\",\"start\":true,\"changed\":[]},"
                               "{\"action\":\"replace\",\"unit\":\"cron\",\"start\":false,\"changed\":[]},"
                               "{\"action\":\"start\",\"unit\":\"db\",\"start\":true},"
                               "{\"action\":\"replace\",\"unit\":\"job\",\"start\":false,\"changed\":[\"env\"]},"
                               "{\"action\":\"replace\",\"unit\":\"web\",\"start\":true,"
                               "\"changed\":[\"command\",\"resources.memory\"]}]");
        world_done(&w);

        j = plan_to_json(NULL);
        e = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_string_equal(e, "[]");
}

/* How a replace that follows a share target reads, in text and JSON, with and without changes of
 * its own, and for an instance the operator stopped. */
static void test_share_follows_texts(void **state) {
        _cleanup_(plan_freep) Plan *p = NULL;
        _cleanup_free_ char *t = NULL, *s = NULL;
        json_t *j;
        World w = {};

        want(&w, "db", TRUE_UNIT V2);
        want(&w, "side", TRUE_UNIT "share: {ipc: db}\nresources: {memory: 64M}\n");
        want(&w, "tail", TRUE_UNIT "share: {network: db, pid: db}\n");
        have(&w, "db", TRUE_UNIT, INSTANCE_RUNNING, false);
        have(&w, "side", TRUE_UNIT "share: {ipc: db}\n", INSTANCE_RUNNING, false);
        have(&w, "tail", TRUE_UNIT "share: {network: db, pid: db}\n", INSTANCE_STOPPED, true);
        p = plan_of(&w);
        t = plan_format(p);
        assert_string_equal(t, "replace db (changed: env)\n"
                               "replace side (it shares the ipc namespace of db, which gets a new instance; changed: "
                               "resources.memory)\n"
                               "replace tail, not started (stopped by the operator; it shares the pid namespace of db, "
                               "which gets a new instance)\n");
        j = plan_to_json(p);
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_string_equal(s, "[{\"action\":\"replace\",\"unit\":\"db\",\"start\":true,\"changed\":[\"env\"]},"
                               "{\"action\":\"replace\",\"unit\":\"side\",\"start\":true,"
                               "\"changed\":[\"resources.memory\"],\"follows\":{\"unit\":\"db\",\"share\":\"ipc\"}},"
                               "{\"action\":\"replace\",\"unit\":\"tail\",\"start\":false,\"changed\":[],"
                               "\"follows\":{\"unit\":\"db\",\"share\":\"pid\"}}]");
        world_done(&w);
}

/* ---- unit_spec_diff -------------------------------------------------------------------------- */

static char *diff_of(const char *a, const char *b) {
        _cleanup_(unit_spec_freep) UnitSpec *x = spec("u", a), *y = spec("u", b);
        _cleanup_strv_free_ char **d = unit_spec_diff(x, y), **r = unit_spec_diff(y, x);
        _cleanup_free_ char *there = NULL, *back = NULL;

        assert_non_null(d);
        assert_non_null(r);
        /* Symmetric: the same fields differ either way. */
        there = strv_join(d, " ");
        back = strv_join(r, " ");
        assert_string_equal(there, back);
        return TAKE_PTR(there);
}

#define assert_diff(a, b, expected)                             \
        do {                                                    \
                _cleanup_free_ char *_d = diff_of(a, b);        \
                assert_string_equal(_d, expected);              \
        } while (0)

static void test_diff(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = spec("u", TRUE_UNIT);
        _cleanup_strv_free_ char **n = unit_spec_diff(u, NULL), **m = unit_spec_diff(NULL, u);

        /* Identical, also when written differently. */
        assert_diff(TRUE_UNIT, TRUE_UNIT, "");
        assert_diff(TRUE_UNIT "resources: {memory: 64M}\n", TRUE_UNIT "resources:\n  memory: 67108864\n", "");

        /* Nested: the leaf's path, whether it changed or appeared. */
        assert_diff(TRUE_UNIT "resources: {memory: 64M}\n", TRUE_UNIT "resources: {memory: 128M}\n",
                    "resources.memory");
        assert_diff(TRUE_UNIT, TRUE_UNIT "resources: {memory: 64M, pids: 10}\n", "resources.memory resources.pids");
        assert_diff(TRUE_UNIT "security: {capabilities: {add: [NET_ADMIN]}}\n", TRUE_UNIT,
                    "security.capabilities.add");

        /* A list is one field. */
        assert_diff(TRUE_UNIT, BASE "command: [/bin/true, -x]\n", "command");
        assert_diff(BASE "command: [/bin/true, -x]\n", BASE "command: [/bin/true, -y]\n", "command");
        assert_diff(TRUE_UNIT, TRUE_UNIT "requires: [db]\n", "requires");
        assert_diff(TRUE_UNIT, BASE "    - dir: /site\ncommand: [/bin/true]\n", "image.layers");

        /* An optional section added, removed or changed inside. */
        assert_diff(TRUE_UNIT, TRUE_UNIT "healthcheck: {command: [/bin/true]}\n", "healthcheck");
        assert_diff(TRUE_UNIT "healthcheck: {command: [/bin/true]}\n", TRUE_UNIT, "healthcheck");
        assert_diff(TRUE_UNIT "healthcheck: {command: [/bin/true]}\n",
                    TRUE_UNIT "healthcheck: {command: [/bin/true], interval: 5s}\n", "healthcheck.interval");

        /* env is one field, whichever variable changed. */
        assert_diff(TRUE_UNIT "env: {A: \"1\", B: \"2\"}\n", TRUE_UNIT "env: {A: \"1\", B: \"3\"}\n", "env");
        assert_diff(TRUE_UNIT, TRUE_UNIT "env: {A: \"1\"}\n", "env");

        /* share.network takes the place of network. */
        assert_diff(TRUE_UNIT, TRUE_UNIT "share: {network: db}\n", "network outbound share.network");

        /* Several, sorted. */
        assert_diff(TRUE_UNIT "env: {A: \"1\"}\n", BASE "command: [/bin/false]\nresources: {memory: 64M}\n",
                    "command env resources.memory");

        /* A spec that is not known differs in nothing that can be told. */
        assert_non_null(n);
        assert_null(n[0]);
        assert_non_null(m);
        assert_null(m[0]);
}

/* ---- update in place -------------------------------------------------------------------------- */

/* What the plan does with a unit whose resources (and maybe more) changed, by state and by
 * whether the operator stopped it. */
static char *one_action(const char *old_yaml, const char *new_yaml, InstanceState state, bool admin_stopped) {
        _cleanup_(plan_freep) Plan *p = NULL;
        char *d;
        World w = {};

        want(&w, "u", new_yaml);
        have(&w, "u", old_yaml, state, admin_stopped);
        p = plan_of(&w);
        assert_int_equal(p->n_actions, 1);
        d = plan_format(p);
        world_done(&w);
        return d;
}

#define PROCESS_64  TRUE_UNIT "resources: {memory: 64M, pids: 32}\n"
#define PROCESS_128 TRUE_UNIT "resources: {memory: 128M, pids: 32}\n"

/* The state decides between in place and anew: a workload to change, or one the operator keeps
 * stopped, is updated; one that ended (exited, failed, backing off) is started anew, the edit
 * being the answer to its end. */
static void test_update_by_state(void **state) {
        static const struct {
                InstanceState state;
                bool admin_stopped;
                const char *expect;
        } cases[] = {
                {INSTANCE_RUNNING, false, "update u in place (resources.memory: 64M -> 128M)\n"},
                {INSTANCE_STARTING, false, "update u in place (resources.memory: 64M -> 128M)\n"},
                {INSTANCE_STOPPED, true, "update u in place (resources.memory: 64M -> 128M)\n"},
                {INSTANCE_STOPPING, true, "update u in place (resources.memory: 64M -> 128M)\n"},
                {INSTANCE_EXITED, false, "replace u (changed: resources.memory; not running (exited): started anew)\n"},
                {INSTANCE_FAILED, false, "replace u (changed: resources.memory; not running (failed): started anew)\n"},
                {INSTANCE_BACKOFF, false,
                 "replace u (changed: resources.memory; not running (backoff): started anew)\n"},
                {INSTANCE_STOPPING, false,
                 "replace u (changed: resources.memory; not running (stopping): started anew)\n"},
                {INSTANCE_STOPPED, false,
                 "replace u (changed: resources.memory; not running (stopped): started anew)\n"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = one_action(PROCESS_64, PROCESS_128, cases[i].state, cases[i].admin_stopped);
                _cleanup_free_ char *label = xasprintf("%s%s: ", instance_state_to_string(cases[i].state),
                                                       cases[i].admin_stopped ? " (operator)" : "");
                _cleanup_free_ char *g = xasprintf("%s%s", label, got), *e = xasprintf("%s%s", label, cases[i].expect);
                assert_string_equal(g, e);
        }
}

/* Each resource, added, changed and removed, and what the text says of its values. */
static void test_update_texts(void **state) {
        static const struct {
                const char *old, *new, *expect;
        } cases[] = {
                {TRUE_UNIT, TRUE_UNIT "resources: {memory: 1536M}\n",
                 "update u in place (resources.memory: unlimited -> 1536M)\n"},
                {TRUE_UNIT "resources: {cpus: 0.5}\n", TRUE_UNIT "resources: {cpus: 2}\n",
                 "update u in place (resources.cpus: 0.5 -> 2)\n"},
                {TRUE_UNIT "resources: {pids: 64}\n", TRUE_UNIT,
                 "update u in place (resources.pids: 64 -> unlimited)\n"},
                {TRUE_UNIT, TRUE_UNIT "resources: {io_weight: 500}\n",
                 "update u in place (resources.io_weight: default -> 500)\n"},
                {TRUE_UNIT "resources: {memory: 64M, cpus: 0.25}\n",
                 TRUE_UNIT "resources: {memory: 32M, cpus: 0.125}\n",
                 "update u in place (resources.cpus: 0.25 -> 0.125, resources.memory: 64M -> 32M)\n"},
                /* Anything else needs a restart; the text says which. */
                {TRUE_UNIT, BASE "command: [/bin/false]\n", "replace u (changed: command)\n"},
                {PROCESS_64, BASE "command: [/bin/false]\nresources: {memory: 128M, pids: 32}\n",
                 "replace u (changed: command, resources.memory; command needs a restart)\n"},
                {PROCESS_64, PROCESS_128 "env: {A: b}\nhostname: h\n",
                 "replace u (changed: env, hostname, resources.memory; env, hostname need a restart)\n"},
                /* hyperv: guest RAM needs a new VM, and so do more vCPUs; a quota in the same vCPUs does not. */
                {TRUE_UNIT "isolation: hyperv\nresources: {memory: 256M}\n",
                 TRUE_UNIT "isolation: hyperv\nresources: {memory: 512M}\n", "replace u (changed: resources.memory)\n"},
                {TRUE_UNIT "isolation: hyperv\nresources: {cpus: 1}\n",
                 TRUE_UNIT "isolation: hyperv\nresources: {cpus: 1.5}\n", "replace u (changed: resources.cpus)\n"},
                {TRUE_UNIT "isolation: hyperv\nresources: {cpus: 0.25}\n",
                 TRUE_UNIT "isolation: hyperv\nresources: {cpus: 1, io_weight: 50}\n",
                 "update u in place (resources.cpus: 0.25 -> 1, resources.io_weight: default -> 50)\n"},
                /* hyperv: pids is the guest kernel's cgroup, set at boot (guest-cgroup.h). */
                {TRUE_UNIT "isolation: hyperv\nresources: {cpus: 0.25}\n",
                 TRUE_UNIT "isolation: hyperv\nresources: {cpus: 1, pids: 9}\n",
                 "replace u (changed: resources.cpus, resources.pids; resources.pids needs a restart)\n"},
                {TRUE_UNIT "isolation: hyperv\n", TRUE_UNIT "isolation: hyperv\nresources: {cpus: 0.5}\n",
                 "update u in place (resources.cpus: unlimited -> 0.5)\n"},
                /* Flipping the isolation is a new workload, whatever else. */
                {TRUE_UNIT "resources: {memory: 256M}\n", TRUE_UNIT "isolation: hyperv\nresources: {memory: 256M}\n",
                 "replace u (changed: isolation)\n"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = one_action(cases[i].old, cases[i].new, INSTANCE_RUNNING, false);
                assert_string_equal(got, cases[i].expect);
        }
}

/* The pure decision on its own, as the monitor asks it again. */
static void test_updatable_in_place(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *a = spec("u", PROCESS_64), *b = spec("u", PROCESS_128),
                                            *other = spec("v", PROCESS_128),
                                            *cmd = spec("u", BASE "command: [/bin/false]\n");
        _cleanup_strv_free_ char **ab = unit_spec_diff(a, b), **aa = unit_spec_diff(a, a),
                                 **ac = unit_spec_diff(a, cmd), **ao = unit_spec_diff(a, other);

        assert_true(unit_spec_updatable_in_place(a, b, ab, isolation_driver_field_is_live));
        assert_false(unit_spec_updatable_in_place(a, a, aa, isolation_driver_field_is_live)); /* nothing to update */
        assert_false(unit_spec_updatable_in_place(a, cmd, ac, isolation_driver_field_is_live));
        assert_false(unit_spec_updatable_in_place(a, other, ao, isolation_driver_field_is_live)); /* another unit */
        assert_false(unit_spec_updatable_in_place(NULL, b, ab, isolation_driver_field_is_live));
        assert_true(isolation_driver_field_is_live(a, b, "resources.memory"));
        assert_false(isolation_driver_field_is_live(a, b, "command"));
        assert_false(isolation_driver_field_is_live(a, b, "resources"));
}

static void test_update_json(void **state) {
        _cleanup_(plan_freep) Plan *p = NULL;
        _cleanup_free_ char *s = NULL;
        json_t *j;
        World w = {};

        want(&w, "u", PROCESS_128);
        have(&w, "u", PROCESS_64, INSTANCE_RUNNING, false);
        p = plan_of(&w);
        j = plan_to_json(p);
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_string_equal(s, "[{\"action\":\"update\",\"unit\":\"u\",\"changed\":[\"resources.memory\"],"
                               "\"details\":[\"resources.memory: 64M -> 128M\"]}]");
        world_done(&w);
}

static void test_string_tables(void **state) {
        for (ActionType t = 0; t < _ACTION_TYPE_MAX; t++) {
                assert_non_null(action_type_to_string(t));
                assert_int_equal(action_type_from_string(action_type_to_string(t)), t);
        }
        assert_string_equal(action_type_to_string(ACTION_REPLACE), "replace");
        assert_null(action_type_to_string(_ACTION_TYPE_MAX));
        assert_int_equal(action_type_from_string("restart"), _ACTION_TYPE_INVALID);
        assert_int_equal(action_type_from_string(NULL), _ACTION_TYPE_INVALID);

        for (InstanceState s = 0; s < _INSTANCE_STATE_MAX; s++) {
                assert_non_null(instance_state_to_string(s));
                assert_int_equal(instance_state_from_string(instance_state_to_string(s)), s);
        }
        assert_string_equal(instance_state_to_string(INSTANCE_BACKOFF), "backoff");
        assert_null(instance_state_to_string(_INSTANCE_STATE_MAX));
        assert_int_equal(instance_state_from_string("dead"), _INSTANCE_STATE_INVALID);
        assert_true(instance_state_is_active(INSTANCE_STOPPING));
        assert_false(instance_state_is_active(INSTANCE_BACKOFF));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rule_table),
                cmocka_unit_test(test_rule_table_together),
                cmocka_unit_test(test_instance_without_hash),
                cmocka_unit_test(test_invalid_observed),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_order),
                cmocka_unit_test(test_determinism),
                cmocka_unit_test(test_plan_format),
                cmocka_unit_test(test_plan_to_json),
                cmocka_unit_test(test_share_follows_texts),
                cmocka_unit_test(test_diff),
                cmocka_unit_test(test_update_by_state),
                cmocka_unit_test(test_update_texts),
                cmocka_unit_test(test_updatable_in_place),
                cmocka_unit_test(test_update_json),
                cmocka_unit_test(test_string_tables),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
