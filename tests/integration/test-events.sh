#!/bin/bash
# supctl events end to end as root, with one supd (restarted once):
#   test-events.sh SUPD SUPCTL SUP_MONITOR
# A start, a crash and its restarts, a health change, reloads applied and refused, a supd restart
# with its adoptions and a damaged journal, and a reader that does not read. Exit 77 (skip)
# without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supevents

LAYER=$TOP/layer
busybox_layer "$LAYER"

trap 'kill $FOLLOWER 2>/dev/null; cleanup' EXIT
FOLLOWER=

# seen FILE CONDITION: FILE (JSON lines) holds an event for which the Python expression
# CONDITION over e holds.
seen() {
        "$PY" - "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if eval("(" + sys.argv[2] + ")", {}, {"e": e}):
        sys.exit(0)
sys.exit(1)
PY
}

now_rfc3339() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

begin "events: start, crash, restart, health, reloads, a supd restart, a reader that does not read"
unit web 'command: [/bin/sh, -c, "trap \"exit 0\" TERM; while :; do sleep 1; done"]
healthcheck: {command: [/bin/test, -f, /tmp/ok], interval: 1s, timeout: 5s, retries: 1, start_period: 10m}'
unit crash 'command: [/bin/sh, -c, "sleep 0.2; exit 3"]
restart: {policy: on-failure, delay: 200ms, max_delay: 400ms, burst: 3, interval: 60s}'
T0=$(now_rfc3339)
start_supd
F=$CASE_DIR/follow.jsonl
# From T0: what came before the follower subscribed too (web ran once before it did, in CI).
ctl events --json --since "$T0" > "$F" 2> "$CASE_DIR/follow.err" &
FOLLOWER=$!

# The crash unit: its exits, its restarts with their reason, then the start limit.
wait_for 30 seen "$F" 'e["type"] == "state" and e["unit"] == "crash" and e["to"] == "failed"' ||
        fail "no crash -> failed: $(cat "$F")"
seen "$F" 'e["type"] == "exit" and e["unit"] == "crash" and e["exit_code"] == 3 and e["signal"] is None and not e["oom"]' ||
        fail "no exit of crash with status 3"
seen "$F" 'e["type"] == "restart" and e["unit"] == "crash" and e["attempt"] == 1 and e["policy"] == "on-failure" and
        e["reason"] == "the command exited with status 3" and 0 <= e["delay_ms"] <= 2000' || fail "no restart of crash"
seen "$F" 'e["type"] == "state" and e["unit"] == "crash" and e["from"] == "running" and e["to"] == "backoff"' ||
        fail "no crash running -> backoff"
# web: running, then healthy once its check passes.
wait_for 20 seen "$F" 'e["type"] == "state" and e["unit"] == "web" and e["to"] == "running"' || fail "web: not running"
ctl exec web -- touch /tmp/ok || fail "cannot touch /tmp/ok in web"
wait_for 20 seen "$F" 'e["type"] == "health" and e["unit"] == "web" and e["from"] == "starting" and e["to"] == "healthy"' ||
        fail "no web health starting -> healthy"

# Reloads: the plan applied, then one refused with its errors.
unit extra 'command: [/bin/sleep, "1000"]'
ctl reload >/dev/null || fail "reload"
wait_for 10 seen "$F" 'e["type"] == "reload" and e["result"] == "applied" and e["started"] == ["extra"] and e["unchanged"] == 2' ||
        fail "no reload event: $(grep reload "$F")"
echo 'bogus: 1' > "$CASE_DIR/units/bad.yaml"
ctl reload >/dev/null 2>&1 && fail "a reload of bad.yaml succeeded"
rm "$CASE_DIR/units/bad.yaml"
wait_for 10 seen "$F" 'e["type"] == "reload" and e["result"] == "refused" and e["error_count"] >= 1 and
        e["errors"][0]["file"].endswith("bad.yaml")' || fail "no refused reload: $(grep reload "$F")"
wait_for 10 seen "$F" 'e["type"] == "state" and e["unit"] == "extra" and e["to"] == "running"' || fail "extra: not running"
"$PY" - "$F" <<'PY' || fail "the follower's events: not v 1, seqs not in order, or times not RFC 3339"
import json, re, sys
seqs = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["v"] == 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]), e
    seqs.append(e["seq"])
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
PY
# The follower ends with supd, once supd says it stops.
kill -QUIT "$SUPD_PID"
wait "$SUPD_PID"
SUPD_PID=
wait "$FOLLOWER" || fail "the follower's exit when supd stopped: $? ($(cat "$CASE_DIR/follow.err"))"
FOLLOWER=
seen "$F" 'e["type"] == "supd" and e["action"] == "stop" and e["units"] == "keep"' || fail "no supd stop event"

# A damaged journal (a line that is no event, a torn last line): skipped with a warning; supd
# starts, adopts, and the stream carries on from the last seq.
printf 'not json\n{"v":1,"seq":' >> "$CASE_DIR/state/events/journal"
start_supd --events-keep 128
wait_for 20 eval '[ "$(ctl events --json --since "$T0" --until 0s | grep -c "\"type\":\"adopt\"")" = 3 ]' ||
        fail "not 3 adopt events: $(ctl events --since "$T0" --until 0s)"
grep -q 'events: .*journal:[0-9]*: skipped (not a JSON object)' "$CASE_DIR/supd.log" || fail "no warning of the bad line"
grep -q 'events: .*journal ends in a torn line' "$CASE_DIR/supd.log" || fail "no warning of the torn line"
R=$CASE_DIR/replay.jsonl
ctl events --json --since "$T0" --until 0s > "$R" || fail "events --since --until"
"$PY" - "$R" "$F" <<'PY' || fail "the replay across the restart: $(cat "$R")"
import json, sys
replay = [json.loads(l) for l in open(sys.argv[1])]
before = [json.loads(l) for l in open(sys.argv[2])]
seqs = [e["seq"] for e in replay]
# Every event of the first supd, then the second's, numbered on without a gap.
assert seqs == list(range(1, len(seqs) + 1)), seqs
assert [e for e in replay if e["seq"] in {b["seq"] for b in before}] == before
starts = [e for e in replay if e["type"] == "supd" and e["action"] == "start"]
assert len(starts) == 2 and starts[0]["seq"] == 1, starts
assert sorted(e["unit"] for e in replay if e["type"] == "adopt") == ["crash", "extra", "web"]
assert any(e["type"] == "adopt" and e["unit"] == "web" and e["state"] == "running" for e in replay)
PY
# --unit: only that unit's events; the human form, one line each.
ctl events --json --since "$T0" --until 0s --unit crash --unit extra > "$CASE_DIR/units.jsonl"
"$PY" -c 'import json, sys; u = {json.loads(l)["unit"] for l in open(sys.argv[1])}; assert u == {"crash", "extra"}, u' \
        "$CASE_DIR/units.jsonl" || fail "--unit crash --unit extra: $(cat "$CASE_DIR/units.jsonl")"
out=$(ctl events --since "$T0" --until 0s --unit crash)
grep -qE '^20[0-9-]{8}T[0-9:.]{12}Z crash exit status 3$' <<<"$out" || fail "human form: $out"
out=$(ctl events --since "$T0" --until 0s)
grep -qE 'Z reload refused \([0-9]+ errors?\): .*bad.yaml:1:1: unknown key "bogus"' <<<"$out" ||
        fail "human form of a refused reload: $(grep reload <<<"$out")"
ctl events --since 1h --until 10m >/dev/null || fail "--since 1h --until 10m (nothing in between)"
[ -z "$(ctl events --since 1h --until 10m)" ] || fail "events from before the test: $(ctl events --since 1h --until 10m)"
out=$(ctl events --since yesterday 2>&1)
[ $? = 2 ] && [[ $out == *"expected an RFC 3339 time"* ]] || fail "--since yesterday: $out"

# A reader that subscribes and never reads, while supd makes events (reloads on another
# connection) until it says the reader fell behind: supd answers all along, and the reader, when
# it reads again, gets what was sent before, one "lost" record, and every event after it.
"$PY" - "$CASE_DIR/run/supd.sock" "$CASE_DIR/supd.log" <<'PY' || fail "the reader that does not read"
import json, socket, sys
slow = socket.socket(socket.AF_UNIX)
slow.connect(sys.argv[1])
slow.sendall(b'{"id": 1, "method": "events", "params": {"follow": true}}\n')
ctl = socket.socket(socket.AF_UNIX)
ctl.connect(sys.argv[1])
ctl.settimeout(10)
f = ctl.makefile()
def call(i, method, params=None):
    ctl.sendall((json.dumps({"id": i, "method": method, "params": params or {}}) + "\n").encode())
    while True:
        m = json.loads(f.readline())
        if m.get("id") == i:
            return m
for i in range(2, 20000):
    assert "result" in call(i, "reload"), "reload failed"
    if i % 50 == 0 and "does not keep up" in open(sys.argv[2]).read():
        break
else:
    sys.exit("supd never dropped the reader's events")
assert "result" in call(i + 1, "status"), "no status"
last = call(i + 2, "events", {"follow": False, "since_usec": 0})["result"]["next_seq"] - 1
slow.settimeout(10)
sf = slow.makefile()
got, lost = [], None
while not got or got[-1] < last:
    m = json.loads(sf.readline())
    if "event" not in m:
        continue
    e = m["data"]
    if e["type"] == "lost":
        assert lost is None, "two lost records"
        lost = e
    else:
        got.append(e["seq"])
        if lost:
            assert e["seq"] > lost["last_seq"]
assert lost and lost["count"] == lost["last_seq"] - lost["first_seq"] + 1, lost
assert sorted(got + list(range(lost["first_seq"], lost["last_seq"] + 1))) == list(range(got[0], last + 1))
print("    %d events, %d lost" % (last, lost["count"]))
PY
ctl status >/dev/null || fail "supd does not answer after the reader"
# A follower of a supd that stops its units (SIGTERM) sees them stop, then ends with status 0.
ctl events --since 1h > "$CASE_DIR/last.out" 2>&1 &
FOLLOWER=$!
wait_for 10 test -s "$CASE_DIR/last.out" || fail "no replay"
stop_supd
wait "$FOLLOWER" || fail "the follower of a stopping supd: exit $?: $(tail -3 "$CASE_DIR/last.out")"
FOLLOWER=
grep -q 'Z supd stop (units: stop)$' "$CASE_DIR/last.out" || fail "no supd stop: $(tail -3 "$CASE_DIR/last.out")"
grep -q 'Z web state running -> stopping$' "$CASE_DIR/last.out" || fail "web's stop: $(tail -5 "$CASE_DIR/last.out")"
end

finish
