/* SPDX-License-Identifier: MIT */
/* The process driver (driver.h): the workload in a container of its own (container.h), on the
 * monitor's loop. What is its own: the command's output pipes, the container's root mount point
 * and sandbox, the user namespace lease of user_namespace: auto, the veth side of the network,
 * and telling the container's end (its init's exit report, or its setup error). */
#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "container.h"
#include "container-exec.h"
#include "driver.h"
#include "fileio.h"
#include "macro.h"
#include "path-util.h"
#include "process-list.h"
#include "process-util.h"
#include "rootfs.h"
#include "socket-util.h"
#include "string-util.h"
#include "userns.h"
#include "workload.h"

/* A directory by identity: the same path may name another one later (a dir: layer replaced by a
 * rename, a store's layer unpacked again). */
typedef struct DirId {
        dev_t dev;
        ino_t ino;
} DirId;

/* The command's stdout or stderr, read into the log. */
typedef struct ProcessOutput {
        int fd;
        EventSource *source;
        LogStream stream;
} ProcessOutput;

typedef struct ProcessInstance {
        DriverInstance base;
        char *rootfs;
        UsernsRange userns; /* user_namespace: auto: the range leased while the container runs */
        Container container;
        bool has_container;
        bool parked; /* the container waits for its go (process_park()); nothing of it is shown */
        /* Parked with its root built ahead (container.h root_ahead), on these directories
         * (root_dirs_get()). */
        bool root_ahead;
        DirId *root_dirs;
        size_t n_root_dirs;
        bool started;
        ProcessOutput out, err;
        EventSource *pidfd_source;
        EventSource *error_source;
        char setup_error[512];
        size_t setup_error_len;
} ProcessInstance;

extern const IsolationDriver process_driver;

/* This driver's DriverExec is container-exec.h's ContainerExec. */
static int process_exec(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                        DriverExec **ret, SupError **ret_error);
static DriverExec *process_exec_cancel(DriverExec *x);
static int process_exec_resize(DriverExec *x, unsigned short rows, unsigned short cols);

/* base is the first member: the instance's address is its base's. */
static ProcessInstance *process_of(DriverInstance *d) {
        return (ProcessInstance *) d;
}

static void output_close(ProcessInstance *p, ProcessOutput *o) {
        if (o->fd < 0)
                return;
        /* Whatever is still in the pipe belongs in the log before it closes. */
        for (;;) {
                char buf[WORKLOAD_OUTPUT_READ_MAX];
                ssize_t n = read(o->fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                log_stream_feed(p->base.ctx->log, &o->stream, buf, (size_t) n);
        }
        log_stream_flush(p->base.ctx->log, &o->stream);
        o->source = event_source_free(o->source);
        close(o->fd);
        o->fd = -EBADF;
}

/* One read per event, never more: with the one-write pipes (workload.h) it takes the one write the
 * event is about, and the writes of stdout and stderr are logged in the order their events come;
 * reading on would take a write made after one waiting in the other pipe. A packet is at most
 * WORKLOAD_OUTPUT_READ_MAX bytes, so a larger buffer would never fill: it would only dirty more of
 * the monitor's stack, pages it otherwise shares with its parked container's init (issue 14, a
 * monitor's private memory). */
static void on_output(EventSource *src, int fd, uint32_t revents, void *userdata) {
        ProcessInstance *p = userdata;
        ProcessOutput *o = fd == p->out.fd ? &p->out : &p->err;
        char buf[WORKLOAD_OUTPUT_READ_MAX];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0)
                log_stream_feed(p->base.ctx->log, &o->stream, buf, (size_t) n);
        /* Every writer is gone (EPOLLHUP): no event will come for what is left, read it all now. */
        if (n > 0 && !(revents & EPOLLHUP))
                return;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        output_close(p, o);
}

/* The command's stdout or stderr (workload.h says how it keeps their order), watched from before
 * the command can write: epoll queues the pipes that are already readable when they are added in
 * the order they are added, not in the order they were written to. */
static int output_open(ProcessInstance *p, ProcessOutput *o, int *ret_write) {
        uint32_t events;
        int fds[2], r = workload_output_pipe(fds, &events);

        if (r < 0)
                return r;
        o->fd = fds[0];
        *ret_write = fds[1];
        return event_add_io(p->base.ctx->event, &o->source, o->fd, events, on_output, p);
}

/* user_namespace: auto: a range of host ids of the container's own, for this run. */
static int acquire_userns(ProcessInstance *p, SupError **ret_error) {
        const DriverContext *ctx = p->base.ctx;
        _cleanup_free_ IdRange *reserved = NULL;
        size_t n_reserved = 0;
        int r;

        userns_reserved_load(&reserved, &n_reserved);
        r = userns_acquire(USERNS_LEASE_DIR, ctx->spec->name, reserved, n_reserved, &p->userns);
        if (r == -EBUSY)
                return sup_error_make(ret_error, r,
                                      "user_namespace: auto: every range of host ids is in use (leases in %s)",
                                      USERNS_LEASE_DIR);
        if (r < 0)
                return sup_error_make(ret_error, r, "user_namespace: auto: cannot lease a range of host ids in %s: %s",
                                      USERNS_LEASE_DIR, strerror(-r));
        ctx->status->userns_base = p->userns.base;
        ctx->status->userns_size = p->userns.size;
        return 0;
}

static DriverInstance *process_free(DriverInstance *d);

static int process_prepare(const DriverContext *ctx, DriverInstance **ret, SupError **ret_error) {
        ProcessInstance *p = xzalloc(sizeof(ProcessInstance));
        int r;

        p->base = (DriverInstance){.driver = &process_driver, .ctx = ctx};
        p->rootfs = path_join(ctx->dir, "rootfs");
        p->userns = USERNS_RANGE_NULL;
        p->out = (ProcessOutput){.fd = -EBADF, .stream.name = "stdout"};
        p->err = (ProcessOutput){.fd = -EBADF, .stream.name = "stderr"};

        (void) mkdir(p->rootfs, 0755);
        r = mkdir_p(ctx->sandbox, 0700);
        if (r < 0)
                r = sup_error_make(ret_error, r, "cannot create the sandbox %s: %s", ctx->sandbox, strerror(-r));
        if (r >= 0 && ctx->spec->security.user_namespace == USER_NAMESPACE_AUTO)
                r = acquire_userns(p, ret_error);
        /* Before the container exists, so that its first instruction runs within them. */
        if (r >= 0)
                r = driver_apply_resources(ctx, ctx->spec, RESOURCES_CONTAINER, ret_error);
        if (r < 0) {
                process_free(&p->base);
                return r;
        }
        *ret = &p->base;
        return 0;
}

/* ContainerConfig.prepare: in the monitor, the container's namespaces exist and its init waits. */
static int attach_network(pid_t pid, void *userdata, SupError **ret_error) {
        const DriverNetwork *net = ((ProcessInstance *) userdata)->base.ctx->net;

        return net->attach(pid, net->userdata, ret_error);
}

/* ContainerConfig.setup: in the container's init, inside its network namespace. */
static int configure_network(void *userdata, SupError **ret_error) {
        const DriverNetwork *net = ((ProcessInstance *) userdata)->base.ctx->net;

        return net->configure(net->userdata, ret_error);
}

static void reap(ProcessInstance *p);

static void on_pidfd(EventSource *s, int fd, uint32_t revents, void *userdata) {
        reap(userdata);
}

static void on_setup_result(EventSource *s, int fd, uint32_t revents, void *userdata) {
        ProcessInstance *p = userdata;
        ssize_t n = read(fd, p->setup_error + p->setup_error_len, sizeof(p->setup_error) - 1 - p->setup_error_len);

        if (n > 0) {
                p->setup_error_len += (size_t) n;
                return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        p->error_source = event_source_free(p->error_source);
        if (p->setup_error_len > 0)
                return; /* the container's init exits; on_pidfd() reports the error */
        p->started = true;
        p->base.ctx->callbacks.started(&p->base, p->base.ctx->userdata);
}

static ContainerConfig container_config(ProcessInstance *p, int out_w, int err_w) {
        const DriverContext *ctx = p->base.ctx;

        return (ContainerConfig){
                .spec = ctx->run_spec,
                .image = ctx->image,
                .rootfs = p->rootfs,
                .sandbox = ctx->sandbox,
                .stdout_fd = out_w,
                .stderr_fd = err_w,
                .cgroup = ctx->cgroup,
                .seccomp = ctx->seccomp,
                .rlimits = ctx->rlimits,
                .share = ctx->share,
                .userns = p->userns.lease.fd >= 0 ? &p->userns : NULL,
                .prepare = ctx->net ? attach_network : NULL,
                .setup = ctx->net ? configure_network : NULL,
                .userdata = p,
                .root_ahead = p->root_ahead,
        };
}

/* The directories a root built ahead stands on, as *ret (ROOT_DIRS(img) entries): the image's
 * layers, then the sandbox's upper/ and work/ (not the sandbox itself: an upper/ removed or
 * renamed inside it, the writable layer reset by hand, must count too, or the start would show
 * the old layer's files, a planted one among them, which a cold start does not). -errno if one
 * is missing. */
#define ROOT_DIRS(img) ((img)->n_layers + 2)
static int root_dirs_get(const DriverContext *ctx, DirId **ret) {
        const Image *img = ctx->image;
        _cleanup_free_ char *upper = path_join(ctx->sandbox, "upper"), *work = path_join(ctx->sandbox, "work");
        _cleanup_free_ DirId *ids = xnew(DirId, ROOT_DIRS(img));
        struct stat st;

        for (size_t i = 0; i < ROOT_DIRS(img); i++) {
                if (stat(i < img->n_layers ? img->layers[i].dir : i == img->n_layers ? upper : work, &st) < 0)
                        return negative_errno();
                ids[i] = (DirId){st.st_dev, st.st_ino};
        }
        *ret = TAKE_PTR(ids);
        return 0;
}

/* Whether the parked root still stands on what the image step and the sandbox name now: a layer
 * directory replaced since (an operator's rename of a dir: layer) would otherwise start with the
 * old one under the overlay, where a cold start mounts the new one. What changes inside the
 * directories shows in both: the overlay looks a file up when the workload first opens it, and
 * nothing has opened any before the go. */
static bool root_dirs_current(ProcessInstance *p) {
        _cleanup_free_ DirId *now = NULL;

        return p->n_root_dirs == ROOT_DIRS(p->base.ctx->image) && root_dirs_get(p->base.ctx, &now) >= 0 &&
               memcmp(now, p->root_dirs, p->n_root_dirs * sizeof(DirId)) == 0;
}

/* The container up to its go (container_spawn()): its output pipes watched, its init in its
 * namespaces and cgroup, waiting. */
static int spawn(ProcessInstance *p, SupError **ret_error) {
        int out_w = -EBADF, err_w = -EBADF, r;
        ContainerConfig cfg;

        r = output_open(p, &p->out, &out_w);
        if (r >= 0)
                r = output_open(p, &p->err, &err_w);
        if (r < 0) {
                if (out_w >= 0)
                        close(out_w);
                return sup_error_make(ret_error, r, "cannot create the output pipes: %s", strerror(-r));
        }
        cfg = container_config(p, out_w, err_w);
        r = container_spawn(&cfg, &p->container);
        close(out_w);
        close(err_w);
        if (r < 0)
                return sup_error_make(ret_error, r, "cannot create the container: %s", strerror(-r));
        p->has_container = true;
        return 0;
}

/* The next run's container made ahead (driver.h park()): what is left for the start is its go,
 * then its own setup (mounts, pivot_root, hardening, exec). The status shows none of it: no pid,
 * and `top` (ps()) and signals see no container until the start. */
static int process_park(DriverInstance *d, SupError **ret_error) {
        ProcessInstance *p = process_of(d);
        ContainerConfig cfg = container_config(p, -EBADF, -EBADF);
        int r;

        assert(!p->has_container);
        /* Before the clone: what the child mounts is then these, or newer ones (a rename between
         * the two), never older ones than the go sees. */
        if (container_root_ahead_possible(&cfg) && rootfs_make_sandbox_dirs(d->ctx->sandbox, NULL) >= 0 &&
            root_dirs_get(d->ctx, &p->root_dirs) >= 0) {
                p->root_ahead = true;
                p->n_root_dirs = ROOT_DIRS(d->ctx->image);
        }
        r = spawn(p, ret_error);
        if (r < 0) {
                p->root_ahead = false;
                return r;
        }
        p->parked = true;
        return 0;
}

/* The parked container cannot be taken: the start spawns its own, cold. Its output pipes go
 * with it: spawn() opens new ones over p->out and p->err, and the old ones, left watched, ended
 * (EPOLLHUP once the parked init is dead) into on_output(), which took them for the new stderr
 * and closed it: the command's first write there failed (EPIPE, SIGPIPE). */
static void unpark(ProcessInstance *p) {
        container_abandon(&p->container);
        output_close(p, &p->out);
        output_close(p, &p->err);
        p->has_container = p->parked = p->root_ahead = false;
}

/* A pidfd is readable once its process exited. */
static bool fd_readable_now(int fd) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP));
}

static int process_start(DriverInstance *d, SupError **ret_error) {
        ProcessInstance *p = process_of(d);
        const DriverContext *ctx = d->ctx;
        ContainerConfig cfg;
        int r;

        /* A parked init that died meanwhile (killed by hand, or by the OOM killer: it is a fork
         * of the monitor; or its root built ahead failed) gets no go: it goes, and this start
         * spawns its container as a cold one does, in the cgroup made ahead, which reports what
         * fails. */
        if (p->parked && fd_readable_now(p->container.pidfd))
                unpark(p);
        if (p->parked && p->root_ahead && !root_dirs_current(p)) {
                log_writer_printf(
                        ctx->log, "sup",
                        "a layer or the sandbox was replaced since the root was built ahead: starting afresh");
                unpark(p);
        }
        if (!p->parked) {
                r = spawn(p, ret_error);
                if (r < 0)
                        return r;
        }
        cfg = container_config(p, -EBADF, -EBADF);
        r = container_release(&cfg, &p->container);
        if (r == -EPIPE && p->parked) {
                /* The parked init died between the check above and the go (its root built ahead
                 * failing, or the OOM killer, while a restart's start came at once): cold, as
                 * above, so that the start reports what fails rather than "Broken pipe". */
                unpark(p); /* its output pipes: container_release() abandoned the rest */
                r = spawn(p, ret_error);
                if (r < 0)
                        return r;
                cfg = container_config(p, -EBADF, -EBADF);
                r = container_release(&cfg, &p->container);
        }
        p->parked = false;
        if (r < 0) {
                p->has_container = false;
                return sup_error_make(ret_error, r, "cannot start the container: %s", strerror(-r));
        }
        ctx->status->pid = p->container.pid;
        (void) fd_set_nonblock(p->container.error_fd, 1);
        (void) event_add_io(ctx->event, &p->pidfd_source, p->container.pidfd, EPOLLIN, on_pidfd, p);
        (void) event_add_io(ctx->event, &p->error_source, p->container.error_fd, EPOLLIN, on_setup_result, p);
        return 0;
}

static void reap(ProcessInstance *p) {
        const DriverContext *ctx = p->base.ctx;
        DriverExit ex = {};
        ContainerExit ce;
        siginfo_t si = {};

        (void) waitid((idtype_t) P_PIDFD, (id_t) p->container.pidfd, &si, WEXITED | WNOHANG);
        /* The command may have failed between fork and exec (a user that does not exist, a
         * missing program): init then reports its exit, but the setup error is what happened. */
        for (unsigned k = 0; p->error_source && k < 64; k++)
                on_setup_result(p->error_source, p->container.error_fd, EPOLLIN, p);
        ex.setup_failed = !p->started || p->setup_error_len > 0;
        if (read(p->container.exit_fd, &ce, sizeof(ce)) == (ssize_t) sizeof(ce)) {
                ex.code = ce.signal ? -1 : ce.code;
                ex.signal = ce.signal;
        } else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
                /* The init itself was killed: SIGKILL at the end of the stop timeout. */
                ex.code = -1;
                ex.signal = si.si_status;
        } else
                ex.code = si.si_status;
        p->setup_error[p->setup_error_len] = '\0';
        if (ex.setup_failed && p->setup_error_len > 0)
                ex.reason = p->setup_error;

        p->pidfd_source = event_source_free(p->pidfd_source);
        p->error_source = event_source_free(p->error_source);
        output_close(p, &p->out);
        output_close(p, &p->err);
        container_close(&p->container);
        p->has_container = false;
        ctx->status->pid = 0;
        /* Last: the monitor may free the instance in it. */
        ctx->callbacks.exited(&p->base, &ex, ctx->userdata);
}

static int send_signal(ProcessInstance *p, int sig) {
        if (!p->has_container || p->parked)
                return -ESRCH;
        return syscall(SYS_pidfd_send_signal, p->container.pidfd, sig, NULL, 0) < 0 ? negative_errno() : 0;
}

static void process_stop(DriverInstance *d) {
        ProcessInstance *p = process_of(d);

        if (send_signal(p, d->ctx->spec->stop.signal) < 0)
                (void) send_signal(p, SIGKILL);
}

static void process_kill(DriverInstance *d) {
        ProcessInstance *p = process_of(d);

        if (!p->has_container)
                return;
        (void) send_signal(p, SIGKILL);
        if (d->ctx->cgroup)
                (void) cgroup_kill(d->ctx->cgroup, SIGKILL);
}

/* To the container's init, which forwards every signal it can catch to the command (SIGSTOP and
 * SIGKILL it cannot: they would reach init itself). */
static int process_signal(DriverInstance *d, int sig, SupError **ret_error) {
        ProcessInstance *p = process_of(d);
        int r;

        if (!p->has_container || !p->started)
                return sup_error_make(ret_error, -ENOTCONN, "the container's command is not running");
        r = send_signal(p, sig);
        return r < 0 ? sup_error_errno(ret_error, r, "cannot signal the container") : 0;
}

static bool process_cleanup(DriverInstance *d) {
        /* Its cgroup empty, nothing runs with the range's ids any more. */
        userns_release(&process_of(d)->userns);
        return true;
}

static DriverInstance *process_free(DriverInstance *d) {
        ProcessInstance *p;

        if (!d)
                return NULL;
        p = process_of(d);
        p->pidfd_source = event_source_free(p->pidfd_source);
        p->error_source = event_source_free(p->error_source);
        output_close(p, &p->out);
        output_close(p, &p->err);
        /* A parked container never ran anything: it goes with its instance. */
        if (p->parked)
                container_abandon(&p->container);
        else if (p->has_container)
                container_close(&p->container);
        userns_release(&p->userns);
        free(p->root_dirs);
        free(p->rootfs);
        free(p);
        return NULL;
}

static int process_update(DriverInstance *d, const UnitSpec *new, SupError **ret_error) {
        return driver_apply_resources(d->ctx, new, RESOURCES_CONTAINER, ret_error);
}

/* Every limit is a cgroup write. */
static bool process_is_live(const UnitSpec *old, const UnitSpec *new, const char *field) {
        return streq(field, "resources.io_weight") || streq(field, "resources.pids") ||
               streq(field, "resources.cpus") || streq(field, "resources.memory");
}

static int process_ps(DriverInstance *d, DriverPsCallback callback, void *userdata) {
        ProcessInstance *p = process_of(d);
        const Cgroup *cg = d->ctx->cgroup;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ char *message = NULL;
        json_t *processes;
        size_t n = 0;
        int r;

        if (!p->has_container || p->parked || !cg)
                return -ENOTCONN;
        /* Host PIDs: the monitor is in the host's pid namespace, and so is its /proc. A PID
         * reused between the listing and the reading would show another process; the kernel
         * hands PIDs out in a cycle, which makes that unlikely within these microseconds. */
        r = cgroup_get_pids(cg, &pids, &n);
        if (r < 0) {
                message = xasprintf("cannot list the processes in %s: %s", cgroup_path(cg), strerror(-r));
                callback(r, message, NULL, userdata);
                return 0;
        }
        processes = process_list_read("/proc", pids, n);
        callback(0, NULL, processes, userdata);
        json_decref(processes);
        return 0;
}

/* An exec joins the namespaces of the container's init, in the run's cgroup, with the run's
 * seccomp program and limits: never more than the workload has (container-exec.h). */
static int process_exec(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                        DriverExec **ret, SupError **ret_error) {
        ProcessInstance *p = process_of(d);
        const DriverContext *ctx = d->ctx;
        ContainerExec *x;
        int r;

        if (!p->has_container || !p->started)
                return sup_error_make(ret_error, -ENOTCONN, "the container's command is not running");
        ContainerExecConfig cfg = {
                .spec = ctx->run_spec,
                .init_pidfd = p->container.pidfd,
                .cgroup = ctx->cgroup,
                .seccomp = ctx->seccomp,
                .rlimits = ctx->rlimits,
                .userns = p->userns.lease.fd >= 0,
        };
        r = container_exec(ctx->event, &cfg, req, cb, userdata, &x, ret_error);
        if (r < 0)
                return r;
        *ret = (DriverExec *) x;
        return 0;
}

static DriverExec *process_exec_cancel(DriverExec *x) {
        (void) container_exec_free((ContainerExec *) x);
        return NULL;
}

static int process_exec_resize(DriverExec *x, unsigned short rows, unsigned short cols) {
        return container_exec_resize((ContainerExec *) x, rows, cols);
}

const IsolationDriver process_driver = {
        .name = "process",
        .pid_namespace = "host",
        .usage_of = "workload",
        .stop_ladder = false,
        .prepare = process_prepare,
        .park = process_park,
        .start = process_start,
        .stop = process_stop,
        .kill = process_kill,
        .cleanup = process_cleanup,
        .free = process_free,
        .update = process_update,
        .is_live = process_is_live,
        .ps = process_ps,
        .signal = process_signal,
        .exec = process_exec,
        .exec_cancel = process_exec_cancel,
        .exec_resize = process_exec_resize,
};
