/* SPDX-License-Identifier: MIT */
#include "vm-template.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "fileio.h"
#include "guest-proto.h"
#include "json-conn.h"
#include "macro.h"
#include "path-util.h"
#include "process-util.h"
#include "sha256.h"
#include "string-util.h"
#include "time-util.h"

/* Without the trailing newline and blanks. */
static char *chomp(char *s) {
        size_t n = strlen(s);
        while (n > 0 && strchr(" \t\r\n", s[n - 1]))
                s[--n] = 0;
        return s;
}

/* QMP's replies are small; its greeting lists capabilities. */
#define QMP_FRAME_MAX (64U * 1024U)

static int stat_line(Sha256 *h, const char *path) {
        struct stat st;
        char line[512];
        int n;

        if (stat(path, &st) < 0)
                return negative_errno();
        n = snprintf(line, sizeof(line), "%s %llu %lld.%09ld %llu %llu\n", path, (unsigned long long) st.st_size,
                     (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long) st.st_ino,
                     (unsigned long long) st.st_dev);
        sha256_update(h, line, (size_t) MIN(MAX(n, 0), (int) sizeof(line) - 1));
        return 0;
}

int vm_template_key(char *const *argv, const char *kernel, const char *initrd, char **ret) {
        char hex[SHA256_DIGEST_SIZE * 2 + 1];
        Sha256 h;
        int r;

        sha256_init(&h);
        for (char *const *a = argv; *a; a++)
                sha256_update(&h, *a, strlen(*a) + 1);
        /* The files behind the names: a rebuilt initramfs (tools/guest-initramfs.sh renames a new
         * file into place), an upgraded QEMU or kernel is a new inode or time stamp. */
        r = stat_line(&h, argv[0]);
        if (r >= 0)
                r = stat_line(&h, kernel);
        if (r >= 0)
                r = stat_line(&h, initrd);
        if (r < 0)
                return r;
        sha256_final_hex(&h, hex);
        *ret = xstrdup(hex);
        return 0;
}

static char *template_file(const char *state_dir, const char *key, const char *suffix) {
        return xasprintf("%s/" VM_TEMPLATE_DIR "/%s%s", state_dir, key, suffix);
}

char *vm_template_sandbox(const char *state_dir) {
        return xasprintf("%s/" VM_TEMPLATE_DIR "/" VM_TEMPLATE_SANDBOX, state_dir);
}

void vm_template_mark_failed(const char *state_dir, const char *key) {
        _cleanup_free_ char *path = template_file(state_dir, key, ".failed"),
                            *text = xasprintf("%llu\n", (unsigned long long) (now(CLOCK_REALTIME) / USEC_PER_SEC));

        (void) write_file_atomic(path, text, strlen(text), 0600);
}

bool vm_template_failed_recently(const char *state_dir, const char *key) {
        _cleanup_free_ char *path = template_file(state_dir, key, ".failed"), *text = NULL;
        unsigned long long t, n = now(CLOCK_REALTIME) / USEC_PER_SEC;
        size_t len;

        if (read_full_file(path, 64, &text, &len) < 0 || sscanf(text, "%llu", &t) != 1)
                return false;
        /* A stamp from the future (the clock was set back) counts as recent, for as long. */
        return t + VM_TEMPLATE_RETRY_AFTER / USEC_PER_SEC > n && t < n + VM_TEMPLATE_RETRY_AFTER / USEC_PER_SEC;
}

void vm_template_remove(const char *state_dir, const char *key) {
        _cleanup_free_ char *state = template_file(state_dir, key, ".state"),
                            *size = template_file(state_dir, key, ".size");

        (void) unlink(state);
        (void) unlink(size);
}

int vm_template_find(const char *state_dir, const char *key, char **ret_path, SupError **ret_error) {
        _cleanup_free_ char *dir = path_join(state_dir, VM_TEMPLATE_DIR),
                            *path = template_file(state_dir, key, ".state"),
                            *size_path = template_file(state_dir, key, ".size"), *size_text = NULL;
        unsigned long long want;
        struct stat st;
        size_t n;
        int r;

        if (lstat(dir, &st) < 0)
                return errno == ENOENT ? -ENOENT
                                       : sup_error_errno(ret_error, negative_errno(), "cannot look at %s", dir);
        /* Guest memory of a booted kernel: nobody's but root's to read, and nobody's to swap. */
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0700)
                return sup_error_make(ret_error, -EPERM,
                                      "%s is not a directory of root's with mode 0700 (mode %04o, owner %u): its "
                                      "templates are not used",
                                      dir, (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid);
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? -ENOENT
                                       : sup_error_errno(ret_error, negative_errno(), "cannot look at %s", path);
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0600) {
                vm_template_remove(state_dir, key);
                return sup_error_make(
                        ret_error, -EPERM,
                        "template %s is not a file of root's with mode 0600 (mode %04o, owner %u): removed", path,
                        (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid);
        }
        r = read_full_file(size_path, 64, &size_text, &n);
        if (r < 0 || sscanf(size_text, "%llu", &want) != 1 || want != (unsigned long long) st.st_size) {
                vm_template_remove(state_dir, key);
                return sup_error_make(ret_error, -EBADMSG,
                                      "template %s is %llu bytes, its record (%s) says %s: truncated or half written, "
                                      "removed",
                                      path, (unsigned long long) st.st_size, size_path,
                                      r < 0 ? "nothing" : chomp(size_text));
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* ---- the builder: blocking, in a worker process ---- */

/* A tap of the builder's own (IFF_VNET_HDR as net/'s taps, for the same virtio-net features),
 * attached to nothing and never up: the template's card exists, and carries no traffic. */
static int open_tap(void) {
        struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        return fd;
}

typedef struct Builder {
        const char *state_dir, *key;
        char *dir; /* KEY.build/: QEMU's working directory (its QMP socket) and log */
        usec_t deadline;
        pid_t qemu;
        int agent, qmp;
        char *agent_buf, *qmp_buf;
        size_t agent_len, agent_used, qmp_len, qmp_used;
} Builder;

static usec_t left(const Builder *b) {
        usec_t t = now(CLOCK_MONOTONIC);
        return b->deadline > t ? b->deadline - t : 1;
}

/* The next agent message that is event (others, which cannot come before it, are skipped). */
static int agent_wait(Builder *b, const char *event, SupError **ret_error) {
        for (;;) {
                _cleanup_(json_decrefp) json_t *msg = NULL;
                int r = json_read_frame(b->agent, &b->agent_buf, &b->agent_len, &b->agent_used, GUEST_FRAME_MAX,
                                        left(b), &msg);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "the template's guest did not say %s", event);
                const char *e = json_string_value(json_object_get(msg, "event"));
                if (e && (streq(e, "error") || streq(e, "refused")))
                        return sup_error_make(ret_error, -EIO, "the template's guest %s: %s",
                                              streq(e, "error") ? "failed" : "refused",
                                              json_string_value(json_object_get(msg, "message")) ?: "(no message)");
                if (e && streq(e, event))
                        return 0;
        }
}

/* One QMP command, with fd passed along (SCM_RIGHTS) when >= 0; its "return" in *ret (may be NULL). */
static int qmp_call(Builder *b, const char *cmd, json_t *args, int fd, json_t **ret, SupError **ret_error) {
        _cleanup_(json_decrefp) json_t *msg = json_pack("{s:s}", "execute", cmd);
        _cleanup_free_ char *text = NULL;
        int r;

        if (args)
                json_object_set_new(msg, "arguments", args);
        {
                _cleanup_free_ char *t = json_dumps(msg, JSON_COMPACT);
                text = xasprintf("%s\n", t);
        }
        {
                struct iovec iov = {.iov_base = text, .iov_len = strlen(text)};
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } control = {};
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
                if (fd >= 0) {
                        mh.msg_control = control.buf;
                        mh.msg_controllen = sizeof(control.buf);
                        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(sizeof(int));
                        memcpy(CMSG_DATA(c), &fd, sizeof(int));
                }
                if (sendmsg(b->qmp, &mh, MSG_NOSIGNAL) != (ssize_t) iov.iov_len)
                        return sup_error_errno(ret_error, negative_errno(), "QMP %s: cannot send", cmd);
        }
        for (;;) {
                _cleanup_(json_decrefp) json_t *reply = NULL;
                r = json_read_frame(b->qmp, &b->qmp_buf, &b->qmp_len, &b->qmp_used, QMP_FRAME_MAX, left(b), &reply);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "QMP %s: no answer", cmd);
                if (json_object_get(reply, "event"))
                        continue;
                json_t *err = json_object_get(reply, "error");
                if (err)
                        return sup_error_make(ret_error, -EIO, "QMP %s: %s", cmd,
                                              json_string_value(json_object_get(err, "desc")) ?: "(no description)");
                if (ret)
                        *ret = json_incref(json_object_get(reply, "return"));
                return 0;
        }
}

static int qmp_open(Builder *b, SupError **ret_error) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_(json_decrefp) json_t *greeting = NULL;
        _cleanup_close_ int dir = open(b->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (dir < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot open %s", b->dir);
        /* Through the directory's fd: the state directory's path may be longer than a socket
         * address has room for. */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/qmp.sock", dir);
        b->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (b->qmp < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot create a socket");
        /* The guest said hello: QEMU's QMP socket was made long before. */
        if (connect(b->qmp, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot connect to %s/qmp.sock", b->dir);
        r = json_read_frame(b->qmp, &b->qmp_buf, &b->qmp_len, &b->qmp_used, QMP_FRAME_MAX, left(b), &greeting);
        if (r < 0)
                return sup_error_errno(ret_error, r, "QMP: no greeting");
        return qmp_call(b, "qmp_capabilities", NULL, -EBADF, NULL, ret_error);
}

/* Saves the running machine into fd: live, so that the stream says "running" and a restore
 * runs the guest at once (a stream of a stopped machine restores a paused one). The guest is
 * parked, blocked in a read: the few pages it dirties meanwhile converge at once. */
static int save(Builder *b, int fd, SupError **ret_error) {
        int r;

        r = qmp_call(b, "getfd", json_pack("{s:s}", "fdname", "template"), fd, NULL, ret_error);
        if (r >= 0)
                r = qmp_call(b, "migrate", json_pack("{s:s}", "uri", "fd:template"), -EBADF, NULL, ret_error);
        while (r >= 0) {
                _cleanup_(json_decrefp) json_t *st = NULL;
                r = qmp_call(b, "query-migrate", NULL, -EBADF, &st, ret_error);
                if (r < 0)
                        break;
                const char *status = json_string_value(json_object_get(st, "status")) ?: "";
                if (streq(status, "completed"))
                        return 0;
                if (streq(status, "failed") || streq(status, "cancelled"))
                        return sup_error_make(ret_error, -EIO, "QMP migrate: %s%s%s", status,
                                              json_object_get(st, "error-desc") ? ": " : "",
                                              json_string_value(json_object_get(st, "error-desc")) ?: "");
                if (now(CLOCK_MONOTONIC) >= b->deadline)
                        return sup_error_make(ret_error, -ETIMEDOUT, "QMP migrate: still %s", status);
                (void) usleep(20 * 1000);
        }
        return r;
}

_noreturn_ static void exec_qemu(const Builder *b, pid_t parent, char *const *argv, int *fds, size_t n, int log_fd) {
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        child_die_with_parent(parent);
        signals_reset();
        if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
                _exit(126);
        if (child_arrange_fds(fds, n, VM_TEMPLATE_FD_FIRST) < 0)
                _exit(126);
        umask(0177);
        if (chdir(b->dir) < 0)
                _exit(126);
        execv(argv[0], argv);
        _exit(EXIT_NOT_INSTALLED);
}

static void builder_done(Builder *b) {
        if (b->qemu > 0) {
                (void) kill(b->qemu, SIGKILL);
                (void) waitpid(b->qemu, NULL, 0);
        }
        if (b->agent >= 0)
                close(b->agent);
        if (b->qmp >= 0)
                close(b->qmp);
        free(b->agent_buf);
        free(b->qmp_buf);
        if (b->dir)
                (void) rm_rf(b->dir);
        free(b->dir);
}

/* The QEMU's last line on its stderr, for the message of a failed build. */
static char *qemu_said(const Builder *b) {
        _cleanup_free_ char *path = path_join(b->dir, "qemu.log"), *text = NULL;
        size_t n;
        char *last;

        if (read_full_file(path, 1024 * 1024, &text, &n) < 0 || n == 0)
                return xstrdup("");
        chomp(text);
        last = strrchr(text, '\n');
        return xasprintf(" (QEMU: %s)", last ? last + 1 : text);
}

static int build(Builder *b, char *const *argv, bool has_net, SupError **ret_error) {
        _cleanup_free_ char *tmp = template_file(b->state_dir, b->key, ".state.tmp"),
                            *final = template_file(b->state_dir, b->key, ".state"),
                            *size_path = template_file(b->state_dir, b->key, ".size"), *size_text = NULL,
                            *log_path = NULL;
        _cleanup_close_ int out = -EBADF, log_fd = -EBADF;
        int ours[3] = {-EBADF, -EBADF, -EBADF}, theirs[4] = {-EBADF, -EBADF, -EBADF, -EBADF};
        size_t n = has_net ? 4 : 3;
        pid_t parent = getpid();
        struct stat st;
        int r;

        (void) rm_rf(b->dir);
        if (mkdir(b->dir, 0700) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot create %s", b->dir);
        log_path = path_join(b->dir, "qemu.log");
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log_fd < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot create %s", log_path);
        for (size_t i = 0; i < 3; i++) {
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                        r = sup_error_errno(ret_error, negative_errno(), "cannot create a socket pair");
                        goto out;
                }
                ours[i] = sv[0];
                theirs[i] = sv[1];
        }
        if (has_net) {
                theirs[3] = open_tap();
                if (theirs[3] < 0) {
                        r = sup_error_errno(ret_error, theirs[3], "cannot create a tap device for the template");
                        goto out;
                }
        }
        b->qemu = fork();
        if (b->qemu < 0) {
                r = sup_error_errno(ret_error, negative_errno(), "cannot fork");
                goto out;
        }
        if (b->qemu == 0)
                exec_qemu(b, parent, argv, theirs, n, log_fd);
        for (size_t i = 0; i < ELEMENTSOF(theirs); i++)
                if (theirs[i] >= 0)
                        close(theirs[i]);
        b->agent = TAKE_FD(ours[1]);

        r = agent_wait(b, "hello", ret_error);
        if (r >= 0) {
                _cleanup_(json_decrefp) json_t *park = json_pack("{s:s}", "cmd", "park");
                r = json_write_frame(b->agent, park);
                if (r < 0)
                        r = sup_error_errno(ret_error, r, "cannot write to the template's agent port");
        }
        if (r >= 0)
                r = agent_wait(b, "parked", ret_error);
        if (r >= 0)
                r = qmp_open(b, ret_error);
        if (r < 0)
                goto out;
        (void) unlink(tmp);
        out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0) {
                r = sup_error_errno(ret_error, negative_errno(), "cannot create %s", tmp);
                goto out;
        }
        r = save(b, out, ret_error);
        if (r < 0)
                goto out;
        (void) qmp_call(b, "quit", NULL, -EBADF, NULL, NULL);
        if (fsync(out) < 0 || fstat(out, &st) < 0) {
                r = sup_error_errno(ret_error, negative_errno(), "cannot write %s", tmp);
                goto out;
        }
        /* The size first: a state file without its record, or with another's, is never used. */
        size_text = xasprintf("%llu\n", (unsigned long long) st.st_size);
        r = write_file_atomic(size_path, size_text, strlen(size_text), 0600);
        if (r < 0) {
                r = sup_error_errno(ret_error, r, "cannot write %s", size_path);
                goto out;
        }
        if (rename(tmp, final) < 0) {
                r = sup_error_errno(ret_error, negative_errno(), "cannot rename %s", tmp);
                goto out;
        }
        r = 0;
out:
        if (r < 0) {
                _cleanup_free_ char *said = qemu_said(b);
                (void) unlink(tmp);
                if (ret_error && *ret_error && *said)
                        (void) sup_error_wrap(ret_error, r, "%s", said + 1);
        }
        for (size_t i = 0; i < ELEMENTSOF(ours); i++)
                if (ours[i] >= 0)
                        close(ours[i]);
        return r;
}

void vm_template_sweep(const char *state_dir) {
        _cleanup_free_ char *dir = path_join(state_dir, VM_TEMPLATE_DIR);
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                const char *end = endswith(de->d_name, ".build") ?: endswith(de->d_name, ".state.tmp");
                if (!end || end == de->d_name)
                        continue;
                _cleanup_free_ char *key = xstrndup(de->d_name, (size_t) (end - de->d_name)),
                                    *lock_path = xasprintf("%s/%s.lock", dir, key), *path = path_join(dir, de->d_name);
                _cleanup_close_ int lock = open(lock_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0)
                        continue; /* its builder works */
                (void) rm_rf(path);
        }
}

int vm_template_build(const char *state_dir, const char *key, char *const *argv, bool has_net, usec_t timeout,
                      SupError **ret_error) {
        _cleanup_free_ char *dir = path_join(state_dir, VM_TEMPLATE_DIR), *lock_path = NULL, *found = NULL;
        _cleanup_close_ int lock = -EBADF, all_lock = -EBADF;
        Builder b = {.state_dir = state_dir,
                     .key = key,
                     .deadline = now(CLOCK_MONOTONIC) + timeout,
                     .agent = -EBADF,
                     .qmp = -EBADF};
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot create %s", dir);
        vm_template_sweep(state_dir);
        lock_path = template_file(state_dir, key, ".lock");
        lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lock < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot open %s", lock_path);
        /* Another builder of the key (another instance of the same shape): its result is ours. */
        if (flock(lock, LOCK_EX) < 0)
                return sup_error_errno(ret_error, negative_errno(), "cannot lock %s", lock_path);
        r = vm_template_find(state_dir, key, &found, ret_error);
        if (r >= 0)
                return 0;
        /* A directory its templates are never used from (its mode): building one is waste. */
        if (r == -EPERM)
                return r;
        if (ret_error)
                *ret_error = sup_error_free(*ret_error);
        /* Another builder of the key failed while this one waited. */
        if (vm_template_failed_recently(state_dir, key))
                return sup_error_make(ret_error, -EAGAIN, "a build failed a moment ago: not tried again yet");
        /* One build at a time in the directory: the builders' machines share the sandbox's
         * placeholder, on which QEMU takes a write lock; and a build is a guest's boot of CPU. */
        {
                _cleanup_free_ char *all = xasprintf("%s/build.lock", dir);
                all_lock = open(all, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (all_lock < 0 || flock(all_lock, LOCK_EX) < 0)
                        return sup_error_errno(ret_error, negative_errno(), "cannot lock %s", all);
        }
        b.deadline = now(CLOCK_MONOTONIC) + timeout;
        {
                _cleanup_free_ char *sandbox = vm_template_sandbox(state_dir);
                _cleanup_close_ int fd = open(sandbox, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return sup_error_errno(ret_error, negative_errno(), "cannot create %s", sandbox);
        }
        b.dir = template_file(state_dir, key, ".build");
        r = build(&b, argv, has_net, ret_error);
        builder_done(&b);
        if (r < 0)
                vm_template_mark_failed(state_dir, key);
        else {
                _cleanup_free_ char *failed = template_file(state_dir, key, ".failed");
                (void) unlink(failed);
        }
        return r;
}
