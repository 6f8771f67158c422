/* SPDX-License-Identifier: MIT */
#include "status-table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "instance.h"
#include "macro.h"
#include "string-util.h"

const char *const status_table_fields[STATUS_TABLE_N_FIELDS] = {
        "name",      "isolation",   "state", "health",   "pid",    "started_at", "next_restart_at",
        "exit_code", "exit_signal", "oom",   "restarts", "reason", "pull",
};

/* The reason, cut to the terminal's usual width: `supctl status UNIT` has it whole. */
#define NOTE_MAX 60

static const char *str(const json_t *o, const char *key, const char *dflt) {
        return json_string_value(json_object_get(o, key)) ?: dflt;
}

static usec_t timestamp(const json_t *o, const char *key) {
        usec_t t = 0;
        return timestamp_from_json(json_object_get(o, key), &t) < 0 ? 0 : t;
}

void status_last_exit(const json_t *o, char *buf, size_t size) {
        json_t *code = json_object_get(o, "exit_code");
        const char *sig = str(o, "exit_signal", NULL);
        bool oom = json_is_true(json_object_get(o, "oom"));

        if (json_is_integer(code))
                snprintf(buf, size, "code %lld%s", (long long) json_integer_value(code), oom ? " (oom)" : "");
        else if (sig)
                snprintf(buf, size, "%s%s", sig, oom ? " (oom)" : "");
        else
                snprintf(buf, size, "-");
}

bool status_format_pull(const json_t *o, char *buf, size_t size) {
        const json_t *p = json_object_get(o, "pull");

        if (!json_is_object(p))
                return false;
        snprintf(buf, size, "pulling %s: %lld/%lld layers, %lld/%lld bytes", str(p, "reference", "?"),
                 (long long) json_integer_value(json_object_get(p, "layers_done")),
                 (long long) json_integer_value(json_object_get(p, "layers_total")),
                 (long long) json_integer_value(json_object_get(p, "bytes_done")),
                 (long long) json_integer_value(json_object_get(p, "bytes_total")));
        return true;
}

char *status_table_format(const json_t *units, usec_t now) {
        char *text = NULL;
        size_t len = 0, k;
        json_t *o;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return NULL;
        fprintf(f, "%-16s %-9s %-8s %-9s %7s %-8s %8s %-13s %-12s %s\n", "UNIT", "ISOLATION", "STATE", "HEALTH", "PID",
                "UPTIME", "RESTARTS", "LAST EXIT", "NEXT RESTART", "NOTE");
        json_array_foreach(units, k, o) {
                char pid[16] = "-", up[32] = "-", ex[64], next[32] = "-", nextcol[48], pull[512];
                const char *state = str(o, "state", "?"), *note;
                usec_t started = timestamp(o, "started_at"), next_at = timestamp(o, "next_restart_at");
                size_t n;

                if (json_is_integer(json_object_get(o, "pid")))
                        snprintf(pid, sizeof(pid), "%lld", (long long) json_integer_value(json_object_get(o, "pid")));
                if (streq(state, "running") && started && now > started)
                        format_timespan(now - started, up, sizeof(up));
                if (next_at)
                        format_timespan(next_at > now ? next_at - now : 0, next, sizeof(next));
                status_last_exit(o, ex, sizeof(ex));
                note = str(o, "reason", NULL) ?: (status_format_pull(o, pull, sizeof(pull)) ? pull : "");
                snprintf(nextcol, sizeof(nextcol), "%s%s", next_at ? "in " : "", next);
                fprintf(f, "%-16s %-9s %-8s %-9s %7s %-8s %8lld %-13s %-12s ", str(o, "name", "?"),
                        str(o, "isolation", "?"), state, str(json_object_get(o, "health"), "status", "-"), pid, up,
                        (long long) json_integer_value(json_object_get(o, "restarts")), ex, nextcol);
                /* Cut between two characters, never inside one: the text goes out as a JSON
                 * string, which must be UTF-8 (as the reason is). */
                n = strlen(note);
                size_t cut = MIN(n, (size_t) NOTE_MAX);
                while (cut > 0 && cut < n && ((unsigned char) note[cut] & 0xc0) == 0x80)
                        cut--;
                (void) fwrite_sanitized(note, cut, "", false, f);
                fputs(cut < n ? "...\n" : "\n", f);
        }
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}
