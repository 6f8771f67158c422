/* SPDX-License-Identifier: MIT */
/* supctl exec: a command in a running unit, its stdin, stdout and stderr streamed, with -t on a
 * terminal of the unit's own.
 *
 * supctl talks to the instance's monitor directly (RUN/units/NAME/monitor.sock, root only), not
 * through supd: the command's streams are pipes supctl makes and hands to the monitor with the
 * request (SCM_RIGHTS), so that no byte of them passes through supd, and a process-isolated
 * command writes straight into them. supctl never hands over its own stdin, stdout or stderr: a
 * terminal or a file of the host, reachable from inside the unit (its /proc/PID/fd), would be a
 * way out of it. It copies between them and the pipes instead. The monitor kills the command when
 * this connection goes away (supctl killed, or its ^C without -t). */
#include "supctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "json-conn.h"
#include "log.h"
#include "macro.h"
#include "path-util.h"
#include "socket-util.h"
#include "string-util.h"
#include "unit-value.h"

/* supctl's own failures (usage, no such unit, not running, permission), apart from the
 * command's exit statuses (126 and 127 are the command's: not executable, not found), as
 * docker and podman exec have it. */
#define EXIT_EXEC_FAILED 125

#define EXEC_IO_CHUNK 65536

static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal(void) {
        if (termios_saved)
                (void) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
        termios_saved = false;
}

static void exec_help(void) {
        printf("Usage: supctl exec UNIT [--user U] [--env K=V]... [--workdir DIR] [-t] -- COMMAND [ARG...]\n"
               "Runs COMMAND in the running UNIT, in its namespaces (or its guest), cgroup, user,\n"
               "capabilities and seccomp filter. stdin, stdout and stderr are streamed; the exit\n"
               "status is the command's (128+N when signal N killed it, 125 when supctl could not\n"
               "run it). Root only.\n"
               "  -u, --user U      uid[:gid] or name[:group] in the unit (default: the unit's user)\n"
               "  -e, --env K=V     set a variable over the unit's environment (repeatable)\n"
               "  -w, --workdir D   working directory (default: the unit's)\n"
               "  -t, --tty         a terminal in the unit: interactive programs, ^C reaches COMMAND\n");
}

/* The monitor's socket of unit, beside supd's socket: RUN/units/NAME/monitor.sock. */
static char *monitor_socket_path(const char *unit) {
        _cleanup_free_ char *supd = supd_socket_path(), *run = NULL;

        run = path_dirname(supd);
        return xasprintf("%s/units/%s/monitor.sock", run, unit);
}

/* Why there is no monitor to ask: supd knows whether the unit exists at all. */
static int explain_no_monitor(const char *unit, const char *path, int error) {
        json_t *result = NULL;

        if (error == -EACCES || error == -EPERM) {
                log_error("exec in %s: permission denied: exec is for root only (it runs commands inside the unit "
                          "with the unit's privileges)",
                          unit);
                return EXIT_EXEC_FAILED;
        }
        /* supd prints what is wrong ("no unit ... is loaded", supd not running). */
        if (supd_call("status", json_pack("{s:s}", "unit", unit), 5 * USEC_PER_SEC, &result) == EXIT_SUCCESS) {
                const char *state = json_string_value(json_object_get(json_array_get(result, 0), "state"));
                log_error("exec in %s: it has no monitor to ask (%s: %s)%s%s", unit, path, strerror(-error),
                          state ? "; its state is " : "", state ?: "");
        }
        json_decref(result);
        return EXIT_EXEC_FAILED;
}

typedef struct Relay {
        int from, to;
        char buf[EXEC_IO_CHUNK];
        size_t len, off; /* what was read and not written yet */
        bool eof;        /* from has ended: to is closed once buf is written */
} Relay;

/* One step of a relay: write what is pending, else read more. -EPIPE: to is gone. */
static int relay_step(Relay *r) {
        ssize_t n;

        if (r->len > r->off) {
                n = write(r->to, r->buf + r->off, r->len - r->off);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
                r->off += (size_t) n;
                if (r->off == r->len)
                        r->off = r->len = 0;
                return 0;
        }
        n = read(r->from, r->buf, sizeof(r->buf));
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
        if (n == 0) {
                r->eof = true;
                return 0;
        }
        r->len = (size_t) n;
        r->off = 0;
        return relay_step(r);
}

/* The output the command wrote before it ended, up to what is in the pipe now: a background
 * child that keeps the pipe open does not keep supctl. */
static void drain(int from, int to) {
        char buf[EXEC_IO_CHUNK];
        ssize_t n;

        if (from < 0)
                return;
        while ((n = read(from, buf, sizeof(buf))) > 0)
                if (loop_write(to, buf, (size_t) n) < 0)
                        return;
}

static void window_size(unsigned short *rows, unsigned short *cols) {
        struct winsize ws = {};

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                ws = (struct winsize){};
        *rows = ws.ws_row ?: 24;
        *cols = ws.ws_col ?: 80;
}

static int send_request(int sock, uint64_t id, const char *method, json_t *params, const int *fds, size_t n_fds) {
        json_t *msg = json_pack("{s:I, s:s, s:o}", "id", (json_int_t) id, "method", method, "params", params);
        _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
        size_t len;
        int r;

        json_decref(msg);
        if (!text)
                return -ENOMEM;
        len = strlen(text);
        text[len++] = '\n'; /* json_dumps() left room for its NUL */
        r = send_fds(sock, text, len, fds, n_fds);
        if (r < 0)
                return r;
        return loop_write(sock, text + r, len - (size_t) r);
}

typedef struct ExecArgs {
        const char *user, *workdir;
        json_t *env;
        bool tty;
} ExecArgs;

static const struct option exec_options[] = {
        {"user", required_argument, NULL, 'u'},    {"env", required_argument, NULL, 'e'},
        {"workdir", required_argument, NULL, 'w'}, {"tty", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {},
};

/* Options up to the first operand (the unit, then "--" or the command): 0, 1 after --help, or
 * -EINVAL after saying what is wrong. */
static int parse_exec_options(int argc, char **argv, ExecArgs *a) {
        int c;

        while ((c = getopt_long(argc, argv, "+u:e:w:th", exec_options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        a->user = optarg;
                        break;
                case 'e':
                        if (!strchr(optarg, '=') || optarg[0] == '=') {
                                log_error("--env needs NAME=VALUE, not \"%s\"", optarg);
                                return -EINVAL;
                        }
                        json_array_append_new(a->env, json_string(optarg));
                        break;
                case 'w':
                        if (optarg[0] != '/') {
                                log_error("--workdir needs an absolute path, not \"%s\"", optarg);
                                return -EINVAL;
                        }
                        a->workdir = optarg;
                        break;
                case 't':
                        a->tty = true;
                        break;
                case 'h':
                        exec_help();
                        return 1;
                default:
                        return -EINVAL;
                }
        return 0;
}

int verb_exec(int argc, char **argv) {
        _cleanup_close_ int sock = -EBADF, sigfd = -EBADF;
        int in[2] = {-EBADF, -EBADF}, out[2] = {-EBADF, -EBADF}, err[2] = {-EBADF, -EBADF};
        ExecArgs a = {.env = json_array()};
        const char *unit = NULL;
        _cleanup_free_ char *path = NULL, *frame = NULL;
        size_t frame_len = 0, frame_used = 0;
        json_t *args = json_array(), *params, *reply = NULL;
        Relay rin = {}, rout = {}, rerr = {};
        unsigned short rows = 0, cols = 0;
        bool got_reply = false;
        int r, status = EXIT_EXEC_FAILED;
        sigset_t mask;

        /* supctl exec [OPTIONS] UNIT [OPTIONS] -- COMMAND...: getopt stops at the unit (+); the
         * options may come after it too. */
        optind = 0;
        for (int round = 0; round < 2; round++) {
                r = parse_exec_options(argc, argv, &a);
                if (r > 0) { /* --help */
                        json_decref(a.env);
                        json_decref(args);
                        return EXIT_SUCCESS;
                }
                if (r < 0)
                        goto usage;
                if (round == 1)
                        break;
                if (optind >= argc) {
                        log_error("exec needs a unit and a command: supctl exec UNIT -- COMMAND...");
                        goto usage;
                }
                unit = argv[optind];
                argc -= optind;
                argv += optind;
                optind = 1;
        }
        if (optind < argc && streq(argv[optind], "--"))
                optind++;
        if (optind >= argc) {
                log_error("exec needs a command: supctl exec %s -- COMMAND...", unit);
                goto usage;
        }
        if (!unit_name_is_valid(unit)) {
                log_error("\"%s\" is not a unit name", unit);
                goto usage;
        }
        for (int i = optind; i < argc; i++)
                json_array_append_new(args, json_string(argv[i]));

        path = monitor_socket_path(unit);
        sock = unix_connect(path, 0);
        if (sock < 0) {
                json_decref(a.env);
                json_decref(args);
                return explain_no_monitor(unit, path, sock);
        }
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                log_error_errno(-errno, "exec: cannot create pipes: %m");
                goto finish;
        }
        if (a.tty)
                window_size(&rows, &cols);
        params = json_pack("{s:o, s:b, s:b}", "argv", args, "stream", true, "tty", a.tty);
        args = NULL;
        if (json_array_size(a.env) > 0)
                json_object_set(params, "env", a.env);
        if (a.user)
                json_object_set_new(params, "user", json_string(a.user));
        if (a.workdir)
                json_object_set_new(params, "working_dir", json_string(a.workdir));
        if (a.tty) {
                json_object_set_new(params, "rows", json_integer(rows));
                json_object_set_new(params, "cols", json_integer(cols));
        }
        /* A monitor that goes while we write to it is an error to report, not a silent death. */
        (void) signal(SIGPIPE, SIG_IGN);
        /* With a terminal, its output is one stream: stdout. */
        r = send_request(sock, 1, "exec", params, (int[]){in[0], out[1], a.tty ? out[1] : err[1]}, 3);
        if (r < 0) {
                log_error_errno(r, "exec: cannot send the request to %s: %m", path);
                goto finish;
        }
        /* Ours only from here: the command's ends are the monitor's (its EOF is the command's). */
        close_and_reset(&in[0]);
        close_and_reset(&out[1]);
        close_and_reset(&err[1]);
        if (a.tty)
                close_and_reset(&err[0]);
        for (int *fd = (int[]){in[1], out[0], err[0]}, *end = fd + 3; fd < end; fd++)
                if (*fd >= 0)
                        (void) fd_set_nonblock(*fd, 1);

        /* The terminal size follows ours; SIGTERM and SIGHUP end supctl with the terminal restored. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        if (a.tty) {
                /* Raw mode makes ^C and the quit key bytes; a kill(1) of them still ends supctl with the
                 * terminal restored. */
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGQUIT);
        }
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd < 0) /* without it they are not heard: they act as they would have */
                (void) sigprocmask(SIG_UNBLOCK, &mask, NULL);

        if (a.tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
                struct termios raw = saved_termios;
                /* Raw: ^C, ^Z and ^\ are bytes for the unit's terminal, which signals the command. */
                cfmakeraw(&raw);
                termios_saved = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }

        rin = (Relay){.from = STDIN_FILENO, .to = in[1]};
        rout = (Relay){.from = out[0], .to = STDOUT_FILENO};
        rerr = (Relay){.from = err[0], .to = STDERR_FILENO};
        while (!got_reply) {
                struct pollfd p[5] = {
                        {.fd = sock, .events = POLLIN},
                        {.fd = sigfd, .events = POLLIN},
                        {.fd = -1},
                        {.fd = -1},
                        {.fd = -1},
                };
                Relay *relays[] = {&rin, &rout, &rerr};

                for (size_t i = 0; i < 3; i++) {
                        Relay *x = relays[i];
                        if (x->from < 0 || x->to < 0)
                                continue;
                        if (x->len > x->off)
                                p[2 + i] = (struct pollfd){.fd = x->to, .events = POLLOUT};
                        else if (!x->eof)
                                p[2 + i] = (struct pollfd){.fd = x->from, .events = POLLIN};
                }
                if (poll(p, ELEMENTSOF(p), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        restore_terminal();
                        log_error_errno(r, "exec: poll: %m");
                        goto finish;
                }
                for (size_t i = 0; i < 3; i++) {
                        Relay *x = relays[i];
                        if (p[2 + i].fd < 0 || !p[2 + i].revents)
                                continue;
                        r = relay_step(x);
                        if (r < 0 && x == &rin) {
                                /* The command closed its stdin: what we have is not wanted. */
                                x->eof = true;
                                x->len = x->off = 0;
                        } else if (r < 0) {
                                /* Our stdout or stderr is gone (| head): as SIGPIPE would, without
                                 * leaving the terminal raw; the monitor kills the command. */
                                restore_terminal();
                                status = 128 + SIGPIPE;
                                goto finish;
                        }
                        if (x == &rin && x->eof && x->len == x->off && in[1] >= 0) {
                                /* Our stdin ended: so does the command's. */
                                close_and_reset(&in[1]);
                                rin.to = -EBADF;
                        } else if (x != &rin && x->eof)
                                x->from = -EBADF; /* the pipe is closed below */
                }
                if (p[1].revents) {
                        struct signalfd_siginfo si;
                        while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH && a.tty) {
                                        window_size(&rows, &cols);
                                        (void) send_request(sock, 2, "exec-resize",
                                                            json_pack("{s:i, s:i}", "rows", rows, "cols", cols), NULL,
                                                            0);
                                } else if (si.ssi_signo != SIGWINCH) {
                                        restore_terminal();
                                        status = 128 + (int) si.ssi_signo;
                                        goto finish;
                                }
                        }
                }
                /* Every whole frame read so far, not only the first: a frame that came in the
                 * same read as the one before it wakes no poll(). */
                while (p[0].revents && !got_reply) {
                        json_t *msg = NULL;
                        r = json_read_frame(sock, &frame, &frame_len, &frame_used, JSON_FRAME_MAX_REPLY,
                                            5 * USEC_PER_SEC, &msg);
                        if (r < 0) {
                                restore_terminal();
                                log_error_errno(r,
                                                "exec in %s: the monitor went away (%m): the unit stopped, or "
                                                "its monitor was restarted",
                                                unit);
                                goto finish;
                        }
                        if (json_integer_value(json_object_get(msg, "id")) == 1) {
                                reply = msg;
                                got_reply = true;
                        } else
                                json_decref(msg); /* an event, or a resize's answer */
                        if (!frame || !memchr(frame, '\n', frame_used))
                                break;
                }
        }

        /* The command has ended: what it wrote is in the pipes now (or relayed before the reply). */
        if (rout.len > rout.off)
                (void) loop_write(STDOUT_FILENO, rout.buf + rout.off, rout.len - rout.off);
        if (rerr.len > rerr.off)
                (void) loop_write(STDERR_FILENO, rerr.buf + rerr.off, rerr.len - rerr.off);
        drain(rout.from, STDOUT_FILENO);
        drain(rerr.from, STDERR_FILENO);
        restore_terminal();
        {
                json_t *e = json_object_get(reply, "error"), *result = json_object_get(reply, "result");
                if (e) {
                        log_error("exec in %s: %s", unit,
                                  json_string_value(json_object_get(e, "message")) ?: "refused");
                        status = EXIT_EXEC_FAILED;
                } else {
                        int code = (int) json_integer_value(json_object_get(result, "exit_code"));
                        int sig = (int) json_integer_value(json_object_get(result, "signal"));
                        const char *why = json_string_value(json_object_get(result, "error"));
                        if (why)
                                log_error("exec in %s: %s", unit, why);
                        status = sig > 0 ? 128 + sig : code;
                }
        }
finish:
        restore_terminal();
        json_decref(reply);
        json_decref(a.env);
        json_decref(args);
        for (int *fd = (int[]){in[0], in[1], out[0], out[1], err[0], err[1]}, *end = fd + 6; fd < end; fd++)
                if (*fd >= 0)
                        close(*fd);
        return status;
usage:
        json_decref(a.env);
        json_decref(args);
        return EXIT_EXEC_FAILED;
}
