/* SPDX-License-Identifier: MIT */
#include "seccomp-profile.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "string-util.h"
#include "unit-value.h"

/* NULL-terminated (one more than _MAX) for string_nearest(). */
static const char *const seccomp_action_table[_SECCOMP_ACTION_MAX + 1] = {
        [SECCOMP_ACTION_ALLOW] = "SCMP_ACT_ALLOW",
        [SECCOMP_ACTION_ERRNO] = "SCMP_ACT_ERRNO",
        [SECCOMP_ACTION_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
        [SECCOMP_ACTION_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
        [SECCOMP_ACTION_TRAP] = "SCMP_ACT_TRAP",
        [SECCOMP_ACTION_TRACE] = "SCMP_ACT_TRACE",
        [SECCOMP_ACTION_LOG] = "SCMP_ACT_LOG",
};
DEFINE_STRING_TABLE_LOOKUP(seccomp_action, SeccompAction, _SECCOMP_ACTION_MAX);

static const char *const seccomp_op_table[_SECCOMP_OP_MAX + 1] = {
        [SECCOMP_OP_NE] = "SCMP_CMP_NE",
        [SECCOMP_OP_LT] = "SCMP_CMP_LT",
        [SECCOMP_OP_LE] = "SCMP_CMP_LE",
        [SECCOMP_OP_EQ] = "SCMP_CMP_EQ",
        [SECCOMP_OP_GE] = "SCMP_CMP_GE",
        [SECCOMP_OP_GT] = "SCMP_CMP_GT",
        [SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};
DEFINE_STRING_TABLE_LOOKUP(seccomp_op, SeccompOp, _SECCOMP_OP_MAX);

#define CAP(c) (UINT64_C(1) << CAP_##c)

/* The architecture a host of this build runs, as OCI profiles name it (archMap) and as Docker's
 * includes/excludes do (Go's names). */
#if defined(__x86_64__)
#define NATIVE_SCMP_ARCH "SCMP_ARCH_X86_64"
static const char *const native_arch_names[] = {"amd64", "x86_64", "SCMP_ARCH_X86_64", NULL};
#elif defined(__aarch64__)
#define NATIVE_SCMP_ARCH "SCMP_ARCH_AARCH64"
static const char *const native_arch_names[] = {"arm64", "aarch64", "SCMP_ARCH_AARCH64", NULL};
#else
#error "seccomp: name this architecture for the profiles' archMap and includes.arches"
#endif

/* The SCMP_ARCH_* names libseccomp 2.5 knows; profiles may list any of them. */
static const char *const scmp_arches[] = {
        "SCMP_ARCH_X86",         "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",       "SCMP_ARCH_ARM",     "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS",        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",    "SCMP_ARCH_PPC64",     "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",       "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64", NULL,
};

static void condition_done(SeccompCondition *c) {
        c->arches = strv_free(c->arches);
}

static void rule_done(SeccompRule *r) {
        r->names = strv_free(r->names);
        condition_done(&r->includes);
        condition_done(&r->excludes);
        free(r->where);
        r->where = NULL;
}

SeccompProfile *seccomp_profile_free(SeccompProfile *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_rules; i++)
                rule_done(&p->rules[i]);
        free(p->rules);
        free(p->source);
        strv_free(p->arches);
        free(p);
        return NULL;
}

/* "syscalls[3] (mkdir)", "syscalls[3] (mkdir and 2 more)" */
static char *rule_where(size_t i, char *const *names) {
        size_t n = strv_length(names);
        if (n == 0)
                return xasprintf("syscalls[%zu]", i);
        if (n == 1)
                return xasprintf("syscalls[%zu] (%s)", i, names[0]);
        return xasprintf("syscalls[%zu] (%s and %zu more)", i, names[0], n - 1);
}

/* ---- the default profile ---- */

/* One rule of the built-in profile. Every one fails the call with errno_ret; unless_caps: the
 * rule is left out for a workload that keeps any of these capabilities (excludes.caps). Why each
 * is there: docs/security.md, "seccomp". */
typedef struct DefaultRule {
        const char *names[12];
        uint32_t errno_ret;
        uint64_t unless_caps;
        bool masked; /* arg 0 & mask == value */
        uint64_t mask, value;
} DefaultRule;

/* Namespaces a process could create with clone() or unshare(). A user namespace needs no
 * capability, and is refused to every workload; the others need CAP_SYS_ADMIN anyway. */
static const struct {
        uint64_t flag;
        bool clone; /* valid in clone()'s flags too (CLONE_NEWTIME is only for unshare) */
} namespace_flags[] = {
        {CLONE_NEWUSER, true}, {CLONE_NEWNS, true},  {CLONE_NEWPID, true},    {CLONE_NEWNET, true},
        {CLONE_NEWUTS, true},  {CLONE_NEWIPC, true}, {CLONE_NEWCGROUP, true}, {CLONE_NEWTIME, false},
};

static const DefaultRule default_rules[] = {
        /* Always: no capability makes these safe in a container. */
        {{"keyctl", "add_key", "request_key"}, EPERM, 0},
        {{"userfaultfd"}, EPERM, 0},
        {{"io_uring_setup", "io_uring_enter", "io_uring_register"}, EPERM, 0},
        {{"kexec_load", "kexec_file_load"}, EPERM, 0},
        {{"clone3"}, ENOSYS, 0},
        {{"uselib", "_sysctl", "nfsservctl", "create_module", "get_kernel_syms", "query_module", "vm86", "vm86old",
          "lookup_dcookie"},
         EPERM,
         0},
        /* personality(MMAP_PAGE_ZERO); the query, personality(0xffffffff), has bit 31 set. */
        {{"personality"}, EPERM, 0, true, MMAP_PAGE_ZERO | UINT64_C(0x80000000), MMAP_PAGE_ZERO},

        /* Unless the unit keeps the capability the kernel checks for them too. */
        {{"mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
          "fspick", "mount_setattr"},
         EPERM,
         CAP(SYS_ADMIN)},
        {{"setns"}, EPERM, CAP(SYS_ADMIN)},
        {{"swapon", "swapoff"}, EPERM, CAP(SYS_ADMIN)},
        {{"quotactl", "quotactl_fd"}, EPERM, CAP(SYS_ADMIN)},
        {{"bpf"}, EPERM, CAP(SYS_ADMIN) | CAP(BPF)},
        {{"perf_event_open"}, EPERM, CAP(SYS_ADMIN) | CAP(PERFMON)},
        {{"open_by_handle_at"}, EPERM, CAP(DAC_READ_SEARCH)},
        {{"init_module", "finit_module", "delete_module"}, EPERM, CAP(SYS_MODULE)},
        {{"reboot"}, EPERM, CAP(SYS_BOOT)},
        {{"syslog"}, EPERM, CAP(SYSLOG)},
        {{"acct"}, EPERM, CAP(SYS_PACCT)},
        {{"settimeofday", "stime", "clock_settime", "clock_settime64"}, EPERM, CAP(SYS_TIME)},
        {{"iopl", "ioperm"}, EPERM, CAP(SYS_RAWIO)},
};

static SeccompRule *add_rule(SeccompProfile *p, const char *const *names, size_t n_names, uint32_t errno_ret,
                             uint64_t unless_caps) {
        SeccompRule *r = ARRAY_APPEND(p->rules, p->n_rules);

        for (size_t i = 0; i < n_names && names[i]; i++)
                strv_push(&r->names, xstrdup(names[i]));
        r->action = SECCOMP_ACTION_ERRNO;
        r->has_errno_ret = true;
        r->errno_ret = errno_ret;
        r->excludes.caps = unless_caps;
        r->where = xasprintf("%s", r->names[0]);
        return r;
}

SeccompProfile *seccomp_profile_default(void) {
        SeccompProfile *p = xnew0(SeccompProfile, 1);

        p->source = xstrdup("the default seccomp profile");
        p->default_action = SECCOMP_ACTION_ALLOW;
        /* Every ABI of an x86_64 kernel, so that none is a way around the list: int 0x80 (x86)
         * and x32 (x86_64 numbers with bit 30 set) reach the same kernel code. */
        strv_push(&p->arches, xstrdup("x86_64"));
        strv_push(&p->arches, xstrdup("x86"));
        strv_push(&p->arches, xstrdup("x32"));

        for (size_t i = 0; i < ELEMENTSOF(default_rules); i++) {
                const DefaultRule *d = &default_rules[i];
                SeccompRule *r = add_rule(p, d->names, ELEMENTSOF(d->names), d->errno_ret, d->unless_caps);
                if (d->masked)
                        r->args[r->n_args++] = (SeccompArg){0, SECCOMP_OP_MASKED_EQ, d->mask, d->value};
        }
        /* One rule per flag: a rule's conditions all hold (AND), rules add up (OR). The flags are
         * argument 0 of unshare() and of clone() on x86_64, x86 and x32 alike. clone3() takes
         * them in memory, which seccomp cannot read: it is ENOSYS above, and libcs fall back to
         * clone(). */
        for (size_t i = 0; i < ELEMENTSOF(namespace_flags); i++) {
                uint64_t unless = namespace_flags[i].flag == CLONE_NEWUSER ? 0 : CAP(SYS_ADMIN);
                for (int k = 0; k < 2; k++) {
                        const char *name[] = {k == 0 ? "unshare" : "clone"};
                        SeccompRule *r;
                        if (k == 1 && !namespace_flags[i].clone)
                                continue;
                        r = add_rule(p, name, 1, EPERM, unless);
                        r->args[r->n_args++] =
                                (SeccompArg){0, SECCOMP_OP_MASKED_EQ, namespace_flags[i].flag, namespace_flags[i].flag};
                }
        }
        return p;
}

/* ---- OCI/Docker JSON profiles ---- */

/* The first error only; seccomp_profile_parse() puts the file's name in front. */
typedef struct Parser {
        SupError *error;
} Parser;

static int parse_error(Parser *ps, const char *where, const char *fmt, ...) _printf_(3, 4);
static int parse_error(Parser *ps, const char *where, const char *fmt, ...) {
        va_list ap;

        if (ps->error)
                return -EINVAL;
        va_start(ap, fmt);
        (void) sup_error_makev(&ps->error, -EINVAL, fmt, ap);
        va_end(ap);
        return where ? sup_error_wrap(&ps->error, -EINVAL, "%s", where) : -EINVAL;
}

/* Unknown keys are errors, with a suggestion: a misspelt errnoRet would otherwise become EPERM
 * and a misspelt excludes a rule that always applies. Keys that runtimes ignore (comment, and
 * podman's errno names beside the numbers) are accepted. */
static int check_keys(Parser *ps, const char *where, const json_t *o, const char *const *known) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *) o, key, v) {
                const char *near;
                bool found = false;
                for (const char *const *k = known; *k && !found; k++)
                        found = streq(*k, key);
                if (found)
                        continue;
                near = string_nearest(key, known);
                return parse_error(ps, where, "unknown key \"%s\"%s%s%s", key, near ? " (did you mean \"" : "",
                                   near ?: "", near ? "\"?)" : "");
        }
        return 0;
}

static int parse_strings(Parser *ps, const char *where, const char *key, const json_t *v, bool allow_empty,
                         char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t i;
        json_t *s;

        if (!json_is_array(v) || (!allow_empty && json_array_size(v) == 0))
                return parse_error(ps, where, "%s: expected a list of strings%s", key,
                                   allow_empty ? "" : ", not empty");
        json_array_foreach(v, i, s) {
                if (!json_is_string(s) || json_string_length(s) == 0 ||
                    strlen(json_string_value(s)) != json_string_length(s))
                        return parse_error(ps, where, "%s[%zu]: expected a non-empty string", key, i);
                strv_push(&l, xstrdup(json_string_value(s)));
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_u64(Parser *ps, const char *where, const char *key, const json_t *v, uint64_t max, uint64_t *ret) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return parse_error(ps, where, "%s: expected an integer from 0 to %" PRIu64, key, max);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int parse_action(Parser *ps, const char *where, const char *key, const json_t *v, SeccompAction *ret) {
        const char *s = json_string_value(v), *near;
        SeccompAction a;

        if (!s)
                return parse_error(ps, where, "%s: expected an action like SCMP_ACT_ERRNO", key);
        a = streq(s, "SCMP_ACT_KILL") ? SECCOMP_ACTION_KILL_THREAD : seccomp_action_from_string(s);
        if (a >= 0) {
                *ret = a;
                return 0;
        }
        if (streq(s, "SCMP_ACT_NOTIFY"))
                return parse_error(ps, where, "%s: SCMP_ACT_NOTIFY is not supported (sup has no seccomp agent)", key);
        near = string_nearest(s, seccomp_action_table);
        return parse_error(ps, where, "%s: unknown action \"%s\"%s%s%s", key, s, near ? " (did you mean " : "",
                           near ?: "", near ? "?)" : "");
}

static int parse_arch(Parser *ps, const char *where, const char *key, const char *s, char ***arches) {
        const char *near;
        char *name;

        for (const char *const *a = scmp_arches; *a; a++)
                if (streq(*a, s)) {
                        /* libseccomp's own spelling, as seccomp_arch_resolve_name() takes it. */
                        name = xstrdup(s + strlen("SCMP_ARCH_"));
                        for (char *c = name; *c; c++)
                                *c = (char) tolower((unsigned char) *c);
                        if (!strv_contains(*arches, name))
                                strv_push(arches, name);
                        else
                                free(name);
                        return 0;
                }
        near = string_nearest(s, scmp_arches);
        return parse_error(ps, where, "%s: unknown architecture \"%s\"%s%s%s", key, s, near ? " (did you mean " : "",
                           near ?: "", near ? "?)" : "");
}

static int parse_arches(Parser *ps, const json_t *v, SeccompProfile *p) {
        _cleanup_strv_free_ char **l = NULL;
        int r = parse_strings(ps, NULL, "architectures", v, true, &l);

        for (size_t i = 0; r >= 0 && l && l[i]; i++)
                r = parse_arch(ps, NULL, "architectures", l[i], &p->arches);
        return r;
}

/* Docker's form: for each host architecture, the ones its kernel also runs. Only the entry of
 * this host's architecture counts. */
static int parse_arch_map(Parser *ps, const json_t *v, SeccompProfile *p) {
        static const char *const keys[] = {"architecture", "subArchitectures", NULL};
        size_t i;
        json_t *e;

        if (!json_is_array(v))
                return parse_error(ps, NULL, "archMap: expected a list of {architecture, subArchitectures}");
        json_array_foreach(v, i, e) {
                _cleanup_free_ char *where = xasprintf("archMap[%zu]", i);
                _cleanup_strv_free_ char **subs = NULL;
                const char *arch = json_string_value(json_object_get(e, "architecture"));
                json_t *sv = json_object_get(e, "subArchitectures");
                char **ignored = NULL;
                int r;

                if (!json_is_object(e) || !arch)
                        return parse_error(ps, where, "expected {\"architecture\": ..., \"subArchitectures\": [...]}");
                r = check_keys(ps, where, e, keys);
                if (r < 0)
                        return r;
                if (sv && !json_is_null(sv)) {
                        r = parse_strings(ps, where, "subArchitectures", sv, true, &subs);
                        if (r < 0)
                                return r;
                }
                /* Every name is checked; only the host's entry adds to the filter. */
                bool ours = streq(arch, NATIVE_SCMP_ARCH);
                r = parse_arch(ps, where, "architecture", arch, ours ? &p->arches : &ignored);
                for (size_t k = 0; r >= 0 && subs && subs[k]; k++)
                        r = parse_arch(ps, where, "subArchitectures", subs[k], ours ? &p->arches : &ignored);
                strv_free(ignored);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_min_kernel(Parser *ps, const char *where, const char *s, unsigned ret[2]) {
        unsigned major, minor;
        int n = -1;

        if (!s || sscanf(s, "%u.%u%n", &major, &minor, &n) != 2 || n < 0 || s[n] != 0)
                return parse_error(ps, where, "minKernel: expected a kernel version like \"4.8\", found %s%s%s",
                                   s ? "\"" : "", s ?: "something else", s ? "\"" : "");
        ret[0] = major;
        ret[1] = minor;
        return 0;
}

static int parse_condition(Parser *ps, const char *where, const char *key, const json_t *v, SeccompCondition *c) {
        static const char *const keys[] = {"arches", "caps", "minKernel", NULL};
        _cleanup_free_ char *at = xasprintf("%s: %s", where, key);
        _cleanup_strv_free_ char **caps = NULL;
        json_t *arches, *capv, *mk;
        int r;

        if (json_is_null(v))
                return 0;
        if (!json_is_object(v))
                return parse_error(ps, at, "expected an object with arches, caps or minKernel");
        r = check_keys(ps, at, v, keys);
        if (r < 0)
                return r;
        arches = json_object_get(v, "arches");
        if (arches && !json_is_null(arches)) {
                r = parse_strings(ps, at, "arches", arches, true, &c->arches);
                if (r < 0)
                        return r;
        }
        capv = json_object_get(v, "caps");
        if (capv && !json_is_null(capv)) {
                r = parse_strings(ps, at, "caps", capv, true, &caps);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(name, caps) {
                unsigned cap;
                if (parse_capability(*name, &cap) < 0)
                        return parse_error(ps, at, "caps: unknown capability \"%s\"", *name);
                c->caps |= UINT64_C(1) << cap;
        }
        mk = json_object_get(v, "minKernel");
        if (mk && !json_is_null(mk) && !(json_is_string(mk) && json_string_length(mk) == 0)) {
                r = parse_min_kernel(ps, at, json_string_value(mk), c->min_kernel);
                if (r < 0)
                        return r;
                c->has_min_kernel = true;
        }
        return 0;
}

static int parse_arg(Parser *ps, const char *where, size_t i, const json_t *v, SeccompArg *ret) {
        static const char *const keys[] = {"index", "value", "valueTwo", "op", NULL};
        _cleanup_free_ char *at = xasprintf("%s: args[%zu]", where, i);
        const char *op = json_string_value(json_object_get(v, "op"));
        json_t *two = json_object_get(v, "valueTwo");
        uint64_t index;
        SeccompArg a = {};
        int r;

        if (!json_is_object(v))
                return parse_error(ps, at, "expected {\"index\", \"value\", \"valueTwo\", \"op\"}");
        r = check_keys(ps, at, v, keys);
        if (r < 0)
                return r;
        r = parse_u64(ps, at, "index", json_object_get(v, "index"), SECCOMP_MAX_ARGS - 1, &index);
        if (r < 0)
                return r;
        a.index = (unsigned) index;
        r = parse_u64(ps, at, "value", json_object_get(v, "value"), INT64_MAX, &a.value);
        if (r < 0)
                return r;
        if (two && !json_is_null(two)) {
                r = parse_u64(ps, at, "valueTwo", two, INT64_MAX, &a.value_two);
                if (r < 0)
                        return r;
        }
        a.op = seccomp_op_from_string(op);
        if (a.op < 0) {
                const char *near = op ? string_nearest(op, seccomp_op_table) : NULL;
                return parse_error(ps, at, "op: unknown operator %s%s%s%s%s%s", op ? "\"" : "", op ?: "(none)",
                                   op ? "\"" : "", near ? " (did you mean " : "", near ?: "", near ? "?)" : "");
        }
        *ret = a;
        return 0;
}

static int parse_rule(Parser *ps, size_t i, const json_t *v, SeccompRule *rule) {
        static const char *const keys[] = {"names",    "name",     "action",  "errnoRet", "args",
                                           "includes", "excludes", "comment", "errno",    NULL};
        json_t *names = json_object_get(v, "names"), *name = json_object_get(v, "name"), *args, *e;
        _cleanup_free_ char *at = xasprintf("syscalls[%zu]", i);
        size_t k;
        int r;

        if (!json_is_object(v))
                return parse_error(ps, at, "expected an object with names and action");
        /* Docker's first format had one "name" a rule. */
        if (names && name)
                return parse_error(ps, at, "both names and name: give one");
        if (name) {
                if (!json_is_string(name) || json_string_length(name) == 0)
                        return parse_error(ps, at, "name: expected a system call's name");
                strv_push(&rule->names, xstrdup(json_string_value(name)));
        } else {
                r = parse_strings(ps, at, "names", names ?: json_null(), false, &rule->names);
                if (r < 0)
                        return r;
        }
        rule->where = rule_where(i, rule->names);
        /* What libseccomp can know, and what keeps the canonical text unambiguous. */
        STRV_FOREACH(n, rule->names)
                if (strspn(*n, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(*n))
                        return parse_error(ps, rule->where, "\"%s\" is not a system call's name", *n);
        r = check_keys(ps, rule->where, v, keys);
        if (r < 0)
                return r;
        r = parse_action(ps, rule->where, "action", json_object_get(v, "action"), &rule->action);
        if (r < 0)
                return r;
        e = json_object_get(v, "errnoRet");
        if (e && !json_is_null(e)) {
                uint64_t n;
                if (rule->action != SECCOMP_ACTION_ERRNO && rule->action != SECCOMP_ACTION_TRACE)
                        return parse_error(ps, rule->where,
                                           "errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it, not %s",
                                           seccomp_action_to_string(rule->action));
                r = parse_u64(ps, rule->where, "errnoRet", e, 4095, &n);
                if (r < 0)
                        return r;
                rule->has_errno_ret = true;
                rule->errno_ret = (uint32_t) n;
        }
        args = json_object_get(v, "args");
        if (args && !json_is_null(args)) {
                if (!json_is_array(args))
                        return parse_error(ps, rule->where, "args: expected a list");
                if (json_array_size(args) > SECCOMP_MAX_ARGS)
                        return parse_error(ps, rule->where, "args: at most %d comparisons", SECCOMP_MAX_ARGS);
                json_array_foreach(args, k, e) {
                        r = parse_arg(ps, rule->where, k, e, &rule->args[rule->n_args]);
                        if (r < 0)
                                return r;
                        rule->n_args++;
                }
        }
        r = parse_condition(ps, rule->where, "includes", json_object_get(v, "includes") ?: json_null(),
                            &rule->includes);
        if (r < 0)
                return r;
        return parse_condition(ps, rule->where, "excludes", json_object_get(v, "excludes") ?: json_null(),
                               &rule->excludes);
}

static int parse_flags(Parser *ps, const json_t *v, SeccompProfile *p) {
        _cleanup_strv_free_ char **l = NULL;
        int r = parse_strings(ps, NULL, "flags", v, true, &l);

        if (r < 0)
                return r;
        STRV_FOREACH(f, l) {
                if (streq(*f, "SECCOMP_FILTER_FLAG_LOG"))
                        p->flags |= SECCOMP_FILTER_FLAG_LOG;
                else if (streq(*f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
                        p->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
                else if (streq(*f, "SECCOMP_FILTER_FLAG_TSYNC"))
                        ; /* the workload is one thread when the filter is loaded */
                else
                        return parse_error(ps, NULL,
                                           "flags: \"%s\" is not supported (SECCOMP_FILTER_FLAG_LOG, "
                                           "SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC are)",
                                           *f);
        }
        return 0;
}

int seccomp_profile_parse(const char *path, const char *text, size_t size, SeccompProfile **ret, SupError **ret_error) {
        static const char *const keys[] = {
                "defaultAction", "defaultErrnoRet", "defaultErrno", "architectures",    "archMap",
                "syscalls",      "flags",           "listenerPath", "listenerMetadata", NULL};
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = xnew0(SeccompProfile, 1);
        Parser ps = {};
        json_error_t e;
        json_t *root, *v, *rule;
        size_t i;
        int r;

        root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &e);
        if (!root) {
                r = parse_error(&ps, NULL, "not a JSON profile: line %d, column %d: %s", e.line, e.column, e.text);
                goto out;
        }
        p->source = xstrdup(path);
        if (!json_is_object(root)) {
                r = parse_error(&ps, NULL, "expected an object with defaultAction and syscalls");
                goto out;
        }
        r = check_keys(&ps, NULL, root, keys);
        if (r < 0)
                goto out;
        v = json_object_get(root, "defaultAction");
        if (!v) {
                r = parse_error(&ps, NULL, "defaultAction: missing");
                goto out;
        }
        r = parse_action(&ps, NULL, "defaultAction", v, &p->default_action);
        if (r < 0)
                goto out;
        v = json_object_get(root, "defaultErrnoRet");
        if (v && !json_is_null(v)) {
                uint64_t n;
                if (p->default_action != SECCOMP_ACTION_ERRNO && p->default_action != SECCOMP_ACTION_TRACE) {
                        r = parse_error(&ps, NULL, "defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it");
                        goto out;
                }
                r = parse_u64(&ps, NULL, "defaultErrnoRet", v, 4095, &n);
                if (r < 0)
                        goto out;
                p->has_default_errno_ret = true;
                p->default_errno_ret = (uint32_t) n;
        }
        v = json_object_get(root, "architectures");
        if (v && !json_is_null(v) && (r = parse_arches(&ps, v, p)) < 0)
                goto out;
        v = json_object_get(root, "archMap");
        if (v && !json_is_null(v) && (r = parse_arch_map(&ps, v, p)) < 0)
                goto out;
        v = json_object_get(root, "flags");
        if (v && !json_is_null(v) && (r = parse_flags(&ps, v, p)) < 0)
                goto out;
        v = json_object_get(root, "listenerPath");
        if (v && !(json_is_string(v) && json_string_length(v) == 0)) {
                r = parse_error(&ps, NULL, "listenerPath: seccomp agents (SCMP_ACT_NOTIFY) are not supported");
                goto out;
        }
        v = json_object_get(root, "syscalls");
        if (v && !json_is_null(v) && !json_is_array(v)) {
                r = parse_error(&ps, NULL, "syscalls: expected a list of rules");
                goto out;
        }
        json_array_foreach(v, i, rule) {
                r = parse_rule(&ps, i, rule, ARRAY_APPEND(p->rules, p->n_rules));
                if (r < 0)
                        goto out;
        }
        *ret = TAKE_PTR(p);
        r = 0;
out:
        json_decref(root);
        if (r < 0) {
                r = sup_error_wrap(&ps.error, r, "%s", path);
                if (ret_error && !*ret_error)
                        *ret_error = TAKE_PTR(ps.error);
        }
        sup_error_free(ps.error);
        return r;
}

int seccomp_profile_read(const char *path, char **ret_text, size_t *ret_size, SupError **ret_error) {
        int r = read_full_file(path, SECCOMP_PROFILE_MAX, ret_text, ret_size);

        if (r == -EFBIG)
                return sup_error_make(ret_error, r, "%s: larger than %u bytes", path, SECCOMP_PROFILE_MAX);
        if (r < 0)
                return sup_error_errno(ret_error, r, "%s: cannot read it", path);
        return 0;
}

int seccomp_profile_load(const char *path, SeccompProfile **ret, SupError **ret_error) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = seccomp_profile_read(path, &text, &size, ret_error);

        return r < 0 ? r : seccomp_profile_parse(path, text, size, ret, ret_error);
}

/* ---- resolving ---- */

SeccompTarget seccomp_target_host(uint64_t caps) {
        SeccompTarget t = {.arch_names = native_arch_names, .caps = caps};
        struct utsname u;

        if (uname(&u) == 0)
                (void) sscanf(u.release, "%u.%u", &t.kernel[0], &t.kernel[1]);
        return t;
}

static bool kernel_at_least(const SeccompTarget *t, const unsigned v[2]) {
        return t->kernel[0] != v[0] ? t->kernel[0] > v[0] : t->kernel[1] >= v[1];
}

static bool arch_matches(const SeccompTarget *t, char *const *arches) {
        for (const char *const *a = t->arch_names; *a; a++)
                if (strv_contains(arches, *a))
                        return true;
        return false;
}

/* Docker's semantics: includes hold all together, excludes by any one part. */
static bool rule_applies(const SeccompRule *r, const SeccompTarget *t) {
        const SeccompCondition *in = &r->includes, *ex = &r->excludes;

        if (in->arches && !arch_matches(t, in->arches))
                return false;
        if ((in->caps & t->caps) != in->caps)
                return false;
        if (in->has_min_kernel && !kernel_at_least(t, in->min_kernel))
                return false;
        if (ex->arches && arch_matches(t, ex->arches))
                return false;
        if (ex->caps & t->caps)
                return false;
        if (ex->has_min_kernel && kernel_at_least(t, ex->min_kernel))
                return false;
        return true;
}

SeccompProfile *seccomp_profile_resolve(const SeccompProfile *p, const SeccompTarget *t) {
        SeccompProfile *out = xnew0(SeccompProfile, 1);

        out->source = xstrdup(p->source);
        out->default_action = p->default_action;
        out->has_default_errno_ret = p->has_default_errno_ret;
        out->default_errno_ret = p->default_errno_ret;
        out->arches = strv_copy(p->arches);
        out->flags = p->flags;
        for (size_t i = 0; i < p->n_rules; i++) {
                const SeccompRule *r = &p->rules[i];
                SeccompRule *c;
                if (!rule_applies(r, t))
                        continue;
                c = ARRAY_APPEND(out->rules, out->n_rules);
                c->names = strv_copy(r->names);
                c->action = r->action;
                c->has_errno_ret = r->has_errno_ret;
                c->errno_ret = r->errno_ret;
                memcpy(c->args, r->args, sizeof(c->args));
                c->n_args = r->n_args;
                c->where = xstrdup(r->where);
        }
        return out;
}

/* Lines of words: the names (only [a-z0-9_], see parse_rule()), the actions' and operators'
 * table names and numbers cannot run into each other. Written by hand rather than as JSON: it is
 * computed at every start, and jansson takes ten times as long. */
char *seccomp_profile_canonical(const SeccompProfile *p) {
        _cleanup_strv_free_ char **arches = strv_copy(p->arches);
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                abort(); /* out of memory, as xmalloc() */
        strv_sort(arches);
        fprintf(f, "sup-seccomp-profile 1\ndefault %s", seccomp_action_to_string(p->default_action));
        if (p->has_default_errno_ret)
                fprintf(f, " %" PRIu32, p->default_errno_ret);
        fputs("\narches", f);
        STRV_FOREACH(a, arches)
                fprintf(f, " %s", *a);
        fprintf(f, "\nflags %" PRIu32 "\n", p->flags);
        /* Names as given: the compiler skips the ones libseccomp does not know. Rule order is
         * kept: where rules of one call overlap, libseccomp keeps the first. */
        for (size_t i = 0; i < p->n_rules; i++) {
                const SeccompRule *r = &p->rules[i];
                fprintf(f, "rule %s", seccomp_action_to_string(r->action));
                if (r->has_errno_ret)
                        fprintf(f, " %" PRIu32, r->errno_ret);
                fputs(" names", f);
                STRV_FOREACH(n, r->names)
                        fprintf(f, " %s", *n);
                for (size_t k = 0; k < r->n_args; k++)
                        fprintf(f, " arg %u %s %" PRIu64 " %" PRIu64, r->args[k].index,
                                seccomp_op_to_string(r->args[k].op), r->args[k].value, r->args[k].value_two);
                fputc('\n', f);
        }
        if (fclose(f) != 0)
                abort();
        return buf;
}
