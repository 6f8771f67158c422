/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <arpa/inet.h>

#include "alloc.h"
#include "bridge.h"
#include "macro.h"
#include "portmap.h"
#include "sha256.h"
#include "veth.h"

static void test_bridge_names(void **state) {
        char name[IFNAMSIZ], hash[65], want[IFNAMSIZ];

        bridge_name("sup", name);
        assert_string_equal(name, "sup0");
        bridge_name("sup-33f5dbe2", name);
        assert_string_equal(name, "sup-33f5db");
        /* Any other parent: a hash of it, never its text (which may be long or hold "/"). */
        sha256_hex("machine.slice/sup", strlen("machine.slice/sup"), hash);
        snprintf(want, sizeof(want), "sup-%.6s", hash);
        bridge_name("machine.slice/sup", name);
        assert_string_equal(name, want);
        bridge_name("sup-not-hex", name);
        assert_true(strneq(name, "sup-", 4) && strlen(name) == 10);
        assert_string_not_equal(name, "sup-not-he");
}

static void test_veth_names(void **state) {
        char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ], again[IFNAMSIZ];

        veth_name("sup", "web", a);
        veth_name("sup", "db", b);
        veth_name("sup-33f5dbe2", "web", c);
        veth_name("sup", "web", again);
        assert_int_equal(strlen(a), 9);
        assert_true(a[0] == 'v' && strspn(a + 1, "0123456789abcdef") == 8);
        assert_string_equal(a, again);
        assert_string_not_equal(a, b);
        assert_string_not_equal(a, c); /* another supd instance, the same unit name */
}

static void test_veth_mac(void **state) {
        struct in_addr a;
        uint8_t mac[6];
        static const uint8_t want[6] = {0x02, 0x53, 10, 88, 0, 7};

        assert_int_equal(inet_pton(AF_INET, "10.88.0.7", &a), 1);
        veth_mac_for(a, mac);
        assert_memory_equal(mac, want, 6);
}

static UnitSpec *unit_with_ports(const char *ports) {
        _cleanup_free_ char *yaml = xasprintf(MINIMAL_UNIT "ports: %s\n", ports);
        Diagnostics d = {};
        UnitSpec *u = NULL;

        assert_int_equal(parse_text("web.yaml", yaml, &d, &u), 0);
        diagnostics_done(&d);
        return u;
}

static PortmapTable table(bool outbound) {
        PortmapTable t = {.name = "sup0", .bridge = "sup0", .outbound = outbound};
        assert_int_equal(ipv4_net_parse("10.88.0.0/16", &t.subnet), 0);
        assert_int_equal(ipv6_net_parse("fd53:1:2::/64", &t.subnet6), 0);
        return t;
}

/* The unit's leased addresses in the scripts below. */
static void lease_addresses(struct in_addr *ret, struct in6_addr *ret6) {
        assert_int_equal(inet_pton(AF_INET, "10.88.0.7", ret), 1);
        assert_int_equal(inet_pton(AF_INET6, "fd53:1:2::7", ret6), 1);
}

#define BASE_HEAD                                                                                    \
        "add table inet sup0\n"                                                                      \
        "add chain inet sup0 guard { type filter hook prerouting priority raw; policy accept; }\n"   \
        "flush chain inet sup0 guard\n"                                                              \
        "add rule inet sup0 guard ip daddr 127.0.0.0/8 iif != \"lo\" drop\n"                         \
        "add rule inet sup0 guard ip6 daddr ::1 iif != \"lo\" drop\n"                                \
        "add chain inet sup0 forward { type filter hook forward priority filter; policy accept; }\n" \
        "flush chain inet sup0 forward\n"                                                            \
        "add rule inet sup0 forward iifname \"sup0\" oifname \"sup0\" accept\n"                      \
        "add rule inet sup0 forward iifname \"sup0\" ct status dnat accept\n"                        \
        "add rule inet sup0 forward oifname \"sup0\" ct status dnat accept\n"
#define BASE_DROPS                                                                                          \
        "add rule inet sup0 forward iifname \"sup0\" drop\n"                                                \
        "add rule inet sup0 forward oifname \"sup0\" drop\n"                                                \
        "add chain inet sup0 postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"   \
        "flush chain inet sup0 postrouting\n"                                                               \
        "add rule inet sup0 postrouting oifname \"sup0\" ip saddr 127.0.0.0/8 masquerade\n"                 \
        "add rule inet sup0 postrouting oifname \"sup0\" ip saddr 10.88.0.0/16 ct status dnat masquerade\n" \
        "add rule inet sup0 postrouting oifname \"sup0\" ip6 saddr fd53:1:2::/64 ct status dnat masquerade\n"

static void test_script_base(void **state) {
        PortmapTable t = table(false);
        _cleanup_free_ char *s = portmap_script_base(&t);

        /* supd --no-outbound: forwarding for published ports only, as before outbound existed. */
        assert_string_equal(s, BASE_HEAD BASE_DROPS);
}

static void test_script_base_outbound(void **state) {
        PortmapTable t = table(true);
        _cleanup_free_ char *s = portmap_script_base(&t);

        /* New connections from the bridge out and their replies back, before the drops; both
         * families masqueraded as the host when they leave by another interface. */
        assert_string_equal(
                s,
                BASE_HEAD "add rule inet sup0 forward iifname \"sup0\" accept\n"
                          "add rule inet sup0 forward oifname \"sup0\" ct state established,related accept\n" BASE_DROPS
                          "add rule inet sup0 postrouting iifname \"sup0\" oifname != \"sup0\" ip saddr 10.88.0.0/16 "
                          "masquerade\n"
                          "add rule inet sup0 postrouting iifname \"sup0\" oifname != \"sup0\" ip6 saddr "
                          "fd53:1:2::/64 masquerade\n");
}

static void test_script_base_forward_guard(void **state) {
        PortmapTable t = table(false);
        _cleanup_free_ char *none = NULL, *both = NULL, *v6 = NULL;

        /* Forwarding was on before sup (the admin's router): the host's other traffic is not
         * sup's to drop, and a guard left by an earlier monitor is not flushed either. */
        none = portmap_script_base(&t);
        assert_null(strstr(none, "forward_guard"));
        /* sup switched it on: forwarding that touches no sup bridge (of any instance) dropped,
         * in a chain of its own that the shared forward chain's rules cannot accept past. */
        t.guard = t.guard6 = true;
        both = portmap_script_base(&t);
        assert_non_null(strstr(
                both,
                "add chain inet sup0 forward_guard { type filter hook forward priority filter; policy accept; }\n"
                "flush chain inet sup0 forward_guard\n"
                "add rule inet sup0 forward_guard meta nfproto ipv4 iifname != \"sup*\" oifname != \"sup*\" drop\n"
                "add rule inet sup0 forward_guard meta nfproto ipv6 iifname != \"sup*\" oifname != \"sup*\" drop\n"
                "add chain inet sup0 postrouting "));
        /* Only IPv6 was sup's to switch: IPv4 forwarding stays the admin's. */
        t.guard = false;
        v6 = portmap_script_base(&t);
        assert_null(strstr(v6, "meta nfproto ipv4 iifname"));
        assert_non_null(strstr(v6, "forward_guard meta nfproto ipv6 iifname != \"sup*\" oifname != \"sup*\" drop\n"));
}

#define PUBLISH_TAIL                                                                                 \
        "add chain inet sup0 pre_web { type nat hook prerouting priority dstnat; policy accept; }\n" \
        "flush chain inet sup0 pre_web\n"                                                            \
        "add rule inet sup0 pre_web fib daddr type local jump dnat_web\n"                            \
        "add chain inet sup0 out_web { type nat hook output priority -100; policy accept; }\n"       \
        "flush chain inet sup0 out_web\n"                                                            \
        "add rule inet sup0 out_web ip6 daddr ::1 meta l4proto tcp return\n"                         \
        "add rule inet sup0 out_web fib daddr type local jump dnat_web\n"                            \
        "add chain inet sup0 egress_web { type filter hook forward priority -1; policy accept; }\n"  \
        "flush chain inet sup0 egress_web\n"

static void test_script_publish(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_with_ports(
                "[\"8080:80\", \"127.0.0.1:5353:53/udp\", \"[::1]:8443:443\", \"[fd00::5]:7000:70/udp\"]");
        PortmapTable t = table(true);
        struct in_addr to;
        struct in6_addr to6;
        _cleanup_free_ char *s = NULL;

        lease_addresses(&to, &to6);
        s = portmap_script_publish(&t, "web", u->ports, u->n_ports, to, &to6, true);
        /* A port without an address on both families; one with an address on its own. */
        assert_string_equal(
                s, "add table inet sup0\n"
                   "add chain inet sup0 dnat_web\n"
                   "flush chain inet sup0 dnat_web\n"
                   "add rule inet sup0 dnat_web meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.0.7:80\n"
                   "add rule inet sup0 dnat_web meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd53:1:2::7]:80\n"
                   "add rule inet sup0 dnat_web ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.88.0.7:53\n"
                   "add rule inet sup0 dnat_web ip6 daddr ::1 tcp dport 8443 dnat ip6 to [fd53:1:2::7]:443\n"
                   "add rule inet sup0 dnat_web ip6 daddr fd00::5 udp dport 7000 dnat ip6 to "
                   "[fd53:1:2::7]:70\n" PUBLISH_TAIL);
}

static void test_script_publish_no_outbound(void **state) {
        PortmapTable t = table(true);
        struct in_addr to;
        struct in6_addr to6;
        _cleanup_free_ char *s = NULL, *off = NULL;

        lease_addresses(&to, &to6);
        /* outbound: false: the unit's addresses are dropped on the way out, but for the replies
         * of its published ports; the chain goes with the unit's others. */
        s = portmap_script_publish(&t, "web", NULL, 0, to, &to6, false);
        assert_string_equal(
                s, "add table inet sup0\n"
                   "add chain inet sup0 dnat_web\n"
                   "flush chain inet sup0 dnat_web\n" PUBLISH_TAIL
                   "add rule inet sup0 egress_web iifname \"sup0\" oifname != \"sup0\" ct status dnat accept\n"
                   "add rule inet sup0 egress_web iifname \"sup0\" oifname != \"sup0\" ip saddr 10.88.0.7 drop\n"
                   "add rule inet sup0 egress_web iifname \"sup0\" oifname != \"sup0\" ip6 saddr fd53:1:2::7 "
                   "drop\n");
        assert_true(portmap_unit_has_chains(&t, 0, false));
        assert_false(portmap_unit_has_chains(&t, 0, true));
        assert_true(portmap_unit_has_chains(&t, 1, true));
        /* supd --no-outbound: the shared chain drops it all already; no chain of its own. */
        t.outbound = false;
        off = portmap_script_publish(&t, "web", NULL, 0, to, &to6, false);
        assert_string_equal(off, "add table inet sup0\n"
                                 "add chain inet sup0 dnat_web\n"
                                 "flush chain inet sup0 dnat_web\n" PUBLISH_TAIL);
        assert_false(portmap_unit_has_chains(&t, 0, false));
}

/* The fault: on a host with IPv6 off there is no IPv6 lease, and the rules sent the ports to
 * [::]. Without an IPv6 address, IPv4 rules only. */
static void test_script_publish_no_ipv6(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_with_ports("[\"8080:80\"]");
        PortmapTable t = table(true);
        struct in_addr to;
        _cleanup_free_ char *s = NULL;

        assert_int_equal(inet_pton(AF_INET, "10.88.0.7", &to), 1);
        s = portmap_script_publish(&t, "web", u->ports, u->n_ports, to, NULL, false);
        assert_string_equal(
                s, "add table inet sup0\n"
                   "add chain inet sup0 dnat_web\n"
                   "flush chain inet sup0 dnat_web\n"
                   "add rule inet sup0 dnat_web meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.0.7:80\n" PUBLISH_TAIL
                   "add rule inet sup0 egress_web iifname \"sup0\" oifname != \"sup0\" ct status dnat accept\n"
                   "add rule inet sup0 egress_web iifname \"sup0\" oifname != \"sup0\" ip saddr 10.88.0.7 drop\n");
}

/* The fault: outbound: false went by source address only, and a container could take another's
 * (or any) address, or send router advertisements to its neighbours on the bridge. From its
 * veth, only its own addresses pass, link-local and :: too (neighbour discovery), in the bridge
 * family, which sees frames between containers too. */
static void test_script_spoof(void **state) {
        PortmapTable t = table(true);
        struct in_addr to;
        struct in6_addr to6;
        _cleanup_free_ char *s = NULL, *v4 = NULL;

        lease_addresses(&to, &to6);
        s = portmap_script_spoof(&t, "web", "v0123abcd", to, &to6);
        assert_string_equal(
                s, "add table bridge sup0\n"
                   "add chain bridge sup0 spoof_web { type filter hook prerouting priority filter; policy accept; }\n"
                   "flush chain bridge sup0 spoof_web\n"
                   "add rule bridge sup0 spoof_web iifname \"v0123abcd\" ip saddr != 10.88.0.7 drop\n"
                   "add rule bridge sup0 spoof_web iifname \"v0123abcd\" ip6 saddr != { fd53:1:2::7, fe80::/10, :: } "
                   "drop\n"
                   "add rule bridge sup0 spoof_web iifname \"v0123abcd\" icmpv6 type nd-router-advert drop\n");
        /* IPv6 off on the host: no IPv6 address to allow. */
        v4 = portmap_script_spoof(&t, "web", "v0123abcd", to, NULL);
        assert_null(strstr(v4, "ip6 saddr"));
        assert_non_null(strstr(v4, "ip saddr != 10.88.0.7 drop\n"));
}

static void test_script_unpublish_and_drop(void **state) {
        PortmapTable t = table(true);
        _cleanup_free_ char *un = portmap_script_unpublish(&t, "web"), *drop = portmap_script_drop(&t);

        /* Whether the chains exist or not (add is a no-op when they do), and the jumps first. */
        assert_string_equal(
                un, "add table inet sup0\n"
                    "add chain inet sup0 pre_web { type nat hook prerouting priority dstnat; policy accept; }\n"
                    "flush chain inet sup0 pre_web\n"
                    "delete chain inet sup0 pre_web\n"
                    "add chain inet sup0 out_web { type nat hook output priority -100; policy accept; }\n"
                    "flush chain inet sup0 out_web\n"
                    "delete chain inet sup0 out_web\n"
                    "add chain inet sup0 dnat_web\n"
                    "flush chain inet sup0 dnat_web\n"
                    "delete chain inet sup0 dnat_web\n"
                    "add chain inet sup0 egress_web { type filter hook forward priority -1; policy accept; }\n"
                    "flush chain inet sup0 egress_web\n"
                    "delete chain inet sup0 egress_web\n"
                    "add table bridge sup0\n"
                    "add chain bridge sup0 spoof_web { type filter hook prerouting priority filter; policy accept; }\n"
                    "flush chain bridge sup0 spoof_web\n"
                    "delete chain bridge sup0 spoof_web\n");
        assert_string_equal(drop, "add table inet sup0\ndelete table inet sup0\n"
                                  "add table bridge sup0\ndelete table bridge sup0\n");
}

static void test_default_subnet6(void **state) {
        char buf[IPV6_NET_STRLEN], hash[65], want[IPV6_NET_STRLEN];
        _cleanup_free_ char *key = xstrdup("sup bridge sup0");
        Ipv6Net a, b, again;

        bridge_default_subnet6("sup0", &a);
        bridge_default_subnet6("sup-33f5db", &b);
        bridge_default_subnet6("sup0", &again);
        /* fd, then the first 40 bits of the hash, subnet ID 0: a /64 of RFC 4193's kind. */
        sha256_hex(key, strlen(key), hash);
        snprintf(want, sizeof(want), "fd%.2s:%.4s:%.4s::/64", hash, hash + 2, hash + 6);
        ipv6_net_format(&a, buf);
        /* inet_ntop drops leading zeros of a group: compare the parsed forms. */
        assert_int_equal(ipv6_net_parse(want, &again), 0);
        assert_memory_equal(&a.addr, &again.addr, sizeof(a.addr));
        assert_int_equal(a.prefix, 64);
        assert_false(ipv6_net_overlaps(&a, &b)); /* two instances, two subnets */
        assert_int_equal(a.addr.s6_addr[0], 0xfd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bridge_names),
                cmocka_unit_test(test_veth_names),
                cmocka_unit_test(test_veth_mac),
                cmocka_unit_test(test_script_base),
                cmocka_unit_test(test_script_publish),
                cmocka_unit_test(test_script_unpublish_and_drop),
                cmocka_unit_test(test_script_base_outbound),
                cmocka_unit_test(test_script_base_forward_guard),
                cmocka_unit_test(test_script_publish_no_outbound),
                cmocka_unit_test(test_script_publish_no_ipv6),
                cmocka_unit_test(test_script_spoof),
                cmocka_unit_test(test_default_subnet6),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
