/* SPDX-License-Identifier: MIT */
/* supctl image: the operator's side of supd's image store (docs/images.md). */
#include <getopt.h>
#include <stdio.h>

#include "alloc.h"
#include "log.h"
#include "macro.h"
#include "string-util.h"
#include "supctl.h"

/* Listing and inspecting read a few files; a pull waits for the registry, and a prune for the
 * removal of whole trees: as long as it takes (^C leaves it running in supd). */
#define IMAGE_READ_TIMEOUT (60 * USEC_PER_SEC)

static const char *str(const json_t *o, const char *key, const char *dflt) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : dflt;
}

/* The store's key, or the OCI config's spelling of it (Entrypoint for entrypoint). */
static json_t *get_either(const json_t *o, const char *a, const char *b) {
        json_t *v = json_object_get(o, a);
        return v ? v : json_object_get(o, b);
}

static void print_json(const json_t *j) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
}

int call_print(const char *method, json_t *params, usec_t timeout, bool json,
               void (*print)(const json_t *result, bool flag), bool flag) {
        json_t *result = NULL;
        int r = supd_call(method, params, timeout, &result);

        if (r != EXIT_SUCCESS)
                return r;
        if (json)
                print_json(result);
        else
                print(result, flag);
        json_decref(result);
        return EXIT_SUCCESS;
}

/* "sha256:0123456789abcdef..." -> "0123456789ab", as docker shows an image ID. */
static const char *short_digest(const char *digest, char buf[static 13]) {
        const char *hex = digest && startswith(digest, "sha256:") ? digest + 7 : digest;
        snprintf(buf, 13, "%s", hex ? hex : "-");
        return buf;
}

static size_t count_of(const json_t *v) {
        return json_is_array(v) ? json_array_size(v) : (size_t) json_integer_value(v);
}

static char *join_strings(const json_t *array, const char *sep, const char *none) {
        _cleanup_strv_free_ char **l = NULL;
        size_t k;
        json_t *v;

        json_array_foreach(array, k, v)
                if (json_is_string(v))
                        strv_push(&l, xstrdup(json_string_value(v)));
        return l ? strv_join(l, sep) : xstrdup(none);
}

static void print_image_table(const json_t *list, bool flag) {
        size_t k;
        json_t *o;

        printf("%-40s %-12s %8s %6s  %s\n", "NAME", "DIGEST", "SIZE", "LAYERS", "USED BY");
        json_array_foreach(list, k, o) {
                _cleanup_free_ char *names = join_strings(json_object_get(o, "names"), ",", "<none>"),
                                    *users = join_strings(json_object_get(o, "users"), ",", "-");
                char digest[13], size[32];

                format_rss(json_integer_value(json_object_get(o, "size")), size, sizeof(size));
                printf("%-40s %-12s %8s %6zu  %s\n", names, short_digest(str(o, "digest", NULL), digest), size,
                       count_of(json_object_get(o, "layers")), users);
        }
}

static void print_field(const char *label, const json_t *v) {
        _cleanup_free_ char *text = NULL;

        if (!v || json_is_null(v))
                return;
        text = json_is_string(v) ? xstrdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT);
        printf("%12s: %s\n", label, text ? text : "?");
}

/* `docker history`: newest first, each step with the size of the layer it made ("0B" for a
 * step that made none: empty_layer), from the config's history and the image's layers. */
static void print_history(const json_t *history, const json_t *layers) {
        size_t n = json_array_size(history), n_layers = json_array_size(layers), layer = 0;
        json_int_t *sizes = xnew0(json_int_t, n + 1);
        bool *has_layer = xnew0(bool, n + 1);

        for (size_t k = 0; k < n; k++) {
                const json_t *h = json_array_get(history, k);
                if (json_is_true(json_object_get(h, "empty_layer")) || layer >= n_layers)
                        continue;
                has_layer[k] = true;
                sizes[k] = json_integer_value(json_object_get(json_array_get(layers, layer++), "size"));
        }
        printf("\nhistory (newest first):\n%-21s %8s  %s\n", "CREATED", "SIZE", "CREATED BY");
        for (size_t k = n; k > 0; k--) {
                const json_t *h = json_array_get(history, k - 1);
                const char *by = str(h, "created_by", ""), *comment = str(h, "comment", NULL),
                           *created = str(h, "created", "-");
                char size[32];

                format_rss(has_layer[k - 1] ? sizes[k - 1] : 0, size, sizeof(size));
                /* To the second, in UTC: "2026-12-06T03:27:47Z". */
                printf("%-19.19s%-2s %8s  %.100s%s%s%s\n", created, strlen(created) > 19 ? "Z" : "", size, by,
                       strlen(by) > 100 ? "..." : "", comment ? "  # " : "", comment ?: "");
        }
        free(sizes);
        free(has_layer);
}

static void print_image(const json_t *img, bool flag) {
        _cleanup_free_ char *names = join_strings(json_object_get(img, "names"), ", ", "<none>"),
                            *users = join_strings(json_object_get(img, "users"), ", ", "none");
        const json_t *config = json_object_get(img, "config"), *layers = json_object_get(img, "layers"),
                     *history = get_either(config, "history", "History");
        json_int_t total = 0;
        size_t k;
        json_t *l;

        if (!history)
                history = json_object_get(img, "history");
        printf("%12s: %s\n", "image", str(img, "digest", "?"));
        printf("%12s: %s\n", "names", names);
        print_field("source", json_object_get(img, "source"));
        print_field("created", json_object_get(img, "created"));
        if (json_is_object(json_object_get(img, "platform")))
                printf("%12s: %s/%s\n", "platform", str(json_object_get(img, "platform"), "os", "?"),
                       str(json_object_get(img, "platform"), "architecture", "?"));
        print_field("config", get_either(img, "config_digest", "config-digest"));
        print_field("entrypoint", get_either(config, "entrypoint", "Entrypoint"));
        print_field("cmd", get_either(config, "cmd", "Cmd"));
        print_field("env", get_either(config, "env", "Env"));
        print_field("working_dir", get_either(config, "working_dir", "WorkingDir"));
        print_field("user", get_either(config, "user", "User"));
        printf("%12s: %s\n", "used by", users);
        json_array_foreach(layers, k, l)
                total += json_integer_value(json_object_get(l, "size"));
        {
                char size[32];
                format_rss(total, size, sizeof(size));
                printf("\nlayers (bottom first): %zu, %s (blobs, compressed as pulled)\n", json_array_size(layers),
                       size);
        }
        json_array_foreach(layers, k, l) {
                char size[32];
                format_rss(json_integer_value(json_object_get(l, "size")), size, sizeof(size));
                printf("%3zu %8s  diff_id %s\n    %8s  blob    %s\n", k + 1, size, str(l, "diff_id", "?"), "",
                       str(l, "digest", "?"));
        }
        if (json_array_size(history) > 0)
                print_history(history, layers);
}

static void print_digest(const json_t *result, bool flag) {
        printf("%s\n", str(result, "digest", "?"));
}

static void print_pruned(const json_t *result, bool dry) {
        const json_t *removed = json_object_get(result, "removed");
        json_int_t bytes = json_integer_value(json_object_get(result, "bytes"));
        char total[32];
        size_t k;
        json_t *o;

        json_array_foreach(removed, k, o) {
                char size[32];
                format_rss(json_integer_value(json_object_get(o, "bytes")), size, sizeof(size));
                printf("%s %s %s (%s)\n", dry ? "would remove" : "removed", str(o, "kind", "?"), str(o, "id", "?"),
                       size);
        }
        format_rss(bytes, total, sizeof(total));
        printf("%s %zu item%s, %s (%lld bytes)\n", dry ? "would free" : "freed", json_array_size(removed),
               json_array_size(removed) == 1 ? "" : "s", total, (long long) bytes);
}

/* The options of the image verbs, each taking those of allowed; the operands must then be
 * n_operands, left at argv[optind...]. */
typedef enum ImageOption {
        OPT_JSON = 1 << 0,
        OPT_DRY_RUN = 1 << 1,
        OPT_TLS_VERIFY = 1 << 2,
} ImageOption;

typedef struct ImageArgs {
        bool json, dry_run, tls_verify;
} ImageArgs;

static int parse_image_args(int argc, char **argv, unsigned allowed, int n_operands, const char *operands,
                            ImageArgs *ret) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"dry-run", no_argument, NULL, 'n'},
                {"tls-verify", required_argument, NULL, 't'},
                {},
        };
        ImageArgs a = {.tls_verify = true};
        int c;

        optind = 0; /* getopt starts anew, permuting: options may follow the operands */
        while ((c = getopt_long(argc, argv, "n", options, NULL)) >= 0) {
                unsigned opt = c == 'j' ? OPT_JSON : c == 'n' ? OPT_DRY_RUN : c == 't' ? OPT_TLS_VERIFY : 0;
                if (!(opt & allowed)) {
                        if (opt)
                                log_error("image %s: %s is not one of its options", argv[0], argv[optind - 1]);
                        return -EINVAL;
                }
                a.json |= c == 'j';
                a.dry_run |= c == 'n';
                if (c == 't' && !streq(optarg, "true") && !streq(optarg, "false")) {
                        log_error("image %s: --tls-verify takes true or false, not \"%s\"", argv[0], optarg);
                        return -EINVAL;
                }
                if (c == 't')
                        a.tls_verify = streq(optarg, "true");
        }
        if (argc - optind != n_operands) {
                log_error("image %s: expected %s", argv[0], operands);
                return -EINVAL;
        }
        *ret = a;
        return 0;
}

static int image_ls(int argc, char **argv) {
        ImageArgs a;

        if (parse_image_args(argc, argv, OPT_JSON, 0, "no operands", &a) < 0)
                return EXIT_USAGE;
        return call_print("image-ls", NULL, IMAGE_READ_TIMEOUT, a.json, print_image_table, false);
}

static int image_inspect(int argc, char **argv) {
        ImageArgs a;

        if (parse_image_args(argc, argv, OPT_JSON, 1, "one IMAGE (a name or a digest)", &a) < 0)
                return EXIT_USAGE;
        return call_print("image-inspect", json_pack("{s:s}", "name", argv[optind]), IMAGE_READ_TIMEOUT, a.json,
                          print_image, false);
}

static int image_pull(int argc, char **argv) {
        ImageArgs a;

        if (parse_image_args(argc, argv, OPT_JSON | OPT_TLS_VERIFY, 1,
                             "one REFERENCE (registry/name:tag or registry/name@sha256:...)", &a) < 0)
                return EXIT_USAGE;
        return call_print("image-pull", json_pack("{s:s, s:b}", "reference", argv[optind], "tls_verify", a.tls_verify),
                          USEC_INFINITY, a.json, print_digest, false);
}

static int image_prune(int argc, char **argv) {
        ImageArgs a;

        if (parse_image_args(argc, argv, OPT_JSON | OPT_DRY_RUN, 0, "no operands", &a) < 0)
                return EXIT_USAGE;
        return call_print("image-prune", json_pack("{s:b}", "dry_run", a.dry_run), USEC_INFINITY, a.json, print_pruned,
                          a.dry_run);
}

int verb_image(int argc, char **argv) {
        static const struct {
                const char *name;
                int (*verb)(int argc, char **argv);
        } verbs[] = {
                {"ls", image_ls},
                {"inspect", image_inspect},
                {"pull", image_pull},
                {"prune", image_prune},
        };

        if (argc < 2) {
                log_error("image: expected ls, inspect, pull or prune; see supctl --help");
                return EXIT_USAGE;
        }
        for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                if (streq(argv[1], verbs[k].name))
                        return verbs[k].verb(argc - 1, argv + 1);
        log_error("image: unknown command \"%s\"; expected ls, inspect, pull or prune", argv[1]);
        return EXIT_USAGE;
}
