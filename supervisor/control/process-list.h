/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* The processes of a workload as `top` reports them, read from a proc directory ("/proc", or a
 * tree of the test's own) and given as the protocol's JSON. The monitor reads the host's /proc
 * for the PIDs of an instance's cgroup; sup-init reads the guest's for all of its processes.
 *
 * One process:
 *   {"pid": N, "ppid": N, "uid": N, "state": "S", "rss_bytes": N, "cpu_time_ms": N,
 *    "comm": "...", "args": ["...", ...]}
 * - pid, ppid and uid are as the namespaces of that proc see them: the host's for the monitor
 *   (a unit with a user namespace shows the mapped host uid), the guest's inside a VM;
 * - uid is the effective one (/proc/PID/status "Uid:", second field);
 * - state is the letter of /proc/PID/stat: R running, S sleeping, D uninterruptible, Z zombie,
 *   T stopped, t traced, I idle, X dead;
 * - rss_bytes is VmRSS (0 where there is none: a zombie);
 * - cpu_time_ms is user + system time so far (clock ticks, so 10 ms steps on most kernels);
 * - comm is the kernel's 15-character name; args the command line (/proc/PID/cmdline), empty for
 *   a zombie, cut after PROCESS_ARGS_MAX bytes, in which case "args_truncated": true is added.
 * Strings that are not UTF-8 get U+FFFD for each byte that does not fit. */

#define PROCESS_ARGS_MAX 4096

/* One process; NULL if it is a kernel thread, or gone (a process that ends while its files are
 * read is gone too). */
json_t *process_read(const char *proc, pid_t pid);

/* The processes of pids, in that order, leaving out those process_read() does. */
json_t *process_list_read(const char *proc, const pid_t *pids, size_t n_pids);

/* Every process under proc (kernel threads left out), sorted by pid. */
json_t *process_list_all(const char *proc);

/* A JSON string of s (n bytes): each byte that is not part of valid UTF-8 becomes U+FFFD (jansson
 * takes UTF-8 only, and a process may call itself anything, or write anything). */
json_t *json_string_lossy(const char *s, size_t n);
