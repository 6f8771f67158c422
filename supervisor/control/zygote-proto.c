/* SPDX-License-Identifier: MIT */
#include "zygote-proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int zygote_request_encode(char *const *argv, char **ret, size_t *ret_size) {
        size_t n = 0, argc = 0;
        char *buf, *p;

        if (!argv || !argv[0])
                return -EINVAL;
        for (; argv[argc]; argc++) {
                n += strlen(argv[argc]) + 1;
                if (n > ZYGOTE_REQUEST_MAX || argc + 1 > ZYGOTE_ARGS_MAX)
                        return -E2BIG;
        }
        p = buf = xmalloc(n);
        for (size_t i = 0; i < argc; i++) {
                size_t k = strlen(argv[i]) + 1;

                memcpy(p, argv[i], k);
                p += k;
        }
        *ret = buf;
        *ret_size = n;
        return 0;
}

int zygote_request_decode(const char *buf, size_t n, char ***ret_argv, int *ret_argc) {
        size_t argc = 0;
        char **argv, *strings;

        if (!buf || n == 0 || n > ZYGOTE_REQUEST_MAX || buf[n - 1] != 0 || buf[0] == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (buf[i] == 0)
                        argc++;
        if (argc > ZYGOTE_ARGS_MAX)
                return -EINVAL;
        /* The pointers and the strings in one block: the monitor keeps its argv for its life. */
        argv = xmalloc((argc + 1) * sizeof(char *) + n);
        strings = (char *) (argv + argc + 1);
        memcpy(strings, buf, n);
        for (size_t i = 0, k = 0; i < argc; i++) {
                argv[i] = strings + k;
                k += strlen(strings + k) + 1;
        }
        argv[argc] = NULL;
        *ret_argv = argv;
        *ret_argc = (int) argc;
        return 0;
}
