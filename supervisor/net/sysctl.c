/* SPDX-License-Identifier: MIT */
#include "sysctl.h"

#include <fcntl.h>

#include "alloc.h"
#include "macro.h"

int sysctl_enable(const char *key, bool *ret_changed) {
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        char c;

        if (fd < 0)
                return negative_errno();
        if (read(fd, &c, 1) != 1)
                return -EIO;
        if (c == '1') {
                *ret_changed = false;
                return 0;
        }
        if (pwrite(fd, "1\n", 2, 0) != 2)
                return negative_errno();
        *ret_changed = true;
        return 0;
}
