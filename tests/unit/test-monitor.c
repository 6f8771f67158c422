/* SPDX-License-Identifier: MIT */
/* The monitor's state machine over a fake isolation driver (driver.h): every (state, event) cell of
 * monitor.c's actions[][] written out, and the windows between two events that went wrong before. */
#include "test-helpers.h"

#include <signal.h>
#include <sys/stat.h>

#include "monitor.h"
#include "path-util.h"

/* ---- the fake driver ---- */

typedef struct Fake {
        unsigned prepares, parks, starts, stops, kills, cleanups, frees;
        int park_result;    /* what park() returns */
        bool parked;        /* the instance is parked: from park() until start() */
        int start_result;   /* what start() returns */
        unsigned not_empty; /* cleanups that find something of the run left */
        bool oom;           /* the next exit reports the OOM killer */
        DriverInstance *instance; /* the run's, from prepare() until free() */
        unsigned execs, exec_cancels;
        struct FakeExec *exec; /* the exec that runs (a health check's) */
} Fake;

typedef struct FakeExec {
        ExecCallbacks cb;
        void *userdata;
} FakeExec;

static Fake fake;
static IsolationDriver fake_driver;

static int fake_prepare(const DriverContext *ctx, DriverInstance **ret, SupError **ret_error) {
        DriverInstance *d = xzalloc(sizeof(DriverInstance));

        /* One run at a time, a parked one included: made ahead only while none runs. */
        assert_null(fake.instance);
        *d = (DriverInstance){.driver = &fake_driver, .ctx = ctx};
        fake.instance = *ret = d;
        fake.prepares++;
        return 0;
}

static int fake_park(DriverInstance *d, SupError **ret_error) {
        assert_ptr_equal(d, fake.instance);
        assert_false(fake.parked);
        fake.parks++;
        if (fake.park_result < 0)
                return sup_error_make(ret_error, fake.park_result, "the fake does not park");
        fake.parked = true;
        return 0;
}

static int fake_start(DriverInstance *d, SupError **ret_error) {
        fake.parked = false;
        fake.starts++;
        if (fake.start_result < 0)
                return sup_error_make(ret_error, fake.start_result, "the fake does not start");
        return 0;
}

static void fake_stop(DriverInstance *d) {
        fake.stops++;
}

static void fake_kill(DriverInstance *d) {
        fake.kills++;
}

static bool fake_cleanup(DriverInstance *d) {
        fake.cleanups++;
        if (fake.not_empty > 0) {
                fake.not_empty--;
                return false;
        }
        return true;
}

static DriverInstance *fake_free(DriverInstance *d) {
        assert_ptr_equal(d, fake.instance);
        fake.frees++;
        fake.instance = NULL;
        fake.parked = false;
        free(d);
        return NULL;
}

static int fake_exec(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                     DriverExec **ret, SupError **ret_error) {
        FakeExec *x = xzalloc(sizeof(FakeExec));

        assert_null(fake.exec); /* checks never overlap */
        *x = (FakeExec){.cb = *cb, .userdata = userdata};
        fake.exec = x;
        fake.execs++;
        *ret = (DriverExec *) x;
        return 0;
}

static DriverExec *fake_exec_cancel(DriverExec *x) {
        assert_ptr_equal(x, fake.exec);
        fake.exec_cancels++;
        free(fake.exec);
        fake.exec = NULL;
        return NULL;
}

/* The exec that runs ends with code. */
static void exec_ends(int code) {
        FakeExec *x = fake.exec;
        ExecResult r = {.code = code};

        assert_non_null(x);
        fake.exec = NULL;
        x->cb.exited(&r, x->userdata);
        free(x);
}

static IsolationDriver fake_driver = {
        .name = "fake",
        .exec = fake_exec,
        .exec_cancel = fake_exec_cancel,
        .pid_namespace = "host",
        .prepare = fake_prepare,
        .start = fake_start,
        .stop = fake_stop,
        .kill = fake_kill,
        .cleanup = fake_cleanup,
        .free = fake_free,
};

/* The harness's driver can make a run ahead (driver.h park()), and its monitor does so at once, as
 * sup-monitor does. */
static bool parking;

/* What the driver reports: the command runs; the workload has ended (code, or signal). */
static void workload_started(void) {
        assert_non_null(fake.instance);
        assert_false(fake.parked); /* a parked instance reports nothing */
        fake.instance->ctx->callbacks.started(fake.instance, fake.instance->ctx->userdata);
}

static void workload_exits(int code, int sig, bool setup_failed) {
        DriverExit ex = {.code = sig ? -1 : code, .signal = sig, .oom = fake.oom, .setup_failed = setup_failed};

        assert_non_null(fake.instance);
        assert_false(fake.parked);
        fake.instance->ctx->callbacks.exited(fake.instance, &ex, fake.instance->ctx->userdata);
}

typedef struct Harness {
        char *tmp, *dir, *state_dir;
        Event *event;
        Monitor *m;
} Harness;

static void harness_open(Harness *h, const char *extra) {
        _cleanup_free_ char *yaml = NULL, *layer = NULL;
        MonitorConfig cfg = {.cgroup_parent = "sup"};
        _cleanup_sup_error_ SupError *error = NULL;

        fake = (Fake){};
        h->tmp = make_tree();
        h->dir = path_join(h->tmp, "units/t");
        h->state_dir = path_join(h->tmp, "state");
        /* No network and no seccomp filter: what the monitor prepares for every driver needs no
         * privileges then; no cgroup_root: no cgroup. A layer that exists: the image step runs
         * before the driver's prepare(). */
        layer = path_join(h->tmp, "layer");
        assert_int_equal(mkdir_p(layer, 0755), 0);
        yaml = xasprintf("name: t\nimage: {layers: [{dir: %s}]}\ncommand: [/bin/true]\nnetwork: none\n"
                         "security: {seccomp: unconfined}\n%s",
                         layer, extra);
        put(h->tmp, "units/t/spec.json", yaml);
        assert_int_equal(mkdir_p(h->state_dir, 0755), 0);
        cfg.dir = h->dir;
        cfg.state_dir = h->state_dir;
        assert_int_equal(event_new(&h->event), 0);
        assert_int_equal(monitor_new(h->event, &cfg, &h->m, &error), 0);
        fake_driver.park = parking ? fake_park : NULL;
        monitor_set_driver(h->m, &fake_driver);
        if (parking)
                monitor_make_ahead(h->m);
}

static void harness_close(Harness *h) {
        monitor_free(h->m);
        assert_null(fake.instance); /* the monitor freed what it started */
        assert_null(fake.exec);     /* and cancelled the check that ran */
        event_free(h->event);
        (void) rm_rf(h->tmp);
        free(h->tmp);
        free(h->dir);
        free(h->state_dir);
}

/* The monitor has exited (shutdown): its instance directory is gone. */
static bool has_exited(const Harness *h) {
        struct stat st;
        return stat(h->dir, &st) < 0;
}

static bool timer_armed(const Monitor *m) {
        return m->timer && event_source_get_time(m->timer) != USEC_INFINITY;
}

/* As the event loop does before it calls a timer's handler. */
static void timer_fires(Monitor *m) {
        assert_true(timer_armed(m));
        event_source_set_time(m->timer, USEC_INFINITY);
        monitor_dispatch(m, MONITOR_EVENT_TIMEOUT);
}

/* Runs the loop (the real timers) until cond holds; a generous bound only ends a test that
 * would otherwise hang, it is no measure of speed. */
#define RUN_UNTIL(h, cond)                                                           \
        do {                                                                         \
                usec_t _end = now(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;              \
                while (!(cond) && now(CLOCK_MONOTONIC) < _end)                       \
                        assert_true(event_run((h)->event, 50 * USEC_PER_MSEC) >= 0); \
                assert_true(cond);                                                   \
        } while (0)

/* Restarts on failure, after an hour (so that no real timer fires in the cell tests), at most
 * twice an hour. */
#define CELL_UNIT "restart: {policy: on-failure, delay: 1h, burst: 2, interval: 1h}\n"

static void enter(Harness *h, MonitorState s) {
        Monitor *m = h->m;

        switch (s) {
        case MONITOR_STOPPED:
                break;
        case MONITOR_STARTING:
                assert_int_equal(monitor_start(m, true), 0);
                break;
        case MONITOR_RUNNING:
                enter(h, MONITOR_STARTING);
                workload_started();
                break;
        case MONITOR_STOPPING:
                enter(h, MONITOR_RUNNING);
                assert_int_equal(monitor_stop(m), 0);
                break;
        case MONITOR_CANCELLING:
                enter(h, MONITOR_STARTING);
                assert_int_equal(monitor_stop(m), 0);
                break;
        case MONITOR_DRAINING:
                enter(h, MONITOR_RUNNING);
                fake.not_empty = 1;
                workload_exits(1, 0, false);
                break;
        case MONITOR_BACKOFF:
                enter(h, MONITOR_RUNNING);
                workload_exits(1, 0, false);
                break;
        case MONITOR_EXITED:
                enter(h, MONITOR_RUNNING);
                workload_exits(0, 0, false);
                break;
        case MONITOR_FAILED:
                /* The second automatic start breaks restart.burst. */
                enter(h, MONITOR_BACKOFF);
                timer_fires(m);
                workload_started();
                workload_exits(1, 0, false);
                timer_fires(m);
                break;
        case _MONITOR_STATE_MAX:
        case _MONITOR_STATE_INVALID:
                fail();
        }
        assert_int_equal(m->state, s);
}

static void deliver(Harness *h, MonitorEvent ev) {
        Monitor *m = h->m;

        switch (ev) {
        case MONITOR_EVENT_START:
                assert_int_equal(monitor_start(m, true), 0);
                break;
        case MONITOR_EVENT_STOP:
                assert_int_equal(monitor_stop(m), 0);
                break;
        case MONITOR_EVENT_RESTART:
                assert_int_equal(monitor_restart(m), 0);
                break;
        case MONITOR_EVENT_SHUTDOWN:
                assert_int_equal(monitor_shutdown(m, false), 0);
                break;
        /* From the driver where a run has an instance (a parked one reports nothing); elsewhere
         * no driver can say it, and the cell (act_none) is delivered directly. */
        case MONITOR_EVENT_STARTED:
                if (fake.instance && !fake.parked)
                        workload_started();
                else
                        monitor_dispatch(m, ev);
                break;
        case MONITOR_EVENT_GONE:
                /* What the driver says: before the command ran, it is a setup failure. */
                if (fake.instance && !fake.parked)
                        workload_exits(1, 0, m->state == MONITOR_STARTING);
                else
                        monitor_dispatch(m, ev);
                break;
        case MONITOR_EVENT_TIMEOUT:
                /* Only where a timer is armed can it fire; elsewhere the cell is act_none, and
                 * delivered directly. */
                if (timer_armed(m))
                        timer_fires(m);
                else
                        monitor_dispatch(m, MONITOR_EVENT_TIMEOUT);
                break;
        case _MONITOR_EVENT_MAX:
        case _MONITOR_EVENT_INVALID:
                fail();
        }
}

enum { EXIT = -1 };                                      /* the monitor exits instead of entering a state */
enum { S = 1 << 0, P = 1 << 1, K = 1 << 2, C = 1 << 3 }; /* start, stop, kill, cleanup */

typedef struct Cell {
        MonitorState from;
        MonitorEvent ev;
        int to;           /* MonitorState, or EXIT */
        unsigned calls;   /* of the driver, made by this event */
        MonitorGoal goal; /* after it */
        bool timer;       /* armed after it */
} Cell;

#define ST(x) MONITOR_##x
#define EV(x) MONITOR_EVENT_##x
#define G(x)  MONITOR_GOAL_##x

static const Cell cells[] = {
        /* Nothing runs: requests act at once; the driver's events cannot come. */
        {ST(STOPPED), EV(START), ST(STARTING), S, G(POLICY), false},
        {ST(STOPPED), EV(STOP), ST(STOPPED), 0, G(POLICY), false},
        {ST(STOPPED), EV(RESTART), ST(STARTING), S, G(POLICY), false},
        {ST(STOPPED), EV(SHUTDOWN), EXIT, 0, G(SHUTDOWN), false},
        {ST(STOPPED), EV(STARTED), ST(STOPPED), 0, G(POLICY), false},
        {ST(STOPPED), EV(GONE), ST(STOPPED), 0, G(POLICY), false},
        {ST(STOPPED), EV(TIMEOUT), ST(STOPPED), 0, G(POLICY), false},
        /* The command is not running yet. A setup failure drains like any end, and the policy
         * (on-failure) restarts it. */
        {ST(STARTING), EV(START), ST(STARTING), 0, G(POLICY), false},
        {ST(STARTING), EV(STOP), ST(CANCELLING), P, G(STOP), true},
        {ST(STARTING), EV(RESTART), ST(CANCELLING), P, G(RESTART), true},
        {ST(STARTING), EV(SHUTDOWN), ST(CANCELLING), P, G(SHUTDOWN), true},
        {ST(STARTING), EV(STARTED), ST(RUNNING), 0, G(POLICY), false},
        {ST(STARTING), EV(GONE), ST(BACKOFF), C, G(POLICY), true},
        {ST(STARTING), EV(TIMEOUT), ST(STARTING), 0, G(POLICY), false},
        {ST(RUNNING), EV(START), ST(RUNNING), 0, G(POLICY), false},
        {ST(RUNNING), EV(STOP), ST(STOPPING), P, G(STOP), true},
        {ST(RUNNING), EV(RESTART), ST(STOPPING), P, G(RESTART), true},
        {ST(RUNNING), EV(SHUTDOWN), ST(STOPPING), P, G(SHUTDOWN), true},
        {ST(RUNNING), EV(STARTED), ST(RUNNING), 0, G(POLICY), false},
        {ST(RUNNING), EV(GONE), ST(BACKOFF), C, G(POLICY), true},
        {ST(RUNNING), EV(TIMEOUT), ST(RUNNING), 0, G(POLICY), false},
        /* Stopping (entered by a stop): requests change what follows, the timeout kills, and
         * the stop timer stays the stop's. */
        {ST(STOPPING), EV(START), ST(STOPPING), 0, G(RESTART), true},
        {ST(STOPPING), EV(STOP), ST(STOPPING), 0, G(STOP), true},
        {ST(STOPPING), EV(RESTART), ST(STOPPING), 0, G(RESTART), true},
        {ST(STOPPING), EV(SHUTDOWN), ST(STOPPING), 0, G(SHUTDOWN), true},
        {ST(STOPPING), EV(STARTED), ST(STOPPING), 0, G(STOP), true},
        {ST(STOPPING), EV(GONE), ST(STOPPED), C, G(POLICY), false},
        {ST(STOPPING), EV(TIMEOUT), ST(STOPPING), K, G(STOP), false},
        /* Cancelling (a stop before the command ran): as stopping, except that the command may
         * start after all (then it is stopping, within the same stop timeout), and that its end
         * is no exit of the command (test_stop_while_starting). */
        {ST(CANCELLING), EV(START), ST(CANCELLING), 0, G(RESTART), true},
        {ST(CANCELLING), EV(STOP), ST(CANCELLING), 0, G(STOP), true},
        {ST(CANCELLING), EV(RESTART), ST(CANCELLING), 0, G(RESTART), true},
        {ST(CANCELLING), EV(SHUTDOWN), ST(CANCELLING), 0, G(SHUTDOWN), true},
        {ST(CANCELLING), EV(STARTED), ST(STOPPING), 0, G(STOP), true},
        {ST(CANCELLING), EV(GONE), ST(STOPPED), C, G(POLICY), false},
        {ST(CANCELLING), EV(TIMEOUT), ST(CANCELLING), K, G(STOP), false},
        /* Draining (the workload ended by itself, its cgroup not empty yet): a request changes
         * only the goal; no stop signal (nothing to signal), no stop timeout in place of the
         * cleanup's retry. The timeout retries the cleanup, which succeeds now. */
        {ST(DRAINING), EV(START), ST(DRAINING), 0, G(RESTART), true},
        {ST(DRAINING), EV(STOP), ST(DRAINING), 0, G(STOP), true},
        {ST(DRAINING), EV(RESTART), ST(DRAINING), 0, G(RESTART), true},
        {ST(DRAINING), EV(SHUTDOWN), ST(DRAINING), 0, G(SHUTDOWN), true},
        {ST(DRAINING), EV(STARTED), ST(DRAINING), 0, G(POLICY), true},
        {ST(DRAINING), EV(GONE), ST(DRAINING), 0, G(POLICY), true},
        {ST(DRAINING), EV(TIMEOUT), ST(BACKOFF), C, G(POLICY), true},
        /* Back-off: a request cancels the restart timer; the timer's own start is the policy's. */
        {ST(BACKOFF), EV(START), ST(STARTING), S, G(POLICY), false},
        {ST(BACKOFF), EV(STOP), ST(STOPPED), 0, G(POLICY), false},
        {ST(BACKOFF), EV(RESTART), ST(STARTING), S, G(POLICY), false},
        {ST(BACKOFF), EV(SHUTDOWN), EXIT, 0, G(SHUTDOWN), true},
        {ST(BACKOFF), EV(STARTED), ST(BACKOFF), 0, G(POLICY), true},
        {ST(BACKOFF), EV(GONE), ST(BACKOFF), 0, G(POLICY), true},
        {ST(BACKOFF), EV(TIMEOUT), ST(STARTING), S, G(POLICY), false},
        {ST(EXITED), EV(START), ST(STARTING), S, G(POLICY), false},
        {ST(EXITED), EV(STOP), ST(STOPPED), 0, G(POLICY), false},
        {ST(EXITED), EV(RESTART), ST(STARTING), S, G(POLICY), false},
        {ST(EXITED), EV(SHUTDOWN), EXIT, 0, G(SHUTDOWN), false},
        {ST(EXITED), EV(STARTED), ST(EXITED), 0, G(POLICY), false},
        {ST(EXITED), EV(GONE), ST(EXITED), 0, G(POLICY), false},
        {ST(EXITED), EV(TIMEOUT), ST(EXITED), 0, G(POLICY), false},
        {ST(FAILED), EV(START), ST(STARTING), S, G(POLICY), false},
        {ST(FAILED), EV(STOP), ST(STOPPED), 0, G(POLICY), false},
        {ST(FAILED), EV(RESTART), ST(STARTING), S, G(POLICY), false},
        {ST(FAILED), EV(SHUTDOWN), EXIT, 0, G(SHUTDOWN), false},
        {ST(FAILED), EV(STARTED), ST(FAILED), 0, G(POLICY), false},
        {ST(FAILED), EV(GONE), ST(FAILED), 0, G(POLICY), false},
        {ST(FAILED), EV(TIMEOUT), ST(FAILED), 0, G(POLICY), false},
};

/* Where no run exists a parked one does (the driver's prepare() asserts that they never meet), and
 * none is seen: the status has no pid, `top` finds no instance. */
static void check_parked(const Harness *h) {
        const Monitor *m = h->m;
        bool no_run = m->state == MONITOR_STOPPED || m->state == MONITOR_EXITED || m->state == MONITOR_FAILED ||
                      m->state == MONITOR_BACKOFF;

        if (has_exited(h)) {
                assert_null(fake.instance);
                return;
        }
        assert_int_equal(fake.parked, no_run);
        assert_int_equal(m->parked.instance != NULL, no_run);
        if (no_run) {
                assert_null(m->instance);
                assert_int_equal(m->status.pid, 0);
        } else
                assert_ptr_equal(m->instance, fake.instance);
}

static void every_cell(bool park) {
        bool seen[_MONITOR_STATE_MAX][_MONITOR_EVENT_MAX] = {};

        for (size_t i = 0; i < ELEMENTSOF(cells); i++) {
                const Cell *c = &cells[i];
                Harness h = {};
                Fake before;
                unsigned calls;

                print_message("%s + %s\n", monitor_state_to_string(c->from), monitor_event_to_string(c->ev));
                parking = park;
                harness_open(&h, CELL_UNIT);
                enter(&h, c->from);
                if (park)
                        check_parked(&h);
                before = fake;
                deliver(&h, c->ev);
                if (park)
                        check_parked(&h);
                calls = (fake.starts > before.starts ? S : 0) | (fake.stops > before.stops ? P : 0) |
                        (fake.kills > before.kills ? K : 0) | (fake.cleanups > before.cleanups ? C : 0);
                if (c->to == EXIT)
                        assert_true(has_exited(&h));
                else {
                        assert_false(has_exited(&h));
                        assert_string_equal(monitor_state_to_string(h.m->state), monitor_state_to_string(c->to));
                }
                assert_int_equal(calls, c->calls);
                assert_int_equal(h.m->goal, c->goal);
                assert_int_equal(timer_armed(h.m), c->timer);
                seen[c->from][c->ev] = true;
                harness_close(&h);
                parking = false;
        }
        for (int s = 0; s < _MONITOR_STATE_MAX; s++)
                for (int e = 0; e < _MONITOR_EVENT_MAX; e++)
                        if (!seen[s][e]) {
                                print_error("no cell for %s + %s\n", monitor_state_to_string(s),
                                            monitor_event_to_string(e));
                                fail();
                        }
}

static void test_every_cell(void **state) {
        every_cell(false);
}

/* Issue 14: the same table with the next run made ahead wherever none runs (after the start of
 * the monitor and after every run): no cell changes, a parked instance never meets a run (two
 * instances at once: the driver's prepare() fails), and none is seen as running. */
static void test_every_cell_parked(void **state) {
        every_cell(true);
}

/* Issue 9 item 11: a stop, restart or shutdown that came between the workload's exit and the
 * cleanup of its cgroup re-armed the one timer as a stop timeout; the cleanup was never retried
 * and the instance stayed "stopping" for ever (and supd's replace, a shutdown, waited for ever).
 * Here with the real timer: each request ends where it should once the cgroup empties. */
static void drain_then(MonitorEvent ev, int expected) {
        Harness h = {};
        Monitor *m;

        harness_open(&h, "restart: {policy: \"no\"}\n");
        m = h.m;
        enter(&h, MONITOR_RUNNING);
        fake.not_empty = 3;
        workload_exits(0, 0, false);
        assert_int_equal(m->state, MONITOR_DRAINING);
        assert_int_equal(m->status.state, INSTANCE_STOPPING);
        deliver(&h, ev);
        assert_int_equal(fake.stops, 0);
        RUN_UNTIL(&h, fake.not_empty == 0 && (has_exited(&h) || m->state != MONITOR_DRAINING));
        assert_int_equal(fake.cleanups, 4);
        if (expected == EXIT)
                assert_true(has_exited(&h));
        else
                assert_int_equal(m->state, expected);
        assert_int_equal(fake.starts, expected == MONITOR_STARTING ? 2 : 1);
        harness_close(&h);
}

static void test_stop_while_draining(void **state) {
        drain_then(MONITOR_EVENT_STOP, MONITOR_STOPPED);
}

static void test_restart_while_draining(void **state) {
        drain_then(MONITOR_EVENT_RESTART, MONITOR_STARTING);
}

static void test_shutdown_while_draining(void **state) {
        drain_then(MONITOR_EVENT_SHUTDOWN, EXIT);
}

/* The same window after a stop: the stop timeout passes while the cgroup empties; the cleanup's
 * retries go on and the instance ends stopped. */
static void test_stop_then_slow_cleanup(void **state) {
        Harness h = {};

        harness_open(&h, "stop: {timeout: 1ms}\n");
        enter(&h, MONITOR_STOPPING);
        fake.not_empty = 2;
        workload_exits(-1, SIGTERM, false);
        RUN_UNTIL(&h, h.m->state == MONITOR_STOPPED);
        assert_int_equal(fake.cleanups, 3);
        assert_int_equal(fake.kills, 0);
        harness_close(&h);
}

/* Issue 9 item 17: a hyperv unit stopped while it booted reported exit_signal SIGKILL and "the
 * guest did not stop: ended by QMP quit", although no command had run. A stop before the command
 * started ends the run without an exit of the command, whatever the driver reports, in both
 * isolation modes (the monitor decides, not the driver). */
static void test_stop_while_starting(void **state) {
        Harness h = {};
        Monitor *m;
        usec_t deadline;

        harness_open(&h, "");
        m = h.m;
        enter(&h, MONITOR_CANCELLING);
        assert_int_equal(m->status.state, INSTANCE_STOPPING);
        /* What a driver may report when its stop ended the boot (a VM's QMP quit). */
        workload_exits(-1, SIGKILL, true);
        assert_int_equal(m->state, MONITOR_STOPPED);
        assert_false(m->status.has_exit);
        assert_int_equal(m->status.exit_signal, 0);
        assert_string_equal(m->status.reason, "stopped while starting: the command had not started");
        assert_int_equal(fake.starts, 1);
        harness_close(&h);

        /* The command starts while the stop is on its way: it is the command's stop, with the
         * stop timeout that was already running, and its exit is reported. */
        harness_open(&h, "");
        m = h.m;
        enter(&h, MONITOR_CANCELLING);
        deadline = event_source_get_time(m->timer);
        workload_started();
        assert_int_equal(m->state, MONITOR_STOPPING);
        assert_int_equal(event_source_get_time(m->timer), deadline);
        workload_exits(-1, SIGTERM, false);
        assert_int_equal(m->state, MONITOR_STOPPED);
        assert_true(m->status.has_exit);
        assert_int_equal(m->status.exit_signal, SIGTERM);
        harness_close(&h);
}

/* Issue 9 item 12: the OOM killer ended the workload, the policy restarted it until the start
 * limit: the final status said failed, SIGKILL, oom: false, because the refused start cleared the
 * mark of the run before it. */
static void test_start_limit_keeps_oom(void **state) {
        Harness h = {};
        Monitor *m;

        harness_open(&h, "restart: {policy: on-failure, delay: 1ms, burst: 1, interval: 1h}\n");
        m = h.m;
        enter(&h, MONITOR_RUNNING);
        fake.oom = true;
        workload_exits(-1, SIGKILL, false);
        assert_int_equal(m->state, MONITOR_BACKOFF);
        assert_true(m->status.oom);
        RUN_UNTIL(&h, m->state == MONITOR_FAILED);
        assert_int_equal(fake.starts, 1);
        assert_non_null(strstr(m->status.reason, "start limit hit"));
        assert_true(m->status.oom);
        assert_int_equal(m->status.exit_signal, SIGKILL);
        /* A start that is allowed clears it: the mark belongs to the run it describes. */
        fake.oom = false;
        assert_int_equal(monitor_start(m, true), 0);
        assert_int_equal(m->state, MONITOR_STARTING);
        assert_false(m->status.oom);
        harness_close(&h);
}

/* A start the driver refuses ends the run at once, as a setup failure with the driver's reason:
 * nothing of it is left to drain (its instance freed), and the policy decides. */
static void test_start_fails(void **state) {
        Harness h = {};

        harness_open(&h, "restart: {policy: \"no\"}\n");
        fake.start_result = -EIO;
        assert_int_equal(monitor_start(h.m, true), 0);
        assert_int_equal(h.m->state, MONITOR_FAILED);
        assert_null(h.m->instance);
        assert_null(fake.instance);
        assert_int_equal(fake.frees, 1);
        assert_int_equal(fake.cleanups, 0);
        assert_string_equal(h.m->status.reason, "the fake does not start");
        harness_close(&h);
}

/* The state status.json says. */
static char *file_state(const Harness *h) {
        _cleanup_free_ char *path = path_join(h->dir, "status.json");
        json_t *j = json_load_file(path, 0, NULL);
        char *s;

        assert_non_null(j);
        s = xstrdup(json_string_value(json_object_get(j, "state")));
        json_decref(j);
        return s;
}

#define assert_file_state(h, expected)                   \
        do {                                             \
                _cleanup_free_ char *_s = file_state(h); \
                assert_string_equal(_s, expected);       \
        } while (0)

/* Issue 14: "starting" reaches status.json after the go, not between it and the container's
 * setup: the file keeps the state before (true until the run goes on) and supd has the new one;
 * "running" (or the run's end) is written at once, and so is "starting" after a while. */
static void test_starting_written_later(void **state) {
        Harness h = {};
        Monitor *m;

        harness_open(&h, "restart: {policy: \"no\"}\n");
        m = h.m;
        assert_int_equal(monitor_listen(m), 0);
        assert_file_state(&h, "stopped");
        assert_int_equal(monitor_start(m, true), 0);
        assert_int_equal(m->status.state, INSTANCE_STARTING);
        assert_file_state(&h, "stopped");
        workload_started();
        assert_file_state(&h, "running");
        assert_int_equal(monitor_stop(m), 0);
        assert_file_state(&h, "stopping");
        workload_exits(0, SIGTERM, false);
        assert_file_state(&h, "stopped");
        /* A start that stays starting: the file follows. */
        assert_int_equal(monitor_start(m, true), 0);
        assert_file_state(&h, "stopped");
        RUN_UNTIL(&h, m->status_timer && event_source_get_time(m->status_timer) == USEC_INFINITY);
        assert_file_state(&h, "starting");
        harness_close(&h);
}

/* Issue 14: a start takes the parked instance instead of preparing one (what was made ahead is
 * the run); the restart policy's start after an exit does too; a parked instance whose spec is
 * not the monitor's any more (the init's copy would run the old one) is thrown away and the start
 * is a cold one; one that cannot be parked leaves nothing behind and the start is cold. */
static void test_parked_start(void **state) {
        Harness h = {};
        Monitor *m;

        parking = true;
        harness_open(&h, "restart: {policy: on-failure, delay: 1h, burst: 5, interval: 1h}\n");
        parking = false;
        m = h.m;
        assert_int_equal(fake.prepares, 1);
        assert_int_equal(fake.parks, 1);
        assert_true(fake.parked);
        assert_int_equal(m->state, MONITOR_STOPPED);
        assert_int_equal(monitor_start(m, true), 0);
        assert_int_equal(fake.prepares, 1); /* taken, not made again */
        assert_int_equal(fake.starts, 1);
        assert_null(m->parked.instance);
        workload_started();
        assert_int_equal(m->state, MONITOR_RUNNING);
        /* It fails: the back-off has the next run parked, and its timer takes it. */
        workload_exits(1, 0, false);
        assert_int_equal(m->state, MONITOR_BACKOFF);
        assert_int_equal(fake.prepares, 2);
        assert_true(fake.parked);
        timer_fires(m);
        assert_int_equal(m->state, MONITOR_STARTING);
        assert_int_equal(fake.prepares, 2);
        assert_int_equal(fake.starts, 2);
        workload_started();
        assert_int_equal(monitor_stop(m), 0);
        workload_exits(0, SIGTERM, false);
        assert_int_equal(m->state, MONITOR_STOPPED);
        assert_true(fake.parked);
        /* Made for another spec (a change the start must not miss): thrown away, a cold start. */
        m->parked.hash[0] ^= 1;
        assert_int_equal(monitor_start(m, true), 0);
        assert_int_equal(fake.frees, 3);
        assert_int_equal(fake.prepares, 4);
        assert_int_equal(fake.starts, 3);
        assert_false(fake.parked);
        workload_started();
        assert_int_equal(monitor_stop(m), 0);
        /* The driver cannot park: nothing is left of the attempt, and the start is cold. */
        fake.park_result = -EIO;
        workload_exits(0, SIGTERM, false);
        assert_int_equal(m->state, MONITOR_STOPPED);
        assert_int_equal(fake.parks, 4);
        assert_null(fake.instance);
        assert_null(m->parked.instance);
        assert_null(m->status.reason); /* a quiet attempt: the status says nothing of it */
        assert_int_equal(monitor_start(m, true), 0);
        assert_int_equal(fake.starts, 4);
        assert_int_equal(m->state, MONITOR_STARTING);
        harness_close(&h);
}

/* Issue 14: a shutdown (the unit removed, or supd replacing the monitor) frees the parked instance
 * before the instance directory goes; so does the monitor's end. */
static void test_parked_shutdown(void **state) {
        Harness h = {};

        parking = true;
        harness_open(&h, "");
        parking = false;
        assert_true(fake.parked);
        assert_int_equal(monitor_shutdown(h.m, true), 0);
        assert_true(has_exited(&h));
        assert_null(fake.instance);
        assert_int_equal(fake.frees, 1);
        assert_int_equal(fake.starts, 0);
        harness_close(&h);

        parking = true;
        harness_open(&h, "");
        parking = false;
        assert_true(fake.parked);
        harness_close(&h); /* monitor_free(): asserts the instance is gone */
}

/* A check every 10 ms that turns unhealthy after two failures, on_failure as given, and a
 * restart policy that would never restart by itself. */
#define HEALTH_UNIT(action)                                                                                 \
        "healthcheck: {command: [/bin/check], interval: 10ms, timeout: 1h, retries: 2, on_failure: " action \
        "}\nrestart: {policy: \"no\", delay: 1h, burst: 5, interval: 1h}\n"

/* Runs the checks of a running unit through healthy to unhealthy (a pass, then two failures). */
static void turn_unhealthy(Harness *h) {
        Monitor *m = h->m;

        assert_true(m->status.health.enabled);
        assert_int_equal(m->status.health.state, HEALTH_STARTING);
        RUN_UNTIL(h, fake.exec);
        exec_ends(0);
        assert_int_equal(m->status.health.state, HEALTH_HEALTHY);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(m->status.health.state, HEALTH_HEALTHY);
                RUN_UNTIL(h, fake.exec);
                exec_ends(1);
        }
        assert_int_equal(m->status.health.state, HEALTH_UNHEALTHY);
        assert_int_equal(m->status.health.failing_streak, 2);
}

/* Issue 12: healthcheck.on_failure: restart stops the unhealthy workload and starts it again
 * through the back-off, although restart.policy "no" and the command's clean exit on SIGTERM
 * would restart nothing (a restart that depended on how the command took its stop would be no
 * action on health), and the status says why. */
static void test_health_on_failure_restart(void **state) {
        Harness h = {};
        Monitor *m;

        harness_open(&h, HEALTH_UNIT("restart"));
        m = h.m;
        enter(&h, MONITOR_RUNNING);
        turn_unhealthy(&h);
        assert_int_equal(m->state, MONITOR_STOPPING);
        assert_int_equal(fake.stops, 1);
        assert_null(m->health); /* no check while it stops */
        assert_non_null(strstr(m->status.reason, "health check failed 2 times in a row"));
        workload_exits(0, 0, false);
        assert_int_equal(m->state, MONITOR_BACKOFF);
        assert_true(m->status.next_restart_at > 0);
        timer_fires(m);
        assert_int_equal(m->state, MONITOR_STARTING);
        assert_int_equal(m->status.restarts, 1);
        /* Why, in the status of the run it restarted into. */
        assert_non_null(m->status.restart_reason);
        assert_non_null(strstr(m->status.restart_reason, "healthcheck.on_failure: restart"));
        /* The next run starts over: starting, no streak. */
        workload_started();
        assert_int_equal(m->status.health.state, HEALTH_STARTING);
        assert_int_equal(m->status.health.failing_streak, 0);
        harness_close(&h);
}

/* on_failure: stop is an operator's stop: stopped, not restarted, admin_stopped (supd does not
 * start it again on a reload). */
static void test_health_on_failure_stop(void **state) {
        Harness h = {};

        harness_open(&h, HEALTH_UNIT("stop"));
        enter(&h, MONITOR_RUNNING);
        turn_unhealthy(&h);
        assert_int_equal(h.m->state, MONITOR_STOPPING);
        assert_true(h.m->status.admin_stopped);
        workload_exits(0, 0, false);
        assert_int_equal(h.m->state, MONITOR_STOPPED);
        assert_non_null(strstr(h.m->status.reason, "healthcheck.on_failure: stop"));
        harness_close(&h);
}

/* on_failure: kill is SIGKILL at once (no stop.signal first); the restart policy then decides as
 * for any exit by a signal ("no" here: exited). */
static void test_health_on_failure_kill(void **state) {
        Harness h = {};

        harness_open(&h, HEALTH_UNIT("kill"));
        enter(&h, MONITOR_RUNNING);
        turn_unhealthy(&h);
        assert_int_equal(fake.kills, 1);
        assert_int_equal(fake.stops, 0);
        assert_null(h.m->health);
        workload_exits(-1, SIGKILL, false);
        assert_int_equal(h.m->state, MONITOR_EXITED);
        harness_close(&h);
}

/* on_failure: none only reports: the unit runs on, still checked, and turns healthy again with
 * the next check that passes. A stop cancels the check that runs (no result of it comes into the
 * stopped unit's status). */
static void test_health_on_failure_none(void **state) {
        Harness h = {};

        harness_open(&h, HEALTH_UNIT("none"));
        enter(&h, MONITOR_RUNNING);
        turn_unhealthy(&h);
        assert_int_equal(h.m->state, MONITOR_RUNNING);
        assert_int_equal(fake.stops + fake.kills, 0);
        RUN_UNTIL(&h, fake.exec);
        exec_ends(0);
        assert_int_equal(h.m->status.health.state, HEALTH_HEALTHY);
        RUN_UNTIL(&h, fake.exec);
        assert_int_equal(monitor_stop(h.m), 0);
        assert_int_equal(fake.exec_cancels, 1);
        assert_null(fake.exec);
        harness_close(&h);
}

static void test_string_tables(void **state) {
        for (int s = 0; s < _MONITOR_STATE_MAX; s++)
                assert_int_equal(monitor_state_from_string(monitor_state_to_string(s)), s);
        for (int e = 0; e < _MONITOR_EVENT_MAX; e++)
                assert_int_equal(monitor_event_from_string(monitor_event_to_string(e)), e);
        assert_int_equal(monitor_state_from_string("nonsense"), _MONITOR_STATE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_cell),
                cmocka_unit_test(test_every_cell_parked),
                cmocka_unit_test(test_parked_start),
                cmocka_unit_test(test_starting_written_later),
                cmocka_unit_test(test_parked_shutdown),
                cmocka_unit_test(test_stop_while_draining),
                cmocka_unit_test(test_restart_while_draining),
                cmocka_unit_test(test_shutdown_while_draining),
                cmocka_unit_test(test_stop_then_slow_cleanup),
                cmocka_unit_test(test_start_limit_keeps_oom),
                cmocka_unit_test(test_stop_while_starting),
                cmocka_unit_test(test_start_fails),
                cmocka_unit_test(test_health_on_failure_restart),
                cmocka_unit_test(test_health_on_failure_stop),
                cmocka_unit_test(test_health_on_failure_kill),
                cmocka_unit_test(test_health_on_failure_none),
                cmocka_unit_test(test_string_tables),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
