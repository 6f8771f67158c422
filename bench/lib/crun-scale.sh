#!/bin/bash
# One round of scale.sh for crun or conmon+crun, run inside crun_ns (common.sh): starts N
# containers one after the other, as a script would, and times them with bench-probe until every
# one has written its first line; optionally measures their memory; then deletes them all.
#
#   crun-scale.sh crun|conmon N ROUND MEASURE-MEMORY(0|1)
# Environment (from scale.sh): PROBE BENCH WORK PY RESULTS CRUN_ROOT.
set -euo pipefail

mode=$1 n=$2 round=$3 measure=$4
out=$WORK/$mode-$round
mkdir -p "$out"

if [ "$mode" = crun ]; then
        start='for i in $(seq -w 1 "$1"); do
                crun --root "$2" run -d --bundle "$3/b$i" --pid-file "$4/.c$i.pid" "c$i" < /dev/null > "$4/c$i.log" 2>> "$4/.errors" || exit 1
        done'
        args=("$n" "$CRUN_ROOT" "$WORK/bundles" "$out")
else
        start='for i in $(seq -w 1 "$1"); do
                "$5" start "$2" "$3/b$i" "c$i" "$4" 2>> "$4/.errors" || exit 1
        done'
        args=("$n" "$CRUN_ROOT" "$WORK/bundles" "$out" "$BENCH/lib/conmon-run.sh")
fi

rc=0
"$PROBE" watch --dir "$out" --match ready --count "$n" --timeout 300 -- bash -c "$start" start "${args[@]}" \
        > "$WORK/$mode-$round.probe" || rc=$?

if [ $rc = 0 ] && [ "$measure" = 1 ]; then
        workloads=() monitors=()
        for i in $(seq -w 1 "$n"); do
                workloads+=("$(cat "$out/.c$i.pid")")
                [ "$mode" = conmon ] && monitors+=("$(cat "$out/.c$i.conmon-pid")")
        done
        if [ "$mode" = conmon ]; then
                $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" conmon+crun "conmon, one" 1 "${monitors[0]}"
                $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" conmon+crun "conmon, all" 1 "${monitors[@]}"
                $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" conmon+crun \
                        "**per container: supervision (conmon)**" "$n" "${monitors[@]}"
        else
                $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" crun \
                        "**per container: supervision (none: crun exits after the start)**" "$n"
        fi
        $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" "$([ "$mode" = crun ] && echo crun || echo conmon+crun)" \
                "the workloads (sh exec'ed into sleep, PID 1 of its container), all" 1 "${workloads[@]}"
fi

for i in $(seq -w 1 "$n"); do
        if [ "$mode" = crun ]; then
                crun --root "$CRUN_ROOT" delete -f "c$i" > /dev/null 2>&1 || true
        else
                "$BENCH/lib/conmon-run.sh" delete "$CRUN_ROOT" "c$i" "$out"
        fi
done
[ $rc = 0 ] || cat "$WORK/$mode-$round.probe" "$out/.errors" >&2 2>/dev/null
exit $rc
