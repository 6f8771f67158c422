/* SPDX-License-Identifier: MIT */
#include "vm-disk.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "mkfs.h"

int vm_sandbox_disk(const char *path, uint64_t size, SupError **ret_error) {
        _cleanup_free_ char *tmp = NULL, *bytes = NULL;
        int r;

        if (access(path, F_OK) == 0)
                return 0;
        tmp = xasprintf("%s.new", path);
        bytes = xasprintf("%" PRIu64 "k", size / 1024);
        (void) unlink(tmp);
        {
                /* Lazy initialisation: the image is sparse and made in milliseconds; the guest
                 * kernel finishes the inode tables in the background. */
                char *argv[] = {(char *) "mkfs.ext4", (char *) "-q", (char *) "-F", (char *) "-E",
                                (char *) "lazy_itable_init=1,lazy_journal_init=1", tmp, bytes, NULL};
                _cleanup_free_ char *what = xasprintf("the sandbox disk %s", path);
                r = mkfs_ext4(argv, what, ret_error);
        }
        if (r >= 0 && (chmod(tmp, 0600) < 0 || rename(tmp, path) < 0))
                r = sup_error_errno(ret_error, -errno, "cannot create the sandbox disk %s", path);
        if (r < 0)
                (void) unlink(tmp);
        return r;
}
