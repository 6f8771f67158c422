/* SPDX-License-Identifier: MIT */
/* The pure parts of the VM runtime: resources to guest RAM and vCPUs, the QEMU command line, the
 * accelerator's choice and the TSC frequency; the clock's exchange against a scripted guest. (The
 * content hash that names a layer's disk is the image step's: test-image.c.) */
#include "test-helpers.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "guest-proto.h"
#include "string-util.h"
#include "vm-clock.h"
#include "vm-fs.h"
#include "vm-host.h"
#include "vm-qemu.h"
#include "vm-template.h"

static UnitSpec *spec(const char *extra) {
        UnitSpec *u = NULL;
        Diagnostics d = {};
        char yaml[1024];

        snprintf(yaml, sizeof(yaml), MINIMAL_UNIT "isolation: hyperv\n%s", extra);
        assert_int_equal(parse_text("u.yaml", yaml, &d, &u), 0);
        diagnostics_done(&d);
        return u;
}

static void test_memory_and_vcpus(void **state) {
        UnitSpec *u = spec("");
        /* Unset: the default RAM, one vCPU. */
        assert_int_equal(vm_guest_memory(u), VM_MEMORY_DEFAULT);
        assert_int_equal(vm_guest_vcpus(u, 8), 1);
        unit_spec_free(u);

        u = spec("resources: {memory: 512M, cpus: 1.5}\n");
        assert_int_equal(vm_guest_memory(u), 512ULL << 20);
        assert_int_equal(vm_guest_vcpus(u, 8), 2); /* rounded up */
        assert_int_equal(vm_guest_vcpus(u, 1), 1); /* never more than the host has */
        unit_spec_free(u);

        /* The guest kernel does not boot in 64 MiB: the RAM is raised to what it needs. */
        u = spec("resources: {memory: 64M, cpus: 0.25}\n");
        assert_int_equal(vm_guest_memory(u), VM_MEMORY_MIN);
        assert_int_equal(vm_guest_vcpus(u, 8), 1);
        unit_spec_free(u);

        /* QEMU's cgroup: guest RAM, TCG's translation cache, QEMU's own overhead, and the shares'
         * virtiofsds, which run in it too (one OOM-killed by a limit that forgot it is a unit
         * that fails for no reason of its own). */
        assert_int_equal(vm_cgroup_memory(256ULL << 20, true, 0),
                         (256ULL << 20) + ((uint64_t) VM_TCG_TB_MIB << 20) + VM_QEMU_OVERHEAD);
        assert_int_equal(vm_cgroup_memory(256ULL << 20, false, 0), (256ULL << 20) + VM_QEMU_OVERHEAD);
        assert_int_equal(vm_cgroup_memory(256ULL << 20, false, 2),
                         (256ULL << 20) + VM_QEMU_OVERHEAD + 2 * VM_VIRTIOFSD_OVERHEAD);
}

static bool has_pair(char **argv, const char *opt, const char *value) {
        for (size_t i = 0; argv[i] && argv[i + 1]; i++)
                if (streq(argv[i], opt) && streq(argv[i + 1], value))
                        return true;
        return false;
}

static bool has_arg(char **argv, const char *arg) {
        for (size_t i = 0; argv[i]; i++)
                if (streq(argv[i], arg))
                        return true;
        return false;
}

static VmLaunch launch(const char *const *layers, size_t n) {
        return (VmLaunch){
                .name = "web",
                .machine = VM_MACHINE_MICROVM,
                .memory = 256ULL << 20,
                .vcpus = 2,
                .tsc_khz = 2596124,
                .sandbox = true,
                .kernel = "/k/vmlinuz",
                .initrd = "/k/initramfs.cpio",
                .qmp_path = "qmp.sock",
                .layers = layers,
                .n_layers = n,
                .sandbox_disk = "/s/disk.ext4",
                .console_fd = 10,
                .agent_fd = 11,
                .output_fd = 12,
                .net_fd = -1,
        };
}

static void test_qemu_args_microvm_tcg(void **state) {
        const char *layers[] = {"/c/a.erofs", "/c/b.erofs"};
        VmLaunch l = launch(layers, 2);
        char **argv = NULL;

        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        assert_true(has_pair(argv, "-M", "microvm"));
        assert_true(has_arg(argv, "-nodefaults"));
        assert_true(has_arg(argv, "-no-user-config"));
        assert_true(has_arg(argv, "-no-reboot"));
        assert_true(has_pair(argv, "-accel", "tcg,tb-size=16"));
        assert_false(has_arg(argv, "host")); /* -cpu host is for KVM */
        assert_true(has_pair(argv, "-m", "256M"));
        assert_true(has_pair(argv, "-smp", "2"));
        assert_true(has_pair(argv, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
        assert_true(
                has_pair(argv, "-append", "console=ttyS0 quiet panic=-1 reboot=t tsc_early_khz=2596124 tsc=reliable"));
        assert_true(has_pair(argv, "-qmp", "unix:qmp.sock,server=on,wait=off"));
        /* Layers read-only and named by serial, bottom first; the sandbox writable, with errors
         * reported to the guest. */
        assert_true(has_pair(argv, "-drive", "id=layer0,file=/c/a.erofs,format=raw,if=none,readonly=on"));
        assert_true(has_pair(argv, "-device", "virtio-blk-device,drive=layer0,serial=sup-layer-0"));
        assert_true(has_pair(argv, "-device", "virtio-blk-device,drive=layer1,serial=sup-layer-1"));
        assert_true(has_pair(argv, "-drive", "id=sandbox,file=/s/disk.ext4,format=raw,if=none,werror=report,rerror=report"));
        assert_true(has_pair(argv, "-chardev", "socket,id=agent,fd=11"));
        assert_true(has_pair(argv, "-device", "virtserialport,chardev=agent,name=sup.agent"));
        /* stdout and stderr on one port, so that their order holds (guest-proto.h). */
        assert_true(has_pair(argv, "-chardev", "socket,id=output,fd=12"));
        assert_true(has_pair(argv, "-device", "virtserialport,chardev=output,name=sup.output"));
        assert_true(has_pair(argv, "-serial", "chardev:console"));
        assert_true(has_pair(argv, "-device", "virtio-rng-device"));
        /* Without free page reporting, RAM the guest has freed stays QEMU's for good. */
        assert_true(has_pair(argv, "-device", "virtio-balloon-device,free-page-reporting=on"));
        assert_false(has_arg(argv, "-netdev"));
        /* No share, no shared memory: guest RAM stays QEMU's private memory, and the devices what
         * they were. */
        assert_false(has_arg(argv, "-object"));
        assert_false(has_arg(argv, "-global"));
        assert_false(has_arg(argv, "vhost-user-fs-device,chardev=fs0,tag=sup-fs-0"));
        strv_free(argv);
}

static void test_qemu_args_shares(void **state) {
        const char *layers[] = {"/c/a.erofs"}, *sockets[] = {"fs-0.sock", "fs-1.sock"};
        VmLaunch l = launch(layers, 1);
        char **argv = NULL;

        l.share_sockets = sockets;
        l.n_shares = 2;
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        /* virtiofsd reaches the guest's buffers through guest RAM, which must be a memfd that QEMU
         * hands over (share=on), of the size -m says. */
        assert_true(has_pair(argv, "-M", "microvm,memory-backend=sup-ram"));
        assert_true(has_pair(argv, "-object", "memory-backend-memfd,id=sup-ram,size=256M,share=on"));
        assert_true(has_pair(argv, "-m", "256M"));
        /* vhost-user refuses microvm's legacy virtio-mmio devices. */
        assert_true(has_pair(argv, "-global", "virtio-mmio.force-legacy=false"));
        assert_true(has_pair(argv, "-chardev", "socket,id=fs0,path=fs-0.sock"));
        assert_true(has_pair(argv, "-device", "vhost-user-fs-device,chardev=fs0,tag=sup-fs-0"));
        assert_true(has_pair(argv, "-chardev", "socket,id=fs1,path=fs-1.sock"));
        assert_true(has_pair(argv, "-device", "vhost-user-fs-device,chardev=fs1,tag=sup-fs-1"));
        argv = strv_free(argv);
        l.machine = VM_MACHINE_Q35;
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        assert_true(has_pair(argv, "-M", "q35,memory-backend=sup-ram"));
        assert_false(has_arg(argv, "-global")); /* PCI's virtio is modern already */
        assert_true(has_pair(argv, "-device", "vhost-user-fs-pci,chardev=fs1,tag=sup-fs-1"));
        strv_free(argv);
}

static void test_qemu_args_q35_kvm(void **state) {
        const char *layers[] = {"/c/a.erofs"};
        VmLaunch l = launch(layers, 1);
        char **argv = NULL;

        l.machine = VM_MACHINE_Q35;
        l.kvm = true;
        l.net_fd = 14;
        l.mac = "02:53:0a:59:00:05";
        l.sandbox = false;
        l.debug = true;
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        assert_true(has_pair(argv, "-M", "q35"));
        assert_true(has_pair(argv, "-accel", "kvm"));
        assert_true(has_pair(argv, "-cpu", "host"));
        assert_false(has_arg(argv, "-sandbox"));
        /* No TSC hint under KVM, and sup.debug when asked. */
        assert_true(has_pair(argv, "-append", "console=ttyS0 quiet panic=-1 reboot=t sup.debug"));
        assert_true(has_pair(argv, "-device", "virtio-blk-pci,drive=layer0,serial=sup-layer-0"));
        assert_true(has_pair(argv, "-device", "virtio-serial-pci"));
        assert_true(has_pair(argv, "-device", "virtio-balloon-pci,free-page-reporting=on"));
        assert_true(has_pair(argv, "-netdev", "tap,id=net0,fd=14"));
        assert_true(has_pair(argv, "-device", "virtio-net-pci,netdev=net0,mac=02:53:0a:59:00:05"));
        strv_free(argv);
}

static void test_qemu_args_too_many_layers(void **state) {
        /* microvm's 24 virtio-mmio slots: 19 layers fit, 20 do not; q35 takes them. */
        const char *layers[VM_MICROVM_MAX_LAYERS + 1];
        VmLaunch l;
        char **argv = NULL;

        for (size_t i = 0; i < ELEMENTSOF(layers); i++)
                layers[i] = "/c/x.erofs";
        l = launch(layers, VM_MICROVM_MAX_LAYERS);
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        argv = strv_free(argv);
        l.n_layers++;
        assert_int_equal(vm_qemu_args(&l, &argv), -E2BIG);
        assert_null(argv);
        /* A share takes a slot of its own: 18 layers and 2 shares do not fit either. */
        l.n_layers = VM_MICROVM_MAX_LAYERS - 1;
        l.share_sockets = (const char *const[]){"fs-0.sock", "fs-1.sock"};
        l.n_shares = 2;
        assert_int_equal(vm_qemu_args(&l, &argv), -E2BIG);
        l.machine = VM_MACHINE_Q35;
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        strv_free(argv);
}

static void test_shares_from_spec(void **state) {
        UnitSpec *u = spec("mounts:\n"
                           "  - {type: tmpfs, target: /tmp}\n"
                           "  - {type: bind, source: /srv/a, target: /a, read_only: true}\n"
                           "  - {type: tmpfs, target: /run}\n"
                           "  - {type: bind, source: /srv/b, target: /b}\n");
        SupError *e = NULL;
        VmShare *s = NULL;
        size_t n = 0;
        char *tag = vm_share_tag(1);

        /* Every bind, in the order of the mounts, with its index there (the guest pairs share i with
         * the i-th mount that needs one) and its read_only; no tmpfs. */
        assert_int_equal(vm_shares_from_spec(u, &s, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_int_equal(s[0].mount, 1);
        assert_string_equal(s[0].source, "/srv/a");
        assert_true(s[0].read_only);
        assert_int_equal(s[1].mount, 3);
        assert_string_equal(s[1].source, "/srv/b");
        assert_false(s[1].read_only);
        assert_string_equal(tag, "sup-fs-1");
        free(tag);
        vm_shares_free(s, n);
        unit_spec_free(u);

        u = spec("mounts: [{type: tmpfs, target: /tmp}]\n");
        assert_int_equal(vm_shares_from_spec(u, &s, &n, &e), 0);
        assert_int_equal(n, 0);
        vm_shares_free(s, n);
        unit_spec_free(u);

        /* virtiofsd's -o source=DIR/fs-N: a ',' in DIR would add options, a '\\' change the path. */
        u = spec("mounts: [{type: bind, source: /srv/a, target: /a}]\n");
        for (size_t i = 0; i < 2; i++) {
                VmFs *fs = NULL;

                assert_int_equal(vm_fs_prepare(u, i == 0 ? "/run/x,allow_direct_io" : "/run/x\\,y", &fs, &e), -EINVAL);
                assert_non_null(strstr(sup_error_message(e), "use a --run-dir without one"));
                e = sup_error_free(e);
                assert_null(fs);
        }
        unit_spec_free(u);
}

/* A restore is the template's command line plus -incoming, kept out of the template's key. The
 * fault this also stops: a restored QEMU that loads the kernel it never boots, and keeps a copy of
 * it (14 MiB) for the machine's lifetime. */
static void test_qemu_incoming(void **state) {
        const char *layers[] = {"/c/a.erofs"};
        VmLaunch l = launch(layers, 1);
        char **argv = NULL;

        vm_qemu_incoming_args(&l, &argv);
        assert_null(argv);
        /* The boot's command line, the template key's, loads them. */
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        assert_true(has_pair(argv, "-kernel", "/k/vmlinuz"));
        assert_true(has_pair(argv, "-initrd", "/k/initramfs.cpio"));
        strv_free(argv);
        argv = NULL;
        l.incoming_fd = 13;
        assert_int_equal(vm_qemu_args(&l, &argv), 0);
        assert_false(has_arg(argv, "-incoming"));
        assert_false(has_arg(argv, "-kernel"));
        assert_false(has_arg(argv, "-initrd"));
        assert_false(has_arg(argv, "-append"));
        assert_true(has_pair(argv, "-accel", "tcg,tb-size=16"));
        vm_qemu_incoming_args(&l, &argv);
        assert_true(has_pair(argv, "-incoming", "fd:13"));
        strv_free(argv);
}

/* The fault this stops: a restore from a template of another machine shape, kernel or
 * initramfs (QEMU refuses it at best; at worst the guest runs an old sup-init). */
static void test_template_key(void **state) {
        char dir[] = "/tmp/sup-test-tpl-XXXXXX";
        char *kernel, *initrd, *k1 = NULL, *k2 = NULL, *k3 = NULL, *k4 = NULL;
        char *argv[] = {(char *) "/bin/sh", (char *) "-m", (char *) "256M", NULL};

        assert_non_null(mkdtemp(dir));
        kernel = xasprintf("%s/vmlinuz", dir);
        initrd = xasprintf("%s/initramfs.cpio", dir);
        assert_int_equal(write_file_atomic(kernel, "k", 1, 0600), 0);
        assert_int_equal(write_file_atomic(initrd, "i", 1, 0600), 0);
        assert_int_equal(vm_template_key(argv, kernel, initrd, &k1), 0);
        assert_int_equal(strlen(k1), 64);
        assert_int_equal(vm_template_key(argv, kernel, initrd, &k2), 0);
        assert_string_equal(k1, k2);
        argv[2] = (char *) "512M";
        assert_int_equal(vm_template_key(argv, kernel, initrd, &k3), 0);
        assert_string_not_equal(k1, k3);
        argv[2] = (char *) "256M";
        /* A rebuilt initramfs is renamed into place: another file. */
        assert_int_equal(write_file_atomic(initrd, "i2", 2, 0600), 0);
        assert_int_equal(vm_template_key(argv, kernel, initrd, &k4), 0);
        assert_string_not_equal(k1, k4);
        free(k4);
        assert_int_equal(unlink(kernel), 0);
        assert_int_equal(vm_template_key(argv, kernel, initrd, &k4), -ENOENT);
        free(k1);
        free(k2);
        free(k3);
        free(kernel);
        free(initrd);
        (void) rm_rf(dir);
}

/* The faults this stops: guest memory readable by others (a directory or file not 0700/0600),
 * and a truncated or half-written template given to QEMU. */
static void test_template_find(void **state) {
        char dir[] = "/tmp/sup-test-tpl-XXXXXX";
        const char *key = "ab12";
        char *tdir, *file, *size, *path = NULL;
        SupError *error = NULL;

        assert_non_null(mkdtemp(dir));
        tdir = xasprintf("%s/" VM_TEMPLATE_DIR, dir);
        file = xasprintf("%s/ab12.state", tdir);
        size = xasprintf("%s/ab12.size", tdir);
        assert_int_equal(vm_template_find(dir, key, &path, &error), -ENOENT);
        assert_int_equal(mkdir_p(tdir, 0755), 0);
        assert_int_equal(vm_template_find(dir, key, &path, &error), -EPERM);
        assert_non_null(strstr(sup_error_message(error), "mode 0700"));
        error = sup_error_free(error);
        assert_int_equal(chmod(tdir, 0700), 0);
        assert_int_equal(vm_template_find(dir, key, &path, &error), -ENOENT);

        assert_int_equal(write_file_atomic(file, "0123456789", 10, 0600), 0);
        assert_int_equal(write_file_atomic(size, "10\n", 3, 0600), 0);
        assert_int_equal(vm_template_find(dir, key, &path, &error), 0);
        assert_string_equal(path, file);
        free(path);
        path = NULL;

        /* Truncated: refused and removed. */
        assert_int_equal(truncate(file, 4), 0);
        assert_int_equal(vm_template_find(dir, key, &path, &error), -EBADMSG);
        assert_non_null(strstr(sup_error_message(error), "truncated"));
        error = sup_error_free(error);
        assert_int_equal(access(file, F_OK), -1);
        assert_int_equal(access(size, F_OK), -1);

        /* Readable by others: refused and removed. */
        assert_int_equal(write_file_atomic(file, "0123456789", 10, 0644), 0);
        assert_int_equal(write_file_atomic(size, "10\n", 3, 0600), 0);
        assert_int_equal(vm_template_find(dir, key, &path, &error), -EPERM);
        error = sup_error_free(error);
        assert_int_equal(access(file, F_OK), -1);
        assert_null(path);

        /* What a killed builder left goes; what a working one (its key locked) has stays (the
         * fault: KEY.build/ and KEY.state.tmp left for good by a monitor removed mid-build). */
        static const char *const leftovers[] = {"aa.build/qemu.log", "aa.state.tmp", "bb.build/qemu.log",
                                                "bb.state.tmp"};
        for (size_t i = 0; i < ELEMENTSOF(leftovers); i++) {
                char *p = xasprintf("%s/%s", tdir, leftovers[i]), *slash = strrchr(p, '/');
                *slash = 0;
                assert_int_equal(mkdir_p(p, 0700), 0);
                *slash = '/';
                assert_int_equal(write_file_atomic(p, "x", 1, 0600), 0);
                free(p);
        }
        char *lock_path = xasprintf("%s/bb.lock", tdir), *p = NULL;
        int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(lock >= 0);
        assert_int_equal(flock(lock, LOCK_EX), 0);
        vm_template_sweep(dir);
        for (size_t i = 0; i < ELEMENTSOF(leftovers); i++) {
                p = xasprintf("%s/%s", tdir, leftovers[i]);
                assert_int_equal(access(p, F_OK), leftovers[i][0] == 'a' ? -1 : 0);
                free(p);
        }
        p = xasprintf("%s/aa.build", tdir);
        assert_int_equal(access(p, F_OK), -1);
        free(p);
        close(lock);
        free(lock_path);

        /* A failed build holds off the next ones for a while, not for good (the fault: a
         * crash-looping unit starting a builder at every cold start). */
        assert_false(vm_template_failed_recently(dir, "cc"));
        vm_template_mark_failed(dir, "cc");
        assert_true(vm_template_failed_recently(dir, "cc"));
        assert_false(vm_template_failed_recently(dir, "dd"));
        p = xasprintf("%s/cc.failed", tdir);
        char *old = xasprintf("%llu\n",
                              (unsigned long long) (now(CLOCK_REALTIME) - VM_TEMPLATE_RETRY_AFTER - USEC_PER_SEC) /
                                      USEC_PER_SEC);
        assert_int_equal(write_file_atomic(p, old, strlen(old), 0600), 0);
        assert_false(vm_template_failed_recently(dir, "cc"));
        free(old);
        free(p);
        /* A directory whose templates are never used (its mode) gets no build either. */
        assert_int_equal(chmod(tdir, 0755), 0);
        char *false_argv[] = {(char *) "/bin/false", NULL};
        assert_int_equal(vm_template_build(dir, "ee", false_argv, false, USEC_PER_SEC, &error), -EPERM);
        error = sup_error_free(error);
        assert_false(vm_template_failed_recently(dir, "ee"));

        free(tdir);
        free(file);
        free(size);
        (void) rm_rf(dir);
}

static void test_tsc(void **state) {
        assert_int_equal(vm_tsc_khz_from_cpuinfo("processor\t: 0\nmodel name\t: x\ncpu MHz\t\t: 2596.124\n"), 2596124);
        assert_int_equal(vm_tsc_khz_from_cpuinfo("processor\t: 0\n"), 0);
        assert_int_equal(vm_tsc_khz_from_cpuinfo("cpu MHz\t\t: nonsense\n"), 0);
        assert_int_equal(vm_tsc_khz_from_cpuinfo(""), 0);
}

static void test_accel_choice(void **state) {
        VmHost works = {.kvm = 1, .kvm_verdict = (char *) "KVM booted"};
        VmHost hangs = {.kvm = 0, .kvm_verdict = (char *) "a KVM guest hangs"};
        VmHost unknown = {.kvm = -1};
        char *why = NULL;
        bool kvm = false;

        /* The unit's vm.accel wins over everything. */
        assert_int_equal(vm_accel_choose(VM_ACCEL_TCG, VM_ACCEL_KVM, &works, &kvm, &why), VM_ACCEL_CHOICE_DONE);
        assert_false(kvm);
        assert_non_null(strstr(why, "in the unit"));
        free(why);
        /* Then the host's setting. */
        assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, VM_ACCEL_TCG, &works, &kvm, &why), VM_ACCEL_CHOICE_DONE);
        assert_false(kvm);
        assert_non_null(strstr(why, "--vm-accel tcg"));
        free(why);
        /* auto: the probe's verdict; unknown means probe first (no guess). */
        assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, VM_ACCEL_AUTO, &works, &kvm, &why), VM_ACCEL_CHOICE_DONE);
        assert_true(kvm);
        free(why);
        assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, VM_ACCEL_AUTO, &hangs, &kvm, &why), VM_ACCEL_CHOICE_DONE);
        assert_false(kvm);
        assert_non_null(strstr(why, "hangs"));
        free(why);
        assert_int_equal(vm_accel_choose(VM_ACCEL_AUTO, VM_ACCEL_AUTO, &unknown, &kvm, &why), VM_ACCEL_CHOICE_NEEDS_PROBE);
}

/* What the clock sent and said, as the owner (vm.c) sees it. */
typedef struct ClockOwner {
        json_t *sent[8];
        size_t n_sent;
        unsigned synced, notes;
} ClockOwner;

static void clock_send(json_t *msg, void *userdata) {
        ClockOwner *o = userdata;
        assert_true(o->n_sent < ELEMENTSOF(o->sent));
        o->sent[o->n_sent++] = msg;
}

static void clock_note(const char *line, void *userdata) {
        ((ClockOwner *) userdata)->notes++;
}

static void clock_synced(void *userdata) {
        ((ClockOwner *) userdata)->synced++;
}

static VmClock *clock_new(Event *e, ClockOwner *o, usec_t interval) {
        return vm_clock_new(e, &(VmClockOwner){.send = clock_send,
                                               .note = clock_note,
                                               .synced = clock_synced,
                                               .userdata = o,
                                               .interval = interval});
}

static int64_t sent_int(ClockOwner *o, size_t i, const char *key) {
        return json_integer_value(json_object_get(o->sent[i], key));
}

/* The guest answers the last clock command as one 300 ms ahead would. */
static json_t *answer(ClockOwner *o, int64_t t1_delta) {
        int64_t t1 = sent_int(o, o->n_sent - 1, "t1") + t1_delta, t2 = guest_clock_now() + 300000000;
        return guest_event_clock(t1, t2, t2 + 1000);
}

/* The run command waits for the first correction, a step; an answer to no exchange, or one that
 * comes twice, is ignored; a guest that refuses the clock lets the run command go anyway. */
static void test_clock_exchange(void **state) {
        _cleanup_(event_freep) Event *e = NULL;
        ClockOwner o = {};
        VmClock *c;
        json_t *j;

        assert_int_equal(event_new(&e), 0);
        c = clock_new(e, &o, 0);
        vm_clock_hello(c);
        assert_int_equal(o.n_sent, 1);
        assert_string_equal(json_string_value(json_object_get(o.sent[0], "cmd")), "clock");
        assert_int_equal(o.synced, 0);
        j = answer(&o, 1); /* not the t1 it sent */
        vm_clock_event(c, j);
        assert_int_equal(o.n_sent, 1);
        assert_int_equal(o.synced, 0);
        json_decref(j);
        j = answer(&o, 0);
        vm_clock_event(c, j);
        assert_int_equal(o.n_sent, 2);
        assert_string_equal(json_string_value(json_object_get(o.sent[1], "cmd")), "clock-adjust");
        assert_true(json_is_true(json_object_get(o.sent[1], "step")));
        /* 300 ms ahead, give or take this test's own round trip. */
        assert_true(sent_int(&o, 1, "offset_ns") > 299000000 && sent_int(&o, 1, "offset_ns") < 301000000);
        assert_int_equal(o.synced, 1);
        vm_clock_event(c, j); /* the same answer again: its exchange is over */
        assert_int_equal(o.n_sent, 2);
        assert_int_equal(o.synced, 1);
        json_decref(j);
        assert_false(vm_clock_refused(c)); /* a refusal of something else, later */
        vm_clock_free(c);
        for (size_t i = 0; i < o.n_sent; i++)
                json_decref(o.sent[i]);

        o = (ClockOwner){};
        c = clock_new(e, &o, 0);
        vm_clock_hello(c);
        assert_true(vm_clock_refused(c));
        assert_int_equal(o.synced, 1);
        assert_int_equal(o.notes, 1);
        vm_clock_running(c); /* no exchanges with a guest that cannot keep time */
        vm_clock_free(c);
        json_decref(o.sent[0]);
}

/* Until an exchange is sent, or 5 s. */
static void wait_sent(Event *e, ClockOwner *o, size_t n) {
        for (size_t i = 0; i < 50 && o->n_sent < n; i++)
                assert_true(event_run(e, 100 * USEC_PER_MSEC) >= 0);
        assert_int_equal(o->n_sent, n);
        assert_string_equal(json_string_value(json_object_get(o->sent[n - 1], "cmd")), "clock");
}

/* A garbled answer at boot held the run command until the boot timeout, and one lost or garbled
 * answer later ended the sync for good: the next exchange waited for an answer that never came. */
static void test_clock_goes_on(void **state) {
        _cleanup_(event_freep) Event *e = NULL;
        ClockOwner o = {};
        VmClock *c;
        json_t *j;

        assert_int_equal(event_new(&e), 0);
        c = clock_new(e, &o, USEC_PER_MSEC);
        vm_clock_hello(c);
        j = json_pack("{s:s, s:s}", "event", "clock", "t1", "soon");
        vm_clock_event(c, j);
        json_decref(j);
        assert_int_equal(o.synced, 1);
        assert_int_equal(o.notes, 1);
        vm_clock_running(c);
        wait_sent(e, &o, 2); /* left unanswered */
        wait_sent(e, &o, 3);
        j = json_pack("{s:s}", "event", "clock"); /* garbled */
        vm_clock_event(c, j);
        json_decref(j);
        wait_sent(e, &o, 4);
        j = answer(&o, 0);
        vm_clock_event(c, j);
        json_decref(j);
        assert_int_equal(o.n_sent, 5);
        assert_string_equal(json_string_value(json_object_get(o.sent[4], "cmd")), "clock-adjust");
        vm_clock_free(c);
        for (size_t i = 0; i < o.n_sent; i++)
                json_decref(o.sent[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_memory_and_vcpus),  cmocka_unit_test(test_qemu_args_microvm_tcg),
                cmocka_unit_test(test_qemu_args_q35_kvm), cmocka_unit_test(test_qemu_args_too_many_layers),
                cmocka_unit_test(test_qemu_args_shares),  cmocka_unit_test(test_shares_from_spec),
                cmocka_unit_test(test_qemu_incoming),     cmocka_unit_test(test_template_key),
                cmocka_unit_test(test_template_find),     cmocka_unit_test(test_tsc),
                cmocka_unit_test(test_accel_choice),      cmocka_unit_test(test_clock_exchange),
                cmocka_unit_test(test_clock_goes_on),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
