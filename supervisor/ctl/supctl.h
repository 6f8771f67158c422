/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "time-util.h"

#define EXIT_USAGE 2

extern const char *arg_socket;

int verb_status(int argc, char **argv);
int verb_reload(int argc, char **argv);
int verb_unit(int argc, char **argv); /* start, stop, restart */
int verb_logs(int argc, char **argv);
int verb_top(int argc, char **argv);
int verb_wait(int argc, char **argv);
int verb_image(int argc, char **argv);
int verb_exec(int argc, char **argv);
int verb_volume(int argc, char **argv);
int verb_metrics(int argc, char **argv);
int verb_events(int argc, char **argv);

/* supd's control socket: --socket, else $SUP_RUN_DIR/supd.sock, else /run/sup/supd.sock. */
char *supd_socket_path(void);

/* Connects to supd's control socket: the fd, or -errno after saying why on stderr. */
int supd_connect(void);

/* Calls supd (params is consumed) and waits up to timeout for its reply; on failure prints why
 * and returns the exit status to use. */
int supd_call(const char *method, json_t *params, usec_t timeout, json_t **ret_result);
/* The option of the verbs that only have --json; the operands are left at argv[optind...]. */
int parse_json_option(int argc, char **argv, bool *ret_json);
/* Bytes as top shows memory: B, K, then M and G with one decimal. */
void format_rss(json_int_t bytes, char *buf, size_t size);

/* Calls supd (params is consumed) and prints its result: as JSON with json, else as print has it
 * (the image and volume verbs). */
int call_print(const char *method, json_t *params, usec_t timeout, bool json,
               void (*print)(const json_t *result, bool flag), bool flag);
