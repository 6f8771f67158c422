#!/bin/bash
# What damaged state files, a stuck monitor, a flood of clients and a full disk do to supd, as
# root, with real containers:
#   test-trust.sh SUPD SUPCTL SUP_MONITOR
# Each case names the fault or the attack it stops. Exit 77 (skip) without root, unless
# SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup suptrust
LAYER=$TOP/layer
busybox_layer "$LAYER"
trap cleanup EXIT

kill9_supd() { kill -9 "$SUPD_PID"; wait "$SUPD_PID" 2>/dev/null; SUPD_PID=; }
# monitors UNIT: how many monitor processes run UNIT's instance directory.
monitors() { pgrep -f "sup-monitor --dir $CASE_DIR/run/units/$1 " | wc -l; }

# ---------------------------------------------------------------------------------------------
# Item 2 of the trust review: a damaged spec.json of a live instance made supd delete the live
# monitor's directory and start a second instance beside it (two containers, one orphaned).

for damage in empty garbage other-name; do
        begin "a $damage spec.json of a live instance: the monitor is adopted with its own spec, never duplicated"
        unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
        start_supd
        wait_for 5 state_is a running || fail "a not running"
        pid=$(field a pid) mpid=$(field a monitor_pid)
        kill9_supd
        spec=$CASE_DIR/run/units/a/spec.json
        case $damage in
        empty) : > "$spec" ;;
        garbage) printf '{"name": "a", "isolation": ' > "$spec" ;;
        other-name) sed -i 's/"name": *"a"/"name": "zz"/' "$spec" ;;
        esac
        start_supd
        wait_for 5 state_is a running || fail "a: $(field a state) $(field a reason)"
        [ "$(field a pid)" = "$pid" ] || fail "a's workload changed: $(field a pid), was $pid"
        [ "$(field a monitor_pid)" = "$mpid" ] || fail "a's monitor changed: $(field a monitor_pid), was $mpid"
        [ "$(monitors a)" = 1 ] || fail "$(monitors a) monitors run a"
        grep -q 'adopted with the spec its monitor runs' "$CASE_DIR/supd.log" || fail "the recovery is not logged"
        "$PY" -c 'import json, sys; assert json.load(open(sys.argv[1]))["name"] == "a"' "$spec" ||
                fail "spec.json was not rewritten"
        # A reload sees the adopted instance as the unit's: nothing to do.
        ctl reload | grep -q 'nothing to do' || fail "reload after adoption: $(ctl reload)"
        ctl stop a >/dev/null
        wait_for 5 state_is a stopped || fail "stop: $(field a state)"
        sleep 1
        kill -0 "$pid" 2>/dev/null && fail "the workload survived its stop (an orphaned instance)"
        [ "$(monitors a)" = 1 ] || fail "$(monitors a) monitors after the stop"
        end
done

begin "a live monitor whose socket is gone is stopped cleanly, then the unit starts anew: one instance"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
wait_for 5 state_is a running || fail "a not running"
pid=$(field a pid) mpid=$(field a monitor_pid)
kill9_supd
rm "$CASE_DIR/run/units/a/monitor.sock"
start_supd
wait_for 10 eval '! kill -0 "$mpid" 2>/dev/null' || fail "the unreachable monitor $mpid still runs"
kill -0 "$pid" 2>/dev/null && fail "its workload $pid still runs"
wait_for 5 state_is a running || fail "a not started anew: $(field a state) $(field a reason)"
[ "$(field a pid)" != "$pid" ] || fail "same workload"
[ "$(monitors a)" = 1 ] || fail "$(monitors a) monitors run a"
grep -q 'lives but cannot be reached' "$CASE_DIR/supd.log" || fail "not logged"
end

begin "a second monitor on the directory of a live one refuses to run (the instance lock)"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
wait_for 5 state_is a running || fail "a not running"
out=$("$MONITOR" --dir "$CASE_DIR/run/units/a" --state-dir "$CASE_DIR/state" --start 2>&1)
rc=$?
[ $rc != 0 ] && grep -q 'another monitor runs this instance' <<<"$out" || fail "a second monitor ran ($rc): $out"
[ "$(monitors a)" = 1 ] || fail "$(monitors a) monitors run a"
end

# ---------------------------------------------------------------------------------------------
# Item 3: one stopped monitor kept supd's start from ever finishing (empty status, nothing
# reconciled, no READY=1).

begin "a stopped monitor does not stall supd's start: shown unresponsive, the rest reconciled, adopted when it answers"
for u in a b c; do unit $u 'command: [/bin/sh, -c, "exec sleep 1000"]'; done
start_supd
for u in a b c; do wait_for 5 state_is $u running || fail "$u not running"; done
pa=$(field a pid) pb=$(field b pid) mb=$(field b monitor_pid)
kill9_supd
kill -STOP "$mb"
unit d 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
wait_for 15 state_is d running || fail "the new unit d was not started: $(field d state)"
state_is a running && [ "$(field a pid)" = "$pa" ] || fail "a: $(field a state) $(field a pid)"
state_is b unresponsive || fail "b: $(field b state)"
[[ "$(field b reason)" == *"does not answer"* ]] || fail "b's reason: $(field b reason)"
grep -q 'ready' "$CASE_DIR/supd.log" || fail "supd never got ready"
[ "$(monitors b)" = 1 ] || fail "$(monitors b) monitors run b"
kill -CONT "$mb"
wait_for 5 state_is b running || fail "b not adopted after it answered: $(field b state)"
[ "$(field b pid)" = "$pb" ] || fail "b's workload changed"
[ "$(monitors b)" = 1 ] || fail "$(monitors b) monitors run b"
end

finish
