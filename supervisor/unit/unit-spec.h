/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <jansson.h>

#include "string-table.h"
#include "sup-error.h"
#include "time-util.h"

/* A unit, parsed and validated: plain data with every default filled in, relative paths resolved
 * against the unit file's directory and values in one canonical form. Nothing in here refers back
 * to YAML except the source positions kept for error messages about relations between units. */

typedef enum Isolation {
        ISOLATION_PROCESS,
        ISOLATION_HYPERV,
        _ISOLATION_MAX,
        _ISOLATION_INVALID = -EINVAL,
} Isolation;

typedef enum LayerType {
        LAYER_DIR,
        LAYER_TAR,
        LAYER_OCI,
        LAYER_REGISTRY,
        _LAYER_TYPE_MAX,
        _LAYER_TYPE_INVALID = -EINVAL,
} LayerType;

/* When a registry: layer contacts its registry (image.pull), as podman's --pull. */
typedef enum PullPolicy {
        PULL_MISSING, /* only when the store does not hold the reference yet (the default) */
        PULL_ALWAYS,  /* at every start: a tag moved since is the new image */
        PULL_NEVER,   /* never: an image missing from the store is a start error */
        _PULL_POLICY_MAX,
        _PULL_POLICY_INVALID = -EINVAL,
} PullPolicy;

typedef enum NetworkMode {
        NETWORK_BRIDGE,
        NETWORK_NONE,
        NETWORK_HOST,
        _NETWORK_MODE_MAX,
        _NETWORK_MODE_INVALID = -EINVAL,
} NetworkMode;

typedef enum PortProtocol {
        PORT_TCP,
        PORT_UDP,
        _PORT_PROTOCOL_MAX,
        _PORT_PROTOCOL_INVALID = -EINVAL,
} PortProtocol;

typedef enum MountType {
        MOUNT_BIND,
        MOUNT_TMPFS,
        MOUNT_VOLUME, /* a named directory sup keeps under its state directory (docs/volumes.md) */
        _MOUNT_TYPE_MAX,
        _MOUNT_TYPE_INVALID = -EINVAL,
} MountType;

typedef enum SeccompMode {
        SECCOMP_DEFAULT,
        SECCOMP_UNCONFINED,
        SECCOMP_PROFILE, /* security.seccomp_profile names the file */
        _SECCOMP_MODE_MAX,
        _SECCOMP_MODE_INVALID = -EINVAL,
} SeccompMode;

typedef enum UserNamespaceMode {
        USER_NAMESPACE_NO, /* written "false" in units */
        USER_NAMESPACE_AUTO,
        _USER_NAMESPACE_MODE_MAX,
        _USER_NAMESPACE_MODE_INVALID = -EINVAL,
} UserNamespaceMode;

typedef enum RestartPolicy {
        RESTART_NO,
        RESTART_ON_FAILURE,
        RESTART_ALWAYS,
        _RESTART_POLICY_MAX,
        _RESTART_POLICY_INVALID = -EINVAL,
} RestartPolicy;

/* healthcheck.on_failure: what the monitor does when the unit turns unhealthy (podman's
 * --health-on-failure). restart goes through the restart policy's back-off and start limit as any
 * failure does; stop is an operator's stop (no restart); kill is SIGKILL, then the restart policy
 * decides as for any exit by a signal. */
typedef enum HealthAction {
        HEALTH_ACTION_NONE,
        HEALTH_ACTION_RESTART,
        HEALTH_ACTION_STOP,
        HEALTH_ACTION_KILL,
        _HEALTH_ACTION_MAX,
        _HEALTH_ACTION_INVALID = -EINVAL,
} HealthAction;

typedef enum VmMachine {
        VM_MACHINE_MICROVM,
        VM_MACHINE_Q35,
        _VM_MACHINE_MAX,
        _VM_MACHINE_INVALID = -EINVAL,
} VmMachine;

typedef enum VmAccel {
        VM_ACCEL_AUTO,
        VM_ACCEL_KVM,
        VM_ACCEL_TCG,
        _VM_ACCEL_MAX,
        _VM_ACCEL_INVALID = -EINVAL,
} VmAccel;

DECLARE_STRING_TABLE_LOOKUP(isolation, Isolation);
DECLARE_STRING_TABLE_LOOKUP(layer_type, LayerType);
DECLARE_STRING_TABLE_LOOKUP(pull_policy, PullPolicy);
DECLARE_STRING_TABLE_LOOKUP(network_mode, NetworkMode);
DECLARE_STRING_TABLE_LOOKUP(port_protocol, PortProtocol);
DECLARE_STRING_TABLE_LOOKUP(mount_type, MountType);
DECLARE_STRING_TABLE_LOOKUP(seccomp_mode, SeccompMode);
DECLARE_STRING_TABLE_LOOKUP(user_namespace_mode, UserNamespaceMode);
DECLARE_STRING_TABLE_LOOKUP(restart_policy, RestartPolicy);
DECLARE_STRING_TABLE_LOOKUP(health_action, HealthAction);
DECLARE_STRING_TABLE_LOOKUP(vm_machine, VmMachine);
DECLARE_STRING_TABLE_LOOKUP(vm_accel, VmAccel);

/* rlimits: indexed by the kernel's RLIMIT_* number, named as systemd's Limit*= settings are
 * (nofile, nproc, core, ...). RLIMIT_RTTIME is the last one every table here names (a newer
 * libc's RLIMIT_NLIMITS could count one without a name). */
#define _UNIT_RLIMIT_MAX        (RLIMIT_RTTIME + 1)
#define UNIT_RLIMIT_INFINITY    UINT64_MAX /* "unlimited", RLIM_INFINITY */
#define UNIT_RLIMIT_NOFILE_SOFT 1024u      /* systemd's DefaultLimitNOFILE=1024:524288 */
#define UNIT_RLIMIT_NOFILE_HARD 524288u

typedef struct UnitRlimit {
        bool set;            /* false: the default (runtime/rlimits.h resolves it on the host) */
        uint64_t soft, hard; /* soft <= hard; UNIT_RLIMIT_INFINITY: unlimited */
} UnitRlimit;

/* A unit's limit of one resource (unset where the unit sets no rlimits). */
#define UNIT_SPEC_RLIMIT(u, resource) ((u)->rlimits ? &(u)->rlimits[resource] : &(const UnitRlimit){})

/* The name of an RLIMIT_* resource in units, or NULL; and back, -EINVAL for an unknown name. */
const char *rlimit_name_to_string(int resource);
int rlimit_name_from_string(const char *s);
/* Whether the resource counts bytes (stack, core, memlock, ...): its values may be sizes (64M). */
bool rlimit_is_bytes(int resource);

/* Where a value stood in its unit file, for errors found later (across units). */
typedef struct SourcePos {
        unsigned line, column; /* 0 when the value was a default */
        char *path;            /* the YAML path, e.g. "ports[1]" */
} SourcePos;

typedef struct Layer {
        LayerType type;
        char *path;      /* dir:, tar:, oci: absolute; registry: the reference as written
                          * (HOST[:PORT]/NAME[:TAG] or NAME@sha256:DIGEST) */
        char *ref;       /* oci: the org.opencontainers.image.ref.name to run; NULL: the layout's only image */
        bool tls_verify; /* registry: true unless the unit says false (a plain-HTTP registry) */
} Layer;

typedef struct PortSpec {
        int family; /* AF_UNSPEC: every address of the host; AF_INET, AF_INET6: only address */
        union {
                struct in_addr in;
                struct in6_addr in6;
        } address;
        uint16_t host_port;
        uint16_t container_port;
        PortProtocol protocol;
        SourcePos pos;
} PortSpec;

typedef struct MountSpec {
        MountType type;
        char *source;   /* bind: absolute host path; volume: never in a unit, the monitor sets it to the
                         * volume's directory in the spec it runs (runtime/volume.h) */
        char *target;   /* absolute container path */
        char *name;     /* volume: volume_name_is_valid() */
        bool read_only; /* bind, volume */
        uint64_t size;  /* tmpfs: bytes, 0 = the kernel's default */
        mode_t mode;    /* tmpfs */
} MountSpec;

typedef struct UnitRef {
        char *name;
        SourcePos pos;
} UnitRef;

/* Capabilities are bits of a uint64_t (security.cap_drop, .cap_add), as the kernel's are. */
#define UNIT_CAPABILITY_BITS 64u

typedef struct UnitSpec {
        char *name;
        SourcePos name_pos; /* line 0: taken from the file name */
        char *description;
        Isolation isolation;

        Layer *layers;
        size_t n_layers;
        PullPolicy pull; /* image.pull */

        char **command;    /* NULL: from the image (only with an oci: or registry: layer) */
        char **args;       /* NULL: the image's Cmd; else replaces it (after the unit's or the image's command) */
        char **env;        /* "NAME=value", sorted by name */
        char *user;        /* NULL: the image's User, else "0" (image_apply_defaults()) */
        char *working_dir; /* NULL: the image's WorkingDir, else "/" */
        char *hostname;
        NetworkMode network;
        bool network_explicit;

        PortSpec *ports;
        size_t n_ports;
        bool outbound; /* network: bridge may open connections beyond the bridge (default true) */

        struct {
                uint64_t memory;     /* bytes, 0 = unlimited */
                uint32_t cpus_milli; /* thousandths of a CPU, 0 = unlimited */
                uint64_t pids;       /* 0 = unlimited */
                uint32_t io_weight;  /* 0 = unset */
        } resources;

        /* _UNIT_RLIMIT_MAX of them, or NULL when the unit sets none (most units): in the struct,
         * they were 384 of its 904 bytes, 375 KiB of supd's memory at 1000 units. Read them with
         * UNIT_SPEC_RLIMIT(). */
        UnitRlimit *rlimits;

        MountSpec *mounts;
        size_t n_mounts;

        struct {
                uint64_t cap_drop; /* bit n: capability n */
                uint64_t cap_add;
                bool cap_drop_all;
                bool cap_add_all;
                SeccompMode seccomp;
                char *seccomp_profile; /* absolute, with SECCOMP_PROFILE */
                bool no_new_privileges;
                bool read_only_rootfs;
                UserNamespaceMode user_namespace;
        } security;

        struct {
                UnitRef ipc, pid, network; /* name NULL: not shared */
        } share;

        struct {
                RestartPolicy policy;
                usec_t delay;
                usec_t max_delay;
                unsigned burst;
                usec_t interval;
        } restart;

        struct {
                int signal;
                usec_t timeout;
        } stop;

        UnitRef *requires;
        size_t n_requires;

        struct {
                char **command; /* NULL: no health check */
                usec_t interval;
                usec_t timeout;
                unsigned retries;
                usec_t start_period;
                HealthAction on_failure;
        } healthcheck;

        struct {
                char *kernel; /* NULL: the provisioned default */
                VmMachine machine;
                VmAccel accel;
        } vm;

        char *source_file; /* not part of the hash */
        /* Holders besides the first (unit_spec_ref()): a spec is plain data that nobody changes once
         * parsed, so the parse cache (unit-set.h) and the generations it serves share one. */
        unsigned n_more_refs;
        /* unit_spec_hash()'s answer, set by the parse cache, which shares the spec and so knows it
         * never changes; "" when not known (a spec that is changed after its parse has none). */
        char cached_hash[65];
} UnitSpec;

/* An edge of the dependency graph between units: u starts after ref->name and stops before it. */
typedef struct UnitDependency {
        const UnitRef *ref;
        const char *kind; /* "requires", "share.ipc", "share.pid" or "share.network" */
} UnitDependency;

/* With every default set, but user and working_dir: NULL, they are left to the image (and are
 * "0" and "/" where neither sets them: image_apply_defaults()). */
UnitSpec *unit_spec_new(void);
/* Drops a reference; the last one frees the spec. */
UnitSpec *unit_spec_free(UnitSpec *u);
UnitSpec *unit_spec_ref(UnitSpec *u);
static inline void unit_spec_freep(UnitSpec **u) {
        unit_spec_free(*u);
}
void source_pos_done(SourcePos *p);

/* u's dependencies: every requires, then share.ipc, share.pid and share.network where set (sharing a
 * namespace implies requiring its owner). A new array of *ret_n items, NULL when there are none. The
 * one definition of the edges used by the set's cycle check and by reconcile's ordering. */
UnitDependency *unit_spec_dependencies(const UnitSpec *u, size_t *ret_n);

/* The canonical form: every key, defaults included, in the schema's vocabulary. A valid unit file
 * itself (JSON is YAML), so parsing it again yields the same spec and hash. (unit-json.c) */
json_t *unit_spec_to_json(const UnitSpec *u);
/* And back: the one decoder of the canonical form (the guest's run command, unit_spec_clone()).
 * Strict: a key the encoder always writes is required, an unknown key, a value of the wrong type or
 * one a unit file could not have is an error naming its JSON path ("security.seccomp: expected
 * ..."). Checks between values are the unit parser's, which the encoded unit passed. What the
 * form leaves out (source_file, source positions) stays empty. */
int unit_spec_from_json(const json_t *j, UnitSpec **ret, SupError **ret_error);
/* A deep copy, made through the canonical form, and with u's source file and positions: the copy
 * is the same spec, same hash, by construction. NULL only if the canonical form were refused (a
 * bug). */
UnitSpec *unit_spec_clone(const UnitSpec *u);
/* The canonical form as text that is a valid unit file whatever the strings hold: indented, keys
 * sorted, every character YAML does not allow raw (C0 and C1 controls, DEL) and everything beyond
 * ASCII written as a \u escape (\U beyond U+FFFF, where JSON would write a surrogate pair YAML
 * refuses). What supd hands its monitors (spec.json) and `supctl validate --print` shows. */
char *unit_spec_format(const UnitSpec *u);

/* SHA-256 of the canonical JSON with sorted keys, as 64 hex digits. */
int unit_spec_hash(const UnitSpec *u, char ret[65]);

/* Canonical spellings shared by the JSON form and messages. Each returns a new string. */
char *format_duration(usec_t t);
char *format_size(uint64_t bytes); /* 64M, 1536M, 4095 */
char *format_cpus(uint32_t milli); /* 0.5, 2, 0.125 */
char *format_port(const PortSpec *p);
char *format_signal(int sig);
char *format_capability(unsigned cap);
char *format_rlimit(uint64_t v); /* 1024, unlimited */

/* Whether two published ports claim the same host socket (protocol, port, overlapping address). */
bool port_spec_conflicts(const PortSpec *a, const PortSpec *b);

/* Why a bind mount may not have the host path as its source, or NULL: the host's root, and its
 * kernel interfaces /proc, /sys, /dev and what lies below them. path: absolute and simplified;
 * the runtime asks again about the real path of what it is about to bind. */
const char *bind_source_refusal(const char *path);
