/* SPDX-License-Identifier: MIT */
#include "jsonl-server.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "socket-util.h"
#include "string-util.h"

#define OUT_OF_FDS_NOTICE_INTERVAL (10 * USEC_PER_SEC)

struct JsonlClient {
        JsonlServer *server;
        JsonConn *conn;
        uint64_t id;
        uid_t uid;
        bool privileged;
        bool no_events; /* jsonl_client_mute_events() */
        JsonlClient *next;
};

struct JsonlServer {
        Event *event;
        JsonlServerConfig config;
        int fd;
        EventSource *source;
        JsonlClient *clients;
        uint64_t next_id;
        unsigned max_unprivileged; /* unprivileged connections at once, all uids together */
        int reserve_fd;            /* given up to accept (and turn away) a client when out of fds */
        usec_t last_out_of_fds;
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

static const JsonlMethod *find_method(const JsonlServer *s, const char *name) {
        for (const JsonlMethod *m = s->config.methods; m && m->name; m++)
                if (streq(m->name, name))
                        return m;
        return NULL;
}

static void handle_message(JsonlClient *c, JsonConn *conn, json_t *msg, const JsonlMethod **ret_method) {
        const char *name = json_string_value(json_object_get(msg, "method"));
        const JsonlMethod *m;

        if (!name) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "a request needs a \"method\"");
                return;
        }
        m = find_method(c->server, name);
        if (!m) {
                (void) json_conn_reply_error(conn, msg, "unknown-method", "unknown method \"%s\"", name);
                return;
        }
        if ((m->flags & JSONL_METHOD_ROOT_ONLY) && !c->privileged) {
                (void) json_conn_reply_error(conn, msg, "permission-denied", "%s is for root only", name);
                return;
        }
        *ret_method = m;
        m->handler(c, msg, c->server->config.userdata);
}

static void on_message(JsonConn *conn, json_t *msg, void *userdata) {
        JsonlClient *c = userdata;
        /* Copied: the handler may close the connection, and c with it. */
        JsonlServer *s = c->server;
        const JsonlMethod *m = NULL;
        usec_t start = s->config.on_request ? now(CLOCK_MONOTONIC) : 0;

        handle_message(c, conn, msg, &m);
        if (s->config.on_request)
                s->config.on_request(m ? m->name : NULL, now(CLOCK_MONOTONIC) - start, s->config.userdata);
}

static void client_unlink(JsonlClient *c) {
        for (JsonlClient **p = &c->server->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
}

static void on_close(JsonConn *conn, int error, void *userdata) {
        JsonlClient *c = userdata;
        JsonlServer *s = c->server;
        uint64_t id = c->id;

        client_unlink(c);
        free(c);
        if (s->config.on_client_close)
                s->config.on_client_close(id, s->config.userdata);
}

static void refuse_for_lack_of_fds(JsonlServer *s, int error) {
        usec_t t = now(CLOCK_MONOTONIC);
        int cfd;

        if (s->config.on_out_of_fds &&
            (s->last_out_of_fds == 0 || t >= s->last_out_of_fds + OUT_OF_FDS_NOTICE_INTERVAL)) {
                s->config.on_out_of_fds(error, s->config.userdata);
                s->last_out_of_fds = t;
        }
        if (s->reserve_fd >= 0) {
                close(s->reserve_fd);
                s->reserve_fd = -EBADF;
        }
        cfd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd >= 0)
                close(cfd);
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static unsigned count_clients(const JsonlServer *s, bool unprivileged_only, uid_t uid) {
        unsigned n = 0;
        for (JsonlClient *c = s->clients; c; c = c->next)
                if (unprivileged_only ? !c->privileged : c->uid == uid)
                        n++;
        return n;
}

static void on_accept(EventSource *src, int fd, uint32_t revents, void *userdata) {
        JsonlServer *s = userdata;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        JsonlClient *c;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE)
                        refuse_for_lack_of_fds(s, negative_errno());
                return;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                close(cfd);
                return;
        }
        c = xzalloc(sizeof(JsonlClient));
        c->server = s;
        c->id = ++s->next_id;
        c->uid = cred.uid;
        c->privileged = cred.uid == 0 || cred.uid == geteuid();
        if (json_conn_new(s->event, cfd, JSON_FRAME_MAX_REQUEST, on_message, on_close, c, &c->conn) < 0) {
                free(c);
                return;
        }
        json_conn_set_idle_timeout(c->conn, s->config.idle_timeout, s->config.request_timeout);
        json_conn_set_output_limits(c->conn, s->config.output_soft, s->config.output_hard);
        if (c->privileged)
                json_conn_set_fd_passing(c->conn, s->config.pass_fds);
        if (!c->privileged && (s->config.group == (gid_t) -1 || !peer_in_group(&cred, s->config.group))) {
                (void) json_conn_reply_error(c->conn, NULL, "permission-denied", "permission denied: %s",
                                             s->config.group == (gid_t) -1 ? "root only"
                                                                           : "root or the socket's group only");
                json_conn_close_after_flush(c->conn);
        } else if (!c->privileged && (count_clients(s, false, cred.uid) >= JSONL_MAX_PER_UID ||
                                      count_clients(s, true, 0) >= s->max_unprivileged)) {
                /* Counted before this one joins the list. */
                (void) json_conn_reply_error(c->conn, NULL, "too-many-connections",
                                             "too many connections: at most %u per user, %u for all non-root users",
                                             JSONL_MAX_PER_UID, s->max_unprivileged);
                json_conn_close_after_flush(c->conn);
        }
        c->next = s->clients;
        s->clients = c;
}

int jsonl_server_new(Event *e, const JsonlServerConfig *cfg, JsonlServer **ret, SupError **ret_error) {
        _cleanup_(jsonl_server_freep) JsonlServer *s = xzalloc(sizeof(JsonlServer));
        struct rlimit rl;
        int r;

        s->event = e;
        s->config = *cfg;
        s->config.path = NULL; /* not kept: the caller's */
        s->fd = -EBADF;
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        /* A quarter of the fds for all unprivileged clients together, the rest for the privileged
         * ones and whatever else the process holds. */
        s->max_unprivileged = getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY
                                      ? (unsigned) MIN(rl.rlim_cur / 4, (rlim_t) 65536)
                                      : 256;
        s->max_unprivileged = MAX(s->max_unprivileged, JSONL_MAX_PER_UID);

        s->fd = unix_listen(cfg->path, cfg->group != (gid_t) -1 ? 0660 : 0600);
        if (s->fd < 0)
                return sup_error_errno(ret_error, s->fd, "cannot listen on %s", cfg->path);
        if (cfg->group != (gid_t) -1 && chown(cfg->path, (uid_t) -1, cfg->group) < 0)
                return sup_error_errno(ret_error, -errno, "cannot give %s the group %u", cfg->path,
                                       (unsigned) cfg->group);
        r = event_add_io(e, &s->source, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot watch %s", cfg->path);
        *ret = TAKE_PTR(s);
        return 0;
}

JsonlServer *jsonl_server_free(JsonlServer *s) {
        if (!s)
                return NULL;
        while (s->clients) {
                JsonlClient *c = s->clients;
                s->clients = c->next;
                json_conn_free(c->conn);
                free(c);
        }
        event_source_free(s->source);
        if (s->reserve_fd >= 0)
                close(s->reserve_fd);
        if (s->fd >= 0)
                close(s->fd);
        free(s);
        return NULL;
}

void jsonl_server_broadcast(JsonlServer *s, const json_t *msg) {
        if (!s)
                return;
        for (JsonlClient *c = s->clients; c; c = c->next)
                if (!c->no_events)
                        (void) json_conn_send(c->conn, msg);
}

void jsonl_client_mute_events(JsonlClient *c) {
        c->no_events = true;
}

JsonlClient *jsonl_server_find_client(const JsonlServer *s, uint64_t id) {
        for (JsonlClient *c = s ? s->clients : NULL; c; c = c->next)
                if (c->id == id)
                        return c;
        return NULL;
}

size_t jsonl_server_n_clients(const JsonlServer *s) {
        size_t n = 0;
        for (JsonlClient *c = s->clients; c; c = c->next)
                n++;
        return n;
}

JsonConn *jsonl_client_conn(const JsonlClient *c) {
        return c->conn;
}

uint64_t jsonl_client_id(const JsonlClient *c) {
        return c->id;
}
