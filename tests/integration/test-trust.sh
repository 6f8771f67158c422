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
out=$(timeout 5 "$MONITOR" --dir "$CASE_DIR/run/units/a" --state-dir "$CASE_DIR/state" --start 2>&1)
rc=$?
[ $rc != 0 ] && grep -q 'another monitor runs this instance' <<<"$out" || fail "a second monitor ran ($rc): $out"
[ "$(monitors a)" = 1 ] || fail "$(monitors a) monitors run a"
end

begin "a damaged seccomp cache is not trusted: another monitor compiles the filter again and its unit runs"
# Capabilities that change the filter (CAP_SYS_ADMIN's rules): the monitors prepare it themselves,
# from the cache directory (the default one the zygote made ahead is in its memory).
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]
security: {capabilities: {add: [SYS_ADMIN]}}'
start_supd
wait_for 5 state_is a running || fail "a not running"
ls "$CASE_DIR"/state/seccomp/*.bpf >/dev/null 2>&1 || fail "no cached filter"
for f in "$CASE_DIR"/state/seccomp/*.bpf; do head -c 100 "$f" > "$f.t" && mv "$f.t" "$f"; done
unit b 'command: [/bin/sh, -c, "exec sleep 1000"]
security: {capabilities: {add: [SYS_ADMIN]}}'
ctl reload >/dev/null || fail "reload"
wait_for 5 state_is b running || fail "b: $(field b state) $(field b reason)"
grep -q "compiled to" "$CASE_DIR/state/logs/b.log" || fail "b used the damaged cache: $(grep seccomp "$CASE_DIR/state/logs/b.log")"
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

# ---------------------------------------------------------------------------------------------
# Item 4: file descriptor exhaustion. supd kept the soft limit of 1024 it was given; 1,076 idle
# clients pinned it, and it then spun at 100 % CPU on a listener it could not accept from.

# cpu_ticks PID: the user and system time PID has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# hold_connections N UID SECONDS: N connections to supd as UID, held idle for SECONDS; prints how
# many supd kept open and how many it turned away with an error.
hold_connections() {
        setpriv --reuid="$2" --regid=65534 --clear-groups "$PY" - "$CASE_DIR/run/supd.sock" "$1" "$3" <<'PY'
import socket, sys, time
path, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks, refused = [], 0
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except OSError:
        refused += 1
        continue
    socks.append(s)
time.sleep(0.5)
kept = 0
for s in socks:
    s.setblocking(False)
    try:
        data = s.recv(4096)
        refused += 1 if data else 0
    except BlockingIOError:
        kept += 1
print(kept, refused, flush=True)
time.sleep(hold)
PY
}

begin "supd raises its soft fd limit to the hard one; its monitors keep the one it was given"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
SUPD_ARGS=()
prlimit --nofile=256:8192 "$SUPD" --units "$CASE_DIR/units" --state-dir "$CASE_DIR/state" --run-dir "$CASE_DIR/run" \
        --monitor "$MONITOR" >> "$CASE_DIR/supd.log" 2>&1 &
SUPD_PID=$!
wait_for 5 test -S "$CASE_DIR/run/supd.sock" || fail "supd did not start"
wait_for 5 state_is a running || fail "a not running"
read -r soft hard < <(awk '/Max open files/ { print $4, $5 }' /proc/$SUPD_PID/limits)
[ "$soft" = 8192 ] && [ "$hard" = 8192 ] || fail "supd's open files limit: $soft $hard"
read -r soft hard < <(awk '/Max open files/ { print $4, $5 }' /proc/"$(field a monitor_pid)"/limits)
[ "$soft" = 256 ] || fail "the monitor's open files limit: $soft $hard"
end

begin "out of fds: supd turns clients away without spinning, and root's status answers once they go"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
prlimit --nofile=96:96 "$SUPD" --units "$CASE_DIR/units" --state-dir "$CASE_DIR/state" --run-dir "$CASE_DIR/run" \
        --monitor "$MONITOR" >> "$CASE_DIR/supd.log" 2>&1 &
SUPD_PID=$!
wait_for 5 test -S "$CASE_DIR/run/supd.sock" || fail "supd did not start"
wait_for 5 state_is a running || fail "a not running"
hold_connections 200 0 5 > "$CASE_DIR/held" &
holder=$!
# Measured once supd is at its limit of 96 fds.
wait_for 5 eval '[ "$(ls /proc/$SUPD_PID/fd | wc -l)" -ge 94 ]' || fail "supd never ran out of fds"
t0=$(cpu_ticks "$SUPD_PID")
sleep 2
t1=$(cpu_ticks "$SUPD_PID")
# A spinning loop burns about 200 ticks in 2 s; an idle one none.
[ $((t1 - t0)) -lt 50 ] || fail "supd used $((t1 - t0)) ticks of CPU in 2 s while out of fds (spinning)"
grep -q 'out of file descriptors' "$CASE_DIR/supd.log" || fail "not logged"
echo "    held: $(cat "$CASE_DIR/held") (kept, refused); supd used $((t1 - t0)) ticks in 2 s"
wait "$holder"
wait_for 5 ctl status >/dev/null 2>&1 || fail "status does not answer after the clients went"
state_is a running || fail "a: $(field a state)"
end

begin "a non-root member holds at most 32 connections; root's status answers meanwhile"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd --socket-group nogroup
wait_for 5 state_is a running || fail "a not running"
chmod 755 "$CASE_DIR" "$CASE_DIR/run" "$TOP"
hold_connections 100 65534 3 > "$CASE_DIR/held" &
holder=$!
wait_for 5 test -s "$CASE_DIR/held"
read -r kept refused < "$CASE_DIR/held"
[ "$kept" = 32 ] && [ "$refused" = 68 ] || fail "a member kept $kept connections, $refused refused"
ctl status >/dev/null || fail "root's status does not answer"
wait "$holder"
end

begin "slow loris: a request trickled a byte at a time is cut off after 10 s, even though bytes keep coming"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
out=$("$PY" - "$CASE_DIR/run/supd.sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(0.1)
start = time.monotonic()
for b in b'{"method": "status"' * 4:
    try:
        s.sendall(bytes([b]))
        data = s.recv(4096)
        print(round(time.monotonic() - start), data.decode().strip()); break
    except socket.timeout:
        pass
    except OSError as e:
        print(round(time.monotonic() - start), e); break
    time.sleep(0.9)
else:
    print("never cut off")
PY
)
echo "    $out"
# Cut off with the error reply, or (the client writing as supd closes) a broken pipe.
[[ "$out" == 1[0-2]" "* ]] || fail "the trickling client was not cut off at 10 s: $out"
ctl status >/dev/null || fail "status does not answer"
end

# ---------------------------------------------------------------------------------------------
# Item 5: replies were buffered without bound for a client that does not read: 0.43 MB of
# requests from a read-only member grew supd to 289 MB.

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

begin "a read-only member pipelining status without reading: supd's memory stays bounded, others are served"
for u in $(seq 20); do unit u$u 'command: [/bin/sh, -c, "exec sleep 1000"]'; done
start_supd --socket-group nogroup
wait_for 10 state_is u20 running || fail "u20 not running"
chmod 755 "$CASE_DIR" "$CASE_DIR/run" "$TOP"
before=$(rss_kb "$SUPD_PID")
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" - "$CASE_DIR/run/supd.sock" > "$CASE_DIR/flood" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.setblocking(False)
req, sent, start = b'{"method": "status"}\n' * 1000, 0, time.monotonic()
while time.monotonic() - start < 6:
    try:
        sent += s.send(req)
    except BlockingIOError:
        time.sleep(0.01)
    except OSError as e:
        break
print(sent, flush=True)
time.sleep(1)
PY
flooder=$!
sleep 2
t0=$(date +%s%N)
ctl status >/dev/null || fail "root's status does not answer during the flood"
t1=$(date +%s%N)
wait "$flooder"
after=$(rss_kb "$SUPD_PID")
echo "    sent $(cat "$CASE_DIR/flood") bytes of requests; supd RSS ${before} kB -> ${after} kB; root's status in $(((t1 - t0) / 1000000)) ms"
# Held back: supd stopped reading once the replies waited; what the client got through is its
# socket buffers and one read. Unbounded, supd read all it was sent (megabytes a second).
[ "$(cat "$CASE_DIR/flood")" -lt 4194304 ] || fail "supd read $(cat "$CASE_DIR/flood") bytes of requests it could not answer"
# Unbounded, supd grew by hundreds of MB; bounded, by at most the output limit (4 MiB). Under the
# sanitizers freed memory stays in ASan's quarantine: RSS says nothing there.
if [ -z "${ASAN_OPTIONS:-}" ]; then
        [ $((after - before)) -lt 32768 ] || fail "supd grew by $((after - before)) kB"
fi
end

# ---------------------------------------------------------------------------------------------
# Item 7: with the run directory's file system full, reload printed "start e4 (new unit)" and
# exited 0, status showed e4 stopped without a reason, and once space was back `supctl start e4`
# said no unit "e4" was loaded.

begin "a full disk: reload fails naming the unit and the reason, status shows it, start works once there is space"
unit e1 'command: [/bin/sh, -c, "exec sleep 1000"]'
mkdir -p "$CASE_DIR/run"
mount -t tmpfs -o size=1m,mode=755 tmpfs "$CASE_DIR/run"
start_supd
wait_for 5 state_is e1 running || fail "e1 not running"
dd if=/dev/zero of="$CASE_DIR/run/fill" bs=4k 2>/dev/null
unit e4 'command: [/bin/sh, -c, "exec sleep 1000"]'
out=$(ctl reload 2>&1) && fail "reload succeeded on a full disk: $out"
grep -q 'e4: .*No space left on device' <<<"$out" || fail "reload did not say what failed: $out"
echo "    reload: $(tr '\n' ' ' <<<"$out")"
state_is e4 failed || fail "e4: $(field e4 state)"
[[ "$(field e4 reason)" == *"No space left"* ]] || fail "e4's reason: $(field e4 reason)"
state_is e1 running || fail "e1 was touched: $(field e1 state)"
rm "$CASE_DIR/run/fill"
out=$(ctl start e4 2>&1) || fail "start once there is space: $out"
wait_for 5 state_is e4 running || fail "e4 did not start: $(field e4 state) $(field e4 reason)"
# And a reload retries what failed (a unit added while the disk was full).
dd if=/dev/zero of="$CASE_DIR/run/fill" bs=4k 2>/dev/null
unit e5 'command: [/bin/sh, -c, "exec sleep 1000"]'
ctl reload >/dev/null 2>&1 && fail "reload succeeded on a full disk"
rm "$CASE_DIR/run/fill"
ctl reload >/dev/null 2>&1 || fail "reload with space again failed"
wait_for 5 state_is e5 running || fail "e5 did not start on the next reload: $(field e5 state)"
stop_supd
umount "$CASE_DIR/run"
end

# ---------------------------------------------------------------------------------------------
# Found by the soak suite: a stop or restart that arrived while a reload replaced the unit was
# refused ("has no instance", "its monitor is not connected"): the operator's stop was lost.

begin "a stop while a reload replaces the unit is kept: the new instance is created stopped"
unit r 'command: [/bin/sh, -c, "trap \"sleep 1; exit 0\" TERM; while :; do sleep 0.1; done"]'
start_supd
wait_for 5 state_is r running || fail "r not running"
unit r 'command: [/bin/sh, -c, "trap \"sleep 1; exit 0\" TERM; while :; do sleep 0.2; done"]'
ctl reload >/dev/null || fail "reload"
out=$(ctl stop r 2>&1) || fail "stop during the replacement was refused: $out"
wait_for 10 eval 'state_is r stopped && [ "$(pgrep -f "sup-monitor --dir $CASE_DIR/run/units/r " | wc -l)" = 1 ]' ||
        fail "r: $(field r state), $(pgrep -f "sup-monitor --dir $CASE_DIR/run/units/r " | wc -l) monitors"
sleep 1
state_is r stopped || fail "r was started after the operator's stop: $(field r state)"
out=$(ctl start r 2>&1) || fail "start: $out"
wait_for 5 state_is r running || fail "r did not start: $(field r state)"
end

finish
