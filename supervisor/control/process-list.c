/* SPDX-License-Identifier: MIT */
#include "process-list.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"

#define PF_KTHREAD 0x00200000U /* include/linux/sched.h: the flags field of /proc/PID/stat */
/* How much of /proc/PID/stat and /proc/PID/status is read: stat is one line of about 50 numbers
 * after comm (at most 16 bytes); status is about 1.5K, with room for a long Groups: line before
 * the VmRSS: it is read for. */
#define PROC_STAT_MAX   4096
#define PROC_STATUS_MAX 16384

/* Up to max bytes of proc/PID/name, NUL-terminated; *ret_truncated when there was more. Unlike
 * read_full_file(), a longer file is cut rather than refused: a command line may be long. */
static int read_head(const char *proc, pid_t pid, const char *name, size_t max, char **ret, size_t *ret_n,
                     bool *ret_truncated) {
        _cleanup_free_ char *path = xasprintf("%s/%d/%s", proc, (int) pid, name), *buf = xmalloc(max + 2);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t n = 0;

        if (fd < 0)
                return negative_errno();
        while (n <= max) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno(); /* ESRCH: it ended meanwhile */
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (ret_truncated)
                *ret_truncated = n > max;
        n = MIN(n, max);
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_n)
                *ret_n = n;
        return 0;
}

json_t *json_string_lossy(const char *s, size_t n) {
        _cleanup_free_ char *buf = NULL;
        size_t used = 0, ok;

        if (utf8_is_valid(s, n, NULL))
                return json_stringn(s, n);
        buf = xmalloc(n * 3 + 1);
        for (;;) {
                if (utf8_is_valid(s, n, &ok))
                        ok = n;
                memcpy(buf + used, s, ok);
                used += ok;
                if (ok == n)
                        break;
                memcpy(buf + used, "\xef\xbf\xbd", 3);
                used += 3;
                s += ok + 1;
                n -= ok + 1;
        }
        return json_stringn(buf, used);
}

/* The effective uid and VmRSS (kB; 0 when absent, as for a zombie) of /proc/PID/status. */
static int parse_status(const char *text, uid_t *ret_uid, uint64_t *ret_rss_kb) {
        unsigned long long rss = 0;
        unsigned long real, effective;
        bool have_uid = false;

        for (const char *line = text; *line;) {
                const char *v, *nl = strchrnul(line, '\n');
                if ((v = startswith(line, "Uid:")) && sscanf(v, "%lu %lu", &real, &effective) == 2)
                        have_uid = true;
                else if ((v = startswith(line, "VmRSS:")))
                        (void) sscanf(v, "%llu", &rss);
                line = *nl ? nl + 1 : nl;
        }
        if (!have_uid)
                return -EINVAL;
        *ret_uid = (uid_t) effective;
        *ret_rss_kb = rss;
        return 0;
}

json_t *process_read(const char *proc, pid_t pid) {
        _cleanup_free_ char *stat = NULL, *status = NULL, *cmdline = NULL;
        unsigned long long utime, stime;
        const char *open_paren, *close_paren;
        unsigned flags;
        size_t n_cmd;
        bool truncated = false;
        uint64_t rss_kb;
        long tick = sysconf(_SC_CLK_TCK);
        uid_t uid;
        char state;
        int ppid;
        json_t *args, *p;

        /* Three files, read one after the other: one that is missing or unreadable means the
         * process ended meanwhile. */
        if (read_head(proc, pid, "stat", PROC_STAT_MAX, &stat, NULL, NULL) < 0)
                return NULL;
        /* "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
         * utime stime ...": comm may hold anything, ')' too; the fields go on after the last. */
        open_paren = strchr(stat, '(');
        close_paren = strrchr(stat, ')');
        if (!open_paren || !close_paren || close_paren < open_paren ||
            sscanf(close_paren + 1, " %c %d %*d %*d %*d %*d %u %*u %*u %*u %*u %llu %llu", &state, &ppid, &flags,
                   &utime, &stime) != 5 ||
            (flags & PF_KTHREAD))
                return NULL;
        if (read_head(proc, pid, "status", PROC_STATUS_MAX, &status, NULL, NULL) < 0 ||
            parse_status(status, &uid, &rss_kb) < 0)
                return NULL;
        if (read_head(proc, pid, "cmdline", PROCESS_ARGS_MAX, &cmdline, &n_cmd, &truncated) < 0)
                return NULL;

        args = json_array();
        for (size_t i = 0; i < n_cmd;) {
                size_t len = strnlen(cmdline + i, n_cmd - i);
                json_array_append_new(args, json_string_lossy(cmdline + i, len));
                i += len + 1;
        }
        if (tick <= 0)
                tick = 100; /* USER_HZ, what the kernel reports in */
        p = json_pack("{s:I, s:I, s:I, s:s#, s:I, s:I, s:o, s:o}", "pid", (json_int_t) pid, "ppid", (json_int_t) ppid,
                      "uid", (json_int_t) uid, "state", &state, (int) 1, "rss_bytes", (json_int_t) (rss_kb * 1024),
                      "cpu_time_ms", (json_int_t) ((utime + stime) * 1000 / (unsigned long long) tick), "comm",
                      json_string_lossy(open_paren + 1, (size_t) (close_paren - open_paren - 1)), "args", args);
        if (p && truncated)
                json_object_set_new(p, "args_truncated", json_true());
        return p;
}

json_t *process_list_read(const char *proc, const pid_t *pids, size_t n_pids) {
        json_t *list = json_array();

        for (size_t i = 0; i < n_pids; i++) {
                json_t *p = process_read(proc, pids[i]);
                if (p)
                        json_array_append_new(list, p);
        }
        return list;
}

static int pid_compare(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

json_t *process_list_all(const char *proc) {
        _cleanup_closedir_ DIR *d = opendir(proc);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || pid <= 0)
                        continue;
                *ARRAY_APPEND(pids, n) = (pid_t) pid;
        }
        qsort_safe(pids, n, sizeof(pid_t), pid_compare);
        return process_list_read(proc, pids, n);
}
