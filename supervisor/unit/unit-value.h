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

/* The limits of unit values, shared by the YAML parser and the canonical JSON codec. A list's
 * bound is far above any real unit; it is there so that a hostile or broken file costs bounded
 * memory and time, not to shape units. */
#define UNIT_MEMORY_MIN     (UINT64_C(4) << 20) /* the documented minimum (docs/unit-format.md) */
#define UNIT_CPUS_MAX_MILLI 1024000u            /* 1024 CPUs: a bound above any host sup runs on */
#define UNIT_PIDS_MAX       4194304u            /* PID_MAX_LIMIT on 64-bit kernels */
#define UNIT_IO_WEIGHT_MAX  10000u              /* cgroup v2's io.weight range is 1-10000 */
#define UNIT_LAYERS_MAX     128u                /* well below overlayfs' 500 lower layers (OVL_MAX_STACK) */
#define UNIT_PORTS_MAX      1024u               /* published ports of one unit */
#define UNIT_MOUNTS_MAX     256u                /* mounts of one unit */
#define UNIT_REQUIRES_MAX   256u                /* units one unit requires */
#define UNIT_CAPS_LIST_MAX  128u   /* names in capabilities.drop or .add (there are about 41 capabilities) */
#define UNIT_BURST_MAX      10000u /* restart.burst: starts per restart.interval */
#define UNIT_RETRIES_MAX    1000u  /* healthcheck.retries */

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
/* A named volume's name: lowercase letters, digits, '-', '_' and '.', the first a letter or a
 * digit, at most VOLUME_NAME_MAX characters. It is a directory name under the state directory:
 * never "." or "..", no '/', and one spelling per volume (no case folding to think about). */
#define VOLUME_NAME_MAX 64u
bool volume_name_is_valid(const char *s);

/* A registry: layer's reference, HOST[:PORT]/PATH[:TAG][@sha256:HEX], fully qualified: the first
 * component is a registry (it has a '.' or a ':', or is "localhost"), so that a short name such as
 * "alpine" is refused rather than looked up in whichever registries the host searches; the path's
 * components are lowercase, as the distribution spec's grammar has them. -EINVAL with the reason. */
int parse_registry_reference(const char *s, const char **ret_reason);
/* A tar: layer's file name ends in .tar, .tar.gz, .tgz or .tar.zst: the suffix says how it is
 * compressed, which the unpacker takes from it. */
bool tar_layer_name_is_valid(const char *path);
/* An OCI image layout's org.opencontainers.image.ref.name (an oci: layer's ref). */
bool oci_ref_name_is_valid(const char *s);

/* How YAML 1.1 (PyYAML, many editors) or YAML 1.2 would read this plain (unquoted) scalar when it
 * is not a string: "boolean", "integer", "float", "null" or "timestamp"; NULL when both read it
 * as a string. Unit files refuse such scalars where a string is expected. */
const char *yaml_plain_scalar_kind(const char *s);
