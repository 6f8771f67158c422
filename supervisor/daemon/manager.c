/* SPDX-License-Identifier: MIT */
#include "manager.h"

#include "drivers.h"

#include <assert.h>
#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cgroup.h"
#include "driver.h"
#include "fileio.h"
#include "image-store.h"
#include "log.h"
#include "macro.h"
#include "manager-index.h"
#include "metrics.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"
#include "unit-parse.h"
#include "unit-value.h"

typedef struct PendingCall {
        json_int_t id;
        InstanceReply reply;
        void *userdata;
        struct PendingCall *next;
} PendingCall;

static json_int_t next_call_id = 1;

/* How long supd's start waits for the monitors it finds to answer before it reconciles without
 * them (a stopped or wedged monitor must not keep supd from serving and from starting the rest). */
#define ADOPT_TIMEOUT (5 * USEC_PER_SEC)
/* A monitor that cannot be reached is told to stop by SIGTERM; after its unit's stop timeout and
 * this much more, SIGKILL (its workload dies with it: PDEATHSIG). A retired monitor that closed its
 * socket gets this long to exit. */
#define ORPHAN_GRACE (5 * USEC_PER_SEC)
/* The stop timeout of a unit whose spec is not known. */
#define UNKNOWN_STOP_TIMEOUT (10 * USEC_PER_SEC)

static const char *const instance_life_table[_LIFE_MAX] = {
        [LIFE_SPAWNING] = "spawning",
        [LIFE_SPAWN_FAILED] = "spawn-failed",
        [LIFE_CONNECTING] = "connecting",
        [LIFE_WAITING] = "waiting",
        [LIFE_UP] = "up",
        [LIFE_ADOPT_ASKED] = "adopt-asked",
        [LIFE_ADOPT_UNRESPONSIVE] = "adopt-unresponsive",
        [LIFE_ADOPT_SPEC] = "adopt-spec",
        [LIFE_UNREACHABLE] = "unreachable",
        [LIFE_RETIRING_SPAWN] = "retiring-spawn",
        [LIFE_RETIRING] = "retiring",
        [LIFE_RETIRED] = "retired",
};
DEFINE_STRING_TABLE_LOOKUP(instance_life, InstanceLife, _LIFE_MAX);

static const char *const instance_event_table[_LIFE_EVENT_MAX] = {
        [LIFE_EVENT_CREATE] = "create",
        [LIFE_EVENT_START] = "start",
        [LIFE_EVENT_STOP] = "stop",
        [LIFE_EVENT_REPLACE] = "replace",
        [LIFE_EVENT_UPDATE] = "update",
        [LIFE_EVENT_REMOVE] = "remove",
        [LIFE_EVENT_SHUTDOWN] = "shutdown",
        [LIFE_EVENT_SPAWNED] = "spawned",
        [LIFE_EVENT_SPAWN_FAILED] = "spawn-failed",
        [LIFE_EVENT_STATUS] = "status",
        [LIFE_EVENT_ANSWER] = "answer",
        [LIFE_EVENT_LOST] = "lost",
        [LIFE_EVENT_EXITED] = "exited",
        [LIFE_EVENT_TIMER] = "timer",
};
DEFINE_STRING_TABLE_LOOKUP(instance_event, InstanceEvent, _LIFE_EVENT_MAX);

bool instance_life_connected(InstanceLife life) {
        return life == LIFE_CONNECTING || life == LIFE_WAITING || life == LIFE_UP || life == LIFE_ADOPT_ASKED ||
               life == LIFE_ADOPT_UNRESPONSIVE || life == LIFE_ADOPT_SPEC || life == LIFE_RETIRING;
}

bool instance_life_retiring(InstanceLife life) {
        return life == LIFE_RETIRING_SPAWN || life == LIFE_RETIRING || life == LIFE_RETIRED;
}

/* Up: its monitor runs the unit, and supd listens to it. */
static bool life_up(InstanceLife life) {
        return life == LIFE_UP || life == LIFE_WAITING;
}

static bool has_status(const Instance *i) {
        return i->status.name;
}

static void reconcile_current(Manager *m);
static void try_start_waiting(Manager *m);
static void on_start_reply(Instance *i, json_t *reply, void *userdata);
static void on_answer(Instance *i, json_t *reply, void *userdata);
static int create_instance(Manager *m, const UnitSpec *spec, bool start, SupError **ret_error);

static char *instance_dir(Manager *m, const char *name) {
        return xasprintf("%s/units/%s", m->config.run_dir, name);
}

static void on_trim(EventSource *s, usec_t t, void *userdata) {
        Manager *m = userdata;

        m->trim_timer = event_source_free(m->trim_timer);
        (void) malloc_trim(0);
}

void manager_trim_soon(Manager *m) {
        if (!m->trim_timer)
                (void) event_add_time(m->event, &m->trim_timer, now(CLOCK_MONOTONIC) + MANAGER_TRIM_DELAY, on_trim, m);
}

char *instance_dir_path(const Instance *i) {
        return instance_dir(i->manager, i->name);
}

Instance *manager_find(Manager *m, const char *name) {
        return manager_index_find(m, name, false);
}

static Instance *find_retiring(Manager *m, const char *name) {
        return manager_index_find(m, name, true);
}

static Instance *instance_new(Manager *m, const char *name, InstanceLife life) {
        Instance *i = xzalloc(sizeof(Instance));
        i->manager = m;
        i->name = xstrdup(name);
        i->life = life;
        i->ready_fd = -EBADF;
        i->pidfd = -EBADF;
        i->next = m->instances;
        m->instances = i;
        manager_index_add(m, i);
        return i;
}

static void fail_calls(Instance *i, const char *why) {
        while (i->calls) {
                PendingCall *c = i->calls;
                json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", "monitor-gone", "message", why);
                i->calls = c->next;
                c->reply(i, err, c->userdata);
                json_decref(err);
                free(c);
        }
}

/* The unit has left the running generation and its last instance is gone: the store's record of
 * what it used goes (`supctl image ls` stops naming it; prune no longer asks). Not at the reload
 * itself: the instance on its way out still runs on those layers until its monitor is gone. One
 * unlink, which takes no lock of the store: done here, whatever a worker is doing. Before the
 * units are loaded (adopting), whether it left is not known yet: kept; at supd's exit the units
 * stay. */
static void forget_image_user(Manager *m, const char *name) {
        _cleanup_sup_error_ SupError *e = NULL;

        if (!m->config.image_store_dir || m->freeing || !m->generation || unit_set_find(m->generation, name) ||
            manager_find(m, name) || find_retiring(m, name))
                return;
        if (image_store_forget_user(m->config.image_store_dir, name, &e) < 0)
                log_warning("image store: cannot forget what unit %s used: %s", name, sup_error_message(e));
}

char **manager_image_users(Manager *m) {
        char **names = NULL;

        for (size_t k = 0; m->generation && k < m->generation->n_units; k++)
                strv_push(&names, xstrdup(m->generation->units[k]->name));
        for (Instance *i = m->instances; i; i = i->next)
                if (!strv_contains(names, i->name))
                        strv_push(&names, xstrdup(i->name));
        return names;
}

static void push_namers(const UnitSpec *u, VolumeNamer **list, size_t *n) {
        for (size_t k = 0; u && k < u->n_mounts; k++)
                if (u->mounts[k].type == MOUNT_VOLUME) {
                        *list = xreallocarray(*list, *n + 1, sizeof(VolumeNamer));
                        (*list)[(*n)++] = (VolumeNamer){u->mounts[k].name, u->name};
                }
}

VolumeNamer *manager_volume_namers(Manager *m, size_t *ret_n) {
        VolumeNamer *list = NULL;
        size_t n = 0;

        for (size_t k = 0; m->generation && k < m->generation->n_units; k++)
                push_namers(m->generation->units[k], &list, &n);
        for (Instance *i = m->instances; i; i = i->next)
                push_namers(i->spec, &list, &n);
        *ret_n = n;
        return list;
}

static void instance_free(Instance *i) {
        Manager *m = i->manager;

        for (Instance **p = &m->instances; *p; p = &(*p)->next)
                if (*p == i) {
                        *p = i->next;
                        break;
                }
        manager_index_remove(m, i);
        forget_image_user(m, i->name);
        fail_calls(i, "the unit's monitor is gone");
        m->runtime->release(i);
        event_source_free(i->timer);
        unit_spec_free(i->spec);
        unit_spec_free(i->successor);
        instance_status_done(&i->status);
        free(i->spawn_error);
        free(i->problem);
        free(i->name);
        free(i);
}

/* The instance is gone, and its directory with it: no monitor holds it any more. */
static void forget_dead_instance(Instance *i) {
        _cleanup_free_ char *dir = instance_dir_path(i);
        instance_free(i);
        (void) rm_rf(dir);
}

static void instance_set_problem(Instance *i, const char *fmt, ...) _printf_(2, 3);
static void instance_set_problem(Instance *i, const char *fmt, ...) {
        va_list ap;

        free(i->problem);
        va_start(ap, fmt);
        i->problem = xvasprintf(fmt, ap);
        va_end(ap);
}

/* Records the state; the timer belongs to the state that armed it: a new state drops it. */
static void set_life(Instance *i, InstanceLife life) {
        if (i->life == life)
                return;
        log_debug("%s: %s -> %s", i->name, instance_life_to_string(i->life), instance_life_to_string(life));
        i->timer = event_source_free(i->timer);
        i->life = life;
}

static void on_timer(EventSource *s, usec_t t, void *userdata) {
        (void) instance_dispatch(userdata, LIFE_EVENT_TIMER, NULL);
}

static void arm_timer(Instance *i, usec_t when) {
        if (i->timer)
                event_source_set_time(i->timer, when);
        else
                (void) event_add_time(i->manager->event, &i->timer, when, on_timer, i);
}

int instance_call(Instance *i, const char *method, json_t *params, InstanceReply reply, void *userdata) {
        json_t *req;
        int r;

        if (!instance_life_connected(i->life))
                return -ENOTCONN;
        req = json_pack("{s:I, s:s}", "id", next_call_id, "method", method);
        if (params)
                json_object_set(req, "params", params);
        r = i->manager->runtime->send(i, req);
        json_decref(req);
        if (r < 0)
                return r;
        if (reply) {
                PendingCall *c = xzalloc(sizeof(PendingCall));
                *c = (PendingCall){.id = next_call_id, .reply = reply, .userdata = userdata, .next = i->calls};
                i->calls = c;
        }
        next_call_id++;
        return 0;
}

/* A unit that shares a namespace of target fails its starts while target is not running, and
 * its restart policy may give up (failed) before target runs again: once it does, such sharers
 * are started afresh, as the operator would. One the operator stopped stays stopped. */
static void restart_failed_sharers(Manager *m, const Instance *target) {
        for (Instance *i = m->instances; i; i = i->next) {
                _cleanup_free_ UnitDependency *deps = NULL;
                bool shares_target = false;
                size_t n;

                if (i == target || !life_up(i->life) || !i->spec || !has_status(i) ||
                    i->status.state != INSTANCE_FAILED || i->status.admin_stopped)
                        continue;
                deps = unit_spec_dependencies(i->spec, &n);
                for (size_t k = 0; k < n; k++)
                        shares_target = shares_target ||
                                        (startswith(deps[k].kind, "share.") && streq(deps[k].ref->name, target->name));
                if (!shares_target)
                        continue;
                log_info("%s: %s, whose namespaces it shares, runs again: starting it", i->name, target->name);
                (void) instance_call(i, "start", NULL, on_start_reply, NULL);
        }
}

static bool instance_healthy(const Instance *i);

static void on_stop_reply(Instance *i, json_t *reply, void *userdata) {
        json_t *err = json_object_get(reply, "error");
        if (err)
                log_error("%s: cannot stop: %s", i->name, json_string_value(json_object_get(err, "message")));
}

/* target, a unit's current instance, was stopped as by `supctl stop` (the operator's, or its
 * healthcheck.on_failure: stop): the units that require it are stopped too, as systemd's
 * Requires= does, each as by the operator (a reload does not start them again; `supctl start`
 * does, once target is ready again), which carries the stop on to what requires them. A failure
 * or an exit of target stops none (the restart policy may bring it back), nor does a replace or
 * supd's stop, which order their stops themselves. A sharer is the monitor's: it ends with the
 * namespaces it shares (restart_failed_sharers()). */
static void stop_dependants(Manager *m, const Instance *target) {
        if (m->phase != MANAGER_READY || manager_find(m, target->name) != target)
                return;
        for (Instance *i = m->instances; i; i = i->next) {
                _cleanup_free_ UnitDependency *deps = NULL;
                bool requires = false, shares = false;
                size_t n;

                if (i == target || !life_up(i->life) || !i->spec || !has_status(i) ||
                    !instance_state_is_active(i->status.state) || i->status.admin_stopped)
                        continue;
                deps = unit_spec_dependencies(i->spec, &n);
                for (size_t k = 0; k < n; k++)
                        if (streq(deps[k].ref->name, target->name)) {
                                requires = requires || streq(deps[k].kind, "requires");
                                shares = shares || startswith(deps[k].kind, "share.");
                        }
                if (!requires || shares)
                        continue;
                log_info("%s: %s, which it requires, was stopped: stopping it", i->name, target->name);
                /* As the operator's stop goes: through the instance's table first (a held start
                 * ends), then to the monitor. */
                if (instance_dispatch(i, LIFE_EVENT_STOP, NULL) == -EAGAIN)
                        (void) instance_call(i, "stop", NULL, on_stop_reply, NULL);
        }
}

/* Its restart.policy, for the "restart" event; NULL while its spec is unknown. */
static const char *instance_policy(const Instance *i) {
        return i->spec ? restart_policy_to_string(i->spec->restart.policy) : NULL;
}

/* Keeps what the monitor says. Returns false when data is no status. */
static bool update_status(Instance *i, const json_t *data) {
        InstanceStatus s;
        bool was_running = has_status(i) && i->status.state == INSTANCE_RUNNING, was_healthy = instance_healthy(i),
             had_status = has_status(i), was_admin_stopped = had_status && i->status.admin_stopped;

        if (!data || instance_status_from_json(data, &s) < 0)
                return false;
        if (has_status(i) && s.state != i->status.state)
                log_info("%s: %s -> %s%s%s", i->name, instance_state_to_string(i->status.state),
                         instance_state_to_string(s.state), s.reason ? ": " : "", s.reason ? s.reason : "");
        if (has_status(i) && s.health.enabled && i->status.health.enabled && s.health.state != i->status.health.state)
                log_info("%s: health %s -> %s", i->name, health_state_to_string(i->status.health.state),
                         health_state_to_string(s.health.state));
        metrics_note_state(i, had_status ? (int) i->status.state : -1, s.state);
        /* A run's oom turns true once, and a new start clears it (monitor.c). */
        if (had_status && !i->status.oom && s.oom)
                i->oom_kills++;
        events_emit_status(i->manager->events, i->name, had_status ? &i->status : NULL, &s, instance_policy(i));
        instance_status_done(&i->status);
        i->status = s;
        /* Running, or (for its dependants that require it, with a healthcheck) healthy: what a
         * waiting dependant may be waiting for. */
        if ((!was_running && s.state == INSTANCE_RUNNING) || (!was_healthy && instance_healthy(i)))
                try_start_waiting(i->manager);
        if (!was_running && s.state == INSTANCE_RUNNING)
                restart_failed_sharers(i->manager, i);
        /* A stop asked now, not one found in a first status (an adopted monitor's). */
        if (had_status && !was_admin_stopped && s.admin_stopped &&
            (s.state == INSTANCE_STOPPING || s.state == INSTANCE_STOPPED))
                stop_dependants(i->manager, i);
        manager_waits_check(i->manager, i->name);
        return true;
}

void instance_received(Instance *i, json_t *msg) {
        json_t *id = json_object_get(msg, "id");
        const char *event = json_string_value(json_object_get(msg, "event"));

        if (event && streq(event, "status")) {
                (void) instance_dispatch(i, LIFE_EVENT_STATUS, &(InstanceInput){.data = json_object_get(msg, "data")});
                return;
        }
        if (!json_is_integer(id))
                return;
        for (PendingCall **p = &i->calls; *p; p = &(*p)->next)
                if ((*p)->id == json_integer_value(id)) {
                        PendingCall *call = *p;
                        *p = call->next;
                        /* A reply's result is the monitor's status. */
                        if (json_object_get(msg, "result"))
                                (void) instance_dispatch(i, LIFE_EVENT_STATUS,
                                                         &(InstanceInput){.data = json_object_get(msg, "result")});
                        call->reply(i, msg, call->userdata);
                        free(call);
                        return;
                }
}

/* A unit whose instance could not be created (a full run directory, no fork): the reason is kept
 * for its status and for the reload's answer; no instance exists, so a later reload or start
 * tries again. */
static int create_failed(Manager *m, const char *name, int error, SupError **ret_error, const char *fmt, ...)
        _printf_(5, 6);
static int create_failed(Manager *m, const char *name, int error, SupError **ret_error, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL, *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        what = xvasprintf(fmt, ap);
        va_end(ap);
        why = xasprintf("%s: %s", what, strerror(-error));
        log_error("%s: %s", name, why);
        if (!m->create_errors)
                m->create_errors = json_object();
        json_object_set_new(m->create_errors, name, json_string(why));
        manager_waits_check(m, name);
        return sup_error_make(ret_error, error, "%s", why);
}

json_t *manager_plan_failures(Manager *m, const Plan *plan) {
        json_t *list = json_array();

        for (size_t k = 0; plan && k < plan->n_actions; k++) {
                const char *why = json_string_value(json_object_get(m->create_errors, plan->actions[k].unit));
                if (why && (plan->actions[k].type == ACTION_START || plan->actions[k].type == ACTION_REPLACE))
                        json_array_append_new(list,
                                              json_pack("{s:s, s:s}", "unit", plan->actions[k].unit, "message", why));
        }
        return list;
}

int manager_request_pending(Manager *m, const char *name, const char *method) {
        bool start = streq(method, "start") || streq(method, "restart");
        Instance *i = manager_find(m, name);

        if (!start && !streq(method, "stop"))
                return -EOPNOTSUPP;
        if (!i)
                i = find_retiring(m, name);
        if (!i)
                return -ENOENT;
        return instance_dispatch(i, start ? LIFE_EVENT_START : LIFE_EVENT_STOP, NULL);
}

int manager_create_again(Manager *m, const char *name, SupError **ret_error) {
        const UnitSpec *spec = unit_set_find(m->generation, name);
        int r;

        if (!spec)
                return sup_error_make(ret_error, -ENOENT, "%s is not in the units loaded", name);
        r = create_instance(m, spec, true, ret_error);
        if (r < 0)
                return r;
        try_start_waiting(m);
        return 0;
}

/* The settled outcome of an adoption, or the loss of an instance: before supd is ready, it may
 * be ready now; after, the instances are brought back to the generation. */
static void check_ready(Manager *m, bool deadline);
static void settled(Manager *m) {
        if (m->phase == MANAGER_ADOPTING)
                check_ready(m, false);
        else if (m->phase == MANAGER_READY)
                reconcile_current(m);
}

/* The instance's spec replaced by the generation's g when their hashes say they are the same
 * unit: one parse held per unit instead of two (the instance's own, read back from its spec.json,
 * is what supd held for each of a thousand units beside the generation's). */
static void share_spec(Instance *i, const UnitSpec *g) {
        if (!g || !i->spec || g == i->spec || !g->cached_hash[0] || !streq(g->cached_hash, i->hash))
                return;
        unit_spec_free(i->spec);
        i->spec = unit_spec_ref((UnitSpec *) g);
}

/* Writes the spec and starts a monitor for it. The instance's spec is the one parsed back from the
 * file the monitor reads, or the generation's when their hashes are the same: both see exactly the
 * same unit. */
static int create_fresh(Manager *m, const UnitSpec *spec, bool start, SupError **ret_error) {
        _cleanup_free_ char *dir = instance_dir(m, spec->name), *path = path_join(dir, "spec.json"), *text = NULL;
        Diagnostics d = {};
        Instance *i;
        int r;

        /* Not while supd stops (a replace's successor, a reload, a start meanwhile): nothing would
         * tell that monitor to shut down, and it would run on after supd. */
        if (m->phase == MANAGER_STOPPING)
                return sup_error_make(ret_error, -ESHUTDOWN, "supd is stopping");
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return create_failed(m, spec->name, r, ret_error, "cannot create %s", dir);
        text = unit_spec_format(spec);
        /* In the run directory, read by the monitor about to start and by a later supd adopting it:
         * both within this boot, so not flushed to disk (two fsyncs per new unit, one after the
         * other in supd's loop, were most of a reload that adds a hundred). */
        r = write_file_replace(path, text, strlen(text), 0600);
        if (r < 0)
                return create_failed(m, spec->name, r, ret_error, "cannot write %s", path);

        i = instance_new(m, spec->name, LIFE_SPAWNING);
        if (unit_load_file(path, 0, &d, &i->spec, NULL) < 0) {
                diagnostics_print(&d, stderr);
                diagnostics_done(&d);
                instance_free(i);
                return sup_error_make(ret_error, -EINVAL, "%s cannot be read back", path);
        }
        (void) unit_spec_hash(i->spec, i->hash);
        share_spec(i, spec);
        i->start_when_up = start;
        r = m->runtime->spawn(i);
        if (r < 0) {
                instance_free(i);
                return create_failed(m, spec->name, r, ret_error, "cannot start its monitor");
        }
        json_object_del(m->create_errors, spec->name);
        return 0;
}

/* Never a second instance of a unit beside one whose monitor lives: one still being adopted or
 * stopped keeps its place (reconcile runs again once it is settled), and one being retired hands
 * over to this spec once it is gone (LIFE_EVENT_CREATE). */
static int create_instance(Manager *m, const UnitSpec *spec, bool start, SupError **ret_error) {
        Instance *i = manager_find(m, spec->name);
        int r;

        if (!i)
                i = find_retiring(m, spec->name);
        if (!i)
                return create_fresh(m, spec, start, ret_error);
        r = instance_dispatch(i, LIFE_EVENT_CREATE, &(InstanceInput){.spec = spec, .start = start});
        if (r < 0) {
                const char *why = json_string_value(json_object_get(m->create_errors, spec->name));
                return sup_error_make(ret_error, r, "%s",
                                      why
                                              ?: r == -EEXIST ? "it has an instance already"
                                                              : strerror(-r));
        }
        return 0;
}

static bool instance_healthy(const Instance *i) {
        return has_status(i) && i->status.state == INSTANCE_RUNNING && i->status.health.enabled &&
               i->status.health.state == HEALTH_HEALTHY;
}

/* Whether a dependant may start as far as d (an edge of kind to it) goes: d runs; and a unit that
 * requires d, when d has a healthcheck, waits for it to be healthy too (Compose's
 * service_healthy). A share target needs only to run: the sharer joins its namespaces, which
 * exist once it does. Checked at the start only: a dependency that turns unhealthy later does not
 * stop its dependants (docs/supd.md). */
static bool dependency_ready(const Instance *d, const char *kind, bool *ret_needs_health) {
        bool health = streq(kind, "requires") && d && d->spec && d->spec->healthcheck.command;

        *ret_needs_health = health;
        if (!d || !has_status(d) || d->status.state != INSTANCE_RUNNING)
                return false;
        return !health || instance_healthy(d);
}

/* The units an instance waits for before it starts (requires, and share targets), as names and
 * as words ("web to be healthy, db to run"); returns how many. */
static size_t waiting_for(Manager *m, const UnitSpec *u, char ***ret_names, char **ret_reason) {
        _cleanup_free_ UnitDependency *deps = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *reason = NULL;
        size_t n, count = 0;

        deps = unit_spec_dependencies(u, &n);
        for (size_t k = 0; k < n; k++) {
                const char *name = deps[k].ref->name;
                bool health;

                if (dependency_ready(manager_find(m, name), deps[k].kind, &health) || strv_contains(names, name))
                        continue;
                count++;
                if (!ret_names && !ret_reason)
                        break;
                strv_push(&names, xstrdup(name));
                if (ret_reason) {
                        char *r = xasprintf("%s%s%s to %s", reason ?: "", reason ? ", " : "", name,
                                            health ? "be healthy" : "run");
                        free(reason);
                        reason = r;
                }
        }
        if (ret_names)
                *ret_names = TAKE_PTR(names);
        if (ret_reason)
                *ret_reason = TAKE_PTR(reason);
        return count;
}

/* The retiring instance (removed or replaced, stopping) that publishes a host port the unit
 * publishes too: its monitor holds that port until its container is gone (net/hostport.h), so a
 * unit that took the port over in the same reload waits for it instead of failing to start with
 * the port "in use". */
static const char *port_holder(Manager *m, const UnitSpec *u) {
        for (Instance *r = m->instances; r; r = r->next) {
                if (!instance_life_retiring(r->life) || !r->spec)
                        continue;
                for (size_t a = 0; a < u->n_ports; a++)
                        for (size_t b = 0; b < r->spec->n_ports; b++)
                                if (port_spec_conflicts(&u->ports[a], &r->spec->ports[b]))
                                        return r->name;
        }
        return NULL;
}

static void on_start_reply(Instance *i, json_t *reply, void *userdata) {
        json_t *err = json_object_get(reply, "error");
        if (err)
                log_error("%s: cannot start: %s", i->name, json_string_value(json_object_get(err, "message")));
}

/* Waiting instances whose dependencies are ready and whose host ports are free are started. */
static void try_start_waiting(Manager *m) {
        if (m->phase == MANAGER_STOPPING)
                return;
        for (Instance *i = m->instances; i; i = i->next) {
                if (i->life != LIFE_WAITING || !i->spec || !has_status(i))
                        continue;
                if (waiting_for(m, i->spec, NULL, NULL) > 0 || port_holder(m, i->spec))
                        continue;
                if (instance_call(i, "start", NULL, on_start_reply, NULL) >= 0)
                        set_life(i, LIFE_UP);
        }
}

/* The plan, carried out: every action is an event of the unit's instance, but a START of a unit
 * without one. */
static void execute(Manager *m, const Plan *plan) {
        for (size_t k = 0; k < plan->n_actions; k++) {
                const Action *a = &plan->actions[k];
                const UnitSpec *spec = unit_set_find(m->generation, a->unit);
                Instance *i = manager_find(m, a->unit);
                InstanceInput in = {.spec = spec, .start = a->start};

                switch (a->type) {
                case ACTION_START:
                        if (spec)
                                (void) create_instance(m, spec, a->start, NULL);
                        break;
                case ACTION_REPLACE:
                        if (i && spec)
                                (void) instance_dispatch(i, LIFE_EVENT_REPLACE, &in);
                        break;
                case ACTION_UPDATE:
                        if (i && spec)
                                (void) instance_dispatch(i, LIFE_EVENT_UPDATE, &in);
                        break;
                case ACTION_REMOVE:
                        if (i)
                                (void) instance_dispatch(i, LIFE_EVENT_REMOVE, NULL);
                        break;
                case _ACTION_TYPE_MAX:
                case _ACTION_TYPE_INVALID:
                        break;
                }
        }
        try_start_waiting(m);
}

/* The plan that takes the observed instances to the generation set. */
static int plan_for(Manager *m, const UnitSet *set, Plan **ret) {
        _cleanup_free_ Observed *observed = NULL;
        size_t n = 0;

        for (Instance *i = m->instances; i; i = i->next)
                n++;
        observed = xnew0(Observed, n + 1);
        n = 0;
        for (Instance *i = m->instances; i; i = i->next) {
                /* Not observed: instances being retired, without a known spec, or whose monitor
                 * failed to start (a START creates them anew). */
                if (instance_life_retiring(i->life) || i->life == LIFE_SPAWN_FAILED || !i->spec)
                        continue;
                share_spec(i, unit_set_find(set, i->name));
                observed[n++] = (Observed){
                        .name = i->name,
                        .hash = i->hash,
                        .spec = i->spec,
                        .state = has_status(i) ? i->status.state : INSTANCE_STOPPED,
                        .admin_stopped = has_status(i) && i->status.admin_stopped,
                };
        }
        /* What each isolation's driver can apply to a running instance: the planner stays pure. */
        return reconcile(set, observed, n, isolation_driver_field_is_live, ret);
}

/* Brings the instances back to the current generation (a monitor was lost), without reading the
 * units directory: edits on disk wait for a reload. */
static void reconcile_current(Manager *m) {
        _cleanup_(plan_freep) Plan *plan = NULL;

        if (m->generation && plan_for(m, m->generation, &plan) >= 0)
                execute(m, plan);
}

int manager_reload(Manager *m, bool dry_run, Diagnostics *diags, Plan **ret_plan) {
        char *paths[] = {m->config.units_dir, NULL};
        _cleanup_(unit_set_freep) UnitSet *set = NULL;
        Plan *plan = NULL;
        int r;

        if (!m->unit_cache)
                m->unit_cache = unit_set_cache_new();
        r = unit_set_load_cached(paths, UNIT_PARSE_CHECK_SOURCES, m->unit_cache, diags, &set);
        if (r < 0 && !dry_run) {
                m->n_reloads_refused++;
                events_emit_reload(m->events, NULL, 0, diags);
        }
        if (r < 0)
                return r;
        r = plan_for(m, set, &plan);
        if (r < 0)
                return r;
        if (!dry_run) {
                m->n_reloads++;
                unit_set_free(m->generation);
                m->generation = TAKE_PTR(set);
                events_emit_reload(m->events, plan, m->generation->n_units, NULL);
                execute(m, plan);
                manager_waits_check(m, NULL); /* a unit removed, a healthcheck dropped */
        }
        *ret_plan = plan;
        return 0;
}

/* supd's start waits for the monitors it found (adopt-asked, and adopt-spec: their spec asked)
 * until they answer or the deadline passes; then it loads the units and reconciles. */
static void check_ready(Manager *m, bool deadline) {
        Diagnostics d = {};
        _cleanup_(plan_freep) Plan *plan = NULL;
        int r;

        if (m->phase != MANAGER_ADOPTING)
                return;
        for (Instance *i = m->instances; i && !deadline; i = i->next)
                if (i->life == LIFE_ADOPT_ASKED || i->life == LIFE_ADOPT_SPEC)
                        return;
        m->adopt_deadline = event_source_free(m->adopt_deadline);
        m->phase = MANAGER_READY;
        r = manager_reload(m, false, &d, &plan);
        if (r < 0) {
                /* An invalid units directory at start: run nothing new, keep what was adopted,
                 * and say why. A later reload can fix it. */
                log_error("the units in %s are not valid; nothing is started:", m->config.units_dir);
                diagnostics_print(&d, stderr);
                m->generation = m->generation ? m->generation : xzalloc(sizeof(UnitSet));
                manager_waits_check(m, NULL); /* the waits of supd's start: no unit is loaded */
        } else {
                _cleanup_free_ char *text = plan_format(plan);
                log_info("units loaded from %s: %s", m->config.units_dir, text);
        }
        diagnostics_done(&d);
        if (m->on_ready)
                m->on_ready(m);
}

static void on_adopt_deadline(EventSource *s, usec_t t, void *userdata) {
        Manager *m = userdata;

        for (Instance *i = m->instances, *next; i; i = next) {
                next = i->next;
                if (i->life == LIFE_ADOPT_ASKED)
                        (void) instance_dispatch(i, LIFE_EVENT_TIMER, NULL);
        }
        check_ready(m, true);
}

/* The instance's monitor cannot be talked to (why). If it is alive nonetheless (it holds the
 * instance lock), it is stopped by a signal, and the instance stays, stopping, until it is gone:
 * a second monitor of the unit never runs beside it, and it is never left running unseen. Returns
 * false when no monitor lives. */
static bool become_unreachable(Instance *i, const char *why) {
        pid_t pid = i->manager->runtime->watch_exit(i);

        if (pid == 0)
                return false;
        set_life(i, LIFE_UNREACHABLE);
        arm_timer(i, now(CLOCK_MONOTONIC) + (i->spec ? i->spec->stop.timeout : UNKNOWN_STOP_TIMEOUT) + ORPHAN_GRACE);
        instance_set_problem(i,
                             "its monitor (pid %d) cannot be reached (%s): stopping it; the unit starts anew once it "
                             "is gone",
                             (int) pid, why);
        log_warning("%s: its monitor (pid %d) lives but cannot be reached (%s); stopping it", i->name, (int) pid, why);
        i->manager->runtime->kill(i, SIGTERM);
        return true;
}

int manager_startup(Manager *m) {
        _cleanup_free_ char *units = xasprintf("%s/units", m->config.run_dir);
        bool asked = false;
        DIR *d;
        struct dirent *de;

        (void) mkdir_p(units, 0700);
        d = opendir(units);
        if (!d)
                return log_error_errno(negative_errno(), "cannot open %s: %m", units);
        while ((de = readdir(d))) {
                _cleanup_free_ char *dir = NULL, *spec = NULL, *spec_error = NULL;
                Diagnostics diags = {};
                Instance *i;
                int r;

                if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name))
                        continue;
                i = instance_new(m, de->d_name, LIFE_ADOPT_ASKED);
                dir = instance_dir_path(i);
                spec = path_join(dir, "spec.json");
                r = unit_load_file(spec, 0, &diags, &i->spec, NULL);
                if (r >= 0 && !streq(i->spec->name, de->d_name)) {
                        spec_error = xasprintf("it names the unit \"%s\"", i->spec->name);
                        i->spec = unit_spec_free(i->spec);
                } else if (r < 0)
                        spec_error = diags.n > 0 ? xasprintf("%s:%u:%u: %s", diags.items[0].file, diags.items[0].line,
                                                             diags.items[0].column, diags.items[0].message)
                                                 : xasprintf("%s", strerror(-r));
                diagnostics_done(&diags);
                if (i->spec)
                        (void) unit_spec_hash(i->spec, i->hash);
                else
                        instance_set_problem(i, "spec.json is unusable (%s)", spec_error);

                r = m->runtime->connect(i);
                if (r >= 0 && instance_call(i, "status", NULL, on_answer, NULL) >= 0) {
                        if (spec_error)
                                log_warning("%s: spec.json is unusable (%s); asking its monitor", de->d_name,
                                            spec_error);
                        asked = true;
                        continue;
                }
                if (r >= 0)
                        r = -EPIPE;
                {
                        _cleanup_free_ char *why = xasprintf("its socket: %s", strerror(-r));
                        if (become_unreachable(i, why))
                                continue;
                }
                /* No monitor holds the instance: it died while supd was away, and its container
                 * with it. */
                if (spec_error)
                        log_warning("%s: leftover instance directory without a usable spec (%s) and no monitor; "
                                    "removing it",
                                    dir, spec_error);
                else
                        log_warning("%s: its monitor is gone; it will be started anew", de->d_name);
                forget_dead_instance(i);
        }
        closedir(d);
        if (asked)
                (void) event_add_time(m->event, &m->adopt_deadline, now(CLOCK_MONOTONIC) + ADOPT_TIMEOUT,
                                      on_adopt_deadline, m);
        check_ready(m, false);
        return 0;
}

/* ---- the state machine: what each event means in each state of an instance ---- */

typedef int (*InstanceAction)(Instance *i, const InstanceInput *in);

static int act_none(Instance *i, const InstanceInput *in) {
        return 0;
}

/* A request the monitor takes itself (it is connected), or that has nothing to wait for. */
static int act_pass(Instance *i, const InstanceInput *in) {
        return -EAGAIN;
}

static int act_exists(Instance *i, const InstanceInput *in) {
        log_debug("%s: not starting another instance beside the one it has", i->name);
        return -EEXIST;
}

/* The monitor is up: started now if a start is wanted and nothing holds it back. */
static void become_up(Instance *i) {
        set_life(i, i->start_when_up ? LIFE_WAITING : LIFE_UP);
        i->start_when_up = false;
        try_start_waiting(i->manager);
}

/* Its monitor is gone (or never came): forget the instance and start its successor (REPLACE). */
static int act_retired(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;
        UnitSpec *successor = TAKE_PTR(i->successor);
        bool start = i->successor_start;

        instance_free(i);
        if (successor) {
                (void) create_instance(m, successor, start, NULL);
                unit_spec_free(successor);
        }
        try_start_waiting(m); /* its host ports are free now */
        return 0;
}

static int act_forget(Instance *i, const InstanceInput *in) {
        instance_free(i);
        return 0;
}

/* create: its monitor said why it could not start, and exited: try anew. */
static int act_create_anew(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;

        instance_free(i);
        return create_fresh(m, in->spec, in->start, NULL);
}

/* create while it is on its way out: the new spec starts once it is gone (a replace's stays). */
static int act_create_successor(Instance *i, const InstanceInput *in) {
        if (!i->successor) {
                i->successor = unit_spec_clone(in->spec);
                i->successor_start = in->start;
        }
        return 0;
}

static int act_want_start(Instance *i, const InstanceInput *in) {
        i->start_when_up = true;
        return 0;
}

/* Adopting: a start waits for the answer; without a spec there is nothing to start yet. */
static int act_want_start_adopting(Instance *i, const InstanceInput *in) {
        return i->spec ? act_want_start(i, in) : -EAGAIN;
}

static int act_unwant_start(Instance *i, const InstanceInput *in) {
        i->start_when_up = false;
        return 0;
}

/* Connected but not up yet: the monitor stops (it may be running, adopted), and no start follows
 * once it is up. */
static int act_stop_pass(Instance *i, const InstanceInput *in) {
        i->start_when_up = false;
        return -EAGAIN;
}

/* A start or restart while the start waits for dependencies: it is that wait's (not sent to the
 * monitor, which would start the workload before what it requires is ready). */
static int act_keep_waiting(Instance *i, const InstanceInput *in) {
        return 0;
}

/* An operator's start or restart of a unit whose workload is not active waits, as the plan's
 * does, for what it requires to be ready and for its host ports; one of an active workload (a
 * restart) is the monitor's: a dependency that turned unhealthy since does not hold it. A
 * workload that an operator's stop is ending counts as stopped: `supctl stop app; supctl stop
 * dep; supctl start app` started app again without dep once its stop had not finished. */
static int act_start_up(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;
        bool ending = has_status(i) && i->status.state == INSTANCE_STOPPING && i->status.admin_stopped;

        if (!i->spec || !has_status(i) || (instance_state_is_active(i->status.state) && !ending) ||
            (waiting_for(m, i->spec, NULL, NULL) == 0 && !port_holder(m, i->spec)))
                return -EAGAIN;
        log_info("%s: its start waits for what it requires", i->name);
        set_life(i, LIFE_WAITING);
        return 0;
}

/* A stop while the start waits for dependencies: the monitor stops, and the wait is over. */
static int act_stop_waiting(Instance *i, const InstanceInput *in) {
        set_life(i, LIFE_UP);
        return -EAGAIN;
}

/* A request for the unit while its instance is on its way out: its successor's, if it has one. */
static int act_successor_start(Instance *i, const InstanceInput *in) {
        if (!i->successor)
                return -ENOENT;
        i->successor_start = true;
        return 0;
}

static int act_successor_stop(Instance *i, const InstanceInput *in) {
        if (!i->successor)
                return -ENOENT;
        i->successor_start = false;
        return 0;
}

static void on_retire_reply(Instance *i, json_t *reply, void *userdata) {
        /* The monitor closes its socket once the instance is gone: LIFE_EVENT_LOST goes on. */
}

/* Tells the monitor to shut down; the instance stays, retiring, until its connection closes. */
static int retire(Instance *i, bool remove_sandbox) {
        json_t *params = json_pack("{s:b}", "remove", remove_sandbox);

        set_life(i, LIFE_RETIRING);
        i->start_when_up = false;
        (void) instance_call(i, "shutdown", params, on_retire_reply, NULL);
        json_decref(params);
        return 0;
}

static int act_remove(Instance *i, const InstanceInput *in) {
        return retire(i, true);
}

static int act_shutdown(Instance *i, const InstanceInput *in) {
        return retire(i, false);
}

/* remove while its monitor starts: it is told to shut down once it listens. */
static int act_remove_spawning(Instance *i, const InstanceInput *in) {
        set_life(i, LIFE_RETIRING_SPAWN);
        i->start_when_up = false;
        return 0;
}

/* supd stops while the monitor starts: one not forked yet (still queued) is forgotten, nothing
 * runs; one forked is told to shut down once it listens, as a removed one is (its sandbox, never
 * used, goes with it): forgetting it left it running with no supd to tell it anything. */
static int act_shutdown_spawning(Instance *i, const InstanceInput *in) {
        if (i->spawn_queued)
                return act_forget(i, in);
        /* A unit's sandbox outlives a stop of supd: a monitor started for a unit that ran before
         * (supd started again, a monitor that died) finds its writable layer there. */
        i->keep_sandbox = true;
        return act_remove_spawning(i, in);
}

/* supd stops while the monitor of a removed or replaced instance starts: as above, a forked one is
 * still told to shut down once it listens (and its successor is not started, act_retired()). */
static int act_shutdown_retiring_spawn(Instance *i, const InstanceInput *in) {
        if (i->spawn_queued)
                return act_forget(i, in);
        return 0;
}

/* remove while its monitor is being stopped by a signal: its exit ends it, within the same
 * deadline. */
static int act_remove_unreachable(Instance *i, const InstanceInput *in) {
        usec_t deadline = i->timer ? event_source_get_time(i->timer) : now(CLOCK_MONOTONIC) + ORPHAN_GRACE;

        set_life(i, LIFE_RETIRED);
        arm_timer(i, deadline);
        return 0;
}

/* replace: as remove, and the new spec starts once the monitor is gone. */
static int act_replace(Instance *i, const InstanceInput *in) {
        unit_spec_free(i->successor);
        i->successor = unit_spec_clone(in->spec);
        i->successor_start = in->start;
        return instance_dispatch(i, LIFE_EVENT_REMOVE, NULL);
}

static bool want_started(const Instance *i) {
        return !(has_status(i) && i->status.admin_stopped);
}

static void on_update_reply(Instance *i, json_t *reply, void *userdata) {
        json_t *err = json_object_get(reply, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const UnitSpec *spec;

        if (!err) {
                log_info("%s: updated in place", i->name);
                return;
        }
        /* A monitor that went away is reconciled anew (LIFE_EVENT_LOST). */
        if (code && streq(code, "monitor-gone"))
                return;
        spec = unit_set_find(i->manager->generation, i->name);
        log_warning("%s: not updated in place (%s); restarting it with the new spec", i->name,
                    json_string_value(json_object_get(err, "message")) ?: "no reason given");
        if (spec && i->manager->phase != MANAGER_STOPPING)
                (void) instance_dispatch(i, LIFE_EVENT_REPLACE,
                                         &(InstanceInput){.spec = spec, .start = want_started(i)});
}

/* update: the monitor takes the new spec and applies its limits to the running workload. supd's
 * copy is the new spec from here on, so that a reload meanwhile compares against it; if the
 * monitor refuses, the instance is replaced as for any other change. */
static int act_update(Instance *i, const InstanceInput *in) {
        _cleanup_free_ char *text = unit_spec_format(in->spec);
        UnitSpec *copy = unit_spec_clone(in->spec);
        json_t *params;
        int r;

        if (!copy)
                return instance_dispatch(i, LIFE_EVENT_REPLACE,
                                         &(InstanceInput){.spec = in->spec, .start = want_started(i)});
        params = json_pack("{s:s}", "spec", text);
        r = instance_call(i, "update", params, on_update_reply, NULL);
        json_decref(params);
        if (r < 0) {
                unit_spec_free(copy);
                return instance_dispatch(i, LIFE_EVENT_REPLACE,
                                         &(InstanceInput){.spec = in->spec, .start = want_started(i)});
        }
        unit_spec_free(i->spec);
        i->spec = copy;
        (void) unit_spec_hash(i->spec, i->hash);
        return 0;
}

/* update where no monitor can take it: a replace. */
static int act_update_replace(Instance *i, const InstanceInput *in) {
        return instance_dispatch(i, LIFE_EVENT_REPLACE, &(InstanceInput){.spec = in->spec, .start = want_started(i)});
}

/* The connection to a monitor of the unit is lost: if it lives on, it is stopped by a signal;
 * else the instance is gone and the unit is reconciled. */
static void lost_monitor(Instance *i, const char *why) {
        Manager *m = i->manager;

        if (become_unreachable(i, why))
                return;
        instance_free(i);
        settled(m);
}

/* spawned: connect, and ask its first status. */
static int act_connect(Instance *i, const InstanceInput *in) {
        if (i->manager->runtime->connect(i) < 0) {
                log_error("%s: cannot connect to its new monitor", i->name);
                lost_monitor(i, "its socket cannot be connected to");
                return 0;
        }
        set_life(i, LIFE_CONNECTING);
        (void) instance_call(i, "status", NULL, on_answer, NULL);
        return 0;
}

/* The connection to a retiring monitor is gone: the instance is, once its process has exited
 * too: the socket closes as the monitor exits, and its process (and the instance lock) may outlive
 * it by a moment. A successor's monitor would find the lock held. */
static int act_retiring_lost(Instance *i, const InstanceInput *in) {
        if (i->manager->runtime->watch_exit(i) > 0) {
                set_life(i, LIFE_RETIRED);
                arm_timer(i, now(CLOCK_MONOTONIC) + ORPHAN_GRACE);
                return 0;
        }
        return act_retired(i, in);
}

/* spawned, but removed meanwhile: it is told to shut down now. */
static int act_connect_retiring(Instance *i, const InstanceInput *in) {
        if (i->manager->runtime->connect(i) < 0)
                return act_retiring_lost(i, in);
        return retire(i, !i->keep_sandbox);
}

static int act_spawn_failed(Instance *i, const InstanceInput *in) {
        free(i->spawn_error);
        i->spawn_error = xstrdup(in && in->why ? in->why : "no reason given");
        log_error("%s: the monitor failed to start: %s", i->name, i->spawn_error);
        /* No monitor, so no status of its own: the stream says what `supctl status` shows. */
        events_emit(i->manager->events, "state", i->name,
                    json_pack("{s:n, s:s, s:s}", "from", "to", "failed", "reason", i->spawn_error));
        set_life(i, LIFE_SPAWN_FAILED);
        manager_waits_check(i->manager, i->name);
        return 0;
}

static int act_status(Instance *i, const InstanceInput *in) {
        (void) update_status(i, in ? in->data : NULL);
        return 0;
}

/* The new monitor's first status: it is up. */
static int act_status_up(Instance *i, const InstanceInput *in) {
        if (update_status(i, in ? in->data : NULL))
                become_up(i);
        return 0;
}

/* The adopted monitor answered its status: adopted, unless its spec must be asked first. */
static int act_adopted(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;

        if (json_object_get(in->data, "result")) {
                log_info("%s: adopted (%s, pid %d)", i->name, instance_state_to_string(i->status.state),
                         (int) i->status.pid);
                events_emit(m->events, "adopt", i->name,
                            json_pack("{s:s, s:I}", "state", instance_state_to_string(i->status.state), "pid",
                                      (json_int_t) i->status.pid));
        }
        if (!i->spec) {
                /* spec.json could not be read: the monitor knows what it runs. Until it says,
                 * the instance is in no plan, and nothing else of the unit starts; supd's start
                 * waits for the answer as for the status. */
                set_life(i, LIFE_ADOPT_SPEC);
                if (instance_call(i, "spec", NULL, on_answer, NULL) >= 0)
                        return 0;
                set_life(i, LIFE_UP);
        } else {
                free(i->problem);
                i->problem = NULL;
                become_up(i);
        }
        settled(m);
        return 0;
}

static int act_adopted_late(Instance *i, const InstanceInput *in) {
        log_info("%s: its monitor answers again", i->name);
        return act_adopted(i, in);
}

static int act_spec_answer(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;
        const char *text = json_string_value(json_object_get(json_object_get(in->data, "result"), "spec"));
        _cleanup_free_ char *dir = instance_dir_path(i), *path = path_join(dir, "spec.json");
        Diagnostics d = {};
        UnitSpec *spec = NULL;
        int r;

        if (text && unit_parse(path, dir, text, strlen(text), 0, &d, &spec, NULL) >= 0 && streq(spec->name, i->name)) {
                i->spec = spec;
                (void) unit_spec_hash(i->spec, i->hash);
                free(i->problem);
                i->problem = NULL;
                r = write_file_atomic(path, text, strlen(text), 0600);
                log_warning("%s: adopted with the spec its monitor runs; spec.json %s", i->name,
                            r < 0 ? "could not be rewritten" : "rewritten from it");
                become_up(i);
        } else {
                /* A monitor that cannot say what it runs (an older one) is stopped cleanly; the
                 * unit then starts anew from the units directory. */
                unit_spec_free(spec);
                log_warning("%s: its spec.json is unusable and its monitor does not tell its spec; stopping it",
                            i->name);
                instance_set_problem(i, "spec.json is unusable and the monitor does not tell its spec: stopping it");
                (void) retire(i, false);
        }
        diagnostics_done(&d);
        settled(m);
        return 0;
}

/* adopt-asked: supd's start goes on without it; it is adopted once it answers. */
static int act_unresponsive(Instance *i, const InstanceInput *in) {
        _cleanup_free_ char *dir = instance_dir_path(i);
        pid_t pid = 0;

        (void) instance_lock_holder(dir, &pid);
        set_life(i, LIFE_ADOPT_UNRESPONSIVE);
        instance_set_problem(i, "its monitor (pid %d) does not answer; it is adopted once it does", (int) pid);
        log_warning("%s: its monitor (pid %d) did not answer within %llu s; going on without it", i->name, (int) pid,
                    (unsigned long long) (ADOPT_TIMEOUT / USEC_PER_SEC));
        return 0;
}

/* Gone before it answered: its workload went with it (PDEATHSIG). Unless it lives on without its
 * socket: then it is stopped first. */
static int act_lost_adopting(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;

        if (!become_unreachable(i, "it closed the connection before answering")) {
                log_warning("%s: the monitor found at start closed its connection before answering; starting anew",
                            i->name);
                forget_dead_instance(i);
        }
        settled(m);
        return 0;
}

/* A monitor that dies takes its container along (PDEATHSIG); reconcile starts a new instance,
 * since the unit is still in the generation. */
static int act_lost(Instance *i, const InstanceInput *in) {
        if (i->manager->phase == MANAGER_STOPPING)
                return act_forget(i, in);
        log_warning("%s: the monitor exited unexpectedly%s%s", i->name, in->why ? ": " : "", in->why ?: "");
        /* Or it closed the connection and lives on: then it is stopped first. */
        lost_monitor(i, "it closed supd's connection");
        return 0;
}

/* The monitor that could not be reached has exited: the unit starts anew. */
static int act_orphan_gone(Instance *i, const InstanceInput *in) {
        Manager *m = i->manager;

        log_info("%s: the monitor that could not be reached is gone", i->name);
        forget_dead_instance(i);
        settled(m);
        return 0;
}

static int act_kill(Instance *i, const InstanceInput *in) {
        log_warning("%s: its monitor (no longer connected) did not exit; killing it", i->name);
        i->manager->runtime->kill(i, SIGKILL);
        return 0;
}

/* A row of actions[]: create, start, stop, replace, update, remove, shutdown (the plan and the
 * requests); spawned, spawn failed, status, answer, lost, exited (the monitor); timer. */
#define ROW(create, start, stop, replace, update, remove, shutdown, spawned, spawn_failed, status, answer, lost,      \
            exited, timer)                                                                                            \
        {                                                                                                             \
                [LIFE_EVENT_CREATE] = create, [LIFE_EVENT_START] = start, [LIFE_EVENT_STOP] = stop,                   \
                [LIFE_EVENT_REPLACE] = replace, [LIFE_EVENT_UPDATE] = update, [LIFE_EVENT_REMOVE] = remove,           \
                [LIFE_EVENT_SHUTDOWN] = shutdown, [LIFE_EVENT_SPAWNED] = spawned,                                     \
                [LIFE_EVENT_SPAWN_FAILED] = spawn_failed, [LIFE_EVENT_STATUS] = status, [LIFE_EVENT_ANSWER] = answer, \
                [LIFE_EVENT_LOST] = lost, [LIFE_EVENT_EXITED] = exited, [LIFE_EVENT_TIMER] = timer,                   \
        }

/* Every (state, event) pair, decided once. Events that cannot happen in a state (a status where
 * there is no connection, an exit where no process is watched, the plan's replace of an instance
 * that is no longer the unit's) are act_none. */
/* clang-format off */
static const InstanceAction actions[_LIFE_MAX][_LIFE_EVENT_MAX] = {
        /*                              create                start                    stop                 replace      update              remove                  shutdown      spawned               spawn_failed      status         answer            lost               exited           timer */
        [LIFE_SPAWNING]           = ROW(act_exists,           act_want_start,          act_unwant_start,    act_replace, act_update_replace, act_remove_spawning,    act_shutdown_spawning, act_connect,          act_spawn_failed, act_none,      act_none,         act_none,          act_none,        act_none),
        [LIFE_SPAWN_FAILED]       = ROW(act_create_anew,      act_pass,                act_pass,            act_replace, act_update_replace, act_retired,            act_forget,   act_none,             act_none,         act_none,      act_none,         act_none,          act_none,        act_none),
        [LIFE_CONNECTING]         = ROW(act_exists,           act_want_start,          act_stop_pass,       act_replace, act_update,         act_remove,             act_shutdown, act_none,             act_none,         act_status_up, act_none,         act_lost,          act_none,        act_none),
        [LIFE_WAITING]            = ROW(act_exists,           act_keep_waiting,        act_stop_waiting,    act_replace, act_update,         act_remove,             act_shutdown, act_none,             act_none,         act_status,    act_none,         act_lost,          act_none,        act_none),
        [LIFE_UP]                 = ROW(act_exists,           act_start_up,            act_pass,            act_replace, act_update,         act_remove,             act_shutdown, act_none,             act_none,         act_status,    act_none,         act_lost,          act_none,        act_none),
        [LIFE_ADOPT_ASKED]        = ROW(act_exists,           act_want_start_adopting, act_stop_pass,       act_replace, act_update,         act_remove,             act_shutdown, act_none,             act_none,         act_status,    act_adopted,      act_lost_adopting, act_none,        act_unresponsive),
        [LIFE_ADOPT_UNRESPONSIVE] = ROW(act_exists,           act_want_start_adopting, act_stop_pass,       act_replace, act_update,         act_remove,             act_shutdown, act_none,             act_none,         act_status,    act_adopted_late, act_lost_adopting, act_none,        act_none),
        [LIFE_ADOPT_SPEC]         = ROW(act_exists,           act_pass,                act_stop_pass,       act_replace, act_update,         act_remove,             act_shutdown, act_none,             act_none,         act_status,    act_spec_answer,  act_lost_adopting, act_none,        act_none),
        [LIFE_UNREACHABLE]        = ROW(act_exists,           act_pass,                act_pass,            act_replace, act_update_replace, act_remove_unreachable, act_forget,   act_none,             act_none,         act_none,      act_none,         act_none,          act_orphan_gone, act_kill),
        [LIFE_RETIRING_SPAWN]     = ROW(act_create_successor, act_successor_start,     act_successor_stop,  act_none,    act_none,           act_none,               act_shutdown_retiring_spawn, act_connect_retiring, act_retired,      act_none,      act_none,         act_none,          act_none,        act_none),
        [LIFE_RETIRING]           = ROW(act_create_successor, act_successor_start,     act_successor_stop,  act_none,    act_none,           act_none,               act_none,     act_none,             act_none,         act_status,    act_none,         act_retiring_lost, act_none,        act_none),
        [LIFE_RETIRED]            = ROW(act_create_successor, act_successor_start,     act_successor_stop,  act_none,    act_none,           act_none,               act_forget,   act_none,             act_none,         act_none,      act_none,         act_none,          act_retired,     act_kill),
};
/* clang-format on */
#undef ROW

int instance_dispatch(Instance *i, InstanceEvent ev, const InstanceInput *in) {
        static const InstanceInput none = {};
        Manager *m = i->manager;
        int r;

        assert(i->life >= 0 && i->life < _LIFE_MAX && ev >= 0 && ev < _LIFE_EVENT_MAX);
        r = actions[i->life][ev](i, in ?: &none);
        /* Stopping, and the last monitor is gone. */
        if (m->phase == MANAGER_STOPPING && !m->instances && m->on_idle) {
                void (*on_idle)(Manager * m) = TAKE_PTR(m->on_idle);
                on_idle(m);
        }
        return r;
}

/* ---- from the runtime ---- */

static void on_answer(Instance *i, json_t *reply, void *userdata) {
        const char *code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));

        /* The instance is being forgotten (fail_calls()): its end was an event of its own. */
        if (code && streq(code, "monitor-gone"))
                return;
        (void) instance_dispatch(i, LIFE_EVENT_ANSWER, &(InstanceInput){.data = reply});
}

void instance_spawned(Instance *i, const char *error) {
        (void) instance_dispatch(i, error ? LIFE_EVENT_SPAWN_FAILED : LIFE_EVENT_SPAWNED,
                                 &(InstanceInput){.why = error});
}

void instance_lost(Instance *i, int error) {
        (void) instance_dispatch(i, LIFE_EVENT_LOST, &(InstanceInput){.why = error < 0 ? strerror(-error) : NULL});
}

void instance_exited(Instance *i) {
        (void) instance_dispatch(i, LIFE_EVENT_EXITED, NULL);
}

static json_t *pending_status(const UnitSpec *u, const char *why) {
        InstanceStatus s = {.name = (char *) u->name, .isolation = u->isolation, .state = INSTANCE_STOPPED};
        json_t *j = instance_status_to_json(&s);
        json_object_set_new(j, "reason", why ? json_string(why) : json_null());
        json_object_set_new(j, "usage", json_null());
        return j;
}

static json_t *figure(uint64_t v) {
        return v == UINT64_MAX ? json_null() : json_integer((json_int_t) v);
}

/* What the instance's cgroup says it uses now (for hyperv units: QEMU's), or null without one. Read
 * here rather than asked of the monitor: a few small files, and an answer even while the workload
 * keeps its monitor busy. The cgroups are opened anew each time, not kept: on a v1 host a handle
 * holds every hierarchy's path, a few KiB per unit that supd would carry for every unit between
 * two `supctl status --json` (`supctl status`'s table asks for no usage at all). */
static json_t *usage_json(Manager *m, const Instance *i) {
        _cleanup_(cgroup_freep) Cgroup *cg = NULL, *mon = NULL;
        _cleanup_free_ char *mon_name = xasprintf("%s" INSTANCE_MONITOR_CGROUP_SUFFIX, i->name);
        CgroupStats st, ms = {.cpu_usec = UINT64_MAX};
        const IsolationDriver *driver = isolation_driver_get(i->status.isolation);
        uint64_t rss, guest;
        json_t *j;

        if (!has_status(i) || !instance_state_is_active(i->status.state))
                return json_null();
        if (cgroup_open(m->config.cgroup_root, m->config.cgroup_parent, i->name, &cg) < 0 ||
            cgroup_get_stats(cg, &st) < 0)
                return json_null();
        /* The monitor's work for the unit (its log, above all), in its own cgroup (monitor.h). */
        if (cgroup_open(m->config.cgroup_root, m->config.cgroup_parent, mon_name, &mon) < 0 ||
            cgroup_get_stats(mon, &ms) < 0)
                ms.cpu_usec = UINT64_MAX;
        j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "of", driver ? driver->usage_of : "workload",
                      "cgroup", cgroup_path(cg), "memory_bytes", figure(st.memory_current), "memory_max",
                      figure(st.memory_max), "cpu_usec", figure(st.cpu_usec), "pids", figure(st.pids_current),
                      "pids_max", figure(st.pids_max), "monitor_cpu_usec", figure(ms.cpu_usec));
        /* A VM's cgroup holds guest RAM and QEMU together; QEMU's mappings tell them apart: the guest
         * RAM it holds resident (one anonymous mapping of the guest's size) and the rest, QEMU's own
         * (code cache, binary and libraries, heap). Only for a QEMU supd can still read. */
        if (i->status.isolation == ISOLATION_HYPERV && i->status.pid > 0 && i->status.vm.memory > 0 &&
            proc_smaps_rss(i->status.pid, i->status.vm.memory, &rss, &guest) >= 0 && guest > 0) {
                json_object_set_new(j, "vm_guest_resident_bytes", json_integer((json_int_t) guest));
                json_object_set_new(j, "vm_overhead_bytes", json_integer((json_int_t) (rss - guest)));
        }
        return j;
}

static bool wants_field(const json_t *fields, const char *key) {
        size_t k;
        json_t *f;

        if (!fields)
                return true;
        json_array_foreach(fields, k, f)
                if (streq(json_string_value(f), key))
                        return true;
        return false;
}

/* The keys of j that the request names, in a new object, those that are null left out: what
 * crosses the socket, and what the client parses, is then only what it shows (the table: 13 keys
 * of 27, and of a running unit's 13 about 6 are null). */
static json_t *only_fields(json_t *j, const json_t *fields) {
        json_t *o;
        size_t k;
        json_t *f;

        if (!fields)
                return j;
        o = json_object();
        json_array_foreach(fields, k, f) {
                json_t *v = json_object_get(j, json_string_value(f));
                if (v && !json_is_null(v))
                        json_object_set(o, json_string_value(f), v);
        }
        json_decref(j);
        return o;
}

json_t *manager_status_json(Manager *m, const char *only, bool usage) {
        return manager_status_json_fields(m, only, usage, NULL);
}

json_t *manager_status_json_fields(Manager *m, const char *only, bool usage, const json_t *fields) {
        json_t *list = json_array();
        size_t n = m->generation ? m->generation->n_units : 0;
        /* The instance's own keys the request names, built alone (not a whole object to pick from). */
        uint32_t keys = instance_status_keys_mask(fields);
        bool want_reason = wants_field(fields, "reason"), want_waiting = wants_field(fields, "waiting_for"),
             want_description = wants_field(fields, "description");

        usage = usage && wants_field(fields, "usage");

        /* Units of the generation in name order, then instances being retired. */
        for (size_t k = 0; k < n; k++) {
                const UnitSpec *u = m->generation->units[k];
                Instance *i = manager_find(m, u->name);
                json_t *j, *waiting = NULL; /* "waiting_for": the units its start waits for */
                bool exact = false;         /* j has only the keys asked for, none null */

                if (only && !streq(only, u->name))
                        continue;
                if (i && (i->life == LIFE_ADOPT_ASKED || i->life == LIFE_ADOPT_UNRESPONSIVE ||
                          i->life == LIFE_UNREACHABLE)) {
                        /* A monitor supd found but could not adopt (yet): what it last said, if
                         * anything, under a state that says so. */
                        j = has_status(i) ? instance_status_to_json(&i->status) : pending_status(u, NULL);
                        json_object_set_new(j, "state",
                                            json_string(i->life == LIFE_UNREACHABLE ? "stopping" : "unresponsive"));
                        json_object_set_new(j, "reason", json_string(i->problem));
                        if (!has_status(i))
                                json_object_set_new(j, "monitor_pid", json_null());
                } else if (!i && json_object_get(m->create_errors, u->name)) {
                        j = pending_status(u, json_string_value(json_object_get(m->create_errors, u->name)));
                        json_object_set_new(j, "state", json_string("failed"));
                } else if (!i || !has_status(i)) {
                        bool failed = i && i->life == LIFE_SPAWN_FAILED;
                        j = pending_status(u, failed ? i->spawn_error : NULL);
                        if (failed)
                                json_object_set_new(j, "state", json_string("failed"));
                } else {
                        _cleanup_strv_free_ char **names = NULL;
                        _cleanup_free_ char *what = NULL;
                        const char *holder;

                        j = instance_status_to_json_keys(&i->status, keys, fields != NULL);
                        if (usage) {
                                json_t *x = usage_json(m, i);
                                if (fields && json_is_null(x))
                                        json_decref(x);
                                else
                                        json_object_set_new(j, "usage", x);
                        }
                        if (i->life == LIFE_WAITING && i->spec && waiting_for(m, i->spec, &names, &what) > 0) {
                                _cleanup_free_ char *why = xasprintf("waiting for %s", what);
                                if (want_reason)
                                        json_object_set_new(j, "reason", json_string(why));
                                waiting = json_array();
                                STRV_FOREACH(name, names)
                                        json_array_append_new(waiting, json_string(*name));
                        } else if (i->life == LIFE_WAITING && i->spec && (holder = port_holder(m, i->spec))) {
                                _cleanup_free_ char *why =
                                        xasprintf("waiting for %s to stop and release the host ports", holder);
                                if (want_reason)
                                        json_object_set_new(j, "reason", json_string(why));
                        }
                        exact = fields != NULL;
                }
                if (want_waiting && (waiting || !exact))
                        json_object_set_new(j, "waiting_for", waiting ?: json_null());
                else
                        json_decref(waiting);
                if (want_description && u->description)
                        json_object_set_new(j, "description", json_string(u->description));
                /* The usual case (a unit whose monitor reported) was built from the keys alone. */
                json_array_append_new(list, exact ? j : only_fields(j, fields));
        }
        for (Instance *i = m->instances; i; i = i->next)
                if (instance_life_retiring(i->life) && has_status(i) && (!only || streq(only, i->name))) {
                        json_t *j = instance_status_to_json_keys(&i->status, keys, fields != NULL);
                        if (usage)
                                json_object_set_new(j, "usage", usage_json(m, i));
                        json_object_set_new(j, "waiting_for", json_null());
                        json_array_append_new(list, only_fields(j, fields));
                }
        return list;
}

void manager_shutdown(Manager *m) {
        m->phase = MANAGER_STOPPING;
        manager_waits_check(m, NULL);
        for (Instance *i = m->instances, *next; i; i = next) {
                next = i->next;
                (void) instance_dispatch(i, LIFE_EVENT_SHUTDOWN, NULL);
        }
        if (!m->instances && m->on_idle) {
                void (*on_idle)(Manager * m) = TAKE_PTR(m->on_idle);
                on_idle(m);
        }
}

void manager_set_runtime(Manager *m, const ManagerRuntime *runtime) {
        m->runtime = runtime;
}

int manager_new(Event *e, ManagerConfig *config, Manager **ret) {
        Manager *m = xzalloc(sizeof(Manager));
        m->event = e;
        m->config = *config;
        m->runtime = &manager_runtime_monitor;
        m->phase = MANAGER_ADOPTING;
        if (m->config.image_store_dir)
                (void) image_jobs_new(e, m->config.image_store_dir, &m->image_jobs);
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->freeing = true;
        m->image_jobs = image_jobs_free(m->image_jobs);
        while (m->waits)
                manager_wait_free(m->waits);
        while (m->instances)
                instance_free(m->instances);
        manager_index_done(m);
        event_source_free(m->spawn_source);
        m->zygote = monitor_zygote_free(m->zygote);
        event_source_free(m->trim_timer);
        event_source_free(m->adopt_deadline);
        json_decref(m->create_errors);
        unit_set_free(m->generation);
        unit_set_cache_free(m->unit_cache);
        manager_config_done(&m->config);
        free(m);
        return NULL;
}

void manager_config_done(ManagerConfig *c) {
        free(c->units_dir);
        free(c->state_dir);
        free(c->run_dir);
        free(c->cgroup_root);
        free(c->cgroup_parent);
        free(c->bridge_subnet);
        free(c->bridge_subnet6);
        free(c->monitor_path);
        free(c->guest_dir);
        free(c->vm_accel);
        free(c->log_max_size);
        free(c->image_store_dir);
        free(c->image_max_layer_size);
        *c = (ManagerConfig){};
}
