/* SPDX-License-Identifier: MIT */
#include "control.h"

#include <unistd.h>

#include "alloc.h"
#include "image-store.h"
#include "jsonl-server.h"
#include "log.h"
#include "macro.h"
#include "metrics.h"
#include "status-table.h"
#include "string-util.h"
#include "unit-value.h"
#include "volume.h"

#define CONTROL_IDLE_TIMEOUT (60 * USEC_PER_SEC)
/* supctl writes a request in one go: one that is not complete after this is a slow-loris. */
#define CONTROL_REQUEST_TIMEOUT (10 * USEC_PER_SEC)
/* Replies waiting for a client that does not read: past the first, its next requests wait; past
 * the second, it is disconnected. A status of a few hundred units is well under 1 MiB. */
#define CONTROL_OUTPUT_SOFT (256U * 1024U)
#define CONTROL_OUTPUT_HARD (4U * 1024U * 1024U)

/* `supctl wait`: what one connection may keep waiting, and all together. A wait holds a little
 * memory and no fd of its own; the connection's cost is bounded by jsonl-server.h's limits. */
#define CONTROL_WAITS_PER_CLIENT 16U
#define CONTROL_WAITS_MAX        1024U

void (*control_on_reload)(bool begin) = NULL;

typedef struct WaitRequest WaitRequest;
typedef struct ImageRequest ImageRequest;

struct ControlServer {
        Manager *manager;
        JsonlServer *server;
        char *path;
        WaitRequest *waits;
        ImageRequest *images;     /* image jobs whose reply is owed */
        MetricsRequests requests; /* every request's method and time, for metrics */
};

/* An image job whose reply is owed. */
struct ImageRequest {
        ControlServer *server;
        uint64_t client_id;
        json_t *request;
        ImageRequest *next;
};

/* A `wait` whose reply is owed: the manager's wait, and whom to reply to. */
struct WaitRequest {
        ControlServer *server;
        uint64_t client_id;
        json_t *request;
        ManagerWait *wait;
        WaitRequest *next;
};

/* A reply owed to a client after a monitor answers; the client may have gone meanwhile. */
typedef struct Deferred {
        ControlServer *server;
        uint64_t client_id;
        json_t *request;
        bool verbatim; /* the monitor's errors are worded for the operator already (top's) */
} Deferred;

static void on_monitor_reply(Instance *i, json_t *reply, void *userdata) {
        Deferred *d = userdata;
        JsonlClient *c = jsonl_server_find_client(d->server->server, d->client_id);
        JsonConn *conn = c ? jsonl_client_conn(c) : NULL;
        json_t *err = json_object_get(reply, "error");

        if (conn) {
                const char *code = json_string_value(json_object_get(err, "code")),
                           *message = json_string_value(json_object_get(err, "message")) ?: "no reason given";
                if (err && d->verbatim)
                        (void) json_conn_reply_error(conn, d->request, code ? code : "failed", "%s", message);
                else if (err)
                        (void) json_conn_reply_error(conn, d->request, "failed", "%s: %s", i->name, message);
                else
                        (void) json_conn_reply(conn, d->request, json_incref(json_object_get(reply, "result")));
        }
        json_decref(d->request);
        free(d);
}

static const char *param_string(json_t *msg, const char *key) {
        return json_string_value(json_object_get(json_object_get(msg, "params"), key));
}

/* start, stop, restart and top: to the unit's monitor, whose answer is the reply. */
static void do_unit_verb(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        const char *method = json_string_value(json_object_get(msg, "method"));
        const char *unit = param_string(msg, "unit");
        Instance *i;
        Deferred *d;

        if (!unit) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "%s needs a unit", method);
                return;
        }
        i = manager_find(s->manager, unit);
        if (!unit_set_find(s->manager->generation, unit)) {
                (void) json_conn_reply_error(conn, msg, "no-such-unit", "no unit \"%s\" is loaded", unit);
                return;
        }
        /* Replaced by a reload right now, or its monitor not up yet: the request waits for
         * the new instance instead of failing (an operator's stop is not lost to a race). */
        if (manager_request_pending(s->manager, unit, method) == 0) {
                (void) json_conn_reply(conn, msg, json_null());
                return;
        }
        /* A unit of the generation without a working instance (its creation failed, a full
         * disk): start creates it again. */
        if (streq(method, "start") && (!i || i->life == LIFE_SPAWN_FAILED)) {
                _cleanup_sup_error_ SupError *why = NULL;
                if (manager_create_again(s->manager, unit, &why) < 0)
                        (void) json_conn_reply_error(conn, msg, "failed", "%s: %s", unit, sup_error_message(why));
                else
                        (void) json_conn_reply(conn, msg, json_null());
                return;
        }
        if (!i) {
                (void) json_conn_reply_error(conn, msg, "failed", "%s has no instance", unit);
                return;
        }
        if (streq(method, "start") && !i->spec) {
                (void) json_conn_reply_error(conn, msg, "failed", "%s has no instance yet", unit);
                return;
        }
        d = xzalloc(sizeof(Deferred));
        *d = (Deferred){.server = s, .client_id = jsonl_client_id(c), .request = json_incref(msg)};
        d->verbatim = streq(method, "top");
        if (instance_call(i, method, NULL, on_monitor_reply, d) < 0) {
                (void) json_conn_reply_error(conn, msg, "failed", "%s: its monitor is not connected", unit);
                json_decref(d->request);
                free(d);
        }
}

static void do_reload(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        bool dry_run = json_is_true(json_object_get(json_object_get(msg, "params"), "dry_run"));
        _cleanup_(plan_freep) Plan *plan = NULL;
        _cleanup_free_ char *text = NULL;
        json_t *failures;
        Diagnostics d = {};
        int r;

        if (control_on_reload && !dry_run)
                control_on_reload(true);
        r = manager_reload(s->manager, dry_run, &d, &plan);
        if (control_on_reload && !dry_run)
                control_on_reload(false);
        if (r < 0) {
                json_t *reply =
                        json_pack("{s:O, s:{s:s, s:s, s:o}}", "id", json_object_get(msg, "id") ?: json_null(), "error",
                                  "code", "invalid-units", "message", "the units are not valid; nothing was changed",
                                  "diagnostics", diagnostics_to_json(&d));
                (void) json_conn_send(conn, reply);
                json_decref(reply);
                log_warning("reload refused: %zu error%s in the units", diagnostics_count(&d),
                            diagnostics_count(&d) == 1 ? "" : "s");
                diagnostics_done(&d);
                return;
        }
        diagnostics_done(&d);
        text = plan_format(plan);
        failures = dry_run ? json_array() : manager_plan_failures(s->manager, plan);
        if (!dry_run)
                log_info("reload: %s", text);
        if (json_array_size(failures) > 0)
                log_warning("reload: %zu unit%s could not be applied", json_array_size(failures),
                            json_array_size(failures) == 1 ? "" : "s");
        (void) json_conn_reply(conn, msg,
                               json_pack("{s:b, s:o, s:s, s:o}", "dry_run", dry_run, "plan", plan_to_json(plan), "text",
                                         text, "failures", failures));
        /* A reload that changed something freed a generation and parsed what changed: what malloc
         * keeps of it goes back to the system, rather than staying in supd's heap. (Not after every
         * request: pages given back are faulted in again by the next, at a cost.) */
        if (!dry_run && plan->n_actions > 0)
                manager_trim_soon(s->manager);
}

static void do_logs(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        const char *unit = param_string(msg, "unit");
        json_t *status;
        const char *log;

        status = unit ? manager_status_json(s->manager, unit, false) : NULL;
        log = status ? json_string_value(json_object_get(json_array_get(status, 0), "log")) : NULL;
        if (!log) {
                (void) json_conn_reply_error(conn, msg, "no-such-unit", "no log for unit \"%s\"", unit ? unit : "");
                json_decref(status);
                return;
        }
        (void) json_conn_reply(conn, msg, json_pack("{s:s}", "path", log));
        json_decref(status);
}

static void do_status(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        const char *unit = param_string(msg, "unit");
        /* "usage": false leaves the cgroups unread (a few files per running unit). */
        json_t *u = json_object_get(json_object_get(msg, "params"), "usage");
        /* "fields": only these keys of each unit (the table's), not the 27 of each of a thousand. */
        json_t *fields = json_object_get(json_object_get(msg, "params"), "fields"), *f, *list;
        /* "format": "table": `supctl status`'s table, as text (status-table.h), not the objects. */
        const char *format = json_string_value(json_object_get(json_object_get(msg, "params"), "format"));
        bool table = format && streq(format, "table");
        bool bad = fields && !json_is_array(fields);
        size_t k;

        json_array_foreach(fields, k, f)
                bad = bad || !json_is_string(f);
        if (bad) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "status: fields is a list of key names");
                return;
        }
        if (format && !table) {
                (void) json_conn_reply_error(conn, msg, "bad-request", "status: format is \"table\" or left out");
                return;
        }
        if (table) {
                /* The table's own keys, whatever else was asked; no usage (it shows none). */
                json_t *keys = json_array();
                for (k = 0; k < STATUS_TABLE_N_FIELDS; k++)
                        json_array_append_new(keys, json_string(status_table_fields[k]));
                list = manager_status_json_fields(s->manager, unit, false, keys);
                json_decref(keys);
        } else
                list = manager_status_json_fields(s->manager, unit, !json_is_false(u), fields);
        if (unit && json_array_size(list) == 0) {
                json_decref(list);
                (void) json_conn_reply_error(conn, msg, "no-such-unit", "no unit \"%s\" is loaded", unit);
                return;
        }
        if (table) {
                _cleanup_free_ char *text = status_table_format(list, now(CLOCK_REALTIME));
                json_decref(list);
                if (!text) {
                        (void) json_conn_reply_error(conn, msg, "internal", "status: %s", strerror(ENOMEM));
                        return;
                }
                list = json_pack("{s:s}", "text", text);
                if (!list) { /* not UTF-8: cannot be, the statuses are JSON (status-table.c) */
                        (void) json_conn_reply_error(conn, msg, "internal", "status: the table is not UTF-8");
                        return;
                }
        }
        (void) json_conn_reply(conn, msg, list);
        /* Every unit's object took the heap up, which stayed in supd without a trim: some 3 MiB at
         * a thousand units for a script's `status --json`, 2.7 MiB for the table's 13 keys. */
        if (!unit)
                manager_trim_soon(s->manager);
}

/* ---- wait: replied to when the unit runs (is healthy), cannot, or the timeout passes ---- */

static void wait_request_free(WaitRequest *w) {
        for (WaitRequest **p = &w->server->waits; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        manager_wait_free(w->wait);
        json_decref(w->request);
        free(w);
}

static size_t client_waits(ControlServer *s, uint64_t client_id) {
        size_t n = 0;
        for (WaitRequest *w = s->waits; w; w = w->next)
                n += w->client_id == client_id;
        return n;
}

/* A wait and an image job each turn the client's idle timeout off (they take as long as they
 * take); it comes back once the client has neither left, not at the end of the first. */
static void client_maybe_idle(ControlServer *s, JsonlClient *c) {
        if (!c || client_waits(s, jsonl_client_id(c)) > 0)
                return;
        for (ImageRequest *q = s->images; q; q = q->next)
                if (q->client_id == jsonl_client_id(c))
                        return;
        json_conn_set_idle_timeout(jsonl_client_conn(c), CONTROL_IDLE_TIMEOUT, CONTROL_REQUEST_TIMEOUT);
}

/* A client that has gone waits for nothing: its waits go with it, not with the unit's next
 * status or their timeout (the caps count only what a client still waits for). */
static void on_client_close(uint64_t id, void *userdata) {
        ControlServer *s = userdata;

        events_unsubscribe(s->manager->events, id);

        for (WaitRequest *w = s->waits, *next; w; w = next) {
                next = w->next;
                if (w->client_id == id)
                        wait_request_free(w);
        }
}

static json_t *unit_status(ControlServer *s, const char *unit) {
        json_t *list = manager_status_json(s->manager, unit, true);
        json_t *o = json_incref(json_array_get(list, 0));
        json_decref(list);
        return o ?: json_null();
}

static void on_wait_done(int result, const char *why, void *userdata) {
        WaitRequest *w = userdata;
        ControlServer *s = w->server;
        JsonlClient *c = jsonl_server_find_client(s->server, w->client_id);
        JsonConn *conn = c ? jsonl_client_conn(c) : NULL;

        w->wait = NULL; /* the manager frees it */
        if (conn) {
                if (result >= 0)
                        (void) json_conn_reply(conn, w->request, unit_status(s, param_string(w->request, "unit")));
                else
                        (void) json_conn_reply_error(conn, w->request, result == -ETIMEDOUT ? "timeout" : "unreachable",
                                                     "%s", why);
        }
        wait_request_free(w);
        client_maybe_idle(s, c);
}

static void do_wait(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        json_t *params = json_object_get(msg, "params"), *healthy = json_object_get(params, "healthy"),
               *timeout = json_object_get(params, "timeout_usec");
        const char *unit = param_string(msg, "unit");
        _cleanup_free_ char *why = NULL;
        WaitRequest *w;
        int r;

        if (!unit || (healthy && !json_is_boolean(healthy)) ||
            (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 0))) {
                (void) json_conn_reply_error(conn, msg, "bad-request",
                                             "wait needs a unit, and takes healthy (a boolean) and timeout_usec (an "
                                             "integer, >= 0)");
                return;
        }
        if (client_waits(s, jsonl_client_id(c)) >= CONTROL_WAITS_PER_CLIENT) {
                (void) json_conn_reply_error(conn, msg, "busy", "too many waits on this connection (at most %u)",
                                             CONTROL_WAITS_PER_CLIENT);
                return;
        }
        if (s->manager->n_waits >= CONTROL_WAITS_MAX) {
                (void) json_conn_reply_error(conn, msg, "busy", "too many waits (at most %u); try again later",
                                             CONTROL_WAITS_MAX);
                return;
        }
        w = xzalloc(sizeof(WaitRequest));
        *w = (WaitRequest){.server = s, .client_id = jsonl_client_id(c), .request = json_incref(msg)};
        r = manager_wait(s->manager, unit, json_is_true(healthy),
                         timeout ? (usec_t) json_integer_value(timeout) : USEC_INFINITY, on_wait_done, w, &w->wait,
                         &why);
        if (r != 0) {
                if (r > 0)
                        (void) json_conn_reply(conn, msg, unit_status(s, unit));
                else
                        (void) json_conn_reply_error(conn, msg,
                                                     r == -ENOENT   ? "no-such-unit"
                                                     : r == -EINVAL ? "no-healthcheck"
                                                     : r == -ESRCH  ? "unreachable"
                                                                    : "failed",
                                                     "%s", why ?: strerror(-r));
                json_decref(w->request);
                free(w);
                return;
        }
        w->next = s->waits;
        s->waits = w;
        /* A wait takes as long as the unit does (the client's timeout, if any, is supd's timer):
         * the idle timeout must not end it. Back once its last wait is over. */
        json_conn_set_idle_timeout(conn, 0, 0);
}

/* ---- the image store: every method in a worker (image-jobs.h), replied to when it is done ---- */

typedef struct PullArgs {
        const char *reference;
        bool tls_verify;
        LayerUnpackLimits limits;
} PullArgs;

typedef struct PruneArgs {
        char **keep;
        bool dry_run;
} PruneArgs;

/* The store's errors name what they are about ("no image X in the store", "cannot pull REF:
 * skopeo: ..."); without one, what was being done. */
static json_t *store_error(int r, SupError *e, const char *what) {
        _cleanup_free_ char *msg = e ? NULL : xasprintf("%s: %s", what, strerror(-r));
        return image_job_error(r == -ENOENT ? "no-such-image" : "failed", e ? sup_error_message(e) : msg);
}

static json_t *image_ls_work(const char *store_dir, const void *args) {
        _cleanup_sup_error_ SupError *e = NULL;
        json_t *list = NULL;
        int r = image_store_list(store_dir, &list, &e);
        return r < 0 ? store_error(r, e, "cannot list the image store") : image_job_reply(list);
}

static json_t *image_inspect_work(const char *store_dir, const void *args) {
        _cleanup_sup_error_ SupError *e = NULL;
        _cleanup_free_ char *what = xasprintf("cannot inspect image %s", (const char *) args);
        json_t *image = NULL;
        int r = image_store_inspect(store_dir, args, &image, &e);
        return r < 0 ? store_error(r, e, what) : image_job_reply(image);
}

/* A pull ahead of a reload (`supctl image pull`) leaves the image as a start will want it:
 * pulled, then resolved as a unit naming it with pull: never would be, so its layers are unpacked
 * (and verified) in the store, and the store records it for `image ls`. The unpack is bounded as
 * the monitors' are (supd --image-max-layer-size). */
static json_t *image_pull_work(const char *store_dir, const void *args) {
        const PullArgs *a = args;
        _cleanup_sup_error_ SupError *e = NULL;
        _cleanup_free_ char *digest = NULL, *what = xasprintf("cannot pull %s", a->reference);
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_spec_new();
        _cleanup_(image_freep) Image *img = NULL;
        ImageOptions opts = {.store_dir = store_dir, .limits = a->limits};
        int r;

        r = image_store_pull(store_dir, a->reference, a->tls_verify, &opts, &digest, &e);
        if (r < 0)
                return store_error(r == -ENOENT ? -EIO : r, e, what);
        u->layers = xnew0(Layer, 1);
        u->n_layers = 1;
        u->layers[0] = (Layer){.type = LAYER_REGISTRY, .path = xstrdup(a->reference), .tls_verify = a->tls_verify};
        u->pull = PULL_NEVER;
        r = image_resolve(u, &opts, &img, &e);
        if (r < 0) {
                _cleanup_free_ char *msg = xasprintf("pulled %s (%s), but cannot unpack it: %s", a->reference, digest,
                                                     sup_error_message(e));
                return image_job_error("failed", msg);
        }
        return image_job_reply(json_pack("{s:s, s:s, s:I}", "reference", a->reference, "digest", digest, "layers",
                                         (json_int_t) img->n_layers));
}

static json_t *image_prune_work(const char *store_dir, const void *args) {
        const PruneArgs *a = args;
        _cleanup_sup_error_ SupError *e = NULL;
        json_t *result = NULL;
        int r = image_store_prune(store_dir, a->keep, a->dry_run, &result, &e);
        return r < 0 ? store_error(r == -ENOENT ? -EIO : r, e, "cannot prune the image store")
                     : image_job_reply(result);
}

static void on_image_done(const json_t *reply, void *userdata) {
        ImageRequest *q = userdata;
        JsonlClient *c = jsonl_server_find_client(q->server->server, q->client_id);
        JsonConn *conn = c ? jsonl_client_conn(c) : NULL;
        json_t *err = json_object_get(reply, "error");

        for (ImageRequest **p = &q->server->images; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        break;
                }
        /* A client that went meanwhile: the work is done all the same (a pull is in the store). */
        if (conn) {
                client_maybe_idle(q->server, c);
                if (err)
                        (void) json_conn_reply_error(conn, q->request,
                                                     json_string_value(json_object_get(err, "code")) ?: "failed", "%s",
                                                     json_string_value(json_object_get(err, "message")) ?: "failed");
                else
                        (void) json_conn_reply(conn, q->request, json_incref(json_object_get(reply, "result")));
        }
        json_decref(q->request);
        free(q);
}

static void run_image_job(JsonlClient *c, json_t *msg, ControlServer *s, ImageJobKind kind, const char *key,
                          const char *description, ImageJobWork work, const void *args) {
        JsonConn *conn = jsonl_client_conn(c);
        ImageRequest *q;
        const char *busy = NULL;
        int r;

        if (!s->manager->image_jobs) {
                (void) json_conn_reply_error(conn, msg, "failed", "this supd has no image store");
                return;
        }
        q = xzalloc(sizeof(ImageRequest));
        *q = (ImageRequest){.server = s, .client_id = jsonl_client_id(c), .request = json_incref(msg)};
        r = image_jobs_run(s->manager->image_jobs, kind, key, description, work, args, on_image_done, q, &busy);
        if (r < 0) {
                if (r == -EBUSY)
                        (void) json_conn_reply_error(conn, msg, "busy",
                                                     "cannot start %s while %s runs; try again when it is done",
                                                     description, busy);
                else if (r == -EAGAIN)
                        (void) json_conn_reply_error(conn, msg, "busy",
                                                     "cannot start %s: too many image requests run; try again later",
                                                     description);
                else
                        (void) json_conn_reply_error(conn, msg, "failed", "cannot start %s: %s", description,
                                                     strerror(-r));
                json_decref(q->request);
                free(q);
                return;
        }
        /* A pull takes as long as the registry does: the client waits for its reply without a
         * deadline of ours (it has its own). */
        q->next = s->images;
        s->images = q;
        json_conn_set_idle_timeout(conn, 0, 0);
}

static void do_image_ls(JsonlClient *c, json_t *msg, void *userdata) {
        run_image_job(c, msg, userdata, IMAGE_JOB_READ, "ls", "listing the images", image_ls_work, NULL);
}

static void do_image_inspect(JsonlClient *c, json_t *msg, void *userdata) {
        const char *name = param_string(msg, "name");
        _cleanup_free_ char *what = NULL;

        if (!name || !*name) {
                (void) json_conn_reply_error(jsonl_client_conn(c), msg, "bad-request", "image-inspect needs a name");
                return;
        }
        what = xasprintf("inspecting image %s", name);
        run_image_job(c, msg, userdata, IMAGE_JOB_READ, what, what, image_inspect_work, name);
}

static void do_image_pull(JsonlClient *c, json_t *msg, void *userdata) {
        json_t *tls = json_object_get(json_object_get(msg, "params"), "tls_verify");
        ControlServer *s = userdata;
        PullArgs a = {
                .reference = param_string(msg, "reference"),
                .tls_verify = !json_is_false(tls),
                .limits = {.max_bytes = strtoull(s->manager->config.image_max_layer_size ?: "0", NULL, 10),
                           .max_entries = LAYER_UNPACK_MAX_ENTRIES_DEFAULT},
        };
        _cleanup_free_ char *key = NULL, *what = NULL;

        if (!a.reference || !*a.reference) {
                (void) json_conn_reply_error(jsonl_client_conn(c), msg, "bad-request", "image-pull needs a reference");
                return;
        }
        if (tls && !json_is_boolean(tls)) {
                (void) json_conn_reply_error(jsonl_client_conn(c), msg, "bad-request", "tls_verify must be a boolean");
                return;
        }
        /* The same reference pulled the same way: one pull, every requester gets its reply. Not
         * with another tls_verify: a request that wants the registry verified is not answered
         * by a pull that did not. */
        key = xasprintf("pull %s tls_verify=%s", a.reference, a.tls_verify ? "true" : "false");
        what = xasprintf("a pull of %s", a.reference);
        run_image_job(c, msg, userdata, IMAGE_JOB_PULL, key, what, image_pull_work, &a);
}

static void do_image_prune(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        _cleanup_strv_free_ char **keep = manager_image_users(s->manager);
        PruneArgs a = {.keep = keep,
                       .dry_run = json_is_true(json_object_get(json_object_get(msg, "params"), "dry_run"))};

        /* Not joined: the running generation may have changed since another prune began. */
        run_image_job(c, msg, userdata, IMAGE_JOB_PRUNE, NULL, a.dry_run ? "a prune (dry run)" : "a prune",
                      image_prune_work, &a);
}

/* ---- named volumes (runtime/volume.h): in a worker too, a removal deletes a whole tree ---- */

typedef struct VolumeArgs {
        const char *state_dir;
        const char *name; /* inspect, rm */
        const VolumeNamer *namers;
        size_t n_namers;
} VolumeArgs;

static json_t *volume_error(int r, SupError *e) {
        return image_job_error(r == -ENOENT  ? "no-such-volume"
                               : r == -EBUSY ? "in-use"
                                             : "failed",
                               e ? sup_error_message(e) : strerror(-r));
}

static json_t *volume_ls_work(const char *store_dir, const void *args) {
        const VolumeArgs *a = args;
        _cleanup_sup_error_ SupError *e = NULL;
        json_t *list = NULL;
        int r = volume_list(a->state_dir, a->namers, a->n_namers, &list, &e);
        return r < 0 ? volume_error(r, e) : image_job_reply(list);
}

static json_t *volume_inspect_work(const char *store_dir, const void *args) {
        const VolumeArgs *a = args;
        _cleanup_sup_error_ SupError *e = NULL;
        json_t *v = NULL;
        int r = volume_inspect(a->state_dir, a->name, a->namers, a->n_namers, &v, &e);
        return r < 0 ? volume_error(r, e) : image_job_reply(v);
}

static json_t *volume_rm_work(const char *store_dir, const void *args) {
        const VolumeArgs *a = args;
        _cleanup_sup_error_ SupError *e = NULL;
        int r = volume_remove(a->state_dir, a->name, a->namers, a->n_namers, &e);
        return r < 0 ? volume_error(r, e) : image_job_reply(json_pack("{s:s}", "removed", a->name));
}

/* The worker is a fork made within image_jobs_run(): the unit set it is given (borrowed from the
 * manager) is its own copy from then on, as the decision about a removal needs. */
static void run_volume_job(JsonlClient *c, json_t *msg, ControlServer *s, const char *verb, ImageJobWork work) {
        const char *name = param_string(msg, "name");
        _cleanup_free_ char *what = NULL, *key = NULL;
        _cleanup_free_ VolumeNamer *namers = NULL;
        VolumeArgs a = {.state_dir = s->manager->config.state_dir, .name = name};

        if (work != volume_ls_work && !name) {
                (void) json_conn_reply_error(jsonl_client_conn(c), msg, "bad-request", "volume-%s needs a name", verb);
                return;
        }
        namers = manager_volume_namers(s->manager, &a.n_namers);
        a.namers = namers;
        what = name ? xasprintf("volume %s of %s", verb, name) : xasprintf("volume %s", verb);
        /* A second rm of one volume joins the first; listing and inspecting are never joined: the
         * unit set may have changed in between. */
        key = work == volume_rm_work ? xasprintf("volume-rm %s", name) : NULL;
        run_image_job(c, msg, s, IMAGE_JOB_READ, key, what, work, &a);
}

static void do_volume_ls(JsonlClient *c, json_t *msg, void *userdata) {
        run_volume_job(c, msg, userdata, "ls", volume_ls_work);
}

static void do_volume_inspect(JsonlClient *c, json_t *msg, void *userdata) {
        run_volume_job(c, msg, userdata, "inspect", volume_inspect_work);
}

static void do_volume_rm(JsonlClient *c, json_t *msg, void *userdata) {
        run_volume_job(c, msg, userdata, "rm", volume_rm_work);
}

/* ---- events: the event stream (events.h), replayed from since_usec, then followed ---- */

static void do_events(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        JsonConn *conn = jsonl_client_conn(c);
        json_t *params = json_object_get(msg, "params"), *since = json_object_get(params, "since_usec"),
               *units = json_object_get(params, "units"), *follow = json_object_get(params, "follow"), *u;
        _cleanup_strv_free_ char **names = NULL;
        size_t k;

        if ((since && (!json_is_integer(since) || json_integer_value(since) < 0)) || (units && !json_is_array(units)) ||
            (follow && !json_is_boolean(follow))) {
                (void) json_conn_reply_error(conn, msg, "bad-request",
                                             "events takes since_usec (an integer, >= 0), units (an array of unit "
                                             "names) and follow (a boolean)");
                return;
        }
        json_array_foreach(units, k, u) {
                if (!json_is_string(u) || !unit_name_is_valid(json_string_value(u))) {
                        (void) json_conn_reply_error(conn, msg, "bad-request", "units: not a unit name");
                        return;
                }
                strv_push(&names, xstrdup(json_string_value(u)));
        }
        if (!s->manager->events) {
                (void) json_conn_reply_error(conn, msg, "failed", "this supd has no event stream");
                return;
        }
        if (events_subscribe(s->manager->events, conn, jsonl_client_id(c), msg,
                             since ? (usec_t) json_integer_value(since) : USEC_INFINITY, names,
                             !json_is_false(follow)) < 0) {
                (void) json_conn_reply_error(conn, msg, "busy", "this connection follows the events already");
                return;
        }
        TAKE_PTR(names);
        /* A follower reads as long as it likes and never sends again: no idle timeout. */
        if (!json_is_false(follow))
                json_conn_set_idle_timeout(conn, 0, 0);
}

/* ---- metrics (metrics.h) ---- */

static void do_metrics(JsonlClient *c, json_t *msg, void *userdata) {
        ControlServer *s = userdata;
        _cleanup_free_ char *text = metrics_collect(s->manager, &s->requests);

        (void) json_conn_reply(jsonl_client_conn(c), msg, json_pack("{s:s}", "text", text));
}

static void on_request(const char *method, usec_t duration, void *userdata) {
        ControlServer *s = userdata;
        metrics_requests_note(&s->requests, method, duration);
}

const MetricsRequests *control_server_requests(const ControlServer *s) {
        return &s->requests;
}

/* The socket's group may look (status, logs, top, wait, events, metrics, the images, the
 * volumes); only root may act. */
static const JsonlMethod control_methods[] = {
        {"status", do_status, 0},
        {"logs", do_logs, 0},
        {"top", do_unit_verb, 0},
        {"wait", do_wait, 0},
        {"metrics", do_metrics, 0},
        {"reload", do_reload, JSONL_METHOD_ROOT_ONLY},
        {"start", do_unit_verb, JSONL_METHOD_ROOT_ONLY},
        {"stop", do_unit_verb, JSONL_METHOD_ROOT_ONLY},
        {"restart", do_unit_verb, JSONL_METHOD_ROOT_ONLY},
        {"image-ls", do_image_ls, 0},
        {"image-inspect", do_image_inspect, 0},
        {"image-pull", do_image_pull, JSONL_METHOD_ROOT_ONLY},
        {"image-prune", do_image_prune, JSONL_METHOD_ROOT_ONLY},
        {"volume-ls", do_volume_ls, 0},
        {"volume-inspect", do_volume_inspect, 0},
        {"volume-rm", do_volume_rm, JSONL_METHOD_ROOT_ONLY},
        {"events", do_events, 0},
        {},
};

static void on_out_of_fds(int error, void *userdata) {
        log_warning("control socket: out of file descriptors (%s); turning clients away", strerror(-error));
}

int control_server_new(Event *e, Manager *m, const char *path, gid_t group, ControlServer **ret) {
        ControlServer *s = xzalloc(sizeof(ControlServer));
        JsonlServerConfig cfg = {
                .path = path,
                .group = group,
                .methods = control_methods,
                .userdata = s,
                .idle_timeout = CONTROL_IDLE_TIMEOUT,
                .request_timeout = CONTROL_REQUEST_TIMEOUT,
                .output_soft = CONTROL_OUTPUT_SOFT,
                .output_hard = CONTROL_OUTPUT_HARD,
                .on_out_of_fds = on_out_of_fds,
                .on_client_close = on_client_close,
                .on_request = on_request,
        };
        int r;

        s->manager = m;
        r = jsonl_server_new(e, &cfg, &s->server, NULL);
        if (r < 0) {
                free(s);
                return r;
        }
        s->path = xstrdup(path);
        *ret = s;
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->waits)
                wait_request_free(s->waits);
        events_drop_subscribers(s->manager->events);
        s->server = jsonl_server_free(s->server);
        metrics_requests_done(&s->requests);
        (void) unlink(s->path);
        free(s->path);
        free(s);
        return NULL;
}
