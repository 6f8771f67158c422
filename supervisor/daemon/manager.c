/* SPDX-License-Identifier: MIT */
#include "manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "alloc.h"
#include "cgroup.h"
#include "driver.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "path-util.h"
#include "socket-util.h"
#include "string-util.h"
#include "unit-parse.h"
#include "unit-value.h"

typedef struct PendingCall {
        json_int_t id;
        InstanceReply reply;
        void *userdata;
        struct PendingCall *next;
} PendingCall;

static json_int_t next_call_id = 1;

/* How long supd's start waits for the monitors it finds to answer before it reconciles without
 * them (a stopped or wedged monitor must not keep supd from serving and from starting the rest). */
#define ADOPT_TIMEOUT (5 * USEC_PER_SEC)
/* A monitor that cannot be reached is told to stop by SIGTERM; after its unit's stop timeout and
 * this much more, SIGKILL (its workload dies with it: PDEATHSIG). */
#define ORPHAN_GRACE (5 * USEC_PER_SEC)

static int instance_connect(Instance *i);
static void retire(Instance *i, bool remove_sandbox);
static void reconcile_current(Manager *m);
static void try_start_waiting(Manager *m);
static void on_start_reply(Instance *i, json_t *reply, void *userdata);
static void after_adoption(Manager *m);
static bool unreachable(Instance *i, const char *why);
static pid_t watch_monitor_exit(Instance *i, usec_t grace);
static void forget_dead_instance(Instance *i);

static char *instance_dir(Manager *m, const char *name) {
        return xasprintf("%s/units/%s", m->config.run_dir, name);
}

Instance *manager_find(Manager *m, const char *name) {
        for (Instance *i = m->instances; i; i = i->next)
                if (streq(i->name, name) && !i->retiring)
                        return i;
        return NULL;
}

static Instance *instance_new(Manager *m, const char *name) {
        Instance *i = xzalloc(sizeof(Instance));
        i->manager = m;
        i->name = xstrdup(name);
        i->dir_path = instance_dir(m, name);
        i->ready_fd = -EBADF;
        i->orphan_pidfd = -EBADF;
        i->next = m->instances;
        m->instances = i;
        return i;
}

static void fail_calls(Instance *i, const char *why) {
        while (i->calls) {
                PendingCall *c = i->calls;
                json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", "monitor-gone", "message", why);
                i->calls = c->next;
                c->reply(i, err, c->userdata);
                json_decref(err);
                free(c);
        }
}

static void instance_free(Instance *i) {
        Manager *m = i->manager;

        for (Instance **p = &m->instances; *p; p = &(*p)->next)
                if (*p == i) {
                        *p = i->next;
                        break;
                }
        fail_calls(i, "the unit's monitor is gone");
        json_conn_free(i->conn);
        event_source_free(i->ready_source);
        if (i->ready_fd >= 0)
                close(i->ready_fd);
        event_source_free(i->orphan_source);
        event_source_free(i->orphan_timer);
        if (i->orphan_pidfd >= 0)
                close(i->orphan_pidfd);
        unit_spec_free(i->spec);
        unit_spec_free(i->successor);
        instance_status_done(&i->status);
        free(i->spawn_error);
        free(i->problem);
        free(i->dir_path);
        free(i->name);
        free(i);
}

static void instance_set_problem(Instance *i, const char *fmt, ...) _printf_(2, 3);
static void instance_set_problem(Instance *i, const char *fmt, ...) {
        va_list ap;

        free(i->problem);
        va_start(ap, fmt);
        i->problem = xvasprintf(fmt, ap);
        va_end(ap);
}

int instance_call(Instance *i, const char *method, json_t *params, InstanceReply reply, void *userdata) {
        json_t *req;
        int r;

        if (!i->conn)
                return -ENOTCONN;
        req = json_pack("{s:I, s:s}", "id", next_call_id, "method", method);
        if (params)
                json_object_set(req, "params", params);
        r = json_conn_send(i->conn, req);
        json_decref(req);
        if (r < 0)
                return r;
        if (reply) {
                PendingCall *c = xzalloc(sizeof(PendingCall));
                *c = (PendingCall) { .id = next_call_id, .reply = reply, .userdata = userdata, .next = i->calls };
                i->calls = c;
        }
        next_call_id++;
        return 0;
}

/* A unit that shares a namespace of target fails its starts while target is not running, and
 * its restart policy may give up (failed) before target runs again: once it does, such sharers
 * are started afresh, as the operator would. One the operator stopped stays stopped. */
static void restart_failed_sharers(Manager *m, const Instance *target) {
        for (Instance *i = m->instances; i; i = i->next) {
                _cleanup_free_ UnitDependency *deps = NULL;
                bool shares_target = false;
                size_t n;

                if (i == target || !i->known || !i->conn || !i->spec || i->retiring ||
                    i->status.state != INSTANCE_FAILED || i->status.admin_stopped)
                        continue;
                deps = unit_spec_dependencies(i->spec, &n);
                for (size_t k = 0; k < n; k++)
                        shares_target = shares_target ||
                                        (startswith(deps[k].kind, "share.") && streq(deps[k].ref->name, target->name));
                if (!shares_target)
                        continue;
                log_info("%s: %s, whose namespaces it shares, runs again: starting it", i->name, target->name);
                (void) instance_call(i, "start", NULL, on_start_reply, NULL);
        }
}

static void update_status(Instance *i, const json_t *data) {
        InstanceStatus s;
        bool was_running = i->known && i->status.state == INSTANCE_RUNNING;

        if (instance_status_from_json(data, &s) < 0)
                return;
        if (i->known && s.state != i->status.state)
                log_info("%s: %s -> %s%s%s", i->name, instance_state_to_string(i->status.state),
                         instance_state_to_string(s.state), s.reason ? ": " : "", s.reason ? s.reason : "");
        instance_status_done(&i->status);
        i->status = s;
        i->known = true;
        if (!was_running && s.state == INSTANCE_RUNNING) {
                try_start_waiting(i->manager);
                restart_failed_sharers(i->manager, i);
        }
}

static void on_monitor_message(JsonConn *c, json_t *msg, void *userdata) {
        Instance *i = userdata;
        json_t *id = json_object_get(msg, "id");
        const char *event = json_string_value(json_object_get(msg, "event"));

        if (event && streq(event, "status")) {
                update_status(i, json_object_get(msg, "data"));
                return;
        }
        if (!json_is_integer(id))
                return;
        for (PendingCall **p = &i->calls; *p; p = &(*p)->next)
                if ((*p)->id == json_integer_value(id)) {
                        PendingCall *call = *p;
                        *p = call->next;
                        if (json_object_get(msg, "result"))
                                update_status(i, json_object_get(msg, "result"));
                        call->reply(i, msg, call->userdata);
                        free(call);
                        return;
                }
}

static int create_instance(Manager *m, const UnitSpec *spec, bool start);

/* A unit whose instance could not be created (a full run directory, no fork): the reason is kept
 * for its status and for the reload's answer; no instance exists, so a later reload or start
 * tries again. */
static int create_failed(Manager *m, const char *name, int error, const char *fmt, ...) _printf_(4, 5);
static int create_failed(Manager *m, const char *name, int error, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL, *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        what = xvasprintf(fmt, ap);
        va_end(ap);
        why = xasprintf("%s: %s", what, strerror(-error));
        log_error("%s: %s", name, why);
        if (!m->create_errors)
                m->create_errors = json_object();
        json_object_set_new(m->create_errors, name, json_string(why));
        return error;
}

json_t *manager_plan_failures(Manager *m, const Plan *plan) {
        json_t *list = json_array();

        for (size_t k = 0; plan && k < plan->n_actions; k++) {
                const char *why = json_string_value(json_object_get(m->create_errors, plan->actions[k].unit));
                if (why && (plan->actions[k].type == ACTION_START || plan->actions[k].type == ACTION_REPLACE))
                        json_array_append_new(list,
                                              json_pack("{s:s, s:s}", "unit", plan->actions[k].unit, "message", why));
        }
        return list;
}

int manager_request_pending(Manager *m, const char *name, const char *method) {
        bool start = streq(method, "start") || streq(method, "restart");
        Instance *i = manager_find(m, name);

        if (!start && !streq(method, "stop"))
                return -EOPNOTSUPP;
        /* Its new monitor is on its way: whether it is started once it answers. */
        if (i && !i->conn && i->ready_source) {
                i->start_wanted = start;
                return 0;
        }
        if (i)
                return -EAGAIN;
        /* Being replaced (a reload): the request is the successor's. */
        for (i = m->instances; i; i = i->next)
                if (i->retiring && i->successor && streq(i->name, name)) {
                        i->successor_start = start;
                        return 0;
                }
        return -ENOENT;
}

int manager_create_again(Manager *m, const char *name, char **ret_error) {
        const UnitSpec *spec = unit_set_find(m->generation, name);
        int r;

        if (!spec)
                return -ENOENT;
        r = create_instance(m, spec, true);
        if (r < 0) {
                const char *why = json_string_value(json_object_get(m->create_errors, name));
                *ret_error = xstrdup(why ? why : strerror(-r));
                return r;
        }
        try_start_waiting(m);
        return 0;
}

/* A retired instance's monitor is gone: forget it, and start its successor (REPLACE). */
static void instance_retired(Instance *i) {
        Manager *m = i->manager;
        UnitSpec *successor = TAKE_PTR(i->successor);
        bool start = i->successor_start;

        instance_free(i);
        if (successor) {
                (void) create_instance(m, successor, start);
                unit_spec_free(successor);
        }
        try_start_waiting(m); /* its host ports are free now */
}

static void on_monitor_close(JsonConn *c, int error, void *userdata) {
        Instance *i = userdata;
        Manager *m = i->manager;

        i->conn = NULL;
        if (i->adoption == ADOPTION_ASKED || i->adoption == ADOPTION_UNRESPONSIVE || i->adoption == ADOPTION_SPEC) {
                /* Counted in m->adopting: asked at start, or asked for its spec before ready. */
                bool asked = i->adoption == ADOPTION_ASKED || (i->adoption == ADOPTION_SPEC && !m->ready);
                /* Gone before it answered: its workload went with it (PDEATHSIG). Unless it lives
                 * on without its socket, which unreachable() settles. */
                if (asked && m->adopting > 0)
                        m->adopting--;
                i->adoption = ADOPTION_NONE;
                if (!unreachable(i, "it closed the connection before answering")) {
                        log_warning("%s: the monitor found at start closed its connection before answering; "
                                    "starting anew",
                                    i->name);
                        forget_dead_instance(i);
                }
                if (asked)
                        after_adoption(m);
                else if (m->ready)
                        reconcile_current(m);
                return;
        }
        if (i->retiring) {
                /* The socket closes as the monitor exits; its process (and the instance lock) may
                 * outlive it by a moment. A successor's monitor would find the lock held. */
                if (watch_monitor_exit(i, ORPHAN_GRACE) > 0)
                        return;
                instance_retired(i);
        } else if (!m->shutting_down) {
                /* A monitor that dies takes its container along (PDEATHSIG); reconcile starts a
                 * new instance, since the unit is still in the generation. */
                log_warning("%s: the monitor exited unexpectedly%s%s", i->name, error < 0 ? ": " : "",
                            error < 0 ? strerror(-error) : "");
                /* Or it closed the connection and lives on: then it is stopped first. */
                if (!unreachable(i, "it closed supd's connection")) {
                        instance_free(i);
                        if (m->ready)
                                reconcile_current(m);
                }
        } else
                instance_free(i);

        if (m->shutting_down && !m->instances && m->on_idle)
                m->on_idle(m);
}

static int instance_connect(Instance *i) {
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

static void on_status_reply(Instance *i, json_t *reply, void *userdata) {
        Manager *m = i->manager;
        if (json_object_get(reply, "result"))
                try_start_waiting(m);
}

static void on_monitor_ready(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;
        char buf[1024];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        i->ready_source = event_source_free(i->ready_source);
        close(i->ready_fd);
        i->ready_fd = -EBADF;
        if (n > 0) {
                buf[n] = 0;
                free(i->spawn_error);
                i->spawn_error = xstrdup(buf);
                log_error("%s: the monitor failed to start: %s", i->name, buf);
                return;
        }
        if (instance_connect(i) < 0)
                log_error("%s: cannot connect to its new monitor", i->name);
        if (i->conn)
                (void) instance_call(i, "status", NULL, on_status_reply, NULL);
}

static int spawn_monitor(Instance *i) {
        Manager *m = i->manager;
        _cleanup_free_ char *dir = instance_dir(m, i->name);
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
                execl(m->config.monitor_path, "sup-monitor", "--dir", dir, "--state-dir", m->config.state_dir,
                      "--cgroup-root", m->config.cgroup_root, "--cgroup-parent", m->config.cgroup_parent,
                      "--bridge-subnet", m->config.bridge_subnet, "--guest-dir", m->config.guest_dir, "--vm-accel",
                      m->config.vm_accel, "--log-max-size", m->config.log_max_size, "--ready-fd", "3", (char *) NULL);
                (void) !write(3, "cannot execute sup-monitor", 26);
                _exit(127);
        }
        close(ready[1]);
        /* The intermediate child exits at once. */
        (void) waitpid(pid, NULL, 0);
        (void) fd_set_nonblock(ready[0], 1);
        i->ready_fd = ready[0];
        return event_add_io(m->event, &i->ready_source, ready[0], EPOLLIN, on_monitor_ready, i);
}

/* Writes the spec and starts a monitor for it. The instance owns a copy of the spec parsed back
 * from the file the monitor reads, so both see exactly the same unit. */
static int create_instance(Manager *m, const UnitSpec *spec, bool start) {
        _cleanup_free_ char *dir = instance_dir(m, spec->name), *path = path_join(dir, "spec.json"), *text = NULL;
        Diagnostics d = {};
        Instance *i;
        int r;

        /* Never a second instance of a unit beside one whose monitor lives: one still being
         * adopted or stopped keeps its place (reconcile runs again once it is settled), and one
         * being retired hands over to this spec once it is gone. */
        i = manager_find(m, spec->name);
        if (i && i->spawn_error && !i->conn && !i->ready_source) {
                /* Its monitor said why it could not start, and exited: try anew. */
                instance_free(i);
                i = NULL;
        }
        if (i) {
                log_debug("%s: not starting another instance beside the one it has", spec->name);
                return -EEXIST;
        }
        for (i = m->instances; i; i = i->next)
                if (i->retiring && streq(i->name, spec->name)) {
                        if (!i->successor) {
                                i->successor = unit_spec_clone(spec);
                                i->successor_start = start;
                        }
                        return 0;
                }

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return create_failed(m, spec->name, r, "cannot create %s", dir);
        text = unit_spec_format(spec);
        r = write_file_atomic(path, text, strlen(text), 0600);
        if (r < 0)
                return create_failed(m, spec->name, r, "cannot write %s", path);

        i = instance_new(m, spec->name);
        if (unit_load_file(path, 0, &d, &i->spec, NULL) < 0) {
                diagnostics_print(&d, stderr);
                diagnostics_done(&d);
                instance_free(i);
                return -EINVAL;
        }
        (void) unit_spec_hash(i->spec, i->hash);
        i->start_wanted = start;
        r = spawn_monitor(i);
        if (r < 0) {
                instance_free(i);
                return create_failed(m, spec->name, r, "cannot start its monitor");
        }
        json_object_del(m->create_errors, spec->name);
        return r;
}

/* The units an instance needs running before it starts: requires, and share targets. */
static bool dependencies_running(Manager *m, const UnitSpec *u, const char **ret_waiting) {
        _cleanup_free_ UnitDependency *deps = NULL;
        size_t n;

        deps = unit_spec_dependencies(u, &n);
        for (size_t k = 0; k < n; k++) {
                Instance *d = manager_find(m, deps[k].ref->name);
                if (!d || !d->known || d->status.state != INSTANCE_RUNNING) {
                        if (ret_waiting)
                                *ret_waiting = deps[k].ref->name;
                        return false;
                }
        }
        return true;
}

/* The retiring instance (removed or replaced, stopping) that publishes a host port the unit
 * publishes too: its monitor holds that port until its container is gone (net/hostport.h), so a
 * unit that took the port over in the same reload waits for it instead of failing to start with
 * the port "in use". */
static const char *port_holder(Manager *m, const UnitSpec *u) {
        for (Instance *r = m->instances; r; r = r->next) {
                if (!r->retiring || !r->spec)
                        continue;
                for (size_t a = 0; a < u->n_ports; a++)
                        for (size_t b = 0; b < r->spec->n_ports; b++)
                                if (port_spec_conflicts(&u->ports[a], &r->spec->ports[b]))
                                        return r->name;
        }
        return NULL;
}

static void on_start_reply(Instance *i, json_t *reply, void *userdata) {
        json_t *err = json_object_get(reply, "error");
        if (err)
                log_error("%s: cannot start: %s", i->name, json_string_value(json_object_get(err, "message")));
}

static void try_start_waiting(Manager *m) {
        if (m->shutting_down)
                return;
        for (Instance *i = m->instances; i; i = i->next) {
                if (!i->start_wanted || !i->conn || !i->known || i->retiring)
                        continue;
                if (!dependencies_running(m, i->spec, NULL) || port_holder(m, i->spec))
                        continue;
                i->start_wanted = false;
                if (instance_call(i, "start", NULL, on_start_reply, NULL) < 0)
                        i->start_wanted = true;
        }
}

static void on_retire_reply(Instance *i, json_t *reply, void *userdata) {
        /* The monitor closes its socket once the instance is gone; on_monitor_close() goes on. */
}

static void retire(Instance *i, bool remove_sandbox) {
        json_t *params = json_pack("{s:b}", "remove", remove_sandbox);
        i->retiring = true;
        i->start_wanted = false;
        /* Never connected: nothing to wait for; a monitor being stopped by a signal: its end. */
        if (instance_call(i, "shutdown", params, on_retire_reply, NULL) < 0 && !i->conn && !i->ready_source &&
            !i->orphan_source)
                instance_retired(i);
        json_decref(params);
}

static void replace_instance(Instance *i, const UnitSpec *spec, bool start) {
        unit_spec_free(i->successor);
        i->successor = unit_spec_clone(spec);
        i->successor_start = start;
        retire(i, true);
}

static void on_update_reply(Instance *i, json_t *reply, void *userdata) {
        json_t *err = json_object_get(reply, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const UnitSpec *spec;

        if (!err) {
                log_info("%s: updated in place", i->name);
                return;
        }
        /* A monitor that went away is reconciled anew by on_monitor_close(). */
        if (code && streq(code, "monitor-gone"))
                return;
        spec = unit_set_find(i->manager->generation, i->name);
        log_warning("%s: not updated in place (%s); restarting it with the new spec", i->name,
                    json_string_value(json_object_get(err, "message")) ?: "no reason given");
        if (spec && !i->retiring && !i->manager->shutting_down)
                replace_instance(i, spec, !(i->known && i->status.admin_stopped));
}

/* UPDATE: the monitor takes the new spec and applies its limits to the running workload. supd's
 * copy is the new spec from here on, so that a reload meanwhile compares against it; if the
 * monitor refuses, the instance is replaced as for any other change. */
static void update_instance(Instance *i, const UnitSpec *spec) {
        _cleanup_free_ char *text = unit_spec_format(spec);
        UnitSpec *copy = unit_spec_clone(spec);
        json_t *params;
        int r;

        if (!copy) {
                replace_instance(i, spec, !(i->known && i->status.admin_stopped));
                return;
        }
        params = json_pack("{s:s}", "spec", text);
        r = instance_call(i, "update", params, on_update_reply, NULL);
        json_decref(params);
        if (r < 0) {
                unit_spec_free(copy);
                replace_instance(i, spec, !(i->known && i->status.admin_stopped));
                return;
        }
        unit_spec_free(i->spec);
        i->spec = copy;
        (void) unit_spec_hash(i->spec, i->hash);
}

static void execute(Manager *m, const Plan *plan) {
        for (size_t k = 0; k < plan->n_actions; k++) {
                const Action *a = &plan->actions[k];
                const UnitSpec *spec = unit_set_find(m->generation, a->unit);
                Instance *i = manager_find(m, a->unit);

                switch (a->type) {
                case ACTION_START:
                        if (spec)
                                (void) create_instance(m, spec, a->start);
                        break;
                case ACTION_REPLACE:
                        if (i && spec)
                                replace_instance(i, spec, a->start);
                        break;
                case ACTION_UPDATE:
                        if (i && spec)
                                update_instance(i, spec);
                        break;
                case ACTION_REMOVE:
                        if (i)
                                retire(i, true);
                        break;
                case _ACTION_TYPE_MAX:
                case _ACTION_TYPE_INVALID:
                        break;
                }
        }
        try_start_waiting(m);
}

/* The plan that takes the observed instances to the generation set. */
static int plan_for(Manager *m, const UnitSet *set, Plan **ret) {
        _cleanup_free_ Observed *observed = NULL;
        size_t n = 0;

        for (Instance *i = m->instances; i; i = i->next)
                n++;
        observed = xnew0(Observed, n + 1);
        n = 0;
        for (Instance *i = m->instances; i; i = i->next) {
                /* Not observed: instances being retired, without a known spec, or whose monitor
                 * failed to start (a START creates them anew). */
                if (i->retiring || !i->spec || (i->spawn_error && !i->conn && !i->ready_source))
                        continue;
                observed[n++] = (Observed) {
                        .name = i->name,
                        .hash = i->hash,
                        .spec = i->spec,
                        .state = i->known ? i->status.state : INSTANCE_STOPPED,
                        .admin_stopped = i->known && i->status.admin_stopped,
                };
        }
        /* What each isolation's driver can apply to a running instance: the planner stays pure. */
        return reconcile(set, observed, n, isolation_driver_field_is_live, ret);
}

/* Brings the instances back to the current generation (a monitor was lost), without reading the
 * units directory: edits on disk wait for a reload. */
static void reconcile_current(Manager *m) {
        _cleanup_(plan_freep) Plan *plan = NULL;

        if (m->generation && plan_for(m, m->generation, &plan) >= 0)
                execute(m, plan);
}

int manager_reload(Manager *m, bool dry_run, Diagnostics *diags, Plan **ret_plan) {
        char *paths[] = { m->config.units_dir, NULL };
        _cleanup_(unit_set_freep) UnitSet *set = NULL;
        Plan *plan = NULL;
        int r;

        r = unit_set_load(paths, UNIT_PARSE_CHECK_SOURCES, diags, &set);
        if (r < 0)
                return r;
        r = plan_for(m, set, &plan);
        if (r < 0)
                return r;
        if (!dry_run) {
                unit_set_free(m->generation);
                m->generation = TAKE_PTR(set);
                execute(m, plan);
        }
        *ret_plan = plan;
        return 0;
}

static void after_adoption(Manager *m) {
        Diagnostics d = {};
        _cleanup_(plan_freep) Plan *plan = NULL;
        int r;

        if (m->adopting > 0 || m->ready)
                return;
        m->adopt_deadline = event_source_free(m->adopt_deadline);
        r = manager_reload(m, false, &d, &plan);
        if (r < 0) {
                /* An invalid units directory at start: run nothing new, keep what was adopted,
                 * and say why. A later reload can fix it. */
                log_error("the units in %s are not valid; nothing is started:", m->config.units_dir);
                diagnostics_print(&d, stderr);
                m->generation = m->generation ? m->generation : xzalloc(sizeof(UnitSet));
        } else {
                _cleanup_free_ char *text = plan_format(plan);
                log_info("units loaded from %s: %s", m->config.units_dir, text);
        }
        diagnostics_done(&d);
        m->ready = true;
        if (m->on_ready)
                m->on_ready(m);
}

static void on_spec_reply(Instance *i, json_t *reply, void *userdata) {
        Manager *m = i->manager;
        const char *text = json_string_value(json_object_get(json_object_get(reply, "result"), "spec"));
        _cleanup_free_ char *dir = instance_dir(m, i->name), *path = path_join(dir, "spec.json");
        Diagnostics d = {};
        UnitSpec *spec = NULL;
        int r;

        if (i->adoption != ADOPTION_SPEC)
                return;
        i->adoption = ADOPTION_NONE;
        /* Counted as adopting until now, if supd's start still waits (see on_adopt_reply()). */
        if (!m->ready && m->adopting > 0)
                m->adopting--;
        if (text && unit_parse(path, dir, text, strlen(text), 0, &d, &spec, NULL) >= 0 && streq(spec->name, i->name)) {
                i->spec = spec;
                (void) unit_spec_hash(i->spec, i->hash);
                free(i->problem);
                i->problem = NULL;
                r = write_file_atomic(path, text, strlen(text), 0600);
                log_warning("%s: adopted with the spec its monitor runs; spec.json %s", i->name,
                            r < 0 ? "could not be rewritten" : "rewritten from it");
        } else {
                /* A monitor that cannot say what it runs (an older one) is stopped cleanly; the
                 * unit then starts anew from the units directory. */
                unit_spec_free(spec);
                log_warning("%s: its spec.json is unusable and its monitor does not tell its spec; stopping it",
                            i->name);
                instance_set_problem(i, "spec.json is unusable and the monitor does not tell its spec: stopping it");
                retire(i, false);
        }
        diagnostics_done(&d);
        if (m->ready)
                reconcile_current(m);
        else
                after_adoption(m);
}

static void on_adopt_reply(Instance *i, json_t *reply, void *userdata) {
        Manager *m = i->manager;
        bool asked = i->adoption == ADOPTION_ASKED;

        if (i->adoption == ADOPTION_UNRESPONSIVE)
                log_info("%s: its monitor answers again", i->name);
        i->adoption = ADOPTION_NONE;
        if (json_object_get(reply, "result"))
                log_info("%s: adopted (%s, pid %d)", i->name, instance_state_to_string(i->status.state),
                         (int) i->status.pid);
        if (!i->spec && i->conn) {
                /* spec.json could not be read: the monitor knows what it runs. Until it says,
                 * the instance is in no plan, and nothing else of the unit starts; supd's start
                 * waits for the answer as for the status. */
                i->adoption = ADOPTION_SPEC;
                if (instance_call(i, "spec", NULL, on_spec_reply, NULL) >= 0)
                        return;
                i->adoption = ADOPTION_NONE;
        } else if (i->spec) {
                free(i->problem);
                i->problem = NULL;
        }
        if (asked && m->adopting > 0)
                m->adopting--;
        if (asked)
                after_adoption(m);
        else if (m->ready)
                reconcile_current(m);
}

static void on_adopt_deadline(EventSource *s, usec_t t, void *userdata) {
        Manager *m = userdata;

        for (Instance *i = m->instances; i; i = i->next) {
                pid_t pid = 0;
                if (i->adoption != ADOPTION_ASKED)
                        continue;
                (void) instance_lock_holder(i->dir_path, &pid);
                i->adoption = ADOPTION_UNRESPONSIVE;
                instance_set_problem(i, "its monitor (pid %d) does not answer; it is adopted once it does", (int) pid);
                log_warning("%s: its monitor (pid %d) did not answer within %llu s; going on without it", i->name,
                            (int) pid, (unsigned long long) (ADOPT_TIMEOUT / USEC_PER_SEC));
        }
        m->adopting = 0;
        after_adoption(m);
}

static void forget_dead_instance(Instance *i) {
        _cleanup_free_ char *dir = instance_dir(i->manager, i->name);
        instance_free(i);
        (void) rm_rf(dir);
}

static void on_orphan_gone(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Instance *i = userdata;
        Manager *m = i->manager;

        if (i->retiring) {
                /* A retired monitor's process has ended: its successor may take the directory. */
                instance_retired(i);
                if (m->shutting_down && !m->instances && m->on_idle)
                        m->on_idle(m);
                return;
        }
        log_info("%s: the monitor that could not be reached is gone", i->name);
        forget_dead_instance(i);
        if (m->ready && !m->shutting_down)
                reconcile_current(m);
        if (m->shutting_down && !m->instances && m->on_idle)
                m->on_idle(m);
}

static void on_orphan_timeout(EventSource *s, usec_t t, void *userdata) {
        Instance *i = userdata;

        log_warning("%s: its monitor (no longer connected) did not exit; killing it", i->name);
        (void) syscall(SYS_pidfd_send_signal, i->orphan_pidfd, SIGKILL, NULL, 0);
}

/* The instance's monitor cannot be talked to (why). If it is alive nonetheless (it holds the
 * instance lock), it is stopped by a signal, and the instance stays, stopping, until it is gone:
 * a second monitor of the unit never runs beside it, and it is never left running unseen. Returns
 * false when no monitor lives. */
/* Watches the process that holds the instance lock until it exits (on_orphan_gone()), SIGKILL
 * after grace; returns its pid, or 0 when no process holds the lock. */
static pid_t watch_monitor_exit(Instance *i, usec_t grace) {
        Manager *m = i->manager;
        pid_t pid = 0, again = 0;
        int fd;

        if (instance_lock_holder(i->dir_path, &pid) < 0 || pid <= 0)
                return 0;
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return 0;
        /* The pid named by the lock may have exited and been reused since: the lock must still
         * be that process's now that the pidfd pins it. */
        if (instance_lock_holder(i->dir_path, &again) < 0 || again != pid) {
                close(fd);
                return 0;
        }
        i->orphan_pidfd = fd;
        (void) event_add_io(m->event, &i->orphan_source, fd, EPOLLIN, on_orphan_gone, i);
        (void) event_add_time(m->event, &i->orphan_timer, now(CLOCK_MONOTONIC) + grace, on_orphan_timeout, i);
        return pid;
}

static bool unreachable(Instance *i, const char *why) {
        pid_t pid = watch_monitor_exit(i, (i->spec ? i->spec->stop.timeout : 10 * USEC_PER_SEC) + ORPHAN_GRACE);

        if (pid == 0)
                return false;
        i->adoption = ADOPTION_UNREACHABLE;
        instance_set_problem(i,
                             "its monitor (pid %d) cannot be reached (%s): stopping it; the unit starts anew once it "
                             "is gone",
                             (int) pid, why);
        log_warning("%s: its monitor (pid %d) lives but cannot be reached (%s); stopping it", i->name, (int) pid, why);
        (void) syscall(SYS_pidfd_send_signal, i->orphan_pidfd, SIGTERM, NULL, 0);
        return true;
}

int manager_startup(Manager *m) {
        _cleanup_free_ char *units = xasprintf("%s/units", m->config.run_dir);
        DIR *d;
        struct dirent *de;

        (void) mkdir_p(units, 0700);
        d = opendir(units);
        if (!d)
                return log_error_errno(negative_errno(), "cannot open %s: %m", units);
        while ((de = readdir(d))) {
                _cleanup_free_ char *spec = NULL, *spec_error = NULL;
                Diagnostics diags = {};
                Instance *i;
                int r;

                if (de->d_name[0] == '.' || !unit_name_is_valid(de->d_name))
                        continue;
                i = instance_new(m, de->d_name);
                spec = path_join(i->dir_path, "spec.json");
                r = unit_load_file(spec, 0, &diags, &i->spec, NULL);
                if (r >= 0 && !streq(i->spec->name, de->d_name)) {
                        spec_error = xasprintf("it names the unit \"%s\"", i->spec->name);
                        i->spec = unit_spec_free(i->spec);
                } else if (r < 0)
                        spec_error = diags.n > 0 ? xasprintf("%s:%u:%u: %s", diags.items[0].file, diags.items[0].line,
                                                             diags.items[0].column, diags.items[0].message)
                                                 : xasprintf("%s", strerror(-r));
                diagnostics_done(&diags);
                if (i->spec)
                        (void) unit_spec_hash(i->spec, i->hash);
                else
                        instance_set_problem(i, "spec.json is unusable (%s)", spec_error);

                r = instance_connect(i);
                if (r >= 0 && instance_call(i, "status", NULL, on_adopt_reply, NULL) >= 0) {
                        if (spec_error)
                                log_warning("%s: spec.json is unusable (%s); asking its monitor", de->d_name,
                                            spec_error);
                        i->adoption = ADOPTION_ASKED;
                        m->adopting++;
                        continue;
                }
                if (r >= 0)
                        r = -EPIPE;
                {
                        _cleanup_free_ char *why = xasprintf("its socket: %s", strerror(-r));
                        if (unreachable(i, why))
                                continue;
                }
                /* No monitor holds the instance: it died while supd was away, and its container
                 * with it. */
                if (spec_error)
                        log_warning("%s: leftover instance directory without a usable spec (%s) and no monitor; "
                                    "removing it",
                                    i->dir_path, spec_error);
                else
                        log_warning("%s: its monitor is gone; it will be started anew", de->d_name);
                forget_dead_instance(i);
        }
        closedir(d);
        if (m->adopting > 0)
                (void) event_add_time(m->event, &m->adopt_deadline, now(CLOCK_MONOTONIC) + ADOPT_TIMEOUT,
                                      on_adopt_deadline, m);
        after_adoption(m);
        return 0;
}

static json_t *pending_status(const UnitSpec *u, const char *why) {
        InstanceStatus s = { .name = (char *) u->name, .isolation = u->isolation, .state = INSTANCE_STOPPED };
        json_t *j = instance_status_to_json(&s);
        json_object_set_new(j, "reason", why ? json_string(why) : json_null());
        json_object_set_new(j, "usage", json_null());
        return j;
}

static json_t *figure(uint64_t v) {
        return v == UINT64_MAX ? json_null() : json_integer((json_int_t) v);
}

/* What the instance's cgroup says it uses now (for hyperv units: QEMU's), or null without one. Read
 * here rather than asked of the monitor: a few small files, and an answer even while the workload
 * keeps its monitor busy. */
static json_t *usage_json(Manager *m, const Instance *i) {
        _cleanup_(cgroup_freep) Cgroup *cg = NULL, *mon = NULL;
        _cleanup_free_ char *mon_name = xasprintf("%s" INSTANCE_MONITOR_CGROUP_SUFFIX, i->name);
        CgroupStats st, ms = {.cpu_usec = UINT64_MAX};
        const IsolationDriver *driver = isolation_driver_get(i->status.isolation);

        if (!i->known || !instance_state_is_active(i->status.state))
                return json_null();
        if (cgroup_open(m->config.cgroup_root, m->config.cgroup_parent, i->name, &cg) < 0 ||
            cgroup_get_stats(cg, &st) < 0)
                return json_null();
        /* The monitor's work for the unit (its log, above all), in its own cgroup (monitor.h). */
        if (cgroup_open(m->config.cgroup_root, m->config.cgroup_parent, mon_name, &mon) < 0 ||
            cgroup_get_stats(mon, &ms) < 0)
                ms.cpu_usec = UINT64_MAX;
        return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "of", driver ? driver->usage_of : "workload",
                         "cgroup", cgroup_path(cg), "memory_bytes", figure(st.memory_current), "memory_max",
                         figure(st.memory_max), "cpu_usec", figure(st.cpu_usec), "pids", figure(st.pids_current),
                         "pids_max", figure(st.pids_max), "monitor_cpu_usec", figure(ms.cpu_usec));
}

json_t *manager_status_json(Manager *m, const char *only) {
        json_t *list = json_array();
        size_t n = m->generation ? m->generation->n_units : 0;

        /* Units of the generation in name order, then instances being retired. */
        for (size_t k = 0; k < n; k++) {
                const UnitSpec *u = m->generation->units[k];
                Instance *i = manager_find(m, u->name);
                json_t *j;

                if (only && !streq(only, u->name))
                        continue;
                if (i && i->adoption != ADOPTION_NONE && i->adoption != ADOPTION_SPEC) {
                        /* A monitor supd found but could not adopt (yet): what it last said, if
                         * anything, under a state that says so. */
                        j = i->known ? instance_status_to_json(&i->status) : pending_status(u, NULL);
                        json_object_set_new(
                                j, "state",
                                json_string(i->adoption == ADOPTION_UNREACHABLE ? "stopping" : "unresponsive"));
                        json_object_set_new(j, "reason", json_string(i->problem));
                        if (!i->known)
                                json_object_set_new(j, "monitor_pid", json_null());
                } else if (!i && json_object_get(m->create_errors, u->name)) {
                        j = pending_status(u, json_string_value(json_object_get(m->create_errors, u->name)));
                        json_object_set_new(j, "state", json_string("failed"));
                } else if (!i || !i->known) {
                        j = pending_status(u, i && i->spawn_error ? i->spawn_error : NULL);
                        if (i && i->spawn_error)
                                json_object_set_new(j, "state", json_string("failed"));
                } else {
                        const char *waiting = NULL;
                        j = instance_status_to_json(&i->status);
                        json_object_set_new(j, "usage", usage_json(m, i));
                        if (i->start_wanted && !dependencies_running(m, i->spec, &waiting) && waiting) {
                                _cleanup_free_ char *why = xasprintf("waiting for %s to run", waiting);
                                json_object_set_new(j, "reason", json_string(why));
                        } else if (i->start_wanted && (waiting = port_holder(m, i->spec))) {
                                _cleanup_free_ char *why =
                                        xasprintf("waiting for %s to stop and release the host ports", waiting);
                                json_object_set_new(j, "reason", json_string(why));
                        }
                }
                json_object_set_new(j, "description", json_string(u->description));
                json_array_append_new(list, j);
        }
        for (Instance *i = m->instances; i; i = i->next)
                if (i->retiring && i->known && (!only || streq(only, i->name))) {
                        json_t *j = instance_status_to_json(&i->status);
                        json_object_set_new(j, "usage", usage_json(m, i));
                        json_array_append_new(list, j);
                }
        return list;
}

void manager_shutdown(Manager *m) {
        m->shutting_down = true;
        for (Instance *i = m->instances, *next; i; i = next) {
                next = i->next;
                if (!i->conn) {
                        instance_free(i);
                        continue;
                }
                if (!i->retiring)
                        retire(i, false);
        }
        if (!m->instances && m->on_idle)
                m->on_idle(m);
}

int manager_new(Event *e, ManagerConfig *config, Manager **ret) {
        Manager *m = xzalloc(sizeof(Manager));
        m->event = e;
        m->config = *config;
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->instances)
                instance_free(m->instances);
        event_source_free(m->adopt_deadline);
        json_decref(m->create_errors);
        unit_set_free(m->generation);
        free(m->config.units_dir);
        free(m->config.state_dir);
        free(m->config.run_dir);
        free(m->config.cgroup_root);
        free(m->config.cgroup_parent);
        free(m->config.bridge_subnet);
        free(m->config.monitor_path);
        free(m->config.guest_dir);
        free(m->config.vm_accel);
        free(m->config.log_max_size);
        free(m);
        return NULL;
}
