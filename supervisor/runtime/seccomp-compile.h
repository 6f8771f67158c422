/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "seccomp-profile.h"
#include "seccomp-filter.h"
#include "time-util.h"
#include "unit-spec.h"

/* Turning a profile into BPF, with libseccomp, once per profile: the monitor does it before the
 * workload's process exists (and keeps the program for the instance's next start), and the BPF
 * is also kept on disk, so that other instances and the next supd find it compiled. The
 * workload's process then only loads it (seccomp_apply()).
 *
 * The cache key is the SHA-256 of the resolved profile's canonical text and of libseccomp's
 * version: a profile file edited to the same rules, or the default profile of two units that
 * keep the same capabilities, share one program; a changed rule, capability set or library
 * compiles again. An instance's restart finds its own copy by the SHA-256 of the profile file's
 * bytes (and of the capabilities, kernel and library) before parsing anything. Files: CACHE_DIR/KEY.bpf, a header line
 * "sup-seccomp-bpf 1 FLAGS LEN SHA256" then the instructions, written atomically. A file that does not match its header
 * is compiled again and replaced. Anything in CACHE_DIR may be deleted at any time. */

/* libseccomp's version, "2.5.4". */
const char *seccomp_library_version(void);

/* Compiles a resolved profile (seccomp_profile_resolve()). System call names libseccomp does not
 * know are skipped (as runc does: a profile may name calls newer than the library) and returned
 * in *ret_unknown (NULL when there are none; may be NULL). Errors name the profile and the rule. */
int seccomp_compile(const SeccompProfile *p, SeccompProgram **ret, char ***ret_unknown, SupError **ret_error);

/* One instance's program, kept across its restarts: found again by source_key (the profile's
 * bytes and what it was resolved with) without parsing anything, or by key. */
typedef struct SeccompCache {
        char key[65];
        char source_key[65];
        SeccompProgram *program;
        bool made_ahead; /* by another process, before this one (the monitor zygote): not yet used */
} SeccompCache;

void seccomp_cache_done(SeccompCache *c);

typedef enum SeccompOrigin {
        SECCOMP_ORIGIN_NONE,     /* seccomp: unconfined */
        SECCOMP_ORIGIN_MEMORY,   /* the instance's own, from its last start */
        SECCOMP_ORIGIN_DISK,     /* the cache directory's */
        SECCOMP_ORIGIN_COMPILED, /* compiled now */
        SECCOMP_ORIGIN_AHEAD,    /* made ahead (SeccompCache.made_ahead), from the disk cache or compiled */
        _SECCOMP_ORIGIN_MAX,
        _SECCOMP_ORIGIN_INVALID = -EINVAL,
} SeccompOrigin;

DECLARE_STRING_TABLE_LOOKUP(seccomp_origin, SeccompOrigin);

typedef struct SeccompPrepared {
        const SeccompProgram *program; /* NULL: no filter; owned by the SeccompCache */
        SeccompOrigin origin;
        const char *source;  /* the profile file, or "the default seccomp profile" */
        usec_t usec;         /* all of seccomp_prepare() */
        usec_t compile_usec; /* of it, libseccomp's (SECCOMP_ORIGIN_COMPILED) */
        char **unknown;      /* system calls the profile names that libseccomp does not know */
        char *cache_error;   /* the program could not be written to the cache directory (not fatal) */
} SeccompPrepared;

void seccomp_prepared_done(SeccompPrepared *p);

/* The capabilities a unit's workload can ever hold (its bounding set on this kernel), as profiles'
 * includes/excludes see them: seccomp_prepare()'s caps. */
uint64_t seccomp_unit_caps(const UnitSpec *u);

/* The filter for the workload of u, which keeps the capabilities caps (its bounding set:
 * profiles' includes/excludes). cache_dir NULL: no disk cache. On error (a profile that cannot
 * be read, parsed or compiled) nothing is loaded anywhere and *ret_error says why, naming the
 * file and the rule. */
int seccomp_prepare(const UnitSpec *u, uint64_t caps, const char *cache_dir, SeccompCache *cache, SeccompPrepared *ret,
                    SupError **ret_error);
