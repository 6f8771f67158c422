/* SPDX-License-Identifier: MIT */
#include "share-target.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup.h"
#include "fileio.h"
#include "instance.h"
#include "macro.h"
#include "path-util.h"

typedef struct ShareKind {
        const char *key;
        const UnitRef *ref;
        int *fd;
} ShareKind;

/* share.ipc, share.pid, share.network of u, against the pidfds in s. */
static void share_kinds(const UnitSpec *u, ContainerShare *s, ShareKind ret[static CONTAINER_SHARE_KINDS]) {
        ret[0] = (ShareKind){"share.ipc", &u->share.ipc, &s->ipc};
        ret[1] = (ShareKind){"share.pid", &u->share.pid, &s->pid};
        ret[2] = (ShareKind){"share.network", &u->share.network, &s->net};
}

static int open_target(const char *name, const char *instances, const char *cgroup_root, const char *cgroup_parent,
                       int *ret, SupError **ret_error) {
        _cleanup_free_ char *dir = path_join(instances, name), *path = path_join(dir, "status.json"), *text = NULL;
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        InstanceStatus st = {};
        json_t *j;
        size_t n = 0;
        bool member = false;
        pid_t pid;
        int r;

        r = read_full_file(path, 1 << 20, &text, NULL);
        if (r < 0)
                return sup_error_make(ret_error, r == -ENOENT ? -ESRCH : r, "unit \"%s\" has no instance (%s: %s)",
                                      name, path, strerror(-r));
        j = json_loads(text, 0, NULL);
        r = instance_status_from_json(j, &st);
        json_decref(j);
        if (r < 0)
                return sup_error_make(ret_error, r, "the status of unit \"%s\" (%s) cannot be read", name, path);
        pid = st.pid;
        r = 0;
        if (st.isolation != ISOLATION_PROCESS)
                r = sup_error_make(ret_error, -EINVAL, "unit \"%s\" has no namespaces on this host (isolation: %s)",
                                   name, isolation_to_string(st.isolation) ?: "?");
        else if (st.state != INSTANCE_RUNNING || pid <= 0)
                r = sup_error_make(ret_error, -ESRCH, "unit \"%s\" is not running (state %s)", name,
                                   instance_state_to_string(st.state) ?: "?");
        instance_status_done(&st);
        if (r < 0)
                return r;

        /* The pidfd first, then the check: the pidfd pins the process it was opened for. */
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return sup_error_make(ret_error, negative_errno(), "unit \"%s\": its container's init (PID %d) is gone",
                                      name, (int) pid);
        r = cgroup_open(cgroup_root, cgroup_parent, name, &cg);
        if (r >= 0)
                r = cgroup_get_pids(cg, &pids, &n);
        for (size_t i = 0; r >= 0 && i < n && !member; i++)
                member = pids[i] == pid;
        if (r < 0)
                return sup_error_errno(ret_error, r, "unit \"%s\": PID %d from its status is not in its cgroup", name,
                                       (int) pid);
        if (!member)
                return sup_error_make(ret_error, -ESRCH,
                                      "unit \"%s\": PID %d from its status is not in its cgroup (it has ended)", name,
                                      (int) pid);
        *ret = TAKE_FD(pidfd);
        return 0;
}

int share_targets_open(const UnitSpec *u, const char *instances, const char *cgroup_root, const char *cgroup_parent,
                       ContainerShare *ret, SupError **ret_error) {
        ContainerShare s = {-EBADF, -EBADF, -EBADF};
        ShareKind kinds[CONTAINER_SHARE_KINDS];

        share_kinds(u, &s, kinds);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                int r;

                if (!kinds[i].ref->name)
                        continue;
                r = open_target(kinds[i].ref->name, instances, cgroup_root, cgroup_parent, kinds[i].fd, ret_error);
                if (r < 0) {
                        share_targets_close(&s);
                        return sup_error_wrap(ret_error, r, "%s", kinds[i].key);
                }
        }
        *ret = s;
        return 0;
}

void share_targets_close(ContainerShare *s) {
        int *fds[] = {&s->ipc, &s->net, &s->pid};

        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (*fds[i] >= 0) {
                        close(*fds[i]);
                        *fds[i] = -EBADF;
                }
}

const char *share_targets_gone(const ContainerShare *s, const UnitSpec *u, const char **ret_unit) {
        ShareKind kinds[CONTAINER_SHARE_KINDS];

        share_kinds(u, (ContainerShare *) s, kinds);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                /* A pidfd is readable once its process has exited. */
                struct pollfd p = {.fd = *kinds[i].fd, .events = POLLIN};

                if (p.fd >= 0 && poll(&p, 1, 0) > 0) {
                        *ret_unit = kinds[i].ref->name;
                        return kinds[i].key;
                }
        }
        return NULL;
}
