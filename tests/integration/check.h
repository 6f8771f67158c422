/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>

/* For the integration tests' cases, functions that return 0 or -1: a check that fails says where
 * and what, and ends the case. */
#define CHECK(expr)                                                                        \
        do {                                                                               \
                if (!(expr)) {                                                             \
                        fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #expr); \
                        return -1;                                                         \
                }                                                                          \
        } while (0)
