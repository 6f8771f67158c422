/* SPDX-License-Identifier: MIT */
#include "metrics-http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "socket-util.h"
#include "string-util.h"

/* Out of fds, a pending connection cannot be accepted and keeps the listener readable: it is
 * left alone this long, rather than the loop spinning on it. */
#define ACCEPT_PAUSE (1 * USEC_PER_SEC)

typedef struct HttpClient HttpClient;

struct MetricsHttp {
        Event *event;
        int fd;
        EventSource *source, *pause;
        char *unix_path; /* removed at the end, if it is still the socket made (unix_dev, unix_ino) */
        dev_t unix_dev;
        ino_t unix_ino;
        MetricsHttpRender render;
        char *text; /* the last scrape's, for the requests until text_until */
        usec_t text_until;
        unsigned spacing;
        void *userdata;
        HttpClient *clients;
        size_t n_clients;
        usec_t timeout;
};

struct HttpClient {
        MetricsHttp *server;
        int fd;
        EventSource *io, *timer;
        char head[METRICS_HTTP_MAX_HEAD];
        size_t head_len;
        char *out; /* the response, once the request is complete */
        size_t out_len, out_done;
        HttpClient *next;
};

int metrics_address_parse(const char *s, MetricsAddress *ret, const char **ret_why) {
        MetricsAddress a = {};
        _cleanup_free_ char *host = NULL;
        const char *colon, *port_text;
        unsigned long port;
        char *end;

        if (s[0] == '/' || s[0] == '.') {
                struct sockaddr_un *un = (struct sockaddr_un *) &a.sa;
                if (sockaddr_un_set(un, s, &a.len) < 0) {
                        *ret_why = "the socket path is longer than 107 characters";
                        return -EINVAL;
                }
                a.loopback = true;
                *ret = a;
                return 0;
        }
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':') {
                        *ret_why = "an IPv6 address is written [ADDRESS]:PORT";
                        return -EINVAL;
                }
                host = xstrndup(s + 1, (size_t) (close - s - 1));
                port_text = close + 2;
        } else {
                colon = strrchr(s, ':');
                if (!colon || strchr(s, ':') != colon) {
                        *ret_why = "expected a socket path (/...), HOST:PORT or [HOST6]:PORT";
                        return -EINVAL;
                }
                host = xstrndup(s, (size_t) (colon - s));
                port_text = colon + 1;
        }
        /* Digits only: strtoul() would also take " 80", "+80" and "-18446744073709551615" (1). */
        errno = 0;
        port = strtoul(port_text, &end, 10);
        if (!isdigit((unsigned char) *port_text) || *end || errno != 0 || port == 0 || port > 65535) {
                *ret_why = "the port must be a number from 1 to 65535";
                return -EINVAL;
        }
        /* Numeric only: no name lookup on supd's loop, and no doubt about where it listens. */
        if (s[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a.sa;
                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
                        *ret_why = "not a numeric IPv6 address";
                        return -EINVAL;
                }
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                a.len = sizeof(*in6);
                a.loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                             (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
        } else {
                struct sockaddr_in *in = (struct sockaddr_in *) &a.sa;
                if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
                        *ret_why = "not a numeric IPv4 address (IPv6: [ADDRESS]:PORT)";
                        return -EINVAL;
                }
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                a.len = sizeof(*in);
                a.loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        *ret = a;
        return 0;
}

int metrics_http_request_status(const char *head, size_t len, bool *ret_head_only) {
        const char *line_end = memchr(head, '\n', len), *sp1, *sp2;
        size_t n;

        *ret_head_only = false;
        if (!line_end)
                return 400;
        n = (size_t) (line_end - head);
        if (n > 0 && head[n - 1] == '\r')
                n--;
        /* METHOD SP TARGET SP HTTP/1.x, nothing else on the line. */
        sp1 = memchr(head, ' ', n);
        sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t) (sp1 + 1 - head)) : NULL;
        if (!sp1 || !sp2 || sp1 == head || sp2 == sp1 + 1)
                return 400;
        if ((size_t) (head + n - (sp2 + 1)) != strlen("HTTP/1.1") ||
            (!strneq(sp2 + 1, "HTTP/1.0", 8) && !strneq(sp2 + 1, "HTTP/1.1", 8)))
                return 400;
        for (const char *p = head; p < sp1; p++)
                if (*p < 'A' || *p > 'Z')
                        return 400;
        *ret_head_only = (size_t) (sp1 - head) == 4 && strneq(head, "HEAD", 4);
        if (!*ret_head_only && !((size_t) (sp1 - head) == 3 && strneq(head, "GET", 3)))
                return 405;
        /* The path, with or without a query (Prometheus' params are not ours to read). */
        n = (size_t) (sp2 - sp1 - 1);
        if (n >= 8 && strneq(sp1 + 1, "/metrics", 8) && (n == 8 || sp1[9] == '?'))
                return 200;
        return 404;
}

static HttpClient *client_free(HttpClient *c) {
        if (!c)
                return NULL;
        for (HttpClient **p = &c->server->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        c->server->n_clients--;
                        break;
                }
        event_source_free(c->io);
        event_source_free(c->timer);
        if (c->fd >= 0)
                close(c->fd);
        free(c->out);
        free(c);
        return NULL;
}

static const char *reason_phrase(int status) {
        switch (status) {
        case 200:
                return "OK";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 431:
                return "Request Header Fields Too Large";
        default:
                return "Bad Request";
        }
}

/* The text of a scrape, made anew only once the last one is older than spacing times what it
 * took to make: clients that ask without a pause (anyone who can connect) get at most a
 * 1/spacing share of supd's loop, and a scrape every few seconds, as Prometheus', a fresh text. */
static const char *scrape_text(MetricsHttp *h) {
        usec_t start = now(CLOCK_MONOTONIC);

        if (h->text && start < h->text_until)
                return h->text;
        free(h->text);
        h->text = h->render(h->userdata);
        h->text_until = start + (now(CLOCK_MONOTONIC) - start) * h->spacing;
        return h->text;
}

static void client_respond(HttpClient *c, int status, bool head_only) {
        _cleanup_free_ char *error = NULL;
        const char *type = "text/plain; charset=utf-8", *body;

        if (status == 200) {
                body = scrape_text(c->server);
                type = "text/plain; version=0.0.4; charset=utf-8";
        } else
                body = error = xasprintf("%d %s\n", status, reason_phrase(status));
        c->out = xasprintf("HTTP/1.1 %d %s\r\n"
                           "Content-Type: %s\r\n"
                           "Content-Length: %zu\r\n"
                           "%s"
                           "Connection: close\r\n"
                           "\r\n"
                           "%s",
                           status, reason_phrase(status), type, strlen(body),
                           status == 405 ? "Allow: GET, HEAD\r\n" : "", head_only ? "" : body);
        c->out_len = strlen(c->out);
        /* Nothing more is read: what the client sends after its head is not ours. */
        (void) event_source_set_io_events(c->io, EPOLLOUT);
}

static void client_write(HttpClient *c) {
        while (c->out_done < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return; /* EPOLLOUT says when it takes more */
                if (n <= 0) {
                        client_free(c);
                        return;
                }
                c->out_done += (size_t) n;
        }
        /* What the client sent after its head (a body, a second request) is dropped before the
         * close, as far as it is there: a close with unread input sends a reset, which may reach
         * the client before it has read the response and make it lose that. */
        (void) shutdown(c->fd, SHUT_WR);
        for (unsigned k = 0; k < 16 && recv(c->fd, c->head, sizeof(c->head), MSG_DONTWAIT) > 0; k++)
                ;
        client_free(c);
}

/* Whether the head has ended: an empty line, "\n\n" or "\n\r\n" ("\r\n\r\n", the bare "\n\n"
 * some clients send, or a mix). Only from `from` on, what arrived last and the two bytes before
 * it: a head trickled a byte at a time must not cost a rescan of up to 8 KiB per byte. */
static bool head_ended(const HttpClient *c, size_t from) {
        for (size_t k = from; k + 1 < c->head_len; k++)
                if (c->head[k] == '\n' && (c->head[k + 1] == '\n' ||
                                           (k + 2 < c->head_len && c->head[k + 1] == '\r' && c->head[k + 2] == '\n')))
                        return true;
        return false;
}

static void client_read(HttpClient *c) {
        bool head_only;
        size_t old = c->head_len;
        ssize_t n;

        n = recv(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                client_free(c); /* gone before its request was complete */
                return;
        }
        c->head_len += (size_t) n;
        if (head_ended(c, old >= 2 ? old - 2 : 0)) {
                int status = metrics_http_request_status(c->head, c->head_len, &head_only);
                client_respond(c, status, head_only);
        } else if (c->head_len == sizeof(c->head))
                client_respond(c, 431, false);
}

static void on_client_io(EventSource *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;

        if (c->out)
                client_write(c);
        else
                client_read(c);
}

static void on_client_timeout(EventSource *s, usec_t t, void *userdata) {
        client_free(userdata);
}

static void on_resume(EventSource *s, usec_t t, void *userdata) {
        MetricsHttp *h = userdata;
        (void) event_source_set_io_events(h->source, EPOLLIN);
}

/* One client more than the cap gets a 503 and the close, not a bare close: a scraper then logs
 * why (Prometheus shows the status in its target's error) instead of "connection reset". The
 * response is short and constant, so one non-blocking send to a new connection's empty buffer
 * takes it whole; nothing is read or kept, whatever the client does. */
static void refuse_busy(int fd) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                   "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Length: 24\r\n"
                                   "Retry-After: 1\r\n"
                                   "Connection: close\r\n"
                                   "\r\n"
                                   "503 Service Unavailable\n";

        (void) send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        /* A FIN after the response, so that the close with the client's unread request (a reset)
         * comes after what was sent, not instead of it, as far as the client is quick to read. */
        (void) shutdown(fd, SHUT_WR);
        close(fd);
}

static void on_accept(EventSource *s, int fd, uint32_t revents, void *userdata) {
        MetricsHttp *h = userdata;
        HttpClient *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                        (void) event_source_set_io_events(h->source, 0);
                        event_source_set_time(h->pause, now(CLOCK_MONOTONIC) + ACCEPT_PAUSE);
                }
                return;
        }
        if (h->n_clients >= METRICS_HTTP_MAX_CLIENTS) {
                refuse_busy(cfd);
                return;
        }
        c = xzalloc(sizeof(HttpClient));
        *c = (HttpClient){.server = h, .fd = cfd};
        if (event_add_io(h->event, &c->io, cfd, EPOLLIN, on_client_io, c) < 0 ||
            event_add_time(h->event, &c->timer, now(CLOCK_MONOTONIC) + h->timeout, on_client_timeout, c) < 0) {
                event_source_free(c->io);
                close(cfd);
                free(c);
                return;
        }
        c->next = h->clients;
        h->clients = c;
        h->n_clients++;
}

/* May a socket be made at path? Only where nothing is, or a socket nobody listens on (left by a
 * supd that died): the path is the operator's, typed by hand, and a slip must neither delete a
 * file (unix_listen() unlinks what is there) nor take over a live socket (supd's control socket,
 * another supd's, the same path given twice). */
static int check_socket_path(const char *path, SupError **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT
                               ? 0
                               : sup_error_errno(ret_error, -errno, "--metrics-listen: cannot look at %s", path);
        if (!S_ISSOCK(st.st_mode))
                return sup_error_make(ret_error, -EEXIST,
                                      "--metrics-listen %s: the path exists and is not a socket; not replaced", path);
        fd = unix_connect(path, true);
        if (fd >= 0 || fd == -EAGAIN)
                return sup_error_make(ret_error, -EADDRINUSE,
                                      "--metrics-listen %s: something listens on that socket already", path);
        return 0; /* a stale socket: unix_listen() replaces it */
}

int metrics_http_new(Event *e, const char *address, bool allow_remote, gid_t group, MetricsHttpRender render,
                     void *userdata, MetricsHttp **ret, SupError **ret_error) {
        _cleanup_(metrics_http_freep) MetricsHttp *h = NULL;
        const char *why = NULL;
        MetricsAddress a;
        int r, one = 1;

        if (metrics_address_parse(address, &a, &why) < 0)
                return sup_error_make(ret_error, -EINVAL, "--metrics-listen %s: %s", address, why);
        if (!a.loopback && !allow_remote)
                return sup_error_make(ret_error, -EPERM,
                                      "--metrics-listen %s: not a loopback address; the metrics would be open to "
                                      "anyone who can reach it, without authentication (add --metrics-allow-remote "
                                      "to serve them there)",
                                      address);
        h = xzalloc(sizeof(MetricsHttp));
        *h = (MetricsHttp){.event = e,
                           .fd = -EBADF,
                           .render = render,
                           .userdata = userdata,
                           .timeout = METRICS_HTTP_TIMEOUT,
                           .spacing = METRICS_HTTP_RENDER_SPACING};
        if (a.sa.ss_family == AF_UNIX) {
                struct stat st;

                r = check_socket_path(address, ret_error);
                if (r < 0)
                        return r;
                h->fd = unix_listen(address, group != (gid_t) -1 ? 0660 : 0600);
                if (h->fd < 0)
                        return sup_error_errno(ret_error, h->fd, "--metrics-listen: cannot listen on %s", address);
                /* Which file is ours, for the end: the path may be another's socket by then. */
                if (lstat(address, &st) < 0)
                        return sup_error_errno(ret_error, -errno, "--metrics-listen: cannot look at %s", address);
                h->unix_path = xstrdup(address);
                h->unix_dev = st.st_dev;
                h->unix_ino = st.st_ino;
                if (group != (gid_t) -1 && chown(address, (uid_t) -1, group) < 0)
                        return sup_error_errno(ret_error, -errno, "cannot give %s the group %u", address,
                                               (unsigned) group);
        } else {
                h->fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (h->fd < 0)
                        return sup_error_errno(ret_error, -errno, "--metrics-listen: cannot create a socket");
                (void) setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                /* [::]:PORT means IPv6 only; 0.0.0.0:PORT is IPv4's. Not for a v4-mapped address
                 * ([::ffff:127.0.0.1]:PORT): a v6-only socket cannot bind one (EINVAL). */
                if (a.sa.ss_family == AF_INET6 &&
                    !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *) &a.sa)->sin6_addr))
                        (void) setsockopt(h->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                if (bind(h->fd, (struct sockaddr *) &a.sa, a.len) < 0 || listen(h->fd, 64) < 0)
                        return sup_error_errno(ret_error, -errno, "--metrics-listen: cannot listen on %s", address);
        }
        r = event_add_io(e, &h->source, h->fd, EPOLLIN, on_accept, h);
        if (r >= 0)
                r = event_add_time(e, &h->pause, USEC_INFINITY, on_resume, h);
        if (r < 0)
                return sup_error_errno(ret_error, r, "--metrics-listen: cannot watch %s", address);
        *ret = TAKE_PTR(h);
        return 0;
}

void metrics_http_set_timeout(MetricsHttp *h, usec_t timeout) {
        h->timeout = timeout;
}

void metrics_http_set_render_spacing(MetricsHttp *h, unsigned spacing) {
        h->spacing = spacing;
        h->text_until = 0;
}

MetricsHttp *metrics_http_free(MetricsHttp *h) {
        struct stat st;

        if (!h)
                return NULL;
        while (h->clients)
                client_free(h->clients);
        event_source_free(h->source);
        event_source_free(h->pause);
        if (h->fd >= 0)
                close(h->fd);
        if (h->unix_path && lstat(h->unix_path, &st) >= 0 && st.st_dev == h->unix_dev && st.st_ino == h->unix_ino)
                (void) unlink(h->unix_path);
        free(h->unix_path);
        free(h->text);
        free(h);
        return NULL;
}
