/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "time-util.h"

/* Running helper programs (nft, mkfs.ext4, qemu-system-x86_64) from processes that block every
 * signal for their signalfd. Return 0 or -errno; they do not log. */

/* In a freshly forked child about to exec: default signal mask and dispositions (what a
 * signalfd owner blocked or ignored must not reach the program), and every fd above 2 closed
 * except those listed in keep (n_keep of them). */
void child_reset(const int *keep, size_t n_keep);

/* In a freshly forked child of parent (the forker's pid, taken before the fork): SIGKILL when
 * parent dies, also when it died before this ran (then it exits at once). For helpers nobody
 * else would stop: a skopeo or mkfs.ext4 whose monitor or supd worker was killed. */
void child_die_with_parent(pid_t parent);

/* In a fresh child that is to hold only a few of its parent's fds, at fixed numbers: fds[i]
 * becomes fd first + i (not close-on-exec), and every other fd from first on is closed. The
 * sources are moved out of the way first, as one may be another's target. -errno on failure. */
int child_arrange_fds(int *fds, size_t n, int first);

/* The signal half of child_reset(): every disposition to its default, an empty mask. */
void signals_reset(void);

/* What /proc/self/cmdline shows: the argument area, [*ret_start, *ret_end) (proc(5)'s arg_start and
 * arg_end). cmdline_area_set() points it at the len bytes at start instead, which must stay mapped
 * for the life of the process (the kernel reads them whenever someone reads the file), with
 * prctl(PR_SET_MM_MAP): it needs no CAP_SYS_RESOURCE (unlike PR_SET_MM_ARG_START and _END, which
 * these hosts refuse) as long as it leaves the exe link and the auxiliary vector alone, as CRIU's
 * unprivileged restore does; the kernel needs CONFIG_CHECKPOINT_RESTORE for it (-EINVAL without).
 * Return 0 or -errno. */
int cmdline_area_get(uintptr_t *ret_start, uintptr_t *ret_end);
int cmdline_area_set(const char *start, size_t len);

/* EXIT status of a child whose exec failed with ENOENT (the program is not installed). */
#define EXIT_NOT_INSTALLED 127

/* Runs argv (argv[0] looked up in PATH, then in each of fallbacks, a NULL-terminated list that
 * may be NULL), input on its stdin (NULL: /dev/null) and waits for it. Its stdout and stderr
 * together, at most max bytes of them, are returned in *ret_output (NUL-terminated; may be NULL).
 * Returns the wait status (>= 0), or -errno when it could not be run at all. A program still
 * running after timeout (relative; USEC_INFINITY: none) is killed (SIGKILL) and reaped, and the
 * result is -ETIMEDOUT, with its output so far. Memory files, not pipes, carry input and output:
 * neither side can block on the other. */
int run_program(char *const *argv, const char *const *fallbacks, const char *input, usec_t timeout, size_t max,
                char **ret_output);

/* The exit status of a wait status; -1 if killed by a signal. */
int wait_status_code(int status);

/* The pid (in the caller's pid namespace) of the process pidfd refers to (its fdinfo's Pid:);
 * -ESRCH once it has been reaped. */
int pidfd_get_pid(int pidfd, pid_t *ret);

/* Sends sig to every process of session sid (as the caller's /proc shows them: session ids in
 * the caller's pid namespace) and to process group sid. For ending what an exec started with
 * its session: its background jobs have process groups of their own. The caller must hold the
 * session leader unreaped (its pidfd), so that sid cannot name another session meanwhile. A
 * process that left the session (setsid()) is not found. Returns how many were signalled. */
int kill_session(pid_t sid, int sig);

/* From /proc/PID/smaps (as text in f): the resident size, in bytes, of every mapping together
 * (*ret_total) and of the anonymous mappings (no path) of exactly anon_size bytes (*ret_anon; 0
 * when there is none). For QEMU, whose guest RAM is one anonymous mapping of -m's size: what the
 * guest has touched and not given back, and QEMU's own memory beside it. -EINVAL on a mapping
 * without Size or Rss, or on numbers that do not parse. */
int smaps_rss_parse(FILE *f, uint64_t anon_size, uint64_t *ret_total, uint64_t *ret_anon);

/* The same for a live process: -ESRCH (or -ENOENT) once it is gone. */
int proc_smaps_rss(pid_t pid, uint64_t anon_size, uint64_t *ret_total, uint64_t *ret_anon);

/* glibc's tunables (GLIBC_TUNABLES=name=value:name=value...), read once by a program at its exec.
 * glibc_tunables_add() returns the environment entry "GLIBC_TUNABLES=..." with tunable appended to
 * current (NULL: none set); glibc_tunables_drop() removes from this process' environment the
 * tunable that a glibc_tunables_add() appended, leaving what was there before it, so that the
 * programs this process runs get the environment its parent had. */
char *glibc_tunables_add(const char *current, const char *tunable);

/* What supd adds for its monitors (daemon/manager-runtime.c says why), and each drops at its
 * start. */
#define SUP_MONITOR_MALLOC_TUNABLE "glibc.malloc.tcache_count=0"
void glibc_tunables_drop(const char *tunable);
