/* SPDX-License-Identifier: MIT */
/* The event table: the events the VM runtime acts on, by QEMU's name, with the fields it reads.
 * The runtime sees every other event too, as QMP_EVENT_OTHER with its name and data. Fields are
 * read leniently: QEMU documents them, but a missing or mistyped field leaves its default
 * rather than losing the event (the data object is there for whoever wants to look closer). */
#include "qmp-message.h"

static const char *const qmp_event_type_table[_QMP_EVENT_TYPE_MAX] = {
        [QMP_EVENT_SHUTDOWN] = "SHUTDOWN", [QMP_EVENT_POWERDOWN] = "POWERDOWN",
        [QMP_EVENT_RESET] = "RESET",       [QMP_EVENT_STOP] = "STOP",
        [QMP_EVENT_RESUME] = "RESUME",     [QMP_EVENT_GUEST_PANICKED] = "GUEST_PANICKED",
        [QMP_EVENT_OTHER] = NULL,
};

DEFINE_STRING_TABLE_LOOKUP(qmp_event_type, QmpEventType, _QMP_EVENT_TYPE_MAX);

static const char *get_string(const json_t *data, const char *key) {
        const json_t *v = json_object_get(data, key);
        return json_is_string(v) ? json_string_value(v) : NULL;
}

/* SHUTDOWN and RESET: {"guest": bool, "reason": ShutdownCause} (both since QEMU 4.0). */
static void decode_shutdown_info(const json_t *data, QmpShutdownInfo *ret) {
        ret->guest = json_is_true(json_object_get(data, "guest"));
        ret->reason = get_string(data, "reason");
}

void qmp_event_from_message(const QmpMessage *m, const json_t *empty_data, QmpEvent *ret) {
        QmpEvent ev = {
                .name = m->event,
                .data = m->data ? m->data : empty_data,
                .timestamp = m->timestamp,
        };

        ev.type = qmp_event_type_from_string(m->event);
        if (ev.type < 0)
                ev.type = QMP_EVENT_OTHER;

        switch (ev.type) {
        case QMP_EVENT_SHUTDOWN:
                decode_shutdown_info(ev.data, &ev.shutdown);
                break;
        case QMP_EVENT_RESET:
                decode_shutdown_info(ev.data, &ev.reset);
                break;
        case QMP_EVENT_GUEST_PANICKED:
                ev.guest_panicked.action = get_string(ev.data, "action");
                break;
        case QMP_EVENT_POWERDOWN:
        case QMP_EVENT_STOP:
        case QMP_EVENT_RESUME:
        case QMP_EVENT_OTHER:
                break;
        case _QMP_EVENT_TYPE_MAX:
        case _QMP_EVENT_TYPE_INVALID:
                break;
        }
        *ret = ev;
}
