/* SPDX-License-Identifier: MIT */
/* seccomp: the OCI/Docker profile parser and its messages, includes/excludes, the default
 * profile's rules, the compiled filters (run here through a classic-BPF interpreter of the test's
 * own, for every ABI, without loading anything), the caches, the guest's form of a program, and
 * one filter really loaded in a child (unprivileged: no_new_privs is enough). */
#include "test-helpers.h"

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "path-util.h"
#include "seccomp-compile.h"
#include "seccomp-filter.h"
#include "seccomp-profile.h"
#include "string-util.h"

#define CAPBIT(c) (UINT64_C(1) << (c))

/* ---- a classic BPF interpreter, enough for what libseccomp emits and more ---- */

static uint32_t bpf_run(const SeccompProgram *p, const struct seccomp_data *d) {
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};

        for (size_t pc = 0; pc < p->len; pc++) {
                const struct sock_filter *f = &p->insns[pc];
                uint32_t src = BPF_SRC(f->code) == BPF_X ? x : f->k;
                switch (BPF_CLASS(f->code)) {
                case BPF_LD:
                case BPF_LDX: {
                        uint32_t v = 0;
                        switch (BPF_MODE(f->code)) {
                        case BPF_ABS:
                                assert_true(BPF_SIZE(f->code) == BPF_W && f->k % 4 == 0 && f->k < sizeof(*d));
                                memcpy(&v, (const uint8_t *) d + f->k, 4);
                                break;
                        case BPF_IMM:
                                v = f->k;
                                break;
                        case BPF_MEM:
                                assert_true(f->k < BPF_MEMWORDS);
                                v = mem[f->k];
                                break;
                        case BPF_LEN:
                                v = sizeof(*d);
                                break;
                        default:
                                fail_msg("pc %zu: load mode %#x", pc, f->code);
                        }
                        if (BPF_CLASS(f->code) == BPF_LD)
                                a = v;
                        else
                                x = v;
                        break;
                }
                case BPF_ST:
                case BPF_STX:
                        assert_true(f->k < BPF_MEMWORDS);
                        mem[f->k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
                        break;
                case BPF_ALU:
                        switch (BPF_OP(f->code)) {
                        case BPF_ADD:
                                a += src;
                                break;
                        case BPF_SUB:
                                a -= src;
                                break;
                        case BPF_MUL:
                                a *= src;
                                break;
                        case BPF_DIV:
                                assert_true(src != 0);
                                a /= src;
                                break;
                        case BPF_MOD:
                                assert_true(src != 0);
                                a %= src;
                                break;
                        case BPF_OR:
                                a |= src;
                                break;
                        case BPF_AND:
                                a &= src;
                                break;
                        case BPF_XOR:
                                a ^= src;
                                break;
                        case BPF_LSH:
                                a <<= src;
                                break;
                        case BPF_RSH:
                                a >>= src;
                                break;
                        case BPF_NEG:
                                a = -a;
                                break;
                        default:
                                fail_msg("pc %zu: alu op %#x", pc, f->code);
                        }
                        break;
                case BPF_JMP: {
                        bool t = false;
                        switch (BPF_OP(f->code)) {
                        case BPF_JA:
                                pc += f->k;
                                continue;
                        case BPF_JEQ:
                                t = a == src;
                                break;
                        case BPF_JGT:
                                t = a > src;
                                break;
                        case BPF_JGE:
                                t = a >= src;
                                break;
                        case BPF_JSET:
                                t = (a & src) != 0;
                                break;
                        default:
                                fail_msg("pc %zu: jump op %#x", pc, f->code);
                        }
                        pc += t ? f->jt : f->jf;
                        break;
                }
                case BPF_RET:
                        return BPF_RVAL(f->code) == BPF_A ? a : f->k;
                case BPF_MISC:
                        if (BPF_MISCOP(f->code) == BPF_TAX)
                                x = a;
                        else
                                a = x;
                        break;
                default:
                        fail_msg("pc %zu: class %#x", pc, f->code);
                }
        }
        fail_msg("the program ran off its end");
        return 0;
}

/* What the filter does with NAME on an ABI (libseccomp's number for it there) and arg 0. x32 calls
 * reach a filter as x86_64's, with the x32 bit in the number. */
static uint32_t verdict(const SeccompProgram *p, uint32_t scmp_arch, const char *name, uint64_t arg0) {
        struct seccomp_data d = {.arch = scmp_arch == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : scmp_arch, .args = {arg0}};
        int nr = seccomp_syscall_resolve_name_arch(scmp_arch, name);

        if (nr < 0)
                fail_msg("%s is no system call of arch %#x", name, scmp_arch);
        d.nr = nr;
        return bpf_run(p, &d);
}

#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | (e))
#define ABIS \
        { SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32 }

/* A workload's target on an amd64 host with a fixed kernel, so that nothing depends on uname. */
static const char *const amd64[] = {"amd64", "x86_64", "SCMP_ARCH_X86_64", NULL};
static SeccompTarget target(uint64_t caps) {
        return (SeccompTarget){.arch_names = amd64, .caps = caps, .kernel = {6, 1}};
}

static SeccompProgram *compile_or_fail(const SeccompProfile *p, const SeccompTarget *t) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *r = seccomp_profile_resolve(p, t);
        SeccompProgram *prog = NULL;
        _cleanup_sup_error_ SupError *error = NULL;

        if (seccomp_compile(r, &prog, NULL, &error) < 0)
                fail_msg("compile: %s", sup_error_message(error));
        return prog;
}

static SeccompProfile *parse_or_fail(const char *json) {
        SeccompProfile *p = NULL;
        _cleanup_sup_error_ SupError *error = NULL;

        if (seccomp_profile_parse("/etc/p.json", json, strlen(json), &p, &error) < 0)
                fail_msg("%s: %s", json, sup_error_message(error));
        return p;
}

/* ---- tables ---- */

static void test_tables(void **state) {
        for (SeccompAction a = 0; a < _SECCOMP_ACTION_MAX; a++)
                assert_int_equal(seccomp_action_from_string(seccomp_action_to_string(a)), a);
        for (SeccompOp o = 0; o < _SECCOMP_OP_MAX; o++)
                assert_int_equal(seccomp_op_from_string(seccomp_op_to_string(o)), o);
        for (SeccompOrigin o = 0; o < _SECCOMP_ORIGIN_MAX; o++)
                assert_int_equal(seccomp_origin_from_string(seccomp_origin_to_string(o)), o);
        assert_int_equal(seccomp_action_from_string("SCMP_ACT_NOPE"), _SECCOMP_ACTION_INVALID);
        assert_null(seccomp_action_to_string(_SECCOMP_ACTION_MAX));
}

/* ---- the default profile ---- */

/* docs/security.md's list: each call, what it gets, and which kept capability gives it back. */
static const struct {
        const char *name;
        int errno_ret;
        uint64_t unless_caps;
} default_denied[] = {
        {"keyctl", EPERM, 0},
        {"add_key", EPERM, 0},
        {"request_key", EPERM, 0},
        {"userfaultfd", EPERM, 0},
        {"io_uring_setup", EPERM, 0},
        {"io_uring_enter", EPERM, 0},
        {"io_uring_register", EPERM, 0},
        {"kexec_load", EPERM, 0},
        {"kexec_file_load", EPERM, 0},
        {"clone3", ENOSYS, 0},
        {"uselib", EPERM, 0},
        {"_sysctl", EPERM, 0},
        {"nfsservctl", EPERM, 0},
        {"create_module", EPERM, 0},
        {"get_kernel_syms", EPERM, 0},
        {"query_module", EPERM, 0},
        {"vm86", EPERM, 0},
        {"vm86old", EPERM, 0},
        {"lookup_dcookie", EPERM, 0},
        {"mount", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"umount", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"umount2", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"pivot_root", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"move_mount", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"open_tree", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"fsopen", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"fsconfig", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"fsmount", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"fspick", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"mount_setattr", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"setns", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"swapon", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"swapoff", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"quotactl", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"quotactl_fd", EPERM, CAPBIT(CAP_SYS_ADMIN)},
        {"bpf", EPERM, CAPBIT(CAP_SYS_ADMIN) | CAPBIT(CAP_BPF)},
        {"perf_event_open", EPERM, CAPBIT(CAP_SYS_ADMIN) | CAPBIT(CAP_PERFMON)},
        {"open_by_handle_at", EPERM, CAPBIT(CAP_DAC_READ_SEARCH)},
        {"init_module", EPERM, CAPBIT(CAP_SYS_MODULE)},
        {"finit_module", EPERM, CAPBIT(CAP_SYS_MODULE)},
        {"delete_module", EPERM, CAPBIT(CAP_SYS_MODULE)},
        {"reboot", EPERM, CAPBIT(CAP_SYS_BOOT)},
        {"syslog", EPERM, CAPBIT(CAP_SYSLOG)},
        {"acct", EPERM, CAPBIT(CAP_SYS_PACCT)},
        {"settimeofday", EPERM, CAPBIT(CAP_SYS_TIME)},
        {"stime", EPERM, CAPBIT(CAP_SYS_TIME)},
        {"clock_settime", EPERM, CAPBIT(CAP_SYS_TIME)},
        {"clock_settime64", EPERM, CAPBIT(CAP_SYS_TIME)},
        {"iopl", EPERM, CAPBIT(CAP_SYS_RAWIO)},
        {"ioperm", EPERM, CAPBIT(CAP_SYS_RAWIO)},
};

/* Left alone on purpose (docs/security.md says why). */
static const char *const default_allowed[] = {
        "read",      "write",
        "execve",    "getpid",
        "ptrace",    "process_vm_readv",
        "chroot",    "name_to_handle_at",
        "adjtimex",  "clock_adjtime",
        "seccomp",   "prctl",
        "capset",    "setresuid",
        "setgroups", "sethostname",
        "kcmp",      "mknod",
};

static void test_default_rules(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = seccomp_profile_default();
        size_t listed = 0;

        assert_int_equal(p->default_action, SECCOMP_ACTION_ALLOW);
        assert_int_equal(strv_length(p->arches), 3);
        assert_true(strv_contains(p->arches, "x86_64") && strv_contains(p->arches, "x86") &&
                    strv_contains(p->arches, "x32"));
        /* Every rule fails the call; every name is one libseccomp knows (a misspelt name would be
         * skipped silently by the compiler). The plain rules are exactly the documented list. */
        for (size_t i = 0; i < p->n_rules; i++) {
                const SeccompRule *r = &p->rules[i];
                assert_int_equal(r->action, SECCOMP_ACTION_ERRNO);
                assert_true(r->has_errno_ret);
                assert_null(r->includes.arches);
                assert_int_equal(r->includes.caps, 0);
                STRV_FOREACH(n, r->names) {
                        bool found = false;
                        if (seccomp_syscall_resolve_name(*n) == __NR_SCMP_ERROR)
                                fail_msg("libseccomp does not know %s", *n);
                        if (r->n_args > 0)
                                continue;
                        for (size_t k = 0; k < ELEMENTSOF(default_denied) && !found; k++)
                                if (streq(default_denied[k].name, *n)) {
                                        found = true;
                                        assert_int_equal(r->errno_ret, default_denied[k].errno_ret);
                                        assert_int_equal(r->excludes.caps, default_denied[k].unless_caps);
                                }
                        if (!found)
                                fail_msg("%s is denied but not in the documented list", *n);
                        listed++;
                }
        }
        assert_int_equal(listed, ELEMENTSOF(default_denied));
}

static void test_default_filter(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = seccomp_profile_default();
        _cleanup_(seccomp_program_freep) SeccompProgram *none = compile_or_fail(p, &(SeccompTarget){amd64, 0, {6, 1}});
        const uint32_t abis[] = ABIS;

        for (size_t a = 0; a < ELEMENTSOF(abis); a++) {
                for (size_t i = 0; i < ELEMENTSOF(default_denied); i++) {
                        /* Some calls exist on some ABIs only (vm86 on x86, iopl not on x32...). */
                        if (seccomp_syscall_resolve_name_arch(abis[a], default_denied[i].name) < 0)
                                continue;
                        if (verdict(none, abis[a], default_denied[i].name, 0) != RET_ERRNO(default_denied[i].errno_ret))
                                fail_msg("%s on arch %#x: %#x", default_denied[i].name, abis[a],
                                         verdict(none, abis[a], default_denied[i].name, 0));
                }
                for (size_t i = 0; i < ELEMENTSOF(default_allowed); i++) {
                        if (seccomp_syscall_resolve_name_arch(abis[a], default_allowed[i]) < 0)
                                continue;
                        if (verdict(none, abis[a], default_allowed[i], 0) != SECCOMP_RET_ALLOW)
                                fail_msg("%s on arch %#x is not allowed", default_allowed[i], abis[a]);
                }
                /* Flags are argument 0 of clone() on all three ABIs. */
                assert_int_equal(verdict(none, abis[a], "clone", SIGCHLD), SECCOMP_RET_ALLOW);
                assert_int_equal(verdict(none, abis[a], "clone", CLONE_VM | CLONE_THREAD | CLONE_SIGHAND),
                                 SECCOMP_RET_ALLOW);
                assert_int_equal(verdict(none, abis[a], "clone", CLONE_NEWUSER | SIGCHLD), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "clone", CLONE_NEWNET), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "unshare", CLONE_NEWUSER), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "unshare", CLONE_NEWNS | CLONE_FS), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "unshare", CLONE_NEWTIME), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "unshare", CLONE_FILES | CLONE_FS), SECCOMP_RET_ALLOW);
                assert_int_equal(verdict(none, abis[a], "personality", MMAP_PAGE_ZERO), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "personality", PER_LINUX32 | MMAP_PAGE_ZERO), RET_ERRNO(EPERM));
                assert_int_equal(verdict(none, abis[a], "personality", 0xffffffff), SECCOMP_RET_ALLOW);
                assert_int_equal(verdict(none, abis[a], "personality", PER_LINUX32), SECCOMP_RET_ALLOW);
                assert_int_equal(verdict(none, abis[a], "personality", ADDR_NO_RANDOMIZE), SECCOMP_RET_ALLOW);
        }
        /* x86_64 registers are 64 bits: high bits do not hide a flag the kernel reads. */
        assert_int_equal(verdict(none, SCMP_ARCH_X86_64, "unshare", UINT64_C(0x100000000) | CLONE_NEWUSER),
                         RET_ERRNO(EPERM));
        /* Another architecture's calls never pass: the process dies. */
        struct seccomp_data d = {.nr = 0, .arch = AUDIT_ARCH_AARCH64};
        assert_int_equal(bpf_run(none, &d), SECCOMP_RET_KILL_PROCESS);
}

/* A unit that keeps a capability gets the calls the kernel checks it for; never a user namespace,
 * the keyring or kexec. */
static void test_default_caps(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = seccomp_profile_default();
        _cleanup_(seccomp_program_freep) SeccompProgram *admin =
                compile_or_fail(p, &(SeccompTarget){amd64, CAPBIT(CAP_SYS_ADMIN), {6, 1}});
        _cleanup_(seccomp_program_freep) SeccompProgram *all =
                compile_or_fail(p, &(SeccompTarget){amd64, ~UINT64_C(0), {6, 1}});

        assert_int_equal(verdict(admin, SCMP_ARCH_X86_64, "mount", 0), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(admin, SCMP_ARCH_X86, "setns", 0), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(admin, SCMP_ARCH_X86_64, "unshare", CLONE_NEWNS), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(admin, SCMP_ARCH_X86_64, "unshare", CLONE_NEWNS | CLONE_NEWUSER), RET_ERRNO(EPERM));
        assert_int_equal(verdict(admin, SCMP_ARCH_X86_64, "bpf", 0), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(admin, SCMP_ARCH_X86_64, "init_module", 0), RET_ERRNO(EPERM));
        assert_int_equal(verdict(admin, SCMP_ARCH_X86_64, "settimeofday", 0), RET_ERRNO(EPERM));
        for (size_t i = 0; i < ELEMENTSOF(default_denied); i++) {
                uint32_t want =
                        default_denied[i].unless_caps ? SECCOMP_RET_ALLOW : RET_ERRNO(default_denied[i].errno_ret);
                if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, default_denied[i].name) < 0)
                        continue;
                if (verdict(all, SCMP_ARCH_X86, default_denied[i].name, 0) != want)
                        fail_msg("every capability kept: %s", default_denied[i].name);
        }
        assert_int_equal(verdict(all, SCMP_ARCH_X32, "clone", CLONE_NEWUSER), RET_ERRNO(EPERM));
        assert_int_equal(verdict(all, SCMP_ARCH_X32, "clone", CLONE_NEWPID), SECCOMP_RET_ALLOW);
}

/* ---- OCI/Docker JSON profiles ---- */

static void test_parse_valid(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = parse_or_fail(
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, \"defaultErrno\": \"ENOSYS\",\n"
                " \"architectures\": [\"SCMP_ARCH_X86_64\"],\n"
                " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_X86\", "
                "\"SCMP_ARCH_X32\"]},\n"
                "             {\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]}],\n"
                " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"listenerPath\": \"\",\n"
                " \"syscalls\": [\n"
                "  {\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": null, \"comment\": "
                "\"\",\n"
                "   \"includes\": {}, \"excludes\": null},\n"
                "  {\"name\": \"mkdir\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \"errno\": \"EPERM\"},\n"
                "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
                "   \"args\": [{\"index\": 0, \"value\": 4294967295, \"op\": \"SCMP_CMP_EQ\"}]},\n"
                "  {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_KILL\",\n"
                "   \"args\": [{\"index\": 0, \"value\": 16, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\"},\n"
                "            {\"index\": 2, \"value\": 15, \"valueTwo\": 9, \"op\": \"SCMP_CMP_MASKED_EQ\"}]},\n"
                "  {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
                "   \"includes\": {\"minKernel\": \"4.8\", \"arches\": [\"amd64\"], \"caps\": [\"CAP_SYS_PTRACE\", "
                "\"SYS_ADMIN\"]},\n"
                "   \"excludes\": {\"caps\": [\"CAP_BPF\"], \"arches\": [\"s390x\"], \"minKernel\": \"\"}}\n"
                " ]}");
        const SeccompRule *r;

        assert_string_equal(p->source, "/etc/p.json");
        assert_int_equal(p->default_action, SECCOMP_ACTION_ERRNO);
        assert_true(p->has_default_errno_ret);
        assert_int_equal(p->default_errno_ret, 38);
        /* architectures, then archMap's entry for this host; AARCH64's is left out. */
        assert_int_equal(strv_length(p->arches), 3);
        assert_string_equal(p->arches[0], "x86_64");
        assert_string_equal(p->arches[1], "x86");
        assert_string_equal(p->arches[2], "x32");
        assert_int_equal(p->flags, SECCOMP_FILTER_FLAG_LOG);
        assert_int_equal(p->n_rules, 5);

        r = &p->rules[0];
        assert_int_equal(strv_length(r->names), 2);
        assert_string_equal(r->where, "syscalls[0] (read and 1 more)");
        assert_int_equal(r->action, SECCOMP_ACTION_ALLOW);
        assert_int_equal(r->n_args, 0);
        r = &p->rules[1];
        assert_string_equal(r->names[0], "mkdir");
        assert_string_equal(r->where, "syscalls[1] (mkdir)");
        assert_true(r->has_errno_ret);
        assert_int_equal(r->errno_ret, 1);
        r = &p->rules[2];
        assert_int_equal(r->n_args, 1);
        assert_int_equal(r->args[0].value, 0xffffffff);
        assert_int_equal(r->args[0].op, SECCOMP_OP_EQ);
        r = &p->rules[3];
        assert_int_equal(r->action, SECCOMP_ACTION_KILL_THREAD); /* SCMP_ACT_KILL */
        assert_int_equal(r->n_args, 2);
        assert_int_equal(r->args[1].index, 2);
        assert_int_equal(r->args[1].op, SECCOMP_OP_MASKED_EQ);
        assert_int_equal(r->args[1].value, 15);
        assert_int_equal(r->args[1].value_two, 9);
        r = &p->rules[4];
        assert_true(r->includes.has_min_kernel);
        assert_int_equal(r->includes.min_kernel[0], 4);
        assert_int_equal(r->includes.min_kernel[1], 8);
        assert_int_equal(r->includes.caps, CAPBIT(CAP_SYS_PTRACE) | CAPBIT(CAP_SYS_ADMIN));
        assert_string_equal(r->includes.arches[0], "amd64");
        assert_int_equal(r->excludes.caps, CAPBIT(CAP_BPF));
        assert_false(r->excludes.has_min_kernel);
}

/* Every refusal names the file and, for a rule, its place and its (first) system call. */
static void test_parse_invalid(void **state) {
        static const struct {
                const char *json, *error;
        } cases[] = {
                {"", "/etc/p.json: not a JSON profile: line 1, column 0:"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\",}", "/etc/p.json: not a JSON profile: line 1"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultAction\": \"SCMP_ACT_ALLOW\"}",
                 "/etc/p.json: not a JSON profile: line 1, column 51: duplicate object key"},
                {"[]", "/etc/p.json: expected an object with defaultAction and syscalls"},
                {"{\"syscalls\": []}", "/etc/p.json: defaultAction: missing"},
                {"{\"defaultAction\": \"SCMP_ACT_ALOW\"}",
                 "/etc/p.json: defaultAction: unknown action \"SCMP_ACT_ALOW\" (did you mean SCMP_ACT_ALLOW?)"},
                {"{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "defaultAction: SCMP_ACT_NOTIFY is not supported"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}",
                 "/etc/p.json: defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it"},
                {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 5000}",
                 "/etc/p.json: defaultErrnoRet: expected an integer from 0 to 4095"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defualtErrnoRet\": 1}",
                 "/etc/p.json: unknown key \"defualtErrnoRet\" (did you mean \"defaultErrnoRet\"?)"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_46\"]}",
                 "/etc/p.json: architectures: unknown architecture \"SCMP_ARCH_X86_46\" (did you mean "
                 "SCMP_ARCH_X86_64?)"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": \"SCMP_ARCH_X86\"}",
                 "/etc/p.json: architectures: expected a list of strings"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\", "
                 "\"subArchitectures\": [\"x32\"]}]}",
                 "/etc/p.json: archMap[0]: subArchitectures: unknown architecture \"x32\""},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}",
                 "/etc/p.json: flags: \"SECCOMP_FILTER_FLAG_NEW_LISTENER\" is not supported"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent.sock\"}",
                 "/etc/p.json: listenerPath: seccomp agents (SCMP_ACT_NOTIFY) are not supported"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", "/etc/p.json: syscalls: expected a list"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [3]}",
                 "/etc/p.json: syscalls[0]: expected an object with names and action"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"action\": \"SCMP_ACT_ERRNO\"}]}",
                 "/etc/p.json: syscalls[0]: names: expected a list of strings, not empty"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], \"action\": "
                 "\"SCMP_ACT_ERRNO\"}]}",
                 "/etc/p.json: syscalls[0]: names: expected a list of strings, not empty"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\", 7], \"action\": "
                 "\"SCMP_ACT_ERRNO\"}]}",
                 "/etc/p.json: syscalls[0]: names[1]: expected a non-empty string"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
                 "\"SCMP_ACT_EPERM\"}]}",
                 "/etc/p.json: syscalls[0] (mkdir): action: unknown action \"SCMP_ACT_EPERM\""},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"a\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\"},"
                 "{\"names\": [\"mkdir\", \"rmdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
                 "/etc/p.json: syscalls[1] (mkdir and 1 more): action: SCMP_ACT_NOTIFY is not supported"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir,rmdir\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\"}]}",
                 "/etc/p.json: syscalls[0] (mkdir,rmdir): \"mkdir,rmdir\" is not a system call's name"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"]}]}",
                 "/etc/p.json: syscalls[0] (mkdir): action: expected an action like SCMP_ACT_ERRNO"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
                 "\"SCMP_ACT_LOG\", "
                 "\"errnoRet\": 1}]}",
                 "/etc/p.json: syscalls[0] (mkdir): errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it, not "
                 "SCMP_ACT_LOG"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"errnoRet\": -1}]}",
                 "/etc/p.json: syscalls[0] (mkdir): errnoRet: expected an integer from 0 to 4095"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"errnoret\": 1}]}",
                 "/etc/p.json: syscalls[0] (mkdir): unknown key \"errnoret\" (did you mean \"errnoRet\"?)"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"name\": \"mkdir\", "
                 "\"action\": \"SCMP_ACT_ERRNO\"}]}",
                 "/etc/p.json: syscalls[0]: both names and name"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 "/etc/p.json: syscalls[0] (socket): args[0]: index: expected an integer from 0 to 5"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQUAL\"}]}]}",
                 "/etc/p.json: syscalls[0] (socket): args[0]: op: unknown operator \"SCMP_CMP_EQUAL\""},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"args\": [{\"index\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 "/etc/p.json: syscalls[0] (socket): args[0]: value: expected an integer"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"args\": [{\"index\": 0, \"value\": -2, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 "/etc/p.json: syscalls[0] (socket): args[0]: value: expected an integer from 0 to"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"args\": [{\"index\": 0, \"value\": 1, \"vlaue2\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 "/etc/p.json: syscalls[0] (socket): args[0]: unknown key \"vlaue2\""},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"args\": {}}]}",
                 "/etc/p.json: syscalls[0] (socket): args: expected a list"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"chroot\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"excludes\": {\"caps\": [\"CAP_SYS_CHROOTS\"]}}]}",
                 "/etc/p.json: syscalls[0] (chroot): excludes: caps: unknown capability \"CAP_SYS_CHROOTS\""},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"ptrace\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"includes\": {\"minKernel\": \"4\"}}]}",
                 "/etc/p.json: syscalls[0] (ptrace): includes: minKernel: expected a kernel version like \"4.8\", "
                 "found \"4\""},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"ptrace\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"includes\": {\"arcehs\": [\"amd64\"]}}]}",
                 "/etc/p.json: syscalls[0] (ptrace): includes: unknown key \"arcehs\" (did you mean \"arches\"?)"},
                {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"ptrace\"], \"action\": "
                 "\"SCMP_ACT_ERRNO\", "
                 "\"excludes\": []}]}",
                 "/etc/p.json: syscalls[0] (ptrace): excludes: expected an object"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SeccompProfile *p = NULL;
                _cleanup_sup_error_ SupError *error = NULL;

                assert_int_equal(seccomp_profile_parse("/etc/p.json", cases[i].json, strlen(cases[i].json), &p, &error),
                                 -EINVAL);
                assert_null(p);
                if (!error || !strstr(error->message, cases[i].error))
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, sup_error_message(error), cases[i].error);
        }
}

static void test_load(void **state) {
        _cleanup_free_ char *dir = make_tree(), *path = path_join(dir, "p.json"), *big = NULL;
        SeccompProfile *p = NULL;
        SupError *error = NULL;

        assert_int_equal(seccomp_profile_load(path, &p, &error), -ENOENT);
        assert_non_null(strstr(sup_error_message(error), "p.json: cannot read it: No such file or directory"));
        error = sup_error_free(error);
        big = xmalloc(SECCOMP_PROFILE_MAX + 2);
        memset(big, ' ', SECCOMP_PROFILE_MAX + 1);
        assert_int_equal(write_file_atomic(path, big, SECCOMP_PROFILE_MAX + 1, 0644), 0);
        assert_int_equal(seccomp_profile_load(path, &p, &error), -EFBIG);
        assert_non_null(strstr(sup_error_message(error), "p.json: larger than"));
        error = sup_error_free(error);
        assert_int_equal(rm_rf(dir), 0);
}

static void test_resolve(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = parse_or_fail(
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n"
                " {\"names\": [\"a0\"], \"action\": \"SCMP_ACT_ALLOW\"},\n"
                " {\"names\": [\"a1\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"arm64\", "
                "\"amd64\"]}},\n"
                " {\"names\": [\"a2\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"s390x\"]}},\n"
                " {\"names\": [\"a3\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"arches\": [\"x86_64\"]}},\n"
                " {\"names\": [\"c1\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\", "
                "\"CAP_BPF\"]}},\n"
                " {\"names\": [\"c2\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\", "
                "\"CAP_BPF\"]}},\n"
                " {\"names\": [\"k1\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"6.1\"}},\n"
                " {\"names\": [\"k2\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"6.2\"}},\n"
                " {\"names\": [\"k3\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"minKernel\": \"5.19\"}},\n"
                " {\"names\": [\"k4\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"minKernel\": \"10.0\"}}\n"
                "]}");
        static const struct {
                uint64_t caps;
                const char *kept;
        } cases[] = {
                {0, "a0 a1 c2 k1 k4"},
                {CAPBIT(CAP_SYS_ADMIN), "a0 a1 k1 k4"},
                {CAPBIT(CAP_SYS_ADMIN) | CAPBIT(CAP_BPF), "a0 a1 c1 k1 k4"},
                {CAPBIT(CAP_BPF) | CAPBIT(CAP_CHOWN), "a0 a1 k1 k4"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SeccompTarget t = target(cases[i].caps);
                _cleanup_(seccomp_profile_freep) SeccompProfile *r = seccomp_profile_resolve(p, &t);
                _cleanup_strv_free_ char **names = NULL;
                _cleanup_free_ char *joined = NULL;

                for (size_t k = 0; k < r->n_rules; k++) {
                        strv_push(&names, xstrdup(r->rules[k].names[0]));
                        assert_null(r->rules[k].includes.arches);
                        assert_int_equal(r->rules[k].excludes.caps, 0);
                }
                joined = strv_join(names, " ");
                if (!streq(joined, cases[i].kept))
                        fail_msg("case %zu: kept \"%s\", not \"%s\"", i, joined, cases[i].kept);
        }
}

/* The cache key's text: what the filter is made of, nothing else. */
static void test_canonical(void **state) {
        static const char *const a =
                "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
                "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1,\"comment\":\"x\"},"
                "{\"names\":[\"chroot\"],\"action\":\"SCMP_ACT_ERRNO\",\"excludes\":{\"caps\":[\"SYS_CHROOT\"]}}]}";
        static const char *const b = "{ \"syscalls\": [ { \"action\": \"SCMP_ACT_ERRNO\", \"names\": [ \"mkdir\" ],\n"
                                     "  \"errnoRet\": 1 } ], \"defaultAction\": \"SCMP_ACT_ALLOW\" }";
        _cleanup_(seccomp_profile_freep) SeccompProfile *pa = parse_or_fail(a), *pb = parse_or_fail(b);
        SeccompTarget with = target(CAPBIT(CAP_SYS_CHROOT)), without = target(0);
        _cleanup_(seccomp_profile_freep) SeccompProfile *ra = seccomp_profile_resolve(pa, &with),
                                                        *rb = seccomp_profile_resolve(pb, &without),
                                                        *rc = seccomp_profile_resolve(pa, &without);
        _cleanup_free_ char *ca = seccomp_profile_canonical(ra), *cb = seccomp_profile_canonical(rb),
                            *cc = seccomp_profile_canonical(rc);

        assert_string_equal(ca, cb); /* another spelling, another file: the same filter */
        assert_string_equal(ca, "sup-seccomp-profile 1\n"
                                "default SCMP_ACT_ALLOW\n"
                                "arches\n"
                                "flags 0\n"
                                "rule SCMP_ACT_ERRNO 1 names mkdir\n");
        assert_string_not_equal(ca, cc); /* without CAP_SYS_CHROOT, chroot is denied too */
}

static void test_compile(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = parse_or_fail(
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"], \"syscalls\": [\n"
                " {\"names\": [\"mkdir\", \"mkdirat\", \"no_such_call\"], \"action\": \"SCMP_ACT_ERRNO\", "
                "\"errnoRet\": 1},\n"
                " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"},\n"
                " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5},\n"
                " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 6},\n"
                " {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
                "  \"args\": [{\"index\": 0, \"value\": 16, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 0, \"value\": 17, "
                "\"op\": \"SCMP_CMP_EQ\"}]},\n"
                " {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_TRACE\"},\n"
                " {\"names\": [\"tkill\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}\n"
                "]}");
        _cleanup_(seccomp_profile_freep) SeccompProfile *r =
                seccomp_profile_resolve(p, &(SeccompTarget){amd64, 0, {6, 1}});
        _cleanup_(seccomp_program_freep) SeccompProgram *prog = NULL;
        _cleanup_strv_free_ char **unknown = NULL;
        _cleanup_sup_error_ SupError *error = NULL;

        assert_int_equal(seccomp_compile(r, &prog, &unknown, &error), 0);
        assert_null(error);
        /* A name libseccomp does not know is left out, and said. */
        assert_int_equal(strv_length(unknown), 1);
        assert_string_equal(unknown[0], "no_such_call");
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "mkdir", 0), RET_ERRNO(1));
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "mkdirat", 0), RET_ERRNO(1));
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "getpid", 0), SECCOMP_RET_ALLOW);
        /* Two rules without arguments for one call: the first holds, as with runc and crun. */
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "read", 0), RET_ERRNO(5));
        /* One argument compared twice: either comparison (runc's reading). */
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "socket", 16), RET_ERRNO(EPERM));
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "socket", 17), RET_ERRNO(EPERM));
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "socket", 2), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "kill", 0), SECCOMP_RET_TRACE | EPERM);
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "tkill", 0), SECCOMP_RET_KILL_PROCESS);
        /* Only x86_64 listed: int 0x80 and x32 calls kill the process rather than pass. */
        assert_int_equal(verdict(prog, SCMP_ARCH_X86, "getpid", 0), SECCOMP_RET_KILL_PROCESS);
        assert_int_equal(verdict(prog, SCMP_ARCH_X32, "getpid", 0), SECCOMP_RET_KILL_PROCESS);
        assert_int_equal(prog->flags, 0);
}

/* What libseccomp refuses fails the compile with the profile, the rule and the call named (they
 * rise from the rule to the profile): not a filter silently without the rule. */
static void test_compile_errors(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = parse_or_fail(
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": "
                "\"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 1, \"value\": 2, \"op\": \"SCMP_CMP_EQ\"}]}]}");
        SeccompTarget t = target(0);
        _cleanup_(seccomp_profile_freep) SeccompProfile *r = seccomp_profile_resolve(p, &t);
        _cleanup_sup_error_ SupError *error = NULL;
        SeccompProgram *prog = NULL;

        strv_push(&r->arches, xstrdup("vax"));
        assert_int_equal(seccomp_compile(r, &prog, NULL, &error), -EINVAL);
        assert_null(prog);
        assert_string_equal(sup_error_message(error), "/etc/p.json: libseccomp does not know the architecture vax");
        error = sup_error_free(error);

        r->arches = strv_free(r->arches);
        r->rules[0].args[0].op = _SECCOMP_OP_MAX; /* no comparison libseccomp knows */
        assert_true(seccomp_compile(r, &prog, NULL, &error) < 0);
        assert_null(prog);
        if (!startswith(sup_error_message(error),
                        "/etc/p.json: syscalls[0] (mkdir): mkdir: libseccomp refused the rule: "))
                fail_msg("%s", sup_error_message(error));
}

/* podman's profile as Debian ships it (golang-github-containers-common), when it is there: an
 * allow-list with archMap, includes/excludes and args, as existing profiles are. */
static void test_podman_profile(void **state) {
        const char *path = "/usr/share/containers/seccomp.json";
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        _cleanup_(seccomp_program_freep) SeccompProgram *prog = NULL;
        _cleanup_sup_error_ SupError *error = NULL;

        if (access(path, R_OK) < 0) {
                skip();
                return;
        }
        if (seccomp_profile_load(path, &p, &error) < 0)
                fail_msg("%s", sup_error_message(error));
        prog = compile_or_fail(p, &(SeccompTarget){amd64, CAPBIT(CAP_CHOWN) | CAPBIT(CAP_SYS_CHROOT), {6, 1}});
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "read", 0), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(prog, SCMP_ARCH_X86, "read", 0), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "kexec_load", 0), RET_ERRNO(EPERM));
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "chroot", 0), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "personality", 8), SECCOMP_RET_ALLOW);
        assert_int_equal(verdict(prog, SCMP_ARCH_X86_64, "personality", 0x400000), RET_ERRNO(ENOSYS));
}

/* ---- the caches ---- */

static UnitSpec *unit_with(SeccompMode mode, const char *profile) {
        UnitSpec *u = unit_spec_new();
        u->security.seccomp = mode;
        u->security.seccomp_profile = profile ? xstrdup(profile) : NULL;
        return u;
}

static void write_text(const char *path, const char *text) {
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static void test_prepare_and_cache(void **state) {
        _cleanup_free_ char *dir = make_tree(), *cache_dir = path_join(dir, "seccomp"),
                            *profile = path_join(dir, "p.json");
        _cleanup_(unit_spec_freep) UnitSpec *def = unit_with(SECCOMP_DEFAULT, NULL),
                                            *unconfined = unit_with(SECCOMP_UNCONFINED, NULL),
                                            *custom = unit_with(SECCOMP_PROFILE, profile);
        SeccompCache one = {}, two = {};
        SeccompPrepared p = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *file = NULL, *data = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        const SeccompProgram *first;
        size_t size;

        assert_int_equal(seccomp_prepare(unconfined, 0, cache_dir, &one, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_NONE);
        assert_null(p.program);

        /* Compiled once, written to the cache directory. */
        assert_int_equal(seccomp_prepare(def, 0, cache_dir, &one, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_COMPILED);
        assert_string_equal(p.source, "the default seccomp profile");
        assert_non_null(p.program);
        assert_null(p.cache_error);
        assert_null(p.unknown);
        first = p.program;
        seccomp_prepared_done(&p);
        /* The instance's next start: the same program, from memory. */
        assert_int_equal(seccomp_prepare(def, 0, cache_dir, &one, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_MEMORY);
        assert_ptr_equal(p.program, first);
        /* Another instance (another monitor): from the disk, the same instructions. */
        assert_int_equal(seccomp_prepare(def, 0, cache_dir, &two, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_DISK);
        assert_int_equal(p.program->len, first->len);
        assert_memory_equal(p.program->insns, first->insns, first->len * sizeof(struct sock_filter));
        /* Other capabilities, another filter. */
        assert_int_equal(seccomp_prepare(def, CAPBIT(CAP_SYS_ADMIN), cache_dir, &two, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_COMPILED);
        assert_true(p.program->len < first->len);

        /* A damaged file is compiled again and replaced. */
        assert_int_equal(seccomp_prepare(def, 0, cache_dir, &two, &p, &error), 0); /* back to caps 0: disk */
        assert_int_equal(p.origin, SECCOMP_ORIGIN_DISK);
        file = xasprintf("%s/%s.bpf", cache_dir, two.key);
        assert_int_equal(read_full_file(file, 1 << 20, &data, &size), 0);
        data[size - 1] ^= 1;
        assert_int_equal(write_file_atomic(file, data, size, 0600), 0);
        seccomp_cache_done(&two);
        assert_int_equal(seccomp_prepare(def, 0, cache_dir, &two, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_COMPILED);
        seccomp_cache_done(&two);
        assert_int_equal(seccomp_prepare(def, 0, cache_dir, &two, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_DISK);

        /* A profile file: broken, it is an error naming the file; fixed, it compiles; edited to
         * the same rules, it is the same filter. */
        write_text(profile, "{\"defaultAction\": \"SCMP_ACT_ALOW\"}");
        assert_int_equal(seccomp_prepare(custom, 0, cache_dir, &two, &p, &error), -EINVAL);
        assert_non_null(strstr(sup_error_message(error), "p.json: defaultAction: unknown action \"SCMP_ACT_ALOW\""));
        assert_non_null(two.program); /* what the instance had stays until another start succeeds */
        error = sup_error_free(error);
        write_text(profile, "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                            "[{\"names\": [\"mkdir\", \"newcall\"], \"action\": \"SCMP_ACT_ERRNO\"}]}");
        assert_int_equal(seccomp_prepare(custom, 0, cache_dir, &two, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_COMPILED);
        assert_string_equal(p.source, profile);
        assert_int_equal(strv_length(p.unknown), 1);
        seccomp_prepared_done(&p);
        write_text(profile, "{\"syscalls\": [{\"action\": \"SCMP_ACT_ERRNO\", \"names\": "
                            "[\"mkdir\", \"newcall\"]}], \"defaultAction\": \"SCMP_ACT_ALLOW\"}");
        assert_int_equal(seccomp_prepare(custom, 0, cache_dir, &two, &p, &error), 0);
        assert_int_equal(p.origin, SECCOMP_ORIGIN_MEMORY);

        /* Three programs in the cache: default, default with CAP_SYS_ADMIN, the profile's. */
        DIR *d = opendir(cache_dir);
        struct dirent *de;
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        strv_push(&files, xstrdup(de->d_name));
        closedir(d);
        assert_int_equal(strv_length(files), 3);

        seccomp_cache_done(&one);
        seccomp_cache_done(&two);
        assert_int_equal(rm_rf(dir), 0);
}

/* ---- the guest's form, and a real load ---- */

static void test_program_json(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = seccomp_profile_default();
        _cleanup_(seccomp_program_freep) SeccompProgram *prog = compile_or_fail(p, &(SeccompTarget){amd64, 0, {6, 1}}),
                                                        *back = NULL;
        json_t *j = seccomp_program_to_json(prog);
        _cleanup_sup_error_ SupError *error = NULL;

        assert_int_equal(seccomp_program_from_json(j, &back, &error), 0);
        assert_int_equal(back->len, prog->len);
        assert_int_equal(back->flags, prog->flags);
        assert_memory_equal(back->insns, prog->insns, prog->len * sizeof(struct sock_filter));
        json_decref(j);
        /* Every length of the base64 padding. */
        for (size_t n = 1; n <= 3; n++) {
                SeccompProgram *q = seccomp_program_new(prog->insns, n, SECCOMP_FILTER_FLAG_LOG), *r = NULL;
                j = seccomp_program_to_json(q);
                assert_int_equal(seccomp_program_from_json(j, &r, &error), 0);
                assert_int_equal(r->len, n);
                assert_int_equal(r->flags, SECCOMP_FILTER_FLAG_LOG);
                assert_memory_equal(r->insns, q->insns, n * sizeof(struct sock_filter));
                json_decref(j);
                seccomp_program_free(q);
                seccomp_program_free(r);
        }
        /* A run command whose filter is not a program is refused, naming the part, rather than
         * loaded garbled (the guest's "refused" event carries the message). */
        j = json_pack("{s:i, s:s}", "flags", 0, "filter", "AAAA");
        assert_int_equal(seccomp_program_from_json(j, &back, &error), -EINVAL);
        assert_int_equal(error->code, EINVAL);
        assert_string_equal(error->message, "seccomp.filter: not a BPF program (1 to 4096 instructions of 8 bytes)");
        json_decref(j);
        assert_null(seccomp_program_new(prog->insns, 0, 0));
        assert_null(seccomp_program_new(prog->insns, BPF_MAXINSNS + 1, 0));
}

/* The workload's side: a plain system call, no libseccomp. In a child, with no_new_privs. */
static void test_apply(void **state) {
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = seccomp_profile_default();
        _cleanup_(seccomp_program_freep) SeccompProgram *prog = compile_or_fail(p, &(SeccompTarget){amd64, 0, {6, 1}});
        int status;
        pid_t pid;

        assert_int_equal(seccomp_apply(NULL), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                long r;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_apply(prog) < 0)
                        _exit(10);
                r = syscall(SYS_keyctl, 0, -3, 0);
                if (r != -1 || errno != EPERM)
                        _exit(11);
                r = syscall(SYS_clone3, NULL, 0);
                if (r != -1 || errno != ENOSYS)
                        _exit(12);
                r = syscall(SYS_getpid);
                _exit(r == getpid() ? 0 : 13);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tables),
                cmocka_unit_test(test_default_rules),
                cmocka_unit_test(test_default_filter),
                cmocka_unit_test(test_default_caps),
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_invalid),
                cmocka_unit_test(test_load),
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_canonical),
                cmocka_unit_test(test_compile),
                cmocka_unit_test(test_compile_errors),
                cmocka_unit_test(test_podman_profile),
                cmocka_unit_test(test_prepare_and_cache),
                cmocka_unit_test(test_program_json),
                cmocka_unit_test(test_apply),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
