/* SPDX-License-Identifier: MIT */
#include "guest-probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "string-util.h"

#define PF_KTHREAD 0x00200000U /* include/linux/sched.h: the flags field of /proc/PID/stat */

static void dirp_close(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

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

static int find_by_attr(const char *dir, const char *file, const char *value, char **ret) {
        _cleanup_(dirp_close) DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? -ENOENT : negative_errno();
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *v = read_attr(dir, de->d_name, file);
                if (v && streq(v, value)) {
                        *ret = xstrdup(de->d_name);
                        return 0;
                }
        }
        return -ENOENT;
}

int guest_find_port(const char *class_dir, const char *name, char **ret) {
        return find_by_attr(class_dir, "name", name, ret);
}

int guest_find_disk(const char *block_dir, const char *serial, char **ret) {
        return find_by_attr(block_dir, "serial", serial, ret);
}

int guest_find_input_event(const char *class_dir, const char *name, char **ret) {
        _cleanup_free_ char *input = NULL, *path = NULL;
        _cleanup_(dirp_close) DIR *d = NULL;
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

static int pid_compare(const void *a, const void *b) {
        json_int_t x = json_integer_value(json_object_get(*(json_t *const *) a, "pid")),
                   y = json_integer_value(json_object_get(*(json_t *const *) b, "pid"));
        return x < y ? -1 : x > y ? 1 : 0;
}

/* One process, or NULL for kernel threads and processes that are gone. */
static json_t *read_process(const char *proc, const char *pid) {
        _cleanup_free_ char *stat = NULL, *comm = NULL, *cmdline = NULL, *path = NULL;
        unsigned long flags = 0;
        size_t n_stat, n_cmd;
        const char *p;
        json_t *args;

        path = xasprintf("%s/%s/stat", proc, pid);
        if (read_full_file(path, 4096, &stat, &n_stat) < 0)
                return NULL;
        /* "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold anything,
         * the fields start after its last ')'. */
        p = strrchr(stat, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1 || (flags & PF_KTHREAD))
                return NULL;
        comm = read_attr(proc, pid, "comm");
        free(path);
        path = xasprintf("%s/%s/cmdline", proc, pid);
        if (!comm || read_full_file(path, 1024 * 1024, &cmdline, &n_cmd) < 0)
                return NULL;

        args = json_array();
        for (size_t i = 0; i < n_cmd;) {
                size_t len = strnlen(cmdline + i, n_cmd - i);
                json_t *a = json_stringn(cmdline + i, len);
                json_array_append_new(args, a ? a : json_string("?"));
                i += len + 1;
        }
        json_t *c = json_string(comm);
        return json_pack("{s:I, s:o, s:o}", "pid", (json_int_t) strtol(pid, NULL, 10), "comm", c ? c : json_string("?"),
                         "args", args);
}

json_t *guest_ps_collect(const char *proc) {
        _cleanup_(dirp_close) DIR *d = opendir(proc);
        json_t **items = NULL, *result = json_array();
        size_t n = 0;
        struct dirent *de;

        while (d && (de = readdir(d))) {
                if (de->d_name[strspn(de->d_name, "0123456789")] != 0 || !de->d_name[0])
                        continue;
                json_t *p = read_process(proc, de->d_name);
                if (!p)
                        continue;
                items = xreallocarray(items, n + 1, sizeof(json_t *));
                items[n++] = p;
        }
        qsort_safe(items, n, sizeof(json_t *), pid_compare);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(result, items[i]);
        free(items);
        return result;
}
