#!/bin/bash
# Resource limits end to end, as root, through supd and its monitors, each case naming the attack or
# the promise it checks:
#   test-limits.sh SUPD SUPCTL SUP_MONITOR LIMITS_PROBE
# LIMITS_PROBE (tests/integration/limits-probe.c, static) goes into the image; "-" where the build
# has none (sanitizers), and the case that needs it is left out.
# Exit 77 (skip) without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") PROBE=${4:--}
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "no overlayfs"

TOP=$(mktemp -d /tmp/suplim.XXXXXX)
sanitizer_reports_to "$TOP"
LAYER=$TOP/layer
busybox_layer "$LAYER"
[ "$PROBE" = - ] || cp "$PROBE" "$LAYER/bin/limits-probe"

trap cleanup EXIT

# usage UNIT KEY: one figure of the unit's "usage" object in `supctl status --json` (empty for null).
usage() {
        ctl status --json "$1" 2>/dev/null | "$PY" -c '
import json, sys
u = json.load(sys.stdin)[0].get("usage") or {}
v = u.get(sys.argv[1])
print("" if v is None else v)' "$2"
}
log_of() { cat "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# The file of a limit in the unit's cgroup: v2 NAME, else the v1 hierarchy's file.
cgroup_file() { # cgroup_file UNIT V2-FILE V1-HIERARCHY V1-FILE
        local cg
        cg=$(usage "$1" cgroup)
        if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then cat "$cg/$2"
        else cat "/sys/fs/cgroup/$3/${cg#/sys/fs/cgroup/unified/}/$4"; fi
}

# ---------------------------------------------------------------------------------------------

begin "memory exhaustion: a workload allocating past resources.memory is OOM-killed, status says so, the restart policy applies"
# busybox tail keeps every line it has not printed; /dev/zero has no newline, so it holds all it reads.
unit hog 'command: [/bin/tail, /dev/zero]
resources: {memory: 32M}
restart: {policy: on-failure, delay: 1s}'
start_supd
wait_for 20 eval '[ "$(field hog restarts)" -ge 1 ]' || fail "hog was not restarted: $(field hog state) $(field hog reason)"
[ "$(field hog exit_signal)" = SIGKILL ] || fail "last exit: $(field hog exit_signal) $(field hog exit_code)"
log_of hog | grep -q "the kernel's OOM killer ended it" || fail "the log does not say OOM: $(log_of hog | tail -5)"
# status.oom is that of the last run; catch it between runs (backoff) or after the next kill.
wait_for 20 eval '[ "$(field hog oom)" = True ]' || fail "status never said oom"
ctl status hog | grep -q "oom: the kernel's OOM killer" || fail "supctl status hog: $(ctl status hog)"
# ... and its metrics count the kills (supd saw at least the one just waited for).
kills=$(ctl metrics | sed -n 's/^sup_unit_oom_kills_total{unit="hog",isolation="process"} \([0-9]*\)$/\1/p')
[ "${kills:-0}" -ge 1 ] || fail "metrics: sup_unit_oom_kills_total for hog is '$kills'"
log "$(log_of hog | grep -c "OOM killer") OOM kills logged, restarts $(field hog restarts)"
end

begin "fork bomb: held at resources.pids, while supctl status stays responsive"
if [ "$PROBE" = - ]; then
        log "not run: no limits-probe in this build (sanitizers)"
else
unit bomb 'command: [/bin/limits-probe, bomb]
resources: {pids: 64}'
unit bystander 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
wait_for 5 state_is bomb running || fail "bomb not running: $(field bomb reason)"
sleep 1
worst=0 total=0 over=0
for i in $(seq 20); do
        t0=$(date +%s%N)
        out=$(ctl status bomb --json) || fail "status failed during the bomb"
        t1=$(date +%s%N)
        ms=$(( (t1 - t0) / 1000000 )); total=$((total + ms)); [ $ms -gt $worst ] && worst=$ms
        n=$(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["usage"]["pids"])')
        [ "$n" -le 64 ] || over=$n
        sleep 0.1
done
log "during the bomb: supctl status took $((total / 20)) ms on average, $worst ms at worst; tasks $n of 64"
[ "$over" = 0 ] || fail "the cgroup held $over tasks, over pids: 64"
[ "$n" -ge 32 ] || fail "the bomb did not reach the limit ($n tasks): did it run?"
[ $worst -lt 1000 ] || fail "supctl status took $worst ms during the bomb"
state_is bystander running || fail "the other unit suffered: $(field bystander state)"
t0=$(date +%s%N)
ctl stop bomb >/dev/null
wait_for 10 state_is bomb stopped || fail "the bomb did not stop: $(field bomb state)"
log "stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fi
end

begin "cpu hog: resources.cpus 0.2 gives a busy loop about a fifth of a CPU"
unit spin 'command: [/bin/sh, -c, "while :; do :; done"]
resources: {cpus: 0.2}'
start_supd
wait_for 5 state_is spin running || fail "spin not running"
sleep 0.5
c0=$(usage spin cpu_usec) t0=$(date +%s%N)
sleep 2
c1=$(usage spin cpu_usec) t1=$(date +%s%N)
share=$("$PY" -c "print('%.3f' % (($c1 - $c0) / (($t1 - $t0) / 1000.0)))")
log "cpus 0.2: $share of a CPU over 2 s (cgroup CPU time $(( (c1 - c0) / 1000 )) ms)"
"$PY" -c "import sys; sys.exit(0 if 0.1 <= $share <= 0.3 else 1)" || fail "share $share is not about 0.2"
end

begin "reload: a changed memory limit is applied live (same PID, new limit in the cgroup); a changed command restarts"
unit web 'command: [/bin/sh, -c, "exec sleep 1000"]
resources: {memory: 64M, pids: 32}'
start_supd
wait_for 5 state_is web running || fail "web not running"
pid=$(field web pid) hash=$(field web hash)
[ "$(cgroup_file web memory.max memory memory.limit_in_bytes)" = $((64 << 20)) ] || fail "memory limit at start: $(cgroup_file web memory.max memory memory.limit_in_bytes)"
unit web 'command: [/bin/sh, -c, "exec sleep 1000"]
resources: {memory: 128M, pids: 64}'
plan=$(ctl reload --dry-run)
log "dry run: $(echo "$plan" | tail -1)"
echo "$plan" | grep -q "update web in place (resources.memory: 64M -> 128M, resources.pids: 32 -> 64)" || fail "dry run: $plan"
ctl reload >/dev/null || fail "reload failed"
wait_for 5 eval '[ "$(field web hash)" != "$hash" ]' || fail "the status hash did not change"
[ "$(field web pid)" = "$pid" ] || fail "web was restarted: pid $(field web pid), was $pid"
[ "$(cgroup_file web memory.max memory memory.limit_in_bytes)" = $((128 << 20)) ] || fail "memory limit now: $(cgroup_file web memory.max memory memory.limit_in_bytes)"
[ "$(cgroup_file web pids.max pids pids.max)" = 64 ] || fail "pids limit now: $(cgroup_file web pids.max pids pids.max)"
[ "$(usage web memory_max)" = $((128 << 20)) ] && [ "$(usage web pids_max)" = 64 ] || fail "status usage: $(usage web memory_max) $(usage web pids_max)"
grep -q '"memory": 134217728' "$CASE_DIR/run/units/web/spec.json" || fail "spec.json was not rewritten"
log_of web | grep -q "updated in place: resources.memory: 64M -> 128M" || fail "the log does not say: $(log_of web | tail -3)"
# A supd that starts later adopts it with the new spec: nothing to do.
kill -9 "$SUPD_PID"; wait "$SUPD_PID" 2>/dev/null; SUPD_PID=
start_supd
wait_for 5 state_is web running || fail "web not adopted"
[ "$(field web pid)" = "$pid" ] || fail "adoption restarted web"
[ "$(ctl reload --dry-run | tail -1)" = "nothing to do" ] || fail "after adoption: $(ctl reload --dry-run)"
# The command: a restart.
unit web 'command: [/bin/sh, -c, "echo v2; exec sleep 1000"]
resources: {memory: 128M, pids: 64}'
plan=$(ctl reload --dry-run)
echo "$plan" | grep -q "replace web (changed: command)" || fail "dry run: $plan"
ctl reload >/dev/null
wait_for 5 eval '[ "$(field web pid)" != "$pid" ] && state_is web running' || fail "web was not restarted for its command"
end

begin "reload: a memory limit below what the workload uses (v1: refused, so a restart; v2: reclaim, then the OOM killer)"
# The shell keeps 20 MB in a variable and waits.
cat > "$LAYER/fat.sh" <<'FAT'
x=$(head -c 20000000 /dev/zero | tr '\000' a)
echo holding ${#x}
sleep 1000
FAT
fat='command: [/bin/sh, /fat.sh]
restart: {policy: on-failure, delay: 10s}'
unit fat "$fat
resources: {memory: 64M}"
start_supd
wait_for 10 eval 'log_of fat | grep -q "holding 20000000"' || fail "fat does not hold its memory: $(log_of fat | tail -3)"
pid=$(field fat pid)
log "fat uses $(( $(usage fat memory_bytes) >> 20 )) MiB of 64"
unit fat "$fat
resources: {memory: 8M}"
ctl reload --dry-run | grep -q "update fat in place (resources.memory: 64M -> 8M)" || fail "dry run: $(ctl reload --dry-run)"
ctl reload >/dev/null
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        # v2 takes any memory.max and reclaims; what it cannot reclaim, the OOM killer takes.
        wait_for 10 eval '[ "$(field fat oom)" = True ]' || fail "no OOM kill after lowering memory.max: $(field fat state)"
else
        # v1 refuses (EBUSY) a limit it cannot reclaim down to: the old one stays, supd replaces the
        # instance, whose new run starts under the new limit (and is OOM-killed at once).
        wait_for 10 grep -q "fat: not updated in place" "$CASE_DIR/supd.log" || fail "no fallback: $(grep fat: "$CASE_DIR/supd.log" | tail -3)"
        log "$(grep "fat: not updated in place" "$CASE_DIR/supd.log" | sed 's/^supd: //')"
        wait_for 10 eval '[ "$(field fat pid)" != "$pid" ]' || fail "not replaced: pid $(field fat pid)"
        wait_for 10 eval '[ "$(field fat oom)" = True ]' || fail "the new run was not OOM-killed: $(field fat state)"
fi
end

begin "CVE-2022-0492: a unit cannot reach a cgroup v1 release_agent (mount a hierarchy, write the file)"
for f in /sys/fs/cgroup/*/release_agent; do
        [ -z "$(cat "$f")" ] || skip "the host's $f is set: the probe would overwrite it"
done
cat > "$LAYER/cve-2022-0492.sh" <<'PROBE'
echo caps $(grep CapEff /proc/self/status)
echo sees $(ls /sys/fs/cgroup | wc -l) entries in /sys/fs/cgroup
mkdir -p /tmp/x
for c in rdma net_cls memory cpuset devices none,name=systemd none,name=sup-escape; do
        if mount -t cgroup -o $c cgroup /tmp/x 2>/dev/null; then
                [ -e /tmp/x/release_agent ] && echo "ESCAPE release_agent visible ($c)"
                (printf "\n" > /tmp/x/release_agent) 2>/dev/null && echo "ESCAPE release_agent written ($c)"
                echo "mounted $c: $(ls /tmp/x | wc -l) files"
                umount /tmp/x
        else
                echo "refused $c"
        fi
        if unshare -UrmC sh -c "mount -t cgroup -o $c cgroup /tmp/x && printf \"\\n\" > /tmp/x/release_agent" 2>/dev/null; then
                echo "ESCAPE release_agent written in a user namespace ($c)"
        fi
done
for f in /sys/fs/cgroup/*/release_agent; do
        [ -e "$f" ] && (printf "\n" > "$f") 2>/dev/null && echo "ESCAPE $f written"
done
echo probe done
PROBE
# With CAP_SYS_ADMIN and mount allowed (reasons 1 and 2 of docs/security.md taken away), so that
# reason 3, the cgroup namespace with every hierarchy joined, is tested on its own.
unit ra 'command: [/bin/sh, /cve-2022-0492.sh]
restart: {policy: "no"}
security: {capabilities: {add: [SYS_ADMIN]}, seccomp: unconfined}'
start_supd
wait_for 10 eval 'log_of ra | grep -q "probe done"' || fail "the probe did not finish: $(log_of ra | tail -5)"
log_of ra | grep -E 'stdout (caps|sees|refused|mounted)' | sed 's/^.*stdout /    /' | head -20
log_of ra | grep -q ESCAPE && fail "$(log_of ra | grep ESCAPE)"
log_of ra | grep -q "refused rdma" || fail "a new v1 hierarchy (rdma) was mounted"
log_of ra | grep -q "refused none,name=sup-escape" || fail "a new named v1 hierarchy was mounted"
log_of ra | grep -q "sees 0 entries" || fail "the container sees the host's cgroup mounts"
# Without CAP_SYS_ADMIN (the default capability set, security.capabilities) every mount is refused.
if ! log_of ra | grep -q 'CapEff:.*[2367abef][0-9a-f]\{5\}$'; then
        log_of ra | grep -q "mounted" && fail "a cgroup mount succeeded without CAP_SYS_ADMIN"
fi
end

begin "escaping a limit with network: host (the host's /sys bound in): no write to the host's cgroup files"
# With the host's network the host's /sys is bound into the container, and with it the host's
# cgroup mounts. A read-only bind alone would not reach the mounts below it: a root workload could
# write /sys/fs/cgroup/memory/cgroup.procs (uid 0 is enough on v1) and leave its own cgroup, its
# limits with it. rootfs.c makes every mount of the bound tree read-only.
cat > "$LAYER/hostnet.sh" <<'PROBE'
for f in /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs; do
        [ -e $f ] || continue
        (echo $$ > $f) 2>/dev/null && echo "WROTE $f (left its cgroup)" || echo "refused $f"
done
# An empty line leaves an empty release_agent as it is (the CVE case checked it is empty).
f=/sys/fs/cgroup/memory/release_agent
[ -e $f ] && { (printf "\n" > $f) 2>/dev/null && echo "WROTE $f" || echo "refused $f"; }
echo probe done
exec sleep 1000
PROBE
unit hostnet 'resources: {memory: 64M}
command: [/bin/sh, /hostnet.sh]'
sed -i 's/^network: none$/network: host/' "$CASE_DIR/units/hostnet.yaml"
start_supd
wait_for 10 eval 'log_of hostnet | grep -q "probe done"' || fail "the probe did not finish: $(log_of hostnet | tail -3)"
log_of hostnet | grep -q WROTE && fail "$(log_of hostnet | grep -o 'WROTE.*' | tr '\n' ' ')"
log_of hostnet | grep -q "refused /sys/fs/cgroup/memory/cgroup.procs" || fail "the probe did not try: $(log_of hostnet | tail -3)"
log "$(log_of hostnet | grep -o 'refused.*' | tr '\n' ' ')"
end

begin "a log flood (yes under resources.cpus 0.1): the monitor writing it works in a cgroup of its own under the unit's CPU limit, and status shows its CPU time"
# Before, the monitor worked in supd's cgroup (the root one here) at 95 % of a CPU, writing 55 MiB/s
# of log for a workload held at 1 %.
unit flood 'command: [/bin/yes]
resources: {cpus: 0.1}'
start_supd
wait_for 10 state_is flood running || fail "flood: $(field flood state) $(field flood reason)"
mpid=$(field flood monitor_pid)
rel=$(usage flood cgroup)
rel=${rel#/sys/fs/cgroup/unified/} && rel=${rel#/sys/fs/cgroup/}
mrel=$rel@monitor
grep -q ":/$mrel\$" "/proc/$mpid/cgroup" || fail "the monitor $mpid is not in $mrel: $(tr '\n' ' ' <"/proc/$mpid/cgroup")"
# On v1, in the hierarchies that account or bound its work (its CPU time, its memory), and not in
# those its unit joins only so that its container cannot reach their roots (cpuset, devices,
# name=systemd), nor those of sup's controllers that do neither for one process (pids, freezer,
# blkio, the unified one of a hybrid host): the monitor is a host process.
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
        for h in cpu cpuacct memory; do
                [ -d "/sys/fs/cgroup/$h" ] || continue
                grep -Eq "^[0-9]+:([^:]*,)?$h(,[^:]*)?:/$mrel\$" "/proc/$mpid/cgroup" ||
                        fail "the monitor is not in $mrel on $h: $(tr '\n' ' ' <"/proc/$mpid/cgroup")"
        done
        for h in cpuset devices name=systemd pids freezer blkio; do
                ! grep -Eq "^[0-9]+:([^:]*,)?$h(,[^:]*)?:/$mrel\$" "/proc/$mpid/cgroup" ||
                        fail "the monitor joined $mrel on $h: $(tr '\n' ' ' <"/proc/$mpid/cgroup")"
        done
        ! grep -q "^0::/$mrel\$" "/proc/$mpid/cgroup" ||
                fail "the monitor joined $mrel on the unified hierarchy: $(tr '\n' ' ' <"/proc/$mpid/cgroup")"
        [ ! -e "/sys/fs/cgroup/cpuset/$mrel" ] || fail "a cpuset cgroup was made for the monitor"
fi
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        mcpu=/sys/fs/cgroup/$mrel acct=/sys/fs/cgroup/$mrel
        [ "$(cat "$mcpu/cpu.max")" = "10000 100000" ] || fail "the monitor's cpu.max: $(cat "$mcpu/cpu.max")"
        acct_usec() { awk '$1 == "usage_usec" {print $2}' "$acct/cpu.stat"; }
else
        mcpu=/sys/fs/cgroup/cpu/$mrel acct=/sys/fs/cgroup/cpuacct/$mrel
        [ "$(cat "$mcpu/cpu.cfs_quota_us")/$(cat "$mcpu/cpu.cfs_period_us")" = 10000/100000 ] ||
                fail "the monitor's quota: $(cat "$mcpu/cpu.cfs_quota_us")/$(cat "$mcpu/cpu.cfs_period_us")"
        acct_usec() { echo $(($(cat "$acct/cpuacct.usage") / 1000)); }
fi
throttled() { awk '$1 == "nr_throttled" {print $2}' "$mcpu/cpu.stat"; }
# The bound holds: the kernel throttles the monitor (yes then waits on its full pipe).
wait_for 20 eval '[ "$(throttled)" -gt 0 ]' || fail "the monitor's cgroup was never throttled: $(tr '\n' ' ' <"$mcpu/cpu.stat")"
wait_for 10 eval '[ "$(usage flood monitor_cpu_usec)" -gt 0 ]' || fail "status: monitor_cpu_usec '$(usage flood monitor_cpu_usec)'"
shown=$(usage flood monitor_cpu_usec) kernel=$(acct_usec)
[ "$shown" -le "$kernel" ] || fail "status says $shown us, the cgroup $kernel us"
ctl status flood | grep -q "monitor: .* s of CPU" || fail "supctl status flood: $(ctl status flood)"
log "monitor: $shown us of CPU in $mrel (throttled $(throttled) times); workload: $(usage flood cpu_usec) us; log $(($(stat -c %s "$CASE_DIR/state/logs/flood.log") >> 20)) MiB"
stop_supd
[ ! -d "$mcpu" ] || fail "the monitor's cgroup $mcpu is left after it exited"
end

begin "issue 14: a stopped unit's next run is made ahead (its init parked in its own namespaces and cgroup, its root built), shown nowhere as running, taken by the start as a fresh hardened run of the current image, thrown away when the spec or a layer changes or the monitor dies, gone with the unit"
mkdir -p "$CASE_DIR/later" "$CASE_DIR/top"
echo 1 >"$CASE_DIR/top/version"
# ahead_unit MEMORY: the unit, on the test's layer and a dir: layer of its own on top ($CASE_DIR/top).
ahead_unit() {
        unit ahead "command: [/bin/sh, -c, 'echo started \$(cat /version); echo err \$(cat /version) >&2; exec sleep 1000']
mounts: [{type: bind, source: $CASE_DIR/later, target: /later}]
resources: {memory: $1}"
        sed -i "s|^    - dir: $LAYER\$|&\n    - dir: $CASE_DIR/top|" "$CASE_DIR/units/ahead.yaml"
}
# last_started: the version the last run printed
last_started() { log_of ahead | sed -n 's/.* stdout started //p' | tail -n1; }
ahead_unit 64M
start_supd
wait_for 5 state_is ahead running || fail "ahead: $(field ahead state) $(field ahead reason)"
cg=$(usage ahead cgroup) rel=$(usage ahead cgroup)
rel=${rel#/sys/fs/cgroup/unified/} && rel=${rel#/sys/fs/cgroup/}
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then memfile=/sys/fs/cgroup/$rel/memory.max
else memfile=/sys/fs/cgroup/memory/$rel/memory.limit_in_bytes; fi
# parked: the one process in the unit's cgroup while it is stopped
parked() { [ -f "$cg/cgroup.procs" ] && [ "$(wc -l <"$cg/cgroup.procs")" = 1 ] && cat "$cg/cgroup.procs"; }
# next_parked [OLD [built]]: waits until one process other than OLD is parked (with built: with
# its root built, the overlay its root), then P is its pid, as read in that same turn: a second
# read of cgroup.procs may find it alone no longer (under ASan, a process's exit runs the leak
# checker's tracer, a process of its own, for a moment).
next_parked() {
        local old=${1:-} built=${2:-} # seen by wait_for's eval (bash's locals are dynamic)
        wait_for 5 eval 'P=$(parked) && [ "$P" != "$old" ] && { [ -z "$built" ] ||
                grep -Eq "^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / .* - overlay " "/proc/$P/mountinfo" 2>/dev/null; }'
}
# command_of INIT: the container's command (its init's child)
command_of() { cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}'; }
ctl stop ahead >/dev/null
wait_for 5 state_is ahead stopped || fail "not stopped"
next_parked || fail "nothing parked in $cg: $(cat "$cg/cgroup.procs" 2>&1 | tr '\n' ' ')"
p1=$P
[ "$(cat "/proc/$p1/comm")" = sup-init ] || fail "the parked process is $(cat "/proc/$p1/comm")"
[ "$(readlink "/proc/$p1/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] &&
        [ "$(readlink "/proc/$p1/ns/net")" != "$(readlink /proc/self/ns/net)" ] || fail "the parked init is not in namespaces of its own"
# Its root is built while parked (network: none): its own mount namespace, the overlay as its root, none of
# the host's mounts left in it, and none of the unit's binds yet: they come at the go, from the host's mounts of then.
[ "$(readlink "/proc/$p1/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "the parked init has no mount namespace of its own"
grep -Eq '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / .* - overlay ' "/proc/$p1/mountinfo" || fail "the parked init's root is not built: $(head -n2 "/proc/$p1/mountinfo")"
awk '{ print $5 }' "/proc/$p1/mountinfo" | grep -q "^$TOP" && fail "the parked init holds host mounts: $(grep "$TOP" "/proc/$p1/mountinfo" | head -n2)"
grep -q ' /later ' "/proc/$p1/mountinfo" && fail "the parked init bound its bind source before its start"
# A file system the host mounts on the bind source while the unit is stopped: the start's, not the parking's, counts.
mount -t tmpfs -o size=1m sup-later "$CASE_DIR/later" && touch "$CASE_DIR/later/marker"
# A file of the image changed in place while parked: the start shows the new one, as a cold start would.
echo 2 >"$CASE_DIR/top/version"
[ -z "$(field ahead pid)" ] || fail "a stopped unit shows pid $(field ahead pid)"
[ -z "$(usage ahead memory_bytes)" ] || fail "a stopped unit shows usage"
ctl top ahead >/dev/null 2>&1 && fail "top answers for a stopped unit"
ctl start ahead >/dev/null
wait_for 5 state_is ahead running || fail "ahead did not start: $(field ahead reason)"
[ "$(field ahead pid)" = "$p1" ] || fail "the start did not take the parked init $p1: pid $(field ahead pid)"
# The hardening applies after the go, as in a cold start: the command has the default filter and no_new_privs.
c=$(command_of "$p1")
grep -q "^Seccomp:[[:space:]]*2" "/proc/$c/status" && grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$c/status" ||
        fail "the command of the parked init is not hardened: $(grep -E 'Seccomp|NoNewPrivs' "/proc/$c/status" | tr '\n' ' ')"
wait_for 5 eval 'log_of ahead | grep -q "stdout started"' || fail "no output of the run"
[ "$(readlink "/proc/$c/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "the command is in the host's mount namespace"
[ -e "/proc/$c/root/later/marker" ] || fail "the container does not see what the host mounted on its bind source while it was parked"
[ "$(last_started)" = 2 ] || fail "the start shows version $(last_started) of the image's file changed while parked, not 2"
umount "$CASE_DIR/later"

# A live update while stopped: the parked init has the old spec and limits; it goes, the new one has the new limit.
ctl stop ahead >/dev/null
next_parked "$p1" || fail "nothing parked after the stop"
p2=$P
ahead_unit 128M
ctl reload >/dev/null || fail "reload failed"
wait_for 5 eval '! kill -0 "$p2" 2>/dev/null' || fail "the parked init of the old spec is still there"
next_parked "$p2" || fail "nothing parked after the update"
p3=$P
[ "$(cat "$memfile")" = $((128 << 20)) ] || fail "the parked run's memory limit: $(cat "$memfile")"

# supd killed and started again: the monitor and what it parked stay, the unit is adopted stopped, and its start takes it.
kill -9 "$SUPD_PID"; wait "$SUPD_PID" 2>/dev/null; SUPD_PID=
start_supd
wait_for 5 state_is ahead stopped || fail "not adopted stopped: $(field ahead state)"
kill -0 "$p3" 2>/dev/null || fail "the parked init did not survive supd"
ctl start ahead >/dev/null
wait_for 5 state_is ahead running || fail "ahead did not start after the adoption"
[ "$(field ahead pid)" = "$p3" ] || fail "after the adoption, the start did not take $p3: pid $(field ahead pid)"

# The image's dir: layer replaced (renamed over) while parked: the root built ahead stands on the
# old directory, which the same path no longer names. Before the identity check at the go, the
# start ran the old image ("started 2").
ctl stop ahead >/dev/null
# Once its root is built (the init builds it after it is parked: a layer replaced before that is
# simply what it builds on, or a build that fails and a cold start that says nothing of it).
next_parked "$p3" built || fail "nothing parked with its root built after the stop: '$(parked)'"
p6=$P
mv "$CASE_DIR/top" "$CASE_DIR/top.old" && mkdir "$CASE_DIR/top" && echo 3 >"$CASE_DIR/top/version"
ctl start ahead >/dev/null
wait_for 5 state_is ahead running || fail "ahead did not start after its layer was replaced: $(field ahead reason)"
wait_for 5 eval '[ "$(last_started)" = 3 ]' || fail "a unit whose layer was replaced while parked started version $(last_started), not 3"
[ "$(field ahead pid)" != "$p6" ] || fail "the start took the root built on the replaced layer"
log_of ahead | grep -q "replaced since the root was built ahead: starting afresh" || fail "the cold start after the replacement is not logged"
p3=$(field ahead pid)

# The writable layer reset by hand while parked (upper/ renamed away, a new one put in the
# sandbox): the start shows the new layer, as a cold start does. Before upper/ was in the
# identity check (only the sandbox directory was), the start ran on the old one ("started 3").
ctl stop ahead >/dev/null
next_parked "$p3" built || fail "nothing parked with its root built after the stop: '$(parked)'"
p7=$P sb=$CASE_DIR/state/sandboxes/ahead
mv "$sb/upper" "$sb/upper.old" && mkdir "$sb/upper" && echo 4 >"$sb/upper/version"
ctl start ahead >/dev/null
wait_for 5 state_is ahead running || fail "ahead did not start after its sandbox was reset: $(field ahead reason)"
wait_for 5 eval '[ "$(last_started)" = 4 ]' || fail "a unit whose writable layer was reset while parked started version $(last_started), not 4"
[ "$(field ahead pid)" != "$p7" ] || fail "the start took the root built on the old writable layer"
# Its stderr is the new run's: before unpark() closed the parked container's pipes, their end
# closed the new stderr, and the command died of SIGPIPE at its first write there.
wait_for 5 eval 'log_of ahead | grep -q "stderr err 4"' || fail "the stderr of a run started after an unparking is lost"
log_of ahead | grep "killed by signal 13" && fail "a run started after an unparking died of SIGPIPE"
p3=$(field ahead pid)

# The parked init killed by hand (or by the OOM killer): the start does not fail on it ("Broken
# pipe" before the fix), it starts the container cold in the same cgroup.
ctl stop ahead >/dev/null
next_parked "$p3" || fail "nothing parked after the stop"
pk=$P
kill -9 "$pk"
# Dead, a zombie of its monitor's until the start reaps it.
wait_for 5 eval '[ "$(awk "{print \$3}" "/proc/$pk/stat" 2>/dev/null || echo gone)" != S ]' || fail "the parked init $pk did not die"
out=$(ctl start ahead 2>&1) || fail "start after the parked init died: $out"
wait_for 5 state_is ahead running || fail "ahead did not start after its parked init died: $(field ahead state) $(field ahead reason)"
[ "$(field ahead pid)" != "$pk" ] || fail "the start took the dead parked init"

# The monitor killed: what it parked dies with it (PR_SET_PDEATHSIG), nothing of it is left.
ctl stop ahead >/dev/null
next_parked "$pk" || fail "nothing parked after the stop"
p4=$P mon=$(field ahead monitor_pid)
kill -9 "$mon"
wait_for 5 eval '! kill -0 "$p4" 2>/dev/null' || fail "the parked init $p4 outlived its monitor"

# The unit removed: its cgroup, and whatever was parked in it, go.
wait_for 10 eval '[ -n "$(field ahead monitor_pid)" ] && [ "$(field ahead monitor_pid)" != "$mon" ]' || fail "no new monitor"
wait_for 5 eval '[ -n "$(parked)" ] || state_is ahead running' || fail "nothing in the unit's cgroup"
left=$(cat "$cg/cgroup.procs")
rm "$CASE_DIR/units/ahead.yaml"
ctl reload >/dev/null || fail "reload failed"
wait_for 5 eval '[ ! -d "$cg" ]' || fail "the unit's cgroup $cg is left: $(cat "$cg/cgroup.procs" 2>&1 | tr '\n' ' ')"
for p in $left; do kill -0 "$p" 2>/dev/null && fail "process $p of the removed unit is left"; done

# The restart policy's next run is made ahead too, during the back-off, and is as isolated.
# Its first run fails at once; the next one (its sandbox keeps /once) stays. What was parked is
# read during the back-off (the one process in the unit's cgroup) until the restart's command joins it.
unit again 'command: [/bin/sh, -c, "[ -e /once ] && exec sleep 1000; touch /once; exit 3"]
restart: {policy: on-failure, delay: 3s}'
cg=${cg%/ahead}/again seen=" "
ctl reload >/dev/null || fail "reload failed"
wait_for 10 state_is again backoff || fail "no back-off: $(field again state)"
for _ in $(seq 100); do
        p=$(parked) && seen="$seen$p "
        [ "$(cat "$cg/cgroup.procs" 2>/dev/null | wc -l)" -gt 1 ] && break
        sleep 0.05
done
[ "$seen" != " " ] || fail "nothing parked during the back-off"
wait_for 10 state_is again running || fail "no restart: $(field again state)"
p5=$(field again pid)
case $seen in *" $p5 "*) ;; *) fail "the restart did not take what was parked ($seen): pid $p5" ;; esac
c=$(command_of "$p5")
grep -q "^Seccomp:[[:space:]]*2" "/proc/$c/status" || fail "the restarted command has no filter"
[ "$(readlink "/proc/$c/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "the restarted command is in the host's mount namespace"
end

finish
