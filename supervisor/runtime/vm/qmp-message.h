/* SPDX-License-Identifier: MIT */
#pragma once

/* The classification layer of the QMP client, and the event table: pure functions over jansson
 * objects, no I/O, so that the unit tests and the fuzzer reach them directly. */

#include "qmp.h"

typedef enum QmpMessageKind {
        QMP_MESSAGE_GREETING, /* {"QMP": {"version": {...}, "capabilities": [...]}} */
        QMP_MESSAGE_EVENT,    /* {"event": NAME, "data": {...}, "timestamp": {...}} */
        QMP_MESSAGE_RETURN,   /* {"return": VALUE, "id": ID} */
        QMP_MESSAGE_ERROR,    /* {"error": {"class": C, "desc": D}, "id": ID} */
        _QMP_MESSAGE_KIND_MAX,
        _QMP_MESSAGE_KIND_INVALID = -EINVAL,
} QmpMessageKind;

/* Every pointer borrows from the object that was classified. */
typedef struct QmpMessage {
        QmpMessageKind kind;

        /* QMP_MESSAGE_GREETING */
        QmpVersion version;
        bool oob; /* the "oob" capability is offered (we never enable it) */

        /* QMP_MESSAGE_EVENT */
        const char *event;
        json_t *data; /* NULL when absent */
        usec_t timestamp;

        /* QMP_MESSAGE_RETURN, QMP_MESSAGE_ERROR */
        json_t *id; /* NULL when absent: QEMU could not read the command's id */
        json_t *result;
        const char *error_class, *error_desc;
} QmpMessage;

/* Reads one object from the peer. -EPROTO, with a static sentence in *ret_why, for an object
 * QEMU would not send. Unknown members are ignored (QMP may add them). */
int qmp_message_classify(json_t *msg, QmpMessage *ret, const char **ret_why);

/* {"execute": command, "arguments": args, "id": id}; args is borrowed and may be NULL. NULL when
 * command is not UTF-8. */
json_t *qmp_message_command(const char *command, json_t *args, uint64_t id);

/* Whether a reply's id is the one we sent as id. */
bool qmp_message_id_is(const json_t *id, uint64_t want);

/* The event table: the typed view of an event message (m->kind == QMP_MESSAGE_EVENT). Members
 * borrow from m; empty_data stands in for a missing "data". */
void qmp_event_from_message(const QmpMessage *m, const json_t *empty_data, QmpEvent *ret);
