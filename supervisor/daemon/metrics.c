/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"
#include "string-util.h"
#include "unit-value.h"
#include "veth.h"

/* Upper bounds of the latency buckets, microseconds: a request that waits on nothing takes tens
 * of microseconds; a status with usage of a thousand units, tens of milliseconds. */
static const usec_t latency_bounds[METRICS_LATENCY_BUCKETS] = {
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

void metrics_requests_note(MetricsRequests *r, const char *method, usec_t duration) {
        MetricsRequestStats *st = NULL;

        /* method is a method table's string (or NULL): the label set is bounded by the table, not
         * by what clients send. */
        method = method ?: "other";
        for (size_t k = 0; k < r->n_methods && !st; k++)
                if (streq(r->methods[k].method, method))
                        st = &r->methods[k];
        if (!st) {
                st = ARRAY_APPEND(r->methods, r->n_methods);
                st->method = method;
        }
        st->count++;
        st->sum += duration;
        for (size_t b = 0; b < METRICS_LATENCY_BUCKETS; b++)
                if (duration <= latency_bounds[b]) {
                        st->buckets[b]++;
                        break;
                }
}

void metrics_requests_done(MetricsRequests *r) {
        free(r->methods);
        *r = (MetricsRequests){};
}

char *metrics_escape_label(const char *s) {
        char *out = xmalloc(strlen(s) * 2 + 1), *p = out;

        for (; *s; s++) {
                if (*s == '\\' || *s == '"') {
                        *p++ = '\\';
                        *p++ = *s;
                } else if (*s == '\n') {
                        *p++ = '\\';
                        *p++ = 'n';
                } else
                        *p++ = *s;
        }
        *p = 0;
        return out;
}

/* ---- the format ---- */

/* The states a unit is shown in: the monitor's (instance.h) and supd's own "unresponsive" (a
 * monitor found at start that has not answered), as `supctl status` shows them. */
static const char *const unit_states[] = {
        "starting", "running", "stopping", "stopped", "exited", "backoff", "failed", "unresponsive",
};
static const char *const health_states[] = {"starting", "healthy", "unhealthy"};

typedef enum ValueKind {
        VALUE_NUMBER,    /* a JSON number, over divisor */
        VALUE_SIGNAL,    /* a signal's name, as its number */
        VALUE_BOOL,      /* true: 1, false: 0 */
        VALUE_TIMESTAMP, /* an ISO 8601 timestamp, as seconds since the epoch */
} ValueKind;

typedef struct UnitMetric {
        const char *name, *type, *help;
        const char *object, *key; /* u[object][key], or u[key] without object */
        ValueKind kind;
        double divisor; /* to base units: 1e6 for microseconds (a division: 5583890 / 1e6 is 5.58389, * 1e-6 is not) */
} UnitMetric;

/* clang-format off */
static const UnitMetric unit_metrics[] = {
        {"sup_unit_restarts_total", "counter",
         "Automatic restarts of the unit's instance since it was created (a new instance starts at 0).",
         NULL, "restarts", VALUE_NUMBER, 1},
        {"sup_unit_last_exit_code", "gauge", "Exit status of the unit's last run that exited (absent when it was killed by a signal).",
         NULL, "exit_code", VALUE_NUMBER, 1},
        {"sup_unit_last_exit_signal", "gauge", "Signal number that killed the unit's last run (absent when it exited).",
         NULL, "exit_signal", VALUE_SIGNAL, 1},
        {"sup_unit_oom_killed", "gauge", "1 when the kernel's OOM killer struck in the unit's cgroup (as status' oom).",
         NULL, "oom", VALUE_BOOL, 1},
        {"sup_unit_oom_kills_total", "counter",
         "Runs of the unit's instance the kernel's OOM killer ended, as supd saw them (a new instance, or supd restarted, starts at 0).",
         NULL, "oom_kills", VALUE_NUMBER, 1},
        {"sup_unit_start_time_seconds", "gauge", "When the unit's current or last run started, seconds since the epoch.",
         NULL, "started_at", VALUE_TIMESTAMP, 1},
        {"sup_unit_start_duration_seconds", "gauge",
         "How long the unit's last start took, from the state starting to running (as supd saw them).",
         NULL, "start_usec", VALUE_NUMBER, 1e6},
        {"sup_unit_health_failing_streak", "gauge", "Health checks failed in a row.",
         "health", "failing_streak", VALUE_NUMBER, 1},
        {"sup_unit_cpu_seconds_total", "counter",
         "CPU time used by the unit's cgroup in its current run (hyperv: QEMU's, the guest's work included), seconds.",
         "usage", "cpu_usec", VALUE_NUMBER, 1e6},
        {"sup_unit_monitor_cpu_seconds_total", "counter", "CPU time used by the unit's monitor (its log, above all), seconds.",
         "usage", "monitor_cpu_usec", VALUE_NUMBER, 1e6},
        {"sup_unit_memory_bytes", "gauge",
         "Memory the unit's cgroup uses (hyperv: QEMU's: the guest RAM it touched and QEMU itself), bytes.",
         "usage", "memory_bytes", VALUE_NUMBER, 1},
        {"sup_unit_memory_limit_bytes", "gauge", "The memory limit of the unit's cgroup, bytes (absent: none).",
         "usage", "memory_max", VALUE_NUMBER, 1},
        {"sup_unit_pids", "gauge", "Tasks in the unit's cgroup (hyperv: QEMU's threads).",
         "usage", "pids", VALUE_NUMBER, 1},
        {"sup_unit_pids_limit", "gauge", "The task limit of the unit's cgroup (absent: none).",
         "usage", "pids_max", VALUE_NUMBER, 1},
        {"sup_unit_network_receive_bytes_total", "counter",
         "Bytes the unit received on its bridge link (network: bridge) in its current run, as the host's end counts them.",
         "network", "receive_bytes", VALUE_NUMBER, 1},
        {"sup_unit_network_transmit_bytes_total", "counter",
         "Bytes the unit sent on its bridge link (network: bridge) in its current run, as the host's end counts them.",
         "network", "transmit_bytes", VALUE_NUMBER, 1},
        {"sup_unit_vm_guest_memory_bytes", "gauge", "hyperv: the guest's RAM, bytes (what the guest may touch).",
         "vm", "memory", VALUE_NUMBER, 1},
        {"sup_unit_vm_vcpus", "gauge", "hyperv: the guest's vCPUs.",
         "vm", "vcpus", VALUE_NUMBER, 1},
        {"sup_unit_vm_guest_resident_bytes", "gauge",
         "hyperv: the guest RAM QEMU holds resident, bytes (touched by the guest and not given back).",
         "usage", "vm_guest_resident_bytes", VALUE_NUMBER, 1},
        {"sup_unit_vm_overhead_bytes", "gauge",
         "hyperv: QEMU's own resident memory beside the guest RAM, bytes (code cache, binary, libraries, heap).",
         "usage", "vm_overhead_bytes", VALUE_NUMBER, 1},
};
/* clang-format on */

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void print_number(FILE *f, double v) {
        if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", f);
        else if (isnan(v))
                fputs("NaN", f);
        else if (v == floor(v) && fabs(v) < 1e15)
                fprintf(f, "%.0f", v);
        else {
                /* The shortest form that reads back as v: 0.0625 rather than 0.062500000000000001,
                 * and a timestamp's microseconds kept. */
                char buf[32];
                for (int precision = 15; precision <= 17; precision++) {
                        (void) snprintf(buf, sizeof(buf), "%.*g", precision, v);
                        if (strtod(buf, NULL) == v)
                                break;
                }
                fputs(buf, f);
        }
}

static bool unit_value(const json_t *u, const UnitMetric *um, double *ret) {
        const json_t *o = um->object ? json_object_get(u, um->object) : u;
        const json_t *v = json_object_get(o, um->key);
        usec_t t;
        int sig;

        switch (um->kind) {
        case VALUE_NUMBER:
                if (!json_is_number(v))
                        return false;
                *ret = json_number_value(v) / um->divisor;
                return true;
        case VALUE_SIGNAL:
                if (!json_is_string(v) || parse_signal(json_string_value(v), &sig) < 0)
                        return false;
                *ret = sig;
                return true;
        case VALUE_BOOL:
                if (!json_is_boolean(v))
                        return false;
                *ret = json_is_true(v);
                return true;
        case VALUE_TIMESTAMP:
                if (!json_is_string(v) || timestamp_from_json(v, &t) < 0 || t == 0)
                        return false;
                *ret = (double) t / 1e6;
                return true;
        }
        return false;
}

/* The units to show: the first object of each name (the generation's unit comes before an
 * instance of the same name on its way out). */
static size_t shown_units(const json_t *units, const json_t ***ret) {
        size_t n = 0;
        const json_t **list = xnew0(const json_t *, json_array_size(units) + 1);

        for (size_t k = 0; k < json_array_size(units); k++) {
                const json_t *u = json_array_get(units, k);
                const char *name = json_string_value(json_object_get(u, "name"));
                bool seen = false;

                if (!name)
                        continue;
                for (size_t j = 0; j < n && !seen; j++)
                        seen = streq(json_string_value(json_object_get(list[j], "name")), name);
                if (!seen)
                        list[n++] = u;
        }
        *ret = list;
        return n;
}

/* unit="NAME",isolation="MODE" */
static char *unit_labels(const json_t *u) {
        _cleanup_free_ char *name = metrics_escape_label(json_string_value(json_object_get(u, "name")) ?: ""),
                            *iso = metrics_escape_label(json_string_value(json_object_get(u, "isolation")) ?: "");
        return xasprintf("unit=\"%s\",isolation=\"%s\"", name, iso);
}

static void format_units(FILE *f, const json_t *const *units, char **labels, size_t n) {
        header(f, "sup_unit_state", "gauge",
               "The unit's state, one series per state: 1 for the one it is in (as `supctl status` shows it).");
        for (size_t k = 0; k < n; k++) {
                const char *state = json_string_value(json_object_get(units[k], "state")) ?: "";
                for (size_t s = 0; s < ELEMENTSOF(unit_states); s++)
                        fprintf(f, "sup_unit_state{%s,state=\"%s\"} %d\n", labels[k], unit_states[s],
                                streq(state, unit_states[s]));
        }
        header(f, "sup_unit_health", "gauge",
               "The unit's health (units with a healthcheck, once a run began), one series per state: 1 for its.");
        for (size_t k = 0; k < n; k++) {
                const char *health = json_string_value(json_object_get(json_object_get(units[k], "health"), "status"));
                if (!health)
                        continue;
                for (size_t s = 0; s < ELEMENTSOF(health_states); s++)
                        fprintf(f, "sup_unit_health{%s,state=\"%s\"} %d\n", labels[k], health_states[s],
                                streq(health, health_states[s]));
        }
        for (size_t m = 0; m < ELEMENTSOF(unit_metrics); m++) {
                header(f, unit_metrics[m].name, unit_metrics[m].type, unit_metrics[m].help);
                for (size_t k = 0; k < n; k++) {
                        double v;
                        if (!unit_value(units[k], &unit_metrics[m], &v))
                                continue;
                        fprintf(f, "%s{%s} ", unit_metrics[m].name, labels[k]);
                        print_number(f, v);
                        fputc('\n', f);
                }
        }
}

static void format_daemon(FILE *f, const json_t *const *units, size_t n, const MetricsDaemon *d) {
        header(f, "sup_units", "gauge", "Units by the state they are in.");
        for (size_t s = 0; s < ELEMENTSOF(unit_states); s++) {
                size_t count = 0;
                for (size_t k = 0; k < n; k++)
                        count += streq(json_string_value(json_object_get(units[k], "state")) ?: "", unit_states[s]);
                fprintf(f, "sup_units{state=\"%s\"} %zu\n", unit_states[s], count);
        }
        header(f, "sup_reloads_total", "counter",
               "Reloads of the units directory applied (supd's first load included).");
        fprintf(f, "sup_reloads_total %" PRIu64 "\n", d->reloads);
        header(f, "sup_reloads_refused_total", "counter", "Reloads refused because a unit was not valid.");
        fprintf(f, "sup_reloads_refused_total %" PRIu64 "\n", d->reloads_refused);
        header(f, "sup_monitors", "gauge",
               "The monitors supd knows (one per instance), by the life supd sees of each.");
        for (int l = 0; l < _LIFE_MAX; l++)
                fprintf(f, "sup_monitors{life=\"%s\"} %zu\n", instance_life_to_string(l), d->monitors[l]);

        header(f, "sup_control_request_duration_seconds", "histogram",
               "Control requests by method, and the time supd's loop spent on each (not the wait for a monitor "
               "or a worker).");
        for (size_t k = 0; d->requests && k < d->requests->n_methods; k++) {
                const MetricsRequestStats *st = &d->requests->methods[k];
                uint64_t cumulative = 0;
                for (size_t b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
                        cumulative += st->buckets[b];
                        fprintf(f, "sup_control_request_duration_seconds_bucket{method=\"%s\",le=\"", st->method);
                        print_number(f, (double) latency_bounds[b] / 1e6);
                        fprintf(f, "\"} %" PRIu64 "\n", cumulative);
                }
                fprintf(f, "sup_control_request_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                        st->method, st->count);
                fprintf(f, "sup_control_request_duration_seconds_sum{method=\"%s\"} ", st->method);
                print_number(f, (double) st->sum / 1e6);
                fprintf(f, "\nsup_control_request_duration_seconds_count{method=\"%s\"} %" PRIu64 "\n", st->method,
                        st->count);
        }

        header(f, "sup_build_info", "gauge", "supd's version, as a label.");
        fprintf(f, "sup_build_info{version=\"%s\"} 1\n", SUP_VERSION);
        if (d->cpu_seconds >= 0) {
                header(f, "process_cpu_seconds_total", "counter", "supd's CPU time, user and system, seconds.");
                fputs("process_cpu_seconds_total ", f);
                print_number(f, d->cpu_seconds);
                fputc('\n', f);
        }
        if (d->resident_bytes != UINT64_MAX) {
                header(f, "process_resident_memory_bytes", "gauge", "supd's resident memory, bytes.");
                fprintf(f, "process_resident_memory_bytes %" PRIu64 "\n", d->resident_bytes);
        }
        if (d->open_fds != UINT64_MAX) {
                header(f, "process_open_fds", "gauge", "supd's open file descriptors.");
                fprintf(f, "process_open_fds %" PRIu64 "\n", d->open_fds);
        }
        if (d->max_fds != UINT64_MAX) {
                header(f, "process_max_fds", "gauge", "supd's limit of open file descriptors.");
                fprintf(f, "process_max_fds %" PRIu64 "\n", d->max_fds);
        }
        if (d->start_time_seconds > 0) {
                header(f, "process_start_time_seconds", "gauge", "When supd started, seconds since the epoch.");
                fputs("process_start_time_seconds ", f);
                print_number(f, d->start_time_seconds);
                fputc('\n', f);
        }
}

char *metrics_format(const json_t *units, const MetricsDaemon *d) {
        _cleanup_free_ const json_t **list = NULL;
        size_t n = shown_units(units, &list), size = 0;
        char **labels = xnew0(char *, n + 1), *text = NULL;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                abort(); /* as alloc.h's x*() */
        for (size_t k = 0; k < n; k++)
                labels[k] = unit_labels(list[k]);
        format_units(f, list, labels, n);
        format_daemon(f, list, n, d);
        if (fclose(f) != 0)
                abort();
        strv_free(labels);
        return text;
}

/* ---- gathering ---- */

static bool read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        char *end;

        /* sysfs says 4096 bytes of every attribute. */
        if (read_full_file(path, 4096, &text, NULL) < 0)
                return false;
        errno = 0;
        *ret = strtoull(text, &end, 10);
        return errno == 0 && end != text;
}

/* The unit's link to the bridge (a veth for process units, a tap for hyperv ones), named after
 * the unit (veth.h): what its host end received the unit sent, and the other way round. */
static json_t *network_json(Manager *m, const Instance *i) {
        char ifname[IFNAMSIZ], path[128];
        uint64_t rx, tx;

        if (!i->spec || i->spec->network != NETWORK_BRIDGE || i->spec->share.network.name)
                return NULL;
        veth_name(m->config.cgroup_parent, i->name, ifname);
        (void) snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_bytes", ifname);
        if (!read_u64(path, &rx))
                return NULL;
        (void) snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_bytes", ifname);
        if (!read_u64(path, &tx))
                return NULL;
        return json_pack("{s:I, s:I}", "receive_bytes", (json_int_t) tx, "transmit_bytes", (json_int_t) rx);
}

/* /proc/self/stat's utime, stime, starttime and rss; /proc/stat's btime. */
static void read_process(MetricsDaemon *d) {
        _cleanup_free_ char *stat = NULL, *sys = NULL;
        unsigned long long utime, stime, start, btime;
        long rss, ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        const char *p, *b;
        _cleanup_(closedirp) DIR *dir = NULL;
        struct rlimit rl;

        d->cpu_seconds = -1;
        d->resident_bytes = d->open_fds = d->max_fds = UINT64_MAX;
        /* After the command's closing parenthesis: state is field 3; utime 14, stime 15, starttime 22,
         * rss 24. */
        if (read_full_file("/proc/self/stat", 4096, &stat, NULL) >= 0 && (p = strrchr(stat, ')')) &&
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
                   &utime, &stime, &start, &rss) == 4 &&
            ticks > 0) {
                d->cpu_seconds = (double) (utime + stime) / (double) ticks;
                d->resident_bytes = (uint64_t) rss * (uint64_t) page;
                if (read_full_file("/proc/stat", 64 * 1024, &sys, NULL) >= 0 && (b = strstr(sys, "\nbtime ")) &&
                    sscanf(b, "\nbtime %llu", &btime) == 1)
                        d->start_time_seconds = (double) btime + (double) start / (double) ticks;
        }
        dir = opendir("/proc/self/fd");
        if (dir) {
                uint64_t n = 0;
                for (struct dirent *de; (de = readdir(dir));)
                        n += de->d_name[0] != '.';
                d->open_fds = n - 1; /* the directory's own */
        }
        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY)
                d->max_fds = rl.rlim_cur;
}

char *metrics_collect(Manager *m, const MetricsRequests *requests) {
        _cleanup_(json_decrefp) json_t *units = manager_status_json(m, NULL, true);
        MetricsDaemon d = {.reloads = m->n_reloads, .reloads_refused = m->n_reloads_refused, .requests = requests};
        size_t k;
        json_t *u;

        for (Instance *i = m->instances; i; i = i->next)
                d.monitors[i->life]++;
        json_array_foreach(units, k, u) {
                const char *name = json_string_value(json_object_get(u, "name"));
                Instance *i = name ? manager_find(m, name) : NULL;
                json_t *net;

                if (!i)
                        continue;
                if (instance_state_is_active(i->status.state) && (net = network_json(m, i)))
                        json_object_set_new(u, "network", net);
                if (i->start_usec > 0)
                        json_object_set_new(u, "start_usec", json_integer((json_int_t) i->start_usec));
                json_object_set_new(u, "oom_kills", json_integer(i->oom_kills));
        }
        read_process(&d);
        /* Every unit's status objects took supd's heap up by some 6 MiB at a thousand units, which
         * stayed there without a trim. */
        manager_trim_soon(m);
        return metrics_format(units, &d);
}

void metrics_note_state(Instance *i, int old, InstanceState new) {
        usec_t t = now(CLOCK_MONOTONIC);

        if (new == INSTANCE_STARTING && old != INSTANCE_STARTING)
                i->starting_since = t;
        else if (new == INSTANCE_RUNNING && old == INSTANCE_STARTING && i->starting_since > 0) {
                i->start_usec = MAX(t - i->starting_since, (usec_t) 1);
                i->starting_since = 0;
        } else if (new != INSTANCE_STARTING)
                i->starting_since = 0;
}
