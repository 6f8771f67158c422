/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/* Kernel settings under /proc/sys, named by their path below it ("net/ipv4/ip_forward"). */

/* Sets the boolean key to 1 unless it is already; *ret_changed tells which. */
int sysctl_enable(const char *key, bool *ret_changed);
