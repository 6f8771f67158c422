/* SPDX-License-Identifier: MIT */
#include "unit-spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/capability.h>

#include "alloc.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"

static const char *const isolation_table[_ISOLATION_MAX] = {
        [ISOLATION_PROCESS] = "process",
        [ISOLATION_HYPERV] = "hyperv",
};
DEFINE_STRING_TABLE_LOOKUP(isolation, Isolation, _ISOLATION_MAX);

static const char *const layer_type_table[_LAYER_TYPE_MAX] = {
        [LAYER_DIR] = "dir",
        [LAYER_TAR] = "tar",
        [LAYER_OCI] = "oci",
        [LAYER_REGISTRY] = "registry",
};
DEFINE_STRING_TABLE_LOOKUP(layer_type, LayerType, _LAYER_TYPE_MAX);

static const char *const pull_policy_table[_PULL_POLICY_MAX] = {
        [PULL_MISSING] = "missing",
        [PULL_ALWAYS] = "always",
        [PULL_NEVER] = "never",
};
DEFINE_STRING_TABLE_LOOKUP(pull_policy, PullPolicy, _PULL_POLICY_MAX);

static const char *const network_mode_table[_NETWORK_MODE_MAX] = {
        [NETWORK_BRIDGE] = "bridge",
        [NETWORK_NONE] = "none",
        [NETWORK_HOST] = "host",
};
DEFINE_STRING_TABLE_LOOKUP(network_mode, NetworkMode, _NETWORK_MODE_MAX);

static const char *const port_protocol_table[_PORT_PROTOCOL_MAX] = {
        [PORT_TCP] = "tcp",
        [PORT_UDP] = "udp",
};
DEFINE_STRING_TABLE_LOOKUP(port_protocol, PortProtocol, _PORT_PROTOCOL_MAX);

static const char *const mount_type_table[_MOUNT_TYPE_MAX] = {
        [MOUNT_BIND] = "bind",
        [MOUNT_TMPFS] = "tmpfs",
        [MOUNT_VOLUME] = "volume",
};
DEFINE_STRING_TABLE_LOOKUP(mount_type, MountType, _MOUNT_TYPE_MAX);

static const char *const seccomp_mode_table[_SECCOMP_MODE_MAX] = {
        [SECCOMP_DEFAULT] = "default",
        [SECCOMP_UNCONFINED] = "unconfined",
        [SECCOMP_PROFILE] = "profile",
};
DEFINE_STRING_TABLE_LOOKUP(seccomp_mode, SeccompMode, _SECCOMP_MODE_MAX);

static const char *const user_namespace_mode_table[_USER_NAMESPACE_MODE_MAX] = {
        [USER_NAMESPACE_NO] = "false",
        [USER_NAMESPACE_AUTO] = "auto",
};
DEFINE_STRING_TABLE_LOOKUP(user_namespace_mode, UserNamespaceMode, _USER_NAMESPACE_MODE_MAX);

static const char *const restart_policy_table[_RESTART_POLICY_MAX] = {
        [RESTART_NO] = "no",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_ALWAYS] = "always",
};
DEFINE_STRING_TABLE_LOOKUP(restart_policy, RestartPolicy, _RESTART_POLICY_MAX);

static const char *const health_action_table[_HEALTH_ACTION_MAX] = {
        [HEALTH_ACTION_NONE] = "none",
        [HEALTH_ACTION_RESTART] = "restart",
        [HEALTH_ACTION_STOP] = "stop",
        [HEALTH_ACTION_KILL] = "kill",
};
DEFINE_STRING_TABLE_LOOKUP(health_action, HealthAction, _HEALTH_ACTION_MAX);

static const char *const vm_machine_table[_VM_MACHINE_MAX] = {
        [VM_MACHINE_MICROVM] = "microvm",
        [VM_MACHINE_Q35] = "q35",
};
DEFINE_STRING_TABLE_LOOKUP(vm_machine, VmMachine, _VM_MACHINE_MAX);

static const char *const vm_accel_table[_VM_ACCEL_MAX] = {
        [VM_ACCEL_AUTO] = "auto",
        [VM_ACCEL_KVM] = "kvm",
        [VM_ACCEL_TCG] = "tcg",
};
DEFINE_STRING_TABLE_LOOKUP(vm_accel, VmAccel, _VM_ACCEL_MAX);

static const char *const rlimit_name_table[_UNIT_RLIMIT_MAX] = {
        [RLIMIT_CPU] = "cpu",           [RLIMIT_FSIZE] = "fsize", [RLIMIT_DATA] = "data",
        [RLIMIT_STACK] = "stack",       [RLIMIT_CORE] = "core",   [RLIMIT_RSS] = "rss",
        [RLIMIT_NOFILE] = "nofile",     [RLIMIT_AS] = "as",       [RLIMIT_NPROC] = "nproc",
        [RLIMIT_MEMLOCK] = "memlock",   [RLIMIT_LOCKS] = "locks", [RLIMIT_SIGPENDING] = "sigpending",
        [RLIMIT_MSGQUEUE] = "msgqueue", [RLIMIT_NICE] = "nice",   [RLIMIT_RTPRIO] = "rtprio",
        [RLIMIT_RTTIME] = "rttime",
};
DEFINE_STRING_TABLE_LOOKUP(rlimit_name, int, _UNIT_RLIMIT_MAX);

bool rlimit_is_bytes(int resource) {
        switch (resource) {
        case RLIMIT_FSIZE:
        case RLIMIT_DATA:
        case RLIMIT_STACK:
        case RLIMIT_CORE:
        case RLIMIT_RSS:
        case RLIMIT_AS:
        case RLIMIT_MEMLOCK:
        case RLIMIT_MSGQUEUE:
                return true;
        default:
                return false;
        }
}

UnitSpec *unit_spec_new(void) {
        UnitSpec *u = xzalloc(sizeof(UnitSpec));

        u->description = xstrdup("");
        u->isolation = ISOLATION_PROCESS;
        u->env = xzalloc(sizeof(char *));
        u->network = NETWORK_BRIDGE;
        u->outbound = true;
        u->security.seccomp = SECCOMP_DEFAULT;
        u->security.no_new_privileges = true;
        u->security.user_namespace = USER_NAMESPACE_NO;
        u->restart.policy = RESTART_ON_FAILURE;
        u->restart.delay = 1 * USEC_PER_SEC;
        u->restart.max_delay = 60 * USEC_PER_SEC;
        u->restart.burst = 5;
        u->restart.interval = 60 * USEC_PER_SEC;
        u->stop.signal = SIGTERM;
        u->stop.timeout = 10 * USEC_PER_SEC;
        u->healthcheck.interval = 10 * USEC_PER_SEC;
        u->healthcheck.timeout = 2 * USEC_PER_SEC;
        u->healthcheck.retries = 3;
        u->vm.machine = VM_MACHINE_MICROVM;
        u->vm.accel = VM_ACCEL_AUTO;
        return u;
}

void source_pos_done(SourcePos *p) {
        p->path = (free(p->path), NULL);
}

static void unit_ref_done(UnitRef *r) {
        r->name = (free(r->name), NULL);
        source_pos_done(&r->pos);
}

UnitSpec *unit_spec_ref(UnitSpec *u) {
        if (u)
                u->n_more_refs++;
        return u;
}

UnitSpec *unit_spec_free(UnitSpec *u) {
        if (!u)
                return NULL;
        if (u->n_more_refs > 0) {
                u->n_more_refs--;
                return NULL;
        }
        free(u->name);
        source_pos_done(&u->name_pos);
        free(u->description);
        for (size_t i = 0; i < u->n_layers; i++) {
                free(u->layers[i].path);
                free(u->layers[i].ref);
        }
        free(u->layers);
        strv_free(u->command);
        strv_free(u->args);
        strv_free(u->env);
        free(u->user);
        free(u->working_dir);
        free(u->hostname);
        free(u->rlimits);
        for (size_t i = 0; i < u->n_ports; i++)
                source_pos_done(&u->ports[i].pos);
        free(u->ports);
        for (size_t i = 0; i < u->n_mounts; i++) {
                free(u->mounts[i].source);
                free(u->mounts[i].target);
                free(u->mounts[i].name);
        }
        free(u->mounts);
        free(u->security.seccomp_profile);
        unit_ref_done(&u->share.ipc);
        unit_ref_done(&u->share.pid);
        unit_ref_done(&u->share.network);
        for (size_t i = 0; i < u->n_requires; i++)
                unit_ref_done(&u->requires[i]);
        free(u->requires);
        strv_free(u->healthcheck.command);
        free(u->vm.kernel);
        free(u->source_file);
        free(u);
        return NULL;
}

UnitDependency *unit_spec_dependencies(const UnitSpec *u, size_t *ret_n) {
        const struct {
                const UnitRef *ref;
                const char *kind;
        } shares[] = {
                {&u->share.ipc, "share.ipc"},
                {&u->share.pid, "share.pid"},
                {&u->share.network, "share.network"},
        };
        UnitDependency *d = NULL;
        size_t n = 0;

        for (size_t i = 0; i < u->n_requires; i++)
                *ARRAY_APPEND(d, n) = (UnitDependency){&u->requires[i], "requires"};
        for (size_t i = 0; i < ELEMENTSOF(shares); i++)
                if (shares[i].ref->name)
                        *ARRAY_APPEND(d, n) = (UnitDependency){shares[i].ref, shares[i].kind};
        *ret_n = n;
        return d;
}

char *format_duration(usec_t t) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                {"d", USEC_PER_DAY}, {"h", USEC_PER_HOUR},  {"m", USEC_PER_MINUTE},
                {"s", USEC_PER_SEC}, {"ms", USEC_PER_MSEC}, {"us", 1},
        };
        char buf[128];
        size_t k = 0;

        if (t == 0)
                return xstrdup("0s");
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                usec_t n = t / units[i].usec;
                if (n == 0)
                        continue;
                k += (size_t) snprintf(buf + k, sizeof(buf) - k, "%llu%s", (unsigned long long) n, units[i].suffix);
                t -= n * units[i].usec;
        }
        return xstrdup(buf);
}

char *format_size(uint64_t bytes) {
        static const char suffixes[] = "KMGTPE";
        unsigned i = 0;

        /* The largest binary suffix that says it exactly, as the unit file would: 64M, 1536M. */
        while (bytes >= 1024 && bytes % 1024 == 0 && i < sizeof(suffixes) - 1) {
                bytes /= 1024;
                i++;
        }
        if (i == 0)
                return xasprintf("%" PRIu64, bytes);
        return xasprintf("%" PRIu64 "%c", bytes, suffixes[i - 1]);
}

char *format_cpus(uint32_t milli) {
        char *s = xasprintf("%" PRIu32 ".%03" PRIu32, milli / 1000, milli % 1000);
        char *end = s + strlen(s) - 1;

        /* 0.500 -> 0.5, 2.000 -> 2 */
        while (*end == '0')
                *end-- = 0;
        if (*end == '.')
                *end = 0;
        return s;
}

char *format_port(const PortSpec *p) {
        char addr[INET6_ADDRSTRLEN] = "";
        const char *proto = port_protocol_to_string(p->protocol);

        switch (p->family) {
        case AF_INET:
                inet_ntop(AF_INET, &p->address.in, addr, sizeof(addr));
                return xasprintf("%s:%u:%u/%s", addr, p->host_port, p->container_port, proto);
        case AF_INET6:
                inet_ntop(AF_INET6, &p->address.in6, addr, sizeof(addr));
                return xasprintf("[%s]:%u:%u/%s", addr, p->host_port, p->container_port, proto);
        default:
                return xasprintf("%u:%u/%s", p->host_port, p->container_port, proto);
        }
}

char *format_signal(int sig) {
        const char *abbrev;

        if (sig >= SIGRTMIN && sig <= SIGRTMAX)
                return sig == SIGRTMIN ? xstrdup("SIGRTMIN") : xasprintf("SIGRTMIN+%d", sig - SIGRTMIN);
        abbrev = sigabbrev_np(sig);
        return abbrev ? xasprintf("SIG%s", abbrev) : xasprintf("%d", sig);
}

static void cap_free_stringp(char **p) {
        if (*p)
                (void) cap_free(*p);
}

char *format_capability(unsigned cap) {
        _cleanup_(cap_free_stringp) char *name = cap_to_name((cap_value_t) cap);
        const char *s;
        char *r;

        if (!name)
                return xasprintf("%u", cap);
        s = startswith(name, "cap_");
        r = xstrdup(s ? s : name);
        for (char *c = r; *c; c++)
                *c = (char) toupper((unsigned char) *c);
        return r;
}

static bool address_is_any(const PortSpec *p) {
        switch (p->family) {
        case AF_INET:
                return p->address.in.s_addr == htonl(INADDR_ANY);
        case AF_INET6:
                return IN6_IS_ADDR_UNSPECIFIED(&p->address.in6);
        default:
                return true;
        }
}

bool port_spec_conflicts(const PortSpec *a, const PortSpec *b) {
        if (a->protocol != b->protocol || a->host_port != b->host_port)
                return false;
        /* "every address" of either family overlaps anything: [::] is dual-stack on Linux by
         * default, and an unspecified address means both families. */
        if (address_is_any(a) || address_is_any(b))
                return true;
        if (a->family != b->family)
                return false;
        if (a->family == AF_INET)
                return a->address.in.s_addr == b->address.in.s_addr;
        return IN6_ARE_ADDR_EQUAL(&a->address.in6, &b->address.in6);
}

char *format_rlimit(uint64_t v) {
        return v == UNIT_RLIMIT_INFINITY ? xstrdup("unlimited") : xasprintf("%" PRIu64, v);
}

int unit_spec_hash(const UnitSpec *u, char ret[65]) {
        json_t *j;
        char *s;

        if (u->cached_hash[0]) {
                memcpy(ret, u->cached_hash, 65);
                return 0;
        }
        j = unit_spec_to_json(u);

        /* Ten significant digits print cpus (at most three decimals) exactly and identically on
         * every run; the default 17 would print 0.1 as 0.10000000000000001. */
        s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(j);
        if (!s)
                return -ENOMEM;
        sha256_hex(s, strlen(s), ret);
        free(s);
        return 0;
}

/* The value of the 4 hex digits at p, or -1. */
static int hex4(const char *p) {
        int v = 0;

        for (int i = 0; i < 4; i++) {
                char c = p[i];
                int x = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
                if (x < 0)
                        return -1;
                v = v << 4 | x;
        }
        return v;
}

char *unit_spec_format(const UnitSpec *u) {
        json_t *j = unit_spec_to_json(u);
        _cleanup_free_ char *s =
                json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
        size_t n = 0, dels = 0;
        char *out, *w;
        const char *p;

        json_decref(j);
        if (!s)
                return NULL;
        /* Two things jansson writes that YAML refuses, both only inside strings:
         *  - DEL, which JSON_ENSURE_ASCII leaves raw: written \u007f;
         *  - a character beyond U+FFFF, which JSON writes as a UTF-16 surrogate pair
         *    (\uD83D\uDE00) and YAML, which has no surrogates, refuses ("invalid Unicode
         *    character escape code"): written as YAML's own 8-digit escape, \U0001F600.
         * A DEL's escape takes 5 bytes more, a pair's 2 fewer. */
        for (p = s; *p; p++, n++)
                dels += *p == 0x7f;
        out = w = xmalloc(n + dels * 5 + 1);
        for (p = s; *p;) {
                int hi, lo;

                if (*p == 0x7f) {
                        w = stpcpy(w, "\\u007f");
                        p++;
                } else if (*p != '\\') {
                        *w++ = *p++;
                } else if (p[1] == 'u' && (hi = hex4(p + 2)) >= 0xd800 && hi < 0xdc00 && p[6] == '\\' && p[7] == 'u' &&
                           (lo = hex4(p + 8)) >= 0xdc00 && lo < 0xe000) {
                        w += sprintf(w, "\\U%08X", 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
                        p += 12;
                } else { /* an escape: its two characters as they are (\\ is no start of one) */
                        *w++ = *p++;
                        *w++ = *p++;
                }
        }
        *w = 0;
        return out;
}

const char *bind_source_refusal(const char *path) {
        if (streq(path, "/"))
                return "the host's whole file system, its /proc, /sys and /dev with it, cannot be bound into a "
                       "container";
        if (path_startswith_dir(path, "/proc") || path_startswith_dir(path, "/sys"))
                return "the host's /proc and /sys are its kernel's interfaces, which no container may get";
        if (path_startswith_dir(path, "/dev"))
                return "the host's devices are not passed through to containers (bind mounts are nodev)";
        return NULL;
}
