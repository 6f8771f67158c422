#!/bin/bash
# Many containers at once, sup against crun and conmon+crun, in the same run, interleaved:
#
#   bench/scale.sh [N]     (as root; N default 100, or SUP_BENCH_SCALE_UNITS)
#
# First BASE units (SUP_BENCH_SCALE_BASE, default 900) are started with one reload and stay up for
# the whole run, so that everything below happens at BASE + N units (1000 by default). Then for
# SUP_BENCH_SCALE_RUNS rounds (default 3), each of:
#   sup          N new unit files, one `supctl reload`, until every unit has logged "running" and
#                its first line ("stdout ready"); supd starts them all at once, one monitor each
#   at scale     with BASE + N units running, SUP_BENCH_SCALE_REPS (default 20) times each, in turn:
#                `supctl reload` with nothing changed (its plan checked empty), `supctl status`,
#                `supctl status --json`, and `true` (a fork and exec at that moment's load: the
#                scale for the others on a shared machine); wall time around each command
#   crun         N × `crun run -d` in a shell loop, until every container's first line is in
#                its output file (crun exits after each start: nothing stays to supervise)
#   conmon+crun  N × (conmon → `crun create`, `crun start`), the path podman takes, until every
#                first line is in conmon's log files
# In the first round, while all run, the memory of supd (with BASE + N units) and of the N new
# units' processes (smaps_rollup: RSS, PSS, and private = Private_Clean + Private_Dirty). In the
# last round sup's units stay up, and the time supd takes from SIGTERM to exit (all BASE + N
# stopped, every monitor gone) is measured.
# Results: a table on stdout, $SUP_BENCH_OUT/scale.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

N=${1:-${SUP_BENCH_SCALE_UNITS:-100}}
BASE=${SUP_BENCH_SCALE_BASE:-900}
ROUNDS=${SUP_BENCH_SCALE_RUNS:-3}
REPS=${SUP_BENCH_SCALE_REPS:-20}
TOTAL=$((BASE + N))

bench_require
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
command -v crun >/dev/null || die "needs crun (apt-get install crun)"
bench_begin scale scale
export PROBE BENCH WORK PY RESULTS

# ---- sup ----
SUP_DIR=$WORK/sup
LOGS=$SUP_DIR/state/logs
mkdir -p "$SUP_DIR/units" "$LOGS"
sup_start "$SUP_DIR"

units_json() { ctl status --json; }

# The monitors of this supd's units whose names start with PREFIX (all: ""): processes named
# sup-monitor (not sup-init, a fork of a monitor with its command line) whose --dir is below this
# supd's run directory, read with bash's own mapfile (a fork per process would take seconds).
monitors_of() {
        local p args
        for p in $(pgrep -x sup-monitor); do
                mapfile -d '' args < "/proc/$p/cmdline" 2>/dev/null || continue
                [[ "${args[2]:-}" == "$SUP_DIR/run/units/$1"* ]] && echo "$p"
        done
        return 0
}

# Microseconds a command takes, start to exit, its output discarded (bash's clock: the fork and
# exec of the command are in it, as they are in what an operator waits for); with a FILE, also the
# CPU time supd spent meanwhile (its schedstat, ns), appended to FILE: on a loaded machine the wall
# time is mostly waiting for a CPU, and the CPU time says what the request itself costs.
wall_us() { # wall_us [--supd-cpu FILE] COMMAND...
        local t0 t1 c0 c1 cpu=
        if [ "$1" = --supd-cpu ]; then cpu=$2; shift 2; fi
        [ -z "$cpu" ] || read -r c0 _ < "/proc/$SUPD_PID/schedstat"
        t0=$EPOCHREALTIME
        "$@" > /dev/null || die "failed: $*"
        t1=$EPOCHREALTIME
        [ -z "$cpu" ] || { read -r c1 _ < "/proc/$SUPD_PID/schedstat"; echo $(( (c1 - c0) / 1000 )) >> "$cpu"; }
        echo $(( ${t1/./} - ${t0/./} ))
}

# The units that run the whole time.
if [ "$BASE" -gt 0 ]; then
        for i in $(seq -w 1 "$BASE"); do sup_unit "b$i"; done
        "$PROBE" watch --dir "$LOGS" --match ready --count "$BASE" --timeout 600 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$WORK/base.probe" ||
                { tail -5 "$WORK/base.probe" >&2; die "sup: not all $BASE base units wrote their first line"; }
        $PY "$BENCH/lib/benchlib.py" value "$RESULTS" sup "$BASE units, one \`supctl reload\` → all $BASE first lines (the units that stay up)" \
                "$(awk '$1 == "line" && $5 == "stdout" && $6 == "ready" { if ($2 > last) last = $2 } END { printf "%.1f", last / 1000 }' "$WORK/base.probe")" ms
fi

# With every unit running: a reload that changes nothing, status (text and JSON), and `true`.
at_scale() {
        local out
        out=$(ctl reload)
        [ "$out" = "nothing to do" ] || die "sup: a reload with nothing changed planned: $(echo "$out" | head -3)"
        for _ in $(seq "$REPS"); do
                wall_us --supd-cpu "$RAW/reload-cpu" ctl reload >> "$RAW/reload"
                wall_us --supd-cpu "$RAW/status-cpu" ctl status >> "$RAW/status"
                wall_us --supd-cpu "$RAW/status-json-cpu" ctl status --json >> "$RAW/status-json"
                wall_us /bin/true >> "$RAW/true"
        done
}

# The last round: supd's shutdown with every unit running, SIGTERM → supd exited, and → the last
# monitor gone (supd exits "anyway" after its grace period: monitors still stopping their units then
# finish on their own, and how long they take is measured rather than failing the run).
sup_shutdown_timed() {
        local t0 t1 t2 left
        t0=$(date +%s%N)
        sup_stop
        t1=$(date +%s%N)
        for _ in $(seq 1200); do [ -z "$(monitors_of "")" ] && break; sleep 0.1; done
        t2=$(date +%s%N)
        left=$(monitors_of "" | wc -l)
        $PY "$BENCH/lib/benchlib.py" value "$RESULTS" sup "supd SIGTERM → exited, its $TOTAL units stopped" \
                "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')" ms
        $PY "$BENCH/lib/benchlib.py" value "$RESULTS" sup "· SIGTERM → the last of its $TOTAL monitors gone" \
                "$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')" ms
        [ "$left" = 0 ] || die "$left monitors left 2 minutes after supd's shutdown"
}

sup_round() { # sup_round ROUND
        local p=$WORK/sup-$1.probe
        rm -f "$LOGS"/s*
        for i in $(seq -w 1 "$N"); do sup_unit "s$i"; done
        "$PROBE" watch --dir "$LOGS" --match ready --count "$N" --timeout 300 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$p" ||
                { tail -5 "$p" >&2; die "sup: not all $N units wrote their first line"; }
        # reload returns, first unit's line, last unit "running", last unit's line
        awk '
                $1 == "exit" { ex = $2 }
                $1 == "line" && $NF == "running" && $(NF-1) == "->" { if ($2 > ru) ru = $2 }
                $1 == "line" && $5 == "stdout" && $6 == "ready" { if (first == "" || $2 < first) first = $2; if ($2 > last) last = $2 }
                END { printf "%d %d %d %d\n", ex, first, ru, last }' "$p" >> "$RAW/sup"
        # What status says once the logs have it: every unit running.
        local notrunning
        notrunning=$(sup_states | awk '$2 != "running"' | wc -l)
        [ "$notrunning" = 0 ] || die "sup: $notrunning units are not running by supctl status"
        [ "$(sup_states | wc -l)" = "$TOTAL" ] || die "sup: status does not list $TOTAL units"

        at_scale

        if [ "$1" = 1 ]; then
                local monitors inits workloads one all
                monitors=$(monitors_of s)
                all=$(monitors_of "")
                inits=$(units_json | $PY -c 'import json,sys; print(" ".join(str(u["pid"]) for u in json.load(sys.stdin) if u["name"].startswith("s")))')
                one=$(sup_field "s$(seq -w 1 "$N" | head -1)" monitor_pid)
                workloads=$(for q in $inits; do pgrep -P "$q"; done)
                mem() { $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" "$@"; }
                mem sup "supd (with $TOTAL units)" 1 "$SUPD_PID"
                # The process supd forks monitors from (one per supd, its child), where it has one.
                zygote=$(pgrep -P "$SUPD_PID" -f '^sup-monitor --zygote$' || true)
                [ -z "$zygote" ] || mem sup "sup-monitor --zygote (one per supd)" 1 "$zygote"
                mem sup "sup-monitor, one" 1 "$one"
                # shellcheck disable=SC2086
                mem sup "sup-monitor, mean of all $TOTAL" "$(echo $all | wc -w)" $all
                # shellcheck disable=SC2086
                mem sup "sup-monitor, all $N new" 1 $monitors
                # shellcheck disable=SC2086
                mem sup "sup-init (PID 1 of each container, a fork of its monitor), all $N new" 1 $inits
                # shellcheck disable=SC2086
                mem sup "**per container: supervision (sup-monitor + sup-init)**" "$N" $monitors $inits
                # shellcheck disable=SC2086
                mem sup "the workloads (sh exec'ed into sleep, child of sup-init), all $N new" 1 $workloads
        fi

        if [ "$1" = "$ROUNDS" ]; then
                sup_shutdown_timed
                return
        fi
        # Otherwise the new units go again, monitors and sandboxes with them.
        rm -f "$SUP_DIR/units/"s*.yaml
        "$PROBE" watch --dir "$LOGS" --match removed --count "$N" --timeout 300 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$p" ||
                die "sup: the units were not all removed"
        for _ in $(seq 100); do [ -z "$(monitors_of s)" ] && break; sleep 0.05; done
        [ -z "$(monitors_of s)" ] || die "sup: monitors left after removing the units"
}

# ---- crun, conmon+crun ----
CRUN_ROOT=$WORK/crun
export CRUN_ROOT
mkdir -p "$CRUN_ROOT" "$WORK/bundles"
crun_bundle "$WORK/bundles/base" base
for i in $(seq -w 1 "$N"); do
        mkdir -p "$WORK/bundles/b$i"
        ln -sfn "$WORK/layer" "$WORK/bundles/b$i/rootfs"
        sed "s|\"/sup-bench-crun-$$/base\"|\"/sup-bench-crun-$$/c$i\"|" "$WORK/bundles/base/config.json" > "$WORK/bundles/b$i/config.json"
done
HAVE_CONMON=0
if command -v conmon >/dev/null; then HAVE_CONMON=1; else note "no conmon (apt-get install conmon): conmon+crun is skipped"; fi

peer_round() { # peer_round crun|conmon ROUND
        crun_ns "$BENCH/lib/crun-scale.sh" "$1" "$N" "$2" "$([ "$2" = 1 ] && echo 1 || echo 0)" ||
                die "$1: not all $N containers wrote their first line"
        awk '
                $1 == "exit" { ex = $2 }
                $1 == "line" { if (first == "" || $2 < first) first = $2 }
                $1 == "done" { last = $2 }
                END { printf "%d %d %d\n", ex, first, last }' "$WORK/$1-$2.probe" >> "$RAW/$1"
}

say "$ROUNDS rounds of $N containers beside $BASE: sup$( [ $HAVE_CONMON = 1 ] && echo ', conmon+crun'), crun"
for r in $(seq 1 "$ROUNDS"); do
        sup_round "$r"
        [ $HAVE_CONMON = 1 ] && { sleep 0.5; peer_round conmon "$r"; }
        sleep 0.5
        peer_round crun "$r"
        printf '.' >&2
done
echo >&2

# ---- results ----
col sup 4 | add sup "$N units, one \`supctl reload\` → all $N first lines in their logs"
col sup 3 | add sup "· → all $N \"running\" (the last \"starting -> running\" logged)"
col sup 2 | add sup "· → the first unit's first line"
col sup 1 | add sup "· \`supctl reload\` returns"
if [ $HAVE_CONMON = 1 ]; then
        col conmon 3 | add conmon+crun "$N × (conmon, \`crun start\`) in a loop → all $N first lines"
        col conmon 2 | add conmon+crun "· → the first container's first line"
fi
col crun 3 | add crun "$N × \`crun run -d\` in a loop → all $N first lines"
col crun 2 | add crun "· → the first container's first line"
col crun 1 | add crun "· the loop ends (the last \`crun run -d\` returns)"
add sup "\`supctl reload\`, nothing changed, $TOTAL units" < "$RAW/reload"
add sup "· supd's CPU time for it" < "$RAW/reload-cpu"
add sup "\`supctl status\`, $TOTAL units" < "$RAW/status"
add sup "· supd's CPU time for it" < "$RAW/status-cpu"
add sup "\`supctl status --json\`, $TOTAL units" < "$RAW/status-json"
add sup "· supd's CPU time for it" < "$RAW/status-json-cpu"
add host "\`/bin/true\` (a fork and exec at this moment's load: the scale)" < "$RAW/true"
med() { col "$1" "$2" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
$PY "$BENCH/lib/benchlib.py" value "$RESULTS" "sup / crun" "$N new units → all first lines: sup's median over crun's loop's" \
        "$(awk -v a="$(med sup 4)" -v b="$(med crun 3)" 'BEGIN { printf "%.2f", a / b }')" "×"

{
        echo "scale, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), $N new containers beside $BASE, $ROUNDS rounds, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after, scratch directory on $(scratch_fs)"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS"
} | tee "$OUT/scale.md"
note "written: $OUT/scale.md, $OUT/scale.jsonl"
