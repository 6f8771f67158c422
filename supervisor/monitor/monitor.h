/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "attachment.h"
#include "cgroup.h"
#include "container.h"
#include "event.h"
#include "instance.h"
#include "json-conn.h"
#include "log-writer.h"
#include "restart-policy.h"
#include "seccomp-compile.h"
#include "unit-spec.h"
#include "userns.h"
#include "vm.h"

/* One instance of a unit (like s6-supervise for one service): it owns the container, holds its
 * output and its exit status, applies the restart policy, and tells supd about it on a unix
 * socket, and anyone else through an atomically written status file. It outlives supd.
 *
 * Instance directory (in supd's run directory, units/NAME/):
 *   spec.json    the canonical unit it runs (written by supd before starting the monitor)
 *   status.json  the InstanceStatus, rewritten atomically on every change; also read by the
 *                monitors of units that share this one's namespaces (share-target.h), as
 *                ../TARGET/status.json from their own directory
 *   monitor.sock requests from supd: status, start, stop, restart, shutdown, top, and update
 *                (params {"spec": canonical text}: a spec differing in live fields only, applied
 *                to the running workload and written to spec.json; see reconcile.h)
 *   rootfs/      the container's root mount point (mounted only in the container's namespace)
 *   qmp.sock     hyperv: QEMU's QMP socket (0600), also QEMU's working directory
 * State directory (supd's): sandboxes/NAME/ (the writable layer; hyperv: disk.ext4 in it),
 * logs/NAME.log, vm/layers/ (hyperv: the layer disk cache, see runtime/vm/vm-disk.h), seccomp/
 * (compiled seccomp filters, see runtime/seccomp-compile.h), and with network: bridge the address
 * lease ipam/BRIDGE/ADDRESS (see net/ipam.h).
 *
 * State machine (monitor_enter_<state>() do the work, monitor_set_state() records it):
 *   stopped  --start-->  starting --exec ok--> running --exit--> backoff/exited/failed
 *   running  --stop--->  stopping --exit or SIGKILL after stop.timeout--> stopped
 *                        (hyperv: --exit or the end of the VM's stop ladder, runtime/vm/vm.h-->)
 *   backoff  --timer-->  starting;  backoff --stop--> stopped
 *   starting --setup error--> backoff/failed (as an exit) */

typedef struct MonitorClient MonitorClient;
typedef struct TopRequest TopRequest;

typedef enum MonitorTimer {
        MONITOR_TIMER_NONE,
        MONITOR_TIMER_RESTART,      /* backoff: the next start */
        MONITOR_TIMER_STOP_TIMEOUT, /* stopping: SIGKILL */
        MONITOR_TIMER_CLEANUP,      /* the workload is gone, its cgroup not yet empty */
} MonitorTimer;

typedef struct MonitorConfig {
        const char *dir;
        const char *state_dir;
        const char *cgroup_root;
        const char *cgroup_parent;
        Ipv4Net bridge_subnet; /* of supd's bridge, for network: bridge */
        const char *guest_dir; /* hyperv: the guest kernel and initramfs (tools/guest-kernel.sh) */
        VmAccel vm_accel;      /* hyperv: the host's accelerator setting (supd --vm-accel) */
        bool vm_debug;         /* hyperv: sup.debug on the guest's command line */
        uint64_t log_max_size; /* the log rotates past it (supd --log-max-size); 0: the default */
} MonitorConfig;

typedef struct Monitor {
        Event *event;
        UnitSpec *spec;
        char hash[65];
        char *dir;
        char *rootfs;
        char *sandbox;
        char *cgroup_root;
        char *cgroup_parent;
        char *state_dir;
        char *guest_dir;
        VmAccel vm_accel;
        bool vm_debug;

        InstanceStatus status;
        RestartState restart;
        LogWriter log;

        int listen_fd;
        EventSource *listen_source;
        MonitorClient *clients;

        Cgroup *cgroup;
        SeccompCache seccomp; /* the workload's filter, compiled once, kept across its restarts */
        NetAttachment net;
        bool net_prepared; /* net holds an address (and maybe more) to release after the container */
        ContainerShare share; /* share.*: the pidfds of the joined namespaces' owners, while the container runs */
        EventSource *share_sources[CONTAINER_SHARE_KINDS];
        Container container;
        bool has_container;
        UsernsRange userns; /* user_namespace: auto: the range leased while the container runs */
        Vm *vm; /* isolation: hyperv, instead of the container */
        TopRequest *top_requests; /* hyperv: top requests waiting for the guest's answer */
        EventSource *pidfd_source;
        EventSource *error_source;
        char setup_error[512];
        size_t setup_error_len;
        int out_fd, err_fd; /* read ends of the command's output */
        EventSource *out_source, *err_source;
        LogStream out_stream, err_stream;
        usec_t started_mono;

        EventSource *timer;
        MonitorTimer timer_purpose;
        bool stop_requested;    /* the current stop is the operator's */
        bool restart_requested; /* start again once stopped */
        bool shutdown_requested; /* exit once stopped, removing the instance */
        bool remove_sandbox;
        bool automatic_start;    /* the next start is the restart policy's */
        bool pending_setup_failed; /* how the last run ended, while its cgroup empties */
        int exit_code;          /* of the monitor process */
} Monitor;

int monitor_new(Event *e, const MonitorConfig *cfg, Monitor **ret, char **ret_error);
Monitor *monitor_free(Monitor *m);

/* Listens on dir/monitor.sock and writes the first status file. */
int monitor_listen(Monitor *m);

int monitor_start(Monitor *m, bool by_operator);
int monitor_stop(Monitor *m);
int monitor_restart(Monitor *m);
/* Stops the workload and exits, removing the instance directory; with remove_sandbox (the unit
 * is gone from the generation) its writable layer too. */
int monitor_shutdown(Monitor *m, bool remove_sandbox);
