/* SPDX-License-Identifier: MIT */
#include "unit-parse.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "alloc.h"
#include "fileio.h"
#include "path-util.h"
#include "seccomp-profile.h"
#include "string-util.h"
#include "unit-value.h"
#include "unit-walk.h"
#include "yaml-tree.h"

/* ---- name, description, isolation ---- */

static void parse_name(WalkCtx *c, const YNode *n, void *data) {
        UnitRef r = {};
        if (!walk_get_unit_ref(c, n, &r))
                return;
        free(c->u->name);
        c->u->name = r.name;
        source_pos_done(&c->u->name_pos);
        c->u->name_pos = r.pos;
}

static void parse_description(WalkCtx *c, const YNode *n, void *data) {
        const char *s = walk_get_string(c, n, "a string");
        if (s) {
                free(c->u->description);
                c->u->description = xstrdup(s);
        }
}

static void parse_isolation(WalkCtx *c, const YNode *n, void *data) {
        int v = WALK_GET_ENUM(c, n, isolation, _ISOLATION_MAX);
        if (v >= 0)
                c->u->isolation = (Isolation) v;
}

/* ---- image ---- */

static bool oci_layout_present(const char *path) {
        _cleanup_free_ char *marker = path_join(path, "oci-layout");
        return access(marker, F_OK) >= 0;
}

static void set_layer(WalkCtx *c, const YNode *n, Layer *l, LayerType type) {
        static const mode_t want[_LAYER_TYPE_MAX] = {
                [LAYER_DIR] = S_IFDIR,
                [LAYER_TAR] = S_IFREG,
                [LAYER_OCI] = S_IFDIR,
        };
        char *path = walk_get_host_path(c, n);
        unsigned before = c->errors;

        l->type = type; /* even if the path is wrong: the unit's other checks go by the kind */
        if (!path)
                return;
        free(l->path);
        l->path = path;
        walk_check_source(c, n, "layer source", path, want[type]);
        if (type == LAYER_OCI && (c->flags & UNIT_PARSE_CHECK_SOURCES) && c->errors == before) {
                walk_record_source(c, UNIT_SOURCE_OCI_LAYOUT, path, 0);
                if (!oci_layout_present(path))
                        walk_error_at(c, n, "layer source %s is not an OCI image layout (it has no oci-layout file)",
                                      path);
        }
}

static void parse_layer_dir(WalkCtx *c, const YNode *n, void *data) {
        set_layer(c, n, data, LAYER_DIR);
}

static void parse_layer_tar(WalkCtx *c, const YNode *n, void *data) {
        Layer *l = data;

        set_layer(c, n, l, LAYER_TAR);
        if (l->path && !tar_layer_name_is_valid(l->path)) {
                _cleanup_free_ char *q = string_quote(n->value, n->length, UNIT_PATH_QUOTE_MAX);
                walk_error_at(c, n,
                              "expected a tar archive named *.tar, *.tar.gz, *.tgz or *.tar.zst (the suffix says how "
                              "it is compressed), found %s",
                              q);
        }
}

static void parse_layer_oci(WalkCtx *c, const YNode *n, void *data) {
        set_layer(c, n, data, LAYER_OCI);
}

static void parse_layer_registry(WalkCtx *c, const YNode *n, void *data) {
        const char *expected = "a registry reference HOST[:PORT]/NAME[:TAG][@sha256:DIGEST]";
        const char *s = walk_get_nonempty_string(c, n, expected), *reason = NULL;
        Layer *l = data;

        l->type = LAYER_REGISTRY;
        if (!s)
                return;
        if (parse_registry_reference(s, &reason) < 0) {
                walk_error_expected(c, n, expected, reason);
                return;
        }
        free(l->path);
        l->path = xstrdup(s);
}

static void parse_layer_ref(WalkCtx *c, const YNode *n, void *data) {
        const char *expected = "an image's name in the layout (its org.opencontainers.image.ref.name)";
        const char *s = walk_get_nonempty_string(c, n, expected);
        Layer *l = data;

        if (!s)
                return;
        if (!oci_ref_name_is_valid(s)) {
                walk_error_expected(c, n, expected,
                                    "a name is letters and digits, joined by one of - . _ : @ + or --, in parts "
                                    "separated by /");
                return;
        }
        free(l->ref);
        l->ref = xstrdup(s);
}

/* Which source key a layer's option belongs beside. */
static const struct {
        const char *key;
        LayerType type;
} layer_options[] = {
        {"ref", LAYER_OCI},
        {"tls_verify", LAYER_REGISTRY},
};

static void layer_item(WalkCtx *c, const YNode *item, size_t i, void *data) {
        static const WalkField fields[] = {
                {"dir", parse_layer_dir, 0, false},
                {"tar", parse_layer_tar, 0, false},
                {"oci", parse_layer_oci, 0, false},
                {"registry", parse_layer_registry, 0, false},
                {"ref", parse_layer_ref, 0, false},
                {"tls_verify", walk_field_bool, offsetof(Layer, tls_verify), false},
                {},
        };
        static const char *const expected =
                "a layer: {dir: PATH}, {tar: PATH}, {oci: PATH[, ref: NAME]} or {registry: REF[, tls_verify: BOOL]}";
        const YPair *seen[ELEMENTSOF(fields)];
        const YPair *first = NULL;
        Layer *l = &c->u->layers[i];
        size_t old;

        l->tls_verify = true;
        if (!walk_parse_mapping(c, item, fields, l, seen, expected))
                return;
        for (size_t f = 0; fields[f].key; f++) {
                if (!seen[f] || layer_type_from_string(fields[f].key) < 0)
                        continue; /* not a source: an option of one */
                if (first) {
                        old = walk_path_push_key(c, fields[f].key);
                        walk_error_at(c, seen[f]->key, "a layer has exactly one source, found both \"%s\" and \"%s\"",
                                      first->key->value, seen[f]->key->value);
                        walk_path_pop(c, old);
                } else
                        first = seen[f];
        }
        if (!first) {
                if (item->n_pairs == 0)
                        walk_error_at(c, item, "expected %s, found an empty mapping", expected);
                else
                        walk_error_at(c, item, "a layer needs a source: dir, tar, oci or registry");
                return;
        }
        for (size_t k = 0; k < ELEMENTSOF(layer_options); k++) {
                const YPair *p = walk_field_seen(fields, seen, layer_options[k].key);
                const char *beside = layer_type_to_string(layer_options[k].type);

                if (!p || streq(first->key->value, beside))
                        continue;
                old = walk_path_push_key(c, layer_options[k].key);
                walk_error_at(c, p->key, "\"%s\" is only valid beside %s:, not beside %s:", layer_options[k].key,
                              beside, first->key->value);
                walk_path_pop(c, old);
        }
}

static void parse_layers(WalkCtx *c, const YNode *n, void *data) {
        UnitSpec *u = c->u;

        if (n->type == YNODE_SEQUENCE && n->n_items >= 1 && n->n_items <= UNIT_LAYERS_MAX) {
                u->layers = xnew0(Layer, n->n_items);
                u->n_layers = n->n_items;
        }
        walk_parse_list(c, n, 1, UNIT_LAYERS_MAX, "a list of layers, bottom first", layer_item, NULL);
}

static void parse_pull(WalkCtx *c, const YNode *n, void *data) {
        int v = WALK_GET_ENUM(c, n, pull_policy, _PULL_POLICY_MAX);
        if (v >= 0)
                c->u->pull = (PullPolicy) v;
}

static void parse_image(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"layers", parse_layers, 0, true},
                {"pull", parse_pull, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping with \"layers\" (and \"pull\")");
}

/* ---- the process ---- */

static void parse_args(WalkCtx *c, const YNode *n, void *data) {
        _cleanup_strv_free_ char **l = NULL;
        unsigned before = c->errors;

        if (!walk_parse_list(c, n, 1, SIZE_MAX, "a list of strings (the arguments)", walk_string_list_item, &l) ||
            c->errors != before)
                return;
        strv_free(c->u->args);
        c->u->args = TAKE_PTR(l);
}

typedef struct EnvEntry {
        const YNode *key;
        char *assignment;
} EnvEntry;

static int env_entry_compare(const void *a, const void *b) {
        const EnvEntry *x = a, *y = b;
        int r = strcmp(x->key->value, y->key->value);
        if (r != 0)
                return r;
        return x->key->line != y->key->line ? (x->key->line < y->key->line ? -1 : 1)
                                            : (x->key->column < y->key->column ? -1 : 1);
}

static void parse_env(WalkCtx *c, const YNode *n, void *data) {
        UnitSpec *u = c->u;
        EnvEntry *entries = NULL;
        size_t n_entries = 0;

        if (n->type != YNODE_MAPPING) {
                walk_error_expected(c, n, "a mapping of variable names to values", NULL);
                return;
        }
        for (size_t i = 0; i < n->n_pairs; i++) {
                const YNode *key = n->pairs[i].key;
                const char *name = walk_get_string(c, key, "a variable name");
                const char *value;
                size_t old;

                if (!name)
                        continue;
                old = walk_path_push_key(c, name);
                if (!env_name_is_valid(name)) {
                        walk_error_expected(
                                c, key, "a variable name of letters, digits and _, not starting with a digit", NULL);
                        walk_path_pop(c, old);
                        continue;
                }
                value = walk_get_string(c, n->pairs[i].value, "a string");
                walk_path_pop(c, old);
                if (!value)
                        continue;
                EnvEntry *e = ARRAY_APPEND(entries, n_entries);
                e->key = key;
                e->assignment = xasprintf("%s=%s", name, value);
        }
        /* Sorted by name: the canonical order, and duplicates end up next to each other. */
        qsort_safe(entries, n_entries, sizeof(EnvEntry), env_entry_compare);
        for (size_t i = 0; i < n_entries; i++) {
                if (i > 0 && streq(entries[i].key->value, entries[i - 1].key->value)) {
                        size_t old = walk_path_push_key(c, entries[i].key->value);
                        walk_error_at(c, entries[i].key, "duplicate key \"%s\"; it is first set at line %u, column %u",
                                      entries[i].key->value, entries[i - 1].key->line, entries[i - 1].key->column);
                        walk_path_pop(c, old);
                        free(entries[i].assignment);
                        continue;
                }
                strv_push(&u->env, entries[i].assignment);
        }
        free(entries);
}

static void parse_user(WalkCtx *c, const YNode *n, void *data) {
        const char *expected = "a user: uid, uid:gid, name or name:group";
        uint64_t v;
        const char *s;

        if (n->type == YNODE_SCALAR && !n->quoted && parse_decimal(n->value, UINT32_MAX - 1, &v) == 0)
                s = n->value;
        else
                s = walk_get_string(c, n, expected);
        if (!s)
                return;
        if (!user_is_valid(s)) {
                walk_error_expected(c, n, expected, NULL);
                return;
        }
        free(c->u->user);
        c->u->user = xstrdup(s);
}

static void parse_working_dir(WalkCtx *c, const YNode *n, void *data) {
        char *p = walk_get_container_path(c, n);
        if (p) {
                free(c->u->working_dir);
                c->u->working_dir = p;
        }
}

static void parse_hostname(WalkCtx *c, const YNode *n, void *data) {
        const char *s = walk_get_string(c, n, "a host name");

        if (!s)
                return;
        if (!hostname_is_valid(s)) {
                walk_error_expected(c, n,
                                    "a host name (labels of letters, digits and inner -, separated by dots, at "
                                    "most 64 characters)",
                                    NULL);
                return;
        }
        free(c->u->hostname);
        c->u->hostname = xstrdup(s);
}

/* ---- network ---- */

static void parse_network(WalkCtx *c, const YNode *n, void *data) {
        int v = WALK_GET_ENUM(c, n, network_mode, _NETWORK_MODE_MAX);
        c->u->network_explicit = true;
        if (v >= 0)
                c->u->network = (NetworkMode) v;
}

static void port_item(WalkCtx *c, const YNode *item, size_t i, void *data) {
        const char *expected = "a port: [ip:]host:container[/tcp|udp]";
        const char *reason = NULL, *s;
        UnitSpec *u = c->u;
        PortSpec p;

        if (item->type == YNODE_SCALAR && !item->quoted && walk_plain_kind(item) &&
            streq(walk_plain_kind(item), "integer") && strchr(item->value, ':')) {
                walk_error_expected(
                        c, item, expected,
                        "unquoted, YAML 1.1 reads host:container with a container port below 60 as a base-60 "
                        "number: quote it");
                return;
        }
        s = walk_get_string(c, item, expected);
        if (!s)
                return;
        if (parse_port_spec(s, &p, &reason) < 0) {
                walk_error_expected(c, item, expected, reason);
                return;
        }
        for (size_t k = 0; k < u->n_ports; k++)
                if (port_spec_conflicts(&u->ports[k], &p)) {
                        _cleanup_free_ char *a = format_port(&p), *b = format_port(&u->ports[k]);
                        walk_error_at(c, item, "%s claims the same host port as %s (%s)", a, u->ports[k].pos.path, b);
                        return;
                }
        p.pos = walk_source_pos(c, item);
        *ARRAY_APPEND(u->ports, u->n_ports) = p;
}

static void parse_ports(WalkCtx *c, const YNode *n, void *data) {
        walk_parse_list(c, n, 0, UNIT_PORTS_MAX, "a list of ports", port_item, NULL);
}

/* ---- resources ---- */

static void parse_memory(WalkCtx *c, const YNode *n, void *data) {
        uint64_t v;

        if (!walk_get_size(c, n, &v))
                return;
        if (v < UNIT_MEMORY_MIN) {
                walk_error_at(c, n, "a memory limit of %llu bytes is below the minimum of 4M", (unsigned long long) v);
                return;
        }
        c->u->resources.memory = v;
}

static void parse_cpus_field(WalkCtx *c, const YNode *n, void *data) {
        const char *expected = "a number of CPUs like 0.5 or 2";
        const char *reason = NULL;
        uint32_t v;

        if (n->type != YNODE_SCALAR || n->quoted || walk_scalar_has_nul(n)) {
                walk_error_expected(c, n, expected, n->quoted ? "a quoted value is a string: remove the quotes" : NULL);
                return;
        }
        if (parse_cpus(n->value, &v, &reason) < 0) {
                walk_error_expected(c, n, expected, reason);
                return;
        }
        c->u->resources.cpus_milli = v;
}

static void parse_pids(WalkCtx *c, const YNode *n, void *data) {
        uint64_t v;
        if (walk_get_uint(c, n, 1, UNIT_PIDS_MAX, &v))
                c->u->resources.pids = v;
}

static void parse_io_weight(WalkCtx *c, const YNode *n, void *data) {
        uint64_t v;
        if (walk_get_uint(c, n, 1, UNIT_IO_WEIGHT_MAX, &v))
                c->u->resources.io_weight = (uint32_t) v;
}

static void parse_resources(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"memory", parse_memory, 0, false},
                {"cpus", parse_cpus_field, 0, false},
                {"pids", parse_pids, 0, false},
                {"io_weight", parse_io_weight, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping of resource limits");
}

/* ---- rlimits ---- */

/* N (as a size for the resources that count bytes), or unlimited (systemd's word: infinity). */
static bool get_rlimit_value(WalkCtx *c, const YNode *n, int resource, uint64_t *ret) {
        if (n->type == YNODE_SCALAR && !walk_scalar_has_nul(n) &&
            (streq(n->value, "unlimited") || streq(n->value, "infinity"))) {
                *ret = UNIT_RLIMIT_INFINITY;
                return true;
        }
        if (rlimit_is_bytes(resource))
                return walk_get_size(c, n, ret);
        /* JSON (the canonical form) carries signed 64-bit integers. */
        return walk_get_uint(c, n, 0, INT64_MAX, ret);
}

typedef struct RlimitPair {
        int resource;
        uint64_t soft, hard;
} RlimitPair;

static void parse_rlimit_soft(WalkCtx *c, const YNode *n, void *data) {
        RlimitPair *p = data;
        (void) get_rlimit_value(c, n, p->resource, &p->soft);
}

static void parse_rlimit_hard(WalkCtx *c, const YNode *n, void *data) {
        RlimitPair *p = data;
        (void) get_rlimit_value(c, n, p->resource, &p->hard);
}

static void parse_rlimit(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"soft", parse_rlimit_soft, 0, true},
                {"hard", parse_rlimit_hard, 0, true},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        UnitRlimit *l = data;
        RlimitPair p = {.resource = (int) (l - c->u->rlimits)};
        unsigned before = c->errors;

        if (n->type != YNODE_MAPPING) {
                /* One number is both limits, as systemd's LimitNOFILE=N. */
                if (get_rlimit_value(c, n, p.resource, &p.soft))
                        *l = (UnitRlimit){.set = true, .soft = p.soft, .hard = p.soft};
                return;
        }
        if (!walk_parse_mapping(c, n, fields, &p, seen, "a mapping with \"soft\" and \"hard\"") || c->errors != before)
                return;
        if (p.soft > p.hard) {
                _cleanup_free_ char *s = format_rlimit(p.soft), *h = format_rlimit(p.hard);
                size_t old = walk_path_push_key(c, "soft");
                walk_error_at(c, seen[0]->value, "the soft limit (%s) is above the hard limit (%s)", s, h);
                walk_path_pop(c, old);
                return;
        }
        *l = (UnitRlimit){.set = true, .soft = p.soft, .hard = p.hard};
}

static void parse_rlimits(WalkCtx *c, const YNode *n, void *data) {
        WalkField fields[_UNIT_RLIMIT_MAX + 1] = {};
        const YPair *seen[ELEMENTSOF(fields)];

        /* The names are the string table's; each field stores into its own rlimits[] slot. */
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                fields[i] = (WalkField){rlimit_name_to_string(i), parse_rlimit, (size_t) i * sizeof(UnitRlimit), false};
        if (!c->u->rlimits)
                c->u->rlimits = xnew0(UnitRlimit, _UNIT_RLIMIT_MAX);
        walk_parse_mapping(c, n, fields, c->u->rlimits, seen,
                           "a mapping of resource names (nofile, nproc, core, ...) to limits");
}

/* ---- mounts ---- */

static void parse_mount_type(WalkCtx *c, const YNode *n, void *data) {
        MountSpec *m = data;
        int v = WALK_GET_ENUM(c, n, mount_type, _MOUNT_TYPE_MAX);
        m->type = v >= 0 ? (MountType) v : _MOUNT_TYPE_INVALID;
}

static void parse_mount_source(WalkCtx *c, const YNode *n, void *data) {
        MountSpec *m = data;
        char *p = walk_get_host_path(c, n);
        if (p) {
                free(m->source);
                m->source = p;
        }
}

static void parse_mount_target(WalkCtx *c, const YNode *n, void *data) {
        MountSpec *m = data;
        char *p = walk_get_container_path(c, n);
        if (p) {
                free(m->target);
                m->target = p;
        }
}

static void parse_mount_size(WalkCtx *c, const YNode *n, void *data) {
        MountSpec *m = data;
        (void) walk_get_size(c, n, &m->size);
}

static void parse_mount_mode(WalkCtx *c, const YNode *n, void *data) {
        const char *expected = "an octal mode as a quoted string, like \"1777\" or \"0755\"";
        MountSpec *m = data;

        if (n->type != YNODE_SCALAR || !n->quoted || walk_scalar_has_nul(n) || parse_mode(n->value, &m->mode) < 0)
                walk_error_expected(c, n, expected,
                                    n->type == YNODE_SCALAR && !n->quoted
                                            ? "unquoted, YAML 1.1 reads 0755 as octal and YAML 1.2 as decimal: quote it"
                                            : NULL);
}

/* A bind source: never the host's kernel interfaces, and (with UNIT_PARSE_CHECK_SOURCES) an
 * existing path that goes through no symlink. The runtime checks again, on what it binds: this
 * is for an early error at the source's position. */
/* The host's side of a bind source that exists: 0, or 1 with *ret_why when its real path is
 * refused, or 2 when it goes through a symlink. *ret_real: its real path, if it has one. */
static int bind_source_resolve(const char *path, char **ret_real, const char **ret_why) {
        struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
        _cleanup_free_ char *real = realpath(path, NULL);
        const char *why = real ? bind_source_refusal(real) : NULL;
        int fd, r = 0;

        if (why)
                r = 1;
        else {
                fd = (int) syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
                if (fd >= 0)
                        close(fd);
                else if (errno == ELOOP)
                        r = 2;
        }
        *ret_why = why;
        *ret_real = TAKE_PTR(real);
        return r;
}

static void check_bind_source(WalkCtx *c, const YNode *n, const char *path) {
        _cleanup_free_ char *real = NULL;
        const char *why = bind_source_refusal(path);
        unsigned before = c->errors;

        if (why) {
                walk_error_at(c, n, "bind mount source %s: %s", path, why);
                return;
        }
        walk_check_source(c, n, "bind mount source", path, 0);
        if (!(c->flags & UNIT_PARSE_CHECK_SOURCES) || c->errors != before)
                return;
        walk_record_source(c, UNIT_SOURCE_BIND, path, 0);
        switch (bind_source_resolve(path, &real, &why)) {
        case 1:
                walk_error_at(c, n, "bind mount source %s is %s: %s", path, real, why);
                break;
        case 2:
                walk_error_at(
                        c, n,
                        "bind mount source %s goes through a symlink%s%s%s: name the real path (whoever can change "
                        "a link on the way could change what the container gets)",
                        path, real ? " (it resolves to " : "", real ? real : "", real ? ")" : "");
                break;
        }
}

static bool target_is_forbidden(const char *t) {
        /* The runtime builds these itself; a mount over them would undo masking and read-only
         * protection. /dev/shm and friends below /dev are fine. */
        return streq(t, "/") || streq(t, "/dev") || path_startswith_dir(t, "/proc") || path_startswith_dir(t, "/sys");
}

static void parse_mount_name(WalkCtx *c, const YNode *n, void *data) {
        MountSpec *m = data;
        const char *s = walk_get_string(c, n, "a volume name");

        if (!s)
                return;
        if (!volume_name_is_valid(s)) {
                walk_error_expected(c, n,
                                    "a volume name (lowercase letters, digits, '-', '_' and '.', the first a letter "
                                    "or a digit, at most 64 characters)",
                                    NULL);
                return;
        }
        free(m->name);
        m->name = xstrdup(s);
}

/* Which mount types take each optional key: the others refuse it at the key. */
static const struct {
        const char *key;
        unsigned types; /* 1 << MountType */
        const char *which;
} mount_key_types[] = {
        {"source", 1u << MOUNT_BIND, "bind"},   {"read_only", 1u << MOUNT_BIND | 1u << MOUNT_VOLUME, "bind and volume"},
        {"size", 1u << MOUNT_TMPFS, "tmpfs"},   {"mode", 1u << MOUNT_TMPFS, "tmpfs"},
        {"name", 1u << MOUNT_VOLUME, "volume"},
};

static void mount_item(WalkCtx *c, const YNode *item, size_t i, void *data) {
        static const WalkField fields[] = {
                {"type", parse_mount_type, 0, true},
                {"source", parse_mount_source, 0, false},
                {"target", parse_mount_target, 0, true},
                {"read_only", walk_field_bool, offsetof(MountSpec, read_only), false},
                {"size", parse_mount_size, 0, false},
                {"mode", parse_mount_mode, 0, false},
                {"name", parse_mount_name, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        UnitSpec *u = c->u;
        MountSpec *m = &u->mounts[i];
        const YPair *p;

        m->type = _MOUNT_TYPE_INVALID;
        m->mode = 01777;
        if (!walk_parse_mapping(c, item, fields, m, seen,
                                "a mount: {type: bind, source, target}, {type: tmpfs, target} or {type: volume, "
                                "name, target}"))
                return;

        if (m->type >= 0) {
                for (size_t k = 0; k < ELEMENTSOF(mount_key_types); k++)
                        if (!(mount_key_types[k].types & (1u << m->type)) &&
                            (p = walk_field_seen(fields, seen, mount_key_types[k].key))) {
                                size_t old = walk_path_push_key(c, mount_key_types[k].key);
                                walk_error_at(c, p->key, "\"%s\" is only valid for %s mounts%s", mount_key_types[k].key,
                                              mount_key_types[k].which,
                                              m->type == MOUNT_VOLUME && streq(mount_key_types[k].key, "source")
                                                      ? " (a volume is named by \"name\"; sup keeps its directory)"
                                                      : "");
                                walk_path_pop(c, old);
                        }
                if (m->type == MOUNT_BIND && !walk_field_seen(fields, seen, "source"))
                        walk_error_at(c, item, "missing required key \"source\" (the host path to bind)");
                if (m->type == MOUNT_BIND && m->source)
                        check_bind_source(c, walk_field_seen(fields, seen, "source")->value, m->source);
                if (m->type == MOUNT_VOLUME && !walk_field_seen(fields, seen, "name"))
                        walk_error_at(c, item, "missing required key \"name\" (the volume's name)");
        }
        if (m->target) {
                size_t old = walk_path_push_key(c, "target");
                p = walk_field_seen(fields, seen, "target");
                if (target_is_forbidden(m->target))
                        walk_error_at(c, p->value, "cannot mount over %s: the runtime sets it up", m->target);
                for (size_t k = 0; k < i; k++)
                        if (u->mounts[k].target && streq(u->mounts[k].target, m->target))
                                walk_error_at(c, p->value, "%s is already the target of mounts[%zu]", m->target, k);
                walk_path_pop(c, old);
        }
}

static void parse_mounts(WalkCtx *c, const YNode *n, void *data) {
        UnitSpec *u = c->u;

        if (n->type == YNODE_SEQUENCE && n->n_items <= UNIT_MOUNTS_MAX) {
                u->mounts = xnew0(MountSpec, n->n_items);
                u->n_mounts = n->n_items;
        }
        walk_parse_list(c, n, 0, UNIT_MOUNTS_MAX, "a list of mounts", mount_item, NULL);
}

/* ---- security ---- */

typedef struct CapSet {
        uint64_t *mask;
        bool *all;
} CapSet;

static void cap_item(WalkCtx *c, const YNode *item, size_t i, void *data) {
        const char *expected = "a capability name like NET_BIND_SERVICE, or ALL";
        CapSet *set = data;
        const char *s = walk_get_string(c, item, expected);
        unsigned cap;

        if (!s)
                return;
        if (strcasecmp(s, "ALL") == 0) {
                *set->all = true;
                return;
        }
        if (parse_capability(s, &cap) < 0) {
                walk_error_expected(c, item, expected, NULL);
                return;
        }
        *set->mask |= UINT64_C(1) << cap;
}

static void parse_cap_drop(WalkCtx *c, const YNode *n, void *data) {
        CapSet set = {&c->u->security.cap_drop, &c->u->security.cap_drop_all};
        walk_parse_list(c, n, 0, UNIT_CAPS_LIST_MAX, "a list of capability names", cap_item, &set);
}

static void parse_cap_add(WalkCtx *c, const YNode *n, void *data) {
        CapSet set = {&c->u->security.cap_add, &c->u->security.cap_add_all};
        walk_parse_list(c, n, 0, UNIT_CAPS_LIST_MAX, "a list of capability names", cap_item, &set);
}

static void parse_capabilities(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"drop", parse_cap_drop, 0, false},
                {"add", parse_cap_add, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        uint64_t both;

        if (!walk_parse_mapping(c, n, fields, c->u, seen, "a mapping with \"drop\" and \"add\" lists"))
                return;
        both = c->u->security.cap_add & c->u->security.cap_drop;
        if (both != 0 || (c->u->security.cap_add_all && c->u->security.cap_drop_all)) {
                unsigned cap = 0;
                _cleanup_free_ char *name = NULL;
                while (both && !(both & (UINT64_C(1) << cap)))
                        cap++;
                name = both ? format_capability(cap) : xstrdup("ALL");
                walk_error_at(c, seen[1]->value, "%s is both added and dropped; keep it in one list", name);
        }
}

static void parse_seccomp(WalkCtx *c, const YNode *n, void *data) {
        const char *s = walk_get_nonempty_string(c, n, "default, unconfined or the path of a profile");
        UnitSpec *u = c->u;
        unsigned before;

        if (!s)
                return;
        if (streq(s, "default") || streq(s, "unconfined")) {
                u->security.seccomp = streq(s, "default") ? SECCOMP_DEFAULT : SECCOMP_UNCONFINED;
                return;
        }
        free(u->security.seccomp_profile);
        u->security.seccomp_profile = path_make_absolute(s, c->dir);
        u->security.seccomp = SECCOMP_PROFILE;
        before = c->errors;
        walk_check_source(c, n, "seccomp profile", u->security.seccomp_profile, S_IFREG);
        /* The profile is part of the unit: one that will not load is refused now, with the
         * generation, rather than at the unit's start. The monitor reads it again then. */
        if ((c->flags & UNIT_PARSE_CHECK_SOURCES) && c->errors == before) {
                _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
                _cleanup_sup_error_ SupError *error = NULL;

                walk_record_source(c, UNIT_SOURCE_SECCOMP_PROFILE, u->security.seccomp_profile, 0);
                if (seccomp_profile_load(u->security.seccomp_profile, &p, &error) < 0)
                        walk_error_at(c, n, "%s", sup_error_message(error));
        }
}

static void parse_user_namespace(WalkCtx *c, const YNode *n, void *data) {
        if (n->type == YNODE_SCALAR && !n->quoted && streq(n->value, "false")) {
                c->u->security.user_namespace = USER_NAMESPACE_NO;
                return;
        }
        if (n->type == YNODE_SCALAR && streq(n->value, "auto")) {
                c->u->security.user_namespace = USER_NAMESPACE_AUTO;
                return;
        }
        walk_error_expected(c, n, "false or auto",
                            n->type == YNODE_SCALAR && !n->quoted && streq(n->value, "true")
                                    ? "sup allocates the host range itself: write auto"
                                    : NULL);
}

static void parse_security(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"capabilities", parse_capabilities, 0, false},
                {"seccomp", parse_seccomp, 0, false},
                {"no_new_privileges", walk_field_bool, UNIT_FIELD(security.no_new_privileges), false},
                {"read_only_rootfs", walk_field_bool, UNIT_FIELD(security.read_only_rootfs), false},
                {"user_namespace", parse_user_namespace, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping of security settings");
}

/* ---- share ---- */

static void parse_share(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"ipc", walk_field_unit_ref, UNIT_FIELD(share.ipc), false},
                {"pid", walk_field_unit_ref, UNIT_FIELD(share.pid), false},
                {"network", walk_field_unit_ref, UNIT_FIELD(share.network), false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping of namespaces to unit names");
}

/* ---- restart, stop ---- */

static void parse_restart_policy(WalkCtx *c, const YNode *n, void *data) {
        int v;

        /* "no" is the natural name and also YAML 1.1's false: accept it quoted only, and say so. */
        if (n->type == YNODE_SCALAR && !n->quoted && streq(n->value, "no")) {
                walk_error_expected(c, n, "one of \"no\", on-failure, always",
                                    "unquoted, YAML 1.1 reads no as false: write \"no\"");
                return;
        }
        v = WALK_GET_ENUM(c, n, restart_policy, _RESTART_POLICY_MAX);
        if (v >= 0)
                c->u->restart.policy = (RestartPolicy) v;
}

static void parse_restart_burst(WalkCtx *c, const YNode *n, void *data) {
        uint64_t v;
        if (walk_get_uint(c, n, 1, UNIT_BURST_MAX, &v))
                c->u->restart.burst = (unsigned) v;
}

static void parse_restart(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"policy", parse_restart_policy, 0, false},
                {"delay", walk_field_duration, UNIT_FIELD(restart.delay), false},
                {"max_delay", walk_field_duration, UNIT_FIELD(restart.max_delay), false},
                {"burst", parse_restart_burst, 0, false},
                {"interval", walk_field_positive_duration, UNIT_FIELD(restart.interval), false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];

        if (!walk_parse_mapping(c, n, fields, c->u, seen, "a mapping of restart settings"))
                return;
        if (c->u->restart.max_delay >= c->u->restart.delay)
                return;
        if (!seen[2]) {
                /* Only delay was raised: the default cap follows it rather than contradicting it. */
                c->u->restart.max_delay = c->u->restart.delay;
                return;
        }
        _cleanup_free_ char *a = format_duration(c->u->restart.max_delay), *b = format_duration(c->u->restart.delay);
        size_t old = walk_path_push_key(c, "max_delay");
        walk_error_at(c, seen[2]->value, "max_delay (%s) is shorter than delay (%s)", a, b);
        walk_path_pop(c, old);
}

static void parse_stop_signal(WalkCtx *c, const YNode *n, void *data) {
        const char *s = walk_get_string(c, n, "a signal name like SIGTERM");
        if (s && parse_signal(s, &c->u->stop.signal) < 0)
                walk_error_expected(c, n, "a signal name like SIGTERM, SIGINT or SIGRTMIN+3", NULL);
}

static void parse_stop(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"signal", parse_stop_signal, 0, false},
                {"timeout", walk_field_duration, UNIT_FIELD(stop.timeout), false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping with \"signal\" and \"timeout\"");
}

/* ---- requires, healthcheck, vm ---- */

static void requires_item(WalkCtx *c, const YNode *item, size_t i, void *data) {
        UnitSpec *u = c->u;
        UnitRef r = {};

        if (!walk_get_unit_ref(c, item, &r))
                return;
        for (size_t k = 0; k < u->n_requires; k++)
                if (streq(u->requires[k].name, r.name)) {
                        walk_error_at(c, item, "\"%s\" is already required at %s", r.name, u->requires[k].pos.path);
                        free(r.name);
                        source_pos_done(&r.pos);
                        return;
                }
        *ARRAY_APPEND(u->requires, u->n_requires) = r;
}

static void parse_requires(WalkCtx *c, const YNode *n, void *data) {
        walk_parse_list(c, n, 0, UNIT_REQUIRES_MAX, "a list of unit names", requires_item, NULL);
}

static void parse_health_retries(WalkCtx *c, const YNode *n, void *data) {
        uint64_t v;
        if (walk_get_uint(c, n, 1, UNIT_RETRIES_MAX, &v))
                c->u->healthcheck.retries = (unsigned) v;
}

static void parse_health_on_failure(WalkCtx *c, const YNode *n, void *data) {
        int v = WALK_GET_ENUM(c, n, health_action, _HEALTH_ACTION_MAX);
        if (v >= 0)
                c->u->healthcheck.on_failure = (HealthAction) v;
}

static void parse_healthcheck(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"command", walk_field_command, UNIT_FIELD(healthcheck.command), true},
                {"interval", walk_field_positive_duration, UNIT_FIELD(healthcheck.interval), false},
                {"timeout", walk_field_positive_duration, UNIT_FIELD(healthcheck.timeout), false},
                {"retries", parse_health_retries, 0, false},
                {"start_period", walk_field_duration, UNIT_FIELD(healthcheck.start_period), false},
                {"on_failure", parse_health_on_failure, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping with a \"command\"");
}

static void parse_vm_kernel(WalkCtx *c, const YNode *n, void *data) {
        const char *s = walk_get_nonempty_string(c, n, "default or the path of a kernel image");

        if (!s || streq(s, "default"))
                return;
        free(c->u->vm.kernel);
        c->u->vm.kernel = path_make_absolute(s, c->dir);
        walk_check_source(c, n, "kernel image", c->u->vm.kernel, S_IFREG);
}

static void parse_vm_machine(WalkCtx *c, const YNode *n, void *data) {
        int v = WALK_GET_ENUM(c, n, vm_machine, _VM_MACHINE_MAX);
        if (v >= 0)
                c->u->vm.machine = (VmMachine) v;
}

static void parse_vm_accel(WalkCtx *c, const YNode *n, void *data) {
        int v = WALK_GET_ENUM(c, n, vm_accel, _VM_ACCEL_MAX);
        if (v >= 0)
                c->u->vm.accel = (VmAccel) v;
}

static void parse_vm(WalkCtx *c, const YNode *n, void *data) {
        static const WalkField fields[] = {
                {"kernel", parse_vm_kernel, 0, false},
                {"machine", parse_vm_machine, 0, false},
                {"accel", parse_vm_accel, 0, false},
                {},
        };
        const YPair *seen[ELEMENTSOF(fields)];
        walk_parse_mapping(c, n, fields, c->u, seen, "a mapping of virtual machine settings");
}

/* ---- the unit ---- */

static const WalkField unit_fields[] = {
        {"name", parse_name, 0, false},
        {"description", parse_description, 0, false},
        {"isolation", parse_isolation, 0, false},
        {"image", parse_image, 0, true},
        {"command", walk_field_command, UNIT_FIELD(command), false},
        {"args", parse_args, 0, false},
        {"env", parse_env, 0, false},
        {"user", parse_user, 0, false},
        {"working_dir", parse_working_dir, 0, false},
        {"hostname", parse_hostname, 0, false},
        {"network", parse_network, 0, false},
        {"ports", parse_ports, 0, false},
        {"outbound", walk_field_bool, UNIT_FIELD(outbound), false},
        {"resources", parse_resources, 0, false},
        {"rlimits", parse_rlimits, 0, false},
        {"mounts", parse_mounts, 0, false},
        {"security", parse_security, 0, false},
        {"share", parse_share, 0, false},
        {"restart", parse_restart, 0, false},
        {"stop", parse_stop, 0, false},
        {"requires", parse_requires, 0, false},
        {"healthcheck", parse_healthcheck, 0, false},
        {"vm", parse_vm, 0, false},
        {},
};

/* Reports an error at a top-level key's value, with that key's path. */
static void error_at_field(WalkCtx *c, const YPair *p, const char *key, const char *fmt, ...) _printf_(4, 5);
static void error_at_field(WalkCtx *c, const YPair *p, const char *key, const char *fmt, ...) {
        size_t old = walk_path_push_key(c, key);
        va_list ap;

        va_start(ap, fmt);
        diagnostics_addv(c->diags, c->file, p->value->line, p->value->column, c->path.text, fmt, ap);
        va_end(ap);
        c->errors++;
        walk_path_pop(c, old);
}

static void error_at_pos(WalkCtx *c, const SourcePos *pos, const char *msg) {
        diagnostics_add(c->diags, c->file, pos->line, pos->column, pos->path, "%s", msg);
        c->errors++;
}

/* The pair of key in the mapping n (already walked, so without duplicates), or NULL. */
static const YPair *mapping_pair(const YNode *n, const char *key) {
        if (n->type != YNODE_MAPPING)
                return NULL;
        for (size_t i = 0; i < n->n_pairs; i++)
                if (n->pairs[i].key->type == YNODE_SCALAR && streq(n->pairs[i].key->value, key))
                        return &n->pairs[i];
        return NULL;
}

/* What a guest cannot do yet, refused at validation rather than silently left out: a user
 * namespace (the guest is the boundary; its root is not mapped to a host range). Bind mounts are
 * served to the guest by virtiofsd (runtime/vm/vm-fs.c). */
static void check_hyperv(WalkCtx *c, const YPair *const *seen) {
        const YPair *p, *q;
        size_t old;

        if (c->u->security.user_namespace == USER_NAMESPACE_AUTO &&
            (p = walk_field_seen(unit_fields, seen, "security")) && (q = mapping_pair(p->value, "user_namespace"))) {
                old = walk_path_push_key(c, "security");
                (void) walk_path_push_key(c, "user_namespace");
                walk_error_at(
                        c, q->value,
                        "user_namespace: auto is not supported with isolation: hyperv yet (the guest is the "
                        "boundary; its root is not mapped to a host range): write false, or use isolation: process");
                walk_path_pop(c, old);
        }
}

static void check_unit(WalkCtx *c, const YNode *root, const YPair *const *seen) {
        UnitSpec *u = c->u;
        const YPair *p;
        bool has_image = false;

        /* Only an image has a default command (Entrypoint, Cmd); dir: and tar: layers are files. */
        for (size_t i = 0; i < u->n_layers; i++)
                has_image = has_image || u->layers[i].type == LAYER_OCI || u->layers[i].type == LAYER_REGISTRY;
        if (!walk_field_seen(unit_fields, seen, "command") && !has_image)
                walk_error_at(c, root,
                              "missing required key \"command\" (only an oci: or registry: layer has an image "
                              "whose Entrypoint and Cmd can stand in for it%s)",
                              walk_field_seen(unit_fields, seen, "args") ? "; args alone replace only the Cmd" : "");

        if (u->isolation == ISOLATION_HYPERV)
                check_hyperv(c, seen);
        if ((p = walk_field_seen(unit_fields, seen, "network")) && u->isolation == ISOLATION_HYPERV &&
            u->network == NETWORK_HOST)
                error_at_field(
                        c, p, "network",
                        "the host network is not possible with isolation: hyperv (the VM has its own network stack)");

        if ((p = walk_field_seen(unit_fields, seen, "share"))) {
                bool any = u->share.ipc.name || u->share.pid.name || u->share.network.name;
                if (any && u->isolation == ISOLATION_HYPERV)
                        error_at_field(c, p, "share",
                                       "isolation: hyperv units cannot share namespaces with other units (the VM "
                                       "boundary cannot be pierced)");
                const UnitRef *refs[] = {&u->share.ipc, &u->share.pid, &u->share.network};
                for (size_t i = 0; i < ELEMENTSOF(refs); i++)
                        if (refs[i]->name && u->name && streq(refs[i]->name, u->name))
                                error_at_pos(c, &refs[i]->pos, "a unit cannot share its own namespace");
        }

        if ((p = walk_field_seen(unit_fields, seen, "ports")) && u->n_ports > 0) {
                if (u->share.network.name)
                        error_at_field(c, p, "ports",
                                       "a unit with share.network uses the network of unit \"%s\" and cannot publish "
                                       "ports of its own",
                                       u->share.network.name);
                else if (u->network != NETWORK_BRIDGE)
                        error_at_field(c, p, "ports",
                                       "publishing ports needs network: bridge, this unit has network: %s",
                                       network_mode_to_string(u->network));
        }
        /* Only a bridge has a beyond to reach through the host: with network: host or none the
         * key could only be a mistake (outbound: false under network: host would not hold). */
        if ((p = walk_field_seen(unit_fields, seen, "outbound"))) {
                if (u->share.network.name)
                        error_at_field(c, p, "outbound",
                                       "a unit with share.network uses the network of unit \"%s\"; its outbound is "
                                       "that unit's",
                                       u->share.network.name);
                else if (u->network != NETWORK_BRIDGE)
                        error_at_field(c, p, "outbound", "outbound needs network: bridge, this unit has network: %s",
                                       network_mode_to_string(u->network));
        }
        if ((p = walk_field_seen(unit_fields, seen, "network")) && u->share.network.name)
                error_at_field(c, p, "network", "network and share.network exclude each other");

        for (size_t i = 0; i < u->n_requires; i++)
                if (u->name && streq(u->requires[i].name, u->name))
                        error_at_pos(c, &u->requires[i].pos, "a unit cannot require itself");
}

char *unit_name_from_file(const char *path) {
        const char *base = path_basename(path);
        const char *ext = endswith(base, ".yaml") ?: endswith(base, ".yml");
        return ext ? xstrndup(base, (size_t) (ext - base)) : xstrdup(base);
}

bool unit_sources_pass(const UnitSources *s) {
        for (size_t i = 0; i < s->n; i++) {
                const UnitSource *x = &s->items[i];
                _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
                _cleanup_sup_error_ SupError *error = NULL;
                _cleanup_free_ char *real = NULL;
                const char *why;

                switch (x->kind) {
                case UNIT_SOURCE_PATH:
                        if (unit_source_stat(x->path, x->type) != 0)
                                return false;
                        break;
                case UNIT_SOURCE_OCI_LAYOUT:
                        if (!oci_layout_present(x->path))
                                return false;
                        break;
                case UNIT_SOURCE_BIND:
                        if (bind_source_resolve(x->path, &real, &why) != 0)
                                return false;
                        break;
                case UNIT_SOURCE_SECCOMP_PROFILE:
                        if (seccomp_profile_load(x->path, &p, &error) < 0)
                                return false;
                        break;
                case _UNIT_SOURCE_KIND_MAX:
                case _UNIT_SOURCE_KIND_INVALID:
                        return false;
                }
        }
        return true;
}

int unit_parse(const char *file, const char *dir, const char *data, size_t size, UnitParseFlags flags,
               Diagnostics *diags, UnitSpec **ret, char **ret_name) {
        return unit_parse_recording(file, dir, data, size, flags, diags, NULL, ret, ret_name);
}

int unit_parse_recording(const char *file, const char *dir, const char *data, size_t size, UnitParseFlags flags,
                         Diagnostics *diags, UnitSources *sources, UnitSpec **ret, char **ret_name) {
        _cleanup_(unit_spec_freep) UnitSpec *u = unit_spec_new();
        _cleanup_(ydocument_freep) YDocument *doc = NULL;
        const YPair *seen[ELEMENTSOF(unit_fields)];
        WalkCtx c = {.file = file, .dir = dir, .flags = flags, .diags = diags, .u = u, .sources = sources};
        YError yerr;
        int r;

        if (ret_name)
                *ret_name = NULL;

        r = ydocument_parse(data, size, &doc, &yerr);
        if (r < 0) {
                diagnostics_add(diags, file, yerr.line, yerr.column, "", "%s", yerr.message);
                yerror_done(&yerr);
                return -EINVAL;
        }
        if (!doc->root || (doc->root->type == YNODE_SCALAR && !doc->root->quoted && doc->root->length == 0)) {
                diagnostics_add(diags, file, 1, 1, "",
                                "the file is empty; a unit needs at least \"image\" and \"command\"");
                return -EINVAL;
        }

        if (walk_parse_mapping(&c, doc->root, unit_fields, u, seen, "a mapping of unit settings"))
                check_unit(&c, doc->root, seen);

        if (!u->name) {
                _cleanup_free_ char *stem = unit_name_from_file(file);
                if (unit_name_is_valid(stem))
                        u->name = TAKE_PTR(stem);
                else {
                        _cleanup_free_ char *q = string_quote(stem, strlen(stem), 64);
                        diagnostics_add(diags, file, doc->root->line, doc->root->column, "",
                                        "the unit has no \"name\" and its file name %s is not a valid unit name "
                                        "(1-63 characters of a-z, 0-9 and -): add a name key or rename the file",
                                        q);
                        c.errors++;
                }
        }
        if (ret_name && u->name)
                *ret_name = xstrdup(u->name);
        if (!u->hostname && u->name)
                u->hostname = xstrdup(u->name); /* a unit name is a valid host name */

        if (c.errors > 0)
                return -EINVAL;

        u->source_file = xstrdup(file);
        *ret = TAKE_PTR(u);
        return 0;
}

int unit_load_file(const char *path, UnitParseFlags flags, Diagnostics *diags, UnitSpec **ret, char **ret_name) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (ret_name)
                *ret_name = NULL;
        r = unit_read_file(path, diags, &data, &size);
        if (r < 0)
                return r;
        return unit_parse_file_data(path, data, size, flags, diags, NULL, ret, ret_name);
}

int unit_read_file(const char *path, Diagnostics *diags, char **ret, size_t *ret_size) {
        int r = read_full_file(path, UNIT_FILE_SIZE_MAX, ret, ret_size);
        if (r == -EFBIG) {
                diagnostics_add(diags, path, 0, 0, "", "the file is larger than %d bytes; unit files are small",
                                UNIT_FILE_SIZE_MAX);
                return -EINVAL;
        }
        if (r < 0)
                diagnostics_add(diags, path, 0, 0, "", "cannot read the file: %s", strerror(-r));
        return r;
}

int unit_parse_file_data(const char *path, const char *data, size_t size, UnitParseFlags flags, Diagnostics *diags,
                         UnitSources *sources, UnitSpec **ret, char **ret_name) {
        _cleanup_free_ char *dir = NULL, *cwd = NULL, *rel = NULL;
        int r;

        rel = path_dirname(path);
        if (path_is_absolute(rel))
                dir = path_simplify(TAKE_PTR(rel));
        else {
                cwd = getcwd(NULL, 0);
                if (!cwd) {
                        r = negative_errno();
                        diagnostics_add(diags, path, 0, 0, "", "cannot determine the current directory: %s",
                                        strerror(-r));
                        return r;
                }
                dir = path_make_absolute(rel, cwd);
        }
        return unit_parse_recording(path, dir, data, size, flags, diags, sources, ret, ret_name);
}
