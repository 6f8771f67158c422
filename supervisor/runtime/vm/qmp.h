/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "event.h"
#include "string-table.h"

/* A client for QEMU's machine protocol (QMP) on the event loop, in three layers:
 *
 *   framing         JSON objects one per line, through JsonConn (control/json-conn.h), with a cap
 *                   on the line length; QEMU ends its lines with CRLF, which JSON reads as space.
 *   classification  every object is a greeting, an event, or a reply (return or error) matched to
 *                   its command by "id" (qmp-message.c).
 *   event table     event names to QmpEventType and typed fields (qmp-event.c).
 *
 * The life of a connection: qmp_connect() or qmp_attach(), then the greeting (QEMU's version is
 * recorded), then "qmp_capabilities", then ready(); from then on commands may be sent. Whatever
 * ends the connection (EOF, a read error, a protocol error, the handshake deadline) ends it once:
 * held events are delivered, every pending command fails, then closed() is called.
 *
 * Guarantees to the owner:
 *  - a command's callback runs exactly once: on its reply, on its timeout (-ETIMEDOUT), when the
 *    connection ends, or with -ECANCELED from qmp_free(). Never from inside qmp_command().
 *  - events reach event() in the order QEMU sent them, interleaved with replies in stream order.
 *    Events that arrive before the handshake is over (QEMU sends none then; a fake or future one
 *    might) are held and delivered right after ready(), or before closed() if it never comes.
 *  - a peer that is not QEMU (invalid JSON or UTF-8, lines over QMP_FRAME_MAX, objects that are
 *    no QMP message) ends the connection with a sentence saying what it sent; nothing it sends
 *    can make the client block the loop or crash.
 *  - every callback may call qmp_command() and qmp_free() on the client.
 *
 * Library code: returns -errno, never logs. */

/* query-qmp-schema, the largest reply QEMU 7.2 gives, is 202 KiB on one line (-machine none). */
#define QMP_FRAME_MAX (1024U * 1024U)
/* QEMU sends no events during capabilities negotiation; a peer that floods them is not QEMU. */
#define QMP_HELD_EVENTS_MAX 1024U

typedef struct Qmp Qmp;

typedef enum QmpEventType {
        QMP_EVENT_SHUTDOWN,       /* QEMU will exit (or stop, with -no-shutdown): data {guest, reason} */
        QMP_EVENT_POWERDOWN,      /* system_powerdown asked the guest (ACPI) to power off */
        QMP_EVENT_RESET,          /* the machine was reset: data {guest, reason} */
        QMP_EVENT_STOP,           /* vCPUs stopped */
        QMP_EVENT_RESUME,         /* vCPUs running again */
        QMP_EVENT_GUEST_PANICKED, /* data {action, info?} */
        QMP_EVENT_OTHER,          /* any other name, passed through with its data */
        _QMP_EVENT_TYPE_MAX,
        _QMP_EVENT_TYPE_INVALID = -EINVAL,
} QmpEventType;

/* QMP_EVENT_OTHER has no name of its own: _to_string() gives NULL, and no name maps to it. */
DECLARE_STRING_TABLE_LOOKUP(qmp_event_type, QmpEventType);

/* SHUTDOWN and RESET: who asked, and QEMU's ShutdownCause ("host-qmp-quit", "guest-shutdown",
 * "guest-reset", "host-signal", ...), NULL when QEMU did not say (before 4.0). */
typedef struct QmpShutdownInfo {
        bool guest;
        const char *reason;
} QmpShutdownInfo;

typedef struct QmpEvent {
        QmpEventType type;
        const char *name;   /* as QEMU spelled it */
        const json_t *data; /* an object, empty when QEMU sent none */
        usec_t timestamp;   /* QEMU's CLOCK_REALTIME; USEC_INFINITY when it had none (-1) */
        union {
                QmpShutdownInfo shutdown; /* QMP_EVENT_SHUTDOWN */
                QmpShutdownInfo reset;    /* QMP_EVENT_RESET */
                struct {
                        const char *action; /* "pause", "poweroff", "run"; NULL if absent */
                } guest_panicked;
        };
} QmpEvent;

/* The QEMU version from the greeting. */
typedef struct QmpVersion {
        unsigned major, minor, micro;
        const char *package; /* "Debian 1:7.2+dfsg-7+deb12u18", may be "" */
} QmpVersion;

/* error: 0 with result (the "return" value, borrowed for the call); -EOPNOTSUPP (class
 * CommandNotFound) or -EREMOTEIO (any other class) with QEMU's error_class and error_desc;
 * -ETIMEDOUT; -ECONNRESET when QEMU closed the connection; the protocol error that ended it
 * (-EBADMSG, -EMSGSIZE, -EPROTO); -ECANCELED from qmp_free(). For errors of ours error_class is
 * NULL and error_desc a sentence. */
typedef void (*QmpCommandCallback)(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                                   void *userdata);

typedef struct QmpCallbacks {
        /* Capabilities negotiated: qmp_command() works from now on. */
        void (*ready)(Qmp *q, void *userdata);
        /* event and its members are borrowed for the call. */
        void (*event)(Qmp *q, const QmpEvent *event, void *userdata);
        /* Once, after every pending command has failed. error: 0 when QEMU closed the connection
         * (EOF, or a reset: QEMU exits with our unread bytes, e.g. the newline after "quit");
         * -ETIMEDOUT for the handshake deadline; -EBADMSG/-EMSGSIZE/-EPROTO for a protocol
         * error; another -errno for a failed read, write or connect. The client stays allocated
         * (closed, qmp_command() refuses) until qmp_free(), which closed() may call. */
        void (*closed)(Qmp *q, int error, const char *reason, void *userdata);
} QmpCallbacks;

/* callbacks is copied; any of its members may be NULL. */
int qmp_new(Event *e, const QmpCallbacks *callbacks, void *userdata, Qmp **ret);
/* Closes the connection; pending commands fail with -ECANCELED before it returns, and no other
 * callback runs afterwards. Safe inside any callback of this client. Returns NULL. */
Qmp *qmp_free(Qmp *q);
static inline void qmp_freep(Qmp **q) {
        qmp_free(*q);
}

/* Connects to QEMU's "-qmp unix:PATH,server=on,wait=off" socket. QEMU creates it some time after
 * it starts, so a missing socket or a refused connection is retried until the deadline, which
 * then also bounds the greeting and the negotiation (USEC_INFINITY: none). A path that does not
 * fit sun_path is -ENAMETOOLONG at once. */
int qmp_connect(Qmp *q, const char *path, usec_t timeout);
/* Takes a connected stream socket (a socketpair in tests, an fd passed by a parent); timeout
 * bounds the handshake. fd is owned by the client from the call on, also when it fails. */
int qmp_attach(Qmp *q, int fd, usec_t timeout);

/* Sends {"execute": command, "arguments": args, "id": N} with a fresh N. args (an object, or
 * NULL) is consumed, also on failure. timeout is relative (USEC_INFINITY: none). Returns
 * -ENOTCONN before ready() and after the connection ended, -EINVAL for bad arguments; the
 * callback (which may be NULL: nobody waits for the answer) runs only when this returns >= 0. */
int qmp_command(Qmp *q, const char *command, json_t *args, usec_t timeout, QmpCommandCallback callback, void *userdata);

bool qmp_is_ready(const Qmp *q);
/* NULL before the greeting. */
const QmpVersion *qmp_get_version(const Qmp *q);
/* Why the connection ended, NULL while it has not. */
const char *qmp_close_reason(const Qmp *q);
