/* SPDX-License-Identifier: MIT */
/* supd: keeps the running containers equal to the unit files. */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "alloc.h"
#include "bridge.h"
#include "control.h"
#include "events.h"
#include "fileio.h"
#include "image-store.h"
#include "log-writer.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "metrics-http.h"
#include "metrics.h"
#include "path-util.h"
#include "portmap.h"
#include "sd-notify.h"
#include "sha256.h"
#include "string-util.h"
#include "unit-value.h"

#define DEFAULT_UNITS_DIR "/etc/sup/units"
#define DEFAULT_STATE_DIR "/var/lib/sup"
#define DEFAULT_RUN_DIR "/run/sup"
#define DEFAULT_GUEST_DIR "/var/lib/sup/guest"
#define SHUTDOWN_GRACE (10 * USEC_PER_SEC)
#define METRICS_LISTEN_MAX 8U

typedef struct Daemon {
        Event *event;
        Manager *manager;
        ControlServer *control;
        Events *events;
        EventSource *watchdog;
        usec_t watchdog_interval;
        EventSource *shutdown_timer;
        size_t shutdown_left;  /* the monitors left at the shutdown timer's last check */
        MetricsHttp **metrics; /* one per --metrics-listen */
        size_t n_metrics;
} Daemon;

static Daemon daemon_state;

static void notify_status(Manager *m) {
        unsigned running = 0, failed = 0, total = 0;
        for (Instance *i = m->instances; i; i = i->next) {
                if (instance_life_retiring(i->life))
                        continue;
                total++;
                running += i->status.name && i->status.state == INSTANCE_RUNNING;
                failed += i->status.name && i->status.state == INSTANCE_FAILED;
        }
        (void) sd_notifyf("STATUS=%u units, %u running, %u failed", total, running, failed);
}

static void on_ready(Manager *m) {
        (void) sd_notify_send("READY=1");
        notify_status(m);
        log_info("ready");
}

static void on_reload_notify(bool begin) {
        if (begin)
                (void) sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) now(CLOCK_MONOTONIC));
        else {
                (void) sd_notify_send("READY=1");
                notify_status(daemon_state.manager);
        }
}

/* Every unit stopped and every monitor gone: the instance's bridge and nftables table serve
 * nobody any more. (Not on SIGQUIT, where the units keep running, nor when monitors outlast the
 * grace period.) */
static void remove_network(Manager *m) {
        _cleanup_sup_error_ SupError *error = NULL;
        char bridge[IFNAMSIZ];
        Ipv4Net subnet = {};
        PortmapTable table;
        _cleanup_free_ char *script = NULL;
        int r;

        bridge_name(m->config.cgroup_parent, bridge);
        (void) ipv4_net_parse(m->config.bridge_subnet, &subnet);
        table = (PortmapTable){.name = bridge, .bridge = bridge, .subnet = subnet};
        script = portmap_script_drop(&table);
        r = portmap_apply(script, &error);
        if (r < 0 && r != -ENOENT) /* no nft: there cannot be a table either */
                log_warning("cannot remove the nftables table inet %s: %s", bridge, sup_error_message(error));
        r = bridge_remove(bridge);
        if (r < 0)
                log_warning("cannot remove the bridge %s: %s", bridge, strerror(-r));
}

static void on_idle(Manager *m) {
        remove_network(m);
        event_exit(daemon_state.event, 0);
}

static size_t count_instances(Manager *m) {
        size_t n = 0;
        for (Instance *i = m->instances; i; i = i->next)
                n++;
        return n;
}

/* Past the longest stop timeout and a grace period, supd waits on as long as monitors keep
 * finishing: a thousand of them stopping at once on a small host take longer than any one unit's
 * timeout, and a supd that exited among them said its units were stopped when most were not. It
 * gives up once a grace period passed with none finishing. */
static void on_shutdown_timeout(EventSource *s, usec_t t, void *userdata) {
        Daemon *d = userdata;
        size_t left = count_instances(d->manager);

        if (left < d->shutdown_left) {
                log_info("%zu monitors still stopping their units", left);
                d->shutdown_left = left;
                event_source_set_time(s, t + SHUTDOWN_GRACE);
                return;
        }
        log_warning("%zu monitors still stopping their units, none finished in the grace period; exiting "
                    "anyway (they finish on their own)",
                    left);
        event_exit(daemon_state.event, 0);
}

static usec_t longest_stop_timeout(Manager *m) {
        usec_t max = 0;
        for (Instance *i = m->instances; i; i = i->next)
                if (i->spec)
                        max = MAX(max, i->spec->stop.timeout);
        return max;
}

static void on_sigterm(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;

        if (d->manager->phase == MANAGER_STOPPING)
                return;
        log_info("stopping every unit (signal %u), then exiting", si->ssi_signo);
        events_emit(d->events, "supd", NULL, json_pack("{s:s, s:s}", "action", "stop", "units", "stop"));
        (void) sd_notify_send("STOPPING=1\nSTATUS=stopping every unit");
        d->shutdown_left = count_instances(d->manager);
        (void) event_add_time(d->event, &d->shutdown_timer,
                              now(CLOCK_MONOTONIC) + longest_stop_timeout(d->manager) + SHUTDOWN_GRACE,
                              on_shutdown_timeout, d);
        manager_shutdown(d->manager);
}

static void on_sigquit(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        /* An upgrade or restart of supd (RestartKillSignal=SIGQUIT): leave every workload and
         * monitor as it is; the next supd adopts them. */
        log_info("exiting, leaving the units running");
        events_emit(daemon_state.events, "supd", NULL, json_pack("{s:s, s:s}", "action", "stop", "units", "keep"));
        (void) sd_notify_send("STOPPING=1\nSTATUS=exiting, units keep running");
        event_exit(daemon_state.event, 0);
}

static void on_sighup(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        _cleanup_(plan_freep) Plan *plan = NULL;
        Diagnostics diags = {};

        on_reload_notify(true);
        if (manager_reload(d->manager, false, &diags, &plan) < 0) {
                log_error("reload refused; the running units are unchanged:");
                diagnostics_print(&diags, stderr);
        } else {
                _cleanup_free_ char *text = plan_format(plan);
                log_info("reload: %s", text);
        }
        diagnostics_done(&diags);
        on_reload_notify(false);
}

static void on_watchdog(EventSource *s, usec_t t, void *userdata) {
        Daemon *d = userdata;
        (void) sd_notify_send("WATCHDOG=1");
        event_source_set_time(s, t + d->watchdog_interval / 2);
}

/* The sup-monitor of this supd. An installed supd (SUP_BINDIR/supd) takes the one meson installed
 * beside it, SUP_LIBEXECDIR/sup-monitor, under the same root: a tree staged with DESTDIR or
 * copied into a chroot runs its own monitor, not the host's. Checked before "next to supd", so
 * that a sup-monitor an older install left in the bin directory is never picked up. Any other
 * supd (a build directory), or an installed one without it there, takes the sup-monitor next to
 * it. */
static char *default_monitor_path(void) {
        _cleanup_free_ char *self = realpath("/proc/self/exe", NULL), *dir = NULL;
        const char *installed;
        if (!self)
                return xstrdup(SUP_LIBEXECDIR "/sup-monitor");
        installed = endswith(self, SUP_BINDIR "/supd");
        if (installed) {
                char *p = xasprintf("%.*s%s/sup-monitor", (int) (installed - self), self, SUP_LIBEXECDIR);

                /* A supd copied into the bin directory by hand, with its monitor beside it, as
                 * before meson install placed it: that one. */
                if (access(p, X_OK) >= 0)
                        return p;
                free(p);
        }
        dir = path_dirname(self);
        return path_join(dir, "sup-monitor");
}

/* Each supd gets its own cgroup parent, so that two of them (tests, or staging next to
 * production) never touch each other's cgroups: "sup" for the default run directory, else
 * "sup-" and a hash of the run directory. */
static char *default_cgroup_parent(const char *run_dir) {
        char hash[65];
        if (streq(run_dir, DEFAULT_RUN_DIR))
                return xstrdup("sup");
        sha256_hex(run_dir, strlen(run_dir), hash);
        hash[8] = 0;
        return xasprintf("sup-%s", hash);
}

/* The bridge subnet when --bridge-subnet is not given: BRIDGE_DEFAULT_SUBNET for the default run
 * directory. Any other instance (tests, staging next to production) gets a /24 of 10.89.0.0/16
 * that a hash of its run directory picks, moving on to the next one while that is in use on the
 * host; or, if its bridge exists already, that bridge's subnet, so that a restarted supd agrees
 * with the containers it adopts. */
static int default_bridge_subnet(const char *run_dir, const char *bridge, Ipv4Net *ret) {
        char hash[SHA256_DIGEST_SIZE * 2 + 1];
        unsigned start;

        if (streq(run_dir, DEFAULT_RUN_DIR))
                return ipv4_net_parse(BRIDGE_DEFAULT_SUBNET, ret);
        if (bridge_get_subnet(bridge, ret) >= 0)
                return 0;
        sha256_hex(run_dir, strlen(run_dir), hash);
        start = (unsigned) strtoul((char[]){hash[0], hash[1], 0}, NULL, 16);
        for (unsigned k = 0; k < 256; k++) {
                Ipv4Net n = {.addr.s_addr = htonl(0x0a590000u | ((start + k) % 256) << 8), .prefix = 24};
                int r = host_subnet_in_use(&n, NULL, NULL);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret = n;
                        return 0;
                }
        }
        return -EADDRINUSE;
}

/* A subnet the bridge can use: a network address, room for the gateway and a container. */
static int parse_bridge_subnet(const char *s, Ipv4Net *ret) {
        char net[IPV4_NET_STRLEN];
        int r = ipv4_net_parse(s, ret);

        if (r == -EDOM) {
                log_error("--bridge-subnet %s: host bits are set; did you mean %s?", s, ipv4_net_format(ret, net));
                return r;
        }
        if (r < 0 || ret->prefix < 8 || ret->prefix > 30) {
                log_error("--bridge-subnet %s: expected an IPv4 network from /8 to /30, such as " BRIDGE_DEFAULT_SUBNET,
                          s);
                return -EINVAL;
        }
        return 0;
}

/* An IPv6 subnet for the bridge: a /64 network address (ipam.h's pool, SLAAC's size). */
static int parse_bridge_subnet6(const char *s, Ipv6Net *ret) {
        char net[IPV6_NET_STRLEN];
        int r = ipv6_net_parse(s, ret);

        if (r == -EDOM) {
                log_error("--bridge-subnet6 %s: host bits are set; did you mean %s?", s, ipv6_net_format(ret, net));
                return r;
        }
        if (r < 0 || ret->prefix != 64) {
                log_error("--bridge-subnet6 %s: expected an IPv6 /64, such as fd00:53:1::/64", s);
                return -EINVAL;
        }
        return 0;
}

/* After a full stop: the per-supd cgroup parent in every hierarchy (v2: one; v1: each
 * controller's and the unified one). A parent that still holds something stays (EBUSY). */
static void remove_cgroup_parent(const char *root, const char *parent) {
        _cleanup_free_ char *direct = path_join(root, parent);
        DIR *d;
        struct dirent *de;

        (void) rmdir(direct);
        d = opendir(root);
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                if (de->d_name[0] == '.')
                        continue;
                p = xasprintf("%s/%s/%s", root, de->d_name, parent);
                (void) rmdir(p);
        }
        closedir(d);
}

/* supd holds a connection per client and per monitor: the soft fd limit goes up to the hard one
 * (systemd's LimitNOFILE=1024:524288 gives 1024 soft, which 1,000 idle clients exhaust). The soft
 * limit it was given is what its monitors get back, so that nothing below supd sees a change
 * (select() users break above 1024). Returns that original soft limit. */
static rlim_t raise_nofile_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return RLIM_INFINITY;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit raised = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
                if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
                        log_warning("cannot raise the soft limit of open files from %llu to %llu: %s",
                                    (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max,
                                    strerror(errno));
        }
        return rl.rlim_cur;
}

static void help(void) {
        printf("Usage: supd [OPTIONS]\n"
               "\n"
               "Runs the containers described by the unit files in --units, and keeps them so.\n"
               "\n"
               "  --units DIR          unit files (default " DEFAULT_UNITS_DIR ")\n"
               "  --state-dir DIR      sandboxes, logs, the image store (default " DEFAULT_STATE_DIR ")\n"
               "  --run-dir DIR        sockets, monitors' status (default " DEFAULT_RUN_DIR ")\n"
               "  --socket-group GROUP members may use the read-only verbs (status, logs)\n"
               "  --cgroup-parent NAME cgroup below which units get theirs\n"
               "  --bridge-subnet CIDR the bridge's IPv4 subnet for network: bridge (default\n"
               "                       " BRIDGE_DEFAULT_SUBNET " with the default run directory, else a\n"
               "                       free /24 of 10.89.0.0/16; see docs/networking.md)\n"
               "  --bridge-subnet6 PREFIX/64\n"
               "                       the bridge's IPv6 subnet (default: a unique local /64 from\n"
               "                       a hash of the bridge's name)\n"
               "  --no-outbound        containers reach only the bridge and the host, nothing\n"
               "                       beyond (default: they do, masqueraded as the host)\n"
               "  --guest-dir DIR      hyperv: the guest kernel and initramfs (default $SUP_GUEST_DIR,\n"
               "                       else " DEFAULT_GUEST_DIR "; tools/guest-kernel.sh provisions it)\n"
               "  --vm-accel auto|kvm|tcg  hyperv: the host's accelerator; a unit's vm.accel wins\n"
               "                       (default auto: KVM where a probe boot shows it works)\n"
               "  --log-max-size SIZE  a unit's log rotates to NAME.log.1 past SIZE (default 8M,\n"
               "                       at least 4K); monitors started later get it\n"
               "  --image-max-layer-size SIZE\n"
               "                       a layer of an image larger than SIZE unpacked is refused\n"
               "                       (a decompression bomb; default 64G); monitors started\n"
               "                       later get it\n"
               "  --events-keep N      the events kept for `supctl events --since`, in memory and\n"
               "                       in STATE/events (default 4096, at least 16)\n"
               "  --monitor PATH       the sup-monitor binary (default " SUP_LIBEXECDIR "/sup-monitor\n"
               "                       for an installed supd, else the one next to supd)\n"
               "  --metrics-listen ADDR  serve GET /metrics (Prometheus) at ADDR: a unix socket\n"
               "                       path, or HOST:PORT / [HOST6]:PORT on loopback (off by default;\n"
               "                       may be given up to 8 times)\n"
               "  --metrics-allow-remote  let --metrics-listen take a non-loopback address\n"
               "  -v --verbose         debug logging\n"
               "\n"
               "Signals: HUP reloads; TERM and INT stop every unit, then exit; QUIT exits and\n"
               "leaves the units running (the next supd adopts them).\n");
}

/* What the command line says. */
typedef struct Options {
        const char *units, *state, *run, *parent, *monitor, *subnet, *subnet6, *guest, *accel;
        bool no_outbound;
        uint64_t log_max_size;
        uint64_t image_max_layer_size;
        size_t events_keep;
        Ipv4Net bridge_subnet;  /* with subnet */
        Ipv6Net bridge_subnet6; /* with subnet6 */
        gid_t socket_gid;      /* --socket-group's, or -1 */
        const char *metrics_listen[METRICS_LISTEN_MAX]; /* --metrics-listen's, each (argv's) */
        size_t n_metrics_listen;
        bool metrics_allow_remote;
} Options;

/* Returns 1 to go on, 0 to exit successfully (--help), or the exit status of a usage error. */
static int parse_options(int argc, char **argv, Options *o) {
        static const struct option options[] = {
                {"units", required_argument, NULL, 'u'},
                {"state-dir", required_argument, NULL, 's'},
                {"run-dir", required_argument, NULL, 'r'},
                {"socket-group", required_argument, NULL, 'g'},
                {"cgroup-parent", required_argument, NULL, 'c'},
                {"bridge-subnet", required_argument, NULL, 'b'},
                {"bridge-subnet6", required_argument, NULL, '6'},
                {"no-outbound", no_argument, NULL, 'O'},
                {"monitor", required_argument, NULL, 'm'},
                {"guest-dir", required_argument, NULL, 'G'},
                {"vm-accel", required_argument, NULL, 'A'},
                {"log-max-size", required_argument, NULL, 'L'},
                {"image-max-layer-size", required_argument, NULL, 'I'},
                {"metrics-listen", required_argument, NULL, 'M'},
                {"metrics-allow-remote", no_argument, NULL, 'R'},
                {"events-keep", required_argument, NULL, 'E'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *reason = NULL;
        int c;

        *o = (Options){
                .units = DEFAULT_UNITS_DIR,
                .state = DEFAULT_STATE_DIR,
                .run = DEFAULT_RUN_DIR,
                .guest = getenv("SUP_GUEST_DIR"),
                .accel = "auto",
                .log_max_size = LOG_DEFAULT_MAX_SIZE,
                .image_max_layer_size = LAYER_UNPACK_MAX_BYTES_DEFAULT,
                .events_keep = EVENTS_KEEP_DEFAULT,
                .socket_gid = (gid_t) -1,
        };
        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        o->units = optarg;
                        break;
                case 's':
                        o->state = optarg;
                        break;
                case 'r':
                        o->run = optarg;
                        break;
                case 'g': {
                        struct group *g = getgrnam(optarg);
                        if (!g) {
                                log_error("--socket-group: no group \"%s\"", optarg);
                                return 2;
                        }
                        o->socket_gid = g->gr_gid;
                        break;
                }
                case 'c':
                        o->parent = optarg;
                        break;
                case 'b':
                        o->subnet = optarg;
                        break;
                case '6':
                        o->subnet6 = optarg;
                        break;
                case 'O':
                        o->no_outbound = true;
                        break;
                case 'm':
                        o->monitor = optarg;
                        break;
                case 'G':
                        o->guest = optarg;
                        break;
                case 'A':
                        o->accel = optarg;
                        break;
                case 'L':
                        if (parse_size(optarg, &o->log_max_size, &reason) < 0 || o->log_max_size < LOG_MIN_MAX_SIZE) {
                                log_error("--log-max-size: expected a size of at least 4K, such as 8M, not \"%s\"%s%s",
                                          optarg, reason ? ": " : "", reason ?: "");
                                return 2;
                        }
                        break;
                case 'I':
                        if (parse_size(optarg, &o->image_max_layer_size, &reason) < 0 || o->image_max_layer_size == 0) {
                                log_error("--image-max-layer-size: expected a size such as 64G, not \"%s\"%s%s", optarg,
                                          reason ? ": " : "", reason ?: "");
                                return 2;
                        }
                        break;
                case 'M':
                        if (o->n_metrics_listen == METRICS_LISTEN_MAX) {
                                log_error("--metrics-listen: at most %u addresses", METRICS_LISTEN_MAX);
                                return 2;
                        }
                        o->metrics_listen[o->n_metrics_listen++] = optarg;
                        break;
                case 'R':
                        o->metrics_allow_remote = true;
                        break;
                case 'E': {
                        uint64_t n;
                        if (parse_decimal(optarg, 1000000, &n) < 0 || n < EVENTS_KEEP_MIN) {
                                log_error("--events-keep: expected a number from %u to 1000000, not \"%s\"",
                                          EVENTS_KEEP_MIN, optarg);
                                return 2;
                        }
                        o->events_keep = (size_t) n;
                        break;
                }
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (o->subnet && parse_bridge_subnet(o->subnet, &o->bridge_subnet) < 0)
                return 2;
        if (o->subnet6 && parse_bridge_subnet6(o->subnet6, &o->bridge_subnet6) < 0)
                return 2;
        if (o->metrics_allow_remote && o->n_metrics_listen == 0) {
                log_error("--metrics-allow-remote needs --metrics-listen");
                return 2;
        }
        /* Before anything is set up: a wrong address is a usage error. */
        for (size_t k = 0; k < o->n_metrics_listen; k++) {
                const char *a = o->metrics_listen[k], *why = NULL;
                MetricsAddress addr;
                if (metrics_address_parse(a, &addr, &why) < 0) {
                        log_error("--metrics-listen %s: %s", a, why);
                        return 2;
                }
                if (!addr.loopback && !o->metrics_allow_remote) {
                        log_error("--metrics-listen %s: not a loopback address; the metrics would be open to anyone "
                                  "who can reach it, without authentication (add --metrics-allow-remote to serve "
                                  "them there)",
                                  a);
                        return 2;
                }
        }
        if (vm_accel_from_string(o->accel) < 0) {
                log_error("--vm-accel: expected auto, kvm or tcg, not \"%s\"", o->accel);
                return 2;
        }
        return 1;
}

/* The directories, the lock that makes supd the only one of its run directory, and the
 * manager's configuration, with the defaults that follow from the run directory. Returns 0, or
 * the exit status. */
static int setup_config(const Options *o, int *ret_lock_fd, ManagerConfig *ret) {
        _cleanup_sup_error_ SupError *error = NULL;
        _cleanup_free_ char *lock = NULL, *run_abs = NULL, *cwd = getcwd(NULL, 0);
        _cleanup_close_ int lock_fd = -EBADF;
        char bridge[IFNAMSIZ], subnet_text[IPV4_NET_STRLEN], subnet6_text[IPV6_NET_STRLEN];
        Ipv4Net subnet = o->bridge_subnet;
        Ipv6Net subnet6 = o->bridge_subnet6;
        ManagerConfig cfg;
        int r;

        if (!cwd) {
                log_error("cannot determine the current directory");
                return 1;
        }
        run_abs = path_make_absolute(o->run, cwd);
        cfg = (ManagerConfig){
                .units_dir = path_make_absolute(o->units, cwd),
                .state_dir = path_make_absolute(o->state, cwd),
        };
        r = mkdir_p(run_abs, 0755);
        if (r >= 0)
                r = mkdir_p(cfg.state_dir, 0700);
        if (r < 0) {
                log_error_errno(r, "cannot create the run and state directories: %m");
                goto fail;
        }

        /* One supd per run directory. */
        lock = path_join(run_abs, "supd.lock");
        lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
                log_error("another supd runs with the run directory %s", run_abs);
                goto fail;
        }

        cfg.nofile_soft = raise_nofile_limit();
        cfg.run_dir = xstrdup(run_abs);
        cfg.cgroup_root = xstrdup("/sys/fs/cgroup");
        cfg.cgroup_parent = o->parent ? xstrdup(o->parent) : default_cgroup_parent(run_abs);
        cfg.monitor_path = o->monitor ? xstrdup(o->monitor) : default_monitor_path();
        cfg.guest_dir = path_make_absolute(o->guest && *o->guest ? o->guest : DEFAULT_GUEST_DIR, cwd);
        cfg.vm_accel = xstrdup(o->accel);
        cfg.log_max_size = xasprintf("%" PRIu64, o->log_max_size);
        cfg.image_max_layer_size = xasprintf("%" PRIu64, o->image_max_layer_size);
        cfg.image_store_dir = path_join(cfg.state_dir, IMAGE_STORE_SUBDIR);
        r = image_store_init(cfg.image_store_dir, &error);
        if (r < 0) {
                log_error("cannot open the image store %s: %s", cfg.image_store_dir, sup_error_message(error));
                goto fail;
        }
        bridge_name(cfg.cgroup_parent, bridge);
        if (!o->subnet) {
                r = default_bridge_subnet(run_abs, bridge, &subnet);
                if (r < 0) {
                        log_error_errno(r, "cannot choose a bridge subnet (use --bridge-subnet): %m");
                        goto fail;
                }
        }
        cfg.bridge_subnet = xstrdup(ipv4_net_format(&subnet, subnet_text));
        if (!o->subnet6)
                bridge_default_subnet6(bridge, &subnet6);
        cfg.bridge_subnet6 = xstrdup(ipv6_net_format(&subnet6, subnet6_text));
        cfg.no_outbound = o->no_outbound;
        if (access(cfg.monitor_path, X_OK) < 0) {
                log_error("cannot find sup-monitor at %s (use --monitor PATH)", cfg.monitor_path);
                goto fail;
        }
        *ret_lock_fd = TAKE_FD(lock_fd);
        *ret = cfg;
        return 0;
fail:
        manager_config_done(&cfg);
        return 1;
}

static char *render_metrics(void *userdata) {
        Daemon *d = userdata;
        return metrics_collect(d->manager, control_server_requests(d->control));
}

/* --metrics-listen: after the control socket, whose request counts it shows. */
static int metrics_setup(Daemon *d, const Options *o) {
        for (size_t k = 0; k < o->n_metrics_listen; k++) {
                _cleanup_sup_error_ SupError *error = NULL;
                MetricsHttp **h = ARRAY_APPEND(d->metrics, d->n_metrics);

                if (metrics_http_new(d->event, o->metrics_listen[k], o->metrics_allow_remote, o->socket_gid,
                                     render_metrics, d, h, &error) < 0) {
                        log_error("%s", sup_error_message(error));
                        return 1;
                }
                log_info("metrics: GET /metrics at %s", o->metrics_listen[k]);
        }
        return 0;
}

/* The loop, its signals, the manager and the control socket. Returns 0, or the exit status. */
static int daemon_setup(Daemon *d, ManagerConfig *cfg, gid_t gid, size_t events_keep) {
        _cleanup_free_ char *sock = path_join(cfg->run_dir, "supd.sock"),
                            *events_dir = path_join(cfg->state_dir, "events");
        char bridge[IFNAMSIZ];
        int r;

        r = event_new(&d->event);
        if (r < 0) {
                log_error_errno(r, "cannot create the event loop: %m");
                manager_config_done(cfg);
                return 1;
        }
        /* Signals first: from here on they arrive through the loop, never asynchronously. */
        (void) event_add_signal(d->event, NULL, SIGTERM, on_sigterm, d);
        (void) event_add_signal(d->event, NULL, SIGINT, on_sigterm, d);
        (void) event_add_signal(d->event, NULL, SIGQUIT, on_sigquit, d);
        (void) event_add_signal(d->event, NULL, SIGHUP, on_sighup, d);
        signal(SIGPIPE, SIG_IGN);

        r = manager_new(d->event, cfg, &d->manager);
        if (r < 0)
                return 1;
        d->manager->on_ready = on_ready;
        d->manager->on_idle = on_idle;
        (void) events_new(events_dir, events_keep, &d->events);
        d->manager->events = d->events;
        if (d->manager->image_jobs)
                image_jobs_set_events(d->manager->image_jobs, d->events);
        events_emit(d->events, "supd", NULL, json_pack("{s:s, s:i}", "action", "start", "pid", (int) getpid()));
        control_on_reload = on_reload_notify;

        r = control_server_new(d->event, d->manager, sock, gid, &d->control);
        if (r < 0) {
                log_error_errno(r, "cannot listen on %s: %m", sock);
                return 1;
        }
        if (sd_watchdog_interval(&d->watchdog_interval) > 0)
                (void) event_add_time(d->event, &d->watchdog, now(CLOCK_MONOTONIC) + d->watchdog_interval / 2,
                                      on_watchdog, d);

        bridge_name(cfg->cgroup_parent, bridge);
        log_info("units %s, state %s, run %s, cgroups %s, bridge %s %s %s%s", cfg->units_dir, cfg->state_dir,
                 cfg->run_dir, cfg->cgroup_parent, bridge, cfg->bridge_subnet, cfg->bridge_subnet6,
                 cfg->no_outbound ? " (no outbound)" : "");
        return 0;
}

static void daemon_done(Daemon *d) {
        /* The store's workers before the control server: their waiters are its clients. */
        if (d->manager)
                d->manager->image_jobs = image_jobs_free(d->manager->image_jobs);
        for (size_t k = 0; k < d->n_metrics; k++)
                metrics_http_free(d->metrics[k]);
        free(d->metrics);
        control_server_free(d->control);
        manager_free(d->manager);
        events_free(d->events);
        event_source_free(d->watchdog);
        event_source_free(d->shutdown_timer);
        event_free(d->event);
}

int main(int argc, char **argv) {
        _cleanup_close_ int lock_fd = -EBADF;
        Daemon *d = &daemon_state;
        ManagerConfig cfg = {};
        Options o;
        int r;

        log_set_program("supd");
        /* A status of a thousand units is a few hundred KiB of text: mapped and unmapped as one
         * buffer, rather than left in the heap. glibc raises its mmap threshold to the size of
         * the last such buffer freed, and from then on keeps them in the heap; a fixed threshold
         * keeps supd's memory what its units need (bench/scale.sh). */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        r = parse_options(argc, argv, &o);
        if (r != 1)
                return r;
        r = setup_config(&o, &lock_fd, &cfg);
        if (r != 0)
                return r;
        r = daemon_setup(d, &cfg, o.socket_gid, o.events_keep);
        if (r == 0)
                r = metrics_setup(d, &o);
        if (r != 0) {
                daemon_done(d);
                return r;
        }

        r = manager_startup(d->manager);
        if (r >= 0)
                r = event_loop(d->event);
        if (d->manager->phase == MANAGER_STOPPING && !d->manager->instances)
                remove_cgroup_parent(d->manager->config.cgroup_root, d->manager->config.cgroup_parent);
        daemon_done(d);
        return r < 0 ? 1 : 0;
}
