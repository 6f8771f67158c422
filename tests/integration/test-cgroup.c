/* SPDX-License-Identifier: MIT */
/* The cgroup backends against the real kernel, in three layouts:
 *
 *  - host-v1:    this host's own /sys/fs/cgroup, when it is v1 or hybrid;
 *  - private-v1: v1 hierarchies mounted again on a tmpfs in a private mount namespace, with a
 *                joint "cpu,cpuacct" mount and no cgroup2, as on older hosts;
 *  - private-v2: a cgroup2 mount in a private mount namespace.
 *
 * Needs root. A layout this host lacks is skipped (exit 77 when nothing ran); SUP_TESTS_MUST_WORK=1
 * turns every skip into a failure. Parents are named sup-test-<pid>-*, and whatever is left of
 * them is killed and removed at the end, after a failure too. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */

#include "alloc.h"
#include "cgroup-internal.h"
#include "cgroup.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"

#define HOST_ROOT  "/sys/fs/cgroup"
#define TIMEOUT_MS 5000

typedef enum Result {
        RESULT_OK,
        RESULT_FAIL,
        RESULT_SKIP, /* the host lacks something this check needs */
        RESULT_NA,   /* the check does not apply to this host's layout */
} Result;

/* What a layout's checks came to: an OR of these (the exit status of the private ones). */
enum {
        OUTCOME_OK = 1 << 0,
        OUTCOME_SKIP = 1 << 1,
        OUTCOME_FAIL = 1 << 2,
};

static char prefix[64];            /* "sup-test-<pid>-" */
static int lifeline[2] = {-1, -1}; /* workloads end when the test process is gone (EOF) */

#define CHECK(expr)                                                                        \
        do {                                                                               \
                if (!(expr)) {                                                             \
                        fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #expr); \
                        return RESULT_FAIL;                                                \
                }                                                                          \
        } while (0)

#define CHECK_ERR(expr, want)                                                                               \
        do {                                                                                                \
                int _r = (expr);                                                                            \
                if (_r != (want)) {                                                                         \
                        fprintf(stderr, "%s:%d: %s: got %d (%s), want %d\n", __FILE__, __LINE__, #expr, _r, \
                                _r < 0 ? strerror(-_r) : "success", (want));                                \
                        return RESULT_FAIL;                                                                 \
                }                                                                                           \
        } while (0)

#define CHECK_OK(expr) CHECK_ERR((expr) < 0 ? (expr) : 0, 0)

#define CHECK_RESULT(expr)                                                         \
        do {                                                                       \
                if ((expr) != RESULT_OK) {                                         \
                        fprintf(stderr, "%s:%d: from here\n", __FILE__, __LINE__); \
                        return RESULT_FAIL;                                        \
                }                                                                  \
        } while (0)

static uint64_t now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};
        (void) nanosleep(&ts, NULL);
}

static char *parent_name(const char *what) {
        return xasprintf("%s%s", prefix, what);
}

static bool is_dir(const char *path) {
        struct stat st;
        return stat(path, &st) >= 0 && S_ISDIR(st.st_mode);
}

static bool file_has_word(const char *dir, const char *file, const char *word) {
        _cleanup_free_ char *path = path_join(dir, file), *text = NULL;
        return read_full_file(path, 1 << 20, &text, NULL) >= 0 && cgroup_words_contain(text, word);
}

static bool procs_has(const char *dir, pid_t pid) {
        char buf[32];
        (void) snprintf(buf, sizeof(buf), "%d", (int) pid);
        return file_has_word(dir, "cgroup.procs", buf);
}

static int write_file(const char *dir, const char *file, const char *value) {
        return cgroup_write_file(dir, file, value);
}

/* --- workloads: trees of processes that wait until the test goes away --- */

/* In every workload: off the test's output (a leftover must not keep the test runner's pipe
 * open), then waits for EOF on the lifeline. */
static void detach_output(void) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
                (void) dup2(fd, STDOUT_FILENO);
                (void) dup2(fd, STDERR_FILENO);
                (void) close(fd);
        }
}

static _noreturn_ void wait_for_test(void) {
        char c;
        for (;;)
                if (read(lifeline[0], &c, 1) >= 0 || errno != EINTR)
                        _exit(0);
}

static _noreturn_ void node(int ready, unsigned depth, unsigned fanout, bool ignore_term) {
        for (unsigned i = 0; depth > 0 && i < fanout; i++) {
                pid_t p = fork();
                if (p < 0)
                        _exit(127);
                if (p == 0)
                        node(ready, depth - 1, fanout, false);
        }
        if (ignore_term)
                (void) signal(SIGTERM, SIG_IGN);
        if (write(ready, "x", 1) != 1)
                _exit(127);
        wait_for_test();
}

typedef struct Workload {
        pid_t pid;
        int go;    /* written once the root is attached: then it forks the rest */
        int ready; /* one byte per process once it exists */
        unsigned size;
} Workload;

static void workload_close(Workload *w) {
        if (w->go >= 0)
                (void) close(w->go);
        if (w->ready >= 0)
                (void) close(w->ready);
        w->go = w->ready = -1;
}

/* A tree of 1 + fanout + fanout^2 ... processes (depth levels below the root). */
static int workload_spawn(Workload *w, unsigned depth, unsigned fanout, bool root_ignores_term) {
        int go[2], ready[2];
        unsigned level = 1;

        if (pipe2(go, O_CLOEXEC) < 0)
                return negative_errno();
        if (pipe2(ready, O_CLOEXEC) < 0) {
                (void) close(go[0]);
                (void) close(go[1]);
                return negative_errno();
        }
        w->size = 1;
        for (unsigned d = 0; d < depth; d++) {
                level *= fanout;
                w->size += level;
        }
        fflush(NULL);
        w->pid = fork();
        if (w->pid < 0)
                return negative_errno();
        if (w->pid == 0) {
                char c;
                (void) close(go[1]);
                (void) close(ready[0]);
                (void) close(lifeline[1]);
                detach_output();
                if (read(go[0], &c, 1) != 1)
                        _exit(127);
                node(ready[1], depth, fanout, root_ignores_term);
        }
        (void) close(go[0]);
        (void) close(ready[1]);
        w->go = go[1];
        w->ready = ready[0];
        return 0;
}

static int workload_start(Workload *w) {
        uint64_t deadline = now_ms() + TIMEOUT_MS;
        unsigned got = 0;

        if (write(w->go, "g", 1) != 1)
                return negative_errno();
        while (got < w->size) {
                struct pollfd p = {.fd = w->ready, .events = POLLIN};
                char buf[64];
                ssize_t n;

                if (now_ms() > deadline)
                        return -ETIMEDOUT;
                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = read(w->ready, buf, sizeof(buf));
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EPIPE;
                got += (unsigned) n;
        }
        return 0;
}

/* Reaps each of the pids (the test is their subreaper once their parents are gone) and waits until
 * none exists any more, zombies included. */
static int wait_gone(const pid_t *pids, size_t n) {
        uint64_t deadline = now_ms() + TIMEOUT_MS;

        for (;;) {
                size_t alive = 0;
                for (size_t i = 0; i < n; i++) {
                        (void) waitpid(pids[i], NULL, WNOHANG);
                        if (kill(pids[i], 0) >= 0 || errno != ESRCH)
                                alive++;
                }
                if (alive == 0)
                        return 0;
                if (now_ms() > deadline)
                        return -ETIMEDOUT;
                sleep_ms(5);
        }
}

static int wait_empty(const Cgroup *cg) {
        uint64_t deadline = now_ms() + TIMEOUT_MS;

        for (;;) {
                bool empty;
                int r = cgroup_is_empty(cg, &empty);
                if (r < 0)
                        return r;
                if (empty)
                        return 0;
                if (now_ms() > deadline)
                        return -ETIMEDOUT;
                sleep_ms(5);
        }
}

static bool all_gone(const Cgroup *cg) {
        for (size_t i = 0; i < cgroup_n_hierarchies(cg); i++)
                if (is_dir(cgroup_hierarchy(cg, i)->path))
                        return false;
        return true;
}

/* After a kill: the cgroup empties, each of pids is reaped, and destroy removes every directory. */
static Result wait_and_destroy(const Cgroup *cg, const pid_t *pids, size_t n) {
        CHECK_OK(wait_empty(cg));
        CHECK_OK(wait_gone(pids, n));
        CHECK_OK(cgroup_destroy(cg));
        CHECK(all_gone(cg));
        return RESULT_OK;
}

/* --- the checks, for any layout --- */

static Result check_lifecycle(const char *root, CgroupVersion version) {
        _cleanup_free_ char *parent = parent_name("life");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL, *again = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        Workload w = {.go = -1, .ready = -1};
        size_t n;
        bool empty;
        int fd;

        CHECK_OK(cgroup_create(root, parent, "web", &cg));
        CHECK(cgroup_version(cg) == version);
        CHECK(endswith(cgroup_path(cg), "/web"));
        /* Creating it again opens it (adoption after a supd restart). */
        CHECK_OK(cgroup_create(root, parent, "web", &again));
        CHECK(streq(cgroup_path(cg), cgroup_path(again)));
        CHECK(cgroup_n_hierarchies(cg) == cgroup_n_hierarchies(again));
        for (size_t i = 0; i < cgroup_n_hierarchies(cg); i++)
                CHECK(is_dir(cgroup_hierarchy(cg, i)->path));

        fd = cgroup_open_fd(cg);
        if (version == CGROUP_V2) {
                CHECK_OK(fd);
                (void) close(fd);
        } else
                CHECK_ERR(fd, -EOPNOTSUPP);

        CHECK_OK(cgroup_is_empty(cg, &empty));
        CHECK(empty);

        CHECK_OK(workload_spawn(&w, 0, 0, false));
        CHECK_OK(cgroup_attach(cg, w.pid));
        CHECK_OK(workload_start(&w));
        workload_close(&w);

        CHECK_OK(cgroup_get_pids(cg, &pids, &n));
        CHECK(n == 1 && pids[0] == w.pid);
        for (size_t i = 0; i < cgroup_n_hierarchies(cg); i++)
                CHECK(procs_has(cgroup_hierarchy(cg, i)->path, w.pid));
        CHECK_OK(cgroup_is_empty(cg, &empty));
        CHECK(!empty);
        CHECK_ERR(cgroup_destroy(cg), -EBUSY);
        CHECK(!all_gone(cg) && is_dir(cgroup_path(cg)));

        CHECK_OK(cgroup_kill(cg, SIGKILL));
        CHECK_RESULT(wait_and_destroy(cg, pids, n));
        CHECK_OK(cgroup_destroy(again)); /* gone already: nothing to do */
        return RESULT_OK;
}

/* A tree that forks after it is attached: every process inherits the cgroup, and one kill reaches
 * them all, whichever path it takes (cgroup.kill, or the freezer and signal rounds). */
static Result check_kill_tree(const char *root, const char *what, int sig) {
        _cleanup_free_ char *parent = parent_name(what);
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        Workload w = {.go = -1, .ready = -1};
        const char *freezer;
        size_t n;

        CHECK_OK(cgroup_create(root, parent, "tree", &cg));
        CHECK_OK(workload_spawn(&w, 2, 3, false));
        CHECK_OK(cgroup_attach(cg, w.pid));
        CHECK_OK(workload_start(&w));
        workload_close(&w);

        CHECK_OK(cgroup_get_pids(cg, &pids, &n));
        CHECK(n == w.size); /* 1 + 3 + 9 */
        for (size_t i = 0; i + 1 < n; i++)
                CHECK(pids[i] < pids[i + 1]);

        CHECK_OK(cgroup_kill(cg, sig));
        /* Where kill froze the tree, it thawed it before returning. */
        freezer = cgroup_controller_path(cg, CGROUP_CONTROLLER_FREEZER);
        if (freezer)
                CHECK(file_has_word(freezer, "freezer.state", "THAWED"));
        CHECK_RESULT(wait_and_destroy(cg, pids, n));
        return RESULT_OK;
}

/* SIGTERM to a tree whose root ignores it: the others go, the root stays and is left running (on
 * v1: thawed), and SIGKILL ends it. */
static Result check_term_ignored(const char *root) {
        _cleanup_free_ char *parent = parent_name("term");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL, *left = NULL;
        Workload w = {.go = -1, .ready = -1};
        uint64_t deadline = now_ms() + TIMEOUT_MS;
        const char *freezer;
        size_t n, n_left;

        CHECK_OK(cgroup_create(root, parent, "term", &cg));
        CHECK_OK(workload_spawn(&w, 1, 4, true));
        CHECK_OK(cgroup_attach(cg, w.pid));
        CHECK_OK(workload_start(&w));
        workload_close(&w);
        CHECK_OK(cgroup_get_pids(cg, &pids, &n));
        CHECK(n == 5);

        CHECK_OK(cgroup_kill(cg, SIGTERM));
        for (;;) {
                free(left);
                left = NULL;
                CHECK_OK(cgroup_get_pids(cg, &left, &n_left));
                if (n_left == 1)
                        break;
                CHECK(now_ms() < deadline);
                sleep_ms(5);
        }
        CHECK(left[0] == w.pid);
        freezer = cgroup_controller_path(cg, CGROUP_CONTROLLER_FREEZER);
        if (freezer)
                CHECK(file_has_word(freezer, "freezer.state", "THAWED"));
        CHECK(kill(w.pid, 0) >= 0);

        CHECK_OK(cgroup_kill(cg, SIGKILL));
        CHECK_RESULT(wait_and_destroy(cg, pids, n));
        return RESULT_OK;
}

/* A workload that made cgroups of its own below the instance (with delegation): they are listed,
 * signalled by the rounds, and removed by destroy. */
static Result check_nested(const char *root) {
        _cleanup_free_ char *parent = parent_name("nested");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        Workload w = {.go = -1, .ready = -1};
        char buf[32];
        size_t n;
        bool empty;

        CHECK_OK(cgroup_create(root, parent, "outer", &cg));
        CHECK_OK(workload_spawn(&w, 0, 0, false));
        (void) snprintf(buf, sizeof(buf), "%d", (int) w.pid);
        for (size_t i = 0; i < cgroup_n_hierarchies(cg); i++) {
                _cleanup_free_ char *inner = path_join(cgroup_hierarchy(cg, i)->path, "inner");
                _cleanup_free_ char *deeper = path_join(inner, "deeper");
                CHECK(mkdir(inner, 0755) >= 0);
                CHECK(mkdir(deeper, 0755) >= 0);
                CHECK_OK(write_file(inner, "cgroup.procs", buf));
        }
        CHECK_OK(workload_start(&w));
        workload_close(&w);

        CHECK_OK(cgroup_get_pids(cg, &pids, &n));
        CHECK(n == 1 && pids[0] == w.pid);
        CHECK_OK(cgroup_is_empty(cg, &empty));
        CHECK(!empty);
        CHECK_ERR(cgroup_destroy(cg), -EBUSY);

        CHECK_OK(cgroup_kill(cg, SIGTERM)); /* the rounds, not cgroup.kill */
        CHECK_RESULT(wait_and_destroy(cg, pids, n));
        return RESULT_OK;
}

/* Two parents (two supd), one unit name: neither sees nor kills the other's instance. */
static Result check_isolation(const char *root) {
        _cleanup_free_ char *pa = parent_name("iso-a"), *pb = parent_name("iso-b");
        _cleanup_(cgroup_freep) Cgroup *a = NULL, *b = NULL;
        _cleanup_free_ pid_t *pids_a = NULL, *pids_b = NULL;
        Workload wa = {.go = -1, .ready = -1}, wb = {.go = -1, .ready = -1};
        size_t na, nb;
        bool empty;

        CHECK_OK(cgroup_create(root, pa, "web", &a));
        CHECK_OK(cgroup_create(root, pb, "web", &b));
        CHECK(!streq(cgroup_path(a), cgroup_path(b)));
        CHECK_OK(workload_spawn(&wa, 1, 2, false));
        CHECK_OK(workload_spawn(&wb, 1, 2, false));
        CHECK_OK(cgroup_attach(a, wa.pid));
        CHECK_OK(cgroup_attach(b, wb.pid));
        CHECK_OK(workload_start(&wa));
        CHECK_OK(workload_start(&wb));
        workload_close(&wa);
        workload_close(&wb);

        CHECK_OK(cgroup_get_pids(a, &pids_a, &na));
        CHECK_OK(cgroup_get_pids(b, &pids_b, &nb));
        CHECK(na == 3 && nb == 3);
        for (size_t i = 0; i < na; i++)
                for (size_t j = 0; j < nb; j++)
                        CHECK(pids_a[i] != pids_b[j]);

        CHECK_OK(cgroup_kill(a, SIGKILL));
        CHECK_RESULT(wait_and_destroy(a, pids_a, na));
        CHECK_OK(cgroup_is_empty(b, &empty));
        CHECK(!empty);
        for (size_t j = 0; j < nb; j++)
                CHECK(kill(pids_b[j], 0) >= 0);

        CHECK_OK(cgroup_kill(b, SIGTERM));
        CHECK_RESULT(wait_and_destroy(b, pids_b, nb));
        return RESULT_OK;
}

static _noreturn_ void hog(int go) {
        char c;
        if (read(go, &c, 1) != 1)
                _exit(127);
        /* Far past the limit, touching every page. Volatile, and each block chained to the last:
         * a compiler may drop a buffer nobody reads, malloc() included (clang -O2 does). */
        char *volatile head = NULL;
        for (size_t total = 0; total < (size_t) 1 << 30; total += 1 << 20) {
                char *p = malloc(1 << 20);
                if (!p)
                        _exit(3);
                for (size_t i = 0; i < (size_t) 1 << 20; i += 4096)
                        ((volatile char *) p)[i] = 0x5a;
                *(char **) p = head;
                head = p;
        }
        _exit(0);
}

/* A memory limit through the limits API, a workload over it, one OOM kill. */
static Result check_oom(const char *root, CgroupVersion version) {
        _cleanup_free_ char *parent = parent_name("oom");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        const char *memory;
        uint64_t kills;
        int go[2], status;
        pid_t pid;

        CHECK_OK(cgroup_create(root, parent, "oom", &cg));
        CHECK_OK(cgroup_oom_kills(cg, &kills));
        CHECK(kills == 0);
        memory = cgroup_controller_path(cg, CGROUP_CONTROLLER_MEMORY);
        if (!memory) {
                /* A hybrid host binds memory to v1: the contract is then that this reads 0. */
                printf("  (no memory controller in this layout: only checked that oom_kills reads 0)\n");
                CHECK_OK(cgroup_destroy(cg));
                return RESULT_NA;
        }
        CHECK_OK(cgroup_set_memory(cg, 16 << 20, NULL));

        CHECK(pipe2(go, O_CLOEXEC) >= 0);
        fflush(NULL);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                (void) close(go[1]);
                (void) close(lifeline[1]);
                detach_output();
                hog(go[0]);
        }
        (void) close(go[0]);
        CHECK_OK(cgroup_attach(cg, pid));
        CHECK(write(go[1], "g", 1) == 1);
        (void) close(go[1]);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        CHECK_OK(cgroup_oom_kills(cg, &kills));
        CHECK(kills == 1);
        CHECK_OK(wait_empty(cg));
        CHECK_OK(cgroup_destroy(cg));
        return RESULT_OK;
}

/* --- limits --- */

/* Whether dir/file holds want (one line, the newline aside). */
static bool file_is(const char *dir, const char *file, const char *want) {
        _cleanup_free_ char *text = NULL;

        if (cgroup_read_file(dir, file, &text) < 0)
                return false;
        if (!streq(text, want) &&
            !(strlen(text) == strlen(want) + 1 && strneq(text, want, strlen(want)) && text[strlen(want)] == '\n')) {
                fprintf(stderr, "  %s/%s: \"%s\", want \"%s\"\n", dir, file, text, want);
                return false;
        }
        return true;
}

static bool file_is_u64(const char *dir, const char *file, uint64_t want) {
        uint64_t v;
        return cgroup_read_u64(dir, file, &v) >= 0 && v == want;
}

/* The memory limit with swap off, raised, lowered and lifted; memsw follows on v1. */
static Result check_memory_files(const Cgroup *cg, const char *dir, CgroupVersion version) {
        static const uint64_t steps[] = {64 << 20, 128 << 20, 32 << 20, 0};

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                uint64_t want = steps[i] ? steps[i] : UINT64_MAX;
                CgroupSwap swap = (CgroupSwap) -1;

                CHECK_OK(cgroup_set_memory(cg, steps[i], &swap));
                if (version == CGROUP_V2) {
                        CHECK(file_is_u64(dir, "memory.max", want));
                        if (steps[i] == 0)
                                CHECK(swap == CGROUP_SWAP_NA);
                        else if (swap == CGROUP_SWAP_OFF)
                                CHECK(file_is(dir, "memory.swap.max", "0"));
                        else
                                CHECK(swap == CGROUP_SWAP_UNCONTROLLED);
                } else {
                        CHECK(file_is_u64(dir, "memory.limit_in_bytes", want));
                        if (steps[i] == 0)
                                CHECK(swap == CGROUP_SWAP_NA);
                        else if (swap == CGROUP_SWAP_OFF)
                                CHECK(file_is_u64(dir, "memory.memsw.limit_in_bytes", want));
                        else
                                CHECK(swap == CGROUP_SWAP_SWAPPINESS && file_is(dir, "memory.swappiness", "0"));
                }
        }
        return RESULT_OK;
}

static Result check_cpu_files(const char *dir, CgroupVersion version, const Cgroup *cg) {
        /* 0.5 CPU: 50 ms per 100 ms; 0.005 CPU: 5 ms per second (1 ms is the kernel's least quota). */
        CHECK_OK(cgroup_set_cpus(cg, 500));
        if (version == CGROUP_V2)
                CHECK(file_is(dir, "cpu.max", "50000 100000"));
        else
                CHECK(file_is(dir, "cpu.cfs_quota_us", "50000") && file_is(dir, "cpu.cfs_period_us", "100000"));
        CHECK_OK(cgroup_set_cpus(cg, 5));
        if (version == CGROUP_V2)
                CHECK(file_is(dir, "cpu.max", "5000 1000000"));
        else
                CHECK(file_is(dir, "cpu.cfs_quota_us", "5000") && file_is(dir, "cpu.cfs_period_us", "1000000"));
        CHECK_OK(cgroup_set_cpus(cg, 0));
        if (version == CGROUP_V2)
                CHECK(file_is(dir, "cpu.max", "max 1000000"));
        else
                CHECK(file_is(dir, "cpu.cfs_quota_us", "-1"));
        return RESULT_OK;
}

/* Every limit on a real cgroup: the files the backend writes, read back from the kernel. A
 * controller the layout lacks must refuse a limit (-EOPNOTSUPP) and take "none" quietly. */
static Result check_limits(const char *root, CgroupVersion version) {
        _cleanup_free_ char *parent = parent_name("limits");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        const char *memory, *cpu, *pids, *io, *file = NULL;
        CgroupStats st;
        unsigned applied = 0;
        int r;

        CHECK_OK(cgroup_create(root, parent, "web", &cg));
        memory = cgroup_controller_path(cg, CGROUP_CONTROLLER_MEMORY);
        cpu = cgroup_controller_path(cg, CGROUP_CONTROLLER_CPU);
        pids = cgroup_controller_path(cg, CGROUP_CONTROLLER_PIDS);
        io = cgroup_controller_path(cg, CGROUP_CONTROLLER_IO);

        if (memory) {
                CHECK_RESULT(check_memory_files(cg, memory, version));
                applied++;
        } else {
                CHECK_ERR(cgroup_set_memory(cg, 64 << 20, NULL), -EOPNOTSUPP);
                CHECK_OK(cgroup_set_memory(cg, 0, NULL));
        }
        if (cpu) {
                r = cgroup_set_cpus(cg, 500);
                if (r == -EOPNOTSUPP)
                        printf("  (cpu controller without CFS bandwidth control here)\n");
                else
                        CHECK_RESULT(check_cpu_files(cpu, version, cg));
                applied++;
        } else {
                CHECK_ERR(cgroup_set_cpus(cg, 500), -EOPNOTSUPP);
                CHECK_OK(cgroup_set_cpus(cg, 0));
        }
        if (pids) {
                CHECK_OK(cgroup_set_pids_max(cg, 64));
                CHECK(file_is(pids, "pids.max", "64"));
                CHECK_OK(cgroup_set_pids_max(cg, 0));
                CHECK(file_is(pids, "pids.max", "max"));
                applied++;
        } else {
                CHECK_ERR(cgroup_set_pids_max(cg, 64), -EOPNOTSUPP);
                CHECK_OK(cgroup_set_pids_max(cg, 0));
        }
        if (io) {
                r = cgroup_set_io_weight(cg, 500, &file);
                if (r == -EOPNOTSUPP)
                        printf("  (no I/O weight file here: neither blk-iocost nor BFQ)\n");
                else {
                        CHECK_OK(r);
                        printf("  (io_weight 500 -> %s)\n", file);
                        CHECK(file_has_word(io, file,
                                            streq(file, "io.weight")      ? "500"
                                            : streq(file, "blkio.weight") ? "520"
                                                                          : "136"));
                        CHECK_OK(cgroup_set_io_weight(cg, 0, NULL));
                        CHECK(file_has_word(io, file, streq(file, "blkio.weight") ? "500" : "100"));
                }
                applied++;
        } else
                CHECK_ERR(cgroup_set_io_weight(cg, 500, NULL), -EOPNOTSUPP);

        /* What status shows: no process yet, so no task and no CPU time. */
        CHECK_OK(cgroup_get_stats(cg, &st));
        CHECK((st.memory_current != UINT64_MAX) == !!memory);
        CHECK(st.memory_max == UINT64_MAX);
        CHECK(st.pids_current == (pids ? 0 : UINT64_MAX));
        CHECK(st.pids_max == UINT64_MAX);
        CHECK(st.cpu_usec == 0 || st.cpu_usec == UINT64_MAX);

        CHECK_OK(cgroup_destroy(cg));
        if (applied == 0) {
                printf("  (none of memory, cpu, pids, io in this layout: only the refusals were checked)\n");
                return RESULT_NA;
        }
        return RESULT_OK;
}

/* A process in the cgroup forks 16 children that wait; returns how many forks succeeded. */
static _noreturn_ void forker(int go) {
        unsigned ok = 0;
        char c;

        if (read(go, &c, 1) != 1)
                _exit(255);
        for (int i = 0; i < 16; i++) {
                pid_t p = fork();
                if (p == 0)
                        wait_for_test();
                if (p > 0)
                        ok++;
        }
        _exit((int) ok);
}

/* Runs f(go) in a child attached to cg once it is there; returns its wait status. */
static int run_in(const Cgroup *cg, void (*f)(int go), int *ret_status) {
        int go[2];
        pid_t pid;
        int r;

        if (pipe2(go, O_CLOEXEC) < 0)
                return negative_errno();
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                (void) close(go[1]);
                detach_output();
                f(go[0]);
                _exit(127);
        }
        (void) close(go[0]);
        r = cgroup_attach(cg, pid);
        if (r >= 0 && write(go[1], "g", 1) != 1)
                r = negative_errno();
        (void) close(go[1]);
        if (waitpid(pid, ret_status, 0) != pid && r >= 0)
                r = negative_errno();
        return r;
}

/* The pids limit holds: with pids.max 4, the forker and 3 of its 16 children. */
static Result check_pids_enforced(const char *root) {
        _cleanup_free_ char *parent = parent_name("pidsmax");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        int status;

        CHECK_OK(cgroup_create(root, parent, "bomb", &cg));
        if (!cgroup_controller_path(cg, CGROUP_CONTROLLER_PIDS)) {
                CHECK_OK(cgroup_destroy(cg));
                return RESULT_NA;
        }
        CHECK_OK(cgroup_set_pids_max(cg, 4));
        CHECK_OK(run_in(cg, forker, &status));
        CHECK(WIFEXITED(status));
        printf("  (pids.max 4: %d of 16 forks succeeded)\n", WEXITSTATUS(status));
        CHECK(WEXITSTATUS(status) == 3);
        CHECK_OK(cgroup_kill(cg, SIGKILL));
        CHECK_OK(wait_empty(cg));
        CHECK_OK(cgroup_destroy(cg));
        return RESULT_OK;
}

static _noreturn_ void spinner(int go) {
        uint64_t end;
        char c;

        if (read(go, &c, 1) != 1)
                _exit(255);
        end = now_ms() + 1000;
        while (now_ms() < end)
                ;
        _exit(0);
}

/* 0.2 CPU: a second of busy looping gets about 200 ms of CPU, as the cgroup counts it. */
static Result check_cpus_enforced(const char *root) {
        _cleanup_free_ char *parent = parent_name("cpumax");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        CgroupStats st;
        int status, r;

        CHECK_OK(cgroup_create(root, parent, "spin", &cg));
        r = cgroup_set_cpus(cg, 200);
        if (r == -EOPNOTSUPP) {
                CHECK_OK(cgroup_destroy(cg));
                return RESULT_NA;
        }
        CHECK_OK(r);
        CHECK_OK(run_in(cg, spinner, &status));
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_OK(cgroup_get_stats(cg, &st));
        if (st.cpu_usec == UINT64_MAX) {
                printf("  (no CPU accounting in this layout)\n");
                CHECK_OK(cgroup_destroy(cg));
                return RESULT_NA;
        }
        printf("  (cpus 0.2: %llu ms of CPU in 1 s of busy looping)\n", (unsigned long long) st.cpu_usec / 1000);
        CHECK(st.cpu_usec >= 100000 && st.cpu_usec <= 300000);
        CHECK_OK(cgroup_destroy(cg));
        return RESULT_OK;
}

static Result check_open(const char *root) {
        _cleanup_free_ char *parent = parent_name("open");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL, *opened = NULL;

        CHECK_ERR(cgroup_open(root, parent, "web", &opened), -ENOENT);
        CHECK_OK(cgroup_create(root, parent, "web", &cg));
        CHECK_OK(cgroup_open(root, parent, "web", &opened));
        CHECK(streq(cgroup_path(opened), cgroup_path(cg)));
        CHECK(cgroup_n_hierarchies(opened) == cgroup_n_hierarchies(cg));
        CHECK_OK(cgroup_destroy(cg));
        return RESULT_OK;
}

static Result check_bad_names(const char *root) {
        Cgroup *cg = NULL;

        CHECK_ERR(cgroup_create(root, "/abs", "web", &cg), -EINVAL);
        CHECK_ERR(cgroup_create(root, "a/../b", "web", &cg), -EINVAL);
        CHECK_ERR(cgroup_create(root, "a//b", "web", &cg), -EINVAL);
        CHECK_ERR(cgroup_create(root, "", "web", &cg), -EINVAL);
        CHECK_ERR(cgroup_create(root, "sup", "..", &cg), -EINVAL);
        CHECK_ERR(cgroup_create(root, "sup", "a/b", &cg), -EINVAL);
        CHECK(!cg);
        return RESULT_OK;
}

/* --- layout-specific checks --- */

/* On the host: a directory in each mounted v1 hierarchy, those of the controllers sup uses and
 * the others (joined so that no hierarchy's root, where release_agent is, lies in the container's
 * cgroup namespace), and cgroup_path() in the unified one. */
static Result check_host_v1_layout(void) {
        static const char *const names[] = {"memory", "pids",    "cpu",     "cpuacct", "blkio",     "freezer",
                                            "cpuset", "devices", "systemd", "net_cls", "perf_event"};
        _cleanup_free_ char *parent = parent_name("layout");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ char *unified = NULL;
        struct statfs fs;
        size_t expected = 0;

        CHECK_OK(cgroup_create(HOST_ROOT, parent, "web", &cg));
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *mount = path_join(HOST_ROOT, names[i]);
                _cleanup_free_ char *dir = xasprintf("%s/%s/web", mount, parent);
                if (statfs(mount, &fs) < 0 || fs.f_type != CGROUP_SUPER_MAGIC)
                        continue;
                CHECK(is_dir(dir));
                expected++;
        }
        unified = xasprintf("%s/unified/%s/web", HOST_ROOT, parent);
        if (statfs(HOST_ROOT "/unified", &fs) >= 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
                CHECK(is_dir(unified));
                CHECK(streq(cgroup_path(cg), unified));
                expected++;
        }
        /* Separate mounts here; a joint cpu,cpuacct one is checked in private-v1. */
        CHECK(cgroup_n_hierarchies(cg) <= expected);
        CHECK(cgroup_n_hierarchies(cg) >= 1);
        /* A cpuset cgroup holds tasks only once it has CPUs and memory nodes: the parent's. */
        if (statfs(HOST_ROOT "/cpuset", &fs) >= 0 && fs.f_type == CGROUP_SUPER_MAGIC) {
                _cleanup_free_ char *dir = xasprintf("%s/cpuset/%s/web", HOST_ROOT, parent), *cpus = NULL;
                CHECK_OK(cgroup_read_file(dir, "cpuset.cpus", &cpus));
                CHECK(!streq(cpus, "\n"));
        }
        CHECK_OK(cgroup_destroy(cg));
        CHECK(all_gone(cg));
        return RESULT_OK;
}

/* In private-v1: one hierarchy for cpu and cpuacct (one found through a symlink, the other through
 * the comma-separated name), no cgroup2, and the pids hierarchy as cgroup_path(). */
static Result check_private_v1_layout(const char *root) {
        _cleanup_free_ char *parent = parent_name("joint");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        const char *cpu, *cpuacct;

        CHECK_OK(cgroup_create(root, parent, "web", &cg));
        CHECK(cgroup_version(cg) == CGROUP_V1);
        CHECK(cgroup_n_hierarchies(cg) == 4); /* memory, pids, cpu+cpuacct, freezer */
        cpu = cgroup_controller_path(cg, CGROUP_CONTROLLER_CPU);
        cpuacct = cgroup_controller_path(cg, CGROUP_CONTROLLER_CPUACCT);
        CHECK(cpu && cpuacct && cpu == cpuacct);
        CHECK(!cgroup_controller_path(cg, CGROUP_CONTROLLER_IO));
        CHECK(cgroup_controller_path(cg, CGROUP_CONTROLLER_FREEZER));
        CHECK(cgroup_path(cg) == cgroup_controller_path(cg, CGROUP_CONTROLLER_PIDS));
        for (size_t i = 0; i < cgroup_n_hierarchies(cg); i++)
                CHECK(!cgroup_hierarchy(cg, i)->unified);
        CHECK_OK(cgroup_destroy(cg));
        CHECK(all_gone(cg));
        return RESULT_OK;
}

/* clone3(CLONE_INTO_CGROUP) with cgroup_open_fd(): the child starts inside. */
static Result check_clone_into_cgroup(const char *root) {
        _cleanup_free_ char *parent = parent_name("clone");
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct clone_args args = {};
        size_t n;
        long pid;

        CHECK_OK(cgroup_create(root, parent, "web", &cg));
        fd = cgroup_open_fd(cg);
        CHECK_OK(fd);
        args.flags = CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t) fd;
        fflush(NULL);
        pid = syscall(SYS_clone3, &args, sizeof(args));
        CHECK(pid >= 0);
        if (pid == 0) {
                (void) close(lifeline[1]);
                detach_output();
                wait_for_test();
        }
        CHECK_OK(cgroup_get_pids(cg, &pids, &n));
        CHECK(n == 1 && pids[0] == (pid_t) pid);
        CHECK_OK(cgroup_kill(cg, SIGKILL));
        CHECK_RESULT(wait_and_destroy(cg, pids, n));
        return RESULT_OK;
}

static Result delegate(const char *root, const char *c, const char *outer) {
        _cleanup_free_ char *parent = xasprintf("%s/inner", outer), *outer_dir = NULL, *inner_dir = NULL;
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        Workload w = {.go = -1, .ready = -1};
        size_t n;

        CHECK_OK(cgroup_create_v2_with(root, parent, "web", (const char *const[]){c, NULL}, &cg));
        outer_dir = path_join(root, outer);
        inner_dir = path_join(root, parent);
        CHECK(file_has_word(root, "cgroup.subtree_control", c));
        CHECK(file_has_word(outer_dir, "cgroup.subtree_control", c));
        CHECK(file_has_word(inner_dir, "cgroup.subtree_control", c));
        CHECK(file_has_word(cgroup_path(cg), "cgroup.controllers", c));
        CHECK(!file_has_word(cgroup_path(cg), "cgroup.subtree_control", c));

        /* The leaf takes processes: nothing is enabled in it. */
        CHECK_OK(workload_spawn(&w, 0, 0, false));
        CHECK_OK(cgroup_attach(cg, w.pid));
        CHECK_OK(workload_start(&w));
        workload_close(&w);
        CHECK_OK(cgroup_get_pids(cg, &pids, &n));
        CHECK(n == 1);
        CHECK_OK(cgroup_kill(cg, SIGKILL));
        CHECK_RESULT(wait_and_destroy(cg, pids, n));
        /* Parents stay: other instances may use them. */
        CHECK(is_dir(inner_dir));
        return RESULT_OK;
}

static void sweep_tree(const char *dir, int pass);

/* Delegation on the way down (root, then each parent; never the leaf), with a controller this
 * cgroup2 holds: sup's own where the host has them, else hugetlb, which a hybrid host often leaves
 * to cgroup2 while memory, pids, cpu and io are bound to v1. The root is the host's: a controller
 * the check enables there is disabled again, under a lock so that two runs do not undo each other. */
static Result check_v2_delegation(const char *root) {
        static const char *const candidates[] = {"memory", "pids", "cpu", "io", "hugetlb"};
        _cleanup_free_ char *outer = parent_name("deleg"), *outer_dir = path_join(root, outer);
        _cleanup_close_ int lock = -EBADF;
        const char *c = NULL;
        bool added;
        Result r;

        for (size_t i = 0; i < ELEMENTSOF(candidates) && !c; i++)
                if (file_has_word(root, "cgroup.controllers", candidates[i]))
                        c = candidates[i];
        if (!c) {
                printf("  (no controller at all in %s/cgroup.controllers)\n", root);
                return RESULT_NA;
        }
        printf("  (delegating %s)\n", c);
        lock = open("/tmp/sup-test-cgroup-delegation.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        CHECK(lock >= 0 && flock(lock, LOCK_EX) >= 0);
        added = !file_has_word(root, "cgroup.subtree_control", c);

        r = delegate(root, c, outer);

        sweep_tree(outer_dir, 0);
        sweep_tree(outer_dir, 1);
        CHECK(!is_dir(outer_dir));
        if (added) {
                _cleanup_free_ char *op = xasprintf("-%s", c);
                CHECK_OK(write_file(root, "cgroup.subtree_control", op));
        }
        return r;
}

/* --- cleanup --- */

static void reap_any(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static void kill_listed(const char *dir) {
        _cleanup_free_ char *path = path_join(dir, "cgroup.procs"), *text = NULL;
        if (read_full_file(path, 1 << 20, &text, NULL) < 0)
                return;
        for (char *c = text; *c;) {
                long pid = strtol(c, &c, 10);
                if (pid > 0)
                        (void) kill((pid_t) pid, SIGKILL);
                c += strspn(c, "\n");
                if (*c && !isdigit((unsigned char) *c))
                        break;
        }
}

/* Thaws (pass 0), or kills what is left in and removes (pass 1), dir and everything below it. */
static void sweep_tree(const char *dir, int pass) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        if (pass == 0)
                (void) write_file(dir, "freezer.state", "THAWED");
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        _cleanup_free_ char *sub = path_join(dir, de->d_name);
                        sweep_tree(sub, pass);
                }
        closedir(d);
        if (pass == 0)
                return;
        for (int i = 0; i < 200; i++) {
                if (write_file(dir, "cgroup.kill", "1") < 0)
                        kill_listed(dir);
                reap_any();
                if (rmdir(dir) >= 0 || errno == ENOENT)
                        return;
                sleep_ms(10);
        }
        fprintf(stderr, "cleanup: cannot remove %s: %m\n", dir);
}

static void sweep_pass(int pass) {
        DIR *top = opendir(HOST_ROOT);
        struct dirent *de;

        if (!top)
                return;
        while ((de = readdir(top))) {
                _cleanup_free_ char *mount = path_join(HOST_ROOT, de->d_name);
                struct statfs fs;
                DIR *d;
                struct dirent *e;

                if (de->d_name[0] == '.' || statfs(mount, &fs) < 0 ||
                    (fs.f_type != CGROUP_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC))
                        continue;
                d = opendir(mount);
                if (!d)
                        continue;
                while ((e = readdir(d)))
                        if (startswith(e->d_name, prefix)) {
                                _cleanup_free_ char *dir = path_join(mount, e->d_name);
                                sweep_tree(dir, pass);
                        }
                closedir(d);
        }
        closedir(top);
}

/* Every sup-test-<pid>-* directory on every hierarchy of the host (the private mounts show the same
 * hierarchies). All are thawed first: a frozen task dies of no signal, cgroup.kill's included. */
static void sweep(void) {
        for (int pass = 0; pass < 2; pass++)
                sweep_pass(pass);
}

/* --- layouts --- */

typedef struct Check {
        const char *name;
        Result (*run)(const char *root);
} Check;

static unsigned run_checks(const char *layout, const char *root, const Check *checks, size_t n) {
        static const char *const labels[] = {
                [RESULT_OK] = "ok  ",
                [RESULT_FAIL] = "FAIL",
                [RESULT_SKIP] = "skip",
                [RESULT_NA] = "n/a ",
        };
        static const unsigned outcomes[] = {
                [RESULT_OK] = OUTCOME_OK,
                [RESULT_FAIL] = OUTCOME_FAIL,
                [RESULT_SKIP] = OUTCOME_SKIP,
                [RESULT_NA] = 0,
        };
        unsigned outcome = 0;

        for (size_t i = 0; i < n; i++) {
                Result r = checks[i].run(root);
                printf("%s %s/%s\n", labels[r], layout, checks[i].name);
                fflush(stdout);
                outcome |= outcomes[r];
        }
        return outcome;
}

/* --- fake trees: the files of a kernel this host does not run ---
 * A hybrid host binds memory, pids, cpu and io to v1, so its cgroup2 has none of their files. The
 * backends are then run against a tmpfs directory holding empty files of those names: what they
 * write is checked byte for byte, not what a kernel would make of it (the real check is above,
 * wherever a layout has the controller). */

static int make_files(const char *dir, const char *const *files) {
        for (const char *const *f = files; *f; f++) {
                _cleanup_free_ char *path = path_join(dir, *f);
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return negative_errno();
        }
        return 0;
}

/* Plain files keep what was there past a shorter write: each step starts from empty ones. */
static Result fake_reset(const char *dir, const char *const *files) {
        CHECK_OK(make_files(dir, files));
        return RESULT_OK;
}

static int put(const char *dir, const char *file, const char *text) {
        _cleanup_free_ char *path = path_join(dir, file);
        return write_file_atomic(path, text, strlen(text), 0644);
}

static Cgroup *fake_cgroup(const CgroupBackend *backend, const char *dir) {
        Cgroup *cg = cgroup_new(backend);
        unsigned all = 0;

        for (CgroupController c = 0; c < _CGROUP_CONTROLLER_MAX; c++)
                all |= CGROUP_CONTROLLER_BIT(c);
        cgroup_add_hierarchy(cg, xstrdup(dir), all, backend == &cgroup_backend_v2);
        return cg;
}

static Result check_fake_v2(const char *tmp) {
        static const char *const files[] = {"memory.max", "memory.swap.max", "cpu.max", "pids.max", "io.weight", NULL};
        _cleanup_(cgroup_freep) Cgroup *cg = fake_cgroup(&cgroup_backend_v2, tmp);
        const char *file = NULL;
        CgroupSwap swap;
        CgroupStats st;

        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_memory(cg, 64 << 20, &swap));
        CHECK(swap == CGROUP_SWAP_OFF);
        CHECK(file_is(tmp, "memory.max", "67108864") && file_is(tmp, "memory.swap.max", "0"));
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_memory(cg, 0, &swap));
        CHECK(swap == CGROUP_SWAP_NA);
        CHECK(file_is(tmp, "memory.max", "max") && file_is(tmp, "memory.swap.max", "max"));

        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_cpus(cg, 1500));
        CHECK(file_is(tmp, "cpu.max", "150000 100000"));
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_cpus(cg, 5));
        CHECK(file_is(tmp, "cpu.max", "5000 1000000"));
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_cpus(cg, 0));
        CHECK(file_is(tmp, "cpu.max", "max"));

        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_pids_max(cg, 32));
        CHECK(file_is(tmp, "pids.max", "32"));

        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_io_weight(cg, 500, &file));
        CHECK(streq(file, "io.weight") && file_is(tmp, "io.weight", "default 500"));
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_io_weight(cg, 0, &file));
        CHECK(file_is(tmp, "io.weight", "default 100"));

        /* A kernel without blk-iocost but with BFQ; one without swap accounting. */
        {
                _cleanup_free_ char *iow = path_join(tmp, "io.weight"), *swapmax = path_join(tmp, "memory.swap.max");
                static const char *const bfq[] = {"io.bfq.weight", NULL};
                CHECK(unlink(iow) >= 0 && unlink(swapmax) >= 0);
                CHECK_RESULT(fake_reset(tmp, bfq));
                CHECK_OK(cgroup_set_io_weight(cg, 500, &file));
                CHECK(streq(file, "io.bfq.weight") && file_is(tmp, "io.bfq.weight", "136"));
                CHECK_OK(cgroup_set_memory(cg, 64 << 20, &swap));
                CHECK(swap == CGROUP_SWAP_UNCONTROLLED);
                iow = (free(iow), path_join(tmp, "io.bfq.weight"));
                CHECK(unlink(iow) >= 0);
                CHECK_ERR(cgroup_set_io_weight(cg, 500, &file), -EOPNOTSUPP);
                CHECK_OK(cgroup_set_io_weight(cg, 0, &file)); /* nothing asked, nothing to reset */
        }

        /* The figures status shows. */
        CHECK_OK(put(tmp, "memory.current", "12345678\n"));
        CHECK_OK(put(tmp, "memory.max", "67108864\n"));
        CHECK_OK(put(tmp, "cpu.stat", "usage_usec 4321\nuser_usec 4000\nsystem_usec 321\n"));
        CHECK_OK(put(tmp, "pids.current", "7\n"));
        CHECK_OK(put(tmp, "pids.max", "max\n"));
        CHECK_OK(cgroup_get_stats(cg, &st));
        CHECK(st.memory_current == 12345678 && st.memory_max == 67108864 && st.cpu_usec == 4321);
        CHECK(st.pids_current == 7 && st.pids_max == UINT64_MAX);
        return RESULT_OK;
}

/* v1 without swap accounting (no memsw): swappiness 0; blkio.weight (CFQ) before BFQ's. */
static Result check_fake_v1(const char *tmp) {
        static const char *const files[] = {"memory.limit_in_bytes", "memory.swappiness", "blkio.weight",
                                            "cpu.cfs_quota_us",      "cpu.cfs_period_us", NULL};
        _cleanup_(cgroup_freep) Cgroup *cg = fake_cgroup(&cgroup_backend_v1, tmp);
        const char *file = NULL;
        CgroupSwap swap;
        CgroupStats st;

        /* Its limit is read first (to order the memsw writes where there is memsw): "0" here. */
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(put(tmp, "memory.limit_in_bytes", "0\n"));
        CHECK_OK(cgroup_set_memory(cg, 64 << 20, &swap));
        CHECK(swap == CGROUP_SWAP_SWAPPINESS);
        CHECK(file_is(tmp, "memory.limit_in_bytes", "67108864") && file_is(tmp, "memory.swappiness", "0"));
        CHECK_OK(cgroup_set_io_weight(cg, 10000, &file));
        CHECK(streq(file, "blkio.weight") && file_is(tmp, "blkio.weight", "1000"));
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_io_weight(cg, 1, &file));
        CHECK(file_is(tmp, "blkio.weight", "10"));
        CHECK_RESULT(fake_reset(tmp, files));
        CHECK_OK(cgroup_set_cpus(cg, 250));
        CHECK(file_is(tmp, "cpu.cfs_quota_us", "25000") && file_is(tmp, "cpu.cfs_period_us", "100000"));

        CHECK_OK(put(tmp, "memory.usage_in_bytes", "4096\n"));
        CHECK_OK(put(tmp, "memory.limit_in_bytes", "9223372036854771712\n"));
        CHECK_OK(put(tmp, "cpuacct.usage", "2500000\n"));
        CHECK_OK(put(tmp, "pids.current", "3\n"));
        CHECK_OK(put(tmp, "pids.max", "16\n"));
        CHECK_OK(cgroup_get_stats(cg, &st));
        CHECK(st.memory_current == 4096 && st.memory_max == UINT64_MAX && st.cpu_usec == 2500);
        CHECK(st.pids_current == 3 && st.pids_max == 16);
        return RESULT_OK;
}

/* The pure parts: the CPU period and the I/O weight scales. */
static Result check_limit_math(const char *tmp) {
        uint64_t q, p;

        cgroup_cpu_bandwidth(1, &q, &p);
        CHECK(q == 1000 && p == 1000000);
        cgroup_cpu_bandwidth(10, &q, &p);
        CHECK(q == 1000 && p == 100000);
        cgroup_cpu_bandwidth(1024000, &q, &p);
        CHECK(q == 102400000 && p == 100000);
        for (CgroupIoScale sc = CGROUP_IO_SCALE_V2; sc <= CGROUP_IO_SCALE_BLKIO; sc++) {
                uint32_t last = 0;
                for (uint32_t w = 1; w <= 10000; w++) {
                        uint32_t v = cgroup_io_weight_scale(w, sc);
                        CHECK(v >= last); /* monotonic */
                        last = v;
                }
        }
        CHECK(cgroup_io_weight_scale(0, CGROUP_IO_SCALE_BFQ) == 100);
        CHECK(cgroup_io_weight_scale(1, CGROUP_IO_SCALE_BFQ) == 1);
        CHECK(cgroup_io_weight_scale(10000, CGROUP_IO_SCALE_BFQ) == 1000);
        CHECK(cgroup_io_weight_scale(0, CGROUP_IO_SCALE_BLKIO) == 500);
        CHECK(cgroup_io_weight_scale(100, CGROUP_IO_SCALE_BLKIO) == 500);
        CHECK(cgroup_io_weight_scale(1, CGROUP_IO_SCALE_BLKIO) == 10);
        CHECK(cgroup_io_weight_scale(10000, CGROUP_IO_SCALE_BLKIO) == 1000);
        CHECK(cgroup_io_weight_scale(250, CGROUP_IO_SCALE_V2) == 250);
        return RESULT_OK;
}

/* The cgroup root's fd (cgroup_anchor()) is used by the process that opened it, and nobody else.
 * Stops: a forked child that closed its fds and gave the numbers to other files (QEMU's launcher,
 * the template builder, which then talks QMP on them) reaching "cgroup files" through one of them,
 * or closing one of them when it anchors anew: that hung hyperv restarts in CI. */
static Result check_anchor_after_fork(const char *tmp) {
        _cleanup_free_ char *root = path_join(tmp, "root"), *moved = path_join(tmp, "moved"),
                            *other = path_join(tmp, "other");
        int status;
        pid_t pid;

        CHECK(mkdir(root, 0755) >= 0 && mkdir(other, 0755) >= 0);
        CHECK_OK(put(root, "x", "old"));
        CHECK_OK(put(other, "x", "wrong"));
        cgroup_anchor(root);
        /* The anchor is a directory, not a path: the root moved away is still where files are. */
        CHECK(rename(root, moved) >= 0 && mkdir(root, 0755) >= 0);
        CHECK_OK(put(root, "x", "new"));
        CHECK(file_is(root, "x", "old"));

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                int fd;
                bool ok;

                /* Every number the anchor's could have is now another directory's. */
                (void) close_range(3, ~0U, 0);
                fd = open(other, O_PATH | O_DIRECTORY | O_CLOEXEC);
                ok = fd >= 0;
                for (int k = 3; ok && k < 256; k++)
                        ok = k == fd || dup2(fd, k) == k;
                ok = ok && file_is(root, "x", "new"); /* by its path, not through fd N */
                cgroup_anchor(root);
                for (int k = 3; ok && k < 256; k++)
                        ok = fcntl(k, F_GETFD) >= 0; /* none closed */
                ok = ok && file_is(root, "x", "new") && cgroup_write_file(root, "x", "child") >= 0 &&
                     file_is(other, "x", "wrong");
                _exit(ok ? 0 : 1);
        }
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(file_is(root, "x", "old")); /* the parent's anchor is intact: still the moved directory */
        cgroup_anchor(root); /* another directory now: anchored anew */
        CHECK(file_is(root, "x", "child"));
        cgroup_anchor(NULL); /* lets tmp be unmounted */
        return RESULT_OK;
}

static unsigned fake_trees(const char *tmp) {
        static const Check checks[] = {
                {"limit-files-v2", check_fake_v2},
                {"limit-files-v1-no-memsw", check_fake_v1},
                {"limit-math", check_limit_math},
                {"anchor-after-fork", check_anchor_after_fork},
        };
        if (mount("tmpfs", tmp, "tmpfs", 0, "mode=0755") < 0) {
                printf("skip fake: mount tmpfs: %m\n");
                return OUTCOME_SKIP;
        }
        return run_checks("fake", tmp, checks, ELEMENTSOF(checks));
}

static Result v1_lifecycle(const char *root) {
        return check_lifecycle(root, CGROUP_V1);
}
static Result v2_lifecycle(const char *root) {
        return check_lifecycle(root, CGROUP_V2);
}
static Result kill_tree_sigkill(const char *root) {
        return check_kill_tree(root, "kill", SIGKILL);
}
static Result kill_tree_sigterm(const char *root) {
        return check_kill_tree(root, "sigterm", SIGTERM);
}
static Result v1_oom(const char *root) {
        return check_oom(root, CGROUP_V1);
}
static Result v2_oom(const char *root) {
        return check_oom(root, CGROUP_V2);
}
static Result v1_limits(const char *root) {
        return check_limits(root, CGROUP_V1);
}
static Result v2_limits(const char *root) {
        return check_limits(root, CGROUP_V2);
}
static Result host_v1_layout(const char *root) {
        return check_host_v1_layout();
}

static unsigned layout_host_v1(void) {
        static const Check checks[] = {
                {"layout", host_v1_layout},
                {"bad-names", check_bad_names},
                {"lifecycle", v1_lifecycle},
                {"kill-tree-cgroup.kill", kill_tree_sigkill},
                {"kill-tree-sigterm-freezer", kill_tree_sigterm},
                {"sigterm-ignored", check_term_ignored},
                {"nested", check_nested},
                {"isolation", check_isolation},
                {"oom", v1_oom},
                {"open", check_open},
                {"limits", v1_limits},
                {"pids-enforced", check_pids_enforced},
                {"cpus-enforced", check_cpus_enforced},
        };
        CgroupVersion v;
        int r = cgroup_detect(HOST_ROOT, &v);

        if (r < 0) {
                printf("skip host-v1: %s: %s\n", HOST_ROOT, strerror(-r));
                return OUTCOME_SKIP;
        }
        if (v != CGROUP_V1) {
                printf("n/a  host-v1: %s is cgroup2\n", HOST_ROOT);
                return 0;
        }
        return run_checks("host-v1", HOST_ROOT, checks, ELEMENTSOF(checks));
}

static int mount_v1(const char *root, const char *dir, const char *controllers) {
        _cleanup_free_ char *path = path_join(root, dir);
        if (mkdir(path, 0755) < 0)
                return negative_errno();
        if (mount("cgroup", path, "cgroup", 0, controllers) < 0)
                return negative_errno();
        return 0;
}

static unsigned private_v1(const char *tmp) {
        static const Check checks[] = {
                {"layout-joint-cpu-cpuacct", check_private_v1_layout},
                {"lifecycle", v1_lifecycle},
                {"kill-tree-sigkill-freezer", kill_tree_sigkill},
                {"kill-tree-sigterm-freezer", kill_tree_sigterm},
                {"nested", check_nested},
                {"limits", v1_limits},
        };
        _cleanup_free_ char *link = path_join(tmp, "cpu");
        CgroupVersion host;
        int r;

        /* The mounts below reuse the host's v1 hierarchies. A pure v2 host has none, and mounting
         * one there makes it: a new hierarchy takes its controllers away from the host's cgroup2
         * whenever no cgroup there uses them (a fresh boot without systemd, as in the guest of
         * test-cgroup2-vm.sh), and a memory hierarchy stays alive, holding memory, for as long as
         * pages are charged to its cgroups. */
        if (cgroup_detect(HOST_ROOT, &host) >= 0 && host == CGROUP_V2) {
                printf("n/a  private-v1: %s is cgroup2: mounting v1 would take controllers from it\n", HOST_ROOT);
                return 0;
        }
        if (mount("tmpfs", tmp, "tmpfs", 0, "mode=0755") < 0) {
                printf("skip private-v1: mount tmpfs: %m\n");
                return OUTCOME_SKIP;
        }
        /* Each v1 hierarchy sup uses mounted once more (mounting with the same controllers reuses
         * the host's hierarchy), cpu under a joint name; no cgroup2, so SIGKILL takes the freezer. */
        r = mount_v1(tmp, "memory", "memory");
        if (r >= 0)
                r = mount_v1(tmp, "pids", "pids");
        if (r >= 0)
                r = mount_v1(tmp, "freezer", "freezer");
        if (r >= 0)
                r = mount_v1(tmp, "cpu,cpuacct", "cpu");
        if (r < 0) {
                /* Not an error on a pure v2 host: there is no v1 hierarchy to mount again. */
                printf("%s private-v1: mount cgroup (v1): %s\n", r == -EBUSY || r == -ENOENT ? "n/a " : "skip",
                       strerror(-r));
                return r == -EBUSY || r == -ENOENT ? 0 : OUTCOME_SKIP;
        }
        if (symlink("cpu,cpuacct", link) < 0) {
                printf("FAIL private-v1: symlink: %m\n");
                return OUTCOME_FAIL;
        }
        return run_checks("private-v1", tmp, checks, ELEMENTSOF(checks));
}

/* The options of the host's cgroup2 mount that are the hierarchy's, not the mount's
 * ("nsdelegate,memory_recursiveprot"), into buf; empty without one. A cgroup2 mounted from the
 * host's cgroup namespace sets them for every mount of the hierarchy: mounting it with fewer would
 * take nsdelegate (the delegation boundary at cgroup namespaces) away from the host. */
static void host_cgroup2_options(char *buf, size_t size) {
        static const char *const flags[] = {"nsdelegate", "favordynmods", "memory_localevents",
                                            "memory_recursiveprot"};
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mounts", "re");
        char line[4096];

        buf[0] = 0;
        while (f && fgets(line, sizeof(line), f)) {
                char type[64], opts[1024];

                if (sscanf(line, "%*s %*s %63s %1023s", type, opts) != 2 || !streq(type, "cgroup2"))
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                        _cleanup_free_ char *all = xasprintf(",%s,", opts), *word = xasprintf(",%s,", flags[i]);
                        if (strstr(all, word))
                                snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", buf[0] ? "," : "", flags[i]);
                }
                return;
        }
}

static unsigned private_v2(const char *tmp) {
        static const Check checks[] = {
                {"bad-names", check_bad_names},
                {"lifecycle", v2_lifecycle},
                {"kill-tree-cgroup.kill", kill_tree_sigkill},
                {"kill-tree-sigterm", kill_tree_sigterm},
                {"sigterm-ignored", check_term_ignored},
                {"nested", check_nested},
                {"isolation", check_isolation},
                {"clone-into-cgroup", check_clone_into_cgroup},
                {"delegation", check_v2_delegation},
                {"oom", v2_oom},
                {"open", check_open},
                {"limits", v2_limits},
                {"pids-enforced", check_pids_enforced},
                {"cpus-enforced", check_cpus_enforced},
        };
        CgroupVersion v;
        unsigned outcome;
        char options[256];

        host_cgroup2_options(options, sizeof(options));
        if (mount("cgroup2", tmp, "cgroup2", 0, options) < 0) {
                printf("skip private-v2: mount cgroup2: %m\n");
                return OUTCOME_SKIP;
        }
        if (cgroup_detect(tmp, &v) < 0 || v != CGROUP_V2) {
                printf("FAIL private-v2: not detected as v2\n");
                return OUTCOME_FAIL;
        }
        outcome = run_checks("private-v2", tmp, checks, ELEMENTSOF(checks));
        sweep();
        return outcome;
}

/* Runs f in a child with its own mount namespace, on a fresh directory in /tmp. */
static unsigned in_private_mounts(const char *layout, unsigned (*f)(const char *tmp)) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return RESULT_FAIL;
        if (pid == 0) {
                char tmp[] = "/tmp/sup-test-cgroup-XXXXXX";
                unsigned r;

                (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                        printf("skip %s: private mount namespace: %m\n", layout);
                        fflush(NULL);
                        _exit(OUTCOME_SKIP);
                }
                if (!mkdtemp(tmp))
                        _exit(OUTCOME_FAIL);
                r = f(tmp);
                sweep();
                (void) umount2(tmp, MNT_DETACH);
                (void) rmdir(tmp);
                fflush(NULL);
                _exit(r);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
                printf("FAIL %s: the child running it crashed\n", layout);
                return OUTCOME_FAIL;
        }
        return (unsigned) WEXITSTATUS(status);
}

int main(void) {
        bool must_work = streq(getenv("SUP_TESTS_MUST_WORK") ?: "", "1");
        unsigned outcome = 0;

        if (geteuid() != 0) {
                printf("skip: needs root\n");
                return must_work ? EXIT_FAILURE : 77;
        }
        (void) snprintf(prefix, sizeof(prefix), "sup-test-%d-", (int) getpid());
        /* Orphaned grandchildren come back to the test, which reaps them: no zombie is left. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe2(lifeline, O_CLOEXEC) < 0) {
                perror("setup");
                return EXIT_FAILURE;
        }

        outcome |= layout_host_v1();
        sweep();
        outcome |= in_private_mounts("private-v1", private_v1);
        outcome |= in_private_mounts("private-v2", private_v2);
        outcome |= in_private_mounts("fake", fake_trees);
        sweep();

        if (outcome & OUTCOME_FAIL)
                return EXIT_FAILURE;
        if ((outcome & OUTCOME_SKIP) && must_work) {
                printf("SUP_TESTS_MUST_WORK=1: a skip is a failure\n");
                return EXIT_FAILURE;
        }
        return outcome & OUTCOME_OK ? EXIT_SUCCESS : 77;
}
