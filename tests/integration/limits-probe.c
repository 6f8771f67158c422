/* SPDX-License-Identifier: MIT */
/* A static probe that test-limits.sh copies into its containers: what busybox cannot do.
 *   limits-probe bomb   a fork bomb that outlives its failures: every process forks for ever and,
 *                       when the kernel says EAGAIN (pids.max), waits 1 ms and tries again, so the
 *                       cgroup stays at its limit. (busybox's sh exits on a failed fork: its bomb
 *                       collapses at the limit by itself and proves nothing about holding it.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
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

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "bomb") == 0)
                bomb();
        fprintf(stderr, "usage: limits-probe bomb\n");
        return 2;
}
