/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unit-spec.h"
#include "vmm.h"

/* The QEMU command line of a hyperv instance, and how a unit's resources map onto the virtual
 * machine: pure functions, unit-tested without QEMU. */

/* Debian 12's cloud kernel does not get to its init with less (64 MiB: it dies decompressing). */
#define VM_MEMORY_MIN     (128ULL << 20)
/* Guest RAM when the unit sets no resources.memory. */
#define VM_MEMORY_DEFAULT (256ULL << 20)
/* TCG's translation cache (-accel tcg,tb-size=; QEMU's default is 1 GiB). The cache is touched
 * as it fills and stays resident: with 128 MiB, a booted guest held 50 MiB of it. QEMU flushes a
 * full cache and translates again. The kernel's boot translates code it then leaves (3 flushes
 * at 16 MiB, 1 at 32, 11 at 8); what the booted kernel and a busybox workload run afterwards is
 * 11 MiB, which 16 MiB holds without a flush and 8 does not. The boot's CPU time was the same at
 * 8, 16 and 32 within the noise (bench/README.md: vmmem2). A restored guest starts with an empty
 * cache and fills it with what it runs. */
#define VM_TCG_TB_MIB 16U
/* What QEMU itself holds beside guest RAM and the translation cache, resident: its code and
 * libraries (27 MiB, shared with every QEMU), heap, thread arenas, the vCPU's TLBs, stacks
 * (14 MiB), and after a cold boot its copy of the guest kernel (14 MiB for Debian's cloud kernel)
 * and the initramfs's pages (3 MiB; a machine restored from a template has neither):
 * bench/hyperv.sh measures 58 MiB after a cold boot, 41 MiB restored. The limit leaves room above
 * the cold boot's. */
#define VM_QEMU_OVERHEAD (80ULL << 20)
/* microvm has 24 virtio-mmio slots: the serial device, entropy source, balloon (free page
 * reporting), sandbox disk and network card take five; the layers' disks and the shares' virtio-fs
 * devices share the rest. */
#define VM_MICROVM_MAX_LAYERS 19U

/* Guest RAM for u: resources.memory (at least VM_MEMORY_MIN), else VM_MEMORY_DEFAULT. */
uint64_t vm_guest_memory(const UnitSpec *u);
/* vCPUs: resources.cpus rounded up (1.5 -> 2), at most host_cpus; 1 when unset. */
unsigned vm_guest_vcpus(const UnitSpec *u, unsigned host_cpus);
/* The memory limit of the QEMU process's cgroup: guest RAM, the translation cache under TCG,
 * VM_QEMU_OVERHEAD, and VM_VIRTIOFSD_OVERHEAD per share (its virtiofsd is in the cgroup too), so
 * that QEMU is not OOM-killed by its own limit. */
uint64_t vm_cgroup_memory(uint64_t guest_memory, bool tcg, size_t n_shares);

/* VmLaunch is vmm.h's: what a machine is made of, for any VMM's command line. */

/* The arguments after the program name, NULL-terminated (a strv); -E2BIG when microvm has no
 * slot for that many layers and shares. */
int vm_qemu_args(const VmLaunch *l, char ***ret);

/* Appends what restores the machine from l->incoming_fd (when > 0) rather than boot it: the
 * migration stream of a template (vm-template.h). Apart, so that the template's key, made from
 * the rest of the command line, never includes it. */
void vm_qemu_incoming_args(const VmLaunch *l, char ***argv);

/* The serial of the disk of layer i ("sup-layer-0"), as the guest finds it in /sys/block. */
char *vm_layer_serial(size_t i);
#define VM_SANDBOX_SERIAL "sup-sandbox"

/* The host's TSC frequency in kHz from /proc/cpuinfo's text ("cpu MHz : 2596.124"), 0 if absent. */
uint64_t vm_tsc_khz_from_cpuinfo(const char *cpuinfo);
