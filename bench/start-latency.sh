#!/bin/bash
# Start latency, sup against crun, measured in the same run, interleaved: from the request to start
# a container until the first line its command writes has arrived where the operator reads it.
#
#   bench/start-latency.sh [RUNS]      (as root; RUNS default 30, or SUP_BENCH_RUNS)
#
# Each round measures, in an order shuffled anew every round, with SUP_BENCH_SETTLE seconds
# (default 0.25) of quiet before each:
#   sup start    `supctl start` of a stopped unit, while SUP_BENCH_UNITS (default 10) other units
#                run, until "stdout ready" is in the unit's log (supctl -> supd -> monitor ->
#                cgroup, clone, overlayfs, pivot_root, exec -> pipe -> monitor -> log file); four
#                units, hardened or not, with cgroup limits or not (SUP_BENCH_LIMITS):
#                  lat           hardened: the default capabilities, the default seccomp profile,
#                                no_new_privileges (sup's defaults, written out)
#                  lat-bare      unhardened: every capability, seccomp unconfined, no
#                                no_new_privileges
#                  lat-lim       hardened, with the limits
#                  lat-bare-lim  unhardened, with the limits
#   sup reload   a new unit file (hardened, no limits), `supctl reload`, until its first line is in
#                its log (as above, plus parsing the units and spawning the unit's monitor)
#   crun         `crun run` of the same image and command, until the first line on crun's stdout;
#                four bundles, the same four cases: unhardened (every capability, no
#                noNewPrivileges, no seccomp), hardened (podman's default capabilities, which are
#                sup's, noNewPrivileges, podman's default seccomp profile), each with the same
#                limits in linux.resources or without
#   conmon+crun  what podman does without podman: conmon (which runs `crun create` and stays as
#                the container's monitor, like sup-monitor), then `crun start`, until the first
#                line is in conmon's log file (the unhardened bundle without limits)
#   sup (base)   with SUP_BENCH_BASE=BUILD-DIR (another build of sup, e.g. main's): a second
#                supd of that build's supd, sup-monitor and supctl, with lat and the other units, measured as lat
#                is, in the same rounds: before and after a change under the same load
# Times come from bench-probe (bench/probe.c): CLOCK_MONOTONIC, taken just before it forks the
# command, against the moment it sees the line (inotify on sup's and conmon's log directories, a
# pipe for crun). What hardening and limits add is given per runtime from the rounds' paired
# samples (benchlib.py delta). At the end, SUP_BENCH_TRACES (default 5) starts of each of sup's
# hardened units, with and without limits, are traced (strace -f -T of the monitor) to show where
# the limits' time goes in cgroupfs.
# Results: a table on stdout, $SUP_BENCH_OUT/start-latency.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS=${1:-${SUP_BENCH_RUNS:-30}}
UNITS=${SUP_BENCH_UNITS:-10}
SETTLE=${SUP_BENCH_SETTLE:-0.25}
TRACES=${SUP_BENCH_TRACES:-5}
SECCOMP_PROFILE=/usr/share/containers/seccomp.json
# The limits of the limited units, and the same for crun: memory (swap off), cpus, pids.
LIMITS=${SUP_BENCH_LIMITS:-"{memory: 64M, cpus: 0.5, pids: 64}"}
CRUN_LIMITS=$((64 << 20)),50000,100000,64
[ -n "${SUP_BENCH_LIMITS:-}" ] && [ -z "${SUP_BENCH_CRUN_LIMITS:-}" ] &&
        die "SUP_BENCH_LIMITS needs SUP_BENCH_CRUN_LIMITS (MEMORY-BYTES,CPU-QUOTA-US,CPU-PERIOD-US,PIDS) to match"
CRUN_LIMITS=${SUP_BENCH_CRUN_LIMITS:-$CRUN_LIMITS}
HARDENED="security: {capabilities: {drop: [], add: []}, seccomp: default, no_new_privileges: true}"
UNHARDENED="security: {capabilities: {add: [ALL]}, seccomp: unconfined, no_new_privileges: false}"
SUP_VARIANTS="lat lat-bare lat-lim lat-bare-lim"
BASE=${SUP_BENCH_BASE:-}

bench_require
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
command -v crun >/dev/null || die "needs crun (apt-get install crun)"
bench_begin start start-latency

# ---- sup ----
say "sup: supd with $UNITS running units, plus the measured unit"
mkdir -p "$WORK/sup/units"
SUP_DIR=$WORK/sup
for i in $(seq -w 1 "$UNITS"); do sup_unit "bg$i"; done
CMD='[/bin/sh, -c, "echo ready; exec sleep 1000"]'
sup_unit lat "$CMD" "$HARDENED"
sup_unit lat-bare "$CMD" "$UNHARDENED"
sup_unit lat-lim "$CMD" "$HARDENED
resources: $LIMITS"
sup_unit lat-bare-lim "$CMD" "$UNHARDENED
resources: $LIMITS"
sup_start "$WORK/sup"
sup_wait_all running 60
LOGS=$SUP_DIR/state/logs
for u in $SUP_VARIANTS; do
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop "$u" > /dev/null ||
                die "$u did not stop"
done

sup_start_round() { # sup_start_round UNIT
        local p=$WORK/p.txt
        sleep "$SETTLE"
        "$PROBE" watch --dir "$LOGS" --match ready --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start "$1" > "$p" ||
                { cat "$p" >&2; die "sup start $1: no ready line"; }
        probe_times "$p" "$1" ready >> "$RAW/sup-start-$1" || { cat "$p" >&2; die "sup start $1: unexpected log"; }
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop "$1" > "$p" ||
                die "sup stop $1: not stopped"
        awk '$1 == "done" { print $2 }' "$p" >> "$RAW/sup-stop-$1"
}

sup_reload_round() { # sup_reload_round I
        local p=$WORK/p.txt
        # A unit that did not exist: reload, then remove it again (its monitor and sandbox go).
        sleep "$SETTLE"
        sup_unit "new$1" "$CMD" "$HARDENED"
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

# ---- sup (base): another build, the same unit ----
BASE_PID='' BASE_DIR=$WORK/base BASE_CGROUP=sup-bench-base-$$
base_ctl() { "$BASE/supctl" --socket "$BASE_DIR/run/supd.sock" "$@"; }
bench_cleanup_extra() {
        local p
        [ -n "$BASE_PID" ] || return 0
        kill -TERM "$BASE_PID" 2>/dev/null
        wait "$BASE_PID" 2>/dev/null
        for p in $(pgrep -x sup-monitor); do
                tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "--dir $BASE_DIR/run/units/" && kill -KILL "$p"
        done
        sleep 0.1
        remove_cgroups "$BASE_CGROUP"
}
if [ -n "$BASE" ]; then
        for b in supd supctl sup-monitor; do [ -x "$BASE/$b" ] || die "SUP_BENCH_BASE: no $BASE/$b"; done
        say "sup (base): $BASE, lat and the $UNITS others"
        mkdir -p "$BASE_DIR/units"
        cp "$SUP_DIR/units/lat.yaml" "$SUP_DIR"/units/bg*.yaml "$BASE_DIR/units/"
        "$BASE/supd" --units "$BASE_DIR/units" --state-dir "$BASE_DIR/state" --run-dir "$BASE_DIR/run" \
                --monitor "$BASE/sup-monitor" --cgroup-parent "$BASE_CGROUP" >> "$BASE_DIR/supd.log" 2>&1 &
        BASE_PID=$!
        for _ in $(seq 200); do base_ctl status >/dev/null 2>&1 && break; sleep 0.05; done
        for _ in $(seq 200); do base_ctl status lat 2>/dev/null | grep -qw running && break; sleep 0.05; done
        "$PROBE" watch --dir "$BASE_DIR/state/logs" --match stopped --timeout 20 -- "$BASE/supctl" --socket "$BASE_DIR/run/supd.sock" stop lat > /dev/null ||
                die "base: lat did not stop"
fi

base_round() {
        local p=$WORK/p.txt logs=$BASE_DIR/state/logs
        sleep "$SETTLE"
        "$PROBE" watch --dir "$logs" --match ready --timeout 20 -- "$BASE/supctl" --socket "$BASE_DIR/run/supd.sock" start lat > "$p" ||
                { cat "$p" >&2; die "base start lat: no ready line"; }
        probe_times "$p" lat ready >> "$RAW/base-start-lat" || { cat "$p" >&2; die "base start lat: unexpected log"; }
        "$PROBE" watch --dir "$logs" --match stopped --timeout 20 -- "$BASE/supctl" --socket "$BASE_DIR/run/supd.sock" stop lat > "$p" ||
                die "base stop lat: not stopped"
}

# ---- crun ----
say "crun $(crun --version | head -1 | cut -d' ' -f3): bundles over the same layer"
CRUN_ROOT=$WORK/crun
mkdir -p "$CRUN_ROOT"
crun_bundle "$WORK/bundle-bare" bare "" caps=all nnp=false
crun_bundle "$WORK/bundle-bare-lim" bare-lim "" caps=all nnp=false limits="$CRUN_LIMITS"
CRUN_VARIANTS="bare bare-lim"
HAVE_SECCOMP=0
if [ -f "$SECCOMP_PROFILE" ]; then
        crun_bundle "$WORK/bundle-hard" hard "$SECCOMP_PROFILE" caps=podman nnp=true
        crun_bundle "$WORK/bundle-hard-lim" hard-lim "$SECCOMP_PROFILE" caps=podman nnp=true limits="$CRUN_LIMITS"
        CRUN_VARIANTS="$CRUN_VARIANTS hard hard-lim"
        HAVE_SECCOMP=1
else
        note "no $SECCOMP_PROFILE (apt-get install golang-github-containers-common): crun hardened is skipped"
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
                "$PROBE" "$WORK/conmon" "$BENCH/lib/conmon-run.sh" "$CRUN_ROOT" "$WORK/bundle-bare" "$id" "$p" || rc=$?
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

# One round: every measurement once, in a new random order, so that neither a position in the
# round nor a drift of the machine's load favours one of them.
round() { # round I
        local job jobs=(reload:)
        for job in $SUP_VARIANTS; do jobs+=("sup:$job"); done
        for job in $CRUN_VARIANTS; do jobs+=("crun:$job"); done
        [ $HAVE_CONMON = 1 ] && jobs+=(conmon:)
        [ -n "$BASE" ] && jobs+=(base:)
        for job in $(shuf -e "${jobs[@]}"); do
                case $job in
                base:) base_round ;;
                sup:*) sup_start_round "${job#sup:}" ;;
                reload:) sup_reload_round "$1" ;;
                crun:*) crun_round "${job#crun:}" "$1" ;;
                conmon:) conmon_round "$1" ;;
                esac
        done
}

# One round, not counted: caches, and the first spawn of everything.
say "warming up (1 round, not counted)"
round 0
rm -f "$RAW"/*

say "measuring: $RUNS rounds of sup start ($SUP_VARIANTS), sup reload, crun ($CRUN_VARIANTS)$([ $HAVE_CONMON = 1 ] && echo ', conmon+crun'), shuffled in each round"
for i in $(seq -w 1 "$RUNS"); do
        round "$i"
        printf '.' >&2
done
echo >&2

# ---- where sup's time goes: starts traced (strace slows every system call; shares only) ----
# The monitor's system calls for TRACES starts of lat and of lat-lim, alternately: the slowest calls
# of one of lat-lim's, and for both, the calls on cgroupfs by kind (benchlib.py strace-cgroup).
# SUP_BENCH_TRACES=0 skips them (and their table).
if [ "$TRACES" -gt 0 ] && command -v strace >/dev/null; then
        for i in $(seq "$TRACES"); do
                for u in lat lat-lim; do
                        sleep "$SETTLE"
                        mon=$(sup_field "$u" monitor_pid)
                        # The container made ahead exists already: strace -f follows only what
                        # is forked after it attached.
                        parked=$(pgrep -P "$mon" -x sup-init | sed 's/^/-p /' | tr '\n' ' ')
                        # shellcheck disable=SC2086
                        strace -f -T -tt -p "$mon" $parked -o "$WORK/monitor-$u-$i.strace" 2>/dev/null &
                        st=$!
                        sleep 0.5
                        "$PROBE" watch --dir "$LOGS" --match ready --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start "$u" > "$WORK/traced.txt" ||
                                { cat "$WORK/traced.txt" >&2; die "the traced start failed"; }
                        sleep 0.2
                        kill -INT "$st"; wait "$st" 2>/dev/null || true
                        # Only the start: the trace ends before the stop.
                        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 20 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop "$u" > /dev/null ||
                                die "$u did not stop after its traced start"
                done
        done
        sleep "$SETTLE"
        crun_ns "$PROBE" pipe --timeout 20 --stop "$(crun_delete traced)" -- \
                strace -f -T -tt -o "$WORK/crun.strace" crun --root "$CRUN_ROOT" run --bundle "$WORK/bundle-$(echo "$CRUN_VARIANTS" | awk '{ print $NF }')" traced \
                < /dev/null > /dev/null 2>&1
        {
                $PY "$BENCH/lib/benchlib.py" strace-top "$WORK/monitor-lat-lim-1.strace" 10 \
                        "the slowest system calls of one \`supctl start\` of lat-lim (hardened, limits), in the monitor and the container (strace -f -T):"
                echo
                $PY "$BENCH/lib/benchlib.py" strace-top "$WORK/crun.strace" 10 \
                        "the slowest system calls of one \`crun run\` ($(echo "$CRUN_VARIANTS" | awk '{ print $NF }'), strace -f -T):"
                echo
                echo "lat (hardened, no limits):"
                $PY "$BENCH/lib/benchlib.py" strace-cgroup "$WORK"/monitor-lat-[0-9]*.strace
                echo
                echo "lat-lim (hardened, limits $LIMITS):"
                $PY "$BENCH/lib/benchlib.py" strace-cgroup "$WORK"/monitor-lat-lim-[0-9]*.strace
        } > "$OUT/start-latency-strace.txt"
fi

# ---- results ----

sup_what() {
        local what
        case $1 in
        lat) what="hardened (default caps, default seccomp, no_new_privileges)" ;;
        lat-bare) what="unhardened (all caps, seccomp unconfined)" ;;
        lat-lim) what="hardened + limits" ;;
        lat-bare-lim) what="unhardened + limits" ;;
        esac
        echo "start → first line in the log, $1: $what"
}
crun_what() {
        local what
        case $1 in
        bare) what="unhardened (all caps, no seccomp, no noNewPrivileges)" ;;
        hard) what="hardened (podman's caps and seccomp profile, noNewPrivileges)" ;;
        bare-lim) what="unhardened + limits" ;;
        hard-lim) what="hardened + limits" ;;
        esac
        echo "start → first line (\`crun run\`), $what"
}

# The labels of the breakdown, which the deltas below name again.
req_what() { echo "· $1: request → monitor logs \"starting\" (CLI, supd, the monitor's checks, the go)"; }
run_what() { echo "· $1: \"starting\" → \"running\" (in the container: the unit's mounts, caps, seccomp, exec; the root too unless built ahead)"; }
for u in $SUP_VARIANTS; do col "sup-start-$u" 3 | add sup "$(sup_what "$u")"; done
[ -n "$BASE" ] && col base-start-lat 3 | add "sup (base)" "$(sup_what lat) — the base build"
for k in $CRUN_VARIANTS; do col "crun-$k" 1 | add crun "$(crun_what "$k")"; done
[ $HAVE_CONMON = 1 ] && col conmon 1 | add conmon+crun "start → first line in conmon's log (conmon → \`crun create\`, \`crun start\`; unhardened)"
col sup-reload 3 | add sup "new unit → first line in the log (\`supctl reload\`, hardened)"
for u in $SUP_VARIANTS; do
        col "sup-start-$u" 1 | add sup "$(req_what "$u")"
        diffcol "sup-start-$u" 1 2 | add sup "$(run_what "$u")"
        diffcol "sup-start-$u" 2 3 | add sup "· $u: \"running\" → first line in the log"
done
if [ -n "$BASE" ]; then
        col base-start-lat 1 | add "sup (base)" "· lat, the base build: request → \"starting\""
        diffcol base-start-lat 1 2 | add "sup (base)" "· lat, the base build: \"starting\" → \"running\""
        diffcol base-start-lat 2 3 | add "sup (base)" "· lat, the base build: \"running\" → first line in the log"
fi
col sup-start-lat 4 | add sup "· lat: \`supctl start\` returns"
col sup-start-lat 5 | add sup "· lat, log timestamps (1 ms steps): starting → running"
col sup-start-lat 6 | add sup "· lat, log timestamps (1 ms steps): starting → first line"
col sup-reload 1 | add sup "· reload: request → \"starting\" (+ parse units, spawn the monitor)"
col sup-reload 4 | add sup "· reload: \`supctl reload\` returns"
col sup-status 1 | add sup "\`supctl status\` round trip (CLI and supd alone)"
col sup-stop-lat 1 | add sup "\`supctl stop\` → \"stopped\" in the log (lat)"

delta sup "hardening adds (no limits)" "$(sup_what lat)" "$(sup_what lat-bare)"
delta sup "hardening adds (with limits)" "$(sup_what lat-lim)" "$(sup_what lat-bare-lim)"
delta sup "limits add (unhardened)" "$(sup_what lat-bare-lim)" "$(sup_what lat-bare)"
delta sup "limits add (hardened)" "$(sup_what lat-lim)" "$(sup_what lat)"
delta sup "both add (hardened + limits over unhardened)" "$(sup_what lat-lim)" "$(sup_what lat-bare)"
delta sup "· limits add, request → \"starting\" (hardened)" \
        "$(req_what lat-lim)" "$(req_what lat)"
delta sup "· hardening adds, \"starting\" → \"running\" (no limits)" \
        "$(run_what lat)" "$(run_what lat-bare)"
if [ $HAVE_SECCOMP = 1 ]; then
        delta crun "hardening adds (no limits)" "$(crun_what hard)" "$(crun_what bare)"
        delta crun "hardening adds (with limits)" "$(crun_what hard-lim)" "$(crun_what bare-lim)"
fi
delta crun "limits add (unhardened)" "$(crun_what bare-lim)" "$(crun_what bare)"
if [ $HAVE_SECCOMP = 1 ]; then
        delta crun "limits add (hardened)" "$(crun_what hard-lim)" "$(crun_what hard)"
        delta crun "both add (hardened + limits over unhardened)" "$(crun_what hard-lim)" "$(crun_what bare)"
        delta "sup − crun" "fully hardened (+ limits): sup over crun" "$(sup_what lat-lim)" "$(crun_what hard-lim)"
fi
delta "sup − crun" "unhardened, no limits: sup over crun" "$(sup_what lat-bare)" "$(crun_what bare)"
# Issue 14's goal: sup's hardened default unit against crun's unhardened bundle.
ratio() { $PY "$BENCH/lib/benchlib.py" ratio "$RESULTS" "$@"; }
ratio "sup / crun" "lat (hardened) over \`crun run\` unhardened" "$(sup_what lat)" "$(crun_what bare)"
if [ -n "$BASE" ]; then
        delta "sup − base" "lat: this build over the base build" "$(sup_what lat)" "$(sup_what lat) — the base build"
        ratio "base / crun" "lat (hardened), the base build, over \`crun run\` unhardened" "$(sup_what lat) — the base build" "$(crun_what bare)"
fi

{
        echo "start latency, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), sup $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null)$([ -n "$BASE" ] && echo " (base: $BASE)"), $RUNS rounds, $UNITS other units running, limits $LIMITS, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS"
        if [ -f "$OUT/start-latency-strace.txt" ]; then echo; sed 's/^/    /' "$OUT/start-latency-strace.txt"; fi
} | tee "$OUT/start-latency.md"
note "written: $OUT/start-latency.md, $OUT/start-latency.jsonl"
