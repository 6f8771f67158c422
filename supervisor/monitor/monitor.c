/* SPDX-License-Identifier: MIT */
#include "monitor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "drivers.h"
#include "fileio.h"
#include "image-store.h"
#include "image.h"
#include "macro.h"
#include "path-util.h"
#include "process-list.h"
#include "share-target.h"
#include "socket-util.h"
#include "string-util.h"
#include "unit-diff.h"
#include "unit-parse.h"
#include "unit-value.h"
#include "veth.h"
#include "workload.h"

/* A top request, waiting for the driver's answer (a guest's agent answers later). */
struct TopRequest {
        Monitor *monitor;
        uint64_t client_id; /* the client may have gone by then */
        json_t *msg;
        TopRequest *next;
};

/* An exec request whose command runs: its output so far, until exited(). */
struct MonitorExec {
        Monitor *monitor;
        uint64_t client_id; /* the client may have gone by then */
        json_t *msg;
        DriverExec *exec; /* the driver's handle until exited(); NULL: one the driver cannot cancel */
        bool stream;      /* supctl exec: the client's fds, no output kept; ends with its client */
        char *out[_EXEC_STREAM_MAX];
        size_t len[_EXEC_STREAM_MAX];
        bool truncated[_EXEC_STREAM_MAX];
        MonitorExec *next;
};

/* The pulls a start waits for: the registry: references image_store_pulls_needed() named, one
 * skopeo at a time, watched by the loop (a pull takes as long as the network wants; the monitor
 * answers status, stop and the rest meanwhile). */
struct MonitorPull {
        char **references;
        size_t next;     /* the index of the one after the running one */
        ImagePull *pull; /* the running one */
        int pidfd;       /* skopeo's: readable once it exited */
        EventSource *output, *exited;
        unsigned logged_layers; /* the progress already in the log */
};

#define CLEANUP_RETRY_USEC (20 * USEC_PER_MSEC)

static void write_status(Monitor *m) {
        _cleanup_free_ char *path = path_join(m->dir, "status.json");
        json_t *j = instance_status_to_json(&m->status);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        int r;

        if (m->status_timer)
                event_source_set_time(m->status_timer, USEC_INFINITY);
        json_decref(j);
        if (!s)
                return;
        /* Atomic, not flushed to disk (write_file_replace()): readers (share.*) see the old record
         * or the new, never a mix; and like spec.json beside it, the record means nothing after a
         * reboot, where no monitor and no workload it describes is left. Its two fsyncs were on
         * the start's path: between the command's exec ("running") and the monitor reading its
         * first output, 1-12 ms on these machines (issue 14). */
        r = write_file_replace(path, s, strlen(s), 0644);
        if (r < 0)
                log_writer_printf(&m->log, "sup", "cannot write %s: %s", path, strerror(-r));
        free(s);
}

/* "starting" reaches status.json once the run has gone on (running, or its end: those write at
 * once), or after STATUS_LATER_USEC: not between the go and the container's setup, where its
 * write (then with fsyncs of the file and its directory) took the monitor's time from reading the
 * command's first output (issue 14). s6-supervise's order: the status is written after the fork, not before the
 * exec. The file stays atomic and true, only later: it says what it said before ("stopped",
 * "backoff"...), while supd, told at once (broadcast_status()), says "starting"; the one reader
 * of the file, share.*, waits for "running", which is written at once. A monitor that dies
 * meanwhile takes its container with it, so the older state is then the truth again. */
#define STATUS_LATER_USEC (100 * USEC_PER_MSEC)

static void on_status_timer(EventSource *s, usec_t t, void *userdata) {
        write_status(userdata);
}

static void write_status_later(Monitor *m) {
        usec_t when = now(CLOCK_MONOTONIC) + STATUS_LATER_USEC;

        if (!m->status_timer)
                (void) event_add_time(m->event, &m->status_timer, when, on_status_timer, m);
        else if (event_source_get_time(m->status_timer) == USEC_INFINITY)
                event_source_set_time(m->status_timer, when);
        if (!m->status_timer)
                write_status(m); /* no timer: now, as before */
}

static void broadcast_status(Monitor *m) {
        json_t *ev = json_pack("{s:s, s:o}", "event", "status", "data", instance_status_to_json(&m->status));
        jsonl_server_broadcast(m->server, ev);
        json_decref(ev);
}

static const char *const monitor_state_table[_MONITOR_STATE_MAX] = {
        [MONITOR_STOPPED] = "stopped",   [MONITOR_STARTING] = "starting",     [MONITOR_RUNNING] = "running",
        [MONITOR_STOPPING] = "stopping", [MONITOR_CANCELLING] = "cancelling", [MONITOR_DRAINING] = "draining",
        [MONITOR_BACKOFF] = "backoff",   [MONITOR_EXITED] = "exited",         [MONITOR_FAILED] = "failed",
};
DEFINE_STRING_TABLE_LOOKUP(monitor_state, MonitorState, _MONITOR_STATE_MAX);

static const char *const monitor_event_table[_MONITOR_EVENT_MAX] = {
        [MONITOR_EVENT_START] = "start",       [MONITOR_EVENT_STOP] = "stop",       [MONITOR_EVENT_RESTART] = "restart",
        [MONITOR_EVENT_SHUTDOWN] = "shutdown", [MONITOR_EVENT_STARTED] = "started", [MONITOR_EVENT_GONE] = "gone",
        [MONITOR_EVENT_TIMEOUT] = "timeout",
};
DEFINE_STRING_TABLE_LOOKUP(monitor_event, MonitorEvent, _MONITOR_EVENT_MAX);

/* What status files and supd see. Cancelling and draining are stopping to them: a stop before the
 * command ran, and a workload that is gone while what is left of it is being killed. */
static const InstanceState public_state[_MONITOR_STATE_MAX] = {
        [MONITOR_STOPPED] = INSTANCE_STOPPED,     [MONITOR_STARTING] = INSTANCE_STARTING,
        [MONITOR_RUNNING] = INSTANCE_RUNNING,     [MONITOR_STOPPING] = INSTANCE_STOPPING,
        [MONITOR_CANCELLING] = INSTANCE_STOPPING, [MONITOR_DRAINING] = INSTANCE_STOPPING,
        [MONITOR_BACKOFF] = INSTANCE_BACKOFF,     [MONITOR_EXITED] = INSTANCE_EXITED,
        [MONITOR_FAILED] = INSTANCE_FAILED,
};

static void disarm_timer(Monitor *m);

/* Records the state (also the same one again: the status changed) and publishes it. The timer
 * belongs to the state that armed it: a new state drops it, and arms its own afterwards. */
static void monitor_set_state(Monitor *m, MonitorState state) {
        MonitorState old = m->state;

        if (state != MONITOR_BACKOFF)
                m->status.next_restart_at = 0;
        /* A check runs only while the workload runs and is wanted: none while it stops, and no
         * result of one comes afterwards (health.h). */
        if (state != MONITOR_RUNNING)
                m->health = health_check_free(m->health);
        if (old != state) {
                disarm_timer(m);
                log_writer_printf(&m->log, "sup", "%s -> %s", monitor_state_to_string(old),
                                  monitor_state_to_string(state));
        }
        m->state = state;
        m->status.state = public_state[state];
        if (state == MONITOR_STARTING && old != MONITOR_STARTING)
                write_status_later(m);
        else
                write_status(m);
        broadcast_status(m);
}

static void set_reason(Monitor *m, const char *fmt, ...) _printf_(2, 3);
static void set_reason(Monitor *m, const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = xvasprintf(fmt, ap);
        va_end(ap);
        free(m->status.reason);
        m->status.reason = s;
        log_writer_line(&m->log, "sup", s, strlen(s));
}

static void on_timer(EventSource *s, usec_t t, void *userdata);

/* What the timer means follows from the state that armed it (on_timer()). */
static void arm_timer(Monitor *m, usec_t when) {
        if (!m->timer)
                (void) event_add_time(m->event, &m->timer, when, on_timer, m);
        else
                event_source_set_time(m->timer, when);
}

static void disarm_timer(Monitor *m) {
        if (m->timer)
                event_source_set_time(m->timer, USEC_INFINITY);
}

/* The run's cgroup, once its workload is gone: what is left in it may take a moment to go (after a
 * container's init the kernel kills its pid namespace; the cgroup empties a moment later), and
 * removing it is retried until then. Every driver's workload is in it (QEMU, for a VM). */
static bool cleanup_cgroup(Monitor *m) {
        bool empty = true;
        uint64_t ooms = 0;

        if (!m->cgroup)
                return true;
        if (cgroup_oom_kills(m->cgroup, &ooms) >= 0 && ooms > 0)
                m->status.oom = true;
        (void) cgroup_is_empty(m->cgroup, &empty);
        if (!empty) {
                (void) cgroup_kill(m->cgroup, SIGKILL);
                return false;
        }
        (void) cgroup_destroy(m->cgroup);
        m->cgroup = cgroup_free(m->cgroup);
        return true;
}

/* ---- seccomp (runtime/seccomp-compile.h) ---- */

/* The workload's filter, before its process exists, for every driver: from the instance's
 * last start, from supd's cache directory, or compiled now. A profile that cannot be read, parsed
 * or compiled fails the start with the reason; nothing runs unfiltered instead. */
static int prepare_seccomp(Monitor *m, const SeccompProgram **ret, SupError **ret_error) {
        _cleanup_free_ char *dir = path_join(m->state_dir, "seccomp");
        SeccompPrepared p = {};
        char took[32];
        int r;

        r = seccomp_prepare(m->spec, seccomp_unit_caps(m->spec), dir, &m->seccomp, &p, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "seccomp");
        snprintf(took, sizeof(took), "%.2f ms", (double) p.usec / USEC_PER_MSEC);
        if (p.origin == SECCOMP_ORIGIN_COMPILED)
                log_writer_printf(&m->log, "sup", "seccomp: %s compiled to %zu BPF instructions in %.2f ms (%s in all)",
                                  p.source, p.program->len, (double) p.compile_usec / USEC_PER_MSEC, took);
        else if (p.origin == SECCOMP_ORIGIN_DISK)
                log_writer_printf(&m->log, "sup", "seccomp: %s, %zu BPF instructions from the cache in %s", p.source,
                                  p.program->len, took);
        else if (p.origin == SECCOMP_ORIGIN_AHEAD)
                log_writer_printf(&m->log, "sup", "seccomp: %s, %zu BPF instructions made ahead by the monitor zygote",
                                  p.source, p.program->len);
        if (p.unknown) {
                _cleanup_free_ char *names = strv_join(p.unknown, ", ");
                log_writer_printf(&m->log, "sup",
                                  "seccomp: %s names system calls libseccomp %s does not know, left out: %s", p.source,
                                  seccomp_library_version(), names);
        }
        if (p.cache_error)
                log_writer_printf(&m->log, "sup", "seccomp: %s", p.cache_error);
        *ret = p.program;
        seccomp_prepared_done(&p);
        return 0;
}

/* The limits the command gets, resolved here for both modes (rlimits.h): a guest applies the host's
 * numbers, and a limit the host cannot grant fails the start alike. */
static int prepare_rlimits(Monitor *m, RlimitSet ret, SupError **ret_error) {
        RlimitSet host;
        bool can_raise;
        int r;

        r = rlimits_get_host(host, &can_raise);
        if (r < 0)
                return sup_error_make(ret_error, r, "rlimits: cannot read the host's limits: %s", strerror(-r));
        /* The limits are set by the workload's own process, after it entered its namespaces: in
         * a user namespace of its own it holds no CAP_SYS_RESOURCE over the host's limits, so
         * nothing can be raised above the hard limit it inherits. */
        if (m->spec->security.user_namespace == USER_NAMESPACE_AUTO)
                can_raise = false;
        return rlimits_resolve(m->spec, host, can_raise, ret, ret_error);
}

/* ---- network: bridge (net/attachment.h has the steps) ----
 * The lease and its release are the monitor's, for every driver; the driver attaches the
 * workload (a veth pair, a tap device) in its prepare() or start(). */

static int prepare_network(Monitor *m) {
        _cleanup_sup_error_ SupError *error = NULL;
        char addr[INET_ADDRSTRLEN];
        int r;

        /* With share.network the network is the target's, set up by its monitor. */
        if (m->spec->network != NETWORK_BRIDGE || m->spec->share.network.name)
                return 0;
        r = net_attachment_prepare(&m->net, m->spec, &error);
        if (r < 0) {
                set_reason(m, "network: %s", sup_error_message(error));
                return r;
        }
        /* Once, not at every restart. */
        if (!m->net.ipv6 && m->net.ipv6_error != m->ipv6_logged) {
                log_writer_printf(&m->log, "sup", "the host has IPv6 off (%s): the unit runs on IPv4 alone",
                                  strerror(-m->net.ipv6_error));
                m->ipv6_logged = m->net.ipv6_error;
        }
        m->net_prepared = true;
        free(m->status.address);
        m->status.address = xstrdup(inet_ntop(AF_INET, &m->net.lease.address, addr, sizeof(addr)));
        return 0;
}

/* After the workload (or a start that failed): its ports, its veth pair or tap and its address go. */
static void release_network(Monitor *m) {
        _cleanup_sup_error_ SupError *error = NULL;

        if (!m->net_prepared)
                return;
        m->net_prepared = false;
        if (net_attachment_release(&m->net, m->spec, &error) < 0)
                log_writer_printf(&m->log, "sup", "network: %s", sup_error_message(error));
        free(m->status.address);
        m->status.address = NULL;
}

/* DriverNetwork.attach: in the monitor, the workload's namespaces exist and its init waits. Its
 * failures, like net_configure()'s, become the unit's reason; they are worded like
 * prepare_network()'s. */
static int net_attach(pid_t pid, void *userdata, SupError **ret_error) {
        Monitor *m = userdata;
        int r = net_attachment_attach(&m->net, m->spec, pid, ret_error);

        return r < 0 ? sup_error_wrap(ret_error, r, "network") : 0;
}

/* DriverNetwork.configure: in the workload's first process, inside its network namespace. */
static int net_configure(void *userdata, SupError **ret_error) {
        Monitor *m = userdata;
        int r = net_attachment_configure(&m->net, ret_error);

        return r < 0 ? sup_error_wrap(ret_error, r, "network") : 0;
}

/* DriverNetwork.attach_tap: a guest's NIC gets the MAC a container's eth0 would (veth_mac_for()). */
static int net_attach_tap(void *userdata, DriverTap *ret, SupError **ret_error) {
        Monitor *m = userdata;
        DriverTap tap = {.fd = -EBADF};
        int r = net_attachment_attach_tap(&m->net, m->spec, &tap.fd, ret_error);

        if (r < 0)
                return sup_error_wrap(ret_error, r, "network");
        veth_mac_for(m->net.lease.address, tap.mac);
        tap.address = m->net.lease.address;
        tap.prefix = m->net.table.subnet.prefix;
        tap.gateway = ipv4_net_host(&m->net.table.subnet, 1);
        if (m->net.ipv6) { /* else none: prefix6 0 */
                tap.address6 = m->net.lease6.address;
                tap.prefix6 = m->net.table.subnet6.prefix;
                tap.gateway6 = ipv6_net_host(&m->net.table.subnet6, 1);
        }
        *ret = tap;
        return 0;
}

/* ---- share.* (share-target.h) ---- */

static void on_share_target_exit(EventSource *s, int fd, uint32_t revents, void *userdata);

/* The owners of the namespaces to join, before the workload: a target that is not running fails
 * the start like any setup error, and the restart policy tries again later. Nothing for a unit
 * that shares nothing. */
static int open_share_targets(Monitor *m) {
        _cleanup_free_ char *instances = path_dirname(m->dir);
        _cleanup_sup_error_ SupError *error = NULL;
        int r;

        r = share_targets_open(m->spec, instances, m->cgroup_root, m->cgroup_parent, &m->share, &error);
        if (r < 0)
                set_reason(m, "%s", sup_error_message(error));
        return r;
}

/* Once the workload runs in them: when an owner's init exits, the joined namespaces are left
 * behind (a pid namespace is even killed with everything in it). */
static void watch_share_targets(Monitor *m) {
        int fds[] = {m->share.ipc, m->share.net, m->share.pid};

        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        (void) event_add_io(m->event, &m->share_sources[i], fds[i], EPOLLIN, on_share_target_exit, m);
}

static void close_share_targets(Monitor *m) {
        for (size_t i = 0; i < ELEMENTSOF(m->share_sources); i++)
                m->share_sources[i] = event_source_free(m->share_sources[i]);
        share_targets_close(&m->share);
}

/* An instance holding the namespaces of a workload that is gone is cut off from the owner's next
 * instance: it ends too (the restart policy then starts it again in the new ones), as the
 * kernel makes it end already for a shared pid namespace. on_driver_exited() says why. */
static void on_share_target_exit(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;

        for (size_t i = 0; i < ELEMENTSOF(m->share_sources); i++)
                m->share_sources[i] = event_source_free(m->share_sources[i]);
        if (m->instance)
                m->driver->kill(m->instance);
}

static RunEnd exit_kind(const Monitor *m, bool setup_failed) {
        if (setup_failed)
                return RUN_SETUP_FAILED;
        return m->status.exit_signal == 0 && m->status.exit_code == 0 ? RUN_CLEAN : RUN_FAILED;
}

/* A run has ended on its own and nobody asked for anything: the restart policy decides. */
static void apply_restart_policy(Monitor *m) {
        usec_t uptime = now(CLOCK_MONOTONIC) - m->started_mono;
        RunEnd k = exit_kind(m, m->run_setup_failed);
        bool health_restart = m->health_restart;
        usec_t delay;

        /* healthcheck.on_failure: restart ended it: a failed run, however the command took its
         * stop, and a restart whatever restart.policy says; the back-off and start limit apply. */
        m->health_restart = false;
        if (health_restart && k != RUN_SETUP_FAILED)
                k = RUN_FAILED;
        if (!health_restart && !restart_policy_wants_restart(m->spec->restart.policy, k)) {
                monitor_set_state(m, k == RUN_SETUP_FAILED ? MONITOR_FAILED : MONITOR_EXITED);
                return;
        }
        free(m->status.restart_reason);
        if (health_restart && m->status.reason)
                m->status.restart_reason = xstrdup(m->status.reason);
        else if (k == RUN_SETUP_FAILED)
                m->status.restart_reason = xasprintf("the start failed: %s", m->status.reason ?: "(no reason given)");
        else if (m->status.exit_signal > 0)
                m->status.restart_reason = xasprintf("the command was killed by signal %d%s", m->status.exit_signal,
                                                     m->status.oom      ? " (the OOM killer)"
                                                     : m->health_killed ? " (healthcheck.on_failure: kill)"
                                                                        : "");
        else
                m->status.restart_reason = xasprintf("the command exited with status %d", m->status.exit_code);
        delay = restart_state_exit(&m->restart, m->spec, k, uptime, drand48() * 2.0 - 1.0);
        m->status.next_restart_at = now(CLOCK_REALTIME) + delay;
        monitor_set_state(m, MONITOR_BACKOFF);
        arm_timer(m, now(CLOCK_MONOTONIC) + delay);
}

/* ---- the driver's callbacks (driver.h) ---- */

static void on_driver_started(DriverInstance *d, void *userdata) {
        Monitor *m = userdata;

        m->status.started_at = now(CLOCK_REALTIME);
        monitor_dispatch(m, MONITOR_EVENT_STARTED);
}

/* The state stays; what the driver shows of it (a stop ladder's step) changed. */
static void on_driver_changed(DriverInstance *d, void *userdata) {
        Monitor *m = userdata;

        monitor_set_state(m, m->state);
}

static void on_driver_exited(DriverInstance *d, const DriverExit *ex, void *userdata) {
        Monitor *m = userdata;
        const char *share_key, *share_unit = NULL;

        /* No verdict of a check on a run that is over. */
        m->health = health_check_free(m->health);

        m->status.has_exit = true;
        m->status.exited_at = now(CLOCK_REALTIME);
        m->status.exit_code = ex->code;
        m->status.exit_signal = ex->signal;
        /* What the cgroup does not tell (cleanup_cgroup() reads its mark). */
        if (ex->oom)
                m->status.oom = true;
        if (ex->reason)
                set_reason(m, "%s", ex->reason);
        else if ((share_key = share_targets_gone(&m->share, m->spec, &share_unit)))
                set_reason(m,
                           "%s: the container of unit \"%s\" has ended, and this one with it (its namespaces were "
                           "that container's)",
                           share_key, share_unit);
        else if (!ex->setup_failed) {
                if (ex->signal)
                        log_writer_printf(&m->log, "sup", "the command was killed by signal %d", ex->signal);
                else
                        log_writer_printf(&m->log, "sup", "the command exited with status %d", ex->code);
        }
        close_share_targets(m);
        m->run_setup_failed = ex->setup_failed;
        monitor_dispatch(m, MONITOR_EVENT_GONE);
}

static void release_volumes(Monitor *m) {
        for (size_t i = 0; i < m->n_volumes; i++)
                volume_hold_release(&m->volumes[i]);
        free(m->volumes);
        m->volumes = NULL;
        m->n_volumes = 0;
}

/* The run's instance, and what the monitor prepared for it, go (a start that failed). */
static void run_release(Monitor *m) {
        m->instance = m->instance ? m->driver->free(m->instance) : NULL;
        release_volumes(m);
        close_share_targets(m);
        release_network(m);
        if (m->cgroup) {
                (void) cgroup_destroy(m->cgroup);
                m->cgroup = cgroup_free(m->cgroup);
        }
}

/* The workload is gone: its network and cgroup go, then what the driver held. false while
 * something of it is left. */
static bool run_cleanup(Monitor *m) {
        release_network(m);
        if (!cleanup_cgroup(m))
                return false;
        if (m->instance) {
                if (!m->driver->cleanup(m->instance))
                        return false;
                m->instance = m->driver->free(m->instance);
        }
        release_volumes(m);
        if (m->status.oom && m->status.exit_signal == SIGKILL)
                log_writer_printf(&m->log, "sup", "the kernel's OOM killer ended it (resources.memory)");
        return true;
}

/* The unit's CPU limit applies to its monitor as well: a workload that floods its output makes
 * the monitor that writes it work, and that work is the unit's to pay, within its own limit. */
static int apply_own_limits(Monitor *m, const UnitSpec *u) {
        return m->own_cgroup ? cgroup_set_cpus(m->own_cgroup, u->resources.cpus_milli) : 0;
}

static bool image_uses_store(const Image *img) {
        for (size_t i = 0; i < img->n_layers; i++)
                if (img->layers[i].diff_id)
                        return true;
        return false;
}

/* The image step, at every start (a layer changed since the last one shows, and gets a new disk):
 * the layers, their disks where the driver wants them, and the spec the driver runs, with the
 * image's defaults. Nothing of the monitor changes but the store's record of what the unit uses. */
static int resolve_image(Monitor *m, Image **ret_image, UnitSpec **ret_run_spec, SupError **ret_error) {
        _cleanup_(image_freep) Image *img = NULL;
        _cleanup_free_ char *cache = NULL;
        ImageOptions opts = {.limits = m->image_limits};
        UnitSpec *run_spec = NULL;
        int r;

        if (m->driver->layer_disks)
                opts.disk_cache = cache = path_join(m->state_dir, "vm/layers");
        opts.store_dir = m->store_dir;
        r = image_resolve(m->spec, &opts, &img, ret_error);
        if (r >= 0)
                r = image_apply_defaults(m->spec, &img->config, &run_spec, ret_error);
        /* Before the start: what the store keeps for this unit is what its workload runs
         * (image_store_prune() keeps what users/ names). */
        if (r >= 0)
                r = image_uses_store(img) ? image_store_record_user(m->store_dir, m->spec->name, img, ret_error)
                                          : image_store_forget_user(m->store_dir, m->spec->name, ret_error);
        if (r < 0) {
                unit_spec_free(run_spec);
                return r;
        }
        *ret_image = TAKE_PTR(img);
        *ret_run_spec = run_spec;
        return 0;
}

/* The run's image and run spec, from resolve_image(): the last run's go, its notes are logged. */
static void use_image(Monitor *m, Image *img, UnitSpec *run_spec) {
        image_free(m->image);
        unit_spec_free(m->run_spec);
        m->image = img;
        m->run_spec = run_spec;
        STRV_FOREACH(n, m->image->notes)
        log_writer_printf(&m->log, "sup", "%s", *n);
        strv_free(m->status.images);
        m->status.images = strv_copy(m->image->images);
        m->status.image_layers = (unsigned) m->image->n_layers;
}

/* The run's named volumes: each made when new (owned as the image's directory at its target),
 * held until the run ends (volume.h: `supctl volume rm` refuses a held one), and bound by the
 * driver from the directory written into run_spec, as a bind mount's source. */
static int prepare_volumes(Monitor *m) {
        _cleanup_sup_error_ SupError *e = NULL;
        UnitSpec *u = m->run_spec;
        int r;

        for (size_t i = 0; i < u->n_mounts; i++) {
                MountSpec *ms = &u->mounts[i];
                VolumeOwner owner;
                if (ms->type != MOUNT_VOLUME)
                        continue;
                (void) volume_image_owner(m->image, ms->target, &owner);
                m->volumes = xreallocarray(m->volumes, m->n_volumes + 1, sizeof(VolumeHold));
                r = volume_prepare(m->state_dir, ms->name, m->spec->name, &owner, &m->volumes[m->n_volumes], &e);
                if (r < 0) {
                        set_reason(m, "mounts[%zu]: %s", i, sup_error_message(e));
                        return r;
                }
                free(ms->source);
                ms->source = xstrdup(m->volumes[m->n_volumes++].path);
        }
        return 0;
}

/* The DriverContext of a run (the current one, or the one made ahead). */
static void run_context(Monitor *m, const SeccompProgram *seccomp) {
        m->run = (DriverContext){
                .event = m->event,
                .spec = m->spec,
                .run_spec = m->run_spec,
                .image = m->image,
                .dir = m->dir,
                .state_dir = m->state_dir,
                .sandbox = m->sandbox,
                .options = &m->options,
                .cgroup = m->cgroup,
                .seccomp = seccomp,
                .rlimits = m->rlimits,
                .net = m->net_prepared ? &m->network : NULL,
                .share = &m->share,
                .log = &m->log,
                .status = &m->status,
                .callbacks = {.started = on_driver_started, .changed = on_driver_changed, .exited = on_driver_exited},
                .userdata = m,
        };
}

/* ---- the next run, made ahead ----
 * A resident monitor does the slow part of a start before anyone asks for it (issue 14): while
 * no run exists (stopped, exited, failed, backoff), it makes the next run's cgroup, applies the
 * unit's resources to it and parks the driver's instance (driver.h park(): for a container, its
 * init in its own namespaces and already in that cgroup, waiting for its go before any mount).
 * A start then finds it and only lets it go. The v1 cgroup.procs write (an RCU grace period,
 * about 10 ms), the mkdirs and limits of every hierarchy, the clone and the image step's
 * allocations are off the start's path; the restart policy's restarts get the same.
 *
 * What it is not: a run. Nothing of the workload has happened (no command; at most its root
 * mounted, which nothing has read: the process driver's root built ahead, container.h), so what
 * the start shows is a fresh, fully isolated instance of the unit's current spec: every step that
 * takes the host's state of the start (the binds, the network) and every step of hardening runs
 * after the go, as in a cold start. The status stays the state's (stopped, with no pid; no usage; `top` and signals
 * find no workload), and the parked instance is not m->instance.
 *
 * What it must never outlive: the spec, image, seccomp program and rlimits it was made of (the
 * container's init holds its copy of them). The start checks them all again (take_parked()) and
 * takes the cold path when one differs; a live update, a shutdown and the monitor's end throw it
 * away (drop_parked()). If the monitor dies, its init dies with it (PR_SET_PDEATHSIG) and the
 * empty cgroup is the next monitor's (cgroup_create() opens it). Units whose run holds something
 * of the host's from its start to its end are never made ahead: an address lease and veth pair
 * (network: bridge), a range of host ids (user_namespace: auto), held volumes, and the namespaces
 * of share.* targets, joined at the clone. */

static bool can_park(const Monitor *m) {
        const UnitSpec *u = m->spec;

        if (!m->driver->park || u->network == NETWORK_BRIDGE || u->share.network.name || u->share.ipc.name ||
            u->share.pid.name || u->security.user_namespace == USER_NAMESPACE_AUTO)
                return false;
        for (size_t i = 0; i < u->n_mounts; i++)
                if (u->mounts[i].type == MOUNT_VOLUME)
                        return false;
        return true;
}

static void drop_parked(Monitor *m) {
        MonitorParked *pk = &m->parked;

        if (pk->instance)
                pk->instance = m->driver->free(pk->instance);
        if (pk->cgroup)
                (void) cgroup_destroy(pk->cgroup);
        pk->cgroup = cgroup_free(pk->cgroup);
        pk->image = image_free(pk->image);
        pk->run_spec = unit_spec_free(pk->run_spec);
}

/* Makes the next run ahead, where nothing runs and nothing is made yet. Quiet: a failure leaves
 * nothing behind, and the start then takes the cold path, which reports it. */
static void park_next_run(Monitor *m) {
        _cleanup_sup_error_ SupError *error = NULL;
        MonitorParked *pk = &m->parked;
        Image *last_image = m->image;
        UnitSpec *last_run_spec = m->run_spec;
        const SeccompProgram *seccomp = NULL;
        int r;

        if (pk->instance || m->instance || m->cgroup || m->goal == MONITOR_GOAL_SHUTDOWN || !can_park(m))
                return;
        if (prepare_seccomp(m, &seccomp, &error) < 0 || prepare_rlimits(m, m->rlimits, &error) < 0 ||
            resolve_image(m, &pk->image, &pk->run_spec, &error) < 0)
                goto fail;
        if (m->cgroup_root && cgroup_create(m->cgroup_root, m->cgroup_parent, m->spec->name, &pk->cgroup) < 0)
                goto fail;
        /* The context is the run's: m->image and m->run_spec become these at the start. */
        m->image = pk->image;
        m->run_spec = pk->run_spec;
        m->cgroup = pk->cgroup;
        run_context(m, seccomp);
        m->image = last_image;
        m->run_spec = last_run_spec;
        m->cgroup = NULL;
        r = m->driver->prepare(&m->run, &pk->instance, &error);
        if (r >= 0)
                r = m->driver->park(pk->instance, &error);
        if (r < 0)
                goto fail;
        pk->seccomp = seccomp;
        memcpy(pk->seccomp_key, m->seccomp.source_key, sizeof(pk->seccomp_key));
        memcpy(pk->rlimits, m->rlimits, sizeof(RlimitSet));
        memcpy(pk->hash, m->hash, sizeof(pk->hash));
        return;

fail:
        drop_parked(m);
}

static bool same_string(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

static bool same_image(const Image *a, const Image *b) {
        size_t n = strv_length(a->images);

        if (a->n_layers != b->n_layers || n != strv_length(b->images))
                return false;
        for (size_t i = 0; i < a->n_layers; i++)
                if (!same_string(a->layers[i].dir, b->layers[i].dir) ||
                    !same_string(a->layers[i].diff_id, b->layers[i].diff_id) ||
                    !same_string(a->layers[i].disk, b->layers[i].disk))
                        return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a->images[i], b->images[i]))
                        return false;
        return true;
}

/* The start's own image step, seccomp program and limits against what the parked instance was
 * made of: the same, and it becomes the run (image and run_spec are then freed); else it goes. */
static bool take_parked(Monitor *m, const SeccompProgram *seccomp, Image *img, UnitSpec *run_spec) {
        MonitorParked *pk = &m->parked;
        char a[65], b[65];

        if (!pk->instance)
                return false;
        /* The program by its key as well: a profile changed meanwhile frees the cache's old one,
         * and the new one may get its address. */
        if (!streq(pk->hash, m->hash) || pk->seccomp != seccomp ||
            memcmp(pk->seccomp_key, m->seccomp.source_key, sizeof(pk->seccomp_key)) ||
            memcmp(pk->rlimits, m->rlimits, sizeof(RlimitSet)) || !same_image(pk->image, img) ||
            unit_spec_hash(pk->run_spec, a) < 0 || unit_spec_hash(run_spec, b) < 0 || !streq(a, b)) {
                log_writer_printf(&m->log, "sup", "what was made ahead for this start is out of date: starting afresh");
                drop_parked(m);
                return false;
        }
        image_free(img);
        unit_spec_free(run_spec);
        use_image(m, TAKE_PTR(pk->image), TAKE_PTR(pk->run_spec));
        m->cgroup = TAKE_PTR(pk->cgroup);
        m->instance = TAKE_PTR(pk->instance);
        return true;
}

/* A run: what every driver gets (the seccomp program, the rlimits, the cgroup, the network's
 * lease, the shared namespaces), then the driver's prepare and start; or the run made ahead, if
 * it is still what this start would make. < 0: it did not start, the reason is set, and nothing
 * of it is left. */
static int run_start(Monitor *m) {
        _cleanup_sup_error_ SupError *error = NULL;
        const SeccompProgram *seccomp = NULL;
        Image *img = NULL;
        UnitSpec *run_spec = NULL;
        int r;

        if (prepare_seccomp(m, &seccomp, &error) < 0 || prepare_rlimits(m, m->rlimits, &error) < 0 ||
            resolve_image(m, &img, &run_spec, &error) < 0) {
                set_reason(m, "%s", sup_error_message(error));
                goto fail;
        }
        if (take_parked(m, seccomp, img, run_spec))
                goto start;
        use_image(m, img, run_spec);
        if (prepare_volumes(m) < 0)
                goto fail;
        if (m->cgroup_root) {
                r = cgroup_create(m->cgroup_root, m->cgroup_parent, m->spec->name, &m->cgroup);
                if (r < 0) {
                        set_reason(m, "cannot create the cgroup %s/%s: %s", m->cgroup_parent, m->spec->name,
                                   strerror(-r));
                        goto fail;
                }
        }
        if (prepare_network(m) < 0 || open_share_targets(m) < 0)
                goto fail;
        run_context(m, seccomp);
        r = m->driver->prepare(&m->run, &m->instance, &error);
        if (r < 0) {
                set_reason(m, "%s", sup_error_message(error));
                goto fail;
        }
start:
        r = m->driver->start(m->instance, &error);
        if (r < 0) {
                set_reason(m, "%s", sup_error_message(error));
                goto fail;
        }
        m->started_mono = now(CLOCK_MONOTONIC);
        watch_share_targets(m);
        if (m->net.enabled_forwarding)
                log_writer_printf(&m->log, "sup",
                                  "IPv4 forwarding was off: turned on (net.ipv4.ip_forward=1) for the published ports "
                                  "and outbound traffic, with forward_guard dropping what passes no sup bridge");
        if (m->net.enabled_forwarding6)
                log_writer_printf(&m->log, "sup",
                                  "IPv6 forwarding was off: turned on (net.ipv6.conf.all.forwarding=1) for the "
                                  "published ports and outbound traffic");
        if (m->net.ra_kept)
                log_writer_printf(&m->log, "sup",
                                  "IPv6 forwarding ignores router advertisements where accept_ra=1: set accept_ra=2 "
                                  "on %s",
                                  m->net.ra_kept);
        return 0;

fail:
        run_release(m);
        return -ECANCELED;
}

static void remove_instance(Monitor *m) {
        int r;

        /* The workload's mount namespace is gone with it, so nothing is mounted in the sandbox. */
        if (m->remove_sandbox) {
                r = rm_rf(m->sandbox);
                if (r < 0)
                        log_writer_printf(&m->log, "sup", "cannot remove the sandbox %s: %s", m->sandbox, strerror(-r));
        }
        (void) rm_rf(m->dir);
}

/* ---- the state machine: what each event means in each state ---- */

static void end_of_run(Monitor *m);

/* A start that failed before anything of it ran: nothing of the run is left to drain. */
static void start_failed(Monitor *m) {
        m->started_mono = now(CLOCK_MONOTONIC);
        m->run_setup_failed = true;
        end_of_run(m);
}

/* The start proper, once the image is in the store. */
static void start_workload(Monitor *m) {
        if (run_start(m) < 0) {
                start_failed(m);
                return;
        }
        monitor_set_state(m, MONITOR_STARTING);
}

/* ---- pulls before a start ---- */

static void pulls_end(Monitor *m) {
        MonitorPull *p = m->pull;

        if (!p)
                return;
        event_source_free(p->output);
        event_source_free(p->exited);
        closep(&p->pidfd);
        /* Kills a skopeo still running and removes what it left in the store's tmp/. */
        image_pull_free(p->pull);
        strv_free(p->references);
        free(p);
        m->pull = NULL;
        free(m->status.pull.reference);
        m->status.pull = (typeof(m->status.pull)){};
}

static void on_pull_progress(const ImageProgress *pr, void *userdata) {
        Monitor *m = userdata;

        /* Told after every read of skopeo's output: the status is written only when it moved. */
        if (m->status.pull.bytes_done == pr->bytes_done && m->status.pull.bytes_total == pr->bytes_total &&
            m->status.pull.layers_done == pr->layers_done && m->status.pull.layers_total == pr->layers_total)
                return;
        m->status.pull.bytes_done = pr->bytes_done;
        m->status.pull.bytes_total = pr->bytes_total;
        m->status.pull.layers_done = pr->layers_done;
        m->status.pull.layers_total = pr->layers_total;
        if (m->pull && pr->layers_done != m->pull->logged_layers) {
                m->pull->logged_layers = pr->layers_done;
                log_writer_printf(&m->log, "sup", "pulling %s: %u of %u layers, %" PRIu64 " of %" PRIu64 " bytes",
                                  pr->reference, pr->layers_done, pr->layers_total, pr->bytes_done, pr->bytes_total);
        }
        monitor_set_state(m, m->state);
}

static void on_pull_output(EventSource *s, int fd, uint32_t revents, void *userdata);
static void on_pull_exited(EventSource *s, int fd, uint32_t revents, void *userdata);

/* Starts the next pull: 1 started, 0 none left, < 0 could not (the reason is set). */
static int pull_next(Monitor *m) {
        _cleanup_sup_error_ SupError *e = NULL;
        MonitorPull *p = m->pull;
        const char *reference = p->references[p->next];
        ImageOptions opts = {.progress = on_pull_progress, .userdata = m};
        bool tls_verify = true;
        int r;

        if (!reference)
                return 0;
        p->next++;
        for (size_t i = 0; i < m->spec->n_layers; i++)
                if (m->spec->layers[i].type == LAYER_REGISTRY && streq(m->spec->layers[i].path, reference))
                        tls_verify = m->spec->layers[i].tls_verify;
        p->output = event_source_free(p->output);
        p->exited = event_source_free(p->exited);
        closep(&p->pidfd);
        p->pidfd = -EBADF;
        p->pull = image_pull_free(p->pull);
        p->logged_layers = 0;

        r = image_pull_start(m->store_dir, reference, tls_verify, &opts, &p->pull, &e);
        if (r < 0) {
                set_reason(m, "cannot pull %s: %s", reference, sup_error_message(e));
                return r;
        }
        p->pidfd = pidfd_open(image_pull_pid(p->pull), 0);
        if (p->pidfd < 0) {
                r = -errno;
                set_reason(m, "cannot watch the pull of %s: %s", reference, strerror(-r));
                return r;
        }
        r = event_add_io(m->event, &p->output, image_pull_fd(p->pull), EPOLLIN, on_pull_output, m);
        if (r >= 0)
                r = event_add_io(m->event, &p->exited, p->pidfd, EPOLLIN, on_pull_exited, m);
        if (r < 0) {
                set_reason(m, "cannot watch the pull of %s: %s", reference, strerror(-r));
                return r;
        }
        free(m->status.pull.reference);
        m->status.pull = (typeof(m->status.pull)){.reference = xstrdup(reference)};
        log_writer_printf(&m->log, "sup", "pulling %s (image.pull: %s)", reference,
                          pull_policy_to_string(m->spec->pull));
        return 1;
}

/* 1: pulls run, the start goes on when they end; 0: none needed; < 0: the start failed. */
static int pulls_begin(Monitor *m) {
        _cleanup_sup_error_ SupError *e = NULL;
        _cleanup_strv_free_ char **references = NULL;
        int r;

        pulls_end(m);
        r = image_store_pulls_needed(m->store_dir, m->spec, &references, &e);
        if (r < 0) {
                set_reason(m, "%s", sup_error_message(e));
                return r;
        }
        if (strv_length(references) == 0)
                return 0;
        m->pull = xnew0(MonitorPull, 1);
        m->pull->pidfd = -EBADF;
        m->pull->references = TAKE_PTR(references);
        r = pull_next(m);
        if (r <= 0)
                pulls_end(m);
        return r;
}

static void on_pull_output(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;
        int r = image_pull_read(m->pull->pull);

        /* Its output ended (skopeo is exiting) or cannot be read: its exit ends the pull either
         * way. */
        if (r == 0 || (r < 0 && r != -EAGAIN))
                m->pull->output = event_source_free(m->pull->output);
}

static void on_pull_exited(EventSource *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_sup_error_ SupError *e = NULL;
        Monitor *m = userdata;
        MonitorPull *p = m->pull;
        const char *reference = p->references[p->next - 1];
        int status = 0, r;

        /* What skopeo wrote last (its error) is read before the verdict needs it. */
        (void) image_pull_read(p->pull);
        while (waitpid(image_pull_pid(p->pull), &status, 0) < 0 && errno == EINTR)
                ;
        r = image_pull_finish(p->pull, status, &e);
        if (r < 0) {
                /* It names the reference ("cannot pull REF: skopeo: ..."). */
                set_reason(m, "%s", sup_error_message(e));
                log_writer_printf(&m->log, "sup", "%s", m->status.reason);
                pulls_end(m);
                start_failed(m);
                return;
        }
        log_writer_printf(&m->log, "sup", "pulled %s", reference);
        r = pull_next(m);
        if (r > 0)
                return;
        pulls_end(m);
        if (r < 0)
                start_failed(m);
        else
                start_workload(m);
}

/* A run begins (automatic: the restart policy's), unless the start limit forbids it. */
static void start_run(Monitor *m, bool automatic) {
        int r;

        if (!restart_state_start(&m->restart, m->spec, now(CLOCK_MONOTONIC))) {
                _cleanup_free_ char *iv = format_duration(m->spec->restart.interval);
                /* The last run's exit, OOM included, stays in the status: it is why the limit
                 * was reached. */
                set_reason(m, "start limit hit: %u starts within %s (restart.burst, restart.interval)",
                           m->spec->restart.burst, iv);
                m->goal = MONITOR_GOAL_POLICY;
                monitor_set_state(m, MONITOR_FAILED);
                return;
        }
        /* Counted once the start is allowed: a start refused by the limit is no restart. */
        if (automatic)
                m->status.restarts++;
        free(m->status.reason);
        m->status.reason = NULL;
        m->status.oom = false;
        m->goal = MONITOR_GOAL_POLICY;
        /* An operator's stop or restart came between: what ends the next run is not the health
         * check's doing. */
        m->health_restart = m->health_killed = false;
        r = pulls_begin(m);
        if (r < 0) {
                start_failed(m);
                return;
        }
        if (r > 0) {
                /* Starting, with the image on its way: pull_exited() goes on. */
                monitor_set_state(m, MONITOR_STARTING);
                return;
        }
        start_workload(m);
}

/* ---- health: the workload's health check (health.h) ---- */

static int health_exec(const ExecRequest *req, const ExecCallbacks *cb, void *cb_userdata, DriverExec **ret,
                       SupError **ret_error, void *userdata) {
        Monitor *m = userdata;

        if (!m->instance)
                return sup_error_make(ret_error, -ENOTCONN, "the workload does not run");
        return m->driver->exec(m->instance, req, cb, cb_userdata, ret, ret_error);
}

static void health_cancel(DriverExec *x, void *userdata) {
        Monitor *m = userdata;

        (void) m->driver->exec_cancel(x);
}

static void enter_stopping(Monitor *m, MonitorState state);

/* The check's verdict for the log: "exit status 1: wget: server returned error" (its output's
 * first line), "timed out after 2s", "killed by signal 9". */
static char *health_last_check(const Monitor *m) {
        const char *out = m->status.health.last_output ?: "";
        size_t n = strcspn(out, "\n");
        char buf[64], *what;

        if (m->status.health.last_timed_out)
                what = xasprintf("timed out after %s", format_timespan(m->spec->healthcheck.timeout, buf, sizeof(buf)));
        else if (m->status.health.last_signal > 0)
                what = xasprintf("killed by signal %d", m->status.health.last_signal);
        else
                what = xasprintf("exit status %d", m->status.health.last_exit_code);
        if (n > 0) {
                char *s = xasprintf("%s: %.*s", what, (int) MIN(n, (size_t) 200), out);
                free(what);
                what = s;
        }
        return what;
}

static void on_health_changed(HealthCheck *h, HealthState old, HealthState new, void *userdata) {
        Monitor *m = userdata;
        _cleanup_free_ char *last = NULL;

        health_check_status(h, &m->status);
        if (old != new) {
                last = health_last_check(m);
                if (new == HEALTH_HEALTHY)
                        log_writer_printf(&m->log, "sup", "health: %s -> %s", health_state_to_string(old),
                                          health_state_to_string(new));
                else
                        log_writer_printf(&m->log, "sup", "health: %s -> %s (%u failed checks in a row; the last: %s)",
                                          health_state_to_string(old), health_state_to_string(new),
                                          m->status.health.failing_streak, last);
        }
        if (new != HEALTH_UNHEALTHY || old == HEALTH_UNHEALTHY || m->state != MONITOR_RUNNING) {
                monitor_set_state(m, m->state); /* publish */
                return;
        }
        /* It has just turned unhealthy: healthcheck.on_failure (health.h). Each action below
         * leaves RUNNING or kills, which ends the check (monitor_set_state()). */
        switch (m->spec->healthcheck.on_failure) {
        case HEALTH_ACTION_RESTART:
                set_reason(m, "the health check failed %u times in a row (healthcheck.on_failure: restart)",
                           m->status.health.failing_streak);
                m->health_restart = true;
                enter_stopping(m, MONITOR_STOPPING);
                return;
        case HEALTH_ACTION_STOP:
                set_reason(m, "stopped: the health check failed %u times in a row (healthcheck.on_failure: stop)",
                           m->status.health.failing_streak);
                (void) monitor_stop(m);
                return;
        case HEALTH_ACTION_KILL:
                set_reason(m, "killed: the health check failed %u times in a row (healthcheck.on_failure: kill)",
                           m->status.health.failing_streak);
                m->health = health_check_free(m->health);
                m->health_killed = true;
                m->driver->kill(m->instance);
                monitor_set_state(m, m->state);
                return;
        case HEALTH_ACTION_NONE:
        case _HEALTH_ACTION_MAX:
        case _HEALTH_ACTION_INVALID:
                break;
        }
        monitor_set_state(m, m->state);
}

static const HealthCheckOps monitor_health_ops = {
        .exec = health_exec,
        .cancel = health_cancel,
        .changed = on_health_changed,
};

static void act_none(Monitor *m) {
}

static void act_start(Monitor *m) {
        start_run(m, false);
}

static void act_restart_timeout(Monitor *m) {
        start_run(m, true);
}

static void enter_stopping(Monitor *m, MonitorState state) {
        /* The state first: a driver may report the workload gone from within stop(). A driver
         * with a stop ladder of its own times its steps itself. */
        monitor_set_state(m, state);
        m->driver->stop(m->instance);
        if (!m->driver->stop_ladder && m->state == state)
                arm_timer(m, now(CLOCK_MONOTONIC) + m->spec->stop.timeout);
}

static void act_drain_cancelled(Monitor *m);

static void act_stop(Monitor *m) {
        enter_stopping(m, MONITOR_STOPPING);
}

static void act_cancel(Monitor *m) {
        if (m->pull) {
                /* Still pulling: nothing runs but skopeo, which goes with its files. */
                pulls_end(m);
                monitor_set_state(m, MONITOR_CANCELLING);
                act_drain_cancelled(m);
                return;
        }
        enter_stopping(m, MONITOR_CANCELLING);
}

/* The command ran before the stop reached it: it is the command's stop now, within the same
 * stop.timeout. */
static void act_stop_started(Monitor *m) {
        usec_t deadline = m->timer ? event_source_get_time(m->timer) : USEC_INFINITY;

        monitor_set_state(m, MONITOR_STOPPING);
        if (deadline != USEC_INFINITY)
                arm_timer(m, deadline);
}

static void act_kill(Monitor *m) {
        if (!m->instance)
                return;
        log_writer_printf(&m->log, "sup", "still running after stop.timeout: killing it");
        m->driver->kill(m->instance);
}

/* A start request while the workload is on its way out: start again once it is gone. */
static void act_want_restart(Monitor *m) {
        if (m->goal != MONITOR_GOAL_SHUTDOWN)
                m->goal = MONITOR_GOAL_RESTART;
}

static void act_running(Monitor *m) {
        m->health = health_check_free(m->health);
        m->health = health_check_new(m->event, m->spec, now(CLOCK_MONOTONIC), &monitor_health_ops, m);
        if (m->health)
                health_check_status(m->health, &m->status); /* starting, again, for this run */
        monitor_set_state(m, MONITOR_RUNNING);
}

/* The state stays; what the status says of it changed (started_at). */
static void act_publish(Monitor *m) {
        monitor_set_state(m, m->state);
}

static void act_stopped(Monitor *m) {
        m->goal = MONITOR_GOAL_POLICY;
        monitor_set_state(m, MONITOR_STOPPED);
}

static void act_exit(Monitor *m) {
        drop_parked(m);
        if (m->status_timer) /* the file goes with the directory */
                event_source_set_time(m->status_timer, USEC_INFINITY);
        log_writer_printf(&m->log, "sup", m->remove_sandbox ? "instance removed" : "monitor exiting");
        remove_instance(m);
        event_exit(m->event, m->exit_code);
}

/* The workload is gone: its cgroup may still hold processes for a moment (the kernel kills a pid
 * namespace after its init has gone); draining retries the cleanup until it is done. */
static void act_drain(Monitor *m) {
        if (run_cleanup(m)) {
                end_of_run(m);
                return;
        }
        if (m->state != MONITOR_DRAINING)
                monitor_set_state(m, MONITOR_DRAINING);
        arm_timer(m, now(CLOCK_MONOTONIC) + CLEANUP_RETRY_USEC);
}

/* A stop before the command ran: there is no exit of the command to report, whatever the driver
 * had to do to end the setup (the VM's QMP quit, the container's init killed), in both isolation
 * modes alike. */
static void act_drain_cancelled(Monitor *m) {
        m->status.has_exit = false;
        m->status.exit_code = 0;
        m->status.exit_signal = 0;
        m->status.oom = false;
        set_reason(m, "stopped while starting: the command had not started");
        act_drain(m);
}

/* The run is over and nothing of it is left: what was asked for meanwhile comes next. */
static void end_of_run(Monitor *m) {
        switch (m->goal) {
        case MONITOR_GOAL_SHUTDOWN:
                act_exit(m);
                return;
        case MONITOR_GOAL_RESTART:
                start_run(m, false);
                return;
        case MONITOR_GOAL_STOP:
                act_stopped(m);
                break;
        case MONITOR_GOAL_POLICY:
        case _MONITOR_GOAL_MAX:
        case _MONITOR_GOAL_INVALID:
                apply_restart_policy(m);
                break;
        }
        /* Stopped, exited, failed or in backoff: the next start, the operator's or the restart
         * policy's, finds its run made. */
        park_next_run(m);
}

typedef void (*MonitorAction)(Monitor *m);

/* A row of actions[]: start, stop, restart, shutdown (requests); started, gone (the driver);
 * timeout. */
#define ROW(start, stop, restart, shutdown, started, gone, timeout)                                                  \
        {                                                                                                            \
                [MONITOR_EVENT_START] = start, [MONITOR_EVENT_STOP] = stop, [MONITOR_EVENT_RESTART] = restart,       \
                [MONITOR_EVENT_SHUTDOWN] = shutdown, [MONITOR_EVENT_STARTED] = started, [MONITOR_EVENT_GONE] = gone, \
                [MONITOR_EVENT_TIMEOUT] = timeout,                                                                   \
        }

/* Every (state, event) pair, decided once. Requests have set the goal before they get here
 * (request()); events that cannot happen in a state (a timeout where no timer is armed, the
 * workload gone where there is none) are act_none. */
/* clang-format off */
static const MonitorAction actions[_MONITOR_STATE_MAX][_MONITOR_EVENT_MAX] = {
        /*                          start             stop         restart      shutdown     started           gone                 timeout */
        [MONITOR_STOPPED]    = ROW(act_start,        act_stopped, act_start,   act_exit,    act_none,         act_none,            act_none),
        [MONITOR_STARTING]   = ROW(act_none,         act_cancel,  act_cancel,  act_cancel,  act_running,      act_drain,           act_none),
        [MONITOR_RUNNING]    = ROW(act_none,         act_stop,    act_stop,    act_stop,    act_none,         act_drain,           act_none),
        [MONITOR_STOPPING]   = ROW(act_want_restart, act_none,    act_none,    act_none,    act_publish,      act_drain,           act_kill),
        [MONITOR_CANCELLING] = ROW(act_want_restart, act_none,    act_none,    act_none,    act_stop_started, act_drain_cancelled, act_kill),
        /* Issue 9 item 11: a request while draining only changes the goal; the timer stays the
         * cleanup's. */
        [MONITOR_DRAINING]   = ROW(act_want_restart, act_none,    act_none,    act_none,    act_none,         act_none,            act_drain),
        [MONITOR_BACKOFF]    = ROW(act_start,        act_stopped, act_start,   act_exit,    act_none,         act_none,            act_restart_timeout),
        [MONITOR_EXITED]     = ROW(act_start,        act_stopped, act_start,   act_exit,    act_none,         act_none,            act_none),
        [MONITOR_FAILED]     = ROW(act_start,        act_stopped, act_start,   act_exit,    act_none,         act_none,            act_none),
};
/* clang-format on */
#undef ROW

void monitor_dispatch(Monitor *m, MonitorEvent ev) {
        actions[m->state][ev](m);
}

static void on_timer(EventSource *s, usec_t t, void *userdata) {
        monitor_dispatch(userdata, MONITOR_EVENT_TIMEOUT);
}

/* A request: it sets what follows the current run (a shutdown outranks the rest), then the state
 * decides what it means now. */
static int request(Monitor *m, MonitorEvent ev, MonitorGoal goal) {
        if (m->goal != MONITOR_GOAL_SHUTDOWN && goal != MONITOR_GOAL_POLICY)
                m->goal = goal;
        monitor_dispatch(m, ev);
        return 0;
}

int monitor_start(Monitor *m, bool by_operator) {
        if (by_operator) {
                m->status.admin_stopped = false;
                free(m->status.restart_reason);
                m->status.restart_reason = NULL;
                restart_state_reset(&m->restart);
        }
        return request(m, MONITOR_EVENT_START, MONITOR_GOAL_POLICY);
}

int monitor_stop(Monitor *m) {
        m->status.admin_stopped = true;
        return request(m, MONITOR_EVENT_STOP, MONITOR_GOAL_STOP);
}

int monitor_restart(Monitor *m) {
        m->status.admin_stopped = false;
        free(m->status.restart_reason);
        m->status.restart_reason = NULL;
        restart_state_reset(&m->restart);
        return request(m, MONITOR_EVENT_RESTART, MONITOR_GOAL_RESTART);
}

int monitor_shutdown(Monitor *m, bool remove_sandbox) {
        m->remove_sandbox = m->remove_sandbox || remove_sandbox;
        return request(m, MONITOR_EVENT_SHUTDOWN, MONITOR_GOAL_SHUTDOWN);
}

void monitor_make_ahead(Monitor *m) {
        if (m->state != MONITOR_STARTING && m->state != MONITOR_RUNNING)
                park_next_run(m);
}

void monitor_set_driver(Monitor *m, const IsolationDriver *driver) {
        m->driver = driver;
}

/* ---- the socket ---- */

/* ---- top: the workload's processes ----
 * The one place that answers "top". It sends the reply itself instead of returning it, so that a
 * driver that has to ask first (the guest's agent) can answer later; the reply is
 * {"pid_namespace": the driver's, "processes": [process-list.h's]}. */

/* A reply over supd's frame limit would make supd drop its connection to this monitor. */
#define TOP_REPLY_MAX (JSON_FRAME_MAX_REPLY - 4096)

/* The request waits for the driver's answer; the client may be gone by then. */
static void top_request_free(TopRequest *t) {
        for (TopRequest **p = &t->monitor->top_requests; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        break;
                }
        json_decref(t->msg);
        free(t);
}

static void on_ps(int error, const char *message, json_t *processes, void *userdata) {
        TopRequest *t = userdata;
        Monitor *m = t->monitor;
        JsonlClient *c = jsonl_server_find_client(m->server, t->client_id);
        JsonConn *conn = c ? jsonl_client_conn(c) : NULL;
        json_t *result;

        if (!conn)
                goto done;
        if (error < 0) {
                /* The workload went away meanwhile (a guest's agent: its connection), or the
                 * listing itself failed. */
                bool gone = error == -ENOTCONN || error == -ECONNRESET || error == -ECANCELED;
                (void) json_conn_reply_error(conn, t->msg, gone ? "not-running" : "failed", "%s: %s", m->spec->name,
                                             message ?: strerror(-error));
                goto done;
        }
        result = json_pack("{s:s, s:O}", "pid_namespace", m->driver->pid_namespace, "processes", processes);
        if (json_dumpb(result, NULL, 0, JSON_COMPACT) > TOP_REPLY_MAX) {
                (void) json_conn_reply_error(conn, t->msg, "too-large", "%s has too many processes to list (%zu)",
                                             m->spec->name, json_array_size(processes));
                json_decref(result);
                goto done;
        }
        (void) json_conn_reply(conn, t->msg, result);
done:
        top_request_free(t);
}

static void monitor_top(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        TopRequest *t;
        int r;

        if (!m->instance) {
                (void) json_conn_reply_error(conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                return;
        }
        t = xzalloc(sizeof(TopRequest));
        t->monitor = m;
        t->client_id = jsonl_client_id(c);
        t->msg = json_incref(msg);
        t->next = m->top_requests;
        m->top_requests = t;
        r = m->driver->ps(m->instance, on_ps, t);
        if (r < 0) {
                /* The run's workload is not there yet or any more (draining), or cannot be asked
                 * (a guest whose agent is not connected): -ENOTCONN. */
                (void) json_conn_reply_error(conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                top_request_free(t);
        }
}

/* ---- exec: a command in the running instance (runtime/exec.h, the driver's exec()) ----
 * Two ways:
 *  - collected: the reply is {"exit_code", "signal", "stdout", "stderr", "stdout_truncated",
 *    "stderr_truncated", "error"?}, each stream's first EXEC_REPLY_OUTPUT_MAX bytes (as text:
 *    bytes that are not UTF-8 become U+FFFD). A long-running exec costs the monitor that much
 *    memory at most. A client that goes away does not end its exec: the command runs to its own
 *    end or the instance's, and its reply is dropped.
 *  - streamed (supctl exec): params "stream": true and, sent with the request's bytes
 *    (SCM_RIGHTS), the client's three fds for the command's stdin, stdout and stderr (pipes or
 *    sockets it made: never its terminal, which inside the instance would be a way out of it);
 *    "tty", "rows", "cols" ask for a terminal (exec.h). The reply, once the command ended and its
 *    output was written, is {"exit_code", "signal", "error"?}. One stream per connection;
 *    "exec-resize" {"rows", "cols"} on the same connection resizes its terminal. A client that
 *    goes away ends its stream: the command is killed (a driver that cannot cancel lets it run
 *    to its own end or the instance's), so that an operator's ^C on supctl leaves nothing
 *    behind. */

#define EXEC_REPLY_OUTPUT_MAX (64U * 1024U)

static void monitor_exec_free(MonitorExec *x) {
        for (MonitorExec **p = &x->monitor->execs; *p; p = &(*p)->next)
                if (*p == x) {
                        *p = x->next;
                        break;
                }
        json_decref(x->msg);
        for (ExecStream s = 0; s < _EXEC_STREAM_MAX; s++)
                free(x->out[s]);
        free(x);
}

/* The monitor goes: an exec the driver can cancel is killed without a reply; the others end with
 * the instance (the driver's free() reports them exited). */
static void monitor_exec_free_all(Monitor *m) {
        MonitorExec *next;

        for (MonitorExec *x = m->execs; x; x = next) {
                next = x->next;
                x->client_id = 0;
                if (x->exec) {
                        x->exec = m->driver->exec_cancel(x->exec);
                        monitor_exec_free(x);
                }
        }
}

static void on_exec_output(ExecStream s, const char *buf, size_t n, void *userdata) {
        MonitorExec *x = userdata;
        size_t take = MIN(n, EXEC_REPLY_OUTPUT_MAX - x->len[s]);

        if (!x->out[s])
                x->out[s] = xmalloc(EXEC_REPLY_OUTPUT_MAX);
        memcpy(x->out[s] + x->len[s], buf, take);
        x->len[s] += take;
        if (take < n)
                x->truncated[s] = true;
}

static void on_exec_exited(const ExecResult *result, void *userdata) {
        MonitorExec *x = userdata;
        JsonlClient *c = x->client_id ? jsonl_server_find_client(x->monitor->server, x->client_id) : NULL;
        json_t *reply;

        x->exec = NULL;
        if (c && x->stream) {
                reply = json_pack("{s:i, s:i}", "exit_code", result->code, "signal", result->signal);
                if (result->error)
                        json_object_set_new(reply, "error", json_string_lossy(result->error, strlen(result->error)));
                (void) json_conn_reply(jsonl_client_conn(c), x->msg, reply);
        } else if (c) {
                reply = json_pack("{s:i, s:i, s:o, s:o, s:b, s:b}", "exit_code", result->code, "signal", result->signal,
                                  "stdout", json_string_lossy(x->out[EXEC_STDOUT] ?: "", x->len[EXEC_STDOUT]), "stderr",
                                  json_string_lossy(x->out[EXEC_STDERR] ?: "", x->len[EXEC_STDERR]), "stdout_truncated",
                                  x->truncated[EXEC_STDOUT], "stderr_truncated", x->truncated[EXEC_STDERR]);
                if (result->error)
                        json_object_set_new(reply, "error", json_string_lossy(result->error, strlen(result->error)));
                (void) json_conn_reply(jsonl_client_conn(c), x->msg, reply);
        }
        monitor_exec_free(x);
}

static const ExecCallbacks monitor_exec_callbacks = {
        .output = on_exec_output,
        .exited = on_exec_exited,
};

static MonitorExec *exec_find_stream(Monitor *m, uint64_t client_id) {
        for (MonitorExec *x = m->execs; x; x = x->next)
                if (x->stream && x->client_id == client_id)
                        return x;
        return NULL;
}

/* The client of a stream has gone: its command goes too (see above). */
static void on_client_close(uint64_t id, void *userdata) {
        Monitor *m = userdata;
        MonitorExec *x = exec_find_stream(m, id);

        if (!x)
                return;
        x->client_id = 0;
        if (x->exec) {
                x->exec = m->driver->exec_cancel(x->exec);
                monitor_exec_free(x);
        }
}

/* params {"rows", "cols"}: the size of this connection's streamed exec's terminal. */
static void monitor_exec_resize(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        MonitorExec *x = exec_find_stream(m, jsonl_client_id(c));
        const json_t *params = json_object_get(msg, "params");
        json_int_t rows = json_integer_value(json_object_get(params, "rows")),
                   cols = json_integer_value(json_object_get(params, "cols"));
        int r;

        if (rows < 1 || rows > USHRT_MAX || cols < 1 || cols > USHRT_MAX) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "exec-resize needs rows and cols from 1 to %u",
                                             USHRT_MAX);
                return;
        }
        if (!x) {
                (void) json_conn_reply_error(conn, msg, "not-running", "this connection has no streamed exec");
                return;
        }
        r = x->exec && m->driver->exec_resize
                    ? m->driver->exec_resize(x->exec, (unsigned short) rows, (unsigned short) cols)
                    : -EOPNOTSUPP;
        if (r < 0) {
                (void) json_conn_reply_error(conn, msg, "failed", "cannot resize the terminal: %s", strerror(-r));
                return;
        }
        (void) json_conn_reply(conn, msg, json_null());
}

/* Root only (the method table's flag): the command runs as the unit's root if asked, with the
 * unit's capabilities, inside its namespaces; whoever may call this owns the unit. */
static void monitor_exec(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        _cleanup_(exec_request_done) ExecRequest req = {};
        _cleanup_sup_error_ SupError *error = NULL;
        MonitorExec *x;

        _cleanup_close_ int fd0 = -EBADF, fd1 = -EBADF, fd2 = -EBADF;
        const json_t *params = json_object_get(msg, "params");
        int fds[3];

        if (exec_request_from_json(params, &req, &error) < 0) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "%s", sup_error_message(error));
                return;
        }
        if (json_is_true(json_object_get(params, "stream"))) {
                size_t n = json_conn_take_fds(conn, fds, 3);

                /* Ours from here, however many came. */
                fd0 = n > 0 ? fds[0] : -EBADF, fd1 = n > 1 ? fds[1] : -EBADF, fd2 = n > 2 ? fds[2] : -EBADF;
                if (n != 3) {
                        (void) json_conn_reply_error(
                                conn, msg, "bad-request",
                                "a streamed exec needs three fds (stdin, stdout, stderr) with the request");
                        return;
                }
                if (exec_find_stream(m, jsonl_client_id(c))) {
                        (void) json_conn_reply_error(conn, msg, "busy", "this connection has a streamed exec already");
                        return;
                }
                req.stream = true;
                req.stdio[0] = fd0, req.stdio[1] = fd1, req.stdio[2] = fd2;
                /* Its client reads its reply and nothing else, maybe much later. */
                jsonl_client_mute_events(c);
        } else if (req.tty) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "a terminal needs a streamed exec");
                return;
        }
        if (m->state != MONITOR_RUNNING || !m->instance) {
                (void) json_conn_reply_error(conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                return;
        }
        x = xzalloc(sizeof(MonitorExec));
        x->monitor = m;
        x->client_id = jsonl_client_id(c);
        x->msg = json_incref(msg);
        x->stream = req.stream;
        if (m->driver->exec(m->instance, &req, &monitor_exec_callbacks, x, &x->exec, &error) < 0) {
                (void) json_conn_reply_error(conn, msg, "failed", "exec in %s: %s", m->spec->name,
                                             sup_error_message(error));
                monitor_exec_free(x);
                return;
        }
        x->next = m->execs;
        m->execs = x;
}

/* ---- kill: a signal to the workload's command (the driver's signal()) ----
 * params {"signal": "SIGHUP"}: the command gets it as it gets stop.signal, and nothing else
 * happens (no stop, no timer): what the command does with it is the command's. SIGSTOP and
 * SIGKILL are refused: a process container's init cannot pass them on (they would stop or end
 * the init itself), so they could not mean the same in both isolation modes; SIGTSTP stops a
 * command that does not catch it, and `supctl stop` ends one. Root only (the table's flag). */
static void monitor_kill(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        const char *name = json_string_value(json_object_get(json_object_get(msg, "params"), "signal"));
        _cleanup_sup_error_ SupError *error = NULL;
        int sig;

        if (!name || parse_signal(name, &sig) < 0 || sig == SIGSTOP || sig == SIGKILL) {
                (void) json_conn_reply_error(conn, msg, "bad-request",
                                             "kill needs {\"signal\": a signal's name} (not SIGSTOP or SIGKILL: "
                                             "SIGTSTP stops the command, stop ends it)");
                return;
        }
        if (m->state != MONITOR_RUNNING || !m->instance) {
                (void) json_conn_reply_error(conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                return;
        }
        if (m->driver->signal(m->instance, sig, &error) < 0) {
                (void) json_conn_reply_error(conn, msg, "failed", "kill %s: %s", m->spec->name,
                                             sup_error_message(error));
                return;
        }
        log_writer_printf(&m->log, "sup", "signal %s sent to the command", name);
        (void) json_conn_reply(conn, msg, instance_status_to_json(&m->status));
}

/* ---- update: a new spec that differs in live fields only (the driver's is_live()) ----
 * The new limits go to the running workload (the driver's update()), or wait for its next start; the spec
 * to spec.json (atomically: a supd that adopts this monitor later reads the new one), the new hash
 * to the status. Same workload, same PID. On any failure the old limits are written back and the
 * old spec stays; supd then replaces the instance. */

static int monitor_update(Monitor *m, const char *text, SupError **ret_error) {
        _cleanup_(unit_spec_freep) UnitSpec *new = NULL;
        _cleanup_strv_free_ char **changed = NULL, **details = NULL;
        _cleanup_free_ char *path = path_join(m->dir, "spec.json"), *canonical = NULL, *list = NULL;
        Diagnostics d = {};
        char hash[65], new_hash[65];
        typeof(m->spec->resources) old = m->spec->resources;
        /* A workload to change: a run's instance, until its workload is gone (draining). */
        bool running = m->instance && m->state != MONITOR_DRAINING;
        int r;

        r = unit_parse("spec.json", m->dir, text, strlen(text), 0, &d, &new, NULL);
        if (r < 0) {
                (void) sup_error_make(ret_error, r, "the new spec is not valid: %s",
                                      d.n > 0 ? d.items[0].message : "?");
                diagnostics_done(&d);
                return r;
        }
        diagnostics_done(&d);
        changed = unit_spec_diff(m->spec, new);
        if (!changed[0])
                return 0; /* nothing changed */
        /* A parked run has the old resources (its cgroup) and spec (its init's copy). */
        drop_parked(m);
        if (!unit_spec_updatable_in_place(m->spec, new, changed, m->driver->is_live)) {
                _cleanup_free_ char *fields = strv_join(changed, ", ");
                return sup_error_make(ret_error, -EOPNOTSUPP, "a change of %s needs a restart", fields);
        }
        details = unit_spec_describe_changes(m->spec, new, changed);
        list = strv_join(details, ", ");

        if (running) {
                r = m->driver->update(m->instance, new, ret_error);
                if (r < 0) {
                        (void) m->driver->update(m->instance, m->spec, NULL);
                        return r;
                }
        }
        (void) apply_own_limits(m, new);
        /* Only live fields differ, and those are resources.* (every driver's is_live()): the
         * running spec takes them, and is then the new one (the driver's instance holds a pointer
         * to it, so it is changed, not swapped). */
        m->spec->resources = new->resources;
        (void) unit_spec_hash(m->spec, hash);
        (void) unit_spec_hash(new, new_hash);
        canonical = unit_spec_format(m->spec);
        r = streq(hash, new_hash) ? write_file_atomic(path, canonical, strlen(canonical), 0600) : -EBADMSG;
        if (r < 0) {
                m->spec->resources = old;
                if (running)
                        (void) m->driver->update(m->instance, m->spec, NULL);
                (void) apply_own_limits(m, m->spec);
                return sup_error_errno(ret_error, r, "cannot write %s", path);
        }
        memcpy(m->hash, hash, sizeof(hash));
        free(m->status.hash);
        m->status.hash = xstrdup(hash);
        log_writer_printf(&m->log, "sup", "updated in place: %s%s", list, running ? "" : " (for its next start)");
        write_status(m);
        broadcast_status(m);
        if (!m->instance)
                park_next_run(m);
        return 0;
}

static void do_status(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;

        (void) json_conn_reply(jsonl_client_conn(c), msg, instance_status_to_json(&m->status));
}

/* The spec this monitor runs, as spec.json had it: supd adopts with it when that file is gone or
 * damaged. */
static void do_spec(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;
        _cleanup_free_ char *text = unit_spec_format(m->spec);

        (void) json_conn_reply(jsonl_client_conn(c), msg, json_pack("{s:s}", "spec", text));
}

/* The reply to a request of the state machine: the status it left. The monitor may have exited
 * the loop (shutdown of a stopped instance); the reply is still written, the socket being gone
 * only afterwards. */
static void reply_with_status(Monitor *m, JsonlClient *c, json_t *msg, int r) {
        const char *method = json_string_value(json_object_get(msg, "method"));

        if (r < 0)
                (void) json_conn_reply_error(jsonl_client_conn(c), msg, "failed", "%s: %s", method, strerror(-r));
        else
                (void) json_conn_reply(jsonl_client_conn(c), msg, instance_status_to_json(&m->status));
}

static void do_start(JsonlClient *c, json_t *msg, void *userdata) {
        reply_with_status(userdata, c, msg, monitor_start(userdata, true));
}

static void do_stop(JsonlClient *c, json_t *msg, void *userdata) {
        reply_with_status(userdata, c, msg, monitor_stop(userdata));
}

static void do_restart(JsonlClient *c, json_t *msg, void *userdata) {
        reply_with_status(userdata, c, msg, monitor_restart(userdata));
}

static void do_shutdown(JsonlClient *c, json_t *msg, void *userdata) {
        bool remove = json_is_true(json_object_get(json_object_get(msg, "params"), "remove"));

        reply_with_status(userdata, c, msg, monitor_shutdown(userdata, remove));
}

static void do_update(JsonlClient *c, json_t *msg, void *userdata) {
        Monitor *m = userdata;
        const char *text = json_string_value(json_object_get(json_object_get(msg, "params"), "spec"));
        _cleanup_sup_error_ SupError *error = NULL;
        int r;

        r = text ? monitor_update(m, text, &error) : sup_error_make(&error, -EINVAL, "update needs the spec");
        if (r < 0) {
                (void) json_conn_reply_error(jsonl_client_conn(c), msg, r == -EOPNOTSUPP ? "needs-restart" : "failed",
                                             "%s", sup_error_message(error));
                return;
        }
        reply_with_status(m, c, msg, r);
}

/* Only privileged peers connect (the socket has no group): the flags say what would stay root's
 * if it ever had one. */
static const JsonlMethod monitor_methods[] = {
        {"status", do_status, 0},
        {"spec", do_spec, 0},
        {"top", monitor_top, 0},
        {"start", do_start, JSONL_METHOD_ROOT_ONLY},
        {"stop", do_stop, JSONL_METHOD_ROOT_ONLY},
        {"restart", do_restart, JSONL_METHOD_ROOT_ONLY},
        {"shutdown", do_shutdown, JSONL_METHOD_ROOT_ONLY},
        {"update", do_update, JSONL_METHOD_ROOT_ONLY},
        {"exec", monitor_exec, JSONL_METHOD_ROOT_ONLY},
        {"exec-resize", monitor_exec_resize, JSONL_METHOD_ROOT_ONLY},
        {"kill", monitor_kill, JSONL_METHOD_ROOT_ONLY},
        {},
};

static void on_out_of_fds(int error, void *userdata) {
        Monitor *m = userdata;

        log_writer_printf(&m->log, "sup", "monitor socket: out of file descriptors (%s); turning clients away",
                          strerror(-error));
}

int monitor_enter_cgroup(Monitor *m, SupError **ret_error) {
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ char *name = xasprintf("%s" INSTANCE_MONITOR_CGROUP_SUFFIX, m->spec->name);
        int r;

        /* The unit's previous monitor removes the cgroup as it exits: it may have gone between
         * the two steps (once). */
        for (unsigned attempt = 0; attempt < 2; attempt++) {
                cg = cgroup_free(cg);
                r = cgroup_create_own(m->cgroup_root, m->cgroup_parent, name, &cg);
                if (r >= 0)
                        r = cgroup_attach(cg, getpid());
                if (r != -ENOENT)
                        break;
        }
        if (r < 0) {
                (void) sup_error_errno(ret_error, r, "cannot enter the cgroup %s/%s", m->cgroup_parent, name);
                if (cg)
                        (void) cgroup_destroy(cg);
                return r;
        }
        m->own_cgroup = TAKE_PTR(cg);
        m->own_cgroup_name = TAKE_PTR(name);
        r = apply_own_limits(m, m->spec);
        if (r < 0)
                log_writer_printf(&m->log, "sup", "resources.cpus: not applied to the monitor's cgroup %s: %s",
                                  cgroup_path(m->own_cgroup), strerror(-r));
        return 0;
}

/* Out of its cgroup, which then goes: the monitor is about to exit. */
static void leave_own_cgroup(Monitor *m) {
        if (!m->own_cgroup)
                return;
        /* A template builder left in it would keep it busy (EBUSY) and its files half made. */
        if (m->driver->leave)
                m->driver->leave();
        if (cgroup_leave(m->own_cgroup, m->cgroup_parent, m->own_cgroup_name, getpid()) >= 0)
                (void) cgroup_destroy(m->own_cgroup);
        m->own_cgroup = cgroup_free(m->own_cgroup);
}

int monitor_listen(Monitor *m) {
        _cleanup_free_ char *path = path_join(m->dir, "monitor.sock");
        /* supd holds its connection for as long as both live, idle most of the time, and both
         * sides wait for each other's replies: no idle timeout, no output limits (json-conn.h). */
        const JsonlServerConfig cfg = {
                .path = path,
                .group = (gid_t) -1,
                .methods = monitor_methods,
                .userdata = m,
                .on_out_of_fds = on_out_of_fds,
                .on_client_close = on_client_close,
                .pass_fds = 3, /* a streamed exec's stdin, stdout and stderr */
        };
        int r;

        r = jsonl_server_new(m->event, &cfg, &m->server, NULL);
        if (r < 0)
                return r;
        write_status(m);
        return 0;
}

int monitor_new(Event *e, const MonitorConfig *cfg, Monitor **ret, SupError **ret_error) {
        _cleanup_free_ char *spec_path = path_join(cfg->dir, "spec.json"), *logs = path_join(cfg->state_dir, "logs"),
                            *log_path = NULL;
        Monitor *m = xzalloc(sizeof(Monitor));
        Diagnostics d = {};
        int r;

        m->event = e;
        m->share = (ContainerShare){-EBADF, -EBADF, -EBADF};
        m->log.fd = -EBADF;
        r = unit_load_file(spec_path, 0, &d, &m->spec, NULL);
        if (r < 0) {
                if (d.n > 0)
                        (void) sup_error_make(ret_error, -EINVAL, "%s:%u:%u: %s", d.items[0].file, d.items[0].line,
                                              d.items[0].column, d.items[0].message);
                else
                        (void) sup_error_make(ret_error, -EINVAL, "cannot load %s", spec_path);
                diagnostics_done(&d);
                monitor_free(m);
                return -EINVAL;
        }
        (void) unit_spec_hash(m->spec, m->hash);
        m->driver = isolation_driver_get(m->spec->isolation);
        if (!m->driver) {
                (void) sup_error_make(ret_error, -EOPNOTSUPP, "isolation: %s has no driver",
                                      isolation_to_string(m->spec->isolation));
                monitor_free(m);
                return -EOPNOTSUPP;
        }
        m->dir = xstrdup(cfg->dir);
        m->sandbox = xasprintf("%s/sandboxes/%s", cfg->state_dir, m->spec->name);
        m->cgroup_root = cfg->cgroup_root ? xstrdup(cfg->cgroup_root) : NULL;
        m->cgroup_parent = xstrdup(cfg->cgroup_parent);
        m->state_dir = xstrdup(cfg->state_dir);
        if (cfg->seccomp_ahead && cfg->seccomp_ahead->program) {
                m->seccomp = *cfg->seccomp_ahead;
                *cfg->seccomp_ahead = (SeccompCache){};
        }
        m->store_dir = path_join(cfg->state_dir, IMAGE_STORE_SUBDIR);
        m->guest_dir = xstrdup(cfg->driver.guest_dir ? cfg->driver.guest_dir : "/var/lib/sup/guest");
        m->options = cfg->driver;
        m->image_limits = cfg->image_limits;
        m->options.guest_dir = m->guest_dir;
        net_attachment_init(&m->net, m->event, cfg->state_dir, cfg->cgroup_parent, &cfg->bridge_subnet,
                            &cfg->bridge_subnet6, !cfg->no_outbound, m->spec->name);
        m->network = (DriverNetwork){
                .attach = net_attach, .configure = net_configure, .attach_tap = net_attach_tap, .userdata = m};

        (void) mkdir_p(logs, 0750);
        log_path = xasprintf("%s/%s.log", logs, m->spec->name);
        r = log_writer_open(&m->log, log_path, cfg->log_max_size);
        if (r < 0) {
                (void) sup_error_errno(ret_error, r, "cannot open the log %s", log_path);
                monitor_free(m);
                return r;
        }

        m->status = (InstanceStatus) {
                .name = xstrdup(m->spec->name),
                .hash = xstrdup(m->hash),
                .isolation = m->spec->isolation,
                .state = public_state[MONITOR_STOPPED],
                .monitor_pid = getpid(),
                .log_path = xstrdup(log_path),
        };
        srand48((long) (now(CLOCK_MONOTONIC) ^ (usec_t) getpid()));
        *ret = m;
        return 0;
}

Monitor *monitor_free(Monitor *m) {
        if (!m)
                return NULL;
        /* Before the socket closes: supd may start the unit's next monitor as soon as it does. */
        drop_parked(m);
        /* What was left for later is written now (a shutdown removes it with the directory). */
        if (m->status_timer && event_source_get_time(m->status_timer) != USEC_INFINITY)
                write_status(m);
        m->status_timer = event_source_free(m->status_timer);
        leave_own_cgroup(m);
        m->health = health_check_free(m->health);
        monitor_exec_free_all(m);
        pulls_end(m);
        m->server = jsonl_server_free(m->server);
        if (m->instance)
                m->driver->free(m->instance);
        close_share_targets(m);
        release_volumes(m);
        event_source_free(m->timer);
        image_free(m->image);
        unit_spec_free(m->run_spec);
        cgroup_free(m->cgroup);
        free(m->own_cgroup_name);
        seccomp_cache_done(&m->seccomp);
        net_attachment_done(&m->net);
        log_writer_close(&m->log);
        restart_state_done(&m->restart);
        instance_status_done(&m->status);
        unit_spec_free(m->spec);
        free(m->dir);
        free(m->sandbox);
        free(m->cgroup_root);
        free(m->cgroup_parent);
        free(m->state_dir);
        free(m->store_dir);
        free(m->guest_dir);
        free(m);
        return NULL;
}
