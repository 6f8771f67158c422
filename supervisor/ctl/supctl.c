/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdio.h>

#include <jansson.h>

#include "alloc.h"
#include "image-store.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"
#include "supctl.h"
#include "unit-set.h"

/* supd's default (supervisor/daemon/supd.c): where its image store is. */
#define DEFAULT_STATE_DIR "/var/lib/sup"

static void help(void) {
        printf("Usage: supctl [OPTIONS] COMMAND ...\n"
               "\n"
               "Commands:\n"
               "  status [UNIT] [--json]   the units and their state; one unit in detail\n"
               "  reload [--dry-run]       load the units directory and apply the changes\n"
               "                           (--dry-run: show the plan only)\n"
               "  start|stop|restart UNIT  act on one unit (stop cancels a pending restart)\n"
               "  logs UNIT [-f] [-n N] [--raw]\n"
               "                           the last N (50) lines of its log; -f follows it\n"
               "                           across rotations; control characters are shown\n"
               "                           as '?' (--raw: the bytes as they are)\n"
               "  top UNIT [--json]        the processes of its workload: PID, USER (uid),\n"
               "                           STATE, RSS, TIME (CPU), COMMAND; host PIDs for\n"
               "                           isolation: process\n"
               "  wait UNIT [--healthy] [--timeout DURATION]\n"
               "                           until the unit runs (--healthy: its health check\n"
               "                           passed); exit 1 when the timeout passes first or\n"
               "                           it cannot get there (failed, exited, stopped,\n"
               "                           removed)\n"
               "  metrics                  supd's metrics in the Prometheus text format\n"
               "                           (docs/metrics.md)\n"
               "  exec UNIT [-t] [--user U] [--env K=V]... [--workdir DIR] -- COMMAND...\n"
               "                           run COMMAND in the running unit (root only); its\n"
               "                           stdin, stdout, stderr streamed; -t: a terminal\n"
               "  image ls [--json]        the images in supd's store: names, digest, size,\n"
               "                           layers, the units that use them\n"
               "  image inspect [--json] IMAGE\n"
               "                           an image (a name or a digest prefix): its config,\n"
               "                           layers with sizes, history (newest first)\n"
               "  image pull [--tls-verify=false] [--json] REFERENCE\n"
               "                           pull an image from a registry into the store\n"
               "                           (ahead of a reload); prints its digest\n"
               "  image prune [--dry-run] [--json]\n"
               "                           remove what no unit of the running generation\n"
               "                           uses; --dry-run: only say what\n"
               "  volume ls [--json]       the named volumes: created, owner, the units\n"
               "                           running with them or naming them\n"
               "  volume inspect [--json] NAME\n"
               "                           a volume: its directory on the host, owner, users\n"
               "  volume rm NAME           remove a volume and its data (root only); refused\n"
               "                           while a unit runs with it or names it\n"
               "  events [--json] [--unit UNIT]... [--since TIME] [--until TIME]\n"
               "                           what supd sees happen, one line each (--json: JSON\n"
               "                           lines, docs/events.md); --since replays the events\n"
               "                           kept (an RFC 3339 time or a duration ago, such as\n"
               "                           10m), then follows; --until stops at TIME\n"
               "  validate [--json] [--print] [--state-dir DIR] FILE|DIR...\n"
               "                   Check unit files offline, as one set (like supd's units\n"
               "                   directory). Exit 0 if all are valid, 1 otherwise.\n"
               "                   --json   machine-readable result on stdout\n"
               "                   --print  print each unit's canonical form (defaults filled\n"
               "                            in, paths resolved) as JSON on stdout, if all\n"
               "                            are valid; then what it runs with its image's\n"
               "                            defaults (command, env, user, working_dir),\n"
               "                            if the image store already holds its image\n"
               "                   --state-dir DIR  supd's state directory, whose image\n"
               "                            store --print looks in (default " DEFAULT_STATE_DIR ")\n"
               "\n"
               "Options:\n"
               "     --socket PATH supd's socket (default $SUP_RUN_DIR/supd.sock, or\n"
               "                   /run/sup/supd.sock)\n"
               "  -h --help        Show this help\n"
               "     --version     Show the version\n");
}

/* The spec u runs, with its image's defaults applied (image_apply_defaults()), when the store
 * already holds its image: never a pull, an unpack or a disk. NULL, with a note on stderr, when
 * the defaults are not known yet; that is no error of the unit file. */
static UnitSpec *run_spec_of(const UnitSpec *u, const char *store_dir) {
        const ImageOptions opts = {.store_dir = store_dir, .lookup_only = true};
        _cleanup_sup_error_ SupError *e = NULL;
        _cleanup_(image_freep) Image *img = NULL;
        UnitSpec *run = NULL;

        if (image_resolve(u, &opts, &img, &e) < 0) {
                log_info("note: %s: the image's defaults (command, env, user, working_dir) are not known until its "
                         "image is pulled or unpacked (supctl image pull, or its first start): %s",
                         u->name, sup_error_message(e));
                return NULL;
        }
        if (image_apply_defaults(u, &img->config, &run, &e) < 0) {
                log_warning("warning: %s: %s", u->name, sup_error_message(e));
                return NULL;
        }
        return run;
}

/* What a run spec adds to the unit's, as comment lines: the printed text stays a unit file. */
static void print_run(const UnitSpec *run) {
        static const char *const keys[] = {"command", "env", "user", "working_dir"};
        json_t *j = unit_spec_to_json(run);

        printf("# with its image's defaults, unit %s runs:\n", run->name);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *v =
                        json_dumps(json_object_get(j, keys[i]),
                                   JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS);
                printf("#   %s: %s\n", keys[i], v ?: "?");
        }
        json_decref(j);
}

static int verb_validate(int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"print", no_argument, NULL, 'p'},
                {"state-dir", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(unit_set_freep) UnitSet *set = NULL;
        _cleanup_free_ char *store_dir = NULL;
        const char *state_dir = DEFAULT_STATE_DIR;
        Diagnostics diags = {};
        bool json = false, print = false;
        int c, r;

        optind = 0; /* getopt starts anew, permuting: options may follow the operands */
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'p':
                        print = true;
                        break;
                case 's':
                        state_dir = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                log_error("validate: expected at least one FILE or DIR");
                return EXIT_USAGE;
        }
        store_dir = path_join(state_dir, IMAGE_STORE_SUBDIR);

        r = unit_set_load(argv + optind, UNIT_PARSE_CHECK_SOURCES, &diags, &set);
        /* An empty set is valid (supd runs nothing), but here it is more likely a wrong directory. */
        if (set->n_files == 0 && r == 0)
                log_warning("warning: no unit files (*.yaml, *.yml) found");

        if (json) {
                json_t *units = json_array(), *out;
                for (size_t i = 0; i < set->n_units; i++) {
                        char hash[65];
                        if (unit_spec_hash(set->units[i], hash) < 0)
                                hash[0] = 0;
                        json_t *o = json_pack("{s:s, s:s, s:s}", "name", set->units[i]->name, "file",
                                              set->units[i]->source_file, "hash", hash);
                        if (print && r == 0) {
                                _cleanup_(unit_spec_freep) UnitSpec *run = run_spec_of(set->units[i], store_dir);
                                json_object_set_new(o, "spec", unit_spec_to_json(set->units[i]));
                                if (run)
                                        json_object_set_new(o, "run", unit_spec_to_json(run));
                        }
                        json_array_append_new(units, o);
                }
                out = json_pack("{s:b, s:o, s:o}", "valid", r == 0, "units", units, "errors",
                                diagnostics_to_json(&diags));
                json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
                fputc('\n', stdout);
                json_decref(out);
        } else {
                diagnostics_print(&diags, stderr);
                /* Only a valid set is printed: a script reading the output must not act on half of one. */
                if (print && r == 0)
                        for (size_t i = 0; i < set->n_units; i++) {
                                _cleanup_free_ char *text = unit_spec_format(set->units[i]);
                                _cleanup_(unit_spec_freep) UnitSpec *run = run_spec_of(set->units[i], store_dir);

                                printf("%s\n", text);
                                if (run)
                                        print_run(run);
                        }
                if (r == 0 && !print)
                        printf("%zu unit%s valid\n", set->n_units, set->n_units == 1 ? "" : "s");
                else if (r != 0)
                        fprintf(stderr, "%zu error%s in %zu file%s\n", diagnostics_count(&diags),
                                diagnostics_count(&diags) == 1 ? "" : "s", set->n_files, set->n_files == 1 ? "" : "s");
        }
        diagnostics_done(&diags);
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "socket", required_argument, NULL, 's' },
                {},
        };
        int c;

        log_set_program("supctl");
        /* Options before the verb only; the verb parses its own. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("supctl %s\n", SUP_VERSION);
                        return EXIT_SUCCESS;
                case 's':
                        arg_socket = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                help();
                return EXIT_USAGE;
        }
        if (streq(argv[optind], "validate"))
                return verb_validate(argc - optind, argv + optind);
        if (streq(argv[optind], "status"))
                return verb_status(argc - optind, argv + optind);
        if (streq(argv[optind], "reload"))
                return verb_reload(argc - optind, argv + optind);
        if (streq(argv[optind], "start") || streq(argv[optind], "stop") || streq(argv[optind], "restart"))
                return verb_unit(argc - optind, argv + optind);
        if (streq(argv[optind], "logs"))
                return verb_logs(argc - optind, argv + optind);
        if (streq(argv[optind], "top"))
                return verb_top(argc - optind, argv + optind);
        if (streq(argv[optind], "wait"))
                return verb_wait(argc - optind, argv + optind);
        if (streq(argv[optind], "image"))
                return verb_image(argc - optind, argv + optind);
        if (streq(argv[optind], "volume"))
                return verb_volume(argc - optind, argv + optind);
        if (streq(argv[optind], "exec"))
                return verb_exec(argc - optind, argv + optind);
        if (streq(argv[optind], "metrics"))
                return verb_metrics(argc - optind, argv + optind);
        if (streq(argv[optind], "events"))
                return verb_events(argc - optind, argv + optind);

        log_error("unknown command \"%s\"; see supctl --help", argv[optind]);
        return EXIT_USAGE;
}
