/* SPDX-License-Identifier: MIT */
/* How a sharer's monitor finds the container whose namespaces it joins (monitor/share-target.h),
 * against the real kernel: a process in a real instance cgroup stands in for the target's init,
 * and the target's status file is written by hand, so that it can lie the ways a stale one does.
 * The attack each check names: joining the namespaces of a process that is not the target's
 * (a PID reused since the status was written).
 *
 * Needs root and this host's cgroups (exit 77 otherwise; SUP_TESTS_MUST_WORK=1 makes that a
 * failure). The cgroup is sup-test-<pid>-share/owner, removed at the end. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "cgroup.h"
#include "fileio.h"
#include "instance.h"
#include "macro.h"
#include "path-util.h"
#include "share-target.h"
#include "unit-parse.h"

#define ROOT "/sys/fs/cgroup"

static int failures;

#define CHECK(expr)                                                                        \
        do {                                                                               \
                if (!(expr)) {                                                             \
                        fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #expr); \
                        failures++;                                                        \
                }                                                                          \
        } while (0)

static void write_status(const char *instances, const char *name, InstanceState state, pid_t pid) {
        _cleanup_free_ char *dir = path_join(instances, name), *path = path_join(dir, "status.json"), *text = NULL;
        InstanceStatus s = {.name = (char *) name, .isolation = ISOLATION_PROCESS, .state = state, .pid = pid};
        json_t *j = instance_status_to_json(&s);

        text = json_dumps(j, 0);
        json_decref(j);
        if (mkdir_p(dir, 0700) < 0 || write_file_atomic(path, text, strlen(text), 0644) < 0) {
                fprintf(stderr, "cannot write %s\n", path);
                exit(1);
        }
}

/* share_targets_open() on u: its result, the reason copied to err (for strstr()). */
static int open_targets(const UnitSpec *u, const char *instances, const char *parent, ContainerShare *s, char *err,
                        size_t errlen) {
        _cleanup_sup_error_ SupError *error = NULL;
        int r = share_targets_open(u, instances, ROOT, parent, s, &error);

        err[0] = 0;
        if (r < 0)
                (void) sup_error_to_buffer(error, err, errlen);
        return r;
}

/* The parent cgroup, on every hierarchy (ROOT itself on v2, ROOT/CONTROLLER on v1). */
static void remove_parent(const char *parent) {
        DIR *dir = opendir(ROOT);
        struct dirent *de;

        while (dir && (de = readdir(dir))) {
                _cleanup_free_ char *p = xasprintf(ROOT "/%s/%s", de->d_name, parent);
                (void) rmdir(p);
        }
        if (dir)
                closedir(dir);
        {
                _cleanup_free_ char *p = path_join(ROOT, parent);
                (void) rmdir(p);
        }
}

static _noreturn_ void skip(const char *why) {
        const char *must = getenv("SUP_TESTS_MUST_WORK");
        printf("%s: %s\n", must && streq(must, "1") ? "FAIL (SUP_TESTS_MUST_WORK=1)" : "SKIP", why);
        exit(must && streq(must, "1") ? 1 : 77);
}

int main(void) {
        static const char yaml[] = "image: {layers: [{dir: /layer}]}\ncommand: [/bin/true]\n"
                                   "share: {ipc: owner, pid: owner}\n";
        char instances[] = "/tmp/sup-share-target.XXXXXX", err[512];
        _cleanup_free_ char *parent = xasprintf("sup-test-%d-share", (int) getpid());
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        ContainerShare s;
        const char *key, *unit = NULL;
        Diagnostics d = {};
        int lifeline[2], r;
        pid_t owner;

        if (geteuid() != 0)
                skip("needs root");
        r = cgroup_create(ROOT, parent, "owner", &cg);
        if (r < 0)
                skip("cannot create a cgroup");
        if (!mkdtemp(instances) || pipe2(lifeline, O_CLOEXEC) < 0 ||
            unit_parse("sharer.yaml", "/", yaml, strlen(yaml), 0, &d, &u, NULL) < 0) {
                fprintf(stderr, "setup failed\n");
                return 1;
        }

        /* The target's init: a process in the target's cgroup, until the test closes the pipe. */
        owner = fork();
        if (owner == 0) {
                char c;
                close(lifeline[1]);
                (void) !read(lifeline[0], &c, 1);
                _exit(0);
        }
        close(lifeline[0]);
        CHECK(cgroup_attach(cg, owner) >= 0);

        /* The target runs, its status names its init: a pidfd per shared kind, none for net. */
        write_status(instances, "owner", INSTANCE_RUNNING, owner);
        r = open_targets(u, instances, parent, &s, err, sizeof(err));
        CHECK(r == 0);
        if (r == 0) {
                CHECK(s.ipc >= 0 && s.pid >= 0 && s.net == -EBADF);
                CHECK(share_targets_gone(&s, u, &unit) == NULL);
        }

        /* A PID that is not in the target's cgroup (as after a reuse: the status names a PID that
         * now belongs to someone else, here this test) is refused, whoever it is. */
        write_status(instances, "owner", INSTANCE_RUNNING, getpid());
        CHECK(open_targets(u, instances, parent, &(ContainerShare){}, err, sizeof(err)) == -ESRCH);
        CHECK(strstr(err, "share.ipc: unit \"owner\": PID") && strstr(err, "is not in its cgroup"));
        write_status(instances, "owner", INSTANCE_RUNNING, 1);
        CHECK(open_targets(u, instances, parent, &(ContainerShare){}, err, sizeof(err)) == -ESRCH);

        /* A target that is not running, or has no instance at all. */
        write_status(instances, "owner", INSTANCE_STOPPED, owner);
        CHECK(open_targets(u, instances, parent, &(ContainerShare){}, err, sizeof(err)) == -ESRCH);
        CHECK(strstr(err, "unit \"owner\" is not running (state stopped)") != NULL);
        {
                _cleanup_free_ char *dir = path_join(instances, "owner");
                (void) rm_rf(dir);
        }
        CHECK(open_targets(u, instances, parent, &(ContainerShare){}, err, sizeof(err)) == -ESRCH);
        CHECK(strstr(err, "unit \"owner\" has no instance") != NULL);

        /* The target's init exits: the pidfds opened before say so. */
        close(lifeline[1]);
        (void) waitpid(owner, NULL, 0);
        if (r == 0) {
                key = share_targets_gone(&s, u, &unit);
                CHECK(key && streq(key, "share.ipc") && unit && streq(unit, "owner"));
                share_targets_close(&s);
                CHECK(s.ipc == -EBADF && s.pid == -EBADF);
        }

        (void) cgroup_destroy(cg);
        remove_parent(parent);
        (void) rm_rf(instances);
        diagnostics_done(&d);
        printf("%s\n", failures ? "FAIL" : "ok");
        return failures ? 1 : 0;
}
