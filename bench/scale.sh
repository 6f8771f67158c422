#!/bin/bash
# Many containers at once, sup against crun and conmon+crun, in the same run, interleaved:
#
#   bench/scale.sh [N]     (as root; N default 50, or SUP_BENCH_SCALE_UNITS)
#
# For SUP_BENCH_SCALE_RUNS rounds (default 3), each of:
#   sup          N new unit files, one `supctl reload`, until every unit has logged "running" and
#                its first line ("stdout ready"); supd starts them all at once, one monitor each
#   crun         N × `crun run -d` in a shell loop, until every container's first line is in
#                its output file (crun exits after each start: nothing stays to supervise)
#   conmon+crun  N × (conmon → `crun create`, `crun start`), the path podman takes, until every
#                first line is in conmon's log files
# In the first round, while all N run, the memory of every process involved (smaps_rollup: RSS,
# PSS, and private = Private_Clean + Private_Dirty). In the last round sup's N units stay up, and
# the time supd takes from SIGTERM to exit (all N stopped, every monitor gone) is measured.
# Results: a table on stdout, $SUP_BENCH_OUT/scale.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

N=${1:-${SUP_BENCH_SCALE_UNITS:-50}}
ROUNDS=${SUP_BENCH_SCALE_RUNS:-3}

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

sup_round() { # sup_round ROUND
        local p=$WORK/sup-$1.probe
        rm -f "$LOGS"/*
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

        if [ "$1" = 1 ]; then
                local monitors inits workloads one
                monitors=$(sup_monitor_pids)
                inits=$(units_json | $PY -c 'import json,sys; print(" ".join(str(u["pid"]) for u in json.load(sys.stdin)))')
                one=$(sup_field "s$(seq -w 1 "$N" | head -1)" monitor_pid)
                workloads=$(for q in $inits; do pgrep -P "$q"; done)
                mem() { $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" "$@"; }
                mem sup "supd (with $N units)" 1 "$SUPD_PID"
                mem sup "sup-monitor, one" 1 "$one"
                # shellcheck disable=SC2086
                mem sup "sup-monitor, all" 1 $monitors
                # shellcheck disable=SC2086
                mem sup "sup-init (PID 1 of each container, a fork of its monitor), all" 1 $inits
                # shellcheck disable=SC2086
                mem sup "**per container: supervision (sup-monitor + sup-init)**" "$N" $monitors $inits
                # shellcheck disable=SC2086
                mem sup "the workloads (sh exec'ed into sleep, child of sup-init), all" 1 $workloads
        fi

        if [ "$1" = "$ROUNDS" ]; then
                # The last round: supd's shutdown with N units running.
                local t0 t1
                t0=$(date +%s%N)
                sup_stop
                t1=$(date +%s%N)
                $PY "$BENCH/lib/benchlib.py" value "$RESULTS" sup "supd SIGTERM → exited, its $N units stopped" \
                        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')" ms
                [ -z "$(sup_monitor_pids)" ] || die "monitors left after supd's shutdown"
                return
        fi
        # Otherwise the units go again, monitors and sandboxes with them.
        rm -f "$SUP_DIR/units/"*.yaml
        "$PROBE" watch --dir "$LOGS" --match removed --count "$N" --timeout 300 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$p" ||
                die "sup: the units were not all removed"
        for _ in $(seq 100); do [ -z "$(sup_monitor_pids)" ] && break; sleep 0.05; done
        [ -z "$(sup_monitor_pids)" ] || die "sup: monitors left after removing the units"
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

say "$ROUNDS rounds of $N containers: sup$( [ $HAVE_CONMON = 1 ] && echo ', conmon+crun'), crun"
for r in $(seq 1 "$ROUNDS"); do
        sup_round "$r"
        [ $HAVE_CONMON = 1 ] && { sleep 0.5; peer_round conmon "$r"; }
        sleep 0.5
        peer_round crun "$r"
        printf '.' >&2
done
echo >&2

# ---- results ----
col() { awk -v c="$2" '{ print $c }' "$RAW/$1"; }
add() { $PY "$BENCH/lib/benchlib.py" series "$RESULTS" "$1" "$2"; }
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

{
        echo "scale, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), $N containers, $ROUNDS rounds, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS"
} | tee "$OUT/scale.md"
note "written: $OUT/scale.md, $OUT/scale.jsonl"
