/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>

/* What sup-init reads of the guest's kernel: the list of modules to load, the virtio-serial ports
 * and virtio-blk disks in sysfs, the processes in /proc. Every function takes the directory it
 * reads, so that the tests run them on the host against directories of their own. */

/* The modules list the initramfs carries: one file name (NAME.ko, no directory) a line, in load
 * order; blank lines and lines starting with # are skipped. */
int guest_modules_parse(const char *text, char ***ret);

/* The device name ("vport0p1") of the virtio-serial port called name, from the class directory
 * (/sys/class/virtio-ports, one entry per port with a "name" file). -ENOENT: not (yet) there. */
int guest_find_port(const char *class_dir, const char *name, char **ret);

/* The device name ("vdb") of the virtio-blk disk whose serial is serial, from /sys/block (each
 * disk's "serial" file). -ENOENT: not (yet) there. */
int guest_find_disk(const char *block_dir, const char *serial, char **ret);

/* The network interface ("eth0") whose MAC address is mac (lowercase, "aa:bb:cc:dd:ee:ff"), from
 * the class directory (/sys/class/net, each interface's "address" file). -ENOENT: not (yet) there. */
int guest_find_netif(const char *class_dir, const char *mac, char **ret);

/* The event device ("event1", for /dev/input/event1) of the input device called name, from the
 * class directory (/sys/class/input: an "inputN" entry per device, with a "name" file and, once
 * evdev is loaded, an "eventM" subdirectory). The first such device if there are more.
 * -ENOENT: no such device, or it has no event device. */
int guest_find_input_event(const char *class_dir, const char *name, char **ret);

/* The user processes under proc (kernel threads left out), sorted by pid, as process-list.h
 * describes them: [{"pid": N, "comm": "...", "args": ["...", ...], ...}, ...]. A process that
 * ends while it is being read is skipped. */
json_t *guest_ps_collect(const char *proc);
