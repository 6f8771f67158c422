/* SPDX-License-Identifier: MIT */
/* sup-init: PID 1 of a hyperv guest. Linked statically and carried as /init by the initramfs of
 * tools/guest-initramfs.sh. It loads the virtio drivers, says hello to the host on the agent port,
 * receives the unit, builds the container's root from the layer and sandbox disks, configures
 * eth0 as process isolation does (network: bridge), and from there on is what process isolation's
 * init is: it starts the command as its child, forwards signals to it, reaps orphans and reports
 * how the command ended. Then the guest powers off. The host stops the unit with the agent's stop
 * command or, failing that, the ACPI power button. The protocol is described in guest-proto.h. */

#include <fcntl.h>
#include <inttypes.h>
#include <linux/input.h>
#include <linux/mount.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "alloc.h"
#include "event.h"
#include "fileio.h"
#include "guest-boot.h"
#include "guest-cgroup.h"
#include "guest-clock.h"
#include "guest-exec.h"
#include "guest-probe.h"
#include "guest-proto.h"
#include "json-conn.h"
#include "macro.h"
#include "mount-util.h"
#include "rootfs.h"
#include "socket-util.h"
#include "string-util.h"
#include "workload.h"

#define ROOT_DIR        "/run/sup/root"
#define PORT_TIMEOUT_MS 10000U
/* While the host is away from the agent port, how often to look whether it is back. */
#define RECONNECT_USEC (100 * USEC_PER_MSEC)
/* After the command ended: how long the rest may take to die and the exit event to leave. */
#define FINISH_USEC (10 * USEC_PER_SEC)

typedef struct Init Init;

typedef struct Output {
        Init *init;
        int fd;             /* the read end of the command's stdout or stderr pipe */
        int dest;           /* the output port or the console, not owned */
        bool framed;        /* dest is the output port, shared by both streams */
        GuestStream stream; /* the frames' */
        EventSource *source;
} Output;

struct Init {
        Event *event;
        int console;     /* sup-init's own messages */
        bool debug;      /* "sup.debug" on the kernel command line: say when each step is done */
        int agent_fd;    /* the agent port; every JsonConn gets a dup of it */
        JsonConn *agent; /* NULL while the host is away */
        EventSource *reconnect;
        const UnitSpec *unit;
        const GuestRun *run;
        GuestExecs *execs; /* once the unit runs */
        pid_t command;     /* 0 once reaped */
        int exit_code, exit_signal;
        int vmstat;         /* the guest's /proc/vmstat, opened before the workload's /proc hides it; or -EBADF */
        uint64_t oom_kills; /* its oom_kill when the command started */
        int power_button;   /* its evdev node, or -EBADF */
        EventSource *power_button_source;
        EventSource *kill_timer; /* stop's timeout */
        EventSource *finish_timer;
        json_t *final_event; /* the exit event, once all output is out */
        bool final_sent;     /* then the power goes when the agent connection has flushed it */
        Output out[2];
};

static void say(Init *init, const char *fmt, ...) _printf_(2, 3);
static void say(Init *init, const char *fmt, ...) {
        char buf[WORKLOAD_ERR_MAX + 64];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        va_end(ap);
        n = MIN(MAX(n, 0), (int) sizeof(buf) - 2);
        buf[n++] = '\n';
        (void) !write(init->console, "sup-init: ", 10);
        (void) !write(init->console, buf, (size_t) n);
}

/* With sup.debug: the time since the kernel started, to see where a guest's boot goes. */
static void stage(Init *init, const char *what) {
        struct timespec ts;

        if (!init->debug || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return;
        say(init, "%lld.%03ld s: %s", (long long) ts.tv_sec, ts.tv_nsec / 1000000L, what);
}

static bool debug_requested(void) {
        _cleanup_free_ char *cmdline = NULL;
        size_t n;

        if (read_full_file("/proc/cmdline", 65536, &cmdline, &n) < 0)
                return false;
        for (char *w = strtok(cmdline, " \n"); w; w = strtok(NULL, " \n"))
                if (streq(w, "sup.debug"))
                        return true;
        return false;
}

/* A blocking write of one message (taken), before the event loop runs. On a virtio-serial port it
 * waits until the host has connected. */
static int send_blocking(int fd, json_t *msg) {
        int r = json_write_frame(fd, msg);
        json_decref(msg);
        return r;
}

/* A setup error: to the host if it can hear us, to the console in any case, then power off. code
 * >= 0: the command's own setup failed, as it would in process isolation, with the exit status it
 * has there. */
_noreturn_ static void fail_setup_code(Init *init, const char *msg, int code) {
        say(init, "%s", msg);
        if (init->agent_fd >= 0)
                (void) send_blocking(init->agent_fd,
                                     code >= 0 ? guest_event_setup_error(msg, code) : guest_event_error(msg));
        guest_poweroff();
}

_noreturn_ static void fail_setup(Init *init, const char *msg) {
        fail_setup_code(init, msg, -1);
}

static void send_event(Init *init, json_t *msg) {
        if (init->agent)
                (void) json_conn_send(init->agent, msg);
        json_decref(msg);
}

static void agent_connect(Init *init);

static void on_reconnect(EventSource *s, usec_t t, void *userdata) {
        Init *init = userdata;
        struct pollfd p = {.fd = init->agent_fd, .events = POLLIN};

        /* A virtio-serial port polls as POLLHUP while nobody holds the host's end. */
        if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
                agent_connect(init);
                return;
        }
        event_source_set_time(s, now(CLOCK_MONOTONIC) + RECONNECT_USEC);
}

static void on_agent_close(JsonConn *c, int error, void *userdata) {
        Init *init = userdata;

        init->agent = NULL;
        if (init->final_sent)
                guest_poweroff(); /* the exit event is out (or cannot be): done */
        if (init->execs)
                guest_execs_set_connected(init->execs, false);
        say(init, "the host left the agent port (%s); waiting for it", error < 0 ? strerror(-error) : "end of file");
        if (!init->reconnect)
                (void) event_add_time(init->event, &init->reconnect, USEC_INFINITY, on_reconnect, init);
        if (init->reconnect)
                event_source_set_time(init->reconnect, now(CLOCK_MONOTONIC) + RECONNECT_USEC);
}

/* Sends the exit event and powers off once it is written (on_agent_close). */
static void send_final(Init *init) {
        if (!init->agent)
                return; /* on reconnect */
        init->final_sent = true;
        (void) json_conn_send(init->agent, init->final_event);
        json_conn_close_after_flush(init->agent);
}

/* The agent's stop command and the power button: sig to the command now, and whatever is left when
 * the time is up is killed, as the process runtime kills the unit's cgroup. The exit event and the
 * power off follow from the command's end (reap()). A second stop may shorten the wait, never
 * lengthen it. */
static void stop_command(Init *init, int sig, usec_t timeout) {
        usec_t t = now(CLOCK_MONOTONIC);
        usec_t when = timeout >= USEC_INFINITY - 1 - t ? USEC_INFINITY - 1 : t + timeout;

        if (init->command > 0)
                (void) kill(init->command, sig);
        if (event_source_get_time(init->kill_timer) > when)
                event_source_set_time(init->kill_timer, when);
}

/* ---- the wall clock (guest-proto.h: clock, clock-adjust) ---- */

/* clock: its answer, t2 the time its command was read. clock-adjust: the correction, and NULL.
 * Before the workload runs a correction is always a step: nobody sees the clock jump. */
static json_t *clock_command(Init *init, const GuestCommand *cmd, int64_t t2) {
        int r;

        if (cmd->type == GUEST_CMD_CLOCK)
                return guest_event_clock(cmd->t1, t2, guest_clock_now());
        r = guest_clock_adjust(cmd->offset_ns, cmd->step || init->command == 0);
        if (r < 0)
                say(init, "cannot correct the clock by %" PRId64 " ns: %s", -cmd->offset_ns, strerror(-r));
        return NULL;
}

static void on_message(JsonConn *c, json_t *msg, void *userdata) {
        Init *init = userdata;
        int64_t received = guest_clock_now();
        _cleanup_sup_error_ SupError *error = NULL;
        _cleanup_(guest_command_done) GuestCommand cmd = {};

        if (guest_command_from_json(msg, &cmd, &error) < 0) {
                send_event(init, guest_event_refused(sup_error_message(error)));
                return;
        }
        switch (cmd.type) {
        case GUEST_CMD_PS:
                send_event(init, guest_event_ps(guest_ps_collect("/proc")));
                return;
        case GUEST_CMD_STOP:
                stop_command(init, cmd.signal,
                             cmd.timeout_ms >= USEC_INFINITY / USEC_PER_MSEC ? USEC_INFINITY
                                                                             : cmd.timeout_ms * USEC_PER_MSEC);
                return;
        case GUEST_CMD_RUN:
        case GUEST_CMD_PARK:
                send_event(init, guest_event_refused("the unit runs already"));
                return;
        case GUEST_CMD_CLOCK:
        case GUEST_CMD_CLOCK_ADJUST: {
                json_t *answer = clock_command(init, &cmd, received);
                if (answer)
                        send_event(init, answer);
                return;
        }
        case GUEST_CMD_EXEC:
        case GUEST_CMD_EXEC_ACK:
        case GUEST_CMD_EXEC_INPUT:
        case GUEST_CMD_EXEC_INPUT_CLOSE:
        case GUEST_CMD_EXEC_RESIZE:
        case GUEST_CMD_EXEC_KILL:
                guest_execs_command(init->execs, &cmd, msg, init->command != 0);
                return;
        case _GUEST_CMD_MAX:
        case _GUEST_CMD_INVALID:
                break;
        }
        send_event(init, guest_event_refused("unknown command"));
}

static void exec_send(json_t *msg, void *userdata) {
        send_event(userdata, msg);
}

static void exec_say(const char *msg, void *userdata) {
        say(userdata, "%s", msg);
}

static void agent_connect(Init *init) {
        int fd = fcntl(init->agent_fd, F_DUPFD_CLOEXEC, 3);

        init->reconnect = event_source_free(init->reconnect);
        if (fd < 0 || json_conn_new(init->event, fd, JSON_FRAME_MAX_REQUEST, on_message, on_agent_close, init,
                                    &init->agent) < 0) {
                say(init, "cannot watch the agent port");
                guest_poweroff();
        }
        if (init->execs)
                guest_execs_set_connected(init->execs, true);
        if (init->final_event)
                send_final(init);
}

/* Whether the guest kernel's OOM killer struck since the command started (all the guest's
 * processes are the unit's: what the memory cgroup's oom_kill tells of a process container). */
static bool oom_struck(const Init *init) {
        uint64_t n;

        return init->vmstat >= 0 && guest_read_oom_kills(init->vmstat, &n) >= 0 && n > init->oom_kills;
}

static void maybe_finish(Init *init) {
        if (init->command != 0 || init->out[0].fd >= 0 || init->out[1].fd >= 0 || init->final_event)
                return;
        /* Everything the command wrote is out: now tell the host how it ended. */
        init->final_event = guest_event_exit(init->exit_code, init->exit_signal, oom_struck(init));
        send_final(init);
}

static void on_kill_timer(EventSource *s, usec_t t, void *userdata) {
        (void) kill(-1, SIGKILL);
}

static void on_finish_timer(EventSource *s, usec_t t, void *userdata) {
        Init *init = userdata;
        say(init, "the guest did not wind down in time; powering off");
        guest_poweroff();
}

static void reap(Init *init) {
        for (;;) {
                int status;
                pid_t p = waitpid(-1, &status, WNOHANG);
                if (p <= 0)
                        break;
                if (init->execs && guest_execs_reaped(init->execs, p, status))
                        continue;
                if (p != init->command || init->command == 0)
                        continue;
                init->command = 0;
                if (WIFEXITED(status))
                        init->exit_code = WEXITSTATUS(status);
                else if (WIFSIGNALED(status))
                        init->exit_signal = WTERMSIG(status);
                /* Whatever the command left behind dies with it, as a pid namespace does when
                 * its init exits; their output is read to the end before the exit is told. */
                (void) kill(-1, SIGKILL);
                event_source_set_time(init->finish_timer, now(CLOCK_MONOTONIC) + FINISH_USEC);
        }
        maybe_finish(init);
}

static void on_signal(EventSource *s, const struct signalfd_siginfo *si, void *userdata) {
        Init *init = userdata;

        if (si->ssi_signo == SIGCHLD) {
                reap(init);
                return;
        }
        /* sup-init's own: a SIGPIPE of a write into an exec's stdin that its command has closed
         * (EPIPE tells the writer) is not the workload's to get. */
        if (si->ssi_pid == (uint32_t) getpid())
                return;
        if (init->command > 0)
                (void) kill(init->command, (int) si->ssi_signo);
}

/* QMP's system_powerdown: the ACPI button driver turns the press into KEY_POWER on its input
 * device. The unit is stopped as the host's stop command would, with the unit's stop signal and
 * timeout; the host hears the same exit event. */
static void on_power_button(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Init *init = userdata;
        struct input_event ev[16];
        ssize_t n = read(fd, ev, sizeof(ev));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                say(init, "cannot read the power button: %s", n < 0 ? strerror(errno) : "end of file");
                init->power_button_source = event_source_free(init->power_button_source);
                close(init->power_button);
                init->power_button = -EBADF;
                return;
        }
        for (size_t i = 0; i < (size_t) n / sizeof(ev[0]); i++)
                if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER && ev[i].value == 1) {
                        stage(init, "power button pressed: stopping the command");
                        stop_command(init, init->unit->stop.signal, init->unit->stop.timeout);
                }
}

static void write_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return; /* the host's end is gone: the output is lost, the workload goes on */
                buf += k;
                n -= (size_t) k;
        }
}

/* One read per event, as the process monitor does (workload.h says why), until every writer is
 * gone (EPOLLHUP): then no event comes for what is left, and it is all read now. */
static void on_output(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Output *o = userdata;
        char buf[GUEST_OUTPUT_HEADER + 16384];
        ssize_t n;

        do {
                n = read(fd, buf + GUEST_OUTPUT_HEADER, sizeof(buf) - GUEST_OUTPUT_HEADER);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0)
                        break;
                /* One write per frame: both streams share the port, a frame is never cut in two. */
                if (o->framed) {
                        guest_output_header((uint8_t *) buf, o->stream, (size_t) n);
                        write_all(o->dest, buf, GUEST_OUTPUT_HEADER + (size_t) n);
                } else
                        write_all(o->dest, buf + GUEST_OUTPUT_HEADER, (size_t) n);
        } while (revents & EPOLLHUP);
        if (n > 0)
                return;
        o->source = event_source_free(o->source);
        close(o->fd);
        o->fd = -EBADF;
        maybe_finish(o->init);
}

/* 0 from /dev/null, 1 and 2 to the console: the kernel starts init without any fd when the
 * initramfs has no /dev/console, and a stray write must not land in a file sup-init opened. */
static void setup_stdio(Init *init) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC),
            console = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

        if (null >= 0)
                null = fcntl(null, F_DUPFD_CLOEXEC, 3);
        if (console >= 0)
                console = fcntl(console, F_DUPFD_CLOEXEC, 3);
        if (null >= 0)
                (void) dup2(null, 0);
        if (console >= 0) {
                (void) dup2(console, 1);
                (void) dup2(console, 2);
        }
        init->console = console >= 0 ? console : 2;
}

/* Bytes through unchanged: no \r added to \n, nothing echoed or interpreted. */
static void make_raw(int fd) {
        struct termios t;
        if (isatty(fd) && tcgetattr(fd, &t) >= 0) {
                cfmakeraw(&t);
                (void) tcsetattr(fd, TCSANOW, &t);
        }
}

/* Where the command's stdout and stderr go: the output port (framed: guest-proto.h), else as they
 * are to the virtio console, else to the console sup-init writes to. */
static int open_output(Init *init, const char *port, bool *ret_framed) {
        _cleanup_free_ char *dev = NULL, *path = NULL;
        int fd = -EBADF;

        if (guest_find_port("/sys/class/virtio-ports", port, &dev) >= 0) {
                path = xasprintf("/dev/%s", dev);
                fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        }
        *ret_framed = fd >= 0;
        if (fd < 0)
                fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return init->console;
        make_raw(fd);
        return fd;
}

/* The ACPI power button's evdev node, or -EBADF without one (a kernel without the button driver
 * or evdev, a machine without ACPI): the host then stops the unit by other means. Opened before
 * the command starts, so that a press while it does is not lost (evdev keeps it). */
static int open_power_button(Init *init) {
        _cleanup_free_ char *dev = NULL, *path = NULL;
        int fd, r;

        r = guest_find_input_event("/sys/class/input", "Power Button", &dev);
        if (r < 0) {
                stage(init, "no power button: system_powerdown will go unheard");
                return -EBADF;
        }
        path = xasprintf("/dev/input/%s", dev);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                say(init, "cannot open the power button %s: %s", path, strerror(errno));
        return fd < 0 ? -EBADF : fd;
}

/* This guest was parked for a template (the park command): it is one of many restores of it. A
 * static, as the memory it is in is what the template saved. */
static bool parked;

static json_t *read_run_command(Init *init) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, used = 0;

        for (;;) {
                _cleanup_sup_error_ SupError *error = NULL;
                _cleanup_(guest_command_done) GuestCommand cmd = {};
                json_t *msg;
                int r;

                r = json_read_frame(init->agent_fd, &buf, &len, &used, GUEST_FRAME_MAX, USEC_INFINITY, &msg);
                int64_t received = guest_clock_now();
                if (r == -ECONNRESET) {
                        /* The host's end closed before it sent the unit: wait until it is back. */
                        struct pollfd p = {.fd = init->agent_fd, .events = POLLIN};
                        (void) poll(&p, 1, (int) (RECONNECT_USEC / USEC_PER_MSEC));
                        continue;
                }
                if (r < 0) {
                        (void) send_blocking(init->agent_fd,
                                             guest_event_refused(r == -EMSGSIZE ? "message too long" : "invalid JSON"));
                        if (r == -EMSGSIZE)
                                used = 0;
                        continue;
                }
                if (guest_command_from_json(msg, &cmd, &error) >= 0 && cmd.type == GUEST_CMD_RUN)
                        return msg;
                json_decref(msg);
                if (!error && cmd.type == GUEST_CMD_PARK && guest_have_disks("/sys/block")) {
                        /* virtio_blk is built into this kernel: it probed the builder's
                         * placeholder disks, and every restore would keep their sizes of 0. */
                        (void) send_blocking(init->agent_fd,
                                             guest_event_refused("park: this kernel has probed disks already "
                                                                 "(virtio_blk built in): no template"));
                        continue;
                }
                if (!error && cmd.type == GUEST_CMD_PARK) {
                        /* The template builder saves the machine from here (vm-template.h). */
                        _cleanup_sup_error_ SupError *zero_error = NULL;
                        if (guest_zero_free_memory(&zero_error) < 0)
                                say(init, "%s", sup_error_message(zero_error));
                        /* In every restore of the template from here on: its run must reseed. */
                        parked = true;
                        stage(init, "parked");
                        (void) send_blocking(init->agent_fd, guest_event_parked());
                        continue;
                }
                /* The host sets the clock before it sends the unit (docs/guest.md). */
                if (!error && (cmd.type == GUEST_CMD_CLOCK || cmd.type == GUEST_CMD_CLOCK_ADJUST)) {
                        json_t *answer = clock_command(init, &cmd, received);
                        if (answer)
                                (void) send_blocking(init->agent_fd, answer);
                        continue;
                }
                (void) send_blocking(init->agent_fd, guest_event_refused(error ? sup_error_message(error)
                                                                               : "the unit is not running yet"));
        }
}

/* The run's shares (host directories the host's virtiofsd serves, guest-proto.h), each as a detached
 * virtio-fs mount for guest_build_root() to attach where process isolation binds the mount, in the
 * same order among the tmpfs mounts. nosuid and nodev as process isolation's binds, read-only where
 * the unit says so: the host's virtiofsd serves a read_only source from a read-only mount already
 * (a guest that remounts this one writable gets EROFS from the host); this makes the guest's view
 * say so too. The modules only now: most units have no share. Returns NULL without shares. */
static int *mount_shares(const GuestRun *run, SupError **ret_error) {
        _cleanup_free_ int *fds = NULL;
        int r;

        if (run->n_shares == 0)
                return NULL;
        r = guest_load_modules(GUEST_MODULE_FS, ret_error);
        if (r < 0)
                return NULL;
        fds = xmalloc(sizeof(int) * run->n_shares);
        for (size_t i = 0; i < run->n_shares; i++) {
                const GuestShare *sh = &run->shares[i];
                unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (sh->read_only ? MOUNT_ATTR_RDONLY : 0);

                r = mount_new_fs("virtiofs", sh->tag, NULL, attrs, &fds[i]);
                if (r < 0) {
                        (void) sup_error_errno(ret_error, r,
                                               "cannot mount the host directory for %s (virtio-fs tag %s)", sh->target,
                                               sh->tag);
                        while (i > 0)
                                close(fds[--i]);
                        return NULL;
                }
        }
        return TAKE_PTR(fds);
}

/* Forks the command; returns its pid once it was executed. */
static pid_t start_command(Init *init, const GuestRun *run, const ContainerUser *user, char **env) {
        int out[2], errp[2], status[2];
        uint32_t out_events, err_events;
        char err[WORKLOAD_ERR_MAX + 1];
        ssize_t n = 0;
        pid_t pid;

        if (workload_output_pipe(out, &out_events) < 0 || workload_output_pipe(errp, &err_events) < 0 ||
            pipe2(status, O_CLOEXEC) < 0)
                fail_setup(init, "cannot create the command's pipes");
        /* Watched before the command can write: epoll queues pipes that are readable when added in
         * the order they are added, not in the order they were written to. */
        init->out[0].fd = out[0];
        init->out[1].fd = errp[0];
        if (event_add_io(init->event, &init->out[0].source, out[0], out_events, on_output, &init->out[0]) < 0 ||
            event_add_io(init->event, &init->out[1].source, errp[0], err_events, on_output, &init->out[1]) < 0)
                fail_setup(init, "cannot watch the command's output");
        pid = fork();
        if (pid < 0)
                fail_setup(init, "cannot fork the command");
        if (pid == 0) {
                int r = workload_exec(run->spec, user, env, -EBADF, out[1], errp[1], false, run->rlimits, run->seccomp,
                                      err);
                (void) !write(status[1], err, strlen(err));
                _exit(workload_exit_code(r));
        }
        close(out[1]);
        close(errp[1]);
        close(status[1]);
        /* EOF: the status pipe closed on exec. A message: the command could not be executed. */
        for (;;) {
                ssize_t k = read(status[0], err + n, sizeof(err) - 1 - (size_t) n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += k;
        }
        close(status[0]);
        if (n > 0) {
                int st = 0;

                err[n] = 0;
                (void) waitpid(pid, &st, 0);
                fail_setup_code(init, err, WIFEXITED(st) ? WEXITSTATUS(st) : 126);
        }
        return pid;
}

int main(int argc, char **argv) {
        Init init = {.console = 2, .agent_fd = -EBADF, .vmstat = -EBADF, .power_button = -EBADF};
        _cleanup_(guest_run_done) GuestRun run = {};
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        _cleanup_sup_error_ SupError *boot_error = NULL;
        ContainerUser user;
        json_t *msg;
        int r;

        if (getpid() != 1) {
                fprintf(stderr, "sup-init is PID 1 of sup's hyperv guests and runs nowhere else\n");
                return 1;
        }
        /* As process isolation's init: the workload may not ptrace PID 1, read its memory or
         * open its fds (the agent channel among them) without CAP_SYS_PTRACE. The command is
         * forked non-dumpable and becomes dumpable again with its execve(). */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        r = guest_mount_early(&boot_error);
        setup_stdio(&init);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        init.debug = debug_requested();
        stage(&init, "started");
        /* jansson seeds its hash tables from /dev/urandom on first use, which blocks until the
         * guest's entropy pool is ready: a second or more under TCG without a hardware random
         * number generator. The seed only spreads hash buckets (the messages come from the host,
         * which is trusted); take it from the pool as it is. */
        uint32_t seed = 0;
        if (getrandom(&seed, sizeof(seed), GRND_INSECURE) < 0 || seed == 0)
                seed = (uint32_t) now(CLOCK_MONOTONIC) | 1;
        json_object_seed(seed);
        r = guest_load_modules(GUEST_MODULE_BOOT, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        stage(&init, "modules loaded");
        r = guest_open_port(GUEST_AGENT_PORT, PORT_TIMEOUT_MS, &init.agent_fd, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        stage(&init, "agent port open");
        r = send_blocking(init.agent_fd, guest_event_hello());
        if (r < 0) {
                say(&init, "cannot write to the agent port: %s", strerror(-r));
                guest_poweroff();
        }
        stage(&init, "hello sent");

        msg = read_run_command(&init);
        stage(&init, "run received");
        r = guest_run_from_json(msg, &run, &error);
        json_decref(msg);
        if (r < 0)
                fail_setup(&init, sup_error_message(error));
        /* First: a restored template's guest draws the same random numbers as every other
         * restore of it until the host's bytes are in (vm-template.h). */
        r = guest_reseed(&run, parked, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        const UnitSpec *u = init.unit = run.spec;
        init.run = &run;
        /* The disks' driver only now, so that a template's guest never saw a disk: its probe
         * reads the sizes of the disks the run's machine has. It probes while the output port
         * and the power button are opened; guest_build_root() waits for the disks. */
        r = guest_load_modules(GUEST_MODULE_DISKS, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        if (run.has_network) {
                /* The network card's driver only now: most units have none. Its probe runs
                 * while the root is built; guest_setup_network() waits for the card. */
                r = guest_load_modules(GUEST_MODULE_NETWORK, &boot_error);
                if (r < 0)
                        fail_setup(&init, sup_error_message(boot_error));
                stage(&init, "network modules loaded");
        }

        /* While /sys and /dev are still the initramfs's, with the ports and input devices in them. */
        {
                bool framed;
                int dest = open_output(&init, GUEST_OUTPUT_PORT, &framed);
                init.out[0] = (Output){
                        .init = &init, .fd = -EBADF, .dest = dest, .framed = framed, .stream = GUEST_STREAM_STDOUT};
                init.out[1] = (Output){
                        .init = &init, .fd = -EBADF, .dest = dest, .framed = framed, .stream = GUEST_STREAM_STDERR};
        }
        init.power_button = open_power_button(&init);

        _cleanup_free_ int *share_fds = mount_shares(&run, &boot_error);
        if (run.n_shares > 0 && !share_fds)
                fail_setup(&init, sup_error_message(boot_error));
        r = guest_build_root(&run, ROOT_DIR, share_fds, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        stage(&init, "root built");
        r = guest_setup_network(&run, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        stage(&init, run.has_network ? "eth0 configured" : "loopback up");
        /* Before the root moves: the mount point is the initramfs's, out of the workload's sight. */
        r = guest_cgroup_enter(u->resources.pids, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        /* The workload's /proc is its own to unmount or cover; this one stays sup-init's. */
        init.vmstat = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
        r = guest_switch_root(ROOT_DIR, &boot_error);
        if (r < 0)
                fail_setup(&init, sup_error_message(boot_error));
        stage(&init, "root ready");
        if (u->security.read_only_rootfs && (r = rootfs_make_read_only(&boot_error)) < 0)
                fail_setup_code(&init, sup_error_message(boot_error), workload_exit_code(r));
        r = resolve_user(u->user, &user, &boot_error);
        if (r < 0)
                fail_setup_code(&init, sup_error_message(boot_error), workload_exit_code(r));
        env = workload_env(u, user.home);

        /* Every signal goes through the loop from here on (blocked before the fork, so that none
         * is lost; the command unblocks them). */
        if (event_new(&init.event) < 0)
                fail_setup(&init, "cannot create the event loop");
        for (int sig = 1; sig < SIGRTMIN; sig++)
                if (sig != SIGKILL && sig != SIGSTOP && event_add_signal(init.event, NULL, sig, on_signal, &init) < 0)
                        fail_setup(&init, "cannot watch signals");

        if (init.vmstat >= 0 && guest_read_oom_kills(init.vmstat, &init.oom_kills) < 0) {
                say(&init, "cannot read oom_kill in /proc/vmstat: OOM kills will not be reported");
                close(init.vmstat);
                init.vmstat = -EBADF;
        }
        init.command = start_command(&init, &run, &user, env);
        /* The name process isolation's init has, for ps. */
        (void) prctl(PR_SET_NAME, "sup-init");
        init.execs = guest_execs_new(init.event, &run,
                                     &(GuestExecOwner){.send = exec_send, .say = exec_say, .userdata = &init});
        agent_connect(&init);
        send_event(&init, guest_event_started(init.command));
        stage(&init, "command started");

        if (event_add_time(init.event, &init.kill_timer, USEC_INFINITY, on_kill_timer, &init) < 0 ||
            event_add_time(init.event, &init.finish_timer, USEC_INFINITY, on_finish_timer, &init) < 0)
                fail_setup(&init, "cannot create timers");
        /* Not worth failing the unit over: the host's stop ladder goes on to QMP quit. */
        if (init.power_button >= 0 &&
            event_add_io(init.event, &init.power_button_source, init.power_button, EPOLLIN, on_power_button, &init) < 0)
                say(&init, "cannot watch the power button");
        /* A SIGCHLD that came before the loop's signalfd existed is still pending: nothing lost. */
        (void) event_loop(init.event);
        guest_poweroff();
}
