/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroup.h"
#include "event.h"
#include "macro.h"
#include "sup-error.h"
#include "unit-spec.h"

/* Host directories in a guest: each of the unit's mounts that the guest gets from the host (a bind
 * mount's source) is served by a virtiofsd of its own (Debian's, from qemu-system-common) over a
 * vhost-user socket, and QEMU gives the guest a virtio-fs device for it (tag "sup-fs-N"), which
 * sup-init mounts where process isolation binds the source.
 *
 * One virtiofsd per share, not one per unit: the C virtiofsd serves one directory tree to one
 * device, so one process for several mounts would need a directory of binds behind one tag and a
 * second bind in the guest; per share, each mount's read_only is its own mount's in the host's
 * view, and a process costs about 2 MiB (bench/README.md).
 *
 * Confinement, on top of virtiofsd's own (sandbox=namespace: new mount, pid and net namespaces,
 * pivot_root into the shared directory; its seccomp filter; all capabilities dropped but what
 * serving files with their owners needs, less CAP_MKNOD and CAP_SETFCAP, which it would only need
 * to make device nodes and file capabilities on the host): the instance's cgroup (QEMU's: limits,
 * and cgroup.kill ends it with the machine), and a mount namespace of its own in which the source
 * is the detached, checked copy (open_bind_source(), as process isolation's) of the source, nosuid,
 * nodev, and read-only throughout with read_only, so that a guest (even one whose sup-init is
 * compromised) cannot write to a read_only share: the host refuses with EROFS. */

#define VM_VIRTIOFSD_PATH "/usr/lib/qemu/virtiofsd"
/* What a virtiofsd needs in the instance's cgroup: bench/virtiofs.sh measures about 2 MiB of RSS
 * a process, with up to 64 requests in flight; its page cache is reclaimable. */
#define VM_VIRTIOFSD_OVERHEAD (16ULL << 20)

/* A mount of the unit that the guest gets from the host. */
typedef struct VmShare {
        size_t mount;   /* its index in the spec's mounts */
        char *source;   /* the host path served */
        bool read_only; /* the mount's */
} VmShare;

/* The one place that maps the unit's mounts to the host paths the guest gets (the guest's side of
 * the same list is guest_mount_needs_share()): a bind mount's source. A named volume's directory
 * is resolved here too (the switch on the mount's type). */
int vm_shares_from_spec(const UnitSpec *u, VmShare **ret, size_t *ret_n, SupError **ret_error);
void vm_shares_free(VmShare *s, size_t n);

/* The virtio-fs tag of share i ("sup-fs-0"). */
char *vm_share_tag(size_t i);

typedef struct VmFs VmFs;

/* A virtiofsd died (a signal) or failed (a status other than 0) while the machine ran: reason is a
 * sentence ("virtiofsd for /data died (signal 9)"). One that exits 0 has seen QEMU close its
 * connection, which QEMU does as it ends: not told, QEMU's end is. */
typedef void (*VmFsDied)(const char *reason, void *userdata);

/* Checks and opens the sources of u's shares (the virtiofsds' view of each, made now: a failure
 * is the start's), and their vhost-user sockets (DIR/fs-N.sock, listening): nothing runs yet. */
int vm_fs_prepare(const UnitSpec *u, const char *dir, VmFs **ret, SupError **ret_error);
size_t vm_fs_count(const VmFs *fs);
/* The socket of share i relative to the instance directory (QEMU's working directory). */
const char *vm_fs_socket(const VmFs *fs, size_t i);

/* Starts one virtiofsd per share in cgroup (NULL: the caller's), its stderr on err_fd; each
 * listens on its socket before QEMU connects. */
int vm_fs_start(VmFs *fs, Event *e, const Cgroup *cgroup, int err_fd, VmFsDied died, void *userdata,
                SupError **ret_error);
/* Ends the virtiofsds that still run (SIGKILL): the machine is gone. died is not called. */
void vm_fs_kill(VmFs *fs);
/* The index in the spec's mounts of share i. */
size_t vm_fs_mount(const VmFs *fs, size_t i);
/* The pid of share i's virtiofsd, 0 once it is gone. */
pid_t vm_fs_pid(const VmFs *fs, size_t i);

/* vm_fs_kill(), reaps, and frees. Returns NULL. */
VmFs *vm_fs_free(VmFs *fs);
DEFINE_TRIVIAL_CLEANUP_FUNC(VmFs *, vm_fs_free);
