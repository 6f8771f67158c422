/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"
#include "unit-spec.h"

/* Parsers for the value formats of unit files, one function per format, free of YAML. Each
 * returns 0 or -EINVAL/-ERANGE; where a plain "invalid" would leave the operator guessing, the
 * optional ret_reason gets a static explanation. Outputs are written only on success. */

#define UNIT_MEMORY_MIN (UINT64_C(4) << 20)
#define UNIT_CPUS_MAX_MILLI 1024000u
#define UNIT_PIDS_MAX 4194304u
#define UNIT_LAYERS_MAX 128u

int parse_size(const char *s, uint64_t *ret, const char **ret_reason);
int parse_duration(const char *s, usec_t *ret, const char **ret_reason);
int parse_port_spec(const char *s, PortSpec *ret, const char **ret_reason);
int parse_signal(const char *s, int *ret);
int parse_capability(const char *s, unsigned *ret); /* not "ALL"; the caller handles that */
int parse_cpus(const char *s, uint32_t *ret_milli, const char **ret_reason);
int parse_mode(const char *s, mode_t *ret);
int parse_decimal(const char *s, uint64_t max, uint64_t *ret); /* plain digits, no leading zeros */

bool unit_name_is_valid(const char *s);
bool hostname_is_valid(const char *s);
bool env_name_is_valid(const char *s);
bool user_is_valid(const char *s);

/* How YAML 1.1 (PyYAML, many editors) or YAML 1.2 would read this plain (unquoted) scalar when it
 * is not a string: "boolean", "integer", "float", "null" or "timestamp"; NULL when both read it
 * as a string. Unit files refuse such scalars where a string is expected. */
const char *yaml_plain_scalar_kind(const char *s);
