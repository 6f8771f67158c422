/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "event.h"

/* A connection carrying one JSON object per line, on the event loop. Used on every socket of sup:
 * supctl <-> supd and supd <-> monitor.
 *
 * Requests: {"id": N, "method": "...", "params": {...}}
 * Replies:  {"id": N, "result": ...}  or  {"id": N, "error": {"code": "...", "message": "..."}}
 * Events:   {"event": "...", "data": ...}
 *
 * A line longer than max_frame, or one that is not a JSON object, gets an error reply
 * ("bad-request") and the connection is closed once that reply is written: a confused or hostile
 * peer costs a bounded amount of memory and never takes the daemon down. */

#define JSON_FRAME_MAX_REQUEST (64U * 1024U)
#define JSON_FRAME_MAX_REPLY (16U * 1024U * 1024U)

typedef struct JsonConn JsonConn;

/* msg is borrowed for the call. The handler may free the connection. */
typedef void (*JsonConnMessageHandler)(JsonConn *c, json_t *msg, void *userdata);
/* error: 0 for an orderly end, -ETIMEDOUT (idle), -EBADMSG/-EMSGSIZE (after the error reply),
 * or the -errno of a failed read or write. The connection is freed right after the call. */
typedef void (*JsonConnCloseHandler)(JsonConn *c, int error, void *userdata);

/* Takes ownership of fd (made non-blocking). */
int json_conn_new(Event *e, int fd, size_t max_frame, JsonConnMessageHandler on_message,
                  JsonConnCloseHandler on_close, void *userdata, JsonConn **ret);
JsonConn *json_conn_free(JsonConn *c); /* closes the fd; no close handler is called */

/* Queues one message (not consumed); written as soon as the socket takes it. */
int json_conn_send(JsonConn *c, const json_t *msg);
int json_conn_reply(JsonConn *c, const json_t *request, json_t *result); /* steals result */
int json_conn_reply_error(JsonConn *c, const json_t *request, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Closes after the queued output is written (the close handler then gets 0). */
void json_conn_close_after_flush(JsonConn *c);

/* Closes the connection when no complete message was received for timeout (bytes alone do not
 * count: a peer trickling one byte now and then is idle), or when a message is not complete
 * request_timeout after its first byte (0: only the idle timeout). timeout 0 turns both off. */
void json_conn_set_idle_timeout(JsonConn *c, usec_t timeout, usec_t request_timeout);

/* For peers that may not read (control clients): once soft bytes of output wait, no more of the
 * peer's messages are read or handled until it has read them; a message that would take the
 * waiting output past hard closes the connection (the close handler gets -ENOBUFS). A peer costs
 * at most about hard bytes of output and max_frame of input. 0, 0: no limits (the default; two
 * peers that both held back could wait on each other forever, so not for supd <-> monitor). */
void json_conn_set_output_limits(JsonConn *c, size_t soft, size_t hard);

/* Output queued and not yet taken by the socket, in bytes (the kernel's buffer not counted). */
size_t json_conn_output_pending(const JsonConn *c);
/* on_drained(c, userdata) is called on the loop each time the queued output has all been written
 * after some had to wait: a producer that holds back while json_conn_output_pending() is high
 * (supd's event stream) carries on from there. NULL: none. */
void json_conn_set_drain_handler(JsonConn *c, void (*on_drained)(JsonConn *c, void *userdata), void *userdata);

/* On by default. Off for a peer that speaks another JSON-lines protocol (QEMU's QMP): a bad
 * frame then closes the connection without a reply, and output still queued is dropped. */
void json_conn_set_error_replies(JsonConn *c, bool enabled);
/* Why the connection was closed over a bad frame ("invalid JSON at column 3: ..."), for the close
 * handler; NULL when it was not. */
const char *json_conn_close_reason(const JsonConn *c);

/* Fd passing, for a peer that hands over its end of a stream (supctl exec's stdin, stdout and
 * stderr): up to max_fds (at most JSON_CONN_FDS_MAX) fds sent with a message's bytes
 * (SCM_RIGHTS) wait for that message's handler, which takes them with json_conn_take_fds();
 * whatever it leaves is closed once it returns. Off by default: a connection without it never
 * holds a peer's fds (the kernel closes them). */
#define JSON_CONN_FDS_MAX 4U
void json_conn_set_fd_passing(JsonConn *c, size_t max_fds);
/* Moves up to max of the fds that came with the message being handled into fds (the caller's
 * now); returns how many. */
size_t json_conn_take_fds(JsonConn *c, int *fds, size_t max);

/* Blocking calls for short-lived clients (supctl): send a request and wait for the reply with the
 * same id, skipping events, within timeout. *ret is the whole reply object. */
int json_call(int fd, const char *method, json_t *params, usec_t timeout, json_t **ret);
/* Writes msg as one line on a blocking fd. */
int json_write_frame(int fd, const json_t *msg);
/* Reads the next frame on a blocking fd (for clients that follow events). */
int json_read_frame(int fd, char **buf, size_t *len, size_t *used, size_t max, usec_t timeout, json_t **ret);
