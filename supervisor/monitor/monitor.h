/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "attachment.h"
#include "cgroup.h"
#include "container-share.h"
#include "driver.h"
#include "event.h"
#include "instance.h"
#include "json-conn.h"
#include "jsonl-server.h"
#include "log-writer.h"
#include "health.h"
#include "restart-policy.h"
#include "rlimits.h"
#include "seccomp-compile.h"
#include "sup-error.h"
#include "unit-spec.h"
#include "volume.h"

/* One instance of a unit (like s6-supervise for one service): it runs the workload through its
 * isolation's driver (runtime/driver.h says what is the monitor's and what the driver's), holds
 * its log and its exit status, applies the restart policy, and tells supd about it on a unix
 * socket, and anyone else through an atomically written status file. It outlives supd.
 *
 * Instance directory (in supd's run directory, units/NAME/):
 *   spec.json    the canonical unit it runs (written by supd before starting the monitor)
 *   status.json  the InstanceStatus, rewritten atomically on every change; also read by the
 *                monitors of units that share this one's namespaces (share-target.h), as
 *                ../TARGET/status.json from their own directory
 *   monitor.sock requests from supd: status, start, stop, restart, shutdown, top, and update
 *                (params {"spec": canonical text}: a spec differing in live fields only, applied
 *                to the running workload and written to spec.json; see reconcile.h); from root
 *                only, exec (params {"argv", "env"?, "user"?, "working_dir"?}: a command run in
 *                the running workload, runtime/exec.h; the reply has its exit and its output)
 *                and kill (params {"signal": NAME}: the command gets it as it gets stop.signal;
 *                SIGSTOP and SIGKILL refused, see monitor_kill())
 *   rootfs/      the container's root mount point (mounted only in the container's namespace)
 *   qmp.sock     hyperv: QEMU's QMP socket (0600), also QEMU's working directory
 * State directory (supd's): images/ (the image store, image/image-store.h: unpacked layers, their
 * disks, pulled blobs; users/NAME.json says what this unit's last start used), sandboxes/NAME/
 * (the writable layer; hyperv: disk.ext4 in it),
 * logs/NAME.log, vm/layers/ (hyperv: the layer disk cache, see image/layer-disk.h), seccomp/
 * (compiled seccomp filters, see runtime/seccomp-compile.h), and with network: bridge the address
 * lease ipam/BRIDGE/ADDRESS (see net/ipam.h).
 *
 * State machine: one table in monitor.c, actions[state][event], decides every (state, event) pair
 * once (tests/unit/test-monitor.c has every cell). What a timeout, an exit or a request means
 * follows from the state alone; the one timer belongs to the state that armed it and is dropped
 * when the state changes.
 *   stopped  --start-->  starting --the command runs--> running --gone--> draining
 *   starting: first the pulls of registry: images the store lacks (image.pull), one skopeo at a
 *            time watched by the loop, progress in the status ("pull") and log; a failed pull is
 *            a failed start; a stop meanwhile kills skopeo and is a cancelled start
 *   running  --stop--->  stopping --gone--> draining     (stopping --timeout--> the driver's kill;
 *                                                          a driver with a stop ladder: its own)
 *   starting --stop--->  cancelling --gone--> draining: no exit to report, the command never ran
 *                        (cancelling --the command runs after all--> stopping)
 *   draining: until the run's cgroup is empty (mostly at once: then draining is skipped), then
 *            by the goal: stopped | starting | exit | the restart policy's backoff/exited/failed
 *            (draining --timeout--> try the cleanup again)
 *   backoff  --timeout--> starting;  backoff --stop--> stopped
 *   starting --setup error--> as a run that ended, without draining (nothing is left of it) */

typedef struct TopRequest TopRequest;
typedef struct MonitorExec MonitorExec;
typedef struct MonitorPull MonitorPull;

/* The monitor's own states. Status files show them as InstanceState (monitor.c's public_state[]):
 * cancelling and draining are shown as stopping. */
typedef enum MonitorState {
        MONITOR_STOPPED,
        MONITOR_STARTING,
        MONITOR_RUNNING,
        MONITOR_STOPPING,   /* the stop signal was sent (SIGKILL after stop.timeout), or the driver's ladder runs */
        MONITOR_CANCELLING, /* as stopping, but the stop came before the command ran */
        MONITOR_DRAINING,   /* the workload has ended; what is left in its cgroup is being killed */
        MONITOR_BACKOFF,
        MONITOR_EXITED,
        MONITOR_FAILED,
        _MONITOR_STATE_MAX,
        _MONITOR_STATE_INVALID = -EINVAL,
} MonitorState;

typedef enum MonitorEvent {
        MONITOR_EVENT_START, /* requests (the socket, and sup-monitor --start) */
        MONITOR_EVENT_STOP,
        MONITOR_EVENT_RESTART,
        MONITOR_EVENT_SHUTDOWN,
        MONITOR_EVENT_STARTED, /* the driver: the command runs */
        MONITOR_EVENT_GONE,    /* the driver: the workload has ended */
        MONITOR_EVENT_TIMEOUT, /* the state's timer */
        _MONITOR_EVENT_MAX,
        _MONITOR_EVENT_INVALID = -EINVAL,
} MonitorEvent;

/* What follows once the current run is over, as the requests left it. */
typedef enum MonitorGoal {
        MONITOR_GOAL_POLICY,   /* the restart policy decides */
        MONITOR_GOAL_STOP,     /* stay stopped */
        MONITOR_GOAL_RESTART,  /* start again */
        MONITOR_GOAL_SHUTDOWN, /* exit, removing the instance (outranks the others) */
        _MONITOR_GOAL_MAX,
        _MONITOR_GOAL_INVALID = -EINVAL,
} MonitorGoal;

DECLARE_STRING_TABLE_LOOKUP(monitor_state, MonitorState);
DECLARE_STRING_TABLE_LOOKUP(monitor_event, MonitorEvent);

typedef struct Monitor Monitor;

/* The next run, made ahead while none runs (monitor.c, "the next run, made ahead"): the driver's
 * instance parked (driver.h park()) and what it was made of; instance NULL: none. */
typedef struct MonitorParked {
        DriverInstance *instance;
        Cgroup *cgroup;
        Image *image;
        UnitSpec *run_spec;
        const SeccompProgram *seccomp;
        char seccomp_key[65]; /* the program's source_key (seccomp-compile.h) */
        RlimitSet rlimits;
        char hash[65]; /* the spec's */
} MonitorParked;

typedef struct MonitorConfig {
        const char *dir;
        const char *state_dir;
        const char *cgroup_root; /* NULL: the workload stays in the monitor's cgroup (tests) */
        const char *cgroup_parent;
        Ipv4Net bridge_subnet;  /* of supd's bridge, for network: bridge */
        Ipv6Net bridge_subnet6; /* its IPv6 /64 */
        bool no_outbound;       /* supd --no-outbound */
        DriverOptions driver;  /* guest_dir NULL: /var/lib/sup/guest */
        uint64_t log_max_size; /* the log rotates past it (supd --log-max-size); 0: the default */
        LayerUnpackLimits image_limits; /* supd --image-max-layer-size, and the default entry limit */
        /* A seccomp program made before this monitor (sup-monitor.c: the zygote's, of the default
         * profile for the default capabilities), taken over by monitor_new(); NULL or empty: none. */
        SeccompCache *seccomp_ahead;
} MonitorConfig;

struct Monitor {
        Event *event;
        UnitSpec *spec;
        Image *image;       /* the last start's (image.h), which its workload runs */
        UnitSpec *run_spec; /* spec with the image's defaults: what the driver runs */
        VolumeHold *volumes; /* the run's named volumes, held (volume.h) from its start to its end */
        size_t n_volumes;
        char hash[65];
        char *dir;
        char *sandbox;
        char *cgroup_root;
        char *cgroup_parent;
        char *state_dir;
        char *store_dir; /* the image store, STATE/images (image/image-store.h) */
        char *guest_dir;
        DriverOptions options;
        LayerUnpackLimits image_limits;

        InstanceStatus status;
        RestartState restart;
        LogWriter log;

        JsonlServer *server; /* monitor.sock */

        Cgroup *cgroup;     /* the run's */
        Cgroup *own_cgroup; /* the monitor's (INSTANCE_MONITOR_CGROUP_SUFFIX); NULL: not in one */
        char *own_cgroup_name;
        SeccompCache seccomp; /* the workload's filter, compiled once, kept across its restarts */
        RlimitSet rlimits;    /* the workload's limits for this run, resolved at its start */
        NetAttachment net;
        int ipv6_logged;      /* the net.ipv6_error last logged */
        bool net_prepared;    /* net holds an address (and maybe more) to release after the workload */
        DriverNetwork network; /* net's attach steps, for the driver */
        ContainerShare share; /* share.*: the pidfds of the joined namespaces' owners, while the workload runs */
        EventSource *share_sources[CONTAINER_SHARE_KINDS];
        TopRequest *top_requests; /* waiting for the driver's answer */
        MonitorExec *execs;       /* exec requests whose command runs */
        HealthCheck *health;      /* the running workload's health check (healthcheck.command); NULL: none */
        bool health_restart;      /* the run ends for healthcheck.on_failure: restart: it failed, and restarts */
        bool health_killed;       /* the run was killed by healthcheck.on_failure: kill */
        MonitorPull *pull;        /* registry pulls the start waits for; NULL: none */
        usec_t started_mono;

        const IsolationDriver *driver; /* the spec's isolation's */
        DriverContext run;             /* what the current run's instance was given */
        DriverInstance *instance;      /* from the run's start until its cleanup; NULL: none */
        MonitorParked parked;          /* while no run exists */
        MonitorState state;
        MonitorGoal goal;
        EventSource *timer;    /* its meaning follows from state (on_timer()) */
        EventSource *status_timer; /* armed: status.json is behind the status (write_status_later()) */
        bool run_setup_failed; /* how the run that is draining ended */
        bool remove_sandbox;
        int exit_code; /* of the monitor process */
};

int monitor_new(Event *e, const MonitorConfig *cfg, Monitor **ret, SupError **ret_error);
Monitor *monitor_free(Monitor *m);

/* Moves the monitor into a cgroup of its own beside the instance's, with the unit's
 * resources.cpus as its CPU quota, so that the work it does for the unit (its log) is accounted
 * and bounded. It leaves and removes it when it exits (monitor_free()). */
int monitor_enter_cgroup(Monitor *m, SupError **ret_error);

/* Listens on dir/monitor.sock and writes the first status file. */
int monitor_listen(Monitor *m);

int monitor_start(Monitor *m, bool by_operator);
int monitor_stop(Monitor *m);
int monitor_restart(Monitor *m);
/* Stops the workload and exits, removing the instance directory; with remove_sandbox (the unit
 * is gone from the generation) its writable layer too. */
int monitor_shutdown(Monitor *m, bool remove_sandbox);

/* Makes the next run ahead while none runs (monitor.c, "the next run, made ahead"); the monitor
 * does so itself after every run. For a monitor that starts without a start. */
void monitor_make_ahead(Monitor *m);

/* Applies actions[state][ev]: what requests (after setting the goal), the driver's callbacks and
 * the timer do; tests deliver events with it directly. */
void monitor_dispatch(Monitor *m, MonitorEvent ev);

/* For tests, before the first start: the driver the state machine drives (by default the one of
 * the spec's isolation). */
void monitor_set_driver(Monitor *m, const IsolationDriver *driver);
