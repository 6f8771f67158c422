/* SPDX-License-Identifier: MIT */
/* supctl metrics: supd's metrics in the Prometheus text format (docs/metrics.md), as its
 * --metrics-listen endpoint serves them, for a look or a textfile collector. */
#include <stdio.h>

#include "log.h"
#include "macro.h"
#include "supctl.h"

/* A scrape reads a few cgroup files per running unit, on supd's loop. */
#define METRICS_TIMEOUT (30 * USEC_PER_SEC)

int verb_metrics(int argc, char **argv) {
        json_t *result = NULL, *text;
        int r;

        if (argc != 1) {
                log_error("metrics takes no arguments");
                return EXIT_USAGE;
        }
        r = supd_call("metrics", NULL, METRICS_TIMEOUT, &result);
        if (r != EXIT_SUCCESS)
                return r;
        text = json_object_get(result, "text");
        if (!json_is_string(text)) {
                log_error("supd's reply has no metrics");
                json_decref(result);
                return EXIT_FAILURE;
        }
        (void) fwrite(json_string_value(text), 1, json_string_length(text), stdout);
        json_decref(result);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
