#!/bin/bash
# exec: a command run in a running instance through the monitor's socket (runtime/exec.h), in a
# process unit and a hyperv unit of the same image, as root:
#   test-exec.sh SUPD SUPCTL SUP_MONITOR MONITOR_CALL SUP_INIT|-
# Each check names what it stops. Exit 77 (skip) without root, busybox or overlayfs; the hyperv
# half is skipped (said so) without QEMU or a guest kernel, unless SUP_TESTS_MUST_WORK=1.
# SUP_GUEST_DIR: the guest kernel's state dir (default /var/lib/sup/guest).
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") CALL=$(realpath "$4") SUP_INIT=$5
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
SUPD_ARGS=(--guest-dir "$GUEST")

supd_test_setup supexec
trap cleanup EXIT

both_modes || exit 1

LAYER=$TOP/layer
busybox_layer "$LAYER"
app_user "$LAYER"

# The workload records what it is (the lines of /proc/self/status an exec must match) and its pid,
# then waits, noting each SIGUSR1 it gets (the kill case).
STATUS_KEYS='^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'
WORKLOAD="trap 'echo usr1 >>/tmp/sig' USR1; echo \$\$ >/tmp/w.pid; grep -E '$STATUS_KEYS' /proc/self/status >/tmp/w.status; while :; do sleep 1; done"

exec_unit() { # exec_unit NAME ISOLATION
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
isolation: $2
image:
  layers:
    - dir: $LAYER
network: none
stop: {timeout: 2s}
command: [/bin/sh, -c, "$WORKLOAD"]
UNIT
}

sock() { echo "$CASE_DIR/run/units/$1/monitor.sock"; }
# xcall UNIT PARAMS-JSON: the exec's reply, one line of JSON.
xcall() { "$CALL" "$(sock "$1")" exec "$2"; }
# r KEY: result.KEY of the reply on stdin, as it is (no newline added; empty for null, and for
# no reply at all: the check that reads it then fails with what came).
r() {
        "$PY" -c '
import json, sys
try:
    v = json.load(sys.stdin).get("result", {}).get(sys.argv[1])
except ValueError:
    v = None
sys.stdout.write("" if v is None else str(v))' "$1"
}

begin "exec in a running process unit and hyperv unit of the same image"
for mode in $MODES; do exec_unit "ex-$mode" "$mode"; done
start_supd
for mode in $MODES; do
        wait_for 90 state_is "ex-$mode" running || fail "ex-$mode is not running: $(field "ex-$mode" state) $(field "ex-$mode" reason)"
        wait_for 30 eval "xcall ex-$mode '{\"argv\":[\"test\",\"-s\",\"/tmp/w.status\"]}' | r exit_code | grep -qx 0" ||
                fail "$mode: the workload did not record its status"
done

for mode in $MODES; do
        u=ex-$mode
        log "$mode"
        # The output and the exit code come back: echo's line, and a shell's exit 3 with stderr.
        out=$(xcall $u '{"argv":["echo","hello from exec"]}')
        [ "$(r stdout <<<"$out")" = "hello from exec" ] || fail "$mode: echo: $out"
        [ "$(r exit_code <<<"$out")" = 0 ] || fail "$mode: echo's exit code: $out"
        out=$(xcall $u '{"argv":["sh","-c","echo to-stderr >&2; exit 3"]}')
        [ "$(r exit_code <<<"$out")" = 3 ] && [ "$(r signal <<<"$out")" = 0 ] || fail "$mode: exit 3: $out"
        [ "$(r stderr <<<"$out")" = "to-stderr" ] || fail "$mode: stderr: $out"

        # A program that is not there: 127 and the reason, as a workload's setup error has them
        # (not a silent 1, nor a hang).
        out=$(xcall $u '{"argv":["/no/such/program"]}')
        [ "$(r exit_code <<<"$out")" = 127 ] || fail "$mode: missing program: exit code $(r exit_code <<<"$out"), expected 127: $out"
        r error <<<"$out" | grep -q "/no/such/program" || fail "$mode: missing program: no reason: $out"

        # The same user, capabilities, no_new_privs and seccomp filter as the workload: an exec
        # that got more (root's full set, no filter) would be a way around the unit's limits.
        out=$(xcall $u "{\"argv\":[\"grep\",\"-E\",\"$STATUS_KEYS\",\"/proc/self/status\"]}")
        want=$(xcall $u '{"argv":["cat","/tmp/w.status"]}' | r stdout)
        [ -n "$want" ] && [ "$(r stdout <<<"$out")" = "$want" ] ||
                fail "$mode: the exec is not what the workload is: $(r stdout <<<"$out" | tr '\n\t' '  ') vs $(echo "$want" | tr '\n\t' '  ')"
        r stdout <<<"$out" | grep -qx 'Seccomp:[[:space:]]2' || fail "$mode: not under a seccomp filter: $out"
        r stdout <<<"$out" | grep -qx 'NoNewPrivs:[[:space:]]1' || fail "$mode: no no_new_privs: $out"

        # The request's user, environment and working directory, resolved in the image (its
        # /etc/passwd), and a non-root user keeps no capability.
        out=$(xcall $u '{"argv":["sh","-c","echo $GREETING $(id -u) $(pwd) $HOME; grep CapEff /proc/self/status"],"env":["GREETING=hi"],"user":"app","working_dir":"/tmp"}')
        [ "$(r stdout <<<"$out" | head -n1)" = "hi 1000 /tmp /home/app" ] || fail "$mode: user/env/working_dir: $out"
        r stdout <<<"$out" | grep -qx 'CapEff:[[:space:]]0*' || fail "$mode: user app has capabilities: $out"
        out=$(xcall $u '{"argv":["true"],"user":"nobody-here"}')
        [ "$(r exit_code <<<"$out")" = 126 ] && r error <<<"$out" | grep -q nobody-here ||
                fail "$mode: an unknown user: $out"

        # The workload's pid namespace: the exec is in its command's, whose PID 1 is sup's init
        # (an exec left in the host's pid namespace would not find itself in the container's
        # /proc, and could signal what it sees by host pids).
        out=$(xcall $u '{"argv":["sh","-c","w=$(cat /tmp/w.pid); [ \"$(readlink /proc/self/ns/pid)\" = \"$(readlink /proc/$w/ns/pid)\" ] && echo same; cat /proc/1/comm /proc/$(cat /tmp/w.pid)/comm"]}')
        [ "$(r stdout <<<"$out" | tr '\n' ' ')" = "same sup-init sh " ] || fail "$mode: pid namespace: $out"

        # Output is bounded in the reply, the rest drained (a chatty exec neither blocks on a
        # full pipe nor grows the monitor's memory), and the flow control of the guest's agent
        # gets 300 KB through without stalling.
        out=$(xcall $u '{"argv":["sh","-c","yes 0123456789 | head -c 300000; echo done >&2"]}')
        [ "$(r stdout_truncated <<<"$out")" = True ] && [ "$(r stdout <<<"$out" | wc -c)" = 65536 ] &&
                [ "$(r stderr <<<"$out")" = done ] && [ "$(r exit_code <<<"$out")" = 0 ] ||
                fail "$mode: 300000 bytes of output: truncated=$(r stdout_truncated <<<"$out") $(r stdout <<<"$out" | wc -c) bytes, stderr $(r stderr <<<"$out")"
done

# supctl exec: the same through supctl, streamed (stdin, stdout and stderr as they are written),
# with the exit status as supctl's and a terminal.
for mode in $MODES; do
        u=ex-$mode
        log "$mode"
        # stdout and stderr apart, and the command's exit status as supctl's.
        ctl exec $u -- sh -c 'echo to-out; echo to-err >&2; exit 3' >"$CASE_DIR/out" 2>"$CASE_DIR/err"
        rc=$?
        [ $rc = 3 ] && [ "$(cat "$CASE_DIR/out")" = to-out ] && [ "$(cat "$CASE_DIR/err")" = to-err ] ||
                fail "$mode: exit 3: rc $rc, stdout '$(cat "$CASE_DIR/out")', stderr '$(cat "$CASE_DIR/err")'"
        # stdin reaches the command, and its end too (cat ends).
        out=$(echo "from stdin" | ctl exec $u -- cat)
        [ "$out" = "from stdin" ] || fail "$mode: stdin: '$out'"
        # A megabyte each way without a stall: stdin's and stdout's flow control (a guest's agent
        # window) holds nothing back for good.
        out=$(head -c 1000000 /dev/zero | ctl exec $u -- wc -c)
        [ "$(echo $out)" = 1000000 ] || fail "$mode: 1 MB of stdin: '$out'"
        out=$(ctl exec $u -- sh -c 'yes 0123456789 | head -c 1000000' | wc -c)
        [ "$out" = 1000000 ] || fail "$mode: 1 MB of stdout: $out bytes"
        # Killed by a signal: 128+N, as a shell has it.
        ctl exec $u -- sh -c 'kill -9 $$'
        rc=$?
        [ $rc = 137 ] || fail "$mode: a command killed by SIGKILL: rc $rc, expected 137"
        # A program that is not there: 127 and why.
        out=$(ctl exec $u -- /no/such/program 2>&1)
        rc=$?
        [ $rc = 127 ] && [[ $out == */no/such/program* ]] || fail "$mode: a missing program: rc $rc: $out"
        # --user, --env, --workdir, resolved in the image; the workload's capabilities,
        # no_new_privs and seccomp filter (an exec with more would be a way around the unit).
        out=$(ctl exec --user app --env GREETING=hi --workdir /tmp $u -- sh -c 'echo $GREETING $(id -u) $(pwd)')
        [ "$out" = "hi 1000 /tmp" ] || fail "$mode: --user/--env/--workdir: '$out'"
        out=$(ctl exec $u -- grep -E "$STATUS_KEYS" /proc/self/status)
        want=$(ctl exec $u -- cat /tmp/w.status)
        [ -n "$want" ] && [ "$out" = "$want" ] ||
                fail "$mode: supctl exec is not what the workload is: $(echo $out) vs $(echo $want)"
        # A terminal of the unit's own, its size, a resize, ^C for the command and not supctl,
        # the shell's exit status (exec-pty.py names each step).
        if ! out=$("$PY" "$(dirname "$0")/exec-pty.py" 60 "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" exec -t $u -- sh 2>&1); then
                fail "$mode: supctl exec -t: $(echo "$out" | grep FAIL | tr '\n' ' ')"
        fi
        # The reader of supctl's output goes away (| head): supctl ends, and so does the command.
        tag=7$RANDOM$RANDOM
        out=$(ctl exec $u -- sh -c "yes $tag" | head -n 2 | wc -l)
        [ "$out" = 2 ] || fail "$mode: yes | head: $out lines"
        wait_for 20 eval "! ctl exec $u -- sh -c 'ps -o args | grep -v grep | grep -q \"yes $tag\"'" ||
                fail "$mode: the command outlived its reader"
        # supctl killed: its command goes too (the monitor cancels a stream whose client left),
        # the shell and its child; while it runs, `supctl top` shows it, as the unit's process it
        # is. (supctl itself in the background: ctl's subshell would take the kill instead.)
        "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" exec $u -- sh -c "sleep $tag; echo never" &
        bg=$!
        wait_for 30 eval "ctl top $u | grep -q 'sleep $tag'" || fail "$mode: supctl top does not show the exec's sleep"
        kill -9 $bg
        wait $bg 2>/dev/null
        wait_for 20 eval "! ctl top $u | grep -q 'sleep $tag'" || fail "$mode: the exec's sleep outlived supctl"
        ctl top $u | grep -q "sh -c sleep $tag" && fail "$mode: the exec's shell outlived supctl"
        # A terminal's session killed with a background and a foreground job: both go (a cancel
        # that took only the shell would leave its jobs running in the unit).
        out=$("$PY" "$(dirname "$0")/exec-pty-kill.py" $tag "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" exec -t $u -- sh 2>&1)
        [ "$out" = started ] || fail "$mode: the terminal session's jobs: $out"
        wait_for 20 eval "! ctl top $u | grep -q 'sleep [12]$tag'" ||
                fail "$mode: the terminal session's jobs outlived supctl: $(ctl top $u | grep sleep | tr '\n' ' ')"
        # A command that closes its stdin while input keeps coming: the writer's EPIPE (and, in a
        # guest, sup-init's own SIGPIPE) is nobody else's: the workload lives on.
        wpid=$(ctl exec $u -- cat /tmp/w.pid)
        out=$(head -c 3000000 /dev/zero | ctl exec $u -- sh -c 'head -c 1 >/dev/null; exec 0<&-; sleep 2; echo closed' 2>&1)
        [ "$out" = closed ] || fail "$mode: a command that closed its stdin: '$out'"
        ctl exec $u -- sh -c "kill -0 $wpid" || fail "$mode: the workload died when an exec closed its stdin: $(field $u state) $(field $u reason)"
done

# kill: a signal reaches the command in both modes as stop.signal does, and starts no stop (the
# workload notes its SIGUSR1 and goes on). SIGSTOP is refused: a process container's init would
# stop itself rather than pass it on, so it could not mean the same in both modes.
for mode in $MODES; do
        u=ex-$mode
        out=$("$CALL" "$(sock $u)" kill '{"signal":"SIGUSR1"}')
        echo "$out" | grep -q '"result"' || fail "$mode: kill SIGUSR1: $out"
        wait_for 10 eval "xcall $u '{\"argv\":[\"cat\",\"/tmp/sig\"]}' | r stdout | grep -qx usr1" ||
                fail "$mode: the command did not get SIGUSR1: $(xcall $u '{"argv":["cat","/tmp/sig"]}')"
        state_is $u running || fail "$mode: kill changed the unit's state: $(field $u state)"
        out=$("$CALL" "$(sock $u)" kill '{"signal":"SIGSTOP"}')
        echo "$out" | grep -q '"bad-request"' || fail "$mode: SIGSTOP was not refused: $out"
done

# Seen from the host: the exec's process is in the instance's cgroup (its memory, pids and CPU
# count against the unit's limits, and the unit's cgroup kill reaches it).
tag=7$RANDOM$RANDOM
xcall ex-process "{\"argv\":[\"sleep\",\"$tag\"]}" >"$CASE_DIR/process-sleep.out" &
bg_process=$!
wait_for 10 pgrep -f "^sleep $tag\$" >/dev/null || fail "process: the exec's sleep did not start"
spid=$(pgrep -f "^sleep $tag\$" | head -n1)
ipid=$(field ex-process pid)
if [ -n "$spid" ] && [ -n "$ipid" ]; then
        [ "$(cat /proc/$spid/cgroup)" = "$(cat /proc/$ipid/cgroup)" ] ||
                fail "process: the exec is not in the instance's cgroup: $(tr '\n' ' ' </proc/$spid/cgroup) vs $(tr '\n' ' ' </proc/$ipid/cgroup)"
        # CVE-2019-5736: nothing of the host reaches the exec'd command (no fd but its stdio).
        [ "$(ls /proc/$spid/fd | tr '\n' ' ')" = "0 1 2 " ] || fail "process: the exec holds fds: $(ls -l /proc/$spid/fd)"
fi
if [[ $MODES == *hyperv* ]]; then
        xcall ex-hyperv "{\"argv\":[\"sleep\",\"$tag\"]}" >"$CASE_DIR/hyperv-sleep.out" &
        bg_hyperv=$!
        # Two sleeps in the guest: the workload's and the exec's.
        wait_for 20 eval "xcall ex-hyperv '{\"argv\":[\"sh\",\"-c\",\"[ \$(pidof sleep | wc -w) = 2 ]\"]}' | r exit_code | grep -qx 0" ||
                fail "hyperv: the exec's sleep did not start"
fi

# The exec dies with the instance: stopped, the unit takes its exec'd commands along (none is
# left running in a stopped unit), and the caller hears how it ended.
for mode in $MODES; do ctl stop "ex-$mode" >/dev/null; done
for mode in $MODES; do
        wait_for 60 state_is "ex-$mode" stopped || fail "ex-$mode did not stop"
done
wait "$bg_process"
out=$(cat "$CASE_DIR/process-sleep.out")
[ "$(r signal <<<"$out")" = 9 ] && [ "$(r exit_code <<<"$out")" = -1 ] || fail "process: the exec did not end with the instance: $out"
pgrep -f "^sleep $tag\$" >/dev/null && fail "process: the exec's sleep outlived the instance"
if [[ $MODES == *hyperv* ]]; then
        wait "$bg_hyperv"
        out=$(cat "$CASE_DIR/hyperv-sleep.out")
        [ "$(r signal <<<"$out")" = 9 ] && [ "$(r exit_code <<<"$out")" = -1 ] || fail "hyperv: the exec did not end with the instance: $out"
fi

# Not running: refused, not queued for a later start; supctl says so with its own failure status.
out=$(xcall ex-process '{"argv":["true"]}')
echo "$out" | grep -q '"not-running"' || fail "an exec in a stopped unit: $out"
out=$(ctl exec ex-process -- true 2>&1)
rc=$?
[ $rc = 125 ] && [[ $out == *"not running"* ]] || fail "supctl exec in a stopped unit: rc $rc: $out"
out=$(ctl exec no-such-unit -- true 2>&1)
rc=$?
[ $rc = 125 ] && [[ $out == *no-such-unit* ]] || fail "supctl exec in a unit that does not exist: rc $rc: $out"
end

begin "exec is root's: malformed requests, other users and a --socket-group member (who may read status) are refused"
exec_unit ex-process process
getent group nogroup >/dev/null || fail "no group nogroup on this host"
chmod o+x "$TOP" "$CASE_DIR" # the way to supd's socket, for the group's member
start_supd --socket-group nogroup
wait_for 10 state_is ex-process running || fail "ex-process is not running"
for bad in '{}' '{"argv":[]}' '{"argv":"ls"}' '{"argv":["ls"],"env":["NOEQUALS"]}' '{"argv":["ls"],"working_dir":"tmp"}'; do
        out=$(xcall ex-process "$bad")
        echo "$out" | grep -q '"bad-request"' || fail "$bad: $out"
done
# An exec runs as the unit's root with its capabilities: a user who could call it would own the
# unit. The socket keeps other users out before the method's own check does.
if command -v setpriv >/dev/null; then
        # (Its sanitizers, if any, could not write to the test's report directory as nobody.)
        out=$(ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS= setpriv --reuid=65534 --regid=65534 --clear-groups \
                "$CALL" "$(sock ex-process)" exec '{"argv":["id"]}' 2>&1)
        [ $? = 2 ] || fail "a non-root user got an exec in: $out"
        as_member() { ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS= setpriv --reuid=65534 --regid=65534 --init-groups "$@"; }
        as_member "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status ex-process >/dev/null 2>&1 ||
                fail "the group member cannot read status (the test's premise)"
        out=$(as_member "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" exec ex-process -- id 2>&1)
        rc=$?
        [ $rc = 125 ] && [[ $out == *"root only"* ]] || fail "a --socket-group member's supctl exec: rc $rc: $out"
fi
end


finish
