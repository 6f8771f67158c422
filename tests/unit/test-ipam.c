/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "alloc.h"
#include "fileio.h"
#include "ipam.h"
#include "macro.h"
#include "subnet.h"

static Ipv4Net net(const char *s) {
        Ipv4Net n;
        assert_int_equal(ipv4_net_parse(s, &n), 0);
        return n;
}

static struct in_addr ip(const char *s) {
        struct in_addr a;
        assert_int_equal(inet_pton(AF_INET, s, &a), 1);
        return a;
}

static const char *ntoa(struct in_addr a, char buf[INET_ADDRSTRLEN]) {
        return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void test_subnet_parse(void **state) {
        char buf[IPV4_NET_STRLEN];
        Ipv4Net n;
        static const char *const bad[] = {
                "10.88.0.0",    "10.88.0.0/",    "/16",        "10.88.0.0/33",   "10.88.0.0/016",
                "10.88.0.0/1a", "10.88.0.0/-1",  "10.88.0/16", "10.88.0.256/16", "x/16",
                "::/0",         "10.88.0.0/16 ", "",
        };

        n = net("10.88.0.0/16");
        assert_string_equal(ipv4_net_format(&n, buf), "10.88.0.0/16");
        n = net("0.0.0.0/0");
        assert_string_equal(ipv4_net_format(&n, buf), "0.0.0.0/0");
        n = net("192.168.7.4/30");
        assert_string_equal(ipv4_net_format(&n, buf), "192.168.7.4/30");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (ipv4_net_parse(bad[i], &n) != -EINVAL)
                        fail_msg("\"%s\" was accepted", bad[i]);
        }
        /* Host bits set: refused, with the network it meant for the message. */
        assert_int_equal(ipv4_net_parse("10.88.0.1/16", &n), -EDOM);
        assert_string_equal(ipv4_net_format(&n, buf), "10.88.0.0/16");
}

static void test_subnet_relations(void **state) {
        Ipv4Net a = net("10.88.0.0/16"), b = net("10.88.5.0/24"), c = net("10.89.0.0/24"), all = net("0.0.0.0/0");
        Ipv4Net host = net("10.88.255.255/32");

        assert_true(ipv4_net_contains(&a, ip("10.88.0.0")));
        assert_true(ipv4_net_contains(&a, ip("10.88.255.255")));
        assert_false(ipv4_net_contains(&a, ip("10.89.0.0")));
        assert_false(ipv4_net_contains(&a, ip("10.87.255.255")));
        assert_true(ipv4_net_overlaps(&a, &b) && ipv4_net_overlaps(&b, &a));
        assert_false(ipv4_net_overlaps(&a, &c) || ipv4_net_overlaps(&c, &a));
        assert_false(ipv4_net_overlaps(&b, &c));
        assert_true(ipv4_net_overlaps(&all, &c) && ipv4_net_overlaps(&c, &all));
        assert_true(ipv4_net_overlaps(&a, &host) && ipv4_net_overlaps(&host, &a));
        assert_int_equal(ipv4_net_size(&a), 65536);
        assert_int_equal(ipv4_net_size(&all), UINT64_C(1) << 32);
        assert_int_equal(ipv4_net_host(&a, 1).s_addr, ip("10.88.0.1").s_addr);
        assert_int_equal(ipv4_net_host(&a, 65535).s_addr, ip("10.88.255.255").s_addr);
        assert_int_equal(ipv4_net_of(ip("10.88.77.3"), 24).addr.s_addr, ip("10.88.77.0").s_addr);
}

static void test_pool_size(void **state) {
        static const struct {
                const char *net;
                uint32_t size;
        } cases[] = {
                {"10.0.0.0/8", (1u << 24) - 3},
                {"10.88.0.0/16", 65533},
                {"10.88.0.0/24", 253},
                {"10.88.0.0/29", 5},
                {"10.88.0.0/30", 1},
                {"10.88.0.0/31", 0},
                {"10.88.0.1/32", 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Ipv4Net n = net(cases[i].net);
                assert_int_equal(ipam_pool_size(&n), cases[i].size);
        }
}

/* Every seed walks the whole pool, each address once, never the network, gateway or broadcast. */
static void test_candidates_cover_pool(void **state) {
        static const char *const nets[] = {"10.88.0.0/29", "10.88.0.0/30", "10.89.3.0/24", "172.16.0.0/23"};

        for (size_t i = 0; i < ELEMENTSOF(nets); i++) {
                Ipv4Net n = net(nets[i]);
                uint32_t pool = ipam_pool_size(&n);
                uint32_t base = ntohl(n.addr.s_addr);

                for (uint64_t seed = 0; seed < 40; seed++) {
                        _cleanup_free_ bool *seen = xzalloc(ipv4_net_size(&n));
                        uint64_t s = seed * UINT64_C(0x9e3779b97f4a7c15); /* spread over the whole range */

                        for (uint32_t k = 0; k < pool; k++) {
                                uint32_t off = ntohl(ipam_candidate(&n, s, k).s_addr) - base;
                                assert_true(off >= 2 && off <= ipv4_net_size(&n) - 2);
                                assert_false(seen[off]);
                                seen[off] = true;
                        }
                }
        }
}

static void test_seed_is_stable(void **state) {
        Ipv4Net n = net("10.88.0.0/16");
        char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

        assert_true(ipam_seed("web") == ipam_seed("web"));
        assert_true(ipam_seed("web") != ipam_seed("db"));
        /* The first choice of a name is a fixed address: a unit keeps its address across restarts. */
        assert_string_equal(ntoa(ipam_candidate(&n, ipam_seed("web"), 0), a),
                            ntoa(ipam_candidate(&n, ipam_seed("web"), 0), b));
}

static char *tmpdir(void) {
        char *d = xstrdup("/tmp/sup-test-ipam.XXXXXX");
        assert_non_null(mkdtemp(d));
        return d;
}

static char *read_lease(const char *dir, struct in_addr a) {
        char name[INET_ADDRSTRLEN], *text = NULL;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, ntoa(a, name));
        size_t n;

        if (read_full_file(path, 4096, &text, &n) < 0)
                return NULL;
        return text;
}

static void test_acquire_release(void **state) {
        _cleanup_free_ char *dir = tmpdir(), *text = NULL;
        Ipv4Net n = net("10.88.0.0/24");
        IpamLease web = IPAM_LEASE_NULL, db = IPAM_LEASE_NULL, again = IPAM_LEASE_NULL;
        struct in_addr first;

        assert_int_equal(ipam_acquire(dir, &n, "web", &web, NULL), 0);
        assert_true(web.lease.fd >= 0);
        assert_int_equal(web.address.s_addr, ipam_candidate(&n, ipam_seed("web"), 0).s_addr);
        text = read_lease(dir, web.address);
        assert_non_null(text);
        assert_string_equal(text, "web\n");
        first = web.address;

        assert_int_equal(ipam_acquire(dir, &n, "db", &db, NULL), 0);
        assert_int_not_equal(db.address.s_addr, web.address.s_addr);

        /* Released, the file is gone; the same owner gets the same address again. */
        assert_int_equal(ipam_release(&web), 0);
        assert_int_equal(web.lease.fd, -EBADF);
        assert_null(read_lease(dir, first));
        assert_int_equal(ipam_release(&web), 0); /* twice is fine */
        assert_int_equal(ipam_acquire(dir, &n, "web", &again, NULL), 0);
        assert_int_equal(again.address.s_addr, first.s_addr);

        assert_int_equal(ipam_release(&again), 0);
        assert_int_equal(ipam_release(&db), 0);
        assert_int_equal(rm_rf(dir), 0);
}

/* A lease file nobody holds a lock on (its monitor died) is taken over; a live one is not. */
static void test_stale_and_live_leases(void **state) {
        _cleanup_free_ char *dir = tmpdir(), *stale_path = NULL, *text = NULL;
        Ipv4Net n = net("10.88.0.0/24");
        struct in_addr want = ipam_candidate(&n, ipam_seed("api"), 0);
        IpamLease api = IPAM_LEASE_NULL, other = IPAM_LEASE_NULL;
        _cleanup_close_ int held = -EBADF;
        char name[INET_ADDRSTRLEN];

        stale_path = xasprintf("%s/%s", dir, ntoa(want, name));
        assert_int_equal(write_file_atomic(stale_path, "crashed\n", 8, 0644), 0);
        assert_int_equal(ipam_acquire(dir, &n, "api", &api, NULL), 0);
        assert_int_equal(api.address.s_addr, want.s_addr);
        text = read_lease(dir, want);
        assert_string_equal(text, "api\n");

        /* A lease whose lock somebody holds (flock conflicts between open file descriptions, so
         * this process stands in for another monitor): that address is skipped. */
        assert_int_equal(ipam_release(&api), 0);
        assert_int_equal(write_file_atomic(stale_path, "alive\n", 6, 0644), 0);
        held = open(stale_path, O_RDONLY | O_CLOEXEC);
        assert_true(held >= 0);
        assert_int_equal(flock(held, LOCK_EX), 0);
        assert_int_equal(ipam_acquire(dir, &n, "api", &other, NULL), 0);
        assert_int_not_equal(other.address.s_addr, want.s_addr);
        assert_int_equal(ipam_release(&other), 0);
        assert_int_equal(rm_rf(dir), 0);
}

static void test_pool_exhausted(void **state) {
        _cleanup_free_ char *dir = tmpdir();
        Ipv4Net n = net("10.88.0.0/29"); /* .2 to .6 */
        IpamLease l[6];
        char owner[16];

        for (size_t i = 0; i < 5; i++) {
                snprintf(owner, sizeof(owner), "u%zu", i);
                l[i] = IPAM_LEASE_NULL;
                assert_int_equal(ipam_acquire(dir, &n, owner, &l[i], NULL), 0);
        }
        l[5] = IPAM_LEASE_NULL;
        {
                _cleanup_sup_error_ SupError *e = NULL;
                assert_int_equal(ipam_acquire(dir, &n, "u5", &l[5], &e), -ENOSPC);
                /* What the operator reads when the pool is exhausted: which subnet to widen. */
                assert_string_equal(sup_error_message(e), "no free address left in the bridge subnet 10.88.0.0/29");
        }
        /* One gives its address back: the next asker gets exactly that one. */
        struct in_addr freed = l[2].address;
        assert_int_equal(ipam_release(&l[2]), 0);
        assert_int_equal(ipam_acquire(dir, &n, "u5", &l[5], NULL), 0);
        assert_int_equal(l[5].address.s_addr, freed.s_addr);
        for (size_t i = 0; i < 6; i++)
                assert_int_equal(ipam_release(&l[i]), 0);

        /* No room at all. */
        Ipv4Net tiny = net("10.88.0.0/31");
        IpamLease none = IPAM_LEASE_NULL;
        assert_int_equal(ipam_acquire(dir, &tiny, "x", &none, NULL), -ENOSPC);
        assert_int_equal(rm_rf(dir), 0);
}

/* Processes racing for the addresses of a small pool all get different ones; when they die
 * without releasing, their leases are stale and the whole pool can be leased again. */
static void test_concurrent_processes(void **state) {
        enum { N = 12 };
        _cleanup_free_ char *dir = tmpdir();
        Ipv4Net n = net("10.88.0.0/28"); /* a pool of 13 */
        int start[2], done[2], report[2];
        pid_t pids[N];
        uint32_t got[N];
        IpamLease again[13];

        assert_int_equal(pipe2(start, O_CLOEXEC), 0);
        assert_int_equal(pipe2(done, O_CLOEXEC), 0);
        assert_int_equal(pipe2(report, O_CLOEXEC), 0);
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        IpamLease l = IPAM_LEASE_NULL;
                        char owner[16], c;
                        uint32_t a = 0;

                        close(start[1]);
                        close(done[1]);
                        /* Everyone starts at once, as the same owner: all race for the same
                         * first address, and then for the next. */
                        (void) !read(start[0], &c, 1);
                        snprintf(owner, sizeof(owner), "same");
                        if (ipam_acquire(dir, &n, owner, &l, NULL) == 0)
                                a = l.address.s_addr;
                        (void) !write(report[1], &a, sizeof(a));
                        (void) !read(done[0], &c, 1); /* hold the lease until told */
                        _exit(0);                     /* dies holding it: a crash, as far as IPAM knows */
                }
        }
        close(start[0]);
        close(done[0]);
        close(report[1]);
        close(start[1]); /* go */
        for (int i = 0; i < N; i++) {
                assert_int_equal(read(report[0], &got[i], sizeof(got[i])), (ssize_t) sizeof(got[i]));
                assert_true(got[i] != 0);
                for (int j = 0; j < i; j++)
                        assert_true(got[i] != got[j]);
        }
        close(done[1]);
        for (int i = 0; i < N; i++)
                assert_int_equal(waitpid(pids[i], NULL, 0), pids[i]);
        close(report[0]);

        /* Twelve stale leases and one free address: all thirteen can be had. */
        for (int i = 0; i < 13; i++) {
                char owner[16];
                snprintf(owner, sizeof(owner), "new%d", i);
                again[i] = IPAM_LEASE_NULL;
                assert_int_equal(ipam_acquire(dir, &n, owner, &again[i], NULL), 0);
        }
        for (int i = 0; i < 13; i++)
                assert_int_equal(ipam_release(&again[i]), 0);
        assert_int_equal(rm_rf(dir), 0);
}

static Ipv6Net net6(const char *s) {
        Ipv6Net n;
        assert_int_equal(ipv6_net_parse(s, &n), 0);
        return n;
}

static const char *ntoa6(const struct in6_addr *a, char buf[INET6_ADDRSTRLEN]) {
        return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

static void test_subnet6(void **state) {
        char buf[IPV6_NET_STRLEN], a[INET6_ADDRSTRLEN];
        Ipv6Net n, x = net6("fd53:1:2::/64"), wider = net6("fd53:1::/32"), other = net6("fd53:1:3::/64");
        struct in6_addr h;
        static const char *const bad[] = {
                "fd53::",    "fd53::/",    "/64",        "fd53::/129", "fd53::/064", "fd53::/6a",
                "fd53::/-1", "10.0.0.0/8", "fd53:::/64", "x/64",       "fd53::/64 ", "",
        };

        assert_string_equal(ipv6_net_format(&x, buf), "fd53:1:2::/64");
        n = net6("::/0");
        assert_string_equal(ipv6_net_format(&n, buf), "::/0");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (ipv6_net_parse(bad[i], &n) != -EINVAL)
                        fail_msg("\"%s\" was accepted", bad[i]);
        /* Host bits set: refused, with the network it meant. */
        assert_int_equal(ipv6_net_parse("fd53:1:2::1/64", &n), -EDOM);
        assert_string_equal(ipv6_net_format(&n, buf), "fd53:1:2::/64");
        assert_int_equal(ipv6_net_parse("fd53:1:2:ffc0::/57", &n), -EDOM); /* a prefix inside a byte */
        assert_string_equal(ipv6_net_format(&n, buf), "fd53:1:2:ff80::/57");

        assert_true(ipv6_net_overlaps(&x, &wider) && ipv6_net_overlaps(&wider, &x));
        assert_false(ipv6_net_overlaps(&x, &other));
        /* Offsets count in the low 64 bits, with the carry across bytes. */
        h = ipv6_net_host(&x, 1);
        assert_string_equal(ntoa6(&h, a), "fd53:1:2::1");
        h = ipv6_net_host(&x, 0x1ff);
        assert_string_equal(ntoa6(&h, a), "fd53:1:2::1ff");
        h = ipv6_net_host(&x, UINT64_MAX);
        assert_string_equal(ntoa6(&h, a), "fd53:1:2:0:ffff:ffff:ffff:ffff");
        assert_true(ipv6_net_contains(&x, &h));
}

static void test_pool6(void **state) {
        Ipv6Net n64 = net6("fd53:1:2::/64"), n126 = net6("fd53:1:2::/126"), n48 = net6("fd53::/48");
        char a[INET6_ADDRSTRLEN];
        struct in6_addr c;

        assert_true(ipam6_pool_size(&n64) == UINT64_MAX - 1);
        assert_int_equal(ipam6_pool_size(&n126), 2); /* ::2, ::3 */
        assert_int_equal(ipam6_pool_size(&n48), 0);
        /* The walk over a small pool: every address once, never ::0 (subnet-router anycast) or
         * ::1 (the gateway). */
        for (uint64_t seed = 0; seed < 4; seed++) {
                struct in6_addr x = ipam6_candidate(&n126, seed, 0), y = ipam6_candidate(&n126, seed, 1);
                assert_int_not_equal(memcmp(&x, &y, sizeof(x)), 0);
                assert_true(x.s6_addr[15] >= 2 && y.s6_addr[15] >= 2);
                struct in6_addr z = ipam6_candidate(&n126, seed, 2);
                assert_true(memcmp(&x, &z, sizeof(x)) == 0);
        }
        /* A seed near the top of a /64 wraps around without overflowing into the prefix. */
        c = ipam6_candidate(&n64, UINT64_MAX - 2, 0);
        assert_string_equal(ntoa6(&c, a), "fd53:1:2:0:ffff:ffff:ffff:ffff");
        c = ipam6_candidate(&n64, UINT64_MAX - 3, 0);
        assert_string_equal(ntoa6(&c, a), "fd53:1:2:0:ffff:ffff:ffff:fffe");
        c = ipam6_candidate(&n64, UINT64_MAX - 3, 2);
        assert_string_equal(ntoa6(&c, a), "fd53:1:2::2");
        c = ipam6_candidate(&n64, UINT64_MAX - 1, 0); /* seed % pool == 0 */
        assert_string_equal(ntoa6(&c, a), "fd53:1:2::2");
        c = ipam6_candidate(&n64, 5, 0);
        assert_string_equal(ntoa6(&c, a), "fd53:1:2::7");
}

static void test_acquire6(void **state) {
        _cleanup_free_ char *dir = tmpdir(), *path = NULL, *text = NULL;
        Ipv6Net n = net6("fd53:1:2::/126");
        IpamLease6 web = IPAM_LEASE6_NULL, db = IPAM_LEASE6_NULL, full = IPAM_LEASE6_NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        char a[INET6_ADDRSTRLEN];

        assert_int_equal(ipam_acquire6(dir, &n, "web", &web, NULL), 0);
        struct in6_addr want = ipam6_candidate(&n, ipam_seed("web"), 0);
        assert_true(memcmp(&web.address, &want, sizeof(want)) == 0);
        /* A lease file named by the address, in the same directory as the IPv4 ones. */
        path = xasprintf("%s/%s", dir, ntoa6(&web.address, a));
        assert_int_equal(read_full_file(path, 4096, &text, NULL), 0);
        assert_string_equal(text, "web\n");
        assert_int_equal(ipam_acquire6(dir, &n, "db", &db, NULL), 0);
        assert_int_not_equal(memcmp(&db.address, &web.address, sizeof(web.address)), 0);
        assert_int_equal(ipam_acquire6(dir, &n, "third", &full, &error), -ENOSPC);
        assert_non_null(strstr(error->message, "fd53:1:2::/126"));
        assert_int_equal(ipam_release6(&web), 0);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(ipam_release6(&db), 0);
        assert_int_equal(rm_rf(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subnet_parse),
                cmocka_unit_test(test_subnet_relations),
                cmocka_unit_test(test_pool_size),
                cmocka_unit_test(test_candidates_cover_pool),
                cmocka_unit_test(test_seed_is_stable),
                cmocka_unit_test(test_acquire_release),
                cmocka_unit_test(test_stale_and_live_leases),
                cmocka_unit_test(test_pool_exhausted),
                cmocka_unit_test(test_concurrent_processes),
                cmocka_unit_test(test_subnet6),
                cmocka_unit_test(test_pool6),
                cmocka_unit_test(test_acquire6),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
