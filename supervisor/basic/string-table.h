/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <string.h>

#include "macro.h"

/* An enum's names live in one table, used by the unit parser, the JSON protocol and supctl alike.
 * name##_to_string() returns NULL for values out of range; name##_from_string() returns -EINVAL
 * (the enum's _INVALID) for unknown strings. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type, max)                         \
        const char *name##_to_string(type i) {                              \
                if ((int) i < 0 || (int) i >= (int) (max))                 \
                        return NULL;                                        \
                return name##_table[i];                                     \
        }                                                                   \
        type name##_from_string(const char *s) {                            \
                if (!s)                                                     \
                        return (type) - EINVAL;                             \
                for (int i = 0; i < (int) (max); i++)                       \
                        if (name##_table[i] && streq(name##_table[i], s))   \
                                return (type) i;                            \
                return (type) - EINVAL;                                     \
        }

#define DECLARE_STRING_TABLE_LOOKUP(name, type) \
        const char *name##_to_string(type i);   \
        type name##_from_string(const char *s)
