#!/bin/bash
# A real database as a workload: Redis from Debian (tests/images/build-redis.sh: a root file system
# made by mmdebstrap, a `tar:` layer) with its append-only file on a mount, in both isolation modes
# at once, as root:
#   test-database.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|-
# Keys written through `supctl exec ... redis-cli` must survive two crashes, each the same operator
# action in both modes, each followed by the restart policy's restart:
#   - the database process killed (kill -9 of redis-server, inside the unit through supctl exec);
#   - the instance killed from the host (kill -9 of the `pid` of `supctl status`: the container's
#     init in process mode, QEMU in hyperv mode: the whole container or VM goes at once).
# Exit 77 (skip) without root, mmdebstrap or Debian's archive, unless SUP_TESTS_MUST_WORK=1.
# SUP_GUEST_DIR: the guest kernel's state dir (default /var/lib/sup/guest). SUP_TEST_IMAGES: where
# the Redis image is cached (default /var/cache/sup/test-images).
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") SUP_INIT=$4
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
HERE=$(dirname "$(realpath "$0")")
TOOLS=$HERE/../../tools
source "$HERE/lib.sh"
source "$HERE/case-supd.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
SUPD_ARGS=(--guest-dir "$GUEST")

# Where the data lives: a named volume, as an operator would keep a database's data (in hyperv
# served to the guest by virtio-fs); DB_MOUNT=bind: a directory of the test's instead. A non-empty
# DB_HYPERV_PENDING skips the hyperv half with that reason (for a tree without mounts in guests).
DB_MOUNT=volume
DB_HYPERV_PENDING=

supd_test_setup supdb
trap cleanup EXIT
IMAGE=$("$HERE/../images/build-redis.sh")
case $? in
0) ;;
77) skip "no Redis image: tests/images/build-redis.sh could not build it" ;;
*) echo "FAIL: tests/images/build-redis.sh"; exit 1 ;;
esac
both_modes || exit 1
if [ -n "$DB_HYPERV_PENDING" ] && [ "$MODES" != process ]; then
        echo "PENDING (hyperv half): $DB_HYPERV_PENDING"
        MODES=process
fi

# The image's redis user owns the data directory, as Debian's package makes /var/lib/redis.
REDIS_IDS=$(tar -xOf "$IMAGE" ./etc/passwd | awk -F: '$1 == "redis" {print $3 ":" $4}')
[ -n "$REDIS_IDS" ] || { echo "FAIL: no redis user in $IMAGE"; exit 1; }

db_unit() { # db_unit MODE
        local mount
        if [ "$DB_MOUNT" = volume ]; then
                # Made on first use, owned as the image's /var/lib/redis (redis:redis, 0750).
                mount="{type: volume, name: redisdata-$1, target: /var/lib/redis}"
        else
                mkdir -p "$TOP/data-$1"
                chown "$REDIS_IDS" "$TOP/data-$1"
                chmod 750 "$TOP/data-$1"
                mount="{type: bind, source: $TOP/data-$1, target: /var/lib/redis}"
        fi
        cat >"$CASE_DIR/units/db-$1.yaml" <<UNIT
isolation: $1
image:
  layers:
    - tar: $IMAGE
# Every write on disk before it is answered (appendfsync always): a kill -9 loses nothing that
# redis-cli was told was written. No RDB snapshots: the append-only file alone must hold the data.
command: [/usr/bin/redis-server, --bind, 127.0.0.1, --port, "6379", --dir, /var/lib/redis,
          --appendonly, "yes", --appendfsync, always, --save, "", --daemonize, "no"]
user: redis
network: none
resources: {memory: 256M}
mounts:
  - $mount
restart: {policy: on-failure, delay: 100ms, max_delay: 1s}
stop: {timeout: 10s}
UNIT
}

rcli() { # rcli MODE ARGS...: redis-cli inside the unit, as the workload's user
        ctl exec "db-$1" -- /usr/bin/redis-cli -h 127.0.0.1 "${@:2}" 2>&1
}
answers() { [ "$(rcli "$1" PING)" = PONG ]; }

# up MODE RESTARTS: the unit runs its run number RESTARTS+1 and Redis answers.
running_after() { [ "$(field "db-$1" restarts)" = "$2" ] && state_is "db-$1" running; }
up() {
        wait_for 600 running_after "$1" "$2" ||
                { fail "$1: not running after $2 restarts: $(field "db-$1" state), $(field "db-$1" restarts) restarts, $(field "db-$1" reason)"; return 1; }
        wait_for 120 answers "$1" || { fail "$1: redis does not answer: $(rcli "$1" PING)"; return 1; }
}

# check MODE COUNTER: every key written is there, with its value, and the counter says COUNTER.
check() {
        local got
        got=$(rcli "$1" DBSIZE)
        [ "$got" = 201 ] || fail "$1: $got keys, expected 201 (200 written, and the counter)"
        got=$(rcli "$1" GET key:137)
        [ "$got" = value-137 ] || fail "$1: key:137 is '$got'"
        got=$(rcli "$1" GET counter)
        [ "$got" = "$2" ] || fail "$1: the counter is '$got', expected $2"
}

# ---------------------------------------------------------------------------------------------

begin "redis: the keys written survive kill -9 of the database and of the instance, restarted by the policy ($MODES)"
for m in $MODES; do db_unit "$m"; done
SUP_VM_BOOT_TIMEOUT=600 start_supd
for m in $MODES; do up "$m" 0; done
for m in $MODES; do
        # 200 keys in one connection, and a counter: answered only once in the append-only file.
        out=$(ctl exec "db-$m" -- /bin/sh -c 'i=1; while [ $i -le 200 ]; do echo "SET key:$i value-$i"; i=$((i + 1)); done |
                /usr/bin/redis-cli -h 127.0.0.1 | sort | uniq -c' 2>&1)
        [ "$(echo $out)" = "200 OK" ] || fail "$m: writing 200 keys: $out"
        [ "$(rcli "$m" INCR counter)" = 1 ] || fail "$m: INCR counter"
        [ "$(rcli "$m" CONFIG GET appendonly | tail -n 1)" = yes ] || fail "$m: appendonly is off"
done
# The data is on the host, in the mounted directory or the volume, not in the sandbox (which
# outlives a restart too, and would hide a mount that is not there).
for m in $MODES; do
        if [ "$DB_MOUNT" = bind ]; then
                dir=$TOP/data-$m
        else
                dir=$(ctl volume inspect --json "redisdata-$m" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["path"])')
        fi
        ls "$dir/appendonlydir/"*.aof >/dev/null 2>&1 ||
                fail "$m: no append-only file in the mounted directory $dir: $(ls -la "$dir" 2>&1)"
done
for m in $MODES; do
        # The database process dies, as in a crash: SIGKILL, no chance to write anything more.
        ctl exec "db-$m" -- /bin/sh -c 'for p in /proc/[0-9]*; do
                [ "$(cat $p/comm 2>/dev/null)" = redis-server ] && kill -9 ${p#/proc/}; done' >/dev/null 2>&1
done
for m in $MODES; do
        up "$m" 1 || continue
        [ "$(field "db-$m" exit_signal)" = SIGKILL ] || fail "$m: last exit $(field "db-$m" exit_signal) $(field "db-$m" exit_code), expected SIGKILL"
        check "$m" 1
        [ "$(rcli "$m" INCR counter)" = 2 ] || fail "$m: INCR counter after the first crash"
        log "$m: after kill -9 of redis-server: $(rcli "$m" DBSIZE) keys, counter $(rcli "$m" GET counter)"
done
for m in $MODES; do
        # The whole instance dies: what the operator sees as its pid (the container's init, or QEMU).
        pid=$(field "db-$m" pid)
        [ -n "$pid" ] && kill -9 "$pid" || fail "$m: no pid to kill"
done
for m in $MODES; do
        up "$m" 2 || continue
        check "$m" 2
        log "$m: after kill -9 of the instance (its pid): $(rcli "$m" DBSIZE) keys, counter $(rcli "$m" GET counter), $(field "db-$m" restart_reason)"
done
end

finish
