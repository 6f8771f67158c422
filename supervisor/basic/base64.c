/* SPDX-License-Identifier: MIT */
#include "base64.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const uint8_t *s, size_t n) {
        char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v =
                        (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
                *o++ = b64[v >> 18 & 63];
                *o++ = b64[v >> 12 & 63];
                *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? b64[v & 63] : '=';
        }
        *o = 0;
        return out;
}

int base64_decode(const char *s, uint8_t **ret, size_t *ret_len) {
        size_t n = strlen(s), len = 0;
        _cleanup_free_ uint8_t *out = NULL;

        if (n % 4 != 0)
                return -EINVAL;
        out = xmalloc(n / 4 * 3 + 1);
        for (size_t i = 0; i < n; i += 4) {
                /* Padding only at the very end: "xx==" or "xxx=". */
                unsigned pad = i + 4 < n ? 0 : s[i + 3] != '=' ? 0 : s[i + 2] == '=' ? 2 : 1;
                uint32_t v = 0;
                for (unsigned k = 0; k < 4; k++) {
                        const char *c = strchr(b64, s[i + k]); /* s holds no NUL before its end */
                        if (k >= 4 - pad)
                                c = b64;
                        else if (!c)
                                return -EINVAL; /* '=' too: it is not in b64 */
                        v = v << 6 | (uint32_t) (c - b64);
                }
                out[len++] = (uint8_t) (v >> 16);
                if (pad < 2)
                        out[len++] = (uint8_t) (v >> 8);
                if (pad < 1)
                        out[len++] = (uint8_t) v;
        }
        *ret = TAKE_PTR(out);
        *ret_len = len;
        return 0;
}
