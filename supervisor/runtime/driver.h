/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <jansson.h>

#include "cgroup.h"
#include "event.h"
#include "exec.h"
#include "image.h"
#include "instance.h"
#include "log-writer.h"
#include "resources.h"
#include "seccomp-filter.h"
#include "sup-error.h"
#include "unit-spec.h"

/* The isolation driver: everything the monitor asks of an isolation mode, as a table of functions
 * (the shape of cgroup-internal.h's CgroupBackend). The monitor never branches on the isolation
 * itself: it looks its driver up once (isolation_driver_get()) and drives one instance of it per
 * run.
 *
 * What is the monitor's, the same for every driver, and reaches the driver ready made in its
 * DriverContext: the seccomp program (compiled once, kept across restarts), the resolved
 * rlimits, the instance's cgroup (created before the run, drained and removed after it: the OOM
 * mark is read there), the network (net/attachment.h: the lease and its release, and the
 * attach steps, which the driver calls at its moment through DriverNetwork: runtime/ does not
 * use net/), the namespaces of share.* targets, the log, the status record's common fields and
 * the restart policy. What is the driver's: how
 * the workload is built, started, signalled and stopped, its output into the log, how its end is
 * told, the user namespace lease (process), the guest's disks and machine (vm).
 *
 * A run, as the monitor drives it:
 *   prepare()  what the run needs before anything runs; < 0: nothing of the run is left (no instance)
 *   start()    the workload starts; then, asynchronously, callbacks.started() (the command runs)
 *              and once, callbacks.exited() (the workload has ended, or never started)
 *   stop(), kill()  on request and at stop.timeout; update(), ps(), exec() while it runs
 *   cleanup()  after exited() and once the cgroup is empty, until it returns true
 *   free()     always last, also after a failed start()
 * None of callbacks' runs from within prepare(), start() or free() (free() answers pending ps()
 * requests with -ECANCELED); exited() may come from within stop() or kill(). After exited() the
 * owner calls only cleanup() and free(), maybe within exited() itself. */

/* share.*'s namespaces to join: the process driver's type (container-share.h), which the
 * monitor fills in (share-target.h); other drivers see it as opaque. */
typedef struct ContainerShare ContainerShare;

typedef struct IsolationDriver IsolationDriver;
typedef struct DriverInstance DriverInstance;
typedef struct DriverExec DriverExec;

/* How a run ended: one record for every driver. */
typedef struct DriverExit {
        int code;           /* the exit status, -1 when a signal ended it (or nothing ran) */
        int signal;         /* the signal that ended the command, 0 when it exited */
        bool oom;           /* an OOM killer the cgroup does not see struck (a guest's kernel's) */
        bool setup_failed;  /* it ended before its command ran */
        const char *reason; /* a sentence for the status' reason, or NULL: an ordinary exit */
} DriverExit;

typedef struct DriverCallbacks {
        void (*started)(DriverInstance *d, void *userdata); /* the command runs */
        void (*changed)(DriverInstance *d, void *userdata); /* the driver's fields of the status changed */
        void (*exited)(DriverInstance *d, const DriverExit *exit, void *userdata);
} DriverCallbacks;

/* The host's settings for the drivers that need them (supd's and sup-monitor's options). */
typedef struct DriverOptions {
        const char *guest_dir; /* vm: the guest kernel and initramfs (tools/guest-kernel.sh) */
        VmAccel vm_accel;      /* vm: supd --vm-accel */
        bool vm_debug;         /* vm: sup.debug on the guest's command line */
} DriverOptions;

/* network: bridge: a tap device on the bridge for a guest's NIC, and what the guest gives its eth0. */
typedef struct DriverTap {
        int fd; /* the caller's */
        uint8_t mac[6];
        struct in_addr address;
        unsigned prefix;
        struct in_addr gateway;
        struct in6_addr address6;
        unsigned prefix6;
        struct in6_addr gateway6;
} DriverTap;

/* network: bridge: the monitor's steps (net/ is not the runtime's to call), each for its moment.
 * Their errors are worded for the unit's status ("network: ..."). */
typedef struct DriverNetwork {
        /* In the monitor, once the workload's namespaces exist and its first process waits: the
         * veth pair (its host end on the bridge, the other end in the namespace of pid) and the
         * published ports. */
        int (*attach)(pid_t pid, void *userdata, SupError **ret_error);
        /* In that process, inside its network namespace, after attach: eth0's address and route. */
        int (*configure)(void *userdata, SupError **ret_error);
        /* Instead of both, for a guest: a tap device on the bridge and the published ports. */
        int (*attach_tap)(void *userdata, DriverTap *ret, SupError **ret_error);
        void *userdata;
} DriverNetwork;

/* What the monitor hands a run; it outlives the instance, and does not change during a run. */
typedef struct DriverContext {
        Event *event;
        const UnitSpec *spec; /* the running spec: a live update changes it in place (update()) */
        /* What the workload runs: spec with the image's defaults applied (command, env, user,
         * working directory: image_apply_defaults()), and the image's layers, resolved by the
         * monitor before prepare() (directories; and their disks for a driver with
         * layer_disks). A driver reads neither spec->layers nor any image source itself. */
        const UnitSpec *run_spec;
        const Image *image;
        const char *dir;       /* the instance's run directory (units/NAME/) */
        const char *state_dir; /* supd's state directory: caches shared by instances */
        const char *sandbox;   /* the instance's writable layer (state/sandboxes/NAME/) */
        const DriverOptions *options;
        Cgroup *cgroup;                /* the run's; NULL: the monitor's own (tests) */
        const SeccompProgram *seccomp; /* the command's filter; NULL: none */
        const struct rlimit *rlimits;  /* the command's limits, every resource resolved (rlimits.h) */
        const DriverNetwork *net;      /* network: bridge with a lease of its own, prepared; else NULL */
        const ContainerShare *share;   /* share.*: the namespaces to join (-EBADF each: none) */
        LogWriter *log;                /* the unit's log: the driver's notes ("sup") and the command's output */
        /* The status record: the driver keeps pid (what the host sees of the workload: 0 when
         * none), userns_base/size and vm.* current, and calls changed() after a change it makes
         * outside its own calls; the monitor keeps the rest. */
        InstanceStatus *status;
        DriverCallbacks callbacks;
        void *userdata;
} DriverContext;

/* The common head of every driver's instance: a driver's own struct has it as its first member. */
struct DriverInstance {
        const IsolationDriver *driver;
        const DriverContext *ctx;
};

/* ps()'s answer: processes as process-list.h has them (borrowed), or error < 0 with a sentence. */
typedef void (*DriverPsCallback)(int error, const char *message, json_t *processes, void *userdata);

struct IsolationDriver {
        const char *name;
        /* Whose PIDs ps() lists: "host" or "guest". */
        const char *pid_namespace;
        /* What the instance's cgroup holds, which supd reads for status' usage (its "of"):
         * "workload", or "qemu" (guest RAM with QEMU's own memory and threads). The usage itself
         * is the cgroup's, the same for every driver. */
        const char *usage_of;
        /* The driver climbs a stop ladder of its own, with its own timeouts: the monitor arms no
         * stop.timeout after stop(). */
        bool stop_ladder;
        /* The workload's layers as read-only disks (a guest's), besides their directories. */
        bool layer_disks;

        int (*prepare)(const DriverContext *ctx, DriverInstance **ret, SupError **ret_error);
        /* Optional (NULL: the driver cannot): after prepare(), does ahead what start() would do
         * first, up to the moment the workload acts on its own (process: the container's init in
         * its namespaces and cgroup, waiting for its go), so that start() does only the rest. No
         * callback runs and the status shows nothing of it until start(); free() ends it. What
         * the parked instance will run is fixed (the context as it was): the monitor frees it
         * when that changes (monitor.c, "the next run, made ahead"). */
        int (*park)(DriverInstance *d, SupError **ret_error);
        int (*start)(DriverInstance *d, SupError **ret_error);
        /* Asks the workload to stop (stop.signal); the driver with a stop_ladder starts it. */
        void (*stop)(DriverInstance *d);
        /* Ends the workload now (SIGKILL, and what is in its cgroup): stop.timeout has passed,
         * or the owner of a namespace it shares (share.*) has gone. */
        void (*kill)(DriverInstance *d);
        /* Sends sig to the workload's command (as stop.signal reaches it), nothing more: no stop
         * begins. -ENOTCONN: there is no command to signal (yet, or any more). */
        int (*signal)(DriverInstance *d, int sig, SupError **ret_error);
        /* The workload has ended and the cgroup is empty: releases what the run held. false while
         * something of it is left; it is then called again. */
        bool (*cleanup)(DriverInstance *d);
        DriverInstance *(*free)(DriverInstance *d);

        /* Applies the live fields of new (every changed field is_live()) to the running workload.
         * On failure nothing needs undoing beyond calling it again with the old spec. */
        int (*update)(DriverInstance *d, const UnitSpec *new, SupError **ret_error);
        /* Whether field (unit-diff.h's paths) can change on a running workload, old to new. Pure. */
        bool (*is_live)(const UnitSpec *old, const UnitSpec *new, const char *field);

        /* The workload's processes: the callback is called once, maybe from within the call; < 0
         * (with no callback) when there is nothing to ask (-ENOTCONN: not reachable yet). */
        int (*ps)(DriverInstance *d, DriverPsCallback callback, void *userdata);

        /* Runs a command in the running workload (exec.h has the contract: output, then one
         * exited(), never from within this call). *ret is the handle, the driver's until
         * exited() has returned, or NULL for an exec the driver cannot cancel (it then ends at
         * the latest with the instance: free() reports it exited). < 0 with the reason when it
         * cannot be started at all (-ENOTCONN: the workload does not run, or its guest is not
         * reachable). The instance may end first: the exec then exits with -1/SIGKILL. Each
         * driver has its own DriverExec: the process driver's is container-exec.h's
         * ContainerExec, the vm driver's vm-exec.h's VmExec. */
        int (*exec)(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                    DriverExec **ret, SupError **ret_error);
        /* Ends an exec that still runs (SIGKILL) and drops its handle: no callback of it runs
         * afterwards. Returns NULL. Only for a non-NULL handle. */
        DriverExec *(*exec_cancel)(DriverExec *x);
        /* The terminal's new size (SIGWINCH for its foreground process group), for an exec with
         * tty. -ENOTTY: the exec has no terminal. Only for a non-NULL handle. */
        int (*exec_resize)(DriverExec *x, unsigned short rows, unsigned short cols);
        /* Optional: the monitor is about to leave its cgroup and exit; ends and reaps what the
         * driver runs beside any instance in it (the vm driver's template builders), so that
         * the cgroup can go. */
        void (*leave)(void);
};

/* resources.* onto ctx's cgroup for target (resources.h); its notes go to the log. For the
 * drivers' prepare(), start() and update(). */
int driver_apply_resources(const DriverContext *ctx, const UnitSpec *u, ResourcesTarget target, SupError **ret_error);
