/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "string-table.h"
#include "sup-error.h"

/* Running a command inside a running instance: the primitive that health checks and `supctl
 * exec` use, the same in both isolation modes (the process driver joins the workload's
 * namespaces and cgroup; the vm driver asks sup-init in the guest). An exec'd command never gets
 * more than the workload has: the same user (unless the request names another), capabilities,
 * seccomp filter, no_new_privs, resource limits and cgroup; it dies with the instance.
 *
 * Asynchronous, on the caller's event loop: output arrives in pieces as the command writes it,
 * then exactly one exited() (also when the command could not be started: code 126/127 and the
 * reason, as workload_exit_code() has it; or when the instance went away: code -1, signal
 * SIGKILL). No callback runs from within the call that started the exec. */

typedef enum ExecStream {
        EXEC_STDOUT,
        EXEC_STDERR,
        _EXEC_STREAM_MAX,
        _EXEC_STREAM_INVALID = -EINVAL,
} ExecStream;

DECLARE_STRING_TABLE_LOOKUP(exec_stream, ExecStream);

typedef struct ExecRequest {
        char **argv;             /* argv[0] is searched in the command's PATH, as the workload's is */
        char **env;              /* K=V set over the workload's environment; NULL: none */
        const char *user;        /* "uid[:gid]" or "name[:group]"; NULL: the unit's user */
        const char *working_dir; /* NULL: the unit's */
        /* Without stream: the command's stderr is its stdout, one pipe, so that its bytes come
         * in the order the command wrote them, all as EXEC_STDOUT (a health check's output: what
         * a terminal would have shown, the same in both isolation modes; two pipes are read in
         * whatever order the loop finds them ready). */
        bool merge_stderr;
        /* Streaming (supctl exec). Unset: stdin is /dev/null and the output comes through the
         * output() callback. Set: the command's stdin, stdout and stderr are the caller's fds
         * stdio[0..2] (pipes or sockets the caller made: never a terminal or a file of the host,
         * whose fd inside the instance would be a way out of it), output() is not called, and
         * exited() comes once the command has ended and every byte the driver relays for it has
         * been written. The fds stay the caller's: the driver dups what it keeps. */
        bool stream;
        int stdio[3];
        /* With stream only: a terminal. The command runs as the leader of a new session whose
         * controlling terminal, stdin, stdout and stderr are a new pty of the instance's own (the
         * container's devpts; the guest's), never the host's; the driver relays stdio[0] to the
         * terminal's input and the terminal's output (stdout and stderr merged, as on any
         * terminal) to stdio[1]; stdio[2] is not used. Ctrl-C is a byte on stdio[0], which the
         * terminal turns into SIGINT for the command's foreground process group. */
        bool tty;
        unsigned short rows, cols; /* the terminal's size at the start; 0: 24x80 */
} ExecRequest;

/* The request as the monitor's socket and the guest's agent carry it: {"argv": [strings, at
 * least one], "env": ["K=V"...]?, "user": string?, "working_dir": absolute path?, "tty": bool?,
 * "rows": N?, "cols": N?} (other keys of o are the caller's; the fds of a stream are not JSON:
 * the caller sets stream and stdio). On success ret owns its strings: exec_request_done(). */
int exec_request_from_json(const json_t *o, ExecRequest *ret, SupError **ret_error);
void exec_request_done(ExecRequest *r);

typedef struct ExecResult {
        int code;          /* the exit status; -1 when killed by a signal */
        int signal;        /* the signal that killed it, 0 otherwise */
        const char *error; /* the command could not be started: why (code 126 or 127); else NULL */
} ExecResult;

typedef struct ExecCallbacks {
        void (*output)(ExecStream stream, const char *buf, size_t n, void *userdata);
        /* The last callback of an exec: its output is all delivered before. The exec's handle is
         * the driver's until this returns; the caller may free its own state here. */
        void (*exited)(const ExecResult *result, void *userdata);
} ExecCallbacks;
