/* SPDX-License-Identifier: MIT */
/* The canonical JSON form of a UnitSpec, both ways. Each part of a unit (what it is, its process,
 * its network, its limits, its mounts, its security, its relations to other units, its life cycle,
 * its VM) has its encoder and, next to it, its decoder, so that a key added to one is seen missing
 * from the other.
 *
 * The decoder reads what the encoder writes and nothing else: every key the encoder always writes
 * is required, an unknown key or a value of the wrong type is an error naming its JSON path, and a
 * value is checked with the same rules (unit-value.h) as in a unit file. Rules between values
 * (hyperv units share nothing, ports need network: bridge, ...) are the unit parser's: the
 * canonical form comes from a unit that passed them. It runs in the guest's PID 1 too, so it uses
 * no YAML. */
#include "unit-spec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <strings.h>

#include "alloc.h"
#include "path-util.h"
#include "string-util.h"
#include "sup-error.h"
#include "unit-path.h"
#include "unit-value.h"

/* JSON carries signed 64-bit integers: a size or a limit above that cannot be written. */
#define JSON_UINT_MAX ((uint64_t) INT64_MAX)

typedef struct Decoder {
        UnitPath path;
        SupError **error;
} Decoder;

static size_t path_push_key(Decoder *d, const char *key) {
        return unit_path_push_key(&d->path, key);
}

static void path_pop(Decoder *d, size_t old) {
        unit_path_pop(&d->path, old);
}

static int decode_error(Decoder *d, const char *fmt, ...) _printf_(2, 3);
static int decode_error(Decoder *d, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        if (d->path.len == 0)
                return sup_error_make(d->error, -EINVAL, "%s", msg);
        return sup_error_make(d->error, -EINVAL, "%s: %s", d->path.text, msg);
}

/* A refused value in a message: its JSON (strings quoted and cut), or what it is. */
static char *describe(const json_t *v) {
        char *s;

        if (json_is_object(v))
                return xstrdup("an object");
        if (json_is_array(v))
                return xstrdup("a list");
        if (json_is_string(v))
                return string_quote(json_string_value(v), json_string_length(v), UNIT_PATH_QUOTE_MAX);
        s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        return s ?: xstrdup("a value");
}

static int expected(Decoder *d, const json_t *v, const char *what) {
        _cleanup_free_ char *found = describe(v);
        return decode_error(d, "expected %s, found %s", what, found);
}

/* A decoder of one value: data points at where it goes (a field of the object being decoded). */
typedef int (*JsonDecode)(Decoder *d, const json_t *v, void *data);

typedef struct JsonField {
        const char *key;
        JsonDecode decode;
        size_t offset; /* of the member decode writes, in the object decode_object() fills */
        bool optional; /* the encoder leaves it out sometimes */
} JsonField;

/* An object against a table of its keys (ending with an empty entry): unknown keys and missing
 * required ones are errors. */
static int decode_object(Decoder *d, const json_t *v, const JsonField *fields, void *data, const char *what) {
        const char *key;
        json_t *value;
        int r;

        if (!json_is_object(v))
                return expected(d, v, what);
        json_object_foreach((json_t *) v, key, value) {
                const JsonField *f = fields;
                size_t old;

                while (f->key && !streq(f->key, key))
                        f++;
                old = path_push_key(d, key);
                r = f->key ? f->decode(d, value, (uint8_t *) data + f->offset)
                           : decode_error(d, "unknown key in %s", what);
                path_pop(d, old);
                if (r < 0)
                        return r;
        }
        for (const JsonField *f = fields; f->key; f++)
                if (!f->optional && !json_object_get(v, f->key))
                        return decode_error(d, "missing key \"%s\" in %s", f->key, what);
        return 0;
}

/* A list of min to max items, each through decode_item with the path extended by [i]. */
static int decode_list(Decoder *d, const json_t *v, size_t min, size_t max, const char *what,
                       int (*decode_item)(Decoder *d, const json_t *item, size_t i, void *data), void *data) {
        size_t i;
        json_t *item;

        if (!json_is_array(v))
                return expected(d, v, what);
        if (json_array_size(v) < min && max == SIZE_MAX)
                return decode_error(d, "expected %s with at least %zu item%s, found %zu", what, min,
                                    min == 1 ? "" : "s", json_array_size(v));
        if (json_array_size(v) < min || json_array_size(v) > max)
                return decode_error(d, "expected %s with %zu to %zu items, found %zu", what, min, max,
                                    json_array_size(v));
        json_array_foreach(v, i, item) {
                size_t old = unit_path_push_index(&d->path, i);
                int r = decode_item(d, item, i, data);
                path_pop(d, old);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- values ---- */

static int get_string(Decoder *d, const json_t *v, const char *what, const char **ret) {
        /* jansson can hold a NUL inside a string; no C string of a spec can. */
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return expected(d, v, what);
        *ret = json_string_value(v);
        return 0;
}

static int get_uint(Decoder *d, const json_t *v, uint64_t min, uint64_t max, uint64_t *ret) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) < min ||
            (uint64_t) json_integer_value(v) > max) {
                _cleanup_free_ char *what = xasprintf("an integer from %" PRIu64 " to %" PRIu64, min, max);
                return expected(d, v, what);
        }
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int get_enum(Decoder *d, const json_t *v, const char *(*to_string)(int), int max, int *ret) {
        _cleanup_free_ char *choices = NULL;
        const char *s = json_string_value(v);

        for (int i = 0; i < max; i++)
                if (s && streq(s, to_string(i))) {
                        *ret = i;
                        return 0;
                }
        choices = xstrdup("one of");
        for (int i = 0; i < max; i++) {
                char *c = xasprintf("%s%s %s", choices, i ? "," : "", to_string(i));
                free(choices);
                choices = c;
        }
        return expected(d, v, choices);
}

#define GET_ENUM(d, v, name, max, ret) get_enum((d), (v), (const char *(*) (int) ) name##_to_string, (max), (ret))

/* decode_NAME(), the decoder of a field of an enum type with a string table. */
#define DEFINE_ENUM_DECODER(name, type, max)                                \
        static int decode_##name(Decoder *d, const json_t *v, void *data) { \
                int i;                                                      \
                if (GET_ENUM(d, v, name, max, &i) < 0)                      \
                        return -EINVAL;                                     \
                *(type *) data = (type) i;                                  \
                return 0;                                                   \
        }

/* decode_NAME(), the decoder of an integer field of type from min to max. */
#define DEFINE_UINT_DECODER(name, type, min, max)                           \
        static int decode_##name(Decoder *d, const json_t *v, void *data) { \
                uint64_t n;                                                 \
                if (get_uint(d, v, (min), (max), &n) < 0)                   \
                        return -EINVAL;                                     \
                *(type *) data = (type) n;                                  \
                return 0;                                                   \
        }

DEFINE_ENUM_DECODER(isolation, Isolation, _ISOLATION_MAX)
DEFINE_ENUM_DECODER(pull_policy, PullPolicy, _PULL_POLICY_MAX)
DEFINE_ENUM_DECODER(network_mode, NetworkMode, _NETWORK_MODE_MAX)
DEFINE_ENUM_DECODER(mount_type, MountType, _MOUNT_TYPE_MAX)
DEFINE_ENUM_DECODER(restart_policy, RestartPolicy, _RESTART_POLICY_MAX)
DEFINE_ENUM_DECODER(health_action, HealthAction, _HEALTH_ACTION_MAX)
DEFINE_ENUM_DECODER(vm_machine, VmMachine, _VM_MACHINE_MAX)
DEFINE_ENUM_DECODER(vm_accel, VmAccel, _VM_ACCEL_MAX)
DEFINE_UINT_DECODER(memory, uint64_t, UNIT_MEMORY_MIN, JSON_UINT_MAX)
DEFINE_UINT_DECODER(pids, uint64_t, 1, UNIT_PIDS_MAX)
DEFINE_UINT_DECODER(io_weight, uint32_t, 1, UNIT_IO_WEIGHT_MAX)
DEFINE_UINT_DECODER(mount_size, uint64_t, 0, JSON_UINT_MAX)
DEFINE_UINT_DECODER(burst, unsigned, 1, UNIT_BURST_MAX)
DEFINE_UINT_DECODER(retries, unsigned, 1, UNIT_RETRIES_MAX)

static int get_duration(Decoder *d, const json_t *v, usec_t *ret) {
        const char *s, *reason = NULL;

        if (get_string(d, v, "a duration like 1m30s", &s) < 0)
                return -EINVAL;
        if (parse_duration(s, ret, &reason) < 0)
                return expected(d, v, reason ?: "a duration like 1m30s");
        return 0;
}

/* An absolute host path; simplified, as the unit parser leaves it. */
static int get_host_path(Decoder *d, const json_t *v, const char *what, char **ret) {
        const char *s;

        if (get_string(d, v, what, &s) < 0)
                return -EINVAL;
        if (!path_is_absolute(s))
                return expected(d, v, what);
        free(*ret);
        *ret = path_simplify(xstrdup(s));
        return 0;
}

static int field_string(Decoder *d, const json_t *v, void *data) {
        char **p = data;
        const char *s;

        if (get_string(d, v, "a string", &s) < 0)
                return -EINVAL;
        free(*p);
        *p = xstrdup(s);
        return 0;
}

static int field_bool(Decoder *d, const json_t *v, void *data) {
        if (!json_is_boolean(v))
                return expected(d, v, "true or false");
        *(bool *) data = json_is_true(v);
        return 0;
}

static int field_duration(Decoder *d, const json_t *v, void *data) {
        return get_duration(d, v, data);
}

static int field_positive_duration(Decoder *d, const json_t *v, void *data) {
        usec_t t;

        if (get_duration(d, v, &t) < 0)
                return -EINVAL;
        if (t == 0)
                return expected(d, v, "a duration longer than 0s");
        *(usec_t *) data = t;
        return 0;
}

/* A string that valid() accepts, into *ret. */
static int get_valid_string(Decoder *d, const json_t *v, bool (*valid)(const char *s), const char *what, char **ret) {
        const char *s;

        if (get_string(d, v, what, &s) < 0)
                return -EINVAL;
        if (!valid(s))
                return expected(d, v, what);
        free(*ret);
        *ret = xstrdup(s);
        return 0;
}

static int decode_unit_name(Decoder *d, const json_t *v, void *data) {
        return get_valid_string(d, v, unit_name_is_valid, "a unit name (1-63 characters of a-z, 0-9 and -)", data);
}

static int field_unit_ref(Decoder *d, const json_t *v, void *data) {
        return decode_unit_name(d, v, &((UnitRef *) data)->name);
}

static int strv_item(Decoder *d, const json_t *item, size_t i, void *data) {
        const char *s;

        if (get_string(d, item, "a string", &s) < 0)
                return -EINVAL;
        strv_push(data, xstrdup(s));
        return 0;
}

/* A list of at least one string, into a new strv. */
static int get_strv(Decoder *d, const json_t *v, const char *what, char ***ret) {
        _cleanup_strv_free_ char **l = xnew0(char *, 1);
        int r;

        r = decode_list(d, v, 1, SIZE_MAX, what, strv_item, &l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* A program and its arguments: at least one item, the first not empty. */
static int field_command(Decoder *d, const json_t *v, void *data) {
        _cleanup_strv_free_ char **l = NULL;
        char ***p = data;

        if (get_strv(d, v, "a list of strings (the program and its arguments)", &l) < 0)
                return -EINVAL;
        if (!l[0][0])
                return decode_error(d, "the program to run (the first item) is empty");
        strv_free(*p);
        *p = TAKE_PTR(l);
        return 0;
}

/* Arguments: at least one item, any of them may be empty. */
static int field_args(Decoder *d, const json_t *v, void *data) {
        _cleanup_strv_free_ char **l = NULL;
        char ***p = data;

        if (get_strv(d, v, "a list of strings (the arguments)", &l) < 0)
                return -EINVAL;
        strv_free(*p);
        *p = TAKE_PTR(l);
        return 0;
}

static json_t *strv_to_json(char *const *l) {
        json_t *a = json_array();
        STRV_FOREACH(s, l) {
                json_array_append_new(a, json_string(*s));
        }
        return a;
}

static void set_duration(json_t *o, const char *key, usec_t t) {
        _cleanup_free_ char *s = format_duration(t);
        json_object_set_new(o, key, json_string(s));
}

/* ---- what the unit is: name, description, isolation, image ---- */

static json_t *layer_to_json(const Layer *l) {
        json_t *o = json_object();

        json_object_set_new(o, layer_type_to_string(l->type), json_string(l->path));
        if (l->type == LAYER_OCI && l->ref)
                json_object_set_new(o, "ref", json_string(l->ref));
        if (l->type == LAYER_REGISTRY)
                json_object_set_new(o, "tls_verify", json_boolean(l->tls_verify));
        return o;
}

static void identity_to_json(const UnitSpec *u, json_t *o) {
        json_t *layers = json_array();

        json_object_set_new(o, "name", json_string(u->name));
        json_object_set_new(o, "description", json_string(u->description));
        json_object_set_new(o, "isolation", json_string(isolation_to_string(u->isolation)));
        for (size_t i = 0; i < u->n_layers; i++)
                json_array_append_new(layers, layer_to_json(&u->layers[i]));
        json_object_set_new(o, "image",
                            json_pack("{s:o, s:s}", "layers", layers, "pull", pull_policy_to_string(u->pull)));
}

static int decode_layer_path(Decoder *d, const json_t *v, void *data) {
        return get_host_path(d, v, "an absolute path", &((Layer *) data)->path);
}

static int decode_layer_tar(Decoder *d, const json_t *v, void *data) {
        const char *what = "the absolute path of a *.tar, *.tar.gz, *.tgz or *.tar.zst archive";
        Layer *l = data;

        if (get_host_path(d, v, what, &l->path) < 0)
                return -EINVAL;
        if (!tar_layer_name_is_valid(l->path))
                return expected(d, v, what);
        return 0;
}

static int decode_layer_registry(Decoder *d, const json_t *v, void *data) {
        const char *what = "a registry reference HOST[:PORT]/NAME[:TAG][@sha256:DIGEST]";
        const char *s, *reason = NULL;
        Layer *l = data;

        if (get_string(d, v, what, &s) < 0)
                return -EINVAL;
        if (parse_registry_reference(s, &reason) < 0) {
                _cleanup_free_ char *found = describe(v);
                return decode_error(d, "expected %s, found %s: %s", what, found, reason);
        }
        free(l->path);
        l->path = xstrdup(s);
        return 0;
}

static int decode_layer_ref(Decoder *d, const json_t *v, void *data) {
        return get_valid_string(d, v, oci_ref_name_is_valid,
                                "an image's name in the layout (its org.opencontainers.image.ref.name)",
                                &((Layer *) data)->ref);
}

static int layer_item(Decoder *d, const json_t *item, size_t i, void *data) {
        static const JsonField fields[] = {
                {"dir", decode_layer_path, 0, true},
                {"tar", decode_layer_tar, 0, true},
                {"oci", decode_layer_path, 0, true},
                {"registry", decode_layer_registry, 0, true},
                {"ref", decode_layer_ref, 0, true},
                {"tls_verify", field_bool, offsetof(Layer, tls_verify), true},
                {},
        };
        const char *what = "a layer: {\"dir\": PATH}, {\"tar\": PATH}, {\"oci\": PATH[, \"ref\": NAME]} or "
                           "{\"registry\": REF, \"tls_verify\": BOOL}";
        Layer *l = &((UnitSpec *) data)->layers[i];
        int type = _LAYER_TYPE_INVALID, r;
        const char *key;
        json_t *value;

        if (!json_is_object(item))
                return expected(d, item, what);
        json_object_foreach((json_t *) item, key, value) {
                int t = layer_type_from_string(key);
                if (t < 0)
                        continue;
                if (type >= 0)
                        return decode_error(d, "a layer has exactly one source, found both \"%s\" and \"%s\"",
                                            layer_type_to_string(type), key);
                type = t;
        }
        if (type < 0)
                return expected(d, item, what);
        l->type = (LayerType) type;
        l->tls_verify = true;
        r = decode_object(d, item, fields, l, what);
        if (r < 0)
                return r;
        /* What the encoder writes beside each source, and nothing else. */
        if (type == LAYER_REGISTRY && !json_object_get(item, "tls_verify"))
                return decode_error(d, "missing key \"tls_verify\" in %s", what);
        for (size_t k = 0; k < 2; k++) {
                const char *option = k == 0 ? "ref" : "tls_verify";
                LayerType beside = k == 0 ? LAYER_OCI : LAYER_REGISTRY;
                size_t old;

                if (!json_object_get(item, option) || type == (int) beside)
                        continue;
                old = path_push_key(d, option);
                r = decode_error(d, "only valid beside \"%s\"", layer_type_to_string(beside));
                path_pop(d, old);
                return r;
        }
        return 0;
}

static int decode_layers(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;

        if (!json_is_array(v))
                return expected(d, v, "a list of layers, bottom first");
        if (json_array_size(v) <= UNIT_LAYERS_MAX) {
                u->layers = xnew0(Layer, json_array_size(v));
                u->n_layers = json_array_size(v);
        }
        return decode_list(d, v, 1, UNIT_LAYERS_MAX, "a list of layers, bottom first", layer_item, u);
}

static int decode_image(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"layers", decode_layers, 0, false},
                {"pull", decode_pull_policy, offsetof(UnitSpec, pull), false},
                {},
        };
        return decode_object(d, v, fields, data, "the image");
}

/* ---- the process: command, env, user, working_dir, hostname ---- */

static void process_to_json(const UnitSpec *u, json_t *o) {
        json_t *env = json_object();

        if (u->command)
                json_object_set_new(o, "command", strv_to_json(u->command));
        if (u->args)
                json_object_set_new(o, "args", strv_to_json(u->args));
        STRV_FOREACH(e, u->env) {
                const char *eq = strchr(*e, '=');
                _cleanup_free_ char *k = xstrndup(*e, (size_t) (eq - *e));
                json_object_set_new(env, k, json_string(eq + 1));
        }
        json_object_set_new(o, "env", env);
        /* Left out when the unit leaves them to its image (a run spec always has them). */
        if (u->user)
                json_object_set_new(o, "user", json_string(u->user));
        if (u->working_dir)
                json_object_set_new(o, "working_dir", json_string(u->working_dir));
        json_object_set_new(o, "hostname", json_string(u->hostname));
}

/* By name, as the unit parser sorts them: "A=1" before "A1=2", although '1' sorts before '='. */
static int env_compare(const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;
        size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
        int r = strncmp(x, y, MIN(nx, ny));
        return r != 0 ? r : nx < ny ? -1 : nx > ny ? 1 : 0;
}

static int decode_env(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;
        const char *key, *s;
        json_t *value;

        if (!json_is_object(v))
                return expected(d, v, "an object of variable names to values");
        json_object_foreach((json_t *) v, key, value) {
                size_t old = path_push_key(d, key);
                int r = !env_name_is_valid(key)
                                ? decode_error(d, "not a variable name (letters, digits and _, not starting "
                                                  "with a digit)")
                                : get_string(d, value, "a string", &s);
                path_pop(d, old);
                if (r < 0)
                        return r;
                strv_push(&u->env, xasprintf("%s=%s", key, s));
        }
        qsort_safe(u->env, strv_length(u->env), sizeof(char *), env_compare);
        return 0;
}

static int decode_user(Decoder *d, const json_t *v, void *data) {
        return get_valid_string(d, v, user_is_valid, "a user: uid, uid:gid, name or name:group", data);
}

static int decode_container_path(Decoder *d, const json_t *v, void *data) {
        const char *what = "an absolute path inside the container, without \"..\"";
        char **p = data;
        const char *s;

        if (get_string(d, v, what, &s) < 0)
                return -EINVAL;
        if (!path_is_absolute(s) || path_has_dotdot(s))
                return expected(d, v, what);
        free(*p);
        *p = path_simplify(xstrdup(s));
        return 0;
}

static int decode_hostname(Decoder *d, const json_t *v, void *data) {
        return get_valid_string(d, v, hostname_is_valid,
                                "a host name (labels of letters, digits and inner -, at most 64 characters)", data);
}

/* ---- the network: network, ports ---- */

static void network_to_json(const UnitSpec *u, json_t *o) {
        json_t *ports = json_array();

        /* With share.network the unit has no network of its own to describe. */
        if (!u->share.network.name)
                json_object_set_new(o, "network", json_string(network_mode_to_string(u->network)));
        for (size_t i = 0; i < u->n_ports; i++) {
                _cleanup_free_ char *p = format_port(&u->ports[i]);
                json_array_append_new(ports, json_string(p));
        }
        json_object_set_new(o, "ports", ports);
        /* Only where the unit file may say it (network: bridge of its own). */
        if (!u->share.network.name && u->network == NETWORK_BRIDGE)
                json_object_set_new(o, "outbound", json_boolean(u->outbound));
}

static int decode_network(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;
        int r = decode_network_mode(d, v, &u->network);

        if (r >= 0)
                u->network_explicit = true;
        return r;
}

static int port_item(Decoder *d, const json_t *item, size_t i, void *data) {
        const char *what = "a port: [ip:]host:container/tcp|udp";
        UnitSpec *u = data;
        const char *s, *reason = NULL;

        if (get_string(d, item, what, &s) < 0)
                return -EINVAL;
        if (parse_port_spec(s, &u->ports[i], &reason) < 0)
                return expected(d, item, reason ?: what);
        return 0;
}

static int decode_ports(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;

        if (json_is_array(v) && json_array_size(v) <= UNIT_PORTS_MAX) {
                u->ports = xnew0(PortSpec, json_array_size(v));
                u->n_ports = json_array_size(v);
        }
        return decode_list(d, v, 0, UNIT_PORTS_MAX, "a list of ports", port_item, u);
}

/* ---- limits: resources, rlimits ---- */

static json_t *rlimit_value_to_json(uint64_t v) {
        return v == UNIT_RLIMIT_INFINITY ? json_string("unlimited") : json_integer((json_int_t) v);
}

static void limits_to_json(const UnitSpec *u, json_t *o) {
        json_t *res = json_object(), *rlimits = json_object();

        if (u->resources.memory)
                json_object_set_new(res, "memory", json_integer((json_int_t) u->resources.memory));
        if (u->resources.cpus_milli)
                json_object_set_new(res, "cpus", json_real(u->resources.cpus_milli / 1000.0));
        if (u->resources.pids)
                json_object_set_new(res, "pids", json_integer((json_int_t) u->resources.pids));
        if (u->resources.io_weight)
                json_object_set_new(res, "io_weight", json_integer(u->resources.io_weight));
        json_object_set_new(o, "resources", res);

        /* Only what the unit sets: the defaults are the host's (runtime/rlimits.h), and a unit
         * without rlimits keeps the hash it had before there were any. */
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                if (UNIT_SPEC_RLIMIT(u, i)->set)
                        json_object_set_new(rlimits, rlimit_name_to_string(i),
                                            json_pack("{s:o, s:o}", "soft", rlimit_value_to_json(u->rlimits[i].soft),
                                                      "hard", rlimit_value_to_json(u->rlimits[i].hard)));
        if (json_object_size(rlimits) > 0)
                json_object_set_new(o, "rlimits", rlimits);
        else
                json_decref(rlimits);
}

static int decode_cpus(Decoder *d, const json_t *v, void *data) {
        char buf[64];
        const char *reason = NULL;

        /* Through the unit file's spelling, as the encoder's %.10g prints it: the same limits,
         * and 0.1 is 100 thousandths, not 99.99999. */
        if (!json_is_number(v))
                return expected(d, v, "a number of CPUs like 0.5 or 2");
        snprintf(buf, sizeof(buf), "%.10g", json_number_value(v));
        if (parse_cpus(buf, data, &reason) < 0)
                return expected(d, v, reason ?: "a number of CPUs like 0.5 or 2");
        return 0;
}

static int decode_resources(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"memory", decode_memory, offsetof(UnitSpec, resources.memory), true},
                {"cpus", decode_cpus, offsetof(UnitSpec, resources.cpus_milli), true},
                {"pids", decode_pids, offsetof(UnitSpec, resources.pids), true},
                {"io_weight", decode_io_weight, offsetof(UnitSpec, resources.io_weight), true},
                {},
        };
        return decode_object(d, v, fields, data, "the resources");
}

static int decode_rlimit_value(Decoder *d, const json_t *v, void *data) {
        if (json_is_string(v) && streq(json_string_value(v), "unlimited")) {
                *(uint64_t *) data = UNIT_RLIMIT_INFINITY;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return expected(d, v, "an integer >= 0 or \"unlimited\"");
        *(uint64_t *) data = (uint64_t) json_integer_value(v);
        return 0;
}

static int decode_rlimits(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"soft", decode_rlimit_value, offsetof(UnitRlimit, soft), false},
                {"hard", decode_rlimit_value, offsetof(UnitRlimit, hard), false},
                {},
        };
        UnitSpec *u = data;
        const char *key;
        json_t *value;

        if (!json_is_object(v))
                return expected(d, v, "an object of resource names (nofile, nproc, ...) to limits");
        json_object_foreach((json_t *) v, key, value) {
                int i = rlimit_name_from_string(key);
                UnitRlimit l = {.set = true};
                size_t old = path_push_key(d, key);
                int r = i < 0 ? decode_error(d, "not a resource (nofile, nproc, core, ...)")
                              : decode_object(d, value, fields, &l, "an object with \"soft\" and \"hard\"");

                if (r >= 0 && l.soft > l.hard) {
                        _cleanup_free_ char *s = format_rlimit(l.soft), *h = format_rlimit(l.hard);
                        r = decode_error(d, "the soft limit (%s) is above the hard limit (%s)", s, h);
                }
                path_pop(d, old);
                if (r < 0)
                        return r;
                if (!u->rlimits)
                        u->rlimits = xnew0(UnitRlimit, _UNIT_RLIMIT_MAX);
                u->rlimits[i] = l;
        }
        return 0;
}

/* ---- mounts ---- */

static json_t *mounts_to_json(const UnitSpec *u) {
        json_t *mounts = json_array();

        for (size_t i = 0; i < u->n_mounts; i++) {
                const MountSpec *m = &u->mounts[i];
                json_t *j = json_pack("{s:s, s:s}", "type", mount_type_to_string(m->type), "target", m->target);
                if (m->type == MOUNT_BIND) {
                        json_object_set_new(j, "source", json_string(m->source));
                        json_object_set_new(j, "read_only", json_boolean(m->read_only));
                } else if (m->type == MOUNT_VOLUME) {
                        json_object_set_new(j, "name", json_string(m->name));
                        json_object_set_new(j, "read_only", json_boolean(m->read_only));
                } else {
                        _cleanup_free_ char *mode = xasprintf("%04o", (unsigned) m->mode);
                        if (m->size)
                                json_object_set_new(j, "size", json_integer((json_int_t) m->size));
                        json_object_set_new(j, "mode", json_string(mode));
                }
                json_array_append_new(mounts, j);
        }
        return mounts;
}

static int decode_nothing(Decoder *d, const json_t *v, void *data) {
        return 0; /* a key its object's decoder has read already */
}

static int decode_bind_source(Decoder *d, const json_t *v, void *data) {
        char **p = data;
        const char *why;

        if (get_host_path(d, v, "an absolute host path", p) < 0)
                return -EINVAL;
        why = bind_source_refusal(*p);
        if (why)
                return decode_error(d, "%s: %s", *p, why);
        return 0;
}

static int decode_mount_mode(Decoder *d, const json_t *v, void *data) {
        const char *s;

        if (get_string(d, v, "an octal mode like \"1777\"", &s) < 0 || parse_mode(s, data) < 0)
                return expected(d, v, "an octal mode like \"1777\"");
        return 0;
}

static int decode_volume_name(Decoder *d, const json_t *v, void *data) {
        char **p = data;
        const char *s;

        if (get_string(d, v, "a volume name", &s) < 0 || !volume_name_is_valid(s))
                return expected(d, v, "a volume name (lowercase letters, digits, '-', '_', '.', at most 64)");
        free(*p);
        *p = xstrdup(s);
        return 0;
}

static int mount_item(Decoder *d, const json_t *item, size_t i, void *data) {
        static const JsonField bind_fields[] = {
                {"type", decode_nothing, 0, false},
                {"source", decode_bind_source, offsetof(MountSpec, source), false},
                {"target", decode_container_path, offsetof(MountSpec, target), false},
                {"read_only", field_bool, offsetof(MountSpec, read_only), false},
                {},
        };
        static const JsonField tmpfs_fields[] = {
                {"type", decode_nothing, 0, false},
                {"target", decode_container_path, offsetof(MountSpec, target), false},
                {"size", decode_mount_size, offsetof(MountSpec, size), true},
                {"mode", decode_mount_mode, offsetof(MountSpec, mode), false},
                {},
        };
        static const JsonField volume_fields[] = {
                {"type", decode_nothing, 0, false},
                {"name", decode_volume_name, offsetof(MountSpec, name), false},
                {"target", decode_container_path, offsetof(MountSpec, target), false},
                {"read_only", field_bool, offsetof(MountSpec, read_only), false},
                {},
        };
        static const JsonField *const fields_by_type[_MOUNT_TYPE_MAX] = {
                [MOUNT_BIND] = bind_fields,
                [MOUNT_TMPFS] = tmpfs_fields,
                [MOUNT_VOLUME] = volume_fields,
        };
        const char *what = "a mount: {type: bind, source, target, read_only}, {type: tmpfs, target, mode} or {type: "
                           "volume, name, target, read_only}";
        MountSpec *m = &((UnitSpec *) data)->mounts[i];
        const json_t *type = json_object_get(item, "type");
        size_t old;
        int r;

        if (!json_is_object(item))
                return expected(d, item, what);
        if (!type)
                return decode_error(d, "missing key \"type\" in %s", what);
        old = path_push_key(d, "type");
        r = decode_mount_type(d, type, &m->type);
        path_pop(d, old);
        if (r < 0)
                return r;
        return decode_object(d, item, fields_by_type[m->type], m, what);
}

static int decode_mounts(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;

        if (json_is_array(v) && json_array_size(v) <= UNIT_MOUNTS_MAX) {
                u->mounts = xnew0(MountSpec, json_array_size(v));
                u->n_mounts = json_array_size(v);
        }
        return decode_list(d, v, 0, UNIT_MOUNTS_MAX, "a list of mounts", mount_item, u);
}

/* ---- security ---- */

static json_t *caps_to_json(uint64_t mask, bool all) {
        json_t *a = json_array();
        if (all) {
                json_array_append_new(a, json_string("ALL"));
                return a;
        }
        for (unsigned c = 0; c < UNIT_CAPABILITY_BITS; c++)
                if (mask & (UINT64_C(1) << c)) {
                        _cleanup_free_ char *n = format_capability(c);
                        json_array_append_new(a, json_string(n));
                }
        return a;
}

static json_t *security_to_json(const UnitSpec *u) {
        json_t *sec = json_object();

        json_object_set_new(sec, "capabilities",
                            json_pack("{s:o, s:o}", "drop",
                                      caps_to_json(u->security.cap_drop, u->security.cap_drop_all), "add",
                                      caps_to_json(u->security.cap_add, u->security.cap_add_all)));
        json_object_set_new(sec, "seccomp",
                            json_string(u->security.seccomp == SECCOMP_PROFILE
                                                ? u->security.seccomp_profile
                                                : seccomp_mode_to_string(u->security.seccomp)));
        json_object_set_new(sec, "no_new_privileges", json_boolean(u->security.no_new_privileges));
        json_object_set_new(sec, "read_only_rootfs", json_boolean(u->security.read_only_rootfs));
        json_object_set_new(sec, "user_namespace",
                            u->security.user_namespace == USER_NAMESPACE_AUTO ? json_string("auto") : json_false());
        return sec;
}

typedef struct CapSet {
        uint64_t mask;
        bool all;
} CapSet;

static int cap_item(Decoder *d, const json_t *item, size_t i, void *data) {
        const char *what = "a capability name like NET_BIND_SERVICE, or ALL";
        CapSet *set = data;
        const char *s;
        unsigned cap;

        if (get_string(d, item, what, &s) < 0)
                return -EINVAL;
        if (strcasecmp(s, "ALL") == 0)
                set->all = true;
        else if (parse_capability(s, &cap) >= 0)
                set->mask |= UINT64_C(1) << cap;
        else
                return expected(d, item, what);
        return 0;
}

static int decode_cap_list(Decoder *d, const json_t *v, void *data) {
        return decode_list(d, v, 0, UNIT_CAPS_LIST_MAX, "a list of capability names", cap_item, data);
}

static int decode_capabilities(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"drop", decode_cap_list, 0, false},
                {"add", decode_cap_list, sizeof(CapSet), false},
                {},
        };
        UnitSpec *u = data;
        CapSet sets[2] = {};
        int r = decode_object(d, v, fields, sets, "an object with \"drop\" and \"add\" lists");

        if (r < 0)
                return r;
        u->security.cap_drop = sets[0].mask;
        u->security.cap_drop_all = sets[0].all;
        u->security.cap_add = sets[1].mask;
        u->security.cap_add_all = sets[1].all;
        return 0;
}

static int decode_seccomp(Decoder *d, const json_t *v, void *data) {
        const char *what = "default, unconfined or the absolute path of a profile";
        UnitSpec *u = data;
        const char *s;

        if (get_string(d, v, what, &s) < 0)
                return -EINVAL;
        if (streq(s, "default") || streq(s, "unconfined")) {
                u->security.seccomp = streq(s, "default") ? SECCOMP_DEFAULT : SECCOMP_UNCONFINED;
                return 0;
        }
        if (get_host_path(d, v, what, &u->security.seccomp_profile) < 0)
                return -EINVAL;
        u->security.seccomp = SECCOMP_PROFILE;
        return 0;
}

static int decode_user_namespace(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;

        if (json_is_false(v))
                u->security.user_namespace = USER_NAMESPACE_NO;
        else if (json_is_string(v) && streq(json_string_value(v), "auto"))
                u->security.user_namespace = USER_NAMESPACE_AUTO;
        else
                return expected(d, v, "false or \"auto\"");
        return 0;
}

static int decode_security(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"capabilities", decode_capabilities, 0, false},
                {"seccomp", decode_seccomp, 0, false},
                {"no_new_privileges", field_bool, offsetof(UnitSpec, security.no_new_privileges), false},
                {"read_only_rootfs", field_bool, offsetof(UnitSpec, security.read_only_rootfs), false},
                {"user_namespace", decode_user_namespace, 0, false},
                {},
        };
        return decode_object(d, v, fields, data, "the security settings");
}

/* ---- relations to other units: share, requires ---- */

static void set_unit_ref(json_t *o, const char *key, const UnitRef *r) {
        if (r->name)
                json_object_set_new(o, key, json_string(r->name));
}

static void relations_to_json(const UnitSpec *u, json_t *o) {
        json_t *share = json_object(), *requires = json_array();

        set_unit_ref(share, "ipc", &u->share.ipc);
        set_unit_ref(share, "pid", &u->share.pid);
        set_unit_ref(share, "network", &u->share.network);
        json_object_set_new(o, "share", share);
        for (size_t i = 0; i < u->n_requires; i++)
                json_array_append_new(requires, json_string(u->requires[i].name));
        json_object_set_new(o, "requires", requires);
}

static int decode_share(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"ipc", field_unit_ref, offsetof(UnitSpec, share.ipc), true},
                {"pid", field_unit_ref, offsetof(UnitSpec, share.pid), true},
                {"network", field_unit_ref, offsetof(UnitSpec, share.network), true},
                {},
        };
        return decode_object(d, v, fields, data, "an object of namespaces to unit names");
}

static int requires_item(Decoder *d, const json_t *item, size_t i, void *data) {
        return field_unit_ref(d, item, &((UnitSpec *) data)->requires[i]);
}

static int decode_requires(Decoder *d, const json_t *v, void *data) {
        UnitSpec *u = data;

        if (json_is_array(v) && json_array_size(v) <= UNIT_REQUIRES_MAX) {
                u->requires = xnew0(UnitRef, json_array_size(v));
                u->n_requires = json_array_size(v);
        }
        return decode_list(d, v, 0, UNIT_REQUIRES_MAX, "a list of unit names", requires_item, u);
}

/* ---- the life cycle: restart, stop, healthcheck ---- */

static void lifecycle_to_json(const UnitSpec *u, json_t *o) {
        _cleanup_free_ char *stop_signal = format_signal(u->stop.signal);
        json_t *restart = json_object(), *stop = json_object();

        json_object_set_new(restart, "policy", json_string(restart_policy_to_string(u->restart.policy)));
        set_duration(restart, "delay", u->restart.delay);
        set_duration(restart, "max_delay", u->restart.max_delay);
        json_object_set_new(restart, "burst", json_integer(u->restart.burst));
        set_duration(restart, "interval", u->restart.interval);
        json_object_set_new(o, "restart", restart);

        json_object_set_new(stop, "signal", json_string(stop_signal));
        set_duration(stop, "timeout", u->stop.timeout);
        json_object_set_new(o, "stop", stop);

        if (u->healthcheck.command) {
                json_t *h = json_object();
                json_object_set_new(h, "command", strv_to_json(u->healthcheck.command));
                set_duration(h, "interval", u->healthcheck.interval);
                set_duration(h, "timeout", u->healthcheck.timeout);
                json_object_set_new(h, "retries", json_integer(u->healthcheck.retries));
                set_duration(h, "start_period", u->healthcheck.start_period);
                json_object_set_new(h, "on_failure", json_string(health_action_to_string(u->healthcheck.on_failure)));
                json_object_set_new(o, "healthcheck", h);
        }
}

static int decode_restart(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"policy", decode_restart_policy, offsetof(UnitSpec, restart.policy), false},
                {"delay", field_duration, offsetof(UnitSpec, restart.delay), false},
                {"max_delay", field_duration, offsetof(UnitSpec, restart.max_delay), false},
                {"burst", decode_burst, offsetof(UnitSpec, restart.burst), false},
                {"interval", field_positive_duration, offsetof(UnitSpec, restart.interval), false},
                {},
        };
        return decode_object(d, v, fields, data, "the restart settings");
}

static int decode_stop_signal(Decoder *d, const json_t *v, void *data) {
        const char *s;

        if (get_string(d, v, "a signal name like SIGTERM", &s) < 0 || parse_signal(s, data) < 0)
                return expected(d, v, "a signal name like SIGTERM, SIGINT or SIGRTMIN+3");
        return 0;
}

static int decode_stop(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"signal", decode_stop_signal, offsetof(UnitSpec, stop.signal), false},
                {"timeout", field_duration, offsetof(UnitSpec, stop.timeout), false},
                {},
        };
        return decode_object(d, v, fields, data, "an object with \"signal\" and \"timeout\"");
}

static int decode_healthcheck(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"command", field_command, offsetof(UnitSpec, healthcheck.command), false},
                {"interval", field_positive_duration, offsetof(UnitSpec, healthcheck.interval), false},
                {"timeout", field_positive_duration, offsetof(UnitSpec, healthcheck.timeout), false},
                {"retries", decode_retries, offsetof(UnitSpec, healthcheck.retries), false},
                {"start_period", field_duration, offsetof(UnitSpec, healthcheck.start_period), false},
                {"on_failure", decode_health_action, offsetof(UnitSpec, healthcheck.on_failure), false},
                {},
        };
        return decode_object(d, v, fields, data, "the health check");
}

/* ---- the VM ---- */

static json_t *vm_to_json(const UnitSpec *u) {
        return json_pack("{s:s, s:s, s:s}", "kernel", u->vm.kernel ? u->vm.kernel : "default", "machine",
                         vm_machine_to_string(u->vm.machine), "accel", vm_accel_to_string(u->vm.accel));
}

static int decode_vm_kernel(Decoder *d, const json_t *v, void *data) {
        const char *what = "default or the absolute path of a kernel image";

        if (json_is_string(v) && streq(json_string_value(v), "default")) {
                *(char **) data = (free(*(char **) data), NULL);
                return 0;
        }
        return get_host_path(d, v, what, data);
}

static int decode_vm(Decoder *d, const json_t *v, void *data) {
        static const JsonField fields[] = {
                {"kernel", decode_vm_kernel, offsetof(UnitSpec, vm.kernel), false},
                {"machine", decode_vm_machine, offsetof(UnitSpec, vm.machine), false},
                {"accel", decode_vm_accel, offsetof(UnitSpec, vm.accel), false},
                {},
        };
        return decode_object(d, v, fields, data, "the virtual machine settings");
}

/* ---- the unit ---- */

json_t *unit_spec_to_json(const UnitSpec *u) {
        json_t *o = json_object();

        identity_to_json(u, o);
        process_to_json(u, o);
        network_to_json(u, o);
        limits_to_json(u, o);
        json_object_set_new(o, "mounts", mounts_to_json(u));
        json_object_set_new(o, "security", security_to_json(u));
        relations_to_json(u, o);
        lifecycle_to_json(u, o);
        json_object_set_new(o, "vm", vm_to_json(u));
        return o;
}

static const JsonField unit_fields[] = {
        {"name", decode_unit_name, offsetof(UnitSpec, name), false},
        {"description", field_string, offsetof(UnitSpec, description), false},
        {"isolation", decode_isolation, offsetof(UnitSpec, isolation), false},
        {"image", decode_image, 0, false},
        {"command", field_command, offsetof(UnitSpec, command), true}, /* absent: the image's */
        {"args", field_args, offsetof(UnitSpec, args), true},          /* absent: the image's Cmd */
        {"env", decode_env, 0, false},
        /* absent: the image's, else "0" and "/" (image_apply_defaults()) */
        {"user", decode_user, offsetof(UnitSpec, user), true},
        {"working_dir", decode_container_path, offsetof(UnitSpec, working_dir), true},
        {"hostname", decode_hostname, offsetof(UnitSpec, hostname), false},
        {"network", decode_network, 0, true}, /* absent with share.network */
        {"ports", decode_ports, 0, false},
        {"outbound", field_bool, offsetof(UnitSpec, outbound), true}, /* absent: written before it existed */
        {"resources", decode_resources, 0, false},
        {"rlimits", decode_rlimits, 0, true}, /* absent when the unit sets none */
        {"mounts", decode_mounts, 0, false},
        {"security", decode_security, 0, false},
        {"share", decode_share, 0, false},
        {"restart", decode_restart, 0, false},
        {"stop", decode_stop, 0, false},
        {"requires", decode_requires, 0, false},
        {"healthcheck", decode_healthcheck, 0, true}, /* absent without a health check */
        {"vm", decode_vm, 0, false},
        {},
};

int unit_spec_from_json(const json_t *j, UnitSpec **ret, SupError **ret_error) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_spec_new();
        Decoder d = {.error = ret_error};
        int r;

        r = decode_object(&d, j, unit_fields, u, "a unit's canonical JSON object");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

static void source_pos_copy(SourcePos *dst, const SourcePos *src) {
        source_pos_done(dst);
        *dst = (SourcePos){.line = src->line, .column = src->column, .path = src->path ? xstrdup(src->path) : NULL};
}

UnitSpec *unit_spec_clone(const UnitSpec *u) {
        json_t *j = unit_spec_to_json(u);
        UnitSpec *copy = NULL;

        if (unit_spec_from_json(j, &copy, NULL) < 0)
                copy = NULL;
        json_decref(j);
        if (!copy)
                return NULL;
        /* What the canonical form leaves out: where things stood in the unit file, and which. */
        copy->source_file = u->source_file ? xstrdup(u->source_file) : NULL;
        source_pos_copy(&copy->name_pos, &u->name_pos);
        for (size_t i = 0; i < u->n_ports; i++)
                source_pos_copy(&copy->ports[i].pos, &u->ports[i].pos);
        for (size_t i = 0; i < u->n_requires; i++)
                source_pos_copy(&copy->requires[i].pos, &u->requires[i].pos);
        source_pos_copy(&copy->share.ipc.pos, &u->share.ipc.pos);
        source_pos_copy(&copy->share.pid.pos, &u->share.pid.pos);
        source_pos_copy(&copy->share.network.pos, &u->share.network.pos);
        return copy;
}
