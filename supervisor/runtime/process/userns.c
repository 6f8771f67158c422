/* SPDX-License-Identifier: MIT */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"

#define N_SLOTS ((USERNS_POOL_END - USERNS_POOL_FIRST) / USERNS_RANGE_SIZE)

static bool parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 10)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

void userns_reserved_parse(const char *text, bool subid, IdRange **ranges, size_t *n) {
        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n'), *field[4] = {line};
                size_t len[4] = {0}, nf = 1;
                uint64_t first, count = 1;

                if (!end)
                        end = line + strlen(line);
                for (const char *p = line; p < end && nf <= 4; p++)
                        if (*p == ':') {
                                len[nf - 1] = (size_t) (p - field[nf - 1]);
                                if (nf < 4)
                                        field[nf] = p + 1;
                                nf++;
                        }
                if (nf <= 4)
                        len[nf - 1] = (size_t) (end - field[nf - 1]);
                /* passwd and group: name:password:ID:...; subid: name:first:count. */
                if (subid ? nf == 3 && parse_u64(field[1], len[1], &first) && parse_u64(field[2], len[2], &count)
                          : nf >= 3 && parse_u64(field[2], len[2], &first)) {
                        *ranges = xreallocarray(*ranges, *n + 1, sizeof(**ranges));
                        (*ranges)[(*n)++] = (IdRange) {first, count};
                }
                line = *end ? end + 1 : end;
        }
}

void userns_reserved_load(IdRange **ranges, size_t *n) {
        static const struct {
                const char *path;
                bool subid;
        } files[] = {
                {"/etc/passwd", false}, {"/etc/group", false}, {"/etc/subuid", true}, {"/etc/subgid", true},
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *text = NULL;
                size_t size;

                if (read_full_file(files[i].path, 16 << 20, &text, &size) >= 0)
                        userns_reserved_parse(text, files[i].subid, ranges, n);
        }
}

bool userns_range_is_clear(const IdRange *ranges, size_t n, uint64_t base, uint64_t size) {
        for (size_t i = 0; i < n; i++)
                if (ranges[i].first < base + size && base < ranges[i].first + ranges[i].count)
                        return false;
        return true;
}

uint32_t userns_first_slot(const char *name) {
        uint32_t h = 2166136261u; /* FNV-1a */

        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 16777619u;
        return h % N_SLOTS;
}

int userns_acquire(const char *lease_dir, const char *name, const IdRange *reserved, size_t n_reserved,
                   UsernsRange *ret) {
        _cleanup_(lease_dir_close) LeaseDir d = LEASE_DIR_NULL;
        uint32_t first = userns_first_slot(name);
        int r;

        r = lease_dir_open(lease_dir, &d, NULL);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < N_SLOTS; i++) {
                uint32_t base = USERNS_POOL_FIRST + ((first + i) % N_SLOTS) * USERNS_RANGE_SIZE;
                Lease l = LEASE_NULL;
                char file[16];

                if (!userns_range_is_clear(reserved, n_reserved, base, USERNS_RANGE_SIZE))
                        continue;
                snprintf(file, sizeof(file), "%u", base);
                r = lease_try_take(&d, file, name, &l, NULL);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = (UsernsRange){.base = base, .size = USERNS_RANGE_SIZE, .lease = l};
                        return 0;
                }
        }
        return -EBUSY;
}

void userns_release(UsernsRange *r) {
        /* The file stays, as it always has: the monitors of an older sup (they outlive an
         * upgrade) open it by name and lock it, and must never get a file just unlinked. */
        lease_abandon(&r->lease);
        *r = USERNS_RANGE_NULL;
}

static int write_proc(pid_t pid, const char *file, const char *text) {
        char path[64];
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(text);

        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* One write: the kernel takes a map whole or not at all. */
        if (write(fd, text, n) != (ssize_t) n)
                return errno ? negative_errno() : -EIO;
        return 0;
}

int userns_write_maps(pid_t pid, const UsernsRange *r) {
        char map[64];
        int k;

        snprintf(map, sizeof(map), "0 %u %u\n", r->base, r->size);
        if ((k = write_proc(pid, "setgroups", "deny")) < 0 || (k = write_proc(pid, "uid_map", map)) < 0 ||
            (k = write_proc(pid, "gid_map", map)) < 0)
                return k;
        return 0;
}
