#!/bin/bash
# Health checks that run and act, in a process unit and a hyperv unit of the same image, as root:
#   test-health.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|-
# Each check names what it stops. Exit 77 (skip) without root, busybox or overlayfs; the hyperv
# half is skipped (said so) without QEMU or a guest kernel, unless SUP_TESTS_MUST_WORK=1.
# SUP_GUEST_DIR: the guest kernel's state dir (default /var/lib/sup/guest).
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") SUP_INIT=$4
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
SUPD_ARGS=(--guest-dir "$GUEST")

supd_test_setup suphealth
trap cleanup EXIT

both_modes || exit 1

LAYER=$TOP/layer
busybox_layer "$LAYER"

# health_unit NAME ISOLATION HEALTHCHECK-YAML [REST]: a unit that waits forever, with a check.
health_unit() {
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
isolation: $2
image:
  layers:
    - dir: $LAYER
network: none
stop: {timeout: 2s}
command: [/bin/sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
healthcheck: $3
${4:-}
UNIT
}

# health UNIT KEY: status.health.KEY (last_check.KEY for last_*), empty for null.
health() {
        ctl status --json 2>/dev/null | "$PY" -c '
import json, sys
for u in json.load(sys.stdin):
    if u["name"] == sys.argv[1]:
        h = u.get("health") or {}
        k = sys.argv[2]
        v = (h.get("last_check") or {}).get(k[5:]) if k.startswith("last_") else h.get(k)
        print("" if v is None else v)' "$1" "$2"
}
health_is() { [ "$(health "$1" status)" = "$2" ]; }
unit_log() { cat "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }

begin "a check that passes once a file exists; a failing one restarts the unit (on_failure: restart); one that hangs is killed at its timeout"
for mode in $MODES; do
        health_unit "h-$mode" "$mode" '{command: [/bin/test, -f, /tmp/ready], interval: 1s, timeout: 5s, retries: 2, start_period: 60s, on_failure: restart}' \
                'restart: {policy: "no", delay: 1s}'
done
unit plain 'command: [/bin/sh, -c, "while :; do sleep 1; done"]' # no healthcheck: no health in its status
for mode in $MODES; do # a check that hangs (the second half of the case)
        health_unit "hang-$mode" "$mode" '{command: [/bin/sleep, "1000"], interval: 1s, timeout: 1s, retries: 1}'
done
start_supd
for mode in $MODES; do
        u=h-$mode
        wait_for 90 state_is $u running || fail "$u is not running: $(field $u state) $(field $u reason)"
        # Not healthy before the file exists (a check that passed without it would be no check),
        # and its failures within start_period do not count: still starting.
        sleep 3
        health_is $u starting || fail "$mode: not starting before /tmp/ready exists: $(health $u status)"
        ctl exec $u -- touch /tmp/ready || fail "$mode: cannot touch /tmp/ready"
        wait_for 30 health_is $u healthy || fail "$mode: not healthy after /tmp/ready appeared: $(health $u status)"
        [ "$(health $u failing_streak)" = 0 ] || fail "$mode: a streak after a pass: $(health $u failing_streak)"
        [ "$(health $u last_exit_code)" = 0 ] || fail "$mode: last check's exit code: $(health $u last_exit_code)"
        [ -n "$(health $u last_at)" ] || fail "$mode: no last check time"
        unit_log $u | grep -q "health: .* -> healthy" || fail "$mode: no transition line in the log"
        ctl status $u | grep -q "healthy" || fail "$mode: supctl status $u does not show the health"
        # The file goes: two failures in a row make it unhealthy, and on_failure: restart restarts it
        # although restart.policy is "no", with the reason in the status.
        ctl exec $u -- rm -f /tmp/ready
        wait_for 60 eval "[ \"\$(field $u restarts)\" = 1 ]" ||
                fail "$mode: not restarted by its health check: restarts $(field $u restarts), health $(health $u status)"
        unit_log $u | grep -q "health: healthy -> unhealthy" || fail "$mode: no unhealthy line in the log"
        field $u restart_reason | grep -q "health check failed 2 times in a row" ||
                fail "$mode: the status does not say why it restarted: $(field $u restart_reason)"
        wait_for 90 state_is $u running || fail "$mode: not running again after the restart: $(field $u state)"
        # The new run starts over, and its checks go on: the file back, healthy again.
        ctl exec $u -- touch /tmp/ready
        wait_for 30 health_is $u healthy || fail "$mode: not healthy again after the restart: $(health $u status)"
done
[ -z "$(ctl status --json | status_field health plain)" ] || fail "a unit without a healthcheck has a health"
# A check that hangs is killed at its timeout and counts as a failure; none is left running.
for mode in $MODES; do
        u=hang-$mode
        wait_for 90 state_is $u running || fail "$u is not running: $(field $u state) $(field $u reason)"
        wait_for 60 health_is $u unhealthy || fail "$mode: a hanging check did not make it unhealthy: $(health $u status)"
        [ "$(health $u last_timed_out)" = True ] || fail "$mode: the last check did not time out: $(health $u last_timed_out)"
        state_is $u running || fail "$mode: on_failure: none stopped the unit: $(field $u state)"
        # Killed, not left behind: at most the one check that runs now is in the unit.
        sleep 3
        n=$(ctl exec $u -- sh -c 'ps -o args | grep -c "^sleep 1000"')
        [ "${n:-9}" -le 1 ] || fail "$mode: $n hung checks left running in the unit"
done
end


finish
