#!/bin/bash
# Start latency, sup against crun, measured in the same run, interleaved: from the request to start
# a container until the first line its command writes has arrived where the operator reads it.
#
#   bench/start-latency.sh [RUNS]      (as root; RUNS default 30, or SUP_BENCH_RUNS)
#
# Each round measures, one after the other, with SUP_BENCH_SETTLE seconds (default 0.25) of quiet
# before each:
#   sup start    `supctl start lat` of a stopped unit, while SUP_BENCH_UNITS (default 10) other
#                units run, until "stdout ready" is in the unit's log (supctl -> supd -> monitor ->
#                cgroup, clone, overlayfs, pivot_root, exec -> pipe -> monitor -> log file)
#   sup reload   a new unit file, `supctl reload`, until its first line is in its log (as above,
#                plus parsing the units and spawning the unit's monitor)
#   crun         `crun run` of the same image and command, until the first line on crun's stdout
#   crun+seccomp the same with podman's default seccomp profile
#   conmon+crun  what podman does without podman: conmon (which runs `crun create` and stays as
#                the container's monitor, like sup-monitor), then `crun start`, until the first
#                line is in conmon's log file
# Times come from bench-probe (bench/probe.c): CLOCK_MONOTONIC, taken just before it forks the
# command, against the moment it sees the line (inotify on sup's and conmon's log directories, a
# pipe for crun).
# Results: a table on stdout, $SUP_BENCH_OUT/start-latency.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS=${1:-${SUP_BENCH_RUNS:-30}}
UNITS=${SUP_BENCH_UNITS:-10}
SETTLE=${SUP_BENCH_SETTLE:-0.25}
SECCOMP_PROFILE=/usr/share/containers/seccomp.json

bench_require
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
command -v crun >/dev/null || die "needs crun (apt-get install crun)"
bench_begin start start-latency

# ---- sup ----
say "sup: supd with $UNITS running units, plus the measured unit"
mkdir -p "$WORK/sup/units"
SUP_DIR=$WORK/sup
for i in $(seq -w 1 "$UNITS"); do sup_unit "bg$i"; done
sup_unit lat
sup_start "$WORK/sup"
sup_wait_all running 60
LOGS=$SUP_DIR/state/logs
"$PROBE" watch --dir "$LOGS" --match stopped --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop lat > /dev/null ||
        die "lat did not stop"

sup_round() { # sup_round I
        local p=$WORK/p.txt
        sleep "$SETTLE"
        "$PROBE" watch --dir "$LOGS" --match ready --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start lat > "$p" ||
                { cat "$p" >&2; die "sup start: no ready line"; }
        probe_times "$p" lat ready >> "$RAW/sup-start" || { cat "$p" >&2; die "sup start: unexpected log"; }
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop lat > "$p" ||
                die "sup stop: not stopped"
        awk '$1 == "done" { print $2 }' "$p" >> "$RAW/sup-stop"

        # A unit that did not exist: reload, then remove it again (its monitor and sandbox go).
        sleep "$SETTLE"
        sup_unit "new$1"
        "$PROBE" watch --dir "$LOGS" --match ready --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$p" ||
                { cat "$p" >&2; die "sup reload: no ready line"; }
        probe_times "$p" "new$1" ready >> "$RAW/sup-reload" || { cat "$p" >&2; die "sup reload: unexpected log"; }
        rm "$SUP_DIR/units/new$1.yaml"
        "$PROBE" watch --dir "$LOGS" --match removed --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$p" ||
                die "sup reload: new$1 not removed"
        rm -f "$LOGS/new$1.log"

        # The CLI and supd alone: a status round trip.
        "$PROBE" pipe -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" status > "$p"
        awk '$1 == "exit" { print $2 }' "$p" >> "$RAW/sup-status"
}

# ---- crun ----
say "crun $(crun --version | head -1 | cut -d' ' -f3): bundles over the same layer"
CRUN_ROOT=$WORK/crun
mkdir -p "$CRUN_ROOT"
crun_bundle "$WORK/bundle-plain" plain
HAVE_SECCOMP=0
if [ -f "$SECCOMP_PROFILE" ]; then
        crun_bundle "$WORK/bundle-seccomp" seccomp "$SECCOMP_PROFILE"
        HAVE_SECCOMP=1
else
        note "no $SECCOMP_PROFILE (apt-get install golang-github-containers-common): crun+seccomp is skipped"
fi

HAVE_CONMON=0
if command -v conmon >/dev/null; then
        HAVE_CONMON=1
        mkdir -p "$WORK/conmon"
else
        note "no conmon (apt-get install conmon): conmon+crun is skipped"
fi

conmon_round() { # conmon_round I
        local id=cm-$1 p=$WORK/p.txt rc=0
        sleep "$SETTLE"
        crun_ns bash -c '"$1" watch --dir "$2" --match ready --timeout 20 -- "$3" start "$4" "$5" "$6" "$2" > "$7"
                rc=$?; "$3" delete "$4" "$6" "$2"; exit $rc' conmon_round \
                "$PROBE" "$WORK/conmon" "$BENCH/lib/conmon-run.sh" "$CRUN_ROOT" "$WORK/bundle-plain" "$id" "$p" || rc=$?
        [ $rc = 0 ] || { cat "$p" >&2; die "conmon+crun: no first line"; }
        awk '$1 == "done" { print $2 }' "$p" >> "$RAW/conmon"
        rm -f "$WORK/conmon/$id.log"
}

# The stop command for a container of `crun run`: its first line can come before crun has written
# the container's state, and a delete then finds nothing; it is retried until it works.
crun_delete() { # crun_delete ID
        echo "for i in \$(seq 100); do crun --root '$CRUN_ROOT' delete -f '$1' 2>/dev/null && exit 0; sleep 0.02; done; exit 1"
}

crun_round() { # crun_round KIND I
        local id=$1-$2 p=$WORK/p.txt
        sleep "$SETTLE"
        crun_ns "$PROBE" pipe --timeout 20 --stop "$(crun_delete "$id")" -- \
                crun --root "$CRUN_ROOT" run --bundle "$WORK/bundle-$1" "$id" < /dev/null > "$p" 2> "$WORK/crun.err" ||
                { cat "$p" "$WORK/crun.err" >&2; die "crun run ($1): no first line"; }
        awk '$1 == "first_line" && $3 == "ready" { print $2; ok = 1 } END { exit !ok }' "$p" >> "$RAW/crun-$1" ||
                { cat "$p" "$WORK/crun.err" >&2; die "crun run ($1): unexpected output"; }
}

# One round of each, not counted: caches, and the first spawn of everything.
say "warming up (1 round, not counted)"
sup_round 0; crun_round plain 0
[ $HAVE_SECCOMP = 1 ] && crun_round seccomp 0
[ $HAVE_CONMON = 1 ] && conmon_round 0
rm -f "$RAW"/*

say "measuring: $RUNS rounds of sup start, sup reload, crun$([ $HAVE_SECCOMP = 1 ] && echo ', crun+seccomp')$([ $HAVE_CONMON = 1 ] && echo ', conmon+crun'), interleaved"
for i in $(seq -w 1 "$RUNS"); do
        sup_round "$i"
        crun_round plain "$i"
        [ $HAVE_SECCOMP = 1 ] && crun_round seccomp "$i"
        [ $HAVE_CONMON = 1 ] && conmon_round "$i"
        printf '.' >&2
done
echo >&2

# ---- where sup's time goes: one start traced (strace slows every system call; shares only) ----
if command -v strace >/dev/null; then
        sleep "$SETTLE"
        mon=$(sup_field lat monitor_pid)
        strace -f -T -tt -p "$mon" -o "$WORK/monitor.strace" 2>/dev/null &
        st=$!
        sleep 0.5
        "$PROBE" watch --dir "$LOGS" --match ready --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start lat > "$WORK/traced.txt" || { cat "$WORK/traced.txt" >&2; die "the traced start failed"; }
        sleep 0.2
        kill -INT "$st"; wait "$st" 2>/dev/null || true
        sleep "$SETTLE"
        crun_ns "$PROBE" pipe --timeout 20 --stop "$(crun_delete traced)" -- \
                strace -f -T -tt -o "$WORK/crun.strace" crun --root "$CRUN_ROOT" run --bundle "$WORK/bundle-plain" traced \
                < /dev/null > /dev/null 2>&1
        {
                $PY "$BENCH/lib/benchlib.py" strace-top "$WORK/monitor.strace" 10 \
                        "the slowest system calls of one \`supctl start\`, in the monitor and the container (strace -f -T):"
                echo
                $PY "$BENCH/lib/benchlib.py" strace-top "$WORK/crun.strace" 10 \
                        "the slowest system calls of one \`crun run\` (strace -f -T):"
        } > "$OUT/start-latency-strace.txt"
fi

# ---- results ----
col() { awk -v c="$2" '{ print $c }' "$RAW/$1"; }
diffcol() { awk -v a="$2" -v b="$3" '{ print $b - $a }' "$RAW/$1"; }
add() { $PY "$BENCH/lib/benchlib.py" series "$RESULTS" "$1" "$2"; }

col sup-start 3 | add sup "start → first line in the log (\`supctl start\`, full path)"
col crun-plain 1 | add crun "start → first line (\`crun run\`)"
[ $HAVE_SECCOMP = 1 ] && col crun-seccomp 1 | add crun "start → first line (\`crun run\`, podman's seccomp profile)"
[ $HAVE_CONMON = 1 ] && col conmon 1 | add conmon+crun "start → first line in conmon's log (conmon → \`crun create\`, \`crun start\`)"
col sup-reload 3 | add sup "new unit → first line in the log (\`supctl reload\`)"
col sup-start 1 | add sup "· start: request → monitor logs \"starting\" (CLI, supd, cgroup, clone)"
diffcol sup-start 1 2 | add sup "· start: \"starting\" → \"running\" (in the container: mounts, exec)"
diffcol sup-start 2 3 | add sup "· start: \"running\" → first line in the log"
col sup-start 4 | add sup "· start: \`supctl start\` returns"
col sup-start 5 | add sup "· start, log timestamps (1 ms steps): starting → running"
col sup-start 6 | add sup "· start, log timestamps (1 ms steps): starting → first line"
col sup-reload 1 | add sup "· reload: request → \"starting\" (+ parse units, spawn the monitor)"
col sup-reload 4 | add sup "· reload: \`supctl reload\` returns"
col sup-status 1 | add sup "\`supctl status\` round trip (CLI and supd alone)"
col sup-stop 1 | add sup "\`supctl stop\` → \"stopped\" in the log"

{
        echo "start latency, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), $RUNS rounds, $UNITS other units running, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS"
        if [ -f "$OUT/start-latency-strace.txt" ]; then echo; sed 's/^/    /' "$OUT/start-latency-strace.txt"; fi
} | tee "$OUT/start-latency.md"
note "written: $OUT/start-latency.md, $OUT/start-latency.jsonl"
