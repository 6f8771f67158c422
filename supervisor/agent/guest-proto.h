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
 *   {"cmd":"run","spec":{...},"layers":["/dev/vdb",...],"sandbox":"/dev/vdc"}
 *        once, after hello. spec is the unit's canonical JSON (supctl validate --print). layers are
 *        the read-only erofs disks of the image, bottom first, and sandbox the instance's writable
 *        ext4 disk; each is a device path ("/dev/vdb") or the serial of a virtio-blk disk
 *        ("serial=sup-layer-0", -device virtio-blk-...,serial=sup-layer-0), which does not depend
 *        on the order the guest kernel finds its disks in. The host sends nothing else until
 *        "started" or "error".
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

/* The events, as new objects. */
json_t *guest_event_hello(void);
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
