/* SPDX-License-Identifier: MIT */
#include "control.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "alloc.h"
#include "log.h"
#include "macro.h"
#include "socket-util.h"
#include "string-util.h"

#define CONTROL_IDLE_TIMEOUT (60 * USEC_PER_SEC)
/* supctl writes a request in one go: one that is not complete after this is a slow-loris. */
#define CONTROL_REQUEST_TIMEOUT (10 * USEC_PER_SEC)
/* Replies waiting for a client that does not read: past the first, its next requests wait; past
 * the second, it is disconnected. A status of a few hundred units is well under 1 MiB. */
#define CONTROL_OUTPUT_SOFT (256U * 1024U)
#define CONTROL_OUTPUT_HARD (4U * 1024U * 1024U)
/* Connections one non-root uid may hold, and all non-root uids together (a share of the fds,
 * computed at start): the rest stays for root and for the monitors. */
#define CONTROL_MAX_PER_UID 32U

void (*control_on_reload)(bool begin) = NULL;

typedef struct Client {
        ControlServer *server;
        JsonConn *conn;
        uint64_t id;
        uid_t uid;
        bool privileged;
        struct Client *next;
} Client;

struct ControlServer {
        Event *event;
        Manager *manager;
        int fd;
        EventSource *source;
        Client *clients;
        uint64_t next_id;
        char *path;
        gid_t group; /* (gid_t) -1: root only */
        unsigned max_unprivileged; /* non-root connections at once */
        int reserve_fd;            /* given up to accept (and turn away) a client when out of fds */
        usec_t last_fd_warning;
};

/* Whether the peer is a member of group: its primary group, or one of its supplementary groups
 * as the kernel lists them in /proc/PID/status (the peer's pid from SO_PEERCRED). */
static bool peer_in_group(const struct ucred *cred, gid_t group) {
        _cleanup_free_ char *path = xasprintf("/proc/%d/status", (int) cred->pid);
        _cleanup_fclose_ FILE *f = NULL;
        char line[4096];

        if (cred->gid == group)
                return true;
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                const char *p = startswith(line, "Groups:");
                if (!p)
                        continue;
                for (char *end; *p; p = end) {
                        unsigned long g = strtoul(p, &end, 10);
                        if (end == p)
                                break;
                        if ((gid_t) g == group)
                                return true;
                }
        }
        return false;
}

/* A reply owed to a client after a monitor answers; the client may have gone meanwhile. */
typedef struct Deferred {
        ControlServer *server;
        uint64_t client_id;
        json_t *request;
        bool verbatim; /* the monitor's errors are worded for the operator already (top's) */
} Deferred;

static Client *find_client(ControlServer *s, uint64_t id) {
        for (Client *c = s->clients; c; c = c->next)
                if (c->id == id)
                        return c;
        return NULL;
}

static void on_monitor_reply(Instance *i, json_t *reply, void *userdata) {
        Deferred *d = userdata;
        Client *c = find_client(d->server, d->client_id);
        json_t *err = json_object_get(reply, "error");

        if (c) {
                const char *code = json_string_value(json_object_get(err, "code")),
                           *message = json_string_value(json_object_get(err, "message")) ?: "no reason given";
                if (err && d->verbatim)
                        (void) json_conn_reply_error(c->conn, d->request, code ? code : "failed", "%s", message);
                else if (err)
                        (void) json_conn_reply_error(c->conn, d->request, "failed", "%s: %s", i->name, message);
                else
                        (void) json_conn_reply(c->conn, d->request, json_incref(json_object_get(reply, "result")));
        }
        json_decref(d->request);
        free(d);
}

static const char *param_string(json_t *msg, const char *key) {
        return json_string_value(json_object_get(json_object_get(msg, "params"), key));
}

static void do_unit_verb(Client *c, json_t *msg, const char *method) {
        ControlServer *s = c->server;
        const char *unit = param_string(msg, "unit");
        Instance *i;
        Deferred *d;

        if (!unit) {
                (void) json_conn_reply_error(c->conn, msg, "bad-request", "%s needs a unit", method);
                return;
        }
        i = manager_find(s->manager, unit);
        if (!unit_set_find(s->manager->generation, unit)) {
                (void) json_conn_reply_error(c->conn, msg, "no-such-unit", "no unit \"%s\" is loaded", unit);
                return;
        }
        /* Replaced by a reload right now, or its monitor not up yet: the request waits for
         * the new instance instead of failing (an operator's stop is not lost to a race). */
        if (manager_request_pending(s->manager, unit, method) == 0) {
                (void) json_conn_reply(c->conn, msg, json_null());
                return;
        }
        /* A unit of the generation without a working instance (its creation failed, a full
         * disk): start creates it again. */
        if (streq(method, "start") && (!i || i->life == LIFE_SPAWN_FAILED)) {
                _cleanup_(sup_error_freep) SupError *why = NULL;
                if (manager_create_again(s->manager, unit, &why) < 0)
                        (void) json_conn_reply_error(c->conn, msg, "failed", "%s: %s", unit, sup_error_message(why));
                else
                        (void) json_conn_reply(c->conn, msg, json_null());
                return;
        }
        if (!i) {
                (void) json_conn_reply_error(c->conn, msg, "failed", "%s has no instance", unit);
                return;
        }
        if (streq(method, "start") && !i->spec) {
                (void) json_conn_reply_error(c->conn, msg, "failed", "%s has no instance yet", unit);
                return;
        }
        d = xzalloc(sizeof(Deferred));
        *d = (Deferred) { .server = s, .client_id = c->id, .request = json_incref(msg) };
        d->verbatim = streq(method, "top");
        if (instance_call(i, method, NULL, on_monitor_reply, d) < 0) {
                (void) json_conn_reply_error(c->conn, msg, "failed", "%s: its monitor is not connected", unit);
                json_decref(d->request);
                free(d);
        }
}

static void do_reload(Client *c, json_t *msg) {
        bool dry_run = json_is_true(json_object_get(json_object_get(msg, "params"), "dry_run"));
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_free_ char *text = NULL;
        json_t *failures;
        Diagnostics d = {};
        int r;

        if (control_on_reload && !dry_run)
                control_on_reload(true);
        r = manager_reload(c->server->manager, dry_run, &d, &plan);
        if (control_on_reload && !dry_run)
                control_on_reload(false);
        if (r < 0) {
                json_t *reply = json_pack("{s:O, s:{s:s, s:s, s:o}}", "id", json_object_get(msg, "id") ?: json_null(),
                                          "error", "code", "invalid-units", "message",
                                          "the units are not valid; nothing was changed", "diagnostics",
                                          diagnostics_to_json(&d));
                (void) json_conn_send(c->conn, reply);
                json_decref(reply);
                log_warning("reload refused: %zu error%s in the units", diagnostics_count(&d),
                            diagnostics_count(&d) == 1 ? "" : "s");
                diagnostics_done(&d);
                return;
        }
        diagnostics_done(&d);
        text = plan_format(plan);
        failures = dry_run ? json_array() : manager_plan_failures(c->server->manager, plan);
        if (!dry_run)
                log_info("reload: %s", text);
        if (json_array_size(failures) > 0)
                log_warning("reload: %zu unit%s could not be applied", json_array_size(failures),
                            json_array_size(failures) == 1 ? "" : "s");
        (void) json_conn_reply(c->conn, msg,
                               json_pack("{s:b, s:o, s:s, s:o}", "dry_run", dry_run, "plan", plan_to_json(plan), "text",
                                         text, "failures", failures));
}

static void do_logs(Client *c, json_t *msg) {
        const char *unit = param_string(msg, "unit");
        json_t *status;
        const char *log;

        status = unit ? manager_status_json(c->server->manager, unit) : NULL;
        log = status ? json_string_value(json_object_get(json_array_get(status, 0), "log")) : NULL;
        if (!log) {
                (void) json_conn_reply_error(c->conn, msg, "no-such-unit", "no log for unit \"%s\"", unit ? unit : "");
                json_decref(status);
                return;
        }
        (void) json_conn_reply(c->conn, msg, json_pack("{s:s}", "path", log));
        json_decref(status);
}

static void on_message(JsonConn *conn, json_t *msg, void *userdata) {
        Client *c = userdata;
        const char *method = json_string_value(json_object_get(msg, "method"));
        static const char *const read_only[] = { "status", "logs", "top", NULL };
        bool allowed = c->privileged;

        if (!method) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "a request needs a \"method\"");
                return;
        }
        for (const char *const *r = read_only; *r; r++)
                allowed = allowed || streq(*r, method);
        if (!allowed) {
                (void) json_conn_reply_error(conn, msg, "permission-denied", "%s is for root only", method);
                return;
        }
        if (streq(method, "status")) {
                const char *unit = param_string(msg, "unit");
                json_t *list = manager_status_json(c->server->manager, unit);
                if (unit && json_array_size(list) == 0) {
                        json_decref(list);
                        (void) json_conn_reply_error(conn, msg, "no-such-unit", "no unit \"%s\" is loaded", unit);
                        return;
                }
                (void) json_conn_reply(conn, msg, list);
        } else if (streq(method, "reload"))
                do_reload(c, msg);
        else if (streq(method, "start") || streq(method, "stop") || streq(method, "restart") || streq(method, "top"))
                do_unit_verb(c, msg, method);
        else if (streq(method, "logs"))
                do_logs(c, msg);
        else
                (void) json_conn_reply_error(conn, msg, "unknown-method", "unknown method \"%s\"", method);
}

static void on_close(JsonConn *conn, int error, void *userdata) {
        Client *c = userdata;
        ControlServer *s = c->server;

        for (Client **p = &s->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        free(c);
}

/* Out of fds (EMFILE/ENFILE): the pending connection would make the listener readable forever
 * (the loop spinning at 100 % and nobody served). The reserve fd is given up to take the
 * connection off the queue and close it at once; then taken again. */
static void refuse_for_lack_of_fds(ControlServer *s, int fd, int error) {
        usec_t t = now(CLOCK_MONOTONIC);
        int cfd;

        if (t >= s->last_fd_warning + 10 * USEC_PER_SEC) {
                log_warning("control socket: out of file descriptors (%s); turning clients away", strerror(-error));
                s->last_fd_warning = t;
        }
        if (s->reserve_fd >= 0) {
                close(s->reserve_fd);
                s->reserve_fd = -EBADF;
        }
        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd >= 0)
                close(cfd);
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static unsigned count_clients(ControlServer *s, bool unprivileged_only, uid_t uid) {
        unsigned n = 0;
        for (Client *c = s->clients; c; c = c->next)
                if (unprivileged_only ? !c->privileged : c->uid == uid)
                        n++;
        return n;
}

static void on_accept(EventSource *src, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        Client *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE)
                        refuse_for_lack_of_fds(s, fd, negative_errno());
                return;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                close(cfd);
                return;
        }
        /* The file mode admits root, and the configured group when there is one. Anyone else
         * who got a connection anyway (a mode changed by hand) is turned away here: the
         * credentials decide, not the file. */
        c = xzalloc(sizeof(Client));
        c->server = s;
        c->id = ++s->next_id;
        c->uid = cred.uid;
        c->privileged = cred.uid == 0;
        if (json_conn_new(s->event, cfd, JSON_FRAME_MAX_REQUEST, on_message, on_close, c, &c->conn) < 0) {
                free(c);
                return;
        }
        json_conn_set_idle_timeout(c->conn, CONTROL_IDLE_TIMEOUT, CONTROL_REQUEST_TIMEOUT);
        json_conn_set_output_limits(c->conn, CONTROL_OUTPUT_SOFT, CONTROL_OUTPUT_HARD);
        if (!c->privileged && (s->group == (gid_t) -1 || !peer_in_group(&cred, s->group))) {
                (void) json_conn_reply_error(c->conn, NULL, "permission-denied",
                                             "permission denied: root or the socket's group only");
                json_conn_close_after_flush(c->conn);
        } else if (!c->privileged && (count_clients(s, false, cred.uid) >= CONTROL_MAX_PER_UID ||
                                      count_clients(s, true, 0) >= s->max_unprivileged)) {
                /* Counted before this one joins the list. Root is never turned away here: its
                 * status must answer while others hold every connection they may. */
                (void) json_conn_reply_error(c->conn, NULL, "too-many-connections",
                                             "too many connections: at most %u per user, %u for all non-root users",
                                             CONTROL_MAX_PER_UID, s->max_unprivileged);
                json_conn_close_after_flush(c->conn);
        }
        c->next = s->clients;
        s->clients = c;
}

int control_server_new(Event *e, Manager *m, const char *path, gid_t group, ControlServer **ret) {
        ControlServer *s = xzalloc(sizeof(ControlServer));
        int r;

        s->event = e;
        s->manager = m;
        s->path = xstrdup(path);
        s->group = group;
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        {
                struct rlimit rl;
                /* A quarter of the fds for all non-root clients together, the rest for root's
                 * clients, the monitors and the units' sockets. */
                s->max_unprivileged = getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY
                                              ? (unsigned) MIN(rl.rlim_cur / 4, (rlim_t) 65536)
                                              : 256;
                s->max_unprivileged = MAX(s->max_unprivileged, CONTROL_MAX_PER_UID);
        }
        s->fd = unix_listen(path, group != (gid_t) -1 ? 0660 : 0600);
        if (s->fd < 0) {
                r = s->fd;
                control_server_free(s);
                return r;
        }
        if (group != (gid_t) -1 && chown(path, 0, group) < 0) {
                r = negative_errno();
                control_server_free(s);
                return r;
        }
        r = event_add_io(e, &s->source, s->fd, EPOLLIN, on_accept, s);
        if (r < 0) {
                control_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->clients) {
                Client *c = s->clients;
                s->clients = c->next;
                json_conn_free(c->conn);
                free(c);
        }
        event_source_free(s->source);
        if (s->reserve_fd >= 0)
                close(s->reserve_fd);
        if (s->fd >= 0) {
                close(s->fd);
                (void) unlink(s->path);
        }
        free(s->path);
        free(s);
        return NULL;
}
