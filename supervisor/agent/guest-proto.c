/* SPDX-License-Identifier: MIT */
#include "guest-proto.h"

#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>

#include "alloc.h"
#include "base64.h"
#include "path-util.h"
#include "string-util.h"
#include "subnet.h"
#include "unit-value.h"

static const char *const guest_command_type_table[_GUEST_CMD_MAX] = {
        [GUEST_CMD_RUN] = "run",
        [GUEST_CMD_PS] = "ps",
        [GUEST_CMD_STOP] = "stop",
        [GUEST_CMD_EXEC] = "exec",
        [GUEST_CMD_EXEC_ACK] = "exec-ack",
        [GUEST_CMD_EXEC_INPUT] = "exec-input",
        [GUEST_CMD_EXEC_INPUT_CLOSE] = "exec-input-close",
        [GUEST_CMD_EXEC_RESIZE] = "exec-resize",
        [GUEST_CMD_EXEC_KILL] = "exec-kill",
        [GUEST_CMD_CLOCK] = "clock",
        [GUEST_CMD_CLOCK_ADJUST] = "clock-adjust",
        [GUEST_CMD_PARK] = "park",
};
DEFINE_STRING_TABLE_LOOKUP(guest_command_type, GuestCommandType, _GUEST_CMD_MAX);

static int fail(SupError **ret_error, const char *fmt, ...) _printf_(2, 3);
static int fail(SupError **ret_error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = sup_error_makev(ret_error, -EINVAL, fmt, ap);
        va_end(ap);
        return r;
}

static int exec_id(const json_t *msg, uint64_t *ret) {
        const json_t *id = json_object_get(msg, "id");

        if (!json_is_integer(id) || json_integer_value(id) < 1 || (uint64_t) json_integer_value(id) > GUEST_EXEC_ID_MAX)
                return -EINVAL;
        *ret = (uint64_t) json_integer_value(id);
        return 0;
}

/* A terminal's size: both or neither (0, 0: absent), each from 1 to 65535 (struct winsize's). */
static int term_size(const json_t *msg, const char *what, bool required, unsigned short *ret_rows,
                     unsigned short *ret_cols, SupError **ret_error) {
        const json_t *rows = json_object_get(msg, "rows"), *cols = json_object_get(msg, "cols");

        if (!rows && !cols && !required) {
                *ret_rows = *ret_cols = 0;
                return 0;
        }
        if (!json_is_integer(rows) || json_integer_value(rows) < 1 || json_integer_value(rows) > USHRT_MAX ||
            !json_is_integer(cols) || json_integer_value(cols) < 1 || json_integer_value(cols) > USHRT_MAX)
                return fail(ret_error, "%s: \"rows\" and \"cols\" must both be integers from 1 to %u", what, USHRT_MAX);
        *ret_rows = (unsigned short) json_integer_value(rows);
        *ret_cols = (unsigned short) json_integer_value(cols);
        return 0;
}

static int exec_input_data(const json_t *msg, GuestCommand *c, SupError **ret_error) {
        const char *data = json_string_value(json_object_get(msg, "data"));

        /* Checked before decoding: the frame may be a megabyte, the window is for chunks. */
        if (!data || strlen(data) > (GUEST_EXEC_CHUNK + 2) / 3 * 4 || base64_decode(data, &c->data, &c->n) < 0)
                return fail(ret_error, "exec-input: \"data\" must be base64");
        if (c->n < 1 || c->n > GUEST_EXEC_CHUNK)
                return fail(ret_error, "exec-input: \"data\" must hold 1 to %u bytes", GUEST_EXEC_CHUNK);
        return 0;
}

/* ---- the clock ---- */

/* A time (1 to GUEST_CLOCK_NS_MAX) or, signed, an offset (|v| at most that): within these, no
 * sum or difference of the exchange's numbers overflows. */
static int clock_value(const json_t *v, bool is_signed, int64_t *ret) {
        if (!json_is_integer(v))
                return -EINVAL;
        json_int_t x = json_integer_value(v);
        if (x > GUEST_CLOCK_NS_MAX || x < (is_signed ? -GUEST_CLOCK_NS_MAX : 1))
                return -EINVAL;
        *ret = (int64_t) x;
        return 0;
}

static int clock_command(const json_t *msg, GuestCommand *c, GuestCommand *ret, SupError **ret_error) {
        if (c->type == GUEST_CMD_CLOCK) {
                if (clock_value(json_object_get(msg, "t1"), false, &c->t1) < 0)
                        return fail(ret_error, "clock: \"t1\" must be the host's time in ns, from 1 to 2^62");
        } else {
                const json_t *step = json_object_get(msg, "step");
                if (clock_value(json_object_get(msg, "offset_ns"), true, &c->offset_ns) < 0)
                        return fail(ret_error, "clock-adjust: \"offset_ns\" must be an integer from -2^62 to 2^62");
                /* Required: a step where a slew was meant would set the clock back under the workload. */
                if (!json_is_boolean(step))
                        return fail(ret_error, "clock-adjust: \"step\" must be a boolean");
                c->step = json_is_true(step);
        }
        *ret = *c;
        return 0;
}

int64_t guest_clock_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int guest_clock_sample(const GuestClockSample *s, int64_t *ret_offset, int64_t *ret_delay) {
        int64_t there, back, delay, sum;

        /* Each time is at most GUEST_CLOCK_NS_MAX (2^62), the callers check: a difference of two
         * fits, and their sum is checked. */
        if (s->t3 < s->t2 || s->t4 < s->t1)
                return -ERANGE;
        there = s->t2 - s->t1;
        back = s->t3 - s->t4;
        delay = (s->t4 - s->t1) - (s->t3 - s->t2);
        if (delay < 0 || __builtin_add_overflow(there, back, &sum))
                return -ERANGE;
        *ret_offset = sum / 2;
        *ret_delay = delay;
        return 0;
}

GuestClockAction guest_clock_decide(int64_t offset, int64_t delay, int64_t shortest, bool first) {
        int64_t off = offset < 0 ? -offset : offset;

        if (first)
                return GUEST_CLOCK_STEP;
        /* Round trips are at most 2^62 (guest_clock_sample()): no overflow. */
        if (delay > 2 * MIN(shortest, delay) + GUEST_CLOCK_DELAY_SLACK_NS)
                return GUEST_CLOCK_SKIP;
        return off - delay / 2 > GUEST_CLOCK_STEP_NS ? GUEST_CLOCK_STEP : GUEST_CLOCK_SLEW;
}

json_t *guest_clock_to_json(int64_t t1) {
        return json_pack("{s:s, s:I}", "cmd", "clock", "t1", (json_int_t) t1);
}

json_t *guest_clock_adjust_to_json(int64_t offset_ns, bool step) {
        return json_pack("{s:s, s:I, s:b}", "cmd", "clock-adjust", "offset_ns", (json_int_t) offset_ns, "step", step);
}

json_t *guest_event_clock(int64_t t1, int64_t t2, int64_t t3) {
        return json_pack("{s:s, s:I, s:I, s:I}", "event", "clock", "t1", (json_int_t) t1, "t2", (json_int_t) t2, "t3",
                         (json_int_t) t3);
}

int guest_clock_event_from_json(const json_t *msg, GuestClockSample *s) {
        const char *event = json_string_value(json_object_get(msg, "event"));
        GuestClockSample c = {};

        if (!event || !streq(event, "clock") || clock_value(json_object_get(msg, "t1"), false, &c.t1) < 0 ||
            clock_value(json_object_get(msg, "t2"), false, &c.t2) < 0 ||
            clock_value(json_object_get(msg, "t3"), false, &c.t3) < 0 || c.t3 < c.t2)
                return -EBADMSG;
        s->t1 = c.t1;
        s->t2 = c.t2;
        s->t3 = c.t3;
        return 0;
}

void guest_command_done(GuestCommand *c) {
        c->data = (free(c->data), NULL);
        c->n = 0;
}

int guest_command_from_json(const json_t *msg, GuestCommand *ret, SupError **ret_error) {
        const char *name = json_string_value(json_object_get(msg, "cmd"));
        GuestCommand c = {};
        int r = 0;

        *ret = c;
        if (!name)
                return fail(ret_error, "a command needs a \"cmd\" string");
        c.type = guest_command_type_from_string(name);
        if (c.type < 0)
                return fail(ret_error, "unknown command \"%s\"", name);
        if (c.type == GUEST_CMD_STOP) {
                json_t *sig = json_object_get(msg, "signal"), *timeout = json_object_get(msg, "timeout_ms");
                if (!json_is_integer(sig) || json_integer_value(sig) < 1 || json_integer_value(sig) >= NSIG)
                        return fail(ret_error, "stop: \"signal\" must be a signal number from 1 to %d", NSIG - 1);
                if (!json_is_integer(timeout) || json_integer_value(timeout) < 0)
                        return fail(ret_error, "stop: \"timeout_ms\" must be an integer >= 0");
                c.signal = (int) json_integer_value(sig);
                c.timeout_ms = (uint64_t) json_integer_value(timeout);
        }
        if (c.type == GUEST_CMD_CLOCK || c.type == GUEST_CMD_CLOCK_ADJUST)
                return clock_command(msg, &c, ret, ret_error);
        if (c.type != GUEST_CMD_RUN && c.type != GUEST_CMD_PS && c.type != GUEST_CMD_STOP && c.type != GUEST_CMD_PARK &&
            exec_id(msg, &c.id) < 0)
                return fail(ret_error, "%s: \"id\" must be an integer from 1 to 2^53", name);
        if (c.type == GUEST_CMD_EXEC_RESIZE)
                r = term_size(msg, name, true, &c.rows, &c.cols, ret_error);
        else if (c.type == GUEST_CMD_EXEC_INPUT)
                r = exec_input_data(msg, &c, ret_error);
        if (r < 0) {
                guest_command_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

void guest_run_done(GuestRun *r) {
        for (size_t i = 0; i < r->n_shares; i++) {
                free(r->shares[i].tag);
                free(r->shares[i].target);
        }
        r->shares = (free(r->shares), NULL);
        r->n_shares = 0;
        r->spec = unit_spec_free(r->spec);
        r->layers = strv_free(r->layers);
        r->sandbox = (free(r->sandbox), NULL);
        r->seccomp = seccomp_program_free(r->seccomp);
}

static int get_strv(const json_t *a, const char *what, size_t min, char ***ret, SupError **ret_error) {
        _cleanup_strv_free_ char **l = xzalloc(sizeof(char *));
        size_t i;
        json_t *v;

        if (!json_is_array(a) || json_array_size(a) < min)
                return fail(ret_error, "%s: expected a list of at least %zu strings", what, min);
        json_array_foreach(a, i, v) {
                if (!json_is_string(v))
                        return fail(ret_error, "%s[%zu]: expected a string", what, i);
                strv_push(&l, xstrdup(json_string_value(v)));
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The unit, decoded by the one codec of the canonical form. What the guest cannot do the way
 * process isolation does is refused here, never done differently. */
static int decode_spec(const json_t *spec, UnitSpec **ret, SupError **ret_error) {
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        _cleanup_sup_error_ SupError *e = NULL;

        if (!json_is_object(spec))
                return fail(ret_error, "run: \"spec\" must be the unit's canonical JSON object");
        if (unit_spec_from_json(spec, &u, &e) < 0)
                return fail(ret_error, "spec: %s", sup_error_message(e));
        if (!u->command)
                return fail(ret_error, "the unit has no command (the host takes it from the image before run)");
        /* Absent from a unit's spec only where the image gives them, which the host applies. */
        if (!u->user)
                return fail(ret_error, "spec: missing key \"user\" (the host takes it from the image before run)");
        if (!u->working_dir)
                return fail(ret_error,
                            "spec: missing key \"working_dir\" (the host takes it from the image before run)");
        if (u->network == NETWORK_HOST)
                return fail(ret_error, "network: host is not possible with isolation: hyperv (the guest has a network "
                                       "stack of its own)");
        *ret = TAKE_PTR(u);
        return 0;
}

static int check_disk(const char *what, const char *disk, SupError **ret_error) {
        if (startswith(disk, "/dev/") && disk[5])
                return 0;
        if (startswith(disk, "serial=") && disk[7])
                return 0;
        return fail(ret_error, "%s: expected a device path (/dev/vdb) or serial=SERIAL, found \"%s\"", what, disk);
}

/* "aa:bb:cc:dd:ee:ff" exactly, as the kernel prints it: it is compared with sysfs as a string.
 * Neither a multicast address nor zero (loopback's) can name a network card. */
static bool mac_valid(const char *s) {
        if (strlen(s) != GUEST_MAC_STRLEN - 1)
                return false;
        for (size_t i = 0; i < GUEST_MAC_STRLEN - 1; i++)
                if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdef", s[i]))
                        return false;
        return !(strtoul(s, NULL, 16) & 1) && !streq(s, "00:00:00:00:00:00");
}

/* A host of net: not its network or broadcast address. */
static bool is_host_of(const Ipv4Net *net, struct in_addr a) {
        uint32_t host = ntohl(a.s_addr) & ~ipv4_net_mask(net->prefix);
        return ipv4_net_contains(net, a) && host != 0 && host != ~ipv4_net_mask(net->prefix);
}

/* What a refused value was, for the message: its JSON, or "nothing". */
static char *found(const json_t *v) {
        char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        return s ?: xstrdup("nothing");
}

static int get_ipv4(const json_t *o, const char *key, struct in_addr *ret, SupError **ret_error) {
        const json_t *v = json_object_get(o, key);
        if (!json_is_string(v) || inet_pton(AF_INET, json_string_value(v), ret) != 1) {
                _cleanup_free_ char *what = found(v);
                return fail(ret_error, "network.%s: expected an IPv4 address (a.b.c.d), found %s", key, what);
        }
        return 0;
}

static int get_ipv6(const json_t *o, const char *key, struct in6_addr *ret, SupError **ret_error) {
        const json_t *v = json_object_get(o, key);
        if (!json_is_string(v) || inet_pton(AF_INET6, json_string_value(v), ret) != 1) {
                _cleanup_free_ char *what = found(v);
                return fail(ret_error, "network.%s: expected an IPv6 address, found %s", key, what);
        }
        return 0;
}

/* The IPv6 half of the network object, as strict as the IPv4 half: a unicast address that is a
 * host of its /64../126 (not the network's own address), and a gateway in that network. */
static int decode_network6(const json_t *o, GuestNetwork *n, SupError **ret_error) {
        json_t *prefix = json_object_get(o, "prefix6");
        char addr[INET6_ADDRSTRLEN], subnet[IPV6_NET_STRLEN];
        Ipv6Net net;
        int r;

        if (!json_object_get(o, "address6") && !prefix && !json_object_get(o, "gateway6"))
                return 0;
        r = get_ipv6(o, "address6", &n->address6, ret_error);
        if (r < 0)
                return r;
        if (!json_is_integer(prefix) || json_integer_value(prefix) < 64 || json_integer_value(prefix) > 126)
                return fail(ret_error, "network.prefix6: expected a prefix length from 64 to 126");
        n->prefix6 = (unsigned) json_integer_value(prefix);
        net = ipv6_net_of(&n->address6, n->prefix6);
        if (IN6_IS_ADDR_MULTICAST(&n->address6) || IN6_IS_ADDR_LOOPBACK(&n->address6) ||
            IN6_IS_ADDR_LINKLOCAL(&n->address6) || IN6_ARE_ADDR_EQUAL(&net.addr, &n->address6))
                return fail(ret_error, "network.address6: %s is not a unicast host of its network %s",
                            inet_ntop(AF_INET6, &n->address6, addr, sizeof(addr)), ipv6_net_format(&net, subnet));
        if (json_object_get(o, "gateway6")) {
                r = get_ipv6(o, "gateway6", &n->gateway6, ret_error);
                if (r < 0)
                        return r;
                if (!ipv6_net_contains(&net, &n->gateway6) || IN6_ARE_ADDR_EQUAL(&net.addr, &n->gateway6) ||
                    IN6_ARE_ADDR_EQUAL(&n->gateway6, &n->address6))
                        return fail(ret_error, "network.gateway6: %s is not another host of the address's network %s",
                                    inet_ntop(AF_INET6, &n->gateway6, addr, sizeof(addr)),
                                    ipv6_net_format(&net, subnet));
        }
        n->has_address6 = true;
        return 0;
}

static int decode_network(const json_t *o, GuestNetwork *ret, SupError **ret_error) {
        static const char *const keys[] = {"mac", "address", "prefix", "gateway", "address6", "prefix6", "gateway6"};
        const char *mac = json_string_value(json_object_get(o, "mac")), *key;
        json_t *prefix = json_object_get(o, "prefix"), *v;
        char addr[INET_ADDRSTRLEN], subnet[IPV4_NET_STRLEN];
        GuestNetwork n = {};
        Ipv4Net net;
        int r;

        if (!json_is_object(o))
                return fail(ret_error, "run: \"network\" must be an object with mac, address, prefix and gateway");
        /* A misspelt key would be a default route or a card silently missing. */
        json_object_foreach((json_t *) o, key, v) {
                size_t i = 0;
                while (i < ELEMENTSOF(keys) && !streq(keys[i], key))
                        i++;
                if (i == ELEMENTSOF(keys))
                        return fail(ret_error, "network: unknown key \"%s\"", key);
        }
        if (!mac || !mac_valid(mac)) {
                _cleanup_free_ char *what = found(json_object_get(o, "mac"));
                return fail(ret_error,
                            "network.mac: expected a network card's MAC address in lowercase "
                            "(aa:bb:cc:dd:ee:ff), found %s",
                            what);
        }
        strcpy(n.mac, mac);
        r = get_ipv4(o, "address", &n.address, ret_error);
        if (r < 0)
                return r;
        if (!json_is_integer(prefix) || json_integer_value(prefix) < 1 || json_integer_value(prefix) > 30)
                return fail(ret_error, "network.prefix: expected a prefix length from 1 to 30");
        n.prefix = (unsigned) json_integer_value(prefix);
        net = ipv4_net_of(n.address, n.prefix);
        if (!is_host_of(&net, n.address))
                return fail(ret_error, "network.address: %s is not a host of its network %s",
                            inet_ntop(AF_INET, &n.address, addr, sizeof(addr)), ipv4_net_format(&net, subnet));
        if (json_object_get(o, "gateway")) {
                r = get_ipv4(o, "gateway", &n.gateway, ret_error);
                if (r < 0)
                        return r;
                if (!is_host_of(&net, n.gateway) || n.gateway.s_addr == n.address.s_addr)
                        return fail(ret_error, "network.gateway: %s is not another host of the address's network %s",
                                    inet_ntop(AF_INET, &n.gateway, addr, sizeof(addr)), ipv4_net_format(&net, subnet));
        }
        r = decode_network6(o, &n, ret_error);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

bool guest_mount_needs_share(const MountSpec *m) {
        switch (m->type) {
        case MOUNT_BIND:
        case MOUNT_VOLUME:
                return true;
        case MOUNT_TMPFS:
        case _MOUNT_TYPE_MAX:
        case _MOUNT_TYPE_INVALID:
                break;
        }
        return false;
}

static bool share_tag_valid(const char *t) {
        size_t n = strlen(t);
        return n > 0 && n <= GUEST_SHARE_TAG_MAX && strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool path_normalized_absolute(const char *p) {
        _cleanup_free_ char *s = xstrdup(p);
        return path_is_absolute(p) && !path_has_dotdot(p) && streq(path_simplify(s), p);
}

/* "shares": one per mount that needs one, in order, each exactly that mount's target and
 * read_only: the host cannot make the guest mount one directory where the unit says another, nor
 * a writable one where it says read_only. */
static int decode_shares(const json_t *a, const UnitSpec *u, GuestRun *run, SupError **ret_error) {
        static const char *const keys[] = {"tag", "target", "read_only"};
        size_t want = 0, k = 0, i;
        const json_t *v;

        for (size_t m = 0; m < u->n_mounts; m++)
                want += guest_mount_needs_share(&u->mounts[m]);
        if (!a && want == 0)
                return 0;
        if (a && (!json_is_array(a) || json_array_size(a) > GUEST_SHARES_MAX))
                return fail(ret_error, "run: \"shares\" must be a list of at most %u shares", GUEST_SHARES_MAX);
        if (json_array_size(a) != want)
                return fail(ret_error, "run: %zu shares for %zu bind mounts (one each, in order)", json_array_size(a),
                            want);
        run->shares = xzalloc(sizeof(GuestShare) * (want ?: 1));
        json_array_foreach(a, i, v) {
                const char *tag = json_string_value(json_object_get(v, "tag")), *key;
                const char *target = json_string_value(json_object_get(v, "target"));
                const json_t *ro = json_object_get(v, "read_only"), *x;

                if (!json_is_object(v))
                        return fail(ret_error, "shares[%zu]: expected an object with tag, target and read_only", i);
                json_object_foreach((json_t *) v, key, x) {
                        size_t j = 0;
                        while (j < ELEMENTSOF(keys) && !streq(keys[j], key))
                                j++;
                        if (j == ELEMENTSOF(keys))
                                return fail(ret_error, "shares[%zu]: unknown key \"%s\"", i, key);
                }
                if (!tag || !share_tag_valid(tag))
                        return fail(ret_error,
                                    "shares[%zu].tag: expected 1 to %u lowercase letters, digits and '-' (a "
                                    "virtio-fs tag)",
                                    i, GUEST_SHARE_TAG_MAX);
                for (size_t j = 0; j < i; j++)
                        if (streq(run->shares[j].tag, tag))
                                return fail(ret_error, "shares[%zu].tag: \"%s\" is shares[%zu]'s already", i, tag, j);
                if (!target || !path_normalized_absolute(target))
                        return fail(ret_error,
                                    "shares[%zu].target: expected an absolute path without \".\", \"..\" or "
                                    "\"//\"",
                                    i);
                if (!json_is_boolean(ro))
                        return fail(ret_error, "shares[%zu].read_only: expected true or false", i);
                while (!guest_mount_needs_share(&u->mounts[k]))
                        k++;
                if (!streq(u->mounts[k].target, target) || u->mounts[k].read_only != json_is_true(ro))
                        return fail(ret_error,
                                    "shares[%zu]: target %s, read_only %s, but the mount it serves (mounts[%zu]) "
                                    "has target %s, read_only %s",
                                    i, target, json_is_true(ro) ? "true" : "false", k, u->mounts[k].target,
                                    u->mounts[k].read_only ? "true" : "false");
                run->shares[i] =
                        (GuestShare){.tag = xstrdup(tag), .target = xstrdup(target), .read_only = json_is_true(ro)};
                run->n_shares = i + 1;
                k++;
        }
        return 0;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -EINVAL;
}

static int decode_entropy(const json_t *v, GuestRun *run, SupError **ret_error) {
        const char *hex = json_string_value(v);

        if (!v)
                return 0;
        if (!hex || strlen(hex) != 2 * GUEST_ENTROPY_BYTES)
                return fail(ret_error, "run: \"entropy\" must be %u bytes in hex", GUEST_ENTROPY_BYTES);
        for (size_t i = 0; i < GUEST_ENTROPY_BYTES; i++) {
                int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return fail(ret_error, "run: \"entropy\" must be %u bytes in hex", GUEST_ENTROPY_BYTES);
                run->entropy[i] = (uint8_t) (hi << 4 | lo);
        }
        run->has_entropy = true;
        return 0;
}

int guest_run_from_json(const json_t *msg, GuestRun *ret, SupError **ret_error) {
        GuestRun run = {};
        const char *sandbox = json_string_value(json_object_get(msg, "sandbox"));
        json_t *sc = json_object_get(msg, "seccomp");
        int r;

        r = decode_spec(json_object_get(msg, "spec"), &run.spec, ret_error);
        if (r < 0)
                return r;
        r = get_strv(json_object_get(msg, "layers"), "layers", 1, &run.layers, ret_error);
        if (r < 0)
                goto fail;
        STRV_FOREACH(l, run.layers) {
                r = check_disk("layers", *l, ret_error);
                if (r < 0)
                        goto fail;
        }
        if (!sandbox) {
                r = fail(ret_error, "run: \"sandbox\" must name the writable disk");
                goto fail;
        }
        r = check_disk("sandbox", sandbox, ret_error);
        if (r < 0)
                goto fail;
        run.sandbox = xstrdup(sandbox);

        /* The network mode is the unit's, eth0's address the host's: both or neither. */
        run.has_network = json_object_get(msg, "network") != NULL;
        if (run.has_network) {
                r = run.spec->network == NETWORK_BRIDGE
                            ? decode_network(json_object_get(msg, "network"), &run.network, ret_error)
                            : fail(ret_error, "run: a \"network\" object, but the unit has network: %s",
                                   network_mode_to_string(run.spec->network));
                if (r < 0)
                        goto fail;
        } else if (run.spec->network == NETWORK_BRIDGE) {
                r = fail(ret_error, "network: bridge needs the run command's \"network\" object (the network "
                                    "card's MAC address, the address and prefix of eth0), which the host did not give");
                goto fail;
        }
        r = decode_shares(json_object_get(msg, "shares"), run.spec, &run, ret_error);
        if (r < 0)
                goto fail;
        r = decode_entropy(json_object_get(msg, "entropy"), &run, ret_error);
        if (r < 0)
                goto fail;
        /* Every limit as a number: none is left to the guest kernel's defaults. */
        r = rlimits_from_json(json_object_get(json_object_get(msg, "spec"), "rlimits"), run.rlimits, ret_error);
        if (r < 0)
                goto fail;
        /* A unit with a filter runs with it or not at all, as in process isolation. */
        if (sc && run.spec->security.seccomp == SECCOMP_UNCONFINED) {
                r = fail(ret_error, "run: a \"seccomp\" filter, but the unit has seccomp: unconfined");
                goto fail;
        }
        if (!sc && run.spec->security.seccomp != SECCOMP_UNCONFINED) {
                r = fail(ret_error,
                         "seccomp: the unit has a filter (%s), which the run command's \"seccomp\" "
                         "must carry, compiled by the host",
                         run.spec->security.seccomp == SECCOMP_DEFAULT ? "default" : "a profile file");
                goto fail;
        }
        if (sc) {
                r = seccomp_program_from_json(sc, &run.seccomp, ret_error);
                if (r < 0)
                        goto fail;
        }
        *ret = run;
        return 0;
fail:
        guest_run_done(&run);
        return r;
}

/* A message as a JSON string; paths in it need not be UTF-8, which JSON strings must be. */
static json_t *message_json(const char *s) {
        json_t *j = json_string(s);
        return j ? j : json_string("(a message that is not valid UTF-8)");
}

json_t *guest_event_hello(void) {
        return json_pack("{s:s}", "event", "hello");
}

json_t *guest_event_parked(void) {
        return json_pack("{s:s}", "event", "parked");
}

json_t *guest_event_started(pid_t pid) {
        return json_pack("{s:s, s:i}", "event", "started", "pid", (int) pid);
}

json_t *guest_event_exit(int code, int signal, bool oom) {
        json_t *j = signal > 0 ? json_pack("{s:s, s:i}", "event", "exit", "signal", signal)
                               : json_pack("{s:s, s:i}", "event", "exit", "code", code);
        if (oom)
                json_object_set_new(j, "oom", json_true());
        return j;
}

json_t *guest_event_error(const char *message) {
        return json_pack("{s:s, s:o}", "event", "error", "message", message_json(message));
}

json_t *guest_event_setup_error(const char *message, int code) {
        return json_pack("{s:s, s:o, s:i}", "event", "error", "message", message_json(message), "code", code);
}

json_t *guest_event_refused(const char *message) {
        return json_pack("{s:s, s:o}", "event", "refused", "message", message_json(message));
}

json_t *guest_event_ps(json_t *processes) {
        return json_pack("{s:s, s:o}", "event", "ps", "processes", processes);
}

void guest_output_header(uint8_t ret[GUEST_OUTPUT_HEADER], GuestStream s, size_t n) {
        ret[0] = (uint8_t) s;
        ret[1] = (uint8_t) (n & 0xff);
        ret[2] = (uint8_t) (n >> 8 & 0xff);
}

int guest_output_decode(GuestOutputDecoder *d, const char *buf, size_t n, GuestOutputHandler cb, void *userdata) {
        while (n > 0) {
                size_t take;

                if (d->left == 0) {
                        d->header[d->header_used++] = (uint8_t) *buf++;
                        n--;
                        if (d->header_used < GUEST_OUTPUT_HEADER)
                                continue;
                        d->header_used = 0;
                        if (d->header[0] != GUEST_STREAM_STDOUT && d->header[0] != GUEST_STREAM_STDERR)
                                return -EBADMSG;
                        d->stream = (GuestStream) d->header[0];
                        d->left = (size_t) d->header[1] | (size_t) d->header[2] << 8;
                        continue;
                }
                take = MIN(n, d->left);
                cb(d->stream, buf, take, userdata);
                buf += take;
                n -= take;
                d->left -= take;
        }
        return 0;
}

/* ---- exec ---- */

json_t *guest_exec_to_json(uint64_t id, const ExecRequest *req) {
        json_t *argv = json_array(), *j;

        STRV_FOREACH(a, req->argv)
                json_array_append_new(argv, message_json(*a));
        j = json_pack("{s:s, s:I, s:o}", "cmd", "exec", "id", (json_int_t) id, "argv", argv);
        if (req->env) {
                json_t *env = json_array();
                STRV_FOREACH(e, req->env)
                        json_array_append_new(env, message_json(*e));
                json_object_set_new(j, "env", env);
        }
        if (req->user)
                json_object_set_new(j, "user", message_json(req->user));
        if (req->working_dir)
                json_object_set_new(j, "working_dir", message_json(req->working_dir));
        if (req->stream)
                json_object_set_new(j, "stream", json_true());
        else if (req->merge_stderr)
                json_object_set_new(j, "merge_stderr", json_true());
        if (req->stream && req->tty) {
                json_object_set_new(j, "tty", json_true());
                json_object_set_new(j, "rows", json_integer(req->rows ?: 24));
                json_object_set_new(j, "cols", json_integer(req->cols ?: 80));
        }
        return j;
}

static json_t *exec_command(const char *cmd, uint64_t id) {
        return json_pack("{s:s, s:I}", "cmd", cmd, "id", (json_int_t) id);
}

json_t *guest_exec_ack_to_json(uint64_t id) {
        return exec_command("exec-ack", id);
}

json_t *guest_exec_input_to_json(uint64_t id, const void *data, size_t n) {
        _cleanup_free_ char *b = base64_encode(data, n);
        json_t *j = exec_command("exec-input", id);

        json_object_set_new(j, "data", json_string(b));
        return j;
}

json_t *guest_exec_input_close_to_json(uint64_t id) {
        return exec_command("exec-input-close", id);
}

json_t *guest_exec_resize_to_json(uint64_t id, unsigned short rows, unsigned short cols) {
        json_t *j = exec_command("exec-resize", id);

        json_object_set_new(j, "rows", json_integer(rows));
        json_object_set_new(j, "cols", json_integer(cols));
        return j;
}

json_t *guest_exec_kill_to_json(uint64_t id) {
        return exec_command("exec-kill", id);
}

void guest_exec_done(GuestExec *e) {
        exec_request_done(&e->req);
}

int guest_exec_from_json(const json_t *msg, GuestExec *ret, SupError **ret_error) {
        *ret = (GuestExec){};
        const json_t *stream = json_object_get(msg, "stream"), *tty = json_object_get(msg, "tty"),
                     *merge = json_object_get(msg, "merge_stderr");
        int r;

        if (exec_id(msg, &ret->id) < 0)
                return fail(ret_error, "exec: \"id\" must be an integer from 1 to 2^53");
        r = exec_request_from_json(msg, &ret->req, ret_error);
        if (r < 0)
                return r;
        if ((stream && !json_is_boolean(stream)) || (tty && !json_is_boolean(tty)) ||
            (merge && !json_is_boolean(merge)))
                return fail(ret_error, "exec: \"stream\", \"tty\" and \"merge_stderr\" must be booleans");
        ret->req.stream = json_is_true(stream);
        ret->req.tty = json_is_true(tty);
        ret->req.merge_stderr = json_is_true(merge);
        /* A stream's stderr is the host's fd, or the terminal's. */
        if (ret->req.stream && merge)
                return fail(ret_error, "exec: \"merge_stderr\" is refused with \"stream\":true");
        /* A terminal relays the host's input: there is none to relay without a stream. */
        if (!ret->req.stream && (tty || json_object_get(msg, "rows") || json_object_get(msg, "cols")))
                return fail(ret_error, "exec: \"tty\", \"rows\" and \"cols\" need \"stream\":true");
        if (!ret->req.tty && (json_object_get(msg, "rows") || json_object_get(msg, "cols")))
                return fail(ret_error, "exec: \"rows\" and \"cols\" need \"tty\":true");
        r = term_size(msg, "exec", false, &ret->req.rows, &ret->req.cols, ret_error);
        if (r < 0)
                return r;
        if (ret->req.tty && ret->req.rows == 0) {
                ret->req.rows = 24;
                ret->req.cols = 80;
        }
        return 0;
}

json_t *guest_event_exec_output(uint64_t id, ExecStream stream, const void *data, size_t n) {
        _cleanup_free_ char *b = base64_encode(data, n);
        return json_pack("{s:s, s:I, s:s, s:s}", "event", "exec-output", "id", (json_int_t) id, "stream",
                         exec_stream_to_string(stream), "data", b);
}

json_t *guest_event_exec_exit(uint64_t id, const ExecResult *result) {
        json_t *j = result->signal > 0 ? json_pack("{s:s, s:I, s:i}", "event", "exec-exit", "id", (json_int_t) id,
                                                   "signal", result->signal)
                                       : json_pack("{s:s, s:I, s:i}", "event", "exec-exit", "id", (json_int_t) id,
                                                   "code", result->code);
        if (result->error)
                json_object_set_new(j, "error", message_json(result->error));
        return j;
}

json_t *guest_event_exec_input_ack(uint64_t id) {
        return json_pack("{s:s, s:I}", "event", "exec-input-ack", "id", (json_int_t) id);
}

void guest_exec_event_done(GuestExecEvent *e) {
        e->data = (free(e->data), NULL);
        free((char *) e->result.error);
        e->result.error = NULL;
}

int guest_exec_event_from_json(const json_t *msg, GuestExecEvent *ret) {
        const char *event = json_string_value(json_object_get(msg, "event"));
        GuestExecEvent e = {};

        if (!event || exec_id(msg, &e.id) < 0)
                return -EBADMSG;
        if (streq(event, "exec-input-ack"))
                e.type = GUEST_EXEC_EVENT_INPUT_ACK;
        else if (streq(event, "exec-output")) {
                const char *data = json_string_value(json_object_get(msg, "data"));
                e.stream = exec_stream_from_string(json_string_value(json_object_get(msg, "stream")));
                if (e.stream < 0 || !data || base64_decode(data, &e.data, &e.n) < 0)
                        return -EBADMSG;
                if (e.n > GUEST_EXEC_CHUNK) {
                        free(e.data);
                        return -EBADMSG;
                }
        } else if (streq(event, "exec-exit")) {
                const json_t *code = json_object_get(msg, "code"), *sig = json_object_get(msg, "signal"),
                             *error = json_object_get(msg, "error");
                e.type = GUEST_EXEC_EVENT_EXIT;
                if (json_is_integer(sig) && !code && json_integer_value(sig) > 0 && json_integer_value(sig) < NSIG) {
                        e.result.code = -1;
                        e.result.signal = (int) json_integer_value(sig);
                } else if (json_is_integer(code) && !sig && json_integer_value(code) >= 0 &&
                           json_integer_value(code) <= 255)
                        e.result.code = (int) json_integer_value(code);
                else
                        return -EBADMSG;
                if (error && !json_is_string(error))
                        return -EBADMSG;
                e.result.error = error ? xstrdup(json_string_value(error)) : NULL;
        } else
                return -EBADMSG;
        *ret = e;
        return 0;
}
