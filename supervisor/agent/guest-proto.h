/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "exec.h"
#include "rlimits.h"
#include "seccomp-filter.h"
#include "string-table.h"
#include "sup-error.h"
#include "unit-spec.h"

/* The agent protocol between the host (runtime/vm) and sup-init, the guest's PID 1: one JSON
 * object per line on the virtio-serial port named GUEST_AGENT_PORT.
 *
 * guest -> host
 *   {"event":"hello"}                          the port is open; sent once, first
 *   {"event":"parked"}                         the answer to park (below)
 *   {"event":"started","pid":N}                the command was executed (N: its pid in the guest)
 *   {"event":"exit","code":C}                  the command ended (after all its output was written);
 *   {"event":"exit","signal":S}                the guest then powers off; both with "oom":true if the
 *                                              guest kernel's OOM killer struck during the run
 *   {"event":"error","message":"..."}          the unit could not be started; the guest then powers off
 *   {"event":"error","message":"...","code":C} the command's own setup failed as it fails in process
 *                                              isolation (no such program, user or working directory,
 *                                              not executable): C is the exit status it has there (127
 *                                              or 126) and the message is the same
 *   {"event":"ps","processes":[{"pid":N,"comm":"...","args":["..."],...},...]}  the answer to ps
 *                                              (each process as process-list.h has it)
 *   {"event":"refused","message":"..."}        a command that is malformed, unknown or out of turn
 *   {"event":"clock","t1":N,"t2":N,"t3":N}     the answer to clock (below)
 *   {"event":"exec-output","id":N,"stream":"stdout"|"stderr","data":"BASE64"}
 *                                              output of exec N: at most GUEST_EXEC_CHUNK bytes, and
 *                                              at most GUEST_EXEC_WINDOW such events not yet acked;
 *                                              with a terminal, what the terminal shows is "stdout"
 *   {"event":"exec-input-ack","id":N}          one exec-input of exec N is written into its command's
 *                                              stdin (or dropped: the command's stdin is closed)
 *   {"event":"exec-exit","id":N,"code":C}      exec N ended (after all its output event were sent);
 *   {"event":"exec-exit","id":N,"signal":S}    with "error":"..." (and C 126 or 127) when it could not
 *                                              be started, as the workload's setup error has it
 *
 * host -> guest
 *   {"cmd":"park"}
 *        only from the template builder (runtime/vm/vm-template.h), after hello, in place of the
 *        run command: the guest zeroes the memory it has free (so that the saved machine holds no
 *        stale pages, and is small), answers "parked" and goes on waiting for the run command,
 *        which a restored copy of the machine then receives.
 *   {"cmd":"run","spec":{...},"layers":["/dev/vdb",...],"sandbox":"/dev/vdc"}
 *        once, after hello. spec is the unit's canonical JSON (supctl validate --print). layers are
 *        the read-only erofs disks of the image, bottom first, and sandbox the instance's writable
 *        ext4 disk; each is a device path ("/dev/vdb") or the serial of a virtio-blk disk
 *        ("serial=sup-layer-0", -device virtio-blk-...,serial=sup-layer-0), which does not depend
 *        on the order the guest kernel finds its disks in. The host sends nothing else until
 *        "started" or "error".
 *        "entropy":"HEX" (GUEST_ENTROPY_BYTES bytes from the host's getrandom()) is mixed into
 *        the guest's pool, credited, and the pool reseeded before anything else is done with
 *        the run: a guest restored from a template shares its random state with every other
 *        restore of that template until then (vm-template.h).
 *        The spec's "rlimits" holds every resource (runtime/rlimits.h), as the host resolved
 *        them for this run, not only what the unit sets: the guest kernel's defaults differ from
 *        the host's, and the command is to get the numbers process isolation would give it.
 *        With network: bridge, the run command also has
 *          "network":{"mac":"52:54:00:0a:59:05","address":"10.89.0.5","prefix":24,"gateway":"10.89.0.1"}
 *        mac names the guest's network card (lowercase, as the guest's sysfs shows it), which
 *        becomes eth0 with address/prefix, up, and a default route through gateway, as a process
 *        container's eth0 is configured; prefix is 1 to 30, address a host of its network and
 *        gateway another one.
 *        gateway may be absent (no default route). A unit with network: bridge needs this
 *        object, one with network: none must not have it (it has loopback only); network: host
 *        is refused (the guest is a network stack of its own).
 *        With bind mounts, the run command also has
 *          "shares":[{"tag":"sup-fs-0","target":"/data","read_only":true},...]
 *        one per bind mount of the spec (guest_mount_needs_share()), in the order of its mounts,
 *        with that mount's target and read_only: the virtio-fs device (tag: lowercase letters,
 *        digits and '-', at most GUEST_SHARE_TAG_MAX bytes) through which the host's virtiofsd
 *        serves the mount's source (runtime/vm/vm-fs.h). At most GUEST_SHARES_MAX. A bind mount
 *        without its share, a share without its mount, or one whose target or read_only is not
 *        the mount's, is refused: the guest never mounts something other than what the unit says.
 *        Unless the unit has seccomp: unconfined, the run command also has
 *          "seccomp":{"flags":0,"filter":"BASE64"}
 *        the unit's seccomp filter as the host compiled it (runtime/seccomp-compile.h): classic BPF
 *        instructions (struct sock_filter, the host's byte order) in base64, which the command
 *        loads as process isolation's does (workload_exec()). A unit without it is refused, and
 *        so is one with it and seccomp: unconfined: a filter is never silently dropped or added.
 *   {"cmd":"ps"}
 *   {"cmd":"exec","id":N,"argv":["..."],"env":["K=V",...],"user":"...","working_dir":"/..."}
 *        runs a command in the running unit (runtime/exec.h): in its root, set up as the workload is
 *        (workload_exec_request()); env, user and working_dir are optional. N (1 to 2^53) is the
 *        host's, unique among the execs that have not ended; every later event of the exec carries
 *        it. An exec that cannot be taken (malformed with a valid id, too many at once, a duplicate
 *        id) is answered with an exec-exit with code 126 and the reason; one without a usable id
 *        is refused. Only after "started".
 *        With "stream":true (supctl exec), the command's stdin is a pipe fed by exec-input instead
 *        of /dev/null; with "tty":true besides (and "rows","cols": its size, 1 to 65535 each, both or
 *        neither; absent: 24x80), stdin, stdout and stderr are the slave of a new pty of the guest,
 *        which is the controlling terminal of the command's new session, and what the terminal
 *        shows comes as "stdout" exec-output. "tty", "rows" and "cols" are refused without stream.
 *        With "merge_stderr":true instead (health checks), stderr is the stdout pipe: all of the
 *        command's output comes as "stdout", in the order it was written. Refused with stream.
 *   {"cmd":"exec-ack","id":N}
 *        the host has taken one exec-output event of exec N: the guest may send one more. This is
 *        the exec's flow control (docs/guest.md): a command that writes faster than the host reads
 *        waits in its pipe, instead of filling the agent port ahead of the other events.
 *   {"cmd":"exec-input","id":N,"data":"BASE64"}
 *        bytes for the stdin (or the terminal) of streamed exec N: 1 to GUEST_EXEC_CHUNK of them. The
 *        guest holds at most GUEST_EXEC_WINDOW of them per exec, each until its command has taken it
 *        all, then answers exec-input-ack; the host sends one more only for an ack, so that a command
 *        that does not read costs the guest a bounded amount of memory and stalls its own input only.
 *        One beyond the window, after exec-input-close, or for an exec without a stream is refused;
 *        one for an exec that has ended (or was killed) is ignored: the exec may have ended as the
 *        host sent it. Input for a command that has closed its stdin is acked and dropped.
 *   {"cmd":"exec-input-close","id":N}
 *        the end of the input: once what is held is written, the command's stdin pipe is closed (it
 *        reads EOF). With a terminal, nothing is closed (the pty carries the output too): the input
 *        ends, as a terminal's does when nobody types any more.
 *   {"cmd":"exec-resize","id":N,"rows":R,"cols":C}
 *        the new size of exec N's terminal (1 to 65535 each; SIGWINCH for its foreground process
 *        group). Ignored for an exec without a terminal, or that has ended.
 *   {"cmd":"exec-kill","id":N}
 *        SIGKILL to exec N's command, its process group and every process of its session (the
 *        command leads a session of its own), and its output from now on is dropped; the exec-exit
 *        follows as for any end. Ignored for an exec that has ended.
 *   {"cmd":"stop","signal":S,"timeout_ms":T}
 *        sends S to the command; after T ms, every process of the guest is killed (SIGKILL).
 *   {"cmd":"clock","t1":T1}
 *        the host's CLOCK_REALTIME in ns when it sent this (1 to GUEST_CLOCK_NS_MAX), answered at
 *        once with {"event":"clock","t1":T1,"t2":T2,"t3":T3}: the guest's CLOCK_REALTIME when the
 *        command was read and when the answer was written. The host takes its time T4 on reading
 *        the answer and computes the guest's offset as NTP does (guest_clock_sample()). Sent right
 *        after hello (the run command follows the answer, so that the workload starts on the
 *        host's time) and then every few seconds while the guest runs; also taken before "run".
 *   {"cmd":"clock-adjust","offset_ns":O,"step":B}
 *        the guest's clock is O ns ahead of the host's (behind when negative; |O| at most
 *        GUEST_CLOCK_NS_MAX): with step, it is set back by O at once (clock_settime, relative to
 *        the guest's own clock, so the delay of this command does not matter); without, slewed
 *        (adjtimex's single-shot offset, at most 0.5 ms per second, never backwards). Also taken
 *        before "run".
 *
 *   The ACPI power button (QMP system_powerdown) is a stop with the spec's stop.signal and
 *   stop.timeout, answered alike: "exit", then the guest powers off. Of a stop and a press, the
 *   earlier deadline holds.
 *
 *   The command's stdout and stderr (pipes, as in process isolation) go to one port, named
 *   GUEST_OUTPUT_PORT, in frames, or as they are to the console (hvc0, else /dev/console) where the
 *   host did not give it. One port, not one per stream: the host reads a port as a socket, and of
 *   two sockets that both hold data it cannot tell which came first; one port keeps the order in
 *   which sup-init read the pipes (workload.h: the order the command wrote them). */

#define GUEST_AGENT_PORT  "sup.agent"
#define GUEST_OUTPUT_PORT "sup.output"

/* A frame of output: the stream (1 byte, GuestStream), the length of the data (2 bytes, little
 * endian, at most GUEST_OUTPUT_DATA_MAX), the data. */
typedef enum GuestStream {
        GUEST_STREAM_STDOUT = 1,
        GUEST_STREAM_STDERR = 2,
} GuestStream;

#define GUEST_OUTPUT_HEADER   3
#define GUEST_OUTPUT_DATA_MAX 65535U

void guest_output_header(uint8_t ret[GUEST_OUTPUT_HEADER], GuestStream s, size_t n);

/* The host's side: bytes from the port in, each stream's data out through cb, in order, a frame's
 * data perhaps in several pieces (as the reads cut it). -EBADMSG for a header that names no
 * stream: what follows cannot be framed, and the caller gives up on the port. */
typedef struct GuestOutputDecoder {
        uint8_t header[GUEST_OUTPUT_HEADER];
        size_t header_used;
        GuestStream stream;
        size_t left; /* of the current frame's data */
} GuestOutputDecoder;

typedef void (*GuestOutputHandler)(GuestStream s, const char *data, size_t n, void *userdata);
int guest_output_decode(GuestOutputDecoder *d, const char *buf, size_t n, GuestOutputHandler cb, void *userdata);

/* The largest line the host may send: a run command carries a whole unit. */
#define GUEST_FRAME_MAX (1024U * 1024U)

typedef enum GuestCommandType {
        GUEST_CMD_RUN,
        GUEST_CMD_PS,
        GUEST_CMD_STOP,
        GUEST_CMD_EXEC,
        GUEST_CMD_EXEC_ACK,
        GUEST_CMD_EXEC_INPUT,
        GUEST_CMD_EXEC_INPUT_CLOSE,
        GUEST_CMD_EXEC_RESIZE,
        GUEST_CMD_EXEC_KILL,
        GUEST_CMD_CLOCK,
        GUEST_CMD_CLOCK_ADJUST,
        GUEST_CMD_PARK,
        _GUEST_CMD_MAX,
        _GUEST_CMD_INVALID = -EINVAL,
} GuestCommandType;

DECLARE_STRING_TABLE_LOOKUP(guest_command_type, GuestCommandType);

typedef struct GuestCommand {
        GuestCommandType type;
        int signal;                /* stop */
        uint64_t timeout_ms;       /* stop */
        uint64_t id;               /* every exec-* command, and exec's */
        unsigned short rows, cols; /* exec-resize */
        uint8_t *data;             /* exec-input: 1 to GUEST_EXEC_CHUNK bytes, owned */
        size_t n;
        int64_t t1;        /* clock: the host's CLOCK_REALTIME, ns */
        int64_t offset_ns; /* clock-adjust: the guest's clock minus the host's */
        bool step;         /* clock-adjust: set the clock at once, rather than slew it */
} GuestCommand;

/* Which command msg is, and the arguments of ps, stop and the exec-* commands, and exec's id (run:
 * see guest_run_from_json(); exec: guest_exec_from_json()). On error, *ret_error is a message for
 * a "refused" event. guest_command_done() frees what ret holds (either way). */
int guest_command_from_json(const json_t *msg, GuestCommand *ret, SupError **ret_error);
void guest_command_done(GuestCommand *c);

#define GUEST_MAC_STRLEN sizeof("aa:bb:cc:dd:ee:ff")

/* The run command's "network" object: what eth0 gets, as process isolation's
 * net_attachment_configure() gives it to a container. */
typedef struct GuestNetwork {
        char mac[GUEST_MAC_STRLEN]; /* lowercase, as /sys/class/net/IF/address has it */
        struct in_addr address;
        unsigned prefix;
        struct in_addr gateway; /* 0.0.0.0: no default route */
        /* IPv6 beside it ("address6", "prefix6", "gateway6"): both of the first two or neither
         * (a host from before IPv6 sends neither). */
        bool has_address6;
        struct in6_addr address6;
        unsigned prefix6;
        struct in6_addr gateway6; /* ::: no IPv6 default route */
} GuestNetwork;

/* The kernel's limit on a virtio-fs tag (36 bytes, without the NUL). */
#define GUEST_SHARE_TAG_MAX 36U
/* As many as a microvm has virtio-mmio slots left beside its own devices and a small image. */
#define GUEST_SHARES_MAX 16U

/* A mount of the spec that the host serves over virtio-fs: a bind mount's source, or a named
 * volume's directory. */
bool guest_mount_needs_share(const MountSpec *m);

/* The run command's "shares": the virtio-fs device of each mount that needs one. */
typedef struct GuestShare {
        char *tag;
        char *target;
        bool read_only;
} GuestShare;

/* The run command's "entropy" (hex): every guest restored from one template (vm-template.h) has
 * the same random number generator state until the host's bytes are mixed in and reseed it. */
#define GUEST_ENTROPY_BYTES 32U

typedef struct GuestRun {
        UnitSpec *spec;
        char **layers; /* bottom first */
        char *sandbox;
        bool has_network; /* network: bridge; else loopback only */
        GuestNetwork network;
        SeccompProgram *seccomp; /* NULL: seccomp: unconfined */
        RlimitSet rlimits;       /* spec.rlimits, every resource resolved by the host */
        GuestShare *shares;      /* in the order of the spec's mounts that need one */
        size_t n_shares;
        bool has_entropy; /* "entropy": the host's random bytes, for the guest's pool */
        uint8_t entropy[GUEST_ENTROPY_BYTES];
} GuestRun;

void guest_run_done(GuestRun *r);

/* Decodes a run command. The spec becomes a UnitSpec through the canonical form's one decoder,
 * unit_spec_from_json(), as strict as it (an unknown key or a wrong type is refused); the guest
 * acts on its command, env, user, working_dir, hostname, network, mounts, security (seccomp: the
 * mode; the filter is the run command's) and stop. What the guest cannot do the way process
 * isolation does is refused here, never done differently: a bind mount without its share, network: host (the guest is a
 * network stack of its own), and network: bridge without the "network" object (eth0's address is the host's to give).
 */
int guest_run_from_json(const json_t *msg, GuestRun *ret, SupError **ret_error);

/* ---- the guest's wall clock (docs/guest.md) ---- */

/* Beyond it a time or an offset is refused: about the year 2116, and room for the differences. */
#define GUEST_CLOCK_NS_MAX (INT64_C(1) << 62)
/* How far off the guest may be before it is stepped rather than slewed: slewing 50 ms takes 100 s
 * at the kernel's 0.5 ms/s. A sample's own error (half its round trip) counts against it, so that
 * a slow exchange never steps the clock (backwards, perhaps) on a guess. */
#define GUEST_CLOCK_STEP_NS (50 * INT64_C(1000000))
/* A sample is used only if its round trip is at most twice the shortest of the last few, plus
 * this: its offset may be off by half its round trip, and a slow one (the guest's vCPU or the
 * host's loop held up on one way) is off by far more than the clock drifts between two samples
 * (NTP's clock filter picks the shortest round trip for the same reason). */
#define GUEST_CLOCK_DELAY_SLACK_NS (500 * INT64_C(1000))

/* CLOCK_REALTIME in ns: t1 and t4 on the host, t2 and t3 in the guest. */
int64_t guest_clock_now(void);

/* One exchange: the host's t1 (sent) and t4 (answer read), the guest's t2 (read) and t3 (sent). */
typedef struct GuestClockSample {
        int64_t t1, t2, t3, t4;
} GuestClockSample;

/* The guest's clock minus the host's, ((t2 - t1) + (t3 - t4)) / 2, and the round trip without
 * the guest's time in between, (t4 - t1) - (t3 - t2): the offset is exact when both ways take as
 * long, and off by at most half the round trip when they do not. -ERANGE for a sample that cannot
 * be one (a clock stepped during the exchange: a negative round trip). Pure. */
int guest_clock_sample(const GuestClockSample *s, int64_t *ret_offset, int64_t *ret_delay);
typedef enum GuestClockAction {
        GUEST_CLOCK_SKIP, /* the sample's round trip was too long to trust its offset */
        GUEST_CLOCK_SLEW,
        GUEST_CLOCK_STEP,
        _GUEST_CLOCK_ACTION_MAX,
        _GUEST_CLOCK_ACTION_INVALID = -EINVAL,
} GuestClockAction;

/* What to do with a sample, given the shortest round trip of the last few samples (this one's
 * among them). The first (at boot, before the workload runs: nobody sees the clock jump, and the
 * RTC's error of up to a second is worse than any sample's) is stepped whatever its round trip; a
 * later one is skipped when its round trip is over twice the shortest plus
 * GUEST_CLOCK_DELAY_SLACK_NS, stepped when it is off by more than GUEST_CLOCK_STEP_NS even at the
 * near end of its error (the host's own clock was stepped, and a process container sees that step
 * at once), and slewed otherwise. Pure. */
GuestClockAction guest_clock_decide(int64_t offset, int64_t delay, int64_t shortest, bool first);

json_t *guest_clock_to_json(int64_t t1);
json_t *guest_clock_adjust_to_json(int64_t offset_ns, bool step);
json_t *guest_event_clock(int64_t t1, int64_t t2, int64_t t3);
/* The guest's answer, into s (t1, t2, t3; t4 is the caller's). -EBADMSG for a malformed one. */
int guest_clock_event_from_json(const json_t *msg, GuestClockSample *s);

/* The events, as new objects. */
json_t *guest_event_hello(void);
json_t *guest_event_parked(void);
json_t *guest_event_started(pid_t pid);
/* signal > 0: killed by it, code ignored; oom: the guest kernel's OOM killer struck during the run
 * ("oom":true, absent otherwise) */
json_t *guest_event_exit(int code, int signal, bool oom);
json_t *guest_event_error(const char *message);
/* The command's own setup failed (its program, user, working directory), with the exit status
 * process isolation gives that failure (workload_exit_code()). */
json_t *guest_event_setup_error(const char *message, int code);
json_t *guest_event_refused(const char *message);
json_t *guest_event_ps(json_t *processes); /* steals processes */

/* ---- exec (runtime/exec.h) over the agent port ----
 * Bounds: an output event carries at most GUEST_EXEC_CHUNK bytes (about 5.5 KiB of JSON), an exec
 * has at most GUEST_EXEC_WINDOW of them unacknowledged, and at most GUEST_EXEC_MAX execs run at
 * once: so at most GUEST_EXEC_MAX * GUEST_EXEC_WINDOW output events are ever queued ahead of
 * another event of the agent (ps, exit), whatever the commands write. The same window bounds a
 * streamed exec's input the other way: at most GUEST_EXEC_WINDOW exec-input commands of an exec
 * unacknowledged, which the guest holds until its command reads them (GUEST_EXEC_MAX *
 * GUEST_EXEC_WINDOW * GUEST_EXEC_CHUNK bytes at most, whatever the host sends). */
#define GUEST_EXEC_CHUNK  4096U
#define GUEST_EXEC_WINDOW 2U
#define GUEST_EXEC_MAX    16U
#define GUEST_EXEC_ID_MAX (UINT64_C(1) << 53) /* exact in every JSON reader */

/* The exec commands, for the host. req's stream, tty, rows and cols go with it (not its stdio). */
json_t *guest_exec_to_json(uint64_t id, const ExecRequest *req);
json_t *guest_exec_ack_to_json(uint64_t id);
json_t *guest_exec_input_to_json(uint64_t id, const void *data, size_t n); /* 1 to GUEST_EXEC_CHUNK bytes */
json_t *guest_exec_input_close_to_json(uint64_t id);
json_t *guest_exec_resize_to_json(uint64_t id, unsigned short rows, unsigned short cols);
json_t *guest_exec_kill_to_json(uint64_t id);

/* The exec command, decoded by the guest: req's strings are owned. */
typedef struct GuestExec {
        uint64_t id;
        ExecRequest req;
} GuestExec;

/* On error, *ret_error says why; ret->id is the command's id when it had a valid one (0
 * otherwise), for an exec-exit that answers it; guest_exec_done() is needed either way. A tty
 * without a size gets 24x80 (rows and cols are never 0 here). */
int guest_exec_from_json(const json_t *msg, GuestExec *ret, SupError **ret_error);
void guest_exec_done(GuestExec *e);

/* The exec events, for the guest. */
json_t *guest_event_exec_output(uint64_t id, ExecStream stream, const void *data, size_t n);
json_t *guest_event_exec_exit(uint64_t id, const ExecResult *result);
json_t *guest_event_exec_input_ack(uint64_t id);

typedef enum GuestExecEventType {
        GUEST_EXEC_EVENT_OUTPUT,    /* stream, data, n */
        GUEST_EXEC_EVENT_INPUT_ACK, /* one exec-input taken */
        GUEST_EXEC_EVENT_EXIT,      /* result */
        _GUEST_EXEC_EVENT_MAX,
        _GUEST_EXEC_EVENT_INVALID = -EINVAL,
} GuestExecEventType;

/* An exec event, decoded by the host: output, an input's ack, or the end (result; its error is
 * owned here). -EBADMSG for an event that is not one, or is malformed. */
typedef struct GuestExecEvent {
        uint64_t id;
        GuestExecEventType type;
        ExecStream stream;
        uint8_t *data;
        size_t n;
        ExecResult result;
} GuestExecEvent;

int guest_exec_event_from_json(const json_t *msg, GuestExecEvent *ret);
void guest_exec_event_done(GuestExecEvent *e);
