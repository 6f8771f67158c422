/* SPDX-License-Identifier: MIT */
/* sup-monitor: runs one instance of a unit. Started by supd (detached: not in supd's session, not
 * supd's child; see zygote.h), it keeps running when supd stops, and supd finds it again by its
 * socket. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "alloc.h"
#include "instance.h"
#include "bridge.h"
#include "log.h"
#include "macro.h"
#include "monitor.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"
#include "unit-value.h"
#include "zygote.h"

static void on_terminate(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        /* Being told to go by a signal is a shutdown: stop the workload first. */
        (void) monitor_shutdown(userdata, false);
}

static void on_sigchld(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        /* Containers are reaped through their pidfd; this only keeps SIGCHLD from being lost
         * in the blocked set. */
}

/* The default seccomp profile's program for the default capabilities, which most units run:
 * made in the zygote before its first monitor (from the cache directory, or compiled and written
 * there) and taken over by every monitor forked from it (monitor_new()), which then neither
 * builds the profile nor hashes it to find its program (a fifth of a monitor's own CPU time
 * before its first start). A unit whose profile or capabilities differ makes its own, as before. */
static SeccompCache seccomp_ahead;

/* The zygote's, once, with its first request's arguments (their --state-dir). Quiet: a failure
 * leaves nothing made ahead, and the monitors prepare their programs themselves, reporting it. */
static void zygote_warm(int argc, char **argv) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_spec_new();
        _cleanup_free_ char *dir = NULL;
        SeccompPrepared p = {};

        for (int i = 1; i + 1 < argc && !dir; i++)
                if (streq(argv[i], "--state-dir"))
                        dir = path_join(argv[i + 1], "seccomp");
        if (!dir)
                return;
        if (seccomp_prepare(u, seccomp_unit_caps(u), dir, &seccomp_ahead, &p, NULL) >= 0 && seccomp_ahead.program)
                seccomp_ahead.made_ahead = true;
        seccomp_prepared_done(&p);
        /* What building and compiling the profile freed goes back to the kernel (some 60 KiB of
         * the zygote's heap, kept for nothing otherwise). */
        (void) malloc_trim(0);
}

static int monitor_main(int argc, char **argv) {
        static const struct option options[] = {
                {"dir", required_argument, NULL, 'd'},
                {"state-dir", required_argument, NULL, 's'},
                {"cgroup-root", required_argument, NULL, 'R'},
                {"cgroup-parent", required_argument, NULL, 'P'},
                {"bridge-subnet", required_argument, NULL, 'b'},
                {"bridge-subnet6", required_argument, NULL, '6'},
                {"no-outbound", no_argument, NULL, 'O'},
                {"guest-dir", required_argument, NULL, 'G'},
                {"vm-accel", required_argument, NULL, 'A'},
                {"vm-debug", no_argument, NULL, 'D'},
                {"log-max-size", required_argument, NULL, 'L'},
                {"image-max-layer-size", required_argument, NULL, 'I'},
                {"ready-fd", required_argument, NULL, 'r'},
                {"start", no_argument, NULL, 'S'},
                {},
        };
        MonitorConfig cfg = {
                .seccomp_ahead = &seccomp_ahead,
                .cgroup_root = "/sys/fs/cgroup",
                .cgroup_parent = "sup",
                .image_limits = {.max_bytes = LAYER_UNPACK_MAX_BYTES_DEFAULT,
                                 .max_entries = LAYER_UNPACK_MAX_ENTRIES_DEFAULT},
        };
        const char *subnet = BRIDGE_DEFAULT_SUBNET, *subnet6 = NULL;
        _cleanup_(event_freep) Event *e = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        Monitor *m = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        int ready_fd = -1, c, r;
        uint64_t size;
        bool start = false;

        log_set_program("sup-monitor");
        /* The malloc tunable supd started it with is the monitor's alone (manager-runtime.c): not for
         * QEMU, virtiofsd, skopeo or anything else it runs with its own environment. */
        glibc_tunables_drop(SUP_MONITOR_MALLOC_TUNABLE);
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        cfg.dir = optarg;
                        break;
                case 's':
                        cfg.state_dir = optarg;
                        break;
                case 'R':
                        cfg.cgroup_root = optarg;
                        break;
                case 'P':
                        cfg.cgroup_parent = optarg;
                        break;
                case 'b':
                        subnet = optarg;
                        break;
                case '6':
                        subnet6 = optarg;
                        break;
                case 'O':
                        cfg.no_outbound = true;
                        break;
                case 'G':
                        cfg.driver.guest_dir = optarg;
                        break;
                case 'A':
                        if (vm_accel_from_string(optarg) < 0) {
                                log_error("--vm-accel: expected auto, kvm or tcg, not \"%s\"", optarg);
                                return 2;
                        }
                        cfg.driver.vm_accel = vm_accel_from_string(optarg);
                        break;
                case 'D':
                        cfg.driver.vm_debug = true;
                        break;
                case 'L':
                        /* supd checked it; bytes, in decimal. */
                        if (parse_size(optarg, &cfg.log_max_size, NULL) < 0 || cfg.log_max_size < LOG_MIN_MAX_SIZE) {
                                log_error("--log-max-size: expected at least %u bytes, not \"%s\"", LOG_MIN_MAX_SIZE,
                                          optarg);
                                return 2;
                        }
                        break;
                case 'I':
                        /* supd checked it; bytes, in decimal; 0: the default. */
                        if (parse_size(optarg, &size, NULL) < 0) {
                                log_error("--image-max-layer-size: expected bytes, not \"%s\"", optarg);
                                return 2;
                        }
                        if (size > 0)
                                cfg.image_limits.max_bytes = size;
                        break;
                case 'r':
                        ready_fd = atoi(optarg);
                        break;
                case 'S':
                        start = true;
                        break;
                default:
                        return 2;
                }
        if (!cfg.dir || !cfg.state_dir) {
                log_error("usage: sup-monitor --dir DIR --state-dir DIR [--cgroup-root R] [--cgroup-parent P] "
                          "[--bridge-subnet CIDR] [--bridge-subnet6 CIDR] [--no-outbound] [--guest-dir DIR] "
                          "[--vm-accel auto|kvm|tcg] [--vm-debug] "
                          "[--log-max-size BYTES] [--image-max-layer-size BYTES] [--start]");
                return 2;
        }
        if (ipv4_net_parse(subnet, &cfg.bridge_subnet) < 0) {
                log_error("--bridge-subnet: \"%s\" is not an IPv4 network in CIDR notation", subnet);
                return 2;
        }
        if (!subnet6) {
                char bridge[IFNAMSIZ];
                bridge_name(cfg.cgroup_parent, bridge);
                bridge_default_subnet6(bridge, &cfg.bridge_subnet6);
        } else if (ipv6_net_parse(subnet6, &cfg.bridge_subnet6) < 0 || cfg.bridge_subnet6.prefix != 64) {
                log_error("--bridge-subnet6: \"%s\" is not an IPv6 /64 in CIDR notation", subnet6);
                return 2;
        }

        /* Held until this process is gone: how supd tells that a monitor of this instance lives
         * even when it cannot read its files or reach its socket, and what keeps a second
         * monitor off the same directory. */
        lock_fd = instance_lock_take(cfg.dir);
        if (lock_fd == -EBUSY)
                (void) sup_error_make(&error, lock_fd, "another monitor runs this instance");
        r = lock_fd < 0 ? lock_fd : event_new(&e);
        if (r >= 0)
                r = monitor_new(e, &cfg, &m, &error);
        if (r >= 0)
                r = monitor_listen(m);
        /* Before the first start: every byte of the unit's log is written from in there. */
        if (r >= 0 && monitor_enter_cgroup(m, &error) < 0) {
                log_error("%s; the monitor's work is accounted wherever supd runs", sup_error_message(error));
                error = sup_error_free(error);
        }
        if (r < 0) {
                char msg[1024];
                int n = snprintf(msg, sizeof(msg), "%s", error ? error->message : strerror(-r));
                if (ready_fd >= 0)
                        (void) !write(ready_fd, msg, (size_t) MAX(n, 0));
                log_error("%s", msg);
                monitor_free(m);
                return 1;
        }
        (void) prctl(PR_SET_NAME, "sup-monitor");
        (void) event_add_signal(e, NULL, SIGTERM, on_terminate, m);
        (void) event_add_signal(e, NULL, SIGINT, on_terminate, m);
        (void) event_add_signal(e, NULL, SIGCHLD, on_sigchld, m);
        signal(SIGPIPE, SIG_IGN);

        if (start)
                (void) monitor_start(m, false);
        /* Listening, and the first state recorded: supd may connect. */
        if (ready_fd >= 0) {
                (void) !write(ready_fd, "", 0);
                close(ready_fd);
        }
        /* After the ready, not before: making the next run ahead (a cgroup attach, an image
         * step) must not hold up supd's spawn of this monitor and the next. */
        if (!start)
                monitor_make_ahead(m);
        r = event_loop(e);
        monitor_free(m);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        /* supd's monitor zygote (zygote.h): its requests on fd 3. */
        if (argc == 2 && streq(argv[1], "--zygote")) {
                log_set_program("sup-monitor");
                glibc_tunables_drop(SUP_MONITOR_MALLOC_TUNABLE);
                monitor_zygote_environment_drop();
                return monitor_zygote_run(3, monitor_main, zygote_warm);
        }
        return monitor_main(argc, argv);
}
