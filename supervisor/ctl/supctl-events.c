/* SPDX-License-Identifier: MIT */
/* supctl events: supd's event stream (docs/events.md), one line each or JSON lines. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "alloc.h"
#include "event-line.h"
#include "instance.h"
#include "json-conn.h"
#include "log.h"
#include "macro.h"
#include "string-util.h"
#include "supctl.h"
#include "unit-value.h"

/* Without following: the events kept come at once, then the reply. */
#define REPLAY_TIMEOUT (60 * USEC_PER_SEC)

static const char *str(const json_t *o, const char *key, const char *dflt) {
        return json_string_value(json_object_get(o, key)) ?: dflt;
}

static void print_event(const json_t *e, bool json) {
        if (json) {
                json_dumpf(e, stdout, JSON_COMPACT);
                fputc('\n', stdout);
        } else {
                _cleanup_free_ char *line = event_format_line(e);
                puts(line);
        }
        /* Each line as it comes: the reader is often a pipe (grep, a script). */
        fflush(stdout);
}

/* --since and --until: an RFC 3339 time, or a duration before now ("10m"). */
static int parse_time_arg(const char *opt, const char *s, usec_t *ret) {
        usec_t d, t = now(CLOCK_REALTIME);

        if (parse_timestamp(s, ret) >= 0)
                return 0;
        if (parse_duration(s, &d, NULL) >= 0) {
                *ret = d < t ? t - d : 0;
                return 0;
        }
        log_error("events: %s %s: expected an RFC 3339 time (2026-12-06T15:38:12Z) or a duration ago (10m)", opt, s);
        return -EINVAL;
}

int verb_events(int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"unit", required_argument, NULL, 'u'},
                {"since", required_argument, NULL, 's'},
                {"until", required_argument, NULL, 'U'},
                {},
        };
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, used = 0;
        json_t *units = json_array(), *params, *req;
        usec_t since = USEC_INFINITY, until = USEC_INFINITY;
        bool json = false, follow, saw_stop = false;
        int c, r, ret = EXIT_FAILURE;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'u':
                        if (!unit_name_is_valid(optarg)) {
                                log_error("events: --unit %s: not a unit name", optarg);
                                json_decref(units);
                                return EXIT_USAGE;
                        }
                        json_array_append_new(units, json_string(optarg));
                        break;
                case 's':
                case 'U':
                        if (parse_time_arg(c == 's' ? "--since" : "--until", optarg, c == 's' ? &since : &until) < 0) {
                                json_decref(units);
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        json_decref(units);
                        return EXIT_USAGE;
                }
        if (optind < argc) {
                log_error("events: unexpected argument \"%s\"", argv[optind]);
                json_decref(units);
                return EXIT_USAGE;
        }
        /* An end in the past: what was kept up to it, and no following. */
        follow = until == USEC_INFINITY || until > now(CLOCK_REALTIME);

        fd = supd_connect();
        if (fd < 0) {
                json_decref(units);
                return EXIT_FAILURE;
        }
        params = json_pack("{s:o, s:b}", "units", units, "follow", follow);
        if (since != USEC_INFINITY)
                json_object_set_new(params, "since_usec", json_integer((json_int_t) since));
        req = json_pack("{s:i, s:s, s:o}", "id", 1, "method", "events", "params", params);
        r = json_write_frame(fd, req);
        json_decref(req);
        if (r < 0)
                return log_error_errno(r, "events: cannot send the request to supd: %m"), EXIT_FAILURE;

        for (;;) {
                usec_t t = now(CLOCK_REALTIME);
                json_t *msg = NULL, *data;

                if (until != USEC_INFINITY && t >= until && follow)
                        return EXIT_SUCCESS;
                /* Following: until --until. Else the replay comes at once, its end with the reply. */
                r = json_read_frame(fd, &buf, &len, &used, JSON_FRAME_MAX_REPLY,
                                    !follow                  ? REPLAY_TIMEOUT
                                    : until == USEC_INFINITY ? USEC_INFINITY
                                    : until > t              ? until - t
                                                             : 0,
                                    &msg);
                if (r == -ETIMEDOUT && follow)
                        return EXIT_SUCCESS;
                if (r < 0) {
                        /* supd stopping (it said so, and then stopped its units) ends the stream;
                         * anything else is an error. */
                        if (saw_stop)
                                return EXIT_SUCCESS;
                        log_error_errno(r, "events: the connection to supd ended: %m");
                        return EXIT_FAILURE;
                }
                data = json_object_get(msg, "data");
                if (json_object_get(msg, "error")) {
                        log_error("events: %s", str(json_object_get(msg, "error"), "message", "failed"));
                        json_decref(msg);
                        return EXIT_FAILURE;
                }
                if (json_object_get(msg, "result") && !follow) {
                        ret = EXIT_SUCCESS; /* the replay is over, and nothing is followed */
                        json_decref(msg);
                        break;
                }
                if (json_is_object(data) && streq(str(msg, "event", ""), "event")) {
                        usec_t at = 0;
                        if (until != USEC_INFINITY && timestamp_from_json(json_object_get(data, "time"), &at) >= 0 &&
                            at > until) {
                                json_decref(msg);
                                if (follow)
                                        return EXIT_SUCCESS;
                                continue;
                        }
                        saw_stop = saw_stop ||
                                   (streq(str(data, "type", ""), "supd") && streq(str(data, "action", ""), "stop"));
                        print_event(data, json);
                }
                json_decref(msg);
        }
        return ret;
}
