/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/types.h>

#include <jansson.h>

#include "cgroup.h"
#include "event.h"
#include "exec.h"
#include "image.h"
#include "log-writer.h"
#include "seccomp-filter.h"
#include "string-table.h"
#include "sup-error.h"
#include "unit-spec.h"
#include "vm-exec.h"
#include "vmm.h"

/* One hyperv instance: a VMM process (QEMU; vmm.h is the seam) running the unit's image in a
 * virtual machine whose PID 1 is sup-init (supervisor/guest/), on the monitor's event loop.
 *
 * vm_prepare() prepares what the machine needs (the guest kernel and initramfs, the accelerator,
 * the sandbox disk, QEMU's memory limit; the layer disks come with the image); vm_launch() starts
 * QEMU in the instance's cgroup, with QMP on DIR/qmp.sock (0600) and four connected sockets it
 * inherits: the serial console, and
 * the virtio-serial ports of the agent, the command's stdout and its stderr. The console, stdout,
 * stderr and QEMU's own stderr go to the unit's log (streams "console", "stdout", "stderr",
 * "qemu"). sup-init says hello on the agent port; the run command answers it; "started" makes the
 * instance running. The workload's exit comes over the agent port, then the guest powers off and
 * QEMU exits; exited() then reports how it all ended, classified (VmEnd).
 *
 * With bind mounts, a virtiofsd per mount (vm-fs.h) runs beside QEMU, in its cgroup, from before
 * QEMU starts until it has exited; its stderr goes to the log (stream "virtiofsd"). One that ends
 * while the machine runs ends the machine (VM_END_SHARE_FAILED).
 *
 * vm_stop() climbs the stop ladder, one step at a time, each with its own timeout, until QEMU has
 * exited: ask sup-init to signal the workload (stop.signal, stop.timeout) -> QMP system_powerdown
 * (sup-init treats the ACPI power button like a stop request) -> QMP quit -> SIGKILL. */

typedef struct Vm Vm;

/* Until sup-init has started the command (or said why it cannot). Boots take about 2 s under TCG
 * on the build machines. The environment variable SUP_VM_BOOT_TIMEOUT (seconds, 1-3600) of supd
 * and its monitors overrides it, for slow hosts and for the tests. */
#define VM_BOOT_TIMEOUT (60 * USEC_PER_SEC)
usec_t vm_boot_timeout(void);
/* The guest's time to report the exit and power off once its stop.timeout has passed. */
#define VM_STOP_GRACE (3 * USEC_PER_SEC)
/* QMP quit: QEMU exits at once unless it is stuck. */
#define VM_QUIT_TIMEOUT (5 * USEC_PER_SEC)

typedef enum VmStopStep {
        VM_STOP_NONE,
        VM_STOP_AGENT,     /* sup-init was asked to signal the workload */
        VM_STOP_POWERDOWN, /* QMP system_powerdown */
        VM_STOP_QUIT,      /* QMP quit */
        VM_STOP_KILL,      /* SIGKILL to QEMU */
        _VM_STOP_STEP_MAX,
        _VM_STOP_STEP_INVALID = -EINVAL,
} VmStopStep;

DECLARE_STRING_TABLE_LOOKUP(vm_stop_step, VmStopStep);

typedef enum VmEnd {
        VM_END_EXITED,       /* the workload ended: code or signal */
        VM_END_INIT_FAILED,  /* sup-init could not start the command (its message) */
        VM_END_SETUP_FAILED, /* the command's own setup failed: code and reason as in process isolation */
        VM_END_PANIC,        /* the guest kernel panicked */
        VM_END_KILLED,       /* the stop ladder had to end QEMU (quit or SIGKILL) */
        VM_END_TIMEOUT,      /* sup-init did not start the command within VM_BOOT_TIMEOUT */
        VM_END_QEMU_EXITED,  /* QEMU ended otherwise: it failed, or the guest went away silently */
        VM_END_SHARE_FAILED, /* a share's virtiofsd ended while the machine ran (vm-fs.h): QEMU was ended */
        _VM_END_MAX,
        _VM_END_INVALID = -EINVAL,
} VmEnd;

DECLARE_STRING_TABLE_LOOKUP(vm_end, VmEnd);

typedef struct VmExit {
        VmEnd end;
        bool started; /* the command had been started */
        int code;     /* VM_END_EXITED: the exit status, -1 if killed by a signal; VM_END_SETUP_FAILED:
                       * 127 or 126 (workload_exit_code()); otherwise -1 */
        int signal;   /* VM_END_EXITED: the signal; VM_END_KILLED: SIGKILL; VM_END_QEMU_EXITED: the
                       * signal that ended QEMU; otherwise 0 */
        bool oom;     /* VM_END_EXITED: the guest kernel's OOM killer struck during the run */
        char *reason; /* a sentence, NULL for VM_END_EXITED */
} VmExit;

typedef struct VmStatus {
        pid_t qemu_pid;  /* 0 once it has exited */
        pid_t guest_pid; /* the command's pid in the guest, 0 before "started" */
        bool kvm;
        uint64_t memory; /* guest RAM, bytes */
        unsigned vcpus;
        VmStopStep stop_step;
} VmStatus;

typedef struct VmCallbacks {
        void (*started)(Vm *vm, void *userdata);
        /* The stop ladder took a step. */
        void (*changed)(Vm *vm, void *userdata);
        /* QEMU has exited and its output is all in the log. The owner may vm_free() here. */
        void (*exited)(Vm *vm, const VmExit *exit, void *userdata);
} VmCallbacks;

typedef struct VmConfig {
        const UnitSpec *spec;
        const Image *image;            /* its layers, with their disks (image.h) */
        const char *dir;               /* the instance's run directory: qmp.sock, QEMU's working directory */
        const char *state_dir;         /* supd's: vm/host.json */
        const char *sandbox_dir;       /* the instance's sandbox: disk.ext4 */
        const char *guest_dir;         /* kernel/current/{vmlinux,vmlinuz,initramfs.cpio} (tools/guest-kernel.sh) */
        const Vmm *vmm;                /* NULL: vmm_get(NULL), QEMU */
        VmAccel host_accel;            /* supd --vm-accel */
        bool debug;                    /* sup.debug on the guest's command line */
        const Cgroup *cgroup;          /* QEMU's; NULL: the caller's */
        const SeccompProgram *seccomp; /* the command's filter, for the guest to load; NULL: none */
        const struct rlimit *rlimits;  /* the command's limits, every resource resolved (rlimits.h) */
        /* network: bridge: the tap device (the Vm owns it from vm_prepare() on, also on failure;
         * -1: none) and what the guest gives its eth0. */
        int net_fd;
        uint8_t mac[6];
        struct in_addr address;
        unsigned prefix;
        struct in_addr gateway;
        struct in6_addr address6;
        unsigned prefix6;
        struct in6_addr gateway6;
        LogWriter *log;
        VmCallbacks callbacks;
        void *userdata;
} VmConfig;

/* Makes the Vm and what its machine needs; nothing runs yet. On failure nothing is left (the
 * tap's fd closed too). cfg's strings, spec, image, cgroup, seccomp and log must outlive the Vm. */
int vm_prepare(Event *e, const VmConfig *cfg, Vm **ret, SupError **ret_error);
/* Starts QEMU; returns once it runs, the rest is asynchronous. On failure nothing runs (the Vm
 * is then only to be freed). */
int vm_launch(Vm *vm, SupError **ret_error);

/* Starts the stop ladder (a second call does nothing). */
void vm_stop(Vm *vm);
/* The ladder's last step at once: SIGKILL to QEMU. */
void vm_kill(Vm *vm);

/* The guest's processes, from sup-init: processes is [{"pid","comm","args"}...] (borrowed), or
 * error < 0 (-ENOTCONN: the guest is not up; -ECONNRESET: it went away). Answered in order. */
typedef void (*VmPsCallback)(Vm *vm, int error, json_t *processes, void *userdata);
int vm_ps(Vm *vm, VmPsCallback callback, void *userdata);

/* Has sup-init send sig to the guest's command (the agent's stop command without a deadline: the
 * stop ladder is not started). -ENOTCONN when the command has not started or the agent is gone. */
int vm_signal(Vm *vm, int sig, SupError **ret_error);

/* Runs a command in the running guest (runtime/exec.h), through sup-init (guest-proto.h: exec):
 * a stream's stdio relayed by vm-exec.h, with end-to-end backpressure. *ret is the handle until
 * its exited() has returned, for vm_exec_cancel() and vm_exec_resize() (vm-exec.h). -ENOTCONN
 * when the guest's command has not started or the agent is gone; req is used during the call
 * only. When the agent goes away (the guest powers off, or vm_free()), execs still running get
 * exited() with code -1 and signal SIGKILL. */
int vm_exec(Vm *vm, const ExecRequest *req, const ExecCallbacks *callbacks, void *userdata, VmExec **ret,
            SupError **ret_error);

const VmStatus *vm_status(const Vm *vm);

/* Kills QEMU if it still runs (SIGKILL) and frees everything; pending ps callbacks get
 * -ECANCELED, running execs exited() (as above). Returns NULL. */
Vm *vm_free(Vm *vm);

/* Kills and reaps this process's template builders, their QEMUs with them (each builder is a
 * process group): for a monitor about to leave its cgroup (driver.h: leave). */
void vm_builders_end(void);
DEFINE_TRIVIAL_CLEANUP_FUNC(Vm *, vm_free);
