#!/bin/bash
# isolation: hyperv, sup against bare QEMU, in the same run, interleaved: the same guest kernel,
# the same machine options (taken from the command line sup's monitor gave QEMU), TCG.
#
#   bench/hyperv.sh [RUNS]      (as root; RUNS default 5, or SUP_BENCH_HV_RUNS)
#
# Each round, with SUP_BENCH_SETTLE seconds (default 0.25) of quiet before each step:
#   sup start    `supctl start hv` of a stopped hyperv unit whose command prints a line, until the
#                line is in the unit's log (supctl -> supd -> monitor -> QEMU -> kernel -> sup-init
#                -> the command -> the stdout port -> monitor -> log file), split by the lines the
#                monitor logs: QEMU's command line, "starting", "running". hv is restored from its
#                template (runtime/vm/vm-template.h), built once before the rounds.
#   sup cold     the same for hvcold, the same unit with 257 MiB (a template key of its own), whose
#                template is removed before each start: a cold boot, sup's fallback (booting the
#                kernel's ELF, a PVH boot, when tools/guest-kernel.sh extracted one)
#   sup stop     `supctl stop hv` until "stopped" is in the log (the graceful path: the guest's
#                agent signals the command, the guest powers off, QEMU exits)
#   bare QEMU    the same kernel and machine options with a trivial initramfs (busybox: /init
#                prints a line, then sleeps), from the fork of QEMU until the line is in its serial
#                console's file; then SIGTERM until QEMU has exited
# Then once each, SUP_BENCH_HV_IDLE seconds (default 3) after the first line, with the VM idle:
# QEMU's memory (RSS, PSS, and what of it is guest RAM, and by mapping: hyperv-memory.txt) of hv,
# restored, and of hvcold, booted cold, and of hvbz, booted cold from the bzImage (vm.kernel:
# vmlinuz, as before the PVH boot), the monitor's, and on the bare QEMU 200 QMP query-status
# round trips (sup's QMP socket is the monitor's: one client at a time).
# Times come from bench-probe (bench/probe.c), as in start-latency.sh.
# The guest: SUP_GUEST_DIR (default /var/lib/sup/guest), provisioned with tools/guest-kernel.sh,
# its initramfs built from this build's sup-init (tools/guest-initramfs.sh).
# Results: a table on stdout, $SUP_BENCH_OUT/hyperv.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS=${1:-${SUP_BENCH_HV_RUNS:-5}}
SETTLE=${SUP_BENCH_SETTLE:-0.25}
IDLE=${SUP_BENCH_HV_IDLE:-3}
QMP_CALLS=200
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
LINE=hv-bench-first-line

bench_require
command -v qemu-system-x86_64 >/dev/null || die "needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
command -v mkfs.ext4 >/dev/null || die "needs mkfs.ext4 (apt-get install e2fsprogs)"
command -v cpio >/dev/null || die "needs cpio (apt-get install cpio)"
"$TOP/tools/guest-kernel.sh" "$GUEST" > /dev/null || die "no guest kernel in $GUEST (tools/guest-kernel.sh $GUEST)"
"$TOP/tools/guest-initramfs.sh" "$GUEST" "$BUILD/sup-init" > /dev/null || die "cannot build the guest's initramfs in $GUEST"
# QEMUs of others (a test suite, another benchmark) share the two CPUs: said with the results.
other_qemus() {
        local p n=0
        for p in $(pgrep -x qemu-system-x86); do
                tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "${WORK:-/nonexistent}/" || n=$((n + 1))
        done
        echo $n
}
LOAD0=$(cut -d" " -f1-3 /proc/loadavg) QEMUS0=$(other_qemus)
[ "$QEMUS0" = 0 ] || note "$QEMUS0 other QEMU processes are running: they share the CPUs with this benchmark"
bench_begin hyperv hyperv

# ---- sup ----
say "sup: supd with one hyperv unit (TCG), its first start (building the layer's disk) not counted"
SUP_DIR=$WORK/sup
LOGS=$SUP_DIR/state/logs
mkdir -p "$SUP_DIR/units"
# Restart policy no: a stopped unit stays stopped. accel tcg: no KVM probe (KVM guests hang here).
sup_unit hv "[/bin/sh, -c, \"echo $LINE; exec sleep 100000\"]" "isolation: hyperv
vm: {accel: tcg}
restart: {policy: 'no'}"
# wait_first_line SECONDS: until hv's line is in its log (it started with supd).
wait_first_line() {
        local deadline=$((SECONDS + $1))
        until grep -q " stdout $LINE$" "$LOGS/hv.log" 2>/dev/null; do
                [ $SECONDS -ge $deadline ] || [ "$(sup_field hv state)" = failed ] &&
                        { tail -20 "$LOGS/hv.log" >&2; die "the hyperv unit did not print its line: $(sup_field hv reason)"; }
                sleep 0.1
        done
}
sup_unit hvcold "[/bin/sh, -c, \"echo $LINE; exec sleep 100000\"]" "isolation: hyperv
vm: {accel: tcg}
resources: {memory: 257M}
restart: {policy: 'no'}"
# hvbz: hvcold booting vmlinuz (the bzImage: QEMU keeps a copy of it), measured beside it.
sup_unit hvbz "[/bin/sh, -c, \"echo $LINE; exec sleep 100000\"]" "isolation: hyperv
vm: {accel: tcg, kernel: $GUEST/kernel/current/vmlinuz}
resources: {memory: 258M}
restart: {policy: 'no'}"
sup_start "$SUP_DIR" --guest-dir "$GUEST"
wait_first_line 120
# The template is built in the background once the command runs.
say "waiting for hv's template"
deadline=$((SECONDS + 600))
until grep -q " sup template [0-9a-f]*: ready" "$LOGS/hv.log" 2>/dev/null; do
        grep -q " sup template [0-9a-f]*: building failed" "$LOGS/hv.log" && die "no template: $(grep "sup template" "$LOGS/hv.log")"
        [ $SECONDS -lt $deadline ] || die "no template for hv after 600 s"
        sleep 0.5
done
note "$(grep " sup template [0-9a-f]*: ready" "$LOGS/hv.log" | head -1 | cut -d" " -f3-)"
for u in hvcold hvbz; do
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop $u > /dev/null ||
                die "$u did not stop"
done

# The bare QEMU's machine: every option sup's QEMU has up to its devices (the machine, TCG, -m,
# -smp, -sandbox, the kernel and its command line with tsc_early_khz), the initramfs replaced.
mkdir -p "$WORK/bare/bin" "$WORK/console"
cp /bin/busybox "$WORK/bare/bin/"
printf '#!/bin/busybox sh\n/bin/busybox echo %s\nexec /bin/busybox sleep 100000\n' "$LINE" > "$WORK/bare/init"
chmod 755 "$WORK/bare/init"
(cd "$WORK/bare" && find . | cpio -o -H newc --quiet) > "$WORK/bare.cpio"
mapfile -d '' -t qargv < "/proc/$(sup_field hv pid)/cmdline"
QEMU=${qargv[0]}
BARE=()
for ((i = 1; i < ${#qargv[@]}; i++)); do
        case ${qargv[i]} in
        -name) i=$((i + 1)) ;;
        -initrd) BARE+=(-initrd "$WORK/bare.cpio"); i=$((i + 1)) ;;
        -qmp | -chardev | -serial | -drive | -device) break ;;
        *) BARE+=("${qargv[i]}") ;;
        esac
done
[[ " ${BARE[*]} " == *" -kernel "* && " ${BARE[*]} " == *" -append "* && " ${BARE[*]} " == *" -initrd "* ]] ||
        die "unexpected QEMU command line from sup: ${qargv[*]}"
GUEST_MIB=$(($(sup_field hv vm memory) >> 20))
note "machine: ${BARE[*]}"
"$PROBE" watch --dir "$LOGS" --match stopped --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop hv > /dev/null ||
        die "hv did not stop"

# cold_round [mem [UNIT [WHAT]]]: UNIT (default hvcold) from a cold boot (its template, if any,
# removed), then stopped. mem: its QEMU's memory, idle, instead of a timed sample.
cold_round() {
        local p=$WORK/p.txt key u=${2:-hvcold}
        key=$(sed -n 's/.* sup template: none yet for this machine (\([0-9a-f]*\)).*/\1/p' "$LOGS/$u.log" | head -1)
        [ -n "$key" ] && rm -f "$SUP_DIR/state/vm/templates/$key"*.state
        sleep "$SETTLE"
        "$PROBE" watch --dir "$LOGS" --match "$LINE" --timeout 120 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start "$u" > "$p" ||
                { cat "$p" >&2; die "sup cold start: no first line"; }
        if [ "${1:-}" = mem ]; then
                sleep "$IDLE"
                vm_mem "$u" "${3:-QEMU of the hyperv unit, booted cold (no template)}" $(($(sup_field "$u" vm memory) >> 20))
        else
                probe_times "$p" hvcold "$LINE" >> "$RAW/sup-cold" || { cat "$p" >&2; die "sup cold start: unexpected log"; }
        fi
        sleep "$SETTLE"
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop "$u" > /dev/null ||
                die "sup cold stop: not stopped"
        # The template build this start began goes on after the stop: let it end (and remove its
        # template), so that it neither runs during the next rows nor makes the next start a restore.
        key=$(sed -n 's/.* sup template: none yet for this machine (\([0-9a-f]*\)).*/\1/p' "$LOGS/$u.log" | head -1)
        local deadline=$((SECONDS + 600))
        sleep 0.5
        while compgen -G "$SUP_DIR/state/vm/templates/$key*.build" > /dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        rm -f "$SUP_DIR/state/vm/templates/$key"*.state
}

sup_round() { # sup_round: one start, one stop
        local p=$WORK/p.txt
        sleep "$SETTLE"
        "$PROBE" watch --dir "$LOGS" --match "$LINE" --timeout 120 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start hv > "$p" ||
                { cat "$p" >&2; die "sup start: no first line"; }
        probe_times "$p" hv "$LINE" >> "$RAW/sup-start" || { cat "$p" >&2; die "sup start: unexpected log"; }
        sleep "$SETTLE"
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop hv > "$p" ||
                { cat "$p" >&2; die "sup stop: not stopped"; }
        # stopped, stop returns, "running -> stopping", the guest's "Power down" on its console
        awk '
                $1 == "done" { dn = $2 } $1 == "exit" { ex = $2 }
                $1 == "line" && $NF == "stopping" && $(NF-1) == "->" { sg = $2 }
                $1 == "line" && $5 == "console" && / Power down/ { pd = $2 }
                END { if (dn == "") exit 1; printf "%d %d %d %d\n", dn, ex, sg == "" ? -1 : sg, pd == "" ? -1 : pd }' "$p" >> "$RAW/sup-stop" ||
                { cat "$p" >&2; die "sup stop: unexpected log"; }
}

# bare_qemu I [THEN]: boots the bare guest until its line, runs THEN (sh -c; PROBE_PID is QEMU's
# pid; default: SETTLE of quiet), sends SIGTERM; the probe's output in $WORK/bare-I.txt.
bare_qemu() {
        local p=$WORK/bare-$1.txt
        sleep "$SETTLE"
        "$PROBE" watch --dir "$WORK/console" --match "$LINE" --timeout 120 --then "${2:-sleep $SETTLE}" --signal 15 -- \
                "$QEMU" "${BARE[@]}" -qmp "unix:$WORK/bare.qmp,server=on,wait=off" -serial "file:$WORK/console/bare-$1" \
                > "$p" 2> "$WORK/bare.err" || { cat "$p" "$WORK/bare.err" >&2; die "bare QEMU: no first line"; }
}

bare_round() { # bare_round I
        bare_qemu "$1"
        # the line, the kernel's first console line, SIGTERM, exited
        awk -v w="$LINE" '
                $1 == "line" && co == "" { co = $2 }
                $1 == "line" && $NF == w { ln = $2 }
                $1 == "signal" { sg = $2 } $1 == "exit" { ex = $2 }
                END { if (ln == "" || sg == "" || ex == "") exit 1; printf "%d %d %d %d\n", ln, co, sg, ex }' "$WORK/bare-$1.txt" >> "$RAW/bare" ||
                { cat "$WORK/bare-$1.txt" >&2; die "bare QEMU: unexpected output"; }
}

say "warming up (1 round, not counted)"
sup_round; cold_round; bare_round 0
rm -f "$RAW"/*
RESTORES0=$(grep -c "restoring the booted guest" "$LOGS/hv.log")

say "measuring: $RUNS rounds of sup start and stop (restored), sup cold start, bare QEMU boot and SIGTERM, interleaved"
for i in $(seq 1 "$RUNS"); do
        sup_round
        cold_round
        bare_round "$i"
        printf '.' >&2
done
echo >&2
RESTORES=$(($(grep -c "restoring the booted guest" "$LOGS/hv.log") - RESTORES0))
[ "$RESTORES" = "$RUNS" ] || die "hv was restored $RESTORES times in $RUNS rounds: $(grep "sup template" "$LOGS/hv.log" | tail -3)"
[ "$(grep -c "restoring the booted guest" "$LOGS/hvcold.log")" = 0 ] || die "hvcold was restored"

# vm_mem UNIT WHAT [GUEST_MIB]: the memory of UNIT's QEMU, and where it is by mapping (appended to
# hyperv-memory.txt): guest RAM, TCG's code cache, the anonymous mapping of the kernel's size
# (QEMU's copy of -kernel), QEMU's binary and libraries (file pages, shared by every QEMU on the
# host), the rest. Private dirty is what no other process can share: what one more VM costs.
vm_mem() {
        local pid
        pid=$(sup_field "$1" pid)
        $PY "$BENCH/lib/benchlib.py" vm-mem "$RESULTS" sup "$2" "$pid" "${3:-$GUEST_MIB}"
        $PY - "$pid" "${3:-$GUEST_MIB}" "$(stat -L -c %s "$GUEST/kernel/current/vmlinuz")" "$2" >> "$OUT/hyperv-memory.txt" <<'PY'
import re, sys
pid, guest_kib, kernel_kib, what = sys.argv[1], int(sys.argv[2]) * 1024, int(sys.argv[3]) // 1024, sys.argv[4]
rows, cur, v = {}, None, {}
def flush():
    if cur is None:
        return
    size, perms, name = cur
    if not name and size == guest_kib and "x" not in perms: k = "guest RAM (resident: touched, not given back)"
    elif not name and "x" in perms: k = "TCG code cache"
    elif not name and abs(size - kernel_kib) < 512: k = "anonymous, the kernel's size (QEMU's copy of -kernel)"
    elif name.endswith("/vmlinux"): k = "the kernel's ELF (a PVH boot: file pages, shared)"
    elif name.endswith("/qemu-system-x86_64"): k = "QEMU's binary"
    elif ".so" in name: k = "libraries"
    elif name == "[heap]": k = "heap"
    elif name.startswith("/"): k = "other files (the initramfs, firmware)"
    else: k = "other anonymous (thread arenas, vCPU TLBs, stacks)"
    r = rows.setdefault(k, [0, 0, 0])
    for i, f in enumerate(("Rss", "Pss", "Private_Dirty")):
        r[i] += v.get(f, 0)
for line in open("/proc/%s/smaps" % pid):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
    if m:
        flush()
        cur, v = ((int(m.group(2), 16) - int(m.group(1), 16)) // 1024, m.group(3), m.group(4)), {}
    elif re.match(r"^\w+:\s+\d+ kB", line):
        v[line.split(":")[0]] = int(line.split()[1])
flush()
g = rows.get("guest RAM (resident: touched, not given back)", [0, 0, 0])
tot = [sum(r[i] for r in rows.values()) for i in range(3)]
print("%s, by mapping (/proc/PID/smaps, MiB):\n" % what)
print("| mapping | RSS | PSS | private dirty |\n|---|--:|--:|--:|")
for k, r in sorted(rows.items(), key=lambda kr: -kr[1][0]):
    print("| %s | %.1f | %.1f | %.1f |" % (k, r[0] / 1024, r[1] / 1024, r[2] / 1024))
print("| **all but guest RAM (the VM's overhead)** | **%.1f** | **%.1f** | **%.1f** |\n" %
      tuple((tot[i] - g[i]) / 1024 for i in range(3)))
PY
}

# vm_mem_after_free PID: the guest allocates 96 MB and frees it (busybox awk's strings, then its
# exit); QEMU's memory once the guest RAM it holds has stopped shrinking for 5 s (at most 60 s):
# with free page reporting the guest hands the freed RAM back, without it QEMU keeps it.
vm_mem_after_free() {
        local pid=$1 prev=-1 now same=0 deadline=$((SECONDS + 60))
        ctl exec hv -- /bin/awk 'BEGIN { for (i = 0; i < 12; i++) a[i] = sprintf("%8000000d", i) }' > /dev/null ||
                die "the guest could not allocate 96 MB"
        while [ $same -lt 5 ] && [ $SECONDS -lt $deadline ]; do
                sleep 1
                now=$(awk -v k=$((GUEST_MIB << 10)) '/^[0-9a-f]+-[0-9a-f]+ / { anon = NF == 5; next }
                        $1 == "Size:" { size = $2 } $1 == "Rss:" && anon && size == k { print $2 }' "/proc/$pid/smaps")
                if [ "$now" = "$prev" ]; then same=$((same + 1)); else same=0; fi
                prev=$now
        done
        $PY "$BENCH/lib/benchlib.py" vm-mem "$RESULTS" sup "QEMU of the hyperv unit, after the guest allocated and freed 96 MB" "$pid" "$GUEST_MIB"
}

# ---- memory, with the VM idle; QMP on the bare QEMU ----
say "memory of an idle VM (${IDLE}s after its first line), sup then bare QEMU; $QMP_CALLS QMP round trips"
sleep "$SETTLE"
"$PROBE" watch --dir "$LOGS" --match "$LINE" --timeout 120 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start hv > /dev/null ||
        die "sup start: no first line"
sleep "$IDLE"
: > "$OUT/hyperv-memory.txt"
vm_mem hv "QEMU of the hyperv unit (restored from its template)"
$PY "$BENCH/lib/benchlib.py" mem "$RESULTS" sup "sup-monitor of the hyperv unit" 1 "$(sup_field hv monitor_pid)"
vm_mem_after_free "$(sup_field hv pid)"
"$PROBE" watch --dir "$LOGS" --match stopped --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop hv > /dev/null ||
        die "sup stop: not stopped"
cold_round mem
cold_round mem hvbz "QEMU of the hyperv unit, booted cold from the bzImage (vm.kernel: vmlinuz)"
export PY BENCH RESULTS GUEST_MIB WORK QMP_CALLS
# shellcheck disable=SC2016 # expanded by the probe's sh -c
bare_qemu mem 'sleep '"$IDLE"'; $PY "$BENCH/lib/benchlib.py" vm-mem "$RESULTS" "bare QEMU" "QEMU, the same kernel and machine" "$PROBE_PID" "$GUEST_MIB" &&
        $PY "$BENCH/lib/benchlib.py" qmp-rtt "$WORK/bare.qmp" "$QMP_CALLS" > "$WORK/raw/qmp"'
[ -s "$RAW/qmp" ] || die "no QMP round trips measured"

# ---- where the guest's time goes: one boot with sup.debug (sup-init says when each step is done)
# supd passes no --vm-debug to its monitors: a second supd, whose monitor is a wrapper that does.
sup_stop
printf '#!/bin/sh\nexec "%s" --vm-debug "$@"\n' "$MONITOR" > "$WORK/sup-monitor-debug"
chmod 755 "$WORK/sup-monitor-debug"
: > "$LOGS/hv.log"
MONITOR=$WORK/sup-monitor-debug sup_start "$SUP_DIR" --guest-dir "$GUEST"
wait_first_line 120
awk '
        function ms(iso, a) { split(iso, a, /[T:Z]/); return (a[2] * 3600 + a[3] * 60 + a[4]) * 1000 }
        BEGIN { print "one start with sup.debug on the guest'"'"'s command line (not counted; its console lines cost time under TCG):" }
        $2 == "sup" && $3 == "QEMU" && $4 ~ /^[0-9]+:$/ { q = ms($1); print "      0 ms  QEMU started" }
        q == "" { next }
        $2 == "console" && $3 == "sup-init:" && $5 == "s:" {
                host = ms($1) - q; guest = $4; $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, "")
                printf "  %5d ms  sup-init: %s (%s s after the guest kernel started)\n", host, $0, guest
        }
        $2 == "stdout" { printf "  %5d ms  the first line in the log\n", ms($1) - q; exit }
' "$LOGS/hv.log" > "$OUT/hyperv-guest-steps.txt"

# ---- results ----
# Unlike common.sh's: a sample that could not be taken is -1, and left out.
col() { awk -v c="$2" '$c >= 0 { print $c }' "$RAW/$1"; }
diffcol() { awk -v a="$2" -v b="$3" '$a >= 0 && $b >= 0 { print $b - $a }' "$RAW/$1"; }
SUP_FIRST="start → first line in the log (\`supctl start\`, full path, restored from a template)"
BARE_FIRST="QEMU forked → first line on its serial console (busybox /init)"

SUP_COLD="cold boot: start → first line in the log (no template)"
col sup-start 3 | add sup "$SUP_FIRST"
col bare 1 | add "bare QEMU" "$BARE_FIRST"
$PY "$BENCH/lib/benchlib.py" overhead "$RESULTS" sup "sup over bare QEMU, medians" "$SUP_FIRST" "$BARE_FIRST"
col sup-cold 3 | add sup "$SUP_COLD"
$PY "$BENCH/lib/benchlib.py" overhead "$RESULTS" sup "sup cold over bare QEMU, medians" "$SUP_COLD" "$BARE_FIRST"
col sup-start 7 | add sup "· request → monitor logs QEMU's command line (CLI, supd, monitor, disks, fork)"
diffcol sup-start 7 1 | add sup "· QEMU's command line → \"starting\" logged"
diffcol sup-start 1 2 | add sup "· \"starting\" → \"running\" (QEMU, kernel, sup-init, the guest's agent: started)"
diffcol sup-start 2 3 | add sup "· \"running\" → first line in the log"
col sup-start 4 | add sup "· \`supctl start\` returns"
diffcol sup-start 7 8 | add sup "· QEMU's command line → the kernel's first console line in the log"
col bare 2 | add "bare QEMU" "· QEMU forked → the kernel's first console line"
col sup-start 6 | add sup "· log timestamps (1 ms steps): \"starting\" → first line"
col sup-stop 1 | add sup "stop → \"stopped\" in the log (\`supctl stop\`: agent, the command's SIGTERM, guest power-off)"
diffcol bare 3 4 | add "bare QEMU" "stop: SIGTERM → QEMU exited (no guest shutdown)"
col sup-stop 3 | add sup "· stop → \"running -> stopping\" logged"
col sup-stop 4 | add sup "· stop → the guest's \"reboot: Power down\" in the log"
col sup-stop 2 | add sup "· \`supctl stop\` returns"
add "bare QEMU" "QMP query-status round trip (python3 client, after qmp_capabilities)" < "$RAW/qmp"

{
        echo "hyperv, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), $($QEMU --version | head -1 | sed "s/ emulator version//")," \
                "guest kernel $(readlink "$GUEST/kernel/current"), ${GUEST_MIB} MiB guest RAM, TCG, $RUNS rounds," \
                "load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after," \
                "other QEMU processes $QEMUS0 before, $(other_qemus) after"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS" --minmax
        echo
        sed 's/^/    /' "$OUT/hyperv-guest-steps.txt"
        echo
        cat "$OUT/hyperv-memory.txt"
} | tee "$OUT/hyperv.md"
note "written: $OUT/hyperv.md, $OUT/hyperv.jsonl"
