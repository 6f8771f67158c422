/* SPDX-License-Identifier: MIT */
#include "vm-host.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"
#include "vm-qemu.h"

#define QEMU_BINARY "qemu-system-x86_64"

void vm_host_done(VmHost *h) {
        free(h->qemu);
        free(h->kvm_verdict);
        *h = (VmHost) {.kvm = -1};
}

static char *find_in_path(const char *name) {
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");

        for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                char *p = path_join(dir, name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/* What the cached findings depend on: the host kernel, the QEMU binary and the guest kernel. */
static char *cache_key(const char *qemu, const char *kernel) {
        struct utsname u;
        struct stat q = {}, k = {};

        (void) uname(&u);
        (void) stat(qemu, &q);
        (void) stat(kernel, &k);
        return xasprintf("%s|%s:%lld:%lld|%s:%lld:%lld", u.release, qemu, (long long) q.st_size,
                         (long long) q.st_mtime, kernel, (long long) k.st_size, (long long) k.st_mtime);
}

static void cache_write(const char *cache_path, const char *key, const VmHost *h) {
        json_t *j = json_pack("{s:s, s:b}", "key", key, "sandbox", h->sandbox);
        char *s;

        if (h->kvm >= 0) {
                json_object_set_new(j, "kvm", json_boolean(h->kvm));
                json_object_set_new(j, "kvm_verdict", json_string(h->kvm_verdict ? h->kvm_verdict : ""));
        }
        s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        json_decref(j);
        if (s) {
                _cleanup_free_ char *dir = path_dirname(cache_path);
                (void) mkdir_p(dir, 0755);
                (void) write_file_atomic(cache_path, s, strlen(s), 0644);
        }
        free(s);
}

/* Fills h from the cache if its key matches; 0 when it did. */
static int cache_read(const char *cache_path, const char *key, VmHost *h) {
        _cleanup_free_ char *text = NULL;
        json_t *j, *kvm;
        int r;

        r = read_full_file(cache_path, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        j = json_loads(text, 0, NULL);
        if (!j)
                return -EINVAL;
        if (!json_is_string(json_object_get(j, "key")) || !streq(json_string_value(json_object_get(j, "key")), key) ||
            !json_is_boolean(json_object_get(j, "sandbox"))) {
                json_decref(j);
                return -ESTALE;
        }
        h->sandbox = json_is_true(json_object_get(j, "sandbox"));
        kvm = json_object_get(j, "kvm");
        if (json_is_boolean(kvm)) {
                h->kvm = json_is_true(kvm);
                h->kvm_verdict = xstrdup(json_string_value(json_object_get(j, "kvm_verdict")) ?: "");
        }
        json_decref(j);
        return 0;
}

int vm_host_detect(const char *cache_path, const char *kernel, VmHost *ret, SupError **ret_error) {
        _cleanup_free_ char *key = NULL, *cpuinfo = NULL;
        VmHost h = {.kvm = -1};
        int r;

        h.qemu = find_in_path(QEMU_BINARY);
        if (!h.qemu)
                return sup_error_make(ret_error, -ENOENT, "cannot find %s in PATH (apt-get install qemu-system-x86)",
                                      QEMU_BINARY);
        key = cache_key(h.qemu, kernel);
        if (cache_read(cache_path, key, &h) < 0) {
                char *argv[] = {h.qemu, (char *) "-help", NULL};
                _cleanup_free_ char *help = NULL;
                int status = run_program(argv, NULL, NULL, 10 * USEC_PER_SEC, 256 * 1024, &help);
                if (status < 0 || wait_status_code(status) != 0) {
                        r = sup_error_make(ret_error, status < 0 ? status : -EIO, "%s -help failed: %s", h.qemu,
                                           status < 0 ? strerror(-status) : "exit status");
                        vm_host_done(&h);
                        return r;
                }
                h.sandbox = strstr(help, "\n-sandbox ") != NULL;
                cache_write(cache_path, key, &h);
        }
        if (read_full_file("/proc/cpuinfo", 1024 * 1024, &cpuinfo, NULL) >= 0)
                h.tsc_khz = vm_tsc_khz_from_cpuinfo(cpuinfo);
        *ret = h;
        return 0;
}

int vm_host_probe_kvm(VmHost *h, const char *cache_path, const char *kernel) {
        _cleanup_free_ char *key = cache_key(h->qemu, kernel), *output = NULL;
        /* No initrd and no disk: the kernel boots until it finds no root file system, panics, and
         * with panic=-1 and -no-reboot that ends QEMU. Its messages on the serial port (stdout)
         * show it ran. */
        char *argv[] = {h->qemu, (char *) "-M", (char *) "microvm", (char *) "-nodefaults", (char *) "-no-user-config",
                        (char *) "-accel", (char *) "kvm", (char *) "-cpu", (char *) "host", (char *) "-m", (char *) "128M",
                        (char *) "-display", (char *) "none", (char *) "-no-reboot", (char *) "-serial", (char *) "stdio",
                        (char *) "-kernel", (char *) kernel, (char *) "-append",
                        (char *) "console=ttyS0 panic=-1 root=/dev/sup-kvm-probe", NULL};
        usec_t t0 = now(CLOCK_MONOTONIC);
        int fd, status;

        free(h->kvm_verdict);
        fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                h->kvm = 0;
                h->kvm_verdict = xasprintf("/dev/kvm: %s", strerror(errno));
                /* Not cached: /dev/kvm may appear (a module loaded, a permission granted). */
                return 0;
        }
        close(fd);
        status = run_program(argv, NULL, NULL, VM_KVM_PROBE_TIMEOUT, 64 * 1024, &output);
        if (output && strstr(output, "Kernel panic")) {
                h->kvm = 1;
                h->kvm_verdict = xasprintf("KVM booted the guest kernel to its init in %llu ms",
                                           (unsigned long long) ((now(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC));
        } else if (status == -ETIMEDOUT) {
                h->kvm = 0;
                h->kvm_verdict = xasprintf("/dev/kvm is there but a KVM guest hangs: the kernel printed %s within %llu s",
                                           output && *output ? "no panic" : "nothing",
                                           (unsigned long long) (VM_KVM_PROBE_TIMEOUT / USEC_PER_SEC));
        } else {
                const char *last = output ? strrchr(output, '\n') : NULL;
                h->kvm = 0;
                h->kvm_verdict = xasprintf("QEMU with KVM failed (%s)%s%s",
                                           status < 0 ? strerror(-status) : "it exited before the kernel ran",
                                           output && *output ? ": " : "", output ? (last && last[1] ? last + 1 : output) : "");
                strchrnul(h->kvm_verdict, '\n')[0] = 0;
        }
        cache_write(cache_path, key, h);
        return 0;
}

VmAccelChoice vm_accel_choose(VmAccel unit, VmAccel host, const VmHost *h, bool *ret_kvm, char **ret_why) {
        if (unit != VM_ACCEL_AUTO) {
                *ret_kvm = unit == VM_ACCEL_KVM;
                *ret_why = xasprintf("vm.accel: %s in the unit", vm_accel_to_string(unit));
                return VM_ACCEL_CHOICE_DONE;
        }
        if (host != VM_ACCEL_AUTO) {
                *ret_kvm = host == VM_ACCEL_KVM;
                *ret_why = xasprintf("supd --vm-accel %s", vm_accel_to_string(host));
                return VM_ACCEL_CHOICE_DONE;
        }
        if (h->kvm < 0)
                return VM_ACCEL_CHOICE_NEEDS_PROBE;
        *ret_kvm = h->kvm > 0;
        *ret_why = xasprintf("auto: %s", h->kvm_verdict ? h->kvm_verdict : "");
        return VM_ACCEL_CHOICE_DONE;
}
