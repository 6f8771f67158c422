/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "sup-error.h"
#include "time-util.h"

/* Templates: a guest booted ahead of time, with nothing of any unit in it, saved, so that a
 * hyperv start restores a booted machine instead of booting a kernel (docs/hyperv.md, "Starting
 * from a template"; Firecracker restores snapshots, Kata clones VMs from a booted template).
 *
 * A template is the QEMU migration stream of a machine whose sup-init has loaded the drivers of
 * its transports, console, agent port and file systems, said hello, and been parked by the
 * builder (guest-proto.h: park) where it waits for the run command: it has read no disk (the
 * virtio_blk and virtio_net drivers are loaded after the run command, so their probe reads the
 * restored machine's own disks and card), holds no spec, no environment, no address, no secret.
 * The restored QEMU gets the unit's own disks, tap and channels on its command line and the
 * stream with -incoming; each has its own private copy of guest RAM (the stream is read into
 * QEMU's anonymous memory), never memory shared with another unit. What the stream carries of the
 * template and the unit must not keep is replaced by the guest after the restore: the MAC address
 * of the card (the guest sets the unit's), the random number generator (the run command's
 * entropy, then a reseed), the clock (the host's clock exchange steps it before the run).
 *
 * STATE/vm/templates/ (0700, root) holds KEY.state (0600) and KEY.size (its size in bytes, for a
 * truncation check before QEMU is given it); KEY is the SHA-256 of everything that shapes the
 * machine or the guest: QEMU's program, the kernel and initramfs (path, size, mtime, inode), and
 * the VMM's whole command line for the machine with the instance's own names replaced by
 * placeholders (so that a device or option added to the command line changes the key too). A
 * start finds the template of its own key or boots cold; a stale template is simply never found
 * again, and the next build replaces its files. */

#define VM_TEMPLATE_DIR "vm/templates"
/* What the builder's machine is given in place of the unit's disks and MAC address, and what
 * the key is computed with. */
#define VM_TEMPLATE_DISK "/dev/null"
/* The writable sandbox disk's placeholder: an empty file of the directory's (QEMU's write lock on
 * it would conflict with the layers' shared locks on /dev/null). */
#define VM_TEMPLATE_SANDBOX "sandbox.empty"
#define VM_TEMPLATE_MAC     "02:00:00:00:00:00"
#define VM_TEMPLATE_NAME    "template"
/* The fds the VMM gets its channels at, in the builder and in the key: console, agent, output, tap. */
#define VM_TEMPLATE_FD_FIRST 3

/* The key of a machine: argv is the VMM's command line (program first) with the placeholders
 * above; kernel and initrd are the guest's files. -errno when one of them cannot be stat'ed. */
int vm_template_key(char *const *argv, const char *kernel, const char *initrd, char **ret);

/* The template's file for key if one is there and sound (the directory 0700 and the file 0600,
 * both root's, the file as long as KEY.size says): 0 and its path; -ENOENT when there is none;
 * another -errno with a message when one is there but unusable (it is then removed). */
int vm_template_find(const char *state_dir, const char *key, char **ret_path, SupError **ret_error);

/* STATE/vm/templates/sandbox.empty, for the command line of the template's machine. */
char *vm_template_sandbox(const char *state_dir);

/* After a failed build, the key is not built again for this long (KEY.failed has the time): a
 * unit that crash-loops on a machine whose build fails would start a builder at every start. */
#define VM_TEMPLATE_RETRY_AFTER (600 * USEC_PER_SEC)

/* Stamps key's build as failed now (KEY.failed). */
void vm_template_mark_failed(const char *state_dir, const char *key);

/* Whether key's build failed less than VM_TEMPLATE_RETRY_AFTER ago. */
bool vm_template_failed_recently(const char *state_dir, const char *key);

/* Removes the template of key (a restore from it failed). */
void vm_template_remove(const char *state_dir, const char *key);

/* Removes what killed builders (their monitor gone) left: KEY.build/ and KEY.state.tmp of every
 * key whose KEY.lock nobody holds. vm_template_build() does it first. */
void vm_template_sweep(const char *state_dir);

/* Builds the template of key, blocking (a worker process's, never an event loop's): runs argv
 * (its channels at VM_TEMPLATE_FD_FIRST on, a tap of its own, detached from any bridge, when
 * has_net), waits for sup-init's hello, parks it, saves the machine with QMP migrate to a file
 * descriptor and ends QEMU. Within timeout (µs). While another builder of the same key (a lock
 * in the directory) works, this waits for it; a template that is there is not built again; builds
 * of other keys go one at a time (timeout counts from this one's turn). */
int vm_template_build(const char *state_dir, const char *key, char *const *argv, bool has_net, usec_t timeout,
                      SupError **ret_error);
