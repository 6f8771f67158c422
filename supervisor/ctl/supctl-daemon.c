/* SPDX-License-Identifier: MIT */
/* The verbs of supctl that talk to supd. */
#include "supctl.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "alloc.h"
#include "instance.h"
#include "json-conn.h"
#include "log.h"
#include "macro.h"
#include "socket-util.h"
#include "status-table.h"
#include "string-util.h"
#include "time-util.h"
#include "unit-diag.h"
#include "unit-value.h"

#define CALL_TIMEOUT (30 * USEC_PER_SEC)

const char *arg_socket = NULL;

char *supd_socket_path(void) {
        const char *run = getenv("SUP_RUN_DIR");
        if (arg_socket)
                return xstrdup(arg_socket);
        return xasprintf("%s/supd.sock", run && *run ? run : "/run/sup");
}

int supd_connect(void) {
        _cleanup_free_ char *path = supd_socket_path();
        int fd = unix_connect(path, 0);

        if (fd == -ENOENT || fd == -ECONNREFUSED)
                log_error("supd is not running (no one listens on %s); start it, or select another "
                          "instance with --socket or SUP_RUN_DIR",
                          path);
        else if (fd == -EACCES)
                log_error("cannot connect to %s: permission denied (root, or the socket's group)", path);
        else if (fd < 0)
                log_error_errno(fd, "cannot connect to %s: %m", path);
        return fd;
}

/* supd_call(), and the error's code in *ret_code (NULL when it succeeded or got no answer). */
static int supd_call_code(const char *method, json_t *params, usec_t timeout, json_t **ret_result, char **ret_code) {
        _cleanup_free_ char *path = supd_socket_path();
        _cleanup_close_ int fd = -EBADF;
        json_t *reply = NULL, *err;
        int r;

        fd = supd_connect();
        if (fd < 0) {
                json_decref(params);
                return EXIT_FAILURE;
        }
        r = json_call(fd, method, params, timeout, &reply);
        json_decref(params);
        params = NULL;
        if (r < 0) {
                log_error_errno(r, "no answer from supd on %s: %m", path);
                return EXIT_FAILURE;
        }
        err = json_object_get(reply, "error");
        if (err) {
                json_t *diags = json_object_get(err, "diagnostics");
                log_error("%s", json_string_value(json_object_get(err, "message")));
                if (json_is_array(diags)) {
                        size_t k;
                        json_t *e;
                        json_array_foreach(diags, k, e) {
                                Diagnostic dg = {
                                        .file = (char *) json_string_value(json_object_get(e, "file")),
                                        .line = (unsigned) json_integer_value(json_object_get(e, "line")),
                                        .column = (unsigned) json_integer_value(json_object_get(e, "column")),
                                        .path = (char *) json_string_value(json_object_get(e, "path")),
                                        .message = (char *) json_string_value(json_object_get(e, "message")),
                                };
                                if (dg.file && dg.path && dg.message)
                                        diagnostic_print(&dg, stderr);
                        }
                }
                if (ret_code)
                        *ret_code = xstrdup(json_string_value(json_object_get(err, "code")) ?: "failed");
                json_decref(reply);
                return EXIT_FAILURE;
        }
        if (ret_result)
                *ret_result = json_incref(json_object_get(reply, "result"));
        json_decref(reply);
        return EXIT_SUCCESS;
}

int supd_call(const char *method, json_t *params, usec_t timeout, json_t **ret_result) {
        return supd_call_code(method, params, timeout, ret_result, NULL);
}

static int call(const char *method, json_t *params, json_t **ret_result) {
        return supd_call(method, params, CALL_TIMEOUT, ret_result);
}

/* Calls supd's VERB for the one UNIT left after a verb's options. */
static int call_unit(const char *verb, int argc, char **argv, json_t **ret_result) {
        if (optind + 1 != argc) {
                log_error("%s: expected one UNIT", verb);
                return EXIT_USAGE;
        }
        return call(verb, json_pack("{s:s}", "unit", argv[optind]), ret_result);
}

static const char *str(json_t *o, const char *key, const char *dflt) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : dflt;
}

/* The usage object of a running unit: memory, CPU time and tasks from its cgroup. */
static void print_usage(json_t *u) {
        json_t *mem = json_object_get(u, "memory_bytes"), *mem_max = json_object_get(u, "memory_max"),
               *cpu = json_object_get(u, "cpu_usec"), *pids = json_object_get(u, "pids"),
               *pids_max = json_object_get(u, "pids_max");
        char a[32], b[32];

        if (streq(str(u, "of", ""), "qemu"))
                printf("       usage: of QEMU's cgroup (guest RAM, QEMU and its threads): the host sees no more\n");
        if (json_is_integer(mem)) {
                format_rss(json_integer_value(mem), a, sizeof(a));
                if (json_is_integer(mem_max)) {
                        format_rss(json_integer_value(mem_max), b, sizeof(b));
                        printf("      memory: %s of %s\n", a, b);
                } else
                        printf("      memory: %s (no limit)\n", a);
        }
        if (json_is_integer(cpu))
                printf("         cpu: %.3f s used\n", (double) json_integer_value(cpu) / 1e6);
        if (json_is_integer(json_object_get(u, "monitor_cpu_usec")))
                printf("     monitor: %.3f s of CPU (its log; in its own cgroup)\n",
                       (double) json_integer_value(json_object_get(u, "monitor_cpu_usec")) / 1e6);
        if (json_is_integer(pids)) {
                if (json_is_integer(pids_max))
                        printf("       tasks: %lld of %lld\n", (long long) json_integer_value(pids),
                               (long long) json_integer_value(pids_max));
                else
                        printf("       tasks: %lld (no limit)\n", (long long) json_integer_value(pids));
        }
}

/* status.json's "image": the store's images the unit runs (by manifest digest) and its layers. */
static void print_image(const json_t *o) {
        const json_t *img = json_object_get(o, "image"), *images = json_object_get(img, "images"), *d;
        long long layers = json_integer_value(json_object_get(img, "layers"));
        size_t k;

        if (!json_is_object(img))
                return;
        printf("       image: ");
        json_array_foreach(images, k, d)
                printf("%s%s", k > 0 ? ", " : "", json_string_value(d) ?: "?");
        printf("%s%lld layer%s%s\n", json_array_size(images) > 0 ? " (" : "", layers, layers == 1 ? "" : "s",
               json_array_size(images) > 0 ? ")" : " (dir: layers only)");
}

/* status.json's "health": its state, the failing streak and the last check. The check's output
 * is the workload's: shown sanitized, each line indented. */
static void print_health(const json_t *o) {
        json_t *h = json_object_get(o, "health"), *last = json_object_get(h, "last_check");
        json_t *code = json_object_get(last, "exit_code");
        const char *out = str(last, "output", NULL);
        long long streak = json_integer_value(json_object_get(h, "failing_streak"));

        if (!json_is_object(h))
                return;
        printf("      health: %s", str(h, "status", "?"));
        if (streak > 0)
                printf(" (%lld failed in a row)", streak);
        printf("\n");
        if (!json_is_object(last))
                return;
        printf("  last check: %s, ", str(last, "at", "?"));
        if (json_is_true(json_object_get(last, "timed_out")))
                printf("timed out (killed)\n");
        else if (json_is_integer(code))
                printf("exit code %lld\n", (long long) json_integer_value(code));
        else
                printf("%s\n", str(last, "signal", "ended by a signal"));
        for (const char *line = out; line && *line;) {
                const char *end = strchrnul(line, '\n');
                printf("            | ");
                (void) fwrite_sanitized(line, end - line, "", false, stdout);
                printf("\n");
                line = *end ? end + 1 : end;
        }
}

static void print_detail(json_t *o) {
        char ex[64];
        static const char *const times[] = { "started_at", "exited_at", "next_restart_at" };

        status_last_exit(o, ex, sizeof(ex));
        printf("%s - %s\n", str(o, "name", "?"), str(o, "description", ""));
        printf("   isolation: %s\n", str(o, "isolation", "?"));
        printf("       state: %s%s\n", str(o, "state", "?"),
               json_is_true(json_object_get(o, "admin_stopped")) ? " (stopped by the operator)" : "");
        json_t *vm = json_object_get(o, "vm");
        if (json_is_integer(json_object_get(o, "pid")))
                printf("         pid: %lld (%s)\n", (long long) json_integer_value(json_object_get(o, "pid")),
                       json_is_object(vm) ? "QEMU: the host sees nothing else of the instance"
                                          : "the container's init; the command is its child");
        if (json_is_object(vm)) {
                json_t *mem = json_object_get(vm, "memory"), *gpid = json_object_get(vm, "guest_pid");
                if (str(vm, "accel", NULL))
                        printf("          vm: %s, %lld vCPU, %lld MiB guest RAM\n", str(vm, "accel", "?"),
                               (long long) json_integer_value(json_object_get(vm, "vcpus")),
                               (long long) (json_integer_value(mem) >> 20));
                if (json_is_integer(gpid))
                        printf("   guest pid: %lld (the command, inside the guest)\n", (long long) json_integer_value(gpid));
                if (str(vm, "stop_step", NULL))
                        printf("   stop step: %s\n", str(vm, "stop_step", ""));
                if (str(vm, "end", NULL))
                        printf("    last end: %s\n", str(vm, "end", ""));
        }
        if (json_is_integer(json_object_get(o, "monitor_pid")))
                printf("     monitor: pid %lld\n", (long long) json_integer_value(json_object_get(o, "monitor_pid")));
        if (str(o, "address", NULL))
                printf("     address: %s (eth0, on the bridge)\n", str(o, "address", ""));
        print_image(o);
        {
                char pull[512];
                if (status_format_pull(o, pull, sizeof(pull)))
                        printf("     pulling: %s\n", pull + strlen("pulling "));
        }
        json_t *userns = json_object_get(o, "user_namespace");
        if (json_is_object(userns)) {
                json_int_t base = json_integer_value(json_object_get(userns, "uid")),
                           size = json_integer_value(json_object_get(userns, "size"));
                printf("     user ns: uid/gid 0-%lld inside are %lld-%lld on the host\n", (long long) size - 1,
                       (long long) base, (long long) (base + size - 1));
        }
        print_health(o);
        if (json_is_object(json_object_get(o, "usage")))
                print_usage(json_object_get(o, "usage"));
        printf("    restarts: %lld\n", (long long) json_integer_value(json_object_get(o, "restarts")));
        printf("   last exit: %s\n", ex);
        if (json_is_true(json_object_get(o, "oom")))
                printf("         oom: the kernel's OOM killer struck in its cgroup (resources.memory)\n");
        for (size_t i = 0; i < ELEMENTSOF(times); i++)
                if (str(o, times[i], NULL))
                        printf("%12s: %s\n", times[i], str(o, times[i], ""));
        if (str(o, "reason", NULL))
                printf("      reason: %s\n", str(o, "reason", ""));
        if (str(o, "restart_reason", NULL))
                printf("   restarted: %s\n", str(o, "restart_reason", ""));
        if (str(o, "hash", NULL))
                printf("        spec: %.16s\n", str(o, "hash", ""));
        if (str(o, "log", NULL))
                printf("         log: %s\n", str(o, "log", ""));
}

/* The option of the verbs that only have --json; the operands are left at argv[optind...].
 * optind = 0, not 1: getopt starts anew and permutes (main() parsed in order, with "+"), so that
 * "VERB UNIT --json" works as well as "VERB --json UNIT". */
int parse_json_option(int argc, char **argv, bool *ret_json) {
        static const struct option options[] = { { "json", no_argument, NULL, 'j' }, {} };
        bool json = false;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c != 'j')
                        return -EINVAL;
                json = true;
        }
        *ret_json = json;
        return 0;
}

int verb_status(int argc, char **argv) {
        json_t *params, *result = NULL;
        bool json;
        int r;

        if (parse_json_option(argc, argv, &json) < 0)
                return EXIT_USAGE;
        params = json_object();
        if (optind < argc)
                json_object_set_new(params, "unit", json_string(argv[optind]));
        else if (!json) {
                json_t *fields = json_array();

                /* The table, as supd writes it: a thousand units' rows as the lines they make,
                 * rather than objects for this process to parse (half of its time), then format. */
                json_object_set_new(params, "format", json_string("table"));
                /* A supd from before that sends objects: only the table's keys, and no usage (no
                 * cgroup of every unit read for it). */
                json_object_set_new(params, "usage", json_false());
                for (size_t k = 0; k < STATUS_TABLE_N_FIELDS; k++)
                        json_array_append_new(fields, json_string(status_table_fields[k]));
                json_object_set_new(params, "fields", fields);
        }
        r = call("status", params, &result);
        if (r != EXIT_SUCCESS)
                return r;
        if (json)
                json_dumpf(result, stdout, JSON_INDENT(2) | JSON_SORT_KEYS), fputc('\n', stdout);
        else if (optind < argc && json_array_size(result) == 1)
                print_detail(json_array_get(result, 0));
        else if (json_is_string(json_object_get(result, "text")))
                fputs(json_string_value(json_object_get(result, "text")), stdout);
        else {
                _cleanup_free_ char *text = status_table_format(result, now(CLOCK_REALTIME));
                fputs(text ?: "", stdout);
        }
        json_decref(result);
        return EXIT_SUCCESS;
}

int verb_reload(int argc, char **argv) {
        static const struct option options[] = { { "dry-run", no_argument, NULL, 'n' }, {} };
        json_t *result = NULL, *failures;
        bool dry = false;
        int c, r;

        optind = 0; /* getopt starts anew, permuting: options may follow the operands */
        while ((c = getopt_long(argc, argv, "n", options, NULL)) >= 0) {
                if (c != 'n')
                        return EXIT_USAGE;
                dry = true;
        }
        r = call("reload", json_pack("{s:b}", "dry_run", dry), &result);
        if (r != EXIT_SUCCESS)
                return r;
        printf("%s%s", dry ? "would do:\n" : "", str(result, "text", ""));
        /* Applied, but not all of it: the units whose instance could not be created. */
        failures = json_object_get(result, "failures");
        for (size_t k = 0; k < json_array_size(failures); k++)
                log_error("%s: %s", str(json_array_get(failures, k), "unit", "?"),
                          str(json_array_get(failures, k), "message", "?"));
        r = json_array_size(failures) > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        json_decref(result);
        return r;
}

int verb_unit(int argc, char **argv) {
        json_t *result = NULL;
        int r;

        if (argc != 2) {
                log_error("%s: expected one UNIT", argv[0]);
                return EXIT_USAGE;
        }
        r = call(argv[0], json_pack("{s:s}", "unit", argv[1]), &result);
        if (r != EXIT_SUCCESS)
                return r;
        if (json_is_object(result))
                printf("%s: %s\n", argv[1], str(result, "state", "?"));
        json_decref(result);
        return EXIT_SUCCESS;
}

/* `supctl wait UNIT [--healthy] [--timeout D]`: supd replies once the unit runs (is healthy), or
 * cannot, or its timer for the timeout fired (the timeout is supd's: one clock, and no poll on
 * either side). Exit 0, 1 (timed out, or it cannot get there), 2 (usage; --healthy without a
 * healthcheck). */
int verb_wait(int argc, char **argv) {
        static const struct option options[] = {
                {"healthy", no_argument, NULL, 'H'},
                {"timeout", required_argument, NULL, 't'},
                {},
        };
        _cleanup_free_ char *code = NULL;
        usec_t timeout = USEC_INFINITY;
        json_t *params, *result = NULL;
        bool healthy = false;
        const char *reason;
        int c, r;

        optind = 0; /* getopt starts anew, permuting: options may follow the operands */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'H':
                        healthy = true;
                        break;
                case 't':
                        if (parse_duration(optarg, &timeout, &reason) < 0) {
                                log_error("wait: --timeout %s: %s", optarg, reason ?: "not a duration");
                                return EXIT_USAGE;
                        }
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc) {
                log_error("wait: expected one UNIT");
                return EXIT_USAGE;
        }
        params = json_pack("{s:s, s:b}", "unit", argv[optind], "healthy", healthy);
        /* Beyond a century a timeout is none (and would not fit supd's JSON integer). */
        if (timeout > 100ULL * 365 * 24 * 3600 * USEC_PER_SEC)
                timeout = USEC_INFINITY;
        if (timeout != USEC_INFINITY)
                json_object_set_new(params, "timeout_usec", json_integer((json_int_t) timeout));
        /* supd answers when its timer fires; past that by CALL_TIMEOUT, supd is not answering. */
        r = supd_call_code("wait", params, timeout == USEC_INFINITY ? USEC_INFINITY : timeout + CALL_TIMEOUT, &result,
                           &code);
        if (r != EXIT_SUCCESS)
                return code && streq(code, "no-healthcheck") ? EXIT_USAGE : r;
        printf("%s: %s%s%s\n", argv[optind], str(result, "state", "?"),
               json_is_object(json_object_get(result, "health")) ? ", " : "",
               str(json_object_get(result, "health"), "status", ""));
        json_decref(result);
        return EXIT_SUCCESS;
}

/* Memory as top shows it: KiB below a MiB, then MiB and GiB with one decimal. */
void format_rss(json_int_t bytes, char *buf, size_t size) {
        if (bytes < 1024)
                snprintf(buf, size, "%lldB", (long long) bytes);
        else if (bytes < 1024 * 1024)
                snprintf(buf, size, "%lldK", (long long) bytes / 1024);
        else if (bytes < 1024LL * 1024 * 1024)
                snprintf(buf, size, "%.1fM", (double) bytes / (1024.0 * 1024));
        else
                snprintf(buf, size, "%.1fG", (double) bytes / (1024.0 * 1024 * 1024));
}

/* CPU time as top's TIME+: minutes:seconds.hundredths. */
static void format_cpu_time(json_int_t ms, char *buf, size_t size) {
        snprintf(buf, size, "%lld:%02lld.%02lld", (long long) ms / 60000, (long long) ms / 1000 % 60,
                 (long long) ms % 1000 / 10);
}

/* The workload names its processes and their arguments, escape sequences included if it likes. */
static void print_sanitized(const char *s) {
        (void) fwrite_sanitized(s, strlen(s), "", false, stdout);
}

static void print_processes(const char *unit, json_t *result) {
        const char *ns = str(result, "pid_namespace", "?");
        json_t *procs = json_object_get(result, "processes"), *p;
        size_t n = json_array_size(procs), k;

        printf("%s: %zu process%s, %s\n", unit, n, n == 1 ? "" : "es",
               streq(ns, "host")    ? "host PIDs"
               : streq(ns, "guest") ? "guest PIDs (numbered inside its VM)"
                                    : ns);
        /* USER is the uid: the host's user names need not be the image's. */
        printf("%7s %7s %-8s %-5s %7s %10s %s\n", "PID", "PPID", "USER", "STATE", "RSS", "TIME", "COMMAND");
        json_array_foreach(procs, k, p) {
                json_t *args = json_object_get(p, "args"), *a;
                char rss[32], cpu[32];
                size_t i;

                format_rss(json_integer_value(json_object_get(p, "rss_bytes")), rss, sizeof(rss));
                format_cpu_time(json_integer_value(json_object_get(p, "cpu_time_ms")), cpu, sizeof(cpu));
                printf("%7lld %7lld %-8lld %-5s %7s %10s ", (long long) json_integer_value(json_object_get(p, "pid")),
                       (long long) json_integer_value(json_object_get(p, "ppid")),
                       (long long) json_integer_value(json_object_get(p, "uid")), str(p, "state", "?"), rss, cpu);
                /* No command line (a zombie): the name in brackets, as ps shows it. */
                if (json_array_size(args) == 0) {
                        printf("[");
                        print_sanitized(str(p, "comm", "?"));
                        printf("]");
                }
                json_array_foreach(args, i, a) {
                        if (i > 0)
                                putchar(' ');
                        print_sanitized(json_string_value(a) ?: "");
                }
                printf("%s\n", json_is_true(json_object_get(p, "args_truncated")) ? "..." : "");
        }
}

int verb_top(int argc, char **argv) {
        json_t *result = NULL;
        bool json;
        int r;

        if (parse_json_option(argc, argv, &json) < 0)
                return EXIT_USAGE;
        r = call_unit("top", argc, argv, &result);
        if (r != EXIT_SUCCESS)
                return r;
        if (json)
                json_dumpf(result, stdout, JSON_INDENT(2)), fputc('\n', stdout);
        else
                print_processes(argv[optind], result);
        json_decref(result);
        return EXIT_SUCCESS;
}

/* Where the log's text goes: as it is (--raw), or with the terminal's control characters shown as
 * '?' (the default, wherever stdout goes: a terminal, or a file or pipe that is read on one
 * later). A byte that may begin a control character split between two reads waits for the next. */
typedef struct LogOutput {
        bool raw;
        size_t n_held; /* 0 or 1 */
        char held;
} LogOutput;

static void output(LogOutput *o, const char *s, size_t n, bool partial) {
        size_t took;

        if (o->raw) {
                (void) !fwrite(s, 1, n, stdout);
                return;
        }
        /* TAB and newline cannot rewrite what is already shown; every other control can. */
        took = fwrite_sanitized(s, n, "\t\n", partial, stdout);
        o->n_held = n - took;
        if (o->n_held > 0)
                o->held = s[n - 1];
}

/* Copies fd from its offset to its end; 0 at the end, -errno if it cannot be read. */
static int copy_to_end(int fd, LogOutput *o) {
        char buf[65536];

        for (;;) {
                size_t off = o->n_held;
                ssize_t n;

                buf[0] = o->held;
                n = read(fd, buf + off, sizeof(buf) - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                output(o, buf, off + (size_t) n, true);
        }
}

typedef struct LogLine {
        char *text;
        size_t n;
} LogLine;

/* Prints the last n lines of the rotated log (prev, may be -EBADF) and of the current one (fd),
 * and leaves fd at the end of what it read: a follower goes on from there, without a gap. */
static void tail_lines(int prev, int fd, unsigned n, LogOutput *o) {
        const int fds[] = {prev, fd};
        LogLine *lines = xnew0(LogLine, n + 1);
        size_t count = 0;

        for (size_t f = 0; n > 0 && f < ELEMENTSOF(fds); f++) {
                /* A duplicate shares fd's offset: stdio reads up to the end, and fd stays there. */
                int dup_fd = fds[f] >= 0 ? fcntl(fds[f], F_DUPFD_CLOEXEC, 3) : -EBADF;
                _cleanup_fclose_ FILE *fp = dup_fd >= 0 ? fdopen(dup_fd, "r") : NULL;
                char *line = NULL;
                size_t cap = 0;
                ssize_t len;

                if (dup_fd >= 0 && !fp)
                        close(dup_fd);
                while (fp && (len = getline(&line, &cap, fp)) >= 0) {
                        LogLine *l = &lines[count % n];
                        free(l->text);
                        *l = (LogLine){memcpy(xmalloc((size_t) len), line, (size_t) len), (size_t) len};
                        count++;
                }
                free(line);
        }
        for (size_t k = count > n ? count - n : 0; k < count; k++)
                output(o, lines[k % n].text, lines[k % n].n, false);
        for (size_t k = 0; k < n; k++)
                free(lines[k].text);
        free(lines);
        if (n == 0)
                (void) lseek(fd, 0, SEEK_END);
        fflush(stdout);
}

static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The open file is watched, not the name: a watch on a name would follow whatever file has it
 * when the watch is made, which is not ours once the monitor has rotated it. */
static int watch_fd(int ino, int fd, const char *path) {
        char proc[64];
        int wd;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        wd = inotify_add_watch(ino, proc, IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
        return wd >= 0 ? wd : inotify_add_watch(ino, path, IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
}

/* The file to read after cur (read to its end), if the monitor has rotated it: 0 while cur is still
 * the log (or while the new log does not exist yet, between the monitor's rename and create), 1
 * and ret_fd otherwise. prev is the generation read before cur, held open so that its inode
 * number cannot be reused by a new file. */
static int next_generation(const char *path, const char *rotated, int cur, int prev, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF, fd1 = -EBADF;
        struct stat st_cur, st, st1, st_prev;

        if (fstat(cur, &st_cur) < 0)
                return -errno;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (same_file(&st, &st_cur))
                return 0;
        /* The name has another file: ours was rotated. Normally ours is NAME.log.1 now and the
         * next is NAME.log. But if ours is gone (no link left), this reader fell a whole file
         * behind: the next one was renamed over ours, and NAME.log.1 is it, unread. (Or the
         * operator removed ours: then NAME.log.1 is the one before, read already.) */
        if (st_cur.st_nlink == 0) {
                fd1 = open(rotated, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd1 >= 0 && fstat(fd1, &st1) == 0 && !same_file(&st1, &st) &&
                    !(prev >= 0 && fstat(prev, &st_prev) == 0 && same_file(&st1, &st_prev))) {
                        *ret_fd = TAKE_FD(fd1);
                        return 1;
                }
        }
        *ret_fd = TAKE_FD(fd);
        return 1;
}

/* Follows the log by its name, as tail -F does, across the monitor's rotations: the old file is
 * read to its end before the new one, so no line is lost or repeated. One inotify instance with
 * two watches, whatever the number of rotations: the directory (creations and renames in it, so
 * that a name that is missing for a moment wakes us when it comes back) and the file being read
 * (its writes, its rename). Events only wake the loop; what changed is found by looking, so a
 * coalesced or overflowed event queue loses nothing. */
static int follow(const char *path, int fd_in, int prev_in, LogOutput *o) {
        _cleanup_free_ char *rotated = xasprintf("%s.1", path), *dir = xstrdup(path);
        _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC), fd = fd_in, prev = prev_in;
        char *slash = strrchr(dir, '/');
        int wd, r;

        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        if (ino < 0 || inotify_add_watch(ino, slash ? dir : ".", IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0 ||
            (wd = watch_fd(ino, fd, path)) < 0) {
                return log_error_errno(negative_errno(), "cannot watch %s: %m", path);
        }
        for (;;) {
                char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                int next = -EBADF;

                r = copy_to_end(fd, o);
                if (r < 0)
                        return log_error_errno(r, "cannot read %s: %m", path);
                if (fflush(stdout) != 0)
                        return negative_errno();
                r = next_generation(path, rotated, fd, prev, &next);
                if (r < 0)
                        return log_error_errno(r, "cannot open %s: %m", path);
                if (r > 0) {
                        /* Whatever the monitor wrote to the old file before renaming it. */
                        r = copy_to_end(fd, o);
                        if (r < 0) {
                                close(next);
                                return log_error_errno(r, "cannot read %s: %m", path);
                        }
                        /* Removed, not left to pile up: a watch pins its inode, rotated away or not. */
                        (void) inotify_rm_watch(ino, wd);
                        closep(&prev);
                        prev = TAKE_FD(fd);
                        fd = next;
                        wd = watch_fd(ino, fd, path);
                        if (wd < 0)
                                return log_error_errno(negative_errno(), "cannot watch %s: %m", path);
                        continue;
                }
                if (read(ino, events, sizeof(events)) < 0 && errno != EINTR)
                        return log_error_errno(negative_errno(), "cannot watch %s: %m", path);
        }
}

int verb_logs(int argc, char **argv) {
        static const struct option options[] = {
                { "follow", no_argument, NULL, 'f' },
                { "lines", required_argument, NULL, 'n' },
                { "raw", no_argument, NULL, 'r' },
                {},
        };
        _cleanup_close_ int fd = -EBADF, prev = -EBADF;
        LogOutput o = {};
        json_t *result = NULL;
        unsigned lines = 50;
        bool f = false;
        int c, r;

        optind = 0; /* getopt starts anew, permuting: options may follow the operands */
        while ((c = getopt_long(argc, argv, "fn:", options, NULL)) >= 0)
                switch (c) {
                case 'f':
                        f = true;
                        break;
                case 'n':
                        lines = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        o.raw = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        r = call_unit("logs", argc, argv, &result);
        if (r != EXIT_SUCCESS)
                return r;
        _cleanup_free_ char *path = xstrdup(str(result, "path", "")), *rotated = xasprintf("%s.1", path);
        json_decref(result);
        /* The current log first: if it is rotated before the older one is opened, the older one is
         * ours (read it as such: it is left out of the tail) and the follower finds the next. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                log_error_errno(negative_errno(), "cannot read %s: %m", path);
                return EXIT_FAILURE;
        }
        prev = open(rotated, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (prev >= 0) {
                struct stat a, b;
                if (fstat(prev, &a) == 0 && fstat(fd, &b) == 0 && same_file(&a, &b))
                        closep(&prev), prev = -EBADF;
        }
        tail_lines(prev, fd, lines, &o);
        if (!f) {
                if (o.n_held > 0)
                        output(&o, &o.held, 1, false);
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }
        r = follow(path, TAKE_FD(fd), TAKE_FD(prev), &o);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
