/* SPDX-License-Identifier: MIT */
#include "seccomp-filter.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "base64.h"
#include "macro.h"
#include "sha256.h"

SeccompProgram *seccomp_program_new(const struct sock_filter *insns, size_t len, uint32_t flags) {
        SeccompProgram *p;

        if (len == 0 || len > BPF_MAXINSNS)
                return NULL;
        p = xmalloc(sizeof(SeccompProgram) + len * sizeof(struct sock_filter));
        p->flags = flags;
        p->len = len;
        memcpy(p->insns, insns, len * sizeof(struct sock_filter));
        return p;
}

SeccompProgram *seccomp_program_free(SeccompProgram *p) {
        free(p);
        return NULL;
}

void seccomp_program_digest(const SeccompProgram *p, char ret[65]) {
        sha256_hex(p->insns, p->len * sizeof(struct sock_filter), ret);
}

int seccomp_apply(const SeccompProgram *p) {
        struct sock_fprog prog;

        if (!p)
                return 0;
        prog = (struct sock_fprog){.len = (unsigned short) p->len, .filter = (struct sock_filter *) p->insns};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) == 0)
                return 0;
        /* seccomp() came in 3.17; prctl() takes no flags. */
        if (errno == ENOSYS && p->flags == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
                return 0;
        return negative_errno();
}

/* ---- the agent protocol's form ---- */

json_t *seccomp_program_to_json(const SeccompProgram *p) {
        _cleanup_free_ char *s = base64_encode((const uint8_t *) p->insns, p->len * sizeof(struct sock_filter));
        return json_pack("{s:I, s:s}", "flags", (json_int_t) p->flags, "filter", s);
}

int seccomp_program_from_json(const json_t *j, SeccompProgram **ret, SupError **ret_error) {
        const json_t *flags = json_object_get(j, "flags");
        const char *filter = json_string_value(json_object_get(j, "filter"));
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t n;

        if (!json_is_object(j) || json_object_size(j) != 2 || !json_is_integer(flags) || !filter)
                return sup_error_make(ret_error, -EINVAL, "seccomp: expected {\"flags\": N, \"filter\": \"BASE64\"}");
        if (json_integer_value(flags) < 0 || json_integer_value(flags) > UINT32_MAX)
                return sup_error_make(ret_error, -EINVAL, "seccomp.flags: out of range");
        if (base64_decode(filter, &bytes, &n) < 0)
                return sup_error_make(ret_error, -EINVAL, "seccomp.filter: not base64");
        if (n == 0 || n % sizeof(struct sock_filter) != 0 || n / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return sup_error_make(ret_error, -EINVAL,
                                      "seccomp.filter: not a BPF program (1 to 4096 instructions of 8 bytes)");
        *ret = seccomp_program_new((const struct sock_filter *) bytes, n / sizeof(struct sock_filter),
                                   (uint32_t) json_integer_value(flags));
        return 0;
}
