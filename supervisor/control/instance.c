/* SPDX-License-Identifier: MIT */
#include "instance.h"

static const char *const instance_state_table[_INSTANCE_STATE_MAX] = {
        [INSTANCE_STARTING] = "starting",
        [INSTANCE_RUNNING] = "running",
        [INSTANCE_STOPPING] = "stopping",
        [INSTANCE_STOPPED] = "stopped",
        [INSTANCE_EXITED] = "exited",
        [INSTANCE_BACKOFF] = "backoff",
        [INSTANCE_FAILED] = "failed",
};
DEFINE_STRING_TABLE_LOOKUP(instance_state, InstanceState, _INSTANCE_STATE_MAX);

static const char *const health_state_table[_HEALTH_STATE_MAX] = {
        [HEALTH_STARTING] = "starting",
        [HEALTH_HEALTHY] = "healthy",
        [HEALTH_UNHEALTHY] = "unhealthy",
};
DEFINE_STRING_TABLE_LOOKUP(health_state, HealthState, _HEALTH_STATE_MAX);

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "macro.h"
#include "path-util.h"
#include "process-list.h"
#include "string-util.h"
#include "unit-value.h"

int instance_lock_take(const char *dir) {
        _cleanup_free_ char *path = path_join(dir, INSTANCE_LOCK_FILE);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        if (fcntl(fd, F_SETLK, &fl) < 0)
                return errno == EACCES || errno == EAGAIN ? -EBUSY : negative_errno();
        return TAKE_FD(fd);
}

int instance_lock_holder(const char *dir, pid_t *ret_pid) {
        _cleanup_free_ char *path = path_join(dir, INSTANCE_LOCK_FILE);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT) {
                *ret_pid = 0;
                return 0;
        }
        if (fd < 0)
                return negative_errno();
        /* F_GETLK takes nothing, so closing fd drops no lock of this process's. */
        if (fcntl(fd, F_GETLK, &fl) < 0)
                return negative_errno();
        *ret_pid = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
        return 0;
}

void instance_status_done(InstanceStatus *s) {
        free(s->name);
        free(s->hash);
        free(s->reason);
        free(s->restart_reason);
        free(s->log_path);
        free(s->address);
        strv_free(s->images);
        free(s->pull.reference);
        free(s->health.last_output);
        free(s->vm.accel);
        free(s->vm.stop_step);
        free(s->vm.end);
        *s = (InstanceStatus) {};
}

json_t *timestamp_to_json(usec_t t) {
        char buf[64];
        return t == 0 ? json_null() : json_string(format_timestamp(t, buf, sizeof(buf)));
}

int timestamp_from_json(const json_t *j, usec_t *ret) {
        if (!j || json_is_null(j)) {
                *ret = 0;
                return 0;
        }
        /* format_timestamp()'s own form is RFC 3339: one parser for it and for what operators type. */
        return json_is_string(j) ? parse_timestamp(json_string_value(j), ret) : -EINVAL;
}

/* One encoder per key of a status object: a request that names the keys it wants (the table's 13
 * of 27) gets only those built, not every unit's whole object to pick from (bench/scale.sh). */
static json_t *opt_string(const char *v) {
        return v ? json_string(v) : json_null();
}

static json_t *enc_name(const InstanceStatus *s) {
        return json_string(s->name);
}
static json_t *enc_hash(const InstanceStatus *s) {
        return opt_string(s->hash);
}
static json_t *enc_isolation(const InstanceStatus *s) {
        return json_string(isolation_to_string(s->isolation));
}
static json_t *enc_state(const InstanceStatus *s) {
        return json_string(instance_state_to_string(s->state));
}
static json_t *enc_admin_stopped(const InstanceStatus *s) {
        return json_boolean(s->admin_stopped);
}
static json_t *enc_pid(const InstanceStatus *s) {
        return s->pid > 0 ? json_integer(s->pid) : json_null();
}
static json_t *enc_monitor_pid(const InstanceStatus *s) {
        return s->monitor_pid > 0 ? json_integer(s->monitor_pid) : json_null();
}
static json_t *enc_restarts(const InstanceStatus *s) {
        return json_integer(s->restarts);
}
static json_t *enc_exit_code(const InstanceStatus *s) {
        return s->has_exit && s->exit_signal == 0 ? json_integer(s->exit_code) : json_null();
}
static json_t *enc_exit_signal(const InstanceStatus *s) {
        _cleanup_free_ char *sig = s->has_exit && s->exit_signal > 0 ? format_signal(s->exit_signal) : NULL;
        return opt_string(sig);
}
static json_t *enc_oom(const InstanceStatus *s) {
        return json_boolean(s->oom);
}
static json_t *enc_started_at(const InstanceStatus *s) {
        return timestamp_to_json(s->started_at);
}
static json_t *enc_exited_at(const InstanceStatus *s) {
        return timestamp_to_json(s->exited_at);
}
static json_t *enc_next_restart_at(const InstanceStatus *s) {
        return timestamp_to_json(s->next_restart_at);
}
static json_t *enc_reason(const InstanceStatus *s) {
        return opt_string(s->reason);
}
static json_t *enc_restart_reason(const InstanceStatus *s) {
        return opt_string(s->restart_reason);
}
static json_t *enc_log(const InstanceStatus *s) {
        return opt_string(s->log_path);
}
static json_t *enc_address(const InstanceStatus *s) {
        return opt_string(s->address);
}
static json_t *enc_user_namespace(const InstanceStatus *s) {
        return s->userns_size
                       ? json_pack("{s:I,s:I}", "uid", (json_int_t) s->userns_base, "size", (json_int_t) s->userns_size)
                       : json_null();
}
static json_t *enc_image(const InstanceStatus *s) {
        json_t *images;

        if (!s->image_layers)
                return json_null();
        images = json_array();
        STRV_FOREACH(i, s->images) {
                json_array_append_new(images, json_string(*i));
        }
        return json_pack("{s:o,s:I}", "images", images, "layers", (json_int_t) s->image_layers);
}
static json_t *enc_pull(const InstanceStatus *s) {
        return s->pull.reference
                       ? json_pack("{s:s,s:I,s:I,s:I,s:I}", "reference", s->pull.reference, "bytes_done",
                                   (json_int_t) s->pull.bytes_done, "bytes_total", (json_int_t) s->pull.bytes_total,
                                   "layers_done", (json_int_t) s->pull.layers_done, "layers_total",
                                   (json_int_t) s->pull.layers_total)
                       : json_null();
}
static json_t *enc_health(const InstanceStatus *s) {
        json_t *last = json_null();

        if (!s->health.enabled)
                return json_null();
        if (s->health.last_at) {
                _cleanup_free_ char *hsig = s->health.last_signal > 0 ? format_signal(s->health.last_signal) : NULL;
                last = json_pack("{s:o,s:o,s:o,s:b,s:o}", "at", timestamp_to_json(s->health.last_at), "exit_code",
                                 s->health.last_signal > 0 ? json_null() : json_integer(s->health.last_exit_code),
                                 "signal", opt_string(hsig), "timed_out", s->health.last_timed_out, "output",
                                 json_string_lossy(s->health.last_output ?: "",
                                                   s->health.last_output ? strlen(s->health.last_output) : 0));
        }
        return json_pack("{s:s,s:I,s:o}", "status", health_state_to_string(s->health.state), "failing_streak",
                         (json_int_t) s->health.failing_streak, "last_check", last);
}
static json_t *enc_vm(const InstanceStatus *s) {
        json_t *vm;

        if (s->isolation != ISOLATION_HYPERV)
                return json_null();
        vm = json_object();
        json_object_set_new(vm, "guest_pid", s->vm.guest_pid > 0 ? json_integer(s->vm.guest_pid) : json_null());
        json_object_set_new(vm, "accel", opt_string(s->vm.accel));
        json_object_set_new(vm, "memory", s->vm.memory ? json_integer((json_int_t) s->vm.memory) : json_null());
        json_object_set_new(vm, "vcpus", s->vm.vcpus ? json_integer(s->vm.vcpus) : json_null());
        json_object_set_new(vm, "stop_step", opt_string(s->vm.stop_step));
        json_object_set_new(vm, "end", opt_string(s->vm.end));
        return vm;
}

/* In the order of the full object (what `supctl status --json` has always printed). */
static const struct {
        const char *key;
        json_t *(*encode)(const InstanceStatus *s);
} status_keys[] = {
        {"name", enc_name},
        {"hash", enc_hash},
        {"isolation", enc_isolation},
        {"state", enc_state},
        {"admin_stopped", enc_admin_stopped},
        {"pid", enc_pid},
        {"monitor_pid", enc_monitor_pid},
        {"restarts", enc_restarts},
        {"exit_code", enc_exit_code},
        {"exit_signal", enc_exit_signal},
        {"oom", enc_oom},
        {"started_at", enc_started_at},
        {"exited_at", enc_exited_at},
        {"next_restart_at", enc_next_restart_at},
        {"reason", enc_reason},
        {"restart_reason", enc_restart_reason},
        {"log", enc_log},
        {"address", enc_address},
        {"user_namespace", enc_user_namespace},
        {"image", enc_image},
        {"pull", enc_pull},
        {"health", enc_health},
        {"vm", enc_vm},
};
_Static_assert(ELEMENTSOF(status_keys) <= 32, "a key is a bit of a uint32_t mask");

const char *instance_status_key(unsigned k) {
        return k < ELEMENTSOF(status_keys) ? status_keys[k].key : NULL;
}

uint32_t instance_status_keys_mask(const json_t *fields) {
        uint32_t mask = 0;
        size_t i;
        json_t *f;

        if (!fields)
                return INSTANCE_STATUS_KEYS_ALL;
        json_array_foreach(fields, i, f)
                for (unsigned k = 0; k < ELEMENTSOF(status_keys); k++)
                        if (json_is_string(f) && streq(json_string_value(f), status_keys[k].key))
                                mask |= UINT32_C(1) << k;
        return mask;
}

json_t *instance_status_to_json_keys(const InstanceStatus *s, uint32_t mask, bool skip_null) {
        json_t *o = json_object();

        for (unsigned k = 0; k < ELEMENTSOF(status_keys); k++) {
                json_t *v;
                if (!(mask & (UINT32_C(1) << k)))
                        continue;
                v = status_keys[k].encode(s);
                if (skip_null && json_is_null(v))
                        continue; /* json_null() is a singleton: nothing to free */
                json_object_set_new(o, status_keys[k].key, v);
        }
        return o;
}

json_t *instance_status_to_json(const InstanceStatus *s) {
        return instance_status_to_json_keys(s, INSTANCE_STATUS_KEYS_ALL, false);
}

static char *dup_string(const json_t *j) {
        return json_is_string(j) ? xstrdup(json_string_value(j)) : NULL;
}

int instance_status_from_json(const json_t *j, InstanceStatus *ret) {
        InstanceStatus s = {};
        const json_t *v;
        int r;

        if (!json_is_object(j) || !json_is_string(json_object_get(j, "name")))
                return -EINVAL;
        s.name = dup_string(json_object_get(j, "name"));
        s.hash = dup_string(json_object_get(j, "hash"));
        r = json_is_string(v = json_object_get(j, "isolation")) ? (int) isolation_from_string(json_string_value(v)) : -EINVAL;
        if (r < 0)
                goto fail;
        s.isolation = (Isolation) r;
        r = json_is_string(v = json_object_get(j, "state")) ? (int) instance_state_from_string(json_string_value(v))
                                                               : -EINVAL;
        if (r < 0)
                goto fail;
        s.state = (InstanceState) r;
        s.admin_stopped = json_is_true(json_object_get(j, "admin_stopped"));
        s.pid = (pid_t) json_integer_value(json_object_get(j, "pid"));
        s.monitor_pid = (pid_t) json_integer_value(json_object_get(j, "monitor_pid"));
        s.restarts = (unsigned) json_integer_value(json_object_get(j, "restarts"));
        if (json_is_integer(v = json_object_get(j, "exit_code"))) {
                s.has_exit = true;
                s.exit_code = (int) json_integer_value(v);
        }
        if (json_is_string(v = json_object_get(j, "exit_signal"))) {
                s.has_exit = true;
                s.exit_code = -1;
                if (parse_signal(json_string_value(v), &s.exit_signal) < 0) {
                        r = -EINVAL;
                        goto fail;
                }
        }
        s.oom = json_is_true(json_object_get(j, "oom"));
        if ((r = timestamp_from_json(json_object_get(j, "started_at"), &s.started_at)) < 0 ||
            (r = timestamp_from_json(json_object_get(j, "exited_at"), &s.exited_at)) < 0 ||
            (r = timestamp_from_json(json_object_get(j, "next_restart_at"), &s.next_restart_at)) < 0)
                goto fail;
        s.reason = dup_string(json_object_get(j, "reason"));
        s.restart_reason = dup_string(json_object_get(j, "restart_reason"));
        s.log_path = dup_string(json_object_get(j, "log"));
        s.address = dup_string(json_object_get(j, "address"));
        if (json_is_object(v = json_object_get(j, "user_namespace"))) {
                s.userns_base = (uint32_t) json_integer_value(json_object_get(v, "uid"));
                s.userns_size = (uint32_t) json_integer_value(json_object_get(v, "size"));
        }
        if (json_is_object(v = json_object_get(j, "image"))) {
                const json_t *image;
                size_t i;

                s.image_layers = (unsigned) json_integer_value(json_object_get(v, "layers"));
                json_array_foreach(json_object_get(v, "images"), i, image)
                        if (json_is_string(image))
                                strv_push(&s.images, xstrdup(json_string_value(image)));
        }
        if (json_is_object(v = json_object_get(j, "pull"))) {
                s.pull.reference = dup_string(json_object_get(v, "reference"));
                s.pull.bytes_done = (uint64_t) json_integer_value(json_object_get(v, "bytes_done"));
                s.pull.bytes_total = (uint64_t) json_integer_value(json_object_get(v, "bytes_total"));
                s.pull.layers_done = (unsigned) json_integer_value(json_object_get(v, "layers_done"));
                s.pull.layers_total = (unsigned) json_integer_value(json_object_get(v, "layers_total"));
        }
        if (json_is_object(v = json_object_get(j, "health"))) {
                const json_t *last = json_object_get(v, "last_check");
                const json_t *w;

                r = json_is_string(w = json_object_get(v, "status")) ? (int) health_state_from_string(json_string_value(w))
                                                                     : -EINVAL;
                if (r < 0)
                        goto fail;
                s.health.enabled = true;
                s.health.state = (HealthState) r;
                s.health.failing_streak = (unsigned) json_integer_value(json_object_get(v, "failing_streak"));
                if (json_is_object(last)) {
                        if ((r = timestamp_from_json(json_object_get(last, "at"), &s.health.last_at)) < 0)
                                goto fail;
                        s.health.last_exit_code = (int) json_integer_value(json_object_get(last, "exit_code"));
                        if (json_is_string(w = json_object_get(last, "signal"))) {
                                s.health.last_exit_code = -1;
                                if (parse_signal(json_string_value(w), &s.health.last_signal) < 0) {
                                        r = -EINVAL;
                                        goto fail;
                                }
                        }
                        s.health.last_timed_out = json_is_true(json_object_get(last, "timed_out"));
                        s.health.last_output = dup_string(json_object_get(last, "output"));
                }
        }
        if (json_is_object(v = json_object_get(j, "vm"))) {
                s.vm.guest_pid = (pid_t) json_integer_value(json_object_get(v, "guest_pid"));
                s.vm.accel = dup_string(json_object_get(v, "accel"));
                s.vm.memory = (uint64_t) json_integer_value(json_object_get(v, "memory"));
                s.vm.vcpus = (unsigned) json_integer_value(json_object_get(v, "vcpus"));
                s.vm.stop_step = dup_string(json_object_get(v, "stop_step"));
                s.vm.end = dup_string(json_object_get(v, "end"));
        }
        *ret = s;
        return 0;
fail:
        instance_status_done(&s);
        return r < 0 ? r : -EINVAL;
}
