/* SPDX-License-Identifier: MIT */
#pragma once

#define EXIT_USAGE 2

extern const char *arg_socket;

int verb_status(int argc, char **argv);
int verb_reload(int argc, char **argv);
int verb_unit(int argc, char **argv); /* start, stop, restart */
int verb_logs(int argc, char **argv);
int verb_top(int argc, char **argv);
