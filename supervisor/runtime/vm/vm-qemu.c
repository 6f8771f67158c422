/* SPDX-License-Identifier: MIT */
#include "vm-qemu.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "guest-proto.h"
#include "macro.h"
#include "string-util.h"
#include "vm-fs.h"

uint64_t vm_guest_memory(const UnitSpec *u) {
        if (u->resources.memory == 0)
                return VM_MEMORY_DEFAULT;
        return MAX(u->resources.memory, VM_MEMORY_MIN);
}

unsigned vm_guest_vcpus(const UnitSpec *u, unsigned host_cpus) {
        unsigned n = u->resources.cpus_milli == 0 ? 1 : (u->resources.cpus_milli + 999) / 1000;
        return MAX(1U, MIN(n, MAX(host_cpus, 1U)));
}

uint64_t vm_cgroup_memory(uint64_t guest_memory, bool tcg, size_t n_shares) {
        return guest_memory + (tcg ? (uint64_t) VM_TCG_TB_MIB << 20 : 0) + VM_QEMU_OVERHEAD +
               n_shares * VM_VIRTIOFSD_OVERHEAD;
}

char *vm_layer_serial(size_t i) {
        return xasprintf("sup-layer-%zu", i);
}

static void add(char ***argv, const char *s) {
        strv_push(argv, xstrdup(s));
}

static void addf(char ***argv, const char *fmt, ...) _printf_(2, 3);
static void addf(char ***argv, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        strv_push(argv, xvasprintf(fmt, ap));
        va_end(ap);
}

/* Free page reporting: the guest's virtio_balloon driver hands back, 2 MiB at a time (its order-9
 * free blocks, the host's transparent huge pages), the RAM it has freed, and QEMU drops it
 * (MADV_DONTNEED, or a hole punched in the memfd of guest RAM shared with virtiofsds). Without it,
 * a guest that once touched its RAM keeps it resident on the host for good: after the kernel's
 * boot (its decompression, the initramfs) and after every burst of the workload. The balloon is
 * never inflated (nothing asks it to): the guest keeps all of its RAM, and what it does when it
 * runs out (its OOM killer) is what it was without the device. */
static void add_memory_devices(char ***argv, const char *bus) {
        add(argv, "-device");
        addf(argv, "virtio-balloon-%s,free-page-reporting=on", bus);
}

/* The kernel, the initramfs and the kernel's command line: what a boot loads. */
static void add_boot(char ***argv, const VmLaunch *l) {
        char tsc[64] = "";

        add(argv, "-kernel");
        add(argv, l->kernel);
        add(argv, "-initrd");
        add(argv, l->initrd);
        add(argv, "-append");
        /* Under TCG, -M microvm hangs about one boot in ten while the kernel calibrates
         * its TSC against timers microvm emulates poorly; TCG's TSC runs at the host's.
         * tsc=reliable: every vCPU reads the host's TSC (QEMU's cpu_get_ticks()), but the
         * kernel's sync check between vCPUs fails under emulation and leaves the guest on
         * jiffies, a clock of 4 ms steps that loses time when the host is busy
         * (docs/guest.md: the wall clock). */
        if (!l->kvm && l->tsc_khz > 0)
                snprintf(tsc, sizeof(tsc), " tsc_early_khz=%" PRIu64 " tsc=reliable", l->tsc_khz);
        /* quiet: warnings and worse reach the console, and so the unit's log (on microvm,
         * one line a boot: "PCI: Fatal: No config space access function found", which
         * pci=off does not silence; the kernel carries on without PCI). */
        /* panic=-1 reboots at once on a panic, and reboot=t by a triple fault, which QEMU
         * turns into a reset and -no-reboot into its exit (the kernel's other reboot
         * methods take seconds on microvm, or hang). */
        addf(argv, "console=ttyS0 quiet panic=-1 reboot=t%s%s", tsc, l->debug ? " sup.debug" : "");
}

int vm_qemu_args(const VmLaunch *l, char ***ret) {
        bool microvm = l->machine == VM_MACHINE_MICROVM;
        /* The virtio transport: memory-mapped on microvm, PCI on q35. */
        const char *bus = microvm ? "device" : "pci";
        char **argv = NULL;

        if (microvm && l->n_layers + l->n_shares > VM_MICROVM_MAX_LAYERS)
                return -E2BIG;

        add(&argv, "-name");
        addf(&argv, "sup-%s,debug-threads=on", l->name);
        add(&argv, "-M");
        /* With shares, guest RAM is a memfd that QEMU shares with the virtiofsds (vhost-user hands
         * them its fd): only then, as private anonymous memory is what QEMU otherwise has. */
        addf(&argv, "%s%s", microvm ? "microvm" : "q35", l->n_shares > 0 ? ",memory-backend=sup-ram" : "");
        if (l->n_shares > 0) {
                add(&argv, "-object");
                addf(&argv, "memory-backend-memfd,id=sup-ram,size=%" PRIu64 "M,share=on", l->memory >> 20);
                /* microvm's virtio-mmio devices are legacy (virtio 0.9) by default, which vhost-user
                 * backends refuse ("virtio legacy devices aren't supported by libvhost-user"). */
                if (microvm) {
                        add(&argv, "-global");
                        add(&argv, "virtio-mmio.force-legacy=false");
                }
        }
        add(&argv, "-nodefaults");
        add(&argv, "-no-user-config");
        add(&argv, "-accel");
        if (l->kvm)
                add(&argv, "kvm");
        else
                addf(&argv, "tcg,tb-size=%u", VM_TCG_TB_MIB);
        if (l->kvm) {
                add(&argv, "-cpu");
                add(&argv, "host");
        }
        add(&argv, "-m");
        addf(&argv, "%" PRIu64 "M", l->memory >> 20);
        add(&argv, "-smp");
        addf(&argv, "%u", l->vcpus);
        add(&argv, "-display");
        add(&argv, "none");
        /* The guest powering off or rebooting (panic=-1 turns a kernel panic into a reboot) ends
         * QEMU: the monitor sees the process exit and says why. */
        add(&argv, "-no-reboot");
        if (l->sandbox) {
                /* QEMU's own seccomp filter: no exec, no setuid, no obsolete system calls, no
                 * changing its scheduling or resource limits. */
                add(&argv, "-sandbox");
                add(&argv, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        }
        /* A restored machine has no kernel to load: the booted kernel is in the guest RAM the
         * stream brings. -kernel would cost QEMU its copy of the kernel file for the machine's
         * lifetime (14 MiB of Debian's cloud kernel, read into a buffer that fw_cfg serves to
         * the firmware at boot) and -initrd a mapping of the initramfs. The template's key is
         * made from the boot's command line (incoming_fd unset), so it still covers both. */
        if (l->incoming_fd <= 0)
                add_boot(&argv, l);
        add(&argv, "-qmp");
        addf(&argv, "unix:%s,server=on,wait=off", l->qmp_path);
        add(&argv, "-chardev");
        addf(&argv, "socket,id=console,fd=%d", l->console_fd);
        add(&argv, "-serial");
        add(&argv, "chardev:console");

        for (size_t i = 0; i < l->n_layers; i++) {
                _cleanup_free_ char *serial = vm_layer_serial(i);
                add(&argv, "-drive");
                /* Read-only, and shared by every instance with the layer: QEMU takes a shared
                 * lock on it, which conflicts only with a writer. */
                addf(&argv, "id=layer%zu,file=%s,format=raw,if=none,readonly=on", i, l->layers[i]);
                add(&argv, "-device");
                addf(&argv, "virtio-blk-%s,drive=layer%zu,serial=%s", bus, i, serial);
        }
        add(&argv, "-drive");
        /* A full host disk is an I/O error for the guest (the workload sees EIO), not a VM that
         * QEMU pauses without a word (its default, werror=enospc). */
        addf(&argv, "id=sandbox,file=%s,format=raw,if=none,werror=report,rerror=report", l->sandbox_disk);
        add(&argv, "-device");
        addf(&argv, "virtio-blk-%s,drive=sandbox,serial=%s", bus, VM_SANDBOX_SERIAL);
        if (l->net_fd >= 0) {
                add(&argv, "-netdev");
                addf(&argv, "tap,id=net0,fd=%d", l->net_fd);
                add(&argv, "-device");
                addf(&argv, "virtio-net-%s,netdev=net0,mac=%s", bus, l->mac);
        }
        for (size_t i = 0; i < l->n_shares; i++) {
                _cleanup_free_ char *tag = vm_share_tag(i);
                add(&argv, "-chardev");
                addf(&argv, "socket,id=fs%zu,path=%s", i, l->share_sockets[i]);
                add(&argv, "-device");
                addf(&argv, "vhost-user-fs-%s,chardev=fs%zu,tag=%s", bus, i, tag);
        }
        /* Without an entropy source the workload's first read of /dev/random waits about a
         * second under TCG (never on the host). */
        add(&argv, "-device");
        addf(&argv, "virtio-rng-%s", bus);
        add_memory_devices(&argv, bus);
        add(&argv, "-device");
        addf(&argv, "virtio-serial-%s", bus);
        {
                const struct {
                        const char *id, *name;
                        int fd;
                } ports[] = {
                        {"agent", GUEST_AGENT_PORT, l->agent_fd},
                        {"output", GUEST_OUTPUT_PORT, l->output_fd},
                };
                for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
                        add(&argv, "-chardev");
                        addf(&argv, "socket,id=%s,fd=%d", ports[i].id, ports[i].fd);
                        add(&argv, "-device");
                        addf(&argv, "virtserialport,chardev=%s,name=%s", ports[i].id, ports[i].name);
                }
        }
        *ret = argv;
        return 0;
}

void vm_qemu_incoming_args(const VmLaunch *l, char ***argv) {
        if (l->incoming_fd <= 0)
                return;
        /* -incoming at start, not "defer": the stream needs no migration capability set first,
         * and QEMU runs the guest as soon as it is loaded (the template was saved running). A
         * stream QEMU cannot load ends it with its reason on stderr (vm.c then boots cold). */
        add(argv, "-incoming");
        addf(argv, "fd:%d", l->incoming_fd);
}

uint64_t vm_tsc_khz_from_cpuinfo(const char *cpuinfo) {
        for (const char *p = cpuinfo; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                const char *colon;
                if (strncmp(p, "cpu MHz", 7) != 0 || !(colon = strchr(p, ':')))
                        continue;
                double mhz = strtod(colon + 1, NULL);
                if (mhz > 0 && mhz < 1e6)
                        return (uint64_t) (mhz * 1000.0);
        }
        return 0;
}
