/* SPDX-License-Identifier: MIT */
#include "mkfs-ext4.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "process-util.h"

static const char *const mkfs_fallbacks[] = {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", NULL};

int mkfs_ext4(char **argv, const char *what, SupError **ret_error) {
        _cleanup_free_ char *output = NULL;
        int status = run_program(argv, mkfs_fallbacks, NULL, MKFS_EXT4_TIMEOUT, 4096, &output);
        char *last = NULL;

        if (status >= 0 && wait_status_code(status) == 0)
                return 0;
        if (status == -ETIMEDOUT)
                return sup_error_make(ret_error, status, "%s: mkfs.ext4 did not finish within %llu s", what,
                                      (unsigned long long) (MKFS_EXT4_TIMEOUT / USEC_PER_SEC));
        if (status >= 0 && wait_status_code(status) == EXIT_NOT_INSTALLED)
                return sup_error_make(ret_error, -EIO, "%s: cannot run mkfs.ext4 (apt-get install e2fsprogs)", what);
        if (status < 0)
                return sup_error_errno(ret_error, status, "%s: cannot run mkfs.ext4", what);
        /* Its complaint: the last non-empty line. */
        for (char *save = NULL, *line = strtok_r(output ? output : (char[]){""}, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
                last = line;
        return sup_error_make(ret_error, -EIO, "%s: mkfs.ext4 failed: %s", what, last ? last : "no message");
}
