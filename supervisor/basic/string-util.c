/* SPDX-License-Identifier: MIT */
#include "string-util.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        STRV_FOREACH(s, l)
                n++;
        return n;
}

void strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        *l = xreallocarray(*l, n + 2, sizeof(char *));
        (*l)[n] = value;
        (*l)[n + 1] = NULL;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        char **c = xnew(char *, n + 1);
        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(l[i]);
        c[n] = NULL;
        return c;
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void strv_sort(char **l) {
        qsort_safe(l, strv_length(l), sizeof(char *), cmp_strp);
}

char *strv_join(char *const *l, const char *sep) {
        size_t n = 0, k = 0, m = strlen(sep);
        char *r;

        STRV_FOREACH(s, l)
                n += strlen(*s) + m;
        r = xmalloc(n + 1);
        STRV_FOREACH(s, l) {
                if (s != l) {
                        memcpy(r + k, sep, m);
                        k += m;
                }
                memcpy(r + k, *s, strlen(*s));
                k += strlen(*s);
        }
        r[k] = '\0';
        return r;
}

const char *startswith(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

const char *endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        if (b > a || memcmp(s + a - b, suffix, b) != 0)
                return NULL;
        return s + a - b;
}

size_t string_distance(const char *a, const char *b) {
        /* Optimal string alignment distance; keys are short, so the O(n*m) table is fine, but cap
         * the lengths so that a hostile 1 MiB key cannot make this quadratic. */
        size_t n = MIN(strlen(a), (size_t) 64), m = MIN(strlen(b), (size_t) 64);
        size_t d[65][65];

        for (size_t i = 0; i <= n; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= m; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= n; i++)
                for (size_t j = 1; j <= m; j++) {
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t v = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
                        v = MIN(v, d[i - 1][j - 1] + cost);
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                                v = MIN(v, d[i - 2][j - 2] + 1);
                        d[i][j] = v;
                }
        return d[n][m];
}

const char *string_nearest(const char *s, const char *const *candidates) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        /* One edit per three characters, at least one and at most three, reads as a typo;
         * beyond that a suggestion is noise. */
        size_t limit = MAX((size_t) 1, MIN((size_t) 3, strlen(s) / 3));

        for (const char *const *c = candidates; *c; c++) {
                size_t d = string_distance(s, *c);
                if (d < best_d) {
                        best = *c;
                        best_d = d;
                }
        }
        return best_d <= limit ? best : NULL;
}

char *string_quote(const char *s, size_t n, size_t max) {
        size_t cap = MIN(n, max) * 4 + 8, k = 0;
        char *out = xmalloc(cap);

        out[k++] = '"';
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (i >= max) {
                        memcpy(out + k, "...", 3);
                        k += 3;
                        break;
                }
                if (c == '"' || c == '\\') {
                        out[k++] = '\\';
                        out[k++] = (char) c;
                } else if (c == '\n') {
                        out[k++] = '\\';
                        out[k++] = 'n';
                } else if (c == '\t') {
                        out[k++] = '\\';
                        out[k++] = 't';
                } else if (c < 0x20 || c == 0x7f) {
                        k += (size_t) snprintf(out + k, 5, "\\x%02x", c);
                } else
                        out[k++] = (char) c;
        }
        out[k++] = '"';
        out[k] = 0;
        return out;
}

size_t fwrite_sanitized(const char *s, size_t n, const char *keep, bool partial, FILE *f) {
        const unsigned char *p = (const unsigned char *) s, *end = p + n;

        while (p < end) {
                const unsigned char *run = p;

                /* What needs no escaping is written as one piece. */
                while (p < end && *p >= 0x20 && *p != 0x7f && *p != 0xc2)
                        p++;
                (void) !fwrite(run, 1, (size_t) (p - run), f);
                if (p == end)
                        break;
                if (*p == 0xc2) {
                        if (p + 1 == end && partial)
                                return n - 1;
                        if (p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9f) {
                                fputc('?', f);
                                p += 2;
                        } else
                                fputc(*p++, f);
                        continue;
                }
                /* keep never matches NUL: strchr() would find its terminator. */
                fputc(*p != 0 && strchr(keep, *p) ? *p : '?', f);
                p++;
        }
        return n;
}

static bool utf8_invalid_at(const unsigned char *start, const unsigned char *p, size_t *ret_offset) {
        if (ret_offset)
                *ret_offset = (size_t) (p - start);
        return false;
}

bool utf8_is_valid(const char *s, size_t n, size_t *ret_offset) {
        const unsigned char *p = (const unsigned char *) s, *start = p, *end = p + n;

        while (p < end) {
                uint32_t c = *p;
                size_t len;
                uint32_t min;

                if (c < 0x80) {
                        p++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2, c &= 0x1f, min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3, c &= 0x0f, min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4, c &= 0x07, min = 0x10000;
                } else
                        return utf8_invalid_at(start, p, ret_offset);

                if ((size_t) (end - p) < len)
                        return utf8_invalid_at(start, p, ret_offset);
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return utf8_invalid_at(start, p, ret_offset);
                        c = (c << 6) | (p[i] & 0x3f);
                }
                if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return utf8_invalid_at(start, p, ret_offset);
                p += len;
        }
        return true;
}
