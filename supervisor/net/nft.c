/* SPDX-License-Identifier: MIT */
#include "nft.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"
#include "process-util.h"
#include "string-util.h"

/* Where nft lives on Debian, and elsewhere; PATH first. */
static const char *const nft_fallbacks[] = {"/usr/sbin/nft", "/sbin/nft", "/usr/local/sbin/nft", NULL};

/* nft's complaint, on one line: "nft: Error: ...; <the offending line>". */
static char *format_message(char *buf) {
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *joined = NULL;

        for (char *save = NULL, *line = buf ? strtok_r(buf, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save))
                if (line[strspn(line, " ^~")] != 0) /* not the caret line under the offending text */
                        strv_push(&lines, xstrdup(line));
        if (!lines)
                return xstrdup("nft failed without a message");
        joined = strv_join(lines, "; ");
        return xasprintf("nft: %s", joined);
}

int nft_run(const char *script, SupError **ret_error) {
        char *argv[] = {(char *) "nft", (char *) "-f", (char *) "-", NULL};
        _cleanup_free_ char *output = NULL, *msg = NULL;
        int status;

        /* The script is written whole before nft starts and its output read after it ended. */
        status = run_program(argv, nft_fallbacks, script, USEC_INFINITY, 1023, &output);
        if (status < 0)
                return sup_error_errno(ret_error, status, "cannot run nft");
        if (wait_status_code(status) == 0)
                return 0;
        if (wait_status_code(status) == EXIT_NOT_INSTALLED)
                return sup_error_make(ret_error, -ENOENT, "cannot run nft (install nftables)");
        msg = format_message(output);
        return sup_error_make(ret_error, -EPROTO, "%s", msg);
}
