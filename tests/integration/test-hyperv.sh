#!/bin/bash
# isolation: hyperv end to end: supd, a monitor, QEMU (TCG on these machines), Debian's cloud kernel
# and sup-init, as root:
#   test-hyperv.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|- [SUP_PROBE|-]
# Each case starts its own supd on private directories and names what it proves. Exit 77 (skip)
# without root, QEMU or a guest kernel, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
# SUP_GUEST_DIR: the guest kernel's state dir (default /var/lib/sup/guest).
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") SUP_INIT=$4
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
SUP_PROBE=${5:--}
[ "$SUP_PROBE" = - ] || SUP_PROBE=$(realpath "$SUP_PROBE")
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
SUPD_ARGS=(--guest-dir "$GUEST")

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
command -v mkfs.ext4 >/dev/null || skip "needs mkfs.ext4 (e2fsprogs)"
command -v mkfs.erofs >/dev/null || skip "needs mkfs.erofs (erofs-utils)"
grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "no overlayfs"
"$TOOLS/guest-kernel.sh" "$GUEST" >/dev/null || skip "cannot provision the guest kernel"
if [ "$SUP_INIT" = - ]; then
        # No sup-init in this build (sanitizers): the initramfs of the plain build.
        [ -f "$GUEST/kernel/current/initramfs.cpio" ] || skip "no initramfs in $GUEST (run the plain build's tests first)"
else
        "$TOOLS/guest-initramfs.sh" "$GUEST" "$SUP_INIT" >/dev/null || { echo "FAIL: cannot build the initramfs"; exit 1; }
fi

TOP=$(mktemp -d /tmp/suphv.XXXXXX)
sanitizer_reports_to "$TOP"

# Two layers, as an image has them: busybox below, an app layer above that shadows one file.
LOWER=$TOP/lower UPPER=$TOP/upper
busybox_layer "$LOWER"
mkdir -p "$LOWER/data" "$UPPER/data" "$UPPER/app"
echo "lower" >"$LOWER/data/which.txt"
echo "only in the lower layer" >"$LOWER/data/lower.txt"
echo "upper" >"$UPPER/data/which.txt"
printf '#!/bin/sh\necho "app says $1"\n' >"$UPPER/app/run.sh"
chmod 755 "$UPPER/app/run.sh"

# Host directories bound into the units (virtio-fs in hyperv): a file owned by ids no host user has,
# a writable and a read-only one.
BIND=$TOP/bind
mkdir -p "$BIND/rw" "$BIND/ro"
echo "from the host" >"$BIND/rw/host.txt"
echo "read me" >"$BIND/ro/host.txt"
chown 1234:5678 "$BIND/rw/host.txt"
BINDS="mounts:
  - {type: bind, source: $BIND/rw, target: /srv/rw}
  - {type: tmpfs, target: /srv/tmp}
  - {type: bind, source: $BIND/ro, target: /srv/ro, read_only: true}"
# virtiofsd_pids UNIT: the virtiofsds its log names, alive or not.
virtiofsd_pids() { sed -n 's/.* virtiofsd \([0-9]*\) for .*/\1/p' "$CASE_DIR/state/logs/$1.log"; }

# procs_file PID: the cgroup.procs of the process's cgroup (v1: its memory controller's).
procs_file() {
        local cg
        cg=$(grep -E '^[0-9]+:memory:' "/proc/$1/cgroup" | cut -d: -f3)
        if [ -n "$cg" ]; then echo "/sys/fs/cgroup/memory$cg/cgroup.procs"; else echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$1/cgroup")/cgroup.procs"; fi
}

# vm_field UNIT KEY: a field of the unit's "vm" object.
vm_field() {
        ctl status --json 2>/dev/null | "$PY" -c '
import json, sys
for u in json.load(sys.stdin):
    if u["name"] == sys.argv[1]:
        v = (u.get("vm") or {}).get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}
logged() { grep -q -- "$2" "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }

unit() { # unit NAME ISOLATION YAML-REST
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
name: $1
isolation: $2
image:
  layers:
    - dir: $LOWER
    - dir: $UPPER
network: none
$3
UNIT
        # A stop timeout of its own, unless the case gives one.
        [[ $3 == *"stop:"* ]] || echo "stop: {timeout: 2s}" >>"$CASE_DIR/units/$1.yaml"
}

trap cleanup EXIT

# run_in_both_modes NAME YAML-REST: units NAME-process and NAME-hyperv of the same YAML, started by
# a new supd; returns once both have exited.
run_in_both_modes() {
        local mode
        for mode in process hyperv; do unit "$1-$mode" "$mode" "$2"; done
        start_supd
        wait_for 60 state_is "$1-hyperv" exited || fail "$1-hyperv did not exit: $(field "$1-hyperv" state) $(field "$1-hyperv" reason)"
        wait_for 10 state_is "$1-process" exited || fail "$1-process did not exit: $(field "$1-process" state)"
}

# What a workload sees and does, printed one fact a line; the same command in both modes.
PROBE='echo "id: $(id)"; echo "pwd: $(pwd)"; echo "host: $(hostname)"; echo "env: GREETING=$GREETING PATH=$PATH HOME=$HOME";
echo "which: $(cat /data/which.txt)"; echo "lower: $(cat /data/lower.txt)"; /app/run.sh both;
echo "sandbox before: $(cat /data/written.txt 2>/dev/null || echo none)"; echo written >/data/written.txt && echo "wrote: $(cat /data/written.txt)";
echo "bind: $(cat /srv/rw/host.txt) $(stat -c %u:%g /srv/rw/host.txt), ro: $(cat /srv/ro/host.txt)";
echo "bind ro write: $( (echo x >/srv/ro/new.txt) 2>&1 | sed "s/.*: //")";
echo "bind before: $(cat /srv/rw/k-$(uname -r) 2>/dev/null || echo none)"; echo written >/srv/rw/k-$(uname -r);
echo "stderr line" >&2; for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done; exit 7'

begin "conformance: the same unit in process and hyperv isolation sees and does the same, and exits 7 in both"
run_in_both_modes probe "command: [/bin/sh, -c, '$PROBE']
env: {GREETING: hi}
hostname: probe
working_dir: /data
$BINDS
restart: {policy: 'no'}"
for mode in process hyperv; do
        [ "$(field "probe-$mode" exit_code)" = 7 ] || fail "$mode: exit code $(field "probe-$mode" exit_code), expected 7"
        grep -E ' (stdout|stderr) ' "$CASE_DIR/state/logs/probe-$mode.log" | cut -d' ' -f2- >"$CASE_DIR/$mode.out"
done
if ! diff "$CASE_DIR/process.out" "$CASE_DIR/hyperv.out" >"$CASE_DIR/diff"; then
        fail "the workload saw different things: $(cat "$CASE_DIR/diff")"
fi
log "both modes: $(grep -c . "$CASE_DIR/hyperv.out") identical lines, e.g. $(grep which "$CASE_DIR/hyperv.out")"
grep -q "stdout which: upper" "$CASE_DIR/hyperv.out" || fail "the upper layer does not shadow the lower one"
grep -q "stdout app says both" "$CASE_DIR/hyperv.out" || fail "the app layer's script did not run"
grep -q "stderr stderr line" "$CASE_DIR/hyperv.out" || fail "stderr is not kept apart"
# Bind mounts (virtio-fs in the guest): the host's file with its owner as process isolation shows
# it, and a read_only one refusing a write with EROFS in both.
grep -q "stdout bind: from the host 1234:5678, ro: read me" "$CASE_DIR/hyperv.out" || fail "hyperv: the bind mount: $(grep 'bind:' "$CASE_DIR/hyperv.out")"
grep -q "stdout bind ro write: Read-only file system" "$CASE_DIR/hyperv.out" || fail "hyperv: a read_only bind: $(grep 'ro write' "$CASE_DIR/hyperv.out")"
[ ! -e "$BIND/ro/new.txt" ] || fail "a read_only bind was written to"
guest_file=$(ls "$BIND/rw" | grep -v -e host.txt -e "k-$(uname -r)")
[ "$(stat -c %u:%g "$BIND/rw/$guest_file")" = 0:0 ] || fail "the guest's root wrote $guest_file as $(stat -c %u:%g "$BIND/rw/$guest_file")"
for pid in $(virtiofsd_pids probe-hyperv); do
        [ ! -d "/proc/$pid" ] || fail "virtiofsd $pid outlived its machine"
done
[ "$(virtiofsd_pids probe-hyperv | wc -l)" = 2 ] || fail "virtiofsds: $(virtiofsd_pids probe-hyperv | tr '\n' ' '), expected one for each bind"
# stdout and stderr written in turns are logged in turns (they travelled on two virtio-serial
# ports, and the host logged whichever it read first: all of stdout first in most runs).
[ "$(grep -E 'std(out|err) (out|err)[0-9]+$' "$CASE_DIR/hyperv.out" | cut -d' ' -f2 | tr '\n' ' ')" = \
        "$(for i in $(seq 10); do printf 'out%s err%s ' $i $i; done)" ] ||
        fail "hyperv: stdout and stderr out of order: $(grep -E '(out|err)[0-9]+$' "$CASE_DIR/hyperv.out" | cut -d' ' -f2 | tr '\n' ' ')"
# The sandbox outlives a restart in both modes: the second run finds the first one's write.
ctl start probe-process >/dev/null && ctl start probe-hyperv >/dev/null
wait_for 60 logged probe-hyperv "sandbox before: written" || fail "hyperv: the sandbox did not keep the first run's write"
wait_for 10 logged probe-process "sandbox before: written" || fail "process: the sandbox did not keep the first run's write"
wait_for 60 logged probe-hyperv "bind before: written" || fail "hyperv: the bind mount did not keep the first run's write"
[ "$(vm_field probe-hyperv accel)" = tcg ] || fail "accelerator: $(vm_field probe-hyperv accel), expected tcg on this host"
[ -z "$(vm_field probe-process accel)" ] || fail "a process unit has VM fields"
# The layer disk is built once and shared: one image per layer in the cache.
n=$(ls "$CASE_DIR/state/vm/layers"/*.erofs | wc -l)
[ "$n" = 2 ] || fail "$n layer disks in the cache, expected 2 (built once, reused)"
wait_for 60 state_is probe-hyperv exited
end

begin "rlimits: the same numbers in both modes (the unit's; systemd's nofile default; the host's for the rest, not the guest kernel's nproc 831), forks as a user stop at nproc in both"
# Every line of /proc/self/limits, then how many children a user may fork under nproc 64. The
# user is one no host process runs as: process isolation counts nproc per host uid.
LIMITS_PROBE='cat /proc/self/limits; [ -x /app/sup-probe ] && /app/sup-probe forkbomb 100 || echo no probe'
[ "$SUP_PROBE" = - ] || cp "$SUP_PROBE" "$UPPER/app/sup-probe"
for mode in process hyperv; do
        unit "rlset-$mode" "$mode" "command: [/bin/sh, -c, '$LIMITS_PROBE']
user: '23456'
rlimits: {nofile: {soft: 2048, hard: 4096}, core: 0, nproc: 64, stack: {soft: 4M, hard: 16M}, msgqueue: 65536}
restart: {policy: 'no'}"
        unit "rldef-$mode" "$mode" "command: [/bin/sh, -c, 'cat /proc/self/limits']
restart: {policy: 'no'}"
done
# A hard limit above the host's: refused in both modes alike (these hosts lack CAP_SYS_RESOURCE).
host_nofile=$(ulimit -Hn)
can_raise=$(( (0x$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) >> 24) & 1 ))
if [ "$host_nofile" != unlimited ] && [ "$can_raise" = 0 ]; then
        for mode in process hyperv; do
                unit "rlhigh-$mode" "$mode" "command: [/bin/true]
rlimits: {nofile: {soft: 1024, hard: $((host_nofile + 1))}}
restart: {policy: 'no'}"
        done
fi
# Two guests at once: under TCG on a loaded host a boot can take minutes; the boot timer is
# not what this case is about.
SUP_VM_BOOT_TIMEOUT=600 start_supd
for u in rlset rldef; do
        wait_for 600 state_is "$u-hyperv" exited || fail "$u-hyperv did not exit: $(field "$u-hyperv" state) $(field "$u-hyperv" reason)"
        wait_for 10 state_is "$u-process" exited || fail "$u-process did not exit: $(field "$u-process" state) $(field "$u-process" reason)"
        for mode in process hyperv; do
                grep ' stdout ' "$CASE_DIR/state/logs/$u-$mode.log" | cut -d' ' -f3- >"$CASE_DIR/$u-$mode.out"
        done
        diff "$CASE_DIR/$u-process.out" "$CASE_DIR/$u-hyperv.out" >"$CASE_DIR/$u.diff" ||
                fail "$u: the modes disagree: $(cat "$CASE_DIR/$u.diff")"
done
# limit FILE NAME: "soft hard" of a line of /proc/self/limits.
limit() { sed -n "s/^$2  *\([^ ]*\)  *\([^ ]*\).*/\1 \2/p" "$CASE_DIR/$1"; }
out=rlset-hyperv.out
[ "$(limit $out "Max open files")" = "2048 4096" ] || fail "rlset: nofile $(limit $out "Max open files")"
[ "$(limit $out "Max core file size")" = "0 0" ] || fail "rlset: core $(limit $out "Max core file size")"
[ "$(limit $out "Max processes")" = "64 64" ] || fail "rlset: nproc $(limit $out "Max processes")"
[ "$(limit $out "Max stack size")" = "4194304 16777216" ] || fail "rlset: stack $(limit $out "Max stack size")"
[ "$(limit $out "Max msgqueue size")" = "65536 65536" ] || fail "rlset: msgqueue $(limit $out "Max msgqueue size")"
if [ "$SUP_PROBE" != - ]; then
        # 64 processes of the user, the shell and the probe among them: 62 children, in both.
        grep -q '^forked=62$' "$CASE_DIR/$out" && grep -q '^fork.error=EAGAIN$' "$CASE_DIR/$out" ||
                fail "rlset: forks under nproc 64: $(grep '^fork' "$CASE_DIR/$out" | tr '\n' ' ')"
fi
# The defaults: systemd's nofile (its hard limit lowered to what this host grants), the host's
# for the rest, as supd has them from this shell.
out=rldef-hyperv.out
hard=$host_nofile
[ "$hard" = unlimited ] || [ "$hard" -gt 524288 ] && hard=524288
[ "$(limit $out "Max open files")" = "1024 $hard" ] || fail "rldef: nofile $(limit $out "Max open files"), expected 1024 $hard"
[ "$(limit $out "Max processes")" = "$(ulimit -Su) $(ulimit -Hu)" ] ||
        fail "rldef: nproc $(limit $out "Max processes"), the host's is $(ulimit -Su) $(ulimit -Hu)"
log "rlset: $(limit rlset-hyperv.out "Max open files" | tr ' ' :) nofile, $(grep '^forked=' "$CASE_DIR/rlset-hyperv.out") in both; defaults: nofile $(limit $out "Max open files" | tr ' ' :), nproc $(limit $out "Max processes" | tr ' ' :)"
if [ -f "$CASE_DIR/units/rlhigh-process.yaml" ]; then
        wait_for 600 eval 'state_is rlhigh-hyperv failed && state_is rlhigh-process failed' ||
                fail "rlhigh: $(field rlhigh-process state) / $(field rlhigh-hyperv state)"
        for k in reason exit_code; do
                [ "$(field rlhigh-process $k)" = "$(field rlhigh-hyperv $k)" ] ||
                        fail "rlhigh: $k differs: '$(field rlhigh-process $k)' vs '$(field rlhigh-hyperv $k)'"
        done
        field rlhigh-hyperv reason | grep -q "rlimits.nofile: the hard limit $((host_nofile + 1)) is above this host's ($host_nofile)" ||
                fail "rlhigh: unclear reason: $(field rlhigh-hyperv reason)"
        log "above the host: $(field rlhigh-hyperv reason)"
fi
end

begin "setup errors of the command: the same exit code and reason in both modes (hyperv said -1, guest init failed)"
# NAME CODE YAML: a unit whose command cannot be set up, and the exit status a shell would give.
SETUP_ERRORS=("nocmd 127 command: [/no/such/program]"
        "nouser 126 user: nosuchuser"
        "nodir 127 working_dir: /no/such/dir"
        "noexec 126 command: [/data/which.txt]")
for e in "${SETUP_ERRORS[@]}"; do
        read -r name code yaml <<<"$e"
        for mode in process hyperv; do
                unit "$name-$mode" "$mode" "$yaml
restart: {policy: 'no'}"
                [[ $yaml == command:* ]] || echo "command: [/bin/true]" >>"$CASE_DIR/units/$name-$mode.yaml"
        done
done
# Four guests boot at once: under TCG on a loaded two-core host that takes minutes, and the boot
# timer is not what this case is about.
SUP_VM_BOOT_TIMEOUT=600 start_supd
for e in "${SETUP_ERRORS[@]}"; do
        read -r name code yaml <<<"$e"
        wait_for 600 state_is "$name-hyperv" failed || fail "$name-hyperv: $(field "$name-hyperv" state)"
        wait_for 10 state_is "$name-process" failed || fail "$name-process: $(field "$name-process" state)"
        for k in exit_code reason; do
                [ "$(field "$name-process" $k)" = "$(field "$name-hyperv" $k)" ] ||
                        fail "$name: $k differs: process '$(field "$name-process" $k)', hyperv '$(field "$name-hyperv" $k)'"
        done
        [ "$(field "$name-hyperv" exit_code)" = "$code" ] || fail "$name: exit code $(field "$name-hyperv" exit_code), expected $code"
        [ "$(vm_field "$name-hyperv" end)" = setup-failed ] || fail "$name: end $(vm_field "$name-hyperv" end)"
        log "$name: $(field "$name-hyperv" exit_code) $(field "$name-hyperv" reason)"
done
end

begin "the examples batch and hardened, flipped to hyperv, see and do what they do in process isolation"
EX=$(cd "$(dirname "$0")/../../examples" && pwd)
[ -x "$EX/images/busybox/bin/busybox" ] || fail "the example images are missing: run examples/build-images.sh"
# example NAME MODE: examples/NAME.yaml as NAME-MODE with isolation MODE; its own host name kept
# (the default, the unit's name, would differ), its image paths absolute, no requires (web
# needs the network).
example() {
        local out=$CASE_DIR/units/$1-$2.yaml
        sed -e "s|^name: .*|name: $1-$2|" -e '/^isolation:/d' -e '/^requires:/d' \
                -e "s|dir: images/|dir: $EX/images/|" "$EX/$1.yaml" >"$out"
        echo "isolation: $2" >>"$out"
        grep -q '^hostname:' "$out" || echo "hostname: $1" >>"$out"
        # hardened's user namespace is process isolation's (a guest has none yet, and says so at
        # validation): what the workload sees is the same without it.
        [ "$2" = process ] || sed -i 's/user_namespace: auto/user_namespace: false/' "$out"
}
# What a run printed, without what differs by nature: times, and the shell's own pid (the command
# is PID 2 in a container, under sup's init; in the guest sup-init's children get guest PIDs).
normalized() {
        grep -E ' (stdout|stderr) ' "$CASE_DIR/state/logs/$1.log" | cut -d' ' -f2- |
                sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g; s/pid=[0-9]+/pid=N/'
}
for mode in process hyperv; do
        example batch "$mode"
        example hardened "$mode"
done
start_supd
wait_for 60 state_is batch-hyperv exited || fail "batch-hyperv: $(field batch-hyperv state) $(field batch-hyperv reason)"
wait_for 10 state_is batch-process exited || fail "batch-process: $(field batch-process state)"
for mode in process hyperv; do
        [ "$(field batch-$mode exit_code)" = 0 ] || fail "batch-$mode: exit code $(field batch-$mode exit_code)"
done
diff <(normalized batch-process) <(normalized batch-hyperv) >"$CASE_DIR/batch.diff" ||
        fail "batch differs between the modes: $(cat "$CASE_DIR/batch.diff")"
grep -q "done: sum of squares 1..10 = 385" <(normalized batch-hyperv) || fail "batch-hyperv did not finish its job"
log "batch: $(normalized batch-hyperv | wc -l) identical lines in both modes, exit 0"
wait_for 60 logged hardened-hyperv "stdout heartbeat 1 at" || fail "hardened-hyperv: no heartbeat: $(field hardened-hyperv reason)"
wait_for 10 logged hardened-process "stdout heartbeat 1 at" || fail "hardened-process: no heartbeat"
ctl stop hardened-process >/dev/null
ctl stop hardened-hyperv >/dev/null
wait_for 20 state_is hardened-hyperv stopped || fail "hardened-hyperv did not stop"
wait_for 20 state_is hardened-process stopped || fail "hardened-process did not stop"
# supd's event stream tells the same story of both (its states come from the monitor, whatever the driver).
ev_h=$(ctl events --since 1h --until 0s --unit hardened-hyperv | grep -o ' state .*')
ev_p=$(ctl events --since 1h --until 0s --unit hardened-process | grep -o ' state .*')
[ -n "$ev_h" ] && [ "$ev_h" = "$ev_p" ] || fail "hardened's state events differ between the modes: '$ev_h' vs '$ev_p'"
for mode in process hyperv; do
        [ "$(field hardened-$mode exit_code)" = 0 ] || fail "hardened-$mode: exit code $(field hardened-$mode exit_code), expected 0 (its TERM trap)"
        normalized hardened-$mode | sed '/heartbeat [2-9]/d; /heartbeat [0-9][0-9]/d' >"$CASE_DIR/hardened-$mode.out"
done
diff "$CASE_DIR/hardened-process.out" "$CASE_DIR/hardened-hyperv.out" >"$CASE_DIR/hardened.diff" ||
        fail "hardened differs between the modes: $(cat "$CASE_DIR/hardened.diff")"
log "hardened: $(tr '\n' '|' <"$CASE_DIR/hardened-hyperv.out")"
end

begin "the host sees a process unit's sleep with its PID, and of a hyperv unit only QEMU (Windows' ping/vmwp check); the guest's clock, pids limit, memory and CPUs"
unit vis-process process "command: [/bin/sleep, '4242']
resources: {pids: 16}"
unit vis-hyperv hyperv "command: [/bin/sleep, '4343']
resources: {memory: 192M, cpus: 1.5, pids: 16}
mounts: [{type: tmpfs, target: /scratch, size: 120M}]"
start_supd
wait_for 60 state_is vis-hyperv running || fail "vis-hyperv not running: $(field vis-hyperv reason)"
wait_for 10 state_is vis-process running || fail "vis-process not running"
pgrep -x sleep -a | grep -q 'sleep 4242' || fail "process isolation: the sleep is not a host process"
pgrep -a sleep | grep -q 'sleep 4343' && fail "hyperv isolation: the guest's sleep is visible on the host"
qpid=$(field vis-hyperv pid)
[ "$(cat /proc/"$qpid"/comm 2>/dev/null)" = qemu-system-x86 ] || fail "the hyperv unit's pid $qpid is not QEMU"
grep -q "^-m$" <(tr '\0' '\n' </proc/"$qpid"/cmdline) && tr '\0' ' ' </proc/"$qpid"/cmdline | grep -q -- "-m 192M -smp 2" ||
        fail "resources.memory/cpus did not become guest RAM/vCPUs: $(tr '\0' ' ' </proc/"$qpid"/cmdline | head -c 300)"
[ "$(vm_field vis-hyperv memory)" = $((192 << 20)) ] && [ "$(vm_field vis-hyperv vcpus)" = 2 ] ||
        fail "status: memory $(vm_field vis-hyperv memory) vcpus $(vm_field vis-hyperv vcpus)"
# supd's metrics of a running hyperv unit (docs/metrics.md): valid for promtool; the guest's RAM
# and vCPUs apart from QEMU's cgroup.
if command -v promtool >/dev/null; then
        ctl metrics >"$CASE_DIR/metrics.txt" || fail "supctl metrics failed"
        promtool check metrics <"$CASE_DIR/metrics.txt" >"$CASE_DIR/promtool.out" 2>&1 ||
                fail "promtool check metrics: $(head -5 "$CASE_DIR/promtool.out")"
        for line in 'sup_unit_state{unit="vis-hyperv",isolation="hyperv",state="running"} 1' \
                "sup_unit_vm_guest_memory_bytes{unit=\"vis-hyperv\",isolation=\"hyperv\"} $((192 << 20))" \
                'sup_unit_vm_vcpus{unit="vis-hyperv",isolation="hyperv"} 2'; do
                grep -qxF -- "$line" "$CASE_DIR/metrics.txt" || fail "metrics: no line '$line'"
        done
        grep -q '^sup_unit_memory_bytes{unit="vis-hyperv",isolation="hyperv"} [1-9]' "$CASE_DIR/metrics.txt" &&
                grep -q '^sup_unit_start_duration_seconds{unit="vis-hyperv",isolation="hyperv"} ' "$CASE_DIR/metrics.txt" ||
                fail "metrics: no QEMU memory or start duration for vis-hyperv: $(grep vis-hyperv "$CASE_DIR/metrics.txt" | head -30)"
        # QEMU's resident memory split into the guest RAM it holds and its own: both there, the guest's
        # no more than it was given.
        g=$(sed -n 's/^sup_unit_vm_guest_resident_bytes{unit="vis-hyperv",isolation="hyperv"} \([0-9]*\)$/\1/p' "$CASE_DIR/metrics.txt")
        o=$(sed -n 's/^sup_unit_vm_overhead_bytes{unit="vis-hyperv",isolation="hyperv"} \([0-9]*\)$/\1/p' "$CASE_DIR/metrics.txt")
        [ "${g:-0}" -gt 0 ] && [ "$g" -le $((192 << 20)) ] && [ "${o:-0}" -gt $((1 << 20)) ] ||
                fail "metrics: guest RAM resident '$g', QEMU's overhead '$o' for vis-hyperv"
        log "metrics: QEMU holds $((g >> 20)) MiB of guest RAM and $((o >> 20)) MiB of its own"
elif [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ]; then
        fail "SUP_TESTS_MUST_WORK=1: no promtool for the hyperv unit's metrics (apt-get install prometheus)"
else
        log "SKIP (metrics): no promtool (apt-get install prometheus)"
fi
# QEMU runs in the unit's cgroup with a limit of guest RAM + the TCG cache + QEMU's overhead.
cg=$(grep -E '^[0-9]+:memory:' /proc/"$qpid"/cgroup | cut -d: -f3)
if [ -n "$cg" ]; then
        limit=$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")
        [ "$limit" = $(((192 + 16 + 80) << 20)) ] || fail "QEMU's memory limit is $limit"
        log "QEMU pid $qpid in $cg, memory limit $((limit >> 20)) MiB, RSS $(($(awk '/^VmRSS/ {print $2}' /proc/"$qpid"/status) / 1024)) MiB"
else
        cg=$(sed -n 's/^0:://p' /proc/"$qpid"/cgroup)
        [ "$(cat "/sys/fs/cgroup$cg/memory.max")" = $(((192 + 16 + 80) << 20)) ] || fail "QEMU's memory.max"
fi
# supctl top: the process unit's sleep with its host PID; the hyperv unit's with its guest PID.
top=$(ctl top vis-hyperv) || fail "top vis-hyperv failed: $top"
echo "$top" | head -1 | grep -q "guest PIDs" || fail "top vis-hyperv does not say guest PIDs: $top"
gpid=$(echo "$top" | awk '/sleep 4343/ {print $1}')
[ -n "$gpid" ] && [ "$gpid" = "$(vm_field vis-hyperv guest_pid)" ] || fail "top vis-hyperv: sleep's pid '$gpid', status says $(vm_field vis-hyperv guest_pid): $top"
top=$(ctl top vis-process) || fail "top vis-process failed: $top"
hpid=$(echo "$top" | awk '/sleep 4242/ {print $1}')
[ -n "$hpid" ] && [ "$(cat /proc/"$hpid"/comm 2>/dev/null)" = sleep ] || fail "top vis-process: no host sleep: $top"
log "top: guest pid $gpid in the VM, host pid $hpid for the process unit"
# The guest's wall clock is the host's: its CLOCK_REALTIME, read by an exec, lies between the
# host's before and after the exec, give or take EPS (the sample's error, half a round trip of the
# agent port). It was the emulated RTC's, whole seconds behind by up to one.
EPS=5000000
logged vis-hyperv "sup clock: the guest's was .* off the host's (round trip .*): set" || fail "no clock step at boot in the log"
if [ "$SUP_PROBE" != - ]; then
        for i in 1 2 3; do
                t0=$(date +%s%N)
                g=$(ctl exec vis-hyperv -- /app/sup-probe clock | sed -n 's/^realtime=//p')
                t1=$(date +%s%N)
                [ -n "$g" ] && [ "$g" -ge $((t0 - EPS)) ] && [ "$g" -le $((t1 + EPS)) ] ||
                        fail "the guest's clock read ${g:-nothing}, the host's was $t0 before and $t1 after ($(((g - t0) / 1000000)) ms after the first)"
                log "clock: the guest read $(((g - t0) / 1000)) us after the host's before, $(((t1 - g) / 1000)) us before its after"
        done
        # A fork bomb stops at resources.pids with EAGAIN in both modes at the same count (the exec
        # counts as the unit's, with the init and the sleep), and the unit runs on.
        for mode in process hyperv; do
                out=$(ctl exec "vis-$mode" -- /app/sup-probe forkbomb 100 | tr '\n' ' ')
                echo "$out" >"$CASE_DIR/bomb-$mode"
                [[ $out == *"fork.error=EAGAIN"* ]] || fail "$mode: the fork bomb was not stopped at pids 16: $out"
                state_is "vis-$mode" running || fail "$mode: the unit did not survive the fork bomb: $(field "vis-$mode" state)"
        done
        diff "$CASE_DIR/bomb-process" "$CASE_DIR/bomb-hyperv" >/dev/null ||
                fail "pids 16: process forked $(cat "$CASE_DIR/bomb-process"), hyperv $(cat "$CASE_DIR/bomb-hyperv")"
        log "pids 16, both modes: $(cat "$CASE_DIR/bomb-hyperv")"
fi
# What the workload sees of memory and CPUs (docs/guest.md): the guest its RAM (resources.memory,
# less what its kernel keeps) and vCPUs (cpus rounded up); a process container the host's.
view() { ctl exec "vis-$1" -- sh -c 'echo $(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo) $(nproc)'; }
read -r mem cpus <<<"$(view hyperv)"
[ "$cpus" = 2 ] || fail "hyperv: nproc $cpus, expected 2 vCPUs for cpus 1.5"
[ "${mem:-0}" -le $((192 * 1024)) ] && [ "${mem:-0}" -ge $((192 * 1024 * 3 / 4)) ] || fail "hyperv: MemTotal $mem kB for 192M of guest RAM"
read -r pmem pcpus <<<"$(view process)"
[ "$pcpus" = "$(nproc)" ] && [ "$pmem" = "$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)" ] ||
        fail "process: MemTotal $pmem kB and $pcpus CPUs, the host's are $(grep MemTotal /proc/meminfo) and $(nproc)"
log "memory and CPUs seen: hyperv $((mem / 1024)) MiB, $cpus; process $((pmem / 1024)) MiB, $pcpus (the host's)"
# Free page reporting (the balloon device): RAM the guest filled and then freed goes back to the
# host. Without it, QEMU kept every page the guest had ever touched. Guest RAM is QEMU's anonymous
# mapping of exactly -m's size; what of it is resident, the guest has touched and not handed back.
guest_ram_kib() {
        awk -v k=$((192 << 10)) '/^[0-9a-f]+-[0-9a-f]+ / { anon = NF == 5; next }
                $1 == "Size:" { size = $2 } $1 == "Rss:" && anon && size == k { print $2 }' "/proc/$qpid/smaps"
}
ctl exec vis-hyperv -- dd if=/dev/zero of=/scratch/fill bs=1M count=96 2>/dev/null || fail "cannot fill the guest's tmpfs"
full=$(guest_ram_kib)
ctl exec vis-hyperv -- rm /scratch/fill || fail "cannot empty the guest's tmpfs"
wait_for 90 eval '[ "$(guest_ram_kib)" -le $((full - (64 << 10))) ]' ||
        fail "the guest freed 96 MiB, QEMU still holds its RAM: $((full >> 10)) MiB resident before, $(($(guest_ram_kib) >> 10)) MiB after"
log "free page reporting: guest RAM resident $((full >> 10)) MiB with 96 MiB in a tmpfs, $(($(guest_ram_kib) >> 10)) MiB once removed"
# The QMP socket is in the instance's run directory, for root only.
[ "$(stat -c %a "$CASE_DIR/run/units/vis-hyperv/qmp.sock")" = 600 ] || fail "qmp.sock mode $(stat -c %a "$CASE_DIR/run/units/vis-hyperv/qmp.sock")"
ctl stop vis-hyperv >/dev/null
wait_for 20 state_is vis-hyperv stopped || fail "vis-hyperv did not stop"
[ "$(field vis-hyperv exit_signal)" = SIGTERM ] || fail "stopped: exit signal $(field vis-hyperv exit_signal), expected SIGTERM"
kill -0 "$qpid" 2>/dev/null && fail "QEMU $qpid still runs after the stop"
end

begin "network: bridge: a hyperv unit gets its addresses (IPv4, IPv6) on the bridge, its published ports and outbound traffic, like a process unit"
fetch() { timeout 5 busybox wget -q -O- "$1" 2>/dev/null; } # busybox 1.35's wget -T crashes: timeout(1) instead
PORT_P=$((20000 + RANDOM % 6000)) PORT_H=$((26000 + RANDOM % 6000)) # below the ephemeral range
PORT6_H=$((PORT_H + 1)) PORT_O=$((14000 + RANDOM % 4000))
# The "outside" that outbound traffic goes to: a namespace on a veth, routed via the host, with a
# listener that logs who connects (test-network.sh does the same for process units).
OUT=suphvo-$$ OUTVETH=shvo$$ FORWARD6_BEFORE=$(cat /proc/sys/net/ipv6/conf/all/forwarding)
trap 'kill $OUTSRV 2>/dev/null; ip netns del $OUT 2>/dev/null; ip link del $OUTVETH 2>/dev/null; echo $FORWARD6_BEFORE >/proc/sys/net/ipv6/conf/all/forwarding; cleanup' EXIT
ip netns add "$OUT" && ip link add "$OUTVETH" type veth peer name eth0 netns "$OUT" || fail "cannot create $OUT"
ip addr add 10.254.251.1/30 dev "$OUTVETH" && ip addr add fd5e:5f::1/64 dev "$OUTVETH" nodad && ip link set "$OUTVETH" up
ip -n "$OUT" addr add 10.254.251.2/30 dev eth0 && ip -n "$OUT" addr add fd5e:5f::2/64 dev eth0 nodad
ip -n "$OUT" link set eth0 up && ip -n "$OUT" link set lo up
mkdir -p "$CASE_DIR/outside" && echo outside > "$CASE_DIR/outside/index.html"
ip netns exec "$OUT" "$PY" -m http.server --bind :: --directory "$CASE_DIR/outside" "$PORT_O" > "$CASE_DIR/outside.log" 2>&1 &
OUTSRV=$!
wait_for 5 eval 'ip netns exec "$OUT" ss -Htln "sport = :$PORT_O" | grep -q .' || fail "the outside listener does not listen"
for mode in process hyperv; do
        port=$PORT_P; [ "$mode" = hyperv ] && port=$PORT_H
        cat >"$CASE_DIR/units/web-$mode.yaml" <<UNIT
name: web-$mode
isolation: $mode
image: {layers: [{dir: $LOWER}, {dir: $UPPER}]}
command: [/bin/sh, -c, 'mkdir -p /tmp/www && echo "served by \$(hostname) at \$(ip -4 -o addr show eth0 | awk "{print \\\$4}")" >/tmp/www/index.html && ip -6 -o addr show eth0 scope global >/tmp/www/v6.txt && for u in http://10.254.251.2:$PORT_O/ http://[fd5e:5f::2]:$PORT_O/; do echo GOT \$u \$(timeout 5 wget -q -O- \$u); done; exec httpd -f -p 80 -h /tmp/www']
network: bridge
ports: ["127.0.0.1:$port:80/tcp", "[::1]:$((port + 1)):80"]
stop: {timeout: 2s}
UNIT
done
start_supd
wait_for 60 state_is web-hyperv running || fail "web-hyperv not running: $(field web-hyperv reason)"
wait_for 10 state_is web-process running || fail "web-process not running: $(field web-process reason)"
addr_h=$(field web-hyperv address) addr_p=$(field web-process address)
[ -n "$addr_h" ] && [ "$addr_h" != "$addr_p" ] || fail "addresses: hyperv '$addr_h', process '$addr_p'"
out_h= out_p=
wait_for 20 eval 'out_h=$(fetch "http://127.0.0.1:$PORT_H/"); [ -n "$out_h" ]' || fail "nothing on the hyperv unit's published port $PORT_H"
out_p=$(fetch "http://127.0.0.1:$PORT_P/")
[[ $out_h == "served by web-hyperv at $addr_h/"* ]] ||
        fail "hyperv answered '$out_h', expected its name and $addr_h"
[[ $out_p == "served by web-process at $addr_p/"* ]] || fail "process answered '$out_p'"
[ "$(fetch "http://$addr_h/")" = "$out_h" ] || fail "the host cannot reach the guest at $addr_h on the bridge"
log "127.0.0.1:$PORT_H -> $out_h; 127.0.0.1:$PORT_P -> $out_p"
# IPv6: the guest's eth0 has its address from the bridge's /64 (sup-init, from the run command's
# network object), reached over the [::1]-published port and directly.
net6=$(sed -n 's/.* bridge [^ ]* [0-9./]* \([0-9a-f:]*\/64\).*/\1/p' "$CASE_DIR/supd.log" | head -n1)
v6=$(fetch "http://[::1]:$PORT6_H/v6.txt")
addr6_h=$(awk '{sub("/.*", "", $4); print $4}' <<< "$v6")
[ -n "$addr6_h" ] && "$PY" -c 'import ipaddress, sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$addr6_h" "$net6" ||
        fail "the guest's IPv6 address over [::1]:$PORT6_H: '$v6', not in '$net6'"
grep -q tentative <<< "$v6" && fail "the guest's IPv6 address is tentative: $v6"
[ "$(fetch "http://[$addr6_h]/")" = "$out_h" ] || fail "the host cannot reach the guest at [$addr6_h]"
log "guest IPv6 $addr6_h in $net6"
# Outbound from the guest, both families, masqueraded as the host's address on the outside link.
for mode in hyperv process; do
        wait_for 20 eval '[ "$(grep -c "stdout GOT" "$CASE_DIR/state/logs/web-$mode.log")" = 2 ]' || fail "web-$mode printed: $(grep GOT "$CASE_DIR/state/logs/web-$mode.log")"
        grep -q "GOT http://10.254.251.2:$PORT_O/ outside" "$CASE_DIR/state/logs/web-$mode.log" || fail "web-$mode did not reach the outside over IPv4: $(grep GOT "$CASE_DIR/state/logs/web-$mode.log")"
        grep -q "GOT http://\[fd5e:5f::2\]:$PORT_O/ outside" "$CASE_DIR/state/logs/web-$mode.log" || fail "web-$mode did not reach the outside over IPv6"
done
[ "$(grep -c '^::ffff:10.254.251.1 .*GET / ' "$CASE_DIR/outside.log")" = 2 ] || fail "the outside did not see the host's IPv4 address twice: $(cat "$CASE_DIR/outside.log")"
[ "$(grep -c '^fd5e:5f::1 .*GET / ' "$CASE_DIR/outside.log")" = 2 ] || fail "the outside did not see the host's IPv6 address twice: $(cat "$CASE_DIR/outside.log")"
# Its monitor holds the host port, as a process unit's does (test-network.sh).
got=$(host_bind 127.0.0.1 "$PORT_H" tcp)
[ "$got" = EADDRINUSE ] || fail "a host program's bind to the hyperv unit's port 127.0.0.1:$PORT_H got $got"
# The VM's link is a tap device on the case's bridge, and goes with QEMU.
bridge=$(sed -n 's/.* bridge \(sup-[0-9a-f]*\) .*/\1/p' "$CASE_DIR/supd.log" | head -n1)
taps() { ip -d -o link show master "$bridge" 2>/dev/null | grep -c 'tun type tap'; }
[ "$(taps)" = 1 ] || fail "$(taps) tap devices on $bridge, expected 1"
ctl stop web-hyperv >/dev/null
wait_for 20 state_is web-hyperv stopped || fail "web-hyperv did not stop"
[ -z "$(fetch "http://127.0.0.1:$PORT_H/")" ] || fail "the published port still answers after the stop"
got=$(host_bind 127.0.0.1 "$PORT_H" tcp)
[ "$got" = ok ] || fail "127.0.0.1:$PORT_H is still held after the stop: $got"
[ -z "$(field web-hyperv address)" ] || fail "the address is still held after the stop"
wait_for 5 eval '[ "$(taps)" = 0 ]' || fail "the tap device is left on $bridge after the stop"
kill "$OUTSRV" 2>/dev/null; ip netns del "$OUT"; ip link del "$OUTVETH" 2>/dev/null
echo "$FORWARD6_BEFORE" >/proc/sys/net/ipv6/conf/all/forwarding
trap cleanup EXIT
end

begin "kill -9 supd while a VM runs: the new supd adopts it (same QEMU, no reboot) and can stop it"
unit adopt hyperv "command: [/bin/sh, -c, 'echo booted-once; exec sleep 1000']
$BINDS"
start_supd
wait_for 60 state_is adopt running || fail "adopt not running: $(field adopt reason)"
qpid=$(field adopt pid)
kill -9 "$SUPD_PID"
wait "$SUPD_PID" 2>/dev/null
SUPD_PID=
sleep 0.5
kill -0 "$qpid" 2>/dev/null || fail "QEMU died with supd"
start_supd
wait_for 10 state_is adopt running || fail "not running after the restart of supd: $(field adopt state)"
[ "$(field adopt pid)" = "$qpid" ] || fail "QEMU pid $(field adopt pid), was $qpid: the VM was restarted"
[ "$(grep -c booted-once "$CASE_DIR/state/logs/adopt.log")" = 1 ] || fail "the guest booted twice"
# The binds' virtiofsds are the monitor's, as QEMU is: they live through supd's restart, and go
# with the machine.
fspids=$(virtiofsd_pids adopt)
[ -n "$fspids" ] || fail "adopt: no virtiofsd logged"
for pid in $fspids; do kill -0 "$pid" 2>/dev/null || fail "virtiofsd $pid died with supd"; done
ctl stop adopt >/dev/null
wait_for 20 state_is adopt stopped || fail "the adopted VM did not stop"
for pid in $fspids; do [ ! -d "/proc/$pid" ] || fail "virtiofsd $pid outlived the adopted VM"; done
# A monitor that dies takes its machine and virtiofsds along, as process isolation's container: nobody
# would supervise them, and the volumes' locks went with the monitor's fds. supd is gone first, so
# that nothing but their own end goes after them.
ctl start adopt >/dev/null
wait_for 60 state_is adopt running || fail "adopt not running again: $(field adopt reason)"
# The log has the first run's too: this run's are the last as many.
qpid=$(field adopt pid) mpid=$(field adopt monitor_pid) fspids=$(virtiofsd_pids adopt | tail -n "$(wc -w <<<"$fspids")")
kill -9 "$SUPD_PID"
wait "$SUPD_PID" 2>/dev/null
SUPD_PID=
kill -9 "$mpid"
for pid in $qpid $fspids; do
        wait_for 10 eval '[ ! -d /proc/$pid ]' || fail "process $pid outlived its monitor $mpid"
done
start_supd
ctl stop adopt >/dev/null
wait_for 20 state_is adopt stopped || fail "adopt did not stop after its monitor was replaced"
end

begin "the guest's root is built as process isolation's: the same masked and read-only paths, the same /dev, nodev"
# Per path that this kernel has: "mask P N" (bytes or entries read, 0 when masked), "ro P ERROR"
# (a write's error); then the /dev listing, its device nodes and the root's nodev. The guest's
# kernel has what the host's may lack (/proc/kcore, /proc/sysrq-trigger): both must hold there.
MASK_PROBE='for p in /proc/acpi /proc/asound /proc/interrupts /proc/kcore /proc/keys /proc/latency_stats /proc/sched_debug /proc/scsi /proc/timer_list /proc/timer_stats /sys/devices/virtual/powercap /sys/firmware; do
if [ -d $p ]; then echo "mask $p $(ls -A $p | wc -l)"; elif [ -e $p ]; then echo "mask $p $(cat $p 2>/dev/null | wc -c)"; fi; done;
for p in /proc/sys/kernel/hostname /proc/sysrq-trigger /proc/irq/default_smp_affinity; do [ -e $p ] && echo "ro $p $({ cat $p >$p; } 2>&1 | sed "s/.*: //")"; done;
echo "dev: $(ls /dev | tr "\n" " ")"; echo "nodes: $(ls -l /dev | grep ^c | awk "{print \$NF}" | tr "\n" " ")";
echo "image node: $(cat /opt/nullnode 2>&1 | sed "s/.*: //")";
echo "root: $(grep " / / " /proc/self/mountinfo | cut -d" " -f6 | tr , "\n" | grep -x nodev)"'
mkdir -p "$UPPER/opt" && mknod "$UPPER/opt/nullnode" c 1 3
run_in_both_modes masks "command: [/bin/sh, -c, '$MASK_PROBE']
restart: {policy: 'no'}"
for mode in process hyperv; do
        out=$(grep ' stdout ' "$CASE_DIR/state/logs/masks-$mode.log" | cut -d' ' -f3-)
        grep '^mask ' <<<"$out" | grep -v ' 0$' | sed 's/^/unmasked: /' | grep . && fail "$mode: a masked path shows something"
        grep '^ro ' <<<"$out" | grep -v ' Read-only file system$' | sed 's/^/writable: /' | grep . && fail "$mode: a read-only path is not"
        grep -q '^image node: Permission denied$' <<<"$out" || fail "$mode: the image's device node: $(grep '^image node' <<<"$out")"
        grep -q '^root: nodev$' <<<"$out" || fail "$mode: the root is not nodev"
        grep -E '^(dev|nodes|image node|root):' <<<"$out" >"$CASE_DIR/$mode.dev"
        log "$mode: $(grep -c '^mask ' <<<"$out") masked, $(grep -c '^ro ' <<<"$out") read-only paths checked"
done
guest=$(grep ' stdout ' "$CASE_DIR/state/logs/masks-hyperv.log" | cut -d' ' -f3-)
grep -q '^mask /proc/kcore 0$' <<<"$guest" || fail "the guest's /proc/kcore is not masked"
grep -q '^ro /proc/sysrq-trigger Read-only file system$' <<<"$guest" || fail "the guest's /proc/sysrq-trigger is not read-only"
diff "$CASE_DIR/process.dev" "$CASE_DIR/hyperv.dev" >"$CASE_DIR/dev.diff" || fail "/dev differs between the modes: $(cat "$CASE_DIR/dev.diff")"
log "both: $(grep '^nodes:' "$CASE_DIR/hyperv.dev")"
end

begin "failures are classified: a kernel panic, a guest that ignores the stop, a hung QEMU"
# /proc/sysrq-trigger is read-only in the guest as in process isolation: a unit that lifts that
# itself (CAP_SYS_ADMIN and no seccomp filter, given on purpose) panics its own kernel.
unit panic hyperv "command: [/bin/sh, -c, 'echo about to panic; sleep 0.2; umount /proc/sysrq-trigger && echo c >/proc/sysrq-trigger; sleep 100']
security: {capabilities: {add: [SYS_ADMIN]}, seccomp: unconfined}
restart: {policy: 'no'}"
# A read_only share holds on the host's side: a guest root that remounts its view writable (as a
# compromised sup-init could) still gets EROFS, from the host. Then its virtiofsd is killed.
unit shared hyperv "command: [/bin/sh, -c, 'mount -o remount,rw /srv/ro && echo remounted; echo raw >/srv/ro/raw.txt || echo refused; exec sleep 1000']
security: {capabilities: {add: [SYS_ADMIN]}, seccomp: unconfined}
restart: {policy: 'no'}
$BINDS"
unit stubborn hyperv "command: [/bin/sh, -c, 'trap \"\" TERM; echo ready; while :; do sleep 1; done']
stop: {timeout: 1s}"
unit hung hyperv "command: [/bin/sh, -c, 'echo ready; exec sleep 1000']
stop: {timeout: 1s}"
# Four guests boot at once: the boot timer is not what this case is about.
SUP_VM_BOOT_TIMEOUT=600 start_supd
wait_for 180 state_is panic exited || fail "panic: state $(field panic state)"
reason=$(field panic reason)
echo "$reason" | grep -q "kernel panic" || fail "panic: unclear reason: $reason"
[ "$(vm_field panic end)" = kernel-panic ] || fail "panic: end $(vm_field panic end)"
logged panic "console .*Kernel panic" || fail "panic: the console's panic is not in the log"
log "panic: $reason"
wait_for 120 logged shared "stdout refused" || fail "shared: $(grep -E 'std(out|err)' "$CASE_DIR/state/logs/shared.log")"
logged shared "stdout remounted" || fail "shared: the guest's remount failed, the host's side was not tried"
logged shared "Read-only file system" || fail "shared: not refused with EROFS"
[ ! -e "$BIND/ro/raw.txt" ] || fail "shared: the guest wrote to a read_only share"
log "read_only: the guest remounted its view writable; the host refused the write (EROFS)"
# A virtiofsd killed under a running guest ends the unit, classified; none outlives it.
fspid=$(virtiofsd_pids shared | head -n1)
procs=$(procs_file "$(field shared pid)")
[ -n "$(cat "$procs")" ] || fail "shared: no processes in $procs" # (its size is 0 whatever it holds)
[ -n "$fspid" ] && kill -9 "$fspid"
wait_for 30 eval 'state_is shared failed || state_is shared exited' || fail "shared: state $(field shared state)"
reason=$(field shared reason)
[ "$(vm_field shared end)" = share-failed ] || fail "shared: end $(vm_field shared end): $reason"
echo "$reason" | grep -q "virtiofsd for /srv/rw died (signal 9)" || fail "shared: unclear reason: $reason"
for pid in $(virtiofsd_pids shared); do
        [ ! -d "/proc/$pid" ] || fail "shared: virtiofsd $pid outlived its machine"
done
# Nor anything they started (virtiofsd's sandbox is a child in a pid namespace of its own).
wait_for 10 eval '[ ! -e "$procs" ] || [ -z "$(cat "$procs")" ]' ||
        fail "shared: the instance's cgroup still has $(tr '\n' ' ' <"$procs")"
log "virtiofsd killed: $reason"
# The source checked at each start, as in process isolation: a symlink put on the way is refused.
mv "$BIND/rw" "$BIND/rw.real" && ln -s rw.real "$BIND/rw"
ctl start shared >/dev/null
wait_for 30 eval '[[ "$(field shared reason)" == *symlink* ]]' || fail "shared: a symlinked source: $(field shared reason)"
log "a symlinked source: $(field shared reason)"
rm "$BIND/rw" && mv "$BIND/rw.real" "$BIND/rw"
wait_for 60 logged stubborn "stdout ready" || fail "stubborn did not start"
t0=$SECONDS
ctl stop stubborn >/dev/null
wait_for 20 state_is stubborn stopped || fail "stubborn did not stop"
[ "$(field stubborn exit_signal)" = SIGKILL ] || fail "stubborn: exit signal $(field stubborn exit_signal), expected SIGKILL after stop.timeout"
log "a command that ignores SIGTERM: killed by the guest after stop.timeout, stopped in $((SECONDS - t0)) s"
# QEMU frozen (SIGSTOP): neither the agent nor QMP answers, and the ladder climbs to SIGKILL.
wait_for 60 logged hung "stdout ready" || fail "hung did not start"
qpid=$(field hung pid)
kill -STOP "$qpid"
ctl stop hung >/dev/null
steps=
for _ in $(seq 400); do
        s=$(vm_field hung stop_step)
        [ -n "$s" ] && [[ " $steps " != *" $s "* ]] && steps="$steps $s"
        state_is hung stopped && break
        sleep 0.05
done
state_is hung stopped || fail "hung: not stopped: $(field hung state)"
# The last step, kill, lasts milliseconds: a poll may or may not catch it.
[ "$steps" = " agent-stop powerdown quit" ] || [ "$steps" = " agent-stop powerdown quit kill" ] ||
        fail "hung: stop steps seen in status:$steps"
reason=$(field hung reason)
echo "$reason" | grep -q "did not stop: ended by SIGKILL" || fail "hung: reason $reason"
log "frozen QEMU: steps seen in status:$steps; $reason"
end

begin "QEMU that cannot start (KVM forced on a host where it fails) and a guest that does not answer in time"
unit kvm hyperv "command: [/bin/true]
restart: {policy: 'no'}
vm: {accel: kvm}"
unit slow hyperv "command: [/bin/true]
restart: {policy: 'no'}
vm: {accel: tcg}"
# One second is less than a TCG boot takes: the boot timer strikes first.
SUP_VM_BOOT_TIMEOUT=1 start_supd
wait_for 60 state_is slow failed || fail "slow: state $(field slow state)"
reason=$(field slow reason)
[ "$(vm_field slow end)" = timeout ] && echo "$reason" | grep -q "within 1 s" || fail "slow: end $(vm_field slow end): $reason"
log "boot timeout: $reason"
wait_for 60 eval 'state_is kvm failed || state_is kvm exited' || fail "kvm: state $(field kvm state)"
reason=$(field kvm reason)
case "$(vm_field kvm end)" in
qemu-exited) echo "$reason" | grep -Eq "QEMU (exited with status|was killed by signal)" || fail "kvm: unclear reason: $reason" ;;
timeout) echo "$reason" | grep -q "timeout" || fail "kvm: unclear reason: $reason" ;;
exited) log "KVM works on this host" ;;
*) fail "kvm: end $(vm_field kvm end): $reason" ;;
esac
log "accel: kvm forced: ${reason:-exited 0}"
end

begin "an OOM kill in the guest is reported as in process isolation (oom: true, SIGKILL); a stop while the guest boots is no exit of the command"
# busybox tail keeps all it reads of /dev/zero (no newline): past the memory, the kernel's OOM
# killer ends it, the host's cgroup's in process isolation, the guest kernel's in hyperv.
for mode in process hyperv; do
        unit "hog-$mode" "$mode" "command: [/bin/tail, /dev/zero]
resources: {memory: 128M}
restart: {policy: 'no'}"
done
unit early hyperv "command: [/bin/sleep, '1000']"
start_supd
# The guest takes seconds to boot: the stop comes before sup-init has started the command.
wait_for 10 state_is early starting || fail "early: $(field early state)"
ctl stop early >/dev/null
wait_for 20 state_is early stopped || fail "early did not stop: $(field early state)"
[ -z "$(field early exit_code)$(field early exit_signal)" ] ||
        fail "early: a stop while starting reported exit code '$(field early exit_code)', signal '$(field early exit_signal)'"
reason=$(field early reason)
[ "$reason" = "stopped while starting: the command had not started" ] || fail "early: reason '$reason'"
log "stopped while booting: $reason (the VM: $(vm_field early end))"
wait_for 60 state_is hog-hyperv exited || fail "hog-hyperv: $(field hog-hyperv state) $(field hog-hyperv reason)"
wait_for 20 state_is hog-process exited || fail "hog-process: $(field hog-process state)"
for mode in process hyperv; do
        [ "$(field "hog-$mode" exit_signal)" = SIGKILL ] || fail "hog-$mode: exit signal '$(field "hog-$mode" exit_signal)'"
        [ "$(field "hog-$mode" oom)" = True ] || fail "hog-$mode: oom '$(field "hog-$mode" oom)'"
        logged "hog-$mode" "the kernel's OOM killer ended it" || fail "hog-$mode: the log does not say OOM"
done
logged hog-hyperv "Out of memory: Killed process" || log "(the guest's console did not show the OOM killer's line)"
end

begin "templates: units restored from one template have their own disks, MAC, address, host name and random numbers; a corrupt template is removed and the unit boots cold"
# Two units of one machine shape (one template); each keeps a file in its own sandbox disk.
TPL_PROBE='echo "who: $(hostname) sandbox: $(cat /data/who 2>/dev/null || echo none)"; hostname >/data/who;
echo "mac: $(cat /sys/class/net/eth0/address)"; echo "addr: $(ip -4 -o addr show eth0 | awk "{print \$4}")";
echo "boot_id: $(cat /proc/sys/kernel/random/boot_id)"; echo "random: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d " ")";
echo "disks: $(ls /sys/block | tr "\n" " ")"; exec sleep 1000'
for u in tpl-a tpl-b; do
        unit "$u" hyperv "command: [/bin/sh, -c, '$TPL_PROBE']
hostname: $u"
        sed -i 's/^network: none$/network: bridge/' "$CASE_DIR/units/$u.yaml"
done
out() { sed -n "s/.* stdout $2: //p" "$CASE_DIR/state/logs/$1.log"; }
SUP_VM_TEMPLATES=1 SUP_VM_BOOT_TIMEOUT=600 start_supd
for u in tpl-a tpl-b; do
        wait_for 300 logged "$u" "stdout who:" || fail "$u did not start: $(field "$u" state) $(field "$u" reason)"
        logged "$u" "template: none yet for this machine" || fail "$u: the log does not say it booted cold for want of a template"
done
# Both build (one waits for the other's lock): ready in both logs.
for u in tpl-a tpl-b; do
        wait_for 600 logged "$u" "template [0-9a-f]*: ready" || fail "$u: no template: $(grep template "$CASE_DIR/state/logs/$u.log")"
done
tdir=$CASE_DIR/state/vm/templates
[ "$(stat -c %a:%u "$tdir")" = 700:0 ] || fail "the template directory is $(stat -c %a:%u "$tdir"), not 700 and root's"
for f in "$tdir"/*.state; do
        [ "$(stat -c %a:%u "$f")" = 600:0 ] || fail "$f is $(stat -c %a:%u "$f"), not 600 and root's"
done
[ "$(ls "$tdir"/*.state | wc -l)" = 1 ] || fail "one shape, $(ls "$tdir"/*.state | wc -l) templates"
for u in tpl-a tpl-b; do : >"$CASE_DIR/state/logs/$u.log"; ctl restart "$u" >/dev/null; done
for u in tpl-a tpl-b; do
        wait_for 300 logged "$u" "stdout disks:" || fail "$u did not restart: $(field "$u" state) $(field "$u" reason)"
        logged "$u" "restoring the booted guest" || fail "$u was not restored: $(grep -E "sup (template|QEMU)" "$CASE_DIR/state/logs/$u.log")"
        logged "$u" "restored, the guest answers" || fail "$u: the restore is not confirmed"
        [ "$(out "$u" who)" = "$u sandbox: $u" ] || fail "$u: not its own host name and sandbox disk: '$(out "$u" who)'"
        addr=$(field "$u" address)
        # net/: a unit's MAC is 02:53 and its IPv4 address.
        mac=$(printf '02:53:%02x:%02x:%02x:%02x' ${addr//./ })
        [ "$(out "$u" mac)" = "$mac" ] || fail "$u: eth0's MAC is $(out "$u" mac), its own $mac"
        [ "$(out "$u" addr)" = "$addr/24" ] || fail "$u: eth0 has '$(out "$u" addr)', its address is $addr"
        [ "$(out "$u" disks)" = "vda vdb vdc " ] || fail "$u: disks '$(out "$u" disks)'"
done
# A restored QEMU loads no kernel nor initramfs: the booted kernel is in the guest RAM the stream
# brought, and -kernel would keep a copy of vmlinuz in QEMU for its lifetime (14 MiB).
for u in tpl-a tpl-b; do
        args=" $(tr '\0' ' ' <"/proc/$(field "$u" pid)/cmdline")"
        [[ $args == *" -incoming fd:"* && $args != *" -kernel "* && $args != *" -initrd "* ]] || fail "$u: restored by QEMU $args"
done
[ "$(out tpl-a boot_id)" != "$(out tpl-b boot_id)" ] || fail "both restored guests have the boot_id $(out tpl-a boot_id)"
[ "$(out tpl-a random)" != "$(out tpl-b random)" ] || fail "both restored guests drew the random bytes $(out tpl-a random)"
log "restored: tpl-a $(out tpl-a mac) $(out tpl-a addr), tpl-b $(out tpl-b mac) $(out tpl-b addr); boot_ids and random bytes differ"
# Corrupt (the stream's header zeroed, its size as recorded): QEMU refuses it, the template goes,
# the unit boots cold, and no QEMU is left of the failed restore.
for f in "$tdir"/*.state; do dd if=/dev/zero of="$f" bs=4096 count=1 conv=notrunc status=none; done
: >"$CASE_DIR/state/logs/tpl-a.log"
ctl restart tpl-a >/dev/null
wait_for 300 logged tpl-a "stdout who:" || fail "tpl-a did not start after the corrupt template: $(field tpl-a state) $(field tpl-a reason)"
logged tpl-a "restoring failed (QEMU: .*migration.*): removing it, booting cold" ||
        fail "tpl-a: no clear message: $(grep -E "sup template|qemu " "$CASE_DIR/state/logs/tpl-a.log")"
n=$(pgrep -f "qemu-system-x86_64 -name sup-tpl-a," | wc -l)
[ "$n" = 1 ] || fail "$n QEMUs of tpl-a"
# Booted cold, it boots the kernel's ELF (a PVH boot) where guest-kernel.sh extracted one: with
# vmlinuz QEMU would keep a private copy of the bzImage for its lifetime (14 MiB).
if [ -f "$GUEST/kernel/current/vmlinux" ]; then
        args=" $(tr '\0' ' ' <"/proc/$(field tpl-a pid)/cmdline")"
        [[ $args == *" -kernel $GUEST/kernel/current/vmlinux "* ]] || fail "tpl-a: booted cold by QEMU $args"
elif [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ]; then
        fail "SUP_TESTS_MUST_WORK=1: no $GUEST/kernel/current/vmlinux for a PVH boot (tools/guest-kernel.sh needs lz4 and readelf)"
fi
log "corrupt template: $(sed -n 's/.* sup template [0-9a-f]*: \(restoring failed.*\)/\1/p' "$CASE_DIR/state/logs/tpl-a.log")"
end

finish
