/* SPDX-License-Identifier: MIT */
#include "guest-boot.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "alloc.h"
#include "fileio.h"
#include "guest-probe.h"
#include "macro.h"
#include "netif.h"
#include "rootfs.h"
#include "string-util.h"
#include "time-util.h"

#define LAYERS_DIR  "/run/sup/layers"
#define SANDBOX_DIR "/run/sup/sandbox"

/* How long the disks and ports may take to appear after their drivers are loaded: a TCG guest
 * is slow, but the devices exist when the kernel starts; this only bounds a broken setup. */
#define DEVICE_TIMEOUT_MS 10000U

static usec_t deadline_in(unsigned timeout_ms) {
        return now(CLOCK_MONOTONIC) + timeout_ms * USEC_PER_MSEC;
}

/* Between two looks for a device: false once the deadline has passed. By the clock, not by
 * counting the sleeps: under TCG, a look through sysfs takes longer than the 5 ms between two. */
static bool wait_a_little(usec_t deadline) {
        struct timespec ts = {.tv_nsec = 5 * 1000000L};

        if (now(CLOCK_MONOTONIC) >= deadline)
                return false;
        (void) nanosleep(&ts, NULL);
        return true;
}

int guest_mount_early(SupError **ret_error) {
        static const struct {
                const char *type, *path;
                unsigned long flags;
        } fs[] = {
                {"proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC},
                {"sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC},
                {"devtmpfs", "/dev", MS_NOSUID},
        };

        for (size_t i = 0; i < ELEMENTSOF(fs); i++) {
                if (mkdir(fs[i].path, 0755) < 0 && errno != EEXIST)
                        return sup_error_errno(ret_error, negative_errno(), "cannot create %s", fs[i].path);
                if (mount(fs[i].type, fs[i].path, fs[i].type, fs[i].flags, NULL) < 0 && errno != EBUSY)
                        return sup_error_errno(ret_error, negative_errno(), "cannot mount %s on %s", fs[i].type,
                                               fs[i].path);
        }
        return 0;
}

int guest_load_modules(GuestModulePhase phase, SupError **ret_error) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **list = NULL;
        size_t n;
        int r;

        r = read_full_file(GUEST_MODULES_LIST, 1024 * 1024, &text, &n);
        if (r == -ENOENT)
                return 0; /* a kernel with every driver built in */
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot read %s", GUEST_MODULES_LIST);
        r = guest_modules_parse(text, &list);
        if (r < 0)
                return sup_error_errno(ret_error, r, "%s: expected one NAME.ko a line", GUEST_MODULES_LIST);
        bool have_pci = guest_have_pci("/sys/bus/pci/devices");
        STRV_FOREACH(m, list) {
                if (guest_module_phase(*m, have_pci) != phase)
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", GUEST_MODULES_DIR, *m);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return sup_error_errno(ret_error, negative_errno(), "cannot open the module %s", path);
                if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
                        return sup_error_errno(ret_error, negative_errno(), "cannot load the module %s", *m);
        }
        return 0;
}

/* Polls: nothing tells PID 1 when a device shows up (there is no udev), and this runs once, at
 * boot, before there is anything else to do. */
int guest_open_port(const char *name, unsigned timeout_ms, int *ret, SupError **ret_error) {
        for (usec_t deadline = deadline_in(timeout_ms);;) {
                _cleanup_free_ char *dev = NULL, *path = NULL;
                int r = guest_find_port("/sys/class/virtio-ports", name, &dev);
                if (r >= 0) {
                        path = xasprintf("/dev/%s", dev);
                        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
                        if (fd >= 0) {
                                *ret = fd;
                                return 0;
                        }
                        r = negative_errno();
                }
                if (!wait_a_little(deadline))
                        return sup_error_errno(ret_error, r, "no virtio-serial port named %s", name);
        }
}

/* A disk of the run command as a device path: "/dev/vdb" as it is, "serial=S" looked up. */
static int resolve_disk(const char *disk, char **ret, SupError **ret_error) {
        const char *serial = startswith(disk, "serial=");

        for (usec_t deadline = deadline_in(DEVICE_TIMEOUT_MS);;) {
                _cleanup_free_ char *dev = NULL, *name = NULL;
                struct stat st;
                int r;

                if (serial) {
                        r = guest_find_disk("/sys/block", serial, &name);
                        if (r >= 0)
                                dev = xasprintf("/dev/%s", name);
                } else {
                        dev = xstrdup(disk);
                        r = 0;
                }
                if (r >= 0)
                        r = stat(dev, &st) < 0 ? negative_errno() : S_ISBLK(st.st_mode) ? 0 : -ENOTBLK;
                if (r >= 0) {
                        *ret = TAKE_PTR(dev);
                        return 0;
                }
                if (!wait_a_little(deadline))
                        return sup_error_errno(ret_error, r, "no disk %s", disk);
        }
}

static int mount_disk(const char *disk, const char *where, const char *fstype, bool read_only, SupError **ret_error) {
        _cleanup_free_ char *dev = NULL;
        int r;

        r = resolve_disk(disk, &dev, ret_error);
        if (r < 0)
                return r;
        r = mkdir_p(where, 0755);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot create %s", where);
        /* nodev, nosuid stay off: a layer may carry device nodes and setuid programs, exactly as
         * the directories process isolation stacks. */
        if (mount(dev, where, fstype, read_only ? MS_RDONLY : 0, NULL) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot mount %s (%s) as %s%s", disk, dev, fstype,
                                       read_only ? " read-only" : "");
        return 0;
}

int guest_build_root(const GuestRun *run, const char *target, int *share_fds, SupError **ret_error) {
        const UnitSpec *u = run->spec;
        size_t n = strv_length(run->layers);
        _cleanup_free_ char *opts = NULL, *lower = xstrdup("");
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *where = xasprintf(LAYERS_DIR "/%zu", i), *prev = TAKE_PTR(lower);
                /* erofs, made by image/layer-disk.c; the sandbox, which the guest writes, is ext4. */
                r = mount_disk(run->layers[i], where, "erofs", true, ret_error);
                if (r < 0)
                        return r;
                /* overlayfs takes the top layer first; layers are bottom first. */
                lower = *prev ? xasprintf("%s:%s", where, prev) : xstrdup(where);
        }
        r = mount_disk(run->sandbox, SANDBOX_DIR, "ext4", false, ret_error);
        if (r < 0)
                return r;
        if (mkdir(SANDBOX_DIR "/upper", 0755) < 0 && errno != EEXIST)
                return sup_error_errno(ret_error, negative_errno(), "cannot create the sandbox layer");
        if (mkdir(SANDBOX_DIR "/work", 0700) < 0 && errno != EEXIST)
                return sup_error_errno(ret_error, negative_errno(), "cannot create the overlay work directory");

        /* The guest kernel (6.1) predates "lowerdir+": one option string, short paths of our own
         * (128 layers take about 2 KiB of the page it may fill). */
        opts = xasprintf("lowerdir=%s,upperdir=" SANDBOX_DIR "/upper,workdir=" SANDBOX_DIR "/work", lower);
        r = mkdir_p(target, 0755);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot create %s", target);
        /* nodev, as process isolation's overlay (mount_overlay()): the layer disks may hold
         * device nodes, which the container's root shows but cannot open. */
        if (mount("overlay", target, "overlay", MS_NODEV, opts) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot create the overlay file system");

        rootfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot open the container's root");
        /* own_network: the guest is its own network namespace, so sysfs is mounted, not bound. */
        r = mount_api_filesystems(rootfd, true, ret_error);
        if (r >= 0)
                r = mount_unit_mounts(u, rootfd, share_fds, ret_error);
        if (r < 0)
                return r;
        if (sethostname(u->hostname, strlen(u->hostname)) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot set the host name");
        return 0;
}

int guest_setup_network(const GuestRun *run, SupError **ret_error) {
        const GuestNetwork *net = &run->network;
        _cleanup_free_ char *ifname = NULL;
        char addr[INET_ADDRSTRLEN];
        int r;

        if (loopback_up() < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot bring up the loopback interface");
        if (!run->has_network)
                return 0;

        /* virtio_net is loaded, but the card registers asynchronously (and polling is all PID 1
         * has without udev: see guest_open_port()). */
        for (usec_t deadline = deadline_in(DEVICE_TIMEOUT_MS);;) {
                r = guest_find_netif("/sys/class/net", net->mac, &ifname);
                if (r >= 0)
                        break;
                if (!wait_a_little(deadline))
                        return sup_error_make(ret_error, r, "network: no network card with the MAC address %s%s%s",
                                              net->mac, r == -ENOENT ? "" : ": ", r == -ENOENT ? "" : strerror(-r));
        }
        /* The kernel calls the first card eth0. A name can change only while the card is down,
         * which it is: nothing in the guest brings it up before this. */
        if (!streq(ifname, NET_CONTAINER_IFNAME)) {
                r = netif_rename(ifname, NET_CONTAINER_IFNAME);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "network: cannot rename %s (%s) to " NET_CONTAINER_IFNAME,
                                               ifname, net->mac);
        }
        r = netif_configure_ipv4(NET_CONTAINER_IFNAME, net->address, net->prefix, net->gateway);
        if (r < 0)
                return sup_error_errno(ret_error, r, "network: cannot configure " NET_CONTAINER_IFNAME " with %s/%u",
                                       inet_ntop(AF_INET, &net->address, addr, sizeof(addr)), net->prefix);
        return 0;
}

int guest_switch_root(const char *target, SupError **ret_error) {
        /* The initramfs is a tmpfs that stays under the new root: free the modules and our own
         * copy (this process keeps its text), and the early mounts nobody will see again. */
        (void) rm_rf(GUEST_MODULES_DIR);
        (void) unlink("/init");
        (void) umount2("/proc", MNT_DETACH);
        (void) umount2("/sys", MNT_DETACH);
        (void) umount2("/dev", MNT_DETACH);

        if (chdir(target) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot enter %s", target);
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot move %s over the initramfs", target);
        if (chroot(".") < 0)
                return sup_error_errno(ret_error, negative_errno(), "chroot");
        if (chdir("/") < 0)
                return sup_error_errno(ret_error, negative_errno(), "chdir /");
        return 0;
}

void guest_poweroff(void) {
        sync();
        (void) reboot(LINUX_REBOOT_CMD_POWER_OFF);
        /* Returning from PID 1 would panic the kernel (which also ends the VM with panic=-1 and
         * -no-reboot); wait for the power to go instead. */
        for (;;)
                pause();
}
