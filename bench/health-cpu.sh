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
}
say "quiet for ${QUIET}s, then ${DURATION}s of samples every ${SAMPLE}s"
sleep "$QUIET"
PIDS0=$(for kind in check none; do for u in $UNITS; do echo "$kind-$u $(on "$kind" sup_field "$u" pid)"; done; done)
n=$((DURATION / SAMPLE))
sample > "$RAW/sample-0"
for i in $(seq 1 "$n"); do
        sleep "$SAMPLE"
        sample > "$RAW/sample-$i"
        printf '.' >&2
done
echo >&2
# The same instances throughout: a restart would have begun its cgroup's count anew.
PIDS1=$(for kind in check none; do for u in $UNITS; do echo "$kind-$u $(on "$kind" sup_field "$u" pid)"; done; done)
[ "$PIDS0" = "$PIDS1" ] || die "a unit restarted during the measurement: $PIDS0 / $PIDS1"
LAST=$(on check sup_field p health last_check at)

# ---- results ----
add() { $PY "$BENCH/lib/benchlib.py" series "$RESULTS" "$1" "$2"; }
value() { $PY "$BENCH/lib/benchlib.py" value "$RESULTS" "$@"; }
delta() { $PY "$BENCH/lib/benchlib.py" delta "$RESULTS" "$@"; }
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
CHECKS=$((DURATION / INTERVAL_S))
for k in "${keys[@]}"; do
        c=$(total "check-$k") z=$(total "none-$k")
        value check "CPU in ${DURATION}s: $(what check "$k" | sed 's/^CPU per [0-9]*s: //')" "$(awk -v x="$c" 'BEGIN { printf "%.1f", x / 1000 }')" ms
        value none "CPU in ${DURATION}s: $(what none "$k" | sed 's/^CPU per [0-9]*s: //')" "$(awk -v x="$z" 'BEGIN { printf "%.1f", x / 1000 }')" ms
        value "check − none" "per check (the difference over $CHECKS checks): $(what check "$k" | sed 's/^CPU per [0-9]*s: //; s/, a check every.*//')" \
                "$(awk -v x="$c" -v y="$z" -v n="$CHECKS" 'BEGIN { printf "%.3f", (x - y) / n / 1000 }')" ms
done
for k in "${keys[@]}"; do delta "check − none" "a check every ${INTERVAL_S}s adds, per ${SAMPLE}s: ${k/-/, }" "$(what check "$k")" "$(what none "$k")"; done

{
        echo "health checks' CPU, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), ${DURATION}s sampled every ${SAMPLE}s, check $CHECK every ${INTERVAL_S}s," \
                "units $UNITS, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after; p's last check at $LAST"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS" --minmax
} | tee "$OUT/health-cpu.md"
note "written: $OUT/health-cpu.md, $OUT/health-cpu.jsonl"
