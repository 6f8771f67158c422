/* SPDX-License-Identifier: MIT */
#include "container-share.h"

#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "macro.h"

/* share.*: the namespace kinds another container's can stand in for, and the caller's own. */
static const struct {
        size_t offset; /* of the pidfd in ContainerShare */
        int flag;
        const char *own;
} shared_kinds[] = {
        {offsetof(ContainerShare, ipc), CLONE_NEWIPC, "/proc/self/ns/ipc"},
        {offsetof(ContainerShare, net), CLONE_NEWNET, "/proc/self/ns/net"},
        {offsetof(ContainerShare, pid), CLONE_NEWPID, "/proc/self/ns/pid"},
};

void container_share_leave(int own[static CONTAINER_SHARE_KINDS]) {
        for (size_t i = 0; i < ELEMENTSOF(shared_kinds); i++) {
                if (own[i] < 0)
                        continue;
                /* A monitor left in another container's namespace would set up its next
                 * container, network or netlink request there. It holds an fd of its own
                 * namespace and is root: this cannot fail short of a kernel bug, and if it does,
                 * dying (and taking its container along) is the safe way out. */
                if (setns(own[i], shared_kinds[i].flag) < 0)
                        abort();
                close(own[i]);
                own[i] = -EBADF;
        }
}

int container_share_enter(const ContainerShare *share, int own[static CONTAINER_SHARE_KINDS], uint64_t *ret_joined) {
        uint64_t joined = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(shared_kinds); i++)
                own[i] = -EBADF;
        for (size_t i = 0; share && i < ELEMENTSOF(shared_kinds); i++) {
                int target = *(const int *) ((const char *) share + shared_kinds[i].offset);

                if (target < 0)
                        continue;
                own[i] = open(shared_kinds[i].own, O_RDONLY | O_CLOEXEC);
                if (own[i] < 0) {
                        r = negative_errno();
                        goto fail;
                }
                if (setns(target, shared_kinds[i].flag) < 0) {
                        r = negative_errno();
                        close(own[i]);
                        own[i] = -EBADF;
                        goto fail;
                }
                joined |= (uint64_t) shared_kinds[i].flag;
        }
        *ret_joined = joined;
        return 0;

fail:
        container_share_leave(own);
        return r;
}
