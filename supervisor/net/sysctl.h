/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Kernel settings under /proc/sys, named by their path below it ("net/ipv4/ip_forward"). */

/* Sets the boolean key to 1 unless it is already; *ret_changed tells which. */
int sysctl_enable(const char *key, bool *ret_changed);
/* Whether the boolean key is on. */
int sysctl_read_bool(const char *key, bool *ret);
/* Sets the key to to when its value is from (and leaves it alone otherwise); *ret_changed tells
 * which. */
int sysctl_replace(const char *key, const char *from, const char *to, bool *ret_changed);
