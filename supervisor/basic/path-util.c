/* SPDX-License-Identifier: MIT */
#include "path-util.h"

#include <string.h>

#include "alloc.h"
#include "macro.h"

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        return xasprintf("%.*s/%s", (int) la, a, b);
}

char *path_simplify(char *p) {
        char *w = p;
        const char *r = p;
        bool absolute = *p == '/';

        if (absolute) {
                *w++ = '/';
                while (*r == '/')
                        r++;
        }
        while (*r) {
                const char *end = strchrnul(r, '/');
                size_t len = (size_t) (end - r);

                if (!(len == 1 && r[0] == '.')) {
                        if (w > p && w[-1] != '/')
                                *w++ = '/';
                        memmove(w, r, len);
                        w += len;
                }
                r = end;
                while (*r == '/')
                        r++;
        }
        if (w == p)
                *w++ = absolute ? '/' : '.';
        *w = 0;
        return p;
}

bool path_has_dotdot(const char *p) {
        for (const char *c = p; *c;) {
                const char *end = strchrnul(c, '/');
                if (end - c == 2 && c[0] == '.' && c[1] == '.')
                        return true;
                c = *end ? end + 1 : end;
        }
        return false;
}

char *path_dirname(const char *p) {
        const char *slash = strrchr(p, '/');
        if (!slash)
                return xstrdup(".");
        while (slash > p && slash[-1] == '/')
                slash--;
        if (slash == p)
                return xstrdup("/");
        return xstrndup(p, (size_t) (slash - p));
}

const char *path_basename(const char *p) {
        const char *slash = strrchr(p, '/');
        return slash ? slash + 1 : p;
}

char *path_make_absolute(const char *p, const char *base) {
        char *r = path_is_absolute(p) ? xstrdup(p) : path_join(base, p);
        return path_simplify(r);
}

bool path_startswith_dir(const char *p, const char *prefix) {
        size_t n = strlen(prefix);
        if (streq(prefix, "/"))
                return true;
        return strncmp(p, prefix, n) == 0 && (p[n] == 0 || p[n] == '/');
}
