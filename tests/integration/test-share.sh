#!/bin/bash
# share: a process unit joins another running unit's ipc, pid or network namespace, and only
# when it says so (as root):
#   test-share.sh SUPD SUPCTL SUP_MONITOR SUP_PROBE
# Each case names the boundary that holds, or the promise that sharing keeps.
# Exit 77 (skip) without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") PROBE=$(realpath "$4")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supshare

LAYER=$TOP/layer
busybox_layer "$LAYER"
install -m 0755 "$PROBE" "$LAYER/bin/sup-probe"
mkdir -p "$LAYER/www"
echo "the owner's page" > "$LAYER/www/index.html"

# unit NAME YAML-REST: a unit on the layer; without network: none when YAML-REST shares the
# network (the two keys exclude each other).
unit() {
        local net="network: none"
        grep -q 'network:' <<<"$2" && net=
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - dir: $LAYER
$net
stop: {timeout: 2s}
$2
UNIT
}

# logged UNIT TEXT: the unit's log has a line of its command's output that holds TEXT.
logged() { grep -q "stdout .*$2" "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }

cgroup_parent() { sed -n 's/.*cgroups \(sup-[0-9a-f]*\).*/\1/p' "$CASE_DIR/supd.log" | head -1; }

# case-supd.sh's end(), and no instance cgroup of the case left on any hierarchy once supd is gone.
end() {
        local parent left
        parent=$(cgroup_parent)
        stop_supd
        check_left_behind
        if [ -z "$parent" ]; then
                fail "no cgroup parent in supd's log"
        else
                left=$(find /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent" -mindepth 1 -type d 2>/dev/null)
                [ -z "$left" ] || fail "cgroups left behind: $left"
        fi
        case_verdict
}

running() {
        for u in "$@"; do
                wait_for 10 state_is "$u" running || fail "$u is not running: $(field "$u" state) $(field "$u" reason)"
        done
}

# The host's SysV shared memory keys, in decimal (its IPC namespace: the test's own).
host_has_shm() { awk -v k="$1" 'NR > 1 && $1 == k { found = 1 } END { exit !found }' /proc/sysvipc/shm; }

trap cleanup EXIT

# Keys no other program on the machine uses (decimal; the probe takes them as numbers).
KEY_A=1364001 KEY_B=1364002 KEY_C=1364003

# ---------------------------------------------------------------------------------------------

begin "share: {ipc: owner}: two units see each other's SysV shared memory; a third unit and the host do not"
# The owner creates A, then waits for the sharer's B to appear in its namespace.
unit owner "command: [/bin/sh, -c, \"sup-probe shm-create $KEY_A; until sup-probe shm-find $KEY_B | grep -q =ok; do sleep 0.05; done; sup-probe shm-find $KEY_B; exec sleep 1000\"]"
unit sharer "share: {ipc: owner}
command: [/bin/sh, -c, \"until sup-probe shm-find $KEY_A | grep -q =ok; do sleep 0.05; done; sup-probe shm-find $KEY_A shm-create $KEY_B; exec sleep 1000\"]"
start_supd
running owner sharer
wait_for 10 logged owner "shm-find:$KEY_B=ok" || fail "the owner does not see the sharer's segment"
wait_for 10 logged sharer "shm-find:$KEY_A=ok" || fail "the sharer does not see the owner's segment"
logged sharer "shm-create:$KEY_B=ok" || fail "the sharer could not create its segment"
# Only now, with both segments there: a unit that asked for nothing finds neither, and its key
# space is its own (it may create A itself).
unit third "command: [/bin/sh, -c, \"sup-probe shm-find $KEY_A shm-find $KEY_B shm-create $KEY_A; exec sleep 1000\"]"
ctl reload >/dev/null || fail "reload failed"
running third
wait_for 10 logged third "shm-create:$KEY_A=" || fail "third did not run its probe"
logged third "shm-find:$KEY_A=ENOENT" || fail "third sees the owner's segment: $(grep shm-find "$CASE_DIR/state/logs/third.log")"
logged third "shm-find:$KEY_B=ENOENT" || fail "third sees the sharer's segment"
logged third "shm-create:$KEY_A=ok" || fail "third could not create a segment with the owner's key in its own namespace"
for k in $KEY_A $KEY_B; do host_has_shm $k && fail "the host's IPC namespace has segment $k"; done
end

begin "share: {pid: owner}: the sharer sees the owner's processes; stopping the sharer leaves the owner running; stopping the owner ends the sharer, whose policy restarts it in the owner's next instance"
unit owner 'command: [/bin/sleep, "31337"]
restart: {policy: "no"}'
unit sharer 'share: {pid: owner}
command: [/bin/sh, -c, "ps -o pid,args; exec sleep 1000"]
restart: {policy: on-failure, delay: 100ms, max_delay: 200ms, burst: 1000}'
start_supd
running owner sharer
owner_pid=$(field owner pid)
wait_for 10 logged sharer "sleep 31337" || fail "the sharer does not see the owner's command: $(grep stdout "$CASE_DIR/state/logs/sharer.log")"
# PID 1 of the namespace is the owner's init; the sharer's init is not.
sharer_init=$(field sharer pid)
grep -q "^NSpid:.*[[:space:]]1$" "/proc/$sharer_init/status" && fail "the sharer's init is PID 1 of a namespace of its own"
[ "$(readlink "/proc/$sharer_init/ns/pid")" = "$(readlink "/proc/$owner_pid/ns/pid")" ] ||
        fail "the sharer's init is not in the owner's pid namespace"
ctl stop sharer >/dev/null
wait_for 10 state_is sharer stopped || fail "the sharer did not stop: $(field sharer state)"
kill -0 "$sharer_init" 2>/dev/null && fail "the sharer's init survived its stop"
state_is owner running || fail "stopping the sharer stopped the owner: $(field owner state) $(field owner reason)"
[ "$(field owner pid)" = "$owner_pid" ] || fail "stopping the sharer restarted the owner"
kill -0 "$owner_pid" 2>/dev/null || fail "the owner's init $owner_pid is gone"
ctl start sharer >/dev/null
running sharer
ctl stop owner >/dev/null
wait_for 10 state_is owner stopped || fail "the owner did not stop"
wait_for 10 eval '[ "$(field sharer state)" != running ]' || fail "the sharer still runs without the owner's namespace"
wait_for 10 eval 'field sharer reason | grep -q "share.pid"' || fail "the sharer's reason does not say why: $(field sharer reason)"
log "sharer without its owner: $(field sharer state): $(field sharer reason)"
ctl start owner >/dev/null
running owner
wait_for 10 eval '[ "$(field sharer state)" = running ]' || fail "the sharer was not restarted into the owner's new instance: $(field sharer state) $(field sharer reason)"
sharer_init=$(field sharer pid)
[ "$(readlink "/proc/$sharer_init/ns/pid")" = "$(readlink "/proc/$(field owner pid)/ns/pid")" ] ||
        fail "the restarted sharer is not in the owner's new pid namespace"
end

begin "a sharer whose restarts gave up while its owner was down (failed) is started again when the owner runs again; one the operator stopped is not"
unit owner 'command: [/bin/sleep, "1000"]
restart: {policy: "no"}'
unit sharer 'share: {ipc: owner}
command: [/bin/sleep, "1000"]
restart: {policy: on-failure, delay: 100ms, max_delay: 100ms, burst: 2, interval: 1m}'
unit held 'share: {ipc: owner}
command: [/bin/sleep, "1000"]
restart: {policy: on-failure, delay: 100ms, max_delay: 100ms, burst: 2, interval: 1m}'
start_supd
running owner sharer held
ctl stop held >/dev/null
wait_for 10 state_is held stopped || fail "held did not stop"
ctl stop owner >/dev/null
wait_for 10 state_is owner stopped || fail "the owner did not stop"
wait_for 15 state_is sharer failed || fail "the sharer did not give up: $(field sharer state) $(field sharer reason)"
log "sharer while the owner is down: failed: $(field sharer reason)"
ctl start owner >/dev/null
running owner
wait_for 10 state_is sharer running || fail "the sharer was not started again: $(field sharer state) $(field sharer reason)"
grep -q "sharer: owner, whose namespaces it shares, runs again: starting it" "$CASE_DIR/supd.log" || fail "supd did not say why it started the sharer"
sleep 0.5
state_is held stopped || fail "the operator's stop of held was overridden: $(field held state)"
end

begin "share: {network: owner}: the sharer reaches a listener on the owner's 127.0.0.1, gets no network of its own; an unshared unit cannot reach it"
unit owner 'command: [/bin/httpd, -f, -p, "127.0.0.1:8080", -h, /www]'
unit sharer 'share: {network: owner}
command: [/bin/sh, -c, "until wget -q -O - http://127.0.0.1:8080/; do sleep 0.05; done; exec sleep 1000"]'
start_supd
running owner sharer
wait_for 10 logged sharer "the owner's page" || fail "the sharer did not reach the owner's listener"
[ -z "$(field sharer address)" ] || fail "the sharer got an address of its own: $(field sharer address)"
[ "$(readlink "/proc/$(field sharer pid)/ns/net")" = "$(readlink "/proc/$(field owner pid)/ns/net")" ] ||
        fail "the sharer is not in the owner's network namespace"
unit other 'command: [/bin/sh, -c, "wget -q -O - http://127.0.0.1:8080/; echo wget=$?; exec sleep 1000"]'
ctl reload >/dev/null || fail "reload failed"
running other
wait_for 10 logged other "wget=" || fail "other did not try"
logged other "the owner's page" && fail "a unit that shares nothing reached the owner's listener"
logged other "wget=0" && fail "wget succeeded from an unshared unit"
end

begin "the owner restarted (new container, new namespaces): its ipc and network sharers end with the old one and their policy starts them in the new one"
unit owner "command: [/bin/sh, -c, \"sup-probe shm-create $KEY_A; exec sleep 1000\"]"
unit sharer "share: {ipc: owner, network: owner}
command: [/bin/sh, -c, \"until sup-probe shm-find $KEY_A | grep -q =ok; do sleep 0.05; done; echo found-A; exec sleep 1000\"]
restart: {policy: on-failure, delay: 100ms, max_delay: 200ms, burst: 1000}"
start_supd
running owner sharer
old_sharer=$(field sharer pid)
ctl restart owner >/dev/null
wait_for 10 eval '[ "$(field sharer pid)" != "$old_sharer" ] && state_is sharer running && state_is owner running' ||
        fail "the sharer was not restarted with the owner: $(field sharer state) $(field sharer reason)"
kill -0 "$old_sharer" 2>/dev/null && fail "the old sharer still runs in the old owner's namespaces"
for ns in ipc net; do
        [ "$(readlink "/proc/$(field sharer pid)/ns/$ns")" = "$(readlink "/proc/$(field owner pid)/ns/$ns")" ] ||
                fail "the sharer is not in the owner's new $ns namespace"
done
grep -q 'share.ipc: the container of unit "owner" has ended' "$CASE_DIR/state/logs/sharer.log" ||
        fail "the sharer's log does not say why it ended"
end

begin "replacing the owner on reload replaces its sharers: none is left holding the old owner's namespace"
unit owner "command: [/bin/sh, -c, \"sup-probe shm-create $KEY_A; exec sleep 1000\"]"
unit sharer "share: {ipc: owner}
command: [/bin/sh, -c, \"until sup-probe shm-find $KEY_C | grep -q =ok; do sleep 0.05; done; echo found-C; exec sleep 1000\"]"
unit user "requires: [owner]
command: [/bin/sleep, \"1000\"]"
start_supd
running owner sharer user
old_sharer=$(field sharer pid) old_user=$(field user pid)
# The new owner has a new IPC namespace with C in it, which only a new sharer can find.
unit owner "command: [/bin/sh, -c, \"sup-probe shm-create $KEY_C; exec sleep 1000\"]"
plan=$(ctl reload) || fail "reload failed"
log "$(tr '\n' ';' <<<"$plan")"
grep -q "^replace owner " <<<"$plan" || fail "the owner is not replaced: $plan"
grep -q "^replace sharer (it shares the ipc namespace of owner, which gets a new instance)" <<<"$plan" ||
        fail "the plan does not replace the sharer with the owner: $plan"
grep -q "user" <<<"$plan" && fail "a unit that only requires the owner is replaced: $plan"
wait_for 15 eval '[ "$(field sharer pid)" != "$old_sharer" ] && state_is sharer running' ||
        fail "the sharer was not replaced: $(field sharer state) $(field sharer reason)"
wait_for 10 logged sharer found-C || fail "the new sharer does not see the new owner's segment"
kill -0 "$old_sharer" 2>/dev/null && fail "the old sharer still runs"
[ "$(field user pid)" = "$old_user" ] || fail "the unit that only requires the owner was restarted"
end

finish
