/* SPDX-License-Identifier: MIT */
#include "sup-error.h"

#include "alloc.h"

static int code_of(int r) {
        if (r < 0)
                return -r;
        return r > 0 ? r : EINVAL;
}

int sup_error_makev(SupError **ret, int r, const char *fmt, va_list ap) {
        int code = code_of(r);
        SupError *e;

        if (!ret || *ret)
                return -code;
        e = xnew0(SupError, 1);
        e->code = code;
        e->message = xvasprintf(fmt, ap);
        *ret = e;
        return -code;
}

int sup_error_make(SupError **ret, int r, const char *fmt, ...) {
        va_list ap;
        int q;

        va_start(ap, fmt);
        q = sup_error_makev(ret, r, fmt, ap);
        va_end(ap);
        return q;
}

int sup_error_errno(SupError **ret, int r, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (!ret || *ret)
                return -code_of(r);
        va_start(ap, fmt);
        what = xvasprintf(fmt, ap);
        va_end(ap);
        return sup_error_make(ret, r, "%s: %s", what, strerror(code_of(r)));
}

int sup_error_wrap(SupError **e, int r, const char *fmt, ...) {
        _cleanup_free_ char *context = NULL;
        char *message;
        va_list ap;

        if (!e)
                return r;
        va_start(ap, fmt);
        context = xvasprintf(fmt, ap);
        va_end(ap);
        if (!*e)
                return sup_error_make(e, r, "%s: %s", context, strerror(code_of(r)));
        message = xasprintf("%s: %s", context, (*e)->message);
        free((*e)->message);
        (*e)->message = message;
        return -(*e)->code;
}

const char *sup_error_message(const SupError *e) {
        return e ? e->message : "unknown error";
}

size_t sup_error_to_buffer(const SupError *e, char *buf, size_t size) {
        const char *s = sup_error_message(e);
        size_t n = strlen(s);

        if (size == 0)
                return 0;
        if (n >= size)
                n = size - 1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return n;
}

SupError *sup_error_free(SupError *e) {
        if (!e)
                return NULL;
        free(e->message);
        free(e);
        return NULL;
}
