/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "string-table.h"
#include "sup-error.h"
#include "unit-spec.h"

/* What a seccomp filter is made of, as data: the built-in default profile and the OCI/Docker JSON
 * profiles (runtime-spec's linux.seccomp, moby's profiles/seccomp/default.json, podman's
 * /usr/share/containers/seccomp.json) parse into the same SeccompProfile. Nothing here needs
 * libseccomp: seccomp-compile.h turns a resolved profile into BPF.
 *
 * A profile may hold rules that apply only on some architectures, with some capabilities or from
 * some kernel on (includes/excludes); seccomp_profile_resolve() keeps the rules that apply to one
 * workload. The resolved profile is what a filter is compiled from and what its cache is keyed by
 * (seccomp_profile_canonical()). docs/security.md, "seccomp", describes both. */

typedef enum SeccompAction {
        SECCOMP_ACTION_ALLOW,
        SECCOMP_ACTION_ERRNO, /* fail the call with errno_ret (EPERM when the rule gives none) */
        SECCOMP_ACTION_KILL_THREAD,
        SECCOMP_ACTION_KILL_PROCESS,
        SECCOMP_ACTION_TRAP,
        SECCOMP_ACTION_TRACE, /* errno_ret: the message to the tracer */
        SECCOMP_ACTION_LOG,
        _SECCOMP_ACTION_MAX,
        _SECCOMP_ACTION_INVALID = -EINVAL,
} SeccompAction;

typedef enum SeccompOp {
        SECCOMP_OP_NE,
        SECCOMP_OP_LT,
        SECCOMP_OP_LE,
        SECCOMP_OP_EQ,
        SECCOMP_OP_GE,
        SECCOMP_OP_GT,
        SECCOMP_OP_MASKED_EQ, /* (arg & value) == value_two */
        _SECCOMP_OP_MAX,
        _SECCOMP_OP_INVALID = -EINVAL,
} SeccompOp;

/* The OCI spellings: "SCMP_ACT_ERRNO", "SCMP_CMP_MASKED_EQ". SCMP_ACT_KILL parses as KILL_THREAD
 * (what it means to libseccomp) and prints as SCMP_ACT_KILL_THREAD. */
DECLARE_STRING_TABLE_LOOKUP(seccomp_action, SeccompAction);
DECLARE_STRING_TABLE_LOOKUP(seccomp_op, SeccompOp);

#define SECCOMP_MAX_ARGS 6

typedef struct SeccompArg {
        unsigned index; /* 0 to 5 */
        SeccompOp op;
        uint64_t value;
        uint64_t value_two; /* MASKED_EQ only */
} SeccompArg;

/* A rule applies when every part of includes holds and no part of excludes does. */
typedef struct SeccompCondition {
        char **arches; /* names of the host's architecture ("amd64", "x86_64", ...), any matches */
        uint64_t caps; /* includes: every one kept; excludes: any one kept */
        bool has_min_kernel;
        unsigned min_kernel[2]; /* major, minor: the host's kernel is this or newer */
} SeccompCondition;

typedef struct SeccompRule {
        char **names; /* system calls */
        SeccompAction action;
        bool has_errno_ret;
        uint32_t errno_ret;
        SeccompArg args[SECCOMP_MAX_ARGS];
        size_t n_args; /* all of them must hold (see docs/security.md for repeated indexes) */
        SeccompCondition includes, excludes;
        char *where; /* for messages: "syscalls[3] (mkdir)" */
} SeccompRule;

typedef struct SeccompProfile {
        char *source; /* for messages: the profile file, or "the default seccomp profile" */
        SeccompAction default_action;
        bool has_default_errno_ret;
        uint32_t default_errno_ret;
        char **arches;  /* libseccomp's names, lower case without SCMP_ARCH_: "x86_64", "x86", "x32" */
        uint32_t flags; /* SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW */
        SeccompRule *rules;
        size_t n_rules;
} SeccompProfile;

SeccompProfile *seccomp_profile_free(SeccompProfile *p);
static inline void seccomp_profile_freep(SeccompProfile **p) {
        seccomp_profile_free(*p);
}

/* The built-in profile (security.seccomp: default): allow by default, and deny (EPERM) the
 * system calls of docs/security.md's list, on x86_64, x86 (int 0x80) and x32. Some rules carry
 * excludes.caps: a unit that keeps the capability the kernel checks for those calls anyway (it
 * asked for it with capabilities.add) gets them back, as with Docker's profile. */
SeccompProfile *seccomp_profile_default(void);

/* Parses an OCI/Docker JSON profile; path is only for messages. On error, -EINVAL and a message
 * in *ret_error that names the file and, for a rule, its place and first system call. */
int seccomp_profile_parse(const char *path, const char *text, size_t size, SeccompProfile **ret, SupError **ret_error);
/* Reads the file (at most SECCOMP_PROFILE_MAX bytes), NUL-terminated; errors name it. */
#define SECCOMP_PROFILE_MAX (1024U * 1024U)
int seccomp_profile_read(const char *path, char **ret_text, size_t *ret_size, SupError **ret_error);
/* Reads and parses the file. */
int seccomp_profile_load(const char *path, SeccompProfile **ret, SupError **ret_error);

/* The workload a profile is resolved for. */
typedef struct SeccompTarget {
        const char *const *arch_names; /* the host's: "amd64", "x86_64", "SCMP_ARCH_X86_64" (NULL-ended) */
        uint64_t caps;                 /* the capabilities the workload keeps (its bounding set) */
        unsigned kernel[2];            /* major, minor of the running kernel */
} SeccompTarget;

/* The host's SeccompTarget for a workload that keeps caps (uname() for the kernel). */
SeccompTarget seccomp_target_host(uint64_t caps);

/* The rules of p that apply to t, without their conditions. A new profile. */
SeccompProfile *seccomp_profile_resolve(const SeccompProfile *p, const SeccompTarget *t);

/* A resolved profile as canonical text (no source or places, architectures sorted, rules in
 * order): equal texts give equal filters. */
char *seccomp_profile_canonical(const SeccompProfile *p);
