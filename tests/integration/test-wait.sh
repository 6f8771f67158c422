#!/bin/bash
# supctl wait, and requires that waits, end to end as root:
#   test-wait.sh SUPD SUPCTL SUP_MONITOR
# Each case starts its own supd on private directories. Exit 77 (skip) without root, unless
# SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supwait

LAYER=$TOP/layer
busybox_layer "$LAYER"

trap cleanup EXIT

# expect_exit CODE TEXT COMMAND...: COMMAND exits with CODE and says TEXT (stdout and stderr).
expect_exit() {
        local code=$1 text=$2 out rc
        shift 2
        out=$("$@" 2>&1)
        rc=$?
        [ "$rc" = "$code" ] || fail "$*: exit $rc, not $code: $out"
        case "$out" in
        *"$text"*) ;;
        *) fail "$*: says '$out', not '$text'" ;;
        esac
}

# ---------------------------------------------------------------------------------------------

begin "wait: returns when the unit runs; a start held for requires shows what it waits for"
unit dep 'command: [/bin/sleep, "1000"]'
unit app 'command: [/bin/sleep, "1000"]
requires: [dep]'
start_supd
expect_exit 0 "app: running" ctl wait app --timeout 20s
ctl stop app >/dev/null
ctl stop dep >/dev/null
wait_for 10 eval 'state_is app stopped && state_is dep stopped' || fail "not stopped: $(field app state) $(field dep state)"
# Stopped by the operator: it cannot get there, and wait says so at once.
expect_exit 1 "app was stopped by the operator" ctl wait app
# The operator's start waits for dep, which is stopped (it went straight to the monitor before).
# supd holds the start before it replies: what it waits for is in the status at once.
ctl start app >/dev/null
[ "$(field app waiting_for)" = "['dep']" ] || fail "waiting_for: '$(field app waiting_for)'"
ctl status app | grep -q "reason: waiting for dep to run" || fail "status app: $(ctl status app)"
ctl status | grep -q "^app .*waiting for dep to run" || fail "status: $(ctl status)"
expect_exit 1 "app did not run within 1.0s (it is stopped)" ctl wait app --timeout 1s
state_is app stopped || fail "app started while dep is stopped: $(field app state)"
ctl wait app --timeout 30s > "$CASE_DIR/wait.out" 2>&1 &
waiter=$!
ctl start dep >/dev/null
wait "$waiter"
rc=$?
[ "$rc" = 0 ] || fail "wait for app once dep started: exit $rc: $(cat "$CASE_DIR/wait.out")"
state_is app running || fail "app: $(field app state)"
[ -z "$(field app waiting_for)" ] || fail "waiting_for of a running unit: $(field app waiting_for)"
end

begin "wait: a unit that exits for good, an unknown unit, --healthy without a healthcheck, usage"
unit gone 'command: [/nonexistent]
restart: {policy: "no"}'
unit up 'command: [/bin/sleep, "1000"]'
start_supd
expect_exit 1 "gone failed: cannot execute /nonexistent" ctl wait gone --timeout 20s
expect_exit 1 'no unit "nothing" is loaded' ctl wait nothing
expect_exit 2 "up has no healthcheck" ctl wait up --healthy
expect_exit 2 "expected one UNIT" ctl wait
expect_exit 2 "--timeout soon" ctl wait up --timeout soon
end

begin "wait: one connection may keep 16 waits; the 17th is refused, and a new connection may wait"
unit dep 'command: [/bin/sleep, "1000"]'
unit app 'command: [/bin/sleep, "1000"]
requires: [dep]'
start_supd
wait_for 10 state_is app running || fail "app: $(field app state)"
ctl stop app >/dev/null
ctl stop dep >/dev/null
ctl start app >/dev/null # held for dep: app will not run while the client waits
got=$("$PY" - "$CASE_DIR/run/supd.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
for i in range(17):
    s.sendall((json.dumps({"id": i, "method": "wait", "params": {"unit": "app"}}) + "\n").encode())
line = s.makefile().readline()
print(json.loads(line).get("id"), json.loads(line).get("error", {}).get("code"))
PY
)
[ "$got" = "16 busy" ] || fail "the 17th wait on one connection: '$got'"
expect_exit 1 "app did not run within" ctl wait app --timeout 0.2s
end

# health UNIT: status.health.status, empty without one.
health_of() {
        ctl status --json 2>/dev/null | "$PY" -c '
import json, sys
for u in json.load(sys.stdin):
    if u["name"] == sys.argv[1]:
        print((u.get("health") or {}).get("status") or "")' "$1"
}

begin "requires waits for health: app starts once web's check passes; web turning unhealthy leaves app running"
# start_period keeps web "starting" until its first pass however slow the machine is (ASan under
# load once took more than the two failed checks' 2 s between "running" and the timed-out wait);
# once web was healthy, every failure counts.
unit web 'command: [/bin/sh, -c, "trap \"exit 0\" TERM; while :; do sleep 1; done"]
healthcheck: {command: [/bin/test, -f, /tmp/ready], interval: 1s, timeout: 5s, retries: 2, start_period: 10m}'
unit app 'command: [/bin/sleep, "1000"]
requires: [web]'
start_supd
expect_exit 0 "web: running, starting" ctl wait web --timeout 30s
[ "$(field app waiting_for)" = "['web']" ] || fail "waiting_for: '$(field app waiting_for)'"
ctl status app | grep -q "reason: waiting for web to be healthy" || fail "status app: $(ctl status app)"
ctl status | grep -q "^web .* starting " || fail "no health column: $(ctl status)"
expect_exit 1 "web did not become healthy within 1.0s (it is running, health: starting)" \
        ctl wait web --healthy --timeout 1s
state_is app stopped || fail "app started before web was healthy: $(field app state)"
ctl wait app --timeout 60s > "$CASE_DIR/wait.out" 2>&1 &
waiter=$!
ctl exec web -- touch /tmp/ready || fail "cannot touch /tmp/ready in web"
expect_exit 0 "web: running, healthy" ctl wait web --healthy --timeout 60s
wait "$waiter"
rc=$?
[ "$rc" = 0 ] || fail "wait for app once web was healthy: exit $rc: $(cat "$CASE_DIR/wait.out")"
state_is app running || fail "app: $(field app state)"
ctl status web | grep -q "health: healthy" || fail "status web: $(ctl status web)"
ctl status web | grep -q "last check: .*exit code 0" || fail "status web: $(ctl status web)"
pid=$(field app pid)
ctl exec web -- rm -f /tmp/ready
wait_for 30 eval '[ "$(health_of web)" = unhealthy ]' || fail "web not unhealthy: $(health_of web)"
ctl status web | grep -q "health: unhealthy (2 failed in a row)" || fail "status web: $(ctl status web)"
state_is app running && [ "$(field app pid)" = "$pid" ] || fail "app did not run on: $(field app state) $(field app pid)"
# Stopped as by the operator, web takes app along (systemd's Requires=), as the operator's.
ctl stop web >/dev/null
wait_for 10 state_is app stopped || fail "app runs on without web: $(field app state)"
expect_exit 1 "app was stopped by the operator" ctl wait app
end

finish
