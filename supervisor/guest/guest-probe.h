/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* What sup-init reads of the guest's kernel: the list of modules to load, the virtio-serial ports
 * and virtio-blk disks in sysfs, the processes in /proc. Every function takes the directory it
 * reads, so that the tests run them on the host against directories of their own. */

/* The modules list the initramfs carries: one file name (NAME.ko, no directory) a line, in load
 * order; blank lines and lines starting with # are skipped. */
int guest_modules_parse(const char *text, char ***ret);

/* When sup-init loads a module of the list: each costs about 13 ms under TCG, so what a guest does
 * not use stays out of the boot's critical path. */
typedef enum GuestModulePhase {
        GUEST_MODULE_BOOT,    /* before the agent port: transports, console, overlay... */
        GUEST_MODULE_DISKS,   /* once the run command came: virtio_blk. A guest restored from a
                               * template (vm-template.h) finds its disks only then, with the
                               * sizes of the restored machine's own files */
        GUEST_MODULE_NETWORK, /* once the run command asks for network: bridge (virtio_net) */
        GUEST_MODULE_FS,      /* once the run command has shares (host directories: fuse, virtiofs) */
        GUEST_MODULE_SKIP,    /* never: the PCI transport on a machine without PCI (microvm) */
} GuestModulePhase;

/* The phase of the module file name (NAME.ko); have_pci: the machine has a PCI bus. */
GuestModulePhase guest_module_phase(const char *name, bool have_pci);

/* Whether the PCI bus has devices, from its sysfs directory (/sys/bus/pci/devices): none on
 * microvm, whose kernel finds no PCI configuration space. */
bool guest_have_pci(const char *devices_dir);

/* Whether the guest has a virtio-blk disk ("vd*" in /sys/block): a template's guest must have
 * none (a kernel with virtio_blk built in probes the placeholder disks, and a restore keeps their
 * sizes of 0). */
bool guest_have_disks(const char *block_dir);

/* The device name ("vport0p1") of the virtio-serial port called name, from the class directory
 * (/sys/class/virtio-ports, one entry per port with a "name" file). -ENOENT: not (yet) there. */
int guest_find_port(const char *class_dir, const char *name, char **ret);

/* The device name ("vdb") of the virtio-blk disk whose serial is serial, from /sys/block (each
 * disk's "serial" file). -ENOENT: not (yet) there. */
int guest_find_disk(const char *block_dir, const char *serial, char **ret);

/* The network interface ("eth0") whose MAC address is mac (lowercase, "aa:bb:cc:dd:ee:ff"), from
 * the class directory (/sys/class/net, each interface's "address" file). -ENOENT: not (yet) there. */
int guest_find_netif(const char *class_dir, const char *mac, char **ret);
/* The first Ethernet interface ("type" 1) of the class directory whose device's driver is
 * virtio_net: the guest has one network card, and a guest restored from a template finds it with
 * the template's MAC address. */
int guest_find_ether(const char *class_dir, char **ret);

/* The event device ("event1", for /dev/input/event1) of the input device called name, from the
 * class directory (/sys/class/input: an "inputN" entry per device, with a "name" file and, once
 * evdev is loaded, an "eventM" subdirectory). The first such device if there are more.
 * -ENOENT: no such device, or it has no event device. */
int guest_find_input_event(const char *class_dir, const char *name, char **ret);

/* The user processes under proc (kernel threads left out), sorted by pid, as process-list.h
 * describes them: [{"pid": N, "comm": "...", "args": ["...", ...], ...}, ...]. A process that
 * ends while it is being read is skipped. */
json_t *guest_ps_collect(const char *proc);

/* The kernel's count of OOM kills since boot ("oom_kill N" in /proc/vmstat, Linux 4.13+), read
 * from fd, an open /proc/vmstat (from its start: it is read again). -ENOENT: the kernel has no
 * such counter. In a guest every process is the unit's, so a count that grew during the run is
 * what a memory cgroup's oom_kill is to process isolation. */
int guest_read_oom_kills(int fd, uint64_t *ret);
