/* SPDX-License-Identifier: MIT */
/* A static probe that test-limits.sh and test-cgroup2-vm.sh copy into their containers: what
 * busybox cannot do.
 *   limits-probe bomb      a fork bomb that outlives its failures: every process forks for ever and,
 *                          when the kernel says EAGAIN (pids.max), waits 1 ms and tries again, so the
 *                          cgroup stays at its limit. (busybox's sh exits on a failed fork: its bomb
 *                          collapses at the limit by itself and proves nothing about holding it.)
 *   limits-probe hold MIB  touches MIB MiB of anonymous memory, says "holding MIB MiB" and keeps
 *                          it until killed: an exact amount, where a shell's allocations are not,
 *                          so that a limit just below it (swap off) and just above it (swap on)
 *                          tell apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void bomb(void) {
        const struct timespec ms = {.tv_nsec = 1000000};

        for (;;) {
                pid_t p = fork();
                if (p < 0 && errno != EAGAIN)
                        _exit(1);
                if (p < 0)
                        (void) nanosleep(&ms, NULL);
                /* Parent and child alike go on forking. */
        }
}

static int hold(const char *arg) {
        char *end;
        unsigned long mib = strtoul(arg, &end, 10);
        size_t len, page = (size_t) sysconf(_SC_PAGESIZE);
        char *p;

        if (*end || mib == 0 || mib > 1UL << 20) {
                fprintf(stderr, "limits-probe hold: bad size %s\n", arg);
                return 2;
        }
        len = (size_t) mib << 20;
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
                perror("limits-probe hold: mmap");
                return 1;
        }
        /* Non-zero bytes: a page of zeros could be merged or compressed away. */
        for (size_t off = 0; off < len; off += page)
                p[off] = 1;
        printf("holding %lu MiB\n", mib);
        fflush(stdout);
        for (;;)
                pause();
}

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "bomb") == 0)
                bomb();
        if (argc == 3 && strcmp(argv[1], "hold") == 0)
                return hold(argv[2]);
        fprintf(stderr, "usage: limits-probe bomb | hold MIB\n");
        return 2;
}
