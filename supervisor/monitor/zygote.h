/* SPDX-License-Identifier: MIT */
#pragma once

/* `sup-monitor --zygote`: the process supd forks its monitors from (control/zygote-proto.h), one
 * per supd, started once and fed a request per monitor on fd sock (3).
 *
 * Why: a monitor executed anew paid, at every unit's start, for the exec, ld.so loading and
 * relocating nine shared objects and resolving their symbols on first call, and the page faults
 * of all that: about 0.7 ms of CPU in the ~5.8 ms a whole start costs the host (bench/README.md,
 * goal 4c), and the private pages relocation dirties in every monitor. A fork of a process that
 * did all of it once shares those pages and starts where main() would.
 *
 * What a forked monitor has of the zygote: its exec (the same sup-monitor binary, environment,
 * rlimits and cgroup supd started it with: those of an executed monitor), libraries, and address
 * space layout. The layout is the one difference an operator could care about: every monitor of
 * one supd has the same, as a monitor and its container's init (a fork of it) always had, where
 * each executed monitor had its own. The zygote holds nothing of any unit (it reads nothing but its
 * requests), and nothing of a monitor is ever in it, but what warm_fn makes before its first fork,
 * with that request's argv, for every monitor alike (sup-monitor.c: the default seccomp program,
 * of no unit's).
 *
 * Each request is one fork, detached as supd's own spawn detaches an executed monitor (through an
 * intermediate child leading a session of its own): the zygote leads a session of its own, which
 * the monitors share without leading it (none can acquire a controlling terminal), each monitor a
 * process group of its own. The monitor is the zygote's child, outlives it and supd (it is then
 * init's), and is never waited for: SA_NOCLDWAIT has the kernel reap it; the zygote answers the
 * next request at once. (Two forks per request, waiting for the first, made the zygote wait for a
 * child's turn on a CPU at every request on a host busy with the monitors just forked.) In the
 * monitor:
 * - fd 3 is the request's ready pipe, every other fd above 2 closed (the zygote's socket too);
 * - /proc/PID/cmdline shows the request's argv (cmdline_area_set()), which `ps`, pgrep -f and the
 *   tests go by;
 * - SIGCHLD is as in any new process (not the zygote's SA_NOCLDWAIT): it waits for its children;
 * - main(argc, argv) runs with the request's argv, getopt reset, and the process exits with what
 *   it returns.
 * The zygote returns when supd closes its end (0), or on an error of the socket (1). */
int monitor_zygote_run(int sock, int (*main_fn)(int argc, char **argv), void (*warm_fn)(int argc, char **argv));

/* Takes LD_BIND_NOW out of the zygote's environment where supd put it there for the zygote alone
 * (SUP_ZYGOTE_BIND_NOW), so that monitors, and what they run, get supd's. */
void monitor_zygote_environment_drop(void);
