/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec.h"
#include "rlimits.h"
#include "seccomp-filter.h"
#include "sup-error.h"
#include "unit-spec.h"

/* What the workload's own process gets, in both isolation modes: the process runtime's PID 2 in
 * its namespaces and the hyperv guest's, started by sup-init, run this same code, so that flipping
 * `isolation:` changes nothing the command can see (environment, user, groups, working directory,
 * signal dispositions, standard input, resource limits, capabilities, no_new_privs, how command[0]
 * is found). */

#define WORKLOAD_ERR_MAX 512
#define WORKLOAD_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The exit status a setup failure of the command gives in both isolation modes, as a shell's: 127
 * when something named was not found (the program, the working directory), 126 otherwise (not
 * executable, an unknown user, ...). r: the failure's -errno. */
static inline int workload_exit_code(int r) {
        return r == -ENOENT ? 127 : 126;
}

/* Writes the message to err (WORKLOAD_ERR_MAX bytes), followed by ": strerror(-r)" when r < 0;
 * returns r, or -EINVAL when r >= 0. For the steps of a workload's own process after clone() or
 * fork(), whose message crosses a pipe to the parent: everything else reports a SupError. */
int workload_error(char *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The user of the unit ("uid[:gid]", "name[:group]"), looked up in the image's /etc/passwd and
 * /etc/group. */
typedef struct ContainerUser {
        uid_t uid;
        gid_t gid;
        gid_t groups[64];
        size_t n_groups;
        char home[256];
        /* In a user namespace with setgroups() denied (user_namespace: auto): the process has no
         * supplementary groups, and keeps it so. */
        bool no_setgroups;
} ContainerUser;

/* Looks the user up in root's etc/passwd and etc/group (root "" or "/": the current root, i.e.
 * the container's after pivot_root). Errors are -errno with a message in *ret_error. */
int resolve_user_at(const char *root, const char *spec, ContainerUser *ret, SupError **ret_error);
static inline int resolve_user(const char *spec, ContainerUser *ret, SupError **ret_error) {
        return resolve_user_at("", spec, ret, ret_error);
}

/* resolve_user(), and with a user namespace whose setgroups() is denied (user_namespace: auto)
 * a refusal of supplementary groups rather than dropping them silently; the user then keeps
 * none (no_setgroups). */
int workload_resolve_user(const char *spec, bool userns, ContainerUser *ret, SupError **ret_error);

/* The command's environment: PATH and HOME unless the unit sets them, HOSTNAME, then the unit's
 * own variables. A new vector. */
char **workload_env(const UnitSpec *u, const char *home);

/* The pipe for the command's stdout or for its stderr: ret[0] the reader's end (non-blocking),
 * ret[1] the command's. The order of lines written to two pipes is lost once both hold some: a
 * reader that wakes to find out1..out10 in one and err1..err10 in the other cannot tell how they
 * interleaved. So each pipe holds one write at a time (packet mode, O_DIRECT, in a pipe of one
 * page): the command's next write to it waits until the reader has taken the last, and the
 * reader, woken edge-triggered (EPOLLET) in the order the pipes were written to, reads each once
 * per event and gets the writes in the order they were made. The cost: a command's write waits
 * for the reader whenever its previous one on that stream is still unread (a 64 KiB pipe would let
 * it run ahead); a write of more than a page goes in pieces of a page.
 * ret_events: the epoll events to read ret[0] with: EPOLLIN | EPOLLET, or EPOLLIN alone for a
 * plain pipe (the kernel refused to shrink it: the order then holds as far as the reader keeps
 * up). Each event: one read() of at least WORKLOAD_OUTPUT_READ_MAX bytes (a smaller one would
 * drop the rest of the write), and no more, until EPOLLHUP. */
#define WORKLOAD_OUTPUT_READ_MAX 4096 /* PIPE_BUF, the largest piece of a write */
int workload_output_pipe(int ret[2], uint32_t *ret_events);

/* Brings up the loopback interface of the current network namespace (or guest). */
int loopback_up(void);

/* Turns the calling process (a fresh fork, with every capability) into the unit's command: default
 * signal dispositions and an empty mask, a new session, stdin from stdin_fd (-EBADF: /dev/null),
 * stdout and stderr from the fds given (closed afterwards when above 2), with ctty stdin_fd (a pty's
 * slave) as the session's controlling terminal, the working directory, the resource limits
 * as the host resolved them (rlimits.h; NULL: the caller's stay), the capability
 * bounding set, the user, the other capability sets (caps.h), no_new_privs, the seccomp filter
 * (NULL: none; loaded last with no_new_privileges, before the capabilities and the user change
 * without), then execve() with command[0] searched in the new environment's PATH. Every other fd
 * must be close-on-exec. Returns only on failure: -errno, with a message in err. */
int workload_exec(const UnitSpec *u, const ContainerUser *user, char **env, int stdin_fd, int stdout_fd, int stderr_fd,
                  bool ctty, const struct rlimit *rlimits, const SeccompProgram *seccomp, char *err);

/* An exec in the running instance (exec.h), in a fresh fork that is already in the instance (its
 * namespaces, root and cgroup; a guest's root): the request's user (or the unit's) looked up in
 * the instance's root, workload_env() with the request's variables over it, the request's working
 * directory (or the unit's), then workload_exec() with the unit's rlimits and seccomp filter, so
 * that the command gets what the workload gets and no more. userns: as workload_resolve_user().
 * stdin_fd: -EBADF for /dev/null; with req->tty (and stream) the pty's slave, which is then the
 * controlling terminal and normally stdout_fd and stderr_fd too.
 * Returns only on failure: -errno, with a message in err. */
int workload_exec_request(const UnitSpec *u, const ExecRequest *req, bool userns, int stdin_fd, int stdout_fd,
                          int stderr_fd, const struct rlimit *rlimits, const SeccompProgram *seccomp, char *err);
