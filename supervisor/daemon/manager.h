/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "event.h"
#include "instance.h"
#include "json-conn.h"
#include "reconcile.h"
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
        char *log_max_size; /* bytes, in decimal: each unit's log rotates past it; passed to every monitor */
} ManagerConfig;

/* A request from a control client waiting for a monitor's answer. */
typedef void (*InstanceReply)(Instance *i, json_t *reply, void *userdata);

struct Manager {
        Event *event;
        ManagerConfig config;
        UnitSet *generation;
        Instance *instances;
        unsigned adopting;        /* monitors found at start that have not answered yet */
        bool ready;               /* the first reconcile ran */
        bool shutting_down;
        void (*on_ready)(Manager *m);
        void (*on_idle)(Manager *m); /* shutting down and no monitor left */
};

struct Instance {
        Manager *manager;
        char *name;
        UnitSpec *spec; /* what the monitor runs */
        char hash[65];
        InstanceStatus status;
        bool known;         /* a status was received */
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

/* Sends a request to the instance's monitor; reply is called with its answer (or an error
 * object if the monitor is gone). */
int instance_call(Instance *i, const char *method, json_t *params, InstanceReply reply, void *userdata);

/* Status of every unit, sorted by name: instances, and units still waiting for theirs. */
json_t *manager_status_json(Manager *m, const char *only);

/* Stops every unit and lets the monitors exit; on_idle once none is left. */
void manager_shutdown(Manager *m);
