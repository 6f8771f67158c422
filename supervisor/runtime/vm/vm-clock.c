/* SPDX-License-Identifier: MIT */
#include "vm-clock.h"

#include "alloc.h"
#include "guest-proto.h"
#include "macro.h"
#include "time-util.h"

struct VmClock {
        Event *event;
        VmClockOwner owner;
        EventSource *timer;
        int64_t pending_t1;              /* the t1 of the exchange under way, 0 when none */
        int64_t delays[VM_CLOCK_FILTER]; /* the last samples' round trips, used or not */
        size_t n_delays;
        bool synced; /* the first correction was sent */
        bool stopped;
};

/* The shortest round trip of the last VM_CLOCK_FILTER samples, this one's (delay) among them. A
 * window, not the shortest ever: on a host that has become busier, the samples must still be used. */
static int64_t shortest_delay(VmClock *c, int64_t delay) {
        int64_t m = delay;

        c->delays[c->n_delays++ % VM_CLOCK_FILTER] = delay;
        for (size_t i = 0; i < MIN(c->n_delays, (size_t) VM_CLOCK_FILTER); i++)
                m = MIN(m, c->delays[i]);
        return m;
}

static void exchange(VmClock *c) {
        if (c->stopped)
                return;
        /* An exchange left unanswered is forgotten: its answer, should it come, matches no t1. */
        c->pending_t1 = guest_clock_now();
        c->owner.send(guest_clock_to_json(c->pending_t1), c->owner.userdata);
}

static usec_t interval(const VmClock *c) {
        return c->owner.interval ?: VM_CLOCK_INTERVAL;
}

static void next_in(VmClock *c, usec_t relative);

static void on_timer(EventSource *s, usec_t t, void *userdata) {
        VmClock *c = userdata;

        exchange(c);
        /* Until the answer sets the next one: a lost or garbled answer does not end the sync. */
        next_in(c, interval(c));
}

static void next_in(VmClock *c, usec_t relative) {
        usec_t when = now(CLOCK_MONOTONIC) + relative;

        if (c->stopped)
                return;
        if (!c->timer)
                (void) event_add_time(c->event, &c->timer, when, on_timer, c);
        else
                event_source_set_time(c->timer, when);
}

VmClock *vm_clock_new(Event *e, const VmClockOwner *owner) {
        VmClock *c = xzalloc(sizeof(VmClock));

        c->event = e;
        c->owner = *owner;
        return c;
}

VmClock *vm_clock_free(VmClock *c) {
        if (!c)
                return NULL;
        event_source_free(c->timer);
        free(c);
        return NULL;
}

void vm_clock_hello(VmClock *c) {
        if (!c->synced)
                exchange(c);
}

void vm_clock_running(VmClock *c) {
        next_in(c, interval(c));
}

static void synced(VmClock *c) {
        if (c->synced)
                return;
        c->synced = true;
        c->owner.synced(c->owner.userdata);
}

void vm_clock_event(VmClock *c, const json_t *msg) {
        GuestClockSample s = {.t4 = guest_clock_now()};
        int64_t offset, delay;
        GuestClockAction a;

        if (c->pending_t1 != 0 && guest_clock_event_from_json(msg, &s) < 0) {
                /* Its exchange is over; the timer makes the next. At boot the run command goes
                 * without the correction rather than wait for the boot timeout. */
                c->pending_t1 = 0;
                c->owner.note("clock: the guest's agent sent a garbled answer; ignored", c->owner.userdata);
                synced(c);
                return;
        }
        if (c->pending_t1 == 0 || s.t1 != c->pending_t1) {
                c->owner.note("clock: the guest's agent sent an answer to no exchange; ignored", c->owner.userdata);
                return;
        }
        c->pending_t1 = 0;
        if (guest_clock_sample(&s, &offset, &delay) < 0) {
                /* The host's clock was stepped during the exchange: the next one will do (at boot,
                 * the one after "started"; the run command does not wait for it). */
                if (c->synced)
                        next_in(c, VM_CLOCK_RETRY);
                synced(c);
                return;
        }
        a = guest_clock_decide(offset, delay, shortest_delay(c, delay), !c->synced);
        if (a != GUEST_CLOCK_SKIP)
                c->owner.send(guest_clock_adjust_to_json(offset, a == GUEST_CLOCK_STEP), c->owner.userdata);
        if (!c->synced || a == GUEST_CLOCK_STEP || c->owner.verbose) {
                _cleanup_free_ char *line =
                        xasprintf("clock: the guest's was %+.3f ms off the host's (round trip %.3f ms): %s",
                                  (double) offset / 1e6, (double) delay / 1e6,
                                  a == GUEST_CLOCK_STEP   ? "set"
                                  : a == GUEST_CLOCK_SLEW ? "slewed"
                                                          : "not used, a slow one");
                c->owner.note(line, c->owner.userdata);
        }
        /* Before "started" the next exchange waits for vm_clock_running(). */
        if (c->synced)
                next_in(c, a == GUEST_CLOCK_SKIP ? VM_CLOCK_RETRY : interval(c));
        synced(c);
}

bool vm_clock_refused(VmClock *c) {
        if (c->synced || c->pending_t1 == 0)
                return false;
        c->pending_t1 = 0;
        c->owner.note("clock: the guest's init does not keep time (an initramfs older than supd?): its clock "
                      "stays the emulated RTC's, up to a second off",
                      c->owner.userdata);
        c->stopped = true;
        synced(c);
        return true;
}

void vm_clock_stop(VmClock *c) {
        c->stopped = true;
        c->pending_t1 = 0;
        if (c->timer)
                event_source_set_time(c->timer, USEC_INFINITY);
}
