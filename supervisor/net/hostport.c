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

/* "127.0.0.1:8080/tcp", "[::1]:8080/tcp", "*:8080/tcp": the host side of a published port. */
static void format_host_side(const PortSpec *p, char *buf, size_t len) {
        char addr[INET6_ADDRSTRLEN] = "*";

        if (p->family == AF_INET)
                (void) inet_ntop(AF_INET, &p->address.in, addr, sizeof(addr));
        if (p->family == AF_INET6) {
                char a[INET6_ADDRSTRLEN];
                (void) inet_ntop(AF_INET6, &p->address.in6, a, sizeof(a));
                snprintf(buf, len, "[%s]:%u/%s", a, p->host_port, port_protocol_to_string(p->protocol));
                return;
        }
        snprintf(buf, len, "%s:%u/%s", addr, p->host_port, port_protocol_to_string(p->protocol));
}

/* Holds the port on one family: the port's address, or every address of the family. */
static int hold(const PortSpec *p, int family, int *ret_fd) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t salen;
        bool tcp = p->protocol == PORT_TCP;
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (family == AF_INET) {
                sa.in = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(p->host_port)};
                sa.in.sin_addr.s_addr = p->family == AF_INET ? p->address.in.s_addr : htonl(INADDR_ANY);
                salen = sizeof(sa.in);
        } else {
                sa.in6 = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons(p->host_port)};
                sa.in6.sin6_addr = p->family == AF_INET6 ? p->address.in6 : in6addr_any;
                salen = sizeof(sa.in6);
        }
        fd = socket(family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* TCP: SO_REUSEADDR only forgives the TIME_WAIT connections that a host server (setting
         * it too, as servers do) left behind on the port when it stopped; without it a unit that
         * takes the port over fails for a minute. Against a socket that listens, and against ours
         * once it listens, a bind still fails with or without it. UDP has no such leftovers, and
         * there SO_REUSEADDR on both sides lets two sockets share a port: not set. */
        if (tcp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return negative_errno();
        /* [::] holds IPv6 only: 0.0.0.0 is held by its own socket, exactly when the rules take
         * IPv4 too. (A dual-stack [::] socket of a host program conflicts with either.) */
        if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
                return negative_errno();
        /* An address the host does not have (yet: a floating address) is held all the same; the
         * rules wait for it too. (IP_FREEBIND is honoured on IPv6 sockets as well.) */
        if (setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0)
                return negative_errno();
        if (bind(fd, &sa.sa, salen) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int explain(const PortSpec *ports, size_t i, int family, int r, SupError **ret_error) {
        _cleanup_free_ char *spec = format_port(&ports[i]);
        PortSpec side = ports[i];
        char host[INET6_ADDRSTRLEN + 24];

        /* A port on every address names the family's wildcard that was in use. */
        if (side.family == AF_UNSPEC && family == AF_INET6) {
                side.family = AF_INET6;
                side.address.in6 = in6addr_any;
        }
        format_host_side(&side, host, sizeof(host));
        if (r == -EADDRINUSE)
                return sup_error_make(ret_error, r,
                                      "ports[%zu] %s: %s is in use on the host already (ss -lnp%c 'sport = :%u' "
                                      "names the holder)",
                                      i, spec, host, ports[i].protocol == PORT_TCP ? 't' : 'u', ports[i].host_port);
        return sup_error_errno(ret_error, r, "ports[%zu] %s: cannot hold %s on the host", i, spec, host);
}

/* The families a port is published on (rules and held sockets alike). */
static bool port_on_family(const PortSpec *p, int family) {
        return p->family == AF_UNSPEC || p->family == family;
}

int host_ports_bind(HostPorts *h, const PortSpec *ports, size_t n, bool ipv6, SupError **ret_error) {
        static const int families[2] = {AF_INET, AF_INET6};
        int r;

        host_ports_release(h);
        if (n == 0)
                return 0;
        h->fds = xnew(int, 2 * n);
        for (size_t i = 0; i < 2 * n; i++)
                h->fds[i] = -EBADF;
        h->n = n;
        for (size_t i = 0; i < n; i++)
                for (size_t f = 0; f < 2; f++) {
                        if (!port_on_family(&ports[i], families[f]) || (families[f] == AF_INET6 && !ipv6))
                                continue;
                        r = hold(&ports[i], families[f], &h->fds[2 * i + f]);
                        if (r < 0) {
                                r = explain(ports, i, families[f], r, ret_error);
                                host_ports_release(h);
                                return r;
                        }
                }
        return 0;
}

int host_ports_listen(HostPorts *h, const PortSpec *ports, SupError **ret_error) {
        for (size_t i = 0; i < 2 * h->n; i++) {
                if (h->fds[i] < 0 || ports[i / 2].protocol != PORT_TCP)
                        continue;
                /* Only now that the rules send every new connection to the container: a
                 * connection that came while the socket listened without them would wait in its
                 * backlog, never accepted, for the whole run. Nothing accepts here; the backlog
                 * only holds the few that arrive between the removal of the rules and close(),
                 * which then get a reset. Listening is what makes a bind() with SO_REUSEADDR by
                 * a host program fail too (and puts the port in ss -tlnp under sup-monitor).
                 * The IPv6 ones are accepted from, by the relay for ::1 (relay.h): a backlog. */
                if (listen(h->fds[i], i % 2 ? SOMAXCONN : 1) < 0)
                        return explain(ports, i / 2, i % 2 ? AF_INET6 : AF_INET, negative_errno(), ret_error);
        }
        return 0;
}

void host_ports_release(HostPorts *h) {
        for (size_t i = 0; i < 2 * h->n; i++)
                if (h->fds[i] >= 0)
                        close(h->fds[i]);
        free(h->fds);
        *h = (HostPorts){};
}
