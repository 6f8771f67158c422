/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "string-table.h"
#include "time-util.h"

/* The life of one instance of a unit, as its monitor runs it and supd, supctl and status files
 * report it. The names are the stable vocabulary of `supctl status --json`. */
typedef enum InstanceState {
        INSTANCE_STARTING, /* the container is being set up, until the command is executed */
        INSTANCE_RUNNING,
        INSTANCE_STOPPING, /* the stop signal was sent (SIGKILL follows after stop.timeout), or the workload has
                            * ended and what is left in its cgroup is being killed */
        INSTANCE_STOPPED,  /* stopped on request, or not started yet */
        INSTANCE_EXITED,   /* the workload ended and the restart policy does not restart it */
        INSTANCE_BACKOFF,  /* waiting for the next restart attempt (next_restart_at) */
        INSTANCE_FAILED,   /* the start limit was hit, or the container cannot be created */
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

DECLARE_STRING_TABLE_LOOKUP(instance_state, InstanceState);

/* A unit with a healthcheck: what its checks say while it runs. starting until the first check
 * passes (a failure within start_period does not count) or retries checks in a row failed;
 * healthy after a check passed; unhealthy after retries checks in a row failed (it turns healthy
 * with the next one that passes). Each run begins at starting. */
typedef enum HealthState {
        HEALTH_STARTING,
        HEALTH_HEALTHY,
        HEALTH_UNHEALTHY,
        _HEALTH_STATE_MAX,
        _HEALTH_STATE_INVALID = -EINVAL,
} HealthState;

DECLARE_STRING_TABLE_LOOKUP(health_state, HealthState);

/* The most of a check's output the status keeps: its last bytes (stdout then stderr). */
#define HEALTH_OUTPUT_MAX 1024U

/* Whether the instance has, or is about to have, a workload: what "up" means for requires. */
static inline bool instance_state_is_active(InstanceState s) {
        return s == INSTANCE_STARTING || s == INSTANCE_RUNNING || s == INSTANCE_STOPPING;
}

#include <jansson.h>

#include "unit-spec.h"

/* The cgroup of an instance's monitor: NAME@monitor beside the instance's NAME under the same
 * parent ('@' is in no unit name). The monitor moves itself into it, so that what it does for the
 * unit (above all, writing the unit's log) is accounted and bounded there (docs/supd.md). */
#define INSTANCE_MONITOR_CGROUP_SUFFIX "@monitor"

/* What a monitor reports about its instance: in its status file, on its socket, and (with
 * supd's additions) in `supctl status --json`. Times are CLOCK_REALTIME microseconds, 0 for
 * "never"; in JSON they are ISO 8601 strings or null. */
typedef struct InstanceStatus {
        char *name;
        char *hash; /* of the spec the instance runs */
        Isolation isolation;
        InstanceState state;
        bool admin_stopped; /* stopped by request (supctl stop), not by its own exit */
        pid_t pid;          /* the container's first process, as the host sees it; 0: none */
        pid_t monitor_pid;
        unsigned restarts; /* automatic restarts since the instance was created */
        bool has_exit;     /* the fields below describe the last exit */
        int exit_code;     /* -1 when it was killed by a signal */
        int exit_signal;   /* 0 when it exited */
        bool oom;          /* the kernel's OOM killer struck in its cgroup */
        usec_t started_at;
        usec_t exited_at;
        usec_t next_restart_at;
        char *reason; /* why it failed, or the last start error; NULL */
        /* Why the last automatic restart happened ("the command exited with status 1", "the
         * health check failed 3 times in a row (healthcheck.on_failure: restart)"): kept through the
         * runs that follow, until an operator's start; NULL: none. */
        char *restart_reason;
        char *log_path;
        char *address; /* the container's IPv4 address on the bridge while it has one; NULL */
        /* user_namespace: auto: the host ids of the container's 0..size-1 in its last run (in JSON
         * an object "user_namespace" {"uid": base, "size": size}, null without); 0: none. */
        uint32_t userns_base, userns_size;
        /* The store's images the last start ran ("sha256:MANIFEST" each; in JSON an object "image"
         * {"images": [...], "layers": N}, null before a start resolved one) and its layer count. */
        char **images;
        unsigned image_layers;
        /* A registry pull before the start (in JSON an object "pull", null when none runs). */
        struct {
                char *reference; /* NULL: no pull runs */
                uint64_t bytes_done, bytes_total;
                unsigned layers_done, layers_total;
        } pull;
        /* The health check's view (in JSON an object "health", null without a healthcheck or before
         * the first run: {"status": "starting"|"healthy"|"unhealthy", "failing_streak": N,
         * "last_check": null or {"at": time, "exit_code": C or null, "signal": "SIGKILL" or null,
         * "timed_out": bool, "output": "..."}}). */
        struct {
                bool enabled; /* the fields below mean something */
                HealthState state;
                unsigned failing_streak; /* checks failed in a row (within start_period: not counted) */
                usec_t last_at;          /* when the last check ended; 0: none yet */
                int last_exit_code;      /* -1: ended by a signal (last_signal) */
                int last_signal;
                bool last_timed_out; /* killed at healthcheck.timeout */
                char *last_output;   /* its tail, at most HEALTH_OUTPUT_MAX bytes, as text; NULL: none */
        } health;
        /* isolation: hyperv: the virtual machine (in JSON an object "vm", null for process). The
         * host sees only QEMU: pid is QEMU's. */
        struct {
                pid_t guest_pid;   /* the command's pid inside the guest; 0: none */
                char *accel;       /* "kvm" or "tcg" while QEMU runs or after; NULL: never started */
                uint64_t memory;   /* guest RAM, bytes */
                unsigned vcpus;
                char *stop_step;   /* the stop ladder's current step while stopping; NULL */
                char *end;         /* how the last run ended (VmEnd: "exited", "kernel-panic", ...); NULL */
        } vm;
} InstanceStatus;

/* The instance lock: a monitor holds a POSIX write lock on DIR/monitor.lock for as long as it
 * lives (taken before it listens; the kernel drops it when the process is gone, whatever the way).
 * It is how supd tells a live monitor from a dead one when the monitor's socket or files cannot be
 * used (a damaged spec.json, a deleted socket, a stopped process): a lock is never stale, and what
 * the file holds does not matter. POSIX rather than flock() because F_GETLK names the holder's
 * pid, which supd needs to stop a monitor it cannot talk to; a file of its own because a process
 * loses a POSIX lock when it closes any fd of the file (the directory is opened to fsync it). */
#define INSTANCE_LOCK_FILE "monitor.lock"
/* Takes the lock of the instance directory dir; returns the fd to keep open (O_CLOEXEC), or
 * -EBUSY when another process holds it (a second monitor of the same instance). */
int instance_lock_take(const char *dir);
/* The pid of the process holding dir's lock in *ret_pid (0: nobody, or no lock file). */
int instance_lock_holder(const char *dir, pid_t *ret_pid);

/* Timestamps as the status JSON carries them: "2026-11-22T16:27:01.123Z" (UTC), or null for 0. */
json_t *timestamp_to_json(usec_t t);
int timestamp_from_json(const json_t *j, usec_t *ret);

void instance_status_done(InstanceStatus *s);
json_t *instance_status_to_json(const InstanceStatus *s);
/* The keys of the object instance_status_to_json() builds, as bits: instance_status_key(k) is bit
 * k's key (NULL past the last); instance_status_keys_mask() makes the mask of the keys a request
 * names (a JSON list of strings; names of no key are ignored; NULL: every key). */
#define INSTANCE_STATUS_KEYS_ALL UINT32_MAX
const char *instance_status_key(unsigned k);
uint32_t instance_status_keys_mask(const json_t *fields);
/* Only the keys of mask, each encoded as instance_status_to_json() does; with skip_null, those
 * whose value is null are left out. */
json_t *instance_status_to_json_keys(const InstanceStatus *s, uint32_t mask, bool skip_null);
/* Fills *ret from JSON written by instance_status_to_json(); -EINVAL if it is not such. */
int instance_status_from_json(const json_t *j, InstanceStatus *ret);
