/* SPDX-License-Identifier: MIT */
/* The side effects of an instance's life (ManagerRuntime): a sup-monitor process started
 * detached, its socket, and a pidfd on the process that holds the instance lock. What they mean
 * is manager.c's state machine's to decide. */
#include <assert.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "alloc.h"
#include "log.h"
#include "manager.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"
#include "socket-util.h"
#include "zygote-proto.h"

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
        struct Reaper **owner; /* cleared when it goes: the zygote's (MonitorZygote.reaper) */
} Reaper;

static Reaper *reaper_free(Reaper *r) {
        if (!r)
                return NULL;
        if (r->owner)
                *r->owner = NULL;
        event_source_free(r->source);
        if (r->pidfd >= 0)
                close(r->pidfd);
        free(r);
        return NULL;
}

static void on_intermediate_exit(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Reaper *r = userdata;

        (void) waitpid(r->pid, NULL, WNOHANG);
        reaper_free(r);
}

/* Returns the reaper, NULL when the child was reaped at once. */
static Reaper *reap_later(Event *e, pid_t pid) {
        Reaper *r = xzalloc(sizeof(Reaper));

        r->pid = pid;
        r->pidfd = pidfd_open(pid, 0);
        if (r->pidfd < 0 || event_add_io(e, &r->source, r->pidfd, EPOLLIN, on_intermediate_exit, r) < 0) {
                /* It exits at once: waiting here costs a moment, not a zombie. */
                (void) waitpid(pid, NULL, 0);
                return reaper_free(r);
        }
        return r;
}

/* What the two children of a spawn need, all prepared by supd before them: they share supd's
 * memory (CLONE_VM), so they allocate nothing and change nothing of it (unsetenv() would change
 * supd's own environment). */
typedef struct SpawnArgs {
        const char *path;
        char **argv, **envp;
        int ready_fd; /* the ready pipe's write end: fd 3 of the monitor */
        bool set_nofile;
        struct rlimit nofile;
        char *exec_stack_top;
} SpawnArgs;

#define SPAWN_STACK_SIZE (64 * 1024)
#define MONITOR_ARGV_MAX 32

/* The children below run on stacks supd mapped for them, which ASan has no shadow for: they are
 * not instrumented (they call nothing but system calls). */

__attribute__((no_sanitize_address)) static int spawn_exec(void *userdata) {
        const SpawnArgs *a = userdata;
        int null;

        /* supd raised its own soft fd limit; the monitor gets the one supd was given. */
        if (a->set_nofile)
                (void) setrlimit(RLIMIT_NOFILE, &a->nofile);
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                _exit(127);
        /* dup2() onto itself would keep O_CLOEXEC. */
        if (a->ready_fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(a->ready_fd, 3) < 0)
                _exit(127);
        (void) close_range(4, ~0U, 0);
        execve(a->path, a->argv, a->envp);
        (void) !write(3, "cannot execute sup-monitor", 26);
        _exit(127);
}

/* Detach twice: a session of its own, and not supd's child, so that supd's death, restart or stop
 * (KillMode=process) leaves the monitor running. */
__attribute__((no_sanitize_address)) static int spawn_detach(void *userdata) {
        const SpawnArgs *a = userdata;
        sigset_t none;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) setsid();
        if (clone(spawn_exec, a->exec_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *) a) < 0) {
                (void) !write(a->ready_fd, "cannot fork sup-monitor", 23);
                _exit(127);
        }
        _exit(0);
}

/* supd's own child (the zygote), in a session of its own all the same: a terminal's signals for
 * supd are not its, and it starts, as a monitor does, with no signal blocked (supd blocks those it
 * reads from its signalfd). */
__attribute__((no_sanitize_address)) static int spawn_own(void *userdata) {
        sigset_t none;

        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) setsid();
        return spawn_exec(userdata);
}

/* The environment without systemd's channel, which is supd's alone: a monitor that inherited it
 * could send notifications in supd's name (NotifyAccess=main would drop them anyway). And with
 * glibc's per-thread cache of freed chunks off (tunables): the cache makes malloc hand out chunks
 * spread over more of the heap, pages the monitor shares with its parked container's init (a fork
 * of it) until one side writes them; off, an idle monitor has ~30-40 KiB less private memory
 * (bench/README.md, "mon3"; issue 14's goal for a monitor). The monitor takes it out of its
 * environment again at its start (glibc_tunables_drop()): what it runs gets supd's environment.
 * The strings are environ's, but *ret_tunables, which the caller frees.
 *
 * The zygote's (zygote: true) has, unless supd's has it already, LD_BIND_NOW=1 and
 * SUP_ZYGOTE_BIND_NOW=1, which it takes out again at its start (sup-monitor.c): ld.so then
 * resolves every symbol of every library at the zygote's exec, once, instead of each monitor
 * at its first call of each, which wrote the libraries' GOT pages in every monitor: 12 KiB
 * of each one's private memory (94 instead of 106 KiB, 50 idle units; and 1 % of the CPU of a
 * start). */
static char **monitor_environment(bool zygote, char **ret_tunables) {
        size_t n = 0, k = 0;
        char **envp;

        for (char **e = environ; *e; e++)
                n++;
        envp = xnew0(char *, n + 4);
        for (char **e = environ; *e; e++)
                if (!startswith(*e, "NOTIFY_SOCKET=") && !startswith(*e, "WATCHDOG_USEC=") &&
                    !startswith(*e, "WATCHDOG_PID=") && !startswith(*e, "GLIBC_TUNABLES=") &&
                    !startswith(*e, SUP_ZYGOTE_BIND_NOW "="))
                        envp[k++] = *e;
        if (zygote && !getenv("LD_BIND_NOW")) {
                envp[k++] = (char *) "LD_BIND_NOW=1";
                envp[k++] = (char *) SUP_ZYGOTE_BIND_NOW "=1";
        }
        envp[k] = *ret_tunables = glibc_tunables_add(getenv("GLIBC_TUNABLES"), SUP_MONITOR_MALLOC_TUNABLE);
        return envp;
}

/* The monitor's arguments (argv[0] is "sup-monitor"), for dir: pointers into m's configuration
 * and dir, which must outlive the array. */
static void monitor_argv(const Manager *m, const char *dir, const char *argv[static MONITOR_ARGV_MAX]) {
        const char *a[] = {
                "sup-monitor",
                "--dir",
                dir,
                "--state-dir",
                m->config.state_dir,
                "--cgroup-root",
                m->config.cgroup_root,
                "--cgroup-parent",
                m->config.cgroup_parent,
                "--bridge-subnet",
                m->config.bridge_subnet,
                "--bridge-subnet6",
                m->config.bridge_subnet6,
                "--guest-dir",
                m->config.guest_dir,
                "--vm-accel",
                m->config.vm_accel,
                "--log-max-size",
                m->config.log_max_size,
                "--image-max-layer-size",
                m->config.image_max_layer_size ?: "0",
                "--ready-fd",
                "3",
                m->config.no_outbound ? "--no-outbound" : NULL,
                NULL,
        };
        static_assert(ELEMENTSOF(a) <= MONITOR_ARGV_MAX, "MONITOR_ARGV_MAX");
        memcpy(argv, a, sizeof(a));
}

/* Runs the program at m's monitor path with argv, its fd 3 ready_fd (see SpawnArgs), through
 * children that share supd's memory (what posix_spawn() does) instead of a fork(): a fork of
 * supd copied its page tables (dup_mmap) and made every page it wrote next a copy-on-write
 * fault; at a thousand units, most of a reload's time was that. supd waits while they run
 * (CLONE_VFORK), until the program is exec'ed: microseconds of work. detach: through an
 * intermediate child in a session of its own (a monitor), whose pid is returned (to be reaped);
 * else the program is supd's child (the zygote), and its pid is returned. */
static pid_t exec_monitor(Manager *m, const char *const *argv, int ready_fd, bool detach) {
        _cleanup_free_ char *tunables = NULL;
        _cleanup_free_ char **envp = monitor_environment(!detach, &tunables);
        SpawnArgs a = {.path = m->config.monitor_path, .argv = (char **) argv, .envp = envp, .ready_fd = ready_fd};
        char *stacks;
        pid_t pid;
        int r;

        if (m->config.nofile_soft > 0 && getrlimit(RLIMIT_NOFILE, &a.nofile) >= 0 &&
            m->config.nofile_soft < a.nofile.rlim_cur) {
                a.nofile.rlim_cur = m->config.nofile_soft;
                a.set_nofile = true;
        }
        /* Mapped per spawn and unmapped after it: no memory of supd's stays for them. */
        stacks = mmap(NULL, 2 * SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1,
                      0);
        if (stacks == MAP_FAILED)
                return negative_errno();
        a.exec_stack_top = stacks + 2 * SPAWN_STACK_SIZE;
        pid = clone(detach ? spawn_detach : spawn_own, detach ? stacks + SPAWN_STACK_SIZE : a.exec_stack_top,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
        r = pid < 0 ? negative_errno() : 0;
        (void) munmap(stacks, 2 * SPAWN_STACK_SIZE);
        return r < 0 ? r : pid;
}

/* ---- the monitor zygote (monitor/zygote.h) ----
 *
 * Started at the first spawn, supd's child, fed one request per monitor (control/zygote-proto.h).
 * Each request keeps the write end of its ready pipe here until the zygote's reply: a monitor
 * forked holds its own copy, and one that could not be is executed instead with this one, so the
 * pipe cannot end (which reads as a monitor that started) before either. If the zygote dies, the
 * requests it has not answered end with it: their pipes end, and the state machine finds no monitor
 * to connect to, forgets the instance and reconciles its unit anew (a monitor that was forked
 * meanwhile is connected to as usual). A zygote that dies before it answered anything (a
 * sup-monitor without --zygote), or a third time, is not started again: monitors are executed, one
 * by one, as before it. */
#define ZYGOTE_DEATHS_MAX 3

typedef struct ZygoteRequest {
        Instance *instance; /* NULL once released */
        int ready_fd;       /* the write end */
        struct ZygoteRequest *next;
} ZygoteRequest;

struct MonitorZygote {
        Manager *manager;
        int fd;
        EventSource *source;
        Reaper *reaper; /* while the process lives */
        ZygoteRequest *pending, *pending_tail;
        unsigned n_pending;
        bool answered; /* the running zygote answered a request */
        unsigned deaths;
        bool disabled;
};

static void zygote_spawned(Manager *m, Instance *i, int ready_fd, int error);

/* Its socket closed (the zygote exits on it), and its unanswered requests taken off it (returned,
 * for the caller to end). */
static ZygoteRequest *zygote_stop(MonitorZygote *z) {
        ZygoteRequest *pending = z->pending;

        z->source = event_source_free(z->source);
        close_and_reset(&z->fd);
        z->pending = z->pending_tail = NULL;
        z->n_pending = 0;
        z->answered = false;
        return pending;
}

static void zygote_requests_free(ZygoteRequest *q) {
        while (q) {
                ZygoteRequest *next = q->next;

                close(q->ready_fd);
                free(q);
                q = next;
        }
}

/* Gone, or useless: its socket closed or broke. One that never answered (a sup-monitor without
 * --zygote) had one request at most (zygote_spawn()), forked nothing for it, and the monitor is
 * executed instead; one that did may have forked a monitor for a request before it died, which a
 * second monitor would find running: the request's pipe ends instead (see above). */
static void zygote_lost(MonitorZygote *z, const char *why) {
        bool answered = z->answered;
        ZygoteRequest *pending;

        if (!answered || ++z->deaths >= ZYGOTE_DEATHS_MAX) {
                z->disabled = true;
                log_warning("the monitor zygote %s; monitors are executed one by one from now on", why);
        } else
                log_warning("the monitor zygote %s; a new one is started at the next spawn", why);
        pending = zygote_stop(z);
        if (!answered)
                for (ZygoteRequest *q = pending; q; q = q->next)
                        if (q->instance)
                                zygote_spawned(z->manager, q->instance, q->ready_fd, -EPROTO);
        zygote_requests_free(pending);
}

static void on_zygote_reply(EventSource *s, int fd, uint32_t revents, void *userdata) {
        MonitorZygote *z = userdata;
        Manager *m = z->manager;

        for (;;) {
                ZygoteRequest *q;
                int32_t reply;
                /* One byte more than a reply: a longer message (not a zygote's) is cut to this,
                 * and is seen to be longer, not taken for a reply by its first four bytes. */
                char buf[sizeof(reply) + 1];
                ssize_t n = recv(z->fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n == (ssize_t) sizeof(reply))
                        memcpy(&reply, buf, sizeof(reply));
                if (n != (ssize_t) sizeof(reply) || !z->pending) {
                        zygote_lost(z, n == 0 ? "exited" : "broke its protocol");
                        return;
                }
                q = z->pending;
                z->pending = q->next;
                z->n_pending--;
                if (!z->pending)
                        z->pending_tail = NULL;
                z->answered = true;
                if (q->instance)
                        zygote_spawned(m, q->instance, q->ready_fd, reply > 0 ? -EPROTO : reply);
                close(q->ready_fd);
                free(q);
        }
}

static int zygote_start(MonitorZygote *z) {
        Manager *m = z->manager;
        const char *argv[] = {"sup-monitor", "--zygote", NULL};
        int pair[2], r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        pid = exec_monitor(m, argv, pair[1], false);
        close(pair[1]);
        if (pid < 0) {
                close(pair[0]);
                return pid;
        }
        /* Reaped whenever it exits, like a spawn's intermediate child; a zygote that is replaced
         * is left to its reaper. */
        if (z->reaper)
                z->reaper->owner = NULL;
        z->reaper = reap_later(m->event, pid);
        if (z->reaper)
                z->reaper->owner = &z->reaper;
        z->fd = pair[0];
        r = fd_set_nonblock(z->fd, 1);
        if (r >= 0)
                r = event_add_io(m->event, &z->source, z->fd, EPOLLIN, on_zygote_reply, z);
        if (r < 0)
                zygote_stop(z); /* without its socket, it exits */
        return r;
}

/* Asks the zygote for a monitor with argv, ready_fd its ready pipe's write end (taken over on
 * success). -errno: not asked (disabled, or it cannot be reached now): execute it instead. */
static int zygote_spawn(Manager *m, Instance *i, const char *const *argv, int ready_fd) {
        MonitorZygote *z = m->zygote;
        _cleanup_free_ char *buf = NULL;
        ZygoteRequest *q;
        size_t n;
        int r;

        if (!z) {
                z = m->zygote = xnew0(MonitorZygote, 1);
                z->manager = m;
                z->fd = -EBADF;
        }
        if (z->disabled)
                return -EOPNOTSUPP;
        /* Until it has answered once, it is not known to be a zygote: one request at a time. */
        if (z->fd >= 0 && !z->answered && z->pending)
                return -EBUSY;
        if (z->fd < 0) {
                r = zygote_start(z);
                if (r < 0) {
                        z->disabled = true;
                        log_warning("cannot start the monitor zygote (%s); monitors are executed one by one",
                                    strerror(-r));
                        return r;
                }
        }
        r = zygote_request_encode((char *const *) argv, &buf, &n);
        if (r < 0)
                return r;
        /* The socket is non-blocking: a zygote that stopped reading is -EAGAIN, not a wait. */
        r = send_fds(z->fd, buf, n, &ready_fd, 1);
        if (r < 0)
                return r;
        if ((size_t) r != n)
                return -EIO;
        q = xnew0(ZygoteRequest, 1);
        q->instance = i;
        q->ready_fd = ready_fd;
        if (z->pending_tail)
                z->pending_tail->next = q;
        else
                z->pending = q;
        z->pending_tail = q;
        z->n_pending++;
        return 0;
}

/* Requests a zygote that has answered takes at once, in the turn that asks for the monitor
 * (monitor_spawn()): a few microseconds each, well within its socket's buffer. */
#define ZYGOTE_AT_ONCE_MAX 32

static bool zygote_takes_at_once(const Manager *m) {
        const MonitorZygote *z = m->zygote;

        return z && !z->disabled && z->fd >= 0 && z->answered && z->n_pending < ZYGOTE_AT_ONCE_MAX;
}

MonitorZygote *monitor_zygote_free(MonitorZygote *z) {
        if (!z)
                return NULL;
        /* Closing the socket ends it (its recvmsg() returns 0); it is not waited for (supd is
         * going: init reaps it). */
        zygote_requests_free(zygote_stop(z));
        reaper_free(z->reaper);
        free(z);
        return NULL;
}

/* The instance is forgotten: a reply for it closes its pipe and nothing more. */
static void zygote_forget(Manager *m, Instance *i) {
        if (!m->zygote)
                return;
        for (ZygoteRequest *q = m->zygote->pending; q; q = q->next)
                if (q->instance == i)
                        q->instance = NULL;
}

/* Executes the instance's monitor, ready_fd the write end of its ready pipe (the caller's still). */
static int exec_instance_monitor(Instance *i, int ready_fd) {
        _cleanup_free_ char *dir = instance_dir_path(i);
        const char *argv[MONITOR_ARGV_MAX];
        pid_t pid;

        monitor_argv(i->manager, dir, argv);
        pid = exec_monitor(i->manager, argv, ready_fd, true);
        if (pid < 0)
                return pid;
        reap_later(i->manager->event, pid);
        return 0;
}

/* The zygote's reply: error < 0, the monitor could not be forked there, and is executed. */
static void zygote_spawned(Manager *m, Instance *i, int ready_fd, int error) {
        _cleanup_free_ char *why = NULL;
        int r;

        if (error >= 0)
                return;
        log_debug("%s: the monitor zygote could not fork its monitor (%s); executing it", i->name, strerror(-error));
        r = exec_instance_monitor(i, ready_fd);
        if (r >= 0)
                return;
        why = xasprintf("cannot start its monitor: %s", strerror(-r));
        instance_spawned(i, why);
}

/* The monitor: forked by the zygote, or executed. Its ready pipe is read by on_monitor_ready(). */
static int monitor_fork(Instance *i) {
        Manager *m = i->manager;
        _cleanup_free_ char *dir = instance_dir_path(i);
        const char *argv[MONITOR_ARGV_MAX];
        int ready[2], r;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return negative_errno();
        monitor_argv(m, dir, argv);
        r = zygote_spawn(m, i, argv, ready[1]);
        if (r >= 0)
                ready[1] = -EBADF; /* the request's now */
        else {
                r = exec_monitor(m, argv, ready[1], true);
                if (r > 0)
                        reap_later(m->event, r);
        }
        if (ready[1] >= 0)
                close(ready[1]);
        if (r < 0) {
                close(ready[0]);
                return r;
        }
        (void) fd_set_nonblock(ready[0], 1);
        i->ready_fd = ready[0];
        return event_add_io(m->event, &i->ready_source, ready[0], EPOLLIN, on_monitor_ready, i);
}

/* Spawns per turn of supd's loop. A fork of supd takes milliseconds of CPU (its page tables), tens
 * of them on a busy host; forking a reload's hundred monitors in one go kept the reload's reply, every
 * other request and every new monitor's connect and start waiting until the last fork (and a
 * 900-unit reload outlasted supctl's timeout). A few per turn let the first containers start while
 * the later monitors are forked, and the loop answers in between. */
#define SPAWNS_PER_TURN 4

static void spawn_dequeue(Instance *i) {
        Manager *m = i->manager;

        if (!i->spawn_queued)
                return;
        for (Instance **p = &m->spawn_queue; *p; p = &(*p)->spawn_next)
                if (*p == i) {
                        *p = i->spawn_next;
                        break;
                }
        if (m->spawn_queue_tail == i) {
                m->spawn_queue_tail = NULL;
                for (Instance *q = m->spawn_queue; q; q = q->spawn_next)
                        m->spawn_queue_tail = q;
        }
        i->spawn_next = NULL;
        i->spawn_queued = false;
}

static void on_spawn_turn(EventSource *s, usec_t t, void *userdata) {
        Manager *m = userdata;

        for (unsigned k = 0; k < SPAWNS_PER_TURN && m->spawn_queue; k++) {
                Instance *i = m->spawn_queue;
                int r;

                spawn_dequeue(i);
                r = monitor_fork(i);
                if (r < 0) {
                        _cleanup_free_ char *why = xasprintf("cannot start its monitor: %s", strerror(-r));
                        /* The state machine's spawn failed: the unit shows failed, and an event says
                         * why; i may be gone afterwards. */
                        instance_spawned(i, why);
                }
        }
        if (m->spawn_queue)
                event_source_set_time(s, now(CLOCK_MONOTONIC));
}

/* The monitor is forked on a later turn of the loop (on_spawn_turn), in the order asked. Its
 * instance is spawning meanwhile, as it is until its monitor listens: whatever happens to it first
 * (removed, replaced, supd stopping) is the state machine's, and release() takes it off the queue.
 * A zygote that answers is asked at once, unless others wait in the queue before it: a reload
 * creating a hundred units then has their monitors forked, and their containers started, on the
 * other CPUs while it creates the rest, instead of leaving them idle until it is done. */
static int monitor_spawn(Instance *i) {
        Manager *m = i->manager;
        int r;

        /* One that fails before anything was started is queued: its turn tries again, and
         * reports as any spawn. */
        if (!m->spawn_queue && zygote_takes_at_once(m)) {
                r = monitor_fork(i);
                if (r >= 0 || i->ready_fd >= 0)
                        return r;
        }

        if (!m->spawn_source) {
                r = event_add_time(m->event, &m->spawn_source, USEC_INFINITY, on_spawn_turn, m);
                if (r < 0)
                        return r;
        }
        assert(!i->spawn_queued);
        if (m->spawn_queue_tail)
                m->spawn_queue_tail->spawn_next = i;
        else
                m->spawn_queue = i;
        m->spawn_queue_tail = i;
        i->spawn_queued = true;
        if (event_source_get_time(m->spawn_source) == USEC_INFINITY)
                event_source_set_time(m->spawn_source, now(CLOCK_MONOTONIC));
        return 0;
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
        _cleanup_free_ char *dir = instance_dir_path(i), *sock = path_join(dir, "monitor.sock");
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
        _cleanup_free_ char *dir = NULL;
        pid_t pid = 0, again = 0;
        int fd;

        if (i->pidfd >= 0)
                return 0;
        dir = instance_dir_path(i);
        if (instance_lock_holder(dir, &pid) < 0 || pid <= 0)
                return 0;
        fd = pidfd_open(pid, 0);
        if (fd < 0)
                return 0;
        /* The pid named by the lock may have exited and been reused since: the lock must still
         * be that process's now that the pidfd pins it. */
        if (instance_lock_holder(dir, &again) < 0 || again != pid) {
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
        spawn_dequeue(i);
        zygote_forget(i->manager, i);
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
