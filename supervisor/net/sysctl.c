/* SPDX-License-Identifier: MIT */
#include "sysctl.h"

#include <fcntl.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"

int sysctl_read_bool(const char *key, bool *ret) {
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char c;

        if (fd < 0)
                return negative_errno();
        if (read(fd, &c, 1) != 1)
                return -EIO;
        *ret = c != '0';
        return 0;
}

int sysctl_replace(const char *key, const char *from, const char *to, bool *ret_changed) {
        _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        char buf[32];
        ssize_t n;

        *ret_changed = false;
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        if (!streq(buf, from))
                return 0;
        if (pwrite(fd, to, strlen(to), 0) != (ssize_t) strlen(to))
                return negative_errno();
        *ret_changed = true;
        return 0;
}

int sysctl_enable(const char *key, bool *ret_changed) {
        return sysctl_replace(key, "0", "1", ret_changed);
}
