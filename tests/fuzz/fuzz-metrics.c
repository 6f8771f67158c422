/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for what the metrics endpoint and format take from outside: an HTTP request
 * head (metrics-http.h: what any client on the address sends), an ADDR of --metrics-listen, and
 * status objects with any strings (unit names reach the labels). Invariants: no crash, no leak,
 * a status code among those the endpoint sends, and every line of the text a comment or a
 * sample of ours: a newline or quote in a label value is escaped, never a line of its own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "metrics-http.h"
#include "metrics.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_format(const char *text, size_t size) {
        json_t *units = json_loadb(text, size, JSON_DECODE_ANY, NULL);
        MetricsDaemon d = {
                .cpu_seconds = -1, .resident_bytes = UINT64_MAX, .open_fds = UINT64_MAX, .max_fds = UINT64_MAX};
        char *out;

        if (!json_is_array(units)) {
                json_decref(units);
                return;
        }
        out = metrics_format(units, &d);
        for (char *line = out, *end; *line; line = end + 1) {
                end = strchr(line, '\n');
                if (!end)
                        abort(); /* every line ends */
                if (!startswith(line, "# HELP ") && !startswith(line, "# TYPE ") && !startswith(line, "sup_"))
                        abort();
        }
        free(out);
        json_decref(units);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = xstrndup((const char *) data, size);
        MetricsAddress a;
        const char *why;
        bool head_only;
        int status;

        status = metrics_http_request_status((const char *) data, size, &head_only);
        if (status != 200 && status != 400 && status != 404 && status != 405)
                abort();
        if (metrics_address_parse(s, &a, &why) < 0 && !why)
                abort();
        check_format((const char *) data, size);
        free(s);
        return 0;
}
