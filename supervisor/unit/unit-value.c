/* SPDX-License-Identifier: MIT */
#include "unit-value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <sys/capability.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"

/* A DNS label (RFC 1035): a unit name, and each part of a host name. */
#define DNS_LABEL_MAX 63
/* No real variable name is longer; it bounds the canonical form's env keys. */
#define ENV_NAME_MAX 256
/* A user or group name as useradd takes it (UT_NAMESIZE). */
#define USER_NAME_MAX 32
/* Longer than any YAML boolean, number or date; a bound that keeps regexec off hostile input. */
#define YAML_PLAIN_KIND_MAX 1024

#define REASON(r) \
        do { \
                if (ret_reason) \
                        *ret_reason = (r); \
        } while (0)

int parse_decimal(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!*s || (s[0] == '0' && s[1]))
                return -EINVAL;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                if (v > (max - (uint64_t) (*c - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        *ret = v;
        return 0;
}

/* Parses "<digits>[.<digits>]" at *p into an integer scaled by 10^decimals (truncating further
 * digits only when allow_truncate), advancing *p. */
static int parse_fixed(const char **p, unsigned decimals, bool allow_truncate, uint64_t *ret) {
        const char *c = *p;
        uint64_t v = 0;
        unsigned frac = 0;
        bool any = false;

        for (; *c >= '0' && *c <= '9'; c++, any = true) {
                if (v > (UINT64_MAX / 10 - 9))
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        if (*c == '.') {
                c++;
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                for (; *c >= '0' && *c <= '9'; c++) {
                        if (frac < decimals) {
                                if (v > (UINT64_MAX / 10 - 9))
                                        return -ERANGE;
                                v = v * 10 + (uint64_t) (*c - '0');
                                frac++;
                        } else if (!allow_truncate)
                                return -EINVAL;
                }
        }
        if (!any)
                return -EINVAL;
        for (; frac < decimals; frac++) {
                if (v > UINT64_MAX / 10)
                        return -ERANGE;
                v *= 10;
        }
        *p = c;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret, const char **ret_reason) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } suffixes[] = {
                { "", 0 },     { "B", 0 },     { "K", 10 },    { "Ki", 10 },   { "KiB", 10 },
                { "M", 20 },   { "Mi", 20 },   { "MiB", 20 },  { "G", 30 },    { "Gi", 30 },
                { "GiB", 30 }, { "T", 40 },    { "Ti", 40 },   { "TiB", 40 },
        };
        const char *p = s;
        uint64_t milli;
        int r;

        /* Three decimals are plenty ("1.5G"); the value is computed in thousandths so that it
         * stays exact, then rounded down to whole bytes. */
        r = parse_fixed(&p, 3, false, &milli);
        if (r < 0) {
                REASON(r == -ERANGE ? "the number is too large" : "expected a number, then K, M, G or T");
                return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                if (!streq(p, suffixes[i].suffix))
                        continue;
                if (milli > (UINT64_MAX >> suffixes[i].shift)) {
                        REASON("the size is too large");
                        return -ERANGE;
                }
                *ret = (milli << suffixes[i].shift) / 1000;
                return 0;
        }
        if (streq(p, "KB") || streq(p, "MB") || streq(p, "GB") || streq(p, "TB"))
                REASON("KB, MB, GB and TB are ambiguous (powers of 1000 or 1024?): write K, M, G or T, which are powers of 1024");
        else if (strlen(p) <= 3 && islower((unsigned char) p[0]))
                REASON("suffixes are upper case: K, M, G or T (lower-case m means milli elsewhere)");
        else
                REASON("expected a number of bytes, optionally followed by K, M, G or T");
        return -EINVAL;
}

int parse_duration(const char *s, usec_t *ret, const char **ret_reason) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                /* "ms" before "m" and "us" before "s" are ordered by the longest-match loop below. */
                { "us", 1 },          { "ms", USEC_PER_MSEC },   { "s", USEC_PER_SEC },
                { "m", USEC_PER_MINUTE }, { "h", USEC_PER_HOUR }, { "d", USEC_PER_DAY },
        };
        const char *p = s;
        usec_t total = 0;

        if (!*s) {
                REASON("expected a duration like 10s, 500ms or 1m30s");
                return -EINVAL;
        }
        while (*p) {
                uint64_t milli;
                size_t best = SIZE_MAX, best_len = 0;
                int r = parse_fixed(&p, 3, false, &milli);

                if (r < 0) {
                        REASON(r == -ERANGE ? "the duration is too long"
                                            : "expected a duration like 10s, 500ms or 1m30s (at most three decimals)");
                        return r;
                }
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        size_t l = strlen(units[i].suffix);
                        if (strneq(p, units[i].suffix, l) && l > best_len && !(p[l] >= 'a' && p[l] <= 'z')) {
                                best = i;
                                best_len = l;
                        }
                }
                if (best == SIZE_MAX) {
                        REASON(*p ? "expected a unit: us, ms, s, m, h or d"
                                  : "a bare number is ambiguous (seconds? milliseconds?): add a unit, like 10s or 500ms");
                        return -EINVAL;
                }
                if (units[best].usec > 0 && milli > UINT64_MAX / units[best].usec) {
                        REASON("the duration is too long");
                        return -ERANGE;
                }
                usec_t add = milli * units[best].usec / 1000;
                if (add > USEC_INFINITY - 1 - total) {
                        REASON("the duration is too long");
                        return -ERANGE;
                }
                total += add;
                p += best_len;
        }
        *ret = total;
        return 0;
}

static int parse_port_number(const char *s, size_t n, uint16_t *ret) {
        char buf[8];
        uint64_t v;

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (parse_decimal(buf, UINT16_MAX, &v) < 0 || v == 0)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

int parse_port_spec(const char *s, PortSpec *ret, const char **ret_reason) {
        PortSpec p = { .family = AF_UNSPEC, .protocol = PORT_TCP };
        const char *rest = s, *slash, *colon;
        char addr[INET6_ADDRSTRLEN + 1];

        /* [ip:]host:container[/proto], IPv6 addresses in brackets. */
        slash = strchr(s, '/');
        if (slash) {
                int proto = port_protocol_from_string(slash + 1);
                if (proto < 0) {
                        REASON("the protocol after / must be tcp or udp");
                        return -EINVAL;
                }
                p.protocol = (PortProtocol) proto;
        }
        size_t len = slash ? (size_t) (slash - s) : strlen(s);

        if (rest[0] == '[') {
                const char *close = memchr(rest, ']', len);
                size_t alen;
                if (!close || close[1] != ':') {
                        REASON("an IPv6 address in brackets must be followed by :host:container");
                        return -EINVAL;
                }
                alen = (size_t) (close - rest - 1);
                if (alen >= sizeof(addr)) {
                        REASON("not a valid IPv6 address");
                        return -EINVAL;
                }
                memcpy(addr, rest + 1, alen);
                addr[alen] = 0;
                if (inet_pton(AF_INET6, addr, &p.address.in6) != 1) {
                        REASON("not a valid IPv6 address");
                        return -EINVAL;
                }
                p.family = AF_INET6;
                len -= (size_t) (close + 2 - rest);
                rest = close + 2;
        } else {
                /* Two colons: the first part is an IPv4 address. More: probably IPv6 without brackets. */
                const char *c1 = memchr(rest, ':', len);
                const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - rest)) : NULL;
                if (c2) {
                        size_t alen = (size_t) (c1 - rest);
                        if (memchr(c2 + 1, ':', len - (size_t) (c2 + 1 - rest))) {
                                REASON("too many colons: write IPv6 addresses in brackets, like [::1]:8080:80");
                                return -EINVAL;
                        }
                        if (alen >= sizeof(addr) || (memcpy(addr, rest, alen), addr[alen] = 0,
                                                     inet_pton(AF_INET, addr, &p.address.in) != 1)) {
                                REASON("expected [ip:]host:container[/tcp|udp] with an IPv4 address or an IPv6 address in brackets");
                                return -EINVAL;
                        }
                        p.family = AF_INET;
                        len -= alen + 1;
                        rest = c1 + 1;
                }
        }

        colon = memchr(rest, ':', len);
        if (!colon) {
                REASON("expected [ip:]host:container[/tcp|udp]: both the host and the container port");
                return -EINVAL;
        }
        if (parse_port_number(rest, (size_t) (colon - rest), &p.host_port) < 0 ||
            parse_port_number(colon + 1, len - (size_t) (colon + 1 - rest), &p.container_port) < 0) {
                REASON("ports are numbers from 1 to 65535");
                return -EINVAL;
        }
        *ret = p;
        return 0;
}

int parse_signal(const char *s, int *ret) {
        const char *name = startswith(s, "SIG") ?: s;
        const char *rt;
        uint64_t n;

        if ((rt = startswith(name, "RTMIN"))) {
                if (!*rt) {
                        *ret = SIGRTMIN;
                        return 0;
                }
                if (*rt != '+' || parse_decimal(rt + 1, (uint64_t) (SIGRTMAX - SIGRTMIN), &n) < 0)
                        return -EINVAL;
                *ret = SIGRTMIN + (int) n;
                return 0;
        }
        if ((rt = startswith(name, "RTMAX"))) {
                if (!*rt) {
                        *ret = SIGRTMAX;
                        return 0;
                }
                if (*rt != '-' || parse_decimal(rt + 1, (uint64_t) (SIGRTMAX - SIGRTMIN), &n) < 0)
                        return -EINVAL;
                *ret = SIGRTMAX - (int) n;
                return 0;
        }
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *abbrev = sigabbrev_np(sig);
                if (abbrev && streq(abbrev, name)) {
                        *ret = sig;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_capability(const char *s, unsigned *ret) {
        _cleanup_free_ char *name = NULL;
        cap_value_t cap;

        /* cap_from_name() also takes numbers; a unit names capabilities. */
        if (!*s || isdigit((unsigned char) s[0]))
                return -EINVAL;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && *c != '_')
                        return -EINVAL;
        name = strncasecmp(s, "CAP_", 4) == 0 ? xstrdup(s) : xasprintf("CAP_%s", s);
        if (cap_from_name(name, &cap) < 0 || cap < 0 || cap >= (int) UNIT_CAPABILITY_BITS)
                return -EINVAL;
        *ret = (unsigned) cap;
        return 0;
}

int parse_cpus(const char *s, uint32_t *ret_milli, const char **ret_reason) {
        const char *p = s;
        uint64_t milli;
        int r = parse_fixed(&p, 3, false, &milli);

        if (r < 0 || *p) {
                REASON("at most three decimals");
                return -EINVAL;
        }
        if (milli == 0 || milli > UNIT_CPUS_MAX_MILLI) {
                REASON("it must be more than 0 and at most 1024");
                return -ERANGE;
        }
        *ret_milli = (uint32_t) milli;
        return 0;
}

int parse_mode(const char *s, mode_t *ret) {
        size_t n = strlen(s);
        mode_t m = 0;

        if (n < 3 || n > 4)
                return -EINVAL;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '7')
                        return -EINVAL;
                m = (mode_t) (m * 8 + (mode_t) (*c - '0'));
        }
        *ret = m;
        return 0;
}

static bool is_label(const char *s, size_t n) {
        /* An RFC 1123 label: letters, digits, inner hyphens, 1 to DNS_LABEL_MAX characters. */
        if (n == 0 || n > DNS_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '-')
                        return false;
        return true;
}

bool unit_name_is_valid(const char *s) {
        /* Becomes a file name, a cgroup directory (no dots: "memory.max" would collide with a
         * controller file), a host name and part of nftables and device names: lower-case
         * DNS label only. */
        size_t n = strlen(s);
        if (!is_label(s, n))
                return false;
        for (const char *c = s; *c; c++)
                if (isupper((unsigned char) *c))
                        return false;
        return true;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); /* not islower(): the locale's */
}

bool volume_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > VOLUME_NAME_MAX || !is_lower_alnum(s[0]))
                return false;
        for (const char *c = s; *c; c++)
                if (!is_lower_alnum(*c) && !strchr("-_.", *c))
                        return false;
        return true;
}

bool hostname_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > HOST_NAME_MAX)
                return false;
        for (const char *c = s;;) {
                const char *dot = strchrnul(c, '.');
                if (!is_label(c, (size_t) (dot - c)))
                        return false;
                if (!*dot)
                        return true;
                c = dot + 1;
        }
}

bool env_name_is_valid(const char *s) {
        if (!*s || isdigit((unsigned char) s[0]) || strlen(s) > ENV_NAME_MAX)
                return false;
        for (const char *c = s; *c; c++)
                if (!isalnum((unsigned char) *c) && *c != '_')
                        return false;
        return true;
}

static bool user_part_is_valid(const char *s, size_t n) {
        char buf[16];
        uint64_t v;

        if (n == 0 || n > USER_NAME_MAX)
                return false;
        if (isdigit((unsigned char) s[0])) {
                if (n >= sizeof(buf))
                        return false;
                memcpy(buf, s, n);
                buf[n] = 0;
                /* (uid_t) -1 means "unchanged" to the kernel, never a user. */
                return parse_decimal(buf, UINT32_MAX - 1, &v) == 0;
        }
        /* Names as useradd accepts them: [a-z_][a-z0-9_-]*, optionally ending in $. */
        if (!(islower((unsigned char) s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(islower((unsigned char) s[i]) || isdigit((unsigned char) s[i]) || s[i] == '_' || s[i] == '-' ||
                      (s[i] == '$' && i == n - 1)))
                        return false;
        return true;
}

bool user_is_valid(const char *s) {
        const char *colon = strchr(s, ':');
        if (!colon)
                return user_part_is_valid(s, strlen(s));
        return user_part_is_valid(s, (size_t) (colon - s)) && user_part_is_valid(colon + 1, strlen(colon + 1));
}

/* The distribution spec's bounds: a repository name (domain and path) of at most 255
 * characters, a tag of at most 128. */
#define REFERENCE_NAME_MAX 255
#define REFERENCE_TAG_MAX  128
#define SHA256_HEX_LENGTH  64

/* A path component: lowercase letters and digits, separated by one '.', one or two '_', or any
 * number of '-' (distribution's reference grammar). */
static bool is_path_component(const char *s, size_t n) {
        size_t i = 0;

        for (;;) {
                size_t start = i, sep;

                while (i < n && (islower((unsigned char) s[i]) || isdigit((unsigned char) s[i])))
                        i++;
                if (i == start)
                        return false;
                if (i == n)
                        return true;
                sep = i;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
                else
                        while (i < n && s[i] == '-')
                                i++;
                if (i == sep)
                        return false;
        }
}

/* HOST[:PORT]: DNS labels separated by dots (an IP address is one), a port of 1-65535. */
static bool is_registry_host(const char *s, size_t n) {
        const char *colon = memchr(s, ':', n);
        size_t host_n = colon ? (size_t) (colon - s) : n;
        uint64_t port;

        if (host_n == 0)
                return false;
        for (const char *c = s, *end = s + host_n;;) {
                const char *dot = memchr(c, '.', (size_t) (end - c)) ?: end;
                if (!is_label(c, (size_t) (dot - c)))
                        return false;
                if (dot == end)
                        break;
                c = dot + 1;
        }
        if (colon) {
                char buf[8];
                size_t port_n = n - host_n - 1;
                if (port_n == 0 || port_n >= sizeof(buf))
                        return false;
                memcpy(buf, colon + 1, port_n);
                buf[port_n] = 0;
                if (parse_decimal(buf, 65535, &port) < 0 || port == 0)
                        return false;
        }
        return true;
}

static bool is_tag(const char *s, size_t n) {
        if (n == 0 || n > REFERENCE_TAG_MAX || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

int parse_registry_reference(const char *s, const char **ret_reason) {
        const char *slash = strchr(s, '/'), *at = strchr(s, '@'), *name_end, *colon;
        const char *reason = NULL;

        if (!*s)
                reason = "the reference is empty";
        else if (!slash ||
                 (memchr(s, '.', (size_t) (slash - s)) == NULL && memchr(s, ':', (size_t) (slash - s)) == NULL &&
                  (slash - s != 9 || strncmp(s, "localhost", 9) != 0)))
                /* podman's short-name policy: a name without its registry means whichever registry
                 * of registries.conf's search list answers first, which is not a decision a unit
                 * may leave to the host. */
                reason = "a short name is ambiguous (any registry of the host's search list could "
                         "answer it): write it fully qualified, the registry's host first, as in "
                         "registry.example.com/team/app:1.4 or localhost:5000/app";
        if (reason)
                goto fail;
        if (!is_registry_host(s, (size_t) (slash - s))) {
                reason = "the registry (before the first /) is not a host name with an optional :PORT";
                goto fail;
        }
        name_end = at ?: s + strlen(s);
        colon = memrchr(slash, ':', (size_t) (name_end - slash));
        if (colon) {
                if (!is_tag(colon + 1, (size_t) (name_end - colon - 1))) {
                        reason = "a tag is 1-128 letters, digits, _, . and -, not starting with . or -";
                        goto fail;
                }
                name_end = colon;
        }
        if ((size_t) (name_end - s) > REFERENCE_NAME_MAX) {
                reason = "the name (registry and repository) is longer than 255 characters";
                goto fail;
        }
        for (const char *c = slash + 1;;) {
                const char *next = memchr(c, '/', (size_t) (name_end - c)) ?: name_end;
                if (!is_path_component(c, (size_t) (next - c))) {
                        reason = "a repository path is lowercase letters and digits, with ., _, __ or - "
                                 "between them, in components separated by /";
                        goto fail;
                }
                if (next == name_end)
                        break;
                c = next + 1;
        }
        if (at) {
                const char *hex = startswith(at + 1, "sha256:");
                bool ok = hex && strlen(hex) == SHA256_HEX_LENGTH;
                for (size_t i = 0; ok && i < SHA256_HEX_LENGTH; i++)
                        ok = isdigit((unsigned char) hex[i]) || (hex[i] >= 'a' && hex[i] <= 'f');
                if (!ok) {
                        reason = "a digest is @sha256: and 64 lowercase hexadecimal digits";
                        goto fail;
                }
        }
        return 0;
fail:
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

bool tar_layer_name_is_valid(const char *path) {
        return endswith(path, ".tar") || endswith(path, ".tar.gz") || endswith(path, ".tgz") ||
               endswith(path, ".tar.zst");
}

bool oci_ref_name_is_valid(const char *s) {
        /* The image layout's org.opencontainers.image.ref.name grammar: alphanumeric components
         * joined by one of -._:@+ or by --, in /-separated parts. */
        const char *c = s;

        for (;;) {
                if (!isalnum((unsigned char) *c))
                        return false;
                while (isalnum((unsigned char) *c))
                        c++;
                if (!*c)
                        return true;
                if (*c == '/' || strchr("-._:@+", *c)) {
                        c += c[0] == '-' && c[1] == '-' ? 2 : 1;
                        continue;
                }
                return false;
        }
}

/* The implicit resolvers of YAML 1.1 (as PyYAML applies them), plus the YAML 1.2 core schema's
 * forms that 1.1 reads as strings (0o17, 1e3). */
static const struct {
        const char *kind;
        const char *regex;
} yaml_kinds[] = {
        { "boolean", "^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$" },
        { "null", "^(~|null|Null|NULL|)$" },
        { "integer",
          "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+|[-+]?0o[0-7]+)$" },
        { "float",
          "^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9_]+([eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|[-+]?[0-9]+[eE][-+]?[0-9]+)$" },
        { "timestamp",
          "^([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?)$" },
};

const char *yaml_plain_scalar_kind(const char *s) {
        static regex_t compiled[ELEMENTSOF(yaml_kinds)];
        static bool ready = false;

        if (!ready) {
                for (size_t i = 0; i < ELEMENTSOF(yaml_kinds); i++)
                        if (regcomp(&compiled[i], yaml_kinds[i].regex, REG_EXTENDED | REG_NOSUB) != 0)
                                abort(); /* a constant pattern: cannot fail but by a bug here */
                ready = true;
        }
        if (strlen(s) > YAML_PLAIN_KIND_MAX)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(yaml_kinds); i++)
                if (regexec(&compiled[i], s, 0, NULL, 0) == 0)
                        return yaml_kinds[i].kind;
        return NULL;
}
