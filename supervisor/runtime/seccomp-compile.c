/* SPDX-License-Identifier: MIT */
#include "seccomp-compile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "alloc.h"
#include "caps.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

static const char *const seccomp_origin_table[_SECCOMP_ORIGIN_MAX] = {
        [SECCOMP_ORIGIN_NONE] = "none",         [SECCOMP_ORIGIN_MEMORY] = "memory", [SECCOMP_ORIGIN_DISK] = "disk",
        [SECCOMP_ORIGIN_COMPILED] = "compiled", [SECCOMP_ORIGIN_AHEAD] = "ahead",
};
DEFINE_STRING_TABLE_LOOKUP(seccomp_origin, SeccompOrigin, _SECCOMP_ORIGIN_MAX);

const char *seccomp_library_version(void) {
        static char buf[32];
        const struct scmp_version *v;

        if (!buf[0]) {
                v = seccomp_version();
                snprintf(buf, sizeof(buf), "%u.%u.%u", v->major, v->minor, v->micro);
        }
        return buf;
}

static uint32_t scmp_action(SeccompAction a, bool has_errno, uint32_t errno_ret) {
        switch (a) {
        case SECCOMP_ACTION_ALLOW:
                return SCMP_ACT_ALLOW;
        case SECCOMP_ACTION_ERRNO:
                return SCMP_ACT_ERRNO(has_errno ? errno_ret : EPERM);
        case SECCOMP_ACTION_KILL_THREAD:
                return SCMP_ACT_KILL_THREAD;
        case SECCOMP_ACTION_KILL_PROCESS:
                return SCMP_ACT_KILL_PROCESS;
        case SECCOMP_ACTION_TRAP:
                return SCMP_ACT_TRAP;
        case SECCOMP_ACTION_TRACE:
                return SCMP_ACT_TRACE(has_errno ? errno_ret : EPERM);
        case SECCOMP_ACTION_LOG:
                return SCMP_ACT_LOG;
        case _SECCOMP_ACTION_MAX:
        case _SECCOMP_ACTION_INVALID:
                break;
        }
        return SCMP_ACT_KILL_PROCESS; /* not reached: the parser knows no other actions */
}

static enum scmp_compare scmp_op(SeccompOp op) {
        switch (op) {
        case SECCOMP_OP_NE:
                return SCMP_CMP_NE;
        case SECCOMP_OP_LT:
                return SCMP_CMP_LT;
        case SECCOMP_OP_LE:
                return SCMP_CMP_LE;
        case SECCOMP_OP_EQ:
                return SCMP_CMP_EQ;
        case SECCOMP_OP_GE:
                return SCMP_CMP_GE;
        case SECCOMP_OP_GT:
                return SCMP_CMP_GT;
        case SECCOMP_OP_MASKED_EQ:
                return SCMP_CMP_MASKED_EQ;
        case _SECCOMP_OP_MAX:
        case _SECCOMP_OP_INVALID:
                break;
        }
        return _SCMP_CMP_MIN; /* not reached; libseccomp refuses it */
}

/* Where two rules without arguments name one call, the first holds: libseccomp keeps the first
 * action it was given, silently, and profiles rely on it (podman's allows setns in its long list
 * and denies it again further down for workloads without CAP_SYS_ADMIN). runc and crun behave the
 * same, adding the rules in the file's order as here. */
static int add_rule(scmp_filter_ctx ctx, const SeccompProfile *p, const SeccompRule *rule, uint32_t action,
                    char ***unknown, SupError **ret_error) {
        struct scmp_arg_cmp cmp[SECCOMP_MAX_ARGS];
        bool repeated = false;
        unsigned used = 0;

        for (size_t k = 0; k < rule->n_args; k++) {
                const SeccompArg *a = &rule->args[k];
                cmp[k] = (struct scmp_arg_cmp){a->index, scmp_op(a->op), a->value, a->value_two};
                repeated = repeated || (used & (1U << a->index));
                used |= 1U << a->index;
        }
        STRV_FOREACH(name, rule->names) {
                int nr = seccomp_syscall_resolve_name(*name), r = 0;

                if (nr == __NR_SCMP_ERROR) {
                        if (!strv_contains(*unknown, *name))
                                strv_push(unknown, xstrdup(*name));
                        continue;
                }
                /* libseccomp takes one comparison per argument in a rule. A profile that compares
                 * one argument twice gets a rule per comparison, as runc does it: any of them. */
                if (repeated)
                        for (size_t k = 0; k < rule->n_args && r >= 0; k++)
                                r = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[k]);
                else
                        r = seccomp_rule_add_array(ctx, action, nr, (unsigned) rule->n_args, cmp);
                if (r < 0) {
                        r = sup_error_errno(ret_error, r, "%s: libseccomp refused the rule", *name);
                        return rule->where ? sup_error_wrap(ret_error, r, "%s", rule->where) : r;
                }
        }
        return 0;
}

static int export_program(scmp_filter_ctx ctx, const SeccompProfile *p, SeccompProgram **ret, SupError **ret_error) {
        _cleanup_close_ int fd = memfd_create("sup-seccomp", MFD_CLOEXEC);
        _cleanup_free_ struct sock_filter *insns = NULL;
        off_t size;
        int r;

        if (fd < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot create a memfd");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return sup_error_errno(ret_error, r, "libseccomp cannot export the filter");
        size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % (off_t) sizeof(struct sock_filter) != 0 ||
            size / (off_t) sizeof(struct sock_filter) > BPF_MAXINSNS)
                return sup_error_make(ret_error, -E2BIG,
                                      "the filter has %jd bytes: the kernel takes at most %d instructions of %zu",
                                      (intmax_t) size, BPF_MAXINSNS, sizeof(struct sock_filter));
        insns = xmalloc((size_t) size);
        if (pread(fd, insns, (size_t) size, 0) != size)
                return sup_error_make(ret_error, -EIO, "cannot read the exported filter back");
        *ret = seccomp_program_new(insns, (size_t) size / sizeof(struct sock_filter), p->flags);
        return 0;
}

/* seccomp_compile() without the profile's name in front of its errors. */
static int compile_filter(const SeccompProfile *p, SeccompProgram **ret, char ***unknown, SupError **ret_error) {
        uint32_t def = scmp_action(p->default_action, p->has_default_errno_ret, p->default_errno_ret);
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(def);
        int r;

        if (!ctx)
                return sup_error_make(ret_error, -EINVAL, "libseccomp refuses %s as the default action",
                                      seccomp_action_to_string(p->default_action));
        /* A system call of an architecture the filter does not know ends the process: never a
         * way around the rules. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot set the action for other architectures");
        /* The rules as a binary tree of system call numbers rather than a list: the kernel runs
         * the filter for every number at seccomp() to find those it always allows (its cache),
         * and that load took 0.33 ms of each start with the default profile as a list, 0.19 ms as
         * a tree (0.94 and 0.37 ms with podman's; bench/seccomp.sh). A call the cache does not
         * decide walks log(n) comparisons instead of n. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot ask libseccomp for a binary tree");
        STRV_FOREACH(arch, p->arches) {
                uint32_t token = seccomp_arch_resolve_name(*arch);
                if (token == 0)
                        return sup_error_make(ret_error, -EINVAL, "libseccomp does not know the architecture %s",
                                              *arch);
                r = seccomp_arch_add(ctx, token);
                if (r < 0 && r != -EEXIST) /* the native one is there from the start */
                        return sup_error_errno(ret_error, r, "cannot add the architecture %s", *arch);
        }
        for (size_t i = 0; i < p->n_rules; i++) {
                const SeccompRule *rule = &p->rules[i];
                uint32_t action = scmp_action(rule->action, rule->has_errno_ret, rule->errno_ret);
                /* libseccomp refuses a rule that does what the default does; it changes nothing. */
                if (action == def)
                        continue;
                r = add_rule(ctx, p, rule, action, unknown, ret_error);
                if (r < 0)
                        return r;
        }
        return export_program(ctx, p, ret, ret_error);
}

int seccomp_compile(const SeccompProfile *p, SeccompProgram **ret, char ***ret_unknown, SupError **ret_error) {
        _cleanup_strv_free_ char **unknown = NULL;
        int r;

        r = compile_filter(p, ret, &unknown, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "%s", p->source);
        if (ret_unknown)
                *ret_unknown = TAKE_PTR(unknown);
        return 0;
}

/* ---- the caches ---- */

void seccomp_cache_done(SeccompCache *c) {
        c->program = seccomp_program_free(c->program);
        c->key[0] = c->source_key[0] = 0;
        c->made_ahead = false;
}

void seccomp_prepared_done(SeccompPrepared *p) {
        p->unknown = strv_free(p->unknown);
        free(p->cache_error);
        p->cache_error = NULL;
}

#define CACHE_MAGIC "sup-seccomp-bpf 1"

static char *cache_path(const char *dir, const char *key) {
        _cleanup_free_ char *name = xasprintf("%s.bpf", key);
        return path_join(dir, name);
}

/* NULL when there is no usable file: missing, or not what its header says. */
static SeccompProgram *cache_read(const char *dir, const char *key) {
        _cleanup_free_ char *path = cache_path(dir, key), *data = NULL;
        _cleanup_(seccomp_program_freep) SeccompProgram *p = NULL;
        char digest[65], want[65];
        unsigned flags;
        size_t size, len;
        int n = -1;

        if (read_full_file(path, 4096 + BPF_MAXINSNS * sizeof(struct sock_filter), &data, &size) < 0)
                return NULL;
        if (sscanf(data, CACHE_MAGIC " %x %zu %64[0-9a-f]%n", &flags, &len, want, &n) != 3 || n < 0 ||
            data[n] != '\n' || size - (size_t) n - 1 != len * sizeof(struct sock_filter))
                return NULL;
        p = seccomp_program_new((const struct sock_filter *) (data + n + 1), len, flags);
        if (!p)
                return NULL;
        seccomp_program_digest(p, digest);
        return streq(digest, want) ? TAKE_PTR(p) : NULL;
}

static int cache_write(const char *dir, const char *key, const SeccompProgram *p) {
        _cleanup_free_ char *path = cache_path(dir, key), *header = NULL, *data = NULL;
        size_t hlen, blen = p->len * sizeof(struct sock_filter);
        char digest[65];
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        seccomp_program_digest(p, digest);
        header = xasprintf(CACHE_MAGIC " %x %zu %s\n", p->flags, p->len, digest);
        hlen = strlen(header);
        data = xmalloc(hlen + blen);
        memcpy(data, header, hlen);
        memcpy(data + hlen, p->insns, blen);
        return write_file_atomic(path, data, hlen + blen, 0600);
}

/* Which filter compile_filter() makes of a profile, in the keys of what it made before: changed
 * whenever the same profile would compile to another program (2: libseccomp's binary tree). */
#define COMPILER_GENERATION "2"

static void cache_key(const char *canonical, char ret[65]) {
        _cleanup_free_ char *text = xasprintf("sup seccomp " COMPILER_GENERATION "\nlibseccomp %s\n%s",
                                              seccomp_library_version(), canonical);
        sha256_hex(text, strlen(text), ret);
}

/* What the instance's own copy is checked against before anything is parsed: the profile as it
 * is now (the file's bytes) and what it is resolved with. Equal keys, equal filters: the parse,
 * resolve and compile of the copy's start would give the same again. */
static void source_key(const char *text, size_t size, const SeccompTarget *t, char ret[65]) {
        _cleanup_free_ char *head = xasprintf(
                "sup seccomp source " COMPILER_GENERATION "\nlibseccomp %s\ncaps %" PRIx64 "\nkernel %u.%u\n%s\n",
                seccomp_library_version(), t->caps, t->kernel[0], t->kernel[1], text ? "file" : "default");
        Sha256 h;

        sha256_init(&h);
        sha256_update(&h, head, strlen(head));
        if (text)
                sha256_update(&h, text, size);
        sha256_final_hex(&h, ret);
}

uint64_t seccomp_unit_caps(const UnitSpec *u) {
        unsigned unsupported;
        CapSets caps;

        /* The unit's set as the capabilities code makes it: the bounding set, what the workload
         * can ever hold. A capability this kernel lacks fails the start in workload_exec(). */
        if (caps_for_unit(u, true, caps_last_cap(), &caps, &unsupported) < 0)
                return 0;
        return caps.bounding;
}

int seccomp_prepare(const UnitSpec *u, uint64_t caps, const char *cache_dir, SeccompCache *cache, SeccompPrepared *ret,
                    SupError **ret_error) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *profile = NULL, *resolved = NULL;
        _cleanup_(seccomp_program_freep) SeccompProgram *program = NULL;
        _cleanup_strv_free_ char **unknown = NULL;
        _cleanup_free_ char *canonical = NULL, *text = NULL;
        usec_t start = now(CLOCK_MONOTONIC), t;
        SeccompPrepared out = {.origin = SECCOMP_ORIGIN_NONE};
        SeccompTarget target = seccomp_target_host(caps);
        char key[65], skey[65];
        size_t size = 0;
        int r;

        switch (u->security.seccomp) {
        case SECCOMP_UNCONFINED:
                *ret = out;
                return 0;
        case SECCOMP_DEFAULT:
                break;
        case SECCOMP_PROFILE:
                r = seccomp_profile_read(u->security.seccomp_profile, &text, &size, ret_error);
                if (r < 0)
                        return r;
                break;
        case _SECCOMP_MODE_MAX:
        case _SECCOMP_MODE_INVALID:
                return sup_error_make(ret_error, -EINVAL, "security.seccomp: an unknown mode");
        }
        out.source = text ? u->security.seccomp_profile : "the default seccomp profile";

        /* The instance's restart: the file has not changed, nor has anything it is resolved with. */
        source_key(text, size, &target, skey);
        if (cache->program && streq(cache->source_key, skey)) {
                out.origin = cache->made_ahead ? SECCOMP_ORIGIN_AHEAD : SECCOMP_ORIGIN_MEMORY;
                cache->made_ahead = false;
                goto done;
        }

        if (text) {
                r = seccomp_profile_parse(u->security.seccomp_profile, text, size, &profile, ret_error);
                if (r < 0)
                        return r;
        } else
                profile = seccomp_profile_default();
        resolved = seccomp_profile_resolve(profile, &target);
        canonical = seccomp_profile_canonical(resolved);
        cache_key(canonical, key);

        if (cache->program && streq(cache->key, key))
                program = TAKE_PTR(cache->program); /* an edit that changed nothing the filter holds */
        else if (cache_dir && (program = cache_read(cache_dir, key)))
                out.origin = SECCOMP_ORIGIN_DISK;
        if (!program) {
                t = now(CLOCK_MONOTONIC);
                r = seccomp_compile(resolved, &program, &unknown, ret_error);
                if (r < 0)
                        return r;
                out.compile_usec = now(CLOCK_MONOTONIC) - t;
                out.origin = SECCOMP_ORIGIN_COMPILED;
                out.unknown = TAKE_PTR(unknown);
                r = cache_dir ? cache_write(cache_dir, key, program) : 0;
                if (r < 0)
                        out.cache_error =
                                xasprintf("cannot write the seccomp cache in %s: %s", cache_dir, strerror(-r));
        }
        if (out.origin == SECCOMP_ORIGIN_NONE)
                out.origin = SECCOMP_ORIGIN_MEMORY;
        seccomp_cache_done(cache);
        cache->program = TAKE_PTR(program);
        memcpy(cache->key, key, sizeof(key));
        memcpy(cache->source_key, skey, sizeof(skey));
done:
        out.program = cache->program;
        out.usec = now(CLOCK_MONOTONIC) - start;
        *ret = out;
        return 0;
}
