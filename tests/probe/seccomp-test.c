/* SPDX-License-Identifier: MIT */
/* seccomp-test: run inside a container by tests/integration/test-seccomp.sh, it makes system
 * calls a seccomp filter should stop and says what each returned, one line a call:
 *
 *   seccomp-test status CALL...      e.g. "keyctl: EPERM", "x86:keyctl: EPERM", "x32:bpf: ENOSYS",
 *                                    "clone3: ENOSYS", "mkdir: ok", "x86:getpid: signal 31"
 *
 * "status" prints the Seccomp: and NoNewPrivs: lines of /proc/self/status. CALL names the x86_64
 * call; "x86:" makes it through int 0x80 (the i386 ABI, numbers of arch/x86/entry/syscalls/
 * syscall_32.tbl), "x32:" with the x32 bit (0x40000000) set on the x86_64 number. Each call is made
 * in a child process of its own, so that one that succeeds (unshare, personality) or kills (a
 * filter's KILL_PROCESS) changes nothing for the next. The arguments are harmless: invalid where
 * the call could change anything outside the child, so that without a filter the kernel answers
 * with some other error (EINVAL, EFAULT, ENOENT, ...) or succeeds without effect.
 *
 * Built static (gcc -static) and not position independent: the strings passed through int 0x80
 * must have 32-bit addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define X32_BIT 0x40000000L

typedef struct Call {
        const char *name;
        long nr64; /* x86_64 (and x32 with X32_BIT) */
        long nr32; /* i386, -1: none */
        long a[5];
} Call;

/* Static strings: below 4 GiB in a static non-PIE binary, so int 0x80 can pass them too. */
static const char key_type[] = "user", key_desc[] = "sup-seccomp-test", key_data[] = "x";
static const char mnt_src[] = "none", mnt_dir[] = "/sup-seccomp-nonexistent", mnt_type[] = "tmpfs";
static const char mkdir_path[] = "/tmp/sup-seccomp-mkdir";

static const Call calls[] = {
        /* keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) */
        {"keyctl", 250, 288, {0, -3, 0}},
        /* add_key("user", ..., KEY_SPEC_PROCESS_KEYRING): a key that dies with the child */
        {"add_key", 248, 286, {(long) key_type, (long) key_desc, (long) key_data, 1, -2}},
        {"request_key", 249, 287, {(long) key_type, (long) key_desc, 0, 0}},
        /* bpf(no such command) */
        {"bpf", 321, 357, {9999, 0, 0}},
        /* mount("none", a path that does not exist, "tmpfs") */
        {"mount", 165, 21, {(long) mnt_src, (long) mnt_dir, (long) mnt_type, 0, 0}},
        {"umount2", 166, 52, {(long) mnt_dir, 0}},
        {"pivot_root", 155, 217, {(long) mnt_dir, (long) mnt_dir}},
        {"unshare-user", 272, 310, {CLONE_NEWUSER}},
        {"unshare-mount", 272, 310, {CLONE_NEWNS}},
        /* clone(CLONE_NEWUSER | SIGCHLD): the child exits at once (see run()) */
        {"clone-user", 56, 120, {CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0}},
        /* clone3(NULL, 0): EINVAL from the kernel, ENOSYS from the filter */
        {"clone3", 435, 435, {0, 0}},
        {"setns", 308, 346, {-1, 0}},
        /* perf_event_open(NULL, ...): EFAULT from the kernel */
        {"perf_event_open", 298, 336, {0, 0, -1, -1, 0}},
        /* userfaultfd(invalid flags): EINVAL from the kernel */
        {"userfaultfd", 323, 374, {0x12345678}},
        {"io_uring_setup", 425, 425, {0, 0}},
        /* open_by_handle_at(-1, NULL, 0): the "shocker" escape's call */
        {"open_by_handle_at", 304, 342, {-1, 0, 0}},
        {"personality-page-zero", 135, 136, {MMAP_PAGE_ZERO}},
        {"personality-query", 135, 136, {0xffffffffL}},
        {"mkdir", 83, 39, {(long) mkdir_path, 0755}},
        {"getpid", 39, 20, {0}},
};

static long int80(long nr, const long a[5]) {
        long ret;
        __asm__ volatile("int $0x80"
                         : "=a"(ret)
                         : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                         : "memory");
        return ret;
}

/* In the child: the call, then its result as the exit status (0: ok, else errno). */
static int run(const char *abi, const Call *c) {
        long r;

        if (strcmp(abi, "x86") == 0) {
                if (c->nr32 < 0)
                        return ENOSYS;
                r = int80(c->nr32, c->a);
                if (r == 0 && strstr(c->name, "clone"))
                        _exit(0); /* the clone's child */
                return r < 0 && r > -4096 ? (int) -r : 0;
        }
        r = syscall(strcmp(abi, "x32") == 0 ? c->nr64 | X32_BIT : c->nr64, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4]);
        if (r == 0 && strstr(c->name, "clone"))
                _exit(0);
        return r < 0 ? errno : 0;
}

/* ptrace is left to capabilities (docs/security.md): a child the probe traces is fine. */
static int run_ptrace(void) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return errno;
        if (pid == 0) {
                if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
                        _exit(1);
                raise(SIGSTOP);
                _exit(0);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
                return EPERM;
        (void) ptrace(PTRACE_CONT, pid, NULL, NULL);
        (void) waitpid(pid, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EPERM;
}

/* "Seccomp: 2" and "NoNewPrivs: 1", one space after the colon. */
static void status(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];

        while (f && fgets(line, sizeof(line), f)) {
                char *value = strchr(line, ':');
                if (!value || (strncmp(line, "Seccomp:", 8) != 0 && strncmp(line, "NoNewPrivs:", 11) != 0))
                        continue;
                *value++ = 0;
                value += strspn(value, " \t");
                printf("%s: %s", line, value);
        }
        if (f)
                fclose(f);
}

static void probe(const char *arg) {
        const char *colon = strchr(arg, ':'), *name = colon ? colon + 1 : arg;
        char abi[8] = "";
        const Call *c = NULL;
        int st;
        pid_t pid;

        if (colon && (size_t) (colon - arg) < sizeof(abi))
                memcpy(abi, arg, (size_t) (colon - arg));
        for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
                if (strcmp(calls[i].name, name) == 0)
                        c = &calls[i];
        if (!c && strcmp(name, "ptrace") != 0) {
                printf("%s: unknown call\n", arg);
                return;
        }
        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(c ? run(abi, c) : run_ptrace());
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                printf("%s: cannot fork: %s\n", arg, strerror(errno));
        else if (WIFSIGNALED(st))
                printf("%s: signal %d\n", arg, WTERMSIG(st));
        else if (WEXITSTATUS(st) == 0)
                printf("%s: ok\n", arg);
        else
                printf("%s: %s\n", arg, strerrorname_np(WEXITSTATUS(st)) ?: "?");
        if (c && strcmp(name, "mkdir") == 0)
                (void) rmdir(mkdir_path);
}

int main(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "status") == 0)
                        status();
                else
                        probe(argv[i]);
        }
        fflush(stdout);
        return 0;
}
