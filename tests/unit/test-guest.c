/* SPDX-License-Identifier: MIT */
/* The parts of sup-init that run anywhere: the agent protocol, the unit's spec as the guest reads
 * it, the environment and user of the command, the modules list, the lookups in sysfs and /proc
 * (against directories the test makes). */
#include "test-helpers.h"

#include <arpa/inet.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "base64.h"
#include "caps.h"
#include "fileio.h"
#include "guest-boot.h"
#include "guest-probe.h"
#include "guest-proto.h"
#include "image.h"
#include "string-util.h"
#include "vm-exec.h"
#include "workload.h"

static json_t *parse_json(const char *s) {
        json_error_t e;
        json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
        if (!j)
                fail_msg("bad JSON in the test: %s: %s", s, e.text);
        return j;
}

static void test_events(void **state) {
        assert_json(guest_event_hello(), "{\"event\":\"hello\"}");
        assert_json(guest_event_started(84), "{\"event\":\"started\",\"pid\":84}");
        assert_json(guest_event_exit(3, 0, false), "{\"event\":\"exit\",\"code\":3}");
        assert_json(guest_event_exit(0, 15, false), "{\"event\":\"exit\",\"signal\":15}");
        assert_json(guest_event_exit(-1, 9, true), "{\"event\":\"exit\",\"signal\":9,\"oom\":true}");
        assert_json(guest_event_error("no disk /dev/vdb"), "{\"event\":\"error\",\"message\":\"no disk /dev/vdb\"}");
        /* The command's own setup: the exit status process isolation gives it travels with it. */
        assert_json(guest_event_setup_error("cannot execute /x: Permission denied", workload_exit_code(-EACCES)),
                    "{\"event\":\"error\",\"message\":\"cannot execute /x: Permission denied\",\"code\":126}");
        assert_int_equal(workload_exit_code(-ENOENT), 127);
        assert_json(guest_event_refused("unknown command \"x\""),
                    "{\"event\":\"refused\",\"message\":\"unknown command \\\"x\\\"\"}");
        /* A path in a message need not be UTF-8; the event still goes out. */
        assert_json(guest_event_error("no disk /dev/\xff"),
                    "{\"event\":\"error\",\"message\":\"(a message that is not valid UTF-8)\"}");
        assert_json(guest_event_ps(json_pack("[{s:i}]", "pid", 1)), "{\"event\":\"ps\",\"processes\":[{\"pid\":1}]}");
}

static void test_command_table(void **state) {
        for (GuestCommandType t = 0; t < _GUEST_CMD_MAX; t++)
                assert_int_equal(guest_command_type_from_string(guest_command_type_to_string(t)), t);
        assert_int_equal(guest_command_type_from_string("reboot"), _GUEST_CMD_INVALID);
        assert_null(guest_command_type_to_string(_GUEST_CMD_MAX));
}

/* Decodes json as a command: true with *ret when it is valid and error is NULL; false when it is
 * refused with a message containing error; fails the test otherwise. */
static bool command_decodes(const char *json, const char *error, GuestCommand *ret) {
        json_t *j = parse_json(json);
        SupError *e = NULL;
        int r = guest_command_from_json(j, ret, &e);

        json_decref(j);
        if (error) {
                assert_int_equal(r, -EINVAL);
                assert_non_null(e);
                if (!strstr(sup_error_message(e), error))
                        fail_msg("%s: \"%s\" lacks \"%s\"", json, sup_error_message(e), error);
                sup_error_free(e);
                return false;
        }
        assert_int_equal(r, 0);
        assert_null(e);
        return true;
}

static void test_commands(void **state) {
        static const struct {
                const char *json;
                GuestCommandType type;
                int signal;
                uint64_t timeout_ms;
                const char *error; /* NULL: valid */
        } cases[] = {
                {"{\"cmd\":\"ps\"}", GUEST_CMD_PS, 0, 0, NULL},
                {"{\"cmd\":\"run\",\"spec\":{}}", GUEST_CMD_RUN, 0, 0, NULL},
                {"{\"cmd\":\"stop\",\"signal\":15,\"timeout_ms\":2000}", GUEST_CMD_STOP, 15, 2000, NULL},
                {"{\"cmd\":\"stop\",\"signal\":9,\"timeout_ms\":0}", GUEST_CMD_STOP, 9, 0, NULL},
                {"{\"cmd\":\"stop\",\"signal\":0,\"timeout_ms\":1}", 0, 0, 0, "signal number"},
                {"{\"cmd\":\"stop\",\"signal\":65,\"timeout_ms\":1}", 0, 0, 0, "signal number"},
                {"{\"cmd\":\"stop\",\"signal\":\"TERM\",\"timeout_ms\":1}", 0, 0, 0, "signal number"},
                {"{\"cmd\":\"stop\",\"signal\":15}", 0, 0, 0, "timeout_ms"},
                {"{\"cmd\":\"stop\",\"signal\":15,\"timeout_ms\":-1}", 0, 0, 0, "timeout_ms"},
                {"{\"cmd\":\"reboot\"}", 0, 0, 0, "unknown command \"reboot\""},
                {"{\"cmd\":3}", 0, 0, 0, "\"cmd\" string"},
                {"{\"event\":\"hello\"}", 0, 0, 0, "\"cmd\" string"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                GuestCommand c = {};
                if (command_decodes(cases[i].json, cases[i].error, &c)) {
                        assert_int_equal(c.type, cases[i].type);
                        assert_int_equal(c.signal, cases[i].signal);
                        assert_int_equal(c.timeout_ms, cases[i].timeout_ms);
                }
        }
}

/* The clock's commands: strict, since a step where a slew was meant, or an offset that overflows
 * when added, would set the guest's clock wrong under its workload. */
static void test_clock_commands(void **state) {
        static const struct {
                const char *json;
                int64_t t1, offset;
                bool step;
                const char *error; /* NULL: valid */
        } cases[] = {
                {"{\"cmd\":\"clock\",\"t1\":1796549403509578751}", 1796549403509578751, 0, false, NULL},
                {"{\"cmd\":\"clock\",\"t1\":4611686018427387904}", INT64_C(1) << 62, 0, false, NULL},
                {"{\"cmd\":\"clock\",\"t1\":4611686018427387905}", 0, 0, false, "\"t1\""},
                {"{\"cmd\":\"clock\",\"t1\":0}", 0, 0, false, "\"t1\""},
                {"{\"cmd\":\"clock\",\"t1\":-5}", 0, 0, false, "\"t1\""},
                {"{\"cmd\":\"clock\",\"t1\":1.5}", 0, 0, false, "\"t1\""},
                {"{\"cmd\":\"clock\"}", 0, 0, false, "\"t1\""},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":-356484000,\"step\":true}", 0, -356484000, true, NULL},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":1200,\"step\":false}", 0, 1200, false, NULL},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":0,\"step\":false}", 0, 0, false, NULL},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":-4611686018427387904,\"step\":true}", 0, -(INT64_C(1) << 62),
                 true, NULL},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":-4611686018427387905,\"step\":true}", 0, 0, false,
                 "\"offset_ns\""},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":\"5\",\"step\":true}", 0, 0, false, "\"offset_ns\""},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":5}", 0, 0, false, "\"step\""},
                {"{\"cmd\":\"clock-adjust\",\"offset_ns\":5,\"step\":1}", 0, 0, false, "\"step\""},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                GuestCommand c = {};
                if (command_decodes(cases[i].json, cases[i].error, &c)) {
                        assert_true(c.type == GUEST_CMD_CLOCK || c.type == GUEST_CMD_CLOCK_ADJUST);
                        assert_true(c.t1 == cases[i].t1);
                        assert_true(c.offset_ns == cases[i].offset);
                        assert_int_equal(c.step, cases[i].step);
                }
        }
        /* What the host sends, read back by the guest's decoder. */
        json_t *j = guest_clock_adjust_to_json(-42, false);
        GuestCommand c = {};
        assert_int_equal(guest_command_from_json(j, &c, NULL), 0);
        assert_true(c.type == GUEST_CMD_CLOCK_ADJUST && c.offset_ns == -42 && !c.step);
        json_decref(j);
        assert_json(guest_clock_to_json(7), "{\"cmd\":\"clock\",\"t1\":7}");
}

static void test_clock_event(void **state) {
        GuestClockSample s = {.t4 = 99};
        json_t *j = guest_event_clock(10, 20, 30);

        assert_int_equal(guest_clock_event_from_json(j, &s), 0);
        assert_true(s.t1 == 10 && s.t2 == 20 && s.t3 == 30 && s.t4 == 99); /* t4 is the host's own */
        json_decref(j);
        static const char *const bad[] = {
                "{\"event\":\"clock\",\"t1\":10,\"t2\":20}",
                "{\"event\":\"clock\",\"t1\":10,\"t2\":30,\"t3\":20}", /* answered before it was read */
                "{\"event\":\"clock\",\"t1\":10,\"t2\":0,\"t3\":20}",
                "{\"event\":\"clock\",\"t1\":10,\"t2\":20,\"t3\":4611686018427387905}",
                "{\"event\":\"ps\",\"t1\":10,\"t2\":20,\"t3\":30}",
                "{\"t1\":10,\"t2\":20,\"t3\":30}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                j = parse_json(bad[i]);
                if (guest_clock_event_from_json(j, &s) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
                json_decref(j);
        }
}

/* NTP's on-wire arithmetic, with the guest 300 ms ahead and the message's ways taking 2 and 6 ms:
 * the offset is off by half the difference of the ways, never more than half the round trip. */
static void test_clock_sample(void **state) {
        const int64_t ms = 1000000, T = INT64_C(1796549403) * 1000000000;
        int64_t offset, delay;

        /* Symmetric: exact. t1 host, t2 = t1 + 2 ms + 300 ms (guest), t3 = t2 + 1 ms, t4 = t1 + 5 ms. */
        assert_int_equal(
                guest_clock_sample(&(GuestClockSample){T, T + 302 * ms, T + 303 * ms, T + 5 * ms}, &offset, &delay), 0);
        assert_true(offset == 300 * ms);
        assert_true(delay == 4 * ms);
        /* Asymmetric (2 ms there, 6 back): off by 2 ms, within delay / 2 = 4 ms. */
        assert_int_equal(
                guest_clock_sample(&(GuestClockSample){T, T + 302 * ms, T + 303 * ms, T + 9 * ms}, &offset, &delay), 0);
        assert_true(offset == 298 * ms && delay == 8 * ms);
        /* The guest behind. */
        assert_int_equal(
                guest_clock_sample(&(GuestClockSample){T, T - 498 * ms, T - 497 * ms, T + 5 * ms}, &offset, &delay), 0);
        assert_true(offset == -500 * ms && delay == 4 * ms);
        /* A negative round trip: the host's clock was stepped back during the exchange. */
        assert_int_equal(guest_clock_sample(&(GuestClockSample){T, T + 2 * ms, T + 3 * ms, T - 1}, &offset, &delay),
                         -ERANGE);
        assert_int_equal(
                guest_clock_sample(&(GuestClockSample){T, T + 2 * ms, T + 10 * ms, T + 5 * ms}, &offset, &delay),
                -ERANGE);
        /* The extremes the decoders let through do not overflow. */
        const int64_t M = GUEST_CLOCK_NS_MAX;
        assert_int_equal(guest_clock_sample(&(GuestClockSample){1, M, M, M}, &offset, &delay), 0);
        assert_true(offset == (M - 1) / 2 && delay == M - 1);
        assert_int_equal(guest_clock_sample(&(GuestClockSample){M - 1, 1, 1, M}, &offset, &delay), 0);
        assert_true(offset == 2 - M && delay == 1); /* (3 - 2M) / 2, toward zero */

        /* The first is set whatever it is; later ones slewed, stepped past 50 ms (net of their
         * error), or skipped when their round trip is over twice the shortest of late (+0.5 ms):
         * measured here, such a sample (8.4 ms among ones of 1.1 ms) read +3.3 ms where the clock
         * was 0.1 ms off, and slewing by it made the next read -3.3 ms. */
        const int64_t us = 1000;
        assert_int_equal(guest_clock_decide(300 * ms, 900 * ms, 1 * ms, true), GUEST_CLOCK_STEP);
        assert_int_equal(guest_clock_decide(2 * ms, 1 * ms, 1 * ms, false), GUEST_CLOCK_SLEW);
        assert_int_equal(guest_clock_decide(-49 * ms, 1 * ms, 1 * ms, false), GUEST_CLOCK_SLEW);
        assert_int_equal(guest_clock_decide(-60 * ms, 2 * ms, 2 * ms, false), GUEST_CLOCK_STEP);
        assert_int_equal(guest_clock_decide(55 * ms, 12 * ms, 12 * ms, false), GUEST_CLOCK_SLEW); /* 55 - 6 < 50 */
        assert_int_equal(guest_clock_decide(3292 * us, 8368 * us, 1125 * us, false), GUEST_CLOCK_SKIP);
        assert_int_equal(guest_clock_decide(100 * us, 2750 * us, 1125 * us, false), GUEST_CLOCK_SLEW);
        assert_int_equal(guest_clock_decide(100 * us, 2751 * us, 1125 * us, false), GUEST_CLOCK_SKIP);
        /* A host that became slow throughout: its samples are used. */
        assert_int_equal(guest_clock_decide(3 * ms, 30 * ms, 30 * ms, false), GUEST_CLOCK_SLEW);
        /* Even a step waits for a sample it can trust. */
        assert_int_equal(guest_clock_decide(900 * ms, 30 * ms, 2 * ms, false), GUEST_CLOCK_SKIP);
}

/* A filter of one instruction, "allow", as the host would send one (the guest only loads it). */
#define SECCOMP_ALLOW_JSON "{\"flags\":0,\"filter\":\"BgAAAAAA/38=\"}"

/* The spec as vm.c sends it: the run spec (image_apply_defaults(); a dir: layer's image has no
 * defaults) as canonical JSON, with every limit resolved against a host's. */
static json_t *host_spec_json(const UnitSpec *u) {
        _cleanup_(unit_spec_freep) UnitSpec *run = NULL;
        RlimitSet host, resolved;
        json_t *spec;

        assert_int_equal(image_apply_defaults(u, &(ImageConfig){}, &run, NULL), 0);
        spec = unit_spec_to_json(run);

        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                host[i] = (struct rlimit){.rlim_cur = 1000 + (rlim_t) i, .rlim_max = RLIM_INFINITY};
        assert_int_equal(rlimits_resolve(u, host, false, resolved, NULL), 0);
        json_object_set_new(spec, "rlimits", rlimits_to_json(resolved));
        return spec;
}

/* A run command around the unit's real canonical JSON (what supctl validate --print shows), with
 * a filter where the unit has one. */
static json_t *run_command_for(const char *yaml, const char *disks) {
        UnitSpec *u = NULL;
        Diagnostics d = {};
        json_t *spec, *msg;
        char *text, *canonical;

        if (parse_text("web.yaml", yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        spec = host_spec_json(u);
        canonical = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
        text = xasprintf("{\"cmd\":\"run\",\"spec\":%s,%s%s}", canonical, disks,
                         u->security.seccomp == SECCOMP_UNCONFINED ? "" : ",\"seccomp\":" SECCOMP_ALLOW_JSON);
        msg = parse_json(text);
        free(canonical);
        free(text);
        json_decref(spec);
        unit_spec_free(u);
        diagnostics_done(&d);
        return msg;
}

static void test_run_from_canonical_json(void **state) {
        json_t *msg = run_command_for("isolation: hyperv\n"
                                      "image: {layers: [{dir: /l0}, {dir: /l1}]}\n"
                                      "command: [/bin/httpd, -f, -p, \"80\"]\n"
                                      "env: {TZ: UTC, A1: x, A: \"y\", PATH: /bin}\n"
                                      "user: \"www:www\"\n"
                                      "working_dir: /www\n"
                                      "network: none\n"
                                      "mounts: [{type: tmpfs, target: /tmp, size: 16M, mode: \"1770\"}]\n"
                                      "security: {no_new_privileges: false, read_only_rootfs: true,\n"
                                      "  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, cap_sys_chroot]}}\n"
                                      "stop: {signal: SIGRTMIN+2, timeout: 1m1500ms}\n"
                                      "rlimits: {nofile: {soft: 100, hard: 200}, core: unlimited}\n",
                                      "\"layers\":[\"/dev/vda\",\"serial=sup-layer-1\"],\"sandbox\":\"/dev/vdc\"");
        GuestRun run = {};
        SupError *error = NULL;
        const UnitSpec *u;

        assert_int_equal(guest_run_from_json(msg, &run, &error), 0);
        assert_null(error);
        u = run.spec;
        assert_string_equal(u->name, "web");
        assert_string_equal(u->hostname, "web");
        assert_int_equal(u->isolation, ISOLATION_HYPERV);
        assert_int_equal(strv_length(u->command), 4);
        assert_string_equal(u->command[0], "/bin/httpd");
        assert_string_equal(u->command[3], "80");
        /* By name, as the unit parser keeps them: A before A1 although '1' sorts before '='. */
        assert_int_equal(strv_length(u->env), 4);
        assert_string_equal(u->env[0], "A=y");
        assert_string_equal(u->env[1], "A1=x");
        assert_string_equal(u->env[2], "PATH=/bin");
        assert_string_equal(u->env[3], "TZ=UTC");
        assert_string_equal(u->user, "www:www");
        assert_string_equal(u->working_dir, "/www");
        assert_int_equal(u->network, NETWORK_NONE);
        assert_int_equal(u->n_mounts, 1);
        assert_int_equal(u->mounts[0].type, MOUNT_TMPFS);
        assert_string_equal(u->mounts[0].target, "/tmp");
        assert_int_equal(u->mounts[0].size, 16 * 1024 * 1024);
        assert_int_equal(u->mounts[0].mode, 01770);
        assert_false(u->security.no_new_privileges);
        assert_true(u->security.read_only_rootfs);
        assert_true(u->security.cap_drop_all);
        assert_int_equal(u->security.cap_drop, 0);
        assert_false(u->security.cap_add_all);
        assert_int_equal(u->security.cap_add, CAP_BIT(CAP_NET_BIND_SERVICE) | CAP_BIT(CAP_SYS_CHROOT));
        assert_int_equal(u->stop.signal, SIGRTMIN + 2);
        assert_int_equal(u->stop.timeout, 61500 * USEC_PER_MSEC);
        assert_int_equal(strv_length(run.layers), 2);
        assert_string_equal(run.layers[0], "/dev/vda");
        assert_string_equal(run.layers[1], "serial=sup-layer-1");
        assert_string_equal(run.sandbox, "/dev/vdc");
        assert_false(run.has_network); /* network: none, loopback only */
        /* The unit's limits, and the host's for the rest: none left to the guest kernel. */
        assert_int_equal(run.rlimits[RLIMIT_NOFILE].rlim_cur, 100);
        assert_int_equal(run.rlimits[RLIMIT_NOFILE].rlim_max, 200);
        assert_true(run.rlimits[RLIMIT_CORE].rlim_cur == RLIM_INFINITY);
        assert_int_equal(run.rlimits[RLIMIT_NPROC].rlim_cur, 1000 + RLIMIT_NPROC);
        assert_true(run.rlimits[RLIMIT_NPROC].rlim_max == RLIM_INFINITY);
        guest_run_done(&run);
        guest_run_done(&run); /* idempotent */
        json_decref(msg);

        /* The defaults as the canonical form spells them; network: bridge with its object. */
        msg = run_command_for("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n",
                              "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\","
                              "\"network\":{\"mac\":\"02:53:0a:59:00:05\",\"address\":\"10.89.0.5\","
                              "\"prefix\":24,\"gateway\":\"10.89.0.1\"}");
        assert_int_equal(guest_run_from_json(msg, &run, &error), 0);
        assert_true(run.has_network);
        assert_string_equal(run.network.mac, "02:53:0a:59:00:05");
        assert_int_equal(run.network.address.s_addr, htonl(0x0a590005));
        assert_int_equal(run.network.prefix, 24);
        assert_int_equal(run.network.gateway.s_addr, htonl(0x0a590001));
        assert_string_equal(run.spec->user, "0");
        assert_string_equal(run.spec->working_dir, "/");
        assert_int_equal(run.spec->network, NETWORK_BRIDGE);
        assert_true(run.spec->security.no_new_privileges);
        assert_false(run.spec->security.read_only_rootfs);
        assert_false(run.spec->security.cap_drop_all || run.spec->security.cap_add_all);
        assert_int_equal(run.spec->security.cap_drop | run.spec->security.cap_add, 0);
        assert_int_equal(strv_length(run.spec->env), 0);
        assert_int_equal(run.spec->n_mounts, 0);
        assert_int_equal(run.spec->stop.signal, SIGTERM);
        assert_int_equal(run.spec->stop.timeout, 10 * USEC_PER_SEC);
        guest_run_done(&run);
        json_decref(msg);
}

/* The run command's entropy, which reseeds a restored template's guest: 32 bytes in hex, and
 * nothing else (the fault: a short or garbled one taken as some bytes). And park, the template
 * builder's command. */
static void test_run_entropy_and_park(void **state) {
        static const char *const bad[] = {"\"00\"", "1",
                                          "\"zz00000000000000000000000000000000000000000000000000000000000000\""};
        GuestCommand cmd = {};
        SupError *error = NULL;
        json_t *msg = run_command_for("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n",
                                      "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"");
        GuestRun run = {};

        assert_int_equal(guest_run_from_json(msg, &run, &error), 0);
        assert_false(run.has_entropy);
        /* A parked guest (a template's restore) refuses a run without entropy (the fault: the
         * reseed skipped, every restore drawing the template's random numbers); a cold one runs. */
        assert_int_equal(guest_reseed(&run, true, &error), -EINVAL);
        assert_non_null(strstr(sup_error_message(error), "entropy"));
        error = sup_error_free(error);
        assert_int_equal(guest_reseed(&run, false, &error), 0);
        guest_run_done(&run);
        json_object_set_new(msg, "entropy",
                            json_string("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
        run = (GuestRun){};
        assert_int_equal(guest_run_from_json(msg, &run, &error), 0);
        assert_true(run.has_entropy);
        assert_int_equal(run.entropy[0], 0x00);
        assert_int_equal(run.entropy[15], 0xff);
        assert_int_equal(run.entropy[31], 0xff);
        guest_run_done(&run);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object_set_new(msg, "entropy", parse_json(bad[i]));
                run = (GuestRun){};
                assert_int_equal(guest_run_from_json(msg, &run, &error), -EINVAL);
                assert_non_null(strstr(sup_error_message(error), "entropy"));
                error = sup_error_free(error);
        }
        json_decref(msg);

        msg = parse_json("{\"cmd\":\"park\"}");
        assert_int_equal(guest_command_from_json(msg, &cmd, &error), 0);
        assert_int_equal(cmd.type, GUEST_CMD_PARK);
        guest_command_done(&cmd);
        json_decref(msg);
}

static void test_run_without_rlimits_refused(void **state) {
        /* A host that does not say the limits would leave the guest kernel's own (nofile 1024:4096,
         * nproc from the guest's RAM): the command would see other numbers than in process mode. */
        static const struct {
                const char *rlimits, *error;
        } broken[] = {
                {NULL, "spec.rlimits"},
                {"{}", "spec.rlimits"},
                /* The codec refuses it before the resolution is looked at. */
                {"{\"nofile\":{\"soft\":2,\"hard\":1}}", "rlimits.nofile: the soft limit (2) is above"},
        };

        for (size_t i = 0; i < ELEMENTSOF(broken); i++) {
                json_t *msg = run_command_for("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n",
                                              "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"");
                json_t *spec = json_object_get(msg, "spec");
                GuestRun run = {};
                SupError *error = NULL;

                if (broken[i].rlimits)
                        json_object_set_new(spec, "rlimits", parse_json(broken[i].rlimits));
                else
                        json_object_del(spec, "rlimits");
                assert_int_equal(guest_run_from_json(msg, &run, &error), -EINVAL);
                assert_null(run.spec);
                assert_non_null(error);
                if (!strstr(sup_error_message(error), broken[i].error))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sup_error_message(error), broken[i].error);
                error = sup_error_free(error);
                json_decref(msg);
        }
}

/* guest_run_from_json() refuses msg (taken) with a message that has error in it; case i. */
static void expect_run_refused(size_t i, json_t *msg, const char *error) {
        GuestRun run = {};
        SupError *e = NULL;

        assert_int_equal(guest_run_from_json(msg, &run, &e), -EINVAL);
        assert_null(run.spec);
        assert_non_null(e);
        if (!strstr(sup_error_message(e), error))
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sup_error_message(e), error);
        sup_error_free(e);
        json_decref(msg);
}

#define SHARES_UNIT                                                                                        \
        "image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n"                             \
        "mounts: [{type: bind, source: /srv/a, target: /a, read_only: true}, {type: tmpfs, target: /t},\n" \
        "         {type: bind, source: /srv/b, target: /b/c}]\n"
#define SHARES_DISKS "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\","

static void test_run_shares(void **state) {
        json_t *msg = run_command_for(SHARES_UNIT, SHARES_DISKS "\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\","
                                                                "\"read_only\":true},{\"tag\":\"sup-fs-1\",\"target\":"
                                                                "\"/b/c\",\"read_only\":false}]");
        GuestRun run = {};
        SupError *error = NULL;

        assert_int_equal(guest_run_from_json(msg, &run, &error), 0);
        assert_int_equal(run.n_shares, 2);
        assert_string_equal(run.shares[0].tag, "sup-fs-0");
        assert_string_equal(run.shares[0].target, "/a");
        assert_true(run.shares[0].read_only);
        assert_string_equal(run.shares[1].tag, "sup-fs-1");
        assert_string_equal(run.shares[1].target, "/b/c");
        assert_false(run.shares[1].read_only);
        guest_run_done(&run);
        json_decref(msg);
        /* Which mounts are shares: binds, not tmpfs. */
        assert_true(guest_mount_needs_share(&(MountSpec){.type = MOUNT_BIND}));
        assert_false(guest_mount_needs_share(&(MountSpec){.type = MOUNT_TMPFS}));
}

static void test_run_shares_refused(void **state) {
#define SH(a, b) "\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\",\"read_only\":true}," a "," b "]"
#define SH1(x)   "{\"tag\":\"sup-fs-1\",\"target\":\"/b/c\",\"read_only\":false" x "}"
        static const struct {
                const char *shares, *error;
        } cases[] = {
                /* A bind without its share would be a mount of nothing; a share without a mount,
                 * a directory the unit never asked for. */
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\",\"read_only\":true}]", "1 shares for 2"},
                {SH(SH1(""), "{\"tag\":\"sup-fs-2\",\"target\":\"/x\",\"read_only\":false}"), "3 shares for 2"},
                {"\"shares\":{}", "must be a list"},
                /* The host cannot make a read_only mount writable, nor mount one where the unit did
                 * not say. */
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\",\"read_only\":false}," SH1("") "]",
                 "(mounts[0]) has target /a, read_only true"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/etc\",\"read_only\":true}," SH1("") "]",
                 "has target /a"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/b/c\",\"read_only\":false},"
                 "{\"tag\":\"sup-fs-1\",\"target\":\"/a\",\"read_only\":true}]",
                 "shares[0]: target /b/c"},
                /* Paths as the unit parser keeps them: no "..", no trailing slash. */
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a/\",\"read_only\":true}," SH1("") "]",
                 "shares[0].target: expected an absolute path"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a/../a\",\"read_only\":true}," SH1("") "]",
                 "shares[0].target: expected an absolute path"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"a\",\"read_only\":true}," SH1("") "]",
                 "shares[0].target: expected an absolute path"},
                /* Tags: the kernel's 36 bytes, and a charset that needs no quoting anywhere. */
                {"\"shares\":[{\"tag\":\"SUP_FS\",\"target\":\"/a\",\"read_only\":true}," SH1("") "]",
                 "shares[0].tag: expected 1 to 36"},
                {"\"shares\":[{\"tag\":\"\",\"target\":\"/a\",\"read_only\":true}," SH1("") "]",
                 "shares[0].tag: expected 1 to 36"},
                {"\"shares\":[{\"tag\":\"a123456789012345678901234567890123456\",\"target\":\"/a\",\"read_only\":"
                 "true}," SH1("") "]",
                 "shares[0].tag: expected 1 to 36"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\",\"read_only\":true},"
                 "{\"tag\":\"sup-fs-0\",\"target\":\"/b/c\",\"read_only\":false}]",
                 "is shares[0]'s already"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\",\"read_only\":1}," SH1("") "]",
                 "shares[0].read_only: expected true or false"},
                {"\"shares\":[{\"tag\":\"sup-fs-0\",\"target\":\"/a\",\"read_only\":true}," SH1(",\"rw\":true") "]",
                 "shares[1]: unknown key \"rw\""},
                {"\"shares\":[3," SH1("") "]", "shares[0]: expected an object"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *disks = xasprintf(SHARES_DISKS "%s", cases[i].shares);
                expect_run_refused(i, run_command_for(SHARES_UNIT, disks), cases[i].error);
        }
        /* At most GUEST_SHARES_MAX, whatever the unit says. */
        {
                _cleanup_free_ char *yaml = xstrdup("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n"
                                                    "network: none\nmounts:\n"),
                                    *shares = xstrdup("\"shares\":[");
                for (unsigned i = 0; i <= GUEST_SHARES_MAX; i++) {
                        char *y = xasprintf("%s  - {type: bind, source: /s, target: /m%u}\n", yaml, i);
                        char *s = xasprintf("%s%s{\"tag\":\"t%u\",\"target\":\"/m%u\",\"read_only\":false}", shares,
                                            i ? "," : "", i, i);
                        free(yaml);
                        free(shares);
                        yaml = y;
                        shares = s;
                }
                _cleanup_free_ char *disks = xasprintf(SHARES_DISKS "%s]", shares);
                expect_run_refused(0, run_command_for(yaml, disks), "at most 16 shares");
        }
#undef SH
#undef SH1
}

static void test_run_refused(void **state) {
        static const struct {
                const char *yaml, *disks, *error;
        } cases[] = {
                {"image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n"
                 "mounts: [{type: bind, source: /srv, target: /data}]\n",
                 "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"", "0 shares for 1 bind mounts"},
                {"image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n", "\"layers\":[],\"sandbox\":\"/dev/vdb\"",
                 "layers: expected a list of at least 1"},
                {"image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n", "\"layers\":[\"/dev/vda\"]",
                 "\"sandbox\" must name"},
                {"image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n",
                 "\"layers\":[\"vda\"],\"sandbox\":\"/dev/vdb\"", "expected a device path"},
                {"image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n",
                 "\"layers\":[\"/dev/vda\"],\"sandbox\":\"serial=\"", "expected a device path"},
                {"image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n", "\"layers\":[3],\"sandbox\":\"/dev/vdb\"",
                 "layers[0]: expected a string"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                expect_run_refused(i, run_command_for(cases[i].yaml, cases[i].disks), cases[i].error);

        /* Specs the canonical form never has, from a confused host: a valid unit's canonical JSON
         * with one member replaced ("" and NULL: the whole spec; value NULL: removed). */
        static const struct {
                const char *object, *key, *value, *error;
        } bad[] = {
                {NULL, "spec", "[]", "\"spec\" must be the unit's canonical JSON object"},
                {NULL, "spec", NULL, "\"spec\" must be the unit's canonical JSON object"},
                {"", "command", NULL, "the unit has no command"},
                {"", "user", NULL, "spec: missing key \"user\""},
                {"", "colour", "\"blue\"", "spec: colour: unknown key"},
                {"", "env", "{\"A\":1}", "spec: env.A: expected a string, found 1"},
                {"", "env", "{\"1A\":\"x\"}", "spec: env.1A: not a variable name"},
                {"", "network", "\"wifi\"", "spec: network: expected one of bridge, none, host, found \"wifi\""},
                {"", "user", "0", "spec: user: expected a user"},
                {"", "mounts", "[{\"type\":\"tmpfs\",\"target\":\"/t\",\"mode\":\"99\"}]",
                 "spec: mounts[0].mode: expected an octal mode"},
                {"", "mounts", "[{\"type\":\"tmpfs\",\"target\":\"t\",\"mode\":\"1777\"}]",
                 "spec: mounts[0].target: expected an absolute path"},
                {"", "mounts", "[{\"type\":\"tmpfs\",\"target\":\"/t\",\"mode\":\"1777\",\"source\":\"/s\"}]",
                 "spec: mounts[0].source: unknown key"},
                {"stop", "signal", "\"SIGNOPE\"", "spec: stop.signal: expected a signal name"},
                {"stop", "timeout", "10", "spec: stop.timeout: expected a duration"},
                {"stop", "timeout", "\"soon\"", "spec: stop.timeout"},
                {"security", "capabilities", "{\"drop\":[],\"add\":[\"NOT_A_CAP\"]}",
                 "spec: security.capabilities.add[0]: expected a capability name"},
                {"security", "capabilities", "{\"drop\":\"ALL\",\"add\":[]}",
                 "spec: security.capabilities.drop: expected a list of capability names, found \"ALL\""},
                {"security", "no_new_privileges", "\"yes\"",
                 "spec: security.no_new_privileges: expected true or false"},
                {"security", "seccomp", "\"p.json\"", "spec: security.seccomp: expected default, unconfined or"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_t *msg = run_command_for("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n",
                                              "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"");
                json_t *o = !bad[i].object ? msg : json_object_get(msg, "spec");
                GuestRun run = {};
                SupError *error = NULL;

                if (bad[i].object && *bad[i].object)
                        o = json_object_get(o, bad[i].object);
                if (bad[i].value)
                        json_object_set_new(o, bad[i].key, parse_json(bad[i].value));
                else
                        json_object_del(o, bad[i].key);
                assert_int_equal(guest_run_from_json(msg, &run, &error), -EINVAL);
                assert_null(run.spec);
                assert_non_null(error);
                if (!strstr(sup_error_message(error), bad[i].error))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sup_error_message(error), bad[i].error);
                error = sup_error_free(error);
                json_decref(msg);
        }
}

/* The run command of a network: bridge unit with network as its "network" member (NULL: none). */
static int run_with_network(const char *network, GuestRun *ret, SupError **ret_error) {
        _cleanup_free_ char *disks = xasprintf("\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"%s%s",
                                               network ? ",\"network\":" : "", network ?: "");
        json_t *msg = run_command_for("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n", disks);
        int r = guest_run_from_json(msg, ret, ret_error);

        json_decref(msg);
        return r;
}

static void test_run_network(void **state) {
/* The members of a valid object, to build the others from. */
#define MAC  "\"mac\":\"52:54:00:12:34:56\""
#define ADDR "\"address\":\"10.250.7.2\""
#define P24  "\"prefix\":24"
        static const struct {
                const char *json, *error; /* error NULL: valid */
                unsigned prefix;
                uint32_t gateway; /* host byte order */
        } cases[] = {
                {"{" MAC "," ADDR "," P24 ",\"gateway\":\"10.250.7.1\"}", NULL, 24, 0x0afa0701},
                /* No gateway: no default route. */
                {"{" MAC "," ADDR "," P24 "}", NULL, 24, 0},
                {"{\"mac\":\"fe:ff:ff:ff:ff:ff\",\"address\":\"192.168.0.1\",\"prefix\":30,"
                 "\"gateway\":\"192.168.0.2\"}",
                 NULL, 30, 0xc0a80002},
                {"{\"mac\":\"02:00:00:00:00:01\",\"address\":\"10.0.0.1\",\"prefix\":1}", NULL, 1, 0},

                {"[]", "\"network\" must be an object"},
                {"{" ADDR "," P24 "}", "network.mac: expected a network card's MAC address in lowercase "
                                       "(aa:bb:cc:dd:ee:ff), found nothing"},
                {"{\"mac\":\"52:54:00:12:34\"," ADDR "," P24 "}", "found \"52:54:00:12:34\""},
                {"{\"mac\":\"52:54:00:0a:59:00:05\"," ADDR "," P24 "}", "network.mac"},
                {"{\"mac\":\"52:54:00:12:34:5g\"," ADDR "," P24 "}", "network.mac"},
                {"{\"mac\":\"52:54:00:AB:CD:EF\"," ADDR "," P24 "}", "in lowercase"},
                {"{\"mac\":\"52-54-00-12-34-56\"," ADDR "," P24 "}", "network.mac"},
                {"{\"mac\":\"01:00:5e:00:00:01\"," ADDR "," P24 "}", "network.mac"}, /* multicast */
                {"{\"mac\":\"00:00:00:00:00:00\"," ADDR "," P24 "}", "network.mac"}, /* loopback's */
                {"{\"mac\":5," ADDR "," P24 "}", "found 5"},
                {"{" MAC "," P24 "}", "network.address: expected an IPv4"},
                {"{" MAC ",\"address\":\"10.250.7\"," P24 "}",
                 "network.address: expected an IPv4 address (a.b.c.d), found \"10.250.7\""},
                {"{" MAC ",\"address\":\"10.250.7.2/24\"," P24 "}", "network.address"},
                {"{" MAC ",\"address\":\"10.250.7.256\"," P24 "}", "network.address"},
                {"{" MAC ",\"address\":\"010.250.7.2\"," P24 "}", "network.address"},
                {"{" MAC ",\"address\":\"fd00::2\"," P24 "}", "network.address"},
                {"{" MAC "," ADDR "}", "network.prefix: expected"},
                {"{" MAC "," ADDR ",\"prefix\":\"24\"}", "network.prefix"},
                {"{" MAC "," ADDR ",\"prefix\":0}", "network.prefix"},
                {"{" MAC "," ADDR ",\"prefix\":31}", "network.prefix"},
                /* The network and broadcast addresses are no host's. */
                {"{" MAC ",\"address\":\"10.250.7.0\"," P24 "}",
                 "network.address: 10.250.7.0 is not a host of its network 10.250.7.0/24"},
                {"{" MAC ",\"address\":\"10.250.7.255\"," P24 "}", "is not a host"},
                {"{" MAC "," ADDR "," P24 ",\"gateway\":\"10.250.8.1\"}",
                 "network.gateway: 10.250.8.1 is not another host of the address's network 10.250.7.0/24"},
                {"{" MAC "," ADDR "," P24 ",\"gateway\":\"10.250.7.2\"}", "network.gateway"},
                {"{" MAC "," ADDR "," P24 ",\"gateway\":\"10.250.7.255\"}", "network.gateway"},
                {"{" MAC "," ADDR "," P24 ",\"gateway\":null}",
                 "network.gateway: expected an IPv4 address (a.b.c.d), found null"},
                {"{" MAC "," ADDR "," P24 ",\"gw\":\"10.250.7.1\"}", "network: unknown key \"gw\""},
        };
#undef MAC
#undef ADDR
#undef P24

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                GuestRun run = {};
                SupError *error = NULL;
                int r = run_with_network(cases[i].json, &run, &error);

                if (cases[i].error) {
                        assert_int_equal(r, -EINVAL);
                        assert_null(run.spec);
                        assert_non_null(error);
                        if (!strstr(sup_error_message(error), cases[i].error))
                                fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].json, sup_error_message(error),
                                         cases[i].error);
                        error = sup_error_free(error);
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: %s", cases[i].json, sup_error_message(error));
                assert_true(run.has_network);
                assert_int_equal(run.network.prefix, cases[i].prefix);
                assert_int_equal(run.network.gateway.s_addr, htonl(cases[i].gateway));
                guest_run_done(&run);
        }
}

/* The IPv6 half ("address6", "prefix6", "gateway6"): as strict as the IPv4 half, and optional as
 * a whole (a host from before IPv6 sends none of it). */
static void test_run_network6(void **state) {
#define V4  "\"mac\":\"52:54:00:12:34:56\",\"address\":\"10.250.7.2\",\"prefix\":24"
#define A6  "\"address6\":\"fd53:1:2::7\""
#define P64 "\"prefix6\":64"
        static const struct {
                const char *json, *error;        /* error NULL: valid */
                const char *address6, *gateway6; /* NULL: none */
        } cases[] = {
                {"{" V4 "," A6 "," P64 ",\"gateway6\":\"fd53:1:2::1\"}", NULL, "fd53:1:2::7", "fd53:1:2::1"},
                {"{" V4 "," A6 "," P64 "}", NULL, "fd53:1:2::7", "::"}, /* no IPv6 default route */
                {"{" V4 "}", NULL, NULL, NULL},
                {"{" V4 "," P64 "}", "network.address6: expected an IPv6 address, found nothing"},
                {"{" V4 ",\"gateway6\":\"fd53:1:2::1\"}", "network.address6"},
                {"{" V4 ",\"address6\":\"10.250.7.2\"," P64 "}", "network.address6: expected an IPv6 address"},
                {"{" V4 ",\"address6\":\"fd53:1:2::7/64\"," P64 "}", "network.address6"},
                {"{" V4 "," A6 "}", "network.prefix6: expected a prefix length from 64 to 126"},
                {"{" V4 "," A6 ",\"prefix6\":48}", "network.prefix6"},
                {"{" V4 "," A6 ",\"prefix6\":127}", "network.prefix6"},
                {"{" V4 "," A6 ",\"prefix6\":\"64\"}", "network.prefix6"},
                {"{" V4 ",\"address6\":\"fd53:1:2::\"," P64 "}",
                 "network.address6: fd53:1:2:: is not a unicast host of its network fd53:1:2::/64"},
                {"{" V4 ",\"address6\":\"ff02::1\"," P64 "}", "not a unicast host"},
                {"{" V4 ",\"address6\":\"::1\"," P64 "}", "not a unicast host"},
                {"{" V4 ",\"address6\":\"fe80::7\"," P64 "}", "not a unicast host"},
                {"{" V4 "," A6 "," P64 ",\"gateway6\":\"fd53:1:3::1\"}",
                 "network.gateway6: fd53:1:3::1 is not another host of the address's network fd53:1:2::/64"},
                {"{" V4 "," A6 "," P64 ",\"gateway6\":\"fd53:1:2::7\"}", "network.gateway6"},
                {"{" V4 "," A6 "," P64 ",\"gateway6\":\"fd53:1:2::\"}", "network.gateway6"},
                {"{" V4 "," A6 "," P64 ",\"gateway6\":null}", "network.gateway6: expected an IPv6 address, found null"},
                {"{" V4 "," A6 "," P64 ",\"gateway_6\":\"fd53:1:2::1\"}", "network: unknown key \"gateway_6\""},
        };
#undef V4
#undef A6
#undef P64

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                GuestRun run = {};
                SupError *error = NULL;
                char a[INET6_ADDRSTRLEN];
                int r = run_with_network(cases[i].json, &run, &error);

                if (cases[i].error) {
                        assert_int_equal(r, -EINVAL);
                        if (!strstr(sup_error_message(error), cases[i].error))
                                fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].json, sup_error_message(error),
                                         cases[i].error);
                        error = sup_error_free(error);
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: %s", cases[i].json, sup_error_message(error));
                assert_int_equal(run.network.has_address6, cases[i].address6 != NULL);
                if (cases[i].address6) {
                        assert_string_equal(inet_ntop(AF_INET6, &run.network.address6, a, sizeof(a)),
                                            cases[i].address6);
                        assert_int_equal(run.network.prefix6, 64);
                        assert_string_equal(inet_ntop(AF_INET6, &run.network.gateway6, a, sizeof(a)),
                                            cases[i].gateway6);
                }
                guest_run_done(&run);
        }
}

/* The unit's network mode and the run command's network object go together. */
static void test_run_network_mode(void **state) {
        static const char *const object =
                ",\"network\":{\"mac\":\"52:54:00:12:34:56\",\"address\":\"10.250.7.2\",\"prefix\":24}";
        static const struct {
                const char *yaml, *network, *error;
        } cases[] = {
                {"network: bridge\n", "", "network: bridge needs the run command's \"network\" object"},
                {"network: none\n", object, "a \"network\" object, but the unit has network: none"},
                {"network: none\n", "", NULL},
                {"network: bridge\n", object, NULL},
        };
        json_t *msg;
        GuestRun run = {};
        SupError *error = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *yaml = xasprintf("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\n%s",
                                                      cases[i].yaml),
                                    *disks = xasprintf("\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"%s",
                                                       cases[i].network);
                msg = run_command_for(yaml, disks);
                if (cases[i].error) {
                        assert_int_equal(guest_run_from_json(msg, &run, &error), -EINVAL);
                        assert_null(run.spec);
                        if (!strstr(sup_error_message(error), cases[i].error))
                                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sup_error_message(error), cases[i].error);
                        error = sup_error_free(error);
                } else {
                        assert_int_equal(guest_run_from_json(msg, &run, &error), 0);
                        assert_int_equal(run.has_network, *cases[i].network != 0);
                        guest_run_done(&run);
                }
                json_decref(msg);
        }

        /* network: host, which the unit parser refuses with hyperv, from a confused host. */
        msg = run_command_for("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n",
                              "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"");
        json_object_set_new(json_object_get(msg, "spec"), "network", json_string("host"));
        assert_int_equal(guest_run_from_json(msg, &run, &error), -EINVAL);
        assert_non_null(strstr(sup_error_message(error), "network: host is not possible with isolation: hyperv"));
        error = sup_error_free(error);
        json_decref(msg);
}

/* The unit's seccomp mode and the run command's filter go together, as the host compiled it. */
static void test_run_seccomp(void **state) {
        static const char *const disks = "\"layers\":[\"/dev/vda\"],\"sandbox\":\"/dev/vdb\"";
        static const struct {
                const char *security, *seccomp, *error; /* error NULL: valid */
        } cases[] = {
                {"", SECCOMP_ALLOW_JSON, NULL},
                {"security: {seccomp: /p.json}\n", SECCOMP_ALLOW_JSON, NULL},
                {"security: {seccomp: unconfined}\n", NULL, NULL},
                {"", NULL, "seccomp: the unit has a filter (default), which the run command's \"seccomp\" must carry"},
                {"security: {seccomp: /p.json}\n", NULL, "a filter (a profile file)"},
                {"security: {seccomp: unconfined}\n", SECCOMP_ALLOW_JSON,
                 "a \"seccomp\" filter, but the unit has seccomp: unconfined"},
                {"", "{\"flags\":0,\"filter\":\"BgAAAAAA/38\"}", "seccomp.filter: not base64"},
                {"", "{\"flags\":0,\"filter\":\"BgAAAAAA=/38\"}", "seccomp.filter: not base64"},
                {"", "{\"flags\":0,\"filter\":\"BgAAAAA=\"}", "not a BPF program"},
                {"", "{\"flags\":0,\"filter\":\"\"}", "not a BPF program"},
                {"", "{\"flags\":-1,\"filter\":\"BgAAAAAA/38=\"}", "seccomp.flags"},
                {"", "{\"filter\":\"BgAAAAAA/38=\"}", "expected {\"flags\": N, \"filter\": \"BASE64\"}"},
                {"", "\"BgAAAAAA/38=\"", "expected {\"flags\": N"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *canonical = NULL, *text = NULL;
                UnitSpec *u = NULL;
                Diagnostics d = {};
                GuestRun run = {};
                SupError *error = NULL;
                json_t *spec, *msg;
                int r;

                text = xasprintf("image: {layers: [{dir: /l0}]}\ncommand: [/bin/true]\nnetwork: none\n%s",
                                 cases[i].security);
                assert_int_equal(unit_parse("web.yaml", "/units", text, strlen(text), 0, &d, &u, NULL), 0);
                spec = host_spec_json(u);
                canonical = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
                free(text);
                text = xasprintf("{\"cmd\":\"run\",\"spec\":%s,%s%s%s}", canonical, disks,
                                 cases[i].seccomp ? ",\"seccomp\":" : "", cases[i].seccomp ?: "");
                msg = parse_json(text);
                r = guest_run_from_json(msg, &run, &error);
                if (cases[i].error) {
                        assert_int_equal(r, -EINVAL);
                        assert_null(run.spec);
                        assert_null(run.seccomp);
                        if (!error || !strstr(sup_error_message(error), cases[i].error))
                                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sup_error_message(error), cases[i].error);
                        error = sup_error_free(error);
                } else {
                        if (r < 0)
                                fail_msg("case %zu: %s", i, sup_error_message(error));
                        assert_int_equal(run.spec->security.seccomp, u->security.seccomp);
                        if (cases[i].seccomp) {
                                /* RET ALLOW, one instruction, as sent. */
                                assert_non_null(run.seccomp);
                                assert_int_equal(run.seccomp->len, 1);
                                assert_int_equal(run.seccomp->flags, 0);
                                assert_int_equal(run.seccomp->insns[0].code, 0x06);
                                assert_int_equal(run.seccomp->insns[0].k, 0x7fff0000);
                        } else
                                assert_null(run.seccomp);
                        guest_run_done(&run);
                }
                json_decref(msg);
                json_decref(spec);
                unit_spec_free(u);
                diagnostics_done(&d);
        }
}

static void test_env(void **state) {
        UnitSpec *u = unit_spec_new();
        char **env;

        u->hostname = xstrdup("web");
        strv_push(&u->env, xstrdup("TZ=UTC"));
        env = workload_env(u, "/home/app");
        assert_int_equal(strv_length(env), 4);
        assert_string_equal(env[0], "PATH=" WORKLOAD_DEFAULT_PATH);
        assert_string_equal(env[1], "HOME=/home/app");
        assert_string_equal(env[2], "HOSTNAME=web");
        assert_string_equal(env[3], "TZ=UTC");
        strv_free(env);

        /* The unit's PATH and HOME win; HOSTNAME is set before the unit's own, which may change it. */
        strv_push(&u->env, xstrdup("HOME=/data"));
        strv_push(&u->env, xstrdup("PATH=/opt/bin"));
        strv_push(&u->env, xstrdup("HOSTNAME=other"));
        env = workload_env(u, "/root");
        assert_int_equal(strv_length(env), 5);
        assert_string_equal(env[0], "HOSTNAME=web");
        assert_string_equal(env[1], "TZ=UTC");
        assert_string_equal(env[2], "HOME=/data");
        assert_string_equal(env[3], "PATH=/opt/bin");
        assert_string_equal(env[4], "HOSTNAME=other");
        strv_free(env);
        unit_spec_free(u);
}

static void test_user(void **state) {
        char *root = make_tree();
        SupError *error = NULL;
        ContainerUser u;

        put(root, "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\n"
            "www:x:33:34:web server:/var/www:/usr/sbin/nologin\n"
            "app:x:1000:1000::/home/app:/bin/sh\n"
            "broken line\n");
        put(root, "etc/group", "root:x:0:\nwww:x:34:\nstaff:x:50:app,www\nadm:x:4:www\napp:x:1000:\n");

        assert_int_equal(resolve_user_at(root, "0", &u, NULL), 0);
        assert_int_equal(u.uid, 0);
        assert_int_equal(u.gid, 0);
        assert_int_equal(u.n_groups, 0);
        assert_string_equal(u.home, "/root");

        /* By name: gid and home from passwd, supplementary groups from group's member lists. */
        assert_int_equal(resolve_user_at(root, "www", &u, NULL), 0);
        assert_int_equal(u.uid, 33);
        assert_int_equal(u.gid, 34);
        assert_string_equal(u.home, "/var/www");
        assert_int_equal(u.n_groups, 2);
        assert_int_equal(u.groups[0], 50);
        assert_int_equal(u.groups[1], 4);

        assert_int_equal(resolve_user_at(root, "www:staff", &u, NULL), 0);
        assert_int_equal(u.gid, 50);
        assert_int_equal(resolve_user_at(root, "1000:7", &u, NULL), 0);
        assert_int_equal(u.uid, 1000);
        assert_int_equal(u.gid, 7);
        assert_string_equal(u.home, "/home/app");
        assert_int_equal(u.n_groups, 0); /* a uid gets no supplementary groups */

        /* A uid the image does not know: its own gid, home / */
        assert_int_equal(resolve_user_at(root, "4242", &u, NULL), 0);
        assert_int_equal(u.uid, 4242);
        assert_int_equal(u.gid, 4242);
        assert_string_equal(u.home, "/");

        assert_int_equal(resolve_user_at(root, "nobody", &u, &error), -ESRCH);
        assert_string_equal(sup_error_message(error), "user \"nobody\" is not in the image's /etc/passwd");
        error = sup_error_free(error);
        assert_int_equal(resolve_user_at(root, "www:wheel", &u, &error), -ESRCH);
        assert_string_equal(sup_error_message(error), "group \"wheel\" is not in the image's /etc/group");
        error = sup_error_free(error);

        assert_int_equal(rm_rf(root), 0);
        free(root);
}

static void test_modules_list(void **state) {
        char **l = NULL;

        assert_int_equal(guest_modules_parse("virtio_ring.ko\nvirtio.ko\n", &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "virtio_ring.ko");
        assert_string_equal(l[1], "virtio.ko");
        l = strv_free(l);

        assert_int_equal(guest_modules_parse("# load order\n\n  overlay.ko \r\n\tvirtio_blk.ko", &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "overlay.ko");
        assert_string_equal(l[1], "virtio_blk.ko");
        l = strv_free(l);

        assert_int_equal(guest_modules_parse("", &l), 0);
        assert_int_equal(strv_length(l), 0);
        l = strv_free(l);

        assert_int_equal(guest_modules_parse("kernel/fs/overlay.ko\n", &l), -EINVAL);
        assert_int_equal(guest_modules_parse("overlay\n", &l), -EINVAL);
        assert_int_equal(guest_modules_parse(".ko\n", &l), -EINVAL);
        assert_int_equal(guest_modules_parse("overlay.ko.xz\n", &l), -EINVAL);
        assert_null(l);
}

/* A lookup that found expected; frees what it returned. */
static void assert_found(int r, char **dev, const char *expected) {
        assert_int_equal(r, 0);
        assert_string_equal(*dev, expected);
        *dev = (free(*dev), NULL);
}

static void test_find_port_and_disk(void **state) {
        char *sys = make_tree(), *ports = xasprintf("%s/class/virtio-ports", sys), *block = xasprintf("%s/block", sys),
             *dev = NULL;

        /* Not there yet. */
        assert_int_equal(guest_find_port(ports, "sup.agent", &dev), -ENOENT);
        assert_int_equal(guest_find_disk(block, "sup-sandbox", &dev), -ENOENT);

        put(sys, "class/virtio-ports/vport2p0/name", ""); /* the console port has no name */
        put(sys, "class/virtio-ports/vport2p1/name", "sup.agent\n");
        put(sys, "class/virtio-ports/vport2p2/name", "sup.agent2\n");
        put(sys, "block/vda/serial", "sup-layer-0\n");
        put(sys, "block/vdb/serial", "sup-sandbox");
        char *loop = xasprintf("%s/block/loop0", sys);
        assert_int_equal(mkdir(loop, 0755), 0); /* no serial file */
        free(loop);

        assert_found(guest_find_port(ports, "sup.agent", &dev), &dev, "vport2p1");
        assert_found(guest_find_port(ports, "sup.agent2", &dev), &dev, "vport2p2");
        assert_int_equal(guest_find_port(ports, "sup.stdout", &dev), -ENOENT);
        assert_found(guest_find_disk(block, "sup-sandbox", &dev), &dev, "vdb");
        assert_found(guest_find_disk(block, "sup-layer-0", &dev), &dev, "vda");
        assert_int_equal(guest_find_disk(block, "sup-layer", &dev), -ENOENT);

        assert_int_equal(rm_rf(sys), 0);
        free(sys);
        free(ports);
        free(block);
}

static void test_find_netif(void **state) {
        char *sys = make_tree(), *net = xasprintf("%s/class/net", sys), *dev = NULL;

        assert_int_equal(guest_find_netif(net, "52:54:00:12:34:56", &dev), -ENOENT);

        /* As a guest with two cards has them: the class's entries are links to the devices,
         * loopback's address is zero; and a file that is no interface. */
        put(sys, "devices/virtual/net/lo/address", "00:00:00:00:00:00\n");
        put(sys, "devices/platform/virtio1/net/eth0/address", "52:54:00:12:34:57\n");
        put(sys, "devices/platform/virtio2/net/eth1/address", "52:54:00:12:34:56\n");
        put(sys, "class/net/bonding_masters", "\n");
        static const char *const links[][2] = {
                {"../../devices/virtual/net/lo", "lo"},
                {"../../devices/platform/virtio1/net/eth0", "eth0"},
                {"../../devices/platform/virtio2/net/eth1", "eth1"},
        };
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                char *link = xasprintf("%s/%s", net, links[i][1]);
                assert_int_equal(symlink(links[i][0], link), 0);
                free(link);
        }

        assert_found(guest_find_netif(net, "52:54:00:12:34:56", &dev), &dev, "eth1");
        assert_found(guest_find_netif(net, "52:54:00:12:34:57", &dev), &dev, "eth0");
        /* A restored template's card has the template's MAC: found as the Ethernet card. */
        assert_int_equal(guest_find_ether(net, &dev), -ENOENT);
        put(sys, "devices/virtual/net/lo/type", "772\n");
        put(sys, "devices/platform/virtio1/net/eth0/type", "1\n");
        /* Ethernet of another driver is not the card (the fault: the first type 1 interface
         * taken, a kernel's own tunnel or another card given the unit's address). */
        static const char *const drivers[][2] = {
                {"../../../bus/pci/drivers/e1000", "devices/platform/virtio1/driver"},
                {"../../../bus/virtio/drivers/virtio_net", "devices/platform/virtio2/driver"},
                {"../..", "devices/platform/virtio1/net/eth0/device"},
                {"../..", "devices/platform/virtio2/net/eth1/device"},
        };
        for (size_t i = 0; i < ELEMENTSOF(drivers); i++) {
                char *link = xasprintf("%s/%s", sys, drivers[i][1]);
                assert_int_equal(symlink(drivers[i][0], link), 0);
                free(link);
        }
        assert_int_equal(guest_find_ether(net, &dev), -ENOENT);
        put(sys, "devices/platform/virtio2/net/eth1/type", "1\n");
        assert_found(guest_find_ether(net, &dev), &dev, "eth1");
        assert_int_equal(guest_find_netif(net, "52:54:00:12:34:5", &dev), -ENOENT);
        assert_null(dev);

        assert_int_equal(rm_rf(sys), 0);
        free(sys);
        free(net);
}

static void test_find_input_event(void **state) {
        char *sys = make_tree(), *input = xasprintf("%s/class/input", sys), *dev = NULL;

        assert_int_equal(guest_find_input_event(input, "Power Button", &dev), -ENOENT);

        /* As q35 has them: the keyboard first; the power button with its evdev node beside
         * uevent; the event devices' own class entries, which have no name. */
        put(sys, "class/input/input0/name", "AT Translated Set 2 keyboard\n");
        put(sys, "class/input/input0/event0/dev", "13:64\n");
        put(sys, "class/input/event0/dev", "13:64\n");
        put(sys, "class/input/input2/name", "Power Button\n");
        put(sys, "class/input/input2/uevent", "PRODUCT=19/0/1/0\n");
        put(sys, "class/input/input2/capabilities/key", "10000000000000 0\n");
        put(sys, "class/input/input2/event1/dev", "13:65\n");
        put(sys, "class/input/event1/dev", "13:65\n");
        /* Found by name, but without evdev it has no event device. */
        put(sys, "class/input/input3/name", "Sleep Button\n");
        put(sys, "class/input/input3/uevent", "");

        assert_found(guest_find_input_event(input, "Power Button", &dev), &dev, "event1");
        assert_found(guest_find_input_event(input, "AT Translated Set 2 keyboard", &dev), &dev, "event0");
        assert_int_equal(guest_find_input_event(input, "Sleep Button", &dev), -ENOENT);
        assert_int_equal(guest_find_input_event(input, "Power", &dev), -ENOENT);
        assert_null(dev);

        assert_int_equal(rm_rf(sys), 0);
        free(sys);
        free(input);
}

static json_t *find_pid(json_t *procs, json_int_t pid) {
        size_t i;
        json_t *p;
        json_array_foreach(procs, i, p)
                if (json_integer_value(json_object_get(p, "pid")) == pid)
                        return p;
        return NULL;
}

static void test_ps(void **state) {
        json_t *procs, *p;

        /* What a process looks like is process-list's (test-process-list.c); here, that the guest
         * lists all of its own: this test is in the host's /proc, with its arguments, and no
         * kernel thread is. */
        procs = guest_ps_collect("/proc");
        p = find_pid(procs, getpid());
        assert_non_null(p);
        assert_string_equal(json_string_value(json_object_get(p, "comm")), "test-guest");
        assert_true(endswith(json_string_value(json_array_get(json_object_get(p, "args"), 0)), "test-guest"));
        for (size_t i = 1; i < json_array_size(procs); i++)
                assert_true(json_integer_value(json_object_get(json_array_get(procs, i - 1), "pid")) <
                            json_integer_value(json_object_get(json_array_get(procs, i), "pid")));
        size_t i;
        json_array_foreach(procs, i, p)
                assert_string_not_equal(json_string_value(json_object_get(p, "comm")), "kthreadd");
        json_decref(procs);
}

/* The OOM killer's count, as sup-init reads it from the guest's /proc/vmstat to report an OOM kill
 * (issue 9 item 15). Read twice from one fd: the second read starts over. */
static void test_oom_kills(void **state) {
        _cleanup_free_ char *dir = make_tree(), *path = NULL;
        uint64_t n = 0;
        int fd;

        put(dir, "vmstat", "nr_free_pages 1000\noom_kill_other 5\npgfault 77\noom_kill 3\nthp_fault_alloc 0\n");
        path = xasprintf("%s/vmstat", dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(guest_read_oom_kills(fd, &n), 0);
        assert_int_equal(n, 3);
        n = 0;
        assert_int_equal(guest_read_oom_kills(fd, &n), 0);
        assert_int_equal(n, 3);
        close(fd);
        /* A kernel without the counter (before 4.13), and a malformed one. */
        put(dir, "vmstat", "nr_free_pages 1000\n");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(guest_read_oom_kills(fd, &n), -ENOENT);
        close(fd);
        put(dir, "vmstat", "oom_kill x\n");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_int_equal(guest_read_oom_kills(fd, &n), -EBADMSG);
        close(fd);
        (void) rm_rf(dir);
}

static void test_module_phases(void **state) {
        char dir[] = "/tmp/sup-test-pci-XXXXXX";
        char *dev;

        /* microvm has no PCI: its transport is never loaded; q35 needs it before the agent port. */
        assert_int_equal(guest_module_phase("virtio_pci.ko", false), GUEST_MODULE_SKIP);
        assert_int_equal(guest_module_phase("virtio_pci_modern_dev.ko", false), GUEST_MODULE_SKIP);
        assert_int_equal(guest_module_phase("virtio_pci.ko", true), GUEST_MODULE_BOOT);
        /* The network card's driver waits for a run command that asks for it. */
        assert_int_equal(guest_module_phase("virtio_net.ko", true), GUEST_MODULE_NETWORK);
        assert_int_equal(guest_module_phase("net_failover.ko", false), GUEST_MODULE_NETWORK);
        /* virtio-fs only for a run with shares: most have none. */
        /* The disks' driver after the run command: a restored template's guest never saw the
         * template's disks (the fault: a probe at boot would keep the template's disk sizes). */
        assert_int_equal(guest_module_phase("virtio_blk.ko", false), GUEST_MODULE_DISKS);
        assert_int_equal(guest_module_phase("fuse.ko", false), GUEST_MODULE_FS);
        assert_int_equal(guest_module_phase("virtiofs.ko", true), GUEST_MODULE_FS);
        /* Everything else, at boot: the agent's port, the disks, overlay, the power button. */
        assert_int_equal(guest_module_phase("virtio_console.ko", false), GUEST_MODULE_BOOT);
        assert_int_equal(guest_module_phase("overlay.ko", false), GUEST_MODULE_BOOT);
        assert_int_equal(guest_module_phase("button.ko", false), GUEST_MODULE_BOOT);

        assert_non_null(mkdtemp(dir));
        assert_false(guest_have_pci(dir));
        assert_false(guest_have_pci("/nonexistent/devices"));
        dev = xasprintf("%s/0000:00:01.0", dir);
        assert_int_equal(mkdir(dev, 0755), 0);
        assert_true(guest_have_pci(dir));
        assert_int_equal(rmdir(dev), 0);
        /* A template's guest with a disk probed refuses to park (the fault: a kernel with
         * virtio_blk built in saved with the placeholder disks' sizes of 0); loop devices are
         * no virtio disks. */
        assert_false(guest_have_disks("/nonexistent/block"));
        free(dev);
        dev = xasprintf("%s/loop0", dir);
        assert_int_equal(mkdir(dev, 0755), 0);
        assert_false(guest_have_disks(dir));
        assert_int_equal(rmdir(dev), 0);
        free(dev);
        dev = xasprintf("%s/vda", dir);
        assert_int_equal(mkdir(dev, 0755), 0);
        assert_true(guest_have_disks(dir));
        assert_int_equal(rmdir(dev), 0);
        assert_int_equal(rmdir(dir), 0);
        free(dev);
}

/* The streams' data in order, the pieces of one stream in a row joined: "1:out1|2:err1\n|". */
typedef struct Collected {
        char text[256];
        int last;
} Collected;

static void collect(GuestStream st, const char *data, size_t n, void *userdata) {
        Collected *c = userdata;
        size_t used = strlen(c->text);

        if (c->last == (int) st)
                c->text[--used] = 0; /* the same stream goes on: drop its '|' */
        else
                used += (size_t) snprintf(c->text + used, sizeof(c->text) - used, "%d:", (int) st);
        snprintf(c->text + used, sizeof(c->text) - used, "%.*s|", (int) n, data);
        c->last = (int) st;
}

/* stdout and stderr share one port: the frames must come apart the same wherever the host's reads
 * cut them (one byte at a time included), and a byte that is no stream must stop the decoding
 * rather than send the rest to the wrong stream. */
static void test_output_frames(void **state) {
        char wire[64];
        size_t n = 0;
        uint8_t h[GUEST_OUTPUT_HEADER];

        guest_output_header(h, GUEST_STREAM_STDOUT, 4);
        memcpy(wire + n, h, sizeof(h)), n += sizeof(h);
        memcpy(wire + n, "out1", 4), n += 4;
        guest_output_header(h, GUEST_STREAM_STDERR, 5);
        memcpy(wire + n, h, sizeof(h)), n += sizeof(h);
        memcpy(wire + n, "err1\n", 5), n += 5;
        guest_output_header(h, GUEST_STREAM_STDOUT, 0); /* nothing, harmless */
        memcpy(wire + n, h, sizeof(h)), n += sizeof(h);
        guest_output_header(h, GUEST_STREAM_STDOUT, 2);
        memcpy(wire + n, h, sizeof(h)), n += sizeof(h);
        memcpy(wire + n, "\n!", 2), n += 2;

        for (size_t step = 1; step <= n; step++) {
                GuestOutputDecoder d = {};
                Collected c = {};

                for (size_t off = 0; off < n; off += step)
                        assert_int_equal(guest_output_decode(&d, wire + off, MIN(step, n - off), collect, &c), 0);
                assert_string_equal(c.text, "1:out1|2:err1\n|1:\n!|");
                assert_int_equal(d.left, 0);
                assert_int_equal(d.header_used, 0);
        }
        {
                GuestOutputDecoder d = {};
                Collected c = {};
                assert_int_equal(guest_output_decode(&d, "\x07\x01\x00x", 4, collect, &c), -EBADMSG);
                assert_string_equal(c.text, "");
        }
        /* The length is little endian and reaches GUEST_OUTPUT_DATA_MAX. */
        guest_output_header(h, GUEST_STREAM_STDERR, 0x1234);
        assert_memory_equal(h, "\x02\x34\x12", 3);
        guest_output_header(h, GUEST_STREAM_STDERR, GUEST_OUTPUT_DATA_MAX);
        assert_memory_equal(h, "\x02\xff\xff", 3);
}

static bool strv_equal(char *const *a, char *const *b) {
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}

/* exec over the agent port: what the host sends is what the guest reads, and back. */
static void test_exec_command(void **state) {
        char *argv[] = {"sh", "-c", "echo $X", NULL}, *env[] = {"X=1", "EMPTY=", NULL};
        ExecRequest req = {.argv = argv, .env = env, .user = "app:app", .working_dir = "/tmp"};
        json_t *j = guest_exec_to_json(42, &req);
        GuestExec e;
        GuestCommand c;
        SupError *error = NULL;

        assert_json(json_incref(j), "{\"cmd\":\"exec\",\"id\":42,\"argv\":[\"sh\",\"-c\",\"echo $X\"],"
                                    "\"env\":[\"X=1\",\"EMPTY=\"],\"user\":\"app:app\",\"working_dir\":\"/tmp\"}");
        assert_int_equal(guest_command_from_json(j, &c, &error), 0);
        assert_int_equal(c.type, GUEST_CMD_EXEC);
        assert_int_equal(c.id, 42);
        assert_int_equal(guest_exec_from_json(j, &e, &error), 0);
        assert_int_equal(e.id, 42);
        assert_true(strv_equal(e.req.argv, argv));
        assert_true(strv_equal(e.req.env, env));
        assert_string_equal(e.req.user, "app:app");
        assert_string_equal(e.req.working_dir, "/tmp");
        guest_exec_done(&e);
        json_decref(j);

        /* The optional parts absent: the unit's user, working directory and environment. */
        req = (ExecRequest){.argv = argv};
        j = guest_exec_to_json(GUEST_EXEC_ID_MAX, &req);
        assert_int_equal(guest_exec_from_json(j, &e, &error), 0);
        assert_int_equal(e.id, GUEST_EXEC_ID_MAX);
        assert_null(e.req.env);
        assert_null(e.req.user);
        assert_null(e.req.working_dir);
        guest_exec_done(&e);
        json_decref(j);

        j = guest_exec_ack_to_json(7);
        assert_int_equal(guest_command_from_json(j, &c, &error), 0);
        assert_int_equal(c.type, GUEST_CMD_EXEC_ACK);
        assert_int_equal(c.id, 7);
        json_decref(j);
}

/* A streamed exec: the flags and the terminal's size go to the guest; a tty without a size gets
 * 24x80 on both sides, so that a program in it never sees a 0x0 terminal. */
static void test_exec_stream(void **state) {
        char *argv[] = {"sh", NULL};
        ExecRequest req = {.argv = argv, .stream = true, .stdio = {0, 1, 2}};
        GuestExec e;
        SupError *error = NULL;
        json_t *j;

        j = guest_exec_to_json(3, &req);
        assert_json(json_incref(j), "{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"stream\":true}");
        assert_int_equal(guest_exec_from_json(j, &e, &error), 0);
        assert_true(e.req.stream);
        assert_false(e.req.tty);
        guest_exec_done(&e);
        json_decref(j);

        req.tty = true;
        req.rows = 50;
        req.cols = 132;
        j = guest_exec_to_json(3, &req);
        assert_json(json_incref(j), "{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"stream\":true,"
                                    "\"tty\":true,\"rows\":50,\"cols\":132}");
        assert_int_equal(guest_exec_from_json(j, &e, &error), 0);
        assert_true(e.req.stream && e.req.tty);
        assert_int_equal(e.req.rows, 50);
        assert_int_equal(e.req.cols, 132);
        guest_exec_done(&e);
        json_decref(j);

        req.rows = req.cols = 0;
        j = guest_exec_to_json(3, &req);
        assert_json(json_incref(j), "{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"stream\":true,"
                                    "\"tty\":true,\"rows\":24,\"cols\":80}");
        json_decref(j);
        j = parse_json("{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"stream\":true,\"tty\":true}");
        assert_int_equal(guest_exec_from_json(j, &e, &error), 0);
        assert_int_equal(e.req.rows, 24);
        assert_int_equal(e.req.cols, 80);
        guest_exec_done(&e);
        json_decref(j);

        /* A health check's merged output: the guest's pipe for stdout is its stderr too. With a
         * stream, stderr is the host's fd (or the terminal's): the flag is not sent, and is
         * refused if it comes. */
        req = (ExecRequest){.argv = argv, .merge_stderr = true};
        j = guest_exec_to_json(3, &req);
        assert_json(json_incref(j), "{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"merge_stderr\":true}");
        assert_int_equal(guest_exec_from_json(j, &e, &error), 0);
        assert_true(e.req.merge_stderr && !e.req.stream);
        guest_exec_done(&e);
        json_decref(j);
        req.stream = true;
        j = guest_exec_to_json(3, &req);
        assert_json(j, "{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"stream\":true}");
        j = parse_json("{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"stream\":true,\"merge_stderr\":true}");
        assert_int_equal(guest_exec_from_json(j, &e, &error), -EINVAL);
        assert_string_equal(sup_error_message(error), "exec: \"merge_stderr\" is refused with \"stream\":true");
        error = sup_error_free(error);
        guest_exec_done(&e);
        json_decref(j);
        j = parse_json("{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"],\"merge_stderr\":1}");
        assert_int_equal(guest_exec_from_json(j, &e, &error), -EINVAL);
        error = sup_error_free(error);
        guest_exec_done(&e);
        json_decref(j);

        /* A tty without a stream is not one: the old exec, with /dev/null for stdin. */
        req = (ExecRequest){.argv = argv, .tty = true};
        j = guest_exec_to_json(3, &req);
        assert_json(j, "{\"cmd\":\"exec\",\"id\":3,\"argv\":[\"sh\"]}");
}

/* The exec-* commands, as the host makes them and the guest reads them. */
static void test_exec_stream_commands(void **state) {
        static const uint8_t bytes[] = "\x03\0\xff";
        GuestCommand c;
        SupError *error = NULL;
        json_t *j;

        j = guest_exec_input_to_json(4, bytes, sizeof(bytes) - 1);
        assert_json(json_incref(j), "{\"cmd\":\"exec-input\",\"id\":4,\"data\":\"AwD/\"}");
        assert_int_equal(guest_command_from_json(j, &c, &error), 0);
        assert_int_equal(c.type, GUEST_CMD_EXEC_INPUT);
        assert_int_equal(c.id, 4);
        assert_int_equal(c.n, sizeof(bytes) - 1);
        assert_memory_equal(c.data, bytes, c.n);
        guest_command_done(&c);
        assert_null(c.data);
        json_decref(j);

        j = guest_exec_input_close_to_json(4);
        assert_json(json_incref(j), "{\"cmd\":\"exec-input-close\",\"id\":4}");
        assert_int_equal(guest_command_from_json(j, &c, &error), 0);
        assert_int_equal(c.type, GUEST_CMD_EXEC_INPUT_CLOSE);
        assert_int_equal(c.id, 4);
        json_decref(j);

        j = guest_exec_resize_to_json(4, 65535, 1);
        assert_json(json_incref(j), "{\"cmd\":\"exec-resize\",\"id\":4,\"rows\":65535,\"cols\":1}");
        assert_int_equal(guest_command_from_json(j, &c, &error), 0);
        assert_int_equal(c.type, GUEST_CMD_EXEC_RESIZE);
        assert_int_equal(c.rows, 65535);
        assert_int_equal(c.cols, 1);
        json_decref(j);

        j = guest_exec_kill_to_json(GUEST_EXEC_ID_MAX);
        assert_json(json_incref(j), "{\"cmd\":\"exec-kill\",\"id\":9007199254740992}");
        assert_int_equal(guest_command_from_json(j, &c, &error), 0);
        assert_int_equal(c.type, GUEST_CMD_EXEC_KILL);
        assert_int_equal(c.id, GUEST_EXEC_ID_MAX);
        json_decref(j);

        /* The largest input the host sends is taken, one byte more is not: the guest holds a
         * window of chunks, not of frames. */
        {
                _cleanup_free_ uint8_t *big = xmalloc(GUEST_EXEC_CHUNK + 1);
                memset(big, 'y', GUEST_EXEC_CHUNK + 1);
                j = guest_exec_input_to_json(1, big, GUEST_EXEC_CHUNK);
                assert_int_equal(guest_command_from_json(j, &c, &error), 0);
                assert_int_equal(c.n, GUEST_EXEC_CHUNK);
                guest_command_done(&c);
                json_decref(j);
                j = guest_exec_input_to_json(1, big, GUEST_EXEC_CHUNK + 1);
                assert_int_equal(guest_command_from_json(j, &c, &error), -EINVAL);
                assert_non_null(strstr(sup_error_message(error), "1 to 4096 bytes"));
                assert_null(c.data);
                error = sup_error_free(error);
                json_decref(j);
        }
}

static void test_exec_stream_refused(void **state) {
        static const struct {
                const char *json;
                const char *error;
        } commands[] = {
                {"{\"cmd\":\"exec-input\",\"data\":\"YQ==\"}", "\"id\""},
                {"{\"cmd\":\"exec-input\",\"id\":0,\"data\":\"YQ==\"}", "\"id\""},
                {"{\"cmd\":\"exec-input\",\"id\":1}", "base64"},
                {"{\"cmd\":\"exec-input\",\"id\":1,\"data\":7}", "base64"},
                {"{\"cmd\":\"exec-input\",\"id\":1,\"data\":\"YQ\"}", "base64"},
                {"{\"cmd\":\"exec-input\",\"id\":1,\"data\":\"\"}", "1 to 4096 bytes"}, /* no bytes */
                {"{\"cmd\":\"exec-input-close\"}", "\"id\""},
                {"{\"cmd\":\"exec-kill\",\"id\":\"2\"}", "\"id\""},
                {"{\"cmd\":\"exec-resize\",\"id\":1}", "\"rows\" and \"cols\""},
                {"{\"cmd\":\"exec-resize\",\"id\":1,\"rows\":24}", "\"rows\" and \"cols\""},
                {"{\"cmd\":\"exec-resize\",\"id\":1,\"rows\":0,\"cols\":80}", "\"rows\" and \"cols\""},
                {"{\"cmd\":\"exec-resize\",\"id\":1,\"rows\":24,\"cols\":65536}", "\"rows\" and \"cols\""},
                {"{\"cmd\":\"exec-resize\",\"id\":1,\"rows\":24.5,\"cols\":80}", "\"rows\" and \"cols\""},
        };
        static const struct {
                const char *json;
                const char *error;
        } execs[] = {
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"stream\":1}", "boolean"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"stream\":true,\"tty\":\"yes\"}", "boolean"},
                /* A terminal needs a stream: its input has no other way in. */
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"tty\":true}", "need \"stream\":true"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"stream\":false,\"tty\":false}", "need \"stream\""},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"stream\":true,\"rows\":24,\"cols\":80}",
                 "need \"tty\":true"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"stream\":true,\"tty\":true,\"rows\":24}",
                 "\"rows\" and \"cols\""},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"sh\"],\"stream\":true,\"tty\":true,\"rows\":-1,"
                 "\"cols\":80}",
                 "from 1 to 65535"},
        };

        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                json_t *j = parse_json(commands[i].json);
                GuestCommand c;
                SupError *error = NULL;

                assert_int_equal(guest_command_from_json(j, &c, &error), -EINVAL);
                if (!error || !strstr(sup_error_message(error), commands[i].error))
                        fail_msg("%s: \"%s\" lacks \"%s\"", commands[i].json, sup_error_message(error),
                                 commands[i].error);
                assert_null(c.data);
                error = sup_error_free(error);
                json_decref(j);
        }
        for (size_t i = 0; i < ELEMENTSOF(execs); i++) {
                json_t *j = parse_json(execs[i].json);
                GuestExec e;
                SupError *error = NULL;

                assert_int_equal(guest_exec_from_json(j, &e, &error), -EINVAL);
                assert_int_equal(e.id, 5); /* answered by the exec's exec-exit */
                if (!error || !strstr(sup_error_message(error), execs[i].error))
                        fail_msg("%s: \"%s\" lacks \"%s\"", execs[i].json, sup_error_message(error), execs[i].error);
                guest_exec_done(&e);
                error = sup_error_free(error);
                json_decref(j);
        }
}

static void test_exec_command_refused(void **state) {
        static const struct {
                const char *json;
                uint64_t id; /* what the refusal can answer to: 0 none (a "refused" event) */
                const char *error;
        } cases[] = {
                /* Ids outside 1..2^53: 0, negative, not exact in a double, not an integer. */
                {"{\"cmd\":\"exec\",\"argv\":[\"ls\"]}", 0, "\"id\""},
                {"{\"cmd\":\"exec\",\"id\":0,\"argv\":[\"ls\"]}", 0, "\"id\""},
                {"{\"cmd\":\"exec\",\"id\":-4,\"argv\":[\"ls\"]}", 0, "\"id\""},
                {"{\"cmd\":\"exec\",\"id\":9007199254740993,\"argv\":[\"ls\"]}", 0, "\"id\""},
                {"{\"cmd\":\"exec\",\"id\":\"1\",\"argv\":[\"ls\"]}", 0, "\"id\""},
                /* With a valid id, the refusal is the exec's own end (exec-exit 126). */
                {"{\"cmd\":\"exec\",\"id\":5}", 5, "\"argv\" must be a list"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[]}", 5, "\"argv\" is empty"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"ls\",3]}", 5, "argv[1]"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"ls\"],\"env\":[\"NOVALUE\"]}", 5, "NAME=value"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"ls\"],\"env\":[\"=x\"]}", 5, "NAME=value"},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"ls\"],\"user\":0}", 5, "\"user\""},
                {"{\"cmd\":\"exec\",\"id\":5,\"argv\":[\"ls\"],\"working_dir\":\"tmp\"}", 5, "absolute"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *j = parse_json(cases[i].json);
                GuestExec e;
                SupError *error = NULL;

                assert_int_equal(guest_exec_from_json(j, &e, &error), -EINVAL);
                assert_int_equal(e.id, cases[i].id);
                if (!error || !strstr(sup_error_message(error), cases[i].error))
                        fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].json, sup_error_message(error), cases[i].error);
                guest_exec_done(&e);
                error = sup_error_free(error);
                json_decref(j);
        }
        /* An ack names the exec it is for. */
        {
                json_t *j = parse_json("{\"cmd\":\"exec-ack\"}");
                GuestCommand c;
                SupError *error = NULL;
                assert_int_equal(guest_command_from_json(j, &c, &error), -EINVAL);
                assert_non_null(strstr(sup_error_message(error), "\"id\""));
                error = sup_error_free(error);
                json_decref(j);
        }
}

static void test_exec_events(void **state) {
        /* Any bytes, NUL and invalid UTF-8 included, arrive as they were written. */
        static const char bytes[] = "a\0b\xff\n";
        GuestExecEvent ev;
        json_t *j;

        j = guest_event_exec_output(9, EXEC_STDERR, bytes, sizeof(bytes) - 1);
        assert_json(json_incref(j), "{\"event\":\"exec-output\",\"id\":9,\"stream\":\"stderr\",\"data\":\"YQBi/wo=\"}");
        assert_int_equal(guest_exec_event_from_json(j, &ev), 0);
        assert_int_equal(ev.id, 9);
        assert_int_equal(ev.type, GUEST_EXEC_EVENT_OUTPUT);
        assert_int_equal(ev.stream, EXEC_STDERR);
        assert_int_equal(ev.n, sizeof(bytes) - 1);
        assert_memory_equal(ev.data, bytes, ev.n);
        guest_exec_event_done(&ev);
        json_decref(j);

        j = guest_event_exec_exit(9, &(ExecResult){.code = 3});
        assert_json(json_incref(j), "{\"event\":\"exec-exit\",\"id\":9,\"code\":3}");
        assert_int_equal(guest_exec_event_from_json(j, &ev), 0);
        assert_int_equal(ev.type, GUEST_EXEC_EVENT_EXIT);
        assert_int_equal(ev.result.code, 3);
        assert_int_equal(ev.result.signal, 0);
        assert_null(ev.result.error);
        json_decref(j);

        j = guest_event_exec_exit(9, &(ExecResult){.code = -1, .signal = SIGKILL});
        assert_json(json_incref(j), "{\"event\":\"exec-exit\",\"id\":9,\"signal\":9}");
        assert_int_equal(guest_exec_event_from_json(j, &ev), 0);
        assert_int_equal(ev.result.code, -1);
        assert_int_equal(ev.result.signal, SIGKILL);
        json_decref(j);

        j = guest_event_exec_exit(9,
                                  &(ExecResult){.code = 127, .error = "cannot execute x: No such file or directory"});
        assert_int_equal(guest_exec_event_from_json(j, &ev), 0);
        assert_int_equal(ev.result.code, 127);
        assert_string_equal(ev.result.error, "cannot execute x: No such file or directory");
        guest_exec_event_done(&ev);
        json_decref(j);

        /* The largest piece the guest sends is taken; a larger one is not (the host's bound). */
        {
                _cleanup_free_ char *big = xmalloc(GUEST_EXEC_CHUNK + 1);
                memset(big, 'x', GUEST_EXEC_CHUNK + 1);
                j = guest_event_exec_output(1, EXEC_STDOUT, big, GUEST_EXEC_CHUNK);
                assert_int_equal(guest_exec_event_from_json(j, &ev), 0);
                assert_int_equal(ev.n, GUEST_EXEC_CHUNK);
                guest_exec_event_done(&ev);
                json_decref(j);
                j = guest_event_exec_output(1, EXEC_STDOUT, big, GUEST_EXEC_CHUNK + 1);
                assert_int_equal(guest_exec_event_from_json(j, &ev), -EBADMSG);
                json_decref(j);
        }
}

static void test_exec_input_ack(void **state) {
        GuestExecEvent ev;
        json_t *j = guest_event_exec_input_ack(12);

        assert_json(json_incref(j), "{\"event\":\"exec-input-ack\",\"id\":12}");
        assert_int_equal(guest_exec_event_from_json(j, &ev), 0);
        assert_int_equal(ev.type, GUEST_EXEC_EVENT_INPUT_ACK);
        assert_int_equal(ev.id, 12);
        assert_null(ev.data);
        json_decref(j);
}

static void test_exec_events_malformed(void **state) {
        static const char *const cases[] = {
                "{\"event\":\"exec-output\",\"stream\":\"stdout\",\"data\":\"\"}",            /* no id */
                "{\"event\":\"exec-output\",\"id\":1,\"stream\":\"stdin\",\"data\":\"\"}",    /* no such stream */
                "{\"event\":\"exec-output\",\"id\":1,\"stream\":\"stdout\"}",                 /* no data */
                "{\"event\":\"exec-output\",\"id\":1,\"stream\":\"stdout\",\"data\":\"YQ\"}", /* not base64 */
                "{\"event\":\"exec-exit\",\"id\":1}",                                         /* no end */
                "{\"event\":\"exec-exit\",\"id\":1,\"code\":1,\"signal\":9}",                 /* both */
                "{\"event\":\"exec-exit\",\"id\":1,\"code\":256}",
                "{\"event\":\"exec-exit\",\"id\":1,\"code\":-1}",
                "{\"event\":\"exec-exit\",\"id\":1,\"signal\":0}",
                "{\"event\":\"exec-exit\",\"id\":1,\"code\":0,\"error\":5}",
                "{\"event\":\"exit\",\"id\":1,\"code\":0}", /* not an exec's */
                "{\"event\":\"exec-input-ack\"}",           /* no id */
                "{\"event\":\"exec-input-ack\",\"id\":0}",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *j = parse_json(cases[i]);
                GuestExecEvent ev;
                if (guest_exec_event_from_json(j, &ev) != -EBADMSG)
                        fail_msg("taken: %s", cases[i]);
                json_decref(j);
        }
}

/* ---- the host's relay of execs (runtime/vm/vm-exec.c), against a scripted agent ---- */

typedef struct Relay {
        Event *event;
        VmExecs *execs;
        json_t *sent; /* what went to the agent, in order */
        unsigned notes;
        unsigned exited;
        ExecResult result;
        char output[64];
} Relay;

static void relay_send(json_t *msg, void *userdata) {
        Relay *t = userdata;
        json_array_append_new(t->sent, msg);
}

static void relay_note(const char *line, void *userdata) {
        Relay *t = userdata;
        t->notes++;
}

static void relay_exited(const ExecResult *result, void *userdata) {
        Relay *t = userdata;
        t->exited++;
        t->result = *result;
        t->result.error = NULL;
}

static void relay_output(ExecStream s, const char *buf, size_t n, void *userdata) {
        Relay *t = userdata;
        strncat(t->output, buf, MIN(n, sizeof(t->output) - strlen(t->output) - 1));
}

static const ExecCallbacks relay_callbacks = {.output = relay_output, .exited = relay_exited};

static void relay_init(Relay *t) {
        *t = (Relay){.sent = json_array()};
        assert_int_equal(event_new(&t->event), 0);
        t->execs = vm_execs_new(t->event, &(VmExecsOwner){.send = relay_send, .note = relay_note, .userdata = t});
}

static void relay_done(Relay *t) {
        t->execs = vm_execs_free(t->execs);
        event_free(t->event);
        json_decref(t->sent);
}

/* The loop until nothing is left to do now: no wait, so no timing. */
static void relay_spin(Relay *t) {
        for (int i = 0; i < 20; i++)
                assert_true(event_run(t->event, 0) >= 0);
}

/* How many of what was sent are cmd (with id), and the last of them. */
static size_t relay_count(Relay *t, const char *cmd, json_t **ret_last) {
        size_t i, n = 0;
        json_t *m;

        json_array_foreach(t->sent, i, m)
                if (streq(json_string_value(json_object_get(m, "cmd")), cmd)) {
                        n++;
                        if (ret_last)
                                *ret_last = m;
                }
        return n;
}

static void relay_event(Relay *t, json_t *ev) {
        vm_execs_event(t->execs, ev);
        json_decref(ev);
}

/* The output of a stream goes out as fast as its client reads, no faster: an exec-output is acked
 * only once it is all written (a client that does not read holds the guest's command, not the
 * agent port), and exited() comes after the last byte. */
static void test_relay_output_backpressure(void **state) {
        Relay t;
        int in[2], out[2], err[2];
        char chunk[GUEST_EXEC_CHUNK], buf[2 * GUEST_EXEC_CHUNK];
        char *argv[] = {"cat", NULL};
        VmExec *x;
        SupError *error = NULL;
        size_t got = 0;

        relay_init(&t);
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        /* Room for exactly one chunk: the second would block. */
        assert_int_equal(fcntl(out[1], F_SETPIPE_SZ, GUEST_EXEC_CHUNK), GUEST_EXEC_CHUNK);
        assert_int_equal(vm_execs_start(t.execs,
                                        &(ExecRequest){.argv = argv, .stream = true, .stdio = {in[0], out[1], err[1]}},
                                        &relay_callbacks, &t, &x, &error),
                         0);
        assert_int_equal(relay_count(&t, "exec", NULL), 1);
        /* The relay has dups: the caller's fds are its own to close. */
        close(in[0]);
        close(out[1]);
        close(err[1]);

        memset(chunk, 'a', sizeof(chunk));
        relay_event(&t, guest_event_exec_output(1, EXEC_STDOUT, chunk, sizeof(chunk)));
        relay_spin(&t);
        assert_int_equal(relay_count(&t, "exec-ack", NULL), 1);
        memset(chunk, 'b', sizeof(chunk));
        relay_event(&t, guest_event_exec_output(1, EXEC_STDOUT, chunk, sizeof(chunk)));
        relay_event(&t, guest_event_exec_output(1, EXEC_STDERR, "e", 1));
        relay_event(&t, guest_event_exec_exit(1, &(ExecResult){.code = 4}));
        relay_spin(&t);
        /* The pipe is full: the second chunk is held, unacked, and the exec has not ended. */
        assert_int_equal(relay_count(&t, "exec-ack", NULL), 1);
        assert_int_equal(t.exited, 0);

        while (got < sizeof(buf)) {
                ssize_t n = read(out[0], buf + got, sizeof(buf) - got);
                assert_true(n > 0);
                got += (size_t) n;
                relay_spin(&t);
        }
        assert_true(buf[0] == 'a' && buf[GUEST_EXEC_CHUNK - 1] == 'a' && buf[GUEST_EXEC_CHUNK] == 'b' &&
                    buf[sizeof(buf) - 1] == 'b');
        assert_int_equal(read(err[0], buf, 1), 1);
        assert_int_equal(buf[0], 'e');
        /* After its exec-exit the guest has forgotten the exec: no ack for what was held. */
        assert_int_equal(relay_count(&t, "exec-ack", NULL), 1);
        assert_int_equal(t.exited, 1);
        assert_int_equal(t.result.code, 4);
        /* The relay closed its dups: end of file for the client. */
        assert_int_equal(read(out[0], buf, 1), 0);
        assert_int_equal(read(err[0], buf, 1), 0);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        relay_done(&t);
}

/* stdin goes to the guest within its window: at most GUEST_EXEC_WINDOW exec-input unacked, then
 * the client's pipe is not read; its end of file is an exec-input-close. */
static void test_relay_input_window(void **state) {
        Relay t;
        int in[2], out[2];
        char chunk[GUEST_EXEC_CHUNK];
        char *argv[] = {"cat", NULL};
        VmExec *x;
        SupError *error = NULL;
        json_t *last = NULL;
        uint8_t *data;
        size_t n;

        relay_init(&t);
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(vm_execs_start(t.execs,
                                        &(ExecRequest){.argv = argv, .stream = true, .stdio = {in[0], out[1], out[1]}},
                                        &relay_callbacks, &t, &x, &error),
                         0);
        for (int i = 0; i < 3; i++) {
                memset(chunk, 'x' + i, sizeof(chunk));
                assert_int_equal(write(in[1], chunk, sizeof(chunk)), (ssize_t) sizeof(chunk));
        }
        relay_spin(&t);
        assert_int_equal(relay_count(&t, "exec-input", NULL), GUEST_EXEC_WINDOW);
        relay_event(&t, guest_event_exec_input_ack(1));
        relay_spin(&t);
        assert_int_equal(relay_count(&t, "exec-input", &last), GUEST_EXEC_WINDOW + 1);
        assert_int_equal(base64_decode(json_string_value(json_object_get(last, "data")), &data, &n), 0);
        assert_int_equal(n, GUEST_EXEC_CHUNK);
        assert_int_equal(data[0], 'z');
        free(data);
        assert_int_equal(relay_count(&t, "exec-input-close", NULL), 0);
        /* The end of file waits for the window too: it is read only with one open. */
        close(in[1]);
        relay_spin(&t);
        assert_int_equal(relay_count(&t, "exec-input-close", NULL), 0);
        relay_event(&t, guest_event_exec_input_ack(1));
        relay_spin(&t);
        assert_int_equal(relay_count(&t, "exec-input-close", NULL), 1);
        assert_int_equal(relay_count(&t, "exec-input", NULL), GUEST_EXEC_WINDOW + 1);
        close(in[0]);
        close(out[0]);
        close(out[1]);
        /* The agent goes: the exec ends as the instance's do. */
        vm_execs_fail_all(t.execs);
        assert_int_equal(t.exited, 1);
        assert_int_equal(t.result.signal, SIGKILL);
        relay_done(&t);
}

/* A cancelled exec is killed in the guest and heard of no more: neither what the guest sent before
 * it had the exec-kill, nor its exec-exit, reach the caller, and its id is not taken for a
 * stranger's while the guest still speaks of it. */
static void test_relay_cancel(void **state) {
        Relay t;
        char *argv[] = {"sleep", "100", NULL};
        VmExec *x;
        SupError *error = NULL;
        json_t *kill = NULL;

        relay_init(&t);
        assert_int_equal(vm_execs_start(t.execs, &(ExecRequest){.argv = argv}, &relay_callbacks, &t, &x, &error), 0);
        assert_int_equal(vm_exec_resize(x, 30, 100), -ENOTTY);
        relay_event(&t, guest_event_exec_output(1, EXEC_STDOUT, "before", 6));
        assert_string_equal(t.output, "before");
        assert_null(vm_exec_cancel(x));
        assert_int_equal(relay_count(&t, "exec-kill", &kill), 1);
        assert_int_equal(json_integer_value(json_object_get(kill, "id")), 1);
        relay_event(&t, guest_event_exec_output(1, EXEC_STDOUT, "after", 5));
        relay_event(&t, guest_event_exec_exit(1, &(ExecResult){.code = -1, .signal = SIGKILL}));
        assert_string_equal(t.output, "before");
        assert_int_equal(t.exited, 0);
        assert_int_equal(t.notes, 0);
        /* Gone now: a late event of it is a stranger's. */
        relay_event(&t, guest_event_exec_exit(1, &(ExecResult){.code = 0}));
        assert_int_equal(t.notes, 1);
        assert_int_equal(t.exited, 0);

        /* A terminal's size goes to the guest; the agent's end ends a cancelled exec silently. */
        {
                int p[2];
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                assert_int_equal(vm_execs_start(t.execs,
                                                &(ExecRequest){.argv = argv,
                                                               .stream = true,
                                                               .tty = true,
                                                               .stdio = {p[0], p[1], -EBADF}},
                                                &relay_callbacks, &t, &x, &error),
                                 0);
                assert_int_equal(vm_exec_resize(x, 30, 100), 0);
                assert_int_equal(relay_count(&t, "exec-resize", &kill), 1);
                assert_json(json_incref(kill), "{\"cmd\":\"exec-resize\",\"id\":2,\"rows\":30,\"cols\":100}");
                assert_null(vm_exec_cancel(x));
                vm_execs_fail_all(t.execs);
                assert_int_equal(t.exited, 0);
                close(p[0]);
                close(p[1]);
        }
        relay_done(&t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_module_phases),
                cmocka_unit_test(test_oom_kills),
                cmocka_unit_test(test_events),
                cmocka_unit_test(test_command_table),
                cmocka_unit_test(test_commands),
                cmocka_unit_test(test_clock_commands),
                cmocka_unit_test(test_clock_event),
                cmocka_unit_test(test_clock_sample),
                cmocka_unit_test(test_run_from_canonical_json),
                cmocka_unit_test(test_run_refused),
                cmocka_unit_test(test_run_shares),
                cmocka_unit_test(test_run_shares_refused),
                cmocka_unit_test(test_run_entropy_and_park),
                cmocka_unit_test(test_run_without_rlimits_refused),
                cmocka_unit_test(test_run_network),
                cmocka_unit_test(test_run_network6),
                cmocka_unit_test(test_run_network_mode),
                cmocka_unit_test(test_run_seccomp),
                cmocka_unit_test(test_env),
                cmocka_unit_test(test_user),
                cmocka_unit_test(test_modules_list),
                cmocka_unit_test(test_find_port_and_disk),
                cmocka_unit_test(test_find_netif),
                cmocka_unit_test(test_find_input_event),
                cmocka_unit_test(test_ps),
                cmocka_unit_test(test_output_frames),
                cmocka_unit_test(test_exec_command),
                cmocka_unit_test(test_exec_command_refused),
                cmocka_unit_test(test_exec_stream),
                cmocka_unit_test(test_exec_stream_commands),
                cmocka_unit_test(test_exec_stream_refused),
                cmocka_unit_test(test_exec_events),
                cmocka_unit_test(test_exec_input_ack),
                cmocka_unit_test(test_relay_output_backpressure),
                cmocka_unit_test(test_relay_input_window),
                cmocka_unit_test(test_relay_cancel),
                cmocka_unit_test(test_exec_events_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
