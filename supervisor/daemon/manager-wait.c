/* SPDX-License-Identifier: MIT */
/* `supctl wait`: a control client waits until a unit runs (or is healthy). A wait is decided by
 * what supd already knows of the unit: it is checked again whenever that changes (a status from
 * the unit's monitor, its monitor's failure to start, a reload, supd's stop), never polled; its
 * timeout is a timer on the loop. */
#include "manager.h"

#include "alloc.h"
#include "log.h"
#include "string-util.h"

struct ManagerWait {
        Manager *manager;
        char *unit;
        bool healthy;
        usec_t timeout;
        EventSource *timer;
        ManagerWaitDone done;
        void *userdata;
        ManagerWait *next;
};

static const char *goal(bool healthy) {
        return healthy ? "become healthy" : "run";
}

/* 1: the unit runs (is healthy); 0: not yet; < 0: it cannot get there, or the wait makes no sense
 * (-ENOENT: no such unit; -EINVAL: healthy without a healthcheck), with why. */
static int wait_check(Manager *m, const char *name, bool healthy, char **ret_why) {
        const UnitSpec *u = m->generation ? unit_set_find(m->generation, name) : NULL;
        const char *create_error = json_string_value(json_object_get(m->create_errors, name));
        Instance *i = manager_find(m, name);
        const InstanceStatus *s;

        if (m->phase == MANAGER_STOPPING) {
                *ret_why = xstrdup("supd is stopping");
                return -ESRCH;
        }
        /* supd's start, before the units are loaded (it adopts the monitors it found first): a
         * script that waits right after starting supd waits for the load too. */
        if (!m->generation)
                return 0;
        if (!u) {
                *ret_why = xasprintf("no unit \"%s\" is loaded", name);
                return -ENOENT;
        }
        if (healthy && !u->healthcheck.command) {
                *ret_why = xasprintf("%s has no healthcheck: wait for it to run (without --healthy)", name);
                return -EINVAL;
        }
        if (!i && create_error) {
                *ret_why = xasprintf("%s failed: %s", name, create_error);
                return -ESRCH;
        }
        if (i && i->life == LIFE_SPAWN_FAILED) {
                *ret_why = xasprintf("%s failed: its monitor could not start: %s", name, i->spawn_error ?: "?");
                return -ESRCH;
        }
        /* Being created, replaced or adopted: its monitor has not said yet. */
        if (!i || !i->status.name)
                return 0;
        s = &i->status;
        switch (s->state) {
        case INSTANCE_RUNNING:
                return !healthy || (s->health.enabled && s->health.state == HEALTH_HEALTHY);
        case INSTANCE_FAILED:
                *ret_why = xasprintf("%s failed%s%s", name, s->reason ? ": " : "", s->reason ?: "");
                return -ESRCH;
        case INSTANCE_EXITED:
                if (s->has_exit && s->exit_signal > 0)
                        *ret_why = xasprintf("%s exited (signal %d) and is not restarted", name, s->exit_signal);
                else if (s->has_exit)
                        *ret_why = xasprintf("%s exited (code %d) and is not restarted", name, s->exit_code);
                else
                        *ret_why = xasprintf("%s exited and is not restarted", name);
                return -ESRCH;
        case INSTANCE_STOPPED:
                /* Stopped by the operator, and no start of theirs is held for its dependencies
                 * (waiting) or for its monitor (start_when_up). A unit not started yet waits. */
                if (s->admin_stopped && i->life != LIFE_WAITING && !i->start_when_up) {
                        *ret_why = xasprintf("%s was stopped by the operator", name);
                        return -ESRCH;
                }
                return 0;
        case INSTANCE_STARTING:
        case INSTANCE_STOPPING:
        case INSTANCE_BACKOFF:
                return 0;
        case _INSTANCE_STATE_MAX:
        case _INSTANCE_STATE_INVALID:
                break;
        }
        return 0;
}

static void wait_unlink(ManagerWait *w) {
        for (ManagerWait **p = &w->manager->waits; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        w->manager->n_waits--;
                        return;
                }
}

ManagerWait *manager_wait_free(ManagerWait *w) {
        if (!w)
                return NULL;
        wait_unlink(w);
        event_source_free(w->timer);
        free(w->unit);
        free(w);
        return NULL;
}

static void wait_finish(ManagerWait *w, int result, const char *why) {
        ManagerWaitDone done = w->done;
        void *userdata = w->userdata;

        manager_wait_free(w);
        done(result, why, userdata);
}

/* What the unit is, for the timeout's message. */
static char *unit_now(Manager *m, const char *name) {
        Instance *i = manager_find(m, name);

        if (!i || !i->status.name)
                return xstrdup("its monitor has not reported yet");
        if (i->status.health.enabled)
                return xasprintf("it is %s, health: %s", instance_state_to_string(i->status.state),
                                 health_state_to_string(i->status.health.state));
        return xasprintf("it is %s", instance_state_to_string(i->status.state));
}

static void on_wait_timeout(EventSource *s, usec_t t, void *userdata) {
        ManagerWait *w = userdata;
        _cleanup_free_ char *now_is = unit_now(w->manager, w->unit), *why = NULL;
        char span[64];

        why = xasprintf("%s did not %s within %s (%s)", w->unit, goal(w->healthy),
                        format_timespan(w->timeout, span, sizeof(span)), now_is);
        wait_finish(w, -ETIMEDOUT, why);
}

int manager_wait(Manager *m, const char *name, bool healthy, usec_t timeout, ManagerWaitDone done, void *userdata,
                 ManagerWait **ret, char **ret_why) {
        _cleanup_free_ char *why = NULL;
        ManagerWait *w;
        int r;

        r = wait_check(m, name, healthy, &why);
        if (r != 0) {
                if (r < 0 && ret_why)
                        *ret_why = TAKE_PTR(why);
                return r;
        }
        w = xzalloc(sizeof(ManagerWait));
        *w = (ManagerWait){.manager = m,
                           .unit = xstrdup(name),
                           .healthy = healthy,
                           .timeout = timeout,
                           .done = done,
                           .userdata = userdata,
                           .next = m->waits};
        if (timeout != USEC_INFINITY) {
                r = event_add_time(m->event, &w->timer, now(CLOCK_MONOTONIC) + timeout, on_wait_timeout, w);
                if (r < 0) {
                        free(w->unit);
                        free(w);
                        if (ret_why)
                                *ret_why = xasprintf("cannot arm the wait's timer: %s", strerror(-r));
                        return r;
                }
        }
        m->waits = w;
        m->n_waits++;
        *ret = w;
        return 0;
}

void manager_waits_check(Manager *m, const char *name) {
        for (ManagerWait *w = m->waits, *next; w; w = next) {
                _cleanup_free_ char *why = NULL;
                int r;

                next = w->next;
                if (name && !streq(w->unit, name))
                        continue;
                r = wait_check(m, w->unit, w->healthy, &why);
                if (r == 0)
                        continue;
                if (r == -ENOENT) {
                        free(why);
                        why = xasprintf("%s was removed by a reload", w->unit);
                } else if (r == -EINVAL) {
                        free(why);
                        why = xasprintf("%s no longer has a healthcheck (a reload dropped it)", w->unit);
                }
                log_debug("wait for %s to %s: %s", w->unit, goal(w->healthy), r > 0 ? "done" : why);
                wait_finish(w, r > 0 ? 0 : -ESRCH, why);
        }
}
