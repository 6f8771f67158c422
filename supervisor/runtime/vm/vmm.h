/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "log-writer.h"
#include "sup-error.h"
#include "unit-spec.h"

/* The virtual machine monitor behind a Vm (vm.h), as a table of functions (the shape of
 * cgroup-internal.h's CgroupBackend): how it is found on the host and which accelerator it uses,
 * its command line, and its control channel with the two steps of the stop ladder that are the
 * VMM's (the guest's power button, and ending the VMM). vm.c keeps what is the same for any VMM:
 * the guest's kernel and initramfs, the disks, the agent and output channels, the order and the
 * timeouts of the stop ladder, how the end is told. QEMU (vmm-qemu.c: vm-qemu.c's command line,
 * qmp.c's QMP) is the one entry of vmm_get(); another VMM is a file and an entry there. */

typedef struct VmmHost VmmHost;       /* what the VMM found on this host (its program, its features) */
typedef struct VmmControl VmmControl; /* the control channel to one running VMM */

/* What a machine is made of, for the VMM's command line. */
typedef struct VmLaunch {
        const char *name; /* the unit's */
        VmMachine machine;
        bool kvm;        /* else TCG */
        uint64_t memory; /* bytes */
        unsigned vcpus;
        uint64_t tsc_khz; /* TCG: the host's TSC frequency for tsc_early_khz=, 0: unknown (the VMM's host) */
        bool sandbox;     /* QEMU has -sandbox (built with seccomp) (the VMM's host) */
        bool debug;       /* sup.debug on the kernel command line: sup-init tells each step */
        const char *kernel;
        const char *initrd;
        const char *qmp_path;      /* the control socket, relative to the VMM's working directory */
        const char *const *layers; /* disk image files, bottom layer first */
        size_t n_layers;
        const char *sandbox_disk;
        /* Connected stream sockets the VMM inherits (their numbers in its process): the serial
         * console, and the agent and output (stdout and stderr) virtio-serial ports. */
        int console_fd, agent_fd, output_fd;
        /* network: bridge: the tap device's fd (-1: no network card) and the card's MAC. */
        int net_fd;
        const char *mac;
        /* > 0: the machine is restored from the stream of a template (vm-template.h) read from
         * this fd, rather than booted; the rest of the command line must be the template's, but
         * for the kernel and initramfs, which a restored machine does not load. */
        int incoming_fd;
        /* The vhost-user sockets of the shares' virtiofsds (vm-fs.h), relative to the working
         * directory; share i is the virtio-fs device of tag vm_share_tag(i). Guest RAM is then
         * shared memory, which virtiofsd maps to reach the guest's buffers. */
        const char *const *share_sockets;
        size_t n_shares;
} VmLaunch;

/* What the control channel tells vm.c. */
typedef struct VmmCallbacks {
        void (*panicked)(void *userdata); /* the guest reported a panic */
        void (*shutdown)(const char *reason,
                         void *userdata); /* the machine is shutting down (the VMM's cause, or NULL) */
        void (*error)(const char *message, void *userdata); /* the channel failed, or refused a step */
} VmmCallbacks;

typedef struct VmmHostRequest {
        const char *state_dir; /* supd's: where what the VMM learnt about the host is kept */
        const char *kernel;    /* the guest kernel (a probe of the accelerator boots it) */
        VmAccel unit_accel;    /* the unit's vm.accel */
        VmAccel host_accel;    /* supd --vm-accel */
        LogWriter *log;        /* notes ("sup"): the accelerator and why */
} VmmHostRequest;

typedef struct Vmm {
        const char *name;
        /* The control socket's name in the instance directory (its path must fit a unix socket
         * address), which is the VMM's working directory. */
        const char *control_socket;
        /* The two steps of the stop ladder as the log names them ("QMP quit"). */
        const char *powerdown_how;
        const char *quit_how;

        /* Finds the VMM and what it supports, and chooses the accelerator: *ret_kvm. */
        int (*host_open)(const VmmHostRequest *req, VmmHost **ret, bool *ret_kvm, SupError **ret_error);
        VmmHost *(*host_free)(VmmHost *h);
        /* The program and its arguments for the machine, NULL-terminated (a strv). */
        int (*command_line)(const VmmHost *h, const VmLaunch *l, char ***ret, SupError **ret_error);

        /* Connects to the control socket of a VMM that has just started (it creates the socket a
         * moment later: within timeout). Callbacks never run from within the calls below. */
        int (*control_open)(Event *e, const char *path, usec_t timeout, const VmmCallbacks *cb, void *userdata,
                            VmmControl **ret);
        bool (*control_ready)(const VmmControl *c); /* the steps below can be taken */
        void (*powerdown)(VmmControl *c);           /* presses the guest's power button (ACPI) */
        void (*quit)(VmmControl *c);                /* asks the VMM to exit */
        /* Also when the VMM has exited: the channel is then closed without a word. */
        VmmControl *(*control_free)(VmmControl *c);
} Vmm;

/* The VMM by name; NULL: the default (QEMU). NULL when there is none of that name. */
const Vmm *vmm_get(const char *name);
