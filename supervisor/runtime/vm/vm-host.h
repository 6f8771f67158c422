/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sup-error.h"
#include "unit-spec.h"

/* What this host's QEMU can do for hyperv units, found out once and remembered in a cache file
 * (supd's state dir, vm/host.json) until the host kernel, QEMU or the guest kernel changes. */

/* How long a KVM guest may take to show that it boots before KVM is judged not to work. A
 * working KVM gets the kernel to its init in well under a second. */
#define VM_KVM_PROBE_TIMEOUT (8 * USEC_PER_SEC)

typedef struct VmHost {
        char *qemu;        /* qemu-system-x86_64's path */
        bool sandbox;      /* QEMU has -sandbox (it was built with seccomp) */
        int kvm;           /* KVM boots the guest kernel here: 1, 0, or -1 when not probed */
        char *kvm_verdict; /* the probe's finding, for the log and for status */
        uint64_t tsc_khz;  /* for tsc_early_khz= under TCG; 0 when unknown */
} VmHost;

void vm_host_done(VmHost *h);

/* Finds QEMU and what it supports (from the cache at cache_path when it is current). kernel is
 * the guest kernel the KVM probe would boot; it is part of the cache's key. */
int vm_host_detect(const char *cache_path, const char *kernel, VmHost *ret, SupError **ret_error);

/* Whether KVM really runs a guest here: /dev/kvm must open, and QEMU with -accel kvm must boot
 * kernel far enough to print its panic for want of a root file system, within
 * VM_KVM_PROBE_TIMEOUT. (On hosts where /dev/kvm exists but guests hang, as on sup's build
 * machines, the kernel prints nothing.) Sets h->kvm and h->kvm_verdict, and records them in the
 * cache. Blocks for up to the timeout, once per host, kernel and QEMU. */
int vm_host_probe_kvm(VmHost *h, const char *cache_path, const char *kernel);

/* The accelerator for a unit: its own vm.accel, else the host's setting (supd --vm-accel), else
 * (auto) KVM where h->kvm says it works and TCG otherwise. *ret_kvm says which; *ret_why says why
 * (a new string, for the log). needs_probe: auto everywhere and h->kvm unknown; the caller probes
 * and asks again. */
typedef enum VmAccelChoice {
        VM_ACCEL_CHOICE_DONE,
        VM_ACCEL_CHOICE_NEEDS_PROBE,
} VmAccelChoice;
VmAccelChoice vm_accel_choose(VmAccel unit, VmAccel host, const VmHost *h, bool *ret_kvm, char **ret_why);
