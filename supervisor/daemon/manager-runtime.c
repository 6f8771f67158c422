/* SPDX-License-Identifier: MIT */
/* The side effects of an instance's life (ManagerRuntime): a sup-monitor process started
 * detached, its socket, and a pidfd on the process that holds the instance lock. What they mean
 * is manager.c's state machine's to decide. */
#include <fcntl.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "alloc.h"
#include "log.h"
#include "manager.h"
#include "path-util.h"
#include "socket-util.h"

static void on_monitor_ready(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;
        char buf[1024];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        i->ready_source = event_source_free(i->ready_source);
        close_and_reset(&i->ready_fd);
        if (n > 0)
                buf[n] = 0;
        instance_spawned(i, n > 0 ? buf : NULL);
}

/* The intermediate child of a spawn, reaped once it has exited. Waiting for it in monitor_spawn()
 * put a round trip through the scheduler on every new unit, one after the other: on a busy host,
 * most of the time a reload that adds a hundred units took. */
typedef struct Reaper {
        pid_t pid;
        int pidfd;
        EventSource *source;
} Reaper;

static void on_intermediate_exit(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Reaper *r = userdata;

        (void) waitpid(r->pid, NULL, WNOHANG);
        event_source_free(r->source);
        close(r->pidfd);
        free(r);
}

static void reap_later(Event *e, pid_t pid) {
        Reaper *r = xzalloc(sizeof(Reaper));

        r->pid = pid;
        r->pidfd = pidfd_open(pid, 0);
        if (r->pidfd < 0 || event_add_io(e, &r->source, r->pidfd, EPOLLIN, on_intermediate_exit, r) < 0) {
                /* It exits at once: waiting here costs a moment, not a zombie. */
                (void) waitpid(pid, NULL, 0);
                if (r->pidfd >= 0)
                        close(r->pidfd);
                free(r);
        }
}

static int monitor_spawn(Instance *i) {
        Manager *m = i->manager;
        int ready[2];
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(ready[0]);
                close(ready[1]);
                return r;
        }
        if (pid == 0) {
                /* Detach twice: a session of its own, and not supd's child, so that supd's
                 * death, restart or stop (KillMode=process) leaves the monitor running. */
                sigset_t none;
                struct rlimit rl;
                int null;

                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                (void) setsid();
                /* systemd's channel is supd's alone: a monitor that inherited it could send
                 * notifications in supd's name (NotifyAccess=main would drop them anyway). */
                (void) unsetenv("NOTIFY_SOCKET");
                (void) unsetenv("WATCHDOG_USEC");
                (void) unsetenv("WATCHDOG_PID");
                if (fork() != 0)
                        _exit(0);
                /* supd raised its own soft fd limit; the monitor gets the one supd was given. */
                if (m->config.nofile_soft > 0 && getrlimit(RLIMIT_NOFILE, &rl) >= 0 &&
                    m->config.nofile_soft < rl.rlim_cur) {
                        rl.rlim_cur = m->config.nofile_soft;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                }
                null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(ready[1], 3) < 0)
                        _exit(127);
                (void) close_range(4, ~0U, 0);
                execl(m->config.monitor_path, "sup-monitor", "--dir", i->dir_path, "--state-dir", m->config.state_dir,
                      "--cgroup-root", m->config.cgroup_root, "--cgroup-parent", m->config.cgroup_parent,
                      "--bridge-subnet", m->config.bridge_subnet, "--bridge-subnet6", m->config.bridge_subnet6,
                      "--guest-dir", m->config.guest_dir, "--vm-accel", m->config.vm_accel, "--log-max-size",
                      m->config.log_max_size, "--image-max-layer-size", m->config.image_max_layer_size ?: "0",
                      "--ready-fd", "3", m->config.no_outbound ? "--no-outbound" : (char *) NULL, (char *) NULL);
                (void) !write(3, "cannot execute sup-monitor", 26);
                _exit(127);
        }
        close(ready[1]);
        reap_later(m->event, pid);
        (void) fd_set_nonblock(ready[0], 1);
        i->ready_fd = ready[0];
        return event_add_io(m->event, &i->ready_source, ready[0], EPOLLIN, on_monitor_ready, i);
}

static void on_monitor_message(JsonConn *c, json_t *msg, void *userdata) {
        instance_received(userdata, msg);
}

static void on_monitor_close(JsonConn *c, int error, void *userdata) {
        Instance *i = userdata;

        i->conn = NULL; /* json-conn frees it */
        instance_lost(i, error);
}

static int monitor_connect(Instance *i) {
        _cleanup_free_ char *sock = path_join(i->dir_path, "monitor.sock");
        int fd, r;

        /* Non-blocking from the connect on: a monitor whose backlog is full (it stopped
         * accepting) must not block supd's loop. */
        fd = unix_connect(sock, 1);
        if (fd < 0) {
                log_debug("%s: cannot connect to the monitor at %s: %s", i->name, sock, strerror(-fd));
                return fd;
        }
        r = json_conn_new(i->manager->event, fd, JSON_FRAME_MAX_REPLY, on_monitor_message, on_monitor_close, i,
                          &i->conn);
        if (r < 0) {
                close(fd);
                return r;
        }
        return 0;
}

static int monitor_send(Instance *i, const json_t *request) {
        return i->conn ? json_conn_send(i->conn, request) : -ENOTCONN;
}

static void on_monitor_exit(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;

        i->pidfd_source = event_source_free(i->pidfd_source);
        instance_exited(i);
}

static pid_t monitor_watch_exit(Instance *i) {
        pid_t pid = 0, again = 0;
        int fd;

        if (i->pidfd >= 0)
                return 0;
        if (instance_lock_holder(i->dir_path, &pid) < 0 || pid <= 0)
                return 0;
        fd = pidfd_open(pid, 0);
        if (fd < 0)
                return 0;
        /* The pid named by the lock may have exited and been reused since: the lock must still
         * be that process's now that the pidfd pins it. */
        if (instance_lock_holder(i->dir_path, &again) < 0 || again != pid) {
                close(fd);
                return 0;
        }
        i->pidfd = fd;
        (void) event_add_io(i->manager->event, &i->pidfd_source, fd, EPOLLIN, on_monitor_exit, i);
        return pid;
}

static void monitor_kill(Instance *i, int sig) {
        if (i->pidfd >= 0)
                (void) syscall(SYS_pidfd_send_signal, i->pidfd, sig, NULL, 0);
}

static void monitor_release(Instance *i) {
        i->conn = json_conn_free(i->conn);
        i->ready_source = event_source_free(i->ready_source);
        close_and_reset(&i->ready_fd);
        i->pidfd_source = event_source_free(i->pidfd_source);
        close_and_reset(&i->pidfd);
}

const ManagerRuntime manager_runtime_monitor = {
        .spawn = monitor_spawn,
        .connect = monitor_connect,
        .send = monitor_send,
        .watch_exit = monitor_watch_exit,
        .kill = monitor_kill,
        .release = monitor_release,
};
