/* SPDX-License-Identifier: MIT */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "time-util.h"

/* One thread, one loop: epoll over fds, one timerfd on CLOCK_MONOTONIC for every timer, and one
 * signalfd for every signal. Nothing sleeps; every wait is epoll_wait() with the next deadline.
 * A handler may free any source, its own included, and add new ones. */

typedef struct Event Event;
typedef struct EventSource EventSource;

typedef void (*EventIoHandler)(EventSource *s, int fd, uint32_t revents, void *userdata);
typedef void (*EventTimeHandler)(EventSource *s, usec_t now, void *userdata);
typedef void (*EventSignalHandler)(EventSource *s, const struct signalfd_siginfo *si, void *userdata);

int event_new(Event **ret);
Event *event_free(Event *e); /* frees every source still attached */
static inline void event_freep(Event **e) {
        event_free(*e);
}

/* Watches fd (not owned) for events (EPOLLIN, EPOLLOUT...). */
int event_add_io(Event *e, EventSource **ret, int fd, uint32_t events, EventIoHandler cb, void *userdata);
int event_source_set_io_events(EventSource *s, uint32_t events);

/* A one-shot timer at an absolute CLOCK_MONOTONIC time; USEC_INFINITY disarms it. After it fires
 * it stays disarmed until set again. */
int event_add_time(Event *e, EventSource **ret, usec_t when, EventTimeHandler cb, void *userdata);
void event_source_set_time(EventSource *s, usec_t when);
usec_t event_source_get_time(const EventSource *s);

/* Blocks sig for the process and delivers it through the loop's signalfd. */
int event_add_signal(Event *e, EventSource **ret, int sig, EventSignalHandler cb, void *userdata);

/* Detaches and frees the source; safe inside any handler. Returns NULL. */
EventSource *event_source_free(EventSource *s);
static inline void event_source_freep(EventSource **s) {
        event_source_free(*s);
}

/* Runs until event_exit(); returns its code, or -errno if waiting failed. */
int event_loop(Event *e);
/* Runs one iteration, waiting at most timeout (USEC_INFINITY: until something happens). */
int event_run(Event *e, usec_t timeout);
void event_exit(Event *e, int code);
