/* SPDX-License-Identifier: MIT */
#include "mkfs.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "process-util.h"

static const char *const ext4_fallbacks[] = {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", NULL};
static const char *const erofs_fallbacks[] = {"/usr/bin/mkfs.erofs", "/usr/sbin/mkfs.erofs", "/sbin/mkfs.erofs", NULL};

static int mkfs_run(char **argv, const char *const *fallbacks, const char *package, const char *what,
                    SupError **ret_error) {
        _cleanup_free_ char *output = NULL;
        int status = run_program(argv, fallbacks, NULL, MKFS_TIMEOUT, 4096, &output);
        const char *tool = argv[0];
        char *last = NULL;

        if (status >= 0 && wait_status_code(status) == 0)
                return 0;
        if (status == -ETIMEDOUT)
                return sup_error_make(ret_error, status, "%s: %s did not finish within %llu s", what, tool,
                                      (unsigned long long) (MKFS_TIMEOUT / USEC_PER_SEC));
        if (status >= 0 && wait_status_code(status) == EXIT_NOT_INSTALLED)
                return sup_error_make(ret_error, -EIO, "%s: cannot run %s (apt-get install %s)", what, tool, package);
        if (status < 0)
                return sup_error_errno(ret_error, status, "%s: cannot run %s", what, tool);
        /* Its complaint: the last non-empty line. */
        for (char *save = NULL, *line = strtok_r(output ? output : (char[]){""}, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
                last = line;
        return sup_error_make(ret_error, -EIO, "%s: %s failed: %s", what, tool, last ? last : "no message");
}

int mkfs_ext4(char **argv, const char *what, SupError **ret_error) {
        return mkfs_run(argv, ext4_fallbacks, "e2fsprogs", what, ret_error);
}

int mkfs_erofs(char **argv, const char *what, SupError **ret_error) {
        return mkfs_run(argv, erofs_fallbacks, "erofs-utils", what, ret_error);
}
