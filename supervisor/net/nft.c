/* SPDX-License-Identifier: MIT */
#include "nft.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"
#include "process-util.h"

/* Where nft lives on Debian, and elsewhere; PATH first. */
static const char *const nft_fallbacks[] = {"/usr/sbin/nft", "/sbin/nft", "/usr/local/sbin/nft", NULL};

/* nft's complaint, on one line: "Error: ...; <the offending line>". */
static void format_message(char *buf, char *err, size_t errlen) {
        size_t w = 0;

        if (!buf || !*buf) {
                snprintf(err, errlen, "nft failed without a message");
                return;
        }
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line && w + 1 < errlen;
             line = strtok_r(NULL, "\n", &save)) {
                if (line[strspn(line, " ^~")] == 0) /* the caret line under the offending text */
                        continue;
                w += (size_t) snprintf(err + w, errlen - w, "%s%s", w ? "; " : "nft: ", line);
        }
}

int nft_run(const char *script, char *err, size_t errlen) {
        char *argv[] = {(char *) "nft", (char *) "-f", (char *) "-", NULL};
        _cleanup_free_ char *output = NULL;
        int status;

        /* The script is written whole before nft starts and its output read after it ended. */
        status = run_program(argv, nft_fallbacks, script, USEC_INFINITY, 1023, &output);
        if (status < 0)
                return status;
        if (wait_status_code(status) == 0)
                return 0;
        if (wait_status_code(status) == EXIT_NOT_INSTALLED) {
                snprintf(err, errlen, "cannot run nft (install nftables)");
                return -ENOENT;
        }
        format_message(output, err, errlen);
        return -EPROTO;
}
