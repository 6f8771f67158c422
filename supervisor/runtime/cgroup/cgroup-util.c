/* SPDX-License-Identifier: MIT */
/* What the cgroup backends share (cgroup-util.h): the Cgroup object, files, listing and
 * signalling by pid. Used by cgroup.c and by both backends; it knows no backend. */
#include "cgroup-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"

/* Enough for every small cgroup file sup reads (controllers, events, freezer.state, memory.events);
 * cgroup.procs, which can be long, is read line by line instead. */
#define CGROUP_FILE_MAX (64U * 1024U)

/* Signalling by pid races with fork(): a round lists the processes and signals the new ones, and
 * rounds repeat until one finds nothing new. A workload that forks faster than that for this many
 * rounds is reported rather than chased forever (the v1 freezer, where there is one, makes a
 * second round find nothing). */
#define CGROUP_SIGNAL_ROUNDS 64U

/* The cgroup root, opened once (cgroup_anchor() in cgroup-util.h). The fd is trusted only in the
 * process that opened it and only while it is still the directory it was: a forked child (QEMU's
 * launcher, the template builder, an exec helper) may have closed it and given its number to
 * something else, and must neither use that nor close it. */
static struct {
        char *path; /* root, without a trailing slash */
        size_t len;
        int fd; /* O_PATH */
        pid_t pid;
        dev_t dev;
        ino_t ino;
} anchor = {.fd = -EBADF};

static bool anchor_is_ours(void) {
        struct stat st;

        return anchor.fd >= 0 && anchor.pid == getpid() && fstat(anchor.fd, &st) >= 0 && st.st_dev == anchor.dev &&
               st.st_ino == anchor.ino;
}

/* Closes the fd only if it still is the one this process opened. */
static void anchor_drop(void) {
        if (anchor_is_ours())
                close_and_reset(&anchor.fd);
        anchor.fd = -EBADF;
        free(anchor.path);
        anchor.path = NULL;
        anchor.len = 0;
}

void cgroup_anchor(const char *root) {
        struct stat st;
        size_t n;

        if (!root || root[0] != '/' || stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
                anchor_drop();
                return;
        }
        n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
                n--;
        if (anchor_is_ours() && anchor.len == n && strneq(anchor.path, root, n) && anchor.dev == st.st_dev &&
            anchor.ino == st.st_ino)
                return;
        anchor_drop();
        anchor.fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (anchor.fd < 0)
                return;
        anchor.pid = getpid();
        anchor.dev = st.st_dev;
        anchor.ino = st.st_ino;
        /* Renamed or remounted between the stat() and the open(): not the root asked for. */
        if (!anchor_is_ours()) {
                close_and_reset(&anchor.fd);
                return;
        }
        anchor.path = xstrndup(root, n);
        anchor.len = n;
}

/* The directory fd and the path relative to it to reach path by: the anchor itself ("."), or
 * below it, relative to it; else path as it is (AT_FDCWD). */
static int at(const char *path, const char **ret_rel) {
        *ret_rel = path;
        if (anchor.fd < 0 || !strneq(path, anchor.path, anchor.len) ||
            (path[anchor.len] != '/' && path[anchor.len] != 0))
                return AT_FDCWD;
        if (!anchor_is_ours()) {
                anchor_drop();
                return AT_FDCWD;
        }
        *ret_rel = path[anchor.len] == 0 || path[anchor.len + 1] == 0 ? "." : path + anchor.len + 1;
        return anchor.fd;
}

int cgroup_stat(const char *path, struct stat *ret_st, struct statfs *ret_fs) {
        _cleanup_close_ int fd = -EBADF;
        const char *rel;
        int dirfd = at(path, &rel);

        fd = openat(dirfd, rel, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if ((ret_st && fstat(fd, ret_st) < 0) || (ret_fs && fstatfs(fd, ret_fs) < 0))
                return negative_errno();
        return 0;
}

int cgroup_open_path(const char *path, int flags) {
        const char *rel;
        int dirfd = at(path, &rel), fd;

        fd = openat(dirfd, rel, flags | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int cgroup_rmdir(const char *path) {
        const char *rel;
        int dirfd = at(path, &rel);

        return unlinkat(dirfd, rel, AT_REMOVEDIR) < 0 ? negative_errno() : 0;
}

DIR *cgroup_opendir(const char *path) {
        const char *rel;
        int dirfd = at(path, &rel), fd;
        DIR *d;

        fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return d;
}

Cgroup *cgroup_new(const CgroupBackend *backend) {
        Cgroup *cg = xnew0(Cgroup, 1);
        cg->backend = backend;
        return cg;
}

Cgroup *cgroup_free(Cgroup *cg) {
        if (!cg)
                return NULL;
        for (size_t i = 0; i < cg->n_hierarchies; i++)
                free(cg->hierarchies[i].path);
        free(cg->hierarchies);
        free(cg);
        return NULL;
}

void cgroup_add_hierarchy(Cgroup *cg, char *path, unsigned controllers, bool unified) {
        CgroupHierarchy *h = ARRAY_APPEND(cg->hierarchies, cg->n_hierarchies);
        h->path = path;
        h->controllers = controllers;
        h->unified = unified;
}

const char *cgroup_path(const Cgroup *cg) {
        return cg->hierarchies[cg->tracking].path;
}

size_t cgroup_n_hierarchies(const Cgroup *cg) {
        return cg->n_hierarchies;
}

const CgroupHierarchy *cgroup_hierarchy(const Cgroup *cg, size_t i) {
        return i < cg->n_hierarchies ? &cg->hierarchies[i] : NULL;
}

const char *cgroup_controller_path(const Cgroup *cg, CgroupController c) {
        for (size_t i = 0; i < cg->n_hierarchies; i++)
                if (cg->hierarchies[i].controllers & CGROUP_CONTROLLER_BIT(c))
                        return cg->hierarchies[i].path;
        return NULL;
}

/* --- files --- */

/* existing: the directory is most likely there already (a parent): looked up first, since a
 * mkdir() that finds it takes the lock of the directory it would be made in for writing, and every
 * start did so for each parent on each hierarchy, one after the other. */
static int mkdir_one(const char *path, bool existing) {
        const char *rel;
        int dirfd = at(path, &rel);
        struct stat st;

        if (existing && fstatat(dirfd, rel, &st, 0) >= 0 && S_ISDIR(st.st_mode))
                return 0;
        if (mkdirat(dirfd, rel, 0755) >= 0)
                return 0;
        if (errno != EEXIST)
                return negative_errno();
        /* cgroupfs says EEXIST for a name that a control file has ("memory.max") as well. */
        if (fstatat(dirfd, rel, &st, 0) < 0)
                return negative_errno();
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int cgroup_make_path(const char *base, const char *parent, const char *name,
                     int (*on_parent)(const char *dir, void *userdata), void *userdata, char **ret) {
        _cleanup_free_ char *dir = xstrdup(base);
        char *leaf;
        int r;

        for (const char *c = parent;;) {
                const char *end = strchrnul(c, '/');
                _cleanup_free_ char *component = xstrndup(c, (size_t) (end - c));
                char *next;

                if (on_parent) {
                        r = on_parent(dir, userdata);
                        if (r < 0)
                                return r;
                }
                next = path_join(dir, component);
                free(dir);
                dir = next;
                r = mkdir_one(dir, true);
                if (r < 0)
                        return r;
                if (!*end)
                        break;
                c = end + 1;
        }
        if (on_parent) {
                r = on_parent(dir, userdata);
                if (r < 0)
                        return r;
        }
        leaf = path_join(dir, name);
        r = mkdir_one(leaf, false);
        if (r < 0) {
                free(leaf);
                return r;
        }
        *ret = leaf;
        return 0;
}

int cgroup_existing_path(const char *base, const char *parent, const char *name, char **ret) {
        _cleanup_free_ char *dir = path_join(base, parent), *leaf = path_join(dir, name);
        const char *rel;
        int dirfd = at(leaf, &rel);
        struct stat st;

        if (fstatat(dirfd, rel, &st, 0) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        *ret = TAKE_PTR(leaf);
        return 0;
}

int cgroup_read_file(const char *dir, const char *file, char **ret) {
        _cleanup_free_ char *path = path_join(dir, file);
        const char *rel;
        int dirfd = at(path, &rel);

        return read_full_file_at(dirfd, rel, CGROUP_FILE_MAX, ret, NULL);
}

/* Control files take one value per write(), and the kernel's verdict on it is that write's
 * result: no buffering, no retry of short writes. */
int cgroup_write_file(const char *dir, const char *file, const char *value) {
        _cleanup_free_ char *path = path_join(dir, file);
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);
        const char *rel;
        int dirfd = at(path, &rel);
        ssize_t k;

        fd = openat(dirfd, rel, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        k = write(fd, value, n);
        if (k < 0)
                return negative_errno();
        return (size_t) k == n ? 0 : -EIO;
}

int cgroup_write_file_changed(const char *dir, const char *file, const char *value) {
        _cleanup_free_ char *now = NULL;
        size_t n = strlen(value);
        int r;

        if (cgroup_read_file(dir, file, &now) >= 0 && strneq(now, value, n) && (now[n] == 0 || streq(now + n, "\n")))
                return 0;
        r = cgroup_write_file(dir, file, value);
        return r < 0 ? r : 1;
}

/* "key value" lines (cgroup.events, memory.events, memory.oom_control); -ENXIO without the key. */
int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        size_t klen = strlen(key);
        int r;

        r = cgroup_read_file(dir, file, &text);
        if (r < 0)
                return r;
        for (const char *line = text; *line;) {
                const char *end = strchrnul(line, '\n');

                if (strneq(line, key, klen) && line[klen] == ' ') {
                        char *e;
                        unsigned long long v;

                        errno = 0;
                        v = strtoull(line + klen + 1, &e, 10);
                        if (errno != 0 || e == line + klen + 1 || e != end)
                                return -EBADMSG;
                        *ret = v;
                        return 0;
                }
                line = *end ? end + 1 : end;
        }
        return -ENXIO;
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        unsigned long long v;
        char *e;
        int r;

        r = cgroup_read_file(dir, file, &text);
        if (r < 0)
                return r;
        if (streq(text, "max\n") || streq(text, "max") || streq(text, "-1\n") || streq(text, "-1")) {
                *ret = UINT64_MAX;
                return 0;
        }
        errno = 0;
        v = strtoull(text, &e, 10);
        if (errno != 0 || e == text || (*e != '\n' && *e != 0))
                return -EBADMSG;
        /* v1 says "no limit" as the largest page-aligned count, 2^63 - 4096 on x86-64. */
        *ret = v >= (1ULL << 62) ? UINT64_MAX : v;
        return 0;
}

/* Whether a space-separated list (cgroup.controllers, cgroup.subtree_control) holds word. */
bool cgroup_words_contain(const char *words, const char *word) {
        size_t n = strlen(word);

        for (const char *c = words; *c;) {
                size_t len = strcspn(c, " \n");
                if (len == n && strneq(c, word, n))
                        return true;
                c += len;
                c += strspn(c, " \n");
        }
        return false;
}

/* The names of dir's subdirectories: child cgroups, made by a workload with delegation. Read
 * whole before any is visited, so that walking a deep tree holds one directory open at a time. */
int cgroup_list_subdirs(const char *dir, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = cgroup_opendir(dir);
        if (!d)
                return negative_errno();
        while ((errno = 0, de = readdir(d))) {
                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                strv_push(&names, xstrdup(de->d_name));
        }
        if (errno != 0)
                r = negative_errno();
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(names);
        return 0;
}

static void pids_append(pid_t **pids, size_t *n, pid_t pid) {
        *ARRAY_APPEND(*pids, *n) = pid;
}

static int read_procs(const char *dir, pid_t **pids, size_t *n) {
        _cleanup_free_ char *path = path_join(dir, "cgroup.procs");
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t cap = 0;
        int fd = cgroup_open_path(path, O_RDONLY);

        if (fd < 0)
                return fd;
        f = fdopen(fd, "r");
        if (!f) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        for (;;) {
                char *e;
                long v;

                errno = 0;
                if (getline(&line, &cap, f) < 0) {
                        if (errno != 0)
                                return negative_errno();
                        break;
                }
                v = strtol(line, &e, 10);
                if (e == line || (*e != '\n' && *e != 0) || v <= 0 || v > INT32_MAX)
                        return -EBADMSG;
                pids_append(pids, n, (pid_t) v);
        }
        return 0;
}

/* The processes of dir and of every cgroup below it. A child cgroup that goes away meanwhile has
 * no processes to report. */
static int collect_pids(const char *dir, bool top, pid_t **pids, size_t *n) {
        _cleanup_strv_free_ char **children = NULL;
        int r;

        r = read_procs(dir, pids, n);
        if (r == -ENOENT && !top)
                return 0;
        if (r < 0)
                return r;
        r = cgroup_list_subdirs(dir, &children);
        if (r == -ENOENT && !top)
                return 0;
        if (r < 0)
                return r;
        STRV_FOREACH(c, children) {
                _cleanup_free_ char *sub = path_join(dir, *c);
                r = collect_pids(sub, false, pids, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int pid_compare(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

static size_t pids_sort_unique(pid_t *pids, size_t n) {
        size_t w = 0;

        qsort_safe(pids, n, sizeof(pid_t), pid_compare);
        for (size_t i = 0; i < n; i++)
                if (w == 0 || pids[w - 1] != pids[i])
                        pids[w++] = pids[i];
        return w;
}

int cgroup_get_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < cg->n_hierarchies; i++) {
                r = collect_pids(cg->hierarchies[i].path, true, &pids, &n);
                if (r < 0)
                        return r;
        }
        *ret_n = pids_sort_unique(pids, n);
        *ret = TAKE_PTR(pids);
        return 0;
}

/* Lists and signals until a round finds no process it has not signalled yet. A process that got
 * SIGKILL can no longer fork, and one that forked before has its child listed by the next round.
 * Our own pid is never signalled (a caller inside the cgroup would otherwise kill itself half-way).
 * Used by both backends where cgroup.kill does not apply; the v1 backend freezes around it. */
int cgroup_signal_all(const Cgroup *cg, int sig) {
        _cleanup_free_ pid_t *done = NULL;
        size_t n_done = 0;
        pid_t self = getpid();
        int r;

        for (unsigned round = 0; round < CGROUP_SIGNAL_ROUNDS; round++) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0, n_before = n_done; /* done[0..n_before) is sorted */
                bool any = false;

                r = cgroup_get_pids(cg, &pids, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (pids[i] == self)
                                continue;
                        if (n_before > 0 && bsearch(&pids[i], done, n_before, sizeof(pid_t), pid_compare))
                                continue;
                        /* ESRCH: it exited between the listing and now. */
                        if (kill(pids[i], sig) < 0 && errno != ESRCH)
                                return negative_errno();
                        pids_append(&done, &n_done, pids[i]);
                        any = true;
                }
                if (!any)
                        return 0;
                n_done = pids_sort_unique(done, n_done);
        }
        return -EBUSY;
}

void cgroup_cpu_bandwidth(uint32_t milli, uint64_t *ret_quota_us, uint64_t *ret_period_us) {
        /* 100 ms, the kernel's own default period: short enough that a throttled workload stalls
         * for at most a fraction of it, and the quota of even 0.01 CPU is the 1 ms minimum. */
        uint64_t period = 100000, quota = (uint64_t) milli * period / 1000;

        if (quota < 1000) {
                period = 1000000; /* the longest period the kernel takes */
                quota = (uint64_t) milli * period / 1000;
        }
        *ret_quota_us = quota;
        *ret_period_us = period;
}
