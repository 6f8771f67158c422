#!/bin/bash
# supd end to end, as root, with real namespaces, cgroups and overlayfs:
#   test-supd.sh SUPD SUPCTL SUP_MONITOR
# Each case starts its own supd on private directories (so cases, and a supd running on the
# host, never meet) and names what it proves. Exit 77 (skip) without root, unless
# SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supit

# A busybox root file system, the image layer every unit here uses.
LAYER=$TOP/layer
busybox_layer "$LAYER"
mkdir -p "$LAYER/data"
app_user "$LAYER"
echo "from the image" > "$LAYER/data/image.txt"

fail() {
        printf '    FAIL: %s\n' "$*"
        [ -n "${CASE_DIR:-}" ] && [ -f "$CASE_DIR/supd.log" ] && sed 's/^/      supd| /' "$CASE_DIR/supd.log" | tail -20
        CASE_FAILED=1
}

cgroup_parent() { sed -n 's/.*cgroups \(sup-[0-9a-f]*\).*/\1/p' "$CASE_DIR/supd.log" | head -1; }

trap cleanup EXIT

# ---------------------------------------------------------------------------------------------

begin "start, stop, restart; stop leaves no process, mount or cgroup behind"
unit svc 'command: [/bin/sh, -c, "echo up; exec sleep 1000"]'
start_supd
wait_for 5 state_is svc running || fail "svc is not running: $(field svc state) $(field svc reason)"
pid=$(field svc pid)
command_pid=$(pgrep -P "$pid")
parent=$(cgroup_parent)
[ -d /sys/fs/cgroup/pids/$parent/svc ] || [ -d /sys/fs/cgroup/$parent/svc ] || fail "no cgroup for svc"
ctl stop svc >/dev/null
wait_for 5 state_is svc stopped || fail "stop: state $(field svc state)"
[ "$(field svc admin_stopped)" = True ] || fail "stop is not recorded as the operator's"
kill -0 "$pid" 2>/dev/null && fail "the container's init $pid survived the stop"
# This test's command, not any "sleep 1000" on the machine: other runs may have theirs.
[ -n "$command_pid" ] || fail "no command under the container's init"
[ -n "$command_pid" ] && kill -0 "$command_pid" 2>/dev/null && fail "the command survived the stop"
# What the stopped unit's cgroup may hold is its next run, made ahead (issue 14): one init, parked
# before any mount; nothing of the run that stopped. (The init is moved into the cgroup as it is
# forked and names itself a moment later: its name is waited for, a second process is not.)
parked_init_only() {
        local procs
        procs=$(cat "$1/cgroup.procs")
        [ "$(echo "$procs" | wc -w)" = 1 ] && [ "$procs" != "$pid" ] && [ "$procs" != "$command_pid" ] &&
                [ "$(cat "/proc/$procs/comm" 2>/dev/null)" = sup-init ]
}
for h in pids memory unified; do
        d=/sys/fs/cgroup/$h/$parent/svc
        [ -d "$d" ] || continue
        wait_for 5 parked_init_only "$d" ||
                fail "cgroup $h/$parent/svc holds more than a parked init after stop: $(cat "$d/cgroup.procs" | tr '\n' ' ')"
done
ctl start svc >/dev/null
wait_for 5 state_is svc running || fail "start: state $(field svc state)"
pid1=$(field svc pid)
# The table comes from supd, as text ("format": "table"); another format is refused.
ctl status | grep -Eq "^svc +process +running +- +$pid1 " || fail "status table: $(ctl status)"
got=$("$PY" - "$CASE_DIR/run/supd.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10); f = s.makefile("rw")
for fmt in ["table", "csv"]:
    f.write(json.dumps({"id": 1, "method": "status", "params": {"format": fmt}}) + "\n"); f.flush()
    r = json.loads(f.readline())
    print(r["result"]["text"].split("\n")[0].split()[0] if "result" in r else r["error"]["code"])
PY
)
[ "$got" = "UNIT
bad-request" ] || fail "status with format table, then csv: '$got'"
ctl restart svc >/dev/null
wait_for 5 eval '[ "$(field svc pid)" != "$pid1" ] && state_is svc running' || fail "restart did not replace the workload"
ctl stop svc >/dev/null
wait_for 5 state_is svc stopped || fail "stop: state $(field svc state)"
stop_supd
# supd's stop stops every monitor, and with them what they made ahead.
for h in pids memory unified; do
        [ -d /sys/fs/cgroup/$h/$parent/svc ] && fail "cgroup $h/$parent/svc left after supd stopped"
done
end

begin "a crash is restarted with a growing delay, then the unit fails at the start limit"
unit crash 'command: [/bin/sh, -c, "exit 7"]
restart: {policy: on-failure, delay: 200ms, max_delay: 800ms, burst: 4, interval: 60s}'
start_supd
wait_for 15 state_is crash failed || fail "never failed: $(field crash state)"
[ "$(field crash restarts)" = 3 ] || fail "expected 3 restarts before failing, got $(field crash restarts)"
[ "$(field crash exit_code)" = 7 ] || fail "last exit code $(field crash exit_code), not 7"
case "$(field crash reason)" in *"start limit"*) ;; *) fail "reason: $(field crash reason)" ;; esac
# The delays grow: 200, 400, 800 ms (+/- 10% jitter), each from the exit's "-> backoff" to the next
# "-> starting" (from one start to the next, a loaded host's slow runs hid the growth).
mapfile -t marks < <(grep -E -- ' sup [a-z]+ -> (backoff|starting)' "$CASE_DIR/state/logs/crash.log" | cut -d' ' -f1,5)
"$PY" - "${marks[@]}" <<'PY' || fail "the restart delays do not grow"
import sys, datetime
marks = [(datetime.datetime.strptime(m.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp(), m.split()[1])
         for m in sys.argv[1:]]
gaps = [b[0] - a[0] for a, b in zip(marks, marks[1:]) if a[1] == "backoff" and b[1] == "starting"]
print("    delays before the restarts: " + ", ".join("%.0f ms" % (g * 1000) for g in gaps))
assert len(gaps) == 3 and gaps[0] >= 0.17 and gaps[1] >= 0.35 and gaps[2] >= 0.7, gaps
assert gaps[0] < gaps[1] < gaps[2], gaps
PY
ctl stop crash >/dev/null
end

begin "a stopped unit stays stopped after its stop.timeout has passed (a stale timer restarted it)"
unit quiet 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
wait_for 5 state_is quiet running || fail "quiet not running"
ctl stop quiet >/dev/null
wait_for 5 state_is quiet stopped || fail "stop: $(field quiet state)"
sleep 2.5 # past the harness's stop.timeout of 2s
state_is quiet stopped || fail "after the stop timeout the unit is $(field quiet state)"
[ "$(field quiet restarts)" = 0 ] || fail "a stopped unit was restarted"
end

begin "backoff shows the next attempt, and stop cancels the pending restart"
unit flap 'command: [/bin/sh, -c, "exit 1"]
restart: {delay: 5s}'
start_supd
wait_for 5 state_is flap backoff || fail "not in backoff: $(field flap state)"
[ -n "$(field flap next_restart_at)" ] || fail "no next_restart_at in backoff"
ctl stop flap >/dev/null
wait_for 2 state_is flap stopped || fail "stop in backoff: $(field flap state)"
[ -z "$(field flap next_restart_at)" ] || fail "next_restart_at after stop"
end

begin "reload adds, changes (restarts) and removes units; an invalid reload changes nothing"
unit keep 'command: [/bin/sh, -c, "exec sleep 1000"]'
unit change 'command: [/bin/sh, -c, "echo v1; exec sleep 1000"]'
unit gone 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
for u in keep change gone; do wait_for 5 state_is $u running || fail "$u not running"; done
keep_pid=$(field keep pid) change_pid=$(field change pid)
unit change 'command: [/bin/sh, -c, "echo v2; exec sleep 1000"]'
unit added 'command: [/bin/sh, -c, "exec sleep 1000"]'
rm "$CASE_DIR/units/gone.yaml"
plan=$(ctl reload --dry-run)
echo "$plan" | grep -q "replace change (changed: command)" || fail "dry run: $plan"
[ "$(field change pid)" = "$change_pid" ] || fail "the dry run changed something"
ctl reload >/dev/null || fail "reload failed"
wait_for 5 state_is added running || fail "added unit not running"
wait_for 5 eval '[ "$(field change pid)" != "$change_pid" ] && state_is change running' || fail "changed unit not restarted"
wait_for 5 eval '[ -z "$(field gone state)" ]' || fail "removed unit still listed"
[ "$(field keep pid)" = "$keep_pid" ] || fail "an unchanged unit was restarted"
grep -q v2 "$CASE_DIR/state/logs/change.log" || fail "the new spec did not run"
[ -d "$CASE_DIR/state/sandboxes/gone" ] && fail "the removed unit's sandbox is left"
# Now a broken file: the reload is refused whole, with the error's position, and all keeps running.
echo 'command: [oops' > "$CASE_DIR/units/broken.yaml"
unit more 'command: [/bin/sh, -c, "exec sleep 1000"]'
out=$(ctl reload 2>&1) && fail "an invalid reload was accepted"
echo "$out" | grep -q 'broken.yaml:2:1: error' || fail "no position in: $out"
[ -z "$(field more state)" ] || fail "the valid new unit of a refused generation was started"
[ "$(field keep pid)" = "$keep_pid" ] || fail "a refused reload touched a running unit"
end

begin "kill -9 supd: workloads keep running, a new supd adopts them (same PIDs) and hears of exits it missed"
unit a 'command: [/bin/sh, -c, "exec sleep 1000"]'
unit b 'command: [/bin/sh, -c, "exec sleep 1000"]'
unit c 'command: [/bin/sh, -c, "exec sleep 1000"]
restart: {policy: "no"}'
start_supd
for u in a b c; do wait_for 5 state_is $u running || fail "$u not running"; done
pa=$(field a pid) pb=$(field b pid) pc=$(field c pid)
kill -9 "$SUPD_PID"; wait "$SUPD_PID" 2>/dev/null; SUPD_PID=
kill -0 "$pa" && kill -0 "$pb" || fail "a workload died with supd"
# c exits while no supd runs: its command is killed.
pkill -TERM -P "$pc"
sleep 0.5
start_supd
wait_for 5 state_is a running || fail "a not adopted"
[ "$(field a pid)" = "$pa" ] && [ "$(field b pid)" = "$pb" ] || fail "PIDs changed: $(field a pid)/$pa $(field b pid)/$pb"
[ "$(field a restarts)" = 0 ] || fail "a was restarted"
wait_for 5 state_is c exited || fail "c: $(field c state)"
[ "$(field c exit_signal)" = SIGTERM ] || fail "the exit during supd's absence was lost: $(field c exit_signal)"
grep -q 'adopted' "$CASE_DIR/supd.log" || fail "no adoption logged"
grep -q 'a (new unit)' "$CASE_DIR/supd.log" && [ "$(grep -c 'start a (new unit)' "$CASE_DIR/supd.log")" -gt 1 ] && fail "a was started twice"
end

begin "isolation: own pid namespace and host name; sandbox writes stay in the sandbox"
unit one 'hostname: one-host
command: [/bin/sh, -c, "echo pid1 $(cat /proc/1/comm); echo maxpid $(ls -d /proc/[0-9]* | cut -d/ -f3 | sort -n | tail -1); hostname; echo secret-one > /data/written.txt; echo changed > /data/image.txt; exec sleep 1000"]'
unit two 'command: [/bin/sh, -c, "sleep 0.5; cat /data/written.txt 2>&1; cat /data/image.txt; exec sleep 1000"]'
start_supd
wait_for 5 state_is one running && wait_for 5 state_is two running || fail "units not running"
wait_for 5 grep -q 'image' "$CASE_DIR/state/logs/two.log" || fail "two printed nothing"
log "one: $(grep -E 'pid1|maxpid|one-host' "$CASE_DIR/state/logs/one.log" | cut -d' ' -f3- | tr '\n' ' ')"
# PID 1 is sup's init and the highest PID in sight is a handful: no host process is visible.
grep -q 'stdout pid1 sup-init$' "$CASE_DIR/state/logs/one.log" || fail "PID 1 inside is not sup's init"
maxpid=$(sed -n 's/.*stdout maxpid //p' "$CASE_DIR/state/logs/one.log")
[ -n "$maxpid" ] && [ "$maxpid" -lt 20 ] || fail "the workload sees PIDs up to $maxpid: host processes"
grep -q 'stdout one-host' "$CASE_DIR/state/logs/one.log" || fail "wrong host name"
[ "$(hostname)" != one-host ] || fail "the host's name changed"
grep -q 'No such file' "$CASE_DIR/state/logs/two.log" || fail "two sees one's file"
grep -q 'stdout from the image' "$CASE_DIR/state/logs/two.log" || fail "two sees one's change to an image file"
[ "$(cat "$LAYER/data/image.txt")" = "from the image" ] || fail "a write reached the image layer"
[ -e "$LAYER/data/written.txt" ] && fail "a new file reached the image layer"
grep -q secret-one "$CASE_DIR/state/sandboxes/one/upper/data/written.txt" || fail "the write is not in one's sandbox"
# The host sees the workload with the same PID as the status reports (process isolation).
ps -o args= --ppid "$(field one pid)" | grep -q 'sleep 1000' || fail "the command is not the init's child on the host"
end

begin "top lists a unit's processes with their host PIDs; a stopped unit's top fails clearly"
unit t 'command: [/bin/sh, -c, "sleep 1000 & exec sleep 2000"]'
# A workload that names a process with an escape sequence (ESC, and C1's CSI) at run time.
unit esc 'command: [/bin/sh, -c, "exec /bin/sh -c \x27while :; do sleep 1; done\x27 \"$(printf \x27x\\033[2Jy\\302\\2331mz\x27)\""]'
start_supd
wait_for 5 state_is t running || fail "t is not running: $(field t state) $(field t reason)"
# top_pid ARGS...: the pid of the process whose command line is ARGS, from `supctl top t --json`.
top_pid() {
        ctl top t --json | "$PY" -c '
import json, sys
print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["processes"] if p["args"] == sys.argv[1:]))' "$@"
}
# The shell forks the background sleep, then execs the other: both show once it has.
wait_for 5 eval '[ -n "$(top_pid sleep 1000)" ] && [ -n "$(top_pid sleep 2000)" ]' || fail "top lacks a sleep: $(ctl top t 2>&1)"
out=$(ctl top t)
log "$(sed -n 1p <<<"$out")"
head -1 <<<"$out" | grep -q 'host PIDs' || fail "the header does not say which PIDs: $out"
grep -q ' sleep 1000$' <<<"$out" && grep -q ' sleep 2000$' <<<"$out" || fail "the table lacks a sleep: $out"
[ "$(ctl top t --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pid_namespace"])')" = host ] || fail "pid_namespace is not host"
# The container's init is the workload's too (status reports it as the unit's pid).
ctl top t --json | grep -q "\"pid\": $(field t pid)," || fail "the init $(field t pid) is not listed"
parent=$(cgroup_parent)
[ -n "$parent" ] || fail "no cgroup parent in supd's log"
for args in "sleep 1000" "sleep 2000"; do
        # shellcheck disable=SC2086 # one word per argument
        pid=$(top_pid $args)
        kill -0 "$pid" 2>/dev/null || fail "$args: pid $pid is not a live host process"
        grep -q "$parent/t\$" "/proc/$pid/cgroup" 2>/dev/null || fail "$args: pid $pid is not in the cgroup $parent/t: $(cat "/proc/$pid/cgroup" 2>&1)"
        [ "$(cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ')" = "$args " ] || fail "$args: pid $pid runs something else"
done
# Control characters from the workload do not reach the operator's terminal.
wait_for 5 eval 'ctl top esc | grep -q "while"' || fail "esc: $(ctl top esc 2>&1)"
out=$(ctl top esc)
grep -qF "done x?[2Jy?1mz" <<<"$out" || fail "control characters are not shown as ?: $(cat -v <<<"$out")"
LC_ALL=C grep -q $'[\x1b\x9b]' <<<"$out" && fail "an escape sequence reached the terminal: $(cat -v <<<"$out")"
ctl stop t >/dev/null
wait_for 5 state_is t stopped || fail "stop: $(field t state)"
out=$(ctl top t 2>&1) && fail "top of a stopped unit succeeded: $out"
[ "$out" = "supctl: t is not running (state stopped)" ] || fail "unclear error: $out"
out=$(ctl top nosuch 2>&1) && fail "top of an unknown unit succeeded: $out"
grep -q 'no unit "nosuch" is loaded' <<<"$out" || fail "unclear error: $out"
# (hyperv units: test-hyperv.sh, with guest PIDs.)
end

begin "the control socket refuses a non-root client, and is not world-accessible"
unit s 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
mode=$(stat -c %a "$CASE_DIR/run/supd.sock")
[ "$mode" = 600 ] || fail "socket mode $mode"
chmod 755 "$CASE_DIR" "$CASE_DIR/run" "$TOP"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status 2>&1) && fail "nobody got a status: $out"
echo "$out" | grep -qi 'permission denied' || fail "unclear refusal: $out"
# Even with the file mode opened by hand, the credentials decide: no --socket-group, so nobody
# but root gets anything, not even a status.
chmod 666 "$CASE_DIR/run/supd.sock"
# supd answers and closes at once, racing the client's request: repeated, so that a client
# dying of SIGPIPE (silently, as CI once saw) shows up here rather than one run in ten.
for i in $(seq 20); do
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status 2>&1) && fail "nobody read the status through a socket opened by hand: $out"
        echo "$out" | grep -qi 'permission denied' || fail "unclear refusal (attempt $i): $out"
done
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" stop s 2>&1) && fail "nobody stopped a unit: $out"
state_is s running || fail "s was stopped by nobody"
# Bad JSON on the socket: a clear error, and supd keeps serving.
reply=$("$PY" - "$CASE_DIR/run/supd.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"method": "status", oops\n'); print(s.recv(4096).decode().strip())
PY
)
echo "$reply" | grep -q 'bad-request' || fail "no clear error for bad JSON: $reply"
state_is s running || fail "supd stopped serving after bad JSON"
end

begin "--socket-group: its members may look (status, top), not act (stop); others get nothing"
unit g 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd --socket-group nogroup
wait_for 5 state_is g running || fail "g not running"
[ "$(stat -c '%a %G' "$CASE_DIR/run/supd.sock")" = "660 nogroup" ] || fail "socket: $(stat -c '%a %G' "$CASE_DIR/run/supd.sock")"
chmod 755 "$CASE_DIR" "$CASE_DIR/run" "$TOP"
as_member() { setpriv --reuid=65534 --regid=65534 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" "$@"; }
as_member status >/dev/null 2>&1 || fail "a member of the group cannot read the status"
out=$(as_member top g 2>&1) || fail "a member of the group cannot see the processes: $out"
grep -q ' sleep 1000$' <<<"$out" || fail "a member's top lacks the command: $out"
out=$(as_member stop g 2>&1) && fail "a member of the group stopped a unit: $out"
echo "$out" | grep -q 'root only' || fail "unclear refusal: $out"
state_is g running || fail "g was stopped by a group member"
# In the group through a supplementary group only: still a member.
out=$(setpriv --reuid=65534 --regid=1 --groups=65534 "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status 2>&1) || fail "a supplementary member was refused: $out"
# Not in the group: the file mode keeps it out, and the credentials would.
out=$(setpriv --reuid=1 --regid=1 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status 2>&1) && fail "a stranger read the status: $out"
end

begin "monitors are forked by supd's zygote: their own command line; a zygote killed is replaced, the third time monitors are executed; supd's stop ends it"
unit z1 'command: [/bin/sh, -c, "exec sleep 1000"]'
start_supd
wait_for 5 state_is z1 running || fail "z1 not running"
zygote_of_supd() { pgrep -P "$SUPD_PID" -f '^sup-monitor --zygote$'; }
zy=$(zygote_of_supd)
[ -n "$zy" ] || fail "no zygote among supd's children: $(pgrep -a -P "$SUPD_PID")"
mp=$(field z1 monitor_pid)
# Detached: not in supd's session nor leading one (it could acquire a controlling terminal), a
# process group of its own; its own arguments for ps and pgrep -f, the same binary.
read -r msid mpgid < <(ps -o sid=,pgid= -p "$mp")
[ "$msid" != "$(ps -o sid= -p "$SUPD_PID" | tr -d ' ')" ] || fail "the monitor $mp is in supd's session"
[ "$msid" != "$mp" ] || fail "the monitor $mp leads a session"
[ "$mpgid" = "$mp" ] || fail "the monitor $mp is in the process group $mpgid"
tr '\0' ' ' < "/proc/$mp/cmdline" | grep -q "^sup-monitor --dir $CASE_DIR/run/units/z1 " ||
        fail "the monitor's command line: $(tr '\0' ' ' < "/proc/$mp/cmdline")"
[ "$(readlink "/proc/$mp/exe")" = "$(readlink -f "$MONITOR")" ] || fail "the monitor runs $(readlink "/proc/$mp/exe")"
# Nothing of the zygote's: no socket but its own listening one and supd's connection.
socks=$(find "/proc/$mp/fd" -lname 'socket:*' | wc -l)
[ "$socks" -le 2 ] || fail "the monitor holds $socks sockets: $(ls -l "/proc/$mp/fd")"
# Killed three times: replaced twice, then monitors are executed (each unit still starts).
for n in 2 3 4; do
        [ -n "$zy" ] && kill -KILL "$zy"
        unit "z$n" 'command: [/bin/sh, -c, "exec sleep 1000"]'
        ctl reload >/dev/null
        wait_for 10 state_is "z$n" running || fail "z$n not running after the zygote was killed"
        old=$zy
        zy=$(zygote_of_supd)
        if [ "$n" -lt 4 ]; then
                [ -n "$zy" ] && [ "$zy" != "$old" ] || fail "no new zygote after $old was killed (now: '$zy')"
        else
                [ -z "$zy" ] || fail "a zygote ($zy) was started again after the third death"
        fi
done
grep -q "monitor zygote exited; a new one is started" "$CASE_DIR/supd.log" || fail "supd did not say the zygote died"
grep -q "monitors are executed one by one from now on" "$CASE_DIR/supd.log" || fail "supd did not say it gave up the zygote"
mp=$(field z4 monitor_pid)
tr '\0' ' ' < "/proc/$mp/cmdline" | grep -q "^sup-monitor --dir $CASE_DIR/run/units/z4 " || fail "z4's monitor: $(tr '\0' ' ' < "/proc/$mp/cmdline")"
stop_supd
# A zygote that supd started anew is gone with it.
start_supd
unit z5 'command: [/bin/sh, -c, "exec sleep 1000"]'
ctl reload >/dev/null
wait_for 10 state_is z5 running || fail "z5 not running"
zy=$(zygote_of_supd)
[ -n "$zy" ] || fail "the new supd has no zygote"
stop_supd
wait_for 5 eval '! kill -0 "$zy" 2>/dev/null' || fail "the zygote $zy outlived supd"
end

begin "supd speaks sd_notify: READY=1 after the first reconcile, RELOADING=1, STOPPING=1"
unit n 'command: [/bin/sh, -c, "exec sleep 1000"]'
"$PY" - "$CASE_DIR/notify.sock" > "$CASE_DIR/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(20)
try:
    while True:
        m = s.recv(4096).decode(); print(m.replace("\n", " | "), flush=True)
        if "STOPPING=1" in m: break
except socket.timeout: pass
PY
LISTENER=$!
wait_for 5 test -S "$CASE_DIR/notify.sock"
NOTIFY_SOCKET=$CASE_DIR/notify.sock start_supd
wait_for 5 grep -q READY=1 "$CASE_DIR/notify.log" || fail "no READY=1"
ctl reload >/dev/null
wait_for 5 grep -q RELOADING=1 "$CASE_DIR/notify.log" || fail "no RELOADING=1"
stop_supd
wait "$LISTENER"
grep -q STOPPING=1 "$CASE_DIR/notify.log" || fail "no STOPPING=1"
grep -q 'STATUS=' "$CASE_DIR/notify.log" || fail "no STATUS="
log "$(tr '\n' ' ' < "$CASE_DIR/notify.log" | cut -c1-200)"
end

finish
