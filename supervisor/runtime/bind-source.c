/* SPDX-License-Identifier: MIT */
#include "bind-source.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "unit-spec.h"

/* The file systems a bind source may not be on: the kernel's interfaces, wherever the host
 * mounted them. (devtmpfs reports tmpfs's magic: /dev is refused by its path.) */
static const char *kernel_interface_fs(const struct statfs *sf) {
        static const struct {
                long magic;
                const char *name;
        } table[] = {
                {PROC_SUPER_MAGIC, "proc"},       {SYSFS_MAGIC, "sysfs"},       {CGROUP_SUPER_MAGIC, "cgroup"},
                {CGROUP2_SUPER_MAGIC, "cgroup2"}, {DEBUGFS_MAGIC, "debugfs"},   {TRACEFS_MAGIC, "tracefs"},
                {SECURITYFS_MAGIC, "securityfs"}, {BPF_FS_MAGIC, "bpf"},        {DEVPTS_SUPER_MAGIC, "devpts"},
                {EFIVARFS_MAGIC, "efivarfs"},     {PSTOREFS_MAGIC, "pstore"},   {NSFS_MAGIC, "nsfs"},
                {BINFMTFS_MAGIC, "binfmt_misc"},  {SELINUX_MAGIC, "selinuxfs"}, {SMACK_MAGIC, "smackfs"},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if ((long) sf->f_type == table[i].magic)
                        return table[i].name;
        return NULL;
}

int open_bind_source(const char *source, int *ret_fd, struct stat *ret_st, SupError **ret_error) {
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *fdpath = NULL;
        char real[PATH_MAX];
        const char *why, *fs;
        struct statfs sf;
        ssize_t n;

        fd = (int) syscall(SYS_openat2, AT_FDCWD, source, &how, sizeof(how));
        if (fd < 0 && errno == ELOOP) {
                _cleanup_free_ char *resolved = realpath(source, NULL);
                return sup_error_make(
                        ret_error, -ELOOP, "bind mount source %s goes through a symlink%s%s%s: name the real path",
                        source, resolved ? " (it resolves to " : "", resolved ? resolved : "", resolved ? ")" : "");
        }
        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "bind mount source %s", source);
        if (fstat(fd, ret_st) < 0 || fstatfs(fd, &sf) < 0)
                return sup_error_errno(ret_error, -errno, "bind mount source %s", source);
        if (S_ISCHR(ret_st->st_mode) || S_ISBLK(ret_st->st_mode))
                return sup_error_make(
                        ret_error, -EINVAL,
                        "bind mount source %s is a device node: devices are not passed through (bind mounts are nodev)",
                        source);
        /* The path of what was opened, without ".." or anything lexical left to fool a check. */
        fdpath = xasprintf("/proc/self/fd/%d", fd);
        n = readlink(fdpath, real, sizeof(real) - 1);
        if (n < 0)
                return sup_error_errno(ret_error, -errno, "bind mount source %s: cannot tell its real path", source);
        real[n] = 0;
        why = bind_source_refusal(real);
        if (why)
                return sup_error_make(ret_error, -EINVAL, "bind mount source %s: %s", source, why);
        fs = kernel_interface_fs(&sf);
        if (fs)
                return sup_error_make(ret_error, -EINVAL,
                                      "bind mount source %s is on %s, a kernel interface that no container may get",
                                      source, fs);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
