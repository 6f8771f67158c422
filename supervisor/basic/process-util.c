/* SPDX-License-Identifier: MIT */
#include "process-util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/prctl.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"

/* f[n]: field n of /proc/self/stat (proc(5)), from 3 on (after the command's name, which may hold
 * anything); the fields PR_SET_MM_MAP takes are all there, up to env_end (51). */
#define STAT_FIELDS 52
static int self_stat_fields(uint64_t f[static STAT_FIELDS]) {
        _cleanup_free_ char *stat = NULL;
        const char *p;
        size_t size, i;
        int r;

        r = read_full_file("/proc/self/stat", 4096, &stat, &size);
        if (r < 0)
                return r;
        p = strrchr(stat, ')');
        if (!p)
                return -EINVAL;
        memset(f, 0, STAT_FIELDS * sizeof(uint64_t));
        for (i = 3; i < STAT_FIELDS && (p = strchr(p + 1, ' ')); i++)
                f[i] = strtoull(p + 1, NULL, 10);
        return i == STAT_FIELDS ? 0 : -EINVAL;
}

int cmdline_area_get(uintptr_t *ret_start, uintptr_t *ret_end) {
        uint64_t f[STAT_FIELDS];
        int r = self_stat_fields(f);

        if (r < 0)
                return r;
        *ret_start = (uintptr_t) f[48];
        *ret_end = (uintptr_t) f[49];
        return 0;
}

int cmdline_area_set(const char *start, size_t len) {
        uint64_t f[STAT_FIELDS];
        struct prctl_mm_map map;
        int r = self_stat_fields(f);

        if (r < 0)
                return r;
        map = (struct prctl_mm_map){
                .start_code = f[26],
                .end_code = f[27],
                .start_stack = f[28],
                .start_data = f[45],
                .end_data = f[46],
                .start_brk = f[47],
                .brk = (uint64_t) (uintptr_t) sbrk(0),
                .arg_start = (uint64_t) (uintptr_t) start,
                .arg_end = (uint64_t) (uintptr_t) start + len,
                .env_start = f[50],
                .env_end = f[51],
                .exe_fd = (uint32_t) -1,
        };
        return prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long) &map, sizeof(map), 0) < 0 ? -errno : 0;
}

void signals_reset(void) {
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

int child_arrange_fds(int *fds, size_t n, int first) {
        for (size_t i = 0; i < n; i++) {
                fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, first + (int) n);
                if (fds[i] < 0)
                        return negative_errno();
        }
        for (size_t i = 0; i < n; i++)
                if (dup2(fds[i], first + (int) i) < 0)
                        return negative_errno();
        (void) close_range((unsigned) first + (unsigned) n, ~0U, 0);
        return 0;
}

void child_reset(const int *keep, size_t n_keep) {
        signals_reset();
        /* Close everything above 2 but the kept fds: ranges between them, in ascending order. */
        unsigned from = 3;
        for (;;) {
                unsigned next = ~0U;
                for (size_t i = 0; i < n_keep; i++)
                        if (keep[i] >= (int) from && (unsigned) keep[i] < next)
                                next = (unsigned) keep[i];
                if (next == ~0U) {
                        (void) close_range(from, ~0U, 0);
                        return;
                }
                if (next > from)
                        (void) close_range(from, next - 1, 0);
                from = next + 1;
        }
}

void child_die_with_parent(pid_t parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
}

int wait_status_code(int status) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_program(char *const *argv, const char *const *fallbacks, const char *input, usec_t timeout, size_t max,
                char **ret_output) {
        _cleanup_close_ int in = -EBADF, out = -EBADF, pidfd = -EBADF;
        int status, r = 0;
        pid_t pid, parent;

        in = input ? memfd_create("sup-program-input", MFD_CLOEXEC) : open("/dev/null", O_RDONLY | O_CLOEXEC);
        out = memfd_create("sup-program-output", MFD_CLOEXEC);
        if (in < 0 || out < 0)
                return negative_errno();
        if (input) {
                size_t len = strlen(input);
                if (write(in, input, len) != (ssize_t) len || lseek(in, 0, SEEK_SET) < 0)
                        return -EIO;
        }

        parent = getpid();
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                child_die_with_parent(parent);
                if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                        _exit(EXIT_FAILURE);
                child_reset(NULL, 0);
                execvp(argv[0], argv);
                for (size_t i = 0; fallbacks && fallbacks[i]; i++)
                        execv(fallbacks[i], argv);
                _exit(EXIT_NOT_INSTALLED);
        }
        if (timeout != USEC_INFINITY) {
                usec_t deadline = now(CLOCK_MONOTONIC) + timeout;
                pidfd = pidfd_open(pid, 0);
                for (;;) {
                        usec_t t = now(CLOCK_MONOTONIC);
                        struct pollfd p = {.fd = pidfd, .events = POLLIN};
                        if (pidfd < 0 || t >= deadline) {
                                (void) kill(pid, SIGKILL);
                                r = -ETIMEDOUT;
                                break;
                        }
                        int k = poll(&p, 1, (int) ((deadline - t + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
                        if (k > 0)
                                break;
                        if (k < 0 && errno != EINTR) {
                                (void) kill(pid, SIGKILL);
                                r = negative_errno();
                                break;
                        }
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (ret_output) {
                char *buf = xmalloc(max + 1);
                ssize_t n = pread(out, buf, max, 0);
                buf[n > 0 ? n : 0] = 0;
                *ret_output = buf;
        }
        return r < 0 ? r : status;
}

int pidfd_get_pid(int pidfd, pid_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        while (fgets(line, sizeof(line), f)) {
                int pid;
                if (sscanf(line, "Pid: %d", &pid) == 1) {
                        if (pid <= 0)
                                return -ESRCH; /* reaped (-1), or in no namespace of ours (0) */
                        *ret = (pid_t) pid;
                        return 0;
                }
        }
        return -ENOTSUP;
}

/* One pass of kill_session(): how many it signalled. */
static int kill_session_pass(pid_t sid, int sig) {
        _cleanup_closedir_ DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_close_ int pidfd = -EBADF, fd = -EBADF;
                char path[64], buf[512], *p;
                long session = 0;
                ssize_t k;
                pid_t pid;

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                pid = (pid_t) atoi(de->d_name);
                /* The process first, then what it is: a pid freed and reused between the read and
                 * the kill would otherwise be another process's. */
                pidfd = pidfd_open(pid, 0);
                if (pidfd < 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                k = read(fd, buf, sizeof(buf) - 1);
                if (k <= 0)
                        continue;
                buf[k] = 0;
                /* pid (comm) state ppid pgrp session ...: comm may hold anything but ends at the
                 * last ')'. */
                p = strrchr(buf, ')');
                if (!p || sscanf(p + 1, " %*c %*d %*d %ld", &session) != 1 || session != (long) sid)
                        continue;
                if (pidfd_send_signal(pidfd, sig, NULL, 0) == 0)
                        n++;
        }
        return n;
}

int kill_session(pid_t sid, int sig) {
        int n = 0, k;

        if (sid <= 1)
                return -EINVAL;
        if (kill(-sid, sig) == 0)
                n++;
        /* Again while a pass finds some: a member may fork while the first pass reads. */
        for (int pass = 0; pass < 4 && (k = kill_session_pass(sid, sig)) > 0; pass++)
                n += k;
        return n;
}

/* A mapping's header: "start-end perms offset dev inode [path]"; anonymous without the path. */
static bool smaps_header(const char *line, bool *ret_anonymous) {
        unsigned long long start, end, offset, inode;
        char perms[8], dev[32];
        int n = 0;

        if (sscanf(line, "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &offset, dev, &inode, &n) < 6 ||
            n == 0)
                return false;
        *ret_anonymous = line[n] == '\0' || line[n] == '\n';
        return true;
}

static int smaps_kib(const char *line, const char *key, uint64_t *ret) {
        size_t k = strlen(key);
        unsigned long long v;
        char unit[4];

        if (strncmp(line, key, k) != 0)
                return 0;
        if (sscanf(line + k, " %llu %3s", &v, unit) != 2 || !streq(unit, "kB") || v > UINT64_MAX / 1024)
                return -EINVAL;
        *ret = (uint64_t) v * 1024;
        return 1;
}

int smaps_rss_parse(FILE *f, uint64_t anon_size, uint64_t *ret_total, uint64_t *ret_anon) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        uint64_t total = 0, anon = 0, size = UINT64_MAX, rss = UINT64_MAX;
        bool in_mapping = false, anonymous = false;
        int r;

        for (;;) {
                bool header_anonymous, eof = getline(&line, &cap, f) < 0;

                if (eof || smaps_header(line, &header_anonymous)) {
                        if (in_mapping) {
                                if (size == UINT64_MAX || rss == UINT64_MAX)
                                        return -EINVAL;
                                total += rss;
                                if (anonymous && size == anon_size)
                                        anon += rss;
                        }
                        if (eof)
                                break;
                        in_mapping = true;
                        anonymous = header_anonymous;
                        size = rss = UINT64_MAX;
                        continue;
                }
                if (!in_mapping)
                        return -EINVAL;
                r = smaps_kib(line, "Size:", &size);
                if (r == 0)
                        r = smaps_kib(line, "Rss:", &rss);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return -EIO;
        *ret_total = total;
        *ret_anon = anon;
        return 0;
}

int proc_smaps_rss(pid_t pid, uint64_t anon_size, uint64_t *ret_total, uint64_t *ret_anon) {
        char path[64];
        _cleanup_fclose_ FILE *f = NULL;

        snprintf(path, sizeof(path), "/proc/%d/smaps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        return smaps_rss_parse(f, anon_size, ret_total, ret_anon);
}

char *glibc_tunables_add(const char *current, const char *tunable) {
        if (!current || !*current)
                return xasprintf("GLIBC_TUNABLES=%s", tunable);
        return xasprintf("GLIBC_TUNABLES=%s:%s", current, tunable);
}

void glibc_tunables_drop(const char *tunable) {
        const char *current = getenv("GLIBC_TUNABLES");
        size_t n, k;

        if (!current)
                return;
        if (streq(current, tunable)) {
                (void) unsetenv("GLIBC_TUNABLES");
                return;
        }
        n = strlen(current);
        k = strlen(tunable);
        if (n > k + 1 && current[n - k - 1] == ':' && streq(current + n - k, tunable)) {
                _cleanup_free_ char *before = xstrndup(current, n - k - 1);
                (void) setenv("GLIBC_TUNABLES", before, 1);
        }
}
