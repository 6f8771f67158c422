/* SPDX-License-Identifier: MIT */
/* The host ports a unit publishes, held against host programs (net/hostport.h), on loopback and
 * without privileges. test-network.sh checks the same end to end with a real unit. */
#include "test-helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostport.h"
#include "macro.h"

static PortSpec port(const char *address, uint16_t host_port, PortProtocol protocol) {
        PortSpec p = {.family = AF_UNSPEC, .host_port = host_port, .container_port = 80, .protocol = protocol};

        if (address) {
                p.family = AF_INET;
                assert_int_equal(inet_pton(AF_INET, address, &p.address.in), 1);
        }
        return p;
}

/* A host program's socket on address:port, with SO_REUSEADDR as servers set it, listening if
 * TCP: its fd, or -errno. */
static int host_program(const char *address, uint16_t p, PortProtocol protocol) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p)};
        int fd = socket(AF_INET, (protocol == PORT_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
        int one = 1, r = 0;

        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, address, &sa.sin_addr), 1);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (protocol == PORT_TCP && listen(fd, 8) < 0))
                r = negative_errno();
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

/* A port that nothing holds right now: the kernel's pick for port 0. */
/* A port the kernel says is free on address (NULL: on every address, as a published port without
 * one needs it), other than avoid. */
static uint16_t free_port_on(const char *address, PortProtocol protocol, uint16_t avoid) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int fd = host_program(address ?: "0.0.0.0", 0, protocol);
        uint16_t p;

        assert_true(fd >= 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        p = ntohs(sa.sin_port);
        close(fd);
        /* The next probe may be given the same port back: tests that need two ask again. */
        return p == avoid ? free_port_on(address, protocol, avoid) : p;
}

static uint16_t free_port(PortProtocol protocol) {
        return free_port_on("127.0.0.1", protocol, 0);
}

/* The fault: a host program on 127.0.0.1:P had its clients taken over by the unit publishing P.
 * Now the start fails, naming the port, and nothing stays held. */
static void test_port_in_use_fails_the_start(void **state) {
        uint16_t p = free_port(PORT_TCP);
        int prog = host_program("127.0.0.1", p, PORT_TCP);
        PortSpec ports[2] = {port("127.0.0.1", free_port(PORT_UDP), PORT_UDP), port("127.0.0.1", p, PORT_TCP)};
        HostPorts h = {};
        _cleanup_free_ char *want = NULL;
        _cleanup_sup_error_ SupError *error = NULL;

        assert_true(prog >= 0);
        assert_int_equal(host_ports_bind(&h, ports, 2, true, &error), -EADDRINUSE);
        want = xasprintf("ports[1] 127.0.0.1:%u:80/tcp: 127.0.0.1:%u/tcp is in use on the host already", p, p);
        if (!strstr(sup_error_message(error), want))
                fail_msg("error \"%s\" lacks \"%s\"", sup_error_message(error), want);
        assert_int_equal(h.n, 0);
        assert_null(h.fds);
        error = sup_error_free(error);
        /* ports[0] went again with the failure: it is free. */
        assert_int_equal(host_ports_bind(&h, ports, 1, true, &error), 0);
        assert_null(error);
        host_ports_release(&h);

        /* A port on every address overlaps the program's 127.0.0.1. */
        ports[1] = port(NULL, p, PORT_TCP);
        assert_int_equal(host_ports_bind(&h, &ports[1], 1, true, &error), -EADDRINUSE);
        assert_non_null(strstr(sup_error_message(error), "*:"));
        close(prog);
}

/* The fault: a host program started on a published port unnoticed and never saw its clients.
 * While held, its bind fails, SO_REUSEADDR or not, on the address or on every address; after the
 * release it succeeds. */
static void test_held_port_refuses_host_programs(void **state) {
        uint16_t t = free_port(PORT_TCP), any = free_port_on(NULL, PORT_TCP, t), u = free_port(PORT_UDP);
        PortSpec ports[] = {port("127.0.0.1", t, PORT_TCP), port(NULL, any, PORT_TCP), port("127.0.0.1", u, PORT_UDP)};
        HostPorts h = {};
        int fd;

        assert_int_equal(host_ports_bind(&h, ports, ELEMENTSOF(ports), true, NULL), 0);
        assert_int_equal(host_ports_listen(&h, ports, NULL), 0);
        assert_int_equal(h.n, ELEMENTSOF(ports));

        assert_int_equal(host_program("127.0.0.1", t, PORT_TCP), -EADDRINUSE);
        assert_int_equal(host_program("0.0.0.0", t, PORT_TCP), -EADDRINUSE);
        assert_int_equal(host_program("127.0.0.1", any, PORT_TCP), -EADDRINUSE);
        assert_int_equal(host_program("127.0.0.1", u, PORT_UDP), -EADDRINUSE);
        /* What the rules leave alone is not held: another loopback address. */
        fd = host_program("127.0.0.2", t, PORT_TCP);
        assert_true(fd >= 0);
        close(fd);

        host_ports_release(&h);
        assert_int_equal(h.n, 0);
        fd = host_program("127.0.0.1", t, PORT_TCP);
        assert_true(fd >= 0);
        close(fd);
        fd = host_program("127.0.0.1", u, PORT_UDP);
        assert_true(fd >= 0);
        close(fd);
}

/* An address the host does not have (a floating address that comes later) is held like the
 * rules wait for it, instead of failing with EADDRNOTAVAIL. */
static void test_address_not_on_the_host(void **state) {
        PortSpec p = port("203.0.113.9", free_port(PORT_TCP), PORT_TCP);
        HostPorts h = {};

        assert_int_equal(host_ports_bind(&h, &p, 1, true, NULL), 0);
        assert_int_equal(host_ports_listen(&h, &p, NULL), 0);
        host_ports_release(&h);
        /* Nothing published: nothing held, nothing allocated. */
        assert_int_equal(host_ports_bind(&h, NULL, 0, true, NULL), 0);
        assert_null(h.fds);
}

/* The fault: on a host with IPv6 off (ipv6.disable=1: no AF_INET6 sockets) no unit with a port on
 * every address could start. Without ipv6 only 0.0.0.0 is held. */
static void test_no_ipv6_holds_ipv4_only(void **state) {
        PortSpec p = port(NULL, free_port(PORT_TCP), PORT_TCP);
        HostPorts h = {};

        assert_int_equal(host_ports_bind(&h, &p, 1, false, NULL), 0);
        assert_true(h.fds[0] >= 0);
        assert_true(h.fds[1] < 0);
        assert_int_equal(host_ports_listen(&h, &p, NULL), 0);
        host_ports_release(&h);
}

/* An IPv6-only host program's socket on address:port (TCP, listening): its fd, or -errno. */
static int host_program6(const char *address, uint16_t p) {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(p)};
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r = 0;

        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET6, address, &sa.sin6_addr), 1);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
                r = negative_errno();
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

/* The fault: the rules publish a port on IPv6 too (a port without an address, one on [::1]), but
 * only its IPv4 side was held, so an IPv6-only host program took the port unnoticed. Now each
 * family the rules take is held, and only those. */
static void test_ipv6_held(void **state) {
        uint16_t any = free_port_on(NULL, PORT_TCP, 0), lo6 = free_port_on(NULL, PORT_TCP, any);
        uint16_t lo4 = free_port(PORT_TCP);
        PortSpec ports[] = {port(NULL, any, PORT_TCP), port(NULL, lo6, PORT_TCP), port("127.0.0.1", lo4, PORT_TCP)};
        HostPorts h = {};
        _cleanup_free_ char *want = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        int fd;

        ports[1].family = AF_INET6;
        ports[1].address.in6 = in6addr_loopback;
        assert_int_equal(host_ports_bind(&h, ports, ELEMENTSOF(ports), true, NULL), 0);
        assert_int_equal(host_ports_listen(&h, ports, NULL), 0);
        assert_int_equal(host_program6("::1", any), -EADDRINUSE);
        assert_int_equal(host_program6("::", any), -EADDRINUSE);
        assert_int_equal(host_program("127.0.0.1", any, PORT_TCP), -EADDRINUSE);
        assert_int_equal(host_program6("::1", lo6), -EADDRINUSE);
        /* [::1] only: IPv4 is free; 127.0.0.1 only: IPv6 is free. */
        fd = host_program("127.0.0.1", lo6, PORT_TCP);
        assert_true(fd >= 0);
        close(fd);
        fd = host_program6("::1", lo4);
        assert_true(fd >= 0);
        close(fd);
        host_ports_release(&h);

        /* An IPv6-only program on the port: the unit's start fails, naming the IPv6 side. */
        fd = host_program6("::1", any);
        assert_true(fd >= 0);
        assert_int_equal(host_ports_bind(&h, &ports[0], 1, true, &error), -EADDRINUSE);
        want = xasprintf("ports[0] %u:80/tcp: [::]:%u/tcp is in use on the host already", any, any);
        if (!strstr(sup_error_message(error), want))
                fail_msg("error \"%s\" lacks \"%s\"", sup_error_message(error), want);
        assert_null(h.fds);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_port_in_use_fails_the_start),
                cmocka_unit_test(test_held_port_refuses_host_programs),
                cmocka_unit_test(test_address_not_on_the_host),
                cmocka_unit_test(test_no_ipv6_holds_ipv4_only),
                cmocka_unit_test(test_ipv6_held),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
