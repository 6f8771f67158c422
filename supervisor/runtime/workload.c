/* SPDX-License-Identifier: MIT */
#include "workload.h"

#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "alloc.h"
#include "caps.h"
#include "macro.h"
#include "process-util.h"
#include "seccomp-filter.h"
#include "socket-util.h"
#include "string-util.h"

int workload_error(char *err, int r, const char *fmt, ...) {
        va_list ap;
        size_t n;

        va_start(ap, fmt);
        vsnprintf(err, WORKLOAD_ERR_MAX, fmt, ap);
        va_end(ap);
        n = strlen(err);
        if (r < 0)
                snprintf(err + n, WORKLOAD_ERR_MAX - n, ": %s", strerror(-r));
        return r < 0 ? r : -EINVAL;
}

/* Finds a line of an /etc/passwd-style file whose field 0 (name) or field 2 (id) matches. */
static bool find_entry(const char *file, const char *name, unsigned long id, bool by_id, char *line, size_t size) {
        _cleanup_fclose_ FILE *f = fopen(file, "re");

        if (!f)
                return false;
        while (fgets(line, (int) size, f)) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                if (by_id ? strtoul(c2 + 1, NULL, 10) == id && c2[1] >= '0' && c2[1] <= '9'
                          : (size_t) (c1 - line) == strlen(name) && strneq(line, name, strlen(name)))
                        return true;
        }
        return false;
}

static const char *field(char *line, unsigned n) {
        char *p = line;
        for (unsigned i = 0; i < n && p; i++) {
                p = strchr(p, ':');
                if (p)
                        p++;
        }
        return p ? p : "";
}

int resolve_user_at(const char *root, const char *spec, ContainerUser *ret, SupError **ret_error) {
        _cleanup_free_ char *user = xstrdup(spec), *passwd = xasprintf("%s/etc/passwd", streq(root, "/") ? "" : root),
                            *groupfile = xasprintf("%s/etc/group", streq(root, "/") ? "" : root);
        char *group = strchr(user, ':'), line[1024];
        ContainerUser u = { .home = "/" };
        bool named = !(user[0] >= '0' && user[0] <= '9');

        if (group)
                *group++ = 0;
        if (named) {
                if (!find_entry(passwd, user, 0, false, line, sizeof(line)))
                        return sup_error_make(ret_error, -ESRCH, "user \"%s\" is not in the image's /etc/passwd", user);
                u.uid = (uid_t) strtoul(field(line, 2), NULL, 10);
                u.gid = (gid_t) strtoul(field(line, 3), NULL, 10);
        } else {
                u.uid = (uid_t) strtoul(user, NULL, 10);
                u.gid = u.uid == 0 ? 0 : u.uid;
                if (find_entry(passwd, NULL, u.uid, true, line, sizeof(line)))
                        u.gid = (gid_t) strtoul(field(line, 3), NULL, 10);
                else
                        line[0] = 0;
        }
        if (line[0]) {
                const char *home = field(line, 5);
                size_t n = strcspn(home, ":\n");
                if (n > 0 && n < sizeof(u.home)) {
                        memcpy(u.home, home, n);
                        u.home[n] = 0;
                }
        }
        if (group) {
                if (group[0] >= '0' && group[0] <= '9')
                        u.gid = (gid_t) strtoul(group, NULL, 10);
                else if (find_entry(groupfile, group, 0, false, line, sizeof(line)))
                        u.gid = (gid_t) strtoul(field(line, 2), NULL, 10);
                else
                        return sup_error_make(ret_error, -ESRCH, "group \"%s\" is not in the image's /etc/group",
                                              group);
        }
        /* Supplementary groups of a named user, from /etc/group's member lists. */
        if (named) {
                _cleanup_fclose_ FILE *f = fopen(groupfile, "re");
                while (f && fgets(line, sizeof(line), f) && u.n_groups < ELEMENTSOF(u.groups)) {
                        const char *members = field(line, 3);
                        size_t n = strlen(user);
                        for (const char *m = members; *m;) {
                                size_t len = strcspn(m, ",\n");
                                if (len == n && strneq(m, user, n)) {
                                        u.groups[u.n_groups++] = (gid_t) strtoul(field(line, 2), NULL, 10);
                                        break;
                                }
                                m += len;
                                if (*m)
                                        m++;
                        }
                }
        }
        *ret = u;
        return 0;
}

int workload_resolve_user(const char *spec, bool userns, ContainerUser *ret, SupError **ret_error) {
        ContainerUser user;
        int r;

        r = resolve_user(spec, &user, ret_error);
        if (r < 0)
                return r;
        if (userns) {
                if (user.n_groups > 0)
                        return sup_error_make(ret_error, -EPERM,
                                              "user_namespace: auto denies setgroups(), and the image's /etc/group "
                                              "gives the unit's user supplementary groups: drop them there, or run "
                                              "without a user namespace");
                user.no_setgroups = true;
        }
        *ret = user;
        return 0;
}

char **workload_env(const UnitSpec *u, const char *home) {
        char **env = NULL;
        bool has_path = false, has_home = false;

        STRV_FOREACH(e, u->env) {
                has_path = has_path || startswith(*e, "PATH=");
                has_home = has_home || startswith(*e, "HOME=");
        }
        if (!has_path)
                strv_push(&env, xstrdup("PATH=" WORKLOAD_DEFAULT_PATH));
        if (!has_home)
                strv_push(&env, xasprintf("HOME=%s", home));
        strv_push(&env, xasprintf("HOSTNAME=%s", u->hostname));
        STRV_FOREACH(e, u->env)
                strv_push(&env, xstrdup(*e));
        return env;
}

int workload_output_pipe(int ret[2], uint32_t *ret_events) {
        bool one_write;
        int p[2], flags, r;

        /* Without packet mode (a kernel before 3.4) a plain pipe: the order is as good as before. */
        if (pipe2(p, O_CLOEXEC | O_DIRECT) < 0 && pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        flags = fcntl(p[1], F_GETFL);
        one_write = flags >= 0 && (flags & O_DIRECT) &&
                    fcntl(p[0], F_SETPIPE_SZ, WORKLOAD_OUTPUT_READ_MAX) == WORKLOAD_OUTPUT_READ_MAX;
        r = fd_set_nonblock(p[0], 1);
        if (r < 0) {
                close(p[0]);
                close(p[1]);
                return r;
        }
        ret[0] = p[0];
        ret[1] = p[1];
        *ret_events = EPOLLIN | (one_write ? EPOLLET : 0);
        return 0;
}

int loopback_up(void) {
        struct ifreq ifr = { .ifr_name = "lo" };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return negative_errno();
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return negative_errno();
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        return ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? negative_errno() : 0;
}

static const char *env_get(char **env, const char *name) {
        size_t n = strlen(name);
        STRV_FOREACH(e, env)
                if (strneq(*e, name, n) && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}

/* execvpe() searches the caller's PATH, not the new environment's: search the container's. */
static void exec_command(char **argv, char **env) {
        const char *path = env_get(env, "PATH");
        int saved = ENOENT;

        if (strchr(argv[0], '/')) {
                execve(argv[0], argv, env);
                return;
        }
        for (const char *p = path ? path : WORKLOAD_DEFAULT_PATH; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *candidate = xasprintf("%.*s/%s", (int) n, n ? p : ".", argv[0]);
                execve(candidate, argv, env);
                if (errno != ENOENT && errno != ENOTDIR)
                        saved = errno;
                p += n;
                if (*p)
                        p++;
        }
        errno = saved;
}

int workload_exec(const UnitSpec *u, const ContainerUser *user, char **env, int stdin_fd, int stdout_fd, int stderr_fd,
                  bool ctty, const struct rlimit *rlimits, const SeccompProgram *seccomp, char *err) {
        unsigned last_cap, unsupported;
        int devnull = -EBADF, r;
        CapSets caps;

        /* Dispositions set to "ignore" survive exec: systemd starts services with SIGPIPE
         * ignored and the monitor ignores it too, but the command must get the default. */
        signals_reset();
        (void) setsid();

        if (stdin_fd < 0)
                stdin_fd = devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (stdin_fd < 0 || dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0)
                return workload_error(err, negative_errno(), "cannot set up the command's standard input and output");
        /* The new session's controlling terminal: the pty of an exec with a terminal, so that its
         * ^C and window size reach the command's foreground process group. */
        if (ctty && ioctl(0, TIOCSCTTY, 0) < 0)
                return workload_error(err, negative_errno(), "cannot make the terminal the command's own");
        /* Only 0, 1 and 2 cross into the command. */
        if (stdin_fd > 2 && stdin_fd != devnull)
                close(stdin_fd);
        if (stdout_fd > 2 && stdout_fd != stdin_fd)
                close(stdout_fd);
        if (stderr_fd > 2 && stderr_fd != stdout_fd && stderr_fd != stdin_fd)
                close(stderr_fd);

        if (chdir(u->working_dir) < 0)
                return workload_error(err, negative_errno(), "working_dir %s", u->working_dir);
        /* While still root with every capability: a hard limit above the host's needs
         * CAP_SYS_RESOURCE (which the host checked already; a guest has it). */
        if (rlimits) {
                _cleanup_sup_error_ SupError *error = NULL;

                r = rlimits_apply(rlimits, &error);
                if (r < 0) {
                        (void) sup_error_to_buffer(error, err, WORKLOAD_ERR_MAX);
                        return r;
                }
        }
        /* seccomp without no_new_privs needs CAP_SYS_ADMIN: load the filter while we have it (runc's order). */
        if (!u->security.no_new_privileges && (r = seccomp_apply(seccomp)) < 0)
                return workload_error(err, r, "cannot load the seccomp filter");

        /* Privileges are dropped in an order where each step still has what it needs, and ends
         * with nothing the workload should not have:
         *  1. the bounding set first, while CAP_SETPCAP is still effective: from here on no
         *     execve() (of a setuid-root binary, of a file with capabilities) can give more;
         *  2. the user, while CAP_SETUID and CAP_SETGID are: leaving uid 0 clears the effective
         *     and permitted sets. No PR_SET_KEEPCAPS: a non-root workload is to keep none;
         *  3. effective, permitted and inheritable as computed, and ambient cleared: only ever
         *     lowering, which needs no capability;
         *  4. no_new_privs, which execve() keeps, and which no child can clear;
         *  5. the seccomp filter, last (above instead when no_new_privs is off). */
        last_cap = caps_last_cap();
        r = caps_for_unit(u, user->uid == 0, last_cap, &caps, &unsupported);
        if (r < 0) {
                _cleanup_free_ char *name = format_capability(unsupported);
                return workload_error(err, r, "capability %s is not known to this kernel", name);
        }
        {
                /* add: [ALL] is every capability sup has to give; one named that sup does not
                 * hold itself cannot be given (the kernel would refuse with EPERM). */
                uint64_t held = caps_bounding_held(last_cap), missing = caps.bounding & ~held;
                if (u->security.cap_add_all) {
                        caps.bounding &= held;
                        caps.effective &= held;
                        caps.permitted &= held;
                } else if (missing) {
                        unsigned c = 0;
                        while (!(missing & CAP_BIT(c)))
                                c++;
                        _cleanup_free_ char *name = format_capability(c);
                        return workload_error(err, -EPERM, "capability %s: sup does not hold it itself on this host", name);
                }
        }
        r = caps_apply_bounding(caps.bounding, last_cap);
        if (r < 0)
                return workload_error(err, r, "cannot limit the capability bounding set");
        if ((!user->no_setgroups && setgroups(user->n_groups, user->groups) < 0) || setresgid(user->gid, user->gid, user->gid) < 0 ||
            setresuid(user->uid, user->uid, user->uid) < 0)
                return workload_error(err, negative_errno(), "cannot switch to user %s (uid %u, gid %u)", u->user,
                                      (unsigned) user->uid, (unsigned) user->gid);
        r = caps_apply(&caps, last_cap);
        if (r < 0)
                return workload_error(err, r, "cannot set the capabilities");
        if (u->security.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return workload_error(err, negative_errno(), "cannot set no_new_privileges");
        if (u->security.no_new_privileges && (r = seccomp_apply(seccomp)) < 0)
                return workload_error(err, r, "cannot load the seccomp filter");
        exec_command(u->command, env);
        return workload_error(err, negative_errno(), "cannot execute %s", u->command[0]);
}

int workload_exec_request(const UnitSpec *u, const ExecRequest *req, bool userns, int stdin_fd, int stdout_fd,
                          int stderr_fd, const struct rlimit *rlimits, const SeccompProgram *seccomp, char *err) {
        /* The unit as the exec's command sees it: a shallow copy in a process that only execs or
         * exits, so nothing in it is ever freed. Only the command, the user and the working
         * directory differ; capabilities, no_new_privileges and the rest are the unit's. */
        UnitSpec spec = *u;
        _cleanup_sup_error_ SupError *error = NULL;
        ContainerUser user;
        char **env;
        int r;

        spec.command = req->argv;
        if (req->user)
                spec.user = (char *) req->user;
        if (req->working_dir)
                spec.working_dir = (char *) req->working_dir;
        r = workload_resolve_user(spec.user, userns, &user, &error);
        if (r < 0) {
                /* The message crosses the exec's fork: a fixed buffer from here on. */
                (void) sup_error_to_buffer(error, err, WORKLOAD_ERR_MAX);
                return r;
        }
        env = workload_env(u, user.home);
        /* The request's variables replace the workload's of the same name. */
        STRV_FOREACH(e, req->env) {
                size_t n = strcspn(*e, "=");
                char **w = env;
                for (; *w; w++)
                        if (strneq(*w, *e, n) && (*w)[n] == '=')
                                break;
                if (*w) {
                        free(*w);
                        *w = xstrdup(*e);
                } else
                        strv_push(&env, xstrdup(*e));
        }
        return workload_exec(&spec, &user, env, stdin_fd, stdout_fd, stderr_fd, req->stream && req->tty, rlimits,
                             seccomp, err);
}
