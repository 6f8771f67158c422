/* SPDX-License-Identifier: MIT */
#include "guest-boot.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/random.h>
#include <linux/reboot.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

static int set_mac(const char *ifname, const char *mac) {
        _cleanup_close_ int fd = -EBADF;
        struct ifreq ifr = {};
        unsigned b[6];

        if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
                return negative_errno();
        bool same = true;
        for (size_t i = 0; i < 6; i++)
                same = same && (uint8_t) ifr.ifr_hwaddr.sa_data[i] == b[i];
        if (same)
                return 0;
        ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
        for (size_t i = 0; i < 6; i++)
                ifr.ifr_hwaddr.sa_data[i] = (char) b[i];
        if (ioctl(fd, SIOCSIFHWADDR, &ifr) < 0)
                return negative_errno();
        return 0;
}

int guest_setup_network(const GuestRun *run, SupError **ret_error) {
        const GuestNetwork *net = &run->network;
        _cleanup_free_ char *ifname = NULL;
        char addr[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN];
        int r;

        if (loopback_up() < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot bring up the loopback interface");
        if (!run->has_network)
                return 0;

        /* virtio_net is loaded, but the card registers asynchronously (and polling is all PID 1
         * has without udev: see guest_open_port()). */
        for (usec_t deadline = deadline_in(DEVICE_TIMEOUT_MS);;) {
                r = guest_find_ether("/sys/class/net", &ifname);
                if (r >= 0)
                        break;
                if (!wait_a_little(deadline))
                        return sup_error_make(ret_error, r, "network: no network card%s%s", r == -ENOENT ? "" : ": ",
                                              r == -ENOENT ? "" : strerror(-r));
        }
        /* A guest restored from a template has the template's MAC address: QEMU restores the
         * card's configuration with the machine. The unit's is set here, before the card is up;
         * virtio_net passes it on to QEMU (VIRTIO_NET_CTRL_MAC_ADDR_SET), whose receive filter
         * then takes the unit's frames. A cold boot's card has it already: nothing changes. */
        r = set_mac(ifname, net->mac);
        if (r < 0)
                return sup_error_errno(ret_error, r, "network: cannot give %s the MAC address %s", ifname, net->mac);
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
        if (net->has_address6) {
                /* Without DAD (netif_add_ipv6()): the workload starts right after this. */
                r = netif_add_ipv6(NET_CONTAINER_IFNAME, &net->address6, net->prefix6, &net->gateway6);
                if (r < 0)
                        return sup_error_errno(ret_error, r,
                                               "network: cannot configure " NET_CONTAINER_IFNAME " with %s/%u",
                                               inet_ntop(AF_INET6, &net->address6, addr6, sizeof(addr6)), net->prefix6);
        }
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

int guest_reseed(const GuestRun *run, bool required, SupError **ret_error) {
        /* struct rand_pool_info ends in a flexible array: the bytes follow it in one buffer. */
        _Alignas(struct rand_pool_info) uint8_t e[sizeof(struct rand_pool_info) + GUEST_ENTROPY_BYTES] = {};
        struct rand_pool_info *info = (struct rand_pool_info *) e;
        _cleanup_close_ int fd = -EBADF;

        if (!run->has_entropy && required)
                return sup_error_make(ret_error, -EINVAL,
                                      "the run command of a restored template's guest has no entropy: it would draw "
                                      "the same random numbers as every other restore");
        if (!run->has_entropy)
                return 0;
        info->entropy_count = GUEST_ENTROPY_BYTES * 8;
        info->buf_size = GUEST_ENTROPY_BYTES;
        memcpy(info->buf, run->entropy, GUEST_ENTROPY_BYTES);
        fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot open /dev/urandom");
        if (ioctl(fd, RNDADDENTROPY, info) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot reseed the random number generator");
        explicit_bzero(e, sizeof(e));
        return 0;
}

/* What stays free while the pages are faulted in: the kernel's watermarks on a small guest are a
 * few MiB, and PID 1 must never meet the OOM killer (a guest without a killable process panics). */
#define ZERO_RESERVE (32ULL << 20)

int guest_zero_free_memory(SupError **ret_error) {
        _cleanup_free_ char *meminfo = NULL;
        unsigned long long free_kib = 0;
        const char *p;
        size_t n;
        void *m;
        int r;

        r = read_full_file("/proc/meminfo", 65536, &meminfo, &n);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot read /proc/meminfo");
        p = strstr(meminfo, "MemFree:");
        if (!p || sscanf(p, "MemFree: %llu kB", &free_kib) != 1)
                return sup_error_make(ret_error, -EBADMSG, "/proc/meminfo has no MemFree");
        if (free_kib * 1024 <= ZERO_RESERVE)
                return 0;
        n = (size_t) (free_kib * 1024 - ZERO_RESERVE);
        /* Anonymous pages come zeroed; unmapped, they go back to the free lists as they are. */
        m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (m == MAP_FAILED)
                return sup_error_errno(ret_error, negative_errno(), "cannot map %zu bytes", n);
        (void) munmap(m, n);
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
