/* SPDX-License-Identifier: MIT */
#include "guest-cgroup.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

static int write_at(int dirfd, const char *file, const char *value) {
        _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return loop_write(fd, value, strlen(value));
}

int guest_cgroup_enter(uint64_t pids_max, SupError **ret_error) {
        _cleanup_close_ int root = -EBADF, unit = -EBADF;
        char max[32];
        int r;

        r = mkdir_p(GUEST_CGROUP_MOUNT, 0755);
        /* nsdelegate, as on the hosts process isolation runs on: a workload in the cgroup
         * namespace below cannot write its own pids.max, nor move out of it, even with
         * CAP_SYS_ADMIN and a cgroup2 mount of its own. */
        if (r >= 0 &&
            mount("cgroup2", GUEST_CGROUP_MOUNT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate") < 0 &&
            errno != EBUSY)
                r = negative_errno();
        if (r >= 0) {
                root = open(GUEST_CGROUP_MOUNT, O_DIRECTORY | O_CLOEXEC);
                r = root < 0 ? negative_errno() : write_at(root, "cgroup.subtree_control", "+pids");
        }
        if (r < 0) {
                if (pids_max == 0)
                        return 0; /* nothing to enforce */
                return sup_error_errno(ret_error, r,
                                       "resources.pids: the guest kernel has no cgroup2 with the pids controller");
        }
        if (mkdirat(root, GUEST_CGROUP_UNIT, 0755) < 0 && errno != EEXIST)
                return sup_error_errno(ret_error, negative_errno(), "cannot create the guest's cgroup for the unit");
        unit = openat(root, GUEST_CGROUP_UNIT, O_DIRECTORY | O_CLOEXEC);
        if (unit < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot open the guest's cgroup for the unit");
        if (pids_max > 0) {
                snprintf(max, sizeof(max), "%" PRIu64, pids_max);
                r = write_at(unit, "pids.max", max);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "resources.pids: cannot write pids.max in the guest");
        }
        /* "0": the writer, sup-init. A limit it does not itself count against would be one more
         * task than process isolation allows, whose init is in the instance's cgroup too. */
        r = write_at(unit, "cgroup.procs", "0");
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot move sup-init into the guest's cgroup for the unit");
        /* The unit's cgroup as the root of a cgroup namespace, which everything forked from here
         * on shares: /proc/self/cgroup says "0::/", as in a process container. */
        if (unshare(CLONE_NEWCGROUP) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot create a cgroup namespace");
        return 0;
}
