/* SPDX-License-Identifier: MIT */
#include "qmp-message.h"

#include <limits.h>

#include "macro.h"

static bool get_version_number(const json_t *o, const char *key, unsigned *ret) {
        const json_t *v = json_object_get(o, key);

        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)
                return false;
        *ret = (unsigned) json_integer_value(v);
        return true;
}

static int classify_greeting(json_t *qmp, QmpMessage *m) {
        const json_t *version = json_object_get(qmp, "version");
        const json_t *qemu = json_object_get(version, "qemu");
        const json_t *package = json_object_get(version, "package");
        const json_t *caps = json_object_get(qmp, "capabilities");
        const json_t *cap;
        size_t i;

        if (!json_is_object(qemu) || !get_version_number(qemu, "major", &m->version.major) ||
            !get_version_number(qemu, "minor", &m->version.minor) ||
            !get_version_number(qemu, "micro", &m->version.micro) || !json_is_array(caps))
                return -EPROTO;
        if (package && !json_is_string(package))
                return -EPROTO;
        m->version.package = package ? json_string_value(package) : "";
        json_array_foreach(caps, i, cap) {
                if (!json_is_string(cap))
                        return -EPROTO;
                if (streq(json_string_value(cap), "oob"))
                        m->oob = true;
        }
        return 0;
}

/* {"seconds": S, "microseconds": U}; QEMU sends -1, -1 when it could not read its clock. */
static usec_t timestamp_from_json(const json_t *t) {
        const json_t *s = json_object_get(t, "seconds"), *us = json_object_get(t, "microseconds");
        json_int_t sv, uv;

        if (!json_is_integer(s) || !json_is_integer(us))
                return USEC_INFINITY;
        sv = json_integer_value(s);
        uv = json_integer_value(us);
        if (sv < 0 || uv < 0 || uv >= (json_int_t) USEC_PER_SEC || (uint64_t) sv >= UINT64_MAX / USEC_PER_SEC - 1)
                return USEC_INFINITY;
        return (usec_t) sv * USEC_PER_SEC + (usec_t) uv;
}

int qmp_message_classify(json_t *msg, QmpMessage *ret, const char **ret_why) {
        json_t *greeting = json_object_get(msg, "QMP"), *event = json_object_get(msg, "event");
        json_t *result = json_object_get(msg, "return"), *error = json_object_get(msg, "error");
        QmpMessage m = {};

        if (!json_is_object(msg)) {
                *ret_why = "a message that is not a JSON object";
                return -EPROTO;
        }
        if (!!greeting + !!event + !!result + !!error != 1) {
                *ret_why = greeting || event || result || error
                                   ? "a message that is at once two of greeting, event, return and error"
                                   : "a JSON object that is neither greeting, event, return nor error";
                return -EPROTO;
        }

        if (greeting) {
                m.kind = QMP_MESSAGE_GREETING;
                if (classify_greeting(greeting, &m) < 0) {
                        *ret_why = "a malformed greeting (no QEMU version or capabilities)";
                        return -EPROTO;
                }
        } else if (event) {
                const json_t *data = json_object_get(msg, "data");
                m.kind = QMP_MESSAGE_EVENT;
                if (!json_is_string(event) || json_string_length(event) == 0 || (data && !json_is_object(data))) {
                        *ret_why = "a malformed event (a name that is not a string, or data that is not an object)";
                        return -EPROTO;
                }
                m.event = json_string_value(event);
                m.data = (json_t *) data;
                m.timestamp = timestamp_from_json(json_object_get(msg, "timestamp"));
        } else {
                m.id = json_object_get(msg, "id");
                if (result) {
                        m.kind = QMP_MESSAGE_RETURN;
                        m.result = result;
                } else {
                        const json_t *class = json_object_get(error, "class"), *desc = json_object_get(error, "desc");
                        m.kind = QMP_MESSAGE_ERROR;
                        if (!json_is_string(class) || !json_is_string(desc)) {
                                *ret_why = "a malformed error reply (no class or desc)";
                                return -EPROTO;
                        }
                        m.error_class = json_string_value(class);
                        m.error_desc = json_string_value(desc);
                }
        }
        *ret = m;
        return 0;
}

json_t *qmp_message_command(const char *command, json_t *args, uint64_t id) {
        json_t *name = json_string(command), *o;

        if (!name)
                return NULL; /* not UTF-8 */
        o = json_object();
        json_object_set_new(o, "execute", name);
        if (args)
                json_object_set(o, "arguments", args);
        json_object_set_new(o, "id", json_integer((json_int_t) id));
        return o;
}

bool qmp_message_id_is(const json_t *id, uint64_t want) {
        /* We send ids as positive integers below 2^63; QEMU echoes them as they were. */
        return json_is_integer(id) && json_integer_value(id) >= 0 && (uint64_t) json_integer_value(id) == want;
}
