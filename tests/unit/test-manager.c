/* SPDX-License-Identifier: MIT */
/* supd's manager: the life of an instance over a fake runtime (ManagerRuntime) in place of
 * sup-monitor processes and their sockets. Every (state, event) cell of manager.c's actions[][]
 * written out, and the windows between two events that went wrong before. */
#include "test-helpers.h"

#include <signal.h>
#include <sys/stat.h>

#include "manager.h"
#include "process-util.h"
#include "path-util.h"
#include "string-util.h"
#include "zygote.h"

/* ---- the fake runtime: it records what the machine asks of the unit "t"'s monitor ---- */

typedef struct Fake {
        unsigned spawns, connects, sends, kills;
        char *sent;         /* the last method sent to t's monitor */
        json_int_t sent_id; /* and its id */
        int last_signal;
        int spawn_result; /* what spawn() and connect() return */
        int connect_result;
        pid_t holder;     /* what watch_exit() finds: the process holding the lock, or 0 */
        bool sent_remove; /* the last request's "remove" (shutdown's: the sandbox goes too) */
} Fake;

static Fake fake;

static bool is_t(const Instance *i) {
        return streq(i->name, "t");
}

static int fake_spawn(Instance *i) {
        fake.spawns += is_t(i);
        return fake.spawn_result;
}

static int fake_connect(Instance *i) {
        fake.connects += is_t(i);
        return fake.connect_result;
}

static int fake_send(Instance *i, const json_t *request) {
        if (is_t(i)) {
                fake.sends++;
                free(fake.sent);
                fake.sent = xstrdup(json_string_value(json_object_get(request, "method")));
                fake.sent_id = json_integer_value(json_object_get(request, "id"));
                fake.sent_remove = json_is_true(json_object_get(json_object_get(request, "params"), "remove"));
        }
        return 0;
}

static pid_t fake_watch_exit(Instance *i) {
        return fake.holder;
}

static void fake_kill(Instance *i, int sig) {
        if (is_t(i)) {
                fake.kills++;
                fake.last_signal = sig;
        }
}

static void fake_release(Instance *i) {
}

static const ManagerRuntime fake_runtime = {
        .spawn = fake_spawn,
        .connect = fake_connect,
        .send = fake_send,
        .watch_exit = fake_watch_exit,
        .kill = fake_kill,
        .release = fake_release,
};

/* ---- the harness: a units directory with t (which requires dep) and dep ---- */

typedef enum Found {
        FOUND_NONE,   /* a first start: supd creates both instances */
        FOUND_T,      /* t's monitor runs from a previous supd, with a good spec.json */
        FOUND_T_BAD,  /* likewise, with a spec.json that cannot be read */
        FOUND_T_DEAF, /* t's monitor lives (it holds the lock) but its socket refuses */
} Found;

typedef struct Harness {
        char *tmp;
        Event *event;
        Manager *m;
        UnitSpec *spec; /* t's, for the plan's events */
} Harness;

static char *unit_text(const char *tmp, const char *name, const char *extra) {
        return xasprintf("name: %s\nimage:\n  layers:\n    - dir: %s/layer\ncommand: [/bin/true]\n%s", name, tmp,
                         extra);
}

/* What the fake's spawn() returns from the harness's start on. */
static int harness_spawn_result;
/* What dep's unit file adds (a healthcheck). */
static const char *harness_dep_extra = "";

static void harness_open(Harness *h, Found found) {
        _cleanup_free_ char *t = NULL, *dep = NULL, *layer = NULL;
        Diagnostics d = {};
        ManagerConfig cfg = {};

        free(fake.sent);
        fake = (Fake){.holder = 4242, .spawn_result = harness_spawn_result};
        h->tmp = make_tree();
        layer = path_join(h->tmp, "layer");
        assert_int_equal(mkdir_p(layer, 0755), 0);
        t = unit_text(h->tmp, "t", "requires: [dep]\n");
        dep = unit_text(h->tmp, "dep", harness_dep_extra);
        put(h->tmp, "units.d/t.yaml", t);
        put(h->tmp, "units.d/dep.yaml", dep);
        assert_int_equal(unit_parse("t.yaml", h->tmp, t, strlen(t), 0, &d, &h->spec, NULL), 0);
        diagnostics_done(&d);
        if (found == FOUND_T_DEAF)
                fake.connect_result = -ECONNREFUSED;
        if (found == FOUND_T || found == FOUND_T_DEAF) {
                _cleanup_free_ char *text = unit_spec_format(h->spec);
                put(h->tmp, "run/units/t/spec.json", text);
        } else if (found == FOUND_T_BAD)
                put(h->tmp, "run/units/t/spec.json", "{ not json");

        cfg = (ManagerConfig){
                .units_dir = path_join(h->tmp, "units.d"),
                .state_dir = path_join(h->tmp, "state"),
                .run_dir = path_join(h->tmp, "run"),
                .cgroup_root = xstrdup("/nonexistent"),
                .cgroup_parent = xstrdup("sup"),
        };
        assert_int_equal(event_new(&h->event), 0);
        assert_int_equal(manager_new(h->event, &cfg, &h->m), 0);
        manager_set_runtime(h->m, &fake_runtime);
        assert_int_equal(manager_startup(h->m), 0);
}

static void harness_close(Harness *h) {
        manager_free(h->m);
        event_free(h->event);
        unit_spec_free(h->spec);
        (void) rm_rf(h->tmp);
        free(h->tmp);
        free(fake.sent);
        fake.sent = NULL;
}

/* The newest instance of the unit (a successor before the instance it follows), or NULL. */
static Instance *find(Harness *h, const char *name) {
        for (Instance *i = h->m->instances; i; i = i->next)
                if (streq(i->name, name))
                        return i;
        return NULL;
}

static Instance *t_of(Harness *h) {
        Instance *i = find(h, "t");
        assert_non_null(i);
        return i;
}

static bool timer_armed(const Instance *i) {
        return i->timer && event_source_get_time(i->timer) != USEC_INFINITY;
}

/* A status as the monitor sends it. */
static json_t *status_json(const char *name, InstanceState state) {
        InstanceStatus s = {.name = (char *) name, .state = state};
        return instance_status_to_json(&s);
}

/* A status with the health check's view, as the monitor of a unit with a healthcheck sends it. */
static void health_arrives(Instance *i, InstanceState state, HealthState health) {
        InstanceStatus s = {.name = i->name, .state = state, .health = {.enabled = true, .state = health}};
        json_t *j = instance_status_to_json(&s);

        (void) instance_dispatch(i, LIFE_EVENT_STATUS, &(InstanceInput){.data = j});
        json_decref(j);
}

static void status_arrives(Instance *i, InstanceState state) {
        json_t *j = status_json(i->name, state);
        (void) instance_dispatch(i, LIFE_EVENT_STATUS, &(InstanceInput){.data = j});
        json_decref(j);
}

/* The answer to what was asked: the monitor's status, and the spec it runs. */
static json_t *answer_json(Harness *h, const char *name) {
        _cleanup_free_ char *text = unit_spec_format(h->spec);
        json_t *result = status_json(name, INSTANCE_STOPPED);

        json_object_set_new(result, "spec", json_string(text));
        return json_pack("{s:I, s:o}", "id", (json_int_t) 0, "result", result);
}

static void answer_arrives(Harness *h, Instance *i) {
        json_t *j = answer_json(h, i->name);
        (void) instance_dispatch(i, LIFE_EVENT_ANSWER, &(InstanceInput){.data = j});
        json_decref(j);
}

/* The monitor answers the last request sent to t through the real path (instance_received()). */
static void t_replies(Harness *h, json_t *result) {
        json_t *msg = json_pack("{s:I, s:o}", "id", fake.sent_id, "result", result);
        instance_received(t_of(h), msg);
        json_decref(msg);
}

static void enter(Harness *h, InstanceLife s) {
        switch (s) {
        case LIFE_SPAWNING:
                harness_open(h, FOUND_NONE);
                break;
        case LIFE_SPAWN_FAILED:
                enter(h, LIFE_SPAWNING);
                instance_spawned(t_of(h), "cannot execute sup-monitor");
                break;
        case LIFE_CONNECTING:
                enter(h, LIFE_SPAWNING);
                instance_spawned(t_of(h), NULL);
                break;
        case LIFE_WAITING:
                enter(h, LIFE_CONNECTING);
                status_arrives(t_of(h), INSTANCE_STOPPED); /* dep does not run yet */
                break;
        case LIFE_UP:
                /* dep comes up and runs: t's start goes out. */
                enter(h, LIFE_WAITING);
                instance_spawned(find(h, "dep"), NULL);
                status_arrives(find(h, "dep"), INSTANCE_RUNNING);
                assert_string_equal(fake.sent, "start");
                break;
        case LIFE_ADOPT_ASKED:
                harness_open(h, FOUND_T);
                break;
        case LIFE_ADOPT_UNRESPONSIVE:
                enter(h, LIFE_ADOPT_ASKED);
                (void) instance_dispatch(t_of(h), LIFE_EVENT_TIMER, NULL);
                break;
        case LIFE_ADOPT_SPEC:
                harness_open(h, FOUND_T_BAD);
                answer_arrives(h, t_of(h));
                assert_string_equal(fake.sent, "spec");
                break;
        case LIFE_UNREACHABLE:
                harness_open(h, FOUND_T_DEAF);
                fake.connect_result = 0;
                assert_int_equal(fake.last_signal, SIGTERM);
                break;
        case LIFE_RETIRING_SPAWN:
                enter(h, LIFE_SPAWNING);
                (void) instance_dispatch(t_of(h), LIFE_EVENT_REMOVE, NULL);
                break;
        case LIFE_RETIRING:
                enter(h, LIFE_UP);
                (void) instance_dispatch(t_of(h), LIFE_EVENT_REMOVE, NULL);
                break;
        case LIFE_RETIRED:
                enter(h, LIFE_RETIRING);
                instance_lost(t_of(h), 0);
                break;
        case _LIFE_MAX:
        case _LIFE_INVALID:
                fail();
        }
        assert_string_equal(instance_life_to_string(t_of(h)->life), instance_life_to_string(s));
}

static int deliver(Harness *h, InstanceEvent ev) {
        Instance *i = t_of(h);
        InstanceInput in = {.spec = h->spec, .start = true};
        json_t *j;
        int r = 0;

        switch (ev) {
        case LIFE_EVENT_CREATE:
        case LIFE_EVENT_REPLACE:
        case LIFE_EVENT_UPDATE:
                return instance_dispatch(i, ev, &in);
        case LIFE_EVENT_START:
        case LIFE_EVENT_STOP:
        case LIFE_EVENT_REMOVE:
        case LIFE_EVENT_SHUTDOWN:
                return instance_dispatch(i, ev, NULL);
        case LIFE_EVENT_SPAWNED:
                instance_spawned(i, NULL);
                break;
        case LIFE_EVENT_SPAWN_FAILED:
                instance_spawned(i, "cannot execute sup-monitor");
                break;
        case LIFE_EVENT_STATUS:
                status_arrives(i, INSTANCE_STOPPED);
                break;
        case LIFE_EVENT_ANSWER:
                j = answer_json(h, "t");
                r = instance_dispatch(i, LIFE_EVENT_ANSWER, &(InstanceInput){.data = j});
                json_decref(j);
                break;
        case LIFE_EVENT_LOST:
                instance_lost(i, 0);
                break;
        case LIFE_EVENT_EXITED:
                instance_exited(i);
                break;
        case LIFE_EVENT_TIMER:
                /* As the event loop does before it calls a timer's handler. */
                if (timer_armed(i))
                        event_source_set_time(i->timer, USEC_INFINITY);
                return instance_dispatch(i, LIFE_EVENT_TIMER, NULL);
        case _LIFE_EVENT_MAX:
        case _LIFE_EVENT_INVALID:
                fail();
        }
        return r;
}

enum { GONE = -1 };                                          /* t has no instance any more */
enum { SP = 1 << 0, CO = 1 << 1, SE = 1 << 2, KI = 1 << 3 }; /* spawn, connect, send, kill */

typedef struct Cell {
        InstanceLife from;
        InstanceEvent ev;
        int to;           /* InstanceLife of t's newest instance, or GONE */
        unsigned calls;   /* of the runtime for t, made by this event */
        const char *sent; /* with SE: the method */
        int r;            /* what instance_dispatch() returns */
        bool want;        /* start_when_up, after */
        bool timer;       /* armed, after */
} Cell;

#define L(x) LIFE_##x
#define E(x) LIFE_EVENT_##x

/* clang-format off */
static const Cell cells[] = {
        /* Its monitor is starting: requests are remembered for when it is up; the plan's replace,
         * update and remove wait for it to listen (retiring-spawn), and so does supd's shutdown: a
         * monitor forgotten at supd's stop ran on with no supd. */
        {L(SPAWNING), E(CREATE),       L(SPAWNING),       0,       NULL,       -EEXIST, true,  false},
        {L(SPAWNING), E(START),        L(SPAWNING),       0,       NULL,       0,       true,  false},
        {L(SPAWNING), E(STOP),         L(SPAWNING),       0,       NULL,       0,       false, false},
        {L(SPAWNING), E(REPLACE),      L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(SPAWNING), E(UPDATE),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(SPAWNING), E(REMOVE),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(SPAWNING), E(SHUTDOWN),     L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(SPAWNING), E(SPAWNED),      L(CONNECTING),     CO | SE, "status",   0,       true,  false},
        {L(SPAWNING), E(SPAWN_FAILED), L(SPAWN_FAILED),   0,       NULL,       0,       true,  false},
        {L(SPAWNING), E(STATUS),       L(SPAWNING),       0,       NULL,       0,       true,  false},
        {L(SPAWNING), E(ANSWER),       L(SPAWNING),       0,       NULL,       0,       true,  false},
        {L(SPAWNING), E(LOST),         L(SPAWNING),       0,       NULL,       0,       true,  false},
        {L(SPAWNING), E(EXITED),       L(SPAWNING),       0,       NULL,       0,       true,  false},
        {L(SPAWNING), E(TIMER),        L(SPAWNING),       0,       NULL,       0,       true,  false},
        /* Its monitor could not start: a create starts one anew, so does a replace (the new spec);
         * a request is for `supctl start` to turn into a create. */
        {L(SPAWN_FAILED), E(CREATE),       L(SPAWNING),     SP, NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(START),        L(SPAWN_FAILED), 0,  NULL, -EAGAIN, true, false},
        {L(SPAWN_FAILED), E(STOP),         L(SPAWN_FAILED), 0,  NULL, -EAGAIN, true, false},
        {L(SPAWN_FAILED), E(REPLACE),      L(SPAWNING),     SP, NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(UPDATE),       L(SPAWNING),     SP, NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(REMOVE),       GONE,            0,  NULL, 0,       false, false},
        {L(SPAWN_FAILED), E(SHUTDOWN),     GONE,            0,  NULL, 0,       false, false},
        {L(SPAWN_FAILED), E(SPAWNED),      L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(SPAWN_FAILED), L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(STATUS),       L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(ANSWER),       L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(LOST),         L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(EXITED),       L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        {L(SPAWN_FAILED), E(TIMER),        L(SPAWN_FAILED), 0,  NULL, 0,       true, false},
        /* Connected, its first status asked: a start is remembered, a stop goes to the monitor
         * and is remembered too (no start follows); the status makes it up, and since dep does
         * not run, waiting. A lost connection to a monitor that lives: SIGTERM. */
        {L(CONNECTING), E(CREATE),       L(CONNECTING),  0,  NULL,       -EEXIST, true,  false},
        {L(CONNECTING), E(START),        L(CONNECTING),  0,  NULL,       0,       true,  false},
        {L(CONNECTING), E(STOP),         L(CONNECTING),  0,  NULL,       -EAGAIN, false, false},
        {L(CONNECTING), E(REPLACE),      L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(CONNECTING), E(UPDATE),       L(CONNECTING),  SE, "update",   0,       true,  false},
        {L(CONNECTING), E(REMOVE),       L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(CONNECTING), E(SHUTDOWN),     L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(CONNECTING), E(SPAWNED),      L(CONNECTING),  0,  NULL,       0,       true,  false},
        {L(CONNECTING), E(SPAWN_FAILED), L(CONNECTING),  0,  NULL,       0,       true,  false},
        {L(CONNECTING), E(STATUS),       L(WAITING),     0,  NULL,       0,       false, false},
        {L(CONNECTING), E(ANSWER),       L(CONNECTING),  0,  NULL,       0,       true,  false},
        {L(CONNECTING), E(LOST),         L(UNREACHABLE), KI, NULL,       0,       true,  true},
        {L(CONNECTING), E(EXITED),       L(CONNECTING),  0,  NULL,       0,       true,  false},
        {L(CONNECTING), E(TIMER),        L(CONNECTING),  0,  NULL,       0,       true,  false},
        /* Up, its start held until dep runs: the operator's start is that start's (issue 10: it
         * went to the monitor, past requires); a stop goes to the monitor and ends the wait. */
        {L(WAITING), E(CREATE),       L(WAITING),     0,  NULL,       -EEXIST, false, false},
        {L(WAITING), E(START),        L(WAITING),     0,  NULL,       0,       false, false},
        {L(WAITING), E(STOP),         L(UP),          0,  NULL,       -EAGAIN, false, false},
        {L(WAITING), E(REPLACE),      L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(WAITING), E(UPDATE),       L(WAITING),     SE, "update",   0,       false, false},
        {L(WAITING), E(REMOVE),       L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(WAITING), E(SHUTDOWN),     L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(WAITING), E(SPAWNED),      L(WAITING),     0,  NULL,       0,       false, false},
        {L(WAITING), E(SPAWN_FAILED), L(WAITING),     0,  NULL,       0,       false, false},
        {L(WAITING), E(STATUS),       L(WAITING),     0,  NULL,       0,       false, false},
        {L(WAITING), E(ANSWER),       L(WAITING),     0,  NULL,       0,       false, false},
        {L(WAITING), E(LOST),         L(UNREACHABLE), KI, NULL,       0,       false, true},
        {L(WAITING), E(EXITED),       L(WAITING),     0,  NULL,       0,       false, false},
        {L(WAITING), E(TIMER),        L(WAITING),     0,  NULL,       0,       false, false},
        /* Up: requests are the monitor's (dep runs here; test_start_waits_for_requires has the
         * start of a unit whose dependency does not). */
        {L(UP), E(CREATE),       L(UP),          0,  NULL,       -EEXIST, false, false},
        {L(UP), E(START),        L(UP),          0,  NULL,       -EAGAIN, false, false},
        {L(UP), E(STOP),         L(UP),          0,  NULL,       -EAGAIN, false, false},
        {L(UP), E(REPLACE),      L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(UP), E(UPDATE),       L(UP),          SE, "update",   0,       false, false},
        {L(UP), E(REMOVE),       L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(UP), E(SHUTDOWN),     L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(UP), E(SPAWNED),      L(UP),          0,  NULL,       0,       false, false},
        {L(UP), E(SPAWN_FAILED), L(UP),          0,  NULL,       0,       false, false},
        {L(UP), E(STATUS),       L(UP),          0,  NULL,       0,       false, false},
        {L(UP), E(ANSWER),       L(UP),          0,  NULL,       0,       false, false},
        {L(UP), E(LOST),         L(UNREACHABLE), KI, NULL,       0,       false, true},
        {L(UP), E(EXITED),       L(UP),          0,  NULL,       0,       false, false},
        {L(UP), E(TIMER),        L(UP),          0,  NULL,       0,       false, false},
        /* Found at supd's start, its status asked: the answer adopts it; the deadline shows it
         * unresponsive; a start waits for the answer. */
        {L(ADOPT_ASKED), E(CREATE),       L(ADOPT_ASKED),        0,  NULL,       -EEXIST, false, false},
        {L(ADOPT_ASKED), E(START),        L(ADOPT_ASKED),        0,  NULL,       0,       true,  false},
        {L(ADOPT_ASKED), E(STOP),         L(ADOPT_ASKED),        0,  NULL,       -EAGAIN, false, false},
        {L(ADOPT_ASKED), E(REPLACE),      L(RETIRING),           SE, "shutdown", 0,       false, false},
        {L(ADOPT_ASKED), E(UPDATE),       L(ADOPT_ASKED),        SE, "update",   0,       false, false},
        {L(ADOPT_ASKED), E(REMOVE),       L(RETIRING),           SE, "shutdown", 0,       false, false},
        {L(ADOPT_ASKED), E(SHUTDOWN),     L(RETIRING),           SE, "shutdown", 0,       false, false},
        {L(ADOPT_ASKED), E(SPAWNED),      L(ADOPT_ASKED),        0,  NULL,       0,       false, false},
        {L(ADOPT_ASKED), E(SPAWN_FAILED), L(ADOPT_ASKED),        0,  NULL,       0,       false, false},
        {L(ADOPT_ASKED), E(STATUS),       L(ADOPT_ASKED),        0,  NULL,       0,       false, false},
        {L(ADOPT_ASKED), E(ANSWER),       L(UP),                 0,  NULL,       0,       false, false},
        {L(ADOPT_ASKED), E(LOST),         L(UNREACHABLE),        KI, NULL,       0,       false, true},
        {L(ADOPT_ASKED), E(EXITED),       L(ADOPT_ASKED),        0,  NULL,       0,       false, false},
        {L(ADOPT_ASKED), E(TIMER),        L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(CREATE),       L(ADOPT_UNRESPONSIVE), 0,  NULL,       -EEXIST, false, false},
        {L(ADOPT_UNRESPONSIVE), E(START),        L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       true,  false},
        {L(ADOPT_UNRESPONSIVE), E(STOP),         L(ADOPT_UNRESPONSIVE), 0,  NULL,       -EAGAIN, false, false},
        {L(ADOPT_UNRESPONSIVE), E(REPLACE),      L(RETIRING),           SE, "shutdown", 0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(UPDATE),       L(ADOPT_UNRESPONSIVE), SE, "update",   0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(REMOVE),       L(RETIRING),           SE, "shutdown", 0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(SHUTDOWN),     L(RETIRING),           SE, "shutdown", 0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(SPAWNED),      L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(SPAWN_FAILED), L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(STATUS),       L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(ANSWER),       L(UP),                 0,  NULL,       0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(LOST),         L(UNREACHABLE),        KI, NULL,       0,       false, true},
        {L(ADOPT_UNRESPONSIVE), E(EXITED),       L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       false, false},
        {L(ADOPT_UNRESPONSIVE), E(TIMER),        L(ADOPT_UNRESPONSIVE), 0,  NULL,       0,       false, false},
        /* Adopted but its spec.json unusable, its spec asked: a start cannot be kept (there is
         * nothing to start yet); the answer with a good spec adopts it. */
        {L(ADOPT_SPEC), E(CREATE),       L(ADOPT_SPEC),  0,  NULL,       -EEXIST, false, false},
        {L(ADOPT_SPEC), E(START),        L(ADOPT_SPEC),  0,  NULL,       -EAGAIN, false, false},
        {L(ADOPT_SPEC), E(STOP),         L(ADOPT_SPEC),  0,  NULL,       -EAGAIN, false, false},
        {L(ADOPT_SPEC), E(REPLACE),      L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(ADOPT_SPEC), E(UPDATE),       L(ADOPT_SPEC),  SE, "update",   0,       false, false},
        {L(ADOPT_SPEC), E(REMOVE),       L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(ADOPT_SPEC), E(SHUTDOWN),     L(RETIRING),    SE, "shutdown", 0,       false, false},
        {L(ADOPT_SPEC), E(SPAWNED),      L(ADOPT_SPEC),  0,  NULL,       0,       false, false},
        {L(ADOPT_SPEC), E(SPAWN_FAILED), L(ADOPT_SPEC),  0,  NULL,       0,       false, false},
        {L(ADOPT_SPEC), E(STATUS),       L(ADOPT_SPEC),  0,  NULL,       0,       false, false},
        {L(ADOPT_SPEC), E(ANSWER),       L(UP),          0,  NULL,       0,       false, false},
        {L(ADOPT_SPEC), E(LOST),         L(UNREACHABLE), KI, NULL,       0,       false, true},
        {L(ADOPT_SPEC), E(EXITED),       L(ADOPT_SPEC),  0,  NULL,       0,       false, false},
        {L(ADOPT_SPEC), E(TIMER),        L(ADOPT_SPEC),  0,  NULL,       0,       false, false},
        /* Alive but not reachable, told to stop by SIGTERM: nothing is sent; a replace or remove
         * waits for its exit, within the same deadline; its exit starts the unit anew; the
         * timer kills it. */
        {L(UNREACHABLE), E(CREATE),       L(UNREACHABLE), 0,  NULL, -EEXIST, false, true},
        {L(UNREACHABLE), E(START),        L(UNREACHABLE), 0,  NULL, -EAGAIN, false, true},
        {L(UNREACHABLE), E(STOP),         L(UNREACHABLE), 0,  NULL, -EAGAIN, false, true},
        {L(UNREACHABLE), E(REPLACE),      L(RETIRED),     0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(UPDATE),       L(RETIRED),     0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(REMOVE),       L(RETIRED),     0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(SHUTDOWN),     GONE,           0,  NULL, 0,       false, false},
        {L(UNREACHABLE), E(SPAWNED),      L(UNREACHABLE), 0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(SPAWN_FAILED), L(UNREACHABLE), 0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(STATUS),       L(UNREACHABLE), 0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(ANSWER),       L(UNREACHABLE), 0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(LOST),         L(UNREACHABLE), 0,  NULL, 0,       false, true},
        {L(UNREACHABLE), E(EXITED),       L(SPAWNING),    SP, NULL, 0,       true,  false},
        {L(UNREACHABLE), E(TIMER),        L(UNREACHABLE), KI, NULL, 0,       false, false},
        /* Removed while its monitor was starting: told to shut down as soon as it listens, at supd's
         * stop too (forgotten, it ran on with no supd) unless nothing was forked yet. */
        {L(RETIRING_SPAWN), E(CREATE),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(START),        L(RETIRING_SPAWN), 0,       NULL,       -ENOENT, false, false},
        {L(RETIRING_SPAWN), E(STOP),         L(RETIRING_SPAWN), 0,       NULL,       -ENOENT, false, false},
        {L(RETIRING_SPAWN), E(REPLACE),      L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(UPDATE),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(REMOVE),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(SHUTDOWN),     L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(SPAWNED),      L(RETIRING),       CO | SE, "shutdown", 0,       false, false},
        {L(RETIRING_SPAWN), E(SPAWN_FAILED), GONE,              0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(STATUS),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(ANSWER),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(LOST),         L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(EXITED),       L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        {L(RETIRING_SPAWN), E(TIMER),        L(RETIRING_SPAWN), 0,       NULL,       0,       false, false},
        /* Told to shut down: a create or request is its successor's (none here: -ENOENT); its
         * connection's end leaves it waiting for its process's exit. */
        {L(RETIRING), E(CREATE),       L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(START),        L(RETIRING), 0, NULL, -ENOENT, false, false},
        {L(RETIRING), E(STOP),         L(RETIRING), 0, NULL, -ENOENT, false, false},
        {L(RETIRING), E(REPLACE),      L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(UPDATE),       L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(REMOVE),       L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(SHUTDOWN),     L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(SPAWNED),      L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(SPAWN_FAILED), L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(STATUS),       L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(ANSWER),       L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(LOST),         L(RETIRED),  0, NULL, 0,       false, true},
        {L(RETIRING), E(EXITED),       L(RETIRING), 0, NULL, 0,       false, false},
        {L(RETIRING), E(TIMER),        L(RETIRING), 0, NULL, 0,       false, false},
        /* Its connection closed, its process not gone yet: gone with its exit; SIGKILL on the
         * timer; supd's shutdown no longer waits for it. */
        {L(RETIRED), E(CREATE),       L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(START),        L(RETIRED), 0,  NULL, -ENOENT, false, true},
        {L(RETIRED), E(STOP),         L(RETIRED), 0,  NULL, -ENOENT, false, true},
        {L(RETIRED), E(REPLACE),      L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(UPDATE),       L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(REMOVE),       L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(SHUTDOWN),     GONE,       0,  NULL, 0,       false, false},
        {L(RETIRED), E(SPAWNED),      L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(SPAWN_FAILED), L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(STATUS),       L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(ANSWER),       L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(LOST),         L(RETIRED), 0,  NULL, 0,       false, true},
        {L(RETIRED), E(EXITED),       GONE,       0,  NULL, 0,       false, false},
        {L(RETIRED), E(TIMER),        L(RETIRED), KI, NULL, 0,       false, false},
};
/* clang-format on */

static void test_every_cell(void **state) {
        bool seen[_LIFE_MAX][_LIFE_EVENT_MAX] = {};

        for (size_t k = 0; k < ELEMENTSOF(cells); k++) {
                const Cell *c = &cells[k];
                Harness h = {};
                Fake before;
                Instance *i;
                unsigned calls;
                int r;

                print_message("%s + %s\n", instance_life_to_string(c->from), instance_event_to_string(c->ev));
                enter(&h, c->from);
                before = fake;
                r = deliver(&h, c->ev);
                calls = (fake.spawns > before.spawns ? SP : 0) | (fake.connects > before.connects ? CO : 0) |
                        (fake.sends > before.sends ? SE : 0) | (fake.kills > before.kills ? KI : 0);
                i = find(&h, "t");
                if (c->to == GONE)
                        assert_null(i);
                else {
                        assert_non_null(i);
                        assert_string_equal(instance_life_to_string(i->life), instance_life_to_string(c->to));
                        assert_int_equal(i->start_when_up, c->want);
                        assert_int_equal(timer_armed(i), c->timer);
                }
                assert_int_equal(calls, c->calls);
                if (c->sent)
                        assert_string_equal(fake.sent, c->sent);
                assert_int_equal(r, c->r);
                seen[c->from][c->ev] = true;
                harness_close(&h);
        }
        for (int s = 0; s < _LIFE_MAX; s++)
                for (int e = 0; e < _LIFE_EVENT_MAX; e++)
                        if (!seen[s][e]) {
                                print_error("no cell for %s + %s\n", instance_life_to_string(s),
                                            instance_event_to_string(e));
                                fail();
                        }
}

/* Issue 9: a replaced instance counted as gone when its monitor closed its socket; the successor's
 * monitor then found the instance lock still held by the old one, and failed. The successor
 * starts once the old monitor's process has exited, and starts at once when none is left. */
static void test_successor_waits_for_exit(void **state) {
        Harness h = {};
        Instance *i;

        enter(&h, LIFE_UP);
        fake.spawns = 0;
        i = t_of(&h);
        assert_int_equal(instance_dispatch(i, LIFE_EVENT_REPLACE, &(InstanceInput){.spec = h.spec, .start = true}), 0);
        assert_string_equal(fake.sent, "shutdown");
        instance_lost(i, 0);
        /* Looked up again: an instance that is gone would be freed. */
        i = t_of(&h);
        assert_int_equal(i->life, LIFE_RETIRED);
        assert_null(manager_find(h.m, "t"));
        assert_int_equal(fake.spawns, 0);
        instance_exited(i);
        i = t_of(&h);
        assert_int_equal(i->life, LIFE_SPAWNING);
        assert_true(i->start_when_up);
        assert_int_equal(fake.spawns, 1);
        for (Instance *j = h.m->instances; j; j = j->next)
                assert_true(j == i || !streq(j->name, "t"));
        harness_close(&h);

        /* Its process was gone with its socket. */
        enter(&h, LIFE_UP);
        fake.holder = 0;
        (void) instance_dispatch(t_of(&h), LIFE_EVENT_REPLACE, &(InstanceInput){.spec = h.spec, .start = false});
        instance_lost(t_of(&h), 0);
        assert_int_equal(t_of(&h)->life, LIFE_SPAWNING);
        assert_false(t_of(&h)->start_when_up);
        harness_close(&h);
}

/* 87d83a1, 145c3e1: a stop, start or restart while a reload replaces the unit was refused ("has
 * no instance"), or made a second instance; it is the successor's. */
static void test_requests_during_replacement(void **state) {
        Harness h = {};

        enter(&h, LIFE_UP);
        (void) instance_dispatch(t_of(&h), LIFE_EVENT_REPLACE, &(InstanceInput){.spec = h.spec, .start = true});
        assert_int_equal(manager_request_pending(h.m, "t", "stop"), 0);
        assert_false(t_of(&h)->successor_start);
        assert_int_equal(manager_request_pending(h.m, "t", "restart"), 0);
        assert_true(t_of(&h)->successor_start);
        assert_int_equal(manager_request_pending(h.m, "t", "top"), -EOPNOTSUPP);
        /* The plan's START while it retires keeps the replace's spec and start. */
        assert_int_equal(manager_request_pending(h.m, "t", "stop"), 0);
        assert_int_equal(manager_create_again(h.m, "t", NULL), 0);
        assert_false(t_of(&h)->successor_start);
        instance_lost(t_of(&h), 0);
        instance_exited(t_of(&h));
        assert_int_equal(t_of(&h)->life, LIFE_SPAWNING);
        assert_false(t_of(&h)->start_when_up);
        assert_int_equal(manager_request_pending(h.m, "nothing", "stop"), -ENOENT);
        harness_close(&h);
}

/* A stop while the start waited for dep: once dep ran, the start went out anyway, and the
 * operator's stop was undone. */
static void test_stop_while_waiting(void **state) {
        Harness h = {};
        Instance *dep;

        enter(&h, LIFE_WAITING);
        assert_int_equal(manager_request_pending(h.m, "t", "stop"), -EAGAIN);
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        dep = find(&h, "dep");
        instance_spawned(dep, NULL);
        free(fake.sent);
        fake.sent = NULL;
        status_arrives(dep, INSTANCE_RUNNING);
        assert_null(fake.sent);
        harness_close(&h);

        /* Before the monitor was up: no start follows its first status. */
        enter(&h, LIFE_SPAWNING);
        assert_int_equal(manager_request_pending(h.m, "t", "stop"), 0);
        instance_spawned(t_of(&h), NULL);
        status_arrives(t_of(&h), INSTANCE_STOPPED);
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        harness_close(&h);
}

/* A reload that removed a unit whose monitor was still starting marked it retiring and sent
 * nothing: once the monitor listened, nobody told it to shut down, and it ran on unseen. */
static void test_remove_while_spawning(void **state) {
        Harness h = {};

        enter(&h, LIFE_SPAWNING);
        assert_int_equal(instance_dispatch(t_of(&h), LIFE_EVENT_REMOVE, NULL), 0);
        assert_int_equal(fake.sends, 0);
        instance_spawned(t_of(&h), NULL);
        assert_int_equal(t_of(&h)->life, LIFE_RETIRING);
        assert_string_equal(fake.sent, "shutdown");
        harness_close(&h);
}

/* supd's start waits for the monitors it found, through the spec asked of one whose spec.json is
 * unusable; the answers arrive as the monitor sends them (the status first). */
static void test_adoption_waits_for_answers(void **state) {
        _cleanup_free_ char *text = NULL;
        Harness h = {};

        harness_open(&h, FOUND_T_BAD);
        text = unit_spec_format(h.spec);
        assert_int_equal(h.m->phase, MANAGER_ADOPTING);
        assert_string_equal(fake.sent, "status");
        t_replies(&h, status_json("t", INSTANCE_RUNNING));
        assert_int_equal(t_of(&h)->life, LIFE_ADOPT_SPEC);
        assert_int_equal(t_of(&h)->status.state, INSTANCE_RUNNING);
        assert_int_equal(h.m->phase, MANAGER_ADOPTING);
        assert_null(find(&h, "dep"));
        assert_string_equal(fake.sent, "spec");
        t_replies(&h, json_pack("{s:s}", "spec", text));
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        assert_non_null(t_of(&h)->spec);
        assert_null(t_of(&h)->problem);
        assert_int_equal(h.m->phase, MANAGER_READY);
        /* Reconciled: dep started; t, adopted with the spec it runs, is left alone. */
        assert_non_null(find(&h, "dep"));
        assert_int_equal(fake.spawns, 0);
        harness_close(&h);
}

/* A unit whose instance could not be created (no fork) is failed with the reason, in the reload's
 * answer and its status; `supctl start` tries again. */
static void test_create_failure(void **state) {
        _cleanup_(sup_error_freep) SupError *error = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        Harness h = {};
        json_t *list;

        harness_spawn_result = -EAGAIN;
        harness_open(&h, FOUND_NONE);
        harness_spawn_result = 0;
        assert_null(find(&h, "t"));
        plan = xzalloc(sizeof(Plan));
        plan->actions = xnew0(Action, 1);
        plan->actions[0] = (Action){.type = ACTION_START, .unit = xstrdup("t"), .start = true};
        plan->n_actions = 1;
        list = manager_plan_failures(h.m, plan);
        assert_json(list,
                    "[{\"unit\":\"t\",\"message\":\"cannot start its monitor: Resource temporarily unavailable\"}]");
        list = manager_status_json(h.m, "t", true);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "state")), "failed");
        json_decref(list);

        assert_int_equal(manager_create_again(h.m, "t", &error), -EAGAIN);
        assert_string_equal(sup_error_message(error), "cannot start its monitor: Resource temporarily unavailable");
        fake.spawn_result = 0;
        assert_int_equal(manager_create_again(h.m, "t", NULL), 0);
        assert_int_equal(t_of(&h)->life, LIFE_SPAWNING);
        assert_null(json_object_get(h.m->create_errors, "t"));
        harness_close(&h);
}

/* t's "reason" and "waiting_for" in supd's status, as JSON text. */
static char *t_waiting(Harness *h) {
        json_t *list = manager_status_json(h->m, "t", true), *o = json_array_get(list, 0);
        _cleanup_free_ char *waiting = json_dumps(json_object_get(o, "waiting_for"), JSON_ENCODE_ANY | JSON_COMPACT);
        char *text = xasprintf("%s %s", json_string_value(json_object_get(o, "reason")) ?: "-", waiting);
        json_decref(list);
        return text;
}

static void sent_nothing(void) {
        free(fake.sent);
        fake.sent = NULL;
}

/* t waiting, and dep (with a healthcheck this time) has a monitor up: dep's statuses decide. */
static Instance *enter_waiting_for_healthcheck(Harness *h) {
        Instance *dep;

        harness_dep_extra = "healthcheck: {command: [/bin/true]}\n";
        enter(h, LIFE_WAITING);
        harness_dep_extra = "";
        dep = find(h, "dep");
        instance_spawned(dep, NULL);
        return dep;
}

/* Issue 12: requires started a unit once its dependency ran, before the dependency's health
 * check passed (a database that accepts no connections yet). With a healthcheck, t waits for dep
 * to be healthy, and says so. */
static void test_requires_waits_for_healthy(void **state) {
        _cleanup_free_ char *why = NULL;
        Harness h = {};
        Instance *dep;

        dep = enter_waiting_for_healthcheck(&h);
        sent_nothing();
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_STARTING);
        assert_null(fake.sent);
        assert_int_equal(t_of(&h)->life, LIFE_WAITING);
        why = t_waiting(&h);
        assert_string_equal(why, "waiting for dep to be healthy [\"dep\"]");
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_UNHEALTHY);
        assert_null(fake.sent);
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_HEALTHY);
        assert_non_null(fake.sent);
        assert_string_equal(fake.sent, "start");
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        harness_close(&h);
}

/* Without a healthcheck, "running" is what requires waits for, as before: not "starting" (the
 * command has not run yet), and not a health the unit never reports. */
static void test_requires_without_healthcheck_waits_to_run(void **state) {
        _cleanup_free_ char *why = NULL, *none = NULL;
        Harness h = {};
        Instance *dep;

        enter(&h, LIFE_WAITING);
        dep = find(&h, "dep");
        instance_spawned(dep, NULL);
        sent_nothing();
        status_arrives(dep, INSTANCE_STARTING);
        assert_null(fake.sent);
        why = t_waiting(&h);
        assert_string_equal(why, "waiting for dep to run [\"dep\"]");
        status_arrives(dep, INSTANCE_RUNNING);
        assert_non_null(fake.sent);
        assert_string_equal(fake.sent, "start");
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        none = t_waiting(&h);
        assert_string_equal(none, "- null");

        /* `supctl status`'s table asks without usage: a running unit's cgroups are not read
         * (at a thousand units, reading them was most of the status's time). */
        json_t *with = manager_status_json(h.m, "dep", true), *without = manager_status_json(h.m, "dep", false);
        assert_true(json_object_get(json_array_get(with, 0), "usage") != NULL);
        assert_null(json_object_get(json_array_get(without, 0), "usage"));
        json_decref(with);
        json_decref(without);

        /* And it asks for the keys it shows only: a thousand full objects were most of the rest
         * (bench/scale.sh). Only those keys come back, the null ones (no exit yet) left out, and
         * no usage is read for a request that does not name it. */
        json_t *fields = json_pack("[s,s,s,s]", "name", "state", "exit_code", "restarts");
        json_t *few = manager_status_json_fields(h.m, "dep", true, fields), *o = json_array_get(few, 0);
        assert_int_equal(json_object_size(o), 3);
        assert_string_equal(json_string_value(json_object_get(o, "name")), "dep");
        assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
        assert_true(json_is_integer(json_object_get(o, "restarts")));
        assert_null(json_object_get(o, "exit_code"));
        json_decref(few);
        json_decref(fields);
        harness_close(&h);
}

/* A dependency that turns unhealthy after its dependant started does not stop it, and a restart
 * of the running dependant is the monitor's; but an operator's start of the stopped dependant
 * waits for dep to be healthy again, as the first start did (it went straight to the monitor). */
static void test_unhealthy_dependency_does_not_stop(void **state) {
        Harness h = {};
        Instance *dep;

        dep = enter_waiting_for_healthcheck(&h);
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_HEALTHY);
        status_arrives(t_of(&h), INSTANCE_RUNNING);
        sent_nothing();
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_UNHEALTHY);
        assert_null(fake.sent);
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        assert_int_equal(manager_request_pending(h.m, "t", "restart"), -EAGAIN);
        status_arrives(t_of(&h), INSTANCE_STOPPED);
        assert_int_equal(manager_request_pending(h.m, "t", "start"), 0);
        assert_int_equal(t_of(&h)->life, LIFE_WAITING);
        assert_null(fake.sent);
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_HEALTHY);
        assert_non_null(fake.sent);
        assert_string_equal(fake.sent, "start");
        harness_close(&h);
}

/* Issue 10's gap: an operator's start while t waited for dep went straight to the monitor, and
 * t ran before what it requires. It stays that wait's. */
static void test_start_while_waiting(void **state) {
        Harness h = {};

        enter(&h, LIFE_WAITING);
        sent_nothing();
        assert_int_equal(manager_request_pending(h.m, "t", "start"), 0);
        assert_int_equal(manager_request_pending(h.m, "t", "restart"), 0);
        assert_null(fake.sent);
        assert_int_equal(t_of(&h)->life, LIFE_WAITING);
        harness_close(&h);
}

/* A status of t's dependency as the monitor sends it after `supctl stop` (admin_stopped). */
static void stopped_by_operator(Instance *i, bool admin_stopped, InstanceState state) {
        json_t *j = status_json(i->name, state);

        json_object_set_new(j, "admin_stopped", json_boolean(admin_stopped));
        (void) instance_dispatch(i, LIFE_EVENT_STATUS, &(InstanceInput){.data = j});
        json_decref(j);
}

/* requires as systemd's Requires=: a dependency stopped as by the operator (or by its
 * healthcheck.on_failure: stop) stops the units that require it; one that fails, exits or is
 * restarted does not (the restart policy may bring it back), nor does a stop found in a first
 * status (an adopted monitor), nor a unit that does not run. */
static void test_stopped_dependency_stops_dependants(void **state) {
        Harness h = {};
        Instance *dep;

        enter(&h, LIFE_UP);
        dep = find(&h, "dep");
        status_arrives(t_of(&h), INSTANCE_RUNNING);
        sent_nothing();
        status_arrives(dep, INSTANCE_BACKOFF);
        status_arrives(dep, INSTANCE_FAILED);
        assert_null(fake.sent);
        stopped_by_operator(dep, true, INSTANCE_STOPPING);
        assert_non_null(fake.sent);
        assert_string_equal(fake.sent, "stop");
        /* Once: its further statuses (still stopped by the operator) ask nothing more. */
        sent_nothing();
        stopped_by_operator(dep, true, INSTANCE_STOPPED);
        assert_null(fake.sent);
        harness_close(&h);

        /* t does not run: nothing to stop. */
        enter(&h, LIFE_UP);
        dep = find(&h, "dep");
        status_arrives(t_of(&h), INSTANCE_STOPPED);
        sent_nothing();
        stopped_by_operator(dep, true, INSTANCE_STOPPED);
        assert_null(fake.sent);
        harness_close(&h);
}

/* `supctl stop t; supctl stop dep; supctl start t`, the start coming while the operator's stop
 * of t is still on its way (t stopping): the start waits for dep, as one of a stopped t does. It
 * went to the monitor, which started t again without dep (test-wait, CI). A stopping t that is
 * restarting (no operator's stop) is still the monitor's. */
static void test_start_while_stopping_waits(void **state) {
        Harness h = {};
        Instance *dep;

        enter(&h, LIFE_UP);
        dep = find(&h, "dep");
        status_arrives(t_of(&h), INSTANCE_RUNNING);
        stopped_by_operator(t_of(&h), true, INSTANCE_STOPPING);
        stopped_by_operator(dep, true, INSTANCE_STOPPED);
        sent_nothing();
        assert_int_equal(manager_request_pending(h.m, "t", "start"), 0);
        assert_int_equal(t_of(&h)->life, LIFE_WAITING);
        assert_null(fake.sent);
        stopped_by_operator(dep, false, INSTANCE_RUNNING);
        assert_non_null(fake.sent);
        assert_string_equal(fake.sent, "start");
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        harness_close(&h);

        enter(&h, LIFE_UP);
        dep = find(&h, "dep");
        status_arrives(t_of(&h), INSTANCE_RUNNING);
        status_arrives(dep, INSTANCE_STOPPED);
        stopped_by_operator(t_of(&h), false, INSTANCE_STOPPING);
        sent_nothing();
        assert_int_equal(manager_request_pending(h.m, "t", "start"), -EAGAIN);
        assert_int_equal(t_of(&h)->life, LIFE_UP);
        harness_close(&h);
}

typedef struct WaitResult {
        unsigned calls;
        int result;
        char *why;
} WaitResult;

static void on_wait(int result, const char *why, void *userdata) {
        WaitResult *w = userdata;
        w->calls++;
        w->result = result;
        free(w->why);
        w->why = why ? xstrdup(why) : NULL;
}

/* `supctl wait`: replied to when the status that makes it true arrives (not before: a wait for
 * healthy is not done by "running"), and refused at once when it cannot make sense. */
static void test_wait_replies_on_transition(void **state) {
        WaitResult w = {}, hw = {};
        ManagerWait *mw;
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        Harness h = {};
        Instance *dep;

        dep = enter_waiting_for_healthcheck(&h);
        assert_int_equal(manager_wait(h.m, "t", true, USEC_INFINITY, on_wait, &w, &mw, &why), -EINVAL);
        assert_string_equal(why, "t has no healthcheck: wait for it to run (without --healthy)");
        assert_int_equal(manager_wait(h.m, "nothing", false, USEC_INFINITY, on_wait, &w, &mw, &why2), -ENOENT);
        assert_int_equal(manager_wait(h.m, "t", false, USEC_INFINITY, on_wait, &w, &mw, NULL), 0);
        assert_int_equal(manager_wait(h.m, "dep", true, USEC_INFINITY, on_wait, &hw, &mw, NULL), 0);
        assert_int_equal(h.m->n_waits, 2);
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_STARTING);
        assert_int_equal(hw.calls, 0);
        health_arrives(dep, INSTANCE_RUNNING, HEALTH_HEALTHY);
        assert_int_equal(hw.calls, 1);
        assert_int_equal(hw.result, 0);
        assert_int_equal(w.calls, 0); /* t's start went out; t does not run yet */
        status_arrives(t_of(&h), INSTANCE_STARTING);
        assert_int_equal(w.calls, 0);
        status_arrives(t_of(&h), INSTANCE_RUNNING);
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.result, 0);
        assert_int_equal(h.m->n_waits, 0);
        /* It holds now: decided at once. */
        assert_int_equal(manager_wait(h.m, "t", false, USEC_INFINITY, on_wait, &w, &mw, NULL), 1);
        assert_int_equal(w.calls, 1);
        harness_close(&h);
        free(w.why);
        free(hw.why);
}

/* A script that starts supd and waits at once: while supd adopts the monitors it found, no unit
 * is loaded yet, and the wait was refused as for a unit that does not exist. */
static void test_wait_during_adoption(void **state) {
        WaitResult w = {};
        ManagerWait *mw;
        Harness h = {};

        enter(&h, LIFE_ADOPT_ASKED);
        assert_int_equal(h.m->phase, MANAGER_ADOPTING);
        assert_int_equal(manager_wait(h.m, "t", false, USEC_INFINITY, on_wait, &w, &mw, NULL), 0);
        answer_arrives(&h, t_of(&h));
        assert_int_equal(h.m->phase, MANAGER_READY);
        assert_int_equal(w.calls, 0);
        status_arrives(t_of(&h), INSTANCE_RUNNING);
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.result, 0);
        harness_close(&h);
        free(w.why);
}

/* The timeout is supd's timer on the loop: the wait fails with what the unit is, and is gone. */
static void test_wait_times_out(void **state) {
        WaitResult w = {};
        ManagerWait *mw;
        Harness h = {};

        enter(&h, LIFE_WAITING);
        assert_int_equal(manager_wait(h.m, "t", false, 0, on_wait, &w, &mw, NULL), 0);
        assert_int_equal(w.calls, 0);
        while (w.calls == 0)
                assert_true(event_run(h.event, USEC_INFINITY) >= 0);
        assert_int_equal(w.result, -ETIMEDOUT);
        assert_string_equal(w.why, "t did not run within 0ms (it is stopped)");
        assert_int_equal(h.m->n_waits, 0);
        harness_close(&h);
        free(w.why);
}

/* A wait for a unit that can no longer get there ends with why, instead of running into its
 * timeout (or forever): failed, stopped by the operator, removed by a reload. A start the
 * operator asked for while t waits for dep is not "stopped". */
static void test_wait_fails_when_unit_cannot_run(void **state) {
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_free_ char *path = NULL;
        Diagnostics d = {};
        WaitResult w = {};
        ManagerWait *mw;
        Harness h = {};
        json_t *j;

        enter(&h, LIFE_UP);
        assert_int_equal(manager_wait(h.m, "t", false, USEC_INFINITY, on_wait, &w, &mw, NULL), 0);
        j = status_json("t", INSTANCE_FAILED);
        json_object_set_new(j, "reason", json_string("start limit hit"));
        (void) instance_dispatch(t_of(&h), LIFE_EVENT_STATUS, &(InstanceInput){.data = j});
        json_decref(j);
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.result, -ESRCH);
        assert_string_equal(w.why, "t failed: start limit hit");
        harness_close(&h);

        /* Stopped by the operator; but not while its start is held for dep. */
        enter(&h, LIFE_WAITING);
        j = status_json("t", INSTANCE_STOPPED);
        json_object_set_new(j, "admin_stopped", json_true());
        (void) instance_dispatch(t_of(&h), LIFE_EVENT_STATUS, &(InstanceInput){.data = j});
        assert_int_equal(manager_wait(h.m, "t", false, USEC_INFINITY, on_wait, &w, &mw, NULL), 0);
        assert_int_equal(manager_request_pending(h.m, "t", "stop"), -EAGAIN);
        (void) instance_dispatch(t_of(&h), LIFE_EVENT_STATUS, &(InstanceInput){.data = j});
        json_decref(j);
        assert_int_equal(w.calls, 2);
        assert_string_equal(w.why, "t was stopped by the operator");
        harness_close(&h);

        /* Removed by a reload; a reload before it with nothing changed does nothing at all: no
         * action, no message to a monitor, no spawn, the wait still waiting, no file parsed. */
        enter(&h, LIFE_UP);
        assert_int_equal(manager_wait(h.m, "t", false, USEC_INFINITY, on_wait, &w, &mw, NULL), 0);
        {
                _cleanup_(plan_freep) Plan *same = NULL;
                unsigned sends = fake.sends, spawns = fake.spawns;
                const UnitSpec *before = unit_set_find(h.m->generation, "t");
                size_t parsed, reused;

                assert_int_equal(manager_reload(h.m, false, &d, &same), 0);
                assert_int_equal(same->n_actions, 0);
                assert_int_equal(fake.sends, sends);
                assert_int_equal(fake.spawns, spawns);
                assert_int_equal(w.calls, 2);
                assert_ptr_equal(unit_set_find(h.m->generation, "t"), before);
                /* And the instance holds the generation's spec, not a second parse of the same
                 * unit (two per unit were a good part of supd's memory at a thousand). */
                assert_ptr_equal(manager_find(h.m, "t")->spec, before);
                unit_set_cache_counts(h.m->unit_cache, &parsed, &reused);
                assert_int_equal(parsed, 0);
                assert_int_equal(reused, 2);
        }
        path = path_join(h.tmp, "units.d/t.yaml");
        assert_int_equal(unlink(path), 0);
        assert_int_equal(manager_reload(h.m, false, &d, &plan), 0);
        diagnostics_done(&d);
        assert_int_equal(w.calls, 3);
        assert_int_equal(w.result, -ESRCH);
        assert_string_equal(w.why, "t was removed by a reload");
        assert_int_equal(h.m->n_waits, 0);
        harness_close(&h);
        free(w.why);
}

static unsigned idle_calls;

static void count_idle(Manager *m) {
        idle_calls++;
}

/* supd's stop: connected monitors are told to shut down, one still starting once it listens
 * (forgotten, it ran on with no supd); on_idle once, when the last is gone. */
static void test_shutdown_until_idle(void **state) {
        Harness h = {};

        enter(&h, LIFE_WAITING); /* dep's monitor is starting */
        idle_calls = 0;
        h.m->on_idle = count_idle;
        fake.holder = 0;
        manager_shutdown(h.m);
        assert_int_equal(h.m->phase, MANAGER_STOPPING);
        assert_int_equal(find(&h, "dep")->life, LIFE_RETIRING_SPAWN);
        assert_int_equal(t_of(&h)->life, LIFE_RETIRING);
        assert_string_equal(fake.sent, "shutdown");
        assert_int_equal(idle_calls, 0);
        instance_lost(t_of(&h), 0);
        assert_null(find(&h, "t"));
        assert_int_equal(idle_calls, 0);
        instance_spawned(find(&h, "dep"), NULL); /* told to shut down now */
        assert_int_equal(find(&h, "dep")->life, LIFE_RETIRING);
        instance_lost(find(&h, "dep"), 0);
        assert_null(find(&h, "dep"));
        assert_int_equal(idle_calls, 1);
        harness_close(&h);
}

/* supd stops while t's monitor, just forked, is not listening yet: told to shut down once it
 * listens, it kept nothing: the shutdown said "remove", and the sandbox (the unit's writable layer,
 * kept from the run before supd started again) went with it. */
static void test_shutdown_of_a_starting_monitor_keeps_its_sandbox(void **state) {
        Harness h = {};

        enter(&h, LIFE_SPAWNING);
        manager_shutdown(h.m);
        assert_int_equal(t_of(&h)->life, LIFE_RETIRING_SPAWN);
        instance_spawned(t_of(&h), NULL);
        assert_int_equal(t_of(&h)->life, LIFE_RETIRING);
        assert_string_equal(fake.sent, "shutdown");
        assert_false(fake.sent_remove);
        harness_close(&h);

        /* Removed before: its sandbox goes, at supd's stop too. */
        enter(&h, LIFE_RETIRING_SPAWN);
        manager_shutdown(h.m);
        instance_spawned(t_of(&h), NULL);
        assert_string_equal(fake.sent, "shutdown");
        assert_true(fake.sent_remove);
        harness_close(&h);
}

/* supd stops while a replace is under way: the old monitor is still told to shut down (it was
 * forgotten, and ran on with no supd, when it was still starting), and the new spec is not
 * started once it is gone: nothing told the monitor started then to shut down, and it ran on
 * after supd. Nor does a start meanwhile create one. */
static void test_shutdown_starts_no_successor(void **state) {
        static const InstanceLife from[] = {LIFE_UP, LIFE_SPAWNING};

        for (size_t k = 0; k < ELEMENTSOF(from); k++) {
                Harness h = {};

                enter(&h, from[k]);
                fake.spawns = 0;
                fake.holder = 0;
                assert_int_equal(instance_dispatch(t_of(&h), LIFE_EVENT_REPLACE,
                                                   &(InstanceInput){.spec = h.spec, .start = true}),
                                 0);
                manager_shutdown(h.m);
                if (from[k] == LIFE_SPAWNING) {
                        assert_int_equal(t_of(&h)->life, LIFE_RETIRING_SPAWN);
                        instance_spawned(t_of(&h), NULL);
                }
                assert_int_equal(t_of(&h)->life, LIFE_RETIRING);
                assert_string_equal(fake.sent, "shutdown");
                instance_lost(t_of(&h), 0);
                assert_null(find(&h, "t"));
                assert_int_equal(fake.spawns, 0);
                assert_int_equal(manager_create_again(h.m, "t", NULL), -ESHUTDOWN);
                assert_null(find(&h, "t"));
                assert_int_equal(fake.spawns, 0);
                harness_close(&h);
        }
}

/* ---- the real runtime's spawns (manager-runtime.c), with a script in sup-monitor's place ---- */

#define N_SPAWNED 10

/* Any instance of that name, retiring ones too (manager_find() skips those). */
static bool any_named(Manager *m, const char *name) {
        for (Instance *i = m->instances; i; i = i->next)
                if (streq(i->name, name))
                        return true;
        return false;
}

static size_t count_life(Manager *m, InstanceLife life) {
        size_t n = 0;
        for (Instance *i = m->instances; i; i = i->next)
                n += i->life == life;
        return n;
}

/* N_SPAWNED units, and a "monitor" that says on fd 3 what it was given (which the state machine
 * takes for the reason it failed to start) and leaves a mark in tmp/ran. */
static void spawn_manager_open(const char *tmp, Event **ret_e, Manager **ret_m) {
        _cleanup_free_ char *layer = path_join(tmp, "layer"), *script = path_join(tmp, "monitor"), *text = NULL;
        ManagerConfig cfg = {};

        assert_int_equal(mkdir_p(layer, 0755), 0);
        for (int k = 0; k < N_SPAWNED; k++) {
                _cleanup_free_ char *name = xasprintf("u%d", k), *path = xasprintf("units.d/u%d.yaml", k),
                                    *unit = unit_text(tmp, name, "");
                put(tmp, path, unit);
        }
        text = xasprintf("#!/bin/sh\necho >> %s/ran\n"
                         "echo \"$1 $2 notify=${NOTIFY_SOCKET:-none} tunables=${GLIBC_TUNABLES:-none} "
                         "stdout=$(readlink /proc/$$/fd/1)\" >&3\n",
                         tmp);
        put(tmp, "monitor", text);
        assert_int_equal(chmod(script, 0755), 0);
        cfg = (ManagerConfig){
                .units_dir = path_join(tmp, "units.d"),
                .state_dir = path_join(tmp, "state"),
                .run_dir = path_join(tmp, "run"),
                .cgroup_root = xstrdup("/nonexistent"),
                .cgroup_parent = xstrdup("sup"),
                .bridge_subnet = xstrdup("10.88.0.0/16"),
                .bridge_subnet6 = xstrdup("fd00::/64"),
                .monitor_path = xstrdup(script),
                .guest_dir = xstrdup("/nonexistent"),
                .vm_accel = xstrdup("auto"),
                .log_max_size = xstrdup("0"),
        };
        assert_int_equal(event_new(ret_e), 0);
        assert_int_equal(manager_new(*ret_e, &cfg, ret_m), 0);
        /* The first reconcile plans the N starts: none is forked when it returns. */
        assert_int_equal(manager_startup(*ret_m), 0);
        assert_int_equal(count_life(*ret_m, LIFE_SPAWNING), N_SPAWNED);
        for (Instance *i = (*ret_m)->instances; i; i = i->next)
                assert_true(i->spawn_queued && i->ready_fd < 0);
}

/* A reload that adds many units returns before their monitors are forked, and the loop forks them
 * a few per turn: a reload that forked them all in its own turn kept supd from answering, and the
 * first containers from starting, until the last one (a 900-unit reload outlasted supctl's
 * timeout). Each monitor gets its argv, the ready pipe as fd 3, /dev/null as stdout and an
 * environment without systemd's channel, with the monitor's malloc tunable after the operator's
 * own tunables, from children that share supd's memory. */
static void test_spawns_leave_the_loop_free(void **state) {
        _cleanup_free_ char *tmp = make_tree();
        Event *e = NULL;
        Manager *m = NULL;
        unsigned turns = 0;

        assert_int_equal(setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1), 0);
        assert_int_equal(setenv("GLIBC_TUNABLES", "glibc.malloc.check=0", 1), 0);
        spawn_manager_open(tmp, &e, &m);
        /* u0 is removed before its monitor is forked: it is forked all the same (retiring-spawn:
         * told to shut down once it listens) and forgotten once it reports, with no successor. */
        (void) instance_dispatch(manager_find(m, "u0"), LIFE_EVENT_REMOVE, NULL);
        /* u0's spawn is the first, sent to the zygote, which this script is not: it is executed
         * once the script has answered as no zygote would, possibly after the others. */
        while ((count_life(m, LIFE_SPAWN_FAILED) < N_SPAWNED - 1 || any_named(m, "u0")) && turns++ < 1000) {
                size_t queued = 0;

                for (Instance *i = m->instances; i; i = i->next)
                        queued += i->spawn_queued;
                assert_int_equal(event_run(e, 5 * USEC_PER_SEC), 0);
                for (Instance *i = m->instances; i; i = i->next)
                        queued -= i->spawn_queued;
                assert_true(queued <= 4); /* never more than a few forks in one turn */
        }
        assert_int_equal(count_life(m, LIFE_SPAWN_FAILED), N_SPAWNED - 1);
        for (Instance *i = m->instances; i; i = i->next) {
                _cleanup_free_ char
                        *dir = instance_dir_path(i),
                        *want = xasprintf(
                                "--dir %s notify=none tunables=glibc.malloc.check=0:" SUP_MONITOR_MALLOC_TUNABLE
                                " stdout=/dev/null\n",
                                dir);

                assert_false(streq(i->name, "u0"));
                assert_string_equal(i->spawn_error, want);
        }
        assert_null(m->spawn_queue);
        manager_free(m);
        event_free(e);
        assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
        assert_int_equal(unsetenv("GLIBC_TUNABLES"), 0);
        (void) rm_rf(tmp);
}

/* supd stops with spawns still queued: nothing is forked for them (no monitor that supd would not
 * know of), and the queue goes with their instances. */
static void test_spawns_queued_at_shutdown(void **state) {
        _cleanup_free_ char *tmp = make_tree(), *ran = NULL;
        Event *e = NULL;
        Manager *m = NULL;

        spawn_manager_open(tmp, &e, &m);
        /* u0 was removed before: nothing forked for it either. */
        (void) instance_dispatch(manager_find(m, "u0"), LIFE_EVENT_REMOVE, NULL);
        manager_shutdown(m);
        assert_null(m->instances);
        assert_null(m->spawn_queue);
        assert_int_equal(event_run(e, 100 * USEC_PER_MSEC), 0);
        ran = path_join(tmp, "ran");
        assert_int_equal(access(ran, F_OK), -1);
        manager_free(m);
        event_free(e);
        (void) rm_rf(tmp);
}

/* The monitor a real zygote (monitor/zygote.h, run by this binary: main(), --test-zygote) forks
 * for each request: the line "zygote DIR-OPTION DIR" on its ready pipe, fd 3 (which the state
 * machine takes for the reason it failed). */
static int fake_monitor_main(int argc, char **argv) {
        if (argc < 3)
                return 1;
        dprintf(3, "zygote %s %s\n", argv[1], argv[2]);
        return 0;
}

static const char *self_exe;

static size_t count_prefix(Manager *m, const char *prefix, bool queued) {
        size_t n = 0;
        for (Instance *i = m->instances; i; i = i->next)
                n += startswith(i->name, prefix) && i->spawn_queued == queued && (queued || i->ready_fd >= 0);
        return n;
}

/* Once the zygote answers, a reload's new units are asked of it in the reload's own turn, not
 * queued for later turns: their monitors (and containers) start on the other CPUs while the reload
 * creates the rest (a hundred new units left a CPU idle for the whole of it). As many at once as
 * the zygote's socket holds easily (32); the rest are queued, in order, and still go to the
 * zygote. */
static void test_spawns_at_once_to_a_zygote(void **state) {
        _cleanup_free_ char *tmp = make_tree(), *script = NULL, *text = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        Diagnostics d = {};
        Event *e = NULL;
        Manager *m = NULL;
        unsigned turns = 0;

        spawn_manager_open(tmp, &e, &m);
        /* The same script, but a zygote when asked for one. */
        script = path_join(tmp, "monitor");
        text = xasprintf("#!/bin/sh\n[ \"$1\" = --zygote ] && exec %s --test-zygote\necho \"$1 $2\" >&3\n", self_exe);
        put(tmp, "monitor", text);
        assert_int_equal(chmod(script, 0755), 0);
        while (count_life(m, LIFE_SPAWN_FAILED) < N_SPAWNED && turns++ < 1000)
                assert_int_equal(event_run(e, 5 * USEC_PER_SEC), 0);
        assert_int_equal(count_life(m, LIFE_SPAWN_FAILED), N_SPAWNED);
        /* And the zygote's replies read (a reply may come after its monitor's line). */
        for (int k = 0; k < 40; k++)
                assert_int_equal(event_run(e, 50 * USEC_PER_MSEC), 0);

        for (int k = 0; k < 40; k++) {
                _cleanup_free_ char *name = xasprintf("v%02d", k), *path = xasprintf("units.d/v%02d.yaml", k),
                                    *unit = unit_text(tmp, name, "");
                put(tmp, path, unit);
        }
        assert_int_equal(manager_reload(m, false, &d, &plan), 0);
        diagnostics_done(&d);
        /* Before any turn of the loop: 32 asked, the rest queued (the 40 new units, and the ten
         * whose monitors "failed", which the reload creates anew). */
        assert_int_equal(count_prefix(m, "", false), 32);
        assert_int_equal(count_prefix(m, "", true), count_life(m, LIFE_SPAWNING) - 32);
        assert_true(count_prefix(m, "v", false) >= 32 - N_SPAWNED);
        turns = 0;
        while (count_life(m, LIFE_SPAWNING) > 0 && turns++ < 1000)
                assert_int_equal(event_run(e, 5 * USEC_PER_SEC), 0);
        for (Instance *i = m->instances; i; i = i->next) {
                _cleanup_free_ char *dir = instance_dir_path(i), *want = xasprintf("zygote --dir %s\n", dir);

                if (startswith(i->name, "v"))
                        assert_string_equal(i->spawn_error, want);
        }
        manager_free(m);
        event_free(e);
        (void) rm_rf(tmp);
}

static void test_string_tables(void **state) {
        for (int s = 0; s < _LIFE_MAX; s++)
                assert_int_equal(instance_life_from_string(instance_life_to_string(s)), s);
        for (int e = 0; e < _LIFE_EVENT_MAX; e++)
                assert_int_equal(instance_event_from_string(instance_event_to_string(e)), e);
        assert_int_equal(instance_life_from_string("nonsense"), _LIFE_INVALID);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_cell),
                cmocka_unit_test(test_successor_waits_for_exit),
                cmocka_unit_test(test_requests_during_replacement),
                cmocka_unit_test(test_stop_while_waiting),
                cmocka_unit_test(test_remove_while_spawning),
                cmocka_unit_test(test_adoption_waits_for_answers),
                cmocka_unit_test(test_create_failure),
                cmocka_unit_test(test_shutdown_until_idle),
                cmocka_unit_test(test_requires_waits_for_healthy),
                cmocka_unit_test(test_requires_without_healthcheck_waits_to_run),
                cmocka_unit_test(test_unhealthy_dependency_does_not_stop),
                cmocka_unit_test(test_start_while_stopping_waits),
                cmocka_unit_test(test_start_while_waiting),
                cmocka_unit_test(test_stopped_dependency_stops_dependants),
                cmocka_unit_test(test_wait_replies_on_transition),
                cmocka_unit_test(test_wait_during_adoption),
                cmocka_unit_test(test_wait_times_out),
                cmocka_unit_test(test_wait_fails_when_unit_cannot_run),
                cmocka_unit_test(test_shutdown_of_a_starting_monitor_keeps_its_sandbox),
                cmocka_unit_test(test_shutdown_starts_no_successor),
                cmocka_unit_test(test_spawns_leave_the_loop_free),
                cmocka_unit_test(test_spawns_queued_at_shutdown),
                cmocka_unit_test(test_spawns_at_once_to_a_zygote),
                cmocka_unit_test(test_string_tables),
        };

        if (argc == 2 && streq(argv[1], "--test-zygote"))
                return monitor_zygote_run(3, fake_monitor_main, NULL);
        self_exe = realpath("/proc/self/exe", NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
