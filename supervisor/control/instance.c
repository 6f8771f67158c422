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

json_t *instance_status_to_json(const InstanceStatus *s) {
        json_t *o = json_object();
        _cleanup_free_ char *sig = s->has_exit && s->exit_signal > 0 ? format_signal(s->exit_signal) : NULL;

        json_object_set_new(o, "name", json_string(s->name));
        json_object_set_new(o, "hash", s->hash ? json_string(s->hash) : json_null());
        json_object_set_new(o, "isolation", json_string(isolation_to_string(s->isolation)));
        json_object_set_new(o, "state", json_string(instance_state_to_string(s->state)));
        json_object_set_new(o, "admin_stopped", json_boolean(s->admin_stopped));
        json_object_set_new(o, "pid", s->pid > 0 ? json_integer(s->pid) : json_null());
        json_object_set_new(o, "monitor_pid", s->monitor_pid > 0 ? json_integer(s->monitor_pid) : json_null());
        json_object_set_new(o, "restarts", json_integer(s->restarts));
        json_object_set_new(o, "exit_code", s->has_exit && s->exit_signal == 0 ? json_integer(s->exit_code) : json_null());
        json_object_set_new(o, "exit_signal", sig ? json_string(sig) : json_null());
        json_object_set_new(o, "oom", json_boolean(s->oom));
        json_object_set_new(o, "started_at", timestamp_to_json(s->started_at));
        json_object_set_new(o, "exited_at", timestamp_to_json(s->exited_at));
        json_object_set_new(o, "next_restart_at", timestamp_to_json(s->next_restart_at));
        json_object_set_new(o, "reason", s->reason ? json_string(s->reason) : json_null());
        json_object_set_new(o, "restart_reason", s->restart_reason ? json_string(s->restart_reason) : json_null());
        json_object_set_new(o, "log", s->log_path ? json_string(s->log_path) : json_null());
        json_object_set_new(o, "address", s->address ? json_string(s->address) : json_null());
        json_object_set_new(o, "user_namespace",
                            s->userns_size ? json_pack("{s:I,s:I}", "uid", (json_int_t) s->userns_base, "size",
                                                       (json_int_t) s->userns_size)
                                           : json_null());
        if (s->image_layers) {
                json_t *images = json_array();
                STRV_FOREACH(i, s->images) {
                        json_array_append_new(images, json_string(*i));
                }
                json_object_set_new(o, "image",
                                    json_pack("{s:o,s:I}", "images", images, "layers", (json_int_t) s->image_layers));
        } else
                json_object_set_new(o, "image", json_null());
        json_object_set_new(o, "pull",
                            s->pull.reference ? json_pack("{s:s,s:I,s:I,s:I,s:I}", "reference", s->pull.reference,
                                                          "bytes_done", (json_int_t) s->pull.bytes_done, "bytes_total",
                                                          (json_int_t) s->pull.bytes_total, "layers_done",
                                                          (json_int_t) s->pull.layers_done, "layers_total",
                                                          (json_int_t) s->pull.layers_total)
                                              : json_null());
        if (s->health.enabled) {
                json_t *last = json_null();
                if (s->health.last_at) {
                        _cleanup_free_ char *hsig = s->health.last_signal > 0 ? format_signal(s->health.last_signal)
                                                                              : NULL;
                        last = json_pack("{s:o,s:o,s:o,s:b,s:o}", "at", timestamp_to_json(s->health.last_at),
                                         "exit_code",
                                         s->health.last_signal > 0 ? json_null() : json_integer(s->health.last_exit_code),
                                         "signal", hsig ? json_string(hsig) : json_null(), "timed_out",
                                         s->health.last_timed_out, "output",
                                         json_string_lossy(s->health.last_output ?: "",
                                                           s->health.last_output ? strlen(s->health.last_output) : 0));
                }
                json_object_set_new(o, "health",
                                    json_pack("{s:s,s:I,s:o}", "status", health_state_to_string(s->health.state),
                                              "failing_streak", (json_int_t) s->health.failing_streak, "last_check",
                                              last));
        } else
                json_object_set_new(o, "health", json_null());
        if (s->isolation == ISOLATION_HYPERV) {
                json_t *vm = json_object();
                json_object_set_new(vm, "guest_pid", s->vm.guest_pid > 0 ? json_integer(s->vm.guest_pid) : json_null());
                json_object_set_new(vm, "accel", s->vm.accel ? json_string(s->vm.accel) : json_null());
                json_object_set_new(vm, "memory", s->vm.memory ? json_integer((json_int_t) s->vm.memory) : json_null());
                json_object_set_new(vm, "vcpus", s->vm.vcpus ? json_integer(s->vm.vcpus) : json_null());
                json_object_set_new(vm, "stop_step", s->vm.stop_step ? json_string(s->vm.stop_step) : json_null());
                json_object_set_new(vm, "end", s->vm.end ? json_string(s->vm.end) : json_null());
                json_object_set_new(o, "vm", vm);
        } else
                json_object_set_new(o, "vm", json_null());
        return o;
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
