/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/resource.h>

#include "event.h"
#include "instance.h"
#include "json-conn.h"
#include "reconcile.h"
#include "sup-error.h"
#include "unit-set.h"

/* supd's model of the world: the generation it was asked to run (the valid unit set last loaded)
 * and one Instance per monitor it knows. It never owns a workload: it asks monitors. */

typedef struct Manager Manager;
typedef struct Instance Instance;

typedef struct ManagerConfig {
        char *units_dir;
        char *state_dir;
        char *run_dir;
        char *cgroup_root;
        char *cgroup_parent;
        char *bridge_subnet; /* CIDR, passed to every monitor */
        char *monitor_path;
        char *guest_dir; /* hyperv: passed to every monitor */
        char *vm_accel;  /* hyperv: "auto", "kvm" or "tcg", passed to every monitor */
        rlim_t nofile_soft; /* the soft RLIMIT_NOFILE supd was started with, its monitors' */
        char *log_max_size; /* bytes, in decimal: each unit's log rotates past it; passed to every monitor */
} ManagerConfig;

/* A request from a control client waiting for a monitor's answer. */
typedef void (*InstanceReply)(Instance *i, json_t *reply, void *userdata);

/* How supd came by an instance's monitor, while that is still being settled. */
typedef enum InstanceAdoption {
        ADOPTION_NONE,         /* started by this supd, or adopted */
        ADOPTION_ASKED,        /* found at start and connected; its status asked, not answered yet */
        ADOPTION_UNRESPONSIVE, /* ASKED past the adoption deadline: shown as such, adopted once it answers */
        ADOPTION_SPEC,         /* answered, but spec.json was unusable: its own spec asked of it */
        ADOPTION_UNREACHABLE,  /* alive (it holds the instance lock) but its socket cannot be reached:
                                * told to stop by a signal; a new instance starts once it is gone */
        _INSTANCE_ADOPTION_MAX,
        _INSTANCE_ADOPTION_INVALID = -EINVAL,
} InstanceAdoption;

struct Manager {
        Event *event;
        ManagerConfig config;
        UnitSet *generation;
        Instance *instances;
        unsigned adopting;        /* monitors found at start that have not answered yet */
        EventSource *adopt_deadline; /* after it, supd is ready without the monitors that did not answer */
        json_t *create_errors;       /* unit name -> why its instance could not be created (a full disk) */
        bool ready;               /* the first reconcile ran */
        bool shutting_down;
        void (*on_ready)(Manager *m);
        void (*on_idle)(Manager *m); /* shutting down and no monitor left */
};

struct Instance {
        Manager *manager;
        char *name;
        char *dir_path; /* RUN/units/NAME */
        UnitSpec *spec; /* what the monitor runs */
        char hash[65];
        InstanceStatus status;
        bool known;         /* a status was received */
        InstanceAdoption adoption;
        char *problem;    /* why the monitor is not adopted (yet), for status; NULL */
        int orphan_pidfd; /* ADOPTION_UNREACHABLE: the monitor's pidfd, and its watch */
        EventSource *orphan_source, *orphan_timer;
        JsonConn *conn;
        int ready_fd;       /* while the monitor starts */
        EventSource *ready_source;
        char *spawn_error;
        bool start_wanted;  /* start once every required unit runs */
        bool retiring;      /* shutdown sent: replaced or removed */
        bool remove_sandbox;
        UnitSpec *successor; /* REPLACE: the spec to start once this monitor is gone */
        bool successor_start;
        struct PendingCall *calls;
        Instance *next;
};

int manager_new(Event *e, ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);

/* Finds the monitors of a previous supd, then loads the units and reconciles (on_ready). */
int manager_startup(Manager *m);

/* Loads the units directory. On success returns 0 and the plan (not applied with dry_run);
 * an invalid generation returns -EINVAL with the errors in diags and changes nothing. */
int manager_reload(Manager *m, bool dry_run, Diagnostics *diags, Plan **ret_plan);

Instance *manager_find(Manager *m, const char *name);

/* The units of plan whose instance could not be created when it was applied, as an array of
 * {"unit", "message"} (empty when all could). A later reload or `start` tries again. */
json_t *manager_plan_failures(Manager *m, const Plan *plan);

/* start, restart or stop of a unit whose instance cannot take requests yet: one being replaced
 * by a reload (the request goes to its successor: started or not), or whose new monitor has not
 * answered yet. 0 when recorded; -EAGAIN when the instance can take it itself; -ENOENT when there
 * is nothing to record it on; -EOPNOTSUPP for other methods. */
int manager_request_pending(Manager *m, const char *name, const char *method);

/* `supctl start` of a unit of the generation that has no working instance (its creation failed,
 * or its monitor failed to start): tries again. */
int manager_create_again(Manager *m, const char *name, SupError **ret_error);

/* Sends a request to the instance's monitor; reply is called with its answer (or an error
 * object if the monitor is gone). */
int instance_call(Instance *i, const char *method, json_t *params, InstanceReply reply, void *userdata);

/* Status of every unit, sorted by name: instances, and units still waiting for theirs. */
json_t *manager_status_json(Manager *m, const char *only);

/* Stops every unit and lets the monitors exit; on_idle once none is left. */
void manager_shutdown(Manager *m);
