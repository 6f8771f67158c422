/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <signal.h>
#include <sys/capability.h>
#include <sys/stat.h>

#include "alloc.h"
#include "drivers.h"
#include "string-util.h"
#include "unit-diff.h"
#include "unit-value.h"

typedef struct BadCase {
        const char *what; /* the mistake or attack this stops */
        const char *yaml;
        unsigned line, column;
        const char *path;
        const char *message;
} BadCase;

/* Lines 1-4 are MINIMAL_UNIT; appended keys start at line 5. */
static const BadCase bad_cases[] = {
        {"a typo in a key", MINIMAL_UNIT "restrat: {policy: always}\n", 5, 1, "restrat", "did you mean \"restart\"?"},
        {"a typo in a nested key", MINIMAL_UNIT "resources: {memroy: 64M}\n", 5, 13, "resources.memroy",
         "did you mean \"memory\"?"},
        {"an unknown key far from any", MINIMAL_UNIT "zzzzzzzz: 1\n", 5, 1, "zzzzzzzz",
         "expected one of name, description"},
        {"a duplicate key", MINIMAL_UNIT "name: a\nname: b\n", 6, 1, "name",
         "duplicate key \"name\"; it is first set at line 5"},
        {"a duplicate env key", MINIMAL_UNIT "env:\n  A: x\n  B: y\n  A: z\n", 8, 3, "env.A",
         "duplicate key \"A\"; it is first set at line 6"},
        {"a merge key", MINIMAL_UNIT "x: &x {memory: 64M}\nresources: {<<: *x}\n", 5, 1, "x", "unknown key"},
        {"a merge key inside a known mapping", MINIMAL_UNIT "resources: {<<: {memory: 64M}}\n", 5, 13,
         "resources[\"<<\"]", "merge keys"},
        {"a quoted integer", MINIMAL_UNIT "resources: {pids: \"64\"}\n", 5, 19, "resources.pids",
         "found the string \"64\"; a quoted value is a string"},
        {"an octal-looking integer", MINIMAL_UNIT "resources: {pids: 0755}\n", 5, 19, "resources.pids", "leading zero"},
        {"a negative integer", MINIMAL_UNIT "restart: {burst: -1}\n", 5, 18, "restart.burst", "expected an integer"},
        {"an integer out of range", MINIMAL_UNIT "resources: {pids: 99999999}\n", 5, 19, "resources.pids",
         "from 1 to 4194304"},
        {"zero pids", MINIMAL_UNIT "resources: {pids: 0}\n", 5, 19, "resources.pids", "from 1 to"},
        {"an unquoted no where a string is expected", MINIMAL_UNIT "hostname: no\n", 5, 11, "hostname",
         "found boolean no; unquoted"},
        {"an unquoted on as an env value", MINIMAL_UNIT "env: {DEBUG: on}\n", 5, 14, "env.DEBUG", "boolean on"},
        {"a number as an env value", MINIMAL_UNIT "env: {VERSION: 1.10}\n", 5, 16, "env.VERSION", "float 1.10"},
        {"a null where a string is expected", MINIMAL_UNIT "description:\n", 5, 13, "description", "found nothing"},
        {"yes as a boolean", MINIMAL_UNIT "security: {read_only_rootfs: yes}\n", 5, 30, "security.read_only_rootfs",
         "write true or false"},
        {"a quoted boolean", MINIMAL_UNIT "security: {read_only_rootfs: \"true\"}\n", 5, 30,
         "security.read_only_rootfs", "remove the quotes"},
        {"unquoted no as restart policy", MINIMAL_UNIT "restart: {policy: no}\n", 5, 19, "restart.policy",
         "write \"no\""},
        {"an unknown enum value", MINIMAL_UNIT "isolation: vm\n", 5, 12, "isolation",
         "expected one of process, hyperv, found \"vm\""},
        {"a size with an ambiguous suffix", MINIMAL_UNIT "resources: {memory: 64MB}\n", 5, 21, "resources.memory",
         "ambiguous"},
        {"a memory limit too small to run anything", MINIMAL_UNIT "resources: {memory: 1K}\n", 5, 21,
         "resources.memory", "below the minimum of 4M"},
        {"a bare-number duration", MINIMAL_UNIT "stop: {timeout: 10}\n", 5, 17, "stop.timeout", "add a unit"},
        {"a bad duration unit", MINIMAL_UNIT "stop: {timeout: 10sec}\n", 5, 17, "stop.timeout", "duration"},
        {"a port with three parts", MINIMAL_UNIT "ports: [\"8080:80:90\"]\n", 5, 9, "ports[0]", "expected a port"},
        {"a port out of range", MINIMAL_UNIT "ports: [\"70000:80\"]\n", 5, 9, "ports[0]", "1 to 65535"},
        {"a base-60 port", MINIMAL_UNIT "ports: [2222:22]\n", 5, 9, "ports[0]", "base-60"},
        {"a port published twice", MINIMAL_UNIT "ports: [\"8080:80\", \"127.0.0.1:8080:81\"]\n", 5, 20, "ports[1]",
         "claims the same host port as ports[0]"},
        {"ports without a bridge", MINIMAL_UNIT "network: none\nports: [\"8080:80\"]\n", 6, 8, "ports",
         "needs network: bridge"},
        {"a bad signal", MINIMAL_UNIT "stop: {signal: SIGFOO}\n", 5, 16, "stop.signal", "signal name"},
        {"a bad capability", MINIMAL_UNIT "security: {capabilities: {add: [NET_BIND]}}\n", 5, 33,
         "security.capabilities.add[0]", "capability name"},
        {"a capability added and dropped", MINIMAL_UNIT "security: {capabilities: {drop: [CHOWN], add: [cap_chown]}}\n",
         5, 47, "security.capabilities", "CHOWN is both added and dropped"},
        {"user_namespace: true", MINIMAL_UNIT "security: {user_namespace: true}\n", 5, 28, "security.user_namespace",
         "write auto"},
        {"an invalid unit name", MINIMAL_UNIT "name: Web_1\n", 5, 7, "name", "expected a unit name"},
        {"a unit name that is a path", MINIMAL_UNIT "name: ../../etc\n", 5, 7, "name", "expected a unit name"},
        {"a bad env name", MINIMAL_UNIT "env: {1X: a}\n", 5, 7, "env.1X", "variable name"},
        {"a NUL byte in a string", MINIMAL_UNIT "description: \"a\\0b\"\n", 5, 14, "description", "NUL"},
        {"a relative working_dir", MINIMAL_UNIT "working_dir: app\n", 5, 14, "working_dir", "absolute path"},
        {"a working_dir with ..", MINIMAL_UNIT "working_dir: /app/../..\n", 5, 14, "working_dir", "\"..\""},
        {"a bad host name", MINIMAL_UNIT "hostname: \"web..x\"\n", 5, 11, "hostname", "host name"},
        {"a bad user", MINIMAL_UNIT "user: \"1000:\"\n", 5, 7, "user", "expected a user"},
        {"an empty command", "image:\n  layers:\n    - dir: /layer\ncommand: []\n", 4, 10, "command",
         "at least 1 item"},
        {"a command that is a string", "image:\n  layers:\n    - dir: /layer\ncommand: /bin/true\n", 4, 10, "command",
         "expected a list of strings"},
        {"an empty program name", "image:\n  layers:\n    - dir: /layer\ncommand: [\"\", x]\n", 4, 11, "command[0]",
         "is empty"},
        {"a missing command", "image:\n  layers:\n    - dir: /layer\n", 1, 1, "", "missing required key \"command\""},
        {"a missing image", "command: [/bin/true]\n", 1, 1, "", "missing required key \"image\""},
        {"no layers", "image: {layers: []}\ncommand: [/bin/true]\n", 1, 17, "image.layers", "1 to 128 items"},
        {"a layer with two sources", "image:\n  layers:\n    - {dir: /a, tar: /b.tar}\ncommand: [x]\n", 3, 17,
         "image.layers[0].tar", "exactly one source"},
        {"a layer with no source", "image:\n  layers:\n    - {}\ncommand: [x]\n", 3, 7, "image.layers[0]",
         "empty mapping"},
        {"a layer as a string", "image:\n  layers:\n    - /a\ncommand: [x]\n", 3, 7, "image.layers[0]",
         "expected a layer"},
        {"a registry short name, which any registry of the search list could answer",
         "image: {layers: [{registry: alpine}]}\n", 1, 29, "image.layers[0].registry", "a short name is ambiguous"},
        {"a registry path with no registry before it", "image: {layers: [{registry: library/alpine:3}]}\n", 1, 29,
         "image.layers[0].registry", "a short name is ambiguous"},
        {"an upper-case repository", "image: {layers: [{registry: r.example.com/Team/app}]}\n", 1, 29,
         "image.layers[0].registry", "lowercase letters and digits"},
        {"a tag too long for a registry",
         "image: {layers: [{registry: \"localhost/app:" /* 129 characters */
         "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0123456789012345678901234567890123456789\"}]}\n",
         1, 29, "image.layers[0].registry", "a tag is 1-128"},
        {"a short digest", "image: {layers: [{registry: \"localhost:5000/app@sha256:abc\"}]}\n", 1, 29,
         "image.layers[0].registry", "64 lowercase hexadecimal digits"},
        {"a registry as a list", "image: {layers: [{registry: [a]}]}\n", 1, 29, "image.layers[0].registry",
         "expected a registry reference"},
        {"a registry and a dir in one item", "image: {layers: [{dir: /a, registry: r.io/a}]}\ncommand: [x]\n", 1, 28,
         "image.layers[0].registry", "exactly one source"},
        {"ref beside dir, which has no images to pick from", "image: {layers: [{dir: /a, ref: v1}]}\ncommand: [x]\n", 1,
         28, "image.layers[0].ref", "\"ref\" is only valid beside oci:, not beside dir:"},
        {"ref beside registry, where the tag says it", "image: {layers: [{registry: r.io/a, ref: v1}]}\n", 1, 37,
         "image.layers[0].ref", "only valid beside oci:, not beside registry:"},
        {"tls_verify beside oci", "image: {layers: [{oci: /a, tls_verify: false}]}\n", 1, 28,
         "image.layers[0].tls_verify", "only valid beside registry:"},
        {"tls_verify as a string", "image: {layers: [{registry: r.io/a, tls_verify: \"no\"}]}\n", 1, 49,
         "image.layers[0].tls_verify", "true or false"},
        {"ref alone, with no source", "image: {layers: [{ref: v1}]}\ncommand: [x]\n", 1, 18, "image.layers[0]",
         "a layer needs a source"},
        {"an unquoted ref that YAML reads as a number", "image: {layers: [{oci: /a, ref: 1.36}]}\n", 1, 33,
         "image.layers[0].ref", "float 1.36"},
        {"a ref outside the layout's name grammar", "image: {layers: [{oci: /a, ref: \"-v1\"}]}\n", 1, 33,
         "image.layers[0].ref", "expected an image's name"},
        {"a tar: layer compressed with bzip2", "image: {layers: [{tar: /a.tar.bz2}]}\ncommand: [x]\n", 1, 24,
         "image.layers[0].tar", "*.tar, *.tar.gz, *.tgz or *.tar.zst"},
        {"a pull policy of another tool", "image: {layers: [{dir: /a}], pull: IfNotPresent}\ncommand: [x]\n", 1, 36,
         "image.pull", "expected one of missing, always, never"},
        {"an empty args list", "image: {layers: [{oci: /a}]}\nargs: []\n", 2, 7, "args", "at least 1 item"},
        {"args as a string", "image: {layers: [{oci: /a}]}\nargs: -v\n", 2, 7, "args", "expected a list of strings"},
        {"a number in args", "image: {layers: [{oci: /a}]}\nargs: [-p, 80]\n", 2, 12, "args[1]", "integer 80"},
        {"args on a dir: unit without command", "image: {layers: [{dir: /a}]}\nargs: [-v]\n", 1, 1, "",
         "args alone replace only the Cmd"},
        {"a tar: unit without command (a tar has no config)", "image: {layers: [{tar: /a.tar}]}\n", 1, 1, "",
         "only an oci: or registry: layer"},
        {"a bind mount without source", MINIMAL_UNIT "mounts: [{type: bind, target: /data}]\n", 5, 10, "mounts[0]",
         "missing required key \"source\""},
        {"a size on a bind mount", MINIMAL_UNIT "mounts: [{type: bind, source: /x, target: /data, size: 1M}]\n", 5, 50,
         "mounts[0].size", "\"size\" is only valid for tmpfs mounts"},
        {"a source on a tmpfs", MINIMAL_UNIT "mounts: [{type: tmpfs, source: /x, target: /t}]\n", 5, 24,
         "mounts[0].source", "\"source\" is only valid for bind mounts"},
        {"a source on a volume (its directory is sup's)",
         MINIMAL_UNIT "mounts: [{type: volume, name: pg, source: /x, target: /t}]\n", 5, 35, "mounts[0].source",
         "\"source\" is only valid for bind mounts (a volume is named"},
        {"a name on a bind mount", MINIMAL_UNIT "mounts: [{type: bind, source: /usr, target: /t, name: pg}]\n", 5, 49,
         "mounts[0].name", "\"name\" is only valid for volume mounts"},
        {"a volume without a name", MINIMAL_UNIT "mounts: [{type: volume, target: /t}]\n", 5, 10, "mounts[0]",
         "missing required key \"name\""},
        {"a volume name that climbs out of the store", MINIMAL_UNIT "mounts: [{type: volume, name: .., target: /t}]\n",
         5, 31, "mounts[0].name", "expected a volume name"},
        {"an uppercase volume name (two spellings of one directory)",
         MINIMAL_UNIT "mounts: [{type: volume, name: PgData, target: /t}]\n", 5, 31, "mounts[0].name",
         "expected a volume name"},
        {"a volume name longer than 64",
         MINIMAL_UNIT "mounts: [{type: volume, name: "
                      "a1234567890123456789012345678901234567890123456789012345678901234, target: /t}]\n",
         5, 31, "mounts[0].name", "expected a volume name"},
        {"a size on a volume", MINIMAL_UNIT "mounts: [{type: volume, name: pg, target: /t, size: 1M}]\n", 5, 47,
         "mounts[0].size", "\"size\" is only valid for tmpfs mounts"},
        {"a mount over /proc", MINIMAL_UNIT "mounts: [{type: tmpfs, target: /proc/sys}]\n", 5, 32, "mounts[0].target",
         "cannot mount over /proc/sys"},
        {"a mount over the root", MINIMAL_UNIT "mounts: [{type: tmpfs, target: //}]\n", 5, 32, "mounts[0].target",
         "cannot mount over /"},
        {"a mount target escaping with ..", MINIMAL_UNIT "mounts: [{type: tmpfs, target: /x/../../etc}]\n", 5, 32,
         "mounts[0].target", "\"..\""},
        {"two mounts on one target",
         MINIMAL_UNIT "mounts:\n  - {type: tmpfs, target: /t}\n  - {type: tmpfs, target: /t/}\n", 7, 27,
         "mounts[1].target", "already the target of mounts[0]"},
        {"an unquoted tmpfs mode", MINIMAL_UNIT "mounts: [{type: tmpfs, target: /t, mode: 0755}]\n", 5, 42,
         "mounts[0].mode", "quote it"},
        {"a hyperv unit sharing a namespace", MINIMAL_UNIT "isolation: hyperv\nshare: {ipc: db}\n", 6, 8, "share",
         "cannot share"},
        {"a unit sharing with itself", MINIMAL_UNIT "name: a\nshare: {pid: a}\n", 6, 14, "share.pid",
         "its own namespace"},
        {"share.network with ports", MINIMAL_UNIT "share: {network: db}\nports: [\"80:80\"]\n", 6, 8, "ports",
         "cannot publish ports"},
        {"share.network with network", MINIMAL_UNIT "share: {network: db}\nnetwork: none\n", 6, 10, "network",
         "exclude each other"},
        {"host network in a VM", MINIMAL_UNIT "isolation: hyperv\nnetwork: host\n", 6, 10, "network",
         "host network is not possible with isolation: hyperv"},
        {"a user namespace in a VM, which was silently ignored",
         MINIMAL_UNIT "isolation: hyperv\nsecurity: {user_namespace: auto}\n", 6, 28, "security.user_namespace",
         "user_namespace: auto is not supported with isolation: hyperv yet"},
        {"a unit requiring itself", MINIMAL_UNIT "name: a\nrequires: [a]\n", 6, 12, "requires[0]", "require itself"},
        {"a duplicate requirement", MINIMAL_UNIT "requires: [db, db]\n", 5, 16, "requires[1]", "already required"},
        {"max_delay below delay", MINIMAL_UNIT "restart: {delay: 10s, max_delay: 5s}\n", 5, 34, "restart.max_delay",
         "shorter than delay"},
        {"a zero start-limit interval", MINIMAL_UNIT "restart: {interval: 0s}\n", 5, 21, "restart.interval",
         "longer than 0s"},
        {"a health check without a command", MINIMAL_UNIT "healthcheck: {interval: 5s}\n", 5, 14, "healthcheck",
         "missing required key \"command\""},
        {"a health check interval of zero", MINIMAL_UNIT "healthcheck: {command: [x], interval: 0s}\n", 5, 39,
         "healthcheck.interval", "longer than 0s"},
        {"an unknown health action, which would leave an unhealthy unit alone",
         MINIMAL_UNIT "healthcheck: {command: [x], on_failure: reboot}\n", 5, 41, "healthcheck.on_failure",
         "none, restart, stop, kill"},
        {"an unknown machine", MINIMAL_UNIT "vm: {machine: pc}\n", 5, 15, "vm.machine", "microvm, q35"},
        {"a misspelt rlimit, which would leave the default in force", MINIMAL_UNIT "rlimits: {nofiles: 10}\n", 5, 11,
         "rlimits.nofiles", "did you mean \"nofile\"?"},
        {"a resource the kernel has no limit for", MINIMAL_UNIT "rlimits: {threads: 10}\n", 5, 11, "rlimits.threads",
         "unknown key"},
        {"a soft limit above the hard one, which setrlimit() refuses at start",
         MINIMAL_UNIT "rlimits: {core: {soft: 10, hard: 5}}\n", 5, 24, "rlimits.core.soft",
         "the soft limit (10) is above the hard limit (5)"},
        {"an rlimit with only a soft limit (the hard one would be guessed)",
         MINIMAL_UNIT "rlimits: {nproc: {soft: 5}}\n", 5, 18, "rlimits.nproc", "missing required key \"hard\""},
        {"a quoted rlimit count", MINIMAL_UNIT "rlimits: {nofile: \"10\"}\n", 5, 19, "rlimits.nofile",
         "remove the quotes"},
        {"a negative rlimit", MINIMAL_UNIT "rlimits: {nofile: -1}\n", 5, 19, "rlimits.nofile", "expected an integer"},
        {"a size for a limit that counts files", MINIMAL_UNIT "rlimits: {nofile: 4K}\n", 5, 19, "rlimits.nofile",
         "expected an integer"},
        {"a lower-case size suffix on a byte limit", MINIMAL_UNIT "rlimits: {memlock: 64m}\n", 5, 20, "rlimits.memlock",
         "upper case"},
        {"rlimits as a list", MINIMAL_UNIT "rlimits: [nofile]\n", 5, 10, "rlimits",
         "expected a mapping of resource names"},
        {"a list where a mapping is expected", MINIMAL_UNIT "resources: [1]\n", 5, 12, "resources",
         "expected a mapping of resource limits, found a list"},
        {"a non-scalar key", MINIMAL_UNIT "? [a]\n: b\n", 5, 3, "", "expected a key name"},
        {"a document that is a list", "- a\n", 1, 1, "", "expected a mapping of unit settings"},
        {"a file that names no unit", "# nothing\n", 1, 1, "", "the file is empty"},
};

static void test_bad_cases(void **state) {
        unsigned failures = 0;

        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                const BadCase *c = &bad_cases[i];
                Diagnostics d = {};
                UnitSpec *u = NULL;

                if (parse_text("u.yaml", c->yaml, &d, &u) != -EINVAL || u) {
                        fprintf(stderr, "case \"%s\" was accepted\n", c->what);
                        failures++;
                } else if (!has_diag(&d, c->line, c->column, c->path, c->message, __FILE__, (int) i))
                        failures++;
                else
                        print_message("stops: %s\n", c->what);
                unit_spec_free(u);
                diagnostics_done(&d);
        }
        assert_int_equal(failures, 0);
}

static void test_all_errors_reported(void **state) {
        /* Three different mistakes: all three come back, in document order, with their positions. */
        const char *yaml = "name: web\n"
                           "image:\n"
                           "  layers:\n"
                           "    - dir: /layer\n"
                           "command: [/bin/true]\n"
                           "resources:\n"
                           "  memory: 64MB\n"
                           "ports: [\"8080:80:90\"]\n"
                           "restrat: {policy: always}\n";
        Diagnostics d = {};

        assert_int_equal(parse_text("web.yaml", yaml, &d, NULL), -EINVAL);
        assert_int_equal(d.n, 3);
        assert_diag(&d, 7, 11, "resources.memory", "ambiguous");
        assert_diag(&d, 8, 9, "ports[0]", "expected a port");
        assert_diag(&d, 9, 1, "restrat", "did you mean \"restart\"?");
        assert_string_equal(d.items[0].file, "web.yaml");
        diagnostics_done(&d);
}

static void test_defaults(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        Diagnostics d = {};

        assert_int_equal(parse_text("web.yaml", MINIMAL_UNIT, &d, &u), 0);
        assert_int_equal(d.n, 0);
        assert_string_equal(u->name, "web"); /* from the file name */
        assert_int_equal(u->name_pos.line, 0);
        assert_string_equal(u->hostname, "web");
        assert_string_equal(u->description, "");
        assert_int_equal(u->isolation, ISOLATION_PROCESS);
        assert_int_equal(u->network, NETWORK_BRIDGE);
        assert_false(u->network_explicit);
        /* Left to the image (image_apply_defaults(): "0" and "/" where it has none either). */
        assert_null(u->user);
        assert_null(u->working_dir);
        assert_null(u->args);
        assert_int_equal(u->pull, PULL_MISSING);
        assert_null(u->env[0]);
        assert_int_equal(u->resources.memory, 0);
        assert_int_equal(u->security.seccomp, SECCOMP_DEFAULT);
        assert_true(u->security.no_new_privileges);
        assert_false(u->security.read_only_rootfs);
        assert_int_equal(u->security.user_namespace, USER_NAMESPACE_NO);
        assert_int_equal(u->restart.policy, RESTART_ON_FAILURE);
        assert_int_equal(u->restart.delay, USEC_PER_SEC);
        assert_int_equal(u->restart.max_delay, 60 * USEC_PER_SEC);
        assert_int_equal(u->restart.burst, 5);
        assert_int_equal(u->restart.interval, 60 * USEC_PER_SEC);
        assert_int_equal(u->stop.signal, SIGTERM);
        assert_int_equal(u->stop.timeout, 10 * USEC_PER_SEC);
        assert_null(u->healthcheck.command);
        assert_int_equal(u->healthcheck.on_failure, HEALTH_ACTION_NONE);
        assert_null(u->vm.kernel);
        assert_int_equal(u->vm.machine, VM_MACHINE_MICROVM);
        assert_int_equal(u->vm.accel, VM_ACCEL_AUTO);
        assert_string_equal(u->source_file, "web.yaml");
}

static void test_every_key(void **state) {
        const char *yaml =
                "name: web\n"
                "description: static site\n"
                "isolation: process\n"
                "image:\n"
                "  layers:\n"
                "    - oci: ../images/busybox\n"
                "    - tar: /srv/app.tar.gz\n"
                "    - dir: ./site\n"
                "command: [/bin/httpd, -f, -p, \"80\"]\n"
                "env: {TZ: UTC, A: \"1\"}\n"
                "user: 1000\n"
                "working_dir: /www/\n"
                "hostname: web.local\n"
                "network: bridge\n"
                "ports: [\"8080:80/tcp\", 127.0.0.1:5353:53/udp, \"[::1]:8443:443\"]\n"
                "resources: {memory: 1.5G, cpus: 0.25, pids: 64, io_weight: 500}\n"
                "mounts:\n"
                "  - {type: bind, source: data, target: /data, read_only: true}\n"
                "  - {type: tmpfs, target: /tmp, size: 16M, mode: \"0700\"}\n"
                "security:\n"
                "  capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, cap_chown]}\n"
                "  seccomp: ./profile.json\n"
                "  no_new_privileges: false\n"
                "  read_only_rootfs: true\n"
                "  user_namespace: auto\n"
                "restart: {policy: \"no\", delay: 500ms, max_delay: 1m30s, burst: 3, interval: 2m}\n"
                "stop: {signal: SIGINT, timeout: 1m}\n"
                "requires: [db, cache]\n"
                "healthcheck: {command: [/bin/true], interval: 5s, timeout: 1s, retries: 2, start_period: 30s,\n"
                "              on_failure: restart}\n"
                "vm: {kernel: ./vmlinuz, machine: q35, accel: tcg}\n";
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        Diagnostics d = {};

        if (parse_text("web.yaml", yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        assert_int_equal(u->isolation, ISOLATION_PROCESS); /* hyperv units have no bind mounts yet */
        assert_int_equal(u->n_layers, 3);
        assert_int_equal(u->layers[0].type, LAYER_OCI);
        assert_string_equal(u->layers[0].path, "/units/../images/busybox"); /* ".." left to the kernel */
        assert_string_equal(u->layers[2].path, "/units/site");
        assert_string_equal(u->command[3], "80");
        assert_string_equal(u->env[0], "A=1"); /* sorted */
        assert_string_equal(u->env[1], "TZ=UTC");
        assert_string_equal(u->user, "1000");
        assert_string_equal(u->working_dir, "/www");
        assert_int_equal(u->n_ports, 3);
        assert_int_equal(u->ports[1].protocol, PORT_UDP);
        assert_int_equal(u->resources.memory, 3ULL << 29);
        assert_int_equal(u->resources.cpus_milli, 250);
        assert_int_equal(u->resources.io_weight, 500);
        assert_string_equal(u->mounts[0].source, "/units/data");
        assert_true(u->mounts[0].read_only);
        assert_int_equal(u->mounts[1].mode, 0700);
        assert_int_equal(u->mounts[1].size, 16 << 20);
        assert_true(u->security.cap_drop_all);
        assert_int_equal(u->security.cap_add, (1ULL << CAP_NET_BIND_SERVICE) | (1ULL << CAP_CHOWN));
        assert_int_equal(u->security.seccomp, SECCOMP_PROFILE);
        assert_string_equal(u->security.seccomp_profile, "/units/profile.json");
        assert_false(u->security.no_new_privileges);
        assert_int_equal(u->security.user_namespace, USER_NAMESPACE_AUTO);
        assert_int_equal(u->restart.policy, RESTART_NO);
        assert_int_equal(u->restart.max_delay, 90 * USEC_PER_SEC);
        assert_int_equal(u->stop.signal, SIGINT);
        assert_int_equal(u->n_requires, 2);
        assert_string_equal(u->requires[1].name, "cache");
        assert_int_equal(u->requires[1].pos.line, 28);
        assert_string_equal(u->requires[1].pos.path, "requires[1]");
        assert_int_equal(u->healthcheck.retries, 2);
        assert_int_equal(u->healthcheck.on_failure, HEALTH_ACTION_RESTART);
        assert_string_equal(u->vm.kernel, "/units/vmlinuz");
        assert_int_equal(u->vm.machine, VM_MACHINE_Q35);
}

static void test_oci_layer_may_omit_command(void **state) {
        Diagnostics d = {};
        assert_int_equal(parse_text("a.yaml", "image: {layers: [{oci: /img}]}\n", &d, NULL), 0);
        diagnostics_done(&d);
}

static void test_image_sources(void **state) {
        const char *yaml = "image:\n"
                           "  layers:\n"
                           "    - oci: ../img\n"
                           "      ref: \"1.36\"\n"
                           "    - registry: registry.example.com:5000/team/app:1.4\n"
                           "    - registry: localhost/app@sha256:"
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                           "      tls_verify: false\n"
                           "    - tar: ./extra.tgz\n"
                           "    - tar: ./more.tar.zst\n"
                           "  pull: always\n"
                           "args: [--port, \"80\", \"\"]\n"
                           "user: app\n";
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        Diagnostics d = {};

        if (parse_text("app.yaml", yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        assert_int_equal(u->n_layers, 5);
        assert_int_equal(u->layers[0].type, LAYER_OCI);
        assert_string_equal(u->layers[0].ref, "1.36");
        assert_int_equal(u->layers[1].type, LAYER_REGISTRY);
        /* A reference is not a path: as written, not made absolute. */
        assert_string_equal(u->layers[1].path, "registry.example.com:5000/team/app:1.4");
        assert_null(u->layers[1].ref);
        assert_true(u->layers[1].tls_verify); /* the default */
        assert_false(u->layers[2].tls_verify);
        assert_int_equal(u->layers[3].type, LAYER_TAR);
        assert_string_equal(u->layers[3].path, "/units/extra.tgz");
        assert_int_equal(u->pull, PULL_ALWAYS);
        assert_null(u->command); /* the image's Entrypoint */
        assert_int_equal(strv_length(u->args), 3);
        assert_string_equal(u->args[2], "");
        assert_string_equal(u->user, "app");
        assert_null(u->working_dir); /* the image's WorkingDir */
}

static void test_registry_references(void **state) {
        static const char *const good[] = {
                "registry.example.com/app",
                "registry.example.com/team/app:1.4",
                "localhost/app",
                "localhost:5000/app:latest",
                "127.0.0.1:5000/a/b/c:_x",
                "r.io/a.b_c__d---e/f:V1.2-rc_3",
                "r.io/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "r.io/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "my-registry:443/app",
        };
        static const struct {
                const char *ref, *reason;
        } bad[] = {
                {"", "empty"},
                {"alpine", "short name"},
                {"alpine:3.19", "short name"},
                {"library/alpine", "short name"},
                {"localhostx/app", "short name"},
                {"docker.io", "short name"}, /* no repository at all */
                {"-r.io/app", "registry (before the first /)"},
                {"r..io/app", "registry (before the first /)"},
                {"r.io:0/app", "registry (before the first /)"},
                {"r.io:65536/app", "registry (before the first /)"},
                {"r.io:/app", "registry (before the first /)"},
                {"r.io/App", "lowercase"},
                {"r.io/app/", "lowercase"},
                {"r.io//app", "lowercase"},
                {"r.io/a..b", "lowercase"},
                {"r.io/a___b", "lowercase"},
                {"r.io/-app", "lowercase"},
                {"r.io/app:", "a tag is"},
                {"r.io/app:.x", "a tag is"},
                {"r.io/app:-x", "a tag is"},
                {"r.io/app:a/b", "a tag is"},
                {"r.io/app@sha256:0123", "digest"},
                {"r.io/app@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "digest"},
                {"r.io/app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest"},
                {"r.io/app@", "digest"},
        };
        const char *reason;

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (parse_registry_reference(good[i], NULL) < 0)
                        fail_msg("%s refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                reason = NULL;
                if (parse_registry_reference(bad[i].ref, &reason) != -EINVAL)
                        fail_msg("\"%s\" accepted", bad[i].ref);
                if (!reason || !strstr(reason, bad[i].reason))
                        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].ref, reason ?: "(none)", bad[i].reason);
        }
        /* The name (registry and repository) has at most 255 characters; a tag does not count. */
        {
                _cleanup_free_ char *name = xasprintf("r.io/%0250d", 0), *longer = xasprintf("r.io/%0251d:1", 0);
                assert_int_equal(parse_registry_reference(name, NULL), 0);
                assert_int_equal(parse_registry_reference(longer, &reason), -EINVAL);
                assert_non_null(strstr(reason, "255"));
        }

        assert_true(oci_ref_name_is_valid("1.36"));
        assert_true(oci_ref_name_is_valid("v1--rc/x+y@z:w"));
        assert_false(oci_ref_name_is_valid(""));
        assert_false(oci_ref_name_is_valid("v1-"));
        assert_false(oci_ref_name_is_valid("a//b"));
        assert_false(oci_ref_name_is_valid("a b"));
}

/* Parses a and b in each mode: changed is what differs, and none of it is applied in place. */
static void assert_change_restarts(const char *a, const char *b, const char *changed_fields) {
        for (Isolation iso = 0; iso < _ISOLATION_MAX; iso++) {
                _cleanup_free_ char *ya = xasprintf("%sisolation: %s\n", a, isolation_to_string(iso)),
                                    *yb = xasprintf("%sisolation: %s\n", b, isolation_to_string(iso)), *joined = NULL;
                _cleanup_(unit_spec_freep) UnitSpec *ua = NULL, *ub = NULL;
                _cleanup_strv_free_ char **changed = NULL;
                Diagnostics d = {};

                assert_int_equal(parse_text("u.yaml", ya, &d, &ua), 0);
                assert_int_equal(parse_text("u.yaml", yb, &d, &ub), 0);
                changed = unit_spec_diff(ua, ub);
                joined = strv_join(changed, " ");
                if (!streq(joined, changed_fields))
                        fail_msg("\"%s\" changed, not \"%s\" (%s to %s)", joined, changed_fields, a, b);
                assert_false(unit_spec_updatable_in_place(ua, ub, changed, isolation_driver_field_is_live));
                diagnostics_done(&d);
        }
}

/* A change of what the image is or how the command is made restarts the unit in both modes, as a
 * change of a layer's path or of command does: none is applied in place (a ref or a tls_verify
 * changed inside image.layers is the whole list's change). */
static void test_image_changes_restart(void **state) {
        static const struct {
                const char *a, *b, *changed;
        } cases[] = {
                {"image: {layers: [{oci: /i, ref: v1}]}\n", "image: {layers: [{oci: /i, ref: v2}]}\n", "image.layers"},
                {"image: {layers: [{oci: /i}]}\n", "image: {layers: [{oci: /i, ref: v2}]}\n", "image.layers"},
                {"image: {layers: [{registry: r.io/a}]}\n",
                 "image: {layers: [{registry: r.io/a, tls_verify: false}]}\n", "image.layers"},
                {"image: {layers: [{registry: r.io/a}]}\n", "image: {layers: [{registry: r.io/a:2}]}\n",
                 "image.layers"},
                {"image: {layers: [{registry: r.io/a}]}\n", "image: {layers: [{registry: r.io/a}], pull: always}\n",
                 "image.pull"},
                {"image: {layers: [{oci: /i}]}\n", "image: {layers: [{oci: /i}]}\nargs: [-v]\n", "args"},
                {"image: {layers: [{oci: /i}]}\nargs: [-v]\n", "image: {layers: [{oci: /i}]}\nargs: [-q]\n", "args"},
                {"image: {layers: [{oci: /i}]}\n", "image: {layers: [{oci: /i}]}\nuser: \"0\"\n", "user"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_change_restarts(cases[i].a, cases[i].b, cases[i].changed);
}

/* A changed health check (on_failure included) restarts the unit, as every healthcheck field
 * does: the monitor reads the check when the run starts, and a new run begins at starting. */
static void test_healthcheck_changes_restart(void **state) {
        assert_change_restarts(MINIMAL_UNIT "healthcheck: {command: [/bin/true]}\n",
                               MINIMAL_UNIT "healthcheck: {command: [/bin/true], on_failure: restart}\n",
                               "healthcheck.on_failure");
        assert_change_restarts(MINIMAL_UNIT "healthcheck: {command: [/bin/true], on_failure: kill}\n",
                               MINIMAL_UNIT "healthcheck: {command: [/bin/true], on_failure: stop}\n",
                               "healthcheck.on_failure");
}

static void test_only_delay_raises_max_delay(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        Diagnostics d = {};
        assert_int_equal(parse_text("a.yaml", MINIMAL_UNIT "restart: {delay: 2m}\n", &d, &u), 0);
        assert_int_equal(u->restart.max_delay, 2 * USEC_PER_MINUTE);
}

static void test_aliases_are_usable(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        Diagnostics d = {};
        const char *yaml = MINIMAL_UNIT "env: &e {A: x}\nhealthcheck: {command: &c [/bin/true]}\n";
        assert_int_equal(parse_text("a.yaml", yaml, &d, &u), 0);
}

static void test_file_name_not_a_unit_name(void **state) {
        Diagnostics d = {};
        assert_int_equal(parse_text("My_Web.yaml", MINIMAL_UNIT, &d, NULL), -EINVAL);
        assert_diag(&d, 1, 1, "", "its file name \"My_Web\" is not a valid unit name");
        diagnostics_done(&d);
        /* An explicit name makes the file name irrelevant. */
        assert_int_equal(parse_text("My_Web.yaml", MINIMAL_UNIT "name: web\n", &d, NULL), 0);
}

static char *hash_of(const char *yaml) {
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL;
        Diagnostics d = {};
        char h[65];

        if (parse_text("web.yaml", yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        assert_int_equal(unit_spec_hash(u, h), 0);
        return xstrdup(h);
}

static void test_hash_ignores_form(void **state) {
        _cleanup_free_ char *a = hash_of("name: web\nimage: {layers: [{dir: /layer}]}\ncommand: [/bin/true]\n"
                                         "env: {A: xv, B: yv}\nresources: {memory: 64M}\nstop: {timeout: 90s}\n");
        /* Key order, comments, block vs flow style, quoting, defaults written out, equivalent spellings. */
        _cleanup_free_ char *b = hash_of("# web server\n"
                                         "stop:\n  timeout: 1m30s   # ninety seconds\n"
                                         "resources:\n  memory: 67108864\n"
                                         "env:\n  B: \"yv\"\n  A: 'xv'\n"
                                         "command:\n  - \"/bin/true\"\n"
                                         "image:\n  layers:\n    - dir: /layer/\n"
                                         "isolation: process\n"
                                         "restart: {policy: on-failure}\n");
        _cleanup_free_ char *c = hash_of("name: web\nimage: {layers: [{dir: /layer}]}\ncommand: [/bin/true]\n"
                                         "env: {A: xv, B: zv}\nresources: {memory: 64M}\nstop: {timeout: 90s}\n");
        assert_string_equal(a, b);
        assert_string_not_equal(a, c); /* one value changed */
}

/* text parsed as a unit: it must be one, with u's hash. */
static UnitSpec *reparse_same(const UnitSpec *u, const char *text) {
        UnitSpec *v = NULL;
        Diagnostics d = {};
        char h1[65], h2[65];

        if (parse_text("other.yaml", text, &d, &v) < 0) {
                fprintf(stderr, "%s\n", text);
                diagnostics_print(&d, stderr);
                fail();
        }
        diagnostics_done(&d);
        assert_int_equal(unit_spec_hash(u, h1), 0);
        assert_int_equal(unit_spec_hash(v, h2), 0);
        assert_string_equal(h1, h2);
        return v;
}

static void test_canonical_json_round_trip(void **state) {
        /* The canonical form is itself a unit: parsing it again gives the same hash. */
        const char *yaml = "isolation: process\nimage: {layers: [{dir: /l}, {tar: /t.tar}]}\ncommand: [a, b]\n"
                           "env: {X: \"1\"}\nports: [\"127.0.0.1:80:80/udp\", \"[::]:443:443\"]\n"
                           "resources: {memory: 1.5G, cpus: 0.1, pids: 5, io_weight: 10}\n"
                           "mounts: [{type: tmpfs, target: /t, size: 1M, mode: \"0755\"}, "
                           "{type: bind, source: /s, target: /d, read_only: true}]\n"
                           "security: {capabilities: {drop: [ALL], add: [CHOWN]}, seccomp: /p.json, "
                           "user_namespace: auto}\n"
                           "restart: {policy: always, delay: 1.5s, max_delay: 1h}\n"
                           "stop: {signal: SIGRTMIN+2, timeout: 250ms}\nrequires: [db]\n"
                           "healthcheck: {command: [/bin/true]}\nvm: {kernel: /k}\n";
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL, *v = NULL;
        _cleanup_free_ char *text = NULL;
        Diagnostics d = {};
        json_t *j;

        assert_int_equal(parse_text("web.yaml", yaml, &d, &u), 0);
        j = unit_spec_to_json(u);
        text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        json_decref(j);
        v = reparse_same(u, text);
        assert_int_equal(v->resources.cpus_milli, 100);
}

static void test_rlimits(void **state) {
        const char *yaml = MINIMAL_UNIT "rlimits:\n"
                                        "  nofile: 4096\n"
                                        "  core: 0\n"
                                        "  stack: {soft: 8M, hard: unlimited}\n"
                                        "  nproc: {soft: 100, hard: infinity}\n"
                                        "  memlock: 65536\n";
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL, *v = NULL, *none = NULL;
        _cleanup_free_ char *text = NULL;
        Diagnostics d = {};
        json_t *j;

        assert_int_equal(parse_text("web.yaml", yaml, &d, &u), 0);
        /* One number is both limits, as systemd's LimitNOFILE=4096. */
        assert_true(u->rlimits[RLIMIT_NOFILE].set);
        assert_int_equal(u->rlimits[RLIMIT_NOFILE].soft, 4096);
        assert_int_equal(u->rlimits[RLIMIT_NOFILE].hard, 4096);
        assert_true(u->rlimits[RLIMIT_CORE].set);
        assert_int_equal(u->rlimits[RLIMIT_CORE].hard, 0);
        assert_int_equal(u->rlimits[RLIMIT_STACK].soft, 8 << 20);
        assert_true(u->rlimits[RLIMIT_STACK].hard == UNIT_RLIMIT_INFINITY);
        assert_true(u->rlimits[RLIMIT_NPROC].hard == UNIT_RLIMIT_INFINITY);
        assert_false(u->rlimits[RLIMIT_AS].set);

        /* The canonical form spells every set limit out and parses back to the same hash. */
        j = unit_spec_to_json(u);
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(json_object_get(j, "rlimits"), "nproc"), "hard")),
                "unlimited");
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(json_object_get(j, "rlimits"), "stack"), "soft")),
                8 << 20);
        text = json_dumps(j, JSON_INDENT(2));
        json_decref(j);
        v = reparse_same(u, text);
        assert_int_equal(v->rlimits[RLIMIT_MEMLOCK].soft, 65536);

        /* A unit without rlimits has none in its canonical form: its hash is what it was before
         * rlimits existed, so that an upgrade does not restart every unit. */
        assert_int_equal(parse_text("web.yaml", MINIMAL_UNIT, &d, &none), 0);
        assert_null(none->rlimits);
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++)
                assert_false(UNIT_SPEC_RLIMIT(none, i)->set);
        j = unit_spec_to_json(none);
        assert_null(json_object_get(j, "rlimits"));
        json_decref(j);
        diagnostics_done(&d);
}

static void test_rlimit_names_round_trip(void **state) {
        for (int i = 0; i < _UNIT_RLIMIT_MAX; i++) {
                assert_non_null(rlimit_name_to_string(i));
                assert_int_equal(rlimit_name_from_string(rlimit_name_to_string(i)), i);
        }
        assert_int_equal(rlimit_name_from_string("nofiles"), -EINVAL);
        assert_null(rlimit_name_to_string(_UNIT_RLIMIT_MAX));
}

static void test_canonical_text_with_controls(void **state) {
        /* Strings may hold what YAML does not allow raw (ESC, a C1 control, DEL, NEL): the
         * canonical text supd hands its monitors must still be a unit. Written raw, a unit that
         * `supctl validate` accepted could not be started ("no unit is loaded"). */
        const char *yaml = MINIMAL_UNIT "env: {X: \"esc\\e[1m c1\\x9b del\\x7f nel\\N \\u00e9\", "
                                        "E: \"\xf0\x9f\x98\x80 \\\\uD83D\\\\uDE00\"}\n";
        _cleanup_(unit_spec_freep) UnitSpec *u = NULL, *v = NULL;
        _cleanup_free_ char *text = NULL;
        Diagnostics d = {};

        assert_int_equal(parse_text("web.yaml", yaml, &d, &u), 0);
        text = unit_spec_format(u);
        assert_non_null(strstr(text, "\\u009B"));
        assert_non_null(strstr(text, "\\u007f"));
        v = reparse_same(u, text);
        /* Beyond U+FFFF: JSON's surrogate pair is no YAML escape ("invalid Unicode character
         * escape code"), YAML's \U is. A backslash that merely precedes a "uD83D" stays one. */
        assert_non_null(strstr(text, "\\U0001F600 \\\\uD83D\\\\uDE00"));
        assert_string_equal(v->env[0], "E=\xf0\x9f\x98\x80 \\uD83D\\uDE00");
        assert_string_equal(v->env[1], "X=esc\x1b[1m c1\xc2\x9b del\x7f nel\xc2\x85 \xc3\xa9");
}

static void test_check_sources(void **state) {
        /* With UNIT_PARSE_CHECK_SOURCES, missing or wrong-typed sources are errors at their value. */
        char dir[] = "/tmp/sup-test-XXXXXX";
        _cleanup_free_ char *layer = NULL, *file = NULL, *oci = NULL, *yaml = NULL;
        Diagnostics d = {};
        UnitSpec *u = NULL;
        FILE *f;

        assert_non_null(mkdtemp(dir));
        layer = xasprintf("%s/layer", dir);
        oci = xasprintf("%s/oci", dir);
        file = xasprintf("%s/file.tar", dir);
        assert_int_equal(mkdir(layer, 0755), 0);
        assert_int_equal(mkdir(oci, 0755), 0);
        f = fopen(file, "we");
        assert_non_null(f);
        fclose(f);

        yaml = xstrdup("image:\n  layers:\n    - dir: layer\n    - tar: file.tar\n    - dir: file.tar\n"
                       "    - tar: missing.tar\n    - oci: oci\ncommand: [x]\n"
                       "mounts: [{type: bind, source: /nonexistent/sup, target: /d}]\n");
        assert_int_equal(unit_parse("u.yaml", dir, yaml, strlen(yaml), UNIT_PARSE_CHECK_SOURCES, &d, &u, NULL),
                         -EINVAL);
        assert_null(u);
        assert_int_equal(d.n, 4);
        assert_diag(&d, 5, 12, "image.layers[2].dir", "is not a directory");
        assert_diag(&d, 6, 12, "image.layers[3].tar", "No such file or directory");
        assert_diag(&d, 7, 12, "image.layers[4].oci", "not an OCI image layout");
        assert_diag(&d, 9, 31, "mounts[0]", "bind mount source /nonexistent/sup");
        diagnostics_done(&d);

        assert_int_equal(unlink(file), 0);
        assert_int_equal(rmdir(layer), 0);
        assert_int_equal(rmdir(oci), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_load_file_limits(void **state) {
        char path[] = "/tmp/sup-test-XXXXXX.yaml";
        Diagnostics d = {};
        UnitSpec *u = NULL;
        int fd = mkstemps(path, 5);

        /* A file over the size cap is refused before it is parsed. */
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, UNIT_FILE_SIZE_MAX + 1), 0);
        close(fd);
        assert_int_equal(unit_load_file(path, 0, &d, &u, NULL), -EINVAL);
        assert_non_null(strstr(d.items[0].message, "larger than"));
        diagnostics_done(&d);
        unlink(path);

        assert_true(unit_load_file("/nonexistent/x.yaml", 0, &d, &u, NULL) < 0);
        assert_non_null(strstr(d.items[0].message, "cannot read"));
        diagnostics_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_cases),
                cmocka_unit_test(test_all_errors_reported),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_oci_layer_may_omit_command),
                cmocka_unit_test(test_image_sources),
                cmocka_unit_test(test_registry_references),
                cmocka_unit_test(test_image_changes_restart),
                cmocka_unit_test(test_healthcheck_changes_restart),
                cmocka_unit_test(test_only_delay_raises_max_delay),
                cmocka_unit_test(test_aliases_are_usable),
                cmocka_unit_test(test_file_name_not_a_unit_name),
                cmocka_unit_test(test_hash_ignores_form),
                cmocka_unit_test(test_canonical_json_round_trip),
                cmocka_unit_test(test_rlimits),
                cmocka_unit_test(test_rlimit_names_round_trip),
                cmocka_unit_test(test_canonical_text_with_controls),
                cmocka_unit_test(test_check_sources),
                cmocka_unit_test(test_load_file_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
