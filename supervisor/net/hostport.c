/* SPDX-License-Identifier: MIT */
#include "hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"

/* "127.0.0.1:8080/tcp", "*:8080/tcp": the host side of a published port. */
static void format_host_side(const PortSpec *p, char *buf, size_t len) {
        char addr[INET_ADDRSTRLEN] = "*";

        if (p->family == AF_INET)
                (void) inet_ntop(AF_INET, &p->address.in, addr, sizeof(addr));
        snprintf(buf, len, "%s:%u/%s", addr, p->host_port, port_protocol_to_string(p->protocol));
}

static int hold(const PortSpec *p, int *ret_fd) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(p->host_port),
                .sin_addr.s_addr = htonl(INADDR_ANY),
        };
        bool tcp = p->protocol == PORT_TCP;
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (p->family == AF_INET)
                sa.sin_addr = p->address.in;
        fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* TCP: SO_REUSEADDR only forgives the TIME_WAIT connections that a host server (setting
         * it too, as servers do) left behind on the port when it stopped; without it a unit that
         * takes the port over fails for a minute. Against a socket that listens, and against ours
         * once it listens, a bind still fails with or without it. UDP has no such leftovers, and
         * there SO_REUSEADDR on both sides lets two sockets share a port: not set. */
        if (tcp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return negative_errno();
        /* An address the host does not have (yet: a floating address) is held all the same; the
         * rules wait for it too. */
        if (setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0)
                return negative_errno();
        if (bind(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int explain(const PortSpec *ports, size_t i, int r, SupError **ret_error) {
        _cleanup_free_ char *spec = format_port(&ports[i]);
        char host[INET_ADDRSTRLEN + 16];

        format_host_side(&ports[i], host, sizeof(host));
        if (r == -EADDRINUSE)
                return sup_error_make(ret_error, r,
                                      "ports[%zu] %s: %s is in use on the host already (ss -lnp%c 'sport = :%u' "
                                      "names the holder)",
                                      i, spec, host, ports[i].protocol == PORT_TCP ? 't' : 'u', ports[i].host_port);
        return sup_error_errno(ret_error, r, "ports[%zu] %s: cannot hold %s on the host", i, spec, host);
}

int host_ports_bind(HostPorts *h, const PortSpec *ports, size_t n, SupError **ret_error) {
        int r;

        host_ports_release(h);
        if (n == 0)
                return 0;
        h->fds = xnew(int, n);
        for (h->n = 0; h->n < n; h->n++) {
                r = hold(&ports[h->n], &h->fds[h->n]);
                if (r < 0) {
                        r = explain(ports, h->n, r, ret_error);
                        host_ports_release(h);
                        return r;
                }
        }
        return 0;
}

int host_ports_listen(HostPorts *h, const PortSpec *ports, SupError **ret_error) {
        for (size_t i = 0; i < h->n; i++) {
                if (ports[i].protocol != PORT_TCP)
                        continue;
                /* Only now that the rules send every new connection to the container: a
                 * connection that came while the socket listened without them would wait in its
                 * backlog, never accepted, for the whole run. Nothing accepts here; the backlog
                 * only holds the few that arrive between the removal of the rules and close(),
                 * which then get a reset. Listening is what makes a bind() with SO_REUSEADDR by
                 * a host program fail too (and puts the port in ss -tlnp under sup-monitor). */
                if (listen(h->fds[i], 1) < 0)
                        return explain(ports, i, negative_errno(), ret_error);
        }
        return 0;
}

void host_ports_release(HostPorts *h) {
        for (size_t i = 0; i < h->n; i++)
                close(h->fds[i]);
        free(h->fds);
        *h = (HostPorts){};
}
