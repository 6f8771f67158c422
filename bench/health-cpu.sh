#!/bin/bash
# What a health check costs the host: the CPU time of a unit with a check every second, against
# the same unit without one, measured at the same time on the same machine.
#
#   bench/health-cpu.sh [SECONDS]      (as root; SECONDS default 300, or SUP_BENCH_HEALTH_SECONDS)
#
# Two supds run side by side, each with its own directories and cgroup parent, with the same units
# (the busybox layer of the other benchmarks, `echo ready; exec sleep`): p, process isolation, and
# v, hyperv (TCG; SUP_BENCH_HEALTH_HV=0 leaves it out). In the supd "check" every unit has
# `healthcheck: {command: SUP_BENCH_HEALTH_CHECK (default [/bin/true]), interval: 1s}`; in the supd
# "none" they have none. Once every unit runs and the checked ones are healthy, and after
# SUP_BENCH_SETTLE_HEALTH seconds (default 5) of quiet, the CPU time used (user + system) is read
# every SUP_BENCH_HEALTH_SAMPLE seconds (default 30) for SECONDS, from
#   the unit's cgroup      where its workload runs, and the check (a check costs the workload's
#                          cgroup): cpuacct.usage (v1) or cpu.stat's usage_usec (v2); for v, QEMU's
#   its monitor's cgroup   NAME@monitor: the monitor runs the checks and records their results
#   supd                   the sum of its threads' /proc/PID/task/*/schedstat (the CPU it ran)
# The peer (SUP_BENCH_HEALTH_CRUN=0 leaves it out): `crun exec c true` every second into a crun
# container of the same layer, from a loop in a cgroup of its own, against the same loop without
# it; what crun costs per exec is the difference plus what the container's cgroup used.
# Per interval, the CPU each used (a series: the median, min and max over the intervals), with
# the paired difference of the two supds' intervals (benchlib.py delta: the machine's load of an
# interval is in both); in total over SECONDS, and what the check adds per check (the difference
# over SECONDS / interval checks). No thresholds: a measurement.
# Results: a table on stdout, $SUP_BENCH_OUT/health-cpu.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

DURATION=${1:-${SUP_BENCH_HEALTH_SECONDS:-300}}
SAMPLE=${SUP_BENCH_HEALTH_SAMPLE:-30}
HV=${SUP_BENCH_HEALTH_HV:-1}
CHECK=${SUP_BENCH_HEALTH_CHECK:-"[/bin/true]"}
QUIET=${SUP_BENCH_SETTLE_HEALTH:-5}
PEER=${SUP_BENCH_HEALTH_CRUN:-1}
SECCOMP_PROFILE=/usr/share/containers/seccomp.json
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
INTERVAL_S=1
CMD='[/bin/sh, -c, "echo ready; exec sleep 100000"]'
[ $((DURATION % SAMPLE)) = 0 ] || die "SECONDS ($DURATION) must be a multiple of SUP_BENCH_HEALTH_SAMPLE ($SAMPLE)"

bench_require
UNITS=p
if [ "$HV" != 0 ]; then
        command -v qemu-system-x86_64 >/dev/null || die "needs qemu-system-x86_64 (or SUP_BENCH_HEALTH_HV=0)"
        "$TOP/tools/guest-kernel.sh" "$GUEST" > /dev/null || die "no guest kernel in $GUEST (tools/guest-kernel.sh $GUEST)"
        "$TOP/tools/guest-initramfs.sh" "$GUEST" "$BUILD/sup-init" > /dev/null || die "cannot build the guest's initramfs in $GUEST"
        UNITS="p v"
fi
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
bench_begin health health-cpu

# ---- two supds: "check" and "none" ----
# common.sh's sup_start keeps one supd (SUPD_PID, SUP_DIR, stopped by bench_cleanup); the other is
# kept here and stopped first. Each has a cgroup parent of its own (a later --cgroup-parent wins).
declare -A PID_OF DIR_OF
hc_cleanup() {
        local rc=$? p
        set +e
        if [ -n "${PID_OF[check]:-}" ] && [ "${PID_OF[check]}" != "$SUPD_PID" ]; then
                kill -TERM "${PID_OF[check]}" 2>/dev/null
                wait "${PID_OF[check]}" 2>/dev/null
                for p in $(pgrep -x sup-monitor); do
                        tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "--dir ${DIR_OF[check]}/run/units/" && kill -KILL "$p"
                done
        fi
        for p in check none; do remove_cgroups "sup-bench-$$-$p"; done
        [ -n "${POLLER:-}" ] && kill -TERM "$POLLER" 2>/dev/null
        # The peer's loops: ended by their PIDs; their last sleep goes within a second.
        for p in "$WORK"/loop-*.pid; do [ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null; done
        for _ in $(seq 30); do
                [ -z "$(cat /sys/fs/cgroup/cpuacct/sup-bench-$$-loop/*/cgroup.procs /sys/fs/cgroup/sup-bench-$$-loop/*/cgroup.procs 2>/dev/null)" ] && break
                sleep 0.1
        done
        remove_cgroups "sup-bench-$$-loop"
        (exit $rc)
        bench_cleanup
}
trap hc_cleanup EXIT

units() { # units KIND DIR: the unit files, with a check or none
        local u extra
        for u in $UNITS; do
                extra=
                [ "$u" = v ] && extra="isolation: hyperv
vm: {accel: tcg}"
                [ "$1" = check ] && extra="$extra
healthcheck: {command: $CHECK, interval: ${INTERVAL_S}s}"
                SUP_DIR=$2 sup_unit "$u" "$CMD" "$extra"
        done
}
for kind in check none; do
        say "supd \"$kind\": units $UNITS, $([ $kind = check ] && echo "a check every ${INTERVAL_S}s: $CHECK" || echo "no health check")"
        DIR_OF[$kind]=$WORK/$kind
        mkdir -p "${DIR_OF[$kind]}/units"
        units "$kind" "${DIR_OF[$kind]}"
        sup_start "${DIR_OF[$kind]}" --guest-dir "$GUEST" --cgroup-parent "sup-bench-$$-$kind"
        PID_OF[$kind]=$SUPD_PID
done
# SUP_DIR, SUPD_PID: the last supd's ("none"), as bench_cleanup wants; on() runs a function for the other.
on() { # on KIND COMMAND...: with SUP_DIR set to KIND's supd
        # shellcheck disable=SC2034 # read by ctl in "$@"
        local SUP_DIR=${DIR_OF[$1]}
        shift
        "$@"
}

# Every unit has printed its line; every checked one is healthy (which says the checks run).
deadline=$((SECONDS + 240))
for kind in check none; do
        for u in $UNITS; do
                until grep -q " stdout ready$" "${DIR_OF[$kind]}/state/logs/$u.log" 2>/dev/null; do
                        [ $SECONDS -ge $deadline ] && { tail -20 "${DIR_OF[$kind]}/state/logs/$u.log" >&2; die "$kind/$u did not start"; }
                        sleep 0.5
                done
        done
done
# A check comes at most 1 s after the start (or the interval): p without a health 30 s on is a
# build that runs none.
early=$((SECONDS + 30))
until [ -n "$(on check sup_field p health)" ]; do
        [ $SECONDS -ge $early ] && die "no health in p's status 30 s after it started: this build runs no health checks"
        sleep 0.5
done
for u in $UNITS; do
        until [ "$(on check sup_field "$u" health status)" = healthy ]; do
                if [ $SECONDS -ge $deadline ]; then
                        tail -20 "${DIR_OF[check]}/state/logs/$u.log" >&2
                        die "$u is not healthy: $(on check sup_field "$u" health)"
                fi
                sleep 0.5
        done
done
[ -z "$(on none sup_field p health)" ] || die "the unit without a healthcheck has a health: $(on none sup_field p health)"

# ---- the peer: crun exec every second ----
# What a check costs crun, the runtime podman's checks end in (podman itself, started for every
# check by a systemd timer, comes on top): a loop `crun exec c true; sleep 1` into a `crun run -d`
# container of the same layer (podman's capabilities and seccomp profile, as sup's defaults are
# hardened), and the same loop without crun exec; each loop in a cpuacct cgroup of its own. What
# crun costs: the first loop's CPU minus the second's (bash, sleep) plus the container's cgroup's
# (the command, which crun exec moves there). Counted: the execs done.
if [ "$PEER" = 1 ] && ! command -v crun > /dev/null; then
        note "no crun: the crun peer is skipped"
        PEER=0
fi
if [ "$PEER" = 1 ]; then
        say "the peer: crun exec every second into a crun container"
        CRUN_ROOT=$WORK/crun
        mkdir -p "$CRUN_ROOT"
        if [ -f "$SECCOMP_PROFILE" ]; then
                crun_bundle "$WORK/bundle" c "$SECCOMP_PROFILE" caps=podman nnp=true
        else
                note "no $SECCOMP_PROFILE: crun's container is unhardened"
                crun_bundle "$WORK/bundle" c "" caps=all nnp=false
        fi
        crun_ns crun --root "$CRUN_ROOT" run -d --bundle "$WORK/bundle" c < /dev/null > "$WORK/crun.out" 2>&1 ||
                { cat "$WORK/crun.out" >&2; die "crun run -d failed"; }
        cg=/sys/fs/cgroup/cpuacct
        [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && cg=/sys/fs/cgroup
        for l in crun sleep; do
                mkdir -p "$cg/sup-bench-$$-loop/$l"
                echo 0 > "$WORK/loop-$l.count"
                # shellcheck disable=SC2016 # expanded by the loop's bash
                crun_ns bash -c 'echo $$ > "$1/cgroup.procs"; echo $$ > "$2.pid"; n=0
                        while :; do
                                if [ "$3" = crun ]; then crun --root "$4" exec c true || exit 1; fi
                                n=$((n + 1)); echo $n > "$2.count"; sleep 1
                        done' loop "$cg/sup-bench-$$-loop/$l" "$WORK/loop-$l" "$l" "$CRUN_ROOT" < /dev/null > /dev/null 2>&1 &
        done
        sleep 2
        [ "$(cat "$WORK/loop-crun.count")" -gt 0 ] || die "crun exec does not run in its loop"
fi

# ---- the samples ----
# cg_cpu_us PARENT NAME: the CPU time of a cgroup, µs.
cg_cpu_us() {
        local f v
        if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
                f=/sys/fs/cgroup/$1/$2/cpu.stat
                v=$(awk '$1 == "usage_usec" { print $2 }' "$f" 2> /dev/null)
        else
                f=/sys/fs/cgroup/cpuacct/$1/$2/cpuacct.usage
                v=$(cat "$f" 2> /dev/null) && v=$((v / 1000))
        fi
        [ -n "$v" ] || die "cannot read $f"
        echo "$v"
}
# supd_cpu_us PID: the CPU time of a process's threads, µs.
supd_cpu_us() {
        cat /proc/"$1"/task/*/schedstat 2> /dev/null | awk '{ s += $1 } END { if (NR) printf "%d\n", s / 1000; else exit 1 }' ||
                die "supd $1 is gone"
}
# sample: one line per counter, "KEY µs", into $RAW/sample-N.
sample() {
        local kind u w m
        for kind in check none; do
                for u in $UNITS; do
                        w=$(cg_cpu_us "sup-bench-$$-$kind" "$u") && m=$(cg_cpu_us "sup-bench-$$-$kind" "$u@monitor") || exit 1
                        echo "$kind-$u-workload $w"
                        echo "$kind-$u-monitor $m"
                done
                w=$(supd_cpu_us "${PID_OF[$kind]}") || exit 1
                echo "$kind-supd $w"
        done
        for u in $UNITS; do
                w=$(cat "$WORK/checks/$u" 2> /dev/null) || die "no count of $u's checks"
                echo "checks-$u $w"
        done
        [ "$PEER" = 1 ] || return 0
        w=$(cg_cpu_us "sup-bench-$$-loop" crun) && m=$(cg_cpu_us "sup-bench-$$-loop" sleep) || exit 1
        echo "peer-loop $w"
        echo "peer-loop-without $m"
        w=$(cg_cpu_us "sup-bench-crun-$$" c) || exit 1
        echo "peer-container $w"
        echo "peer-count $(cat "$WORK/loop-crun.count")"
}
# The checks done: the monitor rewrites its status file after every check (health.h), with the
# check's time; a poller reads it every 0.2 s (a check takes an interval at least) and counts the
# new times, one file per unit, COUNT-DIR/UNIT. Its CPU is its own, in none of the measured places.
mkdir -p "$WORK/checks"
# shellcheck disable=SC2016,SC2086 # python; UNITS is a list
$PY -c '
import json, os, sys, time
run, out, units = sys.argv[1], sys.argv[2], sys.argv[3:]
last, n = {}, {u: 0 for u in units}
while True:
    for u in units:
        try:
            with open(os.path.join(run, u, "status.json")) as f:
                at = json.load(f)["health"]["last_check"]["at"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if u in last and at != last[u]:
            n[u] += 1
        last[u] = at
        with open(os.path.join(out, u + ".tmp"), "w") as f:
            f.write("%d\n" % n[u])
        os.rename(os.path.join(out, u + ".tmp"), os.path.join(out, u))
    time.sleep(0.2)' "${DIR_OF[check]}/run/units" "$WORK/checks" $UNITS &
POLLER=$!
say "quiet for ${QUIET}s, then ${DURATION}s of samples every ${SAMPLE}s"
sleep "$QUIET"
PIDS0=$(for kind in check none; do for u in $UNITS; do echo "$kind-$u $(on "$kind" sup_field "$u" pid)"; done; done)
n=$((DURATION / SAMPLE))
# On a fixed schedule from the first sample (a sleep each would add the samples' own time); each
# sample says when it was taken ("at", µs).
T0=${EPOCHREALTIME/./}
{ echo "at $T0"; sample; } > "$RAW/sample-0"
for i in $(seq 1 "$n"); do
        left=$((T0 + i * SAMPLE * 1000000 - ${EPOCHREALTIME/./}))
        [ $left -gt 0 ] && sleep "$(awk -v u="$left" 'BEGIN { printf "%.6f", u / 1e6 }')"
        { echo "at ${EPOCHREALTIME/./}"; sample; } > "$RAW/sample-$i"
        printf '.' >&2
done
echo >&2
# The same instances throughout: a restart would have begun its cgroup's count anew.
PIDS1=$(for kind in check none; do for u in $UNITS; do echo "$kind-$u $(on "$kind" sup_field "$u" pid)"; done; done)
[ "$PIDS0" = "$PIDS1" ] || die "a unit restarted during the measurement: $PIDS0 / $PIDS1"
LAST=$(on check sup_field p health last_check at)

# ---- results ----
value() { $PY "$BENCH/lib/benchlib.py" value "$RESULTS" "$@"; }
# per KEY: the CPU used in each interval, µs
per() { for i in $(seq 1 "$n"); do
        awk -v k="$1" 'FNR == NR && $1 == k { a = $2 } FNR != NR && $1 == k { print $2 - a }' "$RAW/sample-$((i - 1))" "$RAW/sample-$i"
done; }
total() { awk -v k="$1" 'FNR == NR && $1 == k { a = $2 } FNR != NR && $1 == k { print $2 - a }' "$RAW/sample-0" "$RAW/sample-$n"; }
what() { # what KIND WHERE
        local m
        m=$([ "${2%%-*}" = v ] && echo "v (hyperv, TCG)" || echo "p (process)")
        case ${2#*-} in
        workload) [ "${2%%-*}" = v ] && m="$m, its cgroup (QEMU)" || m="$m, its cgroup (the workload)" ;;
        monitor) m="$m, its monitor's cgroup" ;;
        esac
        [ "$2" = supd ] && m="supd (all its units)"
        echo "CPU per ${SAMPLE}s: $m, $([ "$1" = check ] && echo "a check every ${INTERVAL_S}s" || echo "no check")"
}
keys=()
for u in $UNITS; do keys+=("$u-workload" "$u-monitor"); done
keys+=(supd)
for k in "${keys[@]}"; do
        for kind in check none; do per "$kind-$k" | add "$kind" "$(what "$kind" "$k")"; done
done
for u in $UNITS; do value check "checks done in ${DURATION}s: $u (one an interval after the last ended)" "$(total "checks-$u")" checks; done
for k in "${keys[@]}"; do
        c=$(total "check-$k") z=$(total "none-$k")
        # The checks this CPU paid for: the unit's, or for supd both units'.
        if [ "$k" = supd ]; then
                checks=0
                for u in $UNITS; do checks=$((checks + $(total "checks-$u"))); done
        else
                checks=$(total "checks-${k%%-*}")
        fi
        where=$(what check "$k" | sed 's/^CPU per [0-9]*s: //; s/, a check every.*//')
        value check "CPU in ${DURATION}s: $where, a check every ${INTERVAL_S}s" "$(awk -v x="$c" 'BEGIN { printf "%.1f", x / 1000 }')" ms
        value none "CPU in ${DURATION}s: $where, no check" "$(awk -v x="$z" 'BEGIN { printf "%.1f", x / 1000 }')" ms
        value "check − none" "per check (the difference over the $checks checks done): $where" \
                "$(awk -v x="$c" -v y="$z" -v n="$checks" 'BEGIN { printf "%.3f", (x - y) / n / 1000 }')" ms
done
for k in "${keys[@]}"; do delta "check − none" "a check every ${INTERVAL_S}s adds, per ${SAMPLE}s: ${k/-/, }" "$(what check "$k")" "$(what none "$k")"; done
if [ "$PEER" = 1 ]; then
        # crun's CPU per interval: the loop's, minus the loop's without crun exec, plus the container's.
        for i in $(seq 1 "$n"); do
                awk 'FNR == NR { a[$1] = $2; next } { b[$1] = $2 }
                        END { print (b["peer-loop"] - a["peer-loop"]) - (b["peer-loop-without"] - a["peer-loop-without"]) + (b["peer-container"] - a["peer-container"]) }' \
                        "$RAW/sample-$((i - 1))" "$RAW/sample-$i"
        done | add crun "CPU per ${SAMPLE}s: \`crun exec c true\` every ~1 s (its loop's cgroup − the loop without it + the container's)"
        c=$(total peer-loop) z=$(total peer-loop-without) k=$(total peer-container) e=$(total peer-count)
        value crun "CPU in ${DURATION}s: crun exec's processes (the loop's cgroup − the loop without crun exec)" "$(awk -v x="$c" -v y="$z" 'BEGIN { printf "%.1f", (x - y) / 1000 }')" ms
        value crun "CPU in ${DURATION}s: the container's cgroup (the command)" "$(awk -v x="$k" 'BEGIN { printf "%.1f", x / 1000 }')" ms
        value crun "execs done in ${DURATION}s" "$e" execs
        value crun "per exec: crun exec's processes + the container's cgroup" "$(awk -v x="$c" -v y="$z" -v k="$k" -v e="$e" 'BEGIN { printf "%.3f", (x - y + k) / e / 1000 }')" ms
fi

WINDOW=$(awk -v u="$(total at)" 'BEGIN { printf "%.2f", u / 1e6 }')
{
        echo "health checks' CPU, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), ${DURATION}s (first to last sample: ${WINDOW}s) sampled every ${SAMPLE}s, check $CHECK every ${INTERVAL_S}s," \
                "units $UNITS, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after; p's last check at $LAST"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS" --minmax
} | tee "$OUT/health-cpu.md"
note "written: $OUT/health-cpu.md, $OUT/health-cpu.jsonl"
