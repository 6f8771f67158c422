/* SPDX-License-Identifier: MIT */
#include "reconcile.h"

#include <stdint.h>

#include "alloc.h"
#include "string-util.h"

static const char *const action_type_table[_ACTION_TYPE_MAX] = {
        [ACTION_START] = "start",
        [ACTION_REPLACE] = "replace",
        [ACTION_REMOVE] = "remove",
        [ACTION_UPDATE] = "update",
};
DEFINE_STRING_TABLE_LOOKUP(action_type, ActionType, _ACTION_TYPE_MAX);

static void action_done(Action *a) {
        a->unit = (free(a->unit), NULL);
        a->changed = strv_free(a->changed);
        a->details = strv_free(a->details);
        a->follows = (free(a->follows), NULL);
}

Plan *plan_free(Plan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_actions; i++)
                action_done(&p->actions[i]);
        free(p->actions);
        free(p);
        return NULL;
}

/* The dependency graph of one side, desired or observed: node i is the unit names[i] (sorted), its
 * edges those of its spec that name another node. Edges to units outside the side are dropped: the
 * plan orders its own actions, and the executor gates on what is running. */
typedef struct Graph {
        size_t n;
        const char **names;
        size_t **deps; /* deps[i]: the nodes i depends on, n_deps[i] of them */
        size_t *n_deps;
} Graph;

static size_t name_index(const char *const *names, size_t n, const char *name) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(name, names[mid]);
                if (r == 0)
                        return mid;
                if (r < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return SIZE_MAX;
}

/* specs[i] may be NULL: an instance whose spec is not known has no known edges. */
static void graph_init(Graph *g, const char **names, const UnitSpec *const *specs, size_t n) {
        *g = (Graph) {
                .n = n,
                .names = names,
                .deps = xnew0(size_t *, n),
                .n_deps = xnew0(size_t, n),
        };
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ UnitDependency *d = NULL;
                size_t k = 0;

                if (!specs[i])
                        continue;
                d = unit_spec_dependencies(specs[i], &k);
                for (size_t e = 0; e < k; e++) {
                        size_t j = name_index(names, n, d[e].ref->name);
                        if (j != SIZE_MAX && j != i)
                                *ARRAY_APPEND(g->deps[i], g->n_deps[i]) = j;
                }
        }
}

static void graph_done(Graph *g) {
        for (size_t i = 0; i < g->n; i++)
                free(g->deps[i]);
        free(g->deps);
        free(g->n_deps);
}

/* Marks in reach[] every node reachable from start, start excluded unless a cycle leads back to it
 * (which the caller ignores). visited[] and stack[] have g->n items; visited[] is cleared here. */
static void graph_reach(const Graph *g, size_t start, bool *visited, size_t *stack) {
        size_t depth = 0;

        memset(visited, 0, g->n * sizeof(bool));
        visited[start] = true;
        stack[depth++] = start;
        while (depth > 0) {
                size_t i = stack[--depth];
                for (size_t e = 0; e < g->n_deps[i]; e++) {
                        size_t j = g->deps[i][e];
                        if (!visited[j]) {
                                visited[j] = true;
                                stack[depth++] = j;
                        }
                }
        }
}

/* Orders the selected nodes: with dependencies_first every node after the selected nodes it
 * depends on, directly or through unselected ones; otherwise before them. Among the nodes whose
 * turn it is, the first by name goes first. Nodes that depend on each other (a cycle, possible
 * among stale observed specs) form a group that goes as one, its members in name order, at the
 * turn of its first member: the groups form a DAG, so this always terminates. Writes the node
 * indices to ret (g->n items) and returns their count. */
static size_t graph_order(const Graph *g, const bool *selected, bool dependencies_first, size_t *ret) {
        _cleanup_free_ size_t *sel = xnew0(size_t, g->n), *pos = xnew0(size_t, g->n), *stack = xnew0(size_t, g->n);
        _cleanup_free_ bool *visited = xnew0(bool, g->n);
        _cleanup_free_ bool *reach = NULL, *placed = NULL;
        _cleanup_free_ size_t *group = NULL, *pending = NULL;
        size_t m = 0, k = 0;

        for (size_t i = 0; i < g->n; i++) {
                pos[i] = selected[i] ? m : SIZE_MAX;
                if (selected[i])
                        sel[m++] = i;
        }
        if (m == 0)
                return 0;

        /* reach[a * m + b]: selected node a depends on selected node b. */
        reach = xnew0(bool, m * m);
        for (size_t a = 0; a < m; a++) {
                graph_reach(g, sel[a], visited, stack);
                for (size_t i = 0; i < g->n; i++)
                        if (visited[i] && pos[i] != SIZE_MAX && pos[i] != a)
                                reach[a * m + pos[i]] = true;
        }
#define BEFORE(a, b) (dependencies_first ? reach[(a) * m + (b)] : reach[(b) * m + (a)]) /* b goes before a */

        /* A group is named by its first member; sel[] is in name order, so that is its first by name. */
        group = xnew0(size_t, m);
        for (size_t a = 0; a < m; a++)
                for (size_t b = 0; b <= a; b++)
                        if (b == a || (reach[a * m + b] && reach[b * m + a])) {
                                group[a] = b;
                                break;
                        }

        pending = xnew0(size_t, m); /* per group: the pairs (member, other) with other still to go */
        for (size_t a = 0; a < m; a++)
                for (size_t b = 0; b < m; b++)
                        if (group[a] != group[b] && BEFORE(a, b))
                                pending[group[a]]++;

        placed = xnew0(bool, m);
        while (k < m) {
                size_t next = SIZE_MAX;

                for (size_t a = 0; a < m && next == SIZE_MAX; a++)
                        if (group[a] == a && !placed[a] && pending[a] == 0)
                                next = a;
                /* Unreachable, as the groups form a DAG; but never loop on a broken assumption. */
                for (size_t a = 0; a < m && next == SIZE_MAX; a++)
                        if (group[a] == a && !placed[a])
                                next = a;

                placed[next] = true;
                for (size_t b = next; b < m; b++) {
                        if (group[b] != next)
                                continue;
                        ret[k++] = sel[b];
                        for (size_t a = 0; a < m; a++)
                                if (group[a] != next && BEFORE(a, b) && pending[group[a]] > 0)
                                        pending[group[a]]--;
                }
        }
#undef BEFORE
        return k;
}

static int observed_ptr_compare(const void *a, const void *b) {
        const Observed *x = *(const Observed *const *) a, *y = *(const Observed *const *) b;
        return strcmp(x->name, y->name);
}

static void plan_add_removes(Plan *plan, const UnitSet *desired, const Observed **obs, size_t n) {
        _cleanup_free_ const char **names = xnew0(const char *, n);
        _cleanup_free_ const UnitSpec **specs = xnew0(const UnitSpec *, n);
        _cleanup_free_ bool *gone = xnew0(bool, n);
        _cleanup_free_ size_t *order = xnew0(size_t, n);
        Graph g;
        size_t k;

        for (size_t i = 0; i < n; i++) {
                names[i] = obs[i]->name;
                specs[i] = obs[i]->spec;
                gone[i] = !unit_set_find(desired, obs[i]->name);
        }
        graph_init(&g, names, specs, n);
        k = graph_order(&g, gone, /* dependencies_first= */ false, order);
        graph_done(&g);

        for (size_t i = 0; i < k; i++)
                *ARRAY_APPEND(plan->actions, plan->n_actions) = (Action) {
                        .type = ACTION_REMOVE,
                        .unit = xstrdup(obs[order[i]]->name),
                };
}

/* Decides what to do with desired unit u, given its instance o (or NULL). Returns 1 with the action
 * in *ret, 0 when there is nothing to do, or a negative errno. */
static int decide(const UnitSpec *u, const Observed *o, UnitFieldIsLive is_live, Action *ret) {
        _cleanup_strv_free_ char **changed = NULL, **details = NULL;
        char hash[65];
        int r;

        if (!o) {
                *ret = (Action) { .type = ACTION_START, .unit = xstrdup(u->name), .start = true };
                return 1;
        }
        r = unit_spec_hash(u, hash);
        if (r < 0)
                return r;
        /* Whatever the state: a reload applies the units, it does not rerun exited jobs or retry
         * failed ones. An instance with no hash is not known to run this spec. */
        if (o->hash && streq(o->hash, hash))
                return 0;
        changed = o->spec ? unit_spec_diff(o->spec, u) : xnew0(char *, 1);
        /* In place where there is a workload to change, or the operator keeps it stopped; an
         * instance that ended is started anew with the new spec, as for any other change. */
        if (o->spec && unit_spec_updatable_in_place(o->spec, u, changed, is_live) &&
            (o->state == INSTANCE_RUNNING || o->state == INSTANCE_STARTING || o->admin_stopped)) {
                details = unit_spec_describe_changes(o->spec, u, changed);
                *ret = (Action) {
                        .type = ACTION_UPDATE,
                        .unit = xstrdup(u->name),
                        .changed = TAKE_PTR(changed),
                        .details = TAKE_PTR(details),
                };
                return 1;
        }
        if (o->spec) {
                details = xnew0(char *, 1);
                STRV_FOREACH(f, changed)
                if (o->spec->isolation != u->isolation || !is_live(o->spec, u, *f))
                        strv_push(&details, xstrdup(*f));
        }
        *ret = (Action) {
                .type = ACTION_REPLACE,
                .unit = xstrdup(u->name),
                .start = !o->admin_stopped,
                .changed = TAKE_PTR(changed),
                .details = TAKE_PTR(details),
                .state = o->state,
        };
        return 1;
}

/* A namespace lives as long as a process holds it: an instance that shared one of its target's
 * instance would keep that instance's namespace, cut off from the target's new instance. So a unit
 * whose share target gets a new instance (START or REPLACE) gets one too, REPLACE with follows set,
 * whatever its own action was (none or UPDATE; an UPDATE's changes are then applied by the new
 * instance). Transitively: the sharer of a sharer follows too. Units are visited until nothing
 * changes; each changes at most once, so this ends even on a cycle. */
static bool new_instance(const Action *a) {
        return a->unit && (a->type == ACTION_START || a->type == ACTION_REPLACE);
}

static void follow_share_targets(const UnitSet *desired, const Observed *const *instance, Action *todo) {
        size_t n = desired->n_units;

        for (bool changed = true; changed;) {
                changed = false;
                for (size_t i = 0; i < n; i++) {
                        const UnitSpec *u = desired->units[i];
                        _cleanup_free_ UnitDependency *deps = NULL;
                        size_t n_deps;

                        /* A unit without an instance starts fresh anyway. */
                        if (!instance[i] || new_instance(&todo[i]))
                                continue;
                        deps = unit_spec_dependencies(u, &n_deps);
                        for (size_t k = 0; k < n_deps; k++) {
                                const char *kind = startswith(deps[k].kind, "share.");
                                const UnitSpec *t = kind ? unit_set_find(desired, deps[k].ref->name) : NULL;
                                size_t j;

                                if (!t)
                                        continue;
                                for (j = 0; j < n && desired->units[j] != t; j++)
                                        ;
                                if (new_instance(&todo[j])) {
                                        char **kept = todo[i].unit ? TAKE_PTR(todo[i].changed) : NULL;

                                        action_done(&todo[i]);
                                        todo[i] = (Action){
                                                .type = ACTION_REPLACE,
                                                .unit = xstrdup(u->name),
                                                .start = !instance[i]->admin_stopped,
                                                .changed = kept ?: xnew0(char *, 1),
                                                .details = xnew0(char *, 1),
                                                .state = instance[i]->state,
                                                .follows = xstrdup(t->name),
                                                .follows_kind = kind,
                                        };
                                        changed = true;
                                        break;
                                }
                        }
                }
        }
}

static int plan_add_starts(Plan *plan, const UnitSet *desired, const Observed **obs, size_t n_obs,
                           UnitFieldIsLive is_live) {
        size_t n = desired->n_units, k;
        _cleanup_free_ const char **names = xnew0(const char *, n), **obs_names = xnew0(const char *, n_obs);
        _cleanup_free_ const Observed **instance = xnew0(const Observed *, n);
        _cleanup_free_ bool *act = xnew0(bool, n);
        _cleanup_free_ size_t *order = xnew0(size_t, n);
        Action *todo = xnew0(Action, n);
        Graph g;
        int r = 0;

        for (size_t i = 0; i < n_obs; i++)
                obs_names[i] = obs[i]->name;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const UnitSpec *u = desired->units[i];
                size_t j = name_index(obs_names, n_obs, u->name);

                names[i] = u->name;
                instance[i] = j == SIZE_MAX ? NULL : obs[j];
                r = decide(u, instance[i], is_live, &todo[i]);
        }
        if (r >= 0) {
                follow_share_targets(desired, instance, todo);
                for (size_t i = 0; i < n; i++)
                        act[i] = todo[i].unit != NULL;
                graph_init(&g, names, (const UnitSpec *const *) desired->units, n);
                k = graph_order(&g, act, /* dependencies_first= */ true, order);
                graph_done(&g);
                for (size_t i = 0; i < k; i++) {
                        *ARRAY_APPEND(plan->actions, plan->n_actions) = todo[order[i]];
                        todo[order[i]] = (Action) {};
                }
        }

        for (size_t i = 0; i < n; i++)
                action_done(&todo[i]);
        free(todo);
        return r < 0 ? r : 0;
}

int reconcile(const UnitSet *desired, const Observed *observed, size_t n_observed, UnitFieldIsLive is_live,
              Plan **ret) {
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_free_ const Observed **obs = NULL;
        int r;

        if (!desired || !ret || !is_live || (n_observed > 0 && !observed))
                return -EINVAL;

        /* The caller's order of instances must not show in the plan. */
        obs = xnew0(const Observed *, n_observed);
        for (size_t i = 0; i < n_observed; i++) {
                if (!observed[i].name)
                        return -EINVAL;
                obs[i] = &observed[i];
        }
        qsort_safe(obs, n_observed, sizeof(Observed *), observed_ptr_compare);
        for (size_t i = 1; i < n_observed; i++)
                if (streq(obs[i - 1]->name, obs[i]->name))
                        return -EINVAL;

        plan = xzalloc(sizeof(Plan));
        plan_add_removes(plan, desired, obs, n_observed);
        r = plan_add_starts(plan, desired, obs, n_observed, is_live);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(plan);
        return 0;
}

static json_t *strv_to_json(char *const *l) {
        json_t *a = json_array();
        STRV_FOREACH(f, l)
                json_array_append_new(a, json_string(*f));
        return a;
}

json_t *plan_to_json(const Plan *p) {
        json_t *a = json_array();

        for (size_t i = 0; p && i < p->n_actions; i++) {
                const Action *x = &p->actions[i];
                json_t *o = json_object();

                json_object_set_new(o, "action", json_string(action_type_to_string(x->type)));
                json_object_set_new(o, "unit", json_string(x->unit));
                if (x->type == ACTION_START || x->type == ACTION_REPLACE)
                        json_object_set_new(o, "start", json_boolean(x->start));
                if (x->type == ACTION_REPLACE || x->type == ACTION_UPDATE)
                        json_object_set_new(o, "changed", strv_to_json(x->changed));
                if (x->type == ACTION_UPDATE)
                        json_object_set_new(o, "details", strv_to_json(x->details));
                if (x->follows)
                        json_object_set_new(o, "follows",
                                            json_pack("{s:s, s:s}", "unit", x->follows, "share", x->follows_kind));
                json_array_append_new(a, o);
        }
        return a;
}

static char *action_format(const Action *a) {
        _cleanup_free_ char *changed = NULL;

        switch (a->type) {
        case ACTION_START:
                if (a->start)
                        return xasprintf("start %s (new unit)\n", a->unit);
                return xasprintf("create %s, not started (new unit)\n", a->unit);
        case ACTION_UPDATE: {
                _cleanup_free_ char *list = strv_join(a->details, ", ");
                return xasprintf("update %s in place (%s)\n", a->unit, list);
        }
        case ACTION_REPLACE:
                if (a->follows) {
                        _cleanup_free_ char *list = strv_join(a->changed, ", ");
                        changed = xasprintf("it shares the %s namespace of %s, which gets a new instance%s%s",
                                            a->follows_kind, a->follows, list[0] ? "; changed: " : "", list);
                } else if (a->changed && a->changed[0]) {
                        _cleanup_free_ char *list = strv_join(a->changed, ", "), *restart = strv_join(a->details, ", ");
                        size_t n_restart = strv_length(a->details);

                        /* Say why it is no update in place, when some of it could have been. */
                        if (!a->details || n_restart == strv_length(a->changed))
                                changed = xasprintf("changed: %s", list);
                        else if (n_restart > 0)
                                changed = xasprintf("changed: %s; %s need%s a restart", list, restart,
                                                    n_restart == 1 ? "s" : "");
                        else
                                changed = xasprintf("changed: %s; not running (%s): started anew", list,
                                                    instance_state_to_string(a->state) ?: "?");
                } else
                        changed = xstrdup("hash changed, fields not known");
                if (a->start)
                        return xasprintf("replace %s (%s)\n", a->unit, changed);
                return xasprintf("replace %s, not started (stopped by the operator; %s)\n", a->unit, changed);
        case ACTION_REMOVE:
                return xasprintf("remove %s (no longer defined)\n", a->unit);
        case _ACTION_TYPE_MAX:
        case _ACTION_TYPE_INVALID:
                break;
        }
        return xasprintf("%d %s\n", (int) a->type, a->unit);
}

char *plan_format(const Plan *p) {
        _cleanup_strv_free_ char **lines = NULL;

        if (!p || p->n_actions == 0)
                return xstrdup("nothing to do\n");
        for (size_t i = 0; i < p->n_actions; i++)
                strv_push(&lines, action_format(&p->actions[i]));
        return strv_join(lines, "");
}
