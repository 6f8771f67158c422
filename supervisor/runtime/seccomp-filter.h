/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sup-error.h"

/* A compiled seccomp filter: classic BPF, ready for seccomp(SECCOMP_SET_MODE_FILTER). This half of
 * seccomp needs libc only, so that sup-init (static, in hyperv guests) links it: the host compiles
 * the filter (seccomp-compile.h, with libseccomp) and the workload's process only loads it, in
 * both isolation modes, with the same program. docs/security.md says what the filters hold.
 * (Not "seccomp.h": that name is libseccomp's, and this directory is on the include path.) */

typedef struct SeccompProgram {
        uint32_t flags; /* SECCOMP_FILTER_FLAG_* to load it with */
        size_t len;     /* instructions, 1 to BPF_MAXINSNS */
        struct sock_filter insns[];
} SeccompProgram;

/* A copy of len instructions; NULL when len is 0 or above BPF_MAXINSNS. */
SeccompProgram *seccomp_program_new(const struct sock_filter *insns, size_t len, uint32_t flags);
SeccompProgram *seccomp_program_free(SeccompProgram *p);
static inline void seccomp_program_freep(SeccompProgram **p) {
        seccomp_program_free(*p);
}

/* SHA-256 of the instructions, as 64 hex digits: what the on-disk cache checks its files with. */
void seccomp_program_digest(const SeccompProgram *p, char ret[65]);

/* Loads the filter into the calling thread; the last thing before execve() (workload_exec()).
 * p NULL: nothing to load (seccomp: unconfined). The kernel wants no_new_privs set or
 * CAP_SYS_ADMIN in the caller's user namespace. A plain system call: no allocation, no library. */
int seccomp_apply(const SeccompProgram *p);

/* The program in the hyperv agent protocol's run command: {"flags":N,"filter":"BASE64"}, the
 * instructions in the host's byte order (the guest is the same architecture). */
json_t *seccomp_program_to_json(const SeccompProgram *p);
/* The inverse; on error *ret_error says what is wrong with the object. */
int seccomp_program_from_json(const json_t *j, SeccompProgram **ret, SupError **ret_error);
