/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "event.h"
#include "macro.h"
#include "sup-error.h"

/* `supd --metrics-listen ADDR`: GET /metrics over HTTP/1.x on supd's loop, for Prometheus.
 *
 * ADDR is a unix socket path (it begins with '/' or '.'; made 0600, or 0660 with the control
 * socket's group; what is there already is replaced only if it is a socket nobody listens on,
 * never a file) or a numeric TCP address, HOST:PORT or [HOST6]:PORT. A TCP address must be a
 * loopback one (127.0.0.0/8, ::1) unless allow_remote (--metrics-allow-remote): the metrics name
 * every unit and what it does, for anyone who can connect, and there is no authentication.
 *
 * What a client can cost, whatever it sends or does not read:
 *  - at most METRICS_HTTP_MAX_CLIENTS at once; one more is accepted, sent a constant 503 without
 *    blocking and closed at once (the listener must not stay readable, the loop spinning);
 *  - a request head of at most METRICS_HTTP_MAX_HEAD bytes (431 past it), read into a buffer of
 *    that size; a body is never read;
 *  - METRICS_HTTP_TIMEOUT for the whole exchange from its accept: the request, and the response
 *    written (a client that never reads is closed then);
 *  - its response: one scrape's text, made once when its request is complete and written without
 *    blocking as the socket takes it. So at most about MAX_CLIENTS scrapes of memory;
 *  - supd's loop: a scrape's text answers every request for METRICS_HTTP_RENDER_SPACING times as
 *    long as it took to make, so that clients asking without a pause (connect, GET, close, again)
 *    take at most a tenth of the loop.
 * Every response says Connection: close, and the connection is closed after it. */

#define METRICS_HTTP_MAX_CLIENTS    16U
#define METRICS_HTTP_MAX_HEAD       (8U * 1024U)
#define METRICS_HTTP_TIMEOUT        (10 * USEC_PER_SEC)
#define METRICS_HTTP_RENDER_SPACING 10U

typedef struct MetricsHttp MetricsHttp;

/* The body of a 200 response to GET /metrics (a new string). */
typedef char *(*MetricsHttpRender)(void *userdata);

typedef struct MetricsAddress {
        struct sockaddr_storage sa; /* AF_UNIX, AF_INET or AF_INET6 */
        socklen_t len;
        bool loopback; /* unix sockets count as local */
} MetricsAddress;

/* Parses ADDR as above. -EINVAL with *ret_why (static text) when it is none of the forms. */
int metrics_address_parse(const char *s, MetricsAddress *ret, const char **ret_why);

/* Parses a request head (what came before the empty line): the status code to answer, 200 for
 * GET or HEAD /metrics; *ret_head_only for HEAD. Pure, for the tests. */
int metrics_http_request_status(const char *head, size_t len, bool *ret_head_only);

int metrics_http_new(Event *e, const char *address, bool allow_remote, gid_t group, MetricsHttpRender render,
                     void *userdata, MetricsHttp **ret, SupError **ret_error);
/* For the tests: another timeout than METRICS_HTTP_TIMEOUT for the clients accepted from now on. */
void metrics_http_set_timeout(MetricsHttp *h, usec_t timeout);
/* Closes every connection; removes the unix socket file if it is still the one it made. */
/* For the tests: spacing instead of METRICS_HTTP_RENDER_SPACING (0: a new text for every request). */
void metrics_http_set_render_spacing(MetricsHttp *h, unsigned spacing);
MetricsHttp *metrics_http_free(MetricsHttp *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricsHttp *, metrics_http_free);
