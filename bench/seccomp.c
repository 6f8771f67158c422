/* SPDX-License-Identifier: MIT */
/* bench-seccomp: what a seccomp filter costs sup, phase by phase, on this machine (bench/seccomp.sh
 * runs it; built by meson with the rest, so that it never rots):
 *
 *   bench-seccomp [ROUNDS] [PROFILE.json...]
 *
 * For the default profile and each profile file: the compile (parse or build, resolve, libseccomp,
 * export: what a monitor does once per profile), the cache hits (the monitor's own copy at an
 * instance's restart; the state directory's file for another instance), the load in the
 * workload's process (seccomp(), the only filter work there), and what the filter adds to every
 * system call afterwards. Times are CLOCK_MONOTONIC; each row is the median, the minimum and the
 * maximum over ROUNDS (default 200). A line a measurement, tab-separated, for seccomp.sh:
 *   PROFILE  INSNS  PHASE  MEDIAN_US  MIN_US  MAX_US */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "seccomp-compile.h"
#include "unit-spec.h"

static int compare(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void row(const char *profile, size_t insns, const char *phase, double *us, size_t n) {
        qsort(us, n, sizeof(double), compare);
        printf("%s\t%zu\t%s\t%.3f\t%.3f\t%.3f\n", profile, insns, phase, us[n / 2], us[0], us[n - 1]);
        fflush(stdout);
}

/* Microseconds, with the nanoseconds the clock has. */
static double mono_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

/* In a child: the load, then the cost of getppid() with and without it, in microseconds:
 * load, per-call before, per-call after. */
static int in_child(const SeccompProgram *p, double ret[3]) {
        int pipefd[2], status;
        pid_t pid;

        if (pipe(pipefd) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                enum { CALLS = 200000 };
                double out[3], t;

                t = mono_us();
                for (int i = 0; i < CALLS; i++)
                        (void) syscall(SYS_getppid);
                out[1] = (mono_us() - t) / CALLS;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(1);
                t = mono_us();
                if (seccomp_apply(p) < 0)
                        _exit(2);
                out[0] = mono_us() - t;
                t = mono_us();
                for (int i = 0; i < CALLS; i++)
                        (void) syscall(SYS_getppid);
                out[2] = (mono_us() - t) / CALLS;
                (void) !write(pipefd[1], out, sizeof(out));
                _exit(0);
        }
        close(pipefd[1]);
        if (read(pipefd[0], ret, 3 * sizeof(double)) != 3 * sizeof(double))
                ret[0] = -1;
        close(pipefd[0]);
        (void) waitpid(pid, &status, 0);
        return ret[0] < 0 ? -EIO : 0;
}

static int measure(const char *name, UnitSpec *u, size_t rounds, const char *cache_dir) {
        _cleanup_free_ double *cold = xnew(double, rounds), *compile = xnew(double, rounds),
                              *memory = xnew(double, rounds), *disk = xnew(double, rounds),
                              *load = xnew(double, rounds), *before = xnew(double, rounds),
                              *after = xnew(double, rounds);
        SeccompCache cache = {};
        size_t insns = 0;
        int r;

        for (size_t i = 0; i < rounds; i++) {
                _cleanup_sup_error_ SupError *error = NULL;
                SeccompPrepared p = {};

                /* Cold: no copy in memory, none on disk. */
                seccomp_cache_done(&cache);
                (void) rm_rf(cache_dir);
                r = seccomp_prepare(u, 0, cache_dir, &cache, &p, &error);
                if (r < 0 || p.origin != SECCOMP_ORIGIN_COMPILED) {
                        fprintf(stderr, "%s: %s\n", name, error ? error->message : "not compiled");
                        return -EINVAL;
                }
                cold[i] = (double) p.usec;
                compile[i] = (double) p.compile_usec;
                insns = p.program->len;
                seccomp_prepared_done(&p);

                /* The instance's next start: the monitor's own copy (the profile is still read,
                 * parsed and hashed, to notice a changed file). */
                r = seccomp_prepare(u, 0, cache_dir, &cache, &p, &error);
                if (r < 0 || p.origin != SECCOMP_ORIGIN_MEMORY)
                        return -EINVAL;
                memory[i] = (double) p.usec;

                /* Another instance: the state directory's file. */
                seccomp_cache_done(&cache);
                r = seccomp_prepare(u, 0, cache_dir, &cache, &p, &error);
                if (r < 0 || p.origin != SECCOMP_ORIGIN_DISK)
                        return -EINVAL;
                disk[i] = (double) p.usec;

                double c[3];
                r = in_child(cache.program, c);
                if (r < 0)
                        return r;
                load[i] = c[0];
                before[i] = c[1] * 1000; /* ns */
                after[i] = c[2] * 1000;
        }
        row(name, insns, "libseccomp: rules to BPF, exported", compile, rounds);
        row(name, insns, "first start (profile, resolve, hash, compile, cache file written and fsynced)", cold, rounds);
        row(name, insns, "restart (the monitor's copy)", memory, rounds);
        row(name, insns, "another instance (the state directory's file)", disk, rounds);
        row(name, insns, "load in the workload (seccomp())", load, rounds);
        row(name, insns, "getppid() without the filter, ns", before, rounds);
        row(name, insns, "getppid() with the filter, ns", after, rounds);
        seccomp_cache_done(&cache);
        return 0;
}

int main(int argc, char **argv) {
        size_t rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
        char dir[] = "/tmp/sup-bench-seccomp.XXXXXX";
        int r = 0;

        if (rounds == 0 || !mkdtemp(dir)) {
                fprintf(stderr, "usage: bench-seccomp [ROUNDS] [PROFILE.json...]\n");
                return 2;
        }
        printf("# libseccomp %s\n", seccomp_library_version());
        UnitSpec *u = unit_spec_new();
        r = measure("default", u, rounds, dir);
        for (int i = 2; r >= 0 && i < argc; i++) {
                u->security.seccomp = SECCOMP_PROFILE;
                free(u->security.seccomp_profile);
                u->security.seccomp_profile = xstrdup(argv[i]);
                r = measure(argv[i], u, rounds, dir);
        }
        unit_spec_free(u);
        (void) rm_rf(dir);
        return r < 0 ? 1 : 0;
}
