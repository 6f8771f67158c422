/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for seccomp profile files (OCI/Docker JSON): arbitrary bytes are parsed as a
 * profile, and what parses is resolved for a few workloads and written as canonical text (the
 * cache key). The same bytes are also read as the guest protocol's seccomp object. Invariants: no
 * crash, no leak; an error names the file; resolving is deterministic. libseccomp is not called:
 * it is slow, and its input is only ever a resolved profile. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp-filter.h"
#include "seccomp-profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const amd64[] = {"amd64", "x86_64", "SCMP_ARCH_X86_64", NULL};

static void check_profile(const uint8_t *data, size_t size) {
        SeccompProfile *p = NULL;
        SupError *error = NULL;

        if (seccomp_profile_parse("/fuzz.json", (const char *) data, size, &p, &error) < 0) {
                if (!error || strncmp(error->message, "/fuzz.json: ", 12) != 0)
                        abort();
                sup_error_free(error);
                return;
        }
        for (uint64_t caps = 0; caps < 3; caps++) {
                SeccompTarget t = {amd64, caps == 2 ? ~UINT64_C(0) : caps << 21, {caps + 4, 8}};
                SeccompProfile *a = seccomp_profile_resolve(p, &t), *b = seccomp_profile_resolve(p, &t);
                char *ca = seccomp_profile_canonical(a), *cb = seccomp_profile_canonical(b);
                if (strcmp(ca, cb) != 0 || a->n_rules > p->n_rules)
                        abort();
                free(ca);
                free(cb);
                seccomp_profile_free(a);
                seccomp_profile_free(b);
        }
        seccomp_profile_free(p);
}

static void check_program(const uint8_t *data, size_t size) {
        json_t *j = json_loadb((const char *) data, size, 0, NULL), *k;
        SeccompProgram *a = NULL, *b = NULL;
        SupError *error = NULL;

        if (!j)
                return;
        if (seccomp_program_from_json(j, &a, &error) < 0) {
                sup_error_free(error);
                json_decref(j);
                return;
        }
        k = seccomp_program_to_json(a);
        if (seccomp_program_from_json(k, &b, NULL) < 0 || a->len != b->len || a->flags != b->flags ||
            memcmp(a->insns, b->insns, a->len * sizeof(a->insns[0])) != 0)
                abort();
        seccomp_program_free(a);
        seccomp_program_free(b);
        json_decref(j);
        json_decref(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_profile(data, size);
        check_program(data, size);
        return 0;
}
