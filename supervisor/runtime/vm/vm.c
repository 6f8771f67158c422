/* SPDX-License-Identifier: MIT */
#include "vm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "guest-proto.h"
#include "json-conn.h"
#include "macro.h"
#include "path-util.h"
#include "process-util.h"
#include "socket-util.h"
#include "string-util.h"
#include "vm-clock.h"
#include "vm-disk.h"
#include "vm-exec.h"
#include "vm-fs.h"
#include "vm-host.h"
#include "vm-qemu.h"
#include "vm-template.h"
#include "vmm.h"

static const char *const vm_stop_step_table[_VM_STOP_STEP_MAX] = {
        [VM_STOP_NONE] = "none", [VM_STOP_AGENT] = "agent-stop", [VM_STOP_POWERDOWN] = "powerdown",
        [VM_STOP_QUIT] = "quit", [VM_STOP_KILL] = "kill",
};

DEFINE_STRING_TABLE_LOOKUP(vm_stop_step, VmStopStep, _VM_STOP_STEP_MAX);

static const char *const vm_end_table[_VM_END_MAX] = {
        [VM_END_EXITED] = "exited",
        [VM_END_INIT_FAILED] = "guest-init-failed",
        [VM_END_SETUP_FAILED] = "setup-failed",
        [VM_END_PANIC] = "kernel-panic",
        [VM_END_KILLED] = "killed",
        [VM_END_TIMEOUT] = "timeout",
        [VM_END_QEMU_EXITED] = "qemu-exited",
        [VM_END_SHARE_FAILED] = "share-failed",
};

DEFINE_STRING_TABLE_LOOKUP(vm_end, VmEnd, _VM_END_MAX);

/* The last bytes of the serial console, for the reason of a panic. */
#define CONSOLE_TAIL_MAX 8192U
/* After QEMU is reaped, how long its sockets may take to give their last bytes and EOF. */
#define DRAIN_TIMEOUT (2 * USEC_PER_SEC)
/* The VMM creates its control socket a moment after it starts; under TCG on a busy machine, a
 * moment can be long. */
#define CONTROL_CONNECT_TIMEOUT (30 * USEC_PER_SEC)
/* From a kernel panic on the console until QEMU is ended, should the guest's reset not end it. */
#define VM_PANIC_GRACE (3 * USEC_PER_SEC)

typedef enum VmTimer {
        VM_TIMER_NONE,
        VM_TIMER_BOOT,          /* until "started" */
        VM_TIMER_STOP,          /* the current stop step's timeout */
        VM_TIMER_STOP_DEADLINE, /* the agent step's stop.timeout, when the guest kills the command */
        VM_TIMER_DRAIN,         /* QEMU reaped, its sockets not all at EOF */
} VmTimer;

typedef struct VmPsRequest {
        VmPsCallback callback;
        void *userdata;
        struct VmPsRequest *next;
} VmPsRequest;

/* A stream of the guest (console; the command's stdout and stderr, in frames on one port) or
 * QEMU's stderr, into the log. */
typedef struct VmOutput {
        Vm *vm;
        int fd;
        EventSource *source;
        LogStream stream;
        bool console; /* strip CR, keep a tail */
        bool framed;  /* the output port: GuestOutputDecoder into stream and err_stream */
        GuestOutputDecoder decoder;
        LogStream err_stream;
} VmOutput;

enum { OUT_CONSOLE, OUT_COMMAND, OUT_QEMU, OUT_VIRTIOFSD, _OUT_MAX };
/* What QEMU inherits: the console's, the agent's and the output's sockets (in the order it is
 * given them), the tap device (network: bridge), and its own stderr. */
enum { CH_CONSOLE, CH_AGENT, CH_OUTPUT, CH_NET, CH_INCOMING, CH_QEMU, _CH_MAX };
/* A template build, from the start of the builder on (vm-template.h). */
#define VM_TEMPLATE_BUILD_TIMEOUT (300 * USEC_PER_SEC)

struct Vm {
        Event *event;
        VmConfig cfg;
        const Vmm *vmm;
        VmmHost *host;
        char *control_path;
        /* What vm_prepare() found and made for vm_launch(). */
        char *kernel, *initrd, *sandbox;
        char **layers;
        int net_fd; /* the tap, until QEMU has it */
        VmFs *fs;   /* the shares' virtiofsds */
        /* Templates (vm-template.h): the key of this machine's shape (NULL: the machine cannot
         * have one: shares), the template's file when there is one, and a restore under way
         * until the guest's first word proves it took (until then a failure boots cold, with
         * spare_net_fd, the tap kept for that). */
        char *template_key, *template_path;
        bool restoring, restore_confirmed;
        int spare_net_fd;
        pid_t builder;  /* the template builder, a child of the monitor until reaped */
        int builder_fd; /* its word on how it went (a pipe) */
        EventSource *builder_source;
        VmStatus status;
        usec_t stop_timeout;
        int stop_signal;
        usec_t boot_timeout;

        int pidfd;
        EventSource *pidfd_source;
        int qemu_status; /* the wait status, once reaped */
        bool qemu_exited;

        VmmControl *control;
        JsonConn *agent;
        bool agent_closed;
        bool run_sent;
        bool has_network;
        VmPsRequest *ps_head, **ps_tail;
        VmExecs *execs;
        VmClock *clock;

        VmOutput out[_OUT_MAX];
        char console_tail[CONSOLE_TAIL_MAX];
        size_t console_tail_len;
        char qemu_last[512]; /* QEMU's last line on stderr */

        EventSource *timer;
        VmTimer timer_purpose;
        EventSource *panic_timer;

        /* What happened, for the classification. */
        bool started;
        bool has_exit;
        int exit_code, exit_signal;
        bool exit_oom;
        char *init_error;
        int init_error_code; /* the error event's code: the command's setup failed; or -1 */
        bool panicked;
        bool boot_timed_out;
        char *shutdown_reason;
        char *share_failure; /* a virtiofsd ended while the machine ran */
        bool finished;
};

static void finish(Vm *vm);
static void stop_step(Vm *vm, VmStopStep step);
static void template_prepare(Vm *vm);
static void template_build_maybe(Vm *vm);
static bool restore_failed(Vm *vm);
static void on_timer(EventSource *s, usec_t t, void *userdata);

static void arm(Vm *vm, VmTimer purpose, usec_t relative) {
        usec_t when = now(CLOCK_MONOTONIC) + relative;

        vm->timer_purpose = purpose;
        if (!vm->timer)
                (void) event_add_time(vm->event, &vm->timer, when, on_timer, vm);
        else
                event_source_set_time(vm->timer, when);
}

static void disarm(Vm *vm) {
        vm->timer_purpose = VM_TIMER_NONE;
        if (vm->timer)
                event_source_set_time(vm->timer, USEC_INFINITY);
}

static void sup_line(Vm *vm, const char *fmt, ...) _printf_(2, 3);
static void sup_line(Vm *vm, const char *fmt, ...) {
        va_list ap;
        _cleanup_free_ char *s = NULL;

        va_start(ap, fmt);
        s = xvasprintf(fmt, ap);
        va_end(ap);
        log_writer_line(vm->cfg.log, "sup", s, strlen(s));
}

/* ---- output ---- */

static void on_panic_timer(EventSource *s, usec_t t, void *userdata) {
        Vm *vm = userdata;

        if (vm->qemu_exited || vm->status.stop_step >= VM_STOP_QUIT)
                return;
        sup_line(vm, "the guest kernel panicked and the machine did not reset: ending QEMU");
        stop_step(vm, VM_STOP_QUIT);
}

static void console_keep(Vm *vm, const char *data, size_t n) {
        if (n >= CONSOLE_TAIL_MAX) {
                memcpy(vm->console_tail, data + n - CONSOLE_TAIL_MAX, CONSOLE_TAIL_MAX);
                vm->console_tail_len = CONSOLE_TAIL_MAX;
                return;
        }
        if (vm->console_tail_len + n > CONSOLE_TAIL_MAX) {
                size_t drop = vm->console_tail_len + n - CONSOLE_TAIL_MAX;
                memmove(vm->console_tail, vm->console_tail + drop, vm->console_tail_len - drop);
                vm->console_tail_len -= drop;
        }
        memcpy(vm->console_tail + vm->console_tail_len, data, n);
        vm->console_tail_len += n;
}

/* QEMU's stderr: into the log, and its last line kept for the reason of a failure. */
static void qemu_keep(Vm *vm, const char *data, size_t n) {
        size_t end = n;

        while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == '\r'))
                end--;
        if (end == 0)
                return;
        size_t start = end;
        while (start > 0 && data[start - 1] != '\n')
                start--;
        snprintf(vm->qemu_last, sizeof(vm->qemu_last), "%.*s", (int) (end - start), data + start);
}

static void output_close(VmOutput *o) {
        if (o->fd < 0)
                return;
        log_stream_flush(o->vm->cfg.log, &o->stream);
        if (o->framed)
                log_stream_flush(o->vm->cfg.log, &o->err_stream);
        o->source = event_source_free(o->source);
        close(o->fd);
        o->fd = -EBADF;
}

static void on_command_output(GuestStream s, const char *data, size_t n, void *userdata) {
        VmOutput *o = userdata;
        log_stream_feed(o->vm->cfg.log, s == GUEST_STREAM_STDERR ? &o->err_stream : &o->stream, data, n);
}

static bool output_read(VmOutput *o) {
        Vm *vm = o->vm;
        char buf[16384];
        ssize_t n = read(o->fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return false;
        if (n <= 0) {
                output_close(o);
                return false;
        }
        if (o->console) {
                size_t w = 0;
                console_keep(vm, buf, (size_t) n);
                if (!vm->panicked && memmem(vm->console_tail, vm->console_tail_len, "Kernel panic - not syncing",
                                            strlen("Kernel panic - not syncing"))) {
                        /* panic=-1 reboots, and -no-reboot ends QEMU; should the reboot hang, the
                         * machine is ended once the panic's report is out. */
                        vm->panicked = true;
                        (void) event_add_time(vm->event, &vm->panic_timer, now(CLOCK_MONOTONIC) + VM_PANIC_GRACE,
                                              on_panic_timer, vm);
                }
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i] != '\r')
                                buf[w++] = buf[i];
                n = (ssize_t) w;
        } else if (o == &vm->out[OUT_QEMU])
                qemu_keep(vm, buf, (size_t) n);
        if (o->framed) {
                if (guest_output_decode(&o->decoder, buf, (size_t) n, on_command_output, o) < 0) {
                        log_writer_printf(vm->cfg.log, "sup",
                                          "the guest's output port sent a bad frame: "
                                          "its output is not logged from here on");
                        output_close(o);
                }
                return o->fd >= 0;
        }
        log_stream_feed(vm->cfg.log, &o->stream, buf, (size_t) n);
        return true;
}

static bool all_closed(const Vm *vm) {
        for (size_t i = 0; i < _OUT_MAX; i++)
                if (vm->out[i].fd >= 0)
                        return false;
        return vm->agent_closed;
}

static void on_output(EventSource *s, int fd, uint32_t revents, void *userdata) {
        VmOutput *o = userdata;
        Vm *vm = o->vm;

        (void) output_read(o);
        if (vm->qemu_exited && all_closed(vm))
                finish(vm);
}

/* ---- the agent (sup-init) ---- */

static void agent_send(Vm *vm, json_t *msg) {
        if (vm->agent && !vm->agent_closed)
                (void) json_conn_send(vm->agent, msg);
        json_decref(msg);
}

static void exec_send(json_t *msg, void *userdata) {
        agent_send(userdata, msg);
}

static void exec_note(const char *line, void *userdata) {
        sup_line(userdata, "%s", line);
}

static void format_mac(const uint8_t mac[6], char ret[18]) {
        snprintf(ret, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* The run command's "shares" (guest-proto.h): the mounts vm_shares_from_spec() gave a virtiofsd,
 * in the same order. */
static void add_shares(Vm *vm, json_t *run) {
        const UnitSpec *u = vm->cfg.spec;
        json_t *shares;
        size_t n = 0;

        if (vm_fs_count(vm->fs) == 0)
                return;
        shares = json_array();
        for (size_t i = 0; i < u->n_mounts; i++) {
                if (!guest_mount_needs_share(&u->mounts[i]))
                        continue;
                _cleanup_free_ char *tag = vm_share_tag(n++);
                json_array_append_new(shares, json_pack("{s:s, s:s, s:b}", "tag", tag, "target", u->mounts[i].target,
                                                        "read_only", u->mounts[i].read_only));
        }
        json_object_set_new(run, "shares", shares);
}

static void send_run(Vm *vm) {
        json_t *layers = json_array();

        for (size_t i = 0; i < vm->cfg.image->n_layers; i++) {
                _cleanup_free_ char *serial = vm_layer_serial(i);
                json_array_append_new(layers, json_sprintf("serial=%s", serial));
        }
        json_t *run = json_pack("{s:s, s:o, s:o, s:s}", "cmd", "run", "spec", unit_spec_to_json(vm->cfg.spec), "layers",
                                layers, "sandbox", "serial=" VM_SANDBOX_SERIAL);
        json_object_set_new(json_object_get(run, "spec"), "rlimits", rlimits_to_json(vm->cfg.rlimits));
        if (vm->has_network) {
                char mac[18], addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN],
                        gw6[INET6_ADDRSTRLEN];
                json_t *net;

                format_mac(vm->cfg.mac, mac);
                net = json_pack("{s:s, s:s, s:i, s:s}", "mac", mac, "address",
                                inet_ntop(AF_INET, &vm->cfg.address, addr, sizeof(addr)), "prefix",
                                (int) vm->cfg.prefix, "gateway", inet_ntop(AF_INET, &vm->cfg.gateway, gw, sizeof(gw)));
                /* prefix6 0: the host has IPv6 off (net_ipv6_probe()), the guest gets IPv4 only. */
                if (vm->cfg.prefix6 > 0) {
                        json_object_set_new(net, "address6",
                                            json_string(inet_ntop(AF_INET6, &vm->cfg.address6, addr6, sizeof(addr6))));
                        json_object_set_new(net, "prefix6", json_integer(vm->cfg.prefix6));
                        json_object_set_new(net, "gateway6",
                                            json_string(inet_ntop(AF_INET6, &vm->cfg.gateway6, gw6, sizeof(gw6))));
                }
                json_object_set_new(run, "network", net);
        }
        if (vm->cfg.seccomp)
                json_object_set_new(run, "seccomp", seccomp_program_to_json(vm->cfg.seccomp));
        add_shares(vm, run);
        {
                /* Fresh randomness for the guest's pool, which a restored template shares with
                 * every other restore of it (guest-proto.h: entropy). */
                uint8_t e[GUEST_ENTROPY_BYTES];
                char hex[2 * GUEST_ENTROPY_BYTES + 1];
                ssize_t n = getrandom(e, sizeof(e), 0);
                if (n == (ssize_t) sizeof(e)) {
                        for (size_t i = 0; i < sizeof(e); i++)
                                snprintf(hex + 2 * i, 3, "%02x", e[i]);
                        json_object_set_new(run, "entropy", json_string(hex));
                }
                explicit_bzero(e, sizeof(e));
                /* A restored guest without it would run the unit on the template's random
                 * numbers, as every other restore of it does: the start fails instead. */
                if (n != (ssize_t) sizeof(e) && vm->restoring) {
                        json_decref(run);
                        free(vm->init_error);
                        vm->init_error = xasprintf("cannot get random bytes to reseed the restored guest: %s",
                                                   n < 0 ? strerror(errno) : "short read");
                        vm->init_error_code = -1;
                        sup_line(vm, "%s", vm->init_error);
                        vm->run_sent = true;
                        stop_step(vm, VM_STOP_QUIT);
                        return;
                }
        }
        agent_send(vm, run);
        vm->run_sent = true;
}

static void clock_synced(void *userdata) {
        Vm *vm = userdata;

        if (!vm->run_sent)
                send_run(vm);
}

static void ps_answer(Vm *vm, int error, json_t *processes) {
        VmPsRequest *p = vm->ps_head;

        if (!p)
                return;
        vm->ps_head = p->next;
        if (!vm->ps_head)
                vm->ps_tail = &vm->ps_head;
        p->callback(vm, error, processes, p->userdata);
        free(p);
}

/* QEMU has read the whole template: its pages in the page cache would stay charged to this
 * unit's memory cgroup (the first to read them), for as long as they are cached. */
static void template_drop_cache(Vm *vm) {
        _cleanup_close_ int fd = -EBADF;

        if (!vm->template_path)
                return;
        fd = open(vm->template_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static void on_agent_message(JsonConn *c, json_t *msg, void *userdata) {
        Vm *vm = userdata;
        const char *event = json_string_value(json_object_get(msg, "event"));
        /* The restored guest's first word: it runs. */
        bool first_restored = vm->restoring && !vm->restore_confirmed;
        json_t *code;

        if (!event) {
                sup_line(vm, "the guest's agent sent a message without an event; ignored");
                return;
        }
        if (first_restored) {
                vm->restore_confirmed = true;
                if (vm->spare_net_fd >= 0)
                        close(vm->spare_net_fd);
                vm->spare_net_fd = -EBADF;
                sup_line(vm, "template %.12s: restored, the guest answers", vm->template_key);
                template_drop_cache(vm);
        }
        if (streq(event, "hello")) {
                /* The run command follows the clock's first correction (vm-clock.h). */
                if (!vm->run_sent)
                        vm_clock_hello(vm->clock);
        } else if (streq(event, "clock") && first_restored && !vm->run_sent)
                /* The answer to the exchange launch() began when QEMU was spawned: the guest
                 * answered once its state was loaded, a long round trip whose half is the
                 * offset's error (and the clock would be stepped again in the running unit).
                 * The guest runs now: a fresh exchange is a fair one. */
                vm_clock_hello(vm->clock);
        else if (streq(event, "clock"))
                vm_clock_event(vm->clock, msg);
        else if (streq(event, "started")) {
                vm_clock_running(vm->clock);
                vm->started = true;
                vm->status.guest_pid = (pid_t) json_integer_value(json_object_get(msg, "pid"));
                template_build_maybe(vm);
                if (vm->timer_purpose == VM_TIMER_BOOT)
                        disarm(vm);
                if (vm->cfg.callbacks.started)
                        vm->cfg.callbacks.started(vm, vm->cfg.userdata);
        } else if (streq(event, "exit")) {
                json_t *sig = json_object_get(msg, "signal");
                vm->has_exit = true;
                vm->exit_signal = json_is_integer(sig) ? (int) json_integer_value(sig) : 0;
                vm->exit_code = vm->exit_signal ? -1 : (int) json_integer_value(json_object_get(msg, "code"));
                vm->exit_oom = json_is_true(json_object_get(msg, "oom"));
        } else if (streq(event, "error")) {
                free(vm->init_error);
                vm->init_error = xstrdup(json_string_value(json_object_get(msg, "message")) ?: "(no message)");
                code = json_object_get(msg, "code");
                vm->init_error_code = json_is_integer(code) ? (int) json_integer_value(code) : -1;
                if (vm->timer_purpose == VM_TIMER_BOOT)
                        disarm(vm);
        } else if (streq(event, "ps"))
                ps_answer(vm, 0, json_object_get(msg, "processes"));
        else if (streq(event, "exec-output") || streq(event, "exec-input-ack") || streq(event, "exec-exit"))
                vm_execs_event(vm->execs, msg);
        else if (streq(event, "refused") && vm_clock_refused(vm->clock))
                return;
        else if (streq(event, "refused"))
                sup_line(vm, "the guest's agent refused a command: %s",
                         json_string_value(json_object_get(msg, "message")) ?: "(no message)");
        else
                sup_line(vm, "the guest's agent sent an unknown event \"%s\"; ignored", event);
}

static void on_agent_close(JsonConn *c, int error, void *userdata) {
        Vm *vm = userdata;
        const char *why = json_conn_close_reason(c);

        /* A guest agent that speaks nonsense is cut off; the guest is then stopped like a
         * guest that does not answer. */
        if (error != 0 && !vm->qemu_exited)
                sup_line(vm, "the guest's agent channel failed: %s", why ? why : strerror(-error));
        /* The connection frees itself when this returns. */
        vm->agent = NULL;
        vm->agent_closed = true;
        vm_clock_stop(vm->clock);
        while (vm->ps_head)
                ps_answer(vm, -ECONNRESET, NULL);
        vm_execs_fail_all(vm->execs);
        if (vm->qemu_exited && all_closed(vm))
                finish(vm);
}

/* ---- the VMM's control channel (vmm.h) ---- */

static void on_vmm_panicked(void *userdata) {
        Vm *vm = userdata;

        vm->panicked = true;
}

static void on_vmm_shutdown(const char *reason, void *userdata) {
        Vm *vm = userdata;

        free(vm->shutdown_reason);
        vm->shutdown_reason = reason ? xstrdup(reason) : NULL;
}

static void on_vmm_error(const char *message, void *userdata) {
        Vm *vm = userdata;

        if (!vm->qemu_exited)
                sup_line(vm, "%s", message);
}

/* ---- the stop ladder ---- */

static void kill_qemu(Vm *vm) {
        /* The cgroup kill below ends the virtiofsds too, and their pidfds can fire while QEMU still
         * frees the guest's memory: from here on their deaths are the stop's, not a share failure
         * (on_share_died() records its cause before it calls this). */
        vm_fs_kill(vm->fs);
        if (vm->qemu_exited)
                return;
        (void) syscall(SYS_pidfd_send_signal, vm->pidfd, SIGKILL, NULL, 0);
        if (vm->cfg.cgroup)
                (void) cgroup_kill(vm->cfg.cgroup, SIGKILL);
}

static void stop_step(Vm *vm, VmStopStep step) {
        if (vm->qemu_exited)
                return;
        /* A step that cannot be taken is skipped: no agent before the command started, no VMM control (QMP)
         * before the handshake. */
        if (step == VM_STOP_AGENT && (!vm->started || vm->agent_closed))
                step = VM_STOP_POWERDOWN;
        if ((step == VM_STOP_POWERDOWN || step == VM_STOP_QUIT) && !vm->vmm->control_ready(vm->control))
                step = VM_STOP_KILL;
        /* Before the command runs, a graceful stop has nothing to stop. */
        if (step == VM_STOP_POWERDOWN && !vm->started)
                step = VM_STOP_QUIT;

        vm->status.stop_step = step;
        switch (step) {
        case VM_STOP_AGENT:
                sup_line(vm, "stop: asking the guest to send signal %d to the command (%llu ms to end)",
                         vm->stop_signal, (unsigned long long) (vm->stop_timeout / USEC_PER_MSEC));
                agent_send(vm, json_pack("{s:s, s:i, s:I}", "cmd", "stop", "signal", vm->stop_signal, "timeout_ms",
                                         (json_int_t) (vm->stop_timeout / USEC_PER_MSEC)));
                arm(vm, VM_TIMER_STOP_DEADLINE, vm->stop_timeout);
                break;
        case VM_STOP_POWERDOWN:
                sup_line(vm, "stop: the guest is still up; pressing its power button (%s)", vm->vmm->powerdown_how);
                vm->vmm->powerdown(vm->control);
                /* sup-init gives the command stop.timeout after the button too; when it was asked
                 * already (the agent step), what is left is the grace. */
                arm(vm, VM_TIMER_STOP, VM_STOP_GRACE + (vm->started && !vm->agent_closed ? 0 : vm->stop_timeout));
                break;
        case VM_STOP_QUIT:
                sup_line(vm, "stop: ending QEMU (%s)", vm->vmm->quit_how);
                vm->vmm->quit(vm->control);
                arm(vm, VM_TIMER_STOP, VM_QUIT_TIMEOUT);
                break;
        case VM_STOP_KILL:
                sup_line(vm, "stop: killing QEMU (SIGKILL)");
                kill_qemu(vm);
                disarm(vm);
                break;
        case VM_STOP_NONE:
        case _VM_STOP_STEP_MAX:
        case _VM_STOP_STEP_INVALID:
                break;
        }
        if (vm->cfg.callbacks.changed)
                vm->cfg.callbacks.changed(vm, vm->cfg.userdata);
}

void vm_stop(Vm *vm) {
        if (vm->status.stop_step != VM_STOP_NONE || vm->qemu_exited)
                return;
        stop_step(vm, VM_STOP_AGENT);
}

void vm_kill(Vm *vm) {
        if (vm->status.stop_step < VM_STOP_KILL)
                stop_step(vm, VM_STOP_KILL);
}

static void on_timer(EventSource *s, usec_t t, void *userdata) {
        Vm *vm = userdata;
        VmTimer purpose = vm->timer_purpose;

        vm->timer_purpose = VM_TIMER_NONE;
        switch (purpose) {
        case VM_TIMER_BOOT:
                vm->boot_timed_out = true;
                sup_line(vm, "the guest's init did not start the command within %llu s: stopping the machine",
                         (unsigned long long) (vm->boot_timeout / USEC_PER_SEC));
                stop_step(vm, VM_STOP_QUIT);
                return;
        case VM_TIMER_STOP_DEADLINE:
                /* The guest kills it now, on its own timer: the log says so as process isolation's
                 * monitor does when it kills. */
                if (!vm->has_exit)
                        sup_line(vm, "still running after stop.timeout: killing it");
                arm(vm, VM_TIMER_STOP, VM_STOP_GRACE);
                return;
        case VM_TIMER_STOP:
                stop_step(vm, vm->status.stop_step + 1);
                return;
        case VM_TIMER_DRAIN:
                finish(vm);
                return;
        case VM_TIMER_NONE:
                return;
        }
}

/* ---- the end ---- */

/* "Kernel panic - not syncing: <why>" from the console's tail, or NULL. */
static char *panic_line(const Vm *vm) {
        _cleanup_free_ char *tail = xstrndup(vm->console_tail, vm->console_tail_len);
        const char *p = strstr(tail, "Kernel panic - not syncing: ");
        const char *end;

        if (!p)
                return NULL;
        p += strlen("Kernel panic - not syncing: ");
        end = p + strcspn(p, "\r\n");
        return xstrndup(p, (size_t) (end - p));
}

static void classify(Vm *vm, VmExit *ex) {
        _cleanup_free_ char *panic = panic_line(vm);
        int code = wait_status_code(vm->qemu_status);

        *ex = (VmExit){.started = vm->started, .code = -1};
        if (vm->share_failure) {
                /* Set only before the workload's exit was reported (on_share_died()): the cause,
                 * ahead of what the guest made of losing its files. */
                ex->end = VM_END_SHARE_FAILED;
                ex->reason = xasprintf("%s: the machine was ended", vm->share_failure);
        } else if (vm->has_exit) {
                ex->end = VM_END_EXITED;
                ex->code = vm->exit_code;
                ex->signal = vm->exit_signal;
                ex->oom = vm->exit_oom;
        } else if (vm->init_error && vm->init_error_code >= 0) {
                /* What process isolation says of the same unit: its exit status and message. */
                ex->end = VM_END_SETUP_FAILED;
                ex->code = vm->init_error_code;
                ex->reason = xstrdup(vm->init_error);
        } else if (vm->init_error) {
                ex->end = VM_END_INIT_FAILED;
                ex->reason = xasprintf("guest init failed: %s", vm->init_error);
        } else if (vm->panicked || panic) {
                ex->end = VM_END_PANIC;
                ex->reason = xasprintf("kernel panic in the guest: %s (the console is in the log)",
                                       panic ? panic : "QEMU reported GUEST_PANICKED");
        } else if (vm->boot_timed_out) {
                ex->end = VM_END_TIMEOUT;
                ex->reason = xasprintf("timeout: the guest's init did not start the command within %llu s "
                                       "(the console is in the log)",
                                       (unsigned long long) (vm->boot_timeout / USEC_PER_SEC));
        } else if (vm->status.stop_step >= VM_STOP_QUIT && !vm->started) {
                /* Before the command ran, quit is the ladder's first step, not an escalation:
                 * nothing was killed but the boot. */
                ex->end = VM_END_KILLED;
                ex->reason = xasprintf("stopped before the guest started the command: QEMU ended by %s",
                                       vm->status.stop_step == VM_STOP_QUIT ? vm->vmm->quit_how : "SIGKILL");
        } else if (vm->status.stop_step >= VM_STOP_QUIT) {
                ex->end = VM_END_KILLED;
                ex->signal = SIGKILL;
                ex->reason = xasprintf("the guest did not stop: ended by %s",
                                       vm->status.stop_step == VM_STOP_QUIT ? vm->vmm->quit_how : "SIGKILL to QEMU");
        } else if (!WIFEXITED(vm->qemu_status)) {
                ex->end = VM_END_QEMU_EXITED;
                /* What process isolation says of a command killed by a signal ("killed by signal 9"). */
                ex->signal = WTERMSIG(vm->qemu_status);
                ex->reason = xasprintf("QEMU was killed by signal %d%s%s", WTERMSIG(vm->qemu_status),
                                       *vm->qemu_last ? ": " : "", vm->qemu_last);
        } else if (code != 0) {
                ex->end = VM_END_QEMU_EXITED;
                ex->reason = xasprintf("QEMU exited with status %d%s%s", code, *vm->qemu_last ? ": " : "",
                                       *vm->qemu_last ? vm->qemu_last : " (no message)");
        } else {
                ex->end = VM_END_QEMU_EXITED;
                ex->reason = xasprintf("the guest %s without saying how the command ended (QEMU: %s)",
                                       vm->started ? "went away" : "powered off before its init started the command",
                                       vm->shutdown_reason ? vm->shutdown_reason : "no reason given");
        }
}

static void finish(Vm *vm) {
        VmExit ex;

        if (vm->finished)
                return;
        vm->finished = true;
        disarm(vm);
        /* Whatever the sockets still hold belongs in the log. */
        for (size_t i = 0; i < _OUT_MAX; i++) {
                while (vm->out[i].fd >= 0 && output_read(&vm->out[i]))
                        ;
                output_close(&vm->out[i]);
        }
        vm->status.qemu_pid = 0;
        classify(vm, &ex);
        if (vm->cfg.callbacks.exited)
                vm->cfg.callbacks.exited(vm, &ex, vm->cfg.userdata); /* may free vm */
        free(ex.reason);
}

static void on_pidfd(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Vm *vm = userdata;
        siginfo_t si = {};

        if (waitid((idtype_t) P_PIDFD, (id_t) vm->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return;
        vm->pidfd_source = event_source_free(vm->pidfd_source);
        vm->qemu_exited = true;
        vm->qemu_status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : W_EXITCODE(0, si.si_status);
        if (restore_failed(vm))
                return;
        vm->control = vm->vmm->control_free(vm->control);
        /* Nothing is left for them to serve; they would notice, but need not be waited for. */
        vm_fs_kill(vm->fs);
        if (all_closed(vm))
                finish(vm);
        else
                arm(vm, VM_TIMER_DRAIN, DRAIN_TIMEOUT);
}

/* ---- starting ---- */

usec_t vm_boot_timeout(void) {
        const char *e = getenv("SUP_VM_BOOT_TIMEOUT");
        char *end;
        unsigned long sec;

        if (!e || !*e)
                return VM_BOOT_TIMEOUT;
        errno = 0;
        sec = strtoul(e, &end, 10);
        if (errno || *end || sec == 0 || sec > 3600)
                return VM_BOOT_TIMEOUT;
        return (usec_t) sec * USEC_PER_SEC;
}

_noreturn_ static void exec_qemu(const Vm *vm, pid_t parent, char **argv, int err_w, const int *keep, size_t n_keep) {
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        /* The machine lives as long as its monitor, as a process-mode container does: a monitor that
         * dies leaves nobody to supervise, log or stop it, and drops the volumes' locks it holds. */
        child_die_with_parent(parent);
        /* Into the instance's cgroup before QEMU allocates anything, so its limit covers all. */
        if (vm->cfg.cgroup && cgroup_attach(vm->cfg.cgroup, getpid()) < 0)
                _exit(126);
        if (null < 0 || dup2(null, 0) < 0 || dup2(err_w, 1) < 0 || dup2(err_w, 2) < 0)
                _exit(126);
        for (size_t i = 0; i < n_keep; i++) {
                int flags = fcntl(keep[i], F_GETFD);
                if (flags < 0 || fcntl(keep[i], F_SETFD, flags & ~FD_CLOEXEC) < 0)
                        _exit(126);
        }
        child_reset(keep, n_keep);
        /* The control socket (QMP's) is QEMU's to create: 0600 (sockets are made 0777 less the umask), in the
         * instance directory. */
        umask(0177);
        if (chdir(vm->cfg.dir) < 0)
                _exit(126);
        execv(argv[0], argv);
        _exit(EXIT_NOT_INSTALLED);
}

static int make_socketpair(int *ours, int *theirs) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        *ours = sv[0];
        *theirs = sv[1];
        return 0;
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -EBADF;
                }
}

/* The guest kernel and initramfs: the unit's vm.kernel or the provisioned one. Of the provisioned
 * kernel, its ELF (vmlinux, with a PVH entry point) when tools/guest-kernel.sh could extract it:
 * QEMU maps an ELF and loads its segments into guest RAM, where a bzImage (vmlinuz) is copied into
 * a buffer QEMU keeps for the machine's lifetime (14 MiB of private memory), and which the guest
 * then decompresses (about 40 MiB more guest RAM touched). */
static char *provisioned_kernel(const char *guest_dir) {
        char *elf = xasprintf("%s/kernel/current/vmlinux", guest_dir);

        if (access(elf, R_OK) == 0)
                return elf;
        free(elf);
        return xasprintf("%s/kernel/current/vmlinuz", guest_dir);
}

static int find_guest(Vm *vm, SupError **ret_error) {
        const VmConfig *cfg = &vm->cfg;
        _cleanup_free_ char *kernel = NULL, *initrd = NULL;

        kernel = cfg->spec->vm.kernel ? xstrdup(cfg->spec->vm.kernel) : provisioned_kernel(cfg->guest_dir);
        initrd = xasprintf("%s/kernel/current/initramfs.cpio", cfg->guest_dir);
        if (access(kernel, R_OK) < 0) {
                if (cfg->spec->vm.kernel)
                        return sup_error_make(ret_error, -ENOENT, "vm.kernel: cannot read %s: %m", kernel);
                return sup_error_make(ret_error, -ENOENT, "no guest kernel in %s (%m): run tools/guest-kernel.sh %s",
                                      cfg->guest_dir, cfg->guest_dir);
        }
        if (access(initrd, R_OK) < 0)
                return sup_error_make(ret_error, -ENOENT,
                                      "no guest initramfs at %s (%m): run tools/guest-initramfs.sh %s", initrd,
                                      cfg->guest_dir);
        vm->kernel = TAKE_PTR(kernel);
        vm->initrd = TAKE_PTR(initrd);
        return 0;
}

/* The layers' disks are the image step's (cfg->image); the sandbox's is the instance's own. */
static int prepare_disks(Vm *vm, SupError **ret_error) {
        _cleanup_free_ char *sandbox = NULL;
        int r;

        for (size_t i = 0; i < vm->cfg.image->n_layers; i++) {
                const char *disk = vm->cfg.image->layers[i].disk;
                if (!disk)
                        return sup_error_make(ret_error, -EINVAL,
                                              "layer %zu (%s) has no disk: the image was resolved without them", i,
                                              vm->cfg.image->layers[i].dir);
                strv_push(&vm->layers, xstrdup(disk));
        }
        r = mkdir_p(vm->cfg.sandbox_dir, 0700);
        if (r < 0)
                return sup_error_make(ret_error, r, "cannot create the sandbox %s: %s", vm->cfg.sandbox_dir,
                                      strerror(-r));
        sandbox = path_join(vm->cfg.sandbox_dir, "disk.ext4");
        r = vm_sandbox_disk(sandbox, VM_SANDBOX_DISK_SIZE, ret_error);
        if (r < 0)
                return r;
        vm->sandbox = TAKE_PTR(sandbox);
        return 0;
}

/* The guest's RAM as QEMU's cgroup limit allows for, with what the VMM itself needs. */
static int limit_memory(Vm *vm, SupError **ret_error) {
        uint64_t limit;
        int r;

        if (vm->status.memory != vm->cfg.spec->resources.memory && vm->cfg.spec->resources.memory != 0)
                sup_line(vm, "guest RAM %llu MiB: resources.memory is below what the guest kernel needs",
                         (unsigned long long) (vm->status.memory >> 20));
        if (!vm->cfg.cgroup)
                return 0;
        limit = vm_cgroup_memory(vm->status.memory, !vm->status.kvm, vm_fs_count(vm->fs));
        r = cgroup_set_memory_max(vm->cfg.cgroup, limit);
        if (r < 0 && r != -EOPNOTSUPP)
                return sup_error_make(ret_error, r, "cannot limit the memory of QEMU's cgroup to %llu MiB: %s",
                                      (unsigned long long) (limit >> 20), strerror(-r));
        return 0;
}

int vm_prepare(Event *e, const VmConfig *cfg, Vm **ret, SupError **ret_error) {
        _cleanup_(vm_freep) Vm *vm = xzalloc(sizeof(Vm));
        struct sockaddr_un sa;
        int r;

        vm->event = e;
        vm->cfg = *cfg;
        vm->vmm = cfg->vmm ?: vmm_get(NULL);
        vm->net_fd = cfg->net_fd;
        vm->has_network = cfg->net_fd >= 0;
        vm->pidfd = -EBADF;
        vm->spare_net_fd = -EBADF;
        vm->builder_fd = -EBADF;
        vm->ps_tail = &vm->ps_head;
        vm->execs = vm_execs_new(e, &(VmExecsOwner){.send = exec_send, .note = exec_note, .userdata = vm});
        vm->clock = vm_clock_new(e, &(VmClockOwner){.send = exec_send,
                                                    .note = exec_note,
                                                    .synced = clock_synced,
                                                    .userdata = vm,
                                                    .verbose = cfg->debug});
        vm->stop_signal = cfg->spec->stop.signal;
        vm->stop_timeout = cfg->spec->stop.timeout;
        vm->boot_timeout = vm_boot_timeout();
        for (size_t i = 0; i < _OUT_MAX; i++)
                vm->out[i] = (VmOutput){.vm = vm, .fd = -EBADF};
        vm->out[OUT_CONSOLE].stream.name = "console";
        vm->out[OUT_CONSOLE].console = true;
        vm->out[OUT_COMMAND].stream.name = "stdout";
        vm->out[OUT_COMMAND].err_stream.name = "stderr";
        vm->out[OUT_COMMAND].framed = true;
        vm->out[OUT_QEMU].stream.name = "qemu";
        vm->out[OUT_VIRTIOFSD].stream.name = "virtiofsd";
        vm->status.memory = vm_guest_memory(cfg->spec);
        vm->status.vcpus = vm_guest_vcpus(cfg->spec, (unsigned) sysconf(_SC_NPROCESSORS_ONLN));

        vm->control_path = path_join(cfg->dir, vm->vmm->control_socket);
        if (strlen(vm->control_path) >= sizeof(sa.sun_path))
                return sup_error_make(ret_error, -ENAMETOOLONG,
                                      "the %s control socket path %s is longer than a unix socket address allows (%zu "
                                      "bytes): use a shorter --run-dir",
                                      vm->vmm->name, vm->control_path, sizeof(sa.sun_path) - 1);
        r = find_guest(vm, ret_error);
        if (r < 0)
                return r;
        r = vm->vmm->host_open(&(VmmHostRequest){.state_dir = cfg->state_dir,
                                                 .kernel = vm->kernel,
                                                 .unit_accel = cfg->spec->vm.accel,
                                                 .host_accel = cfg->host_accel,
                                                 .log = cfg->log},
                               &vm->host, &vm->status.kvm, ret_error);
        if (r < 0)
                return r;
        r = prepare_disks(vm, ret_error);
        if (r < 0)
                return r;
        r = vm_fs_prepare(cfg->spec, cfg->dir, &vm->fs, ret_error);
        if (r < 0)
                return r;
        r = limit_memory(vm, ret_error);
        if (r < 0)
                return r;
        template_prepare(vm);
        *ret = TAKE_PTR(vm);
        return 0;
}

/* The VMM's command line, for the channels it inherits (theirs[], their numbers in its process).
 * shape: the template's machine (vm-template.h), the instance's names replaced by placeholders. */
static int command_line(Vm *vm, const int theirs[static _CH_MAX], bool shape, char ***ret, SupError **ret_error) {
        _cleanup_free_ const char **sockets = xzalloc(sizeof(char *) * (vm_fs_count(vm->fs) + 1));
        _cleanup_free_ const char **placeholders = xzalloc(sizeof(char *) * (strv_length(vm->layers) + 1));
        _cleanup_free_ char *sandbox = shape ? vm_template_sandbox(vm->cfg.state_dir) : NULL;
        char mac[18];

        for (size_t i = 0; i < vm_fs_count(vm->fs); i++)
                sockets[i] = vm_fs_socket(vm->fs, i);
        for (size_t i = 0; i < strv_length(vm->layers); i++)
                placeholders[i] = VM_TEMPLATE_DISK;
        format_mac(vm->cfg.mac, mac);
        return vm->vmm->command_line(vm->host,
                                     &(VmLaunch){
                                             .name = shape ? VM_TEMPLATE_NAME : vm->cfg.spec->name,
                                             .machine = vm->cfg.spec->vm.machine,
                                             .kvm = vm->status.kvm,
                                             .memory = vm->status.memory,
                                             .vcpus = vm->status.vcpus,
                                             .debug = vm->cfg.debug,
                                             .kernel = vm->kernel,
                                             .initrd = vm->initrd,
                                             .qmp_path = vm->vmm->control_socket,
                                             .layers = shape ? placeholders : (const char *const *) vm->layers,
                                             .n_layers = strv_length(vm->layers),
                                             .sandbox_disk = shape ? sandbox : vm->sandbox,
                                             .console_fd = theirs[CH_CONSOLE],
                                             .agent_fd = theirs[CH_AGENT],
                                             .output_fd = theirs[CH_OUTPUT],
                                             .net_fd = theirs[CH_NET],
                                             .mac = shape ? VM_TEMPLATE_MAC : mac,
                                             .incoming_fd = theirs[CH_INCOMING],
                                             .share_sockets = (const char *const *) sockets,
                                             .n_shares = vm_fs_count(vm->fs),
                                     },
                                     ret, ret_error);
}

/* Our ends and the VMM's of the console, agent and output channels, and of its stderr (a pipe). */
static int open_channels(int ours[static _CH_MAX], int theirs[static _CH_MAX], SupError **ret_error) {
        int p[2], r;

        for (size_t i = 0; i < CH_NET; i++) {
                r = make_socketpair(&ours[i], &theirs[i]);
                if (r < 0)
                        return sup_error_make(ret_error, r, "cannot create the guest's channels: %s", strerror(-r));
        }
        if (pipe2(p, O_CLOEXEC) < 0)
                return sup_error_make(ret_error, negative_errno(), "cannot create a pipe: %m");
        ours[CH_QEMU] = p[0];
        theirs[CH_QEMU] = p[1];
        return 0;
}

/* Forks and executes the VMM with theirs[] (closed here, in this process, either way). */
static int spawn(Vm *vm, char **argv, int theirs[static _CH_MAX], SupError **ret_error) {
        char line[4096] = "";
        size_t w = 0;
        pid_t pid, parent = getpid();
        int r;

        (void) unlink(vm->control_path);
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                close_fds(theirs, _CH_MAX);
                return sup_error_make(ret_error, r, "cannot fork: %m");
        }
        if (pid == 0) {
                int keep[_CH_MAX];
                size_t n_keep = 0;
                for (size_t i = 0; i < CH_QEMU; i++)
                        if (theirs[i] >= 0)
                                keep[n_keep++] = theirs[i];
                exec_qemu(vm, parent, argv, theirs[CH_QEMU], keep, n_keep);
        }
        close_fds(theirs, _CH_MAX);
        vm->status.qemu_pid = pid;
        vm->pidfd = pidfd_open(pid, 0);
        if (vm->pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                vm->status.qemu_pid = 0;
                return sup_error_make(ret_error, r, "cannot open a pidfd for QEMU: %m");
        }
        for (size_t i = 0; argv[i] && w < sizeof(line) - 1; i++)
                w += (size_t) snprintf(line + w, sizeof(line) - w, "%s%s", i ? " " : "", argv[i]);
        sup_line(vm, "QEMU %d: %s", (int) pid, line);
        return 0;
}

/* The running VMM's channels onto the loop: its exit, the logs' streams, the agent's JSON lines,
 * the control socket; and the boot's deadline. */
static void watch(Vm *vm, int ours[static _CH_MAX]) {
        int agent, r;

        (void) event_add_io(vm->event, &vm->pidfd_source, vm->pidfd, EPOLLIN, on_pidfd, vm);
        vm->out[OUT_CONSOLE].fd = TAKE_FD(ours[CH_CONSOLE]);
        vm->out[OUT_COMMAND].fd = TAKE_FD(ours[CH_OUTPUT]);
        vm->out[OUT_QEMU].fd = TAKE_FD(ours[CH_QEMU]);
        agent = TAKE_FD(ours[CH_AGENT]);
        for (size_t i = 0; i < _OUT_MAX; i++) {
                if (vm->out[i].fd < 0)
                        continue;
                (void) fd_set_nonblock(vm->out[i].fd, 1);
                (void) event_add_io(vm->event, &vm->out[i].source, vm->out[i].fd, EPOLLIN, on_output, &vm->out[i]);
        }
        (void) fd_set_nonblock(agent, 1);
        r = json_conn_new(vm->event, agent, GUEST_FRAME_MAX, on_agent_message, on_agent_close, vm, &vm->agent);
        if (r < 0) {
                close(agent);
                vm->agent_closed = true;
        }
        r = vm->vmm->control_open(
                vm->event, vm->control_path, CONTROL_CONNECT_TIMEOUT,
                &(VmmCallbacks){.panicked = on_vmm_panicked, .shutdown = on_vmm_shutdown, .error = on_vmm_error}, vm,
                &vm->control);
        if (r < 0)
                sup_line(vm, "%s: cannot connect to %s: %s (the stop ladder will skip its steps)", vm->vmm->name,
                         vm->control_path, strerror(-r));
        arm(vm, VM_TIMER_BOOT, vm->boot_timeout);
}

static void on_share_died(const char *reason, void *userdata) {
        Vm *vm = userdata;
        siginfo_t si = {};

        /* QEMU's end closes the vhost-user connection, and a virtiofsd may be reaped before QEMU
         * is: a QEMU that has exited (not yet reaped) means the virtiofsd only followed it. */
        if (vm->qemu_exited || vm->finished || vm->share_failure ||
            (waitid((idtype_t) P_PIDFD, (id_t) vm->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) >= 0 && si.si_pid != 0))
                return;
        if (vm->has_exit) {
                /* The workload's end was told already, and the guest is powering off. */
                sup_line(vm, "%s after the command ended", reason);
                return;
        }
        sup_line(vm, "%s: the guest has lost its files; ending QEMU (SIGKILL)", reason);
        vm->share_failure = xstrdup(reason);
        disarm(vm);
        kill_qemu(vm);
}

/* The shares' virtiofsds, listening before QEMU connects; their stderr into the log. */
static int start_shares(Vm *vm, SupError **ret_error) {
        int p[2], r;

        if (vm_fs_count(vm->fs) == 0)
                return 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return sup_error_make(ret_error, negative_errno(), "cannot create a pipe: %m");
        vm->out[OUT_VIRTIOFSD].fd = p[0];
        r = vm_fs_start(vm->fs, vm->event, vm->cfg.cgroup, p[1], on_share_died, vm, ret_error);
        close(p[1]);
        if (r < 0)
                return r;
        for (size_t i = 0; i < vm_fs_count(vm->fs); i++)
                sup_line(vm, "virtiofsd %d for %s (virtio-fs tag sup-fs-%zu)", (int) vm_fs_pid(vm->fs, i),
                         vm->cfg.spec->mounts[vm_fs_mount(vm->fs, i)].target, i);
        return 0;
}

/* ---- templates (vm-template.h) ---- */

/* The template's machine: this one's command line with placeholders, its channels at fixed
 * numbers. */
static int template_argv(Vm *vm, char ***ret, SupError **ret_error) {
        int fixed[_CH_MAX];

        for (size_t i = 0; i < _CH_MAX; i++)
                fixed[i] = -EBADF;
        for (size_t i = CH_CONSOLE; i <= CH_OUTPUT; i++)
                fixed[i] = VM_TEMPLATE_FD_FIRST + (int) i;
        if (vm->has_network)
                fixed[CH_NET] = VM_TEMPLATE_FD_FIRST + CH_NET;
        return command_line(vm, fixed, true, ret, ret_error);
}

/* The key of this machine's shape, and its template if there is one. A machine with shares boots
 * cold: its RAM must be a memfd that QEMU shares with the virtiofsds, and a template's RAM is
 * what the stream brings into QEMU's own memory. */
static void template_prepare(Vm *vm) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_sup_error_ SupError *error = NULL;
        int r;

        if (vm_fs_count(vm->fs) > 0) {
                sup_line(vm, "template: none for a machine with host directories (virtio-fs): booting cold");
                return;
        }
        r = template_argv(vm, &argv, NULL);
        if (r >= 0)
                r = vm_template_key(argv, vm->kernel, vm->initrd, &vm->template_key);
        if (r < 0)
                return;
        r = vm_template_find(vm->cfg.state_dir, vm->template_key, &vm->template_path, &error);
        if (r == -ENOENT)
                sup_line(
                        vm,
                        "template: none yet for this machine (%.12s): booting cold; one is built once the command runs",
                        vm->template_key);
        else if (r < 0)
                sup_line(vm, "template: %s: booting cold", sup_error_message(error));
        /* Its directory's mode keeps any template of it from use: no build either. */
        if (r == -EPERM && !vm->template_path) {
                free(vm->template_key);
                vm->template_key = NULL;
        }
}

/* This monitor's builders, each the leader of its process group (its QEMU in it). left: its
 * run ended before it: it goes on (a unit whose command ends in a second is to get its
 * template too) and is reaped at a later start or build of this monitor's, or killed when the
 * monitor leaves (vm_builders_end()). */
static struct {
        pid_t pid;
        bool left;
} builders[8];

static void reap_builders_left(void) {
        for (size_t i = 0; i < ELEMENTSOF(builders); i++)
                if (builders[i].pid > 0 && builders[i].left && waitpid(builders[i].pid, NULL, WNOHANG) != 0)
                        builders[i].pid = 0;
}

/* The slot of pid (0: a free one), or -1. */
static ssize_t builder_slot(pid_t pid) {
        for (size_t i = 0; i < ELEMENTSOF(builders); i++)
                if (builders[i].pid == pid)
                        return (ssize_t) i;
        return -1;
}

static void leave_builder(pid_t pid) {
        ssize_t i = builder_slot(pid);

        if (i >= 0)
                builders[i].left = true;
}

void vm_builders_end(void) {
        for (size_t i = 0; i < ELEMENTSOF(builders); i++) {
                if (builders[i].pid <= 0)
                        continue;
                if (kill(-builders[i].pid, SIGKILL) < 0)
                        (void) kill(builders[i].pid, SIGKILL);
                (void) waitpid(builders[i].pid, NULL, 0);
                builders[i].pid = 0;
        }
}

static void on_builder(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Vm *vm = userdata;
        char buf[1024];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        buf[MAX(n, 0)] = 0;
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        sup_line(vm, "template %.12s: %s", vm->template_key, n > 0 ? buf : "the builder ended without a word");
        vm->builder_source = event_source_free(vm->builder_source);
        close(vm->builder_fd);
        vm->builder_fd = -EBADF;
        /* It exits right after its word (or has died: end of file); vm_builders_end() may have
         * reaped it already. */
        ssize_t i = builder_slot(vm->builder);
        if (i >= 0) {
                (void) waitpid(vm->builder, NULL, 0);
                builders[i].pid = 0;
        }
        vm->builder = 0;
}

/* Once the command runs, so that the build does not slow the boot it follows: a builder process
 * at a low priority, which dies with the monitor (its QEMU with it) and outlives this run.
 * Off with SUP_VM_TEMPLATES=0 in the environment of supd and its monitors (the tests that do not
 * test templates: a build is a guest's boot of CPU time). */
static void template_build_maybe(Vm *vm) {
        _cleanup_strv_free_ char **argv = NULL;
        pid_t pid, parent = getpid();
        ssize_t slot;
        int p[2];

        if (!vm->template_key || vm->template_path || vm->restoring || vm->builder > 0 ||
            (getenv("SUP_VM_TEMPLATES") && streq(getenv("SUP_VM_TEMPLATES"), "0")))
                return;
        if (vm_template_failed_recently(vm->cfg.state_dir, vm->template_key)) {
                sup_line(vm, "template %.12s: its build failed less than %llu min ago: not building it now",
                         vm->template_key, (unsigned long long) (VM_TEMPLATE_RETRY_AFTER / USEC_PER_MINUTE));
                return;
        }
        reap_builders_left();
        slot = builder_slot(0);
        if (slot < 0 || template_argv(vm, &argv, NULL) < 0 || pipe2(p, O_CLOEXEC) < 0)
                return;
        pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return;
        }
        if (pid == 0) {
                _cleanup_sup_error_ SupError *error = NULL;
                usec_t t = now(CLOCK_MONOTONIC);
                int k = 0;
                (void) setpgid(0, 0);
                child_die_with_parent(parent);
                /* It lives for minutes: none of the monitor's fds (the instance's tap and
                 * sockets, its log, its locks) may stay open that long behind its back. */
                child_reset(&p[1], 1);
                (void) setpriority(PRIO_PROCESS, 0, 10);
                int r = vm_template_build(vm->cfg.state_dir, vm->template_key, argv, vm->has_network,
                                          VM_TEMPLATE_BUILD_TIMEOUT, &error);
                char msg[1024];
                if (r < 0)
                        k = snprintf(msg, sizeof(msg), "building failed: %s\n", sup_error_message(error));
                else
                        k = snprintf(msg, sizeof(msg), "ready (%llu ms to build, or another builder's)\n",
                                     (unsigned long long) ((now(CLOCK_MONOTONIC) - t) / USEC_PER_MSEC));
                (void) !write(p[1], msg, (size_t) MIN(MAX(k, 0), (int) sizeof(msg) - 1));
                _exit(r < 0 ? 1 : 0);
        }
        close(p[1]);
        /* Its group, also when the child has not made it yet: vm_builders_end() kills it. */
        (void) setpgid(pid, pid);
        builders[slot].pid = pid;
        builders[slot].left = false;
        vm->builder = pid;
        vm->builder_fd = p[0];
        sup_line(vm, "template %.12s: building it in the background", vm->template_key);
        (void) event_add_io(vm->event, &vm->builder_source, vm->builder_fd, EPOLLIN, on_builder, vm);
}

static int launch(Vm *vm, SupError **ret_error) {
        _cleanup_strv_free_ char **argv = NULL;
        int ours[_CH_MAX], theirs[_CH_MAX], r;

        for (size_t i = 0; i < _CH_MAX; i++)
                ours[i] = theirs[i] = -EBADF;
        if (vm->template_path) {
                theirs[CH_INCOMING] = open(vm->template_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (theirs[CH_INCOMING] < 0)
                        sup_line(vm, "template: cannot open %s: %m: booting cold", vm->template_path);
                /* Kept for a cold boot, should the restore fail. */
                if (theirs[CH_INCOMING] >= 0 && vm->net_fd >= 0)
                        vm->spare_net_fd = fcntl(vm->net_fd, F_DUPFD_CLOEXEC, 3);
        }
        vm->restoring = theirs[CH_INCOMING] >= 0;
        /* The tap lives as long as QEMU: its fd is QEMU's from here on. */
        theirs[CH_NET] = TAKE_FD(vm->net_fd);
        r = open_channels(ours, theirs, ret_error);
        /* The command line names the shares' sockets only: a unit it refuses starts no virtiofsd. */
        if (r >= 0)
                r = command_line(vm, theirs, false, &argv, ret_error);
        if (r >= 0)
                r = start_shares(vm, ret_error);
        if (r >= 0 && vm->restoring)
                sup_line(vm, "template %.12s: restoring the booted guest", vm->template_key);
        if (r >= 0)
                r = spawn(vm, argv, theirs, ret_error);
        if (r < 0) {
                close_fds(ours, _CH_MAX);
                close_fds(theirs, _CH_MAX);
                return r;
        }
        watch(vm, ours);
        /* A restored sup-init said its hello before it was saved: the clock's first exchange
         * stands for it (and the run command follows the correction, as after a boot). */
        if (vm->restoring)
                vm_clock_hello(vm->clock);
        return 0;
}

int vm_launch(Vm *vm, SupError **ret_error) {
        return launch(vm, ret_error);
}

/* QEMU ended before the restored guest said a word, and nobody asked it to: the template is bad
 * (QEMU said why in the log). It is removed, and the machine boots cold with what it was to run
 * with. false: this was no failed restore. */
static bool restore_failed(Vm *vm) {
        _cleanup_sup_error_ SupError *error = NULL;
        int r;

        if (!vm->restoring || vm->restore_confirmed || vm->status.stop_step != VM_STOP_NONE)
                return false;
        for (size_t i = 0; i < _OUT_MAX; i++) {
                while (vm->out[i].fd >= 0 && output_read(&vm->out[i]))
                        ;
                output_close(&vm->out[i]);
        }
        sup_line(vm, "template %.12s: restoring failed (QEMU: %s): removing it, booting cold", vm->template_key,
                 *vm->qemu_last ? vm->qemu_last : "no message");
        vm_template_remove(vm->cfg.state_dir, vm->template_key);
        free(vm->template_path);
        vm->template_path = NULL;
        json_conn_free(vm->agent);
        vm->agent = NULL;
        vm->agent_closed = false;
        vm->control = vm->vmm->control_free(vm->control);
        if (vm->pidfd >= 0)
                close(vm->pidfd);
        vm->pidfd = -EBADF;
        vm->qemu_exited = false;
        vm->qemu_last[0] = 0;
        vm->status.qemu_pid = 0;
        /* What the failed QEMU's guest did is not the cold boot's: a panic there would otherwise
         * end the new machine (the panic timer) or be its classification. */
        vm->panic_timer = event_source_free(vm->panic_timer);
        vm->panicked = false;
        vm->console_tail_len = 0;
        free(vm->shutdown_reason);
        vm->shutdown_reason = NULL;
        vm->clock = vm_clock_free(vm->clock);
        vm->clock = vm_clock_new(vm->event, &(VmClockOwner){.send = exec_send,
                                                            .note = exec_note,
                                                            .synced = clock_synced,
                                                            .userdata = vm,
                                                            .verbose = vm->cfg.debug});
        vm->net_fd = TAKE_FD(vm->spare_net_fd);
        vm->restoring = false;
        r = launch(vm, &error);
        if (r < 0) {
                sup_line(vm, "%s", sup_error_message(error));
                vm->qemu_exited = true;
                vm->agent_closed = true;
                finish(vm);
        }
        return true;
}

int vm_ps(Vm *vm, VmPsCallback callback, void *userdata) {
        VmPsRequest *p;

        if (!vm->started || vm->agent_closed || vm->qemu_exited)
                return -ENOTCONN;
        p = xzalloc(sizeof(VmPsRequest));
        p->callback = callback;
        p->userdata = userdata;
        *vm->ps_tail = p;
        vm->ps_tail = &p->next;
        agent_send(vm, json_pack("{s:s}", "cmd", "ps"));
        return 0;
}

int vm_signal(Vm *vm, int sig, SupError **ret_error) {
        if (!vm->started || vm->agent_closed || vm->qemu_exited)
                return sup_error_make(ret_error, -ENOTCONN, "the guest's agent is not connected");
        /* sup-init reads a timeout this long as none: its kill timer keeps whatever a stop set. */
        agent_send(vm, json_pack("{s:s, s:i, s:I}", "cmd", "stop", "signal", sig, "timeout_ms",
                                 (json_int_t) (USEC_INFINITY / USEC_PER_MSEC)));
        return 0;
}

int vm_exec(Vm *vm, const ExecRequest *req, const ExecCallbacks *callbacks, void *userdata, VmExec **ret,
            SupError **ret_error) {
        if (!vm->started || vm->agent_closed || vm->qemu_exited)
                return sup_error_make(ret_error, -ENOTCONN, "exec: the guest's agent is not connected");
        return vm_execs_start(vm->execs, req, callbacks, userdata, ret, ret_error);
}

const VmStatus *vm_status(const Vm *vm) {
        return &vm->status;
}

Vm *vm_free(Vm *vm) {
        if (!vm)
                return NULL;
        if (vm->pidfd >= 0 && !vm->qemu_exited) {
                kill_qemu(vm);
                (void) waitid((idtype_t) P_PIDFD, (id_t) vm->pidfd, &(siginfo_t){}, WEXITED);
        }
        while (vm->ps_head)
                ps_answer(vm, -ECANCELED, NULL);
        vm->execs = vm_execs_free(vm->execs);
        vm->clock = vm_clock_free(vm->clock);
        vm->pidfd_source = event_source_free(vm->pidfd_source);
        if (vm->pidfd >= 0)
                close(vm->pidfd);
        vm->vmm->control_free(vm->control);
        vm->vmm->host_free(vm->host);
        if (vm->net_fd >= 0)
                close(vm->net_fd);
        if (vm->spare_net_fd >= 0)
                close(vm->spare_net_fd);
        if (vm->builder > 0)
                leave_builder(vm->builder);
        vm->builder_source = event_source_free(vm->builder_source);
        if (vm->builder_fd >= 0)
                close(vm->builder_fd);
        free(vm->template_key);
        free(vm->template_path);
        free(vm->control_path);
        free(vm->kernel);
        free(vm->initrd);
        free(vm->sandbox);
        strv_free(vm->layers);
        vm->fs = vm_fs_free(vm->fs);
        free(vm->share_failure);
        json_conn_free(vm->agent);
        for (size_t i = 0; i < _OUT_MAX; i++)
                output_close(&vm->out[i]);
        event_source_free(vm->timer);
        event_source_free(vm->panic_timer);
        free(vm->init_error);
        free(vm->shutdown_reason);
        free(vm);
        return NULL;
}
