/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/capability.h>

#include "alloc.h"
#include "unit-value.h"

static uint64_t size_ok(const char *s) {
        uint64_t v = 0;
        assert_int_equal(parse_size(s, &v, NULL), 0);
        return v;
}

static const char *size_bad(const char *s) {
        const char *reason = NULL;
        uint64_t v = 12345;
        assert_true(parse_size(s, &v, &reason) < 0);
        assert_int_equal(v, 12345); /* outputs untouched on failure */
        assert_non_null(reason);
        return reason;
}

static void test_size(void **state) {
        assert_int_equal(size_ok("0"), 0);
        assert_int_equal(size_ok("65536"), 65536);
        assert_int_equal(size_ok("512B"), 512);
        assert_int_equal(size_ok("64M"), 64ULL << 20);
        assert_int_equal(size_ok("64Mi"), 64ULL << 20);
        assert_int_equal(size_ok("64MiB"), 64ULL << 20);
        assert_int_equal(size_ok("1.5G"), 3ULL << 29);
        assert_int_equal(size_ok("2T"), 2ULL << 40);
        assert_int_equal(size_ok("1K"), 1024);
        assert_int_equal(size_ok("0.001K"), 1); /* rounded down to whole bytes */
        /* The ambiguous decimal suffixes: KB might be 1000 or 1024. */
        assert_non_null(strstr(size_bad("64MB"), "ambiguous"));
        /* Lower case: m is milli in Kubernetes, mega in Docker. */
        assert_non_null(strstr(size_bad("64m"), "upper case"));
        size_bad("");
        size_bad("M");
        size_bad("-1M");
        size_bad("1.M");
        size_bad("1.0001M"); /* more than three decimals */
        size_bad("64 M");
        size_bad("64X");
        /* Overflow is an error, not a wrap to a small limit. */
        size_bad("18446744073709551616");
        size_bad("20000000T");
}

static usec_t duration_ok(const char *s) {
        usec_t v = 0;
        assert_int_equal(parse_duration(s, &v, NULL), 0);
        return v;
}

static void duration_bad(const char *s) {
        const char *reason = NULL;
        usec_t v = 7;
        assert_true(parse_duration(s, &v, &reason) < 0);
        assert_int_equal(v, 7);
        assert_non_null(reason);
}

static void test_duration(void **state) {
        assert_int_equal(duration_ok("500ms"), 500 * USEC_PER_MSEC);
        assert_int_equal(duration_ok("10s"), 10 * USEC_PER_SEC);
        assert_int_equal(duration_ok("1m30s"), 90 * USEC_PER_SEC);
        assert_int_equal(duration_ok("1.5s"), 1500 * USEC_PER_MSEC);
        assert_int_equal(duration_ok("2h"), 2 * USEC_PER_HOUR);
        assert_int_equal(duration_ok("1d"), USEC_PER_DAY);
        assert_int_equal(duration_ok("250us"), 250);
        assert_int_equal(duration_ok("0s"), 0);
        assert_int_equal(duration_ok("1h1m1s1ms1us"), USEC_PER_HOUR + USEC_PER_MINUTE + USEC_PER_SEC + 1001);
        duration_bad("10");     /* seconds or milliseconds? */
        duration_bad("");
        duration_bad("s");
        duration_bad("10x");
        duration_bad("10 s");
        duration_bad("-1s");
        duration_bad("1.2345s");
        duration_bad("10sec");
        duration_bad("99999999999999999999d");
}

static void test_duration_format_round_trip(void **state) {
        static const char *const canonical[] = { "0s", "1us", "500ms", "1s500ms", "1m30s", "2h", "1d1h1m1s1ms1us" };

        for (size_t i = 0; i < ELEMENTSOF(canonical); i++) {
                _cleanup_free_ char *s = format_duration(duration_ok(canonical[i]));
                assert_string_equal(s, canonical[i]);
        }
        _cleanup_free_ char *s = format_duration(duration_ok("90s"));
        assert_string_equal(s, "1m30s");
}

static PortSpec port_ok(const char *s) {
        PortSpec p;
        assert_int_equal(parse_port_spec(s, &p, NULL), 0);
        return p;
}

static void port_bad(const char *s) {
        const char *reason = NULL;
        PortSpec p;
        assert_true(parse_port_spec(s, &p, &reason) < 0);
        assert_non_null(reason);
}

static void test_port_spec(void **state) {
        PortSpec p;
        char buf[INET6_ADDRSTRLEN];

        p = port_ok("8080:80");
        assert_int_equal(p.family, AF_UNSPEC);
        assert_int_equal(p.host_port, 8080);
        assert_int_equal(p.container_port, 80);
        assert_int_equal(p.protocol, PORT_TCP);

        p = port_ok("127.0.0.1:5353:53/udp");
        assert_int_equal(p.family, AF_INET);
        assert_string_equal(inet_ntop(AF_INET, &p.address.in, buf, sizeof(buf)), "127.0.0.1");
        assert_int_equal(p.protocol, PORT_UDP);

        p = port_ok("[::1]:8443:443/tcp");
        assert_int_equal(p.family, AF_INET6);
        assert_string_equal(inet_ntop(AF_INET6, &p.address.in6, buf, sizeof(buf)), "::1");
        assert_int_equal(p.host_port, 8443);

        port_bad("80");           /* no container port */
        port_bad("8080:80:90");   /* not an address */
        port_bad("8080:80/sctp"); /* protocol */
        port_bad("0:80");         /* port 0 */
        port_bad("65536:80");
        port_bad("8080:");
        port_bad(":80");
        port_bad("::1:8080:80"); /* IPv6 without brackets */
        port_bad("[::1]8080:80");
        port_bad("[zz]:8080:80");
        port_bad("300.1.1.1:80:80");
        port_bad("08080:80"); /* leading zero */
}

static void test_port_format_and_conflicts(void **state) {
        static const char *const canonical[] = { "8080:80/tcp", "127.0.0.1:5353:53/udp", "[::1]:8443:443/tcp" };
        for (size_t i = 0; i < ELEMENTSOF(canonical); i++) {
                PortSpec p = port_ok(canonical[i]);
                _cleanup_free_ char *s = format_port(&p);
                assert_string_equal(s, canonical[i]);
        }

        PortSpec all = port_ok("8080:80"), lo = port_ok("127.0.0.1:8080:81"), lo2 = port_ok("127.0.0.2:8080:81"),
                 v6 = port_ok("[::1]:8080:80"), any6 = port_ok("[::]:8080:80"), udp = port_ok("8080:80/udp"),
                 other = port_ok("8081:80"), any4 = port_ok("0.0.0.0:8080:80");
        assert_true(port_spec_conflicts(&all, &lo));   /* every address includes 127.0.0.1 */
        assert_false(port_spec_conflicts(&lo, &lo2));  /* two loopback addresses */
        assert_true(port_spec_conflicts(&lo, &lo));
        assert_false(port_spec_conflicts(&lo, &v6));
        assert_true(port_spec_conflicts(&any6, &lo)); /* [::] is dual-stack */
        assert_true(port_spec_conflicts(&any4, &lo));
        assert_false(port_spec_conflicts(&all, &udp)); /* different protocols */
        assert_false(port_spec_conflicts(&all, &other));
}

static void test_signal(void **state) {
        int sig = 0;
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(parse_signal("SIGTERM", &sig), 0);
        assert_int_equal(sig, SIGTERM);
        assert_int_equal(parse_signal("INT", &sig), 0);
        assert_int_equal(sig, SIGINT);
        assert_int_equal(parse_signal("SIGRTMIN+3", &sig), 0);
        assert_int_equal(sig, SIGRTMIN + 3);
        a = format_signal(sig);
        assert_string_equal(a, "SIGRTMIN+3");
        assert_int_equal(parse_signal("RTMAX-1", &sig), 0);
        assert_int_equal(sig, SIGRTMAX - 1);
        b = format_signal(SIGKILL);
        assert_string_equal(b, "SIGKILL");
        assert_true(parse_signal("sigterm", &sig) < 0); /* names are upper case */
        assert_true(parse_signal("15", &sig) < 0);      /* numbers differ between architectures */
        assert_true(parse_signal("SIGFOO", &sig) < 0);
        assert_true(parse_signal("SIGRTMIN+99", &sig) < 0);
        assert_true(parse_signal("", &sig) < 0);
}

static void test_capability(void **state) {
        unsigned cap = 0;
        _cleanup_free_ char *name = NULL;

        assert_int_equal(parse_capability("NET_BIND_SERVICE", &cap), 0);
        assert_int_equal(cap, CAP_NET_BIND_SERVICE);
        assert_int_equal(parse_capability("CAP_SYS_ADMIN", &cap), 0);
        assert_int_equal(cap, CAP_SYS_ADMIN);
        assert_int_equal(parse_capability("cap_chown", &cap), 0);
        assert_int_equal(cap, CAP_CHOWN);
        name = format_capability(CAP_NET_BIND_SERVICE);
        assert_string_equal(name, "NET_BIND_SERVICE");
        assert_true(parse_capability("12", &cap) < 0); /* libcap takes numbers; units name them */
        assert_true(parse_capability("NET_BIND", &cap) < 0);
        assert_true(parse_capability("CAP_", &cap) < 0);
        assert_true(parse_capability("NET BIND", &cap) < 0);
        assert_true(parse_capability("ALL", &cap) < 0); /* the parser's business */
}

static void test_cpus(void **state) {
        uint32_t m = 0;
        const char *reason;

        assert_int_equal(parse_cpus("0.5", &m, NULL), 0);
        assert_int_equal(m, 500);
        assert_int_equal(parse_cpus("2", &m, NULL), 0);
        assert_int_equal(m, 2000);
        assert_int_equal(parse_cpus("0.001", &m, NULL), 0);
        assert_int_equal(m, 1);
        assert_int_equal(parse_cpus("1024", &m, NULL), 0);
        assert_true(parse_cpus("0", &m, &reason) < 0);
        assert_true(parse_cpus("1025", &m, &reason) < 0);
        assert_true(parse_cpus("0.0001", &m, &reason) < 0);
        assert_true(parse_cpus(".5", &m, &reason) < 0);
        assert_true(parse_cpus("1e3", &m, &reason) < 0);
        assert_true(parse_cpus("-1", &m, &reason) < 0);
}

static void test_mode(void **state) {
        mode_t m = 0;
        assert_int_equal(parse_mode("1777", &m), 0);
        assert_int_equal(m, 01777);
        assert_int_equal(parse_mode("755", &m), 0);
        assert_int_equal(m, 0755);
        assert_true(parse_mode("0799", &m) < 0);
        assert_true(parse_mode("17777", &m) < 0);
        assert_true(parse_mode("75", &m) < 0);
}

static void test_decimal(void **state) {
        uint64_t v;
        assert_int_equal(parse_decimal("0", 10, &v), 0);
        assert_int_equal(parse_decimal("18446744073709551615", UINT64_MAX, &v), 0);
        assert_int_equal(v, UINT64_MAX);
        assert_int_equal(parse_decimal("18446744073709551616", UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_decimal("11", 10, &v), -ERANGE);
        assert_int_equal(parse_decimal("010", 100, &v), -EINVAL); /* octal-looking */
        assert_int_equal(parse_decimal("", 100, &v), -EINVAL);
        assert_int_equal(parse_decimal("+1", 100, &v), -EINVAL);
}

static void test_names(void **state) {
        assert_true(unit_name_is_valid("web"));
        assert_true(unit_name_is_valid("db-1"));
        assert_true(unit_name_is_valid("a"));
        assert_false(unit_name_is_valid(""));
        assert_false(unit_name_is_valid("-web"));
        assert_false(unit_name_is_valid("web-"));
        assert_false(unit_name_is_valid("Web"));
        assert_false(unit_name_is_valid("web_1"));
        assert_false(unit_name_is_valid("memory.max")); /* would collide with a cgroup control file */
        assert_false(unit_name_is_valid(".."));
        assert_false(unit_name_is_valid("a/b")); /* a path, not a name */
        assert_false(unit_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 64 */

        assert_true(hostname_is_valid("web"));
        assert_true(hostname_is_valid("web.example.com"));
        assert_true(hostname_is_valid("Web-1"));
        assert_false(hostname_is_valid("web..example"));
        assert_false(hostname_is_valid("-web"));
        assert_false(hostname_is_valid("we b"));
        assert_false(hostname_is_valid(""));

        assert_true(env_name_is_valid("PATH"));
        assert_true(env_name_is_valid("_x1"));
        assert_false(env_name_is_valid("1X"));
        assert_false(env_name_is_valid("A-B"));
        assert_false(env_name_is_valid("A=B"));
        assert_false(env_name_is_valid(""));

        assert_true(user_is_valid("0"));
        assert_true(user_is_valid("1000:1000"));
        assert_true(user_is_valid("app"));
        assert_true(user_is_valid("app:staff"));
        assert_true(user_is_valid("app:100"));
        assert_false(user_is_valid("4294967295")); /* (uid_t) -1 */
        assert_false(user_is_valid("1000:"));
        assert_false(user_is_valid(":1000"));
        assert_false(user_is_valid("App"));
        assert_false(user_is_valid("a b"));
        assert_false(user_is_valid("1:2:3"));
}

static void test_yaml_kinds(void **state) {
        static const struct {
                const char *text;
                const char *kind;
        } cases[] = {
                { "no", "boolean" },      { "Yes", "boolean" },       { "on", "boolean" },   { "OFF", "boolean" },
                { "y", "boolean" },       { "true", "boolean" },      { "~", "null" },       { "null", "null" },
                { "", "null" },           { "0755", "integer" },      { "42", "integer" },   { "0x1F", "integer" },
                { "0o17", "integer" },    { "1_000", "integer" },     { "22:22", "integer" }, /* base 60 */
                { "1.10", "float" },      { "1e3", "float" },         { ".inf", "float" },   { "2024-01-02", "timestamp" },
                { "8080:80", NULL },      /* 80 is not a base-60 digit pair */
                { "8080:80/tcp", NULL },  { "web", NULL },            { "64M", NULL },       { "10s", NULL },
                { "noo", NULL },          { "/bin/true", NULL },      { "1.2.3", NULL },     { "v1.0", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *k = yaml_plain_scalar_kind(cases[i].text);
                if (cases[i].kind)
                        assert_string_equal(k ? k : "(string)", cases[i].kind);
                else if (k)
                        fail_msg("\"%s\" classified as %s", cases[i].text, k);
        }
}

static void test_enum_tables_round_trip(void **state) {
#define ROUND_TRIP(name, max)                                                         \
        for (int i = 0; i < (int) (max); i++) {                                       \
                const char *s = name##_to_string(i);                                  \
                assert_non_null(s);                                                   \
                assert_int_equal((int) name##_from_string(s), i);                     \
        }                                                                             \
        assert_null(name##_to_string(max));                                          \
        assert_null(name##_to_string(-1));                                            \
        assert_int_equal((int) name##_from_string("no-such-value"), -EINVAL);         \
        assert_int_equal((int) name##_from_string(NULL), -EINVAL);

        ROUND_TRIP(isolation, _ISOLATION_MAX);
        ROUND_TRIP(layer_type, _LAYER_TYPE_MAX);
        ROUND_TRIP(network_mode, _NETWORK_MODE_MAX);
        ROUND_TRIP(port_protocol, _PORT_PROTOCOL_MAX);
        ROUND_TRIP(mount_type, _MOUNT_TYPE_MAX);
        ROUND_TRIP(seccomp_mode, _SECCOMP_MODE_MAX);
        ROUND_TRIP(user_namespace_mode, _USER_NAMESPACE_MODE_MAX);
        ROUND_TRIP(restart_policy, _RESTART_POLICY_MAX);
        ROUND_TRIP(health_action, _HEALTH_ACTION_MAX);
        ROUND_TRIP(vm_machine, _VM_MACHINE_MAX);
        ROUND_TRIP(vm_accel, _VM_ACCEL_MAX);
#undef ROUND_TRIP
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_duration_format_round_trip),
                cmocka_unit_test(test_port_spec),
                cmocka_unit_test(test_port_format_and_conflicts),
                cmocka_unit_test(test_signal),
                cmocka_unit_test(test_capability),
                cmocka_unit_test(test_cpus),
                cmocka_unit_test(test_mode),
                cmocka_unit_test(test_decimal),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_yaml_kinds),
                cmocka_unit_test(test_enum_tables_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
