/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "event.h"
#include "json-conn.h"
#include "sup-error.h"

/* A JSON-lines server on a unix socket (json-conn.h's protocol): supd's control socket and each
 * monitor's socket. It accepts, checks each peer's credentials, bounds what a peer can cost, and
 * hands each request to the handler its method names in a table.
 *
 * Who may connect (SO_PEERCRED, on every connection: the credentials decide, not the file mode,
 * which may have been changed by hand):
 *  - root, and the server's own uid: privileged, every method;
 *  - members of group (primary or supplementary), when there is one: unprivileged, methods
 *    without JSONL_METHOD_ROOT_ONLY only;
 *  - anyone else gets a "permission-denied" error and the connection is closed.
 *
 * What a peer can cost (see json-conn.h for how each limit works):
 *  - connections: an unprivileged uid may hold JSONL_MAX_PER_UID, all unprivileged uids together a
 *    quarter of RLIMIT_NOFILE; past that a connection gets "too-many-connections" and is closed.
 *    Privileged peers are never counted out: root's status must answer while others hold every
 *    connection they may.
 *  - file descriptors: out of them (EMFILE/ENFILE), a pending connection would keep the listener
 *    readable forever (the loop spinning, nobody served). A reserved fd is given up to take it off
 *    the queue and close it at once, and taken again; on_out_of_fds is told, at most every 10 s.
 *  - time and memory: the idle and request timeouts and the output limits of the config, per
 *    connection (0: none; not for a peer that holds a long-lived connection and may be idle, as
 *    supd is to a monitor, nor output limits between two peers that may both hold back).
 * Requests are capped at JSON_FRAME_MAX_REQUEST. */

#define JSONL_MAX_PER_UID 32U

typedef struct JsonlServer JsonlServer;
typedef struct JsonlClient JsonlClient;

/* request is borrowed for the call. The handler replies now (jsonl_client_conn()) or later: a
 * reply owed after the handler returns keeps the client's id and looks the client up again with
 * jsonl_server_find_client(), since it may have gone meanwhile. */
typedef void (*JsonlMethodHandler)(JsonlClient *c, json_t *request, void *userdata);

typedef enum JsonlMethodFlags {
        JSONL_METHOD_ROOT_ONLY = 1 << 0, /* "permission-denied" for unprivileged peers */
} JsonlMethodFlags;

typedef struct JsonlMethod {
        const char *name;
        JsonlMethodHandler handler;
        JsonlMethodFlags flags;
} JsonlMethod;

typedef struct JsonlServerConfig {
        const char *path;           /* made 0600, or 0660 with group as its group */
        gid_t group;                /* (gid_t) -1: privileged peers only */
        const JsonlMethod *methods; /* ends with {NULL} */
        void *userdata;             /* for the handlers and on_out_of_fds */
        usec_t idle_timeout;        /* see json_conn_set_idle_timeout(); 0: none */
        usec_t request_timeout;
        size_t output_soft; /* see json_conn_set_output_limits(); 0: none */
        size_t output_hard;
        void (*on_out_of_fds)(int error, void *userdata); /* for the log; may be NULL */
        /* A client's connection has closed (any way but jsonl_server_free()); may be NULL. */
        void (*on_client_close)(uint64_t id, void *userdata);
        size_t pass_fds; /* privileged peers may send this many fds with a request (json_conn_set_fd_passing()) */
        /* After each request: its method's name in the table (NULL: no known method, or refused)
         * and the time its handler took on the loop (a reply owed later is not waited for); may be
         * NULL. For supd's metrics. */
        void (*on_request)(const char *method, usec_t duration, void *userdata);
} JsonlServerConfig;

/* Listens on cfg->path (a stale socket there is replaced). cfg->methods must outlive the server. */
int jsonl_server_new(Event *e, const JsonlServerConfig *cfg, JsonlServer **ret, SupError **ret_error);
/* Closes the listener and every connection (no close handlers, no replies); the socket file stays. */
JsonlServer *jsonl_server_free(JsonlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(JsonlServer *, jsonl_server_free);

/* Queues msg (an event) to every client; a NULL server has none. */
void jsonl_server_broadcast(JsonlServer *s, const json_t *msg);
/* The client with this id, or NULL once it has gone (or the server has: s NULL). */
JsonlClient *jsonl_server_find_client(const JsonlServer *s, uint64_t id);
/* How many connections are open (the refused ones too, until their error is written). */
size_t jsonl_server_n_clients(const JsonlServer *s);

JsonConn *jsonl_client_conn(const JsonlClient *c);
/* No broadcast reaches c from now on: a client that holds its connection for another purpose
 * (a streamed exec) and may not read for a long time must not pile events up in the server. */
void jsonl_client_mute_events(JsonlClient *c);
uint64_t jsonl_client_id(const JsonlClient *c); /* never 0, never reused by one server */
