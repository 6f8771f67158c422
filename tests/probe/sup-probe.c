/* SPDX-License-Identifier: MIT */
/* sup-probe: what a workload sees and may do, from inside a container, for the integration tests.
 *
 *   sup-probe COMMAND [ARG] [COMMAND [ARG]]...
 *
 * Each command prints KEY=VALUE lines; a result is "ok" or the errno's name (EPERM, ENOSYS, ...),
 * or a signal's name when the attempt was killed (SIGSYS: a seccomp filter's kill action).
 *
 *   caps              CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp Seccomp_filters, from
 *                     /proc/self/status, as the kernel prints them
 *   id                uid=REAL,EFFECTIVE,SAVED  gid=...  groups=...
 *   syscall NAME      NAME=RESULT: the system call made by the native ABI
 *   syscall32 NAME    NAME/i386=RESULT: the same through int 0x80 (the i386 ABI; x86_64 only)
 *   syscallx32 NAME   NAME/x32=RESULT: the same through the x32 ABI (x86_64 only)
 *   open PATH         open:PATH=RESULT, O_RDONLY
 *   read PATH         read:PATH=RESULT, the open and a read of one byte
 *   write PATH        write:PATH=RESULT, an open O_WRONLY and a write of what a read gave first
 *                     (nothing if unreadable): a sysctl or a file keeps its value when allowed
 *   create PATH       create:PATH=RESULT, O_CREAT|O_EXCL and a write (the file is left)
 *   mknod-block PATH  mknod-block:PATH=RESULT, a block device node (7:0, loop0), then
 *                     open:PATH=RESULT when it was made; the node is removed
 *   fds               self.fds=0,1,2 (this process's, without the fd of the listing itself),
 *                     init.fds=... (PID 1's, or why not), and for every fd above 2 a line
 *                     self.fd.N=TARGET / init.fd.N=TARGET or the errno of its readlink
 *   cwd               cwd=PATH from getcwd() (ENOENT: the directory is outside the root),
 *                     cwd.link=PATH from /proc/self/cwd
 *   exe-write         self.exe.write, self.exe.reopen, init.exe.write, init.exe.reopen: opening
 *                     /proc/{self,1}/exe for writing, directly and by reopening an O_PATH fd
 *                     through /proc/self/fd (CVE-2019-5736); nothing is ever written
 *   forkbomb N        forked=K fork.error=ERRNO|none: forks up to N children that wait, then
 *                     kills and reaps them
 *   alloc MB          alloc=MB once MB MiB were allocated and touched (or the probe is killed)
 *   clock             realtime=NS: CLOCK_REALTIME in ns (busybox's date has no %N)
 *   shm-create KEY    shm-create:KEY=RESULT, a new SysV shared memory segment of one page with
 *                     that key (a number) in the probe's IPC namespace; the segment stays
 *   shm-find KEY      shm-find:KEY=RESULT, whether the IPC namespace has a segment with that key
 *                     (ENOENT: none)
 *
 * The system calls, in a child each so that none changes the probe: keyctl add_key bpf mount
 * unshare-user unshare-mount ptrace-init perf_event_open userfaultfd kexec_load init_module
 * finit_module delete_module open_by_handle_at clone3 syslog ioperm swapon pidfd_getfd-init
 * process_vm_readv-init. Each is made with arguments the kernel rejects, or that change nothing
 * that outlives the child, once the permission checks have passed: so EPERM (or EACCES) means
 * the call was stopped, and EINVAL, EBADF, ENOENT, ENOEXEC or ok that it was not. ptrace-init
 * uses PTRACE_SEIZE, whose access check is PTRACE_ATTACH's, so that init is never stopped.
 *
 * Static and libc-only: it runs in images that have nothing else. Exit status 0, or 2 on a usage
 * error. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static const char *errno_name(int e) {
        static char buf[16];
        const char *n = strerrorname_np(e);
        if (n)
                return n;
        snprintf(buf, sizeof(buf), "E%d", e);
        return buf;
}

static void result(const char *key, int r) {
        printf("%s=%s\n", key, r >= 0 ? "ok" : errno_name(-r));
}

static int neg_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* ---- system calls by ABI ------------------------------------------------------------------ */

typedef enum Abi { ABI_NATIVE, ABI_I386, ABI_X32, _ABI_MAX } Abi;
static const char *const abi_suffix[_ABI_MAX] = { "", "/i386", "/x32" };

/* Memory the 32-bit ABIs can address: every pointer argument is copied here first. */
static char *low_arena;
static size_t low_used;

static void *low(const void *p, size_t n) {
        void *d = low_arena + low_used;
        memcpy(d, p, n);
        low_used += (n + 15) & ~(size_t) 15;
        return d;
}
#define LOWSTR(s) ((long) low((s), sizeof(s)))

/* The raw kernel result: >= 0, or -errno. */
static long call(Abi abi, long nr, long a, long b, long c, long d, long e) {
        long r;

        if (nr < 0)
                return -ENOSYS; /* not in this ABI's table */
        if (abi == ABI_NATIVE) {
                r = syscall(nr, a, b, c, d, e);
                return r < 0 ? neg_errno() : r;
        }
#if defined(__x86_64__)
        if (abi == ABI_I386) {
                __asm__ volatile("int $0x80"
                                 : "=a"(r)
                                 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
                                 : "memory", "r8", "r9", "r10", "r11");
                return (int) r;
        }
        if (abi == ABI_X32) {
                register long r10 __asm__("r10") = d;
                register long r8 __asm__("r8") = e;
                __asm__ volatile("syscall"
                                 : "=a"(r)
                                 : "a"(nr | 0x40000000L), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                                 : "memory", "rcx", "r11");
                return r;
        }
#endif
        return -ENOTSUP;
}

typedef struct Sys Sys;
struct Sys {
        const char *name;
        long nr[_ABI_MAX]; /* x86_64, i386, x32 (without the x32 bit); -1: none */
        long (*run)(const Sys *s, Abi abi);
};
#define CALL(a, b, c, d, e) call(abi, s->nr[abi], (long) (a), (long) (b), (long) (c), (long) (d), (long) (e))

static long run_keyctl(const Sys *s, Abi abi) {
        return CALL(0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0, 0, 0);
}

static long run_add_key(const Sys *s, Abi abi) {
        return CALL(LOWSTR("user"), LOWSTR("sup-probe"), LOWSTR("x"), 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
}

static long run_bpf(const Sys *s, Abi abi) {
        union bpf_attr attr = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
        return CALL(BPF_MAP_CREATE, low(&attr, sizeof(attr)), sizeof(attr), 0, 0);
}

/* In a mount namespace of its own when it may; otherwise on the container's "/", which is
 * private already: making it so again changes nothing. */
static long run_mount(const Sys *s, Abi abi) {
        (void) unshare(CLONE_NEWNS);
        return CALL(0, LOWSTR("/"), 0, MS_REC | MS_PRIVATE, 0);
}

static long run_unshare_user(const Sys *s, Abi abi) {
        return CALL(CLONE_NEWUSER, 0, 0, 0, 0);
}

static long run_unshare_mount(const Sys *s, Abi abi) {
        return CALL(CLONE_NEWNS, 0, 0, 0, 0);
}

static long run_ptrace_init(const Sys *s, Abi abi) {
        return CALL(0x4206 /* PTRACE_SEIZE */, 1, 0, 0, 0);
}

static long run_perf_event_open(const Sys *s, Abi abi) {
        struct perf_event_attr attr = {
                .type = PERF_TYPE_SOFTWARE,
                .size = sizeof(attr),
                .config = PERF_COUNT_SW_CPU_CLOCK,
                .exclude_kernel = 1,
                .exclude_hv = 1,
        };
        return CALL(low(&attr, sizeof(attr)), 0, -1, -1, 0);
}

static long run_userfaultfd(const Sys *s, Abi abi) {
        return CALL(O_CLOEXEC, 0, 0, 0, 0);
}

/* An architecture that is not ours: EINVAL once the checks of privilege have passed. */
static long run_kexec_load(const Sys *s, Abi abi) {
        return CALL(0, 0, 0, 0xffff0000UL, 0);
}

static long run_init_module(const Sys *s, Abi abi) {
        return CALL(0, 0, LOWSTR(""), 0, 0);
}

static long run_finit_module(const Sys *s, Abi abi) {
        return CALL(-1, LOWSTR(""), 0, 0, 0);
}

static long run_delete_module(const Sys *s, Abi abi) {
        return CALL(LOWSTR("sup_probe_none"), O_NONBLOCK, 0, 0, 0);
}

static long run_open_by_handle_at(const Sys *s, Abi abi) {
        struct {
                unsigned handle_bytes;
                int handle_type;
                unsigned char f_handle[8];
        } h = { .handle_bytes = 8, .handle_type = 1 };
        return CALL(AT_FDCWD, low(&h, sizeof(h)), O_RDONLY, 0, 0);
}

/* A size too small: EINVAL when the call is allowed, ENOSYS when a filter says so. */
static long run_clone3(const Sys *s, Abi abi) {
        return CALL(0, 0, 0, 0, 0);
}

static long run_syslog(const Sys *s, Abi abi) {
        return CALL(10 /* SYSLOG_ACTION_SIZE_BUFFER */, 0, 0, 0, 0);
}

static long run_ioperm(const Sys *s, Abi abi) {
        return CALL(0x80, 1, 1, 0, 0);
}

static long run_swapon(const Sys *s, Abi abi) {
        return CALL(LOWSTR("/sup-probe-no-such-file"), 0, 0, 0, 0);
}

/* Harmless everywhere: on the host, getpid/i386 says whether its kernel runs int 0x80 at all
 * (SIGSEGV without IA-32 emulation). */
static long run_getpid(const Sys *s, Abi abi) {
        return CALL(0, 0, 0, 0, 0);
}

static long run_pidfd_getfd_init(const Sys *s, Abi abi) {
        long pidfd = call(ABI_NATIVE, SYS_pidfd_open, 1, 0, 0, 0, 0);
        if (pidfd < 0)
                return pidfd;
        return CALL(pidfd, 0, 0, 0, 0);
}

/* One byte of init's memory, at an address it may not have mapped: EFAULT once allowed. Six
 * arguments, and iovecs that differ between the ABIs: native only. */
static long run_process_vm_readv_init(const Sys *s, Abi abi) {
        char byte;
        struct iovec local = { &byte, 1 }, remote = { (void *) 0x10000, 1 };
        if (abi != ABI_NATIVE)
                return -ENOSYS;
        return syscall(s->nr[abi], 1, &local, 1, &remote, 1, 0) < 0 ? neg_errno() : 0;
}

static const Sys syscalls[] = {
        { "keyctl", { SYS_keyctl, 288, 250 }, run_keyctl },
        { "add_key", { SYS_add_key, 286, 248 }, run_add_key },
        { "bpf", { SYS_bpf, 357, 321 }, run_bpf },
        { "mount", { SYS_mount, 21, 165 }, run_mount },
        { "unshare-user", { SYS_unshare, 310, 272 }, run_unshare_user },
        { "unshare-mount", { SYS_unshare, 310, 272 }, run_unshare_mount },
        { "ptrace-init", { SYS_ptrace, 26, 521 }, run_ptrace_init },
        { "perf_event_open", { SYS_perf_event_open, 336, 298 }, run_perf_event_open },
        { "userfaultfd", { SYS_userfaultfd, 374, 323 }, run_userfaultfd },
        { "kexec_load", { SYS_kexec_load, 283, 528 }, run_kexec_load },
        { "init_module", { SYS_init_module, 128, 175 }, run_init_module },
        { "finit_module", { SYS_finit_module, 350, 313 }, run_finit_module },
        { "delete_module", { SYS_delete_module, 129, 176 }, run_delete_module },
        { "open_by_handle_at", { SYS_open_by_handle_at, 342, 304 }, run_open_by_handle_at },
        { "clone3", { SYS_clone3, 435, 435 }, run_clone3 },
        { "syslog", { SYS_syslog, 103, 103 }, run_syslog },
#if defined(__x86_64__)
        { "ioperm", { SYS_ioperm, 101, 173 }, run_ioperm },
#endif
        { "swapon", { SYS_swapon, 87, 167 }, run_swapon },
        { "pidfd_getfd-init", { SYS_pidfd_getfd, 438, 438 }, run_pidfd_getfd_init },
        { "process_vm_readv-init", { SYS_process_vm_readv, -1, -1 }, run_process_vm_readv_init },
        { "getpid", { SYS_getpid, 20, 39 }, run_getpid },
};

/* Forks, so that what the call does (a namespace, a tracee, a key) stays in the child. */
static void do_syscall(const char *name, Abi abi) {
        const Sys *s = NULL;
        char key[64];
        int status;
        pid_t pid;

        for (size_t i = 0; i < ELEMENTSOF(syscalls); i++)
                if (strcmp(syscalls[i].name, name) == 0)
                        s = &syscalls[i];
        snprintf(key, sizeof(key), "%s%s", name, abi_suffix[abi]);
#if !defined(__x86_64__)
        if (abi != ABI_NATIVE) {
                printf("%s=unsupported\n", key);
                return;
        }
#endif
        if (!s) {
                printf("%s=unknown\n", key);
                return;
        }
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                printf("%s=fork:%s\n", key, errno_name(errno));
                return;
        }
        if (pid == 0) {
                long r = s->run(s, abi);
                _exit(r >= 0 ? 0 : (int) MIN(-r, 255));
        }
        if (waitpid(pid, &status, 0) < 0)
                printf("%s=wait:%s\n", key, errno_name(errno));
        else if (WIFSIGNALED(status))
                printf("%s=SIG%s\n", key, sigabbrev_np(WTERMSIG(status)) ?: "?");
        else
                result(key, -WEXITSTATUS(status));
}

/* ---- files --------------------------------------------------------------------------------- */

static void status_lines(void) {
        static const char *const keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                            "NoNewPrivs", "Seccomp", "Seccomp_filters" };
        char line[256];
        FILE *f = fopen("/proc/self/status", "re");

        if (!f) {
                printf("caps=%s\n", errno_name(errno));
                return;
        }
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = 0;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (strcmp(line, keys[i]) == 0)
                                printf("%s=%s", line, colon + 1 + strspn(colon + 1, " \t"));
        }
        fclose(f);
}

static void id(void) {
        uid_t r, e, s;
        gid_t gr, ge, gs, groups[64];
        int n = getgroups(ELEMENTSOF(groups), groups);

        (void) getresuid(&r, &e, &s);
        (void) getresgid(&gr, &ge, &gs);
        printf("uid=%u,%u,%u\ngid=%u,%u,%u\ngroups=", r, e, s, gr, ge, gs);
        for (int i = 0; i < n; i++)
                printf("%s%u", i ? "," : "", groups[i]);
        printf("\n");
}

static void keyed(char *key, size_t size, const char *what, const char *path) {
        snprintf(key, size, "%s:%s", what, path);
}

static void do_open(const char *path) {
        char key[4200];
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        keyed(key, sizeof(key), "open", path);
        result(key, fd < 0 ? neg_errno() : 0);
        if (fd >= 0)
                close(fd);
}

static void do_read(const char *path) {
        char key[4200], c;
        int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

        if (fd < 0 || read(fd, &c, 1) < 0)
                r = neg_errno();
        if (fd >= 0)
                close(fd);
        keyed(key, sizeof(key), "read", path);
        result(key, r);
}

static void do_write(const char *path) {
        char key[4200], buf[4096];
        ssize_t n = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                n = read(fd, buf, sizeof(buf));
                close(fd);
        }
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, (size_t) (n > 0 ? n : 0)) < 0)
                r = neg_errno();
        if (fd >= 0)
                close(fd);
        keyed(key, sizeof(key), "write", path);
        result(key, r);
}

static void do_create(const char *path) {
        char key[4200];
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), r = 0;

        if (fd < 0 || write(fd, "sup-probe\n", 10) < 0)
                r = neg_errno();
        if (fd >= 0)
                close(fd);
        keyed(key, sizeof(key), "create", path);
        result(key, r);
}

static void do_mknod_block(const char *path) {
        char key[4200];
        int r = mknod(path, S_IFBLK | 0600, makedev(7, 0)) < 0 ? neg_errno() : 0;

        keyed(key, sizeof(key), "mknod-block", path);
        result(key, r);
        if (r == 0) {
                do_open(path);
                (void) unlink(path);
        }
}

/* The fd numbers in DIR, sorted; without the listing's own fd when it is ours. */
static int list_fds(const char *dir, bool own, int *fds, size_t max, size_t *ret_n) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;
        int skip;

        if (!d)
                return neg_errno();
        skip = own ? dirfd(d) : -1;
        while ((de = readdir(d)) && n < max) {
                int fd;
                if (de->d_name[0] == '.')
                        continue;
                fd = atoi(de->d_name);
                if (fd == skip)
                        continue;
                size_t i = n++;
                for (; i > 0 && fds[i - 1] > fd; i--)
                        fds[i] = fds[i - 1];
                fds[i] = fd;
        }
        closedir(d);
        *ret_n = n;
        return 0;
}

static void fds_of(const char *who, const char *dir, bool own) {
        int fds[256];
        size_t n;
        int r = list_fds(dir, own, fds, ELEMENTSOF(fds), &n);

        if (r < 0) {
                printf("%s.fds=%s\n", who, errno_name(-r));
                return;
        }
        printf("%s.fds=", who);
        for (size_t i = 0; i < n; i++)
                printf("%s%d", i ? "," : "", fds[i]);
        printf("\n");
        for (size_t i = 0; i < n; i++) {
                char link[128], target[4096];
                ssize_t k;
                if (fds[i] <= 2)
                        continue;
                snprintf(link, sizeof(link), "%s/%d", dir, fds[i]);
                k = readlink(link, target, sizeof(target) - 1);
                if (k < 0)
                        printf("%s.fd.%d=%s\n", who, fds[i], errno_name(errno));
                else
                        printf("%s.fd.%d=%.*s\n", who, fds[i], (int) k, target);
        }
}

static void cwd(void) {
        char buf[4096];
        ssize_t k;

        if (getcwd(buf, sizeof(buf)))
                printf("cwd=%s\n", buf);
        else
                printf("cwd=%s\n", errno_name(errno));
        k = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
        if (k < 0)
                printf("cwd.link=%s\n", errno_name(errno));
        else
                printf("cwd.link=%.*s\n", (int) k, buf);
}

static void exe_write(const char *who, const char *exe) {
        char key[64], fdpath[64];
        int fd, path_fd, r;

        fd = open(exe, O_WRONLY | O_CLOEXEC);
        snprintf(key, sizeof(key), "%s.exe.write", who);
        result(key, fd < 0 ? neg_errno() : 0);
        if (fd >= 0)
                close(fd);

        path_fd = open(exe, O_PATH | O_CLOEXEC);
        if (path_fd < 0)
                r = neg_errno();
        else {
                snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", path_fd);
                fd = open(fdpath, O_WRONLY | O_CLOEXEC);
                r = fd < 0 ? neg_errno() : 0;
                if (fd >= 0)
                        close(fd);
                close(path_fd);
        }
        snprintf(key, sizeof(key), "%s.exe.reopen", who);
        result(key, r);
}

/* ---- resources ----------------------------------------------------------------------------- */

static void forkbomb(long max) {
        pid_t *pids = calloc((size_t) max, sizeof(pid_t));
        long n = 0;
        int err = 0;

        fflush(stdout);
        for (; pids && n < max; n++) {
                pid_t p = fork();
                if (p < 0) {
                        err = errno;
                        break;
                }
                if (p == 0) {
                        pause();
                        _exit(0);
                }
                pids[n] = p;
        }
        for (long i = 0; i < n; i++)
                (void) kill(pids[i], SIGKILL);
        for (long i = 0; i < n; i++)
                (void) waitpid(pids[i], NULL, 0);
        printf("forked=%ld\nfork.error=%s\n", n, err ? errno_name(err) : "none");
        free(pids);
}

static void alloc(long mb) {
        size_t size = (size_t) mb << 20;
        char *p = malloc(size);

        if (!p) {
                printf("alloc=%s\n", errno_name(errno));
                return;
        }
        for (size_t i = 0; i < size; i += 4096)
                p[i] = 1;
        printf("alloc=%ld\n", mb);
        free(p);
}

static void realtime(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        printf("realtime=%lld%09ld\n", (long long) ts.tv_sec, ts.tv_nsec);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void fds(void) {
        fds_of("self", "/proc/self/fd", true);
        fds_of("init", "/proc/1/fd", false);
}

static void exe_writes(void) {
        exe_write("self", "/proc/self/exe");
        exe_write("init", "/proc/1/exe");
}

static void syscall_native(const char *name) {
        do_syscall(name, ABI_NATIVE);
}

static void syscall_i386(const char *name) {
        do_syscall(name, ABI_I386);
}

static void syscall_x32(const char *name) {
        do_syscall(name, ABI_X32);
}

_Noreturn static void usage(const char *what, const char *cmd) {
        fprintf(stderr, "sup-probe: %s: %s; see the comment at the top of tests/probe/sup-probe.c\n", cmd, what);
        exit(2);
}

static long number(const char *cmd, const char *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (!*s || *end || v <= 0)
                usage("not a positive number", cmd);
        return v;
}

static void forkbomb_arg(const char *arg) {
        forkbomb(number("forkbomb", arg));
}

static void alloc_arg(const char *arg) {
        alloc(number("alloc", arg));
}

/* shmget() with flags, for a segment of one page: ok, or why not. */
static void shm(const char *cmd, const char *arg, int flags) {
        char key[64];
        char *end;
        long k = strtol(arg, &end, 0);

        if (!*arg || *end)
                usage("not a number", cmd);
        snprintf(key, sizeof(key), "%s:%s", cmd, arg);
        result(key, shmget((key_t) k, 4096, flags) < 0 ? -errno : 0);
}

static void shm_create(const char *arg) {
        shm("shm-create", arg, IPC_CREAT | IPC_EXCL | 0600);
}

static void shm_find(const char *arg) {
        shm("shm-find", arg, 0);
}

static const struct {
        const char *name;
        void (*run)(void);
        void (*run_arg)(const char *arg);
} commands[] = {
        { "caps", status_lines, NULL },
        { "id", id, NULL },
        { "fds", fds, NULL },
        { "cwd", cwd, NULL },
        { "exe-write", exe_writes, NULL },
        { "syscall", NULL, syscall_native },
        { "syscall32", NULL, syscall_i386 },
        { "syscallx32", NULL, syscall_x32 },
        { "open", NULL, do_open },
        { "read", NULL, do_read },
        { "write", NULL, do_write },
        { "create", NULL, do_create },
        { "mknod-block", NULL, do_mknod_block },
        { "forkbomb", NULL, forkbomb_arg },
        { "alloc", NULL, alloc_arg },
        { "clock", realtime, NULL },
        { "shm-create", NULL, shm_create },
        { "shm-find", NULL, shm_find },
};

int main(int argc, char **argv) {
        /* Lines reach the log in order with the children's, and before a kill (alloc). */
        setvbuf(stdout, NULL, _IOLBF, 0);
        int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#if defined(__x86_64__)
        flags |= MAP_32BIT;
#endif
        low_arena = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (low_arena == MAP_FAILED)
                usage("cannot map", "the scratch page");
        if (argc < 2)
                usage("no command", argv[0]);

        for (int i = 1; i < argc; i++) {
                size_t c = 0;
                while (c < ELEMENTSOF(commands) && strcmp(commands[c].name, argv[i]) != 0)
                        c++;
                if (c == ELEMENTSOF(commands))
                        usage("unknown command", argv[i]);
                low_used = 0;
                if (commands[c].run)
                        commands[c].run();
                else if (i + 1 < argc)
                        commands[c].run_arg(argv[++i]);
                else
                        usage("lacks its argument", argv[i]);
        }
        return 0;
}
