/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "event.h"
#include "metrics-http.h"
#include "metrics.h"
#include "socket-util.h"
#include "string-util.h"

/* ---- the format (metrics.h): pure, JSON in, text out ---- */

static bool has_line(const char *text, const char *line) {
        size_t n = strlen(line);
        for (const char *p = text; (p = strstr(p, line)); p += n)
                if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
                        return true;
        return false;
}

#define assert_line(text, line)                                                     \
        do {                                                                        \
                if (!has_line((text), (line))) {                                    \
                        print_error("missing line: %s\nin:\n%s\n", (line), (text)); \
                        fail();                                                     \
                }                                                                   \
        } while (0)

static void test_escape_label(void **state) {
        _cleanup_free_ char *a = metrics_escape_label("plain"), *b = metrics_escape_label("a\\b\"c\nd"),
                            *c = metrics_escape_label("");

        /* A quote left as it is would end the value early: a sample of another series, or a
         * parse error for the whole scrape. */
        assert_string_equal(a, "plain");
        assert_string_equal(b, "a\\\\b\\\"c\\nd");
        assert_string_equal(c, "");
}

static json_t *units_fixture(void) {
        json_error_t err;
        json_t *j = json_loads(
                "["
                " {\"name\": \"web\", \"isolation\": \"process\", \"state\": \"running\", \"restarts\": 2,"
                "  \"exit_code\": 7, \"exit_signal\": null, \"oom\": false, \"started_at\": "
                "\"2026-11-22T16:27:01.500Z\","
                "  \"health\": {\"status\": \"healthy\", \"failing_streak\": 0},"
                "  \"usage\": {\"cpu_usec\": 5583890, \"monitor_cpu_usec\": 62500, \"memory_bytes\": 12345,"
                "             \"memory_max\": null, \"pids\": 3, \"pids_max\": 64},"
                "  \"network\": {\"receive_bytes\": 100, \"transmit_bytes\": 200}, \"start_usec\": 21500},"
                /* An instance of web on its way out, after the generation's: not a second series. */
                " {\"name\": \"web\", \"isolation\": \"process\", \"state\": \"stopping\", \"restarts\": 47},"
                " {\"name\": \"vm\\\"1\", \"isolation\": \"hyperv\", \"state\": \"backoff\", \"restarts\": 0,"
                "  \"exit_code\": null, \"exit_signal\": \"SIGKILL\", \"oom\": true, \"started_at\": null,"
                "  \"health\": null, \"usage\": null, \"vm\": {\"memory\": 268435456, \"vcpus\": 2}}"
                "]",
                0, &err);
        assert_non_null(j);
        return j;
}

static void test_format_units(void **state) {
        _cleanup_(json_decrefp) json_t *units = units_fixture();
        MetricsDaemon d = {.reloads = 3,
                           .reloads_refused = 1,
                           .cpu_seconds = -1,
                           .resident_bytes = UINT64_MAX,
                           .open_fds = UINT64_MAX,
                           .max_fds = UINT64_MAX};
        _cleanup_free_ char *text = NULL;

        d.monitors[LIFE_UP] = 2;
        text = metrics_format(units, &d);

        /* One-hot state: every state's series, 1 for the unit's. */
        assert_line(text, "sup_unit_state{unit=\"web\",isolation=\"process\",state=\"running\"} 1");
        assert_line(text, "sup_unit_state{unit=\"web\",isolation=\"process\",state=\"stopping\"} 0");
        assert_line(text, "sup_unit_state{unit=\"vm\\\"1\",isolation=\"hyperv\",state=\"backoff\"} 1");
        assert_line(text, "sup_unit_state{unit=\"vm\\\"1\",isolation=\"hyperv\",state=\"unresponsive\"} 0");
        /* The retiring instance of web is not shown: its restarts would be a duplicate series. */
        assert_line(text, "sup_unit_restarts_total{unit=\"web\",isolation=\"process\"} 2");
        assert_null(strstr(text, "} 47\n"));
        assert_line(text, "sup_unit_health{unit=\"web\",isolation=\"process\",state=\"healthy\"} 1");
        assert_line(text, "sup_unit_health{unit=\"web\",isolation=\"process\",state=\"unhealthy\"} 0");
        assert_null(strstr(text, "sup_unit_health{unit=\"vm"));
        /* Base units: seconds and bytes, in their shortest exact form (5583890 us times 1e-6 would
         * print 5.583889999999999). */
        assert_line(text, "sup_unit_cpu_seconds_total{unit=\"web\",isolation=\"process\"} 5.58389");
        assert_line(text, "sup_unit_monitor_cpu_seconds_total{unit=\"web\",isolation=\"process\"} 0.0625");
        assert_line(text, "sup_unit_start_duration_seconds{unit=\"web\",isolation=\"process\"} 0.0215");
        assert_line(text, "sup_unit_start_time_seconds{unit=\"web\",isolation=\"process\"} 1795364821.5");
        assert_line(text, "sup_unit_memory_bytes{unit=\"web\",isolation=\"process\"} 12345");
        assert_line(text, "sup_unit_pids_limit{unit=\"web\",isolation=\"process\"} 64");
        /* A figure the host does not have is left out, not shown as 0. */
        assert_null(strstr(text, "sup_unit_memory_limit_bytes{"));
        assert_null(strstr(text, "sup_unit_cpu_seconds_total{unit=\"vm"));
        assert_line(text, "sup_unit_network_receive_bytes_total{unit=\"web\",isolation=\"process\"} 100");
        assert_line(text, "sup_unit_network_transmit_bytes_total{unit=\"web\",isolation=\"process\"} 200");
        /* An exit, or a signal, never both. */
        assert_line(text, "sup_unit_last_exit_code{unit=\"web\",isolation=\"process\"} 7");
        assert_line(text, "sup_unit_last_exit_signal{unit=\"vm\\\"1\",isolation=\"hyperv\"} 9");
        assert_null(strstr(text, "sup_unit_last_exit_code{unit=\"vm"));
        assert_line(text, "sup_unit_oom_killed{unit=\"vm\\\"1\",isolation=\"hyperv\"} 1");
        assert_line(text, "sup_unit_vm_guest_memory_bytes{unit=\"vm\\\"1\",isolation=\"hyperv\"} 268435456");
        assert_line(text, "sup_unit_vm_vcpus{unit=\"vm\\\"1\",isolation=\"hyperv\"} 2");

        /* supd's: units by state counted once per unit. */
        assert_line(text, "sup_units{state=\"running\"} 1");
        assert_line(text, "sup_units{state=\"stopping\"} 0");
        assert_line(text, "sup_units{state=\"backoff\"} 1");
        assert_line(text, "sup_reloads_total 3");
        assert_line(text, "sup_reloads_refused_total 1");
        assert_line(text, "sup_monitors{life=\"up\"} 2");
        assert_line(text, "sup_monitors{life=\"retiring\"} 0");
        /* Not read: left out. */
        assert_null(strstr(text, "process_cpu_seconds_total "));
        /* Every family has its HELP and TYPE. */
        assert_line(text, "# TYPE sup_unit_restarts_total counter");
        assert_non_null(strstr(text, "# HELP sup_unit_restarts_total "));
        assert_line(text, "# TYPE sup_control_request_duration_seconds histogram");
}

static void test_requests_histogram(void **state) {
        MetricsRequests r = {};
        MetricsDaemon d = {.requests = &r, .cpu_seconds = 1.5, .resident_bytes = 4096, .open_fds = 7, .max_fds = 1024};
        _cleanup_(json_decrefp) json_t *units = json_array();
        _cleanup_free_ char *text = NULL;

        metrics_requests_note(&r, "status", 50);
        metrics_requests_note(&r, "status", 3000);
        metrics_requests_note(&r, "status", 5 * USEC_PER_SEC); /* beyond the last bucket: +Inf only */
        metrics_requests_note(&r, NULL, 10);                   /* no method of the table */
        text = metrics_format(units, &d);
        metrics_requests_done(&r);

        /* Cumulative buckets, +Inf equal to the count, the sum in seconds. */
        assert_line(text, "sup_control_request_duration_seconds_bucket{method=\"status\",le=\"0.0001\"} 1");
        assert_line(text, "sup_control_request_duration_seconds_bucket{method=\"status\",le=\"0.0025\"} 1");
        assert_line(text, "sup_control_request_duration_seconds_bucket{method=\"status\",le=\"0.005\"} 2");
        assert_line(text, "sup_control_request_duration_seconds_bucket{method=\"status\",le=\"1\"} 2");
        assert_line(text, "sup_control_request_duration_seconds_bucket{method=\"status\",le=\"+Inf\"} 3");
        assert_line(text, "sup_control_request_duration_seconds_count{method=\"status\"} 3");
        assert_line(text, "sup_control_request_duration_seconds_sum{method=\"status\"} 5.00305");
        assert_line(text, "sup_control_request_duration_seconds_count{method=\"other\"} 1");
        assert_line(text, "process_cpu_seconds_total 1.5");
        assert_line(text, "process_open_fds 7");
        /* No units: every state's count is there, at 0. */
        assert_line(text, "sup_units{state=\"running\"} 0");
}

/* ---- the HTTP endpoint (metrics-http.h) ---- */

static void test_request_status(void **state) {
        static const struct {
                const char *head;
                int status;
                bool head_only;
        } cases[] = {
                {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
                {"GET /metrics HTTP/1.0\r\n\r\n", 200, false},
                {"HEAD /metrics HTTP/1.1\r\n\r\n", 200, true},
                {"GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 200, false},
                {"GET /metricsx HTTP/1.1\r\n\r\n", 404, false},
                {"GET / HTTP/1.1\r\n\r\n", 404, false},
                {"POST /metrics HTTP/1.1\r\n\r\n", 405, false},
                {"DELETE / HTTP/1.1\r\n\r\n", 405, false},
                {"GET /metrics HTTP/2.0\r\n\r\n", 400, false},
                {"GET /metrics\r\n\r\n", 400, false},
                {"GET  /metrics HTTP/1.1\r\n\r\n", 400, false},
                {"get /metrics HTTP/1.1\r\n\r\n", 400, false},
                {"\x16\x03\x01\x02\x00\x01\x00\n\n", 400, false}, /* a TLS hello */
                {"GET /metrics HTTP/1.1 extra\r\n\r\n", 400, false},
        };
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                bool head_only;
                int status = metrics_http_request_status(cases[k].head, strlen(cases[k].head), &head_only);
                if (status != cases[k].status || head_only != cases[k].head_only) {
                        print_error("%s: %d, expected %d\n", cases[k].head, status, cases[k].status);
                        fail();
                }
        }
}

static void test_address_parse(void **state) {
        static const struct {
                const char *address;
                int r;
                int family;
                bool loopback;
        } cases[] = {
                {"127.0.0.1:9810", 0, AF_INET, true},
                {"127.1.2.3:1", 0, AF_INET, true},
                {"0.0.0.0:9810", 0, AF_INET, false},
                {"10.0.0.1:80", 0, AF_INET, false},
                {"[::1]:9810", 0, AF_INET6, true},
                {"[::ffff:127.0.0.1]:9810", 0, AF_INET6, true},
                {"[::]:9810", 0, AF_INET6, false},
                {"/run/sup/metrics.sock", 0, AF_UNIX, true},
                {"./metrics.sock", 0, AF_UNIX, true},
                {"localhost:9810", -EINVAL, 0, false}, /* no name lookups */
                {"127.0.0.1", -EINVAL, 0, false},
                {"127.0.0.1:0", -EINVAL, 0, false},
                {"127.0.0.1:65536", -EINVAL, 0, false},
                {"127.0.0.1:80x", -EINVAL, 0, false},
                /* strtoul() takes these; a port is digits. The last one would be port 1. */
                {"127.0.0.1:+80", -EINVAL, 0, false},
                {"127.0.0.1: 80", -EINVAL, 0, false},
                {"127.0.0.1:-18446744073709551615", -EINVAL, 0, false},
                {"::1:9810", -EINVAL, 0, false},
                {"[::1]9810", -EINVAL, 0, false},
                {"", -EINVAL, 0, false},
        };
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                MetricsAddress a;
                const char *why = NULL;
                int r = metrics_address_parse(cases[k].address, &a, &why);
                if (r != cases[k].r ||
                    (r == 0 && (a.sa.ss_family != cases[k].family || a.loopback != cases[k].loopback))) {
                        print_error("%s: %d (%s)\n", cases[k].address, r, why ?: "");
                        fail();
                }
                if (r < 0)
                        assert_non_null(why);
        }
}

static char *tmpdir;
static size_t render_size = 64;
static unsigned renders;

static char *render(void *userdata) {
        char *s = xmalloc(render_size + 1);
        memset(s, 'm', render_size);
        s[render_size] = 0;
        renders++;
        return s;
}

static void pump(Event *e, unsigned n) {
        while (n-- > 0)
                assert_true(event_run(e, 0) >= 0);
}

static int connect_client(const char *path) {
        int fd = unix_connect(path, true);
        assert_true(fd >= 0);
        return fd;
}

/* What the server sent until it closed, read while the loop runs; NULL if it did not close. */
static char *exchange(Event *e, int fd, const char *request) {
        size_t size = 0, cap = 4 * 1024 * 1024;
        char *buf = xmalloc(cap + 1);

        if (request)
                assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t) strlen(request));
        for (unsigned k = 0; k < 5000; k++) {
                ssize_t n;
                (void) event_run(e, 1000);
                n = recv(fd, buf + size, cap - size, MSG_DONTWAIT);
                if (n == 0) {
                        buf[size] = 0;
                        return buf;
                }
                if (n > 0)
                        size += (size_t) n;
                else
                        assert_int_equal(errno, EAGAIN);
                assert_true(size < cap);
        }
        free(buf);
        return NULL;
}

static void test_http(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/metrics.sock", tmpdir);
        _cleanup_free_ char *ok = NULL, *head = NULL, *notfound = NULL, *garbage = NULL;
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        Event *e = NULL;
        char *long_head = xmalloc(METRICS_HTTP_MAX_HEAD + 1);
        int fd;

        assert_int_equal(event_new(&e), 0);
        /* A non-loopback address is refused without allow_remote, before anything listens. */
        assert_int_equal(metrics_http_new(e, "0.0.0.0:1", false, (gid_t) -1, render, NULL, &h, &error), -EPERM);
        assert_non_null(strstr(sup_error_message(error), "--metrics-allow-remote"));
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h, NULL), 0);

        fd = connect_client(path);
        ok = exchange(e, fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        close(fd);
        assert_non_null(ok);
        assert_non_null(strstr(ok, "HTTP/1.1 200 OK\r\n"));
        assert_non_null(strstr(ok, "Content-Type: text/plain; version=0.0.4"));
        assert_non_null(strstr(ok, "Content-Length: 64\r\n"));
        assert_non_null(strstr(ok, "Connection: close\r\n"));
        assert_non_null(strstr(ok, "\r\n\r\nmmmm"));

        fd = connect_client(path);
        head = exchange(e, fd, "HEAD /metrics HTTP/1.0\n\n");
        close(fd);
        assert_non_null(head);
        assert_true(strlen(head) > 4 && streq(head + strlen(head) - 4, "\r\n\r\n"));

        fd = connect_client(path);
        notfound = exchange(e, fd, "GET /other HTTP/1.1\r\n\r\n");
        close(fd);
        assert_non_null(notfound);
        assert_non_null(strstr(notfound, "HTTP/1.1 404 "));

        /* Garbage gets a 400, and the connection goes. */
        fd = connect_client(path);
        garbage = exchange(e, fd, "\x16\x03\x01 hello\r\n\r\n");
        close(fd);
        assert_non_null(garbage);
        assert_non_null(strstr(garbage, "HTTP/1.1 400 "));

        /* A head that never ends: 431 once the buffer is full, not a growing buffer. */
        memset(long_head, 'A', METRICS_HTTP_MAX_HEAD);
        long_head[METRICS_HTTP_MAX_HEAD] = 0;
        fd = connect_client(path);
        free(garbage);
        garbage = exchange(e, fd, long_head);
        close(fd);
        assert_non_null(garbage);
        assert_non_null(strstr(garbage, "HTTP/1.1 431 "));
        free(long_head);

        metrics_http_free(TAKE_PTR(h));
        (void) event_free(e);
}

/* The exchange on fd, which is closed: a 200 (the text, to free). */
static char *served(Event *e, int fd, const char *request) {
        char *text = exchange(e, fd, request);

        close(fd);
        assert_non_null(text);
        assert_non_null(strstr(text, "HTTP/1.1 200 OK\r\n"));
        return text;
}

/* Clients that ask one after the other without a pause share a text made once, until it is
 * older than the spacing times its cost: a loop on connect, GET, close from anyone who can
 * connect rendered a scrape each time, and kept supd's loop busy with nothing else. */
static void test_http_render_spacing(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/metrics-spacing.sock", tmpdir);
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL;
        Event *e = NULL;

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h, NULL), 0);
        /* Made to cost a moment, spaced widely: the requests below come well within. */
        render_size = 1024 * 1024;
        metrics_http_set_render_spacing(h, 1000000);
        renders = 0;
        for (unsigned k = 0; k < 3; k++)
                free(served(e, connect_client(path), "GET /metrics HTTP/1.1\r\n\r\n"));
        assert_int_equal(renders, 1);
        /* Without spacing, each its own. */
        metrics_http_set_render_spacing(h, 0);
        free(served(e, connect_client(path), "GET /metrics HTTP/1.1\r\n\r\n"));
        free(served(e, connect_client(path), "GET /metrics HTTP/1.1\r\n\r\n"));
        assert_int_equal(renders, 3);
        metrics_http_free(TAKE_PTR(h));
        (void) event_free(e);
}

/* A request in pieces, one byte per read, and a head that ends in "\n\r\n": the end of the head
 * is found where it arrives, whatever came before (a mix of line ends was never answered, the
 * client waiting out the timeout). */
static void test_http_split_request(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/metrics-split.sock", tmpdir);
        _cleanup_free_ char *split = NULL, *mixed = NULL;
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL;
        const char *request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r";
        Event *e = NULL;
        int fd;

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h, NULL), 0);
        render_size = 64;

        /* The head's last byte comes with a second, pipelined request: that one is dropped with
         * the connection, not answered. */
        fd = connect_client(path);
        for (const char *p = request; *p; p++) {
                assert_int_equal(send(fd, p, 1, MSG_NOSIGNAL), 1);
                pump(e, 2);
        }
        split = served(e, fd, "\nGET /other HTTP/1.1\r\n");
        assert_null(strstr(split, "404"));
        mixed = served(e, connect_client(path), "GET /metrics HTTP/1.0\nHost: x\n\r\n");

        metrics_http_free(TAKE_PTR(h));
        (void) event_free(e);
}

static void write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static bool file_is(const char *path, const char *text) {
        char buf[64] = {};
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        return n >= 0 && streq(buf, text);
}

/* --metrics-listen PATH is typed by hand: supd replaces a stale socket there, but never deletes a
 * file (unix_listen() unlinks whatever is at the path), never takes over a live socket (its own
 * control socket, another supd's, the same path twice), and at its end removes only the socket it
 * made. */
static void test_http_socket_path(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/metrics-path", tmpdir), *ok = NULL;
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL, *h2 = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        struct sockaddr_un sa;
        socklen_t len;
        Event *e = NULL;
        int fd;

        assert_int_equal(event_new(&e), 0);

        /* A file: left as it is, and supd says why it does not start. */
        write_file(path, "precious\n");
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h, &error), -EEXIST);
        assert_non_null(strstr(sup_error_message(error), "not a socket"));
        assert_true(file_is(path, "precious\n"));
        assert_int_equal(unlink(path), 0);

        /* A stale socket (bound, its process gone without unlinking it): replaced. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(sockaddr_un_set(&sa, path, &len), 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, len), 0);
        close(fd);
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h, NULL), 0);

        /* A live socket: refused, and the one listening keeps it. */
        sup_error_free(TAKE_PTR(error));
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h2, &error), -EADDRINUSE);
        assert_null(h2);
        render_size = 64;
        ok = served(e, connect_client(path), "GET /metrics HTTP/1.1\r\n\r\n");

        /* Its path taken by a file meanwhile: the end leaves that file alone. */
        assert_int_equal(unlink(path), 0);
        write_file(path, "another\n");
        metrics_http_free(TAKE_PTR(h));
        assert_true(file_is(path, "another\n"));
        assert_int_equal(unlink(path), 0);
        (void) event_free(e);
}

/* [::ffff:127.0.0.1]:PORT counts as loopback, and must then also listen (a v6-only socket cannot
 * bind a v4-mapped address: supd refused to start with EINVAL); IPv4 clients reach it. */
static void test_http_v4_mapped(void **state) {
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        _cleanup_free_ char *ok = NULL;
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(in);
        Event *e = NULL;
        int r = -EADDRINUSE, fd;

        assert_int_equal(event_new(&e), 0);
        /* A port free a moment ago; taken since by another (rarely): another one. */
        for (unsigned k = 0; k < 10 && r == -EADDRINUSE; k++) {
                _cleanup_free_ char *address = NULL;
                in.sin_port = 0;
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_true(fd >= 0);
                assert_int_equal(bind(fd, (struct sockaddr *) &in, sizeof(in)), 0);
                assert_int_equal(getsockname(fd, (struct sockaddr *) &in, &len), 0);
                close(fd);
                address = xasprintf("[::ffff:127.0.0.1]:%u", (unsigned) ntohs(in.sin_port));
                sup_error_free(TAKE_PTR(error));
                r = metrics_http_new(e, address, false, (gid_t) -1, render, NULL, &h, &error);
        }
        if (r == -EAFNOSUPPORT) {
                (void) event_free(e);
                skip(); /* no IPv6 on this host */
        }
        if (r < 0)
                print_error("%s\n", sup_error_message(error));
        assert_int_equal(r, 0);

        /* Blocking: the connection is complete once it is in the listener's backlog. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &in, sizeof(in)), 0);
        render_size = 64;
        ok = served(e, fd, "GET /metrics HTTP/1.1\r\n\r\n");
        metrics_http_free(TAKE_PTR(h));
        (void) event_free(e);
}

/* A client that asks and never reads holds one response, no more, and does not stall the loop;
 * the timeout closes it. Clients past the cap are closed at once. */
static int never_reader(const char *path, const char *request) {
        int fd = connect_client(path), small = 4096;

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t) strlen(request));
        return fd;
}

static void test_http_never_reads(void **state) {
        _cleanup_free_ char *path = xasprintf("%s/metrics2.sock", tmpdir);
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL;
        _cleanup_free_ char *ok = NULL, *truncated = NULL, *busy = NULL;
        int idle[METRICS_HTTP_MAX_CLIENTS], extra, slow, fresh;
        const char *get = "GET /metrics HTTP/1.1\r\n\r\n";
        Event *e = NULL;
        char byte;

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(metrics_http_new(e, path, false, (gid_t) -1, render, NULL, &h, NULL), 0);
        metrics_http_set_render_spacing(h, 0); /* each request its own render_size */

        /* 8 MiB of response for a client whose receive buffer is small and who never reads: the
         * server's writes must not block (the test would hang in event_run()). */
        render_size = 8 * 1024 * 1024;
        renders = 0;
        slow = never_reader(path, get);
        pump(e, 20);
        assert_int_equal(renders, 1);

        /* Meanwhile another client is served. */
        render_size = 64;
        fresh = connect_client(path);
        ok = exchange(e, fresh, get);
        close(fresh);
        assert_non_null(ok);
        assert_non_null(strstr(ok, "HTTP/1.1 200 OK"));

        /* The cap: 15 more that send nothing fill it (with slow, 16); one more gets a 503 and is
         * closed by its accept (within the default timeout of 10 s, which nothing here waits
         * for), before it has sent anything. */
        for (size_t k = 0; k + 1 < METRICS_HTTP_MAX_CLIENTS; k++)
                idle[k] = connect_client(path);
        pump(e, 40);
        extra = connect_client(path);
        pump(e, 20);
        busy = exchange(e, extra, NULL);
        assert_non_null(busy);
        assert_true(startswith(busy, "HTTP/1.1 503 Service Unavailable\r\n"));
        assert_non_null(strstr(busy, "Content-Length: 24\r\n"));
        assert_true(endswith(busy, "\r\n\r\n503 Service Unavailable\n"));
        assert_int_equal(strlen(strstr(busy, "\r\n\r\n") + 4), 24);
        assert_int_equal(recv(extra, &byte, 1, MSG_DONTWAIT), 0);
        close(extra);
        /* A client that leaves frees its place. */
        for (size_t k = 0; k + 1 < METRICS_HTTP_MAX_CLIENTS; k++)
                close(idle[k]);
        close(slow);
        pump(e, 40);

        /* The timeout: a never-reading client's connection closes with its response cut short
         * (what the socket took before, read only now). The loop runs past the deadline first:
         * the timer fires in it, whatever the machine's load. */
        metrics_http_set_timeout(h, 200 * USEC_PER_MSEC);
        render_size = 8 * 1024 * 1024;
        slow = never_reader(path, get);
        for (usec_t end = now(CLOCK_MONOTONIC) + 400 * USEC_PER_MSEC; now(CLOCK_MONOTONIC) < end;)
                assert_true(event_run(e, 10 * USEC_PER_MSEC) >= 0);
        truncated = exchange(e, slow, NULL);
        assert_non_null(truncated);
        assert_true(strlen(truncated) < 8 * 1024 * 1024);
        assert_non_null(strstr(truncated, "HTTP/1.1 200 OK"));
        close(slow);
        metrics_http_free(TAKE_PTR(h));
        (void) event_free(e);
}

static int group_setup(void **state) {
        const char *t = getenv("TMPDIR");
        tmpdir = xasprintf("%s/sup-test-metrics-XXXXXX", t && *t ? t : "/tmp");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
        (void) rmdir(tmpdir);
        free(tmpdir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_label),        cmocka_unit_test(test_format_units),
                cmocka_unit_test(test_requests_histogram),  cmocka_unit_test(test_request_status),
                cmocka_unit_test(test_address_parse),       cmocka_unit_test(test_http),
                cmocka_unit_test(test_http_never_reads),    cmocka_unit_test(test_http_split_request),
                cmocka_unit_test(test_http_socket_path),    cmocka_unit_test(test_http_v4_mapped),
                cmocka_unit_test(test_http_render_spacing),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
