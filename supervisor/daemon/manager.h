/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>

#include "event.h"
#include "events.h"
#include "image-jobs.h"
#include "instance.h"
#include "json-conn.h"
#include "reconcile.h"
#include "string-table.h"
#include "sup-error.h"
#include "unit-set.h"
#include "volume.h"

/* supd's model of the world: the generation it was asked to run (the valid unit set last loaded)
 * and one Instance per monitor it knows. It never owns a workload: it asks monitors. */

typedef struct Manager Manager;
typedef struct Instance Instance;
typedef struct MonitorZygote MonitorZygote;
typedef struct ManagerWait ManagerWait;

typedef struct ManagerConfig {
        char *units_dir;
        char *state_dir;
        char *run_dir;
        char *cgroup_root;
        char *cgroup_parent;
        char *bridge_subnet;  /* CIDR, passed to every monitor */
        char *bridge_subnet6; /* the bridge's IPv6 /64, likewise */
        bool no_outbound;     /* --no-outbound, likewise */
        char *monitor_path;
        char *guest_dir;            /* hyperv: passed to every monitor */
        char *vm_accel;             /* hyperv: "auto", "kvm" or "tcg", passed to every monitor */
        rlim_t nofile_soft;         /* the soft RLIMIT_NOFILE supd was started with, its monitors' */
        char *log_max_size;         /* bytes, in decimal: each unit's log rotates past it; passed to every monitor */
        char *image_store_dir;      /* STATE/images (image-store.h); NULL: no store (tests) */
        char *image_max_layer_size; /* bytes, in decimal: a layer's unpack limit; passed to every monitor */
} ManagerConfig;

/* A request from a control client waiting for a monitor's answer. */
typedef void (*InstanceReply)(Instance *i, json_t *reply, void *userdata);

/* What supd knows of an instance's monitor: its life, as one state machine (manager.c's
 * actions[life][event] decides every pair once; tests/unit/test-manager.c has every cell). What a
 * lost connection, an exit, a timer or a request means follows from the state alone.
 *   spawning --spawned--> connecting --status--> up | waiting (a start is wanted)
 *   spawning --spawn failed--> spawn-failed: a create (`supctl start`, a reload) starts it anew
 *   waiting: started once the units it needs are ready (they run; a requires target with a
 *            healthcheck: it is healthy too) and the host ports it publishes are free -> up;
 *            up --an operator's start while those are not ready--> waiting
 *   adopt-asked (found at supd's start) --answer--> up | waiting | adopt-spec (spec.json unusable:
 *            its spec asked) --answer--> up | waiting | retiring;  adopt-asked --the adoption
 *            deadline--> adopt-unresponsive --answer--> as adopt-asked
 *   connected, the connection lost: unreachable (its monitor lives: SIGTERM, SIGKILL on the timer)
 *            --exited--> gone, and the unit is reconciled; or gone at once when no monitor lives
 *   replace, remove, shutdown: retiring (told to shut down) --lost--> retired (until its process
 *            has exited; SIGKILL on the timer) --exited--> gone; a successor spec starts then;
 *            spawning --remove--> retiring-spawn: told to shut down once it is connected */
typedef enum InstanceLife {
        LIFE_SPAWNING,     /* its monitor is being started by this supd (the ready pipe) */
        LIFE_SPAWN_FAILED, /* the monitor said why it cannot start, and exited (spawn_error) */
        LIFE_CONNECTING,   /* connected to its new monitor; its first status not there yet */
        LIFE_WAITING,      /* up; a start is wanted, held until its dependencies are ready and its ports are free */
        LIFE_UP,           /* up: its monitor runs the unit and says how in its status */
        LIFE_ADOPT_ASKED,  /* found at supd's start and connected; its status asked (supd's start waits) */
        LIFE_ADOPT_UNRESPONSIVE, /* asked past the adoption deadline: shown as such, adopted once it answers */
        LIFE_ADOPT_SPEC,         /* answered, but spec.json was unusable: its own spec asked of it */
        LIFE_UNREACHABLE,        /* alive (it holds the instance lock) but its socket cannot be reached:
                                  * told to stop by a signal; a new instance starts once it is gone */
        LIFE_RETIRING_SPAWN,     /* removed or replaced while its monitor was starting: shut down once connected */
        LIFE_RETIRING,           /* told to shut down (replaced, removed, supd stopping) */
        LIFE_RETIRED,            /* its connection closed: until its process has exited */
        _LIFE_MAX,
        _LIFE_INVALID = -EINVAL,
} InstanceLife;

typedef enum InstanceEvent {
        LIFE_EVENT_CREATE,       /* a unit without a working instance: the plan's start, `supctl start` */
        LIFE_EVENT_START,        /* a start or restart that the monitor cannot take (yet) */
        LIFE_EVENT_STOP,         /* a stop, likewise */
        LIFE_EVENT_REPLACE,      /* the plan's (InstanceInput.spec, .start) */
        LIFE_EVENT_UPDATE,       /* the plan's (InstanceInput.spec) */
        LIFE_EVENT_REMOVE,       /* the plan's: stop it and remove its sandbox */
        LIFE_EVENT_SHUTDOWN,     /* supd stops every unit and exits */
        LIFE_EVENT_SPAWNED,      /* its new monitor listens */
        LIFE_EVENT_SPAWN_FAILED, /* its new monitor cannot start (InstanceInput.why) */
        LIFE_EVENT_STATUS,       /* a status from the monitor (InstanceInput.data) */
        LIFE_EVENT_ANSWER,       /* the answer to what the state asked: the adoption's status, the spec */
        LIFE_EVENT_LOST,         /* the connection to the monitor closed */
        LIFE_EVENT_EXITED,       /* the watched monitor process has exited */
        LIFE_EVENT_TIMER,        /* the state's timer (adopt-asked: the adoption deadline) */
        _LIFE_EVENT_MAX,
        _LIFE_EVENT_INVALID = -EINVAL,
} InstanceEvent;

DECLARE_STRING_TABLE_LOOKUP(instance_life, InstanceLife);
DECLARE_STRING_TABLE_LOOKUP(instance_event, InstanceEvent);

/* What an event carries, where it carries anything. */
typedef struct InstanceInput {
        const UnitSpec *spec; /* create, replace, update */
        bool start;           /* create, replace: start the new instance */
        const json_t *data;   /* status: the status object; answer: the whole reply */
        const char *why;      /* spawn failed */
} InstanceInput;

/* The side effects of an instance's life on its monitor (by default manager-runtime.c: a
 * sup-monitor process and its socket). They report back with instance_spawned(),
 * instance_received(), instance_lost() and instance_exited(). Tests put a fake in
 * (manager_set_runtime()). */
typedef struct ManagerRuntime {
        /* Starts a monitor for the instance's directory (its spec.json is written). */
        int (*spawn)(Instance *i);
        /* Connects to the monitor's socket. */
        int (*connect)(Instance *i);
        int (*send)(Instance *i, const json_t *request);
        /* The process that holds the instance lock, watched until it exits; 0 when none does. */
        pid_t (*watch_exit)(Instance *i);
        void (*kill)(Instance *i, int sig); /* the watched process */
        void (*release)(Instance *i);       /* the instance is forgotten: whatever the above hold */
} ManagerRuntime;

typedef enum ManagerPhase {
        MANAGER_ADOPTING, /* finding the monitors of a previous supd; the units are not loaded yet */
        MANAGER_READY,    /* the first reconcile ran */
        MANAGER_STOPPING, /* every unit is being stopped; on_idle once no monitor is left */
        _MANAGER_PHASE_MAX,
        _MANAGER_PHASE_INVALID = -EINVAL,
} ManagerPhase;

struct Manager {
        Event *event;
        ManagerConfig config;
        const ManagerRuntime *runtime;
        UnitSet *generation;
        UnitSetCache *unit_cache; /* the units directory's parses, for the next reload */
        Instance *instances;
        Instance **index; /* manager-index.c's: the instances by name */
        size_t n_index_buckets, n_indexed;
        ManagerPhase phase;
        EventSource *adopt_deadline; /* adopting: after it, supd is ready without the monitors that did not answer */
        json_t *create_errors;       /* unit name -> why its instance could not be created (a full disk) */
        ImageJobs *image_jobs;       /* with config.image_store_dir: the store's work, off the loop */
        Events *events;              /* the event stream (events.h); NULL: none. Not owned */
        ManagerWait *waits;          /* manager_wait()'s, checked again on every status of their unit */
        size_t n_waits;
        bool freeing; /* manager_free(): instances go, their units stay */
        /* manager-runtime.c's: the instances whose monitor is still to be forked, in order */
        Instance *spawn_queue, *spawn_queue_tail;
        EventSource *spawn_source;
        MonitorZygote *zygote;                 /* manager-runtime.c's, the first spawn's */
        EventSource *trim_timer;               /* manager_trim_soon()'s */
        uint64_t n_reloads, n_reloads_refused; /* for metrics.h: applied, and refused as invalid */
        void (*on_ready)(Manager *m);
        void (*on_idle)(Manager *m); /* stopping and no monitor left */
};

struct Instance {
        Manager *manager;
        char *name;     /* its directory is RUN/units/NAME (instance_dir_path()) */
        UnitSpec *spec; /* what the monitor runs; NULL while adopting one whose spec.json is unusable */
        char hash[65];
        InstanceLife life;
        InstanceStatus status; /* the monitor's last (status.name is NULL before the first) */
        char *problem;         /* adopt-*, unreachable: why the monitor is not adopted (yet), for status */
        char *spawn_error;     /* spawn-failed: what the monitor said */
        /* spawning, connecting, adopt-*: a start is wanted once the monitor is up (then waiting);
         * what a start or stop asked before the monitor could take it, as the monitor's goal. */
        bool start_when_up;
        UnitSpec *successor; /* retiring-*, retired: the spec to start once this monitor is gone */
        bool successor_start;
        /* retiring-spawn by supd's stop, not a remove: its monitor is told to shut down and keep
         * the sandbox (the unit's writable layer, kept from its last run) */
        bool keep_sandbox;
        EventSource *timer; /* its meaning follows from the state; dropped when the state changes */
        struct PendingCall *calls;
        /* metrics.h's (metrics_note_state()): since when it starts, and its last start's duration */
        usec_t starting_since, start_usec;
        /* Runs of this instance the OOM killer ended, as supd saw their statuses (metrics.h). */
        unsigned oom_kills;
        /* manager-runtime.c's */
        JsonConn *conn;
        bool spawn_queued; /* its monitor not forked yet (Manager.spawn_queue) */
        Instance *spawn_next;
        int ready_fd; /* the spawn's ready pipe */
        EventSource *ready_source;
        int pidfd; /* watch_exit's */
        EventSource *pidfd_source;
        Instance *next;
        Instance *index_next; /* manager-index.c's bucket */
};

/* Frees the strings of a configuration that no manager took. */
void manager_config_done(ManagerConfig *c);

/* Takes config's strings. */
int manager_new(Event *e, ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);

/* Finds the monitors of a previous supd, then loads the units and reconciles (on_ready). */
int manager_startup(Manager *m);

/* Loads the units directory. On success returns 0 and the plan (not applied with dry_run);
 * an invalid generation returns -EINVAL with the errors in diags and changes nothing. */
int manager_reload(Manager *m, bool dry_run, Diagnostics *diags, Plan **ret_plan);

Instance *manager_find(Manager *m, const char *name);

/* After a request that built much and freed it (a status of every unit, a scrape, a reload that
 * changed something): what malloc keeps of that goes back to the system MANAGER_TRIM_DELAY later,
 * when the loop is idle, not in the request's time. At most one trim a MANAGER_TRIM_DELAY: a
 * watch loop of `supctl status` does not trim at every round, and its pages are not faulted in
 * again at every round either. */
#define MANAGER_TRIM_DELAY (1 * USEC_PER_SEC)
void manager_trim_soon(Manager *m);

/* RUN/units/NAME, the instance's directory (its monitor's socket, lock and spec.json), made anew
 * each time: not kept, as it was, at some 64 bytes a unit. */
char *instance_dir_path(const Instance *i);

/* The units of plan whose instance could not be created when it was applied, as an array of
 * {"unit", "message"} (empty when all could). A later reload or `start` tries again. */
json_t *manager_plan_failures(Manager *m, const Plan *plan);

/* start, restart or stop of a unit whose instance cannot take requests yet: one being replaced
 * by a reload (the request goes to its successor: started or not), or whose monitor is not up
 * yet (starting, or asked for its status: a start waits for it, and for what the unit requires).
 * The unit's LIFE_EVENT_START or LIFE_EVENT_STOP: 0 when recorded; -EAGAIN when the monitor takes
 * it itself (a stop may be recorded too: no start follows); -ENOENT when there is nothing to
 * record it on; -EOPNOTSUPP for other methods. */
int manager_request_pending(Manager *m, const char *name, const char *method);

/* `supctl start` of a unit of the generation that has no working instance (its creation failed,
 * or its monitor failed to start): tries again. */
int manager_create_again(Manager *m, const char *name, SupError **ret_error);

/* Sends a request to the instance's monitor; reply is called with its answer (or an error
 * object if the monitor is gone). */
int instance_call(Instance *i, const char *method, json_t *params, InstanceReply reply, void *userdata);

/* Status of every unit, sorted by name: instances, and units still waiting for theirs. With
 * usage, what each running unit's cgroup says it uses (files to read per unit); without, a
 * running unit's usage is left out (`supctl status`'s table does not show it). */
json_t *manager_status_json(Manager *m, const char *only, bool usage);
/* The same with only the keys named in fields (an array of strings; NULL: all of them), and of
 * those only the ones that are not null. */
json_t *manager_status_json_fields(Manager *m, const char *only, bool usage, const json_t *fields);

/* The names of the units whose images prune keeps: the generation's, and those of instances still
 * on their way out (their workload may still run on its layers). */
char **manager_image_users(Manager *m);

/* Every (volume, unit) of a loaded unit's volume mounts: the generation's units and instances
 * still on their way out (runtime/volume.h refuses to remove a volume one names). The strings are
 * the specs'; valid until the next reload. */
VolumeNamer *manager_volume_namers(Manager *m, size_t *ret_n);

/* `supctl wait`: the unit runs, and with healthy its health check passed (healthy). Called once
 * with 0 when it does, -ETIMEDOUT when timeout passed first (USEC_INFINITY: never), -ESRCH when
 * it can no longer get there (failed, exited, stopped by the operator, removed by a reload,
 * supd stopping); why says so in words. The wait is freed after the call; done must not free
 * other waits. */
typedef void (*ManagerWaitDone)(int result, const char *why, void *userdata);

/* Decided at once: 1 when it holds now; -ENOENT (no such unit), -EINVAL (healthy, and the unit
 * has no healthcheck), -ESRCH (it cannot get there) with *ret_why. Else 0: done is called later,
 * *ret is the wait until then (for manager_wait_free()). Re-checked on every status the unit's
 * monitor sends, on its monitor's failure to start, at a reload and at supd's stop: never polled. */
int manager_wait(Manager *m, const char *name, bool healthy, usec_t timeout, ManagerWaitDone done, void *userdata,
                 ManagerWait **ret, char **ret_why);
/* Drops a wait without calling its done (its client is gone). */
ManagerWait *manager_wait_free(ManagerWait *w);
/* Checks again the waits of the unit (every unit: name NULL), calling done for those decided. */
void manager_waits_check(Manager *m, const char *name);

/* Stops every unit and lets the monitors exit; on_idle once none is left. */
void manager_shutdown(Manager *m);

/* Applies actions[i->life][ev] (in may be NULL). For requests: 0 when recorded, -EAGAIN when the
 * monitor takes it itself, -ENOENT when there is nothing to record it on; create: -EEXIST when the
 * instance works. i may be gone afterwards. Tests deliver events with it directly. */
int instance_dispatch(Instance *i, InstanceEvent ev, const InstanceInput *in);

/* Whether the state has a connection to its monitor (instance_call() can send). */
bool instance_life_connected(InstanceLife life);
/* On its way out: not the unit's instance any more (manager_find() skips it; a successor may be). */
bool instance_life_retiring(InstanceLife life);

/* From the runtime: the new monitor listens (error NULL) or cannot start; a message from the
 * monitor; its connection closed; its process exited. */
void instance_spawned(Instance *i, const char *error);
void instance_received(Instance *i, json_t *msg);
void instance_lost(Instance *i, int error);
void instance_exited(Instance *i);

/* For tests: the runtime the state machine drives (by default manager_runtime_monitor). */
void manager_set_runtime(Manager *m, const ManagerRuntime *runtime);
extern const ManagerRuntime manager_runtime_monitor;
/* manager_runtime_monitor's `sup-monitor --zygote` (monitor/zygote.h), if it started one: its
 * socket closed (the zygote exits), its requests' pipes closed. */
MonitorZygote *monitor_zygote_free(MonitorZygote *z);
