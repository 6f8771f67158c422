/* SPDX-License-Identifier: MIT */
#include "event.h"

#include <sys/timerfd.h>

#include "alloc.h"
#include "macro.h"

typedef enum SourceType {
        SOURCE_IO,
        SOURCE_TIME,
        SOURCE_SIGNAL,
} SourceType;

struct EventSource {
        Event *event;
        SourceType type;
        bool dead;
        void *userdata;
        EventSource *next;
        union {
                struct {
                        int fd;
                        uint32_t events;
                        EventIoHandler cb;
                } io;
                struct {
                        usec_t when;
                        EventTimeHandler cb;
                } time;
                struct {
                        int sig;
                        EventSignalHandler cb;
                } signal;
        };
};

struct Event {
        int epoll_fd;
        int timer_fd;
        int signal_fd;
        sigset_t sigmask;
        usec_t armed; /* what timer_fd is set to */
        EventSource *sources;
        bool dispatching;
        bool has_dead;
        bool exit_requested;
        int exit_code;
};

/* epoll data for the loop's own fds; sources use their pointer. */
static char timer_tag, signal_tag;

int event_new(Event **ret) {
        _cleanup_(event_freep) Event *e = xzalloc(sizeof(Event));
        struct epoll_event ev = { .events = EPOLLIN };

        e->timer_fd = e->signal_fd = -EBADF;
        e->armed = USEC_INFINITY;
        sigemptyset(&e->sigmask);
        e->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (e->epoll_fd < 0)
                return negative_errno();
        e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (e->timer_fd < 0)
                return negative_errno();
        ev.data.ptr = &timer_tag;
        if (epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, e->timer_fd, &ev) < 0)
                return negative_errno();
        *ret = TAKE_PTR(e);
        return 0;
}

static void source_destroy(EventSource *s) {
        free(s);
}

Event *event_free(Event *e) {
        if (!e)
                return NULL;
        while (e->sources) {
                EventSource *s = e->sources;
                e->sources = s->next;
                source_destroy(s);
        }
        if (e->epoll_fd >= 0)
                close(e->epoll_fd);
        if (e->timer_fd >= 0)
                close(e->timer_fd);
        if (e->signal_fd >= 0)
                close(e->signal_fd);
        free(e);
        return NULL;
}

static EventSource *source_new(Event *e, SourceType type, void *userdata) {
        EventSource *s = xzalloc(sizeof(EventSource));
        s->event = e;
        s->type = type;
        s->userdata = userdata;
        s->next = e->sources;
        e->sources = s;
        return s;
}

int event_add_io(Event *e, EventSource **ret, int fd, uint32_t events, EventIoHandler cb, void *userdata) {
        EventSource *s = source_new(e, SOURCE_IO, userdata);
        struct epoll_event ev = { .events = events, .data.ptr = s };

        s->io.fd = fd;
        s->io.events = events;
        s->io.cb = cb;
        if (epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = negative_errno();
                s->dead = true;
                e->has_dead = true;
                return r;
        }
        if (ret)
                *ret = s;
        return 0;
}

int event_source_set_io_events(EventSource *s, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = s };

        if (s->io.events == events)
                return 0;
        if (epoll_ctl(s->event->epoll_fd, EPOLL_CTL_MOD, s->io.fd, &ev) < 0)
                return negative_errno();
        s->io.events = events;
        return 0;
}

int event_add_time(Event *e, EventSource **ret, usec_t when, EventTimeHandler cb, void *userdata) {
        EventSource *s = source_new(e, SOURCE_TIME, userdata);
        s->time.when = when;
        s->time.cb = cb;
        if (ret)
                *ret = s;
        return 0;
}

void event_source_set_time(EventSource *s, usec_t when) {
        s->time.when = when;
}

usec_t event_source_get_time(const EventSource *s) {
        return s->time.when;
}

int event_add_signal(Event *e, EventSource **ret, int sig, EventSignalHandler cb, void *userdata) {
        EventSource *s;
        sigset_t one;
        int fd;

        sigaddset(&e->sigmask, sig);
        sigemptyset(&one);
        sigaddset(&one, sig);
        if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
                return negative_errno();
        /* -1, exactly, asks for a new signalfd; an existing one gets the wider mask. */
        fd = signalfd(e->signal_fd >= 0 ? e->signal_fd : -1, &e->sigmask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (e->signal_fd < 0) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &signal_tag };
                e->signal_fd = fd;
                if (epoll_ctl(e->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        return negative_errno();
        }
        s = source_new(e, SOURCE_SIGNAL, userdata);
        s->signal.sig = sig;
        s->signal.cb = cb;
        if (ret)
                *ret = s;
        return 0;
}

EventSource *event_source_free(EventSource *s) {
        if (!s || s->dead)
                return NULL;
        if (s->type == SOURCE_IO)
                (void) epoll_ctl(s->event->epoll_fd, EPOLL_CTL_DEL, s->io.fd, NULL);
        /* Freed after the current dispatch round: epoll may still hold an event for it. */
        s->dead = true;
        s->event->has_dead = true;
        return NULL;
}

static void sweep(Event *e) {
        EventSource **p = &e->sources;

        if (!e->has_dead)
                return;
        while (*p) {
                EventSource *s = *p;
                if (s->dead) {
                        *p = s->next;
                        source_destroy(s);
                } else
                        p = &s->next;
        }
        e->has_dead = false;
}

static usec_t next_deadline(Event *e) {
        usec_t min = USEC_INFINITY;
        for (EventSource *s = e->sources; s; s = s->next)
                if (!s->dead && s->type == SOURCE_TIME && s->time.when < min)
                        min = s->time.when;
        return min;
}

static int arm_timer(Event *e, usec_t when) {
        struct itimerspec its = {};

        if (when == e->armed)
                return 0;
        if (when != USEC_INFINITY) {
                /* 0 would disarm: a deadline in the past fires at once instead. */
                usec_t t = MAX(when, (usec_t) 1);
                its.it_value.tv_sec = (time_t) (t / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (t % USEC_PER_SEC * 1000);
        }
        if (timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                return negative_errno();
        e->armed = when;
        return 0;
}

static void dispatch_timers(Event *e) {
        usec_t n = now(CLOCK_MONOTONIC);
        uint64_t expirations;

        (void) !read(e->timer_fd, &expirations, sizeof(expirations));
        e->armed = USEC_INFINITY;
        /* A handler may add timers; new ones go to the head of the list and wait for the next round. */
        for (EventSource *s = e->sources; s; s = s->next) {
                if (s->dead || s->type != SOURCE_TIME || s->time.when > n)
                        continue;
                s->time.when = USEC_INFINITY;
                s->time.cb(s, n, s->userdata);
                if (e->exit_requested)
                        return;
        }
}

static void dispatch_signals(Event *e) {
        struct signalfd_siginfo si;

        while (read(e->signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                for (EventSource *s = e->sources; s; s = s->next)
                        if (!s->dead && s->type == SOURCE_SIGNAL && s->signal.sig == (int) si.ssi_signo) {
                                s->signal.cb(s, &si, s->userdata);
                                break;
                        }
                if (e->exit_requested)
                        return;
        }
}

int event_run(Event *e, usec_t timeout) {
        struct epoll_event events[32];
        usec_t deadline = next_deadline(e);
        int n, ms = -1, r;

        sweep(e);
        r = arm_timer(e, deadline);
        if (r < 0)
                return r;
        if (timeout != USEC_INFINITY)
                ms = (int) MIN(timeout / USEC_PER_MSEC, (usec_t) INT32_MAX);

        n = epoll_wait(e->epoll_fd, events, (int) ELEMENTSOF(events), ms);
        if (n < 0)
                return errno == EINTR ? 0 : negative_errno();

        e->dispatching = true;
        for (int i = 0; i < n && !e->exit_requested; i++) {
                void *p = events[i].data.ptr;
                if (p == &timer_tag)
                        dispatch_timers(e);
                else if (p == &signal_tag)
                        dispatch_signals(e);
                else {
                        EventSource *s = p;
                        if (!s->dead)
                                s->io.cb(s, s->io.fd, events[i].events, s->userdata);
                }
        }
        e->dispatching = false;
        sweep(e);
        return 0;
}

int event_loop(Event *e) {
        e->exit_requested = false;
        while (!e->exit_requested) {
                int r = event_run(e, USEC_INFINITY);
                if (r < 0)
                        return r;
        }
        return e->exit_code;
}

void event_exit(Event *e, int code) {
        e->exit_requested = true;
        e->exit_code = code;
}
