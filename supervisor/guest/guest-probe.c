/* SPDX-License-Identifier: MIT */
#include "guest-probe.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "process-list.h"
#include "string-util.h"

int guest_modules_parse(const char *text, char ***ret) {
        _cleanup_strv_free_ char **l = xzalloc(sizeof(char *));

        for (const char *p = text; *p;) {
                size_t n = strcspn(p, "\n");
                const char *s = p, *e = p + n;

                while (s < e && (*s == ' ' || *s == '\t'))
                        s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                        e--;
                if (e > s && *s != '#') {
                        _cleanup_free_ char *name = xstrndup(s, (size_t) (e - s));
                        if (strchr(name, '/') || !endswith(name, ".ko") || streq(name, ".ko"))
                                return -EINVAL;
                        strv_push(&l, TAKE_PTR(name));
                }
                p += n;
                if (*p)
                        p++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Reads dir/entry/file, without its trailing newline. */
static char *read_attr(const char *dir, const char *entry, const char *file) {
        _cleanup_free_ char *path = xasprintf("%s/%s/%s", dir, entry, file);
        char *s = NULL;
        size_t n;

        if (read_full_file(path, 4096, &s, &n) < 0)
                return NULL;
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = 0;
        return s;
}

/* Whether dir/entry/device/driver is a link to a driver called driver. */
static bool has_driver(const char *dir, const char *entry, const char *driver) {
        _cleanup_free_ char *link = xasprintf("%s/%s/device/driver", dir, entry);
        char target[PATH_MAX];
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        const char *base;

        if (n <= 0)
                return false;
        target[n] = 0;
        base = strrchr(target, '/');
        return streq(base ? base + 1 : target, driver);
}

/* The first entry of dir whose file says value and, unless driver is NULL, whose device's
 * driver is driver. */
static int find_by_attr_driver(const char *dir, const char *file, const char *value, const char *driver, char **ret) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? -ENOENT : negative_errno();
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *v = read_attr(dir, de->d_name, file);
                if (v && streq(v, value) && (!driver || has_driver(dir, de->d_name, driver))) {
                        *ret = xstrdup(de->d_name);
                        return 0;
                }
        }
        return -ENOENT;
}

static int find_by_attr(const char *dir, const char *file, const char *value, char **ret) {
        return find_by_attr_driver(dir, file, value, NULL, ret);
}

GuestModulePhase guest_module_phase(const char *name, bool have_pci) {
        static const char *const pci[] = {"virtio_pci.ko", "virtio_pci_modern_dev.ko", "virtio_pci_legacy_dev.ko"};
        static const char *const network[] = {"failover.ko", "net_failover.ko", "virtio_net.ko"};
        static const char *const fs[] = {"fuse.ko", "virtiofs.ko"};

        if (streq(name, "virtio_blk.ko"))
                return GUEST_MODULE_DISKS;

        for (size_t i = 0; i < ELEMENTSOF(pci); i++)
                if (streq(name, pci[i]))
                        return have_pci ? GUEST_MODULE_BOOT : GUEST_MODULE_SKIP;
        for (size_t i = 0; i < ELEMENTSOF(network); i++)
                if (streq(name, network[i]))
                        return GUEST_MODULE_NETWORK;
        for (size_t i = 0; i < ELEMENTSOF(fs); i++)
                if (streq(name, fs[i]))
                        return GUEST_MODULE_FS;
        return GUEST_MODULE_BOOT;
}

/* Whether dir has an entry whose name starts with prefix (but "." and ".."). */
static bool have_entry(const char *dir, const char *prefix) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.' && startswith(de->d_name, prefix))
                        return true;
        return false;
}

bool guest_have_pci(const char *devices_dir) {
        return have_entry(devices_dir, "");
}

bool guest_have_disks(const char *block_dir) {
        return have_entry(block_dir, "vd");
}

int guest_find_port(const char *class_dir, const char *name, char **ret) {
        return find_by_attr(class_dir, "name", name, ret);
}

int guest_find_disk(const char *block_dir, const char *serial, char **ret) {
        return find_by_attr(block_dir, "serial", serial, ret);
}

int guest_find_netif(const char *class_dir, const char *mac, char **ret) {
        return find_by_attr(class_dir, "address", mac, ret);
}

int guest_find_ether(const char *class_dir, char **ret) {
        /* Ethernet is not enough: a tunnel or a bridge the kernel made is type 1 too; only the
         * machine's card has virtio_net as its device's driver. */
        return find_by_attr_driver(class_dir, "type", "1", "virtio_net", ret);
}

int guest_find_input_event(const char *class_dir, const char *name, char **ret) {
        _cleanup_free_ char *input = NULL, *path = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        r = find_by_attr(class_dir, "name", name, &input);
        if (r < 0)
                return r;
        /* The evdev node is a child of the input device: inputN/eventM, beside uevent and the
         * like (so not merely anything that has "event" in its name). */
        path = xasprintf("%s/%s", class_dir, input);
        d = opendir(path);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                const char *n = startswith(de->d_name, "event");
                if (n && *n && n[strspn(n, "0123456789")] == 0) {
                        *ret = xstrdup(de->d_name);
                        return 0;
                }
        }
        return -ENOENT;
}

json_t *guest_ps_collect(const char *proc) {
        return process_list_all(proc);
}

int guest_read_oom_kills(int fd, uint64_t *ret) {
        char buf[8192]; /* /proc/vmstat is about 5 KiB on 6.1 */
        size_t n = 0;
        const char *p;

        while (n < sizeof(buf) - 1) {
                ssize_t k = pread(fd, buf + n, sizeof(buf) - 1 - n, (off_t) n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                const char *v = startswith(p, "oom_kill ");
                char *end;

                if (!v)
                        continue;
                errno = 0;
                *ret = strtoull(v, &end, 10);
                if (errno != 0 || end == v || (*end != '\n' && *end != 0))
                        return -EBADMSG;
                return 0;
        }
        return -ENOENT;
}
