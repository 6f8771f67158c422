/* SPDX-License-Identifier: MIT */
#include "health.h"

#include <assert.h>
#include <limits.h>
#include <signal.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"
#include "workload.h"

/* ---- the tally ---- */

bool health_tally_record(HealthTally *t, const UnitSpec *u, usec_t run_started, usec_t check_started, bool passed) {
        HealthState old = t->state;

        if (passed) {
                t->state = HEALTH_HEALTHY;
                t->failing_streak = 0;
                return old != t->state;
        }
        /* Docker's start period: while the workload has not yet shown itself healthy, a check
         * that began within start_period is allowed to fail. The check's start, not its end,
         * decides, so that a check that hangs past the period's end is still within it. */
        if (t->state == HEALTH_STARTING && check_started - run_started < u->healthcheck.start_period)
                return false;
        if (t->failing_streak < UINT_MAX)
                t->failing_streak++;
        if (t->failing_streak >= u->healthcheck.retries)
                t->state = HEALTH_UNHEALTHY;
        return old != t->state;
}

/* ---- the runner ---- */

/* What the runner waits for: the timer's meaning follows from it alone. */
typedef enum HealthRunState {
        HEALTH_RUN_WAITING,   /* no check runs; the timer is the next check's start */
        HEALTH_RUN_CHECKING,  /* a check runs; the timer is its timeout */
        HEALTH_RUN_ABANDONED, /* a check that could not be cancelled outlived its timeout and still
                               * runs; the timer is the next check's turn, which counts as failed
                               * while it runs */
} HealthRunState;

/* One exec of the check: apart from the HealthCheck because an exec the driver cannot cancel
 * calls back after its owner may have gone. */
typedef struct HealthExec {
        HealthCheck *owner; /* NULL once the owner has gone: the exec ends unheard */
        DriverExec *handle; /* NULL: cannot be cancelled */
        usec_t started;     /* CLOCK_MONOTONIC */
        char out[HEALTH_OUTPUT_MAX];
        size_t n;
        bool cut; /* output was dropped at the front */
} HealthExec;

struct HealthCheck {
        EventSource *timer;
        const HealthCheckOps *ops;
        void *userdata;
        UnitSpec *spec; /* only its healthcheck is set */
        usec_t run_started;

        HealthRunState run_state;
        HealthExec *exec; /* CHECKING, ABANDONED */
        HealthTally tally;

        usec_t last_at; /* CLOCK_REALTIME; 0: no check yet */
        int last_exit_code;
        int last_signal;
        bool last_timed_out;
        char *last_output;
};

static void on_timer(EventSource *s, usec_t t, void *userdata);

HealthCheck *health_check_new(Event *e, const UnitSpec *spec, usec_t run_started, const HealthCheckOps *ops,
                              void *userdata) {
        HealthCheck *h;

        if (!spec->healthcheck.command)
                return NULL;
        h = xnew0(HealthCheck, 1);
        h->ops = ops;
        h->userdata = userdata;
        h->spec = unit_spec_new();
        h->spec->healthcheck = spec->healthcheck;
        h->spec->healthcheck.command = strv_copy(spec->healthcheck.command);
        h->run_started = run_started;
        h->tally = HEALTH_TALLY_INIT;
        /* Readiness (requires) waits for the first pass: a whole interval (10 s by default) would
         * be a long wait for a workload that is up within a second. */
        (void) event_add_time(e, &h->timer, run_started + MIN(spec->healthcheck.interval, USEC_PER_SEC), on_timer, h);
        return h;
}

/* Ends the exec that runs, or disowns it when it cannot be cancelled (its exited() frees it). */
static void drop_exec(HealthCheck *h) {
        HealthExec *x = TAKE_PTR(h->exec);

        if (!x)
                return;
        if (x->handle) {
                h->ops->cancel(x->handle, h->userdata);
                free(x);
        } else
                x->owner = NULL;
}

HealthCheck *health_check_free(HealthCheck *h) {
        if (!h)
                return NULL;
        drop_exec(h);
        event_source_free(h->timer);
        unit_spec_free(h->spec);
        free(h->last_output);
        free(h);
        return NULL;
}

HealthState health_check_state(const HealthCheck *h) {
        return h->tally.state;
}

void health_check_status(const HealthCheck *h, InstanceStatus *s) {
        s->health.enabled = true;
        s->health.state = h->tally.state;
        s->health.failing_streak = h->tally.failing_streak;
        s->health.last_at = h->last_at;
        s->health.last_exit_code = h->last_exit_code;
        s->health.last_signal = h->last_signal;
        s->health.last_timed_out = h->last_timed_out;
        free(s->health.last_output);
        s->health.last_output = h->last_output ? xstrdup(h->last_output) : NULL;
}

/* Keeps the last HEALTH_OUTPUT_MAX bytes: a check that floods its output costs a copy, not
 * memory. */
static void output_append(HealthExec *x, const char *buf, size_t n) {
        if (n >= sizeof(x->out)) {
                x->cut = x->cut || x->n > 0 || n > sizeof(x->out);
                memcpy(x->out, buf + n - sizeof(x->out), sizeof(x->out));
                x->n = sizeof(x->out);
                return;
        }
        if (x->n + n > sizeof(x->out)) {
                size_t drop = x->n + n - sizeof(x->out);
                memmove(x->out, x->out + drop, x->n - drop);
                x->n -= drop;
                x->cut = true;
        }
        memcpy(x->out + x->n, buf, n);
        x->n += n;
}

/* The kept bytes as a C string for the status: NULs (which would end it early) dropped, and a
 * UTF-8 character whose first bytes were cut off dropped rather than shown broken. */
static char *output_text(const HealthExec *x) {
        char *s = xnew(char, x->n + 1), *p = s;
        size_t i = 0;

        if (x->cut)
                while (i < x->n && i < 3 && ((unsigned char) x->out[i] & 0xC0) == 0x80)
                        i++;
        for (; i < x->n; i++)
                if (x->out[i] != '\0')
                        *p++ = x->out[i];
        *p = '\0';
        return s;
}

static void on_exec_output(ExecStream stream, const char *buf, size_t n, void *userdata) {
        HealthExec *x = userdata;

        /* stdout and stderr as they came, as a terminal would show them: one tail. */
        if (x->owner)
                output_append(x, buf, n);
}

/* Records a check that began at started and ended now, arms the next one, and tells the owner.
 * output is taken. The last thing done with h: changed() may free it. */
static void finish_check(HealthCheck *h, usec_t started, bool passed, int code, int sig, bool timed_out, char *output) {
        HealthState old = h->tally.state;
        usec_t t = now(CLOCK_MONOTONIC);

        (void) health_tally_record(&h->tally, h->spec, h->run_started, started, passed);
        h->last_at = now(CLOCK_REALTIME);
        h->last_exit_code = code;
        h->last_signal = sig;
        h->last_timed_out = timed_out;
        free(h->last_output);
        h->last_output = output;
        /* The next check is interval after this one ended, so that a slow check never makes
         * them run back to back. */
        event_source_set_time(h->timer, t + h->spec->healthcheck.interval);
        h->ops->changed(h, old, h->tally.state, h->userdata);
}

static void on_exec_exited(const ExecResult *result, void *userdata) {
        HealthExec *x = userdata;
        HealthCheck *h = x->owner;
        usec_t started = x->started;
        char *output;

        if (!h) {
                /* Disowned: its owner has gone. */
                free(x);
                return;
        }
        h->exec = NULL;
        if (h->run_state == HEALTH_RUN_ABANDONED) {
                /* Counted as failed at its timeout already; the next check may run at its turn. */
                h->run_state = HEALTH_RUN_WAITING;
                free(x);
                return;
        }
        assert(h->run_state == HEALTH_RUN_CHECKING);
        h->run_state = HEALTH_RUN_WAITING;
        if (result->signal == SIGKILL && !result->error) {
                /* Not ours (a check we kill at its timeout does not come here): the instance is
                 * going (its pid namespace or its guest took the check along, before the monitor
                 * hears of the workload's end) or the OOM killer struck in its cgroup. Either way
                 * the workload's end is the restart policy's to judge, not health's: the check is
                 * not counted, and the next one comes at its turn if the workload still runs. */
                free(x);
                event_source_set_time(h->timer, now(CLOCK_MONOTONIC) + h->spec->healthcheck.interval);
                return;
        }
        output = result->error ? xstrdup(result->error) : output_text(x);
        free(x);
        finish_check(h, started, result->code == 0 && result->signal == 0 && !result->error, result->code,
                     result->signal, false, output);
}

static void start_check(HealthCheck *h, usec_t t) {
        static const ExecCallbacks callbacks = {
                .output = on_exec_output,
                .exited = on_exec_exited,
        };
        const ExecRequest req = {.argv = h->spec->healthcheck.command, .merge_stderr = true};
        _cleanup_sup_error_ SupError *error = NULL;
        HealthExec *x = xnew0(HealthExec, 1);
        int r;

        x->owner = h;
        x->started = t;
        r = h->ops->exec(&req, &callbacks, x, &x->handle, &error, h->userdata);
        if (r < 0) {
                free(x);
                finish_check(h, t, false, workload_exit_code(r), 0, false,
                             error ? xstrdup(sup_error_message(error))
                                   : xasprintf("cannot run the health check: %s", strerror(-r)));
                return;
        }
        h->exec = x;
        h->run_state = HEALTH_RUN_CHECKING;
        /* From when exec() has returned: the time it took to set the command up is not the
         * command's. */
        event_source_set_time(h->timer, now(CLOCK_MONOTONIC) + h->spec->healthcheck.timeout);
}

static char *timeout_message(const HealthCheck *h, const char *what) {
        _cleanup_free_ char *d = format_duration(h->spec->healthcheck.timeout);
        return xasprintf("%s (healthcheck.timeout: %s)", what, d);
}

static void on_timer(EventSource *s, usec_t t, void *userdata) {
        HealthCheck *h = userdata;
        HealthExec *x = h->exec;
        bool cancelled;
        usec_t started;
        char *output;

        switch (h->run_state) {
        case HEALTH_RUN_WAITING:
                start_check(h, t);
                return;
        case HEALTH_RUN_CHECKING:
                /* What it wrote until now says where it hung. */
                output = x->n > 0 ? output_text(x) : timeout_message(h, "the check did not end in time");
                started = x->started;
                cancelled = x->handle != NULL;
                if (cancelled) {
                        drop_exec(h);
                        h->run_state = HEALTH_RUN_WAITING;
                } else
                        h->run_state = HEALTH_RUN_ABANDONED;
                /* Killed, it ended by SIGKILL; left running, it has no end to show yet. */
                finish_check(h, started, false, -1, cancelled ? SIGKILL : 0, true, output);
                return;
        case HEALTH_RUN_ABANDONED:
                /* No second check beside one that still runs: its turn counts as another hang. */
                finish_check(h, t, false, -1, 0, true,
                             timeout_message(h, "the previous check still runs and cannot be cancelled"));
                return;
        }
}
