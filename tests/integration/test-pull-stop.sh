#!/bin/bash
# A registry pull that never ends, and what ends it: a stop, a monitor killed outright. The
# registry is a listener of this test's on 127.0.0.1 that accepts and never answers (a stalled or
# hostile registry), as root:
#   test-pull-stop.sh SUPD SUPCTL SUP_MONITOR
# Exit 77 (skip) without root, busybox, overlayfs or the image tools; SUP_TESTS_MUST_WORK=1 turns
# a skip into a failure.
set -uo pipefail

source "$(dirname "$(realpath "$0")")/image-lib.sh"
image_test_setup suppullstop "$1" "$2" "$3" -
LISTENER_PID=
listener_stop() { [ -z "$LISTENER_PID" ] || kill "$LISTENER_PID" 2>/dev/null; }
trap 'listener_stop; cleanup' EXIT

# A TCP listener that takes connections and says nothing: skopeo waits on it for ever.
"$PY" - "$TOP/port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PY
LISTENER_PID=$!
wait_for 5 test -s "$TOP/port" || { echo "FAIL: the silent registry did not start"; exit 1; }
REF=127.0.0.1:$(cat "$TOP/port")/stalled/app:1

# skopeo_pids: the pids of the skopeo processes pulling for this case (by the reference).
skopeo_pids() { pgrep -f "skopeo .*docker://$REF" | tr '\n' ' '; }

# all_gone PID...: none of these processes is left.
all_gone() {
        local p
        for p; do [ -d "/proc/$p" ] && return 1; done
        return 0
}

stalled_unit() {
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - registry: $REF
      tls_verify: false
network: none
stop: {timeout: 2s}
restart: {policy: 'no'}
UNIT
}

# pulling UNIT: the unit is starting with its pull under way (the status's "pull" names it).
pulling() {
        state_is "$1" starting && ctl status "$1" 2>/dev/null | grep -q "pulling" && [ -n "$(skopeo_pids)" ]
}

begin "a stop while the pull waits on a registry that never answers: the unit is stopped at once and skopeo goes (a start held for ever by a stalled registry; a pull left running after its unit stopped)"
stalled_unit stalled
case_run() {
        start_units || return
        wait_for 30 pulling stalled || { fail "stalled is not pulling: $(field stalled state) $(field stalled reason)"; return; }
        ctl stop stalled >/dev/null || fail "supctl stop failed"
        wait_for 10 state_is stalled stopped || fail "stalled: $(field stalled state), expected stopped"
        wait_for 5 eval '[ -z "$(skopeo_pids)" ]' || fail "skopeo still runs: $(skopeo_pids)"
        [ -d "$CASE_DIR/state/images/tmp" ] && [ -d "$CASE_DIR/state/images/refs" ] || fail "no image store in the state directory"
        [ -z "$(find "$CASE_DIR/state/images/tmp" -mindepth 1 2>/dev/null)" ] || fail "the pull left files in the store's tmp/"
        [ -z "$(find "$CASE_DIR/state/images/refs" -mindepth 1 2>/dev/null)" ] || fail "a ref was recorded"
        grep -q "stopped while starting" "$CASE_DIR/state/logs/stalled.log" 2>/dev/null ||
                [[ "$(field stalled reason)" == *"stopped while starting"* ]] || fail "the stop is not said as a cancelled start: $(field stalled reason)"
}
case_run
end

begin "the monitor killed outright while it pulls: skopeo dies with it (a pull nobody watches, holding the store's lock against prune)"
stalled_unit orphan
case_run() {
        local monitor before
        start_units || return
        wait_for 30 pulling orphan || { fail "orphan is not pulling: $(field orphan state)"; return; }
        monitor=$(field orphan monitor_pid)
        before=$(skopeo_pids)
        kill -KILL "$monitor"
        # shellcheck disable=SC2086
        wait_for 10 all_gone $before ||
                fail "skopeo outlived its monitor: $(skopeo_pids)"
}
case_run
end

finish
