/* SPDX-License-Identifier: MIT */
/* monitor-call SOCKET METHOD [PARAMS-JSON]: one request on a JSON-lines socket (a monitor's, or
 * supd's), its reply printed as one line of JSON. Exit 0 for a result, 1 for an error reply, 2
 * when no reply came. For the integration tests (not installed). */

#include <stdio.h>
#include <stdlib.h>

#include "json-conn.h"
#include "macro.h"
#include "socket-util.h"

int main(int argc, char **argv) {
        _cleanup_close_ int fd = -EBADF;
        json_t *params = NULL, *reply = NULL;
        json_error_t jerr;
        char *text;
        int r;

        if (argc < 3 || argc > 4) {
                fprintf(stderr, "usage: monitor-call SOCKET METHOD [PARAMS-JSON]\n");
                return 2;
        }
        if (argc == 4 && !(params = json_loads(argv[3], 0, &jerr))) {
                fprintf(stderr, "monitor-call: params: %s\n", jerr.text);
                return 2;
        }
        fd = unix_connect(argv[1], 0);
        if (fd < 0) {
                fprintf(stderr, "monitor-call: cannot connect to %s: %s\n", argv[1], strerror(-fd));
                return 2;
        }
        r = json_call(fd, argv[2], params, 120 * USEC_PER_SEC, &reply);
        json_decref(params);
        if (r < 0) {
                fprintf(stderr, "monitor-call: %s: %s\n", argv[2], strerror(-r));
                return 2;
        }
        text = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", text);
        free(text);
        r = json_object_get(reply, "result") ? 0 : 1;
        json_decref(reply);
        return r;
}
