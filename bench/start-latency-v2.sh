#!/bin/bash
# Start latency on cgroup v2, sup against crun, interleaved in the same run: start-latency.sh's
# measurement (request → the first line the command writes) in a QEMU guest whose kernel has a
# pure cgroup v2 hierarchy, since these hosts are v1 hybrid (issue 14, goal 1, asks for both).
#
#   bench/start-latency-v2.sh [ROUNDS]      (as root; ROUNDS default 15, or SUP_BENCH_RUNS)
#
# Boots the guest kernel (SUP_GUEST_DIR, as the tests; tools/guest-kernel.sh provisions it) with
# TCG, 2 vCPUs, 1 GiB, on an initramfs made as test-cgroup2-vm.sh's is
# (tests/integration/cgroup2-vm-initramfs.sh): this build's supd, supctl and sup-monitor, crun
# (Debian's /usr/bin/crun) and bench-probe with their shared libraries, busybox, the busybox layer
# of start-latency.sh, crun's bundles over it (made here, as start-latency.sh makes them) and the
# units, and lib/start-latency-v2-guest.sh, which mounts cgroup2 with memory, pids, cpu and io
# enabled and runs the rounds:
#   sup    `supctl start` of lat, sup's hardened default unit (the default capabilities, the
#          default seccomp profile, no_new_privileges), while SUP_BENCH_UNITS (default 10) other
#          units run, until "stdout ready" is in its log
#   crun   `crun run` of the same layer and command until its first line: unhardened (every
#          capability, no seccomp, no noNewPrivileges) and, with podman's seccomp profile
#          installed, hardened (podman's capabilities and profile, noNewPrivileges)
# and three references: a process (busybox `echo ready`: a fork and exec, no container),
# `crun --version` and `supctl --version` (each one's exec and dynamic linking alone); in an order
# shuffled anew every round, SUP_BENCH_SETTLE (default 1) seconds of quiet before each, and for
# sup until its next run is parked in its cgroup again. The guest prints bench-probe's output on
# its serial console; this script takes the same times from it as start-latency.sh.
# TCG emulates every instruction: every time is several times the host's, and not alike: work
# (an exec's dynamic linking, crun's parsing) is slowed more than waiting; the references show by
# how much. The ratio is what the goal compares. The guest's clock is the TSC (tsc=reliable),
# which TCG derives from the host's: its times are the host's wall time.
# Results: a table on stdout, $SUP_BENCH_OUT/start-latency-v2.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
# shellcheck source=../tests/integration/lib.sh
source "$TOP/tests/integration/lib.sh" # host_tsc_khz

RUNS=${1:-${SUP_BENCH_RUNS:-15}}
UNITS=${SUP_BENCH_UNITS:-10}
SETTLE=${SUP_BENCH_SETTLE:-1}
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
# Boot, the units' first starts, the rounds (about 10-20 s each under TCG on a loaded host).
TIMEOUT=${SUP_BENCH_V2_TIMEOUT:-$((300 + 60 * RUNS))}
SECCOMP_PROFILE=/usr/share/containers/seccomp.json
HARDENED="security: {capabilities: {drop: [], add: []}, seccomp: default, no_new_privileges: true}"

bench_require
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
command -v crun >/dev/null || die "needs crun (apt-get install crun)"
command -v qemu-system-x86_64 >/dev/null || die "needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
command -v cpio >/dev/null || die "needs cpio"
"$TOP/tools/guest-kernel.sh" "$GUEST" >/dev/null || die "no guest kernel in $GUEST (tools/guest-kernel.sh $GUEST)"
KDIR=$(realpath "$GUEST/kernel/current")
TSC_KHZ=$(host_tsc_khz) || die "cannot tell the host's TSC frequency"
bench_begin start-v2 start-latency-v2

# ---- the guest's root: the layer, the units, crun's bundles ----
R=$WORK/root
mkdir -p "$R/bench/units"
cp -a "$WORK/layer" "$R/layer"
(
        # shellcheck disable=SC2034 # sup_unit's
        SUP_DIR=$R/bench
        for i in $(seq -w 1 "$UNITS"); do sup_unit "bg$i"; done
        sup_unit lat '[/bin/sh, -c, "echo ready; exec sleep 1000"]' "$HARDENED"
)
sed -i "s|dir: $WORK/layer\$|dir: /layer|" "$R"/bench/units/*.yaml
crun_bundle "$R/bench/bundle-bare" bare "" caps=all nnp=false
CRUN_KINDS=bare
if [ -f "$SECCOMP_PROFILE" ]; then
        crun_bundle "$R/bench/bundle-hard" hard "$SECCOMP_PROFILE" caps=podman nnp=true
        CRUN_KINDS="bare hard"
else
        note "no $SECCOMP_PROFILE (apt-get install golang-github-containers-common): crun hardened is skipped"
fi
for k in $CRUN_KINDS; do ln -sfn /layer "$R/bench/bundle-$k/rootfs"; done
cat >"$R/bench/config" <<CONFIG
ROUNDS=$RUNS UNITS=$UNITS SETTLE=$SETTLE CRUN_KINDS="$CRUN_KINDS"
CONFIG
"$TOP/tests/integration/cgroup2-vm-initramfs.sh" "$R" "$WORK/initramfs.cpio" "$KDIR" "$BENCH/lib/start-latency-v2-guest.sh" \
        "$SUPD" "$SUPCTL" "$MONITOR" "$(command -v crun)" "$PROBE" || die "cannot build the initramfs"

# ---- the guest ----
say "guest: kernel $(basename "$KDIR"), initramfs $(($(stat -c %s "$WORK/initramfs.cpio") >> 20)) MiB, microvm, TCG, 2 vCPUs, 1 GiB;" \
        "$RUNS rounds (+1 to warm up) of sup lat and crun ($CRUN_KINDS), at most ${TIMEOUT}s"
T0=$SECONDS
qemu-system-x86_64 -M microvm -nodefaults -no-user-config -accel tcg,tb-size=256 -m 1G -smp 2 \
        -display none -no-reboot -kernel "$KDIR/vmlinuz" -initrd "$WORK/initramfs.cpio" \
        -append "console=ttyS0 quiet panic=-1 tsc_early_khz=$TSC_KHZ clocksource=tsc tsc=reliable" -serial "file:$WORK/console" &
QEMU_PID=$!
while kill -0 $QEMU_PID 2>/dev/null; do
        if [ $((SECONDS - T0)) -ge "$TIMEOUT" ]; then
                kill $QEMU_PID
                note "the guest overran ${TIMEOUT}s"
                break
        fi
        sleep 1
done
wait $QEMU_PID 2>/dev/null || true
LOAD1=$(cut -d" " -f1-3 /proc/loadavg)
tr -d '\r' <"$WORK/console" >"$OUT/start-latency-v2-console.txt"
CONSOLE=$OUT/start-latency-v2-console.txt
QEMU_S=$((SECONDS - T0))
note "QEMU ran for $QEMU_S s, the guest was up $(sed -n 's/^V2 done up //p' "$CONSOLE"); its console: $CONSOLE"
grep '^V2 setup' "$CONSOLE" | sed 's/^V2 setup /    guest: /' >&2
grep -q '^V2 FAIL' "$CONSOLE" && { tail -n 40 "$CONSOLE" >&2; die "the guest failed: $(grep -m1 '^V2 FAIL' "$CONSOLE")"; }
grep -q '^V2 done' "$CONSOLE" || { tail -n 40 "$CONSOLE" >&2; die "the guest did not finish"; }
GUEST_LOAD=$(awk '$2 == "round" && $3 > 0 { print $8 }' "$CONSOLE" | sort -n | sed -n '1p;$p' | tr '\n' ' ')

# ---- the samples: bench-probe's output per job and round (round 0 left out) ----
# samples JOB: one line per round, what probe_times (sup) or the first line (crun) gives.
samples() {
        local i
        for i in $(seq 1 "$RUNS"); do
                awk -v j="$1" -v r="$i" '$1 == "V2" && $2 == j && $3 == r { sub(/^V2 [^ ]+ [0-9]+ /, ""); print }' "$CONSOLE" >"$WORK/p.txt"
                case $1 in
                sup-lat) probe_times "$WORK/p.txt" lat ready || die "sup round $i: unexpected probe output" ;;
                crunver | ctlver) awk '$1 == "first_line" { print $2; ok = 1 } END { exit !ok }' "$WORK/p.txt" || die "crun --version round $i: no line" ;;
                exec | crun-*) awk '$1 == "first_line" && $3 == "ready" { print $2; ok = 1 } END { exit !ok }' "$WORK/p.txt" ||
                        die "$1 round $i: no first line" ;;
                esac
        done
}
samples sup-lat >"$RAW/sup-lat"
for k in $CRUN_KINDS; do samples "crun-$k" >"$RAW/crun-$k"; done
samples exec >"$RAW/exec"
samples crunver >"$RAW/crunver"
samples ctlver >"$RAW/ctlver"

SUP_WHAT="start → first line in the log, lat: hardened (default caps, default seccomp, no_new_privileges)"
BARE_WHAT="start → first line (\`crun run\`), unhardened (all caps, no seccomp, no noNewPrivileges)"
HARD_WHAT="start → first line (\`crun run\`), hardened (podman's caps and seccomp profile, noNewPrivileges)"
col sup-lat 3 | add sup "$SUP_WHAT"
col crun-bare 1 | add crun "$BARE_WHAT"
[ -f "$RAW/crun-hard" ] && col crun-hard 1 | add crun "$HARD_WHAT"
col exec 1 | add "(reference)" "a process: fork + exec of busybox \`echo ready\` → its line (no container)"
col crunver 1 | add "(reference)" "\`crun --version\` → its line (crun's exec and dynamic linking)"
col ctlver 1 | add "(reference)" "\`supctl --version\` → its line (supctl's exec and dynamic linking)"
col sup-lat 1 | add sup "· lat: request → monitor logs \"starting\""
diffcol sup-lat 1 2 | add sup "· lat: \"starting\" → \"running\""
diffcol sup-lat 2 3 | add sup "· lat: \"running\" → first line in the log"
col sup-lat 4 | add sup "· lat: \`supctl start\` returns"
$PY "$BENCH/lib/benchlib.py" delta "$RESULTS" "sup − crun" "lat (hardened) over \`crun run\` unhardened" "$SUP_WHAT" "$BARE_WHAT"
[ -f "$RAW/crun-hard" ] &&
        $PY "$BENCH/lib/benchlib.py" delta "$RESULTS" crun "hardening adds (no limits)" "$HARD_WHAT" "$BARE_WHAT"
# What is left of each side without its CLI's exec (TCG's dearest part: see the references).
$PY "$BENCH/lib/benchlib.py" delta "$RESULTS" sup "lat: start → first line, less \`supctl --version\`" "$SUP_WHAT" \
        "\`supctl --version\` → its line (supctl's exec and dynamic linking)"
$PY "$BENCH/lib/benchlib.py" delta "$RESULTS" crun "\`crun run\` unhardened, less \`crun --version\`" "$BARE_WHAT" \
        "\`crun --version\` → its line (crun's exec and dynamic linking)"
# Issue 14's goal: sup's hardened default unit against crun's unhardened bundle.
$PY "$BENCH/lib/benchlib.py" ratio "$RESULTS" "sup / crun" "lat (hardened) over \`crun run\` unhardened" "$SUP_WHAT" "$BARE_WHAT"
[ -f "$RAW/crun-hard" ] &&
        $PY "$BENCH/lib/benchlib.py" ratio "$RESULTS" "sup / crun" "lat (hardened) over \`crun run\` hardened" "$SUP_WHAT" "$HARD_WHAT"

{
        echo "start latency on cgroup v2 (QEMU TCG guest, 2 vCPUs: every time several times the host's), $(date -u +%Y-%m-%dT%H:%MZ)," \
                "host $(nproc) CPUs, Linux $(uname -r); guest $(grep -m1 '^V2 setup' "$CONSOLE" | sed 's/^V2 setup //');" \
                "sup $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null), $RUNS rounds, $UNITS other units running," \
                "host load average $LOAD0 before, $LOAD1 after; QEMU ran $QEMU_S s, the guest's clock $(sed -n 's/^V2 done up //p' "$CONSOLE"); guest load average (1 min) ${GUEST_LOAD:-?}(lowest, highest after a round)"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS"
} | tee "$OUT/start-latency-v2.md"
note "written: $OUT/start-latency-v2.md, $OUT/start-latency-v2.jsonl"
