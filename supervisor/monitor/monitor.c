/* SPDX-License-Identifier: MIT */
#include "monitor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "process-list.h"
#include "reconcile.h"
#include "resources.h"
#include "share-target.h"
#include "socket-util.h"
#include "string-util.h"
#include "unit-parse.h"
#include "veth.h"
#include "workload.h"

struct MonitorClient {
        Monitor *monitor;
        JsonConn *conn;
        uid_t uid; /* the peer's (SO_PEERCRED) */
        MonitorClient *next;
};

/* A top request of a hyperv instance, waiting for the guest's answer. */
struct TopRequest {
        Monitor *monitor;
        MonitorClient *client; /* NULL once it has gone */
        json_t *msg;
        TopRequest *next;
};

/* An exec request, while its command runs. */
struct MonitorExec {
        Monitor *monitor;
        MonitorClient *client; /* NULL once it has gone */
        json_t *msg;
        ContainerExec *container; /* process isolation: the driver's handle, until exited() */
        char *out[_EXEC_STREAM_MAX];
        size_t len[_EXEC_STREAM_MAX];
        bool truncated[_EXEC_STREAM_MAX];
        MonitorExec *next;
};

#define CLEANUP_RETRY_USEC (20 * USEC_PER_MSEC)

static void write_status(Monitor *m) {
        _cleanup_free_ char *path = path_join(m->dir, "status.json");
        json_t *j = instance_status_to_json(&m->status);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        int r;

        json_decref(j);
        if (!s)
                return;
        r = write_file_atomic(path, s, strlen(s), 0644);
        if (r < 0)
                log_writer_printf(&m->log, "sup", "cannot write %s: %s", path, strerror(-r));
        free(s);
}

static void broadcast_status(Monitor *m) {
        json_t *ev = json_pack("{s:s, s:o}", "event", "status", "data", instance_status_to_json(&m->status));
        for (MonitorClient *c = m->clients; c; c = c->next)
                (void) json_conn_send(c->conn, ev);
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
        if (old != state) {
                disarm_timer(m);
                log_writer_printf(&m->log, "sup", "%s -> %s", monitor_state_to_string(old),
                                  monitor_state_to_string(state));
        }
        m->state = state;
        m->status.state = public_state[state];
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

static void drop_container_sources(Monitor *m) {
        m->pidfd_source = event_source_free(m->pidfd_source);
        m->error_source = event_source_free(m->error_source);
}

static void close_output(Monitor *m, int *fd, EventSource **src, LogStream *s) {
        if (*fd < 0)
                return;
        /* Whatever is still in the pipe belongs in the log before it closes. */
        for (;;) {
                char buf[4096];
                ssize_t n = read(*fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                log_stream_feed(&m->log, s, buf, (size_t) n);
        }
        log_stream_flush(&m->log, s);
        *src = event_source_free(*src);
        close(*fd);
        *fd = -EBADF;
}

/* One read per event, never more: with the one-write pipes (workload.h) it takes the one write the
 * event is about, and the writes of stdout and stderr are logged in the order their events come;
 * reading on would take a write made after one waiting in the other pipe. */
static void on_output(EventSource *src, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;
        bool is_out = fd == m->out_fd;
        LogStream *s = is_out ? &m->out_stream : &m->err_stream;
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0)
                log_stream_feed(&m->log, s, buf, (size_t) n);
        /* Every writer is gone (EPOLLHUP): no event will come for what is left, read it all now. */
        if (n > 0 && !(revents & EPOLLHUP))
                return;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (is_out)
                close_output(m, &m->out_fd, &m->out_source, s);
        else
                close_output(m, &m->err_fd, &m->err_source, s);
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

/* After the container's init is gone the kernel has killed its pid namespace; the cgroup empties
 * a moment later. Removing it is retried until then. */
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

/* The workload's filter, before its process exists, in both isolation modes: from the instance's
 * last start, from supd's cache directory, or compiled now. A profile that cannot be read, parsed
 * or compiled fails the start with the reason; nothing runs unfiltered instead. */
static int prepare_seccomp(Monitor *m, const SeccompProgram **ret) {
        _cleanup_free_ char *dir = path_join(m->state_dir, "seccomp"), *error = NULL;
        SeccompPrepared p = {};
        char took[32];
        int r;

        r = seccomp_prepare(m->spec, seccomp_unit_caps(m->spec), dir, &m->seccomp, &p, &error);
        if (r < 0) {
                set_reason(m, "seccomp: %s", error ?: strerror(-r));
                return r;
        }
        snprintf(took, sizeof(took), "%.2f ms", (double) p.usec / USEC_PER_MSEC);
        if (p.origin == SECCOMP_ORIGIN_COMPILED)
                log_writer_printf(&m->log, "sup", "seccomp: %s compiled to %zu BPF instructions in %.2f ms (%s in all)",
                                  p.source, p.program->len, (double) p.compile_usec / USEC_PER_MSEC, took);
        else if (p.origin == SECCOMP_ORIGIN_DISK)
                log_writer_printf(&m->log, "sup", "seccomp: %s, %zu BPF instructions from the cache in %s", p.source,
                                  p.program->len, took);
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
static int prepare_rlimits(Monitor *m) {
        char err[WORKLOAD_ERR_MAX];
        RlimitSet host;
        bool can_raise;
        int r;

        r = rlimits_get_host(host, &can_raise);
        if (r < 0) {
                set_reason(m, "rlimits: cannot read the host's limits: %s", strerror(-r));
                return r;
        }
        /* The limits are set by the workload's own process, after it entered its namespaces: in
         * a user namespace of its own it holds no CAP_SYS_RESOURCE over the host's limits, so
         * nothing can be raised above the hard limit it inherits. */
        if (m->spec->security.user_namespace == USER_NAMESPACE_AUTO)
                can_raise = false;
        r = rlimits_resolve(m->spec, host, can_raise, m->rlimits, err);
        if (r < 0)
                set_reason(m, "%s", err);
        return r;
}

/* ---- network: bridge (net/attachment.h has the steps) ---- */

static int prepare_network(Monitor *m) {
        char err[512], addr[INET_ADDRSTRLEN];
        int r;

        /* With share.network the network is the target's, set up by its monitor. */
        if (m->spec->network != NETWORK_BRIDGE || m->spec->share.network.name)
                return 0;
        r = net_attachment_prepare(&m->net, m->spec, err, sizeof(err));
        if (r < 0) {
                set_reason(m, "network: %s", err);
                return r;
        }
        m->net_prepared = true;
        free(m->status.address);
        m->status.address = xstrdup(inet_ntop(AF_INET, &m->net.lease.address, addr, sizeof(addr)));
        return 0;
}

/* ContainerConfig.prepare: in the monitor, the container's namespaces exist and its init waits.
 * Its failures, like configure_network()'s, become the unit's reason through the container's
 * error pipe; they are worded like prepare_network()'s. */
static int attach_network(pid_t pid, void *userdata, char *err, size_t errlen) {
        Monitor *m = userdata;
        char why[448];
        int r = net_attachment_attach(&m->net, m->spec, pid, why, sizeof(why));

        if (r < 0)
                snprintf(err, errlen, "network: %s", why);
        return r;
}

/* ContainerConfig.setup: in the container's init, inside its network namespace. */
static int configure_network(void *userdata, char *err, size_t errlen) {
        Monitor *m = userdata;
        char why[448];
        int r = net_attachment_configure(&m->net, why, sizeof(why));

        if (r < 0)
                snprintf(err, errlen, "network: %s", why);
        return r;
}

/* After the container (or a start that failed): its ports, its veth pair and its address go. */
static void release_network(Monitor *m) {
        char err[512];

        if (!m->net_prepared)
                return;
        m->net_prepared = false;
        if (net_attachment_release(&m->net, m->spec, err, sizeof(err)) < 0)
                log_writer_printf(&m->log, "sup", "network: %s", err);
        free(m->status.address);
        m->status.address = NULL;
}

/* ---- share.* (share-target.h) ---- */

static void on_share_target_exit(EventSource *s, int fd, uint32_t revents, void *userdata);

/* The owners of the namespaces to join, before the container: a target that is not running fails
 * the start like any setup error, and the restart policy tries again later. */
static int open_share_targets(Monitor *m) {
        _cleanup_free_ char *instances = path_dirname(m->dir);
        char err[512];
        int r;

        r = share_targets_open(m->spec, instances, m->cgroup_root, m->cgroup_parent, &m->share, err, sizeof(err));
        if (r < 0)
                set_reason(m, "%s", err);
        return r;
}

/* Once the container runs in them: when an owner's init exits, the joined namespaces are left
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

static int send_signal(Monitor *m, int sig);

/* An instance holding the namespaces of a container that is gone is cut off from the owner's next
 * instance: it ends too (the restart policy then starts it again in the new ones), as the
 * kernel makes it end already for a shared pid namespace. reap_container() says why. */
static void on_share_target_exit(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;

        for (size_t i = 0; i < ELEMENTSOF(m->share_sources); i++)
                m->share_sources[i] = event_source_free(m->share_sources[i]);
        (void) send_signal(m, SIGKILL);
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
        usec_t delay;

        if (!restart_policy_wants_restart(m->spec->restart.policy, k)) {
                monitor_set_state(m, k == RUN_SETUP_FAILED ? MONITOR_FAILED : MONITOR_EXITED);
                return;
        }
        delay = restart_state_exit(&m->restart, m->spec, k, uptime, drand48() * 2.0 - 1.0);
        m->status.next_restart_at = now(CLOCK_REALTIME) + delay;
        monitor_set_state(m, MONITOR_BACKOFF);
        arm_timer(m, now(CLOCK_MONOTONIC) + delay);
}

static void on_setup_result(EventSource *s, int fd, uint32_t revents, void *userdata);

/* user_namespace: auto: a range of host ids of the container's own, for this run. */
static int acquire_userns(Monitor *m) {
        _cleanup_free_ IdRange *reserved = NULL;
        size_t n_reserved = 0;
        int r;

        userns_reserved_load(&reserved, &n_reserved);
        r = userns_acquire(USERNS_LEASE_DIR, m->spec->name, reserved, n_reserved, &m->userns);
        if (r < 0) {
                if (r == -EBUSY)
                        set_reason(m, "user_namespace: auto: every range of host ids is in use (leases in %s)",
                                   USERNS_LEASE_DIR);
                else
                        set_reason(m, "user_namespace: auto: cannot lease a range of host ids in %s: %s",
                                   USERNS_LEASE_DIR, strerror(-r));
                return r;
        }
        m->status.userns_base = m->userns.base;
        m->status.userns_size = m->userns.size;
        return 0;
}

static void reap_container(Monitor *m) {
        ContainerExit ex;
        siginfo_t si = {};
        bool setup_failed = m->state == MONITOR_STARTING || m->state == MONITOR_CANCELLING;
        const char *share_key, *share_unit = NULL;

        (void) waitid((idtype_t) P_PIDFD, (id_t) m->container.pidfd, &si, WEXITED | WNOHANG);

        m->status.has_exit = true;
        m->status.exited_at = now(CLOCK_REALTIME);
        /* The command may have failed between fork and exec (a user that does not exist, a
         * missing program): init then reports its exit, but the setup error is what happened. */
        for (unsigned k = 0; m->error_source && k < 64; k++)
                on_setup_result(m->error_source, m->container.error_fd, EPOLLIN, m);
        if (m->setup_error_len > 0)
                setup_failed = true;
        if (read(m->container.exit_fd, &ex, sizeof(ex)) == (ssize_t) sizeof(ex)) {
                m->status.exit_code = ex.signal ? -1 : ex.code;
                m->status.exit_signal = ex.signal;
        } else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
                /* The init itself was killed: SIGKILL at the end of the stop timeout. */
                m->status.exit_code = -1;
                m->status.exit_signal = si.si_status;
        } else {
                m->status.exit_code = si.si_status;
                m->status.exit_signal = 0;
        }
        if (setup_failed && m->setup_error_len > 0)
                set_reason(m, "%.*s", (int) m->setup_error_len, m->setup_error);
        else if ((share_key = share_targets_gone(&m->share, m->spec, &share_unit)))
                set_reason(m,
                           "%s: the container of unit \"%s\" has ended, and this one with it (its namespaces were "
                           "that container's)",
                           share_key, share_unit);
        else if (!setup_failed) {
                if (m->status.exit_signal)
                        log_writer_printf(&m->log, "sup", "the command was killed by signal %d",
                                          m->status.exit_signal);
                else
                        log_writer_printf(&m->log, "sup", "the command exited with status %d", m->status.exit_code);
        }

        drop_container_sources(m);
        close_share_targets(m);
        close_output(m, &m->out_fd, &m->out_source, &m->out_stream);
        close_output(m, &m->err_fd, &m->err_source, &m->err_stream);
        container_close(&m->container);
        m->has_container = false;
        m->status.pid = 0;
        monitor_workload_gone(m, setup_failed);
}

/* MonitorRuntime.cleanup: the workload (container or VM) is gone; its network and cgroup go. */
static bool runtime_cleanup(Monitor *m) {
        release_network(m);
        if (!cleanup_cgroup(m))
                return false;
        /* Its cgroup empty, nothing runs with the range's ids any more. */
        userns_release(&m->userns);
        if (m->status.oom && m->status.exit_signal == SIGKILL)
                log_writer_printf(&m->log, "sup", "the kernel's OOM killer ended it (resources.memory)");
        return true;
}

static void on_pidfd(EventSource *s, int fd, uint32_t revents, void *userdata) {
        reap_container(userdata);
}

static void on_setup_result(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;
        ssize_t n = read(fd, m->setup_error + m->setup_error_len, sizeof(m->setup_error) - 1 - m->setup_error_len);

        if (n > 0) {
                m->setup_error_len += (size_t) n;
                return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        m->error_source = event_source_free(m->error_source);
        if (m->setup_error_len > 0)
                return; /* the container's init exits; on_pidfd() reports the error */
        m->status.started_at = now(CLOCK_REALTIME);
        monitor_workload_started(m);
}

/* The command's stdout or stderr (workload.h says how it keeps their order), watched from before
 * the command can write: epoll queues the pipes that are already readable when they are added in
 * the order they are added, not in the order they were written to. */
static int open_output(Monitor *m, int *fd, EventSource **src, int *ret_write) {
        uint32_t events;
        int p[2], r = workload_output_pipe(p, &events);

        if (r < 0)
                return r;
        *fd = p[0];
        *ret_write = p[1];
        return event_add_io(m->event, src, *fd, events, on_output, m);
}

/* ---- isolation: hyperv (runtime/vm/vm.h) ---- */

static void vm_status_copy(Monitor *m) {
        const VmStatus *v = vm_status(m->vm);

        m->status.pid = v->qemu_pid;
        m->status.vm.guest_pid = v->guest_pid;
        free(m->status.vm.accel);
        m->status.vm.accel = xstrdup(v->kvm ? "kvm" : "tcg");
        m->status.vm.memory = v->memory;
        m->status.vm.vcpus = v->vcpus;
        free(m->status.vm.stop_step);
        m->status.vm.stop_step = v->stop_step != VM_STOP_NONE ? xstrdup(vm_stop_step_to_string(v->stop_step)) : NULL;
}

static void on_vm_started(Vm *vm, void *userdata) {
        Monitor *m = userdata;

        vm_status_copy(m);
        m->status.started_at = now(CLOCK_REALTIME);
        monitor_workload_started(m);
}

static void on_vm_changed(Vm *vm, void *userdata) {
        Monitor *m = userdata;

        vm_status_copy(m);
        monitor_set_state(m, m->state);
}

static void on_vm_exited(Vm *vm, const VmExit *ex, void *userdata) {
        Monitor *m = userdata;
        bool setup_failed = !ex->started;

        m->status.has_exit = true;
        m->status.exited_at = now(CLOCK_REALTIME);
        m->status.exit_code = ex->code;
        m->status.exit_signal = ex->signal;
        /* What a process container's memory cgroup tells (cleanup_cgroup(), which reads QEMU's
         * cgroup too, for QEMU itself). */
        if (ex->oom)
                m->status.oom = true;
        free(m->status.vm.end);
        m->status.vm.end = xstrdup(vm_end_to_string(ex->end));
        if (ex->reason)
                set_reason(m, "%s", ex->reason);
        else if (m->status.exit_signal)
                log_writer_printf(&m->log, "sup", "the command was killed by signal %d", m->status.exit_signal);
        else
                log_writer_printf(&m->log, "sup", "the command exited with status %d", m->status.exit_code);
        m->vm = vm_free(m->vm);
        m->status.pid = 0;
        m->status.vm.guest_pid = 0;
        free(m->status.vm.stop_step);
        m->status.vm.stop_step = NULL;
        monitor_workload_gone(m, setup_failed);
}

static int start_vm(Monitor *m, const SeccompProgram *seccomp) {
        VmConfig cfg = {
                .spec = m->spec,
                .dir = m->dir,
                .state_dir = m->state_dir,
                .sandbox_dir = m->sandbox,
                .guest_dir = m->guest_dir,
                .host_accel = m->vm_accel,
                .debug = m->vm_debug,
                .cgroup = m->cgroup,
                .seccomp = seccomp,
                .rlimits = m->rlimits,
                .log = &m->log,
                .callbacks = {.started = on_vm_started, .changed = on_vm_changed, .exited = on_vm_exited},
                .userdata = m,
        };
        char err[1024];
        int r;

        cfg.net_fd = -EBADF;
        if (m->net_prepared) {
                r = net_attachment_attach_tap(&m->net, m->spec, &cfg.net_fd, err, sizeof(err));
                if (r < 0) {
                        set_reason(m, "network: %s", err);
                        return r;
                }
                veth_mac_for(m->net.lease.address, cfg.mac);
                cfg.address = m->net.lease.address;
                cfg.prefix = m->net.table.subnet.prefix;
                cfg.gateway = ipv4_net_host(&m->net.table.subnet, 1);
        }
        /* The tap's fd is the Vm's from here on (QEMU's once it runs: the tap lives as long as
         * QEMU), also when the start fails. */
        r = vm_start(m->event, &cfg, &m->vm, err, sizeof(err));
        if (r < 0) {
                set_reason(m, "%s", err);
                return r;
        }
        m->started_mono = now(CLOCK_MONOTONIC);
        free(m->status.vm.end);
        m->status.vm.end = NULL;
        vm_status_copy(m);
        return 0;
}

/* resources.* onto the instance's cgroup (runtime/resources.h has the policy); the notes go to
 * the log. */
static int apply_resources(Monitor *m, const UnitSpec *u, char *err, size_t errlen) {
        _cleanup_strv_free_ char **notes = NULL;
        ResourcesTarget target = RESOURCES_CONTAINER;
        int r;

        if (m->vm)
                target = vm_status(m->vm)->kvm ? RESOURCES_QEMU_KVM : RESOURCES_QEMU_TCG;
        r = resources_apply(m->cgroup, u, target, &notes, err, errlen);
        STRV_FOREACH(n, notes)
                log_writer_printf(&m->log, "sup", "%s", *n);
        return r;
}

/* The unit's CPU limit applies to its monitor as well: a workload that floods its output makes
 * the monitor that writes it work, and that work is the unit's to pay, within its own limit. */
static int apply_own_limits(Monitor *m, const UnitSpec *u) {
        return m->own_cgroup ? cgroup_set_cpus(m->own_cgroup, u->resources.cpus_milli) : 0;
}

/* MonitorRuntime.start: the container, or the VM. */
static int runtime_start(Monitor *m) {
        int out_w = -EBADF, err_w = -EBADF, r;
        const SeccompProgram *seccomp = NULL;
        ContainerConfig cfg;

        m->setup_error_len = 0;
        if (prepare_seccomp(m, &seccomp) < 0 || prepare_rlimits(m) < 0)
                goto fail;
        r = cgroup_create(m->cgroup_root, m->cgroup_parent, m->spec->name, &m->cgroup);
        if (r < 0) {
                set_reason(m, "cannot create the cgroup %s/%s: %s", m->cgroup_parent, m->spec->name, strerror(-r));
                goto fail;
        }
        if (m->spec->isolation == ISOLATION_HYPERV) {
                char err[512];

                if (prepare_network(m) < 0 || start_vm(m, seccomp) < 0)
                        goto fail;
                /* Once QEMU runs: whether its cgroup gets a CPU quota depends on the accelerator
                 * vm_start() chose. The guest's command is seconds away still. Nothing here fails
                 * a hyperv start (resources.h says why). */
                (void) apply_resources(m, m->spec, err, sizeof(err));
                if (m->net.enabled_forwarding)
                        log_writer_printf(&m->log, "sup",
                                          "IPv4 forwarding was off: turned on (net.ipv4.ip_forward=1) for the published ports");
                return 0;
        }
        r = open_output(m, &m->out_fd, &m->out_source, &out_w);
        if (r >= 0)
                r = open_output(m, &m->err_fd, &m->err_source, &err_w);
        if (r < 0) {
                set_reason(m, "cannot create the output pipes: %s", strerror(-r));
                goto fail;
        }
        (void) mkdir(m->rootfs, 0755);
        r = mkdir_p(m->sandbox, 0700);
        if (r < 0) {
                set_reason(m, "cannot create the sandbox %s: %s", m->sandbox, strerror(-r));
                goto fail;
        }

        if (m->spec->security.user_namespace == USER_NAMESPACE_AUTO && acquire_userns(m) < 0)
                goto fail;
        if (prepare_network(m) < 0)
                goto fail;
        {
                char err[512];

                /* Before the container exists, so that its first instruction runs within them. */
                r = apply_resources(m, m->spec, err, sizeof(err));
                if (r < 0) {
                        set_reason(m, "%s", err);
                        goto fail;
                }
        }

        if (open_share_targets(m) < 0)
                goto fail;
        cfg = (ContainerConfig) {
                .spec = m->spec,
                .rootfs = m->rootfs,
                .sandbox = m->sandbox,
                .stdout_fd = out_w,
                .stderr_fd = err_w,
                .cgroup = m->cgroup,
                .seccomp = seccomp,
                .rlimits = m->rlimits,
                .share = &m->share,
                .userns = m->userns.lease_fd >= 0 ? &m->userns : NULL,
                .prepare = m->net_prepared ? attach_network : NULL,
                .setup = m->net_prepared ? configure_network : NULL,
                .userdata = m,
        };
        r = container_start(&cfg, &m->container);
        close(out_w);
        close(err_w);
        out_w = err_w = -EBADF;
        if (r < 0) {
                set_reason(m, "cannot create the container: %s", strerror(-r));
                goto fail;
        }
        m->has_container = true;
        m->started_mono = now(CLOCK_MONOTONIC);
        m->status.pid = m->container.pid;
        (void) fd_set_nonblock(m->container.error_fd, 1);
        (void) event_add_io(m->event, &m->pidfd_source, m->container.pidfd, EPOLLIN, on_pidfd, m);
        (void) event_add_io(m->event, &m->error_source, m->container.error_fd, EPOLLIN, on_setup_result, m);
        watch_share_targets(m);
        if (m->net.enabled_forwarding)
                log_writer_printf(&m->log, "sup",
                                  "IPv4 forwarding was off: turned on (net.ipv4.ip_forward=1) for the published ports");
        return 0;

fail:
        if (out_w >= 0)
                close(out_w);
        if (err_w >= 0)
                close(err_w);
        close_output(m, &m->out_fd, &m->out_source, &m->out_stream);
        close_output(m, &m->err_fd, &m->err_source, &m->err_stream);
        close_share_targets(m);
        release_network(m);
        if (m->cgroup) {
                (void) cgroup_destroy(m->cgroup);
                m->cgroup = cgroup_free(m->cgroup);
        }
        userns_release(&m->userns);
        return -ECANCELED;
}

static int send_signal(Monitor *m, int sig) {
        if (!m->has_container)
                return -ESRCH;
        return syscall(SYS_pidfd_send_signal, m->container.pidfd, sig, NULL, 0) < 0 ? negative_errno() : 0;
}

/* MonitorRuntime.stop */
static bool runtime_stop(Monitor *m) {
        if (m->vm) {
                /* The VM's stop ladder has its own steps and timeouts. */
                vm_stop(m->vm);
                return false;
        }
        if (send_signal(m, m->spec->stop.signal) < 0)
                (void) send_signal(m, SIGKILL);
        return true;
}

/* MonitorRuntime.kill */
static void runtime_kill(Monitor *m) {
        if (!m->has_container)
                return;
        log_writer_printf(&m->log, "sup", "still running after stop.timeout: killing it");
        (void) send_signal(m, SIGKILL);
        if (m->cgroup)
                (void) cgroup_kill(m->cgroup, SIGKILL);
}

static const MonitorRuntime runtime_default = {
        .start = runtime_start,
        .stop = runtime_stop,
        .kill = runtime_kill,
        .cleanup = runtime_cleanup,
};

static void remove_instance(Monitor *m) {
        int r;

        /* The container's mount namespace is gone with it, so nothing is mounted in the sandbox. */
        if (m->remove_sandbox) {
                r = rm_rf(m->sandbox);
                if (r < 0)
                        log_writer_printf(&m->log, "sup", "cannot remove the sandbox %s: %s", m->sandbox, strerror(-r));
        }
        (void) rm_rf(m->dir);
}

/* ---- the state machine: what each event means in each state ---- */

static void end_of_run(Monitor *m);

/* A run begins (automatic: the restart policy's), unless the start limit forbids it. */
static void start_run(Monitor *m, bool automatic) {
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
        if (m->runtime->start(m) < 0) {
                /* Nothing of the run is left to drain. */
                m->started_mono = now(CLOCK_MONOTONIC);
                m->run_setup_failed = true;
                end_of_run(m);
                return;
        }
        monitor_set_state(m, MONITOR_STARTING);
}

static void act_none(Monitor *m) {
}

static void act_start(Monitor *m) {
        start_run(m, false);
}

static void act_restart_timeout(Monitor *m) {
        start_run(m, true);
}

static void enter_stopping(Monitor *m, MonitorState state) {
        /* The state first: a runtime may report the workload gone from within stop(). */
        monitor_set_state(m, state);
        if (m->runtime->stop(m) && m->state == state)
                arm_timer(m, now(CLOCK_MONOTONIC) + m->spec->stop.timeout);
}

static void act_stop(Monitor *m) {
        enter_stopping(m, MONITOR_STOPPING);
}

static void act_cancel(Monitor *m) {
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
        m->runtime->kill(m);
}

/* A start request while the workload is on its way out: start again once it is gone. */
static void act_want_restart(Monitor *m) {
        if (m->goal != MONITOR_GOAL_SHUTDOWN)
                m->goal = MONITOR_GOAL_RESTART;
}

static void act_running(Monitor *m) {
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
        log_writer_printf(&m->log, "sup", m->remove_sandbox ? "instance removed" : "monitor exiting");
        remove_instance(m);
        event_exit(m->event, m->exit_code);
}

/* The workload is gone: its cgroup may still hold processes for a moment (the kernel kills a pid
 * namespace after its init has gone); draining retries the cleanup until it is done. */
static void act_drain(Monitor *m) {
        if (m->runtime->cleanup(m)) {
                end_of_run(m);
                return;
        }
        if (m->state != MONITOR_DRAINING)
                monitor_set_state(m, MONITOR_DRAINING);
        arm_timer(m, now(CLOCK_MONOTONIC) + CLEANUP_RETRY_USEC);
}

/* A stop before the command ran: there is no exit of the command to report, whatever the runtime
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
                return;
        case MONITOR_GOAL_POLICY:
        case _MONITOR_GOAL_MAX:
        case _MONITOR_GOAL_INVALID:
                break;
        }
        apply_restart_policy(m);
}

typedef void (*MonitorAction)(Monitor *m);

/* A row of actions[]: start, stop, restart, shutdown (requests); started, gone (the runtime);
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

void monitor_workload_started(Monitor *m) {
        monitor_dispatch(m, MONITOR_EVENT_STARTED);
}

void monitor_workload_gone(Monitor *m, bool setup_failed) {
        m->run_setup_failed = setup_failed;
        monitor_dispatch(m, MONITOR_EVENT_GONE);
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
        restart_state_reset(&m->restart);
        return request(m, MONITOR_EVENT_RESTART, MONITOR_GOAL_RESTART);
}

int monitor_shutdown(Monitor *m, bool remove_sandbox) {
        m->remove_sandbox = m->remove_sandbox || remove_sandbox;
        return request(m, MONITOR_EVENT_SHUTDOWN, MONITOR_GOAL_SHUTDOWN);
}

void monitor_set_runtime(Monitor *m, const MonitorRuntime *runtime) {
        m->runtime = runtime;
}

/* ---- the socket ---- */

static void client_free(MonitorClient *c) {
        Monitor *m = c->monitor;
        for (TopRequest *t = m->top_requests; t; t = t->next)
                if (t->client == c)
                        t->client = NULL;
        for (MonitorExec *x = m->execs; x; x = x->next)
                if (x->client == c)
                        x->client = NULL;
        for (MonitorClient **p = &m->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        free(c);
}

static void on_client_close(JsonConn *conn, int error, void *userdata) {
        client_free(userdata);
}

/* ---- top: the workload's processes ----
 * The one place that answers "top", for either isolation. It sends the reply itself instead of
 * returning it, so that a runtime that has to ask first (the guest agent, for hyperv) can answer
 * later; the reply is {"pid_namespace": "host"|"guest", "processes": [process-list.h's]}. */

/* A reply over supd's frame limit would make supd drop its connection to this monitor. */
#define TOP_REPLY_MAX (JSON_FRAME_MAX_REPLY - 4096)

/* hyperv: the guest's processes, with guest PIDs, from sup-init. The answer comes later; the
 * client may be gone by then. */
static void top_request_free(TopRequest *t) {
        for (TopRequest **p = &t->monitor->top_requests; *p; p = &(*p)->next)
                if (*p == t) {
                        *p = t->next;
                        break;
                }
        json_decref(t->msg);
        free(t);
}

static void on_guest_ps(Vm *vm, int error, json_t *processes, void *userdata) {
        TopRequest *t = userdata;

        if (t->client) {
                if (error < 0)
                        (void) json_conn_reply_error(t->client->conn, t->msg, "not-running",
                                                     "%s: the guest did not answer (%s)", t->monitor->spec->name,
                                                     strerror(-error));
                else
                        (void) json_conn_reply(t->client->conn, t->msg,
                                               json_pack("{s:s, s:O}", "pid_namespace", "guest", "processes", processes));
        }
        top_request_free(t);
}

static void top_from_guest(Monitor *m, MonitorClient *c, json_t *msg) {
        JsonConn *conn = c->conn;
        TopRequest *t;

        if (!m->vm || m->status.state != INSTANCE_RUNNING) {
                (void) json_conn_reply_error(conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                return;
        }
        t = xzalloc(sizeof(TopRequest));
        t->monitor = m;
        t->client = c;
        t->msg = json_incref(msg);
        t->next = m->top_requests;
        m->top_requests = t;
        if (vm_ps(m->vm, on_guest_ps, t) < 0) {
                (void) json_conn_reply_error(conn, msg, "not-running", "%s: the guest's agent is not connected",
                                             m->spec->name);
                top_request_free(t);
        }
}

static void monitor_top(Monitor *m, MonitorClient *c, json_t *msg) {
        JsonConn *conn = c->conn;
        _cleanup_free_ pid_t *pids = NULL;
        json_t *result;
        size_t n = 0;
        int r;

        if (m->spec->isolation == ISOLATION_HYPERV) {
                top_from_guest(m, c, msg);
                return;
        }
        if (!m->has_container || !m->cgroup) {
                (void) json_conn_reply_error(conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                return;
        }
        /* Host PIDs: the monitor is in the host's pid namespace, and so is its /proc. A PID
         * reused between the listing and the reading would show another process; the kernel
         * hands PIDs out in a cycle, which makes that unlikely within these microseconds. */
        r = cgroup_get_pids(m->cgroup, &pids, &n);
        if (r < 0) {
                (void) json_conn_reply_error(conn, msg, "failed", "cannot list the processes in %s: %s",
                                             cgroup_path(m->cgroup), strerror(-r));
                return;
        }
        result = json_pack("{s:s, s:o}", "pid_namespace", "host", "processes", process_list_read("/proc", pids, n));
        if (json_dumpb(result, NULL, 0, JSON_COMPACT) > TOP_REPLY_MAX) {
                (void) json_conn_reply_error(conn, msg, "too-large", "%s has too many processes to list (%zu)",
                                             m->spec->name, json_array_size(json_object_get(result, "processes")));
                json_decref(result);
                return;
        }
        (void) json_conn_reply(conn, msg, result);
}

/* ---- exec: a command in the running instance (runtime/exec.h) ----
 * The reply: {"exit_code", "signal", "stdout", "stderr", "stdout_truncated", "stderr_truncated",
 * "error"?}, each stream's first EXEC_REPLY_OUTPUT_MAX bytes (as text: bytes that are not UTF-8
 * become U+FFFD). A long-running exec costs the monitor that much memory at most. A client that
 * goes away does not end its exec (in neither mode): the command runs to its own end or the
 * instance's, and its reply is dropped. */

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

/* The monitor goes: a process exec is killed without a reply; a hyperv one is answered (and
 * freed) by vm_free(), with the rest of the VM. */
static void monitor_exec_free_all(Monitor *m) {
        MonitorExec *next;

        for (MonitorExec *x = m->execs; x; x = next) {
                next = x->next;
                x->client = NULL;
                if (x->container) {
                        x->container = container_exec_free(x->container);
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
        json_t *reply;

        x->container = NULL;
        if (x->client) {
                reply = json_pack("{s:i, s:i, s:o, s:o, s:b, s:b}", "exit_code", result->code, "signal", result->signal,
                                  "stdout", json_string_lossy(x->out[EXEC_STDOUT] ?: "", x->len[EXEC_STDOUT]), "stderr",
                                  json_string_lossy(x->out[EXEC_STDERR] ?: "", x->len[EXEC_STDERR]), "stdout_truncated",
                                  x->truncated[EXEC_STDOUT], "stderr_truncated", x->truncated[EXEC_STDERR]);
                if (result->error)
                        json_object_set_new(reply, "error", json_string_lossy(result->error, strlen(result->error)));
                (void) json_conn_reply(x->client->conn, x->msg, reply);
        }
        monitor_exec_free(x);
}

static const ExecCallbacks monitor_exec_callbacks = {
        .output = on_exec_output,
        .exited = on_exec_exited,
};

/* The one place that picks the driver's exec by isolation. */
static int runtime_exec(Monitor *m, const ExecRequest *req, MonitorExec *x, SupError **ret_error) {
        if (m->spec->isolation == ISOLATION_HYPERV)
                return m->vm ? vm_exec(m->vm, req, &monitor_exec_callbacks, x, ret_error)
                             : sup_error_make(ret_error, -ESRCH, "no virtual machine");
        if (!m->has_container)
                return sup_error_make(ret_error, -ESRCH, "no container");
        ContainerExecConfig cfg = {
                .spec = m->spec,
                .init_pidfd = m->container.pidfd,
                .cgroup = m->cgroup,
                /* The cache holds the program of the run's start; seccomp: unconfined keeps one
                 * from an earlier run there (a change of the mode restarts the instance). */
                .seccomp = m->spec->security.seccomp == SECCOMP_UNCONFINED ? NULL : m->seccomp.program,
                .rlimits = m->rlimits,
                .userns = m->userns.lease_fd >= 0,
        };
        return container_exec(m->event, &cfg, req, &monitor_exec_callbacks, x, &x->container, ret_error);
}

static int strv_from_json(const json_t *a, bool env, char ***ret) {
        _cleanup_strv_free_ char **l = xzalloc(sizeof(char *));
        size_t i;
        json_t *v;

        if (!json_is_array(a))
                return -EINVAL;
        json_array_foreach(a, i, v) {
                const char *s = json_string_value(v);
                if (!s || (env && (s[0] == '=' || !strchr(s, '='))))
                        return -EINVAL;
                strv_push(&l, xstrdup(s));
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static void monitor_exec(Monitor *m, MonitorClient *c, json_t *msg) {
        json_t *params = json_object_get(msg, "params"), *user = json_object_get(params, "user"),
               *wd = json_object_get(params, "working_dir"), *env = json_object_get(params, "env");
        _cleanup_strv_free_ char **argv = NULL, **envv = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        ExecRequest req;
        MonitorExec *x;

        /* The command runs as the unit's root if asked, with the unit's capabilities, inside its
         * namespaces: whoever may call this owns the unit. The socket is root's (0600) and its
         * peers are checked at accept() against the monitor's own uid; this says it outright,
         * so that a monitor run by another user does not hand its units out to that user. */
        if (c->uid != 0) {
                (void) json_conn_reply_error(c->conn, msg, "permission-denied",
                                             "exec: only root may run commands in %s", m->spec->name);
                return;
        }
        if (strv_from_json(json_object_get(params, "argv"), false, &argv) < 0 || !argv[0] ||
            (env && strv_from_json(env, true, &envv) < 0) || (user && !json_is_string(user)) ||
            (wd && (!json_is_string(wd) || json_string_value(wd)[0] != '/'))) {
                (void) json_conn_reply_error(c->conn, msg, "bad-request",
                                             "exec needs {\"argv\": [strings, at least one], \"env\": [\"K=V\"...]?, "
                                             "\"user\": string?, \"working_dir\": absolute path?}");
                return;
        }
        if (m->state != MONITOR_RUNNING) {
                (void) json_conn_reply_error(c->conn, msg, "not-running", "%s is not running (state %s)", m->spec->name,
                                             instance_state_to_string(m->status.state));
                return;
        }
        req = (ExecRequest){
                .argv = argv,
                .env = envv,
                .user = json_string_value(user),
                .working_dir = json_string_value(wd),
        };
        x = xzalloc(sizeof(MonitorExec));
        x->monitor = m;
        x->client = c;
        x->msg = json_incref(msg);
        if (runtime_exec(m, &req, x, &error) < 0) {
                (void) json_conn_reply_error(c->conn, msg, "failed", "exec in %s: %s", m->spec->name,
                                             sup_error_message(error));
                monitor_exec_free(x);
                return;
        }
        x->next = m->execs;
        m->execs = x;
}

/* ---- update: a new spec that differs in live fields only (reconcile.h) ----
 * The new limits go to the cgroup of the running workload (or wait for its next start), the spec
 * to spec.json (atomically: a supd that adopts this monitor later reads the new one), the new hash
 * to the status. Same workload, same PID. On any failure the old limits are written back and the
 * old spec stays; supd then replaces the instance. */

static int monitor_update(Monitor *m, const char *text, char *err, size_t errlen) {
        _cleanup_(unit_spec_freep) UnitSpec *new = NULL;
        _cleanup_strv_free_ char **changed = NULL, **details = NULL;
        _cleanup_free_ char *path = path_join(m->dir, "spec.json"), *canonical = NULL, *list = NULL;
        Diagnostics d = {};
        char hash[65], new_hash[65];
        typeof(m->spec->resources) old = m->spec->resources;
        bool running = m->cgroup && (m->has_container || m->vm);
        int r;

        r = unit_parse("spec.json", m->dir, text, strlen(text), 0, &d, &new, NULL);
        if (r < 0) {
                snprintf(err, errlen, "the new spec is not valid: %s", d.n > 0 ? d.items[0].message : "?");
                diagnostics_done(&d);
                return r;
        }
        diagnostics_done(&d);
        changed = unit_spec_diff(m->spec, new);
        if (!changed[0]) {
                snprintf(err, errlen, "nothing changed");
                return 0;
        }
        if (!unit_spec_updatable_in_place(m->spec, new, changed)) {
                _cleanup_free_ char *fields = strv_join(changed, ", ");
                snprintf(err, errlen, "a change of %s needs a restart", fields);
                return -EOPNOTSUPP;
        }
        details = unit_spec_describe_changes(m->spec, new, changed);
        list = strv_join(details, ", ");

        if (running) {
                r = apply_resources(m, new, err, errlen);
                if (r < 0) {
                        char ignored[512];
                        (void) apply_resources(m, m->spec, ignored, sizeof(ignored));
                        return r;
                }
        }
        (void) apply_own_limits(m, new);
        /* Only resources.* differ: the running spec takes them, and is then the new one (the Vm
         * of a hyperv instance holds a pointer to it, so it is changed, not swapped). */
        m->spec->resources = new->resources;
        (void) unit_spec_hash(m->spec, hash);
        (void) unit_spec_hash(new, new_hash);
        canonical = unit_spec_format(m->spec);
        r = streq(hash, new_hash) ? write_file_atomic(path, canonical, strlen(canonical), 0600) : -EBADMSG;
        if (r < 0) {
                char ignored[512];
                m->spec->resources = old;
                if (running)
                        (void) apply_resources(m, m->spec, ignored, sizeof(ignored));
                (void) apply_own_limits(m, m->spec);
                snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
                return r;
        }
        memcpy(m->hash, hash, sizeof(hash));
        free(m->status.hash);
        m->status.hash = xstrdup(hash);
        log_writer_printf(&m->log, "sup", "updated in place: %s%s", list, running ? "" : " (for its next start)");
        write_status(m);
        broadcast_status(m);
        return 0;
}

static void on_client_message(JsonConn *conn, json_t *msg, void *userdata) {
        MonitorClient *c = userdata;
        Monitor *m = c->monitor;
        const char *method = json_string_value(json_object_get(msg, "method"));
        int r;

        if (!method) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "a request needs a \"method\"");
                return;
        }
        if (streq(method, "status")) {
                (void) json_conn_reply(conn, msg, instance_status_to_json(&m->status));
                return;
        }
        /* The spec this monitor runs, as spec.json had it: supd adopts with it when that file
         * is gone or damaged. */
        if (streq(method, "spec")) {
                _cleanup_free_ char *text = unit_spec_format(m->spec);
                (void) json_conn_reply(conn, msg, json_pack("{s:s}", "spec", text));
                return;
        }
        if (streq(method, "start"))
                r = monitor_start(m, true);
        else if (streq(method, "stop"))
                r = monitor_stop(m);
        else if (streq(method, "restart"))
                r = monitor_restart(m);
        else if (streq(method, "shutdown"))
                r = monitor_shutdown(m, json_is_true(json_object_get(json_object_get(msg, "params"), "remove")));
        else if (streq(method, "top")) {
                monitor_top(m, c, msg);
                return;
        } else if (streq(method, "exec")) {
                monitor_exec(m, c, msg);
                return;
        } else if (streq(method, "update")) {
                const char *text = json_string_value(json_object_get(json_object_get(msg, "params"), "spec"));
                char err[1024] = "";

                r = text ? monitor_update(m, text, err, sizeof(err)) : -EINVAL;
                if (r < 0) {
                        (void) json_conn_reply_error(conn, msg, r == -EOPNOTSUPP ? "needs-restart" : "failed", "%s",
                                                     text ? err : "update needs the spec");
                        return;
                }
        } else {
                (void) json_conn_reply_error(conn, msg, "unknown-method", "unknown method \"%s\"", method);
                return;
        }
        /* The monitor may have exited the loop (shutdown of a stopped instance); the reply is
         * still written, the socket being gone only afterwards. */
        if (r < 0)
                (void) json_conn_reply_error(conn, msg, "failed", "%s: %s", method, strerror(-r));
        else
                (void) json_conn_reply(conn, msg, instance_status_to_json(&m->status));
}

static void on_accept(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Monitor *m = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        MonitorClient *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return;
        /* The socket is 0600 root; the credential check is the second lock on the door. */
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
                close(cfd);
                return;
        }
        c = xzalloc(sizeof(MonitorClient));
        c->monitor = m;
        c->uid = cred.uid;
        if (json_conn_new(m->event, cfd, JSON_FRAME_MAX_REQUEST, on_client_message, on_client_close, c, &c->conn) < 0) {
                free(c);
                return;
        }
        c->next = m->clients;
        m->clients = c;
}

int monitor_enter_cgroup(Monitor *m, char **ret_error) {
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ char *name = xasprintf("%s" INSTANCE_MONITOR_CGROUP_SUFFIX, m->spec->name);
        int r;

        /* The unit's previous monitor removes the cgroup as it exits: it may have gone between
         * the two steps (once). */
        for (unsigned attempt = 0; attempt < 2; attempt++) {
                cg = cgroup_free(cg);
                r = cgroup_create(m->cgroup_root, m->cgroup_parent, name, &cg);
                if (r >= 0)
                        r = cgroup_attach(cg, getpid());
                if (r != -ENOENT)
                        break;
        }
        if (r < 0) {
                *ret_error = xasprintf("cannot enter the cgroup %s/%s: %s", m->cgroup_parent, name, strerror(-r));
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
        if (cgroup_leave(m->own_cgroup, m->cgroup_parent, m->own_cgroup_name, getpid()) >= 0)
                (void) cgroup_destroy(m->own_cgroup);
        m->own_cgroup = cgroup_free(m->own_cgroup);
}

int monitor_listen(Monitor *m) {
        _cleanup_free_ char *path = path_join(m->dir, "monitor.sock");
        int r;

        m->listen_fd = unix_listen(path, 0600);
        if (m->listen_fd < 0)
                return m->listen_fd;
        r = event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_accept, m);
        if (r < 0)
                return r;
        write_status(m);
        return 0;
}

int monitor_new(Event *e, const MonitorConfig *cfg, Monitor **ret, char **ret_error) {
        _cleanup_free_ char *spec_path = path_join(cfg->dir, "spec.json"), *logs = path_join(cfg->state_dir, "logs"),
                            *log_path = NULL;
        Monitor *m = xzalloc(sizeof(Monitor));
        Diagnostics d = {};
        int r;

        m->event = e;
        m->listen_fd = m->out_fd = m->err_fd = -EBADF;
        m->share = (ContainerShare){-EBADF, -EBADF, -EBADF};
        m->log.fd = -EBADF;
        m->userns = USERNS_RANGE_NULL;
        m->runtime = &runtime_default;
        m->out_stream.name = "stdout";
        m->err_stream.name = "stderr";
        r = unit_load_file(spec_path, 0, &d, &m->spec, NULL);
        if (r < 0) {
                *ret_error = d.n > 0 ? xasprintf("%s:%u:%u: %s", d.items[0].file, d.items[0].line, d.items[0].column,
                                                 d.items[0].message)
                                     : xasprintf("cannot load %s", spec_path);
                diagnostics_done(&d);
                monitor_free(m);
                return -EINVAL;
        }
        (void) unit_spec_hash(m->spec, m->hash);
        m->dir = xstrdup(cfg->dir);
        m->rootfs = path_join(cfg->dir, "rootfs");
        m->sandbox = xasprintf("%s/sandboxes/%s", cfg->state_dir, m->spec->name);
        m->cgroup_root = xstrdup(cfg->cgroup_root);
        m->cgroup_parent = xstrdup(cfg->cgroup_parent);
        m->state_dir = xstrdup(cfg->state_dir);
        m->guest_dir = xstrdup(cfg->guest_dir ? cfg->guest_dir : "/var/lib/sup/guest");
        m->vm_accel = cfg->vm_accel;
        m->vm_debug = cfg->vm_debug;
        net_attachment_init(&m->net, cfg->state_dir, cfg->cgroup_parent, &cfg->bridge_subnet, m->spec->name);

        (void) mkdir_p(logs, 0750);
        log_path = xasprintf("%s/%s.log", logs, m->spec->name);
        r = log_writer_open(&m->log, log_path, cfg->log_max_size);
        if (r < 0) {
                *ret_error = xasprintf("cannot open the log %s: %s", log_path, strerror(-r));
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
        leave_own_cgroup(m);
        for (TopRequest *t = m->top_requests; t; t = t->next)
                t->client = NULL;
        monitor_exec_free_all(m);
        while (m->clients) {
                MonitorClient *c = m->clients;
                m->clients = c->next;
                json_conn_free(c->conn);
                free(c);
        }
        event_source_free(m->listen_source);
        if (m->listen_fd >= 0)
                close(m->listen_fd);
        drop_container_sources(m);
        close_share_targets(m);
        event_source_free(m->out_source);
        event_source_free(m->err_source);
        event_source_free(m->timer);
        if (m->out_fd >= 0)
                close(m->out_fd);
        if (m->err_fd >= 0)
                close(m->err_fd);
        if (m->has_container)
                container_close(&m->container);
        userns_release(&m->userns);
        vm_free(m->vm);
        cgroup_free(m->cgroup);
        free(m->own_cgroup_name);
        seccomp_cache_done(&m->seccomp);
        net_attachment_done(&m->net);
        log_writer_close(&m->log);
        restart_state_done(&m->restart);
        instance_status_done(&m->status);
        unit_spec_free(m->spec);
        free(m->dir);
        free(m->rootfs);
        free(m->sandbox);
        free(m->cgroup_root);
        free(m->cgroup_parent);
        free(m->state_dir);
        free(m->guest_dir);
        free(m);
        return NULL;
}
