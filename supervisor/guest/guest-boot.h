/* SPDX-License-Identifier: MIT */
#pragma once

#include "guest-probe.h"
#include "guest-proto.h"
#include "sup-error.h"
#include "workload.h"

/* The steps of sup-init that only make sense as PID 1 of a guest booted from sup's initramfs.
 * Errors are -errno with a message in *ret_error, for the host's "error" event. */

/* Where the initramfs (tools/guest-initramfs.sh) keeps the modules and their load order. */
#define GUEST_MODULES_DIR  "/lib/modules"
#define GUEST_MODULES_LIST GUEST_MODULES_DIR "/modules.list"

/* /proc, /sys and /dev (devtmpfs) of the initramfs, for sup-init itself. */
int guest_mount_early(SupError **ret_error);

/* Loads the modules of GUEST_MODULES_LIST in order; a module the kernel has already is fine. */
int guest_load_modules(GuestModulePhase phase, SupError **ret_error);

/* Opens /dev/NAME of the virtio-serial port called name (O_RDWR, close-on-exec), waiting up to
 * timeout_ms for the port to show up (the host announces ports after the driver is loaded). */
int guest_open_port(const char *name, unsigned timeout_ms, int *ret, SupError **ret_error);

/* Builds the container's root on target: every layer disk mounted read-only, the sandbox disk
 * read-write, the overlay of them (upper/ and work/ on the sandbox, as process isolation keeps
 * them in its sandbox directory), then /proc, /sys, /dev and the unit's mounts in it exactly as
 * process isolation makes them, and the host name. share_fds: the detached mount of each of
 * run's shares, in order (taken, and closed); NULL when it has none. */
int guest_build_root(const GuestRun *run, const char *target, int *share_fds, SupError **ret_error);

/* Brings up loopback and, with the run command's network object (network: bridge), gives the
 * network card of that MAC address what process isolation gives a container's veth: the name eth0
 * (renamed if the kernel named it otherwise), the address, up, the default route. Runs while /sys
 * is still the initramfs's. */
int guest_setup_network(const GuestRun *run, SupError **ret_error);

/* Makes target the root (the initramfs cannot be pivot_root'ed away: the mount is moved over /
 * and chroot'ed into, like switch_root), after freeing what the initramfs holds. */
int guest_switch_root(const char *target, SupError **ret_error);

/* Mixes the run command's entropy into the guest's pool, credited, and reseeds the kernel's
 * random number generator from it: what a restored template's guest must do before anything
 * draws a random number for the unit (boot_id is drawn on its first read). required: this guest
 * was parked for a template, so every restore of it shares its pool: a run without entropy is
 * refused (-EINVAL) rather than run on the template's random numbers. */
int guest_reseed(const GuestRun *run, bool required, SupError **ret_error);

/* For the template builder's park command: faults in, zeroed, all the memory the guest has free
 * but a reserve, and gives it back, so that free memory is zero pages, which the saved machine
 * does not hold (QEMU's migration stream sends a zero page as a flag) and a restore does not
 * touch. */
int guest_zero_free_memory(SupError **ret_error);

/* sync, then power the virtual machine off. */
_noreturn_ void guest_poweroff(void);
